//! Random writes of every kind the journal rewrites (relative expiries, random pops, floats,
//! multi-key and blocking pops), shared by the engine's replay test and the redis-server
//! interop test (included there by path). `{ms}` scales the times: short ones make keys
//! expire during a run, long ones keep them for a later load.

pub const CMDS: &[&str] = &[
    "SET {k} {v}",
    "SET {k} {v} EX 5{ms}",
    "SET {k} {v} PX 800{ms} GET",
    "SET {k} {v} NX",
    "SETEX {k} 3{ms} {v}",
    "PSETEX {k} 1500{ms} {v}",
    "GETEX {k} PX 700{ms}",
    "GETEX {k} PERSIST",
    "GETDEL {k}",
    "GETSET {k} {v}",
    "INCRBYFLOAT {k} 1.25",
    "INCR {k}",
    "APPEND {k} {v}",
    "EXPIRE {k} 2{ms}",
    "PEXPIRE {k} 300{ms} GT",
    "PEXPIRE {k} -5",
    "PERSIST {k}",
    "HSET {k} f {v} g {v}",
    "HINCRBYFLOAT {k} f 0.5",
    "SADD {k} a b c d e 1 2",
    "SPOP {k}",
    "SPOP {k} 2",
    "RPUSH {k} a b c",
    "LMPOP 2 {k} {j} LEFT COUNT 2",
    "BLPOP {k} {j} 0",
    "BLMOVE {k} {j} LEFT RIGHT 0",
    "ZADD {k} 1 a 2 b 3.5 c",
    "ZMPOP 1 {k} MAX COUNT 2",
    "BZPOPMIN {k} 0",
    "DEL {k} {j}",
];

/// A deterministic generator (xorshift) of workload lines.
pub struct Workload {
    x: u64,
    keys: usize,
    ms: &'static str,
}

impl Workload {
    pub fn new(seed: u64, keys: usize, ms: &'static str) -> Workload {
        Workload {
            x: seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1,
            keys,
            ms,
        }
    }

    /// A number below `n`.
    pub fn below(&mut self, n: usize) -> usize {
        self.x ^= self.x << 13;
        self.x ^= self.x >> 7;
        self.x ^= self.x << 17;
        (self.x % n as u64) as usize
    }

    /// The next command line.
    pub fn line(&mut self) -> String {
        let cmd = CMDS[self.below(CMDS.len())];
        let (k, j, v) = (self.below(self.keys), self.below(self.keys), self.below(50));
        cmd.replace("{k}", &format!("k{k}"))
            .replace("{j}", &format!("k{j}"))
            .replace("{v}", &v.to_string())
            .replace("{ms}", self.ms)
    }
}
