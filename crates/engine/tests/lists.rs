//! List commands against Redis 7.0.15's exact replies (captured from a real
//! redis-server). Each `expect` line is a command and the bytes Redis answered.

mod common;

use common::*;

#[test]
fn push_pop_and_empty_lists_vanish() {
    let mut t = T::new();
    t.expect("rpush l a b c", b":3\r\n");
    t.expect("lpush l z", b":4\r\n");
    t.expect(
        "lrange l 0 -1",
        b"*4\r\n$1\r\nz\r\n$1\r\na\r\n$1\r\nb\r\n$1\r\nc\r\n",
    );
    t.expect("llen l", b":4\r\n");
    t.expect("lpop l", b"$1\r\nz\r\n");
    t.expect("rpop l", b"$1\r\nc\r\n");
    t.expect("lpop l 5", b"*2\r\n$1\r\na\r\n$1\r\nb\r\n");
    t.expect("exists l", b":0\r\n");
    t.expect("lpop l", b"$-1\r\n");
    t.expect("lpop l 2", b"*-1\r\n");
    t.expect("rpushx l x", b":0\r\n");
    t.expect("lpushx l x", b":0\r\n");
    t.expect("exists l", b":0\r\n");
    t.expect(
        "lpush l",
        b"-ERR wrong number of arguments for 'lpush' command\r\n",
    );
    t.expect("set s v", b"+OK\r\n");
    t.expect(
        "lpush s x",
        b"-WRONGTYPE Operation against a key holding the wrong kind of value\r\n",
    );
    t.expect(
        "llen s",
        b"-WRONGTYPE Operation against a key holding the wrong kind of value\r\n",
    );
    t.expect("get l", b"$-1\r\n");
    t.expect("rpush l 1 2 3", b":3\r\n");
    t.expect(
        "get l",
        b"-WRONGTYPE Operation against a key holding the wrong kind of value\r\n",
    );
    t.expect("type l", b"+list\r\n");
    t.expect("object encoding l", b"$9\r\nquicklist\r\n");
    t.expect("lpop l 0", b"*0\r\n");
    t.expect(
        "lpop l -1",
        b"-ERR value is out of range, must be positive\r\n",
    );
    t.expect(
        "lpop l abc",
        b"-ERR value is out of range, must be positive\r\n",
    );
    t.expect(
        "lpop l 1 2",
        b"-ERR wrong number of arguments for 'lpop' command\r\n",
    );
}

#[test]
fn ranges_and_indexes() {
    let mut t = T::new();
    t.expect("rpush l a b c d e", b":5\r\n");
    t.expect("lrange l 1 3", b"*3\r\n$1\r\nb\r\n$1\r\nc\r\n$1\r\nd\r\n");
    t.expect("lrange l -2 -1", b"*2\r\n$1\r\nd\r\n$1\r\ne\r\n");
    t.expect(
        "lrange l -100 100",
        b"*5\r\n$1\r\na\r\n$1\r\nb\r\n$1\r\nc\r\n$1\r\nd\r\n$1\r\ne\r\n",
    );
    t.expect("lrange l 3 1", b"*0\r\n");
    t.expect("lrange l 5 10", b"*0\r\n");
    t.expect(
        "lrange l x 1",
        b"-ERR value is not an integer or out of range\r\n",
    );
    t.expect("lindex l 0", b"$1\r\na\r\n");
    t.expect("lindex l -1", b"$1\r\ne\r\n");
    t.expect("lindex l 5", b"$-1\r\n");
    t.expect(
        "lindex l x",
        b"-ERR value is not an integer or out of range\r\n",
    );
    t.expect("lindex nosuch x", b"$-1\r\n");
    t.expect("lset l 1 B", b"+OK\r\n");
    t.expect("lset l -1 E", b"+OK\r\n");
    t.expect("lset l 9 x", b"-ERR index out of range\r\n");
    t.expect("lset nosuch 0 x", b"-ERR no such key\r\n");
    t.expect("lset nosuch x x", b"-ERR no such key\r\n");
    t.expect(
        "lset l x x",
        b"-ERR value is not an integer or out of range\r\n",
    );
    t.expect(
        "lrange l 0 -1",
        b"*5\r\n$1\r\na\r\n$1\r\nB\r\n$1\r\nc\r\n$1\r\nd\r\n$1\r\nE\r\n",
    );
}

