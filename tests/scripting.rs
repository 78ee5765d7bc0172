//! Lua scripting (EVAL, EVALSHA, SCRIPT): replies compared byte for byte with redis-server
//! 7.0, script caching across cores, and atomicity of scripts whose keys live on several
//! shards.

use crate::harness::{Raw, Server};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Scripts whose replies must match redis-server's exactly (run in order, so later ones
/// see what earlier ones wrote). `SHA` in a reply stands for the script's own SHA1.
const CASES: &[(&str, &[&str])] = &[
    // Conversions, Redis to Lua and back.
    ("return {1,2,{3,'a'},nil,5}", &[]),
    ("return 3.99", &[]),
    ("return -3.99", &[]),
    ("return 'str'", &[]),
    ("return true", &[]),
    ("return false", &[]),
    ("return nil", &[]),
    ("return {err='ERR x'}", &[]),
    ("return {err='x'}", &[]),
    ("return {ok='FINE'}", &[]),
    ("return redis.error_reply('MY bad')", &[]),
    ("return redis.error_reply('-MY bad')", &[]),
    ("return redis.status_reply('FINE')", &[]),
    ("return redis.error_reply(1)", &[]),
    ("return {double=3.5}", &[]),
    ("return {big_number='123456789012345678901234567890'}", &[]),
    ("return {map={a=1}}", &[]),
    ("return {set={a=true}}", &[]),
    ("return redis.sha1hex('')", &[]),
    ("return redis.sha1hex('abc')", &[]),
    ("return _VERSION", &[]),
    ("return tostring(1e15)", &[]),
    ("return tostring(0.1)", &[]),
    ("return redis.REDIS_VERSION", &[]),
    ("return redis.REDIS_VERSION_NUM", &[]),
    ("return {redis.LOG_DEBUG, redis.LOG_VERBOSE, redis.LOG_NOTICE, redis.LOG_WARNING}", &[]),
    ("return {redis.REPL_NONE, redis.REPL_AOF, redis.REPL_REPLICA, redis.REPL_SLAVE, redis.REPL_ALL}", &[]),
    ("local c=0; for k,v in pairs(redis) do c=c+1 end; return c", &[]),
    ("return redis.replicate_commands()", &[]),
    ("return loadstring('return 1')()", &[]),
    ("return string.format('%.17g', 0.1)", &[]),
    ("return {KEYS[1], KEYS[2], ARGV[1], ARGV[2]}", &["k1", "k2", "a1", "a2"]),
    ("return #KEYS + #ARGV", &["k1", "a1", "a2"]),
    // The libraries Redis loads.
    ("return cjson.encode({1,2,{a=1}})", &[]),
    ("return cjson.encode({a='x/y', b={true,false}, c=0.1})", &[]),
    ("return cjson.decode('[1,2,{\"a\":[3]}]')[3].a[1]", &[]),
    ("return cjson.decode('{bad')", &[]),
    ("return {bit.band(0xff, 0x0f), bit.bor(1, 2), bit.bxor(3, 1), bit.lshift(1, 4), bit.tohex(255), bit.tobit(2^32 + 5)}", &[]),
    ("return struct.pack('>I2', 258)", &[]),
    ("return {struct.unpack('>I2', struct.pack('>I2', 258))}", &[]),
    ("return cmsgpack.pack({1, 2, 'x'})", &[]),
    ("return cmsgpack.unpack(cmsgpack.pack({1, 2, 'x'}))", &[]),
    ("return cmsgpack.unpack(cmsgpack.pack({1, 2, 'x'}))[3]", &[]),
    ("cjson.x = 1", &[]),
    // Commands from scripts.
    ("return redis.call('set', KEYS[1], 'v')", &["s1"]),
    ("return redis.call('get', KEYS[1])", &["s1"]),
    ("return redis.call('get', KEYS[1])", &["nosuch"]),
    ("return redis.call('incr', KEYS[1])", &["n1"]),
    ("return redis.call('incrbyfloat', KEYS[1], 1.5)", &["n1"]),
    ("return redis.call('set', KEYS[1], 3.5)", &["f1"]),
    ("return redis.call('get', KEYS[1])", &["f1"]),
    ("return redis.call('set', KEYS[1], 1/3)", &["f2"]),
    ("return redis.call('get', KEYS[1])", &["f2"]),
    ("return redis.call('rpush', KEYS[1], 'a', 'b', 'c')", &["{l}1"]),
    ("return redis.call('lrange', KEYS[1], 0, -1)", &["{l}1"]),
    ("return redis.call('lpop', KEYS[1], 10)", &["{l}nosuch"]),
    ("return redis.call('hset', KEYS[1], 'f', 'v', 'g', 'w')", &["h1"]),
    ("return redis.call('hgetall', KEYS[1])", &["h1"]),
    ("redis.setresp(3); return redis.call('hgetall', KEYS[1])", &["h1"]),
    ("redis.setresp(3); return redis.call('get', KEYS[1])", &["nosuch"]),
    ("redis.setresp(3); return redis.call('zscore', KEYS[1], 'm')", &["nosuch"]),
    ("redis.setresp(3); return true", &[]),
    ("redis.setresp(3); return false", &[]),
    ("redis.call('zadd', KEYS[1], 1.5, 'm'); redis.setresp(3); return redis.call('zscore', KEYS[1], 'm')", &["z1"]),
    ("return redis.call('zrange', KEYS[1], 0, -1, 'withscores')", &["z1"]),
    ("return redis.call('type', KEYS[1])", &["h1"]),
    ("return redis.call('exists', KEYS[1], KEYS[2])", &["h1", "nosuch"]),
    ("return redis.call('ping')", &[]),
    ("return redis.call('echo', 'hi')", &[]),
    ("return redis.call('select', 3)", &[]),
    ("redis.call('select', 3); redis.call('set', KEYS[1], 'in3'); return redis.call('get', KEYS[1])", &["d3"]),
    ("return redis.call('get', KEYS[1])", &["d3"]),
    ("return redis.call('select', 99)", &[]),
    ("return redis.call('blpop', KEYS[1], 0)", &["{l}empty"]),
    ("return redis.call('rpush', KEYS[1], 'x', 'y')", &["{l}empty"]),
    ("return redis.call('blpop', KEYS[1], 0)", &["{l}empty"]),
    // Errors, as redis-server writes them.
    ("x=5", &[]),
    ("return y", &[]),
    ("string.foo=1", &[]),
    ("rawset(_G,'a',1)", &[]),
    ("local t = redis; t.call = nil", &[]),
    ("return redis.call('nosuch')", &[]),
    ("return redis.call('set','k')", &[]),
    ("return redis.pcall('set','k')", &[]),
    ("return redis.call()", &[]),
    ("return redis.call({})", &[]),
    ("error('boom')", &[]),
    ("error({err='X boom'})", &[]),
    ("error()", &[]),
    ("return redis.call('incr', KEYS[1])", &["s1"]),
    ("return redis.pcall('incr', KEYS[1])", &["s1"]),
    ("local ok, e = pcall(redis.call, 'incr', KEYS[1]); return {tostring(ok), e}", &["s1"]),
    ("local e = redis.pcall('incr', KEYS[1]); return e.err", &["s1"]),
    ("return #{pcall(string.byte, string.rep('x', 300), 1, -1)}", &[]),
    ("return {pcall(error, {err='E1 table'})}", &[]),
    ("return {pcall(error, 'plain')}", &[]),
    ("return redis.call('eval', 'return 1', 0)", &[]),
    ("return redis.call('subscribe', 'c')", &[]),
    ("return redis.call('multi')", &[]),
    ("return type(os)", &[]),
    ("return type(io)", &[]),
    ("return type(print)", &[]),
    ("return type(dofile)", &[]),
    ("return type(loadfile)", &[]),
    ("return type(require)", &[]),
    ("foo(", &[]),
    ("return redis.setresp(4)", &[]),
    ("return redis.setresp()", &[]),
    ("return redis.set_repl(99)", &[]),
    ("return redis.log()", &[]),
    ("return redis.log('x', 'y')", &[]),
    ("return redis.log(9, 'y')", &[]),
    ("redis.log(redis.LOG_WARNING, 'from a test'); return 1", &[]),
    ("return redis.sha1hex()", &[]),
    ("return math.random(0)", &[]),
    ("return 1 + nil", &[]),
    ("local t = {} ; t.x.y = 1", &[]),
    ("return getmetatable('').__index == string", &[]),
    ("return pairs(nil)", &[]),
    ("#!lua flags=no-writes\nreturn redis.call('set', KEYS[1], 1)", &["s2"]),
    ("#!lua flags=no-writes\nreturn redis.call('get', KEYS[1])", &["s1"]),
    ("#!lua flags=bogus\nreturn 1", &[]),
    ("#!lua xyz\nreturn 1", &[]),
    ("#!python\nreturn 1", &[]),
    ("#!lua", &[]),
    // Commands of the whole keyspace and of pub/sub.
    ("return redis.call('publish', 'ch', 'm')", &[]),
    ("local c = '0' local n = 0 repeat local r = redis.call('scan', c, 'count', 3) c = r[1] n = n + #r[2] until c == '0' return n", &[]),
    ("local c = '0' local n = 0 repeat local r = redis.call('scan', c, 'match', '*a*', 'type', 'string') c = r[1] n = n + #r[2] until c == '0' return n", &[]),
    ("return redis.pcall('scan', 'x')", &[]),
    ("return redis.pcall('scan', 0, 'count', 0)", &[]),
    ("return type(redis.call('randomkey'))", &[]),
    ("redis.call('select', 9) return redis.call('randomkey')", &[]),
    ("return redis.call('info', 'keyspace')", &[]),
    ("return redis.call('swapdb', 0, 'x')", &[]),
    ("return redis.call('swapdb', 0, 99)", &[]),
    ("redis.call('swapdb', 0, 1) local n = redis.call('dbsize') redis.call('swapdb', 0, 1) return n", &[]),
];

