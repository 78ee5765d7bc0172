//! `cmsgpack`: lua-cmsgpack 0.4.0, MessagePack encoding and decoding.

use mlua::{Lua, MultiValue, Table, Value};

use super::{c_function, check_integer, check_string, table_results, LibResult, Raise};

/// Tables nested deeper than this are encoded as nil (`LUACMSGPACK_MAX_NESTING`).
const MAX_NESTING: u32 = 16;
/// `LUAI_MAXCSTACK`: the Lua stack slots a C function may use.
const MAX_C_STACK: usize = 8000;

// ===== Encoding =====

fn encode_length(out: &mut Vec<u8>, n: usize, fix: u8, fix_max: usize, code16: u8) {
    if n <= fix_max {
        out.push(fix | n as u8);
    } else if n <= 0xffff {
        out.push(code16);
        out.extend((n as u16).to_be_bytes());
    } else {
        out.push(code16 + 1);
        out.extend((n as u32).to_be_bytes());
    }
}

fn encode_bytes(out: &mut Vec<u8>, s: &[u8]) {
    match s.len() {
        n if n < 32 => out.push(0xa0 | n as u8),
        n if n <= 0xff => out.extend([0xd9, n as u8]),
        n if n <= 0xffff => {
            out.push(0xda);
            out.extend((n as u16).to_be_bytes());
        }
        n => {
            out.push(0xdb);
            out.extend((n as u32).to_be_bytes());
        }
    }
    out.extend_from_slice(s);
}

fn encode_int(out: &mut Vec<u8>, n: i64) {
    match n {
        0..=127 => out.push(n as u8),
        128..=0xff => out.extend([0xcc, n as u8]),
        0x100..=0xffff => {
            out.push(0xcd);
            out.extend((n as u16).to_be_bytes());
        }
        0x1_0000..=0xffff_ffff => {
            out.push(0xce);
            out.extend((n as u32).to_be_bytes());
        }
        0x1_0000_0000.. => {
            out.push(0xcf);
            out.extend(n.to_be_bytes());
        }
        -32..=-1 => out.push(n as u8),
        -128..=-33 => out.extend([0xd0, n as u8]),
        -32768..=-129 => {
            out.push(0xd1);
            out.extend((n as i16).to_be_bytes());
        }
        -2_147_483_648..=-32769 => {
            out.push(0xd2);
            out.extend((n as i32).to_be_bytes());
        }
        _ => {
            out.push(0xd3);
            out.extend(n.to_be_bytes());
        }
    }
}

fn encode_number(out: &mut Vec<u8>, n: f64) {
    let i = super::double_to_i64(n);
    if !n.is_infinite() && i as f64 == n {
        encode_int(out, i);
    } else if n == n as f32 as f64 {
        out.push(0xca);
        out.extend((n as f32).to_be_bytes());
    } else {
        out.push(0xcb);
        out.extend(n.to_be_bytes());
    }
}

/// `table_is_an_array`: keys exactly 1..n.
fn is_array(t: &Table) -> mlua::Result<bool> {
    let (mut count, mut max) = (0i32, 0i32);
    for pair in t.pairs::<Value, Value>() {
        let n = match pair?.0 {
            Value::Integer(i) => i as f64,
            Value::Number(n) => n,
            _ => return Ok(false),
        };
        // The key must be a positive number that an int holds exactly.
        let as_int = if n.is_nan() || !(-2_147_483_649.0..2_147_483_648.0).contains(&n) {
            i32::MIN
        } else {
            n as i32
        };
        if n <= 0.0 || n.is_infinite() || as_int as f64 != n {
            return Ok(false);
        }
        max = max.max(as_int);
        count += 1;
    }
    Ok(max == count)
}

fn encode_value(out: &mut Vec<u8>, v: &Value, level: u32) -> mlua::Result<()> {
    match v {
        Value::String(s) => encode_bytes(out, &s.as_bytes()),
        Value::Boolean(b) => out.push(if *b { 0xc3 } else { 0xc2 }),
        Value::Integer(i) => encode_number(out, *i as f64),
        Value::Number(n) => encode_number(out, *n),
        Value::Table(t) if level < MAX_NESTING => {
            if is_array(t)? {
                let len = t.raw_len();
                encode_length(out, len, 0x90, 15, 0xdc);
                for i in 1..=len {
                    encode_value(out, &t.raw_get::<Value>(i)?, level + 1)?;
                }
            } else {
                let len = t.pairs::<Value, Value>().count();
                encode_length(out, len, 0x80, 15, 0xde);
                for pair in t.pairs::<Value, Value>() {
                    let (k, v) = pair?;
                    encode_value(out, &k, level + 1)?;
                    encode_value(out, &v, level + 1)?;
                }
            }
        }
        // nil, tables nested too deep, functions, userdata, threads.
        _ => out.push(0xc0),
    }
    Ok(())
}

