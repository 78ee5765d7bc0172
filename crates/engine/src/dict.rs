//! The keyspace's hash table: separate chaining over a power-of-two bucket array, keyed with
//! xxh3. Written by hand (not std's HashMap) because Redis semantics need two things a
//! SwissTable cannot give: SCAN's guarantee (a key present for the whole scan is returned at
//! least once, even across resizes) via Redis' reverse-binary cursor over `hash & mask`
//! buckets, and cheap random sampling (RANDOMKEY, active expiry, eviction) by bucket index.
//!
//! Layout: one heap allocation per key, holding the value, the chain link, the key's length and
//! the key's bytes right after them (no separate key allocation, no stored hash: a resize
//! rehashes, which costs less than 8 bytes per key would). With the engine's 40-byte values a
//! 12-byte key and its 32-byte string value fit one 80-byte allocation; the bucket array adds
//! 8 bytes per bucket at a load factor between 1/8 and 1.
//!
//! Invariants: every node sits in bucket `hash(key) & mask`; `len` counts nodes; each node was
//! allocated by `Node::alloc` with `Node::layout(key_len)` and is owned by exactly one link.

use std::alloc::{self, Layout};
use std::marker::PhantomData;
use std::mem::{align_of, offset_of, size_of};
use std::ptr::{self, NonNull};

use xxhash_rust::xxh3::xxh3_64;

pub fn hash_key(key: &[u8]) -> u64 {
    xxh3_64(key)
}

/// A node's fixed part; `key_len` bytes of key follow at `KEY_OFFSET` in the same allocation.
/// `repr(C)` with the value first so the key starts right after `key_len`, inside what would
/// otherwise be tail padding.
#[repr(C)]
struct Node<V> {
    val: V,
    next: Link<V>,
    key_len: u32,
}

type Link<V> = Option<NonNull<Node<V>>>;

impl<V> Node<V> {
    const KEY_OFFSET: usize = offset_of!(Node<V>, key_len) + size_of::<u32>();

    fn layout(key_len: usize) -> Layout {
        let size = (Self::KEY_OFFSET + key_len).max(size_of::<Node<V>>());
        match Layout::from_size_align(size, align_of::<Node<V>>()) {
            Ok(l) => l.pad_to_align(),
            Err(_) => panic!("key of {key_len} bytes is too large"),
        }
    }

    fn alloc(key: &[u8], val: V, next: Link<V>) -> NonNull<Node<V>> {
        let key_len = u32::try_from(key.len()).expect("keys are at most 512 MB");
        let layout = Self::layout(key.len());
        // SAFETY: the layout has a non-zero size (it holds a Node). The node is written whole
        // before the key is copied behind it, so the key overwrites only padding, and the
        // allocation is large enough for both (`layout`).
        unsafe {
            let p = alloc::alloc(layout) as *mut Node<V>;
            let Some(p) = NonNull::new(p) else {
                alloc::handle_alloc_error(layout)
            };
            p.as_ptr().write(Node { val, next, key_len });
            ptr::copy_nonoverlapping(
                key.as_ptr(),
                (p.as_ptr() as *mut u8).add(Self::KEY_OFFSET),
                key.len(),
            );
            p
        }
    }

    /// The key bytes of a live node.
    ///
    /// # Safety
    /// `p` must point to a live node; the slice must not outlive it.
    unsafe fn key<'a>(p: NonNull<Node<V>>) -> &'a [u8] {
        let len = (*p.as_ptr()).key_len as usize;
        std::slice::from_raw_parts((p.as_ptr() as *const u8).add(Self::KEY_OFFSET), len)
    }

    /// Frees a node that no link refers to any more and returns its value.
    ///
    /// # Safety
    /// `p` must be live, unlinked, and never used again.
    unsafe fn free(p: NonNull<Node<V>>) -> V {
        let layout = Self::layout((*p.as_ptr()).key_len as usize);
        let val = ptr::read(ptr::addr_of!((*p.as_ptr()).val));
        alloc::dealloc(p.as_ptr() as *mut u8, layout);
        val
    }
}

pub struct Dict<V> {
    buckets: Vec<Link<V>>,
    len: usize,
    /// The dict owns its nodes (and so their values) as a `Box` would.
    _owns: PhantomData<Box<Node<V>>>,
}

