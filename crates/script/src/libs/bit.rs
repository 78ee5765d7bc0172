//! `bit`: LuaBitOp 1.0.2, bitwise operations on 32-bit integers.
//!
//! Lua 5.1 numbers are doubles. LuaBitOp normalises one to 32 bits by adding 2^52 + 2^51 and
//! keeping the low 32 bits of the result's representation: the number rounded to the nearest
//! integer (ties to even), modulo 2^32. Results are returned as signed 32-bit integers.

use mlua::{Lua, MultiValue, Table, Value};

use super::{c_function, number, to_number, LibResult, Raise};

/// Converts argument `n` (1-based) to 32 bits as LuaBitOp's `barg` does.
fn barg(lua: &Lua, args: &[Value], n: usize) -> LibResult<u32> {
    let v = args.get(n - 1);
    let x = to_number(lua, v)?;
    let bits = (x.unwrap_or(0.0) + 6_755_399_441_055_744.0).to_bits() as u32;
    // Like the C code, only complain when the (zero) result may come from a non-number.
    if bits == 0 && x.is_none() {
        return Err(Raise::type_error(n, "number", v));
    }
    Ok(bits)
}

fn ret(b: u32) -> LibResult<MultiValue> {
    Ok(MultiValue::from_iter([number(b as i32 as f64)]))
}

fn unary(lua: &Lua, op: fn(u32) -> u32) -> mlua::Result<mlua::Function> {
    c_function(lua, move |lua, args| {
        let args: Vec<Value> = args.into_iter().collect();
        ret(op(barg(lua, &args, 1)?))
    })
}

/// `band`, `bor`, `bxor`: the first argument, then the others from the last one down.
fn fold(lua: &Lua, op: fn(u32, u32) -> u32) -> mlua::Result<mlua::Function> {
    c_function(lua, move |lua, args| {
        let args: Vec<Value> = args.into_iter().collect();
        let mut b = barg(lua, &args, 1)?;
        for i in (2..=args.len()).rev() {
            b = op(b, barg(lua, &args, i)?);
        }
        ret(b)
    })
}

fn shift(lua: &Lua, op: fn(u32, u32) -> u32) -> mlua::Result<mlua::Function> {
    c_function(lua, move |lua, args| {
        let args: Vec<Value> = args.into_iter().collect();
        let b = barg(lua, &args, 1)?;
        let n = barg(lua, &args, 2)? & 31;
        ret(op(b, n))
    })
}

fn tohex(lua: &Lua, args: MultiValue) -> LibResult<MultiValue> {
    let args: Vec<Value> = args.into_iter().collect();
    let mut b = barg(lua, &args, 1)?;
    let n = if args.len() < 2 {
        8
    } else {
        barg(lua, &args, 2)? as i32
    };
    let digits: &[u8; 16] = if n < 0 {
        b"0123456789ABCDEF"
    } else {
        b"0123456789abcdef"
    };
    // Redis' build turns -(-2^31) into "more than 8" too.
    let n = n.unsigned_abs().min(8) as usize;
    let mut buf = vec![0u8; n];
    for c in buf.iter_mut().rev() {
        *c = digits[(b & 15) as usize];
        b >>= 4;
    }
    Ok(MultiValue::from_iter([Value::String(
        lua.create_string(buf)?,
    )]))
}

/// Creates the `bit` table.
pub fn open(lua: &Lua) -> mlua::Result<Table> {
    let t = lua.create_table()?;
    t.raw_set("tobit", unary(lua, |b| b)?)?;
    t.raw_set("bnot", unary(lua, |b| !b)?)?;
    t.raw_set("band", fold(lua, |a, b| a & b)?)?;
    t.raw_set("bor", fold(lua, |a, b| a | b)?)?;
    t.raw_set("bxor", fold(lua, |a, b| a ^ b)?)?;
    t.raw_set("lshift", shift(lua, |b, n| b << n)?)?;
    t.raw_set("rshift", shift(lua, |b, n| b >> n)?)?;
    t.raw_set("arshift", shift(lua, |b, n| ((b as i32) >> n) as u32)?)?;
    t.raw_set("rol", shift(lua, |b, n| b.rotate_left(n))?)?;
    t.raw_set("ror", shift(lua, |b, n| b.rotate_right(n))?)?;
    t.raw_set("bswap", unary(lua, u32::swap_bytes)?)?;
    t.raw_set("tohex", c_function(lua, tohex)?)?;
    Ok(t)
}

#[cfg(test)]
mod tests {
    use super::super::testutil::check;

