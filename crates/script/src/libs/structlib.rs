//! `struct`: Roberto Ierusalimschy's library for packing and unpacking binary structures,
//! as Redis ships it (with its bounds checks on unpacking).
//!
//! Formats: `>` big endian, `<` little endian, `![n]` alignment, `x` padding, `b/B` byte,
//! `h/H` short, `l/L` long, `T` size_t, `i/In` int of n bytes, `cn` n chars, `s` zero-terminated
//! string, `f` float, `d` double, ` ` ignored. Sizes are those of x86-64 Linux.

use mlua::{Lua, MultiValue, Table, Value};

use super::{
    c_function, check_number, check_string, double_to_i64, number, to_number, LibResult, Raise,
};

/// Maximum size of an integer (`MAXINTSIZE`).
const MAX_INT_SIZE: usize = 32;
/// Default alignment of `!` (`MAXALIGN`: the alignment of a double).
const MAX_ALIGN: i64 = 8;
/// `LUAI_MAXCSTACK`, which bounds how many results `unpack` can return.
const MAX_C_STACK: usize = 8000;

#[derive(Clone, Copy, PartialEq)]
enum Endian {
    Big,
    Little,
}

struct Header {
    endian: Endian,
    align: usize,
}

impl Default for Header {
    fn default() -> Self {
        Header {
            endian: Endian::Little,
            align: 1,
        }
    }
}

/// The format string, read as C reads it (up to its first NUL).
struct Format<'a> {
    fmt: &'a [u8],
    pos: usize,
}

impl Format<'_> {
    fn next_option(&mut self) -> Option<u8> {
        let c = *self.fmt.get(self.pos)?;
        if c == 0 {
            return None;
        }
        self.pos += 1;
        Some(c)
    }

    /// `getnum`: an optional decimal number, or `default`.
    fn number(&mut self, default: i64) -> LibResult<i64> {
        let digits = self.fmt[self.pos..]
            .iter()
            .take_while(|b| b.is_ascii_digit())
            .count();
        if digits == 0 {
            return Ok(default);
        }
        let mut a: i64 = 0;
        for &d in &self.fmt[self.pos..self.pos + digits] {
            let d = (d - b'0') as i64;
            if a > i32::MAX as i64 / 10 || a * 10 > i32::MAX as i64 - d {
                return Err(Raise::msg("integral size overflow"));
            }
            a = a * 10 + d;
        }
        self.pos += digits;
        Ok(a)
    }

    /// `optsize`: the size of option `opt` (0 for options without one).
    fn size(&mut self, opt: u8) -> LibResult<usize> {
        Ok(match opt {
            b'B' | b'b' | b'x' => 1,
            b'H' | b'h' => 2,
            b'f' => 4,
            b'L' | b'l' | b'T' | b'd' => 8,
            b'c' => self.number(1)? as usize,
            b'i' | b'I' => {
                let size = self.number(4)?;
                if size > MAX_INT_SIZE as i64 {
                    return Err(Raise::msg(format!(
                        "integral size {size} is larger than limit of {MAX_INT_SIZE}"
                    )));
                }
                size as usize
            }
            _ => 0,
        })
    }

    /// `controloptions`: endianness, alignment and spaces; anything else is an error.
    fn control(&mut self, opt: u8, h: &mut Header) -> LibResult<()> {
        match opt {
            b' ' => {}
            b'>' => h.endian = Endian::Big,
            b'<' => h.endian = Endian::Little,
            b'!' => {
                let a = self.number(MAX_ALIGN)?;
                if a <= 0 || a & (a - 1) != 0 {
                    return Err(Raise::msg(format!("alignment {a} is not a power of 2")));
                }
                h.align = a as usize;
            }
            _ => {
                let mut msg = b"invalid format option '".to_vec();
                msg.extend([opt, b'\'']);
                return Err(Raise::arg(1, msg));
            }
        }
        Ok(())
    }
}

/// `gettoalign`: padding needed before an item of `size` bytes at offset `len`.
fn padding(len: usize, h: &Header, opt: u8, size: usize) -> usize {
    if size == 0 || opt == b'c' {
        return 0;
    }
    let size = size.min(h.align);
    (size.wrapping_sub(len & (size - 1))) & (size - 1)
}

