//! Where the memory goes: MEMORY STATS, MEMORY DOCTOR and INFO memory's overhead fields
//! (Redis' getMemoryOverheadData and getMemoryDoctorReport).
//!
//! The allocator's figures are jemalloc's, as redis-server's. The overheads are what
//! percore holds besides the data: the allocations made before any client
//! (startup.allocated), the replication backlog (allocated whole), clients' buffers (as
//! CLIENT LIST's tot-mem counts them), scripts' and functions' code, and the keyspace's
//! tables (bucket arrays and each key's chain link and length; an expiry lives in its
//! entry, so there is no expires table to count). The dataset is the rest.

use crate::ops::CoreStats;
use crate::shared::Shared;
use resp::Writer;
use std::sync::atomic::Ordering;

/// Redis' redisMemOverhead.
pub struct Overhead {
    pub peak: u64,
    pub total: u64,
    pub startup: u64,
    pub backlog: u64,
    pub clients_replicas: u64,
    pub clients_normal: u64,
    pub cluster_links: u64,
    pub aof_buffer: u64,
    pub lua_caches: u64,
    pub functions_caches: u64,
    /// (database, hash table, expires table, slot-to-keys), for databases with keys.
    pub dbs: Vec<(usize, u64, u64, u64)>,
    pub overhead_total: u64,
    pub keys: u64,
    pub bytes_per_key: u64,
    pub dataset: u64,
    pub dataset_perc: f64,
    pub peak_perc: f64,
    pub allocated: u64,
    pub active: u64,
    pub resident: u64,
    pub rss: u64,
    clients: usize,
    replicas: usize,
    scripts: usize,
}

impl Overhead {
    /// From the cores' merged statistics (`info::merge`) and the allocator now.
    pub fn of(shared: &Shared, stats: &CoreStats) -> Overhead {
        let a = crate::info::allocator_stats();
        let rss = crate::info::rss_bytes();
        let total = a.allocated;
        let peak = shared
            .meter
            .peak
            .fetch_max(total, Ordering::Relaxed)
            .max(total);
        let startup = shared.startup_allocated.load(Ordering::Relaxed).min(total);
        let backlog = crate::feed::backlog_bytes(&shared.feed);
        let lua_caches = shared.scripts.bytes() as u64;
        let functions_caches = shared.functions.code_bytes() as u64;
        let dbs: Vec<(usize, u64, u64, u64)> = stats
            .db_overheads
            .iter()
            .map(|&(db, main, slots)| (db, main as u64, 0, slots as u64))
            .collect();
        let overhead_total = startup
            + backlog
            + stats.clients_replicas
            + stats.clients_normal
            + lua_caches
            + functions_caches
            + dbs.iter().map(|d| d.1 + d.2 + d.3).sum::<u64>();
        let net = total.saturating_sub(startup);
        let keys = stats.keys as u64;
        let dataset = total.saturating_sub(overhead_total);
        Overhead {
            peak,
            total,
            startup,
            backlog,
            clients_replicas: stats.clients_replicas,
            clients_normal: stats.clients_normal,
            cluster_links: 0,
            aof_buffer: 0,
            lua_caches,
            functions_caches,
            dbs,
            overhead_total,
            keys,
            bytes_per_key: net.checked_div(keys).unwrap_or(0),
            dataset,
            dataset_perc: if net > 0 {
                dataset as f64 * 100.0 / net as f64
            } else {
                0.0
            },
            peak_perc: if peak > 0 {
                total as f64 * 100.0 / peak as f64
            } else {
                0.0
            },
            allocated: a.allocated,
            active: a.active,
            resident: a.resident,
            rss,
            clients: stats.clients,
            replicas: stats.replicas,
            scripts: shared.scripts.len(),
        }
    }

    fn ratio(a: u64, b: u64) -> f64 {
        if b > 0 {
            a as f64 / b as f64
        } else {
            0.0
        }
    }

    pub fn allocator_frag(&self) -> (f64, i64) {
        (
            Self::ratio(self.active, self.allocated),
            self.active as i64 - self.allocated as i64,
        )
    }

    pub fn allocator_rss(&self) -> (f64, i64) {
        (
            Self::ratio(self.resident, self.active),
            self.resident as i64 - self.active as i64,
        )
    }

