//! Stored values. Strings keep Redis' three encodings because OBJECT ENCODING reports them and
//! because an integer kept as an i64 makes INCR free of parsing and allocation.

use crate::args::parse_i64;
use crate::dict::{Dict, Rng};
use crate::packed::{IntSet, Pairs};

/// Redis' OBJ_ENCODING_EMBSTR_SIZE_LIMIT: strings up to 44 bytes report "embstr".
pub const EMBSTR_LIMIT: usize = 44;

/// Strings up to this many bytes live inside the entry (and so inside the keyspace node):
/// no allocation of their own. 38 makes `Str` 40 bytes, the size its `Raw` variant needs
/// anyway with its tag rounded up, and holds the common 32-byte value.
pub const INLINE_CAP: usize = 38;

/// The bytes of a short string, stored in place. Bytes past `len` are zero, so the derived
/// equality compares contents.
#[derive(Clone, Debug, PartialEq)]
pub struct Inline {
    len: u8,
    buf: [u8; INLINE_CAP],
}

impl Inline {
    fn new(b: &[u8]) -> Inline {
        let mut buf = [0; INLINE_CAP];
        buf[..b.len()].copy_from_slice(b);
        Inline {
            len: b.len() as u8,
            buf,
        }
    }

    fn bytes(&self) -> &[u8] {
        &self.buf[..self.len as usize]
    }
}

#[derive(Clone, Debug, PartialEq)]
pub enum Str {
    /// A canonical decimal that fits an i64 (Redis' "int" encoding).
    Int(i64),
    /// Written whole and never modified in place, up to `INLINE_CAP` bytes: "embstr".
    Inline(Inline),
    /// Written whole and never modified in place, up to 44 bytes: "embstr".
    Emb(Box<[u8]>),
    /// Grown or modified in place (APPEND, SETRANGE) or longer than 44 bytes: "raw".
    Raw(Vec<u8>),
    /// A big value kept in the read buffer it arrived in (`Args::shared`), as Redis keeps a
    /// big argument's query buffer as the value: no copy of hundreds of MB into fresh memory.
    /// Read like `Raw` ("raw"); the first in-place edit makes it a `Raw` copy.
    Shared(bytes::Bytes),
}

impl Str {
    /// The encoding SET would choose for these bytes (Redis' tryObjectEncoding).
    pub fn from_bytes(b: &[u8]) -> Str {
        if b.len() <= 20 {
            if let Some(v) = parse_i64(b) {
                return Str::Int(v);
            }
        }
        Str::plain(b)
    }

    /// A string value that is never int-encoded (Redis' createStringObject): embstr up to 44
    /// bytes, raw beyond.
    pub fn plain(b: &[u8]) -> Str {
        if b.len() <= INLINE_CAP {
            Str::Inline(Inline::new(b))
        } else if b.len() <= EMBSTR_LIMIT {
            Str::Emb(b.into())
        } else {
            Str::Raw(b.to_vec())
        }
    }

    /// The bytes of the value; integers are formatted into `scratch`.
    pub fn bytes<'a>(&'a self, scratch: &'a mut IntBuf) -> &'a [u8] {
        match self {
            Str::Int(v) => scratch.format(*v),
            Str::Inline(s) => s.bytes(),
            Str::Emb(b) => b,
            Str::Raw(v) => v,
            Str::Shared(b) => b,
        }
    }

    pub fn to_vec(&self) -> Vec<u8> {
        let mut scratch = IntBuf::default();
        self.bytes(&mut scratch).to_vec()
    }

