//! One shard's key locks for multi-shard operations (ARCHITECTURE.md, "Atomicity across
//! shards"), as plain state: which operation holds which keys, and the lock requests waiting,
//! first come, first served among those that conflict. The core wraps it (`core::ShardLock`)
//! and does what a grant means (run a piece, wake a task); everything that decides who may
//! go is here, with tests of its own.
//!
//! An operation asks the shards it touches in ascending shard order and holds each shard's
//! keys until it releases them all, so an operation waiting on shard s holds keys only below
//! s: the wait-for graph has no cycle, and with first come, first served per key nobody
//! waits forever (`tests::random_operations_*`).

use std::collections::{HashMap, VecDeque};

/// (db, key) pairs of one shard.
pub type LockKeys = Vec<(usize, Vec<u8>)>;

/// The database of a lock request that takes every key of the shard (a snapshot's start,
/// `whole_shard`). It waits for every earlier holder and request, and everything after it
/// waits for it.
const WHOLE: usize = usize::MAX;

/// A lock request for every key of a shard.
pub fn whole_shard() -> LockKeys {
    vec![(WHOLE, Vec::new())]
}

fn is_whole(keys: &[(usize, Vec<u8>)]) -> bool {
    keys.iter().any(|k| k.0 == WHOLE)
}

/// The held keys of a shard and their holders, per database, so that a lookup by `&[u8]`
/// (every deferral check while something is held) allocates nothing; `whole` holds them all.
#[derive(Default)]
struct Held {
    keys: HashMap<usize, HashMap<Vec<u8>, u64>>,
    whole: Option<u64>,
}

impl Held {
    fn is_empty(&self) -> bool {
        self.keys.is_empty() && self.whole.is_none()
    }

    fn holder(&self, db: usize, key: &[u8]) -> Option<u64> {
        self.whole.or_else(|| self.keys.get(&db)?.get(key).copied())
    }

    fn insert(&mut self, db: usize, key: Vec<u8>, tx: u64) {
        if db == WHOLE {
            self.whole = Some(tx);
        } else {
            self.keys.entry(db).or_default().insert(key, tx);
        }
    }

    fn release(&mut self, tx: u64) {
        if self.whole == Some(tx) {
            self.whole = None;
        }
        self.keys.retain(|_, keys| {
            keys.retain(|_, t| *t != tx);
            !keys.is_empty()
        });
    }

    fn all_held_by(&self, tx: Option<u64>) -> bool {
        self.whole.is_none_or(|t| Some(t) == tx)
            && self
                .keys
                .values()
                .flat_map(|m| m.values())
                .all(|&t| Some(t) == tx)
    }

    /// Whether `keys` are free for `tx` (held by nobody else).
    fn free_for(&self, keys: &[(usize, Vec<u8>)], tx: u64) -> bool {
        if is_whole(keys) {
            self.all_held_by(Some(tx))
        } else {
            keys.iter()
                .all(|(db, k)| self.holder(*db, k).is_none_or(|t| t == tx))
        }
    }
}

struct Waiting<G> {
    tx: u64,
    keys: LockKeys,
    grant: G,
}

/// A shard's lock table; `G` is what the caller does once a request is granted.
pub struct LockTable<G> {
    held: Held,
    queue: VecDeque<Waiting<G>>,
}

impl<G> Default for LockTable<G> {
    fn default() -> Self {
        LockTable {
            held: Held::default(),
            queue: VecDeque::new(),
        }
    }
}

impl<G> LockTable<G> {
    /// Nothing is held: the common case, one check.
    pub fn is_idle(&self) -> bool {
        self.held.is_empty()
    }

