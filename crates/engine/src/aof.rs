//! Redis 7.0's append-only files, as data: the manifest of an `appenddirname` directory
//! (aof.c's format, with percore's `shard` key added, which Redis' parser skips), and the
//! command streams of increment files (what the journal writes), read back with Redis'
//! rules for a truncated tail and an unfinished MULTI. Pure: the runtime does the files.

use crate::args::parse_i64;

/// What a manifest line names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FileType {
    /// An RDB (or AOF) snapshot the increments apply to.
    Base,
    /// Left from before a rewrite, to be deleted.
    History,
    /// Commands appended since the base.
    Incr,
}

impl FileType {
    fn letter(self) -> char {
        match self {
            FileType::Base => 'b',
            FileType::History => 'h',
            FileType::Incr => 'i',
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ManifestFile {
    pub name: String,
    pub seq: i64,
    pub kind: FileType,
    /// percore: the shard the file belongs to (None: a redis-server manifest, one keyspace).
    pub shard: Option<usize>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Manifest {
    pub files: Vec<ManifestFile>,
}

/// The longest manifest line Redis reads (MANIFEST_MAX_LINE).
const MAX_LINE: usize = 1024;

impl Manifest {
    /// Parses a manifest as Redis 7.0's aofLoadManifestFromFile does, with its error texts.
    /// Base and sequence rules hold per shard.
    pub fn parse(text: &[u8]) -> Result<Manifest, &'static str> {
        let mut m = Manifest::default();
        let mut lines = 0;
        for raw in text.split_inclusive(|&b| b == b'\n') {
            lines += 1;
            if raw.first() == Some(&b'#') {
                continue;
            }
            if raw.len() > MAX_LINE || raw.last() != Some(&b'\n') {
                return Err("The AOF manifest file contains too long line");
            }
            let line = trim(raw);
            if line.is_empty() {
                return Err("Invalid AOF manifest file format");
            }
            let argv = split_args(line).ok_or("Invalid AOF manifest file format")?;
            if argv.len() < 6 || argv.len() % 2 != 0 {
                return Err("Invalid AOF manifest file format");
            }
            let (mut name, mut seq, mut kind, mut shard) = (None, 0i64, None, None);
            for pair in argv.chunks(2) {
                let (k, v) = (&pair[0], &pair[1]);
                if k.eq_ignore_ascii_case(b"file") {
                    if v.contains(&b'/') {
                        return Err("File can't be a path, just a filename");
                    }
                    name = Some(String::from_utf8_lossy(v).into_owned());
                } else if k.eq_ignore_ascii_case(b"seq") {
                    seq = atoll(v);
                } else if k.eq_ignore_ascii_case(b"type") {
                    kind = v.first().copied();
                } else if k.eq_ignore_ascii_case(b"shard") {
                    shard = Some(atoll(v).max(0) as usize);
                }
            }
            let (Some(name), Some(kind)) = (name, kind) else {
                return Err("Invalid AOF manifest file format");
            };
            if seq == 0 {
                return Err("Invalid AOF manifest file format");
            }
            let kind = match kind {
                b'b' => FileType::Base,
                b'h' => FileType::History,
                b'i' => FileType::Incr,
                _ => return Err("Unknown AOF file type"),
            };
            let same_shard = |f: &&ManifestFile| f.shard == shard;
            match kind {
                FileType::Base if m.files.iter().filter(same_shard).any(|f| f.kind == kind) => {
                    return Err("Found duplicate base file information");
                }
                FileType::Incr
                    if m.files
                        .iter()
                        .filter(same_shard)
                        .any(|f| f.kind == kind && f.seq >= seq) =>
                {
                    return Err("Found a non-monotonic sequence number");
                }
                _ => {}
            }
            m.files.push(ManifestFile {
                name,
                seq,
                kind,
                shard,
            });
        }
        if lines == 0 {
            return Err("Found an empty AOF manifest");
        }
        Ok(m)
    }

    /// The manifest text: per shard in order, the base first, then history, then
    /// increments, one `file <name> seq <n> type <t>` line each (names quoted as Redis'
    /// sdscatrepr when they need it), `shard <n>` appended for percore's files.
    pub fn format(&self) -> String {
        let mut files: Vec<&ManifestFile> = self.files.iter().collect();
        let rank = |k: FileType| match k {
            FileType::Base => 0,
            FileType::History => 1,
            FileType::Incr => 2,
        };
        files.sort_by_key(|f| (f.shard, rank(f.kind), f.seq));
        let mut out = String::new();
        for f in files {
            out.push_str(&format!(
                "file {} seq {} type {}",
                repr(&f.name),
                f.seq,
                f.kind.letter()
            ));
            if let Some(s) = f.shard {
                out.push_str(&format!(" shard {s}"));
            }
            out.push('\n');
        }
        out
    }
}

fn trim(b: &[u8]) -> &[u8] {
    let ws = |c: &u8| matches!(c, b' ' | b'\t' | b'\r' | b'\n');
    let start = b.iter().position(|c| !ws(c)).unwrap_or(b.len());
    let end = b.iter().rposition(|c| !ws(c)).map_or(start, |e| e + 1);
    &b[start..end]
}

/// C's atoll: leading digits with an optional sign, 0 when there are none.
fn atoll(b: &[u8]) -> i64 {
    let (neg, digits) = match b.first() {
        Some(b'-') => (true, &b[1..]),
        Some(b'+') => (false, &b[1..]),
        _ => (false, b),
    };
    let n = digits.iter().take_while(|c| c.is_ascii_digit()).count();
    let v = parse_i64(&digits[..n]).unwrap_or(0);
    if neg {
        -v
    } else {
        v
    }
}

/// Redis' sdsneedsrepr + sdscatrepr for a file name.
fn repr(name: &str) -> String {
    let needs = name
        .bytes()
        .any(|c| c == b'\\' || c == b'"' || c == b' ' || !(0x21..0x7f).contains(&c));
    if !needs {
        return name.to_string();
    }
    let mut s = String::from("\"");
    for c in name.bytes() {
        match c {
            b'\\' => s.push_str("\\\\"),
            b'"' => s.push_str("\\\""),
            b'\n' => s.push_str("\\n"),
            b'\r' => s.push_str("\\r"),
            b'\t' => s.push_str("\\t"),
            7 => s.push_str("\\a"),
            8 => s.push_str("\\b"),
            c if (0x20..0x7f).contains(&c) => s.push(c as char),
            c => s.push_str(&format!("\\x{c:02x}")),
        }
    }
    s.push('"');
    s
}

use config::split_args;

/// Where reading a command stream stopped early.
#[derive(Debug, PartialEq, Eq, Clone, Copy)]
pub enum Read {
    /// The stream stops in the middle of a command at this offset (the start of the
    /// incomplete command): Redis' "Unexpected end of file".
    Truncated(usize),
    /// Not a command stream from here (Redis' "Bad file format").
    Bad(usize),
}

/// One step of reading an AOF command stream, borrowing from it.
#[derive(Debug, PartialEq, Eq)]
pub enum Item<'a> {
    /// A command (RESP array of bulk strings) and the offset just past it.
    Command(Vec<&'a [u8]>, usize),
    /// A `#` annotation line (as `#TS:` or percore's `#TX`), without its line end, and
    /// the offset past it.
    Note(&'a [u8], usize),
    /// The stream ends cleanly here.
    End,
    Stop(Read),
}

/// Reads the item starting at `pos`.
pub fn next_item(b: &[u8], mut pos: usize) -> Item<'_> {
    if pos == b.len() {
        return Item::End;
    }
    let start = pos;
    if b[pos] == b'#' {
        return match b[pos..].iter().position(|&c| c == b'\n') {
            Some(n) => {
                let line = &b[pos..pos + n];
                Item::Note(line.strip_suffix(b"\r").unwrap_or(line), pos + n + 1)
            }
            None => Item::Stop(Read::Truncated(pos)),
        };
    }
    let line = |pos: &mut usize, prefix: u8| -> Result<i64, Read> {
        let rest = &b[*pos..];
        let Some(end) = rest.windows(2).position(|w| w == b"\r\n") else {
            return Err(Read::Truncated(start));
        };
        if rest[0] != prefix {
            return Err(Read::Bad(start));
        }
        let n = parse_i64(&rest[1..end]).ok_or(Read::Bad(start))?;
        *pos += end + 2;
        Ok(n)
    };
    let argc = match line(&mut pos, b'*') {
        Ok(n) if n >= 1 => n as usize,
        Ok(_) => return Item::Stop(Read::Bad(start)),
        Err(r) => return Item::Stop(r),
    };
    let mut argv = Vec::with_capacity(argc.min(1024));
    for _ in 0..argc {
        let len = match line(&mut pos, b'$') {
            Ok(n) if n >= 0 => n as usize,
            Ok(_) => return Item::Stop(Read::Bad(start)),
            Err(r) => return Item::Stop(r),
        };
        if b.len() - pos < len + 2 {
            return Item::Stop(Read::Truncated(start));
        }
        if &b[pos + len..pos + len + 2] != b"\r\n" {
            return Item::Stop(Read::Bad(start));
        }
        argv.push(&b[pos..pos + len]);
        pos += len + 2;
    }
    Item::Command(argv, pos)
}

/// How far a stream was read.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Walk {
    /// Units handed over (a command, or a MULTI ... EXEC block).
    pub units: u64,
    /// Where the last whole unit ends: a file is cut here when its tail is dropped.
    pub valid: usize,
    /// Where reading stopped, when the stream did not end cleanly.
    pub stop: Option<Read>,
    /// The stream ends inside a MULTI block (no EXEC): Redis reverts it, as a truncation.
    pub unfinished: bool,
    /// `walk_from` stopped after its count of units; the stream goes on at `valid`.
    pub more: bool,
    /// The commands a replay met that act outside the keyspace (FUNCTION LOAD, DELETE,
    /// FLUSH, RESTORE), in stream order, for the runtime to apply.
    pub side: Vec<Vec<Vec<u8>>>,
}

/// The commands of one unit of a stream, borrowed from it.
pub type Unit<'a> = Vec<Vec<&'a [u8]>>;

/// A multi-shard operation's id.
pub type TxMark = u64;

/// `<prefix><id>`: percore's mark before a piece of a multi-shard operation (`#TX `) and
/// its commit (`#TXC `).
fn tx_note(note: &[u8], prefix: &[u8]) -> Option<TxMark> {
    let rest = note.strip_prefix(prefix)?;
    parse_u64(rest.split(|&c| c == b' ').next()?)
}

/// A decimal u64 (ids use all 64 bits).
fn parse_u64(b: &[u8]) -> Option<u64> {
    std::str::from_utf8(b).ok()?.parse().ok()
}

/// Walks a stream unit by unit, as Redis' loader groups it: each command alone, a
/// MULTI ... EXEC block as one unit (without MULTI and EXEC, with the `#TX` mark that
/// preceded its MULTI); a block the stream ends inside is not handed over.
pub fn walk<'a>(
    b: &'a [u8],
    unit: impl FnMut(Option<TxMark>, &[Vec<&'a [u8]>]) -> Result<(), String>,
) -> Result<Walk, String> {
    walk_from(b, 0, u64::MAX, unit)
}

/// As `walk`, from offset `from` (a unit boundary) for at most `max_units` units: `more`
/// says it stopped early, and `valid` is where to go on.
pub fn walk_from<'a>(
    b: &'a [u8],
    from: usize,
    max_units: u64,
    mut unit: impl FnMut(Option<TxMark>, &[Vec<&'a [u8]>]) -> Result<(), String>,
) -> Result<Walk, String> {
    let mut w = Walk {
        valid: from,
        ..Walk::default()
    };
    let mut pos = from;
    let mut mark = None;
    // An open MULTI: its mark and the commands so far.
    let mut block: Option<(Option<TxMark>, Unit<'a>)> = None;
    loop {
        match next_item(b, pos) {
            Item::Note(text, next) => {
                pos = next;
                if let Some(m) = tx_note(text, b"#TX ") {
                    mark = Some(m);
                } else if block.is_none() {
                    // A note between units (a commit, a timestamp) is kept by a cut.
                    w.valid = pos;
                }
            }
            Item::Command(argv, next) => {
                pos = next;
                let is = |name: &[u8]| argv[0].eq_ignore_ascii_case(name);
                if is(b"multi") {
                    block = Some((mark.take(), Vec::new()));
                } else if is(b"exec") {
                    if let Some((m, cmds)) = block.take() {
                        unit(m, &cmds)?;
                        w.units += 1;
                        w.valid = pos;
                    }
                } else if let Some((_, cmds)) = block.as_mut() {
                    cmds.push(argv);
                } else {
                    mark = None;
                    unit(None, std::slice::from_ref(&argv))?;
                    w.units += 1;
                    w.valid = pos;
                }
                if block.is_none() && w.units >= max_units {
                    w.more = b.len() > pos;
                    break;
                }
            }
            Item::End => break,
            Item::Stop(r) => {
                w.stop = Some(r);
                break;
            }
        }
    }
    w.unfinished = block.is_some();
    Ok(w)
}

/// The multi-shard operations a stream names: those it holds a whole piece of, and those
/// committed in it with their count of pieces (a piece is applied only if its operation
/// committed, in any stream, and every piece of it is whole somewhere).
#[derive(Debug, Default, PartialEq, Eq)]
pub struct TxIndex {
    pub pieces: Vec<TxMark>,
    pub commits: Vec<(TxMark, usize)>,
}

/// The operations whose pieces may be applied, from every stream's index: committed, with
/// as many whole pieces as the commit counts.
pub fn applicable(indexes: &[TxIndex]) -> std::collections::HashSet<TxMark> {
    let mut seen: std::collections::HashMap<TxMark, usize> = Default::default();
    for ix in indexes {
        for &id in &ix.pieces {
            *seen.entry(id).or_default() += 1;
        }
    }
    indexes
        .iter()
        .flat_map(|ix| ix.commits.iter())
        .filter(|(id, n)| seen.get(id) == Some(n))
        .map(|&(id, _)| id)
        .collect()
}

pub fn tx_index(b: &[u8]) -> TxIndex {
    let mut ix = TxIndex::default();
    if !memchr_tx(b) {
        return ix;
    }
    let mut pos = 0;
    loop {
        match next_item(b, pos) {
            Item::Note(text, next) => {
                if let Some(rest) = text.strip_prefix(b"#TXC ") {
                    let mut words = rest.split(|&c| c == b' ');
                    let id = words.next().and_then(parse_u64);
                    let n = words.next().and_then(parse_u64);
                    if let (Some(id), Some(n)) = (id, n) {
                        ix.commits.push((id, n as usize));
                    }
                }
                pos = next;
            }
            Item::Command(_, next) => pos = next,
            Item::End | Item::Stop(_) => break,
        }
    }
    let _ = walk(b, |m, _| {
        ix.pieces.extend(m);
        Ok(())
    });
    ix
}

/// Whether `#TX ` occurs at all: most streams have no multi-shard operation and need no
/// walk to find them.
fn memchr_tx(b: &[u8]) -> bool {
    // "#TX" covers both marks: a file may hold only commits (its core ran operations
    // whose pieces were all elsewhere).
    b.windows(3).any(|w| w == b"#TX")
}

/// Replays a stream into `shard` as redis-server loads an AOF (replies dropped; SELECT
/// moves `db`); a multi-shard operation's part for which `skip(id)` holds is not applied
/// (another participant's part is missing). Err: Redis' message for a command it cannot
/// run.
pub fn replay(
    shard: &mut crate::Shard,
    db: &mut usize,
    b: &[u8],
    skip: &dyn Fn(u64) -> bool,
) -> Result<Walk, String> {
    replay_from(shard, db, b, 0, u64::MAX, skip)
}

/// As `replay`, from offset `from` for at most `max_units` units (see `walk_from`), so a
/// loader can serve between slices.
pub fn replay_from(
    shard: &mut crate::Shard,
    db: &mut usize,
    b: &[u8],
    from: usize,
    max_units: u64,
    skip: &dyn Fn(u64) -> bool,
) -> Result<Walk, String> {
    let mut side = Vec::new();
    let mut w = walk_from(b, from, max_units, |mark, cmds| {
        if mark.is_some_and(skip) {
            // Not applied; its SELECTs still move the stream's database.
            for argv in cmds.iter().filter(|a| a[0].eq_ignore_ascii_case(b"select")) {
                apply(shard, db, argv, &mut side)?;
            }
            return Ok(());
        }
        for argv in cmds {
            apply(shard, db, argv, &mut side)?;
        }
        Ok(())
    })?;
    w.side = side;
    Ok(w)
}

/// Applies one command of a stream to `shard`: SELECT moves `db`; the whole-keyspace
/// commands a journal records (FLUSHALL, FLUSHDB, SWAPDB) act on this shard; FUNCTION goes
/// to `side` for the runtime; a command it does not know stops the replay with Redis'
/// message.
fn apply(
    shard: &mut crate::Shard,
    db: &mut usize,
    argv: &[&[u8]],
    side: &mut Vec<Vec<Vec<u8>>>,
) -> Result<(), String> {
    let name = argv[0];
    let is = |n: &[u8]| name.eq_ignore_ascii_case(n);
    let dbs = shard.databases();
    let num = |i: usize| {
        argv.get(i)
            .and_then(|n| parse_i64(n))
            .filter(|&n| n >= 0 && (n as usize) < dbs)
            .map(|n| n as usize)
    };
    if is(b"select") {
        *db = num(1).ok_or("Bad SELECT in the append only file")?;
    } else if is(b"function") {
        side.push(argv.iter().map(|a| a.to_vec()).collect());
    } else if is(b"flushall") {
        shard.flush(None);
    } else if is(b"flushdb") {
        shard.flush(Some(*db));
    } else if is(b"swapdb") {
        match (num(1), num(2)) {
            (Some(a), Some(b)) => shard.swapdb(a, b),
            _ => return Err("Bad SWAPDB in the append only file".into()),
        }
    } else if crate::table::lookup(name)
        .and_then(|s| s.handler())
        .is_none()
    {
        return Err(format!(
            "Unknown command '{}' reading the append only file",
            String::from_utf8_lossy(name)
        ));
    } else {
        shard.run(*db, argv, resp::Proto::Resp2);
    }
    Ok(())
}

/// One unit of a shard's stream, for `merge`: its commands with the database each runs in
/// (SELECTs resolved), the operation it is a piece of, and the keys it touches (None: the
/// whole keyspace, or unknown).
struct MergeUnit<'a> {
    tx: Option<TxMark>,
    cmds: Vec<(usize, Vec<&'a [u8]>)>,
    keys: Option<Vec<(usize, &'a [u8])>>,
}

impl MergeUnit<'_> {
    fn conflicts(&self, other: &MergeUnit) -> bool {
        // A unit of no command (a SELECT alone between two blocks) conflicts with nothing.
        if self.cmds.is_empty() || other.cmds.is_empty() {
            return false;
        }
        match (&self.keys, &other.keys) {
            (Some(a), Some(b)) => a.iter().any(|k| b.contains(k)),
            _ => true,
        }
    }
}

/// A command and the database it runs in.
type DbCommand<'a, 'b> = (usize, &'b [&'a [u8]]);

/// (Every shard records these; a merged stream runs each once.)
pub fn whole_keyspace(name: &[u8]) -> bool {
    [&b"flushall"[..], b"flushdb", b"swapdb"]
        .iter()
        .any(|n| name.eq_ignore_ascii_case(n))
}

/// Splits a shard's stream into units with their databases and keys.
fn merge_units(b: &[u8]) -> Result<Vec<MergeUnit<'_>>, String> {
    let mut units = Vec::new();
    let mut db = 0usize;
    let w = walk(b, |tx, cmds| {
        let mut u = MergeUnit {
            tx,
            cmds: Vec::new(),
            keys: Some(Vec::new()),
        };
        for argv in cmds {
            if argv[0].eq_ignore_ascii_case(b"select") {
                db = argv
                    .get(1)
                    .and_then(|n| parse_i64(n))
                    .filter(|&n| n >= 0)
                    .ok_or("Bad SELECT in the append only file")? as usize;
                continue;
            }
            let spec = crate::table::lookup(argv[0]).filter(|s| s.handler().is_some());
            match (spec, u.keys.as_mut()) {
                (Some(spec), Some(keys)) if !whole_keyspace(argv[0]) => {
                    keys.extend(spec.key_positions(&argv[..]).map(|p| (db, argv[p])));
                }
                _ => u.keys = None,
            }
            u.cmds.push((db, argv.clone()));
        }
        units.push(u);
        Ok(())
    })?;
    // A cut tail is dropped (as the loader does with aof-load-truncated); garbage is not.
    if let Some(Read::Bad(at)) = w.stop {
        return Err(format!("Bad file format at offset {at}"));
    }
    Ok(units)
}

/// Merges shards' command streams (each after its shard's base, all bases from one point)
/// into one stream that redis-server replays to the same dataset: each shard's order is
/// kept, and a multi-shard operation's pieces are joined into one MULTI ... EXEC where the
/// operation is applicable (`applicable`; others are left out). Pieces of different
/// operations may come in different orders on different shards only where they touch
/// different keys (the key locks order every conflict the same way everywhere); a piece is
/// moved ahead of what precedes it on its shard only past units that touch none of its keys.
pub fn merge(
    streams: &[&[u8]],
    apply: &std::collections::HashSet<TxMark>,
) -> Result<Vec<u8>, String> {
    let mut units: Vec<Vec<MergeUnit>> = Vec::with_capacity(streams.len());
    for s in streams {
        units.push(merge_units(s)?);
    }
    // Where each operation's pieces are.
    let mut pieces: std::collections::HashMap<TxMark, Vec<(usize, usize)>> = Default::default();
    for (s, us) in units.iter().enumerate() {
        for (i, u) in us.iter().enumerate() {
            if let Some(id) = u.tx {
                pieces.entry(id).or_default().push((s, i));
            }
        }
    }
    let mut done: Vec<Vec<bool>> = units.iter().map(|us| vec![false; us.len()]).collect();
    let mut head = vec![0usize; units.len()];
    let mut out = Vec::new();
    let mut cur_db: Option<usize> = None;
    let emit = |out: &mut Vec<u8>, cur_db: &mut Option<usize>, db: usize, argv: &[&[u8]]| {
        if *cur_db != Some(db) {
            select_command(out, db);
            *cur_db = Some(db);
        }
        let mut c = Cmds(out);
        c.header(argv.len());
        for a in argv {
            c.bulk(a);
        }
    };
    loop {
        // Everything at the heads that is no piece of an applicable operation goes now.
        for s in 0..units.len() {
            while head[s] < units[s].len() {
                let i = head[s];
                if done[s][i] {
                    head[s] += 1;
                    continue;
                }
                let u = &units[s][i];
                match u.tx {
                    Some(id) if apply.contains(&id) => break,
                    // A piece of an operation that is not applied: left out.
                    Some(_) => {}
                    None => {
                        let wrap = u.cmds.len() > 1;
                        if wrap {
                            Cmds(&mut out).header(1);
                            Cmds(&mut out).bulk(b"MULTI");
                        }
                        for (db, argv) in &u.cmds {
                            emit(&mut out, &mut cur_db, *db, argv);
                        }
                        if wrap {
                            Cmds(&mut out).header(1);
                            Cmds(&mut out).bulk(b"EXEC");
                        }
                    }
                }
                done[s][i] = true;
                head[s] += 1;
            }
        }
        // Every head is a piece (or the stream is done): join an operation whose other
        // pieces are at their heads, or can move there past units that touch none of
        // their keys.
        let mut chosen = None;
        for s in 0..units.len() {
            let Some(u) = units[s].get(head[s]) else {
                continue;
            };
            let Some(id) = u.tx else { continue };
            let movable = pieces[&id].iter().all(|&(t, j)| {
                (head[t]..j).all(|k| {
                    let v = &units[t][k];
                    done[t][k] || v.tx == Some(id) || !v.conflicts(&units[t][j])
                })
            });
            if movable {
                chosen = Some(id);
                break;
            }
        }
        let Some(id) = chosen else {
            if (0..units.len()).all(|s| head[s] >= units[s].len()) {
                break;
            }
            return Err(
                "the shards' streams cannot be merged (operations in conflicting orders)".into(),
            );
        };
        // The pieces' commands per shard, cut at the whole-keyspace commands (FLUSHALL,
        // FLUSHDB, SWAPDB), which every shard records, in the same order: the k-th such
        // command on each shard is the same one, run once, after every shard's commands
        // before it (commands of different shards between two of them touch different keys).
        let mut per_shard: Vec<Vec<DbCommand>> = Vec::new();
        let mut last_shard = None;
        for &(t, j) in &pieces[&id] {
            if last_shard != Some(t) {
                per_shard.push(Vec::new());
                last_shard = Some(t);
            }
            if let Some(list) = per_shard.last_mut() {
                list.extend(units[t][j].cmds.iter().map(|(db, a)| (*db, &a[..])));
            }
            done[t][j] = true;
        }
        let mut cursors = vec![0usize; per_shard.len()];
        Cmds(&mut out).header(1);
        Cmds(&mut out).bulk(b"MULTI");
        loop {
            let mut whole: Option<(usize, &[&[u8]])> = None;
            for (s, cmds) in per_shard.iter().enumerate() {
                while let Some(&(db, argv)) = cmds.get(cursors[s]) {
                    if whole_keyspace(argv[0]) {
                        whole.get_or_insert((db, argv));
                        break;
                    }
                    emit(&mut out, &mut cur_db, db, argv);
                    cursors[s] += 1;
                }
            }
            let Some((db, argv)) = whole else { break };
            emit(&mut out, &mut cur_db, db, argv);
            for (s, cmds) in per_shard.iter().enumerate() {
                if cmds
                    .get(cursors[s])
                    .is_some_and(|(_, a)| whole_keyspace(a[0]))
                {
                    cursors[s] += 1;
                }
            }
        }
        Cmds(&mut out).header(1);
        Cmds(&mut out).bulk(b"EXEC");
    }
    Ok(out)
}

/// Items per command in a command-form rewrite (Redis' AOF_REWRITE_ITEMS_PER_CMD).
const ITEMS_PER_CMD: usize = 64;

/// A RESP array header and bulk strings, as the AOF writes commands.
struct Cmds<'a>(&'a mut Vec<u8>);

impl Cmds<'_> {
    fn header(&mut self, n: usize) {
        self.0.push(b'*');
        self.0
            .extend_from_slice(crate::value::IntBuf::default().format(n as i64));
        self.0.extend_from_slice(b"\r\n");
    }
    fn bulk(&mut self, b: &[u8]) {
        self.0.push(b'$');
        self.0
            .extend_from_slice(crate::value::IntBuf::default().format(b.len() as i64));
        self.0.extend_from_slice(b"\r\n");
        self.0.extend_from_slice(b);
        self.0.extend_from_slice(b"\r\n");
    }
    /// Items in commands of at most ITEMS_PER_CMD items (`width` words each), as Redis'
    /// rewriteListObject and friends: `name key item...`.
    fn batched<'i>(
        &mut self,
        name: &[u8],
        key: &[u8],
        total: usize,
        width: usize,
        items: impl Iterator<Item = Vec<&'i [u8]>>,
    ) {
        let mut left = total;
        let mut count = 0;
        for words in items {
            if count == 0 {
                let n = left.min(ITEMS_PER_CMD);
                self.header(2 + n * width);
                self.bulk(name);
                self.bulk(key);
            }
            for w in words {
                self.bulk(w);
            }
            count += 1;
            if count == ITEMS_PER_CMD {
                count = 0;
            }
            left -= 1;
        }
    }
}