    pub fn len(&self) -> usize {
        match self {
            Str::Int(v) => IntBuf::default().format(*v).len(),
            Str::Inline(s) => s.len as usize,
            Str::Emb(b) => b.len(),
            Str::Raw(v) => v.len(),
            Str::Shared(b) => b.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Turns the value into a growable buffer for in-place edits (APPEND, SETRANGE).
    pub fn make_raw(&mut self) -> &mut Vec<u8> {
        if !matches!(self, Str::Raw(_)) {
            *self = Str::Raw(self.to_vec());
        }
        match self {
            Str::Raw(v) => v,
            _ => unreachable!("converted to Raw above"),
        }
    }

    pub fn encoding(&self) -> &'static str {
        match self {
            Str::Int(_) => "int",
            Str::Inline(_) | Str::Emb(_) => "embstr",
            Str::Raw(_) | Str::Shared(_) => "raw",
        }
    }

    pub fn as_int(&self) -> Option<i64> {
        match self {
            Str::Int(v) => Some(*v),
            Str::Inline(s) => parse_i64(s.bytes()),
            Str::Emb(b) => parse_i64(b),
            Str::Raw(v) => parse_i64(v),
            Str::Shared(b) => parse_i64(b),
        }
    }
}

/// Formats an i64 without allocating.
#[derive(Clone, Default)]
pub struct IntBuf([u8; 20]);

impl IntBuf {
    pub fn format(&mut self, v: i64) -> &[u8] {
        let mut n = v.unsigned_abs();
        let mut i = self.0.len();
        loop {
            i -= 1;
            self.0[i] = b'0' + (n % 10) as u8;
            n /= 10;
            if n == 0 {
                break;
            }
        }
        if v < 0 {
            i -= 1;
            self.0[i] = b'-';
        }
        &self.0[i..]
    }
}

/// A list: packed chunks, as Redis 7.0's quicklist (see `quicklist`).
pub use crate::quicklist::List;

/// The size limits of the compact encodings (Redis' `*-max-listpack-*` and
/// `set-max-intset-entries` directives): a collection past them converts to its full form
/// for good. Each shard holds a copy; CONFIG SET updates every shard's.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    pub hash_entries: usize,
    pub hash_value: usize,
    pub set_intset_entries: usize,
    pub zset_entries: usize,
    pub zset_value: usize,
    /// The longest string APPEND, SETRANGE, SETBIT and BITFIELD may make
    /// (`proto-max-bulk-len`).
    pub max_string: usize,
    /// `hll-sparse-max-bytes`: past it a HyperLogLog turns dense.
    pub hll_sparse_max_bytes: usize,
    /// `stream-node-max-bytes` and `stream-node-max-entries`: when a stream starts a node.
    pub stream_node: crate::stream::NodeLimits,
}

impl Default for Limits {
    /// Redis 7.0's defaults.
    fn default() -> Self {
        Limits {
            hash_entries: 128,
            hash_value: 64,
            set_intset_entries: 512,
            zset_entries: 128,
            zset_value: 64,
            max_string: crate::cmd::string::MAX_STRING,
            hll_sparse_max_bytes: 3000,
            stream_node: crate::stream::NodeLimits {
                max_bytes: 4096,
                max_entries: 100,
            },
        }
    }
}

/// A hash. Small ones are packed field/value pairs in insertion order, updates in place
/// (Redis' listpack, so HGETALL answers in Redis' order); past the listpack limits a hash
/// table, for good.
#[derive(Clone, Debug, PartialEq)]
pub enum Hash {
    Pack(Pairs),
    /// Field -> value, one allocation per field (with the field's bytes) plus the value's.
    Table(Box<Dict<Box<[u8]>>>),
}

impl Default for Hash {
    fn default() -> Self {
        Hash::Pack(Pairs::default())
    }
}

impl Hash {
    pub fn len(&self) -> usize {
        match self {
            Hash::Pack(p) => p.len(),
            Hash::Table(m) => m.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn get(&self, field: &[u8]) -> Option<&[u8]> {
        match self {
            Hash::Pack(p) => p.get(field),
            Hash::Table(m) => m.get(field).map(|v| &**v),
        }
    }

    /// Sets a field; true when it was new. A listpack past its entry limit becomes a table.
    pub fn set(&mut self, field: &[u8], value: &[u8], limits: &Limits) -> bool {
        let created = match self {
            Hash::Pack(p) => p.set(field, value),
            Hash::Table(m) => m.insert(field, value.into()).is_none(),
        };
        if matches!(self, Hash::Pack(p) if p.len() > limits.hash_entries) {
            self.convert_to_table();
        }
        created
    }

    pub fn remove(&mut self, field: &[u8]) -> bool {
        match self {
            Hash::Pack(p) => p.remove(field),
            Hash::Table(m) => m.remove(field).is_some(),
        }
    }

    /// Redis' hashTypeTryConversion: a field or value longer than the listpack limit about
    /// to be written turns the hash into a table first.
    pub fn prepare(&mut self, lens: impl IntoIterator<Item = usize>, limits: &Limits) {
        if matches!(self, Hash::Pack(_)) && lens.into_iter().any(|l| l > limits.hash_value) {
            self.convert_to_table();
        }
    }

    fn convert_to_table(&mut self) {
        if let Hash::Pack(p) = self {
            let mut m = Dict::new();
            for (f, val) in p.iter() {
                m.insert_new(f, val.into());
            }
            *self = Hash::Table(Box::new(m));
        }
    }

    pub fn pairs(&self) -> Vec<(&[u8], &[u8])> {
        match self {
            Hash::Pack(p) => p.iter().collect(),
            Hash::Table(m) => m.iter().map(|(f, v)| (f, &**v)).collect(),
        }
    }

    /// A random field and its value.
    pub fn random(&self, rng: &mut Rng) -> Option<(&[u8], &[u8])> {
        match self {
            Hash::Pack(p) if p.is_empty() => None,
            Hash::Pack(p) => p.nth(rng.next_u64() as usize % p.len()),
            Hash::Table(m) => {
                let f = m.random_key(rng)?;
                m.get(f).map(|v| (f, &**v))
            }
        }
    }

    pub fn encoding(&self) -> &'static str {
        match self {
            Hash::Pack(_) => "listpack",
            Hash::Table(_) => "hashtable",
        }
    }
}

/// A set. Integer-only sets up to `set-max-intset-entries` members are an `IntSet` (Redis'
/// intset: "intset", ascending, 2, 4 or 8 bytes a member); anything else is a
/// `Dict` with no values ("hashtable"): one allocation per member, SSCAN's cursor guarantee
/// across resizes and O(1) random members for SPOP and SRANDMEMBER.
#[derive(Clone, Debug, PartialEq)]
pub enum Set {
    Ints(IntSet),
    Table(Box<Dict<()>>),
}

impl Set {
    /// Redis' setTypeCreate: an intset when the first member is an integer.
    pub fn for_member(first: &[u8]) -> Set {
        if parse_i64(first).is_some() {
            Set::Ints(IntSet::default())
        } else {
            Set::Table(Box::default())
        }
    }

