//! Streams as Redis 7.0 keeps them (t_stream.c, stream.h): entries in nodes keyed by their
//! master ID, each node a listpack in Redis' exact layout (a master entry with the first
//! entry's field names, then entries with delta-encoded IDs and, when their fields are the
//! master's, only their values), so a node is the same bytes in memory, in an RDB file and in
//! redis-server. Deleted entries stay as flagged tombstones until their node empties. Beside
//! the entries: the length, the last, first and largest deleted IDs, the all-time count of
//! additions, and the consumer groups with their pending entries lists.

use crate::listpack as lp;
use crate::rdb::pack::Elem;
use crate::value::IntBuf;
use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::sync::Arc;

/// A stream entry ID: milliseconds and a sequence number, ordered as a 128-bit number.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct StreamId {
    pub ms: u64,
    pub seq: u64,
}

impl StreamId {
    pub const MIN: StreamId = StreamId { ms: 0, seq: 0 };
    pub const MAX: StreamId = StreamId {
        ms: u64::MAX,
        seq: u64::MAX,
    };

    pub fn new(ms: u64, seq: u64) -> StreamId {
        StreamId { ms, seq }
    }

    pub fn is_zero(&self) -> bool {
        *self == StreamId::MIN
    }

    /// The next ID (streamIncrID); None past the last possible one.
    pub fn incr(self) -> Option<StreamId> {
        if self.seq == u64::MAX {
            if self.ms == u64::MAX {
                return None;
            }
            Some(StreamId::new(self.ms + 1, 0))
        } else {
            Some(StreamId::new(self.ms, self.seq + 1))
        }
    }

    /// The previous ID (streamDecrID); None before 0-0.
    pub fn decr(self) -> Option<StreamId> {
        if self.seq == 0 {
            if self.ms == 0 {
                return None;
            }
            Some(StreamId::new(self.ms - 1, u64::MAX))
        } else {
            Some(StreamId::new(self.ms, self.seq - 1))
        }
    }

    /// `<ms>-<seq>`.
    pub fn to_bytes(self) -> Vec<u8> {
        format!("{}-{}", self.ms, self.seq).into_bytes()
    }

    /// The 16-byte big-endian key Redis gives a node in its radix tree.
    pub fn encode(self) -> [u8; 16] {
        let mut b = [0u8; 16];
        b[..8].copy_from_slice(&self.ms.to_be_bytes());
        b[8..].copy_from_slice(&self.seq.to_be_bytes());
        b
    }

    pub fn decode(b: &[u8]) -> Option<StreamId> {
        let ms = u64::from_be_bytes(b.get(..8)?.try_into().ok()?);
        let seq = u64::from_be_bytes(b.get(8..16)?.try_into().ok()?);
        Some(StreamId::new(ms, seq))
    }
}

/// Entry flags (STREAM_ITEM_FLAG_*).
pub const FLAG_DELETED: i64 = 1;
pub const FLAG_SAMEFIELDS: i64 = 2;

/// The largest listpack a node may become, and the largest entry (STREAM_LISTPACK_MAX_SIZE).
pub const LISTPACK_MAX_SIZE: usize = 1 << 30;
/// What a new node reserves (STREAM_LISTPACK_MAX_PRE_ALLOCATE).
const PREALLOC: usize = 4096;

/// A pending entry: delivered to `consumer`, not acknowledged yet (streamNACK).
#[derive(Clone, Debug, PartialEq)]
pub struct Nack {
    pub delivery_time: i64,
    pub delivery_count: u64,
    pub consumer: Arc<[u8]>,
}

/// A consumer of a group (streamConsumer).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Consumer {
    pub seen_time: i64,
    /// The IDs pending for this consumer; the group's `pel` holds their details.
    pub pel: BTreeSet<StreamId>,
}

/// A consumer group (streamCG).
#[derive(Clone, Debug, PartialEq)]
pub struct Group {
    pub last_id: StreamId,
    /// Entries read, or -1 when unknown (SCG_INVALID_ENTRIES_READ).
    pub entries_read: i64,
    pub pel: BTreeMap<StreamId, Nack>,
    pub consumers: BTreeMap<Arc<[u8]>, Consumer>,
}

pub const INVALID_ENTRIES_READ: i64 = -1;

impl Group {
    pub fn new(last_id: StreamId, entries_read: i64) -> Group {
        Group {
            last_id,
            entries_read,
            pel: BTreeMap::new(),
            consumers: BTreeMap::new(),
        }
    }

    /// The consumer's name as the group holds it (shared with its pending entries).
    pub fn consumer_name(&self, name: &[u8]) -> Option<Arc<[u8]>> {
        self.consumers.get_key_value(name).map(|(k, _)| k.clone())
    }

    /// Creates a consumer; false when it existed.
    pub fn create_consumer(&mut self, name: &[u8], now: i64) -> bool {
        if self.consumers.contains_key(name) {
            return false;
        }
        self.consumers.insert(
            Arc::from(name),
            Consumer {
                seen_time: now,
                pel: BTreeSet::new(),
            },
        );
        true
    }

