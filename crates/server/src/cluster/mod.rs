//! Redis Cluster (`cluster-enabled yes`): this node's view of the cluster (`state`), its
//! nodes.conf, the check every keyed command passes (`route`: MOVED, ASK, CROSSSLOT,
//! TRYAGAIN, CLUSTERDOWN) and the CLUSTER command (`cmd`).
//!
//! The view lives under one mutex (`Cluster::state`), changed by CLUSTER commands; each
//! change republishes what the command path reads without the lock: per slot, the node that
//! serves it and whether it is migrating or importing (`Cluster::route`), the nodes'
//! addresses for redirections, and whether the cluster is up. Inside the node, a slot's keys
//! live on the shard the slot map gives them, as without cluster mode.

pub mod bus;
pub mod cmd;
pub mod failover;
pub mod gossip;
pub mod migrate;
pub mod route;
pub mod state;
pub mod wire;

use state::{Health, State};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Mutex, MutexGuard, RwLock};

/// `Cluster::route` entries: the node index + 1 in the low bits (0: nobody), and flags.
pub const MIGRATING: u32 = 1 << 31;
pub const IMPORTING: u32 = 1 << 30;
const NODE_MASK: u32 = IMPORTING - 1;

pub struct Cluster {
    pub state: Mutex<State>,
    /// Per slot: who serves it, as the command path reads it.
    route: Vec<AtomicU32>,
    /// Node index + 1 of this node (as in `route`).
    me: AtomicU32,
    /// `ip:port` of each node, by index (MOVED and ASK name them).
    addrs: RwLock<Vec<String>>,
    /// cluster_state:ok.
    ok: AtomicBool,
    /// cluster-allow-reads-when-down, cluster-require-full-coverage (hot copies).
    pub reads_when_down: AtomicBool,
    pub full_coverage: AtomicBool,
    pub pubsubshard_when_down: AtomicBool,
    /// cluster-node-timeout, ms.
    pub node_timeout: std::sync::atomic::AtomicU64,
    /// Where nodes.conf is.
    path: PathBuf,
    /// Unix ms until which writes pause for a replica's manual failover (0: none).
    pub mf_pause_until: std::sync::atomic::AtomicU64,
}

/// The cluster-* settings the state reads, from the configuration.
pub fn settings(c: &config::Config) -> state::Settings {
    let d = state::Settings::default();
    let num = |k: &str, d: u64| c.get(k).and_then(|v| v.parse().ok()).unwrap_or(d);
    let yes = |k: &str, d: bool| c.get(k).map_or(d, |v| v == "yes");
    state::Settings {
        no_failover: yes("cluster-replica-no-failover", d.no_failover),
        validity_factor: num("cluster-replica-validity-factor", d.validity_factor),
        ping_period: num("repl-ping-replica-period", d.ping_period),
        migration_barrier: num("cluster-migration-barrier", d.migration_barrier as u64) as usize,
        allow_replica_migration: yes("cluster-allow-replica-migration", d.allow_replica_migration),
    }
}

/// The port, bus port and hostname this node announces (cluster-announce-port,
/// -bus-port, -hostname; else the ports it listens on), applied to `st`. True if any
/// changed.
pub fn announce(c: &config::Config, st: &mut State) -> bool {
    let num = |k: &str| {
        c.get(k)
            .and_then(|v| v.parse::<u16>().ok())
            .filter(|&p| p != 0)
    };
    let port = num("cluster-announce-port")
        .or_else(|| num("port"))
        .unwrap_or(st.myself().port);
    let cport = num("cluster-announce-bus-port")
        .or_else(|| num("cluster-port"))
        .unwrap_or_else(|| num("port").map_or(st.myself().cport, |p| p.wrapping_add(10000)));
    let hostname = c.get("cluster-announce-hostname").unwrap_or_default();
    let me = st.myself_mut();
    let changed = me.port != port || me.cport != cport || me.hostname != hostname;
    me.port = port;
    me.cport = cport;
    me.hostname = hostname;
    changed
}

