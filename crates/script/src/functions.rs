//! Redis 7.0's functions (FUNCTION LOAD, FCALL): a library's metadata line, the
//! `redis.register_function` it calls while it loads, and the set of libraries every shard
//! shares. Each shard runs the libraries in its own Lua state (`Engine::functions`), built
//! from this set whenever it changed (`Libraries::generation`).

use crate::ScriptFlags;
use mlua::{Function, Lua, MultiValue, Table, Value};
use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

/// The only engine Redis 7.0 has, as FUNCTION LIST names it.
pub const ENGINE: &str = "LUA";

/// Redis' text for a bad library or function name.
const BAD_NAME: &str = "Library names can only contain letters, numbers, or underscores(_) and must be at least one character long";

/// One function of a library, as FUNCTION LIST shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FuncInfo {
    pub name: String,
    pub description: Option<Vec<u8>>,
    pub flags: ScriptFlags,
}

/// A loaded library.
#[derive(Debug)]
pub struct Library {
    pub name: String,
    /// The whole code FUNCTION LOAD was given, metadata line included (what FUNCTION LIST
    /// WITHCODE, FUNCTION DUMP and the RDB file hold).
    pub code: Arc<[u8]>,
    /// In registration order.
    pub functions: Vec<FuncInfo>,
}

/// A library's metadata line (`#!lua name=<name>`) and where its body starts.
pub struct Meta {
    pub name: String,
    /// The offset of the body: the newline that ends the metadata line (kept, so that line
    /// numbers in errors count from the metadata line as in Redis).
    pub body: usize,
}

/// Reads a library's metadata line as Redis' functionExtractLibMetaData, then checks its
/// name and engine (functionsCreateWithLibraryCtx). The error is the reply's text.
pub fn parse_meta(code: &[u8]) -> Result<Meta, String> {
    if !code.starts_with(b"#!") {
        return Err("ERR Missing library metadata".into());
    }
    let Some(end) = code.iter().position(|&b| b == b'\n') else {
        return Err("ERR Invalid library metadata".into());
    };
    let parts = config::split_args(&code[..end]).ok_or("ERR Invalid library metadata")?;
    let Some(first) = parts.first() else {
        return Err("ERR Invalid library metadata".into());
    };
    let engine = String::from_utf8_lossy(first.get(2..).unwrap_or_default()).into_owned();
    let mut name: Option<Vec<u8>> = None;
    for part in &parts[1..] {
        if part.len() >= 5 && part[..5].eq_ignore_ascii_case(b"name=") {
            if name.is_some() {
                return Err(
                    "ERR Invalid metadata value, name argument was given multiple times".into(),
                );
            }
            name = Some(part[5..].to_vec());
            continue;
        }
        return Err(format!(
            "ERR Invalid metadata value given: {}",
            String::from_utf8_lossy(part)
        ));
    }
    let Some(name) = name else {
        return Err("ERR Library name was not given".into());
    };
    if !valid_name(&name) {
        return Err(format!("ERR {BAD_NAME}"));
    }
    if !engine.eq_ignore_ascii_case(ENGINE) {
        return Err(format!("ERR Engine '{engine}' not found"));
    }
    Ok(Meta {
        name: String::from_utf8(name).unwrap_or_default(),
        body: end,
    })
}

/// Redis' functionsVerifyName: `[a-zA-Z0-9_]+`.
fn valid_name(name: &[u8]) -> bool {
    !name.is_empty() && name.iter().all(|&c| c.is_ascii_alphanumeric() || c == b'_')
}

/// A function registered by the library being loaded.
pub(crate) struct Registered {
    pub info: FuncInfo,
    pub callback: Function,
}

/// The registrations of the FUNCTION LOAD in progress.
pub(crate) type LoadCell = std::rc::Rc<std::cell::RefCell<Option<Vec<Registered>>>>;

/// The flags a function may carry, in the order Redis lists them.
pub const FLAG_NAMES: [&str; 5] = [
    "no-writes",
    "allow-oom",
    "allow-stale",
    "no-cluster",
    "allow-cross-slot-keys",
];

/// The names of `flags`, in Redis' order.
pub fn flag_names(flags: &ScriptFlags) -> Vec<&'static str> {
    let set = [
        flags.no_writes,
        flags.allow_oom,
        flags.allow_stale,
        flags.no_cluster,
        flags.allow_cross_slot,
    ];
    FLAG_NAMES
        .iter()
        .zip(set)
        .filter(|(_, on)| *on)
        .map(|(n, _)| *n)
        .collect()
}