    /// Whether `keys` of `db` are free for code running inside `tx` (None: outside any
    /// operation): held by nobody, or by `tx` itself.
    pub fn free_for<'k>(
        &self,
        db: usize,
        keys: impl IntoIterator<Item = &'k [u8]>,
        tx: Option<u64>,
    ) -> bool {
        self.held.is_empty()
            || keys
                .into_iter()
                .all(|k| self.held.holder(db, k).is_none_or(|t| Some(t) == tx))
    }

    /// Whether every held key belongs to `tx` (None: whether nothing is held): what a
    /// whole-keyspace write waits for.
    pub fn all_held_by(&self, tx: Option<u64>) -> bool {
        self.held.all_held_by(tx)
    }

    /// Asks for `keys` on behalf of `tx`. Granted at once (the keys are now held and `grant`
    /// comes back) when none is held by another operation or wanted by a waiting request;
    /// otherwise the request waits behind those (`grant_next`).
    pub fn request(&mut self, tx: u64, keys: LockKeys, grant: G) -> Option<G> {
        let wanted = if is_whole(&keys) {
            !self.queue.is_empty()
        } else {
            self.queue
                .iter()
                .any(|w| is_whole(&w.keys) || w.keys.iter().any(|k| keys.contains(k)))
        };
        if wanted || !self.held.free_for(&keys, tx) {
            self.queue.push_back(Waiting { tx, keys, grant });
            return None;
        }
        for (db, k) in keys {
            self.held.insert(db, k, tx);
        }
        Some(grant)
    }

    /// Drops every key `tx` holds here. Waiting requests are not granted by this: the
    /// caller lets what waited for the keys outside any operation go first, then calls
    /// `grant_next` (so nobody starves behind a stream of operations on the same keys).
    pub fn release(&mut self, tx: u64) {
        self.held.release(tx);
    }

    /// No operation holds the whole shard.
    pub fn whole_free(&self) -> bool {
        self.held.whole.is_none()
    }

    /// A busy script (ARCHITECTURE.md, "Scripts") takes the whole shard for `tx` at once,
    /// over the keys held (the whole shard must be free: `whole_free`). Their holders keep
    /// them, but what they send here waits like everything else until `release(tx)`: the
    /// script touches none of their keys, and it waits for nobody, so nothing deadlocks.
    pub fn seize_whole(&mut self, tx: u64) {
        debug_assert!(self.held.whole.is_none());
        self.held.whole = Some(tx);
    }

    pub fn has_waiting(&self) -> bool {
        !self.queue.is_empty()
    }

    /// Grants the first waiting request whose keys are neither held by another operation
    /// nor wanted by an earlier waiting request (nothing passes a waiting whole-shard
    /// request): its keys are now held; returns its operation and grant.
    pub fn grant_next(&mut self) -> Option<(u64, G)> {
        let mut earlier: Vec<&(usize, Vec<u8>)> = Vec::new();
        let mut found = None;
        for (i, w) in self.queue.iter().enumerate() {
            if earlier.iter().any(|k| k.0 == WHOLE) {
                return None;
            }
            let ready = if is_whole(&w.keys) {
                earlier.is_empty() && self.held.all_held_by(Some(w.tx))
            } else {
                w.keys.iter().all(|k| {
                    self.held.holder(k.0, &k.1).is_none_or(|t| t == w.tx) && !earlier.contains(&k)
                })
            };
            if ready {
                found = Some(i);
                break;
            }
            earlier.extend(w.keys.iter());
        }
        let w = self.queue.remove(found?)?;
        for (db, k) in w.keys {
            self.held.insert(db, k, w.tx);
        }
        Some((w.tx, w.grant))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(ks: &[&str]) -> LockKeys {
        ks.iter().map(|k| (0, k.as_bytes().to_vec())).collect()
    }

    #[test]
    fn conflicting_requests_are_granted_in_arrival_order() {
        let mut t: LockTable<&str> = LockTable::default();
        assert!(t.is_idle());
        assert_eq!(t.request(1, keys(&["a", "b"]), "one"), Some("one"));
        assert_eq!(t.request(2, keys(&["b"]), "two"), None);
        assert_eq!(t.request(3, keys(&["a", "c"]), "three"), None);
        // Free keys, but a waiting request wants "b" first: d is free, b is not.
        assert_eq!(t.request(4, keys(&["d"]), "four"), Some("four"));
        assert_eq!(t.request(5, keys(&["b", "d"]), "five"), None);
        assert!(!t.free_for(0, [&b"a"[..]], None));
        assert!(t.free_for(0, [&b"a"[..]], Some(1)));
        assert!(t.free_for(0, [&b"zz"[..]], None));
        assert_eq!(t.grant_next(), None);
        t.release(1);
        assert_eq!(t.grant_next(), Some((2, "two")));
        assert_eq!(t.grant_next(), Some((3, "three")));
        // 5 wants b (held by 2) and d (held by 4).
        assert_eq!(t.grant_next(), None);
        t.release(2);
        assert_eq!(t.grant_next(), None);
        t.release(4);
        assert_eq!(t.grant_next(), Some((5, "five")));
        t.release(3);
        t.release(5);
        assert!(t.is_idle() && !t.has_waiting());
    }

    #[test]
    fn an_operation_passes_its_own_locks() {
        let mut t: LockTable<()> = LockTable::default();
        assert!(t.request(7, keys(&["a"]), ()).is_some());
        assert!(t.request(7, keys(&["a", "b"]), ()).is_some());
        assert!(t.all_held_by(Some(7)));
        assert!(!t.all_held_by(None));
        t.release(7);
        assert!(t.all_held_by(None));
    }

    #[test]
    fn whole_shard_waits_for_everyone_and_everyone_for_it() {
        let mut t: LockTable<u8> = LockTable::default();
        assert!(t.request(1, keys(&["a"]), 1).is_some());
        assert_eq!(t.request(2, whole_shard(), 2), None);
        // Unrelated keys wait behind a waiting whole-shard request.
        assert_eq!(t.request(3, keys(&["x"]), 3), None);
        assert_eq!(t.grant_next(), None);
        t.release(1);
        assert_eq!(t.grant_next(), Some((2, 2)));
        assert!(!t.free_for(0, [&b"x"[..]], None));
        assert_eq!(t.grant_next(), None);
        t.release(2);
        assert_eq!(t.grant_next(), Some((3, 3)));
    }

    /// A tiny deterministic generator (the tests must not depend on a seed source).
    struct Rng(u64);
    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }
        fn below(&mut self, n: u64) -> u64 {
            self.next() % n
        }
    }

    /// A multi-shard operation as the core runs one: its keys per shard, locked in
    /// ascending shard order; it holds everything until the last shard grants, then
    /// releases every shard.
    struct Op {
        tx: u64,
        /// (shard, keys) in ascending shard order.
        parts: Vec<(usize, LockKeys)>,
        /// Parts granted so far; the next one is asked for once this one is.
        granted: usize,
        asked: bool,
    }

    /// Random operations over `shards` shards and a few keys, driven in a random order:
    /// every grant is exclusive, conflicting requests on a shard are granted in the order
    /// they were made, and every operation finishes (no deadlock). Together: nobody
    /// starves, since no later conflicting request is ever granted first and the earlier
    /// ones all finish.
    fn random_operations(seed: u64, shards: usize) {
        let mut rng = Rng(seed);
        let mut tables: Vec<LockTable<u64>> = (0..shards).map(|_| LockTable::default()).collect();
        let mut live: Vec<Op> = Vec::new();
        // Per shard: the order requests were made and the order they were granted, per key.
        let mut asked: Vec<Vec<(u64, LockKeys)>> = vec![Vec::new(); shards];
        let mut granted: Vec<Vec<u64>> = vec![Vec::new(); shards];
        let mut next_tx = 1;
        let mut done = 0;
        let arrivals = 400;
        while next_tx <= arrivals || !live.is_empty() {
            // Operations that can take a step: not waiting for a grant.
            let movable: Vec<usize> = (0..live.len())
                .filter(|&i| !live[i].asked || live[i].granted == live[i].parts.len())
                .collect();
            if movable.is_empty() && next_tx > arrivals {
                panic!("seed {seed}: every live operation waits for a grant (deadlock)");
            }
            if next_tx <= arrivals && (movable.is_empty() || rng.below(3) == 0) {
                let mut parts: Vec<(usize, LockKeys)> = Vec::new();
                for s in 0..shards {
                    if rng.below(2) == 0 {
                        continue;
                    }
                    let ks = if rng.below(25) == 0 {
                        whole_shard()
                    } else {
                        let n = 1 + rng.below(3);
                        (0..n)
                            .map(|_| (0, vec![b'a' + rng.below(6) as u8]))
                            .collect()
                    };
                    parts.push((s, ks));
                }
                if parts.is_empty() {
                    parts.push((0, keys(&["a"])));
                }
                live.push(Op {
                    tx: next_tx,
                    parts,
                    granted: 0,
                    asked: false,
                });
                next_tx += 1;
                continue;
            }
            // One random live operation takes its next step.
            let i = movable[rng.below(movable.len() as u64) as usize];
            let op = &mut live[i];
            if op.granted == op.parts.len() {
                for (s, _) in &op.parts {
                    tables[*s].release(op.tx);
                }
                done += 1;
                live.swap_remove(i);
                // Each shard grants what waited (the core does it after a yield).
                for (s, t) in tables.iter_mut().enumerate() {
                    while let Some((tx, g)) = t.grant_next() {
                        assert_eq!(tx, g);
                        granted[s].push(tx);
                        if let Some(o) = live.iter_mut().find(|o| o.tx == tx) {
                            o.granted += 1;
                            o.asked = false;
                        }
                    }
                }
            } else if !op.asked {
                let (s, ks) = op.parts[op.granted].clone();
                asked[s].push((op.tx, ks.clone()));
                op.asked = true;
                if let Some(g) = tables[s].request(op.tx, ks, op.tx) {
                    assert_eq!(g, op.tx);
                    granted[s].push(op.tx);
                    op.granted += 1;
                    op.asked = false;
                }
            }
            // Exclusion: no key is held by two live operations.
            for s in 0..shards {
                let holders: Vec<(u64, &LockKeys)> = live
                    .iter()
                    .filter_map(|o| {
                        let p = o.parts[..o.granted].iter().find(|p| p.0 == s)?;
                        Some((o.tx, &p.1))
                    })
                    .collect();
                for (i, (a, ka)) in holders.iter().enumerate() {
                    for (b, kb) in &holders[i + 1..] {
                        let clash =
                            is_whole(ka) || is_whole(kb) || ka.iter().any(|k| kb.contains(k));
                        assert!(
                            !clash,
                            "seed {seed}: tx {a} and {b} both hold keys of shard {s}"
                        );
                    }
                }
            }
        }
        assert_eq!(done, arrivals);
        // First come, first served: two conflicting requests on a shard are granted in the
        // order they were made.
        for s in 0..shards {
            let order: HashMap<u64, usize> = granted[s]
                .iter()
                .enumerate()
                .map(|(i, &t)| (t, i))
                .collect();
            let pos = |tx: u64| order[&tx];
            for (i, (a, ka)) in asked[s].iter().enumerate() {
                for (b, kb) in &asked[s][i + 1..] {
                    let clash = is_whole(ka) || is_whole(kb) || ka.iter().any(|k| kb.contains(k));
                    if clash {
                        assert!(
                            pos(*a) < pos(*b),
                            "seed {seed}: shard {s} granted {b} before {a}"
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn random_operations_two_shards() {
        for seed in 1..40 {
            random_operations(seed, 2);
        }
    }

    #[test]
    fn random_operations_four_shards() {
        for seed in 100..130 {
            random_operations(seed, 4);
        }
    }
}
