//! The append-only file, one per shard: each shard writes its journal (engine::journal)
//! to its own increment file, the bases are RDB snapshots, and a manifest in Redis 7.0's
//! syntax (with a `shard` key) lists them all (ARCHITECTURE.md, "The AOF").
//!
//! - Group commit: at the end of each turn of its reactor, after the turn's commands ran and
//!   before any reply or cross-core message leaves (`reactor::before_output`), a shard
//!   writes what its journal recorded in that turn with one write, and with
//!   `appendfsync always` one fdatasync: every reply of the turn waits for it, and so does
//!   every piece of a multi-shard operation the shard answers another core. With
//!   `everysec` a thread fsyncs each shard's file once a second, off the shards' loops.
//! - Rewrite (BGREWRITEAOF), without fork: new empty increment files are listed in the
//!   manifest first; then at one point on every shard (all locked whole, as a save's
//!   point) each shard writes its journal so far to its old file, switches to the new one,
//!   and starts a snapshot that a thread per shard writes into a new base; once every base
//!   is on disk the manifest names the new bases and increments only, and the old files go.
//! - Start: the files of this shard count load on every shard at once, each its own (base,
//!   then increments); a multi-shard operation with a part missing (a file cut short) is not
//!   applied anywhere. Files of another shard count, or a redis-server `appendonlydir`, are
//!   replayed into scratch shards, loaded like an RDB file, and rewritten in this layout.

use crate::core::Core;
use engine::aof::{FileType, Manifest, ManifestFile};
use std::collections::HashSet;
use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, AtomicU8, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

pub const FSYNC_NO: u8 = 0;
pub const FSYNC_EVERYSEC: u8 = 1;
pub const FSYNC_ALWAYS: u8 = 2;

pub fn fsync_policy(name: &str) -> u8 {
    match name {
        "always" => FSYNC_ALWAYS,
        "no" => FSYNC_NO,
        _ => FSYNC_EVERYSEC,
    }
}

/// Server-wide AOF state (INFO persistence, the fsync thread, the manifest).
#[derive(Default)]
pub struct State {
    pub enabled: AtomicBool,
    pub fsync: AtomicU8,
    pub no_fsync_on_rewrite: AtomicBool,
    pub timestamps: AtomicBool,
    pub rewriting: AtomicBool,
    /// BGREWRITEAOF while a save ran: it starts when the save ends.
    pub scheduled: AtomicBool,
    /// The layout on disk was not this server's: the last shard to load starts a rewrite.
    pub rewrite_at_start: AtomicBool,
    /// The manifest on disk describes this server's data (its files were loaded, or a
    /// rewrite wrote them since the AOF was turned on): a rewrite may list its new
    /// increments there before its bases exist. Otherwise (the AOF being turned on, or
    /// converted from another layout) nothing is listed until the new bases are written.
    pub current: AtomicBool,
    pub last_rewrite_ok: AtomicBool,
    pub last_rewrite_secs: AtomicI64,
    pub rewrite_started_ms: AtomicU64,
    pub rewrites: AtomicU64,
    pub failures: AtomicU64,
    pub last_write_ok: AtomicBool,
    /// The last everysec fsync succeeded.
    pub fsync_ok: AtomicBool,
    /// Each shard's last everysec fsync failed (`fsync_ok` is false while any did).
    fsync_failed: Vec<AtomicBool>,
    /// The highest file sequence a rewrite used.
    last_seq: AtomicI64,
    pub last_write_err: Mutex<String>,
    /// The bases' size after the last rewrite, and each shard's base + increment bytes.
    pub base_size: AtomicU64,
    pub sizes: Vec<AtomicU64>,
    pub delayed_fsync: AtomicU64,
    /// Each shard's increment file, for the everysec thread, and whether it has unsynced
    /// writes.
    files: Vec<Mutex<Option<Arc<File>>>>,
    unsynced: Vec<AtomicBool>,
    pub manifest: Mutex<Manifest>,
    /// What the shards load at start (`prepare`).
    pub start: Mutex<Option<Own>>,
}

impl State {
    pub fn new(shards: usize, config: &config::Config) -> State {
        let s = State {
            last_rewrite_ok: AtomicBool::new(true),
            last_write_ok: AtomicBool::new(true),
            fsync_ok: AtomicBool::new(true),
            last_rewrite_secs: AtomicI64::new(-1),
            sizes: (0..shards).map(|_| AtomicU64::new(0)).collect(),
            files: (0..shards).map(|_| Mutex::new(None)).collect(),
            unsynced: (0..shards).map(|_| AtomicBool::new(false)).collect(),
            fsync_failed: (0..shards).map(|_| AtomicBool::new(false)).collect(),
            ..Default::default()
        };
        s.refresh(config);
        s
    }

    /// Copies the settings the write path reads (at start and after CONFIG SET).
    pub fn refresh(&self, c: &config::Config) {
        self.fsync
            .store(fsync_policy(&c.appendfsync()), Ordering::Relaxed);
        let flag = |n: &str| c.get(n).as_deref() == Some("yes");
        self.no_fsync_on_rewrite
            .store(flag("no-appendfsync-on-rewrite"), Ordering::Relaxed);
        self.timestamps
            .store(flag("aof-timestamp-enabled"), Ordering::Relaxed);
    }

    /// The error of the last write to the AOF, while it failed (writes are refused).
    #[inline]
    pub fn write_error(&self) -> Option<String> {
        if (self.last_write_ok.load(Ordering::Relaxed) && self.fsync_ok.load(Ordering::Relaxed))
            || !self.enabled.load(Ordering::Relaxed)
        {
            return None;
        }
        self.last_write_err.lock().ok().map(|e| e.clone())
    }

    /// Fsyncs every shard's open increment file (at exit).
    pub fn sync_all(&self) {
        for f in &self.files {
            if let Some(f) = f.lock().ok().and_then(|f| f.clone()) {
                let _ = f.sync_data();
            }
        }
    }

    pub fn current_size(&self) -> u64 {
        self.sizes.iter().map(|s| s.load(Ordering::Relaxed)).sum()
    }
}

/// A shard's open increment file.
pub struct Writer {
    file: Arc<File>,
    /// Bytes a failed write left, written first next time.
    retry: Vec<u8>,
    /// The second of the last `#TS:` annotation (aof-timestamp-enabled).
    last_ts: u64,
    /// Under `appendfsync always`: when the oldest write not yet fsynced was written (the
    /// turn's output is held until it is).
    unsynced_since: Option<std::time::Instant>,
    /// How long this file's fsyncs take lately (bounds the gathering window).
    fsync_time: Duration,
    /// The file's length after the last whole write (a failed write is cut back to it).
    len: u64,
}

/// Where the files are: `dir/appenddirname`, and `appendfilename` (the manifest is
/// `<appendfilename>.manifest`).
pub struct Paths {
    pub dir: PathBuf,
    pub name: String,
}

