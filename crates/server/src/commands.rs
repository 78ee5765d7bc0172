//! COMMAND INFO and COMMAND DOCS as redis-server 7.0 answers them: key specs, tips and
//! subcommands, summaries, complexity, arguments and history come from redis-server's own
//! replies, captured byte for byte by `scripts/capture-commands.py` into `data/`, and are
//! served for the commands (and subcommands) percore implements. The table's own fields
//! (arity, flags, key positions, ACL categories, since) must agree with them: a test checks.
//! COMMAND GETKEYSANDFLAGS reads the key specs the way Redis' getKeysUsingKeySpecs does.

use engine::table::{CommandSpec, COMMANDS};
use engine::Args;
use resp::Writer;
use std::collections::HashMap;
use std::sync::OnceLock;

static INFO: &[u8] = include_bytes!("../data/command-info.resp");
static DOCS: &[u8] = include_bytes!("../data/command-docs.resp");

/// A RESP3 value.
#[derive(Clone, Debug, PartialEq)]
pub enum V {
    Arr(Vec<V>),
    Map(Vec<(V, V)>),
    Set(Vec<V>),
    Bulk(Vec<u8>),
    Simple(Vec<u8>),
    Int(i64),
    Null,
}

fn line<'a>(src: &'a [u8], pos: &mut usize) -> Option<&'a [u8]> {
    let rest = src.get(*pos..)?;
    let end = rest.windows(2).position(|w| w == b"\r\n")?;
    *pos += end + 2;
    Some(&rest[..end])
}

fn parse(src: &[u8], pos: &mut usize) -> Option<V> {
    let l = line(src, pos)?;
    let (t, body) = (l.first()?, &l[1..]);
    let n = || -> Option<i64> { std::str::from_utf8(body).ok()?.parse().ok() };
    Some(match t {
        b'+' => V::Simple(body.to_vec()),
        b':' => V::Int(n()?),
        b'_' => V::Null,
        b'$' => {
            let len = n()? as usize;
            let v = src.get(*pos..*pos + len)?.to_vec();
            *pos += len + 2;
            V::Bulk(v)
        }
        b'*' | b'~' => {
            let items = (0..n()?)
                .map(|_| parse(src, pos))
                .collect::<Option<Vec<V>>>()?;
            if *t == b'*' {
                V::Arr(items)
            } else {
                V::Set(items)
            }
        }
        b'%' => V::Map(
            (0..n()?)
                .map(|_| Some((parse(src, pos)?, parse(src, pos)?)))
                .collect::<Option<Vec<_>>>()?,
        ),
        _ => return None,
    })
}

impl V {
    pub fn write(&self, w: &mut Writer) {
        match self {
            V::Arr(v) => {
                w.array(v.len());
                v.iter().for_each(|x| x.write(w));
            }
            V::Set(v) => {
                w.set(v.len());
                v.iter().for_each(|x| x.write(w));
            }
            V::Map(p) => {
                w.map(p.len());
                for (k, v) in p {
                    k.write(w);
                    v.write(w);
                }
            }
            V::Bulk(b) => w.bulk(b),
            V::Simple(s) => w.simple(s),
            V::Int(i) => w.integer(*i),
            V::Null => w.null(),
        }
    }

    pub fn text(&self) -> &[u8] {
        match self {
            V::Bulk(b) | V::Simple(b) => b,
            _ => b"",
        }
    }

    pub fn int(&self) -> i64 {
        match self {
            V::Int(i) => *i,
            _ => 0,
        }
    }

    pub fn items(&self) -> &[V] {
        match self {
            V::Arr(v) | V::Set(v) => v,
            _ => &[],
        }
    }

    /// A map's value under `key`.
    pub fn get(&self, key: &str) -> Option<&V> {
        match self {
            V::Map(p) => p
                .iter()
                .find(|(k, _)| k.text() == key.as_bytes())
                .map(|(_, v)| v),
            _ => None,
        }
    }
}

pub struct Catalog {
    /// COMMAND INFO entries by command name.
    pub info: HashMap<String, V>,
    /// COMMAND DOCS maps by command name.
    pub docs: HashMap<String, V>,
}

