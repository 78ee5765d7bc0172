//! String commands against Redis 7.0.15's exact replies (captured from a real redis-server).
//! Each `expect` line is a command and the bytes Redis answered; the shard clock is fixed, so
//! relative TTLs read back exactly.

mod common;

use common::*;
use resp::Proto;

#[test]
fn set_get_basic() {
    let mut t = T::new();
    t.expect("get k", b"$-1\r\n");
    t.expect("set k v", b"+OK\r\n");
    t.expect("get k", b"$1\r\nv\r\n");
    t.expect("set k \"hello world\"", b"+OK\r\n");
    t.expect("get k", b"$11\r\nhello world\r\n");
    t.expect("set k \"\"", b"+OK\r\n");
    t.expect("get k", b"$0\r\n\r\n");
    t.expect("strlen k", b":0\r\n");
    t.expect("SET K upper", b"+OK\r\n");
    t.expect("get K", b"$5\r\nupper\r\n");
    t.expect("get k", b"$0\r\n\r\n");
}

#[test]
fn set_nx_xx() {
    let mut t = T::new();
    t.expect("set k v nx", b"+OK\r\n");
    t.expect("set k v2 nx", b"$-1\r\n");
    t.expect("get k", b"$1\r\nv\r\n");
    t.expect("set k v3 xx", b"+OK\r\n");
    t.expect("get k", b"$2\r\nv3\r\n");
    t.expect("set other v xx", b"$-1\r\n");
    t.expect("exists other", b":0\r\n");
    t.expect("set k v nx xx", b"-ERR syntax error\r\n");
    t.expect("set k v xx nx", b"-ERR syntax error\r\n");
    t.expect("set k v NX nx", b"$-1\r\n");
    t.expect("set k v XX xx", b"+OK\r\n");
    t.expect("get k", b"$1\r\nv\r\n");
}

#[test]
fn set_get_option() {
    let mut t = T::new();
    t.expect("set k v get", b"$-1\r\n");
    t.expect("set k v2 get", b"$1\r\nv\r\n");
    t.expect("get k", b"$2\r\nv2\r\n");
    t.expect("set k v3 nx get", b"$2\r\nv2\r\n");
    t.expect("get k", b"$2\r\nv2\r\n");
    t.expect("set k v4 xx get", b"$2\r\nv2\r\n");
    t.expect("get k", b"$2\r\nv4\r\n");
    t.expect("set missing v xx get", b"$-1\r\n");
    t.expect("exists missing", b":0\r\n");
    t.expect("set missing2 v nx get", b"$-1\r\n");
    t.expect("get missing2", b"$1\r\nv\r\n");
    t.expect("set k v5 get get", b"$2\r\nv4\r\n");
    t.expect("get k", b"$2\r\nv5\r\n");
}

#[test]
fn set_expire_options() {
    let mut t = T::new();
    t.expect("set k v ex 100", b"+OK\r\n");
    t.expect("ttl k", b":100\r\n");
    t.expect("set k v exat 4102444800", b"+OK\r\n");
    t.expect("expiretime k", b":4102444800\r\n");
    t.expect("set k v pxat 4102444800123", b"+OK\r\n");
    t.expect("pexpiretime k", b":4102444800123\r\n");
    t.expect("set k v", b"+OK\r\n");
    t.expect("ttl k", b":-1\r\n");
    t.expect("set k v ex 100", b"+OK\r\n");
    t.expect("set k v2 keepttl", b"+OK\r\n");
    t.expect("ttl k", b":100\r\n");
    t.expect("get k", b"$2\r\nv2\r\n");
    t.expect("set k v3", b"+OK\r\n");
    t.expect("ttl k", b":-1\r\n");
    t.expect("set k v KEEPTTL", b"+OK\r\n");
    t.expect("ttl k", b":-1\r\n");
    t.expect("set nokey v keepttl", b"+OK\r\n");
    t.expect("ttl nokey", b":-1\r\n");
    t.expect("set k v ex 10 px 20", b"-ERR syntax error\r\n");
    t.expect("set k v px 10 px 20000000", b"+OK\r\n");
    t.expect("pexpiretime nokey", b":-1\r\n");
    t.expect("set k v EX 100 XX GET", b"$1\r\nv\r\n");
    t.expect("ttl k", b":100\r\n");
    t.expect("set k v ex 200 NX", b"$-1\r\n");
    t.expect("ttl k", b":100\r\n");
}

#[test]
fn set_option_conflicts_are_syntax_errors() {
    let mut t = T::new();
    t.expect("set k v ex 10 px 100", b"-ERR syntax error\r\n");
    t.expect("set k v px 10 ex 100", b"-ERR syntax error\r\n");
    t.expect("set k v exat 10 pxat 10", b"-ERR syntax error\r\n");
    t.expect("set k v ex 10 exat 10", b"-ERR syntax error\r\n");
    t.expect("set k v ex 10 keepttl", b"-ERR syntax error\r\n");
    t.expect("set k v keepttl ex 10", b"-ERR syntax error\r\n");
    t.expect("set k v keepttl pxat 10", b"-ERR syntax error\r\n");
    t.expect("set k v persist", b"-ERR syntax error\r\n");
    t.expect("set k v ex", b"-ERR syntax error\r\n");
    t.expect("set k v px", b"-ERR syntax error\r\n");
    t.expect("set k v foo", b"-ERR syntax error\r\n");
    t.expect("set k v nx xx get", b"-ERR syntax error\r\n");
    t.expect("set k v ex 10 foo", b"-ERR syntax error\r\n");
    t.expect("exists k", b":0\r\n");
}

#[test]
fn set_bad_expire_numbers() {
    let mut t = T::new();
    t.expect(
        "set k v ex abc",
        b"-ERR value is not an integer or out of range\r\n",
    );
    t.expect(
        "set k v px 1.5",
        b"-ERR value is not an integer or out of range\r\n",
    );
    t.expect(
        "set k v ex \" 5\"",
        b"-ERR value is not an integer or out of range\r\n",
    );
    t.expect(
        "set k v ex +5",
        b"-ERR value is not an integer or out of range\r\n",
    );
    t.expect(
        "set k v ex 05",
        b"-ERR value is not an integer or out of range\r\n",
    );
    t.expect(
        "set k v ex \"\"",
        b"-ERR value is not an integer or out of range\r\n",
    );
    t.expect(
        "set k v ex 9223372036854775808",
        b"-ERR value is not an integer or out of range\r\n",
    );
    t.expect(
        "set k v ex 0",
        b"-ERR invalid expire time in 'set' command\r\n",
    );
    t.expect(
        "set k v ex -1",
        b"-ERR invalid expire time in 'set' command\r\n",
    );
    t.expect(
        "set k v px 0",
        b"-ERR invalid expire time in 'set' command\r\n",
    );
    t.expect(
        "set k v px -100",
        b"-ERR invalid expire time in 'set' command\r\n",
    );
    t.expect(
        "set k v exat 0",
        b"-ERR invalid expire time in 'set' command\r\n",
    );
    t.expect(
        "set k v pxat -5",
        b"-ERR invalid expire time in 'set' command\r\n",
    );
    t.expect(
        "set k v ex -9223372036854775808",
        b"-ERR invalid expire time in 'set' command\r\n",
    );
    t.expect("exists k", b":0\r\n");
}

#[test]
fn set_expire_overflow() {
    let mut t = T::new();
    t.expect(
        "set k v ex 9223372036854775807",
        b"-ERR invalid expire time in 'set' command\r\n",
    );
    t.expect(
        "set k v ex 9223372036854776",
        b"-ERR invalid expire time in 'set' command\r\n",
    );
    t.expect(
        "set k v px 9223372036854775807",
        b"-ERR invalid expire time in 'set' command\r\n",
    );
    t.expect(
        "set k v exat 9223372036854775807",
        b"-ERR invalid expire time in 'set' command\r\n",
    );
    t.expect(
        "set k v ex 9223372036854775",
        b"-ERR invalid expire time in 'set' command\r\n",
    );
    t.expect("set k v exat 9223372036854775", b"+OK\r\n");
    t.expect("set k v pxat 9223372036854775807", b"+OK\r\n");
    t.expect("set k v ex abc nx xx", b"-ERR syntax error\r\n");
    t.expect("exists k", b":1\r\n");
}

