//! Snapshots in Redis' formats: DUMP/RESTORE payloads and DEBUG DIGEST, checked against the
//! real redis-server (same bytes, same digests, payloads accepted both ways).

use crate::harness::{Raw, Server};

/// Values of every type and encoding redis-server 7.0 writes, as commands.
fn dataset() -> Vec<Vec<String>> {
    let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
    let mut cmds = vec![
        s(&["SET", "str:embstr", "hello"]),
        s(&["SET", "str:int", "12345"]),
        s(&["SET", "str:bigint", "-9223372036854775808"]),
        s(&["SET", "str:int32edge", "-2147483649"]),
        s(&["SET", "str:lzf", &"x".repeat(200)]),
        s(&[
            "SET",
            "str:rand",
            "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ!@",
        ]),
        s(&["SET", "str:empty", ""]),
        s(&["SET", "str:ttl", "v", "EX", "100000"]),
        s(&[
            "RPUSH",
            "list:small",
            "1",
            "2",
            "-70000",
            "a",
            &"bb".repeat(40),
        ]),
        s(&["SADD", "set:intset", "1", "2", "3", "-5", "70000"]),
        s(&["SADD", "set:wide", "1", "9999999999"]),
        s(&["SADD", "set:table", "a", "b", "c"]),
        s(&[
            "ZADD", "zset:lp", "1", "a", "2.5", "b", "-3", "c", "1e300", "d", "inf", "e",
        ]),
        s(&[
            "HSET",
            "hash:lp",
            "f",
            "v",
            "n",
            "123",
            "big",
            &"y".repeat(30),
        ]),
    ];
    let mut big_list = s(&["RPUSH", "list:big"]);
    big_list.extend((0..3000).map(|i| format!("element-{i}")));
    cmds.push(big_list);
    let mut zs = s(&["ZADD", "zset:skip"]);
    for i in 0..200 {
        zs.push(format!("{}", i as f64 * 0.5));
        zs.push(format!("m{i}"));
    }
    cmds.push(zs);
    let mut h = s(&["HSET", "hash:table"]);
    for i in 0..200 {
        h.push(format!("f{i}"));
        h.push(format!("v{i}"));
    }
    cmds.push(h);
    let mut st = s(&["SADD", "set:bigints"]);
    st.extend((0..600).map(|i| (i * 3).to_string()));
    cmds.push(st);
    // Streams: nodes as listpacks (several, with master fields and entries that differ from
    // them), tombstones, counters, groups without consumers (their seen-times are clocks).
    for i in 1..=300 {
        let id = format!("{i}-{}", i % 3);
        let f = if i % 5 == 0 { "other" } else { "field" };
        cmds.push(s(&[
            "XADD",
            "stream:big",
            &id,
            f,
            &format!("v{i}"),
            "n",
            &(i * 1000).to_string(),
        ]));
    }
    cmds.push(s(&["XTRIM", "stream:big", "MAXLEN", "250"]));
    cmds.push(s(&["XDEL", "stream:big", "100-1", "200-2"]));
    cmds.push(s(&["XADD", "stream:small", "1-1", "a", "1", "b", "2"]));
    cmds.push(s(&["XADD", "stream:small", "2-1", "c", &"z".repeat(100)]));
    cmds.push(s(&["XGROUP", "CREATE", "stream:small", "g1", "0"]));
    cmds.push(s(&[
        "XGROUP",
        "CREATE",
        "stream:small",
        "g2",
        "$",
        "ENTRIESREAD",
        "2",
    ]));
    cmds.push(s(&[
        "XSETID",
        "stream:small",
        "9-9",
        "ENTRIESADDED",
        "5",
        "MAXDELETEDID",
        "3-0",
    ]));
    cmds.push(s(&["XADD", "stream:empty", "MAXLEN", "0", "5-1", "x", "y"]));
    cmds
}

/// The dataset's keys, each once, in order (XGROUP names its key second).
fn dataset_keys() -> Vec<String> {
    let mut keys: Vec<String> = Vec::new();
    for argv in dataset() {
        let key = if argv[0] == "XGROUP" {
            &argv[2]
        } else {
            &argv[1]
        };
        if !keys.contains(key) {
            keys.push(key.clone());
        }
    }
    keys
}

fn cmd(c: &mut Raw, argv: &[String]) -> String {
    let words: Vec<&[u8]> = argv.iter().map(|a| a.as_bytes()).collect();
    c.cmd_bytes(&words)
}

