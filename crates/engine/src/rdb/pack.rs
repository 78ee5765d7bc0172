//! The packed blobs an RDB file carries inside strings, byte for byte as Redis 7.0 lays them
//! out: listpacks (written and read), intsets (written and read), and the ziplists and
//! zipmaps of older files (read only).

/// One element of a packed blob: Redis keeps strings that are canonical integers as integers.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Elem<'a> {
    Str(&'a [u8]),
    Int(i64),
}

impl Elem<'_> {
    /// The element as bytes (integers formatted into `buf`).
    pub fn bytes<'b>(&'b self, buf: &'b mut crate::value::IntBuf) -> &'b [u8] {
        match self {
            Elem::Str(s) => s,
            Elem::Int(v) => buf.format(*v),
        }
    }
}

/// Builds a listpack (Redis 7.0 listpack.c): a 6-byte header (total bytes, element count),
/// the entries, each followed by its length backwards, and 0xFF.
#[derive(Default)]
pub struct ListpackWriter {
    buf: Vec<u8>,
    count: usize,
}

impl ListpackWriter {
    pub fn new() -> Self {
        Self::with_capacity(64)
    }

    /// A writer whose buffer starts at `bytes` (the caller's estimate of the result).
    pub fn with_capacity(bytes: usize) -> Self {
        let mut buf = Vec::with_capacity(bytes.max(7));
        buf.extend_from_slice(&[0; 6]);
        ListpackWriter { buf, count: 0 }
    }

    /// Bytes the listpack would take if finished now (Redis' lpBytes).
    pub fn bytes(&self) -> usize {
        self.buf.len() + 1
    }

    pub fn len(&self) -> usize {
        self.count
    }

    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// Appends a string element, stored as an integer when it is a canonical one (lpAppend).
    pub fn push(&mut self, s: &[u8]) {
        match crate::listpack::as_int(s) {
            Some(v) => self.push_int(v),
            None => self.push_str(s),
        }
    }

    pub fn push_int(&mut self, v: i64) {
        let start = self.buf.len();
        crate::listpack::encode_int(v, &mut self.buf);
        self.finish_entry(start);
    }

    fn push_str(&mut self, s: &[u8]) {
        let start = self.buf.len();
        crate::listpack::encode_str(s, &mut self.buf);
        self.finish_entry(start);
    }

    fn finish_entry(&mut self, start: usize) {
        let l = self.buf.len() - start;
        crate::listpack::encode_backlen(l, &mut self.buf);
        self.count += 1;
    }

    pub fn finish(mut self) -> Vec<u8> {
        self.buf.push(0xFF);
        let total = self.buf.len() as u32;
        self.buf[0..4].copy_from_slice(&total.to_le_bytes());
        let n = self.count.min(65535) as u16;
        self.buf[4..6].copy_from_slice(&n.to_le_bytes());
        self.buf
    }
}

/// Reads a listpack's elements; None when it is malformed.
pub fn listpack(b: &[u8]) -> Option<Vec<Elem<'_>>> {
    if b.len() < 7 {
        return None;
    }
    let total = u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as usize;
    if total != b.len() || b[total - 1] != 0xFF {
        return None;
    }
    let declared = u16::from_le_bytes([b[4], b[5]]) as usize;
    let mut out = Vec::with_capacity(declared.min(b.len()));
    let mut p = 6;
    let end = total - 1;
    while p < end {
        let start = p;
        let c = b[p];
        let get = |from: usize, n: usize| b.get(from..from + n);
        let elem = if c & 0x80 == 0 {
            p += 1;
            Elem::Int(c as i64)
        } else if c & 0xC0 == 0x80 {
            let n = (c & 0x3F) as usize;
            let s = get(p + 1, n)?;
            p += 1 + n;
            Elem::Str(s)
        } else if c & 0xE0 == 0xC0 {
            let lo = *b.get(p + 1)? as u64;
            let u = (((c & 0x1F) as u64) << 8) | lo;
            p += 2;
            Elem::Int(if u >= 1 << 12 {
                u as i64 - (1 << 13)
            } else {
                u as i64
            })
        } else if c & 0xF0 == 0xE0 {
            let n = (((c & 0x0F) as usize) << 8) | *b.get(p + 1)? as usize;
            let s = get(p + 2, n)?;
            p += 2 + n;
            Elem::Str(s)
        } else {
            match c {
                0xF0 => {
                    let l = get(p + 1, 4)?;
                    let n = u32::from_le_bytes([l[0], l[1], l[2], l[3]]) as usize;
                    let s = get(p + 5, n)?;
                    p += 5 + n;
                    Elem::Str(s)
                }
                0xF1 => {
                    let v = get(p + 1, 2)?;
                    p += 3;
                    Elem::Int(i16::from_le_bytes([v[0], v[1]]) as i64)
                }
                0xF2 => {
                    let v = get(p + 1, 3)?;
                    p += 4;
                    Elem::Int((i32::from_le_bytes([0, v[0], v[1], v[2]]) >> 8) as i64)
                }
                0xF3 => {
                    let v = get(p + 1, 4)?;
                    p += 5;
                    Elem::Int(i32::from_le_bytes([v[0], v[1], v[2], v[3]]) as i64)
                }
                0xF4 => {
                    let v = get(p + 1, 8)?;
                    p += 9;
                    Elem::Int(i64::from_le_bytes(v.try_into().ok()?))
                }
                _ => return None,
            }
        };
        // Skip the back length, checking it names the entry just read.
        p += crate::listpack::backlen_size(p - start);
        if p > end {
            return None;
        }
        out.push(elem);
    }
    let n = u16::from_le_bytes([b[4], b[5]]) as usize;
    (n == 65535 || n == out.len()).then_some(out)
}

