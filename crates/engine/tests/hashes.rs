//! Hash commands against Redis 7.0.15's exact replies (captured from a real
//! redis-server). Each `expect` line is a command and the bytes Redis answered.

mod common;

use common::*;
use resp::Proto;

#[test]
fn set_get_and_listpack_order() {
    let mut t = T::new();
    t.expect("hset h b 1 a 2 c 3", b":3\r\n");
    t.expect("hset h a 20 d 4", b":1\r\n");
    t.expect("hgetall h", b"*8\r\n$1\r\nb\r\n$1\r\n1\r\n$1\r\na\r\n$2\r\n20\r\n$1\r\nc\r\n$1\r\n3\r\n$1\r\nd\r\n$1\r\n4\r\n");
    t.expect(
        "hkeys h",
        b"*4\r\n$1\r\nb\r\n$1\r\na\r\n$1\r\nc\r\n$1\r\nd\r\n",
    );
    t.expect(
        "hvals h",
        b"*4\r\n$1\r\n1\r\n$2\r\n20\r\n$1\r\n3\r\n$1\r\n4\r\n",
    );
    t.expect("hlen h", b":4\r\n");
    t.expect("hget h a", b"$2\r\n20\r\n");
    t.expect("hget h zz", b"$-1\r\n");
    t.expect("hmget h a zz b", b"*3\r\n$2\r\n20\r\n$-1\r\n$1\r\n1\r\n");
    t.expect("hexists h a", b":1\r\n");
    t.expect("hexists h zz", b":0\r\n");
    t.expect("hstrlen h a", b":2\r\n");
    t.expect("hstrlen nosuch a", b":0\r\n");
    t.expect("hsetnx h a 9", b":0\r\n");
    t.expect("hsetnx h e 5", b":1\r\n");
    t.expect(
        "hmset h x 1 y",
        b"-ERR wrong number of arguments for 'hmset' command\r\n",
    );
    t.expect("hmset h x 1", b"+OK\r\n");
    t.expect(
        "hset h f",
        b"-ERR wrong number of arguments for 'hset' command\r\n",
    );
    t.expect("object encoding h", b"$8\r\nlistpack\r\n");
    t.expect("type h", b"+hash\r\n");
    t.expect("hdel h a b zz", b":2\r\n");
    t.expect("hgetall h", b"*8\r\n$1\r\nc\r\n$1\r\n3\r\n$1\r\nd\r\n$1\r\n4\r\n$1\r\ne\r\n$1\r\n5\r\n$1\r\nx\r\n$1\r\n1\r\n");
    t.expect("hdel h c d e x", b":4\r\n");
    t.expect("exists h", b":0\r\n");
    t.expect("hgetall nosuch", b"*0\r\n");
    t.expect("set s v", b"+OK\r\n");
    t.expect(
        "hget s a",
        b"-WRONGTYPE Operation against a key holding the wrong kind of value\r\n",
    );
    t.expect(
        "hset s a 1",
        b"-WRONGTYPE Operation against a key holding the wrong kind of value\r\n",
    );
}

#[test]
fn incr_and_float() {
    let mut t = T::new();
    t.expect("hincrby h n 5", b":5\r\n");
    t.expect("hincrby h n -10", b":-5\r\n");
    t.expect(
        "hincrby h n x",
        b"-ERR value is not an integer or out of range\r\n",
    );
    t.expect("hset h s abc", b":1\r\n");
    t.expect("hincrby h s 1", b"-ERR hash value is not an integer\r\n");
    t.expect("hset h big 9223372036854775807", b":1\r\n");
    t.expect(
        "hincrby h big 1",
        b"-ERR increment or decrement would overflow\r\n",
    );
    t.expect("hincrbyfloat h fl 1.5", b"$3\r\n1.5\r\n");
    t.expect("hincrbyfloat h fl 0.1", b"$3\r\n1.6\r\n");
    t.expect("hincrbyfloat h s 1", b"-ERR hash value is not a float\r\n");
    t.expect(
        "hincrbyfloat h fl abc",
        b"-ERR value is not a valid float\r\n",
    );
    t.expect(
        "hincrbyfloat h fl inf",
        b"-ERR value is NaN or Infinity\r\n",
    );
    t.expect("hincrbyfloat h n 2.5", b"$4\r\n-2.5\r\n");
    t.expect("hgetall h", b"*8\r\n$1\r\nn\r\n$4\r\n-2.5\r\n$1\r\ns\r\n$3\r\nabc\r\n$3\r\nbig\r\n$19\r\n9223372036854775807\r\n$2\r\nfl\r\n$3\r\n1.6\r\n");
}

