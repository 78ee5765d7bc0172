//! Generic key commands (Redis 7.0 db.c and expire.c semantics) for keys on one shard.

use crate::args::Args;
use crate::error::{Error, Result};
use crate::notify::{GENERIC, KEY_MISS};
use crate::shard::{Ctx, Shard};
use crate::value::{Entry, Value};

/// Redis' lookupKeyReadWithFlags(LOOKUP_NOTOUCH): counts a keyspace hit or miss but leaves
/// the key's access time alone (EXISTS, TYPE, TTL, OBJECT).
fn peek_read<'a>(shard: &'a mut Shard, db: usize, key: &[u8]) -> Option<&'a Entry> {
    peek_read_as(shard, db, key, true)
}

/// `peek_read`, with the keymiss event only when `notify` (OBJECT asks with
/// LOOKUP_NONOTIFY).
fn peek_read_as<'a>(
    shard: &'a mut Shard,
    db: usize,
    key: &[u8],
    notify: bool,
) -> Option<&'a Entry> {
    let found = shard.peek(db, key).is_some();
    if found {
        shard.stats.keyspace_hits += 1;
    } else {
        shard.stats.keyspace_misses += 1;
        if notify {
            shard.notify(KEY_MISS, "keymiss", db, key);
        }
    }
    shard.peek(db, key)
}

pub fn del(ctx: &mut Ctx, args: Args) -> Result<()> {
    let mut n = 0;
    for k in args.iter().skip(1) {
        if ctx.shard.delete(ctx.db, k) {
            ctx.notify(GENERIC, "del", k);
            n += 1;
        }
    }
    ctx.out.integer(n as i64);
    Ok(())
}

pub fn exists(ctx: &mut Ctx, args: Args) -> Result<()> {
    let n = args
        .iter()
        .skip(1)
        .filter(|k| peek_read(ctx.shard, ctx.db, k).is_some())
        .count();
    ctx.out.integer(n as i64);
    Ok(())
}

pub fn touch(ctx: &mut Ctx, args: Args) -> Result<()> {
    let n = args
        .iter()
        .skip(1)
        .filter(|k| ctx.shard.lookup_read(ctx.db, k).is_some())
        .count();
    ctx.out.integer(n as i64);
    Ok(())
}

pub fn type_(ctx: &mut Ctx, args: Args) -> Result<()> {
    let t = peek_read(ctx.shard, ctx.db, args.get(1)).map_or("none", |e| e.value.type_name());
    ctx.out.simple(t.as_bytes());
    Ok(())
}

/// EXPIRE, PEXPIRE, EXPIREAT, PEXPIREAT with NX XX GT LT (Redis 7.0 expireGenericCommand).
fn expire_generic(ctx: &mut Ctx, args: Args, unit_ms: i64, relative: bool) -> Result<()> {
    let key = args.get(1);
    let (mut nx, mut xx, mut gt, mut lt) = (false, false, false, false);
    for i in 3..args.len() {
        if args.is(i, "nx") {
            nx = true;
        } else if args.is(i, "xx") {
            xx = true;
        } else if args.is(i, "gt") {
            gt = true;
        } else if args.is(i, "lt") {
            lt = true;
        } else {
            return Err(Error::msg(format!(
                "ERR Unsupported option {}",
                String::from_utf8_lossy(args.get(i))
            )));
        }
    }
    if nx && (xx || gt || lt) {
        return Err(Error::msg(
            "ERR NX and XX, GT or LT options at the same time are not compatible",
        ));
    }
    if gt && lt {
        return Err(Error::msg(
            "ERR GT and LT options at the same time are not compatible",
        ));
    }
    // Redis checks the options before the number.
    let when = args.int(2)?;
    let invalid = || Error::InvalidExpire(ctx.name);
    let mut at = when.checked_mul(unit_ms).ok_or_else(invalid)?;
    if relative {
        at = at
            .checked_add(ctx.shard.now_ms() as i64)
            .ok_or_else(invalid)?;
    }
    let Some(cur) = ctx.shard.peek(ctx.db, key).map(|e| e.expire_at) else {
        ctx.out.integer(0);
        return Ok(());
    };
    // A persistent key counts as an infinite TTL for GT and LT.
    let refused = (nx && cur != 0)
        || (xx && cur == 0)
        || (gt && (cur == 0 || at <= cur as i64))
        || (lt && cur != 0 && at >= cur as i64);
    if refused {
        ctx.out.integer(0);
        return Ok(());
    }
    if ctx.shard.already_expired(at) {
        ctx.shard.delete(ctx.db, key);
        ctx.notify(GENERIC, "del", key);
        ctx.shard
            .propagate_instead(|| vec![vec![b"DEL".to_vec(), key.to_vec()]]);
    } else {
        ctx.shard.set_expire(ctx.db, key, at as u64);
        ctx.notify(GENERIC, "expire", key);
        // Recorded as PEXPIREAT with the absolute time, its flags kept (a PEXPIREAT as sent).
        if unit_ms != 1 || relative {
            ctx.shard.propagate_instead(|| {
                let mut argv = vec![b"PEXPIREAT".to_vec(), key.to_vec()];
                argv.push(crate::value::IntBuf::default().format(at).to_vec());
                argv.extend(args.iter().skip(3).map(<[u8]>::to_vec));
                vec![argv]
            });
        }
    }
    ctx.out.integer(1);
    Ok(())
}

