//! Lists as Redis keeps them: a deque of packed chunks (Redis' quicklist of listpacks).
//!
//! Each chunk is one allocation of at most `CHUNK_BYTES` holding its elements back to back,
//! each as `len | bytes | len mirrored`, so a chunk can be walked from either end. An
//! 8-byte element costs 10 bytes, as in a listpack, instead of a 16-byte pointer plus its
//! own allocation. Pushes and pops at both ends are O(1) (a chunk keeps free room at its
//! front as well as its back); index access walks the chunks by their counts, then the
//! chunk, as Redis does.
//!
//! Invariants: no chunk is empty; `len` is the sum of the chunks' counts; each chunk's live
//! bytes are `buf[start..]` and hold exactly `count` well-formed entries.

use std::collections::VecDeque;

/// Redis' list-max-listpack-size -2: chunks of up to 8 KB.
const CHUNK_BYTES: usize = 8 * 1024;

use crate::packed::{header, header_size, read_header as read_front};

/// Decodes the mirrored header that ends at `b.len()`: (length, header size).
fn read_back(b: &[u8]) -> (usize, usize) {
    let n = b.len();
    match b[n - 1] {
        x if x < 0x80 => (x as usize, 1),
        x if x & 0xC0 == 0x80 => ((((x & 0x3F) as usize) << 8) | b[n - 2] as usize, 2),
        _ => (
            u32::from_le_bytes([b[n - 2], b[n - 3], b[n - 4], b[n - 5]]) as usize,
            5,
        ),
    }
}

fn entry_size(n: usize) -> usize {
    2 * header_size(n) + n
}

fn encode(v: &[u8], out: &mut Vec<u8>) {
    let mut h = [0u8; 5];
    let k = header(v.len(), &mut h);
    out.extend_from_slice(&h[..k]);
    out.extend_from_slice(v);
    out.extend(h[..k].iter().rev());
}

#[derive(Clone, Debug, Default)]
struct Chunk {
    buf: Vec<u8>,
    /// Bytes before `start` are free (room for pushes at the front).
    start: usize,
    count: u32,
}

impl Chunk {
    fn live(&self) -> &[u8] {
        &self.buf[self.start..]
    }

    fn bytes(&self) -> usize {
        self.buf.len() - self.start
    }

    fn push_back(&mut self, v: &[u8]) {
        let need = entry_size(v.len());
        if self.buf.capacity() - self.buf.len() < need {
            // Grow by a quarter, not double (small lists are many), and never past the
            // chunk size (a full chunk would otherwise sit in a 10 KB allocation).
            let room = CHUNK_BYTES.saturating_sub(self.buf.len());
            self.buf
                .reserve_exact(need.max((self.buf.len() / 4).min(room)));
        }
        encode(v, &mut self.buf);
        self.count += 1;
    }

    fn push_front(&mut self, v: &[u8]) {
        let need = entry_size(v.len());
        if self.start < need {
            // Make room at the front: as much again as is live, at least this entry.
            let room = need.max(self.bytes()).max(64);
            let mut buf = Vec::with_capacity(room + self.bytes());
            buf.resize(room, 0);
            buf.extend_from_slice(self.live());
            self.buf = buf;
            self.start = room;
        }
        let mut h = [0u8; 5];
        let k = header(v.len(), &mut h);
        self.start -= need;
        let slot = &mut self.buf[self.start..self.start + need];
        slot[..k].copy_from_slice(&h[..k]);
        slot[k..k + v.len()].copy_from_slice(v);
        for (d, s) in slot[k + v.len()..].iter_mut().zip(h[..k].iter().rev()) {
            *d = *s;
        }
        self.count += 1;
    }

    fn pop_front(&mut self) -> Vec<u8> {
        let (n, h) = read_front(self.live());
        let from = self.start + h;
        let v = self.buf[from..from + n].to_vec();
        self.start = from + n + h;
        self.count -= 1;
        self.compact();
        v
    }

    /// Gives back the room popped off the front once it is most of the buffer.
    fn compact(&mut self) {
        if self.start > self.buf.len() / 2 && self.start > 256 {
            self.buf.drain(..self.start);
            self.start = 0;
        }
    }

    fn pop_back(&mut self) -> Vec<u8> {
        let (n, h) = read_back(self.live());
        let end = self.buf.len() - h;
        let v = self.buf[end - n..end].to_vec();
        self.buf.truncate(end - n - h);
        self.count -= 1;
        v
    }

