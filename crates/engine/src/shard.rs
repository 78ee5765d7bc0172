//! A shard: the keyspaces (one per database) of the slots one core owns. Pure: it reads no
//! socket, spawns nothing and takes the time from its caller, so tests and benches drive it
//! directly and any runtime can host it.

use crate::args::Args;
use crate::dict::Rng;
use crate::error::Error;
use crate::keyspace::Keyspace;
use crate::notify::{self, Event};
use crate::table::{CommandSpec, Handler};
use crate::value::{Entry, Value};
use resp::{Proto, Writer};
use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

#[derive(Default)]
pub struct Db {
    pub dict: Keyspace<Entry>,
    /// Keys with an expiry: INFO keyspace reports it and active expiry skips dbs without any.
    pub expires: usize,
    /// Where the active expiry cycle resumes its walk of `dict`.
    expire_cursor: u64,
    /// Where volatile-* eviction resumes its search for keys with an expiry.
    evict_cursor: u64,
}

#[derive(Clone, Debug, Default)]
pub struct Stats {
    pub keyspace_hits: u64,
    pub keyspace_misses: u64,
    pub expired_keys: u64,
    /// Keys deleted by eviction (INFO's evicted_keys).
    pub evicted_keys: u64,
    /// Writes since start (Redis' "dirty"): changes that a snapshot would have to cover.
    pub dirty: u64,
}

pub struct Shard {
    pub id: usize,
    /// slowlog-log-slower-than in microseconds (negative: nothing is timed), and the slow
    /// commands run since the runtime last took them (`take_slow`).
    pub slow_threshold: i64,
    slow: Vec<crate::slowlog::Record>,
    /// Per-command and per-error counters of the commands run here (INFO commandstats,
    /// errorstats, latencystats); histograms only while latency-tracking is on.
    pub cmdstats: crate::cmdstats::CommandStats,
    pub latency_tracking: bool,
    /// latency-monitor-threshold in milliseconds (0: off), and the spikes seen here.
    pub latency_threshold_ms: u64,
    pub latency: crate::cmdstats::Monitor,
    /// The command about to run is a piece of one split over shards: the runtime counts
    /// it whole.
    pub uncounted: bool,
    /// Client-side caching: who read which keys, and the broadcast prefixes.
    pub tracking: crate::tracking::Table,
    /// The client whose command is running (0: none), for tracking's NOLOOP.
    pub client: u64,
    /// The running command's client tracks the keys it reads (set per command).
    pub reader: Option<crate::tracking::Reader>,
    dbs: Vec<Db>,
    now_ms: u64,
    /// Replaying an AOF or a replication stream: nothing expires (lazily, actively, or as
    /// an expire time already past), as redis-server's checkAlreadyExpired and
    /// expireIfNeeded behave while loading; the stream's own DELs do the expiring.
    pub loading: bool,
    /// The server is a replica: keys are not deleted for their expiry here (the master's
    /// DELs delete them); reads of a key past its expiry find nothing, but for the master's
    /// own commands (`obey`), which see every key as the master did.
    pub replica: bool,
    /// The command running is the master's (on a replica).
    pub obey: bool,
    pub rng: Rng,
    pub stats: Stats,
    /// maxmemory-policy and its parameters, from the config: what an access does to an
    /// entry's clock, and what `evict` chooses.
    pub eviction: crate::evict::Settings,
    evict_pool: crate::evict::Pool,
    /// The database random eviction looks at next (Redis' static next_db).
    evict_next_db: usize,
    /// The compact encodings' size limits, from the config.
    pub limits: crate::value::Limits,
    /// How values are written for DUMP and snapshots (rdbcompression, ...), from the config.
    pub save_opts: crate::rdb::SaveOpts,
    /// WATCHed keys per database (by index, so SWAPDB does not move them): how many watches
    /// each has and its version, which moves whenever the key is modified.
    watched: Vec<HashMap<Vec<u8>, Watch>>,
    watched_keys: usize,
    watch_clock: u64,
    /// Clients blocked on keys (BLPOP and friends): waiter ids per key, first blocked
    /// first. What an id stands for is the runtime's business.
    blocked: Vec<HashMap<Vec<u8>, VecDeque<u64>>>,
    blocked_keys: usize,
    /// Keys with waiters that were given a list or sorted set since the runtime last
    /// looked (Redis' signalKeyAsReady): it serves their waiters after the command.
    ready: Vec<(usize, Vec<u8>)>,
    /// The keyspace-event classes to record (`notify::recorded`; 0, the default, records
    /// nothing and costs one branch per event site) and the events recorded since the
    /// runtime last took them.
    pub notify_classes: u32,
    events: Vec<Event>,
    /// The epoch of the latest snapshot (entries created now carry it) and the snapshot in
    /// progress, if any (see `snapshot`).
    snap_epoch: u32,
    snapshot: Option<Box<crate::snapshot::Snapshot>>,
    /// The effects of writes, for the AOF and replicas (`journal`); off unless the
    /// runtime reads it.
    pub journal: crate::journal::Journal,
    /// What the running command asked to be recorded instead of itself.
    propagate: crate::journal::Propagate,
}

#[derive(Clone, Copy)]
struct Watch {
    refs: u32,
    version: u64,
}

/// Per-command context handed to handlers.
pub struct Ctx<'a, 'b> {
    pub shard: &'a mut Shard,
    pub db: usize,
    pub out: Writer<'b>,
    pub name: &'static str,
}

impl Ctx<'_, '_> {
    /// Records keyspace event `name` for `key` in the command's database.
    #[inline]
    pub fn notify(&mut self, class: u32, name: &'static str, key: &[u8]) {
        self.shard.notify(class, name, self.db, key);
    }
}

/// Redis' keyIsExpired: a key is logically expired only once the clock has passed its expire
/// time (`now > when`); during the millisecond it names it is still alive. (Commands that set
/// a time, EXPIRE and GETEX, delete at `when <= now` themselves, as checkAlreadyExpired does.)
fn expired(e: &Entry, now_ms: u64) -> bool {
    e.expire_at != 0 && e.expire_at < now_ms
}

pub fn unix_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// Keyspace sizes of one database, for INFO keyspace.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DbInfo {
    pub keys: usize,
    pub expires: usize,
    pub ttl_sum_ms: u64,
}

impl Shard {
    /// Whether commands ran slow since `take_slow`.
    pub fn has_slow(&self) -> bool {
        !self.slow.is_empty()
    }

