//! Generic key commands against Redis 7.0.15's exact replies (captured from a real
//! redis-server). Each `expect` line is a command and the bytes Redis answered.

mod common;

use common::*;
use resp::Proto;

#[test]
fn del_unlink_duplicates() {
    let mut t = T::new();
    t.expect("set a 1", b"+OK\r\n");
    t.expect("set b 2", b"+OK\r\n");
    t.expect("del a a b c", b":2\r\n");
    t.expect("del a", b":0\r\n");
    t.expect("del a b c", b":0\r\n");
    t.expect("set a 1", b"+OK\r\n");
    t.expect("set b 2", b"+OK\r\n");
    t.expect("unlink a a nokey", b":1\r\n");
    t.expect("unlink a b", b":1\r\n");
    t.expect("exists b", b":0\r\n");
    t.expect(
        "del",
        b"-ERR wrong number of arguments for 'del' command\r\n",
    );
}

#[test]
fn exists_counts_duplicates() {
    let mut t = T::new();
    t.expect("set a 1", b"+OK\r\n");
    t.expect("exists a", b":1\r\n");
    t.expect("exists a a b", b":2\r\n");
    t.expect("exists a a a nokey nokey", b":3\r\n");
    t.expect("exists nokey", b":0\r\n");
    t.expect(
        "exists",
        b"-ERR wrong number of arguments for 'exists' command\r\n",
    );
}

#[test]
fn touch_counts_existing() {
    let mut t = T::new();
    t.expect("set a 1", b"+OK\r\n");
    t.expect("set b 2", b"+OK\r\n");
    t.expect("touch a b nokey", b":2\r\n");
    t.expect("touch a a", b":2\r\n");
    t.expect("touch nokey", b":0\r\n");
    t.expect(
        "touch",
        b"-ERR wrong number of arguments for 'touch' command\r\n",
    );
}

#[test]
fn type_of_keys() {
    let mut t = T::new();
    t.expect("set a 1", b"+OK\r\n");
    t.expect("type a", b"+string\r\n");
    t.expect("set s hello", b"+OK\r\n");
    t.expect("type s", b"+string\r\n");
    t.expect("type nokey", b"+none\r\n");
    t.expect(
        "type",
        b"-ERR wrong number of arguments for 'type' command\r\n",
    );
    t.expect(
        "type a b",
        b"-ERR wrong number of arguments for 'type' command\r\n",
    );
}

#[test]
fn expire_sets_ttl() {
    let mut t = T::new();
    t.expect("set a 1", b"+OK\r\n");
    t.expect("expire a 100", b":1\r\n");
    t.expect("ttl a", b":100\r\n");
    t.expect("pexpire a 100500", b":1\r\n");
    t.expect("pttl a", b":100500\r\n");
    t.expect("expireat a 4102444800", b":1\r\n");
    t.expect("expiretime a", b":4102444800\r\n");
    t.expect("pexpireat a 4102444800123", b":1\r\n");
    t.expect("pexpiretime a", b":4102444800123\r\n");
    t.expect("expiretime a", b":4102444800\r\n");
    t.expect("EXPIRE a 50", b":1\r\n");
    t.expect("ttl a", b":50\r\n");
    t.expect("expire nokey 100", b":0\r\n");
    t.expect("pexpire nokey 100", b":0\r\n");
    t.expect("expireat nokey 4102444800", b":0\r\n");
    t.expect("pexpireat nokey 4102444800000", b":0\r\n");
}