    /// Deletes a consumer and its pending entries; how many were pending.
    pub fn delete_consumer(&mut self, name: &[u8]) -> Option<usize> {
        let c = self.consumers.remove(name)?;
        for id in &c.pel {
            self.pel.remove(id);
        }
        Some(c.pel.len())
    }
}

/// The stream node size limits (`stream-node-max-bytes`, `stream-node-max-entries`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NodeLimits {
    pub max_bytes: usize,
    pub max_entries: usize,
}

/// A node: its master ID and its listpack (a struct, not a tuple: the enum below then fits
/// in 40 bytes, a tuple's layout leaves it 48).
#[derive(Clone, Debug, PartialEq)]
struct Node {
    id: StreamId,
    lp: Vec<u8>,
}

/// A stream's nodes in master-ID order (Redis keeps them in a rax). Most streams are one
/// node, held inline; more go in a deque (nodes are added at the end and trimmed from the
/// front, looked up by binary search) grown by an eighth at a time, since doubling left up
/// to half its 40 bytes a node unused. A B-tree's leaf alone costs ~460 bytes.
#[derive(Clone, Debug, PartialEq)]
pub struct Nodes(Repr);

#[derive(Clone, Debug, PartialEq)]
enum Repr {
    One(Node),
    /// Zero, or two and more (a deque left with one node gives it back as `One`).
    Many(VecDeque<Node>),
}

impl Default for Nodes {
    fn default() -> Nodes {
        Nodes(Repr::Many(VecDeque::new()))
    }
}

impl Nodes {
    /// Nodes already in ascending, distinct master-ID order.
    pub fn from_sorted(v: Vec<(StreamId, Vec<u8>)>) -> Nodes {
        let mut d: VecDeque<Node> = v.into_iter().map(|(id, lp)| Node { id, lp }).collect();
        if d.len() == 1 {
            return Nodes(Repr::One(d.pop_front().expect("one node")));
        }
        d.shrink_to_fit();
        Nodes(Repr::Many(d))
    }

