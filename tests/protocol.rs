//! Protocol robustness against the real binary: deep pipelines across shards, inline
//! commands, malformed input (compared byte for byte with a real redis-server 7.0), commands
//! split across writes, large values, and the error texts clients match on.

use crate::harness::{Raw, Server};
use redis::Commands;
use std::io::{Read, Write};
use std::time::{Duration, Instant};

/// Builds 10,000 interleaved SET/GET/INCR/MGET/DEL commands over 64 keys (spread over every
/// shard by the slot hash) and the exact bytes a correct server answers, from a model.
fn pipeline_script() -> (Vec<u8>, Vec<u8>, usize) {
    const N: usize = 10_000;
    const KEYS: usize = 64;
    let mut vals: Vec<Option<String>> = vec![None; KEYS];
    let mut counters = vec![0i64; KEYS];
    let (mut req, mut want) = (Vec::new(), Vec::new());
    let bulk = |w: &mut Vec<u8>, v: &Option<String>| match v {
        Some(s) => w.extend_from_slice(format!("${}\r\n{s}\r\n", s.len()).as_bytes()),
        None => w.extend_from_slice(b"$-1\r\n"),
    };
    for i in 0..N {
        let j = (i * 7 + i / 5) % KEYS;
        let key = format!("pk:{j}");
        match i % 5 {
            0 => {
                let v = format!("v{i}");
                resp::write_command(&mut req, &[b"SET", key.as_bytes(), v.as_bytes()]);
                want.extend_from_slice(b"+OK\r\n");
                vals[j] = Some(v);
            }
            1 => {
                resp::write_command(&mut req, &[b"GET", key.as_bytes()]);
                bulk(&mut want, &vals[j]);
            }
            2 => {
                let ck = format!("cnt:{j}");
                resp::write_command(&mut req, &[b"INCR", ck.as_bytes()]);
                counters[j] += 1;
                want.extend_from_slice(format!(":{}\r\n", counters[j]).as_bytes());
            }
            3 => {
                let (a, b) = ((j + 7) % KEYS, (j + 13) % KEYS);
                let (ka, kb) = (format!("pk:{a}"), format!("pk:{b}"));
                resp::write_command(
                    &mut req,
                    &[b"MGET", key.as_bytes(), ka.as_bytes(), kb.as_bytes()],
                );
                want.extend_from_slice(b"*3\r\n");
                for k in [j, a, b] {
                    bulk(&mut want, &vals[k]);
                }
            }
            _ => {
                resp::write_command(&mut req, &[b"DEL", key.as_bytes()]);
                let n = vals[j].take().is_some() as i64;
                want.extend_from_slice(format!(":{n}\r\n").as_bytes());
            }
        }
    }
    (req, want, N)
}

fn pipeline_10k(shards: usize) {
    let srv = Server::start(shards);
    let (req, want, n) = pipeline_script();
    let mut raw = srv.raw();
    // One write of the whole pipeline, from another thread, so neither side can block the
    // other on a full socket buffer.
    let mut w = raw.stream.try_clone().expect("clone");
    let writer = std::thread::spawn(move || w.write_all(&req));
    let mut got = String::new();
    for _ in 0..n {
        got.push_str(&raw.read_reply());
    }
    writer.join().expect("writer").expect("write");
    let want = String::from_utf8(want).expect("utf8");
    if got != want {
        let at = got
            .bytes()
            .zip(want.bytes())
            .position(|(a, b)| a != b)
            .unwrap_or(got.len().min(want.len()));
        let ctx = |s: &str| s[at.saturating_sub(80)..(at + 80).min(s.len())].to_string();
        panic!(
            "pipeline replies differ at byte {at} ({shards} shards):\n got: {:?}\nwant: {:?}",
            ctx(&got),
            ctx(&want)
        );
    }
    // The connection is still in sync afterwards.
    assert_eq!(raw.cmd(&["PING"]), "+PONG\r\n");
}

#[test]
fn pipeline_10k_one_shard() {
    pipeline_10k(1);
}

#[test]
fn pipeline_10k_two_shards() {
    pipeline_10k(2);
}

#[test]
fn pipeline_10k_four_shards() {
    pipeline_10k(4);
}

#[test]
fn inline_commands() {
    let srv = Server::start(2);
    let mut r = srv.raw();
    r.send(b"PING\r\n");
    assert_eq!(r.read_reply(), "+PONG\r\n");
    r.send(b"SET a \"b c\"\r\n");
    assert_eq!(r.read_reply(), "+OK\r\n");
    r.send(b"GET a\r\n");
    assert_eq!(r.read_reply(), "$3\r\nb c\r\n");
    // Single quotes, escapes in double quotes, a bare \n line end, empty lines in between.
    r.send(b"\r\n\r\n\nSET 'x y' \"\\x41\\n\"\n\r\nGET 'x y'\r\n");
    assert_eq!(r.read_reply(), "+OK\r\n");
    assert_eq!(r.read_reply(), "$2\r\nA\n\r\n");
    r.send(b"  ECHO   'it\\'s'  \r\n");
    assert_eq!(r.read_reply(), "$4\r\nit's\r\n");
    // Inline and multibulk mixed in one write.
    r.send(b"PING\r\n*2\r\n$4\r\nECHO\r\n$2\r\nhi\r\nPING x\r\n");
    assert_eq!(r.read_reply(), "+PONG\r\n");
    assert_eq!(r.read_reply(), "$2\r\nhi\r\n");
    assert_eq!(r.read_reply(), "$1\r\nx\r\n");
}

