//! State every core reads: configuration, server-wide counters and control flags. Kept small
//! and mostly atomic, so the per-command path touches it rarely (a counter, a pause check).

use config::Config;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Instant, SystemTime};

pub struct Shared {
    pub config: RwLock<Config>,
    pub shards: usize,
    pub slots: engine::slot::SlotMap,
    pub started: Instant,
    pub started_unix: SystemTime,
    pub run_id: String,
    /// Replication: role, link, replid and offset (`repl`).
    pub repl: crate::repl::Repl,
    /// The master side: the merged stream, the backlog, the replicas (`feed`).
    pub feed: crate::feed::Feed,
    /// Cluster mode (`cluster-enabled yes`): this node's view of the cluster.
    pub cluster: Option<crate::cluster::Cluster>,
    pub next_client_id: AtomicU64,
    pub connected_clients: AtomicUsize,
    /// Channel and pattern subscriptions per core: PUBLISH (and keyspace events) skip cores
    /// that have none.
    pub subscriptions: Vec<AtomicUsize>,
    /// Shard-channel subscriptions per core: SPUBLISH skips cores that have none.
    pub shard_subscriptions: Vec<AtomicUsize>,
    /// Clients waiting in a blocking command (INFO blocked_clients).
    pub blocked_clients: AtomicUsize,
    /// Clients with CLIENT TRACKING on (INFO tracking_clients).
    pub tracking_clients: AtomicUsize,
    /// Bytes allocated once the shards were up (used_memory_startup).
    pub startup_allocated: AtomicU64,
    /// DEBUG QUICKLIST-PACKED-THRESHOLD (`SaveOpts::plain_threshold`).
    pub plain_threshold: AtomicU64,
    pub total_connections: AtomicU64,
    pub rejected_connections: AtomicU64,
    /// Unix ms until which clients are paused (CLIENT PAUSE); 0 = not paused.
    pub pause_until: AtomicU64,
    /// CLIENT PAUSE WRITE pauses only writes; ALL pauses every command.
    pub pause_all: AtomicBool,
    /// Hot config values, mirrored from `config` on every CONFIG SET so the command path
    /// never takes the lock.
    pub maxclients: AtomicUsize,
    pub timeout_secs: AtomicU64,
    pub proto_max_bulk_len: AtomicU64,
    pub query_buffer_limit: AtomicU64,
    pub requirepass: RwLock<Option<String>>,
    pub protected_mode: AtomicBool,
    pub active_expire: AtomicBool,
    pub hz: AtomicU64,
    pub io_backend: &'static str,
    /// The TCP port clients connect to (CONFIG SET port changes it).
    pub tcp_port: std::sync::atomic::AtomicU16,
    pub shutdown: crossbeam_channel::Sender<ShutdownReason>,
    pub lastsave: AtomicU64,
    /// Snapshot and load state (SAVE, BGSAVE, save points, INFO persistence, LOADING).
    pub persist: crate::persist::State,
    /// Memory in use by core, and the state of the maxmemory limit (`memory`).
    pub meter: crate::memory::Meter,
    /// The append-only file's state (INFO, the fsync thread, the manifest).
    pub aof: crate::aof::State,
    /// Every script body EVAL or SCRIPT LOAD has seen, by SHA1 (each core compiles its own
    /// copy from here the first time it runs one).
    pub scripts: script::Registry,
    /// Function libraries (FUNCTION LOAD), which every core's functions Lua state loads.
    pub functions: script::functions::Libraries,
    /// Scripts past busy-reply-threshold: what -BUSY, SCRIPT KILL and SHUTDOWN read.
    pub busy: crate::scripting::Busy,
    /// Keeps every read of a connection on one side of a whole-keyspace operation.
    pub barrier: Arc<crate::barrier::Barrier>,
    /// SIGTERM/SIGINT arrive here from the signal thread; core 0 acts on them.
    pub signals: (
        crossbeam_channel::Sender<()>,
        crossbeam_channel::Receiver<()>,
    ),
    /// Multi-shard operations (by the core that runs them: `core::tx_core`) with how many
    /// of their pieces were journaled, so that their core records their commit.
    written: Vec<std::sync::Mutex<std::collections::HashMap<u64, usize>>>,
    /// Every core's listening sockets, closed at shutdown (see `Server::close_listeners`).
    pub listen_fds: std::sync::Mutex<Vec<i32>>,
    /// Set when the listeners are closed on purpose (shutdown, a rebind): their accept
    /// loops end without a warning.
    pub listeners_closing: std::sync::atomic::AtomicBool,
    /// The next SLOWLOG entry's id (one sequence for every core's log).
    pub slowlog_ids: AtomicU64,
    /// MONITOR clients: how many in all, and on each core.
    pub monitors: AtomicUsize,
    pub monitor_counts: Vec<AtomicUsize>,
    /// The unix socket's path (MONITOR shows `unix:<path>` for its clients).
    pub unixsocket: Option<String>,
}

