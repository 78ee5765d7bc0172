//! Request framing: multibulk (`*N\r\n$len\r\n...`) and inline commands.
//!
//! Deliberate differences from Redis 7.0, all on inputs no real client sends:
//! - Redis finds line ends with `strchr`, which stops at a NUL byte, so a NUL before the
//!   line end makes Redis wait (and later fail with "too big ... request/string"). We scan
//!   the bytes themselves, so e.g. `*1\0\r\n` fails at once with "invalid multibulk length".
//!   Inside an inline line we do keep Redis' behaviour that a NUL ends the line's arguments
//!   (sdssplitargs stops there).
//! - Redis decides "too big" only when no terminator is buffered yet, so the same input can
//!   pass or fail depending on how it was split into reads. We fail whenever the terminator
//!   lies beyond the limit, which gives one answer for every split.
//! - Arguments are `u32` offsets, so a command whose bytes reach past 4 GiB fails with
//!   [`MSG_TOO_BIG_REQUEST`] when the offending bulk header is read (Redis would have hit
//!   its query buffer limit long before).
//!
//! Like Redis, the two bytes after a line's `\r` and after bulk data are skipped without
//! checking that they are `\n` / `\r\n`: strict checking would reject inputs Redis accepts.

use crate::expected_dollar::EXPECTED_DOLLAR;

pub const MSG_INVALID_MULTIBULK_LEN: &str = "Protocol error: invalid multibulk length";
pub const MSG_INVALID_BULK_LEN: &str = "Protocol error: invalid bulk length";
pub const MSG_TOO_BIG_MBULK_COUNT: &str = "Protocol error: too big mbulk count string";
pub const MSG_TOO_BIG_BULK_COUNT: &str = "Protocol error: too big bulk count string";
pub const MSG_TOO_BIG_INLINE: &str = "Protocol error: too big inline request";
pub const MSG_UNBALANCED_QUOTES: &str = "Protocol error: unbalanced quotes in request";
/// Not a Redis message: raised when an argument would end past `u32::MAX` bytes.
pub const MSG_TOO_BIG_REQUEST: &str = "Protocol error: too big request";

/// Where an argument lives: byte offsets into the parsed buffer, or into the scratch
/// buffer for inline commands (see [`Parsed::Command::inline_scratch`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Arg {
    pub start: u32,
    pub end: u32,
}

impl Arg {
    /// The bytes of this argument in `src` (the buffer it refers to); empty if the range
    /// does not fit, so a caller mixing up buffers gets garbage rather than a panic.
    #[inline]
    pub fn slice<'b>(&self, src: &'b [u8]) -> &'b [u8] {
        src.get(self.start as usize..self.end as usize)
            .unwrap_or(&[])
    }

    #[inline]
    pub fn len(&self) -> usize {
        self.end.saturating_sub(self.start) as usize
    }

    #[inline]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// proto-max-bulk-len: a larger `$len` is rejected when its header is read, before
    /// the caller buffers (or allocates for) the payload.
    pub max_bulk_len: usize,
    /// Largest accepted `*N`; Redis 7.0 rejects N > INT_MAX.
    pub max_multibulk_len: usize,
    /// PROTO_INLINE_MAX_SIZE: longest inline line or `*`/`$` header line.
    pub max_inline_len: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_bulk_len: 512 * 1024 * 1024,
            max_multibulk_len: i32::MAX as usize,
            max_inline_len: 64 * 1024,
        }
    }
}

