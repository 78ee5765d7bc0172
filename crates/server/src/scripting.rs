//! EVAL, EVALSHA, EVAL_RO, EVALSHA_RO and SCRIPT (ARCHITECTURE.md, "Scripts"). Each core
//! has its own Lua state (`Core::lua`); bodies are shared through `Shared::scripts`, which
//! a core reads only the first time it meets a script.
//!
//! Where a script runs:
//! - its declared keys (KEYS) all live on one shard, or it declares none: it runs on that
//!   shard (the caller's own when none), in one synchronous step, like any command there:
//!   nothing else runs on the shard meanwhile, so it is atomic without a lock. Keys it did
//!   not declare are fine if they are on that shard and no multi-shard operation holds them.
//! - otherwise (declared keys on several shards, or a key it did not declare elsewhere, met
//!   before it wrote anything: the run stops and starts again): it locks every shard, as
//!   FLUSHALL does, and runs on the caller's core, calling other shards synchronously.

use crate::conn::Conn;
use crate::core::Core;
use crate::ops::{Batch, Call, Op, Reply, Touches};
use crate::txn::{Scope, Txn};
use engine::table::Flags;
use engine::{Args, CommandSpec, Kind, Split};
use resp::{Proto, Writer};
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicU8, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

const NOSCRIPT: &str = "NOSCRIPT No matching script. Please use EVAL.";

/// What a call runs.
enum What {
    /// A script; its body for EVAL (EVALSHA finds it in the registry).
    Eval {
        sha: [u8; 40],
        body: Option<Arc<[u8]>>,
    },
    /// A function (FCALL, FCALL_RO), and the command's name as the client sent it (FUNCTION
    /// STATS shows the command).
    Function { name: Vec<u8>, command: Vec<u8> },
}

/// One EVAL or FCALL as it travels to the shard that runs it.
struct EvalCall {
    what: What,
    /// KEYS then ARGV, in one buffer.
    words: engine::args::OwnedArgs,
    numkeys: usize,
    db: usize,
    read_only: bool,
    proto: Proto,
    /// Inside an EXEC or a broad run: the operation whose locks cover the keys.
    tx: Option<u64>,
}

/// What a run answered: the reply, or the call back when it must run again with every
/// shard locked.
struct EvalOut {
    reply: Vec<u8>,
    again: Option<Box<EvalCall>>,
    /// The script reached a key this shard could not give it: run it broadly from now on.
    learn: bool,
    /// The script is busy and stopped: the caller sends `Resume` for its next slice.
    paused: bool,
}

impl EvalOut {
    fn reply(reply: Vec<u8>) -> EvalOut {
        EvalOut {
            reply,
            again: None,
            learn: false,
            paused: false,
        }
    }
}

impl EvalCall {
    fn is_function(&self) -> bool {
        matches!(self.what, What::Function { .. })
    }

    /// Starts the run's journal unit and calls `run` with the run's inputs.
    fn with_eval<T>(
        &self,
        core: &Core,
        may_yield: bool,
        run: impl FnOnce(&script::Eval) -> T,
    ) -> T {
        let words = self.words.args();
        let keys: Vec<&[u8]> = (0..self.numkeys).map(|i| words.get(i)).collect();
        let args: Vec<&[u8]> = (self.numkeys..words.len()).map(|i| words.get(i)).collect();
        let eval = script::Eval {
            keys: &keys,
            args: &args,
            db: self.db,
            databases: core.shared.databases(),
            read_only: self.read_only,
            proto: self.proto,
            watch: core.shared.busy.watch(core, may_yield, self.is_function()),
        };
        core.shard.borrow_mut().journal.begin_call();
        run(&eval)
    }

    /// What FUNCTION STATS shows of a busy run: a function's name and command.
    fn running(&self) -> Running {
        let function = match &self.what {
            What::Eval { .. } => None,
            What::Function { name, command } => {
                let words = self.words.args();
                let mut argv = vec![command.clone(), name.clone()];
                argv.push(self.numkeys.to_string().into_bytes());
                argv.extend(words.iter().map(|w| w.to_vec()));
                Some((String::from_utf8_lossy(name).into_owned(), argv))
            }
        };
        Running { function }
    }
}

/// FUNCTION STATS' running_script.
pub struct FunctionRun {
    pub name: String,
    pub command: Vec<Vec<u8>>,
    pub duration_ms: u64,
}

/// A busy run, as FUNCTION STATS shows it: for a function, its name and command.
pub struct Running {
    pub function: Option<(String, Vec<Vec<u8>>)>,
}

impl Call for EvalCall {
    type Out = EvalOut;
    fn touches(&self) -> Touches<'_> {
        let words = self.words.args();
        Touches::Keys(self.db, (0..self.numkeys).map(|i| words.get(i)).collect())
    }
    fn run(self, core: &Core) -> EvalOut {
        // Inside EXEC, or with the whole shard held by someone else, a busy script cannot
        // stop in the middle: it runs to its end (SCRIPT KILL still reaches it).
        let may_yield = self.tx.is_none() && core.whole_free();
        let mut host = Local {
            core,
            wrote: false,
            learn: false,
            declared: self.words.args(),
            numkeys: self.numkeys,
            tx: self.tx,
        };
        let (reply, outcome) = run_script(core, &self, &mut host, may_yield);
        crate::slowlog::take_script_calls(core);
        let seen = (host.wrote, host.learn);
        local_outcome(core, self, reply, outcome, None, seen)
    }
}

/// A busy script of this shard, stopped between two slices.
pub struct Paused {
    call: EvalCall,
    /// The whole shard is held for this id until the script ends.
    lock: u64,
    /// The shard's clock when the script started: keys do not expire under a script.
    time: u64,
    /// What the run's host saw so far (`Local::wrote`, `Local::learn`).
    wrote: bool,
    learn: bool,
}

/// The next slice of this shard's busy script (`Paused`).
struct Resume;

impl Call for Resume {
    type Out = EvalOut;
    // The script holds the whole shard; its own slices go through.
    fn touches(&self) -> Touches<'_> {
        Touches::Nothing
    }
    fn run(self, core: &Core) -> EvalOut {
        let Some(p) = core.script_pause.borrow_mut().take() else {
            let mut reply = Vec::new();
            Writer::new(&mut reply, Proto::Resp2).error("ERR no script to resume");
            return EvalOut::reply(reply);
        };
        core.shard.borrow_mut().set_time(p.time);
        let mut host = Local {
            core,
            wrote: p.wrote,
            learn: p.learn,
            declared: p.call.words.args(),
            numkeys: p.call.numkeys,
            tx: p.call.tx,
        };
        let (reply, outcome) = resume_script(core, &mut host, p.call.is_function());
        crate::slowlog::take_script_calls(core);
        let seen = (host.wrote, host.learn);
        local_outcome(core, p.call, reply, outcome, Some((p.lock, p.time)), seen)
    }
}