#[test]
fn set_in_the_past_deletes() {
    let mut t = T::new();
    t.expect("set k v exat 1", b"+OK\r\n");
    t.expect("exists k", b":0\r\n");
    t.expect("set k v pxat 1 get", b"$-1\r\n");
    t.expect("get k", b"$-1\r\n");
    t.expect("set k v", b"+OK\r\n");
    t.expect("set k v2 pxat 1000 get", b"$1\r\nv\r\n");
    t.expect("exists k", b":0\r\n");
}

#[test]
fn setnx_setex_psetex() {
    let mut t = T::new();
    t.expect("setnx k a", b":1\r\n");
    t.expect("setnx k b", b":0\r\n");
    t.expect("get k", b"$1\r\na\r\n");
    t.expect("setex k 100 v", b"+OK\r\n");
    t.expect("ttl k", b":100\r\n");
    t.expect("get k", b"$1\r\nv\r\n");
    t.expect("psetex k 100500 v", b"+OK\r\n");
    t.expect("pttl k", b":100500\r\n");
    t.expect(
        "setex k 0 v",
        b"-ERR invalid expire time in 'setex' command\r\n",
    );
    t.expect(
        "setex k -1 v",
        b"-ERR invalid expire time in 'setex' command\r\n",
    );
    t.expect(
        "setex k abc v",
        b"-ERR value is not an integer or out of range\r\n",
    );
    t.expect(
        "psetex k 0 v",
        b"-ERR invalid expire time in 'psetex' command\r\n",
    );
    t.expect(
        "psetex k -10 v",
        b"-ERR invalid expire time in 'psetex' command\r\n",
    );
    t.expect(
        "setex k 9223372036854775807 v",
        b"-ERR invalid expire time in 'setex' command\r\n",
    );
    t.expect(
        "psetex k 9223372036854775807 v",
        b"-ERR invalid expire time in 'psetex' command\r\n",
    );
    t.expect(
        "setex k 1.5 v",
        b"-ERR value is not an integer or out of range\r\n",
    );
    t.expect(
        "setex k",
        b"-ERR wrong number of arguments for 'setex' command\r\n",
    );
    t.expect("get k", b"$1\r\nv\r\n");
}

#[test]
fn getset_getdel() {
    let mut t = T::new();
    t.expect("getset k v", b"$-1\r\n");
    t.expect("getset k v2", b"$1\r\nv\r\n");
    t.expect("get k", b"$2\r\nv2\r\n");
    t.expect("setex k 100 v", b"+OK\r\n");
    t.expect("getset k v3", b"$1\r\nv\r\n");
    t.expect("ttl k", b":-1\r\n");
    t.expect("getdel k", b"$2\r\nv3\r\n");
    t.expect("getdel k", b"$-1\r\n");
    t.expect("exists k", b":0\r\n");
    t.expect("getdel nokey", b"$-1\r\n");
    t.expect(
        "getset k",
        b"-ERR wrong number of arguments for 'getset' command\r\n",
    );
    t.expect(
        "getdel k x",
        b"-ERR wrong number of arguments for 'getdel' command\r\n",
    );
}

#[test]
fn getex_options() {
    let mut t = T::new();
    t.expect("set g 1", b"+OK\r\n");
    t.expect("getex g", b"$1\r\n1\r\n");
    t.expect("ttl g", b":-1\r\n");
    t.expect("getex missing", b"$-1\r\n");
    t.expect("getex g ex 100", b"$1\r\n1\r\n");
    t.expect("ttl g", b":100\r\n");
    t.expect("getex g persist", b"$1\r\n1\r\n");
    t.expect("ttl g", b":-1\r\n");
    t.expect("getex g px 5000", b"$1\r\n1\r\n");
    t.expect("pttl g", b":5000\r\n");
    t.expect("getex g exat 4102444800", b"$1\r\n1\r\n");
    t.expect("expiretime g", b":4102444800\r\n");
    t.expect("getex g pxat 4102444800123", b"$1\r\n1\r\n");
    t.expect("pexpiretime g", b":4102444800123\r\n");
    t.expect("getex g PERSIST", b"$1\r\n1\r\n");
    t.expect("ttl g", b":-1\r\n");
    t.expect("getex g persist", b"$1\r\n1\r\n");
    t.expect("ttl g", b":-1\r\n");
}

#[test]
fn getex_errors() {
    let mut t = T::new();
    t.expect("set g 1", b"+OK\r\n");
    t.expect("getex g persist ex 10", b"-ERR syntax error\r\n");
    t.expect("getex g ex 10 persist", b"-ERR syntax error\r\n");
    t.expect("getex g ex 10 px 10", b"-ERR syntax error\r\n");
    t.expect("getex g nx", b"-ERR syntax error\r\n");
    t.expect("getex g xx", b"-ERR syntax error\r\n");
    t.expect("getex g get", b"-ERR syntax error\r\n");
    t.expect("getex g keepttl", b"-ERR syntax error\r\n");
    t.expect("getex g ex", b"-ERR syntax error\r\n");
    t.expect("getex g foo", b"-ERR syntax error\r\n");
    t.expect(
        "getex g ex 0",
        b"-ERR invalid expire time in 'getex' command\r\n",
    );
    t.expect(
        "getex g ex -1",
        b"-ERR invalid expire time in 'getex' command\r\n",
    );
    t.expect(
        "getex g px abc",
        b"-ERR value is not an integer or out of range\r\n",
    );
    t.expect(
        "getex g ex 9223372036854775807",
        b"-ERR invalid expire time in 'getex' command\r\n",
    );
    t.expect("getex missing ex 0", b"$-1\r\n");
    t.expect("getex missing ex abc", b"$-1\r\n");
    t.expect("getex missing px -1", b"$-1\r\n");
    t.expect("getex missing foo", b"-ERR syntax error\r\n");
    t.expect("getex missing persist ex 10", b"-ERR syntax error\r\n");
    t.expect("get g", b"$1\r\n1\r\n");
}

#[test]
fn getex_past_time_deletes() {
    let mut t = T::new();
    t.expect("set g v", b"+OK\r\n");
    t.expect("getex g exat 1", b"$1\r\nv\r\n");
    t.expect("exists g", b":0\r\n");
    t.expect("set g v", b"+OK\r\n");
    t.expect("getex g pxat 1000", b"$1\r\nv\r\n");
    t.expect("exists g", b":0\r\n");
}

#[test]
fn mget_mset_msetnx() {
    let mut t = T::new();
    t.expect("mget a b c", b"*3\r\n$-1\r\n$-1\r\n$-1\r\n");
    t.expect("mset a 1 b 2", b"+OK\r\n");
    t.expect("mget a b c", b"*3\r\n$1\r\n1\r\n$1\r\n2\r\n$-1\r\n");
    t.expect("mget a a", b"*2\r\n$1\r\n1\r\n$1\r\n1\r\n");
    t.expect(
        "mset a 1 b",
        b"-ERR wrong number of arguments for 'mset' command\r\n",
    );
    t.expect(
        "mset a",
        b"-ERR wrong number of arguments for 'mset' command\r\n",
    );
    t.expect("mset a 3 a 4", b"+OK\r\n");
    t.expect("get a", b"$1\r\n4\r\n");
    t.expect("msetnx a 1 c 3", b":0\r\n");
    t.expect("get c", b"$-1\r\n");
    t.expect("msetnx c 3 d 4", b":1\r\n");
    t.expect("mget c d", b"*2\r\n$1\r\n3\r\n$1\r\n4\r\n");
    t.expect(
        "msetnx c 3 d",
        b"-ERR wrong number of arguments for 'msetnx' command\r\n",
    );
    t.expect("msetnx x 1 x 2", b":1\r\n");
    t.expect("get x", b"$1\r\n2\r\n");
    t.expect("msetnx y 1 y 2 a 9", b":0\r\n");
    t.expect("exists y", b":0\r\n");
    t.expect("setex e 100 v", b"+OK\r\n");
    t.expect("mset e new", b"+OK\r\n");
    t.expect("ttl e", b":-1\r\n");
}

