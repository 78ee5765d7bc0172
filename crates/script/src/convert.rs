//! Replies to Lua values and back, as Redis 7.0 converts them (script_lua.c): a command's
//! reply (RESP2 or RESP3, whichever the script asked for with `redis.setresp`) becomes what
//! `redis.call` returns, and what the script returns becomes the caller's reply.

use mlua::{Lua, Table, Value};
use resp::{Proto, Writer};

/// Deepest nesting converted either way; deeper levels are Redis' "reached lua stack limit".
const MAX_DEPTH: usize = 1000;

/// A `{err = ...}` table as `luaPushErrorBuff` makes it from an error reply or message:
/// "-CODE msg" keeps its code, a message without one gets "ERR"; trailing CR/LF trimmed.
pub fn error_table(lua: &Lua, msg: &[u8]) -> mlua::Result<Table> {
    let full = error_text(msg);
    let t = lua.create_table()?;
    t.raw_set("err", lua.create_string(&full)?)?;
    Ok(t)
}

/// The `err` string `luaPushErrorBuff` builds from `msg` (see `error_table`).
pub fn error_text(msg: &[u8]) -> Vec<u8> {
    let (code, rest): (&[u8], &[u8]) = match msg.strip_prefix(b"-") {
        Some(body) => match body.iter().position(|&b| b == b' ') {
            Some(sp) => (&body[..sp], &body[sp + 1..]),
            None => (b"ERR", body),
        },
        None => (b"ERR", msg),
    };
    fn trim(mut s: &[u8]) -> &[u8] {
        while let [first, tail @ ..] = s {
            if *first == b'\r' || *first == b'\n' {
                s = tail;
            } else {
                break;
            }
        }
        while let [head @ .., last] = s {
            if *last == b'\r' || *last == b'\n' {
                s = head;
            } else {
                break;
            }
        }
        s
    }
    let mut full = code.to_vec();
    full.push(b' ');
    full.extend_from_slice(trim(rest));
    full
}

/// Parses one RESP reply from `buf` into the Lua value Redis gives scripts for it. Error
/// replies become `{err = ...}` tables (the caller decides whether to raise them).
pub fn reply_to_lua(lua: &Lua, buf: &[u8]) -> mlua::Result<Value> {
    let mut p = Parser { buf, at: 0 };
    p.value(lua, 0)
}

struct Parser<'a> {
    buf: &'a [u8],
    at: usize,
}