fn set_flag(flags: &mut ScriptFlags, name: &[u8]) -> bool {
    let Some(i) = FLAG_NAMES
        .iter()
        .position(|f| f.as_bytes().eq_ignore_ascii_case(name))
    else {
        return false;
    };
    *[
        &mut flags.no_writes,
        &mut flags.allow_oom,
        &mut flags.allow_stale,
        &mut flags.no_cluster,
        &mut flags.allow_cross_slot,
    ][i] = true;
    true
}

/// `lua_isstring` then `lua_tostring`: strings and numbers.
fn string_of(v: &Value) -> Option<Vec<u8>> {
    match v {
        Value::String(s) => Some(s.as_bytes().to_vec()),
        Value::Integer(n) => Some(n.to_string().into_bytes()),
        Value::Number(n) => Some(crate::lua_tostring_number(*n).into_bytes()),
        _ => None,
    }
}

/// `redis.register_function`, as Redis' luaRegisterFunction: (error table, raise) on a
/// refusal, (nil, false) once registered.
pub(crate) fn register(
    lua: &Lua,
    loading: &LoadCell,
    args: MultiValue,
) -> mlua::Result<(Value, bool)> {
    let raise = |msg: &str| -> mlua::Result<(Value, bool)> {
        Ok((
            Value::Table(crate::convert::error_table(lua, msg.as_bytes())?),
            true,
        ))
    };
    let mut guard = loading.borrow_mut();
    let Some(registered) = guard.as_mut() else {
        return raise("redis.register_function can only be called on FUNCTION LOAD command");
    };
    let args: Vec<Value> = args.into_iter().collect();
    let (name, callback, description, flags) = match args.len() {
        1 => match named(&args[0]) {
            Ok(r) => r,
            Err(msg) => return raise(msg),
        },
        2 => {
            let Some(name) = string_of(&args[0]) else {
                return raise("first argument to redis.register_function must be a string");
            };
            let Value::Function(f) = &args[1] else {
                return raise("second argument to redis.register_function must be a function");
            };
            (name, f.clone(), None, ScriptFlags::default())
        }
        _ => return raise("wrong number of arguments to redis.register_function"),
    };
    if !valid_name(&name) {
        return raise(BAD_NAME);
    }
    let name = String::from_utf8(name).unwrap_or_default();
    if registered.iter().any(|r| r.info.name == name) {
        return raise("Function already exists in the library");
    }
    registered.push(Registered {
        info: FuncInfo {
            name,
            description,
            flags,
        },
        callback,
    });
    Ok((Value::Nil, false))
}

type Named = (Vec<u8>, Function, Option<Vec<u8>>, ScriptFlags);

/// `redis.register_function{function_name=..., callback=..., flags=..., description=...}`.
fn named(arg: &Value) -> Result<Named, &'static str> {
    let Value::Table(t) = arg else {
        return Err("calling redis.register_function with a single argument is only applicable to Lua table (representing named arguments).");
    };
    let (mut name, mut callback, mut description) = (None, None, None);
    let mut flags = ScriptFlags::default();
    for pair in t.clone().pairs::<Value, Value>() {
        let Ok((k, v)) = pair else {
            return Err("named argument key given to redis.register_function is not a string");
        };
        let Some(key) = string_of(&k) else {
            return Err("named argument key given to redis.register_function is not a string");
        };
        let key = key.to_ascii_lowercase();
        match key.as_slice() {
            b"function_name" => {
                name = Some(string_of(&v).ok_or(
                    "function_name argument given to redis.register_function must be a string",
                )?)
            }
            b"description" => {
                description = Some(string_of(&v).ok_or(
                    "description argument given to redis.register_function must be a string",
                )?)
            }
            b"callback" => match v {
                Value::Function(f) => callback = Some(f),
                _ => {
                    return Err(
                        "callback argument given to redis.register_function must be a function",
                    )
                }
            },
            b"flags" => {
                let Value::Table(list) = v else {
                    return Err("flags argument to redis.register_function must be a table representing function flags");
                };
                flags = read_flags(&list)?;
            }
            _ => return Err("unknown argument given to redis.register_function"),
        }
    }
    let name = name.ok_or("redis.register_function must get a function name argument")?;
    let callback = callback.ok_or("redis.register_function must get a callback argument")?;
    Ok((name, callback, description, flags))
}

