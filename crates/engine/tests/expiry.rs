//! Expiry on a deterministic clock: TTL replies and their rounding, lazy expiry on every
//! access path, active expiry, and SCAN/KEYS/RANDOMKEY/DBSIZE over expired keys. Redis 7.0
//! rules: a key is expired once `now > when` (keyIsExpired); EXPIRE and GETEX delete at once
//! when `when <= now` (checkAlreadyExpired); SET stores a past time and expires lazily.

mod common;

use common::*;
use std::collections::HashSet;
use std::time::Duration;

#[test]
fn ttl_counts_down_and_rounds_to_nearest_second() {
    let mut t = T::new();
    t.expect("set k v px 1500", OK);
    t.expect("pttl k", &int(1500));
    t.expect("ttl k", &int(2));
    t.advance(1);
    t.expect("pttl k", &int(1499));
    t.expect("ttl k", &int(1));
    t.advance(999);
    t.expect("pttl k", &int(500));
    t.expect("ttl k", &int(1));
    t.advance(1);
    t.expect("pttl k", &int(499));
    t.expect("ttl k", &int(0));
    t.advance(499);
    // The expire instant itself: the key is still alive, with nothing left.
    t.expect("pttl k", &int(0));
    t.expect("ttl k", &int(0));
    t.expect("get k", &bulk("v"));
    t.advance(1);
    t.expect("pttl k", &int(-2));
    t.expect("ttl k", &int(-2));
    t.expect("get k", NIL);
}

#[test]
fn expiretime_reports_absolute_times() {
    let mut t = T::new();
    let at = T0 + 10_499;
    t.expect("set k v", OK);
    t.expect("expiretime k", &int(-1));
    t.expect(&format!("pexpireat k {at}"), &int(1));
    t.expect("pexpiretime k", &int(at as i64));
    // Seconds round to the nearest, as TTL does.
    t.expect("expiretime k", &int((at as i64 + 500) / 1000));
    t.expect(&format!("pexpireat k {}", at + 1), &int(1));
    t.expect("expiretime k", &int((at as i64 + 1 + 500) / 1000));
    t.expect("expire k 100", &int(1));
    t.expect("pexpiretime k", &int(T0 as i64 + 100_000));
    t.expect("expiretime k", &int(T0 as i64 / 1000 + 100));
    t.advance(50_000);
    // Absolute: unchanged by the passing time.
    t.expect("expiretime k", &int(T0 as i64 / 1000 + 100));
    t.expect("ttl k", &int(50));
    t.expect("expiretime nokey", &int(-2));
    t.expect("pexpiretime nokey", &int(-2));
}

#[test]
fn key_is_alive_until_the_clock_passes_its_time() {
    let mut t = T::new();
    t.expect(&format!("set k v pxat {}", T0 + 10), OK);
    t.advance(10);
    t.expect("get k", &bulk("v"));
    t.expect("exists k", &int(1));
    assert_eq!(t.s.keys(0, b"*"), vec![b"k".to_vec()]);
    t.advance(1);
    t.expect("exists k", &int(0));
    t.expect("get k", NIL);
    // SET with a time equal to now: alive for this millisecond.
    t.expect(&format!("set j v pxat {}", t.now()), OK);
    t.expect("get j", &bulk("v"));
}

#[test]
fn set_with_past_time_is_stored_then_expired_lazily() {
    let mut t = T::new();
    t.expect("set k v pxat 1", OK);
    // Redis 7.0 stores the key; DBSIZE counts it until something touches it.
    assert_eq!(t.s.dbsize(0), 1);
    assert_eq!(t.s.stats.expired_keys, 0);
    t.expect("get k", NIL);
    assert_eq!(t.s.dbsize(0), 0);
    assert_eq!(t.s.stats.expired_keys, 1);
    t.expect("set k v exat 1 get", NIL);
    t.expect("set k v2 get", NIL);
    t.expect("get k", &bulk("v2"));
}

