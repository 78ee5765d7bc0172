//! What operators use to watch a running server (issue 20), compared with redis-server 7.0:
//! SLOWLOG.

use crate::harness::{Raw, Server};
use redis::Value;

/// One SLOWLOG GET entry without what differs between runs: (arguments, client name,
/// whether the client was a script's).
type Entry = (Vec<Vec<u8>>, Vec<u8>, bool);

fn bytes(v: &Value) -> Vec<u8> {
    match v {
        Value::BulkString(b) => b.clone(),
        Value::SimpleString(s) => s.clone().into_bytes(),
        other => panic!("not a string: {other:?}"),
    }
}

fn int(v: &Value) -> i64 {
    match v {
        Value::Int(i) => *i,
        other => panic!("not an integer: {other:?}"),
    }
}

/// SLOWLOG GET -1, newest first; checks each entry's shape and that ids fall by one.
fn slowlog(c: &mut redis::Connection) -> Vec<Entry> {
    let Value::Array(entries) = redis::cmd("SLOWLOG").arg("GET").arg(-1).query(c).unwrap() else {
        panic!("not an array");
    };
    let mut last_id = None;
    entries
        .iter()
        .map(|e| {
            let Value::Array(f) = e else { panic!("{e:?}") };
            assert_eq!(f.len(), 6, "{f:?}");
            let id = int(&f[0]);
            if let Some(prev) = last_id {
                assert_eq!(id, prev - 1, "ids newest first, one apart");
            }
            last_id = Some(id);
            assert!(int(&f[1]) > 1_700_000_000, "{f:?}");
            assert!(int(&f[2]) >= 0, "{f:?}");
            let Value::Array(argv) = &f[3] else {
                panic!("{f:?}")
            };
            let peer = bytes(&f[4]);
            (
                argv.iter().map(bytes).collect(),
                bytes(&f[5]),
                peer == b"?:0",
            )
        })
        .collect()
}

/// Every command logged (slowlog-log-slower-than 0) as redis-server logs it: arguments
/// trimmed (32 at most, 128 bytes each), secrets redacted, a multi-key command split over
/// shards logged once and whole, the commands of a transaction one by one and not EXEC,
/// a script's calls as the script's client; slowlog-max-len bounds the log; LEN, RESET,
/// HELP and the errors match.
#[test]
fn slowlog_matches_redis() {
    let ours = Server::start(2);
    let theirs = Server::redis();
    let long = "v".repeat(200);
    let members: Vec<String> = (0..40).map(|i| format!("m{i}")).collect();
    let mut logs = Vec::new();
    for s in [&ours, &theirs] {
        let mut c = s.client();
        let mut run = |args: &[&str]| {
            let mut cmd = redis::cmd(args[0]);
            for a in &args[1..] {
                cmd.arg(*a);
            }
            // Errors are part of the comparison too.
            match cmd.query::<Value>(&mut c) {
                Ok(v) => format!("{v:?}"),
                Err(e) => format!("error {e}"),
            }
        };
        let mut replies = vec![run(&["CONFIG", "SET", "slowlog-log-slower-than", "0"])];
        replies.push(run(&["CLIENT", "SETNAME", "watcher"]));
        replies.push(run(&["SLOWLOG", "RESET"]));
        replies.push(run(&["SET", "a", "1"]));
        replies.push(run(&["GET", "a"]));
        replies.push(run(&["MSET", "k1", "x", "k2", "y", "k3", "z", "k4", "w"]));
        replies.push(run(&["MGET", "k1", "k2", "k3", "k4"]));
        replies.push(run(&["SET", "big", &long]));
        let mut sadd = vec!["SADD", "s"];
        sadd.extend(members.iter().map(String::as_str));
        replies.push(run(&sadd));
        replies.push(run(&[
            "EVAL",
            "redis.call('set', 'x', 'y') return redis.call('get', 'x')",
            "0",
        ]));
        replies.push(run(&["MULTI"]));
        replies.push(run(&["INCR", "n"]));
        replies.push(run(&["EXEC"]));
        replies.push(run(&["AUTH", "secret"]));
        replies.push(run(&["HELLO", "2", "AUTH", "user", "secret"]));
        replies.push(run(&["CONFIG", "SET", "masterauth", "secret"]));
        replies.push(run(&["SLOWLOG", "LEN"]));
        replies.push(run(&["SLOWLOG", "GET", "-2"]));
        replies.push(run(&["SLOWLOG", "GET", "x"]));
        replies.push(run(&["SLOWLOG", "LEN", "1"]));
        replies.push(run(&["SLOWLOG", "FOO"]));
        replies.push(run(&["SLOWLOG"]));
        replies.push(run(&["SLOWLOG", "HELP"]));
        logs.push((replies, slowlog(&mut c)));
    }
    let (ours_log, theirs_log) = (&logs[0], &logs[1]);
    let show = |l: &[Entry]| {
        l.iter()
            .map(|(a, n, s)| {
                let words: Vec<String> = a
                    .iter()
                    .map(|w| String::from_utf8_lossy(w).into())
                    .collect();
                format!("{} [{}] {s}", words.join(" "), String::from_utf8_lossy(n))
            })
            .collect::<Vec<_>>()
            .join("\n")
    };
    assert_eq!(show(&ours_log.1), show(&theirs_log.1));
    assert_eq!(ours_log.0, theirs_log.0, "replies");
    assert_eq!(ours_log.1.len(), theirs_log.1.len());
    // slowlog-max-len bounds what every core keeps, together.
    for s in [&ours, &theirs] {
        let mut c = s.client();
        let _: () = redis::cmd("CONFIG")
            .arg("SET")
            .arg("slowlog-max-len")
            .arg(5)
            .query(&mut c)
            .unwrap();
        for i in 0..20 {
            let _: () = redis::cmd("SET")
                .arg(format!("key{i}"))
                .arg(i)
                .query(&mut c)
                .unwrap();
        }
        let len: i64 = redis::cmd("SLOWLOG").arg("LEN").query(&mut c).unwrap();
        assert_eq!(len, 5);
        let log = slowlog(&mut c);
        assert_eq!(log.len(), 5);
        assert_eq!(
            log[1].0,
            [b"SET".to_vec(), b"key19".to_vec(), b"19".to_vec()]
        );
        // Off: nothing more is logged.
        let _: () = redis::cmd("CONFIG")
            .arg("SET")
            .arg("slowlog-log-slower-than")
            .arg(-1)
            .query(&mut c)
            .unwrap();
        let _: () = redis::cmd("SLOWLOG").arg("RESET").query(&mut c).unwrap();
        let _: () = redis::cmd("SET").arg("a").arg(1).query(&mut c).unwrap();
        let len: i64 = redis::cmd("SLOWLOG").arg("LEN").query(&mut c).unwrap();
        assert_eq!(len, 0);
    }
}

