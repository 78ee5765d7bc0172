//! Lua scripting as Redis 7.0 runs it (EVAL and friends): one Lua 5.1 state per shard, its
//! cache of compiled scripts, the sandbox (read-only globals and libraries), the `redis`
//! object, and the conversions between replies and Lua values. Which shard's keys a
//! command touches and how it runs is the runtime's business, behind [`Host`]: this crate
//! does no I/O and knows no core.

pub mod convert;
pub mod functions;
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
    /// effects go to the journal (`redis.set_repl`). Ok(whether it changed the dataset):
    /// until something has, a refused call may still start the run again.
    fn call(
        &mut self,
        spec: &'static CommandSpec,
        args: engine::Args,
        db: usize,
        proto: Proto,
        propagate: bool,
        out: &mut Vec<u8>,
    ) -> Result<bool, Refusal>;

    /// Why writes are refused now (READONLY replica, MISCONF: the server cannot persist,
    /// NOREPLICAS), if they are.
    fn deny_writes(&self) -> Option<String> {
        None
    }

    /// The server was out of memory when the script's command began (Redis'
    /// pre_command_oom_state): denyoom commands are refused until the script has written.
    fn deny_oom(&self) -> bool {
        false
    }

    /// A replica whose link is down with replica-serve-stale-data no: scripts run only
    /// commands flagged stale.
    fn stale(&self) -> bool {
        false
    }

    /// The server runs in cluster mode (scripts' cluster checks apply).
    fn cluster(&self) -> bool {
        false
    }

    /// Cluster mode: the slot of a call's keys if this node serves them (None: no keys),
    /// or the error of a call whose keys are elsewhere (Redis' scriptVerifyClusterState).
    /// `read_only`: the run writes nothing (a replica serves it its master's slots).
    fn cluster_slot(
        &self,
        _spec: &'static CommandSpec,
        _args: engine::Args,
        _read_only: bool,
    ) -> Result<Option<u16>, String> {
        Ok(None)
    }
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

/// A function a library registered (functions mode).
struct Func {
    name: Rc<str>,
    flags: ScriptFlags,
    callback: Function,
}

/// What a run is, as its errors name it: `script: <sha>` for EVAL, `script: <name>` for
/// FCALL.
#[derive(Clone)]
enum Label {
    Sha([u8; 40]),
    Function(Rc<str>),
}

impl std::fmt::Display for Label {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Label::Sha(sha) => f.write_str(std::str::from_utf8(sha).unwrap_or("")),
            Label::Function(name) => f.write_str(name),
        }
    }
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
    pub watch: Watch,
}

/// How a run ended.
#[derive(Debug, PartialEq, Eq)]
pub enum Outcome {
    /// The reply is written; `wrote`: the run changed the dataset; `missed`: the host refused a
    /// key after the script wrote (the reply is an error; later runs should be broader).
    Done { wrote: bool, missed: bool },
    /// The host asked for a broader run before anything was written; nothing is written to
    /// the output.
    Retry,
    /// The run is busy (past `Watch::threshold_ms`) and stopped between two instructions;
    /// nothing is written yet. `resume` goes on with it; nothing else may run on this engine
    /// meanwhile.
    Yielded,
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
    /// The script declared allow-oom: its denyoom calls run even out of memory.
    allow_oom: bool,
    propagate: bool,
    wrote: bool,
    /// A write command was called (Redis' SCRIPT_WRITE_DIRTY), whatever it changed.
    writes_called: bool,
    retry: bool,
    missed: bool,
    /// The words of the call in progress, reused by every call.
    words: engine::args::OwnedArgs,
    /// A reply buffer reused by every call.
    scratch: Vec<u8>,
    /// Cluster mode: the slot of the keys the run reached so far (its declared keys' to
    /// begin with), and whether it may reach other slots (allow-cross-slot-keys).
    cluster: bool,
    slot: Option<u16>,
    cross_slot: bool,
}

type RunCell = Rc<RefCell<Option<Run>>>;

/// One shard's Lua state: for EVAL, with its script cache; or for functions (as Redis,
/// a Lua state of their own), with the libraries' functions.
pub struct Engine {
    lua: Lua,
    /// The real globals (scripts see a read-only proxy).
    globals: Table,
    scripts: HashMap<[u8; 40], Script>,
    /// Functions mode: the functions by lowercase name (FCALL's names are
    /// case-insensitive), the registrations of a FUNCTION LOAD in progress, and what
    /// switches the globals between the library API (while a library loads) and the full
    /// one.
    funcs: HashMap<String, Func>,
    loading: functions::LoadCell,
    set_loading: Option<Function>,
    /// The `functions::Libraries` generation this state's functions are of.
    pub generation: u64,
    run: RunCell,
    calls: u32,
    /// The coroutine scripts run in, reused while runs end cleanly (a run that raised
    /// leaves it dead), with its state.
    co: Option<(mlua::Thread, *mut mlua::ffi::lua_State)>,
    /// The run stopped past the busy threshold (`Outcome::Yielded`), to go on with `resume`.
    paused: Option<Paused>,
}

/// What a stopped run needs to finish.
struct Paused {
    label: Label,
    proto: Proto,
    watch: Watch,
}

/// How a run may be interrupted (Redis' busy script handling).
#[derive(Clone, Copy, Default)]
pub struct Watch {
    /// When the run started, in Unix milliseconds (the shard's clock for the call).
    pub started_ms: u64,
    /// `busy-reply-threshold` in milliseconds: once a run has taken this long it is busy;
    /// zero: never.
    pub threshold_ms: u64,
    /// Whether a busy run may stop (`Outcome::Yielded`) so that the runtime can answer
    /// others (-BUSY, SCRIPT KILL) before it goes on.
    pub may_yield: bool,
    /// The run's state as other cores see it (`RUNNING`, `WROTE`, `KILLED`): SCRIPT KILL
    /// turns `RUNNING` into `KILLED`, the run's first write `RUNNING` into `WROTE`, so a
    /// script is killed only if it has not written, and once it is killed it never writes.
    pub state: Option<&'static std::sync::atomic::AtomicU8>,
}

