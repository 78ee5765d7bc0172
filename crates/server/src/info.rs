//! INFO, with Redis 7.0's section and field names so redis-cli, exporters and client
//! libraries parse it. Figures that span cores are gathered from every core.

use crate::conn::Conn;
use crate::core::calls;
use crate::ops::CoreStats;
use crate::runtime::REDIS_VERSION;
use engine::{Args, DbInfo};
use std::fmt::Write;
use std::sync::atomic::Ordering;

const DEFAULT: &[&str] = &[
    "server",
    "clients",
    "memory",
    "persistence",
    "stats",
    "replication",
    "cpu",
    "modules",
    "errorstats",
    "cluster",
    "keyspace",
];

pub async fn render(c: &mut Conn, args: Args<'_>) -> String {
    let wanted = Wanted::of(args);
    let core = c.core.clone();
    let pubsub = wanted.has("stats");
    let histograms = wanted.has("latencystats");
    let commands = histograms || wanted.has("commandstats") || wanted.has("errorstats");
    let call = |_| calls::Stats {
        pubsub,
        commands,
        histograms,
    };
    let stats = core.ask_all(call, None).await;
    let dbs = match wanted.has("keyspace") {
        true => core.ask_all(|_| calls::DbInfo, None).await,
        false => Vec::new(),
    };
    text(&core.shared, &wanted, stats, dbs)
}

/// Every core's statistics added up (distinct Pub/Sub names are counted later).
pub fn merge(per_core: Vec<CoreStats>) -> CoreStats {
    let mut stats = CoreStats::default();
    for s in per_core {
        stats.keyspace_hits += s.keyspace_hits;
        stats.keyspace_misses += s.keyspace_misses;
        stats.expired_keys += s.expired_keys;
        stats.evicted_keys += s.evicted_keys;
        stats.dirty += s.dirty;
        stats.commands += s.commands;
        stats.keys += s.keys;
        stats.net_input_bytes += s.net_input_bytes;
        stats.net_output_bytes += s.net_output_bytes;
        stats.hops_sent += s.hops_sent;
        stats.error_replies += s.error_replies;
        stats.tracking.0 += s.tracking.0;
        stats.tracking.1 += s.tracking.1;
        stats.tracking.2 = stats.tracking.2.max(s.tracking.2);
        stats.clients_normal += s.clients_normal;
        stats.clients_replicas += s.clients_replicas;
        stats.clients += s.clients;
        stats.replicas += s.replicas;
        for (db, main, slots) in s.db_overheads {
            match stats.db_overheads.iter_mut().find(|d| d.0 == db) {
                Some(d) => {
                    d.1 += main;
                    d.2 += slots;
                }
                None => stats.db_overheads.push((db, main, slots)),
            }
        }
        if let Some(c) = &s.cmdstats {
            stats.cmdstats.get_or_insert_with(Default::default).merge(c);
        }
        stats.max_input_buffer = stats.max_input_buffer.max(s.max_input_buffer);
        stats.max_output_buffer = stats.max_output_buffer.max(s.max_output_buffer);
        for (all, names) in stats.pubsub.iter_mut().zip(s.pubsub) {
            all.extend(names);
        }
    }
    stats.db_overheads.sort();
    stats
}

/// The sections INFO's arguments ask for.
pub struct Wanted(Vec<String>);

impl Wanted {
    pub fn of(args: Args<'_>) -> Wanted {
        let mut wanted: Vec<String> = args
            .iter()
            .skip(1)
            .map(|a| String::from_utf8_lossy(a).to_ascii_lowercase())
            .collect();
        if wanted.is_empty() || wanted.iter().any(|w| w == "default") {
            wanted.extend(DEFAULT.iter().map(|s| s.to_string()));
        }
        if wanted.iter().any(|w| w == "all" || w == "everything") {
            wanted.extend(DEFAULT.iter().map(|s| s.to_string()));
            wanted.push("commandstats".into());
            wanted.push("latencystats".into());
        }
        Wanted(wanted)
    }

    pub fn has(&self, section: &str) -> bool {
        self.0.iter().any(|w| w == section)
    }
}

