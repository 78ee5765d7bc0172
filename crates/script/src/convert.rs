//! Replies to Lua values and back, as Redis 7.0 converts them (script_lua.c): a command's
//! reply (RESP2 or RESP3, whichever the script asked for with `redis.setresp`) becomes what
//! `redis.call` returns, and what the script returns becomes the caller's reply.

use mlua::{ffi, Lua, Table, Value};
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

/// Pushes one RESP reply from `buf` onto `l`'s stack as the Lua value Redis gives scripts
/// for it (script_lua.c's redisProtocolToLuaType): error replies become `{err = ...}`
/// tables (the caller decides whether to raise them). Err: a malformed reply (nothing is
/// left pushed).
///
/// # Safety
/// `l` is a Lua state running a C function; the pushes may raise a Lua memory error, so the
/// caller holds nothing that must be dropped.
pub unsafe fn push_reply(l: *mut ffi::lua_State, buf: &[u8]) -> Result<(), &'static str> {
    let top = ffi::lua_gettop(l);
    let mut p = Parser { buf, at: 0 };
    let pushed = p.push(l, 0);
    if pushed.is_err() {
        ffi::lua_settop(l, top);
    }
    pushed
}

struct Parser<'a> {
    buf: &'a [u8],
    at: usize,
}

/// Sets field `name` of the table below the top to the value on top (popped).
unsafe fn set_field(l: *mut ffi::lua_State, name: &std::ffi::CStr) {
    ffi::lua_setfield(l, -2, name.as_ptr());
}

unsafe fn push_bytes(l: *mut ffi::lua_State, b: &[u8]) {
    ffi::lua_pushlstring(l, b.as_ptr().cast(), b.len());
}