#[test]
fn expire_nx_xx_gt_lt() {
    let mut t = T::new();
    t.expect("set a 1", b"+OK\r\n");
    t.expect("expire a 100 xx", b":0\r\n");
    t.expect("ttl a", b":-1\r\n");
    t.expect("expire a 100 gt", b":0\r\n");
    t.expect("ttl a", b":-1\r\n");
    t.expect("expire a 100 lt", b":1\r\n");
    t.expect("ttl a", b":100\r\n");
    t.expect("expire a 200 nx", b":0\r\n");
    t.expect("expire a 300 nx", b":0\r\n");
    t.expect("ttl a", b":100\r\n");
    t.expect("expire a 400 xx", b":1\r\n");
    t.expect("ttl a", b":400\r\n");
    t.expect("expire a 50 gt", b":0\r\n");
    t.expect("expire a 400 gt", b":0\r\n");
    t.expect("expire a 500 gt", b":1\r\n");
    t.expect("ttl a", b":500\r\n");
    t.expect("expire a 600 lt", b":0\r\n");
    t.expect("expire a 500 lt", b":0\r\n");
    t.expect("expire a 100 lt", b":1\r\n");
    t.expect("ttl a", b":100\r\n");
    t.expect("expire a 99 XX GT", b":0\r\n");
    t.expect("expire a 200 XX GT", b":1\r\n");
    t.expect("ttl a", b":200\r\n");
    t.expect("expire a 50 xx lt", b":1\r\n");
    t.expect("ttl a", b":50\r\n");
    t.expect("expire a 50 xx xx", b":1\r\n");
    t.expect("expire a 60 gt gt", b":1\r\n");
    t.expect("persist a", b":1\r\n");
    t.expect(
        "expire a 10 lt gt",
        b"-ERR GT and LT options at the same time are not compatible\r\n",
    );
    t.expect("expire a 10 lt", b":1\r\n");
    t.expect("ttl a", b":10\r\n");
    t.expect("expire nokey 100 nx", b":0\r\n");
    t.expect("expire nokey 100 xx", b":0\r\n");
    t.expect("expire nokey 100 gt", b":0\r\n");
    t.expect("expire nokey 100 lt", b":0\r\n");
    t.expect("pexpire a 5000 NX", b":0\r\n");
    t.expect("pexpireat a 4102444800000 gt", b":1\r\n");
    t.expect("pexpiretime a", b":4102444800000\r\n");
    t.expect("expireat a 4102444700 gt", b":0\r\n");
    t.expect("expireat a 4102444700 lt", b":1\r\n");
    t.expect("expiretime a", b":4102444700\r\n");
}

#[test]
fn expire_option_errors() {
    let mut t = T::new();
    t.expect("set a 1", b"+OK\r\n");
    t.expect(
        "expire a 100 nx xx",
        b"-ERR NX and XX, GT or LT options at the same time are not compatible\r\n",
    );
    t.expect(
        "expire a 100 nx gt",
        b"-ERR NX and XX, GT or LT options at the same time are not compatible\r\n",
    );
    t.expect(
        "expire a 100 nx lt",
        b"-ERR NX and XX, GT or LT options at the same time are not compatible\r\n",
    );
    t.expect(
        "expire a 100 xx nx",
        b"-ERR NX and XX, GT or LT options at the same time are not compatible\r\n",
    );
    t.expect(
        "expire a 100 gt lt",
        b"-ERR GT and LT options at the same time are not compatible\r\n",
    );
    t.expect(
        "expire a 100 lt gt",
        b"-ERR GT and LT options at the same time are not compatible\r\n",
    );
    t.expect(
        "expire a 100 xx gt lt",
        b"-ERR GT and LT options at the same time are not compatible\r\n",
    );
    t.expect("expire a 100 foo", b"-ERR Unsupported option foo\r\n");
    t.expect("expire a 100 nx foo", b"-ERR Unsupported option foo\r\n");
    t.expect("expire a 100 nx xx foo", b"-ERR Unsupported option foo\r\n");
    t.expect("expire a abc foo", b"-ERR Unsupported option foo\r\n");
    t.expect(
        "expire a abc nx xx",
        b"-ERR NX and XX, GT or LT options at the same time are not compatible\r\n",
    );
    t.expect(
        "expire a abc gt lt",
        b"-ERR GT and LT options at the same time are not compatible\r\n",
    );
    t.expect(
        "expire a abc",
        b"-ERR value is not an integer or out of range\r\n",
    );
    t.expect(
        "expire a 1.5",
        b"-ERR value is not an integer or out of range\r\n",
    );
    t.expect(
        "expire a \"\"",
        b"-ERR value is not an integer or out of range\r\n",
    );
    t.expect(
        "pexpire a abc",
        b"-ERR value is not an integer or out of range\r\n",
    );
    t.expect(
        "expireat a abc",
        b"-ERR value is not an integer or out of range\r\n",
    );
    t.expect(
        "pexpireat a 1.5",
        b"-ERR value is not an integer or out of range\r\n",
    );
    t.expect(
        "expire nokey abc",
        b"-ERR value is not an integer or out of range\r\n",
    );
    t.expect("expire nokey 100 foo", b"-ERR Unsupported option foo\r\n");
    t.expect(
        "expire a",
        b"-ERR wrong number of arguments for 'expire' command\r\n",
    );
    t.expect("ttl a", b":-1\r\n");
}

