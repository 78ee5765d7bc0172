//! Redis' RDB format, version 10 (Redis 7.0): values and key entries written in the encodings
//! redis-server 7.0 writes, and everything redis-server 7.0 loads read back. Pure: bytes in,
//! bytes or values out; the runtime owns files, threads and the snapshot's schedule.
//!
//! Written: strings (type 0, integers and LZF as Redis picks them), lists as quicklist 2
//! (18; nodes cut as a list built by RPUSH with `list-max-listpack-size` would be), sets as
//! intset (11) or plain (2), sorted sets as listpack (17) or plain with binary scores (5),
//! hashes as listpack (16) or plain (4), streams as listpacks 2 (19, nodes as they are held).
//! Read: all of types 0-5 and 9-19; modules (6, 7) are refused by name.

pub mod crc64;
pub mod lzf;
pub mod pack;

use crate::args::{parse_i64, strtod};
use crate::stream::{Group, Nack, Stream, StreamId};
use crate::value::{Entry, Hash, IntBuf, Limits, List, Set, Str, Value};
use crate::zset::ZSet;
use pack::{Elem, ListpackWriter};

pub use crc64::crc64;
use std::sync::Arc;

pub const VERSION: u16 = 10;

pub const TYPE_STRING: u8 = 0;
pub const TYPE_LIST: u8 = 1;
pub const TYPE_SET: u8 = 2;
pub const TYPE_ZSET: u8 = 3;
pub const TYPE_HASH: u8 = 4;
pub const TYPE_ZSET_2: u8 = 5;
pub const TYPE_MODULE: u8 = 6;
pub const TYPE_MODULE_2: u8 = 7;
pub const TYPE_HASH_ZIPMAP: u8 = 9;
pub const TYPE_LIST_ZIPLIST: u8 = 10;
pub const TYPE_SET_INTSET: u8 = 11;
pub const TYPE_ZSET_ZIPLIST: u8 = 12;
pub const TYPE_HASH_ZIPLIST: u8 = 13;
pub const TYPE_LIST_QUICKLIST: u8 = 14;
pub const TYPE_STREAM_LISTPACKS: u8 = 15;
pub const TYPE_HASH_LISTPACK: u8 = 16;
pub const TYPE_ZSET_LISTPACK: u8 = 17;
pub const TYPE_LIST_QUICKLIST_2: u8 = 18;
pub const TYPE_STREAM_LISTPACKS_2: u8 = 19;

pub const OP_FUNCTION2: u8 = 0xF5;
pub const OP_FUNCTION: u8 = 0xF6;
pub const OP_MODULE_AUX: u8 = 0xF7;
pub const OP_IDLE: u8 = 0xF8;
pub const OP_FREQ: u8 = 0xF9;
pub const OP_AUX: u8 = 0xFA;
pub const OP_RESIZEDB: u8 = 0xFB;
pub const OP_EXPIRETIME_MS: u8 = 0xFC;
pub const OP_EXPIRETIME: u8 = 0xFD;
pub const OP_SELECTDB: u8 = 0xFE;
pub const OP_EOF: u8 = 0xFF;

/// Quicklist nodes holding one element this large are "plain" (Redis' packed_threshold).
const PLAIN_THRESHOLD: usize = 1 << 30;

/// What a writer does beyond the values themselves.
#[derive(Clone, Copy, Debug)]
pub struct SaveOpts {
    /// `rdbcompression`: LZF for strings over 20 bytes.
    pub compress: bool,
    /// `list-max-listpack-size`: how quicklist nodes are cut.
    pub list_fill: i64,
    /// Write each key's idle time (`0xF8`), as Redis does under an LRU maxmemory policy.
    pub idle: bool,
    /// Under an LFU policy, lfu-decay-time: write each key's decayed counter (`0xF9`).
    pub freq: Option<u32>,
    /// Elements of at least this many bytes are quicklist nodes of their own ("plain"),
    /// as Redis' packed_threshold (DEBUG QUICKLIST-PACKED-THRESHOLD; 1 GB by default).
    pub plain_threshold: usize,
}

impl Default for SaveOpts {
    fn default() -> Self {
        SaveOpts {
            compress: true,
            list_fill: -2,
            idle: false,
            freq: None,
            plain_threshold: PLAIN_THRESHOLD,
        }
    }
}

/// Redis' rdbSaveLen onto `o`.
fn put_len(o: &mut Vec<u8>, n: u64) {
    if n < 1 << 6 {
        o.push(n as u8);
    } else if n < 1 << 14 {
        o.push(((n >> 8) as u8) | 0x40);
        o.push(n as u8);
    } else if n <= u32::MAX as u64 {
        o.push(0x80);
        o.extend_from_slice(&(n as u32).to_be_bytes());
    } else {
        o.push(0x81);
        o.extend_from_slice(&n.to_be_bytes());
    }
}

/// Writes RDB items onto a buffer.
pub struct Encoder {
    pub out: Vec<u8>,
    pub opts: SaveOpts,
    lzf: lzf::Compressor,
}

impl Encoder {
    pub fn new(opts: SaveOpts) -> Encoder {
        Encoder {
            out: Vec::new(),
            opts,
            lzf: lzf::Compressor::default(),
        }
    }

    /// Redis' rdbSaveLen.
    pub fn put_len(&mut self, n: u64) {
        put_len(&mut self.out, n);
    }

    /// Redis' rdbEncodeInteger: values that fit 32 bits are written as integers.
    fn try_int(&mut self, v: i64) -> bool {
        let o = &mut self.out;
        if (-(1 << 7)..(1 << 7)).contains(&v) {
            o.extend_from_slice(&[0xC0, v as i8 as u8]);
        } else if (-(1 << 15)..(1 << 15)).contains(&v) {
            o.push(0xC1);
            o.extend_from_slice(&(v as i16).to_le_bytes());
        } else if (-(1i64 << 31)..(1i64 << 31)).contains(&v) {
            o.push(0xC2);
            o.extend_from_slice(&(v as i32).to_le_bytes());
        } else {
            return false;
        }
        true
    }

    /// Redis' rdbSaveRawString: short canonical integers as integers, long strings LZF'd
    /// when that saves more than 4 bytes, the rest as length and bytes.
    pub fn string(&mut self, s: &[u8]) {
        if s.len() <= 11 {
            if let Some(v) = parse_i64(s) {
                if self.try_int(v) {
                    return;
                }
            }
        }
        if self.opts.compress && s.len() > 20 {
            if let Some(z) = self.lzf.compress(s, s.len() - 4) {
                let (out, z) = (&mut self.out, z);
                out.push(0xC3);
                put_len(out, z.len() as u64);
                put_len(out, s.len() as u64);
                out.extend_from_slice(z);
                return;
            }
        }
        self.put_len(s.len() as u64);
        self.out.extend_from_slice(s);
    }

    /// A string value (Redis' rdbSaveStringObject: an int-encoded one is written from its
    /// integer, never compressed).
    fn str_value(&mut self, s: &Str) {
        match s {
            Str::Int(v) => {
                if !self.try_int(*v) {
                    let mut b = IntBuf::default();
                    let d = b.format(*v);
                    self.put_len(d.len() as u64);
                    self.out.extend_from_slice(d);
                }
            }
            other => {
                let mut b = IntBuf::default();
                self.string(other.bytes(&mut b));
            }
        }
    }

