//! Set commands (Redis 7.0 t_set.c semantics). Integer-only sets up to
//! `set-max-intset-entries` are intsets, answered in ascending order; other sets are hash
//! tables, whose order, as in Redis, is unspecified. Results of SINTERSTORE and friends are
//! built the way Redis builds them (an intset first, converted as members demand), so they get
//! Redis' encoding. Empty sets are deleted. Multi-key commands whose keys span shards run on a
//! scratch shard holding copies (`Split::Gather`), so everything here sees one shard.

use crate::args::{Args, ScanOpts};
use crate::cmd::{read, settle, write};
use crate::error::{Error, Result};
use crate::notify::SET;
use crate::shard::{Ctx, Shard};
use crate::value::{Set, Value};
use resp::Writer;

/// The largest |count| SRANDMEMBER (and the other random-member commands) answer: 2^26
/// members is a reply of 300 MB or more.
pub const MAX_RANDOM_REPLY: u64 = 1 << 26;

/// The set at `key` after a type-checked lookup in this command (no expiry, no stats).
fn peek_set<'a>(shard: &'a Shard, db: usize, key: &[u8]) -> Option<&'a Set> {
    match shard.value(db, key) {
        Some(Value::Set(s)) => Some(s),
        _ => None,
    }
}

pub fn sadd(ctx: &mut Ctx, args: Args) -> Result<()> {
    let key = args.get(1);
    let limits = ctx.shard.limits;
    let first = args.get(2);
    let set: &mut Set = crate::cmd::write_or_create(ctx.shard, ctx.db, key, || {
        Value::Set(Set::for_member(first))
    })?;
    let mut added = 0;
    for i in 2..args.len() {
        added += set.insert(args.get(i), &limits) as i64;
    }
    if added > 0 {
        ctx.shard.modified(ctx.db, key);
        ctx.notify(SET, "sadd", key);
    }
    ctx.out.integer(added);
    Ok(())
}

pub fn srem(ctx: &mut Ctx, args: Args) -> Result<()> {
    let key = args.get(1);
    let Some(set) = write::<Set>(ctx.shard, ctx.db, key)? else {
        ctx.out.integer(0);
        return Ok(());
    };
    let mut removed = 0;
    for i in 2..args.len() {
        removed += set.remove(args.get(i)) as i64;
        if set.is_empty() {
            break;
        }
    }
    let empty = set.is_empty();
    if removed > 0 {
        ctx.notify(SET, "srem", key);
        settle(ctx, key, empty);
    }
    ctx.out.integer(removed);
    Ok(())
}

/// Every member, as a RESP3 set.
fn reply_members(out: &mut Writer, set: &Set) {
    out.set(set.len());
    set.for_each(|m| out.bulk(m));
}

pub fn smembers(ctx: &mut Ctx, args: Args) -> Result<()> {
    match read::<Set>(ctx.shard, ctx.db, args.get(1))? {
        None => ctx.out.set(0),
        Some(set) => reply_members(&mut ctx.out, set),
    }
    Ok(())
}

pub fn sismember(ctx: &mut Ctx, args: Args) -> Result<()> {
    let found =
        read::<Set>(ctx.shard, ctx.db, args.get(1))?.is_some_and(|s| s.contains(args.get(2)));
    ctx.out.integer(found as i64);
    Ok(())
}

pub fn smismember(ctx: &mut Ctx, args: Args) -> Result<()> {
    let set = read::<Set>(ctx.shard, ctx.db, args.get(1))?;
    ctx.out.array(args.len() - 2);
    for i in 2..args.len() {
        let found = set.as_ref().is_some_and(|s| s.contains(args.get(i)));
        ctx.out.integer(found as i64);
    }
    Ok(())
}

pub fn scard(ctx: &mut Ctx, args: Args) -> Result<()> {
    let n = read::<Set>(ctx.shard, ctx.db, args.get(1))?.map_or(0, |s| s.len());
    ctx.out.integer(n as i64);
    Ok(())
}

