//! Functions (FUNCTION LOAD and friends, FCALL): replies compared byte for byte with
//! redis-server 7.0, libraries moved between the two servers with FUNCTION DUMP/RESTORE,
//! busy functions, and functions on every core.

use crate::harness::{Raw, Server};
use crate::scripting::wait_busy;
use std::time::{Duration, Instant};

const LIB_A: &str = "#!lua name=liba
local function join(t) return table.concat(t, ',') end
redis.register_function('echo_all', function(keys, args) return join(keys) .. '|' .. join(args) end)";

const LIB_B: &str = "#!lua name=libb
redis.register_function{function_name='incr_by', callback=function(keys, args)
  return redis.call('incrby', keys[1], args[1])
end, description='adds'}";

const LIB_RO: &str = "#!lua name=libro
redis.register_function{function_name='peek', callback=function(keys, args)
  return redis.call('get', keys[1])
end, flags={'no-writes', 'allow-stale'}}";

/// Commands whose replies must match redis-server's exactly, in order.
fn session() -> Vec<Vec<String>> {
    let w = |s: &[&str]| s.iter().map(|x| x.to_string()).collect::<Vec<_>>();
    let load = |code: &str| w(&["FUNCTION", "LOAD", code]);
    let load_err = |body: &str| load(&format!("#!lua name=bad\n{body}"));
    vec![
        w(&["FUNCTION", "FLUSH"]),
        // Libraries and their errors.
        load(LIB_A),
        load(LIB_A),
        w(&["FUNCTION", "LOAD", "REPLACE", LIB_A]),
        w(&["FUNCTION", "LOAD", "NOPE", LIB_A]),
        load(LIB_B),
        load(LIB_RO),
        load("no metadata"),
        load("#!lua name=x"),
        load("#!lua name=a-b\nredis.register_function('f', function() end)"),
        load("#!js name=x\nredis.register_function('f', function() end)"),
        load("#!lua name=x foo=bar\n"),
        load("#!lua name=x name=y\n"),
        load("#!lua\n"),
        load_err("return math.random()"),
        load_err("return redis.call('ping')"),
        load_err("redis.setresp(3)"),
        load_err("redis.register_function()"),
        load_err("redis.register_function('f')"),
        load_err("redis.register_function('f', 'x')"),
        load_err("redis.register_function(nil, function() end)"),
        load_err("redis.register_function('', function() end)"),
        load_err("redis.register_function('f', function() end, 1)"),
        load_err("redis.register_function('f', function() end) redis.register_function('f', function() end)"),
        load_err("redis.register_function{function_name='f'}"),
        load_err("redis.register_function{callback=function() end}"),
        load_err("redis.register_function{function_name='f', callback=1}"),
        load_err("redis.register_function{function_name='f', callback=function() end, flags='x'}"),
        load_err("redis.register_function{function_name='f', callback=function() end, flags={'bogus'}}"),
        load_err("redis.register_function{function_name='f', callback=function() end, other=1}"),
        load_err("redis.register_function{function_name={}, callback=function() end}"),
        load_err("redis.register_function('echo_all', function() end)"),
        load_err("return 1"),
        load_err("foo("),
        load_err("x = 1"),
        load_err("error('boom')"),
        load_err("local t = redis t.x = 1"),
        load_err("redis.log(redis.LOG_NOTICE, 'loading') return redis.REDIS_VERSION .. redis.nope"),
        load("#!lua name=\"quoted\"\nredis.register_function('q', function() return redis.REDIS_VERSION end)"),
        // Calls.
        w(&["FCALL", "echo_all", "2", "k1", "k2", "a1"]),
        w(&["FCALL", "ECHO_ALL", "0"]),
        w(&["FCALL", "echo_all", "x"]),
        w(&["FCALL", "echo_all", "-1"]),
        w(&["FCALL", "echo_all", "3", "k"]),
        w(&["FCALL", "nosuch", "0"]),
        w(&["FCALL", "nosuch", "x"]),
        w(&["FCALL", "incr_by", "1", "counter", "5"]),
        w(&["FCALL", "incr_by", "1", "counter", "x"]),
        w(&["FCALL_RO", "incr_by", "1", "counter", "5"]),
        w(&["FCALL_RO", "peek", "1", "counter"]),
        w(&["FCALL", "peek", "1", "counter"]),
        w(&["FCALL", "q", "0"]),
        // Listing.
        w(&["FUNCTION", "LIST", "LIBRARYNAME", "liba"]),
        w(&["FUNCTION", "LIST", "LIBRARYNAME", "LIBB", "WITHCODE"]),
        w(&["FUNCTION", "LIST", "WITHCODE", "LIBRARYNAME", "libr*"]),
        w(&["FUNCTION", "LIST", "LIBRARYNAME", "nomatch*"]),
        w(&["FUNCTION", "LIST", "bad"]),
        w(&["FUNCTION", "LIST", "LIBRARYNAME"]),
        w(&["FUNCTION", "LIST", "WITHCODE", "WITHCODE"]),
        w(&["FUNCTION", "STATS"]),
        // Replacing a library drops its old functions.
        w(&["FUNCTION", "LOAD", "REPLACE", "#!lua name=liba\nredis.register_function('echo2', function(k, a) return #k end)"]),
        w(&["FCALL", "echo_all", "0"]),
        w(&["FCALL", "echo2", "2", "a", "b"]),
        w(&["FUNCTION", "LOAD", "REPLACE", "#!lua name=liba\nredis.register_function('peek', function() end)"]),
        w(&["FCALL", "echo2", "0"]),
        // Deleting and flushing.
        w(&["FUNCTION", "DELETE", "libb"]),
        w(&["FUNCTION", "DELETE", "libb"]),
        w(&["FCALL", "incr_by", "1", "counter", "1"]),
        w(&["FUNCTION", "STATS"]),
        w(&["FUNCTION", "FLUSH", "bad"]),
        w(&["FUNCTION", "FLUSH", "SYNC", "extra"]),
        w(&["FUNCTION", "RESTORE", "bad payload"]),
        w(&["FUNCTION", "RESTORE", "x", "BADPOLICY"]),
        w(&["FUNCTION", "RESTORE", "x", "y", "z"]),
        w(&["FUNCTION", "LOAD"]),
        w(&["FUNCTION", "NOSUCH"]),
        w(&["FUNCTION", "STATS", "x"]),
        w(&["FUNCTION", "KILL"]),
        w(&["FUNCTION", "HELP"]),
        w(&["FUNCTION", "FLUSH", "ASYNC"]),
        w(&["FUNCTION", "STATS"]),
        w(&["FUNCTION", "LIST"]),
        w(&["FCALL", "peek", "1", "counter"]),
        w(&["GET", "counter"]),
        // Inside MULTI.
        load(LIB_B),
        w(&["MULTI"]),
        w(&["FCALL", "incr_by", "1", "counter", "2"]),
        w(&["FCALL", "incr_by", "1", "counter", "3"]),
        w(&["EXEC"]),
    ]
}