    /// The type byte a value is written with.
    pub fn type_of(v: &Value) -> u8 {
        match v {
            Value::Str(_) => TYPE_STRING,
            Value::List(_) => TYPE_LIST_QUICKLIST_2,
            Value::Set(Set::Ints(_)) => TYPE_SET_INTSET,
            Value::Set(Set::Table(_)) => TYPE_SET,
            Value::ZSet(ZSet::Pack(_)) => TYPE_ZSET_LISTPACK,
            Value::ZSet(ZSet::Skip(_)) => TYPE_ZSET_2,
            Value::Hash(Hash::Pack(_)) => TYPE_HASH_LISTPACK,
            Value::Hash(Hash::Table(_)) => TYPE_HASH,
            Value::Stream(_) => TYPE_STREAM_LISTPACKS_2,
        }
    }

    /// A value's body (after its type byte).
    pub fn value(&mut self, v: &Value) {
        match v {
            Value::Str(s) => self.str_value(s),
            Value::List(l) => self.list(l),
            Value::Set(Set::Ints(is)) => {
                let (w, members) = is.raw();
                let blob = pack::intset_blob(w, members);
                self.string(&blob);
            }
            Value::Set(Set::Table(d)) => {
                self.put_len(d.len() as u64);
                d.iter().for_each(|(m, _)| self.string(m));
            }
            Value::ZSet(ZSet::Pack(p)) => {
                let mut w = ListpackWriter::with_capacity(p.bytes() + 16);
                for (m, score) in p.iter() {
                    w.push(m);
                    push_score(&mut w, score);
                }
                let blob = w.finish();
                self.string(&blob);
            }
            Value::ZSet(z @ ZSet::Skip(_)) => {
                self.put_len(z.len() as u64);
                let n = z.len();
                if n > 0 {
                    z.visit(0, n - 1, true, |m, score| {
                        self.string(m);
                        self.out.extend_from_slice(&score.to_le_bytes());
                    });
                }
            }
            Value::Hash(Hash::Pack(p)) => {
                let mut w = ListpackWriter::with_capacity(p.bytes() + 16);
                for (f, val) in p.iter() {
                    w.push(f);
                    w.push(val);
                }
                let blob = w.finish();
                self.string(&blob);
            }
            Value::Hash(Hash::Table(d)) => {
                self.put_len(d.len() as u64);
                d.iter().for_each(|(f, val)| {
                    self.string(f);
                    self.string(val);
                });
            }
            Value::Stream(st) => self.stream(st),
        }
    }

    /// A stream as RDB_TYPE_STREAM_LISTPACKS_2 (rdbSaveObject): its nodes as they are, the
    /// length and edge IDs, then each group with its PEL and consumers.
    fn stream(&mut self, s: &Stream) {
        self.put_len(s.nodes.len() as u64);
        for (id, node) in s.nodes.iter() {
            self.string(&id.encode());
            self.string(node);
        }
        self.put_len(s.length);
        for id in [s.last_id, s.first_id, s.max_deleted] {
            self.put_len(id.ms);
            self.put_len(id.seq);
        }
        self.put_len(s.entries_added);
        self.put_len(s.groups.len() as u64);
        for (name, g) in &s.groups {
            self.string(name);
            self.put_len(g.last_id.ms);
            self.put_len(g.last_id.seq);
            self.put_len(g.entries_read as u64);
            self.put_len(g.pel.len() as u64);
            for (id, nack) in &g.pel {
                self.out.extend_from_slice(&id.encode());
                self.out
                    .extend_from_slice(&nack.delivery_time.to_le_bytes());
                self.put_len(nack.delivery_count);
            }
            self.put_len(g.consumers.len() as u64);
            for (cname, c) in &g.consumers {
                self.string(cname);
                self.out.extend_from_slice(&c.seen_time.to_le_bytes());
                self.put_len(c.pel.len() as u64);
                for id in &c.pel {
                    self.out.extend_from_slice(&id.encode());
                }
            }
        }
    }

    /// A list as quicklist 2, its nodes cut as Redis' _quicklistNodeAllowInsert cuts a list
    /// appended element by element.
    fn list(&mut self, l: &List) {
        let nodes = quicklist_nodes(l, self.opts.list_fill, self.opts.plain_threshold);
        self.put_len(nodes.len() as u64);
        for n in nodes {
            match n {
                QuicklistNode::Plain(b) => {
                    self.put_len(1);
                    self.string(&b);
                }
                QuicklistNode::Packed(b, _) => {
                    self.put_len(2);
                    self.string(&b);
                }
            }
        }
    }

    /// One key: its expiry, idle time or frequency as configured, type, key and value
    /// (Redis' rdbSaveKeyValuePair).
    pub fn entry(&mut self, key: &[u8], e: &Entry, now_s: u32) {
        if e.expire_at != 0 {
            self.out.push(OP_EXPIRETIME_MS);
            self.out
                .extend_from_slice(&(e.expire_at as i64).to_le_bytes());
        }
        if self.opts.idle {
            self.out.push(OP_IDLE);
            self.put_len(crate::evict::idle_secs(e.lru, now_s));
        }
        if let Some(decay) = self.opts.freq {
            self.out.push(OP_FREQ);
            let now_min = (now_s / 60) as u16;
            self.out
                .push(crate::evict::lfu_counter(e.lru, now_min, decay));
        }
        self.out.push(Self::type_of(&e.value));
        self.string(key);
        self.value(&e.value);
    }

    pub fn aux(&mut self, key: &str, value: &str) {
        self.out.push(OP_AUX);
        self.string(key.as_bytes());
        self.string(value.as_bytes());
    }

    pub fn select_db(&mut self, db: usize) {
        self.out.push(OP_SELECTDB);
        self.put_len(db as u64);
    }

    pub fn resize_db(&mut self, keys: usize, expires: usize) {
        self.out.push(OP_RESIZEDB);
        self.put_len(keys as u64);
        self.put_len(expires as u64);
    }

    /// The bytes written so far; the next ones go into a buffer of the same size (a
    /// snapshot's slices would otherwise regrow one from nothing each time).
    pub fn take(&mut self) -> Vec<u8> {
        let cap = self.out.capacity();
        std::mem::replace(&mut self.out, Vec::with_capacity(cap))
    }
}

/// Redis' zzlInsertAt: a score that is an integer is stored as one, others as d2string.
fn push_score(w: &mut ListpackWriter, score: f64) {
    match double_to_ll(score) {
        Some(v) => w.push_int(v),
        None => {
            let mut s = Vec::new();
            d2string(score, &mut s);
            w.push(&s);
        }
    }
}

/// Redis' double2ll: a double with no fractional part inside ±2^62 as an integer.
fn double_to_ll(d: f64) -> Option<i64> {
    let lim = (i64::MAX / 2) as f64;
    if !(d >= -lim && d <= lim) {
        return None;
    }
    let v = d as i64;
    (v as f64 == d).then_some(v)
}

