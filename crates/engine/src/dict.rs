//! The keyspace's hash table: separate chaining over a power-of-two bucket array, keyed with
//! xxh3. Written by hand (not std's HashMap) because Redis semantics need two things a
//! SwissTable cannot give: SCAN's guarantee (a key present for the whole scan is returned at
//! least once, even across resizes) via Redis' reverse-binary cursor over `hash & mask`
//! buckets, and cheap random sampling (RANDOMKEY, active expiry, eviction) by bucket index.
//!
//! Invariant: every node sits in bucket `hash & mask`; `len` counts nodes. Cost: one heap
//! node per key plus 8 bytes per bucket; load factor between 1/8 and 1.

use xxhash_rust::xxh3::xxh3_64;

pub fn hash_key(key: &[u8]) -> u64 {
    xxh3_64(key)
}

struct Node<V> {
    hash: u64,
    key: Box<[u8]>,
    val: V,
    next: Option<Box<Node<V>>>,
}

pub struct Dict<V> {
    buckets: Vec<Option<Box<Node<V>>>>,
    len: usize,
}

const MIN_BUCKETS: usize = 4;

impl<V> Default for Dict<V> {
    fn default() -> Self {
        Dict::new()
    }
}

impl<V> Dict<V> {
    pub fn new() -> Dict<V> {
        Dict {
            buckets: Vec::new(),
            len: 0,
        }
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    pub fn buckets(&self) -> usize {
        self.buckets.len()
    }

    fn mask(&self) -> u64 {
        (self.buckets.len() as u64).wrapping_sub(1)
    }

    pub fn get(&self, key: &[u8]) -> Option<&V> {
        self.find(key).map(|n| &n.val)
    }

    pub fn get_key_value(&self, key: &[u8]) -> Option<(&[u8], &V)> {
        self.find(key).map(|n| (&*n.key, &n.val))
    }

    fn find(&self, key: &[u8]) -> Option<&Node<V>> {
        if self.len == 0 {
            return None;
        }
        let hash = hash_key(key);
        let mut cur = self.buckets[(hash & self.mask()) as usize].as_deref();
        while let Some(n) = cur {
            if n.hash == hash && *n.key == *key {
                return Some(n);
            }
            cur = n.next.as_deref();
        }
        None
    }

    pub fn get_mut(&mut self, key: &[u8]) -> Option<&mut V> {
        if self.len == 0 {
            return None;
        }
        let hash = hash_key(key);
        let idx = (hash & self.mask()) as usize;
        let mut cur = self.buckets[idx].as_deref_mut();
        while let Some(n) = cur {
            if n.hash == hash && *n.key == *key {
                return Some(&mut n.val);
            }
            cur = n.next.as_deref_mut();
        }
        None
    }

    pub fn contains_key(&self, key: &[u8]) -> bool {
        self.find(key).is_some()
    }

    /// Inserts or replaces; returns the previous value.
    pub fn insert(&mut self, key: &[u8], val: V) -> Option<V> {
        if let Some(slot) = self.get_mut(key) {
            return Some(std::mem::replace(slot, val));
        }
        self.insert_new(key.into(), val);
        None
    }

    /// Inserts a key known to be absent.
    pub fn insert_new(&mut self, key: Box<[u8]>, val: V) {
        if self.len >= self.buckets.len() {
            self.resize((self.buckets.len() * 2).max(MIN_BUCKETS));
        }
        let hash = hash_key(&key);
        let idx = (hash & self.mask()) as usize;
        let next = self.buckets[idx].take();
        self.buckets[idx] = Some(Box::new(Node {
            hash,
            key,
            val,
            next,
        }));
        self.len += 1;
    }

    pub fn remove(&mut self, key: &[u8]) -> Option<(Box<[u8]>, V)> {
        if self.len == 0 {
            return None;
        }
        let hash = hash_key(key);
        let idx = (hash & self.mask()) as usize;
        let mut link = &mut self.buckets[idx];
        loop {
            match link {
                None => return None,
                Some(n) if n.hash == hash && *n.key == *key => {
                    let mut node = link.take()?;
                    *link = node.next.take();
                    self.len -= 1;
                    let out = (node.key, node.val);
                    self.maybe_shrink();
                    return Some(out);
                }
                Some(n) => link = &mut n.next,
            }
        }
    }

    fn maybe_shrink(&mut self) {
        let b = self.buckets.len();
        if b > MIN_BUCKETS && self.len * 8 < b {
            self.resize((self.len.next_power_of_two() * 2).max(MIN_BUCKETS));
        }
    }

    /// Relinks every node into a new bucket array. Nodes are moved, never reallocated.
    /// TODO(perf issue): incremental rehash; a doubling at 1M keys stalls the shard ~tens of ms.
    fn resize(&mut self, size: usize) {
        let old = std::mem::take(&mut self.buckets);
        self.buckets.resize_with(size, || None);
        let mask = self.mask();
        for mut head in old {
            while let Some(mut node) = head {
                head = node.next.take();
                let idx = (node.hash & mask) as usize;
                node.next = self.buckets[idx].take();
                self.buckets[idx] = Some(node);
            }
        }
    }

    pub fn clear(&mut self) {
        // Drop chains iteratively: a recursive Box drop of a long chain could overflow.
        for head in self.buckets.iter_mut() {
            let mut cur = head.take();
            while let Some(mut n) = cur {
                cur = n.next.take();
            }
        }
        self.buckets = Vec::new();
        self.len = 0;
    }

    pub fn iter(&self) -> impl Iterator<Item = (&[u8], &V)> {
        self.buckets.iter().flat_map(|head| {
            let mut cur = head.as_deref();
            std::iter::from_fn(move || {
                let n = cur?;
                cur = n.next.as_deref();
                Some((&*n.key, &n.val))
            })
        })
    }

    /// Visits the bucket at `cursor` and returns the next cursor (0 when done). Redis'
    /// reverse-binary increment: a key present for the whole iteration is visited at least
    /// once even if the table grows or shrinks between calls.
    pub fn scan(&self, cursor: u64, mut visit: impl FnMut(&[u8], &V)) -> u64 {
        if self.buckets.is_empty() {
            return 0;
        }
        let mask = self.mask();
        let mut cur = self.buckets[(cursor & mask) as usize].as_deref();
        while let Some(n) = cur {
            visit(&n.key, &n.val);
            cur = n.next.as_deref();
        }
        let mut v = cursor | !mask;
        v = v.reverse_bits();
        v = v.wrapping_add(1);
        v.reverse_bits()
    }

    /// A random key, roughly uniform: a random non-empty bucket, then a random node in its
    /// chain (Redis' dictGetFairRandomKey does the same with extra sampling).
    pub fn random_key(&self, rng: &mut Rng) -> Option<&[u8]> {
        if self.len == 0 {
            return None;
        }
        let mask = self.mask();
        loop {
            let idx = (rng.next_u64() & mask) as usize;
            if let Some(head) = self.buckets[idx].as_deref() {
                let mut chain = 0;
                let mut cur = Some(head);
                while let Some(n) = cur {
                    chain += 1;
                    cur = n.next.as_deref();
                }
                let mut pick = rng.next_u64() as usize % chain;
                let mut cur = head;
                while pick > 0 {
                    pick -= 1;
                    cur = cur.next.as_deref()?;
                }
                return Some(&cur.key);
            }
        }
    }
}

impl<V> Drop for Dict<V> {
    fn drop(&mut self) {
        self.clear();
    }
}

/// xorshift64*: the shard's source of randomness for sampling. Not cryptographic.
#[derive(Clone, Debug)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed | 1)
    }

    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn insert_get_remove_resize() {
        let mut d = Dict::new();
        for i in 0..10_000u32 {
            assert!(d.insert(format!("k{i}").as_bytes(), i).is_none());
        }
        assert_eq!(d.len(), 10_000);
        assert_eq!(d.insert(b"k5", 55), Some(5));
        assert_eq!(d.get(b"k5"), Some(&55));
        for i in 0..9_990u32 {
            assert!(d.remove(format!("k{i}").as_bytes()).is_some());
        }
        assert_eq!(d.len(), 10);
        assert!(d.buckets() <= 64, "shrinks: {}", d.buckets());
        assert_eq!(d.get(b"k9995"), Some(&9995));
        assert!(d.remove(b"k1").is_none());
    }

    #[test]
    fn scan_survives_resizes() {
        let mut d = Dict::new();
        for i in 0..1000u32 {
            d.insert(format!("stable{i}").as_bytes(), 0);
        }
        let mut seen = HashSet::new();
        let mut cursor = 0;
        let mut round = 0u32;
        loop {
            cursor = d.scan(cursor, |k, _| {
                seen.insert(k.to_vec());
            });
            // Grow and shrink the table under the cursor.
            round += 1;
            if round.is_multiple_of(7) {
                for j in 0..3000u32 {
                    d.insert(format!("tmp{round}-{j}").as_bytes(), 1);
                }
            } else if round % 7 == 3 {
                let tmp: Vec<Vec<u8>> = d
                    .iter()
                    .filter(|(k, _)| k.starts_with(b"tmp"))
                    .map(|(k, _)| k.to_vec())
                    .collect();
                for k in tmp {
                    d.remove(&k);
                }
            }
            if cursor == 0 {
                break;
            }
        }
        for i in 0..1000u32 {
            assert!(
                seen.contains(format!("stable{i}").as_bytes()),
                "missed stable{i}"
            );
        }
    }

    #[test]
    fn random_key_covers_keys() {
        let mut d = Dict::new();
        for i in 0..8u32 {
            d.insert(&[i as u8], ());
        }
        let mut rng = Rng::new(42);
        let seen: HashSet<Vec<u8>> = (0..1000)
            .map(|_| d.random_key(&mut rng).unwrap().to_vec())
            .collect();
        assert_eq!(seen.len(), 8);
    }
}
