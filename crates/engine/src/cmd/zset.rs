//! Sorted-set commands (Redis 7.0 t_zset.c semantics): argument checks in Redis' order,
//! scores answered as `%.17g` (RESP3 doubles), WITHSCORES as a flat array in RESP2 and
//! [member, score] pairs in RESP3. Empty sorted sets are deleted. Commands over several keys
//! see one shard: when their keys span shards they run on a scratch shard holding copies
//! (`Split::Gather`).

use crate::args::{parse_f64, parse_i64, Args, ScanOpts};
use crate::cmd::{read, settle, write};
use crate::error::{Error, Result};
use crate::notify::ZSET;
use crate::shard::{Ctx, Shard};
use crate::value::{Set, Value};
use crate::zset::{AddFlags, Added, ZSet};
use resp::{Proto, Writer};

fn score_arg(b: &[u8]) -> Result<f64> {
    parse_f64(b).ok_or(Error::NotFloat)
}

// ---- writing replies ----

/// Writes `items` as ZRANGE does: members, with their scores when asked (flat in RESP2,
/// pairs in RESP3).
fn reply_scored(out: &mut Writer, items: &[(Vec<u8>, f64)], withscores: bool) {
    let pairs = withscores && out.proto == Proto::Resp3;
    out.array(if withscores && !pairs {
        items.len() * 2
    } else {
        items.len()
    });
    for (m, s) in items {
        if pairs {
            out.array(2);
        }
        out.bulk(m);
        if withscores {
            out.double(*s);
        }
    }
}

// ---- ZADD and single-member commands ----

fn zadd_generic(ctx: &mut Ctx, args: Args, incr_cmd: bool) -> Result<()> {
    let key = args.get(1);
    let mut f = AddFlags {
        incr: incr_cmd,
        ..AddFlags::default()
    };
    let mut ch = false;
    let mut at = 2;
    while at < args.len() {
        if args.is(at, "nx") {
            f.nx = true;
        } else if args.is(at, "xx") {
            f.xx = true;
        } else if args.is(at, "ch") {
            ch = true;
        } else if args.is(at, "incr") {
            f.incr = true;
        } else if args.is(at, "gt") {
            f.gt = true;
        } else if args.is(at, "lt") {
            f.lt = true;
        } else {
            break;
        }
        at += 1;
    }
    let elements = args.len() - at;
    if elements == 0 || !elements.is_multiple_of(2) {
        return Err(Error::Syntax);
    }
    let pairs = elements / 2;
    if f.nx && f.xx {
        return Err(Error::msg(
            "ERR XX and NX options at the same time are not compatible",
        ));
    }
    if ((f.gt || f.lt) && f.nx) || (f.gt && f.lt) {
        return Err(Error::msg(
            "ERR GT, LT, and/or NX options at the same time are not compatible",
        ));
    }
    if f.incr && pairs > 1 {
        return Err(Error::msg(
            "ERR INCR option supports a single increment-element pair",
        ));
    }
    let scores = (0..pairs)
        .map(|j| score_arg(args.get(at + 2 * j)))
        .collect::<Result<Vec<f64>>>()?;
    let limits = ctx.shard.limits;
    let (mut added, mut updated, mut processed) = (0, 0, 0);
    let mut last = 0.0;
    // XX never creates the key.
    let first_len = args.get(at + 1).len();
    let z: Option<&mut ZSet> = if f.xx {
        write::<ZSet>(ctx.shard, ctx.db, key)?
    } else {
        Some(crate::cmd::write_or_create(ctx.shard, ctx.db, key, || {
            Value::ZSet(ZSet::for_first(first_len, &limits))
        })?)
    };
    if let Some(z) = z {
        let mut nan = false;
        for (j, &score) in scores.iter().enumerate() {
            match z.add(score, args.get(at + 2 * j + 1), f, &limits) {
                Added::Added(s) => {
                    added += 1;
                    processed += 1;
                    last = s;
                }
                Added::Updated(s) => {
                    updated += 1;
                    processed += 1;
                    last = s;
                }
                Added::Same(s) => {
                    processed += 1;
                    last = s;
                }
                Added::Nop => {}
                Added::NaN => {
                    nan = true;
                    break;
                }
            }
        }
        let empty = z.is_empty();
        if empty {
            ctx.shard.delete(ctx.db, key);
        } else if added + updated > 0 {
            ctx.shard.modified(ctx.db, key);
        }
        if added + updated > 0 {
            ctx.notify(ZSET, if f.incr { "zincr" } else { "zadd" }, key);
        }
        if nan {
            return Err(Error::msg("ERR resulting score is not a number (NaN)"));
        }
    }
    if f.incr {
        if processed > 0 {
            ctx.out.double(last);
        } else {
            ctx.out.null();
        }
    } else {
        ctx.out
            .integer(if ch { added + updated } else { added } as i64);
    }
    Ok(())
}