pub fn spop(ctx: &mut Ctx, args: Args) -> Result<()> {
    let key = args.get(1);
    match args.len() {
        2 => {}
        3 => return spop_count(ctx, args),
        _ => return Err(Error::Syntax),
    }
    let mut rng = ctx.shard.rng.clone();
    let Some(set) = write::<Set>(ctx.shard, ctx.db, key)? else {
        ctx.out.null();
        return Ok(());
    };
    let Some(m) = set.random(&mut rng) else {
        ctx.out.null();
        return Ok(());
    };
    set.remove(&m);
    let empty = set.is_empty();
    ctx.shard.rng = rng;
    ctx.notify(SET, "spop", key);
    ctx.shard
        .propagate_instead(|| vec![vec![b"SREM".to_vec(), key.to_vec(), m.to_vec()]]);
    settle(ctx, key, empty);
    ctx.out.bulk(&m);
    Ok(())
}

fn spop_count(ctx: &mut Ctx, args: Args) -> Result<()> {
    let key = args.get(1);
    let count = crate::args::parse_i64(args.get(2))
        .filter(|&n| n >= 0)
        .ok_or_else(|| Error::msg("ERR value is out of range, must be positive"))?;
    let mut rng = ctx.shard.rng.clone();
    let Some(set) = write::<Set>(ctx.shard, ctx.db, key)? else {
        ctx.out.set(0);
        return Ok(());
    };
    if count == 0 {
        ctx.out.set(0);
        return Ok(());
    }
    if count as usize >= set.len() {
        // The whole set, in its own order, and the key goes.
        reply_members(&mut ctx.out, set);
        ctx.notify(SET, "spop", key);
        settle(ctx, key, true);
        ctx.shard
            .propagate_instead(|| vec![vec![b"DEL".to_vec(), key.to_vec()]]);
        return Ok(());
    }
    let mut popped = Vec::with_capacity(count as usize);
    while popped.len() < count as usize {
        let Some(m) = set.random(&mut rng) else { break };
        set.remove(&m);
        popped.push(m);
    }
    ctx.shard.rng = rng;
    ctx.shard.modified(ctx.db, key);
    ctx.notify(SET, "spop", key);
    // One SREM per member, as Redis 7.0 propagates it.
    ctx.shard.propagate_instead(|| {
        let srem = |m: &Vec<u8>| vec![b"SREM".to_vec(), key.to_vec(), m.clone()];
        popped.iter().map(srem).collect()
    });
    ctx.out.set(popped.len());
    for m in &popped {
        ctx.out.bulk(m);
    }
    Ok(())
}

pub fn srandmember(ctx: &mut Ctx, args: Args) -> Result<()> {
    let key = args.get(1);
    match args.len() {
        2 => {}
        3 => return srandmember_count(ctx, args),
        _ => return Err(Error::Syntax),
    }
    let mut rng = ctx.shard.rng.clone();
    let m = read::<Set>(ctx.shard, ctx.db, key)?.and_then(|s| s.random(&mut rng));
    ctx.shard.rng = rng;
    match m {
        Some(m) => ctx.out.bulk(&m),
        None => ctx.out.null(),
    }
    Ok(())
}

fn srandmember_count(ctx: &mut Ctx, args: Args) -> Result<()> {
    let key = args.get(1);
    let (count, _) = random_count(args, None)?;
    let mut rng = ctx.shard.rng.clone();
    let Some(set) = read::<Set>(ctx.shard, ctx.db, key)? else {
        ctx.out.array(0);
        return Ok(());
    };
    let set: &Set = set;
    if count == 0 {
        ctx.out.array(0);
    } else if count < 0 || count == 1 {
        // Repeats allowed.
        let n = count.unsigned_abs() as usize;
        ctx.out.array(n);
        for _ in 0..n {
            if let Some(m) = set.random(&mut rng) {
                ctx.out.bulk(&m);
            }
        }
    } else if count as usize >= set.len() {
        ctx.out.array(set.len());
        set.for_each(|m| ctx.out.bulk(m));
    } else {
        let picked = distinct_random(set, count as usize, &mut rng);
        ctx.out.array(picked.len());
        for m in &picked {
            ctx.out.bulk(m);
        }
    }
    ctx.shard.rng = rng;
    Ok(())
}

