//! Redis 7.0's listpack (listpack.c), byte for byte: a 6-byte header (total bytes, element
//! count), the elements, each followed by its own length written backwards, and 0xFF.
//! Strings that are canonical integers are stored as integers. Streams keep their nodes in
//! this form, so a node is the same bytes in memory, in an RDB file and in redis-server;
//! `rdb::pack` writes the other types' listpacks with the same encoders.
//!
//! Positions are byte offsets of an element's first byte. The buffers here are built by
//! percore (or checked on load), so the walkers trust them.

use crate::rdb::pack::Elem;

pub const HEADER: usize = 6;
pub const END: u8 = 0xFF;

/// Redis' lpStringToInt64: a canonical decimal of at most 20 characters.
pub fn as_int(s: &[u8]) -> Option<i64> {
    // The first byte settles most strings.
    if s.is_empty() || s.len() >= 21 || !(s[0] == b'-' || s[0].is_ascii_digit()) {
        return None;
    }
    crate::args::parse_i64(s)
}

/// Appends the encoding of integer `v` (no back length).
pub fn encode_int(v: i64, b: &mut Vec<u8>) {
    if (0..=127).contains(&v) {
        b.push(v as u8);
    } else if (-4096..=4095).contains(&v) {
        let u = if v < 0 { (1i64 << 13) + v } else { v } as u64;
        b.push(((u >> 8) as u8) | 0xC0);
        b.push(u as u8);
    } else if (-32768..=32767).contains(&v) {
        b.push(0xF1);
        b.extend_from_slice(&(v as i16).to_le_bytes());
    } else if (-8_388_608..=8_388_607).contains(&v) {
        b.push(0xF2);
        b.extend_from_slice(&(v as i32).to_le_bytes()[..3]);
    } else if i32::try_from(v).is_ok() {
        b.push(0xF3);
        b.extend_from_slice(&(v as i32).to_le_bytes());
    } else {
        b.push(0xF4);
        b.extend_from_slice(&v.to_le_bytes());
    }
}

/// Appends the encoding of string `s` as a string (no back length).
pub fn encode_str(s: &[u8], b: &mut Vec<u8>) {
    let n = s.len();
    if n < 64 {
        b.push(0x80 | n as u8);
    } else if n < 4096 {
        b.push(0xE0 | (n >> 8) as u8);
        b.push(n as u8);
    } else {
        b.push(0xF0);
        b.extend_from_slice(&(n as u32).to_le_bytes());
    }
    b.extend_from_slice(s);
}

/// How many bytes the back length of an element of `l` encoded bytes takes.
pub fn backlen_size(l: usize) -> usize {
    match l {
        0..=127 => 1,
        128..=16382 => 2,
        16383..=2_097_150 => 3,
        2_097_151..=268_435_454 => 4,
        _ => 5,
    }
}

/// Appends the back length of an element of `l` encoded bytes (lpEncodeBacklen).
pub fn encode_backlen(l: usize, b: &mut Vec<u8>) {
    let l = l as u64;
    let n = backlen_size(l as usize);
    // The first byte holds the highest 7 bits; every later byte has bit 7 set.
    for i in (0..n).rev() {
        let part = ((l >> (7 * i)) & 127) as u8;
        b.push(if i + 1 == n { part } else { part | 128 });
    }
}

/// Encoded size (without back length) of the element whose first byte is at `p`.
fn encoded_size(lp: &[u8], p: usize) -> usize {
    let c = lp[p];
    if c & 0x80 == 0 {
        1
    } else if c & 0xC0 == 0x80 {
        1 + (c & 0x3F) as usize
    } else if c & 0xE0 == 0xC0 {
        2
    } else if c & 0xF0 == 0xE0 {
        2 + ((((c & 0x0F) as usize) << 8) | lp[p + 1] as usize)
    } else {
        match c {
            0xF0 => 5 + u32::from_le_bytes([lp[p + 1], lp[p + 2], lp[p + 3], lp[p + 4]]) as usize,
            0xF1 => 3,
            0xF2 => 4,
            0xF3 => 5,
            _ => 9,
        }
    }
}

