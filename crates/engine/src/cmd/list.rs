//! List commands (Redis 7.0 t_list.c semantics). Redis 7.0 keeps every list in a quicklist,
//! so OBJECT ENCODING always answers "quicklist" (the listpack encoding of small lists
//! arrived in 7.2). Empty lists are deleted, as in Redis.

use crate::args::{parse_i64, Args};
use crate::cmd::{read, settle, typed, write};
use crate::error::{Error, Result};
use crate::notify::{GENERIC, LIST};
use crate::shard::{Ctx, Shard};
use crate::value::{List, Value};

fn push(ctx: &mut Ctx, args: Args, left: bool, only_existing: bool) -> Result<()> {
    let key = args.get(1);
    if only_existing && !check_list(ctx.shard, ctx.db, key)? {
        ctx.out.integer(0);
        return Ok(());
    }
    let elems = (2..args.len()).map(|i| args.get(i));
    let n = push_into(ctx.shard, ctx.db, key, left, elems)?;
    ctx.out.integer(n as i64);
    Ok(())
}

pub fn lpush(ctx: &mut Ctx, args: Args) -> Result<()> {
    push(ctx, args, true, false)
}

pub fn rpush(ctx: &mut Ctx, args: Args) -> Result<()> {
    push(ctx, args, false, false)
}

pub fn lpushx(ctx: &mut Ctx, args: Args) -> Result<()> {
    push(ctx, args, true, true)
}

pub fn rpushx(ctx: &mut Ctx, args: Args) -> Result<()> {
    push(ctx, args, false, true)
}

const MUST_BE_POSITIVE: &str = "ERR value is out of range, must be positive";

fn pop(ctx: &mut Ctx, args: Args, left: bool) -> Result<()> {
    if args.len() > 3 {
        return Err(Error::Arity(ctx.name.into()));
    }
    let count = if args.len() == 3 {
        match parse_i64(args.get(2)) {
            Some(n) if n >= 0 => Some(n as usize),
            _ => return Err(Error::msg(MUST_BE_POSITIVE)),
        }
    } else {
        None
    };
    let key = args.get(1);
    if count == Some(0) {
        // Redis answers an empty array at once, touching nothing.
        match check_list(ctx.shard, ctx.db, key)? {
            true => ctx.out.array(0),
            false => ctx.out.null_array(),
        }
        return Ok(());
    }
    match (
        pop_from(ctx.shard, ctx.db, key, left, count.unwrap_or(1))?,
        count,
    ) {
        (None, Some(_)) => ctx.out.null_array(),
        (None, None) => ctx.out.null(),
        (Some(popped), Some(_)) => {
            ctx.out.array(popped.len());
            for v in &popped {
                ctx.out.bulk(v);
            }
        }
        (Some(popped), None) => match popped.first() {
            Some(v) => ctx.out.bulk(v),
            None => ctx.out.null(),
        },
    }
    Ok(())
}

pub fn lpop(ctx: &mut Ctx, args: Args) -> Result<()> {
    pop(ctx, args, true)
}

pub fn rpop(ctx: &mut Ctx, args: Args) -> Result<()> {
    pop(ctx, args, false)
}

pub fn llen(ctx: &mut Ctx, args: Args) -> Result<()> {
    let n = read::<List>(ctx.shard, ctx.db, args.get(1))?.map_or(0, |l| l.len());
    ctx.out.integer(n as i64);
    Ok(())
}

/// Redis' range normalisation: negative indexes count from the end; an empty range is None.
pub(crate) fn range(start: i64, stop: i64, len: usize) -> Option<(usize, usize)> {
    let len = len as i64;
    let mut start = if start < 0 { len + start } else { start };
    let mut stop = if stop < 0 { len + stop } else { stop };
    if start < 0 {
        start = 0;
    }
    if start > stop || start >= len {
        return None;
    }
    if stop >= len {
        stop = len - 1;
    }
    Some((start as usize, stop as usize))
}

pub fn lrange(ctx: &mut Ctx, args: Args) -> Result<()> {
    let (start, stop) = (args.int(2)?, args.int(3)?);
    let Some(list) = read::<List>(ctx.shard, ctx.db, args.get(1))? else {
        ctx.out.array(0);
        return Ok(());
    };
    match range(start, stop, list.len()) {
        None => ctx.out.array(0),
        Some((a, b)) => {
            ctx.out.array(b - a + 1);
            for v in list.iter().skip(a).take(b - a + 1) {
                ctx.out.bulk(v);
            }
        }
    }
    Ok(())
}

