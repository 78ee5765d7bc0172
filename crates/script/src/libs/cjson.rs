//! `cjson`: lua-cjson 2.1.0 as Redis 7.0 patches it, JSON encoding and decoding.
//!
//! Every table of functions (the one `open` returns, and each one `cjson.new()` returns) has
//! its own configuration, shared by its functions.

use std::sync::{Arc, Mutex};

use mlua::{Function, LightUserData, Lua, MultiValue, Table, Value};

use super::{c_function, check_integer, check_string, LibResult, Raise};

/// `LUAI_MAXCSTACK`: lua-cjson checks the Lua stack with `lua_checkstack`, which fails when a
/// C function would use more slots than this. Deep nesting hits it before a raised maximum
/// depth, so the same limit is applied to the slots the C code would use.
const MAX_C_STACK: usize = 8000;

#[derive(Clone, Copy)]
struct Config {
    sparse_convert: bool,
    sparse_ratio: i32,
    sparse_safe: i32,
    encode_max_depth: i32,
    decode_max_depth: i32,
    /// 0: error, 1: encode as `nan`/`inf`, 2: encode as `null`.
    encode_invalid_numbers: i32,
    decode_invalid_numbers: bool,
    encode_keep_buffer: bool,
    encode_number_precision: i32,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            sparse_convert: false,
            sparse_ratio: 2,
            sparse_safe: 10,
            encode_max_depth: 1000,
            decode_max_depth: 1000,
            encode_invalid_numbers: 0,
            decode_invalid_numbers: true,
            encode_keep_buffer: true,
            encode_number_precision: 14,
        }
    }
}

type Shared = Arc<Mutex<Config>>;

fn config(shared: &Shared) -> Config {
    *shared.lock().unwrap_or_else(|e| e.into_inner())
}

fn update(shared: &Shared, f: impl FnOnce(&mut Config)) {
    f(&mut shared.lock().unwrap_or_else(|e| e.into_inner()))
}

fn one(v: Value) -> LibResult<MultiValue> {
    Ok(MultiValue::from_iter([v]))
}

fn null() -> Value {
    Value::LightUserData(LightUserData(std::ptr::null_mut()))
}

// ===== Configuration =====

/// `json_arg_init`: at most `max` arguments; missing ones read as nil.
fn config_args(args: MultiValue, max: usize) -> LibResult<Vec<Value>> {
    let mut args: Vec<Value> = args.into_iter().collect();
    if args.len() > max {
        return Err(Raise::arg(max + 1, "found too many arguments"));
    }
    args.resize(max, Value::Nil);
    Ok(args)
}

/// `json_integer_option`: sets `setting` from argument `n` unless nil; range errors are
/// reported against argument 1, as lua-cjson does.
fn integer_option(
    lua: &Lua,
    args: &[Value],
    n: usize,
    setting: &mut i32,
    min: i32,
    max: i32,
) -> LibResult<Value> {
    if !args[n - 1].is_nil() {
        let value = check_integer(lua, args, n)? as i32;
        if value < min || value > max {
            return Err(Raise::arg(
                1,
                format!("expected integer between {min} and {max}"),
            ));
        }
        *setting = value;
    }
    Ok(Value::Integer((*setting).into()))
}

/// `luaL_checkoption` without a default.
fn check_option(lua: &Lua, args: &[Value], n: usize, options: &[&str]) -> LibResult<i32> {
    let name = check_string(lua, args, n)?;
    let name = name.as_bytes();
    match options.iter().position(|o| o.as_bytes() == &name[..]) {
        Some(i) => Ok(i as i32),
        None => {
            let mut msg = b"invalid option '".to_vec();
            // luaL_argerror formats with "%s": the name stops at a NUL byte.
            msg.extend(name.iter().take_while(|&&b| b != 0));
            msg.push(b'\'');
            Err(Raise::arg(n, msg))
        }
    }
}

/// `json_enum_option` with `bool_true` 1: a boolean or one of `options` (by default
/// off/on); returns a boolean for off/on, the option's name otherwise.
fn enum_option(
    lua: &Lua,
    args: &[Value],
    n: usize,
    setting: &mut i32,
    options: &[&str],
) -> LibResult<Value> {
    match &args[n - 1] {
        Value::Nil => {}
        Value::Boolean(b) => *setting = *b as i32,
        _ => *setting = check_option(lua, args, n, options)?,
    }
    Ok(match *setting {
        0 | 1 => Value::Boolean(*setting == 1),
        s => Value::String(lua.create_string(options[s as usize])?),
    })
}

const ON_OFF: &[&str] = &["off", "on"];

fn bool_option(lua: &Lua, args: &[Value], n: usize, setting: &mut bool) -> LibResult<Value> {
    let mut s = *setting as i32;
    let r = enum_option(lua, args, n, &mut s, ON_OFF)?;
    *setting = s != 0;
    Ok(r)
}

// ===== Encoding =====

/// Appends `s` as a JSON string, escaping as lua-cjson does: control characters, `"`, `\\`,
/// `/` and DEL; other bytes (UTF-8 or not) go through untouched.
fn append_string(out: &mut Vec<u8>, s: &[u8]) {
    out.reserve(s.len() + 2);
    out.push(b'"');
    for &b in s {
        match b {
            b'"' => out.extend_from_slice(b"\\\""),
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'/' => out.extend_from_slice(b"\\/"),
            0x08 => out.extend_from_slice(b"\\b"),
            b'\t' => out.extend_from_slice(b"\\t"),
            b'\n' => out.extend_from_slice(b"\\n"),
            0x0c => out.extend_from_slice(b"\\f"),
            b'\r' => out.extend_from_slice(b"\\r"),
            0..=0x1f | 0x7f => out.extend_from_slice(format!("\\u{b:04x}").as_bytes()),
            _ => out.push(b),
        }
    }
    out.push(b'"');
}

/// `%.<precision>g`, as C's printf writes it.
pub(crate) fn format_g(num: f64, precision: i32) -> Vec<u8> {
    let mut buf = [0u8; 32];
    // SAFETY: the format takes an int and a double, as passed; snprintf writes at most
    // buf.len() bytes, NUL included.
    let n = unsafe {
        libc::snprintf(
            buf.as_mut_ptr().cast(),
            buf.len(),
            c"%.*g".as_ptr(),
            precision as libc::c_int,
            num,
        )
    };
    buf[..(n.max(0) as usize).min(buf.len() - 1)].to_vec()
}

/// Error for a value of type `what` that cannot be encoded.
fn cannot(what: &str, reason: &str) -> Raise {
    Raise::msg(format!("Cannot serialise {what}: {reason}"))
}

fn append_number(out: &mut Vec<u8>, cfg: &Config, num: f64) -> LibResult<()> {
    if num.is_nan() || num.is_infinite() {
        match cfg.encode_invalid_numbers {
            0 => return Err(cannot("number", "must not be NaN or Inf")),
            1 if num.is_nan() => {
                out.extend_from_slice(b"nan");
                return Ok(());
            }
            1 => {}
            _ => {
                out.extend_from_slice(b"null");
                return Ok(());
            }
        }
    }
    out.extend_from_slice(&format_g(num, cfg.encode_number_precision));
    Ok(())
}

fn number_of(v: &Value) -> Option<f64> {
    match v {
        Value::Integer(i) => Some(*i as f64),
        Value::Number(n) => Some(*n),
        _ => None,
    }
}

/// A C cast of a double to `int` on x86-64 (out of range: `INT_MIN`).
fn double_to_int(d: f64) -> i32 {
    if d.is_nan() || d >= 2_147_483_648.0 || d <= -2_147_483_649.0 {
        i32::MIN
    } else {
        d as i32
    }
}

/// `lua_array_length`: the length of a table to encode as an array, or `None` for an object.
fn array_length(cfg: &Config, table: &Table) -> LibResult<Option<i32>> {
    let mut max: i32 = 0;
    let mut items: i32 = 0;
    for pair in table.pairs::<Value, Value>() {
        let (k, _) = pair?;
        match number_of(&k) {
            Some(k) if k.floor() == k && k >= 1.0 => {
                if k > max as f64 {
                    max = double_to_int(k);
                }
                items = items.wrapping_add(1);
            }
            _ => return Ok(None),
        }
    }
    if cfg.sparse_ratio > 0 && max > items.wrapping_mul(cfg.sparse_ratio) && max > cfg.sparse_safe {
        if !cfg.sparse_convert {
            return Err(cannot("table", "excessively sparse array"));
        }
        return Ok(None);
    }
    Ok((max > 0).then_some(max))
}

