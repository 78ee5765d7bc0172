//! The memory in use as maxmemory counts it, and how the cores share one limit.
//!
//! Counting: jemalloc keeps, per thread, the bytes that thread has allocated and freed
//! (`thread.allocatedp`/`deallocatedp`, a plain load to read). A core's net (allocated minus
//! freed by its thread) is exact and free to read on that core; the core publishes it in
//! `Meter::cores` and reads the others' every 16 checks, and again whenever its estimate
//! crosses the limit. The sum over cores plus a correction for what other threads hold (the
//! main thread, start-up allocations), refreshed from jemalloc's `stats.allocated` every
//! 100 ms by core 0, is the server's used memory. A byte allocated on one core and freed on
//! another lowers the second's net and leaves the first's high: the sum stays exact.
//!
//! Sharing: the limit is the server's; no core has a quota, so a core holding large keys
//! may use what another leaves unused. While the total is over the limit, each core evicts
//! its share of the excess (in proportion to the memory it holds, within
//! maxmemory-eviction-tenacity's time): before it runs a command on its own keys (a client's,
//! or a batch another core sent), as Redis evicts before each command, and every millisecond
//! from a timer, so that a core whose keys are cold, and which runs no commands, sheds them
//! too. Evicting where the keys live frees memory in the arena that allocates it again. A command flagged denyoom is refused with -OOM only when the total is over and
//! no core has anything its policy may evict (or the policy is noeviction).

use crate::core::Core;
use engine::evict::{Outcome, Policy};
use std::cell::Cell;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// A cache line of its own for each core's published net, so that publishing does not
/// invalidate the line the neighbours publish in.
#[repr(align(64))]
#[derive(Default)]
struct Slot {
    net: AtomicI64,
    /// This core's keyspace has something the policy may evict.
    evictable: AtomicBool,
}

/// What the cores publish and share (in `Shared`).
pub struct Meter {
    cores: Vec<Slot>,
    /// `stats.allocated` minus the sum of the cores' nets at the last refresh.
    correction: AtomicI64,
    /// used_memory_peak.
    pub peak: AtomicU64,
    /// Unix ms since when the total has been over the limit (0: it is not).
    over_since_ms: AtomicU64,
    /// total_eviction_exceeded_time, of the periods over that ended.
    over_total_ms: AtomicU64,
}

impl Meter {
    pub fn new(cores: usize) -> Meter {
        Meter {
            cores: (0..cores).map(|_| Slot::default()).collect(),
            correction: AtomicI64::new(0),
            peak: AtomicU64::new(0),
            over_since_ms: AtomicU64::new(0),
            over_total_ms: AtomicU64::new(0),
        }
    }

    fn publish(&self, core: usize, net: i64) {
        self.cores[core].net.store(net, Ordering::Relaxed);
    }

    fn nets(&self) -> i64 {
        self.cores
            .iter()
            .map(|s| s.net.load(Ordering::Relaxed))
            .sum()
    }

    /// What all but `core` hold, by their last publication.
    fn others(&self, core: usize) -> i64 {
        self.nets() - self.cores[core].net.load(Ordering::Relaxed)
            + self.correction.load(Ordering::Relaxed)
    }

    /// The server's used memory by the cores' last publications.
    pub fn total(&self) -> i64 {
        self.nets() + self.correction.load(Ordering::Relaxed)
    }

    /// Re-bases the estimate on jemalloc's own count, and keeps the peak.
    fn refresh_correction(&self) {
        let allocated = crate::info::used_memory();
        if allocated == 0 {
            return;
        }
        self.correction
            .store(allocated as i64 - self.nets(), Ordering::Relaxed);
        self.peak.fetch_max(allocated, Ordering::Relaxed);
    }

    fn set_evictable(&self, core: usize, yes: bool) {
        self.cores[core].evictable.store(yes, Ordering::Relaxed);
    }

    fn any_evictable(&self) -> bool {
        self.cores
            .iter()
            .any(|s| s.evictable.load(Ordering::Relaxed))
    }