/// A list index (negative from the end) as a position, if inside the list.
fn position(index: i64, len: usize) -> Option<usize> {
    let i = if index < 0 { len as i64 + index } else { index };
    (0..len as i64).contains(&i).then_some(i as usize)
}

pub fn lindex(ctx: &mut Ctx, args: Args) -> Result<()> {
    // Redis looks the key up before parsing the index.
    let Some(list) = read::<List>(ctx.shard, ctx.db, args.get(1))? else {
        ctx.out.null();
        return Ok(());
    };
    let index = args.int(2)?;
    match position(index, list.len()).and_then(|i| list.get(i)) {
        Some(v) => ctx.out.bulk(v),
        None => ctx.out.null(),
    }
    Ok(())
}

pub fn lset(ctx: &mut Ctx, args: Args) -> Result<()> {
    let key = args.get(1);
    // Redis looks the key up before parsing the index.
    let Some(list) = write::<List>(ctx.shard, ctx.db, key)? else {
        return Err(Error::NoSuchKey);
    };
    let index = args.int(2)?;
    let Some(i) = position(index, list.len()) else {
        return Err(Error::msg("ERR index out of range"));
    };
    list.set(i, args.get(3));
    ctx.shard.modified(ctx.db, key);
    ctx.notify(LIST, "lset", key);
    ctx.out.ok();
    Ok(())
}

pub fn linsert(ctx: &mut Ctx, args: Args) -> Result<()> {
    let key = args.get(1);
    let after = if args.is(2, "after") {
        true
    } else if args.is(2, "before") {
        false
    } else {
        return Err(Error::Syntax);
    };
    let Some(list) = write::<List>(ctx.shard, ctx.db, key)? else {
        ctx.out.integer(0);
        return Ok(());
    };
    let pivot = args.get(3);
    let Some(at) = list.iter().position(|v| v == pivot) else {
        ctx.out.integer(-1);
        return Ok(());
    };
    list.insert(at + after as usize, args.get(4));
    let n = list.len();
    ctx.shard.modified(ctx.db, key);
    ctx.notify(LIST, "linsert", key);
    ctx.out.integer(n as i64);
    Ok(())
}

pub fn lrem(ctx: &mut Ctx, args: Args) -> Result<()> {
    let key = args.get(1);
    let count = args.int(2)?;
    let elem = args.get(3);
    let Some(list) = write::<List>(ctx.shard, ctx.db, key)? else {
        ctx.out.integer(0);
        return Ok(());
    };
    let limit = if count == 0 {
        usize::MAX
    } else {
        count.unsigned_abs() as usize
    };
    let removed = if count >= 0 {
        let mut seen = 0usize;
        list.retain(|_, v| {
            let hit = v == elem && seen < limit;
            seen += hit as usize;
            !hit
        })
    } else {
        // The last |count| matches: find their indexes from the tail first.
        let len = list.len();
        let doomed: std::collections::HashSet<usize> = list
            .iter()
            .rev()
            .enumerate()
            .filter(|(_, v)| *v == elem)
            .take(limit)
            .map(|(i, _)| len - 1 - i)
            .collect();
        if doomed.is_empty() {
            0
        } else {
            list.retain(|i, _| !doomed.contains(&i))
        }
    };
    if removed > 0 {
        let empty = list.is_empty();
        ctx.notify(LIST, "lrem", key);
        settle(ctx, key, empty);
    }
    ctx.out.integer(removed as i64);
    Ok(())
}

pub fn ltrim(ctx: &mut Ctx, args: Args) -> Result<()> {
    let key = args.get(1);
    let (start, stop) = (args.int(2)?, args.int(3)?);
    let Some(list) = write::<List>(ctx.shard, ctx.db, key)? else {
        ctx.out.ok();
        return Ok(());
    };
    match range(start, stop, list.len()) {
        None => list.clear(),
        Some((a, b)) => list.trim(a, b),
    }
    let empty = list.is_empty();
    ctx.notify(LIST, "ltrim", key);
    settle(ctx, key, empty);
    ctx.out.ok();
    Ok(())
}

