//! Set commands against Redis 7.0.15's exact replies (captured from a real
//! redis-server). Each `expect` line is a command and the bytes Redis answered. Only intsets
//! and one-member hash tables are listed in full here: a hash table's order is unspecified.

mod common;

use common::*;
use resp::Proto;

#[test]
fn add_remove_and_intset_order() {
    let mut t = T::new();
    t.expect("sadd s 3 1 2 3", b":3\r\n");
    t.expect("smembers s", b"*3\r\n$1\r\n1\r\n$1\r\n2\r\n$1\r\n3\r\n");
    t.expect("object encoding s", b"$6\r\nintset\r\n");
    t.expect("type s", b"+set\r\n");
    t.expect("scard s", b":3\r\n");
    t.expect("sismember s 1", b":1\r\n");
    t.expect("sismember s 9", b":0\r\n");
    t.expect("sismember s 01", b":0\r\n");
    t.expect("smismember s 1 9 3", b"*3\r\n:1\r\n:0\r\n:1\r\n");
    t.expect("smismember nosuch a b", b"*2\r\n:0\r\n:0\r\n");
    t.expect("srem s 1 9", b":1\r\n");
    t.expect("srem s 2 3", b":2\r\n");
    t.expect("exists s", b":0\r\n");
    t.expect("srem nosuch a", b":0\r\n");
    t.expect(
        "sadd n -5 10 0 -9223372036854775808 9223372036854775807",
        b":5\r\n",
    );
    t.expect("smembers n", b"*5\r\n$20\r\n-9223372036854775808\r\n$2\r\n-5\r\n$1\r\n0\r\n$2\r\n10\r\n$19\r\n9223372036854775807\r\n");
    t.expect("sadd t 1 a", b":2\r\n");
    t.expect("object encoding t", b"$9\r\nhashtable\r\n");
    t.expect("sadd u a", b":1\r\n");
    t.expect("object encoding u", b"$9\r\nhashtable\r\n");
    t.expect("sadd u 1", b":1\r\n");
    t.expect("smembers u", b"*2\r\n$1\r\n1\r\n$1\r\na\r\n");
    t.expect("set str v", b"+OK\r\n");
    t.expect(
        "sadd str a",
        b"-WRONGTYPE Operation against a key holding the wrong kind of value\r\n",
    );
    t.expect(
        "srem str a",
        b"-WRONGTYPE Operation against a key holding the wrong kind of value\r\n",
    );
    t.expect(
        "smembers str",
        b"-WRONGTYPE Operation against a key holding the wrong kind of value\r\n",
    );
    t.expect(
        "scard str",
        b"-WRONGTYPE Operation against a key holding the wrong kind of value\r\n",
    );
    t.expect(
        "sismember str a",
        b"-WRONGTYPE Operation against a key holding the wrong kind of value\r\n",
    );
    t.expect(
        "smismember str a",
        b"-WRONGTYPE Operation against a key holding the wrong kind of value\r\n",
    );
    t.expect(
        "sadd k",
        b"-ERR wrong number of arguments for 'sadd' command\r\n",
    );
    t.expect("smembers nosuch", b"*0\r\n");
}