fn run_session(shards: usize, resp3: bool) {
    let redis = Server::redis();
    let percore = Server::start_with(shards, &["--enable-debug-command", "yes"]);
    let mut a = Raw::connect(redis.port);
    let mut b = Raw::connect(percore.port);
    if resp3 {
        a.cmd(&["HELLO", "3"]);
        b.cmd(&["HELLO", "3"]);
    }
    for cmd in session() {
        let argv: Vec<&[u8]> = cmd.iter().map(|s| s.as_bytes()).collect();
        let want = a.cmd_raw(&argv);
        let got = b.cmd_raw(&argv);
        assert_eq!(
            String::from_utf8_lossy(&got),
            String::from_utf8_lossy(&want),
            "{shards} shard(s), RESP{}: {cmd:?}",
            if resp3 { 3 } else { 2 }
        );
    }
    assert_eq!(b.cmd(&["DEBUG", "DIGEST"]), a.cmd(&["DEBUG", "DIGEST"]));
}

#[test]
fn function_replies_match_redis_on_one_shard() {
    run_session(1, false);
}

#[test]
fn function_replies_match_redis_on_two_shards_in_resp3() {
    run_session(2, true);
}

/// FUNCTION LIST of every library with the functions of each sorted: both servers list a
/// library's functions in their own hash order.
fn listing(c: &mut redis::Connection) -> Vec<(String, String, Vec<String>)> {
    let libs: Vec<redis::Value> = redis::cmd("FUNCTION")
        .arg("LIST")
        .arg("WITHCODE")
        .query(c)
        .unwrap();
    let mut out = Vec::new();
    for lib in libs {
        let fields = map_of(lib);
        let name = text(&fields["library_name"]);
        let code = text(&fields["library_code"]);
        let redis::Value::Array(funcs) = fields["functions"].clone() else {
            panic!("functions: {:?}", fields["functions"]);
        };
        let mut names: Vec<String> = funcs
            .into_iter()
            .map(|f| {
                let f = map_of(f);
                format!("{}:{:?}", text(&f["name"]), f["flags"])
            })
            .collect();
        names.sort();
        out.push((name, code, names));
    }
    out.sort();
    out
}

