//! Keyspace notifications (`notify-keyspace-events`): the event classes and the events a
//! shard collects while it runs commands. The shard only records them; publishing them to
//! `__keyspace@<db>__:<key>` and `__keyevent@<db>__:<event>` is the runtime's business, as
//! it owns the subscribers.

/// Publish to `__keyspace@<db>__:<key>` (K).
pub const KEYSPACE: u32 = 1 << 0;
/// Publish to `__keyevent@<db>__:<event>` (E).
pub const KEYEVENT: u32 = 1 << 1;
pub const GENERIC: u32 = 1 << 2;
pub const STRING: u32 = 1 << 3;
pub const LIST: u32 = 1 << 4;
pub const SET: u32 = 1 << 5;
pub const HASH: u32 = 1 << 6;
pub const ZSET: u32 = 1 << 7;
pub const EXPIRED: u32 = 1 << 8;
pub const EVICTED: u32 = 1 << 9;
pub const STREAM: u32 = 1 << 10;
pub const KEY_MISS: u32 = 1 << 11;
pub const MODULE: u32 = 1 << 13;
pub const NEW: u32 = 1 << 14;

/// The flags of a `notify-keyspace-events` value ("KEA", "Ex", "" ...), as Redis'
/// keyspaceEventsStringToFlags; unknown characters are ignored (the config validated them).
pub fn parse_flags(s: &str) -> u32 {
    s.bytes().fold(0, |f, c| {
        f | match c {
            b'A' => {
                GENERIC | STRING | LIST | SET | HASH | ZSET | EXPIRED | EVICTED | STREAM | MODULE
            }
            b'g' => GENERIC,
            b'$' => STRING,
            b'l' => LIST,
            b's' => SET,
            b'h' => HASH,
            b'z' => ZSET,
            b'x' => EXPIRED,
            b'e' => EVICTED,
            b't' => STREAM,
            b'm' => KEY_MISS,
            b'd' => MODULE,
            b'n' => NEW,
            b'K' => KEYSPACE,
            b'E' => KEYEVENT,
            _ => 0,
        }
    })
}

/// The classes a shard should record: none unless K or E says where to publish them.
pub fn recorded(flags: u32) -> u32 {
    if flags & (KEYSPACE | KEYEVENT) == 0 {
        0
    } else {
        flags & !(KEYSPACE | KEYEVENT)
    }
}

/// Appends event `name` for `key` to `events` if `class` is among the recorded `classes`:
/// the one place an event is made (the shard's and the runtime's).
#[inline]
pub fn record(
    events: &mut Vec<Event>,
    classes: u32,
    class: u32,
    name: &'static str,
    db: usize,
    key: &[u8],
) {
    if classes & class != 0 {
        events.push(Event {
            name,
            db: db as u32,
            key: key.into(),
        });
    }
}

/// One event: `name` happened to `key` in `db`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Event {
    pub name: &'static str,
    pub db: u32,
    pub key: Box<[u8]>,
}

impl Event {
    /// The (channel, message) pairs Redis publishes for it under `flags` (K, E or both).
    pub fn messages(&self, flags: u32) -> impl Iterator<Item = (Vec<u8>, Vec<u8>)> + '_ {
        let space = (flags & KEYSPACE != 0).then(|| {
            let mut ch = format!("__keyspace@{}__:", self.db).into_bytes();
            ch.extend_from_slice(&self.key);
            (ch, self.name.as_bytes().to_vec())
        });
        let event = (flags & KEYEVENT != 0).then(|| {
            let ch = format!("__keyevent@{}__:{}", self.db, self.name).into_bytes();
            (ch, self.key.to_vec())
        });
        space.into_iter().chain(event)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags() {
        assert_eq!(recorded(parse_flags("A")), 0, "A alone publishes nowhere");
        let f = parse_flags("KEA");
        assert_eq!(recorded(f) & (KEY_MISS | NEW), 0, "A excludes m and n");
        assert_ne!(recorded(f) & EXPIRED, 0);
        assert_eq!(recorded(parse_flags("Ex")), EXPIRED);
    }

    #[test]
    fn channels() {
        let e = Event {
            name: "set",
            db: 3,
            key: b"k"[..].into(),
        };
        let m: Vec<_> = e.messages(KEYSPACE | KEYEVENT).collect();
        assert_eq!(
            m,
            [
                (b"__keyspace@3__:k".to_vec(), b"set".to_vec()),
                (b"__keyevent@3__:set".to_vec(), b"k".to_vec())
            ]
        );
        assert_eq!(e.messages(KEYEVENT).count(), 1);
    }
}