#[test]
fn append_strlen() {
    let mut t = T::new();
    t.expect("append k hello", b":5\r\n");
    t.expect("append k \" world\"", b":11\r\n");
    t.expect("get k", b"$11\r\nhello world\r\n");
    t.expect("strlen k", b":11\r\n");
    t.expect("strlen nokey", b":0\r\n");
    t.expect("set n 123", b"+OK\r\n");
    t.expect("strlen n", b":3\r\n");
    t.expect("append n 45", b":5\r\n");
    t.expect("get n", b"$5\r\n12345\r\n");
    t.expect("strlen n", b":5\r\n");
    t.expect("set n -12345678901234567", b"+OK\r\n");
    t.expect("strlen n", b":18\r\n");
    t.expect("append new \"\"", b":0\r\n");
    t.expect("exists new", b":1\r\n");
    t.expect("get new", b"$0\r\n\r\n");
    t.expect("setex k 100 v", b"+OK\r\n");
    t.expect("append k x", b":2\r\n");
    t.expect("ttl k", b":100\r\n");
    t.expect(
        "set big aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
        b"+OK\r\n",
    );
    t.expect("strlen big", b":63\r\n");
}

#[test]
fn incr_decr() {
    let mut t = T::new();
    t.expect("incr k", b":1\r\n");
    t.expect("incr k", b":2\r\n");
    t.expect("get k", b"$1\r\n2\r\n");
    t.expect("decr k", b":1\r\n");
    t.expect("decr k", b":0\r\n");
    t.expect("decr k", b":-1\r\n");
    t.expect("incrby k 10", b":9\r\n");
    t.expect("incrby k -20", b":-11\r\n");
    t.expect("decrby k 5", b":-16\r\n");
    t.expect("decrby k -5", b":-11\r\n");
    t.expect("get k", b"$3\r\n-11\r\n");
    t.expect("incr newi", b":1\r\n");
    t.expect("decr newi2", b":-1\r\n");
    t.expect("decrby newi3 5", b":-5\r\n");
    t.expect("incrby newi4 -7", b":-7\r\n");
    t.expect("setex v 100 5", b"+OK\r\n");
    t.expect("incr v", b":6\r\n");
    t.expect("ttl v", b":100\r\n");
}

#[test]
fn incr_errors() {
    let mut t = T::new();
    t.expect("set i abc", b"+OK\r\n");
    t.expect(
        "incr i",
        b"-ERR value is not an integer or out of range\r\n",
    );
    t.expect("set i 1.5", b"+OK\r\n");
    t.expect(
        "incr i",
        b"-ERR value is not an integer or out of range\r\n",
    );
    t.expect("set i \" 1\"", b"+OK\r\n");
    t.expect(
        "incr i",
        b"-ERR value is not an integer or out of range\r\n",
    );
    t.expect("set i \"1 \"", b"+OK\r\n");
    t.expect(
        "incr i",
        b"-ERR value is not an integer or out of range\r\n",
    );
    t.expect("set i 012", b"+OK\r\n");
    t.expect(
        "incr i",
        b"-ERR value is not an integer or out of range\r\n",
    );
    t.expect("set i +1", b"+OK\r\n");
    t.expect(
        "incr i",
        b"-ERR value is not an integer or out of range\r\n",
    );
    t.expect("set i \"\"", b"+OK\r\n");
    t.expect(
        "incr i",
        b"-ERR value is not an integer or out of range\r\n",
    );
    t.expect("set i 18446744073709551615", b"+OK\r\n");
    t.expect(
        "incr i",
        b"-ERR value is not an integer or out of range\r\n",
    );
    t.expect("set i 99999999999999999999", b"+OK\r\n");
    t.expect(
        "decr i",
        b"-ERR value is not an integer or out of range\r\n",
    );
    t.expect("set i 1", b"+OK\r\n");
    t.expect(
        "incrby i abc",
        b"-ERR value is not an integer or out of range\r\n",
    );
    t.expect(
        "incrby i 1.5",
        b"-ERR value is not an integer or out of range\r\n",
    );
    t.expect(
        "incrby i \"\"",
        b"-ERR value is not an integer or out of range\r\n",
    );
    t.expect(
        "incrby i 9223372036854775808",
        b"-ERR value is not an integer or out of range\r\n",
    );
    t.expect(
        "decrby i 9223372036854775808",
        b"-ERR value is not an integer or out of range\r\n",
    );
    t.expect(
        "incrby i -9223372036854775809",
        b"-ERR value is not an integer or out of range\r\n",
    );
    t.expect("get i", b"$1\r\n1\r\n");
}

#[test]
fn incr_overflow() {
    let mut t = T::new();
    t.expect("set i 9223372036854775807", b"+OK\r\n");
    t.expect("incr i", b"-ERR increment or decrement would overflow\r\n");
    t.expect(
        "incrby i 1",
        b"-ERR increment or decrement would overflow\r\n",
    );
    t.expect("incrby i 0", b":9223372036854775807\r\n");
    t.expect("get i", b"$19\r\n9223372036854775807\r\n");
    t.expect("set i -9223372036854775808", b"+OK\r\n");
    t.expect("decr i", b"-ERR increment or decrement would overflow\r\n");
    t.expect(
        "decrby i 1",
        b"-ERR increment or decrement would overflow\r\n",
    );
    t.expect(
        "incrby i -1",
        b"-ERR increment or decrement would overflow\r\n",
    );
    t.expect("get i", b"$20\r\n-9223372036854775808\r\n");
    t.expect("set i 0", b"+OK\r\n");
    t.expect(
        "decrby i -9223372036854775808",
        b"-ERR decrement would overflow\r\n",
    );
    t.expect(
        "incrby i -9223372036854775808",
        b":-9223372036854775808\r\n",
    );
    t.expect(
        "decrby i 9223372036854775807",
        b"-ERR increment or decrement would overflow\r\n",
    );
    t.expect(
        "decrby i 1",
        b"-ERR increment or decrement would overflow\r\n",
    );
    t.expect(
        "decrby i 2",
        b"-ERR increment or decrement would overflow\r\n",
    );
    t.expect("set i 1", b"+OK\r\n");
    t.expect(
        "decrby i -9223372036854775808",
        b"-ERR decrement would overflow\r\n",
    );
    t.expect("set i -1", b"+OK\r\n");
    t.expect("incrby i 9223372036854775807", b":9223372036854775806\r\n");
    t.expect("incrby i 1", b":9223372036854775807\r\n");
    t.expect("decr i", b":9223372036854775806\r\n");
    t.expect("set i 10", b"+OK\r\n");
    t.expect(
        "incrby i 9223372036854775800",
        b"-ERR increment or decrement would overflow\r\n",
    );
}