/// The count of SRANDMEMBER, HRANDFIELD and ZRANDMEMBER (argument 2), and whether the
/// `with` word (WITHVALUES, WITHSCORES) follows it, checked in Redis' order.
pub fn random_count(args: Args, with: Option<&str>) -> Result<(i64, bool)> {
    let count = args.int(2)?;
    if count == i64::MIN {
        return Err(Error::msg(
            "ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807",
        ));
    }
    let paired = match (args.len(), with) {
        (3, _) => false,
        (4, Some(w)) if args.is(3, w) => {
            // Redis' guard against count * 2 overflowing.
            if !(-(i64::MAX / 2)..=i64::MAX / 2).contains(&count) {
                return Err(Error::msg("ERR value is out of range"));
            }
            true
        }
        _ => return Err(Error::Syntax),
    };
    // Redis would try to write quintillions of members (and never finish); past this many
    // the reply could not be buffered anyway.
    if count.unsigned_abs() > MAX_RANDOM_REPLY {
        return Err(Error::msg("ERR value is out of range"));
    }
    Ok((count, paired))
}

/// `n` distinct random members (n < len): sample when few are wanted, otherwise drop random
/// members from a full copy, as Redis' cases 3 and 4 do.
fn distinct_random(set: &Set, n: usize, rng: &mut crate::dict::Rng) -> Vec<Vec<u8>> {
    if n * 3 > set.len() {
        let mut all = set.members();
        while all.len() > n {
            let i = rng.next_u64() as usize % all.len();
            all.swap_remove(i);
        }
        return all;
    }
    let mut seen = std::collections::HashSet::with_capacity(n);
    let mut out = Vec::with_capacity(n);
    while out.len() < n {
        let Some(m) = set.random(rng) else { break };
        if seen.insert(m.clone()) {
            out.push(m);
        }
    }
    out
}

pub fn smove(ctx: &mut Ctx, args: Args) -> Result<()> {
    let (src, dst, member) = (args.get(1), args.get(2), args.get(3));
    let limits = ctx.shard.limits;
    // Redis looks both up, answers 0 for a missing source, then checks both types.
    if ctx.shard.lookup(ctx.db, src).is_none() {
        ctx.shard.lookup(ctx.db, dst);
        ctx.out.integer(0);
        return Ok(());
    }
    write::<Set>(ctx.shard, ctx.db, src)?;
    let dst_exists = write::<Set>(ctx.shard, ctx.db, dst)?.is_some();
    if src == dst {
        let found = write::<Set>(ctx.shard, ctx.db, src)?.is_some_and(|s| s.contains(member));
        ctx.out.integer(found as i64);
        return Ok(());
    }
    let set = write::<Set>(ctx.shard, ctx.db, src)?.ok_or(Error::NoSuchKey)?;
    if !set.remove(member) {
        ctx.out.integer(0);
        return Ok(());
    }
    let empty = set.is_empty();
    ctx.notify(SET, "srem", src);
    settle(ctx, src, empty);
    if !dst_exists {
        let set = Set::for_member(member);
        ctx.shard.store(ctx.db, dst, Value::Set(set), 0);
    }
    let set = write::<Set>(ctx.shard, ctx.db, dst)?.ok_or(Error::NoSuchKey)?;
    if set.insert(member, &limits) {
        ctx.shard.modified(ctx.db, dst);
        ctx.notify(SET, "sadd", dst);
    }
    ctx.out.integer(1);
    Ok(())
}