/// An open table while encoding: an array (its length and next index) or an object.
enum Level {
    Array { len: i32, next: i32 },
    Object { first: bool },
}

impl Level {
    /// Lua stack slots the C encoder holds while encoding a child of this table.
    fn slots(&self) -> usize {
        match self {
            Level::Array { .. } => 1,
            Level::Object { .. } => 2,
        }
    }
}

/// Encodes without recursion. mlua keeps every live handle in one Lua stack (of at most
/// 8000 slots), so the tables and keys of the enclosing levels are parked in a Lua table
/// (`parked[2d - 1]`, `parked[2d]` for depth d), and only the innermost ones are held here.
fn encode_value(lua: &Lua, cfg: &Config, next: &Function, value: Value) -> LibResult<Vec<u8>> {
    let mut out = Vec::new();
    let mut levels: Vec<Level> = Vec::new();
    let mut parked: Option<Table> = None;
    // The innermost table and, for an object, the key last visited.
    let mut table: Option<Table> = None;
    let mut key = Value::Nil;
    // Stack slots the C encoder would use: the argument, then what each open table holds.
    let mut slots = 1;
    let mut pending = Some(value);
    loop {
        if let Some(v) = pending.take() {
            match v {
                Value::String(s) => append_string(&mut out, &s.as_bytes()),
                Value::Integer(i) => append_number(&mut out, cfg, i as f64)?,
                Value::Number(n) => append_number(&mut out, cfg, n)?,
                Value::Boolean(b) => out.extend_from_slice(if b { b"true" } else { b"false" }),
                Value::Nil => out.extend_from_slice(b"null"),
                Value::LightUserData(p) if p.0.is_null() => out.extend_from_slice(b"null"),
                Value::Table(child) => {
                    let depth = levels.len() + 1;
                    if depth > cfg.encode_max_depth as usize || slots + 3 > MAX_C_STACK {
                        return Err(Raise::msg(format!(
                            "Cannot serialise, excessive nesting ({depth})"
                        )));
                    }
                    let level = match array_length(cfg, &child)? {
                        Some(len) => {
                            out.push(b'[');
                            Level::Array { len, next: 1 }
                        }
                        None => {
                            out.push(b'{');
                            Level::Object { first: true }
                        }
                    };
                    if let Some(parent) = table.replace(child) {
                        let parked = match &parked {
                            Some(p) => p,
                            None => parked.insert(lua.create_table()?),
                        };
                        let d = levels.len() as i64;
                        parked.raw_set(2 * d - 1, parent)?;
                        parked.raw_set(2 * d, std::mem::take(&mut key))?;
                    }
                    slots += level.slots();
                    levels.push(level);
                }
                Value::Function(_) => return Err(cannot("function", "type not supported")),
                Value::Thread(_) => return Err(cannot("thread", "type not supported")),
                _ => return Err(cannot("userdata", "type not supported")),
            }
        }
        // Move on in the innermost open table.
        let (Some(level), Some(t)) = (levels.last_mut(), &table) else {
            break;
        };
        match level {
            Level::Array { len, next } => {
                if *next <= *len {
                    if *next > 1 {
                        out.push(b',');
                    }
                    pending = Some(t.raw_get(*next)?);
                    *next += 1;
                    continue;
                }
                out.push(b']');
            }
            Level::Object { first } => {
                let (k, v): (Value, Value) = next.call((t, std::mem::take(&mut key)))?;
                if !k.is_nil() {
                    if !*first {
                        out.push(b',');
                    }
                    *first = false;
                    match &k {
                        Value::String(s) => {
                            append_string(&mut out, &s.as_bytes());
                            out.push(b':');
                        }
                        k => match number_of(k) {
                            Some(n) => {
                                out.push(b'"');
                                append_number(&mut out, cfg, n)?;
                                out.extend_from_slice(b"\":");
                            }
                            None => {
                                let what = super::type_name(Some(k));
                                return Err(cannot(what, "table key must be a number or string"));
                            }
                        },
                    }
                    key = k;
                    pending = Some(v);
                    continue;
                }
                out.push(b'}');
            }
        }
        slots -= level.slots();
        levels.pop();
        // Back to the enclosing table, if any.
        table = None;
        if let (Some(p), false) = (&parked, levels.is_empty()) {
            let d = levels.len() as i64;
            table = Some(p.raw_get(2 * d - 1)?);
            key = p.raw_get(2 * d)?;
            p.raw_set(2 * d - 1, Value::Nil)?;
            p.raw_set(2 * d, Value::Nil)?;
        }
    }
    Ok(out)
}

fn encode(lua: &Lua, shared: &Shared, next: &Function, args: MultiValue) -> LibResult<MultiValue> {
    if args.len() != 1 {
        return Err(Raise::arg(1, "expected 1 argument"));
    }
    let cfg = config(shared);
    let value = args.into_iter().next().unwrap_or(Value::Nil);
    let json = encode_value(lua, &cfg, next, value)?;
    one(Value::String(lua.create_string(json)?))
}

// ===== Decoding =====

#[derive(Clone, Copy, PartialEq)]
enum Kind {
    ObjBegin,
    ObjEnd,
    ArrBegin,
    ArrEnd,
    String,
    Number,
    Boolean,
    Null,
    Colon,
    Comma,
    End,
    Error,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::ObjBegin => "T_OBJ_BEGIN",
            Kind::ObjEnd => "T_OBJ_END",
            Kind::ArrBegin => "T_ARR_BEGIN",
            Kind::ArrEnd => "T_ARR_END",
            Kind::String => "T_STRING",
            Kind::Number => "T_NUMBER",
            Kind::Boolean => "T_BOOLEAN",
            Kind::Null => "T_NULL",
            Kind::Colon => "T_COLON",
            Kind::Comma => "T_COMMA",
            Kind::End => "T_END",
            Kind::Error => "T_ERROR",
        }
    }
}

struct Token {
    kind: Kind,
    /// Where the token starts (or, for errors, where the error is), 0-based.
    index: usize,
    number: f64,
    boolean: bool,
    /// For `Kind::Error`: what is wrong.
    error: &'static str,
}

struct Parser<'a> {
    data: &'a [u8],
    pos: usize,
    /// The string of the last `Kind::String` token.
    string: Vec<u8>,
    invalid_numbers: bool,
}

fn hex_value(b: u8) -> Option<u32> {
    (b as char).to_digit(16)
}

/// `strtod` on the text at the start of `s` (which C sees up to its first NUL): the number
/// and the length it read, if any.
fn strtod(s: &[u8]) -> (f64, usize) {
    // strtod reads at most these characters (digits, signs, point, exponents, hexadecimal,
    // "inf"/"infinity", "nan" and "nan(chars)").
    let len = s
        .iter()
        .take_while(|&&b| b.is_ascii_alphanumeric() || b"+-.()_".contains(&b))
        .count();
    let mut buf = Vec::with_capacity(len + 1);
    buf.extend_from_slice(&s[..len]);
    buf.push(0);
    let mut end: *mut libc::c_char = std::ptr::null_mut();
    // SAFETY: `buf` is NUL-terminated; `end` receives a pointer into it.
    let n = unsafe { libc::strtod(buf.as_ptr().cast(), &mut end) };
    (n, end as usize - buf.as_ptr() as usize)
}

