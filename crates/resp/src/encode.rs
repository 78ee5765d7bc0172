//! Reply encoding straight into the connection's output buffer.

use crate::float::{format_g17, G17};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Proto {
    #[default]
    Resp2,
    Resp3,
}

/// Decimal digits of an integer, kept on the stack so replies never allocate for them.
pub(crate) struct Itoa {
    // i64::MIN is 20 characters with its sign; u64::MAX is 20 digits.
    buf: [u8; 20],
    start: usize,
}

impl Itoa {
    #[inline]
    pub(crate) fn u64(mut v: u64) -> Self {
        let mut buf = [0u8; 20];
        let mut i = buf.len();
        loop {
            i -= 1;
            buf[i] = b'0' + (v % 10) as u8;
            v /= 10;
            if v == 0 {
                break;
            }
        }
        Itoa { buf, start: i }
    }

    #[inline]
    fn i64(v: i64) -> Self {
        // unsigned_abs keeps i64::MIN representable.
        let mut it = Self::u64(v.unsigned_abs());
        if v < 0 {
            it.start -= 1;
            it.buf[it.start] = b'-';
        }
        it
    }

    #[inline]
    pub(crate) fn as_bytes(&self) -> &[u8] {
        &self.buf[self.start..]
    }
}

/// Writes replies straight into an output buffer; the protocol decides the
/// null/map/double/bool/set/push shapes.
pub struct Writer<'a> {
    pub buf: &'a mut Vec<u8>,
    pub proto: Proto,
}

impl<'a> Writer<'a> {
    pub fn new(buf: &'a mut Vec<u8>, proto: Proto) -> Self {
        Writer { buf, proto }
    }

    #[inline]
    fn header(&mut self, prefix: u8, n: u64) {
        self.buf.push(prefix);
        self.buf.extend_from_slice(Itoa::u64(n).as_bytes());
        self.buf.extend_from_slice(b"\r\n");
    }

    /// `+s\r\n`; the caller guarantees `s` has no CR/LF.
    pub fn simple(&mut self, s: &[u8]) {
        self.buf.push(b'+');
        self.buf.extend_from_slice(s);
        self.buf.extend_from_slice(b"\r\n");
    }

    pub fn ok(&mut self) {
        self.buf.extend_from_slice(b"+OK\r\n");
    }

    /// `-msg\r\n`, where `msg` carries its code ("ERR ...", "WRONGTYPE ...").
    /// CR/LF would end the error line early and desync the client, so, like Redis, they
    /// become spaces.
    pub fn error(&mut self, msg: &str) {
        self.buf.push(b'-');
        let start = self.buf.len();
        self.buf.extend_from_slice(msg.as_bytes());
        for b in &mut self.buf[start..] {
            if *b == b'\r' || *b == b'\n' {
                *b = b' ';
            }
        }
        self.buf.extend_from_slice(b"\r\n");
    }

    pub fn integer(&mut self, v: i64) {
        self.buf.push(b':');
        self.buf.extend_from_slice(Itoa::i64(v).as_bytes());
        self.buf.extend_from_slice(b"\r\n");
    }

    pub fn bulk(&mut self, b: &[u8]) {
        // One allocation for a big value: growing for the value and again for its CRLF
        // would copy it twice.
        self.buf.reserve(b.len() + 24);
        self.header(b'$', b.len() as u64);
        self.buf.extend_from_slice(b);
        self.buf.extend_from_slice(b"\r\n");
    }

    pub fn bulk_int(&mut self, v: i64) {
        let it = Itoa::i64(v);
        self.bulk(it.as_bytes());
    }

    pub fn null(&mut self) {
        self.buf.extend_from_slice(match self.proto {
            Proto::Resp2 => b"$-1\r\n",
            Proto::Resp3 => b"_\r\n",
        });
    }

    pub fn null_array(&mut self) {
        self.buf.extend_from_slice(match self.proto {
            Proto::Resp2 => b"*-1\r\n",
            Proto::Resp3 => b"_\r\n",
        });
    }

    pub fn array(&mut self, len: usize) {
        self.header(b'*', len as u64);
    }

    /// RESP2 has no map type: a flat array of key, value, key, value...
    pub fn map(&mut self, pairs: usize) {
        match self.proto {
            Proto::Resp2 => self.header(b'*', (pairs as u64).saturating_mul(2)),
            Proto::Resp3 => self.header(b'%', pairs as u64),
        }
    }

    pub fn set(&mut self, len: usize) {
        let prefix = match self.proto {
            Proto::Resp2 => b'*',
            Proto::Resp3 => b'~',
        };
        self.header(prefix, len as u64);
    }

    pub fn push(&mut self, len: usize) {
        let prefix = match self.proto {
            Proto::Resp2 => b'*',
            Proto::Resp3 => b'>',
        };
        self.header(prefix, len as u64);
    }

    pub fn boolean(&mut self, b: bool) {
        self.buf.extend_from_slice(match (self.proto, b) {
            (Proto::Resp2, true) => b":1\r\n",
            (Proto::Resp2, false) => b":0\r\n",
            (Proto::Resp3, true) => b"#t\r\n",
            (Proto::Resp3, false) => b"#f\r\n",
        });
    }