#[test]
fn incrbyfloat_outputs() {
    let mut t = T::new();
    t.expect("set f 10.5", b"+OK\r\n");
    t.expect("incrbyfloat f 0.1", b"$4\r\n10.6\r\n");
    t.expect("set f 0.1", b"+OK\r\n");
    t.expect("incrbyfloat f 0.2", b"$3\r\n0.3\r\n");
    t.expect("set f 5.0e3", b"+OK\r\n");
    t.expect("incrbyfloat f 2.0e2", b"$4\r\n5200\r\n");
    t.expect("set f 10", b"+OK\r\n");
    t.expect("incrbyfloat f 1", b"$2\r\n11\r\n");
    t.expect("incrbyfloat f 1.5", b"$4\r\n12.5\r\n");
    t.expect("incrbyfloat f -1.5", b"$2\r\n11\r\n");
    t.expect("incrbyfloat nf 3.0", b"$1\r\n3\r\n");
    t.expect("incrbyfloat nf2 1e5", b"$6\r\n100000\r\n");
    t.expect("incrbyfloat nf3 -0", b"$1\r\n0\r\n");
    t.expect("incrbyfloat nf3 0.0", b"$1\r\n0\r\n");
    t.expect("set f 1", b"+OK\r\n");
    t.expect("incrbyfloat f 1e-20", b"$1\r\n1\r\n");
    t.expect("incrbyfloat f 3.0000000000000000001", b"$1\r\n4\r\n");
    t.expect("set f 3", b"+OK\r\n");
    t.expect(
        "incrbyfloat f 1.23456789012345678",
        b"$19\r\n4.23456789012345678\r\n",
    );
    t.expect(
        "incrbyfloat f 1e10",
        b"$29\r\n10000000004.23456788994371891\r\n",
    );
    t.expect(
        "incrbyfloat f 1E-5",
        b"$29\r\n10000000004.23457788955420256\r\n",
    );
    t.expect("set f 1.0", b"+OK\r\n");
    t.expect("incrbyfloat f 1.0", b"$1\r\n2\r\n");
    t.expect("set f .5", b"+OK\r\n");
    t.expect("incrbyfloat f .5", b"$1\r\n1\r\n");
    t.expect("set f 5.", b"+OK\r\n");
    t.expect("incrbyfloat f 1", b"$1\r\n6\r\n");
    t.expect("set f +5", b"+OK\r\n");
    t.expect("incrbyfloat f 1", b"$1\r\n6\r\n");
    t.expect("incrbyfloat f +1.5", b"$3\r\n7.5\r\n");
    t.expect("set f 1", b"+OK\r\n");
    t.expect(
        "incrbyfloat f 100000000000000000000000",
        b"$24\r\n100000000000000000000000\r\n",
    );
    t.expect("set f 0.1", b"+OK\r\n");
    t.expect("incrbyfloat f 0.7", b"$3\r\n0.8\r\n");
    t.expect("incrbyfloat f -0.8", b"$1\r\n0\r\n");
    t.expect("set f 1e-18", b"+OK\r\n");
    t.expect("incrbyfloat f 0", b"$1\r\n0\r\n");
    t.expect("set f 5e-18", b"+OK\r\n");
    t.expect("incrbyfloat f 0", b"$1\r\n0\r\n");
    t.expect("set f 0.000000000000000015", b"+OK\r\n");
    t.expect("incrbyfloat f 0", b"$19\r\n0.00000000000000002\r\n");
    t.expect("set f 9223372036854775807", b"+OK\r\n");
    t.expect("incrbyfloat f 1", b"$19\r\n9223372036854775808\r\n");
    t.expect("set f -9223372036854775808", b"+OK\r\n");
    t.expect("incrbyfloat f -1", b"$20\r\n-9223372036854775809\r\n");
    t.expect("set f 3.14159265358979323846", b"+OK\r\n");
    t.expect("incrbyfloat f 1", b"$19\r\n4.14159265358979324\r\n");
    t.expect("set f 123456789012345678901234567890", b"+OK\r\n");
    t.expect(
        "incrbyfloat f 1",
        b"$30\r\n123456789012345678899921813504\r\n",
    );
    t.expect("set f -0", b"+OK\r\n");
    t.expect("incrbyfloat f 0", b"$1\r\n0\r\n");
    t.expect("set f -0.0", b"+OK\r\n");
    t.expect("incrbyfloat f -0.0", b"$1\r\n0\r\n");
    t.expect("incrbyfloat f 1e+2", b"$3\r\n100\r\n");
    t.expect("incrbyfloat f 00012", b"$3\r\n112\r\n");
}

#[test]
fn incrbyfloat_hex_and_range() {
    let mut t = T::new();
    t.expect("set f 1", b"+OK\r\n");
    t.expect("incrbyfloat f 0x10", b"$2\r\n17\r\n");
    t.expect("incrbyfloat f 0x1p3", b"$2\r\n25\r\n");
    t.expect("incrbyfloat f 0x.8", b"$4\r\n25.5\r\n");
    t.expect("incrbyfloat f 0XA", b"$4\r\n35.5\r\n");
    t.expect("incrbyfloat f 0x", b"-ERR value is not a valid float\r\n");
    t.expect("incrbyfloat f 0x1p", b"-ERR value is not a valid float\r\n");
    t.expect("set f 1", b"+OK\r\n");
    t.expect("incrbyfloat f 1e400", b"$401\r\n10000000000000000000281880683947586514586453433629052038625910693539685534008629862039363994848324160522094053927317616200295822777259255734023828976593340661017797447434546173917862448116674971723778943824391593338047470675026246684401359237513603830343735485505244955964979021825038280091068414947402456898653040951017512658092615827588920183472511643316591362664138176309734806343732497430221946880\r\n");
    t.expect("incrbyfloat f 1e-4940", b"$401\r\n10000000000000000000281880683947586514586453433629052038625910693539685534008629862039363994848324160522094053927317616200295822777259255734023828976593340661017797447434546173917862448116674971723778943824391593338047470675026246684401359237513603830343735485505244955964979021825038280091068414947402456898653040951017512658092615827588920183472511643316591362664138176309734806343732497430221946880\r\n");
    t.expect("incrbyfloat f 1e308", b"$401\r\n10000000000000000000281880683947586514586453433629052038625910693539685534008629862039363994848324160522094053927317616200295822777259255734023828976593340661017797447434546173917862448116674971723778943824391593338047470675026246684401359237513603830343735485505244955964979021825038280091068414947402456898653040951017512658092615827588920183472511643316591362664138176309734806343732497430221946880\r\n");
    t.expect("set f 1.7976931348623157e308", b"+OK\r\n");
    t.expect("incrbyfloat f 1.7976931348623157e308", b"$309\r\n359538626972463139991842093548208868096772893888658356970628841530353257046248792709403737216774171128857586838851041378617416726902272110715794556052955234146997955372576789671236326588091188869859074894581254961338834769297758245552436667197907705664206565009503223382416235440319971852753604933726679072768\r\n");
    t.expect("set f 1e4900", b"+OK\r\n");
    t.expect("incrbyfloat f 1", b"$4901\r\n10000000000000000000270831223069034983322405250407883434650293011195902851726069266663704823041437489765520184376609062631997172976525117963202031391265252279271119708787269826453053244263010954912984273628019691913024261510122813318819385382698312136615906114835135436447280759093121804538749093593096715033623108501512603469688306855358169180238837163512800361557729916609767572378087712649590990247923374282633947102606880607043307562944953081918355031543497380027186265886940000902202860296719746398012688182980428220244993013294082436120708749482950238583525809483630401187625035966120680265965056786617624606398790236680049198040034195065715137085444658551780525331019546918469995551931276148257208047970284042059537736901765125937603916727782210687556038530910165038299848265279233548286544348234280154587739085944428210589014757793736606631597523101481032088848205965624827760776336158935979452431400244357514926063098913010355044317796638076934105073563233858391257589019013646262931628794735505764711108856561119254463151984361877861882004630442972390848487958357917807545670136833421292337938902931128638699601580412291741600880623354900518315246108426617654312900401641495926147364524045428963018259120057401908735822348976738163634971951071548718874721731127946581453849592456701491623856562803628559949723649349166888421284769905276126620759894130044927644720138752084181183558325424221309356654877895471163372112278415979384376680201930939577198469360942640136280001393633889148368912784592857253679065115618472148351150787888328289169690063010021191422795079047221140339254946606253749818575885407977588844451830663575246871331235755638008227550065896728369642182435493007752369185569931254437322092196281790707844553842194180025902748742933076861649086543885961269736776632392501394091838485895240714525357382384873399414633541620930923307416570743742075643883391876310958075940998557382648505520896511558788522677445345511240658135142964028222788876444936053458442192929156533489490733757252792269147324232837973739643090852300868703740729583801445077216209149653458469660515743689323684260295629854559409530706087039750642178623689255363216349146860198268138101194040960229489219904263868253068757898257681983945190759469754643953355915360470075069625235536232266221985274014321256681874552840226511653468456627386836146064028052325124205985004432866969215962990037457602710429817700662927601437154094526130931936370412559277512954352690866738867373938249114747139519249545931880659327128266231116939219689700351784002529826750592598790175154100554661001606765822718131889291468650828100758265566759744134621449984736427225863192204064186033343140983862371325838368135023306416494059069588830091962621584758754429802363641694368010270840608629566975987668204683936857443399699764844520780561578433966769123128680766675397294287201985043261031803162787261265751358818826716061666082571967819986837137052750846301123619371928606691678616995654134901149492722574702499461905788411869221356479059870287959605867233833472092517914190680947060696489624545860063518372315922856168980824614148273662519737323819777732558014216824588527959491385170094178947525242178415226256725461157182246880867589340772800304792110788566447466293092158138400395072911410368917060374838017868200397689639730583681576171767633811586665088993651679460145754909757890532942391979836214064866456917714707657157610164925750250946387740242484766983085234541530168482039581394641664980806222749411287452181275016093576082592222070717808307638020345099358919883588550546150944244377336759284279541033906586078180402497527222868768830182483033394041625688545500851259877461153887868315818393146108689383225517692653129942550413210472873028898459800118785450790041718420680135984765199248444493390013313083205234660092642416700990282980355308700580038770475868792342805361286445145659614816223893590003391709468314120518861600021170257755379238967085391711854752759249525377302813529840556631590392223598961493447480578930037043758049419306606631405662760520763139265101058092582641983125081098134309376440387759449589651688109741588092642960738897949747157132121720553596126205164142643644166898976510745641373390942738418210928593351162387103430972243796725328908401814508372151321180749639267395278964289324152039882780532561065350602906015315306445589864860795901357128093083447568983584579184945611210446233756901900158085990642591178296721326538974460539555506979794797823070810843208621713476377963240847368429354372212723265876743990691037014671683629590907548235582708738912737087484253282598759397084670414414047195602727673561428613865643208577198851397714095718009014679806549715894722976573348970315761730707883509990618589077700750096416237142864117646073907478979494140842832821710775991520265006615586843958551097870944259023193419495678862676183474643010407743254743635952246225341116846746313424896\r\n");
    t.expect("set f 1.18973149535723176502e+4932", b"+OK\r\n");
    t.expect(
        "incrbyfloat f 1e4932",
        b"-ERR increment would produce NaN or Infinity\r\n",
    );
    t.expect("get f", b"$28\r\n1.18973149535723176502e+4932\r\n");
}