/// The SHA1 of a script in lowercase hex (as both servers print it).
fn sha(body: &str) -> String {
    let out = std::process::Command::new("sha1sum")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .and_then(|mut c| {
            use std::io::Write;
            c.stdin.take().unwrap().write_all(body.as_bytes())?;
            c.wait_with_output()
        })
        .expect("sha1sum");
    String::from_utf8_lossy(&out.stdout)[..40].to_string()
}

fn eval_argv<'a>(body: &'a str, words: &'a [&'a str], numkeys: usize) -> Vec<&'a [u8]> {
    let n: &'static str = ["0", "1", "2", "3"][numkeys];
    let mut argv: Vec<&[u8]> = vec![b"EVAL", body.as_bytes(), n.as_bytes()];
    argv.extend(words.iter().map(|w| w.as_bytes()));
    argv
}

/// How many of a case's words are keys: those the script reads as KEYS.
fn numkeys(body: &str, words: &[&str]) -> usize {
    (1..=words.len())
        .rev()
        .find(|i| body.contains(&format!("KEYS[{i}]")))
        .unwrap_or(0)
        .max(if body.contains("#KEYS") { 1 } else { 0 })
}

fn run_cases(shards: usize, resp3: bool) {
    let redis = Server::redis();
    let percore = Server::start_with(shards, &["--enable-debug-command", "yes"]);
    let mut a = Raw::connect(redis.port);
    let mut b = Raw::connect(percore.port);
    if resp3 {
        a.cmd(&["HELLO", "3"]);
        b.cmd(&["HELLO", "3"]);
    }
    for (body, words) in CASES {
        let n = numkeys(body, words);
        let argv = eval_argv(body, words, n);
        let want = a.cmd_raw(&argv);
        let got = b.cmd_raw(&argv);
        assert_eq!(
            String::from_utf8_lossy(&got),
            String::from_utf8_lossy(&want),
            "{shards} shard(s), RESP{}: EVAL {body:?} {words:?}",
            if resp3 { 3 } else { 2 }
        );
    }
    // Both servers, the same data afterwards.
    assert_eq!(b.cmd(&["DEBUG", "DIGEST"]), a.cmd(&["DEBUG", "DIGEST"]));
}

