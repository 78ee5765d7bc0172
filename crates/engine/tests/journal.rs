//! The journal records what redis-server 7.0 would propagate to its AOF for the same
//! commands: writes that changed something (as sent, or rewritten to their deterministic
//! form), expired keys as DEL before the command that found them, SELECT on database
//! changes; reads and writes that changed nothing record nothing.

mod common;
use common::workload::Workload;
use common::*;

/// Runs `lines` with the journal on and returns what it recorded, one command line per
/// record (arguments joined by spaces).
fn journal(t: &mut T, lines: &[&str]) -> Vec<String> {
    t.s.journal.set_enabled(true);
    for l in lines {
        t.cmd(l);
    }
    decode(&t.s.journal.take())
}

fn decode(mut b: &[u8]) -> Vec<String> {
    let mut out = Vec::new();
    let line = |b: &mut &[u8]| -> String {
        let end = b.windows(2).position(|w| w == b"\r\n").expect("CRLF");
        let s = String::from_utf8_lossy(&b[..end]).into_owned();
        *b = &b[end + 2..];
        s
    };
    while !b.is_empty() {
        let head = line(&mut b);
        let n: usize = head[1..].parse().expect("array length");
        let mut words = Vec::new();
        for _ in 0..n {
            let len: usize = line(&mut b)[1..].parse().expect("bulk length");
            words.push(String::from_utf8_lossy(&b[..len]).into_owned());
            b = &b[len + 2..];
        }
        out.push(words.join(" "));
    }
    out
}

#[test]
fn writes_that_change_something_are_recorded_as_sent() {
    let mut t = T::new();
    let got = journal(
        &mut t,
        &[
            "SET a 1",
            "GET a",
            "INCR a",
            "DEL nosuch",
            "HSET h f v",
            "HSET h f v",
            "RPUSH l x y",
            "LPOP nosuch",
            "EXISTS a",
        ],
    );
    assert_eq!(
        got,
        [
            "SELECT 0",
            "SET a 1",
            "INCR a",
            "HSET h f v",
            // The second HSET changed the value to itself: Redis counts it as a change.
            "HSET h f v",
            "RPUSH l x y",
        ]
    );
}

#[test]
fn select_precedes_a_change_of_database() {
    let mut t = T::new();
    t.s.journal.set_enabled(true);
    t.cmd("SET a 1");
    t.db = 5;
    t.cmd("SET b 2");
    t.cmd("SET c 3");
    t.db = 0;
    t.cmd("DEL a");
    assert_eq!(
        decode(&t.s.journal.take()),
        ["SELECT 0", "SET a 1", "SELECT 5", "SET b 2", "SET c 3", "SELECT 0", "DEL a"]
    );
}

#[test]
fn expired_keys_are_deleted_before_the_command_that_found_them() {
    let mut t = T::new();
    t.cmd("SET k v");
    t.cmd(&format!("PEXPIREAT k {}", T0 + 10));
    t.advance(20);
    // A read that finds the key expired records only the deletion; a write that then
    // changes nothing records only the deletion too.
    let got = journal(&mut t, &["GET k", "SET j v", "PEXPIREAT j 1"]);
    assert_eq!(got[..3], ["SELECT 0", "DEL k", "SET j v"]);
}

#[test]
fn relative_times_and_results_are_recorded_as_redis_7_rewrites_them() {
    let mut t = T::new();
    t.cmd("SET f 1.5");
    t.cmd("HSET h x 1");
    t.cmd("SET old v");
    let at = T0 + 10_000;
    let got = journal(
        &mut t,
        &[
            "SET a 1 EX 10",
            "SET b 2 GET",
            "SET c 3 NX GET PX 5",
            "SETEX d 10 v",
            "PSETEX e 10000 v",
            "GETEX a PX 10000",
            "GETEX a PERSIST",
            "GETEX a PERSIST",
            "GETEX b PXAT 1",
            "GETDEL c",
            "GETDEL nosuch",
            "GETSET d w",
            "INCRBYFLOAT f 0.25",
            "HINCRBYFLOAT h x 2.5",
            "EXPIRE old 10 NX",
            "EXPIRE old 20 NX",
            "PEXPIREAT old 1700000099999",
            "PEXPIRE old -1",
        ],
    );
    assert_eq!(
        got,
        [
            "SELECT 0".to_string(),
            format!("SET a 1 PXAT {at}"),
            "SET b 2".into(),
            format!("SET c 3 PXAT {}", T0 + 5),
            format!("SET d v PXAT {at}"),
            format!("SET e v PXAT {at}"),
            format!("PEXPIREAT a {at}"),
            "PERSIST a".into(),
            "DEL b".into(),
            "DEL c".into(),
            "SET d w".into(),
            "SET f 1.75 KEEPTTL".into(),
            "HSET h x 3.5".into(),
            format!("PEXPIREAT old {at} NX"),
            "PEXPIREAT old 1700000099999".into(),
            "DEL old".into(),
        ]
    );
}