#[test]
fn algebra() {
    let mut t = T::new();
    t.expect("sadd a 1 2 3 4 5", b":5\r\n");
    t.expect("sadd b 3 4 5 6", b":4\r\n");
    t.expect("sadd c 5 6 7", b":3\r\n");
    t.expect("sinter a b", b"*3\r\n$1\r\n3\r\n$1\r\n4\r\n$1\r\n5\r\n");
    t.expect("sinter a b c", b"*1\r\n$1\r\n5\r\n");
    t.expect("sinter a nosuch", b"*0\r\n");
    t.expect("sinter a nosuch str", b"*0\r\n");
    t.expect("set str x", b"+OK\r\n");
    t.expect(
        "sinter a str",
        b"-WRONGTYPE Operation against a key holding the wrong kind of value\r\n",
    );
    t.expect(
        "sinter nosuch str",
        b"-WRONGTYPE Operation against a key holding the wrong kind of value\r\n",
    );
    t.expect(
        "sunion a b c",
        b"*7\r\n$1\r\n1\r\n$1\r\n2\r\n$1\r\n3\r\n$1\r\n4\r\n$1\r\n5\r\n$1\r\n6\r\n$1\r\n7\r\n",
    );
    t.expect(
        "sunion a nosuch",
        b"*5\r\n$1\r\n1\r\n$1\r\n2\r\n$1\r\n3\r\n$1\r\n4\r\n$1\r\n5\r\n",
    );
    t.expect(
        "sunion a str",
        b"-WRONGTYPE Operation against a key holding the wrong kind of value\r\n",
    );
    t.expect("sdiff a b", b"*2\r\n$1\r\n1\r\n$1\r\n2\r\n");
    t.expect("sdiff a b c", b"*2\r\n$1\r\n1\r\n$1\r\n2\r\n");
    t.expect("sdiff a a", b"*0\r\n");
    t.expect("sdiff a b a", b"*0\r\n");
    t.expect("sdiff nosuch a", b"*0\r\n");
    t.expect(
        "sdiff a nosuch",
        b"*5\r\n$1\r\n1\r\n$1\r\n2\r\n$1\r\n3\r\n$1\r\n4\r\n$1\r\n5\r\n",
    );
    t.expect("sinterstore d a b", b":3\r\n");
    t.expect("smembers d", b"*3\r\n$1\r\n3\r\n$1\r\n4\r\n$1\r\n5\r\n");
    t.expect("object encoding d", b"$6\r\nintset\r\n");
    t.expect("sunionstore d a b c", b":7\r\n");
    t.expect(
        "smembers d",
        b"*7\r\n$1\r\n1\r\n$1\r\n2\r\n$1\r\n3\r\n$1\r\n4\r\n$1\r\n5\r\n$1\r\n6\r\n$1\r\n7\r\n",
    );
    t.expect("sdiffstore d a b", b":2\r\n");
    t.expect("smembers d", b"*2\r\n$1\r\n1\r\n$1\r\n2\r\n");
    t.expect("sdiffstore d a a", b":0\r\n");
    t.expect("exists d", b":0\r\n");
    t.expect("sinterstore str a b", b":3\r\n");
    t.expect("type str", b"+set\r\n");
    t.expect("set e v", b"+OK\r\n");
    t.expect("expire e 100", b":1\r\n");
    t.expect("sunionstore e a", b":5\r\n");
    t.expect("ttl e", b":-1\r\n");
    t.expect("sinterstore e a nosuch", b":0\r\n");
    t.expect("exists e", b":0\r\n");
    t.expect("sintercard 2 a b", b":3\r\n");
    t.expect("sintercard 3 a b c", b":1\r\n");
    t.expect("sintercard 2 a b limit 1", b":1\r\n");
    t.expect("sintercard 2 a b limit 0", b":3\r\n");
    t.expect(
        "sintercard 2 a b limit -1",
        b"-ERR LIMIT can't be negative\r\n",
    );
    t.expect(
        "sintercard 2 a b limit x",
        b"-ERR LIMIT can't be negative\r\n",
    );
    t.expect(
        "sintercard 0 a",
        b"-ERR numkeys should be greater than 0\r\n",
    );
    t.expect(
        "sintercard -1 a",
        b"-ERR numkeys should be greater than 0\r\n",
    );
    t.expect(
        "sintercard x a",
        b"-ERR numkeys should be greater than 0\r\n",
    );
    t.expect(
        "sintercard 3 a b",
        b"-ERR Number of keys can't be greater than number of args\r\n",
    );
    t.expect("sintercard 2 a b foo", b"-ERR syntax error\r\n");
    t.expect("sintercard 2 a b limit", b"-ERR syntax error\r\n");
    t.expect("sintercard 1 nosuch", b":0\r\n");
    t.expect("sintercard 2 a str", b":3\r\n");
    t.expect("sintercard 2 nosuch str", b":0\r\n");
}