    /// The `k`-th value, walking from whichever end is nearer.
    fn nth(&self, k: usize) -> &[u8] {
        let live = self.live();
        if k < self.count as usize / 2 {
            let mut pos = 0;
            for _ in 0..k {
                let (n, h) = read_front(&live[pos..]);
                pos += 2 * h + n;
            }
            let (n, h) = read_front(&live[pos..]);
            &live[pos + h..pos + h + n]
        } else {
            let mut end = live.len();
            for _ in 0..self.count as usize - 1 - k {
                let (n, h) = read_back(&live[..end]);
                end -= 2 * h + n;
            }
            let (n, h) = read_back(&live[..end]);
            &live[end - h - n..end - h]
        }
    }

    /// Drops the first entry without copying it.
    fn discard_front(&mut self) {
        let (n, h) = read_front(self.live());
        self.start += 2 * h + n;
        self.count -= 1;
        self.compact();
    }

    /// Drops the last entry without copying it.
    fn discard_back(&mut self) {
        let (n, h) = read_back(self.live());
        let len = self.buf.len() - 2 * h - n;
        self.buf.truncate(len);
        self.count -= 1;
    }

    /// The values front to back (and back to front), borrowed from the chunk.
    fn iter(&self) -> ChunkIter<'_> {
        let live = self.live();
        ChunkIter {
            live,
            front: 0,
            back: live.len(),
        }
    }
}

/// A chunk's values, walked from either end without copying.
struct ChunkIter<'a> {
    live: &'a [u8],
    front: usize,
    back: usize,
}

impl<'a> Iterator for ChunkIter<'a> {
    type Item = &'a [u8];

    fn next(&mut self) -> Option<&'a [u8]> {
        if self.front >= self.back {
            return None;
        }
        let (n, h) = read_front(&self.live[self.front..]);
        let v = &self.live[self.front + h..self.front + h + n];
        self.front += 2 * h + n;
        Some(v)
    }
}

impl<'a> DoubleEndedIterator for ChunkIter<'a> {
    fn next_back(&mut self) -> Option<&'a [u8]> {
        if self.front >= self.back {
            return None;
        }
        let (n, h) = read_back(&self.live[..self.back]);
        let v = &self.live[self.back - h - n..self.back - h];
        self.back -= 2 * h + n;
        Some(v)
    }
}

#[derive(Clone, Debug, Default)]
pub struct List {
    chunks: VecDeque<Chunk>,
    len: usize,
}

impl PartialEq for List {
    fn eq(&self, other: &Self) -> bool {
        self.len == other.len && self.iter().eq(other.iter())
    }
}

impl List {
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    pub fn push_back(&mut self, v: &[u8]) {
        let need = entry_size(v.len());
        match self.chunks.back_mut() {
            Some(c) if c.bytes() + need <= CHUNK_BYTES => c.push_back(v),
            _ => {
                let mut c = Chunk::default();
                c.push_back(v);
                if self.chunks.is_empty() {
                    self.chunks.reserve_exact(1);
                }
                self.chunks.push_back(c);
            }
        }
        self.len += 1;
    }

    /// Appends `elems` in order with room made once (loading a node of an RDB list):
    /// growing a chunk a quarter at a time reallocated each one a dozen times.
    pub fn append_all(&mut self, elems: &[&[u8]]) {
        if elems.is_empty() {
            // No chunk may be empty.
            return;
        }
        let total: usize = elems.iter().map(|e| entry_size(e.len())).sum();
        match self.chunks.back_mut() {
            Some(c) if c.bytes() < CHUNK_BYTES => {
                let room = CHUNK_BYTES - c.bytes();
                c.buf.reserve_exact(total.min(room));
            }
            _ => {
                let c = Chunk {
                    buf: Vec::with_capacity(total.min(CHUNK_BYTES)),
                    start: 0,
                    count: 0,
                };
                self.chunks.push_back(c);
            }
        }
        for e in elems {
            self.push_back(e);
        }
    }

    pub fn push_front(&mut self, v: &[u8]) {
        let need = entry_size(v.len());
        match self.chunks.front_mut() {
            Some(c) if c.bytes() + need <= CHUNK_BYTES => c.push_front(v),
            _ => {
                let mut c = Chunk::default();
                c.push_back(v);
                if self.chunks.is_empty() {
                    self.chunks.reserve_exact(1);
                }
                self.chunks.push_front(c);
            }
        }
        self.len += 1;
    }

