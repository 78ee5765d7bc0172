//! A command's arguments as a view: offsets into the buffer they arrived in, so parsing and
//! dispatch copy nothing. Values are copied only when they enter the keyspace.

use crate::error::{Error, Result};
use resp::Arg;

#[derive(Clone, Copy)]
pub struct Args<'a> {
    buf: &'a [u8],
    ranges: &'a [Arg],
    /// The shared read buffer `buf` is a slice of, and where `buf` starts in it, when the
    /// runtime gave up the buffer to this command (a big one): `shared` hands out its
    /// arguments without copying.
    whole: Option<(&'a bytes::Bytes, usize)>,
}

impl<'a> Args<'a> {
    pub fn new(buf: &'a [u8], ranges: &'a [Arg]) -> Args<'a> {
        Args {
            buf,
            ranges,
            whole: None,
        }
    }

    /// A command occupying `cmd` of a read buffer the runtime no longer needs.
    pub fn in_shared(
        whole: &'a bytes::Bytes,
        cmd: std::ops::Range<usize>,
        ranges: &'a [Arg],
    ) -> Args<'a> {
        Args {
            buf: &whole[cmd.clone()],
            ranges,
            whole: Some((whole, cmd.start)),
        }
    }

    /// Argument `i` as a handle on the read buffer it arrived in (no copy), when the runtime
    /// offered the buffer (`in_shared`).
    pub fn shared(&self, i: usize) -> Option<bytes::Bytes> {
        let (whole, at) = self.whole?;
        let r = self.ranges[i];
        Some(whole.slice(at + r.start as usize..at + r.end as usize))
    }

    pub fn len(&self) -> usize {
        self.ranges.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ranges.is_empty()
    }

    /// The i-th argument. Panics on an out-of-range index: callers check arity first (the
    /// command table guarantees the minimum), so this is a programming error, not input.
    pub fn get(&self, i: usize) -> &'a [u8] {
        let r = self.ranges[i];
        &self.buf[r.start as usize..r.end as usize]
    }

    pub fn iter(&self) -> impl ExactSizeIterator<Item = &'a [u8]> + '_ {
        (0..self.len()).map(move |i| self.get(i))
    }

    pub fn ranges(&self) -> &'a [Arg] {
        self.ranges
    }

    pub fn buf(&self) -> &'a [u8] {
        self.buf
    }

    pub fn int(&self, i: usize) -> Result<i64> {
        parse_i64(self.get(i)).ok_or(Error::NotInteger)
    }

    /// Redis' getIntFromObjectOrReply: an integer that must fit a C int.
    pub fn int32(&self, i: usize) -> Result<i64> {
        let v = self.int(i)?;
        if v < i32::MIN as i64 || v > i32::MAX as i64 {
            return Err(Error::msg(
                "ERR value is out of range, value must between -2147483648 and 2147483647",
            ));
        }
        Ok(v)
    }

    /// Case-insensitive comparison with a lowercase ASCII word.
    pub fn is(&self, i: usize, word: &str) -> bool {
        self.get(i).eq_ignore_ascii_case(word.as_bytes())
    }
}

/// Arguments copied from separate words into one buffer: for tools, tests and benches that
/// build commands by hand (the server's args point into its read buffer instead).
#[derive(Default)]
pub struct OwnedArgs {
    pub buf: Vec<u8>,
    pub ranges: Vec<Arg>,
}

impl OwnedArgs {
    pub fn from_words<W: AsRef<[u8]>>(words: &[W]) -> OwnedArgs {
        let mut o = OwnedArgs::default();
        for w in words {
            let start = o.buf.len() as u32;
            o.buf.extend_from_slice(w.as_ref());
            o.ranges.push(Arg {
                start,
                end: o.buf.len() as u32,
            });
        }
        o
    }

    pub fn args(&self) -> Args<'_> {
        Args::new(&self.buf, &self.ranges)
    }
}

