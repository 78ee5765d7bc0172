//! The per-shard AOF against what Redis promises: SIGKILL loses no acknowledged write under
//! `appendfsync always` (and about a second under `everysec`), never leaves a multi-shard
//! operation half applied, a cut tail is dropped (or refused), rewrites under load lose
//! nothing, and redis-server's own appendonlydir loads.

use crate::harness::{free_port, scratch_dir, Raw, Server, BIN};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

fn info_field(c: &mut Raw, field: &str) -> String {
    crate::harness::info_field(c, "persistence", field)
}

/// Two keys on different shards of a 2-shard server (slots split in half).
fn cross_pair(i: usize) -> (String, String) {
    let map = engine::slot::SlotMap::new(2);
    let a = format!("a{i}");
    let mut j = 0;
    loop {
        let b = format!("b{i}-{j}");
        if map.shard_of(b.as_bytes()) != map.shard_of(a.as_bytes()) {
            return (a, b);
        }
        j += 1;
    }
}

fn int(reply: &str) -> i64 {
    reply
        .trim_start_matches([':', '$'])
        .lines()
        .last()
        .and_then(|l| l.trim().parse().ok())
        .unwrap_or(0)
}

/// What the writers saw acknowledged, and when.
#[derive(Default)]
struct Acked {
    counters: Vec<i64>,
    pushes: i64,
    /// The last MSET value acknowledged per pair.
    pairs: Vec<i64>,
    /// (time, acknowledged INCRs so far) samples.
    history: Vec<(Instant, i64)>,
}

/// Writes INCRs on keys of both shards, cross-shard MSETs of one value to a pair, and
/// LPUSHes, from three connections, until `stop`; returns what was acknowledged.
fn write_load(port: u16, stop: Arc<AtomicBool>) -> std::thread::JoinHandle<Acked> {
    std::thread::spawn(move || {
        let mut incr = Raw::connect(port);
        let mut mset = Raw::connect(port);
        let mut push = Raw::connect(port);
        let mut acked = Acked {
            counters: vec![0; 8],
            pairs: vec![0; 4],
            ..Default::default()
        };
        let pairs: Vec<(String, String)> = (0..4).map(cross_pair).collect();
        let started = Instant::now();
        let mut n = 0i64;
        while !stop.load(Ordering::Relaxed) && started.elapsed() < Duration::from_secs(20) {
            n += 1;
            let k = (n % 8) as usize;
            match incr.try_cmd(&["INCR", &format!("counter{k}")]) {
                Some(r) if r.starts_with(':') => acked.counters[k] += 1,
                _ => break,
            }
            let p = (n % 4) as usize;
            let (a, b) = &pairs[p];
            match mset.try_cmd(&["MSET", a, &n.to_string(), b, &n.to_string()]) {
                Some(r) if r.starts_with('+') => acked.pairs[p] = n,
                _ => break,
            }
            match push.try_cmd(&["LPUSH", "list", &n.to_string()]) {
                Some(r) if r.starts_with(':') => acked.pushes += 1,
                _ => break,
            }
            if n % 50 == 0 {
                acked
                    .history
                    .push((Instant::now(), acked.counters.iter().sum()));
            }
        }
        acked
    })
}

impl Raw {
    /// A command whose connection may die under it (the server was killed).
    fn try_cmd(&mut self, args: &[&str]) -> Option<String> {
        let argv: Vec<&[u8]> = args.iter().map(|a| a.as_bytes()).collect();
        let mut buf = Vec::new();
        resp::write_command(&mut buf, &argv);
        use std::io::Write;
        self.stream.write_all(&buf).ok()?;
        self.try_read_reply()
    }
}

/// Starts percore on `dir` with the AOF on (kept by the caller across restarts).
fn start(dir: &std::path::Path, shards: usize, extra: &[&str]) -> Server {
    let d = dir.display().to_string();
    let mut args = vec!["--dir", &d, "--appendonly", "yes"];
    args.extend_from_slice(extra);
    Server::start_with(shards, &args)
}

