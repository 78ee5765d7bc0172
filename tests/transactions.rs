//! MULTI/EXEC/WATCH across shards: transfers between accounts spread over every shard never
//! change the total, whether they run as plain MULTI/EXEC blocks or as WATCH-guarded
//! optimistic transactions; and WATCH fails EXEC for every kind of modification Redis counts.
//! (Replies of single-connection sequences are compared with redis-server by the
//! differential tests.)

use crate::harness::{hops, Server};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

const ACCOUNTS: u64 = 16;
const START: i64 = 1000;

fn acct(i: u64) -> String {
    format!("acct:{i}")
}

fn total(c: &mut redis::Connection) -> i64 {
    let keys: Vec<String> = (0..ACCOUNTS).map(acct).collect();
    let vals: Vec<i64> = redis::cmd("MGET").arg(&keys).query(c).unwrap();
    vals.iter().sum()
}

fn rng(seed: u64) -> impl FnMut() -> u64 {
    let mut x = seed * 0x9E37_79B9 + 1;
    move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    }
}

fn bank(shards: usize) {
    let srv = Server::start(shards);
    let mut c = srv.client();
    for i in 0..ACCOUNTS {
        let () = redis::cmd("SET")
            .arg(acct(i))
            .arg(START)
            .query(&mut c)
            .unwrap();
    }
    let want = START * ACCOUNTS as i64;
    let stop = Arc::new(AtomicBool::new(false));
    let committed = Arc::new(AtomicU64::new(0));
    let mut handles = Vec::new();
    // MULTI/EXEC transfers.
    for t in 0..3 {
        let (mut c, stop, committed) = (srv.client(), stop.clone(), committed.clone());
        handles.push(std::thread::spawn(move || {
            let mut next = rng(t + 1);
            while !stop.load(Ordering::Relaxed) {
                let (a, b, x) = (next() % ACCOUNTS, next() % ACCOUNTS, (next() % 50) as i64);
                let (r1, r2): (i64, i64) = redis::pipe()
                    .atomic()
                    .cmd("DECRBY")
                    .arg(acct(a))
                    .arg(x)
                    .cmd("INCRBY")
                    .arg(acct(b))
                    .arg(x)
                    .query(&mut c)
                    .unwrap();
                if a == b {
                    // Both ran, in order, with nothing in between.
                    assert_eq!(r2, r1 + x);
                }
                committed.fetch_add(1, Ordering::Relaxed);
            }
        }));
    }
    // WATCH-guarded optimistic transfers: read, compute, write only if nothing moved.
    for t in 0..2 {
        let (mut c, stop, committed) = (srv.client(), stop.clone(), committed.clone());
        handles.push(std::thread::spawn(move || {
            let mut next = rng(t + 100);
            while !stop.load(Ordering::Relaxed) {
                let (a, b) = (next() % ACCOUNTS, next() % ACCOUNTS);
                if a == b {
                    continue;
                }
                let () = redis::cmd("WATCH")
                    .arg(acct(a))
                    .arg(acct(b))
                    .query(&mut c)
                    .unwrap();
                let va: i64 = redis::cmd("GET").arg(acct(a)).query(&mut c).unwrap();
                let vb: i64 = redis::cmd("GET").arg(acct(b)).query(&mut c).unwrap();
                let x = (next() % 50) as i64;
                let r: Option<((), ())> = redis::pipe()
                    .atomic()
                    .cmd("SET")
                    .arg(acct(a))
                    .arg(va - x)
                    .cmd("SET")
                    .arg(acct(b))
                    .arg(vb + x)
                    .query(&mut c)
                    .unwrap();
                if r.is_some() {
                    committed.fetch_add(1, Ordering::Relaxed);
                }
            }
        }));
    }
    // Readers: the total, read atomically, never changes.
    for _ in 0..2 {
        let (mut c, stop) = (srv.client(), stop.clone());
        handles.push(std::thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                assert_eq!(total(&mut c), want, "money appeared or vanished");
            }
        }));
    }
    std::thread::sleep(Duration::from_secs(2));
    stop.store(true, Ordering::Relaxed);
    for h in handles {
        h.join().expect("a client thread failed");
    }
    assert_eq!(total(&mut c), want);
    assert!(committed.load(Ordering::Relaxed) > 100, "transfers ran");
}

#[test]
fn bank_transfers_conserve_money_two_shards() {
    bank(2);
}

#[test]
fn bank_transfers_conserve_money_four_shards() {
    bank(4);
}

fn exec_after(c: &mut redis::Connection, watch: &[&str], meanwhile: impl FnOnce()) -> bool {
    let () = redis::cmd("WATCH").arg(watch).query(c).unwrap();
    meanwhile();
    let r: Option<(String,)> = redis::pipe().atomic().cmd("PING").query(c).unwrap();
    r.is_some()
}