/// Redis' intset blob: encoding (2, 4 or 8) and count as u32 LE, then the sorted members.
pub fn intset_blob(width: u8, members: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(8 + members.len());
    out.extend_from_slice(&(width as u32).to_le_bytes());
    let n = members.len() / width.max(1) as usize;
    out.extend_from_slice(&(n as u32).to_le_bytes());
    out.extend_from_slice(members);
    out
}

/// An intset blob's members, ascending and distinct; None when malformed.
pub fn intset(b: &[u8]) -> Option<(u8, Vec<i64>)> {
    let w = u32::from_le_bytes(b.get(0..4)?.try_into().ok()?) as usize;
    let n = u32::from_le_bytes(b.get(4..8)?.try_into().ok()?) as usize;
    if !matches!(w, 2 | 4 | 8) || b.len() != 8 + n.checked_mul(w)? {
        return None;
    }
    let mut out = Vec::with_capacity(n);
    for c in b[8..].chunks_exact(w) {
        let v = match w {
            2 => i16::from_le_bytes([c[0], c[1]]) as i64,
            4 => i32::from_le_bytes([c[0], c[1], c[2], c[3]]) as i64,
            _ => i64::from_le_bytes(c.try_into().ok()?),
        };
        if out.last().is_some_and(|&l| l >= v) {
            return None;
        }
        out.push(v);
    }
    Some((w as u8, out))
}

/// A ziplist's elements (the packed form before 7.0); None when malformed.
pub fn ziplist(b: &[u8]) -> Option<Vec<Elem<'_>>> {
    if b.len() < 11 {
        return None;
    }
    let total = u32::from_le_bytes(b[0..4].try_into().ok()?) as usize;
    if total != b.len() || b[total - 1] != 0xFF {
        return None;
    }
    let mut out = Vec::new();
    let mut p = 10;
    let end = total - 1;
    while p < end {
        // prevlen
        p += if b[p] < 254 { 1 } else { 5 };
        let c = *b.get(p)?;
        let get = |from: usize, n: usize| b.get(from..from + n);
        let elem = match c >> 6 {
            0 => {
                let n = (c & 0x3F) as usize;
                let s = get(p + 1, n)?;
                p += 1 + n;
                Elem::Str(s)
            }
            1 => {
                let n = (((c & 0x3F) as usize) << 8) | *b.get(p + 1)? as usize;
                let s = get(p + 2, n)?;
                p += 2 + n;
                Elem::Str(s)
            }
            2 => {
                let l = get(p + 1, 4)?;
                let n = u32::from_be_bytes(l.try_into().ok()?) as usize;
                let s = get(p + 5, n)?;
                p += 5 + n;
                Elem::Str(s)
            }
            _ => match c {
                0xC0 => {
                    let v = get(p + 1, 2)?;
                    p += 3;
                    Elem::Int(i16::from_le_bytes([v[0], v[1]]) as i64)
                }
                0xD0 => {
                    let v = get(p + 1, 4)?;
                    p += 5;
                    Elem::Int(i32::from_le_bytes(v.try_into().ok()?) as i64)
                }
                0xE0 => {
                    let v = get(p + 1, 8)?;
                    p += 9;
                    Elem::Int(i64::from_le_bytes(v.try_into().ok()?))
                }
                0xF0 => {
                    let v = get(p + 1, 3)?;
                    p += 4;
                    Elem::Int((i32::from_le_bytes([0, v[0], v[1], v[2]]) >> 8) as i64)
                }
                0xFE => {
                    let v = *b.get(p + 1)?;
                    p += 2;
                    Elem::Int(v as i8 as i64)
                }
                0xF1..=0xFD => {
                    p += 1;
                    Elem::Int((c & 0x0F) as i64 - 1)
                }
                _ => return None,
            },
        };
        if p > end {
            return None;
        }
        out.push(elem);
    }
    Some(out)
}