#[test]
fn replies_match_redis_on_one_shard() {
    run_cases(1, false);
}

#[test]
fn replies_match_redis_on_two_shards() {
    run_cases(2, false);
}

#[test]
fn replies_match_redis_in_resp3() {
    run_cases(2, true);
}

#[test]
fn scripts_load_once_and_run_on_every_core() {
    let s = Server::start(2);
    let body = "return redis.call('incr', KEYS[1])";
    let mut c = Raw::connect(s.port);
    let hash = c.cmd(&["SCRIPT", "LOAD", body]);
    assert_eq!(hash, format!("${}\r\n{}\r\n", 40, sha(body)));
    let hash = sha(body);
    assert_eq!(
        c.cmd(&["SCRIPT", "EXISTS", &hash, &hash.to_uppercase(), "nope"]),
        "*3\r\n:1\r\n:1\r\n:0\r\n"
    );
    // Connections land on both cores; keys on both shards: every core runs it.
    let mut conns: Vec<Raw> = (0..8).map(|_| Raw::connect(s.port)).collect();
    for (i, conn) in conns.iter_mut().enumerate() {
        for k in 0..10 {
            let key = format!("counter:{k}");
            let got = conn.cmd(&["EVALSHA", &hash.to_uppercase(), "1", &key]);
            assert_eq!(got, format!(":{}\r\n", i + 1), "conn {i} key {key}");
        }
    }
    assert!(c
        .cmd(&["EVALSHA", "ffffffffffffffffffffffffffffffffffffffff", "0"])
        .starts_with("-NOSCRIPT No matching script. Please use EVAL."));
    assert!(c.cmd(&["EVALSHA", "short", "0"]).starts_with("-NOSCRIPT"));
    // EVAL caches too.
    let other = "return 'other'";
    c.cmd(&["EVAL", other, "0"]);
    assert_eq!(c.cmd(&["SCRIPT", "EXISTS", &sha(other)]), "*1\r\n:1\r\n");
    assert_eq!(c.cmd(&["SCRIPT", "FLUSH"]), "+OK\r\n");
    assert_eq!(c.cmd(&["SCRIPT", "EXISTS", &hash]), "*1\r\n:0\r\n");
    for conn in conns.iter_mut() {
        assert!(conn
            .cmd(&["EVALSHA", &hash, "1", "x"])
            .starts_with("-NOSCRIPT"));
    }
    assert_eq!(
        c.cmd(&["SCRIPT", "FLUSH", "LATER"]),
        "-ERR SCRIPT FLUSH only support SYNC|ASYNC option\r\n"
    );
    assert_eq!(
        c.cmd(&["SCRIPT", "KILL"]),
        "-NOTBUSY No scripts in execution right now.\r\n"
    );
    assert_eq!(
        c.cmd(&["EVAL", "return 1", "2", "a"]),
        "-ERR Number of keys can't be greater than number of args\r\n"
    );
    assert_eq!(
        c.cmd(&["EVAL", "return 1", "-1"]),
        "-ERR Number of keys can't be negative\r\n"
    );
    assert_eq!(
        c.cmd(&["EVAL", "return 1", "x"]),
        "-ERR value is not an integer or out of range\r\n"
    );
    assert_eq!(
        c.cmd(&["EVAL_RO", "return redis.call('set', KEYS[1], 1)", "1", "a"]),
        format!(
            "-ERR Write commands are not allowed from read-only scripts. script: {}, on @user_script:1.\r\n",
            sha("return redis.call('set', KEYS[1], 1)")
        )
    );
    assert_eq!(
        c.cmd(&["EVAL_RO", "#!lua\nreturn 1", "0"]),
        "-ERR Can not execute a script with write flag using *_ro command.\r\n"
    );
}