fn map_of(v: redis::Value) -> std::collections::HashMap<String, redis::Value> {
    let items = match v {
        redis::Value::Array(items) => items,
        redis::Value::Map(pairs) => pairs.into_iter().flat_map(|(k, v)| [k, v]).collect(),
        other => panic!("not a map: {other:?}"),
    };
    items
        .chunks(2)
        .map(|kv| (text(&kv[0]), kv[1].clone()))
        .collect()
}

fn text(v: &redis::Value) -> String {
    match v {
        redis::Value::BulkString(b) => String::from_utf8_lossy(b).into_owned(),
        redis::Value::SimpleString(s) => s.clone(),
        other => format!("{other:?}"),
    }
}

#[test]
fn function_dump_restores_in_the_other_server() {
    let redis = Server::redis();
    let percore = Server::start(2);
    let mut r = redis.client();
    let mut p = percore.client();
    let two = "#!lua name=two\nredis.register_function('t1', function() return 1 end)\n\
               redis.register_function{function_name='t2', callback=function() return 2 end, flags={'no-writes'}}";
    for flip in [false, true] {
        let (from, to) = match flip {
            false => (&mut r, &mut p),
            true => (&mut p, &mut r),
        };
        let _: () = redis::cmd("FUNCTION").arg("FLUSH").query(from).unwrap();
        let _: () = redis::cmd("FUNCTION").arg("FLUSH").query(to).unwrap();
        for code in [LIB_A, two] {
            let _: String = redis::cmd("FUNCTION")
                .arg("LOAD")
                .arg(code)
                .query(from)
                .unwrap();
        }
        let payload: Vec<u8> = redis::cmd("FUNCTION").arg("DUMP").query(from).unwrap();
        let _: () = redis::cmd("FUNCTION")
            .arg("RESTORE")
            .arg(&payload)
            .query(to)
            .unwrap();
        assert_eq!(listing(to), listing(from));
        let one: i64 = redis::cmd("FCALL").arg("t1").arg(0).query(to).unwrap();
        assert_eq!(one, 1);
        // APPEND (the default) refuses what exists; REPLACE and FLUSH take it.
        let again: redis::RedisResult<()> = redis::cmd("FUNCTION")
            .arg("RESTORE")
            .arg(&payload)
            .query(to);
        assert!(again.unwrap_err().to_string().contains("already exists"));
        for policy in ["REPLACE", "FLUSH"] {
            let _: () = redis::cmd("FUNCTION")
                .arg("RESTORE")
                .arg(&payload)
                .arg(policy)
                .query(to)
                .unwrap();
            assert_eq!(listing(to), listing(from));
        }
    }
    // Both servers dump the same libraries to the same bytes, one library at a time.
    for c in [&mut r, &mut p] {
        let _: () = redis::cmd("FUNCTION").arg("FLUSH").query(c).unwrap();
        let _: String = redis::cmd("FUNCTION")
            .arg("LOAD")
            .arg(LIB_A)
            .query(c)
            .unwrap();
    }
    let a: Vec<u8> = redis::cmd("FUNCTION").arg("DUMP").query(&mut r).unwrap();
    let b: Vec<u8> = redis::cmd("FUNCTION").arg("DUMP").query(&mut p).unwrap();
    assert_eq!(a, b);
}

