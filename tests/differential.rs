//! Differential tests: the same seeded, randomized command sequences run against percore and
//! a real redis-server 7.0, and the raw RESP replies must match byte for byte (after a few
//! documented normalizations for replies that legitimately depend on timing or randomness).
//!
//! A missing redis-server is a failure (the harness panics), never a skip.
//!
//! Reproduce one failing seed with `DIFF_SEED=<seed> cargo test --test tests differential`
//! (the failure message prints the seed, the shard count, the protocol and the whole history).

use crate::harness::{Raw, Server};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// Commands per seed.
const STEPS: usize = 150;
/// Seeds per test (per shard count). Bounded so the whole suite stays well under a minute in
/// a debug build on two cores.
const SEEDS: u64 = 100;
/// A hard wall-clock cap per test: stop starting new seeds after this.
const TIME_CAP: Duration = Duration::from_secs(30);

// ---------------------------------------------------------------------------------------------
// PRNG: splitmix64, small and good enough.

struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ 0xD1B5_4A32_D192_ED03)
    }
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
    fn range(&mut self, lo: i64, hi: i64) -> i64 {
        lo + self.below((hi - lo + 1) as u64) as i64
    }
    fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
    fn pick<'a, T>(&mut self, xs: &'a [T]) -> &'a T {
        &xs[self.below(xs.len() as u64) as usize]
    }
}

// ---------------------------------------------------------------------------------------------
// Generators.

/// A small key space so keys collide. `{a}*` and `{b}*` share a slot each; the rest spread
/// over slots (and so over shards when there are several).
const KEYS: &[&str] = &[
    "k1",
    "k2",
    "k3",
    "foo",
    "bar",
    "baz",
    "{a}1",
    "{a}2",
    "{a}3",
    "{b}1",
    "{b}2",
    "user:1000",
    "",
];

fn key(r: &mut Rng) -> Vec<u8> {
    r.pick(KEYS).as_bytes().to_vec()
}

fn keys(r: &mut Rng, min: usize, max: usize) -> Vec<Vec<u8>> {
    let n = r.range(min as i64, max as i64) as usize;
    // Sometimes keep them in one hash tag (one shard), sometimes anywhere.
    if r.chance(30) {
        let tag = *r.pick(&["{a}", "{b}"]);
        (0..n)
            .map(|_| format!("{tag}{}", r.range(1, 3)).into_bytes())
            .collect()
    } else {
        (0..n).map(|_| key(r)).collect()
    }
}

fn value(r: &mut Rng) -> Vec<u8> {
    match r.below(12) {
        0 => Vec::new(),
        1 | 2 => r
            .pick(&[
                "0",
                "1",
                "-1",
                "42",
                "10",
                "9999",
                "10000",
                "9223372036854775807",
                "-9223372036854775808",
                "9223372036854775806",
                "-9223372036854775807",
                "9223372036854775808",
                "-0",
                "01",
                "+1",
                " 1",
                "1 ",
                "0x1f",
            ])
            .as_bytes()
            .to_vec(),
        3 => r.range(-1_000_000, 1_000_000).to_string().into_bytes(),
        4 => r
            .pick(&[
                "3.5", "-0.25", "1e3", "1.5e-3", "inf", "-inf", "nan", "0.1", "1.0", "5.0e3",
                "17.0000", ".5", "1.",
            ])
            .as_bytes()
            .to_vec(),
        5 => b"a\r\nb\0c".to_vec(),
        6 => {
            // Long strings around the embstr/raw boundary (44 bytes) and beyond.
            let n = *r.pick(&[43usize, 44, 45, 50, 64, 100]);
            (0..n).map(|i| b'a' + (i % 26) as u8).collect()
        }
        7 => {
            // Random binary, including CR, LF, NUL and high bytes.
            let n = r.below(12) as usize;
            (0..n)
                .map(|_| *r.pick(&[b'\r', b'\n', 0u8, 0xff, b'x', b'y', b'1', b' ']))
                .collect()
        }
        _ => r
            .pick(&[
                "hello",
                "world",
                "abc",
                "abcdef",
                "ohmytext",
                "mynewtext",
                "x",
                "foo bar",
            ])
            .as_bytes()
            .to_vec(),
    }
}

/// An integer-ish argument: mostly valid small integers, sometimes edge or invalid ones.
fn int_arg(r: &mut Rng, lo: i64, hi: i64) -> String {
    if r.chance(85) {
        r.range(lo, hi).to_string()
    } else {
        r.pick(&[
            "9223372036854775807",
            "-9223372036854775808",
            "9223372036854775808",
            "abc",
            "1.5",
            "",
            " 1",
            "+1",
            "01",
            "-0",
        ])
        .to_string()
    }
}

fn now_secs() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// A relative TTL in seconds: large (so timing never matters) and spread widely (so two TTLs
/// compared by GT/LT are never within a millisecond of each other), or an edge value.
fn ttl_secs(r: &mut Rng) -> String {
    match r.below(20) {
        0 => "0".into(),
        1 => "-1".into(),
        2 => "-100".into(),
        3 => "abc".into(),
        4 => r
            .pick(&[
                "9223372036854775807",
                "9223372036854775",
                "9223372036854",
                "-9223372036854775808",
                "1.5",
            ])
            .to_string(),
        _ => r.range(100, 50_000_000).to_string(),
    }
}

fn ttl_ms(r: &mut Rng) -> String {
    match r.below(20) {
        0 => "0".into(),
        1 => "-1".into(),
        2 => "abc".into(),
        3 => r
            .pick(&[
                "9223372036854775807",
                "9223372036854775000",
                "-9223372036854775808",
            ])
            .to_string(),
        _ => r.range(100_000, 50_000_000_000).to_string(),
    }
}

fn at_secs(r: &mut Rng) -> String {
    match r.below(12) {
        0 => "1".into(),
        1 => (now_secs() - r.range(100, 100_000)).to_string(),
        2 => "-5".into(),
        3 => "0".into(),
        _ => (now_secs() + r.range(100, 50_000_000)).to_string(),
    }
}

fn at_ms(r: &mut Rng) -> String {
    match r.below(12) {
        0 => "1".into(),
        1 => ((now_secs() - r.range(100, 100_000)) * 1000).to_string(),
        2 => "9223372036854775807".into(),
        _ => ((now_secs() + r.range(100, 50_000_000)) * 1000 + r.range(0, 999)).to_string(),
    }
}

/// A DB index argument. `beyond_i32` adds an index that does not fit an int.
fn db_arg(r: &mut Rng, beyond_i32: bool) -> String {
    if r.chance(90) {
        r.range(0, 3).to_string()
    } else if beyond_i32 {
        r.pick(&["16", "-1", "abc", "100000000000"]).to_string()
    } else {
        r.pick(&["16", "-1", "abc", "99"]).to_string()
    }
}

// ---------------------------------------------------------------------------------------------
// Commands and how their replies are compared.

#[derive(Clone, Copy, Debug, PartialEq)]
enum Check {
    Exact,
    /// An integer reply that is a time (TTL, PTTL, EXPIRETIME, PEXPIRETIME): equal when
    /// negative, within `tol` when non-negative.
    Time(i64),
    /// An array of keys whose order is unspecified (KEYS).
    Sorted,
    /// Only whether a key came back (RANDOMKEY).
    NullOrNot,
    /// A full SCAN iteration (the argv holds the options after the cursor).
    ScanAll,
    /// Any integer on both sides (DBSIZE once a logically expired key may still be stored).
    AnyInt,
    /// Run on both, not compared.
    Ignore,
    /// Only the reply's type and length (random members).
    Len,
    /// A full SSCAN/HSCAN/ZSCAN iteration: argv is the command and key, then its options;
    /// the cursor goes after the key.
    ScanKey,
}

struct Cmd {
    argv: Vec<Vec<u8>>,
    check: Check,
}

fn c(argv: Vec<Vec<u8>>) -> Cmd {
    Cmd {
        argv,
        check: Check::Exact,
    }
}

fn b<S: AsRef<str> + ?Sized>(s: &S) -> Vec<u8> {
    s.as_ref().as_bytes().to_vec()
}

/// SET's options, valid and invalid combinations.
fn set_opts(r: &mut Rng, argv: &mut Vec<Vec<u8>>, is_set: bool) {
    let n = r.below(4);
    for _ in 0..n {
        let opt = if is_set {
            r.below(12)
        } else {
            // GETEX: EX PX EXAT PXAT PERSIST and junk.
            *r.pick(&[3, 4, 5, 6, 9, 10, 11])
        };
        match opt {
            0 => argv.push(b(r.pick(&["NX", "nx"]))),
            1 => argv.push(b(r.pick(&["XX", "xx"]))),
            2 => argv.push(b(r.pick(&["GET", "get"]))),
            3 => {
                argv.push(b(r.pick(&["EX", "ex"])));
                if r.chance(95) {
                    argv.push(b(&ttl_secs(r)));
                }
            }
            4 => {
                argv.push(b(r.pick(&["PX", "px"])));
                if r.chance(95) {
                    argv.push(b(&ttl_ms(r)));
                }
            }
            5 => {
                argv.push(b("EXAT"));
                argv.push(b(&at_secs(r)));
            }
            6 => {
                argv.push(b("PXAT"));
                argv.push(b(&at_ms(r)));
            }
            7 | 8 => argv.push(b(r.pick(&["KEEPTTL", "keepttl"]))),
            9 => argv.push(b(r.pick(&["PERSIST", "persist"]))),
            10 => argv.push(b(r.pick(&["BOGUS", "EXX", ""]))),
            _ => {}
        }
    }
}

fn expire_opts(r: &mut Rng, argv: &mut Vec<Vec<u8>>) {
    let n = if r.chance(60) { 0 } else { r.range(1, 2) };
    for _ in 0..n {
        argv.push(b(r.pick(&["NX", "XX", "GT", "LT", "nx", "gt", "BAD"])));
    }
}

/// MULTI/EXEC/DISCARD/WATCH/UNWATCH, so transactions (queueing, EXECABORT after a rejected
/// command, WATCH broken by this connection's own writes) are compared too.
fn tx_cmd(r: &mut Rng) -> Cmd {
    match r.below(20) {
        0..=6 => c(vec![b("MULTI")]),
        7..=12 => c(vec![b("EXEC")]),
        13 | 14 => c(vec![b("DISCARD")]),
        15..=18 => {
            let mut argv = vec![b("WATCH")];
            argv.extend(keys(r, 1, 3));
            c(argv)
        }
        _ => c(vec![b("UNWATCH")]),
    }
}

/// A list element: a few short values so that LREM/LPOS/LINSERT find matches.
fn elem(r: &mut Rng) -> Vec<u8> {
    if r.chance(80) {
        b(r.pick(&["a", "b", "c", "1", "2", "", "x"]))
    } else {
        value(r)
    }
}

/// An index or count around the interesting edges (negative, zero, past the end, huge,
/// not a number).
fn index(r: &mut Rng) -> Vec<u8> {
    match r.below(12) {
        0 => b("abc"),
        1 => b(r.pick(&["9223372036854775807", "-9223372036854775808", "1.5"])),
        _ => b(&r.range(-8, 8).to_string()),
    }
}