pub fn expire(ctx: &mut Ctx, args: Args) -> Result<()> {
    expire_generic(ctx, args, 1000, true)
}

pub fn pexpire(ctx: &mut Ctx, args: Args) -> Result<()> {
    expire_generic(ctx, args, 1, true)
}

pub fn expireat(ctx: &mut Ctx, args: Args) -> Result<()> {
    expire_generic(ctx, args, 1000, false)
}

pub fn pexpireat(ctx: &mut Ctx, args: Args) -> Result<()> {
    expire_generic(ctx, args, 1, false)
}

/// TTL-style replies: -2 for a missing key, -1 for a persistent one.
fn ttl_generic(ctx: &mut Ctx, args: Args, ms: bool, absolute: bool) -> Result<()> {
    let now = ctx.shard.now_ms();
    let reply = match peek_read(ctx.shard, ctx.db, args.get(1)).map(|e| e.expire_at) {
        None => -2,
        Some(0) => -1,
        Some(at) => {
            let t = if absolute {
                at as i64
            } else {
                at.saturating_sub(now) as i64
            };
            // Seconds are rounded to the nearest (ttlGenericCommand's (ttl+500)/1000), for
            // EXPIRETIME as for TTL.
            // In i128: an expire at i64::MAX ms (PEXPIREAT k 9223372036854775807) must not
            // overflow; Redis replies 9223372036854776 for its EXPIRETIME.
            if ms {
                t
            } else {
                ((t as i128 + 500) / 1000) as i64
            }
        }
    };
    ctx.out.integer(reply);
    Ok(())
}

pub fn ttl(ctx: &mut Ctx, args: Args) -> Result<()> {
    ttl_generic(ctx, args, false, false)
}

pub fn pttl(ctx: &mut Ctx, args: Args) -> Result<()> {
    ttl_generic(ctx, args, true, false)
}

pub fn expiretime(ctx: &mut Ctx, args: Args) -> Result<()> {
    ttl_generic(ctx, args, false, true)
}

pub fn pexpiretime(ctx: &mut Ctx, args: Args) -> Result<()> {
    ttl_generic(ctx, args, true, true)
}

pub fn persist(ctx: &mut Ctx, args: Args) -> Result<()> {
    let key = args.get(1);
    let had = ctx
        .shard
        .lookup(ctx.db, key)
        .is_some_and(|e| e.expire_at != 0);
    if had {
        ctx.shard.set_expire(ctx.db, key, 0);
        ctx.notify(GENERIC, "persist", key);
    }
    ctx.out.integer(had as i64);
    Ok(())
}