/// Per-core copies of configuration the command path reads (see `Shared::settings`).
#[derive(Clone, Copy, Debug, Default)]
pub struct Settings {
    /// The compact encodings' size limits (each shard's `Shard::limits`).
    pub limits: engine::value::Limits,
    /// notify-keyspace-events as `engine::notify` flags.
    pub notify: u32,
    /// client-output-buffer-limit: the pubsub class.
    pub output: crate::pubsub::Limits,
    /// client-output-buffer-limit: the normal class (unlimited by default).
    pub normal: crate::pubsub::Limits,
    /// How values are written (DUMP, snapshots): rdbcompression, list-max-listpack-size,
    /// and idle times under an LRU maxmemory-policy.
    pub save: engine::rdb::SaveOpts,
    /// maxmemory-policy, maxmemory-samples, lfu-log-factor, lfu-decay-time.
    pub eviction: engine::evict::Settings,
    /// maxmemory in bytes (0: no limit).
    pub maxmemory: u64,
    /// maxmemory-eviction-tenacity (0-100).
    pub tenacity: u32,
    /// slowlog-log-slower-than (microseconds; negative: off) and slowlog-max-len.
    pub slowlog_threshold: i64,
    pub slowlog_max_len: usize,
    /// latency-tracking (per-command histograms) and latency-monitor-threshold (ms).
    pub latency_tracking: bool,
    pub latency_threshold_ms: u64,
    /// Each shard's share of tracking-table-max-keys (0: no limit).
    pub tracking_max_keys: usize,
}

const NO_LIMIT: crate::pubsub::Limits = crate::pubsub::Limits {
    hard: 0,
    soft: 0,
    soft_secs: 0,
};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ShutdownReason {
    Command,
    Signal,
}

impl Shared {
    /// A yes/no setting's value now (false if unset or unreadable).
    pub fn config_bool(&self, name: &str) -> bool {
        self.config
            .read()
            .ok()
            .and_then(|c| c.get(name))
            .is_some_and(|v| v == "yes")
    }

    /// Writes are paused (CLIENT PAUSE, or a failover): keys do not expire meanwhile, as in
    /// Redis 7.0, so the replication offset stays still.
    pub fn writes_paused(&self) -> bool {
        let until = self.pause_until.load(Ordering::Relaxed);
        (until != 0 && engine::shard::unix_ms() < until)
            || self.repl.failover_paused()
            || self.cluster.as_ref().is_some_and(|c| c.failover_paused())
    }