/// What a slice of a script on one shard comes to: stopped (the whole shard is taken for
/// it on its first stop, `lock`), or ended (the shard is let go). `seen`: the host's
/// (wrote, learn).
fn local_outcome(
    core: &Core,
    call: EvalCall,
    reply: Vec<u8>,
    outcome: script::Outcome,
    lock: Option<(u64, u64)>,
    seen: (bool, bool),
) -> EvalOut {
    let (wrote, learn) = seen;
    if outcome == script::Outcome::Yielded {
        let (lock, time) = lock.unwrap_or_else(|| {
            let tx = core.new_tx();
            core.pause_shard(tx);
            core.shared.busy.hold(core, [core.id], call.running());
            (tx, core.shard.borrow().now_ms())
        });
        *core.script_pause.borrow_mut() = Some(Paused {
            call,
            lock,
            time,
            wrote,
            learn,
        });
        return EvalOut {
            reply,
            again: None,
            learn: false,
            paused: true,
        };
    }
    if let Some((lock, _)) = lock {
        core.shared.busy.free(core);
        if let Some(me) = core.rc() {
            me.release(lock);
        }
    }
    let retry = outcome == script::Outcome::Retry;
    EvalOut {
        reply,
        learn: learn || retry || matches!(outcome, script::Outcome::Done { missed: true, .. }),
        again: retry.then(|| Box::new(call)),
        paused: false,
    }
}

/// Scripts past `busy-reply-threshold` (Redis' busy scripts), as every core sees them: the
/// shards they hold (whose commands get -BUSY) and, per core, the state of its run
/// (`script::Watch::state`: what SCRIPT KILL changes).
pub struct Busy {
    /// Per shard: 1 + the core whose busy script holds it; 0: none.
    held: Vec<AtomicUsize>,
    /// Shards held: the command path reads only this while none is.
    count: AtomicUsize,
    /// Per core: its run's state (for the process's life: scripts keep a reference).
    state: &'static [AtomicU8],
    /// Per core: whether its run is a function (FCALL) rather than a script.
    function: Vec<AtomicBool>,
    /// Per core: its busy run, for FUNCTION STATS.
    running: Vec<Mutex<Option<(Running, u64)>>>,
    /// `busy-reply-threshold`, in milliseconds.
    pub threshold_ms: AtomicU64,
}

impl Busy {
    pub fn new(shards: usize) -> Busy {
        Busy {
            held: (0..shards).map(|_| AtomicUsize::new(0)).collect(),
            count: AtomicUsize::new(0),
            state: Vec::leak((0..shards).map(|_| AtomicU8::new(0)).collect()),
            function: (0..shards).map(|_| AtomicBool::new(false)).collect(),
            running: (0..shards).map(|_| Mutex::new(None)).collect(),
            threshold_ms: AtomicU64::new(5000),
        }
    }

    /// Whether any busy script holds a shard (one load: the command path's check).
    #[inline]
    pub fn any(&self) -> bool {
        self.count.load(Ordering::Relaxed) != 0
    }

    /// Whether a busy script holds `shard`.
    pub fn holds(&self, shard: usize) -> bool {
        self.held[shard].load(Ordering::Relaxed) != 0
    }

    /// `core`'s busy script holds `shards`.
    fn hold(&self, core: &Core, shards: impl IntoIterator<Item = usize>, running: Running) {
        let started = self.state_started(core);
        *self.running[core.id]
            .lock()
            .unwrap_or_else(|e| e.into_inner()) = Some((running, started));
        tracing::warn!(
            "Slow script detected: still in execution after {} milliseconds. You can try killing the script using the SCRIPT KILL command.",
            self.threshold_ms.load(Ordering::Relaxed)
        );
        for s in shards {
            if self.held[s].swap(core.id + 1, Ordering::SeqCst) == 0 {
                self.count.fetch_add(1, Ordering::SeqCst);
            }
        }
    }

    /// `core`'s busy script ended: its shards are free.
    fn free(&self, core: &Core) {
        *self.running[core.id]
            .lock()
            .unwrap_or_else(|e| e.into_inner()) = None;
        for h in &self.held {
            if h.compare_exchange(core.id + 1, 0, Ordering::SeqCst, Ordering::SeqCst)
                .is_ok()
            {
                self.count.fetch_sub(1, Ordering::SeqCst);
            }
        }
    }

    /// When `core`'s run started (Unix ms), as its watch says.
    fn state_started(&self, core: &Core) -> u64 {
        core.script_started.get()
    }

    /// The cores whose busy scripts hold shards.
    fn holders(&self) -> Vec<usize> {
        let mut cores: Vec<usize> = self
            .held
            .iter()
            .map(|h| h.load(Ordering::SeqCst))
            .filter(|&c| c != 0)
            .map(|c| c - 1)
            .collect();
        cores.sort_unstable();
        cores.dedup();
        cores
    }

    /// The -BUSY text for what is busy: a function's, or a script's.
    pub fn text(&self) -> &'static str {
        match self
            .holders()
            .iter()
            .any(|&c| self.function[c].load(Ordering::SeqCst))
        {
            true => script::BUSY_FUNCTION,
            false => script::BUSY_EVAL,
        }
    }

    /// FUNCTION STATS' running_script: the busy function (name, command, milliseconds so
    /// far), or none; a busy script is Redis' -BUSY.
    pub fn running_function(&self) -> Result<Option<FunctionRun>, &'static str> {
        let mut found = None;
        for c in self.holders() {
            if !self.function[c].load(Ordering::SeqCst) {
                return Err(script::BUSY_EVAL);
            }
            if let Some((
                Running {
                    function: Some((name, argv)),
                },
                started,
            )) = &*self.running[c].lock().unwrap_or_else(|e| e.into_inner())
            {
                found.get_or_insert(FunctionRun {
                    name: name.clone(),
                    command: argv.clone(),
                    duration_ms: engine::shard::unix_ms().saturating_sub(*started),
                });
            }
        }
        Ok(found)
    }

    /// What a run starting on `core` watches: the threshold, and its state reset.
    fn watch(&self, core: &Core, may_yield: bool, function: bool) -> script::Watch {
        let state = &self.state[core.id];
        if state.load(Ordering::Relaxed) != script::RUNNING {
            state.store(script::RUNNING, Ordering::SeqCst);
        }
        if self.function[core.id].load(Ordering::Relaxed) != function {
            self.function[core.id].store(function, Ordering::SeqCst);
        }
        let started_ms = core.shard.borrow().now_ms();
        core.script_started.set(started_ms);
        script::Watch {
            started_ms,
            threshold_ms: self.threshold_ms.load(Ordering::Relaxed),
            may_yield,
            state: Some(state),
        }
    }

    /// SCRIPT KILL (`eval`) or FUNCTION KILL: the busy runs of that kind that have not
    /// written are killed. Redis' reply.
    pub fn kill(&self, eval: bool) -> Result<(), &'static str> {
        let cores = self.holders();
        if cores.is_empty() {
            return Err("NOTBUSY No scripts in execution right now.");
        }
        let mut killed = false;
        let mut other_kind = None;
        for c in cores {
            let function = self.function[c].load(Ordering::SeqCst);
            if function == eval && self.state[c].load(Ordering::SeqCst) != script::WROTE {
                // SCRIPT KILL does not stop a function, nor FUNCTION KILL a script.
                other_kind = Some(match function {
                    true => script::BUSY_FUNCTION,
                    false => script::BUSY_EVAL,
                });
                continue;
            }
            killed |= self.state[c]
                .compare_exchange(
                    script::RUNNING,
                    script::KILLED,
                    Ordering::SeqCst,
                    Ordering::SeqCst,
                )
                .is_ok()
                || self.state[c].load(Ordering::SeqCst) == script::KILLED;
        }
        if killed {
            Ok(())
        } else if let Some(text) = other_kind {
            Err(text)
        } else {
            Err("UNKILLABLE Sorry the script already executed write commands against the dataset. You can either wait the script termination or kill the server in a hard way using the SHUTDOWN NOSAVE command.")
        }
    }
}

