//! Blocking pops (BLPOP BRPOP BLMPOP BLMOVE BRPOPLPUSH BZPOPMIN BZPOPMAX BZMPOP), Redis 7.0
//! semantics. The handlers here are the commands' non-blocking form: what they do when the
//! client may not block (inside MULTI/EXEC), and the first attempt the runtime makes before
//! blocking. Serving a blocked client later is `servable` + `serve`, run by the shard that
//! owns the key right after the command that gave the key a value; the runtime keeps the
//! waiters (Shard::block) and delivers the reply.

use crate::args::{parse_f64, Args};
use crate::cmd::{list, stream, zset};
use crate::error::{Error, Result};
use crate::shard::{Ctx, Shard};
use crate::value::{Entry, Value};
use resp::{Proto, Writer};

/// What a blocked client waits to do, and how its reply looks.
#[derive(Clone, Debug, PartialEq)]
pub enum BlockKind {
    /// BLPOP/BRPOP (`count` None: [key, element]) and BLMPOP (Some: [key, [elements]]).
    Pop { right: bool, count: Option<usize> },
    /// BLMOVE/BRPOPLPUSH: the element, pushed onto `dst`.
    Move {
        dst: Vec<u8>,
        from_right: bool,
        to_right: bool,
    },
    /// BZPOPMIN/BZPOPMAX (None: [key, member, score]) and BZMPOP (Some: [key, [[m, s]...]]).
    ZPop { max: bool, count: Option<usize> },
    /// XREAD/XREADGROUP with BLOCK.
    XRead(stream::Waiting),
}

impl BlockKind {
    /// The reply on timeout (and in MULTI when nothing is there): a null array, or a null
    /// bulk for the moves.
    pub fn write_timeout(&self, out: &mut Writer) {
        match self {
            BlockKind::Move { .. } => out.null(),
            _ => out.null_array(),
        }
    }
}

/// A parsed blocking command.
pub struct Blocking<'a> {
    pub keys: Vec<&'a [u8]>,
    pub kind: BlockKind,
    /// Unix ms to give up at; 0 waits for ever.
    pub deadline: u64,
    /// False for an XREAD/XREADGROUP without BLOCK: it only runs as its non-blocking form.
    pub wait: bool,
}

/// Redis' getTimeoutFromObjectOrReply in seconds: fractional, 0 for ever.
pub fn parse_timeout(b: &[u8], now_ms: u64) -> Result<u64> {
    let secs =
        parse_f64(b).ok_or_else(|| Error::msg("ERR timeout is not a float or out of range"))?;
    let ms = secs * 1000.0;
    // C's (long long) cast of an out-of-range double gives LLONG_MIN on x86: "negative".
    let ms = if ms.is_finite() && ms < i64::MAX as f64 && ms >= i64::MIN as f64 {
        ms as i64
    } else {
        i64::MIN
    };
    if ms < 0 {
        return Err(Error::msg("ERR timeout is negative"));
    }
    if ms == 0 {
        return Ok(0);
    }
    if ms > i64::MAX - now_ms as i64 {
        return Err(Error::msg("ERR timeout is out of range"));
    }
    Ok(now_ms + ms as u64)
}