impl Paths {
    pub fn of(c: &config::Config) -> Paths {
        Paths {
            dir: Path::new(&c.dir()).join(c.appenddirname()),
            name: c.appendfilename(),
        }
    }
    fn manifest(&self) -> PathBuf {
        self.dir.join(format!("{}.manifest", self.name))
    }
    /// A base: an RDB (`aof-use-rdb-preamble yes`) or commands.
    fn base(&self, shard: usize, seq: i64, rdb: bool) -> String {
        let ext = if rdb { "rdb" } else { "aof" };
        format!("{}.shard{shard}.{seq}.base.{ext}", self.name)
    }
    fn incr(&self, shard: usize, seq: i64) -> String {
        format!("{}.shard{shard}.{seq}.incr.aof", self.name)
    }
}

fn paths(core: &Core) -> Paths {
    match core.shared.config.read() {
        Ok(c) => Paths::of(&c),
        Err(_) => Paths {
            dir: "appendonlydir".into(),
            name: "appendonly.aof".into(),
        },
    }
}

/// Writes the manifest atomically: a temp file, fsync, rename, fsync of the directory.
fn persist_manifest(p: &Paths, m: &Manifest) -> std::io::Result<()> {
    let tmp = p.dir.join(format!("temp-{}.manifest", p.name));
    let mut f = File::create(&tmp)?;
    f.write_all(m.format().as_bytes())?;
    crate::persist::install(&f, &tmp, &p.manifest())
}

fn open_append(path: &Path) -> std::io::Result<File> {
    std::fs::OpenOptions::new()
        .append(true)
        .create(true)
        .open(path)
}

fn next_seq(m: &Manifest) -> i64 {
    m.files.iter().map(|f| f.seq).max().unwrap_or(0) + 1
}

// ---------------------------------------------------------------------------------------
// Writing: the turn's group commit and the everysec thread.

/// Registers this core's end-of-turn write (the group commit).
pub fn install(core: &Rc<Core>) {
    let weak = Rc::downgrade(core);
    reactor::before_output(move || match weak.upgrade() {
        Some(core) => {
            crate::feed::publish(&core);
            if core.aof.borrow().is_none() {
                // No AOF: the replication stream took what it needs.
                let mut shard = core.shard.borrow_mut();
                if !shard.journal.is_empty() && !shard.journal.call_open() {
                    shard.journal.clear();
                }
                return false;
            }
            flush_turn(&core, false)
        }
        None => false,
    });
}

/// How long `appendfsync always` may hold a turn's output at most to gather more clients'
/// writes into one fsync (a group commit); the window is also no longer than the shard's
/// recent fsyncs take (on a disk that syncs in microseconds, waiting gains nothing).
const GATHER: Duration = Duration::from_micros(150);

/// Writes what the journal recorded this turn to the shard's increment file. Under
/// `appendfsync always` it fsyncs before the turn's output leaves; returns true to hold the
/// output instead, while clients that were served recently have not all sent their next
/// write yet (for at most `GATHER` after the oldest unsynced write), so that one fsync
/// covers more of them. `force`: write and sync now (a rewrite's switch, a stop).
pub fn flush_turn(core: &Core, force: bool) -> bool {
    let mut w = core.aof.borrow_mut();
    let Some(w) = w.as_mut() else { return false };
    let state = &core.shared.aof;
    let policy = state.fsync.load(Ordering::Relaxed);
    if !write_journal(core, w, policy) {
        return false;
    }
    let skip = state.rewriting.load(Ordering::Relaxed)
        && state.no_fsync_on_rewrite.load(Ordering::Relaxed);
    if policy != FSYNC_ALWAYS || skip {
        // Written under `always` and not synced (the policy changed, or a rewrite runs
        // with no-appendfsync-on-rewrite): the everysec thread takes them.
        if w.unsynced_since.take().is_some() && policy == FSYNC_EVERYSEC {
            state.unsynced[core.id].store(true, Ordering::Release);
        }
        return false;
    }
    let Some(since) = w.unsynced_since else {
        return false;
    };
    let deadline = since + GATHER.min(w.fsync_time);
    if !force
        && std::time::Instant::now() < deadline
        && reactor::held_outputs() * 4 < reactor::active_conns() * 3
    {
        reactor::hold_output_until(deadline);
        return true;
    }
    let started = std::time::Instant::now();
    if let Err(e) = w.file.sync_data() {
        tracing::error!("Can't persist AOF for fsync error when the AOF fsync policy is 'always': {e}. Exiting...");
        std::process::exit(1);
    }
    // A moving average over about 8 fsyncs.
    w.fsync_time = (w.fsync_time * 7 + started.elapsed()) / 8;
    w.unsynced_since = None;
    false
}

/// C's strerror text of an I/O error, as Redis writes it (without Rust's "(os error N)").
pub(crate) fn strerror(e: &std::io::Error) -> String {
    let s = e.to_string();
    match s.find(" (os error") {
        Some(i) => s[..i].to_string(),
        None => s,
    }
}

/// Writes the journal's new bytes (and any a failed write left); false if nothing was
/// written and nothing waits for an fsync.
fn write_journal(core: &Core, w: &mut Writer, policy: u8) -> bool {
    // The replication stream first: the AOF clears the journal once written.
    crate::feed::publish(core);
    let state = &core.shared.aof;
    let mut shard = core.shard.borrow_mut();
    if (shard.journal.is_empty() && w.retry.is_empty()) || shard.journal.call_open() {
        // A busy script stopped in the middle: its effects go out whole, once it ends.
        return w.unsynced_since.is_some();
    }
    let ts = state.timestamps.load(Ordering::Relaxed);
    let mut bytes = std::mem::take(&mut w.retry);
    if ts && !shard.journal.is_empty() {
        let now = engine::shard::unix_ms() / 1000;
        if now > w.last_ts {
            w.last_ts = now;
            bytes.extend_from_slice(format!("#TS:{now}\r\n").as_bytes());
        }
    }
    // The common case writes straight from the journal's buffer; bytes are copied only
    // to be kept after a failed write.
    let (n, written) = if bytes.is_empty() {
        let pending = shard.journal.pending();
        let written = (&*w.file).write_all(pending);
        if written.is_err() {
            bytes = pending.to_vec();
        }
        (pending.len(), written)
    } else {
        bytes.extend_from_slice(shard.journal.pending());
        (bytes.len(), (&*w.file).write_all(&bytes))
    };
    shard.journal.clear();
    drop(shard);
    if let Err(e) = written {
        // Cut what part of it was written, as Redis does, so the file ends with a whole
        // record; everything is written again next turn.
        if let Err(t) = w.file.set_len(w.len) {
            tracing::warn!("Could not remove short write from the append-only file: {t}");
        }
        if policy == FSYNC_ALWAYS {
            tracing::error!("Can't recover from AOF write error when the AOF fsync policy is 'always'. Exiting... ({e})");
            std::process::exit(1);
        }
        if state.last_write_ok.swap(false, Ordering::AcqRel) {
            tracing::warn!("Error writing to the AOF file: {e}");
        }
        if let Ok(mut s) = state.last_write_err.lock() {
            *s = strerror(&e);
        }
        w.retry = bytes;
        return false;
    }
    w.len += n as u64;
    if !state.last_write_ok.swap(true, Ordering::AcqRel) {
        tracing::info!("AOF write error looks solved, Redis can write again.");
    }
    state.sizes[core.id].fetch_add(n as u64, Ordering::Relaxed);
    match policy {
        FSYNC_ALWAYS => {
            w.unsynced_since.get_or_insert_with(std::time::Instant::now);
        }
        FSYNC_NO => {}
        _ => state.unsynced[core.id].store(true, Ordering::Release),
    }
    true
}