    /// The slow commands recorded since the last call.
    pub fn take_slow(&mut self) -> Vec<crate::slowlog::Record> {
        std::mem::take(&mut self.slow)
    }

    /// Puts back what `take_slow` took (dropping what was recorded since).
    pub fn restore_slow(&mut self, slow: Vec<crate::slowlog::Record>) {
        self.slow = slow;
    }

    pub fn new(id: usize, databases: usize) -> Shard {
        Shard {
            id,
            slow_threshold: 10_000,
            slow: Vec::new(),
            cmdstats: Default::default(),
            latency_tracking: true,
            latency_threshold_ms: 0,
            latency: Default::default(),
            uncounted: false,
            tracking: Default::default(),
            client: 0,
            reader: None,
            dbs: (0..databases.max(1)).map(|_| Db::default()).collect(),
            now_ms: unix_ms(),
            loading: false,
            replica: false,
            obey: false,
            rng: Rng::new(0x9E37_79B9_7F4A_7C15 ^ ((id as u64 + 1) << 17) ^ unix_ms()),
            stats: Stats::default(),
            eviction: Default::default(),
            evict_pool: Default::default(),
            evict_next_db: 0,
            limits: Default::default(),
            save_opts: Default::default(),
            watched: (0..databases.max(1)).map(|_| HashMap::new()).collect(),
            watched_keys: 0,
            watch_clock: 0,
            blocked: (0..databases.max(1)).map(|_| HashMap::new()).collect(),
            blocked_keys: 0,
            ready: Vec::new(),
            notify_classes: 0,
            events: Vec::new(),
            snap_epoch: 0,
            snapshot: None,
            journal: Default::default(),
            propagate: Default::default(),
        }
    }

    /// WATCH: registers one more watch of `key` and returns its version.
    pub fn watch(&mut self, db: usize, key: &[u8]) -> u64 {
        let map = &mut self.watched[db];
        if !map.contains_key(key) {
            self.watched_keys += 1;
        }
        let w = map.entry(key.to_vec()).or_insert(Watch {
            refs: 0,
            version: 0,
        });
        w.refs += 1;
        w.version
    }

    /// Drops one watch of `key` (UNWATCH, EXEC, DISCARD, disconnect).
    pub fn unwatch(&mut self, db: usize, key: &[u8]) {
        let map = &mut self.watched[db];
        if let Some(w) = map.get_mut(key) {
            w.refs -= 1;
            if w.refs == 0 {
                map.remove(key);
                self.watched_keys -= 1;
            }
        }
    }

    /// Whether `key` is still stored but logically expired (Redis' keyIsExpired): WATCH
    /// treats a key that expired since it was watched as modified.
    pub fn is_expired(&self, db: usize, key: &[u8]) -> bool {
        self.dbs[db]
            .dict
            .get(key)
            .is_some_and(|e| expired(e, self.expiry_now()))
    }

    /// The version of a watched key (None if nobody watches it).
    pub fn watch_version(&self, db: usize, key: &[u8]) -> Option<u64> {
        self.watched.get(db)?.get(key).map(|w| w.version)
    }

    /// Redis' signalModifiedKey: a modification of `key` makes its watchers' EXEC fail and
    /// invalidates it for the clients that cache it.
    #[inline]
    fn touch(&mut self, db: usize, key: &[u8]) {
        self.tracking.invalidate(key, self.client);
        self.touch_watched(db, key);
    }

    /// Redis' touchWatchedKey.
    #[inline]
    fn touch_watched(&mut self, db: usize, key: &[u8]) {
        if self.watched_keys == 0 {
            return;
        }
        if let Some(w) = self.watched[db].get_mut(key) {
            self.watch_clock += 1;
            w.version = self.watch_clock;
        }
    }

    /// Touches the watched keys of `db` for which `pred` holds.
    fn touch_where(&mut self, db: usize, pred: impl Fn(&Shard, &[u8]) -> bool) {
        if self.watched_keys == 0 {
            return;
        }
        let keys: Vec<Vec<u8>> = self.watched[db]
            .keys()
            .filter(|k| pred(self, k))
            .cloned()
            .collect();
        for k in keys {
            self.touch_watched(db, &k);
        }
    }

    pub fn databases(&self) -> usize {
        self.dbs.len()
    }

    /// The runtime sets the clock once per batch, as Redis caches mstime per command: every
    /// key in one command sees the same instant.
    pub fn set_time(&mut self, now_ms: u64) {
        self.now_ms = now_ms;
    }

    pub fn now_ms(&self) -> u64 {
        self.now_ms
    }

    /// The clock expiry is checked against: none while loading (see `loading`).
    #[inline]
    fn expiry_now(&self) -> u64 {
        if self.loading || (self.replica && self.obey) {
            0
        } else {
            self.now_ms
        }
    }

    /// Whether an absolute expire time set now has passed already (the key is deleted
    /// instead): never while loading.
    pub fn already_expired(&self, at_ms: i64) -> bool {
        !self.loading && !self.replica && at_ms <= self.now_ms as i64
    }

    fn lru_clock(&self) -> u32 {
        (self.now_ms / 1000) as u32
    }

    /// What an access does to an entry's clock now (the LFU draw taken only under LFU).
    #[inline]
    fn toucher(&mut self) -> crate::evict::Touch {
        let lfu = self.eviction.policy.lfu();
        crate::evict::Touch {
            lfu,
            now_s: self.lru_clock(),
            // Only LFU reads the minutes: no division on an LRU lookup.
            now_min: if lfu {
                crate::evict::lfu_minutes(self.now_ms)
            } else {
                0
            },
            log_factor: self.eviction.lfu_log_factor,
            decay_time: self.eviction.lfu_decay_time,
            r: if lfu { self.rng.unit() } else { 0.0 },
        }
    }

    /// An LFU policy is in force (OBJECT FREQ answers, OBJECT IDLETIME refuses).
    pub fn lfu_policy(&self) -> bool {
        self.eviction.policy.lfu()
    }

    /// OBJECT FREQ: the entry's counter after decay (LFUDecrAndReturn).
    pub fn lfu_freq(&self, e: &Entry) -> u8 {
        crate::evict::lfu_counter(
            e.lru,
            crate::evict::lfu_minutes(self.now_ms),
            self.eviction.lfu_decay_time,
        )
    }

