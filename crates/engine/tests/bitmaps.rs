//! Bitmap commands against Redis 7.0.15's exact replies (captured from a real redis-server).

mod common;

use common::*;

#[test]
fn setbit_getbit_grow_and_errors() {
    let mut t = T::new();
    t.expect("setbit k 7 1", b":0\r\n");
    t.expect("setbit k 7 1", b":1\r\n");
    t.expect("setbit k 100 1", b":0\r\n");
    t.expect(
        "get k",
        b"$13\r\n\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x08\r\n",
    );
    t.expect("getbit k 7", b":1\r\n");
    t.expect("getbit k 100", b":1\r\n");
    t.expect("getbit k 10000", b":0\r\n");
    t.expect("getbit nokey 0", b":0\r\n");
    t.expect(
        "setbit k -1 1",
        b"-ERR bit offset is not an integer or out of range\r\n",
    );
    t.expect(
        "setbit k 4294967296 1",
        b"-ERR bit offset is not an integer or out of range\r\n",
    );
    t.expect(
        "setbit k x 1",
        b"-ERR bit offset is not an integer or out of range\r\n",
    );
    t.expect(
        "setbit k 1 2",
        b"-ERR bit is not an integer or out of range\r\n",
    );
    t.expect(
        "setbit k 1 -1",
        b"-ERR bit is not an integer or out of range\r\n",
    );
    t.expect("set n 12345", b"+OK\r\n");
    t.expect("getbit n 2", b":1\r\n");
    t.expect("setbit n 0 1", b":0\r\n");
    t.expect("get n", b"$5\r\n\xb12345\r\n");
    t.expect("lpush l a", b":1\r\n");
    t.expect(
        "setbit l 0 1",
        b"-WRONGTYPE Operation against a key holding the wrong kind of value\r\n",
    );
    t.expect(
        "getbit l 0",
        b"-WRONGTYPE Operation against a key holding the wrong kind of value\r\n",
    );
}

#[test]
fn bitcount_ranges() {
    let mut t = T::new();
    t.expect("set s foobar", b"+OK\r\n");
    t.expect("bitcount s", b":26\r\n");
    t.expect("bitcount s 0 0", b":4\r\n");
    t.expect("bitcount s 1 1", b":6\r\n");
    t.expect("bitcount s 1 1 byte", b":6\r\n");
    t.expect("bitcount s 5 30 bit", b":17\r\n");
    t.expect("bitcount s -5 -1 bit", b":2\r\n");
    t.expect("bitcount s -1 -5", b":0\r\n");
    t.expect("bitcount s 0", b"-ERR syntax error\r\n");
    t.expect("bitcount s 0 1 nope", b"-ERR syntax error\r\n");
    t.expect("bitcount nokey", b":0\r\n");
    t.expect("bitcount s 0 100 BIT", b":26\r\n");
}

#[test]
fn bitpos_ranges() {
    let mut t = T::new();
    assert_eq!(
        show(&t.argv(&[&b"set"[..], &b"s"[..], &b"\xff\xf0\x00"[..]])),
        show(b"+OK\r\n")
    );
    t.expect("bitpos s 0", b":12\r\n");
    t.expect("bitpos s 1 2", b":-1\r\n");
    t.expect("bitpos s 1 2 -1 byte", b":-1\r\n");
    t.expect("bitpos s 0 7 15 bit", b":12\r\n");
    t.expect("bitpos s 1 7 -3 bit", b":7\r\n");
    assert_eq!(
        show(&t.argv(&[&b"set"[..], &b"ones"[..], &b"\xff\xff"[..]])),
        show(b"+OK\r\n")
    );
    t.expect("bitpos ones 0", b":16\r\n");
    t.expect("bitpos ones 0 0 -1", b":-1\r\n");
    t.expect("bitpos ones 0 0", b":16\r\n");
    t.expect("bitpos nokey 0", b":0\r\n");
    t.expect("bitpos nokey 1", b":-1\r\n");
    t.expect("bitpos s 2", b"-ERR The bit argument must be 1 or 0.\r\n");
    t.expect("bitpos s 1 0 0 0", b"-ERR syntax error\r\n");
}

