//! The master side of replication: the shards' journals merged into one stream in Redis'
//! form, the backlog that holds its recent bytes, and the replicas fed from it.
//!
//! Merging: each core hands the journal bytes it recorded to the merger once per turn,
//! before the turn's output (replies, cross-core messages) leaves (`publish`, from the
//! `before_output` hook, or at a snapshot's point). Whatever a client or another core saw
//! of a write left after its bytes were merged, so the merged order agrees with what clients
//! saw. The merger keeps the database each core's journal is in and puts a SELECT before a
//! record whose database differs from the stream's. A piece of a multi-shard operation
//! (`#TX <id>` and its MULTI ... EXEC block) is held until the operation's commit says how
//! many pieces it has (`commit`, called by the core that ran it before its keys are freed)
//! and all have come: then they go out as one MULTI ... EXEC, so a replica (redis-server
//! too) applies the operation whole. Nothing else touches its keys meanwhile (they are
//! locked), and nothing that saw it can precede it. Cost: one lock and one copy per core per
//! turn with writes, and a walk over the record headers; with many shards the lock is
//! taken once per shard-turn, not per write.

use crate::core::Core;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;

/// The backlog: the last `size` bytes of the stream, as a ring.
pub struct Backlog {
    buf: Vec<u8>,
    size: usize,
    /// The stream offset just past the last byte (master_repl_offset).
    pub end: i64,
    /// Bytes held (histlen).
    pub len: usize,
    /// Where the next byte goes in `buf`.
    head: usize,
}

impl Backlog {
    fn new(size: usize, end: i64) -> Backlog {
        Backlog {
            buf: vec![0; size.max(1)],
            size: size.max(1),
            end,
            len: 0,
            head: 0,
        }
    }

    fn append(&mut self, mut b: &[u8]) {
        self.end += b.len() as i64;
        if b.len() >= self.size {
            b = &b[b.len() - self.size..];
        }
        let first = (self.size - self.head).min(b.len());
        self.buf[self.head..self.head + first].copy_from_slice(&b[..first]);
        self.buf[..b.len() - first].copy_from_slice(&b[first..]);
        self.head = (self.head + b.len()) % self.size;
        self.len = (self.len + b.len()).min(self.size);
    }

    /// The same history in a ring of `size` bytes (CONFIG SET repl-backlog-size).
    fn resized(&self, size: usize) -> Backlog {
        let mut b = Backlog::new(size, self.first());
        if let Some(held) = self.read(self.first(), self.len) {
            b.append(&held);
        }
        b
    }

    /// The offset of the first byte held.
    pub fn first(&self) -> i64 {
        self.end - self.len as i64
    }

    /// Up to `max` bytes from stream offset `from` (None: not held any more).
    fn read(&self, from: i64, max: usize) -> Option<Vec<u8>> {
        if from < self.first() || from > self.end {
            return None;
        }
        let n = ((self.end - from) as usize).min(max);
        let back = (self.end - from) as usize;
        let start = (self.head + self.size - back) % self.size;
        let mut out = Vec::with_capacity(n);
        let first = (self.size - start).min(n);
        out.extend_from_slice(&self.buf[start..start + first]);
        out.extend_from_slice(&self.buf[..n - first]);
        Some(out)
    }
}

/// One record of a held piece: its database and bytes.
type Record = (usize, Vec<u8>);

#[derive(Default)]
struct Pending {
    expected: Option<usize>,
    /// The pieces as they came, with the core that recorded each.
    pieces: Vec<(usize, Vec<Record>)>,
}

/// A replica attached to this master (INFO's slaveN).
#[derive(Clone, Debug)]
pub struct ReplicaInfo {
    pub id: u64,
    pub ip: String,
    pub port: u16,
    /// wait_bgsave, send_bulk or online.
    pub state: &'static str,
    pub ack: i64,
    pub ack_ms: u64,
    /// It sent REPLCONF ACK on this connection (after a diskless full sync, the stream
    /// waits for the first: the replica finds the payload's end mark only at the end).
    pub acked: bool,
}

/// A full sync's image and the offset it stands for.
type Snapshot = std::sync::Arc<(Vec<u8>, i64)>;

/// A full sync's snapshot, shared by the replicas that wait for it: a diskless one starts
/// repl-diskless-sync-delay after its first replica (or when
/// repl-diskless-sync-max-replicas wait), and replicas come aboard until it starts; a
/// disk-based one starts at once and takes replicas until it is done (as a disk BGSAVE in
/// progress serves every replica that comes meanwhile, in Redis).
pub struct SyncJob {
    diskless: bool,
    start_ms: u64,
    waiting: std::sync::atomic::AtomicUsize,
    started: AtomicBool,
    result: Mutex<Option<Result<Snapshot, String>>>,
}

