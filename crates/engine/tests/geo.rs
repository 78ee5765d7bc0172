//! Geospatial commands against Redis 7.0.15's exact replies (captured from a real redis-server).

mod common;

use common::*;

#[test]
fn geoadd_and_reads() {
    let mut t = T::new();
    t.expect(
        "geoadd Sicily 13.361389 38.115556 Palermo 15.087269 37.502669 Catania",
        b":2\r\n",
    );
    t.expect("geodist Sicily Palermo Catania", b"$11\r\n166274.1516\r\n");
    t.expect("geodist Sicily Palermo Catania km", b"$8\r\n166.2742\r\n");
    t.expect("geodist Sicily Palermo Catania mi", b"$8\r\n103.3182\r\n");
    t.expect("geodist Sicily Palermo x", b"$-1\r\n");
    t.expect(
        "geodist Sicily Palermo Catania yd",
        b"-ERR unsupported unit provided. please use M, KM, FT, MI\r\n",
    );
    t.expect("geodist nokey a b", b"$-1\r\n");
    t.expect("geopos Sicily Palermo Catania NonExisting", b"*3\r\n*2\r\n$20\r\n13.36138933897018433\r\n$20\r\n38.11555639549629859\r\n*2\r\n$20\r\n15.08726745843887329\r\n$20\r\n37.50266842333162032\r\n*-1\r\n");
    t.expect(
        "geohash Sicily Palermo Catania x",
        b"*3\r\n$11\r\nsqc8b49rny0\r\n$11\r\nsqdtr74hyu0\r\n$-1\r\n",
    );
    t.expect(
        "geoadd Sicily 200 100 bad",
        b"-ERR invalid longitude,latitude pair 200.000000,100.000000\r\n",
    );
    t.expect(
        "geoadd Sicily x 10 bad",
        b"-ERR value is not a valid float\r\n",
    );
    t.expect(
        "geoadd Sicily 10 10",
        b"-ERR wrong number of arguments for 'geoadd' command\r\n",
    );
    t.expect("geoadd Sicily nx xx 10 10 a", b"-ERR syntax error\r\n");
    t.expect("geoadd Sicily xx ch 13.3 38.1 Palermo 1 1 new", b":1\r\n");
    t.expect("zrange Sicily 0 -1 withscores", b"*4\r\n$7\r\nPalermo\r\n$16\r\n3479076843417631\r\n$7\r\nCatania\r\n$16\r\n3479447370796909\r\n");
    t.expect("set s x", b"+OK\r\n");
    t.expect(
        "geoadd s 1 1 a",
        b"-WRONGTYPE Operation against a key holding the wrong kind of value\r\n",
    );
    t.expect(
        "geopos s a",
        b"-WRONGTYPE Operation against a key holding the wrong kind of value\r\n",
    );
}
