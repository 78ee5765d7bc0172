//! Smoke tests that every shard count serves strings and keys through a real client.

use crate::harness::Server;
use redis::Commands;

fn strings_and_keys(shards: usize) {
    let srv = Server::start(shards);
    let mut c = srv.client();
    for i in 0..200 {
        let _: () = c.set(format!("key:{i}"), i).unwrap();
    }
    for i in 0..200 {
        let v: i64 = c.get(format!("key:{i}")).unwrap();
        assert_eq!(v, i);
    }
    let n: usize = redis::cmd("DBSIZE").query(&mut c).unwrap();
    assert_eq!(n, 200);
    let keys: Vec<String> = (0..50).map(|i| format!("key:{i}")).collect();
    let vals: Vec<Option<i64>> = c.mget(&keys).unwrap();
    assert_eq!(vals, (0..50).map(Some).collect::<Vec<_>>());
    let deleted: usize = c.del(&keys).unwrap();
    assert_eq!(deleted, 50);
    let n: usize = redis::cmd("DBSIZE").query(&mut c).unwrap();
    assert_eq!(n, 150);
}

#[test]
fn one_shard() {
    strings_and_keys(1);
}

#[test]
fn two_shards() {
    strings_and_keys(2);
}

#[test]
fn four_shards_on_two_cores() {
    strings_and_keys(4);
}

#[test]
fn unix_socket_serves_clients() {
    use std::io::{Read, Write};
    let dir = crate::harness::scratch_dir("unixsock");
    let path = dir.join("percore.sock");
    let path_s = path.display().to_string();
    let srv = Server::start_with(2, &["--unixsocket", &path_s, "--unixsocketperm", "700"]);
    let mut s = std::os::unix::net::UnixStream::connect(&path).expect("unix socket accepts");
    s.write_all(b"SET u 1\r\nGET u\r\nCLIENT INFO\r\n").unwrap();
    s.set_read_timeout(Some(std::time::Duration::from_secs(5)))
        .unwrap();
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    while !String::from_utf8_lossy(&got).contains("resp=2") {
        let n = s.read(&mut buf).unwrap();
        assert!(n > 0, "closed early: {:?}", String::from_utf8_lossy(&got));
        got.extend_from_slice(&buf[..n]);
    }
    let text = String::from_utf8_lossy(&got);
    assert!(text.starts_with("+OK\r\n$1\r\n1\r\n"), "{text}");
    assert!(text.contains(&format!("addr={path_s}:0")), "{text}");
    assert!(text.contains("flags=U"), "{text}");
    // The TCP side sees the same keyspace.
    let mut c = srv.client();
    let v: String = c.get("u").unwrap();
    assert_eq!(v, "1");
    drop(srv);
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn example_config_file_starts_with_its_defaults() {
    let port = crate::harness::free_port();
    let conf = concat!(env!("CARGO_MANIFEST_DIR"), "/config/percore.conf").to_string();
    let args = vec![
        conf,
        "--port".into(),
        port.to_string(),
        "--shards".into(),
        "2".into(),
    ];
    let srv = Server::start_raw(&args, port);
    let mut c = srv.client();
    let bind: Vec<String> = redis::cmd("CONFIG")
        .arg("GET")
        .arg("bind")
        .query(&mut c)
        .unwrap();
    assert_eq!(bind, vec!["bind".to_string(), "127.0.0.1 -::1".to_string()]);
    let dbs: Vec<String> = redis::cmd("CONFIG")
        .arg("GET")
        .arg("databases")
        .query(&mut c)
        .unwrap();
    assert_eq!(dbs[1], "16");
    let info: String = redis::cmd("INFO").arg("server").query(&mut c).unwrap();
    assert!(info.contains("shards:2"), "{info}");
    assert!(
        info.contains("config_file:") && info.contains("percore.conf"),
        "{info}"
    );
}

/// SORT whose BY/GET patterns and STORE destination name keys on other shards answers as
/// one redis-server would.
#[test]
fn sort_patterns_across_shards() {
    let srv = Server::start(4);
    let mut c = srv.client();
    let ids: Vec<String> = (0..20).map(|i| i.to_string()).collect();
    let _: i64 = redis::cmd("RPUSH")
        .arg("ids")
        .arg(&ids)
        .query(&mut c)
        .unwrap();
    for i in 0..20 {
        // Weights reverse the order; names and a hash field live under other keys.
        let _: () = redis::cmd("SET")
            .arg(format!("w_{i}"))
            .arg(100 - i)
            .query(&mut c)
            .unwrap();
        let _: () = redis::cmd("SET")
            .arg(format!("name_{i}"))
            .arg(format!("n{i}"))
            .query(&mut c)
            .unwrap();
        let _: i64 = redis::cmd("HSET")
            .arg(format!("h_{i}"))
            .arg("f")
            .arg(i * 2)
            .query(&mut c)
            .unwrap();
    }
    let got: Vec<Option<String>> = redis::cmd("SORT")
        .arg("ids")
        .arg("BY")
        .arg("w_*")
        .arg("LIMIT")
        .arg(0)
        .arg(3)
        .arg("GET")
        .arg("name_*")
        .arg("GET")
        .arg("h_*->f")
        .arg("GET")
        .arg("#")
        .arg("GET")
        .arg("missing_*")
        .query(&mut c)
        .unwrap();
    let want: Vec<Option<String>> = [19, 18, 17]
        .iter()
        .flat_map(|i| {
            [
                Some(format!("n{i}")),
                Some((i * 2).to_string()),
                Some(i.to_string()),
                None,
            ]
        })
        .collect();
    assert_eq!(got, want);
    let n: i64 = redis::cmd("SORT")
        .arg("ids")
        .arg("BY")
        .arg("h_*->f")
        .arg("DESC")
        .arg("GET")
        .arg("name_*")
        .arg("STORE")
        .arg("sorted")
        .query(&mut c)
        .unwrap();
    assert_eq!(n, 20);
    let stored: Vec<String> = redis::cmd("LRANGE")
        .arg("sorted")
        .arg(0)
        .arg(2)
        .query(&mut c)
        .unwrap();
    assert_eq!(stored, ["n19", "n18", "n17"]);
}