pub struct Inner {
    /// The full sync replicas may join.
    job: Option<std::sync::Arc<SyncJob>>,
    pub backlog: Option<Backlog>,
    /// Each core's journal database, as its last record left it.
    core_db: Vec<Option<usize>>,
    /// The stream's database.
    out_db: Option<usize>,
    pending: HashMap<u64, Pending>,
    /// The replicas attached.
    pub replicas: Vec<ReplicaInfo>,
    /// Unix ms the last replica went (for repl-backlog-ttl), 0 while one is attached.
    pub orphan_since_ms: u64,
}

pub struct Feed {
    pub inner: Mutex<Inner>,
    /// The journals feed the stream: a backlog exists (made for the first replica).
    pub active: AtomicBool,
    pub stats: SyncStats,
    /// min-replicas-to-write and min-replicas-max-lag (hot copies), and the replicas whose
    /// last ACK is at most that old (refreshed by core 0 every 100 ms and on every ACK).
    pub min_replicas: std::sync::atomic::AtomicUsize,
    pub min_replicas_lag: std::sync::atomic::AtomicU64,
    pub good_replicas: std::sync::atomic::AtomicUsize,
}

/// INFO stats' sync_full, sync_partial_ok, sync_partial_err.
#[derive(Default)]
pub struct SyncStats {
    pub full: std::sync::atomic::AtomicU64,
    pub partial_ok: std::sync::atomic::AtomicU64,
    pub partial_err: std::sync::atomic::AtomicU64,
}

impl Feed {
    pub fn new(cores: usize) -> Feed {
        Feed {
            inner: Mutex::new(Inner {
                job: None,
                backlog: None,
                core_db: vec![None; cores],
                out_db: None,
                pending: HashMap::new(),
                replicas: Vec::new(),
                orphan_since_ms: 0,
            }),
            active: AtomicBool::new(false),
            stats: SyncStats::default(),
            min_replicas: Default::default(),
            min_replicas_lag: Default::default(),
            good_replicas: Default::default(),
        }
    }

    pub fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Writes are refused (-NOREPLICAS): min-replicas-to-write is set and fewer replicas
    /// acknowledged within min-replicas-max-lag.
    pub fn too_few_replicas(&self) -> bool {
        let min = self.min_replicas.load(Ordering::Relaxed);
        min > 0
            && self.min_replicas_lag.load(Ordering::Relaxed) > 0
            && self.good_replicas.load(Ordering::Relaxed) < min
    }

    /// Counts the replicas with a recent enough ACK (Redis' refreshGoodSlavesCount).
    pub fn refresh_good(&self) {
        let lag_ms = self.min_replicas_lag.load(Ordering::Relaxed) * 1000;
        let now = engine::shard::unix_ms();
        let good = self
            .lock()
            .replicas
            .iter()
            .filter(|r| r.state == "online" && now.saturating_sub(r.ack_ms) <= lag_ms)
            .count();
        self.good_replicas.store(good, Ordering::Relaxed);
    }
}

/// This core's journal bytes not yet merged go into the stream (called before the turn's
/// output leaves, and at a snapshot's point). A command whose records are still being
/// gathered (a busy script) waits for its end.
pub fn publish(core: &Core) {
    if !core.shared.feed.active.load(Ordering::Acquire) {
        return;
    }
    let mut shard = core.shard.borrow_mut();
    if shard.journal.call_open() {
        return;
    }
    if shard.replica {
        // A replica's stream is its master's, as it came (`from_master`): what the shard
        // recorded applying it goes nowhere.
        shard.journal.unpublished();
        return;
    }
    let bytes = shard.journal.unpublished();
    if bytes.is_empty() {
        return;
    }
    let mut g = core.shared.feed.lock();
    let end = merge(&mut g, core.id, bytes);
    drop(g);
    if let Some(end) = end {
        core.shared.repl.offset.store(end, Ordering::SeqCst);
    }
}

/// The core that ran multi-shard operation `tx` commits it: `pieces` blocks of it were
/// journaled (published by their cores at their turns' ends, before or after this).
pub fn commit(core: &Core, tx: u64, pieces: usize) {
    if !core.shared.feed.active.load(Ordering::Acquire) || core.shared.repl.is_replica() {
        return;
    }
    let mut g = core.shared.feed.lock();
    g.pending.entry(tx).or_default().expected = Some(pieces);
    let end = emit_if_complete(&mut g, tx);
    drop(g);
    if let Some(end) = end {
        core.shared.repl.offset.store(end, Ordering::SeqCst);
    }
}

