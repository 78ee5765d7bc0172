//! Sorted-set commands against Redis 7.0.15's exact replies (captured from a real
//! redis-server). Each `expect` line is a command and the bytes Redis answered.

mod common;

use common::*;
use resp::Proto;

#[test]
fn ranges_scores_and_zadd_flags() {
    let mut t = T::new();
    t.expect("zadd z 1 a 2 b 3 c", b":3\r\n");
    t.expect("zadd z 1.5 x 2 bb -inf ninf +inf pinf", b":4\r\n");
    t.expect("zrange z 0 -1 withscores", b"*14\r\n$4\r\nninf\r\n$4\r\n-inf\r\n$1\r\na\r\n$1\r\n1\r\n$1\r\nx\r\n$3\r\n1.5\r\n$1\r\nb\r\n$1\r\n2\r\n$2\r\nbb\r\n$1\r\n2\r\n$1\r\nc\r\n$1\r\n3\r\n$4\r\npinf\r\n$3\r\ninf\r\n");
    t.expect("zrange z 0 -1", b"*7\r\n$4\r\nninf\r\n$1\r\na\r\n$1\r\nx\r\n$1\r\nb\r\n$2\r\nbb\r\n$1\r\nc\r\n$4\r\npinf\r\n");
    t.expect("zrange z -2 -1", b"*2\r\n$1\r\nc\r\n$4\r\npinf\r\n");
    t.expect("zrange z 5 1", b"*0\r\n");
    t.expect("zrange z 0 100", b"*7\r\n$4\r\nninf\r\n$1\r\na\r\n$1\r\nx\r\n$1\r\nb\r\n$2\r\nbb\r\n$1\r\nc\r\n$4\r\npinf\r\n");
    t.expect(
        "zrevrange z 0 2 withscores",
        b"*6\r\n$4\r\npinf\r\n$3\r\ninf\r\n$1\r\nc\r\n$1\r\n3\r\n$2\r\nbb\r\n$1\r\n2\r\n",
    );
    t.expect(
        "zrange z 1 3 rev",
        b"*3\r\n$1\r\nc\r\n$2\r\nbb\r\n$1\r\nb\r\n",
    );
    t.expect(
        "zrange z 1 +inf byscore",
        b"*6\r\n$1\r\na\r\n$1\r\nx\r\n$1\r\nb\r\n$2\r\nbb\r\n$1\r\nc\r\n$4\r\npinf\r\n",
    );
    t.expect(
        "zrange z (1 2 byscore withscores",
        b"*6\r\n$1\r\nx\r\n$3\r\n1.5\r\n$1\r\nb\r\n$1\r\n2\r\n$2\r\nbb\r\n$1\r\n2\r\n",
    );
    t.expect(
        "zrange z 2 (1 byscore rev withscores",
        b"*6\r\n$2\r\nbb\r\n$1\r\n2\r\n$1\r\nb\r\n$1\r\n2\r\n$1\r\nx\r\n$3\r\n1.5\r\n",
    );
    t.expect(
        "zrange z -inf +inf byscore limit 1 2",
        b"*2\r\n$1\r\na\r\n$1\r\nx\r\n",
    );
    t.expect(
        "zrange z -inf +inf byscore limit 1 -1",
        b"*6\r\n$1\r\na\r\n$1\r\nx\r\n$1\r\nb\r\n$2\r\nbb\r\n$1\r\nc\r\n$4\r\npinf\r\n",
    );
    t.expect("zrange z -inf +inf byscore limit -1 2", b"*0\r\n");
    t.expect("zrange z -inf +inf byscore limit 100 2", b"*0\r\n");
    t.expect("zrange z -inf +inf byscore limit 0 0", b"*0\r\n");
    t.expect(
        "zrangebyscore z 1 2",
        b"*4\r\n$1\r\na\r\n$1\r\nx\r\n$1\r\nb\r\n$2\r\nbb\r\n",
    );
    t.expect(
        "zrangebyscore z 1 2 withscores limit 0 1",
        b"*2\r\n$1\r\na\r\n$1\r\n1\r\n",
    );
    t.expect("zrangebyscore z x 2", b"-ERR min or max is not a float\r\n");
    t.expect("zrangebyscore z 1 2 rev", b"-ERR syntax error\r\n");
    t.expect(
        "zrevrangebyscore z 2 1",
        b"*4\r\n$2\r\nbb\r\n$1\r\nb\r\n$1\r\nx\r\n$1\r\na\r\n",
    );
    t.expect(
        "zrevrangebyscore z +inf -inf withscores limit 1 3",
        b"*6\r\n$1\r\nc\r\n$1\r\n3\r\n$2\r\nbb\r\n$1\r\n2\r\n$1\r\nb\r\n$1\r\n2\r\n",
    );
    t.expect("zrank z a", b":1\r\n");
    t.expect("zrank z nosuch", b"$-1\r\n");
    t.expect("zrevrank z a", b":5\r\n");
    t.expect("zrank nosuch a", b"$-1\r\n");
    t.expect("zscore z a", b"$1\r\n1\r\n");
    t.expect("zscore z nosuch", b"$-1\r\n");
    t.expect("zscore z ninf", b"$4\r\n-inf\r\n");
    t.expect(
        "zmscore z a nosuch pinf",
        b"*3\r\n$1\r\n1\r\n$-1\r\n$3\r\ninf\r\n",
    );
    t.expect("zmscore nosuch a", b"*1\r\n$-1\r\n");
    t.expect("zcount z 1 2", b":4\r\n");
    t.expect("zcount z (1 (2", b":1\r\n");
    t.expect("zcount z -inf +inf", b":7\r\n");
    t.expect("zcount z 5 1", b":0\r\n");
    t.expect("zcount z x 1", b"-ERR min or max is not a float\r\n");
    t.expect("zcard z", b":7\r\n");
    t.expect("zcard nosuch", b":0\r\n");
    t.expect("zincrby z 1 a", b"$1\r\n2\r\n");
    t.expect("zincrby z 1.1 newm", b"$18\r\n1.1000000000000001\r\n");
    t.expect("zincrby z x a", b"-ERR value is not a valid float\r\n");
    t.expect("zadd z incr 1 a", b"$1\r\n3\r\n");
    t.expect("zadd z nx incr 1 a", b"$-1\r\n");
    t.expect("zadd z xx incr 1 brandnew", b"$-1\r\n");
    t.expect("zadd z gt 1 a", b":0\r\n");
    t.expect("zadd z gt ch 10 a", b":1\r\n");
    t.expect("zadd z lt ch 10 a", b":0\r\n");
    t.expect("zadd z lt ch 1 a", b":1\r\n");
    t.expect("zadd z ch 1 a 1 b 5 q", b":2\r\n");
    t.expect("zadd nosuch xx 1 a", b":0\r\n");
    t.expect("exists nosuch", b":0\r\n");
    t.expect(
        "zadd z xx nx 1 a",
        b"-ERR XX and NX options at the same time are not compatible\r\n",
    );
    t.expect(
        "zadd z gt lt 1 a",
        b"-ERR GT, LT, and/or NX options at the same time are not compatible\r\n",
    );
    t.expect(
        "zadd z incr 1 a 2 b",
        b"-ERR INCR option supports a single increment-element pair\r\n",
    );
    t.expect(
        "zadd z 1",
        b"-ERR wrong number of arguments for 'zadd' command\r\n",
    );
    t.expect("zadd z 1 a 2", b"-ERR syntax error\r\n");
    t.expect("zadd z nan a", b"-ERR value is not a valid float\r\n");
    t.expect("zadd z incr +inf pinf", b"$3\r\ninf\r\n");
    t.expect(
        "zadd z incr -inf pinf",
        b"-ERR resulting score is not a number (NaN)\r\n",
    );
    t.expect("zrem z a nosuch", b":1\r\n");
    t.expect("zrem nosuch a", b":0\r\n");
    t.expect("zrange z 0 -1 withscores", b"*16\r\n$4\r\nninf\r\n$4\r\n-inf\r\n$1\r\nb\r\n$1\r\n1\r\n$4\r\nnewm\r\n$18\r\n1.1000000000000001\r\n$1\r\nx\r\n$3\r\n1.5\r\n$2\r\nbb\r\n$1\r\n2\r\n$1\r\nc\r\n$1\r\n3\r\n$1\r\nq\r\n$1\r\n5\r\n$4\r\npinf\r\n$3\r\ninf\r\n");
}