    pub fn len(&self) -> usize {
        match &self.0 {
            Repr::One(_) => 1,
            Repr::Many(d) => d.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The node at `i` (< len).
    fn get(&self, i: usize) -> &Node {
        match &self.0 {
            Repr::One(n) => n,
            Repr::Many(d) => &d[i],
        }
    }

    fn get_mut(&mut self, i: usize) -> &mut Node {
        match &mut self.0 {
            Repr::One(n) => n,
            Repr::Many(d) => &mut d[i],
        }
    }

    /// Master ID and listpack of the nodes in `r`.
    fn range(
        &self,
        r: std::ops::Range<usize>,
    ) -> impl DoubleEndedIterator<Item = (&StreamId, &Vec<u8>)> {
        r.map(move |i| {
            let n = self.get(i);
            (&n.id, &n.lp)
        })
    }

    pub fn iter(&self) -> impl DoubleEndedIterator<Item = (&StreamId, &Vec<u8>)> {
        self.range(0..self.len())
    }

    pub fn keys(&self) -> impl DoubleEndedIterator<Item = &StreamId> {
        self.iter().map(|(k, _)| k)
    }

    pub fn values(&self) -> impl DoubleEndedIterator<Item = &Vec<u8>> {
        self.iter().map(|(_, v)| v)
    }

    fn front(&self) -> Option<(&StreamId, &Vec<u8>)> {
        self.iter().next()
    }

    fn back_mut(&mut self) -> Option<(StreamId, &mut Vec<u8>)> {
        let n = self.len();
        (n > 0).then(|| {
            let n = self.get_mut(n - 1);
            (n.id, &mut n.lp)
        })
    }

    fn push_back(&mut self, id: StreamId, lp: Vec<u8>) {
        let node = Node { id, lp };
        match &mut self.0 {
            Repr::Many(d) if !d.is_empty() => {
                if d.len() == d.capacity() {
                    d.reserve_exact((d.len() / 8).max(4));
                }
                d.push_back(node);
            }
            Repr::Many(_) => self.0 = Repr::One(node),
            Repr::One(_) => {
                let Repr::One(first) = std::mem::take(self).0 else {
                    unreachable!("matched One")
                };
                let mut d = VecDeque::with_capacity(4);
                d.push_back(first);
                d.push_back(node);
                self.0 = Repr::Many(d);
            }
        }
    }

    fn remove(&mut self, i: usize) {
        match &mut self.0 {
            Repr::One(_) => self.0 = Repr::Many(VecDeque::new()),
            Repr::Many(d) => {
                d.remove(i);
                if d.len() == 1 {
                    let last = d.pop_front().expect("one node");
                    self.0 = Repr::One(last);
                }
            }
        }
    }

    /// Bytes the index holds beyond the listpacks.
    fn index_bytes(&self) -> usize {
        match &self.0 {
            Repr::One(_) => 0,
            Repr::Many(d) => d.capacity() * std::mem::size_of::<Node>(),
        }
    }

    /// The first index whose master ID fails `pred` (IDs ascend).
    fn partition_point(&self, pred: impl Fn(&StreamId) -> bool) -> usize {
        match &self.0 {
            Repr::One(n) => usize::from(pred(&n.id)),
            Repr::Many(d) => d.partition_point(|n| pred(&n.id)),
        }
    }

    /// The index of the node that may hold `id`: the last whose master ID is <= `id`.
    fn floor(&self, id: StreamId) -> Option<usize> {
        self.upto(id).checked_sub(1)
    }

    /// How many nodes have a master ID <= `id`.
    fn upto(&self, id: StreamId) -> usize {
        self.partition_point(|k| *k <= id)
    }
}

/// A stream's consumer groups by name. Most streams have none: the map is boxed only once
/// one exists (16 bytes less a stream).
// A boxed map on purpose: 8 bytes in every stream instead of BTreeMap's 24.
#[allow(clippy::box_collection)]
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Groups(Option<Box<BTreeMap<Box<[u8]>, Group>>>);

impl Groups {
    pub fn len(&self) -> usize {
        self.0.as_ref().map_or(0, |m| m.len())
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn get(&self, name: &[u8]) -> Option<&Group> {
        self.0.as_ref()?.get(name)
    }

    pub fn get_mut(&mut self, name: &[u8]) -> Option<&mut Group> {
        self.0.as_mut()?.get_mut(name)
    }

    pub fn contains_key(&self, name: &[u8]) -> bool {
        self.get(name).is_some()
    }

    pub fn insert(&mut self, name: Box<[u8]>, g: Group) -> Option<Group> {
        self.0.get_or_insert_with(Default::default).insert(name, g)
    }

    pub fn remove(&mut self, name: &[u8]) -> Option<Group> {
        let m = self.0.as_mut()?;
        let g = m.remove(name);
        if m.is_empty() {
            self.0 = None;
        }
        g
    }

    pub fn iter(&self) -> std::iter::Flatten<std::option::IntoIter<GroupsIter<'_>>> {
        self.0.as_ref().map(|m| m.iter()).into_iter().flatten()
    }
}

type GroupsIter<'a> = std::collections::btree_map::Iter<'a, Box<[u8]>, Group>;

impl<'a> IntoIterator for &'a Groups {
    type Item = (&'a Box<[u8]>, &'a Group);
    type IntoIter = std::iter::Flatten<std::option::IntoIter<GroupsIter<'a>>>;

    fn into_iter(self) -> Self::IntoIter {
        self.iter()
    }
}

impl std::ops::Index<&[u8]> for Groups {
    type Output = Group;

    fn index(&self, name: &[u8]) -> &Group {
        self.get(name).expect("group present")
    }
}

/// A stream (Redis' `stream`).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Stream {
    /// Master ID -> listpack node.
    pub nodes: Nodes,
    pub length: u64,
    pub last_id: StreamId,
    /// The first live entry, 0-0 when empty.
    pub first_id: StreamId,
    pub max_deleted: StreamId,
    pub entries_added: u64,
    pub groups: Groups,
}

/// One entry as a walk finds it: its ID, flags and where its fields are.
#[derive(Clone, Copy)]
pub struct EntryRef<'a> {
    pub id: StreamId,
    pub flags: i64,
    node: &'a [u8],
    /// The first master field (used when SAMEFIELDS).
    master_fields: usize,
    /// The first field (or value, when SAMEFIELDS) of the entry.
    fields: usize,
    pub num_fields: usize,
}

impl<'a> EntryRef<'a> {
    /// Each field and value, in order.
    pub fn for_each(&self, mut f: impl FnMut(Elem<'a>, Elem<'a>)) {
        let n = self.node;
        let same = self.flags & FLAG_SAMEFIELDS != 0;
        let mut mf = self.master_fields;
        let mut p = self.fields;
        for _ in 0..self.num_fields {
            let field = if same {
                let e = lp::get(n, mf);
                mf = lp::next(n, mf).unwrap_or(mf);
                e
            } else {
                let e = lp::get(n, p);
                p = lp::next(n, p).unwrap_or(p);
                e
            };
            let value = lp::get(n, p);
            p = lp::next(n, p).unwrap_or(p);
            f(field, value);
        }
    }

    /// The fields and values as owned byte strings.
    pub fn pairs(&self) -> Vec<(Vec<u8>, Vec<u8>)> {
        let mut out = Vec::with_capacity(self.num_fields);
        let (mut a, mut b) = (IntBuf::default(), IntBuf::default());
        self.for_each(|f, v| out.push((f.bytes(&mut a).to_vec(), v.bytes(&mut b).to_vec())));
        out
    }
}