/// Whether `spec` (called with `args`) needs a shard that a busy script holds, so that it
/// gets -BUSY: a keyed command if one of its keys is on such a shard, anything else (it may
/// reach every shard) whenever any is held.
pub fn blocked_by_busy(core: &Core, spec: &CommandSpec, args: Args) -> bool {
    let busy = &core.shared.busy;
    match spec.kind {
        Kind::Keyed { .. } => spec
            .key_positions(&args)
            .any(|p| busy.holds(shard_of(core, args.get(p)))),
        Kind::Runtime(_) => true,
    }
}

/// The flags an EVAL/EVALSHA (and _RO) script or an FCALL function declares, as far as they
/// decide the command's own flags (Redis' getCommandFlags); None for other commands, an
/// unknown script or function, or a script without a shebang (compatibility mode: the
/// command's flags apply).
fn declared_flags(core: &Core, spec: &CommandSpec, args: Args) -> Option<script::ScriptFlags> {
    if args.len() < 2 {
        return None;
    }
    let declared = |body: &[u8]| {
        script::shebang(body)
            .ok()
            .map(|(f, _)| f)
            .filter(|f| !f.compat)
    };
    match spec.name {
        "eval" | "eval_ro" => declared(args.get(1)),
        "evalsha" | "evalsha_ro" => {
            let given = args.get(1);
            if given.len() != 40 {
                return None;
            }
            let mut sha = [0u8; 40];
            for (d, s) in sha.iter_mut().zip(given) {
                *d = s.to_ascii_lowercase();
            }
            core.shared
                .scripts
                .get(&sha)
                .and_then(|body| declared(&body))
        }
        "fcall" | "fcall_ro" => core.shared.functions.function(args.get(1)).map(|f| f.flags),
        _ => None,
    }
}

/// FUNCTION's subcommand `args` names is one of `subs`.
fn function_sub(spec: &CommandSpec, args: Args, subs: &[&str]) -> bool {
    spec.name == "function"
        && args.len() >= 2
        && subs
            .iter()
            .any(|s| args.get(1).eq_ignore_ascii_case(s.as_bytes()))
}

/// Whether a command writes by what it runs (Redis' getCommandFlags): EVAL and EVALSHA (and
/// their _RO forms) of a script with a shebang and no `no-writes`, FCALL of a function
/// without `no-writes`, FUNCTION LOAD, DELETE, FLUSH and RESTORE.
pub fn writes_by_flags(core: &Core, spec: &CommandSpec, args: Args) -> bool {
    declared_flags(core, spec, args).is_some_and(|f| !f.no_writes)
        || function_sub(spec, args, &["load", "delete", "flush", "restore"])
}

/// Whether a script or function is refused on a stale replica (Redis'
/// scriptFlagsToCmdFlags): one that declares flags without allow-stale.
pub fn unstale_by_flags(core: &Core, spec: &CommandSpec, args: Args) -> bool {
    declared_flags(core, spec, args).is_some_and(|f| !f.allow_stale)
}

/// Whether a script or function runs as a denyoom command (Redis' scriptFlagsToCmdFlags):
/// one that declares flags without allow-oom or no-writes; FUNCTION LOAD and RESTORE.
pub fn denyoom_by_flags(core: &Core, spec: &CommandSpec, args: Args) -> bool {
    declared_flags(core, spec, args).is_some_and(|f| !f.allow_oom && !f.no_writes)
        || function_sub(spec, args, &["load", "restore"])
}

/// Whether `spec` runs while a script is busy (Redis' allow-busy commands; SHUTDOWN checks
/// for NOSAVE itself).
pub fn allowed_while_busy(spec: &CommandSpec, args: Args) -> bool {
    match spec.name {
        "script" => args.len() == 2 && args.get(1).eq_ignore_ascii_case(b"kill"),
        "function" => {
            args.len() == 2
                && (args.get(1).eq_ignore_ascii_case(b"kill")
                    || args.get(1).eq_ignore_ascii_case(b"stats"))
        }
        _ => spec.flags.has(Flags::ALLOW_BUSY),
    }
}

/// Compiles the script on this core if it is new here, then runs it with `host`, its
/// journal records one unit (MULTI/EXEC when there are several). Returns the reply and
/// how the run ended.
fn run_script(
    core: &Core,
    call: &EvalCall,
    host: &mut dyn script::Host,
    may_yield: bool,
) -> (Vec<u8>, script::Outcome) {
    let mut reply = Vec::new();
    let (sha, body) = match &call.what {
        What::Eval { sha, body } => (sha, body),
        What::Function { name, .. } => return run_function(core, call, name, host, may_yield),
    };
    let mut lua = core.lua.borrow_mut();
    let engine = match lua.as_mut() {
        Some(e) => e,
        None => match script::Engine::new() {
            Ok(e) => lua.insert(e),
            Err(e) => {
                Writer::new(&mut reply, call.proto).error(&format!("ERR could not start Lua: {e}"));
                return (
                    reply,
                    script::Outcome::Done {
                        wrote: false,
                        missed: false,
                    },
                );
            }
        },
    };
    if !engine.has(sha) {
        let given = body.is_some();
        let body = body.clone().or_else(|| core.shared.scripts.get(sha));
        let Some(body) = body else {
            Writer::new(&mut reply, call.proto).error(NOSCRIPT);
            return (
                reply,
                script::Outcome::Done {
                    wrote: false,
                    missed: false,
                },
            );
        };
        if let Err(msg) = engine.load(&body) {
            Writer::new(&mut reply, call.proto).error(&msg);
            return (
                reply,
                script::Outcome::Done {
                    wrote: false,
                    missed: false,
                },
            );
        }
        if given {
            core.shared.scripts.insert(*sha, body);
        }
    }
    let outcome = call.with_eval(core, may_yield, |eval| {
        engine.eval(sha, eval, host, &mut reply)
    });
    drop(lua);
    end_slice(core, &outcome);
    (reply, outcome)
}

/// `run_script` for a function: this core's functions state, loaded again first when the
/// libraries changed since it was.
fn run_function(
    core: &Core,
    call: &EvalCall,
    name: &[u8],
    host: &mut dyn script::Host,
    may_yield: bool,
) -> (Vec<u8>, script::Outcome) {
    let mut reply = Vec::new();
    let mut lua = core.functions_lua.borrow_mut();
    let engine = match functions_engine(core, &mut lua) {
        Ok(e) => e,
        Err(msg) => {
            Writer::new(&mut reply, call.proto).error(&msg);
            let done = script::Outcome::Done {
                wrote: false,
                missed: false,
            };
            return (reply, done);
        }
    };
    let outcome = call.with_eval(core, may_yield, |eval| {
        engine.fcall(name, eval, host, &mut reply)
    });
    drop(lua);
    end_slice(core, &outcome);
    (reply, outcome)
}