/// PUBLISH from scripts reaches subscribers on every core, and counts them exactly
/// (SPUBLISH too); read-only scripts may not publish.
#[test]
fn scripts_publish_to_subscribers_on_every_core() {
    let s = Server::start(2);
    // Connections spread over the cores: several subscribe, to a channel and a pattern.
    let mut subs: Vec<Raw> = (0..4).map(|_| s.raw()).collect();
    for (i, sub) in subs.iter_mut().enumerate() {
        let (cmd, name) = if i % 2 == 0 {
            ("SUBSCRIBE", "news")
        } else {
            ("PSUBSCRIBE", "n*")
        };
        sub.cmd(&[cmd, name]);
        sub.cmd(&["SSUBSCRIBE", "snews"]);
    }
    let mut c = s.raw();
    let n = subs.len();
    for body in [
        "return redis.call('publish', 'news', ARGV[1])",
        "redis.call('incr', KEYS[1]) return redis.call('publish', 'news', ARGV[1])",
    ] {
        for round in 0..4 {
            let msg = format!("m{round}");
            let numkeys = if body.contains("KEYS") { "1" } else { "0" };
            let mut argv = vec!["EVAL", body, numkeys];
            if numkeys == "1" {
                argv.push("counter");
            }
            argv.push(&msg);
            let got = c.cmd(&argv);
            // A script that wrote before publishing on one shard counts only its core's
            // subscribers the first time (it cannot wait for the others); from then on it
            // runs broadly and counts them all.
            if numkeys == "0" || round > 0 {
                assert_eq!(got, format!(":{n}\r\n"), "{body} round {round}");
            }
            for sub in subs.iter_mut() {
                let m = sub.read_reply();
                assert!(m.contains(&msg), "{m}");
            }
        }
    }
    assert_eq!(
        c.cmd(&["EVAL", "return redis.call('spublish', 'snews', 'x')", "0"]),
        format!(":{n}\r\n")
    );
    for sub in subs.iter_mut() {
        assert!(sub.read_reply().contains("smessage"));
    }
    assert!(c
        .cmd(&["EVAL_RO", "return redis.call('publish', 'news', 'x')", "0"])
        .starts_with("-ERR Write commands are not allowed from read-only scripts."));
}