impl Parser<'_> {
    fn line(&mut self) -> Result<&[u8], &'static str> {
        let rest = &self.buf[self.at..];
        let end = rest
            .windows(2)
            .position(|w| w == b"\r\n")
            .ok_or("truncated reply")?;
        self.at += end + 2;
        Ok(&rest[..end])
    }

    fn int(line: &[u8]) -> Result<i64, &'static str> {
        std::str::from_utf8(line)
            .ok()
            .and_then(|s| s.parse().ok())
            .ok_or("bad integer in reply")
    }

    fn bulk(&mut self, len: i64) -> Result<&[u8], &'static str> {
        let start = self.at;
        let end = start + len as usize;
        if end + 2 > self.buf.len() {
            return Err("truncated reply");
        }
        self.at = end + 2;
        Ok(&self.buf[start..end])
    }

    /// Pushes the next value (one more on the stack).
    unsafe fn push(&mut self, l: *mut ffi::lua_State, depth: usize) -> Result<(), &'static str> {
        if depth > MAX_DEPTH {
            return Err("reply nested too deep");
        }
        let Some(&kind) = self.buf.get(self.at) else {
            return Err("empty reply");
        };
        self.at += 1;
        let line = self.line()?;
        ffi::luaL_checkstack(l, 4, std::ptr::null());
        match kind {
            b'+' => {
                ffi::lua_createtable(l, 0, 1);
                push_bytes(l, line);
                set_field(l, c"ok");
            }
            b'-' => {
                let mut msg = Vec::with_capacity(line.len() + 1);
                msg.push(b'-');
                msg.extend_from_slice(line);
                let full = error_text(&msg);
                ffi::lua_createtable(l, 0, 2);
                push_bytes(l, &full);
                set_field(l, c"err");
                ffi::lua_pushboolean(l, 1);
                set_field(l, c"ignore_error_stats_update");
            }
            b':' => ffi::lua_pushnumber(l, Self::int(line)? as f64),
            b'$' => match Self::int(line)? {
                n if n < 0 => ffi::lua_pushboolean(l, 0),
                n => push_bytes(l, self.bulk(n)?),
            },
            b'*' => {
                let n = Self::int(line)?;
                if n < 0 {
                    ffi::lua_pushboolean(l, 0);
                    return Ok(());
                }
                ffi::lua_createtable(l, n.min(1 << 20) as i32, 0);
                for i in 1..=n {
                    self.push(l, depth + 1)?;
                    ffi::lua_rawseti(l, -2, i as _);
                }
            }
            b'%' | b'~' => {
                let n = Self::int(line)?;
                ffi::lua_createtable(l, 0, 1);
                ffi::lua_createtable(l, 0, 0);
                for _ in 0..n {
                    self.push(l, depth + 1)?;
                    if kind == b'%' {
                        self.push(l, depth + 1)?;
                    } else {
                        ffi::lua_pushboolean(l, 1);
                    }
                    // A nil key (a RESP3 null) is not stored.
                    if ffi::lua_type(l, -2) == ffi::LUA_TNIL {
                        ffi::lua_settop(l, -3);
                    } else {
                        ffi::lua_rawset(l, -3);
                    }
                }
                set_field(l, if kind == b'%' { c"map" } else { c"set" });
            }
            b'_' => ffi::lua_pushnil(l),
            b'#' => ffi::lua_pushboolean(l, (line == b"t") as i32),
            b',' => {
                ffi::lua_createtable(l, 0, 1);
                ffi::lua_pushnumber(l, parse_double(line));
                set_field(l, c"double");
            }
            b'(' => {
                ffi::lua_createtable(l, 0, 1);
                push_bytes(l, line);
                set_field(l, c"big_number");
            }
            b'=' => {
                let n = Self::int(line)?;
                let body = self.bulk(n)?;
                let (format, text) = if body.len() >= 4 && body[3] == b':' {
                    (&body[..3], &body[4..])
                } else {
                    (&b"txt"[..], body)
                };
                ffi::lua_createtable(l, 0, 1);
                ffi::lua_createtable(l, 0, 2);
                push_bytes(l, text);
                set_field(l, c"string");
                push_bytes(l, format);
                set_field(l, c"format");
                set_field(l, c"verbatim_string");
            }
            b'|' => {
                // Attributes are not shown to scripts: skip them, then the reply itself.
                let n = Self::int(line)?;
                for _ in 0..n * 2 {
                    self.push(l, depth + 1)?;
                    ffi::lua_settop(l, -2);
                }
                return self.push(l, depth);
            }
            _ => return Err("unknown reply type"),
        }
        Ok(())
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

    fn pushed(lua: &Lua, reply: &[u8]) -> Value {
        // SAFETY: pushes one value (the test's replies are well-formed).
        unsafe {
            lua.exec_raw((), |l| {
                push_reply(l, reply).unwrap();
            })
        }
        .unwrap()
    }

    fn answered(v: &Value, proto: Proto) -> Vec<u8> {
        let mut out = Vec::new();
        write_lua(
            &mut Writer::new(&mut out, proto),
            v,
            proto == Proto::Resp3,
            0,
        );
        out
    }

    #[test]
    fn replies_round_trip() {
        let lua = Lua::new();
        // The nil bulk became false, kept in the table and answered as a nil bulk.
        let resp2 = b"*3\r\n:1\r\n$-1\r\n*1\r\n$1\r\na\r\n";
        assert_eq!(answered(&pushed(&lua, resp2), Proto::Resp2), resp2);
        let v = pushed(&lua, b"-WRONGTYPE bad\r\n");
        assert_eq!(answered(&v, Proto::Resp2), b"-WRONGTYPE bad\r\n");
        let Value::Table(t) = &v else { panic!("{v:?}") };
        assert!(t.raw_get::<bool>("ignore_error_stats_update").unwrap());
        // RESP3: a map (its null key dropped), a set, a double, a verbatim string, an
        // attribute skipped.
        let v = pushed(&lua, b"%2\r\n+k\r\n,1.5\r\n_\r\n:1\r\n");
        assert_eq!(answered(&v, Proto::Resp3), b"%1\r\n+k\r\n,1.5\r\n");
        let v = pushed(&lua, b"~2\r\n$1\r\na\r\n$1\r\na\r\n");
        assert_eq!(answered(&v, Proto::Resp3), b"~1\r\n$1\r\na\r\n");
        let v = pushed(&lua, b"|1\r\n+a\r\n+b\r\n=7\r\ntxt:abc\r\n");
        let Value::Table(t) = &v else { panic!("{v:?}") };
        let inner: mlua::Table = t.raw_get("verbatim_string").unwrap();
        assert_eq!(inner.raw_get::<String>("string").unwrap(), "abc");
        assert_eq!(inner.raw_get::<String>("format").unwrap(), "txt");
    }
}