/// Checks the dataset after a restart against what was acknowledged: returns how many
/// acknowledged INCRs are missing (always 0 under `always`).
fn check_after_restart(c: &mut Raw, acked: &Acked) -> i64 {
    let mut missing = 0;
    for (k, &n) in acked.counters.iter().enumerate() {
        let have = int(&c.cmd(&["GET", &format!("counter{k}")]));
        missing += (n - have).max(0);
    }
    for (p, &n) in acked.pairs.iter().enumerate() {
        let (a, b) = cross_pair(p);
        let (va, vb) = (c.cmd(&["GET", &a]), c.cmd(&["GET", &b]));
        assert_eq!(va, vb, "a cross-shard MSET is half applied ({a}, {b})");
        assert!(int(&va) >= n || n == 0, "pair {p}: {va:?} < acked {n}");
    }
    let len = int(&c.cmd(&["LLEN", "list"]));
    missing += (acked.pushes - len).max(0);
    missing
}

#[test]
fn sigkill_under_always_loses_no_acknowledged_write() {
    let dir = scratch_dir("aof-kill");
    for round in 0..2 {
        let ours = start(&dir, 2, &["--appendfsync", "always"]);
        let stop = Arc::new(AtomicBool::new(false));
        let load = write_load(ours.port, stop.clone());
        std::thread::sleep(Duration::from_millis(700));
        drop(ours); // SIGKILL mid-load
        stop.store(true, Ordering::Relaxed);
        let acked = load.join().expect("writer");
        assert!(acked.pushes > 10, "the load ran ({} pushes)", acked.pushes);
        let ours = start(&dir, 2, &["--appendfsync", "always"]);
        let mut c = ours.raw();
        assert_eq!(
            check_after_restart(&mut c, &acked),
            0,
            "round {round}: acknowledged writes lost"
        );
        // Start over for the next round.
        c.cmd(&["FLUSHALL"]);
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn sigkill_under_everysec_loses_at_most_about_a_second() {
    let dir = scratch_dir("aof-everysec");
    let ours = start(&dir, 2, &[]);
    let stop = Arc::new(AtomicBool::new(false));
    let load = write_load(ours.port, stop.clone());
    std::thread::sleep(Duration::from_millis(2500));
    let killed = Instant::now();
    drop(ours);
    stop.store(true, Ordering::Relaxed);
    let acked = load.join().expect("writer");
    let ours = start(&dir, 2, &[]);
    let mut c = ours.raw();
    // Everything acknowledged up to two seconds before the kill is there.
    let floor = acked
        .history
        .iter()
        .filter(|(t, _)| killed.duration_since(*t) >= Duration::from_secs(2))
        .map(|&(_, n)| n)
        .max()
        .unwrap_or(0);
    let have: i64 = (0..8)
        .map(|k| int(&c.cmd(&["GET", &format!("counter{k}")])))
        .sum();
    assert!(
        have >= floor,
        "{have} INCRs kept, {floor} acknowledged 2 s before"
    );
    // No multi-shard write half applied.
    for p in 0..4 {
        let (a, b) = cross_pair(p);
        assert_eq!(c.cmd(&["GET", &a]), c.cmd(&["GET", &b]));
    }
    drop(ours);
    let _ = std::fs::remove_dir_all(&dir);
}

/// The increment files of a shard, last one last.
fn incr_files(dir: &std::path::Path, shard: usize) -> Vec<std::path::PathBuf> {
    let m = std::fs::read_to_string(dir.join("appendonlydir/appendonly.aof.manifest"))
        .expect("manifest");
    m.lines()
        .filter(|l| l.contains(" type i") && l.ends_with(&format!("shard {shard}")))
        .map(|l| {
            dir.join("appendonlydir")
                .join(l.split(' ').nth(1).unwrap_or(""))
        })
        .collect()
}

#[test]
fn a_cut_tail_is_dropped_or_refused() {
    let dir = scratch_dir("aof-cut");
    {
        let ours = start(&dir, 1, &[]);
        let mut c = ours.raw();
        c.cmd(&["SET", "kept", "1"]);
        c.cmd(&["RPUSH", "l", "a", "b"]);
    }
    let last = incr_files(&dir, 0).pop().expect("an increment file");
    let whole = std::fs::read(&last).expect("read");
    let mut cut = whole.clone();
    cut.extend_from_slice(b"*3\r\n$3\r\nSET\r\n$4\r\nlost\r\n$1");
    std::fs::write(&last, &cut).expect("write");
    // aof-load-truncated no: the start stops with Redis' message.
    let d = dir.display().to_string();
    let port = free_port().to_string();
    let out = std::process::Command::new(BIN)
        .args(["--port", &port, "--bind", "127.0.0.1", "--dir", &d])
        .args([
            "--appendonly",
            "yes",
            "--aof-load-truncated",
            "no",
            "--shards",
            "1",
        ])
        .output()
        .expect("run percore-server");
    let log =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{log}");
    assert!(log.contains("Unexpected end of file"), "{log}");
    // The default: loaded, the cut command dropped and the file truncated to its last
    // whole command.
    let ours = start(&dir, 1, &[]);
    let mut c = ours.raw();
    assert_eq!(c.cmd(&["GET", "kept"]), "$1\r\n1\r\n");
    assert_eq!(c.cmd(&["GET", "lost"]), "$-1\r\n");
    assert_eq!(c.cmd(&["LLEN", "l"]), ":2\r\n");
    assert_eq!(std::fs::read(&last).expect("read"), whole);
    // Garbage in the middle is a bad format: refused whatever aof-load-truncated says.
    drop(ours);
    let mut bad = b"hello\r\n".to_vec();
    bad.extend_from_slice(&whole);
    std::fs::write(&last, &bad).expect("write");
    let out = std::process::Command::new(BIN)
        .args(["--port", &port, "--bind", "127.0.0.1", "--dir", &d])
        .args(["--appendonly", "yes", "--shards", "1"])
        .output()
        .expect("run percore-server");
    let log =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && log.contains("Bad file format"),
        "{log}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// A multi-shard operation whose commit never reached the file is not applied on any
/// shard, even where its piece is whole.
#[test]
fn an_uncommitted_multi_shard_piece_is_not_applied() {
    let dir = scratch_dir("aof-commit");
    let (a, b) = cross_pair(0);
    {
        let ours = start(&dir, 2, &[]);
        let mut c = ours.raw();
        assert_eq!(c.cmd(&["MSET", &a, "1", &b, "1"]), "+OK\r\n");
        // The second operation: a transaction over both shards (the connection's own shard
        // runs its piece inline).
        c.cmd(&["MULTI"]);
        c.cmd(&["SET", &a, "2"]);
        c.cmd(&["SET", &b, "2"]);
        assert_eq!(c.cmd(&["EXEC"]), "*2\r\n+OK\r\n+OK\r\n");
    }
    // Remove the second operation's commit, as if the coordinator died before writing it.
    let mut commits = 0;
    for shard in 0..2 {
        for f in incr_files(&dir, shard) {
            let text = std::fs::read(&f).expect("read");
            let s = String::from_utf8_lossy(&text).into_owned();
            let ids: Vec<&str> = s.lines().filter_map(|l| l.strip_prefix("#TXC ")).collect();
            commits += ids.len();
            if let Some(last) = ids.last() {
                let cut = s.replace(&format!("#TXC {last}\r\n"), "");
                std::fs::write(&f, cut).expect("write");
            }
        }
    }
    assert_eq!(commits, 2, "each cross-shard operation committed once");
    let ours = start(&dir, 2, &[]);
    let mut c = ours.raw();
    assert_eq!(c.cmd(&["MGET", &a, &b]), "*2\r\n$1\r\n1\r\n$1\r\n1\r\n");
    drop(ours);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn rewrites_under_load_lose_nothing() {
    let dir = scratch_dir("aof-rewrite");
    let ours = start(&dir, 2, &["--appendfsync", "always"]);
    let stop = Arc::new(AtomicBool::new(false));
    let load = write_load(ours.port, stop.clone());
    let mut c = ours.raw();
    let mut rewrites = 0;
    let deadline = Instant::now() + Duration::from_secs(10);
    while rewrites < 3 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(200));
        let reply = c.cmd(&["BGREWRITEAOF"]);
        assert!(
            reply.starts_with("+Background append only file rewriting"),
            "{reply}"
        );
        while info_field(&mut c, "aof_rewrite_in_progress") == "1" {
            std::thread::sleep(Duration::from_millis(20));
        }
        rewrites += 1;
    }
    assert_eq!(info_field(&mut c, "aof_last_bgrewrite_status"), "ok");
    stop.store(true, Ordering::Relaxed);
    let acked = load.join().expect("writer");
    // Only the new files are left, and the manifest names them.
    let files: Vec<String> = std::fs::read_dir(dir.join("appendonlydir"))
        .expect("dir")
        .filter_map(|e| e.ok().map(|e| e.file_name().to_string_lossy().into_owned()))
        .collect();
    assert_eq!(files.len(), 5, "{files:?}");
    drop(ours);
    let ours = start(&dir, 2, &[]);
    let mut c = ours.raw();
    assert_eq!(check_after_restart(&mut c, &acked), 0);
    drop(ours);
    let _ = std::fs::remove_dir_all(&dir);
}

/// A redis-server 7.0 appendonlydir (RDB-preamble base after a rewrite, then increments)
/// loads into percore: the same dataset.
#[test]
fn redis_servers_appendonlydir_loads() {
    let dir = scratch_dir("aof-from-redis");
    let d = dir.display().to_string();
    let want = {
        // always: under everysec redis-server may postpone its writes (up to 2 s) while a
        // background fsync runs, as one does right after the rewrite; the kill would lose
        // them.
        let redis = Server::redis_with(&[
            "--appendonly",
            "yes",
            "--appendfsync",
            "always",
            "--dir",
            &d,
        ]);
        let mut c = redis.raw();
        for i in 0..200 {
            c.cmd(&["SET", &format!("k{i}"), &i.to_string()]);
        }
        c.cmd(&["RPUSH", "l", "a", "b", "c"]);
        c.cmd(&["BGREWRITEAOF"]);
        std::thread::sleep(Duration::from_millis(300));
        c.cmd(&["HSET", "h", "f", "v"]);
        c.cmd(&["INCRBYFLOAT", "k1", "0.5"]);
        c.cmd(&["SELECT", "3"]);
        c.cmd(&["SADD", "s", "x", "y"]);
        c.cmd(&["EXPIRE", "s", "1000"]);
        c.cmd(&["DEBUG", "DIGEST"])
    };
    let ours = start(&dir, 2, &["--enable-debug-command", "yes"]);
    let mut c = ours.raw();
    assert_eq!(c.cmd(&["DEBUG", "DIGEST"]), want);
    // Rewritten in percore's layout at once: a restart reads that.
    assert!(
        std::fs::read_to_string(dir.join("appendonlydir/appendonly.aof.manifest"))
            .expect("manifest")
            .contains("shard 1")
    );
    drop(ours);
    let ours = start(&dir, 2, &["--enable-debug-command", "yes"]);
    assert_eq!(ours.raw().cmd(&["DEBUG", "DIGEST"]), want);
    drop(ours);
    let _ = std::fs::remove_dir_all(&dir);
}

/// CONFIG SET appendonly yes starts the AOF with a rewrite (the data already there is in its
/// base); no stops it; INFO says which.
#[test]
fn config_set_appendonly_at_runtime() {
    let dir = scratch_dir("aof-config");
    let d = dir.display().to_string();
    let ours = Server::start_with(2, &["--dir", &d, "--enable-debug-command", "yes"]);
    let mut c = ours.raw();
    assert_eq!(info_field(&mut c, "aof_enabled"), "0");
    for i in 0..100 {
        c.cmd(&["SET", &format!("k{i}"), "v"]);
    }
    assert_eq!(c.cmd(&["CONFIG", "SET", "appendonly", "yes"]), "+OK\r\n");
    assert_eq!(info_field(&mut c, "aof_enabled"), "1");
    let deadline = Instant::now() + Duration::from_secs(10);
    while info_field(&mut c, "aof_rewrites") != "1" && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    c.cmd(&["SET", "after", "1"]);
    assert!(int(&info_field(&mut c, "aof_current_size").to_string()) > 0);
    let digest = c.cmd(&["DEBUG", "DIGEST"]);
    drop(c);
    drop(ours);
    let ours = start(&dir, 2, &["--enable-debug-command", "yes"]);
    let mut c = ours.raw();
    assert_eq!(c.cmd(&["DEBUG", "DIGEST"]), digest);
    assert_eq!(c.cmd(&["CONFIG", "SET", "appendonly", "no"]), "+OK\r\n");
    assert_eq!(info_field(&mut c, "aof_enabled"), "0");
    c.cmd(&["SET", "unjournaled", "1"]);
    drop(c);
    drop(ours);
    let ours = start(&dir, 2, &[]);
    assert_eq!(ours.raw().cmd(&["GET", "unjournaled"]), "$-1\r\n");
    drop(ours);
    let _ = std::fs::remove_dir_all(&dir);
}

/// aof-use-rdb-preamble no: bases are commands (what redis-server writes then), which
/// redis-check-aof accepts and redis-server loads into the same dataset; percore restarts
/// from them too.
#[test]
fn command_form_bases() {
    let dir = scratch_dir("aof-commands");
    let extra = [
        "--aof-use-rdb-preamble",
        "no",
        "--enable-debug-command",
        "yes",
    ];
    let ours = start(&dir, 2, &extra);
    let mut c = ours.raw();
    for i in 0..150 {
        c.cmd(&["RPUSH", "list", &format!("e{i}")]);
        c.cmd(&["SADD", "ints", &i.to_string()]);
        c.cmd(&["SADD", "words", &format!("w{i}")]);
        c.cmd(&["ZADD", "z", &format!("{}.25", i), &format!("m{i}")]);
        c.cmd(&["HSET", "h", &format!("f{i}"), &format!("v{i}")]);
        c.cmd(&["SET", &format!("s{i}"), &i.to_string()]);
    }
    c.cmd(&["ZADD", "z", "inf", "top", "-0.1", "low"]);
    c.cmd(&["SELECT", "2"]);
    c.cmd(&["SET", "later", "x", "PX", "100000000"]);
    c.cmd(&["SELECT", "0"]);
    assert!(c.cmd(&["BGREWRITEAOF"]).starts_with("+Background"));
    // The start's rewrite (the AOF began with no files) was the first.
    let deadline = Instant::now() + Duration::from_secs(10);
    while info_field(&mut c, "aof_rewrites") != "2" && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    let want = c.cmd(&["DEBUG", "DIGEST"]);
    drop(c);
    drop(ours);
    let bases: Vec<std::path::PathBuf> = std::fs::read_dir(dir.join("appendonlydir"))
        .expect("dir")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.to_string_lossy().ends_with(".base.aof"))
        .collect();
    assert_eq!(bases.len(), 2, "{bases:?}");
    let check = crate::harness::which("redis-check-aof").expect("redis-check-aof installed");
    let rdir = scratch_dir("aof-commands-redis");
    let mut all = Vec::new();
    for b in &bases {
        let bytes = std::fs::read(b).expect("read base");
        assert!(bytes.starts_with(b"*"), "a command file");
        let out = std::process::Command::new(&check)
            .arg(b)
            .output()
            .expect("redis-check-aof runs");
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success() && text.contains("is valid"), "{text}");
        all.extend_from_slice(&bytes);
    }
    // Both shards' bases back to back are one keyspace's commands.
    std::fs::write(rdir.join("appendonly.aof"), &all).expect("write");
    let r = rdir.display().to_string();
    let redis = Server::redis_with(&["--appendonly", "yes", "--dir", &r]);
    assert_eq!(redis.raw().cmd(&["DEBUG", "DIGEST"]), want);
    drop(redis);
    let ours = start(&dir, 2, &extra);
    assert_eq!(ours.raw().cmd(&["DEBUG", "DIGEST"]), want);
    drop(ours);
    let _ = std::fs::remove_dir_all(&dir);
    let _ = std::fs::remove_dir_all(&rdir);
}