/// Looks every key up in order for reading (Redis 7.0 reads the sources of the STORE forms
/// with lookupKeyRead too: a keymiss event each); WRONGTYPE stops at the first value of
/// another type. False stands for a missing key.
fn lookup_all(ctx: &mut Ctx, keys: &[&[u8]]) -> Result<Vec<bool>> {
    let mut present = Vec::with_capacity(keys.len());
    for k in keys {
        present.push(read::<Set>(ctx.shard, ctx.db, k)?.is_some());
    }
    Ok(present)
}

/// Stores a result set at `dst` (replacing any value and its TTL) or deletes `dst` when
/// the result is empty; replies with the size.
fn store_result(ctx: &mut Ctx, dst: &[u8], result: Set, event: &'static str) {
    let n = result.len();
    if n == 0 {
        crate::cmd::clear_destination(ctx, dst);
    } else {
        ctx.shard.store(ctx.db, dst, Value::Set(result), 0);
        ctx.notify(SET, event, dst);
    }
    ctx.out.integer(n as i64);
}

enum Inter {
    Reply,
    Card(usize),
    Store(Vec<u8>),
}

fn inter(ctx: &mut Ctx, keys: &[&[u8]], mode: Inter) -> Result<()> {
    let present = lookup_all(ctx, keys)?;
    if present.contains(&false) {
        match mode {
            Inter::Store(dst) => {
                store_result(ctx, &dst, Set::Ints(Default::default()), "sinterstore")
            }
            Inter::Card(_) => ctx.out.integer(0),
            Inter::Reply => ctx.out.set(0),
        }
        return Ok(());
    }
    let limits = ctx.shard.limits;
    let mut sets: Vec<&Set> = keys
        .iter()
        .filter_map(|k| peek_set(ctx.shard, ctx.db, k))
        .collect();
    sets.sort_by_key(|s| s.len());
    let (first, rest) = sets.split_first().ok_or(Error::Syntax)?;
    let mut found: Vec<Vec<u8>> = Vec::new();
    let mut card = 0usize;
    let limit = match mode {
        Inter::Card(l) => l,
        _ => 0,
    };
    let mut stop = false;
    first.for_each(|m| {
        if stop
            || !rest
                .iter()
                .all(|s| std::ptr::eq(*s, *first) || s.contains(m))
        {
            return;
        }
        card += 1;
        if matches!(mode, Inter::Card(_)) {
            stop = limit != 0 && card >= limit;
        } else {
            found.push(m.to_vec());
        }
    });
    match mode {
        Inter::Card(_) => ctx.out.integer(card as i64),
        Inter::Reply => {
            ctx.out.set(found.len());
            for m in &found {
                ctx.out.bulk(m);
            }
        }
        Inter::Store(dst) => {
            let mut result = Set::Ints(Default::default());
            for m in &found {
                result.insert(m, &limits);
            }
            store_result(ctx, &dst, result, "sinterstore");
        }
    }
    Ok(())
}

fn keys_from<'a>(args: Args<'a>, from: usize) -> Vec<&'a [u8]> {
    (from..args.len()).map(|i| args.get(i)).collect()
}

pub fn sinter(ctx: &mut Ctx, args: Args) -> Result<()> {
    inter(ctx, &keys_from(args, 1), Inter::Reply)
}

pub fn sinterstore(ctx: &mut Ctx, args: Args) -> Result<()> {
    inter(ctx, &keys_from(args, 2), Inter::Store(args.get(1).to_vec()))
}

/// Redis' numkeys argument: a positive count that the remaining arguments can hold.
pub fn parse_numkeys(args: Args, at: usize) -> Result<usize> {
    let n = crate::args::parse_i64(args.get(at))
        .filter(|&n| n > 0)
        .ok_or_else(|| Error::msg("ERR numkeys should be greater than 0"))?;
    if n as usize > args.len() - at - 1 {
        return Err(Error::msg(
            "ERR Number of keys can't be greater than number of args",
        ));
    }
    Ok(n as usize)
}

