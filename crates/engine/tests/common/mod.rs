//! Shared helpers for the engine's integration tests: a shard driven by command lines, with
//! replies compared byte for byte against what Redis 7.0 sends.

#![allow(dead_code)]

pub mod workload;

use engine::Shard;
use resp::Proto;

/// The shard clock tests start at (unix ms): fixed, so TTL replies are deterministic.
pub const T0: u64 = 1_700_000_000_000;

pub struct T {
    pub s: Shard,
    pub db: usize,
    pub proto: Proto,
}

impl Default for T {
    fn default() -> Self {
        T::new()
    }
}

/// Splits a command line on spaces; double quotes group words and `""` is an empty argument.
pub fn split(line: &str) -> Vec<Vec<u8>> {
    let mut args = Vec::new();
    let mut cur = Vec::new();
    let (mut quoted, mut had) = (false, false);
    for c in line.bytes() {
        match c {
            b'"' => {
                quoted = !quoted;
                had = true;
            }
            b' ' if !quoted => {
                if had || !cur.is_empty() {
                    args.push(std::mem::take(&mut cur));
                }
                had = false;
            }
            _ => cur.push(c),
        }
    }
    if had || !cur.is_empty() {
        args.push(cur);
    }
    args
}

/// Reply bytes made readable in assertion messages.
pub fn show(b: &[u8]) -> String {
    b.escape_ascii().to_string()
}

impl T {
    pub fn new() -> T {
        let mut s = Shard::new(0, 16);
        s.set_time(T0);
        T {
            s,
            db: 0,
            proto: Proto::Resp2,
        }
    }

    pub fn resp3() -> T {
        T {
            proto: Proto::Resp3,
            ..T::new()
        }
    }

    /// Runs one command line in the current db and protocol.
    pub fn cmd(&mut self, line: &str) -> Vec<u8> {
        let args = split(line);
        self.argv(&args.iter().map(|a| a.as_slice()).collect::<Vec<_>>())
    }

    pub fn argv(&mut self, argv: &[&[u8]]) -> Vec<u8> {
        self.s.run(self.db, argv, self.proto)
    }

    /// Runs `line` and asserts the exact reply bytes.
    #[track_caller]
    pub fn expect(&mut self, line: &str, want: &[u8]) {
        let got = self.cmd(line);
        assert_eq!(show(&got), show(want), "reply to `{line}`");
    }

    /// Advances the shard clock by `ms`.
    pub fn advance(&mut self, ms: u64) {
        let now = self.s.now_ms();
        self.s.set_time(now + ms);
    }

    pub fn now(&self) -> u64 {
        self.s.now_ms()
    }
}

/// RESP helpers for building expected replies.
pub fn bulk(s: &str) -> Vec<u8> {
    format!("${}\r\n{}\r\n", s.len(), s).into_bytes()
}

pub fn int(v: i64) -> Vec<u8> {
    format!(":{v}\r\n").into_bytes()
}

pub fn err(msg: &str) -> Vec<u8> {
    format!("-{msg}\r\n").into_bytes()
}

pub const OK: &[u8] = b"+OK\r\n";
pub const NIL: &[u8] = b"$-1\r\n";
