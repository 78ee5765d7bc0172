use super::*;
use std::fs;

/// A fresh directory per test so tests can run in parallel without sharing files.
fn tmpdir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("percore-config-{}-{name}", std::process::id()));
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir).unwrap();
    dir
}

fn write(dir: &Path, file: &str, text: &str) -> PathBuf {
    let p = dir.join(file);
    fs::write(&p, text).unwrap();
    p
}

fn words(ws: &[&str]) -> Vec<String> {
    ws.iter().map(|s| s.to_string()).collect()
}

fn load_text(name: &str, text: &str) -> Result<(Config, Vec<Warning>), ConfigError> {
    let dir = tmpdir(name);
    let p = write(&dir, "redis.conf", text);
    Config::load(Some(&p), &[])
}

fn load_err(name: &str, text: &str) -> (usize, String, String) {
    match load_text(name, text) {
        Err(ConfigError::Directive {
            line, text, reason, ..
        }) => (line, text, reason),
        other => panic!("expected a directive error, got {other:?}"),
    }
}

#[test]
fn defaults_match_redis() {
    let c = Config::default();
    assert_eq!(c.port(), 6379);
    assert_eq!(c.bind(), ["127.0.0.1", "-::1"]);
    assert_eq!(
        c.bind_addrs(),
        [("127.0.0.1".to_string(), false), ("::1".to_string(), true)]
    );
    assert_eq!(c.unixsocket(), None);
    assert_eq!(c.requirepass(), None);
    assert_eq!(c.databases(), 16);
    assert_eq!(c.dir(), ".");
    assert_eq!(c.maxclients(), 10000);
    assert_eq!(c.timeout(), 0);
    assert_eq!(c.tcp_keepalive(), 300);
    assert_eq!(c.tcp_backlog(), 511);
    assert_eq!(c.loglevel(), "notice");
    assert!(!c.daemonize());
    assert!(c.protected_mode());
    assert_eq!(c.hz(), 10);
    assert_eq!(c.proto_max_bulk_len(), 512 * 1024 * 1024);
    assert_eq!(c.client_query_buffer_limit(), 1024 * 1024 * 1024);
    assert_eq!(c.maxmemory(), 0);
    assert_eq!(c.save_params(), [(3600, 1), (300, 100), (60, 10000)]);
    assert_eq!(c.shards(), 0);
    assert_eq!(c.io_backend(), "auto");
    assert_eq!(c.get("save").unwrap(), "3600 1 300 100 60 10000");
    assert_eq!(c.get("SLAVEOF").unwrap(), "");
    assert_eq!(
        c.get("client-output-buffer-limit").unwrap(),
        table::COBL_DEFAULT
    );
    assert_eq!(c.get("appendfsync").unwrap(), "everysec");
    assert_eq!(c.get("nope"), None);
    assert!(c.config_file().is_none());
}

#[test]
fn every_default_is_valid_for_its_own_kind() {
    // Catches a typo in the table: each default must survive its own validator unchanged.
    for def in table::DEFS {
        if matches!(def.kind, table::Kind::ReplicaOf) {
            // "" means "no master"; it is not a value one can write (that is `no one`).
            continue;
        }
        let args: Vec<String> = if def.kind.multi_arg() {
            if def.default.is_empty() {
                vec![String::new()]
            } else {
                def.default.split(' ').map(str::to_string).collect()
            }
        } else {
            vec![def.default.to_string()]
        };
        let got = value::apply(def, &args, def.default, Mode::Set);
        assert_eq!(got.as_deref(), Ok(def.default), "default of {}", def.name);
    }
    // No name or alias is listed twice.
    let mut names: Vec<&str> = table::DEFS
        .iter()
        .flat_map(|d| [Some(d.name), d.alias])
        .flatten()
        .collect();
    let n = names.len();
    names.sort();
    names.dedup();
    assert_eq!(names.len(), n);
}