fn dump(c: &mut Raw, key: &str) -> Vec<u8> {
    let raw = c.cmd_raw(&[b"DUMP", key.as_bytes()]);
    let text_end = raw.iter().position(|&b| b == b'\n').expect("bulk header");
    raw[text_end + 1..raw.len() - 2].to_vec()
}

fn load(servers: &[&Server]) -> Vec<Raw> {
    let data = dataset();
    servers
        .iter()
        .map(|s| {
            let mut c = s.raw();
            for argv in &data {
                let r = cmd(&mut c, argv);
                assert!(!r.starts_with('-'), "{argv:?}: {r}");
            }
            c
        })
        .collect()
}

#[test]
fn dump_payloads_are_byte_identical_to_redis() {
    let redis = Server::redis();
    let ours = Server::start(2);
    let mut conns = load(&[&redis, &ours]);
    for key in &dataset_keys() {
        let encoding = conns[0].cmd(&["OBJECT", "ENCODING", key]);
        if encoding.contains("hashtable") {
            // Members come in each server's own hash-table order: compared by digest in
            // restore_accepts_payloads_both_ways_and_digests_agree.
            continue;
        }
        let want = dump(&mut conns[0], key);
        let got = dump(&mut conns[1], key);
        assert!(
            got == want,
            "DUMP {key} differs (encoding {encoding}): {} bytes vs redis' {}",
            got.len(),
            want.len()
        );
    }
    assert_eq!(conns[1].cmd(&["DUMP", "missing"]), "$-1\r\n");
}

#[test]
fn restore_accepts_payloads_both_ways_and_digests_agree() {
    let redis = Server::redis();
    let ours = Server::start_with(2, &["--enable-debug-command", "yes"]);
    let mut conns = load(&[&redis, &ours]);
    for key in &dataset_keys() {
        let from_redis = dump(&mut conns[0], key);
        let from_ours = dump(&mut conns[1], key);
        let copy = format!("{key}:copy");
        for (c, payload) in [(0, &from_ours), (1, &from_redis)] {
            let r = conns[c].cmd_raw(&[b"RESTORE", copy.as_bytes(), b"0", payload]);
            assert_eq!(r, b"+OK\r\n", "RESTORE {copy} on server {c}");
        }
        let digests: Vec<String> = conns
            .iter_mut()
            .map(|c| c.cmd(&["DEBUG", "DIGEST-VALUE", key, &copy]))
            .collect();
        assert_eq!(digests[0], digests[1], "digests of {key}");
        assert_eq!(
            conns[1].cmd(&["OBJECT", "ENCODING", &copy]),
            conns[0].cmd(&["OBJECT", "ENCODING", &copy]),
            "encoding after RESTORE of {key}"
        );
    }
    let all: Vec<String> = conns
        .iter_mut()
        .map(|c| c.cmd(&["DEBUG", "DIGEST"]))
        .collect();
    assert!(all[0].starts_with('+') && all[0].len() == 43, "{all:?}");
    assert_eq!(all[0], all[1]);
}

#[test]
fn restore_errors_match_redis() {
    let redis = Server::redis();
    let ours = Server::start(1);
    let mut conns = [redis.raw(), ours.raw()];
    for c in conns.iter_mut() {
        c.cmd(&["SET", "k", "v"]);
    }
    let payload = dump(&mut conns[0], "k");
    let mut corrupt = payload.clone();
    corrupt[1] ^= 0x55;
    let mut future = payload.clone();
    let n = future.len();
    future[n - 10] = 11;
    let cases: Vec<Vec<&[u8]>> = vec![
        vec![b"RESTORE", b"k", b"0", &payload],
        vec![b"RESTORE", b"k2", b"-1", &payload],
        vec![b"RESTORE", b"k2", b"x", &payload],
        vec![b"RESTORE", b"k2", b"0", &corrupt],
        vec![b"RESTORE", b"k2", b"0", &future],
        vec![b"RESTORE", b"k2", b"0", b"short"],
        vec![b"RESTORE", b"k2", b"0", &payload, b"IDLETIME", b"-1"],
        vec![b"RESTORE", b"k2", b"0", &payload, b"FREQ", b"256"],
        vec![b"RESTORE", b"k2", b"0", &payload, b"BOGUS"],
        vec![
            b"RESTORE",
            b"k2",
            b"0",
            &payload,
            b"IDLETIME",
            b"5",
            b"FREQ",
            b"5",
        ],
        vec![
            b"RESTORE",
            b"k",
            b"0",
            &payload,
            b"REPLACE",
            b"IDLETIME",
            b"100",
        ],
        vec![b"OBJECT", b"IDLETIME", b"k"],
        vec![b"RESTORE", b"k3", b"1000", &payload, b"ABSTTL"],
        vec![b"EXISTS", b"k3"],
        vec![b"RESTORE", b"k", b"1", &payload, b"REPLACE", b"ABSTTL"],
        vec![b"EXISTS", b"k"],
        vec![b"RESTORE", b"k4", b"100000", &payload],
        vec![b"PTTL", b"k4"],
    ];
    for argv in cases {
        let want = conns[0].cmd_bytes(&argv);
        let got = conns[1].cmd_bytes(&argv);
        if argv[1] == b"k4" && argv[0] == b"PTTL" {
            let ms = |s: &str| {
                s.trim_start_matches(':')
                    .trim()
                    .parse::<i64>()
                    .unwrap_or(-9)
            };
            assert!((ms(&want) - ms(&got)).abs() < 2000, "{want} vs {got}");
            continue;
        }
        let name = String::from_utf8_lossy(argv[0]).into_owned();
        assert_eq!(got, want, "{name} {:?}", String::from_utf8_lossy(argv[1]));
    }
}