/// Parses any blocking command, in Redis' order of checks.
pub fn parse<'a>(name: &str, args: Args<'a>, now_ms: u64) -> Result<Blocking<'a>> {
    let last = args.len() - 1;
    let keys_between = |from: usize, to: usize| (from..to).map(|i| args.get(i)).collect();
    Ok(match name {
        "blpop" | "brpop" => Blocking {
            wait: true,
            deadline: parse_timeout(args.get(last), now_ms)?,
            keys: keys_between(1, last),
            kind: BlockKind::Pop {
                right: name == "brpop",
                count: None,
            },
        },
        "bzpopmin" | "bzpopmax" => Blocking {
            wait: true,
            deadline: parse_timeout(args.get(last), now_ms)?,
            keys: keys_between(1, last),
            kind: BlockKind::ZPop {
                max: name == "bzpopmax",
                count: None,
            },
        },
        "blmpop" | "bzmpop" => {
            let (first, second) = if name == "blmpop" {
                ("left", "right")
            } else {
                ("min", "max")
            };
            let (keys, end, count) = crate::args::parse_mpop(args, 2, first, second)?;
            let kind = if name == "blmpop" {
                BlockKind::Pop {
                    right: end,
                    count: Some(count),
                }
            } else {
                BlockKind::ZPop {
                    max: end,
                    count: Some(count),
                }
            };
            Blocking {
                wait: true,
                deadline: parse_timeout(args.get(1), now_ms)?,
                keys,
                kind,
            }
        }
        "blmove" => {
            let from_left = list::parse_side(args.get(3))?;
            let to_left = list::parse_side(args.get(4))?;
            Blocking {
                wait: true,
                deadline: parse_timeout(args.get(5), now_ms)?,
                keys: vec![args.get(1)],
                kind: BlockKind::Move {
                    dst: args.get(2).to_vec(),
                    from_right: !from_left,
                    to_right: !to_left,
                },
            }
        }
        "brpoplpush" => Blocking {
            wait: true,
            deadline: parse_timeout(args.get(3), now_ms)?,
            keys: vec![args.get(1)],
            kind: BlockKind::Move {
                dst: args.get(2).to_vec(),
                from_right: true,
                to_right: false,
            },
        },
        "xread" | "xreadgroup" => {
            let (w, keys, block) = stream::Waiting::parse(args, name == "xreadgroup")?;
            let deadline = match block {
                None | Some(0) => 0,
                Some(ms) if ms > i64::MAX - now_ms as i64 => {
                    return Err(Error::msg("ERR timeout is out of range"))
                }
                Some(ms) => now_ms + ms as u64,
            };
            Blocking {
                wait: block.is_some(),
                deadline,
                keys,
                kind: BlockKind::XRead(w),
            }
        }
        _ => return Err(Error::Syntax),
    })
}

/// Whether a waiter of `kind` could be served from `key` now.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Fit {
    Ready,
    /// Missing, or of a type no waiter here can use: nobody can be served.
    Empty,
    /// This waiter can't be served (the key holds the other type, or a move's destination
    /// is not a list), but others may.
    Unfit,
}

fn is_list(e: Option<&Entry>) -> Option<bool> {
    e.map(|e| matches!(e.value, Value::List(_)))
}

/// Whether `key` holds what a waiter of `kind` pops. A move whose destination holds another
/// type is served too: `serve` answers it WRONGTYPE and leaves the element, as Redis 7.0 does.
pub fn servable(shard: &mut Shard, db: usize, key: &[u8], kind: &BlockKind) -> Fit {
    if let BlockKind::XRead(w) = kind {
        if shard.peek(db, key).is_none() {
            return Fit::Empty;
        }
        return match w.servable(shard, db, key) {
            Some(true) => Fit::Ready,
            _ => Fit::Unfit,
        };
    }
    let Some(e) = shard.peek(db, key) else {
        return Fit::Empty;
    };
    let fits = match (&e.value, kind) {
        (Value::List(l), BlockKind::Pop { .. } | BlockKind::Move { .. }) => !l.is_empty(),
        (Value::ZSet(z), BlockKind::ZPop { .. }) => !z.is_empty(),
        _ => false,
    };
    if !fits {
        return Fit::Unfit;
    }
    Fit::Ready
}

/// What serving a waiter popped, so that it can be put back if the client turns out to be
/// gone before the reply reaches it.
#[derive(Debug)]
pub enum Undo {
    /// Push these back onto the end they came from (in pop order).
    List {
        key: Vec<u8>,
        right: bool,
        elems: Vec<Vec<u8>>,
    },
    ZAdd {
        key: Vec<u8>,
        items: Vec<(f64, Vec<u8>)>,
    },
    /// Already delivered where it had to go (a local move).
    Nothing,
}