/// This core's functions Lua state, made again from `Shared::functions` when the libraries
/// changed since it was made (not while a busy function is stopped in it: nothing that
/// changes them runs then).
pub fn functions_engine<'a>(
    core: &Core,
    slot: &'a mut Option<script::Engine>,
) -> Result<&'a mut script::Engine, String> {
    let libs = &core.shared.functions;
    let stale = slot
        .as_ref()
        .is_none_or(|e| e.generation != libs.generation() && !e.is_paused());
    if stale {
        let (generation, all) = libs.snapshot();
        let mut engine =
            script::Engine::functions().map_err(|e| format!("ERR could not start Lua: {e}"))?;
        for lib in &all {
            if let Err(e) = engine.load_library(&lib.code, 0) {
                tracing::warn!("function library '{}' did not load: {e}", lib.name);
            }
        }
        engine.generation = generation;
        *slot = Some(engine);
        core.broad_functions.borrow_mut().clear();
    }
    Ok(slot.as_mut().expect("made above"))
}

/// The next slice of the busy script stopped on this core (`script::Engine::resume`), in
/// the functions state when it is a function.
fn resume_script(
    core: &Core,
    host: &mut dyn script::Host,
    function: bool,
) -> (Vec<u8>, script::Outcome) {
    let mut reply = Vec::new();
    let slot = match function {
        true => &core.functions_lua,
        false => &core.lua,
    };
    let outcome = match slot.borrow_mut().as_mut() {
        Some(engine) => engine.resume(host, &mut reply),
        None => script::Outcome::Done {
            wrote: false,
            missed: false,
        },
    };
    end_slice(core, &outcome);
    (reply, outcome)
}

/// A script's records form one unit in the journal, closed when the script ends.
fn end_slice(core: &Core, outcome: &script::Outcome) {
    if *outcome != script::Outcome::Yielded {
        let mut shard = core.shard.borrow_mut();
        shard.journal.muted = false;
        shard.journal.end_call();
    }
}

/// The words of a command as `Args`.
fn owned(argv: &[&[u8]]) -> engine::args::OwnedArgs {
    engine::args::OwnedArgs::from_words(argv)
}

/// Runs a keyed command on this core's shard (inside `tx`'s journal block when given).
#[allow(clippy::too_many_arguments)] // a command's words and context, as Host::call takes them
fn exec_here(
    core: &Core,
    spec: &'static CommandSpec,
    args: Args,
    db: usize,
    proto: Proto,
    propagate: bool,
    tx: Option<u64>,
    out: &mut Vec<u8>,
) {
    let Kind::Keyed { handler, .. } = spec.kind else {
        return;
    };
    let mut run = || {
        let mut shard = core.shard.borrow_mut();
        shard.journal.muted = !propagate;
        shard.execute(spec, handler, db, args, out, proto);
        drop(shard);
        crate::monitor::command(core, db, "lua", spec, args);
    };
    match tx {
        Some(_) => core.in_block(tx, run),
        None => run(),
    }
}

/// The shard a key lives on.
fn shard_of(core: &Core, key: &[u8]) -> usize {
    core.shared.shard_of(key)
}

/// The host of a run on one shard: keys of this shard only, and none that a multi-shard
/// operation (other than `tx`, the caller's) holds unless the script declared it.
struct Local<'a> {
    core: &'a Core,
    /// The script has written through this host; a command that needs other cores after
    /// that sets `learn`.
    wrote: bool,
    learn: bool,
    /// The script's KEYS (the first `numkeys` words).
    declared: Args<'a>,
    numkeys: usize,
    tx: Option<u64>,
}

/// Redis' scriptVerifyClusterState for a script's call: the slot of its keys when this
/// node serves them, else the error the script gets. A read-only run reads its master's
/// slots on a replica (its EVAL_RO passed the client's READONLY routing). A migrating
/// slot counts as served (the keys' existence is not asked from inside a script).
fn cluster_slot(
    core: &Core,
    spec: &'static CommandSpec,
    args: Args,
    read_only: bool,
) -> Result<Option<u16>, String> {
    use crate::cluster::route::{self, Verdict};
    let Some(cl) = &core.shared.cluster else {
        return Ok(None);
    };
    let slot = spec
        .key_positions(&args)
        .next()
        .map(|p| engine::slot::key_slot(args.get(p)));
    let verdict = match route::check(cl, [(spec, &args)], false, read_only) {
        Verdict::Keys(q) => route::finish(cl, &q, q.keys.len(), false, read_only),
        v => v,
    };
    match verdict {
        Verdict::Here | Verdict::Keys(_) => Ok(slot),
        Verdict::Error(e) if e == route::DOWN_RO => Err(
            "Script attempted to execute a write command while the cluster is down and readonly"
                .into(),
        ),
        Verdict::Error(e) if e == route::DOWN => {
            Err("Script attempted to execute a command while the cluster is down".into())
        }
        Verdict::Error(_) => {
            Err("Script attempted to access a non local key in a cluster node".into())
        }
    }
}

impl script::Host for Local<'_> {
    fn deny_writes(&self) -> Option<String> {
        crate::checks::script_write_denied(self.core)
    }

    fn cluster(&self) -> bool {
        self.core.shared.cluster.is_some()
    }

    fn cluster_slot(
        &self,
        spec: &'static CommandSpec,
        args: Args,
        read_only: bool,
    ) -> Result<Option<u16>, String> {
        cluster_slot(self.core, spec, args, read_only)
    }

    fn deny_oom(&self) -> bool {
        crate::memory::was_oom(self.core)
    }

    fn stale(&self) -> bool {
        self.core.shared.repl.refuses_stale()
    }

    fn call(
        &mut self,
        spec: &'static CommandSpec,
        args: Args,
        db: usize,
        proto: Proto,
        propagate: bool,
        out: &mut Vec<u8>,
    ) -> Result<bool, script::Refusal> {
        // What changed the dataset moved the shard's change counter (a write that changed
        // nothing did not: the run may still start again broadly after it).
        let dirty = self.core.shard.borrow().stats.dirty;
        let done = self.run(spec, args, db, proto, propagate, out);
        let changed = self.core.shard.borrow().stats.dirty != dirty;
        self.wrote |= changed;
        done.map(|()| changed)
    }
}

impl Local<'_> {
    #[allow(clippy::too_many_arguments)] // Host::call's
    fn run(
        &mut self,
        spec: &'static CommandSpec,
        args: Args,
        db: usize,
        proto: Proto,
        propagate: bool,
        out: &mut Vec<u8>,
    ) -> Result<(), script::Refusal> {
        let core = self.core;
        match spec.kind {
            Kind::Keyed { split, .. } => {
                if split == Split::Runtime(engine::Rt::Sort)
                    && core.shards() > 1
                    && engine::cmd::sort::uses_patterns(args)
                {
                    return Err(script::Refusal::Retry);
                }
                for p in spec.key_positions(&args) {
                    let key = args.get(p);
                    if shard_of(core, key) != core.id {
                        return Err(script::Refusal::Retry);
                    }
                    let declared = (0..self.numkeys).any(|i| self.declared.get(i) == key);
                    if !declared && !core.keys_free_in(db, key, self.tx) {
                        return Err(script::Refusal::Retry);
                    }
                }
                exec_here(core, spec, args, db, proto, propagate, None, out);
                Ok(())
            }
            Kind::Runtime(rt) => {
                let argv: Vec<&[u8]> = args.iter().collect();
                let mut ctx = RuntimeCtx {
                    tx: None,
                    wrote: self.wrote,
                    learn: false,
                };
                let r = runtime_call(core, rt, spec, &argv, db, proto, out, &mut ctx);
                self.learn |= ctx.learn;
                r
            }
        }
    }
}