#[test]
fn lex_ranges_and_removal() {
    let mut t = T::new();
    t.expect("set str x", b"+OK\r\n");
    t.expect("zadd l 0 a 0 b 0 c 0 d 0 e", b":5\r\n");
    t.expect(
        "zrangebylex l - +",
        b"*5\r\n$1\r\na\r\n$1\r\nb\r\n$1\r\nc\r\n$1\r\nd\r\n$1\r\ne\r\n",
    );
    t.expect("zrangebylex l [b (d", b"*2\r\n$1\r\nb\r\n$1\r\nc\r\n");
    t.expect("zrangebylex l (b [d", b"*2\r\n$1\r\nc\r\n$1\r\nd\r\n");
    t.expect(
        "zrangebylex l [b + limit 1 2",
        b"*2\r\n$1\r\nc\r\n$1\r\nd\r\n",
    );
    t.expect(
        "zrevrangebylex l + -",
        b"*5\r\n$1\r\ne\r\n$1\r\nd\r\n$1\r\nc\r\n$1\r\nb\r\n$1\r\na\r\n",
    );
    t.expect(
        "zrevrangebylex l [d (a limit 0 2",
        b"*2\r\n$1\r\nd\r\n$1\r\nc\r\n",
    );
    t.expect(
        "zrangebylex l a b",
        b"-ERR min or max not valid string range item\r\n",
    );
    t.expect("zrangebylex l [b [a", b"*0\r\n");
    t.expect("zrangebylex l (b (b", b"*0\r\n");
    t.expect("zrangebylex l [b [b", b"*1\r\n$1\r\nb\r\n");
    t.expect("zlexcount l - +", b":5\r\n");
    t.expect("zlexcount l [b [d", b":3\r\n");
    t.expect("zlexcount l (a (e", b":3\r\n");
    t.expect(
        "zlexcount l x y",
        b"-ERR min or max not valid string range item\r\n",
    );
    t.expect(
        "zrange l [b [d bylex",
        b"*3\r\n$1\r\nb\r\n$1\r\nc\r\n$1\r\nd\r\n",
    );
    t.expect(
        "zrange l [d [b bylex rev",
        b"*3\r\n$1\r\nd\r\n$1\r\nc\r\n$1\r\nb\r\n",
    );
    t.expect(
        "zrange l - + bylex withscores",
        b"-ERR syntax error, WITHSCORES not supported in combination with BYLEX\r\n",
    );
    t.expect("zremrangebylex l [b (d", b":2\r\n");
    t.expect("zrange l 0 -1", b"*3\r\n$1\r\na\r\n$1\r\nd\r\n$1\r\ne\r\n");
    t.expect("zremrangebyrank l 0 0", b":1\r\n");
    t.expect("zrange l 0 -1", b"*2\r\n$1\r\nd\r\n$1\r\ne\r\n");
    t.expect("zremrangebyscore l 0 0", b":2\r\n");
    t.expect("exists l", b":0\r\n");
}

