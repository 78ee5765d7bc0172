//! FUNCTION LOAD | DELETE | FLUSH | DUMP | RESTORE | LIST | STATS | KILL | HELP (Redis 7.0's
//! functions; FCALL runs through `scripting::eval`). The libraries live in
//! `Shared::functions`; a library is checked by loading it into a Lua state of its own
//! before it joins them, and each core's functions state loads them again when they change
//! (`scripting::functions_engine`). Every change is made on core 0 and journaled there, as
//! the command (Redis propagates FUNCTION commands as they are), so shard 0's AOF holds
//! them in the order they took effect; snapshots write the libraries from core 0 at their
//! point (`persist::start_shard`).

use crate::conn::Conn;
use crate::core::Core;
use crate::ops::{Call, Touches};
use engine::Args;
use script::functions::{self, Libraries, Library, Policy};

/// Redis' time limit for a library's code under FUNCTION LOAD.
const LOAD_TIMEOUT_MS: u64 = 500;

fn syntax_error(c: &mut Conn, args: Args<'_>) {
    let name = String::from_utf8_lossy(args.get(1)).into_owned();
    c.error(&format!(
        "ERR unknown subcommand or wrong number of arguments for '{name}'. Try FUNCTION HELP."
    ));
}

pub async fn function_cmd(c: &mut Conn, args: Args<'_>) {
    let sub = args.get(1).to_ascii_lowercase();
    // An unknown subcommand, or a known one with the wrong number of arguments.
    if let Some(e) =
        engine::lookup(b"function").and_then(|s| engine::table::subcommand_error(s, args))
    {
        return c.error(&e);
    }
    match sub.as_slice() {
        b"load" => load(c, args).await,
        b"delete" => {
            let name = args.get(2).to_vec();
            change(c, args, Op::Delete(name)).await;
        }
        b"flush" => {
            if args.len() > 3 {
                return syntax_error(c, args);
            }
            if args.len() == 3 {
                let mode = args.get(2).to_ascii_lowercase();
                if mode != b"sync" && mode != b"async" {
                    return c.error("ERR FUNCTION FLUSH only supports SYNC|ASYNC option");
                }
            }
            change(c, args, Op::Flush).await;
        }
        b"dump" => {
            let (_, libs) = c.core.shared.functions.snapshot();
            let codes: Vec<&[u8]> = libs.iter().map(|l| &l.code[..]).collect();
            let payload = engine::rdb::dump_functions(&codes);
            c.writer().bulk(&payload);
        }
        b"restore" => restore(c, args).await,
        b"list" => list(c, args),
        b"stats" => stats(c),
        b"kill" => match c.core.shared.busy.kill(false) {
            Ok(()) => c.writer().ok(),
            Err(e) => c.error(e),
        },
        b"help" => help(c),
        _ => syntax_error(c, args),
    }
}

fn scratch() -> Result<script::Engine, String> {
    script::Engine::functions().map_err(|e| format!("ERR could not start Lua: {e}"))
}

/// A change to the libraries, made on core 0 (see the module's comment).
enum Op {
    Add(Library, bool),
    Delete(Vec<u8>),
    Flush,
    Restore(Vec<Library>, Policy),
}

/// Makes `op` to `libs`: Ok(the library's name, for LOAD) or the reply's error.
fn apply(libs: &Libraries, op: Op) -> Result<Option<String>, String> {
    match op {
        Op::Add(lib, replace) => {
            let name = lib.name.clone();
            libs.add(lib, replace).map(|()| Some(name))
        }
        Op::Delete(name) => match libs.delete(&name) {
            true => Ok(None),
            false => Err("ERR Library not found".into()),
        },
        Op::Flush => {
            libs.flush();
            Ok(None)
        }
        Op::Restore(new, policy) => libs.restore(new, policy).map(|()| None),
    }
}

/// A change on core 0, journaled there as `argv` once made.
struct Change {
    op: Op,
    argv: Vec<Vec<u8>>,
}

impl Call for Change {
    type Out = Result<Option<String>, String>;
    fn touches(&self) -> Touches<'_> {
        Touches::Nothing
    }
    fn run(self, core: &Core) -> Self::Out {
        let out = apply(&core.shared.functions, self.op)?;
        let mut shard = core.shard.borrow_mut();
        shard
            .journal
            .record_any_db(self.argv.iter().map(|a| &a[..]));
        shard.stats.dirty += 1;
        Ok(out)
    }
}

/// Sends `op` to core 0 and answers: the library's name for LOAD, else OK.
async fn change(c: &mut Conn, args: Args<'_>, op: Op) {
    let argv = args.iter().map(|a| a.to_vec()).collect();
    let core = c.core.clone();
    match core.ask_tx(0, Change { op, argv }, c.tx).await {
        Ok(Some(name)) => c.writer().bulk(name.as_bytes()),
        Ok(None) => c.writer().ok(),
        Err(e) => c.error(&e),
    }
}