/// The host of a run that holds every shard (`tx`): keys anywhere, other shards called
/// synchronously.
struct Broad<'a> {
    core: &'a Core,
    tx: u64,
    /// Keyspace events of its commands on other shards (and of gathered commands), for the
    /// caller to publish before the reply, as a command's own.
    events: Vec<engine::notify::Event>,
}

impl Broad<'_> {
    /// Runs `argv` on `shard` (this one or another) and appends its reply.
    #[allow(clippy::too_many_arguments)] // Host::call's words and context, and the shard
    fn on_shard(
        &mut self,
        shard: usize,
        spec: &'static CommandSpec,
        argv: &[&[u8]],
        db: usize,
        proto: Proto,
        propagate: bool,
        out: &mut Vec<u8>,
    ) -> Result<(), script::Refusal> {
        let core = self.core;
        if shard == core.id {
            let words = owned(argv);
            exec_here(
                core,
                spec,
                words.args(),
                db,
                proto,
                propagate,
                Some(self.tx),
                out,
            );
            return Ok(());
        }
        let Kind::Keyed { handler, .. } = spec.kind else {
            return Err(script::Refusal::Error("ERR internal error".into()));
        };
        let mut batch = Batch {
            who: crate::monitor::active(core).then(|| "lua".into()),
            ..Batch::default()
        };
        batch.push(spec, handler, db, proto, argv.iter().copied());
        // set_repl(REPL_NONE) reaches only this shard's journal: other shards record.
        match core.call_blocking(shard, Op::Batch(batch), self.tx) {
            Some(Reply::Batch(mut b)) => {
                out.extend_from_slice(b.reply(0));
                crate::slowlog::log(core, b.take_slow(), "?:0", "");
                self.events.extend(b.events.into_iter().map(|(_, e)| e));
                Ok(())
            }
            _ => Err(script::Refusal::Error(
                "ERR shard did not answer (shutting down)".into(),
            )),
        }
    }
}

impl Broad<'_> {
    /// A command whose keys live on several shards and that moves or combines whole values,
    /// as `runtime::gather` runs one: copies of its keys' values on a scratch shard, the
    /// command's own handler there, and the keys it changed written back to their shards
    /// (journaled there as RESTORE or DEL, inside the run's operation). The broad run holds
    /// every shard, so the copies cannot change meanwhile.
    fn gather(
        &mut self,
        spec: &'static CommandSpec,
        argv: &[&[u8]],
        positions: &[usize],
        db: usize,
        proto: Proto,
        out: &mut Vec<u8>,
    ) -> Result<(), script::Refusal> {
        use crate::core::calls;
        let Kind::Keyed { handler, .. } = spec.kind else {
            return Err(script::Refusal::Error("ERR internal error".into()));
        };
        let core = self.core;
        let tx = Some(self.tx);
        let gone = || script::Refusal::Error("ERR shard did not answer (shutting down)".into());
        // COPY ... DB n writes its destination in another database.
        let dest_db = (spec.name == "copy")
            .then(|| {
                // Options follow the two keys; the last DB given counts.
                let at = 3 + argv
                    .get(3..)?
                    .iter()
                    .rposition(|a| a.eq_ignore_ascii_case(b"db"))?;
                let n = engine::args::parse_i64(argv.get(at + 1)?)?;
                usize::try_from(n)
                    .ok()
                    .filter(|&n| n < core.shared.databases())
            })
            .flatten();
        let mut keys: Vec<(usize, usize, Vec<u8>)> = positions
            .iter()
            .enumerate()
            .map(|(i, &p)| {
                let in_db = match (i, dest_db) {
                    (1, Some(d)) => d,
                    _ => db,
                };
                (shard_of(core, argv[p]), in_db, argv[p].to_vec())
            })
            .collect();
        keys.sort();
        keys.dedup();
        let mut scratch = engine::Shard::new(core.id, core.shared.databases());
        scratch.limits = core.shard.borrow().limits;
        scratch.notify_classes = engine::notify::recorded(core.settings.get().notify);
        scratch.set_time(core.shard.borrow().now_ms());
        let mut versions = Vec::with_capacity(keys.len());
        for (s, db, key) in &keys {
            let get = calls::Get {
                db: *db,
                key: key.clone(),
            };
            if let Some(e) = call_on(core, *s, get, tx).ok_or_else(gone)? {
                scratch.store(*db, key, e.value, e.expire_at);
            }
            versions.push(scratch.watch(*db, key));
        }
        drop(scratch.take_events());
        let words = owned(argv);
        scratch.execute(spec, handler, db, words.args(), out, proto);
        let events = scratch.take_events();
        if spec.is_write() {
            for ((s, db, key), v) in keys.iter().zip(versions) {
                let db = *db;
                if scratch.watch_version(db, key) == Some(v) {
                    continue;
                }
                match scratch.take(db, key) {
                    Some(entry) => {
                        let put = calls::Put {
                            db,
                            key: key.clone(),
                            entry,
                            replace: true,
                        };
                        call_on(core, *s, put, tx).ok_or_else(gone)?;
                    }
                    None => {
                        let take = calls::Take {
                            db,
                            key: key.clone(),
                        };
                        call_on(core, *s, take, tx).ok_or_else(gone)?;
                    }
                }
            }
        }
        self.events.extend(events);
        Ok(())
    }
}

impl script::Host for Broad<'_> {
    fn deny_writes(&self) -> Option<String> {
        crate::checks::script_write_denied(self.core)
    }

    fn cluster(&self) -> bool {
        self.core.shared.cluster.is_some()
    }

    fn cluster_slot(
        &self,
        spec: &'static CommandSpec,
        args: Args,
        read_only: bool,
    ) -> Result<Option<u16>, String> {
        cluster_slot(self.core, spec, args, read_only)
    }

    fn deny_oom(&self) -> bool {
        crate::memory::was_oom(self.core)
    }

    fn stale(&self) -> bool {
        self.core.shared.repl.refuses_stale()
    }

    fn call(
        &mut self,
        spec: &'static CommandSpec,
        args: Args,
        db: usize,
        proto: Proto,
        propagate: bool,
        out: &mut Vec<u8>,
    ) -> Result<bool, script::Refusal> {
        // A broad run never starts again: any write counts.
        self.run(spec, args, db, proto, propagate, out)
            .map(|()| spec.is_write())
    }
}