    pub fn new(
        config: Config,
        shards: usize,
        shutdown: crossbeam_channel::Sender<ShutdownReason>,
        cluster: Option<crate::cluster::Cluster>,
    ) -> Arc<Shared> {
        let run_id = run_id();
        let now_unix = engine::shard::unix_ms() / 1000;
        let s = Shared {
            barrier: Arc::new(crate::barrier::Barrier::new(shards)),
            shards,
            slots: engine::slot::SlotMap::new(shards),
            started: Instant::now(),
            started_unix: SystemTime::now(),
            run_id,
            repl: crate::repl::Repl::new(),
            feed: crate::feed::Feed::new(shards),
            cluster,
            next_client_id: AtomicU64::new(1),
            connected_clients: AtomicUsize::new(0),
            blocked_clients: AtomicUsize::new(0),
            tracking_clients: AtomicUsize::new(0),
            startup_allocated: AtomicU64::new(0),
            plain_threshold: AtomicU64::new(1 << 30),
            subscriptions: (0..shards).map(|_| AtomicUsize::new(0)).collect(),
            shard_subscriptions: (0..shards).map(|_| AtomicUsize::new(0)).collect(),
            total_connections: AtomicU64::new(0),
            rejected_connections: AtomicU64::new(0),
            pause_until: AtomicU64::new(0),
            pause_all: AtomicBool::new(false),
            maxclients: AtomicUsize::new(0),
            timeout_secs: AtomicU64::new(0),
            proto_max_bulk_len: AtomicU64::new(0),
            query_buffer_limit: AtomicU64::new(0),
            requirepass: RwLock::new(None),
            protected_mode: AtomicBool::new(true),
            active_expire: AtomicBool::new(true),
            hz: AtomicU64::new(10),
            io_backend: "io_uring",
            tcp_port: std::sync::atomic::AtomicU16::new(config.port()),
            shutdown,
            lastsave: AtomicU64::new(now_unix),
            persist: crate::persist::State::new(shards),
            meter: crate::memory::Meter::new(shards),
            aof: crate::aof::State::new(shards, &config),
            scripts: script::Registry::default(),
            functions: Default::default(),
            busy: crate::scripting::Busy::new(shards),
            signals: crossbeam_channel::unbounded(),
            listen_fds: std::sync::Mutex::new(Vec::new()),
            listeners_closing: std::sync::atomic::AtomicBool::new(false),
            slowlog_ids: AtomicU64::new(0),
            monitors: AtomicUsize::new(0),
            monitor_counts: (0..shards).map(|_| AtomicUsize::new(0)).collect(),
            unixsocket: config.unixsocket(),
            written: (0..shards).map(|_| Default::default()).collect(),
            config: RwLock::new(config),
        };
        s.refresh_hot_config();
        Arc::new(s)
    }