#[test]
fn expire_overflow() {
    let mut t = T::new();
    t.expect("set p 1", b"+OK\r\n");
    t.expect(
        "expire p 9223372036854775807",
        b"-ERR invalid expire time in 'expire' command\r\n",
    );
    t.expect(
        "expire p 9223372036854776",
        b"-ERR invalid expire time in 'expire' command\r\n",
    );
    t.expect(
        "expire p -9223372036854776",
        b"-ERR invalid expire time in 'expire' command\r\n",
    );
    t.expect(
        "pexpire p 9223372036854775807",
        b"-ERR invalid expire time in 'pexpire' command\r\n",
    );
    t.expect(
        "expireat p 9223372036854775807",
        b"-ERR invalid expire time in 'expireat' command\r\n",
    );
    t.expect(
        "expireat p 9223372036854776",
        b"-ERR invalid expire time in 'expireat' command\r\n",
    );
    t.expect(
        "expire p -9223372036854775808",
        b"-ERR invalid expire time in 'expire' command\r\n",
    );
    t.expect("pexpire p -9223372036854775808", b":1\r\n");
    t.expect("ttl p", b":-2\r\n");
    t.expect(
        "expire p 9223372036854775",
        b"-ERR invalid expire time in 'expire' command\r\n",
    );
    t.expect("pexpireat p 9223372036854775807", b":0\r\n");
    t.expect("ttl p", b":-2\r\n");
    t.expect("pexpiretime p", b":-2\r\n");
    t.expect("expiretime p", b":-2\r\n");
    t.expect("expireat p 9223372036854775", b":0\r\n");
    t.expect("pexpiretime p", b":-2\r\n");
    t.expect("expiretime p", b":-2\r\n");
}

#[test]
fn expire_past_deletes() {
    let mut t = T::new();
    t.expect("set p 1", b"+OK\r\n");
    t.expect("expire p 0", b":1\r\n");
    t.expect("exists p", b":0\r\n");
    t.expect("set p 1", b"+OK\r\n");
    t.expect("expire p -100", b":1\r\n");
    t.expect("exists p", b":0\r\n");
    t.expect("set p 1", b"+OK\r\n");
    t.expect("pexpire p -1", b":1\r\n");
    t.expect("exists p", b":0\r\n");
    t.expect("set p 1", b"+OK\r\n");
    t.expect("pexpire p 0", b":1\r\n");
    t.expect("exists p", b":0\r\n");
    t.expect("set p 1", b"+OK\r\n");
    t.expect("expireat p 1", b":1\r\n");
    t.expect("exists p", b":0\r\n");
    t.expect("set p 1", b"+OK\r\n");
    t.expect("pexpireat p 0", b":1\r\n");
    t.expect("exists p", b":0\r\n");
    t.expect("set p 1", b"+OK\r\n");
    t.expect("pexpireat p -9223372036854775808", b":1\r\n");
    t.expect("exists p", b":0\r\n");
    t.expect("set p 1", b"+OK\r\n");
    t.expect("expire p -9223372036854775", b":1\r\n");
    t.expect("exists p", b":0\r\n");
    t.expect("set p 1", b"+OK\r\n");
    t.expect("expire p 100", b":1\r\n");
    t.expect("expire p -1 lt", b":1\r\n");
    t.expect("exists p", b":0\r\n");
    t.expect("set p 1", b"+OK\r\n");
    t.expect("expire p -1 gt", b":0\r\n");
    t.expect("exists p", b":1\r\n");
    t.expect("expire p -1 lt", b":1\r\n");
    t.expect("exists p", b":0\r\n");
    t.expect("set p 1", b"+OK\r\n");
    t.expect("expire p -1 xx", b":0\r\n");
    t.expect("exists p", b":1\r\n");
    t.expect("expire p -1 nx", b":1\r\n");
    t.expect("exists p", b":0\r\n");
}

#[test]
fn ttl_family_replies() {
    let mut t = T::new();
    t.expect("ttl nokey", b":-2\r\n");
    t.expect("pttl nokey", b":-2\r\n");
    t.expect("expiretime nokey", b":-2\r\n");
    t.expect("pexpiretime nokey", b":-2\r\n");
    t.expect("set p 1", b"+OK\r\n");
    t.expect("ttl p", b":-1\r\n");
    t.expect("pttl p", b":-1\r\n");
    t.expect("expiretime p", b":-1\r\n");
    t.expect("pexpiretime p", b":-1\r\n");
    t.expect("pexpireat p 4102444800123", b":1\r\n");
    t.expect("pexpiretime p", b":4102444800123\r\n");
    t.expect("expiretime p", b":4102444800\r\n");
    t.expect("pexpireat p 4102444800499", b":1\r\n");
    t.expect("expiretime p", b":4102444800\r\n");
    t.expect("pexpireat p 4102444800500", b":1\r\n");
    t.expect("expiretime p", b":4102444801\r\n");
    t.expect("pexpireat p 4102444800999", b":1\r\n");
    t.expect("expiretime p", b":4102444801\r\n");
    t.expect(
        "ttl",
        b"-ERR wrong number of arguments for 'ttl' command\r\n",
    );
    t.expect(
        "ttl a b",
        b"-ERR wrong number of arguments for 'ttl' command\r\n",
    );
}