/// INFO's text from every core's statistics (`calls::Stats`) and, when the keyspace
/// section is wanted, databases (`calls::DbInfo`).
pub fn text(
    shared: &crate::shared::Shared,
    wanted: &Wanted,
    per_core: Vec<CoreStats>,
    per_core_dbs: Vec<Vec<engine::DbInfo>>,
) -> String {
    let want = |s: &str| wanted.has(s);
    let mut stats = merge(per_core);
    let mut dbs: Vec<DbInfo> = Vec::new();
    for v in per_core_dbs {
        if dbs.is_empty() {
            dbs = vec![DbInfo::default(); v.len()];
        }
        for (acc, d) in dbs.iter_mut().zip(v) {
            acc.keys += d.keys;
            acc.expires += d.expires;
            acc.ttl_sum_ms += d.ttl_sum_ms;
        }
    }
    let cfg = shared.config.read().map(|c| {
        (
            c.config_file(),
            c.maxmemory(),
            c.maxmemory_policy(),
            c.hz(),
            c.maxclients(),
        )
    });
    let (config_file, maxmemory, policy, hz, maxclients) =
        cfg.unwrap_or((None, 0, "noeviction".into(), 10, 10000));
    let uptime = shared.started.elapsed().as_secs();
    let mut s = String::new();
    let section = |name: &str, s: &mut String| {
        if !s.is_empty() {
            s.push_str("\r\n");
        }
        let _ = write!(s, "# {name}\r\n");
    };
    if want("server") {
        section("Server", &mut s);
        let _ = write!(
            s,
            "redis_version:{REDIS_VERSION}\r\nredis_git_sha1:00000000\r\nredis_git_dirty:0\r\nredis_build_id:{}\r\nredis_mode:{}\r\nos:{}\r\narch_bits:64\r\nmonotonic_clock:POSIX clock_gettime\r\nmultiplexing_api:io_uring\r\natomicvar_api:c11-builtin\r\ngcc_version:0.0.0\r\nprocess_id:{}\r\nprocess_supervised:no\r\nrun_id:{}\r\ntcp_port:{}\r\nserver_time_usec:{}\r\nuptime_in_seconds:{}\r\nuptime_in_days:{}\r\nhz:{}\r\nconfigured_hz:{}\r\nlru_clock:{}\r\nexecutable:{}\r\nconfig_file:{}\r\nio_threads_active:0\r\npercore_version:{}\r\nio_backend:{}\r\nshards:{}\r\n",
            build_id(),
            if shared.cluster.is_some() { "cluster" } else { "standalone" },
            os_name(),
            std::process::id(),
            shared.run_id,
            shared.tcp_port.load(Ordering::Relaxed),
            engine::shard::unix_ms() * 1000,
            uptime,
            uptime / 86400,
            hz,
            hz,
            (engine::shard::unix_ms() / 1000) & ((1 << 24) - 1),
            std::env::current_exe().map(|p| p.display().to_string()).unwrap_or_default(),
            config_file.map(|p| p.display().to_string()).unwrap_or_default(),
            env!("CARGO_PKG_VERSION"),
            shared.io_backend,
            shared.shards,
        );
    }
    if want("clients") {
        section("Clients", &mut s);
        let _ = write!(
            s,
            "connected_clients:{}\r\ncluster_connections:0\r\nmaxclients:{}\r\nclient_recent_max_input_buffer:{}\r\nclient_recent_max_output_buffer:{}\r\nblocked_clients:{}\r\ntracking_clients:{}\r\nclients_in_timeout_table:0\r\n",
            shared.connected_clients.load(Ordering::Relaxed),
            maxclients,
            stats.max_input_buffer,
            stats.max_output_buffer,
            shared.blocked_clients.load(Ordering::Relaxed),
            shared.tracking_clients.load(Ordering::Relaxed),
        );
    }
    if want("memory") {
        section("Memory", &mut s);
        // One epoch advance for all the allocator's figures; used_memory is its allocated.
        let o = crate::memstats::Overhead::of(shared, &stats);
        let (used, rss, peak) = (o.total, o.rss, o.peak);
        let (af, afb) = o.allocator_frag();
        let (ar, arb) = o.allocator_rss();
        let (rr, rrb) = o.rss_extra();
        let (tf, tfb) = o.total_frag();
        let _ = write!(
            s,
            "used_memory:{used}\r\nused_memory_human:{}\r\nused_memory_rss:{rss}\r\nused_memory_rss_human:{}\r\nused_memory_peak:{peak}\r\nused_memory_peak_human:{}\r\nused_memory_peak_perc:{:.2}%\r\nused_memory_overhead:{}\r\nused_memory_startup:{}\r\nused_memory_dataset:{}\r\nused_memory_dataset_perc:{:.2}%\r\nallocator_allocated:{}\r\nallocator_active:{}\r\nallocator_resident:{}\r\ntotal_system_memory:{}\r\ntotal_system_memory_human:{}\r\nmaxmemory:{maxmemory}\r\nmaxmemory_human:{}\r\nmaxmemory_policy:{policy}\r\nallocator_frag_ratio:{af:.2}\r\nallocator_frag_bytes:{afb}\r\nallocator_rss_ratio:{ar:.2}\r\nallocator_rss_bytes:{arb}\r\nrss_overhead_ratio:{rr:.2}\r\nrss_overhead_bytes:{rrb}\r\nmem_fragmentation_ratio:{tf:.2}\r\nmem_fragmentation_bytes:{tfb}\r\nmem_not_counted_for_evict:0\r\nmem_replication_backlog:{}\r\nmem_clients_slaves:{}\r\nmem_clients_normal:{}\r\nmem_cluster_links:{}\r\nmem_aof_buffer:{}\r\nmem_allocator:{}\r\nlazyfree_pending_objects:0\r\nlazyfreed_objects:0\r\n",
            human(used),
            human(rss),
            human(peak),
            o.peak_perc,
            o.overhead_total,
            o.startup,
            o.dataset,
            o.dataset_perc,
            o.allocated,
            o.active,
            o.resident,
            total_system_memory(),
            human(total_system_memory()),
            human(maxmemory),
            o.backlog,
            o.clients_replicas,
            o.clients_normal,
            o.cluster_links,
            o.aof_buffer,
            mem_allocator(),
        );
    }
    if want("persistence") {
        section("Persistence", &mut s);
        let p = &shared.persist;
        let saving = p.saving.load(Ordering::Relaxed);
        let current = if saving {
            ((engine::shard::unix_ms() - p.started_ms.load(Ordering::Relaxed)) / 1000) as i64
        } else {
            -1
        };
        let _ = write!(
            s,
            "loading:{}\r\nasync_loading:0\r\ncurrent_cow_peak:0\r\ncurrent_cow_size:0\r\ncurrent_cow_size_age:0\r\ncurrent_fork_perc:0.00\r\ncurrent_save_keys_processed:0\r\ncurrent_save_keys_total:0\r\nrdb_changes_since_last_save:{}\r\nrdb_bgsave_in_progress:{}\r\nrdb_last_save_time:{}\r\nrdb_last_bgsave_status:{}\r\nrdb_last_bgsave_time_sec:{}\r\nrdb_current_bgsave_time_sec:{}\r\nrdb_saves:{}\r\nrdb_last_cow_size:0\r\n",
            u8::from(p.loading.load(Ordering::Relaxed)),
            stats.dirty.saturating_sub(p.dirty_at_save.load(Ordering::Relaxed)),
            u8::from(saving),
            shared.lastsave.load(Ordering::Relaxed),
            if p.last_ok.load(Ordering::Relaxed) { "ok" } else { "err" },
            p.last_secs.load(Ordering::Relaxed),
            current,
            p.saves.load(Ordering::Relaxed),
        );
        crate::aof::info(shared, &mut s);
    }
    if want("stats") {
        section("Stats", &mut s);
        let distinct = stats
            .pubsub
            .each_ref()
            .map(|names| names.iter().collect::<std::collections::HashSet<_>>().len());
        let secs = uptime.max(1);
        let exceeded = shared.meter.exceeded_ms();
        let _ = write!(
            s,
            "total_connections_received:{}\r\ntotal_commands_processed:{}\r\ninstantaneous_ops_per_sec:{}\r\ntotal_net_input_bytes:{}\r\ntotal_net_output_bytes:{}\r\nrejected_connections:{}\r\nsync_full:{}\r\nsync_partial_ok:{}\r\nsync_partial_err:{}\r\nexpired_keys:{}\r\nevicted_keys:{}\r\ntotal_eviction_exceeded_time:{}\r\ncurrent_eviction_exceeded_time:{}\r\nkeyspace_hits:{}\r\nkeyspace_misses:{}\r\npubsub_channels:{}\r\npubsub_patterns:{}\r\npubsubshard_channels:{}\r\ntracking_total_keys:{}\r\ntracking_total_items:{}\r\ntracking_total_prefixes:{}\r\ntotal_error_replies:{}\r\ntotal_cross_shard_hops:{}\r\n",
            shared.total_connections.load(Ordering::Relaxed),
            stats.commands,
            stats.commands / secs,
            stats.net_input_bytes,
            stats.net_output_bytes,
            shared.rejected_connections.load(Ordering::Relaxed),
            shared.feed.stats.full.load(Ordering::Relaxed),
            shared.feed.stats.partial_ok.load(Ordering::Relaxed),
            shared.feed.stats.partial_err.load(Ordering::Relaxed),
            stats.expired_keys,
            stats.evicted_keys,
            exceeded.1,
            exceeded.0,
            stats.keyspace_hits,
            stats.keyspace_misses,
            distinct[0],
            distinct[1],
            distinct[2],
            stats.tracking.0,
            stats.tracking.1,
            stats.tracking.2,
            stats.error_replies,
            stats.hops_sent,
        );
    }
    if want("replication") {
        section("Replication", &mut s);
        crate::repl::info(shared, &mut s);
    }
    if want("cpu") {
        section("CPU", &mut s);
        let (user, sys) = cpu_times();
        let _ = write!(
            s,
            "used_cpu_sys:{sys:.6}\r\nused_cpu_user:{user:.6}\r\nused_cpu_sys_children:0.000000\r\nused_cpu_user_children:0.000000\r\n"
        );
    }
    if want("modules") {
        section("Modules", &mut s);
    }
    let cmdstats = stats.cmdstats.take().unwrap_or_default();
    if want("commandstats") {
        section("Commandstats", &mut s);
        for (name, c) in cmdstats.used() {
            if c.calls == 0 && c.failed == 0 && c.rejected == 0 {
                continue;
            }
            let per_call = match c.calls {
                0 => 0.0,
                n => c.usec as f32 / n as f32,
            };
            let _ = write!(
                s,
                "cmdstat_{}:calls={},usec={},usec_per_call={per_call:.2},rejected_calls={},failed_calls={}\r\n",
                safe(name),
                c.calls,
                c.usec,
                c.rejected,
                c.failed
            );
        }
    }
    if want("errorstats") {
        section("Errorstats", &mut s);
        for (code, n) in &cmdstats.errors {
            let _ = write!(s, "errorstat_{}:count={n}\r\n", safe(code));
        }
    }
    if want("latencystats") {
        section("Latencystats", &mut s);
        let percentiles = latency_percentiles(shared);
        let tracking = shared.config_bool("latency-tracking");
        for (name, c) in cmdstats.used().into_iter().filter(|_| tracking) {
            let Some(h) = &c.hist else { continue };
            let _ = write!(s, "latency_percentiles_usec_{}:", safe(name));
            for (j, p) in percentiles.iter().enumerate() {
                let us = h.value_at_percentile(*p) as f64 / 1000.0;
                let sep = if j + 1 < percentiles.len() { "," } else { "" };
                let _ = write!(s, "p{}={us:.3}{sep}", percentile_name(*p));
            }
            s.push_str("\r\n");
        }
    }
    if want("cluster") {
        section("Cluster", &mut s);
        s.push_str(if shared.cluster.is_some() {
            "cluster_enabled:1\r\n"
        } else {
            "cluster_enabled:0\r\n"
        });
    }
    if want("keyspace") {
        section("Keyspace", &mut s);
        for (i, d) in dbs.iter().enumerate() {
            if d.keys > 0 {
                let avg = if d.expires > 0 {
                    d.ttl_sum_ms / d.expires as u64
                } else {
                    0
                };
                let _ = write!(
                    s,
                    "db{i}:keys={},expires={},avg_ttl={avg}\r\n",
                    d.keys, d.expires
                );
            }
        }
    }
    s
}