    pub fn rss_extra(&self) -> (f64, i64) {
        (
            Self::ratio(self.rss, self.resident),
            self.rss as i64 - self.resident as i64,
        )
    }

    /// The whole RSS overhead, fragmentation included (mem_fragmentation_ratio).
    pub fn total_frag(&self) -> (f64, i64) {
        (
            Self::ratio(self.rss, self.total),
            self.rss as i64 - self.total as i64,
        )
    }

    /// MEMORY STATS' reply.
    pub fn write(&self, w: &mut Writer) {
        w.map(27 + self.dbs.len());
        let int = |w: &mut Writer, name: &str, v: i64| {
            w.bulk(name.as_bytes());
            w.integer(v);
        };
        int(w, "peak.allocated", self.peak as i64);
        int(w, "total.allocated", self.total as i64);
        int(w, "startup.allocated", self.startup as i64);
        int(w, "replication.backlog", self.backlog as i64);
        int(w, "clients.slaves", self.clients_replicas as i64);
        int(w, "clients.normal", self.clients_normal as i64);
        int(w, "cluster.links", self.cluster_links as i64);
        int(w, "aof.buffer", self.aof_buffer as i64);
        int(w, "lua.caches", self.lua_caches as i64);
        int(w, "functions.caches", self.functions_caches as i64);
        for &(db, main, expires, slots) in &self.dbs {
            w.bulk(format!("db.{db}").as_bytes());
            w.map(3);
            int(w, "overhead.hashtable.main", main as i64);
            int(w, "overhead.hashtable.expires", expires as i64);
            int(w, "overhead.hashtable.slot-to-keys", slots as i64);
        }
        int(w, "overhead.total", self.overhead_total as i64);
        int(w, "keys.count", self.keys as i64);
        int(w, "keys.bytes-per-key", self.bytes_per_key as i64);
        int(w, "dataset.bytes", self.dataset as i64);
        let double = |w: &mut Writer, name: &str, v: f64| {
            w.bulk(name.as_bytes());
            w.double(v);
        };
        double(w, "dataset.percentage", self.dataset_perc);
        double(w, "peak.percentage", self.peak_perc);
        int(w, "allocator.allocated", self.allocated as i64);
        int(w, "allocator.active", self.active as i64);
        int(w, "allocator.resident", self.resident as i64);
        let (r, b) = self.allocator_frag();
        double(w, "allocator-fragmentation.ratio", r);
        int(w, "allocator-fragmentation.bytes", b);
        let (r, b) = self.allocator_rss();
        double(w, "allocator-rss.ratio", r);
        int(w, "allocator-rss.bytes", b);
        let (r, b) = self.rss_extra();
        double(w, "rss-overhead.ratio", r);
        int(w, "rss-overhead.bytes", b);
        let (r, b) = self.total_frag();
        double(w, "fragmentation", r);
        int(w, "fragmentation.bytes", b);
    }