    /// Snippets and their results from redis-server 7.0.15.
    const CASES: &[(&str, &str)] = &[
        (
            r##"return bit.tobit(2^32+5), bit.tobit(-1), bit.tobit(1e20), bit.tobit(2^31), bit.tobit(0.5), bit.tobit(1.5), bit.tobit(-0.5), bit.tobit(2.5)"##,
            r##"{["n"]=9,[1]=true,[2]=5,[3]=-1,[4]=2025163840,[5]=-2147483648,[6]=0,[7]=2,[8]=0,[9]=2}"##,
        ),
        (
            r##"return bit.tobit(-2^31-1), bit.tobit(2^53), bit.tobit(2^52+3), bit.tobit(-2^52-3), bit.tobit(1/0), bit.tobit(-1/0), bit.tobit(0/0)"##,
            r##"{["n"]=8,[1]=true,[2]=2147483647,[3]=0,[4]=2,[5]=-12,[6]=0,[7]=0,[8]=0}"##,
        ),
        (
            r##"return bit.tobit("10"), bit.tobit("0x10"), bit.tobit(" 7 "), bit.tobit("1e3")"##,
            r##"{["n"]=5,[1]=true,[2]=10,[3]=16,[4]=7,[5]=1000}"##,
        ),
        (
            r##"return bit.tobit("abc")"##,
            r##"{["n"]=2,[1]=false,[2]="user_script:1: bad argument #1 to 'tobit' (number expected, got string)"}"##,
        ),
        (
            r##"return bit.tobit()"##,
            r##"{["n"]=2,[1]=false,[2]="user_script:1: bad argument #1 to 'tobit' (number expected, got no value)"}"##,
        ),
        (
            r##"return bit.tobit(nil)"##,
            r##"{["n"]=2,[1]=false,[2]="user_script:1: bad argument #1 to 'tobit' (number expected, got nil)"}"##,
        ),
        (
            r##"return bit.tobit({})"##,
            r##"{["n"]=2,[1]=false,[2]="user_script:1: bad argument #1 to 'tobit' (number expected, got table)"}"##,
        ),
        (
            r##"return bit.tobit(true)"##,
            r##"{["n"]=2,[1]=false,[2]="user_script:1: bad argument #1 to 'tobit' (number expected, got boolean)"}"##,
        ),
        (
            r##"return bit.tobit("0")"##,
            r##"{["n"]=2,[1]=true,[2]=0}"##,
        ),
        (
            r##"return bit.tohex(255), bit.tohex(255, 2), bit.tohex(255, -2), bit.tohex(-1), bit.tohex(-1, -8), bit.tohex(1, 0), bit.tohex(0x12345678, 12), bit.tohex(0x12345678, -12), bit.tohex(0xabcdef, 3)"##,
            r##"{["n"]=10,[1]=true,[10]="def",[2]="000000ff",[3]="ff",[4]="FF",[5]="ffffffff",[6]="FFFFFFFF",[7]="",[8]="12345678",[9]="12345678"}"##,
        ),
        (
            r##"return bit.tohex(255, nil)"##,
            r##"{["n"]=2,[1]=false,[2]="user_script:1: bad argument #2 to 'tohex' (number expected, got nil)"}"##,
        ),
        (
            r##"return bit.tohex(2^32 + 0xab)"##,
            r##"{["n"]=2,[1]=true,[2]="000000ab"}"##,
        ),
        (
            r##"return bit.bnot(0), bit.bnot(-1), bit.bnot(5), bit.bnot(2^31)"##,
            r##"{["n"]=5,[1]=true,[2]=-1,[3]=0,[4]=-6,[5]=2147483647}"##,
        ),
        (
            r##"return bit.band(0xff, 0x0f), bit.band(-1, 0x7fffffff), bit.band(1), bit.band(7, 6, 3), bit.band(0xffffffff, 0xffffffff)"##,
            r##"{["n"]=6,[1]=true,[2]=15,[3]=2147483647,[4]=1,[5]=2,[6]=-1}"##,
        ),
        (
            r##"return bit.bor(1, 2, 4, 8), bit.bor(0x80000000, 1), bit.bor(0)"##,
            r##"{["n"]=4,[1]=true,[2]=15,[3]=-2147483647,[4]=0}"##,
        ),
        (
            r##"return bit.bxor(5, 3), bit.bxor(-1, 1), bit.bxor(1, 2, 3)"##,
            r##"{["n"]=4,[1]=true,[2]=6,[3]=-2,[4]=0}"##,
        ),
        (
            r##"return bit.band()"##,
            r##"{["n"]=2,[1]=false,[2]="user_script:1: bad argument #1 to 'band' (number expected, got no value)"}"##,
        ),
        (
            r##"return bit.band(1, 2, "x")"##,
            r##"{["n"]=2,[1]=false,[2]="user_script:1: bad argument #3 to 'band' (number expected, got string)"}"##,
        ),
        (
            r##"return bit.band(1, "x", {})"##,
            r##"{["n"]=2,[1]=false,[2]="user_script:1: bad argument #3 to 'band' (number expected, got table)"}"##,
        ),
        (
            r##"return bit.bor(1, nil)"##,
            r##"{["n"]=2,[1]=false,[2]="user_script:1: bad argument #2 to 'bor' (number expected, got nil)"}"##,
        ),
        (
            r##"return bit.lshift(1, 0), bit.lshift(1, 31), bit.lshift(1, 32), bit.lshift(1, 33), bit.lshift(3, -1), bit.lshift(0xff, 28)"##,
            r##"{["n"]=7,[1]=true,[2]=1,[3]=-2147483648,[4]=1,[5]=2,[6]=-2147483648,[7]=-268435456}"##,
        ),
        (
            r##"return bit.rshift(-1, 0), bit.rshift(-1, 1), bit.rshift(-1, 31), bit.rshift(-1, 32), bit.rshift(0x80000000, 4)"##,
            r##"{["n"]=6,[1]=true,[2]=-1,[3]=2147483647,[4]=1,[5]=-1,[6]=134217728}"##,
        ),
        (
            r##"return bit.arshift(-1, 1), bit.arshift(-256, 4), bit.arshift(0x80000000, 31), bit.arshift(256, 4), bit.arshift(-8, 2)"##,
            r##"{["n"]=6,[1]=true,[2]=-1,[3]=-16,[4]=-1,[5]=16,[6]=-2}"##,
        ),
        (
            r##"return bit.rol(0x12345678, 4), bit.rol(0x12345678, 0), bit.rol(0x12345678, 32), bit.rol(1, 31), bit.rol(-1, 5)"##,
            r##"{["n"]=6,[1]=true,[2]=591751041,[3]=305419896,[4]=305419896,[5]=-2147483648,[6]=-1}"##,
        ),
        (
            r##"return bit.ror(0x12345678, 4), bit.ror(0x12345678, 0), bit.ror(1, 1), bit.ror(0x12345678, 36)"##,
            r##"{["n"]=5,[1]=true,[2]=-2128394905,[3]=305419896,[4]=-2147483648,[5]=-2128394905}"##,
        ),
        (
            r##"return bit.bswap(0x12345678), bit.bswap(-1), bit.bswap(1), bit.bswap(0xff000000)"##,
            r##"{["n"]=5,[1]=true,[2]=2018915346,[3]=-1,[4]=16777216,[5]=255}"##,
        ),
        (
            r##"return bit.lshift(1)"##,
            r##"{["n"]=2,[1]=false,[2]="user_script:1: bad argument #2 to 'lshift' (number expected, got no value)"}"##,
        ),
        (
            r##"return bit.rshift()"##,
            r##"{["n"]=2,[1]=false,[2]="user_script:1: bad argument #1 to 'rshift' (number expected, got no value)"}"##,
        ),
        (
            r##"return bit.rol(1, "a")"##,
            r##"{["n"]=2,[1]=false,[2]="user_script:1: bad argument #2 to 'rol' (number expected, got string)"}"##,
        ),
        (
            r##"return bit.tohex()"##,
            r##"{["n"]=2,[1]=false,[2]="user_script:1: bad argument #1 to 'tohex' (number expected, got no value)"}"##,
        ),
        (
            r##"return bit.tohex("zz")"##,
            r##"{["n"]=2,[1]=false,[2]="user_script:1: bad argument #1 to 'tohex' (number expected, got string)"}"##,
        ),
        (
            r##"return bit.tohex(1, {})"##,
            r##"{["n"]=2,[1]=false,[2]="user_script:1: bad argument #2 to 'tohex' (number expected, got table)"}"##,
        ),
        (
            r##"return bit.bnot("-1")"##,
            r##"{["n"]=2,[1]=true,[2]=0}"##,
        ),
        (
            r##"return bit.tobit(4294967295.7), bit.tobit(-4294967295.7), bit.tobit(123456789012), bit.tobit(-123456789012)"##,
            r##"{["n"]=5,[1]=true,[2]=0,[3]=0,[4]=-1097262572,[5]=1097262572}"##,
        ),
        (
            r##"local t = bit.band; return t(nil)"##,
            r##"{["n"]=2,[1]=false,[2]="user_script:1: bad argument #1 to 't' (number expected, got nil)"}"##,
        ),
        (
            r##"return pcall(bit.bnot)"##,
            r##"{["n"]=3,[1]=true,[2]=false,[3]="bad argument #1 to '?' (number expected, got no value)"}"##,
        ),
        (
            r##"return bit.band(1.9, 3), bit.bor(-0.6, 0), bit.tobit(0.49999999999999994)"##,
            r##"{["n"]=4,[1]=true,[2]=2,[3]=-1,[4]=0}"##,
        ),
        (
            r##"return bit.tohex(-1, 2^31)"##,
            r##"{["n"]=2,[1]=true,[2]="FFFFFFFF"}"##,
        ),
        (
            r##"return bit.tohex(65535, -2^32+4)"##,
            r##"{["n"]=2,[1]=true,[2]="ffff"}"##,
        ),
    ];

    #[test]
    fn matches_redis() {
        check(CASES);
    }
}