/// A FUNCTION command met replaying an AOF (`engine::aof::Walk::side`), applied to `libs`
/// as the command would be (no time limit on library code).
pub fn replay(libs: &Libraries, argv: &[Vec<u8>]) -> Result<(), String> {
    let sub = argv
        .get(1)
        .map(|s| s.to_ascii_lowercase())
        .unwrap_or_default();
    let op = match (sub.as_slice(), argv.len()) {
        (b"load", n @ (3 | 4)) => {
            let replace = n == 4;
            let lib = scratch()?.load_library(&argv[n - 1], 0)?;
            Op::Add(lib, replace)
        }
        (b"delete", 3) => Op::Delete(argv[2].clone()),
        (b"flush", 2 | 3) => Op::Flush,
        (b"restore", n @ (3 | 4)) => {
            let policy = match argv.get(3).map(|p| p.to_ascii_lowercase()) {
                Some(p) if p == b"flush" => Policy::Flush,
                Some(p) if p == b"replace" => Policy::Replace,
                _ => Policy::Append,
            };
            let _ = n;
            let codes = engine::rdb::restore_functions(&argv[2]).map_err(|e| format!("ERR {e}"))?;
            Op::Restore(libraries_of(&codes)?, policy)
        }
        _ => return Err("ERR unknown FUNCTION command in the append only file".into()),
    };
    apply(libs, op).map(|_| ())
}

/// Libraries read from a file (an RDB image's FUNCTION2 records) join `libs`, replacing
/// those of the same name.
pub fn load_from_file(libs: &Libraries, codes: &[Vec<u8>]) -> Result<(), String> {
    if codes.is_empty() {
        return Ok(());
    }
    libs.restore(libraries_of(codes)?, Policy::Replace)
}

/// FUNCTION LOAD [REPLACE] code.
async fn load(c: &mut Conn, args: Args<'_>) {
    let mut replace = false;
    let mut at = 2;
    while at < args.len() - 1 {
        if !args.get(at).eq_ignore_ascii_case(b"replace") {
            let opt = String::from_utf8_lossy(args.get(at)).into_owned();
            return c.error(&format!("ERR Unknown option given: {opt}"));
        }
        replace = true;
        at += 1;
    }
    let code = args.get(at);
    let libs = &c.core.shared.functions;
    let meta = match functions::parse_meta(code) {
        Ok(m) => m,
        Err(e) => return c.error(&e),
    };
    if !replace && libs.exists(&meta.name) {
        return c.error(&format!("ERR Library '{}' already exists", meta.name));
    }
    let lib = match scratch().and_then(|mut e| e.load_library(code, LOAD_TIMEOUT_MS)) {
        Ok(lib) => lib,
        Err(e) => return c.error(&e),
    };
    change(c, args, Op::Add(lib, replace)).await;
}

/// FUNCTION RESTORE payload [FLUSH|APPEND|REPLACE].
async fn restore(c: &mut Conn, args: Args<'_>) {
    if args.len() > 4 {
        return syntax_error(c, args);
    }
    let policy = match args.len() {
        4 => match args.get(3).to_ascii_lowercase().as_slice() {
            b"append" => Policy::Append,
            b"replace" => Policy::Replace,
            b"flush" => Policy::Flush,
            _ => return c.error(
                "ERR Wrong restore policy given, value should be either FLUSH, APPEND or REPLACE.",
            ),
        },
        _ => Policy::Append,
    };
    let codes = match engine::rdb::restore_functions(args.get(2)) {
        Ok(codes) => codes,
        Err(e) => return c.error(&format!("ERR {e}")),
    };
    match libraries_of(&codes) {
        Ok(libs) => change(c, args, Op::Restore(libs, policy)).await,
        Err(e) => c.error(&e),
    }
}

/// Checks libraries given by their code (a payload's, an RDB file's), all in one Lua
/// state so that two of them cannot share a function name. The error is the reply's text.
pub fn libraries_of(codes: &[Vec<u8>]) -> Result<Vec<Library>, String> {
    let mut engine = scratch()?;
    let mut libs: Vec<Library> = Vec::with_capacity(codes.len());
    for code in codes {
        let meta = functions::parse_meta(code)?;
        if libs.iter().any(|l| l.name == meta.name) {
            return Err(format!("ERR Library '{}' already exists", meta.name));
        }
        libs.push(engine.load_library(code, 0)?);
    }
    Ok(libs)
}