/// A C cast of a double to `unsigned long` as x86-64 code does it.
fn double_to_u64(d: f64) -> u64 {
    const TWO_63: f64 = 9_223_372_036_854_775_808.0;
    if d >= TWO_63 {
        double_to_i64(d - TWO_63) as u64 ^ (1 << 63)
    } else {
        double_to_i64(d) as u64
    }
}

fn put_integer(out: &mut Vec<u8>, n: f64, endian: Endian, size: usize) {
    let value = if n < 0.0 {
        double_to_i64(n) as u64
    } else {
        double_to_u64(n)
    };
    // The value shifts right by 8 per byte: bytes past the 8th are zero.
    let byte = |i: usize| if i < 8 { (value >> (8 * i)) as u8 } else { 0 };
    match endian {
        Endian::Little => out.extend((0..size).map(byte)),
        Endian::Big => out.extend((0..size).rev().map(byte)),
    }
}

fn get_integer(data: &[u8], endian: Endian, signed: bool) -> f64 {
    let fold = |l: u64, &b: &u8| l << 8 | b as u64;
    let l = match endian {
        Endian::Big => data.iter().fold(0, fold),
        Endian::Little => data.iter().rev().fold(0, fold),
    };
    if !signed {
        return l as f64;
    }
    // The C shift count is taken modulo 64 by the processor.
    let mask = u64::MAX << ((data.len() * 8 - 1) & 63);
    let l = if l & mask != 0 { l | mask } else { l };
    l as i64 as f64
}

/// Bytes of a float or double in the requested order (they are native little endian).
fn ordered<const N: usize>(mut bytes: [u8; N], endian: Endian) -> [u8; N] {
    if endian == Endian::Big {
        bytes.reverse();
    }
    bytes
}

fn pack(lua: &Lua, args: MultiValue) -> LibResult<MultiValue> {
    let mut args: Vec<Value> = args.into_iter().collect();
    let fmt = check_string(lua, &args, 1)?;
    // The C code pushes a nil after the arguments: a missing argument reads as nil.
    args.push(Value::Nil);
    let mut f = Format {
        fmt: &fmt.as_bytes(),
        pos: 0,
    };
    let mut h = Header::default();
    let mut arg = 2;
    let mut out = Vec::new();
    while let Some(opt) = f.next_option() {
        let mut size = f.size(opt)?;
        let pad = padding(out.len(), &h, opt, size);
        out.resize(out.len() + pad, 0);
        match opt {
            b'b' | b'B' | b'h' | b'H' | b'l' | b'L' | b'T' | b'i' | b'I' => {
                let n = check_number(lua, &args, arg)?;
                arg += 1;
                put_integer(&mut out, n, h.endian, size);
            }
            b'x' => out.push(0),
            b'f' => {
                let n = check_number(lua, &args, arg)? as f32;
                arg += 1;
                out.extend(ordered(n.to_le_bytes(), h.endian));
            }
            b'd' => {
                let n = check_number(lua, &args, arg)?;
                arg += 1;
                out.extend(ordered(n.to_le_bytes(), h.endian));
            }
            b'c' | b's' => {
                let s = check_string(lua, &args, arg)?;
                let s = s.as_bytes();
                arg += 1;
                if size == 0 {
                    size = s.len();
                }
                if s.len() < size {
                    // Reported against the next argument, as the C code does.
                    return Err(Raise::arg(arg, "string too short"));
                }
                out.extend_from_slice(&s[..size]);
                if opt == b's' {
                    out.push(0);
                }
            }
            _ => f.control(opt, &mut h)?,
        }
    }
    Ok(MultiValue::from_iter([Value::String(
        lua.create_string(out)?,
    )]))
}