    pub fn pop_front(&mut self) -> Option<Vec<u8>> {
        let c = self.chunks.front_mut()?;
        let v = c.pop_front();
        if c.count == 0 {
            self.chunks.pop_front();
        }
        self.len -= 1;
        Some(v)
    }

    pub fn pop_back(&mut self) -> Option<Vec<u8>> {
        let c = self.chunks.back_mut()?;
        let v = c.pop_back();
        if c.count == 0 {
            self.chunks.pop_back();
        }
        self.len -= 1;
        Some(v)
    }

    /// The chunk holding index `i` and the index within it.
    fn locate(&self, mut i: usize) -> Option<(usize, usize)> {
        if i >= self.len {
            return None;
        }
        if i < self.len / 2 {
            for (ci, c) in self.chunks.iter().enumerate() {
                if i < c.count as usize {
                    return Some((ci, i));
                }
                i -= c.count as usize;
            }
            None
        } else {
            let mut from_end = self.len - 1 - i;
            for (ci, c) in self.chunks.iter().enumerate().rev() {
                if from_end < c.count as usize {
                    return Some((ci, c.count as usize - 1 - from_end));
                }
                from_end -= c.count as usize;
            }
            None
        }
    }

    pub fn get(&self, i: usize) -> Option<&[u8]> {
        let (ci, k) = self.locate(i)?;
        Some(self.chunks[ci].nth(k))
    }

    /// Replaces the chunk at `ci` with `values`, split into chunks of the size limit.
    fn rebuild(&mut self, ci: usize, values: Vec<Vec<u8>>) {
        self.chunks.remove(ci);
        let mut at = ci;
        let mut cur = Chunk::default();
        for v in &values {
            if cur.count > 0 && cur.bytes() + entry_size(v.len()) > CHUNK_BYTES {
                self.chunks.insert(at, std::mem::take(&mut cur));
                at += 1;
            }
            cur.push_back(v);
        }
        if cur.count > 0 {
            self.chunks.insert(at, cur);
        }
    }

    fn chunk_values(&self, ci: usize) -> Vec<Vec<u8>> {
        self.chunks[ci].iter().map(|v| v.to_vec()).collect()
    }

    /// Sets index `i`; false when out of range.
    pub fn set(&mut self, i: usize, v: &[u8]) -> bool {
        let Some((ci, k)) = self.locate(i) else {
            return false;
        };
        let mut vals = self.chunk_values(ci);
        vals[k] = v.to_vec();
        self.rebuild(ci, vals);
        true
    }

    /// Inserts before index `i` (`i == len` appends).
    pub fn insert(&mut self, i: usize, v: &[u8]) {
        if i == 0 {
            return self.push_front(v);
        }
        if i >= self.len {
            return self.push_back(v);
        }
        if let Some((ci, k)) = self.locate(i) {
            let mut vals = self.chunk_values(ci);
            vals.insert(k, v.to_vec());
            self.rebuild(ci, vals);
            self.len += 1;
        }
    }

    /// Keeps the elements for which `keep(index, value)` holds; returns how many went.
    pub fn retain(&mut self, mut keep: impl FnMut(usize, &[u8]) -> bool) -> usize {
        let mut idx = 0;
        let mut removed = 0;
        let mut ci = 0;
        while ci < self.chunks.len() {
            // Decide on the borrowed values; copy only a chunk that loses something.
            let flags: Vec<bool> = self.chunks[ci]
                .iter()
                .enumerate()
                .map(|(j, v)| keep(idx + j, v))
                .collect();
            let n = flags.len();
            idx += n;
            if flags.iter().all(|&k| k) {
                ci += 1;
                continue;
            }
            let kept: Vec<Vec<u8>> = self.chunks[ci]
                .iter()
                .zip(&flags)
                .filter(|(_, &k)| k)
                .map(|(v, _)| v.to_vec())
                .collect();
            removed += n - kept.len();
            let chunks_before = self.chunks.len();
            self.rebuild(ci, kept);
            // The chunk became this many (none when all of it went).
            ci += self.chunks.len() + 1 - chunks_before;
        }
        self.len -= removed;
        removed
    }