/// `Watch::state` values.
pub const RUNNING: u8 = 0;
pub const WROTE: u8 = 1;
pub const KILLED: u8 = 2;

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
    /// A Lua state for EVAL.
    pub fn new() -> mlua::Result<Engine> {
        Engine::build(false)
    }

    /// A Lua state for functions (FUNCTION LOAD's libraries, FCALL).
    pub fn functions() -> mlua::Result<Engine> {
        Engine::build(true)
    }

    fn build(functions_mode: bool) -> mlua::Result<Engine> {
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

        // redis.call and redis.pcall: C closures over the run state.
        let cell = Rc::as_ptr(&run) as *mut libc::c_void;
        for (name, f) in [
            ("call", redis_call as mlua::ffi::lua_CFunction),
            ("pcall", redis_pcall_cmd),
        ] {
            // SAFETY: pushes one C closure over a light userdata: the run state, which the
            // engine keeps for as long as its Lua state lives.
            let closure = unsafe {
                lua.exec_raw::<Function>((), |l| {
                    mlua::ffi::lua_pushlightuserdata(l, cell);
                    mlua::ffi::lua_pushcclosure(l, f, 1);
                })?
            };
            prim.raw_set(name, closure)?;
        }
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

        for name in ["sha1hex", "log", "setresp", "set_repl", "acl_check_cmd"] {
            let f: Function = prim.raw_get(name)?;
            prim.raw_set(name, raising(&lua, f)?)?;
        }
        let loading: functions::LoadCell = Default::default();
        let l = loading.clone();
        let register =
            lua.create_function(move |lua, args: MultiValue| functions::register(lua, &l, args))?;
        prim.raw_set("register_function", raising(&lua, register)?)?;
        // SAFETY: pushes one C function.
        let pcall = unsafe {
            lua.exec_raw::<Function>((), |l| mlua::ffi::lua_pushcfunction(l, redis_pcall))?
        };
        prim.raw_set("pcall_c", pcall)?;
        let (env, set_loading): (Table, Option<Function>) = lua
            .load(include_str!("sandbox.lua"))
            .set_name("=sandbox")
            .call((globals.clone(), prim, functions_mode))?;
        lua.set_globals(env)?;

        Ok(Engine {
            lua,
            globals,
            scripts: HashMap::new(),
            funcs: HashMap::new(),
            loading,
            set_loading,
            generation: 0,
            run,
            calls: 0,
            co: None,
            paused: None,
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
        let done = Outcome::Done {
            wrote: false,
            missed: false,
        };
        if self.paused.is_some() {
            Writer::new(out, eval.proto).error(BUSY_EVAL);
            return done;
        }
        let Some(script) = self.scripts.get(sha) else {
            Writer::new(out, eval.proto).error("NOSCRIPT No matching script. Please use EVAL.");
            return done;
        };
        let flags = script.flags;
        let func = script.func.clone();
        if !flags.compat && !flags.no_writes && eval.read_only {
            Writer::new(out, eval.proto)
                .error("ERR Can not execute a script with write flag using *_ro command.");
            return done;
        }
        // Redis' scriptPrepareForRun: a script without flags does not run on a stale
        // replica (one with flags is refused with the command, unless allow-stale).
        if flags.compat && host.stale() {
            Writer::new(out, eval.proto).error(
                "MASTERDOWN Link with MASTER is down and replica-serve-stale-data is set to 'no'.",
            );
            return done;
        }
        if !flags.compat && flags.no_cluster && host.cluster() {
            Writer::new(out, eval.proto)
                .error("ERR Can not run script on cluster, 'no-cluster' flag is set.");
            return done;
        }
        // A script without a shebang runs as in Redis 6: no flags, but any slot.
        let declared = match flags.compat {
            true => ScriptFlags {
                allow_cross_slot: true,
                ..ScriptFlags::default()
            },
            false => flags,
        };
        self.begin_run(host, eval, declared);
        let set = |name: &str, items: &[&[u8]]| -> mlua::Result<()> {
            let t = self.lua.create_table_with_capacity(items.len(), 0)?;
            for (i, a) in items.iter().enumerate() {
                t.raw_set(i + 1, self.lua.create_string(a)?)?;
            }
            self.globals.raw_set(name, t)
        };
        let paused = Paused {
            label: Label::Sha(*sha),
            proto: eval.proto,
            watch: eval.watch,
        };
        let step = set("KEYS", eval.keys)
            .and_then(|()| set("ARGV", eval.args))
            .and_then(|()| self.step(Some((func, None)), &paused));
        self.end_call(step, paused, out)
    }

    /// The run state a new run starts with, by the flags it declared (no-writes: no
    /// writes; allow-oom: denyoom calls out of memory; allow-cross-slot-keys).
    fn begin_run(&self, host: &mut dyn Host, eval: &Eval, flags: ScriptFlags) {
        let (no_writes, allow_oom) = (flags.no_writes, flags.allow_oom);
        let cluster = host.cluster();
        let slot = eval
            .keys
            .first()
            .filter(|_| cluster)
            .map(|k| engine::slot::key_slot(k));
        *self.run.borrow_mut() = Some(Run {
            cluster,
            slot,
            cross_slot: flags.allow_cross_slot,
            host: erase(host),
            db: eval.db,
            databases: eval.databases,
            resp3: false,
            read_only: eval.read_only || no_writes,
            allow_oom,
            propagate: true,
            wrote: false,
            writes_called: false,
            retry: false,
            missed: false,
            words: Default::default(),
            scratch: Vec::new(),
        });
    }

    /// Steps the collector now and then, then writes the reply of a run or keeps it for
    /// `resume`.
    fn end_call(&mut self, step: mlua::Result<Step>, paused: Paused, out: &mut Vec<u8>) -> Outcome {
        self.calls += 1;
        if self.calls >= 50 {
            self.calls = 0;
            // Redis steps the collector once every 50 calls (lua_gc(LUA_GCSTEP, 50)) so a
            // full cycle never lands on one call; Lua's own pacing does the rest.
            let _ = self.lua.gc_step();
        }
        self.finish(step, paused, out)
    }

    /// Runs function `name` (FCALL, FCALL_RO: `eval.read_only`) with its keys and
    /// arguments, as `eval` runs a script.
    pub fn fcall(
        &mut self,
        name: &[u8],
        eval: &Eval,
        host: &mut dyn Host,
        out: &mut Vec<u8>,
    ) -> Outcome {
        let done = Outcome::Done {
            wrote: false,
            missed: false,
        };
        if self.paused.is_some() {
            Writer::new(out, eval.proto).error(BUSY_FUNCTION);
            return done;
        }
        let key = String::from_utf8_lossy(name).to_ascii_lowercase();
        let Some(f) = self.funcs.get(&key) else {
            Writer::new(out, eval.proto).error("ERR Function not found");
            return done;
        };
        if !f.flags.no_writes && eval.read_only {
            Writer::new(out, eval.proto)
                .error("ERR Can not execute a script with write flag using *_ro command.");
            return done;
        }
        if f.flags.no_cluster && host.cluster() {
            Writer::new(out, eval.proto)
                .error("ERR Can not run script on cluster, 'no-cluster' flag is set.");
            return done;
        }
        let (callback, label, flags) = (f.callback.clone(), f.name.clone(), f.flags);
        self.begin_run(host, eval, flags);
        let array = |items: &[&[u8]]| -> mlua::Result<Table> {
            let t = self.lua.create_table_with_capacity(items.len(), 0)?;
            for (i, a) in items.iter().enumerate() {
                t.raw_set(i + 1, self.lua.create_string(a)?)?;
            }
            Ok(t)
        };
        let paused = Paused {
            label: Label::Function(label),
            proto: eval.proto,
            watch: eval.watch,
        };
        let tables = array(eval.keys).and_then(|keys| Ok((keys, array(eval.args)?)));
        let step = tables.and_then(|t| self.step(Some((callback, Some(t))), &paused));
        self.end_call(step, paused, out)
    }

    /// Loads a library (FUNCTION LOAD's code, metadata line included) into this functions
    /// state: runs its code with the library API so that it registers its functions,
    /// stopped after `timeout_ms` (0: never). Returns the library as registered; its
    /// functions are callable here from now on. The error is the reply's text.
    pub fn load_library(
        &mut self,
        code: &[u8],
        timeout_ms: u64,
    ) -> Result<functions::Library, String> {
        let meta = functions::parse_meta(code)?;
        let chunk = self
            .lua
            .load(&code[meta.body..])
            .set_name("@user_function")
            .set_mode(mlua::chunk::ChunkMode::Text)
            .into_function()
            .map_err(|e| {
                let msg = match e {
                    mlua::Error::SyntaxError { message, .. } => message,
                    other => other.to_string(),
                };
                format!("ERR Error compiling function: {msg}")
            })?;
        let Some(set_loading) = self.set_loading.clone() else {
            return Err("ERR this Lua state does not run functions".into());
        };
        *self.loading.borrow_mut() = Some(Vec::new());
        let ran = set_loading
            .call::<()>(true)
            .map_err(|e| e.to_string())
            .and_then(|()| run_library(&self.lua, chunk, timeout_ms));
        let _ = set_loading.call::<()>(false);
        let registered = self.loading.borrow_mut().take().unwrap_or_default();
        if let Err(msg) = ran {
            return Err(format!("ERR Error registering functions: {msg}"));
        }
        if registered.is_empty() {
            return Err("ERR No functions registered".into());
        }
        if let Some(r) = registered
            .iter()
            .find(|r| self.funcs.contains_key(&r.info.name.to_ascii_lowercase()))
        {
            return Err(format!("ERR Function {} already exists", r.info.name));
        }
        let mut infos = Vec::with_capacity(registered.len());
        for r in registered {
            self.funcs.insert(
                r.info.name.to_ascii_lowercase(),
                Func {
                    name: Rc::from(r.info.name.as_str()),
                    flags: r.info.flags,
                    callback: r.callback,
                },
            );
            infos.push(r.info);
        }
        Ok(functions::Library {
            name: meta.name,
            code: Arc::from(code),
            functions: infos,
        })
    }

    /// Goes on with the run that stopped with `Outcome::Yielded`, with `host` (the same
    /// kind of host as it started with).
    pub fn resume(&mut self, host: &mut dyn Host, out: &mut Vec<u8>) -> Outcome {
        let Some(paused) = self.paused.take() else {
            return Outcome::Done {
                wrote: false,
                missed: false,
            };
        };
        if let Some(run) = self.run.borrow_mut().as_mut() {
            run.host = erase(host);
        }
        let step = self.step(None, &paused);
        self.finish(step, paused, out)
    }

    /// Whether a run is stopped (`Outcome::Yielded`) and waits for `resume`.
    pub fn is_paused(&self) -> bool {
        self.paused.is_some()
    }

    /// Starts `func` in the coroutine (or goes on with the stopped one) until it returns,
    /// raises or stops.
    fn step(
        &mut self,
        start: Option<(Function, Option<(Table, Table)>)>,
        paused: &Paused,
    ) -> mlua::Result<Step> {
        use mlua::ffi;
        let (thread, co) = match self.co.take() {
            Some(c) => c,
            None => {
                // SAFETY: pushes one new thread, returned (and so kept referenced).
                let thread: mlua::Thread = unsafe {
                    self.lua.exec_raw((), |l| {
                        ffi::lua_newthread(l);
                    })?
                };
                let mut co = std::ptr::null_mut();
                // SAFETY: reads the thread pushed as the argument.
                unsafe {
                    self.lua
                        .exec_raw::<()>(thread.clone(), |l| co = ffi::lua_tothread(l, -1))?;
                }
                (thread, co)
            }
        };
        let w = paused.watch;
        let deadline = (w.threshold_ms != 0).then(|| w.started_ms.saturating_add(w.threshold_ms));
        HOOK.with(|h| {
            *h.borrow_mut() = Some(HookState {
                co,
                deadline,
                may_yield: w.may_yield,
                state: w.state,
                stop: None,
            });
        });
        let mut status = 0;
        let mut location: Option<(String, i64)> = None;
        // SAFETY: the coroutine is this engine's and not running; what is pushed on it is
        // moved back to the calling state before the closure ends.
        let mut pushed = MultiValue::new();
        match start {
            Some((f, args)) => {
                pushed.push_back(Value::Function(f));
                if let Some((keys, argv)) = args {
                    pushed.push_back(Value::Table(keys));
                    pushed.push_back(Value::Table(argv));
                }
            }
            None => pushed.push_back(Value::Nil),
        }
        let value: Value = unsafe {
            self.lua.exec_raw(pushed, |l| {
                let mut nargs = 0;
                if ffi::lua_type(l, 1) == ffi::LUA_TFUNCTION {
                    // A new run: the coroutine is empty (it ended cleanly or is new). A
                    // function gets its keys and arguments as two tables.
                    ffi::lua_settop(co, 0);
                    ffi::lua_sethook(co, Some(count_hook), ffi::LUA_MASKCOUNT, HOOK_EVERY);
                    let n = if ffi::lua_type(l, 2) == ffi::LUA_TTABLE {
                        3
                    } else {
                        1
                    };
                    ffi::lua_settop(l, n);
                    nargs = n - 1;
                    ffi::lua_xmove(l, co, n);
                }
                ffi::lua_settop(l, 0);
                status = ffi::lua_resume_(co, nargs);
                match status {
                    0 => {
                        // Returned: its first value is the reply.
                        if ffi::lua_gettop(co) == 0 {
                            ffi::lua_pushnil(l);
                        } else {
                            ffi::lua_settop(co, 1);
                            ffi::lua_xmove(co, l, 1);
                        }
                        ffi::lua_settop(co, 0);
                    }
                    ffi::LUA_YIELD => ffi::lua_pushnil(l),
                    _ => {
                        location = user_frame(co);
                        ffi::lua_xmove(co, l, 1);
                    }
                }
            })?
        };
        if status != mlua::ffi::LUA_YIELD {
            HOOK.with(|h| *h.borrow_mut() = None);
        }
        match status {
            0 => {
                self.co = Some((thread, co));
                Ok(Step::Returned(value))
            }
            mlua::ffi::LUA_YIELD => {
                self.co = Some((thread, co));
                Ok(Step::Yielded)
            }
            // The coroutine is dead: the next run gets a new one.
            _ => Ok(Step::Raised(error_table(&self.lua, value, location)?)),
        }
    }

    /// Writes the reply of a run that ended, or keeps it for `resume` when it stopped.
    fn finish(&mut self, step: mlua::Result<Step>, paused: Paused, out: &mut Vec<u8>) -> Outcome {
        if let Ok(Step::Yielded) = step {
            self.paused = Some(paused);
            return Outcome::Yielded;
        }
        let run = self.run.borrow_mut().take().expect("run state");
        if run.retry {
            return Outcome::Retry;
        }
        let label = &paused.label;
        let mut w = Writer::new(out, paused.proto);
        match step {
            Ok(Step::Returned(v)) => convert::write_lua(&mut w, &v, run.resp3, 0),
            Ok(Step::Raised(t)) => {
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
                        format!(" script: {label}, on {}:{line}.", source.to_string_lossy())
                            .as_bytes(),
                    );
                }
                convert::write_error(&mut w, &text);
            }
            Ok(Step::Yielded) => unreachable!("handled above"),
            Err(e) => {
                let name = match label {
                    Label::Sha(_) => format!("f_{label}"),
                    Label::Function(_) => label.to_string(),
                };
                w.error(&format!("ERR Error running script {name}, {e}"))
            }
        }
        Outcome::Done {
            wrote: run.wrote,
            missed: run.missed,
        }
    }
}

