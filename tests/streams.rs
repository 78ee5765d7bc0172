//! Streams on a sharded server: XREAD and XREADGROUP with BLOCK woken by XADD on any shard,
//! `$` fixed when the client blocks, NOGROUP for a destroyed group, timeouts and MULTI; and
//! consumer groups (PELs, consumers, counters) through the AOF, RDB files and redis-server.

use crate::blocking::{keys_on_every_shard, wait_blocked};
use crate::harness::{Raw, Server};
use std::time::{Duration, Instant};

fn send(r: &mut Raw, argv: &[&str]) {
    let words: Vec<&[u8]> = argv.iter().map(|a| a.as_bytes()).collect();
    let mut buf = Vec::new();
    resp::write_command(&mut buf, &words);
    r.send(&buf);
}

fn entry_reply(key: &str, id: &str, f: &str, v: &str) -> String {
    format!(
        "*1\r\n*2\r\n${}\r\n{key}\r\n*1\r\n*2\r\n${}\r\n{id}\r\n*2\r\n${}\r\n{f}\r\n${}\r\n{v}\r\n",
        key.len(),
        id.len(),
        f.len(),
        v.len()
    )
}

/// XREAD BLOCK on a key of every shard with `$`: an XADD on any one of them wakes the
/// client with that entry alone; entries added before it blocked are not delivered.
fn xread_wakes_across_shards(shards: usize) {
    let srv = Server::start(shards);
    let mut admin = srv.raw();
    let keys = keys_on_every_shard(shards);
    for k in &keys {
        assert_eq!(admin.cmd(&["XADD", k, "1-1", "old", "x"]), "$3\r\n1-1\r\n");
    }
    for (target, k) in keys.iter().enumerate() {
        let mut waiter = srv.raw();
        let mut argv = vec!["XREAD", "BLOCK", "5000", "STREAMS"];
        argv.extend(keys.iter().map(String::as_str));
        argv.extend(std::iter::repeat_n("$", keys.len()));
        send(&mut waiter, &argv);
        wait_blocked(&mut admin, 1);
        let id = format!("{}-1", target + 2);
        admin.cmd(&["XADD", k, &id, "f", "v"]);
        assert_eq!(
            waiter.read_reply(),
            entry_reply(k, &id, "f", "v"),
            "woken by shard {target}"
        );
        wait_blocked(&mut admin, 0);
    }
}

#[test]
fn xread_block_wakes_on_any_shard_two_shards() {
    xread_wakes_across_shards(2);
}

#[test]
fn xread_block_wakes_on_any_shard_four_shards() {
    xread_wakes_across_shards(4);
}

/// XREADGROUP BLOCK with `>`: served by the next XADD, the entry pending for the consumer;
/// with NOACK nothing pending; a group destroyed under a blocked client answers NOGROUP.
#[test]
fn xreadgroup_block_serves_and_fails_as_redis() {
    let srv = Server::start(2);
    let mut admin = srv.raw();
    assert_eq!(
        admin.cmd(&["XGROUP", "CREATE", "jobs", "g", "$", "MKSTREAM"]),
        "+OK\r\n"
    );
    let mut w = srv.raw();
    send(
        &mut w,
        &[
            "XREADGROUP",
            "GROUP",
            "g",
            "alice",
            "BLOCK",
            "5000",
            "STREAMS",
            "jobs",
            ">",
        ],
    );
    wait_blocked(&mut admin, 1);
    admin.cmd(&["XADD", "jobs", "5-1", "job", "a"]);
    assert_eq!(w.read_reply(), entry_reply("jobs", "5-1", "job", "a"));
    assert_eq!(
        admin.cmd(&["XPENDING", "jobs", "g"]),
        "*4\r\n:1\r\n$3\r\n5-1\r\n$3\r\n5-1\r\n*1\r\n*2\r\n$5\r\nalice\r\n$1\r\n1\r\n"
    );
    send(
        &mut w,
        &[
            "XREADGROUP",
            "GROUP",
            "g",
            "bob",
            "NOACK",
            "BLOCK",
            "5000",
            "STREAMS",
            "jobs",
            ">",
        ],
    );
    wait_blocked(&mut admin, 1);
    admin.cmd(&["XADD", "jobs", "6-1", "job", "b"]);
    assert_eq!(w.read_reply(), entry_reply("jobs", "6-1", "job", "b"));
    assert_eq!(
        admin.cmd(&["XPENDING", "jobs", "g"]).lines().nth(1),
        Some(":1")
    );
    // Both consumers exist; the group read both entries.
    let groups = admin.cmd(&["XINFO", "GROUPS", "jobs"]);
    assert!(groups.contains("consumers\r\n:2\r\n"), "{groups}");
    assert!(groups.contains("entries-read\r\n:2\r\n"), "{groups}");
    assert!(groups.contains("lag\r\n:0\r\n"), "{groups}");
    send(
        &mut w,
        &[
            "XREADGROUP",
            "GROUP",
            "g",
            "carol",
            "BLOCK",
            "5000",
            "STREAMS",
            "jobs",
            ">",
        ],
    );
    wait_blocked(&mut admin, 1);
    assert_eq!(admin.cmd(&["XGROUP", "DESTROY", "jobs", "g"]), ":1\r\n");
    assert_eq!(
        w.read_reply(),
        "-NOGROUP the consumer group this client was blocked on no longer exists\r\n"
    );
    wait_blocked(&mut admin, 0);
}