#[test]
fn watch_sees_every_kind_of_modification() {
    let srv = Server::start(4);
    let mut c = srv.client();
    let mut other = srv.client();
    let mut run = |args: &[&str]| {
        let _: redis::Value = redis::cmd(args[0])
            .arg(&args[1..])
            .query(&mut other)
            .unwrap();
    };
    // Untouched: EXEC runs. Watched keys on several shards.
    run(&["MSET", "w1", "a", "w2", "b", "w3", "c"]);
    assert!(exec_after(&mut c, &["w1", "w2", "w3"], || {}));
    // A write by another client, to any of them.
    assert!(!exec_after(&mut c, &["w1", "w2", "w3"], || run(&[
        "SET", "w2", "x"
    ])));
    // In-place edits and deletes.
    run(&["SET", "n", "1"]);
    assert!(!exec_after(&mut c, &["n"], || run(&["INCR", "n"])));
    assert!(!exec_after(&mut c, &["n"], || run(&["APPEND", "n", "0"])));
    assert!(!exec_after(&mut c, &["n"], || run(&["EXPIRE", "n", "100"])));
    assert!(!exec_after(&mut c, &["n"], || run(&["DEL", "n"])));
    // Creating a watched key that did not exist.
    assert!(!exec_after(&mut c, &["fresh"], || run(&[
        "SET", "fresh", "1"
    ])));
    // A write that changes nothing does not count (SET NX on an existing key).
    assert!(exec_after(&mut c, &["fresh"], || run(&[
        "SET", "fresh", "2", "NX"
    ])));
    // RENAME across shards touches both names.
    run(&["SET", "src", "v"]);
    assert!(!exec_after(&mut c, &["dst"], || run(&[
        "RENAME", "src", "dst"
    ])));
    // FLUSHDB and SWAPDB touch keys that exist.
    assert!(!exec_after(&mut c, &["w1"], || run(&["FLUSHDB"])));
    run(&["SET", "w1", "a"]);
    assert!(!exec_after(&mut c, &["w1"], || run(&["SWAPDB", "0", "1"])));
    // Expiry: a key that expires between WATCH and EXEC fails it.
    run(&["SET", "ttl", "v", "PX", "50"]);
    assert!(!exec_after(&mut c, &["ttl"], || std::thread::sleep(
        Duration::from_millis(120)
    )));
    // The watcher's own write counts too, and UNWATCH forgets.
    let () = redis::cmd("WATCH").arg("own").query(&mut c).unwrap();
    let () = redis::cmd("SET").arg("own").arg("1").query(&mut c).unwrap();
    let r: Option<(String,)> = redis::pipe().atomic().cmd("PING").query(&mut c).unwrap();
    assert!(r.is_none());
    let () = redis::cmd("WATCH").arg("own").query(&mut c).unwrap();
    run(&["SET", "own", "2"]);
    let () = redis::cmd("UNWATCH").query(&mut c).unwrap();
    let r: Option<(String,)> = redis::pipe().atomic().cmd("PING").query(&mut c).unwrap();
    assert!(r.is_some());
}

/// A client that disconnects while watching leaves nothing behind that could fail someone
/// else's EXEC, and a transaction on keys of one shard still works with many shards.
#[test]
fn disconnect_while_watching_and_in_multi() {
    let srv = Server::start(2);
    {
        let mut gone = srv.raw();
        assert_eq!(gone.cmd(&["WATCH", "k1", "k2"]), "+OK\r\n");
        assert_eq!(gone.cmd(&["MULTI"]), "+OK\r\n");
        assert_eq!(gone.cmd(&["SET", "k1", "x"]), "+QUEUED\r\n");
    }
    std::thread::sleep(Duration::from_millis(100));
    let mut c = srv.client();
    let v: Option<String> = redis::cmd("GET").arg("k1").query(&mut c).unwrap();
    assert_eq!(v, None, "a queued command ran without EXEC");
    assert!(exec_after(&mut c, &["k1", "k2"], || {}));
    let r: (String, i64) = redis::pipe()
        .atomic()
        .cmd("SET")
        .arg("{t}a")
        .arg("1")
        .cmd("INCR")
        .arg("{t}a")
        .query(&mut c)
        .unwrap();
    assert_eq!(r, ("OK".into(), 2));
}

/// A transaction whose keys (and watched keys) all live on one other shard runs there in one
/// hop (the general path would take six: WATCH, lock, watch check, the commands, release,
/// UNWATCH).
#[test]
fn one_shard_exec_runs_in_a_single_hop() {
    let srv = Server::start(2);
    let mut raw = srv.raw();
    let (a, b) = (hops(&mut raw), hops(&mut raw));
    let info_cost = b - a;
    // A hash tag that lives on the other core: a GET of it costs a hop.
    let tag = (0..64)
        .map(|i| format!("{{t{i}}}"))
        .find(|t| {
            let before = hops(&mut raw);
            raw.cmd(&["GET", &format!("{t}probe")]);
            hops(&mut raw) - before - info_cost == 1
        })
        .expect("some tag lives on the other shard");
    let k = |s: &str| format!("{tag}{s}");
    let before = hops(&mut raw);
    assert_eq!(raw.cmd(&["WATCH", &k("w")]), "+OK\r\n");
    assert_eq!(raw.cmd(&["MULTI"]), "+OK\r\n");
    assert_eq!(raw.cmd(&["SET", &k("a"), "1"]), "+QUEUED\r\n");
    assert_eq!(raw.cmd(&["INCR", &k("a")]), "+QUEUED\r\n");
    assert_eq!(
        raw.cmd(&["MSET", &k("b"), "x", &k("c"), "y"]),
        "+QUEUED\r\n"
    );
    assert_eq!(raw.cmd(&["EXEC"]), "*3\r\n+OK\r\n:2\r\n+OK\r\n");
    let used = hops(&mut raw) - before - info_cost;
    // WATCH, EXEC, and the UNWATCH after it.
    assert!(used <= 3, "{used} hops for a one-shard transaction");
}