/// This node's flags with cluster-replica-no-failover applied (clusterUpdateMyselfFlags).
pub fn my_flags(flags: u16, no_failover: bool) -> u16 {
    if no_failover {
        flags | state::flag::NOFAILOVER
    } else {
        flags & !state::flag::NOFAILOVER
    }
}

impl Cluster {
    /// The node at start: its nodes.conf loaded, or a new node (a new id) whose file is
    /// written now, as Redis' clusterInit does.
    pub fn open(config: &config::Config, port: u16) -> Result<Cluster, String> {
        let dir = PathBuf::from(config.dir());
        let file = config
            .get("cluster-config-file")
            .unwrap_or_else(|| "nodes.conf".into());
        let path = dir.join(file);
        let cport = match config
            .get("cluster-port")
            .and_then(|v| v.parse::<u16>().ok())
        {
            Some(p) if p != 0 => p,
            _ => port.wrapping_add(10000),
        };
        let ip = config
            .get("cluster-announce-ip")
            .filter(|s| !s.is_empty())
            .unwrap_or_default();
        let state = match std::fs::read_to_string(&path) {
            Ok(text) if !text.trim().is_empty() => {
                let s = State::from_config(&text, &ip, port, cport)?;
                tracing::info!("Node configuration loaded, I'm {:.40}", s.myself().id);
                s
            }
            _ => {
                let s = State::new(crate::shared::run_id(), &ip, port, cport);
                tracing::info!("No cluster configuration found, I'm {}", s.myself().id);
                s
            }
        };
        let c = Cluster {
            state: Mutex::new(state),
            route: (0..state::SLOTS).map(|_| AtomicU32::new(0)).collect(),
            me: AtomicU32::new(0),
            addrs: RwLock::new(Vec::new()),
            ok: AtomicBool::new(false),
            reads_when_down: AtomicBool::new(
                config.get("cluster-allow-reads-when-down").as_deref() == Some("yes"),
            ),
            full_coverage: AtomicBool::new(
                config.get("cluster-require-full-coverage").as_deref() != Some("no"),
            ),
            node_timeout: std::sync::atomic::AtomicU64::new(
                config
                    .get("cluster-node-timeout")
                    .and_then(|v| v.parse().ok())
                    .unwrap_or(15000),
            ),
            pubsubshard_when_down: AtomicBool::new(
                config.get("cluster-allow-pubsubshard-when-down").as_deref() != Some("no"),
            ),
            path,
            mf_pause_until: std::sync::atomic::AtomicU64::new(0),
        };
        {
            let mut g = c.lock();
            g.settings = settings(config);
            announce(config, &mut g);
            g.myself_mut().flags = my_flags(g.myself().flags, g.settings.no_failover);
            c.changed(&mut g)
                .map_err(|e| format!("Can't write the cluster configuration file: {e}"))?;
        }
        Ok(c)
    }

    /// Writes wait: this master is handing over to a replica (CLUSTER FAILOVER).
    pub fn failover_paused(&self) -> bool {
        let until = self.mf_pause_until.load(Ordering::Relaxed);
        until != 0 && engine::shard::unix_ms() < until
    }

    pub fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// After a change of the view: its health recomputed, what the command path reads
    /// republished, and nodes.conf written (atomically, fsynced) as Redis'
    /// clusterSaveConfigOrDie does.
    pub fn changed(&self, st: &mut State) -> std::io::Result<()> {
        st.update_health(
            self.full_coverage.load(Ordering::Relaxed),
            engine::shard::unix_ms(),
            self.rejoin_delay(),
        );
        self.publish(st);
        self.save(st)
    }

    /// `changed` for a slot's migration markers (SETSLOT IMPORTING, MIGRATING, STABLE):
    /// nodes.conf is replaced atomically but not fsynced, as redis-server saves them (a
    /// reshard sets them twice per slot; `redis-cli --cluster fix` closes slots a crash
    /// left open).
    pub fn changed_markers(&self, st: &mut State) -> std::io::Result<()> {
        self.publish(st);
        self.write(st, false)
    }