#[test]
fn pops() {
    let mut t = T::new();
    t.expect("set str x", b"+OK\r\n");
    t.expect("zadd r 1 a 2 b 3 c 4 d 5 e", b":5\r\n");
    t.expect("zremrangebyscore r (1 3", b":2\r\n");
    t.expect(
        "zremrangebyscore r x 3",
        b"-ERR min or max is not a float\r\n",
    );
    t.expect("zremrangebyrank r -1 -1", b":1\r\n");
    t.expect("zremrangebyrank r 5 10", b":0\r\n");
    t.expect(
        "zremrangebyrank r x 1",
        b"-ERR value is not an integer or out of range\r\n",
    );
    t.expect(
        "zrange r 0 -1 withscores",
        b"*4\r\n$1\r\na\r\n$1\r\n1\r\n$1\r\nd\r\n$1\r\n4\r\n",
    );
    t.expect("zpopmin r", b"*2\r\n$1\r\na\r\n$1\r\n1\r\n");
    t.expect("zpopmax r", b"*2\r\n$1\r\nd\r\n$1\r\n4\r\n");
    t.expect("zpopmin r 5", b"*0\r\n");
    t.expect("exists r", b":0\r\n");
    t.expect("zpopmin nosuch", b"*0\r\n");
    t.expect("zpopmin nosuch 3", b"*0\r\n");
    t.expect("zadd p 1 a 2 b 3 c", b":3\r\n");
    t.expect(
        "zpopmax p 2",
        b"*4\r\n$1\r\nc\r\n$1\r\n3\r\n$1\r\nb\r\n$1\r\n2\r\n",
    );
    t.expect(
        "zpopmin p -1",
        b"-ERR value is out of range, must be positive\r\n",
    );
    t.expect("zpopmin p 0", b"*0\r\n");
    t.expect("zpopmin p 1 2", b"-ERR syntax error\r\n");
    t.expect(
        "zmpop 1 p min",
        b"*2\r\n$1\r\np\r\n*1\r\n*2\r\n$1\r\na\r\n$1\r\n1\r\n",
    );
    t.expect("zmpop 1 nosuch min", b"*-1\r\n");
    t.expect("zadd p 1 a 2 b 3 c", b":3\r\n");
    t.expect(
        "zmpop 2 nosuch p max count 2",
        b"*2\r\n$1\r\np\r\n*2\r\n*2\r\n$1\r\nc\r\n$1\r\n3\r\n*2\r\n$1\r\nb\r\n$1\r\n2\r\n",
    );
    t.expect(
        "zmpop 0 p min",
        b"-ERR numkeys should be greater than 0\r\n",
    );
    t.expect("zmpop 2 p min", b"-ERR syntax error\r\n");
    t.expect("zmpop 1 p foo", b"-ERR syntax error\r\n");
    t.expect(
        "zmpop 1 p min count 0",
        b"-ERR count should be greater than 0\r\n",
    );
    t.expect("zmpop 1 p min count 1 count 1", b"-ERR syntax error\r\n");
    t.expect("set str x", b"+OK\r\n");
    t.expect(
        "zmpop 2 nosuch str min",
        b"-WRONGTYPE Operation against a key holding the wrong kind of value\r\n",
    );
}