/// A node's master entry: where its fields start, how many, and where its first entry is.
struct Master {
    count: i64,
    deleted: i64,
    fields: usize,
    num_fields: usize,
    /// The master entry's zero terminator; entries follow it.
    terminator: usize,
}

fn master(node: &[u8]) -> Master {
    let p = lp::first(node).unwrap_or(lp::HEADER);
    let count = lp::get_int(node, p);
    let p = lp::next(node, p).unwrap_or(p);
    let deleted = lp::get_int(node, p);
    let p = lp::next(node, p).unwrap_or(p);
    let num_fields = lp::get_int(node, p).max(0) as usize;
    let fields = lp::next(node, p).unwrap_or(p);
    let mut t = fields;
    for _ in 0..num_fields {
        t = lp::next(node, t).unwrap_or(t);
    }
    Master {
        count,
        deleted,
        fields,
        num_fields,
        terminator: t,
    }
}

/// Reads the entry whose flags are at `p`; returns it and the position of its lp-count.
fn entry_at<'a>(
    node: &'a [u8],
    m: &Master,
    master_id: StreamId,
    p: usize,
) -> (EntryRef<'a>, usize) {
    let flags = lp::get_int(node, p);
    let q = lp::next(node, p).unwrap_or(p);
    let ms = master_id.ms.wrapping_add(lp::get_int(node, q) as u64);
    let q = lp::next(node, q).unwrap_or(q);
    let seq = master_id.seq.wrapping_add(lp::get_int(node, q) as u64);
    let mut q = lp::next(node, q).unwrap_or(q);
    let (num_fields, skip) = if flags & FLAG_SAMEFIELDS != 0 {
        (m.num_fields, m.num_fields)
    } else {
        let n = lp::get_int(node, q).max(0) as usize;
        q = lp::next(node, q).unwrap_or(q);
        (n, n * 2)
    };
    let fields = q;
    for _ in 0..skip {
        q = lp::next(node, q).unwrap_or(q);
    }
    let e = EntryRef {
        id: StreamId::new(ms, seq),
        flags,
        node,
        master_fields: m.fields,
        fields,
        num_fields,
    };
    (e, q)
}

/// Every entry of a node (tombstones included), in order; stops when `f` answers false.
fn node_entries<'a>(
    node: &'a [u8],
    master_id: StreamId,
    mut f: impl FnMut(EntryRef<'a>, usize) -> bool,
) -> bool {
    let m = master(node);
    let mut p = lp::next(node, m.terminator);
    while let Some(flags_at) = p {
        let (e, count_at) = entry_at(node, &m, master_id, flags_at);
        if !f(e, flags_at) {
            return false;
        }
        p = lp::next(node, count_at);
    }
    true
}

/// Every entry of a node from the last, backwards.
fn node_entries_rev<'a>(
    node: &'a [u8],
    master_id: StreamId,
    mut f: impl FnMut(EntryRef<'a>) -> bool,
) -> bool {
    let m = master(node);
    let mut count_at = lp::last(node);
    while let Some(c) = count_at {
        let lp_count = lp::get_int(node, c);
        if lp_count == 0 {
            break;
        }
        let mut p = c;
        for _ in 0..lp_count {
            p = lp::prev(node, p).unwrap_or(p);
        }
        let (e, _) = entry_at(node, &m, master_id, p);
        if !f(e) {
            return false;
        }
        count_at = lp::prev(node, p);
    }
    true
}

/// Whether a node loaded from outside has a stream node's layout, so the walkers above can
/// trust it (streamValidateListpackIntegrity, deep): a valid listpack, a master entry ending
/// in 0, then count + deleted entries whose lp-counts agree with their fields.
pub fn valid_node(node: &[u8]) -> bool {
    if !lp::valid(node) {
        return false;
    }
    let int_at = |p: Option<usize>| -> Option<(i64, usize)> {
        let p = p?;
        let v = match lp::get(node, p) {
            Elem::Int(v) => v,
            Elem::Str(s) => crate::args::parse_i64(s)?,
        };
        Some((v, p))
    };
    let skip = |mut p: Option<usize>, n: i64| -> Option<Option<usize>> {
        for _ in 0..n {
            p = lp::next(node, p?);
        }
        Some(p)
    };
    let check = || -> Option<()> {
        let (count, p) = int_at(lp::first(node))?;
        let (deleted, p) = int_at(lp::next(node, p))?;
        let (master_fields, p) = int_at(lp::next(node, p))?;
        if count < 0 || deleted < 0 || master_fields < 0 {
            return None;
        }
        let p = skip(lp::next(node, p), master_fields)?;
        let (zero, p) = int_at(p)?;
        if zero != 0 {
            return None;
        }
        let mut p = lp::next(node, p);
        for _ in 0..count.checked_add(deleted)? {
            let (flags, q) = int_at(p)?;
            let (_, q) = int_at(lp::next(node, q))?;
            let (_, q) = int_at(lp::next(node, q))?;
            let mut q = lp::next(node, q);
            let (fields, extra) = if flags & FLAG_SAMEFIELDS == 0 {
                let (n, at) = int_at(q)?;
                if n < 0 {
                    return None;
                }
                q = skip(lp::next(node, at), n)?;
                (n, 3 + n + 1)
            } else {
                (master_fields, 3)
            };
            q = skip(q, fields)?;
            let (lp_count, at) = int_at(q)?;
            if lp_count != fields + extra {
                return None;
            }
            p = lp::next(node, at);
        }
        p.is_none().then_some(())
    };
    check().is_some()
}

