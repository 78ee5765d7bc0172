//! String commands (Redis 7.0 t_string.c semantics).

use crate::args::{parse_i64, Args};
use crate::cmd::{read, write};
use crate::error::{Error, Result};
use crate::notify::{GENERIC, STRING};
use crate::shard::Ctx;
use crate::value::{Entry, IntBuf, Str, Value};

/// Redis' default proto-max-bulk-len: the largest string APPEND/SETRANGE may build.
pub const MAX_STRING: usize = 512 * 1024 * 1024;
const TOO_BIG: &str = "ERR string exceeds maximum allowed size (proto-max-bulk-len)";

pub fn get(ctx: &mut Ctx, args: Args) -> Result<()> {
    match ctx.shard.lookup_read(ctx.db, args.get(1)) {
        None => ctx.out.null(),
        Some(Entry {
            value: Value::Str(s),
            ..
        }) => {
            let mut scratch = IntBuf::default();
            ctx.out.bulk(s.bytes(&mut scratch));
        }
        Some(_) => return Err(Error::WrongType),
    }
    Ok(())
}

/// Expiry options shared by SET and GETEX.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Ttl {
    None,
    Keep,
    Persist,
    /// Absolute unix milliseconds.
    At(u64),
}

/// Parses the number after EX/PX/EXAT/PXAT into absolute milliseconds with Redis' overflow
/// and sign rules.
fn parse_expire(ctx: &Ctx, raw: &[u8], unit_ms: i64, relative: bool) -> Result<u64> {
    let v = parse_i64(raw).ok_or(Error::NotInteger)?;
    if v <= 0 {
        return Err(Error::InvalidExpire(ctx.name));
    }
    let ms = v
        .checked_mul(unit_ms)
        .ok_or(Error::InvalidExpire(ctx.name))?;
    let at = if relative {
        ms.checked_add(ctx.shard.now_ms() as i64)
            .ok_or(Error::InvalidExpire(ctx.name))?
    } else {
        ms
    };
    Ok(at as u64)
}

/// Options of SET (`allow_set`) and GETEX, parsed as Redis' parseExtendedStringArgumentsOrReply
/// does: every option first (a conflict is a syntax error), the expire number afterwards.
struct StrOpts<'a> {
    nx: bool,
    xx: bool,
    get: bool,
    ttl: Ttl,
    /// EX/PX/EXAT/PXAT's number, not yet validated: (unit in ms, relative, raw).
    expire: Option<(i64, bool, &'a [u8])>,
}

impl StrOpts<'_> {
    /// Validates the expire number (Redis' getExpireMillisecondsOrReply) into `ttl`.
    fn resolve(&self, ctx: &Ctx) -> Result<Ttl> {
        match self.expire {
            Some((ms, rel, raw)) => Ok(Ttl::At(parse_expire(ctx, raw, ms, rel)?)),
            None => Ok(self.ttl),
        }
    }
}

fn parse_str_opts<'a>(args: Args<'a>, from: usize, is_set: bool) -> Result<StrOpts<'a>> {
    let (mut nx, mut xx, mut get, mut keep, mut persist) = (false, false, false, false, false);
    // (unit in ms, relative, raw number)
    let mut expire: Option<(&str, i64, bool, &[u8])> = None;
    let mut i = from;
    while i < args.len() {
        let a = args.get(i);
        let next = (i + 1 < args.len()).then(|| args.get(i + 1));
        let is = |w: &str| a.eq_ignore_ascii_case(w.as_bytes());
        let unit = [
            ("ex", 1000, true),
            ("px", 1, true),
            ("exat", 1000, false),
            ("pxat", 1, false),
        ]
        .into_iter()
        .find(|(w, _, _)| is(w));
        if is_set && is("nx") && !xx {
            nx = true;
        } else if is_set && is("xx") && !nx {
            xx = true;
        } else if is_set && is("get") {
            get = true;
        } else if is_set && is("keepttl") && expire.is_none() {
            keep = true;
        } else if !is_set && is("persist") && expire.is_none() {
            persist = true;
        } else if let (Some((w, ms, rel)), Some(raw)) = (unit, next) {
            if keep || persist || expire.is_some_and(|(prev, ..)| prev != w) {
                return Err(Error::Syntax);
            }
            expire = Some((w, ms, rel, raw));
            i += 1;
        } else {
            return Err(Error::Syntax);
        }
        i += 1;
    }
    let ttl = if keep {
        Ttl::Keep
    } else if persist {
        Ttl::Persist
    } else {
        Ttl::None
    };
    let expire = expire.map(|(_, ms, rel, raw)| (ms, rel, raw));
    Ok(StrOpts {
        nx,
        xx,
        get,
        ttl,
        expire,
    })
}

pub fn set(ctx: &mut Ctx, args: Args) -> Result<()> {
    let o = parse_str_opts(args, 3, true)?;
    let ttl = o.resolve(ctx)?;
    let val = match args.shared(2) {
        Some(shared) => Val::Shared(shared),
        None => Val::Bytes(args.get(2)),
    };
    set_generic(ctx, args.get(1), val, o.nx, o.xx, o.get, ttl)?;
    // Redis 7.0 propagates an expiry as absolute PXAT (dropping NX/XX/GET/KEEPTTL), and
    // drops GET otherwise.
    if !matches!(ttl, Ttl::At(_)) && o.get {
        ctx.shard.propagate_instead(|| {
            let words = args.iter().enumerate();
            vec![words
                .filter(|(i, w)| *i < 3 || !w.eq_ignore_ascii_case(b"get"))
                .map(|(_, w)| w.to_vec())
                .collect()]
        });
    }
    Ok(())
}