#[test]
fn union_inter_diff_and_stores() {
    let mut t = T::new();
    t.expect("set str x", b"+OK\r\n");
    t.expect("zadd a 1 x 2 y 3 z", b":3\r\n");
    t.expect("zadd b 10 y 20 z 30 w", b":3\r\n");
    t.expect("sadd s y w q", b":3\r\n");
    t.expect(
        "zunion 2 a b",
        b"*4\r\n$1\r\nx\r\n$1\r\ny\r\n$1\r\nz\r\n$1\r\nw\r\n",
    );
    t.expect("zunion 2 a b withscores", b"*8\r\n$1\r\nx\r\n$1\r\n1\r\n$1\r\ny\r\n$2\r\n12\r\n$1\r\nz\r\n$2\r\n23\r\n$1\r\nw\r\n$2\r\n30\r\n");
    t.expect("zunion 2 a b weights 2 3 withscores", b"*8\r\n$1\r\nx\r\n$1\r\n2\r\n$1\r\ny\r\n$2\r\n34\r\n$1\r\nz\r\n$2\r\n66\r\n$1\r\nw\r\n$2\r\n90\r\n");
    t.expect("zunion 2 a b aggregate min withscores", b"*8\r\n$1\r\nx\r\n$1\r\n1\r\n$1\r\ny\r\n$1\r\n2\r\n$1\r\nz\r\n$1\r\n3\r\n$1\r\nw\r\n$2\r\n30\r\n");
    t.expect("zunion 2 a b aggregate max withscores", b"*8\r\n$1\r\nx\r\n$1\r\n1\r\n$1\r\ny\r\n$2\r\n10\r\n$1\r\nz\r\n$2\r\n20\r\n$1\r\nw\r\n$2\r\n30\r\n");
    t.expect("zunion 3 a b s withscores", b"*10\r\n$1\r\nq\r\n$1\r\n1\r\n$1\r\nx\r\n$1\r\n1\r\n$1\r\ny\r\n$2\r\n13\r\n$1\r\nz\r\n$2\r\n23\r\n$1\r\nw\r\n$2\r\n31\r\n");
    t.expect(
        "zinter 2 a b withscores",
        b"*4\r\n$1\r\ny\r\n$2\r\n12\r\n$1\r\nz\r\n$2\r\n23\r\n",
    );
    t.expect(
        "zinter 3 a b s withscores",
        b"*2\r\n$1\r\ny\r\n$2\r\n13\r\n",
    );
    t.expect(
        "zinter 2 a b weights 1 -1 aggregate sum withscores",
        b"*4\r\n$1\r\nz\r\n$3\r\n-17\r\n$1\r\ny\r\n$2\r\n-8\r\n",
    );
    t.expect("zdiff 2 a b withscores", b"*2\r\n$1\r\nx\r\n$1\r\n1\r\n");
    t.expect("zdiff 2 b s withscores", b"*2\r\n$1\r\nz\r\n$2\r\n20\r\n");
    t.expect("zdiff 2 nosuch a", b"*0\r\n");
    t.expect("zdiff 1 a weights 1", b"-ERR syntax error\r\n");
    t.expect(
        "zunion 2 a str",
        b"-WRONGTYPE Operation against a key holding the wrong kind of value\r\n",
    );
    t.expect(
        "zunion 0 a",
        b"-ERR at least 1 input key is needed for 'zunion' command\r\n",
    );
    t.expect(
        "zunion x a",
        b"-ERR value is not an integer or out of range\r\n",
    );
    t.expect("zunion 3 a b", b"-ERR syntax error\r\n");
    t.expect("zunion 2 a b weights 1", b"-ERR syntax error\r\n");
    t.expect(
        "zunion 2 a b weights 1 x",
        b"-ERR weight value is not a float\r\n",
    );
    t.expect("zunion 2 a b aggregate foo", b"-ERR syntax error\r\n");
    t.expect("zintercard 2 a b", b":2\r\n");
    t.expect("zintercard 2 a b limit 1", b":1\r\n");
    t.expect(
        "zintercard 2 a b limit -1",
        b"-ERR LIMIT can't be negative\r\n",
    );
    t.expect(
        "zintercard 0 a",
        b"-ERR at least 1 input key is needed for 'zintercard' command\r\n",
    );
    t.expect("zintercard 2 a b withscores", b"-ERR syntax error\r\n");
    t.expect("zunionstore d 2 a b", b":4\r\n");
    t.expect("zrange d 0 -1 withscores", b"*8\r\n$1\r\nx\r\n$1\r\n1\r\n$1\r\ny\r\n$2\r\n12\r\n$1\r\nz\r\n$2\r\n23\r\n$1\r\nw\r\n$2\r\n30\r\n");
    t.expect("object encoding d", b"$8\r\nlistpack\r\n");
    t.expect("zinterstore d 2 a b weights 2 2", b":2\r\n");
    t.expect(
        "zrange d 0 -1 withscores",
        b"*4\r\n$1\r\ny\r\n$2\r\n24\r\n$1\r\nz\r\n$2\r\n46\r\n",
    );
    t.expect("zdiffstore d 2 a b", b":1\r\n");
    t.expect("zrange d 0 -1 withscores", b"*2\r\n$1\r\nx\r\n$1\r\n1\r\n");
    t.expect("zinterstore d 2 a nosuch", b":0\r\n");
    t.expect("exists d", b":0\r\n");
    t.expect("zunionstore d 1 nosuch", b":0\r\n");
    t.expect("zunionstore d 2 a b withscores", b"-ERR syntax error\r\n");
    t.expect("zdiffstore d 2 a b weights 1 1", b"-ERR syntax error\r\n");
    t.expect("zrangestore d a 0 -1", b":3\r\n");
    t.expect(
        "zrange d 0 -1 withscores",
        b"*6\r\n$1\r\nx\r\n$1\r\n1\r\n$1\r\ny\r\n$1\r\n2\r\n$1\r\nz\r\n$1\r\n3\r\n",
    );
    t.expect("zrangestore d a 1 (3 byscore", b":2\r\n");
    t.expect("zrangestore d a [x [y bylex", b":2\r\n");
    t.expect("zrangestore d a 0 -1 withscores", b"-ERR syntax error\r\n");
    t.expect("zrangestore d nosuch 0 -1", b":0\r\n");
    t.expect("exists d", b":0\r\n");
    t.expect("zrangestore d a 5 10", b":0\r\n");
    t.expect(
        "zrangestore d str 0 1",
        b"-WRONGTYPE Operation against a key holding the wrong kind of value\r\n",
    );
}

