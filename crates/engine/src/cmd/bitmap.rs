//! Bitmap commands on strings (Redis 7.0 bitops.c semantics): SETBIT, GETBIT, BITCOUNT,
//! BITPOS, BITOP, BITFIELD and BITFIELD_RO. Bit 0 is the most significant bit of byte 0.

use crate::args::{parse_i64, Args};
use crate::cmd::{read, write, write_or_create};
use crate::error::{Error, Result};
use crate::notify::STRING;
use crate::shard::Ctx;
use crate::value::{IntBuf, Str, Value};

const OFFSET_ERR: &str = "ERR bit offset is not an integer or out of range";
const BIT_ERR: &str = "ERR bit is not an integer or out of range";
const TYPE_ERR: &str =
    "ERR Invalid bitfield type. Use something like i16 u8. Note that u64 is not supported but i64 is.";

/// A bit offset argument (Redis' getBitOffsetFromArgument): non-negative, inside the largest
/// string; with `hash_bits`, `#n` means n times that many bits (BITFIELD).
fn bit_offset(arg: &[u8], hash_bits: Option<u32>, max_string: usize) -> Result<u64> {
    let (digits, times) = match (arg.first(), hash_bits) {
        (Some(b'#'), Some(bits)) => (&arg[1..], bits as i64),
        _ => (arg, 1),
    };
    let n = parse_i64(digits)
        .ok_or(Error::msg(OFFSET_ERR))?
        .wrapping_mul(times);
    if n < 0 || (n >> 3) as u64 >= max_string as u64 {
        return Err(Error::msg(OFFSET_ERR));
    }
    Ok(n as u64)
}

/// The string at `key` for writing, made (zero bytes) or grown with zeros so that bit
/// `maxbit` exists (Redis' lookupStringForBitCommand); true when that changed it.
fn bits_for_write<'a>(
    ctx: &'a mut Ctx,
    key: &[u8],
    maxbit: u64,
) -> Result<(&'a mut Vec<u8>, bool)> {
    let need = (maxbit >> 3) as usize + 1;
    let existed = write::<Str>(ctx.shard, ctx.db, key)?.is_some();
    let s = write_or_create::<Str>(ctx.shard, ctx.db, key, || {
        Value::Str(Str::Raw(vec![0; need]))
    })?;
    let raw = s.make_raw();
    let mut grown = !existed;
    if raw.len() < need {
        raw.resize(need, 0);
        grown = true;
    }
    Ok((raw, grown))
}

/// SETBIT key offset value
pub fn setbit(ctx: &mut Ctx, args: Args) -> Result<()> {
    let key = args.get(1);
    let offset = bit_offset(args.get(2), None, ctx.shard.limits.max_string)?;
    let on = parse_i64(args.get(3)).ok_or(Error::msg(BIT_ERR))?;
    if on & !1 != 0 {
        return Err(Error::msg(BIT_ERR));
    }
    let (raw, grown) = bits_for_write(ctx, key, offset)?;
    let byte = (offset >> 3) as usize;
    let bit = 7 - (offset & 7) as u8;
    let was = raw[byte] >> bit & 1;
    if grown || was as i64 != on {
        raw[byte] = (raw[byte] & !(1 << bit)) | ((on as u8) << bit);
        ctx.shard.modified(ctx.db, key);
        ctx.notify(STRING, "setbit", key);
    }
    ctx.out.integer(was as i64);
    Ok(())
}

/// GETBIT key offset
pub fn getbit(ctx: &mut Ctx, args: Args) -> Result<()> {
    let offset = bit_offset(args.get(2), None, ctx.shard.limits.max_string)?;
    let Some(s) = read::<Str>(ctx.shard, ctx.db, args.get(1))? else {
        ctx.out.integer(0);
        return Ok(());
    };
    let mut scratch = IntBuf::default();
    let bytes = s.bytes(&mut scratch);
    let byte = (offset >> 3) as usize;
    let bit = bytes.get(byte).map_or(0, |b| b >> (7 - (offset & 7)) & 1);
    ctx.out.integer(bit as i64);
    Ok(())
}

/// A BITCOUNT/BITPOS range in bytes, with masks for the bits of the edge bytes that are
/// outside a BIT range (Redis' first_byte_neg_mask, last_byte_neg_mask).
struct Range {
    start: i64,
    end: i64,
    first_mask: u8,
    last_mask: u8,
}

impl Range {
    /// Every byte of a string of `len` bytes.
    fn whole(len: i64) -> Range {
        Range {
            start: 0,
            end: len - 1,
            first_mask: 0,
            last_mask: 0,
        }
    }
}

