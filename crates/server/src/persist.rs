//! RDB snapshots: SAVE and BGSAVE without fork, save points, and loading at start.
//!
//! A save takes one point in time on every shard at once: the coordinator locks every shard
//! whole (in shard order, like any multi-shard operation, so no multi-shard write is half in
//! the snapshot) and starts each shard's snapshot (`engine::snapshot`) under that lock. Then
//! the locks go and each shard writes its keys in slices between its clients' turns, in
//! parallel, into a bounded queue that one writer thread drains into `temp-<pid>.rdb`: the
//! header, then the shards' chunks as they come (each starts with SELECTDB: chunks of
//! several shards interleave, which Redis' loader accepts), then EOF and the CRC64; fsync,
//! rename into place. Clients keep being served the whole time.
//!
//! Loading: every shard walks the whole file and builds the keys whose slot it owns,
//! skipping the rest without decoding them, so loading runs on every core at once. Clients
//! get -LOADING until every shard is done.

use crate::core::{calls, Core};
use engine::rdb;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, AtomicU8, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Chunks a shard may have queued for the writer before it waits: what a save holds beyond
/// the dataset is about this many slices per shard.
const QUEUE_CHUNKS: usize = 8;
/// Bytes a shard writes per slice of its walk, between two turns of serving its clients:
/// about 0.2 ms of work for small strings (measured under memtier: 256 KB slices run back to
/// back within one turn took p99 from 0.4 ms to 30-95 ms).
const SLICE_BYTES: usize = 16 << 10;

/// What holds the one snapshot a shard can write at a time (Redis' child_type).
pub const CHILD_NONE: u8 = 0;
pub const CHILD_RDB: u8 = 1;
pub const CHILD_AOF: u8 = 2;

#[derive(Default)]
pub struct State {
    /// CHILD_*: an RDB save or an AOF rewrite runs (they take turns: each shard writes one
    /// snapshot at a time).
    pub child: AtomicU8,
    pub saving: AtomicBool,
    /// BGSAVE SCHEDULE asked for one while another ran.
    pub scheduled: AtomicBool,
    pub last_ok: AtomicBool,
    pub last_secs: AtomicI64,
    pub started_ms: AtomicU64,
    pub last_try_ms: AtomicU64,
    pub saves: AtomicU64,
    /// The sum of the shards' change counters when the last successful save started.
    pub dirty_at_save: AtomicU64,
    /// Each shard's change counter, published by its housekeeping tick.
    pub dirty: Vec<AtomicU64>,
    pub loading: AtomicBool,
    pub loading_left: AtomicUsize,
    /// The RDB images to load at start (the RDB file, or what an AOF of another layout
    /// replayed to); each shard drops its handles when done.
    pub load: Mutex<Vec<Arc<Vec<u8>>>>,
}

impl State {
    pub fn new(shards: usize) -> State {
        State {
            last_ok: AtomicBool::new(true),
            last_secs: AtomicI64::new(-1),
            dirty: (0..shards).map(|_| AtomicU64::new(0)).collect(),
            ..Default::default()
        }
    }

    pub fn dirty(&self) -> u64 {
        self.dirty.iter().map(|d| d.load(Ordering::Relaxed)).sum()
    }

    pub fn changes_since_save(&self) -> u64 {
        self.dirty()
            .saturating_sub(self.dirty_at_save.load(Ordering::Relaxed))
    }
}

/// `save` asked from a connection's read while an AOF rewrite runs.
pub const AOF_BUSY: &str = "ERR Background append only file rewriting in progress";

pub enum SaveMsg {
    Chunk(Vec<u8>),
    Done,
}

/// Where the snapshot goes: `dir/dbfilename`, written through `dir/temp-<pid>.rdb`.
fn paths(core: &Core) -> (std::path::PathBuf, std::path::PathBuf) {
    let (dir, name) = core
        .shared
        .config
        .read()
        .map(|c| (c.dir(), c.dbfilename()))
        .unwrap_or_else(|_| (".".into(), "dump.rdb".into()));
    let dir = std::path::PathBuf::from(dir);
    let tmp = dir.join(format!("temp-{}.rdb", std::process::id()));
    (dir.join(name), tmp)
}