#[derive(Debug, PartialEq, Eq)]
pub enum Parsed {
    /// One command framed: `consumed` bytes of the buffer belong to it; its arguments were
    /// pushed to `args` (cleared first). `inline_scratch` is true when the args refer to the
    /// `scratch` Vec (inline command), false when they refer to `buf`.
    /// An empty command (blank inline line, `*0\r\n`, `*-1\r\n`) has no args: callers skip it.
    Command {
        consumed: usize,
        inline_scratch: bool,
    },
    /// Not enough bytes yet. `needed` (always > `buf.len()`) is a lower bound on the buffer
    /// length at which the result can change; parsing a shorter extension of `buf` returns
    /// `Incomplete` again, so callers need not re-parse before that.
    Incomplete { needed: usize },
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("{0}")]
pub struct ProtocolError(pub &'static str);

/// Frames one command at the start of `buf`.
///
/// `args` is cleared and, on `Parsed::Command`, holds the argument ranges; on any other
/// outcome it is left empty. `scratch` is overwritten only for inline commands.
pub fn parse_command(
    buf: &[u8],
    limits: &Limits,
    args: &mut Vec<Arg>,
    scratch: &mut Vec<u8>,
) -> Result<Parsed, ProtocolError> {
    args.clear();
    let res = match buf.first() {
        None => Ok(Parsed::Incomplete { needed: 1 }),
        Some(b'*') => parse_multibulk(buf, limits, args),
        Some(_) => parse_inline(buf, limits, args, scratch),
    };
    if !matches!(res, Ok(Parsed::Command { .. })) {
        // Partial ranges must not be mistaken for a command by a careless caller.
        args.clear();
    }
    res
}

enum Line {
    /// `end` is the index of the terminator; `next` the first byte after the line.
    Found {
        end: usize,
        next: usize,
    },
    Incomplete {
        needed: usize,
    },
}

/// Finds the `\r` ending a `*`/`$` header line that starts at `start`.
///
/// Only the first `max + 1` bytes are searched: a terminator further away is an error
/// whichever way the bytes were split into reads, which also bounds the work per call.
fn header_line(
    buf: &[u8],
    start: usize,
    max: usize,
    too_big: &'static str,
) -> Result<Line, ProtocolError> {
    let rest = buf.get(start..).unwrap_or(&[]);
    let window = &rest[..rest.len().min(max.saturating_add(1))];
    match window.iter().position(|&b| b == b'\r') {
        // Redis needs one more byte after '\r' (assumed to be '\n', never checked).
        Some(i) if i + 2 > rest.len() => Ok(Line::Incomplete {
            needed: start + i + 2,
        }),
        Some(i) => Ok(Line::Found {
            end: start + i,
            next: start + i + 2,
        }),
        None if rest.len() > max => Err(ProtocolError(too_big)),
        None => Ok(Line::Incomplete {
            needed: buf.len() + 1,
        }),
    }
}

fn parse_multibulk(
    buf: &[u8],
    limits: &Limits,
    args: &mut Vec<Arg>,
) -> Result<Parsed, ProtocolError> {
    let (end, mut pos) = match header_line(buf, 0, limits.max_inline_len, MSG_TOO_BIG_MBULK_COUNT)?
    {
        Line::Found { end, next } => (end, next),
        Line::Incomplete { needed } => return Ok(Parsed::Incomplete { needed }),
    };
    let count = string2ll(&buf[1..end]).ok_or(ProtocolError(MSG_INVALID_MULTIBULK_LEN))?;
    if count > 0 && count as u64 > limits.max_multibulk_len as u64 {
        return Err(ProtocolError(MSG_INVALID_MULTIBULK_LEN));
    }
    // Redis treats any count <= 0 as an empty command, not as an error.
    if count <= 0 {
        return Ok(Parsed::Command {
            consumed: pos,
            inline_scratch: false,
        });
    }
    // The count is attacker-controlled: reserve only what a small command needs and let
    // real arguments (each at least 6 bytes of input) pay for further growth.
    args.reserve((count as usize).min(1024));

    for _ in 0..count {
        let (end, data_start) =
            match header_line(buf, pos, limits.max_inline_len, MSG_TOO_BIG_BULK_COUNT)? {
                Line::Found { end, next } => (end, next),
                Line::Incomplete { needed } => return Ok(Parsed::Incomplete { needed }),
            };
        // header_line found a '\r' at or after pos, so buf[pos] exists.
        let first = buf[pos];
        if first != b'$' {
            return Err(ProtocolError(EXPECTED_DOLLAR[first as usize]));
        }
        let len = string2ll(&buf[pos + 1..end])
            .filter(|&l| l >= 0 && l as u64 <= limits.max_bulk_len as u64)
            .and_then(|l| usize::try_from(l).ok())
            .ok_or(ProtocolError(MSG_INVALID_BULK_LEN))?;
        let data_end = data_start
            .checked_add(len)
            .filter(|&e| e <= u32::MAX as usize)
            .ok_or(ProtocolError(MSG_TOO_BIG_REQUEST))?;
        // data_end <= u32::MAX, so this cannot overflow a 64-bit usize; saturate anyway
        // for 32-bit targets, where such a buffer cannot exist and Incomplete is honest.
        let next = data_end.saturating_add(2);
        if next > buf.len() {
            return Ok(Parsed::Incomplete { needed: next });
        }
        args.push(Arg {
            start: data_start as u32,
            end: data_end as u32,
        });
        pos = next;
    }
    Ok(Parsed::Command {
        consumed: pos,
        inline_scratch: false,
    })
}

fn parse_inline(
    buf: &[u8],
    limits: &Limits,
    args: &mut Vec<Arg>,
    scratch: &mut Vec<u8>,
) -> Result<Parsed, ProtocolError> {
    let max = limits.max_inline_len;
    let window = &buf[..buf.len().min(max.saturating_add(1))];
    let nl = match window.iter().position(|&b| b == b'\n') {
        Some(nl) => nl,
        None if buf.len() > max => return Err(ProtocolError(MSG_TOO_BIG_INLINE)),
        None => {
            return Ok(Parsed::Incomplete {
                needed: buf.len() + 1,
            })
        }
    };
    let line_end = if nl > 0 && buf[nl - 1] == b'\r' {
        nl - 1
    } else {
        nl
    };
    if line_end > u32::MAX as usize {
        return Err(ProtocolError(MSG_TOO_BIG_REQUEST));
    }
    scratch.clear();
    split_args(&buf[..line_end], args, scratch)?;
    Ok(Parsed::Command {
        consumed: nl + 1,
        inline_scratch: true,
    })
}

/// C `isspace` in the "C" locale, which is what sdssplitargs runs under.
#[inline]
fn is_space(c: u8) -> bool {
    matches!(c, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r')
}

#[inline]
fn hex_val(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

/// Port of sdssplitargs, appending unescaped arguments to `scratch`.
///
/// The C code walks a NUL-terminated string and peeks up to three bytes ahead; reading
/// 0 past the end (and cutting the line at its first NUL) reproduces it exactly.
fn split_args(
    line: &[u8],
    args: &mut Vec<Arg>,
    scratch: &mut Vec<u8>,
) -> Result<(), ProtocolError> {
    let line = match line.iter().position(|&b| b == 0) {
        Some(z) => &line[..z],
        None => line,
    };
    let at = |p: usize| line.get(p).copied().unwrap_or(0);
    let unbalanced = || ProtocolError(MSG_UNBALANCED_QUOTES);
    let mut p = 0;
    loop {
        while at(p) != 0 && is_space(at(p)) {
            p += 1;
        }
        if at(p) == 0 {
            return Ok(());
        }
        let start = scratch.len();
        let (mut inq, mut insq, mut done) = (false, false, false);
        while !done {
            let c = at(p);
            if inq {
                if c == b'\\' && at(p + 1) == b'x' {
                    if let (Some(hi), Some(lo)) = (hex_val(at(p + 2)), hex_val(at(p + 3))) {
                        scratch.push(hi * 16 + lo);
                        p += 3;
                    } else {
                        // "\x" without two hex digits is just an escaped 'x'.
                        scratch.push(b'x');
                        p += 1;
                    }
                } else if c == b'\\' && at(p + 1) != 0 {
                    p += 1;
                    scratch.push(match at(p) {
                        b'n' => b'\n',
                        b'r' => b'\r',
                        b't' => b'\t',
                        b'b' => 0x08,
                        b'a' => 0x07,
                        other => other,
                    });
                } else if c == b'"' {
                    // A closing quote glued to more text is ambiguous; Redis rejects it.
                    if at(p + 1) != 0 && !is_space(at(p + 1)) {
                        return Err(unbalanced());
                    }
                    done = true;
                } else if c == 0 {
                    return Err(unbalanced());
                } else {
                    scratch.push(c);
                }
            } else if insq {
                if c == b'\\' && at(p + 1) == b'\'' {
                    p += 1;
                    scratch.push(b'\'');
                } else if c == b'\'' {
                    if at(p + 1) != 0 && !is_space(at(p + 1)) {
                        return Err(unbalanced());
                    }
                    done = true;
                } else if c == 0 {
                    return Err(unbalanced());
                } else {
                    scratch.push(c);
                }
            } else {
                // Only these end a bare word (not \v or \f, unlike the blank skipping above),
                // and a quote may open in the middle of a word: a"b c" is one argument.
                match c {
                    b' ' | b'\n' | b'\r' | b'\t' | 0 => done = true,
                    b'"' => inq = true,
                    b'\'' => insq = true,
                    _ => scratch.push(c),
                }
            }
            if at(p) != 0 {
                p += 1;
            }
        }
        // The line is shorter than u32::MAX (checked by the caller) and scratch only ever
        // holds bytes of that line, so the offsets fit.
        args.push(Arg {
            start: start as u32,
            end: scratch.len() as u32,
        });
    }
}

/// Port of Redis' string2ll: strict decimal, no '+', no leading zeros, no "-0",
/// at most 20 characters, overflow is a failure rather than a wrap.
pub fn string2ll(s: &[u8]) -> Option<i64> {
    if s.is_empty() || s.len() >= 21 {
        return None;
    }
    if s == b"0" {
        return Some(0);
    }
    let (negative, digits) = match s.split_first() {
        Some((b'-', rest)) => (true, rest),
        _ => (false, s),
    };
    match digits.first() {
        Some(b'1'..=b'9') => {}
        _ => return None,
    }
    let mut v: u64 = 0;
    for &d in digits {
        if !d.is_ascii_digit() {
            return None;
        }
        v = v.checked_mul(10)?.checked_add(u64::from(d - b'0'))?;
    }
    if negative {
        if v > i64::MAX as u64 + 1 {
            return None;
        }
        Some((v as i64).wrapping_neg())
    } else {
        i64::try_from(v).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lim() -> Limits {
        Limits::default()
    }

    /// Parses one command and returns its arguments as owned byte strings.
    fn one(buf: &[u8]) -> Result<(usize, Vec<Vec<u8>>), ProtocolError> {
        one_with(buf, &lim())
    }

    fn one_with(buf: &[u8], l: &Limits) -> Result<(usize, Vec<Vec<u8>>), ProtocolError> {
        let mut args = Vec::new();
        let mut scratch = Vec::new();
        match parse_command(buf, l, &mut args, &mut scratch)? {
            Parsed::Command {
                consumed,
                inline_scratch,
            } => {
                let src: &[u8] = if inline_scratch { &scratch } else { buf };
                Ok((
                    consumed,
                    args.iter().map(|a| a.slice(src).to_vec()).collect(),
                ))
            }
            Parsed::Incomplete { needed } => panic!("incomplete, needed {needed}"),
        }
    }

    fn incomplete(buf: &[u8]) -> usize {
        let mut args = Vec::new();
        let mut scratch = Vec::new();
        match parse_command(buf, &lim(), &mut args, &mut scratch) {
            Ok(Parsed::Incomplete { needed }) => {
                assert!(args.is_empty());
                needed
            }
            other => panic!("expected incomplete, got {other:?}"),
        }
    }

    fn err(buf: &[u8]) -> &'static str {
        err_with(buf, &lim())
    }

    fn err_with(buf: &[u8], l: &Limits) -> &'static str {
        let mut args = Vec::new();
        let mut scratch = Vec::new();
        match parse_command(buf, l, &mut args, &mut scratch) {
            Err(ProtocolError(m)) => m,
            other => panic!("expected error, got {other:?}"),
        }
    }

    fn v(parts: &[&str]) -> Vec<Vec<u8>> {
        parts.iter().map(|p| p.as_bytes().to_vec()).collect()
    }

    #[test]
    fn multibulk_basic() {
        let buf = b"*2\r\n$3\r\nGET\r\n$3\r\nkey\r\n";
        assert_eq!(one(buf).unwrap(), (buf.len(), v(&["GET", "key"])));
    }

    #[test]
    fn multibulk_args_point_into_buf() {
        let buf = b"*1\r\n$4\r\nPING\r\n";
        let mut args = Vec::new();
        let mut scratch = Vec::new();
        let r = parse_command(buf, &lim(), &mut args, &mut scratch).unwrap();
        assert_eq!(
            r,
            Parsed::Command {
                consumed: buf.len(),
                inline_scratch: false
            }
        );
        assert_eq!(args, vec![Arg { start: 8, end: 12 }]);
    }

    #[test]
    fn multibulk_binary_and_empty_args() {
        let buf = b"*3\r\n$0\r\n\r\n$4\r\n\r\n\0\xff\r\n$1\r\n*\r\n";
        assert_eq!(
            one(buf).unwrap(),
            (
                buf.len(),
                vec![vec![], b"\r\n\0\xff".to_vec(), b"*".to_vec()]
            )
        );
    }

    #[test]
    fn empty_multibulk() {
        assert_eq!(one(b"*0\r\n").unwrap(), (4, vec![]));
        assert_eq!(one(b"*-1\r\n").unwrap(), (5, vec![]));
        // Redis accepts any non-positive count as empty.
        assert_eq!(one(b"*-7\r\n").unwrap(), (5, vec![]));
    }

    #[test]
    fn pipelined_back_to_back() {
        let buf = b"*1\r\n$4\r\nPING\r\nPING\r\n*2\r\n$4\r\nECHO\r\n$2\r\nhi\r\n";
        let mut pos = 0;
        let mut got = Vec::new();
        while pos < buf.len() {
            let (n, a) = one(&buf[pos..]).unwrap();
            got.push(a);
            pos += n;
        }
        assert_eq!(got, vec![v(&["PING"]), v(&["PING"]), v(&["ECHO", "hi"])]);
    }

    #[test]
    fn crlf_after_data_not_checked() {
        // Redis skips the two bytes after bulk data (and after a header '\r') blindly.
        let buf = b"*1\r\n$3\r\nGETxy*1\rX$1\rYaZZ";
        let (n, a) = one(buf).unwrap();
        assert_eq!((n, a), (13, v(&["GET"])));
        assert_eq!(one(&buf[13..]).unwrap(), (11, v(&["a"])));
    }

    #[test]
    fn multibulk_incomplete_needed() {
        assert_eq!(incomplete(b""), 1);
        assert_eq!(incomplete(b"*"), 2);
        assert_eq!(incomplete(b"*2"), 3);
        assert_eq!(incomplete(b"*2\r"), 4);
        assert_eq!(incomplete(b"*2\r\n"), 5);
        assert_eq!(incomplete(b"*2\r\n$3"), 7);
        assert_eq!(incomplete(b"*2\r\n$3\r"), 8);
        // Header complete: the whole payload plus its CRLF is now known to be needed.
        assert_eq!(incomplete(b"*2\r\n$3\r\n"), 13);
        assert_eq!(incomplete(b"*2\r\n$3\r\nGE"), 13);
        assert_eq!(incomplete(b"*2\r\n$3\r\nGET\r"), 13);
        assert_eq!(incomplete(b"*2\r\n$3\r\nGET\r\n"), 14);
        let big = b"*1\r\n$500000000\r\nabc";
        assert_eq!(incomplete(big), 16 + 500_000_000 + 2);
    }

    #[test]
    fn invalid_multibulk_length() {
        for b in [
            &b"*\r\n"[..],
            b"*x\r\n",
            b"*1x\r\n",
            b"*01\r\n",
            b"*+1\r\n",
            b"*-0\r\n",
            b"* 1\r\n",
            b"*2147483648\r\n",
            b"*99999999999999999999\r\n",
            b"*123456789012345678901234567890\r\n",
            b"*1\0\r\n",
        ] {
            assert_eq!(err(b), MSG_INVALID_MULTIBULK_LEN, "{:?}", b);
        }
        let l = Limits {
            max_multibulk_len: 3,
            ..lim()
        };
        assert_eq!(err_with(b"*4\r\n", &l), MSG_INVALID_MULTIBULK_LEN);
    }

    #[test]
    fn huge_count_does_not_preallocate() {
        let mut args = Vec::new();
        let mut scratch = Vec::new();
        let r = parse_command(
            b"*2147483647\r\n$1\r\na\r\n",
            &lim(),
            &mut args,
            &mut scratch,
        );
        assert!(matches!(r, Ok(Parsed::Incomplete { needed: 21 })));
        assert!(args.capacity() <= 4096);
    }

    #[test]
    fn expected_dollar() {
        assert_eq!(
            err(b"*1\r\nGET\r\n"),
            "Protocol error: expected '$', got 'G'"
        );
        assert_eq!(err(b"*1\r\n\r\n"), "Protocol error: expected '$', got '\r'");
        assert_eq!(
            err(b"*1\r\n:1\r\n"),
            "Protocol error: expected '$', got ':'"
        );
        assert_eq!(
            err(b"*1\r\n\"\r\n"),
            "Protocol error: expected '$', got '\"'"
        );
        assert_eq!(
            err(b"*1\r\n\\\r\n"),
            "Protocol error: expected '$', got '\\'"
        );
        assert_eq!(
            err(b"*1\r\n\xe9\r\n"),
            "Protocol error: expected '$', got '\u{e9}'"
        );
        // Redis formats with %c and then strlen()s the result, so NUL cuts the message.
        assert_eq!(err(b"*1\r\n\0\r\n"), "Protocol error: expected '$', got '");
        // No verdict before the header line is complete, as in Redis.
        assert_eq!(incomplete(b"*1\r\nGET"), 8);
        for (i, m) in EXPECTED_DOLLAR.iter().enumerate().skip(1) {
            assert!(m.starts_with("Protocol error: expected '$', got '"));
            assert!(m.ends_with('\''));
            if i < 0x80 {
                assert_eq!(m.len(), 37, "{i}");
                assert_eq!(m.as_bytes()[35], i as u8);
            }
        }
    }

    #[test]
    fn invalid_bulk_length() {
        for b in [
            &b"*1\r\n$-1\r\n"[..],
            b"*1\r\n$\r\n",
            b"*1\r\n$x\r\n",
            b"*1\r\n$01\r\n",
            b"*1\r\n$-0\r\n",
            b"*1\r\n$1 \r\n",
            b"*1\r\n$536870913\r\n",
            b"*1\r\n$9223372036854775808\r\n",
            b"*1\r\n$123456789012345678901234567890\r\n",
        ] {
            assert_eq!(err(b), MSG_INVALID_BULK_LEN, "{:?}", b);
        }
        // Exactly the limit is fine and is rejected/accepted before the payload arrives.
        assert_eq!(incomplete(b"*1\r\n$536870912\r\n"), 16 + 536870912 + 2);
        let l = Limits {
            max_bulk_len: 3,
            ..lim()
        };
        assert_eq!(err_with(b"*1\r\n$4\r\n", &l), MSG_INVALID_BULK_LEN);
        assert_eq!(one_with(b"*1\r\n$3\r\nabc\r\n", &l).unwrap().1, v(&["abc"]));
    }

    #[test]
    fn too_big_header_lines() {
        let l = Limits {
            max_inline_len: 8,
            ..lim()
        };
        // Up to the limit without '\r' we wait; one byte more is an error.
        assert!(matches!(
            parse_command(b"*1234567", &l, &mut Vec::new(), &mut Vec::new()),
            Ok(Parsed::Incomplete { .. })
        ));
        assert_eq!(err_with(b"*12345678", &l), MSG_TOO_BIG_MBULK_COUNT);
        // A terminator beyond the limit is an error even when it already arrived.
        assert_eq!(err_with(b"*123456789\r\n", &l), MSG_TOO_BIG_MBULK_COUNT);
        assert_eq!(err_with(b"*1\r\n$12345678", &l), MSG_TOO_BIG_BULK_COUNT);
        assert_eq!(err_with(b"*1\r\n$12345678\r\n", &l), MSG_TOO_BIG_BULK_COUNT);
        assert_eq!(err(&[b'*'; 64 * 1024 + 1]), MSG_TOO_BIG_MBULK_COUNT);
        let mut b = b"*1\r\n".to_vec();
        b.extend_from_slice(&[b'$'; 64 * 1024 + 1]);
        assert_eq!(err(&b), MSG_TOO_BIG_BULK_COUNT);
    }

    #[test]
    fn inline_basic() {
        assert_eq!(one(b"PING\r\n").unwrap(), (6, v(&["PING"])));
        assert_eq!(one(b"PING\n").unwrap(), (5, v(&["PING"])));
        assert_eq!(
            one(b"  SET \t k   v  \r\nrest").unwrap(),
            (17, v(&["SET", "k", "v"]))
        );
        // A '\r' inside the line separates words like a space.
        assert_eq!(one(b"a\rb\r\n").unwrap(), (5, v(&["a", "b"])));
        assert_eq!(incomplete(b"PING\r"), 6);
        assert_eq!(incomplete(b"PING"), 5);
    }

    #[test]
    fn inline_empty_lines() {
        assert_eq!(one(b"\r\n").unwrap(), (2, vec![]));
        assert_eq!(one(b"\n").unwrap(), (1, vec![]));
        assert_eq!(one(b"   \t \r\n").unwrap(), (7, vec![]));
    }

    #[test]
    fn inline_quotes_and_escapes() {
        assert_eq!(
            one(b"SET \"a b\" 'c d'\r\n").unwrap().1,
            v(&["SET", "a b", "c d"])
        );
        assert_eq!(
            one(b"\"\\n\\r\\t\\b\\a\\\\\\\"\\q\\x41\\x4g\\xff\"\n")
                .unwrap()
                .1,
            vec![b"\n\r\t\x08\x07\\\"qAx4g\xff".to_vec()]
        );
        assert_eq!(
            one(b"'it\\'s' 'a\\nb' '\"'\n").unwrap().1,
            v(&["it's", "a\\nb", "\""])
        );
        assert_eq!(one(b"\"\" ''\n").unwrap().1, v(&["", ""]));
        // Quotes may open in the middle of a word.
        assert_eq!(one(b"a\"b c\"\n").unwrap().1, v(&["ab c"]));
        // \v and \f are blanks between words but not word terminators.
        assert_eq!(one(b"\x0ba\x0bb\n").unwrap().1, v(&["a\x0bb"]));
        // Closing quote followed by \v is allowed (isspace).
        assert_eq!(one(b"\"a\"\x0bb\n").unwrap().1, v(&["a", "b"]));
        assert_eq!(one(b"GET k\0ignored \"\n").unwrap().1, v(&["GET", "k"]));
    }

    #[test]
    fn inline_unbalanced_quotes() {
        for b in [
            &b"\"abc\n"[..],
            b"'abc\n",
            b"\"a\"b\n",
            b"'a'b\n",
            b"\"abc\\\"\n",
            b"\"abc\\\n",
            b"\"a\0\"\n",
        ] {
            assert_eq!(err(b), MSG_UNBALANCED_QUOTES, "{:?}", b);
        }
    }

    #[test]
    fn inline_too_big() {
        let l = Limits {
            max_inline_len: 8,
            ..lim()
        };
        assert!(matches!(
            parse_command(b"12345678", &l, &mut Vec::new(), &mut Vec::new()),
            Ok(Parsed::Incomplete { needed: 9 })
        ));
        assert_eq!(one_with(b"12345678\n", &l).unwrap().1, v(&["12345678"]));
        assert_eq!(err_with(b"123456789", &l), MSG_TOO_BIG_INLINE);
        assert_eq!(err_with(b"123456789\n", &l), MSG_TOO_BIG_INLINE);
        assert_eq!(err(&[b'a'; 64 * 1024 + 1]), MSG_TOO_BIG_INLINE);
        assert_eq!(incomplete(&[b'a'; 64 * 1024]), 64 * 1024 + 1);
    }

    #[test]
    fn args_cleared_on_incomplete() {
        let mut args = vec![Arg { start: 1, end: 2 }];
        let mut scratch = Vec::new();
        let r = parse_command(b"*2\r\n$1\r\na\r\n$1", &lim(), &mut args, &mut scratch);
        assert!(matches!(r, Ok(Parsed::Incomplete { .. })));
        assert!(args.is_empty());
    }

    #[test]
    fn string2ll_matches_redis() {
        assert_eq!(string2ll(b"0"), Some(0));
        assert_eq!(string2ll(b"-1"), Some(-1));
        assert_eq!(string2ll(b"9223372036854775807"), Some(i64::MAX));
        assert_eq!(string2ll(b"-9223372036854775808"), Some(i64::MIN));
        for bad in [
            &b""[..],
            b"-",
            b"-0",
            b"00",
            b"+1",
            b"9223372036854775808",
            b"-9223372036854775809",
            b"18446744073709551616",
            b"1 ",
            b" 1",
        ] {
            assert_eq!(string2ll(bad), None, "{:?}", bad);
        }
    }
}