/// Walks a chunk of one core's journal into the stream; returns the new end offset.
fn merge(g: &mut Inner, core: usize, b: &[u8]) -> Option<i64> {
    let mut pos = 0;
    let mut piece: Option<(u64, Vec<Record>)> = None;
    let mut completed: Vec<u64> = Vec::new();
    while pos < b.len() {
        if b[pos] == b'#' {
            let Some(end) = find_crlf(b, pos) else { break };
            let line = &b[pos + 1..end];
            if let Some(id) = line.strip_prefix(b"TX ") {
                if let Some(id) = std::str::from_utf8(id).ok().and_then(|s| s.parse().ok()) {
                    piece = Some((id, Vec::new()));
                }
            }
            pos = end + 2;
            continue;
        }
        let Some((end, name)) = record_end(b, pos) else {
            tracing::warn!(
                core,
                "replication stream: a journal record could not be parsed"
            );
            break;
        };
        let rec = &b[pos..end];
        pos = end;
        let db = g.core_db[core];
        if name.eq_ignore_ascii_case(b"SELECT") {
            g.core_db[core] = select_arg(rec);
            continue;
        }
        if let Some((id, recs)) = piece.as_mut() {
            if name.eq_ignore_ascii_case(b"MULTI") {
                continue;
            }
            if name.eq_ignore_ascii_case(b"EXEC") {
                let id = *id;
                let recs = std::mem::take(recs);
                piece = None;
                g.pending.entry(id).or_default().pieces.push((core, recs));
                completed.push(id);
                continue;
            }
            recs.push((db.unwrap_or(0), rec.to_vec()));
            continue;
        }
        let is_block = name.eq_ignore_ascii_case(b"MULTI") || name.eq_ignore_ascii_case(b"EXEC");
        emit(g, if is_block { None } else { db }, rec);
    }
    for id in completed {
        emit_if_complete(g, id);
    }
    g.backlog.as_ref().map(|b| b.end)
}

fn emit_if_complete(g: &mut Inner, tx: u64) -> Option<i64> {
    let done = g
        .pending
        .get(&tx)
        .is_some_and(|p| p.expected.is_some_and(|n| p.pieces.len() >= n));
    if done {
        if let Some(p) = g.pending.remove(&tx) {
            emit(g, None, b"*1\r\n$5\r\nMULTI\r\n");
            emit_pieces(g, p.pieces);
            emit(g, None, b"*1\r\n$4\r\nEXEC\r\n");
        }
    }
    g.backlog.as_ref().map(|b| b.end)
}

/// An operation's pieces, each core's in its order. FLUSHALL, FLUSHDB and SWAPDB are
/// recorded by every shard: the k-th of them on each core is the same command, run once,
/// after every core's records before it (as `engine::aof::merge` joins an AOF's pieces).
fn emit_pieces(g: &mut Inner, pieces: Vec<(usize, Vec<Record>)>) {
    let mut per_core: Vec<(usize, Vec<Record>)> = Vec::new();
    for (core, recs) in pieces {
        match per_core.iter_mut().find(|(c, _)| *c == core) {
            Some((_, list)) => list.extend(recs),
            None => per_core.push((core, recs)),
        }
    }
    let whole =
        |rec: &[u8]| record_end(rec, 0).is_some_and(|(_, name)| engine::aof::whole_keyspace(name));
    let mut cursors = vec![0usize; per_core.len()];
    loop {
        let mut found: Option<Record> = None;
        for (s, (_, recs)) in per_core.iter().enumerate() {
            while let Some((db, rec)) = recs.get(cursors[s]) {
                if whole(rec) {
                    if found.is_none() {
                        found = Some((*db, rec.clone()));
                    }
                    break;
                }
                emit(g, Some(*db), rec);
                cursors[s] += 1;
            }
        }
        let Some((db, rec)) = found else { break };
        emit(g, Some(db), &rec);
        for (s, (_, recs)) in per_core.iter().enumerate() {
            if recs.get(cursors[s]).is_some_and(|(_, r)| whole(r)) {
                cursors[s] += 1;
            }
        }
    }
}

/// Appends a record, with a SELECT first when it belongs to another database.
fn emit(g: &mut Inner, db: Option<usize>, rec: &[u8]) {
    let Some(backlog) = g.backlog.as_mut() else {
        return;
    };
    if let Some(db) = db {
        if g.out_db != Some(db) {
            let n = db.to_string();
            backlog.append(format!("*2\r\n$6\r\nSELECT\r\n${}\r\n{n}\r\n", n.len()).as_bytes());
            g.out_db = Some(db);
        }
    }
    backlog.append(rec);
}

fn find_crlf(b: &[u8], from: usize) -> Option<usize> {
    b[from..]
        .windows(2)
        .position(|w| w == b"\r\n")
        .map(|i| from + i)
}