#[test]
fn spop_is_recorded_as_srem_and_a_write_over_an_expired_key_as_one_unit() {
    let mut t = T::new();
    t.cmd("SADD s a b c d");
    t.cmd("SADD small x");
    t.cmd("SET v 1");
    t.cmd(&format!("PEXPIREAT v {}", T0 + 5));
    t.advance(10);
    let got = journal(&mut t, &["SPOP s", "SPOP s 2", "SPOP small 5", "SET v 2"]);
    assert_eq!(got[0], "SELECT 0");
    assert!(got[1].starts_with("SREM s "), "{got:?}");
    assert_eq!(got[2], "MULTI");
    assert!(got[3].starts_with("SREM s ") && got[4].starts_with("SREM s "));
    assert_eq!(
        got[5..],
        ["EXEC", "DEL small", "MULTI", "DEL v", "SET v 2", "EXEC"]
    );
    // What was popped is what the journal removes.
    let left: Vec<String> = ["a", "b", "c", "d"]
        .into_iter()
        .filter(|m| !got[1..5].iter().any(|r| r == &format!("SREM s {m}")))
        .map(String::from)
        .collect();
    assert_eq!(left.len(), 1);
    t.expect(&format!("SISMEMBER s {}", left[0]), &int(1));
}

#[test]
fn pops_of_the_multi_and_blocking_forms_are_recorded_as_plain_pops() {
    let mut t = T::new();
    t.cmd("RPUSH l a b c d");
    t.cmd("RPUSH m x");
    t.cmd("ZADD z 1 a 2 b 3 c");
    let got = journal(
        &mut t,
        &[
            "LMPOP 2 nosuch l RIGHT COUNT 2",
            "LMPOP 1 l LEFT",
            "BLPOP nosuch l 0",
            "BRPOP m 0",
            "BLMPOP 0 1 l LEFT COUNT 5",
            "ZMPOP 1 z MIN COUNT 9",
            "BZPOPMAX z 0",
            "ZADD z 1 a 2 b",
            "BZMPOP 0 1 z MAX COUNT 1",
            "ZPOPMIN z 5",
        ],
    );
    assert_eq!(
        got,
        [
            "SELECT 0",
            "RPOP l 2",
            "LPOP l 1",
            "LPOP l",
            "RPOP m",
            // Nothing was left for BLMPOP (a timeout reply, no write).
            "ZPOPMIN z 3",
            // ZMPOP emptied z: BZPOPMAX found nothing.
            "ZADD z 1 a 2 b",
            "ZPOPMAX z 1",
            "ZPOPMIN z 5",
        ]
    );
}

#[test]
fn moves_and_restores_are_recorded_in_their_deterministic_form() {
    let mut t = T::new();
    t.cmd("RPUSH src a b c");
    t.cmd("SET k v");
    let dump = t.cmd("DUMP k");
    // The payload of a bulk reply: after the first CRLF, before the last.
    let start = dump.iter().position(|&b| b == b'\n').unwrap() + 1;
    let payload = dump[start..dump.len() - 2].to_vec();
    t.s.journal.set_enabled(true);
    t.cmd("BLMOVE src dst right LEFT 0");
    t.cmd("BRPOPLPUSH src dst 0");
    let restore = |ttl: &str, extra: &[&str]| {
        let mut argv: Vec<&[u8]> = vec![b"RESTORE", b"r", ttl.as_bytes(), &payload];
        argv.extend(extra.iter().map(|e| e.as_bytes()));
        argv.iter().map(|a| a.to_vec()).collect::<Vec<_>>()
    };
    for argv in [restore("5000", &[]), restore("0", &["REPLACE"])] {
        let refs: Vec<&[u8]> = argv.iter().map(Vec::as_slice).collect();
        t.argv(&refs);
    }
    let got = decode(&t.s.journal.take());
    let p = String::from_utf8_lossy(&payload).into_owned();
    assert_eq!(
        got,
        [
            "SELECT 0".to_string(),
            "LMOVE src dst right LEFT".into(),
            "RPOPLPUSH src dst".into(),
            format!("RESTORE r {} {p} ABSTTL", T0 + 5000),
            format!("RESTORE r 0 {p} REPLACE"),
        ]
    );
}