/// Where a snapshot stands in a replication history: replid, offset and the stream's
/// database (the repl-id, repl-offset and repl-stream-db aux fields).
pub type ReplPoint = (String, i64, usize);

/// An RDB file's header: version, aux fields, and the databases' sizes. `aof_base`: the
/// file is an AOF's base (Redis' aof-base aux field).
pub(crate) fn header(dbs: &[(usize, usize)], aof_base: bool) -> Vec<u8> {
    header_at(dbs, aof_base, None)
}

/// `header`, with the replication point the snapshot stands for.
pub(crate) fn header_at(
    dbs: &[(usize, usize)],
    aof_base: bool,
    repl: Option<&ReplPoint>,
) -> Vec<u8> {
    let mut e = rdb::Encoder::new(rdb::SaveOpts::default());
    e.out
        .extend_from_slice(format!("REDIS{:04}", rdb::VERSION).as_bytes());
    let now = engine::shard::unix_ms() / 1000;
    let used = tikv_jemalloc_ctl::stats::allocated::read().unwrap_or(0);
    e.aux("redis-ver", crate::runtime::REDIS_VERSION);
    e.aux("redis-bits", "64");
    e.aux("ctime", &now.to_string());
    e.aux("used-mem", &used.to_string());
    if let Some((id, offset, db)) = repl {
        e.aux("repl-stream-db", &db.to_string());
        e.aux("repl-id", id);
        e.aux("repl-offset", &offset.to_string());
    }
    e.aux("aof-base", if aof_base { "1" } else { "0" });
    e.aux("percore-ver", env!("CARGO_PKG_VERSION"));
    for (db, &(keys, expires)) in dbs.iter().enumerate() {
        if keys > 0 {
            e.select_db(db);
            e.resize_db(keys, expires);
        }
    }
    e.take()
}

/// The image: header, the shards' chunks until every shard is done, EOF; each piece to
/// `put`. Returns the CRC64 of it all (0 without `checksum`).
fn assemble(
    head: &[u8],
    rx: &crossbeam_channel::Receiver<SaveMsg>,
    shards: usize,
    checksum: bool,
    mut put: impl FnMut(&[u8]) -> std::io::Result<()>,
) -> std::io::Result<u64> {
    let mut crc = 0u64;
    let mut put = |b: &[u8]| -> std::io::Result<()> {
        if checksum {
            crc = rdb::crc64(crc, b);
        }
        put(b)
    };
    put(head)?;
    let mut done = 0;
    while done < shards {
        match rx.recv() {
            Ok(SaveMsg::Chunk(b)) => put(&b)?,
            Ok(SaveMsg::Done) => done += 1,
            Err(_) => {
                return Err(std::io::Error::other(
                    "a shard stopped before its snapshot ended",
                ))
            }
        }
    }
    put(&[rdb::OP_EOF])?;
    Ok(crc)
}

/// The writer thread: the image (`assemble`) and its CRC64 into `tmp`, fsync, rename.
/// Returns the bytes written.
pub(crate) fn write_file(
    path: &std::path::Path,
    tmp: &std::path::Path,
    head: Vec<u8>,
    rx: crossbeam_channel::Receiver<SaveMsg>,
    shards: usize,
    checksum: bool,
) -> std::io::Result<u64> {
    use std::io::Write;
    let file = std::fs::File::create(tmp)?;
    let mut w = std::io::BufWriter::with_capacity(1 << 20, file);
    let mut total = 0u64;
    let result = assemble(&head, &rx, shards, checksum, |b| {
        total += b.len() as u64;
        w.write_all(b)
    });
    let crc = match result {
        Ok(crc) => crc,
        Err(e) => {
            drop(w);
            let _ = std::fs::remove_file(tmp);
            return Err(e);
        }
    };
    w.write_all(&crc.to_le_bytes())?;
    let file = w.into_inner().map_err(|e| e.into_error())?;
    install(&file, tmp, path)?;
    Ok(total + 8)
}