pub fn sintercard(ctx: &mut Ctx, args: Args) -> Result<()> {
    let n = parse_numkeys(args, 1)?;
    let mut limit = 0usize;
    let mut i = 2 + n;
    while i < args.len() {
        if args.is(i, "limit") && i + 1 < args.len() {
            limit = crate::args::parse_i64(args.get(i + 1))
                .filter(|&l| l >= 0)
                .ok_or_else(|| Error::msg("ERR LIMIT can't be negative"))?
                as usize;
            i += 2;
        } else {
            return Err(Error::Syntax);
        }
    }
    let keys: Vec<&[u8]> = (2..2 + n).map(|i| args.get(i)).collect();
    inter(ctx, &keys, Inter::Card(limit))
}

fn union_diff(ctx: &mut Ctx, keys: &[&[u8]], diff: bool, dst: Option<&[u8]>) -> Result<()> {
    let present = lookup_all(ctx, keys)?;
    let limits = ctx.shard.limits;
    let mut result = Set::Ints(Default::default());
    {
        let sets: Vec<Option<&Set>> = keys
            .iter()
            .zip(&present)
            .map(|(k, &p)| p.then(|| peek_set(ctx.shard, ctx.db, k)).flatten())
            .collect();
        if !diff {
            for s in sets.iter().flatten() {
                s.for_each(|m| {
                    result.insert(m, &limits);
                });
            }
        } else if let Some(Some(first)) = sets.first() {
            // A key named again after the first makes the difference empty.
            let same = keys[1..].contains(&keys[0]);
            if !same {
                first.for_each(|m| {
                    if !sets[1..].iter().flatten().any(|s| s.contains(m)) {
                        result.insert(m, &limits);
                    }
                });
            }
        }
    }
    match dst {
        Some(dst) => {
            let event = if diff { "sdiffstore" } else { "sunionstore" };
            store_result(ctx, dst, result, event)
        }
        None => reply_members(&mut ctx.out, &result),
    }
    Ok(())
}

pub fn sunion(ctx: &mut Ctx, args: Args) -> Result<()> {
    union_diff(ctx, &keys_from(args, 1), false, None)
}

pub fn sunionstore(ctx: &mut Ctx, args: Args) -> Result<()> {
    union_diff(ctx, &keys_from(args, 2), false, Some(args.get(1)))
}

pub fn sdiff(ctx: &mut Ctx, args: Args) -> Result<()> {
    union_diff(ctx, &keys_from(args, 1), true, None)
}

pub fn sdiffstore(ctx: &mut Ctx, args: Args) -> Result<()> {
    union_diff(ctx, &keys_from(args, 2), true, Some(args.get(1)))
}

/// Writes a SCAN-family reply: the next cursor, then the items.
pub fn scan_reply(ctx: &mut Ctx, cursor: u64, items: &[Vec<u8>]) {
    ctx.out.array(2);
    ctx.out.bulk(cursor.to_string().as_bytes());
    ctx.out.array(items.len());
    for i in items {
        ctx.out.bulk(i);
    }
}

pub fn sscan(ctx: &mut Ctx, args: Args) -> Result<()> {
    let cursor = crate::args::parse_cursor(args.get(2))?;
    let Some(set) = read::<Set>(ctx.shard, ctx.db, args.get(1))? else {
        scan_reply(ctx, 0, &[]);
        return Ok(());
    };
    let opts = ScanOpts::parse(args, 3)?;
    let mut items = Vec::new();
    let next = match &*set {
        // An intset is answered whole, as Redis does for compact encodings.
        Set::Ints(_) => {
            set.for_each(|m| {
                if opts.keeps(m) {
                    items.push(m.to_vec());
                }
            });
            0
        }
        Set::Table(d) => d.scan_count(cursor, opts.count, |m, _| {
            if opts.keeps(m) {
                items.push(m.to_vec());
            }
        }),
    };
    scan_reply(ctx, next, &items);
    Ok(())
}