/// An INFO field name without the characters that would break INFO's format.
fn safe(name: &str) -> String {
    name.replace(['#', ':', '\n', '\r'], "_")
}

/// latency-tracking-info-percentiles.
pub fn latency_percentiles(shared: &crate::shared::Shared) -> Vec<f64> {
    let text = shared
        .config
        .read()
        .ok()
        .and_then(|c| c.get("latency-tracking-info-percentiles"))
        .unwrap_or_default();
    text.split_whitespace()
        .filter_map(|p| p.parse().ok())
        .collect()
}

/// A percentile as Redis names it in INFO ("%f" without trailing zeros: 50, 99.9).
fn percentile_name(p: f64) -> String {
    let s = format!("{p:.6}");
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}

fn human(n: u64) -> String {
    let n = n as f64;
    if n < 1024.0 {
        format!("{n}B")
    } else if n < 1024.0 * 1024.0 {
        format!("{:.2}K", n / 1024.0)
    } else if n < 1024.0 * 1024.0 * 1024.0 {
        format!("{:.2}M", n / (1024.0 * 1024.0))
    } else {
        format!("{:.2}G", n / (1024.0 * 1024.0 * 1024.0))
    }
}

fn os_name() -> String {
    // SAFETY: uname fills a caller-owned struct; the fields are NUL-terminated C strings.
    unsafe {
        let mut u: libc::utsname = std::mem::zeroed();
        if libc::uname(&mut u) != 0 {
            return "Linux".into();
        }
        let f = |b: &[libc::c_char]| {
            std::ffi::CStr::from_ptr(b.as_ptr())
                .to_string_lossy()
                .into_owned()
        };
        format!("{} {} {}", f(&u.sysname), f(&u.release), f(&u.machine))
    }
}