/// A zipmap's field/value pairs (hashes before 2.6); None when malformed.
pub fn zipmap(b: &[u8]) -> Option<Vec<(&[u8], &[u8])>> {
    let mut p = 1;
    let len = |p: &mut usize| -> Option<usize> {
        let c = *b.get(*p)?;
        match c {
            0..=253 => {
                *p += 1;
                Some(c as usize)
            }
            254 => {
                let v = b.get(*p + 1..*p + 5)?;
                *p += 5;
                Some(u32::from_le_bytes(v.try_into().ok()?) as usize)
            }
            _ => None,
        }
    };
    let mut out = Vec::new();
    loop {
        if *b.get(p)? == 255 {
            return (p + 1 == b.len()).then_some(out);
        }
        let kl = len(&mut p)?;
        let k = b.get(p..p + kl)?;
        p += kl;
        let vl = len(&mut p)?;
        let free = *b.get(p)? as usize;
        p += 1;
        let v = b.get(p..p + vl)?;
        p += vl + free;
        out.push((k, v));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listpack_round_trips_every_encoding() {
        let ints = [
            0i64,
            127,
            128,
            -1,
            -4096,
            4095,
            4096,
            -32768,
            32767,
            40000,
            -8_388_608,
            8_388_607,
            9_000_000,
            i32::MIN as i64,
            i32::MAX as i64,
            i64::MIN,
            i64::MAX,
        ];
        let strs: Vec<Vec<u8>> = vec![
            b"".to_vec(),
            b"a".to_vec(),
            vec![b'x'; 63],
            vec![b'x'; 64],
            vec![b'y'; 4095],
            vec![b'z'; 4096],
            b"007".to_vec(),
            b"-0".to_vec(),
        ];
        let mut w = ListpackWriter::new();
        for v in ints {
            w.push(v.to_string().as_bytes());
        }
        for s in &strs {
            w.push(s);
        }
        let lp = w.finish();
        let got = listpack(&lp).expect("valid");
        let mut want: Vec<Elem> = ints.iter().map(|&v| Elem::Int(v)).collect();
        want.extend(strs.iter().map(|s| Elem::Str(s)));
        assert_eq!(got, want);
    }

    #[test]
    fn listpack_matches_redis_bytes() {
        // redis-cli: HSET h a 1 ; DEBUG LISTPACK / DUMP shows this blob.
        let mut w = ListpackWriter::new();
        w.push(b"a");
        w.push(b"1");
        assert_eq!(
            w.finish(),
            vec![12, 0, 0, 0, 2, 0, 0x81, b'a', 2, 1, 1, 0xFF]
        );
    }

    #[test]
    fn older_forms_are_read() {
        // A ziplist of "a", 5 (an immediate) and 300 (int16), as Redis before 7.0 wrote it.
        let mut zl = vec![20, 0, 0, 0, 15, 0, 0, 0, 3, 0];
        zl.extend_from_slice(&[0, 0x01, b'a', 3, 0xF6, 2, 0xC0, 0x2C, 0x01, 0xFF]);
        assert_eq!(
            ziplist(&zl),
            Some(vec![Elem::Str(b"a"), Elem::Int(5), Elem::Int(300)])
        );
        // A zipmap {f: v} with one free byte after the value.
        let zm = [1, 1, b'f', 1, 1, b'v', 0, 255];
        assert_eq!(zipmap(&zm), Some(vec![(&b"f"[..], &b"v"[..])]));
        assert_eq!(
            intset(&intset_blob(2, &[1, 0, 7, 0])),
            Some((2, vec![1, 7]))
        );
    }

    #[test]
    fn malformed_blobs_are_rejected() {
        assert!(listpack(&[7, 0, 0, 0, 1, 0, 0xFF]).is_none());
        assert!(listpack(&[9, 0, 0, 0, 1, 0, 0x85, 1, 0xFF]).is_none());
        assert!(intset(&[2, 0, 0, 0, 2, 0, 0, 0, 5, 0, 5, 0]).is_none());
        assert!(ziplist(&[1, 2, 3]).is_none());
        assert!(zipmap(&[1, 3, b'a']).is_none());
    }
}