/// FUNCTION LIST [LIBRARYNAME pattern] [WITHCODE].
fn list(c: &mut Conn, args: Args<'_>) {
    let (mut with_code, mut pattern): (bool, Option<&[u8]>) = (false, None);
    let mut i = 2;
    while i < args.len() {
        let a = args.get(i);
        if !with_code && a.eq_ignore_ascii_case(b"withcode") {
            with_code = true;
        } else if pattern.is_none() && a.eq_ignore_ascii_case(b"libraryname") {
            if i >= args.len() - 1 {
                return c.error("ERR library name argument was not given");
            }
            i += 1;
            pattern = Some(args.get(i));
        } else {
            let a = String::from_utf8_lossy(a).into_owned();
            return c.error(&format!("ERR Unknown argument {a}"));
        }
        i += 1;
    }
    let (_, libs) = c.core.shared.functions.snapshot();
    let libs: Vec<_> = libs
        .into_iter()
        .filter(|l| pattern.is_none_or(|p| engine::glob::matches(p, l.name.as_bytes(), true)))
        .collect();
    let mut w = c.writer();
    w.array(libs.len());
    for lib in &libs {
        w.map(if with_code { 4 } else { 3 });
        w.bulk(b"library_name");
        w.bulk(lib.name.as_bytes());
        w.bulk(b"engine");
        w.bulk(functions::ENGINE.as_bytes());
        w.bulk(b"functions");
        w.array(lib.functions.len());
        for f in &lib.functions {
            w.map(3);
            w.bulk(b"name");
            w.bulk(f.name.as_bytes());
            w.bulk(b"description");
            match &f.description {
                Some(d) => w.bulk(d),
                None => w.null(),
            }
            w.bulk(b"flags");
            let flags = functions::flag_names(&f.flags);
            w.set(flags.len());
            for f in flags {
                w.simple(f.as_bytes());
            }
        }
        if with_code {
            w.bulk(b"library_code");
            w.bulk(&lib.code);
        }
    }
}

/// FUNCTION STATS.
fn stats(c: &mut Conn) {
    let running = match c.core.shared.busy.running_function() {
        Ok(r) => r,
        Err(e) => return c.error(e),
    };
    let (libraries, functions) = c.core.shared.functions.counts();
    let mut w = c.writer();
    w.map(2);
    w.bulk(b"running_script");
    match running {
        None => w.null(),
        Some(run) => {
            w.map(3);
            w.bulk(b"name");
            w.bulk(run.name.as_bytes());
            w.bulk(b"command");
            w.array(run.command.len());
            for a in &run.command {
                w.bulk(a);
            }
            w.bulk(b"duration_ms");
            w.integer(run.duration_ms as i64);
        }
    }
    w.bulk(b"engines");
    w.map(1);
    w.bulk(functions::ENGINE.as_bytes());
    w.map(2);
    w.bulk(b"libraries_count");
    w.integer(libraries as i64);
    w.bulk(b"functions_count");
    w.integer(functions as i64);
}

fn help(c: &mut Conn) {
    let lines = [
        "FUNCTION <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "LOAD [REPLACE] <FUNCTION CODE>",
        "    Create a new library with the given library name and code.",
        "DELETE <LIBRARY NAME>",
        "    Delete the given library.",
        "LIST [LIBRARYNAME PATTERN] [WITHCODE]",
        "    Return general information on all the libraries:",
        "    * Library name",
        "    * The engine used to run the Library",
        "    * Library description",
        "    * Functions list",
        "    * Library code (if WITHCODE is given)",
        "    It also possible to get only function that matches a pattern using LIBRARYNAME argument.",
        "STATS",
        "    Return information about the current function running:",
        "    * Function name",
        "    * Command used to run the function",
        "    * Duration in MS that the function is running",
        "    If no function is running, return nil",
        "    In addition, returns a list of available engines.",
        "KILL",
        "    Kill the current running function.",
        "FLUSH [ASYNC|SYNC]",
        "    Delete all the libraries.",
        "    When called without the optional mode argument, the behavior is determined by the",
        "    lazyfree-lazy-user-flush configuration directive. Valid modes are:",
        "    * ASYNC: Asynchronously flush the libraries.",
        "    * SYNC: Synchronously flush the libraries.",
        "DUMP",
        "    Return a serialized payload representing the current libraries, can be restored using FUNCTION RESTORE command",
        "RESTORE <PAYLOAD> [FLUSH|APPEND|REPLACE]",
        "    Restore the libraries represented by the given payload, it is possible to give a restore policy to",
        "    control how to handle existing libraries (default APPEND):",
        "    * FLUSH: delete all existing libraries.",
        "    * APPEND: appends the restored libraries to the existing libraries. On collision, abort.",
        "    * REPLACE: appends the restored libraries to the existing libraries, On collision, replace the old",
        "      libraries with the new libraries (notice that even on this option there is a chance of failure",
        "      in case of functions name collision with another library).",
        "HELP",
        "    Prints this help.",
    ];
    c.help(&lines);
}
