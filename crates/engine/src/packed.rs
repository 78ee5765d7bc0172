//! Byte-packed forms of small collections, in the spirit of Redis' listpack: one contiguous
//! buffer per collection, each item prefixed with its length, so a 10-field hash is one
//! allocation of ~200 bytes instead of twenty. Lookups scan; the encodings stay small
//! (at most `*-max-listpack-entries`, 128 by default), so a scan touches a few cache lines.

/// Writes the length header of an item: 1 byte below 128, 2 below 16384, else 5.
pub fn header(n: usize, out: &mut [u8; 5]) -> usize {
    if n < 0x80 {
        out[0] = n as u8;
        1
    } else if n < 0x4000 {
        out[0] = 0x80 | (n >> 8) as u8;
        out[1] = n as u8;
        2
    } else {
        out[0] = 0xC0;
        out[1..5].copy_from_slice(&(n as u32).to_le_bytes());
        5
    }
}

/// Decodes a header at the start of `b`: (length, header size).
pub fn read_header(b: &[u8]) -> (usize, usize) {
    match b[0] {
        x if x < 0x80 => (x as usize, 1),
        x if x & 0xC0 == 0x80 => ((((x & 0x3F) as usize) << 8) | b[1] as usize, 2),
        _ => (u32::from_le_bytes([b[1], b[2], b[3], b[4]]) as usize, 5),
    }
}

pub fn header_size(n: usize) -> usize {
    if n < 0x80 {
        1
    } else if n < 0x4000 {
        2
    } else {
        5
    }
}

fn put(v: &[u8], out: &mut Vec<u8>) {
    let mut h = [0u8; 5];
    let k = header(v.len(), &mut h);
    out.extend_from_slice(&h[..k]);
    out.extend_from_slice(v);
}

/// Reads the item at `pos`: (its bytes, the position after it).
fn take(buf: &[u8], pos: usize) -> (&[u8], usize) {
    let (n, h) = read_header(&buf[pos..]);
    (&buf[pos + h..pos + h + n], pos + h + n)
}

/// Grows `buf` for `extra` more bytes with at most a quarter of slack (small collections
/// are many: doubling would waste up to half of each).
fn reserve(buf: &mut Vec<u8>, extra: usize) {
    if buf.capacity() - buf.len() < extra {
        buf.reserve_exact(extra.max(buf.len() / 4));
    }
}

/// A small hash: field/value pairs back to back, in insertion order (updates in place keep
/// a field's position, as Redis' listpack does).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Pairs {
    buf: Vec<u8>,
    count: u32,
}

impl Pairs {
    /// The bytes its buffer holds (MEMORY USAGE).
    pub fn capacity(&self) -> usize {
        self.buf.capacity()
    }

    /// Where the packed bytes start, for a prefetch.
    pub(crate) fn heap_hint(&self) -> *const u8 {
        self.buf.as_ptr()
    }

