//! Each maxmemory policy's choice on small crafted datasets: what `Shard::evict` deletes,
//! and what it never touches. Memory is simulated: every reading is 100 bytes less than
//! the one before, so each deletion (read around) "frees" 100 and a goal of 100 * n evicts
//! n keys.

mod common;

use common::T;
use engine::evict::{Outcome, Policy, Settings};
use std::time::{Duration, Instant};

fn with_policy(policy: Policy) -> T {
    let mut t = T::new();
    t.s.eviction = Settings {
        policy,
        samples: 64,
        ..Settings::default()
    };
    t
}

/// Evicts `n` keys' worth; returns the outcome.
fn evict(t: &mut T, n: i64) -> Outcome {
    let mut used = 1_000_000i64;
    let mut mem = move || {
        used -= 100;
        used
    };
    t.s.evict(100 * n, &mut mem, Instant::now() + Duration::from_secs(5))
}

fn exists(t: &mut T, key: &str) -> bool {
    t.cmd(&format!("exists {key}")) == b":1\r\n"
}

#[test]
fn noeviction_evicts_nothing() {
    let mut t = with_policy(Policy::NoEviction);
    t.cmd("set a 1");
    assert_eq!(evict(&mut t, 1), Outcome::Nothing);
    assert!(exists(&mut t, "a"));
}

#[test]
fn volatile_ttl_evicts_the_nearest_expiry_first() {
    let mut t = with_policy(Policy::VolatileTtl);
    t.cmd("set far 1 ex 3000");
    t.cmd("set near 1 ex 10");
    t.cmd("set mid 1 ex 500");
    t.cmd("set forever 1");
    assert_eq!(evict(&mut t, 1), Outcome::Freed);
    assert!(!exists(&mut t, "near"));
    assert_eq!(evict(&mut t, 1), Outcome::Freed);
    assert!(!exists(&mut t, "mid"));
    assert_eq!(evict(&mut t, 1), Outcome::Freed);
    assert!(!exists(&mut t, "far"));
    // Only persistent keys left: nothing a volatile policy may take.
    assert_eq!(evict(&mut t, 1), Outcome::Nothing);
    assert!(exists(&mut t, "forever"));
    assert_eq!(t.s.stats.evicted_keys, 3);
}

#[test]
fn volatile_policies_never_touch_persistent_keys() {
    for policy in [
        Policy::VolatileLru,
        Policy::VolatileLfu,
        Policy::VolatileRandom,
        Policy::VolatileTtl,
    ] {
        let mut t = with_policy(policy);
        for i in 0..50 {
            t.cmd(&format!("set p{i} 1"));
        }
        for i in 0..10 {
            t.cmd(&format!("set v{i} 1 px 100000"));
        }
        assert_eq!(evict(&mut t, 100), Outcome::Nothing, "{policy:?}");
        for i in 0..50 {
            assert!(exists(&mut t, &format!("p{i}")), "{policy:?}");
        }
        assert_eq!(t.s.stats.evicted_keys, 10, "{policy:?}");
    }
}

#[test]
fn allkeys_lru_evicts_the_longest_idle() {
    let mut t = with_policy(Policy::AllKeysLru);
    for i in 0..10 {
        t.cmd(&format!("set k{i} 1"));
    }
    t.advance(5_000);
    // Read all but k3 and k7 five seconds later: those two are the idlest.
    for i in (0..10).filter(|i| *i != 3 && *i != 7) {
        t.cmd(&format!("get k{i}"));
    }
    assert_eq!(evict(&mut t, 2), Outcome::Freed);
    assert!(!exists(&mut t, "k3") && !exists(&mut t, "k7"));
    let left = (0..10).filter(|i| exists(&mut t, &format!("k{i}"))).count();
    assert_eq!(left, 8);
}

#[test]
fn allkeys_lfu_evicts_the_least_used() {
    let mut t = with_policy(Policy::AllKeysLfu);
    for i in 0..10 {
        t.cmd(&format!("set k{i} 1"));
    }
    // Every key but k4 read a few times: k4 keeps the initial counter.
    for _ in 0..3 {
        for i in (0..10).filter(|i| *i != 4) {
            t.cmd(&format!("get k{i}"));
        }
    }
    assert_eq!(t.cmd("object freq k4"), b":5\r\n");
    assert_eq!(evict(&mut t, 1), Outcome::Freed);
    assert!(!exists(&mut t, "k4"));
}

#[test]
fn allkeys_random_empties_every_database() {
    let mut t = with_policy(Policy::AllKeysRandom);
    for db in 0..3 {
        t.db = db;
        for i in 0..5 {
            t.cmd(&format!("set k{i} 1"));
        }
    }
    assert_eq!(evict(&mut t, 15), Outcome::Freed);
    assert_eq!(evict(&mut t, 1), Outcome::Nothing);
    for db in 0..3 {
        t.db = db;
        assert!((0..5).all(|i| !exists(&mut t, &format!("k{i}"))));
    }
}

/// Evicted keys are journaled as DEL (the AOF and replicas drop them too).
#[test]
fn evicted_keys_are_journaled_as_del() {
    let mut t = with_policy(Policy::AllKeysRandom);
    t.cmd("set only 1");
    t.s.journal.set_enabled(true);
    assert_eq!(evict(&mut t, 1), Outcome::Freed);
    let recorded = String::from_utf8_lossy(&t.s.journal.take()).into_owned();
    assert!(
        recorded.ends_with("$3\r\nDEL\r\n$4\r\nonly\r\n"),
        "{recorded:?}"
    );
}