pub fn lpos(ctx: &mut Ctx, args: Args) -> Result<()> {
    let mut rank: i64 = 1;
    let mut count: Option<usize> = None;
    let mut maxlen: usize = 0;
    let mut i = 3;
    while i < args.len() {
        let more = i + 1 < args.len();
        if args.is(i, "rank") && more {
            rank = args.int(i + 1)?;
            if rank == 0 {
                return Err(Error::msg(
                    "ERR RANK can't be zero: use 1 to start from the first match, 2 from the second ... or use negative to start from the end of the list",
                ));
            }
        } else if args.is(i, "count") && more {
            match parse_i64(args.get(i + 1)) {
                Some(n) if n >= 0 => count = Some(n as usize),
                _ => return Err(Error::msg("ERR COUNT can't be negative")),
            }
        } else if args.is(i, "maxlen") && more {
            match parse_i64(args.get(i + 1)) {
                Some(n) if n >= 0 => maxlen = n as usize,
                _ => return Err(Error::msg("ERR MAXLEN can't be negative")),
            }
        } else {
            return Err(Error::Syntax);
        }
        i += 2;
    }
    let elem = args.get(2);
    let Some(list) = read::<List>(ctx.shard, ctx.db, args.get(1))? else {
        match count {
            Some(_) => ctx.out.array(0),
            None => ctx.out.null(),
        }
        return Ok(());
    };
    let len = list.len();
    let scan = if maxlen == 0 { len } else { maxlen.min(len) };
    let wanted = match count {
        Some(0) => usize::MAX,
        // Redis 7.0 negates RANK i64::MIN into itself: every match then counts and its
        // COUNT test overflows, so all matches come back.
        Some(_) if rank == i64::MIN => usize::MAX,
        Some(n) => n,
        None => 1,
    };
    let mut skip = if rank == i64::MIN {
        0
    } else {
        rank.unsigned_abs() as usize - 1
    };
    let mut found = Vec::new();
    let walk: Box<dyn Iterator<Item = (usize, &[u8])>> = if rank > 0 {
        Box::new(list.iter().enumerate().take(scan))
    } else {
        Box::new(
            list.iter()
                .rev()
                .enumerate()
                .take(scan)
                .map(|(s, v)| (len - 1 - s, v)),
        )
    };
    for (idx, v) in walk {
        if v == elem {
            if skip > 0 {
                skip -= 1;
                continue;
            }
            found.push(idx);
            if found.len() >= wanted {
                break;
            }
        }
    }
    match count {
        Some(_) => {
            ctx.out.array(found.len());
            for idx in found {
                ctx.out.integer(idx as i64);
            }
        }
        None => match found.first() {
            Some(&idx) => ctx.out.integer(idx as i64),
            None => ctx.out.null(),
        },
    }
    Ok(())
}

/// LEFT or RIGHT (any case), as LMOVE's directions.
pub fn parse_side(word: &[u8]) -> Result<bool> {
    if word.eq_ignore_ascii_case(b"left") {
        Ok(true)
    } else if word.eq_ignore_ascii_case(b"right") {
        Ok(false)
    } else {
        Err(Error::Syntax)
    }
}

/// LMOVE with both keys on this shard (the runtime moves across shards).
pub fn lmove(ctx: &mut Ctx, args: Args) -> Result<()> {
    let (from_left, to_left) = (parse_side(args.get(3))?, parse_side(args.get(4))?);
    move_one(ctx, args.get(1), args.get(2), from_left, to_left)
}

/// RPOPLPUSH: LMOVE source destination RIGHT LEFT.
pub fn rpoplpush(ctx: &mut Ctx, args: Args) -> Result<()> {
    move_one(ctx, args.get(1), args.get(2), false, true)
}

pub(crate) fn move_one(
    ctx: &mut Ctx,
    src: &[u8],
    dst: &[u8],
    from_left: bool,
    to_left: bool,
) -> Result<()> {
    let db = ctx.db;
    if !check_list(ctx.shard, db, src)? {
        ctx.out.null();
        return Ok(());
    }
    if src == dst {
        // A rotation: the list never empties, so it is never deleted (its TTL stays).
        let Some(list) = write::<List>(ctx.shard, db, src)? else {
            return Err(Error::NoSuchKey);
        };
        let elem = if from_left {
            list.pop_front()
        } else {
            list.pop_back()
        };
        let Some(elem) = elem else {
            ctx.out.null();
            return Ok(());
        };
        if to_left {
            list.push_front(&elem);
        } else {
            list.push_back(&elem);
        }
        ctx.shard.modified(db, src);
        ctx.notify(LIST, push_event(to_left), src);
        ctx.notify(LIST, pop_event(from_left), src);
        ctx.out.bulk(&elem);
        return Ok(());
    }
    // The destination must be a list (or absent) before anything moves.
    check_list(ctx.shard, db, dst)?;
    let Some((popped, emptied)) = pop_quiet(ctx.shard, db, src, from_left, 1)? else {
        ctx.out.null();
        return Ok(());
    };
    let Some(elem) = popped.into_iter().next() else {
        ctx.out.null();
        return Ok(());
    };
    push_into(ctx.shard, db, dst, to_left, std::iter::once(elem.clone()))?;
    // Redis' order: the push on the destination, then the pop on the source.
    notify_pop(ctx.shard, db, src, from_left, emptied);
    ctx.out.bulk(&elem);
    Ok(())
}