/// SELECT `db`, as a command-form base writes it before a database's keys.
pub fn select_command(out: &mut Vec<u8>, db: usize) {
    let mut c = Cmds(out);
    c.header(2);
    c.bulk(b"SELECT");
    c.bulk(crate::value::IntBuf::default().format(db as i64));
}

/// A stream as rewriteStreamObject writes it: one XADD per entry (or the `MAXLEN 0` trick
/// for an empty stream), XSETID with the counters, then each group: XGROUP CREATE with
/// ENTRIESREAD, XCLAIM ... JUSTID FORCE per pending entry, XGROUP CREATECONSUMER for
/// consumers with none.
fn stream_commands(c: &mut Cmds, key: &[u8], s: &crate::stream::Stream) {
    use crate::stream::StreamId;
    let mut n = crate::value::IntBuf::default();
    if s.length > 0 {
        s.visit(StreamId::MIN, StreamId::MAX, false, false, |e| {
            c.header(3 + 2 * e.num_fields);
            c.bulk(b"XADD");
            c.bulk(key);
            c.bulk(&e.id.to_bytes());
            let (mut a, mut b) = (
                crate::value::IntBuf::default(),
                crate::value::IntBuf::default(),
            );
            e.for_each(|f, v| {
                c.bulk(f.bytes(&mut a));
                c.bulk(v.bytes(&mut b));
            });
            true
        });
    } else {
        c.header(7);
        for w in [&b"XADD"[..], key, b"MAXLEN", b"0", b"0-1", b"x", b"y"] {
            c.bulk(w);
        }
    }
    c.header(7);
    c.bulk(b"XSETID");
    c.bulk(key);
    c.bulk(&s.last_id.to_bytes());
    c.bulk(b"ENTRIESADDED");
    c.bulk(n.format(s.entries_added as i64));
    c.bulk(b"MAXDELETEDID");
    c.bulk(&s.max_deleted.to_bytes());
    for (name, g) in &s.groups {
        c.header(7);
        for w in [
            &b"XGROUP"[..],
            b"CREATE",
            key,
            name,
            &g.last_id.to_bytes(),
            b"ENTRIESREAD",
        ] {
            c.bulk(w);
        }
        c.bulk(n.format(g.entries_read));
        for (cname, consumer) in &g.consumers {
            if consumer.pel.is_empty() {
                c.header(5);
                for w in [&b"XGROUP"[..], b"CREATECONSUMER", key, name, cname] {
                    c.bulk(w);
                }
                continue;
            }
            for id in &consumer.pel {
                let Some(nack) = g.pel.get(id) else { continue };
                c.header(12);
                for w in [
                    &b"XCLAIM"[..],
                    key,
                    name,
                    cname,
                    b"0",
                    &id.to_bytes(),
                    b"TIME",
                ] {
                    c.bulk(w);
                }
                c.bulk(n.format(nack.delivery_time));
                c.bulk(b"RETRYCOUNT");
                c.bulk(n.format(nack.delivery_count as i64));
                c.bulk(b"JUSTID");
                c.bulk(b"FORCE");
            }
        }
    }
}