pub fn zadd(ctx: &mut Ctx, args: Args) -> Result<()> {
    zadd_generic(ctx, args, false)
}

pub fn zincrby(ctx: &mut Ctx, args: Args) -> Result<()> {
    zadd_generic(ctx, args, true)
}

pub fn zrem(ctx: &mut Ctx, args: Args) -> Result<()> {
    let key = args.get(1);
    let Some(z) = write::<ZSet>(ctx.shard, ctx.db, key)? else {
        ctx.out.integer(0);
        return Ok(());
    };
    let mut removed = 0;
    for i in 2..args.len() {
        removed += z.remove(args.get(i)) as i64;
        if z.is_empty() {
            break;
        }
    }
    let empty = z.is_empty();
    if removed > 0 {
        ctx.notify(ZSET, "zrem", key);
        settle(ctx, key, empty);
    }
    ctx.out.integer(removed);
    Ok(())
}

pub fn zcard(ctx: &mut Ctx, args: Args) -> Result<()> {
    let n = read::<ZSet>(ctx.shard, ctx.db, args.get(1))?.map_or(0, |z| z.len());
    ctx.out.integer(n as i64);
    Ok(())
}

pub fn zscore(ctx: &mut Ctx, args: Args) -> Result<()> {
    match read::<ZSet>(ctx.shard, ctx.db, args.get(1))?.and_then(|z| z.score(args.get(2))) {
        Some(s) => ctx.out.double(s),
        None => ctx.out.null(),
    }
    Ok(())
}

pub fn zmscore(ctx: &mut Ctx, args: Args) -> Result<()> {
    let z = read::<ZSet>(ctx.shard, ctx.db, args.get(1))?;
    ctx.out.array(args.len() - 2);
    for i in 2..args.len() {
        match z.as_ref().and_then(|z| z.score(args.get(i))) {
            Some(s) => ctx.out.double(s),
            None => ctx.out.null(),
        }
    }
    Ok(())
}

fn rank_generic(ctx: &mut Ctx, args: Args, rev: bool) -> Result<()> {
    let Some(z) = read::<ZSet>(ctx.shard, ctx.db, args.get(1))? else {
        ctx.out.null();
        return Ok(());
    };
    let len = z.len();
    match z.rank(args.get(2)) {
        Some(r) => ctx.out.integer(if rev { len - 1 - r } else { r } as i64),
        None => ctx.out.null(),
    }
    Ok(())
}

pub fn zrank(ctx: &mut Ctx, args: Args) -> Result<()> {
    rank_generic(ctx, args, false)
}

pub fn zrevrank(ctx: &mut Ctx, args: Args) -> Result<()> {
    rank_generic(ctx, args, true)
}

// ---- ranges ----

/// A score interval (Redis' zrangespec).
#[derive(Clone, Copy)]
struct ScoreRange {
    min: f64,
    minex: bool,
    max: f64,
    maxex: bool,
}

impl ScoreRange {
    fn parse(min: &[u8], max: &[u8]) -> Result<ScoreRange> {
        let bound = |b: &[u8]| match b.strip_prefix(b"(") {
            Some(rest) => crate::args::strtod(rest).map(|v| (v, true)),
            None => crate::args::strtod(b).map(|v| (v, false)),
        };
        match (bound(min), bound(max)) {
            (Some((min, minex)), Some((max, maxex))) => Ok(ScoreRange {
                min,
                minex,
                max,
                maxex,
            }),
            _ => Err(Error::msg("ERR min or max is not a float")),
        }
    }

    fn gte_min(&self, v: f64) -> bool {
        if self.minex {
            v > self.min
        } else {
            v >= self.min
        }
    }

    fn lte_max(&self, v: f64) -> bool {
        if self.maxex {
            v < self.max
        } else {
            v <= self.max
        }
    }
}

/// One end of a lexicographic interval.
#[derive(Clone)]
enum Lex {
    Min,
    Max,
    Incl(Vec<u8>),
    Excl(Vec<u8>),
}

#[derive(Clone)]
struct LexRange {
    min: Lex,
    max: Lex,
}

impl LexRange {
    fn parse(min: &[u8], max: &[u8]) -> Result<LexRange> {
        let item = |b: &[u8]| match b.first() {
            Some(b'+') if b.len() == 1 => Some(Lex::Max),
            Some(b'-') if b.len() == 1 => Some(Lex::Min),
            Some(b'(') => Some(Lex::Excl(b[1..].to_vec())),
            Some(b'[') => Some(Lex::Incl(b[1..].to_vec())),
            _ => None,
        };
        match (item(min), item(max)) {
            (Some(min), Some(max)) => Ok(LexRange { min, max }),
            _ => Err(Error::msg("ERR min or max not valid string range item")),
        }
    }

    fn gte_min(&self, m: &[u8]) -> bool {
        match &self.min {
            Lex::Min => true,
            Lex::Max => false,
            Lex::Incl(x) => m >= x.as_slice(),
            Lex::Excl(x) => m > x.as_slice(),
        }
    }