/// Redis' d2string.
fn d2string(v: f64, out: &mut Vec<u8>) {
    if v.is_nan() {
        out.extend_from_slice(b"nan");
    } else if v.is_infinite() {
        out.extend_from_slice(if v < 0.0 { b"-inf" } else { b"inf" });
    } else if v == 0.0 {
        out.extend_from_slice(if v.is_sign_negative() { b"-0" } else { b"0" });
    } else if let Some(l) = double_to_ll(v) {
        out.extend_from_slice(IntBuf::default().format(l));
    } else {
        resp::format_g17(v, out);
    }
}

/// A node of the quicklist redis-server builds for a list: a listpack (and how many
/// elements it holds), or one huge element on its own.
pub enum QuicklistNode {
    Packed(Vec<u8>, usize),
    Plain(Vec<u8>),
}

impl QuicklistNode {
    /// Its elements and its size in bytes (Redis' node->count and node->sz).
    pub fn count_and_size(&self) -> (usize, usize) {
        match self {
            QuicklistNode::Packed(b, n) => (*n, b.len()),
            QuicklistNode::Plain(b) => (1, b.len()),
        }
    }
}

/// The nodes redis-server's quicklist holds for `l` when built by appending its elements
/// under list-max-listpack-size `fill`, elements of `plain` bytes or more in nodes of
/// their own (what RDB files carry and DEBUG OBJECT describes).
pub fn quicklist_nodes(l: &List, fill: i64, plain: usize) -> Vec<QuicklistNode> {
    let mut nodes: Vec<QuicklistNode> = Vec::new();
    let mut cur: Option<ListpackWriter> = None;
    let close = |w: ListpackWriter, nodes: &mut Vec<QuicklistNode>| {
        let n = w.len();
        nodes.push(QuicklistNode::Packed(w.finish(), n));
    };
    for e in l.iter() {
        if e.len() >= plain {
            if let Some(w) = cur.take() {
                close(w, &mut nodes);
            }
            nodes.push(QuicklistNode::Plain(e.to_vec()));
            continue;
        }
        let fits = cur.as_ref().is_some_and(|w| allow_insert(w, e.len(), fill));
        if !fits {
            if let Some(w) = cur.take() {
                close(w, &mut nodes);
            }
            cur = Some(ListpackWriter::with_capacity(l.memory().min(8192) + 16));
        }
        if let Some(w) = cur.as_mut() {
            w.push(e);
        }
    }
    if let Some(w) = cur.take() {
        close(w, &mut nodes);
    }
    nodes
}

/// Redis' _quicklistNodeAllowInsert for appending `sz` bytes to the node being built.
fn allow_insert(w: &ListpackWriter, sz: usize, fill: i64) -> bool {
    const LEVELS: [usize; 5] = [4096, 8192, 16384, 32768, 65536];
    const SAFETY: usize = 8192;
    let new_sz = w.bytes() + sz + 8;
    if fill < 0 {
        let off = (-fill - 1) as usize;
        if off < LEVELS.len() && new_sz <= LEVELS[off] {
            return true;
        }
    }
    if new_sz > SAFETY {
        return false;
    }
    (w.len() as i64) < fill
}

/// A DUMP payload: type, value, RDB version (2 bytes LE) and CRC64 (8 bytes LE).
pub fn dump(v: &Value, opts: SaveOpts) -> Vec<u8> {
    let mut e = Encoder::new(opts);
    e.out.push(Encoder::type_of(v));
    e.value(v);
    e.out.extend_from_slice(&VERSION.to_le_bytes());
    let crc = crc64(0, &e.out);
    e.out.extend_from_slice(&crc.to_le_bytes());
    e.out
}

/// Function libraries as an RDB file holds them: one FUNCTION2 record (the opcode, then the
/// library's code as a string) each.
pub fn function_records(codes: &[&[u8]]) -> Vec<u8> {
    let mut e = Encoder::new(SaveOpts::default());
    for code in codes {
        e.out.push(OP_FUNCTION2);
        e.string(code);
    }
    e.out
}

/// FUNCTION DUMP's payload: each library's code as a FUNCTION2 record, then the RDB
/// version and CRC64, as a DUMP payload ends.
pub fn dump_functions(codes: &[&[u8]]) -> Vec<u8> {
    let mut e = Encoder::new(SaveOpts::default());
    e.out = function_records(codes);
    e.out.extend_from_slice(&VERSION.to_le_bytes());
    let crc = crc64(0, &e.out);
    e.out.extend_from_slice(&crc.to_le_bytes());
    e.out
}

/// FUNCTION RESTORE's reading of a payload: the libraries' code. The error is Redis' text
/// (after "ERR ").
pub fn restore_functions(payload: &[u8]) -> Result<Vec<Vec<u8>>, &'static str> {
    let n = payload.len();
    let footer_ok = n >= 10 && {
        let ver = u16::from_le_bytes([payload[n - 10], payload[n - 9]]);
        let crc = u64::from_le_bytes(payload[n - 8..].try_into().unwrap_or_default());
        ver <= VERSION && crc64(0, &payload[..n - 8]) == crc
    };
    if !footer_ok {
        return Err("DUMP payload version or checksum are wrong");
    }
    let mut d = Decoder::new(&payload[..n - 10]);
    let mut codes = Vec::new();
    while !d.at_end() {
        let op = d.byte().map_err(|_| "can not read data type")?;
        if op != OP_FUNCTION2 && op != OP_FUNCTION {
            return Err("given type is not a function");
        }
        codes.push(
            d.function(op)
                .map_err(|_| "failed loading the given functions payload")?,
        );
    }
    Ok(codes)
}

/// Checks a DUMP payload's version and checksum (Redis' verifyDumpPayload) and loads its
/// value. `Err(true)`: the footer is wrong; `Err(false)`: the value is malformed.
pub fn restore(payload: &[u8], limits: &Limits) -> Result<Value, bool> {
    let n = payload.len();
    if n < 10 {
        return Err(true);
    }
    let ver = u16::from_le_bytes([payload[n - 10], payload[n - 9]]);
    if ver > VERSION {
        return Err(true);
    }
    let crc = u64::from_le_bytes(payload[n - 8..].try_into().map_err(|_| true)?);
    if crc64(0, &payload[..n - 8]) != crc {
        return Err(true);
    }
    let mut d = Decoder::new(&payload[..n - 10]);
    let t = d.byte().map_err(|_| false)?;
    let v = d.value(t, limits).map_err(|_| false)?;
    if !d.at_end() {
        return Err(false);
    }
    Ok(v)
}

/// Why a file or payload could not be read, and where.
#[derive(Clone, Debug, PartialEq)]
pub struct LoadError {
    pub offset: usize,
    pub reason: String,
}

impl std::fmt::Display for LoadError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} at offset {}", self.reason, self.offset)
    }
}

pub type LoadResult<T> = std::result::Result<T, LoadError>;