fn pack(lua: &Lua, args: MultiValue) -> LibResult<MultiValue> {
    if args.is_empty() {
        return Err(Raise::arg(0, "MessagePack pack needs input."));
    }
    if args.len() * 2 > MAX_C_STACK {
        return Err(Raise::arg(0, "Too many arguments for MessagePack pack."));
    }
    let mut out = Vec::new();
    for v in args.iter() {
        encode_value(&mut out, v, 0)?;
    }
    Ok(MultiValue::from_iter([Value::String(
        lua.create_string(out)?,
    )]))
}

// ===== Decoding =====

enum DecodeError {
    /// Not enough data ("Missing bytes in input.").
    Eof,
    /// An unknown type byte ("Bad data format in input.").
    BadFormat,
    /// An error raised while decoding (nil table key, stack overflow).
    Raise(Raise),
}

impl From<mlua::Error> for DecodeError {
    fn from(e: mlua::Error) -> Self {
        DecodeError::Raise(Raise::Lua(e))
    }
}

struct Cursor<'a> {
    data: &'a [u8],
    pos: usize,
}

impl Cursor<'_> {
    fn left(&self) -> usize {
        self.data.len() - self.pos
    }

    /// The `n` bytes at the cursor (without consuming them).
    fn need(&self, n: usize) -> Result<&[u8], DecodeError> {
        if self.left() < n {
            return Err(DecodeError::Eof);
        }
        Ok(&self.data[self.pos..self.pos + n])
    }

    /// The `N` bytes after the type byte, consuming both.
    fn fixed<const N: usize>(&mut self) -> Result<[u8; N], DecodeError> {
        let b = self.need(1 + N)?[1..].try_into().expect("N bytes");
        self.pos += 1 + N;
        Ok(b)
    }
}

/// A number pushed with `lua_pushinteger` (64-bit) or `lua_pushnumber`.
fn num(n: f64) -> Value {
    Value::Number(n)
}

/// A table being decoded: how many elements (or pairs) are still to come.
enum Open {
    Array { left: usize, next: i64 },
    Map { left: usize, key_done: bool },
}

impl Open {
    /// Lua stack slots the C decoder holds for this table while decoding its next item.
    fn slots(&self) -> usize {
        match self {
            Open::Array { .. } => 2,
            Open::Map { key_done, .. } => 1 + *key_done as usize,
        }
    }
}

/// What the type byte at the cursor starts.
enum Item {
    Value(Value),
    Array(usize),
    Map(usize),
}

fn stack_overflow(what: &str) -> DecodeError {
    DecodeError::Raise(Raise::msg(format!("stack overflow ({what})")))
}

/// Reads a scalar, or the header of an array or map, at the cursor.
fn decode_item(lua: &Lua, c: &mut Cursor) -> Result<Item, DecodeError> {
    let t = c.need(1)?[0];
    let v = match t {
        0xcc => num(c.fixed::<1>()?[0] as f64),
        0xd0 => num(c.fixed::<1>()?[0] as i8 as f64),
        0xcd => num(u16::from_be_bytes(c.fixed()?) as f64),
        0xd1 => num(i16::from_be_bytes(c.fixed()?) as f64),
        0xce => num(u32::from_be_bytes(c.fixed()?) as f64),
        0xd2 => num(i32::from_be_bytes(c.fixed()?) as f64),
        // Pushed as a 64-bit lua_Integer: values past 2^63 come out negative.
        0xcf => num(u64::from_be_bytes(c.fixed()?) as i64 as f64),
        0xd3 => num(i64::from_be_bytes(c.fixed()?) as f64),
        0xc0 => {
            c.pos += 1;
            Value::Nil
        }
        0xc3 | 0xc2 => {
            c.pos += 1;
            Value::Boolean(t == 0xc3)
        }
        0xca => num(f32::from_be_bytes(c.fixed()?) as f64),
        0xcb => num(f64::from_be_bytes(c.fixed()?)),
        0xd9 => {
            let l = c.need(2)?[1] as usize;
            string(lua, c, 2, l)?
        }
        0xda => {
            let l = u16::from_be_bytes(c.need(3)?[1..3].try_into().expect("2 bytes")) as usize;
            string(lua, c, 3, l)?
        }
        0xdb => {
            let l = u32::from_be_bytes(c.fixed()?) as usize;
            string(lua, c, 0, l)?
        }
        0xdc => return Ok(Item::Array(u16::from_be_bytes(c.fixed()?) as usize)),
        0xdd => return Ok(Item::Array(u32::from_be_bytes(c.fixed()?) as usize)),
        0xde => return Ok(Item::Map(u16::from_be_bytes(c.fixed()?) as usize)),
        0xdf => return Ok(Item::Map(u32::from_be_bytes(c.fixed()?) as usize)),
        _ if t & 0x80 == 0 => {
            c.pos += 1;
            num(t as f64)
        }
        _ if t & 0xe0 == 0xe0 => {
            c.pos += 1;
            num(t as i8 as f64)
        }
        _ if t & 0xe0 == 0xa0 => string(lua, c, 1, (t & 0x1f) as usize)?,
        _ if t & 0xf0 == 0x90 => {
            c.pos += 1;
            return Ok(Item::Array((t & 0xf) as usize));
        }
        _ if t & 0xf0 == 0x80 => {
            c.pos += 1;
            return Ok(Item::Map((t & 0xf) as usize));
        }
        _ => return Err(DecodeError::BadFormat),
    };
    Ok(Item::Value(v))
}

