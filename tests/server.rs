//! Connection and server commands against the real binary: HELLO/AUTH, databases, whole
//! keyspace commands across shards, CLIENT, COMMAND, INFO, CONFIG, limits, shutdown and
//! signals, redis-cli, and starting from redis.conf files.

use crate::harness::{free_port, scratch_dir, Raw, Server, BIN};
use redis::Commands;
use std::collections::{HashMap, HashSet};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// The payload of a bulk or verbatim reply (`$n\r\n...` / `=n\r\ntxt:...`).
fn bulk_text(reply: &str) -> String {
    let body = reply.split_once("\r\n").map(|x| x.1).unwrap_or("");
    let body = body.strip_suffix("\r\n").unwrap_or(body);
    if reply.starts_with('=') {
        body.get(4..).unwrap_or("").to_string()
    } else {
        body.to_string()
    }
}

/// INFO as `field -> value`, asserting every non-comment line is `field:value`.
fn info(r: &mut Raw, section: &str) -> HashMap<String, String> {
    let text = bulk_text(&r.cmd(&["INFO", section]));
    let mut map = HashMap::new();
    for line in text.split("\r\n") {
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (k, v) = line
            .split_once(':')
            .unwrap_or_else(|| panic!("INFO line is not field:value: {line:?}"));
        map.insert(k.to_string(), v.to_string());
    }
    map
}