/// Why an XADD could not add.
#[derive(Debug, PartialEq)]
pub enum AddError {
    /// The ID is not greater than the last one (EDOM).
    TooSmall,
    /// The entry is too large for a node (ERANGE).
    TooLarge,
}

/// How XADD and XTRIM trim (streamAddTrimArgs).
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Trim {
    MaxLen(u64),
    MinId(StreamId),
}

impl Stream {
    pub fn new() -> Stream {
        Stream::default()
    }

    pub fn len(&self) -> u64 {
        self.length
    }

    pub fn is_empty(&self) -> bool {
        self.length == 0
    }

    /// Adds an entry (streamAppendItem). `id`: None generates one from `now_ms`; Some((id,
    /// true)) uses it; Some((id, false)) uses its milliseconds with a generated sequence.
    pub fn append(
        &mut self,
        pairs: &[(&[u8], &[u8])],
        id: Option<(StreamId, bool)>,
        now_ms: u64,
        limits: NodeLimits,
    ) -> Result<StreamId, AddError> {
        let new_id = match id {
            Some((id, true)) => id,
            Some((id, false)) => {
                if self.last_id.ms == id.ms {
                    if self.last_id.seq == u64::MAX {
                        return Err(AddError::TooSmall);
                    }
                    StreamId::new(id.ms, self.last_id.seq + 1)
                } else {
                    id
                }
            }
            None => {
                if now_ms > self.last_id.ms {
                    StreamId::new(now_ms, 0)
                } else {
                    self.last_id.incr().unwrap_or(StreamId::MIN)
                }
            }
        };
        if new_id <= self.last_id {
            return Err(AddError::TooSmall);
        }
        let total: usize = pairs.iter().map(|(f, v)| f.len() + v.len()).sum();
        if total > LISTPACK_MAX_SIZE {
            return Err(AddError::TooLarge);
        }
        let max_bytes = if limits.max_bytes == 0 || limits.max_bytes > LISTPACK_MAX_SIZE {
            LISTPACK_MAX_SIZE
        } else {
            limits.max_bytes
        };
        // The tail node, unless it is full (then sealed: shrunk to fit).
        let mut tail = self.nodes.back_mut();
        if let Some((_, node)) = &mut tail {
            let m = master(node);
            let full = node.len() + total >= max_bytes
                || (limits.max_entries != 0
                    && (m.count + m.deleted) as usize >= limits.max_entries);
            if full {
                node.shrink_to_fit();
                tail = None;
            }
        }
        let (master_id, node, same) = match tail {
            Some((master_id, node)) => {
                // Count the entry, and see whether its fields are the master's.
                let first = lp::first(node).unwrap_or(lp::HEADER);
                let count = lp::get_int(node, first);
                lp::replace_int(node, first, count + 1);
                let m = master(node);
                let mut same = m.num_fields == pairs.len();
                if same {
                    let mut p = m.fields;
                    let mut buf = IntBuf::default();
                    for (f, _) in pairs {
                        if lp::get(node, p).bytes(&mut buf) != *f {
                            same = false;
                            break;
                        }
                        p = lp::next(node, p).unwrap_or(p);
                    }
                }
                (master_id, node, same)
            }
            None => {
                let cap = if limits.max_bytes > 0 && limits.max_bytes < PREALLOC {
                    limits.max_bytes
                } else {
                    PREALLOC
                };
                let mut node = lp::new(cap);
                lp::append_int(&mut node, 1);
                lp::append_int(&mut node, 0);
                lp::append_int(&mut node, pairs.len() as i64);
                for (f, _) in pairs {
                    lp::append(&mut node, f);
                }
                lp::append_int(&mut node, 0);
                self.nodes.push_back(new_id, node);
                let node = self.nodes.back_mut().expect("just pushed").1;
                (new_id, node, true)
            }
        };
        let flags = if same { FLAG_SAMEFIELDS } else { 0 };
        lp::append_int(node, flags);
        lp::append_int(node, new_id.ms.wrapping_sub(master_id.ms) as i64);
        lp::append_int(node, new_id.seq.wrapping_sub(master_id.seq) as i64);
        if !same {
            lp::append_int(node, pairs.len() as i64);
        }
        for (f, v) in pairs {
            if !same {
                lp::append(node, f);
            }
            lp::append(node, v);
        }
        let mut lp_count = pairs.len() as i64 + 3;
        if !same {
            lp_count += pairs.len() as i64 + 1;
        }
        lp::append_int(node, lp_count);
        self.length += 1;
        self.entries_added += 1;
        self.last_id = new_id;
        if self.length == 1 {
            self.first_id = new_id;
        }
        Ok(new_id)
    }

