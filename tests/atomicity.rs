//! Multi-shard commands are atomic: a reader never sees an MSET, DEL or MSETNX spread over
//! several shards half done, and overlapping multi-key commands from many clients never
//! deadlock. With 2 and 4 shards (4 shards on this 2-core machine share the cores).

use crate::harness::Server;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// 16 keys spread over the shards (the test fails on a scatter-gather MSET/MGET, which is how
/// it was checked to cover more than one shard).
fn group() -> Vec<String> {
    (0..16).map(|i| format!("acct:{i}")).collect()
}

/// Lets the client threads run for 2 s, stops and joins them; the readers must have made
/// progress.
fn finish(stop: &AtomicBool, handles: Vec<std::thread::JoinHandle<()>>, reads: &AtomicU64) {
    std::thread::sleep(Duration::from_secs(2));
    stop.store(true, Ordering::Relaxed);
    for h in handles {
        h.join().expect("a client thread failed");
    }
    assert!(reads.load(Ordering::Relaxed) > 50, "readers made progress");
}

/// One MGET of `keys`: every value must be the same (or every key missing).
fn mget_all_same(c: &mut redis::Connection, keys: &[String], what: &str) {
    let vals: Vec<Option<String>> = redis::cmd("MGET").arg(keys).query(c).unwrap();
    let first = &vals[0];
    assert!(vals.iter().all(|v| v == first), "MGET saw {what}: {vals:?}");
}

fn mset_never_seen_half_done(shards: usize) {
    let srv = Server::start(shards);
    let keys = group();
    {
        let mut c = srv.client();
        let pairs: Vec<(String, String)> = keys.iter().map(|k| (k.clone(), "0".into())).collect();
        let () = redis::cmd("MSET").arg(&pairs).query(&mut c).unwrap();
    }
    let stop = Arc::new(AtomicBool::new(false));
    let reads = Arc::new(AtomicU64::new(0));
    let mut handles = Vec::new();
    for w in 0..3 {
        let (mut c, keys, stop) = (srv.client(), keys.clone(), stop.clone());
        handles.push(std::thread::spawn(move || {
            let mut i = 0u64;
            while !stop.load(Ordering::Relaxed) {
                i += 1;
                let v = format!("w{w}-{i}");
                if i.is_multiple_of(5) {
                    // All gone at once, then all back.
                    let n: i64 = redis::cmd("DEL").arg(&keys).query(&mut c).unwrap();
                    assert!(
                        n == 0 || n == keys.len() as i64,
                        "DEL removed {n} of the group"
                    );
                }
                let pairs: Vec<(&String, &String)> = keys.iter().map(|k| (k, &v)).collect();
                let () = redis::cmd("MSET").arg(&pairs).query(&mut c).unwrap();
            }
        }));
    }
    for _ in 0..3 {
        let (mut c, keys, stop, reads) = (srv.client(), keys.clone(), stop.clone(), reads.clone());
        handles.push(std::thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                mget_all_same(&mut c, &keys, "a mix of writes");
                let n: i64 = redis::cmd("EXISTS").arg(&keys).query(&mut c).unwrap();
                assert!(n == 0 || n == keys.len() as i64, "EXISTS counted {n}");
                reads.fetch_add(1, Ordering::Relaxed);
            }
        }));
    }
    finish(&stop, handles, &reads);
}

#[test]
fn mset_and_del_are_atomic_two_shards() {
    mset_never_seen_half_done(2);
}

#[test]
fn mset_and_del_are_atomic_four_shards() {
    mset_never_seen_half_done(4);
}