/// The everysec fsyncs, for every shard, off the shards' loops (Redis' bio thread).
pub fn start_fsync_thread(shared: Arc<crate::shared::Shared>) {
    let spawned = std::thread::Builder::new()
        .name("aof-fsync".into())
        .spawn(move || loop {
            std::thread::sleep(Duration::from_secs(1));
            let state = &shared.aof;
            if state.fsync.load(Ordering::Relaxed) != FSYNC_EVERYSEC {
                // No background fsync under always or no: nothing of it can be failing.
                state
                    .fsync_failed
                    .iter()
                    .for_each(|f| f.store(false, Ordering::Release));
                state.fsync_ok.store(true, Ordering::Release);
                continue;
            }
            if state.rewriting.load(Ordering::Relaxed)
                && state.no_fsync_on_rewrite.load(Ordering::Relaxed)
            {
                continue;
            }
            for (i, flag) in state.unsynced.iter().enumerate() {
                let failed = &state.fsync_failed[i];
                if !flag.swap(false, Ordering::AcqRel) && !failed.load(Ordering::Acquire) {
                    continue;
                }
                let file = state.files[i].lock().ok().and_then(|f| f.clone());
                let Some(f) = file else {
                    // The AOF was stopped (its last fsync done by the stop).
                    failed.store(false, Ordering::Release);
                    continue;
                };
                match f.sync_data() {
                    Ok(()) => failed.store(false, Ordering::Release),
                    Err(e) => {
                        // Tried again next second; writes are refused meanwhile, as
                        // redis-server does after a failed background fsync.
                        if !failed.swap(true, Ordering::AcqRel) {
                            tracing::warn!(shard = i, "AOF fsync failed: {e}");
                        }
                        if let Ok(mut s) = state.last_write_err.lock() {
                            *s = strerror(&e);
                        }
                    }
                }
            }
            let ok = !state.fsync_failed.iter().any(|f| f.load(Ordering::Acquire));
            if ok && !state.fsync_ok.swap(true, Ordering::AcqRel) {
                tracing::info!("AOF fsync error looks solved.");
            } else if !ok {
                state.fsync_ok.store(false, Ordering::Release);
            }
        });
    if let Err(e) = spawned {
        tracing::warn!("could not start the AOF fsync thread: {e}");
    }
}

/// Makes `file` this shard's increment file and turns its journal on.
fn open_writer(core: &Core, file: File) {
    let len = file.metadata().map_or(0, |m| m.len());
    let file = Arc::new(file);
    if let Ok(mut slot) = core.shared.aof.files[core.id].lock() {
        *slot = Some(file.clone());
    }
    *core.aof.borrow_mut() = Some(Writer {
        file,
        retry: Vec::new(),
        last_ts: 0,
        unsynced_since: None,
        fsync_time: GATHER,
        len,
    });
    core.shard.borrow_mut().journal.set_enabled(true);
}

/// Stops this shard's AOF (CONFIG SET appendonly no): what is recorded is written and
/// fsynced, the file closed, the journal off.
pub struct Stop;

impl crate::ops::Call for Stop {
    type Out = ();
    fn touches(&self) -> crate::ops::Touches<'_> {
        crate::ops::Touches::Everything
    }
    fn run(self, core: &Core) {
        flush_turn(core, true);
        if let Some(w) = core.aof.borrow_mut().take() {
            let _ = w.file.sync_data();
        }
        if let Ok(mut slot) = core.shared.aof.files[core.id].lock() {
            *slot = None;
        }
        let feeding = core.shared.feed.active.load(Ordering::Acquire);
        let mut shard = core.shard.borrow_mut();
        // The replication stream keeps it recording.
        shard.journal.set_enabled(feeding);
        shard.journal.clear();
    }
}

/// A rewrite's point on one shard: the journal so far goes to the old file, the new
/// increment file takes over, and the snapshot for the new base starts. Answers the
/// databases' sizes (as `persist::start_shard`).
pub struct RewriteStart {
    /// None: the AOF is off (BGREWRITEAOF then writes bases only, as redis-server does).
    pub incr: Option<PathBuf>,
    pub sink: crossbeam_channel::Sender<crate::persist::SaveMsg>,
}

impl crate::ops::Call for RewriteStart {
    type Out = Result<Vec<u64>, String>;
    fn touches(&self) -> crate::ops::Touches<'_> {
        crate::ops::Touches::Everything
    }
    fn run(self, core: &Core) -> Result<Vec<u64>, String> {
        let me = core.rc().ok_or("core gone")?;
        // Turned off since the rewrite began (CONFIG SET appendonly no): no new writer.
        let on = core.shared.aof.enabled.load(Ordering::Acquire);
        if let Some(incr) = self.incr.filter(|_| on) {
            flush_turn(core, true);
            // The old file must hold everything before the point: a write or fsync that
            // fails here fails the rewrite, and the old writer keeps its bytes.
            if let Some(w) = core.aof.borrow().as_ref() {
                if !w.retry.is_empty() {
                    return Err("can't write the AOF before the rewrite's point".into());
                }
                w.file.sync_data().map_err(|e| strerror(&e))?;
            }
            let file = open_append(&incr).map_err(|e| e.to_string())?;
            core.shared.aof.sizes[core.id].store(0, Ordering::Relaxed);
            open_writer(core, file);
        }
        Ok(crate::persist::start_shard(&me, self.sink))
    }
}

// ---------------------------------------------------------------------------------------
// Rewrite.

/// BGREWRITEAOF in the background.
pub fn bgrewrite(core: &Rc<Core>) {
    let c = core.clone();
    reactor::spawn_local(async move {
        let _ = rewrite(&c, false).await;
    })
    .detach();
}

