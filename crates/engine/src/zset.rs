//! Sorted sets. Small ones are `packed::Scored`, one buffer of sorted (score, member)
//! entries ("listpack" in Redis' terms: linear updates, fine up to
//! `zset-max-listpack-entries`). Large ones
//! ("skiplist") pair a member -> score `Dict` (O(1) ZSCORE, SCAN cursors, random members)
//! with a `Ranked` list that keeps the order and answers ranks in O(log n).
//!
//! Order: by score, then by member bytes (memcmp, shorter first on a common prefix), as
//! Redis. Scores are never NaN (commands reject it), and -0 and +0 compare equal, as C's `<`
//! does in Redis' skiplist.

use crate::dict::{Dict, Rng};
use crate::value::Limits;
use std::cmp::Ordering;

/// A scored member, as `Ranked` keeps it.
pub type Item = (f64, Box<[u8]>);

pub fn cmp(a: f64, am: &[u8], b: f64, bm: &[u8]) -> Ordering {
    a.partial_cmp(&b)
        .unwrap_or(Ordering::Equal)
        .then_with(|| am.cmp(bm))
}

fn cmp_items(a: &Item, b: &Item) -> Ordering {
    cmp(a.0, &a.1, b.0, &b.1)
}

/// Elements per chunk before it splits. Inserting moves at most this many 24-byte items
/// (~6 KB, about a hundred nanoseconds); more chunks would make the Fenwick rebuild that
/// follows a split or a merge costlier.
const CHUNK: usize = 256;

/// An order-statistic list: sorted chunks of at most `CHUNK` items, and a Fenwick tree over
/// the chunks' lengths. Finding a position by value is two binary searches; by rank, a
/// descent of the tree. An insert or a delete touches one chunk and updates the tree in
/// O(log chunks); a split or a merge rebuilds the tree in O(chunks), once per ~CHUNK/2
/// inserts. Invariants: no chunk is empty; chunks are sorted and so is their concatenation;
/// `tree` is the Fenwick tree of the chunk lengths; `len` is their sum.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Ranked {
    chunks: Vec<Vec<Item>>,
    /// 1-based Fenwick tree: tree[i] sums the lengths of chunks (i - lowbit(i), i].
    tree: Vec<usize>,
    len: usize,
}

impl Ranked {
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    fn rebuild(&mut self) {
        let n = self.chunks.len();
        self.tree.clear();
        self.tree.resize(n + 1, 0);
        for i in 1..=n {
            self.tree[i] += self.chunks[i - 1].len();
            let parent = i + (i & i.wrapping_neg());
            if parent <= n {
                self.tree[parent] += self.tree[i];
            }
        }
    }

    fn tree_add(&mut self, chunk: usize, delta: isize) {
        let mut i = chunk + 1;
        while i < self.tree.len() {
            self.tree[i] = self.tree[i].wrapping_add_signed(delta);
            i += i & i.wrapping_neg();
        }
    }

    /// Items in the chunks before `chunk`.
    fn before(&self, chunk: usize) -> usize {
        let mut i = chunk;
        let mut sum = 0;
        while i > 0 {
            sum += self.tree[i];
            i &= i - 1;
        }
        sum
    }

    /// The chunk holding rank `r` (< len) and the rank's offset in it.
    fn locate(&self, mut r: usize) -> (usize, usize) {
        let n = self.chunks.len();
        let mut pos = 0;
        let mut step = n.next_power_of_two();
        while step > 0 {
            let next = pos + step;
            if next <= n && self.tree[next] <= r {
                pos = next;
                r -= self.tree[next];
            }
            step >>= 1;
        }
        (pos, r)
    }

    /// The chunk an item belongs in: the first whose last item is not below it.
    fn chunk_for(&self, score: f64, member: &[u8]) -> usize {
        let i = self.chunks.partition_point(|c| {
            c.last()
                .is_some_and(|l| cmp(l.0, &l.1, score, member) == Ordering::Less)
        });
        i.min(self.chunks.len().saturating_sub(1))
    }