#[test]
fn expire_and_getex_in_the_past_delete_at_once() {
    let mut t = T::new();
    for cmd in [
        "expire k 0",
        "expire k -5",
        "pexpire k 0",
        "expireat k 1",
        &format!("pexpireat k {T0}"),
    ] {
        t.expect("set k v", OK);
        t.expect(cmd, &int(1));
        assert_eq!(t.s.dbsize(0), 0, "{cmd}");
        t.expect("exists k", &int(0));
    }
    t.expect("set k v", OK);
    t.expect(&format!("getex k pxat {T0}"), &bulk("v"));
    assert_eq!(t.s.dbsize(0), 0);
    t.expect("set k v", OK);
    t.expect("getex k exat 1", &bulk("v"));
    assert_eq!(t.s.dbsize(0), 0);
    // Deleted by the command, not expired: the expired counter does not move.
    assert_eq!(t.s.stats.expired_keys, 0);
    // One millisecond ahead is a live key.
    t.expect("set k v", OK);
    t.expect(&format!("pexpireat k {}", T0 + 1), &int(1));
    t.expect("pttl k", &int(1));
}

#[test]
fn expired_key_is_gone_for_every_command() {
    let mut t = T::new();
    let setup = |t: &mut T| {
        for k in ["a", "b", "n", "f"] {
            t.expect(&format!("set {k} 5 px 100"), OK);
        }
    };
    setup(&mut t);
    t.advance(101);
    t.expect("get a", NIL);
    t.expect("mget a b", b"*2\r\n$-1\r\n$-1\r\n");
    t.expect("exists a b n f", &int(0));
    t.expect("ttl b", &int(-2));
    t.expect("pttl b", &int(-2));
    t.expect("type b", b"+none\r\n");
    t.expect("strlen b", &int(0));
    t.expect("getrange b 0 -1", &bulk(""));
    t.expect("object encoding b", NIL);
    t.expect("persist b", &int(0));
    t.expect("expire b 100", &int(0));
    t.expect("touch b", &int(0));
    t.expect("del b", &int(0));
    t.expect("incr n", &int(1));
    t.expect("ttl n", &int(-1));
    t.expect("incrbyfloat f 1.5", &bulk("1.5"));
    t.expect("append a xy", &int(2));
    t.expect("get a", &bulk("xy"));

    let mut t = T::new();
    setup(&mut t);
    t.advance(101);
    t.expect("setnx a 1", &int(1));
    t.expect("msetnx b 1 n 1", &int(1));
    t.expect("set f v nx", OK);

    let mut t = T::new();
    setup(&mut t);
    t.advance(101);
    t.expect("rename a z", &err("ERR no such key"));
    t.expect("renamenx a z", &err("ERR no such key"));
    t.expect("copy a z", &int(0));
    t.expect("move a 1", &int(0));
    t.expect("getdel a", NIL);
    t.expect("getex b persist", NIL);
    t.expect("getset n x", NIL);
    t.expect("set f x xx", NIL);
    t.expect("setrange f 0 \"\"", &int(0));
    t.expect("lcs a b", &bulk(""));
    assert!(t.s.keys(0, b"*").iter().all(|k| k == b"n"));
}

#[test]
fn expired_target_does_not_block_copy_move_rename() {
    let mut t = T::new();
    t.expect("set dst old px 100", OK);
    t.expect("set src new", OK);
    t.db = 1;
    t.expect("set src old px 100", OK);
    t.db = 0;
    t.advance(101);
    t.expect("copy src dst", &int(1));
    t.expect("get dst", &bulk("new"));
    t.expect("move src 1", &int(1));
    t.expect("renamenx dst src", &int(1));
    t.expect("get src", &bulk("new"));
}

#[test]
fn commands_keep_or_clear_the_ttl_as_redis_does() {
    let mut t = T::new();
    let keeps = [
        "append k x",
        "setrange k 0 y",
        "incr k",
        "incrby k 2",
        "decr k",
        "incrbyfloat k 1.5",
        "set k v keepttl",
        "getex k",
        "setrange k 0 \"\"",
    ];
    for cmd in keeps {
        t.expect("set k 1 ex 100", OK);
        let _ = t.cmd(cmd);
        t.expect("ttl k", &int(100));
    }
    let clears = [
        "set k v",
        "getset k v",
        "mset k v",
        "set k v get",
        "getex k persist",
        "persist k",
    ];
    for cmd in clears {
        t.expect("set k 1 ex 100", OK);
        let _ = t.cmd(cmd);
        t.expect("ttl k", &int(-1));
    }
    t.expect("set k 1 ex 100", OK);
    t.expect("setex k 50 v", OK);
    t.expect("ttl k", &int(50));
    assert_eq!(t.s.db_info()[0].expires, 1);
    t.expect("persist k", &int(1));
    assert_eq!(t.s.db_info()[0].expires, 0);
}