/// Normalizes `start`..=`end` (negative counts from the end) over `len` bytes, in bits
/// when `bit`.
fn range(len: i64, mut start: i64, mut end: i64, bit: bool) -> Range {
    let total = if bit { len << 3 } else { len };
    if start < 0 {
        start += total;
    }
    if end < 0 {
        end += total;
    }
    start = start.max(0);
    end = end.max(0);
    if end >= total {
        end = total - 1;
    }
    let (mut first_mask, mut last_mask) = (0u8, 0u8);
    if bit && start <= end {
        first_mask = !((1u16 << (8 - (start & 7))) - 1) as u8;
        last_mask = ((1u16 << (7 - (end & 7))) - 1) as u8;
        start >>= 3;
        end >>= 3;
    }
    Range {
        start,
        end,
        first_mask,
        last_mask,
    }
}

/// BYTE or BIT (a syntax error otherwise).
fn unit(arg: &[u8]) -> Result<bool> {
    if arg.eq_ignore_ascii_case(b"bit") {
        Ok(true)
    } else if arg.eq_ignore_ascii_case(b"byte") {
        Ok(false)
    } else {
        Err(Error::Syntax)
    }
}

fn popcount(b: &[u8]) -> i64 {
    b.iter().map(|x| x.count_ones() as i64).sum()
}

/// BITCOUNT key [start end [BYTE|BIT]]
pub fn bitcount(ctx: &mut Ctx, args: Args) -> Result<()> {
    let Some(s) = read::<Str>(ctx.shard, ctx.db, args.get(1))? else {
        ctx.out.integer(0);
        return Ok(());
    };
    let mut scratch = IntBuf::default();
    let p = s.bytes(&mut scratch);
    let len = p.len() as i64;
    let r = match args.len() {
        4 | 5 => {
            let start = args.int(2)?;
            let end = args.int(3)?;
            if start < 0 && end < 0 && start > end {
                ctx.out.integer(0);
                return Ok(());
            }
            let bit = if args.len() == 5 {
                unit(args.get(4))?
            } else {
                false
            };
            range(len, start, end, bit)
        }
        2 => Range::whole(len),
        _ => return Err(Error::Syntax),
    };
    if r.start > r.end {
        ctx.out.integer(0);
        return Ok(());
    }
    let (start, end) = (r.start as usize, r.end as usize);
    let mut count = popcount(&p[start..=end]);
    // Bits of the edge bytes outside a BIT range were counted: take them off.
    if r.first_mask != 0 {
        count -= (p[start] & r.first_mask).count_ones() as i64;
    }
    if r.last_mask != 0 {
        count -= (p[end] & r.last_mask).count_ones() as i64;
    }
    ctx.out.integer(count);
    Ok(())
}

/// The position of the first bit set to `bit` in `b` (Redis' redisBitpos): for a clear bit
/// not found, the bit just past the end (the string reads as zero-padded); for a set bit
/// not found, -1.
fn first_bit(b: &[u8], bit: bool) -> i64 {
    let skip = if bit { 0 } else { 0xff };
    match b.iter().position(|&x| x != skip) {
        None if bit => -1,
        None => (b.len() as i64) << 3,
        Some(i) => {
            let x = if bit { b[i] } else { !b[i] };
            ((i as i64) << 3) + x.leading_zeros() as i64
        }
    }
}