    pub fn insert(&mut self, score: f64, member: Box<[u8]>) {
        if self.chunks.is_empty() {
            self.chunks.push(Vec::with_capacity(4));
            self.rebuild();
        }
        let ci = self.chunk_for(score, &member);
        let item = (score, member);
        let chunk = &mut self.chunks[ci];
        let at = chunk.partition_point(|x| cmp_items(x, &item) == Ordering::Less);
        chunk.insert(at, item);
        self.len += 1;
        if chunk.len() > CHUNK {
            let tail = chunk.split_off(CHUNK / 2);
            chunk.shrink_to(CHUNK);
            self.chunks.insert(ci + 1, tail);
            self.rebuild();
        } else {
            self.tree_add(ci, 1);
        }
    }

    /// Removes an item known by its score and member; false when absent.
    pub fn remove(&mut self, score: f64, member: &[u8]) -> bool {
        if self.chunks.is_empty() {
            return false;
        }
        let ci = self.chunk_for(score, member);
        let chunk = &mut self.chunks[ci];
        let at = chunk.partition_point(|x| cmp(x.0, &x.1, score, member) == Ordering::Less);
        if at >= chunk.len() || cmp(chunk[at].0, &chunk[at].1, score, member) != Ordering::Equal {
            return false;
        }
        chunk.remove(at);
        self.len -= 1;
        self.settle(ci);
        true
    }

    /// After chunk `ci` lost one item: drops it when empty, merges it with the next chunk
    /// when both are small, else updates the tree.
    fn settle(&mut self, ci: usize) {
        let n = self.chunks[ci].len();
        if n == 0 {
            self.chunks.remove(ci);
            self.rebuild();
        } else if n < CHUNK / 4
            && ci + 1 < self.chunks.len()
            && self.chunks[ci + 1].len() < CHUNK / 2
        {
            let next = self.chunks.remove(ci + 1);
            self.chunks[ci].extend(next);
            self.rebuild();
        } else {
            self.tree_add(ci, -1);
        }
    }

    /// The item at rank `r` (0-based, ascending).
    pub fn at(&self, r: usize) -> Option<&Item> {
        if r >= self.len {
            return None;
        }
        let (ci, off) = self.locate(r);
        self.chunks.get(ci).and_then(|c| c.get(off))
    }

    /// The rank of an item known by score and member.
    pub fn rank(&self, score: f64, member: &[u8]) -> Option<usize> {
        if self.chunks.is_empty() {
            return None;
        }
        let ci = self.chunk_for(score, member);
        let chunk = &self.chunks[ci];
        let at = chunk.partition_point(|x| cmp(x.0, &x.1, score, member) == Ordering::Less);
        (at < chunk.len() && cmp(chunk[at].0, &chunk[at].1, score, member) == Ordering::Equal)
            .then(|| self.before(ci) + at)
    }

    /// How many leading items satisfy `pred`, which must hold for a prefix of the order and
    /// fail for the rest (a lower bound by score or by member).
    pub fn count_while(&self, pred: impl Fn(&Item) -> bool) -> usize {
        let ci = self.chunks.partition_point(|c| c.last().is_some_and(&pred));
        match self.chunks.get(ci) {
            None => self.len,
            Some(c) => self.before(ci) + c.partition_point(&pred),
        }
    }

    /// Visits ranks `start..=end` (ascending, or descending when `rev`).
    pub fn visit(&self, start: usize, end: usize, rev: bool, mut f: impl FnMut(&Item)) {
        if start > end || start >= self.len {
            return;
        }
        let end = end.min(self.len - 1);
        if !rev {
            let (mut ci, mut off) = self.locate(start);
            for _ in start..=end {
                f(&self.chunks[ci][off]);
                off += 1;
                if off == self.chunks[ci].len() {
                    ci += 1;
                    off = 0;
                }
            }
        } else {
            let (mut ci, mut off) = self.locate(end);
            for i in (start..=end).rev() {
                f(&self.chunks[ci][off]);
                if i == start {
                    break;
                }
                if off == 0 {
                    ci -= 1;
                    off = self.chunks[ci].len();
                }
                off -= 1;
            }
        }
    }