impl Parser<'_> {
    /// The byte at `i`, 0 past the end (C sees the string's terminating NUL).
    fn at(&self, i: usize) -> u8 {
        self.data.get(i).copied().unwrap_or(0)
    }

    fn token(&self, kind: Kind, index: usize) -> Token {
        Token {
            kind,
            index,
            number: 0.0,
            boolean: false,
            error: "",
        }
    }

    fn error(&self, what: &'static str) -> Token {
        Token {
            error: what,
            ..self.token(Kind::Error, self.pos)
        }
    }

    /// `json_is_invalid_number`: numbers strtod reads but JSON does not allow.
    fn is_invalid_number(&self) -> bool {
        let mut p = self.pos;
        match self.at(p) {
            b'+' => return true,
            b'-' => p += 1,
            _ => {}
        }
        let c = self.at(p);
        if c == b'0' {
            let c2 = self.at(p + 1);
            return c2 | 0x20 == b'x' || c2.is_ascii_digit();
        }
        if c <= b'9' {
            return false;
        }
        let word = [self.at(p), self.at(p + 1), self.at(p + 2)].map(|b| b.to_ascii_lowercase());
        &word == b"inf" || &word == b"nan"
    }

    fn number(&mut self) -> Token {
        let start = self.pos;
        // strtod stops at the first NUL like at any other byte it does not read.
        let (n, len) = strtod(&self.data[start.min(self.data.len())..]);
        if len == 0 {
            return self.error("invalid number");
        }
        self.pos += len;
        Token {
            number: n,
            ..self.token(Kind::Number, start)
        }
    }

    /// `\uXXXX` (or a surrogate pair) at `pos`, appended as UTF-8.
    fn unicode_escape(&mut self) -> Option<()> {
        let hex4 = |p: usize| -> Option<u32> {
            (0..4).try_fold(0, |acc, i| Some(acc << 4 | hex_value(self.at(p + i))?))
        };
        let mut cp = hex4(self.pos + 2)?;
        let mut len = 6;
        if cp & 0xF800 == 0xD800 {
            if cp & 0x400 != 0 {
                return None;
            }
            if self.at(self.pos + 6) != b'\\' || self.at(self.pos + 7) != b'u' {
                return None;
            }
            let low = hex4(self.pos + 8)?;
            if low & 0xFC00 != 0xDC00 {
                return None;
            }
            cp = (((cp & 0x3FF) << 10) | (low & 0x3FF)) + 0x10000;
            len = 12;
        }
        // Lone surrogates were rejected above, so `cp` is a valid code point.
        let c = char::from_u32(cp)?;
        let mut buf = [0u8; 4];
        self.string
            .extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
        self.pos += len;
        Some(())
    }

    fn string(&mut self) -> Token {
        let start = self.pos;
        self.pos += 1;
        self.string.clear();
        loop {
            match self.at(self.pos) {
                b'"' => break,
                0 => return self.error("unexpected end of string"),
                b'\\' => {
                    let c = match self.at(self.pos + 1) {
                        b'"' => b'"',
                        b'\\' => b'\\',
                        b'/' => b'/',
                        b'b' => 0x08,
                        b't' => b'\t',
                        b'n' => b'\n',
                        b'f' => 0x0c,
                        b'r' => b'\r',
                        b'u' => {
                            if self.unicode_escape().is_none() {
                                return self.error("invalid unicode escape code");
                            }
                            continue;
                        }
                        _ => return self.error("invalid escape code"),
                    };
                    self.string.push(c);
                    self.pos += 2;
                }
                c => {
                    self.string.push(c);
                    self.pos += 1;
                }
            }
        }
        self.pos += 1;
        self.token(Kind::String, start)
    }

    fn next(&mut self) -> Token {
        while matches!(self.at(self.pos), b' ' | b'\t' | b'\n' | b'\r') {
            self.pos += 1;
        }
        let start = self.pos;
        let c = self.at(start);
        let single = match c {
            b'{' => Some(Kind::ObjBegin),
            b'}' => Some(Kind::ObjEnd),
            b'[' => Some(Kind::ArrBegin),
            b']' => Some(Kind::ArrEnd),
            b',' => Some(Kind::Comma),
            b':' => Some(Kind::Colon),
            0 => return self.token(Kind::End, start),
            b'f' | b'i' | b'I' | b'n' | b'N' | b't' | b'"' | b'+' | b'-' | b'0'..=b'9' => None,
            _ => return self.error("invalid token"),
        };
        if let Some(kind) = single {
            self.pos += 1;
            return self.token(kind, start);
        }
        let rest = &self.data[start..];
        if c == b'"' {
            self.string()
        } else if c == b'-' || c.is_ascii_digit() {
            if !self.invalid_numbers && self.is_invalid_number() {
                return self.error("invalid number");
            }
            self.number()
        } else if rest.starts_with(b"true") {
            self.pos += 4;
            Token {
                boolean: true,
                ..self.token(Kind::Boolean, start)
            }
        } else if rest.starts_with(b"false") {
            self.pos += 5;
            self.token(Kind::Boolean, start)
        } else if rest.starts_with(b"null") {
            self.pos += 4;
            self.token(Kind::Null, start)
        } else if self.invalid_numbers && self.is_invalid_number() {
            self.number()
        } else {
            self.error("invalid token")
        }
    }
}

fn parse_error(expected: &str, token: &Token) -> Raise {
    let found = if token.kind == Kind::Error {
        token.error
    } else {
        token.kind.name()
    };
    Raise::msg(format!(
        "Expected {expected} but found {found} at character {}",
        token.index + 1
    ))
}

/// An open table while decoding.
enum Open {
    Array { next: i64 },
    Object,
}

/// Decodes without recursion; the tables (and keys) of the enclosing levels are parked in a
/// Lua table as when encoding.
fn decode_value(lua: &Lua, cfg: &Config, data: &[u8]) -> LibResult<Value> {
    let mut p = Parser {
        data,
        pos: 0,
        string: Vec::new(),
        invalid_numbers: cfg.decode_invalid_numbers,
    };
    let mut levels: Vec<Open> = Vec::new();
    let mut parked: Option<Table> = None;
    // The innermost table, and its pending key when it is an object.
    let mut table: Option<Table> = None;
    let mut key = Value::Nil;
    // Lua stack slots the C decoder would use: the argument, then per open table the table
    // (and, in an object, the key).
    let mut slots = 1;
    let mut token = p.next();
    loop {
        // `token` starts a value.
        let mut value = match token.kind {
            Kind::String => Value::String(lua.create_string(&p.string)?),
            Kind::Number => Value::Number(token.number),
            Kind::Boolean => Value::Boolean(token.boolean),
            Kind::Null => null(),
            Kind::ObjBegin | Kind::ArrBegin => {
                let object = token.kind == Kind::ObjBegin;
                let depth = levels.len() + 1;
                let need = if object { 3 } else { 2 };
                if depth > cfg.decode_max_depth as usize || slots + need > MAX_C_STACK {
                    return Err(Raise::msg(format!(
                        "Found too many nested data structures ({depth}) at character {}",
                        p.pos
                    )));
                }
                let new = lua.create_table()?;
                token = p.next();
                let empty = if object { Kind::ObjEnd } else { Kind::ArrEnd };
                if token.kind == empty {
                    Value::Table(new)
                } else {
                    if object {
                        if token.kind != Kind::String {
                            return Err(parse_error("object key string", &token));
                        }
                        let k = Value::String(lua.create_string(&p.string)?);
                        token = p.next();
                        if token.kind != Kind::Colon {
                            return Err(parse_error("colon", &token));
                        }
                        token = p.next();
                        park(lua, &mut parked, levels.len(), &mut table, &mut key, new, k)?;
                        levels.push(Open::Object);
                        slots += 2;
                    } else {
                        park(
                            lua,
                            &mut parked,
                            levels.len(),
                            &mut table,
                            &mut key,
                            new,
                            Value::Nil,
                        )?;
                        levels.push(Open::Array { next: 1 });
                        slots += 1;
                    }
                    continue;
                }
            }
            _ => return Err(parse_error("value", &token)),
        };
        // Store the finished value in its table, closing the tables that end with it.
        loop {
            let (Some(level), Some(t)) = (levels.last_mut(), &table) else {
                token = p.next();
                if token.kind != Kind::End {
                    return Err(parse_error("the end", &token));
                }
                return Ok(value);
            };
            match level {
                Open::Array { next } => {
                    t.raw_set(*next, value)?;
                    *next += 1;
                    token = p.next();
                    if token.kind != Kind::ArrEnd {
                        if token.kind != Kind::Comma {
                            return Err(parse_error("comma or array end", &token));
                        }
                        token = p.next();
                        break;
                    }
                    slots -= 1;
                }
                Open::Object => {
                    t.raw_set(std::mem::take(&mut key), value)?;
                    token = p.next();
                    if token.kind != Kind::ObjEnd {
                        if token.kind != Kind::Comma {
                            return Err(parse_error("comma or object end", &token));
                        }
                        token = p.next();
                        if token.kind != Kind::String {
                            return Err(parse_error("object key string", &token));
                        }
                        key = Value::String(lua.create_string(&p.string)?);
                        token = p.next();
                        if token.kind != Kind::Colon {
                            return Err(parse_error("colon", &token));
                        }
                        token = p.next();
                        break;
                    }
                    slots -= 2;
                }
            }
            levels.pop();
            value = Value::Table(table.take().expect("open table"));
            if let (Some(p), false) = (&parked, levels.is_empty()) {
                let d = levels.len() as i64;
                table = Some(p.raw_get(2 * d - 1)?);
                key = p.raw_get(2 * d)?;
                p.raw_set(2 * d - 1, Value::Nil)?;
                p.raw_set(2 * d, Value::Nil)?;
            }
        }
    }
}