/// What SET, SETEX and PSETEX with an expiry are recorded as: `SET key value PXAT ms`.
fn propagate_set_pxat(ctx: &mut Ctx, key: &[u8], val: &Str, at: u64) {
    ctx.shard.propagate_instead(|| {
        let at = crate::value::IntBuf::default().format(at as i64).to_vec();
        vec![vec![
            b"SET".to_vec(),
            key.to_vec(),
            val.to_vec(),
            b"PXAT".to_vec(),
            at,
        ]]
    });
}

/// A value to store: bytes to copy, or a big value kept where it arrived (`Args::shared`).
enum Val<'a> {
    Bytes(&'a [u8]),
    Shared(bytes::Bytes),
}

impl<'a> From<&'a [u8]> for Val<'a> {
    fn from(b: &'a [u8]) -> Val<'a> {
        Val::Bytes(b)
    }
}

fn set_generic<'a>(
    ctx: &mut Ctx,
    key: &[u8],
    val: impl Into<Val<'a>>,
    nx: bool,
    xx: bool,
    get: bool,
    ttl: Ttl,
) -> Result<()> {
    let db = ctx.db;
    let old = if get {
        read::<Str>(ctx.shard, ctx.db, key)?.map(|s| s.to_vec())
    } else {
        None
    };
    let existing = ctx.shard.peek(db, key).map(|e| e.expire_at);
    if (nx && existing.is_some()) || (xx && existing.is_none()) {
        if get {
            match old {
                Some(v) => ctx.out.bulk(&v),
                None => ctx.out.null(),
            }
        } else {
            ctx.out.null();
        }
        return Ok(());
    }
    let expire_at = match ttl {
        Ttl::Keep => existing.unwrap_or(0),
        Ttl::At(at) => at,
        Ttl::None | Ttl::Persist => 0,
    };
    // A time already past is stored as given (Redis 7.0 does not delete here): the key is
    // expired lazily on its next access, or by the active cycle.
    let val = match val.into() {
        Val::Bytes(b) => Str::from_bytes(b),
        Val::Shared(b) => Str::Shared(b),
    };
    if let Ttl::At(at) = ttl {
        propagate_set_pxat(ctx, key, &val, at);
    }
    ctx.shard.store(db, key, Value::Str(val), expire_at);
    ctx.notify(STRING, "set", key);
    if let Ttl::At(_) = ttl {
        ctx.notify(GENERIC, "expire", key);
    }
    if get {
        match old {
            Some(v) => ctx.out.bulk(&v),
            None => ctx.out.null(),
        }
    } else {
        ctx.out.ok();
    }
    Ok(())
}

pub fn setnx(ctx: &mut Ctx, args: Args) -> Result<()> {
    let (key, val) = (args.get(1), args.get(2));
    if ctx.shard.exists(ctx.db, key) {
        ctx.out.integer(0);
    } else {
        ctx.shard
            .store(ctx.db, key, Value::Str(Str::from_bytes(val)), 0);
        ctx.notify(STRING, "set", key);
        ctx.out.integer(1);
    }
    Ok(())
}

pub fn setex(ctx: &mut Ctx, args: Args) -> Result<()> {
    let at = parse_expire(ctx, args.get(2), 1000, true)?;
    set_generic(
        ctx,
        args.get(1),
        args.get(3),
        false,
        false,
        false,
        Ttl::At(at),
    )
}

pub fn psetex(ctx: &mut Ctx, args: Args) -> Result<()> {
    let at = parse_expire(ctx, args.get(2), 1, true)?;
    set_generic(
        ctx,
        args.get(1),
        args.get(3),
        false,
        false,
        false,
        Ttl::At(at),
    )
}

pub fn getset(ctx: &mut Ctx, args: Args) -> Result<()> {
    ctx.shard.propagate_instead(|| {
        vec![vec![
            b"SET".to_vec(),
            args.get(1).to_vec(),
            args.get(2).to_vec(),
        ]]
    });
    set_generic(ctx, args.get(1), args.get(2), false, false, true, Ttl::None)
}

pub fn getdel(ctx: &mut Ctx, args: Args) -> Result<()> {
    let key = args.get(1);
    let old = read::<Str>(ctx.shard, ctx.db, key)?.map(|s| s.to_vec());
    if old.is_some() {
        ctx.shard.delete(ctx.db, key);
        ctx.notify(GENERIC, "del", key);
        ctx.shard
            .propagate_instead(|| vec![vec![b"DEL".to_vec(), key.to_vec()]]);
    }
    match old {
        Some(v) => ctx.out.bulk(&v),
        None => ctx.out.null(),
    }
    Ok(())
}

