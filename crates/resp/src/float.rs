//! `printf("%.17g")` without libc.
//!
//! Rust's `{:.16e}` already yields the correctly rounded 17 significant digits (exact
//! decimal expansion, ties to even, like glibc); all that is left is C's choice between
//! fixed and exponent notation and its trimming of trailing zeros.

use std::fmt::Write as _;

const PRECISION: i32 = 17;

/// Fixed-size sink so formatting a reply double never allocates.
struct StackBuf {
    buf: [u8; 64],
    len: usize,
}

impl std::fmt::Write for StackBuf {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        let end = self.len + s.len();
        let dst = self.buf.get_mut(self.len..end).ok_or(std::fmt::Error)?;
        dst.copy_from_slice(s.as_bytes());
        self.len = end;
        Ok(())
    }
}

/// printf("%.17g") formatting of a finite f64, exactly as C prints it
/// (1.5 -> "1.5", 0.1 -> "0.10000000000000001", 1e20 -> "1e+20").
///
/// Non-finite input (not expected) gives "inf", "-inf" or "nan" rather than panicking;
/// the sign of a NaN is dropped, where glibc would print "-nan".
pub fn format_g17(v: f64, out: &mut Vec<u8>) {
    let g = G17::new(v);
    out.extend_from_slice(g.as_bytes());
}

/// `%.17g` text of one double, on the stack: the RESP2 reply needs its length before it
/// is written.
pub(crate) struct G17 {
    buf: [u8; 40],
    len: usize,
}

impl G17 {
    pub(crate) fn as_bytes(&self) -> &[u8] {
        &self.buf[..self.len]
    }

    fn extend_from_slice(&mut self, s: &[u8]) {
        // Callers write at most 24 bytes in total (see format_inner); dropping the excess
        // instead of panicking is only a guard.
        let end = (self.len + s.len()).min(self.buf.len());
        let n = end - self.len;
        self.buf[self.len..end].copy_from_slice(&s[..n]);
        self.len = end;
    }

    fn push(&mut self, b: u8) {
        self.extend_from_slice(&[b]);
    }

    pub(crate) fn new(v: f64) -> Self {
        let mut g = G17 {
            buf: [0; 40],
            len: 0,
        };
        format_inner(v, &mut g);
        g
    }
}

/// The fast path for a double whose exact decimal expansion is short: `n / 2^k` with
/// `k <= 10` and `|n| < 2^32` is exactly `n * 5^k / 10^k`, at most 17 significant digits,
/// which is what `%.17g` prints (its trailing zeros trimmed). Scores like 1.5 or 0.125 take
/// this path instead of the exact-digit generator (measured: ~16% of a SAVE of sorted sets
/// with such scores). Only magnitudes printed in fixed notation, [1e-4, 2^32), qualify.
fn exact_short(v: f64, out: &mut G17) -> bool {
    let a = v.abs();
    if !(1e-4..4_294_967_296.0).contains(&a) {
        return false;
    }
    let scaled = a * 1024.0;
    if scaled.fract() != 0.0 {
        return false;
    }
    let mut n = scaled as u64;
    let mut k = 10u32;
    while k > 0 && n.is_multiple_of(2) {
        n /= 2;
        k -= 1;
    }
    // a = n / 2^k = n * 5^k / 10^k
    // (Past u64, certainly more than 17 digits.)
    let Some(digits) = n.checked_mul(5u64.pow(k)) else {
        return false;
    };
    if digits >= 100_000_000_000_000_000 {
        // More than 17 significant digits: %.17g rounds them.
        return false;
    }
    let (int, frac) = (digits / 10u64.pow(k), digits % 10u64.pow(k));
    if v < 0.0 {
        out.push(b'-');
    }
    out.extend_from_slice(crate::encode::Itoa::u64(int).as_bytes());
    if k > 0 {
        out.push(b'.');
        let mut fb = [b'0'; 10];
        let mut f = frac;
        for slot in fb[..k as usize].iter_mut().rev() {
            *slot = b'0' + (f % 10) as u8;
            f /= 10;
        }
        out.extend_from_slice(&fb[..k as usize]);
    }
    true
}

fn format_inner(v: f64, out: &mut G17) {
    if v.is_nan() {
        out.extend_from_slice(b"nan");
        return;
    }
    if v.is_infinite() {
        out.extend_from_slice(if v > 0.0 { b"inf" } else { b"-inf" });
        return;
    }
    if exact_short(v, out) {
        return;
    }
    general_path(v, out);
}