#[test]
fn entries_include_aliases() {
    let c = Config::default();
    let e = c.entries();
    let get = |n: &str| e.iter().find(|(k, _)| *k == n).map(|(_, v)| v.clone());
    assert_eq!(get("replica-read-only").as_deref(), Some("yes"));
    assert_eq!(get("slave-read-only").as_deref(), Some("yes"));
    assert_eq!(get("maxmemory").as_deref(), Some("0"));
    assert_eq!(get("hash-max-ziplist-entries").as_deref(), Some("512"));
    assert_eq!(get("bind").as_deref(), Some("127.0.0.1 -::1"));
}

#[test]
fn parses_quoting_comments_and_case() {
    // dir must name a directory.
    std::fs::create_dir_all("/tmp/x y").unwrap();
    let text = "# comment\n\n   \t\n  PORT 7000  \r\nrequirepass \"p a\\x41\\\"ss\"\n\
                logfile 'my log'\nDaemonize YES\nloglevel WARNING\ndir \"/tmp/x y\"\n";
    let (c, warnings) = load_text("quoting", text).unwrap();
    assert_eq!(c.port(), 7000);
    assert_eq!(c.requirepass().as_deref(), Some("p aA\"ss"));
    assert_eq!(c.logfile(), "my log");
    assert!(c.daemonize());
    assert_eq!(c.loglevel(), "warning");
    assert_eq!(c.dir(), "/tmp/x y");
    assert!(warnings.is_empty(), "{warnings:?}");
}

#[test]
fn memory_units_in_file() {
    let (c, _) = load_text(
        "units",
        "maxmemory 1k\nproto-max-bulk-len 2MB\nclient-query-buffer-limit 1G\n",
    )
    .unwrap();
    assert_eq!(c.maxmemory(), 1000);
    assert_eq!(c.proto_max_bulk_len(), 2 * 1024 * 1024);
    assert_eq!(c.client_query_buffer_limit(), 1_000_000_000);
    assert_eq!(c.get("maxmemory").unwrap(), "1000");
    let (c, _) = load_text("units2", "maxmemory 3gb\n").unwrap();
    assert_eq!(c.maxmemory(), 3 << 30);
}

#[test]
fn error_messages_and_line_numbers() {
    let (line, text, reason) = load_err("e1", "# c\nport 6379\n  foo bar  \n");
    assert_eq!(
        (line, text.as_str(), reason.as_str()),
        (3, "foo bar", "Bad directive or wrong number of arguments")
    );

    let (line, _, reason) = load_err("e2", "\n\nport 1 2\n");
    assert_eq!((line, reason.as_str()), (3, "wrong number of arguments"));

    let (_, _, reason) = load_err("e3", "daemonize maybe\n");
    assert_eq!(reason, "argument must be 'yes' or 'no'");

    let (_, _, reason) = load_err("e4", "port abc\n");
    assert_eq!(reason, "argument couldn't be parsed into an integer");

    let (_, _, reason) = load_err("e5", "port 70000\n");
    assert_eq!(reason, "argument must be between 0 and 65535 inclusive");

    let (_, _, reason) = load_err("e6", "databases 0\n");
    assert_eq!(
        reason,
        "argument must be between 1 and 2147483647 inclusive"
    );

    let (_, _, reason) = load_err("e7", "maxmemory lots\n");
    assert_eq!(reason, "argument must be a memory value");

    let (_, _, reason) = load_err("e8", "proto-max-bulk-len 1000\n");
    assert_eq!(
        reason,
        "argument must be between 1048576 and 9223372036854775807 inclusive"
    );

    let (_, _, reason) = load_err("e9", "maxmemory-policy lru\n");
    assert!(
        reason.starts_with("argument(s) must be one of the following: volatile-lru, "),
        "{reason}"
    );

    let (line, text, reason) = load_err("e10", "port 1\nrequirepass \"abc\n");
    assert_eq!((line, text.as_str()), (2, "requirepass \"abc"));
    assert_eq!(reason, "Unbalanced quotes in configuration line");

    let (_, _, reason) = load_err("e11", "save 60\n");
    assert_eq!(reason, "Invalid save parameters");

    let (_, _, reason) = load_err("e12", "dbfilename /tmp/dump.rdb\n");
    assert_eq!(reason, "dbfilename can't be a path, just a filename");

    let (_, _, reason) = load_err("e13", "client-output-buffer-limit bogus 0 0 0\n");
    assert_eq!(
        reason,
        "Invalid client class specified in buffer limit configuration."
    );

    let (_, _, reason) = load_err("e14", "notify-keyspace-events Q\n");
    assert_eq!(
        reason,
        "Invalid event class character. Use 'Ag$lshzxeKEtmdn'."
    );

    let (_, _, reason) = load_err("e15", "unixsocketperm 999\n");
    assert_eq!(reason, "argument couldn't be parsed into an integer");
    let (_, _, reason) = load_err("e16", "unixsocketperm 1777\n");
    assert_eq!(reason, "argument must be between 0 and 777 inclusive");

    let (_, _, reason) = load_err("e17", "sentinel monitor m 127.0.0.1 6379 2\n");
    assert_eq!(reason, "sentinel directive while not in sentinel mode");

    // Unimplemented directives still get Redis' validation.
    let (_, _, reason) = load_err("e18", "appendonly yes\nrdbcompression sometimes\n");
    assert_eq!(reason, "argument must be 'yes' or 'no'");
}