pub fn getex(ctx: &mut Ctx, args: Args) -> Result<()> {
    let key = args.get(1);
    // As Redis' getexCommand: options first, then the key (a missing key answers nil even
    // with a bad expire number), then the expire number.
    let o = parse_str_opts(args, 2, false)?;
    let Some(v) = read::<Str>(ctx.shard, ctx.db, key)?.map(|s| s.to_vec()) else {
        ctx.out.null();
        return Ok(());
    };
    let ttl = o.resolve(ctx)?;
    let k = || key.to_vec();
    match ttl {
        Ttl::At(at) if ctx.shard.already_expired(at as i64) => {
            ctx.shard.delete(ctx.db, key);
            ctx.notify(GENERIC, "del", key);
            ctx.shard
                .propagate_instead(|| vec![vec![b"DEL".to_vec(), k()]]);
        }
        Ttl::At(at) => {
            ctx.shard.set_expire(ctx.db, key, at);
            ctx.notify(GENERIC, "expire", key);
            ctx.shard.propagate_instead(|| {
                let at = crate::value::IntBuf::default().format(at as i64).to_vec();
                vec![vec![b"PEXPIREAT".to_vec(), k(), at]]
            });
        }
        Ttl::Persist => {
            if ctx
                .shard
                .peek(ctx.db, key)
                .is_some_and(|e| e.expire_at != 0)
            {
                ctx.shard.set_expire(ctx.db, key, 0);
                ctx.notify(GENERIC, "persist", key);
                ctx.shard
                    .propagate_instead(|| vec![vec![b"PERSIST".to_vec(), k()]]);
            }
        }
        Ttl::None | Ttl::Keep => {}
    }
    ctx.out.bulk(&v);
    Ok(())
}

pub fn mget(ctx: &mut Ctx, args: Args) -> Result<()> {
    ctx.out.array(args.len() - 1);
    for key in args.iter().skip(1) {
        match ctx.shard.lookup_read(ctx.db, key) {
            Some(Entry {
                value: Value::Str(s),
                ..
            }) => {
                let mut scratch = IntBuf::default();
                let b = s.bytes(&mut scratch);
                ctx.out.bulk(b);
            }
            _ => ctx.out.null(),
        }
    }
    Ok(())
}

pub fn mset(ctx: &mut Ctx, args: Args) -> Result<()> {
    if args.len().is_multiple_of(2) {
        return Err(Error::Arity(ctx.name.to_string()));
    }
    for i in (1..args.len()).step_by(2) {
        ctx.shard.store(
            ctx.db,
            args.get(i),
            Value::Str(Str::from_bytes(args.get(i + 1))),
            0,
        );
        ctx.notify(STRING, "set", args.get(i));
    }
    ctx.out.ok();
    Ok(())
}

pub fn msetnx(ctx: &mut Ctx, args: Args) -> Result<()> {
    if args.len().is_multiple_of(2) {
        return Err(Error::Arity(ctx.name.to_string()));
    }
    if (1..args.len())
        .step_by(2)
        .any(|i| ctx.shard.exists(ctx.db, args.get(i)))
    {
        ctx.out.integer(0);
        return Ok(());
    }
    for i in (1..args.len()).step_by(2) {
        ctx.shard.store(
            ctx.db,
            args.get(i),
            Value::Str(Str::from_bytes(args.get(i + 1))),
            0,
        );
        ctx.notify(STRING, "set", args.get(i));
    }
    ctx.out.integer(1);
    Ok(())
}

pub fn append(ctx: &mut Ctx, args: Args) -> Result<()> {
    let (key, val) = (args.get(1), args.get(2));
    let max = ctx.shard.limits.max_string;
    let len = match write::<Str>(ctx.shard, ctx.db, key)? {
        None => None,
        Some(s) => {
            if s.len() + val.len() > max {
                return Err(Error::msg(TOO_BIG));
            }
            let raw = s.make_raw();
            raw.extend_from_slice(val);
            Some(raw.len())
        }
    };
    let len = match len {
        Some(l) => {
            ctx.shard.modified(ctx.db, key);
            l
        }
        None => {
            // A new key gets the argument as SET would store it (tryObjectEncoding).
            ctx.shard
                .store(ctx.db, key, Value::Str(Str::from_bytes(val)), 0);
            val.len()
        }
    };
    ctx.notify(STRING, "append", key);
    ctx.out.integer(len as i64);
    Ok(())
}

pub fn strlen(ctx: &mut Ctx, args: Args) -> Result<()> {
    let n = read::<Str>(ctx.shard, ctx.db, args.get(1))?.map_or(0, |s| s.len());
    ctx.out.integer(n as i64);
    Ok(())
}

fn incr_by(ctx: &mut Ctx, key: &[u8], by: i64) -> Result<()> {
    let db = ctx.db;
    let new = match write::<Str>(ctx.shard, ctx.db, key)? {
        Some(s) => {
            let cur = s.as_int().ok_or(Error::NotInteger)?;
            let new = cur.checked_add(by).ok_or(Error::Overflow)?;
            *s = Str::Int(new);
            ctx.shard.modified(ctx.db, key);
            new
        }
        None => {
            ctx.shard.store(db, key, Value::Str(Str::Int(by)), 0);
            by
        }
    };
    ctx.notify(STRING, "incrby", key);
    ctx.out.integer(new);
    Ok(())
}

pub fn incr(ctx: &mut Ctx, args: Args) -> Result<()> {
    incr_by(ctx, args.get(1), 1)
}

pub fn decr(ctx: &mut Ctx, args: Args) -> Result<()> {
    incr_by(ctx, args.get(1), -1)
}