#[test]
fn ttl_and_object_do_not_touch_idle_time_but_reads_do() {
    let mut t = T::new();
    t.expect("set k v", OK);
    t.advance(5_000);
    t.expect("ttl k", &int(-1));
    t.expect("pttl k", &int(-1));
    t.expect("exists k", &int(1));
    t.expect("type k", b"+string\r\n");
    t.expect("object encoding k", &bulk("embstr"));
    t.expect("object idletime k", &int(5));
    t.expect("get k", &bulk("v"));
    t.expect("object idletime k", &int(0));
    t.advance(3_000);
    t.expect("object idletime k", &int(3));
    t.expect("touch k", &int(1));
    t.expect("object idletime k", &int(0));
    t.advance(2_000);
    t.expect("append k x", &int(2));
    t.expect("object idletime k", &int(0));
}

#[test]
fn keyspace_hits_and_misses_follow_redis_lookups() {
    let mut t = T::new();
    t.expect("set k 1", OK);
    let stats = |t: &T| (t.s.stats.keyspace_hits, t.s.stats.keyspace_misses);
    t.expect("get k", &bulk("1"));
    t.expect("get nokey", NIL);
    assert_eq!(stats(&t), (1, 1));
    // Read lookups (lookupKeyRead*) count ...
    t.expect("exists k nokey", &int(1));
    t.expect("ttl k", &int(-1));
    t.expect("type nokey", b"+none\r\n");
    t.expect("mget k nokey", b"*2\r\n$1\r\n1\r\n$-1\r\n");
    assert_eq!(stats(&t), (4, 4));
    // ... write lookups (lookupKeyWrite) do not.
    t.expect("incr k", &int(2));
    t.expect("append k 0", &int(2));
    t.expect("setrange k 0 1", &int(2));
    t.expect("incrbyfloat k 1", &bulk("11"));
    t.expect("expire k 100", &int(1));
    t.expect("persist k", &int(1));
    t.expect("incr nokey", &int(1));
    assert_eq!(stats(&t), (4, 4));
}

#[test]
fn lazy_expiry_hides_keys_from_keys_scan_and_randomkey() {
    let mut t = T::new();
    for i in 0..50 {
        t.expect(&format!("set dead{i} v px 100"), OK);
    }
    t.expect("set live v", OK);
    t.expect("set later v px 1000", OK);
    assert_eq!(t.s.dbsize(0), 52);
    t.advance(101);
    // Nothing deleted them yet: DBSIZE still counts them (as Redis' does), the rest hides them.
    assert_eq!(t.s.dbsize(0), 52);
    let mut keys = t.s.keys(0, b"*");
    keys.sort();
    assert_eq!(keys, vec![b"later".to_vec(), b"live".to_vec()]);
    assert!(t.s.keys(0, b"dead*").is_empty());
    let (mut cursor, mut seen) = (0, Vec::new());
    loop {
        let (next, found) = t.s.scan(0, cursor, 5, None, None);
        seen.extend(found);
        cursor = next;
        if cursor == 0 {
            break;
        }
    }
    seen.sort();
    assert_eq!(seen, vec![b"later".to_vec(), b"live".to_vec()]);
    for _ in 0..20 {
        let k = t.s.random_key(0).expect("live keys exist");
        assert!(k == b"live" || k == b"later", "{}", show(&k));
    }
    while t.s.active_expire(Duration::from_millis(50)) {}
    assert_eq!(t.s.dbsize(0), 2);
    assert_eq!(t.s.db_info()[0].expires, 1);
}

#[test]
fn randomkey_finds_the_one_live_key_among_many_expired() {
    let mut t = T::new();
    for i in 0..2_000 {
        t.expect(&format!("set dead{i} v px 10"), OK);
    }
    t.expect("set live v", OK);
    t.advance(11);
    assert_eq!(t.s.random_key(0), Some(b"live".to_vec()));
    // All expired: nil, and they are gone.
    t.expect("pexpire live 5", &int(1));
    t.advance(6);
    assert_eq!(t.s.random_key(0), None);
    assert_eq!(t.s.dbsize(0), 0);
    assert_eq!(t.s.random_key(1), None);
}