/// Keys on both shards, declared or not, in scripts, MULTI and pipelines: the results are
/// the ones redis-server gives.
#[test]
fn scripts_reach_keys_on_every_shard() {
    let redis = Server::redis();
    let percore = Server::start_with(2, &["--enable-debug-command", "yes"]);
    let mut a = Raw::connect(redis.port);
    let mut b = Raw::connect(percore.port);
    let cases: &[&[&str]] = &[
        &["EVAL", "redis.call('set', KEYS[1], 1); redis.call('set', KEYS[2], 2); return redis.call('mget', KEYS[1], KEYS[2], 'k3')", "2", "k1", "k2"],
        &["EVAL", "return redis.call('get', ARGV[1])", "0", "k1"],
        &["EVAL", "redis.call('set', ARGV[1], 'x'); return redis.call('get', ARGV[1])", "0", "undeclared"],
        &["EVAL", "return redis.call('del', 'k1', 'k2', 'undeclared', 'k3')", "0"],
        &["EVAL", "redis.call('mset', 'a', 1, 'b', 2, 'c', 3, 'd', 4); return redis.call('mget', 'a', 'b', 'c', 'd', 'e')", "0"],
        &["EVAL", "local n = 0; for _, k in ipairs(redis.call('keys', '*')) do n = n + redis.call('del', k) end; return n", "0"],
        &["EVAL", "return redis.call('dbsize')", "0"],
        &["EVAL", "redis.call('flushall'); redis.call('set', 'x', 1); return redis.call('dbsize')", "0"],
        // Moves and combinations of keys on both shards (gathered in a broad run).
        &["EVAL", "redis.call('rpush', KEYS[1], 'a', 'b', 'c') redis.call('sadd', KEYS[3], 'a', 'z') return redis.call('lmove', KEYS[1], KEYS[2], 'left', 'right')", "4", "l1", "l2", "s1", "s2"],
        &["EVAL", "return {redis.call('rename', KEYS[1], KEYS[2]), redis.call('lrange', KEYS[2], 0, -1), redis.call('exists', KEYS[1])}", "2", "l2", "l3"],
        &["EVAL", "redis.call('sadd', KEYS[2], 'a', 'b') return {redis.call('sinterstore', KEYS[3], KEYS[1], KEYS[2]), redis.call('smove', KEYS[2], KEYS[1], 'b'), redis.call('smembers', KEYS[3])}", "3", "s1", "s2", "s3"],
        &["EVAL", "redis.call('zadd', KEYS[1], 1, 'a') redis.call('zadd', KEYS[2], 2, 'a', 3, 'b') return redis.call('zunionstore', KEYS[3], 2, KEYS[1], KEYS[2])", "3", "z1", "z2", "z3"],
        &["EVAL", "return {redis.call('msetnx', 'm1', 1, 'm2', 2, 'm3', 3), redis.call('msetnx', 'm3', 1, 'm4', 4), redis.call('copy', 'm1', 'm5'), redis.call('renamenx', 'm2', 'm3')}", "0"],
        &["EVAL", "redis.call('set', 'x', 1) return redis.call('rpoplpush', 'l1', 'l9')", "0"],
        &["EVAL", "return redis.pcall('rename', 'nosuch', 'l9')", "0"],
        &["EVAL", "return redis.call('lmpop', 2, 'l1', 'l9', 'left', 'count', 5)", "0"],
        &["MULTI"],
        &["EVAL", "return redis.call('incr', KEYS[1])", "1", "k1"],
        &["EVAL", "return redis.call('incr', KEYS[1])", "1", "k2"],
        &["EXEC"],
    ];
    for argv in cases {
        let argv: Vec<&[u8]> = argv.iter().map(|w| w.as_bytes()).collect();
        let want = a.cmd_raw(&argv);
        let got = b.cmd_raw(&argv);
        assert_eq!(
            String::from_utf8_lossy(&got),
            String::from_utf8_lossy(&want),
            "{:?}",
            argv.iter()
                .map(|w| String::from_utf8_lossy(w))
                .collect::<Vec<_>>()
        );
    }
    assert_eq!(b.cmd(&["DEBUG", "DIGEST"]), a.cmd(&["DEBUG", "DIGEST"]));
}