/// Pushes `elems` onto the list at `key` (created when absent); returns the new length.
pub fn push_into(
    shard: &mut Shard,
    db: usize,
    key: &[u8],
    left: bool,
    elems: impl IntoIterator<Item = impl AsRef<[u8]>>,
) -> Result<usize> {
    let list: &mut List =
        crate::cmd::write_or_create(shard, db, key, || Value::List(Box::default()))?;
    for v in elems {
        if left {
            list.push_front(v.as_ref());
        } else {
            list.push_back(v.as_ref());
        }
    }
    let n = list.len();
    shard.modified(db, key);
    shard.notify(LIST, push_event(left), db, key);
    Ok(n)
}

fn push_event(left: bool) -> &'static str {
    if left {
        "lpush"
    } else {
        "rpush"
    }
}

fn pop_event(left: bool) -> &'static str {
    if left {
        "lpop"
    } else {
        "rpop"
    }
}

fn notify_pop(shard: &mut Shard, db: usize, key: &[u8], left: bool, emptied: bool) {
    shard.notify(LIST, pop_event(left), db, key);
    if emptied {
        shard.notify(GENERIC, "del", db, key);
    }
}

/// Pops up to `count` elements from one end of the list at `key` (deleting it when it
/// empties); None when the key is absent.
pub fn pop_from(
    shard: &mut Shard,
    db: usize,
    key: &[u8],
    left: bool,
    count: usize,
) -> Result<Option<Vec<Vec<u8>>>> {
    let popped = pop_quiet(shard, db, key, left, count)?;
    Ok(popped.map(|(out, emptied)| {
        notify_pop(shard, db, key, left, emptied);
        out
    }))
}

/// `pop_from` without its keyspace events; also says whether the list emptied.
fn pop_quiet(
    shard: &mut Shard,
    db: usize,
    key: &[u8],
    left: bool,
    count: usize,
) -> Result<Option<(Vec<Vec<u8>>, bool)>> {
    let Some(list) = typed::<List>(shard.lookup(db, key))? else {
        return Ok(None);
    };
    let n = count.min(list.len());
    let out: Vec<Vec<u8>> = (0..n)
        .filter_map(|_| {
            if left {
                list.pop_front()
            } else {
                list.pop_back()
            }
        })
        .collect();
    let emptied = list.is_empty();
    if emptied {
        shard.delete(db, key);
    } else {
        shard.modified(db, key);
    }
    Ok(Some((out, emptied)))
}

/// The type of the value at `key` for list moves: Ok(true) a list, Ok(false) absent.
pub fn check_list(shard: &mut Shard, db: usize, key: &[u8]) -> Result<bool> {
    Ok(typed::<List>(shard.lookup(db, key))?.is_some())
}

/// LMPOP and BLMPOP's pop: up to `count` elements from the first non-empty list among
/// `keys`, answered as [key, [elements]]. Returns false when every key was missing (the
/// caller answers for that).
/// What a pop of `n` from `key` is recorded as (LMPOP, BLPOP, BLMPOP): `LPOP key [n]`, as
/// Redis 7.0 propagates it.
pub fn pop_record(key: &[u8], right: bool, n: Option<usize>) -> Vec<Vec<u8>> {
    super::pop_argv(if right { b"RPOP" } else { b"LPOP" }, key, n)
}

pub fn mpop_from(ctx: &mut Ctx, keys: &[&[u8]], right: bool, count: usize) -> Result<bool> {
    for &key in keys {
        let Some(popped) = pop_from(ctx.shard, ctx.db, key, !right, count)? else {
            continue;
        };
        let n = popped.len();
        ctx.shard
            .propagate_instead(|| vec![pop_record(key, right, Some(n))]);
        ctx.out.array(2);
        ctx.out.bulk(key);
        ctx.out.array(popped.len());
        for e in &popped {
            ctx.out.bulk(e);
        }
        return Ok(true);
    }
    Ok(false)
}

pub fn lmpop(ctx: &mut Ctx, args: Args) -> Result<()> {
    let (keys, right, count) = crate::args::parse_mpop(args, 1, "left", "right")?;
    if !mpop_from(ctx, &keys, right, count)? {
        ctx.out.null_array();
    }
    Ok(())
}