impl Undo {
    /// The key it writes, if any.
    pub fn key(&self) -> Option<&[u8]> {
        match self {
            Undo::List { key, .. } | Undo::ZAdd { key, .. } => Some(key),
            Undo::Nothing => None,
        }
    }
}

/// The result of serving one waiter.
pub struct Served {
    /// For a move whose destination is on another shard: the element to push there (the
    /// reply is that element).
    pub moved: Option<Vec<u8>>,
    pub undo: Undo,
}

/// Serves a waiter of `kind` from `key` (which `servable` found Ready), writing its reply
/// in `proto` to `out`.
pub fn serve(
    shard: &mut Shard,
    db: usize,
    key: &[u8],
    kind: &BlockKind,
    proto: Proto,
    out: &mut Vec<u8>,
    dst_here: bool,
) -> Result<Served> {
    let mut w = Writer::new(out, proto);
    match kind {
        BlockKind::XRead(x) => {
            x.serve(shard, db, key, proto, w.buf)?;
            Ok(Served {
                moved: None,
                undo: Undo::Nothing,
            })
        }
        BlockKind::Pop { right, count } => {
            let n = count.unwrap_or(1);
            let elems = list::pop_from(shard, db, key, !right, n)?.unwrap_or_default();
            if shard.journal.enabled() {
                let argv = list::pop_record(key, *right, count.map(|_| elems.len()));
                shard.journal.record(db, argv.iter().map(Vec::as_slice));
            }
            w.array(2);
            w.bulk(key);
            if count.is_some() {
                w.array(elems.len());
            }
            for e in &elems {
                w.bulk(e);
            }
            Ok(Served {
                moved: None,
                undo: Undo::List {
                    key: key.to_vec(),
                    right: *right,
                    elems,
                },
            })
        }
        BlockKind::Move {
            dst,
            from_right,
            to_right,
        } => {
            if dst_here && is_list(shard.peek(db, dst)) == Some(false) {
                return Err(Error::WrongType);
            }
            let mut popped = list::pop_from(shard, db, key, !from_right, 1)?.unwrap_or_default();
            let elem = popped.pop().ok_or(Error::NoSuchKey)?;
            if dst_here {
                list::push_into(shard, db, dst, !to_right, [elem.clone()])?;
                if shard.journal.enabled() {
                    let side = |r: bool| if r { &b"right"[..] } else { b"left" };
                    let argv = [&b"LMOVE"[..], key, dst, side(*from_right), side(*to_right)];
                    shard.journal.record(db, argv);
                }
                w.bulk(&elem);
                return Ok(Served {
                    moved: None,
                    undo: Undo::Nothing,
                });
            }
            // The push on the destination's shard is that shard's record.
            if shard.journal.enabled() {
                let argv = list::pop_record(key, *from_right, None);
                shard.journal.record(db, argv.iter().map(Vec::as_slice));
            }
            Ok(Served {
                moved: Some(elem.to_vec()),
                undo: Undo::List {
                    key: key.to_vec(),
                    right: *from_right,
                    elems: vec![elem],
                },
            })
        }
        BlockKind::ZPop { max, count } => {
            let how = if count.is_some() {
                zset::PopReply::Multi
            } else {
                zset::PopReply::WithKey
            };
            let mut items = Vec::new();
            if let Some(Entry {
                value: Value::ZSet(z),
                ..
            }) = shard.peek(db, key)
            {
                let n = count.unwrap_or(1).min(z.len());
                if n > 0 {
                    let len = z.len();
                    let (lo, hi) = if *max { (len - n, len - 1) } else { (0, n - 1) };
                    z.visit(lo, hi, *max, |m, s| items.push((s, m.to_vec())));
                }
            }
            let mut ctx = Ctx {
                shard,
                db,
                out: w,
                name: "bzpopmin",
            };
            if let Some((_, n)) = zset::pop_from(&mut ctx, &[key], *max, count.unwrap_or(1), how)? {
                if ctx.shard.journal.enabled() && n > 0 {
                    let argv = zset::zpop_record(key, *max, count.map(|_| n));
                    ctx.shard.journal.record(db, argv.iter().map(Vec::as_slice));
                }
            }
            Ok(Served {
                moved: None,
                undo: Undo::ZAdd {
                    key: key.to_vec(),
                    items,
                },
            })
        }
    }
}

