//! SORT and SORT_RO (Redis 7.0 sort.c semantics): BY, LIMIT, GET, ASC/DESC, ALPHA, STORE.
//!
//! The work is split so that patterns may name keys on other shards: `parse` the options,
//! `prepare` the elements from the sorted key's value, then `run` with a lookup that
//! resolves a (key, hash field) pair wherever it lives. On one shard the lookup reads the
//! shard (`sort` handler); across shards the runtime fetches what `wanted` lists first.

use crate::args::Args;
use crate::error::{Error, Result};
use crate::shard::{Ctx, Shard};
use crate::value::{List, Value};
use resp::Writer;
use std::cmp::Ordering;

pub struct SortOpts<'a> {
    pub desc: bool,
    pub alpha: bool,
    pub limit_start: i64,
    pub limit_count: i64,
    pub store: Option<&'a [u8]>,
    pub by: Option<&'a [u8]>,
    /// BY names no key (no `*`): keep the native order.
    pub dontsort: bool,
    pub gets: Vec<&'a [u8]>,
}

/// Parses SORT's options in Redis' order (errors before the key is looked at).
pub fn parse<'a>(args: Args<'a>, readonly: bool, cluster: bool) -> Result<SortOpts<'a>> {
    let mut o = SortOpts {
        desc: false,
        alpha: false,
        limit_start: 0,
        limit_count: -1,
        store: None,
        by: None,
        dontsort: false,
        gets: Vec::new(),
    };
    let mut j = 2;
    while j < args.len() {
        let left = args.len() - j - 1;
        if args.is(j, "asc") {
            o.desc = false;
        } else if args.is(j, "desc") {
            o.desc = true;
        } else if args.is(j, "alpha") {
            o.alpha = true;
        } else if args.is(j, "limit") && left >= 2 {
            o.limit_start = args.int(j + 1)?;
            o.limit_count = args.int(j + 2)?;
            j += 2;
        } else if !readonly && args.is(j, "store") && left >= 1 {
            o.store = Some(args.get(j + 1));
            j += 1;
        } else if args.is(j, "by") && left >= 1 {
            let p = args.get(j + 1);
            o.by = Some(p);
            o.dontsort = !p.contains(&b'*');
            if !o.dontsort && cluster {
                return Err(Error::msg("ERR BY option of SORT denied in Cluster mode."));
            }
            j += 1;
        } else if args.is(j, "get") && left >= 1 {
            if cluster {
                return Err(Error::msg("ERR GET option of SORT denied in Cluster mode."));
            }
            o.gets.push(args.get(j + 1));
            j += 1;
        } else {
            return Err(Error::Syntax);
        }
        j += 1;
    }
    Ok(o)
}

/// Whether BY or GET patterns may read other keys (so one shard may not be enough).
pub fn uses_patterns(args: Args) -> bool {
    (2..args.len().saturating_sub(1))
        .any(|j| (args.is(j, "by") || args.is(j, "get")) && args.get(j + 1).contains(&b'*'))
}

/// The elements to sort and the output window, after Redis' LIMIT clamping.
pub struct Prepared {
    pub elems: Vec<Vec<u8>>,
    pub start: i64,
    pub end: i64,
}