    fn lte_max(&self, m: &[u8]) -> bool {
        match &self.max {
            Lex::Max => true,
            Lex::Min => false,
            Lex::Incl(x) => m <= x.as_slice(),
            Lex::Excl(x) => m < x.as_slice(),
        }
    }

    /// Redis' check that the interval is not empty by construction (min above max).
    fn is_empty(&self) -> bool {
        let key = |l: &Lex| -> (u8, Vec<u8>) {
            match l {
                Lex::Min => (0, Vec::new()),
                Lex::Max => (2, Vec::new()),
                Lex::Incl(x) | Lex::Excl(x) => (1, x.clone()),
            }
        };
        let (a, b) = (key(&self.min), key(&self.max));
        let exclusive = matches!(self.min, Lex::Excl(_)) || matches!(self.max, Lex::Excl(_));
        a > b || (a == b && exclusive)
    }
}

/// The rank of the first element in a lex range, or None. A listpack is scanned from its
/// head as Redis does (which defines the answer even when scores differ); a skiplist is
/// searched, which agrees whenever the members are in lex order.
fn lex_first(z: &ZSet, r: &LexRange) -> Option<usize> {
    if r.is_empty() || z.is_empty() {
        return None;
    }
    let last = z.at(z.len() - 1)?.0;
    let first = z.at(0)?.0;
    if !r.gte_min(last) || !r.lte_max(first) {
        return None;
    }
    let i = match z {
        ZSet::Pack(p) => p.iter().position(|(m, _)| r.gte_min(m))?,
        ZSet::Skip(_) => z.count_while(|_, m| !r.gte_min(m)),
    };
    let (m, _) = z.at(i)?;
    r.lte_max(m).then_some(i)
}

/// The rank of the last element in a lex range, or None (the mirror of `lex_first`).
fn lex_last(z: &ZSet, r: &LexRange) -> Option<usize> {
    if r.is_empty() || z.is_empty() {
        return None;
    }
    let last = z.at(z.len() - 1)?.0;
    let first = z.at(0)?.0;
    if !r.gte_min(last) || !r.lte_max(first) {
        return None;
    }
    let i = match z {
        ZSet::Pack(p) => {
            let last = p
                .iter()
                .enumerate()
                .filter(|(_, (m, _))| r.lte_max(m))
                .last();
            last?.0
        }
        ZSet::Skip(_) => z.count_while(|_, m| r.lte_max(m)).checked_sub(1)?,
    };
    let (m, _) = z.at(i)?;
    r.gte_min(m).then_some(i)
}

/// The ranks `first..end` of a score range (empty when none).
fn score_ranks(z: &ZSet, r: &ScoreRange) -> (usize, usize) {
    let first = z.count_while(|s, _| !r.gte_min(s));
    let end = z.count_while(|s, _| r.lte_max(s));
    (first, end.max(first))
}

enum RangeKind {
    Rank(i64, i64),
    Score(ScoreRange),
    Lex(LexRange),
}

/// The members of a range, in reply order, with their scores. `offset`/`limit` follow
/// Redis' loops: a negative offset skips everything, a negative limit means no limit.
fn collect_range(
    z: &ZSet,
    kind: &RangeKind,
    rev: bool,
    offset: i64,
    limit: i64,
) -> Vec<(Vec<u8>, f64)> {
    let len = z.len() as i64;
    let mut out = Vec::new();
    let mut push = |m: &[u8], s: f64| out.push((m.to_vec(), s));
    match kind {
        RangeKind::Rank(start, end) => {
            let Some((start, end)) = crate::cmd::list::range(*start, *end, z.len()) else {
                return out;
            };
            let len = z.len();
            if rev {
                z.visit(len - 1 - end, len - 1 - start, true, |m, s| push(m, s));
            } else {
                z.visit(start, end, false, |m, s| push(m, s));
            }
        }
        RangeKind::Score(_) | RangeKind::Lex(_) => {
            if offset < 0 || (offset > 0 && offset >= len) {
                return out;
            }
            let (lo, hi) = match kind {
                RangeKind::Score(r) => {
                    let (a, b) = score_ranks(z, r);
                    if a >= b {
                        return out;
                    }
                    (a, b - 1)
                }
                RangeKind::Lex(r) => {
                    let (Some(a), Some(b)) = (lex_first(z, r), lex_last(z, r)) else {
                        return out;
                    };
                    // Redis walks from the first element on while the other end holds; for
                    // sets whose members are not in lex order that walk stops early.
                    let walk = if rev {
                        (0..=b)
                            .rev()
                            .take_while(|&i| z.at(i).is_some_and(|(m, _)| r.gte_min(m)))
                            .last()
                            .unwrap_or(b)
                    } else {
                        (a..len as usize)
                            .take_while(|&i| z.at(i).is_some_and(|(m, _)| r.lte_max(m)))
                            .last()
                            .unwrap_or(a)
                    };
                    if rev {
                        (walk, b)
                    } else {
                        (a, walk)
                    }
                }
                RangeKind::Rank(..) => unreachable!("handled above"),
            };
            let avail = (hi - lo + 1) as i64;
            let skip = offset.min(avail);
            let take = if limit < 0 {
                avail - skip
            } else {
                limit.min(avail - skip)
            };
            if take <= 0 {
                return out;
            }
            let (skip, take) = (skip as usize, take as usize);
            if rev {
                z.visit(lo, hi - skip, true, |m, s| {
                    if out.len() < take {
                        out.push((m.to_vec(), s));
                    }
                });
            } else {
                z.visit(lo + skip, hi, false, |m, s| {
                    if out.len() < take {
                        out.push((m.to_vec(), s));
                    }
                });
            }
        }
    }
    out
}