#[test]
fn error_display_like_redis() {
    let dir = tmpdir("display");
    let p = write(&dir, "redis.conf", "port 1\nbogus directive\n");
    let err = Config::load(Some(&p), &[]).unwrap_err();
    let shown = err.to_string();
    let expected = format!(
        "*** FATAL CONFIG FILE ERROR ***\nReading the configuration file, at line 2 of '{}'\n\
         >>> 'bogus directive'\nBad directive or wrong number of arguments",
        p.display()
    );
    assert_eq!(shown, expected);

    let err = Config::load(None, &words(&["--port", "1", "--hz", "x"])).unwrap_err();
    assert_eq!(
        err.to_string(),
        "*** FATAL CONFIG FILE ERROR ***\nReading the command line overrides, at override 2\n\
         >>> 'hz \"x\"'\nargument couldn't be parsed into an integer"
    );

    let missing = dir.join("missing.conf");
    let err = Config::load(Some(&missing), &[]).unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "Fatal error, can't open config file '{}': No such file or directory",
            missing.display()
        )
    );
}

#[test]
fn garbage_content_never_panics() {
    let nasty: &[&[u8]] = &[
        b"\xff\xfe\x00\x01 port",
        b"port \"\\x",
        b"port '\\",
        b"\"",
        b"\x00",
        b"save \"\" \"\"",
        b"client-output-buffer-limit normal",
        b"latency-tracking-info-percentiles nan",
        b"maxmemory-clients 101%",
        b"include",
        b"bind a b c d e f g h i j k l m n o p q",
    ];
    let dir = tmpdir("garbage");
    for (i, bytes) in nasty.iter().enumerate() {
        let p = dir.join(format!("g{i}.conf"));
        fs::write(&p, bytes).unwrap();
        let _ = Config::load(Some(&p), &[]);
    }
}

#[test]
fn unimplemented_directives_warn_and_store() {
    let text = "appendonly yes\nrdbcompression no\nrdbcompression no\nslave-lazy-flush yes\n\
                rename-command FLUSHALL \"\"\nuser default on nopass ~* +@all\n\
                list-max-ziplist-entries 512\nlua-time-limit 1000\n\
                client-output-buffer-limit replica 256mb 64mb 60\n\
                client-output-buffer-limit pubsub 1mb 1kb 0\nnotify-keyspace-events KEA\n\
                maxmemory-clients 10%\nshutdown-on-sigterm now save\n";
    let (c, warnings) = load_text("unimpl", text).unwrap();
    let w: Vec<String> = warnings.into_iter().map(|w| w.0).collect();
    assert_eq!(
        w,
        ["directives not implemented by percore yet, ignored (CONFIG GET shows Redis' defaults): \
          replica-lazy-flush, rename-command, user, maxmemory-clients, shutdown-on-sigterm"]
    );
    assert!(c.appendonly());
    assert_eq!(c.get("rdbcompression").unwrap(), "no");
    assert_eq!(c.get("replica-lazy-flush").unwrap(), "yes");
    assert_eq!(c.get("lua-time-limit").unwrap(), "1000");
    assert_eq!(
        c.get("client-output-buffer-limit").unwrap(),
        "normal 0 0 0 slave 268435456 67108864 60 pubsub 1048576 1024 0"
    );
    assert_eq!(c.get("notify-keyspace-events").unwrap(), "AKE");
    assert_eq!(c.get("maxmemory-clients").unwrap(), "10%");
    assert_eq!(c.get("shutdown-on-sigterm").unwrap(), "save now");
}