    /// Visits the entries with `start <= id <= end`, forwards or backwards (`rev`), skipping
    /// tombstones unless `tombstones`; stops when `f` answers false (streamIterator).
    pub fn visit<'a>(
        &'a self,
        start: StreamId,
        end: StreamId,
        rev: bool,
        tombstones: bool,
        mut f: impl FnMut(EntryRef<'a>) -> bool,
    ) {
        if start > end {
            return;
        }
        if !rev {
            // The node that may hold `start`, then every later one.
            let from = self.nodes.floor(start).unwrap_or(0);
            for (mid, node) in self.nodes.range(from..self.nodes.len()) {
                if *mid > end {
                    return;
                }
                let go_on = node_entries(node, *mid, |e, _| {
                    if e.id < start || (!tombstones && e.flags & FLAG_DELETED != 0) {
                        return true;
                    }
                    if e.id > end {
                        return false;
                    }
                    f(e)
                });
                if !go_on {
                    return;
                }
            }
        } else {
            for (mid, node) in self.nodes.range(0..self.nodes.upto(end)).rev() {
                let go_on = node_entries_rev(node, *mid, |e| {
                    if e.id > end || (!tombstones && e.flags & FLAG_DELETED != 0) {
                        return true;
                    }
                    if e.id < start {
                        return false;
                    }
                    f(e)
                });
                if !go_on {
                    return;
                }
            }
        }
    }