/// The end of the RESP array command starting at `pos`, and its name.
fn record_end(b: &[u8], pos: usize) -> Option<(usize, &[u8])> {
    if b.get(pos) != Some(&b'*') {
        return None;
    }
    let e = find_crlf(b, pos)?;
    let n: usize = std::str::from_utf8(&b[pos + 1..e]).ok()?.parse().ok()?;
    let mut p = e + 2;
    let mut name: &[u8] = &[];
    for i in 0..n {
        if b.get(p) != Some(&b'$') {
            return None;
        }
        let e = find_crlf(b, p)?;
        let len: usize = std::str::from_utf8(&b[p + 1..e]).ok()?.parse().ok()?;
        let start = e + 2;
        if i == 0 {
            name = b.get(start..start + len)?;
        }
        p = start + len + 2;
        if p > b.len() {
            return None;
        }
    }
    Some((p, name))
}

fn select_arg(rec: &[u8]) -> Option<usize> {
    // *2\r\n$6\r\nSELECT\r\n$<n>\r\n<db>\r\n
    let text = std::str::from_utf8(rec).ok()?;
    text.trim_end_matches("\r\n")
        .rsplit("\r\n")
        .next()?
        .parse()
        .ok()
}

/// Bytes of the master's stream a replica applied (the offset counts them): they go into
/// its backlog as they came, so its own replicas follow the same stream at the same
/// offsets (and continue partially with any server of the chain after a failover).
pub fn from_master(core: &Core, bytes: &[u8]) {
    if bytes.is_empty() {
        return;
    }
    let offset = &core.shared.repl.offset;
    let feed = &core.shared.feed;
    if !feed.active.load(Ordering::Acquire) {
        offset.fetch_add(bytes.len() as i64, Ordering::SeqCst);
        return;
    }
    // Under the lock, so that a backlog made meanwhile (`start`) begins at an offset that
    // agrees with its bytes.
    let mut g = feed.lock();
    if let Some(b) = g.backlog.as_mut() {
        b.append(bytes);
    }
    offset.fetch_add(bytes.len() as i64, Ordering::SeqCst);
}

/// The role changed (REPLICAOF, a promotion, a failover): the stream's next record starts
/// with a SELECT, multi-shard operations half merged are dropped, and the replicas
/// attached now are disconnected, to reconnect and learn the new history (partially, as a
/// rule: Redis' disconnectSlaves).
pub fn role_changed(core: &std::rc::Rc<Core>) {
    let ids: Vec<u64> = {
        let mut g = core.shared.feed.lock();
        g.out_db = None;
        g.pending.clear();
        g.replicas.iter().map(|r| r.id).collect()
    };
    disconnect(core, ids);
}

/// A replica starts a full sync from its master (a new history): its own replicas go, and
/// so does its backlog (the next replica makes one at the new offset).
pub fn new_history(core: &std::rc::Rc<Core>) {
    let ids: Vec<u64> = {
        let feed = &core.shared.feed;
        let mut g = feed.lock();
        g.backlog = None;
        g.pending.clear();
        g.out_db = None;
        feed.active.store(false, Ordering::Release);
        g.replicas.iter().map(|r| r.id).collect()
    };
    disconnect(core, ids);
}

/// Closes these replicas' connections, wherever they are.
pub fn disconnect(core: &std::rc::Rc<Core>, ids: Vec<u64>) {
    if ids.is_empty() {
        return;
    }
    let core = core.clone();
    reactor::spawn_local(async move {
        for id in ids {
            let f = crate::ops::KillFilter {
                id: Some(id),
                ..Default::default()
            };
            core.ask_all(|_| crate::core::calls::ClientKill(f.clone()), None)
                .await;
        }
    })
    .detach();
}

/// Makes the backlog (the first replica, or a promoted replica keeping its history), so
/// the stream starts at the current offset; every core's journal then records.
pub fn start(core: &Core) {
    let feed = &core.shared.feed;
    let mut g = feed.lock();
    if g.backlog.is_none() {
        let offset = core.shared.repl.offset.load(Ordering::SeqCst);
        let size = core
            .shared
            .config
            .read()
            .ok()
            .and_then(|c| c.get("repl-backlog-size"))
            .and_then(|v| v.parse::<usize>().ok())
            .unwrap_or(1 << 20);
        g.backlog = Some(Backlog::new(size, offset));
        g.out_db = None;
        feed.active.store(true, Ordering::Release);
    }
}

/// repl-backlog-size changed: the backlog keeps what fits of its history.
pub fn set_backlog_size(feed: &Feed, size: usize) {
    let mut g = feed.lock();
    if let Some(b) = g.backlog.as_ref().filter(|b| b.size != size.max(1)) {
        g.backlog = Some(b.resized(size));
    }
}