fn rename_generic(ctx: &mut Ctx, args: Args, nx: bool) -> Result<()> {
    let (src, dst) = (args.get(1), args.get(2));
    if !ctx.shard.exists(ctx.db, src) {
        return Err(Error::NoSuchKey);
    }
    if src == dst {
        if nx {
            ctx.out.integer(0);
        } else {
            ctx.out.ok();
        }
        return Ok(());
    }
    if nx && ctx.shard.exists(ctx.db, dst) {
        ctx.out.integer(0);
        return Ok(());
    }
    let entry = ctx.shard.take(ctx.db, src).ok_or(Error::NoSuchKey)?;
    // Redis deletes the destination and adds it anew (a "new" event even when it existed).
    ctx.shard.remove(ctx.db, dst);
    ctx.shard.store(ctx.db, dst, entry.value, entry.expire_at);
    ctx.notify(GENERIC, "rename_from", src);
    ctx.notify(GENERIC, "rename_to", dst);
    if nx {
        ctx.out.integer(1);
    } else {
        ctx.out.ok();
    }
    Ok(())
}

pub fn rename(ctx: &mut Ctx, args: Args) -> Result<()> {
    rename_generic(ctx, args, false)
}

pub fn renamenx(ctx: &mut Ctx, args: Args) -> Result<()> {
    rename_generic(ctx, args, true)
}

/// COPY's options: destination db and REPLACE.
pub fn parse_copy_opts(args: Args, cur_db: usize, databases: usize) -> Result<(usize, bool)> {
    let (mut db, mut replace) = (cur_db, false);
    let mut i = 3;
    while i < args.len() {
        if args.is(i, "replace") {
            replace = true;
        } else if args.is(i, "db") && i + 1 < args.len() {
            let n = args.int32(i + 1)?;
            if n < 0 || n as usize >= databases {
                return Err(Error::msg("ERR DB index is out of range"));
            }
            db = n as usize;
            i += 1;
        } else {
            return Err(Error::Syntax);
        }
        i += 1;
    }
    Ok((db, replace))
}

pub fn copy(ctx: &mut Ctx, args: Args) -> Result<()> {
    let (src, dst) = (args.get(1), args.get(2));
    let (dst_db, replace) = parse_copy_opts(args, ctx.db, ctx.shard.databases())?;
    if ctx.shard.is_cluster() && (ctx.db != 0 || dst_db != 0) {
        return Err(Error::msg(
            "ERR Copying to another database is not allowed in cluster mode",
        ));
    }
    if src == dst && dst_db == ctx.db {
        return Err(Error::msg(
            "ERR source and destination objects are the same",
        ));
    }
    // Redis' copyCommand reads the source with lookupKeyRead (a keyspace hit or miss).
    let Some(entry) = ctx.shard.lookup_read(ctx.db, src).map(|e| e.clone()) else {
        ctx.out.integer(0);
        return Ok(());
    };
    let copied = put_copy(ctx.shard, dst_db, dst, entry, replace);
    if copied {
        ctx.shard.notify(GENERIC, "copy_to", dst_db, dst);
    }
    ctx.out.integer(copied as i64);
    Ok(())
}

/// Stores a copied or moved entry unless the destination exists and `replace` is off.
pub fn put_copy(
    shard: &mut crate::Shard,
    db: usize,
    key: &[u8],
    entry: Entry,
    replace: bool,
) -> bool {
    if shard.exists(db, key) {
        if !replace {
            return false;
        }
        // Deleted and added anew, as Redis does (a "new" keyspace event).
        shard.remove(db, key);
    }
    shard.store(db, key, entry.value, entry.expire_at);
    true
}

pub fn move_(ctx: &mut Ctx, args: Args) -> Result<()> {
    if ctx.shard.is_cluster() {
        return Err(Error::msg("ERR MOVE is not allowed in cluster mode"));
    }
    let key = args.get(1);
    let db = args.int32(2)?;
    if db < 0 || db as usize >= ctx.shard.databases() {
        return Err(Error::msg("ERR DB index is out of range"));
    }
    let db = db as usize;
    if db == ctx.db {
        return Err(Error::msg(
            "ERR source and destination objects are the same",
        ));
    }
    if !ctx.shard.exists(ctx.db, key) || ctx.shard.exists(db, key) {
        ctx.out.integer(0);
        return Ok(());
    }
    let moved = match ctx.shard.take(ctx.db, key) {
        Some(e) => put_copy(ctx.shard, db, key, e, false),
        None => false,
    };
    if moved {
        ctx.notify(GENERIC, "move_from", key);
        ctx.shard.notify(GENERIC, "move_to", db, key);
    }
    ctx.out.integer(moved as i64);
    Ok(())
}