#[test]
fn persist_removes_ttl() {
    let mut t = T::new();
    t.expect("set p 1", b"+OK\r\n");
    t.expect("persist p", b":0\r\n");
    t.expect("expire p 100", b":1\r\n");
    t.expect("persist p", b":1\r\n");
    t.expect("ttl p", b":-1\r\n");
    t.expect("persist p", b":0\r\n");
    t.expect("persist nokey", b":0\r\n");
    t.expect("setex q 100 v", b"+OK\r\n");
    t.expect("persist q", b":1\r\n");
    t.expect("ttl q", b":-1\r\n");
    t.expect("get q", b"$1\r\nv\r\n");
}

#[test]
fn rename_basic() {
    let mut t = T::new();
    t.expect("set r1 v1", b"+OK\r\n");
    t.expect("rename r1 r2", b"+OK\r\n");
    t.expect("exists r1", b":0\r\n");
    t.expect("get r2", b"$2\r\nv1\r\n");
    t.expect("set r3 v3", b"+OK\r\n");
    t.expect("rename r2 r3", b"+OK\r\n");
    t.expect("get r3", b"$2\r\nv1\r\n");
    t.expect("exists r2", b":0\r\n");
    t.expect("rename r3 r3", b"+OK\r\n");
    t.expect("get r3", b"$2\r\nv1\r\n");
    t.expect("rename nokey x", b"-ERR no such key\r\n");
    t.expect("rename nokey nokey", b"-ERR no such key\r\n");
    t.expect("exists x", b":0\r\n");
    t.expect(
        "rename r3",
        b"-ERR wrong number of arguments for 'rename' command\r\n",
    );
}

#[test]
fn rename_carries_ttl() {
    let mut t = T::new();
    t.expect("set a v", b"+OK\r\n");
    t.expect("expire a 100", b":1\r\n");
    t.expect("rename a b", b"+OK\r\n");
    t.expect("ttl b", b":100\r\n");
    t.expect("set c v2", b"+OK\r\n");
    t.expect("rename c b", b"+OK\r\n");
    t.expect("ttl b", b":-1\r\n");
    t.expect("get b", b"$2\r\nv2\r\n");
    t.expect("expire b 100", b":1\r\n");
    t.expect("set d plain", b"+OK\r\n");
    t.expect("rename d b", b"+OK\r\n");
    t.expect("ttl b", b":-1\r\n");
    t.expect("set e v", b"+OK\r\n");
    t.expect("pexpire e 100500", b":1\r\n");
    t.expect("renamenx e f", b":1\r\n");
    t.expect("pttl f", b":100500\r\n");
}

#[test]
fn renamenx_cases() {
    let mut t = T::new();
    t.expect("set a 1", b"+OK\r\n");
    t.expect("set b 2", b"+OK\r\n");
    t.expect("renamenx a b", b":0\r\n");
    t.expect("get a", b"$1\r\n1\r\n");
    t.expect("renamenx a a", b":0\r\n");
    t.expect("renamenx a c", b":1\r\n");
    t.expect("exists a", b":0\r\n");
    t.expect("get c", b"$1\r\n1\r\n");
    t.expect("renamenx nokey x", b"-ERR no such key\r\n");
    t.expect("renamenx nokey nokey", b"-ERR no such key\r\n");
    t.expect(
        "renamenx c",
        b"-ERR wrong number of arguments for 'renamenx' command\r\n",
    );
}

#[test]
fn copy_basic() {
    let mut t = T::new();
    t.expect("set c1 v", b"+OK\r\n");
    t.expect("copy c1 c2", b":1\r\n");
    t.expect("get c2", b"$1\r\nv\r\n");
    t.expect("get c1", b"$1\r\nv\r\n");
    t.expect("copy c1 c2", b":0\r\n");
    t.expect("set c1 newv", b"+OK\r\n");
    t.expect("copy c1 c2 replace", b":1\r\n");
    t.expect("get c2", b"$4\r\nnewv\r\n");
    t.expect("copy c1 c2 REPLACE", b":1\r\n");
    t.expect("copy nokey x", b":0\r\n");
    t.expect(
        "copy nokey nokey",
        b"-ERR source and destination objects are the same\r\n",
    );
    t.expect("copy nokey x replace", b":0\r\n");
    t.expect("exists x", b":0\r\n");
    t.expect("expire c1 100", b":1\r\n");
    t.expect("copy c1 c3", b":1\r\n");
    t.expect("ttl c3", b":100\r\n");
    t.expect("set n 123", b"+OK\r\n");
    t.expect("copy n n2", b":1\r\n");
    t.expect("object encoding n2", b"$3\r\nint\r\n");
    t.expect("get n2", b"$3\r\n123\r\n");
}