/// Whether percore implements `name`, a command or "container|sub".
fn implemented(name: &[u8]) -> bool {
    let text = String::from_utf8_lossy(name);
    match text.split_once('|') {
        None => engine::lookup(name).is_some(),
        Some((c, sub)) => engine::lookup(c.as_bytes()).is_some_and(|spec| {
            matches!(
                engine::table::subcommand_arity(spec, sub.as_bytes()),
                Some(Some(_))
            )
        }),
    }
}

pub fn catalog() -> &'static Catalog {
    static C: OnceLock<Catalog> = OnceLock::new();
    C.get_or_init(|| {
        let mut info = HashMap::new();
        let mut pos = 0;
        if let Some(V::Arr(entries)) = parse(INFO, &mut pos) {
            for mut e in entries {
                let name = String::from_utf8_lossy(e.items()[0].text()).into_owned();
                if !implemented(name.as_bytes()) {
                    continue;
                }
                if let V::Arr(fields) = &mut e {
                    if let Some(V::Arr(subs)) = fields.get_mut(9) {
                        subs.retain(|s| implemented(s.items()[0].text()));
                    }
                }
                info.insert(name, e);
            }
        }
        let mut docs = HashMap::new();
        pos = 0;
        if let Some(V::Map(entries)) = parse(DOCS, &mut pos) {
            for (name, mut doc) in entries {
                if !implemented(name.text()) {
                    continue;
                }
                if let V::Map(fields) = &mut doc {
                    for (k, v) in fields.iter_mut() {
                        if let (b"subcommands", V::Map(subs)) = (k.text(), v) {
                            subs.retain(|(n, _)| implemented(n.text()));
                        }
                    }
                }
                docs.insert(String::from_utf8_lossy(name.text()).into_owned(), doc);
            }
        }
        Catalog { info, docs }
    })
}

/// COMMAND INFO's entry of `spec`, if redis-server described it.
pub fn write_info(w: &mut Writer, spec: &CommandSpec) -> bool {
    match catalog().info.get(spec.name) {
        Some(v) => {
            v.write(w);
            true
        }
        None => false,
    }
}

/// COMMAND DOCS's name and map of `spec`, if redis-server described it.
pub fn write_docs(w: &mut Writer, spec: &CommandSpec) -> bool {
    match catalog().docs.get(spec.name) {
        Some(v) => {
            w.bulk(spec.name.as_bytes());
            v.write(w);
            true
        }
        None => false,
    }
}

/// Every command and subcommand name, as COMMAND LIST gives them.
pub fn all_names() -> Vec<String> {
    let mut v = Vec::new();
    for spec in COMMANDS {
        v.push(spec.name.to_string());
        for sub in engine::table::subcommand_names(spec).unwrap_or(&[]) {
            v.push(format!("{}|{sub}", spec.name));
        }
    }
    v
}

/// The ACL categories of a command or "container|sub", without '@'.
pub fn categories(name: &str) -> Vec<String> {
    let entry = info_entry(name);
    match entry {
        Some(e) => e.items()[6]
            .items()
            .iter()
            .map(|c| {
                String::from_utf8_lossy(c.text())
                    .trim_start_matches('@')
                    .to_string()
            })
            .collect(),
        None => engine::lookup(name.as_bytes())
            .map(|s| {
                s.acl
                    .iter()
                    .map(|a| a.trim_start_matches('@').to_string())
                    .collect()
            })
            .unwrap_or_default(),
    }
}

/// The positions of the keys in `args`, as COMMAND GETKEYS gives them: the table's, and
/// MIGRATE's (a runtime command, which finds its own) as Redis' migrateGetKeys does.
pub fn key_positions(spec: &CommandSpec, args: Args) -> Vec<usize> {
    if spec.name == "migrate" {
        let keys = (6..args.len()).find(|&i| args.get(i).eq_ignore_ascii_case(b"keys"));
        return match keys {
            Some(i) => (i + 1..args.len()).collect(),
            None => vec![3],
        };
    }
    spec.key_positions(&args).collect()
}

/// The key specs of `spec` run with `args` (its subcommand's for a container).
fn key_specs(spec: &CommandSpec, args: Args) -> Option<&'static [V]> {
    let entry = match args.len() > 1 {
        true => {
            let sub = String::from_utf8_lossy(args.get(1)).to_ascii_lowercase();
            info_entry(&format!("{}|{sub}", spec.name)).or_else(|| info_entry(spec.name))
        }
        false => info_entry(spec.name),
    }?;
    Some(entry.items().get(8)?.items())
}

