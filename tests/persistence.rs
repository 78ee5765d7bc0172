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
    cmds
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
    for argv in dataset() {
        let key = &argv[1];
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
    for argv in dataset() {
        let key = &argv[1];
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