#[test]
fn smove() {
    let mut t = T::new();
    t.expect("sadd a 1 2 3", b":3\r\n");
    t.expect("sadd b 3 4", b":2\r\n");
    t.expect("set str x", b"+OK\r\n");
    t.expect("smove a b 2", b":1\r\n");
    t.expect("smembers a", b"*2\r\n$1\r\n1\r\n$1\r\n3\r\n");
    t.expect("smembers b", b"*3\r\n$1\r\n2\r\n$1\r\n3\r\n$1\r\n4\r\n");
    t.expect("smove a b 99", b":0\r\n");
    t.expect("smove nosuch b 4", b":0\r\n");
    t.expect(
        "smove a str 1",
        b"-WRONGTYPE Operation against a key holding the wrong kind of value\r\n",
    );
    t.expect(
        "smove str a 4",
        b"-WRONGTYPE Operation against a key holding the wrong kind of value\r\n",
    );
    t.expect("smove nosuch str 4", b":0\r\n");
    t.expect("smove b b 3", b":1\r\n");
    t.expect("smove b b 99", b":0\r\n");
    t.expect("smove a new 1", b":1\r\n");
    t.expect("smove a new 3", b":1\r\n");
    t.expect("exists a", b":0\r\n");
    t.expect("smembers new", b"*2\r\n$1\r\n1\r\n$1\r\n3\r\n");
    t.expect("sadd h x", b":1\r\n");
    t.expect("smove h hnew x", b":1\r\n");
    t.expect("object encoding hnew", b"$9\r\nhashtable\r\n");
    t.expect("exists h", b":0\r\n");
    t.expect("sadd i 1", b":1\r\n");
    t.expect("smove b i y", b":0\r\n");
}

#[test]
fn pop_and_random_edges() {
    let mut t = T::new();
    t.expect("spop nosuch", b"$-1\r\n");
    t.expect("spop nosuch 3", b"*0\r\n");
    t.expect("sadd s 1 2 3", b":3\r\n");
    t.expect("spop s 0", b"*0\r\n");
    t.expect(
        "spop s -1",
        b"-ERR value is out of range, must be positive\r\n",
    );
    t.expect(
        "spop s x",
        b"-ERR value is out of range, must be positive\r\n",
    );
    t.expect("spop s 1 2", b"-ERR syntax error\r\n");
    t.expect("srandmember nosuch", b"$-1\r\n");
    t.expect("srandmember nosuch 5", b"*0\r\n");
    t.expect("srandmember s 0", b"*0\r\n");
    t.expect("srandmember s -9223372036854775808", b"-ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807\r\n");
    t.expect(
        "srandmember s x",
        b"-ERR value is not an integer or out of range\r\n",
    );
    t.expect("srandmember s 1 2", b"-ERR syntax error\r\n");
    t.expect(
        "srandmember s 5",
        b"*3\r\n$1\r\n1\r\n$1\r\n2\r\n$1\r\n3\r\n",
    );
    t.expect(
        "srandmember s 3",
        b"*3\r\n$1\r\n1\r\n$1\r\n2\r\n$1\r\n3\r\n",
    );
    t.expect("spop s 3", b"*3\r\n$1\r\n1\r\n$1\r\n2\r\n$1\r\n3\r\n");
    t.expect("exists s", b":0\r\n");
    t.expect("sadd one only", b":1\r\n");
    t.expect("spop one", b"$4\r\nonly\r\n");
    t.expect("exists one", b":0\r\n");
    t.expect("set str x", b"+OK\r\n");
    t.expect(
        "spop str",
        b"-WRONGTYPE Operation against a key holding the wrong kind of value\r\n",
    );
    t.expect(
        "srandmember str",
        b"-WRONGTYPE Operation against a key holding the wrong kind of value\r\n",
    );
}