/// Makes `new` (with pending key `new_key`) the innermost table, parking the current one
/// (at depth `depth`) and its key.
fn park(
    lua: &Lua,
    parked: &mut Option<Table>,
    depth: usize,
    table: &mut Option<Table>,
    key: &mut Value,
    new: Table,
    new_key: Value,
) -> mlua::Result<()> {
    if let Some(parent) = table.replace(new) {
        let p = match parked {
            Some(p) => p,
            None => parked.insert(lua.create_table()?),
        };
        let d = depth as i64;
        p.raw_set(2 * d - 1, parent)?;
        p.raw_set(2 * d, std::mem::replace(key, new_key))?;
    } else {
        *key = new_key;
    }
    Ok(())
}

fn decode(lua: &Lua, shared: &Shared, args: MultiValue) -> LibResult<MultiValue> {
    let args: Vec<Value> = args.into_iter().collect();
    if args.len() != 1 {
        return Err(Raise::arg(1, "expected 1 argument"));
    }
    let cfg = config(shared);
    let json = check_string(lua, &args, 1)?;
    let data = json.as_bytes();
    if data.len() >= 2 && (data[0] == 0 || data[1] == 0) {
        return Err(Raise::msg("JSON parser does not support UTF-16 or UTF-32"));
    }
    one(decode_value(lua, &cfg, &data)?)
}

// ===== Initialisation =====

fn config_function(
    lua: &Lua,
    shared: &Shared,
    f: fn(&Lua, &mut Config, MultiValue) -> LibResult<MultiValue>,
) -> mlua::Result<mlua::Function> {
    let shared = shared.clone();
    c_function(lua, move |lua, args| {
        let mut cfg = config(&shared);
        let r = f(lua, &mut cfg, args);
        // The C code stores each valid option as it goes, even if a later one fails.
        update(&shared, |c| *c = cfg);
        r
    })
}

fn new_table(lua: &Lua) -> mlua::Result<Table> {
    let shared: Shared = Arc::new(Mutex::new(Config::default()));
    let t = lua.create_table()?;
    let s = shared.clone();
    let next = super::raw_next(lua)?;
    t.raw_set(
        "encode",
        c_function(lua, move |lua, args| encode(lua, &s, &next, args))?,
    )?;
    let s = shared.clone();
    t.raw_set(
        "decode",
        c_function(lua, move |lua, args| decode(lua, &s, args))?,
    )?;
    t.raw_set(
        "encode_sparse_array",
        config_function(lua, &shared, |lua, cfg, args| {
            let args = config_args(args, 3)?;
            let mut convert = cfg.sparse_convert;
            let a = bool_option(lua, &args, 1, &mut convert)?;
            cfg.sparse_convert = convert;
            let b = integer_option(lua, &args, 2, &mut cfg.sparse_ratio, 0, i32::MAX)?;
            let c = integer_option(lua, &args, 3, &mut cfg.sparse_safe, 0, i32::MAX)?;
            Ok(MultiValue::from_iter([a, b, c]))
        })?,
    )?;
    t.raw_set(
        "encode_max_depth",
        config_function(lua, &shared, |lua, cfg, args| {
            let args = config_args(args, 1)?;
            one(integer_option(
                lua,
                &args,
                1,
                &mut cfg.encode_max_depth,
                1,
                i32::MAX,
            )?)
        })?,
    )?;
    t.raw_set(
        "decode_max_depth",
        config_function(lua, &shared, |lua, cfg, args| {
            let args = config_args(args, 1)?;
            one(integer_option(
                lua,
                &args,
                1,
                &mut cfg.decode_max_depth,
                1,
                i32::MAX,
            )?)
        })?,
    )?;
    t.raw_set(
        "encode_number_precision",
        config_function(lua, &shared, |lua, cfg, args| {
            let args = config_args(args, 1)?;
            one(integer_option(
                lua,
                &args,
                1,
                &mut cfg.encode_number_precision,
                1,
                14,
            )?)
        })?,
    )?;
    t.raw_set(
        "encode_keep_buffer",
        config_function(lua, &shared, |lua, cfg, args| {
            let args = config_args(args, 1)?;
            one(bool_option(lua, &args, 1, &mut cfg.encode_keep_buffer)?)
        })?,
    )?;
    t.raw_set(
        "encode_invalid_numbers",
        config_function(lua, &shared, |lua, cfg, args| {
            let args = config_args(args, 1)?;
            let options = ["off", "on", "null"];
            one(enum_option(
                lua,
                &args,
                1,
                &mut cfg.encode_invalid_numbers,
                &options,
            )?)
        })?,
    )?;
    t.raw_set(
        "decode_invalid_numbers",
        config_function(lua, &shared, |lua, cfg, args| {
            let args = config_args(args, 1)?;
            one(bool_option(lua, &args, 1, &mut cfg.decode_invalid_numbers)?)
        })?,
    )?;
    t.raw_set(
        "new",
        c_function(lua, |lua, _| one(Value::Table(new_table(lua)?)))?,
    )?;
    t.raw_set("null", null())?;
    t.raw_set("_NAME", "cjson")?;
    t.raw_set("_VERSION", "2.1.0")?;
    Ok(t)
}

/// Creates the `cjson` table.
pub fn open(lua: &Lua) -> mlua::Result<Table> {
    new_table(lua)
}

#[cfg(test)]
mod tests {
    use super::super::testutil::{check, state};