/// Bytes the program has allocated (jemalloc's `stats.allocated`, refreshed by an epoch
/// bump); 0 when jemalloc is not the global allocator (unit tests of this crate).
pub fn used_memory() -> u64 {
    use tikv_jemalloc_ctl::{epoch, stats};
    if epoch::advance().is_err() {
        return 0;
    }
    stats::allocated::read().map_or(0, |v| v as u64)
}

/// jemalloc's allocated, active and resident bytes (INFO's allocator_* fields).
#[derive(Default)]
pub struct AllocatorStats {
    pub allocated: u64,
    pub active: u64,
    pub resident: u64,
}

pub fn allocator_stats() -> AllocatorStats {
    use tikv_jemalloc_ctl::{epoch, stats};
    if epoch::advance().is_err() {
        return AllocatorStats::default();
    }
    AllocatorStats {
        allocated: stats::allocated::read().unwrap_or(0) as u64,
        active: stats::active::read().unwrap_or(0) as u64,
        resident: stats::resident::read().unwrap_or(0) as u64,
    }
}

/// What the allocator holds now (used_memory).
pub fn allocated_now() -> u64 {
    allocator_stats().allocated
}

/// This build's id, as redis-server's `redis_build_id`: 16 hex digits that differ between
/// versions and targets.
pub fn build_id() -> String {
    let what = format!(
        "{}/{}/{}",
        env!("CARGO_PKG_VERSION"),
        std::env::consts::ARCH,
        std::env::consts::OS
    );
    // FNV-1a: any stable 64-bit hash does.
    let hash = what.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ b as u64).wrapping_mul(0x0100_0000_01b3)
    });
    format!("{hash:016x}")
}