#[test]
fn incrbyfloat_errors() {
    let mut t = T::new();
    t.expect("set f abc", b"+OK\r\n");
    t.expect("incrbyfloat f 1", b"-ERR value is not a valid float\r\n");
    t.expect("set f 1", b"+OK\r\n");
    t.expect("incrbyfloat f abc", b"-ERR value is not a valid float\r\n");
    t.expect(
        "incrbyfloat f inf",
        b"-ERR increment would produce NaN or Infinity\r\n",
    );
    t.expect(
        "incrbyfloat f -inf",
        b"-ERR increment would produce NaN or Infinity\r\n",
    );
    t.expect(
        "incrbyfloat f +inf",
        b"-ERR increment would produce NaN or Infinity\r\n",
    );
    t.expect(
        "incrbyfloat f infinity",
        b"-ERR increment would produce NaN or Infinity\r\n",
    );
    t.expect(
        "incrbyfloat f -Infinity",
        b"-ERR increment would produce NaN or Infinity\r\n",
    );
    t.expect("incrbyfloat f nan", b"-ERR value is not a valid float\r\n");
    t.expect("incrbyfloat f -nan", b"-ERR value is not a valid float\r\n");
    t.expect(
        "incrbyfloat f nan(123)",
        b"-ERR value is not a valid float\r\n",
    );
    t.expect(
        "incrbyfloat f \" 1\"",
        b"-ERR value is not a valid float\r\n",
    );
    t.expect(
        "incrbyfloat f \"1 \"",
        b"-ERR value is not a valid float\r\n",
    );
    t.expect("incrbyfloat f \"\"", b"-ERR value is not a valid float\r\n");
    t.expect("incrbyfloat f 1e", b"-ERR value is not a valid float\r\n");
    t.expect("incrbyfloat f 1e+", b"-ERR value is not a valid float\r\n");
    t.expect("incrbyfloat f 1_0", b"-ERR value is not a valid float\r\n");
    t.expect(
        "incrbyfloat f infinit",
        b"-ERR value is not a valid float\r\n",
    );
    t.expect(
        "incrbyfloat f 1e5000",
        b"-ERR value is not a valid float\r\n",
    );
    t.expect(
        "incrbyfloat f 1e-5000",
        b"-ERR value is not a valid float\r\n",
    );
    t.expect(
        "incrbyfloat f -1e5000",
        b"-ERR value is not a valid float\r\n",
    );
    t.expect("get f", b"$1\r\n1\r\n");
    t.expect("set f 1e5000", b"+OK\r\n");
    t.expect("incrbyfloat f 1", b"-ERR value is not a valid float\r\n");
    t.expect("set f \" 1\"", b"+OK\r\n");
    t.expect("incrbyfloat f 1", b"-ERR value is not a valid float\r\n");
    t.expect("set f 1e", b"+OK\r\n");
    t.expect("incrbyfloat f 1", b"-ERR value is not a valid float\r\n");
    t.expect("set f inf", b"+OK\r\n");
    t.expect(
        "incrbyfloat f 1",
        b"-ERR increment would produce NaN or Infinity\r\n",
    );
    t.expect(
        "incrbyfloat f -inf",
        b"-ERR increment would produce NaN or Infinity\r\n",
    );
    t.expect(
        "incrbyfloat f 0",
        b"-ERR increment would produce NaN or Infinity\r\n",
    );
    t.expect("get f", b"$3\r\ninf\r\n");
}

#[test]
fn incrbyfloat_keeps_ttl() {
    let mut t = T::new();
    t.expect("setex f 100 1.5", b"+OK\r\n");
    t.expect("incrbyfloat f 1", b"$3\r\n2.5\r\n");
    t.expect("ttl f", b":100\r\n");
    t.expect("get f", b"$3\r\n2.5\r\n");
}