/// Many clients, random overlapping multi-key commands over a small key set, bounded in
/// time: every client finishes (no deadlock), and single-key commands keep being served.
#[test]
fn overlapping_multi_key_commands_never_deadlock() {
    let srv = Server::start(4);
    let deadline = Instant::now() + Duration::from_secs(3);
    let done = Arc::new(AtomicU64::new(0));
    let mut handles = Vec::new();
    for t in 0..12u64 {
        let (mut c, done) = (srv.client(), done.clone());
        // A deadlocked server fails the test instead of hanging it.
        c.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        handles.push(std::thread::spawn(move || {
            let mut x = t * 7919 + 1;
            let mut next = move || {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                x
            };
            while Instant::now() < deadline {
                let n = 2 + next() % 6;
                let keys: Vec<String> = (0..n).map(|_| format!("k{}", next() % 24)).collect();
                match next() % 9 {
                    0 => {
                        let pairs: Vec<(&String, u64)> = keys.iter().map(|k| (k, t)).collect();
                        let () = redis::cmd("MSET").arg(&pairs).query(&mut c).unwrap();
                    }
                    1 => {
                        let _: Vec<Option<String>> =
                            redis::cmd("MGET").arg(&keys).query(&mut c).unwrap();
                    }
                    2 => {
                        let _: i64 = redis::cmd("DEL").arg(&keys).query(&mut c).unwrap();
                    }
                    3 => {
                        let _: i64 = redis::cmd("EXISTS").arg(&keys).query(&mut c).unwrap();
                    }
                    4 => {
                        let _: i64 = redis::cmd("UNLINK").arg(&keys).query(&mut c).unwrap();
                    }
                    5 => {
                        // A transaction over the same keys, some of them watched.
                        let () = redis::cmd("WATCH").arg(&keys[0]).query(&mut c).unwrap();
                        let mut p = redis::pipe();
                        p.atomic();
                        for k in &keys {
                            p.cmd("INCR").arg(k).ignore();
                        }
                        p.cmd("MGET").arg(&keys).ignore();
                        let _: redis::Value = p.query(&mut c).unwrap();
                    }
                    6 => {
                        let _: redis::RedisResult<()> = redis::cmd("RENAME")
                            .arg(&keys[0])
                            .arg(&keys[1])
                            .query(&mut c);
                    }
                    7 => {
                        let pairs: Vec<(&String, u64)> = keys.iter().map(|k| (k, t)).collect();
                        let _: i64 = redis::cmd("MSETNX").arg(&pairs).query(&mut c).unwrap();
                    }
                    _ => {
                        let _: i64 = redis::cmd("INCR").arg(&keys[0]).query(&mut c).unwrap_or(0);
                    }
                }
                done.fetch_add(1, Ordering::Relaxed);
            }
        }));
    }
    let watchdog = Instant::now();
    for h in handles {
        h.join().expect("a client thread failed");
    }
    assert!(
        watchdog.elapsed() < Duration::from_secs(20),
        "clients took {:?} to finish: stuck",
        watchdog.elapsed()
    );
    assert!(done.load(Ordering::Relaxed) > 500, "commands ran");
    let mut c = srv.client();
    let pong: String = redis::cmd("PING").query(&mut c).unwrap();
    assert_eq!(pong, "PONG");
}

/// RENAME across shards moves a key without a moment where it is in both places or in
/// neither: EXISTS of both names (itself atomic) always counts exactly one.
#[test]
fn rename_across_shards_is_atomic() {
    let srv = Server::start(4);
    let pairs: Vec<(String, String)> = (0..8).map(|i| (format!("a{i}"), format!("b{i}"))).collect();
    {
        let mut c = srv.client();
        for (a, _) in &pairs {
            let () = redis::cmd("SET").arg(a).arg("token").query(&mut c).unwrap();
        }
    }
    let stop = Arc::new(AtomicBool::new(false));
    let mut handles = Vec::new();
    for w in 0..2 {
        let (mut c, pairs, stop) = (srv.client(), pairs.clone(), stop.clone());
        handles.push(std::thread::spawn(move || {
            let mut moves = 0u64;
            while !stop.load(Ordering::Relaxed) {
                for (a, b) in &pairs {
                    let (from, to) = if (moves + w).is_multiple_of(2) {
                        (a, b)
                    } else {
                        (b, a)
                    };
                    // Fails with "no such key" when the other writer moved it first.
                    let r: redis::RedisResult<()> =
                        redis::cmd("RENAME").arg(from).arg(to).query(&mut c);
                    moves += r.is_ok() as u64;
                }
            }
            assert!(moves > 0);
        }));
    }
    for _ in 0..2 {
        let (mut c, pairs, stop) = (srv.client(), pairs.clone(), stop.clone());
        handles.push(std::thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                for (a, b) in &pairs {
                    let n: i64 = redis::cmd("EXISTS").arg(a).arg(b).query(&mut c).unwrap();
                    assert_eq!(n, 1, "{a}/{b}: the token is in {n} places");
                }
            }
        }));
    }
    std::thread::sleep(Duration::from_secs(2));
    stop.store(true, Ordering::Relaxed);
    for h in handles {
        h.join().expect("a client thread failed");
    }
}