/// BITPOS key bit [start [end [BYTE|BIT]]]
pub fn bitpos(ctx: &mut Ctx, args: Args) -> Result<()> {
    let bit = args.int(2)?;
    if bit != 0 && bit != 1 {
        return Err(Error::msg("ERR The bit argument must be 1 or 0."));
    }
    let bit = bit == 1;
    let Some(s) = read::<Str>(ctx.shard, ctx.db, args.get(1))? else {
        ctx.out.integer(if bit { -1 } else { 0 });
        return Ok(());
    };
    let mut scratch = IntBuf::default();
    let p = s.bytes(&mut scratch);
    let len = p.len() as i64;
    let mut end_given = false;
    let r = match args.len() {
        4..=6 => {
            let start = args.int(3)?;
            let is_bit = if args.len() == 6 {
                unit(args.get(5))?
            } else {
                false
            };
            let end = if args.len() >= 5 {
                end_given = true;
                args.int(4)?
            } else if is_bit {
                (len << 3) + 7
            } else {
                len - 1
            };
            range(len, start, end, is_bit)
        }
        3 => Range::whole(len),
        _ => return Err(Error::Syntax),
    };
    if r.start > r.end {
        ctx.out.integer(-1);
        return Ok(());
    }
    let (mut start, end) = (r.start as usize, r.end as usize);
    let mut bytes = end - start + 1;
    // The edge bytes with the bits outside a BIT range set to what is not looked for.
    let edge = |b: u8, mask: u8| if bit { b & !mask } else { b | mask };
    let pos = 'found: {
        if r.first_mask != 0 {
            let mut b = edge(p[start], r.first_mask);
            if r.last_mask != 0 && bytes == 1 {
                b = edge(b, r.last_mask);
            }
            let pos = first_bit(&[b], bit);
            if bytes == 1 || (pos != -1 && pos != 8) {
                break 'found pos;
            }
            start += 1;
            bytes -= 1;
        }
        let whole = bytes - usize::from(r.last_mask != 0);
        if whole > 0 {
            let pos = first_bit(&p[start..start + whole], bit);
            if bytes == whole || (pos != -1 && pos != (whole as i64) << 3) {
                break 'found pos;
            }
            start += whole;
            bytes -= whole;
        }
        first_bit(&[edge(p[end], r.last_mask)], bit)
    };
    // Looking for a clear bit in an explicit range: past its end is not zero padding.
    if end_given && !bit && pos == (bytes as i64) << 3 {
        ctx.out.integer(-1);
        return Ok(());
    }
    ctx.out.integer(if pos == -1 {
        -1
    } else {
        pos + ((start as i64) << 3)
    });
    Ok(())
}

/// BITOP AND|OR|XOR|NOT destkey key [key ...]
pub fn bitop(ctx: &mut Ctx, args: Args) -> Result<()> {
    #[derive(PartialEq)]
    enum Op {
        And,
        Or,
        Xor,
        Not,
    }
    let name = args.get(1);
    let op = if name.eq_ignore_ascii_case(b"and") {
        Op::And
    } else if name.eq_ignore_ascii_case(b"or") {
        Op::Or
    } else if name.eq_ignore_ascii_case(b"xor") {
        Op::Xor
    } else if name.eq_ignore_ascii_case(b"not") {
        Op::Not
    } else {
        return Err(Error::Syntax);
    };
    if op == Op::Not && args.len() != 4 {
        return Err(Error::msg(
            "ERR BITOP NOT must be called with a single source key.",
        ));
    }
    let mut srcs: Vec<Vec<u8>> = Vec::with_capacity(args.len() - 3);
    for i in 3..args.len() {
        let mut scratch = IntBuf::default();
        match read::<Str>(ctx.shard, ctx.db, args.get(i))? {
            Some(s) => srcs.push(s.bytes(&mut scratch).to_vec()),
            None => srcs.push(Vec::new()),
        }
    }
    let maxlen = srcs.iter().map(Vec::len).max().unwrap_or(0);
    let dest = args.get(2);
    if maxlen == 0 {
        crate::cmd::clear_destination(ctx, dest);
        ctx.out.integer(0);
        return Ok(());
    }
    let at = |s: &Vec<u8>, j: usize| s.get(j).copied().unwrap_or(0);
    let mut res = Vec::with_capacity(maxlen);
    for j in 0..maxlen {
        let mut out = at(&srcs[0], j);
        if op == Op::Not {
            out = !out;
        }
        for s in &srcs[1..] {
            match op {
                Op::And => out &= at(s, j),
                Op::Or => out |= at(s, j),
                Op::Xor => out ^= at(s, j),
                Op::Not => {}
            }
        }
        res.push(out);
    }
    // A new value, as setKey stores it (its TTL goes).
    ctx.shard.store(ctx.db, dest, Value::Str(Str::Raw(res)), 0);
    ctx.notify(STRING, "set", dest);
    ctx.out.integer(maxlen as i64);
    Ok(())
}

#[derive(Clone, Copy, PartialEq)]
enum Overflow {
    Wrap,
    Sat,
    Fail,
}

#[derive(Clone, Copy, PartialEq)]
enum FieldOp {
    Get,
    Set,
    IncrBy,
}

struct Field {
    op: FieldOp,
    offset: u64,
    value: i64,
    overflow: Overflow,
    bits: u32,
    signed: bool,
}

