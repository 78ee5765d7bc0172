//! The cluster bus's messages, byte for byte as Redis 7.0's cluster.h lays them out: a
//! 2256-byte header (`RCmb`, big-endian numbers) and, for PING, PONG and MEET, `count`
//! gossip entries of 104 bytes; FAIL names a node; UPDATE carries a node's slots and config
//! epoch. Pure encoding: no sockets.

pub const HEADER_LEN: usize = 2256;
pub const GOSSIP_LEN: usize = 104;
pub const NAME_LEN: usize = 40;
const IP_LEN: usize = 46;
const SLOT_BYTES: usize = 2048;

pub const PING: u16 = 0;
pub const PONG: u16 = 1;
pub const MEET: u16 = 2;
pub const FAIL: u16 = 3;
pub const AUTH_REQUEST: u16 = 5;
pub const AUTH_ACK: u16 = 6;
pub const PUBLISH: u16 = 4;
pub const PUBLISHSHARD: u16 = 10;
pub const UPDATE: u16 = 7;
pub const MFSTART: u16 = 8;

/// mflags[0]: a master paused for a manual failover (its offset is final).
pub const FLAG0_PAUSED: u8 = 1;
/// mflags[0]: a manual failover's vote request (masters vote though its master is up).
pub const FLAG0_FORCEACK: u8 = 1 << 1;
/// mflags[0]: the message carries extensions (7.0's ping extensions).
pub const FLAG0_EXT_DATA: u8 = 1 << 2;

/// A message's header, decoded.
#[derive(Clone, Debug, PartialEq)]
pub struct Header {
    pub ty: u16,
    pub count: u16,
    pub port: u16,
    pub pport: u16,
    pub cport: u16,
    pub current_epoch: u64,
    pub config_epoch: u64,
    pub offset: u64,
    pub sender: String,
    pub myslots: Vec<u8>,
    /// The sender's master (None: it is a master).
    pub slaveof: Option<String>,
    /// The address the sender announces (empty: the receiver takes the link's).
    pub myip: String,
    pub flags: u16,
    pub state: u8,
    pub mflags: [u8; 3],
    pub extensions: u16,
    /// PING, PONG, MEET: the sender's hostname extension (None: it announces none).
    pub hostname: Option<String>,
}

/// Ping extension types (7.0 has the hostname's only).
pub const EXT_HOSTNAME: u16 = 0;

/// One gossip entry: what the sender knows of another node.
#[derive(Clone, Debug, PartialEq)]
pub struct Gossip {
    pub id: String,
    /// Seconds (Redis sends ms / 1000).
    pub ping_sent: u32,
    pub pong_received: u32,
    pub ip: String,
    pub port: u16,
    pub cport: u16,
    pub flags: u16,
    pub pport: u16,
}

#[derive(Clone, Debug, PartialEq)]
pub enum Body {
    Gossip(Vec<Gossip>),
    Fail(String),
    Update {
        config_epoch: u64,
        id: String,
        slots: Vec<u8>,
    },
    /// PUBLISH or PUBLISHSHARD.
    Publish {
        channel: Vec<u8>,
        message: Vec<u8>,
    },
    /// Types this node does not act on yet (PUBLISH, failover auth, MFSTART, MODULE).
    Other,
}

fn put_str(out: &mut Vec<u8>, s: &str, len: usize) {
    let b = s.as_bytes();
    let n = b.len().min(len);
    out.extend_from_slice(&b[..n]);
    out.resize(out.len() + (len - n), 0);
}

fn get_str(b: &[u8]) -> String {
    let end = b.iter().position(|&c| c == 0).unwrap_or(b.len());
    String::from_utf8_lossy(&b[..end]).into_owned()
}

fn u16_at(b: &[u8], at: usize) -> u16 {
    u16::from_be_bytes([b[at], b[at + 1]])
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_be_bytes(b[at..at + 4].try_into().unwrap_or([0; 4]))
}

fn u64_at(b: &[u8], at: usize) -> u64 {
    u64::from_be_bytes(b[at..at + 8].try_into().unwrap_or([0; 8]))
}

