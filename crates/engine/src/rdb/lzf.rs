//! LZF, the compression Redis applies to RDB strings longer than 20 bytes. Written here rather
//! than taken from a crate because DUMP payloads must be byte-identical to redis-server's, so
//! the compressor has to make the same choices as the liblzf 3.6 build Redis embeds (HLOG 16,
//! VERY_FAST, offsets into the input); the `lzf` crate binds a C build with other settings.
//!
//! Format: `000LLLLL` + L+1 literal bytes; `LLLooooo oooooooo` a back reference of L+2 bytes
//! at distance o+1; `111ooooo LLLLLLLL oooooooo` one of L+9 bytes.

const HLOG: u32 = 16;
const HSIZE: usize = 1 << HLOG;
const MAX_LIT: usize = 1 << 5;
const MAX_OFF: usize = 1 << 13;
const MAX_REF: usize = (1 << 8) + (1 << 3);

/// A compressor's hash table, kept between calls. Redis' table starts each call
/// uninitialised; this one acts as zeroed (no stale match is ever taken) without clearing
/// 256 KB per string: slots hold `base + position + 1`, and anything at or below `base`
/// belongs to an earlier call.
pub struct Compressor {
    table: Vec<u32>,
    base: u32,
    /// The output of the last call, reused (no allocation per string).
    out: Vec<u8>,
}

impl Default for Compressor {
    fn default() -> Self {
        Compressor {
            table: vec![0; HSIZE],
            base: 0,
            out: Vec::new(),
        }
    }
}

#[inline]
fn idx(h: u32) -> usize {
    ((h >> (3 * 8 - HLOG)).wrapping_sub(h.wrapping_mul(5)) as usize) & (HSIZE - 1)
}

impl Compressor {
    /// Compresses `input` into at most `out_len` bytes, or None when it does not fit (as
    /// lzf_compress returning 0). The result lives until the next call.
    pub fn compress(&mut self, input: &[u8], out_len: usize) -> Option<&[u8]> {
        let n = input.len();
        if n == 0 || out_len == 0 {
            return None;
        }
        if (self.base as u64) + n as u64 + 2 >= u32::MAX as u64 {
            self.table.iter_mut().for_each(|s| *s = 0);
            self.base = 0;
        }
        let base = self.base;
        self.base += n as u32 + 1;
        let n = compress_with(&mut self.table, base, input, out_len, &mut self.out)?;
        Some(&self.out[..n])
    }
}

fn compress_with(
    table: &mut [u32],
    base: u32,
    inp: &[u8],
    out_len: usize,
    out: &mut Vec<u8>,
) -> Option<usize> {
    let n = inp.len();
    // Slack past out_len: the C code may write a few bytes past its last check.
    out.clear();
    out.resize(out_len + 8, 0);
    let mut lit: usize = 0;
    let mut op: usize = 1;
    let mut ip: usize = 0;
    let at = |i: usize| inp.get(i).copied().unwrap_or(0) as u32;
    let mut hval: u32 = (at(0) << 8) | at(1);
    while ip + 2 < n {
        // In the loop ip + 2 < n: index directly (no bounds fallback on the hot path).
        hval = (hval << 8) | inp[ip + 2] as u32;
        let slot = idx(hval);
        let stored = table[slot];
        let rf = (stored > base).then(|| (stored - base - 1) as usize);
        table[slot] = base + ip as u32 + 1;
        let found = rf.filter(|&r| {
            r < ip
                && ip - r - 1 < MAX_OFF
                && r > 0
                && inp[r + 2] == inp[ip + 2]
                && inp[r] == inp[ip]
                && inp[r + 1] == inp[ip + 1]
        });
        if let Some(r) = found {
            let off = ip - r - 1;
            let mut len: usize = 2;
            let maxlen = (n - ip - len).min(MAX_REF);
            if op + 3 + 1 >= out_len && op - usize::from(lit == 0) + 3 + 1 >= out_len {
                return None;
            }
            out[op - lit - 1] = (lit as u8).wrapping_sub(1);
            op -= usize::from(lit == 0);
            'm: {
                if maxlen > 16 {
                    for _ in 0..16 {
                        len += 1;
                        if inp[r + len] != inp[ip + len] {
                            break 'm;
                        }
                    }
                }
                loop {
                    len += 1;
                    if !(len < maxlen && inp[r + len] == inp[ip + len]) {
                        break;
                    }
                }
            }
            len -= 2;
            ip += 1;
            if len < 7 {
                out[op] = ((off >> 8) + (len << 5)) as u8;
                op += 1;
            } else {
                out[op] = ((off >> 8) + (7 << 5)) as u8;
                out[op + 1] = (len - 7) as u8;
                op += 2;
            }
            out[op] = off as u8;
            op += 1;
            lit = 0;
            op += 1;
            ip += len + 1;
            if ip + 2 >= n {
                break;
            }
            ip -= 2;
            hval = ((inp[ip] as u32) << 8) | inp[ip + 1] as u32;
            hval = (hval << 8) | inp[ip + 2] as u32;
            table[idx(hval)] = base + ip as u32 + 1;
            ip += 1;
            hval = (hval << 8) | inp[ip + 2] as u32;
            table[idx(hval)] = base + ip as u32 + 1;
            ip += 1;
        } else {
            if op >= out_len {
                return None;
            }
            literal(out, &mut op, &mut lit, inp[ip]);
            ip += 1;
        }
    }
    if op + 3 > out_len {
        return None;
    }
    while ip < n {
        literal(out, &mut op, &mut lit, inp[ip]);
        ip += 1;
    }
    out[op - lit - 1] = (lit as u8).wrapping_sub(1);
    op -= usize::from(lit == 0);
    Some(op)
}