    pub fn len(&self) -> usize {
        self.count as usize
    }

    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    pub fn iter(&self) -> impl Iterator<Item = (&[u8], &[u8])> + '_ {
        let mut pos = 0;
        std::iter::from_fn(move || {
            if pos >= self.buf.len() {
                return None;
            }
            let (f, next) = take(&self.buf, pos);
            let (v, next) = take(&self.buf, next);
            pos = next;
            Some((f, v))
        })
    }

    /// (start of the pair, start of its value, end of the pair) for `field`.
    fn find(&self, field: &[u8]) -> Option<(usize, usize, usize)> {
        let mut pos = 0;
        while pos < self.buf.len() {
            let (f, vpos) = take(&self.buf, pos);
            let (_, end) = take(&self.buf, vpos);
            if f == field {
                return Some((pos, vpos, end));
            }
            pos = end;
        }
        None
    }

    pub fn get(&self, field: &[u8]) -> Option<&[u8]> {
        let (_, vpos, _) = self.find(field)?;
        Some(take(&self.buf, vpos).0)
    }

    /// Bytes held (the listpack of the same pairs is about as long).
    pub fn bytes(&self) -> usize {
        self.buf.len()
    }

    /// Pairs in the given order, built in one allocation (loading a listpack); the fields
    /// must be distinct.
    pub fn from_distinct<'a>(pairs: impl Iterator<Item = (&'a [u8], &'a [u8])> + Clone) -> Pairs {
        let size: usize = pairs
            .clone()
            .map(|(f, v)| header_size(f.len()) + f.len() + header_size(v.len()) + v.len())
            .sum();
        let mut p = Pairs {
            buf: Vec::with_capacity(size),
            count: 0,
        };
        for (f, v) in pairs {
            put(f, &mut p.buf);
            put(v, &mut p.buf);
            p.count += 1;
        }
        p
    }

    /// Sets a field; true when it was new.
    pub fn set(&mut self, field: &[u8], value: &[u8]) -> bool {
        match self.find(field) {
            Some((_, vpos, end)) => {
                let mut enc = Vec::with_capacity(header_size(value.len()) + value.len());
                put(value, &mut enc);
                self.buf.splice(vpos..end, enc);
                false
            }
            None => {
                reserve(
                    &mut self.buf,
                    header_size(field.len()) + field.len() + header_size(value.len()) + value.len(),
                );
                put(field, &mut self.buf);
                put(value, &mut self.buf);
                self.count += 1;
                true
            }
        }
    }

    pub fn remove(&mut self, field: &[u8]) -> bool {
        match self.find(field) {
            Some((start, _, end)) => {
                self.buf.drain(start..end);
                self.count -= 1;
                true
            }
            None => false,
        }
    }

    pub fn nth(&self, i: usize) -> Option<(&[u8], &[u8])> {
        self.iter().nth(i)
    }
}

/// How a score is stored in a packed sorted set: small integers in 1, 2 or 4 bytes (as
/// Redis' listpack stores integer scores), anything else as the 8 bytes of the double.
fn put_score(s: f64, out: &mut Vec<u8>) {
    let i = s as i32;
    // -0 is written as 0: Redis' listpack keeps scores as text, which drops the sign.
    if (i as f64) == s && s.is_finite() {
        if let Ok(b) = i8::try_from(i) {
            out.push(1);
            out.push(b as u8);
        } else if let Ok(h) = i16::try_from(i) {
            out.push(2);
            out.extend_from_slice(&h.to_le_bytes());
        } else {
            out.push(4);
            out.extend_from_slice(&i.to_le_bytes());
        }
    } else {
        out.push(8);
        out.extend_from_slice(&s.to_le_bytes());
    }
}

fn read_score(buf: &[u8], pos: usize) -> (f64, usize) {
    let tag = buf[pos];
    let b = &buf[pos + 1..];
    let s = match tag {
        1 => b[0] as i8 as f64,
        2 => i16::from_le_bytes([b[0], b[1]]) as f64,
        4 => i32::from_le_bytes([b[0], b[1], b[2], b[3]]) as f64,
        _ => f64::from_le_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]]),
    };
    (s, pos + 1 + tag as usize)
}

/// A small sorted set: (score, member) entries back to back, sorted by score then member.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Scored {
    buf: Vec<u8>,
    count: u32,
}

impl Scored {
    /// The bytes its buffer holds (MEMORY USAGE).
    pub fn capacity(&self) -> usize {
        self.buf.capacity()
    }

    /// Where the packed bytes start, for a prefetch.
    pub(crate) fn heap_hint(&self) -> *const u8 {
        self.buf.as_ptr()
    }