    /// Snippets and their results from redis-server 7.0.15.
    const CASES: &[(&str, &str)] = &[
        (
            r##"return cjson.encode({1,2,{a=1}})"##,
            r##"{["n"]=2,[1]=true,[2]="[1,2,{"a":1}]"}"##,
        ),
        (
            r##"return cjson.encode({a=1,b=2,c=3,d=4,e=5,foo='x',bar=true})"##,
            r##"{["n"]=2,[1]=true,[2]="{"a":1,"c":3,"b":2,"e":5,"d":4,"bar":true,"foo":"x"}"}"##,
        ),
        (
            r##"return cjson.encode("he said \"hi\"/\\ \n\r\t\b\f \1\31\127 é")"##,
            r##"{["n"]=2,[1]=true,[2]=""he said \"hi\"\/\\ \n\r\t\b\f \u0001\u001f\u007f \195\169""}"##,
        ),
        (
            r##"return cjson.encode(1), cjson.encode(-0.0), cjson.encode(0.1), cjson.encode(1/3), cjson.encode(1e15), cjson.encode(123456789012345), cjson.encode(1e100), cjson.encode(-2.5e-7), cjson.encode(2^53)"##,
            r##"{["n"]=10,[1]=true,[10]="9.007199254741e+15",[2]="1",[3]="-0",[4]="0.1",[5]="0.33333333333333",[6]="1e+15",[7]="1.2345678901234e+14",[8]="1e+100",[9]="-2.5e-07"}"##,
        ),
        (
            r##"return cjson.encode(true), cjson.encode(false), cjson.encode(nil), cjson.encode(cjson.null)"##,
            r##"{["n"]=5,[1]=true,[2]="true",[3]="false",[4]="null",[5]="null"}"##,
        ),
        (
            r##"return cjson.encode({})"##,
            r##"{["n"]=2,[1]=true,[2]="{}"}"##,
        ),
        (
            r##"return cjson.encode({[1]=1,[2]=2,[4]=4})"##,
            r##"{["n"]=2,[1]=true,[2]="[1,2,null,4]"}"##,
        ),
        (
            r##"return cjson.encode({[1]=1,[20]=2})"##,
            r##"{["n"]=2,[1]=false,[2]="user_script:1: Cannot serialise table: excessively sparse array"}"##,
        ),
        (
            r##"return cjson.encode({[11]=1})"##,
            r##"{["n"]=2,[1]=false,[2]="user_script:1: Cannot serialise table: excessively sparse array"}"##,
        ),
        (
            r##"return cjson.encode({[10]=1})"##,
            r##"{["n"]=2,[1]=true,[2]="[null,null,null,null,null,null,null,null,null,1]"}"##,
        ),
        (
            r##"return cjson.encode({[1.5]=1})"##,
            r##"{["n"]=2,[1]=true,[2]="{"1.5":1}"}"##,
        ),
        (
            r##"return cjson.encode({[0]=1, 2})"##,
            r##"{["n"]=2,[1]=true,[2]="{"1":2,"0":1}"}"##,
        ),
        (
            r##"return cjson.encode({[-1]=1})"##,
            r##"{["n"]=2,[1]=true,[2]="{"-1":1}"}"##,
        ),
        (
            r##"return cjson.encode({1, 2, x=3})"##,
            r##"{["n"]=2,[1]=true,[2]="{"1":1,"2":2,"x":3}"}"##,
        ),
        (
            r##"return cjson.encode({[1e10]=1})"##,
            r##"{["n"]=2,[1]=true,[2]="{"10000000000":1}"}"##,
        ),
        (
            r##"return cjson.encode({[1/0]=1})"##,
            r##"{["n"]=2,[1]=false,[2]="user_script:1: Cannot serialise number: must not be NaN or Inf"}"##,
        ),
        (
            r##"return cjson.encode(1/0)"##,
            r##"{["n"]=2,[1]=false,[2]="user_script:1: Cannot serialise number: must not be NaN or Inf"}"##,
        ),
        (
            r##"return cjson.encode(-1/0)"##,
            r##"{["n"]=2,[1]=false,[2]="user_script:1: Cannot serialise number: must not be NaN or Inf"}"##,
        ),
        (
            r##"return cjson.encode(0/0)"##,
            r##"{["n"]=2,[1]=false,[2]="user_script:1: Cannot serialise number: must not be NaN or Inf"}"##,
        ),
        (
            r##"return cjson.encode({a=function() end})"##,
            r##"{["n"]=2,[1]=false,[2]="user_script:1: Cannot serialise function: type not supported"}"##,
        ),
        (
            r##"return cjson.encode(string.len)"##,
            r##"{["n"]=2,[1]=false,[2]="user_script:1: Cannot serialise function: type not supported"}"##,
        ),
        (
            r##"return cjson.encode(coroutine.create(function() end))"##,
            r##"{["n"]=2,[1]=false,[2]="user_script:1: Cannot serialise thread: type not supported"}"##,
        ),
        (
            r##"return cjson.encode({[true]=1})"##,
            r##"{["n"]=2,[1]=false,[2]="user_script:1: Cannot serialise boolean: table key must be a number or string"}"##,
        ),
        (
            r##"return cjson.encode({[{}]=1})"##,
            r##"{["n"]=2,[1]=false,[2]="user_script:1: Cannot serialise table: table key must be a number or string"}"##,
        ),
        (
            r##"return cjson.encode()"##,
            r##"{["n"]=2,[1]=false,[2]="user_script:1: bad argument #1 to 'encode' (expected 1 argument)"}"##,
        ),
        (
            r##"return cjson.encode(1, 2)"##,
            r##"{["n"]=2,[1]=false,[2]="user_script:1: bad argument #1 to 'encode' (expected 1 argument)"}"##,
        ),
        (
            r##"return cjson.encode({{{}}})"##,
            r##"{["n"]=2,[1]=true,[2]="[[{}]]"}"##,
        ),
        (
            r##"return cjson.encode({nil, 2})"##,
            r##"{["n"]=2,[1]=true,[2]="[null,2]"}"##,
        ),
        (
            r##"return cjson.encode({"a", nil, "c"})"##,
            r##"{["n"]=2,[1]=true,[2]="["a",null,"c"]"}"##,
        ),
        (
            r##"return cjson.encode({[2]=cjson.null})"##,
            r##"{["n"]=2,[1]=true,[2]="[null,null]"}"##,
        ),
        (
            r##"return cjson.encode({["1"]=1, ["2"]=2})"##,
            r##"{["n"]=2,[1]=true,[2]="{"1":1,"2":2}"}"##,
        ),
        (
            r##"return cjson.encode({[1.0]="x", [2]="y"})"##,
            r##"{["n"]=2,[1]=true,[2]="["x","y"]"}"##,
        ),
        (
            r##"return cjson.encode({{a={b={c={1,2,"x"}}}}})"##,
            r##"{["n"]=2,[1]=true,[2]="[{"a":{"b":{"c":[1,2,"x"]}}}]"}"##,
        ),
        (
            r##"return cjson.encode("\0abc")"##,
            r##"{["n"]=2,[1]=true,[2]=""\u0000abc""}"##,
        ),
        (
            r##"return cjson.decode('[1,2,3,{"a":"b"}]')"##,
            r##"{["n"]=2,[1]=true,[2]={[1]=1,[2]=2,[3]=3,[4]={["a"]="b"}}}"##,
        ),
        (
            r##"return cjson.decode('{"a":1,"b":[true,false,null],"c":{"d":"e"}}')"##,
            r##"{["n"]=2,[1]=true,[2]={["a"]=1,["b"]={[1]=true,[2]=false,[3]=userdata: (nil)},["c"]={["d"]="e"}}}"##,
        ),
        (
            r##"return cjson.decode('"\\u00e9\\u20ac\\ud83d\\ude00\\n\\t\\/\\\\\\"\\b\\f\\r"')"##,
            r##"{["n"]=2,[1]=true,[2]="\195\169\226\130\172\240\159\152\128\10\9/\"\8\12\13"}"##,
        ),
        (
            r##"return cjson.decode(' 12.5 '), cjson.decode('-0'), cjson.decode('1e3'), cjson.decode('1E-2'), cjson.decode('0.000001')"##,
            r##"{["n"]=6,[1]=true,[2]=12.5,[3]=-0,[4]=1000,[5]=0.01,[6]=9.9999999999999995e-07}"##,
        ),
        (
            r##"return cjson.decode('0x10'), cjson.decode('012'), cjson.decode('-0x1p3')"##,
            r##"{["n"]=4,[1]=true,[2]=16,[3]=12,[4]=-8}"##,
        ),
        (
            r##"return cjson.decode('inf'), cjson.decode('-inf'), cjson.decode('Infinity'), cjson.decode('+5')"##,
            r##"{["n"]=5,[1]=true,[2]=inf,[3]=-inf,[4]=inf,[5]=5}"##,
        ),
        (
            r##"return tostring(cjson.decode('nan')), tostring(cjson.decode('NaN')), tostring(cjson.decode('-nan'))"##,
            r##"{["n"]=4,[1]=true,[2]="nan",[3]="nan",[4]="-nan"}"##,
        ),
        (
            r##"return cjson.decode('null') == cjson.null, type(cjson.decode('null')), cjson.null == nil"##,
            r##"{["n"]=4,[1]=true,[2]=true,[3]="userdata",[4]=false}"##,
        ),
        (
            r##"return cjson.decode('x')"##,
            r##"{["n"]=2,[1]=false,[2]="user_script:1: Expected value but found invalid token at character 1"}"##,
        ),
        (
            r##"return cjson.decode('')"##,
            r##"{["n"]=2,[1]=false,[2]="user_script:1: Expected value but found T_END at character 1"}"##,
        ),
        (
            r##"return cjson.decode('[1,2')"##,
            r##"{["n"]=2,[1]=false,[2]="user_script:1: Expected comma or array end but found T_END at character 5"}"##,
        ),
        (
            r##"return cjson.decode('[1,]')"##,
            r##"{["n"]=2,[1]=false,[2]="user_script:1: Expected value but found T_ARR_END at character 4"}"##,
        ),
        (
            r##"return cjson.decode('[1 2]')"##,
            r##"{["n"]=2,[1]=false,[2]="user_script:1: Expected comma or array end but found T_NUMBER at character 4"}"##,
        ),
        (
            r##"return cjson.decode('{"a" 1}')"##,
            r##"{["n"]=2,[1]=false,[2]="user_script:1: Expected colon but found T_NUMBER at character 6"}"##,
        ),
        (
            r##"return cjson.decode('{"a":1,}')"##,
            r##"{["n"]=2,[1]=false,[2]="user_script:1: Expected object key string but found T_OBJ_END at character 8"}"##,
        ),
        (
            r##"return cjson.decode('{1:2}')"##,
            r##"{["n"]=2,[1]=false,[2]="user_script:1: Expected object key string but found T_NUMBER at character 2"}"##,
        ),
        (
            r##"return cjson.decode('{"a":1 "b":2}')"##,
            r##"{["n"]=2,[1]=false,[2]="user_script:1: Expected comma or object end but found T_STRING at character 8"}"##,
        ),
        (
            r##"return cjson.decode('[1] x')"##,
            r##"{["n"]=2,[1]=false,[2]="user_script:1: Expected the end but found invalid token at character 5"}"##,
        ),
        (
            r##"return cjson.decode('"abc')"##,
            r##"{["n"]=2,[1]=false,[2]="user_script:1: Expected value but found unexpected end of string at character 5"}"##,
        ),
        (
            r##"return cjson.decode('"\\x"')"##,
            r##"{["n"]=2,[1]=false,[2]="user_script:1: Expected value but found invalid escape code at character 2"}"##,
        ),
        (
            r##"return cjson.decode('"\\u12"')"##,
            r##"{["n"]=2,[1]=false,[2]="user_script:1: Expected value but found invalid unicode escape code at character 2"}"##,
        ),
        (
            r##"return cjson.decode('"\\ud800"')"##,
            r##"{["n"]=2,[1]=false,[2]="user_script:1: Expected value but found invalid unicode escape code at character 2"}"##,
        ),
        (
            r##"return cjson.decode('"\\udc00\\ud800"')"##,
            r##"{["n"]=2,[1]=false,[2]="user_script:1: Expected value but found invalid unicode escape code at character 2"}"##,
        ),
        (
            r##"return cjson.decode('"\\ud800\\u0041"')"##,
            r##"{["n"]=2,[1]=false,[2]="user_script:1: Expected value but found invalid unicode escape code at character 2"}"##,
        ),
        (
            r##"return cjson.decode('"\\u0000a"')"##,
            r##"{["n"]=2,[1]=true,[2]="\0a"}"##,
        ),
        (
            r##"return cjson.decode('tru')"##,
            r##"{["n"]=2,[1]=false,[2]="user_script:1: Expected value but found invalid token at character 1"}"##,
        ),
        (
            r##"return cjson.decode('nul')"##,
            r##"{["n"]=2,[1]=false,[2]="user_script:1: Expected value but found invalid token at character 1"}"##,
        ),
        (
            r##"return cjson.decode('-')"##,
            r##"{["n"]=2,[1]=false,[2]="user_script:1: Expected value but found invalid number at character 1"}"##,
        ),
        (
            r##"return cjson.decode('--1')"##,
            r##"{["n"]=2,[1]=false,[2]="user_script:1: Expected value but found invalid number at character 1"}"##,
        ),
        (
            r##"return cjson.decode('1.2.3')"##,
            r##"{["n"]=2,[1]=false,[2]="user_script:1: Expected the end but found invalid token at character 4"}"##,
        ),
        (
            r##"return cjson.decode('.5')"##,
            r##"{["n"]=2,[1]=false,[2]="user_script:1: Expected value but found invalid token at character 1"}"##,
        ),
        (
            r##"return cjson.decode('[1,2]\0garbage')"##,
            r##"{["n"]=2,[1]=true,[2]={[1]=1,[2]=2}}"##,
        ),
        (
            r##"return cjson.decode('"a\0b"')"##,
            r##"{["n"]=2,[1]=false,[2]="user_script:1: Expected value but found unexpected end of string at character 3"}"##,
        ),
        (
            r##"return cjson.decode('\0a')"##,
            r##"{["n"]=2,[1]=false,[2]="user_script:1: JSON parser does not support UTF-16 or UTF-32"}"##,
        ),
        (
            r##"return cjson.decode('a\0')"##,
            r##"{["n"]=2,[1]=false,[2]="user_script:1: JSON parser does not support UTF-16 or UTF-32"}"##,
        ),
        (
            r##"return cjson.decode()"##,
            r##"{["n"]=2,[1]=false,[2]="user_script:1: bad argument #1 to 'decode' (expected 1 argument)"}"##,
        ),
        (
            r##"return cjson.decode('1', 2)"##,
            r##"{["n"]=2,[1]=false,[2]="user_script:1: bad argument #1 to 'decode' (expected 1 argument)"}"##,
        ),
        (
            r##"return cjson.decode({})"##,
            r##"{["n"]=2,[1]=false,[2]="user_script:1: bad argument #1 to 'decode' (string expected, got table)"}"##,
        ),
        (
            r##"return cjson.decode(42)"##,
            r##"{["n"]=2,[1]=true,[2]=42}"##,
        ),
        (
            r##"return cjson.decode('  [ ]  '), cjson.decode('{}')"##,
            r##"{["n"]=3,[1]=true,[2]={},[3]={}}"##,
        ),
        (
            r##"return cjson.decode('{"a":1,"a":2}')"##,
            r##"{["n"]=2,[1]=true,[2]={["a"]=2}}"##,
        ),
        (
            r##"return cjson.decode('[[[[1]]]]')"##,
            r##"{["n"]=2,[1]=true,[2]={[1]={[1]={[1]={[1]=1}}}}}"##,
        ),
        (
            r##"return cjson.decode('"tab\there"')"##,
            r##"{["n"]=2,[1]=true,[2]="tab\9here"}"##,
        ),
        (
            r##"return cjson.decode('\t\r\n true')"##,
            r##"{["n"]=2,[1]=true,[2]=true}"##,
        ),
        (
            r##"return cjson.decode('true false')"##,
            r##"{["n"]=2,[1]=false,[2]="user_script:1: Expected the end but found T_BOOLEAN at character 6"}"##,
        ),
        (
            r##"return cjson.decode('[1,2,3,4,5,6,7,8,9,10,11,12]')"##,
            r##"{["n"]=2,[1]=true,[2]={[1]=1,[10]=10,[11]=11,[12]=12,[2]=2,[3]=3,[4]=4,[5]=5,[6]=6,[7]=7,[8]=8,[9]=9}}"##,
        ),
        (
            r##"return cjson.decode('1e400'), cjson.decode('-1e400'), cjson.decode('1e-400')"##,
            r##"{["n"]=4,[1]=true,[2]=inf,[3]=-inf,[4]=0}"##,
        ),
        (
            r##"return cjson.encode(cjson.decode('{"k":[1,{"z":null}]}'))"##,
            r##"{["n"]=2,[1]=true,[2]="{"k":[1,{"z":null}]}"}"##,
        ),
        (
            r##"return cjson.encode_max_depth(), cjson.decode_max_depth(), cjson.encode_number_precision(), cjson.encode_keep_buffer(), cjson.encode_invalid_numbers(), cjson.decode_invalid_numbers(), cjson.encode_sparse_array()"##,
            r##"{["n"]=10,[1]=true,[10]=10,[2]=1000,[3]=1000,[4]=14,[5]=true,[6]=false,[7]=true,[8]=false,[9]=2}"##,
        ),
        (
            r##"return cjson._NAME, cjson._VERSION"##,
            r##"{["n"]=3,[1]=true,[2]="cjson",[3]="2.1.0"}"##,
        ),
        (
            r##"local j = cjson.new(); j.encode_number_precision(3); return j.encode(math.pi), cjson.encode(math.pi)"##,
            r##"{["n"]=3,[1]=true,[2]="3.14",[3]="3.1415926535898"}"##,
        ),
        (
            r##"local j = cjson.new(); return j.encode_number_precision(0)"##,
            r##"{["n"]=2,[1]=false,[2]="user_script:1: bad argument #1 to 'encode_number_precision' (expected integer between 1 and 14)"}"##,
        ),
        (
            r##"local j = cjson.new(); return j.encode_number_precision(15)"##,
            r##"{["n"]=2,[1]=false,[2]="user_script:1: bad argument #1 to 'encode_number_precision' (expected integer between 1 and 14)"}"##,
        ),
        (
            r##"local j = cjson.new(); return j.encode_number_precision("x")"##,
            r##"{["n"]=2,[1]=false,[2]="user_script:1: bad argument #1 to 'encode_number_precision' (number expected, got string)"}"##,
        ),
        (
            r##"local j = cjson.new(); return j.encode_number_precision("5"), j.encode(1/3)"##,
            r##"{["n"]=3,[1]=true,[2]=5,[3]="0.33333"}"##,
        ),
        (
            r##"local j = cjson.new(); return j.encode_number_precision(5.9), j.encode(1/3)"##,
            r##"{["n"]=3,[1]=true,[2]=5,[3]="0.33333"}"##,
        ),
        (
            r##"local j = cjson.new(); return j.encode_number_precision(1, 2)"##,
            r##"{["n"]=2,[1]=false,[2]="user_script:1: bad argument #2 to 'encode_number_precision' (found too many arguments)"}"##,
        ),
        (
            r##"local j = cjson.new(); return j.encode_max_depth(2), j.encode({{1}})"##,
            r##"{["n"]=3,[1]=true,[2]=2,[3]="[[1]]"}"##,
        ),
        (
            r##"local j = cjson.new(); j.encode_max_depth(2); return j.encode({{{1}}})"##,
            r##"{["n"]=2,[1]=false,[2]="user_script:1: Cannot serialise, excessive nesting (3)"}"##,
        ),
        (
            r##"local j = cjson.new(); j.encode_max_depth(1); return j.encode({a={}})"##,
            r##"{["n"]=2,[1]=false,[2]="user_script:1: Cannot serialise, excessive nesting (2)"}"##,
        ),
        (
            r##"local j = cjson.new(); return j.encode_max_depth(0)"##,
            r##"{["n"]=2,[1]=false,[2]="user_script:1: bad argument #1 to 'encode_max_depth' (expected integer between 1 and 2147483647)"}"##,
        ),
        (
            r##"local j = cjson.new(); return j.decode_max_depth(2), j.decode('[[1]]')"##,
            r##"{["n"]=3,[1]=true,[2]=2,[3]={[1]={[1]=1}}}"##,
        ),
        (
            r##"local j = cjson.new(); j.decode_max_depth(2); return j.decode('[[[1]]]')"##,
            r##"{["n"]=2,[1]=false,[2]="user_script:1: Found too many nested data structures (3) at character 3"}"##,
        ),
        (
            r##"local j = cjson.new(); j.decode_max_depth(2); return j.decode('{"a":{"b":{"c":1}}}')"##,
            r##"{["n"]=2,[1]=false,[2]="user_script:1: Found too many nested data structures (3) at character 11"}"##,
        ),
        (
            r##"local s = string.rep('[', 1001) return cjson.decode(s)"##,
            r##"{["n"]=2,[1]=false,[2]="user_script:1: Found too many nested data structures (1001) at character 1001"}"##,
        ),
        (
            r##"local t = {} local c = t for i = 1, 1001 do c[1] = {} c = c[1] end return #cjson.encode(t)"##,
            r##"{["n"]=2,[1]=false,[2]="user_script:1: Cannot serialise, excessive nesting (1001)"}"##,
        ),
        (
            r##"local t = {} t[1] = t return cjson.encode(t)"##,
            r##"{["n"]=2,[1]=false,[2]="user_script:1: Cannot serialise, excessive nesting (1001)"}"##,
        ),
        (
            r##"local t = {} t.a = t return cjson.encode(t)"##,
            r##"{["n"]=2,[1]=false,[2]="user_script:1: Cannot serialise, excessive nesting (1001)"}"##,
        ),
        (
            r##"local s = '' for i=1,8100 do s=s..'[' end local j = cjson.new() j.decode_max_depth(100000) return j.decode(s)"##,
            r##"{["n"]=2,[1]=false,[2]="user_script:1: Found too many nested data structures (7999) at character 7999"}"##,
        ),
        (
            r##"local s = '' for i=1,8100 do s=s..'{"a":' end local j = cjson.new() j.decode_max_depth(100000) return j.decode(s)"##,
            r##"{["n"]=2,[1]=false,[2]="user_script:1: Found too many nested data structures (4000) at character 19996"}"##,
        ),
        (
            r##"local t={} local c=t for i=1,9000 do c[1]={} c=c[1] end local j = cjson.new() j.encode_max_depth(100000) return j.encode(t)"##,
            r##"{["n"]=2,[1]=false,[2]="user_script:1: Cannot serialise, excessive nesting (7998)"}"##,
        ),
        (
            r##"local t={} local c=t for i=1,9000 do c.a={} c=c.a end local j = cjson.new() j.encode_max_depth(100000) return j.encode(t)"##,
            r##"{["n"]=2,[1]=false,[2]="user_script:1: Cannot serialise, excessive nesting (4000)"}"##,
        ),
        (
            r##"local j = cjson.new(); return j.encode_invalid_numbers(true), j.encode(1/0), j.encode(-1/0), j.encode(0/0), j.encode({[1/0]=1})"##,
            r##"{["n"]=6,[1]=true,[2]=true,[3]="inf",[4]="-inf",[5]="nan",[6]="{"inf":1}"}"##,
        ),
        (
            r##"local j = cjson.new(); return j.encode_invalid_numbers("null"), j.encode({1/0, 0/0})"##,
            r##"{["n"]=3,[1]=true,[2]="null",[3]="[null,null]"}"##,
        ),
        (
            r##"local j = cjson.new(); return j.encode_invalid_numbers("off"), j.encode_invalid_numbers("on"), j.encode_invalid_numbers(false)"##,
            r##"{["n"]=4,[1]=true,[2]=false,[3]=true,[4]=false}"##,
        ),
        (
            r##"local j = cjson.new(); return j.encode_invalid_numbers("maybe")"##,
            r##"{["n"]=2,[1]=false,[2]="user_script:1: bad argument #1 to 'encode_invalid_numbers' (invalid option 'maybe')"}"##,
        ),
        (
            r##"local j = cjson.new(); return j.encode_invalid_numbers(1)"##,
            r##"{["n"]=2,[1]=false,[2]="user_script:1: bad argument #1 to 'encode_invalid_numbers' (invalid option '1')"}"##,
        ),
        (
            r##"local j = cjson.new(); return j.encode_invalid_numbers({})"##,
            r##"{["n"]=2,[1]=false,[2]="user_script:1: bad argument #1 to 'encode_invalid_numbers' (string expected, got table)"}"##,
        ),
        (
            r##"local j = cjson.new(); return j.decode_invalid_numbers(false), pcall(j.decode, 'inf')"##,
            r##"{["n"]=4,[1]=true,[2]=false,[3]=false,[4]="Expected value but found invalid token at character 1"}"##,
        ),
        (
            r##"local j = cjson.new(); j.decode_invalid_numbers(false); return j.decode('0x10')"##,
            r##"{["n"]=2,[1]=false,[2]="user_script:1: Expected value but found invalid number at character 1"}"##,
        ),
        (
            r##"local j = cjson.new(); j.decode_invalid_numbers(false); return j.decode('012')"##,
            r##"{["n"]=2,[1]=false,[2]="user_script:1: Expected value but found invalid number at character 1"}"##,
        ),
        (
            r##"local j = cjson.new(); j.decode_invalid_numbers(false); return j.decode('+1')"##,
            r##"{["n"]=2,[1]=false,[2]="user_script:1: Expected value but found invalid token at character 1"}"##,
        ),
        (
            r##"local j = cjson.new(); j.decode_invalid_numbers(false); return j.decode('-1.5e2'), j.decode('0'), j.decode('-0.5')"##,
            r##"{["n"]=4,[1]=true,[2]=-150,[3]=0,[4]=-0.5}"##,
        ),
        (
            r##"local j = cjson.new(); j.decode_invalid_numbers(false); return j.decode('[nan]')"##,
            r##"{["n"]=2,[1]=false,[2]="user_script:1: Expected value but found invalid token at character 2"}"##,
        ),
        (
            r##"local j = cjson.new(); return j.encode_sparse_array(true), j.encode({[1]=1,[20]=2})"##,
            r##"{["n"]=3,[1]=true,[2]=true,[3]="{"1":1,"20":2}"}"##,
        ),
        (
            r##"local j = cjson.new(); return j.encode_sparse_array(nil, 0), #j.encode({[1]=1,[1000]=2})"##,
            r##"{["n"]=3,[1]=true,[2]=false,[3]=4995}"##,
        ),
        (
            r##"local j = cjson.new(); return j.encode_sparse_array(nil, 3, 2), j.encode({[1]=1, [4]=2}), pcall(j.encode, {[1]=1, [5]=2})"##,
            r##"{["n"]=5,[1]=true,[2]=false,[3]="[1,null,null,2]",[4]=true,[5]="[1,null,null,null,2]"}"##,
        ),
        (
            r##"local j = cjson.new(); return j.encode_sparse_array(false, -1)"##,
            r##"{["n"]=2,[1]=false,[2]="user_script:1: bad argument #1 to 'encode_sparse_array' (expected integer between 0 and 2147483647)"}"##,
        ),
        (
            r##"local j = cjson.new(); return j.encode_sparse_array(true, 1, -1)"##,
            r##"{["n"]=2,[1]=false,[2]="user_script:1: bad argument #1 to 'encode_sparse_array' (expected integer between 0 and 2147483647)"}"##,
        ),
        (
            r##"local j = cjson.new(); return j.encode_sparse_array(true, 1, 2, 3)"##,
            r##"{["n"]=2,[1]=false,[2]="user_script:1: bad argument #4 to 'encode_sparse_array' (found too many arguments)"}"##,
        ),
        (
            r##"local j = cjson.new(); return pcall(j.encode_sparse_array, true, -1), j.encode_sparse_array()"##,
            r##"{["n"]=5,[1]=true,[2]=false,[3]=true,[4]=2,[5]=10}"##,
        ),
        (
            r##"local j = cjson.new(); return j.encode_keep_buffer(false), j.encode({1}), j.encode_keep_buffer("on"), j.encode({2})"##,
            r##"{["n"]=5,[1]=true,[2]=false,[3]="[1]",[4]=true,[5]="[2]"}"##,
        ),
        (
            r##"local j = cjson.new(); return j.encode_keep_buffer("yes")"##,
            r##"{["n"]=2,[1]=false,[2]="user_script:1: bad argument #1 to 'encode_keep_buffer' (invalid option 'yes')"}"##,
        ),
        (
            r##"return pcall(cjson.decode, '{')"##,
            r##"{["n"]=3,[1]=true,[2]=false,[3]="Expected object key string but found T_END at character 2"}"##,
        ),
        (
            r##"return pcall(cjson.encode, {f=string.len})"##,
            r##"{["n"]=3,[1]=true,[2]=false,[3]="Cannot serialise function: type not supported"}"##,
        ),
        (
            r##"return cjson.encode({[-0.0]=1})"##,
            r##"{["n"]=2,[1]=true,[2]="{"-0":1}"}"##,
        ),
        (
            r##"return cjson.encode({[3]=1,[1]=1,[2]=2})"##,
            r##"{["n"]=2,[1]=true,[2]="[1,2,1]"}"##,
        ),
        (
            r##"return cjson.encode({["a/b"]="c/d"})"##,
            r##"{["n"]=2,[1]=true,[2]="{"a\/b":"c\/d"}"}"##,
        ),
        (
            r##"return cjson.encode(string.char(0,1,2,200,255))"##,
            r##"{["n"]=2,[1]=true,[2]=""\u0000\u0001\u0002\200\255""}"##,
        ),
        (
            r##"return cjson.decode(string.char(34,200,255,34))"##,
            r##"{["n"]=2,[1]=true,[2]="\200\255"}"##,
        ),
        (
            r##"return cjson.decode('"\\uD83D\\uDE00"'), cjson.decode('"\\uFFFF"'), cjson.decode('"\\u07FF\\u0800"')"##,
            r##"{["n"]=4,[1]=true,[2]="\240\159\152\128",[3]="\239\191\191",[4]="\223\191\224\160\128"}"##,
        ),
        (
            r##"return cjson.encode(cjson.decode('[1.5,-2,3e20,"\\u00e9"]'))"##,
            r##"{["n"]=2,[1]=true,[2]="[1.5,-2,3e+20,"\195\169"]"}"##,
        ),
        (
            r##"return cjson.decode('[1, 2, [3, [4, {"x": [5]}]]]')[3][2][2].x[1]"##,
            r##"{["n"]=2,[1]=true,[2]=5}"##,
        ),
        (
            r##"return cjson.encode({1, 2, 3, [5] = 5})"##,
            r##"{["n"]=2,[1]=true,[2]="[1,2,3,null,5]"}"##,
        ),
        (
            r##"return cjson.encode({n = 0.1 + 0.2})"##,
            r##"{["n"]=2,[1]=true,[2]="{"n":0.3}"}"##,
        ),
        (
            r##"return cjson.encode(12345678901234567890)"##,
            r##"{["n"]=2,[1]=true,[2]="1.2345678901235e+19"}"##,
        ),
        (
            r##"return cjson.encode(-123.456)"##,
            r##"{["n"]=2,[1]=true,[2]="-123.456"}"##,
        ),
        (
            r##"local j = cjson.new(); j.encode_number_precision(1); return j.encode({1.5, 2.5, 15, 0.05})"##,
            r##"{["n"]=2,[1]=true,[2]="[2,2,2e+01,0.05]"}"##,
        ),
        (
            r##"return cjson.new().null == cjson.null, cjson.new()._NAME"##,
            r##"{["n"]=3,[1]=true,[2]=true,[3]="cjson"}"##,
        ),
        (
            r##"return cjson.decode('{"a":[1,2,{"b":null}],"c":"d"}').a[3].b == cjson.null"##,
            r##"{["n"]=2,[1]=true,[2]=true}"##,
        ),
        (
            r##"return cjson.decode('"\\u0041\\u00"')"##,
            r##"{["n"]=2,[1]=false,[2]="user_script:1: Expected value but found invalid unicode escape code at character 8"}"##,
        ),
        (
            r##"return cjson.decode('"\\u')"##,
            r##"{["n"]=2,[1]=false,[2]="user_script:1: Expected value but found invalid unicode escape code at character 2"}"##,
        ),
        (
            r##"return cjson.decode('"\\')"##,
            r##"{["n"]=2,[1]=false,[2]="user_script:1: Expected value but found invalid escape code at character 2"}"##,
        ),
        (
            r##"return cjson.decode('[1,"a\\q"]')"##,
            r##"{["n"]=2,[1]=false,[2]="user_script:1: Expected value but found invalid escape code at character 6"}"##,
        ),
        (
            r##"return cjson.decode('{"a":1, "b": 2')"##,
            r##"{["n"]=2,[1]=false,[2]="user_script:1: Expected comma or object end but found T_END at character 15"}"##,
        ),
        (
            r##"return cjson.decode('{"a":1, "b"')"##,
            r##"{["n"]=2,[1]=false,[2]="user_script:1: Expected colon but found T_END at character 12"}"##,
        ),
        (
            r##"return cjson.decode('{"a":1, "b":')"##,
            r##"{["n"]=2,[1]=false,[2]="user_script:1: Expected value but found T_END at character 13"}"##,
        ),
        (
            r##"return cjson.decode('{"a"')"##,
            r##"{["n"]=2,[1]=false,[2]="user_script:1: Expected colon but found T_END at character 5"}"##,
        ),
        (
            r##"return cjson.decode('{')"##,
            r##"{["n"]=2,[1]=false,[2]="user_script:1: Expected object key string but found T_END at character 2"}"##,
        ),
        (
            r##"return cjson.decode('[')"##,
            r##"{["n"]=2,[1]=false,[2]="user_script:1: Expected value but found T_END at character 2"}"##,
        ),
        (
            r##"return cjson.decode(']')"##,
            r##"{["n"]=2,[1]=false,[2]="user_script:1: Expected value but found T_ARR_END at character 1"}"##,
        ),
        (
            r##"return cjson.decode(':')"##,
            r##"{["n"]=2,[1]=false,[2]="user_script:1: Expected value but found T_COLON at character 1"}"##,
        ),
        (
            r##"return cjson.decode('I')"##,
            r##"{["n"]=2,[1]=false,[2]="user_script:1: Expected value but found invalid token at character 1"}"##,
        ),
        (
            r##"return cjson.decode('infx')"##,
            r##"{["n"]=2,[1]=false,[2]="user_script:1: Expected the end but found invalid token at character 4"}"##,
        ),
        (
            r##"return cjson.decode('nan(123)')"##,
            r##"{["n"]=2,[1]=true,[2]=nan}"##,
        ),
        (
            r##"return cjson.decode('0x')"##,
            r##"{["n"]=2,[1]=false,[2]="user_script:1: Expected the end but found invalid token at character 2"}"##,
        ),
        (
            r##"return cjson.decode('1e')"##,
            r##"{["n"]=2,[1]=false,[2]="user_script:1: Expected the end but found invalid token at character 2"}"##,
        ),
        (
            r##"return cjson.decode('-a')"##,
            r##"{["n"]=2,[1]=false,[2]="user_script:1: Expected value but found invalid number at character 1"}"##,
        ),
        (
            r##"local t = {} for i = 1, 20000 do t['k' .. i] = {i, 'v' .. i} end local s = cjson.encode(t) local n = 0 for k in pairs(cjson.decode(s)) do n = n + 1 end return #s, n"##,
            r##"{["n"]=3,[1]=true,[2]=486683,[3]=20000}"##,
        ),
    ];

    #[test]
    fn matches_redis() {
        check(CASES);
    }

    #[test]
    fn round_trips() {
        let lua = state();
        let out: String = lua
            .load(
                r#"local j = [[{"a":[1,2.5,"x\/y",true,false,null,{"b":{}}],"c":"\u00e9\n"}]]
                local v = cjson.decode(j)
                local again = cjson.decode(cjson.encode(v))
                return cjson.encode(again.a) .. again.c"#,
            )
            .eval()
            .unwrap();
        assert_eq!(out, "[1,2.5,\"x\\/y\",true,false,null,{\"b\":{}}]\u{e9}\n");
    }

    #[test]
    fn configurations_are_separate() {
        let lua = state();
        let out: String = lua
            .load(
                "local a, b = cjson.new(), cjson.new() a.encode_number_precision(2) \
                 return a.encode(1/3) .. ' ' .. b.encode(1/3) .. ' ' .. cjson.encode(1/3)",
            )
            .eval()
            .unwrap();
        assert_eq!(out, "0.33 0.33333333333333 0.33333333333333");
    }
}