/// Copies one literal byte, closing the run (its length byte before it) when it is full.
fn literal(out: &mut [u8], op: &mut usize, lit: &mut usize, b: u8) {
    *lit += 1;
    out[*op] = b;
    *op += 1;
    if *lit == MAX_LIT {
        out[*op - *lit - 1] = (*lit - 1) as u8;
        *lit = 0;
        *op += 1;
    }
}

/// Decompresses `input` into exactly `len` bytes; None when the data is malformed.
pub fn decompress(input: &[u8], len: usize) -> Option<Vec<u8>> {
    let mut out = vec![0u8; len];
    let mut op = 0;
    let mut ip = 0;
    while ip < input.len() {
        let ctrl = input[ip] as usize;
        ip += 1;
        if ctrl < 32 {
            let run = ctrl + 1;
            if op + run > len || ip + run > input.len() {
                return None;
            }
            out[op..op + run].copy_from_slice(&input[ip..ip + run]);
            op += run;
            ip += run;
        } else {
            let mut l = ctrl >> 5;
            if ip >= input.len() {
                return None;
            }
            if l == 7 {
                l += input[ip] as usize;
                ip += 1;
                if ip >= input.len() {
                    return None;
                }
            }
            let back = ((ctrl & 0x1f) << 8) + input[ip] as usize + 1;
            ip += 1;
            let l = l + 2;
            if op + l > len || back > op {
                return None;
            }
            let from = op - back;
            if back >= l {
                out.copy_within(from..from + l, op);
            } else {
                // Overlapping: the reference repeats the bytes it is producing.
                for i in 0..l {
                    out[op + i] = out[from + i];
                }
            }
            op += l;
        }
    }
    (op == len).then_some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips() {
        let mut c = Compressor::default();
        let cases: Vec<Vec<u8>> = vec![
            b"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa".to_vec(),
            b"hello hello hello hello hello world".to_vec(),
            (0..5000u32).map(|i| (i % 251) as u8).collect(),
            (0..300u32).map(|i| (i * 7 % 13) as u8).collect(),
        ];
        for s in cases {
            let z = c.compress(&s, s.len() - 4).expect("compressible").to_vec();
            assert!(z.len() < s.len());
            assert_eq!(decompress(&z, s.len()).as_deref(), Some(s.as_slice()));
        }
    }

    #[test]
    fn incompressible_is_refused() {
        let mut c = Compressor::default();
        let s: Vec<u8> = (0..64u64)
            .map(|i| (i.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 56) as u8)
            .collect();
        assert!(c.compress(&s, s.len() - 4).is_none());
    }

    #[test]
    fn malformed_input_is_rejected() {
        assert!(decompress(&[0x05, b'a'], 6).is_none());
        assert!(decompress(&[0x20, 0x00], 2).is_none());
        assert_eq!(
            decompress(&[0x00, b'a', 0x20, 0x00], 4).as_deref(),
            Some(&b"aaaa"[..])
        );
    }
}
