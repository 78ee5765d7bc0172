//! Lua scripting as Redis 7.0 runs it (EVAL and friends): one Lua 5.1 state per shard, its
//! cache of compiled scripts, the sandbox (read-only globals and libraries), the `redis`
//! object, and the conversions between replies and Lua values. Which shard's keys a
//! command touches and how it runs is the runtime's business, behind [`Host`]: this crate
//! does no I/O and knows no core.

pub mod convert;
pub mod libs;

use engine::CommandSpec;
use mlua::{Function, Lua, LuaOptions, MultiValue, StdLib, Table, Value};
use resp::{Proto, Writer};
use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;
use std::sync::Arc;

/// The libraries Redis loads besides Lua's own, by global name.
type Open = fn(&Lua) -> mlua::Result<Table>;
const LIBRARIES: &[(&str, Open)] = &[
    ("cjson", libs::cjson::open),
    ("struct", libs::structlib::open),
    ("cmsgpack", libs::cmsgpack::open),
    ("bit", libs::bit::open),
];

/// What Redis reports as the server's version inside scripts.
pub const REDIS_VERSION: &str = "7.0.15";
const REDIS_VERSION_NUM: u32 = 0x0007_000f;

/// Runs the commands a script calls.
pub trait Host {
    /// Runs `args` (already checked: a known command, its arity, allowed in scripts) against
    /// database `db` and appends its reply, in `proto`, to `out`. `propagate`: whether its
    /// effects go to the journal (`redis.set_repl`).
    fn call(
        &mut self,
        spec: &'static CommandSpec,
        args: engine::Args,
        db: usize,
        proto: Proto,
        propagate: bool,
        out: &mut Vec<u8>,
    ) -> Result<(), Refusal>;
}

/// Why a host did not run a command.
pub enum Refusal {
    /// It needs keys this run cannot reach (on another shard, or held by someone else), and
    /// the script has not written yet: the run stops and the runtime runs the script again
    /// with a broader lock.
    Retry,
    /// An error for the script, as if the command had answered it.
    Error(String),
}

/// A script's shebang flags (`#!lua flags=...`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ScriptFlags {
    /// No shebang: Redis' compatibility mode (the command's own flags apply).
    pub compat: bool,
    pub no_writes: bool,
    pub allow_oom: bool,
    pub allow_stale: bool,
    pub no_cluster: bool,
    pub allow_cross_slot: bool,
}

/// A compiled script.
struct Script {
    func: Function,
    flags: ScriptFlags,
}

/// One EVAL's inputs.
pub struct Eval<'a> {
    pub keys: &'a [&'a [u8]],
    pub args: &'a [&'a [u8]],
    /// The caller's database.
    pub db: usize,
    pub databases: usize,
    /// EVAL_RO / EVALSHA_RO.
    pub read_only: bool,
    /// The caller's protocol: the reply's.
    pub proto: Proto,
}

/// How a run ended.
#[derive(Debug, PartialEq, Eq)]
pub enum Outcome {
    /// The reply is written; `wrote`: a write command ran; `missed`: the host refused a
    /// key after the script wrote (the reply is an error; later runs should be broader).
    Done { wrote: bool, missed: bool },
    /// The host asked for a broader run before anything was written; nothing is written to
    /// the output.
    Retry,
}

/// The state of the run in progress, shared with the `redis.*` callbacks.
struct Run {
    /// The host lent to `eval` for the run (its lifetime erased; cleared before `eval`
    /// returns, so no callback can reach it afterwards).
    host: *mut (dyn Host + 'static),
    db: usize,
    databases: usize,
    resp3: bool,
    read_only: bool,
    propagate: bool,
    wrote: bool,
    retry: bool,
    missed: bool,
    /// The words of the call in progress, reused by every call.
    words: engine::args::OwnedArgs,
    /// A reply buffer reused by every call.
    scratch: Vec<u8>,
}

type RunCell = Rc<RefCell<Option<Run>>>;

/// One shard's Lua state and script cache.
pub struct Engine {
    lua: Lua,
    /// The real globals (scripts see a read-only proxy).
    globals: Table,
    handler: Function,
    runner: Function,
    scripts: HashMap<[u8; 40], Script>,
    run: RunCell,
    calls: u32,
}

/// The SHA1 of `body` in lowercase hex, as EVALSHA names scripts.
pub fn sha1hex(body: &[u8]) -> [u8; 40] {
    use sha1::{Digest, Sha1};
    let digest = Sha1::digest(body);
    let mut out = [0u8; 40];
    for (i, b) in digest.iter().enumerate() {
        out[2 * i] = b"0123456789abcdef"[(b >> 4) as usize];
        out[2 * i + 1] = b"0123456789abcdef"[(b & 15) as usize];
    }
    out
}

/// Parses the shebang line Redis 7.0 accepts (`#!lua flags=no-writes,...`); returns the
/// flags and the length of the line (kept out of what is compiled, its newline kept so line
/// numbers stay right).
pub fn shebang(body: &[u8]) -> Result<(ScriptFlags, usize), String> {
    let mut flags = ScriptFlags {
        compat: true,
        ..Default::default()
    };
    if !body.starts_with(b"#!") {
        return Ok((flags, 0));
    }
    let Some(end) = body.iter().position(|&b| b == b'\n') else {
        return Err("Invalid script shebang".into());
    };
    let line = String::from_utf8_lossy(&body[..end]);
    let mut parts = line.split_ascii_whitespace();
    let Some(engine) = parts.next() else {
        return Err("Invalid engine in script shebang".into());
    };
    if engine != "#!lua" {
        return Err(format!("Unexpected engine in script shebang: {engine}"));
    }
    flags.compat = false;
    for part in parts {
        let Some(list) = part.strip_prefix("flags=") else {
            return Err(format!("Unknown lua shebang option: {part}"));
        };
        for f in list.split(',').filter(|f| !f.is_empty()) {
            match f {
                "no-writes" => flags.no_writes = true,
                "allow-oom" => flags.allow_oom = true,
                "allow-stale" => flags.allow_stale = true,
                "no-cluster" => flags.no_cluster = true,
                "allow-cross-slot-keys" => flags.allow_cross_slot = true,
                other => return Err(format!("Unexpected flag in script shebang: {other}")),
            }
        }
    }
    Ok((flags, end))
}

/// rand48 as Redis' rand.c: the same sequence for the same seed on every platform.
struct Rand48(u64);

impl Rand48 {
    const A: u64 = 0x5_DEEC_E66D;
    const MASK: u64 = (1 << 48) - 1;