/// A timeout answers a null array; inside MULTI a BLOCK form does not block; XREAD without
/// BLOCK answers at once; a client blocked on one stream is not woken by another key.
#[test]
fn timeouts_multi_and_no_block() {
    let srv = Server::start(2);
    let mut c = srv.raw();
    let t = Instant::now();
    assert_eq!(
        c.cmd(&["XREAD", "BLOCK", "100", "STREAMS", "s", "$"]),
        "*-1\r\n"
    );
    assert!(t.elapsed() >= Duration::from_millis(90));
    assert_eq!(c.cmd(&["XREAD", "STREAMS", "s", "0"]), "*-1\r\n");
    assert_eq!(c.cmd(&["MULTI"]), "+OK\r\n");
    assert_eq!(
        c.cmd(&["XREAD", "BLOCK", "0", "STREAMS", "s", "$"]),
        "+QUEUED\r\n"
    );
    assert_eq!(c.cmd(&["EXEC"]), "*1\r\n*-1\r\n");
    let mut admin = srv.raw();
    send(&mut c, &["XREAD", "BLOCK", "300", "STREAMS", "s", "$"]);
    wait_blocked(&mut admin, 1);
    admin.cmd(&["XADD", "other", "1-1", "f", "v"]);
    assert_eq!(c.read_reply(), "*-1\r\n");
    // RESP3: the reply is a map.
    c.cmd(&["HELLO", "3"]);
    admin.cmd(&["XADD", "s", "1-1", "f", "v"]);
    assert_eq!(
        c.cmd(&["XREAD", "STREAMS", "s", "0"]),
        "%1\r\n$1\r\ns\r\n*1\r\n*2\r\n$3\r\n1-1\r\n*2\r\n$1\r\nf\r\n$1\r\nv\r\n"
    );
}

fn group_state(c: &mut Raw, key: &str) -> Vec<String> {
    vec![
        c.cmd(&["DEBUG", "DIGEST-VALUE", key]),
        c.cmd(&["XINFO", "GROUPS", key]),
        c.cmd(&["XPENDING", key, "g1"]),
        // Idle times differ; the entries pending for bob do not.
        c.cmd(&["XPENDING", key, "g1", "-", "+", "10", "bob"])
            .matches("*4\r\n")
            .count()
            .to_string(),
        c.cmd(&["XINFO", "STREAM", key]),
    ]
}

fn build_groups(c: &mut Raw, key: &str) {
    for i in 1..=300 {
        let id = format!("{i}-1");
        let f = if i % 7 == 0 { "other" } else { "f" };
        c.cmd(&["XADD", key, &id, f, &i.to_string(), "n", "x"]);
    }
    c.cmd(&["XDEL", key, "5-1", "250-1"]);
    c.cmd(&["XGROUP", "CREATE", key, "g1", "0"]);
    c.cmd(&["XGROUP", "CREATE", key, "g2", "$", "ENTRIESREAD", "7"]);
    c.cmd(&[
        "XREADGROUP",
        "GROUP",
        "g1",
        "alice",
        "COUNT",
        "20",
        "STREAMS",
        key,
        ">",
    ]);
    c.cmd(&[
        "XREADGROUP",
        "GROUP",
        "g1",
        "bob",
        "COUNT",
        "5",
        "STREAMS",
        key,
        ">",
    ]);
    c.cmd(&["XCLAIM", key, "g1", "bob", "0", "3-1", "4-1"]);
    c.cmd(&["XACK", key, "g1", "6-1"]);
    c.cmd(&["XGROUP", "CREATECONSUMER", key, "g1", "idle"]);
    c.cmd(&[
        "XREADGROUP",
        "GROUP",
        "g2",
        "carol",
        "NOACK",
        "COUNT",
        "3",
        "STREAMS",
        key,
        ">",
    ]);
}