#[test]
fn insert_remove_trim() {
    let mut t = T::new();
    t.expect("rpush l a b a c a", b":5\r\n");
    t.expect("linsert l before b x", b":6\r\n");
    t.expect("linsert l after a y", b":7\r\n");
    t.expect("linsert l middle a y", b"-ERR syntax error\r\n");
    t.expect("linsert l before zz q", b":-1\r\n");
    t.expect("linsert nosuch before a b", b":0\r\n");
    t.expect("lrem l 2 a", b":2\r\n");
    t.expect(
        "lrange l 0 -1",
        b"*5\r\n$1\r\ny\r\n$1\r\nx\r\n$1\r\nb\r\n$1\r\nc\r\n$1\r\na\r\n",
    );
    t.expect("lrem l -1 a", b":1\r\n");
    t.expect("lrem l 0 nothing", b":0\r\n");
    t.expect(
        "lrange l 0 -1",
        b"*4\r\n$1\r\ny\r\n$1\r\nx\r\n$1\r\nb\r\n$1\r\nc\r\n",
    );
    t.expect("ltrim l 1 -2", b"+OK\r\n");
    t.expect("lrange l 0 -1", b"*2\r\n$1\r\nx\r\n$1\r\nb\r\n");
    t.expect("ltrim l 5 1", b"+OK\r\n");
    t.expect("exists l", b":0\r\n");
    t.expect("ltrim nosuch 0 1", b"+OK\r\n");
    t.expect(
        "ltrim l x 1",
        b"-ERR value is not an integer or out of range\r\n",
    );
}

#[test]
fn lpos_options() {
    let mut t = T::new();
    t.expect("rpush l a b c a b c a", b":7\r\n");
    t.expect("lpos l a", b":0\r\n");
    t.expect("lpos l a rank 2", b":3\r\n");
    t.expect("lpos l a rank -1", b":6\r\n");
    t.expect("lpos l a rank -2 count 0", b"*2\r\n:3\r\n:0\r\n");
    t.expect("lpos l a count 2", b"*2\r\n:0\r\n:3\r\n");
    t.expect("lpos l a count 0 maxlen 4", b"*2\r\n:0\r\n:3\r\n");
    t.expect("lpos l a rank 0", b"-ERR RANK can't be zero: use 1 to start from the first match, 2 from the second ... or use negative to start from the end of the list\r\n");
    t.expect("lpos l a count -1", b"-ERR COUNT can't be negative\r\n");
    t.expect("lpos l a maxlen -1", b"-ERR MAXLEN can't be negative\r\n");
    t.expect("lpos l a count x", b"-ERR COUNT can't be negative\r\n");
    t.expect(
        "lpos l a rank x",
        b"-ERR value is not an integer or out of range\r\n",
    );
    t.expect("lpos l a foo 1", b"-ERR syntax error\r\n");
    t.expect("lpos l a rank", b"-ERR syntax error\r\n");
    t.expect("lpos l z", b"$-1\r\n");
    t.expect("lpos l z count 3", b"*0\r\n");
    t.expect("lpos nosuch a", b"$-1\r\n");
    t.expect("lpos nosuch a count 1", b"*0\r\n");
    t.expect("lpos l a rank 9", b"$-1\r\n");
}

#[test]
fn lmpop() {
    let mut t = T::new();
    t.expect("rpush l a b c", b":3\r\n");
    t.expect("lmpop 1 l foo", b"-ERR syntax error\r\n");
    t.expect(
        "lmpop 0 l left",
        b"-ERR numkeys should be greater than 0\r\n",
    );
    t.expect("lmpop 2 l left", b"-ERR syntax error\r\n");
    t.expect(
        "lmpop 1 l left count 0",
        b"-ERR count should be greater than 0\r\n",
    );
    t.expect(
        "lmpop 1 l left count x",
        b"-ERR count should be greater than 0\r\n",
    );
    t.expect("lmpop 1 nosuch left", b"*-1\r\n");
    t.expect(
        "lmpop 2 nosuch l right count 2",
        b"*2\r\n$1\r\nl\r\n*2\r\n$1\r\nc\r\n$1\r\nb\r\n",
    );
    t.expect(
        "lmpop 1 l left count 10",
        b"*2\r\n$1\r\nl\r\n*1\r\n$1\r\na\r\n",
    );
    t.expect("exists l", b":0\r\n");
    t.expect("set s x", b"+OK\r\n");
    t.expect(
        "lmpop 2 nosuch s left",
        b"-WRONGTYPE Operation against a key holding the wrong kind of value\r\n",
    );
    t.expect("lmpop 1 l left count 1 count 1", b"-ERR syntax error\r\n");
    t.expect("rpush l2 x", b":1\r\n");
    t.expect(
        "lmpop 3 s l2 nosuch left",
        b"-WRONGTYPE Operation against a key holding the wrong kind of value\r\n",
    );
}