impl Broad<'_> {
    #[allow(clippy::too_many_arguments)] // Host::call's
    fn run(
        &mut self,
        spec: &'static CommandSpec,
        args: Args,
        db: usize,
        proto: Proto,
        propagate: bool,
        out: &mut Vec<u8>,
    ) -> Result<(), script::Refusal> {
        let core = self.core;
        let argv: Vec<&[u8]> = args.iter().collect();
        let argv = &argv[..];
        let Kind::Keyed { split, .. } = spec.kind else {
            let Kind::Runtime(rt) = spec.kind else {
                unreachable!()
            };
            let mut ctx = RuntimeCtx {
                tx: Some(self.tx),
                wrote: true,
                learn: false,
            };
            return runtime_call(core, rt, spec, argv, db, proto, out, &mut ctx);
        };
        if split == Split::Runtime(engine::Rt::Sort)
            && core.shards() > 1
            && engine::cmd::sort::uses_patterns(args)
        {
            return Err(script::Refusal::Error(
                "ERR SORT with BY or GET patterns inside a script on several shards is not supported by percore yet".into(),
            ));
        }
        let positions: Vec<usize> = spec.key_positions(argv).collect();
        let mut shards: Vec<usize> = positions.iter().map(|&p| shard_of(core, argv[p])).collect();
        shards.sort_unstable();
        shards.dedup();
        if shards.len() <= 1 {
            let shard = shards.first().copied().unwrap_or(core.id);
            return self.on_shard(shard, spec, argv, db, proto, propagate, out);
        }
        // Keys on several shards: the split rules of the command path, run shard by shard.
        let step = spec.step.max(1) as usize;
        match split {
            Split::SumInt | Split::AllOk => {
                if matches!(split, Split::AllOk) && !(argv.len() - 1).is_multiple_of(step) {
                    Writer::new(out, proto).error(&format!(
                        "ERR wrong number of arguments for '{}' command",
                        spec.name
                    ));
                    return Ok(());
                }
                let mut sum = 0i64;
                for &s in &shards {
                    let mut words: Vec<&[u8]> = vec![argv[0]];
                    for &p in &positions {
                        if shard_of(core, argv[p]) == s {
                            words.extend_from_slice(&argv[p..(p + step).min(argv.len())]);
                        }
                    }
                    let mut part = Vec::new();
                    self.on_shard(s, spec, &words, db, proto, propagate, &mut part)?;
                    if part.first() == Some(&b'-') {
                        out.extend_from_slice(&part);
                        return Ok(());
                    }
                    if let Some(n) = part
                        .strip_prefix(b":")
                        .and_then(|r| std::str::from_utf8(r).ok())
                        .and_then(|r| r.trim_end().parse::<i64>().ok())
                    {
                        sum += n;
                    }
                }
                let mut w = Writer::new(out, proto);
                if matches!(split, Split::AllOk) {
                    w.ok();
                } else {
                    w.integer(sum);
                }
                Ok(())
            }
            Split::PerKeyArray => {
                Writer::new(out, proto).array(positions.len());
                for &p in &positions {
                    let words = [argv[0], argv[p]];
                    let mut part = Vec::new();
                    let s = shard_of(core, argv[p]);
                    self.on_shard(s, spec, &words, db, proto, propagate, &mut part)?;
                    // "*1\r\n" then the element.
                    let at = part
                        .windows(2)
                        .position(|w| w == b"\r\n")
                        .map_or(0, |i| i + 2);
                    out.extend_from_slice(&part[at..]);
                }
                Ok(())
            }
            // Moves and combinations (RENAME, LMOVE, SINTERSTORE, SMOVE, ...): gathered.
            _ => self.gather(spec, argv, &positions, db, proto, out),
        }
    }
}

/// Where a runtime command of a script runs.
struct RuntimeCtx {
    /// The broad run's operation (it holds every shard), or None on one shard.
    tx: Option<u64>,
    /// The script has written: it can no longer run again broadly.
    wrote: bool,
    /// Set when the command could not be whole here: the script runs broadly from the next
    /// call on.
    learn: bool,
}

/// Runs `call` on `shard` from inside a script: this core's directly; another's only from
/// a broad run (`tx`), synchronously (`Core::call_blocking`).
fn call_on<C: Call>(core: &Core, shard: usize, call: C, tx: Option<u64>) -> Option<C::Out> {
    if shard == core.id {
        return Some(core.run_here(call, tx));
    }
    match core.call_blocking(shard, Op::Call(Box::new(call)), tx?) {
        Some(Reply::Any(b)) => b.downcast::<C::Out>().ok().map(|b| *b),
        _ => None,
    }
}

