//! The checks a command passes before it runs, as data in and a verdict out (Dragonfly's
//! `VerifyCommandState`): the few facts of a connection they need, not the connection.
//! Redis 7.0's order: arity, DEBUG's permission, authentication, commands MULTI refuses,
//! MISCONF, the RESP2 subscribed context, LOADING, BUSY, then MULTI (which queues what passed, or
//! dooms the block with the error). A refused EXEC aborts its transaction
//! (`exec_abort`).

use engine::table::{CommandSpec, Flags};
use engine::Args;
use resp::Limits;

/// What the checks need to know of a connection.
pub struct State {
    pub authed: bool,
    /// A read-only replica, and the client is not its master: writes are refused.
    pub readonly: bool,
    /// min-replicas-to-write is not met: writes are refused.
    pub noreplicas: bool,
    /// A replica with its link down and replica-serve-stale-data no.
    pub masterdown: bool,
    /// A script or function that declared flags without allow-stale (not stale then).
    pub unstale_by_flags: bool,
    pub resp3: bool,
    pub subscribed: bool,
    pub in_multi: bool,
    /// An RDB file is being loaded: only commands flagged `loading` run.
    pub loading: bool,
    /// The last background save failed with stop-writes-on-bgsave-error and save points
    /// set: writes (and PING) are refused with MISCONF.
    pub misconf: bool,
    /// The last write to the AOF failed, with this error: writes (and PING) are refused
    /// with MISCONF until a write succeeds.
    pub aof_error: Option<String>,
    /// Inside MULTI: the union of the queued commands' flags, and the flags at least one
    /// of them lacks (Redis' `mstate.cmd_flags` and `cmd_inv_flags`): EXEC passes the
    /// checks as its queue would.
    pub queued: Flags,
    pub queued_lacking: Flags,
    /// A busy script holds a shard this command needs (`scripting::blocked_by_busy`): the
    /// -BUSY text for its kind (script or function).
    pub busy: Option<&'static str>,
    /// The command writes by what it runs rather than by its own flags (a script with a
    /// shebang and no `no-writes`, a function without it, FUNCTION LOAD ...: Redis'
    /// getCommandFlags); worked out only when a MISCONF state makes it matter.
    pub writes_by_flags: bool,
    /// Over maxmemory with nothing to evict (`memory::make_room`).
    pub oom: bool,
    /// A script or function that counts as denyoom by its flags (worked out only when
    /// `oom`).
    pub denyoom_by_flags: bool,
}

/// Whether a failed background save stops writes: stop-writes-on-bgsave-error with save
/// points set.
pub fn stop_writes_on_save_error(core: &crate::core::Core) -> bool {
    let on = core
        .shared
        .config
        .read()
        .map(|c| c.get("stop-writes-on-bgsave-error").as_deref() == Some("yes"))
        .unwrap_or(false);
    on && !crate::persist::save_points(core).is_empty()
}

/// The error writes get while the server cannot persist (Redis' writeCommandsDeniedByDiskError):
/// a failed background save that stops writes, or a failed AOF write.
/// Why a script's first write is refused now, as Redis' scriptVerifyWriteCommandAllow
/// orders it: a read-only replica, a persistence error, too few good replicas.
pub fn script_write_denied(core: &crate::core::Core) -> Option<String> {
    if core.shared.repl.refuses_writes() {
        return Some(READONLY.into());
    }
    if let Some(e) = disk_error(core) {
        return Some(e);
    }
    core.shared
        .feed
        .too_few_replicas()
        .then(|| "NOREPLICAS Not enough good replicas to write.".into())
}

pub fn disk_error(core: &crate::core::Core) -> Option<String> {
    let shared = &core.shared;
    if !shared
        .persist
        .last_ok
        .load(std::sync::atomic::Ordering::Relaxed)
        && stop_writes_on_save_error(core)
    {
        return Some(MISCONF.into());
    }
    shared
        .aof
        .write_error()
        .map(|e| format!("MISCONF Errors writing to the AOF file: {e}"))
}

