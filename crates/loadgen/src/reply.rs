//! A small zero-copy RESP2 reply reader (`+ - : $ *`).
//!
//! [`parse`] looks at the start of a buffer and returns either one complete reply and the
//! number of bytes it took, `Ok(None)` when more bytes are needed, or a protocol error. Nothing
//! is allocated: strings borrow from the buffer and an [`Array`] keeps the slice of its
//! (already validated) elements and re-reads them lazily when iterated.

use std::fmt;

/// Deepest array nesting accepted (a guard against stack exhaustion on garbage input).
const MAX_DEPTH: usize = 32;
/// Largest bulk string accepted (Redis' own proto-max-bulk-len default).
const MAX_BULK: i64 = 512 * 1024 * 1024;
/// Longest header line (`+`, `-`, `:`, `$`, `*` line) accepted without its CRLF.
const MAX_LINE: usize = 64 * 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reply<'a> {
    Simple(&'a [u8]),
    Error(&'a [u8]),
    Integer(i64),
    Bulk(&'a [u8]),
    /// `$-1`
    Nil,
    /// `*-1`
    NilArray,
    Array(Array<'a>),
}

/// A complete array reply: `len` elements laid out back to back in `body`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Array<'a> {
    len: usize,
    body: &'a [u8],
}

impl<'a> Array<'a> {
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn iter(&self) -> ArrayIter<'a> {
        ArrayIter {
            rest: self.body,
            left: self.len,
        }
    }
}

pub struct ArrayIter<'a> {
    rest: &'a [u8],
    left: usize,
}

impl<'a> Iterator for ArrayIter<'a> {
    type Item = Reply<'a>;

    fn next(&mut self) -> Option<Reply<'a>> {
        if self.left == 0 {
            return None;
        }
        // The array was validated as complete when it was parsed, so each element is too.
        let (r, used) = parse_at(self.rest, 1).ok().flatten()?;
        self.rest = &self.rest[used..];
        self.left -= 1;
        Some(r)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.left, Some(self.left))
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProtocolError(pub String);

impl fmt::Display for ProtocolError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "RESP protocol error: {}", self.0)
    }
}

impl std::error::Error for ProtocolError {}

fn perr(msg: impl Into<String>) -> ProtocolError {
    ProtocolError(msg.into())
}

/// Parses one reply from the start of `buf`.
pub fn parse(buf: &[u8]) -> Result<Option<(Reply<'_>, usize)>, ProtocolError> {
    parse_at(buf, 0)
}

/// Finds the header line after the type byte: returns (line, offset just past its CRLF).
fn line(buf: &[u8]) -> Result<Option<(&[u8], usize)>, ProtocolError> {
    let body = &buf[1..];
    match body.iter().position(|&b| b == b'\r') {
        None if body.len() > MAX_LINE => Err(perr("header line too long")),
        None => Ok(None),
        Some(i) => match body.get(i + 1) {
            None => Ok(None),
            Some(b'\n') => Ok(Some((&body[..i], 1 + i + 2))),
            Some(_) => Err(perr("CR not followed by LF")),
        },
    }
}

/// A RESP integer (or length), with the server's own rules (`resp::string2ll`).
fn parse_int(s: &[u8]) -> Result<i64, ProtocolError> {
    resp::string2ll(s).ok_or_else(|| perr(format!("bad integer {:?}", String::from_utf8_lossy(s))))
}