#[test]
fn sscan() {
    let mut t = T::new();
    t.expect("sscan nosuch 0", b"*2\r\n$1\r\n0\r\n*0\r\n");
    t.expect("sscan nosuch x", b"-ERR invalid cursor\r\n");
    t.expect("sadd a 1 2 3 4 5 15", b":6\r\n");
    t.expect("sscan a 0", b"*2\r\n$1\r\n0\r\n*6\r\n$1\r\n1\r\n$1\r\n2\r\n$1\r\n3\r\n$1\r\n4\r\n$1\r\n5\r\n$2\r\n15\r\n");
    t.expect(
        "sscan a 0 match 1*",
        b"*2\r\n$1\r\n0\r\n*2\r\n$1\r\n1\r\n$2\r\n15\r\n",
    );
    t.expect("sscan a 0 count 1", b"*2\r\n$1\r\n0\r\n*6\r\n$1\r\n1\r\n$1\r\n2\r\n$1\r\n3\r\n$1\r\n4\r\n$1\r\n5\r\n$2\r\n15\r\n");
    t.expect("sscan a 0 count 0", b"-ERR syntax error\r\n");
    t.expect(
        "sscan a 0 count x",
        b"-ERR value is not an integer or out of range\r\n",
    );
    t.expect("sscan a 0 foo", b"-ERR syntax error\r\n");
    t.expect("sscan a 0 match", b"-ERR syntax error\r\n");
    t.expect("sscan a -1", b"*2\r\n$1\r\n0\r\n*6\r\n$1\r\n1\r\n$1\r\n2\r\n$1\r\n3\r\n$1\r\n4\r\n$1\r\n5\r\n$2\r\n15\r\n");
    t.expect("sscan a x", b"-ERR invalid cursor\r\n");
    t.expect("set str x", b"+OK\r\n");
    t.expect(
        "sscan str 0",
        b"-WRONGTYPE Operation against a key holding the wrong kind of value\r\n",
    );
    t.expect("sscan nosuch 0 count 0", b"*2\r\n$1\r\n0\r\n*0\r\n");
}

#[test]
fn resp3_replies() {
    let mut t = T::new();
    t.proto = Proto::Resp3;
    t.expect("sadd a 1 2 3", b":3\r\n");
    t.expect("sadd b 2 3 4", b":3\r\n");
    t.expect("smembers a", b"~3\r\n$1\r\n1\r\n$1\r\n2\r\n$1\r\n3\r\n");
    t.expect("smembers nosuch", b"~0\r\n");
    t.expect("sinter a b", b"~2\r\n$1\r\n2\r\n$1\r\n3\r\n");
    t.expect("sinter a nosuch", b"~0\r\n");
    t.expect(
        "sunion a b",
        b"~4\r\n$1\r\n1\r\n$1\r\n2\r\n$1\r\n3\r\n$1\r\n4\r\n",
    );
    t.expect("sdiff a b", b"~1\r\n$1\r\n1\r\n");
    t.expect("spop nosuch", b"_\r\n");
    t.expect("spop nosuch 2", b"~0\r\n");
    t.expect("spop a 0", b"~0\r\n");
    t.expect("srandmember nosuch", b"_\r\n");
    t.expect("srandmember nosuch 2", b"*0\r\n");
    t.expect("srandmember a 0", b"*0\r\n");
    t.expect(
        "srandmember a 5",
        b"*3\r\n$1\r\n1\r\n$1\r\n2\r\n$1\r\n3\r\n",
    );
    t.expect("smismember a 1 9", b"*2\r\n:1\r\n:0\r\n");
    t.expect(
        "sscan a 0",
        b"*2\r\n$1\r\n0\r\n*3\r\n$1\r\n1\r\n$1\r\n2\r\n$1\r\n3\r\n",
    );
    t.expect("spop b 5", b"~3\r\n$1\r\n2\r\n$1\r\n3\r\n$1\r\n4\r\n");
}

/// The bulk strings of a flat array reply.
fn items(reply: &[u8]) -> Vec<String> {
    let text = String::from_utf8_lossy(reply).to_string();
    let mut lines = text.split("\r\n");
    let header = lines.next().unwrap_or_default();
    assert!(header.starts_with(['*', '~']), "not an array: {text:?}");
    let mut out = Vec::new();
    while let Some(l) = lines.next() {
        if l.starts_with('$') {
            out.push(lines.next().unwrap_or_default().to_string());
        }
    }
    out
}