impl Parser<'_> {
    fn line(&mut self) -> mlua::Result<&[u8]> {
        let rest = &self.buf[self.at..];
        let end = rest
            .windows(2)
            .position(|w| w == b"\r\n")
            .ok_or_else(|| mlua::Error::runtime("truncated reply"))?;
        self.at += end + 2;
        Ok(&rest[..end])
    }

    fn int(line: &[u8]) -> mlua::Result<i64> {
        std::str::from_utf8(line)
            .ok()
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| mlua::Error::runtime("bad integer in reply"))
    }

    fn bulk(&mut self, len: i64) -> mlua::Result<&[u8]> {
        let len = len as usize;
        let start = self.at;
        let end = start + len;
        if end + 2 > self.buf.len() {
            return Err(mlua::Error::runtime("truncated reply"));
        }
        self.at = end + 2;
        Ok(&self.buf[start..end])
    }

    fn value(&mut self, lua: &Lua, depth: usize) -> mlua::Result<Value> {
        if depth > MAX_DEPTH {
            return Err(mlua::Error::runtime("reply nested too deep"));
        }
        let Some(&kind) = self.buf.get(self.at) else {
            return Err(mlua::Error::runtime("empty reply"));
        };
        self.at += 1;
        let line = self.line()?;
        Ok(match kind {
            b'+' => {
                let t = lua.create_table()?;
                t.raw_set("ok", lua.create_string(line)?)?;
                Value::Table(t)
            }
            b'-' => {
                let mut msg = Vec::with_capacity(line.len() + 1);
                msg.push(b'-');
                msg.extend_from_slice(line);
                let t = error_table(lua, &msg)?;
                t.raw_set("ignore_error_stats_update", true)?;
                Value::Table(t)
            }
            b':' => Value::Number(Self::int(line)? as f64),
            b'$' => {
                let n = Self::int(line)?;
                if n < 0 {
                    Value::Boolean(false)
                } else {
                    Value::String(lua.create_string(self.bulk(n)?)?)
                }
            }
            b'*' => {
                let n = Self::int(line)?;
                if n < 0 {
                    return Ok(Value::Boolean(false));
                }
                let t = lua.create_table_with_capacity(n as usize, 0)?;
                for i in 1..=n {
                    let v = self.value(lua, depth + 1)?;
                    t.raw_set(i, v)?;
                }
                Value::Table(t)
            }
            b'%' => {
                let n = Self::int(line)?;
                let inner = lua.create_table()?;
                for _ in 0..n {
                    let k = self.value(lua, depth + 1)?;
                    let v = self.value(lua, depth + 1)?;
                    if !k.is_nil() {
                        inner.raw_set(k, v)?;
                    }
                }
                let t = lua.create_table()?;
                t.raw_set("map", inner)?;
                Value::Table(t)
            }
            b'~' => {
                let n = Self::int(line)?;
                let inner = lua.create_table()?;
                for _ in 0..n {
                    let k = self.value(lua, depth + 1)?;
                    if !k.is_nil() {
                        inner.raw_set(k, true)?;
                    }
                }
                let t = lua.create_table()?;
                t.raw_set("set", inner)?;
                Value::Table(t)
            }
            b'_' => Value::Nil,
            b'#' => Value::Boolean(line == b"t"),
            b',' => {
                let d = parse_double(line);
                let t = lua.create_table()?;
                t.raw_set("double", d)?;
                Value::Table(t)
            }
            b'(' => {
                let t = lua.create_table()?;
                t.raw_set("big_number", lua.create_string(line)?)?;
                Value::Table(t)
            }
            b'=' => {
                let n = Self::int(line)?;
                let body = self.bulk(n)?;
                let (format, text) = if body.len() >= 4 && body[3] == b':' {
                    (&body[..3], &body[4..])
                } else {
                    (&b"txt"[..], body)
                };
                let inner = lua.create_table()?;
                inner.raw_set("string", lua.create_string(text)?)?;
                inner.raw_set("format", lua.create_string(format)?)?;
                let t = lua.create_table()?;
                t.raw_set("verbatim_string", inner)?;
                Value::Table(t)
            }
            b'|' => {
                // Attributes are not shown to scripts: skip them, then the reply itself.
                let n = Self::int(line)?;
                for _ in 0..n * 2 {
                    self.value(lua, depth + 1)?;
                }
                return self.value(lua, depth);
            }
            _ => return Err(mlua::Error::runtime("unknown reply type")),
        })
    }
}

fn parse_double(s: &[u8]) -> f64 {
    match s {
        b"inf" => f64::INFINITY,
        b"-inf" => f64::NEG_INFINITY,
        b"nan" | b"-nan" => f64::NAN,
        _ => std::str::from_utf8(s)
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(0.0),
    }
}

/// Lua number to an integer reply as C's `(long long)` cast does it on x86-64.
pub fn lua_number_to_i64(v: f64) -> i64 {
    crate::libs::double_to_i64(v)
}

/// A reply error text as Redis writes it: trailing CR/LF trimmed, the others become spaces
/// (`Writer::error` maps them).
pub fn write_error(w: &mut Writer, msg: &[u8]) {
    let mut end = msg.len();
    while end > 0 && (msg[end - 1] == b'\r' || msg[end - 1] == b'\n') {
        end -= 1;
    }
    w.error(&String::from_utf8_lossy(&msg[..end]));
}

/// Writes `v`, what a script returned, as the caller's reply (luaReplyToRedisReply).
/// `script_resp3`: the script switched to RESP3 (`redis.setresp(3)`), which changes how
/// booleans are answered.
pub fn write_lua(w: &mut Writer, v: &Value, script_resp3: bool, depth: usize) {
    if depth > MAX_DEPTH {
        w.error("reached lua stack limit");
        return;
    }
    match v {
        Value::String(s) => w.bulk(&s.as_bytes()),
        Value::Boolean(b) => {
            if script_resp3 {
                w.boolean(*b);
            } else if *b {
                w.integer(1);
            } else {
                w.null();
            }
        }
        Value::Number(n) => w.integer(lua_number_to_i64(*n)),
        Value::Integer(n) => w.integer(*n),
        Value::Table(t) => write_table(w, t, script_resp3, depth),
        _ => w.null(),
    }
}