/// List commands on the same keys as everything else (so WRONGTYPE both ways is covered).
fn list_cmd(r: &mut Rng) -> Cmd {
    let k = key(r);
    match r.below(33) {
        0..=4 => {
            let mut argv = vec![b(r.pick(&["LPUSH", "RPUSH"])), k];
            for _ in 0..r.range(1, 4) {
                argv.push(elem(r));
            }
            c(argv)
        }
        5 => c(vec![b(r.pick(&["LPUSHX", "RPUSHX"])), k, elem(r)]),
        6..=8 => {
            let mut argv = vec![b(r.pick(&["LPOP", "RPOP"])), k];
            if r.chance(50) {
                argv.push(index(r));
            }
            if r.chance(3) {
                argv.push(b("1"));
            }
            c(argv)
        }
        9 => c(vec![b("LLEN"), k]),
        10..=12 => c(vec![b("LRANGE"), k, index(r), index(r)]),
        13 => c(vec![b("LINDEX"), k, index(r)]),
        14 => c(vec![b("LSET"), k, index(r), elem(r)]),
        15 => c(vec![
            b("LINSERT"),
            k,
            b(r.pick(&["BEFORE", "AFTER", "after", "middle"])),
            elem(r),
            elem(r),
        ]),
        16 | 17 => c(vec![b("LREM"), k, index(r), elem(r)]),
        18 => c(vec![b("LTRIM"), k, index(r), index(r)]),
        19..=21 => {
            let mut argv = vec![b("LPOS"), k, elem(r)];
            for _ in 0..r.range(0, 3) {
                match r.below(4) {
                    0 => argv.extend([b("RANK"), index(r)]),
                    1 => argv.extend([b("COUNT"), index(r)]),
                    2 => argv.extend([b("MAXLEN"), index(r)]),
                    _ => argv.push(b("RANK")),
                }
            }
            c(argv)
        }
        22 => c(vec![b("TYPE"), k]),
        23 => c(vec![b("OBJECT"), b("ENCODING"), k]),
        24 => c(vec![b("LRANGE"), k, b("0"), b("-1")]),
        25 | 26 => {
            let ks = keys(r, 2, 2);
            let mut argv = vec![b("LMOVE"), ks[0].clone(), ks[1].clone()];
            for _ in 0..2 {
                argv.push(b(r.pick(&["LEFT", "RIGHT", "left", "up"])));
            }
            c(argv)
        }
        27 => {
            let ks = keys(r, 2, 2);
            c(vec![b("RPOPLPUSH"), ks[0].clone(), ks[1].clone()])
        }
        28 | 29 => {
            let ks = keys(r, 1, 3);
            let n = if r.chance(10) {
                "0"
            } else {
                &ks.len().to_string()
            };
            let mut argv = vec![b("LMPOP"), b(n)];
            argv.extend(ks);
            argv.push(b(r.pick(&["LEFT", "RIGHT", "up"])));
            if r.chance(40) {
                argv.extend([b("COUNT"), b(r.pick(&["1", "3", "0", "x"]))]);
            }
            c(argv)
        }
        _ => c(vec![b(
            r.pick(&["LPUSH", "LLEN", "LPOP", "LINSERT", "LMOVE"])
        )]),
    }
}

fn field(r: &mut Rng) -> Vec<u8> {
    b(r.pick(&["f1", "f2", "f3", "a", "", "n"]))
}

/// A hash value short enough to keep the hash a listpack, whose field order is compared.
fn hval(r: &mut Rng) -> Vec<u8> {
    let mut v = value(r);
    v.truncate(64);
    v
}

/// Hash commands on the same keys as everything else.
fn hash_cmd(r: &mut Rng) -> Cmd {
    let k = key(r);
    match r.below(26) {
        0..=3 => {
            let mut argv = vec![b(r.pick(&["HSET", "HMSET"])), k];
            for _ in 0..r.range(1, 3) {
                argv.push(field(r));
                argv.push(hval(r));
            }
            if r.chance(5) {
                argv.pop();
            }
            c(argv)
        }
        4 => c(vec![b("HSETNX"), k, field(r), hval(r)]),
        5 | 6 => c(vec![b("HGET"), k, field(r)]),
        7 => c(vec![b("HMGET"), k, field(r), field(r)]),
        8 | 9 => {
            let mut argv = vec![b("HDEL"), k];
            for _ in 0..r.range(1, 3) {
                argv.push(field(r));
            }
            c(argv)
        }
        10 => c(vec![b("HLEN"), k]),
        11 => c(vec![b("HSTRLEN"), k, field(r)]),
        12 => c(vec![b("HEXISTS"), k, field(r)]),
        13 | 14 => c(vec![b(r.pick(&["HGETALL", "HKEYS", "HVALS"])), k]),
        15 | 16 => c(vec![b("HINCRBY"), k, field(r), index(r)]),
        17 | 18 => c(vec![
            b("HINCRBYFLOAT"),
            k,
            field(r),
            b(r.pick(&["1.5", "-2.25", "0.1", "abc", "inf", "1e3", "3", "-0", "nan"])),
        ]),
        19 => c(vec![b("OBJECT"), b("ENCODING"), k]),
        20 => c(vec![b("TYPE"), k]),
        22 => {
            // Asking for more fields than any hash holds gives the whole hash, in order.
            let mut argv = vec![b("HRANDFIELD"), k, b(r.pick(&["100", "0", "x"]))];
            if r.chance(50) {
                argv.push(b("WITHVALUES"));
            }
            c(argv)
        }
        23 => Cmd {
            argv: vec![b("HRANDFIELD"), k, b(r.pick(&["-3", "1"]))],
            check: Check::Len,
        },
        24 => Cmd {
            argv: vec![b("HSCAN"), k],
            check: Check::ScanKey,
        },
        _ => c(vec![b(r.pick(&["HSET", "HGET", "HDEL", "HGETALL"])), k]),
    }
}

/// A set member: mostly small integers (intsets, answered in order), some strings.
fn member(r: &mut Rng) -> Vec<u8> {
    b(r.pick(&["1", "2", "3", "10", "-5", "0", "a", "b", "x", "007"]))
}

fn members(r: &mut Rng, argv: &mut Vec<Vec<u8>>, max: i64) {
    for _ in 0..r.range(1, max) {
        argv.push(member(r));
    }
}

/// Set commands on the same keys as everything else. Hash-table sets answer in an
/// unspecified order, so member lists compare sorted; random picks compare by shape, or ask
/// for more members than any set holds so that the answer is the whole set.
fn set_cmd(r: &mut Rng) -> Cmd {
    let k = key(r);
    let sorted = |argv| Cmd {
        argv,
        check: Check::Sorted,
    };
    match r.below(30) {
        0..=5 => {
            let mut argv = vec![b("SADD"), k];
            members(r, &mut argv, 5);
            c(argv)
        }
        6 | 7 => {
            let mut argv = vec![b("SREM"), k];
            members(r, &mut argv, 3);
            c(argv)
        }
        8 | 9 => sorted(vec![b("SMEMBERS"), k]),
        10 => c(vec![b("SISMEMBER"), k, member(r)]),
        11 => {
            let mut argv = vec![b("SMISMEMBER"), k];
            members(r, &mut argv, 3);
            c(argv)
        }
        12 => c(vec![b("SCARD"), k]),
        13 => {
            let count = r.pick(&["100", "0", "-1", "x"]);
            sorted(vec![b("SPOP"), k, b(count)])
        }
        14 => match r.below(4) {
            0 => sorted(vec![b("SRANDMEMBER"), k, b("100")]),
            1 => Cmd {
                argv: vec![b("SRANDMEMBER"), k, b(r.pick(&["-3", "2", "1"]))],
                check: Check::Len,
            },
            2 => Cmd {
                argv: vec![b("SRANDMEMBER"), k],
                check: Check::NullOrNot,
            },
            _ => c(vec![b("SRANDMEMBER"), k, b(r.pick(&["0", "x"]))]),
        },
        15 | 16 => c(vec![b("SMOVE"), k, key(r), member(r)]),
        17..=19 => {
            let mut argv = vec![b(r.pick(&["SINTER", "SUNION", "SDIFF"]))];
            argv.extend(keys(r, 1, 3));
            sorted(argv)
        }
        20..=22 => {
            let mut argv = vec![b(r.pick(&["SINTERSTORE", "SUNIONSTORE", "SDIFFSTORE"])), k];
            argv.extend(keys(r, 1, 3));
            c(argv)
        }
        23 => {
            let ks = keys(r, 1, 3);
            let n = if r.chance(10) {
                "0"
            } else {
                &ks.len().to_string()
            };
            let mut argv = vec![b("SINTERCARD"), b(n)];
            argv.extend(ks);
            if r.chance(40) {
                argv.push(b("LIMIT"));
                argv.push(b(r.pick(&["1", "0", "-1", "2"])));
            }
            c(argv)
        }
        24 | 25 => {
            let mut argv = vec![b("SSCAN"), k];
            if r.chance(30) {
                argv.extend([b("MATCH"), b(r.pick(&["1*", "*", "[ab]"]))]);
            }
            if r.chance(30) {
                argv.extend([b("COUNT"), b(r.pick(&["1", "3", "100"]))]);
            }
            Cmd {
                argv,
                check: Check::ScanKey,
            }
        }
        26 => c(vec![b("OBJECT"), b("ENCODING"), k]),
        27 => c(vec![b("TYPE"), k]),
        // Wrong arities, and one-key calls that are valid.
        _ => sorted(vec![b(r.pick(&["SADD", "SMEMBERS", "SINTER", "SMOVE"])), k]),
    }
}

fn score(r: &mut Rng) -> Vec<u8> {
    b(r.pick(&[
        "1", "2", "0", "-1", "1.5", "3", "2.5", "+inf", "-inf", "-0", "x", "1e3",
    ]))
}

fn zmember(r: &mut Rng) -> Vec<u8> {
    b(r.pick(&["a", "b", "c", "d", "e", "1", "x"]))
}

fn score_bound(r: &mut Rng) -> Vec<u8> {
    b(r.pick(&["-inf", "+inf", "1", "(1", "2", "(2.5", "0", "x", "3", "(-1"]))
}

fn lex_bound(r: &mut Rng) -> Vec<u8> {
    b(r.pick(&["-", "+", "[a", "(b", "[c", "(a", "[e", "x", "(d"]))
}