/// `percore-server --version`: redis-server's line (harnesses such as redis-rs' parse
/// `v=` to learn what the server supports), percore's own version after it.
pub fn version_line() -> String {
    format!(
        "Redis server v={REDIS_VERSION} sha=00000000:0 malloc={} bits=64 build={} percore={}",
        mem_allocator(),
        build_id(),
        env!("CARGO_PKG_VERSION")
    )
}

/// "jemalloc-5.3.0", as Redis reports its allocator.
fn mem_allocator() -> String {
    match tikv_jemalloc_ctl::version::read() {
        Ok(v) => format!("jemalloc-{}", v.split('-').next().unwrap_or(v)),
        Err(_) => "libc".into(),
    }
}

pub fn rss_bytes() -> u64 {
    std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|s| {
            s.split_whitespace()
                .nth(1)
                .and_then(|v| v.parse::<u64>().ok())
        })
        .map(|pages| pages * 4096)
        .unwrap_or(0)
}

fn total_system_memory() -> u64 {
    std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("MemTotal:"))
                .and_then(|l| {
                    l.split_whitespace()
                        .nth(1)
                        .and_then(|v| v.parse::<u64>().ok())
                })
        })
        .map(|kb| kb * 1024)
        .unwrap_or(0)
}

fn cpu_times() -> (f64, f64) {
    // SAFETY: getrusage fills a caller-owned struct.
    unsafe {
        let mut r: libc::rusage = std::mem::zeroed();
        if libc::getrusage(libc::RUSAGE_SELF, &mut r) != 0 {
            return (0.0, 0.0);
        }
        let t = |tv: libc::timeval| tv.tv_sec as f64 + tv.tv_usec as f64 / 1e6;
        (t(r.ru_utime), t(r.ru_stime))
    }
}