/// After loading files of another layout (or none): the rewrite that writes this server's
/// layout; LOADING ends at its point, before which nothing could be written.
pub fn rewrite_at_start(core: &Rc<Core>) {
    let c = core.clone();
    reactor::spawn_local(async move {
        if let Err(e) = rewrite(&c, true).await {
            tracing::error!("Can't create the AOF base files on server start: {e}");
            std::process::exit(1);
        }
        // Clients are served once the files describe the data: a write acknowledged now
        // survives a crash.
        c.shared.persist.loading.store(false, Ordering::Release);
    })
    .detach();
}

/// Rewrites the AOF: a new base per shard from a snapshot at one point on every shard, new
/// increments from that point. Waits for a save in progress (each shard writes one
/// snapshot at a time), and with `wait` for a rewrite in progress too.
pub async fn rewrite(core: &Rc<Core>, wait: bool) -> Result<(), String> {
    let shared = &core.shared;
    let state = &shared.aof;
    let p = &shared.persist;
    loop {
        match p.child.compare_exchange(
            crate::persist::CHILD_NONE,
            crate::persist::CHILD_AOF,
            Ordering::AcqRel,
            Ordering::Relaxed,
        ) {
            Ok(_) => break,
            Err(crate::persist::CHILD_AOF) if !wait => {
                return Err("ERR Background append only file rewriting already in progress".into())
            }
            Err(_) => reactor::sleep(Duration::from_millis(5)).await,
        }
    }
    state.rewriting.store(true, Ordering::Release);
    let started = engine::shard::unix_ms();
    state.rewrite_started_ms.store(started, Ordering::Relaxed);
    let result = rewrite_files(core).await;
    let now = engine::shard::unix_ms();
    state
        .last_rewrite_secs
        .store(((now - started) / 1000) as i64, Ordering::Relaxed);
    match &result {
        Ok(bytes) => {
            state.last_rewrite_ok.store(true, Ordering::Relaxed);
            state.rewrites.fetch_add(1, Ordering::Relaxed);
            state.failures.store(0, Ordering::Relaxed);
            tracing::info!(
                bytes,
                ms = now - started,
                "Background AOF rewrite finished successfully"
            );
        }
        Err(e) => {
            state.last_rewrite_ok.store(false, Ordering::Relaxed);
            state.failures.fetch_add(1, Ordering::Relaxed);
            tracing::warn!("Background AOF rewrite failed: {e}");
        }
    }
    state.rewriting.store(false, Ordering::Release);
    p.child.store(crate::persist::CHILD_NONE, Ordering::Release);
    if p.scheduled.swap(false, Ordering::AcqRel) {
        crate::persist::bgsave(core);
    } else if state.scheduled.swap(false, Ordering::AcqRel) {
        bgrewrite(core);
    }
    result.map(|_| ())
}

async fn rewrite_files(core: &Rc<Core>) -> Result<u64, String> {
    let shared = &core.shared;
    let state = &shared.aof;
    let p = paths(core);
    let n = core.shards();
    std::fs::create_dir_all(&p.dir).map_err(|e| {
        format!(
            "Can't open or create append-only dir {}: {e}",
            p.dir.display()
        )
    })?;
    // 1. New empty increments, listed after the current files: the manifest on disk
    // replays correctly at every moment of the rewrite. When the manifest does not
    // describe this server's data yet, they are listed only with the new bases (step 4),
    // as redis-server's AOF_WAIT_REWRITE.
    let on = state.enabled.load(Ordering::Acquire);
    let current = on && state.current.load(Ordering::Acquire);
    let mut m = state.manifest.lock().map(|m| m.clone()).unwrap_or_default();
    // Never reused, even after a rewrite whose files were not listed (a failed enabling
    // rewrite's increments may still be open for writing).
    let seq = next_seq(&m).max(state.last_seq.load(Ordering::Acquire) + 1);
    state.last_seq.store(seq, Ordering::Release);
    for k in (0..n).filter(|_| on) {
        let name = p.incr(k, seq);
        File::create(p.dir.join(&name)).map_err(|e| e.to_string())?;
        m.files.push(ManifestFile {
            name,
            seq,
            kind: FileType::Incr,
            shard: Some(k),
        });
    }
    if current {
        persist_manifest(&p, &m).map_err(|e| format!("can't persist the AOF manifest: {e}"))?;
        if let Ok(mut cur) = state.manifest.lock() {
            *cur = m.clone();
        }
    }
    // 2. The point: every shard switches to its new increment and starts its snapshot.
    let mut sinks = Vec::with_capacity(n);
    let mut rxs = Vec::with_capacity(n);
    for _ in 0..n {
        let (tx, rx) = crossbeam_channel::bounded(8);
        sinks.push(tx);
        rxs.push(rx);
    }
    let dir = p.dir.clone();
    let incr_paths: Vec<PathBuf> = (0..n).map(|k| dir.join(p.incr(k, seq))).collect();
    let every = crate::txn::Scope::Every { in_read: false };
    let replies = crate::txn::within(core, None, every, async |t| {
        t.ask_all(core, |k| RewriteStart {
            incr: on.then(|| incr_paths[k].clone()),
            sink: sinks[k].clone(),
        })
        .await
    })
    .await;
    drop(sinks);
    let mut heads = Vec::with_capacity(n);
    for r in replies {
        let v = r?;
        let dbs: Vec<(usize, usize)> = v
            .get(1..)
            .unwrap_or_default()
            .chunks(2)
            .map(|c| (c[0] as usize, c.get(1).copied().unwrap_or(0) as usize))
            .collect();
        heads.push(crate::persist::header(&dbs, true));
    }
    // 3. The bases, one writer thread per shard.
    let (checksum, preamble) = shared
        .config
        .read()
        .map(|c| {
            (
                c.get("rdbchecksum").as_deref() != Some("no"),
                c.get("aof-use-rdb-preamble").as_deref() != Some("no"),
            )
        })
        .unwrap_or((true, true));
    let results: Arc<Mutex<Vec<Option<std::io::Result<u64>>>>> =
        Arc::new(Mutex::new((0..n).map(|_| None).collect()));
    for (k, (head, rx)) in heads.into_iter().zip(rxs).enumerate() {
        let base = p.dir.join(p.base(k, seq, preamble));
        let tmp = p
            .dir
            .join(format!("temp-rewriteaof-{}-{k}.aof", std::process::id()));
        let slot = results.clone();
        let spawned = std::thread::Builder::new()
            .name(format!("aof-rewrite-{k}"))
            .spawn(move || {
                let r = if preamble {
                    crate::persist::write_file(&base, &tmp, head, rx, 1, checksum)
                } else {
                    write_commands_file(&base, &tmp, head, rx)
                };
                if let Ok(mut s) = slot.lock() {
                    s[k] = Some(r);
                }
            });
        if let Err(e) = spawned {
            return Err(e.to_string());
        }
    }
    let sizes = loop {
        if let Ok(mut r) = results.lock() {
            if r.iter().all(Option::is_some) {
                break r.iter_mut().map(|x| x.take()).collect::<Vec<_>>();
            }
        }
        reactor::sleep(Duration::from_millis(2)).await;
    };
    let mut total = 0;
    let mut base_sizes = Vec::with_capacity(n);
    for s in sizes.into_iter().flatten() {
        let b = s.map_err(|e| e.to_string())?;
        total += b;
        base_sizes.push(b);
    }
    // 4. The new manifest: the new bases and increments; the rest is history, deleted.
    let mut history = Vec::new();
    m.files.retain(|f| {
        let keep = on && f.seq == seq && f.kind == FileType::Incr && f.shard.is_some();
        if !keep {
            history.push(f.name.clone());
        }
        keep
    });
    for k in 0..n {
        m.files.push(ManifestFile {
            name: p.base(k, seq, preamble),
            seq,
            kind: FileType::Base,
            shard: Some(k),
        });
    }
    persist_manifest(&p, &m).map_err(|e| format!("can't persist the AOF manifest: {e}"))?;
    if let Ok(mut cur) = state.manifest.lock() {
        *cur = m;
    }
    for name in history {
        let _ = std::fs::remove_file(p.dir.join(name));
    }
    state.base_size.store(total, Ordering::Relaxed);
    for (k, b) in base_sizes.into_iter().enumerate() {
        state.sizes[k].fetch_add(b, Ordering::Relaxed);
    }
    if on {
        state.current.store(true, Ordering::Release);
    }
    Ok(total)
}