    /// As Redis 7.0 addReplyDouble: "inf"/"-inf" spelled out (libc spellings vary),
    /// otherwise `%.17g`; NaN is written "nan".
    pub fn double(&mut self, v: f64) {
        match self.proto {
            Proto::Resp3 => {
                self.buf.push(b',');
                format_g17(v, self.buf);
                self.buf.extend_from_slice(b"\r\n");
            }
            Proto::Resp2 => {
                // The length prefix comes first, so format on the stack, not in a String.
                self.bulk(G17::new(v).as_bytes());
            }
        }
    }

    /// A double already formatted (Redis' addReplyHumanLongDouble): a RESP3 double, or a
    /// bulk string in RESP2.
    pub fn double_text(&mut self, text: &[u8]) {
        match self.proto {
            Proto::Resp3 => {
                self.buf.push(b',');
                self.buf.extend_from_slice(text);
                self.buf.extend_from_slice(b"\r\n");
            }
            Proto::Resp2 => self.bulk(text),
        }
    }

    pub fn verbatim(&mut self, text: &[u8]) {
        match self.proto {
            Proto::Resp3 => {
                self.header(b'=', text.len() as u64 + 4);
                self.buf.extend_from_slice(b"txt:");
                self.buf.extend_from_slice(text);
                self.buf.extend_from_slice(b"\r\n");
            }
            Proto::Resp2 => self.bulk(text),
        }
    }
}

/// Encodes `args` as a multibulk command (`*n` then one `$len` bulk per argument).
pub fn write_command(buf: &mut Vec<u8>, args: &[&[u8]]) {
    let mut w = Writer::new(buf, Proto::Resp2);
    w.array(args.len());
    for a in args {
        w.bulk(a);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn both(f: impl Fn(&mut Writer)) -> (String, String) {
        let mut a = Vec::new();
        f(&mut Writer::new(&mut a, Proto::Resp2));
        let mut b = Vec::new();
        f(&mut Writer::new(&mut b, Proto::Resp3));
        (String::from_utf8(a).unwrap(), String::from_utf8(b).unwrap())
    }

    fn same(f: impl Fn(&mut Writer), want: &str) {
        assert_eq!(both(f), (want.to_string(), want.to_string()));
    }

    #[test]
    fn scalars() {
        same(|w| w.simple(b"PONG"), "+PONG\r\n");
        same(|w| w.ok(), "+OK\r\n");
        same(|w| w.error("ERR syntax error"), "-ERR syntax error\r\n");
        same(|w| w.error("ERR a\r\nb\nc"), "-ERR a  b c\r\n");
        same(|w| w.integer(0), ":0\r\n");
        same(|w| w.integer(-42), ":-42\r\n");
        same(|w| w.integer(i64::MAX), ":9223372036854775807\r\n");
        same(|w| w.integer(i64::MIN), ":-9223372036854775808\r\n");
        same(|w| w.bulk(b""), "$0\r\n\r\n");
        same(|w| w.bulk(b"a\r\nb"), "$4\r\na\r\nb\r\n");
        same(|w| w.bulk_int(-123), "$4\r\n-123\r\n");
        same(|w| w.bulk_int(i64::MIN), "$20\r\n-9223372036854775808\r\n");
        same(|w| w.array(3), "*3\r\n");
    }

    #[test]
    fn protocol_dependent_shapes() {
        let s = |a: &str, b: &str| (a.to_string(), b.to_string());
        assert_eq!(both(|w| w.null()), s("$-1\r\n", "_\r\n"));
        assert_eq!(both(|w| w.null_array()), s("*-1\r\n", "_\r\n"));
        assert_eq!(both(|w| w.map(2)), s("*4\r\n", "%2\r\n"));
        assert_eq!(both(|w| w.set(5)), s("*5\r\n", "~5\r\n"));
        assert_eq!(both(|w| w.push(3)), s("*3\r\n", ">3\r\n"));
        assert_eq!(both(|w| w.boolean(true)), s(":1\r\n", "#t\r\n"));
        assert_eq!(both(|w| w.boolean(false)), s(":0\r\n", "#f\r\n"));
        assert_eq!(both(|w| w.double(1.5)), s("$3\r\n1.5\r\n", ",1.5\r\n"));
        assert_eq!(
            both(|w| w.double(0.1)),
            s("$19\r\n0.10000000000000001\r\n", ",0.10000000000000001\r\n")
        );
        assert_eq!(
            both(|w| w.double(f64::INFINITY)),
            s("$3\r\ninf\r\n", ",inf\r\n")
        );
        assert_eq!(
            both(|w| w.double(f64::NEG_INFINITY)),
            s("$4\r\n-inf\r\n", ",-inf\r\n")
        );
        assert_eq!(both(|w| w.double(f64::NAN)), s("$3\r\nnan\r\n", ",nan\r\n"));
        assert_eq!(
            both(|w| w.verbatim(b"hello")),
            s("$5\r\nhello\r\n", "=9\r\ntxt:hello\r\n")
        );
    }

    #[test]
    fn appends_to_existing_output() {
        let mut out = b"+OK\r\n".to_vec();
        let mut w = Writer::new(&mut out, Proto::Resp2);
        w.double(-2.5);
        w.integer(7);
        assert_eq!(out, b"+OK\r\n$4\r\n-2.5\r\n:7\r\n");
    }

    #[test]
    fn command_encoding() {
        let mut buf = Vec::new();
        write_command(&mut buf, &[b"SET", b"k", b""]);
        assert_eq!(buf, b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$0\r\n\r\n");
        buf.clear();
        write_command(&mut buf, &[]);
        assert_eq!(buf, b"*0\r\n");
    }
}