/// The snapshot point: every shard locked whole, in shard order, each starting its snapshot
/// (and handing its journal to the replication stream). Returns the chunks' receiver, the
/// shards' answers, and the replication offset and point read under the locks, where no read
/// is in progress (the master client's stream is counted up to what ran).
async fn snapshot_point(
    core: &Rc<Core>,
    in_read: bool,
) -> (
    crossbeam_channel::Receiver<SaveMsg>,
    Vec<Vec<u64>>,
    i64,
    Option<ReplPoint>,
) {
    let (tx_sink, rx) = crossbeam_channel::bounded(QUEUE_CHUNKS * core.shards());
    let every = crate::txn::Scope::Every { in_read };
    let (replies, offset, point) = crate::txn::within(core, None, every, async |t| {
        let r = t
            .ask_all(core, |_| calls::SnapshotStart {
                sink: tx_sink.clone(),
            })
            .await;
        let repl = &core.shared.repl;
        (r, repl.offset.load(Ordering::SeqCst), repl.point())
    })
    .await;
    (rx, replies, offset, point)
}

/// A full sync's snapshot: the image in memory and the replication offset it stands for.
/// The point is a save's (every shard locked whole); each shard hands its journal to the
/// replication stream there (`SnapshotStart`), so the stream up to the offset read under
/// the locks is exactly what the image holds. `to_disk` (a disk-based sync,
/// repl-diskless-sync no): the image is also saved as the RDB file, as the BGSAVE Redis
/// makes for it (LASTSAVE and the changes since the last save follow).
pub async fn snapshot_for_replica(
    core: &Rc<Core>,
    to_disk: bool,
) -> Result<(Vec<u8>, i64), String> {
    let in_read = false;
    let state = &core.shared.persist;
    loop {
        match state.child.compare_exchange(
            CHILD_NONE,
            CHILD_RDB,
            Ordering::AcqRel,
            Ordering::Relaxed,
        ) {
            Ok(_) => break,
            // Another snapshot is being written (the caller is out of its read, so an AOF
            // rewrite waiting for reads goes on).
            Err(_) => reactor::sleep(Duration::from_millis(5)).await,
        }
    }
    let started = engine::shard::unix_ms();
    if to_disk {
        state.saving.store(true, Ordering::Release);
        state.started_ms.store(started, Ordering::Relaxed);
        state.last_try_ms.store(started, Ordering::Relaxed);
    }
    let (rx, replies, offset, point) = snapshot_point(core, in_read).await;
    let (dirty, dbs) = point_sizes(replies);
    let head = header_at(&dbs, false, point.as_ref());
    let n = core.shards();
    let (path, tmp) = paths(core);
    let outcome = on_thread("repl-snapshot", move || {
        let mut out = Vec::new();
        let crc = assemble(&head, &rx, n, true, |b| {
            out.extend_from_slice(b);
            Ok(())
        })?;
        out.extend_from_slice(&crc.to_le_bytes());
        if to_disk {
            use std::io::Write;
            let mut file = std::fs::File::create(&tmp)?;
            file.write_all(&out)?;
            install(&file, &tmp, &path)?;
        }
        Ok(out)
    })
    .await;
    if to_disk {
        let now = engine::shard::unix_ms();
        state
            .last_secs
            .store(((now - started) / 1000) as i64, Ordering::Relaxed);
        match &outcome {
            Ok(image) => {
                state.dirty_at_save.store(dirty, Ordering::Relaxed);
                state.last_ok.store(true, Ordering::Relaxed);
                state.saves.fetch_add(1, Ordering::Relaxed);
                core.shared.lastsave.store(now / 1000, Ordering::Relaxed);
                tracing::info!(
                    bytes = image.len(),
                    "DB saved on disk (for a replica's sync)"
                );
            }
            Err(e) => {
                state.last_ok.store(false, Ordering::Relaxed);
                tracing::warn!("Background saving error: {e}");
            }
        }
        state.saving.store(false, Ordering::Release);
    }
    snapshot_done(core);
    outcome
        .map(|image| (image, offset))
        .map_err(|e| format!("ERR snapshot for replica failed: {e}"))
}