    pub fn len(&self) -> usize {
        match self {
            Set::Ints(v) => v.len(),
            Set::Table(d) => d.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn contains(&self, m: &[u8]) -> bool {
        match self {
            Set::Ints(v) => parse_i64(m).is_some_and(|n| v.contains(n)),
            Set::Table(d) => d.contains_key(m),
        }
    }

    /// Adds a member; true when it was new. Converts to a table on a non-integer member or
    /// past the intset limit, as Redis' setTypeAdd.
    pub fn insert(&mut self, m: &[u8], limits: &Limits) -> bool {
        if let Set::Ints(v) = self {
            if let Some(n) = parse_i64(m) {
                if !v.insert(n) {
                    return false;
                }
                if v.len() > limits.set_intset_entries.min(1 << 30) {
                    self.convert_to_table();
                }
                return true;
            }
            self.convert_to_table();
        }
        match self {
            Set::Table(d) => {
                if d.contains_key(m) {
                    return false;
                }
                d.insert_new(m, ());
                true
            }
            Set::Ints(_) => unreachable!("converted above"),
        }
    }

    pub fn remove(&mut self, m: &[u8]) -> bool {
        match self {
            Set::Ints(v) => parse_i64(m).is_some_and(|n| v.remove(n)),
            Set::Table(d) => d.remove(m).is_some(),
        }
    }

    fn convert_to_table(&mut self) {
        if let Set::Ints(v) = self {
            let mut d = Dict::new();
            let mut buf = IntBuf::default();
            for n in v.iter() {
                d.insert_new(buf.format(n), ());
            }
            *self = Set::Table(Box::new(d));
        }
    }

    /// Visits every member in the encoding's order (ascending for an intset).
    pub fn for_each(&self, mut f: impl FnMut(&[u8])) {
        match self {
            Set::Ints(v) => {
                let mut buf = IntBuf::default();
                for n in v.iter() {
                    f(buf.format(n));
                }
            }
            Set::Table(d) => d.iter().for_each(|(k, _)| f(k)),
        }
    }

    pub fn members(&self) -> Vec<Vec<u8>> {
        let mut out = Vec::with_capacity(self.len());
        self.for_each(|m| out.push(m.to_vec()));
        out
    }

    /// A random member (None when empty).
    pub fn random(&self, rng: &mut Rng) -> Option<Vec<u8>> {
        match self {
            Set::Ints(v) if v.is_empty() => None,
            Set::Ints(v) => {
                let n = v.get(rng.next_u64() as usize % v.len());
                Some(IntBuf::default().format(n).to_vec())
            }
            Set::Table(d) => d.random_key(rng).map(|k| k.to_vec()),
        }
    }

    pub fn encoding(&self) -> &'static str {
        match self {
            Set::Ints(_) => "intset",
            Set::Table(_) => "hashtable",
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    Str(Str),
    List(Box<List>),
    // Unboxed: their compact forms are a Vec and a count, which fit beside the strings.
    Hash(Hash),
    Set(Set),
    ZSet(crate::zset::ZSet),
    Stream(Box<crate::stream::Stream>),
}

impl Value {
    /// The first of the value's own bytes outside its entry, for a prefetch (null: none).
    pub(crate) fn heap_hint(&self) -> *const u8 {
        match self {
            Value::Str(Str::Emb(b)) => b.as_ptr(),
            Value::Str(Str::Raw(v)) => v.as_ptr(),
            Value::Str(_) => std::ptr::null(),
            Value::List(l) => &**l as *const List as *const u8,
            Value::Hash(Hash::Pack(p)) => p.heap_hint(),
            Value::Hash(Hash::Table(d)) => &**d as *const Dict<Box<[u8]>> as *const u8,
            Value::Set(Set::Ints(i)) => i.heap_hint(),
            Value::Set(Set::Table(d)) => &**d as *const Dict<()> as *const u8,
            Value::ZSet(z) => z.heap_hint(),
            Value::Stream(s) => &**s as *const crate::stream::Stream as *const u8,
        }
    }

    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Str(_) => "string",
            Value::List(_) => "list",
            Value::Hash(_) => "hash",
            Value::Set(_) => "set",
            Value::ZSet(_) => "zset",
            Value::Stream(_) => "stream",
        }
    }

    pub fn encoding(&self) -> &'static str {
        match self {
            Value::Str(s) => s.encoding(),
            Value::List(_) => "quicklist",
            Value::Hash(h) => h.encoding(),
            Value::Set(s) => s.encoding(),
            Value::ZSet(z) => z.encoding(),
            Value::Stream(_) => "stream",
        }
    }