/// A script that writes a declared key and then reads a key of another shard it did not
/// declare: its first run on a core stops with an error after the write (documented in
/// ARCHITECTURE.md, "Scripts"); the core then runs it with every shard locked, as it must.
#[test]
fn undeclared_keys_after_a_write_are_learned() {
    let s = Server::start(2);
    let mut c = Raw::connect(s.port);
    // k1 and k2 live on different shards (see routing tests).
    let map = engine::slot::SlotMap::new(2);
    assert_ne!(map.shard_of(b"k1"), map.shard_of(b"k2"));
    c.cmd(&["SET", "k2", "2"]);
    let body = "redis.call('set', KEYS[1], 'y'); return redis.call('get', 'k2')";
    let first = c.cmd(&["EVAL", body, "1", "k1"]);
    assert!(first.contains("did not declare"), "{first}");
    assert_eq!(c.cmd(&["EVAL", body, "1", "k1"]), "$1\r\n2\r\n");
    assert_eq!(c.cmd(&["GET", "k1"]), "$1\r\ny\r\n");
}

/// Money moves between accounts on both shards by a script while other scripts move it back
/// and audits read every account at once: the total never changes.
#[test]
fn transfers_between_shards_are_atomic() {
    let s = Server::start(2);
    let accounts: Vec<String> = (0..8).map(|i| format!("acct:{i}")).collect();
    let mut c = Raw::connect(s.port);
    for a in &accounts {
        c.cmd(&["SET", a, "100"]);
    }
    let transfer = "local from = tonumber(redis.call('get', KEYS[1]))\n\
                    local amount = tonumber(ARGV[1])\n\
                    if from < amount then return 0 end\n\
                    redis.call('decrby', KEYS[1], amount)\n\
                    redis.call('incrby', KEYS[2], amount)\n\
                    return 1";
    let audit = "local t = 0\nfor _, k in ipairs(KEYS) do t = t + tonumber(redis.call('get', k)) end\nreturn t";
    let stop = Arc::new(AtomicBool::new(false));
    let deadline = Instant::now() + Duration::from_secs(3);
    let mut workers = Vec::new();
    for w in 0..4u64 {
        let port = s.port;
        let accounts = accounts.clone();
        let stop = stop.clone();
        workers.push(std::thread::spawn(move || {
            let mut c = Raw::connect(port);
            let mut x = w + 1;
            let mut n = 0;
            while !stop.load(Ordering::Relaxed) && n < 3000 {
                x = x
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                let from = &accounts[(x >> 33) as usize % accounts.len()];
                let to = &accounts[(x >> 40) as usize % accounts.len()];
                if from == to {
                    continue;
                }
                let r = c.cmd(&["EVAL", transfer, "2", from, to, "7"]);
                assert!(r == ":1\r\n" || r == ":0\r\n", "{r}");
                n += 1;
            }
        }));
    }
    let mut audits = 0;
    let mut argv: Vec<&str> = vec!["EVAL", audit, "8"];
    argv.extend(accounts.iter().map(String::as_str));
    let mut mget: Vec<&str> = vec!["MGET"];
    mget.extend(accounts.iter().map(String::as_str));
    while Instant::now() < deadline && workers.iter().any(|w| !w.is_finished()) {
        assert_eq!(c.cmd(&argv), ":800\r\n");
        let reply = c.cmd(&mget);
        let total: i64 = reply
            .lines()
            .filter(|l| !l.starts_with('*') && !l.starts_with('$'))
            .map(|l| l.parse::<i64>().unwrap())
            .sum();
        assert_eq!(total, 800, "{reply}");
        audits += 1;
    }
    stop.store(true, Ordering::Relaxed);
    for w in workers {
        w.join().unwrap();
    }
    assert!(audits > 10, "only {audits} audits");
    assert_eq!(c.cmd(&argv), ":800\r\n");
}

