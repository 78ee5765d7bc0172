//! Pub/Sub across cores: every subscriber on every core gets every message, in publish
//! order, and PUBLISH counts them exactly; patterns, shard channels, RESP3 pushes, the
//! subscribed state, introspection, and slow subscribers cut off at their buffer limit.

use crate::harness::{Raw, Server};
use std::time::{Duration, Instant};

fn subscribe(srv: &Server, argv: &[&str]) -> Raw {
    let mut r = srv.raw();
    let words: Vec<&[u8]> = argv.iter().map(|a| a.as_bytes()).collect();
    let mut buf = Vec::new();
    resp::write_command(&mut buf, &words);
    r.send(&buf);
    for _ in 1..argv.len() {
        r.read_reply();
    }
    r
}

fn int(reply: &str) -> i64 {
    reply.trim_start_matches(':').trim().parse().unwrap_or(-1)
}

fn fan_out(shards: usize) {
    let srv = Server::start(shards);
    // Enough connections that every core has some (the kernel spreads them).
    let mut subs: Vec<Raw> = (0..12)
        .map(|_| subscribe(&srv, &["SUBSCRIBE", "news"]))
        .collect();
    let mut psub = subscribe(&srv, &["PSUBSCRIBE", "n*s"]);
    let mut publisher = srv.raw();
    let n = 200;
    let hops_before = crate::harness::hops(&mut publisher);
    for i in 0..n {
        let got = int(&publisher.cmd(&["PUBLISH", "news", &format!("m{i}")]));
        assert_eq!(
            got, 13,
            "PUBLISH must count every receiver (shards={shards})"
        );
    }
    // A message crosses to each other core once, however many subscribers are there (13
    // receivers: per-subscriber sends would be up to 13 per message). INFO itself asks
    // every other core once.
    let hops = crate::harness::hops(&mut publisher) - hops_before;
    assert!(
        hops <= (n as u64 + 1) * (shards as u64 - 1),
        "{hops} hops for {n} messages on {shards} shards"
    );
    for (k, s) in subs.iter_mut().enumerate() {
        for i in 0..n {
            let want = format!(
                "*3\r\n$7\r\nmessage\r\n$4\r\nnews\r\n${}\r\nm{i}\r\n",
                format!("m{i}").len()
            );
            assert_eq!(s.read_reply(), want, "subscriber {k}, message {i}");
        }
    }
    for i in 0..n {
        let m = format!("m{i}");
        let want = format!(
            "*4\r\n$8\r\npmessage\r\n$3\r\nn*s\r\n$4\r\nnews\r\n${}\r\n{m}\r\n",
            m.len()
        );
        assert_eq!(psub.read_reply(), want);
    }
    assert_eq!(
        publisher.cmd(&["PUBSUB", "NUMSUB", "news", "other"]),
        "*4\r\n$4\r\nnews\r\n:12\r\n$5\r\nother\r\n:0\r\n"
    );
    assert_eq!(publisher.cmd(&["PUBSUB", "NUMPAT"]), ":1\r\n");
    assert_eq!(
        publisher.cmd(&["PUBSUB", "CHANNELS"]),
        "*1\r\n$4\r\nnews\r\n"
    );
    // Pipelined: one write of 300 PUBLISH (and a GET among them), replies in order with
    // exact counts, messages in order everywhere.
    let mut pipeline = Vec::new();
    for i in 0..300 {
        if i == 150 {
            resp::write_command(&mut pipeline, &[b"GET", b"nokey"]);
        }
        let m = format!("p{i}");
        resp::write_command(&mut pipeline, &[b"PUBLISH", b"news", m.as_bytes()]);
    }
    publisher.send(&pipeline);
    for i in 0..301 {
        let want = if i == 150 { "$-1\r\n" } else { ":13\r\n" };
        assert_eq!(publisher.read_reply(), want, "pipelined reply {i}");
    }
    for (k, s) in subs
        .iter_mut()
        .chain(std::iter::once(&mut psub))
        .enumerate()
    {
        for i in 0..300 {
            let m = format!("p{i}");
            let got = s.read_reply();
            assert!(
                got.ends_with(&format!("${}\r\n{m}\r\n", m.len())),
                "subscriber {k}, {i}: {got:?}"
            );
        }
    }
    // Disconnected subscribers stop counting.
    drop(subs);
    let start = Instant::now();
    while int(&publisher.cmd(&["PUBLISH", "news", "x"])) != 1 {
        assert!(
            start.elapsed() < Duration::from_secs(5),
            "subscribers not dropped"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn fan_out_two_shards() {
    fan_out(2);
}

#[test]
fn fan_out_four_shards() {
    fan_out(4);
}

#[test]
fn subscribed_state_resp3_and_shard_channels() {
    let srv = Server::start(2);
    let mut r = srv.raw();
    assert_eq!(
        r.cmd(&["SUBSCRIBE", "a"]),
        "*3\r\n$9\r\nsubscribe\r\n$1\r\na\r\n:1\r\n"
    );
    assert_eq!(
        r.cmd(&["GET", "k"]),
        "-ERR Can't execute 'get': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context\r\n"
    );
    assert_eq!(r.cmd(&["PING"]), "*2\r\n$4\r\npong\r\n$0\r\n\r\n");
    let list = srv.raw().cmd(&["CLIENT", "LIST"]);
    assert!(
        list.lines()
            .any(|l| l.contains("flags=P") && l.contains(" sub=1 psub=0 ssub=0 ")),
        "{list}"
    );
    assert_eq!(r.cmd(&["PING", "hi"]), "*2\r\n$4\r\npong\r\n$2\r\nhi\r\n");
    r.send(b"*3\r\n$9\r\nsubscribe\r\n$1\r\nb\r\n$1\r\na\r\n");
    assert_eq!(r.read_reply(), "*3\r\n$9\r\nsubscribe\r\n$1\r\nb\r\n:2\r\n");
    assert_eq!(r.read_reply(), "*3\r\n$9\r\nsubscribe\r\n$1\r\na\r\n:2\r\n");
    r.send(b"*1\r\n$11\r\nunsubscribe\r\n");
    assert_eq!(
        r.read_reply(),
        "*3\r\n$11\r\nunsubscribe\r\n$1\r\na\r\n:1\r\n"
    );
    assert_eq!(
        r.read_reply(),
        "*3\r\n$11\r\nunsubscribe\r\n$1\r\nb\r\n:0\r\n"
    );
    assert_eq!(
        r.cmd(&["UNSUBSCRIBE"]),
        "*3\r\n$11\r\nunsubscribe\r\n$-1\r\n:0\r\n"
    );
    assert_eq!(r.cmd(&["GET", "k"]), "$-1\r\n");
    // RESP3: pushes, and ordinary commands while subscribed.
    let mut r3 = srv.raw();
    assert!(r3.cmd(&["HELLO", "3"]).starts_with('%'));
    assert_eq!(
        r3.cmd(&["SSUBSCRIBE", "sc"]),
        ">3\r\n$10\r\nssubscribe\r\n$2\r\nsc\r\n:1\r\n"
    );
    assert_eq!(r3.cmd(&["GET", "k"]), "_\r\n");
    let mut p = srv.raw();
    assert_eq!(p.cmd(&["SPUBLISH", "sc", "hello"]), ":1\r\n");
    assert_eq!(p.cmd(&["PUBLISH", "sc", "hello"]), ":0\r\n");
    assert_eq!(
        r3.read_reply(),
        ">3\r\n$8\r\nsmessage\r\n$2\r\nsc\r\n$5\r\nhello\r\n"
    );
    assert_eq!(
        p.cmd(&["PUBSUB", "SHARDNUMSUB", "sc"]),
        "*2\r\n$2\r\nsc\r\n:1\r\n"
    );
    assert_eq!(
        p.cmd(&["PUBSUB", "SHARDCHANNELS", "s*"]),
        "*1\r\n$2\r\nsc\r\n"
    );
    // A client's own message comes before its PUBLISH reply.
    assert_eq!(
        r3.cmd(&["SUBSCRIBE", "self"]),
        ">3\r\n$9\r\nsubscribe\r\n$4\r\nself\r\n:1\r\n"
    );
    r3.send(b"*3\r\n$7\r\npublish\r\n$4\r\nself\r\n$1\r\nx\r\n");
    assert_eq!(
        r3.read_reply(),
        ">3\r\n$7\r\nmessage\r\n$4\r\nself\r\n$1\r\nx\r\n"
    );
    assert_eq!(r3.read_reply(), ":1\r\n");
    assert_eq!(r3.cmd(&["RESET"]), "+RESET\r\n");
    assert_eq!(p.cmd(&["PUBLISH", "self", "y"]), ":0\r\n");
}

/// A subscriber that stops reading is disconnected at its output buffer limit; the others
/// get everything, and the server's memory stays bounded.
#[test]
fn slow_subscriber_is_cut_off() {
    let srv = Server::start(2);
    let mut admin = srv.raw();
    assert_eq!(
        admin.cmd(&[
            "CONFIG",
            "SET",
            "client-output-buffer-limit",
            "pubsub 1mb 256kb 1"
        ]),
        "+OK\r\n"
    );
    let mut slow = subscribe(&srv, &["SUBSCRIBE", "feed"]);
    let mut fast = subscribe(&srv, &["SUBSCRIBE", "feed"]);
    let payload = "x".repeat(16 << 10);
    let rss_before = rss_kb(srv.pid());
    let reader = std::thread::spawn(move || {
        let mut n = 0;
        while let Some(r) = fast.try_read_reply() {
            if r.contains("feed") {
                n += 1;
            }
            if n == 3000 {
                break;
            }
        }
        n
    });
    let mut receivers = Vec::new();
    for _ in 0..3000 {
        receivers.push(int(&admin.cmd(&["PUBLISH", "feed", &payload])));
    }
    assert_eq!(
        reader.join().unwrap(),
        3000,
        "the fast subscriber got everything"
    );
    // 48 MB were published and one subscriber never read: the server kept at most its
    // limit for it (1 MB), not the stream.
    let grown = rss_kb(srv.pid()).saturating_sub(rss_before);
    assert!(grown < 16 << 10, "RSS grew {grown} kB");
    assert_eq!(receivers[0], 2);
    assert_eq!(
        *receivers.last().unwrap(),
        1,
        "the slow subscriber was dropped"
    );
    // The slow one never read: its connection is gone.
    slow.stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .ok();
    let mut closed = false;
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(5) {
        if slow.try_read_reply().is_none() {
            closed = true;
            break;
        }
    }
    assert!(closed, "the slow subscriber's connection was not closed");
}

/// The same subscriptions made on redis-server and on percore (4 shards) give the same
/// subscribe/unsubscribe confirmations and the same PUBSUB answers.
#[test]
fn introspection_matches_redis() {
    let redis = Server::redis();
    let ours = Server::start(4);
    let script: &[&[&str]] = &[
        &["SUBSCRIBE", "a", "b", "a"],
        &["PSUBSCRIBE", "a*", "b?", "a*"],
        &["SSUBSCRIBE", "s1", "s2"],
        &["UNSUBSCRIBE", "b", "zz"],
        &["PUNSUBSCRIBE", "nope"],
        &["SUNSUBSCRIBE", "s2"],
    ];
    let queries: &[&[&str]] = &[
        &["PUBSUB", "NUMSUB", "a", "b", "c"],
        &["PUBSUB", "NUMPAT"],
        &["PUBSUB", "SHARDNUMSUB", "s1", "s2"],
        &["PUBSUB", "SHARDCHANNELS"],
        &["PUBSUB", "CHANNELS", "a*"],
        &["PUBLISH", "a", "m"],
        &["PUBLISH", "b1", "m"],
        &["SPUBLISH", "s1", "m"],
        &["PUBSUB", "NUMSUB"],
        &["PUBSUB", "FOO"],
        &["PUBSUB", "NUMPAT", "x"],
    ];
    let mut keep = Vec::new();
    let mut per_server: Vec<Vec<String>> = Vec::new();
    for srv in [&redis, &ours] {
        // Three clients with the same subscriptions, on whatever cores they land.
        let mut replies = Vec::new();
        for _ in 0..3 {
            let mut c = srv.raw();
            for cmd in script {
                let words: Vec<&[u8]> = cmd.iter().map(|a| a.as_bytes()).collect();
                let mut buf = Vec::new();
                resp::write_command(&mut buf, &words);
                c.send(&buf);
                for _ in 1..cmd.len() {
                    replies.push(c.read_reply());
                }
            }
            keep.push(c);
        }
        let mut q = srv.raw();
        for cmd in queries {
            let reply = q.cmd(cmd);
            // CHANNELS lists come in hash order in Redis: compare them sorted.
            let mut lines: Vec<&str> = reply.split("\r\n").collect();
            if cmd.len() >= 2 && cmd[1].ends_with("CHANNELS") {
                lines.sort();
            }
            replies.push(lines.join("|"));
        }
        per_server.push(replies);
    }
    let (redis_replies, ours_replies) = (&per_server[0], &per_server[1]);
    assert_eq!(ours_replies, redis_replies);
}

/// "channel message" of each pmessage in `n` replies.
fn read_events(sub: &mut Raw, n: usize) -> Vec<String> {
    (0..n)
        .map(|_| {
            let m = sub.read_reply();
            let parts: Vec<&str> = m.split("\r\n").collect();
            format!("{} {}", parts[6], parts[8])
        })
        .collect()
}

/// Keyspace events reach subscribers on every core, in each writer's command order
/// whichever shards its keys live on; CONFIG SET turns them on and off at run time.
fn keyspace_events(shards: usize) {
    let srv = Server::start(shards);
    let mut writer = srv.raw();
    assert_eq!(
        writer.cmd(&["CONFIG", "SET", "notify-keyspace-events", "KEA"]),
        "+OK\r\n"
    );
    // Several listeners, so that the kernel puts some on other cores than the writer.
    let mut subs: Vec<Raw> = (0..6)
        .map(|_| subscribe(&srv, &["PSUBSCRIBE", "__keyspace@0__:*"]))
        .collect();
    // SET k, LPUSH l, DEL k for 40 pairs: their events in order.
    let expected = |k: &str, l: &str| -> Vec<String> {
        (0..40)
            .flat_map(|i| {
                [
                    format!("__keyspace@0__:{k}:{i} set"),
                    format!("__keyspace@0__:{l}:{i} lpush"),
                    format!("__keyspace@0__:{k}:{i} del"),
                ]
            })
            .collect()
    };
    let mut keys: Vec<String> = Vec::new();
    for i in 0..40 {
        let k = format!("key:{i}");
        writer.cmd(&["SET", &k, "v"]);
        writer.cmd(&["LPUSH", &format!("list:{i}"), "a", "b"]);
        writer.cmd(&["DEL", &k]);
        keys.push(k);
    }
    for (n, sub) in subs.iter_mut().enumerate() {
        let got = read_events(sub, 120);
        assert_eq!(
            got,
            expected("key", "list"),
            "listener {n}, shards={shards}"
        );
    }
    // The same pipelined in one write (keys on every shard, replies deferred): the events
    // still follow the commands' order.
    let mut pipeline = Vec::new();
    for i in 0..40 {
        let (k, l) = (format!("pkey:{i}"), format!("plist:{i}"));
        resp::write_command(&mut pipeline, &[b"SET", k.as_bytes(), b"v"]);
        resp::write_command(&mut pipeline, &[b"LPUSH", l.as_bytes(), b"a"]);
        resp::write_command(&mut pipeline, &[b"DEL", k.as_bytes()]);
    }
    writer.send(&pipeline);
    for _ in 0..120 {
        writer.read_reply();
    }
    for (n, sub) in subs.iter_mut().enumerate() {
        let got = read_events(sub, 120);
        let want = expected("pkey", "plist");
        assert_eq!(got, want, "pipelined, listener {n}, shards={shards}");
    }
    // A push that serves a blocked client: the push's event, then the pop's, then the
    // emptied list's "del", whatever cores the writer, the waiter and the key are on.
    for i in 0..8 {
        let key = format!("bq:{i}");
        let mut waiter = srv.raw();
        waiter.send(
            format!(
                "*3\r\n$5\r\nBLPOP\r\n${}\r\n{key}\r\n$1\r\n5\r\n",
                key.len()
            )
            .as_bytes(),
        );
        let deadline = Instant::now() + Duration::from_secs(5);
        while !writer
            .cmd(&["INFO", "clients"])
            .contains("blocked_clients:1")
        {
            assert!(Instant::now() < deadline, "the waiter never blocked");
            std::thread::sleep(Duration::from_millis(5));
        }
        assert_eq!(int(&writer.cmd(&["LPUSH", &key, "x"])), 1);
        assert!(waiter.read_reply().contains(&key));
        for (n, sub) in subs.iter_mut().enumerate() {
            let got = read_events(sub, 3);
            let want = ["lpush", "lpop", "del"].map(|e| format!("__keyspace@0__:{key} {e}"));
            assert_eq!(got, want, "listener {n}, shards={shards}");
        }
    }
    // BLMOVE served across shards ({a} and {b} are on different shards for 2 and 4): the
    // push that served it, then the pop and del on the source, in that order. The
    // destination's push is made by the mover's core and may land anywhere among them
    // (Redis raises it right before the pop: a known difference, see the issue 6 notes).
    let mut mover = srv.raw();
    mover.send(b"*6\r\n$6\r\nBLMOVE\r\n$6\r\nsrc{a}\r\n$6\r\ndst{b}\r\n$4\r\nLEFT\r\n$5\r\nRIGHT\r\n$1\r\n5\r\n");
    let deadline = Instant::now() + Duration::from_secs(5);
    while !writer
        .cmd(&["INFO", "clients"])
        .contains("blocked_clients:1")
    {
        assert!(Instant::now() < deadline, "the mover never blocked");
        std::thread::sleep(Duration::from_millis(5));
    }
    assert_eq!(int(&writer.cmd(&["LPUSH", "src{a}", "x"])), 1);
    assert_eq!(mover.read_reply(), "$1\r\nx\r\n");
    for (n, sub) in subs.iter_mut().enumerate() {
        let mut got = read_events(sub, 4);
        let dst = got.iter().position(|e| e.contains("dst{b}"));
        let rpush = dst.map(|i| got.remove(i));
        assert_eq!(rpush.as_deref(), Some("__keyspace@0__:dst{b} rpush"));
        let want = [
            "__keyspace@0__:src{a} lpush",
            "__keyspace@0__:src{a} lpop",
            "__keyspace@0__:src{a} del",
        ];
        assert_eq!(got, want, "BLMOVE, listener {n}, shards={shards}");
    }
    // Expiry, lazy (a read finds the key expired) and active (nobody touches it).
    let mut sub = subscribe(&srv, &["SUBSCRIBE", "__keyevent@0__:expired"]);
    writer.cmd(&["SET", "lazy", "v", "PX", "30"]);
    writer.cmd(&["SET", "active", "v", "PX", "30"]);
    std::thread::sleep(Duration::from_millis(60));
    assert_eq!(writer.cmd(&["GET", "lazy"]), "$-1\r\n");
    let expired = [sub.read_reply(), sub.read_reply()];
    for key in ["$6\r\nactive\r\n", "$4\r\nlazy\r\n"] {
        assert!(
            expired.iter().any(|e| e.ends_with(key)),
            "{key}: {expired:?}"
        );
    }
    // Off again: a listener hears nothing (a PUBLISH after the writes arrives first).
    assert_eq!(
        writer.cmd(&["CONFIG", "SET", "notify-keyspace-events", ""]),
        "+OK\r\n"
    );
    let mut probe = subscribe(&srv, &["PSUBSCRIBE", "*"]);
    writer.cmd(&["SET", "quiet", "v"]);
    writer.cmd(&["PUBLISH", "marker", "m"]);
    let m = probe.read_reply();
    assert!(m.ends_with("$6\r\nmarker\r\n$1\r\nm\r\n"), "{m:?}");
}

#[test]
fn keyspace_events_two_shards() {
    keyspace_events(2);
}

#[test]
fn keyspace_events_four_shards() {
    keyspace_events(4);
}

/// The pubsub_* lines of INFO stats.
fn info_pubsub(c: &mut Raw) -> String {
    c.cmd(&["INFO", "stats"])
        .split("\r\n")
        .filter(|l| l.starts_with("pubsub"))
        .collect::<Vec<_>>()
        .join("|")
}

/// Everything a client received since its last drain, up to a PING's reply.
fn drain(c: &mut Raw) -> Vec<String> {
    c.send(b"*1\r\n$4\r\nPING\r\n");
    let mut got = Vec::new();
    loop {
        let m = c.read_reply();
        if m == "+PONG\r\n" || m.starts_with("*2\r\n$4\r\npong\r\n") {
            return got;
        }
        got.push(m);
    }
}

/// Random subscribe/unsubscribe/publish/introspection sequences from several clients, run
/// against redis-server and percore (4 shards): every reply, every delivered message and
/// the INFO counts must match.
#[test]
fn pubsub_differential() {
    const CLIENTS: usize = 6;
    let redis = Server::redis();
    let ours = Server::start(4);
    let names = ["c0", "c1", "c*", "news", "n1", "x"];
    // Redis' glob rules: classes, ranges, negation, escapes, '?'.
    let patterns = ["c*", "c[0-1]", "?1", "*", "n[a-z]?s", "c\\*", "[^c]*", "x"];
    let seeds: u64 = std::env::var("PUBSUB_SEEDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(20);
    for seed in 0..seeds {
        let mut rng = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
        let mut next = |n: usize| {
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            (rng % n as u64) as usize
        };
        let mut script: Vec<(usize, Vec<String>)> = Vec::new();
        for _ in 0..120 {
            let who = next(CLIENTS + 1);
            let mut words: Vec<String> = Vec::new();
            let pick = |next: &mut dyn FnMut(usize) -> usize, pool: &[&str]| {
                (0..1 + next(3))
                    .map(|_| pool[next(pool.len())].to_string())
                    .collect::<Vec<_>>()
            };
            if who == CLIENTS {
                // The publisher / inquirer, never subscribed.
                match next(8) {
                    0 | 1 => words = vec!["PUBLISH".into(), names[next(6)].into(), "m".into()],
                    2 => words = vec!["SPUBLISH".into(), names[next(6)].into(), "s".into()],
                    3 => {
                        words = vec!["PUBSUB".into(), "NUMSUB".into()];
                        words.extend(pick(&mut next, &names));
                    }
                    4 => words = vec!["PUBSUB".into(), "NUMPAT".into()],
                    5 => {
                        words = vec!["PUBSUB".into(), "SHARDNUMSUB".into()];
                        words.extend(pick(&mut next, &names));
                    }
                    6 => {
                        words = vec!["PUBSUB".into(), "CHANNELS".into()];
                        if next(2) == 0 {
                            words.push(patterns[next(patterns.len())].into());
                        }
                    }
                    _ => words = vec!["PUBSUB".into(), "SHARDCHANNELS".into()],
                }
            } else {
                let (cmd, pool): (&str, &[&str]) = match next(7) {
                    0 | 1 => ("SUBSCRIBE", &names),
                    2 => ("UNSUBSCRIBE", &names),
                    3 => ("PSUBSCRIBE", &patterns),
                    4 => ("PUNSUBSCRIBE", &patterns),
                    5 => ("SSUBSCRIBE", &names),
                    _ => ("SUNSUBSCRIBE", &names),
                };
                words.push(cmd.into());
                // Unsubscribing with no names drops every subscription of that kind.
                if !(cmd.contains("UNSUB") && next(4) == 0) {
                    words.extend(pick(&mut next, pool));
                }
            }
            script.push((who, words));
        }
        let mut outputs: Vec<Vec<String>> = Vec::new();
        for srv in [&redis, &ours] {
            let mut clients: Vec<Raw> = (0..=CLIENTS).map(|_| srv.raw()).collect();
            let mut out = Vec::new();
            for (who, words) in &script {
                let c = &mut clients[*who];
                let argv: Vec<&[u8]> = words.iter().map(|w| w.as_bytes()).collect();
                let mut buf = Vec::new();
                resp::write_command(&mut buf, &argv);
                c.send(&buf);
                if *who == CLIENTS {
                    let mut reply = c.read_reply();
                    if words[0] == "PUBSUB" && words[1].ends_with("CHANNELS") {
                        // Hash order in Redis: compared sorted.
                        let mut lines: Vec<&str> = reply.split("\r\n").collect();
                        lines.sort();
                        reply = lines.join("|");
                    }
                    out.push(format!("{} -> {reply:?}", words.join(" ")));
                } else {
                    // One confirmation per name; without names, one per subscription
                    // dropped, in Redis' hash order (compared sorted).
                    let mut replies = drain(c);
                    if words.len() == 1 {
                        // The names and the counts each as a multiset: which name comes
                        // with which count follows the order.
                        let (mut heads, mut counts): (Vec<String>, Vec<String>) = replies
                            .iter()
                            .map(|r| {
                                let (head, count) = r.rsplit_once(':').unwrap_or((r, ""));
                                (head.to_string(), count.to_string())
                            })
                            .unzip();
                        heads.sort();
                        counts.sort();
                        replies = heads.into_iter().chain(counts).collect();
                    }
                    out.push(format!("{} -> {replies:?}", words.join(" ")));
                }
                if words[0].ends_with("PUBLISH") {
                    for (i, c) in clients.iter_mut().enumerate() {
                        // One message, matched by several patterns: Redis walks its pattern
                        // table in hash order, so those copies are compared sorted.
                        let mut got = drain(c);
                        got.sort();
                        out.push(format!("client {i} got {got:?}"));
                    }
                }
            }
            out.push(info_pubsub(&mut clients[CLIENTS]));
            outputs.push(out);
        }
        for (i, (want, got)) in outputs[0].iter().zip(&outputs[1]).enumerate() {
            assert_eq!(
                got,
                want,
                "seed {seed}, line {i}; before it:\n{}",
                outputs[0][i.saturating_sub(8)..i].join("\n")
            );
        }
        assert_eq!(outputs[0].len(), outputs[1].len());
    }
}

/// A process' resident set, from /proc.
fn rss_kb(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

/// Shard channels on 4 shards: the slot owner routes SPUBLISH to the cores with
/// subscribers; counts and deliveries stay exact as clients subscribe, unsubscribe and
/// disconnect.
#[test]
fn shard_channels_follow_their_subscribers() {
    let srv = Server::start(4);
    let channels = ["news{1}", "news{2}", "news{3}"];
    let mut subs: Vec<Raw> = (0..8)
        .map(|_| subscribe(&srv, &["SSUBSCRIBE", channels[0], channels[1], channels[2]]))
        .collect();
    // The three that will leave also listen on a probe channel.
    for s in &mut subs[5..] {
        let r = s.cmd(&["SSUBSCRIBE", "probe{7}"]);
        assert!(r.contains("ssubscribe"), "{r:?}");
    }
    let mut publisher = srv.raw();
    for ch in channels {
        assert_eq!(int(&publisher.cmd(&["SPUBLISH", ch, "one"])), 8);
    }
    for s in &mut subs {
        for ch in channels {
            assert!(s.read_reply().contains(ch));
        }
    }
    subs.truncate(5);
    let deadline = Instant::now() + Duration::from_secs(5);
    while int(&publisher.cmd(&["SPUBLISH", "probe{7}", "x"])) != 0 {
        assert!(
            Instant::now() < deadline,
            "subscribers outlived their connections"
        );
    }
    let r = subs[0].cmd(&["SUNSUBSCRIBE", channels[1]]);
    assert!(r.contains("sunsubscribe"), "{r:?}");
    assert_eq!(int(&publisher.cmd(&["SPUBLISH", channels[0], "two"])), 5);
    assert_eq!(int(&publisher.cmd(&["SPUBLISH", channels[1], "two"])), 4);
    assert_eq!(int(&publisher.cmd(&["SPUBLISH", channels[2], "two"])), 5);
    for (i, s) in subs.iter_mut().enumerate() {
        let want: Vec<&str> = if i == 0 {
            vec![channels[0], channels[2]]
        } else {
            channels.to_vec()
        };
        for ch in want {
            let m = s.read_reply();
            assert!(
                m.contains(ch) && m.ends_with("$3\r\ntwo\r\n"),
                "subscriber {i}: {m:?}"
            );
        }
    }
    drop(subs);
    let deadline = Instant::now() + Duration::from_secs(5);
    while int(&publisher.cmd(&["SPUBLISH", channels[2], "three"])) != 0 {
        assert!(
            Instant::now() < deadline,
            "subscribers outlived their connections"
        );
    }
}
