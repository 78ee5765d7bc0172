//! The read barrier of whole-keyspace operations (FLUSHALL, SWAPDB, DBSIZE, KEYS, EXEC of
//! those, the snapshot point).
//!
//! A connection runs one read's commands on several shards at once (its local commands at
//! once, one batch per remote shard), so a whole-keyspace operation that locks the shards
//! one by one could fall between a read's shards: a pipelined writer's later SET on one
//! shard flushed while its earlier SET on another survives, or a snapshot holding the later
//! write and not the earlier one. redis-server runs a pipeline in order, so neither can
//! happen there. The barrier keeps every read whole on one side of such an operation:
//! while one is active no read starts, and it begins only once the reads in progress are
//! done. A read that waits for long (a blocking command, CLIENT PAUSE, a slow reader of its
//! replies) first finishes what it sent and steps out, so nobody waits on it.
//!
//! Cost on the command path: one increment and one decrement of a counter of the core's
//! own, and one load of a shared flag, per read.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::SeqCst};
use std::sync::Arc;
use std::time::Duration;

/// A counter on a cache line of its own (each core writes only its own).
#[derive(Default)]
#[repr(align(128))]
struct Padded(AtomicU64);

pub struct Barrier {
    /// A whole-keyspace operation is active (or about to wait for the reads to drain).
    active: AtomicBool,
    /// Reads in progress, per core.
    reads: Vec<Padded>,
    /// Reads waiting inside their own whole-keyspace operation for another to finish: done
    /// with everything they sent, so the active one does not wait for them.
    parked: AtomicU64,
}

/// How long a waiter sleeps between looks (the operations it waits for take about a hop).
const POLL: Duration = Duration::from_micros(50);

impl Barrier {
    pub fn new(cores: usize) -> Barrier {
        Barrier {
            active: AtomicBool::new(false),
            reads: (0..cores).map(|_| Padded::default()).collect(),
            parked: AtomicU64::new(0),
        }
    }

    /// Starts a read on `core` unless a whole-keyspace operation is active (false: call
    /// `wait` and try again). Each successful call is matched by one `leave`.
    #[inline]
    pub fn try_enter(&self, core: usize) -> bool {
        let counter = &self.reads[core].0;
        // The increment is a full fence on x86 (lock xadd), and SeqCst everywhere else:
        // either this load sees the operation's flag, or the operation sees this count.
        counter.fetch_add(1, SeqCst);
        if !self.active.load(SeqCst) {
            return true;
        }
        counter.fetch_sub(1, SeqCst);
        false
    }

    /// Waits until no whole-keyspace operation is active.
    pub async fn wait(&self) {
        while self.active.load(SeqCst) {
            reactor::sleep(POLL).await;
        }
    }

    /// Ends a read started by `try_enter`.
    #[inline]
    pub fn leave(&self, core: usize) {
        self.reads[core].0.fetch_sub(1, SeqCst);
    }

    /// Makes the caller the one active whole-keyspace operation and waits until no read
    /// other than the caller's own (`in_read`) is in progress.
    pub async fn begin(self: &Arc<Self>, in_read: bool) -> Exclusive {
        if in_read {
            self.parked.fetch_add(1, SeqCst);
        }
        while self
            .active
            .compare_exchange(false, true, SeqCst, SeqCst)
            .is_err()
        {
            reactor::sleep(POLL).await;
        }
        if in_read {
            self.parked.fetch_sub(1, SeqCst);
        }
        loop {
            let reads: u64 = self.reads.iter().map(|r| r.0.load(SeqCst)).sum();
            let others = reads - self.parked.load(SeqCst).min(reads);
            if others <= in_read as u64 {
                return Exclusive(self.clone());
            }
            reactor::sleep(POLL).await;
        }
    }
}

/// The active whole-keyspace operation; dropping it lets reads start again.
pub struct Exclusive(Arc<Barrier>);

impl Drop for Exclusive {
    fn drop(&mut self) {
        self.0.active.store(false, SeqCst);
    }
}
