//! HyperLogLog commands (Redis 7.0 hyperloglog.c): PFADD, PFCOUNT, PFMERGE, PFDEBUG,
//! PFSELFTEST, over `crate::hll`'s byte format.

use crate::args::Args;
use crate::cmd::{read, write};
use crate::error::{Error, Result};
use crate::hll;
use crate::notify::STRING;
use crate::shard::Ctx;
use crate::value::{IntBuf, Str, Value};

fn invalid() -> Error {
    Error::msg(hll::INVALID)
}

/// The HLL at `key` for writing (its bytes), or Ok(None) when missing.
fn hll_for_write<'a>(ctx: &'a mut Ctx, key: &[u8]) -> Result<Option<&'a mut Vec<u8>>> {
    let Some(s) = write::<Str>(ctx.shard, ctx.db, key)? else {
        return Ok(None);
    };
    // Checked before the value is made mutable, as Redis checks before unsharing it.
    let mut scratch = IntBuf::default();
    if !hll::is_hll(s.bytes(&mut scratch)) {
        return Err(Error::msg(hll::NOT_HLL));
    }
    Ok(Some(s.make_raw()))
}

/// A copy of the HLL at `key` for reading, or None when missing.
fn hll_copy(ctx: &mut Ctx, key: &[u8]) -> Result<Option<Vec<u8>>> {
    let Some(s) = read::<Str>(ctx.shard, ctx.db, key)? else {
        return Ok(None);
    };
    let mut scratch = IntBuf::default();
    let b = s.bytes(&mut scratch);
    if !hll::is_hll(b) {
        return Err(Error::msg(hll::NOT_HLL));
    }
    Ok(Some(b.to_vec()))
}

/// PFADD key [element ...]
pub fn pfadd(ctx: &mut Ctx, args: Args) -> Result<()> {
    let key = args.get(1);
    let max = ctx.shard.limits.hll_sparse_max_bytes;
    let mut updated = 0;
    if hll_for_write(ctx, key)?.is_none() {
        ctx.shard
            .store(ctx.db, key, Value::Str(Str::Raw(hll::new_value())), 0);
        updated += 1;
    }
    let v = hll_for_write(ctx, key)?.ok_or(Error::NoSuchKey)?;
    for i in 2..args.len() {
        match hll::add(v, args.get(i), max) {
            Ok(true) => updated += 1,
            Ok(false) => {}
            Err(_) => return Err(invalid()),
        }
    }
    if updated > 0 {
        hll::invalidate_cache(v);
        ctx.shard.modified(ctx.db, key);
        ctx.notify(STRING, "pfadd", key);
    }
    ctx.out.integer(i64::from(updated > 0));
    Ok(())
}

/// PFCOUNT key [key ...]
pub fn pfcount(ctx: &mut Ctx, args: Args) -> Result<()> {
    if args.len() > 2 {
        let mut max = [0u8; hll::REGISTERS];
        for i in 1..args.len() {
            if let Some(v) = hll_copy(ctx, args.get(i))? {
                hll::merge_into(&mut max, &v).map_err(|_| invalid())?;
            }
        }
        ctx.out.integer(hll::count_raw(&max) as i64);
        return Ok(());
    }
    let key = args.get(1);
    if read::<Str>(ctx.shard, ctx.db, key)?.is_none() {
        ctx.out.integer(0);
        return Ok(());
    }
    let v = hll_for_write(ctx, key)?.ok_or(Error::NoSuchKey)?;
    let card = match hll::cached(v) {
        Some(c) => c,
        None => {
            let c = hll::count(v).map_err(|_| invalid())?;
            // The cache is part of the value: a change (Redis propagates PFCOUNT for it).
            hll::set_cache(v, c);
            ctx.shard.modified(ctx.db, key);
            c
        }
    };
    ctx.out.integer(card as i64);
    Ok(())
}

/// PFMERGE destkey [sourcekey ...]
pub fn pfmerge(ctx: &mut Ctx, args: Args) -> Result<()> {
    let mut max = [0u8; hll::REGISTERS];
    let mut dense = false;
    for i in 1..args.len() {
        if let Some(v) = hll_copy(ctx, args.get(i))? {
            dense |= v[4] == hll::DENSE;
            hll::merge_into(&mut max, &v).map_err(|_| invalid())?;
        }
    }
    let key = args.get(1);
    let limit = ctx.shard.limits.hll_sparse_max_bytes;
    if hll_for_write(ctx, key)?.is_none() {
        ctx.shard
            .store(ctx.db, key, Value::Str(Str::Raw(hll::new_value())), 0);
    }
    let v = hll_for_write(ctx, key)?.ok_or(Error::NoSuchKey)?;
    hll::store_registers(v, &max, dense, limit).map_err(|_| invalid())?;
    ctx.shard.modified(ctx.db, key);
    ctx.notify(STRING, "pfadd", key);
    ctx.out.ok();
    Ok(())
}

/// PFDEBUG GETREG|DECODE|ENCODING|TODENSE key
pub fn pfdebug(ctx: &mut Ctx, args: Args) -> Result<()> {
    let sub = args.get(1).to_ascii_lowercase();
    let key = args.get(2);
    let Some(v) = hll_for_write(ctx, key)? else {
        return Err(Error::msg("ERR The specified key does not exist"));
    };
    match sub.as_slice() {
        b"getreg" => {
            // Redis converts to dense first (and keeps it so).
            let was_sparse = v[4] == hll::SPARSE;
            hll::to_dense(v).map_err(|_| invalid())?;
            let regs = hll::registers(v).map_err(|_| invalid())?;
            if was_sparse {
                ctx.shard.modified(ctx.db, key);
            }
            ctx.out.array(regs.len());
            for r in regs {
                ctx.out.integer(r as i64);
            }
        }
        b"encoding" => {
            let e: &[u8] = if v[4] == hll::DENSE {
                b"dense"
            } else {
                b"sparse"
            };
            ctx.out.simple(e);
        }
        b"todense" => {
            let was_sparse = v[4] == hll::SPARSE;
            hll::to_dense(v).map_err(|_| invalid())?;
            if was_sparse {
                ctx.shard.modified(ctx.db, key);
            }
            ctx.out.integer(i64::from(was_sparse));
        }
        b"decode" => {
            if v[4] != hll::SPARSE {
                return Err(Error::msg("ERR HLL encoding is not sparse"));
            }
            let text = hll::decode(v).map_err(|_| invalid())?;
            ctx.out.bulk(text.as_bytes());
        }
        _ => {
            return Err(Error::msg(format!(
                "ERR Unknown PFDEBUG subcommand '{}'",
                String::from_utf8_lossy(args.get(1))
            )))
        }
    }
    Ok(())
}

/// PFSELFTEST
pub fn pfselftest(ctx: &mut Ctx, _args: Args) -> Result<()> {
    match hll::selftest() {
        Ok(()) => ctx.out.ok(),
        Err(e) => return Err(Error::msg(e)),
    }
    Ok(())
}