#[test]
fn save_semantics() {
    // The first save line drops the defaults, later ones accumulate.
    let (c, _) = load_text("save1", "save 900 1\nsave 300 10\n").unwrap();
    assert_eq!(c.get("save").unwrap(), "900 1 300 10");
    let (c, _) = load_text("save2", "save \"\"\n").unwrap();
    assert_eq!(c.save_params(), []);
    assert_eq!(c.get("save").unwrap(), "");
    let (c, _) = load_text("save3", "save \"\"\nsave 10 1\n").unwrap();
    assert_eq!(c.get("save").unwrap(), "10 1");
    let (c, _) = load_text("save4", "save 10 1 20 2\n").unwrap();
    assert_eq!(c.save_params(), [(10, 1), (20, 2)]);
}

#[test]
fn overrides_beat_the_file() {
    let dir = tmpdir("overrides");
    let p = write(
        &dir,
        "redis.conf",
        "port 7000\nloglevel debug\nsave 900 1\n",
    );
    let (c, _) = Config::load(
        Some(&p),
        &words(&["--port", "7001", "--loglevel", "warning"]),
    )
    .unwrap();
    assert_eq!(c.port(), 7001);
    assert_eq!(c.loglevel(), "warning");
    assert_eq!(c.get("save").unwrap(), "900 1");
    assert_eq!(c.config_file().unwrap(), p);

    // `--save ""` clears the file's save points.
    let (c, _) = Config::load(Some(&p), &words(&["--save", ""])).unwrap();
    assert_eq!(c.save_params(), []);
    // A bare --save (last, or followed by another option) means the same, as in Redis 7.0.1+.
    let (c, _) = Config::load(Some(&p), &words(&["--save"])).unwrap();
    assert_eq!(c.save_params(), []);
    let (c, _) = Config::load(Some(&p), &words(&["--save", "--port", "1"])).unwrap();
    assert_eq!((c.save_params(), c.port()), (vec![], 1));
    // Command-line save lines continue the file's, like Redis (they're appended to it).
    let (c, _) = Config::load(Some(&p), &words(&["--save", "60", "5"])).unwrap();
    assert_eq!(c.save_params(), [(900, 1), (60, 5)]);
}

#[test]
fn override_word_forms() {
    std::fs::create_dir_all("/tmp/percore a b").unwrap();
    let (c, _) = Config::load(
        None,
        &words(&[
            "--bind",
            "10.0.0.1",
            "::1",
            "--port 6390",
            "--requirepass",
            "--secret",
            "--dir",
            "/tmp/percore a b",
        ]),
    )
    .unwrap();
    assert_eq!(c.bind(), ["10.0.0.1", "::1"]);
    assert_eq!(c.port(), 6390);
    // A lone `--name` takes the next word even if it starts with `--`.
    assert_eq!(c.requirepass().as_deref(), Some("--secret"));
    assert_eq!(c.dir(), "/tmp/percore a b");
    // A multi-arg directive given as one word is split.
    let (c, _) = Config::load(None, &words(&["--save", "100 1 200 2"])).unwrap();
    assert_eq!(c.save_params(), [(100, 1), (200, 2)]);
    let (c, _) = Config::load(None, &words(&["--bind", ""])).unwrap();
    assert!(c.bind().is_empty());
    // Words before any --name are a directive of their own, which Redis rejects.
    assert!(Config::load(None, &words(&["6380"])).is_err());
    let err = Config::load(None, &words(&["--port"])).unwrap_err();
    assert!(
        matches!(err, ConfigError::Directive { ref reason, .. } if reason == "wrong number of arguments")
    );
    assert_eq!(
        load::override_lines(&words(&["--port", "1", "--save", ""])),
        ["port \"1\" ", "save \"\" "]
    );
}