/// A string of `len` bytes after a header of `header` bytes at the cursor.
fn string(lua: &Lua, c: &mut Cursor, header: usize, len: usize) -> Result<Value, DecodeError> {
    let s = &c.need(header.saturating_add(len))?[header..];
    let v = Value::String(lua.create_string(s)?);
    c.pos += header + len;
    Ok(v)
}

/// Decodes one top-level value, without recursion: the tables (and keys) of the enclosing
/// levels are parked in a Lua table, as mlua could not hold thousands of handles.
/// `base` is the height of the Lua stack of the C decoder when it starts the value; it checks
/// for a free slot per value (and one more per array), which bounds the nesting.
fn decode_value(lua: &Lua, c: &mut Cursor, base: usize) -> Result<Value, DecodeError> {
    let mut levels: Vec<Open> = Vec::new();
    let mut parked: Option<Table> = None;
    let mut table: Option<Table> = None;
    let mut key = Value::Nil;
    let mut height = base;
    loop {
        if c.left() >= 1 && height + 1 > MAX_C_STACK {
            return Err(stack_overflow(
                "too many return values at once; use unpack_one or unpack_limit instead.",
            ));
        }
        let mut value = match decode_item(lua, c)? {
            Item::Value(v) => v,
            item => {
                let new = lua.create_table()?;
                let open = match item {
                    Item::Array(left) => {
                        if height + 2 > MAX_C_STACK {
                            return Err(stack_overflow("in function mp_decode_to_lua_array"));
                        }
                        Open::Array { left, next: 1 }
                    }
                    Item::Map(left) => Open::Map {
                        left,
                        key_done: false,
                    },
                    Item::Value(_) => unreachable!("handled above"),
                };
                let empty = matches!(
                    open,
                    Open::Array { left: 0, .. } | Open::Map { left: 0, .. }
                );
                if empty {
                    Value::Table(new)
                } else {
                    if let Some(parent) = table.replace(new) {
                        let p = match &parked {
                            Some(p) => p,
                            None => parked.insert(lua.create_table()?),
                        };
                        let d = levels.len() as i64;
                        p.raw_set(2 * d - 1, parent)?;
                        p.raw_set(2 * d, std::mem::take(&mut key))?;
                    }
                    height += open.slots();
                    levels.push(open);
                    continue;
                }
            }
        };
        // Store the value in its table, closing the tables it completes.
        loop {
            let (Some(open), Some(t)) = (levels.last_mut(), &table) else {
                return Ok(value);
            };
            height -= open.slots();
            match open {
                Open::Array { left, next } => {
                    t.raw_set(*next, value)?;
                    *next += 1;
                    *left -= 1;
                }
                Open::Map { left, key_done } => {
                    if !*key_done {
                        key = value;
                        *key_done = true;
                        height += open.slots();
                        break;
                    }
                    // lua_settable's own errors, raised without a position.
                    match std::mem::take(&mut key) {
                        Value::Nil => return Err(raw("table index is nil")),
                        Value::Number(n) if n.is_nan() => return Err(raw("table index is NaN")),
                        k => t.raw_set(k, value)?,
                    }
                    *key_done = false;
                    *left -= 1;
                }
            }
            let more =
                matches!(open, Open::Array { left, .. } | Open::Map { left, .. } if *left > 0);
            if more {
                height += open.slots();
                break;
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

fn raw(msg: &str) -> DecodeError {
    DecodeError::Raise(Raise::Raw(msg.as_bytes().to_vec()))
}

/// `mp_unpack_full`: decodes up to `limit` values from `offset`; `stacked` is the number of
/// arguments left on the C function's stack.
fn unpack_full(
    lua: &Lua,
    s: &[u8],
    limit: i64,
    offset: i64,
    stacked: usize,
) -> LibResult<MultiValue> {
    let len = s.len();
    let decode_all = limit == 0 && offset == 0;
    if offset < 0 || limit < 0 {
        return Err(Raise::msg(format!(
            "Invalid request to unpack with offset of {} and limit of {}.",
            offset as i32, len as i32
        )));
    }
    if offset as u64 > len as u64 {
        return Err(Raise::msg(format!(
            "Start offset {} greater than input length {}.",
            offset as i32, len as i32
        )));
    }
    let limit = if decode_all { i32::MAX as i64 } else { limit };
    let mut c = Cursor {
        data: s,
        pos: offset as usize,
    };
    // Results go to a Lua table as they come (any number of them, without holding a Rust
    // handle each); slot 1 is the offset when it is returned.
    let out = lua.create_table()?;
    let first = if decode_all { 1 } else { 2 };
    let mut count = 0usize;
    while c.left() > 0 && (count as i64) < limit {
        match decode_value(lua, &mut c, stacked + count) {
            Ok(v) => out.raw_set(first + count, v)?,
            Err(DecodeError::Eof) => return Err(Raise::msg("Missing bytes in input.")),
            Err(DecodeError::BadFormat) => return Err(Raise::msg("Bad data format in input.")),
            Err(DecodeError::Raise(r)) => return Err(r),
        }
        count += 1;
    }
    if decode_all {
        return table_results(out, count);
    }
    let next = if c.left() == 0 { -1 } else { c.pos as i64 };
    out.raw_set(1, next)?;
    table_results(out, count + 1)
}

fn unpack(lua: &Lua, args: MultiValue) -> LibResult<MultiValue> {
    let args: Vec<Value> = args.into_iter().collect();
    let s = check_string(lua, &args, 1)?;
    unpack_full(lua, &s.as_bytes(), 0, 0, args.len())
}

/// `luaL_optinteger`.
fn opt_integer(lua: &Lua, args: &[Value], n: usize, default: i64) -> LibResult<i64> {
    match args.get(n - 1) {
        None | Some(Value::Nil) => Ok(default),
        Some(_) => check_integer(lua, args, n),
    }
}

fn unpack_one(lua: &Lua, args: MultiValue) -> LibResult<MultiValue> {
    let args: Vec<Value> = args.into_iter().collect();
    let offset = opt_integer(lua, &args, 2, 0)?;
    let s = check_string(lua, &args, 1)?;
    unpack_full(lua, &s.as_bytes(), 1, offset, 1)
}

fn unpack_limit(lua: &Lua, args: MultiValue) -> LibResult<MultiValue> {
    let args: Vec<Value> = args.into_iter().collect();
    let limit = check_integer(lua, &args, 2)?;
    let offset = opt_integer(lua, &args, 3, 0)?;
    let s = check_string(lua, &args, 1)?;
    unpack_full(lua, &s.as_bytes(), limit, offset, 1)
}

/// Creates the `cmsgpack` table.
pub fn open(lua: &Lua) -> mlua::Result<Table> {
    let t = lua.create_table()?;
    t.raw_set("pack", c_function(lua, pack)?)?;
    t.raw_set("unpack", c_function(lua, unpack)?)?;
    t.raw_set("unpack_one", c_function(lua, unpack_one)?)?;
    t.raw_set("unpack_limit", c_function(lua, unpack_limit)?)?;
    t.raw_set("_NAME", "cmsgpack")?;
    t.raw_set("_VERSION", "lua-cmsgpack 0.4.0")?;
    t.raw_set("_COPYRIGHT", "Copyright (C) 2012, Salvatore Sanfilippo")?;
    t.raw_set("_DESCRIPTION", "MessagePack C implementation for Lua")?;
    Ok(t)
}

#[cfg(test)]
mod tests {
    use super::super::testutil::check;

    /// Snippets and their results from redis-server 7.0.15.
    const CASES: &[(&str, &str)] = &[
        (
            r##"local function hex(s) return (s:gsub('.', function(c) return string.format('%02x', c:byte()) end)) end return hex(cmsgpack.pack(0)), hex(cmsgpack.pack(127)), hex(cmsgpack.pack(128)), hex(cmsgpack.pack(255)), hex(cmsgpack.pack(256)), hex(cmsgpack.pack(65535)), hex(cmsgpack.pack(65536)), hex(cmsgpack.pack(2^32-1)), hex(cmsgpack.pack(2^32)), hex(cmsgpack.pack(2^53))"##,
            r##"{["n"]=11,[1]=true,[10]="cf0000000100000000",[11]="cf0020000000000000",[2]="00",[3]="7f",[4]="cc80",[5]="ccff",[6]="cd0100",[7]="cdffff",[8]="ce00010000",[9]="ceffffffff"}"##,
        ),
        (
            r##"local function hex(s) return (s:gsub('.', function(c) return string.format('%02x', c:byte()) end)) end return hex(cmsgpack.pack(-1)), hex(cmsgpack.pack(-32)), hex(cmsgpack.pack(-33)), hex(cmsgpack.pack(-128)), hex(cmsgpack.pack(-129)), hex(cmsgpack.pack(-32768)), hex(cmsgpack.pack(-32769)), hex(cmsgpack.pack(-2^31)), hex(cmsgpack.pack(-2^31-1)), hex(cmsgpack.pack(-2^63))"##,
            r##"{["n"]=11,[1]=true,[10]="d3ffffffff7fffffff",[11]="d38000000000000000",[2]="ff",[3]="e0",[4]="d0df",[5]="d080",[6]="d1ff7f",[7]="d18000",[8]="d2ffff7fff",[9]="d280000000"}"##,
        ),
        (
            r##"local function hex(s) return (s:gsub('.', function(c) return string.format('%02x', c:byte()) end)) end return hex(cmsgpack.pack(1.5)), hex(cmsgpack.pack(0.1)), hex(cmsgpack.pack(-0.0)), hex(cmsgpack.pack(1/0)), hex(cmsgpack.pack(-1/0)), hex(cmsgpack.pack(0/0)), hex(cmsgpack.pack(2^63)), hex(cmsgpack.pack(2^64)), hex(cmsgpack.pack(1e300))"##,
            r##"{["n"]=10,[1]=true,[10]="cb7e37e43c8800759c",[2]="ca3fc00000",[3]="cb3fb999999999999a",[4]="00",[5]="caff800000",[6]="ca7f800000",[7]="cbfff8000000000000",[8]="ca5f000000",[9]="ca5f800000"}"##,
        ),
        (
            r##"local function hex(s) return (s:gsub('.', function(c) return string.format('%02x', c:byte()) end)) end return hex(cmsgpack.pack('')), hex(cmsgpack.pack('abc')), hex(cmsgpack.pack(string.rep('x', 31))):sub(1, 4), hex(cmsgpack.pack(string.rep('x', 32))):sub(1, 6), hex(cmsgpack.pack(string.rep('x', 255))):sub(1, 6), hex(cmsgpack.pack(string.rep('x', 256))):sub(1, 8), hex(cmsgpack.pack(string.rep('x', 65536))):sub(1, 12), #cmsgpack.pack(string.rep('x', 65536))"##,
            r##"{["n"]=9,[1]=true,[2]="a0",[3]="a3616263",[4]="bf78",[5]="d92078",[6]="d9ff78",[7]="da010078",[8]="db0001000078",[9]=65541}"##,
        ),
        (
            r##"local function hex(s) return (s:gsub('.', function(c) return string.format('%02x', c:byte()) end)) end return hex(cmsgpack.pack(true)), hex(cmsgpack.pack(false)), hex(cmsgpack.pack(nil)), hex(cmsgpack.pack(cjson.null)), hex(cmsgpack.pack(string.len)), hex(cmsgpack.pack(coroutine.create(function() end)))"##,
            r##"{["n"]=7,[1]=true,[2]="c3",[3]="c2",[4]="c0",[5]="c0",[6]="c0",[7]="c0"}"##,
        ),
        (
            r##"local function hex(s) return (s:gsub('.', function(c) return string.format('%02x', c:byte()) end)) end return hex(cmsgpack.pack({})), hex(cmsgpack.pack({1, 2, 3})), hex(cmsgpack.pack({a = 1})), hex(cmsgpack.pack({1, nil, 3})), hex(cmsgpack.pack({[2] = 1})), hex(cmsgpack.pack({[1.5] = 1})), hex(cmsgpack.pack({[0] = 1})), hex(cmsgpack.pack({1, 2, x = 3}))"##,
            r##"{["n"]=9,[1]=true,[2]="90",[3]="93010203",[4]="81a16101",[5]="8201010303",[6]="810201",[7]="81ca3fc0000001",[8]="810001",[9]="8301010202a17803"}"##,
        ),
        (
            r##"local function hex(s) return (s:gsub('.', function(c) return string.format('%02x', c:byte()) end)) end local t = {} for i = 1, 16 do t[i] = i end local m = {} for i = 1, 16 do m['k' .. i] = i end return hex(cmsgpack.pack(t)):sub(1, 8), hex(cmsgpack.pack(m)):sub(1, 6), #cmsgpack.pack(m)"##,
            r##"{["n"]=4,[1]=true,[2]="dc001001",[3]="de0010",[4]=74}"##,
        ),
        (
            r##"local function hex(s) return (s:gsub('.', function(c) return string.format('%02x', c:byte()) end)) end local t = {} for i = 1, 65536 do t[i] = 0 end return hex(cmsgpack.pack(t)):sub(1, 12), #cmsgpack.pack(t)"##,
            r##"{["n"]=3,[1]=true,[2]="dd0001000000",[3]=65541}"##,
        ),
        (
            r##"local function hex(s) return (s:gsub('.', function(c) return string.format('%02x', c:byte()) end)) end local t = {} t[1] = t return hex(cmsgpack.pack(t))"##,
            r##"{["n"]=2,[1]=true,[2]="91919191919191919191919191919191c0"}"##,
        ),
        (
            r##"local function hex(s) return (s:gsub('.', function(c) return string.format('%02x', c:byte()) end)) end local t = {} t.a = t return hex(cmsgpack.pack(t))"##,
            r##"{["n"]=2,[1]=true,[2]="81a16181a16181a16181a16181a16181a16181a16181a16181a16181a16181a16181a16181a16181a16181a16181a161c0"}"##,
        ),
        (
            r##"local function hex(s) return (s:gsub('.', function(c) return string.format('%02x', c:byte()) end)) end return hex(cmsgpack.pack(1, 'a', {true}, nil))"##,
            r##"{["n"]=2,[1]=true,[2]="01a16191c3c0"}"##,
        ),
        (
            r##"return cmsgpack.pack()"##,
            r##"{["n"]=2,[1]=false,[2]="user_script:1: bad argument #0 to 'pack' (MessagePack pack needs input.)"}"##,
        ),
        (
            r##"return cmsgpack.unpack(cmsgpack.pack(1, -1, 1.5, 'abc', true, false, 2^40, -2^40, 0.1))"##,
            r##"{["n"]=10,[1]=true,[10]=0.10000000000000001,[2]=1,[3]=-1,[4]=1.5,[5]="abc",[6]=true,[7]=false,[8]=1099511627776,[9]=-1099511627776}"##,
        ),
        (
            r##"return cmsgpack.unpack(cmsgpack.pack({1, 2, {a = {b = 'c'}}, 'x'}))"##,
            r##"{["n"]=2,[1]=true,[2]={[1]=1,[2]=2,[3]={["a"]={["b"]="c"}},[4]="x"}}"##,
        ),
        (
            r##"return cmsgpack.unpack(cmsgpack.pack(nil, 1, nil))"##,
            r##"{["n"]=4,[1]=true,[3]=1}"##,
        ),
        (r##"return cmsgpack.unpack('')"##, r##"{["n"]=1,[1]=true}"##),
        (
            r##"return cmsgpack.unpack('\207\255\255\255\255\255\255\255\255'), cmsgpack.unpack('\207\127\255\255\255\255\255\255\255'), cmsgpack.unpack('\211\128\0\0\0\0\0\0\0')"##,
            r##"{["n"]=4,[1]=true,[2]=-1,[3]=9.2233720368547758e+18,[4]=-9.2233720368547758e+18}"##,
        ),
        (
            r##"return cmsgpack.unpack('\204\200'), cmsgpack.unpack('\208\200'), cmsgpack.unpack('\205\255\254'), cmsgpack.unpack('\209\255\254'), cmsgpack.unpack('\206\255\255\255\254'), cmsgpack.unpack('\210\255\255\255\254'), cmsgpack.unpack('\224'), cmsgpack.unpack('\127')"##,
            r##"{["n"]=9,[1]=true,[2]=200,[3]=-56,[4]=65534,[5]=-2,[6]=4294967294,[7]=-2,[8]=-32,[9]=127}"##,
        ),
        (
            r##"return cmsgpack.unpack('\202\63\192\0\0'), cmsgpack.unpack('\203\63\248\0\0\0\0\0\0')"##,
            r##"{["n"]=3,[1]=true,[2]=1.5,[3]=1.5}"##,
        ),
        (
            r##"return cmsgpack.unpack('\217\3abc'), cmsgpack.unpack('\218\0\2ab'), cmsgpack.unpack('\219\0\0\0\1z'), cmsgpack.unpack('\163xyz')"##,
            r##"{["n"]=5,[1]=true,[2]="abc",[3]="ab",[4]="z",[5]="xyz"}"##,
        ),
        (
            r##"return cmsgpack.unpack('\220\0\2\1\2'), cmsgpack.unpack('\221\0\0\0\1\5'), cmsgpack.unpack('\222\0\1\161a\1'), cmsgpack.unpack('\223\0\0\0\1\1\2')"##,
            r##"{["n"]=5,[1]=true,[2]={[1]=1,[2]=2},[3]={[1]=5},[4]={["a"]=1},[5]={[1]=2}}"##,
        ),
        (
            r##"return cmsgpack.unpack('\146\1')"##,
            r##"{["n"]=2,[1]=false,[2]="user_script:1: Missing bytes in input."}"##,
        ),
        (
            r##"return cmsgpack.unpack('\217\5ab')"##,
            r##"{["n"]=2,[1]=false,[2]="user_script:1: Missing bytes in input."}"##,
        ),
        (
            r##"return cmsgpack.unpack('\217')"##,
            r##"{["n"]=2,[1]=false,[2]="user_script:1: Missing bytes in input."}"##,
        ),
        (
            r##"return cmsgpack.unpack('\219\0\0\0\9ab')"##,
            r##"{["n"]=2,[1]=false,[2]="user_script:1: Missing bytes in input."}"##,
        ),
        (
            r##"return cmsgpack.unpack('\205\1')"##,
            r##"{["n"]=2,[1]=false,[2]="user_script:1: Missing bytes in input."}"##,
        ),
        (
            r##"return cmsgpack.unpack('\193')"##,
            r##"{["n"]=2,[1]=false,[2]="user_script:1: Bad data format in input."}"##,
        ),
        (
            r##"return cmsgpack.unpack('\196\1a')"##,
            r##"{["n"]=2,[1]=false,[2]="user_script:1: Bad data format in input."}"##,
        ),
        (
            r##"return cmsgpack.unpack('\1\193')"##,
            r##"{["n"]=2,[1]=false,[2]="user_script:1: Bad data format in input."}"##,
        ),
        (
            r##"return cmsgpack.unpack('\145\193')"##,
            r##"{["n"]=2,[1]=false,[2]="user_script:1: Bad data format in input."}"##,
        ),
        (
            r##"return cmsgpack.unpack('\129\192\1')"##,
            r##"{["n"]=2,[1]=false,[2]="table index is nil"}"##,
        ),
        (
            r##"return cmsgpack.unpack('\129\203\255\248\0\0\0\0\0\0\1')"##,
            r##"{["n"]=2,[1]=false,[2]="table index is NaN"}"##,
        ),
        (
            r##"return cmsgpack.unpack('\130\1\192\2\3')"##,
            r##"{["n"]=2,[1]=true,[2]={[2]=3}}"##,
        ),
        (
            r##"return cmsgpack.unpack('\147\1\192\3')"##,
            r##"{["n"]=2,[1]=true,[2]={[1]=1,[3]=3}}"##,
        ),
        (
            r##"return cmsgpack.unpack({})"##,
            r##"{["n"]=2,[1]=false,[2]="user_script:1: bad argument #1 to 'unpack' (string expected, got table)"}"##,
        ),
        (
            r##"return cmsgpack.unpack(12)"##,
            r##"{["n"]=3,[1]=true,[2]=49,[3]=50}"##,
        ),
        (
            r##"return cmsgpack.unpack_one(cmsgpack.pack(1, 2, 3))"##,
            r##"{["n"]=3,[1]=true,[2]=1,[3]=1}"##,
        ),
        (
            r##"return cmsgpack.unpack_one(cmsgpack.pack(1, 2, 3), 1)"##,
            r##"{["n"]=3,[1]=true,[2]=2,[3]=2}"##,
        ),
        (
            r##"return cmsgpack.unpack_one(cmsgpack.pack(1, 2, 3), 2)"##,
            r##"{["n"]=3,[1]=true,[2]=-1,[3]=3}"##,
        ),
        (
            r##"return cmsgpack.unpack_one(cmsgpack.pack(1, 2, 3), 3)"##,
            r##"{["n"]=2,[1]=true,[2]=-1}"##,
        ),
        (
            r##"return cmsgpack.unpack_one(cmsgpack.pack(1, 2, 3), 4)"##,
            r##"{["n"]=2,[1]=false,[2]="user_script:1: Start offset 4 greater than input length 3."}"##,
        ),
        (
            r##"return cmsgpack.unpack_one(cmsgpack.pack(1, 2, 3), -1)"##,
            r##"{["n"]=2,[1]=false,[2]="user_script:1: Invalid request to unpack with offset of -1 and limit of 3."}"##,
        ),
        (
            r##"return cmsgpack.unpack_one(cmsgpack.pack(1, 2, 3), 'x')"##,
            r##"{["n"]=2,[1]=false,[2]="user_script:1: bad argument #2 to 'unpack_one' (number expected, got string)"}"##,
        ),
        (
            r##"return cmsgpack.unpack_one('')"##,
            r##"{["n"]=2,[1]=true,[2]=-1}"##,
        ),
        (
            r##"return cmsgpack.unpack_limit(cmsgpack.pack(1, 2, 3), 2)"##,
            r##"{["n"]=4,[1]=true,[2]=2,[3]=1,[4]=2}"##,
        ),
        (
            r##"return cmsgpack.unpack_limit(cmsgpack.pack(1, 2, 3), 2, 2)"##,
            r##"{["n"]=3,[1]=true,[2]=-1,[3]=3}"##,
        ),
        (
            r##"return cmsgpack.unpack_limit(cmsgpack.pack(1, 2, 3), 0)"##,
            r##"{["n"]=4,[1]=true,[2]=1,[3]=2,[4]=3}"##,
        ),
        (
            r##"return cmsgpack.unpack_limit(cmsgpack.pack(1, 2, 3), 0, 1)"##,
            r##"{["n"]=2,[1]=true,[2]=1}"##,
        ),
        (
            r##"return cmsgpack.unpack_limit(cmsgpack.pack(1, 2, 3), 10, 0)"##,
            r##"{["n"]=5,[1]=true,[2]=-1,[3]=1,[4]=2,[5]=3}"##,
        ),
        (
            r##"return cmsgpack.unpack_limit(cmsgpack.pack(1, 2, 3), -1)"##,
            r##"{["n"]=2,[1]=false,[2]="user_script:1: Invalid request to unpack with offset of 0 and limit of 3."}"##,
        ),
        (
            r##"return cmsgpack.unpack_limit(cmsgpack.pack(1, 2, 3))"##,
            r##"{["n"]=2,[1]=false,[2]="user_script:1: bad argument #2 to 'unpack_limit' (number expected, got no value)"}"##,
        ),
        (
            r##"return cmsgpack.unpack_limit(cmsgpack.pack(1, 2, 3), 1, 'z')"##,
            r##"{["n"]=2,[1]=false,[2]="user_script:1: bad argument #3 to 'unpack_limit' (number expected, got string)"}"##,
        ),
        (
            r##"return cmsgpack.unpack_limit(cmsgpack.pack('abc', 'def'), 1, 1)"##,
            r##"{["n"]=3,[1]=true,[2]=2,[3]=97}"##,
        ),
        (
            r##"return cmsgpack._NAME, cmsgpack._VERSION, cmsgpack._COPYRIGHT, cmsgpack._DESCRIPTION"##,
            r##"{["n"]=5,[1]=true,[2]="cmsgpack",[3]="lua-cmsgpack 0.4.0",[4]="Copyright (C) 2012, Salvatore Sanfilippo",[5]="MessagePack C implementation for Lua"}"##,
        ),
        (
            r##"local t = {} for i = 1, 20 do t = {t} end local u = cmsgpack.unpack(cmsgpack.pack(t)) local d = 0 while type(u) == 'table' do d = d + 1 u = u[1] end return d, u"##,
            r##"{["n"]=3,[1]=true,[2]=16}"##,
        ),
        (
            r##"local s = string.rep('\145', 3998) .. '\1' return #cmsgpack.pack(cmsgpack.unpack(s))"##,
            r##"{["n"]=2,[1]=true,[2]=17}"##,
        ),
        (
            r##"local s = string.rep('\145', 3999) .. '\1' local u = cmsgpack.unpack(s) local d = 0 while type(u) == 'table' do d = d + 1 u = u[1] end return d, u"##,
            r##"{["n"]=3,[1]=true,[2]=3999,[3]=1}"##,
        ),
        (
            r##"local s = string.rep('\145', 5000) .. '\1' return cmsgpack.unpack(s)"##,
            r##"{["n"]=2,[1]=false,[2]="user_script:1: stack overflow (in function mp_decode_to_lua_array)"}"##,
        ),
        (
            r##"local s = string.rep('\129\1', 3000) .. '\1' local u = cmsgpack.unpack(s) local d = 0 while type(u) == 'table' do d = d + 1 u = u[1] end return d, u"##,
            r##"{["n"]=3,[1]=true,[2]=3000,[3]=1}"##,
        ),
        (
            r##"local s = string.rep('\129\1', 5000) .. '\1' return cmsgpack.unpack(s)"##,
            r##"{["n"]=2,[1]=false,[2]="user_script:1: stack overflow (too many return values at once; use unpack_one or unpack_limit instead.)"}"##,
        ),
        (
            r##"return #{cmsgpack.unpack(string.rep('\1', 7998))}"##,
            r##"{["n"]=2,[1]=true,[2]=7998}"##,
        ),
        (
            r##"return #{cmsgpack.unpack(string.rep('\1', 7999))}"##,
            r##"{["n"]=2,[1]=true,[2]=7999}"##,
        ),
        (
            r##"return #{cmsgpack.unpack(string.rep('\161a', 7998))}"##,
            r##"{["n"]=2,[1]=true,[2]=7998}"##,
        ),
        (
            r##"return select('#', cmsgpack.unpack_limit(string.rep('\1', 100), 50))"##,
            r##"{["n"]=2,[1]=true,[2]=51}"##,
        ),
        (
            r##"local t = {} for i = 1, 20000 do t['k' .. i] = 'v' .. i end local s = cmsgpack.pack(t) local n = 0 for k in pairs(cmsgpack.unpack(s)) do n = n + 1 end return #s, n"##,
            r##"{["n"]=3,[1]=true,[2]=257791,[3]=20000}"##,
        ),
    ];

    #[test]
    fn matches_redis() {
        check(CASES);
    }
}
