//! Stream commands (Redis 7.0 t_stream.c semantics): XADD, XLEN, XRANGE, XREVRANGE, XDEL,
//! XTRIM, XSETID, XINFO, XGROUP, XREAD, XREADGROUP, XACK, XPENDING, XCLAIM, XAUTOCLAIM.
//! Replies, errors and the forms written to the journal are redis-server's: XADD with its
//! generated ID and `~` trims made exact, XREADGROUP, XCLAIM and XAUTOCLAIM as the XCLAIM
//! ... JUSTID LASTID commands (and XGROUP SETID / CREATECONSUMER) Redis propagates.
//! Blocking XREAD and XREADGROUP are served by `cmd::blocking` with `serve_read`.

use crate::args::{parse_i64, Args};
use crate::cmd::{read, write};
use crate::error::{Error, Result};
use crate::notify::STREAM;
use crate::shard::{Ctx, Shard};
use crate::stream::{AddError, Group, Nack, Stream, StreamId, Trim, INVALID_ENTRIES_READ};
use crate::value::{IntBuf, Value};
use resp::{Proto, Writer};

const INVALID_ID: &str = "ERR Invalid stream ID specified as stream command argument";

/// Redis' string2ull: a decimal (strtoull's leading blanks and sign tolerated, as Redis'
/// fallback to it does), negatives that fit a long long refused.
fn strtoull(b: &[u8]) -> Option<u64> {
    if let Some(v) = parse_i64(b) {
        return (v >= 0).then_some(v as u64);
    }
    let t = b
        .iter()
        .position(|c| !matches!(c, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r'))?;
    let mut s = &b[t..];
    let neg = match s.first() {
        Some(b'-') => {
            s = &s[1..];
            true
        }
        Some(b'+') => {
            s = &s[1..];
            false
        }
        _ => false,
    };
    if s.is_empty() || !s.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let mut v: u64 = 0;
    for d in s {
        v = v.checked_mul(10)?.checked_add((d - b'0') as u64)?;
    }
    Some(if neg { v.wrapping_neg() } else { v })
}

/// streamGenericParseIDOrReply: `-`, `+` (unless `strict`), `<ms>`, `<ms>-<seq>`, and with
/// `star` `<ms>-*`. Returns the ID and whether its sequence was given.
fn parse_id_generic(
    b: &[u8],
    missing_seq: u64,
    strict: bool,
    star: bool,
) -> Result<(StreamId, bool)> {
    let bad = || Error::msg(INVALID_ID);
    if b.len() > 127 {
        return Err(bad());
    }
    if b == b"-" || b == b"+" {
        if strict {
            return Err(bad());
        }
        return Ok((
            if b == b"-" {
                StreamId::MIN
            } else {
                StreamId::MAX
            },
            true,
        ));
    }
    let (ms, seq, given) = match b.iter().position(|&c| c == b'-') {
        Some(d) => {
            let ms = strtoull(&b[..d]).ok_or_else(bad)?;
            let rest = &b[d + 1..];
            if star && rest == b"*" {
                (ms, 0, false)
            } else {
                (ms, strtoull(rest).ok_or_else(bad)?, true)
            }
        }
        None => (strtoull(b).ok_or_else(bad)?, missing_seq, true),
    };
    Ok((StreamId::new(ms, seq), given))
}

/// An ID where `-` and `+` are allowed.
pub fn parse_id(b: &[u8], missing_seq: u64) -> Result<StreamId> {
    parse_id_generic(b, missing_seq, false, false).map(|(id, _)| id)
}

/// An ID where `-` and `+` are not allowed (streamParseStrictIDOrReply).
pub fn parse_strict(b: &[u8], missing_seq: u64) -> Result<StreamId> {
    parse_id_generic(b, missing_seq, true, false).map(|(id, _)| id)
}

/// A range bound: `(` makes it exclusive (then strict), moved inwards with the interval
/// errors Redis gives.
fn parse_bound(b: &[u8], end: bool) -> Result<StreamId> {
    let missing = if end { u64::MAX } else { 0 };
    if b.len() > 1 && b[0] == b'(' {
        let id = parse_strict(&b[1..], missing)?;
        if end {
            id.decr()
                .ok_or_else(|| Error::msg("ERR invalid end ID for the interval"))
        } else {
            id.incr()
                .ok_or_else(|| Error::msg("ERR invalid start ID for the interval"))
        }
    } else {
        parse_id(b, missing)
    }
}

/// `<ms>-<seq>` without allocating.
pub struct IdText {
    buf: [u8; 41],
    len: usize,
}

impl IdText {
    pub fn new(id: StreamId) -> IdText {
        let mut t = IdText {
            buf: [0; 41],
            len: 0,
        };
        t.push_u64(id.ms);
        t.buf[t.len] = b'-';
        t.len += 1;
        t.push_u64(id.seq);
        t
    }

    fn push_u64(&mut self, v: u64) {
        let mut digits = [0u8; 20];
        let mut i = digits.len();
        let mut n = v;
        loop {
            i -= 1;
            digits[i] = b'0' + (n % 10) as u8;
            n /= 10;
            if n == 0 {
                break;
            }
        }
        let d = &digits[i..];
        self.buf[self.len..self.len + d.len()].copy_from_slice(d);
        self.len += d.len();
    }

    pub fn as_bytes(&self) -> &[u8] {
        &self.buf[..self.len]
    }
}

fn id_bulk(out: &mut Writer, id: StreamId) {
    out.bulk(IdText::new(id).as_bytes());
}

fn id_vec(id: StreamId) -> Vec<u8> {
    IdText::new(id).as_bytes().to_vec()
}

fn int_vec(v: i64) -> Vec<u8> {
    IntBuf::default().format(v).to_vec()
}

/// One entry: [id, [field, value, ...]].
fn reply_entry(out: &mut Writer, e: &crate::stream::EntryRef) {
    out.array(2);
    id_bulk(out, e.id);
    out.array(e.num_fields * 2);
    let (mut a, mut b) = (IntBuf::default(), IntBuf::default());
    e.for_each(|f, v| {
        out.bulk(f.bytes(&mut a));
        out.bulk(v.bytes(&mut b));
    });
}

/// Writes what `f` writes (returning its element count) behind an array header of that
/// count (Redis' deferred length).
fn deferred(out: &mut Writer, f: impl FnOnce(&mut Writer) -> usize) -> usize {
    let mut tmp = Vec::new();
    let n = {
        let mut w = Writer::new(&mut tmp, out.proto);
        f(&mut w)
    };
    out.array(n);
    out.buf.extend_from_slice(&tmp);
    n
}

/// Entries from `start` to `end` (both inclusive), at most `count` (0: all), as an array.
fn reply_range(
    out: &mut Writer,
    s: &Stream,
    start: StreamId,
    end: StreamId,
    count: usize,
    rev: bool,
) -> usize {
    deferred(out, |w| raw_range(w, s, start, end, count, rev))
}

/// The entries alone (STREAM_RWR_RAWENTRIES); how many.
fn raw_range(
    out: &mut Writer,
    s: &Stream,
    start: StreamId,
    end: StreamId,
    count: usize,
    rev: bool,
) -> usize {
    let mut n = 0;
    let (lo, hi) = if rev { (end, start) } else { (start, end) };
    s.visit(lo, hi, rev, false, |e| {
        reply_entry(out, &e);
        n += 1;
        count == 0 || n < count
    });
    n
}

fn limits(shard: &Shard) -> crate::stream::NodeLimits {
    shard.limits.stream_node
}

fn nogroup_for_key(key: &[u8], group: &[u8]) -> Error {
    Error::msg(format!(
        "NOGROUP No such consumer group '{}' for key name '{}'",
        String::from_utf8_lossy(group),
        String::from_utf8_lossy(key)
    ))
}

fn nogroup_key(key: &[u8], group: &[u8]) -> Error {
    Error::msg(format!(
        "NOGROUP No such key '{}' or consumer group '{}'",
        String::from_utf8_lossy(key),
        String::from_utf8_lossy(group)
    ))
}

/// streamAddTrimArgs.
#[derive(Default)]
struct AddTrim {
    trim: Option<Trim>,
    approx: bool,
    limit: u64,
    /// The index of the MAXLEN/MINID value.
    trim_arg: usize,
    no_mkstream: bool,
    id: Option<(StreamId, bool)>,
}

/// streamParseAddOrTrimArgsOrReply: the options, and (XADD) the index of the ID.
fn parse_add_trim(
    args: Args,
    xadd: bool,
    loading: bool,
    node_entries: usize,
) -> Result<(AddTrim, usize)> {
    let mut a = AddTrim::default();
    let mut limit_given = false;
    let mut i = 2;
    let argc = args.len();
    while i < argc {
        let more = argc - 1 - i;
        let opt = args.get(i);
        if xadd && opt == b"*" {
            break;
        } else if (opt.eq_ignore_ascii_case(b"maxlen") || opt.eq_ignore_ascii_case(b"minid"))
            && more > 0
        {
            if a.trim.is_some() {
                return Err(Error::msg(
                    "ERR syntax error, MAXLEN and MINID options at the same time are not compatible",
                ));
            }
            a.approx = false;
            let next = args.get(i + 1);
            if more >= 2 && next == b"~" {
                a.approx = true;
                i += 1;
            } else if more >= 2 && next == b"=" {
                i += 1;
            }
            if opt.eq_ignore_ascii_case(b"maxlen") {
                let n = args.int(i + 1)?;
                if n < 0 {
                    return Err(Error::msg("ERR The MAXLEN argument must be >= 0."));
                }
                a.trim = Some(Trim::MaxLen(n as u64));
            } else {
                a.trim = Some(Trim::MinId(parse_strict(args.get(i + 1), 0)?));
            }
            i += 1;
            a.trim_arg = i;
        } else if opt.eq_ignore_ascii_case(b"limit") && more > 0 {
            let n = args.int(i + 1)?;
            if n < 0 {
                return Err(Error::msg("ERR The LIMIT argument must be >= 0."));
            }
            a.limit = n as u64;
            limit_given = true;
            i += 1;
        } else if xadd && opt.eq_ignore_ascii_case(b"nomkstream") {
            a.no_mkstream = true;
        } else if xadd {
            let (id, seq_given) = parse_id_generic(opt, 0, true, true)?;
            a.id = Some((id, seq_given));
            break;
        } else {
            return Err(Error::Syntax);
        }
        i += 1;
    }
    if a.limit != 0 && a.trim.is_none() {
        return Err(Error::msg(
            "ERR syntax error, LIMIT cannot be used without specifying a trimming strategy",
        ));
    }
    if !xadd && a.trim.is_none() {
        return Err(Error::msg(
            "ERR syntax error, XTRIM must be called with a trimming strategy",
        ));
    }
    if loading {
        a.limit = 0;
    } else if limit_given {
        if !a.approx {
            return Err(Error::msg(
                "ERR syntax error, LIMIT cannot be used without the special ~ option",
            ));
        }
    } else if a.approx {
        let l = 100 * node_entries as u64;
        a.limit = if l == 0 { 10_000 } else { l.min(1_000_000) };
    } else {
        a.limit = 0;
    }
    Ok((a, i))
}

/// The arguments as they go to the journal after a `~` trim: `=` and the resulting length
/// or first ID (streamRewriteApproxSpecifier, streamRewriteTrimArgument).
fn rewrite_trim(argv: &mut [Vec<u8>], a: &AddTrim, s: &Stream) {
    if !a.approx {
        return;
    }
    argv[a.trim_arg - 1] = b"=".to_vec();
    argv[a.trim_arg] = match a.trim {
        Some(Trim::MaxLen(_)) => int_vec(s.length as i64),
        _ => id_vec(s.edge_id(true, true)),
    };
}

pub fn xadd(ctx: &mut Ctx, args: Args) -> Result<()> {
    let node_entries = limits(ctx.shard).max_entries;
    let (a, idpos) = parse_add_trim(args, true, ctx.shard.loading, node_entries)?;
    let field_pos = idpos + 1;
    let argc = args.len();
    if argc < field_pos + 2 || !(argc - field_pos).is_multiple_of(2) {
        return Err(Error::Arity(ctx.name.into()));
    }
    if let Some((id, true)) = a.id {
        if id.is_zero() {
            return Err(Error::msg(
                "ERR The ID specified in XADD must be greater than 0-0",
            ));
        }
    }
    let key = args.get(1);
    let db = ctx.db;
    let now = ctx.shard.now_ms();
    let lim = limits(ctx.shard);
    let journal = ctx.shard.journal.enabled();
    let s = if a.no_mkstream {
        match write::<Stream>(ctx.shard, db, key)? {
            Some(s) => s,
            None => {
                ctx.out.null();
                return Ok(());
            }
        }
    } else {
        crate::cmd::write_or_create::<Stream>(ctx.shard, db, key, || Value::Stream(Box::default()))?
    };
    if s.last_id == StreamId::MAX {
        return Err(Error::msg(
            "ERR The stream has exhausted the last possible ID, unable to add more items",
        ));
    }
    let pairs: Vec<(&[u8], &[u8])> = (field_pos..argc)
        .step_by(2)
        .map(|i| (args.get(i), args.get(i + 1)))
        .collect();
    let id =
        match s.append(&pairs, a.id, now, lim) {
            Ok(id) => id,
            Err(AddError::TooSmall) => return Err(Error::msg(
                "ERR The ID specified in XADD is equal or smaller than the target stream top item",
            )),
            Err(AddError::TooLarge) => {
                return Err(Error::msg("ERR Elements are too large to be stored"))
            }
        };
    id_bulk(&mut ctx.out, id);
    let mut trimmed = 0;
    if let Some(how) = a.trim {
        trimmed = s.trim(how, a.approx, a.limit);
    }
    let record = journal.then(|| {
        let mut argv: Vec<Vec<u8>> = args.iter().map(<[u8]>::to_vec).collect();
        rewrite_trim(&mut argv, &a, s);
        if !matches!(a.id, Some((_, true))) {
            argv[idpos] = id_vec(id);
        }
        argv
    });
    if let Some(argv) = record {
        ctx.shard.propagate_instead(|| vec![argv]);
    }
    ctx.shard.modified(db, key);
    ctx.notify(STREAM, "xadd", key);
    if a.trim.is_some() && trimmed > 0 {
        ctx.notify(STREAM, "xtrim", key);
    }
    ctx.shard.wake(db, key);
    Ok(())
}

pub fn xtrim(ctx: &mut Ctx, args: Args) -> Result<()> {
    let node_entries = limits(ctx.shard).max_entries;
    let (a, _) = parse_add_trim(args, false, ctx.shard.loading, node_entries)?;
    let key = args.get(1);
    let db = ctx.db;
    let journal = ctx.shard.journal.enabled();
    let Some(s) = write::<Stream>(ctx.shard, db, key)? else {
        ctx.out.integer(0);
        return Ok(());
    };
    let deleted = match a.trim {
        Some(how) => s.trim(how, a.approx, a.limit),
        None => 0,
    };
    if deleted > 0 {
        let record = journal.then(|| {
            let mut argv: Vec<Vec<u8>> = args.iter().map(<[u8]>::to_vec).collect();
            rewrite_trim(&mut argv, &a, s);
            argv
        });
        if let Some(argv) = record {
            ctx.shard.propagate_instead(|| vec![argv]);
        }
        ctx.notify(STREAM, "xtrim", key);
        ctx.shard.modified(db, key);
        ctx.shard.stats.dirty += deleted - 1;
    }
    ctx.out.integer(deleted as i64);
    Ok(())
}

fn xrange_generic(ctx: &mut Ctx, args: Args, rev: bool) -> Result<()> {
    let (start_arg, end_arg) = if rev { (3, 2) } else { (2, 3) };
    let start = parse_bound(args.get(start_arg), false)?;
    let end = parse_bound(args.get(end_arg), true)?;
    let mut count: i64 = -1;
    let mut j = 4;
    while j < args.len() {
        if args.is(j, "count") && j + 1 < args.len() {
            count = args.int(j + 1)?.max(0);
            j += 2;
        } else {
            return Err(Error::Syntax);
        }
    }
    let Some(s) = read::<Stream>(ctx.shard, ctx.db, args.get(1))? else {
        ctx.out.array(0);
        return Ok(());
    };
    if count == 0 {
        ctx.out.null_array();
        return Ok(());
    }
    let count = if count < 0 { 0 } else { count as usize };
    if rev {
        reply_range(&mut ctx.out, s, end, start, count, true);
    } else {
        reply_range(&mut ctx.out, s, start, end, count, false);
    }
    Ok(())
}

pub fn xrange(ctx: &mut Ctx, args: Args) -> Result<()> {
    xrange_generic(ctx, args, false)
}

pub fn xrevrange(ctx: &mut Ctx, args: Args) -> Result<()> {
    xrange_generic(ctx, args, true)
}

pub fn xlen(ctx: &mut Ctx, args: Args) -> Result<()> {
    let n = read::<Stream>(ctx.shard, ctx.db, args.get(1))?.map_or(0, |s| s.length);
    ctx.out.integer(n as i64);
    Ok(())
}

pub fn xdel(ctx: &mut Ctx, args: Args) -> Result<()> {
    let key = args.get(1);
    let db = ctx.db;
    let Some(s) = write::<Stream>(ctx.shard, db, key)? else {
        ctx.out.integer(0);
        return Ok(());
    };
    let ids = (2..args.len())
        .map(|j| parse_strict(args.get(j), 0))
        .collect::<Result<Vec<_>>>()?;
    let mut deleted = 0u64;
    let mut first_entry = false;
    for id in ids {
        if s.delete(id) {
            if id == s.first_id {
                first_entry = true;
            }
            if id > s.max_deleted {
                s.max_deleted = id;
            }
            deleted += 1;
        }
    }
    if deleted > 0 {
        if s.length == 0 {
            s.first_id = StreamId::MIN;
        } else if first_entry {
            s.first_id = s.edge_id(true, false);
        }
        ctx.shard.modified(db, key);
        ctx.shard.stats.dirty += deleted - 1;
        ctx.notify(STREAM, "xdel", key);
    }
    ctx.out.integer(deleted as i64);
    Ok(())
}

pub fn xsetid(ctx: &mut Ctx, args: Args) -> Result<()> {
    let id = parse_strict(args.get(2), 0)?;
    let mut entries_added: i64 = -1;
    let mut max_xdel = StreamId::MIN;
    let mut i = 3;
    while i < args.len() {
        let more = args.len() - 1 - i;
        if args.is(i, "entriesadded") && more > 0 {
            entries_added = args.int(i + 1)?;
            if entries_added < 0 {
                return Err(Error::msg("ERR entries_added must be positive"));
            }
            i += 2;
        } else if args.is(i, "maxdeletedid") && more > 0 {
            max_xdel = parse_strict(args.get(i + 1), 0)?;
            if id < max_xdel {
                return Err(Error::msg(
                    "ERR The ID specified in XSETID is smaller than the provided max_deleted_entry_id",
                ));
            }
            i += 2;
        } else {
            return Err(Error::Syntax);
        }
    }
    let key = args.get(1);
    let db = ctx.db;
    let s = write::<Stream>(ctx.shard, db, key)?.ok_or(Error::NoSuchKey)?;
    if s.length > 0 {
        if id < s.last_valid_id() {
            return Err(Error::msg(
                "ERR The ID specified in XSETID is smaller than the target stream top item",
            ));
        }
        if entries_added != -1 && s.length > entries_added as u64 {
            return Err(Error::msg(
                "ERR The entries_added specified in XSETID is smaller than the target stream length",
            ));
        }
    }
    s.last_id = id;
    if entries_added != -1 {
        s.entries_added = entries_added as u64;
    }
    if !max_xdel.is_zero() {
        s.max_deleted = max_xdel;
    }
    ctx.out.ok();
    ctx.shard.stats.dirty += 1;
    ctx.notify(STREAM, "xsetid", key);
    Ok(())
}

const XGROUP_HELP: &[&str] = &[
    "XGROUP <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "CREATE <key> <groupname> <id|$> [option]",
    "    Create a new consumer group. Options are:",
    "    * MKSTREAM",
    "      Create the empty stream if it does not exist.",
    "    * ENTRIESREAD entries_read",
    "      Set the group's entries_read counter (internal use).",
    "CREATECONSUMER <key> <groupname> <consumer>",
    "    Create a new consumer in the specified group.",
    "DELCONSUMER <key> <groupname> <consumer>",
    "    Remove the specified consumer.",
    "DESTROY <key> <groupname>",
    "    Remove the specified group.",
    "SETID <key> <groupname> <id|$> [ENTRIESREAD entries_read]",
    "    Set the current group ID and entries_read counter.",
    "HELP",
    "    Prints this help.",
];

fn subcommand_syntax(ctx: &Ctx, args: Args) -> Error {
    syntax_error(ctx.name, args)
}

/// addReplySubcommandSyntaxError.
fn syntax_error(name: &str, args: Args) -> Error {
    Error::msg(format!(
        "ERR unknown subcommand or wrong number of arguments for '{}'. Try {} HELP.",
        String::from_utf8_lossy(args.get(1)),
        name.to_uppercase()
    ))
}

pub fn xgroup(ctx: &mut Ctx, args: Args) -> Result<()> {
    if let Some(e) =
        crate::table::lookup(b"xgroup").and_then(|spec| crate::table::subcommand_error(spec, args))
    {
        return Err(Error::msg(e));
    }
    let argc = args.len();
    let sub = args.get(1).to_ascii_lowercase();
    let db = ctx.db;
    let mut mkstream = false;
    let mut entries_read = INVALID_ENTRIES_READ;
    let now = ctx.shard.now_ms() as i64;
    if argc >= 4 {
        let create = sub == b"create";
        let setid = sub == b"setid";
        let mut i = 5;
        while i < argc {
            if create && args.is(i, "mkstream") {
                mkstream = true;
                i += 1;
            } else if (create || setid) && args.is(i, "entriesread") && i + 1 < argc {
                entries_read = args.int(i + 1)?;
                if entries_read < 0 && entries_read != INVALID_ENTRIES_READ {
                    return Err(Error::msg(
                        "ERR value for ENTRIESREAD must be positive or -1",
                    ));
                }
                i += 2;
            } else {
                return Err(subcommand_syntax(ctx, args));
            }
        }
    }
    if argc == 2 && sub == b"help" {
        crate::cmd::keys::help_reply(&mut ctx.out, XGROUP_HELP);
        return Ok(());
    }
    if argc < 4 {
        return Err(subcommand_syntax(ctx, args));
    }
    let key = args.get(2);
    let gname = args.get(3);
    // The key (with the stream's last ID, for `$`) and whether the group is there.
    let found =
        write::<Stream>(ctx.shard, db, key)?.map(|s| (s.last_id, s.groups.contains_key(gname)));
    if !mkstream {
        let Some((_, has_group)) = found else {
            return Err(Error::msg(
                "ERR The XGROUP subcommand requires the key to exist. Note that for CREATE you may want to use the MKSTREAM option to create an empty stream automatically.",
            ));
        };
        if !has_group && matches!(&sub[..], b"setid" | b"createconsumer" | b"delconsumer") {
            return Err(nogroup_for_key(key, gname));
        }
    }
    match &sub[..] {
        b"create" if (5..=8).contains(&argc) => {
            let arg = args.get(4);
            let id = if arg == b"$" {
                found.map_or(StreamId::MIN, |(last, _)| last)
            } else {
                parse_strict(arg, 0)?
            };
            let s = crate::cmd::write_or_create::<Stream>(ctx.shard, db, key, || {
                Value::Stream(Box::default())
            })?;
            if s.groups.contains_key(gname) {
                return Err(Error::msg("BUSYGROUP Consumer Group name already exists"));
            }
            s.groups.insert(gname.into(), Group::new(id, entries_read));
            ctx.out.ok();
            ctx.shard.stats.dirty += 1;
            ctx.notify(STREAM, "xgroup-create", key);
        }
        b"setid" if argc == 5 || argc == 7 => {
            let arg = args.get(4);
            let s = write::<Stream>(ctx.shard, db, key)?.ok_or(Error::NoSuchKey)?;
            let id = if arg == b"$" {
                s.last_id
            } else {
                parse_id(arg, 0)?
            };
            let g = s.groups.get_mut(gname).ok_or(Error::NoSuchKey)?;
            g.last_id = id;
            g.entries_read = entries_read;
            ctx.out.ok();
            ctx.shard.stats.dirty += 1;
            ctx.notify(STREAM, "xgroup-setid", key);
        }
        b"destroy" if argc == 4 => {
            let s = write::<Stream>(ctx.shard, db, key)?.ok_or(Error::NoSuchKey)?;
            if s.groups.remove(gname).is_some() {
                ctx.out.integer(1);
                ctx.shard.stats.dirty += 1;
                ctx.notify(STREAM, "xgroup-destroy", key);
                // Clients blocked in XREADGROUP on it get -NOGROUP.
                ctx.shard.wake(db, key);
            } else {
                ctx.out.integer(0);
            }
        }
        b"createconsumer" if argc == 5 => {
            let s = write::<Stream>(ctx.shard, db, key)?.ok_or(Error::NoSuchKey)?;
            let g = s.groups.get_mut(gname).ok_or(Error::NoSuchKey)?;
            let created = g.create_consumer(args.get(4), now);
            ctx.out.integer(created as i64);
            if created {
                ctx.shard.stats.dirty += 1;
                ctx.notify(STREAM, "xgroup-createconsumer", key);
            }
        }
        b"delconsumer" if argc == 5 => {
            let s = write::<Stream>(ctx.shard, db, key)?.ok_or(Error::NoSuchKey)?;
            let g = s.groups.get_mut(gname).ok_or(Error::NoSuchKey)?;
            match g.delete_consumer(args.get(4)) {
                Some(pending) => {
                    ctx.out.integer(pending as i64);
                    ctx.shard.stats.dirty += 1;
                    ctx.notify(STREAM, "xgroup-delconsumer", key);
                }
                None => ctx.out.integer(0),
            }
        }
        _ => return Err(subcommand_syntax(ctx, args)),
    }
    Ok(())
}

pub fn xack(ctx: &mut Ctx, args: Args) -> Result<()> {
    let key = args.get(1);
    let db = ctx.db;
    let Some(g) = read::<Stream>(ctx.shard, db, key)?.and_then(|s| s.groups.get_mut(args.get(2)))
    else {
        ctx.out.integer(0);
        return Ok(());
    };
    let ids = (3..args.len())
        .map(|j| parse_strict(args.get(j), 0))
        .collect::<Result<Vec<_>>>()?;
    let mut acked = 0u64;
    for id in ids {
        if let Some(nack) = g.pel.remove(&id) {
            if let Some(c) = g.consumers.get_mut(&nack.consumer) {
                c.pel.remove(&id);
            }
            acked += 1;
        }
    }
    if acked > 0 {
        ctx.shard.stats.dirty += acked;
    }
    ctx.out.integer(acked as i64);
    Ok(())
}

pub fn xpending(ctx: &mut Ctx, args: Args) -> Result<()> {
    let argc = args.len();
    let justinfo = argc == 3;
    if argc != 3 && !(6..=9).contains(&argc) {
        return Err(Error::Syntax);
    }
    let (mut start, mut end, mut count, mut minidle) = (StreamId::MIN, StreamId::MAX, 0i64, 0i64);
    let mut consumer_name = None;
    if argc >= 6 {
        let mut at = 3;
        if args.is(3, "idle") {
            minidle = args.int(4)?;
            if argc < 8 {
                return Err(Error::Syntax);
            }
            at += 2;
        }
        count = args.int(at + 2)?.max(0);
        start = parse_bound(args.get(at), false)?;
        end = parse_bound(args.get(at + 1), true)?;
        if at + 3 < argc {
            consumer_name = Some(args.get(at + 3));
        }
    }
    let key = args.get(1);
    let gname = args.get(2);
    let now = ctx.shard.now_ms() as i64;
    let g = read::<Stream>(ctx.shard, ctx.db, key)?
        .and_then(|s| s.groups.get(gname))
        .ok_or_else(|| nogroup_key(key, gname))?;
    let out = &mut ctx.out;
    if justinfo {
        out.array(4);
        out.integer(g.pel.len() as i64);
        match (g.pel.keys().next(), g.pel.keys().next_back()) {
            (Some(&first), Some(&last)) => {
                id_bulk(out, first);
                id_bulk(out, last);
                deferred(out, |w| {
                    let mut n = 0;
                    for (name, c) in &g.consumers {
                        if c.pel.is_empty() {
                            continue;
                        }
                        w.array(2);
                        w.bulk(name);
                        w.bulk_int(c.pel.len() as i64);
                        n += 1;
                    }
                    n
                });
            }
            _ => {
                out.null();
                out.null();
                out.null_array();
            }
        }
        return Ok(());
    }
    let ids: Vec<StreamId> = match consumer_name {
        Some(name) => match g.consumers.get(name) {
            Some(c) => c
                .pel
                .range(start..)
                .take_while(|id| **id <= end)
                .copied()
                .collect(),
            None => {
                out.array(0);
                return Ok(());
            }
        },
        None => g
            .pel
            .range(start..)
            .take_while(|(id, _)| **id <= end)
            .map(|(id, _)| *id)
            .collect(),
    };
    deferred(out, |w| {
        let mut n = 0;
        let mut left = count;
        for id in ids {
            if left == 0 {
                break;
            }
            let Some(nack) = g.pel.get(&id) else { continue };
            if minidle != 0 && now - nack.delivery_time < minidle {
                continue;
            }
            n += 1;
            left -= 1;
            w.array(4);
            id_bulk(w, id);
            w.bulk(&nack.consumer);
            w.integer((now - nack.delivery_time).max(0));
            w.integer(nack.delivery_count as i64);
        }
        n
    });
    Ok(())
}

/// XCLAIM key group consumer 0 id TIME t RETRYCOUNT n FORCE JUSTID LASTID last
/// (streamPropagateXCLAIM).
fn xclaim_record(key: &[u8], gname: &[u8], id: &[u8], nack: &Nack, last: StreamId) -> Vec<Vec<u8>> {
    vec![
        b"XCLAIM".to_vec(),
        key.to_vec(),
        gname.to_vec(),
        nack.consumer.to_vec(),
        b"0".to_vec(),
        id.to_vec(),
        b"TIME".to_vec(),
        int_vec(nack.delivery_time),
        b"RETRYCOUNT".to_vec(),
        int_vec(nack.delivery_count as i64),
        b"FORCE".to_vec(),
        b"JUSTID".to_vec(),
        b"LASTID".to_vec(),
        id_vec(last),
    ]
}

/// XGROUP SETID key group last ENTRIESREAD n (streamPropagateGroupID).
fn setid_record(key: &[u8], gname: &[u8], g: &Group) -> Vec<Vec<u8>> {
    vec![
        b"XGROUP".to_vec(),
        b"SETID".to_vec(),
        key.to_vec(),
        gname.to_vec(),
        id_vec(g.last_id),
        b"ENTRIESREAD".to_vec(),
        int_vec(g.entries_read),
    ]
}

fn createconsumer_record(key: &[u8], gname: &[u8], consumer: &[u8]) -> Vec<Vec<u8>> {
    vec![
        b"XGROUP".to_vec(),
        b"CREATECONSUMER".to_vec(),
        key.to_vec(),
        gname.to_vec(),
        consumer.to_vec(),
    ]
}

/// Gives pending entry `id` to `consumer` (creating the consumer first if needed; whether
/// it did is returned); a new pending entry is delivered now, once.
fn assign(g: &mut Group, id: StreamId, consumer: &[u8], now: i64) -> bool {
    let created = g.create_consumer(consumer, now);
    let name = g.consumer_name(consumer).expect("consumer exists");
    let nack = g.pel.entry(id).or_insert_with(|| Nack {
        delivery_time: now,
        delivery_count: 1,
        consumer: name.clone(),
    });
    if nack.consumer != name {
        let old = std::mem::replace(&mut nack.consumer, name.clone());
        if let Some(c) = g.consumers.get_mut(&old) {
            c.pel.remove(&id);
        }
    }
    if let Some(c) = g.consumers.get_mut(&name) {
        c.seen_time = now;
        c.pel.insert(id);
    }
    created
}

/// Drops a pending entry from the group and its consumer.
fn drop_pending(g: &mut Group, id: StreamId) -> Option<Nack> {
    let nack = g.pel.remove(&id)?;
    if let Some(c) = g.consumers.get_mut(&nack.consumer) {
        c.pel.remove(&id);
    }
    Some(nack)
}

pub fn xclaim(ctx: &mut Ctx, args: Args) -> Result<()> {
    let key = args.get(1);
    let gname = args.get(2);
    let cname = args.get(3);
    let db = ctx.db;
    let now = ctx.shard.now_ms() as i64;
    let journal = ctx.shard.journal.enabled();
    let Some(s) = read::<Stream>(ctx.shard, db, key)? else {
        return Err(nogroup_key(key, gname));
    };
    if !s.groups.contains_key(gname) {
        return Err(nogroup_key(key, gname));
    }
    let minidle = parse_i64(args.get(4))
        .ok_or_else(|| Error::msg("ERR Invalid min-idle-time argument for XCLAIM"))?
        .max(0);
    let mut ids = Vec::new();
    let mut j = 5;
    while j < args.len() {
        match parse_strict(args.get(j), 0) {
            Ok(id) => ids.push((id, j)),
            Err(_) => break,
        }
        j += 1;
    }
    let (mut force, mut justid) = (false, false);
    let mut retrycount: i64 = -1;
    let mut deliverytime: i64 = -1;
    let mut last_id = StreamId::MIN;
    while j < args.len() {
        let more = args.len() - 1 - j;
        let opt = args.get(j);
        let int = |i: usize, what: &str| {
            parse_i64(args.get(i))
                .ok_or_else(|| Error::msg(format!("ERR Invalid {what} option argument for XCLAIM")))
        };
        if opt.eq_ignore_ascii_case(b"force") {
            force = true;
        } else if opt.eq_ignore_ascii_case(b"justid") {
            justid = true;
        } else if opt.eq_ignore_ascii_case(b"idle") && more > 0 {
            j += 1;
            deliverytime = now.wrapping_sub(int(j, "IDLE")?);
        } else if opt.eq_ignore_ascii_case(b"time") && more > 0 {
            j += 1;
            deliverytime = int(j, "TIME")?;
        } else if opt.eq_ignore_ascii_case(b"retrycount") && more > 0 {
            j += 1;
            retrycount = int(j, "RETRYCOUNT")?;
        } else if opt.eq_ignore_ascii_case(b"lastid") && more > 0 {
            j += 1;
            last_id = parse_strict(args.get(j), 0)?;
        } else {
            return Err(Error::msg(format!(
                "ERR Unrecognized XCLAIM option '{}'",
                String::from_utf8_lossy(opt)
            )));
        }
        j += 1;
    }
    if deliverytime < 0 || deliverytime > now {
        deliverytime = now;
    }
    let exists: Vec<bool> = ids.iter().map(|(id, _)| s.get(*id).is_some()).collect();
    let mut records = Vec::new();
    let mut dirty = 0u64;
    let mut created_consumer = false;
    let mut claimed: Vec<StreamId> = Vec::new();
    {
        let g = s
            .groups
            .get_mut(gname)
            .ok_or_else(|| nogroup_key(key, gname))?;
        let mut propagate_last_id = false;
        if last_id > g.last_id {
            g.last_id = last_id;
            propagate_last_id = true;
        }
        for (k, (id, argi)) in ids.iter().enumerate() {
            let id = *id;
            if !exists[k] {
                if let Some(nack) = drop_pending(g, id) {
                    if journal {
                        records.push(xclaim_record(key, gname, args.get(*argi), &nack, g.last_id));
                    }
                    propagate_last_id = false;
                    dirty += 1;
                }
                continue;
            }
            match g.pel.get(&id) {
                None if !force => continue,
                Some(n) if minidle != 0 && now - n.delivery_time < minidle => continue,
                _ => {}
            }
            let created = assign(g, id, cname, now);
            created_consumer |= created;
            if let Some(nack) = g.pel.get_mut(&id) {
                nack.delivery_time = deliverytime;
                if retrycount >= 0 {
                    nack.delivery_count = retrycount as u64;
                } else if !justid {
                    nack.delivery_count += 1;
                }
            }
            if journal {
                if let Some(nack) = g.pel.get(&id) {
                    records.push(xclaim_record(key, gname, args.get(*argi), nack, g.last_id));
                }
            }
            claimed.push(id);
            propagate_last_id = false;
            dirty += 1;
        }
        if propagate_last_id {
            if journal {
                records.push(setid_record(key, gname, g));
            }
            dirty += 1;
        }
    }
    let s: &Stream = s;
    let out = &mut ctx.out;
    out.array(claimed.len());
    for id in &claimed {
        if justid {
            id_bulk(out, *id);
        } else if let Some(e) = s.get(*id) {
            reply_entry(out, &e);
        }
    }
    if created_consumer {
        ctx.notify(STREAM, "xgroup-createconsumer", key);
    }
    if dirty > 0 {
        ctx.shard.stats.dirty += dirty;
    }
    ctx.shard.propagate_instead(|| records);
    Ok(())
}

pub fn xautoclaim(ctx: &mut Ctx, args: Args) -> Result<()> {
    let key = args.get(1);
    let gname = args.get(2);
    let cname = args.get(3);
    let db = ctx.db;
    let now = ctx.shard.now_ms() as i64;
    let journal = ctx.shard.journal.enabled();
    // Redis looks the key up before parsing (a miss is counted and notified even when the
    // arguments then fail), and checks its type after.
    let found = ctx
        .shard
        .lookup_read(db, key)
        .map(|e| matches!(e.value, Value::Stream(_)));
    let minidle = parse_i64(args.get(4))
        .ok_or_else(|| Error::msg("ERR Invalid min-idle-time argument for XAUTOCLAIM"))?
        .max(0);
    let start = parse_bound(args.get(5), false)?;
    let mut count: i64 = 100;
    let mut justid = false;
    let mut j = 6;
    while j < args.len() {
        let more = args.len() - 1 - j;
        if args.is(j, "count") && more > 0 {
            let max = i64::MAX / 16;
            count = match parse_i64(args.get(j + 1)) {
                Some(n) if (1..=max).contains(&n) => n,
                _ => return Err(Error::msg("ERR COUNT must be > 0")),
            };
            j += 1;
        } else if args.is(j, "justid") {
            justid = true;
        } else {
            return Err(Error::Syntax);
        }
        j += 1;
    }
    if found == Some(false) {
        return Err(Error::WrongType);
    }
    let Some(s) = write::<Stream>(ctx.shard, db, key)? else {
        return Err(nogroup_key(key, gname));
    };
    if !s.groups.contains_key(gname) {
        return Err(nogroup_key(key, gname));
    }
    // The PEL entries this call looks at, and which of them still exist in the stream.
    let mut attempts = count.saturating_mul(10);
    let mut left = count;
    let candidates: Vec<(StreamId, bool)> = {
        let g = &s.groups[gname];
        let mut v = Vec::new();
        for (id, nack) in g.pel.range(start..) {
            if attempts == 0 || left == 0 {
                break;
            }
            attempts -= 1;
            let exists = s.get(*id).is_some();
            if exists && minidle != 0 && now - nack.delivery_time < minidle {
                v.push((*id, true));
                continue;
            }
            v.push((*id, exists));
            left -= 1;
        }
        v
    };
    let next = {
        let g = &s.groups[gname];
        let last = candidates.last().map(|(id, _)| *id);
        match last {
            Some(l) => g
                .pel
                .range((std::ops::Bound::Excluded(l), std::ops::Bound::Unbounded))
                .next(),
            None => g.pel.range(start..).next(),
        }
        .map_or(StreamId::MIN, |(id, _)| *id)
    };
    let mut records = Vec::new();
    let mut claimed = Vec::new();
    let mut deleted = Vec::new();
    let mut created_consumer = false;
    {
        let g = s
            .groups
            .get_mut(gname)
            .ok_or_else(|| nogroup_key(key, gname))?;
        for (id, exists) in candidates {
            if !exists {
                if let Some(nack) = drop_pending(g, id) {
                    if journal {
                        records.push(xclaim_record(key, gname, &id_vec(id), &nack, g.last_id));
                    }
                }
                deleted.push(id);
                continue;
            }
            let Some(n) = g.pel.get(&id) else { continue };
            if minidle != 0 && now - n.delivery_time < minidle {
                continue;
            }
            let created = assign(g, id, cname, now);
            created_consumer |= created;
            if let Some(nack) = g.pel.get_mut(&id) {
                nack.delivery_time = now;
                if !justid {
                    nack.delivery_count += 1;
                }
                if journal {
                    let n = nack.clone();
                    records.push(xclaim_record(key, gname, &id_vec(id), &n, g.last_id));
                }
            }
            claimed.push(id);
        }
    }
    let s: &Stream = s;
    let out = &mut ctx.out;
    out.array(3);
    id_bulk(out, next);
    out.array(claimed.len());
    for id in &claimed {
        if justid {
            id_bulk(out, *id);
        } else if let Some(e) = s.get(*id) {
            reply_entry(out, &e);
        }
    }
    out.array(deleted.len());
    for id in &deleted {
        id_bulk(out, *id);
    }
    if created_consumer {
        ctx.notify(STREAM, "xgroup-createconsumer", key);
    }
    let dirty = (claimed.len() + deleted.len()) as u64;
    if dirty > 0 {
        ctx.shard.stats.dirty += dirty;
    }
    ctx.shard.propagate_instead(|| records);
    Ok(())
}

const XINFO_HELP: &[&str] = &[
    "XINFO <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "CONSUMERS <key> <groupname>",
    "    Show consumers of <groupname>.",
    "GROUPS <key>",
    "    Show the stream consumer groups.",
    "STREAM <key> [FULL [COUNT <count>]",
    "    Show information about the stream.",
    "HELP",
    "    Prints this help.",
];

/// A group's lag, or null when it cannot be known (streamReplyWithCGLag).
fn reply_lag(out: &mut Writer, s: &Stream, g: &Group) {
    match s.lag(g) {
        Some(l) => out.integer(l),
        None => out.null(),
    }
}

fn reply_entries_read(out: &mut Writer, g: &Group) {
    if g.entries_read != INVALID_ENTRIES_READ {
        out.integer(g.entries_read);
    } else {
        out.null();
    }
}

pub fn xinfo(ctx: &mut Ctx, args: Args) -> Result<()> {
    if let Some(e) =
        crate::table::lookup(b"xinfo").and_then(|spec| crate::table::subcommand_error(spec, args))
    {
        return Err(Error::msg(e));
    }
    let argc = args.len();
    if args.is(1, "help") {
        if argc != 2 {
            return Err(subcommand_syntax(ctx, args));
        }
        crate::cmd::keys::help_reply(&mut ctx.out, XINFO_HELP);
        return Ok(());
    }
    if argc < 3 {
        return Err(subcommand_syntax(ctx, args));
    }
    let key = args.get(2);
    let now = ctx.shard.now_ms() as i64;
    let name = ctx.name;
    let s = read::<Stream>(ctx.shard, ctx.db, key)?.ok_or(Error::NoSuchKey)?;
    let out = &mut ctx.out;
    if args.is(1, "consumers") && argc == 4 {
        let gname = args.get(3);
        let g = s
            .groups
            .get(gname)
            .ok_or_else(|| nogroup_for_key(key, gname))?;
        out.array(g.consumers.len());
        for (name, c) in &g.consumers {
            out.map(3);
            out.bulk(b"name");
            out.bulk(name);
            out.bulk(b"pending");
            out.integer(c.pel.len() as i64);
            out.bulk(b"idle");
            out.integer((now - c.seen_time).max(0));
        }
    } else if args.is(1, "groups") && argc == 3 {
        out.array(s.groups.len());
        for (name, g) in &s.groups {
            out.map(6);
            out.bulk(b"name");
            out.bulk(name);
            out.bulk(b"consumers");
            out.integer(g.consumers.len() as i64);
            out.bulk(b"pending");
            out.integer(g.pel.len() as i64);
            out.bulk(b"last-delivered-id");
            id_bulk(out, g.last_id);
            out.bulk(b"entries-read");
            reply_entries_read(out, g);
            out.bulk(b"lag");
            reply_lag(out, s, g);
        }
    } else if args.is(1, "stream") {
        xinfo_stream(out, s, args, name)?;
    } else {
        return Err(syntax_error(name, args));
    }
    Ok(())
}

/// How many of `len` entries XINFO STREAM FULL shows under COUNT (0: all).
fn full_count(len: usize, count: usize) -> usize {
    if count == 0 {
        len
    } else {
        len.min(count)
    }
}

fn xinfo_stream(out: &mut Writer, s: &Stream, args: Args, name: &str) -> Result<()> {
    let optc = args.len() - 3;
    let mut full = true;
    let mut count: i64 = 10;
    if optc == 0 {
        full = false;
    } else {
        if (optc != 1 && optc != 3) || !args.is(3, "full") {
            return Err(syntax_error(name, args));
        }
        if optc == 3 {
            if !args.is(4, "count") {
                return Err(syntax_error(name, args));
            }
            count = args.int(5)?;
            if count < 0 {
                count = 10;
            }
        }
    }
    let count = count as usize;
    out.map(if full { 9 } else { 10 });
    out.bulk(b"length");
    out.integer(s.length as i64);
    out.bulk(b"radix-tree-keys");
    out.integer(s.node_count() as i64);
    out.bulk(b"radix-tree-nodes");
    out.integer(s.rax_nodes() as i64);
    out.bulk(b"last-generated-id");
    id_bulk(out, s.last_id);
    out.bulk(b"max-deleted-entry-id");
    id_bulk(out, s.max_deleted);
    out.bulk(b"entries-added");
    out.integer(s.entries_added as i64);
    out.bulk(b"recorded-first-entry-id");
    id_bulk(out, s.first_id);
    if !full {
        out.bulk(b"groups");
        out.integer(s.groups.len() as i64);
        for (name, rev) in [(&b"first-entry"[..], false), (b"last-entry", true)] {
            out.bulk(name);
            let (lo, hi) = if rev {
                (StreamId::MAX, StreamId::MIN)
            } else {
                (StreamId::MIN, StreamId::MAX)
            };
            if raw_range(out, s, lo, hi, 1, rev) == 0 {
                out.null();
            }
        }
        return Ok(());
    }
    out.bulk(b"entries");
    reply_range(out, s, StreamId::MIN, StreamId::MAX, count, false);
    out.bulk(b"groups");
    out.array(s.groups.len());
    for (name, g) in &s.groups {
        out.map(7);
        out.bulk(b"name");
        out.bulk(name);
        out.bulk(b"last-delivered-id");
        id_bulk(out, g.last_id);
        out.bulk(b"entries-read");
        reply_entries_read(out, g);
        out.bulk(b"lag");
        reply_lag(out, s, g);
        out.bulk(b"pel-count");
        out.integer(g.pel.len() as i64);
        out.bulk(b"pending");
        let shown = full_count(g.pel.len(), count);
        out.array(shown);
        for (id, nack) in g.pel.iter().take(shown) {
            out.array(4);
            id_bulk(out, *id);
            out.bulk(&nack.consumer);
            out.integer(nack.delivery_time);
            out.integer(nack.delivery_count as i64);
        }
        out.bulk(b"consumers");
        out.array(g.consumers.len());
        for (cname, c) in &g.consumers {
            out.map(4);
            out.bulk(b"name");
            out.bulk(cname);
            out.bulk(b"seen-time");
            out.integer(c.seen_time);
            out.bulk(b"pel-count");
            out.integer(c.pel.len() as i64);
            out.bulk(b"pending");
            let shown = full_count(c.pel.len(), count);
            out.array(shown);
            for id in c.pel.iter().take(shown) {
                out.array(3);
                id_bulk(out, *id);
                let nack = g.pel.get(id);
                out.integer(nack.map_or(0, |n| n.delivery_time));
                out.integer(nack.map_or(0, |n| n.delivery_count as i64));
            }
        }
    }
    Ok(())
}

/// A parsed XREAD or XREADGROUP.
pub struct XRead<'a> {
    /// Milliseconds to block (0: for ever); None without BLOCK.
    pub block: Option<i64>,
    pub count: usize,
    pub group: Option<(&'a [u8], &'a [u8])>,
    pub noack: bool,
    /// Index of the first key.
    pub streams: usize,
    pub nkeys: usize,
}

/// The options of XREAD/XREADGROUP, in Redis' order of checks (the IDs are checked per key,
/// by the command).
pub fn parse_xread(args: Args<'_>, xreadgroup: bool) -> Result<XRead<'_>> {
    let mut r = XRead {
        block: None,
        count: 0,
        group: None,
        noack: false,
        streams: 0,
        nkeys: 0,
    };
    let argc = args.len();
    let mut i = 1;
    while i < argc {
        let more = argc - i - 1;
        if args.is(i, "block") && more > 0 {
            i += 1;
            let t = parse_i64(args.get(i))
                .ok_or_else(|| Error::msg("ERR timeout is not an integer or out of range"))?;
            if t < 0 {
                return Err(Error::msg("ERR timeout is negative"));
            }
            r.block = Some(t);
        } else if args.is(i, "count") && more > 0 {
            i += 1;
            r.count = args.int(i)?.max(0) as usize;
        } else if args.is(i, "streams") && more > 0 {
            r.streams = i + 1;
            let n = argc - r.streams;
            if !n.is_multiple_of(2) {
                return Err(Error::msg(
                    "ERR Unbalanced XREAD list of streams: for each stream key an ID or '$' must be specified.",
                ));
            }
            r.nkeys = n / 2;
            break;
        } else if args.is(i, "group") && more >= 2 {
            if !xreadgroup {
                return Err(Error::msg(
                    "ERR The GROUP option is only supported by XREADGROUP. You called XREAD instead.",
                ));
            }
            r.group = Some((args.get(i + 1), args.get(i + 2)));
            i += 2;
        } else if args.is(i, "noack") {
            if !xreadgroup {
                return Err(Error::msg(
                    "ERR The NOACK option is only supported by XREADGROUP. You called XREAD instead.",
                ));
            }
            r.noack = true;
        } else {
            return Err(Error::Syntax);
        }
        i += 1;
    }
    if r.streams == 0 {
        return Err(Error::Syntax);
    }
    if xreadgroup && r.group.is_none() {
        return Err(Error::msg("ERR Missing GROUP option for XREADGROUP"));
    }
    Ok(r)
}

/// Whether an XREAD can run as one XREAD per key (`Split::PerStream`): its options and IDs
/// are well-formed, so no error stops it between keys.
pub fn xread_splits(args: Args) -> bool {
    parse_xread(args, false).is_ok_and(|r| {
        (0..r.nkeys).all(|i| parse_read_from(args.get(r.streams + r.nkeys + i), false).is_ok())
    })
}

/// What an XREAD ID argument means.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum ReadFrom {
    /// Entries after this ID.
    After(StreamId),
    /// `$`: entries after the stream's last ID when the command runs.
    Last,
    /// `>`: entries the group has not delivered.
    New,
}

/// The Redis reading of an ID argument of XREAD/XREADGROUP; errors as Redis gives them.
pub fn parse_read_from(b: &[u8], xreadgroup: bool) -> Result<ReadFrom> {
    if b == b"$" {
        if xreadgroup {
            return Err(Error::msg("ERR The $ ID is meaningless in the context of XREADGROUP: you want to read the history of this consumer by specifying a proper ID, or use the > ID to get new messages. The $ ID would just return an empty result set."));
        }
        return Ok(ReadFrom::Last);
    }
    if b == b">" {
        if !xreadgroup {
            return Err(Error::msg("ERR The > ID can be specified only when calling XREADGROUP using the GROUP <group> <consumer> option."));
        }
        return Ok(ReadFrom::New);
    }
    // Redis marks `>` with the largest ID: given explicitly, that ID means `>` too.
    match parse_strict(b, 0)? {
        StreamId::MAX if xreadgroup => Ok(ReadFrom::New),
        id => Ok(ReadFrom::After(id)),
    }
}

/// Serves a group read from `s` (streamReplyWithRange with a group, or the consumer's
/// history): writes the entries as an array, updates the group, and returns the commands
/// Redis propagates for it (built only when `journal`).
#[allow(clippy::too_many_arguments)]
pub fn group_read(
    out: &mut Writer,
    s: &mut Stream,
    key: &[u8],
    gname: &[u8],
    cname: &[u8],
    from: ReadFrom,
    count: usize,
    noack: bool,
    now: i64,
    journal: bool,
) -> (Vec<Vec<Vec<u8>>>, bool) {
    let mut records = Vec::new();
    let Some(g) = s.groups.get_mut(gname) else {
        out.array(0);
        return (records, false);
    };
    let created = g.create_consumer(cname, now);
    if let Some(c) = g.consumers.get_mut(cname) {
        c.seen_time = now;
    }
    if created && noack && journal {
        records.push(createconsumer_record(key, gname, cname));
    }
    if let ReadFrom::After(start) = from {
        // The consumer's history: its pending entries after `start`.
        let ids: Vec<StreamId> = match start.incr() {
            Some(from) => g.consumers[cname]
                .pel
                .range(from..)
                .take(if count == 0 { usize::MAX } else { count })
                .copied()
                .collect(),
            None => Vec::new(),
        };
        let s_ro: &Stream = s;
        out.array(ids.len());
        let mut delivered = Vec::new();
        for id in &ids {
            match s_ro.get(*id) {
                Some(e) => {
                    reply_entry(out, &e);
                    delivered.push(*id);
                }
                None => {
                    out.array(2);
                    id_bulk(out, *id);
                    out.null_array();
                }
            }
        }
        if let Some(g) = s.groups.get_mut(gname) {
            for id in delivered {
                if let Some(n) = g.pel.get_mut(&id) {
                    n.delivery_time = now;
                    n.delivery_count += 1;
                }
            }
        }
        return (records, created);
    }
    let Some(start) = g.last_id.incr() else {
        out.array(0);
        return (records, created);
    };
    let mut entries: Vec<StreamId> = Vec::new();
    let s_ro: &Stream = s;
    deferred(out, |w| {
        s_ro.visit(start, StreamId::MAX, false, false, |e| {
            reply_entry(w, &e);
            entries.push(e.id);
            count == 0 || entries.len() < count
        });
        entries.len()
    });
    // The group's read counter as each entry moves it (computed on the stream as it is).
    let mut marks: Vec<(StreamId, i64)> = Vec::with_capacity(entries.len());
    {
        let g = &s_ro.groups[gname];
        let mut entries_read = g.entries_read;
        let mut last = g.last_id;
        for id in &entries {
            if *id > last {
                if entries_read != INVALID_ENTRIES_READ
                    && !s_ro.range_has_tombstones(*id, StreamId::MAX)
                {
                    entries_read += 1;
                } else if s_ro.entries_added > 0 {
                    entries_read = s_ro.estimate_distance(*id);
                }
                last = *id;
            }
            marks.push((last, entries_read));
        }
    }
    let g = s.groups.get_mut(gname).expect("group present");
    let mut propagate_last_id = false;
    for (id, (last, entries_read)) in entries.iter().zip(marks) {
        if noack && last > g.last_id {
            propagate_last_id = true;
        }
        g.last_id = last;
        g.entries_read = entries_read;
        if !noack {
            // Already pending (XGROUP SETID moved the group back): delivered anew to this one.
            assign(g, *id, cname, now);
            if let Some(nack) = g.pel.get_mut(id) {
                nack.delivery_time = now;
                nack.delivery_count = 1;
                if journal {
                    records.push(xclaim_record(key, gname, &id_vec(*id), nack, g.last_id));
                }
            }
        }
    }
    if propagate_last_id && journal {
        records.push(setid_record(key, gname, g));
    }
    (records, created)
}

pub fn xread(ctx: &mut Ctx, args: Args) -> Result<()> {
    read_generic(ctx, args, false)
}

pub fn xreadgroup(ctx: &mut Ctx, args: Args) -> Result<()> {
    read_generic(ctx, args, true)
}

/// XREAD and XREADGROUP, served at once (xreadCommand): keys with something to give answer
/// `[[key, entries]...]` (a map in RESP3); none answers a null array, after which a BLOCK
/// form waits (`cmd::blocking`).
fn read_generic(ctx: &mut Ctx, args: Args, xreadgroup: bool) -> Result<()> {
    let r = parse_xread(args, xreadgroup)?;
    let db = ctx.db;
    let key_at = |i: usize| args.get(r.streams + i);
    let mut froms = Vec::with_capacity(r.nkeys);
    for i in 0..r.nkeys {
        let key = key_at(i);
        let s = read::<Stream>(ctx.shard, db, key)?;
        if let Some((g, _)) = r.group {
            if !s.as_ref().is_some_and(|s| s.groups.contains_key(g)) {
                return Err(Error::msg(format!(
                    "NOGROUP No such key '{}' or consumer group '{}' in XREADGROUP with GROUP option",
                    String::from_utf8_lossy(key),
                    String::from_utf8_lossy(g)
                )));
            }
        }
        let from = match parse_read_from(args.get(r.streams + r.nkeys + i), xreadgroup)? {
            ReadFrom::Last => ReadFrom::After(s.map_or(StreamId::MIN, |s| s.last_id)),
            other => other,
        };
        froms.push(from);
    }
    let proto = ctx.out.proto;
    let now = ctx.shard.now_ms() as i64;
    let journal = ctx.shard.journal.enabled();
    let mut body = Vec::new();
    let mut served = 0;
    let mut records = Vec::new();
    let mut touched: Vec<(&[u8], bool)> = Vec::new();
    for (i, from) in froms.iter().enumerate() {
        let key = key_at(i);
        let Some(s) = read::<Stream>(ctx.shard, db, key)? else {
            continue;
        };
        if !ready(s, r.group.map(|(g, _)| g), *from) {
            continue;
        }
        served += 1;
        let mut w = Writer::new(&mut body, proto);
        if proto == Proto::Resp2 {
            w.array(2);
        }
        w.bulk(key);
        match (r.group, from) {
            (Some((g, c)), _) => {
                let (rec, created) =
                    group_read(&mut w, s, key, g, c, *from, r.count, r.noack, now, journal);
                records.extend(rec);
                touched.push((key, created));
            }
            (None, ReadFrom::After(id)) => {
                let start = id.incr().unwrap_or(StreamId::MAX);
                reply_range(&mut w, s, start, StreamId::MAX, r.count, false);
            }
            (None, _) => {}
        }
    }
    if served == 0 {
        ctx.out.null_array();
    } else {
        if proto == Proto::Resp2 {
            ctx.out.array(served);
        } else {
            ctx.out.map(served);
        }
        ctx.out.buf.extend_from_slice(&body);
    }
    for (key, created) in touched {
        if created {
            ctx.notify(STREAM, "xgroup-createconsumer", key);
        }
        // Group state changed: counted, and seen by the gather path's write-back.
        ctx.shard.modified(db, key);
    }
    ctx.shard.propagate_instead(|| records);
    Ok(())
}

/// Whether a read from `from` has something to serve now (xreadCommand's
/// serve_synchronously): a group's history always does.
fn ready(s: &Stream, group: Option<&[u8]>, from: ReadFrom) -> bool {
    match (group, from) {
        (Some(_), ReadFrom::After(_)) => true,
        (Some(g), _) => {
            s.length > 0
                && s.groups
                    .get(g)
                    .is_some_and(|g| s.last_valid_id() > g.last_id)
        }
        (None, ReadFrom::After(id)) => s.length > 0 && s.last_valid_id() > id,
        (None, _) => false,
    }
}

/// A parsed blocking read: what it waits for, its keys, and BLOCK's milliseconds.
pub type WaitParse<'a> = (Waiting, Vec<&'a [u8]>, Option<i64>);