pub const READONLY: &str = "READONLY You can't write against a read only replica.";
const OOM: &str = "OOM command not allowed when used memory > 'maxmemory'.";

pub const MISCONF: &str = "MISCONF Redis is configured to save RDB snapshots, but it's currently unable to persist to disk. Commands that may modify the data set are disabled, because this instance is configured to report errors during writes if RDB snapshotting fails (stop-writes-on-bgsave-error option). Please check the Redis logs for details about the RDB error.";

#[derive(Debug, PartialEq, Eq)]
pub enum Verdict {
    Run,
    /// Inside MULTI: queue it for EXEC.
    Queue,
    /// Refused with this error (inside MULTI it also dooms the transaction).
    Reject(String),
}

/// The verdict on `spec` called with `args`; `debug_allowed` is asked only for DEBUG (it
/// reads the configuration).
pub fn verify(
    st: &State,
    spec: &CommandSpec,
    args: Args,
    debug_allowed: impl FnOnce() -> bool,
) -> Verdict {
    // Redis 7.0 checks arity before authentication: an unauthenticated `GET` gets the arity
    // error, not NOAUTH.
    if !spec.arity_ok(args.len()) {
        return Verdict::Reject(format!(
            "ERR wrong number of arguments for '{}' command",
            spec.name
        ));
    }
    // A container's subcommand is looked up and its arity checked with the command
    // (Redis' lookupCommand and commandCheckArity), before anything else.
    if args.len() >= 2 {
        if let Some(e) = engine::table::subcommand_error(spec, args) {
            return Verdict::Reject(e);
        }
    }
    if spec.name == "debug" && !debug_allowed() {
        return Verdict::Reject("ERR DEBUG command not allowed. If the enable-debug-command option is set to \"local\", you can run it from a local connection, otherwise you need to set this option in the configuration file, and then restart the server.".into());
    }
    if !st.authed && !spec.flags.has(Flags::NO_AUTH) {
        return Verdict::Reject("NOAUTH Authentication required.".into());
    }
    if st.in_multi && spec.flags.has(Flags::NO_MULTI) {
        return Verdict::Reject("ERR Command not allowed inside a transaction".into());
    }
    let exec = spec.name == "exec";
    // Redis' processCommand: denyoom commands (an EXEC whose queue has one), and anything
    // queued inside MULTI but EXEC, DISCARD, QUIT and RESET, are refused while out of memory.
    let denyoom = spec.flags.has(Flags::DENYOOM)
        || st.denyoom_by_flags
        || (exec && st.queued.has(Flags::DENYOOM));
    let queues = st.in_multi && !matches!(spec.name, "exec" | "discard" | "quit" | "reset");
    if st.oom && (denyoom || queues) {
        return Verdict::Reject(OOM.into());
    }
    let write = spec.is_write() || st.writes_by_flags || (exec && st.queued.has(Flags::WRITE));
    if st.misconf && (write || spec.name == "ping") {
        return Verdict::Reject(MISCONF.into());
    }
    if let Some(e) = st
        .aof_error
        .as_ref()
        .filter(|_| write || spec.name == "ping")
    {
        return Verdict::Reject(format!("MISCONF Errors writing to the AOF file: {e}"));
    }
    if st.noreplicas && write {
        return Verdict::Reject("NOREPLICAS Not enough good replicas to write.".into());
    }
    if st.readonly && write {
        return Verdict::Reject(READONLY.into());
    }
    if !st.resp3 && st.subscribed && !allowed_subscribed(spec.name) {
        return Verdict::Reject(format!(
            "ERR Can't execute '{}': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context",
            spec.name
        ));
    }
    let stale_ok = spec.flags.has(Flags::STALE)
        && !st.unstale_by_flags
        && !(exec && st.queued_lacking.has(Flags::STALE));
    if st.masterdown && !stale_ok {
        return Verdict::Reject(
            "MASTERDOWN Link with MASTER is down and replica-serve-stale-data is set to 'no'."
                .into(),
        );
    }
    let not_loading =
        !spec.flags.has(Flags::LOADING) || (exec && st.queued_lacking.has(Flags::LOADING));
    if st.loading && not_loading {
        return Verdict::Reject("LOADING Redis is loading the dataset in memory".into());
    }
    if let Some(text) = st.busy {
        if !crate::scripting::allowed_while_busy(spec, args) {
            return Verdict::Reject(text.into());
        }
    }
    if st.in_multi && !crate::multi::runs_inside_multi(spec.name) {
        return Verdict::Queue;
    }
    Verdict::Run
}