/// C's strtod over a whole argument, as Redis' score ranges and SORT read numbers: an
/// empty string reads 0 (nothing to convert, nothing left over), leading white space is
/// skipped but white space alone is refused (strtod converts nothing and leaves it),
/// hexadecimal integers ("0x1f") are accepted; NaN and overflow are refused.
pub fn strtod(b: &[u8]) -> Option<f64> {
    if b.is_empty() {
        return Some(0.0);
    }
    let start = b
        .iter()
        .position(|c| !matches!(c, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r'))
        .unwrap_or(b.len());
    let rest = &b[start..];
    if rest.is_empty() {
        return None;
    }
    let (neg, digits) = match rest[0] {
        b'-' => (true, &rest[1..]),
        b'+' => (false, &rest[1..]),
        _ => (false, rest),
    };
    if let Some(hex) = digits
        .strip_prefix(b"0x")
        .or_else(|| digits.strip_prefix(b"0X"))
    {
        if !hex.is_empty() && hex.iter().all(|c| c.is_ascii_hexdigit()) {
            let mut v = 0f64;
            for &c in hex {
                v = v * 16.0 + (c as char).to_digit(16).unwrap_or(0) as f64;
            }
            return v.is_finite().then_some(if neg { -v } else { v });
        }
    }
    let v = parse_f64(rest)?;
    if v.is_infinite() && !rest.to_ascii_lowercase().windows(3).any(|w| w == b"inf") {
        return None;
    }
    Some(v)
}

/// A SCAN cursor, with strtoul's semantics as Redis' parseScanCursorOrReply ("-1" wraps to
/// the largest cursor).
pub fn parse_cursor(b: &[u8]) -> Result<u64> {
    std::str::from_utf8(b)
        .ok()
        .and_then(|s| {
            s.parse::<u64>()
                .ok()
                .or_else(|| s.parse::<i64>().ok().map(|v| v as u64))
        })
        .ok_or_else(|| Error::msg("ERR invalid cursor"))
}

/// The options of SSCAN, HSCAN and ZSCAN (SCAN adds TYPE).
pub struct ScanOpts<'a> {
    pub count: usize,
    /// None for no pattern or "*".
    pub pattern: Option<&'a [u8]>,
}

impl<'a> ScanOpts<'a> {
    pub fn parse(args: Args<'a>, from: usize) -> Result<ScanOpts<'a>> {
        let mut o = ScanOpts {
            count: 10,
            pattern: None,
        };
        let mut i = from;
        while i < args.len() {
            if args.is(i, "count") && i + 1 < args.len() {
                let n = args.int(i + 1)?;
                if n < 1 {
                    return Err(Error::Syntax);
                }
                o.count = n as usize;
            } else if args.is(i, "match") && i + 1 < args.len() {
                let p = args.get(i + 1);
                o.pattern = (p != b"*").then_some(p);
            } else {
                return Err(Error::Syntax);
            }
            i += 2;
        }
        Ok(o)
    }

    pub fn keeps(&self, item: &[u8]) -> bool {
        self.pattern
            .is_none_or(|p| crate::glob::matches(p, item, false))
    }
}

/// The arguments of LMPOP, ZMPOP and their blocking forms from the numkeys at `at`: the
/// keys, which end (false for `first`, true for `second`, e.g. "left"/"right") and the
/// count, checked in Redis' order and with its messages.
pub fn parse_mpop<'a>(
    args: Args<'a>,
    at: usize,
    first: &str,
    second: &str,
) -> Result<(Vec<&'a [u8]>, bool, usize)> {
    let n = parse_i64(args.get(at))
        .filter(|&n| n > 0)
        .ok_or_else(|| Error::msg("ERR numkeys should be greater than 0"))?;
    let where_at = at as u64 + n as u64 + 1;
    if where_at >= args.len() as u64 {
        return Err(Error::Syntax);
    }
    let where_at = where_at as usize;
    let end = if args.is(where_at, first) {
        false
    } else if args.is(where_at, second) {
        true
    } else {
        return Err(Error::Syntax);
    };
    let mut count = None;
    let mut j = where_at + 1;
    while j < args.len() {
        if count.is_none() && args.is(j, "count") && j + 1 < args.len() {
            count = Some(
                parse_i64(args.get(j + 1))
                    .filter(|&c| c > 0)
                    .ok_or_else(|| Error::msg("ERR count should be greater than 0"))?
                    as usize,
            );
            j += 2;
        } else {
            return Err(Error::Syntax);
        }
    }
    let keys = (at + 1..where_at).map(|i| args.get(i)).collect();
    Ok((keys, end, count.unwrap_or(1)))
}

/// Redis' string2ll (integers in arguments follow the same rules as RESP lengths).
pub use resp::string2ll as parse_i64;

/// Redis' string2ld for INCRBYFLOAT and friends: a strtold that must consume the whole
/// string, no leading space, and must not yield NaN.
pub fn parse_f64(b: &[u8]) -> Option<f64> {
    let s = std::str::from_utf8(b).ok()?;
    if s.is_empty()
        || s.starts_with(|c: char| c.is_whitespace())
        || s.ends_with(|c: char| c.is_whitespace())
    {
        return None;
    }
    let lower = s.to_ascii_lowercase();
    let v = match lower.trim_start_matches(['+', '-']) {
        "inf" | "infinity" => {
            if lower.starts_with('-') {
                f64::NEG_INFINITY
            } else {
                f64::INFINITY
            }
        }
        _ => {
            // Rust's parser accepts "nan"/"infinity" spellings handled above, and rejects hex
            // floats, which strtold would take; Redis users do not send those.
            if !s
                .bytes()
                .all(|c| c.is_ascii_digit() || matches!(c, b'.' | b'e' | b'E' | b'+' | b'-'))
            {
                return None;
            }
            s.parse::<f64>().ok()?
        }
    };
    if v.is_nan() {
        None
    } else {
        Some(v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn string2ll_rules() {
        assert_eq!(parse_i64(b"0"), Some(0));
        assert_eq!(parse_i64(b"-1"), Some(-1));
        assert_eq!(parse_i64(b"9223372036854775807"), Some(i64::MAX));
        assert_eq!(parse_i64(b"-9223372036854775808"), Some(i64::MIN));
        for bad in [
            &b"9223372036854775808"[..],
            b"01",
            b"-0",
            b"+1",
            b" 1",
            b"1 ",
            b"",
            b"-",
            b"1a",
        ] {
            assert_eq!(parse_i64(bad), None, "{:?}", std::str::from_utf8(bad));
        }
    }

    #[test]
    fn string2ld_rules() {
        assert_eq!(parse_f64(b"1.5"), Some(1.5));
        assert_eq!(parse_f64(b"-inf"), Some(f64::NEG_INFINITY));
        assert_eq!(parse_f64(b"5e3"), Some(5000.0));
        assert_eq!(parse_f64(b"nan"), None);
        assert_eq!(parse_f64(b" 1"), None);
        assert_eq!(parse_f64(b"abc"), None);
    }
}