/// A blocked XREAD or XREADGROUP: what it waits for on each of its keys.
#[derive(Clone, Debug, PartialEq)]
pub struct Waiting {
    /// Per key: entries after this ID (None: `$`, fixed when the waiter registers).
    pub after: Vec<(Vec<u8>, Option<StreamId>)>,
    /// The COUNT, or XREAD_BLOCKED_DEFAULT_COUNT (1000) without one.
    pub count: usize,
    /// XREADGROUP's group and consumer.
    pub group: Option<(Vec<u8>, Vec<u8>)>,
    pub noack: bool,
}

impl Waiting {
    pub fn parse(args: Args<'_>, xreadgroup: bool) -> Result<WaitParse<'_>> {
        let r = parse_xread(args, xreadgroup)?;
        let keys: Vec<&[u8]> = (0..r.nkeys).map(|i| args.get(r.streams + i)).collect();
        let after = keys
            .iter()
            .enumerate()
            .map(|(i, k)| {
                let from = parse_read_from(args.get(r.streams + r.nkeys + i), xreadgroup);
                let id = match from {
                    Ok(ReadFrom::After(id)) => Some(id),
                    Ok(ReadFrom::Last) => None,
                    // `>` (a group read) or an error the command itself reports first.
                    _ => Some(StreamId::MAX),
                };
                (k.to_vec(), id)
            })
            .collect();
        let w = Waiting {
            after,
            count: if r.count == 0 { 1000 } else { r.count },
            group: r.group.map(|(g, c)| (g.to_vec(), c.to_vec())),
            noack: r.noack,
        };
        Ok((w, keys, r.block))
    }

    /// Fixes `$` for `key` to the stream's last ID as it is now.
    pub fn resolve(&mut self, shard: &Shard, db: usize, key: &[u8]) {
        let last = match shard.value(db, key) {
            Some(Value::Stream(s)) => s.last_id,
            _ => StreamId::MIN,
        };
        for (k, id) in &mut self.after {
            if k == key && id.is_none() {
                *id = Some(last);
            }
        }
    }

    /// Takes `$` resolutions from another registration of the same client.
    pub fn merge(&mut self, other: &Waiting) {
        for ((_, id), (_, o)) in self.after.iter_mut().zip(&other.after) {
            if id.is_none() {
                *id = *o;
            }
        }
    }

    fn after(&self, key: &[u8]) -> StreamId {
        self.after
            .iter()
            .find(|(k, _)| k == key)
            .and_then(|(_, id)| *id)
            .unwrap_or(StreamId::MAX)
    }

    /// Whether `key` can serve this waiter now (None: not a stream; Some(false): not yet).
    pub fn servable(&self, shard: &mut Shard, db: usize, key: &[u8]) -> Option<bool> {
        let Some(Value::Stream(s)) = shard.value(db, key) else {
            return None;
        };
        // As the command itself decides (entries past the mark that are still there), so a
        // waiter registering after entries were deleted is not served an empty reply.
        let live = |after: StreamId| s.length > 0 && s.last_valid_id() > after;
        Some(match &self.group {
            // A destroyed group is served its error.
            Some((g, _)) => s.groups.get(&g[..]).is_none_or(|g| live(g.last_id)),
            None => live(self.after(key)),
        })
    }

    /// Serves the waiter from `key` (serveClientsBlockedOnStreamKey), recording what it
    /// changed in the journal.
    pub fn serve(
        &self,
        shard: &mut Shard,
        db: usize,
        key: &[u8],
        proto: Proto,
        out: &mut Vec<u8>,
    ) -> Result<()> {
        let now = shard.now_ms() as i64;
        let journal = shard.journal.enabled();
        let mut w = Writer::new(out, proto);
        let Some(Value::Stream(s)) = shard.lookup(db, key).map(|e| &mut e.value) else {
            return Err(Error::WrongType);
        };
        let head = |w: &mut Writer| {
            if proto == Proto::Resp2 {
                w.array(1);
                w.array(2);
            } else {
                w.map(1);
            }
            w.bulk(key);
        };
        match &self.group {
            None => {
                head(&mut w);
                let start = self.after(key).incr().unwrap_or(StreamId::MAX);
                reply_range(&mut w, s, start, StreamId::MAX, self.count, false);
                Ok(())
            }
            Some((g, c)) => {
                if !s.groups.contains_key(&g[..]) {
                    return Err(Error::msg(
                        "NOGROUP the consumer group this client was blocked on no longer exists",
                    ));
                }
                head(&mut w);
                let (records, created) = group_read(
                    &mut w,
                    s,
                    key,
                    g,
                    c,
                    ReadFrom::New,
                    self.count,
                    self.noack,
                    now,
                    journal,
                );
                for r in &records {
                    shard.journal.record(db, r.iter().map(Vec::as_slice));
                }
                if created {
                    shard.notify(STREAM, "xgroup-createconsumer", db, key);
                }
                shard.modified(db, key);
                Ok(())
            }
        }
    }
}
