//! Hash commands (Redis 7.0 t_hash.c semantics). Small hashes keep Redis' listpack order
//! (insertion order, updates in place), so HGETALL, HKEYS and HVALS answer in the same order
//! as Redis; past `hash-max-listpack-entries` (128) fields or a field or value longer than
//! `hash-max-listpack-value` (64 bytes) the hash becomes a hash table ("hashtable"), whose
//! order, as in Redis, is unspecified. Empty hashes are deleted.

use crate::args::{parse_i64, Args, ScanOpts};
use crate::cmd::string::ld;
use crate::cmd::{read, write};
use crate::error::{Error, Result};
use crate::notify::HASH;
use crate::shard::{Ctx, Shard};
use crate::value::{Hash, Value};

/// The hash at `key`, created empty when absent (Redis' hashTypeLookupWriteOrCreate).
fn hash_or_create<'a>(shard: &'a mut Shard, db: usize, key: &[u8]) -> Result<&'a mut Hash> {
    crate::cmd::write_or_create(shard, db, key, || Value::Hash(Hash::default()))
}

fn hset_pairs(ctx: &mut Ctx, args: Args) -> Result<usize> {
    if !args.len().is_multiple_of(2) {
        return Err(Error::Arity(ctx.name.into()));
    }
    let key = args.get(1);
    let limits = ctx.shard.limits;
    let h = hash_or_create(ctx.shard, ctx.db, key)?;
    h.prepare((2..args.len()).map(|i| args.get(i).len()), &limits);
    let mut created = 0;
    for i in (2..args.len()).step_by(2) {
        created += h.set(args.get(i), args.get(i + 1), &limits) as usize;
    }
    ctx.shard.modified(ctx.db, key);
    ctx.notify(HASH, "hset", key);
    Ok(created)
}

pub fn hset(ctx: &mut Ctx, args: Args) -> Result<()> {
    let n = hset_pairs(ctx, args)?;
    ctx.out.integer(n as i64);
    Ok(())
}

pub fn hmset(ctx: &mut Ctx, args: Args) -> Result<()> {
    hset_pairs(ctx, args)?;
    ctx.out.ok();
    Ok(())
}

pub fn hsetnx(ctx: &mut Ctx, args: Args) -> Result<()> {
    let key = args.get(1);
    let limits = ctx.shard.limits;
    let h = hash_or_create(ctx.shard, ctx.db, key)?;
    if h.get(args.get(2)).is_some() {
        ctx.out.integer(0);
        return Ok(());
    }
    h.prepare([args.get(2).len(), args.get(3).len()], &limits);
    h.set(args.get(2), args.get(3), &limits);
    ctx.shard.modified(ctx.db, key);
    ctx.notify(HASH, "hset", key);
    ctx.out.integer(1);
    Ok(())
}

pub fn hget(ctx: &mut Ctx, args: Args) -> Result<()> {
    match read::<Hash>(ctx.shard, ctx.db, args.get(1))?.and_then(|h| h.get(args.get(2))) {
        Some(v) => ctx.out.bulk(v),
        None => ctx.out.null(),
    }
    Ok(())
}

pub fn hmget(ctx: &mut Ctx, args: Args) -> Result<()> {
    let h = read::<Hash>(ctx.shard, ctx.db, args.get(1))?;
    ctx.out.array(args.len() - 2);
    for i in 2..args.len() {
        match h.as_ref().and_then(|h| h.get(args.get(i))) {
            Some(v) => ctx.out.bulk(v),
            None => ctx.out.null(),
        }
    }
    Ok(())
}

pub fn hdel(ctx: &mut Ctx, args: Args) -> Result<()> {
    let key = args.get(1);
    let Some(h) = write::<Hash>(ctx.shard, ctx.db, key)? else {
        ctx.out.integer(0);
        return Ok(());
    };
    let mut deleted = 0;
    for i in 2..args.len() {
        deleted += h.remove(args.get(i)) as i64;
    }
    let empty = h.is_empty();
    if deleted > 0 {
        ctx.notify(HASH, "hdel", key);
        crate::cmd::settle(ctx, key, empty);
    }
    ctx.out.integer(deleted);
    Ok(())
}

pub fn hlen(ctx: &mut Ctx, args: Args) -> Result<()> {
    let n = read::<Hash>(ctx.shard, ctx.db, args.get(1))?.map_or(0, |h| h.len());
    ctx.out.integer(n as i64);
    Ok(())
}

pub fn hstrlen(ctx: &mut Ctx, args: Args) -> Result<()> {
    let n = read::<Hash>(ctx.shard, ctx.db, args.get(1))?
        .and_then(|h| h.get(args.get(2)))
        .map_or(0, |v| v.len());
    ctx.out.integer(n as i64);
    Ok(())
}

pub fn hexists(ctx: &mut Ctx, args: Args) -> Result<()> {
    let found =
        read::<Hash>(ctx.shard, ctx.db, args.get(1))?.is_some_and(|h| h.get(args.get(2)).is_some());
    ctx.out.integer(found as i64);
    Ok(())
}

fn dump(ctx: &mut Ctx, args: Args, fields: bool, values: bool) -> Result<()> {
    let Some(h) = read::<Hash>(ctx.shard, ctx.db, args.get(1))? else {
        if fields && values {
            ctx.out.map(0);
        } else {
            ctx.out.array(0);
        }
        return Ok(());
    };
    let pairs = h.pairs();
    if fields && values {
        ctx.out.map(pairs.len());
    } else {
        ctx.out.array(pairs.len());
    }
    for (f, v) in pairs {
        if fields {
            ctx.out.bulk(f);
        }
        if values {
            ctx.out.bulk(v);
        }
    }
    Ok(())
}