/// Sorted-set commands on the same keys as everything else. Members come from a small pool
/// and sets stay small (listpacks), so lex ranges over mixed scores follow Redis' linear walk.
fn zset_cmd(r: &mut Rng) -> Cmd {
    let k = key(r);
    let limit = |r: &mut Rng, argv: &mut Vec<Vec<u8>>| {
        if r.chance(30) {
            argv.push(b("LIMIT"));
            argv.push(b(r.pick(&["0", "1", "-1", "5"])));
            argv.push(b(r.pick(&["1", "2", "-1", "0"])));
        }
    };
    match r.below(41) {
        0..=6 => {
            let mut argv = vec![b("ZADD"), k];
            for _ in 0..r.below(3) {
                argv.push(b(r.pick(&["NX", "XX", "GT", "LT", "CH", "INCR"])));
            }
            for _ in 0..r.range(1, 3) {
                argv.push(score(r));
                argv.push(zmember(r));
            }
            if r.chance(5) {
                argv.pop();
            }
            c(argv)
        }
        7 => c(vec![b("ZINCRBY"), k, score(r), zmember(r)]),
        8 => c(vec![b("ZREM"), k, zmember(r), zmember(r)]),
        9 => c(vec![b("ZCARD"), k]),
        10 => c(vec![b("ZSCORE"), k, zmember(r)]),
        11 => c(vec![b("ZMSCORE"), k, zmember(r), zmember(r)]),
        12 => c(vec![b(r.pick(&["ZRANK", "ZREVRANK"])), k, zmember(r)]),
        13 => c(vec![b("ZCOUNT"), k, score_bound(r), score_bound(r)]),
        14 => c(vec![b("ZLEXCOUNT"), k, lex_bound(r), lex_bound(r)]),
        15..=18 => {
            let (name, bounds) = match r.below(7) {
                0 => ("ZRANGE", 0),
                1 => ("ZREVRANGE", 0),
                2 => ("ZRANGEBYSCORE", 1),
                3 => ("ZREVRANGEBYSCORE", 1),
                4 => ("ZRANGEBYLEX", 2),
                5 => ("ZREVRANGEBYLEX", 2),
                _ => ("ZRANGE", 3),
            };
            let mut argv = vec![b(name), k];
            let by = if bounds == 3 { r.below(3) } else { bounds };
            match by {
                1 => {
                    argv.push(score_bound(r));
                    argv.push(score_bound(r));
                }
                2 => {
                    argv.push(lex_bound(r));
                    argv.push(lex_bound(r));
                }
                _ => {
                    argv.push(index(r));
                    argv.push(index(r));
                }
            }
            if bounds == 3 {
                match by {
                    1 => argv.push(b("BYSCORE")),
                    2 => argv.push(b("BYLEX")),
                    _ => {}
                }
                if r.chance(30) {
                    argv.push(b("REV"));
                }
            }
            if r.chance(40) {
                argv.push(b("WITHSCORES"));
            }
            limit(r, &mut argv);
            c(argv)
        }
        19 => {
            let mut argv = vec![b("ZRANGESTORE"), k, key(r)];
            match r.below(3) {
                0 => argv.extend([index(r), index(r)]),
                1 => argv.extend([score_bound(r), score_bound(r), b("BYSCORE")]),
                _ => argv.extend([lex_bound(r), lex_bound(r), b("BYLEX")]),
            }
            limit(r, &mut argv);
            c(argv)
        }
        20 => c(vec![b("ZREMRANGEBYRANK"), k, index(r), index(r)]),
        21 => c(vec![
            b("ZREMRANGEBYSCORE"),
            k,
            score_bound(r),
            score_bound(r),
        ]),
        22 => c(vec![b("ZREMRANGEBYLEX"), k, lex_bound(r), lex_bound(r)]),
        23 | 24 => {
            let mut argv = vec![b(r.pick(&["ZPOPMIN", "ZPOPMAX"])), k];
            if r.chance(50) {
                argv.push(b(r.pick(&["1", "2", "0", "-1", "10", "x"])));
            }
            c(argv)
        }
        25 => {
            let ks = keys(r, 1, 3);
            let n = if r.chance(10) {
                "0"
            } else {
                &ks.len().to_string()
            };
            let mut argv = vec![b("ZMPOP"), b(n)];
            argv.extend(ks);
            argv.push(b(r.pick(&["MIN", "MAX", "foo"])));
            if r.chance(40) {
                argv.extend([b("COUNT"), b(r.pick(&["1", "3", "0"]))]);
            }
            c(argv)
        }
        26 => {
            let mut argv = vec![b("ZRANDMEMBER"), k, b("100")];
            if r.chance(50) {
                argv.push(b("WITHSCORES"));
            }
            c(argv)
        }
        27 => Cmd {
            argv: vec![b("ZRANDMEMBER"), k, b(r.pick(&["-2", "1"]))],
            check: Check::Len,
        },
        38 => {
            let mut argv = vec![b(r.pick(&["BZPOPMIN", "BZPOPMAX"]))];
            argv.extend(keys(r, 1, 3));
            argv.push(b(r.pick(&["0.01", "-1"])));
            c(argv)
        }
        39 => {
            let ks = keys(r, 1, 2);
            let mut argv = vec![b("BZMPOP"), b("0.01"), b(&ks.len().to_string())];
            argv.extend(ks);
            argv.push(b(r.pick(&["MIN", "MAX"])));
            c(argv)
        }
        28..=32 => {
            let store = r.chance(40);
            let op = *r.pick(&["UNION", "INTER", "DIFF"]);
            let mut argv = if store {
                vec![b(&format!("Z{op}STORE")), k]
            } else {
                vec![b(&format!("Z{op}"))]
            };
            let ks = keys(r, 1, 3);
            argv.push(b(&ks.len().to_string()));
            argv.extend(ks.iter().cloned());
            if op != "DIFF" && r.chance(30) {
                argv.push(b("WEIGHTS"));
                for _ in &ks {
                    argv.push(b(r.pick(&["1", "2", "-1", "0.5", "x"])));
                }
            }
            if op != "DIFF" && r.chance(30) {
                argv.extend([b("AGGREGATE"), b(r.pick(&["SUM", "MIN", "MAX", "foo"]))]);
            }
            if !store && r.chance(40) {
                argv.push(b("WITHSCORES"));
            }
            c(argv)
        }
        33 => {
            let ks = keys(r, 1, 3);
            let mut argv = vec![b("ZINTERCARD"), b(&ks.len().to_string())];
            argv.extend(ks);
            if r.chance(40) {
                argv.extend([b("LIMIT"), b(r.pick(&["1", "0", "-1"]))]);
            }
            c(argv)
        }
        34 | 35 => {
            let mut argv = vec![b("ZSCAN"), k];
            if r.chance(30) {
                argv.extend([b("MATCH"), b(r.pick(&["a*", "*", "[bc]"]))]);
            }
            Cmd {
                argv,
                check: Check::ScanKey,
            }
        }
        36 => c(vec![b("OBJECT"), b("ENCODING"), k]),
        37 => c(vec![b("TYPE"), k]),
        _ => c(vec![b(r.pick(&["ZADD", "ZRANGE", "ZUNION", "ZPOPMIN"])), k]),
    }
}

/// SORT with patterns that name keys of the shared pool (elements are short values, so
/// "k*" or "{a}*" hit real keys). Ties that Redis orders by its (stable) sort of an input in
/// hash-table order are avoided or compared as multisets.
fn sort_cmd(r: &mut Rng) -> Cmd {
    let mut argv = vec![b(r.pick(&["SORT", "SORT_RO"])), key(r)];
    let by = if r.chance(50) {
        None
    } else {
        Some(*r.pick(&["nosort", "*", "k*", "*->f1", "{a}*"]))
    };
    let alpha = r.chance(30);
    if let Some(p) = by {
        argv.extend([b("BY"), b(p)]);
    }
    if by.is_none_or(|p| !p.contains('*')) && r.chance(30) {
        argv.extend([b("LIMIT"), index(r), index(r)]);
    }
    for _ in 0..r.below(3) {
        argv.extend([b("GET"), b(r.pick(&["#", "*", "{a}*", "*->f1", "nosuch*"]))]);
    }
    if r.chance(30) {
        argv.push(b("DESC"));
    }
    if alpha {
        argv.push(b("ALPHA"));
    }
    let risky = by == Some("nosort") || (alpha && by.is_some());
    if !risky && argv[0] == b"SORT" && r.chance(20) {
        argv.extend([b("STORE"), key(r)]);
    }
    Cmd {
        argv,
        check: if risky { Check::Sorted } else { Check::Exact },
    }
}