/// Puts a file written at `tmp` in place at `path` durably: fsync, rename, fsync of the
/// directory (so the rename survives a crash too).
pub(crate) fn install(
    file: &std::fs::File,
    tmp: &std::path::Path,
    path: &std::path::Path,
) -> std::io::Result<()> {
    file.sync_all()?;
    std::fs::rename(tmp, path)?;
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => std::path::Path::new("."),
    };
    if let Ok(d) = std::fs::File::open(dir) {
        let _ = d.sync_all();
    }
    Ok(())
}

/// On a shard, at the snapshot point: starts its snapshot and the task that feeds the
/// writer. Answers its databases' sizes and its change counter.
pub fn start_shard(core: &Rc<Core>, sink: crossbeam_channel::Sender<SaveMsg>) -> Vec<u64> {
    let opts = core.settings.get().save;
    let (sizes, dirty) = {
        let mut shard = core.shard.borrow_mut();
        (shard.snapshot_begin(opts), shard.stats.dirty)
    };
    // Core 0 makes every change to the function libraries (`functions`): its snapshot
    // holds them as they are at the point.
    let mut first = match core.id {
        0 => {
            let (_, libs) = core.shared.functions.snapshot();
            let codes: Vec<&[u8]> = libs.iter().map(|l| &l.code[..]).collect();
            rdb::function_records(&codes)
        }
        _ => Vec::new(),
    };
    let c = core.clone();
    reactor::spawn_local(async move {
        loop {
            let (mut bytes, done) = c.shard.borrow_mut().snapshot_step(SLICE_BYTES);
            if !first.is_empty() {
                first.append(&mut bytes);
                bytes = std::mem::take(&mut first);
            }
            let mut msg = Some(SaveMsg::Chunk(bytes));
            while let Some(m) = msg.take() {
                match sink.try_send(m) {
                    Ok(()) => {}
                    Err(crossbeam_channel::TrySendError::Full(m)) => {
                        msg = Some(m);
                        reactor::sleep(Duration::from_micros(200)).await;
                    }
                    Err(crossbeam_channel::TrySendError::Disconnected(_)) => {
                        c.shard.borrow_mut().snapshot_abort();
                        return;
                    }
                }
            }
            if done {
                let _ = sink.send(SaveMsg::Done);
                return;
            }
            // The next slice waits for the next turn: clients' input and replies go first.
            reactor::yield_turn().await;
        }
    })
    .detach();
    let mut out: Vec<u64> = vec![dirty];
    for (k, e) in sizes {
        out.push(k as u64);
        out.push(e as u64);
    }
    out
}

/// Runs a whole save and waits for it. Err: the reason it failed (already logged).
/// `in_read`: asked from a connection's read (SAVE, SHUTDOWN, DEBUG RELOAD).
pub async fn save(core: &Rc<Core>, in_read: bool) -> Result<(), String> {
    let state = &core.shared.persist;
    loop {
        match state.child.compare_exchange(
            CHILD_NONE,
            CHILD_RDB,
            Ordering::AcqRel,
            Ordering::Relaxed,
        ) {
            Ok(_) => break,
            Err(CHILD_RDB) => return Err("ERR Background save already in progress".into()),
            // A rewrite waits for the reads in progress at its point: a save asked from one
            // must not wait here (the caller steps out of its read and asks again).
            Err(_) if in_read => return Err(AOF_BUSY.into()),
            // An AOF rewrite's snapshot is being written: this save follows it.
            Err(_) => reactor::sleep(Duration::from_millis(5)).await,
        }
    }
    state.saving.store(true, Ordering::Release);
    let started = engine::shard::unix_ms();
    state.started_ms.store(started, Ordering::Relaxed);
    state.last_try_ms.store(started, Ordering::Relaxed);
    let (rx, replies, _, repl) = snapshot_point(core, in_read).await;
    let (dirty, dbs) = point_sizes(replies);
    let (path, tmp) = paths(core);
    let head = header_at(&dbs, false, repl.as_ref());
    let checksum = core
        .shared
        .config
        .read()
        .map(|c| c.get("rdbchecksum").as_deref() != Some("no"))
        .unwrap_or(true);
    let n = core.shards();
    let outcome = on_thread("rdb-writer", move || {
        write_file(&path, &tmp, head, rx, n, checksum)
    })
    .await;
    let now = engine::shard::unix_ms();
    state
        .last_secs
        .store(((now - started) / 1000) as i64, Ordering::Relaxed);
    let done = match outcome {
        Ok(bytes) => {
            state.dirty_at_save.store(dirty, Ordering::Relaxed);
            state.last_ok.store(true, Ordering::Relaxed);
            state.saves.fetch_add(1, Ordering::Relaxed);
            core.shared.lastsave.store(now / 1000, Ordering::Relaxed);
            tracing::info!(bytes, ms = now - started, "DB saved on disk");
            Ok(())
        }
        Err(e) => {
            state.last_ok.store(false, Ordering::Relaxed);
            tracing::warn!("Background saving error: {e}");
            Err(format!("ERR {e}"))
        }
    };
    state.saving.store(false, Ordering::Release);
    snapshot_done(core);
    done
}