/// Up to `max` bytes of the stream from `from` (None: no longer in the backlog).
pub fn read(core: &Core, from: i64, max: usize) -> Option<Vec<u8>> {
    core.shared.feed.lock().backlog.as_ref()?.read(from, max)
}

/// REPLCONF GETACK into the stream: replicas answer with their offsets at once (WAIT).
pub fn request_ack(core: &Core) {
    append_raw(core, b"*3\r\n$8\r\nREPLCONF\r\n$6\r\nGETACK\r\n$1\r\n*\r\n");
}

/// A record that belongs to no database (PING, REPLCONF) straight into the stream.
fn append_raw(core: &Core, rec: &[u8]) {
    let mut g = core.shared.feed.lock();
    emit(&mut g, None, rec);
    let end = g.backlog.as_ref().map(|b| b.end);
    drop(g);
    if let Some(end) = end {
        core.shared.repl.offset.store(end, Ordering::SeqCst);
    }
}

/// Core 0, every repl-ping-replica-period while replicas are attached: a PING in the stream,
/// so that they see the link alive (and time it out when it is not); and the backlog freed
/// repl-backlog-ttl after the last replica went.
pub async fn ping_loop(core: std::rc::Rc<Core>) {
    let mut last_ping = std::time::Instant::now();
    loop {
        reactor::sleep(std::time::Duration::from_millis(100)).await;
        let (period, ttl) = core
            .shared
            .config
            .read()
            .map(|c| {
                let n = |k: &str, d: u64| c.get(k).and_then(|v| v.parse().ok()).unwrap_or(d);
                (
                    n("repl-ping-replica-period", 10),
                    n("repl-backlog-ttl", 3600),
                )
            })
            .unwrap_or((10, 3600));
        core.shared.feed.refresh_good();
        let (replicas, orphan_since) = {
            let g = core.shared.feed.lock();
            (g.replicas.len(), g.orphan_since_ms)
        };
        crate::repl::failover_tick(&core);
        // A replica's replicas get its master's PINGs; none during a failover's pause
        // (they would move the offset the replicas must reach).
        if replicas > 0
            && last_ping.elapsed().as_secs() >= period
            && !core.shared.repl.is_replica()
            && !core.shared.repl.failover_paused()
        {
            last_ping = std::time::Instant::now();
            append_raw(&core, b"*1\r\n$4\r\nPING\r\n");
        }
        let now = engine::shard::unix_ms();
        if replicas == 0
            && ttl > 0
            && orphan_since > 0
            && now.saturating_sub(orphan_since) / 1000 >= ttl
            && !core.shared.repl.is_replica()
        {
            let mut g = core.shared.feed.lock();
            if g.replicas.is_empty() && g.backlog.is_some() {
                tracing::info!(
                    "Replication backlog freed after {ttl} seconds without connected replicas."
                );
                g.backlog = None;
                g.pending.clear();
                g.orphan_since_ms = 0;
                core.shared.feed.active.store(false, Ordering::Release);
                // A new history: a replica of the old one resyncs in full.
                drop(g);
                core.shared.repl.new_history();
            }
        }
    }
}