#[test]
fn random_members_follow_the_count_rules() {
    let mut t = T::new();
    let all: Vec<String> = (0..100).map(|i| format!("m{i}")).collect();
    t.cmd(&format!("sadd s {}", all.join(" ")));
    assert_eq!(t.cmd("object encoding s"), bulk("hashtable"));
    let distinct = items(&t.cmd("srandmember s 10"));
    assert_eq!(distinct.len(), 10);
    let mut d = distinct.clone();
    d.sort();
    d.dedup();
    assert_eq!(d.len(), 10, "positive count must give distinct members");
    assert!(distinct.iter().all(|m| all.contains(m)));
    // Most of the set: the copy-and-drop path.
    let most = items(&t.cmd("srandmember s 90"));
    let mut m = most.clone();
    m.sort();
    m.dedup();
    assert_eq!(m.len(), 90);
    let repeats = items(&t.cmd("srandmember s -300"));
    assert_eq!(repeats.len(), 300);
    assert!(repeats.iter().all(|m| all.contains(m)));
    let mut r = repeats.clone();
    r.sort();
    r.dedup();
    assert!(r.len() > 50, "300 draws of 100 should meet most members");
    let whole = items(&t.cmd("srandmember s 1000"));
    assert_eq!(whole.len(), 100);
    let popped = items(&t.cmd("spop s 30"));
    let mut p = popped.clone();
    p.sort();
    p.dedup();
    assert_eq!(p.len(), 30);
    assert_eq!(t.cmd("scard s"), int(70));
    for m in &popped {
        assert_eq!(t.cmd(&format!("sismember s {m}")), int(0), "{m} was popped");
    }
    let mut left = items(&t.cmd("spop s 100"));
    left.extend(popped);
    left.sort();
    let mut want = all.clone();
    want.sort();
    assert_eq!(left, want, "every member popped exactly once");
    assert_eq!(t.cmd("exists s"), int(0));
}

#[test]
fn intset_limit_follows_the_config() {
    let mut t = T::new();
    t.s.limits.set_intset_entries = 3;
    t.expect("sadd l 1 2 3", b":3\r\n");
    t.expect("object encoding l", b"$6\r\nintset\r\n");
    t.expect("sadd l 4", b":1\r\n");
    t.expect("object encoding l", b"$9\r\nhashtable\r\n");
    t.s.limits.set_intset_entries = 512;
    let many: Vec<String> = (0..513).map(|i| i.to_string()).collect();
    t.cmd(&format!("sadd big {}", many[..512].join(" ")));
    t.expect("object encoding big", b"$6\r\nintset\r\n");
    t.cmd("sadd big 512");
    t.expect("object encoding big", b"$9\r\nhashtable\r\n");
    t.expect("sismember big 511", b":1\r\n");
    t.expect("scard big", b":513\r\n");
}

#[test]
fn sscan_covers_a_large_set_across_resizes() {
    let mut t = T::new();
    let n = 5000;
    for i in 0..n {
        t.cmd(&format!("sadd s m{i}"));
    }
    let mut seen = std::collections::HashSet::new();
    let mut cursor = "0".to_string();
    let mut rounds = 0;
    loop {
        let reply = t.cmd(&format!("sscan s {cursor} count 50"));
        let text = String::from_utf8_lossy(&reply).to_string();
        let next = text.split("\r\n").nth(2).unwrap_or("0").to_string();
        let inner = &reply[text.find("\r\n*").map(|i| i + 2).unwrap_or(0)..];
        seen.extend(items(inner));
        // Shrink the set while the scan runs: members present throughout must still show up.
        if rounds == 10 {
            for i in n / 2..n {
                t.cmd(&format!("srem s m{i}"));
            }
        }
        rounds += 1;
        cursor = next;
        if cursor == "0" {
            break;
        }
        assert!(rounds < 10_000);
    }
    for i in 0..n / 2 {
        assert!(seen.contains(&format!("m{i}")), "m{i} missed");
    }
}