/// Redis' reply to commands while a script is busy.
pub const BUSY_EVAL: &str =
    "BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE.";
/// Redis' reply to commands while a function is busy.
pub const BUSY_FUNCTION: &str =
    "BUSY Redis is busy running a script. You can only call FUNCTION KILL or SHUTDOWN NOSAVE.";

/// Runs a library's chunk (FUNCTION LOAD), stopped with Redis' error after `timeout_ms`
/// (0: never). The error is the text after "Error registering functions: ".
fn run_library(lua: &Lua, chunk: Function, timeout_ms: u64) -> Result<(), String> {
    use mlua::ffi;
    let deadline = (timeout_ms != 0).then(|| unix_ms().saturating_add(timeout_ms));
    LOAD_DEADLINE.with(|d| d.set(deadline));
    let mut msg: Option<String> = None;
    // SAFETY: calls the function pushed as the argument under lua_pcall; the error value is
    // read and popped before the closure ends.
    let ran = unsafe {
        lua.exec_raw::<()>(chunk, |l| {
            ffi::lua_sethook(l, Some(load_hook), ffi::LUA_MASKCOUNT, HOOK_EVERY);
            if ffi::lua_pcall(l, 0, 0, 0) != 0 {
                // Redis' luaExtractErrorInformation: a string is the message; a table's
                // `err` field replaces it.
                let mut text = None;
                if ffi::lua_isstring(l, -1) != 0 {
                    let mut len = 0;
                    let p = ffi::lua_tolstring(l, -1, &mut len);
                    let s = std::slice::from_raw_parts(p as *const u8, len);
                    text = Some(format!("ERR {}", String::from_utf8_lossy(s)));
                } else if ffi::lua_type(l, -1) == ffi::LUA_TTABLE {
                    ffi::lua_getfield(l, -1, c"err".as_ptr());
                    if ffi::lua_isstring(l, -1) != 0 {
                        let mut len = 0;
                        let p = ffi::lua_tolstring(l, -1, &mut len);
                        let s = std::slice::from_raw_parts(p as *const u8, len);
                        text = Some(String::from_utf8_lossy(s).into_owned());
                    }
                    ffi::lua_settop(l, -2);
                }
                msg = Some(text.unwrap_or_else(|| "ERR unknown error".into()));
                ffi::lua_settop(l, -2);
            }
            ffi::lua_sethook(l, None, 0, 0);
        })
    };
    LOAD_DEADLINE.with(|d| d.set(None));
    ran.map_err(|e| e.to_string())?;
    msg.map_or(Ok(()), Err)
}