#[derive(Clone, Copy, PartialEq)]
enum Kind {
    Auto,
    Rank,
    Score,
    Lex,
}

/// Redis' zrangeGenericCommand: `src` is the index of the source key; `store` is the
/// destination for ZRANGESTORE.
fn zrange_generic(
    ctx: &mut Ctx,
    args: Args,
    src: usize,
    store: Option<&[u8]>,
    mut kind: Kind,
    mut rev: Option<bool>,
) -> Result<()> {
    let (mut minidx, mut maxidx) = (src + 1, src + 2);
    let (mut withscores, mut offset, mut limit) = (false, 0i64, -1i64);
    let mut j = src + 3;
    while j < args.len() {
        let left = args.len() - j - 1;
        if store.is_none() && args.is(j, "withscores") {
            withscores = true;
        } else if args.is(j, "limit") && left >= 2 {
            offset = args.int(j + 1)?;
            limit = args.int(j + 2)?;
            j += 2;
        } else if rev.is_none() && args.is(j, "rev") {
            rev = Some(true);
        } else if kind == Kind::Auto && args.is(j, "bylex") {
            kind = Kind::Lex;
        } else if kind == Kind::Auto && args.is(j, "byscore") {
            kind = Kind::Score;
        } else {
            return Err(Error::Syntax);
        }
        j += 1;
    }
    let rev = rev.unwrap_or(false);
    if kind == Kind::Auto {
        kind = Kind::Rank;
    }
    if limit != -1 && kind == Kind::Rank {
        return Err(Error::msg(
            "ERR syntax error, LIMIT is only supported in combination with either BYSCORE or BYLEX",
        ));
    }
    if withscores && kind == Kind::Lex {
        return Err(Error::msg(
            "ERR syntax error, WITHSCORES not supported in combination with BYLEX",
        ));
    }
    if rev && kind != Kind::Rank {
        std::mem::swap(&mut minidx, &mut maxidx);
    }
    let range = match kind {
        Kind::Score => RangeKind::Score(ScoreRange::parse(args.get(minidx), args.get(maxidx))?),
        Kind::Lex => RangeKind::Lex(LexRange::parse(args.get(minidx), args.get(maxidx))?),
        _ => RangeKind::Rank(args.int(minidx)?, args.int(maxidx)?),
    };
    let items = match read::<ZSet>(ctx.shard, ctx.db, args.get(src))? {
        Some(z) => collect_range(z, &range, rev, offset, limit),
        None => Vec::new(),
    };
    match store {
        Some(dst) => store_result(ctx, dst, &items),
        None => reply_scored(&mut ctx.out, &items, withscores),
    }
    Ok(())
}

/// Stores the members as a new sorted set at `dst` (replacing any value and its TTL), or
/// deletes `dst` when there are none; replies with the count.
/// The keyspace event is the command's name (zrangestore, zunionstore, ...).
fn store_result(ctx: &mut Ctx, dst: &[u8], items: &[(Vec<u8>, f64)]) {
    if items.is_empty() {
        crate::cmd::clear_destination(ctx, dst);
        ctx.out.integer(0);
        return;
    }
    let limits = ctx.shard.limits;
    let longest = items.iter().map(|(m, _)| m.len()).max().unwrap_or(0);
    let mut z = ZSet::for_result(items.len(), longest, &limits);
    for (m, s) in items {
        z.insert_new(*s, m, &limits);
    }
    let n = z.len();
    ctx.shard.store(ctx.db, dst, Value::ZSet(z), 0);
    ctx.notify(ZSET, ctx.name, dst);
    ctx.out.integer(n as i64);
}

pub fn zrange(ctx: &mut Ctx, args: Args) -> Result<()> {
    zrange_generic(ctx, args, 1, None, Kind::Auto, None)
}

pub fn zrangestore(ctx: &mut Ctx, args: Args) -> Result<()> {
    let dst = args.get(1).to_vec();
    zrange_generic(ctx, args, 2, Some(&dst), Kind::Auto, None)
}