/// Random writes (relative expiries, random pops, floats, blocking forms, expired keys)
/// on one shard, its journal replayed on another: the two datasets are the same.
#[test]
fn replaying_the_journal_rebuilds_the_same_dataset() {
    for seed in 1..=30u64 {
        let mut w = Workload::new(seed, 6, "");
        let mut a = T::new();
        a.s.journal.set_enabled(true);
        let mut b = T::new();
        // Another random sequence: a pop recorded as sent would pick other members.
        b.s.rng = engine::dict::Rng::new(seed + 1000);
        for step in 0..300 {
            let line = w.line();
            a.cmd(&line);
            if w.below(10) == 0 {
                a.advance(w.below(2000) as u64);
            }
            if w.below(30) == 0 {
                a.s.active_expire(std::time::Duration::from_millis(5));
            }
            if step % 5 == 4 {
                replay(&mut b, &a.s.journal.take(), seed);
                same(&mut a, &mut b, seed, step);
            }
        }
    }
}

/// Runs the journal's commands on `b`, as an AOF replay does.
/// In slices of a few units, as a loader that serves between them does.
fn replay(b: &mut T, journal: &[u8], seed: u64) {
    let mut w = engine::aof::Walk::default();
    loop {
        w = engine::aof::replay_from(&mut b.s, &mut b.db, journal, w.valid, 1 + seed % 5, &|_| {
            false
        })
        .unwrap_or_else(|e| panic!("seed {seed}: {e}"));
        if !w.more {
            break;
        }
    }
    assert_eq!(
        (w.valid, w.stop, w.unfinished),
        (journal.len(), None, false),
        "seed {seed}: a whole stream"
    );
}

/// The same dataset: digest, and each key's value and expire time (the digest only says
/// whether a key has one), read at the same clock so the same keys have expired.
fn same(a: &mut T, b: &mut T, seed: u64, step: usize) {
    assert_eq!(a.s.digest(), b.s.digest(), "seed {seed} step {step}");
    b.s.set_time(a.now());
    let (da, db) = (a.db, b.db);
    a.db = 0;
    b.db = 0;
    for k in 0..6 {
        for line in [format!("PEXPIRETIME k{k}"), format!("DUMP k{k}")] {
            assert_eq!(
                show(&a.cmd(&line)),
                show(&b.cmd(&line)),
                "seed {seed} step {step}: {line}"
            );
        }
    }
    (a.db, b.db) = (da, db);
}

/// What the runtime writes on a shard's behalf (values moved between shards, write-backs,
/// a vanished blocked client's elements put back) is recorded in forms that recreate it
/// exactly when replayed.
#[test]
fn runtime_writes_are_recorded_to_recreate_them() {
    use engine::cmd::blocking::{undo, Undo};
    let mut a = T::new();
    for line in [
        "SET s hello",
        "HSET h f v g w",
        "ZADD z 1.5 a 2 b",
        "RPUSH l x y",
        "SADD set 1 2 3",
    ] {
        a.cmd(line);
    }
    a.cmd(&format!("PEXPIREAT s {}", T0 + 5000));
    a.s.journal.set_enabled(true);
    for key in ["s", "h", "z", "l", "set"] {
        let e = a.s.peek(0, key.as_bytes()).cloned().expect("stored");
        a.s.record_put(0, key.as_bytes(), &e);
    }
    undo(
        &mut a.s,
        0,
        Undo::List {
            key: b"l".to_vec(),
            right: false,
            elems: vec![b"p1".to_vec(), b"p2".to_vec()],
        },
    );
    undo(
        &mut a.s,
        0,
        Undo::ZAdd {
            key: b"z".to_vec(),
            items: vec![(0.1, b"c".to_vec()), (f64::INFINITY, b"d".to_vec())],
        },
    );
    let mut b = T::new();
    replay(&mut b, &a.s.journal.take(), 0);
    for key in ["s", "h", "z", "l", "set"] {
        for line in [format!("DUMP {key}"), format!("PEXPIRETIME {key}")] {
            assert_eq!(show(&a.cmd(&line)), show(&b.cmd(&line)), "{line}");
        }
    }
    a.expect(
        "LRANGE l 0 -1",
        b"*4\r\n$2\r\np1\r\n$2\r\np2\r\n$1\r\nx\r\n$1\r\ny\r\n",
    );
}