/// `i<bits>` (1..=64) or `u<bits>` (1..=63).
fn field_type(arg: &[u8]) -> Result<(bool, u32)> {
    let signed = match arg.first() {
        Some(b'i') => true,
        Some(b'u') => false,
        _ => return Err(Error::msg(TYPE_ERR)),
    };
    match parse_i64(&arg[1..]) {
        Some(n) if n >= 1 && n <= if signed { 64 } else { 63 } => Ok((signed, n as u32)),
        _ => Err(Error::msg(TYPE_ERR)),
    }
}

fn get_unsigned(p: &[u8], mut offset: u64, bits: u32) -> u64 {
    let mut v = 0u64;
    for _ in 0..bits {
        let byte = p.get((offset >> 3) as usize).copied().unwrap_or(0);
        v = (v << 1) | u64::from(byte >> (7 - (offset & 7)) & 1);
        offset += 1;
    }
    v
}

fn get_signed(p: &[u8], offset: u64, bits: u32) -> i64 {
    let mut v = get_unsigned(p, offset, bits) as i64;
    if bits < 64 && v & (1i64 << (bits - 1)) != 0 {
        v |= -1i64 << bits;
    }
    v
}

fn set_unsigned(p: &mut [u8], mut offset: u64, bits: u32, value: u64) {
    for j in 0..bits {
        let bit = (value >> (bits - 1 - j)) & 1;
        let byte = (offset >> 3) as usize;
        let shift = 7 - (offset & 7);
        p[byte] = (p[byte] & !(1 << shift)) | ((bit as u8) << shift);
        offset += 1;
    }
}

/// Redis' checkUnsignedBitfieldOverflow: Some(the value to store instead) on an overflow
/// (wrapped or saturated as `how` says; FAIL stores nothing).
fn unsigned_overflow(value: u64, incr: i64, bits: u32, how: Overflow) -> Option<u64> {
    let max = if bits == 64 {
        u64::MAX
    } else {
        (1u64 << bits) - 1
    };
    let maxincr = max.wrapping_sub(value) as i64;
    let minincr = (value as i64).wrapping_neg();
    let wrapped = || value.wrapping_add(incr as u64) & !(u64::MAX.checked_shl(bits).unwrap_or(0));
    if value > max || (incr > 0 && incr > maxincr) {
        Some(match how {
            Overflow::Sat => max,
            _ => wrapped(),
        })
    } else if incr < 0 && incr < minincr {
        Some(match how {
            Overflow::Sat => 0,
            _ => wrapped(),
        })
    } else {
        None
    }
}

/// Redis' checkSignedBitfieldOverflow (see `unsigned_overflow`).
fn signed_overflow(value: i64, incr: i64, bits: u32, how: Overflow) -> Option<i64> {
    let max = if bits == 64 {
        i64::MAX
    } else {
        (1i64 << (bits - 1)) - 1
    };
    let min = -max - 1;
    let maxincr = (max as u64).wrapping_sub(value as u64) as i64;
    let minincr = min.wrapping_sub(value);
    let wrapped = || {
        let mut c = (value as u64).wrapping_add(incr as u64);
        if bits < 64 {
            let mask = u64::MAX << bits;
            if c & (1u64 << (bits - 1)) != 0 {
                c |= mask;
            } else {
                c &= !mask;
            }
        }
        c as i64
    };
    if value > max || (bits != 64 && incr > maxincr) || (value >= 0 && incr > 0 && incr > maxincr) {
        Some(match how {
            Overflow::Sat => max,
            _ => wrapped(),
        })
    } else if value < min
        || (bits != 64 && incr < minincr)
        || (value < 0 && incr < 0 && incr < minincr)
    {
        Some(match how {
            Overflow::Sat => min,
            _ => wrapped(),
        })
    } else {
        None
    }
}

/// BITFIELD key [GET type offset | SET type offset value | INCRBY type offset increment |
/// OVERFLOW WRAP|SAT|FAIL] ...
pub fn bitfield(ctx: &mut Ctx, args: Args) -> Result<()> {
    bitfield_generic(ctx, args, false)
}

/// BITFIELD_RO key [GET type offset] ...
pub fn bitfield_ro(ctx: &mut Ctx, args: Args) -> Result<()> {
    bitfield_generic(ctx, args, true)
}

