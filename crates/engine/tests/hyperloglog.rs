//! HyperLogLog commands (and their string bytes) against Redis 7.0.15's exact replies (captured from a real redis-server).

mod common;

use common::*;

#[test]
fn pfadd_pfcount_and_bytes() {
    let mut t = T::new();
    t.expect("pfadd h a b c", b":1\r\n");
    t.expect("pfadd h a", b":0\r\n");
    t.expect("pfadd h", b":0\r\n");
    t.expect("pfadd new", b":1\r\n");
    t.expect(
        "get new",
        b"$18\r\nHYLL\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x80\x7f\xff\r\n",
    );
    t.expect("pfcount h", b":3\r\n");
    t.expect("get h", b"$27\r\nHYLL\x01\x00\x00\x00\x03\x00\x00\x00\x00\x00\x00\x00`\xf3\x80P\xb1\x84K\xfb\x80BZ\r\n");
    t.expect("pfcount nokey", b":0\r\n");
    t.expect("pfcount h nokey", b":3\r\n");
    t.expect("pfdebug encoding h", b"+sparse\r\n");
    t.expect(
        "pfdebug decode h",
        b"$44\r\nZ:8436 v:1,1 Z:4274 v:2,1 Z:3068 v:1,1 Z:603\r\n",
    );
    t.expect("set s abc", b"+OK\r\n");
    t.expect(
        "pfadd s x",
        b"-WRONGTYPE Key is not a valid HyperLogLog string value.\r\n",
    );
    t.expect(
        "pfcount s",
        b"-WRONGTYPE Key is not a valid HyperLogLog string value.\r\n",
    );
    t.expect("lpush l x", b":1\r\n");
    t.expect(
        "pfadd l x",
        b"-WRONGTYPE Operation against a key holding the wrong kind of value\r\n",
    );
    t.expect(
        "pfcount l",
        b"-WRONGTYPE Operation against a key holding the wrong kind of value\r\n",
    );
}

#[test]
fn pfmerge_and_dense() {
    let mut t = T::new();
    t.expect("pfadd a 1 2 3 4 5", b":1\r\n");
    t.expect("pfadd b 4 5 6 7", b":1\r\n");
    t.expect("pfmerge d a b", b"+OK\r\n");
    t.expect("pfcount d", b":7\r\n");
    t.expect("get d", b"$39\r\nHYLL\x01\x00\x00\x00\x07\x00\x00\x00\x00\x00\x00\x00A\xee\x84H#\x80SQ\x80Mt\x80O\x18\x80B\x12\x8c@\xcf\x84C\x22\r\n");
    t.expect("pfdebug todense a", b":1\r\n");
    t.expect("pfdebug todense a", b":0\r\n");
    t.expect("pfdebug encoding a", b"+dense\r\n");
    t.expect("pfmerge d2 a b", b"+OK\r\n");
    t.expect("pfdebug encoding d2", b"+dense\r\n");
    t.expect("pfcount d2", b":7\r\n");
    t.expect("pfcount a b", b":7\r\n");
    t.expect("pfdebug decode a", b"-ERR HLL encoding is not sparse\r\n");
    t.expect(
        "pfdebug nope a",
        b"-ERR Unknown PFDEBUG subcommand 'nope'\r\n",
    );
    t.expect(
        "pfdebug getreg nokey",
        b"-ERR The specified key does not exist\r\n",
    );
    t.expect("pfselftest", b"+OK\r\n");
}
