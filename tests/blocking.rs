//! Blocking commands on a sharded server: wake-ups across shards, first-blocked-first-served,
//! exactly-once delivery, timeouts, CLIENT UNBLOCK, disconnects, MULTI, and pushes inside
//! transactions served only after them.

use crate::harness::{Raw, Server};
use std::time::{Duration, Instant};

pub fn blocked_clients(r: &mut Raw) -> usize {
    let info = r.cmd(&["INFO", "clients"]);
    info.lines()
        .find_map(|l| l.strip_prefix("blocked_clients:"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(usize::MAX)
}

/// Waits until `n` clients are blocked (bounded: 5 s).
pub fn wait_blocked(r: &mut Raw, n: usize) {
    let start = Instant::now();
    while blocked_clients(r) != n {
        assert!(
            start.elapsed() < Duration::from_secs(5),
            "expected {n} blocked clients, have {}",
            blocked_clients(r)
        );
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// One key per shard, in shard order (the server maps slots to shards as SlotMap does).
pub fn keys_on_every_shard(shards: usize) -> Vec<String> {
    let map = engine::slot::SlotMap::new(shards);
    (0..shards)
        .map(|s| {
            (0..)
                .map(|i| format!("bk{i}"))
                .find(|k| map.shard_of(k.as_bytes()) == s)
                .expect("some key lands on every shard")
        })
        .collect()
}

fn blpop_wakes_across_shards(shards: usize) {
    let srv = Server::start(shards);
    let mut admin = srv.raw();
    let keys = keys_on_every_shard(shards);
    assert_eq!(keys.len(), shards);
    for target in 0..shards {
        let mut waiter = srv.raw();
        let mut argv: Vec<&str> = vec!["BLPOP"];
        argv.extend(keys.iter().map(|k| k.as_str()));
        argv.push("5");
        let mut buf = Vec::new();
        resp::write_command(
            &mut buf,
            &argv.iter().map(|a| a.as_bytes()).collect::<Vec<_>>(),
        );
        waiter.send(&buf);
        wait_blocked(&mut admin, 1);
        let k = &keys[target];
        assert_eq!(admin.cmd(&["RPUSH", k, "v1", "v2"]), ":2\r\n");
        let reply = waiter.read_reply();
        assert_eq!(
            reply,
            format!("*2\r\n${}\r\n{k}\r\n$2\r\nv1\r\n", k.len()),
            "woken by shard {target}"
        );
        assert_eq!(admin.cmd(&["LRANGE", k, "0", "-1"]), "*1\r\n$2\r\nv2\r\n");
        admin.cmd(&["DEL", k]);
        wait_blocked(&mut admin, 0);
    }
}

#[test]
fn blpop_wakes_on_any_shard_two_shards() {
    blpop_wakes_across_shards(2);
}

#[test]
fn blpop_wakes_on_any_shard_four_shards() {
    blpop_wakes_across_shards(4);
}

/// Clients blocked on one key are served in the order they blocked.
#[test]
fn first_blocked_first_served() {
    let srv = Server::start(2);
    let mut admin = srv.raw();
    let mut waiters: Vec<Raw> = Vec::new();
    for i in 0..4 {
        let mut w = srv.raw();
        let mut buf = Vec::new();
        resp::write_command(&mut buf, &[b"BRPOP", b"fifo", b"5"]);
        w.send(&buf);
        wait_blocked(&mut admin, i + 1);
        waiters.push(w);
    }
    // One push of four elements: each waiter takes one, in blocking order.
    assert_eq!(admin.cmd(&["LPUSH", "fifo", "a", "b", "c", "d"]), ":4\r\n");
    for (w, want) in waiters.iter_mut().zip(["a", "b", "c", "d"]) {
        assert_eq!(
            w.read_reply(),
            format!("*2\r\n$4\r\nfifo\r\n$1\r\n{want}\r\n")
        );
    }
    assert_eq!(admin.cmd(&["EXISTS", "fifo"]), ":0\r\n");
}

/// Many clients blocked on keys spread over four shards, many pushes: every element is
/// delivered exactly once (popped by a client or still in a list), none twice.
#[test]
fn every_element_delivered_exactly_once() {
    let srv = Server::start(4);
    let keys: Vec<String> = (0..6).map(|i| format!("q{i}")).collect();
    let clients = 8;
    let per_client = 25;
    let mut handles = Vec::new();
    for c in 0..clients {
        let port = srv.port;
        let keys = keys.clone();
        handles.push(std::thread::spawn(move || {
            let mut r = Raw::connect(port);
            let mut got = Vec::new();
            for i in 0..per_client {
                // Three keys each, rotating, so clients overlap on different shard sets.
                let mut argv: Vec<String> = vec!["BLPOP".into()];
                for j in 0..3 {
                    argv.push(keys[(c + i + j) % keys.len()].clone());
                }
                argv.push("2".into());
                let words: Vec<&str> = argv.iter().map(|s| s.as_str()).collect();
                let reply = r.cmd(&words);
                if let Some(v) = reply.split("\r\n").nth(4) {
                    got.push(v.to_string());
                }
            }
            got
        }));
    }
    // Four pushers at once, each on its own keys, so that a client blocked on keys of
    // several shards is often made ready by two of them in the same instant.
    let total = clients * per_client;
    let mut pushers = Vec::new();
    for p in 0..4 {
        let port = srv.port;
        let keys = keys.clone();
        pushers.push(std::thread::spawn(move || {
            let mut r = Raw::connect(port);
            for i in (p..total).step_by(4) {
                let k = &keys[(i / 4 + p) % keys.len()];
                r.cmd(&["RPUSH", k, &format!("e{i}")]);
            }
        }));
    }
    for p in pushers {
        p.join().expect("pusher thread");
    }
    let mut pusher = srv.raw();
    let mut seen: Vec<String> = Vec::new();
    for h in handles {
        seen.extend(h.join().expect("client thread"));
    }
    for k in &keys {
        let reply = pusher.cmd(&["LRANGE", k, "0", "-1"]);
        let items: Vec<&str> = reply.split("\r\n").skip(2).step_by(2).collect();
        seen.extend(
            items
                .into_iter()
                .filter(|s| !s.is_empty())
                .map(String::from),
        );
    }
    seen.sort();
    let mut want: Vec<String> = (0..total).map(|i| format!("e{i}")).collect();
    want.sort();
    assert_eq!(seen, want, "an element was lost or delivered twice");
}

#[test]
fn timeouts_unblock_and_disconnects() {
    let srv = Server::start(2);
    let mut admin = srv.raw();
    let mut r = srv.raw();
    // Fractional timeout: nil after about 200 ms.
    let t = Instant::now();
    assert_eq!(r.cmd(&["BLPOP", "none", "0.2"]), "*-1\r\n");
    let took = t.elapsed();
    assert!(
        took >= Duration::from_millis(190) && took < Duration::from_secs(2),
        "{took:?}"
    );
    assert_eq!(
        r.cmd(&["BLMOVE", "none", "x", "LEFT", "LEFT", "0.05"]),
        "$-1\r\n"
    );
    assert_eq!(r.cmd(&["BZPOPMIN", "none", "0.05"]), "*-1\r\n");
    assert_eq!(
        r.cmd(&["BLPOP", "none", "-1"]),
        "-ERR timeout is negative\r\n"
    );
    assert_eq!(
        r.cmd(&["BLPOP", "none", "x"]),
        "-ERR timeout is not a float or out of range\r\n"
    );
    // CLIENT UNBLOCK, as a timeout and as an error.
    let id = r
        .cmd(&["CLIENT", "ID"])
        .trim_start_matches(':')
        .trim()
        .to_string();
    for (how, want) in [
        ("TIMEOUT", "*-1\r\n"),
        (
            "ERROR",
            "-UNBLOCKED client unblocked via CLIENT UNBLOCK\r\n",
        ),
    ] {
        let mut buf = Vec::new();
        resp::write_command(&mut buf, &[b"BLPOP", b"none", b"0"]);
        r.send(&buf);
        wait_blocked(&mut admin, 1);
        assert_eq!(admin.cmd(&["CLIENT", "UNBLOCK", &id, how]), ":1\r\n");
        assert_eq!(r.read_reply(), want);
        wait_blocked(&mut admin, 0);
    }
    assert_eq!(admin.cmd(&["CLIENT", "UNBLOCK", &id]), ":0\r\n");
    // A client that goes away while blocked takes nothing with it.
    {
        let mut gone = srv.raw();
        let mut buf = Vec::new();
        resp::write_command(&mut buf, &[b"BLPOP", b"kept", b"0"]);
        gone.send(&buf);
        wait_blocked(&mut admin, 1);
    }
    wait_blocked(&mut admin, 0);
    assert_eq!(admin.cmd(&["RPUSH", "kept", "x"]), ":1\r\n");
    assert_eq!(admin.cmd(&["LLEN", "kept"]), ":1\r\n");
    // Commands pipelined behind a blocking one wait for it, then run in order.
    let mut buf = Vec::new();
    resp::write_command(&mut buf, &[b"BLPOP", b"pipe", b"0"]);
    resp::write_command(&mut buf, &[b"PING"]);
    resp::write_command(&mut buf, &[b"LLEN", b"pipe"]);
    r.send(&buf);
    wait_blocked(&mut admin, 1);
    admin.cmd(&["RPUSH", "pipe", "a", "b"]);
    assert_eq!(r.read_reply(), "*2\r\n$4\r\npipe\r\n$1\r\na\r\n");
    assert_eq!(r.read_reply(), "+PONG\r\n");
    assert_eq!(r.read_reply(), ":1\r\n");
}

/// Inside MULTI a blocking command does not block; pushes inside MULTI/EXEC serve blocked
/// clients only once the transaction has run (so EXEC's own LPOP sees its own push first).
#[test]
fn transactions_and_blocking() {
    for shards in [1, 2, 4] {
        let srv = Server::start(shards);
        let mut admin = srv.raw();
        let mut r = srv.raw();
        assert_eq!(r.cmd(&["MULTI"]), "+OK\r\n");
        assert_eq!(r.cmd(&["BLPOP", "empty", "0"]), "+QUEUED\r\n");
        assert_eq!(r.cmd(&["BZPOPMAX", "empty", "0"]), "+QUEUED\r\n");
        assert_eq!(r.cmd(&["EXEC"]), "*2\r\n*-1\r\n*-1\r\n");
        // The other key on t's shard (the one-shard EXEC path) or on another shard (EXEC
        // holding key locks).
        let map = engine::slot::SlotMap::new(shards);
        let far = (0..)
            .map(|i| format!("u{i}"))
            .find(|k| shards == 1 || map.shard_of(k.as_bytes()) != map.shard_of(b"t"))
            .unwrap_or_default();
        for keys in [["t", "{t}u"], ["t", far.as_str()]] {
            let mut waiter = srv.raw();
            let mut buf = Vec::new();
            resp::write_command(&mut buf, &[b"BLPOP", b"t", b"0"]);
            waiter.send(&buf);
            wait_blocked(&mut admin, 1);
            r.cmd(&["MULTI"]);
            r.cmd(&["RPUSH", keys[0], "a", "b"]);
            r.cmd(&["SET", keys[1], "x"]);
            r.cmd(&["DEL", keys[1]]);
            r.cmd(&["LPOP", "t"]);
            let exec = r.cmd(&["EXEC"]);
            assert!(
                exec.ends_with("$1\r\na\r\n"),
                "shards={shards} {keys:?}: {exec:?}"
            );
            assert_eq!(
                waiter.read_reply(),
                "*2\r\n$1\r\nt\r\n$1\r\nb\r\n",
                "shards={shards} {keys:?}"
            );
            wait_blocked(&mut admin, 0);
        }
    }
}

/// BLMOVE, BLMPOP, BZPOPMIN, BZMPOP woken across shards.
#[test]
fn other_blocking_commands() {
    let srv = Server::start(4);
    let mut admin = srv.raw();
    let run = |argv: &[&str], push: &[&str], want: &str| {
        let mut w = srv.raw();
        let mut admin = srv.raw();
        let mut buf = Vec::new();
        let words: Vec<&[u8]> = argv.iter().map(|a| a.as_bytes()).collect();
        resp::write_command(&mut buf, &words);
        w.send(&buf);
        wait_blocked(&mut admin, 1);
        admin.cmd(push);
        assert_eq!(w.read_reply(), want, "{argv:?}");
        wait_blocked(&mut admin, 0);
    };
    run(
        &["BLMOVE", "src", "dst", "RIGHT", "LEFT", "5"],
        &["RPUSH", "src", "a", "b"],
        "$1\r\nb\r\n",
    );
    assert_eq!(
        admin.cmd(&["LRANGE", "dst", "0", "-1"]),
        "*1\r\n$1\r\nb\r\n"
    );
    assert_eq!(
        admin.cmd(&["LRANGE", "src", "0", "-1"]),
        "*1\r\n$1\r\na\r\n"
    );
    run(
        &["BRPOPLPUSH", "src2", "dst", "5"],
        &["RPUSH", "src2", "c"],
        "$1\r\nc\r\n",
    );
    assert_eq!(admin.cmd(&["LINDEX", "dst", "0"]), "$1\r\nc\r\n");
    run(
        &["BLMPOP", "5", "2", "m1", "m2", "LEFT", "COUNT", "2"],
        &["RPUSH", "m2", "x", "y", "z"],
        "*2\r\n$2\r\nm2\r\n*2\r\n$1\r\nx\r\n$1\r\ny\r\n",
    );
    run(
        &["BZPOPMIN", "z1", "z2", "5"],
        &["ZADD", "z2", "2", "b", "1", "a"],
        "*3\r\n$2\r\nz2\r\n$1\r\na\r\n$1\r\n1\r\n",
    );
    run(
        &["BZMPOP", "5", "2", "z3", "z4", "MAX", "COUNT", "5"],
        &["ZADD", "z4", "2", "b", "1", "a"],
        "*2\r\n$2\r\nz4\r\n*2\r\n*2\r\n$1\r\nb\r\n$1\r\n2\r\n*2\r\n$1\r\na\r\n$1\r\n1\r\n",
    );
    // A waiter for a list is not served by a sorted set, and keeps waiting.
    let mut w = srv.raw();
    let mut buf = Vec::new();
    resp::write_command(&mut buf, &[b"BLPOP", b"typed", b"5"]);
    w.send(&buf);
    wait_blocked(&mut admin, 1);
    admin.cmd(&["ZADD", "typed", "1", "a"]);
    std::thread::sleep(Duration::from_millis(50));
    assert_eq!(blocked_clients(&mut admin), 1);
    admin.cmd(&["DEL", "typed"]);
    admin.cmd(&["RPUSH", "typed", "v"]);
    assert_eq!(w.read_reply(), "*2\r\n$5\r\ntyped\r\n$1\r\nv\r\n");
}

/// A client blocked on keys of two shards that a transaction fills at once gets exactly one
/// element; the other stays in its list.
#[test]
fn two_shards_waking_one_client_serve_it_once() {
    let srv = Server::start(2);
    let keys = keys_on_every_shard(2);
    let mut admin = srv.raw();
    let mut w = srv.raw();
    for round in 0..100 {
        let mut buf = Vec::new();
        resp::write_command(
            &mut buf,
            &[b"BLPOP", keys[0].as_bytes(), keys[1].as_bytes(), b"5"],
        );
        w.send(&buf);
        wait_blocked(&mut admin, 1);
        let mut tx = Vec::new();
        resp::write_command(&mut tx, &[b"MULTI"]);
        resp::write_command(&mut tx, &[b"RPUSH", keys[0].as_bytes(), b"a"]);
        resp::write_command(&mut tx, &[b"RPUSH", keys[1].as_bytes(), b"b"]);
        resp::write_command(&mut tx, &[b"EXEC"]);
        admin.send(&tx);
        for _ in 0..4 {
            admin.read_reply();
        }
        let got = w.read_reply();
        assert!(got.starts_with("*2\r\n"), "round {round}: {got:?}");
        wait_blocked(&mut admin, 0);
        let left: i64 = [&keys[0], &keys[1]]
            .iter()
            .map(|k| {
                admin
                    .cmd(&["LLEN", k])
                    .trim_start_matches(':')
                    .trim()
                    .parse::<i64>()
                    .unwrap_or(-1)
            })
            .sum();
        assert_eq!(left, 1, "round {round}: one element must remain");
        admin.cmd(&["DEL", &keys[0], &keys[1]]);
    }
}