    /// Approximate bytes used, for MEMORY USAGE: the value's payload plus its allocation.
    pub fn memory(&self) -> usize {
        match self {
            Value::Str(Str::Int(_)) | Value::Str(Str::Inline(_)) => 0,
            Value::Str(Str::Emb(b)) => b.len(),
            Value::Str(Str::Raw(v)) => v.capacity(),
            Value::Str(Str::Shared(b)) => b.len(),
            Value::List(l) => l.memory(),
            Value::Hash(h) => {
                h.pairs()
                    .iter()
                    .map(|(f, v)| f.len() + v.len() + 32)
                    .sum::<usize>()
                    + 64
            }
            Value::Set(s) => match s {
                Set::Ints(v) => v.bytes() + 16,
                Set::Table(d) => {
                    let mut n = d.buckets() * 8 + 64;
                    d.iter().for_each(|(k, _)| n += k.len() + 16);
                    n
                }
            },
            Value::ZSet(z) => z.memory() + 64,
            Value::Stream(s) => s.memory(),
        }
    }
}

/// A key's slot in the keyspace: the value, its absolute expiry and its access clock.
#[derive(Clone, Debug)]
pub struct Entry {
    pub value: Value,
    /// Unix time in milliseconds; 0 means no expiry.
    pub expire_at: u64,
    /// Seconds (shard clock) of the last access, for OBJECT IDLETIME and LRU eviction.
    pub lru: u32,
    /// The snapshot epoch this entry was last written for (or created in): a snapshot in
    /// progress writes each entry whose mark is older than its epoch exactly once, either when
    /// its walk reaches it or just before a write changes it. A `Cell` so the walk marks
    /// entries through the table's shared scan; it fills the entry's tail padding.
    pub saved: std::cell::Cell<u32>,
}

impl Entry {
    pub fn new(value: Value, expire_at: u64) -> Entry {
        Entry {
            value,
            expire_at,
            lru: 0,
            saved: Default::default(),
        }
    }
}

impl Entry {
    pub fn is_expired(&self, now_ms: u64) -> bool {
        self.expire_at != 0 && self.expire_at <= now_ms
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodings_follow_redis() {
        assert_eq!(Str::from_bytes(b"12345").encoding(), "int");
        assert_eq!(Str::from_bytes(b"012").encoding(), "embstr");
        assert_eq!(Str::from_bytes(&[b'a'; 44]).encoding(), "embstr");
        assert_eq!(Str::from_bytes(&[b'a'; 45]).encoding(), "raw");
        let mut s = Str::from_bytes(b"7");
        s.make_raw().push(b'1');
        assert_eq!(s, Str::Raw(b"71".to_vec()));
        assert_eq!(IntBuf::default().format(i64::MIN), b"-9223372036854775808");
        let mut scratch = IntBuf::default();
        for n in [
            0,
            1,
            INLINE_CAP,
            INLINE_CAP + 1,
            EMBSTR_LIMIT,
            EMBSTR_LIMIT + 1,
        ] {
            let s = Str::from_bytes(&vec![b'x'; n]);
            assert_eq!(s.bytes(&mut scratch), vec![b'x'; n].as_slice());
            assert_eq!(s.len(), n);
        }
    }

    #[test]
    fn entry_fits_the_node_budget() {
        // dict.rs: value + link + key length + a 12-byte key in one 80-byte allocation.
        assert_eq!(std::mem::size_of::<Str>(), 40);
        assert_eq!(std::mem::size_of::<Value>(), 40);
        assert!(std::mem::size_of::<Entry>() <= 56);
    }
}
