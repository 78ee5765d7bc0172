//! Routing across shards: pipelined commands for another core travel in one hop per shard
//! per read, not one hop per command.

use crate::harness::{hops, Server};

#[test]
fn pipelined_remote_commands_share_one_hop() {
    let srv = Server::start(2);
    let mut raw = srv.raw();
    // 400 distinct keys: about half live on the other core, whichever core we landed on.
    let mut setup = Vec::new();
    for i in 0..400 {
        resp::write_command(&mut setup, &[b"SET", format!("k{i}").as_bytes(), b"v"]);
    }
    raw.send(&setup);
    for _ in 0..400 {
        assert_eq!(raw.read_reply(), "+OK\r\n");
    }
    let before = hops(&mut raw);
    let mut pipeline = Vec::new();
    for i in 0..400 {
        resp::write_command(&mut pipeline, &[b"GET", format!("k{i}").as_bytes()]);
    }
    // One write of ~8 KB: the server reads it in one or a few reads.
    raw.send(&pipeline);
    for _ in 0..400 {
        assert_eq!(raw.read_reply(), "$1\r\nv\r\n");
    }
    let after = hops(&mut raw);
    // The INFO call itself asks the other core twice; ~200 remote GETs one hop each would
    // add ~200.
    let delta = after - before;
    assert!(delta <= 10, "{delta} hops for a pipeline of 400 GETs");
}

#[test]
fn replies_keep_request_order_across_shards() {
    for shards in [2, 4] {
        let srv = Server::start(shards);
        let mut raw = srv.raw();
        let mut pipeline = Vec::new();
        for i in 0..1000 {
            let key = format!("key:{}", i % 37);
            resp::write_command(&mut pipeline, &[b"INCR", key.as_bytes()]);
        }
        raw.send(&pipeline);
        let mut counts = [0i64; 37];
        for i in 0..1000 {
            counts[i % 37] += 1;
            assert_eq!(raw.read_reply(), format!(":{}\r\n", counts[i % 37]));
        }
    }
}