/// A command-form base (`aof-use-rdb-preamble no`): the shard's snapshot, taken as an RDB
/// stream, written as the commands that rebuild each key (`engine::aof::value_commands`),
/// through `tmp`, fsynced and renamed. Returns the bytes written.
fn write_commands_file(
    path: &Path,
    tmp: &Path,
    head: Vec<u8>,
    rx: crossbeam_channel::Receiver<crate::persist::SaveMsg>,
) -> std::io::Result<u64> {
    use engine::rdb;
    let mut image = head;
    loop {
        match rx.recv() {
            Ok(crate::persist::SaveMsg::Chunk(b)) => image.extend_from_slice(&b),
            Ok(crate::persist::SaveMsg::Done) => break,
            Err(_) => {
                return Err(std::io::Error::other(
                    "a shard stopped before its snapshot ended",
                ))
            }
        }
    }
    image.push(rdb::OP_EOF);
    image.extend_from_slice(&[0; 8]);
    let bad = |e: rdb::LoadError| std::io::Error::other(e.to_string());
    let limits = engine::value::Limits::default();
    let mut file = std::io::BufWriter::with_capacity(1 << 20, File::create(tmp)?);
    let mut out = Vec::with_capacity(1 << 16);
    let mut total = 0u64;
    let mut d = rdb::Decoder::new(&image);
    let written = (|| -> std::io::Result<()> {
        d.header().map_err(bad)?;
        loop {
            match d.item().map_err(bad)? {
                rdb::Item::Eof => break,
                rdb::Item::SelectDb(n) => engine::aof::select_command(&mut out, n),
                rdb::Item::Key(k) => {
                    let v = rdb::Decoder::key_value(&image, &k, &limits).map_err(bad)?;
                    engine::aof::value_commands(&mut out, &k.key, &v, k.expire_at);
                }
                // Redis' rewriteFunctions: a library as the command that loads it.
                rdb::Item::Function(code) => {
                    resp::write_command(&mut out, &[b"FUNCTION", b"LOAD", &code]);
                }
                _ => {}
            }
            if out.len() >= 1 << 16 {
                file.write_all(&out)?;
                total += out.len() as u64;
                out.clear();
            }
        }
        file.write_all(&out)?;
        total += out.len() as u64;
        Ok(())
    })();
    if let Err(e) = written {
        drop(file);
        let _ = std::fs::remove_file(tmp);
        return Err(e);
    }
    let file = file.into_inner().map_err(|e| e.into_error())?;
    crate::persist::install(&file, tmp, path)?;
    Ok(total)
}

/// Core 0's once-a-second check of auto-aof-rewrite-percentage / min-size (serverCron).
pub fn auto_rewrite_due(core: &Core) -> bool {
    let state = &core.shared.aof;
    if !state.enabled.load(Ordering::Relaxed)
        || state.rewriting.load(Ordering::Relaxed)
        || core.shared.persist.child.load(Ordering::Relaxed) != crate::persist::CHILD_NONE
        || core.shared.persist.loading.load(Ordering::Relaxed)
    {
        return false;
    }
    let (pct, min) = core
        .shared
        .config
        .read()
        .map(|c| {
            (
                c.get("auto-aof-rewrite-percentage")
                    .and_then(|v| v.parse::<u64>().ok())
                    .unwrap_or(100),
                c.get("auto-aof-rewrite-min-size")
                    .and_then(|v| v.parse::<u64>().ok())
                    .unwrap_or(64 << 20),
            )
        })
        .unwrap_or((100, 64 << 20));
    let cur = state.current_size();
    let base = state.base_size.load(Ordering::Relaxed).max(1);
    if pct == 0 || cur <= min {
        return false;
    }
    let growth = (cur * 100 / base).saturating_sub(100);
    if growth >= pct {
        tracing::info!("Starting automatic rewriting of AOF on {growth}% growth");
        return true;
    }
    false
}

/// CONFIG SET appendonly: yes starts the AOF with a rewrite (as redis-server's
/// startAppendOnly), no stops every shard's.
/// `outer` and `in_read`: the EXEC it runs in, and whether it was asked from a connection's
/// read (see `txn::within`).
pub async fn set_enabled(
    core: &Rc<Core>,
    on: bool,
    outer: Option<u64>,
    in_read: bool,
) -> Result<(), String> {
    let state = &core.shared.aof;
    if on == state.enabled.load(Ordering::Acquire) {
        return Ok(());
    }
    if on {
        state.enabled.store(true, Ordering::Release);
        let p = paths(core);
        let m = std::fs::read(p.manifest())
            .ok()
            .and_then(|t| Manifest::parse(&t).ok())
            .unwrap_or_default();
        if let Ok(mut cur) = state.manifest.lock() {
            *cur = m;
        }
        state.current.store(false, Ordering::Release);
        // After a save or a rewrite in progress (Redis schedules it the same way).
        let c = core.clone();
        reactor::spawn_local(async move {
            let _ = rewrite(&c, true).await;
        })
        .detach();
        Ok(())
    } else {
        state.enabled.store(false, Ordering::Release);
        state.current.store(false, Ordering::Release);
        crate::txn::within(
            core,
            outer,
            crate::txn::Scope::Every { in_read },
            async |t| t.ask_all(core, |_| Stop).await,
        )
        .await;
        Ok(())
    }
}

// ---------------------------------------------------------------------------------------
// Loading at start.