    /// After the bus changed the view: health and routes, and nodes.conf when `save`.
    pub fn refresh(&self, st: &mut State, save: bool) {
        st.update_health(
            self.full_coverage.load(Ordering::Relaxed),
            engine::shard::unix_ms(),
            self.rejoin_delay(),
        );
        self.publish(st);
        if save {
            if let Err(e) = self.save(st) {
                tracing::error!("Fatal: can't update cluster config file: {e}");
            }
        }
    }

    /// cluster-node-timeout within 500 ms and 5 s (CLUSTER_MIN/MAX_REJOIN_DELAY).
    fn rejoin_delay(&self) -> u64 {
        self.node_timeout.load(Ordering::Relaxed).clamp(500, 5000)
    }

    /// Every 100 ms (Redis' clusterCron): the health evaluated again.
    pub fn tick(&self) {
        let mut g = self.lock();
        let before = (g.health, g.size);
        g.update_health(
            self.full_coverage.load(Ordering::Relaxed),
            engine::shard::unix_ms(),
            self.rejoin_delay(),
        );
        if (g.health, g.size) != before {
            if before.0 != g.health {
                tracing::info!(
                    "Cluster state changed: {}",
                    if g.health == Health::Ok { "ok" } else { "fail" }
                );
            }
            self.publish(&g);
        }
    }

    fn publish(&self, st: &State) {
        if let Ok(mut a) = self.addrs.write() {
            *a = st
                .nodes
                .iter()
                .map(|n| format!("{}:{}", n.ip, n.port))
                .collect();
        }
        self.me.store(st.me as u32 + 1, Ordering::Release);
        for (slot, r) in self.route.iter().enumerate() {
            let mut v = st.owner[slot].map_or(0, |i| i + 1);
            if st.migrating.contains_key(&(slot as u16)) {
                v |= MIGRATING;
            }
            if st.importing.contains_key(&(slot as u16)) {
                v |= IMPORTING;
            }
            r.store(v, Ordering::Release);
        }
        self.ok.store(st.health == Health::Ok, Ordering::Release);
    }

    /// nodes.conf written through a temporary file, fsynced, renamed, the directory fsynced.
    pub fn save(&self, st: &State) -> std::io::Result<()> {
        self.write(st, true)
    }

    fn write(&self, st: &State, durable: bool) -> std::io::Result<()> {
        use std::io::Write;
        let tmp = self.path.with_extension("tmp-percore");
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(st.config_text().as_bytes())?;
        if durable {
            crate::persist::install(&f, &tmp, &self.path)
        } else {
            std::fs::rename(&tmp, &self.path)
        }
    }

    /// The slot's entry for the command path.
    #[inline]
    pub fn route(&self, slot: u16) -> u32 {
        self.route[slot as usize].load(Ordering::Acquire)
    }

    #[inline]
    pub fn is_me(&self, entry: u32) -> bool {
        entry & NODE_MASK == self.me.load(Ordering::Relaxed)
    }

    /// `ip:port` of the node in a route entry.
    pub fn addr_of(&self, entry: u32) -> String {
        let i = (entry & NODE_MASK) as usize;
        self.addrs
            .read()
            .ok()
            .and_then(|a| a.get(i.wrapping_sub(1)).cloned())
            .unwrap_or_default()
    }

    /// `ip:port` of node `id`.
    pub fn addr_of_id(&self, id: &str) -> Option<String> {
        let g = self.lock();
        g.find(id)
            .map(|i| format!("{}:{}", g.nodes[i].ip, g.nodes[i].port))
    }

    /// This node is a replica of the node in route entry `entry` (READONLY clients read
    /// its slots here).
    pub fn replica_of_owner(&self, entry: u32) -> bool {
        let i = (entry & NODE_MASK) as usize;
        let g = self.lock();
        let me = g.myself();
        me.has(state::flag::SLAVE)
            && i > 0
            && g.nodes
                .get(i - 1)
                .is_some_and(|m| me.master.as_deref() == Some(m.id.as_str()))
    }

    pub fn is_ok(&self) -> bool {
        self.ok.load(Ordering::Acquire)
    }
}