    fn next(&mut self) -> i32 {
        self.0 = (Self::A.wrapping_mul(self.0).wrapping_add(0xB)) & Self::MASK;
        (self.0 >> 17) as i32
    }

    fn seed(&mut self, seed: i32) {
        self.0 = (((seed as u32 as u64) & 0xffff_ffff) << 16) | 0x330E;
    }
}

fn err_value(lua: &Lua, msg: &str) -> mlua::Result<(Value, bool)> {
    Ok((
        Value::Table(convert::error_table(lua, msg.as_bytes())?),
        true,
    ))
}

impl Engine {
    pub fn new() -> mlua::Result<Engine> {
        let lua = Lua::new_with(
            StdLib::TABLE | StdLib::STRING | StdLib::MATH,
            LuaOptions::new(),
        )?;
        let globals = lua.globals();
        let run: RunCell = Rc::new(RefCell::new(None));
        for (name, open) in LIBRARIES {
            globals.raw_set(*name, open(&lua)?)?;
        }
        let prim = lua.create_table()?;
        let redis = lua.create_table()?;
        for (k, v) in [
            ("LOG_DEBUG", 0),
            ("LOG_VERBOSE", 1),
            ("LOG_NOTICE", 2),
            ("LOG_WARNING", 3),
            ("REPL_NONE", 0),
            ("REPL_AOF", 1),
            ("REPL_SLAVE", 2),
            ("REPL_REPLICA", 2),
            ("REPL_ALL", 3),
        ] {
            redis.raw_set(k, v)?;
        }
        redis.raw_set("REDIS_VERSION", REDIS_VERSION)?;
        redis.raw_set("REDIS_VERSION_NUM", REDIS_VERSION_NUM)?;
        prim.raw_set("redis", redis)?;

        let r = run.clone();
        prim.raw_set(
            "call",
            lua.create_function(move |lua, args: MultiValue| call(lua, &r, true, args))?,
        )?;
        let r = run.clone();
        prim.raw_set(
            "pcall",
            lua.create_function(move |lua, args: MultiValue| call(lua, &r, false, args))?,
        )?;
        prim.raw_set(
            "sha1hex",
            lua.create_function(|lua, args: MultiValue| {
                if args.len() != 1 {
                    return err_value(lua, "wrong number of arguments");
                }
                let s = match &args[0] {
                    Value::String(s) => s.as_bytes().to_vec(),
                    Value::Number(n) => lua_tostring_number(*n).into_bytes(),
                    Value::Integer(n) => n.to_string().into_bytes(),
                    _ => Vec::new(),
                };
                let hex = sha1hex(&s);
                Ok((Value::String(lua.create_string(hex)?), false))
            })?,
        )?;
        prim.raw_set(
            "error_reply",
            lua.create_function(|lua, args: MultiValue| {
                let bad = || convert::error_table(lua, b"wrong number or type of arguments");
                match (args.len(), args.front()) {
                    (1, Some(Value::String(s))) => {
                        let s = s.as_bytes();
                        let mut msg = Vec::with_capacity(s.len() + 1);
                        if !s.starts_with(b"-") {
                            msg.push(b'-');
                        }
                        msg.extend_from_slice(&s);
                        convert::error_table(lua, &msg)
                    }
                    _ => bad(),
                }
            })?,
        )?;
        prim.raw_set(
            "status_reply",
            lua.create_function(|lua, args: MultiValue| match (args.len(), args.front()) {
                (1, Some(Value::String(s))) => {
                    let t = lua.create_table()?;
                    t.raw_set("ok", s.clone())?;
                    Ok(t)
                }
                _ => convert::error_table(lua, b"wrong number or type of arguments"),
            })?,
        )?;
        prim.raw_set(
            "log",
            lua.create_function(|lua, args: MultiValue| {
                if args.len() < 2 {
                    return err_value(lua, "redis.log() requires two arguments or more.");
                }
                let level = match &args[0] {
                    Value::Number(n) => *n as i64,
                    Value::Integer(n) => *n,
                    Value::String(s) => match s
                        .to_str()
                        .ok()
                        .and_then(|s| s.trim().parse::<f64>().ok())
                    {
                        Some(n) => n as i64,
                        None => {
                            return err_value(lua, "First argument must be a number (log level).")
                        }
                    },
                    _ => return err_value(lua, "First argument must be a number (log level)."),
                };
                if !(0..=3).contains(&level) {
                    return err_value(lua, "Invalid debug level.");
                }
                let mut parts = Vec::new();
                for v in args.iter().skip(1) {
                    match v {
                        Value::String(s) => parts.push(s.to_string_lossy()),
                        Value::Number(n) => parts.push(lua_tostring_number(*n)),
                        Value::Integer(n) => parts.push(n.to_string()),
                        _ => {}
                    }
                }
                let msg = parts.join(" ");
                match level {
                    0 => tracing::debug!(target: "script", "{msg}"),
                    1 => tracing::debug!(target: "script", "{msg}"),
                    2 => tracing::info!(target: "script", "{msg}"),
                    _ => tracing::warn!(target: "script", "{msg}"),
                }
                Ok((Value::Nil, false))
            })?,
        )?;
        let r = run.clone();
        prim.raw_set(
            "setresp",
            lua.create_function(move |lua, args: MultiValue| {
                let mut run = r.borrow_mut();
                let Some(run) = run.as_mut() else {
                    return err_value(
                        lua,
                        "redis.setresp can only be called inside a script invocation",
                    );
                };
                if args.len() != 1 {
                    return err_value(lua, "redis.setresp() requires one argument.");
                }
                match number_of(&args[0]) as i64 {
                    2 => run.resp3 = false,
                    3 => run.resp3 = true,
                    _ => return err_value(lua, "RESP version must be 2 or 3."),
                }
                Ok((Value::Nil, false))
            })?,
        )?;
        let r = run.clone();
        prim.raw_set(
            "set_repl",
            lua.create_function(move |lua, args: MultiValue| {
                let mut run = r.borrow_mut();
                let Some(run) = run.as_mut() else {
                    return err_value(
                        lua,
                        "redis.set_repl can only be called inside a script invocation",
                    );
                };
                if args.len() != 1 {
                    return err_value(lua, "redis.set_repl() requires two arguments.");
                }
                let flags = number_of(&args[0]) as i64;
                if flags & !3 != 0 {
                    return err_value(
                        lua,
                        "Invalid replication flags. Use REPL_AOF, REPL_REPLICA, REPL_ALL or REPL_NONE.",
                    );
                }
                // The journal feeds the AOF and replicas alike: a script's effects go to
                // it unless both are turned off.
                run.propagate = flags != 0;
                Ok((Value::Nil, false))
            })?,
        )?;
        prim.raw_set(
            "acl_check_cmd",
            lua.create_function(|lua, args: MultiValue| {
                if args.is_empty() {
                    return err_value(
                        lua,
                        "Please specify at least one argument for this redis lib call",
                    );
                }
                let name = match &args[0] {
                    Value::String(s) => s.as_bytes().to_vec(),
                    _ => Vec::new(),
                };
                if engine::lookup(&name).is_none() {
                    return err_value(lua, "Invalid command passed to redis.acl_check_cmd()");
                }
                // Every client may run every command until ACL users exist.
                Ok((Value::Boolean(true), false))
            })?,
        )?;
        // A C function that checks its first argument is a table, then calls a Lua function
        // with its arguments (pairs, ipairs, next over the read-only proxies): the check's
        // error carries the script's position even from `return pairs(x)`.
        prim.raw_set(
            "checked",
            lua.create_function(|lua, (name, inner): (String, Function)| {
                libs::c_function(lua, move |_, args: MultiValue| {
                    let first = args.front().cloned();
                    if !matches!(first, Some(Value::Table(_))) {
                        let _ = &name;
                        return Err(libs::Raise::type_error(1, "table", first.as_ref()));
                    }
                    Ok(inner.call::<MultiValue>(args)?)
                })
            })?,
        )?;
        // math.random and math.randomseed as Redis replaces them: rand48, so that a seed
        // gives the same numbers everywhere.
        let rand = Rc::new(RefCell::new(Rand48(0x1234_ABCD_330E)));
        let rr = rand.clone();
        prim.raw_set(
            "random",
            libs::c_function(&lua, move |lua, args: MultiValue| {
                let args: Vec<Value> = args.into_iter().collect();
                let r = (rr.borrow_mut().next() % 2_147_483_647) as f64 / 2_147_483_647.0;
                // luaL_checkint: an int, truncated.
                let int = |n: usize| -> libs::LibResult<i64> {
                    Ok(libs::check_integer(lua, &args, n)? as i32 as i64)
                };
                let v = match args.len() {
                    0 => r,
                    1 => {
                        let u = int(1)?;
                        if u < 1 {
                            return Err(libs::Raise::arg(1, "interval is empty"));
                        }
                        (r * u as f64).floor() + 1.0
                    }
                    2 => {
                        let (l, u) = (int(1)?, int(2)?);
                        if l > u {
                            return Err(libs::Raise::arg(2, "interval is empty"));
                        }
                        (r * (u - l + 1) as f64).floor() + l as f64
                    }
                    _ => return Err(libs::Raise::msg("wrong number of arguments")),
                };
                Ok(MultiValue::from_iter([Value::Number(v)]))
            })?,
        )?;
        prim.raw_set(
            "randomseed",
            libs::c_function(&lua, move |lua, args: MultiValue| {
                let args: Vec<Value> = args.into_iter().collect();
                let seed = libs::check_integer(lua, &args, 1)? as i32;
                rand.borrow_mut().seed(seed);
                Ok(MultiValue::new())
            })?,
        )?;

        for name in [
            "call",
            "pcall",
            "sha1hex",
            "log",
            "setresp",
            "set_repl",
            "acl_check_cmd",
        ] {
            let f: Function = prim.raw_get(name)?;
            prim.raw_set(name, raising(&lua, f)?)?;
        }
        // SAFETY: pushes one C function.
        let pcall = unsafe {
            lua.exec_raw::<Function>((), |l| mlua::ffi::lua_pushcfunction(l, redis_pcall))?
        };
        prim.raw_set("pcall_c", pcall)?;
        let env: Table = lua
            .load(include_str!("sandbox.lua"))
            .set_name("=sandbox")
            .call((globals.clone(), prim))?;
        lua.set_globals(env)?;

        let handler = lua.create_function(error_handler)?;
        let runner: Function = lua
            .load("local xpcall = xpcall\nreturn function(f, h) return xpcall(f, h) end")
            .set_name("=runner")
            .call(())?;
        Ok(Engine {
            lua,
            globals,
            handler,
            runner,
            scripts: HashMap::new(),
            run,
            calls: 0,
        })
    }