/// A library loaded through one connection is callable from connections on every core,
/// and a replaced or deleted one is gone everywhere; a function whose keys live on several
/// shards runs atomically.
#[test]
fn functions_run_on_every_core() {
    let s = Server::start(2);
    let mut clients: Vec<Raw> = (0..6).map(|_| s.raw()).collect();
    let v1 = "#!lua name=lib\nredis.register_function('f', function(k, a) return 'v1' end)";
    let v2 = "#!lua name=lib\nredis.register_function('f', function(k, a) return 'v2' end)";
    assert_eq!(clients[0].cmd(&["FUNCTION", "LOAD", v1]), "$3\r\nlib\r\n");
    for c in clients.iter_mut() {
        assert_eq!(c.cmd(&["FCALL", "f", "0"]), "$2\r\nv1\r\n");
    }
    assert_eq!(
        clients[1].cmd(&["FUNCTION", "LOAD", "REPLACE", v2]),
        "$3\r\nlib\r\n"
    );
    for c in clients.iter_mut() {
        assert_eq!(c.cmd(&["FCALL", "f", "0"]), "$2\r\nv2\r\n");
    }
    assert_eq!(clients[2].cmd(&["FUNCTION", "DELETE", "lib"]), "+OK\r\n");
    for c in clients.iter_mut() {
        assert_eq!(c.cmd(&["FCALL", "f", "0"]), "-ERR Function not found\r\n");
    }
    // Moves between keys of both shards (8 keys span both), while others read the total.
    let mv = "#!lua name=bank\nredis.register_function('move', function(k, a)
        redis.call('decrby', k[1], a[1]) redis.call('incrby', k[2], a[1]) end)
        redis.register_function{function_name='total', callback=function(k)
        local t = 0 for _, key in ipairs(k) do t = t + redis.call('get', key) end
        return t end, flags={'no-writes'}}";
    assert_eq!(clients[0].cmd(&["FUNCTION", "LOAD", mv]), "$4\r\nbank\r\n");
    let accounts: Vec<String> = (0..8).map(|i| format!("acct:{i}")).collect();
    for a in &accounts {
        clients[0].cmd(&["SET", a, "100"]);
    }
    let stop = Instant::now() + Duration::from_secs(2);
    let writer = std::thread::spawn({
        let port = s.port;
        let accounts = accounts.clone();
        move || {
            let mut w = Raw::connect(port);
            let mut n = 0;
            while Instant::now() < stop && n < 5000 {
                let (x, y) = (&accounts[n % 8], &accounts[(n * 3 + 1) % 8]);
                assert_eq!(w.cmd(&["FCALL", "move", "2", x, y, "7"]), "$-1\r\n");
                n += 1;
            }
            n
        }
    });
    let mut argv = vec!["FCALL_RO", "total", "8"];
    argv.extend(accounts.iter().map(|a| a.as_str()));
    let mut reads = 0;
    while Instant::now() < stop && reads < 5000 {
        assert_eq!(clients[3].cmd(&argv), ":800\r\n");
        reads += 1;
    }
    assert!(writer.join().unwrap() > 0 && reads > 0);
}