/// A MONITOR line without what differs between runs: `[db who] args`, with who `lua` or
/// `client`.
fn masked_line(line: &str) -> String {
    let line = line.trim_end();
    let rest = line.split_once(' ').map(|(_, r)| r).unwrap_or("");
    let (bracket, args) = rest.split_once("] ").unwrap_or((rest, ""));
    let (db, who) = bracket
        .trim_start_matches('[')
        .split_once(' ')
        .unwrap_or(("", ""));
    let who = if who == "lua" { "lua" } else { "client" };
    format!("[{db} {who}] {args}")
}

/// What a masked line's order is kept for: its first key (the argument after the command
/// name), or the whole command for one without arguments.
fn line_key(line: &str) -> String {
    let args: Vec<&str> = line.split("\" \"").collect();
    args.get(1).unwrap_or(&line).to_string()
}

/// The lines a monitor got up to the one of `ECHO <marker>`.
fn monitor_until(m: &mut Raw, marker: &str) -> Vec<String> {
    let mut out = Vec::new();
    loop {
        let l = m.read_reply();
        assert!(l.starts_with('+'), "{l}");
        let masked = masked_line(&l);
        if masked.ends_with(&format!("\"ECHO\" \"{marker}\"")) {
            return out;
        }
        out.push(masked);
    }
}

/// MONITOR as redis-server shows it: one line per command after it ran, where it ran (the
/// database it ran in, arguments quoted as Redis quotes them), EVAL before its script's calls (`lua`),
/// a transaction's commands then EXEC, a command split over shards once and whole,
/// administrative commands and refused ones not at all; a monitor may only PING, and RESET
/// ends it. With several clients on several cores, every command reaches a monitor.
#[test]
fn monitor_matches_redis() {
    let ours = Server::start(2);
    let theirs = Server::redis();
    let bin: &[u8] = b"a\x00b\"\\\n\r\t\x07\x08\xffz";
    let commands: Vec<Vec<&[u8]>> = vec![
        vec![b"SET", b"a", b"1"],
        vec![b"GET", b"a"],
        vec![b"MSET", b"k1", b"x", b"k2", b"y", b"k3", b"z"],
        vec![b"MGET", b"k1", b"k2", b"k3"],
        vec![b"DEL", b"k1", b"k2"],
        vec![b"SET", b"bin", bin],
        vec![
            b"EVAL",
            b"redis.call('set', 'x', 'y') return redis.call('get', 'a')",
            b"0",
        ],
        // One shard's keys (a hash tag): lines of one shard's commands keep their order;
        // different shards run theirs at the same time, so their lines may interleave.
        vec![b"MULTI"],
        vec![b"SET", b"{t}a", b"2"],
        vec![b"INCR", b"{t}n"],
        vec![b"EXEC"],
        vec![b"SELECT", b"3"],
        vec![b"SET", b"q", b"1"],
        vec![b"SELECT", b"0"],
        vec![b"CONFIG", b"GET", b"port"],
        vec![b"GET"],
        vec![b"NOSUCHCOMMAND"],
        vec![b"RPUSH", b"l", b"a", b"b"],
        vec![b"BLPOP", b"l", b"0.01"],
        vec![b"PING"],
    ];
    let mut seen = Vec::new();
    for s in [&ours, &theirs] {
        let mut m = s.raw();
        assert_eq!(m.cmd(&["MONITOR"]), "+OK\r\n");
        let mut c = s.raw();
        for argv in &commands {
            c.cmd_bytes(argv);
        }
        c.cmd(&["ECHO", "done"]);
        let lines = monitor_until(&mut m, "done");
        // A monitor cannot touch the keyspace; RESET makes it a client again.
        m.send(b"*2\r\n$3\r\nGET\r\n$1\r\na\r\n");
        let refused = m.read_reply();
        m.send(b"*1\r\n$4\r\nPING\r\n");
        // Its own PING is shown to it too, after the reply.
        let ping = format!("{} {}", m.read_reply(), masked_line(&m.read_reply()));
        assert_eq!(m.cmd(&["RESET"]), "+RESET\r\n");
        let after = m.cmd(&["GET", "a"]);
        seen.push((lines, refused, ping, after));
    }
    // The same lines, and each key's in the same order (commands of different shards run
    // at the same time: their lines may interleave otherwise).
    let (mut a, mut b) = (seen[0].0.clone(), seen[1].0.clone());
    for key in a.iter().chain(&b).map(|l| line_key(l)).collect::<Vec<_>>() {
        let of = |v: &[String]| -> Vec<String> {
            v.iter().filter(|l| line_key(l) == key).cloned().collect()
        };
        assert_eq!(of(&a), of(&b), "lines of {key}");
    }
    a.sort();
    b.sort();
    assert_eq!(a.join("\n"), b.join("\n"));
    assert_eq!(seen[0].1, seen[1].1);
    assert_eq!(seen[0].2, seen[1].2);
    assert_eq!(seen[0].3, seen[1].3);
    // Four clients (spread over both cores) and two monitors: each monitor sees all.
    let mut monitors: Vec<Raw> = (0..2).map(|_| ours.raw()).collect();
    for m in &mut monitors {
        assert_eq!(m.cmd(&["MONITOR"]), "+OK\r\n");
    }
    std::thread::scope(|s| {
        for t in 0..4 {
            let port = ours.port;
            s.spawn(move || {
                let mut c = Raw::connect(port);
                for i in 0..50 {
                    c.cmd(&["SET", &format!("t{t}:{i}"), "v"]);
                }
            });
        }
    });
    ours.raw().cmd(&["ECHO", "end"]);
    for m in &mut monitors {
        let lines = monitor_until(m, "end");
        let sets = lines.iter().filter(|l| l.contains("\"SET\" \"t")).count();
        assert_eq!(sets, 200, "{lines:?}");
    }
}

/// INFO's per-command lines without the timings: name -> (calls, rejected, failed).
fn commandstats(r: &mut Raw) -> std::collections::BTreeMap<String, (u64, u64, u64)> {
    let info = r.cmd(&["INFO", "commandstats"]);
    info.lines()
        .filter_map(|l| l.strip_prefix("cmdstat_"))
        .map(|l| {
            let (name, fields) = l.split_once(':').unwrap();
            let f: std::collections::HashMap<&str, &str> = fields
                .split(',')
                .filter_map(|kv| kv.split_once('='))
                .collect();
            let n = |k: &str| f[k].parse::<u64>().unwrap();
            assert!(f["usec_per_call"].contains('.'), "{l}");
            (
                name.to_string(),
                (n("calls"), n("rejected_calls"), n("failed_calls")),
            )
        })
        .collect()
}