/// The commands of the runtime that scripts may call, run here. Whole-keyspace ones need
/// every shard: on several shards only a broad run (`ctx.tx`) may call them.
#[allow(clippy::too_many_arguments)]
fn runtime_call(
    core: &Core,
    rt: engine::Rt,
    spec: &'static CommandSpec,
    argv: &[&[u8]],
    db: usize,
    proto: Proto,
    out: &mut Vec<u8>,
    ctx: &mut RuntimeCtx,
) -> Result<(), script::Refusal> {
    use engine::Rt;
    let tx = ctx.tx;
    let mut w = Writer::new(out, proto);
    let single = core.shards() == 1;
    let gone = || script::Refusal::Error("ERR shard did not answer (shutting down)".into());
    match rt {
        Rt::Ping => match argv.len() {
            1 => w.simple(b"PONG"),
            _ => w.bulk(argv[1]),
        },
        Rt::Echo => w.bulk(argv[1]),
        Rt::Time => {
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap_or_default();
            w.array(2);
            w.bulk(now.as_secs().to_string().as_bytes());
            w.bulk(now.subsec_micros().to_string().as_bytes());
        }
        Rt::Dbsize
        | Rt::Keys
        | Rt::FlushDb
        | Rt::FlushAll
        | Rt::Scan
        | Rt::RandomKey
        | Rt::SwapDb
        | Rt::Info
            if !single && tx.is_none() =>
        {
            return Err(script::Refusal::Retry)
        }
        Rt::Scan => {
            let words = owned(argv);
            let mut walk = match crate::runtime::ScanWalk::new(words.args(), db, core.shards()) {
                Ok(walk) => walk,
                Err(e) => {
                    w.error(&e.to_string());
                    return Ok(());
                }
            };
            let next = loop {
                let (shard, call) = walk.request();
                let (next, found) = call_on(core, shard, call, tx).ok_or_else(gone)?;
                if let Some(cursor) = walk.feed(next, found) {
                    break cursor;
                }
            };
            walk.reply(&mut w, next);
        }
        Rt::RandomKey => {
            let sizes: Vec<i64> = (0..core.shards())
                .map(|s| call_on(core, s, crate::core::calls::Dbsize(db), tx).unwrap_or(0))
                .collect();
            let draw = core.shard.borrow_mut().rng.next_u64();
            let key = crate::runtime::random_key_order(&sizes, draw)
                .into_iter()
                .find_map(|s| call_on(core, s, crate::core::calls::RandomKey(db), tx).flatten());
            match key {
                Some(k) => w.bulk(&k),
                None => w.null(),
            }
        }
        Rt::SwapDb => {
            let index = |a: &[u8]| engine::args::parse_i64(a).filter(|n| i32::try_from(*n).is_ok());
            let (Some(a), Some(b)) = (index(argv[1]), index(argv[2])) else {
                let which = if index(argv[1]).is_none() {
                    "first"
                } else {
                    "second"
                };
                w.error(&format!("ERR invalid {which} DB index"));
                return Ok(());
            };
            let n = core.shared.databases() as i64;
            if a < 0 || a >= n || b < 0 || b >= n {
                w.error("ERR DB index is out of range");
                return Ok(());
            }
            for s in 0..core.shards() {
                call_on(
                    core,
                    s,
                    crate::core::calls::SwapDb(a as usize, b as usize),
                    tx,
                )
                .ok_or_else(gone)?;
            }
            w.ok();
        }
        Rt::Info => {
            let words = owned(argv);
            let wanted = crate::info::Wanted::of(words.args());
            let pubsub = wanted.has("stats");
            let mut stats = Vec::new();
            let mut dbs = Vec::new();
            for s in 0..core.shards() {
                let call = crate::core::calls::Stats {
                    pubsub,
                    ..Default::default()
                };
                stats.push(call_on(core, s, call, tx).ok_or_else(gone)?);
                if wanted.has("keyspace") {
                    dbs.push(call_on(core, s, crate::core::calls::DbInfo, tx).ok_or_else(gone)?);
                }
            }
            w.verbatim(crate::info::text(&core.shared, &wanted, stats, dbs).as_bytes());
        }
        Rt::Publish | Rt::SPublish => {
            let shard = rt == Rt::SPublish;
            let kind = match shard {
                true => crate::pubsub::Kind::Shard,
                false => crate::pubsub::Kind::Channel,
            };
            let counts = core.shared.counts(kind);
            let others: Vec<usize> = (0..core.shards())
                .filter(|&s| s != core.id && counts[s].load(Ordering::Relaxed) > 0)
                .collect();
            // Subscribers on other cores: a broad run counts them exactly; before it wrote,
            // a run on one shard becomes one.
            if !others.is_empty() && tx.is_none() && !ctx.wrote {
                return Err(script::Refusal::Retry);
            }
            let msgs = || vec![(argv[1].to_vec(), argv[2].to_vec())];
            crate::pubsub::to_cluster_detached(core, argv[1], argv[2], shard);
            let mut total = crate::pubsub::publish_here(core, argv[1], argv[2], shard);
            if tx.is_some() {
                for s in others {
                    let call = crate::core::calls::Publish {
                        msgs: msgs(),
                        shard,
                    };
                    total += call_on(core, s, call, tx).unwrap_or(0);
                }
            } else if !others.is_empty() {
                // Written already: the other cores get it in the background, the count is
                // this core's, and the script runs broadly from its next call.
                if let Some(me) = core.rc() {
                    crate::pubsub::publish_detached_messages(&me, msgs(), shard);
                }
                ctx.learn = true;
            }
            w.integer(total);
        }
        Rt::FlushDb | Rt::FlushAll => {
            let lazy = match argv.get(1).map(|a| a.to_ascii_lowercase()) {
                None => false,
                Some(a) if argv.len() == 2 && a == b"async" => true,
                Some(a) if argv.len() == 2 && a == b"sync" => false,
                _ => {
                    w.error("ERR syntax error");
                    return Ok(());
                }
            };
            let db = (rt == Rt::FlushDb).then_some(db);
            let flush = || crate::core::calls::Flush {
                db,
                lazy,
                journal: true,
            };
            core.in_block(tx, || flush().run(core));
            if let Some(tx) = tx {
                for s in (0..core.shards()).filter(|&s| s != core.id) {
                    core.call_blocking(s, Op::Call(Box::new(flush())), tx);
                }
            }
            w.ok();
        }
        Rt::Dbsize => {
            let mut n = core.shard.borrow().dbsize(db);
            if let Some(tx) = tx {
                for s in (0..core.shards()).filter(|&s| s != core.id) {
                    let count = call_on(core, s, crate::core::calls::Dbsize(db), Some(tx));
                    n += count.unwrap_or(0) as usize;
                }
            }
            w.integer(n as i64);
        }
        Rt::Keys => {
            let pattern = argv[1];
            let mut keys = core.shard.borrow().keys(db, pattern);
            if let Some(tx) = tx {
                for s in (0..core.shards()).filter(|&s| s != core.id) {
                    let call = crate::core::calls::Keys {
                        db,
                        pattern: pattern.to_vec(),
                    };
                    keys.extend(call_on(core, s, call, Some(tx)).unwrap_or_default());
                }
            }
            w.array(keys.len());
            for k in &keys {
                w.bulk(k);
            }
        }
        _ => {
            let _ = spec;
            w.error(&format!(
                "ERR '{}' inside a script is not supported by percore yet",
                spec.name
            ));
        }
    }
    Ok(())
}

/// EVAL, EVALSHA, EVAL_RO, EVALSHA_RO, FCALL, FCALL_RO.
pub async fn eval(c: &mut Conn, spec: &'static CommandSpec, args: Args<'_>) {
    let by_sha = spec.name.starts_with("evalsha");
    let function = spec.name.starts_with("fcall");
    let read_only = spec.flags.has(Flags::READONLY);
    let numkeys = engine::args::parse_i64(args.get(2));
    let bad_keys = match numkeys {
        None if function => Some("ERR Bad number of keys provided"),
        None => Some("ERR value is not an integer or out of range"),
        Some(n) if n > args.len() as i64 - 3 => {
            Some("ERR Number of keys can't be greater than number of args")
        }
        Some(n) if n < 0 => Some("ERR Number of keys can't be negative"),
        Some(_) => None,
    };
    if let Some(err) = bad_keys {
        // FCALL looks its function up first.
        if function && c.core.shared.functions.function(args.get(1)).is_none() {
            return c.error("ERR Function not found");
        }
        return c.error(err);
    }
    let numkeys = numkeys.unwrap_or(0);
    let what = if function {
        What::Function {
            name: args.get(1).to_vec(),
            command: args.get(0).to_vec(),
        }
    } else if by_sha {
        let given = args.get(1);
        if given.len() != 40 {
            return c.error(NOSCRIPT);
        }
        let mut sha = [0u8; 40];
        for (d, s) in sha.iter_mut().zip(given) {
            *d = s.to_ascii_lowercase();
        }
        What::Eval { sha, body: None }
    } else {
        let body: Arc<[u8]> = Arc::from(args.get(1));
        What::Eval {
            sha: script::sha1hex(&body),
            body: Some(body),
        }
    };
    let n = numkeys as usize;
    let mut words = engine::args::OwnedArgs::default();
    for i in 3..args.len() {
        let start = words.buf.len() as u32;
        words.buf.extend_from_slice(args.get(i));
        words.ranges.push(resp::Arg {
            start,
            end: words.buf.len() as u32,
        });
    }
    let core = c.core.clone();
    let mut shards: Vec<usize> = (3..3 + n)
        .map(|i| core.shared.shard_of(args.get(i)))
        .collect();
    shards.sort_unstable();
    shards.dedup();
    let learned = core.shards() > 1
        && match &what {
            What::Eval { sha, .. } => core.broad_scripts.borrow().contains(sha),
            What::Function { name, .. } => core.broad_functions.borrow().contains(name),
        };
    let call = EvalCall {
        what,
        words,
        numkeys: n,
        db: c.db,
        read_only,
        proto: c.proto,
        tx: c.tx,
    };
    let broadly = |call| EvalOut {
        again: Some(Box::new(call)),
        ..EvalOut::reply(Vec::new())
    };
    let target = match shards.len() {
        0 => core.id,
        _ => shards[0],
    };
    let mut out = match shards.len() {
        // Inside EXEC on several shards the block holds every shard (`multi::exec`): the
        // script runs broadly in it at once, since a run stopped after a write could not
        // start again.
        _ if learned || (c.tx.is_some() && core.shards() > 1) => broadly(call),
        0 | 1 if target == core.id => core.run_here(call, c.tx),
        1 => core.ask_tx(target, call, c.tx).await,
        _ => broadly(call),
    };
    // A busy script runs in slices; between two, its shard answers others (-BUSY, SCRIPT
    // KILL) and everything that would touch it waits.
    while out.paused {
        out = if target == core.id {
            reactor::yield_turn().await;
            core.run_here(Resume, None)
        } else {
            core.ask(target, Resume).await
        };
    }
    if out.learn {
        // Run it broadly from now on (args 1: the function's name, the sha, or the body).
        let named = args.get(1);
        if function {
            core.broad_functions.borrow_mut().insert(named.to_vec());
        } else {
            let sha = match by_sha {
                true => {
                    let mut sha = [0u8; 40];
                    for (d, s) in sha.iter_mut().zip(named) {
                        *d = s.to_ascii_lowercase();
                    }
                    sha
                }
                false => script::sha1hex(named),
            };
            core.broad_scripts.borrow_mut().insert(sha);
        }
    }
    let reply = match (out.again, c.tx) {
        (None, _) => out.reply,
        // Inside EXEC, which holds every shard when it queues a script (`multi::exec`).
        (Some(call), tx) => {
            let (reply, events) = match tx {
                Some(tx) => broad_in(&core, tx, *call),
                None => broad(&core, c.in_read, *call).await,
            };
            // Published before the reply, as a command's own events are.
            c.events.extend(events);
            reply
        }
    };
    c.out.extend_from_slice(&reply);
}