#[test]
fn copy_between_dbs() {
    let mut t = T::new();
    t.expect("set c1 v", b"+OK\r\n");
    t.expect("copy c1 c1 db 1", b":1\r\n");
    t.expect("copy c1 c1 db 1", b":0\r\n");
    t.expect("copy c1 c1 db 1 replace", b":1\r\n");
    t.expect("copy c1 x db 2 replace", b":1\r\n");
    t.expect("copy c1 x replace db 3", b":1\r\n");
    t.expect(
        "copy c1 c1 db 0",
        b"-ERR source and destination objects are the same\r\n",
    );
    t.db = 1;
    t.expect("get c1", b"$1\r\nv\r\n");
    t.db = 2;
    t.expect("get x", b"$1\r\nv\r\n");
    t.db = 3;
    t.expect("get x", b"$1\r\nv\r\n");
    t.expect("exists c1", b":0\r\n");
}

#[test]
fn copy_errors() {
    let mut t = T::new();
    t.expect("set c1 v", b"+OK\r\n");
    t.expect(
        "copy c1 c1",
        b"-ERR source and destination objects are the same\r\n",
    );
    t.expect(
        "copy c1 c1 replace",
        b"-ERR source and destination objects are the same\r\n",
    );
    t.expect(
        "copy c1 c1 db 0",
        b"-ERR source and destination objects are the same\r\n",
    );
    t.expect("copy c1 x db 16", b"-ERR DB index is out of range\r\n");
    t.expect("copy c1 x db -1", b"-ERR DB index is out of range\r\n");
    t.expect(
        "copy c1 x db abc",
        b"-ERR value is not an integer or out of range\r\n",
    );
    t.expect(
        "copy c1 x db 3000000000",
        b"-ERR value is out of range, value must between -2147483648 and 2147483647\r\n",
    );
    t.expect(
        "copy c1 x db 99999999999999999999",
        b"-ERR value is not an integer or out of range\r\n",
    );
    t.expect("copy c1 x db", b"-ERR syntax error\r\n");
    t.expect("copy c1 x foo", b"-ERR syntax error\r\n");
    t.expect("copy c1 x replace foo", b"-ERR syntax error\r\n");
    t.expect("copy c1 x db 16 foo", b"-ERR DB index is out of range\r\n");
    t.expect("copy c1 x foo db 16", b"-ERR syntax error\r\n");
    t.expect("copy nokey x db 99", b"-ERR DB index is out of range\r\n");
    t.expect(
        "copy c1",
        b"-ERR wrong number of arguments for 'copy' command\r\n",
    );
    t.expect("exists x", b":0\r\n");
}

#[test]
fn move_between_dbs() {
    let mut t = T::new();
    t.expect("set m1 v", b"+OK\r\n");
    t.expect("move m1 1", b":1\r\n");
    t.expect("exists m1", b":0\r\n");
    t.expect("move m1 1", b":0\r\n");
    t.expect("set m1 v", b"+OK\r\n");
    t.expect("move m1 1", b":0\r\n");
    t.db = 1;
    t.expect("get m1", b"$1\r\nv\r\n");
    t.expect("move m1 0", b":0\r\n");
    t.db = 0;
    t.expect("get m1", b"$1\r\nv\r\n");
    t.expect("move nokey 1", b":0\r\n");
    t.expect("setex t 100 v", b"+OK\r\n");
    t.expect("move t 2", b":1\r\n");
    t.db = 2;
    t.expect("ttl t", b":100\r\n");
}

#[test]
fn move_errors() {
    let mut t = T::new();
    t.expect("set m1 v", b"+OK\r\n");
    t.expect(
        "move m1 0",
        b"-ERR source and destination objects are the same\r\n",
    );
    t.expect("move m1 16", b"-ERR DB index is out of range\r\n");
    t.expect("move m1 -1", b"-ERR DB index is out of range\r\n");
    t.expect(
        "move m1 abc",
        b"-ERR value is not an integer or out of range\r\n",
    );
    t.expect(
        "move m1 1.5",
        b"-ERR value is not an integer or out of range\r\n",
    );
    t.expect(
        "move m1 3000000000",
        b"-ERR value is out of range, value must between -2147483648 and 2147483647\r\n",
    );
    t.expect(
        "move m1 -3000000000",
        b"-ERR value is out of range, value must between -2147483648 and 2147483647\r\n",
    );
    t.expect(
        "move m1 99999999999999999999",
        b"-ERR value is not an integer or out of range\r\n",
    );
    t.expect(
        "move nokey 0",
        b"-ERR source and destination objects are the same\r\n",
    );
    t.expect("move nokey 16", b"-ERR DB index is out of range\r\n");
    t.expect(
        "move nokey abc",
        b"-ERR value is not an integer or out of range\r\n",
    );
    t.expect(
        "move m1",
        b"-ERR wrong number of arguments for 'move' command\r\n",
    );
    t.expect("exists m1", b":1\r\n");
}

