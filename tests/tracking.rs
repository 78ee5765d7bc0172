//! Client-side caching (CLIENT TRACKING) against redis-server 7.0: the same sessions on
//! both servers give the same replies and the same invalidations, with percore's keys
//! spread over two shards (a key read through one core and written through another).

use crate::harness::{info_field, Raw, Server};
use std::time::Duration;

/// Reads exactly `n` messages (10 s at most each), then checks that nothing else comes
/// within 150 ms; returns them sorted (messages from different shards may come in either
/// order).
fn expect(r: &mut Raw, n: usize) -> Vec<String> {
    let mut got: Vec<String> = (0..n)
        .map(|i| {
            r.try_read_reply()
                .unwrap_or_else(|| panic!("message {i} of {n} did not come"))
        })
        .collect();
    r.stream
        .set_read_timeout(Some(Duration::from_millis(150)))
        .unwrap();
    if let Some(extra) = r.try_read_reply() {
        panic!("unexpected message after {got:?}: {extra:?}");
    }
    r.stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    got.sort();
    got
}

fn id(r: &mut Raw) -> String {
    r.cmd(&["CLIENT", "ID"])
        .trim_start_matches(':')
        .trim()
        .to_string()
}

/// `reply` with client id `id` (an integer) shown as `<id>`.
fn mask(reply: &str, id: &str) -> String {
    reply.replace(&format!(":{id}\r\n"), ":<id>\r\n")
}

fn resp3(port: u16) -> Raw {
    let mut r = Raw::connect(port);
    r.cmd(&["HELLO", "3"]);
    r
}