    /// Copies the values the command path reads into atomics. Called at start and after
    /// every CONFIG SET.
    pub fn refresh_hot_config(&self) {
        let Ok(c) = self.config.read() else { return };
        self.maxclients.store(c.maxclients(), Ordering::Relaxed);
        self.timeout_secs.store(c.timeout(), Ordering::Relaxed);
        self.proto_max_bulk_len
            .store(c.proto_max_bulk_len(), Ordering::Relaxed);
        self.query_buffer_limit
            .store(c.client_query_buffer_limit(), Ordering::Relaxed);
        self.protected_mode
            .store(c.protected_mode(), Ordering::Relaxed);
        self.hz
            .store(c.hz().clamp(1, 500) as u64, Ordering::Relaxed);
        // jemalloc's background thread returns freed pages to the system while the server
        // is idle, as redis-server enables it (without it they wait for the next allocations).
        let bg = c.get("jemalloc-bg-thread").as_deref() != Some("no");
        if tikv_jemalloc_ctl::background_thread::read().is_ok_and(|on| on != bg) {
            if let Err(e) = tikv_jemalloc_ctl::background_thread::write(bg) {
                tracing::warn!("jemalloc-bg-thread {bg}: {e}");
            }
        }
        crate::memory::set_decay(c.maxmemory() > 0);
        if let Some(size) = c.get("repl-backlog-size").and_then(|v| v.parse().ok()) {
            crate::feed::set_backlog_size(&self.feed, size);
        }
        self.repl.read_only.store(
            c.get("replica-read-only").as_deref() != Some("no"),
            Ordering::Relaxed,
        );
        let n = |k: &str| c.get(k).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
        self.feed
            .min_replicas
            .store(n("min-replicas-to-write") as usize, Ordering::Relaxed);
        self.feed
            .min_replicas_lag
            .store(n("min-replicas-max-lag"), Ordering::Relaxed);
        self.repl.serve_stale.store(
            c.get("replica-serve-stale-data").as_deref() != Some("no"),
            Ordering::Relaxed,
        );
        self.repl.ignore_maxmemory.store(
            c.get("replica-ignore-maxmemory").as_deref() != Some("no"),
            Ordering::Relaxed,
        );
        self.busy
            .threshold_ms
            .store(c.busy_reply_threshold(), Ordering::Relaxed);
        if let Ok(mut p) = self.requirepass.write() {
            *p = c.requirepass();
        }
        self.aof.refresh(&c);
        if let Some(cl) = &self.cluster {
            let yes = |k: &str, d: bool| c.get(k).map_or(d, |v| v == "yes");
            cl.reads_when_down.store(
                yes("cluster-allow-reads-when-down", false),
                Ordering::Relaxed,
            );
            cl.pubsubshard_when_down.store(
                yes("cluster-allow-pubsubshard-when-down", true),
                Ordering::Relaxed,
            );
            if let Some(t) = c.get("cluster-node-timeout").and_then(|v| v.parse().ok()) {
                cl.node_timeout.store(t, Ordering::Relaxed);
            }
            let full = yes("cluster-require-full-coverage", true);
            let ip = c.get("cluster-announce-ip").unwrap_or_default();
            let mut g = cl.lock();
            g.settings = crate::cluster::settings(&c);
            let flags = crate::cluster::my_flags(g.myself().flags, g.settings.no_failover);
            let flags_changed = flags != g.myself().flags;
            g.myself_mut().flags = flags;
            let flags_changed = crate::cluster::announce(&c, &mut g) || flags_changed;
            // The announced address, or none until a peer tells it (Redis' clusterCron).
            let ip_changed = g.myself().ip != ip;
            if ip_changed {
                g.myself_mut().ip = ip;
            }
            if cl.full_coverage.swap(full, Ordering::Relaxed) != full || ip_changed || flags_changed
            {
                if let Err(e) = cl.changed(&mut g) {
                    tracing::warn!("cluster config: {e}");
                }
            }
        }
    }

    pub fn requirepass(&self) -> Option<String> {
        self.requirepass.read().ok().and_then(|p| p.clone())
    }

    /// What every core keeps a copy of, read from the config at start and pushed to every
    /// core after CONFIG SET (`Op::SetLimits`), so the command path takes no lock for it.
    pub fn settings(&self) -> Settings {
        let (notify, cobl, compression, fill, policy) = self
            .config
            .read()
            .map(|c| {
                (
                    c.get("notify-keyspace-events").unwrap_or_default(),
                    c.get("client-output-buffer-limit").unwrap_or_default(),
                    c.get("rdbcompression").unwrap_or_default(),
                    c.get("list-max-listpack-size").unwrap_or_default(),
                    c.get("maxmemory-policy").unwrap_or_default(),
                )
            })
            .unwrap_or_default();
        let num = |name: &str, fallback: u64| -> u64 {
            self.config
                .read()
                .ok()
                .and_then(|c| c.get(name))
                .and_then(|v| v.parse().ok())
                .unwrap_or(fallback)
        };
        let eviction = engine::evict::Settings {
            policy: engine::evict::Policy::parse(&policy).unwrap_or_default(),
            samples: num("maxmemory-samples", 5) as usize,
            lfu_log_factor: num("lfu-log-factor", 10) as u32,
            lfu_decay_time: num("lfu-decay-time", 1) as u32,
        };
        Settings {
            limits: self.limits(),
            notify: engine::notify::parse_flags(&notify),
            output: crate::pubsub::Limits::from_config(&cobl),
            normal: crate::pubsub::Limits::of_class(&cobl, "normal").unwrap_or(NO_LIMIT),
            save: engine::rdb::SaveOpts {
                compress: compression != "no",
                list_fill: fill.parse().unwrap_or(-2),
                idle: eviction.policy.lru(),
                freq: eviction.policy.lfu().then_some(eviction.lfu_decay_time),
                plain_threshold: self.plain_threshold.load(Ordering::Relaxed) as usize,
            },
            eviction,
            maxmemory: num("maxmemory", 0),
            tenacity: num("maxmemory-eviction-tenacity", 10) as u32,
            slowlog_threshold: self
                .config
                .read()
                .ok()
                .and_then(|c| c.get("slowlog-log-slower-than"))
                .and_then(|v| v.parse().ok())
                .unwrap_or(10_000),
            slowlog_max_len: num("slowlog-max-len", 128) as usize,
            latency_tracking: self.config_bool("latency-tracking"),
            latency_threshold_ms: num("latency-monitor-threshold", 0),
            tracking_max_keys: match num("tracking-table-max-keys", 1_000_000) as usize {
                0 => 0,
                n => n.div_ceil(self.shards),
            },
        }
    }