#[test]
fn object_subcommands() {
    let mut t = T::new();
    t.expect("set s hello", b"+OK\r\n");
    t.expect("object encoding s", b"$6\r\nembstr\r\n");
    t.expect("object encoding nokey", b"$-1\r\n");
    t.expect("object refcount nokey", b"$-1\r\n");
    t.expect("object idletime nokey", b"$-1\r\n");
    t.expect("object freq nokey", b"$-1\r\n");
    t.expect("object freq s", b"-ERR An LFU maxmemory policy is not selected, access frequency not tracked. Please note that when switching between policies at runtime LRU and LFU data will take some time to adjust.\r\n");
    t.expect("object refcount s", b":1\r\n");
    t.expect("set i 9999", b"+OK\r\n");
    t.expect("object refcount i", b":2147483647\r\n");
    t.expect("set i 10000", b"+OK\r\n");
    t.expect("object refcount i", b":1\r\n");
    t.expect("set i 0", b"+OK\r\n");
    t.expect("object refcount i", b":2147483647\r\n");
    t.expect("set i -1", b"+OK\r\n");
    t.expect("object refcount i", b":1\r\n");
    t.expect("set i 42", b"+OK\r\n");
    t.expect("incr i", b":43\r\n");
    t.expect("object refcount i", b":2147483647\r\n");
    t.expect("object idletime s", b":0\r\n");
}

#[test]
fn object_errors_and_help() {
    let mut t = T::new();
    t.expect("set s v", b"+OK\r\n");
    t.expect("object help", b"*15\r\n+OBJECT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:\r\n+ENCODING <key>\r\n+    Return the kind of internal representation used in order to store the value\r\n+    associated with a <key>.\r\n+FREQ <key>\r\n+    Return the access frequency index of the <key>. The returned integer is\r\n+    proportional to the logarithm of the recent access frequency of the key.\r\n+IDLETIME <key>\r\n+    Return the idle time of the <key>, that is the approximated number of\r\n+    seconds elapsed since the last access to the key.\r\n+REFCOUNT <key>\r\n+    Return the number of references of the value associated with the specified\r\n+    <key>.\r\n+HELP\r\n+    Prints this help.\r\n");
    t.expect("object HELP", b"*15\r\n+OBJECT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:\r\n+ENCODING <key>\r\n+    Return the kind of internal representation used in order to store the value\r\n+    associated with a <key>.\r\n+FREQ <key>\r\n+    Return the access frequency index of the <key>. The returned integer is\r\n+    proportional to the logarithm of the recent access frequency of the key.\r\n+IDLETIME <key>\r\n+    Return the idle time of the <key>, that is the approximated number of\r\n+    seconds elapsed since the last access to the key.\r\n+REFCOUNT <key>\r\n+    Return the number of references of the value associated with the specified\r\n+    <key>.\r\n+HELP\r\n+    Prints this help.\r\n");
    t.expect(
        "object help extra",
        b"-ERR wrong number of arguments for 'object|help' command\r\n",
    );
    t.expect(
        "object HELP extra",
        b"-ERR wrong number of arguments for 'object|help' command\r\n",
    );
    t.expect(
        "object foo",
        b"-ERR unknown subcommand 'foo'. Try OBJECT HELP.\r\n",
    );
    t.expect(
        "object foo s",
        b"-ERR unknown subcommand 'foo'. Try OBJECT HELP.\r\n",
    );
    t.expect(
        "object encoding",
        b"-ERR wrong number of arguments for 'object|encoding' command\r\n",
    );
    t.expect(
        "object encoding s extra",
        b"-ERR wrong number of arguments for 'object|encoding' command\r\n",
    );
    t.expect(
        "object refcount",
        b"-ERR wrong number of arguments for 'object|refcount' command\r\n",
    );
    t.expect(
        "object idletime s extra",
        b"-ERR wrong number of arguments for 'object|idletime' command\r\n",
    );
    t.expect(
        "object",
        b"-ERR wrong number of arguments for 'object' command\r\n",
    );
    t.expect(
        "object refcount foo bar",
        b"-ERR wrong number of arguments for 'object|refcount' command\r\n",
    );
    t.proto = Proto::Resp3;
    t.expect("object help", b"*15\r\n+OBJECT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:\r\n+ENCODING <key>\r\n+    Return the kind of internal representation used in order to store the value\r\n+    associated with a <key>.\r\n+FREQ <key>\r\n+    Return the access frequency index of the <key>. The returned integer is\r\n+    proportional to the logarithm of the recent access frequency of the key.\r\n+IDLETIME <key>\r\n+    Return the idle time of the <key>, that is the approximated number of\r\n+    seconds elapsed since the last access to the key.\r\n+REFCOUNT <key>\r\n+    Return the number of references of the value associated with the specified\r\n+    <key>.\r\n+HELP\r\n+    Prints this help.\r\n");
    t.expect("object encoding nokey", b"_\r\n");
}