pub fn zrevrange(ctx: &mut Ctx, args: Args) -> Result<()> {
    zrange_generic(ctx, args, 1, None, Kind::Rank, Some(true))
}

pub fn zrangebyscore(ctx: &mut Ctx, args: Args) -> Result<()> {
    zrange_generic(ctx, args, 1, None, Kind::Score, Some(false))
}

pub fn zrevrangebyscore(ctx: &mut Ctx, args: Args) -> Result<()> {
    zrange_generic(ctx, args, 1, None, Kind::Score, Some(true))
}

pub fn zrangebylex(ctx: &mut Ctx, args: Args) -> Result<()> {
    zrange_generic(ctx, args, 1, None, Kind::Lex, Some(false))
}

pub fn zrevrangebylex(ctx: &mut Ctx, args: Args) -> Result<()> {
    zrange_generic(ctx, args, 1, None, Kind::Lex, Some(true))
}

pub fn zcount(ctx: &mut Ctx, args: Args) -> Result<()> {
    let r = ScoreRange::parse(args.get(2), args.get(3))?;
    let n = match read::<ZSet>(ctx.shard, ctx.db, args.get(1))? {
        Some(z) => {
            let (a, b) = score_ranks(z, &r);
            b - a
        }
        None => 0,
    };
    ctx.out.integer(n as i64);
    Ok(())
}

pub fn zlexcount(ctx: &mut Ctx, args: Args) -> Result<()> {
    let r = LexRange::parse(args.get(2), args.get(3))?;
    let n = match read::<ZSet>(ctx.shard, ctx.db, args.get(1))? {
        Some(z) => collect_range(z, &RangeKind::Lex(r), false, 0, -1).len(),
        None => 0,
    };
    ctx.out.integer(n as i64);
    Ok(())
}

fn zremrange(ctx: &mut Ctx, args: Args, kind: Kind) -> Result<()> {
    let key = args.get(1);
    let range = match kind {
        Kind::Score => RangeKind::Score(ScoreRange::parse(args.get(2), args.get(3))?),
        Kind::Lex => RangeKind::Lex(LexRange::parse(args.get(2), args.get(3))?),
        _ => RangeKind::Rank(args.int(2)?, args.int(3)?),
    };
    let Some(z) = write::<ZSet>(ctx.shard, ctx.db, key)? else {
        ctx.out.integer(0);
        return Ok(());
    };
    let (lo, hi) = match &range {
        RangeKind::Rank(start, end) => {
            crate::cmd::list::range(*start, *end, z.len()).unwrap_or((1, 0))
        }
        RangeKind::Score(r) => {
            let (a, b) = score_ranks(z, r);
            if a >= b {
                (1, 0)
            } else {
                (a, b - 1)
            }
        }
        RangeKind::Lex(r) => {
            let n = collect_range(z, &range, false, 0, -1).len();
            match lex_first(z, r) {
                Some(a) if n > 0 => (a, a + n - 1),
                _ => (1, 0),
            }
        }
    };
    let removed = z.remove_range(lo, hi);
    let empty = z.is_empty();
    if removed > 0 {
        // ctx.name is the event: zremrangebyrank, zremrangebyscore, zremrangebylex.
        ctx.notify(ZSET, ctx.name, key);
        settle(ctx, key, empty);
    }
    ctx.out.integer(removed as i64);
    Ok(())
}

pub fn zremrangebyrank(ctx: &mut Ctx, args: Args) -> Result<()> {
    zremrange(ctx, args, Kind::Rank)
}

pub fn zremrangebyscore(ctx: &mut Ctx, args: Args) -> Result<()> {
    zremrange(ctx, args, Kind::Score)
}

pub fn zremrangebylex(ctx: &mut Ctx, args: Args) -> Result<()> {
    zremrange(ctx, args, Kind::Lex)
}

// ---- pops ----

/// How a pop answers (Redis' genericZpopCommand emitkey/use_nested_array).
#[derive(Clone, Copy, PartialEq)]
pub enum PopReply {
    /// ZPOPMIN/ZPOPMAX: flat [m, s, ...], or RESP3 pairs when a count was given.
    Plain { nested: bool },
    /// BZPOPMIN/BZPOPMAX: [key, m, s].
    WithKey,
    /// ZMPOP/BZMPOP: [key, [[m, s], ...]].
    Multi,
}

