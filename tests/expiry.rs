//! Active expiry: keys with short TTLs disappear without being accessed, and the cycle that
//! removes them never stalls the clients of its core.

use crate::harness::Server;
use std::time::{Duration, Instant};

fn info_field(c: &mut redis::Connection, section: &str, field: &str) -> String {
    let text: String = redis::cmd("INFO").arg(section).query(c).unwrap();
    text.lines()
        .find_map(|l| l.strip_prefix(&format!("{field}:")))
        .unwrap_or_else(|| panic!("INFO {section} has no {field}"))
        .trim()
        .to_string()
}

#[test]
fn short_ttls_expire_without_access_and_ping_stays_fast() {
    const KEYS: usize = 200_000;
    let srv = Server::start(2);
    let mut c = srv.client();
    for chunk in 0..KEYS / 10_000 {
        let mut pipe = redis::pipe();
        for i in chunk * 10_000..(chunk + 1) * 10_000 {
            pipe.cmd("SET")
                .arg(format!("exp:{i}"))
                .arg("v")
                .arg("PX")
                .arg(100)
                .ignore();
        }
        let _: () = pipe.query(&mut c).unwrap();
    }
    // A key without TTL must survive the cycle.
    let _: () = redis::cmd("SET")
        .arg("keep")
        .arg("1")
        .query(&mut c)
        .unwrap();

    // Measure PING latency on another connection while the keys expire.
    let mut pinger = srv.client();
    let mut max_ping = Duration::ZERO;
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut size = usize::MAX;
    while Instant::now() < deadline {
        let t = Instant::now();
        let pong: String = redis::cmd("PING").query(&mut pinger).unwrap();
        max_ping = max_ping.max(t.elapsed());
        assert_eq!(pong, "PONG");
        size = redis::cmd("DBSIZE").query(&mut c).unwrap();
        if size == 1 {
            break;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    assert_eq!(size, 1, "expired keys still counted after 10 s");
    assert!(
        max_ping < Duration::from_millis(500),
        "PING took {max_ping:?} during active expiry"
    );
    let expired: usize = info_field(&mut c, "stats", "expired_keys").parse().unwrap();
    assert_eq!(expired, KEYS);
    let v: String = redis::cmd("GET").arg("keep").query(&mut c).unwrap();
    assert_eq!(v, "1");
    let ks = info_field(&mut c, "keyspace", "db0");
    assert!(ks.starts_with("keys=1,expires=0,"), "{ks}");
}