#[test]
fn arity_errors() {
    let mut t = T::new();
    t.expect(
        "del",
        b"-ERR wrong number of arguments for 'del' command\r\n",
    );
    t.expect(
        "unlink",
        b"-ERR wrong number of arguments for 'unlink' command\r\n",
    );
    t.expect(
        "exists",
        b"-ERR wrong number of arguments for 'exists' command\r\n",
    );
    t.expect(
        "touch",
        b"-ERR wrong number of arguments for 'touch' command\r\n",
    );
    t.expect(
        "type",
        b"-ERR wrong number of arguments for 'type' command\r\n",
    );
    t.expect(
        "expire k",
        b"-ERR wrong number of arguments for 'expire' command\r\n",
    );
    t.expect(
        "pexpire k",
        b"-ERR wrong number of arguments for 'pexpire' command\r\n",
    );
    t.expect(
        "expireat k",
        b"-ERR wrong number of arguments for 'expireat' command\r\n",
    );
    t.expect(
        "pexpireat k",
        b"-ERR wrong number of arguments for 'pexpireat' command\r\n",
    );
    t.expect(
        "ttl",
        b"-ERR wrong number of arguments for 'ttl' command\r\n",
    );
    t.expect(
        "pttl",
        b"-ERR wrong number of arguments for 'pttl' command\r\n",
    );
    t.expect(
        "expiretime",
        b"-ERR wrong number of arguments for 'expiretime' command\r\n",
    );
    t.expect(
        "pexpiretime",
        b"-ERR wrong number of arguments for 'pexpiretime' command\r\n",
    );
    t.expect(
        "persist",
        b"-ERR wrong number of arguments for 'persist' command\r\n",
    );
    t.expect(
        "rename k",
        b"-ERR wrong number of arguments for 'rename' command\r\n",
    );
    t.expect(
        "renamenx k",
        b"-ERR wrong number of arguments for 'renamenx' command\r\n",
    );
    t.expect(
        "copy k",
        b"-ERR wrong number of arguments for 'copy' command\r\n",
    );
    t.expect(
        "move k",
        b"-ERR wrong number of arguments for 'move' command\r\n",
    );
    t.expect(
        "object",
        b"-ERR wrong number of arguments for 'object' command\r\n",
    );
}

#[test]
fn resp3_replies() {
    let mut t = T::new();
    t.proto = Proto::Resp3;
    t.expect("set k v", b"+OK\r\n");
    t.expect("type k", b"+string\r\n");
    t.expect("type nokey", b"+none\r\n");
    t.expect("object encoding nokey", b"_\r\n");
    t.expect("object freq k", b"-ERR An LFU maxmemory policy is not selected, access frequency not tracked. Please note that when switching between policies at runtime LRU and LFU data will take some time to adjust.\r\n");
    t.expect("ttl nokey", b":-2\r\n");
    t.expect("exists k", b":1\r\n");
    t.expect("del k", b":1\r\n");
}

/// INFO's keyspace_hits/misses after each command, as a real Redis 7.0.15 counted them:
/// read lookups count, write lookups (INCR, APPEND, RENAME, MOVE, PERSIST) do not.
#[test]
fn keyspace_hits_and_misses_per_command() {
    let mut t = T::new();
    t.expect("set k 1", b"+OK\r\n");
    let steps: &[(&str, u64, u64)] = &[
        ("exists k nokey", 1, 1),
        ("ttl k", 2, 1),
        ("type nokey", 2, 2),
        ("object encoding k", 3, 2),
        ("object encoding nokey", 3, 3),
        ("touch k nokey", 4, 4),
        ("copy k k2", 5, 4),
        ("copy nokey k3", 5, 5),
        ("getdel k2", 6, 5),
        ("lcs k nokey", 7, 6),
        ("strlen k", 8, 6),
        ("getrange k 0 1", 9, 6),
        ("getex k", 10, 6),
        ("set k 2 get", 11, 6),
        ("incr k", 11, 6),
        ("append k 1", 11, 6),
        ("rename k kk", 11, 6),
        ("move kk 1", 11, 6),
        ("persist kk", 11, 6),
    ];
    for &(cmd, hits, misses) in steps {
        t.cmd(cmd);
        assert_eq!(
            (t.s.stats.keyspace_hits, t.s.stats.keyspace_misses),
            (hits, misses),
            "after `{cmd}`"
        );
    }
}