    /// The entry with this ID, if live.
    pub fn get(&self, id: StreamId) -> Option<EntryRef<'_>> {
        let mut found = None;
        self.visit(id, id, false, false, |e| {
            found = Some(e);
            false
        });
        found
    }

    /// The first or last entry's ID (streamGetEdgeID): MAX (first) or 0-0 (last) if none.
    pub fn edge_id(&self, first: bool, tombstones: bool) -> StreamId {
        let mut found = None;
        self.visit(StreamId::MIN, StreamId::MAX, !first, tombstones, |e| {
            found = Some(e.id);
            false
        });
        found.unwrap_or(if first { StreamId::MAX } else { StreamId::MIN })
    }

    /// The last live entry's ID (streamLastValidID), 0-0 if none.
    pub fn last_valid_id(&self) -> StreamId {
        self.edge_id(false, false)
    }

    /// Marks the entry deleted (streamDeleteItem); false when there is no such live entry.
    /// The caller keeps first_id and max_deleted (XDEL does).
    pub fn delete(&mut self, id: StreamId) -> bool {
        let Some(at_node) = self.nodes.floor(id) else {
            return false;
        };
        let Node { id: mid, lp: node } = self.nodes.get_mut(at_node);
        let mid = *mid;
        let mut at = None;
        node_entries(node, mid, |e, flags_at| {
            if e.id == id && e.flags & FLAG_DELETED == 0 {
                at = Some((flags_at, e.flags));
                return false;
            }
            e.id < id
        });
        let Some((flags_at, flags)) = at else {
            return false;
        };
        lp::replace_int(node, flags_at, flags | FLAG_DELETED);
        let first = lp::first(node).unwrap_or(lp::HEADER);
        let count = lp::get_int(node, first);
        if count == 1 {
            self.nodes.remove(at_node);
        } else {
            lp::replace_int(node, first, count - 1);
            let d = lp::next(node, first).unwrap_or(first);
            let deleted = lp::get_int(node, d);
            lp::replace_int(node, d, deleted + 1);
        }
        self.length = self.length.saturating_sub(1);
        true
    }

    /// Trims from the oldest entries (streamTrim); `approx` removes whole nodes only, and
    /// `limit` (0: none) bounds the entries removed. Returns how many were removed.
    pub fn trim(&mut self, how: Trim, approx: bool, limit: u64) -> u64 {
        let mut deleted: u64 = 0;
        // Only ever the oldest node: it goes whole, or is the last one looked at.
        while let Some((mid, node)) = self.nodes.front() {
            let mid = *mid;
            if let Trim::MaxLen(maxlen) = how {
                if self.length <= maxlen {
                    break;
                }
            }
            let m = master(node);
            let entries = m.count.max(0) as u64;
            if limit != 0 && deleted + entries > limit {
                break;
            }
            let remove_node = match how {
                Trim::MaxLen(maxlen) => self.length.saturating_sub(entries) >= maxlen,
                Trim::MinId(minid) => {
                    // The node's last entry, tombstone or not.
                    let mut last = mid;
                    node_entries_rev(node, mid, |e| {
                        last = e.id;
                        false
                    });
                    last < minid
                }
            };
            if remove_node {
                self.nodes.remove(0);
                self.length = self.length.saturating_sub(entries);
                deleted += entries;
                continue;
            }
            if approx {
                break;
            }
            // Mark entries deleted until the goal is met.
            let mut marks = Vec::new();
            let mut length = self.length;
            node_entries(node, mid, |e, flags_at| {
                let stop = match how {
                    Trim::MaxLen(maxlen) => length <= maxlen,
                    Trim::MinId(minid) => e.id >= minid,
                };
                if stop {
                    return false;
                }
                if e.flags & FLAG_DELETED == 0 {
                    marks.push((flags_at, e.flags | FLAG_DELETED));
                    length -= 1;
                }
                true
            });
            let node = &mut self.nodes.get_mut(0).lp;
            // Flags are small integers: replacing them keeps every position.
            for (at, flags) in &marks {
                lp::replace_int(node, *at, *flags);
            }
            let n = marks.len() as i64;
            let first = lp::first(node).unwrap_or(lp::HEADER);
            lp::replace_int(node, first, m.count - n);
            let d = lp::next(node, first).unwrap_or(first);
            lp::replace_int(node, d, m.deleted + n);
            self.length = self.length.saturating_sub(n as u64);
            deleted += n as u64;
            break;
        }
        if self.length == 0 {
            self.first_id = StreamId::MIN;
        } else if deleted > 0 {
            self.first_id = self.edge_id(true, false);
        }
        deleted
    }

    /// Whether `start..=end` may hold a tombstone (streamRangeHasTombstones).
    pub fn range_has_tombstones(&self, start: StreamId, end: StreamId) -> bool {
        if self.length == 0 || self.max_deleted.is_zero() {
            return false;
        }
        if self.first_id > self.max_deleted {
            return false;
        }
        start <= self.max_deleted && self.max_deleted <= end
    }

    /// streamEstimateDistanceFromFirstEverEntry: an ID's logical read counter, or -1.
    pub fn estimate_distance(&self, id: StreamId) -> i64 {
        if self.entries_added == 0 {
            return 0;
        }
        if self.length == 0 && id <= self.last_id {
            return self.entries_added as i64;
        }
        if id == self.last_id {
            return self.entries_added as i64;
        } else if id > self.last_id {
            return INVALID_ENTRIES_READ;
        }
        if self.max_deleted.is_zero() || self.max_deleted < self.first_id {
            if id < self.first_id {
                return (self.entries_added - self.length) as i64;
            } else if id == self.first_id {
                return (self.entries_added - self.length + 1) as i64;
            }
        }
        INVALID_ENTRIES_READ
    }

    /// A group's lag (streamReplyWithCGLag), None when it cannot be known.
    pub fn lag(&self, g: &Group) -> Option<i64> {
        if self.entries_added == 0 {
            return Some(0);
        }
        if g.entries_read != INVALID_ENTRIES_READ
            && !self.range_has_tombstones(g.last_id, StreamId::MAX)
        {
            return Some(self.entries_added as i64 - g.entries_read);
        }
        let read = self.estimate_distance(g.last_id);
        (read != INVALID_ENTRIES_READ).then(|| self.entries_added as i64 - read)
    }

    /// Bytes held, for MEMORY USAGE and the memory accounting: nodes and group state.
    pub fn memory(&self) -> usize {
        let nodes: usize =
            self.nodes.values().map(|n| n.capacity()).sum::<usize>() + self.nodes.index_bytes();
        let groups: usize = self
            .groups
            .iter()
            .map(|(name, g)| {
                name.len()
                    + 96
                    + g.pel.len() * 56
                    + g.consumers
                        .iter()
                        .map(|(n, c)| n.len() + 64 + c.pel.len() * 24)
                        .sum::<usize>()
            })
            .sum();
        std::mem::size_of::<Stream>() + nodes + groups
    }

    /// The number of nodes (XINFO STREAM's radix-tree-keys).
    pub fn node_count(&self) -> usize {
        self.nodes.len()
    }

    /// The nodes of the radix tree Redis would keep the node keys in (XINFO STREAM's
    /// radix-tree-nodes): the root, a compressed node for each run of bytes all keys below
    /// share, a branching node where they differ, and a leaf per key.
    pub fn rax_nodes(&self) -> usize {
        fn count(keys: &[[u8; 16]], depth: usize) -> usize {
            if keys.is_empty() || depth == 16 {
                return 1;
            }
            let first = keys[0][depth];
            let last = keys[keys.len() - 1][depth];
            if first == last {
                // Every key shares this byte: extend the run as far as they all agree.
                let (a, b) = (&keys[0], &keys[keys.len() - 1]);
                let mut d = depth;
                while d < 16 && a[d] == b[d] {
                    d += 1;
                }
                return 1 + count(keys, d);
            }
            let mut n = 1;
            let mut i = 0;
            while i < keys.len() {
                let b = keys[i][depth];
                let j = i + keys[i..].partition_point(|k| k[depth] == b);
                n += count(&keys[i..j], depth + 1);
                i = j;
            }
            n
        }
        let keys: Vec<[u8; 16]> = self.nodes.keys().map(|k| k.encode()).collect();
        count(&keys, 0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIMITS: NodeLimits = NodeLimits {
        max_bytes: 4096,
        max_entries: 100,
    };

    fn ids(s: &Stream, rev: bool) -> Vec<u64> {
        let mut out = Vec::new();
        s.visit(StreamId::MIN, StreamId::MAX, rev, false, |e| {
            out.push(e.id.ms);
            true
        });
        out
    }

    /// A one-node stream holds its node inline and no group map: 112 bytes (jemalloc's
    /// 112 class) beside its listpack, where a deque and an unboxed map took 176.
    #[test]
    fn stream_struct_size() {
        assert_eq!(
            (
                std::mem::size_of::<Stream>(),
                std::mem::size_of::<Nodes>(),
                std::mem::size_of::<Groups>()
            ),
            (112, 40, 8)
        );
    }

    /// Nodes: one inline, a deque from two, back to inline when trimmed to one, empty after.
    #[test]
    fn nodes_inline_and_deque() {
        let id = |ms| StreamId { ms, seq: 0 };
        let mut n = Nodes::default();
        assert!(n.is_empty() && n.front().is_none());
        n.push_back(id(1), vec![1]);
        assert!(matches!(n.0, Repr::One(_)));
        for ms in 2..=20 {
            n.push_back(id(ms), vec![ms as u8]);
        }
        assert_eq!(n.len(), 20);
        assert_eq!(n.floor(id(0)), None);
        assert_eq!(n.floor(id(7)), Some(6));
        assert_eq!(n.upto(id(100)), 20);
        assert_eq!(n.keys().next_back(), Some(&id(20)));
        n.remove(4);
        assert_eq!(n.get(4).id, id(6));
        while n.len() > 1 {
            n.remove(0);
        }
        assert!(matches!(n.0, Repr::One(_)));
        assert_eq!(n.front().map(|f| *f.0), Some(id(20)));
        assert_eq!(n.floor(id(20)), Some(0));
        assert_eq!(n.floor(id(19)), None);
        n.remove(0);
        assert!(n.is_empty() && n.index_bytes() == 0);
    }

    #[test]
    fn groups_box_only_when_present() {
        let mut g = Groups::default();
        assert!(g.0.is_none() && g.iter().next().is_none());
        g.insert(b"a".to_vec().into(), Group::new(StreamId::default(), 0));
        assert!(g.contains_key(b"a") && g.len() == 1);
        assert!(g.remove(b"a").is_some());
        assert!(g.0.is_none());
    }

    #[test]
    fn appends_walks_deletes_and_trims() {
        let mut s = Stream::new();
        for i in 1..=250u64 {
            let v = i.to_string();
            let pairs: Vec<(&[u8], &[u8])> = if i % 7 == 0 {
                vec![(b"other", v.as_bytes()), (b"x", b"y")]
            } else {
                vec![(b"f", v.as_bytes())]
            };
            let id = s.append(&pairs, Some((StreamId::new(i, 0), true)), 0, LIMITS);
            assert_eq!(id, Ok(StreamId::new(i, 0)));
        }
        assert_eq!(s.node_count(), 3);
        assert_eq!(ids(&s, false), (1..=250).collect::<Vec<_>>());
        assert_eq!(ids(&s, true), (1..=250).rev().collect::<Vec<_>>());
        let e = s.get(StreamId::new(14, 0)).expect("entry 14");
        assert_eq!(
            e.pairs(),
            vec![
                (b"other".to_vec(), b"14".to_vec()),
                (b"x".to_vec(), b"y".to_vec())
            ]
        );
        assert!(s.delete(StreamId::new(5, 0)));
        assert!(!s.delete(StreamId::new(5, 0)));
        assert_eq!(s.len(), 249);
        assert!(s.get(StreamId::new(5, 0)).is_none());
        assert_eq!(s.trim(Trim::MaxLen(200), true, 0), 0);
        assert_eq!(s.trim(Trim::MaxLen(150), true, 0), 99);
        assert_eq!(s.len(), 150);
        assert_eq!(s.trim(Trim::MinId(StreamId::new(160, 0)), false, 0), 59);
        assert_eq!(ids(&s, false).first(), Some(&160));
        assert_eq!(s.first_id, StreamId::new(160, 0));
        for node in s.nodes.values() {
            assert!(crate::rdb::pack::listpack(node).is_some());
        }
        assert_eq!(
            s.append(
                &[(b"f", b"v")],
                Some((StreamId::new(3, 0), true)),
                0,
                LIMITS
            ),
            Err(AddError::TooSmall)
        );
    }
}