    /// Keeps indexes `a..=b` only (LTRIM), dropping whole chunks where it can.
    pub fn trim(&mut self, a: usize, b: usize) {
        let mut drop_front = a;
        while let Some(c) = self.chunks.front() {
            if (c.count as usize) > drop_front {
                break;
            }
            drop_front -= c.count as usize;
            self.len -= c.count as usize;
            self.chunks.pop_front();
        }
        // What is left to drop at the front lies inside the first chunk.
        if let Some(c) = self.chunks.front_mut() {
            for _ in 0..drop_front {
                c.discard_front();
            }
            self.len -= drop_front;
        }
        let keep = b - a + 1;
        while self.len > keep {
            let extra = self.len - keep;
            let Some(c) = self.chunks.back_mut() else {
                break;
            };
            if (c.count as usize) <= extra {
                self.len -= c.count as usize;
                self.chunks.pop_back();
            } else {
                for _ in 0..extra {
                    c.discard_back();
                }
                self.len -= extra;
            }
        }
    }

    pub fn clear(&mut self) {
        self.chunks.clear();
        self.len = 0;
    }

    /// Every element, front to back.
    pub fn iter(&self) -> impl DoubleEndedIterator<Item = &[u8]> + '_ {
        self.chunks.iter().flat_map(Chunk::iter)
    }

    /// The allocations it holds, in jemalloc's size classes (MEMORY USAGE): the list, the
    /// chunk ring and each chunk's buffer.
    pub fn usage(&self) -> usize {
        use crate::usage::alloc_size;
        alloc_size(std::mem::size_of::<List>())
            + alloc_size(self.chunks.capacity() * std::mem::size_of::<Chunk>())
            + self
                .chunks
                .iter()
                .map(|c| alloc_size(c.buf.capacity()))
                .sum::<usize>()
    }

    /// Bytes held, for MEMORY USAGE.
    pub fn memory(&self) -> usize {
        self.chunks
            .iter()
            .map(|c| c.buf.capacity() + 32)
            .sum::<usize>()
            + 48
    }
}

impl<'a> FromIterator<&'a [u8]> for List {
    fn from_iter<I: IntoIterator<Item = &'a [u8]>>(iter: I) -> Self {
        let mut l = List::default();
        for v in iter {
            l.push_back(v);
        }
        l
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dict::Rng;

    #[test]
    fn matches_a_vecdeque() {
        let mut rng = Rng::new(11);
        let mut l = List::default();
        let mut m: VecDeque<Vec<u8>> = VecDeque::new();
        for step in 0..40_000 {
            let size = match rng.next_u64() % 20 {
                0 => 200,
                1 => 20_000,
                _ => (rng.next_u64() % 12) as usize,
            };
            let v: Vec<u8> = (0..size).map(|i| (i as u64 + step) as u8).collect();
            match rng.next_u64() % 12 {
                0..=2 => {
                    l.push_back(&v);
                    m.push_back(v);
                }
                3..=5 => {
                    l.push_front(&v);
                    m.push_front(v);
                }
                6 => assert_eq!(l.pop_front(), m.pop_front()),
                7 => assert_eq!(l.pop_back(), m.pop_back()),
                8 if !m.is_empty() => {
                    let i = rng.next_u64() as usize % m.len();
                    assert!(l.set(i, &v));
                    m[i] = v;
                }
                9 => {
                    let i = rng.next_u64() as usize % (m.len() + 1);
                    l.insert(i, &v);
                    m.insert(i, v);
                }
                10 if !m.is_empty() => {
                    let cut = (rng.next_u64() % 7) as u8;
                    let gone = l.retain(|_, x| x.first() != Some(&cut));
                    let before = m.len();
                    m.retain(|x| x.first() != Some(&cut));
                    assert_eq!(gone, before - m.len());
                }
                11 if m.len() > 4 && step % 50 == 0 => {
                    let a = rng.next_u64() as usize % (m.len() / 2);
                    let b = a + rng.next_u64() as usize % (m.len() - a);
                    l.trim(a, b);
                    m.truncate(b + 1);
                    m.drain(..a);
                }
                _ => {}
            }
            assert_eq!(l.len(), m.len());
            if step % 101 == 0 {
                assert!(l.iter().eq(m.iter().map(|v| v.as_slice())), "step {step}");
                assert!(l.iter().rev().eq(m.iter().rev().map(|v| v.as_slice())));
                if !m.is_empty() {
                    let i = rng.next_u64() as usize % m.len();
                    assert_eq!(l.get(i), Some(m[i].as_slice()));
                }
                assert!(l.chunks.iter().all(|c| c.count > 0));
            }
        }
    }
}