/// An empty listpack with room for `cap` bytes.
pub fn new(cap: usize) -> Vec<u8> {
    let mut lp = Vec::with_capacity(cap.max(HEADER + 1));
    lp.extend_from_slice(&[(HEADER + 1) as u8, 0, 0, 0, 0, 0, END]);
    lp
}

fn set_header(lp: &mut [u8], count_delta: i64) {
    let total = lp.len() as u32;
    lp[0..4].copy_from_slice(&total.to_le_bytes());
    let n = u16::from_le_bytes([lp[4], lp[5]]);
    if n != u16::MAX {
        let m = (n as i64 + count_delta).clamp(0, u16::MAX as i64) as u16;
        lp[4..6].copy_from_slice(&m.to_le_bytes());
    }
}

/// Appends a string, stored as an integer when it is a canonical one (lpAppend).
pub fn append(lp: &mut Vec<u8>, s: &[u8]) {
    match as_int(s) {
        Some(v) => append_int(lp, v),
        None => {
            lp.pop();
            let start = lp.len();
            encode_str(s, lp);
            let l = lp.len() - start;
            encode_backlen(l, lp);
            lp.push(END);
            set_header(lp, 1);
        }
    }
}

/// Appends an integer (lpAppendInteger).
pub fn append_int(lp: &mut Vec<u8>, v: i64) {
    lp.pop();
    let start = lp.len();
    encode_int(v, lp);
    let l = lp.len() - start;
    encode_backlen(l, lp);
    lp.push(END);
    set_header(lp, 1);
}

/// Whether `lp` is a well-formed listpack whose back lengths are all exact, so that every
/// walker here (forwards and backwards) stays inside it (lpValidateIntegrity, deep).
pub fn valid(lp: &[u8]) -> bool {
    if crate::rdb::pack::listpack(lp).is_none() {
        return false;
    }
    // The parse above checked each element's extent; check the back lengths' bytes too.
    let mut p = HEADER;
    let mut expect = Vec::with_capacity(5);
    while lp[p] != END {
        let l = encoded_size(lp, p);
        expect.clear();
        encode_backlen(l, &mut expect);
        if lp.get(p + l..p + l + expect.len()) != Some(&expect[..]) {
            return false;
        }
        p += l + expect.len();
    }
    true
}

/// The first element, if any.
pub fn first(lp: &[u8]) -> Option<usize> {
    (lp[HEADER] != END).then_some(HEADER)
}

/// The element after the one at `p`, if any.
pub fn next(lp: &[u8], p: usize) -> Option<usize> {
    let l = encoded_size(lp, p);
    let q = p + l + backlen_size(l);
    (lp[q] != END).then_some(q)
}

/// The element before the one at `p`, if any (lpPrev).
pub fn prev(lp: &[u8], p: usize) -> Option<usize> {
    if p <= HEADER {
        return None;
    }
    Some(p - back_len_before(lp, p))
}

/// The whole size (encoding and back length) of the element that ends just before `p`.
fn back_len_before(lp: &[u8], p: usize) -> usize {
    // Read the back length from its last byte backwards (lpDecodeBacklen).
    let mut q = p - 1;
    let mut val = 0u64;
    let mut shift = 0;
    loop {
        val |= ((lp[q] & 127) as u64) << shift;
        if lp[q] & 128 == 0 {
            break;
        }
        shift += 7;
        q -= 1;
    }
    val as usize + backlen_size(val as usize)
}

/// The last element, if any.
pub fn last(lp: &[u8]) -> Option<usize> {
    prev(lp, lp.len() - 1)
}