#[test]
fn getrange_substr() {
    let mut t = T::new();
    t.expect("set s \"Hello World\"", b"+OK\r\n");
    t.expect("getrange s 0 4", b"$5\r\nHello\r\n");
    t.expect("getrange s -5 -1", b"$5\r\nWorld\r\n");
    t.expect("getrange s -1 -5", b"$0\r\n\r\n");
    t.expect("getrange s 0 -1", b"$11\r\nHello World\r\n");
    t.expect("getrange s 0 100", b"$11\r\nHello World\r\n");
    t.expect("getrange s 5 3", b"$0\r\n\r\n");
    t.expect("getrange s -100 -50", b"$1\r\nH\r\n");
    t.expect("getrange s -100 2", b"$3\r\nHel\r\n");
    t.expect("getrange s 100 200", b"$0\r\n\r\n");
    t.expect("getrange s -1 -1", b"$1\r\nd\r\n");
    t.expect("getrange s 10 10", b"$1\r\nd\r\n");
    t.expect("getrange s 11 11", b"$0\r\n\r\n");
    t.expect("getrange s 0 0", b"$1\r\nH\r\n");
    t.expect("getrange s -20 -12", b"$1\r\nH\r\n");
    t.expect("getrange s -20 -11", b"$1\r\nH\r\n");
    t.expect("getrange s 3 -100", b"$0\r\n\r\n");
    t.expect(
        "getrange s 9223372036854775807 9223372036854775807",
        b"$0\r\n\r\n",
    );
    t.expect(
        "getrange s -9223372036854775808 9223372036854775807",
        b"$11\r\nHello World\r\n",
    );
    t.expect(
        "getrange s -9223372036854775808 -9223372036854775808",
        b"$1\r\nH\r\n",
    );
    t.expect(
        "getrange s a 1",
        b"-ERR value is not an integer or out of range\r\n",
    );
    t.expect(
        "getrange s 0 b",
        b"-ERR value is not an integer or out of range\r\n",
    );
    t.expect(
        "getrange s 1.5 2",
        b"-ERR value is not an integer or out of range\r\n",
    );
    t.expect("getrange missing 0 -1", b"$0\r\n\r\n");
    t.expect(
        "getrange missing a b",
        b"-ERR value is not an integer or out of range\r\n",
    );
    t.expect("substr s 0 2", b"$3\r\nHel\r\n");
    t.expect("substr s -3 -1", b"$3\r\nrld\r\n");
    t.expect("substr s 3 1", b"$0\r\n\r\n");
    t.expect(
        "getrange s 0",
        b"-ERR wrong number of arguments for 'getrange' command\r\n",
    );
    t.expect("set e \"\"", b"+OK\r\n");
    t.expect("getrange e 0 -1", b"$0\r\n\r\n");
    t.expect("getrange e 0 0", b"$0\r\n\r\n");
    t.expect("getrange e -1 -1", b"$0\r\n\r\n");
    t.expect("set n 12345", b"+OK\r\n");
    t.expect("getrange n 1 2", b"$2\r\n23\r\n");
    t.expect("getrange n -2 -1", b"$2\r\n45\r\n");
    t.expect("getrange n 0 -1", b"$5\r\n12345\r\n");
}

#[test]
fn setrange_basic() {
    let mut t = T::new();
    t.expect("setrange r 5 hi", b":7\r\n");
    t.expect("get r", b"$7\r\n\x00\x00\x00\x00\x00hi\r\n");
    t.expect("strlen r", b":7\r\n");
    t.expect("setrange r 0 HELLO", b":7\r\n");
    t.expect("get r", b"$7\r\nHELLOhi\r\n");
    t.expect("setrange r 3 xyzxyzxyz", b":12\r\n");
    t.expect("get r", b"$12\r\nHELxyzxyzxyz\r\n");
    t.expect("setrange r 100 \"\"", b":12\r\n");
    t.expect("setrange r 2 \"\"", b":12\r\n");
    t.expect("get r", b"$12\r\nHELxyzxyzxyz\r\n");
    t.expect("setrange missing2 5 \"\"", b":0\r\n");
    t.expect("exists missing2", b":0\r\n");
    t.expect("setrange missing2 0 \"\"", b":0\r\n");
    t.expect("exists missing2", b":0\r\n");
    t.expect("set n 12345", b"+OK\r\n");
    t.expect("setrange n 1 X", b":5\r\n");
    t.expect("get n", b"$5\r\n1X345\r\n");
    t.expect("setex t 100 abc", b"+OK\r\n");
    t.expect("setrange t 1 Z", b":3\r\n");
    t.expect("ttl t", b":100\r\n");
    t.expect("get t", b"$3\r\naZc\r\n");
}

#[test]
fn setrange_errors() {
    let mut t = T::new();
    t.expect("setrange r -1 x", b"-ERR offset is out of range\r\n");
    t.expect(
        "setrange r abc x",
        b"-ERR value is not an integer or out of range\r\n",
    );
    t.expect(
        "setrange r 1.5 x",
        b"-ERR value is not an integer or out of range\r\n",
    );
    t.expect(
        "setrange r 536870912 x",
        b"-ERR string exceeds maximum allowed size (proto-max-bulk-len)\r\n",
    );
    t.expect(
        "setrange r 536870911 xx",
        b"-ERR string exceeds maximum allowed size (proto-max-bulk-len)\r\n",
    );
    t.expect(
        "setrange r 9223372036854775807 x",
        b"-ERR string exceeds maximum allowed size (proto-max-bulk-len)\r\n",
    );
    t.expect(
        "setrange missing3 536870912 x",
        b"-ERR string exceeds maximum allowed size (proto-max-bulk-len)\r\n",
    );
    t.expect("setrange missing3 536870912 \"\"", b":0\r\n");
    t.expect(
        "setrange missing3 -1 \"\"",
        b"-ERR offset is out of range\r\n",
    );
    t.expect("exists missing3", b":0\r\n");
    t.expect("set r abc", b"+OK\r\n");
    t.expect("setrange r 536870912 \"\"", b":3\r\n");
    t.expect("setrange r -1 \"\"", b"-ERR offset is out of range\r\n");
    t.expect("get r", b"$3\r\nabc\r\n");
}

#[test]
fn lcs_plain_and_len() {
    let mut t = T::new();
    t.expect("set k1 ohmytext", b"+OK\r\n");
    t.expect("set k2 mynewtext", b"+OK\r\n");
    t.expect("lcs k1 k2", b"$6\r\nmytext\r\n");
    t.expect("lcs k1 k2 len", b":6\r\n");
    t.expect("lcs k2 k1", b"$6\r\nmytext\r\n");
    t.expect("lcs k1 nokey", b"$0\r\n\r\n");
    t.expect("lcs nokey k1 len", b":0\r\n");
    t.expect("lcs nokey nokey2", b"$0\r\n\r\n");
    t.expect("lcs k1 k1", b"$8\r\nohmytext\r\n");
    t.expect("set a1 ABCBDAB", b"+OK\r\n");
    t.expect("set b1 BDCABA", b"+OK\r\n");
    t.expect("lcs a1 b1", b"$4\r\nBDAB\r\n");
    t.expect("lcs b1 a1", b"$4\r\nBCBA\r\n");
    t.expect("lcs a1 b1 LEN", b":4\r\n");
    t.expect("set n 1234567890123", b"+OK\r\n");
    t.expect("set m 1x3y5", b"+OK\r\n");
    t.expect("lcs n m", b"$3\r\n135\r\n");
}