#[test]
fn random_scan_and_formatting() {
    let mut t = T::new();
    t.expect("set str x", b"+OK\r\n");
    t.expect("zrandmember nosuch", b"$-1\r\n");
    t.expect("zrandmember nosuch 3", b"*0\r\n");
    t.expect("zrandmember a 0", b"*0\r\n");
    t.expect(
        "zrandmember a x",
        b"-ERR value is not an integer or out of range\r\n",
    );
    t.expect("zrandmember a 1 foo", b"-ERR syntax error\r\n");
    t.expect("zrandmember a -9223372036854775808", b"-ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807\r\n");
    t.expect(
        "zrandmember a 5000000000000000000 withscores",
        b"-ERR value is out of range\r\n",
    );
    t.expect("zadd neg -0 m", b":1\r\n");
    t.expect("zscore neg m", b"$1\r\n0\r\n");
    t.expect("zadd big 1e20 m 123456789012345678 n 0.1 o", b":3\r\n");
    t.expect("zrange big 0 -1 withscores", b"*6\r\n$1\r\no\r\n$19\r\n0.10000000000000001\r\n$1\r\nn\r\n$22\r\n1.2345678901234568e+17\r\n$1\r\nm\r\n$5\r\n1e+20\r\n");
    t.expect(
        "zadd long 1 aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
        b":1\r\n",
    );
    t.expect("object encoding long", b"$8\r\nskiplist\r\n");
    t.expect("zadd e 1 a", b":1\r\n");
    t.expect("object encoding e", b"$8\r\nlistpack\r\n");
    t.expect("type e", b"+zset\r\n");
    t.expect(
        "zadd str 1 a",
        b"-WRONGTYPE Operation against a key holding the wrong kind of value\r\n",
    );
    t.expect(
        "zscore str a",
        b"-WRONGTYPE Operation against a key holding the wrong kind of value\r\n",
    );
    t.expect(
        "zrange str 0 1",
        b"-WRONGTYPE Operation against a key holding the wrong kind of value\r\n",
    );
    t.expect(
        "zcard str",
        b"-WRONGTYPE Operation against a key holding the wrong kind of value\r\n",
    );
}

