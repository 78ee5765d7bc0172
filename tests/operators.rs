//! What operators use to watch a running server (issue 20), compared with redis-server 7.0:
//! SLOWLOG.

use crate::harness::Server;
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