fn wait_until(what: &str, timeout: Duration, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if f() {
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    panic!("timed out waiting for {what}");
}

/// True when the server closes `r` within `within` (a read returns EOF or a reset).
fn closed_within(r: &mut Raw, within: Duration) -> bool {
    use std::io::Read;
    r.stream.set_read_timeout(Some(within)).ok();
    let mut buf = [0u8; 256];
    let start = Instant::now();
    loop {
        match r.stream.read(&mut buf) {
            Ok(0) => return true,
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => return true,
            Err(_) => return false,
        }
        if start.elapsed() > within {
            return false;
        }
    }
}

const HELLO3: &str = "%7\r\n$6\r\nserver\r\n$5\r\nredis\r\n$7\r\nversion\r\n$6\r\n7.0.15\r\n$5\r\nproto\r\n:3\r\n$2\r\nid\r\n";
const HELLO2: &str = "*14\r\n$6\r\nserver\r\n$5\r\nredis\r\n$7\r\nversion\r\n$6\r\n7.0.15\r\n$5\r\nproto\r\n:2\r\n$2\r\nid\r\n";
const HELLO_TAIL: &str =
    "$4\r\nmode\r\n$10\r\nstandalone\r\n$4\r\nrole\r\n$6\r\nmaster\r\n$7\r\nmodules\r\n*0\r\n";

#[test]
fn hello_and_resp3_replies() {
    let srv = Server::start(2);
    let mut r = srv.raw();
    let id = r.cmd(&["CLIENT", "ID"]);
    let h = r.cmd(&["HELLO", "3"]);
    assert_eq!(h, format!("{HELLO3}{id}{HELLO_TAIL}"));
    // RESP3 shapes: null, map, verbatim.
    assert_eq!(r.cmd(&["GET", "missing"]), "_\r\n");
    assert_eq!(
        r.cmd(&["CONFIG", "GET", "maxclients"]),
        "%1\r\n$10\r\nmaxclients\r\n$5\r\n10000\r\n"
    );
    assert!(r.cmd(&["INFO", "server"]).contains("\r\ntxt:# Server\r\n"));
    let h = r.cmd(&["HELLO", "2", "SETNAME", "conn-a"]);
    assert_eq!(h, format!("{HELLO2}{id}{HELLO_TAIL}"));
    assert_eq!(r.cmd(&["GET", "missing"]), "$-1\r\n");
    assert_eq!(r.cmd(&["CLIENT", "GETNAME"]), "$6\r\nconn-a\r\n");
    assert_eq!(
        r.cmd(&["HELLO", "4"]),
        "-NOPROTO unsupported protocol version\r\n"
    );
    assert_eq!(
        r.cmd(&["HELLO", "x"]),
        "-ERR Protocol version is not an integer or out of range\r\n"
    );
    assert_eq!(
        r.cmd(&["HELLO", "3", "AUTH", "default"]),
        "-ERR Syntax error in HELLO option 'AUTH'\r\n"
    );
    // Without a password, HELLO AUTH default <anything> succeeds (nopass user), like Redis.
    assert!(r
        .cmd(&["HELLO", "3", "AUTH", "default", "whatever"])
        .starts_with("%7\r\n"));
    assert_eq!(
        r.cmd(&["AUTH", "x"]),
        "-ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?\r\n"
    );
}

#[test]
fn requirepass_and_auth() {
    let srv = Server::start_with(2, &["--requirepass", "s3cret"]);
    let mut r = srv.raw();
    assert_eq!(r.cmd(&["GET", "a"]), "-NOAUTH Authentication required.\r\n");
    // Arity is checked before authentication, as in Redis 7.0.
    assert_eq!(
        r.cmd(&["GET"]),
        "-ERR wrong number of arguments for 'get' command\r\n"
    );
    assert_eq!(
        r.cmd(&["HELLO", "3"]),
        "-NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO AUTH <user> <pass> option can be used to authenticate the client and select the RESP protocol version at the same time\r\n"
    );
    assert_eq!(
        r.cmd(&["AUTH", "wrong"]),
        "-WRONGPASS invalid username-password pair or user is disabled.\r\n"
    );
    assert_eq!(
        r.cmd(&["AUTH", "nobody", "s3cret"]),
        "-WRONGPASS invalid username-password pair or user is disabled.\r\n"
    );
    assert_eq!(r.cmd(&["AUTH", "s3cret"]), "+OK\r\n");
    assert_eq!(r.cmd(&["SET", "a", "1"]), "+OK\r\n");

    let mut r2 = srv.raw();
    assert_eq!(r2.cmd(&["AUTH", "default", "s3cret"]), "+OK\r\n");
    assert_eq!(r2.cmd(&["GET", "a"]), "$1\r\n1\r\n");

    let mut r3 = srv.raw();
    assert_eq!(
        r3.cmd(&["HELLO", "3", "AUTH", "default", "bad"]),
        "-WRONGPASS invalid username-password pair or user is disabled.\r\n"
    );
    let h = r3.cmd(&["HELLO", "3", "AUTH", "default", "s3cret", "SETNAME", "n3"]);
    assert!(h.starts_with(HELLO3), "{h:?}");
    assert_eq!(r3.cmd(&["GET", "a"]), "$1\r\n1\r\n");
    assert_eq!(r3.cmd(&["CLIENT", "GETNAME"]), "$2\r\nn3\r\n");
    // RESET drops the authentication.
    assert_eq!(r3.cmd(&["RESET"]), "+RESET\r\n");
    assert_eq!(
        r3.cmd(&["GET", "a"]),
        "-NOAUTH Authentication required.\r\n"
    );
}

#[test]
fn select_swapdb_flush_dbsize() {
    let srv = Server::start(4);
    let mut r = srv.raw();
    for bad in ["16", "-1"] {
        assert_eq!(r.cmd(&["SELECT", bad]), "-ERR DB index is out of range\r\n");
    }
    assert_eq!(
        r.cmd(&["SELECT", "x"]),
        "-ERR value is not an integer or out of range\r\n"
    );
    for i in 0..100 {
        assert_eq!(r.cmd(&["SET", &format!("k{i}"), "db0"]), "+OK\r\n");
    }
    assert_eq!(r.cmd(&["DBSIZE"]), ":100\r\n");
    assert_eq!(r.cmd(&["SELECT", "1"]), "+OK\r\n");
    assert_eq!(r.cmd(&["DBSIZE"]), ":0\r\n");
    assert_eq!(r.cmd(&["GET", "k1"]), "$-1\r\n");
    for i in 0..30 {
        assert_eq!(r.cmd(&["SET", &format!("k{i}"), "db1"]), "+OK\r\n");
    }
    assert_eq!(r.cmd(&["DBSIZE"]), ":30\r\n");
    assert_eq!(r.cmd(&["SWAPDB", "0", "1"]), "+OK\r\n");
    assert_eq!(r.cmd(&["DBSIZE"]), ":100\r\n");
    assert_eq!(r.cmd(&["GET", "k50"]), "$3\r\ndb0\r\n");
    assert_eq!(
        r.cmd(&["SWAPDB", "0", "16"]),
        "-ERR DB index is out of range\r\n"
    );
    assert_eq!(
        r.cmd(&["SWAPDB", "x", "1"]),
        "-ERR invalid first DB index\r\n"
    );
    assert_eq!(
        r.cmd(&["SWAPDB", "0", "y"]),
        "-ERR invalid second DB index\r\n"
    );
    assert_eq!(r.cmd(&["FLUSHDB", "ASYNC"]), "+OK\r\n");
    assert_eq!(r.cmd(&["DBSIZE"]), ":0\r\n");
    assert_eq!(r.cmd(&["SELECT", "0"]), "+OK\r\n");
    assert_eq!(r.cmd(&["DBSIZE"]), ":30\r\n");
    assert_eq!(r.cmd(&["FLUSHDB", "bogus"]), "-ERR syntax error\r\n");
    assert_eq!(r.cmd(&["SELECT", "5"]), "+OK\r\n");
    assert_eq!(r.cmd(&["SET", "x", "1"]), "+OK\r\n");
    assert_eq!(r.cmd(&["FLUSHALL", "ASYNC"]), "+OK\r\n");
    assert_eq!(r.cmd(&["DBSIZE"]), ":0\r\n");
    assert_eq!(r.cmd(&["SELECT", "0"]), "+OK\r\n");
    assert_eq!(r.cmd(&["DBSIZE"]), ":0\r\n");
    assert_eq!(r.cmd(&["SET", "y", "1"]), "+OK\r\n");
    assert_eq!(r.cmd(&["FLUSHALL"]), "+OK\r\n");
    assert_eq!(r.cmd(&["DBSIZE"]), ":0\r\n");
}

#[test]
fn keys_scan_randomkey_four_shards() {
    let srv = Server::start(4);
    let mut c = srv.client();
    let none: Option<String> = redis::cmd("RANDOMKEY").query(&mut c).unwrap();
    assert_eq!(none, None);
    let mut all = HashSet::new();
    let mut pipe = redis::pipe();
    for i in 0..1000 {
        let k = format!("scan:{i}");
        pipe.set(&k, i).ignore();
        all.insert(k);
    }
    for i in 0..100 {
        let k = format!("other:{i}");
        pipe.set(&k, i).ignore();
        all.insert(k);
    }
    let _: () = pipe.query(&mut c).unwrap();
    let n: usize = redis::cmd("DBSIZE").query(&mut c).unwrap();
    assert_eq!(n, 1100);

    let keys: Vec<String> = c.keys("other:*").unwrap();
    assert_eq!(keys.len(), 100);
    assert!(keys.iter().all(|k| k.starts_with("other:")));

    let scan_all = |c: &mut redis::Connection, extra: &[&str]| -> Vec<String> {
        let mut cursor = "0".to_string();
        let mut seen = Vec::new();
        for _ in 0..10_000 {
            let (next, batch): (String, Vec<String>) =
                redis::cmd("SCAN").arg(&cursor).arg(extra).query(c).unwrap();
            seen.extend(batch);
            if next == "0" {
                return seen;
            }
            cursor = next;
        }
        panic!("SCAN did not finish in 10,000 calls");
    };
    let seen = scan_all(&mut c, &["COUNT", "7"]);
    let uniq: HashSet<String> = seen.iter().cloned().collect();
    assert_eq!(uniq, all, "SCAN COUNT 7 must return every key");
    let seen = scan_all(&mut c, &[]);
    assert_eq!(seen.iter().cloned().collect::<HashSet<_>>(), all);
    let seen: HashSet<String> = scan_all(&mut c, &["MATCH", "scan:1*", "COUNT", "50"])
        .into_iter()
        .collect();
    let want: HashSet<String> = all
        .iter()
        .filter(|k| k.starts_with("scan:1"))
        .cloned()
        .collect();
    assert_eq!(seen, want);
    let strings = scan_all(&mut c, &["TYPE", "string", "COUNT", "100"]);
    assert_eq!(strings.iter().cloned().collect::<HashSet<_>>(), all);
    assert!(scan_all(&mut c, &["TYPE", "list"]).is_empty());
    let err = redis::cmd("SCAN")
        .arg("0")
        .arg("COUNT")
        .arg("0")
        .query::<redis::Value>(&mut c)
        .unwrap_err();
    assert!(err.to_string().contains("syntax error"), "{err}");

    for _ in 0..20 {
        let k: String = redis::cmd("RANDOMKEY").query(&mut c).unwrap();
        assert!(all.contains(&k), "RANDOMKEY returned {k}");
    }
}

#[test]
fn client_commands() {
    let srv = Server::start(2);
    let mut a = srv.raw();
    let mut b = srv.raw();
    let id_a: u64 = a.cmd(&["CLIENT", "ID"])[1..].trim().parse().unwrap();
    let id_b: u64 = b.cmd(&["CLIENT", "ID"])[1..].trim().parse().unwrap();
    assert_ne!(id_a, id_b);
    assert_eq!(a.cmd(&["CLIENT", "GETNAME"]), "$-1\r\n");
    assert_eq!(a.cmd(&["CLIENT", "SETNAME", "alpha"]), "+OK\r\n");
    assert_eq!(a.cmd(&["CLIENT", "GETNAME"]), "$5\r\nalpha\r\n");
    assert_eq!(
        a.cmd(&["CLIENT", "SETNAME", "a b"]),
        "-ERR Client names cannot contain spaces, newlines or special characters.\r\n"
    );
    let info_a = bulk_text(&a.cmd(&["CLIENT", "INFO"]));
    assert!(
        info_a.starts_with(&format!("id={id_a} addr=127.0.0.1:")),
        "{info_a}"
    );
    assert!(info_a.contains(" name=alpha "), "{info_a}");
    assert!(info_a.contains(" cmd=client|info "), "{info_a}");
    let addr_a = info_a
        .split(' ')
        .find_map(|f| f.strip_prefix("addr="))
        .unwrap()
        .to_string();
    let list = bulk_text(&b.cmd(&["CLIENT", "LIST"]));
    assert!(list.lines().any(|l| l.starts_with(&format!("id={id_a} "))));
    assert!(list.lines().any(|l| l.starts_with(&format!("id={id_b} "))));
    let only = bulk_text(&b.cmd(&["CLIENT", "LIST", "ID", &id_a.to_string()]));
    assert_eq!(only.lines().count(), 1, "{only}");
    assert!(only.contains("name=alpha"));

    // KILL by ID: the victim's socket is closed.
    assert_eq!(b.cmd(&["CLIENT", "KILL", "ID", "999999"]), ":0\r\n");
    assert_eq!(
        b.cmd(&["CLIENT", "KILL", "ID", &id_a.to_string()]),
        ":1\r\n"
    );
    assert!(closed_within(&mut a, Duration::from_secs(3)));

    // KILL ADDR and the old `CLIENT KILL addr` form.
    let mut c = srv.raw();
    let addr_c = bulk_text(&c.cmd(&["CLIENT", "INFO"]))
        .split(' ')
        .find_map(|f| f.strip_prefix("addr="))
        .unwrap()
        .to_string();
    assert_eq!(b.cmd(&["CLIENT", "KILL", "ADDR", &addr_c]), ":1\r\n");
    assert!(closed_within(&mut c, Duration::from_secs(3)));
    let mut d = srv.raw();
    let addr_d = bulk_text(&d.cmd(&["CLIENT", "INFO"]))
        .split(' ')
        .find_map(|f| f.strip_prefix("addr="))
        .unwrap()
        .to_string();
    assert_eq!(b.cmd(&["CLIENT", "KILL", &addr_d]), "+OK\r\n");
    assert!(closed_within(&mut d, Duration::from_secs(3)));
    assert_eq!(
        b.cmd(&["CLIENT", "KILL", &addr_a]),
        "-ERR No such client\r\n"
    );
    assert_eq!(
        b.cmd(&["CLIENT", "KILL", "ID", "1", "x"]),
        "-ERR syntax error\r\n"
    );
    // SKIPME yes (the default) spares the caller.
    assert_eq!(
        b.cmd(&["CLIENT", "KILL", "ID", &id_b.to_string()]),
        ":0\r\n"
    );
    assert_eq!(b.cmd(&["PING"]), "+PONG\r\n");
}

#[test]
fn client_reply_modes() {
    let srv = Server::start(2);
    let mut r = srv.raw();
    // OFF: nothing until ON, whose +OK is the next reply.
    r.send(b"CLIENT REPLY OFF\r\nSET a 1\r\nGET a\r\nCLIENT REPLY ON\r\nGET a\r\n");
    assert_eq!(r.read_reply(), "+OK\r\n");
    assert_eq!(r.read_reply(), "$1\r\n1\r\n");
    // SKIP: only the next command's reply is dropped.
    r.send(b"CLIENT REPLY SKIP\r\nECHO one\r\nECHO two\r\n");
    assert_eq!(r.read_reply(), "$3\r\ntwo\r\n");
    assert_eq!(
        r.cmd(&["CLIENT", "REPLY", "maybe"]),
        "-ERR syntax error\r\n"
    );
}

#[test]
fn client_pause_and_unpause() {
    let srv = Server::start(2);
    let mut a = srv.raw();
    let mut b = srv.raw();
    assert_eq!(a.cmd(&["CLIENT", "PAUSE", "400"]), "+OK\r\n");
    let t = Instant::now();
    assert_eq!(b.cmd(&["PING"]), "+PONG\r\n");
    assert!(
        t.elapsed() >= Duration::from_millis(250),
        "{:?}",
        t.elapsed()
    );
    // WRITE pauses writes only; UNPAUSE lets them through at once.
    assert_eq!(a.cmd(&["CLIENT", "PAUSE", "10000", "WRITE"]), "+OK\r\n");
    let t = Instant::now();
    assert_eq!(b.cmd(&["GET", "x"]), "$-1\r\n");
    assert!(t.elapsed() < Duration::from_secs(2));
    b.send(b"SET x 1\r\n");
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(a.cmd(&["CLIENT", "UNPAUSE"]), "+OK\r\n");
    assert_eq!(b.read_reply(), "+OK\r\n");
    assert!(t.elapsed() < Duration::from_secs(5));
    assert_eq!(
        a.cmd(&["CLIENT", "PAUSE", "10", "foo"]),
        "-ERR CLIENT PAUSE mode must be WRITE or ALL\r\n"
    );
    assert_eq!(
        a.cmd(&["CLIENT", "PAUSE", "-1"]),
        "-ERR timeout is negative\r\n"
    );
}

#[test]
fn command_introspection() {
    let srv = Server::start(2);
    let mut c = srv.client();
    let count: usize = redis::cmd("COMMAND").arg("COUNT").query(&mut c).unwrap();
    let list: Vec<String> = redis::cmd("COMMAND").arg("LIST").query(&mut c).unwrap();
    assert!(count > 50, "COMMAND COUNT {count}");
    // LIST names subcommands too ("config|get"), as Redis 7's does; COUNT only commands.
    assert_eq!(list.iter().filter(|n| !n.contains('|')).count(), count);
    for name in ["get", "set", "ping", "client", "config", "scan"] {
        assert!(list.iter().any(|n| n == name), "COMMAND LIST lacks {name}");
    }
    let mut r = srv.raw();
    let info = r.cmd(&["COMMAND", "INFO", "get", "nosuch"]);
    assert!(
        info.starts_with(
            "*2\r\n*10\r\n$3\r\nget\r\n:2\r\n*2\r\n+readonly\r\n+fast\r\n:1\r\n:1\r\n:1\r\n"
        ),
        "{info:?}"
    );
    assert!(info.ends_with("$-1\r\n"), "{info:?}");
    let docs = r.cmd(&["COMMAND", "DOCS", "get"]);
    assert!(
        docs.starts_with("*2\r\n$3\r\nget\r\n")
            && docs.contains("$7\r\nsummary\r\n$22\r\nGet the value of a key\r\n"),
        "{docs:?}"
    );
    assert_eq!(
        r.cmd(&["COMMAND", "GETKEYS", "MSET", "a", "1", "b", "2"]),
        "*2\r\n$1\r\na\r\n$1\r\nb\r\n"
    );
    assert_eq!(
        r.cmd(&["COMMAND", "GETKEYS", "PING", "x"]),
        "-ERR The command has no key arguments\r\n"
    );
    assert_eq!(
        r.cmd(&["COMMAND", "GETKEYS", "NOSUCH", "x"]),
        "-ERR Invalid command specified\r\n"
    );
    assert_eq!(
        r.cmd(&["COMMAND", "GETKEYS", "GET", "a", "b"]),
        "-ERR Invalid number of arguments specified for command\r\n"
    );
    assert_eq!(
        r.cmd(&["COMMAND", "GETKEYS", "GET"]),
        "-ERR wrong number of arguments for 'command|getkeys' command\r\n"
    );
    assert_eq!(
        r.cmd(&["COMMAND", "COUNT", "x"]),
        "-ERR wrong number of arguments for 'command|count' command\r\n"
    );
    let pat: Vec<String> = redis::cmd("COMMAND")
        .arg(&["LIST", "FILTERBY", "PATTERN", "get*"])
        .query(&mut c)
        .unwrap();
    assert!(pat.contains(&"get".to_string()) && pat.iter().all(|n| n.starts_with("get")));
}

#[test]
fn info_sections() {
    let srv = Server::start(2);
    let mut r = srv.raw();
    let mut c = srv.client();
    let _: () = c.set("a", 1).unwrap();
    let _: () = c.set("b", 2).unwrap();
    let _: () = c.set_ex("c", 3, 100).unwrap();
    let all = info(&mut r, "everything");
    assert_eq!(all["redis_version"], "7.0.15");
    assert_eq!(all["shards"], "2");
    assert_eq!(all["io_backend"], "io_uring");
    assert_eq!(all["tcp_port"], srv.port.to_string());
    assert_eq!(all["connected_clients"], "2");
    assert!(all["total_commands_processed"].parse::<u64>().unwrap() >= 3);
    let db0 = &all["db0"];
    let (prefix, ttl) = db0.rsplit_once(",avg_ttl=").expect(db0);
    assert_eq!(prefix, "keys=3,expires=1");
    let ttl: u64 = ttl.parse().unwrap();
    assert!(ttl > 90_000 && ttl <= 100_000, "avg_ttl {ttl}");
    // One section only.
    let ks = bulk_text(&r.cmd(&["INFO", "keyspace"]));
    assert!(
        ks.starts_with("# Keyspace\r\n") && !ks.contains("redis_version"),
        "{ks}"
    );
    // No argument: the default sections (an empty-string argument selects none, as in Redis).
    let default = bulk_text(&r.cmd(&["INFO"]));
    assert!(default.contains("\r\nused_memory:") && default.contains("\r\nrole:master\r\n"));
    assert_eq!(r.cmd(&["INFO", ""]), "$0\r\n\r\n");
}

#[test]
fn config_get_set_resetstat() {
    let srv = Server::start(2);
    let mut c = srv.client();
    let got: HashMap<String, String> = redis::cmd("CONFIG")
        .arg(&["GET", "maxclient*", "time*"])
        .query(&mut c)
        .unwrap();
    assert_eq!(got.get("maxclients").map(String::as_str), Some("10000"));
    assert_eq!(got.get("timeout").map(String::as_str), Some("0"));
    let _: () = redis::cmd("CONFIG")
        .arg(&["SET", "maxclients", "500", "timeout", "30"])
        .query(&mut c)
        .unwrap();
    let got: HashMap<String, String> = redis::cmd("CONFIG")
        .arg(&["GET", "maxclients", "timeout"])
        .query(&mut c)
        .unwrap();
    assert_eq!(got["maxclients"], "500");
    assert_eq!(got["timeout"], "30");
    let mut r = srv.raw();
    assert_eq!(
        r.cmd(&["CONFIG", "SET", "timeout", "-1"]),
        "-ERR CONFIG SET failed (possibly related to argument 'timeout') - argument must be between 0 and 2147483647 inclusive\r\n"
    );
    assert_eq!(
        r.cmd(&["CONFIG", "SET", "maxclients", "10", "timeout"]),
        "-ERR syntax error\r\n"
    );
    assert_eq!(
        r.cmd(&["CONFIG", "REWRITE"]),
        "-ERR The server is running without a config file\r\n"
    );
    for _ in 0..20 {
        assert_eq!(r.cmd(&["PING"]), "+PONG\r\n");
    }
    assert_eq!(r.cmd(&["CONFIG", "RESETSTAT"]), "+OK\r\n");
    // Synchronous: the very next INFO sees the reset counters.
    let stats = info(&mut r, "stats");
    let n: u64 = stats["total_commands_processed"].parse().unwrap();
    assert!(n <= 2, "total_commands_processed after RESETSTAT: {n}");
}

#[test]
fn config_rewrite_with_file() {
    let port = free_port();
    let dir = scratch_dir("rewrite");
    let conf = dir.join("percore.conf");
    std::fs::write(
        &conf,
        format!(
            "# kept comment\nport {port}\nbind 127.0.0.1\ndir {}\nmaxclients 100\n",
            dir.display()
        ),
    )
    .unwrap();
    let args = vec![
        conf.display().to_string(),
        "--shards".into(),
        "2".into(),
        "--loglevel".into(),
        "warning".into(),
    ];
    let srv = Server::start_raw(&args, port);
    let mut r = srv.raw();
    assert_eq!(r.cmd(&["CONFIG", "SET", "maxclients", "123"]), "+OK\r\n");
    assert_eq!(r.cmd(&["CONFIG", "REWRITE"]), "+OK\r\n");
    let text = std::fs::read_to_string(&conf).unwrap();
    assert!(text.contains("# kept comment"), "{text}");
    assert!(text.contains("maxclients 123"), "{text}");
    assert!(!text.contains("maxclients 100"), "{text}");
    let info = info(&mut r, "server");
    assert_eq!(info["config_file"], conf.display().to_string());
    drop(srv);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn time_debug_memory() {
    let srv = Server::start(2);
    let mut c = srv.client();
    let (secs, micros): (u64, u64) = redis::cmd("TIME").query(&mut c).unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    assert!(secs.abs_diff(now) <= 2 && micros < 1_000_000);
    let _: () = c.set("mem", "x".repeat(1000)).unwrap();
    let used: u64 = redis::cmd("MEMORY")
        .arg(&["USAGE", "mem"])
        .query(&mut c)
        .unwrap();
    assert!((1000..4000).contains(&used), "MEMORY USAGE {used}");
    let none: Option<u64> = redis::cmd("MEMORY")
        .arg(&["USAGE", "nosuch"])
        .query(&mut c)
        .unwrap();
    assert_eq!(none, None);
    // DEBUG is refused by default (enable-debug-command no), as in Redis 7.0.
    let mut r = srv.raw();
    assert_eq!(
        r.cmd(&["DEBUG", "SLEEP", "0"]),
        "-ERR DEBUG command not allowed. If the enable-debug-command option is set to \"local\", you can run it from a local connection, otherwise you need to set this option in the configuration file, and then restart the server.\r\n"
    );
    let srv = Server::start_with(2, &["--enable-debug-command", "local"]);
    let mut r = srv.raw();
    assert_eq!(r.cmd(&["DEBUG", "SLEEP", "0"]), "+OK\r\n");
    let t = Instant::now();
    assert_eq!(r.cmd(&["DEBUG", "SLEEP", "0.2"]), "+OK\r\n");
    assert!(t.elapsed() >= Duration::from_millis(190));
}

#[test]
fn maxclients_is_enforced() {
    let srv = Server::start_with(2, &["--maxclients", "3"]);
    let mut a = srv.raw();
    // The harness' readiness probe may still be counted for a moment.
    wait_until("one connected client", Duration::from_secs(3), || {
        info(&mut a, "clients")["connected_clients"] == "1"
    });
    let mut b = srv.raw();
    let mut c = srv.raw();
    assert_eq!(b.cmd(&["PING"]), "+PONG\r\n");
    assert_eq!(c.cmd(&["PING"]), "+PONG\r\n");
    let mut d = srv.raw();
    assert_eq!(d.read_reply(), "-ERR max number of clients reached\r\n");
    assert!(closed_within(&mut d, Duration::from_secs(3)));
    assert_eq!(info(&mut a, "stats")["rejected_connections"], "1");
    // Freeing a slot admits the next client.
    drop(c);
    wait_until("a free slot", Duration::from_secs(3), || {
        info(&mut a, "clients")["connected_clients"] == "2"
    });
    let mut e = srv.raw();
    assert_eq!(e.cmd(&["PING"]), "+PONG\r\n");
}

#[test]
fn idle_timeout_closes_clients() {
    let srv = Server::start_with(2, &["--timeout", "1"]);
    let mut idle = srv.raw();
    let mut busy = srv.raw();
    assert_eq!(idle.cmd(&["PING"]), "+PONG\r\n");
    let t = Instant::now();
    while t.elapsed() < Duration::from_millis(2500) {
        assert_eq!(busy.cmd(&["PING"]), "+PONG\r\n");
        std::thread::sleep(Duration::from_millis(200));
    }
    assert!(closed_within(&mut idle, Duration::from_secs(2)));
    assert_eq!(busy.cmd(&["PING"]), "+PONG\r\n");
    // CONFIG SET timeout 0 turns it off.
    assert_eq!(busy.cmd(&["CONFIG", "SET", "timeout", "0"]), "+OK\r\n");
    let mut later = srv.raw();
    std::thread::sleep(Duration::from_millis(2200));
    assert_eq!(later.cmd(&["PING"]), "+PONG\r\n");
}

#[test]
fn shutdown_exits_zero() {
    let mut srv = Server::start(2);
    let mut r = srv.raw();
    r.send(b"SHUTDOWN NOSAVE\r\n");
    assert!(r.try_read_reply().is_none(), "SHUTDOWN replied");
    let status = srv
        .wait_exit(Duration::from_secs(10))
        .expect("still running");
    assert!(status.success(), "{status}");
}

#[test]
fn sigterm_exits_cleanly() {
    let mut srv = Server::start(2);
    let mut c = srv.client();
    let _: () = c.set("a", 1).unwrap();
    // SAFETY: kill(2) on the pid of a child this test owns and has not reaped.
    let rc = unsafe { libc::kill(srv.pid() as libc::pid_t, libc::SIGTERM) };
    assert_eq!(rc, 0);
    let status = srv
        .wait_exit(Duration::from_secs(10))
        .expect("still running");
    assert!(status.success(), "{status}");
    assert!(!srv.is_running());
}

fn redis_cli(port: u16, args: &[&str]) -> String {
    let cli = "/usr/bin/redis-cli";
    assert!(
        std::path::Path::new(cli).exists(),
        "redis-cli is missing: install redis-tools (apt-get install -y redis-tools)"
    );
    let out = Command::new(cli)
        .args(["-h", "127.0.0.1", "-p", &port.to_string()])
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("run redis-cli");
    assert!(out.status.success(), "redis-cli {args:?}: {out:?}");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn redis_cli_works() {
    let srv = Server::start(2);
    assert_eq!(redis_cli(srv.port, &["ping"]), "PONG\n");
    assert_eq!(
        redis_cli(srv.port, &["set", "cli:a", "hello world"]),
        "OK\n"
    );
    assert_eq!(redis_cli(srv.port, &["set", "cli:b", "2"]), "OK\n");
    assert_eq!(redis_cli(srv.port, &["get", "cli:a"]), "hello world\n");
    let mut scanned: Vec<String> = redis_cli(srv.port, &["--scan"])
        .lines()
        .map(str::to_string)
        .collect();
    scanned.sort();
    assert_eq!(scanned, ["cli:a", "cli:b"]);
    let info = redis_cli(srv.port, &["info", "server"]);
    assert!(info.contains("redis_version:7.0.15"), "{info}");
    assert_eq!(redis_cli(srv.port, &["dbsize"]), "2\n");
}

#[test]
fn starts_from_debian_redis_conf() {
    let conf = "/etc/redis/redis.conf";
    assert!(
        std::path::Path::new(conf).exists(),
        "{conf} is missing: install redis-server"
    );
    let port = free_port();
    let dir = scratch_dir("debconf");
    let args: Vec<String> = [
        conf,
        "--port",
        &port.to_string(),
        "--daemonize",
        "no",
        "--pidfile",
        "",
        "--logfile",
        "",
        "--dir",
        &dir.display().to_string(),
        "--shards",
        "2",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let mut srv = Server::start_raw(&args, port);
    let mut r = srv.raw();
    assert_eq!(r.cmd(&["SET", "a", "b"]), "+OK\r\n");
    assert_eq!(info(&mut r, "server")["config_file"], conf);
    r.send(b"SHUTDOWN\r\n");
    let status = srv
        .wait_exit(Duration::from_secs(10))
        .expect("still running");
    assert!(status.success(), "{status}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn unknown_directive_fails_with_file_and_line() {
    let dir = scratch_dir("badconf");
    let conf = dir.join("bad.conf");
    std::fs::write(&conf, "port 0\nno-such-directive yes\n").unwrap();
    let mut child = Command::new(BIN)
        .arg(&conf)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    let deadline = Instant::now() + Duration::from_secs(10);
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("server with a bad config file did not exit");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let mut err = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut err).unwrap();
    assert!(!status.success(), "{status}");
    assert!(err.contains(&conf.display().to_string()), "{err}");
    assert!(err.contains("at line 2"), "{err}");
    assert!(err.contains(">>> 'no-such-directive yes'"), "{err}");
    assert!(
        err.contains("Bad directive or wrong number of arguments"),
        "{err}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn four_shards_on_two_cores() {
    let srv = Server::start(4);
    let mut r = srv.raw();
    assert_eq!(info(&mut r, "server")["shards"], "4");
    let mut c = srv.client();
    let keys: Vec<String> = (0..200).map(|i| format!("s4:{i}")).collect();
    let pairs: Vec<(String, usize)> = keys.iter().cloned().zip(0..).collect();
    let _: () = c.mset(&pairs).unwrap();
    let n: usize = redis::cmd("DBSIZE").query(&mut c).unwrap();
    assert_eq!(n, 200);
    let vals: Vec<usize> = c.mget(&keys).unwrap();
    assert_eq!(vals, (0..200).collect::<Vec<_>>());
}

/// The compact encodings follow their config directives on every shard: from the config
/// file (command line) at start, and after CONFIG SET.
#[test]
fn encoding_limits_follow_the_config() {
    let srv = Server::start_with(4, &["--zset-max-listpack-entries", "2"]);
    let mut c = srv.client();
    let encoding = |c: &mut redis::Connection, k: &str| -> String {
        redis::cmd("OBJECT")
            .arg("ENCODING")
            .arg(k)
            .query(c)
            .unwrap()
    };
    // Keys spread over the four shards.
    let keys: Vec<String> = (0..8).map(|i| format!("z{i}")).collect();
    for k in &keys {
        let _: i64 = redis::cmd("ZADD")
            .arg(k)
            .arg("1")
            .arg("a")
            .arg("2")
            .arg("b")
            .query(&mut c)
            .unwrap();
        assert_eq!(encoding(&mut c, k), "listpack", "{k}");
        let _: i64 = redis::cmd("ZADD")
            .arg(k)
            .arg("3")
            .arg("c")
            .query(&mut c)
            .unwrap();
        assert_eq!(encoding(&mut c, k), "skiplist", "{k}");
    }
    let _: () = redis::cmd("CONFIG")
        .arg("SET")
        .arg("set-max-intset-entries")
        .arg("2")
        .query(&mut c)
        .unwrap();
    for k in &keys {
        let s = format!("s{k}");
        let _: i64 = redis::cmd("SADD")
            .arg(&s)
            .arg(&[1, 2])
            .query(&mut c)
            .unwrap();
        assert_eq!(encoding(&mut c, &s), "intset", "{s}");
        let _: i64 = redis::cmd("SADD").arg(&s).arg(3).query(&mut c).unwrap();
        assert_eq!(encoding(&mut c, &s), "hashtable", "{s}");
    }
}

/// client-output-buffer-limit normal: a reply past the hard limit closes its client at
/// once; one over the soft limit that the client does not read closes it after the soft
/// seconds; everyone else carries on.
#[test]
fn normal_output_buffer_limits() {
    let srv = Server::start_with(2, &["--client-output-buffer-limit", "normal 4mb 1mb 1"]);
    let mut c = srv.raw();
    let big = "x".repeat(6 << 20);
    assert_eq!(c.cmd(&["SET", "big", &big]), "+OK\r\n");
    assert_eq!(c.cmd(&["SET", "mid", &big[..2 << 20]]), "+OK\r\n");
    // Under the soft limit and read at once: fine.
    assert_eq!(c.cmd(&["STRLEN", "big"]), ":6291456\r\n");
    // Past the hard limit: closed without the reply.
    c.send(b"*2\r\n$3\r\nGET\r\n$3\r\nbig\r\n");
    assert!(closed_within(&mut c, Duration::from_secs(5)), "hard limit");
    // Over the soft limit and not read: a dozen 2 MB replies fill the socket buffers, the
    // write waits past its second, the client goes.
    let mut slow = srv.raw();
    let mut pipeline = Vec::new();
    for _ in 0..12 {
        pipeline.extend_from_slice(b"*2\r\n$3\r\nGET\r\n$3\r\nmid\r\n");
    }
    slow.send(&pipeline);
    std::thread::sleep(Duration::from_secs(3));
    assert!(
        closed_within(&mut slow, Duration::from_secs(5)),
        "soft limit"
    );
    let mut other = srv.raw();
    assert_eq!(other.cmd(&["STRLEN", "mid"]), ":2097152\r\n");
    // Soft seconds up to i64::MAX are accepted (and must not break the timer).
    assert_eq!(
        other.cmd(&[
            "CONFIG",
            "SET",
            "client-output-buffer-limit",
            "normal 0 1 9223372036854775807"
        ]),
        "+OK\r\n"
    );
    assert_eq!(other.cmd(&["GET", "mid"]).len(), (2 << 20) + 12);
    // CONFIG SET lifts the limit for new replies.
    assert_eq!(
        other.cmd(&[
            "CONFIG",
            "SET",
            "client-output-buffer-limit",
            "normal 0 0 0"
        ]),
        "+OK\r\n"
    );
    let reply = other.cmd(&["GET", "big"]);
    assert_eq!(reply.len(), (6 << 20) + 12);
}

/// What operators see of the process: `--version` in redis-server's shape (harnesses parse
/// `v=`), CONFIG SET port and bind listening anew on every core (or failing as redis-server
/// does and keeping the old), dir checked to be a directory and shown absolute, and a clean
/// stop that logs no accept errors.
#[test]
fn version_rebinding_and_dir() {
    let out = Command::new(BIN).arg("--version").output().unwrap();
    let line = String::from_utf8_lossy(&out.stdout).trim().to_string();
    let words: Vec<&str> = line.split(' ').collect();
    assert_eq!(words[..3], ["Redis", "server", "v=7.0.15"], "{line}");
    assert!(
        words[3].starts_with("sha=") && words[4].starts_with("malloc="),
        "{line}"
    );
    assert_eq!(words[5], "bits=64", "{line}");
    let build = words[6].strip_prefix("build=").unwrap();
    assert!(
        build.len() == 16 && build.bytes().all(|b| b.is_ascii_hexdigit()),
        "{line}"
    );
    assert_eq!(
        words[7],
        format!("percore={}", env!("CARGO_PKG_VERSION")),
        "{line}"
    );

    let logs = scratch_dir("rebind-log");
    let log = logs.join("log").display().to_string();
    let mut srv = Server::start_with(2, &["--logfile", &log, "--enable-protected-configs", "yes"]);
    let mut c = srv.raw();
    assert_eq!(info(&mut c, "server")["redis_build_id"], build);
    // dir: absolute, and it must be a directory.
    let reply = c.cmd(&["CONFIG", "GET", "dir"]);
    let dir = reply.lines().nth(4).unwrap_or_default();
    assert!(dir.starts_with('/'), "{dir}");
    let set = |c: &mut Raw, k: &str, v: &str| c.cmd(&["CONFIG", "SET", k, v]);
    assert_eq!(
        set(&mut c, "dir", "/nonexistent"),
        "-ERR CONFIG SET failed (possibly related to argument 'dir') - No such file or directory\r\n"
    );
    assert_eq!(
        set(&mut c, "dir", "/etc/hostname"),
        "-ERR CONFIG SET failed (possibly related to argument 'dir') - Not a directory\r\n"
    );
    // port: the new one serves (this connection stays), the old one is closed.
    let old = srv.port;
    let new = free_port();
    assert_eq!(set(&mut c, "port", &new.to_string()), "+OK\r\n");
    assert_eq!(Raw::connect(new).cmd(&["PING"]), "+PONG\r\n");
    assert!(std::net::TcpStream::connect(("127.0.0.1", old)).is_err());
    assert_eq!(c.cmd(&["PING"]), "+PONG\r\n");
    assert_eq!(info(&mut c, "server")["tcp_port"], new.to_string());
    // Connections spread over both cores still land (each core listens anew).
    for _ in 0..8 {
        assert_eq!(Raw::connect(new).cmd(&["PING"]), "+PONG\r\n");
    }
    // A port another server listens on: refused, nothing changes.
    let redis = Server::redis();
    assert_eq!(
        set(&mut c, "port", &redis.port.to_string()),
        "-ERR CONFIG SET failed (possibly related to argument 'port') - Unable to listen on this port. Check server logs.\r\n"
    );
    assert_eq!(
        c.cmd(&["CONFIG", "GET", "port"]),
        format!(
            "*2\r\n$4\r\nport\r\n${}\r\n{new}\r\n",
            new.to_string().len()
        )
    );
    assert_eq!(Raw::connect(new).cmd(&["PING"]), "+PONG\r\n");
    // bind: an address that is not one, refused; another loopback address, served alone.
    assert_eq!(
        set(&mut c, "bind", "not.an.ip"),
        "-ERR CONFIG SET failed (possibly related to argument 'bind') - Failed to bind to specified addresses.\r\n"
    );
    assert_eq!(set(&mut c, "bind", "127.0.0.2"), "+OK\r\n");
    let mut two = Raw::connect_to("127.0.0.2", new);
    assert_eq!(two.cmd(&["PING"]), "+PONG\r\n");
    assert!(std::net::TcpStream::connect(("127.0.0.1", new)).is_err());
    // A clean stop: no accept errors logged for the listeners it closes.
    two.send(b"SHUTDOWN NOSAVE\r\n");
    assert!(two.try_read_reply().is_none());
    let status = srv
        .wait_exit(Duration::from_secs(10))
        .expect("still running");
    assert!(status.success(), "{status}");
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(!text.contains("accept"), "{text}");
}