    /// Removes ranks `start..=end` (end < len), handing each removed item to `f`.
    pub fn remove_range(&mut self, start: usize, end: usize, mut f: impl FnMut(Item)) {
        if start > end || end >= self.len {
            return;
        }
        let (ci, off) = self.locate(start);
        let mut left = end - start + 1;
        let mut i = ci;
        let mut first = off;
        while left > 0 && i < self.chunks.len() {
            let chunk = &mut self.chunks[i];
            let take = (chunk.len() - first).min(left);
            for item in chunk.drain(first..first + take) {
                f(item);
            }
            left -= take;
            first = 0;
            i += 1;
        }
        self.len -= end - start + 1;
        self.chunks.retain(|c| !c.is_empty());
        self.rebuild();
    }

    pub fn iter(&self) -> impl DoubleEndedIterator<Item = &Item> {
        self.chunks.iter().flatten()
    }

    /// Visits ranks from `start` upward while `f` answers true.
    pub fn walk(&self, start: usize, mut f: impl FnMut(&Item) -> bool) {
        if start >= self.len {
            return;
        }
        let (ci, off) = self.locate(start);
        let mut chunks = self.chunks[ci..].iter();
        let first = chunks.next().map(|c| &c[off..]).unwrap_or(&[]);
        for item in first.iter().chain(chunks.flatten()) {
            if !f(item) {
                return;
            }
        }
    }
}

/// The large encoding: the member -> score map and the order.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Skip {
    pub dict: Dict<f64>,
    pub ranked: Ranked,
}

#[derive(Clone, Debug, PartialEq)]
pub enum ZSet {
    /// Sorted by (score, member), packed; "listpack".
    Pack(crate::packed::Scored),
    /// "skiplist".
    Skip(Box<Skip>),
}

/// ZADD's flags.
#[derive(Clone, Copy, Debug, Default)]
pub struct AddFlags {
    pub nx: bool,
    pub xx: bool,
    pub gt: bool,
    pub lt: bool,
    pub incr: bool,
}

/// What one ZADD pair did (Redis' ZADD_OUT_* flags).
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Added {
    Added(f64),
    Updated(f64),
    /// Existed with this score already (still "processed": ZADD INCR answers it).
    Same(f64),
    Nop,
    NaN,
}

impl ZSet {
    /// The first bytes a walk reads, for a prefetch.
    pub(crate) fn heap_hint(&self) -> *const u8 {
        match self {
            ZSet::Pack(p) => p.heap_hint(),
            ZSet::Skip(s) => &**s as *const Skip as *const u8,
        }
    }

    /// Redis' zadd creation rule: a skiplist from the start when listpacks are disabled or
    /// the first member is too long for one.
    pub fn for_first(member_len: usize, limits: &Limits) -> ZSet {
        if limits.zset_entries == 0 || member_len > limits.zset_value {
            ZSet::Skip(Box::default())
        } else {
            ZSet::Pack(Default::default())
        }
    }

    /// An empty set sized for a result: a listpack when `len` members no longer than
    /// `max_member` fit one (zsetConvertToListpackIfNeeded).
    pub fn for_result(len: usize, max_member: usize, limits: &Limits) -> ZSet {
        if len <= limits.zset_entries && max_member <= limits.zset_value {
            ZSet::Pack(Default::default())
        } else {
            ZSet::Skip(Box::default())
        }
    }