/// The header's bytes, with `totlen` for a body of `body_len` bytes.
fn header(h: &Header, body_len: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(HEADER_LEN + body_len);
    out.extend_from_slice(b"RCmb");
    out.extend_from_slice(&((HEADER_LEN + body_len) as u32).to_be_bytes());
    out.extend_from_slice(&1u16.to_be_bytes());
    out.extend_from_slice(&h.port.to_be_bytes());
    out.extend_from_slice(&h.ty.to_be_bytes());
    out.extend_from_slice(&h.count.to_be_bytes());
    out.extend_from_slice(&h.current_epoch.to_be_bytes());
    out.extend_from_slice(&h.config_epoch.to_be_bytes());
    out.extend_from_slice(&h.offset.to_be_bytes());
    put_str(&mut out, &h.sender, NAME_LEN);
    let mut slots = h.myslots.clone();
    slots.resize(SLOT_BYTES, 0);
    out.extend_from_slice(&slots);
    put_str(&mut out, h.slaveof.as_deref().unwrap_or(""), NAME_LEN);
    put_str(&mut out, &h.myip, IP_LEN);
    out.extend_from_slice(&h.extensions.to_be_bytes());
    out.resize(out.len() + 30, 0);
    out.extend_from_slice(&h.pport.to_be_bytes());
    out.extend_from_slice(&h.cport.to_be_bytes());
    out.extend_from_slice(&h.flags.to_be_bytes());
    out.push(h.state);
    out.extend_from_slice(&h.mflags);
    debug_assert_eq!(out.len(), HEADER_LEN);
    out
}

/// PING, PONG or MEET with its gossip entries (`h.count` is set from them).
pub fn encode_ping(h: &Header, gossip: &[Gossip]) -> Vec<u8> {
    let mut h = h.clone();
    h.count = gossip.len() as u16;
    h.extensions = 0;
    h.mflags[0] &= !FLAG0_EXT_DATA;
    // The hostname extension: length (with its 8-byte head), type, padding, the name and
    // a NUL, padded to 8 bytes.
    let ext: Vec<u8> = match h.hostname.as_deref().filter(|n| !n.is_empty()) {
        Some(name) => {
            let len = (8 + name.len() + 1 + 7) & !7;
            let mut e = Vec::with_capacity(len);
            e.extend_from_slice(&(len as u32).to_be_bytes());
            e.extend_from_slice(&EXT_HOSTNAME.to_be_bytes());
            e.extend_from_slice(&[0, 0]);
            e.extend_from_slice(name.as_bytes());
            e.resize(len, 0);
            h.extensions = 1;
            h.mflags[0] |= FLAG0_EXT_DATA;
            e
        }
        None => Vec::new(),
    };
    let mut out = header(&h, gossip.len() * GOSSIP_LEN + ext.len());
    for g in gossip {
        put_str(&mut out, &g.id, NAME_LEN);
        out.extend_from_slice(&g.ping_sent.to_be_bytes());
        out.extend_from_slice(&g.pong_received.to_be_bytes());
        put_str(&mut out, &g.ip, IP_LEN);
        out.extend_from_slice(&g.port.to_be_bytes());
        out.extend_from_slice(&g.cport.to_be_bytes());
        out.extend_from_slice(&g.flags.to_be_bytes());
        out.extend_from_slice(&g.pport.to_be_bytes());
        out.extend_from_slice(&[0, 0]);
    }
    out.extend_from_slice(&ext);
    out
}

/// FAIL about node `id`.
pub fn encode_fail(h: &Header, id: &str) -> Vec<u8> {
    let mut h = h.clone();
    h.ty = FAIL;
    h.count = 0;
    let mut out = header(&h, NAME_LEN);
    put_str(&mut out, id, NAME_LEN);
    out
}

/// UPDATE: node `id` serves `slots` with `config_epoch`.
pub fn encode_update(h: &Header, config_epoch: u64, id: &str, slots: &[u8]) -> Vec<u8> {
    let mut h = h.clone();
    h.ty = UPDATE;
    h.count = 0;
    let mut out = header(&h, 8 + NAME_LEN + SLOT_BYTES);
    out.extend_from_slice(&config_epoch.to_be_bytes());
    put_str(&mut out, id, NAME_LEN);
    let mut s = slots.to_vec();
    s.resize(SLOT_BYTES, 0);
    out.extend_from_slice(&s);
    out
}