/// One item of an RDB file.
#[derive(Debug)]
pub enum Item {
    Aux(Vec<u8>, Vec<u8>),
    SelectDb(usize),
    ResizeDb(u64, u64),
    /// A key; `expire_at` 0 when it has none; `idle` seconds if saved; the value is decoded
    /// only when asked for (`Key::value_at`).
    Key(KeyItem),
    /// A function library (FUNCTION2), kept as its source.
    Function(Vec<u8>),
    /// Module auxiliary data: skipped (module id given for the warning).
    ModuleAux(u64),
    Eof,
}

#[derive(Debug)]
pub struct KeyItem {
    pub key: Vec<u8>,
    pub expire_at: u64,
    pub idle: Option<u64>,
    pub freq: Option<u8>,
    pub kind: u8,
    /// Offset of the value's body in the input.
    pub value_at: usize,
    /// Offset just past the value.
    pub end: usize,
}

/// Reads RDB items from a byte slice.
pub struct Decoder<'a> {
    b: &'a [u8],
    pub pos: usize,
}

fn err<T>(at: usize, reason: impl Into<String>) -> LoadResult<T> {
    Err(LoadError {
        offset: at,
        reason: reason.into(),
    })
}

/// How a string field begins: a length, or one of the special encodings.
enum Len {
    Plain(u64),
    Int(i64),
    Lzf { clen: usize, len: usize },
}

impl<'a> Decoder<'a> {
    pub fn new(b: &'a [u8]) -> Decoder<'a> {
        Decoder { b, pos: 0 }
    }

    pub fn at_end(&self) -> bool {
        self.pos >= self.b.len()
    }

    pub fn byte(&mut self) -> LoadResult<u8> {
        match self.b.get(self.pos) {
            Some(&c) => {
                self.pos += 1;
                Ok(c)
            }
            None => err(self.pos, "Unexpected EOF reading RDB file"),
        }
    }

    fn take(&mut self, n: usize) -> LoadResult<&'a [u8]> {
        match self
            .pos
            .checked_add(n)
            .and_then(|end| self.b.get(self.pos..end))
        {
            Some(s) => {
                self.pos += n;
                Ok(s)
            }
            None => err(self.pos, "Unexpected EOF reading RDB file"),
        }
    }

    fn u64_le(&mut self) -> LoadResult<u64> {
        let s = self.take(8)?;
        Ok(u64::from_le_bytes(s.try_into().unwrap_or([0; 8])))
    }

    /// Header check: `REDIS` and a version this loader knows.
    pub fn header(&mut self) -> LoadResult<u16> {
        let h = self.take(9)?;
        if &h[..5] != b"REDIS" {
            return err(0, "Wrong signature trying to load DB from file");
        }
        let v = std::str::from_utf8(&h[5..])
            .ok()
            .and_then(|s| s.parse::<u16>().ok());
        match v {
            Some(v) if (1..=VERSION).contains(&v) => Ok(v),
            _ => err(
                5,
                format!(
                    "Can't handle RDB format version {}",
                    String::from_utf8_lossy(&h[5..])
                ),
            ),
        }
    }

    fn len_or_enc(&mut self) -> LoadResult<Len> {
        let at = self.pos;
        let c = self.byte()?;
        Ok(match c >> 6 {
            0 => Len::Plain((c & 0x3F) as u64),
            1 => Len::Plain((((c & 0x3F) as u64) << 8) | self.byte()? as u64),
            2 => match c {
                0x80 => Len::Plain(
                    u32::from_be_bytes(self.take(4)?.try_into().unwrap_or([0; 4])) as u64,
                ),
                0x81 => Len::Plain(u64::from_be_bytes(
                    self.take(8)?.try_into().unwrap_or([0; 8]),
                )),
                _ => return err(at, format!("Unknown length encoding {c} in rdbLoadLen()")),
            },
            _ => match c & 0x3F {
                0 => Len::Int(self.byte()? as i8 as i64),
                1 => {
                    Len::Int(i16::from_le_bytes(self.take(2)?.try_into().unwrap_or([0; 2])) as i64)
                }
                2 => {
                    Len::Int(i32::from_le_bytes(self.take(4)?.try_into().unwrap_or([0; 4])) as i64)
                }
                3 => {
                    let clen = self.read_len()? as usize;
                    let len = self.read_len()? as usize;
                    Len::Lzf { clen, len }
                }
                _ => return err(at, format!("Unknown RDB string encoding type {}", c & 0x3F)),
            },
        })
    }

    /// A length field (Redis' rdbLoadLen).
    pub fn read_len(&mut self) -> LoadResult<u64> {
        let at = self.pos;
        match self.len_or_enc()? {
            Len::Plain(n) => Ok(n),
            _ => err(at, "Unexpected string encoding where a length belongs"),
        }
    }

    /// A count of elements, checked against what the rest of the input could hold.
    fn count(&mut self, per_item: usize) -> LoadResult<usize> {
        let at = self.pos;
        let n = self.read_len()?;
        let left = (self.b.len() - self.pos) as u64;
        if n.saturating_mul(per_item as u64) > left {
            return err(at, format!("Length {n} is past the end of the input"));
        }
        Ok(n as usize)
    }

    /// A string field, decoded.
    pub fn string(&mut self) -> LoadResult<Vec<u8>> {
        let at = self.pos;
        match self.len_or_enc()? {
            Len::Plain(n) => Ok(self
                .take(usize::try_from(n).unwrap_or(usize::MAX))?
                .to_vec()),
            Len::Int(v) => Ok(IntBuf::default().format(v).to_vec()),
            Len::Lzf { clen, len } => {
                let z = self.take(clen)?;
                if len > 1 << 40 {
                    return err(at, "Invalid LZF compressed string");
                }
                lzf::decompress(z, len).ok_or(LoadError {
                    offset: at,
                    reason: "Invalid LZF compressed string".into(),
                })
            }
        }
    }