pub fn incrby(ctx: &mut Ctx, args: Args) -> Result<()> {
    let by = args.int(2)?;
    incr_by(ctx, args.get(1), by)
}

pub fn decrby(ctx: &mut Ctx, args: Args) -> Result<()> {
    let by = args.int(2)?;
    let by = by
        .checked_neg()
        .ok_or_else(|| Error::msg("ERR decrement would overflow"))?;
    incr_by(ctx, args.get(1), by)
}

pub fn incrbyfloat(ctx: &mut Ctx, args: Args) -> Result<()> {
    let (key, incr) = (args.get(1), args.get(2));
    let db = ctx.db;
    // Redis reads the current value as a long double: an int-encoded value exactly, any
    // other string through strtold.
    let cur = match write::<Str>(ctx.shard, db, key)? {
        None => Some(ld::Ld::ZERO),
        Some(Str::Int(v)) => Some(ld::Ld::from_i64(*v)),
        Some(s) => ld::parse(&s.to_vec()),
    };
    let a = cur.ok_or(Error::NotFloat)?;
    let b = ld::parse(incr).ok_or(Error::NotFloat)?;
    let sum =
        ld::add(a, b).ok_or_else(|| Error::msg("ERR increment would produce NaN or Infinity"))?;
    let text = ld::format_human(sum);
    // createStringObjectFromLongDouble makes a plain string (never int-encoded); the key keeps
    // its TTL (dbReplaceValue).
    let value = Str::plain(&text);
    let expire = ctx.shard.peek(db, key).map_or(0, |e| e.expire_at);
    ctx.shard.store(db, key, Value::Str(value), expire);
    ctx.notify(STRING, "incrbyfloat", key);
    ctx.shard.propagate_instead(|| {
        vec![vec![
            b"SET".to_vec(),
            key.to_vec(),
            text.clone(),
            b"KEEPTTL".to_vec(),
        ]]
    });
    ctx.out.bulk(&text);
    Ok(())
}

/// Software emulation of the x87 80-bit `long double` Redis' INCRBYFLOAT computes with
/// (64-bit mantissa, 15-bit exponent, round-to-nearest-even): strtold, one addition and
/// printf("%.17Lf"). f64 or exact decimal arithmetic both disagree with Redis in the last
/// digits (1e23+1, 3+1.23456789012345678+1e10) and in range (1e400 is a valid long double).
pub(crate) mod ld {
    use std::cmp::Ordering;

    /// Unsigned big integer, little-endian 32-bit limbs, no trailing zero limbs.
    #[derive(Clone, Debug, Default, PartialEq, Eq)]
    struct Big(Vec<u32>);