#[test]
fn includes() {
    let dir = tmpdir("include");
    let sub = dir.join("conf.d");
    fs::create_dir_all(&sub).unwrap();
    write(&sub, "b.conf", "maxclients 20\n");
    write(&sub, "a.conf", "maxclients 10\ntimeout 5\n");
    write(&sub, ".hidden.conf", "timeout 99\n");
    let inner = write(&dir, "inner.conf", "port 7100\nhz 20\n");
    let main = write(
        &dir,
        "redis.conf",
        &format!(
            "port 7000\ninclude {}\nhz 30\ninclude {}/conf.d/*.conf\ninclude {}/nothing/*.conf\n",
            inner.display(),
            dir.display(),
            dir.display()
        ),
    );
    let (c, _) = Config::load(Some(&main), &[]).unwrap();
    assert_eq!(c.port(), 7100);
    assert_eq!(c.hz(), 30);
    // Sorted glob order: b.conf is read after a.conf; dotfiles are skipped.
    assert_eq!(c.maxclients(), 20);
    assert_eq!(c.timeout(), 5);

    // An error inside an included file names that file and its line.
    write(&dir, "bad.conf", "\nport nope\n");
    let main2 = write(
        &dir,
        "main2.conf",
        &format!("include {}/bad.conf\n", dir.display()),
    );
    match Config::load(Some(&main2), &[]).unwrap_err() {
        ConfigError::Directive { origin, line, .. } => {
            assert_eq!(origin, Origin::File(dir.join("bad.conf")));
            assert_eq!(line, 2);
        }
        e => panic!("{e}"),
    }

    // A plain missing include is fatal.
    let main3 = write(
        &dir,
        "main3.conf",
        &format!("include {}/absent.conf\n", dir.display()),
    );
    assert!(matches!(
        Config::load(Some(&main3), &[]),
        Err(ConfigError::Open { .. })
    ));

    // An include loop is refused rather than overflowing the stack.
    let looping = dir.join("loop.conf");
    fs::write(&looping, format!("include {}\n", looping.display())).unwrap();
    let err = Config::load(Some(&looping), &[]).unwrap_err();
    assert!(
        err.to_string().contains("Too many nested includes"),
        "{err}"
    );
}

#[test]
fn relative_include_is_relative_to_cwd() {
    let dir = tmpdir("relinclude");
    let target = write(&dir, "rel.conf", "port 7200\n");
    // Build a path relative to the current directory without changing it (tests share it).
    let cwd = std::env::current_dir().unwrap();
    let ups = cwd.components().count() - 1;
    let rel = format!(
        "{}{}",
        "../".repeat(ups),
        target.strip_prefix("/").unwrap().display()
    );
    let main = write(&dir, "redis.conf", &format!("include {rel}\n"));
    let (c, _) = Config::load(Some(&main), &[]).unwrap();
    assert_eq!(c.port(), 7200);
}