    pub fn len(&self) -> usize {
        self.count as usize
    }

    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// Every entry with its byte range: (member, score, start, end).
    fn entries(&self) -> impl Iterator<Item = (&[u8], f64, usize, usize)> + '_ {
        let mut pos = 0;
        std::iter::from_fn(move || {
            if pos >= self.buf.len() {
                return None;
            }
            let start = pos;
            let (s, next) = read_score(&self.buf, pos);
            let (m, next) = take(&self.buf, next);
            pos = next;
            Some((m, s, start, next))
        })
    }

    /// Members and scores in order.
    pub fn iter(&self) -> impl Iterator<Item = (&[u8], f64)> + '_ {
        self.entries().map(|(m, s, _, _)| (m, s))
    }

    pub fn score(&self, member: &[u8]) -> Option<f64> {
        self.iter().find(|(m, _)| *m == member).map(|(_, s)| s)
    }

    pub fn rank(&self, member: &[u8]) -> Option<usize> {
        self.iter().position(|(m, _)| m == member)
    }

    pub fn at(&self, i: usize) -> Option<(&[u8], f64)> {
        self.iter().nth(i)
    }

    /// Entries already in order with distinct members, built in one allocation (loading).
    pub fn from_sorted<'a>(items: impl Iterator<Item = (f64, &'a [u8])>) -> Scored {
        let mut z = Scored::default();
        for (score, member) in items {
            put_score(score, &mut z.buf);
            put(member, &mut z.buf);
            z.count += 1;
        }
        z.buf.shrink_to_fit();
        z
    }

    /// Inserts a member known to be absent at its place in the order.
    pub fn insert(&mut self, score: f64, member: &[u8]) {
        let at = self
            .entries()
            .find(|(m, s, _, _)| crate::zset::cmp(*s, m, score, member).is_gt())
            .map_or(self.buf.len(), |(_, _, start, _)| start);
        let mut enc = Vec::with_capacity(10 + member.len());
        put_score(score, &mut enc);
        put(member, &mut enc);
        reserve(&mut self.buf, enc.len());
        self.buf.splice(at..at, enc);
        self.count += 1;
    }

    pub fn remove(&mut self, member: &[u8]) -> bool {
        let Some((_, _, start, end)) = self.entries().find(|(m, _, _, _)| *m == member) else {
            return false;
        };
        self.buf.drain(start..end);
        self.count -= 1;
        true
    }

    /// Removes ranks `a..=b`.
    pub fn remove_range(&mut self, a: usize, b: usize) {
        let spans: Vec<(usize, usize)> = self
            .entries()
            .skip(a)
            .take(b + 1 - a)
            .map(|(_, _, s, e)| (s, e))
            .collect();
        if let (Some(first), Some(last)) = (spans.first(), spans.last()) {
            self.buf.drain(first.0..last.1);
            self.count -= spans.len() as u32;
        }
    }

    pub fn bytes(&self) -> usize {
        self.buf.capacity()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pairs_keep_insertion_order_and_update_in_place() {
        let mut p = Pairs::default();
        assert!(p.set(b"b", b"1"));
        assert!(p.set(b"a", &[b'x'; 300]));
        assert!(p.set(b"c", b"3"));
        assert!(!p.set(b"a", b"2"));
        let all: Vec<(&[u8], &[u8])> = p.iter().collect();
        assert_eq!(
            all,
            vec![(&b"b"[..], &b"1"[..]), (b"a", b"2"), (b"c", b"3")]
        );
        assert!(p.remove(b"b"));
        assert!(!p.remove(b"zz"));
        assert_eq!(p.get(b"c"), Some(&b"3"[..]));
        assert_eq!(p.len(), 2);
        assert_eq!(p.nth(1), Some((&b"c"[..], &b"3"[..])));
    }

    #[test]
    fn scored_stays_sorted_with_every_score_width() {
        let mut z = Scored::default();
        let scores = [
            3.0,
            -1.0,
            1000.0,
            70000.0,
            1.5,
            f64::INFINITY,
            -0.0,
            f64::NEG_INFINITY,
            1e300,
        ];
        for (i, s) in scores.iter().enumerate() {
            z.insert(*s, format!("m{i}").as_bytes());
        }
        let got: Vec<f64> = z.iter().map(|(_, s)| s).collect();
        let mut want: Vec<f64> = scores.iter().map(|s| s + 0.0).collect();
        want.sort_by(|a, b| a.partial_cmp(b).unwrap());
        assert_eq!(got, want);
        assert_eq!(z.score(b"m3"), Some(70000.0));
        assert_eq!(z.rank(b"m7"), Some(0));
        z.remove_range(1, 3);
        assert_eq!(z.len(), 6);
        assert!(z.remove(b"m2"));
        assert_eq!(z.at(0).map(|x| x.0), Some(&b"m7"[..]));
    }
}

/// Redis' intset: sorted integers stored at the smallest width that holds them all (2, 4
/// or 8 bytes), widened for good when a larger one arrives.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct IntSet {
    width: u8,
    buf: Vec<u8>,
}

fn width_of(v: i64) -> u8 {
    if i16::try_from(v).is_ok() {
        2
    } else if i32::try_from(v).is_ok() {
        4
    } else {
        8
    }
}

impl IntSet {
    /// Where the packed bytes start, for a prefetch.
    pub(crate) fn heap_hint(&self) -> *const u8 {
        self.buf.as_ptr()
    }