    /// Whether script `sha` (lowercase hex) is compiled here.
    pub fn has(&self, sha: &[u8; 40]) -> bool {
        self.scripts.contains_key(sha)
    }

    /// The flags of a compiled script.
    pub fn flags(&self, sha: &[u8; 40]) -> Option<ScriptFlags> {
        self.scripts.get(sha).map(|s| s.flags)
    }

    /// Compiles `body` (SCRIPT LOAD, or EVAL of a script not seen yet); returns its SHA1.
    /// The error is the reply's text.
    pub fn load(&mut self, body: &[u8]) -> Result<[u8; 40], String> {
        let sha = sha1hex(body);
        if self.scripts.contains_key(&sha) {
            return Ok(sha);
        }
        let (flags, skip) = shebang(body).map_err(|e| format!("ERR {e}"))?;
        let func = self
            .lua
            .load(&body[skip..])
            .set_name("@user_script")
            .set_mode(mlua::chunk::ChunkMode::Text)
            .into_function()
            .map_err(|e| {
                let msg = match e {
                    mlua::Error::SyntaxError { message, .. } => message,
                    other => other.to_string(),
                };
                format!("ERR Error compiling script (new function): {msg}")
            })?;
        self.scripts.insert(sha, Script { func, flags });
        Ok(sha)
    }