    impl Big {
        fn from_u128(mut v: u128) -> Big {
            let mut l = Vec::new();
            while v != 0 {
                l.push(v as u32);
                v >>= 32;
            }
            Big(l)
        }
        fn trim(&mut self) {
            while self.0.last() == Some(&0) {
                self.0.pop();
            }
        }
        fn is_zero(&self) -> bool {
            self.0.is_empty()
        }
        fn bits(&self) -> u64 {
            match self.0.last() {
                None => 0,
                Some(&top) => self.0.len() as u64 * 32 - top.leading_zeros() as u64,
            }
        }
        fn bit(&self, i: u64) -> bool {
            let (l, b) = ((i / 32) as usize, i % 32);
            self.0.get(l).is_some_and(|&x| x >> b & 1 == 1)
        }
        /// Whether any bit below position `n` is set.
        fn any_below(&self, n: u64) -> bool {
            let (l, b) = ((n / 32) as usize, n % 32);
            self.0.iter().take(l).any(|&x| x != 0)
                || (b > 0 && self.0.get(l).is_some_and(|&x| x & ((1u32 << b) - 1) != 0))
        }
        fn low_u64(&self) -> u64 {
            self.0.first().copied().unwrap_or(0) as u64
                | (self.0.get(1).copied().unwrap_or(0) as u64) << 32
        }
        fn low_u128(&self) -> u128 {
            (0..4)
                .map(|i| (self.0.get(i).copied().unwrap_or(0) as u128) << (32 * i))
                .sum()
        }
        fn mul_add_small(&mut self, m: u32, a: u32) {
            let mut carry = a as u64;
            for x in self.0.iter_mut() {
                let v = *x as u64 * m as u64 + carry;
                *x = v as u32;
                carry = v >> 32;
            }
            if carry != 0 {
                self.0.push(carry as u32);
            }
            self.trim();
        }
        fn mul_pow10(&mut self, mut n: u64) {
            while n >= 9 {
                self.mul_add_small(1_000_000_000, 0);
                n -= 9;
            }
            self.mul_add_small(10u32.pow(n as u32), 0);
        }
        fn shl(&self, n: u64) -> Big {
            if self.is_zero() {
                return Big::default();
            }
            let (l, b) = ((n / 32) as usize, (n % 32) as u32);
            let mut out = vec![0u32; l];
            let mut carry = 0u32;
            for &x in &self.0 {
                out.push(if b == 0 { x } else { x << b | carry });
                carry = if b == 0 { 0 } else { x >> (32 - b) };
            }
            out.push(carry);
            let mut r = Big(out);
            r.trim();
            r
        }
        fn shr(&self, n: u64) -> Big {
            let (l, b) = ((n / 32) as usize, (n % 32) as u32);
            if l >= self.0.len() {
                return Big::default();
            }
            let src = &self.0[l..];
            let mut out = Vec::with_capacity(src.len());
            for i in 0..src.len() {
                let hi = src.get(i + 1).copied().unwrap_or(0);
                out.push(if b == 0 {
                    src[i]
                } else {
                    src[i] >> b | hi << (32 - b)
                });
            }
            let mut r = Big(out);
            r.trim();
            r
        }
        fn cmp(&self, o: &Big) -> Ordering {
            self.0
                .len()
                .cmp(&o.0.len())
                .then_with(|| self.0.iter().rev().cmp(o.0.iter().rev()))
        }
        fn add(&self, o: &Big) -> Big {
            let mut out = Vec::with_capacity(self.0.len().max(o.0.len()) + 1);
            let mut carry = 0u64;
            for i in 0..self.0.len().max(o.0.len()) {
                let v = self.0.get(i).copied().unwrap_or(0) as u64
                    + o.0.get(i).copied().unwrap_or(0) as u64
                    + carry;
                out.push(v as u32);
                carry = v >> 32;
            }
            out.push(carry as u32);
            let mut r = Big(out);
            r.trim();
            r
        }
        /// self - o, for self >= o.
        fn sub(&self, o: &Big) -> Big {
            let mut out = Vec::with_capacity(self.0.len());
            let mut borrow = 0i64;
            for i in 0..self.0.len() {
                let mut v = self.0[i] as i64 - o.0.get(i).copied().unwrap_or(0) as i64 - borrow;
                borrow = (v < 0) as i64;
                if v < 0 {
                    v += 1 << 32;
                }
                out.push(v as u32);
            }
            let mut r = Big(out);
            r.trim();
            r
        }
        /// The low `n` bits.
        fn low_bits(&self, n: u64) -> Big {
            let (l, b) = ((n / 32) as usize, n % 32);
            let mut v: Vec<u32> = self.0.iter().take(l + 1).copied().collect();
            if v.len() > l {
                v[l] &= ((1u64 << b) - 1) as u32;
            }
            let mut r = Big(v);
            r.trim();
            r
        }
        fn to_decimal(&self) -> String {
            if self.is_zero() {
                return "0".into();
            }
            let mut chunks = Vec::new();
            let mut v = self.0.clone();
            while !v.is_empty() {
                let mut rem = 0u64;
                for x in v.iter_mut().rev() {
                    let cur = rem << 32 | *x as u64;
                    *x = (cur / 1_000_000_000) as u32;
                    rem = cur % 1_000_000_000;
                }
                while v.last() == Some(&0) {
                    v.pop();
                }
                chunks.push(rem as u32);
            }
            let mut s = chunks.pop().map(|c| c.to_string()).unwrap_or_default();
            for c in chunks.iter().rev() {
                s.push_str(&format!("{c:09}"));
            }
            s
        }
    }

    /// Exponent of the least significant mantissa bit of the smallest subnormal.
    const MIN_LSB: i64 = -16445;
    /// Values at or above 2^MAX_EXP overflow to infinity.
    const MAX_EXP: i64 = 16384;

    /// A long double: `±m * 2^e`, or infinity.
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub enum Ld {
        Fin { neg: bool, m: u64, e: i64 },
        Inf { neg: bool },
    }

    impl Ld {
        pub const ZERO: Ld = Ld::Fin {
            neg: false,
            m: 0,
            e: 0,
        };

        pub fn from_i64(v: i64) -> Ld {
            Ld::Fin {
                neg: v < 0,
                m: v.unsigned_abs(),
                e: 0,
            }
        }
    }

    /// Rounds `mag * 2^exp` (plus a nonzero tail below it when `sticky`) to the nearest long
    /// double, ties to even.
    fn round(neg: bool, mag: &Big, exp: i64, sticky: bool) -> Ld {
        if mag.is_zero() {
            return Ld::Fin { neg, m: 0, e: 0 };
        }
        let top = exp + mag.bits() as i64 - 1;
        if top >= MAX_EXP {
            return Ld::Inf { neg };
        }
        let lsb = (top - 63).max(MIN_LSB);
        let drop = lsb - exp;
        let (m, e) = if drop <= 0 {
            (mag.shl((-drop) as u64).low_u64(), lsb)
        } else {
            let drop = drop as u64;
            let mut m = mag.shr(drop).low_u64();
            let half = mag.bit(drop - 1);
            let rest = sticky || mag.any_below(drop - 1);
            let mut e = lsb;
            if half && (rest || m & 1 == 1) {
                m = m.wrapping_add(1);
                if m == 0 {
                    m = 1 << 63;
                    e += 1;
                }
            }
            (m, e)
        };
        if m != 0 && e + 63 - m.leading_zeros() as i64 >= MAX_EXP {
            return Ld::Inf { neg };
        }
        Ld::Fin { neg, m, e }
    }

    pub fn is_inf(x: Ld) -> bool {
        matches!(x, Ld::Inf { .. })
    }