/// The script every generated EVAL runs: ARGV[1] commands, each as its word count then its
/// words, called in order; the replies (errors included, through pcall, or raised through
/// call when ARGV ends with "raise") come back as one array.
const SCRIPT: &str = "local out, i = {}, 2
local call = ARGV[#ARGV] == 'raise' and redis.call or redis.pcall
for c = 1, tonumber(ARGV[1]) do
  local n = tonumber(ARGV[i])
  local argv = {}
  for j = 1, n do argv[j] = ARGV[i + j] end
  i = i + n + 1
  out[#out + 1] = call(unpack(argv))
end
return out";

/// An EVAL (sometimes EVAL_RO) of `SCRIPT` over 1-3 generated commands whose replies are
/// deterministic, with every known key name among their words declared in KEYS.
fn script_cmd(r: &mut Rng) -> Cmd {
    let mut inner = Vec::new();
    let want = r.range(1, 3) as usize;
    while inner.len() < want {
        let cmd = gen_plain(r);
        let Some(name) = cmd.argv.first().map(|n| n.to_ascii_uppercase()) else {
            continue;
        };
        let excluded = cmd.check != Check::Exact
            || classify(&cmd.argv) != Check::Exact
            || matches!(
                name.as_slice(),
                b"LCS"
                    | b"SORT"
                    | b"SORT_RO"
                    | b"ZRANGEBYLEX"
                    | b"ZREVRANGEBYLEX"
                    | b"ZLEXCOUNT"
                    | b"ZREMRANGEBYLEX"
                    | b"DBSIZE"
                    | b"SELECT"
                    | b"MULTI"
                    | b"EXEC"
                    | b"WATCH"
            )
            || cmd.argv.iter().any(|a| {
                let a = a.to_ascii_uppercase();
                a == b"BYLEX" || a == b"EXAT" || a == b"PXAT"
            });
        // A whole-keyspace command after a write on one shard is percore's documented limit
        // (the script's first run gets an error there, ARCHITECTURE.md "Scripts"): only
        // first in a script.
        let whole = matches!(
            name.as_slice(),
            b"FLUSHDB" | b"FLUSHALL" | b"SWAPDB" | b"KEYS" | b"SCAN" | b"RANDOMKEY" | b"PUBLISH"
        );
        if !excluded && (!whole || inner.is_empty()) {
            inner.push(cmd.argv);
        }
    }
    let mut declared: Vec<Vec<u8>> = Vec::new();
    for argv in &inner {
        for w in &argv[1..] {
            let named = KEYS.iter().chain(&["nosuchkey", "{a}3", "{b}3"]);
            if named.clone().any(|k| k.as_bytes() == w.as_slice()) && !declared.contains(w) {
                declared.push(w.clone());
            }
        }
    }
    // The same code as a script or as a function (`LIBRARY`).
    let (name, code) = match r.below(10) {
        0 => ("EVAL_RO", SCRIPT),
        1..=3 => ("FCALL", "run"),
        4 => ("FCALL_RO", "run_ro"),
        _ => ("EVAL", SCRIPT),
    };
    let mut argv = vec![b(name), b(code), b(&declared.len().to_string())];
    argv.extend(declared);
    argv.push(b(&inner.len().to_string()));
    for words in inner {
        argv.push(b(&words.len().to_string()));
        argv.extend(words);
    }
    if r.chance(30) {
        argv.push(b("raise"));
    }
    c(argv)
}

/// `SCRIPT` as two functions, loaded into both servers before each seed: `run`, and
/// `run_ro` flagged no-writes.
fn library() -> String {
    let body = SCRIPT.replace('\n', "\n  ");
    format!(
        "#!lua name=difflib\n\
         redis.register_function('run', function(KEYS, ARGV)\n  {body}\nend)\n\
         redis.register_function{{function_name='run_ro', flags={{'no-writes'}}, callback=function(KEYS, ARGV)\n  {body}\nend}}"
    )
}

fn gen(r: &mut Rng) -> Cmd {
    if r.chance(4) {
        return script_cmd(r);
    }
    gen_plain(r)
}

/// Bitmap commands on the shared keys (strings, and WRONGTYPE both ways).
fn bitmap_cmd(r: &mut Rng) -> Cmd {
    let k = key(r);
    let range = |r: &mut Rng| vec![b(&int_arg(r, -40, 40)), b(&int_arg(r, -40, 40))];
    let unit = |r: &mut Rng| b(r.pick(&["BIT", "BYTE", "bit", "nope"]));
    match r.below(8) {
        0 => c(vec![
            b("SETBIT"),
            k,
            b(&int_arg(r, 0, 300)),
            b(r.pick(&["0", "1", "2"])),
        ]),
        1 => c(vec![b("GETBIT"), k, b(&int_arg(r, 0, 300))]),
        2 => {
            let mut argv = vec![b("BITCOUNT"), k];
            if r.chance(70) {
                argv.extend(range(r));
                if r.chance(50) {
                    argv.push(unit(r));
                }
            }
            c(argv)
        }
        3 => {
            let mut argv = vec![b("BITPOS"), k, b(r.pick(&["0", "1", "2"]))];
            for _ in 0..r.below(3) {
                argv.push(b(&int_arg(r, -40, 40)));
            }
            if argv.len() == 5 && r.chance(50) {
                argv.push(unit(r));
            }
            c(argv)
        }
        4 => {
            let op = r.pick(&["AND", "OR", "XOR", "NOT", "nand"]);
            let mut argv = vec![b("BITOP"), b(op)];
            argv.extend(keys(r, 2, 4));
            c(argv)
        }
        _ => {
            let name = if r.chance(20) {
                "BITFIELD_RO"
            } else {
                "BITFIELD"
            };
            let mut argv = vec![b(name), k];
            for _ in 0..r.range(1, 4) {
                let t = format!("{}{}", r.pick(&["i", "u"]), r.range(1, 65));
                let off = if r.chance(30) {
                    format!("#{}", r.range(0, 8))
                } else {
                    int_arg(r, 0, 200)
                };
                match r.below(4) {
                    0 => argv.extend([b("GET"), b(&t), b(&off)]),
                    1 => argv.extend([b("OVERFLOW"), b(r.pick(&["WRAP", "SAT", "FAIL", "no"]))]),
                    n => argv.extend([
                        b(if n == 2 { "SET" } else { "INCRBY" }),
                        b(&t),
                        b(&off),
                        b(&int_arg(r, -300, 300)),
                    ]),
                }
            }
            c(argv)
        }
    }
}

/// HyperLogLog commands on the shared keys (an HLL is a string: GET compares its bytes).
fn hll_cmd(r: &mut Rng) -> Cmd {
    let k = key(r);
    match r.below(6) {
        0 | 1 => {
            let mut argv = vec![b("PFADD"), k];
            let n = *r.pick(&[0, 1, 3, 20, 300]);
            let spread = *r.pick(&[10, 1000, 1_000_000]);
            for _ in 0..n {
                argv.push(b(&r.range(0, spread).to_string()));
            }
            c(argv)
        }
        2 => {
            let mut argv = vec![b("PFCOUNT")];
            argv.extend(keys(r, 1, 3));
            c(argv)
        }
        3 => {
            let mut argv = vec![b("PFMERGE")];
            argv.extend(keys(r, 1, 3));
            c(argv)
        }
        4 => c(vec![b("GET"), k]),
        _ => c(vec![
            b("PFDEBUG"),
            b(r.pick(&["ENCODING", "DECODE", "TODENSE"])),
            k,
        ]),
    }
}

/// Geo commands on the shared keys (sorted sets with geohash scores).
fn geo_cmd(r: &mut Rng) -> Cmd {
    let k = key(r);
    let member = |r: &mut Rng| b(&format!("p{}", r.range(0, 8)));
    // Coarse coordinates put members on the same spot: ties in distance order.
    let lonlat = |r: &mut Rng| -> [Vec<u8>; 2] {
        let (lon, lat) = if r.chance(30) {
            (r.range(-2, 2) as f64 * 10.0, r.range(-2, 2) as f64 * 10.0)
        } else {
            (
                r.range(-1900, 1900) as f64 / 10.0,
                r.range(-900, 900) as f64 / 10.0,
            )
        };
        [b(&lon.to_string()), b(&lat.to_string())]
    };
    let radius = |r: &mut Rng| -> [Vec<u8>; 2] {
        let unit = *r.pick(&["m", "KM", "mi", "ft", "km", "km", "yd"]);
        let n = match unit {
            "m" | "ft" => r.range(-1, 5_000_000),
            _ => r.range(-1, 12_000),
        };
        [b(&n.to_string()), b(unit)]
    };
    let options = |r: &mut Rng, argv: &mut Vec<Vec<u8>>, with: bool| {
        for opt in ["WITHDIST", "WITHHASH", "WITHCOORD"] {
            if with && r.chance(30) {
                argv.push(b(opt));
            }
        }
        if r.chance(40) {
            argv.push(b(r.pick(&["ASC", "DESC"])));
        }
        if r.chance(40) {
            argv.extend([b("COUNT"), b(&r.range(-1, 6).to_string())]);
            if r.chance(30) {
                argv.push(b("ANY"));
            }
        } else if r.chance(3) {
            argv.push(b("ANY"));
        }
    };
    match r.below(9) {
        0 | 1 => {
            let mut argv = vec![b("GEOADD"), k];
            for opt in ["NX", "XX", "CH"] {
                if r.chance(15) {
                    argv.push(b(opt));
                }
            }
            for _ in 0..r.range(1, 3) {
                argv.extend(lonlat(r));
                argv.push(member(r));
            }
            c(argv)
        }
        2 => c(vec![b("GEOPOS"), k, member(r), member(r)]),
        3 => {
            let mut argv = vec![b("GEODIST"), k, member(r), member(r)];
            if r.chance(60) {
                argv.push(b(r.pick(&["m", "KM", "mi", "ft", "yd"])));
            }
            c(argv)
        }
        4 => c(vec![b("GEOHASH"), k, member(r), member(r)]),
        5 | 6 => {
            // GEORADIUS[BYMEMBER][_RO]
            let by_member = r.chance(50);
            let ro = r.chance(30);
            let name = match (by_member, ro) {
                (false, false) => "GEORADIUS",
                (false, true) => "GEORADIUS_RO",
                (true, false) => "GEORADIUSBYMEMBER",
                (true, true) => "GEORADIUSBYMEMBER_RO",
            };
            let mut argv = vec![b(name), k];
            if by_member {
                argv.push(member(r));
            } else {
                argv.extend(lonlat(r));
            }
            argv.extend(radius(r));
            let store = r.chance(30);
            let with = !store || r.chance(10);
            options(r, &mut argv, with);
            if store {
                argv.extend([b(r.pick(&["STORE", "STOREDIST"])), key(r)]);
            }
            c(argv)
        }
        _ => {
            let store = r.chance(35);
            let mut argv = if store {
                vec![b("GEOSEARCHSTORE"), key(r), k]
            } else {
                vec![b("GEOSEARCH"), k]
            };
            if r.chance(95) {
                if r.chance(50) {
                    argv.extend([b("FROMMEMBER"), member(r)]);
                } else {
                    argv.push(b("FROMLONLAT"));
                    argv.extend(lonlat(r));
                }
            }
            if r.chance(95) {
                if r.chance(50) {
                    argv.push(b("BYRADIUS"));
                    argv.extend(radius(r));
                } else {
                    let [w, unit] = radius(r);
                    let [h, _] = radius(r);
                    argv.extend([b("BYBOX"), w, h, unit]);
                }
            }
            let with = !store || r.chance(10);
            options(r, &mut argv, with);
            if store && r.chance(40) {
                argv.push(b("STOREDIST"));
            }
            c(argv)
        }
    }
}

thread_local! {
    /// XADD's next milliseconds: IDs mostly grow, so streams grow (sent alike to both).
    static STREAM_MS: std::cell::Cell<i64> = const { std::cell::Cell::new(1) };
}

/// Stream IDs in every form the commands take, valid and not.
fn stream_id(r: &mut Rng) -> Vec<u8> {
    let ms = STREAM_MS.with(|c| c.get());
    match r.below(14) {
        0..=5 => b(&format!("{}-{}", r.range(0, ms + 1), r.range(0, 3))),
        6 | 7 => b(&r.range(0, ms + 1).to_string()),
        8 => b(r.pick(&["-", "+"])),
        9 => b(&format!("({}-{}", r.range(0, ms + 1), r.range(0, 3))),
        10 => b(r.pick(&["$", ">"])),
        11 => b(r.pick(&[
            "abc",
            "1-2-3",
            "-1",
            "18446744073709551615-18446744073709551615",
            "(18446744073709551615-18446744073709551615",
            "(0-0",
            "18446744073709551616",
            " 5",
            "05-1",
        ])),
        _ => b(&format!("{}-*", r.range(0, ms + 1))),
    }
}

fn stream_trim(r: &mut Rng, argv: &mut Vec<Vec<u8>>) {
    if r.chance(50) {
        argv.push(b("MAXLEN"));
        if r.chance(60) {
            argv.push(b(r.pick(&["~", "="])));
        }
        argv.push(b(&r.range(-1, 12).to_string()));
    } else {
        argv.push(b(r.pick(&["MINID", "minid"])));
        if r.chance(60) {
            argv.push(b(r.pick(&["~", "="])));
        }
        argv.push(stream_id(r));
    }
    if r.chance(25) {
        argv.extend([b("LIMIT"), b(&r.range(-1, 200).to_string())]);
    }
}

fn stream_cmd(r: &mut Rng) -> Cmd {
    let k = key(r);
    let group = |r: &mut Rng| b(r.pick(&["g1", "g2", "g3"]));
    let consumer = |r: &mut Rng| b(r.pick(&["alice", "bob", "carol"]));
    match r.below(22) {
        0..=4 => {
            let mut argv = vec![b("XADD"), k];
            if r.chance(10) {
                argv.push(b("NOMKSTREAM"));
            }
            if r.chance(25) {
                stream_trim(r, &mut argv);
            }
            let id = if r.chance(80) {
                let ms = STREAM_MS.with(|c| {
                    let v = c.get() + r.range(0, 2);
                    c.set(v);
                    v
                });
                if r.chance(50) {
                    b(&format!("{ms}-*"))
                } else {
                    b(&format!("{ms}-{}", r.range(0, 3)))
                }
            } else {
                stream_id(r)
            };
            argv.push(id);
            // Mostly the same fields (entries stored against the node's master fields).
            let n = *r.pick(&[1, 2, 2, 2, 3]);
            for i in 0..n {
                let f = if r.chance(80) {
                    format!("f{i}")
                } else {
                    format!("x{}", r.range(0, 3))
                };
                argv.push(b(&f));
                argv.push(value(r));
            }
            if r.chance(3) {
                argv.pop();
            }
            c(argv)
        }
        5 => c(vec![b("XLEN"), k]),
        6 | 7 => {
            let rev = r.chance(40);
            let mut argv = vec![
                b(if rev { "XREVRANGE" } else { "XRANGE" }),
                k,
                stream_id(r),
                stream_id(r),
            ];
            if r.chance(40) {
                argv.extend([b("COUNT"), b(&r.range(-1, 5).to_string())]);
            }
            c(argv)
        }
        8 => {
            let mut argv = vec![b("XDEL"), k];
            for _ in 0..r.range(1, 3) {
                argv.push(stream_id(r));
            }
            c(argv)
        }
        9 => {
            let mut argv = vec![b("XTRIM"), k];
            if r.chance(95) {
                stream_trim(r, &mut argv);
            }
            c(argv)
        }
        10 => {
            let mut argv = vec![b("XSETID"), k, stream_id(r)];
            if r.chance(40) {
                argv.extend([b("ENTRIESADDED"), b(&r.range(-1, 40).to_string())]);
            }
            if r.chance(30) {
                argv.extend([b("MAXDELETEDID"), stream_id(r)]);
            }
            c(argv)
        }
        11 | 12 => {
            let sub = *r.pick(&[
                "CREATE",
                "CREATE",
                "SETID",
                "DESTROY",
                "CREATECONSUMER",
                "DELCONSUMER",
                "HELP",
                "NOPE",
            ]);
            let mut argv = vec![b("XGROUP"), b(sub)];
            if sub == "HELP" {
                return c(argv);
            }
            argv.extend([k, group(r)]);
            match sub {
                "CREATE" | "SETID" => {
                    argv.push(if r.chance(30) { b("$") } else { stream_id(r) });
                    if sub == "CREATE" && r.chance(40) {
                        argv.push(b("MKSTREAM"));
                    }
                    if r.chance(20) {
                        argv.extend([b("ENTRIESREAD"), b(&r.range(-2, 10).to_string())]);
                    }
                }
                "CREATECONSUMER" | "DELCONSUMER" => argv.push(consumer(r)),
                _ => {}
            }
            c(argv)
        }
        13 | 14 => {
            let mut argv = vec![b("XREADGROUP"), b("GROUP"), group(r), consumer(r)];
            if r.chance(40) {
                argv.extend([b("COUNT"), b(&r.range(0, 4).to_string())]);
            }
            if r.chance(20) {
                argv.push(b("NOACK"));
            }
            if r.chance(5) {
                argv.extend([b("BLOCK"), b("1")]);
            }
            argv.push(b("STREAMS"));
            let ks = keys(r, 1, 2);
            let ids: Vec<Vec<u8>> = ks
                .iter()
                .map(|_| if r.chance(70) { b(">") } else { stream_id(r) })
                .collect();
            argv.extend(ks);
            argv.extend(ids);
            c(argv)
        }
        15 => {
            let mut argv = vec![b("XREAD")];
            if r.chance(40) {
                argv.extend([b("COUNT"), b(&r.range(0, 4).to_string())]);
            }
            if r.chance(5) {
                argv.extend([b("BLOCK"), b("1")]);
            }
            argv.push(b("STREAMS"));
            let ks = keys(r, 1, 3);
            let ids: Vec<Vec<u8>> = ks.iter().map(|_| stream_id(r)).collect();
            argv.extend(ks);
            argv.extend(ids);
            c(argv)
        }
        16 => {
            let mut argv = vec![b("XACK"), k, group(r)];
            for _ in 0..r.range(1, 3) {
                argv.push(stream_id(r));
            }
            c(argv)
        }
        17 => {
            if r.chance(60) {
                c(vec![b("XPENDING"), k, group(r)])
            } else {
                let mut argv = vec![b("XPENDING"), k, group(r)];
                if r.chance(20) {
                    argv.extend([b("IDLE"), b("0")]);
                }
                argv.extend([stream_id(r), stream_id(r), b(&r.range(-1, 5).to_string())]);
                if r.chance(40) {
                    argv.push(consumer(r));
                }
                Cmd {
                    argv,
                    check: Check::Len,
                }
            }
        }
        18 => {
            let mut argv = vec![b("XCLAIM"), k, group(r), consumer(r), b("0")];
            for _ in 0..r.range(1, 3) {
                argv.push(stream_id(r));
            }
            for opt in ["JUSTID", "FORCE"] {
                if r.chance(30) {
                    argv.push(b(opt));
                }
            }
            if r.chance(20) {
                argv.extend([b("RETRYCOUNT"), b(&r.range(0, 5).to_string())]);
            }
            if r.chance(15) {
                argv.extend([b("LASTID"), stream_id(r)]);
            }
            c(argv)
        }
        19 => {
            let mut argv = vec![
                b("XAUTOCLAIM"),
                k,
                group(r),
                consumer(r),
                b("0"),
                stream_id(r),
            ];
            if r.chance(40) {
                argv.extend([b("COUNT"), b(&r.range(0, 4).to_string())]);
            }
            if r.chance(30) {
                argv.push(b("JUSTID"));
            }
            c(argv)
        }
        20 => c(vec![b("XINFO"), b("GROUPS"), k]),
        _ => match r.below(4) {
            0 => Cmd {
                argv: vec![b("XINFO"), b("CONSUMERS"), k, group(r)],
                check: Check::Len,
            },
            1 => Cmd {
                argv: vec![b("XINFO"), b("STREAM"), k, b("FULL")],
                check: Check::Len,
            },
            _ => c(vec![b("XINFO"), b("STREAM"), k]),
        },
    }
}

/// DIFF_ONLY=stream runs the stream generator alone (to explore one family).
fn only_streams() -> bool {
    static ONLY: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *ONLY.get_or_init(|| std::env::var("DIFF_ONLY").is_ok_and(|v| v == "stream"))
}

fn gen_plain(r: &mut Rng) -> Cmd {
    if only_streams() || r.chance(6) {
        return stream_cmd(r);
    }
    if r.chance(6) {
        return bitmap_cmd(r);
    }
    if r.chance(4) {
        return geo_cmd(r);
    }
    if r.chance(5) {
        return hll_cmd(r);
    }
    if r.chance(5) {
        return tx_cmd(r);
    }
    if r.chance(3) {
        return sort_cmd(r);
    }
    if r.chance(20) {
        return zset_cmd(r);
    }
    if r.chance(20) {
        return set_cmd(r);
    }
    if r.chance(20) {
        return hash_cmd(r);
    }
    if r.chance(25) {
        return list_cmd(r);
    }
    let k = key(r);
    match r.below(100) {
        // ----- strings
        0..=7 => {
            let mut argv = vec![b("SET"), k, value(r)];
            if r.chance(60) {
                set_opts(r, &mut argv, true);
            }
            c(argv)
        }
        8..=12 => c(vec![b("GET"), k]),
        13 => c(vec![b("SETNX"), k, value(r)]),
        14 => c(vec![b("SETEX"), k, b(&ttl_secs(r)), value(r)]),
        15 => c(vec![b("PSETEX"), k, b(&ttl_ms(r)), value(r)]),
        16 => c(vec![b("GETSET"), k, value(r)]),
        17 => c(vec![b("GETDEL"), k]),
        18 | 19 => {
            let mut argv = vec![b("GETEX"), k];
            set_opts(r, &mut argv, false);
            c(argv)
        }
        20 | 21 => {
            let mut argv = vec![b("MGET")];
            argv.extend(keys(r, 1, 5));
            c(argv)
        }
        22 | 23 => {
            let mut argv = vec![b("MSET")];
            for k in keys(r, 1, 4) {
                argv.push(k);
                argv.push(value(r));
            }
            c(argv)
        }
        24 => {
            let mut argv = vec![b("MSETNX")];
            for k in keys(r, 1, 3) {
                argv.push(k);
                argv.push(value(r));
            }
            c(argv)
        }
        25 | 26 => c(vec![b("APPEND"), k, value(r)]),
        27 => c(vec![b("STRLEN"), k]),
        28 | 29 => c(vec![b(r.pick(&["INCR", "DECR"])), k]),
        30 | 31 => c(vec![
            b(r.pick(&["INCRBY", "DECRBY"])),
            k,
            b(&int_arg(r, -100, 100)),
        ]),
        32 | 33 => {
            let by = match r.below(6) {
                0 => b(&int_arg(r, -10, 10)),
                1 => b(r.pick(&["1e308", "-1e308", "inf", "nan", "abc", "1.5e", ""])),
                _ => b(r.pick(&["0.1", "-0.1", "3.0e3", "1.5", "-2.25", "10", "0", "5.0e-3"])),
            };
            c(vec![b("INCRBYFLOAT"), k, by])
        }
        34 | 35 => c(vec![
            b(r.pick(&["GETRANGE", "SUBSTR"])),
            k,
            b(&int_arg(r, -60, 60)),
            b(&int_arg(r, -60, 60)),
        ]),
        36 | 37 => {
            let off = match r.below(10) {
                0 => b(r.pick(&["-1", "536870912", "abc", "9223372036854775807"])),
                _ => b(&r.range(0, 70).to_string()),
            };
            // An empty value with a huge offset must not allocate: it only reports length.
            if r.chance(5) {
                c(vec![b("SETRANGE"), k, b("536870911"), Vec::new()])
            } else {
                c(vec![b("SETRANGE"), k, off, value(r)])
            }
        }
        38 | 39 => {
            let (k1, k2) = (key(r), key(r));
            let mut argv = vec![b("LCS"), k1, k2];
            for _ in 0..r.below(4) {
                match r.below(6) {
                    0 => argv.push(b("LEN")),
                    1 => argv.push(b("IDX")),
                    2 => argv.push(b("WITHMATCHLEN")),
                    3 => {
                        argv.push(b("MINMATCHLEN"));
                        argv.push(b(&int_arg(r, -1, 4)));
                    }
                    4 => argv.push(b("BOGUS")),
                    _ => argv.push(b("idx")),
                }
            }
            c(argv)
        }
        // ----- keys
        40..=42 => {
            let mut argv = vec![b(r.pick(&["DEL", "UNLINK"]))];
            argv.extend(keys(r, 1, 4));
            c(argv)
        }
        43 | 44 => {
            let mut argv = vec![b(r.pick(&["EXISTS", "TOUCH"]))];
            argv.extend(keys(r, 1, 4));
            c(argv)
        }
        45 => c(vec![b("TYPE"), k]),
        46..=49 => {
            let (name, t) = match r.below(4) {
                0 => ("EXPIRE", ttl_secs(r)),
                1 => ("PEXPIRE", ttl_ms(r)),
                2 => ("EXPIREAT", at_secs(r)),
                _ => ("PEXPIREAT", at_ms(r)),
            };
            let mut argv = vec![b(name), k, b(&t)];
            expire_opts(r, &mut argv);
            c(argv)
        }
        50 | 51 => Cmd {
            argv: vec![b("TTL"), k],
            check: Check::Time(2),
        },
        52 => Cmd {
            argv: vec![b("PTTL"), k],
            check: Check::Time(2000),
        },
        53 => Cmd {
            argv: vec![b("EXPIRETIME"), k],
            check: Check::Time(2),
        },
        54 => Cmd {
            argv: vec![b("PEXPIRETIME"), k],
            check: Check::Time(2000),
        },
        55 | 56 => c(vec![b("PERSIST"), k]),
        57 | 58 => c(vec![b(r.pick(&["RENAME", "RENAMENX"])), k, key(r)]),
        59 | 60 => {
            let mut argv = vec![b("COPY"), k, key(r)];
            for _ in 0..r.below(3) {
                if r.chance(50) {
                    argv.push(b("DB"));
                    if r.chance(95) {
                        argv.push(b(&db_arg(r, true)));
                    }
                } else {
                    argv.push(b(r.pick(&["REPLACE", "replace", "BOGUS"])));
                }
            }
            c(argv)
        }
        61 => c(vec![b("MOVE"), k, b(&db_arg(r, true))]),
        62 | 63 => c(vec![b("OBJECT"), b("ENCODING"), k]),
        // Excluded divergence: OBJECT REFCOUNT after COPY. Redis' COPY duplicates the
        // object, so a copied small integer (0..9999) is no longer the shared one and reports
        // refcount 1; percore decides "shared" from the value alone and reports 2147483647.
        // (SET k 5; COPY k k2; OBJECT REFCOUNT k2 -> redis :1, percore :2147483647.) Only
        // missing keys are asked here.
        64 => c(vec![b("OBJECT"), b("REFCOUNT"), b("nosuchkey")]),
        65 => c(vec![b("OBJECT"), b(r.pick(&["BOGUS", "encoding", "help"]))]),
        66 | 67 => c(vec![b("DBSIZE")]),
        68 | 69 => c(vec![b("SELECT"), b(&db_arg(r, true))]),
        70 => {
            if r.chance(40) {
                let mut argv = vec![b("FLUSHDB")];
                if r.chance(40) {
                    argv.push(b(r.pick(&["ASYNC", "SYNC", "BOGUS"])));
                }
                c(argv)
            } else {
                c(vec![b("DBSIZE")])
            }
        }
        71 => c(vec![b("SWAPDB"), b(&db_arg(r, true)), b(&db_arg(r, true))]),
        72 | 73 => Cmd {
            argv: vec![
                b("KEYS"),
                b(r.pick(&[
                    "*", "k*", "{a}*", "?1", "*[ab]*", "[^k]*", "user:*", "\\{a\\}1",
                ])),
            ],
            check: Check::Sorted,
        },
        74 | 75 => {
            let mut argv = Vec::new();
            if r.chance(50) {
                argv.push(b("MATCH"));
                argv.push(b(r.pick(&["*", "k*", "{a}*", "*1"])));
            }
            if r.chance(50) {
                argv.push(b("COUNT"));
                argv.push(b(r.pick(&["1", "2", "5", "100"])));
            }
            if r.chance(30) {
                argv.push(b("TYPE"));
                argv.push(b(r.pick(&["string", "list", "STRING", "foo"])));
            }
            if r.chance(5) {
                // Invalid: COUNT 0 / not a number, an option without its value.
                // (Negative cursors are not generated: see the SCAN -1 divergence.)
                match r.below(3) {
                    0 => argv.extend([b("COUNT"), b(r.pick(&["0", "abc", "-1"]))]),
                    1 => argv.push(b("MATCH")),
                    _ => argv.push(b("BOGUS")),
                }
            }
            Cmd {
                argv,
                check: Check::ScanAll,
            }
        }
        76 => Cmd {
            argv: vec![b("RANDOMKEY")],
            check: Check::NullOrNot,
        },
        77 => c(vec![b("PING")]),
        78 => c(vec![b("ECHO"), value(r)]),
        // ----- wrong arity: too few and too many arguments
        79..=84 => {
            let name = *r.pick(&[
                "GET",
                "SET",
                "SETNX",
                "SETEX",
                "PSETEX",
                "GETSET",
                "GETDEL",
                "GETEX",
                "MGET",
                "MSET",
                "MSETNX",
                "APPEND",
                "STRLEN",
                "INCR",
                "DECR",
                "INCRBY",
                "DECRBY",
                "INCRBYFLOAT",
                "GETRANGE",
                "SUBSTR",
                "SETRANGE",
                "LCS",
                "DEL",
                "UNLINK",
                "EXISTS",
                "TYPE",
                "EXPIRE",
                "PEXPIRE",
                "EXPIREAT",
                "PEXPIREAT",
                "PERSIST",
                "RENAME",
                "RENAMENX",
                "COPY",
                "MOVE",
                "TOUCH",
                "OBJECT",
                "TTL",
                "PTTL",
                "EXPIRETIME",
                "PEXPIRETIME",
                "DBSIZE",
                "SWAPDB",
                "SELECT",
                "KEYS",
                "RANDOMKEY",
                "ECHO",
            ]);
            let mut n = r.below(6) as usize;
            // Keep the nondeterministic-order / random ones at a wrong arity.
            if (name == "KEYS" && n == 1) || (name == "RANDOMKEY" && n == 0) {
                n += 1;
            }
            let mut argv = vec![b(name)];
            for _ in 0..n {
                argv.push(key(r));
            }
            c(argv)
        }
        85 => {
            // MSET / MSETNX with an odd number of arguments, keys in one slot or spread (an
            // odd MSET across shards once crashed percore: its split read past the end).
            let name = *r.pick(&["MSET", "MSETNX"]);
            let one_slot = r.chance(50);
            let k = |r: &mut Rng| {
                if one_slot {
                    format!("{{a}}{}", r.range(1, 3)).into_bytes()
                } else {
                    key(r)
                }
            };
            let mut argv = vec![b(name)];
            for _ in 0..r.range(1, 2) {
                argv.push(k(r));
                argv.push(value(r));
            }
            argv.push(k(r));
            c(argv)
        }
        86 => {
            let mut argv = vec![b(r.pick(&["NOSUCHCMD", "gett", "FOO", "x"]))];
            for _ in 0..r.below(3) {
                // Redis formats these with C's %s: an argument ends at its first NUL.
                argv.push(value(r));
            }
            c(argv)
        }
        87 => c(vec![b(r.pick(&["get", "Get", "gEt"])), k]),
        _ => {
            // Non-integers where integers are expected.
            let bad = b(r.pick(&["abc", "1.5", "", " 2", "99999999999999999999"]));
            match r.below(6) {
                0 => c(vec![b("INCRBY"), k, bad]),
                1 => c(vec![b("EXPIRE"), k, bad]),
                2 => c(vec![b("SETEX"), k, bad, value(r)]),
                3 => c(vec![b("GETRANGE"), k, bad, b("3")]),
                4 => c(vec![b("SETRANGE"), k, bad, value(r)]),
                _ => c(vec![b("SELECT"), bad]),
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Running and comparing.

fn run(conn: &mut Raw, cmd: &Cmd) -> String {
    let argv: Vec<&[u8]> = cmd.argv.iter().map(|a| a.as_slice()).collect();
    match cmd.check {
        Check::ScanAll => scan_all(conn, &argv),
        Check::ScanKey => scan_key(conn, &argv),
        _ => {
            let mut buf = Vec::new();
            resp::write_command(&mut buf, &argv);
            conn.send(&buf);
            conn.try_read_reply()
                .unwrap_or_else(|| "<connection closed>".to_string())
        }
    }
}

/// Parses `*N` followed by N bulk strings (our keys are ASCII) starting at `s`; returns the
/// header, the items and the rest, or None when the reply is not such an array.
fn bulk_array(s: &str) -> Option<(&str, Vec<&str>, &str)> {
    let (head, mut rest) = s.split_once("\r\n")?;
    let n: usize = head
        .strip_prefix('*')
        .or_else(|| head.strip_prefix('~'))?
        .parse()
        .ok()?;
    let mut items = Vec::with_capacity(n);
    for _ in 0..n {
        let (len, tail) = rest.split_once("\r\n")?;
        // A null (SORT ... GET of a missing key), in either protocol.
        if len == "$-1" || len == "_" {
            items.push("<nil>");
            rest = tail;
            continue;
        }
        let len: usize = len.strip_prefix('$')?.parse().ok()?;
        items.push(tail.get(..len)?);
        rest = tail.get(len + 2..)?;
    }
    Some((head, items, rest))
}

fn scan_all(conn: &mut Raw, opts: &[&[u8]]) -> String {
    scan_loop(conn, &[b"SCAN"], opts)
}

/// Every item of a full SSCAN/HSCAN/ZSCAN iteration (argv: command, key, options).
fn scan_key(conn: &mut Raw, argv: &[&[u8]]) -> String {
    scan_loop(conn, &argv[..2], &argv[2..])
}

/// Runs a SCAN-family command from cursor 0 to the end (`before` cursor `after`), and
/// answers every item seen, sorted and deduplicated, or the first error.
fn scan_loop(conn: &mut Raw, before: &[&[u8]], after: &[&[u8]]) -> String {
    let mut cursor = b"0".to_vec();
    let mut found: Vec<String> = Vec::new();
    for _ in 0..10_000 {
        let mut words: Vec<&[u8]> = before.to_vec();
        words.push(&cursor);
        words.extend_from_slice(after);
        // Bytes, not text: members may be any binary string (lossy UTF-8 would change
        // their lengths).
        let raw = conn.cmd_raw(&words);
        if raw.starts_with(b"-") {
            return String::from_utf8_lossy(&raw).into_owned();
        }
        let Some((cur, items)) = scan_reply(&raw) else {
            panic!("odd scan reply {:?}", String::from_utf8_lossy(&raw));
        };
        found.extend(
            items
                .iter()
                .map(|s| String::from_utf8_lossy(s).into_owned()),
        );
        cursor = cur;
        if cursor == b"0" {
            found.sort();
            found.dedup();
            return format!("scan* -> {found:?}");
        }
    }
    panic!("scan did not finish in 10000 calls");
}

/// A SCAN-family reply, `*2 $cursor *n items`, as (cursor, items).
fn scan_reply(raw: &[u8]) -> Option<(Vec<u8>, Vec<Vec<u8>>)> {
    fn line(b: &[u8]) -> Option<(&[u8], &[u8])> {
        let i = b.windows(2).position(|w| w == b"\r\n")?;
        Some((&b[..i], &b[i + 2..]))
    }
    fn bulk(b: &[u8]) -> Option<(Vec<u8>, &[u8])> {
        let (head, rest) = line(b)?;
        let len: usize = std::str::from_utf8(head.strip_prefix(b"$")?)
            .ok()?
            .parse()
            .ok()?;
        Some((rest.get(..len)?.to_vec(), rest.get(len + 2..)?))
    }
    let rest = raw.strip_prefix(b"*2\r\n")?;
    let (cursor, rest) = bulk(rest)?;
    let (head, mut rest) = line(rest)?;
    let n: usize = std::str::from_utf8(head.get(1..)?).ok()?.parse().ok()?;
    let mut items = Vec::with_capacity(n);
    for _ in 0..n {
        let (item, tail) = bulk(rest)?;
        items.push(item);
        rest = tail;
    }
    Some((cursor, items))
}

fn int_reply(s: &str) -> Option<i64> {
    s.strip_prefix(':')?.trim_end().parse().ok()
}

/// Compares two replies under the command's rule; returns the normalized forms when they
/// differ.
fn same(check: Check, redis: &str, ours: &str) -> bool {
    match check {
        Check::Exact | Check::ScanAll | Check::ScanKey => redis == ours,
        Check::Len => redis.split("\r\n").next() == ours.split("\r\n").next(),
        Check::Time(tol) => match (int_reply(redis), int_reply(ours)) {
            (Some(a), Some(b)) if a >= 0 && b >= 0 => (a - b).abs() <= tol,
            _ => redis == ours,
        },
        Check::Sorted => match (bulk_array(redis), bulk_array(ours)) {
            (Some((ha, mut a, ra)), Some((hb, mut b, rb))) => {
                a.sort();
                b.sort();
                ha == hb && a == b && ra == rb
            }
            // Items with CR/LF or bytes that are not UTF-8 defeat the parser above: compare
            // the reply's lines as a multiset.
            _ => {
                let lines = |s: &str| {
                    let mut v: Vec<String> = s.split("\r\n").map(String::from).collect();
                    v.sort();
                    v
                };
                lines(redis) == lines(ours)
            }
        },
        Check::Ignore => true,
        Check::AnyInt => int_reply(redis).is_some() && int_reply(ours).is_some() || redis == ours,
        Check::NullOrNot => {
            let is_key = |s: &str| s.starts_with('$') && !s.starts_with("$-1");
            is_key(redis) == is_key(ours) || redis == ours
        }
    }
}

/// How a command's reply is compared, from its name and arity (the arity generator makes
/// well-formed TTL/KEYS/RANDOMKEY calls too).
fn classify(argv: &[Vec<u8>]) -> Check {
    let name = argv[0].to_ascii_uppercase();
    match (name.as_slice(), argv.len()) {
        (b"TTL" | b"EXPIRETIME", 2) => Check::Time(2),
        (b"PTTL" | b"PEXPIRETIME", 2) => Check::Time(2000),
        (b"KEYS", 2) => Check::Sorted,
        (b"RANDOMKEY", 1) => Check::NullOrNot,
        _ => Check::Exact,
    }
}

fn show(argv: &[Vec<u8>]) -> String {
    argv.iter()
        .map(|a| format!("{:?}", String::from_utf8_lossy(a)))
        .collect::<Vec<_>>()
        .join(" ")
}

/// The keyspace events compared: every class but expired (x), whose timing is each server's
/// own (active expiry), and evicted (e), which needs maxmemory.
const EVENT_CLASSES: &str = "KEg$lshzmn";

/// A connection subscribed to every keyspace and keyevent channel.
fn event_listener(server: &Server) -> Raw {
    let mut sub = server.raw();
    let reply = sub.cmd(&["PSUBSCRIBE", "__key*__:*"]);
    assert!(reply.contains("psubscribe"), "PSUBSCRIBE failed: {reply:?}");
    sub
}

/// The event messages that reached `sub` so far: a PING goes after them (a subscriber's
/// replies keep their order) and everything before its reply is an event.
/// "channel message" of a pmessage, for failure reports.
fn brief(event: &str) -> String {
    let parts: Vec<&str> = event.split("\r\n").collect();
    match (parts.get(6), parts.get(8)) {
        (Some(ch), Some(msg)) => format!("{ch} {msg}"),
        _ => event.to_string(),
    }
}

fn drain_events(sub: &mut Raw) -> Vec<String> {
    sub.send(b"*1\r\n$4\r\nPING\r\n");
    let mut events = Vec::new();
    loop {
        let m = sub.read_reply();
        if m.starts_with("*2\r\n$4\r\npong\r\n") {
            return events;
        }
        events.push(m);
    }
}

fn one_seed_with(redis: &Server, ours: &Server, shards: usize, seed: u64, events: bool) {
    let mut r = Rng::new(seed);
    let resp3 = seed % 3 == 1;
    let mut rc = redis.raw();
    let mut pc = ours.raw();
    let mut subs = events.then(|| {
        for conn in [&mut rc, &mut pc] {
            let ok = conn.cmd(&["CONFIG", "SET", "notify-keyspace-events", EVENT_CLASSES]);
            assert_eq!(ok, "+OK\r\n");
        }
        (event_listener(redis), event_listener(ours))
    });
    let lib = library();
    for conn in [&mut rc, &mut pc] {
        let ok = conn.cmd(&["FLUSHALL"]);
        assert_eq!(ok, "+OK\r\n");
        let loaded = conn.cmd(&["FUNCTION", "LOAD", "REPLACE", &lib]);
        assert_eq!(loaded, "$7\r\ndifflib\r\n");
        if resp3 {
            // The HELLO reply carries server name, version and client id: not compared.
            let reply = conn.cmd(&["HELLO", "3"]);
            assert!(reply.starts_with('%'), "HELLO 3 failed: {reply:?}");
        }
    }
    let mut history: Vec<String> = Vec::new();
    // SET with EXAT/PXAT in the past stores a key that is already expired: both servers hide
    // it from reads, but DBSIZE counts it until active expiry reaps it, which happens on each
    // server's own clock. After such a SET, DBSIZE is only compared as "some integer".
    let mut stale = false;
    let mut in_multi = false;
    let mut exec_unordered = false;
    let mut exec_counts_only = false;
    // SORT turns a sorted set into a skiplist (as in Redis), and lex ranges over a skiplist
    // whose members are not in lex order depend on its random levels in Redis: after a SORT
    // on a key, lex commands on it are not generated.
    let mut sorted_keys: Vec<Vec<u8>> = Vec::new();
    for step in 0..STEPS {
        let mut cmd = gen(&mut r);
        if cmd.argv[..]
            .first()
            .is_some_and(|n| n.eq_ignore_ascii_case(b"SET"))
        {
            let now_ms = now_secs() * 1000;
            for w in cmd.argv.windows(2) {
                let at = std::str::from_utf8(&w[1])
                    .ok()
                    .and_then(|s| s.parse::<i64>().ok());
                match (w[0].to_ascii_uppercase().as_slice(), at) {
                    (b"EXAT", Some(t)) if t.saturating_mul(1000) <= now_ms => stale = true,
                    (b"PXAT", Some(t)) if t <= now_ms => stale = true,
                    _ => {}
                }
            }
        }
        let upper: Vec<Vec<u8>> = cmd.argv.iter().map(|a| a.to_ascii_uppercase()).collect();
        let first = upper.first().map(|n| n.as_slice()).unwrap_or_default();
        let lex = matches!(
            first,
            b"ZRANGEBYLEX" | b"ZREVRANGEBYLEX" | b"ZLEXCOUNT" | b"ZREMRANGEBYLEX"
        ) || upper.iter().any(|a| a == b"BYLEX");
        let lex_key = if first == b"ZRANGESTORE" { 2 } else { 1 };
        if lex
            && cmd
                .argv
                .get(lex_key)
                .is_some_and(|k| sorted_keys.contains(k))
        {
            continue;
        }
        if matches!(first, b"SORT" | b"SORT_RO") && cmd.argv.len() > 1 {
            sorted_keys.push(cmd.argv[1].clone());
        }
        if cmd.check == Check::Exact {
            cmd.check = classify(&cmd.argv);
        }
        if stale && cmd.argv == [b("DBSIZE")] {
            cmd.check = Check::AnyInt;
        }
        // Excluded divergence (server/runtime.rs Rt::RandomKey): with several shards percore
        // picks a shard in proportion to its DBSIZE, which counts stored-but-expired keys;
        // when that shard holds only expired keys it answers nil although live keys exist
        // on other shards (Redis always finds a live key). Not compared once stale.
        if stale && cmd.check == Check::NullOrNot {
            cmd.check = Check::Ignore;
        }
        // Inside MULTI the replies come back later inside EXEC's array, where only exact
        // comparison applies, and the LCS probe below would be queued: skip those.
        let name = cmd
            .argv
            .first()
            .map(|n| n.to_ascii_uppercase())
            .unwrap_or_default();
        if in_multi && (cmd.check != Check::Exact || name == b"LCS") {
            continue;
        }
        // LCS is quadratic in memory: keep it to short strings (probed on redis, read-only).
        if cmd.check == Check::Exact && cmd.argv[0] == b"LCS" && cmd.argv.len() >= 3 {
            let len = |k: &[u8], rc: &mut Raw| {
                int_reply(&rc.cmd_bytes(&[b"STRLEN", k])).unwrap_or(i64::MAX)
            };
            let (a, b) = (len(&cmd.argv[1], &mut rc), len(&cmd.argv[2], &mut rc));
            if let Some((rs, _)) = subs.as_mut() {
                // The probe's own keymiss events are not the command's.
                drain_events(rs);
            }
            if a.saturating_mul(b) > 1_000_000 {
                continue;
            }
        }
        let want = run(&mut rc, &cmd);
        let got = run(&mut pc, &cmd);
        let line = format!(
            "{}{}",
            if cmd.check == Check::ScanAll {
                "SCAN* "
            } else {
                ""
            },
            show(&cmd.argv)
        );
        if !same(cmd.check, &want, &got) {
            panic!(
                "differential mismatch: shards={shards} seed={seed} resp{} step={step}\n\
                 history (oldest first):\n  {}\n\
                 command: {line}\n\
                 redis:   {want:?}\n\
                 percore: {got:?}\n\
                 reproduce: DIFF_SEED={seed} cargo test --test tests differential",
                if resp3 { 3 } else { 2 },
                history.join("\n  "),
            );
        }
        history.push(format!("{line}  => {want:?}"));
        // DIFF_DIGEST=1: compare the datasets after every step, to find the first that
        // makes them differ (slow; for reproducing one seed).
        if std::env::var_os("DIFF_DIGEST").is_some() && !in_multi && subs.is_none() {
            let (a, b) = (settled_digest(redis), settled_digest(ours));
            assert_eq!(a, b, "datasets differ after step {step}: {line}");
        }
        if let Some((rs, ps)) = subs.as_mut() {
            let (mut want_events, mut got_events) = (drain_events(rs), drain_events(ps));
            let keys = cmd.argv.get(1..).unwrap_or_default();
            let repeated = |step: usize| {
                let ks: Vec<&Vec<u8>> = keys.iter().step_by(step).collect();
                (1..ks.len()).any(|i| ks[..i].contains(&ks[i]))
            };
            let split_repeat = match first {
                b"MSET" => repeated(2),
                b"DEL" | b"UNLINK" | b"EXISTS" | b"TOUCH" | b"MGET" => repeated(1),
                _ => false,
            };
            // A script on several shards publishes each shard's events as that shard's
            // part ends: compared as a multiset.
            let script = matches!(first, b"EVAL" | b"EVAL_RO" | b"FCALL" | b"FCALL_RO");
            let unordered =
                matches!(first, b"SORT" | b"SORT_RO") || (shards > 1 && (split_repeat || script));
            // Inside MULTI the events come at EXEC: it inherits the queued commands' rule.
            let unordered = if in_multi && first != b"EXEC" {
                exec_unordered |= unordered;
                false
            } else if first == b"EXEC" {
                std::mem::take(&mut exec_unordered)
            } else {
                unordered
            };
            let nosort =
                matches!(first, b"SORT" | b"SORT_RO") && upper.iter().any(|a| a == b"NOSORT");
            if in_multi && first != b"EXEC" {
                exec_counts_only |= nosort;
            }
            let nosort =
                nosort && !in_multi || (first == b"EXEC" && std::mem::take(&mut exec_counts_only));
            if nosort {
                // BY nosort over a set takes its elements in each server's own hash order
                // (with LIMIT, different ones): only the number of reads compares.
                want_events = vec![format!("{} events", want_events.len())];
                got_events = vec![format!("{} events", got_events.len())];
            }
            if unordered {
                // The keys BY and GET patterns name are read in an order of each server's
                // own (their keymiss events). And a command split by shard that names a key
                // twice raises that key's events together (conn.rs, order_split_events).
                // Both compared as multisets.
                want_events.sort();
                got_events.sort();
            }
            if want_events != got_events {
                panic!(
                    "keyspace events differ: shards={shards} seed={seed} step={step}\n\
                     history (oldest first):\n  {}\n\
                     redis:   {:?}\n\
                     percore: {:?}\n\
                     reproduce: DIFF_SEED={seed} cargo test --test tests keyspace_events",
                    history.join("\n  "),
                    want_events.iter().map(|e| brief(e)).collect::<Vec<_>>(),
                    got_events.iter().map(|e| brief(e)).collect::<Vec<_>>(),
                );
            }
        }
        match name.as_slice() {
            b"MULTI" => in_multi = true,
            b"EXEC" | b"DISCARD" | b"RESET" => in_multi = false,
            _ => {}
        }
    }
    same_dataset(redis, ours, shards, seed);
}

/// After a run, both servers hold the same data: DEBUG DIGEST (every database, every key,
/// value and the presence of a TTL) prints the same on both. Keys already expired are
/// stored until something deletes them, on each server's own schedule, so every name the
/// generator uses is looked up in every database first (lazy expiry deletes them on both).
fn same_dataset(redis: &Server, ours: &Server, shards: usize, seed: u64) {
    let digests = [settled_digest(redis), settled_digest(ours)];
    assert_eq!(
        digests[0], digests[1],
        "datasets differ after the run (DEBUG DIGEST): shards={shards} seed={seed}\n\
         reproduce: DIFF_SEED={seed} cargo test --test tests differential"
    );
}

fn differential(shards: usize) {
    differential_with(shards, false)
}

fn differential_with(shards: usize, events: bool) {
    let ours = Server::start_with(shards, &["--enable-debug-command", "yes"]);
    differential_on(&ours, shards, events, TIME_CAP);
}

/// Runs the random sequences on `ours` and on a fresh redis-server, seed after seed, until
/// `cap` (unless DIFF_NO_CAP).
fn differential_on(ours: &Server, shards: usize, events: bool, cap: Duration) {
    let redis = Server::redis();
    let seeds: Vec<u64> = match std::env::var("DIFF_SEED") {
        Ok(s) => vec![s.parse().expect("DIFF_SEED must be an integer")],
        Err(_) => {
            // DIFF_SEEDS=<n> (from DIFF_SEED_BASE) explores more seeds; the time cap still
            // applies unless DIFF_NO_CAP is set.
            let n = std::env::var("DIFF_SEEDS")
                .ok()
                .and_then(|s| s.parse().ok())
                .unwrap_or(SEEDS);
            let base: u64 = std::env::var("DIFF_SEED_BASE")
                .ok()
                .and_then(|s| s.parse().ok())
                .unwrap_or(100_000 * shards as u64);
            (0..n).map(|i| base + i).collect()
        }
    };
    let start = Instant::now();
    let mut ran = 0;
    for seed in seeds {
        if start.elapsed() > cap && std::env::var_os("DIFF_NO_CAP").is_none() {
            break;
        }
        one_seed_with(&redis, ours, shards, seed, events);
        ran += 1;
    }
    assert!(ran > 0);
    eprintln!(
        "differential shards={shards}: {ran} seeds x {STEPS} commands in {:?}",
        start.elapsed()
    );
}

/// Fixed sequences for divergences the random runs found (and fixed), so they stay covered
/// on every run whatever the seeds reach.
const REGRESSIONS: &[&[&[&str]]] = &[
    // Scripts: a container's unknown subcommand is an unknown command, and a one-word call
    // of a container killed the shard; COPY ... DB n across shards inside a broad run lost
    // its destination; a failed write then an undeclared key on another shard was taken
    // for a write.
    &[
        &["SET", "k2", "v"],
        &["EVAL", "return {redis.pcall('object', 'k2', 'x'), redis.pcall('object'), redis.pcall('mget'), redis.pcall('config', 'get')}", "0"],
        &["EVAL", "return redis.pcall('copy', KEYS[1], KEYS[2], 'DB', '1')", "2", "k2", "baz"],
        &["SELECT", "1"],
        &["GET", "baz"],
        &["SELECT", "0"],
        &["EVAL", "return {redis.pcall('incrby', KEYS[1], ''), redis.pcall('set', '', 'x')}", "1", "k3"],
        &["GET", ""],
    ],
    // EXPIRETIME of a key expiring at i64::MAX ms overflowed (ttl+500) and killed the shard.
    &[
        &["SET", "k", "x"],
        &["PEXPIREAT", "k", "9223372036854775807"],
        &["EXPIRETIME", "k"],
        &["PEXPIRETIME", "k"],
        &["TTL", "k"],
        &["SET", "{a}1", "x", "PXAT", "9223372036854775807"],
        &["EXPIRETIME", "{a}1"],
        &["GETEX", "foo", "PXAT", "9223372036854775807"],
        &["SET", "foo", "1"],
        &["GETEX", "foo", "PXAT", "9223372036854775807"],
        &["EXPIRETIME", "foo"],
    ],
    // Inside MULTI an unknown subcommand is rejected (EXECABORT), not queued.
    &[
        &["MULTI"],
        &["OBJECT", "BOGUS"],
        &["CONFIG", "GET"],
        &["SET", "a", "1"],
        &["EXEC"],
        &["GET", "a"],
    ],
    // Commands flagged no_multi are refused inside MULTI and doom it (SHUTDOWN used to shut
    // the server down); a refused EXEC discards its transaction, in MULTI or not.
    &[
        &["MULTI"],
        &["SHUTDOWN"],
        &["SAVE"],
        &["SET", "a", "1"],
        &["EXEC"],
        &["GET", "a"],
        &["EXEC", "x"],
        &["MULTI"],
        &["SET", "a", "2"],
        &["EXEC", "x"],
        &["EXEC"],
        &["GET", "a"],
    ],
    // COPY ... DB n does not touch a watched key of the same name in the current db, and
    // SWAPDB of a db with itself touches nothing.
    &[
        &["SET", "{a}1", "v"],
        &["WATCH", "{b}2", "{a}1"],
        &["COPY", "{a}1", "{b}2", "DB", "2"],
        &["SWAPDB", "0", "0"],
        &["MULTI"],
        &["GET", "{b}2"],
        &["EXEC"],
    ],
    // LPOS RANK i64::MIN is accepted by Redis 7.0 (no range check yet) and acts as "every
    // match, from the tail".
    &[
        &["RPUSH", "l", "a", "b", "a"],
        &["LPOS", "l", "a", "RANK", "-9223372036854775808"],
        &[
            "LPOS",
            "l",
            "a",
            "RANK",
            "-9223372036854775808",
            "COUNT",
            "1",
        ],
        &["LPOS", "nosuch", "a", "RANK", "-9223372036854775808"],
        &["LPOS", "l", "a", "RANK", "-1", "COUNT", "0"],
    ],
    // SORT reads a weight as a C string (up to its first NUL; empty is 0), and white space
    // alone is no number for SORT or score ranges.
    &[
        &["RPUSH", "l", "a", "b", "c"],
        &["SET", "w_a", "\0\x001.5"],
        &["SET", "w_b", "7\0zz"],
        &["SET", "w_c", ""],
        &["SORT", "l", "BY", "w_*"],
        &["SET", "w_c", " "],
        &["SORT", "l", "BY", "w_*"],
        &["ZADD", "z", "1", "a", "2", "b"],
        &["ZRANGEBYSCORE", "z", " ", "5"],
        &["ZRANGEBYSCORE", "z", "(", "5"],
        &["ZRANGEBYSCORE", "z", " 1", "5"],
    ],
];

fn regressions(shards: usize) {
    let redis = Server::redis();
    let ours = Server::start(shards);
    for (i, script) in REGRESSIONS.iter().enumerate() {
        let (mut rc, mut pc) = (redis.raw(), ours.raw());
        assert_eq!(rc.cmd(&["FLUSHALL"]), "+OK\r\n");
        assert_eq!(pc.cmd(&["FLUSHALL"]), "+OK\r\n");
        for (step, words) in script.iter().enumerate() {
            let cmd = Cmd {
                argv: words.iter().map(b).collect(),
                check: Check::Exact,
            };
            let check = classify(&cmd.argv);
            let (want, got) = (run(&mut rc, &cmd), run(&mut pc, &cmd));
            assert!(
                same(check, &want, &got),
                "regression {i} step {step} shards={shards}: {}\nredis:   {want:?}\npercore: {got:?}",
                show(&cmd.argv)
            );
        }
    }
}

#[test]
fn differential_regressions() {
    regressions(2);
}

#[test]
fn differential_one_shard() {
    differential(1);
}

#[test]
fn differential_two_shards() {
    differential(2);
}

#[test]
fn differential_four_shards() {
    differential(4);
}

/// The same random sequences on a percore that journals them to its AOF: besides matching
/// redis-server reply for reply, the AOF restarts percore with another shard count into
/// the same dataset, and exported as one file (`--aof-export`) it passes redis-check-aof
/// and loads in redis-server into the same dataset (DEBUG DIGEST).
#[test]
fn differential_journaled_to_the_aof() {
    let dir = crate::harness::scratch_dir("aof-diff");
    let d = dir.display().to_string();
    let args = [
        "--enable-debug-command",
        "yes",
        "--appendonly",
        "yes",
        "--dir",
        &d,
    ];
    let ours = Server::start_with(2, &args);
    differential_on(&ours, 2, false, Duration::from_secs(12));
    let want = settled_digest(&ours);
    assert_ne!(
        want,
        format!("+{}\r\n", "0".repeat(40)),
        "the run left data"
    );
    let aofdir = dir.join("appendonlydir");
    let export = dir.join("export.aof");
    crate::harness::aof_export(&aofdir, &export);
    drop(ours);
    let check = crate::harness::which("redis-check-aof").expect("redis-check-aof installed");
    let out = std::process::Command::new(check)
        .arg(&export)
        .output()
        .expect("redis-check-aof runs");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success() && text.contains("is valid"), "{text}");
    // redis-server 7.0 takes a single file in `dir` as an AOF of an older version.
    let rdir = crate::harness::scratch_dir("aof-diff-redis");
    std::fs::copy(&export, rdir.join("appendonly.aof")).expect("copy export");
    let r = rdir.display().to_string();
    let redis = Server::redis_with(&["--appendonly", "yes", "--dir", &r]);
    assert_eq!(
        settled_digest(&redis),
        want,
        "redis-server loaded the export"
    );
    drop(redis);
    // The same files, three shards.
    let ours = Server::start_with(3, &args);
    assert_eq!(settled_digest(&ours), want, "percore restarted on 3 shards");
    drop(ours);
    let _ = std::fs::remove_dir_all(&dir);
    let _ = std::fs::remove_dir_all(&rdir);
}

/// The generator's commands for `seed` (`n` of them), and the function library they call:
/// for workloads run elsewhere (replication).
pub(crate) fn workload(seed: u64, n: usize) -> (String, Vec<Vec<Vec<u8>>>) {
    let mut r = Rng::new(seed);
    (library(), (0..n).map(|_| gen(&mut r).argv).collect())
}

/// DEBUG DIGEST after every generated name was looked up in every database (lazy expiry
/// deletes keys stored already expired, on any server's clock).
pub(crate) fn settled_digest(server: &Server) -> String {
    let mut c = server.raw();
    for db in 0..4 {
        c.cmd(&["SELECT", &db.to_string()]);
        for k in KEYS.iter().chain(&["{a}3", "{b}3"]) {
            c.cmd(&["EXISTS", k]);
        }
    }
    let digest = c.cmd(&["DEBUG", "DIGEST"]);
    assert!(digest.starts_with('+'), "DEBUG DIGEST: {digest:?}");
    digest
}

/// The same random sequences with keyspace notifications on: after every command, the
/// events a subscriber to `__key*__:*` received must be those redis-server sent, in order.
#[test]
fn keyspace_events_one_shard() {
    differential_with(1, true);
}

#[test]
fn keyspace_events_four_shards() {
    differential_with(4, true);
}

/// proto-max-bulk-len bounds the strings APPEND, SETRANGE, SETBIT and BITFIELD make, as in
/// redis-server (CONFIG SET reaches every shard).
#[test]
fn proto_max_bulk_len_bounds_string_growth() {
    let redis = Server::redis();
    let ours = Server::start(2);
    let (mut a, mut b) = (redis.raw(), ours.raw());
    for cmd in [
        &["CONFIG", "SET", "proto-max-bulk-len", "1mb"][..],
        &["SETBIT", "k", "8388608", "1"],
        &["SETBIT", "k", "8388607", "1"],
        &["STRLEN", "k"],
        &["APPEND", "k", "x"],
        &["SETRANGE", "k", "1048575", "y"],
        &["BITFIELD", "k", "SET", "u8", "8388600", "1"],
        &["BITFIELD", "k", "SET", "u8", "8388608", "1"],
        &["BITFIELD", "k2", "SET", "u8", "#1048575", "1"],
    ] {
        assert_eq!(b.cmd(cmd), a.cmd(cmd), "{cmd:?}");
    }
}
