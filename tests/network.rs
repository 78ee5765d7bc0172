//! The network core's duties, each a fault an earlier core had (issue 12): reading on while
//! replies wait, output limits over what is queued, restarts after a crash, a half-closed
//! blocked client, a blocked move onto a key of another type, and big values that do not
//! stall other clients.

use crate::harness::{free_port, Raw, Server};
use std::io::{Read, Write};
use std::net::{Shutdown, TcpStream};
use std::time::{Duration, Instant};

/// redis-py's `pipeline().execute()` writes every command before it reads a reply. The
/// server must keep reading while the replies wait, or both sides wait for ever.
fn whole_pipeline_before_reading(shards: usize) {
    const N: usize = 300_000;
    let s = Server::start(shards);
    let mut stream = TcpStream::connect(("127.0.0.1", s.port)).expect("connect");
    stream
        .set_write_timeout(Some(Duration::from_secs(60)))
        .unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(60)))
        .unwrap();
    let mut req = Vec::with_capacity(N * 40);
    for i in 0..N {
        let key = format!("pk{}", i % 1000);
        resp::write_command(&mut req, &[b"INCR", key.as_bytes()]);
    }
    // Write everything first (a server that stops reading makes this time out).
    stream
        .write_all(&req)
        .expect("the server kept reading the pipeline");
    let mut replies = 0usize;
    let mut buf = vec![0u8; 1 << 16];
    let mut partial = Vec::new();
    while replies < N {
        let n = stream.read(&mut buf).expect("replies");
        assert!(n > 0, "closed after {replies} replies");
        partial.extend_from_slice(&buf[..n]);
        let mut start = 0;
        while let Some(end) = partial[start..].iter().position(|&b| b == b'\n') {
            assert_eq!(partial[start], b':', "an integer reply");
            start += end + 1;
            replies += 1;
        }
        partial.drain(..start);
    }
    let mut r = s.raw();
    assert_eq!(
        r.cmd(&["GET", "pk7"]),
        format!("${}\r\n{}\r\n", 3, N / 1000)
    );
}

#[test]
fn whole_pipeline_before_reading_one_shard() {
    whole_pipeline_before_reading(1);
}

#[test]
fn whole_pipeline_before_reading_two_shards() {
    whole_pipeline_before_reading(2);
}

/// `client-output-buffer-limit normal 1 1 1` counts what is still queued beyond Redis'
/// 16 KB reply buffer: small replies go through, a 100 KB one closes the client.
#[test]
fn output_limit_counts_what_is_queued() {
    let s = Server::start(1);
    let mut admin = s.raw();
    assert_eq!(
        admin.cmd(&[
            "CONFIG",
            "SET",
            "client-output-buffer-limit",
            "normal 1 1 1"
        ]),
        "+OK\r\n"
    );
    assert_eq!(admin.cmd(&["PING"]), "+PONG\r\n");
    assert_eq!(admin.cmd(&["SET", "small", "v"]), "+OK\r\n");
    assert_eq!(admin.cmd(&["GET", "small"]), "$1\r\nv\r\n");
    let big = "x".repeat(100 * 1024);
    assert_eq!(admin.cmd(&["SET", "big", &big]), "+OK\r\n");
    let mut other = s.raw();
    assert_eq!(other.cmd(&["PING"]), "+PONG\r\n");
    other.send(b"*2\r\n$3\r\nGET\r\n$3\r\nbig\r\n");
    let mut got = Vec::new();
    let _ = other.stream.read_to_end(&mut got);
    assert!(
        got.len() < big.len(),
        "a reply past the hard limit closes the client before it is all sent ({} bytes came)",
        got.len()
    );
    assert_eq!(admin.cmd(&["PING"]), "+PONG\r\n");
}

/// BRPOPLPUSH blocked on an empty source whose destination holds a string: a push to the
/// source answers it WRONGTYPE and leaves the element where it is (Redis 7.0).
fn blocked_move_onto_wrong_type(shards: usize, dst: &str) {
    let s = Server::start(shards);
    let mut a = s.raw();
    let mut b = s.raw();
    assert_eq!(a.cmd(&["SET", dst, "str"]), "+OK\r\n");
    let mut req = Vec::new();
    resp::write_command(&mut req, &[b"BRPOPLPUSH", b"src", dst.as_bytes(), b"0"]);
    b.send(&req);
    let start = Instant::now();
    loop {
        let info = a.cmd(&["INFO", "clients"]);
        if info.contains("blocked_clients:1") {
            break;
        }
        assert!(start.elapsed() < Duration::from_secs(5), "never blocked");
        std::thread::sleep(Duration::from_millis(5));
    }
    assert_eq!(a.cmd(&["RPUSH", "src", "e"]), ":1\r\n");
    assert_eq!(
        b.read_reply(),
        "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n"
    );
    assert_eq!(a.cmd(&["LRANGE", "src", "0", "-1"]), "*1\r\n$1\r\ne\r\n");
    assert_eq!(a.cmd(&["GET", dst]), "$3\r\nstr\r\n");
    assert_eq!(b.cmd(&["PING"]), "+PONG\r\n");
}