/// EXEC refused by a check discards its transaction and says why (Redis' execCommandAbort:
/// the reason without its `ERR ` code).
pub fn exec_abort(reason: &str) -> String {
    let reason = reason.strip_prefix("ERR ").unwrap_or(reason);
    format!("EXECABORT Transaction discarded because of: {reason}")
}

/// What a RESP2 client may send while subscribed.
fn allowed_subscribed(name: &str) -> bool {
    matches!(
        name,
        "subscribe"
            | "unsubscribe"
            | "psubscribe"
            | "punsubscribe"
            | "ssubscribe"
            | "sunsubscribe"
            | "ping"
            | "quit"
            | "reset"
    )
}

/// Redis 7.0 caps what a client that still has to AUTH may make it buffer: at most 10
/// arguments of at most 16 KiB each (CVE-2021-32675). Walks the headers of the pending
/// multibulk command that are already buffered; anything malformed is left for the parser,
/// which reports it as Redis would (Redis checks the same headers in the same order).
pub fn unauthenticated_limit(buf: &[u8], limits: &Limits) -> Option<&'static str> {
    const MAX_ARGS: i64 = 10;
    const MAX_BULK: i64 = 16 * 1024;
    let header = |pos: usize, prefix: u8| -> Option<(i64, usize)> {
        let rest = buf.get(pos..)?;
        if rest.first() != Some(&prefix) {
            return None;
        }
        let window = &rest[..rest.len().min(limits.max_inline_len + 1)];
        let cr = window.iter().position(|&b| b == b'\r')?;
        let digits = &rest[1..cr];
        // Only what Redis' string2ll accepts as non-negative (no sign, no leading zero);
        // the rest is the parser's to reject or accept.
        let canonical = digits == b"0"
            || (digits.len() < 19
                && digits.first().is_some_and(|d| (b'1'..=b'9').contains(d))
                && digits.iter().all(u8::is_ascii_digit));
        if !canonical {
            return None;
        }
        let n: i64 = std::str::from_utf8(digits).ok()?.parse().ok()?;
        Some((n, pos + cr + 2))
    };
    let (count, mut pos) = header(0, b'*')?;
    if count > i32::MAX as i64 {
        return None;
    }
    if count > MAX_ARGS {
        return Some("ERR Protocol error: unauthenticated multibulk length");
    }
    for _ in 0..count {
        let (len, data) = header(pos, b'$')?;
        if len as u64 > limits.max_bulk_len as u64 {
            return None;
        }
        if len > MAX_BULK {
            return Some("ERR Protocol error: unauthenticated bulk length");
        }
        pos = data + len as usize + 2;
    }
    None
}