#[test]
fn active_expiry_removes_100k_keys_over_several_calls_and_spares_live_ones() {
    let mut t = T::new();
    const DEAD: usize = 100_000;
    for i in 0..DEAD {
        let k = format!("dead:{i}");
        t.argv(&[b"SET", k.as_bytes(), b"v", b"PX", b"100"]);
    }
    for i in 0..1_000 {
        let k = format!("live:{i}");
        t.argv(&[b"SET", k.as_bytes(), b"x"]);
        let k = format!("volatile:{i}");
        t.argv(&[b"SET", k.as_bytes(), b"y", b"EX", b"3600"]);
    }
    t.db = 3;
    t.expect("set other v px 100", OK);
    t.db = 0;
    assert_eq!(t.s.db_info()[0].expires, DEAD + 1_000);
    // Before the time passes, nothing goes.
    assert!(!t.s.active_expire(Duration::from_millis(50)));
    assert_eq!(t.s.dbsize(0), DEAD + 2_000);
    t.advance(101);
    // A zero budget stops after the first check: work is left over.
    assert!(t.s.active_expire(Duration::ZERO));
    let after_one = t.s.dbsize(0);
    assert!(after_one < DEAD + 2_000, "first call expired nothing");
    assert!(after_one > 2_000, "a zero budget call expired everything");
    let mut calls = 1;
    while t.s.dbsize(0) > 2_000 || t.s.dbsize(3) > 0 {
        t.s.active_expire(Duration::from_millis(50));
        calls += 1;
        assert!(
            calls < 200_000,
            "active expiry makes no progress: {}",
            t.s.dbsize(0)
        );
    }
    assert!(calls > 1);
    assert_eq!(t.s.stats.expired_keys, DEAD as u64 + 1);
    let info = t.s.db_info();
    assert_eq!((info[0].keys, info[0].expires), (2_000, 1_000));
    assert_eq!((info[3].keys, info[3].expires), (0, 0));
    for i in (0..1_000).step_by(97) {
        t.expect(&format!("get live:{i}"), &bulk("x"));
        t.expect(&format!("ttl volatile:{i}"), &int(3600));
    }
    // A clean keyspace: nothing more to do.
    assert!(!t.s.active_expire(Duration::from_millis(50)));
    assert_eq!(t.s.stats.expired_keys, DEAD as u64 + 1);
}

fn scan_all(
    t: &T,
    count: usize,
    pattern: Option<&[u8]>,
    ty: Option<&[u8]>,
) -> (Vec<Vec<u8>>, usize) {
    let (mut cursor, mut out, mut calls) = (0, Vec::new(), 0);
    loop {
        let (next, found) = t.s.scan(0, cursor, count, pattern, ty);
        out.extend(found);
        calls += 1;
        cursor = next;
        if cursor == 0 {
            return (out, calls);
        }
    }
}

#[test]
fn scan_covers_every_key_with_count_match_and_type() {
    let mut t = T::new();
    let all: HashSet<Vec<u8>> = (0..1_000)
        .map(|i| format!("key:{i}").into_bytes())
        .collect();
    for k in &all {
        t.argv(&[b"SET", k, b"v"]);
    }
    for count in [1, 10, 100, 10_000] {
        let (got, calls) = scan_all(&t, count, None, None);
        let set: HashSet<Vec<u8>> = got.iter().cloned().collect();
        assert_eq!(set, all, "COUNT {count}");
        // Without a rehash in between, a key is returned once.
        assert_eq!(got.len(), all.len(), "COUNT {count}");
        if count == 10 {
            assert!(calls >= 1_000 / 10 / 2, "COUNT 10 took only {calls} calls");
        }
        if count == 10_000 {
            assert_eq!(calls, 1);
        }
    }
    let (got, _) = scan_all(&t, 10, Some(b"key:1?"), None);
    let got: HashSet<Vec<u8>> = got.into_iter().collect();
    let want: HashSet<Vec<u8>> = (10..20).map(|i| format!("key:{i}").into_bytes()).collect();
    assert_eq!(got, want);
    let (got, _) = scan_all(&t, 10, Some(b"key:99*"), Some(b"string"));
    assert_eq!(got.len(), 11);
    let (got, _) = scan_all(&t, 10, None, Some(b"STRING"));
    assert_eq!(got.len(), 1_000);
    for ty in [&b"list"[..], b"hash", b"nosuchtype"] {
        let (got, _) = scan_all(&t, 10, None, Some(ty));
        assert!(got.is_empty());
    }
    let (got, _) = scan_all(&t, 10, Some(b"nomatch*"), None);
    assert!(got.is_empty());
    // An empty db: one call, cursor 0, nothing.
    assert_eq!(t.s.scan(1, 0, 10, None, None), (0, vec![]));
}