/// The COMMAND INFO entry of a command or of "container|sub" (found among its container's
/// subcommands).
fn info_entry(name: &str) -> Option<&'static V> {
    match name.split_once('|') {
        None => catalog().info.get(name),
        Some((c, _)) => catalog()
            .info
            .get(c)?
            .items()
            .get(9)?
            .items()
            .iter()
            .find(|s| s.items().first().map(V::text) == Some(name.as_bytes())),
    }
}

/// COMMAND GETKEYSANDFLAGS: each key's position with its spec's flags, found by the key
/// specs as Redis finds them; None when a spec cannot say (then the table's positions
/// are used, with the first spec's flags).
pub fn keys_and_flags(spec: &CommandSpec, args: Args) -> Vec<(usize, Vec<Vec<u8>>)> {
    let words = |w: &[&str]| w.iter().map(|f| f.as_bytes().to_vec()).collect::<Vec<_>>();
    // The two commands whose key flags depend on their arguments (Redis' VARIABLE_FLAGS
    // specs, read by setGetKeys and bitfieldGetKeys).
    match spec.name {
        "set" => {
            let get = (3..args.len()).any(|i| args.get(i).eq_ignore_ascii_case(b"get"));
            let flags = match get {
                true => words(&["RW", "access", "update"]),
                false => words(&["OW", "update"]),
            };
            return vec![(1, flags)];
        }
        "bitfield" => {
            let mut readonly = true;
            let mut i = 2;
            while i < args.len() {
                let rest = args.len() - i - 1;
                let w = args.get(i);
                if w.eq_ignore_ascii_case(b"get") && rest >= 2 {
                    i += 3;
                } else if (w.eq_ignore_ascii_case(b"set") || w.eq_ignore_ascii_case(b"incrby"))
                    && rest >= 3
                {
                    readonly = false;
                    break;
                } else if w.eq_ignore_ascii_case(b"overflow") && rest >= 1 {
                    i += 2;
                } else {
                    readonly = false;
                    break;
                }
            }
            let flags = match readonly {
                true => words(&["RO", "access"]),
                false => words(&["RW", "access", "update"]),
            };
            return vec![(1, flags)];
        }
        _ => {}
    }
    let specs = key_specs(spec, args).unwrap_or(&[]);
    let flags_of = |ks: &V| -> Vec<Vec<u8>> {
        ks.get("flags")
            .map(|f| f.items().iter().map(|x| x.text().to_vec()).collect())
            .unwrap_or_default()
    };
    let complete = |ks: &V| {
        let unknown = |part: &str| {
            ks.get(part).and_then(|b| b.get("type")).map(V::text) == Some(&b"unknown"[..])
        };
        !flags_of(ks).iter().any(|f| f == b"incomplete")
            && !unknown("begin_search")
            && !unknown("find_keys")
    };
    let argc = args.len() as i64;
    let mut out = Vec::new();
    for ks in specs.iter().filter(|ks| complete(ks)) {
        let Some((first, last, step)) = span(ks, args, argc) else {
            continue;
        };
        let mut i = first;
        while i <= last && i < argc && step > 0 {
            out.push((i as usize, flags_of(ks)));
            i += step;
        }
    }
    if specs.iter().all(complete) && !specs.is_empty() {
        return out;
    }
    // A spec that cannot say where its keys are (SORT's STORE, MIGRATE's KEYS): the
    // table's positions, each with the flags of the spec that found it, or of the last
    // incomplete one (SORT's STORE comes after its BY and GET).
    let other = specs
        .iter()
        .rfind(|ks| !complete(ks))
        .map(flags_of)
        .unwrap_or_default()
        .into_iter()
        .filter(|f| f != b"incomplete")
        .collect::<Vec<_>>();
    key_positions(spec, args)
        .into_iter()
        .map(|i| match out.iter().find(|(p, _)| *p == i) {
            Some((_, f)) => (i, f.clone()),
            None => (i, other.clone()),
        })
        .collect()
}