/// One session; returns its transcript (replies and the messages each step brought).
fn session(port: u16) -> Vec<String> {
    let mut t: Vec<String> = Vec::new();
    let mut w = Raw::connect(port);
    let keys: Vec<String> = (1..=8).map(|i| format!("k{i}")).collect();
    for k in &keys {
        w.cmd(&["SET", k, "v"]);
    }
    let mut a = resp3(port);

    // Default mode: every key read is invalidated once, whichever core writes it.
    t.push(a.cmd(&["CLIENT", "TRACKING", "on"]));
    for k in &keys[..6] {
        t.push(a.cmd(&["GET", k]));
    }
    t.push(a.cmd(&["MGET", "k7", "k8"]));
    for k in &keys {
        w.cmd(&["SET", k, "w"]);
    }
    t.extend(expect(&mut a, 8));
    // Consumed: a second write tells nobody.
    w.cmd(&["SET", "k1", "x"]);
    t.extend(expect(&mut a, 0));
    t.push(info_field(&mut w, "clients", "tracking_clients"));
    t.push(info_field(&mut w, "stats", "tracking_total_keys"));

    // NOLOOP: the client's own write is not sent back.
    t.push(a.cmd(&["CLIENT", "TRACKING", "on", "NOLOOP"]));
    t.push(a.cmd(&["GET", "k3"]));
    t.push(a.cmd(&["SET", "k3", "mine"]));
    t.extend(expect(&mut a, 0));
    t.push(a.cmd(&["GET", "k3"]));
    w.cmd(&["SET", "k3", "theirs"]);
    t.extend(expect(&mut a, 1));

    // OPTIN: only what follows CLIENT CACHING YES (a command, or a transaction).
    t.push(a.cmd(&["CLIENT", "TRACKING", "off"]));
    t.push(a.cmd(&["CLIENT", "TRACKING", "on", "OPTIN"]));
    t.push(a.cmd(&["GET", "k4"]));
    t.push(a.cmd(&["CLIENT", "CACHING", "yes"]));
    t.push(a.cmd(&["CLIENT", "TRACKINGINFO"]));
    t.push(a.cmd(&["GET", "k5"]));
    t.push(a.cmd(&["CLIENT", "CACHING", "yes"]));
    t.push(a.cmd(&["MULTI"]));
    t.push(a.cmd(&["GET", "k6"]));
    t.push(a.cmd(&["GET", "k7"]));
    t.push(a.cmd(&["EXEC"]));
    t.push(a.cmd(&["GET", "k8"]));
    for k in ["k4", "k5", "k6", "k7", "k8"] {
        w.cmd(&["SET", k, "y"]);
    }
    t.extend(expect(&mut a, 3));

    // OPTOUT: everything but what follows CLIENT CACHING NO.
    t.push(a.cmd(&["CLIENT", "TRACKING", "off"]));
    t.push(a.cmd(&["CLIENT", "TRACKING", "on", "OPTOUT"]));
    t.push(a.cmd(&["CLIENT", "CACHING", "no"]));
    t.push(a.cmd(&["GET", "k1"]));
    t.push(a.cmd(&["GET", "k2"]));
    w.cmd(&["SET", "k1", "z"]);
    w.cmd(&["SET", "k2", "z"]);
    t.extend(expect(&mut a, 1));
    t.push(a.cmd(&["CLIENT", "TRACKINGINFO"]));
    t.push(a.cmd(&["CLIENT", "GETREDIR"]));

    // RESP2 REDIRECT to a subscriber of __redis__:invalidate.
    let mut sub = Raw::connect(port);
    let sub_id = id(&mut sub);
    t.push(sub.cmd(&["SUBSCRIBE", "__redis__:invalidate"]));
    let mut r2 = Raw::connect(port);
    t.push(r2.cmd(&["CLIENT", "TRACKING", "on", "REDIRECT", &sub_id]));
    t.push(r2.cmd(&["MGET", "k1", "k2", "k3", "k4"]));
    t.push(mask(&r2.cmd(&["CLIENT", "GETREDIR"]), &sub_id));
    w.cmd(&["DEL", "k1", "k2", "k3", "k4"]);
    t.extend(expect(&mut sub, 4));
    t.extend(expect(&mut r2, 0));

    // RESP3 REDIRECT to a client that is not subscribed and sits idle.
    let mut idle = resp3(port);
    let idle_id = id(&mut idle);
    let mut r3 = resp3(port);
    t.push(r3.cmd(&["CLIENT", "TRACKING", "on", "REDIRECT", &idle_id]));
    t.push(r3.cmd(&["GET", "k5"]));
    w.cmd(&["SET", "k5", "q"]);
    t.extend(expect(&mut idle, 1));

    // A REDIRECT target that went away.
    let mut gone = Raw::connect(port);
    let gone_id = id(&mut gone);
    let mut r4 = resp3(port);
    t.push(r4.cmd(&["CLIENT", "TRACKING", "on", "REDIRECT", &gone_id]));
    drop(gone);
    std::thread::sleep(Duration::from_millis(100));
    t.push(r4.cmd(&["GET", "k6"]));
    w.cmd(&["SET", "k6", "q"]);
    t.extend(expect(&mut r4, 1).into_iter().map(|m| mask(&m, &gone_id)));
    t.push(mask(&r4.cmd(&["CLIENT", "TRACKINGINFO"]), &gone_id));
    let line = r4.cmd(&["CLIENT", "INFO"]);
    t.push(
        line.split(' ')
            .find(|f| f.starts_with("flags="))
            .unwrap()
            .into(),
    );

    // BCAST, with prefixes, and with NOLOOP.
    let mut b = resp3(port);
    t.push(b.cmd(&[
        "CLIENT", "TRACKING", "on", "BCAST", "PREFIX", "user:", "PREFIX", "obj:",
    ]));
    let mut b2 = resp3(port);
    t.push(b2.cmd(&["CLIENT", "TRACKING", "on", "BCAST", "NOLOOP"]));
    for k in ["user:1", "obj:2", "other"] {
        w.cmd(&["SET", k, "1"]);
    }
    t.extend(expect(&mut b, 2));
    t.extend(expect(&mut b2, 3));
    t.push(b2.cmd(&["SET", "user:3", "mine"]));
    t.extend(expect(&mut b2, 0));
    t.extend(expect(&mut b, 1));
    t.push(b.cmd(&["CLIENT", "TRACKINGINFO"]));
    t.push(info_field(&mut w, "stats", "tracking_total_prefixes"));
    t.push(info_field(&mut w, "clients", "tracking_clients"));

    // A flush: every tracking client hears a null (RESP2 redirect: a null message).
    t.push(w.cmd(&["FLUSHDB"]));
    t.extend(expect(&mut a, 1));
    t.extend(expect(&mut sub, 1));
    t.extend(expect(&mut idle, 1));
    t.extend(expect(&mut b, 1));
    t.extend(expect(&mut b2, 1));
    t.extend(expect(&mut r4, 1).into_iter().map(|m| mask(&m, &gone_id)));
    t.push(info_field(&mut w, "stats", "tracking_total_keys"));

    // Errors.
    let mut e = Raw::connect(port);
    for cmd in [
        &["CLIENT", "TRACKING", "on", "PREFIX", "x"][..],
        &["CLIENT", "TRACKING", "on", "BCAST", "OPTIN"],
        &["CLIENT", "TRACKING", "on", "OPTIN", "OPTOUT"],
        &["CLIENT", "TRACKING", "on", "REDIRECT", "999999"],
        &["CLIENT", "TRACKING", "on", "REDIRECT", "x"],
        &[
            "CLIENT", "TRACKING", "on", "BCAST", "PREFIX", "ab", "PREFIX", "a",
        ],
        &["CLIENT", "TRACKING", "maybe"],
        &["CLIENT", "TRACKING", "on", "FOO"],
        &["CLIENT", "TRACKING"],
        &["CLIENT", "CACHING", "yes"],
        &["CLIENT", "GETREDIR"],
        &["CLIENT", "TRACKINGINFO"],
        &["CLIENT", "TRACKING", "on", "OPTIN"],
        &["CLIENT", "CACHING", "no"],
        &["CLIENT", "CACHING", "maybe"],
        &["CLIENT", "TRACKING", "on", "OPTOUT"],
        &["CLIENT", "TRACKING", "on", "BCAST"],
        &["CLIENT", "TRACKING", "off"],
        &["CLIENT", "TRACKING", "on", "BCAST", "PREFIX", "p"],
        &["CLIENT", "TRACKING", "on", "BCAST", "PREFIX", "pq"],
        &["CLIENT", "TRACKING", "on"],
        &["CLIENT", "CACHING", "yes", "extra"],
        &["CLIENT", "GETREDIR", "extra"],
    ] {
        t.push(e.cmd(cmd));
    }
    t.push(e.cmd(&["RESET"]));
    t.push(e.cmd(&["CLIENT", "TRACKINGINFO"]));
    t
}