    pub fn len(&self) -> usize {
        match self {
            ZSet::Pack(v) => v.len(),
            ZSet::Skip(s) => s.ranked.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn encoding(&self) -> &'static str {
        match self {
            ZSet::Pack(_) => "listpack",
            ZSet::Skip(_) => "skiplist",
        }
    }

    pub fn score(&self, member: &[u8]) -> Option<f64> {
        match self {
            ZSet::Pack(p) => p.score(member),
            ZSet::Skip(s) => s.dict.get(member).copied(),
        }
    }

    /// Redis' zsetAdd.
    pub fn add(&mut self, score: f64, member: &[u8], f: AddFlags, limits: &Limits) -> Added {
        if score.is_nan() {
            return Added::NaN;
        }
        match self.score(member) {
            Some(cur) => {
                if f.nx {
                    return Added::Nop;
                }
                let new = if f.incr { score + cur } else { score };
                if new.is_nan() {
                    return Added::NaN;
                }
                if (f.lt && new >= cur) || (f.gt && new <= cur) {
                    return Added::Nop;
                }
                // Redis compares with `!=`: -0 and 0 are the same score.
                #[allow(clippy::float_cmp)]
                if new == cur {
                    return Added::Same(cur);
                }
                self.reinsert(member, cur, new);
                Added::Updated(new)
            }
            None if f.xx => Added::Nop,
            None => {
                self.insert_new(score, member, limits);
                Added::Added(score)
            }
        }
    }

    fn reinsert(&mut self, member: &[u8], cur: f64, new: f64) {
        match self {
            ZSet::Pack(p) => {
                if p.remove(member) {
                    p.insert(new, member);
                }
            }
            ZSet::Skip(s) => {
                s.ranked.remove(cur, member);
                s.ranked.insert(new, member.into());
                if let Some(slot) = s.dict.get_mut(member) {
                    *slot = new;
                }
            }
        }
    }

    /// Inserts a member known to be absent, converting to a skiplist first when the
    /// listpack would pass its limits.
    pub fn insert_new(&mut self, score: f64, member: &[u8], limits: &Limits) {
        if let ZSet::Pack(p) = self {
            if p.len() < limits.zset_entries && member.len() <= limits.zset_value {
                p.insert(score, member);
                return;
            }
            self.convert_to_skip();
        }
        if let ZSet::Skip(s) = self {
            s.dict.insert_new(member, score);
            s.ranked.insert(score, member.into());
        }
    }

    /// Converts a listpack to a skiplist (SORT does this to the set it sorts, in Redis).
    pub fn convert_to_skip(&mut self) {
        if let ZSet::Pack(p) = self {
            let mut s = Skip::default();
            for (m, score) in p.iter() {
                s.dict.insert_new(m, score);
                s.ranked.insert(score, m.into());
            }
            *self = ZSet::Skip(Box::new(s));
        }
    }

    pub fn remove(&mut self, member: &[u8]) -> bool {
        match self {
            ZSet::Pack(p) => p.remove(member),
            ZSet::Skip(s) => match s.dict.remove(member) {
                Some(score) => s.ranked.remove(score, member),
                None => false,
            },
        }
    }

    /// Ascending 0-based rank of a member.
    pub fn rank(&self, member: &[u8]) -> Option<usize> {
        match self {
            ZSet::Pack(p) => p.rank(member),
            ZSet::Skip(s) => {
                let score = *s.dict.get(member)?;
                s.ranked.rank(score, member)
            }
        }
    }

    pub fn at(&self, rank: usize) -> Option<(&[u8], f64)> {
        match self {
            ZSet::Pack(p) => p.at(rank),
            ZSet::Skip(s) => s.ranked.at(rank).map(|x| (&*x.1, x.0)),
        }
    }

    /// How many leading elements satisfy `pred` (true on a prefix of the order).
    pub fn count_while(&self, pred: impl Fn(f64, &[u8]) -> bool) -> usize {
        match self {
            ZSet::Pack(p) => p.iter().take_while(|(m, s)| pred(*s, m)).count(),
            ZSet::Skip(s) => s.ranked.count_while(|x| pred(x.0, &x.1)),
        }
    }

    /// Visits ranks `start..=end` in order, or in reverse when `rev`.
    pub fn visit(&self, start: usize, end: usize, rev: bool, mut f: impl FnMut(&[u8], f64)) {
        match self {
            ZSet::Pack(p) => {
                if start > end || start >= p.len() {
                    return;
                }
                let range = p.iter().skip(start).take(end.min(p.len() - 1) + 1 - start);
                if rev {
                    let items: Vec<(&[u8], f64)> = range.collect();
                    items.into_iter().rev().for_each(|(m, s)| f(m, s));
                } else {
                    range.for_each(|(m, s)| f(m, s));
                }
            }
            ZSet::Skip(s) => s.ranked.visit(start, end, rev, |x| f(&x.1, x.0)),
        }
    }

    /// Visits ranks from `start` upward while `f` answers true.
    pub fn walk(&self, start: usize, mut f: impl FnMut(&[u8], f64) -> bool) {
        match self {
            ZSet::Pack(p) => {
                for (m, s) in p.iter().skip(start) {
                    if !f(m, s) {
                        return;
                    }
                }
            }
            ZSet::Skip(s) => s.ranked.walk(start, |x| f(&x.1, x.0)),
        }
    }

    /// Every element in order.
    pub fn for_each(&self, mut f: impl FnMut(&[u8], f64)) {
        match self {
            ZSet::Pack(p) => p.iter().for_each(|(m, s)| f(m, s)),
            ZSet::Skip(s) => s.ranked.iter().for_each(|x| f(&x.1, x.0)),
        }
    }

    /// Removes ranks `start..=end` (end < len); returns how many.
    pub fn remove_range(&mut self, start: usize, end: usize) -> usize {
        if start > end || end >= self.len() {
            return 0;
        }
        match self {
            ZSet::Pack(p) => p.remove_range(start, end),
            ZSet::Skip(s) => {
                let dict = &mut s.dict;
                s.ranked.remove_range(start, end, |(_, m)| {
                    dict.remove(&m);
                });
            }
        }
        end - start + 1
    }

    /// A random member and its score.
    pub fn random(&self, rng: &mut Rng) -> Option<(&[u8], f64)> {
        match self {
            ZSet::Pack(p) if p.is_empty() => None,
            ZSet::Pack(p) => p.at(rng.next_u64() as usize % p.len()),
            ZSet::Skip(s) => {
                let m = s.dict.random_key(rng)?;
                s.dict.get(m).map(|&sc| (m, sc))
            }
        }
    }

    /// The allocations it holds, in jemalloc's size classes (MEMORY USAGE); a big one's
    /// members are sampled (`samples`, 0: all) as Redis samples them.
    pub fn usage(&self, samples: usize) -> usize {
        use crate::usage::{alloc_size, sampled};
        match self {
            ZSet::Pack(p) => alloc_size(p.capacity()),
            ZSet::Skip(s) => {
                let item = std::mem::size_of::<Item>();
                let chunks: usize = s
                    .ranked
                    .chunks
                    .iter()
                    .map(|c| alloc_size(c.capacity() * item))
                    .sum();
                // Each member: its node in the dict (the member and its score) and its
                // own copy in the ranked chunks.
                let members = sampled(s.dict.iter(), s.dict.len(), samples, |m, _| {
                    alloc_size(Dict::<f64>::node_size(m.len())) + alloc_size(m.len())
                });
                alloc_size(std::mem::size_of::<Skip>())
                    + alloc_size(s.dict.bucket_bytes())
                    + alloc_size(s.ranked.chunks.capacity() * std::mem::size_of::<Vec<Item>>())
                    + alloc_size(s.ranked.tree.capacity() * std::mem::size_of::<usize>())
                    + chunks
                    + members
            }
        }
    }

    /// Approximate bytes used, for MEMORY USAGE.
    pub fn memory(&self) -> usize {
        match self {
            ZSet::Pack(p) => p.bytes(),
            ZSet::Skip(s) => {
                s.dict.buckets() * 8
                    + s.ranked
                        .iter()
                        .map(|x| 2 * x.1.len() + 24 + 32)
                        .sum::<usize>()
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A naive model: a sorted Vec.
    fn model_insert(m: &mut Vec<Item>, s: f64, k: &[u8]) {
        let at = m.partition_point(|x| cmp(x.0, &x.1, s, k) == Ordering::Less);
        m.insert(at, (s, k.into()));
    }

    #[test]
    fn ranked_matches_a_sorted_vec() {
        let mut rng = Rng::new(7);
        let mut r = Ranked::default();
        let mut m: Vec<Item> = Vec::new();
        for step in 0..20_000 {
            let k = format!("m{}", rng.next_u64() % 3000).into_bytes();
            let s = (rng.next_u64() % 50) as f64;
            match rng.next_u64() % 10 {
                0..=5 => {
                    if !m.iter().any(|x| *x.1 == *k) {
                        r.insert(s, k.clone().into());
                        model_insert(&mut m, s, &k);
                    }
                }
                6..=8 => {
                    if let Some(i) = m.iter().position(|x| *x.1 == *k) {
                        let (s, _) = m.remove(i);
                        assert!(r.remove(s, &k));
                    } else {
                        assert!(!r.remove(s, &k));
                    }
                }
                _ => {
                    if !m.is_empty() {
                        let a = (rng.next_u64() as usize) % m.len();
                        let b = (a + (rng.next_u64() as usize) % 40).min(m.len() - 1);
                        let mut gone = Vec::new();
                        r.remove_range(a, b, |x| gone.push(x));
                        let want: Vec<Item> = m.drain(a..=b).collect();
                        assert_eq!(gone, want);
                    }
                }
            }
            assert_eq!(r.len(), m.len());
            if step % 97 == 0 {
                let all: Vec<Item> = r.iter().cloned().collect();
                assert_eq!(all, m, "order at step {step}");
                for (i, x) in m.iter().enumerate().step_by(13) {
                    assert_eq!(r.at(i), Some(x));
                    assert_eq!(r.rank(x.0, &x.1), Some(i));
                }
                let bound = (rng.next_u64() % 50) as f64;
                assert_eq!(
                    r.count_while(|x| x.0 < bound),
                    m.partition_point(|x| x.0 < bound)
                );
                if !m.is_empty() {
                    let a = (rng.next_u64() as usize) % m.len();
                    let b = (a + 300).min(m.len() - 1);
                    let mut fwd = Vec::new();
                    r.visit(a, b, false, |x| fwd.push(x.clone()));
                    assert_eq!(fwd, m[a..=b].to_vec());
                    let mut back = Vec::new();
                    r.visit(a, b, true, |x| back.push(x.clone()));
                    back.reverse();
                    assert_eq!(back, fwd);
                }
            }
        }
    }

    #[test]
    fn encodings_convert_at_the_limits() {
        let limits = Limits {
            zset_entries: 3,
            zset_value: 4,
            ..Limits::default()
        };
        let mut z = ZSet::for_first(1, &limits);
        for (i, m) in ["a", "b", "c"].iter().enumerate() {
            assert_eq!(
                z.add(i as f64, m.as_bytes(), AddFlags::default(), &limits),
                Added::Added(i as f64)
            );
        }
        assert_eq!(z.encoding(), "listpack");
        z.add(0.5, b"d", AddFlags::default(), &limits);
        assert_eq!(z.encoding(), "skiplist");
        assert_eq!(z.rank(b"d"), Some(1));
        assert_eq!(z.at(3), Some((&b"c"[..], 2.0)));
        let mut long = ZSet::for_first(1, &limits);
        long.add(1.0, b"longer", AddFlags::default(), &limits);
        assert_eq!(long.encoding(), "skiplist");
        // -0 and 0 are the same score; ties order by member.
        let mut t = ZSet::for_first(1, &Limits::default());
        t.add(0.0, b"b", AddFlags::default(), &Limits::default());
        t.add(-0.0, b"a", AddFlags::default(), &Limits::default());
        assert_eq!(t.at(0).map(|x| x.0), Some(&b"a"[..]));
        assert_eq!(
            t.add(-0.0, b"b", AddFlags::default(), &Limits::default()),
            Added::Same(0.0)
        );
    }
}