/// One shard's files in this server's layout.
pub struct ShardFiles {
    /// The base: (name, bytes).
    pub base: Option<(String, Arc<Vec<u8>>)>,
    /// Increments in order: (name, bytes).
    pub incrs: Vec<(String, Arc<Vec<u8>>)>,
}

/// Files in this server's layout, one set per shard, and the multi-shard operations whose
/// pieces are applied (committed, every piece whole).
pub struct Own {
    pub shards: Vec<Option<ShardFiles>>,
    pub apply: Arc<HashSet<u64>>,
}

/// What the AOF gives the shards to load at start.
pub enum Start {
    /// Not enabled: the RDB file, as before.
    Off,
    /// This server's layout: each shard loads its own files.
    Own(Own),
    /// RDB images to load into every shard (another layout replayed, or nothing), then a
    /// rewrite in this server's layout.
    Convert(Vec<Vec<u8>>),
}

fn read_file(dir: &Path, name: &str) -> Result<Vec<u8>, String> {
    std::fs::read(dir.join(name))
        .map_err(|e| format!("Can't open the append-only file {name}: {e}"))
}

/// Reads the AOF at start (before the shards run): the manifest, the files, and what
/// each shard will load. Errors stop the start, with Redis' message.
pub fn prepare(c: &config::Config, shards: usize) -> Result<(Start, Manifest), String> {
    if !c.appendonly() {
        return Ok((Start::Off, Manifest::default()));
    }
    let p = Paths::of(c);
    let m = match std::fs::read(p.manifest()) {
        Ok(text) => Manifest::parse(&text).map_err(str::to_string)?,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            // redis-server before 7.0: one file in `dir`, upgraded as its base.
            let old = Path::new(&c.dir()).join(&p.name);
            if old.is_file() {
                let bytes = std::fs::read(&old).map_err(|e| e.to_string())?;
                tracing::info!(file = %old.display(), "loading an append only file of redis-server before 7.0");
                let image = replay_to_image(c, &[bytes], "old AOF", true, &HashSet::new())?;
                return Ok((Start::Convert(vec![image]), Manifest::default()));
            }
            tracing::info!("no append only file yet: creating the AOF base files");
            return Ok((Start::Convert(Vec::new()), Manifest::default()));
        }
        Err(e) => return Err(format!("Can't open the AOF manifest: {e}")),
    };
    let by_shard = by_keyspace(&m);
    let theirs = by_shard.contains_key(&None);
    let count = by_shard.keys().flatten().map(|k| k + 1).max().unwrap_or(0);
    if theirs || count != shards {
        tracing::info!(
            from = if theirs {
                "redis-server".to_string()
            } else {
                format!("{count} shards")
            },
            to = shards,
            "the append only files are in another layout: replaying them, then rewriting"
        );
        let images = replay_layout(c, &p.dir, &m)?;
        return Ok((Start::Convert(images), m));
    }
    let mut own: Vec<Option<ShardFiles>> = (0..shards).map(|_| None).collect();
    let mut indexes = Vec::new();
    for (k, slot) in own.iter_mut().enumerate() {
        let mut files = ShardFiles {
            base: None,
            incrs: Vec::new(),
        };
        for f in by_shard.get(&Some(k)).into_iter().flatten() {
            let bytes = Arc::new(read_file(&p.dir, &f.name)?);
            match f.kind {
                FileType::Base => files.base = Some((f.name.clone(), bytes)),
                _ => {
                    indexes.push(engine::aof::tx_index(&bytes));
                    files.incrs.push((f.name.clone(), bytes));
                }
            }
        }
        *slot = Some(files);
    }
    let apply = engine::aof::applicable(&indexes);
    let cut: HashSet<u64> = indexes
        .iter()
        .flat_map(|ix| ix.pieces.iter().copied())
        .filter(|id| !apply.contains(id))
        .collect();
    if !cut.is_empty() {
        tracing::warn!(
            operations = cut.len(),
            "multi-shard operations cut short in the AOF (a commit or a piece missing): not applied"
        );
    }
    Ok((
        Start::Own(Own {
            shards: own,
            apply: Arc::new(apply),
        }),
        m,
    ))
}

/// A manifest's live files per keyspace (a shard, or None: redis-server's one keyspace),
/// each keyspace's base first, then its increments in the manifest's order.
fn by_keyspace(m: &Manifest) -> std::collections::BTreeMap<Option<usize>, Vec<&ManifestFile>> {
    let mut out: std::collections::BTreeMap<Option<usize>, Vec<&ManifestFile>> = Default::default();
    for f in m.files.iter().filter(|f| f.kind != FileType::History) {
        out.entry(f.shard).or_default().push(f);
    }
    for files in out.values_mut() {
        files.sort_by_key(|f| f.kind != FileType::Base);
    }
    out
}

/// Replays every keyspace a manifest lists (each shard's files, or redis-server's one
/// keyspace) into scratch shards, in parallel, and returns them as RDB images. A piece of a
/// multi-shard operation is applied only if its commit is in one of the files.
fn replay_layout(c: &config::Config, dir: &Path, m: &Manifest) -> Result<Vec<Vec<u8>>, String> {
    let mut groups: Vec<(String, Vec<Vec<u8>>)> = Vec::new();
    for (k, files) in by_keyspace(m) {
        let mut bytes = Vec::new();
        for f in files {
            bytes.push(read_file(dir, &f.name)?);
        }
        let label = match k {
            Some(s) => format!("shard {s}"),
            None => "redis-server's".into(),
        };
        groups.push((label, bytes));
    }
    let indexes: Vec<_> = groups
        .iter()
        .flat_map(|(_, files)| files.iter().filter(|f| !is_rdb(f)))
        .map(|f| engine::aof::tx_index(f))
        .collect();
    let apply = engine::aof::applicable(&indexes);
    let apply = &apply;
    std::thread::scope(|s| {
        let hs: Vec<_> = groups
            .iter()
            .map(|(label, bytes)| s.spawn(move || replay_to_image(c, bytes, label, false, apply)))
            .collect();
        hs.into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|_| Err("replay thread failed".into()))
            })
            .collect()
    })
}