/// Runs `f` on a thread of its own (file writing, image assembly) and waits for it without
/// blocking the core.
async fn on_thread<T: Send + 'static>(
    name: &str,
    f: impl FnOnce() -> std::io::Result<T> + Send + 'static,
) -> std::io::Result<T> {
    let result: Arc<Mutex<Option<std::io::Result<T>>>> = Arc::default();
    let slot = result.clone();
    std::thread::Builder::new()
        .name(name.into())
        .spawn(move || {
            let r = f();
            if let Ok(mut s) = slot.lock() {
                *s = Some(r);
            }
        })?;
    loop {
        if let Some(r) = result.lock().ok().and_then(|mut s| s.take()) {
            return r;
        }
        reactor::sleep(Duration::from_millis(1)).await;
    }
}

/// The shards' answers at a snapshot point: the sum of their change counters and each
/// database's key and expiry counts.
fn point_sizes(replies: Vec<Vec<u64>>) -> (u64, Vec<(usize, usize)>) {
    let mut dirty = 0u64;
    let mut dbs: Vec<(usize, usize)> = Vec::new();
    for v in replies {
        dirty += v.first().copied().unwrap_or(0);
        for (i, pair) in v.get(1..).unwrap_or_default().chunks(2).enumerate() {
            if dbs.len() <= i {
                dbs.resize(i + 1, (0, 0));
            }
            dbs[i].0 += pair[0] as usize;
            dbs[i].1 += pair.get(1).copied().unwrap_or(0) as usize;
        }
    }
    (dirty, dbs)
}

/// A snapshot is written: the next one asked for meanwhile starts.
fn snapshot_done(core: &Rc<Core>) {
    let state = &core.shared.persist;
    state.child.store(CHILD_NONE, Ordering::Release);
    if state.scheduled.swap(false, Ordering::AcqRel) {
        bgsave(core);
    } else if core.shared.aof.scheduled.swap(false, Ordering::AcqRel) {
        crate::aof::bgrewrite(core);
    }
}

/// Starts a save in the background.
pub fn bgsave(core: &Rc<Core>) {
    let c = core.clone();
    reactor::spawn_local(async move {
        let _ = save(&c, false).await;
    })
    .detach();
}

/// DEBUG RELOAD: save, empty every shard, load the file just written, and wait for it.
pub async fn reload(core: &Rc<Core>, in_read: bool) -> Result<(), String> {
    save(core, in_read).await?;
    let (path, _) = paths(core);
    let bytes =
        std::fs::read(&path).map_err(|e| format!("ERR Error trying to load the RDB dump: {e}"))?;
    replace_dataset(core, Arc::new(bytes), in_read, false).await;
    Ok(())
}