/// C's %.17g through Rust's exact 17-digit formatting.
fn general_path(v: f64, out: &mut G17) {
    let mut sb = StackBuf {
        buf: [0; 64],
        len: 0,
    };
    // 17 significant digits need at most 25 bytes ("-d.<16 digits>e-308"), so this
    // cannot overflow the 64-byte buffer.
    if write!(sb, "{:.16e}", v).is_err() {
        out.extend_from_slice(b"nan");
        return;
    }
    let s = &sb.buf[..sb.len];

    let (negative, s) = match s.split_first() {
        Some((b'-', rest)) => (true, rest),
        _ => (false, s),
    };
    let (mantissa, exp) = match s.iter().position(|&b| b == b'e') {
        Some(e) => (&s[..e], &s[e + 1..]),
        None => (s, &b"0"[..]),
    };
    let mut digits = [b'0'; PRECISION as usize];
    let mut n = 0;
    for &d in mantissa.iter().filter(|d| d.is_ascii_digit()) {
        if let Some(slot) = digits.get_mut(n) {
            *slot = d;
            n += 1;
        }
    }
    let exp: i32 = std::str::from_utf8(exp)
        .ok()
        .and_then(|e| e.parse().ok())
        .unwrap_or(0);

    // %g drops trailing zeros of the fraction (no '#' flag); in fixed notation the
    // integer-part digits stay whatever they are.
    let mut sig = PRECISION as usize;
    while sig > 1 && digits[sig - 1] == b'0' {
        sig -= 1;
    }

    if negative {
        out.push(b'-');
    }
    if (-4..PRECISION).contains(&exp) {
        if exp >= 0 {
            let int_len = exp as usize + 1;
            out.extend_from_slice(&digits[..int_len]);
            if sig > int_len {
                out.push(b'.');
                out.extend_from_slice(&digits[int_len..sig]);
            }
        } else {
            out.extend_from_slice(b"0.");
            for _ in 0..(-exp - 1) {
                out.push(b'0');
            }
            out.extend_from_slice(&digits[..sig]);
        }
    } else {
        out.push(digits[0]);
        if sig > 1 {
            out.push(b'.');
            out.extend_from_slice(&digits[1..sig]);
        }
        out.push(b'e');
        out.push(if exp < 0 { b'-' } else { b'+' });
        let e = exp.unsigned_abs();
        // C prints at least two exponent digits.
        if e < 10 {
            out.push(b'0');
        }
        out.extend_from_slice(crate::encode::Itoa::u64(e as u64).as_bytes());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn g(v: f64) -> String {
        let mut out = Vec::new();
        format_g17(v, &mut out);
        String::from_utf8(out).unwrap()
    }

    /// Expected strings produced by python3 `'%.17g' % x` (same as glibc printf).
    #[test]
    fn matches_c_printf() {
        let cases: &[(f64, &str)] = &[
            (0.0, "0"),
            (-0.0, "-0"),
            (1.0, "1"),
            (-1.0, "-1"),
            (1.5, "1.5"),
            (0.1, "0.10000000000000001"),
            (0.2, "0.20000000000000001"),
            (0.3, "0.29999999999999999"),
            (1e20, "1e+20"),
            (1e-5, "1.0000000000000001e-05"),
            (1e-4, "0.0001"),
            (0.00012345, "0.00012344999999999999"),
            (1e16, "10000000000000000"),
            (1e17, "1e+17"),
            (12345678901234567.0, "12345678901234568"),
            (123456789012345678.0, "1.2345678901234568e+17"),
            (1234.5678, "1234.5678"),
            (100.0, "100"),
            (1e100, "1e+100"),
            (1e300, "1.0000000000000001e+300"),
            (f64::MAX, "1.7976931348623157e+308"),
            (f64::MIN_POSITIVE, "2.2250738585072014e-308"),
            (5e-324, "4.9406564584124654e-324"),
            (-2.5e-7, "-2.4999999999999999e-07"),
            (2.0f64.powi(-25), "2.9802322387695312e-08"),
            (3.0 * 2.0f64.powi(-25), "8.9406967163085938e-08"),
            (9007199254740993.0, "9007199254740992"),
            (0.5, "0.5"),
            (123.456, "123.456"),
            (1.0 / 3.0, "0.33333333333333331"),
            (2.0 / 3.0, "0.66666666666666663"),
            (99999999999999999.0, "1e+17"),
            (9.999_999_999_999_999e-5, "9.9999999999999991e-05"),
        ];
        for &(v, want) in cases {
            assert_eq!(g(v), want, "{v:e}");
        }
    }

    #[test]
    fn exact_fast_path_matches_the_general_one() {
        let mut vals = vec![1.5, -2.25, 0.125, 0.0009765625, 4294967295.5, 1e-4, 3.0];
        for i in 0..20_000u32 {
            vals.push(i as f64 * 0.375 - 3000.0);
            vals.push((i as f64) / 1024.0);
            vals.push(4_294_967_295.0 - i as f64 / 512.0);
        }
        for v in vals {
            let mut fast = G17 {
                buf: [0; 40],
                len: 0,
            };
            if !exact_short(v, &mut fast) {
                continue;
            }
            let general = {
                let mut g = G17 {
                    buf: [0; 40],
                    len: 0,
                };
                general_path(v, &mut g);
                g
            };
            assert_eq!(fast.as_bytes(), general.as_bytes(), "{v}");
        }
    }

    #[test]
    fn non_finite() {
        assert_eq!(g(f64::INFINITY), "inf");
        assert_eq!(g(f64::NEG_INFINITY), "-inf");
        assert_eq!(g(f64::NAN), "nan");
        assert_eq!(g(-f64::NAN), "nan");
    }
}