fn section(r: &mut Raw, name: &str, prefix: &str) -> Vec<String> {
    let mut v: Vec<String> = r
        .cmd(&["INFO", name])
        .lines()
        .filter(|l| l.starts_with(prefix))
        .map(str::to_string)
        .collect();
    v.sort();
    v
}

/// INFO commandstats, errorstats and latencystats, LATENCY HISTOGRAM and the latency
/// monitor (LATEST, HISTORY, GRAPH, RESET) count and show what redis-server does for the
/// same commands: calls, rejected and failed calls per command and subcommand, errors by
/// code, percentiles in Redis' format (latency-tracking-info-percentiles, latency-tracking
/// off), commands over latency-monitor-threshold; percore's counts merged over its shards.
#[test]
fn command_and_latency_stats_match_redis() {
    let ours = Server::start_with(2, &["--enable-debug-command", "yes"]);
    let theirs = Server::redis();
    let script: &[&[&str]] = &[
        &["SET", "a", "1"],
        &["GET", "a"],
        &["GET", "b"],
        &["LPUSH", "a", "x"],
        &["MSET", "k1", "1", "k2", "2", "k3", "3", "k4", "4"],
        &["MGET", "k1", "k2", "k3", "k4"],
        &["DEL", "k1", "k2", "nosuch"],
        &["CONFIG", "GET", "maxmemory"],
        &["CONFIG", "NOSUCH"],
        &["CONFIG", "GET"],
        &["GET"],
        &["NOSUCHCOMMAND", "x"],
        &["INCR", "k3"],
        &["INCR", "a"],
        &["HSET", "h", "f", "v"],
        &["OBJECT", "ENCODING", "h"],
        &["MULTI"],
        &["SET", "t", "1"],
        &["INCR", "a"],
        &["EXEC"],
        &["EVAL", "return redis.call('GET', KEYS[1])", "1", "k3"],
        &["SUBSTR", "a", "0", "1"],
    ];
    let mut seen = Vec::new();
    for s in [&ours, &theirs] {
        let mut r = s.raw();
        for cmd in script {
            r.cmd(cmd);
        }
        let stats = commandstats(&mut r);
        let errors = section(&mut r, "errorstats", "errorstat_");
        let total_errors = crate::harness::info_field(&mut r, "stats", "total_error_replies");
        let latency = r.cmd(&["INFO", "latencystats"]);
        let mut names: Vec<String> = latency
            .lines()
            .filter_map(|l| l.strip_prefix("latency_percentiles_usec_"))
            .map(|l| {
                let (name, values) = l.split_once(':').unwrap();
                let keys: Vec<&str> = values
                    .split(',')
                    .map(|kv| {
                        let (k, v) = kv.split_once('=').unwrap();
                        let (_, frac) = v.split_once('.').unwrap();
                        assert_eq!(frac.len(), 3, "{l}");
                        k
                    })
                    .collect();
                assert_eq!(keys, ["p50", "p99", "p99.9"], "{l}");
                name.to_string()
            })
            .collect();
        names.sort();
        // LATENCY HISTOGRAM of two commands: each one's calls and cumulative buckets.
        let Value::Array(h) = redis::cmd("LATENCY")
            .arg("HISTOGRAM")
            .arg("set")
            .arg("incr")
            .arg("nosuch")
            .query::<Value>(&mut s.client())
            .unwrap()
        else {
            panic!("not a map")
        };
        assert_eq!(h.len(), 4, "{h:?}");
        let Value::Array(set) = &h[1] else {
            panic!("{h:?}")
        };
        assert_eq!(bytes(&set[0]), b"calls");
        let Value::Array(buckets) = &set[3] else {
            panic!("{h:?}")
        };
        assert!(!buckets.is_empty() && buckets.len() % 2 == 0, "{h:?}");
        let counts: Vec<i64> = buckets.iter().skip(1).step_by(2).map(int).collect();
        assert!(
            counts.windows(2).all(|w| w[0] < w[1]),
            "cumulative: {counts:?}"
        );
        assert_eq!(counts.last(), Some(&int(&set[1])));
        // Other percentiles, and no histograms while latency-tracking is off.
        r.cmd(&[
            "CONFIG",
            "SET",
            "latency-tracking-info-percentiles",
            "50 99.99 100",
        ]);
        let line = section(&mut r, "latencystats", "latency_percentiles_usec_get:");
        let keys: Vec<&str> = line[0]
            .split(':')
            .nth(1)
            .unwrap()
            .split(',')
            .map(|kv| kv.split('=').next().unwrap())
            .collect();
        assert_eq!(keys, ["p50", "p99.99", "p100"], "{line:?}");
        r.cmd(&["CONFIG", "SET", "latency-tracking", "no"]);
        assert!(section(&mut r, "latencystats", "latency_").is_empty());
        r.cmd(&["CONFIG", "SET", "latency-tracking", "yes"]);
        // The latency monitor: a command over the threshold.
        assert_eq!(r.cmd(&["LATENCY", "LATEST"]), "*0\r\n");
        r.cmd(&["CONFIG", "SET", "latency-monitor-threshold", "20"]);
        r.cmd(&["DEBUG", "SLEEP", "0.03"]);
        r.cmd(&["GET", "a"]);
        let Value::Array(latest) = redis::cmd("LATENCY")
            .arg("LATEST")
            .query::<Value>(&mut s.client())
            .unwrap()
        else {
            panic!()
        };
        assert_eq!(latest.len(), 1, "{latest:?}");
        let Value::Array(e) = &latest[0] else {
            panic!()
        };
        assert_eq!(bytes(&e[0]), b"command");
        assert!(int(&e[2]) >= 30 && int(&e[3]) >= 30, "{e:?}");
        let history = r.cmd(&["LATENCY", "HISTORY", "command"]);
        assert!(history.starts_with("*1\r\n*2\r\n:"), "{history}");
        let graph = r.cmd(&["LATENCY", "GRAPH", "command"]);
        let unknown = r.cmd(&["LATENCY", "GRAPH", "nosuch"]);
        let doctor = r.cmd(&["LATENCY", "DOCTOR"]);
        assert!(doctor.contains("1. command: 1 latency spikes"), "{doctor}");
        let resets = (
            r.cmd(&["LATENCY", "RESET", "nosuch"]),
            r.cmd(&["LATENCY", "RESET"]),
            r.cmd(&["LATENCY", "LATEST"]),
            r.cmd(&["LATENCY", "HISTORY"]),
            r.cmd(&["LATENCY", "NOSUCH"]),
            r.cmd(&["LATENCY", "HELP"]).lines().count() > 10,
        );
        // CONFIG RESETSTAT empties them.
        r.cmd(&["CONFIG", "RESETSTAT"]);
        let after = commandstats(&mut r);
        assert!(
            after.keys().all(|k| k == "config|resetstat" || k == "info"),
            "{after:?}"
        );
        assert!(section(&mut r, "errorstats", "errorstat_").is_empty());
        seen.push((
            stats,
            errors,
            total_errors,
            names,
            graph
                .lines()
                .take(3)
                .map(str::to_string)
                .collect::<Vec<_>>(),
            unknown,
            resets,
        ));
    }
    assert_eq!(seen[0], seen[1]);
}