#[test]
fn debian_redis_conf_parses_with_warnings_only() {
    let path = Path::new("/etc/redis/redis.conf");
    if !path.exists() {
        eprintln!(
            "!!!!! SKIPPING debian_redis_conf_parses_with_warnings_only: {} is absent !!!!!",
            path.display()
        );
        return;
    }
    let (c, warnings) = match Config::load(Some(path), &[]) {
        Ok(r) => r,
        Err(e) => panic!("Debian's redis.conf must load:\n{e}"),
    };
    assert!(!warnings.is_empty());
    assert!(
        warnings
            .iter()
            .all(|w| w.0.contains("not implemented by percore")),
        "{warnings:?}"
    );
    // Values the Debian file sets.
    assert_eq!(c.bind(), ["127.0.0.1", "-::1"]);
    assert_eq!(c.port(), 6379);
    assert!(c.daemonize());
    assert_eq!(c.pidfile(), "/run/redis/redis-server.pid");
    assert_eq!(c.logfile(), "/var/log/redis/redis-server.log");
    assert_eq!(c.dir(), "/var/lib/redis");
    assert_eq!(
        c.get("proc-title-template").unwrap(),
        "{title} {listen-addr} {server-mode}"
    );
    assert_eq!(
        c.get("client-output-buffer-limit").unwrap(),
        "normal 0 0 0 slave 268435456 67108864 60 pubsub 33554432 8388608 60"
    );
    // Every directive named in the file, commented-out examples included, must be one we know,
    // so uncommenting any of Debian's examples keeps the server starting.
    let text = fs::read_to_string(path).unwrap();
    let prose = [
        "allkeys-lfu",
        "allkeys-lru",
        "allkeys-random",
        "client-only",
        "volatile-lfu",
        "volatile-lru",
        "volatile-random",
        "volatile-ttl",
        "rename-command",
    ];
    let plain = [
        "port",
        "bind",
        "save",
        "replicaof",
        "masterauth",
        "masteruser",
        "requirepass",
        "maxclients",
        "maxmemory",
        "unixsocket",
        "unixsocketperm",
        "aclfile",
        "activedefrag",
        "supervised",
        "appendfsync",
    ];
    let mut checked = 0;
    for line in text.lines() {
        let Some(body) = line.strip_prefix('#') else {
            continue;
        };
        let mut it = body.split_whitespace();
        let (Some(word), Some(_)) = (it.next(), it.next()) else {
            continue;
        };
        let directive_like = word.starts_with(|c: char| c.is_ascii_lowercase())
            && (word.contains('-') || plain.contains(&word))
            && word
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
        if directive_like && !prose.contains(&word) && !body.starts_with("  ") {
            assert!(
                table::lookup(word).is_some(),
                "unknown directive in Debian's file: {line}"
            );
            checked += 1;
        }
    }
    assert!(checked > 100, "only {checked} commented directives found");
}

#[test]
fn config_set_validation() {
    let mut c = Config::default();
    c.set("port", "6390").unwrap();
    assert_eq!(c.port(), 6390);
    c.set("MAXMEMORY", "100mb").unwrap();
    assert_eq!(c.get("maxmemory").unwrap(), "104857600");
    c.set("save", "").unwrap();
    assert_eq!(c.get("save").unwrap(), "");
    c.set("save", "100 10 200 20").unwrap();
    assert_eq!(c.save_params(), [(100, 10), (200, 20)]);
    c.set("bind", "0.0.0.0 ::").unwrap();
    assert_eq!(c.bind(), ["0.0.0.0", "::"]);
    c.set("maxmemory-policy", "ALLKEYS-LRU").unwrap();
    assert_eq!(c.get("maxmemory-policy").unwrap(), "allkeys-lru");
    c.set("hz", "1000").unwrap();
    assert_eq!(c.hz(), 500);
    c.set("hz", "0").unwrap();
    assert_eq!(c.hz(), 1);
    c.set("slave-read-only", "no").unwrap();
    assert_eq!(c.get("replica-read-only").unwrap(), "no");
    c.set(
        "client-output-buffer-limit",
        "normal 1mb 2mb 3 replica 0 0 0",
    )
    .unwrap();
    assert_eq!(
        c.get("client-output-buffer-limit").unwrap(),
        "normal 1048576 2097152 3 slave 0 0 0 pubsub 33554432 8388608 60"
    );
    c.set("requirepass", "").unwrap();
    assert_eq!(c.requirepass(), None);

    let e = |c: &mut Config, n: &str, v: &str| c.set(n, v).unwrap_err();
    assert_eq!(
        e(&mut c, "foo", "1"),
        "ERR Unknown option or number of arguments for CONFIG SET - 'foo'"
    );
    assert_eq!(
        e(&mut c, "port", "x"),
        "ERR CONFIG SET failed (possibly related to argument 'port') - argument couldn't be parsed into an integer"
    );
    assert_eq!(
        e(&mut c, "port", "-1"),
        "ERR CONFIG SET failed (possibly related to argument 'port') - argument must be between 0 and 65535 inclusive"
    );
    assert_eq!(
        e(&mut c, "protected-mode", "1"),
        "ERR CONFIG SET failed (possibly related to argument 'protected-mode') - argument must be 'yes' or 'no'"
    );
    assert_eq!(
        e(&mut c, "appendfsync", "sometimes"),
        "ERR CONFIG SET failed (possibly related to argument 'appendfsync') - argument(s) must be one of the following: everysec, always, no"
    );
    assert_eq!(
        e(&mut c, "save", "100"),
        "ERR CONFIG SET failed (possibly related to argument 'save') - Invalid save parameters"
    );
    for imm in [
        "databases",
        "daemonize",
        "shards",
        "io-backend",
        "unixsocket",
        "logfile",
        "tcp-backlog",
        "replicaof",
    ] {
        assert_eq!(
            e(&mut c, imm, "1"),
            format!("ERR CONFIG SET failed (possibly related to argument '{imm}') - can't set immutable config")
        );
    }
    // Protected like Redis 7.0 unless enable-protected-configs allows it.
    assert_eq!(
        e(&mut c, "dir", "/tmp"),
        "ERR CONFIG SET failed (possibly related to argument 'dir') - can't set protected config"
    );
    let (mut p, _) = Config::load(None, &words(&["--enable-protected-configs", "yes"])).unwrap();
    p.set("dir", "/tmp").unwrap();
    p.set("dbfilename", "x.rdb").unwrap();
    assert_eq!(
        (p.dir(), p.dbfilename()),
        ("/tmp".to_string(), "x.rdb".to_string())
    );
    assert!(p.set("dbfilename", "a/x.rdb").is_err());
    // A failed set changes nothing.
    assert_eq!(c.port(), 6390);
}