#[test]
fn blocked_move_onto_wrong_type_same_shard() {
    blocked_move_onto_wrong_type(1, "dst");
}

#[test]
fn blocked_move_onto_wrong_type_other_shard() {
    let map = engine::slot::SlotMap::new(2);
    let other = (0..)
        .map(|i| format!("dst{i}"))
        .find(|k| map.shard_of(k.as_bytes()) != map.shard_of(b"src"))
        .unwrap();
    blocked_move_onto_wrong_type(2, &other);
}

/// A client that half-closes while blocked is closed without a reply, as redis-server does.
#[test]
fn half_closed_blocked_client_gets_no_reply() {
    let s = Server::start(1);
    let mut c = TcpStream::connect(("127.0.0.1", s.port)).unwrap();
    c.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    c.write_all(b"*3\r\n$5\r\nBLPOP\r\n$1\r\nq\r\n$1\r\n0\r\n")
        .unwrap();
    let mut r = s.raw();
    let start = Instant::now();
    while !r.cmd(&["INFO", "clients"]).contains("blocked_clients:1") {
        assert!(start.elapsed() < Duration::from_secs(5), "never blocked");
        std::thread::sleep(Duration::from_millis(5));
    }
    c.shutdown(Shutdown::Write).unwrap();
    let mut got = Vec::new();
    c.read_to_end(&mut got).expect("closed, not timed out");
    assert!(
        got.is_empty(),
        "no reply, got {:?}",
        String::from_utf8_lossy(&got)
    );
    // And it is no longer blocked.
    let start = Instant::now();
    while !r.cmd(&["INFO", "clients"]).contains("blocked_clients:0") {
        assert!(start.elapsed() < Duration::from_secs(5), "still blocked");
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// A supervisor restarting a crashed server on the same port: every restart binds, even
/// with connections of the killed process lingering.
#[test]
fn restarts_at_once_after_sigkill() {
    let port = free_port();
    let args: Vec<String> = [
        "--port",
        &port.to_string(),
        "--bind",
        "127.0.0.1",
        "--shards",
        "2",
        "--loglevel",
        "warning",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    for round in 0..30 {
        let s = Server::start_raw(&args, port);
        let mut conns: Vec<Raw> = (0..4).map(|_| Raw::connect(port)).collect();
        for c in conns.iter_mut() {
            assert_eq!(c.cmd(&["PING"]), "+PONG\r\n", "round {round}");
        }
        // SAFETY: kill(2) on the child this test started.
        unsafe {
            libc::kill(s.pid() as i32, libc::SIGKILL);
        }
        drop(s);
        drop(conns);
    }
}

/// One huge value moves in slices between other clients' turns: a client pinging through
/// a 64 MB SET and GET on the same core is never held up for long. The SET keeps the value
/// in the buffer it arrived in (no copy); it then reads and edits like any string.
#[test]
fn big_value_does_not_stall_other_clients() {
    let s = Server::start(1);
    let port = s.port;
    let big = std::thread::spawn(move || {
        let mut c = Raw::connect(port);
        c.stream
            .set_read_timeout(Some(Duration::from_secs(60)))
            .unwrap();
        let value = vec![b'v'; 64 << 20];
        assert_eq!(c.cmd_bytes(&[b"SET", b"huge", &value]), "+OK\r\n");
        let got = c.cmd_raw(&[b"GET", b"huge"]);
        assert_eq!(got.len(), value.len() + 13);
    });
    let mut p = s.raw();
    let mut worst = Duration::ZERO;
    let start = Instant::now();
    while !big.is_finished() && start.elapsed() < Duration::from_secs(60) {
        let t = Instant::now();
        assert_eq!(p.cmd(&["PING"]), "+PONG\r\n");
        worst = worst.max(t.elapsed());
    }
    big.join().expect("the big SET and GET");
    // The value kept in its read buffer reads and edits like any string.
    assert_eq!(p.cmd(&["STRLEN", "huge"]), format!(":{}\r\n", 64 << 20));
    assert_eq!(p.cmd(&["OBJECT", "ENCODING", "huge"]), "$3\r\nraw\r\n");
    assert_eq!(p.cmd(&["GETRANGE", "huge", "0", "2"]), "$3\r\nvvv\r\n");
    assert_eq!(
        p.cmd(&["SETRANGE", "huge", "1", "x"]),
        format!(":{}\r\n", 64 << 20)
    );
    assert_eq!(
        p.cmd(&["APPEND", "huge", "end"]),
        format!(":{}\r\n", (64 << 20) + 3)
    );
    assert_eq!(p.cmd(&["GETRANGE", "huge", "0", "2"]), "$3\r\nvxv\r\n");
    assert_eq!(p.cmd(&["GETRANGE", "huge", "-4", "-1"]), "$4\r\nvend\r\n");
    // Generous for a debug build on a loaded 2-core CI machine; release is far below.
    assert!(
        worst < Duration::from_millis(1500),
        "a PING waited {worst:?}"
    );
}