/// Redis 7.0's message for an unknown command, with the first arguments quoted.
pub fn unknown_command(args: Args) -> String {
    // Redis prints with "%.128s" and "'%.*s' ": byte limits, and each argument ends at its
    // first NUL.
    fn c_str(b: &[u8], max: usize) -> &[u8] {
        let end = b.iter().position(|&c| c == 0).unwrap_or(b.len()).min(max);
        &b[..end]
    }
    let name = String::from_utf8_lossy(c_str(args.get(0), 128)).into_owned();
    let mut rest: Vec<u8> = Vec::new();
    for a in args.iter().skip(1) {
        if rest.len() >= 128 {
            break;
        }
        let room = 128 - rest.len();
        rest.push(b'\'');
        rest.extend_from_slice(c_str(a, room));
        rest.extend_from_slice(b"' ");
    }
    let msg = format!(
        "ERR unknown command '{name}', with args beginning with: {}",
        String::from_utf8_lossy(&rest)
    );
    msg.replace(['\r', '\n'], " ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn verdict(st: &State, words: &[&str]) -> Verdict {
        let mut buf = Vec::new();
        let mut ranges = Vec::new();
        for w in words {
            let start = buf.len();
            buf.extend_from_slice(w.as_bytes());
            ranges.push(resp::Arg {
                start: start as u32,
                end: buf.len() as u32,
            });
        }
        let spec = engine::lookup(words[0].as_bytes()).expect("a known command");
        verify(st, spec, Args::new(&buf, &ranges), || false)
    }

    fn state() -> State {
        State {
            authed: true,
            readonly: false,
            noreplicas: false,
            masterdown: false,
            unstale_by_flags: false,
            resp3: false,
            subscribed: false,
            in_multi: false,
            loading: false,
            misconf: false,
            aof_error: None,
            queued: Flags::default(),
            queued_lacking: Flags::default(),
            busy: None,
            writes_by_flags: false,
            oom: false,
            denyoom_by_flags: false,
        }
    }

    /// Out of memory: denyoom commands, and queueing in MULTI, refused; reads, deletes,
    /// EXEC of a read-only queue and DISCARD run.
    #[test]
    fn oom_refuses_what_redis_refuses() {
        let oom = State {
            oom: true,
            ..state()
        };
        let refused = Verdict::Reject(OOM.into());
        let run = verdict;
        assert_eq!(run(&oom, &["set", "k", "v"]), refused);
        assert_eq!(run(&oom, &["lpush", "k", "v"]), refused);
        assert_eq!(run(&oom, &["get", "k"]), Verdict::Run);
        assert_eq!(run(&oom, &["del", "k"]), Verdict::Run);
        let multi = State {
            in_multi: true,
            ..oom
        };
        assert_eq!(run(&multi, &["get", "k"]), refused);
        assert_eq!(run(&multi, &["discard"]), Verdict::Run);
        let exec_reads = State {
            in_multi: true,
            queued: Flags::of(&["readonly"]),
            ..state()
        };
        let exec_reads = State {
            oom: true,
            ..exec_reads
        };
        assert_eq!(run(&exec_reads, &["exec"]), Verdict::Run);
        let exec_writes = State {
            queued: Flags::of(&["write", "denyoom"]),
            ..exec_reads
        };
        assert_eq!(run(&exec_writes, &["exec"]), refused);
    }

    #[test]
    fn busy_scripts_leave_only_what_redis_allows() {
        let busy = State {
            busy: Some(script::BUSY_EVAL),
            ..state()
        };
        let refused = Verdict::Reject(script::BUSY_EVAL.into());
        for cmd in [
            &["get", "k"][..],
            &["ping"],
            &["script", "load", "x"],
            &["exec"],
        ] {
            assert_eq!(verdict(&busy, cmd), refused, "{cmd:?}");
        }
        for cmd in [
            &["script", "kill"][..],
            &["multi"],
            &["discard"],
            &["shutdown", "nosave"],
            &["watch", "k"],
        ] {
            assert_eq!(verdict(&busy, cmd), Verdict::Run, "{cmd:?}");
        }
        // Inside MULTI, refused (dooming the transaction) rather than queued.
        let in_multi = State {
            in_multi: true,
            ..busy
        };
        assert_eq!(verdict(&in_multi, &["set", "k", "v"]), refused);
    }

    #[test]
    fn loading_and_misconf_refuse_what_redis_refuses() {
        let loading = State {
            loading: true,
            ..state()
        };
        assert_eq!(verdict(&loading, &["info"]), Verdict::Run);
        assert!(matches!(
            verdict(&loading, &["get", "k"]),
            Verdict::Reject(m) if m == "LOADING Redis is loading the dataset in memory"
        ));
        let misconf = State {
            misconf: true,
            ..state()
        };
        assert_eq!(verdict(&misconf, &["get", "k"]), Verdict::Run);
        for w in [&["set", "k", "v"][..], &["ping"]] {
            assert!(
                matches!(verdict(&misconf, w), Verdict::Reject(m) if m.starts_with("MISCONF "))
            );
        }
        // A failed AOF write: Redis' own text, with the error.
        let aof = State {
            aof_error: Some("No space left on device".into()),
            ..state()
        };
        assert_eq!(verdict(&aof, &["get", "k"]), Verdict::Run);
        assert_eq!(
            verdict(&aof, &["set", "k", "v"]),
            Verdict::Reject(
                "MISCONF Errors writing to the AOF file: No space left on device".into()
            )
        );
    }

    #[test]
    fn arity_before_auth() {
        let st = State {
            authed: false,
            ..state()
        };
        assert_eq!(
            verdict(&st, &["get"]),
            Verdict::Reject("ERR wrong number of arguments for 'get' command".into())
        );
        assert_eq!(
            verdict(&st, &["get", "k"]),
            Verdict::Reject("NOAUTH Authentication required.".into())
        );
        assert_eq!(verdict(&st, &["auth", "pw"]), Verdict::Run);
        assert_eq!(verdict(&state(), &["get", "k"]), Verdict::Run);
    }

    #[test]
    fn debug_needs_permission() {
        assert!(matches!(
            verdict(&state(), &["debug", "sleep", "0"]),
            Verdict::Reject(m) if m.starts_with("ERR DEBUG command not allowed")
        ));
    }

    #[test]
    fn subscribed_resp2_context() {
        let st = State {
            subscribed: true,
            ..state()
        };
        assert!(
            matches!(verdict(&st, &["get", "k"]), Verdict::Reject(m) if m.starts_with("ERR Can't execute 'get'"))
        );
        assert_eq!(verdict(&st, &["ping"]), Verdict::Run);
        let resp3 = State { resp3: true, ..st };
        assert_eq!(verdict(&resp3, &["get", "k"]), Verdict::Run);
    }

    #[test]
    fn multi_queues_or_dooms() {
        let st = State {
            in_multi: true,
            ..state()
        };
        assert_eq!(verdict(&st, &["set", "k", "v"]), Verdict::Queue);
        assert_eq!(verdict(&st, &["exec"]), Verdict::Run);
        assert!(matches!(verdict(&st, &["set", "k"]), Verdict::Reject(_)));
    }

    #[test]
    fn multi_refuses_no_multi_commands() {
        let st = State {
            in_multi: true,
            ..state()
        };
        for w in [&["shutdown"][..], &["save"]] {
            assert_eq!(
                verdict(&st, w),
                Verdict::Reject("ERR Command not allowed inside a transaction".into())
            );
        }
        assert_eq!(verdict(&st, &["bgsave"]), Verdict::Queue);
        assert_eq!(verdict(&state(), &["save"]), Verdict::Run);
    }

    #[test]
    fn exec_is_checked_as_its_queue() {
        let writes = State {
            in_multi: true,
            misconf: true,
            queued: Flags::of(&["write", "denyoom"]),
            queued_lacking: Flags::of(&["readonly"]),
            ..state()
        };
        assert!(
            matches!(verdict(&writes, &["exec"]), Verdict::Reject(m) if m.starts_with("MISCONF "))
        );
        let reads = State {
            queued: Flags::of(&["readonly", "fast"]),
            queued_lacking: Flags::of(&["write", "loading"]),
            ..writes
        };
        assert_eq!(verdict(&reads, &["exec"]), Verdict::Run);
        let loading = State {
            misconf: false,
            aof_error: None,
            loading: true,
            ..reads
        };
        assert!(
            matches!(verdict(&loading, &["exec"]), Verdict::Reject(m) if m.starts_with("LOADING "))
        );
        assert_eq!(
            exec_abort("ERR wrong number of arguments for 'exec' command"),
            "EXECABORT Transaction discarded because of: wrong number of arguments for 'exec' command"
        );
    }
}