/// PUBLISH (or PUBLISHSHARD, `h.ty`) of `message` on `channel`.
pub fn encode_publish(h: &Header, channel: &[u8], message: &[u8]) -> Vec<u8> {
    let mut h = h.clone();
    h.count = 0;
    let mut out = header(&h, 8 + channel.len() + message.len());
    out.extend_from_slice(&(channel.len() as u32).to_be_bytes());
    out.extend_from_slice(&(message.len() as u32).to_be_bytes());
    out.extend_from_slice(channel);
    out.extend_from_slice(message);
    out
}

/// A message that is its header alone (FAILOVER_AUTH_REQUEST, FAILOVER_AUTH_ACK).
pub fn encode_bare(h: &Header) -> Vec<u8> {
    let mut h = h.clone();
    h.count = 0;
    header(&h, 0)
}

/// How long the message starting `b` is, once its first 8 bytes are in; an error for bytes
/// that are no cluster bus message (Redis frees such a link).
pub fn message_len(b: &[u8]) -> Result<Option<usize>, String> {
    if b.len() < 8 {
        return Ok(None);
    }
    if &b[..4] != b"RCmb" {
        return Err("bad signature".into());
    }
    let len = u32_at(b, 4) as usize;
    // The largest message is a PUBLISH of a big payload; nothing legitimate nears 1 GB.
    if !(HEADER_LEN..=1 << 30).contains(&len) {
        return Err(format!("message of {len} bytes"));
    }
    Ok(Some(len))
}