#[test]
fn set_many_is_all_or_nothing() {
    let mut c = Config::default();
    let pairs = |v: &[(&str, &str)]| -> Vec<(String, String)> {
        v.iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect()
    };
    let err = c
        .set_many(&pairs(&[("port", "7000"), ("timeout", "x")]))
        .unwrap_err();
    assert!(err.contains("'timeout'"), "{err}");
    assert_eq!((c.port(), c.timeout()), (6379, 0));
    let err = c
        .set_many(&pairs(&[("port", "7000"), ("databases", "3")]))
        .unwrap_err();
    assert!(err.ends_with("can't set immutable config"));
    assert_eq!(c.port(), 6379);
    let err = c
        .set_many(&pairs(&[
            ("replica-read-only", "no"),
            ("slave-read-only", "no"),
        ]))
        .unwrap_err();
    assert!(err.ends_with("duplicate parameter"), "{err}");
    c.set_many(&pairs(&[("port", "7000"), ("timeout", "30")]))
        .unwrap();
    assert_eq!((c.port(), c.timeout()), (7000, 30));
}

#[test]
fn rewrite_roundtrip_keeps_comments() {
    let dir = tmpdir("rewrite");
    let original =
        "# My precious comment\nport 7000\n\n# second comment\nsave 900 1\nsave 300 10\n\
                    rename-command CONFIG \"\"\nmaxmemory 1gb\nrequirepass old\nappendonly no\n";
    let p = write(&dir, "redis.conf", original);
    let (mut c, _) = Config::load(Some(&p), &[]).unwrap();
    c.set("port", "7001").unwrap();
    c.set("save", "60 5").unwrap();
    c.set("requirepass", "").unwrap();
    c.set("timeout", "42").unwrap();
    c.set("maxmemory", "2gb").unwrap();
    c.set("replica-read-only", "no").unwrap();
    c.set("notify-keyspace-events", "Ex").unwrap();
    c.rewrite().unwrap();

    let text = fs::read_to_string(&p).unwrap();
    assert!(
        text.starts_with("# My precious comment\nport 7001\n\n# second comment\nsave 60 5\n"),
        "{text}"
    );
    assert!(text.contains("rename-command CONFIG \"\"\n"), "{text}");
    assert!(text.contains("maxmemory 2gb\n"), "{text}");
    assert!(text.contains("appendonly no\n"), "{text}");
    assert!(!text.contains("requirepass"), "{text}");
    assert!(!text.contains("save 300 10"), "{text}");
    assert!(text.contains("# Generated by CONFIG REWRITE\n"), "{text}");
    assert!(text.contains("timeout 42\n"), "{text}");
    assert!(text.contains("replica-read-only no\n"), "{text}");
    assert!(text.contains("notify-keyspace-events \"xE\"\n"), "{text}");
    assert!(!text.contains("\n\n\n"), "{text}");

    let (c2, _) = Config::load(Some(&p), &[]).unwrap();
    assert_eq!(c2.port(), 7001);
    assert_eq!(c2.save_params(), [(60, 5)]);
    assert_eq!(c2.requirepass(), None);
    assert_eq!(c2.timeout(), 42);
    assert_eq!(c2.maxmemory(), 2 << 30);
    assert_eq!(c2.get("replica-read-only").unwrap(), "no");
    assert_eq!(c2.get("notify-keyspace-events").unwrap(), "xE");
    assert_eq!(c2.entries(), c.entries());

    // A second rewrite is a fixed point: no second signature, nothing moves.
    c2.rewrite().unwrap();
    assert_eq!(fs::read_to_string(&p).unwrap(), text);

    assert_eq!(
        Config::default().rewrite().unwrap_err(),
        "ERR The server is running without a config file"
    );
}