/// The flags list of a named registration: strings up to the first nil.
fn read_flags(list: &Table) -> Result<ScriptFlags, &'static str> {
    let mut flags = ScriptFlags::default();
    for i in 1.. {
        let v: Value = list.get(i).map_err(|_| "unknown flag given")?;
        if v == Value::Nil {
            break;
        }
        let name = string_of(&v).ok_or("unknown flag given")?;
        if !set_flag(&mut flags, &name) {
            return Err("unknown flag given");
        }
    }
    Ok(flags)
}

/// What FUNCTION RESTORE does with libraries that exist.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Policy {
    Flush,
    Append,
    Replace,
}

/// Every library, shared by the shards. Changes bump the generation, which tells each
/// shard's Lua state to load the set again before its next FCALL.
#[derive(Default)]
pub struct Libraries {
    inner: Mutex<Set>,
    generation: AtomicU64,
}

#[derive(Default)]
struct Set {
    libs: BTreeMap<String, Arc<Library>>,
    /// Function name, lowercase (FCALL's names are case-insensitive) -> its library.
    funcs: HashMap<String, String>,
}

impl Set {
    fn unlink(&mut self, name: &str) -> Option<Arc<Library>> {
        let lib = self.libs.remove(name)?;
        for f in &lib.functions {
            self.funcs.remove(&f.name.to_ascii_lowercase());
        }
        Some(lib)
    }

    fn link(&mut self, lib: Arc<Library>) {
        for f in &lib.functions {
            self.funcs
                .insert(f.name.to_ascii_lowercase(), lib.name.clone());
        }
        self.libs.insert(lib.name.clone(), lib);
    }

    /// The first of `lib`'s functions another library has.
    fn collision<'a>(&self, lib: &'a Library) -> Option<&'a str> {
        lib.functions
            .iter()
            .find(|f| self.funcs.contains_key(&f.name.to_ascii_lowercase()))
            .map(|f| f.name.as_str())
    }
}