/// Loads the elements of the value to sort (None: a missing key, sorted as an empty list).
pub fn prepare(value: Option<&Value>, o: &mut SortOpts) -> Result<Prepared> {
    let empty = Value::List(Box::default());
    let value = value.unwrap_or(&empty);
    let len = match value {
        Value::List(l) => l.len(),
        Value::Set(s) => s.len(),
        Value::ZSet(z) => z.len(),
        _ => return Err(Error::WrongType),
    } as i64;
    // A set has no native order: with STORE, sort it so the result is deterministic.
    if o.dontsort && matches!(value, Value::Set(_)) && o.store.is_some() {
        o.dontsort = false;
        o.alpha = true;
        o.by = None;
    }
    let mut start = o.limit_start.max(0);
    let mut end = if o.limit_count < 0 {
        len - 1
    } else {
        start.saturating_add(o.limit_count) - 1
    };
    if start >= len {
        start = len - 1;
        end = len - 2;
    }
    if end >= len {
        end = len - 1;
    }
    let mut elems = Vec::new();
    let native_range = o.dontsort && matches!(value, Value::List(_) | Value::ZSet(_));
    match value {
        Value::List(l) if native_range && end >= start => {
            {
                let n = (end - start + 1) as usize;
                if o.desc {
                    // From index len-1-start toward the head.
                    let it = l.iter().rev().skip(start as usize).take(n);
                    elems.extend(it.map(|e| e.to_vec()));
                } else {
                    elems.extend(l.iter().skip(start as usize).take(n).map(|e| e.to_vec()));
                }
                end -= start;
                start = 0;
            }
        }
        Value::ZSet(z) if native_range && end >= start => {
            let (a, b) = (start as usize, end as usize);
            if o.desc {
                let n = len as usize;
                z.visit(n - 1 - b, n - 1 - a, true, |m, _| elems.push(m.to_vec()));
            } else {
                z.visit(a, b, false, |m, _| elems.push(m.to_vec()));
            }
            end -= start;
            start = 0;
        }
        // Native order with an empty window: nothing to load.
        Value::List(_) | Value::ZSet(_) if native_range => {}
        Value::List(l) => elems.extend(l.iter().map(|e| e.to_vec())),
        Value::Set(s) => elems = s.members(),
        Value::ZSet(z) => z.for_each(|m, _| elems.push(m.to_vec())),
        _ => {}
    }
    Ok(Prepared { elems, start, end })
}

/// The value to sort, as SORT leaves it: Redis converts a listpack sorted set it sorts to a
/// skiplist for good (OBJECT ENCODING shows it).
pub fn sortable(v: &mut Value) -> &Value {
    if let Value::ZSet(z) = v {
        z.convert_to_skip();
    }
    v
}

/// The key (and hash field, for `key->field`) a pattern names for an element; None for
/// `#` (the element itself) or a pattern without `*`.
pub fn pattern_key(pattern: &[u8], elem: &[u8]) -> Option<PatternKey> {
    if pattern == b"#" {
        return None;
    }
    let star = pattern.iter().position(|&c| c == b'*')?;
    let after = &pattern[star + 1..];
    let (postfix, field) = match after.windows(2).position(|w| w == b"->") {
        Some(i) if i + 2 < after.len() => (&after[..i], Some(after[i + 2..].to_vec())),
        _ => (after, None),
    };
    let mut key = Vec::with_capacity(pattern.len() + elem.len());
    key.extend_from_slice(&pattern[..star]);
    key.extend_from_slice(elem);
    key.extend_from_slice(postfix);
    Some((key, field))
}

/// A key a pattern reads, and the hash field for `key->field`.
pub type PatternKey = (Vec<u8>, Option<Vec<u8>>);

/// Every (key, field) the patterns will read, for fetching them ahead from other shards.
pub fn wanted(p: &Prepared, o: &SortOpts) -> Vec<PatternKey> {
    let mut out = Vec::new();
    for e in &p.elems {
        if let (Some(by), false) = (o.by, o.dontsort) {
            out.extend(pattern_key(by, e));
        }
        for g in &o.gets {
            out.extend(pattern_key(g, e));
        }
    }
    out
}

/// A string value, or a hash field's value, as a pattern reads it (anything else: None).
pub fn fetch(shard: &mut Shard, db: usize, key: &[u8], field: Option<&[u8]>) -> Option<Vec<u8>> {
    let e = shard.lookup_read(db, key)?;
    match (&e.value, field) {
        (Value::Str(s), None) => Some(s.to_vec()),
        (Value::Hash(h), Some(f)) => h.get(f).map(|v| v.to_vec()),
        _ => None,
    }
}

/// Resolves a pattern's (key, hash field) to the value SORT reads there.
pub type Lookup<'a> = dyn FnMut(&[u8], Option<&[u8]>) -> Option<Vec<u8>> + 'a;