    /// A string field holding a packed blob: borrowed from the input unless compressed.
    fn blob(&mut self) -> LoadResult<std::borrow::Cow<'a, [u8]>> {
        let at = self.pos;
        match self.len_or_enc()? {
            Len::Plain(n) => Ok(std::borrow::Cow::Borrowed(
                self.take(usize::try_from(n).unwrap_or(usize::MAX))?,
            )),
            _ => {
                self.pos = at;
                Ok(std::borrow::Cow::Owned(self.string()?))
            }
        }
    }

    /// A string field as a value (integers stay integers, as Redis' tryObjectEncoding).
    fn str_value(&mut self) -> LoadResult<Str> {
        let at = self.pos;
        match self.len_or_enc()? {
            Len::Int(v) => Ok(Str::Int(v)),
            _ => {
                self.pos = at;
                let s = self.blob()?;
                Ok(if s.len() <= crate::value::EMBSTR_LIMIT {
                    Str::from_bytes(&s)
                } else {
                    Str::Raw(s.into_owned())
                })
            }
        }
    }

    /// Skips a string field without decoding it.
    fn skip_string(&mut self) -> LoadResult<()> {
        match self.len_or_enc()? {
            Len::Plain(n) => self
                .take(usize::try_from(n).unwrap_or(usize::MAX))
                .map(|_| ()),
            Len::Int(_) => Ok(()),
            Len::Lzf { clen, .. } => self.take(clen).map(|_| ()),
        }
    }

    /// Reads the next item of a file (after the header).
    /// A function library after its opcode: FUNCTION2's code, or the code Redis makes of
    /// 7.0-rc's FUNCTION record (name, engine, description, body).
    fn function(&mut self, op: u8) -> LoadResult<Vec<u8>> {
        if op == OP_FUNCTION2 {
            return self.string();
        }
        let name = self.string()?;
        let engine = self.string()?;
        if self.read_len()? != 0 {
            self.string()?;
        }
        let body = self.string()?;
        let mut code = b"#!".to_vec();
        code.extend_from_slice(&engine);
        code.extend_from_slice(b" name=");
        code.extend_from_slice(&name);
        code.push(b'\n');
        code.extend_from_slice(&body);
        Ok(code)
    }

    pub fn item(&mut self) -> LoadResult<Item> {
        let mut expire_at = 0u64;
        let mut idle = None;
        let mut freq = None;
        loop {
            let at = self.pos;
            let op = self.byte()?;
            match op {
                OP_EXPIRETIME_MS => expire_at = self.u64_le()? as i64 as u64,
                OP_EXPIRETIME => {
                    let s = self.take(4)?;
                    expire_at = u32::from_le_bytes(s.try_into().unwrap_or([0; 4])) as u64 * 1000;
                }
                OP_IDLE => idle = Some(self.read_len()?),
                OP_FREQ => freq = Some(self.byte()?),
                OP_AUX => {
                    let k = self.string()?;
                    let v = self.string()?;
                    return Ok(Item::Aux(k, v));
                }
                OP_SELECTDB => return Ok(Item::SelectDb(self.read_len()? as usize)),
                OP_RESIZEDB => {
                    let a = self.read_len()?;
                    let b = self.read_len()?;
                    return Ok(Item::ResizeDb(a, b));
                }
                OP_FUNCTION2 | OP_FUNCTION => return Ok(Item::Function(self.function(op)?)),
                OP_MODULE_AUX => {
                    let id = self.read_len()?;
                    let _when_opcode = self.read_len()?;
                    let _when = self.read_len()?;
                    self.skip_module_value(at)?;
                    return Ok(Item::ModuleAux(id));
                }
                OP_EOF => return Ok(Item::Eof),
                kind => {
                    let key = self.string()?;
                    let value_at = self.pos;
                    self.skip_value(kind, &key, at)?;
                    return Ok(Item::Key(KeyItem {
                        key,
                        expire_at,
                        idle,
                        freq,
                        kind,
                        value_at,
                        end: self.pos,
                    }));
                }
            }
        }
    }

    /// Module values carry opcodes (Redis' rdbLoadCheckModuleValue) up to EOF (0).
    fn skip_module_value(&mut self, at: usize) -> LoadResult<()> {
        loop {
            match self.read_len()? {
                0 => return Ok(()),
                1 | 2 => {
                    self.read_len()?;
                }
                3 => {
                    self.skip_string()?;
                }
                4 => {
                    self.take(4)?;
                }
                5 => {
                    self.take(8)?;
                }
                _ => return err(at, "Unknown module opcode"),
            }
        }
    }

    fn unsupported(kind: u8, key: &[u8], at: usize) -> LoadResult<()> {
        let what = match kind {
            21 => "stream (RDB 11)",
            TYPE_MODULE | TYPE_MODULE_2 => "module",
            20 => "set listpack (RDB 11)",
            _ => return err(at, format!("Unknown RDB encoding type {kind}")),
        };
        err(
            at,
            format!(
                "key '{}' holds a {what} value (type {kind}), which percore does not support yet",
                String::from_utf8_lossy(key)
            ),
        )
    }

    /// Steps over a value of type `kind` without building it.
    fn skip_value(&mut self, kind: u8, key: &[u8], at: usize) -> LoadResult<()> {
        match kind {
            TYPE_STRING | TYPE_HASH_ZIPMAP | TYPE_LIST_ZIPLIST | TYPE_SET_INTSET
            | TYPE_ZSET_ZIPLIST | TYPE_HASH_ZIPLIST | TYPE_HASH_LISTPACK | TYPE_ZSET_LISTPACK => {
                self.skip_string()
            }
            TYPE_LIST | TYPE_SET | TYPE_LIST_QUICKLIST => {
                let n = self.count(1)?;
                (0..n).try_for_each(|_| self.skip_string())
            }
            TYPE_HASH => {
                let n = self.count(2)?;
                (0..n * 2).try_for_each(|_| self.skip_string())
            }
            TYPE_ZSET => {
                let n = self.count(2)?;
                for _ in 0..n {
                    self.skip_string()?;
                    let l = self.byte()?;
                    if l < 253 {
                        self.take(l as usize)?;
                    }
                }
                Ok(())
            }
            TYPE_ZSET_2 => {
                let n = self.count(9)?;
                for _ in 0..n {
                    self.skip_string()?;
                    self.take(8)?;
                }
                Ok(())
            }
            TYPE_LIST_QUICKLIST_2 => {
                let n = self.count(2)?;
                for _ in 0..n {
                    self.read_len()?;
                    self.skip_string()?;
                }
                Ok(())
            }
            TYPE_STREAM_LISTPACKS | TYPE_STREAM_LISTPACKS_2 => self.stream(kind).map(|_| ()),
            _ => Self::unsupported(kind, key, at),
        }
    }

    /// A stream of RDB type 15 or 19 (rdbLoadObject), every node checked as Redis' deep
    /// sanitization checks it, so the walkers can trust what was loaded.
    fn stream(&mut self, kind: u8) -> LoadResult<Stream> {
        let at = self.pos;
        let bad = |why: &str| LoadError {
            offset: at,
            reason: why.to_string(),
        };
        let mut s = Stream::new();
        let nodes = self.count(2)?;
        let mut loaded: Vec<(StreamId, Vec<u8>)> = Vec::with_capacity(nodes);
        for _ in 0..nodes {
            let key = self.string()?;
            if key.len() != 16 {
                return Err(bad("Stream node key entry is not the size of a stream ID"));
            }
            let id = StreamId::decode(&key).unwrap_or_default();
            let node = self.string()?;
            if !crate::stream::valid_node(&node) {
                return Err(bad("Stream listpack integrity check failed."));
            }
            loaded.push((id, node));
        }
        // Redis writes them in order; a file that does not is still read, as a rax would.
        loaded.sort_by_key(|(id, _)| *id);
        if loaded.windows(2).any(|w| w[0].0 == w[1].0) {
            return Err(bad("Listpack re-added with existing key"));
        }
        s.nodes = crate::stream::Nodes::from_sorted(loaded);
        s.length = self.read_len()?;
        s.last_id = StreamId::new(self.read_len()?, self.read_len()?);
        let v2 = kind == TYPE_STREAM_LISTPACKS_2;
        if v2 {
            s.first_id = StreamId::new(self.read_len()?, self.read_len()?);
            s.max_deleted = StreamId::new(self.read_len()?, self.read_len()?);
            s.entries_added = self.read_len()?;
        } else {
            s.entries_added = s.length;
            s.first_id = s.edge_id(true, false);
        }
        if s.length != 0 && s.nodes.is_empty() {
            return Err(bad("Stream length inconsistent with rax entries"));
        }
        let groups = self.count(3)?;
        for _ in 0..groups {
            let name = self.string()?;
            let last_id = StreamId::new(self.read_len()?, self.read_len()?);
            let entries_read = if v2 {
                self.read_len()? as i64
            } else {
                s.estimate_distance(last_id)
            };
            let mut g = Group::new(last_id, entries_read);
            let pel = self.count(18)?;
            let mut owners: std::collections::BTreeMap<StreamId, Option<Arc<[u8]>>> =
                Default::default();
            let mut details = Vec::with_capacity(pel);
            for _ in 0..pel {
                let id = StreamId::decode(self.take(16)?).unwrap_or_default();
                let delivery_time = self.u64_le()? as i64;
                let delivery_count = self.read_len()?;
                if owners.insert(id, None).is_some() {
                    return Err(bad(
                        "Duplicated global PEL entry loading stream consumer group",
                    ));
                }
                details.push((id, delivery_time, delivery_count));
            }
            let consumers = self.count(10)?;
            for _ in 0..consumers {
                let cname: Arc<[u8]> = Arc::from(self.string()?);
                if g.consumers.contains_key(&cname) {
                    return Err(bad("Duplicate stream consumer detected."));
                }
                let seen_time = self.u64_le()? as i64;
                let n = self.count(16)?;
                let mut c = crate::stream::Consumer {
                    seen_time,
                    pel: Default::default(),
                };
                for _ in 0..n {
                    let id = StreamId::decode(self.take(16)?).unwrap_or_default();
                    match owners.get_mut(&id) {
                        None => return Err(bad("Consumer entry not found in group global PEL")),
                        Some(Some(_)) => {
                            return Err(bad(
                                "Duplicated consumer PEL entry  loading a stream consumer group",
                            ))
                        }
                        Some(o) => *o = Some(cname.clone()),
                    }
                    c.pel.insert(id);
                }
                g.consumers.insert(cname, c);
            }
            for (id, delivery_time, delivery_count) in details {
                let Some(Some(consumer)) = owners.remove(&id) else {
                    return Err(bad("Stream CG PEL entry without consumer"));
                };
                g.pel.insert(
                    id,
                    Nack {
                        delivery_time,
                        delivery_count,
                        consumer,
                    },
                );
            }
            if s.groups.insert(name.into_boxed_slice(), g).is_some() {
                return Err(bad("Duplicated consumer group name"));
            }
        }
        Ok(s)
    }

    /// Decodes a value of type `kind` into percore's forms, converting as Redis' loader does
    /// when the compact encodings' limits are exceeded.
    pub fn value(&mut self, kind: u8, limits: &Limits) -> LoadResult<Value> {
        let at = self.pos;
        let bad = |why: &str| LoadError {
            offset: at,
            reason: why.to_string(),
        };
        let v = match kind {
            TYPE_STRING => Value::Str(self.str_value()?),
            TYPE_LIST => {
                let n = self.count(1)?;
                let mut l = List::default();
                for _ in 0..n {
                    l.push_back(&self.string()?);
                }
                Value::List(Box::new(l))
            }
            TYPE_LIST_ZIPLIST => {
                let blob = self.blob()?;
                let elems =
                    pack::ziplist(&blob).ok_or_else(|| bad("Ziplist integrity check failed"))?;
                Value::List(Box::new(list_of(&elems)))
            }
            TYPE_LIST_QUICKLIST | TYPE_LIST_QUICKLIST_2 => {
                let n = self.count(1)?;
                let mut l = List::default();
                for _ in 0..n {
                    let container = if kind == TYPE_LIST_QUICKLIST_2 {
                        self.read_len()?
                    } else {
                        2
                    };
                    let blob = self.blob()?;
                    match container {
                        1 => l.push_back(&blob),
                        2 => {
                            let elems = unpack(&blob, kind == TYPE_LIST_QUICKLIST_2)
                                .ok_or_else(|| bad("Listpack integrity check failed"))?;
                            let mut bufs = vec![IntBuf::default(); elems.len()];
                            l.append_all(&texts(&elems, &mut bufs));
                        }
                        _ => return Err(bad("Unknown quicklist container")),
                    }
                }
                Value::List(Box::new(l))
            }
            TYPE_SET => {
                let n = self.count(1)?;
                let mut s: Option<Set> = None;
                // Members are borrowed from the file (unless compressed) and a table is
                // sized once: each set used to cost a copy per member and 3 regrowths.
                let table = || {
                    let mut d: Box<crate::dict::Dict<()>> = Box::default();
                    d.reserve(n);
                    Set::Table(d)
                };
                for _ in 0..n {
                    let m = self.blob()?;
                    let set = s.get_or_insert_with(|| {
                        if n > limits.set_intset_entries || parse_i64(&m).is_none() {
                            table()
                        } else {
                            Set::for_member(&m)
                        }
                    });
                    if !set.insert(&m, limits) {
                        return Err(bad("Duplicate set members detected"));
                    }
                }
                Value::Set(s.unwrap_or(Set::Table(Box::default())))
            }
            TYPE_SET_INTSET => {
                let blob = self.blob()?;
                let (w, members) =
                    pack::intset(&blob).ok_or_else(|| bad("Intset integrity check failed"))?;
                let mut s = Set::Ints(crate::packed::IntSet::from_sorted(w, &members));
                if members.len() > limits.set_intset_entries {
                    let mut buf = IntBuf::default();
                    let mut t = Set::Table(Box::default());
                    for &m in &members {
                        t.insert(buf.format(m), limits);
                    }
                    s = t;
                }
                Value::Set(s)
            }
            TYPE_ZSET | TYPE_ZSET_2 => {
                let n = self.count(2)?;
                let mut items = Vec::with_capacity(n.min(1 << 20));
                let mut max = 0;
                for _ in 0..n {
                    let m = self.string()?;
                    let score = if kind == TYPE_ZSET_2 {
                        f64::from_le_bytes(self.take(8)?.try_into().unwrap_or([0; 8]))
                    } else {
                        self.ascii_double()?
                    };
                    if score.is_nan() {
                        return Err(bad("Zset with NAN score detected"));
                    }
                    max = max.max(m.len());
                    items.push((m, score));
                }
                let items: Vec<(&[u8], f64)> =
                    items.iter().map(|(m, s)| (m.as_slice(), *s)).collect();
                Value::ZSet(
                    zset_of(&items, max, limits)
                        .ok_or_else(|| bad("Duplicate zset fields detected"))?,
                )
            }
            TYPE_ZSET_ZIPLIST | TYPE_ZSET_LISTPACK => {
                let blob = self.blob()?;
                let elems = unpack_pairs(&blob, kind == TYPE_ZSET_LISTPACK)
                    .ok_or_else(|| bad("Zset listpack integrity check failed"))?;
                let mut bufs = vec![IntBuf::default(); elems.len() / 2];
                let mut items: Vec<(&[u8], f64)> = Vec::with_capacity(elems.len() / 2);
                for (pair, b) in elems.chunks_exact(2).zip(bufs.iter_mut()) {
                    let score = match pair[1] {
                        Elem::Int(v) => v as f64,
                        Elem::Str(s) => strtod(s)
                            .filter(|f| !f.is_nan())
                            .ok_or_else(|| bad("Zset listpack integrity check failed"))?,
                    };
                    let m: &[u8] = match pair[0] {
                        Elem::Str(s) => s,
                        Elem::Int(v) => b.format(v),
                    };
                    items.push((m, score));
                }
                // A packed zset stays packed unless it has too many members (Redis checks
                // only the count here).
                let max = if items.len() > limits.zset_entries {
                    usize::MAX
                } else {
                    0
                };
                Value::ZSet(
                    zset_of(&items, max, limits)
                        .ok_or_else(|| bad("Duplicate zset fields detected"))?,
                )
            }
            TYPE_HASH => {
                let n = self.count(2)?;
                let mut h = if n > limits.hash_entries {
                    Hash::Table(Box::default())
                } else {
                    Hash::default()
                };
                for _ in 0..n {
                    let f = self.string()?;
                    let v = self.string()?;
                    if !hash_add(&mut h, &f, &v, limits) {
                        return Err(bad("Duplicate hash fields detected"));
                    }
                }
                Value::Hash(h)
            }
            TYPE_HASH_ZIPMAP => {
                let blob = self.blob()?;
                let pairs =
                    pack::zipmap(&blob).ok_or_else(|| bad("Zipmap integrity check failed"))?;
                let mut h = Hash::default();
                for (f, v) in pairs {
                    if !hash_add(&mut h, f, v, limits) {
                        return Err(bad("Duplicate hash fields detected"));
                    }
                }
                Value::Hash(h)
            }
            TYPE_HASH_ZIPLIST | TYPE_HASH_LISTPACK => {
                let blob = self.blob()?;
                let elems = unpack_pairs(&blob, kind == TYPE_HASH_LISTPACK)
                    .ok_or_else(|| bad("Hash listpack integrity check failed"))?;
                let mut bufs = vec![IntBuf::default(); elems.len()];
                let texts = texts(&elems, &mut bufs);
                let pairs: Vec<(&[u8], &[u8])> =
                    texts.chunks_exact(2).map(|p| (p[0], p[1])).collect();
                Value::Hash(
                    hash_of(&pairs, limits).ok_or_else(|| bad("Duplicate hash fields detected"))?,
                )
            }
            TYPE_STREAM_LISTPACKS | TYPE_STREAM_LISTPACKS_2 => {
                Value::Stream(Box::new(self.stream(kind)?))
            }
            _ => {
                Self::unsupported(kind, b"?", at)?;
                unreachable!("unsupported always errs")
            }
        };
        let empty = match &v {
            Value::Stream(_) => false,
            Value::Str(_) => false,
            Value::List(l) => l.is_empty(),
            Value::Set(s) => s.is_empty(),
            Value::ZSet(z) => z.is_empty(),
            Value::Hash(h) => h.is_empty(),
        };
        if empty {
            return Err(bad("Empty keys are not allowed"));
        }
        Ok(v)
    }

    /// The value of a key item, decoded from where `item` found it.
    pub fn key_value(b: &[u8], k: &KeyItem, limits: &Limits) -> LoadResult<Value> {
        let mut d = Decoder {
            b: &b[..k.end],
            pos: k.value_at,
        };
        d.value(k.kind, limits)
    }

    /// Redis' rdbLoadDoubleValue: a length byte (253 nan, 254 inf, 255 -inf) then ASCII.
    fn ascii_double(&mut self) -> LoadResult<f64> {
        let at = self.pos;
        let l = self.byte()?;
        match l {
            253 => Ok(f64::NAN),
            254 => Ok(f64::INFINITY),
            255 => Ok(f64::NEG_INFINITY),
            _ => {
                let s = self.take(l as usize)?;
                strtod(s).ok_or(LoadError {
                    offset: at,
                    reason: "Invalid double value".into(),
                })
            }
        }
    }
}