/// `percore-server --aof-export DIR FILE`: percore's per-shard AOF in `DIR` (an
/// appendonlydir) as one file that redis-server 7.0 loads and redis-check-aof accepts: the
/// shards' bases (one point in time) as one RDB preamble, then their increments merged into
/// one command stream (`engine::aof::merge`: each shard's order kept, each multi-shard
/// operation one MULTI ... EXEC, or left out when a piece or its commit is missing).
/// Returns a summary line.
pub fn export(dir: &Path, out: &Path, databases: usize) -> Result<String, String> {
    let manifests: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| format!("can't read {}: {e}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.extension().is_some_and(|x| x == "manifest")
                && !p
                    .file_name()
                    .is_some_and(|n| n.to_string_lossy().starts_with("temp-"))
        })
        .collect();
    let [manifest] = &manifests[..] else {
        return Err(format!(
            "expected one .manifest file in {}, found {}",
            dir.display(),
            manifests.len()
        ));
    };
    let text = std::fs::read(manifest).map_err(|e| e.to_string())?;
    let m = Manifest::parse(&text).map_err(str::to_string)?;
    let mut all = engine::Shard::new(0, databases);
    all.loading = true;
    let mut functions = Vec::new();
    let mut streams: Vec<Vec<u8>> = Vec::new();
    for files in by_keyspace(&m).values() {
        let mut stream = Vec::new();
        for f in files.iter() {
            let bytes = read_file(dir, &f.name)?;
            if f.kind == FileType::Base && is_rdb(&bytes) {
                let end = load_rdb_into(&mut all, &bytes, &mut functions)?;
                stream.extend_from_slice(&bytes[end..]);
            } else {
                stream.extend_from_slice(&bytes);
            }
        }
        streams.push(stream);
    }
    let indexes: Vec<_> = streams.iter().map(|s| engine::aof::tx_index(s)).collect();
    let apply = engine::aof::applicable(&indexes);
    let refs: Vec<&[u8]> = streams.iter().map(Vec::as_slice).collect();
    let commands = engine::aof::merge(&refs, &apply)?;
    let keys: usize = all.db_info().iter().map(|d| d.keys).sum();
    let codes: Vec<&[u8]> = functions.iter().map(Vec::as_slice).collect();
    let mut bytes = image(&mut all, &codes);
    let base = bytes.len();
    bytes.extend_from_slice(&commands);
    let tmp = out.with_extension("export-tmp");
    std::fs::write(&tmp, &bytes)
        .and_then(|_| std::fs::rename(&tmp, out))
        .map_err(|e| format!("can't write {}: {e}", out.display()))?;
    Ok(format!(
        "exported {} keyspaces to {}: an RDB preamble of {keys} keys ({base} bytes), then {} bytes of commands",
        streams.len(),
        out.display(),
        commands.len()
    ))
}

/// Whether a file starts as an RDB (an RDB preamble base).
fn is_rdb(bytes: &[u8]) -> bool {
    bytes.starts_with(b"REDIS")
}

/// What a stream's end means for the start: a cut at the end of the last file is dropped
/// with a warning when aof-load-truncated allows (and the file is truncated there, as
/// redis-server does); anything else stops the start with Redis' message.
fn check_walk(
    w: &engine::aof::Walk,
    name: &str,
    last: bool,
    allow_truncated: bool,
    path: Option<&Path>,
) -> Result<(), String> {
    match w.stop {
        Some(engine::aof::Read::Bad(_)) => {
            return Err(format!("Bad file format reading the append only file {name}: make a backup of your AOF file, then use ./redis-check-aof --fix <filename.manifest>"));
        }
        None if !w.unfinished => return Ok(()),
        _ => {}
    }
    if !last {
        return Err(format!(
            "Fatal error: the truncated file is not the last file ({name})"
        ));
    }
    if !allow_truncated {
        return Err(format!("Unexpected end of file reading the append only file {name}. You can: 1) Make a backup of your AOF file, then use ./redis-check-aof --fix <filename.manifest>. 2) Alternatively you can set the 'aof-load-truncated' configuration option to yes and restart the server."));
    }
    tracing::warn!("!!! Warning: short read while loading the AOF file {name}!!!");
    if let Some(path) = path {
        match std::fs::OpenOptions::new().write(true).open(path) {
            Ok(f) => {
                if let Err(e) = f.set_len(w.valid as u64).and_then(|_| f.sync_all()) {
                    return Err(format!("Error truncating the AOF file {name}: {e}"));
                }
                tracing::warn!(
                    "AOF {name} loaded anyway because aof-load-truncated is enabled (cut to {} bytes)",
                    w.valid
                );
            }
            Err(e) => return Err(format!("Error truncating the AOF file {name}: {e}")),
        }
    }
    Ok(())
}

/// Replays one keyspace's files (a base, RDB or commands, then increments) into a scratch
/// shard and returns it as an RDB image for every shard to load its slots from.
fn replay_to_image(
    c: &config::Config,
    files: &[Vec<u8>],
    label: &str,
    single: bool,
    apply: &HashSet<u64>,
) -> Result<Vec<u8>, String> {
    let mut shard = engine::Shard::new(0, c.databases());
    shard.loading = true;
    let allow = c.get("aof-load-truncated").as_deref() != Some("no");
    let mut db = 0usize;
    // The keyspace's function libraries, as its files leave them.
    let libs = script::functions::Libraries::default();
    for (i, bytes) in files.iter().enumerate() {
        let last = i + 1 == files.len();
        let name = format!("{label} file {}", i + 1);
        let mut stream = &bytes[..];
        if is_rdb(bytes) {
            let mut codes = Vec::new();
            let end =
                load_rdb_into(&mut shard, bytes, &mut codes).map_err(|e| format!("{name}: {e}"))?;
            crate::functions::load_from_file(&libs, &codes).map_err(|e| format!("{name}: {e}"))?;
            stream = &bytes[end..];
        }
        let skip = |id| !apply.contains(&id);
        let w = engine::aof::replay(&mut shard, &mut db, stream, &skip)?;
        replay_functions(&libs, &w.side);
        // redis-server before 7.0: the file itself is cut when its tail is dropped.
        check_walk(&w, &name, last || single, allow, None)?;
    }
    let (_, libs) = libs.snapshot();
    let codes: Vec<&[u8]> = libs.iter().map(|l| &l.code[..]).collect();
    Ok(image(&mut shard, &codes))
}

/// The FUNCTION commands a replay met, applied to `libs` in order; one that fails is
/// skipped with a warning (as redis-server goes on past a command's error reply).
fn replay_functions(libs: &script::functions::Libraries, side: &[Vec<Vec<u8>>]) {
    for argv in side {
        if let Err(e) = crate::functions::replay(libs, argv) {
            tracing::warn!("a FUNCTION command of the append only file failed: {e}");
        }
    }
}

/// Loads an RDB (an AOF base) into a scratch shard, its function libraries' code into
/// `functions`; returns where it ended (commands may follow an RDB preamble).
fn load_rdb_into(
    shard: &mut engine::Shard,
    bytes: &[u8],
    functions: &mut Vec<Vec<u8>>,
) -> Result<usize, String> {
    use engine::rdb;
    let limits = shard.limits;
    let mut d = rdb::Decoder::new(bytes);
    d.header().map_err(|e| e.to_string())?;
    let mut db = 0;
    loop {
        match d.item().map_err(|e| e.to_string())? {
            rdb::Item::Eof => break,
            rdb::Item::SelectDb(n) => db = n.min(shard.databases() - 1),
            rdb::Item::Key(k) => {
                let v = rdb::Decoder::key_value(bytes, &k, &limits).map_err(|e| e.to_string())?;
                shard.store(db, &k.key, v, k.expire_at);
            }
            rdb::Item::Function(code) => functions.push(code),
            _ => {}
        }
    }
    // The 8-byte checksum after EOF.
    Ok((d.pos + 8).min(bytes.len()))
}