#[test]
fn tracking_matches_redis() {
    let theirs = Server::redis();
    let want = session(theirs.port);
    let ours = Server::start(2);
    let got = session(ours.port);
    for (i, (g, w)) in got.iter().zip(&want).enumerate() {
        assert_eq!(g, w, "step {i}");
    }
    assert_eq!(got.len(), want.len());
}

/// The same bits percore shows alone: CLIENT LIST's redir= and flags for a BCAST client,
/// the tracking counters after disconnects, tracking-table-max-keys.
#[test]
fn tracking_table_limit_and_disconnects() {
    let s = Server::start(2);
    let mut w = s.raw();
    let mut a = resp3(s.port);
    let a_id = id(&mut a);
    let mut b = resp3(s.port);
    b.cmd(&["CLIENT", "TRACKING", "on", "BCAST", "REDIRECT", &a_id]);
    let list = w.cmd(&["CLIENT", "LIST"]);
    let line = list.lines().find(|l| l.contains("flags=tB")).expect(&list);
    assert!(line.contains(&format!("redir={a_id} ")), "{line}");
    assert_eq!(info_field(&mut w, "clients", "tracking_clients"), "1");
    assert_eq!(info_field(&mut w, "stats", "tracking_total_prefixes"), "1");
    drop(b);
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while info_field(&mut w, "clients", "tracking_clients") != "0" {
        assert!(
            std::time::Instant::now() < deadline,
            "tracking_clients stays"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(info_field(&mut w, "stats", "tracking_total_prefixes"), "0");

    // Two shards share tracking-table-max-keys: each keeps at most half.
    assert_eq!(
        w.cmd(&["CONFIG", "SET", "tracking-table-max-keys", "10"]),
        "+OK\r\n"
    );
    a.cmd(&["CLIENT", "TRACKING", "on"]);
    let mut pipeline = Vec::new();
    for i in 0..100 {
        pipeline.extend(resp_get(&format!("key:{i}")));
    }
    a.send(&pipeline);
    // Invalidations come among the replies.
    let (mut replies, mut pushes) = (0, 0);
    while replies < 100 {
        let m = a.read_reply();
        if m.starts_with(">2\r\n$10\r\ninvalidate\r\n*1\r\n") {
            pushes += 1;
        } else {
            assert_eq!(m, "_\r\n");
            replies += 1;
        }
    }
    let keys: usize = info_field(&mut w, "stats", "tracking_total_keys")
        .parse()
        .unwrap();
    assert!(keys <= 10, "{keys} keys tracked");
    // Every key dropped from the table was invalidated.
    pushes += expect(&mut a, 100 - keys - pushes).len();
    assert_eq!(pushes + keys, 100);
}

/// A client that caches what it reads and drops what it is told is invalidated never
/// keeps a stale value, while other clients write the same keys through other cores.
#[test]
fn cached_values_never_go_stale() {
    let s = Server::start(2);
    let port = s.port;
    let keys: Vec<String> = (0..16).map(|i| format!("c{i}")).collect();
    let mut w = s.raw();
    for k in &keys {
        w.cmd(&["SET", k, "0"]);
    }
    let mut a = resp3(port);
    a.cmd(&["CLIENT", "TRACKING", "on"]);
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let writers: Vec<_> = (0..2)
        .map(|n| {
            let keys = keys.clone();
            let stop = stop.clone();
            std::thread::spawn(move || {
                let mut w = Raw::connect(port);
                let mut i = 0u64;
                while !stop.load(std::sync::atomic::Ordering::Relaxed) && i < 20_000 {
                    let k = &keys[(i as usize * 7 + n) % keys.len()];
                    w.cmd(&["SET", k, &format!("{n}-{i}")]);
                    i += 1;
                }
            })
        })
        .collect();
    let mut cache: std::collections::HashMap<String, String> = Default::default();
    let reply_to = |a: &mut Raw, cache: &mut std::collections::HashMap<String, String>| loop {
        let m = a.read_reply();
        if let Some(rest) = m.strip_prefix(">2\r\n$10\r\ninvalidate\r\n") {
            // One key a message in default mode: *1 $n key.
            let key = rest.split("\r\n").nth(2).unwrap().to_string();
            cache.remove(&key);
            continue;
        }
        return m;
    };
    let started = std::time::Instant::now();
    let mut reads = 0;
    while started.elapsed() < Duration::from_secs(3) {
        for k in &keys {
            if !cache.contains_key(k) {
                a.send(&resp_get(k));
                let v = reply_to(&mut a, &mut cache);
                cache.insert(k.clone(), v);
                reads += 1;
            }
        }
        // Pick up invalidations between rounds.
        a.send(b"*1\r\n$4\r\nPING\r\n");
        reply_to(&mut a, &mut cache);
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    for h in writers {
        h.join().unwrap();
    }
    // Writes are over: every invalidation they caused arrives within the quiet period.
    std::thread::sleep(Duration::from_millis(300));
    a.send(b"*1\r\n$4\r\nPING\r\n");
    reply_to(&mut a, &mut cache);
    let mut r = s.raw();
    for k in &keys {
        if let Some(v) = cache.get(k) {
            let now = r.cmd(&["GET", k]);
            assert_eq!(v, &now, "{k} is stale in the cache");
        }
    }
    assert!(
        reads > keys.len(),
        "the writers invalidated nothing ({reads} reads)"
    );
}

fn resp_get(k: &str) -> Vec<u8> {
    let mut buf = Vec::new();
    resp::write_command(&mut buf, &[b"GET", k.as_bytes()]);
    buf
}