fn list_of(elems: &[Elem]) -> List {
    let mut l = List::default();
    let mut buf = IntBuf::default();
    for e in elems {
        l.push_back(e.bytes(&mut buf));
    }
    l
}

/// A sorted set of these members (the longest `max` bytes, as the encoding choice sees it);
/// None on a duplicate member. A packed one is built in one go from the sorted members.
fn zset_of(items: &[(&[u8], f64)], max: usize, limits: &Limits) -> Option<ZSet> {
    let mut names: Vec<&[u8]> = items.iter().map(|(m, _)| *m).collect();
    names.sort_unstable();
    if names.windows(2).any(|w| w[0] == w[1]) {
        return None;
    }
    let mut z = ZSet::for_result(items.len(), max, limits);
    match &mut z {
        ZSet::Pack(p) => {
            let mut sorted: Vec<(f64, &[u8])> = items.iter().map(|(m, s)| (*s, *m)).collect();
            sorted.sort_by(|a, b| crate::zset::cmp(a.0, a.1, b.0, b.1));
            *p = crate::packed::Scored::from_sorted(sorted.into_iter());
        }
        ZSet::Skip(_) => {
            for (m, score) in items {
                z.insert_new(*score, m, limits);
            }
        }
    }
    Some(z)
}

/// A hash of these pairs (None on a duplicate field), packed or a table as HSET would leave
/// it; a packed one is built in one allocation.
fn hash_of<'a>(pairs: &[(&'a [u8], &'a [u8])], limits: &Limits) -> Option<Hash> {
    let packed = pairs.len() <= limits.hash_entries
        && pairs
            .iter()
            .all(|(f, v)| f.len() <= limits.hash_value && v.len() <= limits.hash_value);
    if packed {
        let mut names: Vec<&[u8]> = pairs.iter().map(|(f, _)| *f).collect();
        names.sort_unstable();
        if names.windows(2).any(|w| w[0] == w[1]) {
            return None;
        }
        return Some(Hash::Pack(crate::packed::Pairs::from_distinct(
            pairs.iter().copied(),
        )));
    }
    let mut h = Hash::Table(Box::default());
    for (f, v) in pairs {
        if !h.set(f, v, limits) {
            return None;
        }
    }
    Some(h)
}