#[test]
fn lcs_idx_resp2() {
    let mut t = T::new();
    t.expect("set k1 ohmytext", b"+OK\r\n");
    t.expect("set k2 mynewtext", b"+OK\r\n");
    t.expect("lcs k1 k2 idx", b"*4\r\n$7\r\nmatches\r\n*2\r\n*2\r\n*2\r\n:4\r\n:7\r\n*2\r\n:5\r\n:8\r\n*2\r\n*2\r\n:2\r\n:3\r\n*2\r\n:0\r\n:1\r\n$3\r\nlen\r\n:6\r\n");
    t.expect("lcs k1 k2 idx minmatchlen 4", b"*4\r\n$7\r\nmatches\r\n*1\r\n*2\r\n*2\r\n:4\r\n:7\r\n*2\r\n:5\r\n:8\r\n$3\r\nlen\r\n:6\r\n");
    t.expect("lcs k1 k2 idx minmatchlen 4 withmatchlen", b"*4\r\n$7\r\nmatches\r\n*1\r\n*3\r\n*2\r\n:4\r\n:7\r\n*2\r\n:5\r\n:8\r\n:4\r\n$3\r\nlen\r\n:6\r\n");
    t.expect("lcs k1 k2 idx withmatchlen", b"*4\r\n$7\r\nmatches\r\n*2\r\n*3\r\n*2\r\n:4\r\n:7\r\n*2\r\n:5\r\n:8\r\n:4\r\n*3\r\n*2\r\n:2\r\n:3\r\n*2\r\n:0\r\n:1\r\n:2\r\n$3\r\nlen\r\n:6\r\n");
    t.expect("lcs k1 k2 IDX MINMATCHLEN 2 WITHMATCHLEN", b"*4\r\n$7\r\nmatches\r\n*2\r\n*3\r\n*2\r\n:4\r\n:7\r\n*2\r\n:5\r\n:8\r\n:4\r\n*3\r\n*2\r\n:2\r\n:3\r\n*2\r\n:0\r\n:1\r\n:2\r\n$3\r\nlen\r\n:6\r\n");
    t.expect("lcs k1 k2 idx minmatchlen -5", b"*4\r\n$7\r\nmatches\r\n*2\r\n*2\r\n*2\r\n:4\r\n:7\r\n*2\r\n:5\r\n:8\r\n*2\r\n*2\r\n:2\r\n:3\r\n*2\r\n:0\r\n:1\r\n$3\r\nlen\r\n:6\r\n");
    t.expect("lcs k1 k2 idx minmatchlen 0", b"*4\r\n$7\r\nmatches\r\n*2\r\n*2\r\n*2\r\n:4\r\n:7\r\n*2\r\n:5\r\n:8\r\n*2\r\n*2\r\n:2\r\n:3\r\n*2\r\n:0\r\n:1\r\n$3\r\nlen\r\n:6\r\n");
    t.expect(
        "lcs k1 k2 idx minmatchlen 100",
        b"*4\r\n$7\r\nmatches\r\n*0\r\n$3\r\nlen\r\n:6\r\n",
    );
    t.expect("lcs k1 k1 idx withmatchlen", b"*4\r\n$7\r\nmatches\r\n*1\r\n*3\r\n*2\r\n:0\r\n:7\r\n*2\r\n:0\r\n:7\r\n:8\r\n$3\r\nlen\r\n:8\r\n");
    t.expect(
        "lcs nokey nokey2 idx",
        b"*4\r\n$7\r\nmatches\r\n*0\r\n$3\r\nlen\r\n:0\r\n",
    );
    t.expect(
        "lcs nokey nokey2 idx withmatchlen",
        b"*4\r\n$7\r\nmatches\r\n*0\r\n$3\r\nlen\r\n:0\r\n",
    );
    t.expect("set a1 ABCBDAB", b"+OK\r\n");
    t.expect("set b1 BDCABA", b"+OK\r\n");
    t.expect("lcs a1 b1 idx withmatchlen", b"*4\r\n$7\r\nmatches\r\n*2\r\n*3\r\n*2\r\n:5\r\n:6\r\n*2\r\n:3\r\n:4\r\n:2\r\n*3\r\n*2\r\n:3\r\n:4\r\n*2\r\n:0\r\n:1\r\n:2\r\n$3\r\nlen\r\n:4\r\n");
    t.expect("lcs b1 a1 idx withmatchlen", b"*4\r\n$7\r\nmatches\r\n*4\r\n*3\r\n*2\r\n:5\r\n:5\r\n*2\r\n:5\r\n:5\r\n:1\r\n*3\r\n*2\r\n:4\r\n:4\r\n*2\r\n:3\r\n:3\r\n:1\r\n*3\r\n*2\r\n:2\r\n:2\r\n*2\r\n:2\r\n:2\r\n:1\r\n*3\r\n*2\r\n:0\r\n:0\r\n*2\r\n:1\r\n:1\r\n:1\r\n$3\r\nlen\r\n:4\r\n");
    t.expect("set c1 aaaa", b"+OK\r\n");
    t.expect("set c2 aa", b"+OK\r\n");
    t.expect("lcs c1 c2 idx withmatchlen", b"*4\r\n$7\r\nmatches\r\n*1\r\n*3\r\n*2\r\n:2\r\n:3\r\n*2\r\n:0\r\n:1\r\n:2\r\n$3\r\nlen\r\n:2\r\n");
    t.expect("lcs c2 c1 idx withmatchlen", b"*4\r\n$7\r\nmatches\r\n*1\r\n*3\r\n*2\r\n:0\r\n:1\r\n*2\r\n:2\r\n:3\r\n:2\r\n$3\r\nlen\r\n:2\r\n");
}

#[test]
fn lcs_idx_resp3() {
    let mut t = T::new();
    t.expect("set k1 ohmytext", b"+OK\r\n");
    t.expect("set k2 mynewtext", b"+OK\r\n");
    t.proto = Proto::Resp3;
    t.expect("lcs k1 k2 idx", b"%2\r\n$7\r\nmatches\r\n*2\r\n*2\r\n*2\r\n:4\r\n:7\r\n*2\r\n:5\r\n:8\r\n*2\r\n*2\r\n:2\r\n:3\r\n*2\r\n:0\r\n:1\r\n$3\r\nlen\r\n:6\r\n");
    t.expect("lcs k1 k2 idx minmatchlen 4 withmatchlen", b"%2\r\n$7\r\nmatches\r\n*1\r\n*3\r\n*2\r\n:4\r\n:7\r\n*2\r\n:5\r\n:8\r\n:4\r\n$3\r\nlen\r\n:6\r\n");
    t.expect("lcs k1 k2", b"$6\r\nmytext\r\n");
    t.expect("lcs k1 k2 len", b":6\r\n");
    t.expect(
        "lcs nokey nokey2 idx",
        b"%2\r\n$7\r\nmatches\r\n*0\r\n$3\r\nlen\r\n:0\r\n",
    );
    t.expect("lcs nokey nokey2", b"$0\r\n\r\n");
}

#[test]
fn lcs_options_errors() {
    let mut t = T::new();
    t.expect("set k1 ohmytext", b"+OK\r\n");
    t.expect("set k2 mynewtext", b"+OK\r\n");
    t.expect(
        "lcs k1 k2 len idx",
        b"-ERR If you want both the length and indexes, please just use IDX.\r\n",
    );
    t.expect(
        "lcs k1 k2 idx len",
        b"-ERR If you want both the length and indexes, please just use IDX.\r\n",
    );
    t.expect("lcs k1 k2 len withmatchlen", b":6\r\n");
    t.expect("lcs k1 k2 len minmatchlen 3", b":6\r\n");
    t.expect("lcs k1 k2 withmatchlen", b"$6\r\nmytext\r\n");
    t.expect("lcs k1 k2 minmatchlen 2", b"$6\r\nmytext\r\n");
    t.expect("lcs k1 k2 minmatchlen", b"-ERR syntax error\r\n");
    t.expect(
        "lcs k1 k2 minmatchlen abc",
        b"-ERR value is not an integer or out of range\r\n",
    );
    t.expect(
        "lcs k1 k2 idx minmatchlen abc",
        b"-ERR value is not an integer or out of range\r\n",
    );
    t.expect("lcs k1 k2 foo", b"-ERR syntax error\r\n");
    t.expect("lcs k1 k2 idx foo", b"-ERR syntax error\r\n");
    t.expect(
        "lcs k1",
        b"-ERR wrong number of arguments for 'lcs' command\r\n",
    );
}