    /// Forgets every script and starts a fresh Lua state (SCRIPT FLUSH).
    pub fn flush(&mut self) -> mlua::Result<()> {
        *self = Engine::new()?;
        Ok(())
    }

    /// Memory the Lua state uses (INFO's used_memory_lua).
    pub fn memory(&self) -> usize {
        self.lua.used_memory()
    }

    /// Runs compiled script `sha` and writes its reply (in `eval.proto`) to `out`. The host
    /// comes back with the outcome. A script that is not compiled here is the caller's
    /// error to report (NOSCRIPT): `load` it first.
    pub fn eval(
        &mut self,
        sha: &[u8; 40],
        eval: &Eval,
        host: &mut dyn Host,
        out: &mut Vec<u8>,
    ) -> Outcome {
        let Some(script) = self.scripts.get(sha) else {
            Writer::new(out, eval.proto).error("NOSCRIPT No matching script. Please use EVAL.");
            return Outcome::Done {
                wrote: false,
                missed: false,
            };
        };
        let flags = script.flags;
        let func = script.func.clone();
        if !flags.compat && !flags.no_writes && eval.read_only {
            Writer::new(out, eval.proto)
                .error("ERR Can not execute a script with write flag using *_ro command.");
            return Outcome::Done {
                wrote: false,
                missed: false,
            };
        }
        let host: *mut (dyn Host + '_) = host;
        // SAFETY: only the lifetime is erased; the pointer is dropped from `self.run` before
        // this function returns, and nothing else keeps it.
        let host: *mut (dyn Host + 'static) = unsafe { std::mem::transmute(host) };
        *self.run.borrow_mut() = Some(Run {
            host,
            db: eval.db,
            databases: eval.databases,
            resp3: false,
            read_only: eval.read_only || (!flags.compat && flags.no_writes),
            propagate: true,
            wrote: false,
            retry: false,
            missed: false,
            words: Default::default(),
            scratch: Vec::new(),
        });
        let set = |name: &str, items: &[&[u8]]| -> mlua::Result<()> {
            let t = self.lua.create_table_with_capacity(items.len(), 0)?;
            for (i, a) in items.iter().enumerate() {
                t.raw_set(i + 1, self.lua.create_string(a)?)?;
            }
            self.globals.raw_set(name, t)
        };
        let result = set("KEYS", eval.keys)
            .and_then(|()| set("ARGV", eval.args))
            .and_then(|()| {
                self.runner
                    .call::<(bool, Value)>((func, self.handler.clone()))
            });
        let run = self.run.borrow_mut().take().expect("run state");
        self.calls += 1;
        if self.calls >= 50 {
            self.calls = 0;
            // Redis steps the collector once every 50 calls (lua_gc(LUA_GCSTEP, 50)) so a
            // full cycle never lands on one call; Lua's own pacing does the rest.
            let _ = self.lua.gc_step();
        }
        if run.retry {
            self.lua.remove_hook();
            return Outcome::Retry;
        }
        let sha_str = std::str::from_utf8(sha).unwrap_or("");
        let mut w = Writer::new(out, eval.proto);
        match result {
            Ok((true, v)) => convert::write_lua(&mut w, &v, run.resp3, 0),
            Ok((false, Value::Table(t))) => {
                let msg = t
                    .raw_get::<Option<mlua::LuaString>>("err")
                    .ok()
                    .flatten()
                    .map(|s| s.as_bytes().to_vec())
                    .unwrap_or_else(|| b"ERR unknown error".to_vec());
                let source = t
                    .raw_get::<Option<mlua::LuaString>>("source")
                    .ok()
                    .flatten();
                let line = t.raw_get::<Option<i64>>("line").ok().flatten();
                let mut text = msg;
                if let (Some(source), Some(line)) = (source, line) {
                    text.extend_from_slice(
                        format!(
                            " script: {sha_str}, on {}:{line}.",
                            source.to_string_lossy()
                        )
                        .as_bytes(),
                    );
                }
                convert::write_error(&mut w, &text);
            }
            Ok((false, other)) => {
                let msg = match other {
                    Value::String(s) => s.to_string_lossy(),
                    _ => "execution failure".into(),
                };
                let msg: String = msg.chars().take(100).collect();
                w.error(&format!("ERR Error running script f_{sha_str}, {msg}"));
            }
            Err(e) => w.error(&format!("ERR Error running script f_{sha_str}, {e}")),
        }
        Outcome::Done {
            wrote: run.wrote,
            missed: run.missed,
        }
    }
}

/// Calls its upvalue, a Rust function answering (value, raise), and raises the value as
/// the Lua error when asked (Lua's `lua_error` with a table, which an mlua callback cannot
/// do). Being a C function, it keeps a caller's `return f(...)` frame, as Redis' C
/// functions do, so the error handler finds the script's line.
unsafe extern "C-unwind" fn trampoline(l: *mut mlua::ffi::lua_State) -> libc::c_int {
    use mlua::ffi;
    // No Rust value with a destructor lives in this frame: lua_error may jump over it.
    let n = ffi::lua_gettop(l);
    ffi::lua_pushvalue(l, ffi::lua_upvalueindex(1));
    ffi::lua_insert(l, 1);
    ffi::lua_call(l, n, 2);
    if ffi::lua_toboolean(l, -1) != 0 {
        ffi::lua_settop(l, -2);
        ffi::lua_error(l);
    }
    ffi::lua_settop(l, -2);
    1
}

/// Redis' `pcall` (luaRedisPcall): Lua's, except that an error table's `err` string is what
/// the caller gets. A C function of its own rather than mlua's `pcall`, which pushes its
/// status after the results without room for it (an API check fails with many results).
unsafe extern "C-unwind" fn redis_pcall(l: *mut mlua::ffi::lua_State) -> libc::c_int {
    use mlua::ffi;
    let argc = ffi::lua_gettop(l);
    ffi::luaL_checkstack(l, 2, std::ptr::null());
    // The status goes below the function first, so nothing is pushed above the results.
    ffi::lua_pushboolean(l, 1);
    ffi::lua_insert(l, 1);
    if ffi::lua_pcall(l, argc - 1, ffi::LUA_MULTRET, 0) != 0 {
        ffi::lua_remove(l, 1);
        if ffi::lua_type(l, -1) == ffi::LUA_TTABLE {
            ffi::lua_getfield(l, -1, c"err".as_ptr());
            if ffi::lua_isstring(l, -1) != 0 {
                ffi::lua_replace(l, -2);
            } else {
                ffi::lua_settop(l, -2);
            }
        }
        ffi::lua_pushboolean(l, 0);
        ffi::lua_insert(l, 1);
    }
    ffi::lua_gettop(l)
}

/// `f` (answering (value, raise)) as a C function that raises when told (`trampoline`).
fn raising(lua: &Lua, f: Function) -> mlua::Result<Function> {
    // SAFETY: pushes one C closure over the one argument on the stack.
    unsafe {
        lua.exec_raw::<Function>(f, |l| {
            mlua::ffi::lua_pushcclosure(l, trampoline, 1);
        })
    }
}

/// `lua_tonumber`: numbers and numeric strings, else 0.
fn number_of(v: &Value) -> f64 {
    match v {
        Value::Number(n) => *n,
        Value::Integer(n) => *n as f64,
        Value::String(s) => s
            .to_str()
            .ok()
            .and_then(|s| s.trim().parse().ok())
            .unwrap_or(0.0),
        _ => 0.0,
    }
}

/// Lua's own number to string (`%.14g`), for arguments that Redis reads with
/// `lua_tolstring`.
fn lua_tostring_number(n: f64) -> String {
    format_c(n, b"%.14g\0")
}

/// printf of one double with a C format (it must end in NUL).
fn format_c(n: f64, fmt: &[u8]) -> String {
    let mut buf = [0u8; 64];
    // SAFETY: the format is NUL-terminated and takes one double; the buffer's size is passed.
    let len = unsafe {
        libc::snprintf(
            buf.as_mut_ptr() as *mut libc::c_char,
            buf.len(),
            fmt.as_ptr() as *const libc::c_char,
            n,
        )
    };
    let len = (len.max(0) as usize).min(buf.len() - 1);
    String::from_utf8_lossy(&buf[..len]).into_owned()
}

/// The message handler of every run (Redis' `__redis__err__handler`): the error as an
/// `{err = ...}` table, with the source and line of the script code that raised it.
fn error_handler(lua: &Lua, err: Value) -> mlua::Result<Value> {
    let t = match err {
        Value::Table(t) => t,
        other => {
            let text = match &other {
                Value::String(s) => s.to_string_lossy(),
                Value::Number(n) => lua_tostring_number(*n),
                Value::Integer(n) => n.to_string(),
                Value::Error(e) => e.to_string(),
                Value::Nil => "nil".into(),
                Value::Boolean(b) => b.to_string(),
                _ => other.type_name().to_string(),
            };
            let t = lua.create_table()?;
            t.raw_set("err", format!("ERR {text}"))?;
            t
        }
    };
    for level in 1..64 {
        let Some(found) = lua.inspect_stack(level, |d| {
            let src = d.source();
            let source = src.source.as_deref().unwrap_or("").to_string();
            (source, d.current_line())
        }) else {
            break;
        };
        if found.0.starts_with("@user_") {
            t.raw_set("source", found.0)?;
            if let Some(line) = found.1 {
                t.raw_set("line", line as i64)?;
            }
            break;
        }
    }
    Ok(Value::Table(t))
}

/// Converts `redis.call`'s arguments as Redis does (numbers as `%.17g`, strings as they
/// are) into `into`, reused from call to call; false if one is neither.
fn call_args(args: &MultiValue, into: &mut engine::args::OwnedArgs) -> bool {
    into.buf.clear();
    into.ranges.clear();
    for v in args.iter() {
        let start = into.buf.len() as u32;
        match v {
            Value::String(s) => into.buf.extend_from_slice(&s.as_bytes()),
            Value::Number(n) => into
                .buf
                .extend_from_slice(format_c(*n, b"%.17g\0").as_bytes()),
            Value::Integer(n) => into.buf.extend_from_slice(n.to_string().as_bytes()),
            _ => return false,
        }
        into.ranges.push(resp::Arg {
            start,
            end: into.buf.len() as u32,
        });
    }
    true
}

/// `redis.call` (`raise`) and `redis.pcall`: (the reply as Lua sees it, whether to raise it).
fn call(lua: &Lua, run: &RunCell, raise: bool, args: MultiValue) -> mlua::Result<(Value, bool)> {
    let mut guard = run.borrow_mut();
    let Some(run) = guard.as_mut() else {
        return err_value(
            lua,
            "redis.call/pcall can only be called inside a script invocation",
        );
    };
    let fail = |msg: &str| -> mlua::Result<(Value, bool)> {
        let t = convert::error_table(lua, msg.as_bytes())?;
        t.raw_set("ignore_error_stats_update", true)?;
        Ok((Value::Table(t), raise))
    };
    if run.retry {
        // Stopped for a broader run: nothing else may run (a pcall may have caught it).
        return fail("Script stopped to run again with a broader lock");
    }
    if args.is_empty() {
        return fail("Please specify at least one argument for this redis lib call");
    }
    let mut words = std::mem::take(&mut run.words);
    let ok = call_args(&args, &mut words);
    drop(args);
    let out = if ok {
        call_words(lua, run, raise, &words)
    } else {
        fail("Lua redis lib command arguments must be strings or integers")
    };
    run.words = words;
    out
}

/// `call` once the arguments are words.
fn call_words(
    lua: &Lua,
    run: &mut Run,
    raise: bool,
    words: &engine::args::OwnedArgs,
) -> mlua::Result<(Value, bool)> {
    let fail = |msg: &str| -> mlua::Result<(Value, bool)> {
        let t = convert::error_table(lua, msg.as_bytes())?;
        t.raw_set("ignore_error_stats_update", true)?;
        Ok((Value::Table(t), raise))
    };
    let argv = words.args();
    let Some(spec) = engine::lookup(argv.get(0)) else {
        return fail("Unknown Redis command called from script");
    };
    if !spec.arity_ok(argv.len()) {
        return fail("Wrong number of args calling Redis command from script");
    }
    if spec.flags.has(engine::table::Flags::NOSCRIPT) {
        return fail("This Redis command is not allowed from script");
    }
    let write = spec.is_write();
    if run.read_only && (write || spec.flags.has(engine::table::Flags::MAY_REPLICATE)) {
        return fail("Write commands are not allowed from read-only scripts.");
    }
    let proto = if run.resp3 {
        Proto::Resp3
    } else {
        Proto::Resp2
    };
    let mut scratch = std::mem::take(&mut run.scratch);
    scratch.clear();
    if matches!(spec.kind, engine::Kind::Runtime(engine::Rt::Select)) {
        // The script's own database: it does not change the caller's.
        let db = std::str::from_utf8(argv.get(1))
            .ok()
            .and_then(|s| s.parse::<i64>().ok());
        let mut w = Writer::new(&mut scratch, proto);
        match db {
            None => w.error("ERR value is not an integer or out of range"),
            Some(d) if d < 0 || d as usize >= run.databases => {
                w.error("ERR DB index is out of range")
            }
            Some(d) => {
                run.db = d as usize;
                w.ok();
            }
        }
    } else {
        // SAFETY: `eval` set the pointer from a live `&mut dyn Host` for this run, and
        // nothing else uses the host while the script runs.
        let host = unsafe { &mut *run.host };
        match host.call(spec, argv, run.db, proto, run.propagate, &mut scratch) {
            Ok(()) => {}
            Err(Refusal::Retry) if !run.wrote => {
                run.retry = true;
                // Every line from here raises again, so no pcall can go on past it.
                lua.set_hook(mlua::HookTriggers::EVERY_LINE, |_, _| {
                    Err(mlua::Error::runtime("Script stopped to run again"))
                })?;
                return fail("Script stopped to run again with a broader lock");
            }
            Err(Refusal::Retry) => {
                run.missed = true;
                return fail(
                    "Script attempted to access a key it did not declare, on another shard, after writing: declare every key in KEYS",
                );
            }
            Err(Refusal::Error(msg)) => return fail(&msg),
        }
        if write {
            run.wrote = true;
        }
    }
    let v = convert::reply_to_lua(lua, &scratch);
    let is_err = scratch.first() == Some(&b'-');
    run.scratch = scratch;
    Ok((v?, raise && is_err))
}

/// Script bodies by SHA1, shared by every shard: the source every shard compiles from when
/// a script is new to it (EVALSHA on a core that has not seen the script yet).
#[derive(Default)]
pub struct Registry {
    bodies: std::sync::Mutex<HashMap<[u8; 40], Arc<[u8]>>>,
}

impl Registry {
    pub fn insert(&self, sha: [u8; 40], body: Arc<[u8]>) {
        self.bodies
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry(sha)
            .or_insert(body);
    }

    pub fn get(&self, sha: &[u8; 40]) -> Option<Arc<[u8]>> {
        self.bodies
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(sha)
            .cloned()
    }

    pub fn contains(&self, sha: &[u8; 40]) -> bool {
        self.bodies
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .contains_key(sha)
    }

    pub fn clear(&self) {
        self.bodies
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clear();
    }

    pub fn len(&self) -> usize {
        self.bodies.lock().unwrap_or_else(|e| e.into_inner()).len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A host that answers GET and SET from a map, enough to see conversions and errors.
    struct Fake(Rc<RefCell<HashMap<Vec<u8>, Vec<u8>>>>);

    impl Host for Fake {
        fn call(
            &mut self,
            spec: &'static CommandSpec,
            argv: engine::Args,
            _db: usize,
            proto: Proto,
            _propagate: bool,
            out: &mut Vec<u8>,
        ) -> Result<(), Refusal> {
            let mut w = Writer::new(out, proto);
            match spec.name {
                "get" => match self.0.borrow().get(argv.get(1)) {
                    Some(v) => w.bulk(v),
                    None => w.null(),
                },
                "set" => {
                    self.0
                        .borrow_mut()
                        .insert(argv.get(1).to_vec(), argv.get(2).to_vec());
                    w.ok();
                }
                "incr" => {
                    w.error("WRONGTYPE Operation against a key holding the wrong kind of value")
                }
                "lpush" => return Err(Refusal::Retry),
                _ => w.error("ERR unsupported in the fake"),
            }
            Ok(())
        }
    }

    fn eval(e: &mut Engine, body: &str, keys: &[&[u8]]) -> (String, Outcome) {
        let sha = match e.load(body.as_bytes()) {
            Ok(sha) => sha,
            Err(msg) => {
                return (
                    format!("-{msg}\r\n"),
                    Outcome::Done {
                        wrote: false,
                        missed: false,
                    },
                )
            }
        };
        let mut out = Vec::new();
        let ev = Eval {
            keys,
            args: &[b"a1"],
            db: 0,
            databases: 16,
            read_only: false,
            proto: Proto::Resp2,
        };
        let mut host = Fake(Rc::new(RefCell::new(HashMap::new())));
        let outcome = e.eval(&sha, &ev, &mut host, &mut out);
        (String::from_utf8_lossy(&out).into_owned(), outcome)
    }

    fn reply(e: &mut Engine, body: &str) -> String {
        eval(e, body, &[b"k"]).0
    }

    fn with_sha(msg: &str, body: &str) -> String {
        let sha = sha1hex(body.as_bytes());
        format!(
            "-{msg} script: {}, on @user_script:1.\r\n",
            std::str::from_utf8(&sha).unwrap()
        )
    }

    #[test]
    fn errors_read_as_redis_writes_them() {
        let mut e = Engine::new().unwrap();
        for (body, msg) in [
            (
                "x=5",
                "ERR user_script:1: Attempt to modify a readonly table",
            ),
            (
                "return y",
                "ERR user_script:1: Script attempted to access nonexistent global variable 'y'",
            ),
            (
                "string.foo=1",
                "ERR user_script:1: Attempt to modify a readonly table",
            ),
            ("rawset(_G,'a',1)", "ERR Attempt to modify a readonly table"),
            (
                "local t = redis; t.call = nil",
                "ERR user_script:1: Attempt to modify a readonly table",
            ),
            (
                "return redis.call('nosuch')",
                "ERR Unknown Redis command called from script",
            ),
            (
                "return redis.call('set','k')",
                "ERR Wrong number of args calling Redis command from script",
            ),
            ("error('boom')", "ERR user_script:1: boom"),
            ("error({err='X boom'})", "X boom"),
            (
                "return redis.call('incr', KEYS[1])",
                "WRONGTYPE Operation against a key holding the wrong kind of value",
            ),
            (
                "return type(os)",
                "ERR user_script:1: Script attempted to access nonexistent global variable 'os'",
            ),
        ] {
            assert_eq!(reply(&mut e, body), with_sha(msg, body), "{body}");
        }
        assert_eq!(
            reply(&mut e, "foo("),
            "-ERR Error compiling script (new function): user_script:1: unexpected symbol near '<eof>'\r\n"
        );
    }

    #[test]
    fn replies_convert_as_redis_converts_them() {
        let mut e = Engine::new().unwrap();
        for (body, want) in [
            ("return redis.pcall('set','k')", "-ERR Wrong number of args calling Redis command from script\r\n"),
            ("return {1,2,{3,'a'},nil,5}", "*3\r\n:1\r\n:2\r\n*2\r\n:3\r\n$1\r\na\r\n"),
            ("return redis.error_reply('MY bad')", "-MY bad\r\n"),
            ("return redis.status_reply('FINE')", "+FINE\r\n"),
            ("return 3.99", ":3\r\n"),
            ("return {err='ERR x'}", "-ERR x\r\n"),
            ("return redis.sha1hex('')", "$40\r\nda39a3ee5e6b4b0d3255bfef95601890afd80709\r\n"),
            ("return _VERSION", "$7\r\nLua 5.1\r\n"),
            ("return tostring(1e15)", "$5\r\n1e+15\r\n"),
            ("return loadstring('return 1')()", ":1\r\n"),
            ("local c=0; for k,v in pairs(redis) do c=c+1 end; return c", ":23\r\n"),
            ("return true", ":1\r\n"),
            ("return false", "$-1\r\n"),
            ("return redis.call('get', KEYS[1])", "$-1\r\n"),
            ("redis.call('set', KEYS[1], 3.5); return redis.call('get', KEYS[1])", "$3\r\n3.5\r\n"),
            ("return {pcall(redis.call, 'incr', 'x')}", "*2\r\n$-1\r\n$65\r\nWRONGTYPE Operation against a key holding the wrong kind of value\r\n"),
            ("return KEYS[1] .. ARGV[1]", "$3\r\nka1\r\n"),
            ("redis.setresp(3); return true", ":1\r\n"),
        ] {
            assert_eq!(reply(&mut e, body), want, "{body}");
        }
    }

    #[test]
    fn a_refused_call_stops_the_run_before_any_write() {
        let mut e = Engine::new().unwrap();
        let (_, outcome) = eval(&mut e, "pcall(redis.call, 'lpush', 'x', 1); return 1", &[]);
        assert_eq!(outcome, Outcome::Retry);
        // After a write it is an error instead.
        let (out, outcome) = eval(
            &mut e,
            "redis.call('set', 'a', 1); return redis.call('lpush', 'x', 1)",
            &[],
        );
        assert!(out.contains("did not declare"), "{out}");
        assert_eq!(
            outcome,
            Outcome::Done {
                wrote: true,
                missed: true
            }
        );
        // And the state is fine afterwards.
        assert_eq!(reply(&mut e, "return 1"), ":1\r\n");
    }
}