    /// a + b, or None when the result is infinite or NaN.
    pub fn add(a: Ld, b: Ld) -> Option<Ld> {
        let (
            Ld::Fin {
                neg: an,
                m: am,
                e: ae,
            },
            Ld::Fin {
                neg: bn,
                m: bm,
                e: be,
            },
        ) = (a, b)
        else {
            return None;
        };
        let r = if am == 0 && bm == 0 {
            Ld::Fin {
                neg: an && bn,
                m: 0,
                e: 0,
            }
        } else if am == 0 {
            b
        } else if bm == 0 {
            a
        } else {
            let e = ae.min(be);
            let x = Big::from_u128(am as u128).shl((ae - e) as u64);
            let y = Big::from_u128(bm as u128).shl((be - e) as u64);
            if an == bn {
                round(an, &x.add(&y), e, false)
            } else {
                match x.cmp(&y) {
                    Ordering::Greater => round(an, &x.sub(&y), e, false),
                    Ordering::Less => round(bn, &y.sub(&x), e, false),
                    Ordering::Equal => Ld::ZERO,
                }
            }
        };
        matches!(r, Ld::Fin { .. }).then_some(r)
    }

    /// Redis' string2ld: strtold over the whole string, no leading space, shorter than
    /// MAX_LONG_DOUBLE_CHARS, no NaN, and no overflow or underflow to zero (ERANGE).
    pub fn parse(s: &[u8]) -> Option<Ld> {
        if s.is_empty() || s.len() >= 5 * 1024 || matches!(s[0], b' ' | b'\t'..=b'\r') {
            return None;
        }
        let (neg, body) = match s[0] {
            b'-' => (true, &s[1..]),
            b'+' => (false, &s[1..]),
            _ => (false, s),
        };
        if body.eq_ignore_ascii_case(b"inf") || body.eq_ignore_ascii_case(b"infinity") {
            return Some(Ld::Inf { neg });
        }
        let hex = body.len() > 2 && body[0] == b'0' && (body[1] | 0x20) == b'x';
        let (radix, body) = if hex { (16u32, &body[2..]) } else { (10, body) };
        let is_digit = |c: u8| (c as char).is_digit(radix);
        let mut i = 0;
        let mut mant = Big::default();
        let (mut ndigits, mut frac) = (0u64, 0i64);
        let mut seen_dot = false;
        while i < body.len() {
            let c = body[i];
            if c == b'.' && !seen_dot {
                seen_dot = true;
            } else if is_digit(c) {
                ndigits += 1;
                if !(mant.is_zero() && c == b'0') {
                    mant.mul_add_small(radix, (c as char).to_digit(radix)?);
                }
                if seen_dot {
                    frac += 1;
                }
            } else {
                break;
            }
            i += 1;
        }
        if ndigits == 0 {
            return None;
        }
        let mut exp = 0i64;
        if i < body.len() {
            // The exponent: e (decimal, power of ten) or p (hex, power of two).
            let marker = if hex { b'p' } else { b'e' };
            if body[i] | 0x20 != marker {
                return None;
            }
            let mut j = i + 1;
            let eneg = match body.get(j) {
                Some(b'-') => {
                    j += 1;
                    true
                }
                Some(b'+') => {
                    j += 1;
                    false
                }
                _ => false,
            };
            let digits = &body[j..];
            if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
                return None;
            }
            for &d in digits {
                exp = (exp * 10 + (d - b'0') as i64).min(1 << 40);
            }
            if eneg {
                exp = -exp;
            }
        }
        if mant.is_zero() {
            return Some(Ld::Fin { neg, m: 0, e: 0 });
        }
        let r = if hex {
            round(neg, &mant, exp - 4 * frac, false)
        } else {
            let e10 = exp - frac;
            // Rough magnitude, to refuse hopeless exponents before building huge numbers.
            let digits = mant.to_decimal().len() as i64;
            if digits + e10 > 4934 {
                return None;
            }
            if digits + e10 < -4952 {
                return None;
            }
            if e10 >= 0 {
                let mut n = mant;
                n.mul_pow10(e10 as u64);
                round(neg, &n, 0, false)
            } else {
                let mut d = Big(vec![1]);
                d.mul_pow10((-e10) as u64);
                // Scale so the quotient carries at least 66 significant bits.
                let s = (d.bits() as i64 - mant.bits() as i64 + 66).max(0) as u64;
                let n = mant.shl(s);
                let (q, rem) = div_rem(&n, &d);
                round(neg, &q, -(s as i64), rem)
            }
        };
        match r {
            Ld::Fin { m: 0, .. } | Ld::Inf { .. } => None,
            r => Some(r),
        }
    }

    /// Quotient of n / d (a few dozen bits at most here) and whether a remainder is left.
    fn div_rem(n: &Big, d: &Big) -> (Big, bool) {
        let (nb, db) = (n.bits(), d.bits());
        if nb < db {
            return (Big::default(), !n.is_zero());
        }
        let shift = nb - db;
        let mut r = n.clone();
        let mut ds = d.shl(shift);
        let mut q = Big::default();
        for _ in 0..=shift {
            q = q.shl(1);
            if r.cmp(&ds) != Ordering::Less {
                r = r.sub(&ds);
                q = q.add(&Big(vec![1]));
            }
            ds = ds.shr(1);
        }
        (q, !r.is_zero())
    }

    /// printf("%.17Lf") with trailing zeros (and a bare point) removed, "-0" as "0": Redis'
    /// ld2string(LD_STR_HUMAN).
    pub fn format_human(x: Ld) -> Vec<u8> {
        let Ld::Fin { neg, m, e } = x else {
            return if matches!(x, Ld::Inf { neg: true }) {
                b"-inf".to_vec()
            } else {
                b"inf".to_vec()
            };
        };
        const SCALE: u64 = 100_000_000_000_000_000;
        let mb = Big::from_u128(m as u128);
        let (int, frac) = if e >= 0 {
            (mb.shl(e as u64), 0u64)
        } else {
            let s = (-e) as u64;
            let mut int = mb.shr(s);
            let mut scaled = mb.low_bits(s);
            scaled.mul_pow10(17);
            let mut q = scaled.shr(s).low_u128() as u64;
            let half = scaled.bit(s - 1);
            if half && (scaled.any_below(s - 1) || q & 1 == 1) {
                q += 1;
            }
            if q == SCALE {
                q = 0;
                int = int.add(&Big(vec![1]));
            }
            (int, q)
        };
        let mut out = String::new();
        if neg {
            out.push('-');
        }
        out.push_str(&int.to_decimal());
        let f = format!("{frac:017}");
        let f = f.trim_end_matches('0');
        if !f.is_empty() {
            out.push('.');
            out.push_str(f);
        }
        if out == "-0" {
            out = "0".into();
        }
        out.into_bytes()
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        fn incr(a: &str, b: &str) -> String {
            let sum = add(parse(a.as_bytes()).unwrap(), parse(b.as_bytes()).unwrap()).unwrap();
            String::from_utf8(format_human(sum)).unwrap()
        }

        #[test]
        fn matches_redis_long_double_output() {
            assert_eq!(incr("10.5", "0.1"), "10.6");
            assert_eq!(incr("0.1", "0.2"), "0.3");
            assert_eq!(incr("5.0e3", "2.0e2"), "5200");
            assert_eq!(incr("0", "-1.5"), "-1.5");
            assert_eq!(incr("1", "-1"), "0");
            assert_eq!(incr("3", "1e-20"), "3");
            assert_eq!(
                incr("100000000000000000000000", "1"),
                "100000000000000000000000"
            );
            assert_eq!(
                incr("4.23456789012345678", "1e10"),
                "10000000004.23456788994371891"
            );
            assert_eq!(incr("0x1p3", "1"), "9");
            assert_eq!(incr("5e-18", "0"), "0");
            assert_eq!(incr("-0.0", "-0.0"), "0");
        }

        #[test]
        fn strtold_acceptance() {
            for bad in [
                "", " 1", "1 ", "1e", "1e+", "0x", "nan", "-nan", "abc", "1e5000", "1e-5000",
                "1_0", ".", "infinit",
            ] {
                assert_eq!(parse(bad.as_bytes()), None, "{bad:?}");
            }
            for good in [
                "1e-4940", "+1.5", ".5", "5.", "00012", "0x.8", "INFINITY", "-inf", "0e99999",
            ] {
                assert!(parse(good.as_bytes()).is_some(), "{good:?}");
            }
        }
    }
}

