//! SORT and SORT_RO against Redis 7.0.15's exact replies (captured from a real
//! redis-server). Each `expect` line is a command and the bytes Redis answered.

mod common;

use common::*;
use resp::Proto;

#[test]
fn sort_options_and_patterns() {
    let mut t = T::new();
    t.expect("rpush l 3 1 2 10 -5", b":5\r\n");
    t.expect(
        "sort l",
        b"*5\r\n$2\r\n-5\r\n$1\r\n1\r\n$1\r\n2\r\n$1\r\n3\r\n$2\r\n10\r\n",
    );
    t.expect(
        "sort l desc",
        b"*5\r\n$2\r\n10\r\n$1\r\n3\r\n$1\r\n2\r\n$1\r\n1\r\n$2\r\n-5\r\n",
    );
    t.expect(
        "sort l alpha",
        b"*5\r\n$2\r\n-5\r\n$1\r\n1\r\n$2\r\n10\r\n$1\r\n2\r\n$1\r\n3\r\n",
    );
    t.expect(
        "sort l alpha desc",
        b"*5\r\n$1\r\n3\r\n$1\r\n2\r\n$2\r\n10\r\n$1\r\n1\r\n$2\r\n-5\r\n",
    );
    t.expect("sort l limit 1 2", b"*2\r\n$1\r\n1\r\n$1\r\n2\r\n");
    t.expect("sort l limit -1 2", b"*2\r\n$2\r\n-5\r\n$1\r\n1\r\n");
    t.expect(
        "sort l limit 1 -1",
        b"*4\r\n$1\r\n1\r\n$1\r\n2\r\n$1\r\n3\r\n$2\r\n10\r\n",
    );
    t.expect("sort l limit 10 2", b"*0\r\n");
    t.expect("sort l limit 1", b"-ERR syntax error\r\n");
    t.expect(
        "sort l limit x 1",
        b"-ERR value is not an integer or out of range\r\n",
    );
    t.expect("sort l foo", b"-ERR syntax error\r\n");
    t.expect("sort nosuch", b"*0\r\n");
    t.expect("set str x", b"+OK\r\n");
    t.expect(
        "sort str",
        b"-WRONGTYPE Operation against a key holding the wrong kind of value\r\n",
    );
    t.expect("rpush words b a c", b":3\r\n");
    t.expect(
        "sort words",
        b"-ERR One or more scores can't be converted into double\r\n",
    );
    t.expect(
        "sort words alpha",
        b"*3\r\n$1\r\na\r\n$1\r\nb\r\n$1\r\nc\r\n",
    );
    t.expect("mset w_a 3 w_b 1 w_c 2 o_a A o_b B", b"+OK\r\n");
    t.expect(
        "sort words by w_*",
        b"*3\r\n$1\r\nb\r\n$1\r\nc\r\n$1\r\na\r\n",
    );
    t.expect(
        "sort words by w_* desc",
        b"*3\r\n$1\r\na\r\n$1\r\nc\r\n$1\r\nb\r\n",
    );
    t.expect(
        "sort words by w_* get o_*",
        b"*3\r\n$1\r\nB\r\n$-1\r\n$1\r\nA\r\n",
    );
    t.expect(
        "sort words by w_* get # get o_*",
        b"*6\r\n$1\r\nb\r\n$1\r\nB\r\n$1\r\nc\r\n$-1\r\n$1\r\na\r\n$1\r\nA\r\n",
    );
    t.expect(
        "sort words by w_* get o_* get nosuch_*",
        b"*6\r\n$1\r\nB\r\n$-1\r\n$-1\r\n$-1\r\n$1\r\nA\r\n$-1\r\n",
    );
    t.expect(
        "sort words by nosort",
        b"*3\r\n$1\r\nb\r\n$1\r\na\r\n$1\r\nc\r\n",
    );
    t.expect(
        "sort words by nosort desc",
        b"*3\r\n$1\r\nc\r\n$1\r\na\r\n$1\r\nb\r\n",
    );
    t.expect("sort words by nosort limit 1 1", b"*1\r\n$1\r\na\r\n");
    t.expect(
        "sort words by nosort desc limit 1 5",
        b"*2\r\n$1\r\na\r\n$1\r\nb\r\n",
    );
    t.expect("hset h_a f 30", b":1\r\n");
    t.expect("hset h_b f 10", b":1\r\n");
    t.expect("hset h_c f 20", b":1\r\n");
    t.expect(
        "sort words by h_*->f",
        b"*3\r\n$1\r\nb\r\n$1\r\nc\r\n$1\r\na\r\n",
    );
    t.expect(
        "sort words by h_*->f get h_*->f get #",
        b"*6\r\n$2\r\n10\r\n$1\r\nb\r\n$2\r\n20\r\n$1\r\nc\r\n$2\r\n30\r\n$1\r\na\r\n",
    );
    t.expect(
        "sort words by h_*->",
        b"*3\r\n$1\r\na\r\n$1\r\nb\r\n$1\r\nc\r\n",
    );
    t.expect(
        "sort words by w_* alpha",
        b"*3\r\n$1\r\nb\r\n$1\r\nc\r\n$1\r\na\r\n",
    );
    t.expect("sort words alpha store dst", b":3\r\n");
    t.expect(
        "lrange dst 0 -1",
        b"*3\r\n$1\r\na\r\n$1\r\nb\r\n$1\r\nc\r\n",
    );
    t.expect("sort words by w_* get o_* store dst2", b":3\r\n");
    t.expect(
        "lrange dst2 0 -1",
        b"*3\r\n$1\r\nB\r\n$0\r\n\r\n$1\r\nA\r\n",
    );
    t.expect("sort nosuch store dst", b":0\r\n");
    t.expect("exists dst", b":0\r\n");
    t.expect("sort words store", b"-ERR syntax error\r\n");
    t.expect(
        "sort_ro words alpha",
        b"*3\r\n$1\r\na\r\n$1\r\nb\r\n$1\r\nc\r\n",
    );
    t.expect("sort_ro words alpha store dst", b"-ERR syntax error\r\n");
    t.expect("sadd s 5 3 9", b":3\r\n");
    t.expect("sort s", b"*3\r\n$1\r\n3\r\n$1\r\n5\r\n$1\r\n9\r\n");
    t.expect("sort s desc limit 0 2", b"*2\r\n$1\r\n9\r\n$1\r\n5\r\n");
    t.expect("sort s by nosort store sdst", b":3\r\n");
    t.expect(
        "lrange sdst 0 -1",
        b"*3\r\n$1\r\n3\r\n$1\r\n5\r\n$1\r\n9\r\n",
    );
    t.expect("zadd z 3 c 1 a 2 b", b":3\r\n");
    t.expect("sort z alpha", b"*3\r\n$1\r\na\r\n$1\r\nb\r\n$1\r\nc\r\n");
    t.expect(
        "sort z by nosort",
        b"*3\r\n$1\r\na\r\n$1\r\nb\r\n$1\r\nc\r\n",
    );
    t.expect(
        "sort z by nosort desc",
        b"*3\r\n$1\r\nc\r\n$1\r\nb\r\n$1\r\na\r\n",
    );
    t.expect("sort z by nosort limit 1 1", b"*1\r\n$1\r\nb\r\n");
    t.expect(
        "sort z by nosort desc limit 0 2",
        b"*2\r\n$1\r\nc\r\n$1\r\nb\r\n",
    );
    t.expect("rpush bad 1 x 2", b":3\r\n");
    t.expect(
        "sort bad",
        b"-ERR One or more scores can't be converted into double\r\n",
    );
    t.expect("sort bad alpha", b"*3\r\n$1\r\n1\r\n$1\r\n2\r\n$1\r\nx\r\n");
    t.expect("rpush e \"\" 1 \" 2\" 0x10", b":4\r\n");
    t.expect(
        "sort e",
        b"*4\r\n$0\r\n\r\n$1\r\n1\r\n$2\r\n 2\r\n$4\r\n0x10\r\n",
    );
    t.expect("rpush big 1e400 1", b":2\r\n");
    t.expect(
        "sort big",
        b"-ERR One or more scores can't be converted into double\r\n",
    );
    t.expect(
        "sort words by w_* limit 0 2",
        b"*2\r\n$1\r\nb\r\n$1\r\nc\r\n",
    );
    t.expect("hset hh a 1", b":1\r\n");
    t.expect(
        "sort hh",
        b"-WRONGTYPE Operation against a key holding the wrong kind of value\r\n",
    );
}

#[test]
fn resp3() {
    let mut t = T::new();
    t.proto = Proto::Resp3;
    t.expect("rpush l 2 1", b":2\r\n");
    t.expect("mset o_1 x", b"+OK\r\n");
    t.expect("sort l get o_*", b"*2\r\n$1\r\nx\r\n_\r\n");
    t.expect("sort l", b"*2\r\n$1\r\n1\r\n$1\r\n2\r\n");
}