#[test]
fn memory_usage_reports_nil_for_missing_keys() {
    let mut t = T::new();
    let spec = &engine::table::MEMORY_USAGE;
    let h = spec.handler().unwrap();
    let run = |t: &mut T, argv: &[&[u8]]| {
        let owned = engine::args::OwnedArgs::from_words(argv);
        let mut out = Vec::new();
        t.s.execute(spec, h, 0, owned.args(), &mut out, Proto::Resp2);
        out
    };
    assert_eq!(run(&mut t, &[b"MEMORY", b"USAGE", b"nokey"]), b"$-1\r\n");
    t.expect("set k v", b"+OK\r\n");
    let r = run(&mut t, &[b"MEMORY", b"USAGE", b"k"]);
    assert!(r.starts_with(b":"), "{}", show(&r));
    assert_eq!(
        run(&mut t, &[b"MEMORY", b"USAGE", b"k", b"SAMPLES", b"abc"]),
        b"-ERR value is not an integer or out of range\r\n"
    );
    assert_eq!(
        run(&mut t, &[b"MEMORY", b"USAGE", b"k", b"foo"]),
        b"-ERR syntax error\r\n"
    );
    assert_eq!(
        run(&mut t, &[b"MEMORY", b"USAGE", b"k", b"SAMPLES"]),
        b"-ERR syntax error\r\n"
    );
    assert_eq!(
        run(&mut t, &[b"MEMORY", b"USAGE", b"k", b"SAMPLES", b"-1"]),
        b"-ERR syntax error\r\n"
    );
    assert_eq!(
        run(&mut t, &[b"MEMORY", b"USAGE", b"nokey", b"SAMPLES", b"-1"]),
        b"-ERR syntax error\r\n"
    );
    let r = run(&mut t, &[b"MEMORY", b"USAGE", b"k", b"SAMPLES", b"0"]);
    assert!(r.starts_with(b":"), "{}", show(&r));
}

/// Cluster mode keeps database 0 per hash slot: commands, SCAN, RANDOMKEY, the expiry cycle
/// and FLUSHDB work as before, and a slot's keys are counted and listed directly.
#[test]
fn per_slot_keyspace_in_cluster_mode() {
    let mut t = T::new();
    assert!(t.s.set_cluster());
    for i in 0..300 {
        t.cmd(&format!("SET k{i} v"));
    }
    for i in 0..50 {
        t.cmd(&format!("SET {{tag}}{i} v"));
    }
    assert_eq!(t.s.dbsize(0), 350);
    let slot = engine::slot::key_slot(b"tag");
    assert_eq!(t.s.count_keys_in_slot(slot), 50);
    assert_eq!(t.s.keys_in_slot(slot, 10).len(), 10);
    let mut listed = t.s.keys_in_slot(slot, 100);
    listed.sort();
    assert_eq!(listed.len(), 50);
    assert!(listed.iter().all(|k| k.starts_with(b"{tag}")));
    // SCAN sees every key once.
    let mut seen = std::collections::HashSet::new();
    let mut cursor = 0;
    loop {
        let (next, keys) = t.s.scan(0, cursor, 7, None, None);
        for k in keys {
            assert!(seen.insert(k.clone()), "{k:?} twice");
        }
        cursor = next;
        if cursor == 0 {
            break;
        }
    }
    assert_eq!(seen.len(), 350);
    assert!(t.s.random_key(0).is_some());
    // Expiry: the active cycle finds volatile keys across slots.
    for i in 0..100 {
        t.cmd(&format!("PEXPIRE k{i} 10"));
    }
    t.advance(20);
    while t.s.active_expire(std::time::Duration::from_millis(50)) {}
    assert_eq!(t.s.dbsize(0), 250);
    t.s.flush(Some(0));
    assert_eq!(t.s.dbsize(0), 0);
    assert_eq!(t.s.count_keys_in_slot(slot), 0);
    t.cmd("SET {tag}x v");
    assert_eq!(
        t.s.count_keys_in_slot(slot),
        1,
        "still per slot after FLUSHDB"
    );
}