#[test]
fn bitop_all_ops() {
    let mut t = T::new();
    t.expect("set a abc", b"+OK\r\n");
    assert_eq!(
        show(&t.argv(&[&b"set"[..], &b"b"[..], &b"\x01\x02"[..]])),
        show(b"+OK\r\n")
    );
    t.expect("bitop and d a b", b":3\r\n");
    t.expect("get d", b"$3\r\n\x01\x02\x00\r\n");
    t.expect("bitop or d a b", b":3\r\n");
    t.expect("get d", b"$3\r\nabc\r\n");
    t.expect("bitop xor d a b a", b":3\r\n");
    t.expect("get d", b"$3\r\n\x01\x02\x00\r\n");
    t.expect("bitop not d a", b":3\r\n");
    t.expect("get d", b"$3\r\n\x9e\x9d\x9c\r\n");
    t.expect(
        "bitop not d a b",
        b"-ERR BITOP NOT must be called with a single source key.\r\n",
    );
    t.expect("bitop nand d a", b"-ERR syntax error\r\n");
    t.expect("bitop and d x y", b":0\r\n");
    t.expect("exists d", b":0\r\n");
    t.expect("lpush l x", b":1\r\n");
    t.expect(
        "bitop or d a l",
        b"-WRONGTYPE Operation against a key holding the wrong kind of value\r\n",
    );
}

#[test]
fn bitfield_ops_and_overflow() {
    let mut t = T::new();
    t.expect(
        "bitfield f set u8 0 255 get u8 0 incrby u8 0 10 get i8 0",
        b"*4\r\n:0\r\n:255\r\n:9\r\n:9\r\n",
    );
    t.expect("bitfield f overflow sat incrby u8 0 300 incrby i8 8 -200 overflow fail incrby u8 0 1 set i4 #3 100", b"*4\r\n:255\r\n:-128\r\n$-1\r\n$-1\r\n");
    t.expect(
        "bitfield f get u63 0 get i64 0",
        b"*2\r\n:9205357638345293824\r\n:-36028797018963968\r\n",
    );
    t.expect("bitfield f get u64 0", b"-ERR Invalid bitfield type. Use something like i16 u8. Note that u64 is not supported but i64 is.\r\n");
    t.expect("bitfield f get i65 0", b"-ERR Invalid bitfield type. Use something like i16 u8. Note that u64 is not supported but i64 is.\r\n");
    t.expect(
        "bitfield f overflow nope",
        b"-ERR Invalid OVERFLOW type specified\r\n",
    );
    t.expect("bitfield f bogus", b"-ERR syntax error\r\n");
    t.expect("bitfield f get u8", b"-ERR syntax error\r\n");
    t.expect(
        "bitfield f set i64 0 -1 incrby i64 0 -9223372036854775807",
        b"*2\r\n:-36028797018963968\r\n:-9223372036854775808\r\n",
    );
    t.expect(
        "bitfield f incrby i64 0 -9223372036854775807",
        b"*1\r\n:1\r\n",
    );
    t.expect("bitfield_ro f get u8 0 get i4 #1", b"*2\r\n:0\r\n:0\r\n");
    t.expect(
        "bitfield_ro f set u8 0 1",
        b"-ERR BITFIELD_RO only supports the GET subcommand\r\n",
    );
    t.expect("bitfield_ro nokey get i16 100", b"*1\r\n:0\r\n");
    t.expect("bitfield g overflow fail set u2 0 9", b"*1\r\n$-1\r\n");
    t.expect("exists g", b":1\r\n");
    t.expect("bitfield f", b"*0\r\n");
    t.expect("get f", b"$8\r\n\x00\x00\x00\x00\x00\x00\x00\x01\r\n");
}