/// Pops up to `count` elements from the first non-empty sorted set among `keys`. Writes
/// the reply; returns false when every key was missing (the caller answers for that).
pub fn pop_from(
    ctx: &mut Ctx,
    keys: &[&[u8]],
    max: bool,
    count: usize,
    how: PopReply,
) -> Result<Option<(usize, usize)>> {
    for (i, &key) in keys.iter().enumerate() {
        let Some(z) = write::<ZSet>(ctx.shard, ctx.db, key)? else {
            continue;
        };
        if count == 0 {
            // ZPOPMIN key 0: checked only once a sorted set was found.
            ctx.out.array(0);
            return Ok(Some((i, 0)));
        }
        let n = count.min(z.len());
        let mut items = Vec::with_capacity(n);
        if n > 0 {
            let len = z.len();
            let (lo, hi) = if max { (len - n, len - 1) } else { (0, n - 1) };
            z.visit(lo, hi, max, |m, s| items.push((m.to_vec(), s)));
            z.remove_range(lo, hi);
        }
        let empty = z.is_empty();
        ctx.notify(ZSET, if max { "zpopmax" } else { "zpopmin" }, key);
        settle(ctx, key, empty);
        let out = &mut ctx.out;
        let nested = match how {
            PopReply::Plain { nested } => {
                out.array(if nested { n } else { n * 2 });
                nested
            }
            PopReply::WithKey => {
                out.array(n * 2 + 1);
                out.bulk(key);
                false
            }
            PopReply::Multi => {
                out.array(2);
                out.bulk(key);
                out.array(n);
                true
            }
        };
        for (m, s) in &items {
            if nested {
                out.array(2);
            }
            out.bulk(m);
            out.double(*s);
        }
        return Ok(Some((i, n)));
    }
    Ok(None)
}

/// What a pop of `n` from `key` is recorded as (ZMPOP, BZPOPMIN, BZMPOP): `ZPOPMIN key
/// [n]`, as Redis 7.0 propagates it.
pub fn zpop_record(key: &[u8], max: bool, n: Option<usize>) -> Vec<Vec<u8>> {
    super::pop_argv(if max { b"ZPOPMAX" } else { b"ZPOPMIN" }, key, n)
}

fn zpop(ctx: &mut Ctx, args: Args, max: bool) -> Result<()> {
    if args.len() > 3 {
        return Err(Error::Syntax);
    }
    let count = if args.len() == 3 {
        Some(
            parse_i64(args.get(2))
                .filter(|&n| n >= 0)
                .ok_or_else(|| Error::msg("ERR value is out of range, must be positive"))?,
        )
    } else {
        None
    };
    let nested = ctx.out.proto == Proto::Resp3 && count.is_some();
    let how = PopReply::Plain { nested };
    let n = count.unwrap_or(1) as usize;
    if pop_from(ctx, &[args.get(1)], max, n, how)?.is_none() {
        ctx.out.array(0);
    }
    Ok(())
}

pub fn zpopmin(ctx: &mut Ctx, args: Args) -> Result<()> {
    zpop(ctx, args, false)
}

pub fn zpopmax(ctx: &mut Ctx, args: Args) -> Result<()> {
    zpop(ctx, args, true)
}

pub fn zmpop(ctx: &mut Ctx, args: Args) -> Result<()> {
    let (keys, max, count) = crate::args::parse_mpop(args, 1, "min", "max")?;
    match pop_from(ctx, &keys, max, count, PopReply::Multi)? {
        Some((i, n)) => {
            let key = keys[i];
            ctx.shard
                .propagate_instead(|| vec![zpop_record(key, max, Some(n))]);
        }
        None => ctx.out.null_array(),
    }
    Ok(())
}

// ---- random members ----

pub fn zrandmember(ctx: &mut Ctx, args: Args) -> Result<()> {
    let key = args.get(1);
    if args.len() == 2 {
        let mut rng = ctx.shard.rng.clone();
        let m = read::<ZSet>(ctx.shard, ctx.db, key)?
            .and_then(|z| z.random(&mut rng).map(|x| x.0.to_vec()));
        ctx.shard.rng = rng;
        match m {
            Some(m) => ctx.out.bulk(&m),
            None => ctx.out.null(),
        }
        return Ok(());
    }
    let (count, withscores) = crate::cmd::set::random_count(args, Some("withscores"))?;
    let mut rng = ctx.shard.rng.clone();
    let Some(z) = read::<ZSet>(ctx.shard, ctx.db, key)? else {
        ctx.out.array(0);
        return Ok(());
    };
    let z: &ZSet = z;
    let items: Vec<(Vec<u8>, f64)> = if count == 0 {
        Vec::new()
    } else if count < 0 {
        (0..count.unsigned_abs())
            .filter_map(|_| z.random(&mut rng).map(|(m, s)| (m.to_vec(), s)))
            .collect()
    } else if count as usize >= z.len() {
        // The whole set, highest first: Redis walks it from the tail.
        let mut all = Vec::with_capacity(z.len());
        z.visit(0, z.len() - 1, true, |m, s| all.push((m.to_vec(), s)));
        all
    } else {
        distinct_random(z, count as usize, &mut rng)
    };
    ctx.shard.rng = rng;
    reply_scored(&mut ctx.out, &items, withscores);
    Ok(())
}