/// The server parses a read's commands ahead of running them (to prefetch their keys): the
/// commands still run strictly in order, an inline command between multibulk ones keeps its
/// place, and nothing after QUIT runs.
#[test]
fn parsed_ahead_commands_run_in_order_and_stop_at_quit() {
    let srv = Server::start(2);
    let mut input = Vec::new();
    let mut want = String::new();
    for i in 0..100 {
        if i % 37 == 5 {
            input.extend_from_slice(format!("INCR n{}\r\n", i % 3).as_bytes());
        } else {
            resp::write_command(&mut input, &[b"INCR", format!("n{}", i % 3).as_bytes()]);
        }
        want.push_str(&format!(":{}\r\n", i / 3 + 1));
    }
    resp::write_command(&mut input, &[b"QUIT"]);
    want.push_str("+OK\r\n");
    for _ in 0..10 {
        resp::write_command(&mut input, &[b"INCR", b"after-quit"]);
    }
    assert_eq!(
        send_until_closed(srv.port, &input).as_deref(),
        Some(want.as_str())
    );
    let mut r = srv.raw();
    assert_eq!(r.cmd(&["EXISTS", "after-quit"]), ":0\r\n");
    assert_eq!(r.cmd(&["GET", "n1"]), "$2\r\n33\r\n");
}

/// Malformed inputs and Redis 7.0's exact reply; each closes the connection.
const MALFORMED: &[(&str, &[u8], &str)] = &[
    (
        "multibulk length",
        b"*abc\r\n",
        "-ERR Protocol error: invalid multibulk length\r\n",
    ),
    (
        "multibulk count > INT_MAX",
        b"*3000000000\r\n",
        "-ERR Protocol error: invalid multibulk length\r\n",
    ),
    (
        "expected $",
        b"*1\r\nfoo\r\n",
        "-ERR Protocol error: expected '$', got 'f'\r\n",
    ),
    (
        "bulk length",
        b"*1\r\n$x\r\n",
        "-ERR Protocol error: invalid bulk length\r\n",
    ),
    (
        "negative bulk length",
        b"*1\r\n$-5\r\n",
        "-ERR Protocol error: invalid bulk length\r\n",
    ),
    (
        "bulk length 2^40",
        b"*1\r\n$1099511627776\r\n",
        "-ERR Protocol error: invalid bulk length\r\n",
    ),
    (
        "unbalanced quotes",
        b"SET a \"b\r\n",
        "-ERR Protocol error: unbalanced quotes in request\r\n",
    ),
    (
        "error after good commands",
        b"PING\r\n*1\r\n$4\r\nPING\r\n*x\r\nPING\r\n",
        "+PONG\r\n+PONG\r\n-ERR Protocol error: invalid multibulk length\r\n",
    ),
];

/// Sends `input` on a fresh connection and returns everything the server wrote until it
/// closed the connection (None if it stayed open for 3 s).
fn send_until_closed(port: u16, input: &[u8]) -> Option<String> {
    let mut r = Raw::connect(port);
    r.stream.set_read_timeout(Some(Duration::from_secs(3))).ok();
    r.send(input);
    let mut out = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(3);
    let mut buf = [0u8; 4096];
    while Instant::now() < deadline {
        match r.stream.read(&mut buf) {
            Ok(0) => return Some(String::from_utf8_lossy(&out).into_owned()),
            Ok(n) => out.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => {
                return Some(String::from_utf8_lossy(&out).into_owned())
            }
            Err(_) => return None,
        }
    }
    None
}

#[test]
fn malformed_input_matches_redis_and_closes_only_that_client() {
    let srv = Server::start(2);
    let redis = Server::redis();
    let mut bystander = srv.client();
    let _: () = bystander.set("alive", "yes").unwrap();
    for (what, input, want) in MALFORMED {
        let real = send_until_closed(redis.port, input);
        assert_eq!(real.as_deref(), Some(*want), "redis-server on {what}");
        let got = send_until_closed(srv.port, input);
        assert_eq!(got.as_deref(), Some(*want), "percore on {what}");
        // Another client is unaffected and the server is still up.
        let v: String = bystander.get("alive").unwrap();
        assert_eq!(v, "yes", "bystander after {what}");
    }
    // Too long inline request (64 KiB without a newline).
    let long = vec![b'a'; 70 * 1024];
    let want = "-ERR Protocol error: too big inline request\r\n";
    assert_eq!(send_until_closed(redis.port, &long).as_deref(), Some(want));
    assert_eq!(send_until_closed(srv.port, &long).as_deref(), Some(want));
    let mut r = srv.raw();
    assert_eq!(r.cmd(&["PING"]), "+PONG\r\n");
}

