//! MULTI, EXEC, DISCARD, WATCH, UNWATCH. Commands after MULTI are checked (name, arity, auth)
//! and queued; EXEC locks every key the queued commands name and every watched key, on every
//! shard, in ascending shard order (`Core::lock_keys`, the same key locks as multi-shard
//! commands), checks that no watched key moved since WATCH (each shard keeps a version per
//! watched key, moved by any modification: commands, expiry, FLUSHDB/FLUSHALL/SWAPDB), then
//! runs the queue through the normal dispatch with the lock's id, and releases. A transaction
//! whose keys all live on this core locks nothing remote.

use crate::conn::Conn;
use crate::core::calls;
use crate::ops::{Batch, Op, Reply};
use crate::txn::{Scope, Txn};
use engine::args::OwnedArgs;
use engine::table::{CommandSpec, Flags};
use engine::Args;

/// Per-connection transaction state.
#[derive(Default)]
pub struct MultiState {
    /// Queued commands (owned words), while inside MULTI.
    pub queued: Option<Vec<Vec<Vec<u8>>>>,
    /// A command was rejected while queueing: EXEC answers EXECABORT.
    pub dirty: bool,
    /// Watched keys: (shard, db, key, version seen by WATCH).
    pub watching: Vec<(usize, usize, Vec<u8>, u64)>,
    /// The union of the queued commands' flags, and of the flags each lacks: EXEC is
    /// checked as what it will run (`checks::State::queued`).
    pub flags: Flags,
    pub lacking: Flags,
}

impl MultiState {
    pub fn active(&self) -> bool {
        self.queued.is_some()
    }
}

/// The commands MULTI does not queue (Redis' processCommand exemptions).
pub fn runs_inside_multi(name: &str) -> bool {
    matches!(
        name,
        "exec" | "discard" | "multi" | "watch" | "quit" | "reset"
    )
}

pub fn multi(c: &mut Conn) {
    if c.multi.active() {
        c.error("ERR MULTI calls can not be nested");
        return;
    }
    c.multi.queued = Some(Vec::new());
    c.info.multi.set(0);
    c.multi.dirty = false;
    c.multi.flags = Flags::default();
    c.multi.lacking = Flags::default();
    c.writer().ok();
}

pub fn queue(c: &mut Conn, spec: &CommandSpec, args: Args<'_>) {
    c.multi.flags = c.multi.flags.union(spec.flags);
    c.multi.lacking = c.multi.lacking.union(spec.flags.lacking());
    if let Some(q) = c.multi.queued.as_mut() {
        q.push(args.iter().map(<[u8]>::to_vec).collect());
        c.info.multi.set(q.len() as i64);
    }
    c.writer().simple(b"QUEUED");
}

pub async fn discard(c: &mut Conn) {
    if !c.multi.active() {
        c.error("ERR DISCARD without MULTI");
        return;
    }
    end(c).await;
    c.writer().ok();
}

/// Leaves MULTI (if in it) and drops every watch.
pub async fn end(c: &mut Conn) {
    c.multi.queued = None;
    c.info.multi.set(-1);
    c.multi.dirty = false;
    unwatch_all(c).await;
}

/// EXEC refused before it ran: the transaction is discarded with `msg`, in MULTI or not.
pub async fn abort(c: &mut Conn, msg: &str) {
    end(c).await;
    c.error(msg);
}

pub async fn watch(c: &mut Conn, args: Args<'_>) {
    if c.multi.active() {
        c.error("ERR WATCH inside MULTI is not allowed");
        return;
    }
    let core = c.core.clone();
    let db = c.db;
    let mut by_shard: Vec<Vec<Vec<u8>>> = vec![Vec::new(); core.shards()];
    for k in args.iter().skip(1) {
        let already = c.multi.watching.iter().any(|w| w.1 == db && w.2 == k);
        if !already && !by_shard.iter().flatten().any(|x| x == k) {
            by_shard[core.shared.shard_of(k)].push(k.to_vec());
        }
    }
    for (s, keys) in by_shard.into_iter().enumerate() {
        if keys.is_empty() {
            continue;
        }
        let call = calls::Watch {
            db,
            keys: keys.clone(),
        };
        let versions = core.ask(s, call).await;
        for (k, v) in keys.into_iter().zip(versions) {
            c.multi.watching.push((s, db, k, v));
        }
    }
    c.writer().ok();
}

pub async fn unwatch(c: &mut Conn) {
    unwatch_all(c).await;
    c.writer().ok();
}

/// Drops every watch of this connection (UNWATCH, EXEC, DISCARD, RESET, disconnect).
pub async fn unwatch_all(c: &mut Conn) {
    let watching = std::mem::take(&mut c.multi.watching);
    if watching.is_empty() {
        return;
    }
    let core = c.core.clone();
    let mut by_shard: Vec<Vec<(usize, Vec<u8>)>> = vec![Vec::new(); core.shards()];
    for (s, db, k, _) in watching {
        by_shard[s].push((db, k));
    }
    for (s, keys) in by_shard.into_iter().enumerate() {
        if !keys.is_empty() {
            core.ask(s, calls::Unwatch(keys)).await;
        }
    }
}