/// MSETNX across shards: of many clients racing to claim the same group of keys with
/// MSETNX, exactly one wins, and the group holds only its value.
#[test]
fn msetnx_across_shards_has_one_winner() {
    let srv = Server::start(4);
    for round in 0..20 {
        let keys: Vec<String> = (0..8).map(|i| format!("claim{round}:{i}")).collect();
        let wins = Arc::new(AtomicU64::new(0));
        let handles: Vec<_> = (0..6)
            .map(|t| {
                let (mut c, keys, wins) = (srv.client(), keys.clone(), wins.clone());
                std::thread::spawn(move || {
                    let pairs: Vec<(&String, u64)> = keys.iter().map(|k| (k, t)).collect();
                    let won: i64 = redis::cmd("MSETNX").arg(&pairs).query(&mut c).unwrap();
                    wins.fetch_add(won as u64, Ordering::Relaxed);
                })
            })
            .collect();
        for h in handles {
            h.join().unwrap();
        }
        assert_eq!(wins.load(Ordering::Relaxed), 1, "round {round}");
        let mut c = srv.client();
        let vals: Vec<String> = redis::cmd("MGET").arg(&keys).query(&mut c).unwrap();
        assert!(vals.iter().all(|v| v == &vals[0]), "mixed claim: {vals:?}");
    }
}

/// LMOVE and RPOPLPUSH between lists on different shards never lose or duplicate an
/// element: a transaction reading both lengths always counts all of them.
#[test]
fn lmove_across_shards_keeps_every_element() {
    let srv = Server::start(4);
    let lists: Vec<String> = (0..4).map(|i| format!("list{i}")).collect();
    {
        let mut c = srv.client();
        for l in &lists {
            let _: i64 = redis::cmd("RPUSH")
                .arg(l)
                .arg(&["a", "b", "c"])
                .query(&mut c)
                .unwrap();
        }
    }
    let stop = Arc::new(AtomicBool::new(false));
    let mut handles = Vec::new();
    for t in 0..3usize {
        let (mut c, lists, stop) = (srv.client(), lists.clone(), stop.clone());
        handles.push(std::thread::spawn(move || {
            let mut i = t;
            while !stop.load(Ordering::Relaxed) {
                let (from, to) = (&lists[i % 4], &lists[(i + 1 + t) % 4]);
                let _: Option<String> = if i % 2 == 0 {
                    redis::cmd("LMOVE")
                        .arg(from)
                        .arg(to)
                        .arg("LEFT")
                        .arg("RIGHT")
                        .query(&mut c)
                } else {
                    redis::cmd("RPOPLPUSH").arg(from).arg(to).query(&mut c)
                }
                .unwrap();
                i += 1;
            }
        }));
    }
    for _ in 0..2 {
        let (mut c, lists, stop) = (srv.client(), lists.clone(), stop.clone());
        handles.push(std::thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                let mut p = redis::pipe();
                p.atomic();
                for l in &lists {
                    p.cmd("LLEN").arg(l);
                }
                let lens: Vec<i64> = p.query(&mut c).unwrap();
                assert_eq!(lens.iter().sum::<i64>(), 12, "lengths {lens:?}");
            }
        }));
    }
    std::thread::sleep(Duration::from_secs(2));
    stop.store(true, Ordering::Relaxed);
    for h in handles {
        h.join().expect("a client thread failed");
    }
}