/// Resident memory of a process, from /proc (bytes).
fn rss(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("proc status");
    let kb: u64 = status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .expect("VmRSS");
    kb * 1024
}

#[test]
fn huge_announced_sizes_are_not_allocated_up_front() {
    let srv = Server::start(2);
    let before = rss(srv.pid());
    // A valid but huge argument count and a bulk just under proto-max-bulk-len (512 MiB):
    // both legal, so the server must wait for the bytes instead of reserving for them.
    let mut a = srv.raw();
    a.send(b"*2147483647\r\n$4\r\nPING\r\n");
    let mut b = srv.raw();
    b.send(b"*1\r\n$536870000\r\n");
    b.send(&[b'x'; 4096]);
    std::thread::sleep(Duration::from_millis(300));
    let mut c = srv.raw();
    assert_eq!(c.cmd(&["PING"]), "+PONG\r\n");
    let after = rss(srv.pid());
    assert!(
        after < before + (64 << 20),
        "RSS grew from {before} to {after} bytes for announced sizes"
    );
    // Both partial commands are still pending, not answered and not closed.
    for r in [&mut a, &mut b] {
        r.stream
            .set_read_timeout(Some(Duration::from_millis(200)))
            .ok();
        let mut buf = [0u8; 16];
        let res = r.stream.read(&mut buf);
        assert!(
            matches!(&res, Err(e) if e.kind() == std::io::ErrorKind::WouldBlock
                || e.kind() == std::io::ErrorKind::TimedOut),
            "partial command got {res:?}"
        );
    }
}

#[test]
fn command_split_byte_by_byte() {
    let srv = Server::start(2);
    let mut r = srv.raw();
    r.stream.set_nodelay(true).ok();
    let mut cmd = Vec::new();
    resp::write_command(&mut cmd, &[b"SET", b"split:key", b"split value"]);
    cmd.extend_from_slice(b"GET split:key\r\n");
    for b in &cmd {
        r.send(std::slice::from_ref(b));
        std::thread::sleep(Duration::from_micros(300));
    }
    assert_eq!(r.read_reply(), "+OK\r\n");
    assert_eq!(r.read_reply(), "$11\r\nsplit value\r\n");
}

#[test]
fn ten_megabyte_value_round_trip() {
    let srv = Server::start(2);
    let mut c = srv.client();
    let value: Vec<u8> = (0..10 * 1024 * 1024u32)
        .map(|i| (i.wrapping_mul(2654435761) >> 24) as u8)
        .collect();
    let _: () = c.set("big", &value).unwrap();
    let got: Vec<u8> = c.get("big").unwrap();
    assert_eq!(got.len(), value.len());
    assert!(got == value, "10 MB value came back different");
    let n: usize = redis::cmd("STRLEN").arg("big").query(&mut c).unwrap();
    assert_eq!(n, value.len());
}

#[test]
fn unknown_command_and_arity_errors() {
    let srv = Server::start(2);
    let mut r = srv.raw();
    assert_eq!(
        r.cmd(&["foo", "a", "b"]),
        "-ERR unknown command 'foo', with args beginning with: 'a' 'b' \r\n"
    );
    assert_eq!(
        r.cmd(&["foo"]),
        "-ERR unknown command 'foo', with args beginning with: \r\n"
    );
    assert_eq!(
        r.cmd(&["GET"]),
        "-ERR wrong number of arguments for 'get' command\r\n"
    );
    assert_eq!(
        r.cmd(&["SET", "k"]),
        "-ERR wrong number of arguments for 'set' command\r\n"
    );
    assert_eq!(
        r.cmd(&["CLIENT", "ID", "x"]),
        "-ERR wrong number of arguments for 'client|id' command\r\n"
    );
    // Errors do not close the connection.
    assert_eq!(r.cmd(&["PING"]), "+PONG\r\n");
}

#[test]
fn unauthenticated_clients_get_small_limits() {
    let srv = Server::start_with(2, &["--requirepass", "pw"]);
    let cases: &[(&[u8], &str)] = &[
        (
            b"*11\r\n",
            "-ERR Protocol error: unauthenticated multibulk length\r\n",
        ),
        (
            b"*2\r\n$4\r\nPING\r\n$16385\r\n",
            "-ERR Protocol error: unauthenticated bulk length\r\n",
        ),
    ];
    for (input, want) in cases {
        assert_eq!(send_until_closed(srv.port, input).as_deref(), Some(*want));
    }
    // Once authenticated, the same shapes are fine.
    let mut r = srv.raw();
    assert_eq!(r.cmd(&["AUTH", "pw"]), "+OK\r\n");
    let big = "x".repeat(20_000);
    let args: Vec<&str> = vec!["MSET", "a", "1", "b", "2", "c", "3", "d", "4", "e", &big];
    assert_eq!(r.cmd(&args), "+OK\r\n");
}
