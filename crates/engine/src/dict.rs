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
    /// `tables[0]` is the table; while a resize is in progress it is the old one, being moved
    /// bucket by bucket into `tables[1]`, the new one (Redis' incremental rehash).
    tables: [Vec<Link<V>>; 2],
    /// The next bucket of `tables[0]` to move; `None` when no resize is in progress.
    rehash_idx: Option<usize>,
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
/// Buckets moved by each write while a resize is in progress (Redis moves 1 per operation;
/// a few more finish sooner and still bound the pause to a few cache misses).
const STEP_BUCKETS: usize = 4;

/// An empty bucket array. Allocated zeroed (an empty link is a null pointer) instead of
/// written: the allocator hands out fresh pages that the kernel zeroes on first touch, so a
/// 32 MB table for 4M buckets costs ~20 us up front instead of ~30 ms of page faults.
fn empty_table<V>(buckets: usize) -> Vec<Link<V>> {
    let Ok(layout) = Layout::array::<Link<V>>(buckets) else {
        panic!("bucket array of {buckets} entries is too large");
    };
    if layout.size() == 0 {
        return Vec::new();
    }
    // SAFETY: `Option<NonNull<_>>` is guaranteed to represent `None` as a null pointer, so
    // zeroed memory is `buckets` valid empty links; the Vec takes ownership of an allocation
    // made with the layout of exactly that many elements.
    unsafe {
        let p = alloc::alloc_zeroed(layout) as *mut Link<V>;
        if p.is_null() {
            alloc::handle_alloc_error(layout);
        }
        Vec::from_raw_parts(p, buckets, buckets)
    }
}

fn mask_of(buckets: usize) -> u64 {
    (buckets as u64).wrapping_sub(1)
}

/// Where a walk of `Dict::scan` calls will be a few calls ahead (`Dict::prefetch`).
pub struct ScanAhead {
    value: u64,
    node: u64,
    slot: u64,
}

impl ScanAhead {
    const VALUE: usize = 4;
    const NODE: usize = 8;
    const SLOT: usize = 12;
}

/// A hint to load the cache line at `p`; never faults, even for a stale address.
#[inline(always)]
fn prefetch_read(p: *const u8) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: prefetch is only a hint; it reads nothing observable and cannot fault.
    unsafe {
        std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T0 }>(p as *const i8)
    };
    #[cfg(not(target_arch = "x86_64"))]
    let _ = p;
}

/// Redis' reverse-binary cursor increment over the bits of `mask`.
fn next_cursor(cursor: u64, mask: u64) -> u64 {
    (cursor | !mask)
        .reverse_bits()
        .wrapping_add(1)
        .reverse_bits()
}

impl<V: Clone> Clone for Dict<V> {
    fn clone(&self) -> Self {
        let mut d = Dict::new();
        for (k, v) in self.iter() {
            d.insert_new(k, v.clone());
        }
        d
    }
}

/// Equal when they map the same keys to equal values, whatever their layout.
impl<V: PartialEq> PartialEq for Dict<V> {
    fn eq(&self, other: &Self) -> bool {
        self.len == other.len && self.iter().all(|(k, v)| other.get(k) == Some(v))
    }
}

impl<V: std::fmt::Debug> std::fmt::Debug for Dict<V> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_map()
            .entries(self.iter().map(|(k, v)| (String::from_utf8_lossy(k), v)))
            .finish()
    }
}

impl<V> Default for Dict<V> {
    fn default() -> Self {
        Dict::new()
    }
}