    /// Sets a stored entry's clock from a saved idle time or frequency, whichever the policy
    /// uses (Redis' objectSetLRUOrLFU, for RESTORE and loading).
    pub fn set_lru_or_lfu(&mut self, db: usize, key: &[u8], idle: Option<u64>, freq: Option<u8>) {
        let lfu = self.eviction.policy.lfu();
        let (now_s, now_min) = (self.lru_clock(), crate::evict::lfu_minutes(self.now_ms));
        let Some(e) = self.dbs[db].dict.get_mut(key) else {
            return;
        };
        match (lfu, idle, freq) {
            (true, _, Some(f)) => e.lru = crate::evict::lfu_pack(now_min, f),
            (false, Some(i), _) => e.lru = crate::evict::lru_from_idle(i, now_s),
            _ => {}
        }
    }

    /// Runs one command whose keys all belong to this shard, writing its reply (or its error)
    /// to `out`.
    pub fn execute(
        &mut self,
        spec: &'static CommandSpec,
        handler: Handler,
        db: usize,
        args: Args,
        out: &mut Vec<u8>,
        proto: Proto,
    ) {
        let started = self.slow_clock();
        self.execute_since(spec, handler, db, args, out, proto, started);
    }

    /// When a command starts (every command is timed, for INFO commandstats).
    pub fn slow_clock(&self) -> Option<std::time::Instant> {
        Some(std::time::Instant::now())
    }

    /// Counts a command that ran for `micros` and answered `reply` (INFO commandstats,
    /// latencystats, errorstats) and records it in the latency monitor if it was slow
    /// enough: what `execute` does for the commands it runs, and the runtime for those it
    /// runs itself.
    pub fn count_call(&mut self, spec: &CommandSpec, args: Args, micros: u64, reply: &[u8]) {
        let slot = crate::cmdstats::stat_index(spec, args);
        let track = self.latency_tracking;
        self.cmdstats.call(slot, micros, track, reply);
        if self.latency_threshold_ms > 0 && micros / 1000 >= self.latency_threshold_ms {
            let event = if spec.flags.has(crate::table::Flags::FAST) {
                "fast-command"
            } else {
                "command"
            };
            self.latency.add(event, self.now_ms / 1000, micros / 1000);
        }
    }