/// The element at `p`.
pub fn get(lp: &[u8], p: usize) -> Elem<'_> {
    let c = lp[p];
    if c & 0x80 == 0 {
        Elem::Int(c as i64)
    } else if c & 0xC0 == 0x80 {
        let n = (c & 0x3F) as usize;
        Elem::Str(&lp[p + 1..p + 1 + n])
    } else if c & 0xE0 == 0xC0 {
        let u = (((c & 0x1F) as u64) << 8) | lp[p + 1] as u64;
        Elem::Int(if u >= 1 << 12 {
            u as i64 - (1 << 13)
        } else {
            u as i64
        })
    } else if c & 0xF0 == 0xE0 {
        let n = (((c & 0x0F) as usize) << 8) | lp[p + 1] as usize;
        Elem::Str(&lp[p + 2..p + 2 + n])
    } else {
        match c {
            0xF0 => {
                let n = u32::from_le_bytes([lp[p + 1], lp[p + 2], lp[p + 3], lp[p + 4]]) as usize;
                Elem::Str(&lp[p + 5..p + 5 + n])
            }
            0xF1 => Elem::Int(i16::from_le_bytes([lp[p + 1], lp[p + 2]]) as i64),
            0xF2 => {
                Elem::Int((i32::from_le_bytes([0, lp[p + 1], lp[p + 2], lp[p + 3]]) >> 8) as i64)
            }
            0xF3 => {
                Elem::Int(i32::from_le_bytes([lp[p + 1], lp[p + 2], lp[p + 3], lp[p + 4]]) as i64)
            }
            _ => Elem::Int(i64::from_le_bytes(
                lp[p + 1..p + 9].try_into().unwrap_or([0; 8]),
            )),
        }
    }
}

/// The element at `p` as an integer (lpGetInteger: a string that is not one reads as 0).
pub fn get_int(lp: &[u8], p: usize) -> i64 {
    match get(lp, p) {
        Elem::Int(v) => v,
        Elem::Str(s) => crate::args::parse_i64(s).unwrap_or(0),
    }
}

/// Replaces the element at `p` with integer `v` (lpReplaceInteger); `p` stays its position.
pub fn replace_int(lp: &mut Vec<u8>, p: usize, v: i64) {
    let old_l = encoded_size(lp, p);
    let old = old_l + backlen_size(old_l);
    let mut enc = Vec::with_capacity(10);
    encode_int(v, &mut enc);
    let l = enc.len();
    encode_backlen(l, &mut enc);
    lp.splice(p..p + old, enc);
    set_header(lp, 0);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn walks_both_ways_and_replaces() {
        let mut lp = new(16);
        let long = vec![b'x'; 300];
        append(&mut lp, b"hello");
        append(&mut lp, b"-12345");
        append_int(&mut lp, 1 << 40);
        append(&mut lp, &long);
        append(&mut lp, b"007");
        let parsed = crate::rdb::pack::listpack(&lp).expect("valid listpack");
        assert_eq!(
            parsed,
            vec![
                Elem::Str(b"hello"),
                Elem::Int(-12345),
                Elem::Int(1 << 40),
                Elem::Str(&long),
                Elem::Str(b"007"),
            ]
        );
        let mut fwd = Vec::new();
        let mut p = first(&lp);
        while let Some(q) = p {
            fwd.push(q);
            p = next(&lp, q);
        }
        let mut back = Vec::new();
        let mut p = last(&lp);
        while let Some(q) = p {
            back.push(q);
            p = prev(&lp, q);
        }
        back.reverse();
        assert_eq!(fwd, back);
        // Growing and shrinking an integer in place keeps the listpack valid.
        replace_int(&mut lp, fwd[1], 100_000);
        replace_int(&mut lp, fwd[1], 3);
        let parsed = crate::rdb::pack::listpack(&lp).expect("valid listpack");
        assert_eq!(parsed[1], Elem::Int(3));
        assert_eq!(get_int(&lp, fwd[1]), 3);
        assert_eq!(parsed.len(), 5);
        assert!(valid(&lp));
        let mut bad = lp.clone();
        let at = fwd[1] + 1;
        bad[at] ^= 0x40;
        assert!(!valid(&bad));
    }
}