/// PSYNC (and SYNC, `replid` None): a replica attaches. Partial when it follows this
/// history from an offset the backlog still holds (`+CONTINUE`), full otherwise
/// (`+FULLRESYNC <replid> <offset>`, then the snapshot at that offset as `$<len>` and the
/// RDB); then the stream from there, written to its socket by `feeder` while the connection
/// reads its ACKs.
pub async fn psync(
    c: &mut crate::conn::Conn,
    replid: Option<String>,
    offset: i64,
) -> Result<(), String> {
    let core = c.core.clone();
    let shared = core.shared.clone();
    if shared.repl.failover_state() != crate::repl::FailoverState::None {
        return Err("NOMASTERLINK Can't SYNC while failing over".into());
    }
    let replica = shared.repl.is_replica();
    if replica && !shared.repl.link_up.load(Ordering::SeqCst) {
        return Err("NOMASTERLINK Can't SYNC while not connected with my master".into());
    }
    let Some(handle) = c.info.stream.get() else {
        return Err("ERR no socket".into());
    };
    // Replies before this one leave first; from here the socket is written directly.
    if !c.out.is_empty() {
        let _ = handle.write(&c.out);
        c.out.clear();
    }
    start(&core);
    if !replica {
        core.ask_all(|_| crate::core::calls::EnableJournal, None)
            .await;
    }
    let partial = replid.as_ref().and_then(|id| {
        let (ours, ours2, second) = shared.repl.ids();
        let wanted = offset - 1;
        let follows = *id == ours || (*id == ours2 && offset <= second);
        let g = shared.feed.lock();
        let b = g.backlog.as_ref()?;
        (follows && wanted >= b.first() && wanted <= b.end).then_some((wanted, ours))
    });
    let stats = &shared.feed.stats;
    // After a diskless payload the stream starts at the replica's first ACK, once it
    // loaded (Redis' repl_start_cmd_stream_on_ack).
    let mut wait_ack = false;
    let from = match partial {
        Some((from, id)) => {
            stats.partial_ok.fetch_add(1, Ordering::Relaxed);
            tracing::info!(replica = %c.info.addr, from, "Partial resynchronization request accepted");
            let _ = handle.write(format!("+CONTINUE {id}\r\n").as_bytes());
            from
        }
        None => {
            if replid.as_ref().is_some_and(|id| id != "?") {
                stats.partial_err.fetch_add(1, Ordering::Relaxed);
            }
            stats.full.fetch_add(1, Ordering::Relaxed);
            register(c, "wait_bgsave");
            let diskless =
                c.repl_eof && replid.is_some() && shared.config_bool("repl-diskless-sync");
            // Out of the read while the snapshot is taken (it waits for every read).
            c.leave_read();
            let snap = full_sync_snapshot(&core, &handle, diskless).await;
            c.enter_read().await;
            let (rdb, at) = match snap {
                Ok(s) => (s.0.clone(), s.1),
                Err(e) => {
                    forget_replica(&core, c.info.id);
                    return Err(e);
                }
            };
            let (id, _, _) = shared.repl.ids();
            tracing::info!(replica = %c.info.addr, offset = at, bytes = rdb.len(), diskless, "Full resync requested by replica; snapshot sent");
            let mut out = match replid {
                Some(_) => format!("+FULLRESYNC {id} {at}\r\n").into_bytes(),
                // The old SYNC gets the payload alone.
                None => Vec::new(),
            };
            if diskless {
                let mark = crate::shared::run_id();
                out.extend_from_slice(format!("$EOF:{mark}\r\n").as_bytes());
                out.extend_from_slice(&rdb);
                out.extend_from_slice(mark.as_bytes());
                wait_ack = true;
            } else {
                out.extend_from_slice(format!("${}\r\n", rdb.len()).as_bytes());
                out.extend_from_slice(&rdb);
            }
            let _ = handle.write(&out);
            at
        }
    };
    register(c, "online");
    c.info.replica.set(true);
    reactor::spawn_local(feeder(core.clone(), handle, c.info.id, from, wait_ack)).detach();
    Ok(())
}

/// Waits for the full sync snapshot this replica shares with others (joining the one that
/// takes replicas, or starting one), writing a newline every second meanwhile (Redis'
/// keep-alive before the PSYNC reply).
async fn full_sync_snapshot(
    core: &std::rc::Rc<Core>,
    handle: &reactor::StreamRef,
    diskless: bool,
) -> Result<Snapshot, String> {
    use std::sync::atomic::AtomicUsize;
    let shared = &core.shared;
    let (delay_ms, max) = shared
        .config
        .read()
        .map(|c| {
            let n = |k: &str| c.get(k).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
            (
                n("repl-diskless-sync-delay") * 1000,
                n("repl-diskless-sync-max-replicas") as usize,
            )
        })
        .unwrap_or((5000, 0));
    let job =
        {
            let mut g = shared.feed.lock();
            match g.job.as_ref().filter(|j| {
                j.diskless == diskless && !(diskless && j.started.load(Ordering::Acquire))
            }) {
                Some(j) => {
                    j.waiting.fetch_add(1, Ordering::AcqRel);
                    j.clone()
                }
                None => {
                    let j = std::sync::Arc::new(SyncJob {
                        diskless,
                        start_ms: engine::shard::unix_ms() + if diskless { delay_ms } else { 0 },
                        waiting: AtomicUsize::new(1),
                        started: AtomicBool::new(false),
                        result: Mutex::new(None),
                    });
                    g.job = Some(j.clone());
                    j
                }
            }
        };
    let forget = |job: &std::sync::Arc<SyncJob>| {
        let mut g = shared.feed.lock();
        if g.job
            .as_ref()
            .is_some_and(|j| std::sync::Arc::ptr_eq(j, job))
        {
            g.job = None;
        }
    };
    let mut last_newline = std::time::Instant::now();
    loop {
        if let Some(r) = job.result.lock().ok().and_then(|r| r.clone()) {
            return r;
        }
        let due = engine::shard::unix_ms() >= job.start_ms
            || (max > 0 && job.waiting.load(Ordering::Acquire) >= max);
        if due
            && job
                .started
                .compare_exchange(false, true, Ordering::AcqRel, Ordering::Acquire)
                .is_ok()
        {
            if diskless {
                // Replicas that come from now on wait for the next one.
                forget(&job);
            }
            let snap = crate::persist::snapshot_for_replica(core, !diskless).await;
            forget(&job);
            let snap = snap.map(std::sync::Arc::new);
            if let Ok(mut r) = job.result.lock() {
                *r = Some(snap.clone());
            }
            return snap;
        }
        if last_newline.elapsed() >= std::time::Duration::from_secs(1) {
            last_newline = std::time::Instant::now();
            if handle.write(b"\n").is_err() {
                return Err("ERR replica gone".into());
            }
        }
        reactor::sleep(std::time::Duration::from_millis(2)).await;
    }
}