impl Libraries {
    fn set(&self) -> std::sync::MutexGuard<'_, Set> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn changed(&self) {
        self.generation.fetch_add(1, Ordering::SeqCst);
    }

    /// Moves on with every change; a shard's Lua state is current while it has this.
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::SeqCst)
    }

    /// The libraries' code, in bytes (MEMORY STATS' functions.caches).
    pub fn code_bytes(&self) -> usize {
        self.set().libs.values().map(|l| l.code.len()).sum()
    }

    /// The libraries and the generation they are of.
    pub fn snapshot(&self) -> (u64, Vec<Arc<Library>>) {
        let set = self.set();
        (self.generation(), set.libs.values().cloned().collect())
    }

    pub fn exists(&self, name: &str) -> bool {
        self.set().libs.contains_key(name)
    }

    /// A function by name (case-insensitive).
    pub fn function(&self, name: &[u8]) -> Option<FuncInfo> {
        let set = self.set();
        let key = String::from_utf8_lossy(name).to_ascii_lowercase();
        let lib = set.libs.get(set.funcs.get(&key)?)?;
        lib.functions
            .iter()
            .find(|f| f.name.eq_ignore_ascii_case(&key))
            .cloned()
    }

    /// FUNCTION LOAD's last step: adds `lib` (replacing the library of that name when
    /// `replace`). The error is the reply's text.
    pub fn add(&self, lib: Library, replace: bool) -> Result<(), String> {
        let mut set = self.set();
        let old = match set.libs.contains_key(&lib.name) {
            true if !replace => return Err(format!("ERR Library '{}' already exists", lib.name)),
            true => set.unlink(&lib.name),
            false => None,
        };
        if let Some(f) = set.collision(&lib) {
            let err = format!("ERR Function {f} already exists");
            if let Some(old) = old {
                set.link(old);
            }
            return Err(err);
        }
        set.link(Arc::new(lib));
        drop(set);
        self.changed();
        Ok(())
    }

    /// FUNCTION DELETE.
    pub fn delete(&self, name: &[u8]) -> bool {
        let name = String::from_utf8_lossy(name);
        let gone = self.set().unlink(&name).is_some();
        if gone {
            self.changed();
        }
        gone
    }

    /// FUNCTION FLUSH.
    pub fn flush(&self) {
        *self.set() = Set::default();
        self.changed();
    }

    /// FUNCTION RESTORE (and loading an RDB file's libraries): adds `libs` as `policy`
    /// says, all or none. The error is the reply's text.
    pub fn restore(&self, libs: Vec<Library>, policy: Policy) -> Result<(), String> {
        let mut set = self.set();
        let mut fresh = Set::default();
        for lib in libs {
            // Two of the payload's own libraries colliding is the payload's error.
            if fresh.libs.contains_key(&lib.name) {
                return Err(format!("ERR Library '{}' already exists", lib.name));
            }
            if let Some(f) = fresh.collision(&lib) {
                return Err(format!("ERR Function {f} already exists"));
            }
            fresh.link(Arc::new(lib));
        }
        if policy == Policy::Flush {
            *set = fresh;
            drop(set);
            self.changed();
            return Ok(());
        }
        let mut old = Vec::new();
        for name in fresh.libs.keys() {
            if set.libs.contains_key(name) {
                if policy == Policy::Append {
                    for lib in old {
                        set.link(lib);
                    }
                    return Err(format!("ERR Library {name} already exists"));
                }
                old.extend(set.unlink(name));
            }
        }
        if let Some(f) = fresh.libs.values().find_map(|l| set.collision(l)) {
            let err = format!("ERR Function {f} already exists");
            for lib in old {
                set.link(lib);
            }
            return Err(err);
        }
        for (_, lib) in std::mem::take(&mut fresh.libs) {
            set.link(lib);
        }
        drop(set);
        self.changed();
        Ok(())
    }

    /// (libraries, functions), for FUNCTION STATS.
    pub fn counts(&self) -> (usize, usize) {
        let set = self.set();
        (set.libs.len(), set.funcs.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metadata_reads_as_redis_reads_it() {
        let ok = |code: &str| parse_meta(code.as_bytes()).map(|m| m.name);
        assert_eq!(ok("#!lua name=lib\nx").unwrap(), "lib");
        assert_eq!(ok("#!LUA name=\"foo\"\nx").unwrap(), "foo");
        assert_eq!(ok("#!lua NAME=a_1\n").unwrap(), "a_1");
        for (code, err) in [
            ("lua name=x\n", "ERR Missing library metadata"),
            ("#!lua name=x", "ERR Invalid library metadata"),
            ("#!lua name=\"x\n", "ERR Invalid library metadata"),
            ("#! name=test\n", "ERR Engine '' not found"),
            ("#!js name=test\n", "ERR Engine 'js' not found"),
            (
                "#!lua name=test foo=bar\n",
                "ERR Invalid metadata value given: foo=bar",
            ),
            ("#!lua\n", "ERR Library name was not given"),
            (
                "#!lua name=foo name=bar\n",
                "ERR Invalid metadata value, name argument was given multiple times",
            ),
            ("#!lua name=a-b\n", &format!("ERR {BAD_NAME}")),
            ("#!lua name=\n", &format!("ERR {BAD_NAME}")),
        ] {
            assert_eq!(ok(code).unwrap_err(), err, "{code:?}");
        }
    }

    fn lib(name: &str, funcs: &[&str]) -> Library {
        Library {
            name: name.into(),
            code: Arc::from(&b""[..]),
            functions: funcs
                .iter()
                .map(|f| FuncInfo {
                    name: f.to_string(),
                    description: None,
                    flags: ScriptFlags::default(),
                })
                .collect(),
        }
    }

    #[test]
    fn libraries_add_replace_and_restore_all_or_nothing() {
        let l = Libraries::default();
        l.add(lib("a", &["f1", "f2"]), false).unwrap();
        assert_eq!(
            l.add(lib("a", &["f3"]), false).unwrap_err(),
            "ERR Library 'a' already exists"
        );
        assert_eq!(
            l.add(lib("b", &["F1"]), false).unwrap_err(),
            "ERR Function F1 already exists"
        );
        // A replace that collides keeps the old library.
        l.add(lib("b", &["g"]), false).unwrap();
        assert_eq!(
            l.add(lib("a", &["g"]), true).unwrap_err(),
            "ERR Function g already exists"
        );
        assert_eq!(l.function(b"F2").unwrap().name, "f2");
        l.add(lib("a", &["h"]), true).unwrap();
        assert!(l.function(b"f1").is_none());
        assert_eq!(l.counts(), (2, 2));
        assert_eq!(
            l.restore(vec![lib("c", &["x"]), lib("a", &["y"])], Policy::Append)
                .unwrap_err(),
            "ERR Library a already exists"
        );
        assert_eq!(l.counts(), (2, 2));
        l.restore(vec![lib("c", &["x"]), lib("a", &["y"])], Policy::Replace)
            .unwrap();
        assert_eq!(l.counts(), (3, 3));
        assert!(l.function(b"h").is_none() && l.function(b"y").is_some());
        l.restore(vec![lib("z", &["q"])], Policy::Flush).unwrap();
        assert_eq!(l.counts(), (1, 1));
        assert!(l.delete(b"z") && !l.delete(b"z"));
        assert_eq!(l.counts(), (0, 0));
    }
}