fn write_table(w: &mut Writer, t: &Table, script_resp3: bool, depth: usize) {
    if let Ok(Value::String(e)) = t.raw_get::<Value>("err") {
        write_error(w, &e.as_bytes());
        return;
    }
    if let Ok(Value::String(s)) = t.raw_get::<Value>("ok") {
        let s: Vec<u8> = s
            .as_bytes()
            .iter()
            .map(|&b| if b == b'\r' || b == b'\n' { b' ' } else { b })
            .collect();
        w.simple(&s);
        return;
    }
    match t.raw_get::<Value>("double") {
        Ok(Value::Number(d)) => return w.double(d),
        Ok(Value::Integer(d)) => return w.double(d as f64),
        _ => {}
    }
    if let Ok(Value::String(s)) = t.raw_get::<Value>("big_number") {
        let s: Vec<u8> = s
            .as_bytes()
            .iter()
            .map(|&b| if b == b'\r' || b == b'\n' { b' ' } else { b })
            .collect();
        match w.proto {
            Proto::Resp3 => {
                w.buf.push(b'(');
                w.buf.extend_from_slice(&s);
                w.buf.extend_from_slice(b"\r\n");
            }
            Proto::Resp2 => w.bulk(&s),
        }
        return;
    }
    if let Ok(Value::Table(vt)) = t.raw_get::<Value>("verbatim_string") {
        if let (Ok(Value::String(f)), Ok(Value::String(s))) =
            (vt.raw_get::<Value>("format"), vt.raw_get::<Value>("string"))
        {
            let (f, s) = (f.as_bytes(), s.as_bytes());
            match w.proto {
                Proto::Resp3 => {
                    let mut fmt = [b' '; 3];
                    for (d, b) in fmt.iter_mut().zip(f.iter()) {
                        *d = *b;
                    }
                    w.buf.push(b'=');
                    w.buf
                        .extend_from_slice((s.len() + 4).to_string().as_bytes());
                    w.buf.extend_from_slice(b"\r\n");
                    w.buf.extend_from_slice(&fmt);
                    w.buf.push(b':');
                    w.buf.extend_from_slice(&s);
                    w.buf.extend_from_slice(b"\r\n");
                }
                Proto::Resp2 => w.bulk(&s),
            }
            return;
        }
    }
    if let Ok(Value::Table(m)) = t.raw_get::<Value>("map") {
        let pairs: Vec<(Value, Value)> = m.pairs::<Value, Value>().filter_map(|p| p.ok()).collect();
        w.map(pairs.len());
        for (k, v) in &pairs {
            write_lua(w, k, script_resp3, depth + 1);
            write_lua(w, v, script_resp3, depth + 1);
        }
        return;
    }
    if let Ok(Value::Table(s)) = t.raw_get::<Value>("set") {
        let keys: Vec<Value> = s
            .pairs::<Value, Value>()
            .filter_map(|p| p.ok().map(|(k, _)| k))
            .collect();
        w.set(keys.len());
        for k in &keys {
            write_lua(w, k, script_resp3, depth + 1);
        }
        return;
    }
    let mut items = Vec::new();
    let mut j = 1;
    loop {
        match t.raw_get::<Value>(j) {
            Ok(Value::Nil) | Err(_) => break,
            Ok(v) => items.push(v),
        }
        j += 1;
    }
    w.array(items.len());
    for v in &items {
        write_lua(w, v, script_resp3, depth + 1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_texts_keep_their_code() {
        assert_eq!(error_text(b"-WRONGTYPE Operation"), b"WRONGTYPE Operation");
        assert_eq!(error_text(b"-NOCODE"), b"ERR NOCODE");
        assert_eq!(error_text(b"plain message\r\n"), b"ERR plain message");
    }

    #[test]
    fn numbers_cast_as_c_does() {
        assert_eq!(lua_number_to_i64(3.99), 3);
        assert_eq!(lua_number_to_i64(-3.99), -3);
        assert_eq!(lua_number_to_i64(f64::NAN), i64::MIN);
        assert_eq!(lua_number_to_i64(1e300), i64::MIN);
    }

    #[test]
    fn replies_round_trip() {
        let lua = Lua::new();
        let v = reply_to_lua(&lua, b"*3\r\n:1\r\n$-1\r\n*1\r\n$1\r\na\r\n").unwrap();
        let mut out = Vec::new();
        write_lua(&mut Writer::new(&mut out, Proto::Resp2), &v, false, 0);
        // The nil bulk became false, which ends the array answer as a nil... no: false is
        // kept in the table and answered as a nil bulk.
        assert_eq!(out, b"*3\r\n:1\r\n$-1\r\n*1\r\n$1\r\na\r\n");
    }
}