pub fn hgetall(ctx: &mut Ctx, args: Args) -> Result<()> {
    dump(ctx, args, true, true)
}

pub fn hkeys(ctx: &mut Ctx, args: Args) -> Result<()> {
    dump(ctx, args, true, false)
}

pub fn hvals(ctx: &mut Ctx, args: Args) -> Result<()> {
    dump(ctx, args, false, true)
}

pub fn hincrby(ctx: &mut Ctx, args: Args) -> Result<()> {
    let incr = args.int(3)?;
    let (key, field) = (args.get(1), args.get(2));
    let limits = ctx.shard.limits;
    let h = hash_or_create(ctx.shard, ctx.db, key)?;
    let cur = match h.get(field) {
        None => 0,
        Some(v) => parse_i64(v).ok_or_else(|| Error::msg("ERR hash value is not an integer"))?,
    };
    let new = cur
        .checked_add(incr)
        .ok_or_else(|| Error::msg("ERR increment or decrement would overflow"))?;
    h.set(field, crate::value::IntBuf::default().format(new), &limits);
    ctx.shard.modified(ctx.db, key);
    ctx.notify(HASH, "hincrby", key);
    ctx.out.integer(new);
    Ok(())
}

pub fn hincrbyfloat(ctx: &mut Ctx, args: Args) -> Result<()> {
    let incr = ld::parse(args.get(3)).ok_or(Error::NotFloat)?;
    if ld::is_inf(incr) {
        return Err(Error::msg("ERR value is NaN or Infinity"));
    }
    let (key, field) = (args.get(1), args.get(2));
    let limits = ctx.shard.limits;
    let h = hash_or_create(ctx.shard, ctx.db, key)?;
    let cur = match h.get(field) {
        None => ld::Ld::ZERO,
        Some(v) => ld::parse(v).ok_or_else(|| Error::msg("ERR hash value is not a float"))?,
    };
    let sum = ld::add(cur, incr)
        .ok_or_else(|| Error::msg("ERR increment would produce NaN or Infinity"))?;
    let text = ld::format_human(sum);
    h.prepare([field.len(), text.len()], &limits);
    h.set(field, &text, &limits);
    ctx.shard.modified(ctx.db, key);
    ctx.notify(HASH, "hincrbyfloat", key);
    ctx.shard.propagate_instead(|| {
        vec![vec![
            b"HSET".to_vec(),
            key.to_vec(),
            field.to_vec(),
            text.clone(),
        ]]
    });
    ctx.out.bulk(&text);
    Ok(())
}

pub fn hrandfield(ctx: &mut Ctx, args: Args) -> Result<()> {
    let key = args.get(1);
    let mut rng = ctx.shard.rng.clone();
    if args.len() == 2 {
        let f = read::<Hash>(ctx.shard, ctx.db, key)?
            .and_then(|h| h.random(&mut rng).map(|x| x.0.to_vec()));
        ctx.shard.rng = rng;
        match f {
            Some(f) => ctx.out.bulk(&f),
            None => ctx.out.null(),
        }
        return Ok(());
    }
    let (count, withvalues) = crate::cmd::set::random_count(args, Some("withvalues"))?;
    let Some(h) = read::<Hash>(ctx.shard, ctx.db, key)? else {
        ctx.out.array(0);
        return Ok(());
    };
    let h: &Hash = h;
    let pairs: Vec<(Vec<u8>, Vec<u8>)> = if count == 0 {
        Vec::new()
    } else if count < 0 {
        (0..count.unsigned_abs())
            .filter_map(|_| h.random(&mut rng).map(|(f, v)| (f.to_vec(), v.to_vec())))
            .collect()
    } else {
        let mut all: Vec<(Vec<u8>, Vec<u8>)> = h
            .pairs()
            .into_iter()
            .map(|(f, v)| (f.to_vec(), v.to_vec()))
            .collect();
        if (count as usize) < all.len() {
            // Partial Fisher-Yates: the first `count` slots end up a uniform sample.
            for i in 0..count as usize {
                let j = i + rng.next_u64() as usize % (all.len() - i);
                all.swap(i, j);
            }
            all.truncate(count as usize);
        }
        all
    };
    ctx.shard.rng = rng;
    let nested = withvalues && ctx.out.proto == resp::Proto::Resp3;
    ctx.out.array(if withvalues && !nested {
        pairs.len() * 2
    } else {
        pairs.len()
    });
    for (f, v) in &pairs {
        if nested {
            ctx.out.array(2);
        }
        ctx.out.bulk(f);
        if withvalues {
            ctx.out.bulk(v);
        }
    }
    Ok(())
}

pub fn hscan(ctx: &mut Ctx, args: Args) -> Result<()> {
    let cursor = crate::args::parse_cursor(args.get(2))?;
    let Some(h) = read::<Hash>(ctx.shard, ctx.db, args.get(1))? else {
        crate::cmd::set::scan_reply(ctx, 0, &[]);
        return Ok(());
    };
    let opts = ScanOpts::parse(args, 3)?;
    let mut items: Vec<Vec<u8>> = Vec::new();
    let mut keep = |f: &[u8], v: &[u8]| {
        if opts.keeps(f) {
            items.push(f.to_vec());
            items.push(v.to_vec());
        }
    };
    let next = match &*h {
        // A listpack is answered whole, as Redis does for compact encodings.
        Hash::Pack(p) => {
            p.iter().for_each(|(f, val)| keep(f, val));
            0
        }
        Hash::Table(m) => m.scan_count(cursor, opts.count, |f, v| keep(f, v)),
    };
    crate::cmd::set::scan_reply(ctx, next, &items);
    Ok(())
}