/// What the files replay is what was written: nothing expires during the replay (a key
/// written with a TTL then appended to stays one key that has expired, not a new key
/// without one), and after a rewrite the new increment starts with its own SELECT.
#[test]
fn replay_keeps_expiry_and_databases() {
    let dir = scratch_dir("aof-expiry");
    {
        let ours = start(&dir, 1, &[]);
        let mut c = ours.raw();
        c.cmd(&["SET", "k", "v", "PX", "1200"]);
        c.cmd(&["APPEND", "k", "x"]);
        c.cmd(&["SELECT", "1"]);
        c.cmd(&["SET", "in1", "a"]);
        assert!(c.cmd(&["BGREWRITEAOF"]).starts_with("+Background"));
        let deadline = Instant::now() + Duration::from_secs(10);
        while info_field(&mut c, "aof_rewrites") != "2" && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
        }
        c.cmd(&["SET", "in1-after", "b"]);
    }
    std::thread::sleep(Duration::from_millis(1300));
    let ours = start(&dir, 1, &[]);
    let mut c = ours.raw();
    assert_eq!(c.cmd(&["GET", "k"]), "$-1\r\n", "k expired, and stays gone");
    assert_eq!(c.cmd(&["EXISTS", "in1-after"]), ":0\r\n", "not in db 0");
    c.cmd(&["SELECT", "1"]);
    assert_eq!(c.cmd(&["GET", "in1-after"]), "$1\r\nb\r\n");
    drop(ours);
    let _ = std::fs::remove_dir_all(&dir);
}