/// A scratch shard and function libraries as an RDB image.
fn image(shard: &mut engine::Shard, functions: &[&[u8]]) -> Vec<u8> {
    let sizes = shard.snapshot_begin(engine::rdb::SaveOpts::default());
    let mut out = crate::persist::header(&sizes, false);
    out.extend_from_slice(&engine::rdb::function_records(functions));
    loop {
        let (bytes, done) = shard.snapshot_step(1 << 20);
        out.extend_from_slice(&bytes);
        if done {
            break;
        }
    }
    out.push(engine::rdb::OP_EOF);
    let crc = engine::rdb::crc64(0, &out);
    out.extend_from_slice(&crc.to_le_bytes());
    out
}

/// One shard's load at start from its own files: the base, then the increments; then its
/// last increment is opened for appending and its journal turned on.
pub async fn load_own(core: Rc<Core>, files: ShardFiles, apply: Arc<HashSet<u64>>) {
    let started = std::time::Instant::now();
    let dirty_before = core.shard.borrow().stats.dirty;
    let p = paths(&core);
    let allow = core
        .shared
        .config
        .read()
        .map(|c| c.get("aof-load-truncated").as_deref() != Some("no"))
        .unwrap_or(true);
    let fail = |e: String| -> ! {
        tracing::error!("{e}");
        std::process::exit(1);
    };
    let mut db = 0usize;
    let mut size = 0u64;
    // Nothing expires while the files replay (the files' own DELs do it), as in Redis.
    core.shard.borrow_mut().loading = true;
    if let Some((name, bytes)) = &files.base {
        size += bytes.len() as u64;
        if is_rdb(bytes) {
            crate::persist::load_rdb(&core, bytes, true).await;
        } else {
            let w = {
                let mut shard = core.shard.borrow_mut();
                engine::aof::replay(&mut shard, &mut db, bytes, &|_| false)
            }
            .unwrap_or_else(|e| fail(e));
            replay_functions(&core.shared.functions, &w.side);
            check_walk(&w, name, false, allow, None).unwrap_or_else(|e| fail(e));
        }
        core.shared
            .aof
            .base_size
            .fetch_add(bytes.len() as u64, Ordering::Relaxed);
    }
    let mut commands = 0;
    let n = files.incrs.len();
    for (i, (name, bytes)) in files.incrs.iter().enumerate() {
        // In slices between which the core serves (-LOADING to clients), as redis-server
        // processes events every 1024 commands while it loads.
        let mut w = engine::aof::Walk::default();
        loop {
            let part = {
                let mut shard = core.shard.borrow_mut();
                let skip = |id| !apply.contains(&id);
                engine::aof::replay_from(&mut shard, &mut db, bytes, w.valid, 4096, &skip)
            }
            .unwrap_or_else(|e| fail(e));
            replay_functions(&core.shared.functions, &part.side);
            commands += part.units;
            w = part;
            if !w.more {
                break;
            }
            reactor::yield_now().await;
        }
        let path = p.dir.join(name);
        check_walk(&w, name, i + 1 == n, allow, Some(&path)).unwrap_or_else(|e| fail(e));
        size += if w.stop.is_some() || w.unfinished {
            w.valid as u64
        } else {
            bytes.len() as u64
        };
        reactor::yield_now().await;
    }
    {
        let mut shard = core.shard.borrow_mut();
        shard.loading = false;
        shard.take_events();
        shard.stats.dirty = dirty_before;
    }
    core.shared.aof.sizes[core.id].store(size, Ordering::Relaxed);
    tracing::info!(
        shard = core.id,
        units = commands,
        secs = started.elapsed().as_secs_f64(),
        "DB loaded from append only file"
    );
    // (Turned off meanwhile with CONFIG SET appendonly no: the files stay as they are.)
    let on = core.shared.aof.enabled.load(Ordering::Acquire);
    match files.incrs.last() {
        Some(_) if !on => {}
        Some((name, _)) => match open_append(&p.dir.join(name)) {
            Ok(f) => open_writer(&core, f),
            Err(e) => fail(format!("Can't open the append-only file {name}: {e}")),
        },
        None => fail("the AOF manifest lists no increment file for this shard".into()),
    }
    crate::persist::loaded(&core);
}

/// INFO persistence's AOF lines.
pub fn info(shared: &crate::shared::Shared, s: &mut String) {
    use std::fmt::Write as _;
    let st = &shared.aof;
    let rewriting = st.rewriting.load(Ordering::Relaxed);
    let current = if rewriting {
        ((engine::shard::unix_ms() - st.rewrite_started_ms.load(Ordering::Relaxed)) / 1000) as i64
    } else {
        -1
    };
    let enabled = st.enabled.load(Ordering::Relaxed);
    let _ = write!(
        s,
        "aof_enabled:{}\r\naof_rewrite_in_progress:{}\r\naof_rewrite_scheduled:{}\r\naof_last_rewrite_time_sec:{}\r\naof_current_rewrite_time_sec:{}\r\naof_last_bgrewrite_status:{}\r\naof_rewrites:{}\r\naof_rewrites_consecutive_failures:{}\r\naof_last_write_status:{}\r\naof_last_cow_size:0\r\nmodule_fork_in_progress:0\r\nmodule_fork_last_cow_size:0\r\n",
        u8::from(enabled),
        u8::from(rewriting),
        u8::from(st.scheduled.load(Ordering::Relaxed)),
        st.last_rewrite_secs.load(Ordering::Relaxed),
        current,
        if st.last_rewrite_ok.load(Ordering::Relaxed) { "ok" } else { "err" },
        st.rewrites.load(Ordering::Relaxed),
        st.failures.load(Ordering::Relaxed),
        if st.last_write_ok.load(Ordering::Relaxed) && st.fsync_ok.load(Ordering::Relaxed) {
            "ok"
        } else {
            "err"
        },
    );
    if enabled {
        let pending = st
            .unsynced
            .iter()
            .filter(|u| u.load(Ordering::Relaxed))
            .count();
        let _ = write!(
            s,
            "aof_current_size:{}\r\naof_base_size:{}\r\naof_pending_rewrite:{}\r\naof_buffer_length:0\r\naof_pending_bio_fsync:{}\r\naof_delayed_fsync:{}\r\n",
            st.current_size(),
            st.base_size.load(Ordering::Relaxed),
            u8::from(st.scheduled.load(Ordering::Relaxed)),
            pending,
            st.delayed_fsync.load(Ordering::Relaxed),
        );
    }
}