#[test]
fn resp3_shapes() {
    let mut t = T::new();
    t.proto = Proto::Resp3;
    t.expect("zadd z 1 a 2 b 3.5 c", b":3\r\n");
    t.expect(
        "zrange z 0 -1 withscores",
        b"*3\r\n*2\r\n$1\r\na\r\n,1\r\n*2\r\n$1\r\nb\r\n,2\r\n*2\r\n$1\r\nc\r\n,3.5\r\n",
    );
    t.expect(
        "zrangebyscore z -inf +inf withscores limit 0 2",
        b"*2\r\n*2\r\n$1\r\na\r\n,1\r\n*2\r\n$1\r\nb\r\n,2\r\n",
    );
    t.expect("zscore z c", b",3.5\r\n");
    t.expect("zscore z nosuch", b"_\r\n");
    t.expect("zmscore z a nosuch", b"*2\r\n,1\r\n_\r\n");
    t.expect("zincrby z 1 a", b",2\r\n");
    t.expect("zadd z nx incr 1 a", b"_\r\n");
    t.expect("zpopmin z", b"*2\r\n$1\r\na\r\n,2\r\n");
    t.expect("zpopmax z 1", b"*1\r\n*2\r\n$1\r\nc\r\n,3.5\r\n");
    t.expect("zpopmin nosuch", b"*0\r\n");
    t.expect("zpopmin nosuch 2", b"*0\r\n");
    t.expect(
        "zmpop 1 z min",
        b"*2\r\n$1\r\nz\r\n*1\r\n*2\r\n$1\r\nb\r\n,2\r\n",
    );
    t.expect("zmpop 1 nosuch min", b"_\r\n");
    t.expect("zadd y 1 a", b":1\r\n");
    t.expect("zunion 2 z y withscores", b"*1\r\n*2\r\n$1\r\na\r\n,1\r\n");
    t.expect("zinter 2 z y withscores", b"*0\r\n");
    t.expect("zdiff 1 z withscores", b"*0\r\n");
    t.expect("zrandmember z 5 withscores", b"*0\r\n");
    t.expect("zrandmember z -1 withscores", b"*0\r\n");
    t.expect("zrank z nosuch", b"_\r\n");
    t.expect("zadd i 1 +inf", b":1\r\n");
    t.expect("zadd i +inf x -inf y", b":2\r\n");
    t.expect(
        "zrange i 0 -1 withscores",
        b"*3\r\n*2\r\n$1\r\ny\r\n,-inf\r\n*2\r\n$4\r\n+inf\r\n,1\r\n*2\r\n$1\r\nx\r\n,inf\r\n",
    );
}