fn distinct_random(z: &ZSet, n: usize, rng: &mut crate::dict::Rng) -> Vec<(Vec<u8>, f64)> {
    let mut all = Vec::with_capacity(z.len());
    z.for_each(|m, s| all.push((m.to_vec(), s)));
    // Partial Fisher-Yates: the first n slots end up a uniform sample.
    for i in 0..n {
        let j = i + rng.next_u64() as usize % (all.len() - i);
        all.swap(i, j);
    }
    all.truncate(n);
    all
}

// ---- ZUNION, ZINTER, ZDIFF and their STORE and CARD forms ----

#[derive(Clone, Copy, PartialEq)]
enum SetOp {
    Union,
    Inter,
    Diff,
}

#[derive(Clone, Copy)]
enum Aggregate {
    Sum,
    Min,
    Max,
}

fn aggregate(target: &mut f64, v: f64, how: Aggregate) {
    match how {
        Aggregate::Sum => {
            *target += v;
            if target.is_nan() {
                *target = 0.0;
            }
        }
        Aggregate::Min => {
            if v < *target {
                *target = v;
            }
        }
        Aggregate::Max => {
            if v > *target {
                *target = v;
            }
        }
    }
}

/// An input of ZUNION and friends: a sorted set, or a set whose members score 1.
enum Src<'a> {
    Missing,
    Z(&'a ZSet),
    S(&'a Set),
}

impl Src<'_> {
    fn len(&self) -> usize {
        match self {
            Src::Missing => 0,
            Src::Z(z) => z.len(),
            Src::S(s) => s.len(),
        }
    }

    fn score(&self, m: &[u8]) -> Option<f64> {
        match self {
            Src::Missing => None,
            Src::Z(z) => z.score(m),
            Src::S(s) => s.contains(m).then_some(1.0),
        }
    }

    fn for_each(&self, mut f: impl FnMut(&[u8], f64)) {
        match self {
            Src::Missing => {}
            Src::Z(z) => z.for_each(f),
            Src::S(s) => s.for_each(|m| f(m, 1.0)),
        }
    }

    fn same(&self, other: &Src) -> bool {
        match (self, other) {
            (Src::Z(a), Src::Z(b)) => std::ptr::eq(*a, *b),
            (Src::S(a), Src::S(b)) => std::ptr::eq(*a, *b),
            _ => false,
        }
    }
}

fn zsetop(
    ctx: &mut Ctx,
    args: Args,
    numkeys_at: usize,
    dst: Option<&[u8]>,
    op: SetOp,
    card_only: bool,
) -> Result<()> {
    let setnum = args.int(numkeys_at)?;
    if setnum < 1 {
        return Err(Error::msg(format!(
            "ERR at least 1 input key is needed for '{}' command",
            ctx.name
        )));
    }
    if setnum as u64 > (args.len() - numkeys_at - 1) as u64 {
        return Err(Error::Syntax);
    }
    let setnum = setnum as usize;
    let keys: Vec<&[u8]> = (numkeys_at + 1..numkeys_at + 1 + setnum)
        .map(|i| args.get(i))
        .collect();
    for k in &keys {
        // Redis 7.0 reads the sources with lookupKeyRead even when storing (a keymiss each).
        if let Some(e) = ctx.shard.lookup_read(ctx.db, k) {
            if !matches!(e.value, Value::ZSet(_) | Value::Set(_)) {
                return Err(Error::WrongType);
            }
        }
    }
    let mut weights = vec![1.0f64; setnum];
    let mut how = Aggregate::Sum;
    let (mut withscores, mut limit) = (false, 0usize);
    let mut j = numkeys_at + 1 + setnum;
    while j < args.len() {
        let remaining = args.len() - j;
        if op != SetOp::Diff && !card_only && remaining > setnum && args.is(j, "weights") {
            for (i, w) in weights.iter_mut().enumerate() {
                *w = parse_f64(args.get(j + 1 + i))
                    .ok_or_else(|| Error::msg("ERR weight value is not a float"))?;
            }
            j += 1 + setnum;
        } else if op != SetOp::Diff && !card_only && remaining >= 2 && args.is(j, "aggregate") {
            how = match args.get(j + 1).to_ascii_lowercase().as_slice() {
                b"sum" => Aggregate::Sum,
                b"min" => Aggregate::Min,
                b"max" => Aggregate::Max,
                _ => return Err(Error::Syntax),
            };
            j += 2;
        } else if dst.is_none() && !card_only && args.is(j, "withscores") {
            withscores = true;
            j += 1;
        } else if card_only && remaining >= 2 && args.is(j, "limit") {
            limit = parse_i64(args.get(j + 1))
                .filter(|&l| l >= 0)
                .ok_or_else(|| Error::msg("ERR LIMIT can't be negative"))?
                as usize;
            j += 2;
        } else {
            return Err(Error::Syntax);
        }
    }
    let mut result: Vec<(Vec<u8>, f64)> = Vec::new();
    let mut card = 0usize;
    {
        let shard: &Shard = ctx.shard;
        let mut srcs: Vec<(Src, f64)> = keys
            .iter()
            .zip(&weights)
            .map(|(k, &w)| {
                let src = match shard.value(ctx.db, k) {
                    Some(Value::ZSet(z)) => Src::Z(z),
                    Some(Value::Set(s)) => Src::S(s),
                    _ => Src::Missing,
                };
                (src, w)
            })
            .collect();
        if op != SetOp::Diff {
            srcs.sort_by_key(|(s, _)| s.len());
        }
        match op {
            SetOp::Inter => {
                let (first, w0) = &srcs[0];
                if first.len() > 0 {
                    let mut stop = false;
                    first.for_each(|m, s| {
                        if stop {
                            return;
                        }
                        let mut score = w0 * s;
                        if score.is_nan() {
                            score = 0.0;
                        }
                        for (other, w) in &srcs[1..] {
                            let v = if other.same(first) {
                                Some(s)
                            } else {
                                other.score(m)
                            };
                            match v {
                                Some(v) => aggregate(&mut score, v * w, how),
                                None => return,
                            }
                        }
                        if card_only {
                            card += 1;
                            stop = limit != 0 && card >= limit;
                        } else {
                            result.push((m.to_vec(), score));
                        }
                    });
                }
            }
            SetOp::Union => {
                let mut acc: std::collections::HashMap<Vec<u8>, f64> =
                    std::collections::HashMap::new();
                for (src, w) in &srcs {
                    src.for_each(|m, s| {
                        let mut score = w * s;
                        if score.is_nan() {
                            score = 0.0;
                        }
                        match acc.get_mut(m) {
                            Some(cur) => aggregate(cur, score, how),
                            None => {
                                acc.insert(m.to_vec(), score);
                            }
                        }
                    });
                }
                // Sorted below by (score, member), a total order: insertion order is moot.
                result = acc.into_iter().collect();
            }
            SetOp::Diff => {
                let (first, _) = &srcs[0];
                first.for_each(|m, s| {
                    if !srcs[1..].iter().any(|(o, _)| o.score(m).is_some()) {
                        result.push((m.to_vec(), s));
                    }
                });
            }
        }
    }
    if card_only {
        ctx.out.integer(card as i64);
        return Ok(());
    }
    result.sort_by(|a, b| crate::zset::cmp(a.1, &a.0, b.1, &b.0));
    match dst {
        Some(dst) => store_result(ctx, dst, &result),
        None => reply_scored(&mut ctx.out, &result, withscores),
    }
    Ok(())
}