/// SAVE and DEBUG RELOAD while a rewrite runs wait for it instead of deadlocking with it
/// (the rewrite waits for the reads in progress at its point).
#[test]
fn save_during_a_rewrite_completes() {
    let dir = scratch_dir("aof-save-rewrite");
    let ours = start(&dir, 2, &["--enable-debug-command", "yes"]);
    let mut c = ours.raw();
    let mut pipe = Vec::new();
    for i in 0..100_000 {
        let (k, v) = (format!("key:{i}"), format!("value-{i}"));
        resp::write_command(&mut pipe, &[b"SET", k.as_bytes(), v.as_bytes()]);
    }
    c.send(&pipe);
    for _ in 0..100_000 {
        c.read_reply();
    }
    for cmd in [&["SAVE"][..], &["DEBUG", "RELOAD"]] {
        assert!(c.cmd(&["BGREWRITEAOF"]).starts_with("+Background"));
        assert_eq!(c.cmd(cmd), "+OK\r\n", "{cmd:?}");
    }
    assert_eq!(c.cmd(&["DBSIZE"]), ":100000\r\n");
    drop(ours);
    let _ = std::fs::remove_dir_all(&dir);
}

/// A multi-shard operation run by a core with no piece of it: that core's file holds only
/// the commit, which counts all the same. Every connection writes to shards 1 and 2 only;
/// of 16 connections, some land on core 0 (all miss it with probability (2/3)^16, 0.15%).
#[test]
fn a_commit_alone_in_a_file_counts() {
    let dir = scratch_dir("aof-commit-alone");
    let map = engine::slot::SlotMap::new(3);
    let key_on = |shard: usize, tag: &str| {
        (0..)
            .map(|i| format!("{tag}{i}"))
            .find(|k| map.shard_of(k.as_bytes()) == shard)
            .expect("a key")
    };
    let mut want = Vec::new();
    {
        let ours = start(&dir, 3, &[]);
        for conn in 0..16 {
            let mut c = ours.raw();
            let (ka, kb) = (
                key_on(1, &format!("c{conn}a")),
                key_on(2, &format!("c{conn}b")),
            );
            assert_eq!(c.cmd(&["MSET", &ka, "v", &kb, "v"]), "+OK\r\n");
            want.push(ka);
            want.push(kb);
        }
    }
    let ours = start(&dir, 3, &[]);
    let mut c = ours.raw();
    for k in &want {
        assert_eq!(c.cmd(&["GET", k]), "$1\r\nv\r\n", "{k}");
    }
    drop(ours);
    let _ = std::fs::remove_dir_all(&dir);
}