#[test]
fn conversion_to_hashtable() {
    let mut t = T::new();
    t.expect("hset h a 1", b":1\r\n");
    t.expect("object encoding h", b"$8\r\nlistpack\r\n");
    t.expect(
        "hset h b xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
        b":1\r\n",
    );
    t.expect("object encoding h", b"$9\r\nhashtable\r\n");
    t.expect("hlen h", b":2\r\n");
    t.expect("hdel h b", b":1\r\n");
    t.expect("object encoding h", b"$9\r\nhashtable\r\n");
}

#[test]
fn past_128_fields_becomes_hashtable() {
    let mut t = T::new();
    for i in 0..128 {
        t.expect(&format!("hset h f{i} v"), b":1\r\n");
    }
    t.expect("object encoding h", b"$8\r\nlistpack\r\n");
    t.expect("hset h f128 v", b":1\r\n");
    t.expect("object encoding h", b"$9\r\nhashtable\r\n");
    t.expect("hlen h", b":129\r\n");
    t.expect("hget h f77", b"$1\r\nv\r\n");
}

#[test]
fn hrandfield_and_hscan() {
    let mut t = T::new();
    t.expect("set s x", b"+OK\r\n");
    t.expect("hset h a 1 b 2 c 3", b":3\r\n");
    t.expect("hrandfield nosuch", b"$-1\r\n");
    t.expect("hrandfield nosuch 3", b"*0\r\n");
    t.expect("hrandfield h 0", b"*0\r\n");
    t.expect(
        "hrandfield h 10",
        b"*3\r\n$1\r\na\r\n$1\r\nb\r\n$1\r\nc\r\n",
    );
    t.expect(
        "hrandfield h 10 withvalues",
        b"*6\r\n$1\r\na\r\n$1\r\n1\r\n$1\r\nb\r\n$1\r\n2\r\n$1\r\nc\r\n$1\r\n3\r\n",
    );
    t.expect(
        "hrandfield h x",
        b"-ERR value is not an integer or out of range\r\n",
    );
    t.expect("hrandfield h 1 foo", b"-ERR syntax error\r\n");
    t.expect("hrandfield h 1 withvalues foo", b"-ERR syntax error\r\n");
    t.expect("hrandfield h -9223372036854775808", b"-ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807\r\n");
    t.expect(
        "hrandfield h 5000000000000000000 withvalues",
        b"-ERR value is out of range\r\n",
    );
    t.expect(
        "hrandfield s",
        b"-WRONGTYPE Operation against a key holding the wrong kind of value\r\n",
    );
    t.expect(
        "hrandfield s 1",
        b"-WRONGTYPE Operation against a key holding the wrong kind of value\r\n",
    );
    t.expect("hscan h 0", b"*2\r\n$1\r\n0\r\n*6\r\n$1\r\na\r\n$1\r\n1\r\n$1\r\nb\r\n$1\r\n2\r\n$1\r\nc\r\n$1\r\n3\r\n");
    t.expect(
        "hscan h 0 match a*",
        b"*2\r\n$1\r\n0\r\n*2\r\n$1\r\na\r\n$1\r\n1\r\n",
    );
    t.expect("hscan nosuch 0", b"*2\r\n$1\r\n0\r\n*0\r\n");
    t.expect("hscan h x", b"-ERR invalid cursor\r\n");
    t.expect(
        "hscan s 0",
        b"-WRONGTYPE Operation against a key holding the wrong kind of value\r\n",
    );
    t.expect("hscan h 0 count 0", b"-ERR syntax error\r\n");
    t.expect("hset one f v", b":1\r\n");
    t.expect("hrandfield one", b"$1\r\nf\r\n");
    t.expect(
        "hrandfield one -3",
        b"*3\r\n$1\r\nf\r\n$1\r\nf\r\n$1\r\nf\r\n",
    );
    t.expect(
        "hrandfield one -2 withvalues",
        b"*4\r\n$1\r\nf\r\n$1\r\nv\r\n$1\r\nf\r\n$1\r\nv\r\n",
    );
}

#[test]
fn resp3_lmpop_hrandfield() {
    let mut t = T::new();
    t.proto = Proto::Resp3;
    t.expect("rpush l a b", b":2\r\n");
    t.expect(
        "lmpop 1 l left count 5",
        b"*2\r\n$1\r\nl\r\n*2\r\n$1\r\na\r\n$1\r\nb\r\n",
    );
    t.expect("lmpop 1 l left", b"_\r\n");
    t.expect("hset h a 1 b 2", b":2\r\n");
    t.expect(
        "hrandfield h 5 withvalues",
        b"*2\r\n*2\r\n$1\r\na\r\n$1\r\n1\r\n*2\r\n$1\r\nb\r\n$1\r\n2\r\n",
    );
    t.expect("hrandfield h 5", b"*2\r\n$1\r\na\r\n$1\r\nb\r\n");
    t.expect("hrandfield nosuch", b"_\r\n");
    t.expect("hrandfield nosuch 1 withvalues", b"*0\r\n");
}
