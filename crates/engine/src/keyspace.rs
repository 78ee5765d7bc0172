//! The keys of one database: one dict, or in cluster mode one dict per hash slot (as
//! Valkey's kvstore does), so that a slot's keys are counted and listed without walking the
//! others (CLUSTER COUNTKEYSINSLOT, GETKEYSINSLOT, a slot's migration) and without any
//! bytes added to each key.
//!
//! Per slot, a Fenwick tree over the slots' key counts finds the slot of the k-th key in
//! 14 steps: random keys and eviction samples are drawn across slots in proportion to their
//! keys, and walks (SCAN, the expiry cycle, snapshots) jump over empty slots. A walk's cursor
//! carries the slot in its low 14 bits and the slot dict's own cursor above them.

use crate::dict::{Dict, Rng, ScanAhead};

const SLOTS: usize = crate::slot::SLOTS as usize;
const SLOT_BITS: u32 = 14;
const SLOT_MASK: u64 = (1 << SLOT_BITS) - 1;

pub struct Keyspace<V> {
    /// The dict of every key (kept inline: the standalone lookup costs no extra load), or
    /// none while per slot.
    one: Dict<V>,
    /// One dict per slot (cluster mode), or none.
    slots: Vec<Dict<V>>,
    len: usize,
    /// Per slot: keys counted in a Fenwick tree (1-based; empty when not per slot).
    tree: Vec<u32>,
    /// Per slot: whether its dict is being resized (a bit per slot) and the list of them,
    /// for background rehashing.
    resizing_bits: Vec<u64>,
    resizing: Vec<u16>,
}

/// Lookahead for a walk (see `Dict::scan_ahead`), in the slot it started in.
pub struct Ahead {
    slot: usize,
    inner: ScanAhead,
}

impl<V> Default for Keyspace<V> {
    fn default() -> Self {
        Keyspace::new()
    }
}

impl<V> Keyspace<V> {
    /// One dict for every key.
    pub fn new() -> Keyspace<V> {
        Keyspace {
            one: Dict::new(),
            slots: Vec::new(),
            len: 0,
            tree: Vec::new(),
            resizing_bits: Vec::new(),
            resizing: Vec::new(),
        }
    }

    /// A dict per hash slot (cluster mode).
    pub fn per_slot() -> Keyspace<V> {
        Keyspace {
            one: Dict::new(),
            slots: (0..SLOTS).map(|_| Dict::new()).collect(),
            len: 0,
            tree: vec![0; SLOTS + 1],
            resizing_bits: vec![0; SLOTS / 64],
            resizing: Vec::new(),
        }
    }

    /// MEMORY STATS: the tables' overhead (buckets and node headers), and in cluster mode
    /// what the per-slot layout adds (a dict per slot, the count tree).
    pub fn overhead_bytes(&self) -> (usize, usize) {
        if self.slots.is_empty() {
            return (self.one.overhead_bytes(), 0);
        }
        let main = self.slots.iter().map(Dict::overhead_bytes).sum();
        let per_slot = self.slots.len() * std::mem::size_of::<Dict<V>>()
            + self.tree.len() * std::mem::size_of::<u32>()
            + self.resizing_bits.len() * 8;
        (main, per_slot)
    }

    pub fn is_per_slot(&self) -> bool {
        !self.slots.is_empty()
    }

    #[inline]
    fn index(&self, key: &[u8]) -> usize {
        if self.slots.is_empty() {
            0
        } else {
            crate::slot::key_slot(key) as usize
        }
    }

    /// Dict `i` (0: the only one when not per slot).
    #[inline]
    fn at(&self, i: usize) -> &Dict<V> {
        if self.slots.is_empty() {
            &self.one
        } else {
            &self.slots[i]
        }
    }