/// A COMMAND DOCS or COMMAND INFO reply (RESP2) with its subcommands in name order.
fn sorted_subcommands(v: Value) -> Value {
    let name_of = |v: &Value| -> Vec<u8> {
        match v {
            Value::Array(e) => bytes(&e[0]),
            other => bytes(other),
        }
    };
    let Value::Array(mut top) = v else { return v };
    for entry in top.iter_mut() {
        let Value::Array(fields) = entry else {
            continue;
        };
        if fields.len() == 10 && matches!(fields[1], Value::Int(_)) {
            // COMMAND INFO: subcommands are the tenth field, entries named first.
            if let Value::Array(subs) = &mut fields[9] {
                subs.sort_by_key(|s| name_of(s));
            }
            continue;
        }
        // COMMAND DOCS: a flat map with "subcommands" mapping names to docs.
        for i in (0..fields.len()).step_by(2) {
            if bytes(&fields[i]) == b"subcommands" {
                if let Value::Array(pairs) = &mut fields[i + 1] {
                    let mut chunks: Vec<Vec<Value>> =
                        pairs.chunks(2).map(<[Value]>::to_vec).collect();
                    chunks.sort_by_key(|c| bytes(&c[0]));
                    *pairs = chunks.concat();
                }
            }
        }
    }
    Value::Array(top)
}

/// The commands and subcommands of redis-server 7.0 that percore does not have yet; the
/// test below fails when the list is no longer true, either way.
const NOT_YET: &[&str] = &[
    "acl",
    "acl|cat",
    "acl|deluser",
    "acl|dryrun",
    "acl|genpass",
    "acl|getuser",
    "acl|help",
    "acl|list",
    "acl|load",
    "acl|log",
    "acl|save",
    "acl|setuser",
    "acl|users",
    "acl|whoami",
];