pub fn getrange(ctx: &mut Ctx, args: Args) -> Result<()> {
    let (mut start, mut end) = (args.int(2)?, args.int(3)?);
    let Some(s) = read::<Str>(ctx.shard, ctx.db, args.get(1))? else {
        ctx.out.bulk(b"");
        return Ok(());
    };
    let mut scratch = IntBuf::default();
    let bytes = s.bytes(&mut scratch);
    let len = bytes.len() as i64;
    if start < 0 && end < 0 && start > end {
        ctx.out.bulk(b"");
        return Ok(());
    }
    if start < 0 {
        start += len;
    }
    if end < 0 {
        end += len;
    }
    start = start.max(0);
    end = end.max(0);
    if end >= len {
        end = len - 1;
    }
    if start > end || len == 0 {
        ctx.out.bulk(b"");
    } else {
        let slice = &bytes[start as usize..=end as usize];
        ctx.out.bulk(slice);
    }
    Ok(())
}

pub fn setrange(ctx: &mut Ctx, args: Args) -> Result<()> {
    let (key, val) = (args.get(1), args.get(3));
    let offset = args.int(2)?;
    if offset < 0 {
        return Err(Error::msg("ERR offset is out of range"));
    }
    let offset = offset as usize;
    let max = ctx.shard.limits.max_string;
    let exists = write::<Str>(ctx.shard, ctx.db, key)?.is_some();
    if !exists {
        if val.is_empty() {
            ctx.out.integer(0);
            return Ok(());
        }
        if offset.saturating_add(val.len()) > max {
            return Err(Error::msg(TOO_BIG));
        }
        ctx.shard
            .store(ctx.db, key, Value::Str(Str::Raw(Vec::new())), 0);
    }
    let Some(s) = write::<Str>(ctx.shard, ctx.db, key)? else {
        return Err(Error::NoSuchKey);
    };
    if val.is_empty() {
        let n = s.len();
        ctx.out.integer(n as i64);
        return Ok(());
    }
    if offset.saturating_add(val.len()) > max {
        return Err(Error::msg(TOO_BIG));
    }
    let raw = s.make_raw();
    if raw.len() < offset + val.len() {
        raw.resize(offset + val.len(), 0);
    }
    raw[offset..offset + val.len()].copy_from_slice(val);
    let n = raw.len();
    ctx.shard.modified(ctx.db, key);
    ctx.notify(STRING, "setrange", key);
    ctx.out.integer(n as i64);
    Ok(())
}