    pub fn len(&self) -> usize {
        if self.width == 0 {
            0
        } else {
            self.buf.len() / self.width as usize
        }
    }

    pub fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }

    pub fn get(&self, i: usize) -> i64 {
        let w = self.width as usize;
        let b = &self.buf[i * w..i * w + w];
        match w {
            2 => i16::from_le_bytes([b[0], b[1]]) as i64,
            4 => i32::from_le_bytes([b[0], b[1], b[2], b[3]]) as i64,
            _ => i64::from_le_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]]),
        }
    }

    fn search(&self, v: i64) -> Result<usize, usize> {
        let (mut lo, mut hi) = (0, self.len());
        while lo < hi {
            let mid = (lo + hi) / 2;
            match self.get(mid).cmp(&v) {
                std::cmp::Ordering::Less => lo = mid + 1,
                std::cmp::Ordering::Greater => hi = mid,
                std::cmp::Ordering::Equal => return Ok(mid),
            }
        }
        Err(lo)
    }

    pub fn contains(&self, v: i64) -> bool {
        width_of(v) <= self.width && self.search(v).is_ok()
    }

    fn encode(v: i64, w: u8, out: &mut Vec<u8>) {
        match w {
            2 => out.extend_from_slice(&(v as i16).to_le_bytes()),
            4 => out.extend_from_slice(&(v as i32).to_le_bytes()),
            _ => out.extend_from_slice(&v.to_le_bytes()),
        }
    }

    /// Adds `v`; false when present.
    pub fn insert(&mut self, v: i64) -> bool {
        let need = width_of(v);
        if need > self.width {
            let old: Vec<i64> = self.iter().collect();
            let mut buf = Vec::with_capacity((old.len() + 1) * need as usize);
            for n in old {
                Self::encode(n, need, &mut buf);
            }
            self.buf = buf;
            self.width = need;
        }
        let Err(at) = self.search(v) else {
            return false;
        };
        let w = self.width as usize;
        let mut enc = Vec::with_capacity(w);
        Self::encode(v, self.width, &mut enc);
        reserve(&mut self.buf, w);
        self.buf.splice(at * w..at * w, enc);
        true
    }

    pub fn remove(&mut self, v: i64) -> bool {
        if width_of(v) > self.width {
            return false;
        }
        match self.search(v) {
            Ok(at) => {
                let w = self.width as usize;
                self.buf.drain(at * w..at * w + w);
                true
            }
            Err(_) => false,
        }
    }

    pub fn iter(&self) -> impl Iterator<Item = i64> + '_ {
        (0..self.len()).map(|i| self.get(i))
    }

    pub fn bytes(&self) -> usize {
        self.buf.capacity()
    }

    /// The width and the members' bytes, as Redis' intset blob holds them (RDB, DUMP).
    pub fn raw(&self) -> (u8, &[u8]) {
        (self.width.max(2), &self.buf)
    }

    /// An intset of `width` holding `members`, which must be ascending and distinct. The
    /// width is kept even when the members would fit a narrower one, as Redis keeps it.
    pub fn from_sorted(width: u8, members: &[i64]) -> IntSet {
        let width = width.max(members.iter().map(|&v| width_of(v)).max().unwrap_or(2));
        let mut buf = Vec::with_capacity(members.len() * width as usize);
        for &v in members {
            Self::encode(v, width, &mut buf);
        }
        IntSet { width, buf }
    }
}

#[cfg(test)]
mod intset_tests {
    use super::*;

    #[test]
    fn widens_and_stays_sorted() {
        let mut s = IntSet::default();
        for v in [5, -3, 300, 5] {
            s.insert(v);
        }
        assert_eq!(s.iter().collect::<Vec<_>>(), vec![-3, 5, 300]);
        assert_eq!(s.width, 2);
        assert!(s.insert(70_000));
        assert_eq!(s.width, 4);
        assert!(s.insert(i64::MIN));
        assert_eq!(s.width, 8);
        assert_eq!(
            s.iter().collect::<Vec<_>>(),
            vec![i64::MIN, -3, 5, 300, 70_000]
        );
        assert!(s.contains(300) && !s.contains(301));
        assert!(s.remove(5) && !s.remove(5));
        assert_eq!(s.len(), 4);
    }
}