fn info_field(c: &mut Raw, field: &str) -> String {
    crate::harness::info_field(c, "persistence", field)
}

fn wait_for_save(c: &mut Raw, saves_before: u64) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while std::time::Instant::now() < deadline {
        let saves: u64 = info_field(c, "rdb_saves").parse().unwrap_or(0);
        if saves > saves_before && info_field(c, "rdb_bgsave_in_progress") == "0" {
            assert_eq!(info_field(c, "rdb_last_bgsave_status"), "ok");
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    panic!("BGSAVE did not finish in 60 s");
}

fn check_rdb(path: &std::path::Path) {
    let bin = crate::harness::which("redis-check-rdb")
        .expect("redis-check-rdb is not installed (apt-get install -y redis-tools)");
    let out = std::process::Command::new(bin)
        .arg(path)
        .output()
        .expect("run redis-check-rdb");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success() && text.contains("RDB looks OK"),
        "redis-check-rdb {}: {text}",
        path.display()
    );
}

/// percore -> dump.rdb -> redis-server -> dump.rdb -> percore with other shard counts: the
/// same DEBUG DIGEST all the way, and every file passes redis-check-rdb.
#[test]
fn snapshots_move_between_percore_and_redis_server() {
    let dir = crate::harness::scratch_dir("rdb-move");
    let d = dir.display().to_string();
    let want = {
        let ours = Server::start_with(2, &["--enable-debug-command", "yes", "--dir", &d]);
        let mut c = load(&[&ours]).pop().expect("one connection");
        // The expired key must stay stored until the DEL below: no active expiry meanwhile.
        assert_eq!(c.cmd(&["DEBUG", "SET-ACTIVE-EXPIRE", "0"]), "+OK\r\n");
        c.cmd(&["SELECT", "3"]);
        c.cmd(&["SET", "in-db-3", "x"]);
        c.cmd(&["SET", "gone", "x", "PX", "1"]);
        std::thread::sleep(std::time::Duration::from_millis(5));
        let digest = c.cmd(&["DEBUG", "DIGEST"]);
        assert_eq!(c.cmd(&["SAVE"]), "+OK\r\n");
        assert_eq!(info_field(&mut c, "rdb_saves"), "1");
        assert_eq!(info_field(&mut c, "rdb_changes_since_last_save"), "0");
        // The expired key is still stored until something deletes it: redis-server's
        // digest after loading (which drops it) is compared with one without it.
        c.cmd(&["DEL", "gone"]);
        let after = c.cmd(&["DEBUG", "DIGEST"]);
        assert_ne!(digest, after);
        after
    };
    check_rdb(&dir.join("dump.rdb"));
    let redis = Server::redis_with(&["--dir", &d, "--dbfilename", "dump.rdb"]);
    let mut rc = redis.raw();
    assert_eq!(
        rc.cmd(&["DEBUG", "DIGEST"]),
        want,
        "redis-server loaded percore's file"
    );
    assert_eq!(rc.cmd(&["SAVE"]), "+OK\r\n");
    drop(rc);
    drop(redis);
    check_rdb(&dir.join("dump.rdb"));
    for shards in [1, 3] {
        let ours = Server::start_with(shards, &["--enable-debug-command", "yes", "--dir", &d]);
        let mut c = ours.raw();
        assert_eq!(
            c.cmd(&["DEBUG", "DIGEST"]),
            want,
            "percore with {shards} shards loaded redis-server's file"
        );
        c.cmd(&["SELECT", "3"]);
        assert_eq!(c.cmd(&["GET", "in-db-3"]), "$1\r\nx\r\n");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// BGSAVE while a writer runs multi-shard MSETs: the file holds one point in time, with
/// every MSET wholly in or wholly out, and the writer is served throughout.
#[test]
fn bgsave_writes_one_point_in_time_while_writes_go_on() {
    let dir = crate::harness::scratch_dir("rdb-point");
    let d = dir.display().to_string();
    let ours = Server::start_with(2, &["--dir", &d, "--save", ""]);
    let mut c = ours.raw();
    // Filler, so the walk takes a while.
    for chunk in 0..100 {
        let mut argv: Vec<String> = vec!["MSET".into()];
        for i in 0..1000 {
            argv.push(format!("filler:{chunk}:{i}"));
            argv.push("0123456789abcdef0123456789abcdef".into());
        }
        assert_eq!(cmd(&mut c, &argv), "+OK\r\n");
    }
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let port = ours.port;
    let writer = {
        let stop = stop.clone();
        std::thread::spawn(move || {
            let mut w = Raw::connect(port);
            let mut i = 0u64;
            let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
            while !stop.load(std::sync::atomic::Ordering::Relaxed)
                && std::time::Instant::now() < deadline
            {
                i += 1;
                let v = i.to_string();
                let (a, b) = (format!("a{}", i % 50), format!("b{}", i % 50));
                let r = w.cmd(&["MSET", &a, &v, &b, &v, "counter", &v]);
                assert_eq!(r, "+OK\r\n");
            }
            i
        })
    };
    std::thread::sleep(std::time::Duration::from_millis(100));
    let saves: u64 = info_field(&mut c, "rdb_saves").parse().unwrap_or(0);
    assert_eq!(c.cmd(&["BGSAVE"]), "+Background saving started\r\n");
    assert_eq!(
        c.cmd(&["BGSAVE"]),
        "-ERR Background save already in progress\r\n"
    );
    wait_for_save(&mut c, saves);
    std::thread::sleep(std::time::Duration::from_millis(100));
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let written = writer.join().expect("writer");
    check_rdb(&dir.join("dump.rdb"));
    drop(c);
    drop(ours);
    let copy = Server::start_with(1, &["--dir", &d, "--save", ""]);
    let mut c = copy.raw();
    let int = |s: String| {
        s.lines()
            .nth(1)
            .and_then(|l| l.parse::<u64>().ok())
            .unwrap_or(0)
    };
    let at = int(c.cmd(&["GET", "counter"]));
    assert!(
        at > 0 && at < written,
        "the snapshot point ({at}) falls inside the writes (1..{written})"
    );
    for j in 0..50u64 {
        // The last MSET at or before the point that wrote slot j.
        let last = if at >= j { at - (at - j) % 50 } else { 0 };
        let want = if last == 0 {
            "$-1\r\n".to_string()
        } else {
            format!("${}\r\n{last}\r\n", last.to_string().len())
        };
        assert_eq!(
            c.cmd(&["GET", &format!("a{j}")]),
            want,
            "a{j} at point {at}"
        );
        assert_eq!(
            c.cmd(&["GET", &format!("b{j}")]),
            want,
            "b{j} at point {at}"
        );
    }
    assert_eq!(
        c.cmd(&["DBSIZE"]),
        format!(":{}\r\n", 100_000 + 1 + 2 * at.min(50))
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// SIGTERM saves when save points are set, SHUTDOWN NOSAVE does not, and the next start
/// loads what was saved.
#[test]
fn shutdown_saves_as_redis_does() {
    let dir = crate::harness::scratch_dir("rdb-shutdown");
    let d = dir.display().to_string();
    let mut ours = Server::start_with(2, &["--dir", &d]);
    ours.raw().cmd(&["SET", "kept", "1"]);
    ours.terminate();
    assert!(ours.wait_exit(std::time::Duration::from_secs(10)).is_some());
    drop(ours);
    let ours = Server::start_with(2, &["--dir", &d]);
    let mut c = ours.raw();
    assert_eq!(c.cmd(&["GET", "kept"]), "$1\r\n1\r\n");
    c.cmd(&["SET", "lost", "1"]);
    c.send(b"SHUTDOWN NOSAVE\r\n");
    drop(c);
    let mut ours = ours;
    assert!(ours.wait_exit(std::time::Duration::from_secs(10)).is_some());
    drop(ours);
    let ours = Server::start_with(1, &["--dir", &d]);
    let mut c = ours.raw();
    assert_eq!(c.cmd(&["GET", "lost"]), "$-1\r\n");
    assert_eq!(c.cmd(&["GET", "kept"]), "$1\r\n1\r\n");
    let _ = std::fs::remove_dir_all(&dir);
}

/// A damaged file stops the start with the reason and the offset; the server never runs
/// on half a dataset.
#[test]
fn corrupt_or_truncated_files_stop_the_start() {
    let dir = crate::harness::scratch_dir("rdb-bad");
    let d = dir.display().to_string();
    {
        let ours = Server::start_with(1, &["--dir", &d]);
        load(&[&ours]);
        assert_eq!(ours.raw().cmd(&["SAVE"]), "+OK\r\n");
    }
    let good = std::fs::read(dir.join("dump.rdb")).expect("saved file");
    let start = |bytes: &[u8], extra: &[&str]| {
        std::fs::write(dir.join("dump.rdb"), bytes).expect("write file");
        let port = crate::harness::free_port().to_string();
        let mut args = vec!["--port", &port, "--bind", "127.0.0.1", "--dir", &d];
        args.extend_from_slice(extra);
        let out = std::process::Command::new(crate::harness::BIN)
            .args(&args)
            .output()
            .expect("run percore-server");
        (
            out.status,
            String::from_utf8_lossy(&out.stderr).into_owned()
                + &String::from_utf8_lossy(&out.stdout),
        )
    };
    let (status, log) = start(&good[..good.len() / 2], &[]);
    assert!(!status.success(), "truncated file: {log}");
    assert!(log.contains("checksum") || log.contains("offset"), "{log}");
    // Without the checksum, the parser itself finds the damage and names where.
    let (status, log) = start(&good[..good.len() / 2], &["--rdbchecksum", "no"]);
    assert!(!status.success(), "truncated file: {log}");
    assert!(log.contains("at offset"), "{log}");
    let mut flipped = good.clone();
    flipped[40] ^= 0xFF;
    let (status, log) = start(&flipped, &[]);
    assert!(!status.success() && log.contains("checksum"), "{log}");
    let (status, log) = start(b"REDIS0099xxxx", &[]);
    assert!(!status.success() && log.contains("version"), "{log}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// DEBUG RELOAD: save, empty, load back: the same dataset, and clients kept working.
#[test]
fn debug_reload_keeps_the_dataset() {
    let ours = Server::start_with(2, &["--enable-debug-command", "yes", "--save", ""]);
    let mut c = load(&[&ours]).pop().expect("one connection");
    let before = c.cmd(&["DEBUG", "DIGEST"]);
    assert_eq!(c.cmd(&["DEBUG", "RELOAD"]), "+OK\r\n");
    assert_eq!(c.cmd(&["DEBUG", "DIGEST"]), before);
    assert_eq!(info_field(&mut c, "loading"), "0");
    assert_eq!(c.cmd(&["SET", "after", "1"]), "+OK\r\n");
    assert_eq!(info_field(&mut c, "rdb_changes_since_last_save"), "1");
}

/// SIGTERM during a BGSAVE waits for it, then saves the latest data and exits.
#[test]
fn sigterm_during_bgsave_still_saves_and_exits() {
    let dir = crate::harness::scratch_dir("rdb-term-bgsave");
    let d = dir.display().to_string();
    let mut ours = Server::start_with(1, &["--dir", &d]);
    let mut c = ours.raw();
    for chunk in 0..50 {
        let mut argv: Vec<String> = vec!["MSET".into()];
        for i in 0..1000 {
            argv.push(format!("k:{chunk}:{i}"));
            argv.push("v".repeat(40));
        }
        assert_eq!(cmd(&mut c, &argv), "+OK\r\n");
    }
    assert_eq!(c.cmd(&["BGSAVE"]), "+Background saving started\r\n");
    c.cmd(&["SET", "last", "1"]);
    ours.terminate();
    assert!(
        ours.wait_exit(std::time::Duration::from_secs(20)).is_some(),
        "SIGTERM during BGSAVE did not stop the server"
    );
    drop(c);
    drop(ours);
    let again = Server::start_with(1, &["--dir", &d]);
    let mut c = again.raw();
    assert_eq!(c.cmd(&["GET", "last"]), "$1\r\n1\r\n");
    assert_eq!(c.cmd(&["DBSIZE"]), ":50001\r\n");
    let _ = std::fs::remove_dir_all(&dir);
}