impl<V> Dict<V> {
    pub fn new() -> Dict<V> {
        Dict {
            tables: [Vec::new(), Vec::new()],
            rehash_idx: None,
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

    /// Buckets of the table being filled (the new one during a resize).
    pub fn buckets(&self) -> usize {
        self.tables[self.rehash_idx.map_or(0, |_| 1)].len()
    }

    /// The bytes a node for a key of `key_len` bytes asks the allocator for.
    pub fn node_size(key_len: usize) -> usize {
        Node::<V>::layout(key_len).size()
    }

    /// The bucket arrays' bytes.
    pub fn bucket_bytes(&self) -> usize {
        (self.tables[0].len() + self.tables[1].len()) * size_of::<Link<V>>()
    }

    /// Bytes the table spends beyond keys and values: its bucket arrays and each node's
    /// chain link and key length (Redis' dictEntry and bucket overhead, MEMORY STATS).
    pub fn overhead_bytes(&self) -> usize {
        let links = size_of::<Link<V>>();
        (self.tables[0].len() + self.tables[1].len()) * links
            + self.len * (Node::<V>::KEY_OFFSET - offset_of!(Node<V>, next))
    }

    pub fn is_rehashing(&self) -> bool {
        self.rehash_idx.is_some()
    }

    /// The tables to search: the old one first during a resize.
    fn live_tables(&self) -> &[Vec<Link<V>>] {
        &self.tables[..if self.rehash_idx.is_some() { 2 } else { 1 }]
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
        let hash = hash_key(key);
        for t in self.live_tables() {
            let head = t[(hash & mask_of(t.len())) as usize];
            // SAFETY: nodes in the chain are live (see `chain`).
            let found = Self::chain(head).find(|&p| unsafe {
                (*p.as_ptr()).key_len as usize == key.len() && Node::key(p) == key
            });
            if found.is_some() {
                return found;
            }
        }
        None
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
        for t in self.live_tables() {
            if !t.is_empty() {
                prefetch(&t[(hash & mask_of(t.len())) as usize] as *const Link<V> as *const u8);
            }
        }
    }

    /// Stage two, issued after stage one for the whole batch: fetches the first node of the
    /// bucket (its value and key), now that the slot is likely in cache.
    pub fn prefetch_node(&self, hash: u64) {
        for t in self.live_tables() {
            if let Some(&Some(p)) = t.get((hash & mask_of(t.len())) as usize) {
                let base = p.as_ptr() as *const u8;
                prefetch(base);
                // The key, and so the compare, may sit on the node's second cache line.
                prefetch(base.wrapping_add(Node::<V>::KEY_OFFSET));
            }
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

    /// Sizes an empty table for `n` keys up front (Redis' dictExpand on RESIZEDB), so a
    /// load does not rehash as it grows. Does nothing to a table that holds keys.
    pub fn reserve(&mut self, n: usize) {
        if self.len == 0 && self.rehash_idx.is_none() && n > self.tables[0].len() {
            self.tables[0] = empty_table(n.next_power_of_two().max(MIN_BUCKETS));
        }
    }

    /// Inserts a key known to be absent.
    pub fn insert_new(&mut self, key: &[u8], val: V) {
        self.rehash_step(STEP_BUCKETS);
        if self.rehash_idx.is_none() && self.len >= self.tables[0].len() {
            self.start_resize((self.tables[0].len() * 2).max(MIN_BUCKETS));
        }
        let t = &mut self.tables[self.rehash_idx.map_or(0, |_| 1)];
        let idx = (hash_key(key) & mask_of(t.len())) as usize;
        t[idx] = Some(Node::alloc(key, val, t[idx]));
        self.len += 1;
    }

    /// Removes `key` and returns its value.
    pub fn remove(&mut self, key: &[u8]) -> Option<V> {
        if self.len == 0 {
            return None;
        }
        self.rehash_step(STEP_BUCKETS);
        let hash = hash_key(key);
        let tables = if self.rehash_idx.is_some() { 2 } else { 1 };
        for t in 0..tables {
            let table = &mut self.tables[t];
            let idx = (hash & mask_of(table.len())) as usize;
            let mut link: *mut Link<V> = &mut table[idx];
            // SAFETY: `link` always points either into the bucket array or at the `next`
            // field of a live node of this chain; the matched node is unlinked before it is
            // freed.
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
        }
        None
    }

    fn maybe_shrink(&mut self) {
        let b = self.tables[0].len();
        if self.rehash_idx.is_none() && b > MIN_BUCKETS && self.len * 8 < b {
            self.start_resize((self.len.next_power_of_two() * 2).max(MIN_BUCKETS));
        }
    }

    /// Begins moving the nodes into a table of `size` buckets; the moves happen a few
    /// buckets per write (`rehash_step`) and in the background (`rehash_for`), never all at
    /// once (a doubling at 2M keys took 0.3 s in one go).
    fn start_resize(&mut self, size: usize) {
        if self.tables[0].is_empty() {
            self.tables[0] = empty_table(size);
            return;
        }
        self.tables[1] = empty_table(size);
        self.rehash_idx = Some(0);
    }

    /// Moves up to `n` non-empty buckets of the old table (visiting at most 10 n empty ones,
    /// as Redis does); returns whether a resize is still in progress.
    pub fn rehash_step(&mut self, n: usize) -> bool {
        let Some(mut idx) = self.rehash_idx else {
            return false;
        };
        let [old, new] = &mut self.tables;
        let mask = mask_of(new.len());
        let mut empty_visits = n * 10;
        let mut moved = 0;
        while moved < n && idx < old.len() {
            let Some(head) = old[idx].take() else {
                idx += 1;
                empty_visits -= 1;
                if empty_visits == 0 {
                    break;
                }
                continue;
            };
            let mut cur = Some(head);
            // SAFETY: each node of the old chain is live and relinked exactly once.
            unsafe {
                while let Some(p) = cur {
                    let node = p.as_ptr();
                    cur = (*node).next;
                    let to = (hash_key(Node::key(p)) & mask) as usize;
                    (*node).next = new[to];
                    new[to] = Some(p);
                }
            }
            idx += 1;
            moved += 1;
        }
        if idx >= old.len() {
            self.tables[0] = std::mem::take(&mut self.tables[1]);
            self.rehash_idx = None;
            false
        } else {
            self.rehash_idx = Some(idx);
            true
        }
    }

    /// Background rehashing (Redis' activerehashing): moves buckets until `budget` is spent;
    /// returns whether a resize is still in progress.
    pub fn rehash_for(&mut self, budget: std::time::Duration) -> bool {
        let start = std::time::Instant::now();
        while self.rehash_step(100) {
            if start.elapsed() >= budget {
                return true;
            }
        }
        false
    }

    pub fn clear(&mut self) {
        for table in &mut self.tables {
            for head in std::mem::take(table) {
                let mut cur = head;
                // SAFETY: the bucket array was taken, so each node is reachable only from
                // here and freed exactly once.
                unsafe {
                    while let Some(p) = cur {
                        cur = (*p.as_ptr()).next;
                        drop(Node::free(p));
                    }
                }
            }
        }
        self.rehash_idx = None;
        self.len = 0;
    }

    pub fn iter(&self) -> impl Iterator<Item = (&[u8], &V)> {
        self.live_tables().iter().flatten().flat_map(|&head| {
            // SAFETY: nodes live as long as `&self`.
            Self::chain(head).map(|p| unsafe { (Node::key(p), &(*p.as_ptr()).val) })
        })
    }

    fn visit_bucket(head: Link<V>, visit: &mut impl FnMut(&[u8], &V)) {
        for p in Self::chain(head) {
            // SAFETY: nodes live as long as the caller's `&self`.
            unsafe { visit(Node::key(p), &(*p.as_ptr()).val) };
        }
    }

    /// Visits the bucket at `cursor` and returns the next cursor (0 when done). Redis'
    /// reverse-binary increment: a key present for the whole iteration is visited at least
    /// once even if the table grows or shrinks between calls. During a resize it visits the
    /// cursor's bucket in the smaller table and every bucket of the larger table that it
    /// expands to (Redis' dictScan).
    pub fn scan(&self, cursor: u64, mut visit: impl FnMut(&[u8], &V)) -> u64 {
        let tables = self.live_tables();
        if tables[0].is_empty() {
            return 0;
        }
        if tables.len() == 1 {
            let mask = mask_of(tables[0].len());
            Self::visit_bucket(tables[0][(cursor & mask) as usize], &mut visit);
            return next_cursor(cursor, mask);
        }
        let (small, large) = if tables[0].len() <= tables[1].len() {
            (&tables[0], &tables[1])
        } else {
            (&tables[1], &tables[0])
        };
        let (m0, m1) = (mask_of(small.len()), mask_of(large.len()));
        let mut v = cursor;
        Self::visit_bucket(small[(v & m0) as usize], &mut visit);
        loop {
            Self::visit_bucket(large[(v & m1) as usize], &mut visit);
            v = next_cursor(v, m1);
            if v & (m0 ^ m1) == 0 {
                break;
            }
        }
        v
    }

    /// Lookahead for a walk of `scan` calls starting at `cursor` (see `prefetch`).
    pub fn scan_ahead(&self, cursor: u64) -> ScanAhead {
        let mut a = ScanAhead {
            value: cursor,
            node: cursor,
            slot: cursor,
        };
        if let [t] = self.live_tables() {
            let mask = mask_of(t.len());
            for i in 0..ScanAhead::SLOT {
                if i == ScanAhead::VALUE {
                    a.value = a.slot;
                }
                if i == ScanAhead::NODE {
                    a.node = a.slot;
                }
                a.slot = next_cursor(a.slot, mask);
            }
        }
        a
    }

    /// Called once per `scan` call of a walk: asks the CPU for the bucket `SLOT` calls
    /// ahead, for the first node of the bucket `NODE` calls ahead (its slot fetched by then)
    /// and for what `heap` names in the value of the bucket `VALUE` calls ahead (its node
    /// fetched by then), so the walk does not wait on three cache misses per key. The cursor
    /// order jumps across the bucket array, where the hardware prefetcher cannot follow
    /// (measured: those misses were ~30% of a SAVE). Only hints: a table that resized since
    /// `scan_ahead` or is resizing costs nothing but the missed prefetch.
    #[inline]
    pub fn prefetch(&self, a: &mut ScanAhead, heap: impl Fn(&V) -> *const u8) {
        let [t] = self.live_tables() else {
            return;
        };
        let mask = mask_of(t.len());
        if let Some(slot) = t.get(a.slot as usize & mask as usize) {
            prefetch_read(slot as *const Link<V> as *const u8);
        }
        if let Some(Some(node)) = t.get(a.node as usize & mask as usize) {
            prefetch_read(node.as_ptr() as *const u8);
        }
        if let Some(Some(node)) = t.get(a.value as usize & mask as usize) {
            // SAFETY: nodes live as long as `&self`.
            let p = heap(unsafe { &(*node.as_ptr()).val });
            if !p.is_null() {
                prefetch_read(p);
            }
        }
        a.value = next_cursor(a.value, mask);
        a.node = next_cursor(a.node, mask);
        a.slot = next_cursor(a.slot, mask);
    }

    /// One SCAN call's worth of `scan`: visits buckets from `cursor` until about `count`
    /// entries were seen (or 10 x `count` buckets, so a sparse table cannot stall) and
    /// returns the next cursor, as Redis' scanGenericCommand loop does.
    pub fn scan_count(
        &self,
        mut cursor: u64,
        count: usize,
        mut visit: impl FnMut(&[u8], &V),
    ) -> u64 {
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

    /// Up to `count` keys near a random place in the table (Redis' dictGetSomeKeys): from a
    /// random bucket, the chains of consecutive buckets (in both tables while resizing), at
    /// most `count * 10` buckets. Not uniform, but each sample costs a bucket walk instead of
    /// a random probe: what eviction samples with.
    pub fn sample(&self, rng: &mut Rng, count: usize, mut visit: impl FnMut(&[u8], &V)) {
        // Never more than there are, so a small table is not walked round twice.
        let count = count.min(self.len);
        if count == 0 {
            return;
        }
        let tables = self.live_tables();
        let widest = tables.iter().map(Vec::len).max().unwrap_or(0);
        if widest == 0 {
            return;
        }
        let moved = self.rehash_idx.unwrap_or(0);
        let mut i = rng.next_u64() as usize & (widest - 1);
        let mut found = 0;
        for _ in 0..count * 10 {
            for (j, t) in tables.iter().enumerate() {
                // The old table's buckets below the rehash index are empty (moved).
                if (j == 0 && tables.len() == 2 && i < moved) || i >= t.len() {
                    continue;
                }
                for p in Self::chain(t[i]) {
                    // SAFETY: the node lives as long as `&self`.
                    unsafe { visit(Node::key(p), &(*p.as_ptr()).val) };
                    found += 1;
                    if found == count {
                        return;
                    }
                }
            }
            i = (i + 1) & (widest - 1);
        }
    }

    /// A random key, roughly uniform: a random non-empty bucket, then a random node in its
    /// chain (Redis' dictGetFairRandomKey does the same with extra sampling).
    pub fn random_key(&self, rng: &mut Rng) -> Option<&[u8]> {
        if self.len == 0 {
            return None;
        }
        let tables = self.live_tables();
        let from = self.rehash_idx.unwrap_or(0);
        loop {
            // During a resize: old buckets not moved yet, or any new bucket.
            let r = rng.next_u64() as usize;
            let head = match tables {
                [t] => t[r & (t.len() - 1)],
                [old, new] => {
                    let i = from + r % (old.len() - from + new.len());
                    if i < old.len() {
                        old[i]
                    } else {
                        new[i - old.len()]
                    }
                }
                _ => return None,
            };
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

    /// Uniform in [0, 1) (the LFU counter's draw).
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    /// `sample` gives `count` distinct stored keys (fewer only when the dict has fewer), also
    /// while a resize is half done, and over many calls reaches nearly every key.
    #[test]
    fn sample_walks_from_random_buckets() {
        let mut d: Dict<u32> = Dict::new();
        let mut rng = Rng::new(7);
        for i in 0..1000u32 {
            d.insert(format!("k{i}").as_bytes(), i);
            if i == 700 {
                assert!(d.is_rehashing() || d.buckets() >= 701);
            }
        }
        let mut seen = HashSet::new();
        for _ in 0..2000 {
            let mut got = Vec::new();
            d.sample(&mut rng, 5, |k, v| {
                assert_eq!(k, format!("k{v}").as_bytes());
                got.push(k.to_vec());
            });
            assert_eq!(got.len(), 5);
            assert_eq!(got.iter().collect::<HashSet<_>>().len(), 5);
            seen.extend(got);
        }
        assert!(seen.len() > 950, "{}", seen.len());
        let mut small: Dict<u32> = Dict::new();
        small.insert(b"only", 1);
        let mut n = 0;
        small.sample(&mut rng, 5, |_, _| n += 1);
        assert_eq!(n, 1);
    }

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
        let mut mid_resize = 0;
        loop {
            mid_resize += d.is_rehashing() as u32;
            cursor = d.scan(cursor, |k, _| {
                seen.insert(k.to_vec());
            });
            // Grow and shrink the table under the cursor.
            round += 1;
            // Grow in small steps (so resizes stay in progress across scan calls), and now
            // and then drop all the temporary keys (a shrink).
            if round % 40 < 30 {
                for j in 0..40u32 {
                    d.insert(format!("tmp{round}-{j}").as_bytes(), 1);
                }
            } else if round % 40 == 35 {
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
        assert!(mid_resize > 10, "scans during a resize: {mid_resize}");
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
        // Dropped and cleared in the middle of a resize: both tables are freed.
        for mut mid in [Dict::new(), Dict::new()] {
            let mut i = 0u32;
            while !(mid.is_rehashing() && mid.len() > 20) {
                mid.insert(&i.to_be_bytes(), i.to_string());
                i += 1;
            }
            assert_eq!(mid.iter().count(), i as usize);
            assert_eq!(mid.remove(&3u32.to_be_bytes()), Some("3".into()));
            if i.is_multiple_of(2) {
                mid.clear();
            }
        }
    }

    /// Growing never moves the whole table at once: no insert pays for more than a few
    /// buckets, and lookups find every key in either table meanwhile.
    #[test]
    fn resizes_are_incremental() {
        let mut d = Dict::new();
        let mut rng = Rng::new(5);
        for i in 0..5000u32 {
            d.insert_new(format!("k{i}").as_bytes(), i);
            if d.is_rehashing() {
                let j = rng.next_u64() as u32 % (i + 1);
                assert_eq!(d.get(format!("k{j}").as_bytes()), Some(&j));
                assert_eq!(d.iter().count(), i as usize + 1);
            }
        }
        assert!(!d.rehash_for(std::time::Duration::from_secs(1)));
        assert_eq!(d.len(), 5000);
        assert!(d.random_key(&mut rng).is_some());
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