/// LCS options, parsed before the values are fetched so a cross-shard LCS can reuse them.
#[derive(Clone, Copy, Debug, Default)]
pub struct LcsOpts {
    pub len: bool,
    pub idx: bool,
    pub min_match_len: i64,
    pub with_match_len: bool,
}

pub fn parse_lcs_opts(args: Args) -> Result<LcsOpts> {
    let mut o = LcsOpts::default();
    let mut i = 3;
    while i < args.len() {
        if args.is(i, "len") {
            o.len = true;
        } else if args.is(i, "idx") {
            o.idx = true;
        } else if args.is(i, "withmatchlen") {
            o.with_match_len = true;
        } else if args.is(i, "minmatchlen") && i + 1 < args.len() {
            o.min_match_len = args.int(i + 1)?.max(0);
            i += 1;
        } else {
            return Err(Error::Syntax);
        }
        i += 1;
    }
    if o.len && o.idx {
        return Err(Error::msg(
            "ERR If you want both the length and indexes, please just use IDX.",
        ));
    }
    Ok(o)
}

pub fn lcs(ctx: &mut Ctx, args: Args) -> Result<()> {
    // Redis looks both keys up, then checks their types, then the options.
    let mut vals = [Vec::new(), Vec::new()];
    let mut wrong = false;
    for (i, v) in vals.iter_mut().enumerate() {
        match ctx.shard.lookup_read(ctx.db, args.get(1 + i)) {
            None => {}
            Some(Entry {
                value: Value::Str(s),
                ..
            }) => *v = s.to_vec(),
            Some(_) => wrong = true,
        }
    }
    if wrong {
        return Err(Error::msg(
            "ERR The specified keys must contain string values",
        ));
    }
    let opts = parse_lcs_opts(args)?;
    lcs_reply(&mut ctx.out, &vals[0], &vals[1], opts)
}

/// An inclusive index range of one LCS match.
type Span = (usize, usize);

/// The LCS reply for two values (dynamic programming, O(len(a)*len(b)) time and memory as
/// in Redis; refused past a memory bound instead of exhausting the machine).
pub fn lcs_reply(out: &mut resp::Writer, a: &[u8], b: &[u8], o: LcsOpts) -> Result<()> {
    let (alen, blen) = (a.len(), b.len());
    let cells = (alen + 1).saturating_mul(blen + 1);
    if cells >= (MAX_STRING / 4) {
        return Err(Error::msg(
            "ERR Insufficient memory, transient memory for LCS exceeds proto-max-bulk-len",
        ));
    }
    let w = blen + 1;
    let mut dp = vec![0u32; cells];
    for i in 1..=alen {
        for j in 1..=blen {
            dp[i * w + j] = if a[i - 1] == b[j - 1] {
                dp[(i - 1) * w + j - 1] + 1
            } else {
                dp[(i - 1) * w + j].max(dp[i * w + j - 1])
            };
        }
    }
    let total = dp[alen * w + blen] as usize;
    if o.len {
        out.integer(total as i64);
        return Ok(());
    }
    // Walk back from the end, as Redis does, collecting the string and the match ranges.
    let mut result = vec![0u8; total];
    let mut idx = total;
    let (mut i, mut j) = (alen, blen);
    let mut matches: Vec<(Span, Span, usize)> = Vec::new();
    let mut range: Option<(Span, Span)> = None;
    let flush = |range: &mut Option<(Span, Span)>, matches: &mut Vec<_>| {
        if let Some((ra, rb)) = range.take() {
            let len = ra.1 - ra.0 + 1;
            if len as i64 >= o.min_match_len {
                matches.push((ra, rb, len));
            }
        }
    };
    while i > 0 && j > 0 {
        if a[i - 1] == b[j - 1] {
            idx -= 1;
            result[idx] = a[i - 1];
            let (ai, bj) = (i - 1, j - 1);
            range = match range {
                Some((ra, rb)) if ra.0 == ai + 1 && rb.0 == bj + 1 => {
                    Some(((ai, ra.1), (bj, rb.1)))
                }
                other => {
                    let mut r = other;
                    flush(&mut r, &mut matches);
                    Some(((ai, ai), (bj, bj)))
                }
            };
            i -= 1;
            j -= 1;
        } else if dp[(i - 1) * w + j] > dp[i * w + j - 1] {
            i -= 1;
        } else {
            j -= 1;
        }
    }
    flush(&mut range, &mut matches);
    if !o.idx {
        out.bulk(&result);
        return Ok(());
    }
    out.map(2);
    out.bulk(b"matches");
    out.array(matches.len());
    for (ra, rb, len) in &matches {
        out.array(if o.with_match_len { 3 } else { 2 });
        out.array(2);
        out.integer(ra.0 as i64);
        out.integer(ra.1 as i64);
        out.array(2);
        out.integer(rb.0 as i64);
        out.integer(rb.1 as i64);
        if o.with_match_len {
            out.integer(*len as i64);
        }
    }
    out.bulk(b"len");
    out.integer(total as i64);
    Ok(())
}