/// Where one key spec finds its keys in `args`: (first, last, step), as Redis'
/// getKeysUsingKeySpecs reads begin_search (index, keyword) and find_keys (range, keynum).
fn span(ks: &V, args: Args, argc: i64) -> Option<(i64, i64, i64)> {
    let bs = ks.get("begin_search")?;
    let bspec = bs.get("spec")?;
    let first = match bs.get("type")?.text() {
        b"index" => bspec.get("index")?.int(),
        b"keyword" => {
            let word = bspec.get("keyword")?.text();
            let from = bspec.get("startfrom")?.int();
            let (start, end) = if from > 0 {
                (from, argc - 1)
            } else {
                (argc + from, 0)
            };
            let mut i = start;
            let mut found = None;
            loop {
                if i >= argc || i < 1 {
                    break;
                }
                if args.get(i as usize).eq_ignore_ascii_case(word) {
                    found = Some(i + 1);
                    break;
                }
                if i == end {
                    break;
                }
                i = if start <= end { i + 1 } else { i - 1 };
            }
            found?
        }
        _ => return None,
    };
    let fk = ks.get("find_keys")?;
    let fspec = fk.get("spec")?;
    match fk.get("type")?.text() {
        b"range" => {
            let lastkey = fspec.get("lastkey")?.int();
            let step = fspec.get("keystep")?.int();
            let limit = fspec.get("limit")?.int();
            let last = if lastkey >= 0 {
                first + lastkey
            } else if limit == 0 {
                argc + lastkey
            } else {
                first + ((argc - first) / limit + lastkey)
            };
            Some((first, last, step))
        }
        b"keynum" => {
            let idx = first + fspec.get("keynumidx")?.int();
            if idx >= argc {
                return None;
            }
            let numkeys: i64 = std::str::from_utf8(args.get(idx as usize))
                .ok()?
                .parse()
                .ok()?;
            let step = fspec.get("keystep")?.int();
            let first = first + fspec.get("firstkey")?.int();
            Some((first, first + numkeys - 1, step))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The table percore routes by says what redis-server's description says: arity,
    /// flags, key positions and ACL categories, for every command.
    #[test]
    fn the_table_agrees_with_redis() {
        let c = catalog();
        let mut wrong = Vec::new();
        for spec in COMMANDS {
            let Some(e) = c.info.get(spec.name) else {
                wrong.push(format!("{}: not described by redis-server", spec.name));
                continue;
            };
            let f = e.items();
            if !c.docs.contains_key(spec.name) {
                wrong.push(format!("{}: no docs", spec.name));
            }
            if f[1].int() != spec.arity as i64 {
                wrong.push(format!(
                    "{}: arity {} vs {}",
                    spec.name,
                    spec.arity,
                    f[1].int()
                ));
            }
            // Containers route by their subcommands' keys, runtime commands find their own.
            let routed = matches!(spec.kind, engine::Kind::Keyed { .. })
                && engine::table::subcommand_names(spec).is_none();
            let keys = (f[3].int(), f[4].int(), f[5].int());
            if routed
                && keys
                    != (
                        spec.first_key as i64,
                        spec.last_key as i64,
                        spec.step as i64,
                    )
            {
                wrong.push(format!("{}: key positions {keys:?}", spec.name));
            }
            // A container's flags and categories are its subcommands' to Redis; percore's
            // checks read them off the container.
            if engine::table::subcommand_names(spec).is_some() {
                continue;
            }
            let flags: Vec<&[u8]> = f[2].items().iter().map(V::text).collect();
            for mine in spec.flags.names() {
                if !flags.contains(&mine.as_bytes()) {
                    wrong.push(format!("{}: flag {mine} not Redis'", spec.name));
                }
            }
            let acl: Vec<&[u8]> = f[6].items().iter().map(V::text).collect();
            let ours: Vec<&[u8]> = spec.acl.iter().map(|a| a.as_bytes()).collect();
            if acl != ours {
                wrong.push(format!("{}: ACL categories {ours:?}", spec.name));
            }
        }
        assert!(wrong.is_empty(), "{wrong:#?}");
    }

    #[test]
    fn subcommands_percore_lacks_are_not_listed() {
        let c = catalog();
        let client = &c.info["client"];
        let subs: Vec<&[u8]> = client.items()[9]
            .items()
            .iter()
            .map(|s| s.items()[0].text())
            .collect();
        assert!(subs.contains(&&b"client|list"[..]));
        for s in subs {
            assert!(implemented(s), "{}", String::from_utf8_lossy(s));
        }
    }
}