/// Consumer groups survive the AOF (its journal of XREADGROUP, XCLAIM, XACK, ... replayed
/// on other shard counts), an RDB file, and a trip through redis-server, which loads
/// percore's file and writes one percore loads back.
#[test]
fn consumer_groups_survive_aof_rdb_and_redis_server() {
    let dir = crate::harness::scratch_dir("streams-persist");
    let d = dir.display().to_string();
    let want = {
        let ours = Server::start_with(
            2,
            &[
                "--enable-debug-command",
                "yes",
                "--dir",
                &d,
                "--appendonly",
                "yes",
            ],
        );
        let mut c = ours.raw();
        build_groups(&mut c, "st");
        build_groups(&mut c, "{x}other");
        let want = group_state(&mut c, "st");
        assert_eq!(c.cmd(&["SAVE"]), "+OK\r\n");
        want
    };
    for shards in [1, 3] {
        let ours = Server::start_with(
            shards,
            &[
                "--enable-debug-command",
                "yes",
                "--dir",
                &d,
                "--appendonly",
                "yes",
            ],
        );
        let mut c = ours.raw();
        assert_eq!(
            group_state(&mut c, "st"),
            want,
            "AOF replayed on {shards} shards"
        );
    }
    let ours = Server::start_with(2, &["--enable-debug-command", "yes", "--dir", &d]);
    let mut c = ours.raw();
    assert_eq!(group_state(&mut c, "st"), want, "from the RDB file");
    drop(c);
    drop(ours);
    // redis-server reads any AOF manifest in its dir at start, even with appendonly no, and
    // refuses percore's per-shard one: the file goes to a directory of its own.
    let dir2 = crate::harness::scratch_dir("streams-persist-redis");
    let d = dir2.display().to_string();
    std::fs::copy(dir.join("dump.rdb"), dir2.join("dump.rdb")).expect("copy dump.rdb");
    let redis = Server::redis_with(&["--dir", &d, "--dbfilename", "dump.rdb"]);
    let mut rc = redis.raw();
    assert_eq!(
        group_state(&mut rc, "st"),
        want,
        "redis-server loaded percore's file"
    );
    assert_eq!(rc.cmd(&["SAVE"]), "+OK\r\n");
    drop(rc);
    drop(redis);
    let ours = Server::start_with(3, &["--enable-debug-command", "yes", "--dir", &d]);
    let mut c = ours.raw();
    assert_eq!(
        group_state(&mut c, "st"),
        want,
        "percore loaded redis-server's file"
    );
    let _ = std::fs::remove_dir_all(&dir);
    let _ = std::fs::remove_dir_all(&dir2);
}

/// Several consumers of one group blocked on a stream of another shard: entries added in one
/// transaction go one to each (COUNT 1), none twice, and each is pending for its reader.
#[test]
fn group_consumers_share_entries() {
    let srv = Server::start(4);
    let mut admin = srv.raw();
    assert_eq!(
        admin.cmd(&["XGROUP", "CREATE", "queue", "g", "$", "MKSTREAM"]),
        "+OK\r\n"
    );
    let mut workers: Vec<Raw> = Vec::new();
    for i in 0..4 {
        let mut w = srv.raw();
        let name = format!("w{i}");
        send(
            &mut w,
            &[
                "XREADGROUP",
                "GROUP",
                "g",
                &name,
                "COUNT",
                "1",
                "BLOCK",
                "5000",
                "STREAMS",
                "queue",
                ">",
            ],
        );
        wait_blocked(&mut admin, i + 1);
        workers.push(w);
    }
    admin.cmd(&["MULTI"]);
    for i in 1..=4 {
        admin.cmd(&["XADD", "queue", &format!("{i}-1"), "job", &i.to_string()]);
    }
    admin.cmd(&["EXEC"]);
    // First blocked, first served: worker i gets entry i+1.
    for (i, w) in workers.iter_mut().enumerate() {
        let id = format!("{}-1", i + 1);
        assert_eq!(
            w.read_reply(),
            entry_reply("queue", &id, "job", &(i + 1).to_string())
        );
    }
    wait_blocked(&mut admin, 0);
    let pending = admin.cmd(&["XPENDING", "queue", "g"]);
    assert!(
        pending.starts_with("*4\r\n:4\r\n$3\r\n1-1\r\n$3\r\n4-1\r\n*4\r\n"),
        "{pending}"
    );
    for i in 0..4 {
        let mine = admin.cmd(&["XPENDING", "queue", "g", "-", "+", "10", &format!("w{i}")]);
        assert!(mine.starts_with("*1\r\n*4\r\n"), "w{i}: {mine}");
        assert!(mine.contains(&format!("{}-1", i + 1)), "w{i}: {mine}");
    }
}