pub async fn exec(c: &mut Conn) {
    c.info.multi.set(-1);
    let Some(queued) = c.multi.queued.take() else {
        c.error("ERR EXEC without MULTI");
        return;
    };
    if std::mem::take(&mut c.multi.dirty) {
        unwatch_all(c).await;
        c.error("EXECABORT Transaction discarded because of previous errors.");
        return;
    }
    let core = c.core.clone();
    let shared = core.shared.clone();
    // Every key the queue names (following SELECTs inside it) and every watched key.
    let mut keys: Vec<(usize, usize, Vec<u8>)> = c
        .multi
        .watching
        .iter()
        .map(|(s, db, k, _)| (*s, *db, k.clone()))
        .collect();
    let mut db = c.db;
    for words in &queued {
        let Some(spec) = engine::lookup(&words[0]) else {
            continue;
        };
        if spec.name == "select" {
            if let Some(n) = words.get(1).and_then(|w| engine::args::parse_i64(w)) {
                if n >= 0 && (n as usize) < shared.databases() {
                    db = n as usize;
                }
            }
        }
        for p in spec.key_positions(&words[..]) {
            keys.push((shared.shard_of(&words[p]), db, words[p].clone()));
        }
    }
    if let Some(shard) = one_shard(&queued, &keys) {
        exec_on(c, shard, &queued).await;
        return;
    }
    // A whole-keyspace command in the queue locks every shard, so that it too is atomic
    // with the rest of the block; so does a script on several shards (one whose keys turn
    // out to span shards then runs broadly inside the block: `scripting::eval`).
    let several = core.shards() > 1;
    let whole = queued.iter().any(|w| {
        engine::lookup(&w[0]).is_some_and(|s| {
            crate::txn::whole_keyspace(s.name)
                || (several && matches!(s.kind, engine::Kind::Runtime(engine::Rt::Eval)))
        })
    });
    let scope = if whole {
        Scope::Every { in_read: c.in_read }
    } else {
        Scope::Keys(&keys)
    };
    let txn = Txn::begin(&core, None, scope).await;
    let tx = txn.tx;
    let unchanged = watched_unchanged(c, tx).await;
    unwatch_all(c).await;
    if !unchanged {
        txn.end(&core).await;
        c.writer().null_array();
        return;
    }
    c.tx = Some(tx);
    c.writer().array(queued.len());
    for words in &queued {
        let refs: Vec<&[u8]> = words.iter().map(Vec::as_slice).collect();
        let owned = OwnedArgs::from_words(&refs);
        Box::pin(c.dispatch(owned.args())).await;
    }
    c.flush().await;
    c.tx = None;
    txn.end(&core).await;
}

/// The shard that owns every key of a transaction made only of keyed commands (no SELECT,
/// no server command), if there is one: it then runs there in one go, without locks.
fn one_shard(queued: &[Vec<Vec<u8>>], keys: &[(usize, usize, Vec<u8>)]) -> Option<usize> {
    let shard = keys.first()?.0;
    let keyed = queued.iter().all(|w| {
        engine::lookup(&w[0]).is_some_and(|s| matches!(s.kind, engine::Kind::Keyed { .. }))
    });
    (keyed && keys.iter().all(|k| k.0 == shard)).then_some(shard)
}

/// Runs a one-shard transaction: watches and queue travel together (`Op::Exec`), so a
/// remote shard costs one hop and this core's none.
async fn exec_on(c: &mut Conn, shard: usize, queued: &[Vec<Vec<u8>>]) {
    let core = c.core.clone();
    let mut batch = Batch {
        obey: c.master,
        who: c.monitor_who(),
        client: c.info.id,
        client_core: core.id as u16,
        ..Batch::default()
    };
    for words in queued {
        let Some(spec) = engine::lookup(&words[0]) else {
            continue;
        };
        let Some(handler) = spec.handler() else {
            continue;
        };
        let idx = batch.push(
            spec,
            handler,
            c.db,
            c.proto,
            words.iter().map(Vec::as_slice),
        );
        batch.cmds[idx].track = c.track;
    }
    let watches: Vec<(usize, Vec<u8>, u64)> = c
        .multi
        .watching
        .iter()
        .map(|(_, db, k, v)| (*db, k.clone(), *v))
        .collect();
    let n = batch.cmds.len();
    let op = Op::Exec { watches, batch };
    let reply = if shard == core.id {
        // The same rule that defers it on a remote shard: wait while its keys are held.
        core.wait_keys(|cr| cr.lock_allows(&op, None)).await;
        // One MULTI ... EXEC block in the journal, as on a remote shard.
        core.exec_in(op, None)
    } else {
        core.call(shard, op).await
    };
    unwatch_all(c).await;
    match reply {
        Reply::Batch(mut out) => {
            c.events.extend(out.events.drain(..).map(|(_, e)| e));
            crate::slowlog::log_client(c, out.take_slow());
            c.writer().array(n);
            for i in 0..n {
                c.out.extend_from_slice(out.reply(i));
            }
        }
        _ => c.writer().null_array(),
    }
}

/// Whether no watched key was modified since WATCH (checked under the transaction's locks).
async fn watched_unchanged(c: &mut Conn, tx: u64) -> bool {
    let core = c.core.clone();
    let mut by_shard: Vec<Vec<(usize, Vec<u8>, u64)>> = vec![Vec::new(); core.shards()];
    for (s, db, k, v) in &c.multi.watching {
        by_shard[*s].push((*db, k.clone(), *v));
    }
    for (s, keys) in by_shard.into_iter().enumerate() {
        if keys.is_empty() {
            continue;
        }
        if !core.ask_tx(s, calls::WatchCheck(keys), Some(tx)).await {
            return false;
        }
    }
    true
}
