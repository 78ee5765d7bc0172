//! Failover driven by the real redis-sentinel (`redis-server --sentinel`, Redis 7.0): three
//! sentinels monitor a percore master and two percore replicas; the master is killed under
//! write load; a replica is promoted, redis-py's Sentinel client finds and writes to the new
//! master, every write that WAIT 1 acknowledged before the kill is there, and the old master,
//! started again, rejoins as a replica.

use crate::harness::{free_port, info_field, scratch_dir, which, Raw, Server};
use std::io::Write;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

struct Sentinel {
    child: Child,
    port: u16,
}

impl Drop for Sentinel {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn sentinel(master_port: u16) -> Sentinel {
    let bin = which("redis-server").expect("redis-server is not installed");
    let port = free_port();
    let dir = scratch_dir("sentinel");
    let conf = dir.join("sentinel.conf");
    let text = format!(
        "port {port}\nbind 127.0.0.1\ndir {}\n\
         sentinel monitor mymaster 127.0.0.1 {master_port} 2\n\
         sentinel down-after-milliseconds mymaster 1000\n\
         sentinel failover-timeout mymaster 6000\n\
         sentinel parallel-syncs mymaster 1\n",
        dir.display()
    );
    std::fs::write(&conf, text).unwrap();
    let child = Command::new(bin)
        .arg(&conf)
        .arg("--sentinel")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("cannot start redis-server --sentinel");
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "sentinel did not start");
        std::thread::sleep(Duration::from_millis(20));
    }
    Sentinel { child, port }
}

/// percore from a config file of its own (Sentinel sends CONFIG REWRITE), on `port`.
fn percore_with_conf(port: u16, extra: &str) -> Server {
    let dir = scratch_dir("percore-conf");
    let conf = dir.join("percore.conf");
    let mut f = std::fs::File::create(&conf).unwrap();
    write!(
        f,
        "port {port}\nbind 127.0.0.1\nshards 2\ndir {}\nloglevel warning\nsave \"\"\nrepl-diskless-sync-delay 0\n{extra}",
        dir.display()
    )
    .unwrap();
    Server::start_raw(&[conf.display().to_string()], port)
}

