//! The one transaction path of multi-shard operations (ARCHITECTURE.md, "Atomicity across
//! shards"): lock what the operation touches, shard by shard in ascending order, run each
//! shard's part, release, also when the operation fails. Every multi-shard operation goes
//! through here: a command split by shard (`run_pieces`), the runtime's cross-shard moves
//! and gathers, EXEC, whole-keyspace commands and the snapshot point (`Txn`, `within`).
//! What is decided (who holds which key, who waits) is the lock table's (`locks.rs`).

use crate::core::{Core, LockKeys};
use crate::ops::{Batch, Call, Op, Reply};
use std::rc::Rc;

/// What an operation locks.
pub enum Scope<'a> {
    /// (shard, db, key) triples.
    Keys(&'a [(usize, usize, Vec<u8>)]),
    /// Every key of every shard: whole-keyspace commands (FLUSHALL, SWAPDB, DBSIZE, ...)
    /// and the snapshot point. Nothing else runs on any shard meanwhile, so the operation
    /// sees and leaves one state of the whole keyspace; and no connection's read is in
    /// progress (`barrier`), so none is half before it and half after. `in_read`: asked from
    /// a connection's read (which has finished everything it sent before this command).
    Every { in_read: bool },
}

/// Commands that read or write the whole keyspace: run alone on every shard, and a
/// transaction that queues one locks every shard.
pub fn whole_keyspace(name: &str) -> bool {
    matches!(name, "flushdb" | "flushall" | "swapdb" | "dbsize" | "keys")
}

/// A multi-shard operation in progress: its id, which its requests carry so that its own
/// locks let them through, and the shards it locked.
pub struct Txn {
    pub tx: u64,
    /// None when it runs inside an outer operation (EXEC), whose locks cover it.
    own: Option<Vec<usize>>,
    /// Held by a whole-keyspace operation: no read starts until it ends.
    _barrier: Option<crate::barrier::Exclusive>,
}

impl Txn {
    /// Locks `scope` for a new operation, or joins `outer`, which holds it already (EXEC
    /// locks everything its queue names, and every shard when it queues a whole-keyspace
    /// command).
    pub async fn begin(core: &Rc<Core>, outer: Option<u64>, scope: Scope<'_>) -> Txn {
        if let Some(tx) = outer {
            return Txn {
                tx,
                own: None,
                _barrier: None,
            };
        }
        let mut barrier = None;
        let every: Vec<(usize, usize, Vec<u8>)>;
        let keys = match scope {
            Scope::Keys(keys) => keys,
            Scope::Every { in_read } => {
                barrier = Some(core.shared.barrier.begin(in_read).await);
                every = (0..core.shards())
                    .flat_map(|s| {
                        crate::locks::whole_shard()
                            .into_iter()
                            .map(move |(db, k)| (s, db, k))
                    })
                    .collect();
                &every
            }
        };
        let tx = core.new_tx();
        let shards = core.lock_keys(tx, keys).await;
        Txn {
            tx,
            own: Some(shards),
            _barrier: barrier,
        }
    }

    /// Runs `call` on `shard` as part of this operation.
    pub async fn ask<C: Call>(&self, core: &Rc<Core>, shard: usize, call: C) -> C::Out {
        core.ask_tx(shard, call, Some(self.tx)).await
    }

    /// Runs `make(shard)` on every shard as part of this operation; replies in shard order.
    pub async fn ask_all<C: Call>(
        &self,
        core: &Rc<Core>,
        make: impl Fn(usize) -> C,
    ) -> Vec<C::Out> {
        core.ask_all(make, Some(self.tx)).await
    }

    /// Lets reads start again before the operation ends (a busy script, which answers
    /// -BUSY meanwhile). Safe once every shard is locked: the barrier keeps out reads that
    /// were in progress when the locking began; what a read starts now waits behind the
    /// locks on every shard, so all of it comes after the operation.
    pub fn open_reads(&mut self) {
        self._barrier = None;
    }

    /// Releases what `begin` locked (nothing when it joined an outer operation), then
    /// lets reads start again.
    pub async fn end(mut self, core: &Rc<Core>) {
        if let Some(shards) = self.own.take() {
            core.commit(self.tx);
            core.release_all(self.tx, &shards).await;
        }
    }
}

/// Runs `body` as a multi-shard operation over `scope` and releases its locks whatever
/// `body` returns.
pub async fn within<T>(
    core: &Rc<Core>,
    outer: Option<u64>,
    scope: Scope<'_>,
    body: impl AsyncFnOnce(&Txn) -> T,
) -> T {
    let txn = Txn::begin(core, outer, scope).await;
    let out = body(&txn).await;
    txn.end(core).await;
    out
}

/// A command split by shard (MSET, DEL, MGET, ... whose keys span shards): each shard's
/// piece locks its keys and runs as soon as that shard grants, in ascending shard order;
/// the last shard releases as it runs, the others once it has. One hop per shard. With
/// the journal on, the last shard holds its keys too until the operation's commit is
/// recorded (nothing that saw its effects may be durable before the commit). Returns each
/// shard's reply (None for shards without a piece).
pub async fn run_pieces(core: &Rc<Core>, pieces: Vec<Batch>) -> Vec<Option<Reply>> {
    let tx = core.new_tx();
    let shards: Vec<usize> = (0..pieces.len())
        .filter(|&s| !pieces[s].is_empty())
        .collect();
    // Decided before any lock: the AOF's flag is set before any shard's journal turns on.
    let journaled = core
        .shared
        .aof
        .enabled
        .load(std::sync::atomic::Ordering::Acquire);
    let mut replies: Vec<Option<Reply>> = (0..pieces.len()).map(|_| None).collect();
    let mut pieces: Vec<Option<Batch>> = pieces.into_iter().map(Some).collect();
    for (i, &s) in shards.iter().enumerate() {
        let Some(batch) = pieces[s].take() else {
            continue;
        };
        let keys: LockKeys = batch.keys().map(|(db, k)| (db, k.to_vec())).collect();
        let last = i + 1 == shards.len() && !journaled;
        let reply = if s == core.id {
            core.lock_local(tx, keys).await;
            let reply = core.exec_part(tx, batch);
            if last {
                core.release(tx);
            }
            reply
        } else {
            let op = Op::LockRun {
                tx,
                keys,
                batch,
                release: last,
            };
            core.call(s, op).await
        };
        replies[s] = Some(reply);
    }
    core.commit(tx);
    // The last shard released as it ran (unless journaled); the others held their keys
    // until now.
    let held = if journaled {
        &shards[..]
    } else {
        &shards[..shards.len().saturating_sub(1)]
    };
    core.release_all(tx, held).await;
    replies
}
