//! Geospatial commands against Redis 7.0.15's exact replies (captured from a real redis-server).

mod common;

use common::*;

#[test]
fn search() {
    let mut t = T::new();
    t.expect("geoadd Sicily 13.361389 38.115556 Palermo 15.087269 37.502669 Catania 13.5 38.0 x 14 37.5 y 12 36 z 14 37.5 y2", b":6\r\n");
    t.expect("georadius Sicily 15 37 200 km WITHDIST WITHCOORD WITHHASH", b"*5\r\n*4\r\n$1\r\ny\r\n$8\r\n104.5527\r\n:3479043355519990\r\n*2\r\n$20\r\n14.00000184774398804\r\n$19\r\n37.4999993619508345\r\n*4\r\n$2\r\ny2\r\n$8\r\n104.5527\r\n:3479043355519990\r\n*2\r\n$20\r\n14.00000184774398804\r\n$19\r\n37.4999993619508345\r\n*4\r\n$1\r\nx\r\n$8\r\n172.8860\r\n:3479097324432493\r\n*2\r\n$20\r\n13.50000053644180298\r\n$19\r\n38.0000009925631943\r\n*4\r\n$7\r\nPalermo\r\n$8\r\n190.4424\r\n:3479099956230698\r\n*2\r\n$20\r\n13.36138933897018433\r\n$20\r\n38.11555639549629859\r\n*4\r\n$7\r\nCatania\r\n$7\r\n56.4413\r\n:3479447370796909\r\n*2\r\n$20\r\n15.08726745843887329\r\n$20\r\n37.50266842333162032\r\n");
    t.expect(
        "georadius Sicily 15 37 200 km count 2 desc",
        b"*2\r\n$7\r\nPalermo\r\n$1\r\nx\r\n",
    );
    t.expect(
        "georadius Sicily 15 37 200 km count 2 any",
        b"*2\r\n$1\r\ny\r\n$2\r\ny2\r\n",
    );
    t.expect(
        "georadius Sicily 15 37 200 km any",
        b"-ERR the ANY argument requires COUNT argument\r\n",
    );
    t.expect(
        "georadius Sicily 15 37 200 km count 0",
        b"-ERR COUNT must be > 0\r\n",
    );
    t.expect(
        "georadius Sicily 15 37 200 km count x",
        b"-ERR value is not an integer or out of range\r\n",
    );
    t.expect(
        "georadius Sicily 15 37 -1 km",
        b"-ERR radius cannot be negative\r\n",
    );
    t.expect(
        "georadius Sicily 15 37 abc km",
        b"-ERR need numeric radius\r\n",
    );
    t.expect(
        "georadius Sicily 15 37 1 yd",
        b"-ERR unsupported unit provided. please use M, KM, FT, MI\r\n",
    );
    t.expect(
        "georadius Sicily 190 37 1 km",
        b"-ERR invalid longitude,latitude pair 190.000000,37.000000\r\n",
    );
    t.expect("georadius Sicily 15 37 200 km withdist store dst", b"-ERR STORE option in GEORADIUS is not compatible with WITHDIST, WITHHASH and WITHCOORD options\r\n");
    t.expect(
        "georadius Sicily 15 37 200 km store dst storedist dst2",
        b":5\r\n",
    );
    t.expect("zrange dst2 0 -1 withscores", b"*10\r\n$7\r\nCatania\r\n$18\r\n56.441257870158204\r\n$1\r\ny\r\n$18\r\n104.55268202685095\r\n$2\r\ny2\r\n$18\r\n104.55268202685095\r\n$1\r\nx\r\n$18\r\n172.88599581603299\r\n$7\r\nPalermo\r\n$18\r\n190.44242984775784\r\n");
    t.expect(
        "georadius_ro Sicily 15 37 200 km store dst",
        b"-ERR syntax error\r\n",
    );
    t.expect("georadiusbymember Sicily Palermo 100 km withdist asc", b"*4\r\n*2\r\n$7\r\nPalermo\r\n$6\r\n0.0000\r\n*2\r\n$1\r\nx\r\n$7\r\n17.6793\r\n*2\r\n$1\r\ny\r\n$7\r\n88.5261\r\n*2\r\n$2\r\ny2\r\n$7\r\n88.5261\r\n");
    t.expect(
        "georadiusbymember Sicily nope 100 km",
        b"-ERR could not decode requested zset member\r\n",
    );
    t.expect("georadiusbymember nokey nope abc km", b"*0\r\n");
    t.expect("georadiusbymember nokey nope 1 km store dst", b":0\r\n");
    t.expect("exists dst", b":0\r\n");
    t.expect(
        "georadiusbymember_ro Sicily y 0 km",
        b"*2\r\n$1\r\ny\r\n$2\r\ny2\r\n",
    );
    t.expect("geosearch Sicily frommember Palermo bybox 400 400 km asc withdist", b"*5\r\n*2\r\n$7\r\nPalermo\r\n$6\r\n0.0000\r\n*2\r\n$1\r\nx\r\n$7\r\n17.6793\r\n*2\r\n$1\r\ny\r\n$7\r\n88.5261\r\n*2\r\n$2\r\ny2\r\n$7\r\n88.5261\r\n*2\r\n$7\r\nCatania\r\n$8\r\n166.2742\r\n");
    t.expect("geosearch Sicily fromlonlat 14 37.5 byradius 100 mi desc withcoord", b"*5\r\n*2\r\n$7\r\nCatania\r\n*2\r\n$20\r\n15.08726745843887329\r\n$20\r\n37.50266842333162032\r\n*2\r\n$7\r\nPalermo\r\n*2\r\n$20\r\n13.36138933897018433\r\n$20\r\n38.11555639549629859\r\n*2\r\n$1\r\nx\r\n*2\r\n$20\r\n13.50000053644180298\r\n$19\r\n38.0000009925631943\r\n*2\r\n$1\r\ny\r\n*2\r\n$20\r\n14.00000184774398804\r\n$19\r\n37.4999993619508345\r\n*2\r\n$2\r\ny2\r\n*2\r\n$20\r\n14.00000184774398804\r\n$19\r\n37.4999993619508345\r\n");
    t.expect(
        "geosearch Sicily frommember nope byradius 1 m",
        b"-ERR could not decode requested zset member\r\n",
    );
    t.expect(
        "geosearch Sicily frommember Palermo fromlonlat 1 1 byradius 1 m",
        b"-ERR syntax error\r\n",
    );
    t.expect(
        "geosearch Sicily fromlonlat 1 1 frommember Palermo byradius 1 m",
        b"-ERR syntax error\r\n",
    );
    t.expect(
        "geosearch Sicily frommember Palermo byradius 1 m bybox 1 1 m",
        b"-ERR syntax error\r\n",
    );
    t.expect(
        "geosearch Sicily frommember Palermo bybox -1 1 m",
        b"-ERR height or width cannot be negative\r\n",
    );
    t.expect(
        "geosearch Sicily frommember Palermo bybox x 1 m",
        b"-ERR need numeric width\r\n",
    );
    t.expect(
        "geosearch Sicily frommember Palermo bybox 1 y m",
        b"-ERR need numeric height\r\n",
    );
    t.expect(
        "GeoSearch Sicily withdist byradius 1 m",
        b"-ERR wrong number of arguments for 'geosearch' command\r\n",
    );
    t.expect(
        "geosearch Sicily frommember Palermo withdist",
        b"-ERR wrong number of arguments for 'geosearch' command\r\n",
    );
    t.expect(
        "geosearch Sicily frommember Palermo byradius 1 km store x",
        b"-ERR syntax error\r\n",
    );
    t.expect(
        "geosearch Sicily frommember Palermo byradius 1 km storedist",
        b"-ERR syntax error\r\n",
    );
    t.expect(
        "geosearch nokey frommember Palermo byradius 1 km",
        b"*0\r\n",
    );
    t.expect(
        "geosearchstore dst Sicily fromlonlat 15 37 byradius 300 km storedist count 3",
        b":3\r\n",
    );
    t.expect("zrange dst 0 -1 withscores", b"*6\r\n$7\r\nCatania\r\n$18\r\n56.441257870158204\r\n$1\r\ny\r\n$18\r\n104.55268202685095\r\n$2\r\ny2\r\n$18\r\n104.55268202685095\r\n");
    t.expect(
        "geosearchstore dst Sicily fromlonlat 15 37 byradius 300 km withdist",
        b"-ERR GEOSEARCHSTORE is not compatible with WITHDIST, WITHHASH and WITHCOORD options\r\n",
    );
    t.expect(
        "geosearchstore dst Sicily fromlonlat 0 0 byradius 1 km",
        b":0\r\n",
    );
    t.expect("exists dst", b":0\r\n");
    t.expect("set s x", b"+OK\r\n");
    t.expect(
        "geosearch s frommember a byradius 1 m",
        b"-WRONGTYPE Operation against a key holding the wrong kind of value\r\n",
    );
    t.expect(
        "georadius s 1 1 1 m",
        b"-WRONGTYPE Operation against a key holding the wrong kind of value\r\n",
    );
    t.expect(
        "geosearchstore s Sicily frommember Palermo byradius 10 km",
        b":1\r\n",
    );
    t.expect("type s", b"+zset\r\n");
}

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