// SAFETY: a Dict owns its nodes exclusively (no sharing between dicts or threads), like a
// Vec<Box<(V, [u8])>>; moving it to another thread moves the values with it.
unsafe impl<V: Send> Send for Dict<V> {}
// SAFETY: shared access only hands out shared references to values and keys.
unsafe impl<V: Sync> Sync for Dict<V> {}

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
            _owns: PhantomData,
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

    fn bucket_of(&self, key: &[u8]) -> usize {
        (hash_key(key) & self.mask()) as usize
    }

    /// The chain starting at `head`, as raw node pointers.
    fn chain(head: Link<V>) -> impl Iterator<Item = NonNull<Node<V>>> {
        // SAFETY: every link in a chain points to a live node owned by this dict, which the
        // caller borrows for as long as the iterator lives.
        std::iter::successors(head, |p| unsafe { (*p.as_ptr()).next })
    }

    fn find(&self, key: &[u8]) -> Option<NonNull<Node<V>>> {
        if self.len == 0 {
            return None;
        }
        let head = self.buckets[self.bucket_of(key)];
        // SAFETY: nodes in the chain are live (see `chain`).
        Self::chain(head).find(|&p| unsafe {
            (*p.as_ptr()).key_len as usize == key.len() && Node::key(p) == key
        })
    }

    pub fn get(&self, key: &[u8]) -> Option<&V> {
        // SAFETY: the node lives as long as `&self` keeps the dict from changing.
        self.find(key).map(|p| unsafe { &(*p.as_ptr()).val })
    }

    pub fn get_key_value(&self, key: &[u8]) -> Option<(&[u8], &V)> {
        // SAFETY: as in `get`.
        self.find(key)
            .map(|p| unsafe { (Node::key(p), &(*p.as_ptr()).val) })
    }

    pub fn get_mut(&mut self, key: &[u8]) -> Option<&mut V> {
        // SAFETY: `&mut self` makes this the only reference into the node's value; the key
        // bytes are never handed out mutably, so the two never overlap.
        self.find(key).map(|p| unsafe { &mut (*p.as_ptr()).val })
    }

    /// Stage one of a batched lookup: asks the CPU to fetch the bucket slot of a key with
    /// this hash, so that the lookups of a pipeline overlap their cache misses instead of
    /// taking them one after another. Only a hint: no effect on results.
    pub fn prefetch_bucket(&self, hash: u64) {
        if !self.buckets.is_empty() {
            prefetch(&self.buckets[(hash & self.mask()) as usize] as *const Link<V> as *const u8);
        }
    }

    /// Stage two, issued after stage one for the whole batch: fetches the first node of the
    /// bucket (its value and key), now that the slot is likely in cache.
    pub fn prefetch_node(&self, hash: u64) {
        if let Some(&Some(p)) = self.buckets.get((hash & self.mask()) as usize) {
            let base = p.as_ptr() as *const u8;
            prefetch(base);
            // The key, and so the compare, may sit on the node's second cache line.
            prefetch(base.wrapping_add(Node::<V>::KEY_OFFSET));
        }
    }

    pub fn contains_key(&self, key: &[u8]) -> bool {
        self.find(key).is_some()
    }

    /// Inserts or replaces; returns the previous value.
    pub fn insert(&mut self, key: &[u8], val: V) -> Option<V> {
        if let Some(slot) = self.get_mut(key) {
            return Some(std::mem::replace(slot, val));
        }
        self.insert_new(key, val);
        None
    }

    /// Inserts a key known to be absent.
    pub fn insert_new(&mut self, key: &[u8], val: V) {
        if self.len >= self.buckets.len() {
            self.resize((self.buckets.len() * 2).max(MIN_BUCKETS));
        }
        let idx = self.bucket_of(key);
        let head = self.buckets[idx];
        self.buckets[idx] = Some(Node::alloc(key, val, head));
        self.len += 1;
    }

    /// Removes `key` and returns its value.
    pub fn remove(&mut self, key: &[u8]) -> Option<V> {
        if self.len == 0 {
            return None;
        }
        let idx = self.bucket_of(key);
        let mut link: *mut Link<V> = &mut self.buckets[idx];
        // SAFETY: `link` always points either into the bucket array or at the `next` field of
        // a live node of this chain; the matched node is unlinked before it is freed.
        unsafe {
            while let Some(p) = *link {
                let n = p.as_ptr();
                if (*n).key_len as usize == key.len() && Node::key(p) == key {
                    *link = (*n).next;
                    self.len -= 1;
                    let val = Node::free(p);
                    self.maybe_shrink();
                    return Some(val);
                }
                link = ptr::addr_of_mut!((*n).next);
            }
        }
        None
    }

    fn maybe_shrink(&mut self) {
        let b = self.buckets.len();
        if b > MIN_BUCKETS && self.len * 8 < b {
            self.resize((self.len.next_power_of_two() * 2).max(MIN_BUCKETS));
        }
    }

    /// Relinks every node into a new bucket array, rehashing its key. Nodes are moved, never
    /// reallocated.
    /// TODO(perf issue): incremental rehash; a doubling at 1M keys stalls the shard ~tens of ms.
    fn resize(&mut self, size: usize) {
        let old = std::mem::take(&mut self.buckets);
        self.buckets.resize(size, None);
        let mask = self.mask();
        for head in old {
            let mut cur = head;
            // SAFETY: each node of the old chains is live and relinked exactly once.
            unsafe {
                while let Some(p) = cur {
                    let n = p.as_ptr();
                    cur = (*n).next;
                    let idx = (hash_key(Node::key(p)) & mask) as usize;
                    (*n).next = self.buckets[idx];
                    self.buckets[idx] = Some(p);
                }
            }
        }
    }

    pub fn clear(&mut self) {
        for head in std::mem::take(&mut self.buckets) {
            let mut cur = head;
            // SAFETY: the bucket array was taken, so each node is reachable only from here and
            // freed exactly once.
            unsafe {
                while let Some(p) = cur {
                    cur = (*p.as_ptr()).next;
                    drop(Node::free(p));
                }
            }
        }
        self.len = 0;
    }

    pub fn iter(&self) -> impl Iterator<Item = (&[u8], &V)> {
        self.buckets.iter().flat_map(|&head| {
            // SAFETY: nodes live as long as `&self`.
            Self::chain(head).map(|p| unsafe { (Node::key(p), &(*p.as_ptr()).val) })
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
        for p in Self::chain(self.buckets[(cursor & mask) as usize]) {
            // SAFETY: nodes live as long as `&self`.
            unsafe { visit(Node::key(p), &(*p.as_ptr()).val) };
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
            let head = self.buckets[(rng.next_u64() & mask) as usize];
            if head.is_some() {
                let chain = Self::chain(head).count();
                let pick = Self::chain(head).nth(rng.next_u64() as usize % chain)?;
                // SAFETY: the node lives as long as `&self`.
                return Some(unsafe { Node::key(pick) });
            }
        }
    }
}

impl<V> Drop for Dict<V> {
    fn drop(&mut self) {
        self.clear();
    }
}

#[inline(always)]
fn prefetch(p: *const u8) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: prefetching is a hint that never faults, whatever the address.
    unsafe {
        std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T0 }>(p as *const i8);
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = p;
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

    /// Small enough for `cargo +nightly miri test -p engine --lib dict::tests::owned`, which
    /// checks the node layout code for undefined behaviour and leaks: values that own heap
    /// memory, keys of every length around the header's tail padding, resizes both ways,
    /// replace, remove, clear and drop.
    #[test]
    fn owned_values_and_keys_of_every_length() {
        let key_of = |i: usize| [vec![b'k'; i % 23], vec![i as u8]].concat();
        let mut d: Dict<String> = Dict::new();
        for i in 0..100usize {
            let key = key_of(i);
            assert!(d.insert(&key, format!("v{i}")).is_none());
            assert_eq!(
                d.get_key_value(&key).unwrap(),
                (key.as_slice(), &format!("v{i}"))
            );
        }
        assert_eq!(d.insert(&key_of(5), "five".into()), Some("v5".into()));
        assert_eq!(d.iter().count(), 100);
        let mut cursor = 0;
        let mut scanned = 0;
        loop {
            cursor = d.scan(cursor, |_, _| scanned += 1);
            if cursor == 0 {
                break;
            }
        }
        assert_eq!(scanned, 100);
        assert!(d.random_key(&mut Rng::new(7)).is_some());
        for i in (0..100usize).step_by(2) {
            assert!(d.remove(&key_of(i)).is_some());
        }
        assert_eq!(d.len(), 50);
        d.get_mut(&key_of(1)).unwrap().push('!');
        assert_eq!(d.get(&key_of(1)).map(String::as_str), Some("v1!"));
        d.insert_new(b"", "empty".into());
        assert_eq!(d.get(b"").map(String::as_str), Some("empty"));
        let mut other = Dict::new();
        other.insert(b"x", String::from("y"));
        other.clear();
        assert!(other.is_empty());
        other.insert(b"left for drop", String::from("z"));
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