/// What a client sees of a busy function and of a busy script next to functions:
/// -BUSY texts by kind, FUNCTION STATS, SCRIPT KILL refusing a function and FUNCTION KILL
/// a script, UNKILLABLE after a write.
fn busy_session(port: u16) -> Vec<String> {
    let mut seen = Vec::new();
    let mut runner = Raw::connect(port);
    let mut other = Raw::connect(port);
    other.cmd(&["FUNCTION", "FLUSH"]);
    let lib = "#!lua name=busy
redis.register_function('spin', function(k, a) while true do end end)
redis.register_function('wspin', function(k, a) redis.call('set', k[1], 'w') while true do end end)";
    seen.push(other.cmd(&["FUNCTION", "LOAD", lib]));
    let send = |c: &mut Raw, argv: &[&str]| {
        let mut buf = Vec::new();
        let argv: Vec<&[u8]> = argv.iter().map(|a| a.as_bytes()).collect();
        resp::write_command(&mut buf, &argv);
        c.send(&buf);
    };
    send(&mut runner, &["FCALL", "spin", "1", "busykey"]);
    wait_busy(&mut other);
    for cmd in [
        &["GET", "busykey"][..],
        &["FCALL", "spin", "0"],
        &["SCRIPT", "KILL"],
        &["FUNCTION", "LOAD", lib],
    ] {
        seen.push(format!("{cmd:?} -> {}", other.cmd(cmd)));
    }
    let stats = other.cmd(&["FUNCTION", "STATS"]);
    // The duration is the one thing that differs.
    let at = stats.find("duration_ms").expect("duration") + "duration_ms\r\n".len();
    let end = at + stats[at..].find("\r\n").unwrap();
    seen.push(format!("stats -> {}{}", &stats[..at], &stats[end..]));
    seen.push(format!("kill -> {}", other.cmd(&["FUNCTION", "KILL"])));
    seen.push(format!("runner -> {}", runner.read_reply()));
    seen.push(format!("after -> {}", other.cmd(&["FUNCTION", "KILL"])));
    send(&mut runner, &["FCALL", "wspin", "1", "busykey"]);
    wait_busy(&mut other);
    seen.push(format!("kill -> {}", other.cmd(&["FUNCTION", "KILL"])));
    seen.push(format!("script kill -> {}", other.cmd(&["SCRIPT", "KILL"])));
    send(&mut other, &["SHUTDOWN", "NOSAVE"]);
    seen.push(format!("nosave -> {:?}", other.try_read_reply()));
    seen.push(format!("runner -> {:?}", runner.try_read_reply()));
    seen
}

/// A busy script seen through the FUNCTION commands.
fn busy_eval_session(port: u16) -> Vec<String> {
    let mut seen = Vec::new();
    let mut runner = Raw::connect(port);
    let mut other = Raw::connect(port);
    let mut buf = Vec::new();
    resp::write_command(&mut buf, &[b"EVAL", b"while true do end", b"0"]);
    runner.send(&buf);
    wait_busy(&mut other);
    for cmd in [
        &["FUNCTION", "STATS"][..],
        &["FUNCTION", "KILL"],
        &["FCALL", "x", "0"],
        &["SCRIPT", "KILL"],
    ] {
        seen.push(format!("{cmd:?} -> {}", other.cmd(cmd)));
    }
    seen.push(format!("runner -> {}", runner.read_reply()));
    seen
}

#[test]
fn busy_functions_answer_as_redis_does() {
    let mut redis = Server::redis_with(&["--busy-reply-threshold", "50"]);
    let want_eval = busy_eval_session(redis.port);
    let want = busy_session(redis.port);
    assert!(redis.wait_exit(Duration::from_secs(10)).is_some());
    for shards in [1, 2] {
        let mut percore = Server::start_with(shards, &["--busy-reply-threshold", "50"]);
        assert_eq!(
            busy_eval_session(percore.port),
            want_eval,
            "{shards} shard(s)"
        );
        assert_eq!(busy_session(percore.port), want, "{shards} shard(s)");
        assert!(percore.wait_exit(Duration::from_secs(10)).is_some());
    }
}

fn load_lib(c: &mut redis::Connection, code: &str, replace: bool) {
    let mut cmd = redis::cmd("FUNCTION");
    cmd.arg("LOAD");
    if replace {
        cmd.arg("REPLACE");
    }
    let _: String = cmd.arg(code).query(c).unwrap();
}