#[test]
fn scan_returns_stable_keys_while_the_table_shrinks_and_grows() {
    let mut t = T::new();
    for i in 0..500 {
        t.argv(&[b"SET", format!("stable:{i}").as_bytes(), b"v"]);
    }
    for i in 0..5_000 {
        t.argv(&[b"SET", format!("tmp:{i}").as_bytes(), b"v"]);
    }
    let (mut cursor, mut seen, mut round) = (0u64, HashSet::new(), 0);
    loop {
        let (next, found) = t.s.scan(0, cursor, 20, Some(b"stable:*"), None);
        seen.extend(found);
        round += 1;
        // Delete temporaries under the cursor, then add some back.
        if round == 3 {
            for i in 0..5_000 {
                t.argv(&[b"DEL", format!("tmp:{i}").as_bytes()]);
            }
        }
        if round == 6 {
            for i in 0..3_000 {
                t.argv(&[b"SET", format!("new:{i}").as_bytes(), b"v"]);
            }
        }
        cursor = next;
        if cursor == 0 {
            break;
        }
    }
    for i in 0..500 {
        assert!(
            seen.contains(format!("stable:{i}").as_bytes()),
            "missed stable:{i}"
        );
    }
}

#[test]
fn keys_glob_patterns() {
    let mut t = T::new();
    for k in ["hello", "hallo", "hxllo", "hllo", "heeeello", "h*llo", "x"] {
        t.argv(&[b"SET", k.as_bytes(), b"v"]);
    }
    let keys = |t: &T, p: &str| {
        let mut v: Vec<String> =
            t.s.keys(0, p.as_bytes())
                .into_iter()
                .map(|k| String::from_utf8(k).unwrap())
                .collect();
        v.sort();
        v
    };
    assert_eq!(keys(&t, "h?llo"), ["h*llo", "hallo", "hello", "hxllo"]);
    assert_eq!(
        keys(&t, "h*llo"),
        ["h*llo", "hallo", "heeeello", "hello", "hllo", "hxllo"]
    );
    assert_eq!(keys(&t, "h[ae]llo"), ["hallo", "hello"]);
    assert_eq!(keys(&t, "h[^e]llo"), ["h*llo", "hallo", "hxllo"]);
    assert_eq!(keys(&t, "h[a-b]llo"), ["hallo"]);
    assert_eq!(keys(&t, "h\\*llo"), ["h*llo"]);
    assert_eq!(keys(&t, "*").len(), 7);
    assert!(keys(&t, "nomatch").is_empty());
}

#[test]
fn dbsize_and_db_info_track_expires() {
    let mut t = T::new();
    t.expect("set a 1 ex 100", OK);
    t.expect("set b 1 px 2000", OK);
    t.expect("set c 1", OK);
    let info = t.s.db_info()[0];
    assert_eq!((info.keys, info.expires, info.ttl_sum_ms), (3, 2, 102_000));
    t.expect("rename a c", OK);
    assert_eq!((t.s.db_info()[0].keys, t.s.db_info()[0].expires), (2, 2));
    t.expect("set c 2", OK);
    assert_eq!(t.s.db_info()[0].expires, 1);
    t.expect("copy b d", &int(1));
    t.expect("move d 5", &int(1));
    assert_eq!(t.s.db_info()[5].expires, 1);
    t.expect("del b", &int(1));
    assert_eq!((t.s.db_info()[0].keys, t.s.db_info()[0].expires), (1, 0));
}