/// A whole message decoded (its length as `message_len` said).
pub fn decode(b: &[u8]) -> Result<(Header, Body), String> {
    if b.len() < HEADER_LEN {
        return Err("short message".into());
    }
    if u16_at(b, 8) != 1 {
        return Err("unknown bus protocol version".into());
    }
    let slaveof = &b[2128..2168];
    let h = Header {
        port: u16_at(b, 10),
        ty: u16_at(b, 12),
        count: u16_at(b, 14),
        current_epoch: u64_at(b, 16),
        config_epoch: u64_at(b, 24),
        offset: u64_at(b, 32),
        sender: get_str(&b[40..80]),
        myslots: b[80..2128].to_vec(),
        slaveof: (slaveof.iter().any(|&c| c != 0)).then(|| get_str(slaveof)),
        myip: get_str(&b[2168..2214]),
        extensions: u16_at(b, 2214),
        pport: u16_at(b, 2246),
        cport: u16_at(b, 2248),
        flags: u16_at(b, 2250),
        state: b[2252],
        mflags: [b[2253], b[2254], b[2255]],
        hostname: None,
    };
    let mut h = h;
    let body = &b[HEADER_LEN..];
    let body = match h.ty {
        PING | PONG | MEET => {
            let n = h.count as usize;
            if body.len() < n * GOSSIP_LEN {
                return Err("gossip section cut short".into());
            }
            let gossip = (0..n)
                .map(|i| {
                    let g = &body[i * GOSSIP_LEN..(i + 1) * GOSSIP_LEN];
                    Gossip {
                        id: get_str(&g[..40]),
                        ping_sent: u32_at(g, 40),
                        pong_received: u32_at(g, 44),
                        ip: get_str(&g[48..94]),
                        port: u16_at(g, 94),
                        cport: u16_at(g, 96),
                        flags: u16_at(g, 98),
                        pport: u16_at(g, 100),
                    }
                })
                .collect();
            // Extensions follow the gossip entries.
            let mut at = n * GOSSIP_LEN;
            for _ in 0..h.extensions {
                if body.len() < at + 8 {
                    return Err("ping extension cut short".into());
                }
                let len = u32_at(body, at) as usize;
                if len < 8 || body.len() < at + len {
                    return Err("ping extension cut short".into());
                }
                if u16_at(body, at + 4) == EXT_HOSTNAME {
                    h.hostname = Some(get_str(&body[at + 8..at + len]));
                }
                at += len;
            }
            Body::Gossip(gossip)
        }
        FAIL if body.len() >= NAME_LEN => Body::Fail(get_str(&body[..NAME_LEN])),
        PUBLISH | PUBLISHSHARD if body.len() >= 8 => {
            let (cl, ml) = (u32_at(body, 0) as usize, u32_at(body, 4) as usize);
            if body.len() < 8 + cl + ml {
                return Err("publish message cut short".into());
            }
            Body::Publish {
                channel: body[8..8 + cl].to_vec(),
                message: body[8 + cl..8 + cl + ml].to_vec(),
            }
        }
        UPDATE if body.len() >= 8 + NAME_LEN + SLOT_BYTES => Body::Update {
            config_epoch: u64_at(body, 0),
            id: get_str(&body[8..48]),
            slots: body[48..48 + SLOT_BYTES].to_vec(),
        },
        _ => Body::Other,
    };
    Ok((h, body))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hdr() -> Header {
        let mut slots = vec![0u8; SLOT_BYTES];
        slots[0] = 0b101;
        Header {
            ty: PING,
            count: 0,
            port: 7000,
            pport: 0,
            cport: 17000,
            current_epoch: 5,
            config_epoch: 3,
            offset: 99,
            sender: "a".repeat(40),
            myslots: slots,
            slaveof: None,
            myip: "127.0.0.1".into(),
            flags: 1,
            state: 0,
            mflags: [0; 3],
            extensions: 0,
            hostname: None,
        }
    }

    #[test]
    fn hostname_extension() {
        let mut h = hdr();
        h.hostname = Some("node-1.example".into());
        let bytes = encode_ping(&h, &[]);
        // 8 bytes of extension head, 14 of name and its NUL, padded to 24.
        assert_eq!(bytes.len(), HEADER_LEN + 24);
        assert_eq!(u16_at(&bytes, 2214), 1);
        assert_eq!(bytes[2253] & FLAG0_EXT_DATA, FLAG0_EXT_DATA);
        assert_eq!(u32_at(&bytes, HEADER_LEN), 24);
        let (got, _) = decode(&bytes).unwrap();
        assert_eq!(got.hostname.as_deref(), Some("node-1.example"));
        assert_eq!(got.extensions, 1);
    }

    #[test]
    fn ping_round_trip_and_layout() {
        let g = Gossip {
            id: "b".repeat(40),
            ping_sent: 1,
            pong_received: 2,
            ip: "10.0.0.2".into(),
            port: 7001,
            cport: 17001,
            flags: 2,
            pport: 0,
        };
        let bytes = encode_ping(&hdr(), std::slice::from_ref(&g));
        assert_eq!(bytes.len(), HEADER_LEN + GOSSIP_LEN);
        assert_eq!(&bytes[..4], b"RCmb");
        assert_eq!(message_len(&bytes).unwrap(), Some(bytes.len()));
        // cluster.h's offsets: sender at 40, myslots at 80, slaveof at 2128, myip at 2168.
        assert_eq!(&bytes[40..80], "a".repeat(40).as_bytes());
        assert_eq!(bytes[80], 0b101);
        assert_eq!(&bytes[2168..2177], b"127.0.0.1");
        assert_eq!(u16_at(&bytes, 2248), 17000);
        let (h, body) = decode(&bytes).unwrap();
        let mut want = hdr();
        want.count = 1;
        assert_eq!(h, want);
        assert_eq!(body, Body::Gossip(vec![g]));
        let (_, fail) = decode(&encode_fail(&hdr(), &"c".repeat(40))).unwrap();
        assert_eq!(fail, Body::Fail("c".repeat(40)));
        let (_, upd) = decode(&encode_update(&hdr(), 9, &"d".repeat(40), &[1, 2])).unwrap();
        match upd {
            Body::Update {
                config_epoch,
                id,
                slots,
            } => {
                assert_eq!((config_epoch, id.as_str()), (9, "d".repeat(40).as_str()));
                assert_eq!(&slots[..3], &[1, 2, 0]);
            }
            other => panic!("{other:?}"),
        }
        assert!(message_len(b"XXXXxxxx").is_err());
    }

    #[test]
    fn garbage_never_panics() {
        let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
        for round in 0..200 {
            let len = HEADER_LEN + (round * 37) % 600;
            let mut b: Vec<u8> = (0..len)
                .map(|_| {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    x as u8
                })
                .collect();
            b[..4].copy_from_slice(b"RCmb");
            b[8..10].copy_from_slice(&1u16.to_be_bytes());
            b[12..14].copy_from_slice(&((round % 12) as u16).to_be_bytes());
            let _ = decode(&b);
        }
    }
}