/// Packed elements as bytes, integers formatted into `bufs` (one per element).
fn texts<'b>(elems: &'b [Elem<'b>], bufs: &'b mut [IntBuf]) -> Vec<&'b [u8]> {
    elems
        .iter()
        .zip(bufs.iter_mut())
        .map(|(e, b)| e.bytes(b))
        .collect()
}

/// A listpack's (or, from older files, a ziplist's) elements.
fn unpack(blob: &[u8], listpack: bool) -> Option<Vec<Elem<'_>>> {
    if listpack {
        pack::listpack(blob)
    } else {
        pack::ziplist(blob)
    }
}

/// A packed hash's or sorted set's elements: pairs, at least one.
fn unpack_pairs(blob: &[u8], listpack: bool) -> Option<Vec<Elem<'_>>> {
    unpack(blob, listpack).filter(|e| !e.is_empty() && e.len() % 2 == 0)
}

/// Adds a loaded field to a hash, converting it as HSET would; false on a duplicate.
fn hash_add(h: &mut Hash, f: &[u8], v: &[u8], limits: &Limits) -> bool {
    h.prepare([f.len(), v.len()], limits);
    h.set(f, v, limits)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values() -> Vec<Value> {
        let limits = Limits::default();
        let mut out = vec![
            Value::Str(Str::from_bytes(b"12")),
            Value::Str(Str::from_bytes(b"-9223372036854775808")),
            Value::Str(Str::from_bytes(&[b'q'; 300])),
            Value::Str(Str::from_bytes(b"")),
        ];
        let l: List = ["a", "1", "-70000"].iter().map(|s| s.as_bytes()).collect();
        out.push(Value::List(Box::new(l)));
        let big: Vec<String> = (0..5000).map(|i| format!("e{i}")).collect();
        let l: List = big.iter().map(|s| s.as_bytes()).collect();
        out.push(Value::List(Box::new(l)));
        let mut s = Set::for_member(b"1");
        for m in ["1", "5", "-3", "99999999999"] {
            s.insert(m.as_bytes(), &limits);
        }
        out.push(Value::Set(s));
        let mut s = Set::for_member(b"x");
        for m in ["x", "y", "1"] {
            s.insert(m.as_bytes(), &limits);
        }
        out.push(Value::Set(s));
        for n in [3, 300] {
            let mut z = ZSet::for_result(n, 8, &limits);
            for i in 0..n {
                z.insert_new(i as f64 * 1.5 - 7.0, format!("m{i}").as_bytes(), &limits);
            }
            out.push(Value::ZSet(z));
            let mut h = Hash::default();
            for i in 0..n {
                h.set(
                    format!("f{i}").as_bytes(),
                    format!("{i}").as_bytes(),
                    &limits,
                );
            }
            out.push(Value::Hash(h));
        }
        out.push(Value::Stream(Box::new(sample_stream())));
        out.push(Value::Stream(Box::default()));
        out
    }

    /// A stream with mixed field sets, a tombstone, a group with a pending entry and an idle
    /// consumer.
    fn sample_stream() -> Stream {
        let limits = crate::stream::NodeLimits {
            max_bytes: 4096,
            max_entries: 3,
        };
        let mut s = Stream::new();
        for i in 1..=7u64 {
            let v = format!("v{i}");
            let pairs: Vec<(&[u8], &[u8])> = if i % 3 == 0 {
                vec![(b"other", v.as_bytes())]
            } else {
                vec![(b"f", v.as_bytes()), (b"n", b"12345")]
            };
            s.append(&pairs, Some((StreamId::new(i, 1), true)), 0, limits)
                .expect("ascending ids");
        }
        s.delete(StreamId::new(2, 1));
        s.max_deleted = StreamId::new(2, 1);
        let mut g = Group::new(StreamId::new(4, 1), 4);
        g.create_consumer(b"alice", 1000);
        g.create_consumer(b"bob", 2000);
        let alice = g.consumer_name(b"alice").expect("alice");
        g.pel.insert(
            StreamId::new(3, 1),
            Nack {
                delivery_time: 1500,
                delivery_count: 2,
                consumer: alice,
            },
        );
        if let Some(c) = g.consumers.get_mut(&b"alice"[..]) {
            c.pel.insert(StreamId::new(3, 1));
        }
        s.groups.insert(b"g1".to_vec().into_boxed_slice(), g);
        s
    }

    /// Redis 7.0.15's DUMP of streams (`XADD s 1-1 a 1 b 2`, `2-1 a 3 b 4`, `3-1 c 5`, `4-1 a
    /// 1 b 2`, `XDEL s 2-1`, groups g1 at 0 and g2 at $, alice reading two from g1, bob
    /// created; and `XADD e MAXLEN 0 * x y`): percore reads them and writes the same bytes.
    #[test]
    fn redis_stream_dumps_round_trip_byte_for_byte() {
        let hex = [
            "13011000000000000000010000000000000001c33f404812480000001f000301010102018161028162\
             020020090000200140110105014019000020050004200b801907010181630205010620260003201260\
             260101ff030401010102010402026731030181ffffffffffffffff0200000000000000010000000000\
             000001f21aa34ca20100000100000000000000030000000000000001f21aa34ca2010000010205616c\
             696365f21aa34ca201000002000000000000000100000000000000010000000000000003000000000000\
             000103626f62f21aa34ca201000000026732040181ffffffffffffffff00000a007ed7f5d5bf720cf2",
            "13000081000001a24ca31af2000000000001000a003d633abf648b21a3",
        ];
        let limits = Limits::default();
        for h in hex {
            let bytes: Vec<u8> = (0..h.len())
                .step_by(2)
                .map(|i| u8::from_str_radix(&h[i..i + 2], 16).expect("hex"))
                .collect();
            let v = restore(&bytes, &limits).expect("redis' payload loads");
            assert_eq!(dump(&v, SaveOpts::default()), bytes);
        }
    }

    #[test]
    fn dump_and_restore_round_trip_every_encoding() {
        let limits = Limits::default();
        for compress in [true, false] {
            let opts = SaveOpts {
                compress,
                ..Default::default()
            };
            for v in values() {
                let payload = dump(&v, opts);
                let back = restore(&payload, &limits).expect("valid payload");
                assert_eq!(back.encoding(), v.encoding());
                assert_eq!(
                    crate::digest::value(Some(&Entry::new(back, 0))),
                    crate::digest::value(Some(&Entry::new(v, 0)))
                );
            }
        }
    }

    #[test]
    fn corrupt_payloads_are_refused_without_panicking() {
        let limits = Limits::default();
        for v in values() {
            let good = dump(&v, SaveOpts::default());
            assert_eq!(restore(&good[..good.len() - 1], &limits).err(), Some(true));
            // Every truncation and every single-byte flip of the body, with a fixed-up
            // checksum so the body parser itself sees the damage.
            let body = good.len() - 10;
            for i in 0..body.min(200) {
                for mutate in [0x01u8, 0x80, 0xFF] {
                    let mut bad = good[..body].to_vec();
                    bad[i] ^= mutate;
                    bad.extend_from_slice(&VERSION.to_le_bytes());
                    let crc = crc64(0, &bad);
                    bad.extend_from_slice(&crc.to_le_bytes());
                    if let Ok(Value::Stream(mut st)) = restore(&bad, &limits) {
                        // What loads must walk and change without panicking.
                        st.visit(StreamId::MIN, StreamId::MAX, false, true, |e| {
                            e.pairs();
                            true
                        });
                        st.visit(StreamId::MIN, StreamId::MAX, true, true, |e| {
                            e.pairs();
                            true
                        });
                        st.delete(StreamId::new(3, 1));
                        st.trim(crate::stream::Trim::MaxLen(1), false, 0);
                    }
                }
                let mut cut = good[..i].to_vec();
                cut.extend_from_slice(&VERSION.to_le_bytes());
                let crc = crc64(0, &cut);
                cut.extend_from_slice(&crc.to_le_bytes());
                assert!(restore(&cut, &limits).is_err());
            }
        }
    }
}