/// Sorts and applies GET: the output rows, flat (one value per GET, or the element).
/// `lookup` resolves a pattern's (key, field).
pub fn run(p: Prepared, o: &SortOpts, lookup: &mut Lookup) -> Result<Vec<Option<Vec<u8>>>> {
    let mut resolve = |pattern: &[u8], elem: &[u8]| -> Option<Vec<u8>> {
        if pattern == b"#" {
            return Some(elem.to_vec());
        }
        let (k, f) = pattern_key(pattern, elem)?;
        lookup(&k, f.as_deref())
    };
    let Prepared { elems, start, end } = p;
    let mut items: Vec<(Vec<u8>, f64, Option<Vec<u8>>)> =
        elems.into_iter().map(|e| (e, 0.0, None)).collect();
    if !o.dontsort {
        let mut bad = false;
        for (e, score, cmp) in items.iter_mut() {
            let by = match o.by {
                Some(pat) => match resolve(pat, e) {
                    Some(v) => v,
                    None => continue,
                },
                None => e.clone(),
            };
            if o.alpha {
                if o.by.is_some() {
                    *cmp = Some(by);
                }
            } else {
                // Redis reads the weight as a C string: up to its first NUL byte.
                let c_str = by.split(|&b| b == 0).next().unwrap_or_default();
                match crate::args::strtod(c_str) {
                    Some(s) => *score = s,
                    None => bad = true,
                }
            }
        }
        if bad {
            return Err(Error::msg(
                "ERR One or more scores can't be converted into double",
            ));
        }
        let by_pattern = o.by.is_some();
        items.sort_by(|a, b| {
            let c = if !o.alpha {
                a.1.partial_cmp(&b.1)
                    .unwrap_or(Ordering::Equal)
                    .then_with(|| a.0.cmp(&b.0))
            } else if by_pattern {
                match (&a.2, &b.2) {
                    (Some(x), Some(y)) => x.cmp(y),
                    (None, None) => Ordering::Equal,
                    (None, Some(_)) => Ordering::Less,
                    (Some(_), None) => Ordering::Greater,
                }
            } else {
                a.0.cmp(&b.0)
            };
            if o.desc {
                c.reverse()
            } else {
                c
            }
        });
    }
    let mut rows = Vec::new();
    if start >= 0 {
        for j in start..=end {
            let Some((e, _, _)) = items.get(j as usize) else {
                break;
            };
            if o.gets.is_empty() {
                rows.push(Some(e.clone()));
            }
            for g in &o.gets {
                rows.push(resolve(g, e));
            }
        }
    }
    Ok(rows)
}

/// The rows as SORT's reply.
pub fn reply(out: &mut Writer, rows: &[Option<Vec<u8>>]) {
    out.array(rows.len());
    for r in rows {
        match r {
            Some(v) => out.bulk(v),
            None => out.null(),
        }
    }
}

/// The rows as the list STORE writes (missing values become empty strings); None when
/// there are none (STORE then deletes the destination).
pub fn stored(rows: Vec<Option<Vec<u8>>>) -> Option<Value> {
    if rows.is_empty() {
        return None;
    }
    let mut l = List::default();
    for r in rows {
        l.push_back(r.as_deref().unwrap_or_default());
    }
    Some(Value::List(Box::new(l)))
}

fn sort_generic(ctx: &mut Ctx, args: Args, readonly: bool) -> Result<()> {
    let mut o = parse(args, readonly, ctx.shard.is_cluster())?;
    let prepared = {
        let e = ctx.shard.lookup_read(ctx.db, args.get(1));
        prepare(e.map(|e| sortable(&mut e.value)), &mut o)?
    };
    let db = ctx.db;
    let shard = &mut *ctx.shard;
    let rows = run(prepared, &o, &mut |k, f| fetch(shard, db, k, f))?;
    match o.store {
        Some(dst) => {
            let n = rows.len();
            match stored(rows) {
                Some(v) => {
                    ctx.shard.store(db, dst, v, 0);
                    ctx.notify(crate::notify::LIST, "sortstore", dst);
                }
                None => crate::cmd::clear_destination(ctx, dst),
            }
            ctx.out.integer(n as i64);
        }
        None => reply(&mut ctx.out, &rows),
    }
    Ok(())
}

pub fn sort(ctx: &mut Ctx, args: Args) -> Result<()> {
    sort_generic(ctx, args, false)
}

pub fn sort_ro(ctx: &mut Ctx, args: Args) -> Result<()> {
    sort_generic(ctx, args, true)
}