/// Notes (or updates) the replica that connection `c` is.
fn register(c: &crate::conn::Conn, state: &'static str) {
    let ip = if c.repl_ip.is_empty() {
        c.info
            .addr
            .rsplit_once(':')
            .map(|(h, _)| h.trim_matches(['[', ']']).to_string())
            .unwrap_or_default()
    } else {
        c.repl_ip.clone()
    };
    let mut g = c.core.shared.feed.lock();
    g.orphan_since_ms = 0;
    match g.replicas.iter_mut().find(|r| r.id == c.info.id) {
        Some(r) => r.state = state,
        None => g.replicas.push(ReplicaInfo {
            id: c.info.id,
            ip,
            port: c.repl_port,
            state,
            ack: 0,
            ack_ms: engine::shard::unix_ms(),
            acked: false,
        }),
    }
}

/// REPLCONF ACK from replica connection `id`.
pub fn ack(core: &Core, id: u64, offset: i64) {
    let mut g = core.shared.feed.lock();
    if let Some(r) = g.replicas.iter_mut().find(|r| r.id == id) {
        r.ack = r.ack.max(offset);
        r.acked = true;
        r.ack_ms = engine::shard::unix_ms();
    }
    drop(g);
    core.shared.feed.refresh_good();
}

/// How many replicas acknowledged `offset`.
pub fn acked(core: &Core, offset: i64) -> usize {
    core.shared
        .feed
        .lock()
        .replicas
        .iter()
        .filter(|r| r.state == "online" && r.ack >= offset)
        .count()
}

/// Bytes a replica's socket may have queued before its feeder waits (the stream stays in
/// the backlog meanwhile).
const FEED_QUEUE: usize = 4 << 20;

/// Writes the stream from `from` to a replica's socket as it grows, until the connection
/// ends (or the replica falls out of the backlog: then it is disconnected and resyncs).
async fn feeder(
    core: std::rc::Rc<Core>,
    handle: reactor::StreamRef,
    id: u64,
    mut from: i64,
    mut wait_ack: bool,
) {
    let mut idle = 0u32;
    loop {
        if !core.clients.borrow().contains_key(&id) {
            break;
        }
        if wait_ack {
            wait_ack = !core
                .shared
                .feed
                .lock()
                .replicas
                .iter()
                .any(|r| r.id == id && r.acked);
            if wait_ack {
                reactor::sleep(std::time::Duration::from_millis(1)).await;
                continue;
            }
        }
        if handle.queued() > FEED_QUEUE {
            reactor::sleep(std::time::Duration::from_millis(1)).await;
            continue;
        }
        match read(&core, from, 1 << 20) {
            None => {
                tracing::warn!(id, "replica fell out of the backlog: disconnected");
                if let Some(info) = core.clients.borrow().get(&id) {
                    info.kill();
                }
                break;
            }
            Some(b) if b.is_empty() => {
                // Nothing new: look again next turn while the stream is busy, then every
                // millisecond.
                idle += 1;
                if idle < 64 {
                    reactor::yield_turn().await;
                } else {
                    reactor::sleep(std::time::Duration::from_millis(1)).await;
                }
            }
            Some(b) => {
                idle = 0;
                from += b.len() as i64;
                if handle.write(&b).is_err() {
                    break;
                }
                reactor::yield_turn().await;
            }
        }
    }
    forget_replica(&core, id);
}

/// Replica connection `id` is gone.
fn forget_replica(core: &Core, id: u64) {
    let mut g = core.shared.feed.lock();
    g.replicas.retain(|r| r.id != id);
    if g.replicas.is_empty() {
        g.orphan_since_ms = engine::shard::unix_ms();
    }
}