fn unpack(lua: &Lua, args: MultiValue) -> LibResult<MultiValue> {
    let args: Vec<Value> = args.into_iter().collect();
    let fmt = check_string(lua, &args, 1)?;
    let data = check_string(lua, &args, 2)?;
    let data = data.as_bytes();
    let ld = data.len();
    // luaL_optinteger, then a size_t: negative offsets wrap around (and fail later).
    let mut pos = match args.get(2) {
        None | Some(Value::Nil) => 1,
        Some(_) => double_to_i64(check_number(lua, &args, 3)?) as u64 as usize,
    };
    if pos == 0 {
        return Err(Raise::arg(3, "offset must be 1 or greater"));
    }
    pos -= 1;
    let too_short = || Raise::arg(2, "data string too short");
    let mut f = Format {
        fmt: &fmt.as_bytes(),
        pos: 0,
    };
    let mut h = Header::default();
    let mut results: Vec<Value> = Vec::new();
    while let Some(opt) = f.next_option() {
        let mut size = f.size(opt)?;
        pos = pos.wrapping_add(padding(pos, &h, opt, size));
        if size > ld || pos > ld - size {
            return Err(too_short());
        }
        // luaL_checkstack(L, 2, "too many results")
        if args.len() + results.len() + 2 > MAX_C_STACK {
            return Err(Raise::msg("stack overflow (too many results)"));
        }
        match opt {
            b'b' | b'B' | b'h' | b'H' | b'l' | b'L' | b'T' | b'i' | b'I' => {
                let signed = opt.is_ascii_lowercase();
                results.push(number(get_integer(
                    &data[pos..pos + size],
                    h.endian,
                    signed,
                )));
            }
            b'x' => {}
            b'f' => {
                let bytes = ordered(data[pos..pos + 4].try_into().expect("4 bytes"), h.endian);
                results.push(number(f32::from_le_bytes(bytes) as f64));
            }
            b'd' => {
                let bytes = ordered(data[pos..pos + 8].try_into().expect("8 bytes"), h.endian);
                results.push(number(f64::from_le_bytes(bytes)));
            }
            b'c' => {
                if size == 0 {
                    let previous = match results.last() {
                        Some(v) => to_number(lua, Some(v))?,
                        None => None,
                    };
                    let Some(n) = previous else {
                        return Err(Raise::msg("format 'c0' needs a previous size"));
                    };
                    size = double_to_u64(n) as usize;
                    results.pop();
                    if size > ld || pos > ld - size {
                        return Err(too_short());
                    }
                }
                results.push(Value::String(lua.create_string(&data[pos..pos + size])?));
            }
            b's' => {
                let Some(len) = data[pos..].iter().position(|&b| b == 0) else {
                    return Err(Raise::msg("unfinished string in data"));
                };
                results.push(Value::String(lua.create_string(&data[pos..pos + len])?));
                size = len + 1;
            }
            _ => f.control(opt, &mut h)?,
        }
        pos = pos.wrapping_add(size);
    }
    // lua_pushinteger of a size_t: back to a signed number.
    results.push(number(pos.wrapping_add(1) as i64 as f64));
    super::results(lua, results)
}

fn size(lua: &Lua, args: MultiValue) -> LibResult<MultiValue> {
    let args: Vec<Value> = args.into_iter().collect();
    let fmt = check_string(lua, &args, 1)?;
    let mut f = Format {
        fmt: &fmt.as_bytes(),
        pos: 0,
    };
    let mut h = Header::default();
    let mut pos: usize = 0;
    while let Some(opt) = f.next_option() {
        let size = f.size(opt)?;
        pos = pos.wrapping_add(padding(pos, &h, opt, size));
        if opt == b's' {
            return Err(Raise::arg(1, "option 's' has no fixed size"));
        }
        if opt == b'c' && size == 0 {
            return Err(Raise::arg(1, "option 'c0' has no fixed size"));
        }
        if !opt.is_ascii_alphanumeric() {
            f.control(opt, &mut h)?;
        }
        pos = pos.wrapping_add(size);
    }
    Ok(MultiValue::from_iter([number(pos as i64 as f64)]))
}

/// Creates the `struct` table.
pub fn open(lua: &Lua) -> mlua::Result<Table> {
    let t = lua.create_table()?;
    t.raw_set("pack", c_function(lua, pack)?)?;
    t.raw_set("unpack", c_function(lua, unpack)?)?;
    t.raw_set("size", c_function(lua, size)?)?;
    Ok(t)
}

#[cfg(test)]
mod tests {
    use super::super::testutil::check;