    #[inline]
    fn at_mut(&mut self, i: usize) -> &mut Dict<V> {
        if self.slots.is_empty() {
            &mut self.one
        } else {
            &mut self.slots[i]
        }
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    #[inline]
    pub fn get(&self, key: &[u8]) -> Option<&V> {
        self.at(self.index(key)).get(key)
    }

    pub fn get_key_value(&self, key: &[u8]) -> Option<(&[u8], &V)> {
        self.at(self.index(key)).get_key_value(key)
    }

    #[inline]
    pub fn get_mut(&mut self, key: &[u8]) -> Option<&mut V> {
        let i = self.index(key);
        self.at_mut(i).get_mut(key)
    }

    pub fn contains_key(&self, key: &[u8]) -> bool {
        self.at(self.index(key)).contains_key(key)
    }

    /// Inserts or replaces; returns the previous value.
    pub fn insert(&mut self, key: &[u8], val: V) -> Option<V> {
        let i = self.index(key);
        let old = self.at_mut(i).insert(key, val);
        if old.is_none() {
            self.counted(i, true);
        }
        old
    }

    /// Inserts a key known to be absent.
    pub fn insert_new(&mut self, key: &[u8], val: V) {
        let i = self.index(key);
        self.at_mut(i).insert_new(key, val);
        self.counted(i, true);
    }

    pub fn remove(&mut self, key: &[u8]) -> Option<V> {
        let i = self.index(key);
        let old = self.at_mut(i).remove(key);
        if old.is_some() {
            self.counted(i, false);
        }
        old
    }

    /// A key was added to (or removed from) dict `i`.
    #[inline]
    fn counted(&mut self, i: usize, added: bool) {
        if added {
            self.len += 1;
        } else {
            self.len -= 1;
        }
        if self.tree.is_empty() {
            return;
        }
        let mut j = i + 1;
        while j <= SLOTS {
            if added {
                self.tree[j] += 1;
            } else {
                self.tree[j] -= 1;
            }
            j += j & j.wrapping_neg();
        }
        if self.at(i).is_rehashing() && self.resizing_bits[i / 64] & (1 << (i % 64)) == 0 {
            self.resizing_bits[i / 64] |= 1 << (i % 64);
            self.resizing.push(i as u16);
        }
    }

    /// Keys in slots below `slot`.
    fn keys_before(&self, slot: usize) -> usize {
        let mut j = slot;
        let mut sum = 0usize;
        while j > 0 {
            sum += self.tree[j] as usize;
            j &= j - 1;
        }
        sum
    }

    /// The slot holding the `k`-th key (0-based, in slot order); `k` < len.
    fn slot_of_nth(&self, mut k: usize) -> usize {
        let mut pos = 0usize;
        let mut step = SLOTS;
        while step > 0 {
            let next = pos + step;
            if next <= SLOTS && (self.tree[next] as usize) <= k {
                k -= self.tree[next] as usize;
                pos = next;
            }
            step >>= 1;
        }
        pos
    }

    /// The first slot at or after `slot` that holds keys.
    fn next_filled(&self, slot: usize) -> Option<usize> {
        if slot >= SLOTS {
            return None;
        }
        let before = self.keys_before(slot);
        (before < self.len).then(|| self.slot_of_nth(before))
    }

    /// Keys in `slot` (0 when not per slot: the caller counts another way).
    pub fn count_in_slot(&self, slot: u16) -> usize {
        self.slots.get(slot as usize).map_or(0, |d| d.len())
    }

    /// Up to `count` keys of `slot`.
    pub fn keys_in_slot(&self, slot: u16, count: usize) -> Vec<Vec<u8>> {
        if !self.is_per_slot() {
            return Vec::new();
        }
        self.slots[slot as usize]
            .iter()
            .take(count)
            .map(|(k, _)| k.to_vec())
            .collect()
    }

    /// Sizes an empty table for `n` keys up front (one dict only: per slot, the dicts grow).
    pub fn reserve(&mut self, n: usize) {
        if !self.is_per_slot() {
            self.one.reserve(n);
        }
    }

    /// Stage one of a batched lookup of `key` (its dict hash given): see `Dict`.
    #[inline]
    pub fn prefetch_bucket(&self, key: &[u8], hash: u64) {
        self.at(self.index(key)).prefetch_bucket(hash);
    }

    #[inline]
    pub fn prefetch_node(&self, key: &[u8], hash: u64) {
        self.at(self.index(key)).prefetch_node(hash);
    }

    pub fn clear(&mut self) {
        if self.is_per_slot() {
            let mut slot = 0;
            while let Some(s) = self.next_filled(slot) {
                self.slots[s].clear();
                slot = s + 1;
            }
            for &s in &self.resizing {
                self.slots[s as usize].clear();
            }
            self.tree.iter_mut().for_each(|t| *t = 0);
            self.resizing_bits.iter_mut().for_each(|b| *b = 0);
            self.resizing.clear();
        } else {
            self.one.clear();
        }
        self.len = 0;
    }

    pub fn iter(&self) -> impl Iterator<Item = (&[u8], &V)> {
        std::iter::once(&self.one)
            .chain(self.slots.iter())
            .flat_map(|d| d.iter())
    }

    /// Visits the next bucket of a walk from `cursor` and returns the next cursor (0 when
    /// done), with `Dict::scan`'s guarantee: a key present for the whole walk is visited.
    pub fn scan(&self, cursor: u64, visit: impl FnMut(&[u8], &V)) -> u64 {
        if !self.is_per_slot() {
            return self.one.scan(cursor, visit);
        }
        let (mut slot, mut inner) = ((cursor & SLOT_MASK) as usize, cursor >> SLOT_BITS);
        if inner == 0 || self.slots[slot].is_empty() {
            match self.next_filled(slot) {
                Some(s) => {
                    if s != slot {
                        inner = 0;
                    }
                    slot = s;
                }
                None => return 0,
            }
        }
        let next = self.slots[slot].scan(inner, visit);
        if next != 0 {
            return (next << SLOT_BITS) | slot as u64;
        }
        // The slot is done: the walk goes on at the next slot with keys (its cursor is the
        // slot number alone; never 0, as it comes after this one).
        self.next_filled(slot + 1).map_or(0, |s| s as u64)
    }

    /// One SCAN call's worth of `scan` (see `Dict::scan_count`).
    pub fn scan_count(
        &self,
        mut cursor: u64,
        count: usize,
        mut visit: impl FnMut(&[u8], &V),
    ) -> u64 {
        if !self.is_per_slot() {
            return self.one.scan_count(cursor, count, visit);
        }
        let mut seen = 0usize;
        let mut budget = count.saturating_mul(10).max(1);
        loop {
            cursor = self.scan(cursor, |k, v| {
                seen += 1;
                visit(k, v);
            });
            budget -= 1;
            if cursor == 0 || seen >= count || budget == 0 {
                return cursor;
            }
        }
    }

    /// Lookahead for a walk of `scan` calls from `cursor`, in the dict it starts in.
    pub fn scan_ahead(&self, cursor: u64) -> Ahead {
        if !self.is_per_slot() {
            return Ahead {
                slot: 0,
                inner: self.one.scan_ahead(cursor),
            };
        }
        let slot = (cursor & SLOT_MASK) as usize;
        Ahead {
            slot,
            inner: self.slots[slot].scan_ahead(cursor >> SLOT_BITS),
        }
    }

    /// See `Dict::prefetch` (hints only: a walk that moved to another slot gets none).
    #[inline]
    pub fn prefetch(&self, a: &mut Ahead, heap: impl Fn(&V) -> *const u8) {
        self.at(a.slot).prefetch(&mut a.inner, heap);
    }

    /// Up to `count` keys near a random place (see `Dict::sample`); per slot, in a slot
    /// drawn in proportion to its keys.
    pub fn sample(&self, rng: &mut Rng, count: usize, visit: impl FnMut(&[u8], &V)) {
        if self.len == 0 {
            return;
        }
        let i = if self.is_per_slot() {
            self.slot_of_nth(rng.next_u64() as usize % self.len)
        } else {
            0
        };
        self.at(i).sample(rng, count, visit);
    }

    /// A random key, roughly uniform (per slot: the slot drawn in proportion to its keys).
    pub fn random_key(&self, rng: &mut Rng) -> Option<&[u8]> {
        if self.len == 0 {
            return None;
        }
        let i = if self.is_per_slot() {
            self.slot_of_nth(rng.next_u64() as usize % self.len)
        } else {
            0
        };
        self.at(i).random_key(rng)
    }

    pub fn is_rehashing(&self) -> bool {
        if self.is_per_slot() {
            !self.resizing.is_empty()
        } else {
            self.one.is_rehashing()
        }
    }

    /// Background rehashing for up to `budget`; whether a resize is still in progress.
    pub fn rehash_for(&mut self, budget: std::time::Duration) -> bool {
        if !self.is_per_slot() {
            return self.one.rehash_for(budget);
        }
        let start = std::time::Instant::now();
        while let Some(&s) = self.resizing.last() {
            let left = budget.saturating_sub(start.elapsed());
            if left.is_zero() {
                return true;
            }
            let s = s as usize;
            if !self.slots[s].rehash_for(left) {
                self.resizing.pop();
                self.resizing_bits[s / 64] &= !(1 << (s % 64));
            }
        }
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key_in_slot(slot: u16, n: usize) -> Vec<u8> {
        // Hash-tagged keys: {tag}n lands in the tag's slot.
        let mut tag = 0u64;
        loop {
            let t = format!("{{t{tag}}}");
            if crate::slot::key_slot(t.as_bytes()) == slot {
                return format!("{t}{n}").into_bytes();
            }
            tag += 1;
        }
    }

    #[test]
    fn counts_lists_and_walks_per_slot() {
        let mut ks: Keyspace<u32> = Keyspace::per_slot();
        let mut all = Vec::new();
        for (slot, n) in [(0u16, 3usize), (7, 1), (5000, 40), (16383, 2)] {
            for i in 0..n {
                let k = key_in_slot(slot, i);
                ks.insert_new(&k, i as u32);
                all.push(k);
            }
        }
        assert_eq!(ks.len(), 46);
        assert_eq!(ks.count_in_slot(5000), 40);
        assert_eq!(ks.count_in_slot(1), 0);
        assert_eq!(ks.keys_in_slot(0, 10).len(), 3);
        assert_eq!(ks.keys_in_slot(5000, 10).len(), 10);
        // A walk sees every key once (no resizes in between).
        let mut seen = Vec::new();
        let mut cursor = 0;
        loop {
            cursor = ks.scan(cursor, |k, _| seen.push(k.to_vec()));
            if cursor == 0 {
                break;
            }
        }
        seen.sort();
        all.sort();
        assert_eq!(seen, all);
        // Random keys come from every slot, roughly by weight.
        let mut rng = Rng::new(7);
        let mut in_big = 0;
        for _ in 0..1000 {
            let k = ks.random_key(&mut rng).unwrap().to_vec();
            if crate::slot::key_slot(&k) == 5000 {
                in_big += 1;
            }
        }
        assert!((700..=950).contains(&in_big), "{in_big}");
        for k in &all {
            assert!(ks.remove(k).is_some());
        }
        assert_eq!(ks.len(), 0);
        assert_eq!(ks.scan(0, |_, _| panic!("empty")), 0);
        assert!(ks.random_key(&mut rng).is_none());
    }

    #[test]
    fn fenwick_finds_slots() {
        let mut ks: Keyspace<()> = Keyspace::per_slot();
        for slot in [3u16, 100, 16383] {
            ks.insert_new(&key_in_slot(slot, 0), ());
        }
        assert_eq!(ks.next_filled(0), Some(3));
        assert_eq!(ks.next_filled(4), Some(100));
        assert_eq!(ks.next_filled(101), Some(16383));
        assert_eq!(ks.next_filled(16384), None);
        assert_eq!(ks.slot_of_nth(2), 16383);
        ks.clear();
        assert_eq!(ks.next_filled(0), None);
    }
}
