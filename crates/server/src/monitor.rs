//! MONITOR. A command is shown where it runs, right after it ran, so that the lines of one
//! key's commands reach every monitor in the order its shard ran them: a batch carries
//! its client's name for the lines (`Batch::who`, set only while someone monitors) and the
//! shard that runs it feeds them (`BatchOut::monitor`, taken in `Core::exec`); a command run
//! on the client's own core is fed there; runtime commands, and commands split over shards
//! (shown once, whole), are fed when their dispatch ends. EVAL is shown before its script's
//! calls (`[db lua]`), as Redis feeds it. A core delivers to its own monitors at once and
//! to other cores' in order, through one background sender per core (`Core::monitor_out`).
//! Lines are redis-server's: `+<sec>.<usec> [<db> <addr>] "arg" ...`, quoted as sdscatrepr.

use crate::core::{calls, Core};
use engine::table::{CommandSpec, Flags};
use engine::Args;
use std::sync::atomic::Ordering;

/// Someone monitors (the one check on the hot path).
pub fn active(core: &Core) -> bool {
    core.shared.monitors.load(Ordering::Relaxed) > 0
}

/// What a line shows between the brackets after the db: the client's address, `lua`, or
/// `unix:<path>`.
pub fn who(core: &Core, info: &crate::client::ClientInfo) -> String {
    match info.unix {
        true => format!("unix:{}", core.shared.unixsocket.as_deref().unwrap_or("")),
        false => info.addr.clone(),
    }
}

/// Whether a command is ever shown (administrative ones are not, as in Redis).
pub fn shown(spec: &CommandSpec) -> bool {
    !spec.flags.has(Flags::ADMIN) && !spec.flags.has(Flags::SKIP_MONITOR)
}

/// One line, to `out`.
pub fn line(out: &mut Vec<u8>, db: usize, who: &str, args: Args) {
    use std::io::Write;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    let _ = write!(
        out,
        "+{}.{:06} [{db} {who}]",
        now.as_secs(),
        now.subsec_micros()
    );
    for a in args.iter() {
        out.push(b' ');
        repr(out, a);
    }
    out.extend_from_slice(b"\r\n");
}

/// Redis' sdscatrepr: a quoted string with \n \r \t \a \b, \" and \\ escaped and other
/// bytes outside printable ASCII as \xHH.
fn repr(out: &mut Vec<u8>, s: &[u8]) {
    out.push(b'"');
    for &b in s {
        match b {
            b'\\' | b'"' => out.extend_from_slice(&[b'\\', b]),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            b'\t' => out.extend_from_slice(b"\\t"),
            7 => out.extend_from_slice(b"\\a"),
            8 => out.extend_from_slice(b"\\b"),
            0x20..=0x7e => out.push(b),
            _ => out.extend_from_slice(format!("\\x{b:02x}").as_bytes()),
        }
    }
    out.push(b'"');
}

/// Shows a command this core ran (or dispatched) for a client.
pub fn command(core: &Core, db: usize, who: &str, spec: &CommandSpec, args: Args) {
    if !active(core) || !shown(spec) || core.shared.persist.loading.load(Ordering::Relaxed) {
        return;
    }
    let mut l = Vec::new();
    line(&mut l, db, who, args);
    feed(core, l);
}

/// Delivers lines to every monitor: this core's at once, the other cores' in order.
pub fn feed(core: &Core, lines: Vec<u8>) {
    if lines.is_empty() {
        return;
    }
    deliver_here(core, &lines);
    let elsewhere = (0..core.shared.shards)
        .any(|i| i != core.id && core.shared.monitor_counts[i].load(Ordering::Relaxed) > 0);
    if !elsewhere {
        return;
    }
    core.monitor_out.borrow_mut().extend_from_slice(&lines);
    if core.monitor_sending.replace(true) {
        return;
    }
    let Some(me) = core.rc() else {
        return;
    };
    reactor::spawn_local(async move {
        loop {
            let out = std::mem::take(&mut *me.monitor_out.borrow_mut());
            if out.is_empty() {
                me.monitor_sending.set(false);
                break;
            }
            for i in 0..me.shared.shards {
                if i != me.id && me.shared.monitor_counts[i].load(Ordering::Relaxed) > 0 {
                    me.ask(i, calls::MonitorLines(out.clone())).await;
                }
            }
        }
    })
    .detach();
}

/// Gives lines to this core's monitors.
pub fn deliver_here(core: &Core, lines: &[u8]) {
    let monitors = core.monitors.borrow();
    if monitors.is_empty() {
        return;
    }
    let limits = core.settings.get().normal;
    let now = engine::shard::unix_ms();
    for m in monitors.iter() {
        m.deliver(lines, &limits, now);
    }
}

/// A connection starts monitoring with `mailbox`.
pub fn start(core: &Core, mailbox: &std::rc::Rc<crate::pubsub::Mailbox>) {
    core.monitors.borrow_mut().push(mailbox.clone());
    core.shared.monitor_counts[core.id].fetch_add(1, Ordering::Relaxed);
    core.shared.monitors.fetch_add(1, Ordering::Relaxed);
}

/// It stops (RESET, disconnect).
pub fn stop(core: &Core, mailbox: &std::rc::Rc<crate::pubsub::Mailbox>) {
    let mut monitors = core.monitors.borrow_mut();
    let before = monitors.len();
    monitors.retain(|m| !std::rc::Rc::ptr_eq(m, mailbox));
    if monitors.len() < before {
        core.shared.monitor_counts[core.id].fetch_sub(1, Ordering::Relaxed);
        core.shared.monitors.fetch_sub(1, Ordering::Relaxed);
    }
}