    /// The compact encodings' limits, from the config.
    fn limits(&self) -> engine::value::Limits {
        let mut l = engine::value::Limits::default();
        let Ok(c) = self.config.read() else { return l };
        let num = |name: &str, fallback: usize| {
            c.get(name)
                .and_then(|v| v.parse::<i64>().ok())
                .map_or(fallback, |v| v.max(0) as usize)
        };
        l.hash_entries = num("hash-max-listpack-entries", l.hash_entries);
        l.hash_value = num("hash-max-listpack-value", l.hash_value);
        l.set_intset_entries = num("set-max-intset-entries", l.set_intset_entries);
        l.zset_entries = num("zset-max-listpack-entries", l.zset_entries);
        l.zset_value = num("zset-max-listpack-value", l.zset_value);
        l.max_string = c.proto_max_bulk_len() as usize;
        l.hll_sparse_max_bytes = num("hll-sparse-max-bytes", l.hll_sparse_max_bytes);
        l.stream_node.max_bytes = num("stream-node-max-bytes", l.stream_node.max_bytes);
        l.stream_node.max_entries = num("stream-node-max-entries", l.stream_node.max_entries);
        l
    }

    pub fn databases(&self) -> usize {
        self.config.read().map(|c| c.databases()).unwrap_or(16)
    }

    /// The per-core subscription counts that cover `kind`.
    pub fn counts(&self, kind: crate::pubsub::Kind) -> &[AtomicUsize] {
        match kind {
            crate::pubsub::Kind::Shard => &self.shard_subscriptions,
            _ => &self.subscriptions,
        }
    }

    /// A piece of multi-shard operation `tx` was journaled (see `Core::commit`).
    pub fn note_written(&self, tx: u64) {
        let slot = self.written.get(crate::core::tx_core(tx));
        if let Some(Ok(mut m)) = slot.map(|m| m.lock()) {
            *m.entry(tx).or_default() += 1;
        }
    }

    /// How many pieces of `tx` were journaled; forgets it.
    pub fn take_written(&self, tx: u64) -> usize {
        self.written
            .get(crate::core::tx_core(tx))
            .and_then(|m| m.lock().ok().and_then(|mut m| m.remove(&tx)))
            .unwrap_or(0)
    }

    pub fn shard_of(&self, key: &[u8]) -> usize {
        self.slots.shard_of(key)
    }
}

/// 40 hex characters, as Redis' run_id: random per process start.
pub(crate) fn run_id() -> String {
    let mut seed = engine::shard::unix_ms() ^ ((std::process::id() as u64) << 32);
    let mut rng = engine::dict::Rng::new(seed);
    let mut s = String::with_capacity(40);
    for _ in 0..40 {
        seed = rng.next_u64();
        s.push(char::from_digit((seed % 16) as u32, 16).unwrap_or('0'));
    }
    s
}