/// SMOVE between sets on different shards (the gather path) never loses or duplicates a
/// member, and SUNIONSTORE/SINTERSTORE across shards see each set whole: a union of all
/// four sets always has every member exactly once.
#[test]
fn smove_and_set_stores_across_shards_are_atomic() {
    let srv = Server::start(4);
    let sets: Vec<String> = (0..4).map(|i| format!("set{i}")).collect();
    let all: Vec<String> = (0..12).map(|i| format!("m{i}")).collect();
    {
        let mut c = srv.client();
        for (i, s) in sets.iter().enumerate() {
            let _: i64 = redis::cmd("SADD")
                .arg(s)
                .arg(&all[i * 3..i * 3 + 3])
                .query(&mut c)
                .unwrap();
        }
    }
    let stop = Arc::new(AtomicBool::new(false));
    let mut handles = Vec::new();
    for t in 0..3usize {
        let (mut c, sets, all, stop) = (srv.client(), sets.clone(), all.clone(), stop.clone());
        handles.push(std::thread::spawn(move || {
            let mut i = t;
            while !stop.load(Ordering::Relaxed) {
                let (from, to) = (&sets[i % 4], &sets[(i + 1 + t) % 4]);
                let _: i64 = redis::cmd("SMOVE")
                    .arg(from)
                    .arg(to)
                    .arg(&all[(i * 7) % 12])
                    .query(&mut c)
                    .unwrap();
                i += 1;
            }
        }));
    }
    for r in 0..2usize {
        let (mut c, sets, stop) = (srv.client(), sets.clone(), stop.clone());
        handles.push(std::thread::spawn(move || {
            let dst = format!("union{r}");
            while !stop.load(Ordering::Relaxed) {
                let n: i64 = redis::cmd("SUNIONSTORE")
                    .arg(&dst)
                    .arg(&sets)
                    .query(&mut c)
                    .unwrap();
                assert_eq!(n, 12, "a member was lost or seen twice");
                let cards: i64 = redis::cmd("SINTERCARD")
                    .arg(4)
                    .arg(&sets)
                    .query(&mut c)
                    .unwrap();
                assert_eq!(cards, 0, "a member is in every set at once");
                let mut p = redis::pipe();
                p.atomic();
                for s in &sets {
                    p.cmd("SCARD").arg(s);
                }
                let cards: Vec<i64> = p.query(&mut c).unwrap();
                assert_eq!(cards.iter().sum::<i64>(), 12, "cards {cards:?}");
            }
        }));
    }
    std::thread::sleep(Duration::from_secs(2));
    stop.store(true, Ordering::Relaxed);
    for h in handles {
        h.join().expect("a client thread failed");
    }
}