#[test]
fn rewrite_handles_aliases_unknown_lines_and_special_values() {
    let dir = tmpdir("rewrite2");
    let p = write(
        &dir,
        "redis.conf",
        "slave-read-only no\nslave-read-only yes\nsome-old-directive 1\n\
         client-output-buffer-limit pubsub 1mb 1mb 10\nbind 127.0.0.1\n",
    );
    // `some-old-directive` would refuse to load, so build the config from a clean file.
    let clean = write(&dir, "clean.conf", "");
    let (mut c, _) = Config::load(Some(&clean), &[]).unwrap();
    c.config_file = Some(p.clone());
    c.set("bind", "0.0.0.0").unwrap();
    c.set("client-output-buffer-limit", "pubsub 2mb 1mb 10")
        .unwrap();
    c.set("unixsocketperm", "700").ok(); // immutable: stays 0
    c.set("dir", "/x").ok(); // protected: stays "."
    c.set("shutdown-on-sigint", "nosave force").unwrap();
    c.set("save", "").unwrap();
    c.rewrite().unwrap();
    let text = fs::read_to_string(&p).unwrap();
    assert!(
        text.starts_with("replica-read-only yes\n\n# ??? some-old-directive 1\n"),
        "{text}"
    );
    // Like Redis, the first class rewritten takes over the first old line, even if it was for
    // another class; defaults for the others are only written there, never appended.
    assert!(
        text.contains("client-output-buffer-limit normal 0 0 0\n"),
        "{text}"
    );
    assert!(
        text.contains("client-output-buffer-limit pubsub 2mb 1mb 10\n"),
        "{text}"
    );
    assert!(!text.contains("client-output-buffer-limit slave"), "{text}");
    assert!(text.contains("bind 0.0.0.0\n"), "{text}");
    assert!(text.contains("shutdown-on-sigint nosave force\n"), "{text}");
    assert!(text.contains("save \"\"\n"), "{text}");
    assert!(!text.contains("dir "), "{text}");
    let (c2, _) = Config::load(Some(&p), &[]).unwrap();
    assert_eq!(
        c2.get("client-output-buffer-limit"),
        c.get("client-output-buffer-limit")
    );
    assert_eq!(c2.save_params(), []);
    assert_eq!(c2.get("shutdown-on-sigint").unwrap(), "nosave force");
}

#[test]
fn config_set_refuses_what_is_not_implemented() {
    let mut c = Config::default();
    let err = c
        .set_many(&[("replica-lazy-flush".into(), "yes".into())])
        .unwrap_err();
    assert_eq!(
        err,
        "ERR CONFIG SET failed (possibly related to argument 'replica-lazy-flush') - not implemented by percore yet"
    );
    assert_eq!(c.get("replica-lazy-flush").as_deref(), Some("no"));
    // To the value it has: nothing changes, nothing to refuse.
    c.set_many(&[("replica-lazy-flush".into(), "no".into())])
        .unwrap();
    // Implemented settings still change, and a refused one in the same call changes none.
    let both = [
        ("hz".into(), "20".into()),
        ("replica-lazy-flush".into(), "yes".into()),
    ];
    assert!(c.set_many(&both).is_err());
    assert_eq!(c.get("hz").as_deref(), Some("10"));
    c.set_many(&[("hz".into(), "20".into())]).unwrap();
    assert_eq!(c.get("hz").as_deref(), Some("20"));
}