const OBJECT_HELP: &[&str] = &[
    "OBJECT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "ENCODING <key>",
    "    Return the kind of internal representation used in order to store the value",
    "    associated with a <key>.",
    "FREQ <key>",
    "    Return the access frequency index of the <key>. The returned integer is",
    "    proportional to the logarithm of the recent access frequency of the key.",
    "IDLETIME <key>",
    "    Return the idle time of the <key>, that is the approximated number of",
    "    seconds elapsed since the last access to the key.",
    "REFCOUNT <key>",
    "    Return the number of references of the value associated with the specified",
    "    <key>.",
    "HELP",
    "    Prints this help.",
];

pub fn help_reply(out: &mut resp::Writer, lines: &[&str]) {
    out.array(lines.len());
    for l in lines {
        out.simple(l.as_bytes());
    }
}

pub fn object(ctx: &mut Ctx, args: Args) -> Result<()> {
    let sub = String::from_utf8_lossy(args.get(1)).to_ascii_lowercase();
    if sub == "help" {
        // OBJECT HELP is its own subcommand with arity 2.
        if args.len() != 2 {
            return Err(Error::Arity("object|help".into()));
        }
        help_reply(&mut ctx.out, OBJECT_HELP);
        return Ok(());
    }
    if !matches!(sub.as_str(), "encoding" | "freq" | "idletime" | "refcount") {
        return Err(Error::msg(format!(
            "ERR unknown subcommand '{}'. Try OBJECT HELP.",
            String::from_utf8_lossy(args.get(1))
        )));
    }
    if args.len() != 3 {
        return Err(Error::Arity(format!("object|{sub}")));
    }
    let now_s = (ctx.shard.now_ms() / 1000) as u32;
    let lfu = ctx.shard.lfu_policy();
    let now_min = crate::evict::lfu_minutes(ctx.shard.now_ms());
    let decay = ctx.shard.eviction.lfu_decay_time;
    let Some(e) = peek_read_as(ctx.shard, ctx.db, args.get(2), false) else {
        ctx.out.null();
        return Ok(());
    };
    match sub.as_str() {
        "encoding" => {
            let enc = e.value.encoding();
            ctx.out.bulk(enc.as_bytes());
        }
        "refcount" => {
            // Redis shares the integers 0..9999 (OBJ_SHARED_INTEGERS) and reports them as
            // referenced INT_MAX times.
            let shared = matches!(&e.value, Value::Str(crate::value::Str::Int(v)) if (0..10_000).contains(v));
            ctx.out.integer(if shared { i32::MAX as i64 } else { 1 });
        }
        "idletime" => {
            if lfu {
                return Err(Error::msg("ERR An LFU maxmemory policy is selected, idle time not tracked. Please note that when switching between policies at runtime LRU and LFU data will take some time to adjust."));
            }
            let idle = crate::evict::idle_secs(e.lru, now_s);
            ctx.out.integer(idle as i64);
        }
        _ => {
            if !lfu {
                return Err(Error::msg("ERR An LFU maxmemory policy is not selected, access frequency not tracked. Please note that when switching between policies at runtime LRU and LFU data will take some time to adjust."));
            }
            let freq = crate::evict::lfu_counter(e.lru, now_min, decay);
            ctx.out.integer(i64::from(freq));
        }
    }
    Ok(())
}

/// MEMORY USAGE key [SAMPLES n]: an estimate of the key's footprint (key, value, entry and
/// table overhead), nil when the key is missing.
pub fn memory_usage(ctx: &mut Ctx, args: Args) -> Result<()> {
    let mut i = 3;
    let mut samples = 5;
    while i < args.len() {
        if args.is(i, "samples") && i + 1 < args.len() {
            // A negative count is a syntax error (memoryCommand).
            let n = args.int(i + 1)?;
            if n < 0 {
                return Err(Error::Syntax);
            }
            samples = n as usize;
            i += 2;
        } else {
            return Err(Error::Syntax);
        }
    }
    let key = args.get(2);
    match ctx.shard.peek(ctx.db, key) {
        None => ctx.out.null(),
        Some(e) => {
            let bytes = crate::usage::of_key(key, e, samples);
            ctx.out.integer(bytes as i64);
        }
    }
    Ok(())
}