/// Whole-keyspace commands are atomic across shards: an MGET of keys on every shard never
/// sees SWAPDB done on one shard and not on another, nor FLUSHALL half done, and DBSIZE
/// never counts half a swap. (Before they locked every shard, thousands of 14k reads saw
/// a mix.)
#[test]
fn swapdb_and_flushall_are_atomic_across_shards() {
    let srv = Server::start(2);
    let keys = group();
    let fill = |c: &mut redis::Connection, db: i64, v: &str| {
        let () = redis::cmd("SELECT").arg(db).query(c).unwrap();
        let pairs: Vec<(&String, &str)> = keys.iter().map(|k| (k, v)).collect();
        let () = redis::cmd("MSET").arg(&pairs).query(c).unwrap();
        let () = redis::cmd("SELECT").arg(0).query(c).unwrap();
    };
    {
        let mut c = srv.client();
        fill(&mut c, 0, "zero");
        fill(&mut c, 1, "one");
    }
    let stop = Arc::new(AtomicBool::new(false));
    let reads = Arc::new(AtomicU64::new(0));
    let mut handles = Vec::new();
    {
        let (mut c, stop) = (srv.client(), stop.clone());
        handles.push(std::thread::spawn(move || {
            let mut i = 0u64;
            while !stop.load(Ordering::Relaxed) && i < 200_000 {
                i += 1;
                let () = redis::cmd("SWAPDB").arg(0).arg(1).query(&mut c).unwrap();
            }
        }));
    }
    {
        // Empties db 2 and refills it, whole each time.
        let (mut c, keys, stop) = (srv.client(), keys.clone(), stop.clone());
        handles.push(std::thread::spawn(move || {
            let () = redis::cmd("SELECT").arg(2).query(&mut c).unwrap();
            let mut i = 0u64;
            while !stop.load(Ordering::Relaxed) && i < 200_000 {
                i += 1;
                let pairs: Vec<(&String, &str)> = keys.iter().map(|k| (k, "two")).collect();
                let () = redis::cmd("MSET").arg(&pairs).query(&mut c).unwrap();
                let () = redis::cmd("FLUSHDB").query(&mut c).unwrap();
            }
        }));
    }
    for db in [0, 2] {
        let (mut c, keys, stop, reads) = (srv.client(), keys.clone(), stop.clone(), reads.clone());
        handles.push(std::thread::spawn(move || {
            let () = redis::cmd("SELECT").arg(db).query(&mut c).unwrap();
            while !stop.load(Ordering::Relaxed) {
                mget_all_same(&mut c, &keys, "a whole-keyspace command half done");
                let n: i64 = redis::cmd("DBSIZE").query(&mut c).unwrap();
                assert!(
                    n == 0 || n == keys.len() as i64,
                    "db {db}: DBSIZE counted {n}"
                );
                reads.fetch_add(1, Ordering::Relaxed);
            }
        }));
    }
    finish(&stop, handles, &reads);
}

/// A pipeline's writes land on both sides of a concurrent FLUSHALL only in order: whatever
/// survives is a suffix of the sequence written (a write survives only if every later one
/// does), as with redis-server, which runs a pipeline in order. A guard: on this 2-core
/// machine it did not catch the window the read barrier closes (one read's batches on two
/// shards on both sides of the flush) even on the code before FLUSHALL locked the shards.
#[test]
fn flushall_never_splits_a_pipeline() {
    let srv = Server::start(4);
    let (rounds, per) = (60, 1000);
    let written = Arc::new(AtomicU64::new(0));
    let flusher = {
        let (mut c, written) = (srv.client(), written.clone());
        std::thread::spawn(move || {
            // Flushes while the pipelines run, and stops before the last few rounds so
            // that something survives to be checked.
            let mut n = 0;
            while written.load(Ordering::Relaxed) < (rounds - 4) as u64 && n < 100_000 {
                let () = redis::cmd("FLUSHALL").query(&mut c).unwrap();
                n += 1;
            }
            n
        })
    };
    let mut c = srv.client();
    let key = |r: usize, i: usize| format!("seq:{r}:{i}");
    for r in 0..rounds {
        let mut p = redis::pipe();
        for i in 0..per {
            p.cmd("SET").arg(key(r, i)).arg(1).ignore();
        }
        let () = p.query(&mut c).unwrap();
        written.fetch_add(1, Ordering::Relaxed);
    }
    let flushes = flusher.join().expect("the flusher failed");
    let keys: Vec<String> = (0..rounds)
        .flat_map(|r| (0..per).map(move |i| key(r, i)))
        .collect();
    let mut present = Vec::with_capacity(keys.len());
    for chunk in keys.chunks(1000) {
        let vals: Vec<Option<i64>> = redis::cmd("MGET").arg(chunk).query(&mut c).unwrap();
        present.extend(vals.into_iter().map(|v| v.is_some()));
    }
    let first = present
        .iter()
        .position(|&p| p)
        .expect("the last rounds survive");
    assert!(first > 0 && flushes > 0, "no flush fell among the writes");
    let lost = present[first..].iter().filter(|&&p| !p).count();
    assert_eq!(
        lost, 0,
        "{lost} writes after write {first} (which survived) were flushed"
    );
}