fn parse_at(buf: &[u8], depth: usize) -> Result<Option<(Reply<'_>, usize)>, ProtocolError> {
    let Some(&kind) = buf.first() else {
        return Ok(None);
    };
    if !matches!(kind, b'+' | b'-' | b':' | b'$' | b'*') {
        return Err(perr(format!("unexpected reply type byte 0x{kind:02x}")));
    }
    let Some((ln, after)) = line(buf)? else {
        return Ok(None);
    };
    match kind {
        b'+' => Ok(Some((Reply::Simple(ln), after))),
        b'-' => Ok(Some((Reply::Error(ln), after))),
        b':' => Ok(Some((Reply::Integer(parse_int(ln)?), after))),
        b'$' => {
            let n = parse_int(ln)?;
            if n == -1 {
                return Ok(Some((Reply::Nil, after)));
            }
            if !(0..=MAX_BULK).contains(&n) {
                return Err(perr(format!("bad bulk length {n}")));
            }
            let end = after + n as usize;
            if buf.len() < end + 2 {
                return Ok(None);
            }
            if &buf[end..end + 2] != b"\r\n" {
                return Err(perr("bulk string not terminated by CRLF"));
            }
            Ok(Some((Reply::Bulk(&buf[after..end]), end + 2)))
        }
        _ => {
            let n = parse_int(ln)?;
            if n == -1 {
                return Ok(Some((Reply::NilArray, after)));
            }
            if n < 0 {
                return Err(perr(format!("bad array length {n}")));
            }
            if depth >= MAX_DEPTH {
                return Err(perr("arrays nested too deeply"));
            }
            let mut pos = after;
            for _ in 0..n {
                match parse_at(&buf[pos..], depth + 1)? {
                    None => return Ok(None),
                    Some((_, used)) => pos += used,
                }
            }
            let arr = Array {
                len: n as usize,
                body: &buf[after..pos],
            };
            Ok(Some((Reply::Array(arr), pos)))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(s: &[u8]) -> (Reply<'_>, usize) {
        parse(s).unwrap().unwrap()
    }

    #[test]
    fn scalars() {
        assert_eq!(one(b"+OK\r\n"), (Reply::Simple(b"OK"), 5));
        assert_eq!(
            one(b"-ERR wrong type\r\n"),
            (Reply::Error(b"ERR wrong type"), 17)
        );
        assert_eq!(one(b":42\r\n"), (Reply::Integer(42), 5));
        assert_eq!(one(b":-7\r\n"), (Reply::Integer(-7), 5));
        assert_eq!(one(b":9223372036854775807\r\n").0, Reply::Integer(i64::MAX));
        assert_eq!(one(b"$3\r\nfoo\r\n"), (Reply::Bulk(b"foo"), 9));
        assert_eq!(one(b"$0\r\n\r\n"), (Reply::Bulk(b""), 6));
        assert_eq!(one(b"$-1\r\n"), (Reply::Nil, 5));
        assert_eq!(one(b"*-1\r\n"), (Reply::NilArray, 5));
        // Bulk payloads may contain CR/LF.
        assert_eq!(one(b"$4\r\na\r\nb\r\n"), (Reply::Bulk(b"a\r\nb"), 10));
    }

    #[test]
    fn leaves_following_bytes() {
        let buf = b"+OK\r\n:1\r\n$-1";
        let (r, used) = one(buf);
        assert_eq!(r, Reply::Simple(b"OK"));
        let (r2, used2) = one(&buf[used..]);
        assert_eq!(r2, Reply::Integer(1));
        assert_eq!(parse(&buf[used + used2..]).unwrap(), None);
    }

    #[test]
    fn every_split_point_is_incomplete_then_complete() {
        let full: &[u8] =
            b"*3\r\n$3\r\nfoo\r\n*2\r\n:1\r\n$-1\r\n-ERR x\r\n+OK\r\n$5\r\nhello\r\n:12\r\n";
        // Parse the whole stream as it arrives one prefix at a time.
        let want = 4;
        for cut in 0..full.len() {
            let mut got = 0;
            let mut pos = 0;
            while let Some((_, used)) = parse(&full[pos..cut]).unwrap() {
                pos += used;
                got += 1;
            }
            assert!(got < want, "cut {cut}: {got} replies from a prefix");
        }
        let mut pos = 0;
        let mut replies = Vec::new();
        while let Some((r, used)) = parse(&full[pos..]).unwrap() {
            pos += used;
            replies.push(r);
        }
        assert_eq!(pos, full.len());
        assert_eq!(replies.len(), 4);
        assert_eq!(replies[1], Reply::Simple(b"OK"));
        assert_eq!(replies[2], Reply::Bulk(b"hello"));
        assert_eq!(replies[3], Reply::Integer(12));
    }

    #[test]
    fn nested_arrays() {
        let buf = b"*3\r\n$3\r\nfoo\r\n*2\r\n:1\r\n*1\r\n$-1\r\n-ERR x\r\n";
        let (r, used) = one(buf);
        assert_eq!(used, buf.len());
        let Reply::Array(a) = r else { panic!("{r:?}") };
        assert_eq!(a.len(), 3);
        let items: Vec<_> = a.iter().collect();
        assert_eq!(items[0], Reply::Bulk(b"foo"));
        let Reply::Array(inner) = items[1] else {
            panic!()
        };
        let inner: Vec<_> = inner.iter().collect();
        assert_eq!(inner[0], Reply::Integer(1));
        let Reply::Array(innermost) = inner[1] else {
            panic!()
        };
        assert_eq!(innermost.iter().collect::<Vec<_>>(), vec![Reply::Nil]);
        assert_eq!(items[2], Reply::Error(b"ERR x"));
        let Reply::Array(empty) = one(b"*0\r\n").0 else {
            panic!()
        };
        assert_eq!((empty.len(), empty.iter().count()), (0, 0));
    }

    #[test]
    fn errors() {
        assert!(parse(b"!oops\r\n").is_err());
        assert!(parse(b"%1\r\n").is_err()); // RESP3 map: we only speak RESP2
        assert!(parse(b":12a\r\n").is_err());
        assert!(parse(b":\r\n").is_err());
        assert!(parse(b":99999999999999999999\r\n").is_err());
        assert!(parse(b"$-2\r\n").is_err());
        assert!(parse(b"*-5\r\n").is_err());
        assert!(parse(b"$3\r\nfooXY").is_err());
        assert!(parse(b"+OK\rX").is_err());
        let deep = b"*1\r\n".repeat(MAX_DEPTH + 1);
        assert!(parse(&deep).is_err());
        let long = [b"+".as_slice(), &vec![b'a'; MAX_LINE + 2]].concat();
        assert!(parse(&long).is_err());
    }

    #[test]
    fn incomplete() {
        for s in [
            &b""[..],
            b"+",
            b"+OK",
            b"+OK\r",
            b"$3\r\nfo",
            b"$3\r\nfoo",
            b"$3\r\nfoo\r",
            b"*2\r\n:1\r\n",
            b"*2\r\n*1\r\n",
        ] {
            assert_eq!(parse(s).unwrap(), None, "{:?}", String::from_utf8_lossy(s));
        }
    }
}