/// COMMAND DOCS and COMMAND INFO of every command percore has, byte for byte as
/// redis-server 7.0 answers them in RESP2 and RESP3 (summaries, complexity, arguments,
/// history, key specs, tips, subcommands), but for the subcommands percore lacks; COMMAND
/// LIST (with subcommands, FILTERBY), GETKEYSANDFLAGS; and `redis-cli help <command>`
/// prints the same syntax and summary for every command.
#[test]
fn command_docs_and_info_match_redis() {
    let ours = Server::start(2);
    let theirs = Server::redis();
    let list = |s: &Server| -> Vec<String> {
        let mut v: Vec<String> = redis::cmd("COMMAND")
            .arg("LIST")
            .query(&mut s.client())
            .unwrap();
        v.sort();
        v
    };
    let (mine, redis_list) = (list(&ours), list(&theirs));
    let missing: Vec<&str> = redis_list
        .iter()
        .filter(|n| !mine.contains(n))
        .map(String::as_str)
        .collect();
    assert_eq!(missing, NOT_YET, "commands percore lacks");
    assert!(mine.iter().all(|n| redis_list.contains(n)), "{mine:?}");
    let top: Vec<&str> = mine
        .iter()
        .filter(|n| !n.contains('|'))
        .map(String::as_str)
        .collect();
    for proto in ["2", "3"] {
        let (mut a, mut b) = (ours.raw(), theirs.raw());
        a.cmd(&["HELLO", proto]);
        b.cmd(&["HELLO", proto]);
        for name in &top {
            let lacks_some = NOT_YET.iter().any(|n| n.starts_with(&format!("{name}|")));
            let container = a.cmd(&["COMMAND", "DOCS", name]).contains("subcommands");
            for sub in ["DOCS", "INFO"] {
                let (x, y) = (
                    a.cmd(&["COMMAND", sub, name]),
                    b.cmd(&["COMMAND", sub, name]),
                );
                if lacks_some {
                    assert!(x.len() < y.len(), "{name}: {x}");
                } else if container {
                    // Subcommands come in the order of each server's hash table.
                    let q = |s: &Server| -> Value {
                        let v = redis::cmd("COMMAND")
                            .arg(sub)
                            .arg(name)
                            .query(&mut s.client());
                        sorted_subcommands(v.unwrap())
                    };
                    assert_eq!(q(&ours), q(&theirs), "COMMAND {sub} {name}");
                    assert_eq!(x.len(), y.len(), "COMMAND {sub} {name} in RESP{proto}");
                } else {
                    assert_eq!(x, y, "COMMAND {sub} {name} in RESP{proto}");
                }
            }
        }
        for cmd in [
            &[
                "COMMAND",
                "GETKEYSANDFLAGS",
                "LMOVE",
                "a",
                "b",
                "LEFT",
                "RIGHT",
            ][..],
            &["COMMAND", "GETKEYSANDFLAGS", "SET", "k", "v"],
            &[
                "COMMAND",
                "GETKEYSANDFLAGS",
                "SET",
                "k",
                "v",
                "EX",
                "1",
                "get",
            ],
            &[
                "COMMAND",
                "GETKEYSANDFLAGS",
                "BITFIELD",
                "k",
                "GET",
                "u8",
                "0",
            ],
            &[
                "COMMAND",
                "GETKEYSANDFLAGS",
                "BITFIELD",
                "k",
                "INCRBY",
                "u8",
                "0",
                "1",
            ],
            &["COMMAND", "GETKEYSANDFLAGS", "SORT", "k", "STORE", "d"],
            &[
                "COMMAND",
                "GETKEYSANDFLAGS",
                "GEORADIUS",
                "g",
                "0",
                "0",
                "1",
                "km",
                "STORE",
                "d",
            ],
            &[
                "COMMAND",
                "GETKEYSANDFLAGS",
                "MIGRATE",
                "h",
                "1",
                "",
                "0",
                "5",
                "KEYS",
                "a",
                "b",
            ],
            &["COMMAND", "GETKEYSANDFLAGS", "MSET", "a", "1", "b", "2"],
            &[
                "COMMAND",
                "GETKEYSANDFLAGS",
                "ZUNIONSTORE",
                "d",
                "2",
                "a",
                "b",
                "WEIGHTS",
                "1",
                "2",
            ],
            &[
                "COMMAND",
                "GETKEYSANDFLAGS",
                "EVAL",
                "return 1",
                "2",
                "x",
                "y",
                "z",
            ],
            &[
                "COMMAND",
                "GETKEYSANDFLAGS",
                "XREAD",
                "COUNT",
                "2",
                "STREAMS",
                "s1",
                "s2",
                "0",
                "0",
            ],
            &[
                "COMMAND",
                "GETKEYSANDFLAGS",
                "BLMPOP",
                "0",
                "2",
                "a",
                "b",
                "LEFT",
            ],
            &["COMMAND", "GETKEYSANDFLAGS", "OBJECT", "ENCODING", "k"],
            &["COMMAND", "GETKEYSANDFLAGS", "GET"],
            &["COMMAND", "GETKEYSANDFLAGS", "PING", "x"],
            &["COMMAND", "GETKEYSANDFLAGS", "NOSUCH", "x"],
            &["COMMAND", "LIST", "FILTERBY", "PATTERN", "x*"],
            &["COMMAND", "LIST", "FILTERBY", "MODULE", "x"],
            &["COMMAND", "LIST", "FILTERBY", "NOSUCH", "x"],
            &["COMMAND", "LIST", "NOSUCH"],
            &["COMMAND", "DOCS", "nosuch", "get"],
            &["COMMAND", "INFO", "nosuch", "get"],
            &["COMMAND", "HELP"],
        ] {
            let (mut x, mut y) = (a.cmd(cmd), b.cmd(cmd));
            if cmd[1] == "LIST" {
                // Names in each server's hash table order.
                let sorted = |t: &str| {
                    let mut l: Vec<&str> = t.split("\r\n").collect();
                    l.sort();
                    l.join("\r\n")
                };
                (x, y) = (sorted(&x), sorted(&y));
            }
            assert_eq!(x, y, "{cmd:?} in RESP{proto}");
        }
        // ACL categories: percore's commands in each are Redis', less what it lacks.
        for cat in [
            "admin",
            "read",
            "write",
            "keyspace",
            "pubsub",
            "slow",
            "dangerous",
        ] {
            let names = |s: &Server| -> Vec<String> {
                let mut v: Vec<String> = redis::cmd("COMMAND")
                    .arg("LIST")
                    .arg("FILTERBY")
                    .arg("ACLCAT")
                    .arg(cat)
                    .query(&mut s.client())
                    .unwrap();
                v.retain(|n| !NOT_YET.contains(&n.as_str()));
                v.sort();
                v
            };
            assert_eq!(names(&ours), names(&theirs), "@{cat}");
        }
    }
    // redis-cli's help reads COMMAND DOCS: the same text for every command.
    let help = |s: &Server| -> String {
        use std::io::Write;
        let mut child = std::process::Command::new("redis-cli")
            .args(["-p", &s.port.to_string()])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .expect("redis-cli");
        let input: String = top.iter().map(|n| format!("help {n}\n")).collect();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(input.as_bytes())
            .unwrap();
        let out = child.wait_with_output().unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let (x, y) = (help(&ours), help(&theirs));
    assert!(
        x.contains("key [NX|XX] [GT|LT] [CH] [INCR] score member"),
        "{x}"
    );
    // One block per command or subcommand; a container's subcommands come in each
    // server's hash order, and those percore lacks are left out.
    let blocks = |t: &str| -> Vec<String> {
        let mut v: Vec<String> = t
            .split("\r\n\r\n")
            .map(|b| b.trim().to_string())
            .filter(|b| !b.is_empty())
            .filter(|b| {
                !NOT_YET.iter().any(|n| {
                    let shown = n.replace('|', " ").to_uppercase();
                    b.contains(&format!("\u{1b}[1m{shown}\u{1b}[0m"))
                })
            })
            .collect();
        v.sort();
        v
    };
    let (mine, redis_blocks) = (blocks(&x), blocks(&y));
    assert!(mine.len() > 300, "{}", mine.len());
    for (a, b) in mine.iter().zip(&redis_blocks) {
        assert_eq!(a, b);
    }
    assert_eq!(mine.len(), redis_blocks.len());
}

/// DEBUG OBJECT/PROTOCOL/LISTPACK/CHANGE-REPL-ID/STRINGMATCH-TEST, MODULE and LOLWUT as
/// redis-server 7.0 answers them, and glob patterns with unterminated classes (once a panic).
#[test]
fn debug_module_and_lolwut_match_redis() {
    let ours = Server::start_with(2, &["--enable-debug-command", "yes"]);
    let theirs = Server::redis();
    let mut seen = Vec::new();
    for s in [&ours, &theirs] {
        let mut r = s.raw();
        for cmd in [
            &["SET", "a", "hello"][..],
            &["SET", "n", "12345"],
            &["HSET", "h", "f", "v"],
            &["SET", "[a", "x"],
            &["RPUSH", "l", "a", "b", "c"],
        ] {
            r.cmd(cmd);
        }
        // A list of many nodes (elements of every size class), and one cut at 5 a node.
        for i in 0..300 {
            let v = "x".repeat(i * 7 % 600);
            let n = (i * 37).to_string();
            r.cmd(&["RPUSH", "big", &v, &n]);
        }
        let mut out = Vec::new();
        for key in ["a", "n", "h", "l", "big", "five", "plain", "nosuch"] {
            if key == "plain" {
                // Elements of 100 bytes or more get quicklist nodes of their own.
                out.push(r.cmd(&["DEBUG", "QUICKLIST-PACKED-THRESHOLD", "100b"]));
                let long = "y".repeat(150);
                r.cmd(&["RPUSH", "plain", "a", "b", &long, "c", &long]);
                out.push(r.cmd(&["DUMP", "plain"]));
            }
            if key == "five" {
                // A quicklist keeps the fill it was made with: made after the change.
                r.cmd(&["CONFIG", "SET", "list-max-listpack-size", "5"]);
                r.cmd(&[
                    "RPUSH", "five", "1", "2", "3", "4", "5", "6", "7", "8", "9", "10", "11",
                ]);
            }
            // Addresses and clocks differ between servers.
            let o = r.cmd(&["DEBUG", "OBJECT", key]);
            let kept: Vec<&str> = o
                .split(' ')
                .filter(|f| {
                    !f.starts_with("at:0x")
                        && !f.starts_with("lru:")
                        && !f.starts_with("lru_seconds_idle:")
                })
                .collect();
            out.push(kept.join(" "));
        }
        // Both link jemalloc 5.3: its own report.
        let stats = r.cmd(&["MEMORY", "MALLOC-STATS"]);
        assert!(
            stats.contains("___ Begin jemalloc statistics ___\nVersion: \"5.3.0"),
            "{stats}"
        );
        let replid = |r: &mut Raw| crate::harness::info_field(r, "replication", "master_replid");
        let before = replid(&mut r);
        out.push(r.cmd(&["DEBUG", "CHANGE-REPL-ID"]));
        assert_ne!(before, replid(&mut r));
        for cmd in [
            &["DEBUG", "LISTPACK", "h"][..],
            &["DEBUG", "LISTPACK", "a"],
            &["DEBUG", "STRINGMATCH-TEST"],
            &["DEBUG", "QUICKLIST-PACKED-THRESHOLD", "1x"],
            &["DEBUG", "JMAP"],
            &["MODULE", "LIST"],
            &["MODULE", "HELP"],
            &["MODULE", "LOAD", "/nonexistent.so"],
            &["MODULE", "UNLOAD", "x"],
            &["MODULE", "NOSUCH"],
            &["LOLWUT"],
            &["LOLWUT", "VERSION", "7"],
            &["LOLWUT", "VERSION", "x"],
            &["MEMORY", "PURGE"],
            &["MEMORY", "PURGE", "x"],
            &["MEMORY", "MALLOC-STATS", "x"],
            &["KEYS", "[a"],
            &["KEYS", "\\[a"],
            &["KEYS", "a["],
            &["KEYS", "*["],
        ] {
            out.push(r.cmd(cmd));
        }
        for proto in ["3", "2"] {
            r.cmd(&["HELLO", proto]);
            for t in [
                "string", "integer", "double", "bignum", "null", "array", "set", "map", "attrib",
                "push", "verbatim", "true", "false", "nosuch",
            ] {
                out.push(r.cmd(&["DEBUG", "PROTOCOL", t]));
                if (t == "push" || t == "attrib") && proto == "3" {
                    // The reply that follows the push or the attribute.
                    out.push(r.read_reply());
                }
            }
        }
        seen.push(out);
    }
    assert_eq!(seen[0], seen[1]);
}

/// Everything `s` sends within `ms` milliseconds.
fn drain(s: &mut std::net::TcpStream, ms: u64) -> Vec<u8> {
    use std::io::Read;
    s.set_read_timeout(Some(std::time::Duration::from_millis(ms)))
        .unwrap();
    let mut all = Vec::new();
    let mut buf = [0u8; 4096];
    while let Ok(n) = s.read(&mut buf) {
        if n == 0 {
            break;
        }
        all.extend_from_slice(&buf[..n]);
    }
    all
}

/// Under CLIENT REPLY OFF (and SKIP) pushes still arrive, as redis-server lets them through:
/// subscribe and unsubscribe confirmations, published messages, a client's own messages,
/// in RESP2 and RESP3; the replies do not.
#[test]
fn pushes_reach_clients_that_turned_replies_off() {
    use std::io::Write;
    let ours = Server::start(2);
    let theirs = Server::redis();
    let mut seen = Vec::new();
    for s in [&ours, &theirs] {
        let mut got = Vec::new();
        for proto in ["2", "3"] {
            let mut a = std::net::TcpStream::connect(("127.0.0.1", s.port)).unwrap();
            let send = |a: &mut std::net::TcpStream, words: &[&str]| {
                let argv: Vec<&[u8]> = words.iter().map(|w| w.as_bytes()).collect();
                let mut buf = Vec::new();
                resp::write_command(&mut buf, &argv);
                a.write_all(&buf).unwrap();
            };
            send(&mut a, &["HELLO", proto]);
            drain(&mut a, 200);
            send(&mut a, &["CLIENT", "REPLY", "OFF"]);
            send(&mut a, &["SET", "k", "v"]);
            send(&mut a, &["SUBSCRIBE", "ch1", "ch2"]);
            drain(&mut a, 200);
            s.raw().cmd(&["PUBLISH", "ch1", "hello"]);
            if proto == "3" {
                send(&mut a, &["PUBLISH", "ch2", "own"]);
            }
            send(&mut a, &["UNSUBSCRIBE", "ch1"]);
            send(&mut a, &["PING"]);
            send(&mut a, &["CLIENT", "REPLY", "ON"]);
            send(&mut a, &["PING", "back"]);
            got.push(String::from_utf8_lossy(&drain(&mut a, 300)).into_owned());
        }
        // A refused command uses up a SKIP.
        let mut b = std::net::TcpStream::connect(("127.0.0.1", s.port)).unwrap();
        let mut buf = Vec::new();
        for words in [
            &["CLIENT", "REPLY", "SKIP"][..],
            &["NOSUCH"],
            &["GET"],
            &["PING", "x"],
            // A refused EXEC is silenced too (and discards the transaction).
            &["CLIENT", "REPLY", "OFF"],
            &["MULTI"],
            &["SET", "tx", "1"],
            &["EXEC", "extra"],
            &["CLIENT", "REPLY", "ON"],
            &["EXISTS", "tx"],
        ] {
            let argv: Vec<&[u8]> = words.iter().map(|w| w.as_bytes()).collect();
            resp::write_command(&mut buf, &argv);
        }
        b.write_all(&buf).unwrap();
        got.push(String::from_utf8_lossy(&drain(&mut b, 300)).into_owned());
        seen.push(got);
    }
    assert!(seen[0][1].contains("hello"), "{:?}", seen[0]);
    assert_eq!(seen[0], seen[1]);
}

/// The names of a MEMORY STATS reply's fields (RESP2: a flat array of name, value), with
/// the nested db.N maps' names.
fn memory_stats_names(reply: &Value) -> Vec<String> {
    let Value::Array(items) = reply else {
        panic!("{reply:?}")
    };
    let mut names = Vec::new();
    for pair in items.chunks(2) {
        let name = String::from_utf8(bytes(&pair[0])).unwrap();
        if let Value::Array(inner) = &pair[1] {
            for p in inner.chunks(2) {
                names.push(format!(
                    "{name}/{}",
                    String::from_utf8(bytes(&p[0])).unwrap()
                ));
            }
        } else {
            names.push(name);
        }
    }
    names
}

/// MEMORY STATS has redis-server's fields in its order (RESP2 and RESP3 shapes), figures
/// that add up (the dataset grows with the data, the overheads stay within what is
/// allocated, keys.count counts every shard's keys, db.N for each database with keys), and
/// MEMORY DOCTOR answers as redis-server for an instance this small.
#[test]
fn memory_stats_and_doctor_match_redis() {
    let ours = Server::start(2);
    let theirs = Server::redis();
    let mut seen = Vec::new();
    for s in [&ours, &theirs] {
        let mut c = s.client();
        let mut r = s.raw();
        let empty = memory_stats_names(&redis::cmd("MEMORY").arg("STATS").query(&mut c).unwrap());
        let doctor = r.cmd(&["MEMORY", "DOCTOR"]);
        for i in 0..2000 {
            let _: () = redis::cmd("SET")
                .arg(format!("key:{i}"))
                .arg("x".repeat(100))
                .query(&mut c)
                .unwrap();
        }
        let _: () = redis::cmd("SELECT").arg(3).query(&mut c).unwrap();
        let _: () = redis::cmd("SET")
            .arg("other")
            .arg("1")
            .query(&mut c)
            .unwrap();
        let full: Value = redis::cmd("MEMORY").arg("STATS").query(&mut c).unwrap();
        let names = memory_stats_names(&full);
        let Value::Array(items) = &full else { panic!() };
        let field = |name: &str| -> i64 {
            let i = items
                .chunks(2)
                .position(|p| bytes(&p[0]) == name.as_bytes())
                .unwrap_or_else(|| panic!("no {name}"));
            int(&items[2 * i + 1])
        };
        assert_eq!(field("keys.count"), 2001);
        let total = field("total.allocated");
        assert!(field("overhead.total") <= total, "{full:?}");
        assert!(field("dataset.bytes") >= 2000 * 100, "{full:?}");
        assert!(field("startup.allocated") <= total);
        assert!(field("peak.allocated") >= total);
        assert!(field("clients.normal") > 0);
        let used: i64 = crate::harness::info_field(&mut r, "memory", "used_memory")
            .parse()
            .unwrap();
        assert!((used - total).abs() < total / 10, "{used} vs {total}");
        let mut r3 = s.raw();
        r3.cmd(&["HELLO", "3"]);
        let resp3 = r3.cmd(&["MEMORY", "STATS"]);
        assert!(resp3.starts_with("%29\r\n"), "{resp3}");
        seen.push((
            empty,
            names,
            doctor,
            r.cmd(&["MEMORY", "STATS", "x"]),
            r.cmd(&["MEMORY", "DOCTOR", "x"]),
            r.cmd(&["MEMORY", "HELP"]),
        ));
    }
    assert_eq!(seen[0], seen[1]);
}

/// MEMORY USAGE is close to what the allocator gives for the key: for each kind of value,
/// the growth of used_memory over many such keys, per key, against MEMORY USAGE of one
/// (SAMPLES 0: every element counted).
#[test]
fn memory_usage_is_close_to_the_allocator() {
    let s = Server::start(1);
    let mut c = s.client();
    let used = |c: &mut redis::Connection| -> f64 {
        let info: String = redis::cmd("INFO").arg("memory").query(c).unwrap();
        info.lines()
            .find_map(|l| l.strip_prefix("used_memory:"))
            .unwrap()
            .trim()
            .parse()
            .unwrap()
    };
    type Make = fn(&str) -> redis::Cmd;
    let kinds: [(&str, usize, Make); 8] = [
        ("str100", 4000, |k| {
            redis::cmd("SET").arg(k).arg("x".repeat(100)).clone()
        }),
        ("str10k", 200, |k| {
            redis::cmd("SET").arg(k).arg("x".repeat(10_000)).clone()
        }),
        ("list", 300, |k| {
            redis::cmd("RPUSH")
                .arg(k)
                .arg((0..1000).map(|i| format!("elem{i}")).collect::<Vec<_>>())
                .clone()
        }),
        ("hash50", 2000, |k| {
            redis::cmd("HSET")
                .arg(k)
                .arg(
                    (0..50)
                        .flat_map(|i| [format!("f{i}"), format!("v{i}")])
                        .collect::<Vec<_>>(),
                )
                .clone()
        }),
        ("hash5k", 40, |k| {
            redis::cmd("HSET")
                .arg(k)
                .arg(
                    (0..5000)
                        .flat_map(|i| [format!("field{i}"), format!("value{i}")])
                        .collect::<Vec<_>>(),
                )
                .clone()
        }),
        ("setint", 2000, |k| {
            redis::cmd("SADD")
                .arg(k)
                .arg((0..400).collect::<Vec<i64>>())
                .clone()
        }),
        ("set5k", 40, |k| {
            redis::cmd("SADD")
                .arg(k)
                .arg((0..5000).map(|i| format!("m{i}")).collect::<Vec<_>>())
                .clone()
        }),
        ("zset5k", 40, |k| {
            redis::cmd("ZADD")
                .arg(k)
                .arg(
                    (0..5000)
                        .flat_map(|i| [format!("{}", i as f64 * 1.5), format!("member{i}")])
                        .collect::<Vec<_>>(),
                )
                .clone()
        }),
    ];
    for (name, n, make) in kinds {
        let _: () = redis::cmd("FLUSHALL").arg("SYNC").query(&mut c).unwrap();
        let _: () = redis::cmd("MEMORY").arg("PURGE").query(&mut c).unwrap();
        let before = used(&mut c);
        // Written from a connection of its own, gone (with its buffers) before measuring.
        let mut w = s.client();
        for chunk in (0..n).collect::<Vec<_>>().chunks(100) {
            let mut p = redis::pipe();
            for i in chunk {
                p.add_command(make(&format!("{name}:{i}"))).ignore();
            }
            let _: () = p.query(&mut w).unwrap();
        }
        drop(w);
        std::thread::sleep(std::time::Duration::from_millis(100));
        let per_key = (used(&mut c) - before) / n as f64;
        let usage: i64 = redis::cmd("MEMORY")
            .arg("USAGE")
            .arg(format!("{name}:0"))
            .arg("SAMPLES")
            .arg(0)
            .query(&mut c)
            .unwrap();
        let ratio = usage as f64 / per_key;
        assert!(
            (0.75..1.3).contains(&ratio),
            "{name}: MEMORY USAGE {usage}, the allocator {per_key:.0} a key"
        );
    }
}

/// CLIENT LIST shows a client in MULTI as redis-server does: flag x and the count queued.
#[test]
fn client_list_shows_transactions() {
    let ours = Server::start(2);
    let theirs = Server::redis();
    let mut seen = Vec::new();
    for s in [&ours, &theirs] {
        let mut a = s.raw();
        let mut b = s.raw();
        let id = a
            .cmd(&["CLIENT", "ID"])
            .trim_start_matches(':')
            .trim()
            .to_string();
        let fields = |b: &mut Raw| -> String {
            let line = b.cmd(&["CLIENT", "LIST", "ID", &id]);
            line.split(' ')
                .filter(|f| f.starts_with("flags=") || f.starts_with("multi="))
                .collect::<Vec<_>>()
                .join(" ")
        };
        let mut out = vec![fields(&mut b)];
        a.cmd(&["MULTI"]);
        out.push(fields(&mut b));
        a.cmd(&["SET", "k", "v"]);
        a.cmd(&["GET", "k"]);
        out.push(fields(&mut b));
        a.cmd(&["EXEC"]);
        out.push(fields(&mut b));
        a.cmd(&["MULTI"]);
        a.cmd(&["PING"]);
        a.cmd(&["DISCARD"]);
        out.push(fields(&mut b));
        seen.push(out);
    }
    assert_eq!(seen[0], seen[1]);
}

/// A container's subcommand is looked up and its arity checked before authentication and
/// the other checks, as redis-server's lookupCommand does.
#[test]
fn subcommands_are_checked_first() {
    let ours = Server::start_with(2, &["--requirepass", "pw"]);
    let theirs = Server::redis_with(&["--requirepass", "pw"]);
    let mut seen = Vec::new();
    for s in [&ours, &theirs] {
        let mut r = s.raw();
        let mut out = Vec::new();
        for cmd in [
            &["CLIENT", "FOO"][..],
            &["CONFIG", "GET"],
            &["OBJECT", "ENCODING"],
            &["CLIENT", "KILL"],
            &["CLIENT", "ID"],
            &["CONFIG"],
            &["MEMORY", "USAGE"],
            &["XINFO", "nosuch", "x"],
            &["GET", "k"],
        ] {
            out.push(r.cmd(cmd));
        }
        r.cmd(&["AUTH", "pw"]);
        r.cmd(&["MULTI"]);
        out.push(r.cmd(&["CLIENT", "FOO"]));
        out.push(r.cmd(&["CONFIG", "GET"]));
        out.push(r.cmd(&["PING"]));
        out.push(r.cmd(&["EXEC"]));
        seen.push(out);
    }
    assert_eq!(seen[0], seen[1]);
}

/// The four cells LOLWUT VERSION 6 paints with: a space in black, two grays and white.
const GRAYS: [&str; 4] = [
    "\x1b[0;30;40m \x1b[0m",
    "\x1b[0;90;100m \x1b[0m",
    "\x1b[0;37;47m \x1b[0m",
    "\x1b[0;97;107m \x1b[0m",
];

/// A LOLWUT reply with each line of art reduced to its width in braille characters or gray
/// cells; any other line (a caption, the blank line before it, an error) is kept whole, so
/// art drawn in another alphabet shows.
fn lolwut_shape(reply: &str) -> Vec<String> {
    let body = reply
        .split_once("\r\n")
        .and_then(|(_, rest)| rest.strip_suffix("\r\n"))
        .unwrap_or(reply);
    let cells = |mut line: &str| {
        let mut n = 0;
        while !line.is_empty() {
            line = GRAYS.iter().find_map(|g| line.strip_prefix(g))?;
            n += 1;
        }
        Some(n)
    };
    body.split('\n')
        .map(|line| {
            if !line.is_empty() && line.chars().all(|c| ('\u{2800}'..='\u{28ff}').contains(&c)) {
                format!("braille x{}", line.chars().count())
            } else if let Some(n) = cells(line).filter(|&n| n > 0) {
                format!("grays x{n}")
            } else {
                line.to_string()
            }
        })
        .collect()
}

/// LOLWUT VERSION 5 and 6 draw redis-server 7.0's art: byte for byte where it has no random
/// part (Schotter of at most two rows of squares, a skyline one pixel tall) and for argument
/// errors; elsewhere lines of the same widths in the same alphabet under the same caption.
#[test]
fn lolwut_art_matches_redis() {
    let ours = Server::start(2);
    let theirs = Server::redis();
    let (mut a, mut b) = (ours.raw(), theirs.raw());
    let lolwut = |r: &mut Raw, args: &[&str]| {
        let mut cmd = vec!["LOLWUT", "VERSION"];
        cmd.extend(args);
        r.cmd(&cmd)
    };
    for args in [
        &["5", "10", "2", "2"][..],
        &["5", "40", "6", "1"],
        &["5", "33", "7", "2", "ignored"],
        // Clamped to 1000 columns, 200 squares a row, 1 a column.
        &["5", "5000", "300", "0"],
        // Clamped to 1 column (no padding) and 1 square a row.
        &["5", "-4", "0", "2"],
        // The version is read as a C unsigned int: both are 5.
        &["4294967301", "12", "3", "2"],
        &["-4294967291", "12", "3", "1"],
        &["6", "20", "1"],
        &["6", "5000", "0"],
        &["5", "x"],
        &["5", "10", "2", "1.5"],
        &["6", "20", "99999999999999999999"],
        &["6", "", "3"],
    ] {
        assert_eq!(lolwut(&mut a, args), lolwut(&mut b, args), "{args:?}");
    }
    for args in [
        &["5"][..],
        &["5", "10", "2", "3"],
        &["5", "0", "0", "300"],
        &["5", "33", "5", "40"],
        &["6"],
        &["6", "20", "10"],
        &["6", "0", "3"],
        &["6", "300", "40"],
    ] {
        let (mine, redis) = (lolwut(&mut a, args), lolwut(&mut b, args));
        let shape = lolwut_shape(&mine);
        assert!(
            shape.len() > 2 && shape[0].contains(" x"),
            "{args:?}: {mine}"
        );
        assert_eq!(shape, lolwut_shape(&redis), "{args:?}");
    }
    // The default skyline's lit windows use both grays, between black walls under a white sky.
    for r in [&mut a, &mut b] {
        let sky = lolwut(r, &["6"]);
        assert!(GRAYS.iter().all(|g| sky.contains(g)), "{sky}");
    }
    for r in [&mut a, &mut b] {
        r.cmd(&["HELLO", "3"]);
    }
    let args = ["5", "20", "3", "2"];
    assert_eq!(lolwut(&mut a, &args), lolwut(&mut b, &args));
}