#[test]
fn object_encoding_transitions() {
    let mut t = T::new();
    t.expect("set k 12345", b"+OK\r\n");
    t.expect("object encoding k", b"$3\r\nint\r\n");
    t.expect("set k -1", b"+OK\r\n");
    t.expect("object encoding k", b"$3\r\nint\r\n");
    t.expect("set k 012", b"+OK\r\n");
    t.expect("object encoding k", b"$6\r\nembstr\r\n");
    t.expect("set k 9223372036854775807", b"+OK\r\n");
    t.expect("object encoding k", b"$3\r\nint\r\n");
    t.expect("set k 9223372036854775808", b"+OK\r\n");
    t.expect("object encoding k", b"$6\r\nembstr\r\n");
    t.expect("set k \"1 \"", b"+OK\r\n");
    t.expect("object encoding k", b"$6\r\nembstr\r\n");
    t.expect("set k abc", b"+OK\r\n");
    t.expect("object encoding k", b"$6\r\nembstr\r\n");
    t.expect(
        "set k aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
        b"+OK\r\n",
    );
    t.expect("object encoding k", b"$6\r\nembstr\r\n");
    t.expect(
        "set k aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
        b"+OK\r\n",
    );
    t.expect("object encoding k", b"$3\r\nraw\r\n");
    t.expect("set k 123", b"+OK\r\n");
    t.expect("append k 45", b":5\r\n");
    t.expect("object encoding k", b"$3\r\nraw\r\n");
    t.expect("get k", b"$5\r\n12345\r\n");
    t.expect("set k abc", b"+OK\r\n");
    t.expect("append k d", b":4\r\n");
    t.expect("object encoding k", b"$3\r\nraw\r\n");
    t.expect("set k abc", b"+OK\r\n");
    t.expect("setrange k 0 x", b":3\r\n");
    t.expect("object encoding k", b"$3\r\nraw\r\n");
    t.expect("set k 123", b"+OK\r\n");
    t.expect("setrange k 0 9", b":3\r\n");
    t.expect("object encoding k", b"$3\r\nraw\r\n");
    t.expect("set k 10", b"+OK\r\n");
    t.expect("incr k", b":11\r\n");
    t.expect("object encoding k", b"$3\r\nint\r\n");
    t.expect("set k abc", b"+OK\r\n");
    t.expect("append k \"\"", b":3\r\n");
    t.expect("object encoding k", b"$3\r\nraw\r\n");
    t.expect("append new \"\"", b":0\r\n");
    t.expect("object encoding new", b"$6\r\nembstr\r\n");
    t.expect("append new2 xyz", b":3\r\n");
    t.expect("object encoding new2", b"$6\r\nembstr\r\n");
    t.expect("set k 10", b"+OK\r\n");
    t.expect("append k 0", b":3\r\n");
    t.expect("incr k", b":101\r\n");
    t.expect("object encoding k", b"$3\r\nint\r\n");
    t.expect("set f 1.5", b"+OK\r\n");
    t.expect("incrbyfloat f 1", b"$3\r\n2.5\r\n");
    t.expect("object encoding f", b"$6\r\nembstr\r\n");
    t.expect("incrbyfloat f 0.5", b"$1\r\n3\r\n");
    t.expect("object encoding f", b"$6\r\nembstr\r\n");
    t.expect("incrbyfloat nf 1", b"$1\r\n1\r\n");
    t.expect("object encoding nf", b"$6\r\nembstr\r\n");
    t.expect("setrange sr 0 abc", b":3\r\n");
    t.expect("object encoding sr", b"$3\r\nraw\r\n");
    t.expect("getset k 77", b"$3\r\n101\r\n");
    t.expect("object encoding k", b"$3\r\nint\r\n");
    t.expect("set k 123", b"+OK\r\n");
    t.expect("setrange k 0 \"\"", b":3\r\n");
    t.expect("object encoding k", b"$3\r\nint\r\n");
    t.expect("mset m1 5 m2 abc", b"+OK\r\n");
    t.expect("object encoding m1", b"$3\r\nint\r\n");
    t.expect("object encoding m2", b"$6\r\nembstr\r\n");
    t.expect("setnx sn 7", b":1\r\n");
    t.expect("object encoding sn", b"$3\r\nint\r\n");
    t.expect("setex se 100 8", b"+OK\r\n");
    t.expect("object encoding se", b"$3\r\nint\r\n");
    t.expect("incr ni", b":1\r\n");
    t.expect("object encoding ni", b"$3\r\nint\r\n");
    t.expect("incrby ni2 1000000", b":1000000\r\n");
    t.expect("object encoding ni2", b"$3\r\nint\r\n");
}

#[test]
fn arity_errors() {
    let mut t = T::new();
    t.expect(
        "get",
        b"-ERR wrong number of arguments for 'get' command\r\n",
    );
    t.expect(
        "get a b",
        b"-ERR wrong number of arguments for 'get' command\r\n",
    );
    t.expect(
        "set k",
        b"-ERR wrong number of arguments for 'set' command\r\n",
    );
    t.expect(
        "setnx k",
        b"-ERR wrong number of arguments for 'setnx' command\r\n",
    );
    t.expect(
        "setex k 1",
        b"-ERR wrong number of arguments for 'setex' command\r\n",
    );
    t.expect(
        "psetex k 1",
        b"-ERR wrong number of arguments for 'psetex' command\r\n",
    );
    t.expect(
        "getset k",
        b"-ERR wrong number of arguments for 'getset' command\r\n",
    );
    t.expect(
        "getdel",
        b"-ERR wrong number of arguments for 'getdel' command\r\n",
    );
    t.expect(
        "getex",
        b"-ERR wrong number of arguments for 'getex' command\r\n",
    );
    t.expect(
        "mget",
        b"-ERR wrong number of arguments for 'mget' command\r\n",
    );
    t.expect(
        "mset",
        b"-ERR wrong number of arguments for 'mset' command\r\n",
    );
    t.expect(
        "mset k",
        b"-ERR wrong number of arguments for 'mset' command\r\n",
    );
    t.expect(
        "msetnx k",
        b"-ERR wrong number of arguments for 'msetnx' command\r\n",
    );
    t.expect(
        "append k",
        b"-ERR wrong number of arguments for 'append' command\r\n",
    );
    t.expect(
        "strlen",
        b"-ERR wrong number of arguments for 'strlen' command\r\n",
    );
    t.expect(
        "incr",
        b"-ERR wrong number of arguments for 'incr' command\r\n",
    );
    t.expect(
        "decr a b",
        b"-ERR wrong number of arguments for 'decr' command\r\n",
    );
    t.expect(
        "incrby k",
        b"-ERR wrong number of arguments for 'incrby' command\r\n",
    );
    t.expect(
        "decrby k",
        b"-ERR wrong number of arguments for 'decrby' command\r\n",
    );
    t.expect(
        "incrbyfloat k",
        b"-ERR wrong number of arguments for 'incrbyfloat' command\r\n",
    );
    t.expect(
        "getrange k 1",
        b"-ERR wrong number of arguments for 'getrange' command\r\n",
    );
    t.expect(
        "substr k 1",
        b"-ERR wrong number of arguments for 'substr' command\r\n",
    );
    t.expect(
        "setrange k 1",
        b"-ERR wrong number of arguments for 'setrange' command\r\n",
    );
    t.expect(
        "lcs k",
        b"-ERR wrong number of arguments for 'lcs' command\r\n",
    );
}

#[test]
fn resp3_replies() {
    let mut t = T::new();
    t.proto = Proto::Resp3;
    t.expect("get nokey", b"_\r\n");
    t.expect("mget a b", b"*2\r\n_\r\n_\r\n");
    t.expect("set k v get", b"_\r\n");
    t.expect("set k v2 get", b"$1\r\nv\r\n");
    t.expect("getdel nokey", b"_\r\n");
    t.expect("getex nokey", b"_\r\n");
    t.expect("set k v nx", b"_\r\n");
    t.expect("set nokey v xx", b"_\r\n");
    t.expect(
        "lcs nokey nokey idx withmatchlen",
        b"%2\r\n$7\r\nmatches\r\n*0\r\n$3\r\nlen\r\n:0\r\n",
    );
    t.expect("set k 10", b"+OK\r\n");
    t.expect("incrbyfloat k 1.5", b"$4\r\n11.5\r\n");
    t.expect("getrange k 0 -1", b"$4\r\n11.5\r\n");
    t.expect("getrange nokey 0 -1", b"$0\r\n\r\n");
    t.expect("set k v xx get", b"$4\r\n11.5\r\n");
    t.expect("incr n", b":1\r\n");
}
