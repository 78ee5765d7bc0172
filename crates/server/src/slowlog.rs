//! SLOWLOG. Every core keeps the slow commands of its own clients, newest first, up to
//! slowlog-max-len: those its shard ran for them (`Shard::take_slow`, carried back in a
//! batch's `BatchOut::slow` when the keys are on another shard) and the runtime commands
//! its connections ran, timed around them. Entry ids come from one server-wide counter, so
//! SLOWLOG GET merges the cores' logs by id into the order redis-server's one log has.
//! Commands a script calls are logged as the script's client (`?:0`, no name), as Redis
//! logs them; commands a blocked client runs once served are not logged.

use crate::conn::Conn;
use crate::core::{calls, Core};
use engine::slowlog::Record;
use engine::table::{CommandSpec, Flags};
use engine::{Args, Error};
use std::collections::VecDeque;
use std::sync::atomic::Ordering;

/// One entry as SLOWLOG GET shows it.
#[derive(Clone, Debug)]
pub struct Entry {
    pub id: u64,
    pub time: u64,
    pub micros: u64,
    pub argv: Vec<Vec<u8>>,
    pub peer: String,
    pub name: String,
}

/// This core's log, newest first.
#[derive(Default)]
pub struct Log(VecDeque<Entry>);

/// Adds `records` to this core's log as `peer`'s (client name `name`).
pub fn log(core: &Core, records: Vec<Record>, peer: &str, name: &str) {
    let max = core.settings.get().slowlog_max_len;
    let mut log = core.slowlog.borrow_mut();
    for r in records {
        let id = core.shared.slowlog_ids.fetch_add(1, Ordering::Relaxed);
        log.0.push_front(Entry {
            id,
            time: r.time,
            micros: r.micros,
            argv: r.argv,
            peer: peer.to_string(),
            name: name.to_string(),
        });
    }
    log.0.truncate(max);
}

/// Logs what this connection's commands left slow in `records`.
pub fn log_client(c: &Conn, records: Vec<Record>) {
    if !records.is_empty() {
        let name = c.info.name.borrow().clone();
        log(&c.core, records, &c.info.addr, &name);
    }
}

/// The slow commands this core's shard ran for the connection running now.
pub fn take_local(c: &Conn) {
    let records = {
        let mut shard = c.core.shard.borrow_mut();
        if !shard.has_slow() {
            return;
        }
        shard.take_slow()
    };
    log_client(c, records);
}

/// Inside a script: what it called ran as the script's client.
pub fn take_script_calls(core: &Core) {
    let records = core.shard.borrow_mut().take_slow();
    if !records.is_empty() {
        log(core, records, "?:0", "");
    }
}

/// A runtime command that took `micros`: logged if slow enough, its secrets redacted
/// (AUTH, HELLO's AUTH, MIGRATE's AUTH and AUTH2, CONFIG SET of requirepass or masterauth),
/// as Redis redacts them.
pub fn runtime_command(c: &Conn, spec: &CommandSpec, args: Args, micros: u64) {
    let threshold = c.core.settings.get().slowlog_threshold;
    if threshold < 0 || (micros as i64) < threshold || spec.flags.has(Flags::SKIP_SLOWLOG) {
        return;
    }
    // An unknown subcommand or a wrong arity was refused before it ran, as Redis does.
    if engine::table::subcommand_error(spec, args).is_some() {
        return;
    }
    let mut words: Vec<&[u8]> = args.iter().collect();
    for i in redacted(spec.name, &words) {
        words[i] = b"(redacted)";
    }
    let record = Record {
        time: engine::shard::unix_ms() / 1000,
        micros,
        argv: engine::slowlog::trimmed_words(&words),
    };
    log_client(c, vec![record]);
}