thread_local! {
    /// When the library loading on this thread must stop (Unix ms).
    static LOAD_DEADLINE: std::cell::Cell<Option<u64>> = const { std::cell::Cell::new(None) };
}

/// Redis' luaEngineLoadHook: a library's code that runs past its time is stopped, and
/// every line after raises again.
unsafe extern "C-unwind" fn load_hook(
    l: *mut mlua::ffi::lua_State,
    _ar: *mut mlua::ffi::lua_Debug,
) {
    use mlua::ffi;
    let late = LOAD_DEADLINE.with(|d| d.get().is_some_and(|d| unix_ms() > d));
    if late {
        ffi::lua_sethook(l, Some(load_hook), ffi::LUA_MASKLINE, 0);
        let msg = "ERR FUNCTION LOAD timeout";
        ffi::lua_createtable(l, 0, 1);
        ffi::lua_pushlstring(l, msg.as_ptr().cast(), msg.len());
        ffi::lua_setfield(l, -2, c"err".as_ptr());
        ffi::lua_error(l);
    }
}

/// How far a step of a run went.
enum Step {
    Returned(Value),
    /// The error as Redis' handler makes it: an `{err = ...}` table with the script's
    /// source and line.
    Raised(Table),
    Yielded,
}

/// The host's lifetime erased, to keep in `Run` (see `Run::host`).
fn erase(host: &mut dyn Host) -> *mut (dyn Host + 'static) {
    let host: *mut (dyn Host + '_) = host;
    // SAFETY: only the lifetime is erased; `eval` and `resume` replace the pointer before
    // every step and the run state is dropped when the run ends, so no callback can reach
    // the host after the call that lent it returned.
    unsafe { std::mem::transmute(host) }
}

/// Instructions between two calls of the hook (Redis' `luaMaskCountHook` interval).
const HOOK_EVERY: libc::c_int = 100_000;
/// Instructions between two stops of a busy run: a tenth of Redis' interval, so that a
/// script whose instructions call commands (each costing far more than an instruction)
/// still lets others in every few milliseconds.
const HOOK_BUSY_EVERY: libc::c_int = 10_000;

/// The interruption state of the run in progress on this thread, read by `count_hook`.
struct HookState {
    co: *mut mlua::ffi::lua_State,
    /// Unix milliseconds from which the run is busy.
    deadline: Option<u64>,
    may_yield: bool,
    state: Option<&'static std::sync::atomic::AtomicU8>,
    /// Raise this at every line from now on (killed, or stopped to run again), so that no
    /// pcall can go on past it.
    stop: Option<&'static str>,
}

thread_local! {
    static HOOK: RefCell<Option<HookState>> = const { RefCell::new(None) };
}

/// Makes every line of the run in progress on this thread raise `msg` (a refused call that
/// needs a broader run).
fn stop_run(msg: &'static str) {
    HOOK.with(|h| {
        if let Some(h) = h.borrow_mut().as_mut() {
            h.stop = Some(msg);
            // SAFETY: the coroutine is the one running on this thread.
            unsafe { mlua::ffi::lua_sethook(h.co, Some(count_hook), mlua::ffi::LUA_MASKLINE, 0) };
        }
    });
}

/// The fields of Lua 5.1.5's `lua_State` up to its C call counters (lstate.h), to tell
/// whether a coroutine may yield here: not from inside a C call (pcall, a metamethod, an
/// iterator), where Lua 5.1 forbids it.
#[repr(C)]
struct StateHead {
    next: *mut libc::c_void,
    tt: u8,
    marked: u8,
    status: u8,
    top: *mut libc::c_void,
    base: *mut libc::c_void,
    l_g: *mut libc::c_void,
    ci: *mut libc::c_void,
    savedpc: *const libc::c_void,
    stack_last: *mut libc::c_void,
    stack: *mut libc::c_void,
    end_ci: *mut libc::c_void,
    base_ci: *mut libc::c_void,
    stacksize: libc::c_int,
    size_ci: libc::c_int,
    n_ccalls: u16,
    base_ccalls: u16,
}

/// Whether coroutine `l`, running, may yield now.
unsafe fn may_yield_now(l: *mut mlua::ffi::lua_State) -> bool {
    let head = &*(l as *const StateHead);
    head.base_ccalls >= 1 && head.n_ccalls == head.base_ccalls
}

/// Redis' `luaMaskCountHook`: every `HOOK_EVERY` instructions (every line once stopped),
/// raises when the run was killed or stopped, and past the busy threshold stops the run
/// (a yield) when the runtime allows it and Lua can.
unsafe extern "C-unwind" fn count_hook(
    l: *mut mlua::ffi::lua_State,
    _ar: *mut mlua::ffi::lua_Debug,
) {
    use mlua::ffi;
    use std::sync::atomic::Ordering;
    enum Act {
        Go,
        Raise(&'static str),
        Yield,
    }
    let act = HOOK.with(|h| {
        let mut h = h.borrow_mut();
        let Some(h) = h.as_mut() else { return Act::Go };
        if let Some(msg) = h.stop {
            return Act::Raise(msg);
        }
        if h.state
            .as_ref()
            .is_some_and(|k| k.load(Ordering::SeqCst) == KILLED)
        {
            tracing::warn!("Lua script killed by user with SCRIPT KILL.");
            h.stop = Some(KILLED_ERR);
            ffi::lua_sethook(l, Some(count_hook), ffi::LUA_MASKLINE, 0);
            return Act::Raise(KILLED_ERR);
        }
        if h.deadline.is_none_or(|d| unix_ms() < d) {
            return Act::Go;
        }
        if h.may_yield && may_yield_now(l) {
            Act::Yield
        } else {
            Act::Go
        }
    });
    // No Rust value with a destructor lives from here: lua_error jumps over this frame.
    match act {
        Act::Go => {}
        Act::Yield => {
            ffi::lua_sethook(l, Some(count_hook), ffi::LUA_MASKCOUNT, HOOK_BUSY_EVERY);
            ffi::lua_yield(l, 0);
        }
        Act::Raise(msg) => {
            ffi::lua_createtable(l, 0, 1);
            ffi::lua_pushlstring(l, msg.as_ptr().cast(), msg.len());
            ffi::lua_setfield(l, -2, c"err".as_ptr());
            ffi::lua_error(l);
        }
    }
}

/// The time in Unix milliseconds.
fn unix_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// The error of a killed run.
const KILLED_ERR: &str = "ERR Script killed by user with SCRIPT KILL...";

/// The run in progress on this thread is about to write for the first time: false if it
/// was killed (it must stop without writing; every line raises from now on).
fn first_write() -> bool {
    use std::sync::atomic::Ordering::SeqCst;
    HOOK.with(|h| {
        let Some(h) = h.borrow().as_ref().and_then(|h| h.state) else {
            return true;
        };
        match h.compare_exchange(RUNNING, WROTE, SeqCst, SeqCst) {
            Ok(_) => true,
            Err(now) => now != KILLED,
        }
    }) || {
        stop_run(KILLED_ERR);
        false
    }
}

/// The source and line of the innermost script frame of coroutine `co`, dead of an error
/// (Lua 5.1 keeps its frames for inspection).
unsafe fn user_frame(co: *mut mlua::ffi::lua_State) -> Option<(String, i64)> {
    use mlua::ffi;
    let mut ar: ffi::lua_Debug = std::mem::zeroed();
    let mut level = 0;
    while ffi::lua_getstack(co, level, &mut ar) != 0 && level < 200 {
        if ffi::lua_getinfo(co, c"Sl".as_ptr(), &mut ar) != 0 && !ar.source.is_null() {
            let source = std::ffi::CStr::from_ptr(ar.source).to_string_lossy();
            if source.starts_with("@user_") {
                return Some((source.into_owned(), ar.currentline as i64));
            }
        }
        level += 1;
    }
    None
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

/// What Redis' message handler (`__redis__err__handler`) makes of an error: an
/// `{err = ...}` table, with the source and line of the script code that raised it.
fn error_table(lua: &Lua, err: Value, at: Option<(String, i64)>) -> mlua::Result<Table> {
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
    if let Some((source, line)) = at {
        t.raw_set("source", source)?;
        t.raw_set("line", line)?;
    }
    Ok(t)
}

/// Reads `redis.call`'s arguments (stack slots 1..=n) as Redis does (integral numbers as
/// integers, other numbers as `%.17g`, strings as they are) into `into`, reused from call to
/// call; false if one is neither.
unsafe fn stack_words(
    l: *mut mlua::ffi::lua_State,
    n: libc::c_int,
    into: &mut engine::args::OwnedArgs,
) -> bool {
    use mlua::ffi;
    into.buf.clear();
    into.ranges.clear();
    for i in 1..=n {
        let start = into.buf.len() as u32;
        match ffi::lua_type(l, i) {
            ffi::LUA_TSTRING => {
                let mut len = 0;
                let p = ffi::lua_tolstring(l, i, &mut len);
                into.buf
                    .extend_from_slice(std::slice::from_raw_parts(p as *const u8, len));
            }
            ffi::LUA_TNUMBER => {
                let num = ffi::lua_tonumber(l, i);
                let int = num as i64;
                if int as f64 == num {
                    into.buf
                        .extend_from_slice(engine::value::IntBuf::default().format(int));
                } else {
                    into.buf
                        .extend_from_slice(format_c(num, b"%.17g\0").as_bytes());
                }
            }
            _ => return false,
        }
        into.ranges.push(resp::Arg {
            start,
            end: into.buf.len() as u32,
        });
    }
    true
}

/// `redis.call`: a C function over the Lua stack (its words read where they are, its reply
/// pushed from the RESP bytes, no Lua values made on the Rust side), raising an error reply
/// as Redis' luaRedisGenericCommand does.
unsafe extern "C-unwind" fn redis_call(l: *mut mlua::ffi::lua_State) -> libc::c_int {
    // Only plain values live in this frame: lua_error may jump over it.
    if call_on_stack(l, true) {
        mlua::ffi::lua_error(l);
    }
    1
}

/// `redis.pcall`: as `redis_call`, an error reply returned as its table.
unsafe extern "C-unwind" fn redis_pcall_cmd(l: *mut mlua::ffi::lua_State) -> libc::c_int {
    if call_on_stack(l, false) {
        mlua::ffi::lua_error(l);
    }
    1
}

/// Pushes `{err = <msg as Redis words it>, ignore_error_stats_update = true}`.
unsafe fn push_call_error(l: *mut mlua::ffi::lua_State, msg: &str) {
    use mlua::ffi;
    let text = convert::error_text(msg.as_bytes());
    ffi::luaL_checkstack(l, 3, std::ptr::null());
    ffi::lua_createtable(l, 0, 2);
    ffi::lua_pushlstring(l, text.as_ptr().cast(), text.len());
    ffi::lua_setfield(l, -2, c"err".as_ptr());
    ffi::lua_pushboolean(l, 1);
    ffi::lua_setfield(l, -2, c"ignore_error_stats_update".as_ptr());
}

/// Runs the call whose words are on `l`'s stack and pushes its value; true when that value
/// is to be raised. Everything that must be dropped is dropped before it returns, so the
/// caller may raise.
unsafe fn call_on_stack(l: *mut mlua::ffi::lua_State, raise: bool) -> bool {
    use mlua::ffi;
    let cell = &*(ffi::lua_touserdata(l, ffi::lua_upvalueindex(1)) as *const RefCell<Option<Run>>);
    let ran: Result<(), std::borrow::Cow<'static, str>> = {
        let mut guard = cell.borrow_mut();
        let Some(run) = guard.as_mut() else {
            drop(guard);
            push_call_error(
                l,
                "redis.call/pcall can only be called inside a script invocation",
            );
            return true;
        };
        let n = ffi::lua_gettop(l);
        if run.retry {
            // Stopped for a broader run: nothing else may run (a pcall may have caught it).
            Err("Script stopped to run again with a broader lock".into())
        } else if n == 0 {
            Err("Please specify at least one argument for this redis lib call".into())
        } else {
            let mut words = std::mem::take(&mut run.words);
            let r = match stack_words(l, n, &mut words) {
                true => execute(run, &words),
                false => Err("Lua redis lib command arguments must be strings or integers".into()),
            };
            run.words = words;
            r
        }
    };
    if let Err(msg) = ran {
        push_call_error(l, &msg);
        return raise;
    }
    let reply = cell
        .borrow_mut()
        .as_mut()
        .map(|run| std::mem::take(&mut run.scratch))
        .unwrap_or_default();
    let is_err = reply.first() == Some(&b'-');
    if let Err(e) = convert::push_reply(l, &reply) {
        push_call_error(l, e);
    }
    if let Some(run) = cell.borrow_mut().as_mut() {
        run.scratch = reply;
    }
    raise && is_err
}

/// `redis.call`'s checks and the command itself, Redis' scriptCall: Ok with the reply in
/// `run.scratch`, or the error the script gets (as an error table).
fn execute(
    run: &mut Run,
    words: &engine::args::OwnedArgs,
) -> Result<(), std::borrow::Cow<'static, str>> {
    let argv = words.args();
    let Some(spec) = engine::lookup(argv.get(0)) else {
        return Err("Unknown Redis command called from script".into());
    };
    // A container's subcommand is the command (Redis' lookupCommand): an unknown one is an
    // unknown command, and its own arity counts.
    let n = argv.len();
    let sub = (n >= 2).then(|| engine::table::subcommand_arity(spec, argv.get(1)));
    let arity_ok = match sub.flatten() {
        Some(None) => return Err("Unknown Redis command called from script".into()),
        Some(Some(arity)) if arity >= 0 => n == arity as usize,
        Some(Some(arity)) => n >= (-arity) as usize,
        None => spec.arity_ok(n),
    };
    if !arity_ok {
        return Err("Wrong number of args calling Redis command from script".into());
    }
    if spec.flags.has(engine::table::Flags::NOSCRIPT) {
        return Err("This Redis command is not allowed from script".into());
    }
    // SAFETY: `eval` set the pointer from a live `&mut dyn Host` for this run, and nothing
    // else uses the host while the script runs.
    let host = unsafe { &mut *run.host };
    // Redis' scriptVerifyAllowStale: a stale replica runs only commands flagged stale.
    if !spec.flags.has(engine::table::Flags::STALE) && host.stale() {
        return Err("Can not execute the command on a stale replica".into());
    }
    let write = spec.writes(argv);
    if run.read_only && (write || spec.flags.has(engine::table::Flags::MAY_REPLICATE)) {
        return Err("Write commands are not allowed from read-only scripts.".into());
    }
    // Writes are refused while the server cannot persist, until the script has written
    // (Redis' scriptVerifyWriteCommandAllow: then it must be let finish).
    if write && !run.writes_called {
        if let Some(e) = host.deny_writes() {
            return Err(format!("-{e}").into());
        }
    }
    // Redis' scriptVerifyOOM: out of memory when the script's command began, a denyoom
    // call is refused until the script has written (then it must be let finish).
    if !run.allow_oom
        && spec.flags.has(engine::table::Flags::DENYOOM)
        && !run.writes_called
        && host.deny_oom()
    {
        return Err("-OOM command not allowed when used memory > 'maxmemory'.".into());
    }
    // Redis' scriptVerifyClusterState: keys this node serves, all in one slot (the
    // declared keys' first) unless the script allows cross-slot keys.
    if run.cluster {
        match host.cluster_slot(spec, argv, run.read_only) {
            Err(e) => return Err(e.into()),
            Ok(Some(s)) if !run.cross_slot => match run.slot {
                None => run.slot = Some(s),
                Some(x) if x != s => {
                    return Err(
                        "Script attempted to access keys that do not hash to the same slot".into(),
                    )
                }
                Some(_) => {}
            },
            Ok(_) => {}
        }
    }
    if write && !run.wrote && !first_write() {
        return Err("Script killed by user with SCRIPT KILL...".into());
    }
    // XREAD and XREADGROUP refuse BLOCK themselves when a script calls them.
    if spec.blocks_by_option() && spec.may_block(argv) {
        return Err(format!(
            "{} command is not allowed with BLOCK option from scripts",
            String::from_utf8_lossy(argv.get(0))
        )
        .into());
    }
    let proto = if run.resp3 {
        Proto::Resp3
    } else {
        Proto::Resp2
    };
    run.scratch.clear();
    if matches!(spec.kind, engine::Kind::Runtime(engine::Rt::Select)) {
        // The script's own database: it does not change the caller's.
        let db = std::str::from_utf8(argv.get(1))
            .ok()
            .and_then(|s| s.parse::<i64>().ok());
        let mut w = Writer::new(&mut run.scratch, proto);
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
        return Ok(());
    }
    run.writes_called |= write;
    match host.call(spec, argv, run.db, proto, run.propagate, &mut run.scratch) {
        Ok(changed) => run.wrote |= changed,
        Err(Refusal::Retry) if !run.wrote => {
            run.retry = true;
            // Every line from here raises again, so no pcall can go on past it.
            stop_run("ERR Script stopped to run again");
            return Err("Script stopped to run again with a broader lock".into());
        }
        Err(Refusal::Retry) => {
            run.missed = true;
            return Err("Script attempted to access a key it did not declare, on another shard, after writing: declare every key in KEYS".into());
        }
        Err(Refusal::Error(msg)) => return Err(msg.into()),
    }
    Ok(())
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

    /// The bodies' bytes (MEMORY STATS' lua.caches, as Redis counts its scripts' bodies).
    pub fn bytes(&self) -> usize {
        self.bodies
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .values()
            .map(|b| b.len() + 40)
            .sum()
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
        ) -> Result<bool, Refusal> {
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
            Ok(spec.name == "set")
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
            watch: Watch::default(),
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

    /// Runs `body` with `watch`, resuming whenever it stops; returns the reply and how
    /// many times it stopped.
    fn run_watched(
        e: &mut Engine,
        body: &str,
        watch: Watch,
        kill_after: Option<usize>,
    ) -> (String, usize) {
        let sha = e.load(body.as_bytes()).unwrap();
        let ev = Eval {
            keys: &[],
            args: &[],
            db: 0,
            databases: 16,
            read_only: false,
            proto: Proto::Resp2,
            watch,
        };
        let mut host = Fake(Rc::new(RefCell::new(HashMap::new())));
        let mut out = Vec::new();
        let mut outcome = e.eval(&sha, &ev, &mut host, &mut out);
        let mut stops = 0;
        while outcome == Outcome::Yielded {
            stops += 1;
            assert!(stops < 100_000, "never ends");
            if Some(stops) == kill_after {
                let state = watch.state.as_ref().unwrap();
                state.store(KILLED, std::sync::atomic::Ordering::Relaxed);
            }
            outcome = e.resume(&mut host, &mut out);
        }
        assert!(!e.is_paused());
        (String::from_utf8_lossy(&out).into_owned(), stops)
    }

    fn busy_at_once() -> Watch {
        Watch {
            started_ms: 0,
            threshold_ms: 1,
            may_yield: true,
            state: Some(Box::leak(Box::new(std::sync::atomic::AtomicU8::new(
                RUNNING,
            )))),
        }
    }

    #[test]
    fn busy_runs_stop_and_go_on() {
        let mut e = Engine::new().unwrap();
        let body = "local n = 0 for i = 1, 1000000 do n = n + i end return n";
        let (reply, stops) = run_watched(&mut e, body, busy_at_once(), None);
        assert_eq!(reply, ":500000500000\r\n");
        assert!(stops >= 5, "stopped {stops} times");
        // Not busy: no stop.
        let (reply, stops) = run_watched(&mut e, body, Watch::default(), None);
        assert_eq!((reply.as_str(), stops), (":500000500000\r\n", 0));
        // Inside pcall (a C call) a run cannot stop; it stops again once out of it.
        let body =
            "local n = 0 local ok = pcall(function() for i = 1, 1000000 do n = n + 1 end end) \
                    for i = 1, 1000000 do n = n + 1 end return {tostring(ok), n}";
        let (reply, stops) = run_watched(&mut e, body, busy_at_once(), None);
        assert_eq!(reply, "*2\r\n$4\r\ntrue\r\n:2000000\r\n");
        assert!(stops >= 5, "stopped {stops} times");
        // The engine still runs scripts normally after all that.
        assert_eq!(reply_of(&mut e, "return 1"), ":1\r\n");
    }

    fn fcall(e: &mut Engine, name: &str, read_only: bool) -> String {
        let mut out = Vec::new();
        let ev = Eval {
            keys: &[b"k1"],
            args: &[b"a1", b"a2"],
            db: 0,
            databases: 16,
            read_only,
            proto: Proto::Resp2,
            watch: Watch::default(),
        };
        let mut host = Fake(Rc::new(RefCell::new(HashMap::new())));
        e.fcall(name.as_bytes(), &ev, &mut host, &mut out);
        String::from_utf8_lossy(&out).into_owned()
    }

    #[test]
    fn libraries_load_with_the_library_api_and_run_with_the_full_one() {
        let mut e = Engine::functions().unwrap();
        let lib = e
            .load_library(
                b"#!lua name=mylib\n\
                  local function join(t) return table.concat(t, ',') end\n\
                  redis.register_function('f', function(keys, args) return join(keys) .. '|' .. join(args) end)\n\
                  redis.register_function{function_name='RO', callback=function() return redis.call('set', 'x', 1) end, flags={'no-writes'}, description='d'}\n\
                  redis.register_function('err', function() error('bad') end)",
                500,
            )
            .unwrap();
        assert_eq!(lib.name, "mylib");
        let names: Vec<&str> = lib.functions.iter().map(|f| f.name.as_str()).collect();
        assert_eq!(names, ["f", "RO", "err"]);
        assert!(lib.functions[1].flags.no_writes);
        assert_eq!(lib.functions[1].description.as_deref(), Some(&b"d"[..]));
        assert_eq!(fcall(&mut e, "F", false), "$8\r\nk1|a1,a2\r\n");
        assert_eq!(
            fcall(&mut e, "ro", false),
            "-ERR Write commands are not allowed from read-only scripts. script: RO, on @user_function:4.\r\n"
        );
        assert_eq!(
            fcall(&mut e, "f", true),
            "-ERR Can not execute a script with write flag using *_ro command.\r\n"
        );
        assert_eq!(
            fcall(&mut e, "err", false),
            "-ERR user_function:5: bad script: err, on @user_function:5.\r\n"
        );
        assert_eq!(
            fcall(&mut e, "nosuch", false),
            "-ERR Function not found\r\n"
        );
        let err = |e: &mut Engine, code: &str| e.load_library(code.as_bytes(), 500).unwrap_err();
        for (code, want) in [
            ("#!lua name=a\nreturn math.random()", "ERR Error registering functions: ERR user_function:2: Script attempted to access nonexistent global variable 'math'"),
            ("#!lua name=a\nreturn redis.call('ping')", "ERR Error registering functions: ERR user_function:2: Script attempted to access nonexistent global variable 'call'"),
            ("#!lua name=a\nredis.register_function()", "ERR Error registering functions: ERR wrong number of arguments to redis.register_function"),
            ("#!lua name=a\nredis.register_function('f1')", "ERR Error registering functions: ERR calling redis.register_function with a single argument is only applicable to Lua table (representing named arguments)."),
            ("#!lua name=a\nredis.register_function('a-b', function() end)", "ERR Error registering functions: ERR Library names can only contain letters, numbers, or underscores(_) and must be at least one character long"),
            ("#!lua name=a\nredis.register_function('g', function() end) redis.register_function('g', function() end)", "ERR Error registering functions: ERR Function already exists in the library"),
            ("#!lua name=a\nredis.register_function{function_name='g', callback=function() end, flags={'bogus'}}", "ERR Error registering functions: ERR unknown flag given"),
            ("#!lua name=a\nreturn 1", "ERR No functions registered"),
            ("#!lua name=a\nfoo(", "ERR Error compiling function: user_function:2: unexpected symbol near '<eof>'"),
            ("#!lua name=a\nx = 1", "ERR Error registering functions: ERR user_function:2: Attempt to modify a readonly table"),
            ("#!lua name=a\nredis.register_function('F', function() end)", "ERR Function F already exists"),
            ("#!lua name=a\nwhile true do end", "ERR Error registering functions: ERR FUNCTION LOAD timeout"),
        ] {
            assert_eq!(err(&mut e, code), want, "{code}");
        }
        // A function cannot register another when it runs; the runtime API has no
        // register_function.
        e.load_library(
            b"#!lua name=b\nlocal lib = redis\nredis.register_function('g', function() lib.register_function('h', function() end) end)\nredis.register_function('h2', function() return redis.register_function end)",
            0,
        )
        .unwrap();
        assert_eq!(
            fcall(&mut e, "g", false),
            "-ERR redis.register_function can only be called on FUNCTION LOAD command script: g, on @user_function:3.\r\n"
        );
        assert_eq!(fcall(&mut e, "h2", false), "$-1\r\n");
        assert_eq!(fcall(&mut e, "f", false), "$8\r\nk1|a1,a2\r\n");
    }

    fn reply_of(e: &mut Engine, body: &str) -> String {
        eval(e, body, &[]).0
    }

    #[test]
    fn killed_runs_end_with_redis_error_even_under_pcall() {
        let mut e = Engine::new().unwrap();
        let body = "while true do end";
        let (reply, _) = run_watched(&mut e, body, busy_at_once(), Some(3));
        assert_eq!(
            reply,
            with_sha("ERR Script killed by user with SCRIPT KILL...", body)
        );
        // Killed inside a pcall, which catches the first error: every line raises again.
        let body = "while true do pcall(function() while true do end end) end";
        let watch = busy_at_once();
        let state = watch.state.as_ref().unwrap();
        state.store(KILLED, std::sync::atomic::Ordering::Relaxed);
        let (reply, _) = run_watched(&mut e, body, watch, None);
        assert_eq!(
            reply,
            with_sha("ERR Script killed by user with SCRIPT KILL...", body)
        );
        // Killed before its first write: the write does not happen.
        let body = "redis.call('set', 'k', 'v') return 1";
        let watch = busy_at_once();
        watch
            .state
            .as_ref()
            .unwrap()
            .store(KILLED, std::sync::atomic::Ordering::Relaxed);
        let (reply, _) = run_watched(&mut e, body, watch, None);
        assert_eq!(
            reply,
            with_sha("ERR Script killed by user with SCRIPT KILL...", body)
        );
        // Written first: the state says so, and SCRIPT KILL cannot take it.
        let watch = busy_at_once();
        let (reply, _) = run_watched(&mut e, body, watch, None);
        assert_eq!(reply, ":1\r\n");
        let state = watch.state.as_ref().unwrap();
        assert_eq!(state.load(std::sync::atomic::Ordering::Relaxed), WROTE);
        assert_eq!(reply_of(&mut e, "return 'after'"), "$5\r\nafter\r\n");
    }
}