/// Runs the script on this core inside an EXEC that holds every shard (`tx`): as `broad`,
/// without locking again and without stopping when busy (nothing may come between the
/// block's commands). Returns the reply and the script's keyspace events.
fn broad_in(core: &Rc<Core>, tx: u64, call: EvalCall) -> (Vec<u8>, Vec<engine::notify::Event>) {
    let mut host = Broad {
        core,
        tx,
        events: Vec::new(),
    };
    let (reply, outcome) = run_script(core, &call, &mut host, false);
    debug_assert!(outcome != script::Outcome::Yielded);
    (reply, host.take_events())
}

impl Broad<'_> {
    /// The run's keyspace events: this shard's, then the other shards'.
    fn take_events(&mut self) -> Vec<engine::notify::Event> {
        let mut events = self.core.shard.borrow_mut().take_events();
        events.append(&mut self.events);
        events
    }
}

/// Runs the script on this core with every shard locked.
async fn broad(
    core: &Rc<Core>,
    in_read: bool,
    call: EvalCall,
) -> (Vec<u8>, Vec<engine::notify::Event>) {
    let mut txn = Txn::begin(core, None, Scope::Every { in_read }).await;
    core.shard.borrow_mut().set_time(engine::shard::unix_ms());
    let mut host = Broad {
        core,
        tx: txn.tx,
        events: Vec::new(),
    };
    let (mut reply, mut outcome) = run_script(core, &call, &mut host, true);
    if outcome == script::Outcome::Yielded {
        // Busy: every shard is the script's (the operation holds them all); between
        // slices, commands for any shard get -BUSY.
        core.shared
            .busy
            .hold(core, 0..core.shards(), call.running());
        txn.open_reads();
        while outcome == script::Outcome::Yielded {
            reactor::yield_turn().await;
            (reply, outcome) = resume_script(core, &mut host, call.is_function());
        }
        core.shared.busy.free(core);
    }
    let events = host.take_events();
    core.serve_ready();
    core.publish_events();
    txn.end(core).await;
    (reply, events)
}

/// SCRIPT LOAD | EXISTS | FLUSH | KILL | HELP.
pub async fn script_cmd(c: &mut Conn, args: Args<'_>) {
    let sub = args.get(1).to_ascii_lowercase();
    if let Some(e) =
        engine::lookup(b"script").and_then(|s| engine::table::subcommand_error(s, args))
    {
        return c.error(&e);
    }
    let core = c.core.clone();
    match (sub.as_slice(), args.len()) {
        (b"help", 2) => {
            let lines = [
                "SCRIPT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
                "DEBUG (YES|SYNC|NO)",
                "    Set the debug mode for subsequent scripts executed.",
                "EXISTS <sha1> [<sha1> ...]",
                "    Return information about the existence of the scripts in the script cache.",
                "FLUSH [ASYNC|SYNC]",
                "    Flush the Lua scripts cache. Very dangerous on replicas.",
                "    When called without the optional mode argument, the behavior is determined by the",
                "    lazyfree-lazy-user-flush configuration directive. Valid modes are:",
                "    * ASYNC: Asynchronously flush the scripts cache.",
                "    * SYNC: Synchronously flush the scripts cache.",
                "KILL",
                "    Kill the currently executing Lua script.",
                "LOAD <script>",
                "    Load a script into the scripts cache without executing it.",
                "HELP",
                "    Prints this help.",
            ];
            c.help(&lines);
        }
        (b"load", 3) => {
            let body: Arc<[u8]> = Arc::from(args.get(2));
            let loaded = {
                let mut lua = core.lua.borrow_mut();
                match lua.as_mut() {
                    Some(e) => e.load(&body),
                    None => match script::Engine::new() {
                        Ok(e) => lua.insert(e).load(&body),
                        Err(e) => Err(format!("ERR could not start Lua: {e}")),
                    },
                }
            };
            match loaded {
                Ok(sha) => {
                    core.shared.scripts.insert(sha, body);
                    c.writer().bulk(&sha);
                }
                Err(msg) => c.error(&msg),
            }
        }
        (b"exists", n) if n >= 3 => {
            let mut w = c.writer();
            w.array(n - 2);
            for i in 2..n {
                let given = args.get(i);
                let mut sha = [0u8; 40];
                let found = given.len() == 40 && {
                    for (d, s) in sha.iter_mut().zip(given) {
                        *d = s.to_ascii_lowercase();
                    }
                    core.shared.scripts.contains(&sha)
                };
                w.integer(found as i64);
            }
        }
        (b"flush", 2 | 3) => {
            if args.len() == 3 {
                let mode = args.get(2).to_ascii_lowercase();
                if mode != b"sync" && mode != b"async" {
                    return c.error("ERR SCRIPT FLUSH only support SYNC|ASYNC option");
                }
            }
            core.shared.scripts.clear();
            core.ask_all(|_| crate::core::calls::FlushScripts, None)
                .await;
            c.writer().ok();
        }
        (b"kill", 2) => match core.shared.busy.kill(true) {
            Ok(()) => c.writer().ok(),
            Err(e) => c.error(e),
        },
        (b"debug", 3) => c.error("ERR SCRIPT DEBUG is not supported by percore"),
        _ => {
            let name = String::from_utf8_lossy(args.get(1)).into_owned();
            c.error(&format!(
                "ERR unknown subcommand or wrong number of arguments for '{name}'. Try SCRIPT HELP."
            ));
        }
    }
}