/// The commands that rebuild `key` in a command-form AOF base (`aof-use-rdb-preamble no`),
/// as redis-server 7.0's rewriteAppendOnlyFileRio writes them: SET, RPUSH, SADD, ZADD
/// (scores as %.17g) and HMSET in commands of at most 64 items, then PEXPIREAT.
pub fn value_commands(out: &mut Vec<u8>, key: &[u8], value: &crate::value::Value, expire_at: u64) {
    use crate::value::{Hash, Set, Value};
    let mut c = Cmds(out);
    match value {
        Value::Str(s) => {
            let mut scratch = crate::value::IntBuf::default();
            c.header(3);
            c.bulk(b"SET");
            c.bulk(key);
            c.bulk(s.bytes(&mut scratch));
        }
        Value::List(l) => c.batched(b"RPUSH", key, l.len(), 1, l.iter().map(|x| vec![x])),
        Value::Set(s) => {
            let mut members: Vec<Vec<u8>> = Vec::with_capacity(s.len());
            match s {
                Set::Ints(i) => members.extend(i.iter().map(|n| n.to_string().into_bytes())),
                Set::Table(_) => s.for_each(|m| members.push(m.to_vec())),
            }
            c.batched(
                b"SADD",
                key,
                members.len(),
                1,
                members.iter().map(|m| vec![m.as_slice()]),
            );
        }
        Value::ZSet(z) => {
            let mut pairs: Vec<(Vec<u8>, Vec<u8>)> = Vec::with_capacity(z.len());
            z.for_each(|m, score| {
                let mut text = Vec::with_capacity(24);
                resp::format_g17(score, &mut text);
                pairs.push((text, m.to_vec()));
            });
            c.batched(
                b"ZADD",
                key,
                pairs.len(),
                2,
                pairs.iter().map(|(s, m)| vec![s.as_slice(), m.as_slice()]),
            );
        }
        Value::Hash(h) => {
            let pairs: Vec<(&[u8], &[u8])> = match h {
                Hash::Pack(p) => p.iter().collect(),
                Hash::Table(t) => t.iter().map(|(f, v)| (f, &v[..])).collect(),
            };
            c.batched(
                b"HMSET",
                key,
                pairs.len(),
                2,
                pairs.iter().map(|(f, v)| vec![*f, *v]),
            );
        }
        Value::Stream(st) => stream_commands(&mut c, key, st),
    }
    if expire_at != 0 {
        c.header(3);
        c.bulk(b"PEXPIREAT");
        c.bulk(key);
        c.bulk(crate::value::IntBuf::default().format(expire_at as i64));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manifests_round_trip_in_redis_syntax() {
        let redis = b"file appendonly.aof.1.base.rdb seq 1 type b\n\
                      file appendonly.aof.1.incr.aof seq 1 type i\n\
                      file appendonly.aof.2.incr.aof seq 2 type i\n";
        let m = Manifest::parse(redis).unwrap();
        assert_eq!(m.files.len(), 3);
        assert_eq!(m.format().as_bytes(), &redis[..]);
        let ours = Manifest {
            files: vec![
                ManifestFile {
                    name: "a b.aof".into(),
                    seq: 3,
                    kind: FileType::Incr,
                    shard: Some(1),
                },
                ManifestFile {
                    name: "x.rdb".into(),
                    seq: 1,
                    kind: FileType::Base,
                    shard: Some(1),
                },
                ManifestFile {
                    name: "y.rdb".into(),
                    seq: 1,
                    kind: FileType::Base,
                    shard: Some(0),
                },
            ],
        };
        let text = ours.format();
        assert_eq!(
            text,
            "file y.rdb seq 1 type b shard 0\nfile x.rdb seq 1 type b shard 1\n\
             file \"a b.aof\" seq 3 type i shard 1\n"
        );
        let back = Manifest::parse(text.as_bytes()).unwrap();
        assert_eq!(back.format(), text);
    }

    #[test]
    fn manifest_errors_are_redis_texts() {
        let cases: &[(&[u8], &str)] = &[
            (b"", "Found an empty AOF manifest"),
            (
                b"file a seq 1 type b\n\n",
                "Invalid AOF manifest file format",
            ),
            (b"file a seq 1\n", "Invalid AOF manifest file format"),
            (
                b"file a/b seq 1 type i\n",
                "File can't be a path, just a filename",
            ),
            (b"file a seq 1 type x\n", "Unknown AOF file type"),
            (
                b"file a seq 1 type b\nfile b seq 2 type b\n",
                "Found duplicate base file information",
            ),
            (
                b"file a seq 2 type i\nfile b seq 2 type i\n",
                "Found a non-monotonic sequence number",
            ),
            (
                b"file a seq 1 type i",
                "The AOF manifest file contains too long line",
            ),
        ];
        for (text, want) in cases {
            assert_eq!(
                Manifest::parse(text),
                Err(*want),
                "{}",
                String::from_utf8_lossy(text)
            );
        }
        // Comments are skipped; each shard has its own base and sequence.
        let ok = b"# percore\nfile a seq 1 type b shard 0\nfile b seq 1 type b shard 1\n\
                   file c seq 1 type i shard 0\nfile d seq 1 type i shard 1\n";
        assert_eq!(Manifest::parse(ok).unwrap().files.len(), 4);
    }

    /// The units a stream is walked in, as owned words.
    fn units(b: &[u8]) -> (Vec<(Option<TxMark>, usize)>, Walk) {
        let mut out = Vec::new();
        let w = walk(b, |m, cmds| {
            out.push((m, cmds.len()));
            Ok(())
        })
        .unwrap();
        (out, w)
    }

    fn cmd(words: &[&str]) -> Vec<u8> {
        let mut out = Vec::new();
        let mut c = Cmds(&mut out);
        c.header(words.len());
        for w in words {
            c.bulk(w.as_bytes());
        }
        out
    }

    /// A stream of units: plain commands, and `(id, commands)` pieces.
    fn stream(units: &[(Option<u64>, &[&[&str]])]) -> Vec<u8> {
        let mut out = Vec::new();
        for (tx, cmds) in units {
            match tx {
                Some(id) => {
                    out.extend_from_slice(format!("#TX {id}\r\n").as_bytes());
                    out.extend(cmd(&["MULTI"]));
                    cmds.iter().for_each(|c| out.extend(cmd(c)));
                    out.extend(cmd(&["EXEC"]));
                }
                None => cmds.iter().for_each(|c| out.extend(cmd(c))),
            }
        }
        out
    }

    fn replayed(b: &[u8]) -> Vec<String> {
        let mut shard = crate::Shard::new(0, 16);
        let mut db = 0;
        replay(&mut shard, &mut db, b, &|_| false).unwrap();
        let mut keys: Vec<String> = (0..4)
            .flat_map(|d| {
                shard
                    .keys(d, b"*")
                    .into_iter()
                    .map(move |k| format!("{d}:{}", String::from_utf8_lossy(&k)))
            })
            .collect();
        keys.sort();
        keys
    }

    #[test]
    fn merged_streams_join_operations_in_any_order_of_disjoint_pieces() {
        // Operations 5 and 6 ran in different orders on the two shards (disjoint keys);
        // 7 is a transaction with FLUSHALL, SET and FLUSHALL again; 8 has no commit.
        let a = stream(&[
            (None, &[&["SELECT", "0"], &["SET", "a0", "1"]]),
            (Some(5), &[&["SET", "a", "1"]]),
            (Some(6), &[&["SET", "c", "1"]]),
            (Some(7), &[&["FLUSHALL"]]),
            (Some(7), &[&["FLUSHALL"]]),
            (Some(9), &[&["SET", "kept", "1"]]),
            (Some(8), &[&["SET", "lost", "1"]]),
        ]);
        let mut b = stream(&[
            (None, &[&["SELECT", "2"]]),
            (Some(6), &[&["SET", "d", "1"]]),
            (Some(5), &[&["SET", "b", "1"]]),
            (Some(7), &[&["FLUSHALL"]]),
            (Some(7), &[&["SET", "x", "1"]]),
            (Some(7), &[&["FLUSHALL"]]),
            (Some(9), &[&["SET", "kept2", "1"]]),
        ]);
        b.extend_from_slice(b"#TXC 5 2\r\n#TXC 6 2\r\n#TXC 7 5\r\n#TXC 9 2\r\n");
        let ix = [tx_index(&a), tx_index(&b)];
        let apply = applicable(&ix);
        assert_eq!(apply.len(), 4);
        let merged = merge(&[&a, &b], &apply).unwrap();
        // Everything before the second FLUSHALL is gone; 9 applies after it, 8 never.
        assert_eq!(replayed(&merged), vec!["0:kept", "2:kept2"]);
        // Without 7, the rest stays: 5 and 6 joined whole although their orders differ.
        let apply: std::collections::HashSet<u64> = [5, 6].into_iter().collect();
        let merged = merge(&[&a, &b], &apply).unwrap();
        assert_eq!(replayed(&merged), vec!["0:a", "0:a0", "0:c", "2:b", "2:d"]);
    }

    #[test]
    fn a_select_between_pieces_does_not_stop_the_merge() {
        // One operation's pieces around a SELECT alone (an empty unit), with a
        // whole-keyspace command among them.
        let a = stream(&[
            (Some(3), &[&["SELECT", "0"], &["FLUSHDB"]]),
            (None, &[&["SELECT", "2"]]),
            (Some(3), &[&["SET", "a", "1"]]),
            (Some(3), &[&["SWAPDB", "0", "2"]]),
        ]);
        let mut b = stream(&[
            (Some(3), &[&["SELECT", "0"], &["FLUSHDB"]]),
            (Some(3), &[&["SWAPDB", "0", "2"]]),
        ]);
        b.extend_from_slice(b"#TXC 3 5\r\n");
        let apply = applicable(&[tx_index(&a), tx_index(&b)]);
        let merged = merge(&[&a, &b], &apply).unwrap();
        assert_eq!(replayed(&merged), vec!["0:a"]);
    }

    #[test]
    fn streams_walk_whole_transactions_and_stop_at_a_cut() {
        let set = b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n";
        let multi = b"*1\r\n$5\r\nMULTI\r\n";
        let exec = b"*1\r\n$4\r\nEXEC\r\n";
        let mut s = Vec::new();
        s.extend_from_slice(b"#TS:1700000000\r\n");
        s.extend_from_slice(set);
        s.extend_from_slice(b"#TX 7\r\n");
        s.extend_from_slice(multi);
        s.extend_from_slice(set);
        s.extend_from_slice(set);
        s.extend_from_slice(exec);
        let whole = s.len();
        let (u, w) = units(&s);
        assert_eq!(u, vec![(None, 1), (Some(7), 2)]);
        assert_eq!((w.valid, w.stop, w.unfinished), (whole, None, false));
        s.extend_from_slice(b"#TXC 7 1\r\n");
        let whole = s.len();
        let ix = TxIndex {
            pieces: vec![7],
            commits: vec![(7, 1)],
        };
        assert!(applicable(std::slice::from_ref(&ix)).contains(&7));
        // A stream holding only a commit still counts it.
        let only = tx_index(b"#TXC 7 1\r\n");
        assert_eq!(only.commits, vec![(7, 1)]);
        // Committed with two pieces, one found: not applicable.
        let half = TxIndex {
            pieces: vec![7],
            commits: vec![(7, 2)],
        };
        assert!(applicable(&[half]).is_empty());
        assert_eq!(tx_index(&s), ix);
        // A block without its EXEC is not handed over; a cut command stops the stream.
        s.extend_from_slice(b"#TX 8\r\n");
        s.extend_from_slice(multi);
        s.extend_from_slice(set);
        let (u, w) = units(&s);
        assert_eq!(
            (u.len(), w.valid, w.stop, w.unfinished),
            (2, whole, None, true)
        );
        assert_eq!(tx_index(&s), ix);
        s.extend_from_slice(&set[..7]);
        let (_, w) = units(&s);
        assert_eq!(w.valid, whole);
        assert_eq!(
            w.stop,
            Some(Read::Truncated(whole + 7 + multi.len() + set.len()))
        );
        // Garbage is a bad format, where it starts.
        let (_, w) = units(b"*1\r\n$4\r\nPING\r\nhello\r\n");
        assert_eq!(w.stop, Some(Read::Bad(14)));
    }
}