fn wait_rewrite(c: &mut Raw) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while crate::harness::info_field(c, "persistence", "aof_rewrite_in_progress") == "1" {
        assert!(Instant::now() < deadline, "rewrite never ended");
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(
        crate::harness::info_field(c, "persistence", "aof_last_bgrewrite_status"),
        "ok"
    );
}

/// Libraries persist as redis-server persists them: in RDB files (which either server
/// loads, and redis-check-rdb accepts), and in the AOF as the FUNCTION commands that changed
/// them, through restarts, rewrites (both base forms) and the export to redis-server.
#[test]
fn libraries_survive_restarts_in_the_rdb_and_the_aof() {
    let two = "#!lua name=two\nredis.register_function('t1', function() return 1 end)\n\
               redis.register_function{function_name='t2', callback=function() return 2 end, flags={'no-writes'}}";
    // RDB: percore -> percore (other shard count) -> redis-server -> percore.
    let dir = crate::harness::scratch_dir("functions-rdb");
    let d = dir.display().to_string();
    let want = {
        let s = Server::start_with(2, &["--dir", &d]);
        let mut c = s.client();
        load_lib(&mut c, LIB_A, false);
        load_lib(&mut c, two, false);
        let _: () = redis::cmd("SAVE").query(&mut c).unwrap();
        listing(&mut c)
    };
    let s = Server::start_with(3, &["--dir", &d]);
    assert_eq!(
        listing(&mut s.client()),
        want,
        "percore loaded its own file"
    );
    drop(s);
    let redis = Server::redis_with(&["--dir", &d, "--dbfilename", "dump.rdb"]);
    let mut rc = redis.client();
    assert_eq!(listing(&mut rc), want, "redis-server loaded percore's file");
    load_lib(&mut rc, LIB_B, false);
    let want = listing(&mut rc);
    let _: () = redis::cmd("SAVE").query(&mut rc).unwrap();
    drop(rc);
    drop(redis);
    let s = Server::start_with(2, &["--dir", &d]);
    let mut c = s.client();
    assert_eq!(listing(&mut c), want, "percore loaded redis-server's file");
    let n: i64 = redis::cmd("FCALL")
        .arg("incr_by")
        .arg(1)
        .arg("k")
        .arg(3)
        .query(&mut c)
        .unwrap();
    assert_eq!(n, 3);
    drop(s);
    let _ = std::fs::remove_dir_all(&dir);

    // AOF: every change replays in order, on another shard count too.
    let dir = crate::harness::scratch_dir("functions-aof");
    let d = dir.display().to_string();
    let aof = |shards: usize, extra: &[&str]| {
        let mut args = vec!["--dir", &d, "--appendonly", "yes"];
        args.extend_from_slice(extra);
        Server::start_with(shards, &args)
    };
    let s = aof(2, &[]);
    let mut c = s.client();
    load_lib(&mut c, LIB_A, false);
    load_lib(&mut c, two, false);
    load_lib(&mut c, LIB_B, false);
    let _: i64 = redis::cmd("FCALL")
        .arg("incr_by")
        .arg(1)
        .arg("k")
        .arg(5)
        .query(&mut c)
        .unwrap();
    let _: () = redis::cmd("FUNCTION")
        .arg("DELETE")
        .arg("liba")
        .query(&mut c)
        .unwrap();
    load_lib(&mut c, &two.replace("return 1", "return 11"), true);
    let want = listing(&mut c);
    drop(c);
    drop(s);
    let s = aof(2, &[]);
    let mut c = s.client();
    assert_eq!(listing(&mut c), want, "replayed from the increments");
    let eleven: i64 = redis::cmd("FCALL").arg("t1").arg(0).query(&mut c).unwrap();
    assert_eq!(eleven, 11);
    // A rewrite puts the libraries in shard 0's base (RDB form, then command form).
    let mut raw = s.raw();
    for preamble in ["yes", "no"] {
        raw.cmd(&["CONFIG", "SET", "aof-use-rdb-preamble", preamble]);
        assert!(raw.cmd(&["BGREWRITEAOF"]).starts_with("+Background"));
        wait_rewrite(&mut raw);
        load_lib(&mut c, LIB_RO, preamble == "no");
    }
    let want = listing(&mut c);
    drop((c, raw));
    drop(s);
    for shards in [2, 3] {
        let s = aof(shards, &["--aof-use-rdb-preamble", "no"]);
        assert_eq!(
            listing(&mut s.client()),
            want,
            "{shards} shards after rewrites"
        );
    }
    // The export holds them for redis-server.
    let export = dir.join("export.aof");
    crate::harness::aof_export(&dir.join("appendonlydir"), &export);
    let rdir = crate::harness::scratch_dir("functions-export-redis");
    std::fs::copy(&export, rdir.join("appendonly.aof")).expect("copy export");
    let r = rdir.display().to_string();
    let redis = Server::redis_with(&["--appendonly", "yes", "--dir", &r]);
    assert_eq!(
        listing(&mut redis.client()),
        want,
        "redis-server loaded the export"
    );
    drop(redis);
    let _ = std::fs::remove_dir_all(&dir);
    let _ = std::fs::remove_dir_all(&rdir);
}