    /// MEMORY DOCTOR's report, on Redis' criteria and in its words.
    pub fn doctor(&self) -> String {
        const MB: i64 = 1 << 20;
        let mut found: Vec<&str> = Vec::new();
        // Redis' test is on what is allocated; percore's cores hold several MB of their
        // own before any data (rings, buffers), so the test is on what came since.
        let empty = self.total.saturating_sub(self.startup) < 5 * MB as u64;
        if !empty {
            if Self::ratio(self.peak, self.total) > 1.5 {
                found.push(" * Peak memory: In the past this instance used more than 150% the memory that is currently using. The allocator is normally not able to release memory after a peak, so you can expect to see a big fragmentation ratio, however this is actually harmless and is only due to the memory peak, and if the Redis instance Resident Set Size (RSS) is currently bigger than expected, the memory will be used as soon as you fill the Redis instance with more data. If the memory peak was only occasional and you want to try to reclaim memory, please try the MEMORY PURGE command, otherwise the only other option is to shutdown and restart the instance.\n\n");
            }
            let (r, b) = self.total_frag();
            if r > 1.4 && b > 10 * MB {
                found.push(" * High total RSS: This instance has a memory fragmentation and RSS overhead greater than 1.4 (this means that the Resident Set Size of the Redis process is much larger than the sum of the logical allocations Redis performed). This problem is usually due either to a large peak memory (check if there is a peak memory entry above in the report) or may result from a workload that causes the allocator to fragment memory a lot. If the problem is a large peak memory, then there is no issue. Otherwise, make sure you are using the Jemalloc allocator and not the default libc malloc. Note: The currently used allocator is \"jemalloc-5.3.0\".\n\n");
            }
            let (r, b) = self.allocator_frag();
            if r > 1.1 && b > 10 * MB {
                found.push(" * High allocator fragmentation: This instance has an allocator external fragmentation greater than 1.1. This problem is usually due either to a large peak memory (check if there is a peak memory entry above in the report) or may result from a workload that causes the allocator to fragment memory a lot. You can try enabling 'activedefrag' config option.\n\n");
            }
            let (r, b) = self.allocator_rss();
            if r > 1.1 && b > 10 * MB {
                found.push(" * High allocator RSS overhead: This instance has an RSS memory overhead is greater than 1.1 (this means that the Resident Set Size of the allocator is much larger than the sum what the allocator actually holds). This problem is usually due to a large peak memory (check if there is a peak memory entry above in the report), you can try the MEMORY PURGE command to reclaim it.\n\n");
            }
            let (r, b) = self.rss_extra();
            if r > 1.1 && b > 10 * MB {
                found.push(" * High process RSS overhead: This instance has non-allocator RSS memory overhead is greater than 1.1 (this means that the Resident Set Size of the Redis process is much larger than the RSS the allocator holds). This problem may be due to Lua scripts or Modules.\n\n");
            }
            if self.replicas > 0 && self.clients_replicas > 10 * MB as u64 {
                found.push(" * Big replica buffers: The replica output buffers in this instance are greater than 10MB for each replica (on average). This likely means that there is some replica instance that is struggling receiving data, either because it is too slow or because of networking issues. As a result, data piles on the master output buffers. Please try to identify what replica is not receiving data correctly and why. You can use the INFO output in order to check the replicas delays and the CLIENT LIST command to check the output buffers of each replica.\n\n");
            }
            if self.clients_normal / self.clients.max(1) as u64 > 200 * 1024 {
                found.push(" * Big client buffers: The clients output buffers in this instance are greater than 200K per client (on average). This may result from different causes, like Pub/Sub clients subscribed to channels bot not receiving data fast enough, so that data piles on the Redis instance output buffer, or clients sending commands with large replies or very large sequences of commands in the same pipeline. Please use the CLIENT LIST command in order to investigate the issue if it causes problems in your instance, or to understand better why certain clients are using a big amount of memory.\n\n");
            }
            if self.scripts > 1000 {
                found.push(" * Many scripts: There seem to be many cached scripts in this instance (more than 1000). This may be because scripts are generated and `EVAL`ed, instead of being parameterized (with KEYS and ARGV), `SCRIPT LOAD`ed and `EVALSHA`ed. Unless `SCRIPT FLUSH` is called periodically, the scripts' caches may end up consuming most of your memory.\n\n");
            }
        }
        if empty {
            "Hi Sam, this instance is empty or is using very little memory, my issues detector can't be used in these conditions. Please, leave for your mission on Earth and fill it with some data. The new Sam and I will be back to our programming as soon as I finished rebooting.\n".into()
        } else if found.is_empty() {
            "Hi Sam, I can't find any memory issue in your instance. I can only account for what occurs on this base.\n".into()
        } else {
            let mut s = String::from(
                "Sam, I detected a few issues in this Redis instance memory implants:\n\n",
            );
            for f in found {
                s.push_str(f);
            }
            s.push_str("I'm here to keep you safe, Sam. I want to help you.\n");
            s
        }
    }
}

/// MEMORY STATS and MEMORY DOCTOR: every core's statistics, then the overhead.
pub async fn gather(core: &std::rc::Rc<crate::core::Core>) -> Overhead {
    let per_core = core
        .ask_all(|_| crate::core::calls::Stats::default(), None)
        .await;
    let stats = crate::info::merge(per_core);
    Overhead::of(&core.shared, &stats)
}