/// INFO's master-side fields: connected_slaves and one line per replica.
pub fn info_replicas(core_feed: &Feed, s: &mut String) {
    use std::fmt::Write;
    let g = core_feed.lock();
    let now = engine::shard::unix_ms();
    let _ = write!(s, "connected_slaves:{}\r\n", g.replicas.len());
    if core_feed.min_replicas.load(Ordering::Relaxed) > 0
        && core_feed.min_replicas_lag.load(Ordering::Relaxed) > 0
    {
        let _ = write!(
            s,
            "min_slaves_good_slaves:{}\r\n",
            core_feed.good_replicas.load(Ordering::Relaxed)
        );
    }
    for (i, r) in g.replicas.iter().enumerate() {
        let _ = write!(
            s,
            "slave{i}:ip={},port={},state={},offset={},lag={}\r\n",
            r.ip,
            r.port,
            r.state,
            r.ack,
            now.saturating_sub(r.ack_ms) / 1000
        );
    }
}

/// The backlog's bytes (allocated whole when it is made): MEMORY STATS'
/// replication.backlog.
pub fn backlog_bytes(feed: &Feed) -> u64 {
    feed.lock().backlog.as_ref().map_or(0, |b| b.size as u64)
}

/// INFO's backlog fields.
pub fn info_backlog(core_feed: &Feed, s: &mut String, size_conf: u64) {
    use std::fmt::Write;
    let g = core_feed.lock();
    match &g.backlog {
        Some(b) => {
            let _ = write!(
                s,
                "repl_backlog_active:1\r\nrepl_backlog_size:{}\r\nrepl_backlog_first_byte_offset:{}\r\nrepl_backlog_histlen:{}\r\n",
                b.size,
                b.first() + 1,
                b.len
            );
        }
        None => {
            let _ = write!(
                s,
                "repl_backlog_active:0\r\nrepl_backlog_size:{size_conf}\r\nrepl_backlog_first_byte_offset:0\r\nrepl_backlog_histlen:0\r\n"
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn inner() -> Inner {
        let mut g = Feed::new(2).inner.into_inner().unwrap();
        g.backlog = Some(Backlog::new(1 << 16, 0));
        g
    }

    fn stream(g: &Inner) -> String {
        let b = g.backlog.as_ref().unwrap();
        String::from_utf8(b.read(b.first(), usize::MAX).unwrap()).unwrap()
    }

    #[test]
    fn backlog_wraps() {
        let mut b = Backlog::new(8, 100);
        b.append(b"abcdef");
        b.append(b"ghij");
        assert_eq!(b.end, 110);
        assert_eq!(b.first(), 102);
        assert_eq!(b.read(102, 100).unwrap(), b"cdefghij");
        assert_eq!(b.read(105, 3).unwrap(), b"fgh");
        assert!(b.read(101, 1).is_none());
        b.append(b"0123456789ab");
        assert_eq!(b.read(b.first(), 100).unwrap(), b"456789ab");
        let small = b.resized(4);
        assert_eq!((small.first(), small.end), (b.end - 4, b.end));
        assert_eq!(small.read(small.first(), 100).unwrap(), b"89ab");
        let big = b.resized(100);
        assert_eq!(big.read(big.first(), 100).unwrap(), b"456789ab");
    }

    #[test]
    fn selects_follow_the_stream_and_pieces_join() {
        let mut g = inner();
        let set = |k: &str| format!("*3\r\n$3\r\nSET\r\n$1\r\n{k}\r\n$1\r\nv\r\n");
        let sel = |d: usize| format!("*2\r\n$6\r\nSELECT\r\n$1\r\n{d}\r\n");
        let multi = "*1\r\n$5\r\nMULTI\r\n";
        let exec = "*1\r\n$4\r\nEXEC\r\n";
        // Core 0 in db 1, core 1 in db 0: each record gets the stream's SELECT.
        merge(&mut g, 0, format!("{}{}", sel(1), set("a")).as_bytes());
        merge(&mut g, 1, format!("{}{}", sel(0), set("b")).as_bytes());
        merge(&mut g, 0, set("c").as_bytes());
        // A two-piece operation: held until its commit and both pieces.
        merge(
            &mut g,
            0,
            format!("#TX 7\r\n{multi}{}{exec}", set("x")).as_bytes(),
        );
        g.pending.entry(7).or_default().expected = Some(2);
        emit_if_complete(&mut g, 7);
        merge(&mut g, 1, set("d").as_bytes());
        merge(
            &mut g,
            1,
            format!("#TX 7\r\n{multi}{}{exec}", set("y")).as_bytes(),
        );
        let want = [
            sel(1),
            set("a"),
            sel(0),
            set("b"),
            sel(1),
            set("c"),
            sel(0),
            set("d"),
            multi.to_string(),
            sel(1),
            set("x"),
            sel(0),
            set("y"),
            exec.to_string(),
        ]
        .concat();
        assert_eq!(stream(&g), want);
    }
}