/// DUMP key: the value in Redis' payload format (RDB value, version, CRC64), nil if absent.
pub fn dump(ctx: &mut Ctx, args: Args) -> Result<()> {
    let opts = ctx.shard.save_opts;
    match ctx.shard.lookup_read(ctx.db, args.get(1)) {
        Some(e) => {
            let payload = crate::rdb::dump(&e.value, opts);
            ctx.out.bulk(&payload);
        }
        None => ctx.out.null(),
    }
    Ok(())
}

/// RESTORE key ttl payload [REPLACE] [ABSTTL] [IDLETIME s] [FREQ f], checked in Redis'
/// order (options, existing key, ttl, payload footer, payload body).
pub fn restore(ctx: &mut Ctx, args: Args) -> Result<()> {
    let key = args.get(1);
    let (mut replace, mut absttl) = (false, false);
    let (mut idle, mut freq): (Option<i64>, Option<i64>) = (None, None);
    let mut j = 4;
    while j < args.len() {
        let more = args.len() - j - 1;
        if args.is(j, "replace") {
            replace = true;
        } else if args.is(j, "absttl") {
            absttl = true;
        } else if args.is(j, "idletime") && more >= 1 && freq.is_none() {
            let v = args.int(j + 1)?;
            if v < 0 {
                return Err(Error::msg("ERR Invalid IDLETIME value, must be >= 0"));
            }
            idle = Some(v);
            j += 1;
        } else if args.is(j, "freq") && more >= 1 && idle.is_none() {
            let v = args.int(j + 1)?;
            if !(0..=255).contains(&v) {
                return Err(Error::msg(
                    "ERR Invalid FREQ value, must be >= 0 and <= 255",
                ));
            }
            freq = Some(v);
            j += 1;
        } else {
            return Err(Error::Syntax);
        }
        j += 1;
    }
    if !replace && ctx.shard.exists(ctx.db, key) {
        return Err(Error::msg("BUSYKEY Target key name already exists."));
    }
    let ttl = args.int(2)?;
    if ttl < 0 {
        return Err(Error::msg("ERR Invalid TTL value, must be >= 0"));
    }
    let limits = ctx.shard.limits;
    let value = match crate::rdb::restore(args.get(3), &limits) {
        Ok(v) => v,
        Err(true) => return Err(Error::msg("ERR DUMP payload version or checksum are wrong")),
        Err(false) => return Err(Error::msg("ERR Bad data format")),
    };
    let deleted = replace && ctx.shard.delete(ctx.db, key);
    let now = ctx.shard.now_ms();
    let when = match (ttl, absttl) {
        (0, _) => 0,
        (t, true) => t as u64,
        (t, false) => now.saturating_add(t as u64),
    };
    if when != 0 && ctx.shard.already_expired(when as i64) {
        if deleted {
            ctx.notify(GENERIC, "del", key);
            ctx.shard
                .propagate_instead(|| vec![vec![b"DEL".to_vec(), key.to_vec()]]);
        }
        ctx.out.ok();
        return Ok(());
    }
    if ttl > 0 && !absttl {
        // Recorded with the absolute time and ABSTTL appended, as Redis 7.0 does.
        ctx.shard.propagate_instead(|| {
            let mut argv: Vec<Vec<u8>> = args.iter().map(<[u8]>::to_vec).collect();
            argv[2] = crate::value::IntBuf::default().format(when as i64).to_vec();
            argv.push(b"ABSTTL".to_vec());
            vec![argv]
        });
    }
    ctx.shard.store(ctx.db, key, value, when);
    ctx.shard
        .set_lru_or_lfu(ctx.db, key, idle.map(|i| i as u64), freq.map(|f| f as u8));
    ctx.notify(GENERIC, "restore", key);
    ctx.out.ok();
    Ok(())
}