#[test]
fn skiplist_encoding() {
    let mut t = T::new();
    t.s.limits.zset_entries = 0;
    t.expect("zadd z 1 a 2 b 3 c", b":3\r\n");
    t.expect("object encoding z", b"$8\r\nskiplist\r\n");
    t.expect(
        "zrange z 0 -1 withscores",
        b"*6\r\n$1\r\na\r\n$1\r\n1\r\n$1\r\nb\r\n$1\r\n2\r\n$1\r\nc\r\n$1\r\n3\r\n",
    );
    t.expect("zrank z b", b":1\r\n");
    t.expect("zrevrank z b", b":1\r\n");
    t.expect("zrangebyscore z (1 +inf", b"*2\r\n$1\r\nb\r\n$1\r\nc\r\n");
    t.expect("zrem z b", b":1\r\n");
    t.expect("zrange z 0 -1", b"*2\r\n$1\r\na\r\n$1\r\nc\r\n");
    t.expect("zadd neg -0 m", b":1\r\n");
    t.expect("zscore neg m", b"$2\r\n-0\r\n");
    t.expect(
        "zpopmax z 2",
        b"*4\r\n$1\r\nc\r\n$1\r\n3\r\n$1\r\na\r\n$1\r\n1\r\n",
    );
    t.expect("exists z", b":0\r\n");
}