/// A replica's full sync: the master's RDB replaces the dataset (keys already expired kept:
/// the master's DELs will come). The image is checked first (header, checksum): a bad one
/// is refused and the dataset left as it was.
pub async fn load_from_master(core: &Rc<Core>, bytes: Vec<u8>) -> Result<(), String> {
    check_image(&bytes, true)?;
    let bytes = Arc::new(bytes);
    let mode = core
        .shared
        .config
        .read()
        .ok()
        .and_then(|c| c.get("repl-diskless-load"))
        .unwrap_or_else(|| "disabled".into());
    let to_disk = match mode.as_str() {
        "swapdb" => false,
        "on-empty-db" => {
            let infos = core.ask_all(|_| calls::DbInfo, None).await;
            infos.iter().flatten().any(|d| d.keys > 0)
        }
        _ => true,
    };
    if to_disk {
        // repl-diskless-load disabled (or a dataset to replace with on-empty-db): the
        // payload becomes this server's RDB file first, as Redis stores it before loading.
        let (path, tmp) = paths(core);
        let image = bytes.clone();
        tracing::info!(
            bytes = image.len(),
            "MASTER <-> REPLICA sync: storing the payload from master to disk"
        );
        on_thread("repl-rdb-store", move || {
            use std::io::Write;
            let mut file = std::fs::File::create(&tmp)?;
            file.write_all(&image)?;
            install(&file, &tmp, &path)
        })
        .await
        .map_err(|e| {
            format!("Failed trying to store the MASTER synchronization DB to disk: {e}")
        })?;
    }
    replace_dataset(core, bytes, false, true).await;
    Ok(())
}

/// An RDB image's header and (when `checksum`) its CRC64.
fn check_image(bytes: &[u8], checksum: bool) -> Result<(), String> {
    let mut d = rdb::Decoder::new(bytes);
    let version = d.header().map_err(|e| e.to_string())?;
    if checksum && version >= 5 && bytes.len() >= 8 {
        let n = bytes.len() - 8;
        let stored = u64::from_le_bytes(bytes[n..].try_into().unwrap_or([0; 8]));
        if stored != 0 && rdb::crc64(0, &bytes[..n]) != stored {
            return Err(format!(
                "Wrong RDB checksum expected: ({stored:x}) got: ({:x})",
                rdb::crc64(0, &bytes[..n])
            ));
        }
    }
    Ok(())
}

/// Empties every shard and loads `file` into them (each its own keys), waiting for the end.
async fn replace_dataset(core: &Rc<Core>, file: Arc<Vec<u8>>, in_read: bool, keep_expired: bool) {
    let state = &core.shared.persist;
    state.loading_left.store(core.shards(), Ordering::Release);
    state.loading.store(true, Ordering::Release);
    crate::txn::within(
        core,
        None,
        crate::txn::Scope::Every { in_read },
        async |t| {
            t.ask_all(core, |_| calls::Flush {
                db: None,
                lazy: false,
                journal: false,
            })
            .await
        },
    )
    .await;
    core.ask_all(|_| calls::Load(vec![file.clone()], keep_expired), None)
        .await;
    while state.loading.load(Ordering::Acquire) {
        reactor::sleep(Duration::from_millis(1)).await;
    }
    // Emptying and loading are no changes to save (as redis-server's emptyData and rdbLoad).
    let mut dirty = 0;
    for s in core.ask_all(|_| calls::Stats::default(), None).await {
        dirty += s.dirty;
    }
    state.dirty_at_save.store(dirty, Ordering::Relaxed);
}

/// The `save` directive's points: (seconds, changes) pairs.
pub fn save_points(core: &Core) -> Vec<(u64, u64)> {
    let raw = core
        .shared
        .config
        .read()
        .ok()
        .and_then(|c| c.get("save"))
        .unwrap_or_default();
    let nums: Vec<u64> = raw
        .split_whitespace()
        .filter_map(|w| w.parse().ok())
        .collect();
    nums.chunks_exact(2).map(|p| (p[0], p[1])).collect()
}

/// Core 0's once-a-second check of the save points (Redis' serverCron): a save point
/// reached starts a BGSAVE; after a failed one, retries wait 5 seconds.
pub async fn save_point_loop(core: Rc<Core>) {
    loop {
        reactor::sleep(Duration::from_secs(1)).await;
        let state = &core.shared.persist;
        if state.saving.load(Ordering::Relaxed) || state.loading.load(Ordering::Relaxed) {
            continue;
        }
        let changes = state.changes_since_save();
        let now = engine::shard::unix_ms();
        let since = now / 1000 - core.shared.lastsave.load(Ordering::Relaxed).min(now / 1000);
        let retry_ok = state.last_ok.load(Ordering::Relaxed)
            || now.saturating_sub(state.last_try_ms.load(Ordering::Relaxed)) > 5000;
        let due = save_points(&core)
            .iter()
            .any(|&(secs, n)| changes >= n && since >= secs);
        if due && retry_ok {
            tracing::info!(changes, since, "save point reached, saving");
            bgsave(&core);
        } else if crate::aof::auto_rewrite_due(&core) {
            crate::aof::bgrewrite(&core);
        }
    }
}