/// redis-py's Lock, unmodified: acquire, extend, reacquire, owned, release.
#[test]
fn redis_py_lock_works() {
    let s = Server::start(2);
    let program = r#"
import sys, redis
r = redis.Redis(host='127.0.0.1', port=int(sys.argv[1]))
lock = r.lock('resource', timeout=5)
assert lock.acquire(blocking=False)
assert lock.owned()
other = r.lock('resource', timeout=5)
assert not other.acquire(blocking=False)
assert lock.extend(10)
assert r.pttl('resource') > 9000
assert lock.reacquire()
assert lock.locked()
lock.release()
assert not lock.locked()
assert other.acquire(blocking=False)
other.release()
try:
    other.release()
    raise SystemExit('released twice')
except redis.exceptions.LockError:
    pass
print('ok')
"#;
    let out = std::process::Command::new("python3")
        .args(["-c", program, &s.port.to_string()])
        .output()
        .expect("python3");
    assert!(
        out.status.success() && String::from_utf8_lossy(&out.stdout).trim() == "ok",
        "stdout: {}\nstderr: {}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A script that spins until `ms` milliseconds have passed (by the server's clock), then
/// returns `done`: long enough to be busy, bounded.
const SPIN: &str =
    "local function now() local t = redis.call('time') return t[1] * 1000000 + t[2] end \
    local start = now() repeat until now() - start > tonumber(ARGV[1]) * 1000 return 'done'";

/// Waits until `c` gets -BUSY for PING (the script has passed busy-reply-threshold).
pub fn wait_busy(c: &mut Raw) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let r = c.cmd(&["PING"]);
        if r.starts_with("-BUSY") {
            return;
        }
        assert!(Instant::now() < deadline, "never busy: {r}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// What a client sees of a busy script, on redis-server and percore alike: -BUSY, SCRIPT
/// KILL of a script that has not written (its caller gets Redis' error), UNKILLABLE once it
/// wrote, the commands allowed meanwhile, and SHUTDOWN NOSAVE ending the server.
fn busy_session(port: u16) -> Vec<String> {
    let mut seen = Vec::new();
    let mut runner = Raw::connect(port);
    let mut other = Raw::connect(port);
    let mut buf = Vec::new();
    let spin = "local i = 0 while true do i = i + 1 end";
    resp::write_command(&mut buf, &[b"EVAL", spin.as_bytes(), b"1", b"busykey"]);
    runner.send(&buf);
    wait_busy(&mut other);
    for cmd in [
        &["GET", "busykey"][..],
        &["SET", "busykey", "x"],
        &["SCRIPT", "LOAD", "return 1"],
        &["SHUTDOWN"],
        &["MULTI"],
        &["DISCARD"],
        &["SCRIPT", "KILL"],
    ] {
        seen.push(format!("{cmd:?} -> {}", other.cmd(cmd)));
    }
    seen.push(format!("runner -> {}", runner.read_reply()));
    seen.push(format!("after -> {}", other.cmd(&["SCRIPT", "KILL"])));
    seen.push(format!("after -> {}", other.cmd(&["GET", "busykey"])));
    // Written first: it cannot be killed; SHUTDOWN NOSAVE ends the server.
    let body = "redis.call('set', KEYS[1], 'w') while true do end";
    buf.clear();
    resp::write_command(&mut buf, &[b"EVAL", body.as_bytes(), b"1", b"busykey"]);
    runner.send(&buf);
    wait_busy(&mut other);
    seen.push(format!("kill -> {}", other.cmd(&["SCRIPT", "KILL"])));
    seen.push(format!("get -> {}", other.cmd(&["GET", "busykey"])));
    buf.clear();
    resp::write_command(&mut buf, &[b"SHUTDOWN", b"NOSAVE"]);
    other.send(&buf);
    seen.push(format!("nosave -> {:?}", other.try_read_reply()));
    seen.push(format!("runner -> {:?}", runner.try_read_reply()));
    seen
}

#[test]
fn busy_scripts_answer_as_redis_does() {
    let mut redis = Server::redis_with(&["--busy-reply-threshold", "50"]);
    let want = busy_session(redis.port);
    assert!(redis.wait_exit(Duration::from_secs(10)).is_some());
    for shards in [1, 2] {
        let mut percore = Server::start_with(shards, &["--busy-reply-threshold", "50"]);
        let got = busy_session(percore.port);
        assert_eq!(got, want, "{shards} shard(s)");
        assert!(
            percore.wait_exit(Duration::from_secs(10)).is_some(),
            "SHUTDOWN NOSAVE under a busy script"
        );
    }
}

/// A busy script holds only its shards: keys of other shards are served meanwhile, what
/// would touch its shard waits or gets -BUSY, and once it ends everything goes on. Its
/// writes reach the AOF whole.
#[test]
fn busy_scripts_hold_only_their_shards() {
    let mut s = Server::start_with(
        2,
        &[
            "--busy-reply-threshold",
            "50",
            "--appendonly",
            "yes",
            "--appendfsync",
            "always",
        ],
    );
    let mut c = Raw::connect(s.port);
    // A key on each shard.
    let map = engine::slot::SlotMap::new(2);
    let key_on = |shard: usize| {
        (0..)
            .map(|i| format!("busy{i}"))
            .find(|k| map.shard_of(k.as_bytes()) == shard)
            .expect("a key on every shard")
    };
    let (a, b) = (key_on(0), key_on(1));
    let (a, b) = (a.as_str(), b.as_str());
    let script = format!(
        "redis.call('set', KEYS[1], 'partial') {} redis.call('set', KEYS[1], 'whole') return 'done'",
        SPIN.replace("return 'done'", "")
    );
    let mut runners: Vec<Raw> = (0..2).map(|_| Raw::connect(s.port)).collect();
    // Two connections (one per core): each runs a busy script in turn, on the shard of `a`.
    for r in runners.iter_mut() {
        let mut buf = Vec::new();
        resp::write_command(
            &mut buf,
            &[b"EVAL", script.as_bytes(), b"1", a.as_bytes(), b"1500"],
        );
        r.send(&buf);
        wait_busy(&mut c);
        let mut served_elsewhere = 0;
        let mut busy_here = 0;
        let mut probes: Vec<Raw> = (0..3).map(|_| Raw::connect(s.port)).collect();
        for p in probes.iter_mut() {
            match p.cmd(&["GET", a]).as_str() {
                r if r.starts_with("-BUSY") => busy_here += 1,
                other => panic!("the script's key was readable while it ran: {other}"),
            }
            if p.cmd(&["SET", b, "x"]) == "+OK\r\n" {
                served_elsewhere += 1;
            }
        }
        assert_eq!(busy_here, 3);
        assert!(
            served_elsewhere >= 1,
            "keys of the other shard were not served"
        );
        assert_eq!(r.read_reply(), "$4\r\ndone\r\n");
        assert_eq!(c.cmd(&["GET", a]), "$5\r\nwhole\r\n");
    }
    // After a restart (from the AOF) the script's effects are there whole (its records
    // were held back while it was stopped, then written as one MULTI/EXEC).
    drop(c);
    drop(runners);
    s.terminate();
    assert!(s.wait_exit(Duration::from_secs(10)).is_some());
    let s2 = Server::start_raw(
        &[
            "--port".into(),
            s.port.to_string(),
            "--dir".into(),
            s.dir.display().to_string(),
            "--shards".into(),
            "2".into(),
            "--appendonly".into(),
            "yes".into(),
        ],
        s.port,
    );
    let mut c = Raw::connect(s2.port);
    assert_eq!(c.cmd(&["GET", a]), "$5\r\nwhole\r\n");
    assert_eq!(c.cmd(&["GET", b]), "$1\r\nx\r\n");
}

/// A script on several shards (keys it did not declare) holds them all while busy; SCRIPT
/// KILL stops it if it has not written; commands on every shard go on afterwards.
#[test]
fn busy_scripts_on_every_shard_are_killed() {
    let s = Server::start_with(2, &["--busy-reply-threshold", "50"]);
    let mut c = Raw::connect(s.port);
    let mut runner = Raw::connect(s.port);
    let body = "redis.call('get', 'x1') redis.call('get', 'x2') redis.call('get', 'x3') \
                while true do end";
    let mut buf = Vec::new();
    resp::write_command(&mut buf, &[b"EVAL", body.as_bytes(), b"0"]);
    runner.send(&buf);
    wait_busy(&mut c);
    for k in ["x1", "x2", "x3", "x4"] {
        assert!(c.cmd(&["GET", k]).starts_with("-BUSY"), "{k}");
    }
    assert_eq!(c.cmd(&["SCRIPT", "KILL"]), "+OK\r\n");
    assert_eq!(
        runner.read_reply(),
        format!(
            "-ERR Script killed by user with SCRIPT KILL... script: {}, on @user_script:1.\r\n",
            sha(body)
        )
    );
    for k in ["x1", "x2", "x3", "x4"] {
        assert_eq!(c.cmd(&["SET", k, "v"]), "+OK\r\n");
    }
    assert_eq!(c.cmd(&["DBSIZE"]), ":4\r\n");
}