/// Puts back what `serve` took, for a client that went away before its reply.
pub fn undo(shard: &mut Shard, db: usize, undo: Undo) {
    match undo {
        Undo::List { key, right, elems } => {
            // Popped from the left in order a, b: pushing back left b then a restores it.
            if shard.journal.enabled() && !elems.is_empty() {
                let name: &[u8] = if right { b"RPUSH" } else { b"LPUSH" };
                let argv = [name, &key]
                    .into_iter()
                    .chain(elems.iter().rev().map(|e| &e[..]));
                let argv: Vec<&[u8]> = argv.collect();
                shard.journal.record(db, argv);
            }
            let back = elems.into_iter().rev();
            let _ = list::push_into(shard, db, &key, !right, back);
        }
        Undo::ZAdd { key, items } => {
            let limits = shard.limits;
            let make = || Value::ZSet(crate::zset::ZSet::for_first(0, &limits));
            if let Ok(z) = crate::cmd::write_or_create::<crate::zset::ZSet>(shard, db, &key, make) {
                for (s, m) in &items {
                    z.add(*s, m, Default::default(), &limits);
                }
                shard.modified(db, &key);
                if shard.journal.enabled() && !items.is_empty() {
                    let mut argv = vec![b"ZADD".to_vec(), key.clone()];
                    for (s, m) in &items {
                        let mut score = Vec::new();
                        resp::format_g17(*s, &mut score);
                        argv.push(score);
                        argv.push(m.to_vec());
                    }
                    shard.journal.record(db, argv.iter().map(Vec::as_slice));
                }
            }
        }
        Undo::Nothing => {}
    }
}

/// The non-blocking form of every blocking command (its handler): pops from the first key
/// that has something, checking types in key order; nothing there answers as a timeout.
pub fn nonblocking(ctx: &mut Ctx, args: Args) -> Result<()> {
    let b = parse(ctx.name, args, ctx.shard.now_ms())?;
    if let BlockKind::Move {
        dst,
        from_right,
        to_right,
    } = &b.kind
    {
        // Recorded as LMOVE (BLMOVE, its arguments as sent) or RPOPLPUSH (BRPOPLPUSH).
        ctx.shard.propagate_instead(|| {
            let words = |n: usize| args.iter().take(n).skip(1).map(<[u8]>::to_vec);
            let (name, n): (&[u8], usize) = if ctx.name == "brpoplpush" {
                (b"RPOPLPUSH", 3)
            } else {
                (b"LMOVE", 5)
            };
            vec![std::iter::once(name.to_vec()).chain(words(n)).collect()]
        });
        return list::move_one(ctx, b.keys[0], dst, !from_right, !to_right);
    }
    for key in &b.keys {
        match servable(ctx.shard, ctx.db, key, &b.kind) {
            Fit::Ready => {
                let proto = ctx.out.proto;
                serve(ctx.shard, ctx.db, key, &b.kind, proto, ctx.out.buf, true)?;
                // `serve` recorded the pop itself.
                ctx.shard.propagate_instead(Vec::new);
                return Ok(());
            }
            Fit::Unfit => return Err(Error::WrongType),
            Fit::Empty => {}
        }
    }
    b.kind.write_timeout(&mut ctx.out);
    Ok(())
}