/// The replication point an RDB image was saved at (its repl-id, repl-offset and
/// repl-stream-db aux fields), if it has one.
pub fn repl_point(bytes: &[u8]) -> Option<ReplPoint> {
    let mut d = rdb::Decoder::new(bytes);
    d.header().ok()?;
    let (mut id, mut offset, mut db) = (None, None, 0usize);
    while let Ok(rdb::Item::Aux(k, v)) = d.item() {
        let v = String::from_utf8_lossy(&v).into_owned();
        match &k[..] {
            b"repl-id" if v.len() == 40 => id = Some(v),
            b"repl-offset" => offset = v.parse().ok(),
            b"repl-stream-db" => db = v.parse().unwrap_or(0),
            _ => {}
        }
    }
    Some((id?, offset?, db))
}

/// Reads the RDB file to load at start, if there is one: the bytes, with the header
/// checked. A file that exists but cannot be used stops the start.
pub fn read_at_start(config: &config::Config) -> Result<Option<Vec<u8>>, String> {
    let path = std::path::Path::new(&config.dir()).join(config.dbfilename());
    let bytes = match std::fs::read(&path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(format!("Fatal error loading the DB: {e}. Exiting.")),
    };
    let check = config.get("rdbchecksum").as_deref() != Some("no");
    check_image(&bytes, check).map_err(|e| {
        if e.starts_with("Wrong RDB checksum") {
            format!("{e}. Aborting now.")
        } else {
            format!("Fatal error loading the DB: {e}. Exiting.")
        }
    })?;
    tracing::info!(path = %path.display(), bytes = bytes.len(), "Loading RDB");
    Ok(Some(bytes))
}

/// One shard's part of the load at start (or of DEBUG RELOAD): every key whose slot it
/// owns in each image, then the end of loading (`loaded`).
pub async fn load_shard(core: Rc<Core>, files: Vec<Arc<Vec<u8>>>, keep_expired: bool) {
    let dirty_before = core.shard.borrow().stats.dirty;
    for file in files {
        load_rdb(&core, &file, keep_expired).await;
    }
    // Loading is not a change to save again.
    core.shard.borrow_mut().stats.dirty = dirty_before;
    loaded(&core);
}