    /// `execute`, its duration counted from `started` (for a batch, the previous command's
    /// end: one clock read per command); returns when it ended, to start the next.
    #[allow(clippy::too_many_arguments)] // `execute`'s, and the clock
    pub fn execute_since(
        &mut self,
        spec: &'static CommandSpec,
        handler: Handler,
        db: usize,
        args: Args,
        out: &mut Vec<u8>,
        proto: Proto,
        started: Option<std::time::Instant>,
    ) -> Option<std::time::Instant> {
        let mark = out.len();
        let dirty = self.stats.dirty;
        self.journal.begin_call();
        // A bug in one command must not take the core (and every client on it) down: a
        // panic becomes an error reply. Free when nothing panics.
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            let mut ctx = Ctx {
                shard: &mut *self,
                db,
                out: Writer::new(&mut *out, proto),
                name: spec.name,
            };
            handler(&mut ctx, args)
        }));
        match result {
            Ok(Ok(())) => {}
            Ok(Err(e)) => Writer::new(out, proto).error(&e.message()),
            Err(_) => {
                out.truncate(mark);
                Writer::new(out, proto).error(&format!("ERR internal error in '{}'", spec.name));
            }
        }
        if let Some(reader) = self.reader {
            // Redis remembers the keys of a read-only command once it ran, whatever it
            // answered (an error included).
            if spec.flags.has(crate::table::Flags::READONLY)
                && !spec.flags.has(crate::table::Flags::PUBSUB)
            {
                for p in spec.key_positions(&args) {
                    if p < args.len() {
                        self.tracking.remember(args.get(p), reader);
                    }
                }
            }
        }
        let ended = started.map(|t| (t, std::time::Instant::now()));
        if let Some((t, now)) = ended {
            let micros = now.duration_since(t).as_micros() as u64;
            if !self.uncounted {
                self.count_call(spec, args, micros, &out[mark.min(out.len())..]);
            }
            if self.slow_threshold >= 0
                && micros as i64 >= self.slow_threshold
                && !spec.flags.has(crate::table::Flags::SKIP_SLOWLOG)
            {
                self.slow.push(crate::slowlog::Record {
                    time: self.now_ms / 1000,
                    micros,
                    argv: crate::slowlog::trimmed(args),
                });
            }
        }
        let wrote = self.stats.dirty != dirty;
        match std::mem::take(&mut self.propagate) {
            crate::journal::Propagate::Instead(cmds) if wrote => {
                for c in &cmds {
                    self.journal.record(db, c.iter().map(Vec::as_slice));
                }
            }
            // A read that changed its key (PFCOUNT's cache) is propagated too, as Redis'
            // may_replicate commands are.
            crate::journal::Propagate::AsSent
                if wrote
                    && (spec.is_write() || spec.flags.has(crate::table::Flags::MAY_REPLICATE)) =>
            {
                self.journal.record(db, args.iter());
            }
            crate::journal::Propagate::Instead(_) | crate::journal::Propagate::AsSent => {}
        }
        self.journal.end_call();
        ended.map(|(_, now)| now)
    }

    /// Records `cmds` instead of the running command if it changed the dataset (Redis'
    /// rewriteClientCommandVector and alsoPropagate; an empty list:
    /// preventCommandPropagation). `cmds` is only called while recording.
    pub fn propagate_instead(&mut self, cmds: impl FnOnce() -> Vec<Vec<Vec<u8>>>) {
        if self.journal.enabled() {
            self.propagate = crate::journal::Propagate::Instead(cmds());
        }
    }

    /// Records a value written by the runtime (a cross-shard move, a gathered command's
    /// write-back, SORT's store) as the command that recreates it exactly:
    /// `RESTORE key <expire ms or 0> <payload> REPLACE ABSTTL`.
    pub fn record_put(&mut self, db: usize, key: &[u8], e: &Entry) {
        if !self.journal.enabled() {
            return;
        }
        let payload = crate::rdb::dump(&e.value, self.save_opts);
        let mut at = crate::value::IntBuf::default();
        let at = at.format(e.expire_at as i64);
        let argv = [&b"RESTORE"[..], key, at, &payload, b"REPLACE", b"ABSTTL"];
        self.journal.record(db, argv);
    }

    /// Records that `key` of `db` was deleted because it expired (DEL, as redis-server
    /// propagates an expired key with lazyfree-lazy-expire no).
    fn record_expired(&mut self, db: usize, key: &[u8]) {
        self.journal.record(db, [&b"DEL"[..], key]);
    }

    /// A value was changed in place (INCR, APPEND, SETRANGE, ...): counts the write and
    /// touches the key for WATCH, as `store` and `remove` do.
    pub fn modified(&mut self, db: usize, key: &[u8]) {
        self.stats.dirty += 1;
        self.touch(db, key);
    }

    /// Records keyspace event `name` for `key` if its class is enabled (Redis'
    /// notifyKeyspaceEvent; the runtime publishes what `take_events` returns).
    #[inline]
    pub fn notify(&mut self, class: u32, name: &'static str, db: usize, key: &[u8]) {
        notify::record(&mut self.events, self.notify_classes, class, name, db, key);
    }

    pub fn has_events(&self) -> bool {
        !self.events.is_empty()
    }

    /// How many events are waiting (a mark for `discard_events_since`).
    pub fn event_mark(&self) -> usize {
        self.events.len()
    }

    /// Drops the events recorded since `mark` except "expired" ones: for work whose events
    /// its caller raises itself (or that is no command at all).
    pub fn discard_events_since(&mut self, mark: usize) {
        let tail = self.events.split_off(mark.min(self.events.len()));
        self.events
            .extend(tail.into_iter().filter(|e| e.name == "expired"));
    }

    /// The events recorded since the last call, oldest first.
    pub fn take_events(&mut self) -> Vec<Event> {
        std::mem::take(&mut self.events)
    }

    /// Runs a command given as words, with the same checks the runtime makes (unknown
    /// command, arity). For tests, benches and tools; the runtime dispatches itself. Runtime
    /// commands (PING, KEYS, ...) are answered with an error here.
    pub fn run(&mut self, db: usize, argv: &[&[u8]], proto: Proto) -> Vec<u8> {
        let owned = crate::args::OwnedArgs::from_words(argv);
        let args = owned.args();
        let mut out = Vec::new();
        let spec = argv.first().and_then(|n| crate::table::lookup(n));
        let handler = spec.and_then(|s| s.handler());
        match (spec, handler) {
            (Some(spec), Some(h)) if spec.arity_ok(argv.len()) => {
                self.execute(spec, h, db, args, &mut out, proto)
            }
            (Some(spec), Some(_)) => {
                Writer::new(&mut out, proto).error(&Error::Arity(spec.name.into()).message())
            }
            _ => Writer::new(&mut out, proto).error("ERR unknown command"),
        }
        out
    }

    pub fn db(&self, db: usize) -> &Db {
        &self.dbs[db]
    }

    /// Warms the cache for the lookups a pipeline is about to make (at most 64 keys): all
    /// bucket slots first, then all first nodes, so the misses overlap. With 16 pipelined GETs
    /// of random keys the lookups otherwise wait on two misses each, one after another.
    pub fn prefetch(&self, db: usize, keys: &[&[u8]]) {
        let Some(d) = self.dbs.get(db) else { return };
        let mut hashes = [0u64; 64];
        let n = keys.len().min(hashes.len());
        for (h, k) in hashes.iter_mut().zip(&keys[..n]) {
            *h = crate::dict::hash_key(k);
            d.dict.prefetch_bucket(k, *h);
        }
        for (&h, k) in hashes[..n].iter().zip(keys) {
            d.dict.prefetch_node(k, h);
        }
    }

    /// Deletes `key` if it has expired. Only checks when the db has volatile keys, so the
    /// common path costs no extra lookup. True when the key has expired but stays (a read
    /// on a replica): the caller finds nothing.
    fn expire_if_needed(&mut self, db: usize, key: &[u8], write: bool) -> bool {
        let now = self.expiry_now();
        let d = &mut self.dbs[db];
        if d.expires > 0 && d.dict.get(key).is_some_and(|e| expired(e, now)) {
            if self.replica && !write {
                // A replica keeps it for the master's DEL; the reader finds nothing (Redis'
                // expireIfNeeded on a replica).
                return true;
            }
            self.save_before_write(db, key);
            let d = &mut self.dbs[db];
            d.dict.remove(key);
            d.expires -= 1;
            // No change to count for save points: redis-server's expiry leaves dirty alone.
            self.stats.expired_keys += 1;
            self.record_expired(db, key);
            self.touch(db, key);
            self.notify(notify::EXPIRED, "expired", db, key);
        }
        false
    }

    /// Looks a key up for writing: expired keys are gone, the access clock is touched.
    pub fn lookup(&mut self, db: usize, key: &[u8]) -> Option<&mut Entry> {
        self.expire_if_needed(db, key, true);
        self.save_before_write(db, key);
        let t = self.toucher();
        let e = self.dbs[db].dict.get_mut(key)?;
        t.apply(e);
        Some(e)
    }

    /// Looks a key up for writing, storing `make()` under it first when it is absent: one
    /// expiry check and one access-clock touch for a command that creates what it writes.
    pub fn lookup_or_store(
        &mut self,
        db: usize,
        key: &[u8],
        make: impl FnOnce() -> Value,
    ) -> Option<&mut Entry> {
        self.expire_if_needed(db, key, true);
        if !self.dbs[db].dict.contains_key(key) {
            self.store(db, key, make(), 0);
        } else {
            self.save_before_write(db, key);
        }
        let t = self.toucher();
        let e = self.dbs[db].dict.get_mut(key)?;
        t.apply(e);
        Some(e)
    }

    /// Looks a key up for reading, counting keyspace hits and misses as Redis does.
    pub fn lookup_read(&mut self, db: usize, key: &[u8]) -> Option<&mut Entry> {
        let hidden = self.expire_if_needed(db, key, false);
        let t = self.toucher();
        // Disjoint fields: the entry returned borrows `dbs`, the miss event `events`.
        let Shard {
            dbs,
            stats,
            notify_classes,
            events,
            ..
        } = self;
        match dbs[db].dict.get_mut(key).filter(|_| !hidden) {
            Some(e) => {
                stats.keyspace_hits += 1;
                t.apply(e);
                Some(e)
            }
            None => {
                stats.keyspace_misses += 1;
                notify::record(
                    events,
                    *notify_classes,
                    notify::KEY_MISS,
                    "keymiss",
                    db,
                    key,
                );
                None
            }
        }
    }

    /// Looks a key up without touching its access time (OBJECT, TTL-like introspection).
    pub fn peek(&mut self, db: usize, key: &[u8]) -> Option<&Entry> {
        if self.expire_if_needed(db, key, false) {
            return None;
        }
        self.dbs[db].dict.get(key)
    }

    /// A value as stored, with no expiry check and no stats: for a command that has looked
    /// its keys up already and now needs several of them at once.
    pub fn value(&self, db: usize, key: &[u8]) -> Option<&Value> {
        self.dbs[db].dict.get(key).map(|e| &e.value)
    }

    pub fn exists(&mut self, db: usize, key: &[u8]) -> bool {
        self.peek(db, key).is_some()
    }

    /// Registers waiter `id` on `key` (after those already waiting there).
    pub fn block(&mut self, db: usize, key: &[u8], id: u64) {
        let q = self.blocked[db].entry(key.to_vec()).or_default();
        if q.is_empty() {
            self.blocked_keys += 1;
        }
        q.push_back(id);
    }

    /// Drops waiter `id` from `key`.
    pub fn unblock(&mut self, db: usize, key: &[u8], id: u64) {
        let Some(q) = self.blocked[db].get_mut(key) else {
            return;
        };
        q.retain(|&w| w != id);
        if q.is_empty() {
            self.blocked[db].remove(key);
            self.blocked_keys -= 1;
        }
    }

    /// The waiters on `key`, first blocked first.
    pub fn waiters(&self, db: usize, key: &[u8]) -> Vec<u64> {
        self.blocked[db]
            .get(key)
            .map(|q| q.iter().copied().collect())
            .unwrap_or_default()
    }

    /// Keys made ready since the last call.
    pub fn take_ready(&mut self) -> Vec<(usize, Vec<u8>)> {
        std::mem::take(&mut self.ready)
    }

    pub fn has_ready(&self) -> bool {
        !self.ready.is_empty()
    }

    /// Marks `key` ready again (its waiters could not be served yet: it was locked).
    pub fn signal_ready(&mut self, db: usize, key: Vec<u8>) {
        self.ready.push((db, key));
    }

    /// Marks `key` ready if clients wait on it: a stream's waiters wait for entries past an
    /// ID, so every XADD (and a destroyed group) may serve them.
    pub fn wake(&mut self, db: usize, key: &[u8]) {
        if self.blocked_keys > 0 && self.blocked[db].contains_key(key) {
            self.ready.push((db, key.to_vec()));
        }
    }

    /// Stores `value` under `key`, replacing any previous value and its expiry.
    pub fn store(&mut self, db: usize, key: &[u8], value: Value, expire_at: u64) {
        if self.blocked_keys > 0
            && matches!(value, Value::List(_) | Value::ZSet(_) | Value::Stream(_))
            && self.blocked[db].contains_key(key)
        {
            self.ready.push((db, key.to_vec()));
        }
        self.save_before_write(db, key);
        let lru = self.toucher().fresh();
        let lfu = self.eviction.policy.lfu();
        let d = &mut self.dbs[db];
        let entry = Entry {
            value,
            expire_at,
            lru,
            saved: std::cell::Cell::new(self.snap_epoch),
        };
        let old = d.dict.insert(key, entry);
        // Under LFU an overwritten key keeps its counter (Redis' dbSetValue).
        if let (true, Some(o)) = (lfu, old.as_ref()) {
            if let Some(e) = d.dict.get_mut(key) {
                e.lru = o.lru;
            }
        }
        if old.as_ref().is_some_and(|old| old.expire_at != 0) {
            d.expires -= 1;
        }
        if expire_at != 0 {
            d.expires += 1;
        }
        self.stats.dirty += 1;
        self.touch(db, key);
        // A key that had expired but was still stored is replaced as Redis' setKey does it:
        // expired first (lookupKeyWrite), then added anew.
        let stale = old.as_ref().is_some_and(|o| expired(o, self.expiry_now()));
        if stale {
            self.stats.expired_keys += 1;
            self.journal.record(db, [&b"DEL"[..], key]);
            self.notify(notify::EXPIRED, "expired", db, key);
        }
        if old.is_none() || stale {
            self.notify(notify::NEW, "new", db, key);
        }
    }

    /// Changes the expiry of an existing key; returns false when the key does not exist.
    pub fn set_expire(&mut self, db: usize, key: &[u8], expire_at: u64) -> bool {
        self.expire_if_needed(db, key, true);
        self.save_before_write(db, key);
        let d = &mut self.dbs[db];
        let Some(e) = d.dict.get_mut(key) else {
            return false;
        };
        match (e.expire_at != 0, expire_at != 0) {
            (false, true) => d.expires += 1,
            (true, false) => d.expires -= 1,
            _ => {}
        }
        e.expire_at = expire_at;
        self.stats.dirty += 1;
        self.touch(db, key);
        true
    }

    pub fn remove(&mut self, db: usize, key: &[u8]) -> Option<Entry> {
        self.expire_if_needed(db, key, true);
        self.save_before_write(db, key);
        let d = &mut self.dbs[db];
        let e = d.dict.remove(key)?;
        if e.expire_at != 0 {
            d.expires -= 1;
        }
        self.stats.dirty += 1;
        self.touch(db, key);
        Some(e)
    }

    pub fn delete(&mut self, db: usize, key: &[u8]) -> bool {
        self.remove(db, key).is_some()
    }

    /// Deletes `key` if it is stored, expired or not (Redis' dbDelete, which the STORE
    /// forms call for an empty result: an expired destination counts as deleted).
    pub fn delete_stored(&mut self, db: usize, key: &[u8]) -> bool {
        self.save_before_write(db, key);
        let d = &mut self.dbs[db];
        let Some(e) = d.dict.remove(key) else {
            return false;
        };
        if e.expire_at != 0 {
            d.expires -= 1;
        }
        self.stats.dirty += 1;
        self.touch(db, key);
        true
    }

    // ---- whole-shard operations, driven by the runtime's fan-out ----

    /// MEMORY STATS' db.N: (database, hash table overhead, slot-to-keys overhead) of every
    /// database that has keys. An expiry lives in its entry: there is no expires table.
    pub fn db_overheads(&self) -> Vec<(usize, usize, usize)> {
        self.dbs
            .iter()
            .enumerate()
            .filter(|(_, d)| !d.dict.is_empty())
            .map(|(i, d)| {
                let (main, slots) = d.dict.overhead_bytes();
                (i, main, slots)
            })
            .collect()
    }

    pub fn dbsize(&self, db: usize) -> usize {
        self.dbs[db].dict.len()
    }

    pub fn db_info(&self) -> Vec<DbInfo> {
        let now = self.now_ms;
        self.dbs
            .iter()
            .map(|d| {
                let ttl_sum_ms = if d.expires == 0 {
                    0
                } else {
                    d.dict
                        .iter()
                        .filter(|(_, e)| e.expire_at > now)
                        .map(|(_, e)| e.expire_at - now)
                        .sum()
                };
                DbInfo {
                    keys: d.dict.len(),
                    expires: d.expires,
                    ttl_sum_ms,
                }
            })
            .collect()
    }

    /// KEYS: every live key matching `pattern`.
    pub fn keys(&self, db: usize, pattern: &[u8]) -> Vec<Vec<u8>> {
        let now = self.now_ms;
        let all = pattern == b"*";
        self.dbs[db]
            .dict
            .iter()
            .filter(|(k, e)| !expired(e, now) && (all || crate::glob::matches(pattern, k, false)))
            .map(|(k, _)| k.to_vec())
            .collect()
    }

    /// One SCAN step over this shard: visits buckets from `cursor` until about `count` keys
    /// were looked at; returns the next cursor (0 = this shard is done) and the matches.
    pub fn scan(
        &self,
        db: usize,
        mut cursor: u64,
        count: usize,
        pattern: Option<&[u8]>,
        type_name: Option<&[u8]>,
    ) -> (u64, Vec<Vec<u8>>) {
        let now = self.now_ms;
        let mut out = Vec::new();
        cursor = self.dbs[db].dict.scan_count(cursor, count, |k, e| {
            if expired(e, now) {
                return;
            }
            if let Some(p) = pattern {
                if !crate::glob::matches(p, k, false) {
                    return;
                }
            }
            if let Some(t) = type_name {
                if !t.eq_ignore_ascii_case(e.value.type_name().as_bytes()) {
                    return;
                }
            }
            out.push(k.to_vec());
        });
        (cursor, out)
    }

    /// RANDOMKEY: a random live key, deleting expired ones met on the way. As Redis'
    /// dbRandomKey on a master, it keeps drawing until it meets a live key or the db is empty
    /// (every miss deletes a key, so this ends); giving up after a fixed number of draws
    /// would answer nil while live keys remain.
    pub fn random_key(&mut self, db: usize) -> Option<Vec<u8>> {
        loop {
            let key = self.dbs[db].dict.random_key(&mut self.rng)?.to_vec();
            if self.exists(db, &key) {
                return Some(key);
            }
        }
    }

    /// Empties one database (or all), returning the old contents so the caller may drop them
    /// on another thread (FLUSHALL ASYNC) instead of stalling the core.
    pub fn flush(&mut self, db: Option<usize>) -> Vec<Keyspace<Entry>> {
        // Every tracked key (of every database) is forgotten; its clients hear a null.
        self.tracking.flush();
        // Redis' touchAllWatchedKeysInDb: watchers of keys that existed lose their EXEC.
        for i in 0..self.dbs.len() {
            if db.is_none_or(|n| n == i) {
                self.touch_where(i, |sh, k| sh.dbs[i].dict.contains_key(k));
            }
        }
        for i in 0..self.dbs.len() {
            if db.is_none_or(|n| n == i) {
                self.save_db_before_write(i);
            }
        }
        let mut old = Vec::new();
        for (i, d) in self.dbs.iter_mut().enumerate() {
            if db.is_none_or(|n| n == i) {
                self.stats.dirty += d.dict.len() as u64;
                let fresh = if d.dict.is_per_slot() {
                    Keyspace::per_slot()
                } else {
                    Keyspace::new()
                };
                old.push(std::mem::replace(&mut d.dict, fresh));
                d.expires = 0;
                d.expire_cursor = 0;
            }
        }
        old
    }

    pub fn swapdb(&mut self, a: usize, b: usize) {
        self.save_db_before_write(a);
        self.save_db_before_write(b);
        if a == b {
            // Redis' dbSwapDatabases returns at once: nothing moves, nobody is touched.
            self.stats.dirty += 1;
            return;
        }
        // A watched key that exists on either side sees its value change (or vanish).
        for (x, y) in [(a, b), (b, a)] {
            self.touch_where(x, |sh, k| {
                sh.dbs[x].dict.contains_key(k) || sh.dbs[y].dict.contains_key(k)
            });
        }
        self.dbs.swap(a, b);
        self.stats.dirty += 1;
        // Clients blocked in either db may find their key there now (Redis'
        // scanDatabaseForReadyKeys).
        for x in [a, b] {
            let keys: Vec<Vec<u8>> = self.blocked[x]
                .keys()
                .filter(|k| self.dbs[x].dict.contains_key(k))
                .cloned()
                .collect();
            self.ready.extend(keys.into_iter().map(|k| (x, k)));
        }
    }

    /// Cluster mode: database 0 keeps its keys per hash slot (`Keyspace::per_slot`), so a
    /// slot's keys are counted and listed without walking the rest. Only while empty (at
    /// start, before anything is loaded); false otherwise.
    pub fn set_cluster(&mut self) -> bool {
        let d = &mut self.dbs[0];
        if !d.dict.is_empty() {
            return d.dict.is_per_slot();
        }
        d.dict = Keyspace::per_slot();
        true
    }

    /// Cluster mode (`set_cluster`): only database 0, commands that would reach others
    /// refuse.
    pub fn is_cluster(&self) -> bool {
        self.dbs[0].dict.is_per_slot()
    }

    /// Keys of `slot` in database 0 (cluster mode; 0 otherwise).
    pub fn count_keys_in_slot(&self, slot: u16) -> usize {
        self.dbs[0].dict.count_in_slot(slot)
    }

    /// Up to `count` keys of `slot` in database 0 (cluster mode).
    pub fn keys_in_slot(&self, slot: u16, count: usize) -> Vec<Vec<u8>> {
        self.dbs[0].dict.keys_in_slot(slot, count)
    }

    /// Takes a key out whole (value and expiry), for a rename or move to another shard.
    pub fn take(&mut self, db: usize, key: &[u8]) -> Option<Entry> {
        self.remove(db, key)
    }

    // ---- snapshots (see `snapshot`) ----

    /// Before a write to `key`: a snapshot in progress gets the value it still owes.
    #[inline]
    fn save_before_write(&mut self, db: usize, key: &[u8]) {
        if let Some(snap) = self.snapshot.as_mut() {
            if let Some(e) = self.dbs[db].dict.get(key) {
                snap.save(db, key, e);
            }
        }
    }

    /// Before a write to a whole database (FLUSHDB, SWAPDB): everything it still owes.
    fn save_db_before_write(&mut self, db: usize) {
        if let Some(snap) = self.snapshot.as_mut() {
            if let Some(d) = self.dbs.get(db) {
                d.dict.iter().for_each(|(k, e)| snap.save(db, k, e));
            }
        }
    }

    /// Starts a snapshot of this shard as it is now; returns each database's key and expiry
    /// counts (RESIZEDB). A snapshot still running is abandoned.
    pub fn snapshot_begin(&mut self, opts: crate::rdb::SaveOpts) -> Vec<(usize, usize)> {
        self.snap_epoch = self.snap_epoch.wrapping_add(1).max(1);
        let now_s = self.lru_clock();
        self.snapshot = Some(Box::new(crate::snapshot::Snapshot::new(
            self.snap_epoch,
            opts,
            now_s,
        )));
        self.dbs.iter().map(|d| (d.dict.len(), d.expires)).collect()
    }

    /// Sizes an empty database's table for `keys` keys (loading, from RESIZEDB).
    pub fn reserve(&mut self, db: usize, keys: usize) {
        if let Some(d) = self.dbs.get_mut(db) {
            d.dict.reserve(keys);
        }
    }

    pub fn snapshot_running(&self) -> bool {
        self.snapshot.is_some()
    }

    /// Walks on until about `max_bytes` are written (or the shard is done) and hands out
    /// what was written, including what writes saved since the last step. Done: true, and
    /// the snapshot is over.
    pub fn snapshot_step(&mut self, max_bytes: usize) -> (Vec<u8>, bool) {
        let Some(snap) = self.snapshot.as_mut() else {
            return (Vec::new(), true);
        };
        let mut buckets = 0usize;
        let more = |snap: &crate::snapshot::Snapshot, buckets| {
            snap.buffered() < max_bytes && buckets < 65_536
        };
        while snap.db < self.dbs.len() && more(snap, buckets) {
            let db = snap.db;
            let dict = &self.dbs[db].dict;
            if dict.is_empty() {
                snap.db += 1;
                snap.cursor = 0;
                continue;
            }
            let mut ahead = dict.scan_ahead(snap.cursor);
            loop {
                dict.prefetch(&mut ahead, |e| e.value.heap_hint());
                let next = dict.scan(snap.cursor, |k, e| snap.save(db, k, e));
                buckets += 1;
                if next == 0 {
                    snap.db += 1;
                    snap.cursor = 0;
                    break;
                }
                snap.cursor = next;
                if !more(snap, buckets) {
                    break;
                }
            }
        }
        let done = snap.db >= self.dbs.len();
        let bytes = snap.take();
        if done {
            self.snapshot = None;
        }
        (bytes, done)
    }

    /// Abandons a snapshot in progress (a failed save).
    pub fn snapshot_abort(&mut self) {
        self.snapshot = None;
    }

    /// Each database's xor of key digests (None: the database is empty), for DEBUG DIGEST.
    /// Logically expired keys still stored count, as in Redis (it walks the dict).
    pub fn digest(&self) -> Vec<Option<crate::digest::Digest>> {
        self.dbs
            .iter()
            .map(|d| {
                if d.dict.is_empty() {
                    return None;
                }
                let mut x = [0u8; 20];
                d.dict.iter().for_each(|(k, e)| {
                    crate::digest::xor(&mut x, &crate::digest::key(k, e));
                });
                Some(x)
            })
            .collect()
    }

    /// DEBUG DIGEST-VALUE of one key (found even when logically expired, as Redis does).
    pub fn digest_value(&self, db: usize, key: &[u8]) -> crate::digest::Digest {
        crate::digest::value(self.dbs[db].dict.get(key))
    }

    /// Redis' activerehashing: moves buckets of resizing tables for up to `budget` in all.
    pub fn rehash(&mut self, budget: Duration) {
        let start = Instant::now();
        for d in &mut self.dbs {
            if d.dict.is_rehashing() {
                d.dict.rehash_for(budget.saturating_sub(start.elapsed()));
            }
        }
    }

    // ---- eviction (maxmemory) ----

    /// Whether the policy has anything to evict here: any key, or any key with an expiry.
    pub fn evictable(&self) -> bool {
        match self.eviction.policy {
            crate::evict::Policy::NoEviction => false,
            p if p.allkeys() => self.dbs.iter().any(|d| !d.dict.is_empty()),
            _ => self.dbs.iter().any(|d| d.expires > 0),
        }
    }

    /// Evicts keys by the policy until `goal` bytes are freed as `mem` (the memory in use,
    /// read around each deletion) measures them, `deadline` passes (looked at every 16 keys,
    /// as Redis does), or nothing is left to evict. Each evicted key is journaled as a DEL,
    /// touched for WATCH and announced as an `evicted` event (Redis' performEvictions).
    pub fn evict(
        &mut self,
        goal: i64,
        mem: &mut dyn FnMut() -> i64,
        deadline: Instant,
    ) -> crate::evict::Outcome {
        use crate::evict::Outcome;
        if self.loading || self.eviction.policy == crate::evict::Policy::NoEviction {
            return Outcome::Nothing;
        }
        let mut freed = 0i64;
        let mut keys = 0u32;
        while freed < goal {
            let (db, key) = match self.evict_pick() {
                Pick::Key(db, key) => (db, key),
                Pick::Nothing => return Outcome::Nothing,
                Pick::NotYet => return Outcome::OutOfTime,
            };
            let before = mem();
            self.save_before_write(db, &key);
            let d = &mut self.dbs[db];
            let Some(e) = d.dict.remove(&key) else {
                continue;
            };
            if e.expire_at != 0 {
                d.expires -= 1;
            }
            drop(e);
            freed += before - mem();
            self.stats.evicted_keys += 1;
            self.touch(db, &key);
            self.journal.record(db, [&b"DEL"[..], &key]);
            self.notify(notify::EVICTED, "evicted", db, &key);
            keys += 1;
            if keys.is_multiple_of(16) && Instant::now() >= deadline {
                return Outcome::OutOfTime;
            }
        }
        Outcome::Freed
    }

    /// The next key to evict: from the pool for the LRU, LFU and TTL policies (refilled by
    /// sampling every database), or a random one.
    fn evict_pick(&mut self) -> Pick {
        use crate::evict::Policy;
        let policy = self.eviction.policy;
        let samples = self.eviction.samples.max(1);
        let n = self.dbs.len();
        if matches!(policy, Policy::AllKeysRandom | Policy::VolatileRandom) {
            for i in 0..n {
                let db = (self.evict_next_db + 1 + i) % n;
                let Shard { dbs, rng, .. } = self;
                let d = &mut dbs[db];
                if policy == Policy::AllKeysRandom {
                    if let Some(k) = d.dict.random_key(rng) {
                        self.evict_next_db = db;
                        return Pick::Key(db, k.to_vec());
                    }
                } else if d.expires > 0 {
                    self.evict_next_db = db;
                    let mut found: Vec<Box<[u8]>> = Vec::new();
                    d.evict_cursor = sample_volatile(d, samples, |k, _| found.push(k.into()));
                    if found.is_empty() {
                        return Pick::NotYet;
                    }
                    let at = (rng.next_u64() % found.len() as u64) as usize;
                    return Pick::Key(db, found.swap_remove(at).into_vec());
                }
            }
            return Pick::Nothing;
        }
        let now_s = self.lru_clock();
        let now_min = crate::evict::lfu_minutes(self.now_ms);
        let decay = self.eviction.lfu_decay_time;
        let score = |e: &Entry| -> u64 {
            match policy {
                Policy::AllKeysLru | Policy::VolatileLru => crate::evict::idle_secs(e.lru, now_s),
                Policy::AllKeysLfu | Policy::VolatileLfu => {
                    255 - u64::from(crate::evict::lfu_counter(e.lru, now_min, decay))
                }
                _ => u64::MAX - e.expire_at,
            }
        };
        // A few refills at most: volatile keys may be too sparse to meet in one walk.
        for _ in 0..8 {
            let mut total = 0usize;
            let Shard {
                dbs,
                rng,
                evict_pool,
                ..
            } = self;
            for (db, d) in dbs.iter_mut().enumerate() {
                if policy.allkeys() {
                    if d.dict.is_empty() {
                        continue;
                    }
                    total += d.dict.len();
                    d.dict
                        .sample(rng, samples, |k, e| evict_pool.offer(score(e), db, k));
                } else if d.expires > 0 {
                    total += d.expires;
                    d.evict_cursor =
                        sample_volatile(d, samples, |k, e| evict_pool.offer(score(e), db, k));
                }
            }
            if total == 0 {
                return Pick::Nothing;
            }
            while let Some(c) = self.evict_pool.take_best() {
                // A ghost (deleted, or no longer volatile, since it was sampled) is skipped.
                let live = self.dbs.get(c.db).and_then(|d| d.dict.get(&c.key));
                if live.is_some_and(|e| policy.allkeys() || e.expire_at != 0) {
                    return Pick::Key(c.db, c.key.into_vec());
                }
            }
        }
        Pick::NotYet
    }

    /// Active expiry in the spirit of Redis' activeExpireCycle: walk each database's table
    /// from where the last cycle stopped, sampling volatile keys and deleting expired ones;
    /// keep going while more than a tenth of a sample was expired, and stop at `budget`.
    /// Returns true when it stopped for time with work probably left (call again soon).
    pub fn active_expire(&mut self, budget: Duration) -> bool {
        const SAMPLE: usize = 20;
        if self.loading || self.replica {
            return false;
        }
        let start = Instant::now();
        let now = self.now_ms;
        let mut expired_keys: Vec<Box<[u8]>> = Vec::new();
        for db in 0..self.dbs.len() {
            let mut iterations = 0u32;
            loop {
                let d = &mut self.dbs[db];
                if d.expires == 0 {
                    break;
                }
                let mut sampled = 0usize;
                let mut buckets = 0usize;
                expired_keys.clear();
                let mut cursor = d.expire_cursor;
                while sampled < SAMPLE && buckets < SAMPLE * 20 {
                    cursor = d.dict.scan(cursor, |k, e| {
                        if e.expire_at != 0 {
                            sampled += 1;
                            if e.expire_at < now {
                                expired_keys.push(k.into());
                            }
                        }
                    });
                    buckets += 1;
                    if cursor == 0 {
                        break;
                    }
                }
                d.expire_cursor = cursor;
                if let Some(snap) = self.snapshot.as_mut() {
                    for k in &expired_keys {
                        if let Some(e) = d.dict.get(k) {
                            snap.save(db, k, e);
                        }
                    }
                }
                for k in &expired_keys {
                    if d.dict.remove(k).is_some() {
                        d.expires -= 1;
                    }
                }
                for k in &expired_keys {
                    self.record_expired(db, k);
                    self.touch(db, k);
                    self.notify(notify::EXPIRED, "expired", db, k);
                }
                self.stats.expired_keys += expired_keys.len() as u64;
                iterations += 1;
                if iterations.is_multiple_of(16) && start.elapsed() >= budget {
                    return true;
                }
                // Fewer than 10% of the sample expired: this db is clean enough for now.
                if sampled == 0 || expired_keys.len() * 10 <= sampled {
                    break;
                }
            }
        }
        false
    }
}

/// What eviction found to delete.
enum Pick {
    Key(usize, Vec<u8>),
    /// Nothing the policy may evict.
    Nothing,
    /// Keys with an expiry exist but this walk met none (sparse): try again later.
    NotYet,
}

/// Walks `d`'s table from its eviction cursor, handing each key with an expiry to `found`
/// until `want` were found or 1,000 buckets were walked; returns the cursor to resume at.
fn sample_volatile(d: &Db, want: usize, mut found: impl FnMut(&[u8], &Entry)) -> u64 {
    let (mut seen, mut buckets) = (0usize, 0usize);
    let mut cursor = d.evict_cursor;
    while seen < want && buckets < 1000 {
        cursor = d.dict.scan(cursor, |k, e| {
            if e.expire_at != 0 {
                seen += 1;
                found(k, e);
            }
        });
        buckets += 1;
        if cursor == 0 {
            break;
        }
    }
    cursor
}