fn bitfield_generic(ctx: &mut Ctx, args: Args, read_only: bool) -> Result<()> {
    let mut ops: Vec<Field> = Vec::new();
    let mut overflow = Overflow::Wrap;
    let mut writes = false;
    let mut highest = 0u64;
    let mut j = 2;
    while j < args.len() {
        let left = args.len() - j - 1;
        let sub = args.get(j);
        let op = if sub.eq_ignore_ascii_case(b"get") && left >= 2 {
            FieldOp::Get
        } else if sub.eq_ignore_ascii_case(b"set") && left >= 3 {
            FieldOp::Set
        } else if sub.eq_ignore_ascii_case(b"incrby") && left >= 3 {
            FieldOp::IncrBy
        } else if sub.eq_ignore_ascii_case(b"overflow") && left >= 1 {
            let how = args.get(j + 1);
            overflow = if how.eq_ignore_ascii_case(b"wrap") {
                Overflow::Wrap
            } else if how.eq_ignore_ascii_case(b"sat") {
                Overflow::Sat
            } else if how.eq_ignore_ascii_case(b"fail") {
                Overflow::Fail
            } else {
                return Err(Error::msg("ERR Invalid OVERFLOW type specified"));
            };
            j += 2;
            continue;
        } else {
            return Err(Error::Syntax);
        };
        let (signed, bits) = field_type(args.get(j + 1))?;
        let offset = bit_offset(args.get(j + 2), Some(bits), ctx.shard.limits.max_string)?;
        let mut value = 0;
        if op != FieldOp::Get {
            writes = true;
            highest = highest.max(offset + bits as u64 - 1);
            value = args.int(j + 3)?;
        }
        ops.push(Field {
            op,
            offset,
            value,
            overflow,
            bits,
            signed,
        });
        j += if op == FieldOp::Get { 3 } else { 4 };
    }
    let key = args.get(1);
    if !writes {
        // Reads only: a missing key reads as zeros.
        let mut scratch = IntBuf::default();
        let p: Vec<u8> = match read::<Str>(ctx.shard, ctx.db, key)? {
            Some(s) => s.bytes(&mut scratch).to_vec(),
            None => Vec::new(),
        };
        ctx.out.array(ops.len());
        for f in &ops {
            if f.signed {
                ctx.out.integer(get_signed(&p, f.offset, f.bits));
            } else {
                ctx.out.integer(get_unsigned(&p, f.offset, f.bits) as i64);
            }
        }
        return Ok(());
    }
    if read_only {
        return Err(Error::msg(
            "ERR BITFIELD_RO only supports the GET subcommand",
        ));
    }
    let (p, grown) = bits_for_write(ctx, key, highest)?;
    let mut replies: Vec<Option<i64>> = Vec::with_capacity(ops.len());
    let mut changes = 0;
    for f in &ops {
        match f.op {
            FieldOp::Get => {
                replies.push(Some(if f.signed {
                    get_signed(p, f.offset, f.bits)
                } else {
                    get_unsigned(p, f.offset, f.bits) as i64
                }));
            }
            FieldOp::Set | FieldOp::IncrBy => {
                let incr = f.op == FieldOp::IncrBy;
                let (old, new, ret, over) = if f.signed {
                    let old = get_signed(p, f.offset, f.bits);
                    let (new, over) = if incr {
                        match signed_overflow(old, f.value, f.bits, f.overflow) {
                            Some(v) => (v, true),
                            None => (old.wrapping_add(f.value), false),
                        }
                    } else {
                        match signed_overflow(f.value, 0, f.bits, f.overflow) {
                            Some(v) => (v, true),
                            None => (f.value, false),
                        }
                    };
                    (old as u64, new as u64, if incr { new } else { old }, over)
                } else {
                    let old = get_unsigned(p, f.offset, f.bits);
                    let (new, over) = if incr {
                        match unsigned_overflow(old, f.value, f.bits, f.overflow) {
                            Some(v) => (v, true),
                            None => (old.wrapping_add(f.value as u64), false),
                        }
                    } else {
                        match unsigned_overflow(f.value as u64, 0, f.bits, f.overflow) {
                            Some(v) => (v, true),
                            None => (f.value as u64, false),
                        }
                    };
                    (old, new, if incr { new as i64 } else { old as i64 }, over)
                };
                if over && f.overflow == Overflow::Fail {
                    replies.push(None);
                    continue;
                }
                replies.push(Some(ret));
                set_unsigned(p, f.offset, f.bits, new);
                if grown || old != new {
                    changes += 1;
                }
            }
        }
    }
    if changes > 0 {
        ctx.shard.modified(ctx.db, key);
        ctx.notify(STRING, "setbit", key);
    }
    ctx.out.array(replies.len());
    for r in replies {
        match r {
            Some(v) => ctx.out.integer(v),
            None => ctx.out.null(),
        }
    }
    Ok(())
}