pub fn zunion(ctx: &mut Ctx, args: Args) -> Result<()> {
    zsetop(ctx, args, 1, None, SetOp::Union, false)
}

pub fn zinter(ctx: &mut Ctx, args: Args) -> Result<()> {
    zsetop(ctx, args, 1, None, SetOp::Inter, false)
}

pub fn zdiff(ctx: &mut Ctx, args: Args) -> Result<()> {
    zsetop(ctx, args, 1, None, SetOp::Diff, false)
}

pub fn zintercard(ctx: &mut Ctx, args: Args) -> Result<()> {
    zsetop(ctx, args, 1, None, SetOp::Inter, true)
}

pub fn zunionstore(ctx: &mut Ctx, args: Args) -> Result<()> {
    let dst = args.get(1).to_vec();
    zsetop(ctx, args, 2, Some(&dst), SetOp::Union, false)
}

pub fn zinterstore(ctx: &mut Ctx, args: Args) -> Result<()> {
    let dst = args.get(1).to_vec();
    zsetop(ctx, args, 2, Some(&dst), SetOp::Inter, false)
}

pub fn zdiffstore(ctx: &mut Ctx, args: Args) -> Result<()> {
    let dst = args.get(1).to_vec();
    zsetop(ctx, args, 2, Some(&dst), SetOp::Diff, false)
}

// ---- ZSCAN ----

pub fn zscan(ctx: &mut Ctx, args: Args) -> Result<()> {
    let cursor = crate::args::parse_cursor(args.get(2))?;
    let Some(z) = read::<ZSet>(ctx.shard, ctx.db, args.get(1))? else {
        crate::cmd::set::scan_reply(ctx, 0, &[]);
        return Ok(());
    };
    let opts = ScanOpts::parse(args, 3)?;
    let mut items: Vec<Vec<u8>> = Vec::new();
    let mut keep = |m: &[u8], s: f64| {
        if opts.keeps(m) {
            items.push(m.to_vec());
            let mut text = Vec::new();
            resp::format_g17(s, &mut text);
            items.push(text);
        }
    };
    let next = match &*z {
        // A listpack is answered whole, as Redis does for compact encodings.
        ZSet::Pack(_) => {
            z.for_each(&mut keep);
            0
        }
        ZSet::Skip(s) => s
            .dict
            .scan_count(cursor, opts.count, |m, &score| keep(m, score)),
    };
    crate::cmd::set::scan_reply(ctx, next, &items);
    Ok(())
}