    /// Notes whether the total is over the limit now (for the exceeded-time fields).
    fn note_over(&self, over: bool) {
        let since = self.over_since_ms.load(Ordering::Relaxed);
        if over && since == 0 {
            self.over_since_ms
                .store(engine::shard::unix_ms().max(1), Ordering::Relaxed);
        } else if !over && since != 0 {
            let now = engine::shard::unix_ms();
            if self
                .over_since_ms
                .compare_exchange(since, 0, Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
            {
                self.over_total_ms
                    .fetch_add(now.saturating_sub(since), Ordering::Relaxed);
            }
        }
    }

    /// INFO's current_eviction_exceeded_time and total_eviction_exceeded_time, in ms.
    pub fn exceeded_ms(&self) -> (u64, u64) {
        let since = self.over_since_ms.load(Ordering::Relaxed);
        let current = if since == 0 {
            0
        } else {
            engine::shard::unix_ms().saturating_sub(since)
        };
        (
            current,
            self.over_total_ms.load(Ordering::Relaxed) + current,
        )
    }

    /// CONFIG RESETSTAT.
    pub fn reset_stats(&self) {
        self.over_total_ms.store(0, Ordering::Relaxed);
        self.peak
            .store(crate::info::used_memory(), Ordering::Relaxed);
    }
}

thread_local! {
    /// This thread's jemalloc counters (None without jemalloc, in unit tests).
    static COUNTERS: Option<(
        tikv_jemalloc_ctl::thread::ThreadLocal<u64>,
        tikv_jemalloc_ctl::thread::ThreadLocal<u64>,
    )> = tikv_jemalloc_ctl::thread::allocatedp::read()
        .and_then(|a| tikv_jemalloc_ctl::thread::deallocatedp::read().map(|d| (a, d)))
        .ok();
}

/// Bytes this thread has allocated and not freed (negative when it freed others' bytes).
pub fn thread_net() -> i64 {
    COUNTERS.with(|c| c.map_or(0, |(a, d)| a.get() as i64 - d.get() as i64))
}

/// A core's side of the meter.
#[derive(Default)]
pub struct Local {
    others: Cell<i64>,
    checks: Cell<u32>,
    /// maxmemory, copied from the settings whenever they change (`set_limit`): the check
    /// before every command reads this word, not a copy of all the settings.
    max: Cell<u64>,
    /// The last check before a command found the server out of memory (what a script's
    /// denyoom calls look at: Redis' pre_command_oom_state).
    oom: Cell<bool>,
    /// The last check left the server more than `slack` over the limit: eviction is not
    /// keeping up, and writers wait for it (`behind`).
    behind: Cell<bool>,
    /// Bytes this core allocated and handed to another core to free (negative), or took
    /// from another core and will free (positive): with it, a core's net counts what it
    /// holds, not what its thread happened to allocate or free. Requests and replies carry
    /// batches from core to core; without this, a core forwarding writes looked as if it
    /// held the values, and the core holding them looked empty.
    adjust: Cell<i64>,
}

/// `bytes` allocated here now belong to another core (sent with a request or reply).
pub fn disown(core: &Core, bytes: i64) {
    core.mem.adjust.set(core.mem.adjust.get() - bytes);
}

/// `bytes` another core allocated now belong here (a request or reply received).
pub fn adopt(core: &Core, bytes: i64) {
    core.mem.adjust.set(core.mem.adjust.get() + bytes);
}

/// What this core holds: its thread's net, adjusted for bytes handed over.
fn core_net(core: &Core) -> i64 {
    thread_net() + core.mem.adjust.get()
}

/// The bytes a vector's buffer takes from the allocator (its size class under jemalloc).
pub fn vec_bytes<T>(v: &Vec<T>) -> i64 {
    let bytes = v.capacity() * std::mem::size_of::<T>();
    if bytes == 0 {
        return 0;
    }
    if jemalloc_global() {
        // SAFETY: a non-empty Vec's buffer is a live allocation of the global allocator,
        // which is jemalloc (checked).
        unsafe { tikv_jemallocator::usable_size(v.as_ptr()) as i64 }
    } else {
        bytes as i64
    }
}

/// Whether jemalloc is the global allocator (the server binary; not this crate's unit
/// tests): its thread counter moves when a box is allocated.
fn jemalloc_global() -> bool {
    use std::sync::atomic::AtomicU8;
    static KNOWN: AtomicU8 = AtomicU8::new(0);
    match KNOWN.load(Ordering::Relaxed) {
        1 => true,
        2 => false,
        _ => {
            let before = thread_net();
            let b = std::hint::black_box(vec![0u8; 8192]);
            let yes = thread_net() - before >= 8192;
            drop(b);
            KNOWN.store(if yes { 1 } else { 2 }, Ordering::Relaxed);
            yes
        }
    }
}

/// With a memory limit, jemalloc returns freed pages to the system within about a second
/// (`dirty_decay_ms` 1000, its default 10,000): a keyspace that grows and is evicted, or
/// a hash table freed after a resize, would otherwise stay in RSS for ten seconds, up to a
/// tenth over maxmemory. The background thread does the purging. Without a limit, jemalloc's
/// default.
pub fn set_decay(limited: bool) {
    let ms: isize = if limited { 1000 } else { 10_000 };
    // SAFETY: these jemalloc names take an ssize_t (a read-write value) and a u32.
    unsafe {
        if tikv_jemalloc_ctl::raw::read::<isize>(b"arenas.dirty_decay_ms\0") == Ok(ms) {
            return;
        }
        if let Err(e) = tikv_jemalloc_ctl::raw::write(b"arenas.dirty_decay_ms\0", ms) {
            tracing::debug!("jemalloc arenas.dirty_decay_ms: {e}");
            return;
        }
        let arenas = tikv_jemalloc_ctl::raw::read::<u32>(b"arenas.narenas\0").unwrap_or(0);
        for i in 0..arenas {
            // Arenas not in use yet refuse; they take the default just set when they start.
            let name = format!("arena.{i}.dirty_decay_ms\0");
            let _ = tikv_jemalloc_ctl::raw::write(name.as_bytes(), ms);
        }
    }
}

/// Redis' evictionTimeLimitUs: how long one eviction call may run, by
/// maxmemory-eviction-tenacity (0-10: 0-500 us; then 15% more per step; 100: no limit).
pub fn time_limit(tenacity: u32) -> Duration {
    match tenacity {
        0..=10 => Duration::from_micros(50 * u64::from(tenacity)),
        11..=99 => Duration::from_micros((500.0 * 1.15f64.powi(tenacity as i32 - 10)) as u64),
        _ => Duration::from_secs(3600),
    }
}

/// How far over maxmemory the server is by this core's estimate (its own net read now,
/// the others' as last read), None when under or without a limit.
fn over_by(core: &Core, max: u64) -> Option<i64> {
    if max == 0 {
        return None;
    }
    let max = max.min(i64::MAX as u64) as i64;
    let meter = &core.shared.meter;
    let local = &core.mem;
    let net = core_net(core);
    let n = local.checks.get().wrapping_add(1);
    local.checks.set(n);
    let mut used = net + local.others.get();
    let refresh = n.is_multiple_of(16) || used > max;
    if refresh {
        meter.publish(core.id, net);
        local.others.set(meter.others(core.id));
        used = net + local.others.get();
    }
    if used <= max {
        if refresh {
            meter.note_over(false);
        }
        return None;
    }
    Some(used - max)
}

/// Before a command, with maxmemory set (Redis' performEvictions from processCommand): while
/// the server is over the limit, evicts this core's keys (unless `owner`, asked only then,
/// names another core: the command's keys live there and that core evicts before it runs
/// the command, so memory is freed where it is allocated), and says whether the server is
/// out of memory (over, and nothing evictable on any core, or noeviction).
impl Local {
    pub fn new(maxmemory: u64) -> Local {
        let l = Local::default();
        l.max.set(maxmemory);
        l
    }
}

/// Records the settings' maxmemory on this core (at start and after CONFIG SET).
pub fn set_limit(core: &Core, maxmemory: u64) {
    core.mem.max.set(maxmemory);
}

pub fn make_room(core: &Core, owner: impl FnOnce() -> Option<usize>) -> bool {
    if core.mem.max.get() == 0 || core.shared.repl.ignores_maxmemory() {
        core.mem.oom.set(false);
        core.mem.behind.set(false);
        return false;
    }
    let oom = check(core, owner);
    core.mem.oom.set(oom);
    oom
}

/// How far over the limit the server may run while evicting before writers wait: a 32nd of
/// maxmemory, at least 1 MB. Evicting before each command keeps the excess near one
/// command's size; past this, writes arrive faster than eviction frees (large values
/// replacing many small keys, a core whose keys are to go held up by a long command).
fn slack(max: u64) -> i64 {
    (max / 32).max(1 << 20).min(i64::MAX as u64) as i64
}

/// Whether the last check before a command left the server more than `slack` over the
/// limit. Redis runs on in that case (its eviction continues from a timer while each write
/// adds more, so the process grows to many times maxmemory); here a write waits
/// (`Conn::wait_for_memory`) while this core and the others evict.
pub fn behind(core: &Core) -> bool {
    core.mem.behind.get()
}

/// What the server has beyond the limit by this core's estimate (its net read now).
fn excess_now(core: &Core, max: u64) -> i64 {
    core_net(core) + core.mem.others.get() - max.min(i64::MAX as u64) as i64
}

/// Whether the last command's check found the server out of memory.
pub fn was_oom(core: &Core) -> bool {
    core.mem.oom.get()
}

fn check(core: &Core, owner: impl FnOnce() -> Option<usize>) -> bool {
    let s = core.settings.get();
    let Some(excess) = over_by(core, s.maxmemory) else {
        core.mem.behind.set(false);
        return false;
    };
    let meter = &core.shared.meter;
    if s.eviction.policy == Policy::NoEviction {
        core.mem.behind.set(false);
        meter.note_over(true);
        return true;
    }
    if owner().is_some_and(|o| o != core.id) {
        core.mem.behind.set(excess > slack(s.maxmemory));
        return !core.shard.borrow().evictable() && !meter.any_evictable();
    }
    let outcome = evict_here(core, share(core, excess), s.tenacity);
    core.mem
        .behind
        .set(outcome != Outcome::Freed && excess_now(core, s.maxmemory) > slack(s.maxmemory));
    // Redis' exceeded time runs from an eviction that could not get under the limit to the
    // next one that did.
    meter.note_over(outcome != Outcome::Freed);
    outcome == Outcome::Nothing && !meter.any_evictable()
}

/// Before this core runs commands another core sent it: evicts while over the limit.
pub fn make_room_for_batch(core: &Core) {
    let s = core.settings.get();
    if s.eviction.policy == Policy::NoEviction || core.shared.repl.ignores_maxmemory() {
        return;
    }
    if let Some(excess) = over_by(core, s.maxmemory) {
        let outcome = evict_here(core, share(core, excess), s.tenacity);
        core.shared.meter.note_over(outcome != Outcome::Freed);
    }
}

/// This core's part of `excess`: in proportion to the memory it holds (its net over the sum
/// of the nets), so that every core sheds alike instead of the one that happens to run the
/// command emptying itself (and then evicting its hottest keys) while others keep cold ones.
/// At least a byte, so a core that is over never waits for the others to act.
fn share(core: &Core, excess: i64) -> i64 {
    let meter = &core.shared.meter;
    let mine = meter.cores[core.id].net.load(Ordering::Relaxed).max(0);
    let all: i64 = meter
        .cores
        .iter()
        .map(|c| c.net.load(Ordering::Relaxed).max(0))
        .sum();
    ((i128::from(excess) * i128::from(mine) / i128::from(all.max(1))) as i64).max(1)
}

/// Evicts up to `goal` bytes of this core's keys within the tenacity's time.
fn evict_here(core: &Core, goal: i64, tenacity: u32) -> Outcome {
    let meter = &core.shared.meter;
    if !core.whole_free() {
        // A busy script or a whole-keyspace operation holds the shard: nothing is deleted
        // under it; try again later.
        return Outcome::OutOfTime;
    }
    let outcome = {
        let Ok(mut shard) = core.shard.try_borrow_mut() else {
            return Outcome::OutOfTime;
        };
        shard.set_time(engine::shard::unix_ms());
        let out = shard.evict(goal, &mut thread_net, Instant::now() + time_limit(tenacity));
        meter.set_evictable(core.id, shard.evictable());
        out
    };
    core.publish_events();
    let net = core_net(core);
    meter.publish(core.id, net);
    core.mem.others.set(meter.others(core.id));
    outcome
}

/// Every core: keeps its net published, core 0 the correction and peak, and while the
/// server is over the limit evicts this core's share of the excess every millisecond.
pub async fn evict_loop(core: std::rc::Rc<Core>) {
    let meter = &core.shared.meter;
    let mut last_refresh = Instant::now();
    let mut over = false;
    let mut behind = false;
    loop {
        let s = core.settings.get();
        let pause = match (s.maxmemory, over) {
            (0, _) => Duration::from_millis(100),
            (_, true) => Duration::from_millis(1),
            _ => Duration::from_millis(10),
        };
        if behind {
            // Far over and out of time: go on at the next turn, after the I/O (Redis'
            // evictionTimeProc runs on every pass of its event loop).
            reactor::yield_turn().await;
        } else {
            reactor::sleep(pause).await;
        }
        behind = false;
        let s = core.settings.get();
        let net = core_net(&core);
        meter.publish(core.id, net);
        if core.id == 0 && last_refresh.elapsed() >= Duration::from_millis(100) {
            last_refresh = Instant::now();
            meter.refresh_correction();
        }
        if s.maxmemory == 0 || core.shared.repl.ignores_maxmemory() {
            over = false;
            meter.note_over(false);
            continue;
        }
        meter.set_evictable(core.id, core.shard.borrow().evictable());
        let max = s.maxmemory.min(i64::MAX as u64) as i64;
        let total = meter.total();
        over = total > max;
        if !over || s.eviction.policy == Policy::NoEviction {
            meter.note_over(over);
            continue;
        }
        if net > 0 {
            let outcome = evict_here(&core, share(&core, total - max), s.tenacity);
            meter.note_over(outcome != Outcome::Freed);
            behind = outcome == Outcome::OutOfTime && meter.total() - max > slack(s.maxmemory);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tenacity_as_redis() {
        assert_eq!(time_limit(0), Duration::ZERO);
        assert_eq!(time_limit(10), Duration::from_micros(500));
        assert_eq!(time_limit(11), Duration::from_micros(575));
        assert!(time_limit(99) > Duration::from_secs(60));
    }

    #[test]
    fn exceeded_time_adds_up() {
        let m = Meter::new(2);
        m.note_over(true);
        std::thread::sleep(Duration::from_millis(5));
        assert!(m.exceeded_ms().0 >= 5);
        m.note_over(false);
        let (current, total) = m.exceeded_ms();
        assert_eq!(current, 0);
        assert!(total >= 5);
    }
}
