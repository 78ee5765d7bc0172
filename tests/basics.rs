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