fn wait_for(what: &str, secs: u64, mut done: impl FnMut() -> bool) {
    let start = Instant::now();
    while !done() {
        assert!(
            start.elapsed() < Duration::from_secs(secs),
            "timed out waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// An INFO replication field of the server on `port`, "" when the connection was closed
/// under it (Sentinel's reconfiguration kills normal clients).
fn field_of(port: u16, field: &str) -> String {
    let mut c = Raw::connect(port);
    let mut buf = Vec::new();
    resp::write_command(&mut buf, &[b"INFO", b"replication"]);
    c.send(&buf);
    let text = c.try_read_reply().unwrap_or_default();
    text.split("\r\n")
        .find_map(|l| l.strip_prefix(&format!("{field}:")).map(str::to_string))
        .unwrap_or_default()
}

/// EXISTS on a fresh connection, retried if Sentinel closes it.
fn exists(port: u16, key: &str) -> String {
    for _ in 0..20 {
        let mut c = Raw::connect(port);
        let mut buf = Vec::new();
        resp::write_command(&mut buf, &[b"EXISTS", key.as_bytes()]);
        c.send(&buf);
        if let Some(r) = c.try_read_reply() {
            return r;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    String::new()
}

fn master_of(s: &Sentinel) -> Option<u16> {
    let mut c = Raw::connect(s.port);
    let r = c.cmd(&["SENTINEL", "GET-MASTER-ADDR-BY-NAME", "mymaster"]);
    r.split("\r\n").nth(4)?.parse().ok()
}

const CLIENT: &str = r#"
import sys, time, redis
from redis.sentinel import Sentinel
ports = [int(p) for p in sys.argv[1].split(",")]
old = int(sys.argv[2])
s = Sentinel([("127.0.0.1", p) for p in ports], socket_timeout=0.5)
m = s.master_for("mymaster", socket_timeout=0.5, retry_on_timeout=False)
deadline = time.time() + 40
while time.time() < deadline:
    try:
        m.set("pyclient", "after-failover")
        host, port = s.discover_master("mymaster")
        if port != old and m.get("pyclient") == b"after-failover":
            print(port)
            sys.exit(0)
    except (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError,
            redis.exceptions.ReadOnlyError, redis.exceptions.ResponseError):
        pass
    time.sleep(0.1)
sys.exit(1)
"#;

#[test]
fn sentinel_fails_over_percore() {
    if which("python3").is_none() {
        panic!("python3 with redis-py is needed (apt-get install -y python3-redis)");
    }
    let mport = free_port();
    let mut master = percore_with_conf(mport, "");
    let replicas: Vec<Server> = (0..2)
        .map(|_| {
            let port = free_port();
            percore_with_conf(port, &format!("replicaof 127.0.0.1 {mport}\n"))
        })
        .collect();
    let mut m = master.raw();
    wait_for("both replicas to attach", 20, || {
        info_field(&mut m, "replication", "connected_slaves") == "2"
    });
    let sentinels: Vec<Sentinel> = (0..3).map(|_| sentinel(mport)).collect();
    // The sentinels find the replicas and each other through the master.
    wait_for(
        "the sentinels to see the replicas and each other",
        30,
        || {
            sentinels.iter().all(|s| {
                let mut c = Raw::connect(s.port);
                let r = c.cmd(&["SENTINEL", "MASTER", "mymaster"]);
                let field = |name: &str| {
                    let mut it = r.split("\r\n");
                    while let Some(l) = it.next() {
                        if l == name {
                            it.next();
                            return it.next().unwrap_or("").to_string();
                        }
                    }
                    String::new()
                };
                field("num-slaves") == "2" && field("num-other-sentinels") == "2"
            })
        },
    );
    // Writes, each confirmed by WAIT 1: those acknowledged must survive the failover.
    let acked = Arc::new(Mutex::new(Vec::<String>::new()));
    let stop = Arc::new(AtomicBool::new(false));
    let writer = {
        let (acked, stop) = (acked.clone(), stop.clone());
        std::thread::spawn(move || {
            let Ok(stream) = std::net::TcpStream::connect(("127.0.0.1", mport)) else {
                return;
            };
            drop(stream);
            let mut c = Raw::connect(mport);
            for i in 0..100_000 {
                if stop.load(Ordering::Relaxed) {
                    break;
                }
                let key = format!("w:{i}");
                let mut buf = Vec::new();
                resp::write_command(&mut buf, &[b"SET", key.as_bytes(), b"v"]);
                resp::write_command(&mut buf, &[b"WAIT", b"1", b"1000"]);
                c.send(&buf);
                let (Some(set), Some(wait)) = (c.try_read_reply(), c.try_read_reply()) else {
                    break;
                };
                if set == "+OK\r\n" && wait.starts_with(':') && wait != ":0\r\n" {
                    acked.lock().unwrap().push(key);
                }
            }
        })
    };
    std::thread::sleep(Duration::from_millis(500));
    let killed_at = Instant::now();
    let _ = Command::new("kill")
        .args(["-9", &master.pid().to_string()])
        .status();
    let _ = master.wait_exit(Duration::from_secs(5));
    stop.store(true, Ordering::Relaxed);
    let _ = writer.join();
    let acked = acked.lock().unwrap().clone();
    assert!(
        acked.len() > 10,
        "too few acknowledged writes: {}",
        acked.len()
    );
    // A replica is promoted: down-after (1 s) plus the election and the promotion.
    wait_for("a replica to be promoted", 30, || {
        sentinels
            .iter()
            .all(|s| master_of(s).is_some_and(|p| p != mport))
    });
    let promoted_in = killed_at.elapsed();
    // down-after-milliseconds 1 s, failover-timeout 6 s.
    assert!(
        promoted_in < Duration::from_secs(7),
        "promoted after {promoted_in:?}"
    );
    let new_port = master_of(&sentinels[0]).unwrap();
    assert!(replicas.iter().any(|r| r.port == new_port));
    wait_for("the promoted replica to report itself master", 20, || {
        field_of(new_port, "role") == "master"
    });
    let mut n = Raw::connect(new_port);
    for key in &acked {
        let mut buf = Vec::new();
        resp::write_command(&mut buf, &[b"EXISTS", key.as_bytes()]);
        n.send(&buf);
        let reply = match n.try_read_reply() {
            Some(r) => r,
            None => {
                n = Raw::connect(new_port);
                exists(new_port, key)
            }
        };
        assert_eq!(
            reply, ":1\r\n",
            "{key} was acknowledged by WAIT 1 and is lost"
        );
    }
    // redis-py's Sentinel client finds the new master and writes to it.
    let ports: Vec<String> = sentinels.iter().map(|s| s.port.to_string()).collect();
    let out = Command::new("python3")
        .args(["-c", CLIENT, &ports.join(","), &mport.to_string()])
        .output()
        .expect("python3");
    assert!(
        out.status.success(),
        "redis-py Sentinel client: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let found: u16 = String::from_utf8_lossy(&out.stdout)
        .trim()
        .parse()
        .unwrap_or(0);
    assert!(
        replicas.iter().any(|r| r.port == found),
        "redis-py wrote to port {found}"
    );
    // The other replica follows the new master.
    let other = replicas.iter().find(|r| r.port != new_port).unwrap();
    wait_for("the other replica to follow the new master", 30, || {
        let mut o = other.raw();
        let now = master_of(&sentinels[0]).unwrap_or(0);
        (now != other.port
            && info_field(&mut o, "replication", "master_port") == now.to_string()
            && info_field(&mut o, "replication", "master_link_status") == "up")
            || (now == other.port && info_field(&mut o, "replication", "role") == "master")
    });
    // The old master comes back and is made a replica of the new one.
    let back = percore_with_conf(mport, "");
    // (Sentinel's reconfiguration closes the normal clients: a connection per look.)
    // (Under a loaded machine the sentinels may fail over again: the master is whichever
    // they name now.)
    wait_for("the old master to rejoin as a replica", 40, || {
        field_of(back.port, "role") == "slave"
            && master_of(&sentinels[0])
                .is_some_and(|p| field_of(back.port, "master_port") == p.to_string())
            && field_of(back.port, "master_link_status") == "up"
    });
    assert_eq!(exists(back.port, "pyclient"), ":1\r\n");
    eprintln!(
        "promoted in {promoted_in:?}; {} acknowledged writes kept",
        acked.len()
    );
}