/// While the server cannot persist (MISCONF), scripts and functions that may write are
/// refused as redis-server refuses them: by their flags before they run, and at their
/// first write inside (for scripts without a shebang); read-only ones run.
#[test]
fn writes_from_scripts_are_refused_under_misconf() {
    let session = |server: &Server, dir: &std::path::Path| -> Vec<String> {
        let mut c = server.raw();
        let lib = "#!lua name=m\nredis.register_function('w', function(k) return redis.call('get', k[1]) end)\n\
                   redis.register_function{function_name='r', callback=function(k) return redis.call('get', k[1]) end, flags={'no-writes'}}";
        assert_eq!(c.cmd(&["FUNCTION", "LOAD", lib]), "$1\r\nm\r\n");
        c.cmd(&["SET", "k", "v"]);
        std::fs::remove_dir_all(dir).expect("remove dir");
        c.cmd(&["BGSAVE"]);
        let deadline = Instant::now() + Duration::from_secs(10);
        while crate::harness::info_field(&mut c, "persistence", "rdb_last_bgsave_status") != "err" {
            assert!(Instant::now() < deadline, "BGSAVE never failed");
            std::thread::sleep(Duration::from_millis(20));
        }
        let mut seen = Vec::new();
        for cmd in [
            &["EVAL", "return redis.call('set', KEYS[1], 'x')", "1", "k"][..],
            &["EVAL", "return redis.pcall('set', KEYS[1], 'x')", "1", "k"],
            &["EVAL", "return redis.call('get', KEYS[1])", "1", "k"],
            &["EVAL", "#!lua\nreturn redis.call('get', KEYS[1])", "1", "k"],
            &[
                "EVAL",
                "#!lua flags=no-writes\nreturn redis.call('get', KEYS[1])",
                "1",
                "k",
            ],
            &["EVAL_RO", "#!lua\nreturn 1", "0"],
            &["FCALL", "w", "1", "k"],
            &["FCALL", "r", "1", "k"],
            &["FCALL_RO", "r", "1", "k"],
            &[
                "FUNCTION",
                "LOAD",
                "#!lua name=x\nredis.register_function('x', function() end)",
            ],
            &["FUNCTION", "DELETE", "m"],
            &["FUNCTION", "FLUSH"],
            &["FUNCTION", "LIST", "LIBRARYNAME", "x"],
        ] {
            seen.push(format!("{cmd:?} -> {}", c.cmd(cmd)));
        }
        seen
    };
    let run = |redis: bool| {
        let dir = crate::harness::scratch_dir(if redis {
            "misconf-redis"
        } else {
            "misconf-percore"
        });
        let d = dir.display().to_string();
        let args = ["--dir", &d, "--save", "3600 1"];
        let server = if redis {
            Server::redis_with(&args)
        } else {
            Server::start_with(2, &args)
        };
        session(&server, &dir)
    };
    assert_eq!(run(false), run(true));
}