/// The positions of the arguments Redis 7.0 redacts in logs.
fn redacted(name: &str, words: &[&[u8]]) -> Vec<usize> {
    let is = |i: usize, w: &str| {
        words
            .get(i)
            .is_some_and(|a| a.eq_ignore_ascii_case(w.as_bytes()))
    };
    match name {
        "auth" => (1..words.len()).collect(),
        "hello" => (2..words.len())
            .filter(|&i| is(i, "auth"))
            .flat_map(|i| [i + 1, i + 2])
            .filter(|&i| i < words.len())
            .collect(),
        "migrate" => {
            let mut out = Vec::new();
            for i in 6..words.len() {
                if is(i, "auth") {
                    out.push(i + 1);
                } else if is(i, "auth2") {
                    out.extend([i + 1, i + 2]);
                } else if is(i, "keys") {
                    break;
                }
            }
            out.retain(|&i| i < words.len());
            out
        }
        "config" if is(1, "set") => (2..words.len())
            .step_by(2)
            .filter(|&i| is(i, "requirepass") || is(i, "masterauth"))
            .map(|i| i + 1)
            .filter(|&i| i < words.len())
            .collect(),
        _ => Vec::new(),
    }
}

/// SLOWLOG GET [count] | LEN | RESET | HELP.
pub async fn command(c: &mut Conn, args: Args<'_>) -> engine::Result<()> {
    let sub = String::from_utf8_lossy(args.get(1)).to_ascii_lowercase();
    let core = c.core.clone();
    let n = args.len();
    match (sub.as_str(), n) {
        ("get", 2 | 3) => {
            let max = core.settings.get().slowlog_max_len;
            let count = match n {
                3 => match args.int(2) {
                    Ok(-1) => max,
                    Ok(v) if v >= 0 => (v as usize).min(max),
                    _ => {
                        return Err(Error::msg(
                            "ERR count should be greater than or equal to -1",
                        ))
                    }
                },
                _ => 10.min(max),
            };
            let mut all: Vec<Entry> = core
                .ask_all(|_| calls::SlowlogGet(count), None)
                .await
                .into_iter()
                .flatten()
                .collect();
            all.sort_by_key(|e| std::cmp::Reverse(e.id));
            all.truncate(count);
            let mut w = c.writer();
            w.array(all.len());
            for e in &all {
                w.array(6);
                w.integer(e.id as i64);
                w.integer(e.time as i64);
                w.integer(e.micros as i64);
                w.array(e.argv.len());
                for a in &e.argv {
                    w.bulk(a);
                }
                w.bulk(e.peer.as_bytes());
                w.bulk(e.name.as_bytes());
            }
        }
        ("len", 2) => {
            let max = core.settings.get().slowlog_max_len;
            let total: usize = core
                .ask_all(|_| calls::SlowlogLen, None)
                .await
                .into_iter()
                .sum();
            c.writer().integer(total.min(max) as i64);
        }
        ("reset", 2) => {
            core.ask_all(|_| calls::SlowlogReset, None).await;
            c.writer().ok();
        }
        ("help", 2) => engine::cmd::keys::help_reply(
            &mut c.writer(),
            &[
                "SLOWLOG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
                "GET [<count>]",
                "    Return top <count> entries from the slowlog (default: 10, -1 mean all).",
                "    Entries are made of:",
                "    id, timestamp, time in microseconds, arguments array, client IP and port,",
                "    client name",
                "LEN",
                "    Return the length of the slowlog.",
                "RESET",
                "    Reset the slowlog.",
                "HELP",
                "    Prints this help.",
            ],
        ),
        ("get" | "len" | "reset" | "help", _) => {
            return Err(Error::Arity(format!("slowlog|{sub}")));
        }
        _ => {
            return Err(Error::msg(format!(
                "ERR unknown subcommand '{}'. Try SLOWLOG HELP.",
                String::from_utf8_lossy(args.get(1))
                    .chars()
                    .take(128)
                    .collect::<String>()
            )))
        }
    }
    Ok(())
}

impl Log {
    pub fn newest(&self, count: usize) -> Vec<Entry> {
        self.0.iter().take(count).cloned().collect()
    }
    pub fn len(&self) -> usize {
        self.0.len()
    }
    pub fn clear(&mut self) {
        self.0.clear();
    }
}