    /// Snippets and their results from redis-server 7.0.15.
    const CASES: &[(&str, &str)] = &[
        (
            r##"return struct.pack('>I2', 258), struct.pack('<I2', 258), struct.pack('b', -1), struct.pack('B', 255)"##,
            r##"{["n"]=5,[1]=true,[2]="\1\2",[3]="\2\1",[4]="\255",[5]="\255"}"##,
        ),
        (
            r##"local function hex(s) return (s:gsub('.', function(c) return string.format('%02x', c:byte()) end)) end return hex(struct.pack('<L', 2^64)), hex(struct.pack('<L', 0/0)), hex(struct.pack('<L', 2^63+2048)), hex(struct.pack('<L', -2^70)), hex(struct.pack('<l', 2^70)), hex(struct.pack('<i12', -2)), hex(struct.pack('>i12', -2)), hex(struct.pack('<i3', 2^24+5))"##,
            r##"{["n"]=9,[1]=true,[2]="0000000000000000",[3]="0000000000000080",[4]="0008000000000080",[5]="0000000000000080",[6]="0000000000000000",[7]="feffffffffffffff00000000",[8]="00000000fffffffffffffffe",[9]="050000"}"##,
        ),
        (
            r##"local function hex(s) return (s:gsub('.', function(c) return string.format('%02x', c:byte()) end)) end return hex(struct.pack('>d', 1.5)), hex(struct.pack('<d', -0.0)), hex(struct.pack('>f', 0.1)), hex(struct.pack('<f', 1e40)), hex(struct.pack('hHlLT', -2, 65535, -3, 7, 9))"##,
            r##"{["n"]=6,[1]=true,[2]="3ff8000000000000",[3]="0000000000000080",[4]="3dcccccd",[5]="0000807f",[6]="fefffffffdffffffffffffff07000000000000000900000000000000"}"##,
        ),
        (
            r##"local function hex(s) return (s:gsub('.', function(c) return string.format('%02x', c:byte()) end)) end return hex(struct.pack('!4 b i', 1, 2)), hex(struct.pack('!b d', 1, 2)), hex(struct.pack('!2 b i8 b h', 1, 2, 3, 4)), hex(struct.pack('!8 b i3 b d', 1, 2, 3, 4)), hex(struct.pack('bxxb', 1, 2))"##,
            r##"{["n"]=6,[1]=true,[2]="0100000002000000",[3]="01000000000000000000000000000040",[4]="0100020000000000000003000400",[5]="01000002000003000000000000001040",[6]="01000002"}"##,
        ),
        (
            r##"return struct.pack('c3', 'abcdef'), struct.pack('c0', 'abcdef'), struct.pack('s', 'hi'), struct.pack('c', 'xyz'), struct.pack('c2s', 'ab', 'cd')"##,
            r##"{["n"]=6,[1]=true,[2]="abc",[3]="abcdef",[4]="hi\0",[5]="x",[6]="abcd\0"}"##,
        ),
        (
            r##"return struct.pack('c5', 'abc')"##,
            r##"{["n"]=2,[1]=false,[2]="user_script:1: bad argument #3 to 'pack' (string too short)"}"##,
        ),
        (
            r##"return struct.pack('c5 i', 'abc', 1)"##,
            r##"{["n"]=2,[1]=false,[2]="user_script:1: bad argument #3 to 'pack' (string too short)"}"##,
        ),
        (
            r##"return struct.pack('i', 'x')"##,
            r##"{["n"]=2,[1]=false,[2]="user_script:1: bad argument #2 to 'pack' (number expected, got string)"}"##,
        ),
        (
            r##"return struct.pack('i')"##,
            r##"{["n"]=2,[1]=false,[2]="user_script:1: bad argument #2 to 'pack' (number expected, got nil)"}"##,
        ),
        (
            r##"return struct.pack('i', '12'), struct.pack('c2', 12)"##,
            r##"{["n"]=3,[1]=true,[2]="\12\0\0\0",[3]="12"}"##,
        ),
        (
            r##"return struct.pack('s', {})"##,
            r##"{["n"]=2,[1]=false,[2]="user_script:1: bad argument #2 to 'pack' (string expected, got table)"}"##,
        ),
        (
            r##"return struct.pack('z', 1)"##,
            r##"{["n"]=2,[1]=false,[2]="user_script:1: bad argument #1 to 'pack' (invalid format option 'z')"}"##,
        ),
        (
            r##"return struct.pack('?')"##,
            r##"{["n"]=2,[1]=false,[2]="user_script:1: bad argument #1 to 'pack' (invalid format option '?')"}"##,
        ),
        (
            r##"return struct.pack('!3')"##,
            r##"{["n"]=2,[1]=false,[2]="user_script:1: alignment 3 is not a power of 2"}"##,
        ),
        (
            r##"return struct.pack('!0')"##,
            r##"{["n"]=2,[1]=false,[2]="user_script:1: alignment 0 is not a power of 2"}"##,
        ),
        (
            r##"return struct.pack('!16 d', 1) == struct.pack('d', 1), #struct.pack('!16 b d', 1, 2)"##,
            r##"{["n"]=3,[1]=true,[2]=true,[3]=16}"##,
        ),
        (
            r##"return struct.pack('i33', 1)"##,
            r##"{["n"]=2,[1]=false,[2]="user_script:1: integral size 33 is larger than limit of 32"}"##,
        ),
        (
            r##"return struct.pack('i99999999999', 1)"##,
            r##"{["n"]=2,[1]=false,[2]="user_script:1: integral size overflow"}"##,
        ),
        (
            r##"return {struct.pack('i32', -1):byte(1, -1)}"##,
            r##"{["n"]=2,[1]=true,[2]={[1]=255,[10]=0,[11]=0,[12]=0,[13]=0,[14]=0,[15]=0,[16]=0,[17]=0,[18]=0,[19]=0,[2]=255,[20]=0,[21]=0,[22]=0,[23]=0,[24]=0,[25]=0,[26]=0,[27]=0,[28]=0,[29]=0,[3]=255,[30]=0,[31]=0,[32]=0,[4]=255,[5]=255,[6]=255,[7]=255,[8]=255,[9]=0}}"##,
        ),
        (
            r##"return struct.pack()"##,
            r##"{["n"]=2,[1]=false,[2]="user_script:1: bad argument #1 to 'pack' (string expected, got no value)"}"##,
        ),
        (
            r##"return struct.pack(123)"##,
            r##"{["n"]=2,[1]=false,[2]="user_script:1: bad argument #1 to 'pack' (invalid format option '1')"}"##,
        ),
        (
            r##"return struct.pack('>i\0<i', 1, 2)"##,
            r##"{["n"]=2,[1]=true,[2]="\0\0\0\1"}"##,
        ),
        (
            r##"return struct.unpack('>I2', '\1\2'), struct.unpack('<I2', '\1\2'), struct.unpack('b', '\255'), struct.unpack('B', '\255')"##,
            r##"{["n"]=6,[1]=true,[2]=258,[3]=513,[4]=-1,[5]=255,[6]=2}"##,
        ),
        (
            r##"return struct.unpack('<i', struct.pack('<i', -123456)), struct.unpack('>l', struct.pack('>l', -2^53)), struct.unpack('<L', struct.pack('<L', 2^64 - 2048))"##,
            r##"{["n"]=5,[1]=true,[2]=-123456,[3]=-9007199254740992,[4]=1.844674407370955e+19,[5]=9}"##,
        ),
        (
            r##"return struct.unpack('<i3', '\255\255\255'), struct.unpack('<I3', '\255\255\255'), struct.unpack('>i12', struct.pack('>i12', -2)), struct.unpack('<i9', string.rep('\255', 9)), struct.unpack('<I9', string.rep('\255', 9))"##,
            r##"{["n"]=7,[1]=true,[2]=-1,[3]=16777215,[4]=-2,[5]=-1,[6]=1.8446744073709552e+19,[7]=10}"##,
        ),
        (
            r##"return struct.unpack('>d', struct.pack('>d', 1.5)), struct.unpack('<f', struct.pack('<f', 0.1)), struct.unpack('>f', struct.pack('>f', -2.5))"##,
            r##"{["n"]=5,[1]=true,[2]=1.5,[3]=0.10000000149011612,[4]=-2.5,[5]=5}"##,
        ),
        (
            r##"return struct.unpack('c3', 'abcdef'), struct.unpack('c3', 'abcdef', 4), struct.unpack('s', 'hi\0there'), struct.unpack('ss', 'a\0b\0')"##,
            r##"{["n"]=7,[1]=true,[2]="abc",[3]="def",[4]="hi",[5]="a",[6]="b",[7]=5}"##,
        ),
        (
            r##"return struct.unpack('b c0', '\3abcdef'), struct.unpack('c1 c0', '2xyz')"##,
            r##"{["n"]=4,[1]=true,[2]="abc",[3]="xy",[4]=4}"##,
        ),
        (
            r##"return struct.unpack('c0', 'abc')"##,
            r##"{["n"]=2,[1]=false,[2]="user_script:1: format 'c0' needs a previous size"}"##,
        ),
        (
            r##"return struct.unpack('c1 c0', 'xyz')"##,
            r##"{["n"]=2,[1]=false,[2]="user_script:1: format 'c0' needs a previous size"}"##,
        ),
        (
            r##"return struct.unpack('b c0', '\9abc')"##,
            r##"{["n"]=2,[1]=false,[2]="user_script:1: bad argument #2 to 'unpack' (data string too short)"}"##,
        ),
        (
            r##"return struct.unpack('b c0', '\255abc')"##,
            r##"{["n"]=2,[1]=false,[2]="user_script:1: bad argument #2 to 'unpack' (data string too short)"}"##,
        ),
        (
            r##"return struct.unpack('s', 'abc')"##,
            r##"{["n"]=2,[1]=false,[2]="user_script:1: unfinished string in data"}"##,
        ),
        (
            r##"return struct.unpack('i', 'abc')"##,
            r##"{["n"]=2,[1]=false,[2]="user_script:1: bad argument #2 to 'unpack' (data string too short)"}"##,
        ),
        (
            r##"return struct.unpack('i', 'abcd', 2)"##,
            r##"{["n"]=2,[1]=false,[2]="user_script:1: bad argument #2 to 'unpack' (data string too short)"}"##,
        ),
        (
            r##"return struct.unpack('b', 'abcd', 0)"##,
            r##"{["n"]=2,[1]=false,[2]="user_script:1: bad argument #3 to 'unpack' (offset must be 1 or greater)"}"##,
        ),
        (
            r##"return struct.unpack('b', 'abcd', -1)"##,
            r##"{["n"]=2,[1]=false,[2]="user_script:1: bad argument #2 to 'unpack' (data string too short)"}"##,
        ),
        (
            r##"return struct.unpack('', 'abcd', -5)"##,
            r##"{["n"]=2,[1]=true,[2]=-5}"##,
        ),
        (
            r##"return struct.unpack('b', 'abcd', 5)"##,
            r##"{["n"]=2,[1]=false,[2]="user_script:1: bad argument #2 to 'unpack' (data string too short)"}"##,
        ),
        (
            r##"return struct.unpack('', 'abcd', 5), struct.unpack('', 'abcd', 50)"##,
            r##"{["n"]=3,[1]=true,[2]=5,[3]=50}"##,
        ),
        (
            r##"return struct.unpack('b', 'abcd', 'x')"##,
            r##"{["n"]=2,[1]=false,[2]="user_script:1: bad argument #3 to 'unpack' (number expected, got string)"}"##,
        ),
        (
            r##"return struct.unpack('b', 'abcd', nil), struct.unpack('b', 'abcd', 2.7)"##,
            r##"{["n"]=4,[1]=true,[2]=97,[3]=98,[4]=3}"##,
        ),
        (
            r##"return struct.unpack('b')"##,
            r##"{["n"]=2,[1]=false,[2]="user_script:1: bad argument #2 to 'unpack' (string expected, got no value)"}"##,
        ),
        (
            r##"return struct.unpack({}, 'a')"##,
            r##"{["n"]=2,[1]=false,[2]="user_script:1: bad argument #1 to 'unpack' (string expected, got table)"}"##,
        ),
        (
            r##"return struct.unpack('!4 b i', struct.pack('!4 b i', 7, 9))"##,
            r##"{["n"]=4,[1]=true,[2]=7,[3]=9,[4]=9}"##,
        ),
        (
            r##"return struct.unpack('x b x b', '\1\2\3\4')"##,
            r##"{["n"]=4,[1]=true,[2]=2,[3]=4,[4]=5}"##,
        ),
        (
            r##"return struct.unpack('>h<h', '\1\2\1\2')"##,
            r##"{["n"]=4,[1]=true,[2]=258,[3]=513,[4]=5}"##,
        ),
        (
            r##"return struct.unpack('q', 'a')"##,
            r##"{["n"]=2,[1]=false,[2]="user_script:1: bad argument #1 to 'unpack' (invalid format option 'q')"}"##,
        ),
        (
            r##"return struct.unpack('!5', 'a')"##,
            r##"{["n"]=2,[1]=false,[2]="user_script:1: alignment 5 is not a power of 2"}"##,
        ),
        (
            r##"return #{struct.unpack(string.rep('b', 7997), string.rep('a', 8000))}"##,
            r##"{["n"]=2,[1]=true,[2]=7998}"##,
        ),
        (
            r##"return #{struct.unpack(string.rep('b', 7998), string.rep('a', 8000))}"##,
            r##"{["n"]=2,[1]=false,[2]="user_script:1: stack overflow (too many results)"}"##,
        ),
        (
            r##"return struct.size('i'), struct.size('!8 b d'), struct.size('bhlLTfd'), struct.size('c10 x'), struct.size('i7'), struct.size(''), struct.size('z'), struct.size('!4 b I3 b'), struct.size('!b i8')"##,
            r##"{["n"]=10,[1]=true,[10]=16,[2]=4,[3]=16,[4]=39,[5]=11,[6]=7,[7]=0,[8]=0,[9]=7}"##,
        ),
        (
            r##"return struct.size('s')"##,
            r##"{["n"]=2,[1]=false,[2]="user_script:1: bad argument #1 to 'size' (option 's' has no fixed size)"}"##,
        ),
        (
            r##"return struct.size('c0')"##,
            r##"{["n"]=2,[1]=false,[2]="user_script:1: bad argument #1 to 'size' (option 'c0' has no fixed size)"}"##,
        ),
        (
            r##"return struct.size('?')"##,
            r##"{["n"]=2,[1]=false,[2]="user_script:1: bad argument #1 to 'size' (invalid format option '?')"}"##,
        ),
        (
            r##"return struct.size('i40')"##,
            r##"{["n"]=2,[1]=false,[2]="user_script:1: integral size 40 is larger than limit of 32"}"##,
        ),
        (
            r##"return struct.size()"##,
            r##"{["n"]=2,[1]=false,[2]="user_script:1: bad argument #1 to 'size' (string expected, got no value)"}"##,
        ),
        (
            r##"return struct.size('b!3')"##,
            r##"{["n"]=2,[1]=false,[2]="user_script:1: alignment 3 is not a power of 2"}"##,
        ),
        (
            r##"return struct.size('>b<h!2 d')"##,
            r##"{["n"]=2,[1]=true,[2]=12}"##,
        ),
        (
            r##"return {struct.pack('>!4 b h i', 1, 2, 3):byte(1, -1)}"##,
            r##"{["n"]=2,[1]=true,[2]={[1]=1,[2]=0,[3]=0,[4]=2,[5]=0,[6]=0,[7]=0,[8]=3}}"##,
        ),
        (
            r##"return struct.unpack('T', struct.pack('T', 12345)), struct.unpack('<l', struct.pack('<l', 2^63))"##,
            r##"{["n"]=4,[1]=true,[2]=12345,[3]=-9.2233720368547758e+18,[4]=9}"##,
        ),
        (
            r##"return struct.unpack('<I8', '\255\255\255\255\255\255\255\255'), struct.unpack('<i8', '\255\255\255\255\255\255\255\127')"##,
            r##"{["n"]=4,[1]=true,[2]=1.8446744073709552e+19,[3]=9.2233720368547758e+18,[4]=9}"##,
        ),
        (
            r##"return struct.pack('b', 1.7), struct.pack('b', -1.7), struct.pack('B', 256 + 65)"##,
            r##"{["n"]=4,[1]=true,[2]="\1",[3]="\255",[4]="A"}"##,
        ),
    ];

    #[test]
    fn matches_redis() {
        check(CASES);
    }
}