/// Loads the keys of an RDB image whose slot this shard owns, keys already expired dropped
/// (as a master does) unless `aof_base` (an AOF's base keeps them, as Redis' AOF preamble
/// load does: the increments after it may name them). A malformed file ends the process,
/// as in redis-server.
pub async fn load_rdb(core: &Rc<Core>, file: &[u8], aof_base: bool) {
    let started = std::time::Instant::now();
    let limits = core.shard.borrow().limits;
    let mut d = rdb::Decoder::new(file);
    let mut db = 0usize;
    let mut loaded = 0u64;
    let mut expired = 0u64;
    let dbs = core.shared.databases();
    let now = engine::shard::unix_ms();
    let fail = |e: rdb::LoadError| -> ! {
        tracing::error!("Short read or OOM loading DB. Unrecoverable error, aborting now. ({e})");
        std::process::exit(1);
    };
    if let Err(e) = d.header() {
        fail(e);
    }
    let mut functions: Vec<Vec<u8>> = Vec::new();
    let mut since_yield = 0usize;
    loop {
        let item = match d.item() {
            Ok(i) => i,
            Err(e) => fail(e),
        };
        match item {
            rdb::Item::Eof => break,
            rdb::Item::SelectDb(n) => {
                if n >= dbs {
                    fail(rdb::LoadError {
                        offset: d.pos,
                        reason: format!("FATAL: Data file was created with a Redis server configured to handle more than {dbs} databases. Exiting"),
                    });
                }
                db = n;
            }
            rdb::Item::Function(code) => {
                // Core 0 loads the file's libraries (once, after its keys).
                if core.id == 0 {
                    functions.push(code);
                }
            }
            rdb::Item::ModuleAux(id) => {
                if core.id == 0 {
                    tracing::warn!(id, "the RDB file holds module data; skipped");
                }
            }
            rdb::Item::ResizeDb(keys, _) => {
                // This shard's share of the keys, if they spread evenly over the slots.
                let share = (keys as usize / core.shards()).min(1 << 30);
                core.shard.borrow_mut().reserve(db, share);
            }
            rdb::Item::Aux(..) => {}
            rdb::Item::Key(k) => {
                if core.shared.shard_of(&k.key) != core.id {
                    continue;
                }
                let value = match rdb::Decoder::key_value(file, &k, &limits) {
                    Ok(v) => v,
                    Err(e) => fail(e),
                };
                if k.expire_at != 0 && k.expire_at < now && !aof_base {
                    expired += 1;
                    continue;
                }
                {
                    let mut shard = core.shard.borrow_mut();
                    shard.store(db, &k.key, value, k.expire_at);
                    shard.set_lru_or_lfu(db, &k.key, k.idle, k.freq);
                }
                loaded += 1;
                since_yield += 1;
                if since_yield >= 4096 {
                    since_yield = 0;
                    reactor::yield_now().await;
                }
            }
        }
    }
    if let Err(e) = crate::functions::load_from_file(&core.shared.functions, &functions) {
        tracing::error!("Failed loading the function libraries of the RDB file: {e}");
        std::process::exit(1);
    }
    core.shard.borrow_mut().take_events();
    tracing::info!(
        shard = core.id,
        keys = loaded,
        expired,
        secs = started.elapsed().as_secs_f64(),
        "DB loaded from disk"
    );
}

/// This shard is done loading: the last one ends LOADING, or first starts the AOF's
/// rewrite when the AOF was not in this server's layout (`aof::State::rewrite_at_start`).
pub fn loaded(core: &Rc<Core>) {
    let state = &core.shared.persist;
    if state.loading_left.fetch_sub(1, Ordering::AcqRel) == 1 {
        if let Ok(mut l) = state.load.lock() {
            l.clear();
        }
        if core
            .shared
            .aof
            .rewrite_at_start
            .swap(false, Ordering::AcqRel)
        {
            crate::aof::rewrite_at_start(core);
        } else {
            state.loading.store(false, Ordering::Release);
        }
    }
}

/// A save for a shutdown: a background save in progress is waited for first (its point is
/// older than the shutdown's), then a fresh one runs.
/// Called outside any read (SHUTDOWN steps out of its own): it may wait for a background
/// save, which waits for the reads in progress.
pub async fn final_save(core: &Rc<Core>) -> Result<(), String> {
    loop {
        while core.shared.persist.saving.load(Ordering::Acquire) {
            reactor::sleep(Duration::from_millis(5)).await;
        }
        match save(core, false).await {
            // Another save got in between: wait for that one too.
            Err(e) if e.contains("already in progress") => continue,
            r => return r,
        }
    }
}

/// Whether a shutdown saves first (Redis' prepareForShutdown): SAVE forces it, NOSAVE
/// forbids it, otherwise it saves when save points are configured.
pub fn shutdown_saves(core: &Core, save: bool, nosave: bool) -> bool {
    save || (!nosave && !save_points(core).is_empty())
}

/// Core 0 turns SIGTERM and SIGINT into a shutdown, saving first when save points are set
/// (as redis-server does); a failed save keeps the server running, with the error logged.
/// Checked every 100 ms, as redis-server's cron checks its shutdown flag at hz 10: an idle
/// server wakes for it no more often than for active expiry.
pub async fn signal_loop(core: Rc<Core>) {
    loop {
        reactor::sleep(Duration::from_millis(100)).await;
        if core.shared.signals.1.try_recv().is_err() {
            continue;
        }
        if shutdown_saves(&core, false, false) {
            tracing::info!("Saving the final RDB snapshot before exiting.");
            if let Err(e) = final_save(&core).await {
                tracing::warn!("Error trying to save the DB, can't exit. ({e})");
                continue;
            }
        }
        let _ = core.shared.shutdown.send(crate::ShutdownReason::Signal);
    }
}
