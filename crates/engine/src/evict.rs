//! Eviction under maxmemory, as Redis 7.0's evict.c approximates it: the policies, the
//! access clock each entry keeps in its `lru` field (seconds of the last access under LRU;
//! under LFU the minutes of the last decrement in the high 16 bits and a logarithmic access
//! counter in the low 8, as Redis packs them), and the eviction pool that sampling fills.
//!
//! The engine only chooses and deletes keys; how much memory there is, whose share of the
//! limit a shard frees and when, is the runtime's (it passes a reading of the memory in use).

use crate::value::Entry;

/// maxmemory-policy.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Policy {
    #[default]
    NoEviction,
    AllKeysLru,
    AllKeysLfu,
    AllKeysRandom,
    VolatileLru,
    VolatileLfu,
    VolatileRandom,
    VolatileTtl,
}

impl Policy {
    /// The policy a config value names (already validated by the config table).
    pub fn parse(name: &str) -> Option<Policy> {
        Some(match name.to_ascii_lowercase().as_str() {
            "noeviction" => Policy::NoEviction,
            "allkeys-lru" => Policy::AllKeysLru,
            "allkeys-lfu" => Policy::AllKeysLfu,
            "allkeys-random" => Policy::AllKeysRandom,
            "volatile-lru" => Policy::VolatileLru,
            "volatile-lfu" => Policy::VolatileLfu,
            "volatile-random" => Policy::VolatileRandom,
            "volatile-ttl" => Policy::VolatileTtl,
            _ => return None,
        })
    }

    pub fn lfu(self) -> bool {
        matches!(self, Policy::AllKeysLfu | Policy::VolatileLfu)
    }

    pub fn lru(self) -> bool {
        matches!(self, Policy::AllKeysLru | Policy::VolatileLru)
    }

    /// Candidates are every key, not only the keys with an expiry.
    pub fn allkeys(self) -> bool {
        matches!(
            self,
            Policy::AllKeysLru | Policy::AllKeysLfu | Policy::AllKeysRandom
        )
    }
}

/// The eviction settings a shard keeps a copy of.
#[derive(Clone, Copy, Debug)]
pub struct Settings {
    pub policy: Policy,
    /// maxmemory-samples: keys sampled per database per pool refill.
    pub samples: usize,
    pub lfu_log_factor: u32,
    /// lfu-decay-time: minutes per halving step of the counter (0: never decays).
    pub lfu_decay_time: u32,
}

impl Default for Settings {
    fn default() -> Settings {
        Settings {
            policy: Policy::NoEviction,
            samples: 5,
            lfu_log_factor: 10,
            lfu_decay_time: 1,
        }
    }
}

/// Redis' LRU clock: seconds, 24 bits (it wraps every 194 days; idle times are estimated
/// across one wrap, and are garbage for a value written under LFU, exactly as Redis').
pub const LRU_CLOCK_MAX: u32 = (1 << 24) - 1;

pub fn lru_clock(now_s: u32) -> u32 {
    now_s & LRU_CLOCK_MAX
}

/// Redis' estimateObjectIdleTime, in seconds.
pub fn idle_secs(lru: u32, now_s: u32) -> u64 {
    let clock = lru_clock(now_s);
    if clock >= lru {
        u64::from(clock - lru)
    } else {
        u64::from(clock) + u64::from(LRU_CLOCK_MAX.wrapping_sub(lru))
    }
}

/// The clock of an entry idle for `idle` seconds (objectSetLRUOrLFU): an idle time longer
/// than the clock goes half a wrap ahead, the longest idle it can express.
pub fn lru_from_idle(idle: u64, now_s: u32) -> u32 {
    let clock = i64::from(lru_clock(now_s));
    let abs = clock - idle.min(i64::MAX as u64) as i64;
    if abs < 0 {
        ((clock + i64::from(LRU_CLOCK_MAX / 2)) % i64::from(LRU_CLOCK_MAX)) as u32
    } else {
        abs as u32
    }
}

/// The counter a new key starts with, so it is not evicted before it had a chance to be read.
pub const LFU_INIT_VAL: u8 = 5;

/// Redis' LFUGetTimeInMinutes: minutes of the Unix clock, 16 bits.
pub fn lfu_minutes(now_ms: u64) -> u16 {
    (now_ms / 60_000) as u16
}

/// The counter of a new entry, or of one RESTOREd / loaded with FREQ.
pub fn lfu_pack(now_min: u16, counter: u8) -> u32 {
    (u32::from(now_min) << 8) | u32::from(counter)
}

/// Redis' LFUDecrAndReturn: the counter after the decay periods elapsed since its last
/// access (the entry itself is left as it is).
pub fn lfu_counter(lru: u32, now_min: u16, decay_time: u32) -> u8 {
    let ldt = (lru >> 8) as u16;
    let counter = (lru & 255) as u8;
    let elapsed = if now_min >= ldt {
        u32::from(now_min - ldt)
    } else {
        65535 - u32::from(ldt) + u32::from(now_min)
    };
    let periods = elapsed.checked_div(decay_time).unwrap_or(0);
    counter.saturating_sub(periods.min(255) as u8)
}

/// Redis' LFULogIncr with `r` uniform in [0, 1]: the higher the counter, the less likely it
/// grows; saturates at 255.
pub fn lfu_incr(counter: u8, r: f64, log_factor: u32) -> u8 {
    if counter == 255 {
        return 255;
    }
    let base = f64::from(counter.saturating_sub(LFU_INIT_VAL));
    let p = 1.0 / (base * f64::from(log_factor) + 1.0);
    if r < p {
        counter + 1
    } else {
        counter
    }
}

/// What an access does to an entry's clock, worked out once per lookup.
#[derive(Clone, Copy, Debug)]
pub struct Touch {
    pub lfu: bool,
    pub now_s: u32,
    pub now_min: u16,
    pub log_factor: u32,
    pub decay_time: u32,
    /// The random draw for the LFU increment.
    pub r: f64,
}

impl Touch {
    /// Redis' lookupKey: under LFU, decay then increment the counter (updateLFU); else the
    /// LRU clock.
    #[inline]
    pub fn apply(&self, e: &mut Entry) {
        e.lru = if self.lfu {
            let c = lfu_counter(e.lru, self.now_min, self.decay_time);
            lfu_pack(self.now_min, lfu_incr(c, self.r, self.log_factor))
        } else {
            lru_clock(self.now_s)
        };
    }

    /// The clock of an entry created now (createObject).
    pub fn fresh(&self) -> u32 {
        if self.lfu {
            lfu_pack(self.now_min, LFU_INIT_VAL)
        } else {
            lru_clock(self.now_s)
        }
    }
}

/// How many candidates the pool keeps (Redis' EVPOOL_SIZE).
pub const POOL_SIZE: usize = 16;

/// A sampled key and its score: idle time, inverted frequency or inverted expire time; the
/// higher, the better to evict.
#[derive(Clone, Debug)]
pub(crate) struct Candidate {
    pub score: u64,
    pub db: usize,
    pub key: Box<[u8]>,
}

/// The eviction pool: the best candidates seen so far, by ascending score (Redis'
/// EvictionPoolLRU). It survives between evictions, so each sample only has to beat it.
#[derive(Clone, Debug, Default)]
pub struct Pool {
    pub(crate) entries: Vec<Candidate>,
}

impl Pool {
    /// Redis' evictionPoolPopulate insertion: a full pool takes a candidate only if it beats
    /// the worst, which it then drops.
    pub(crate) fn offer(&mut self, score: u64, db: usize, key: &[u8]) {
        let at = self.entries.partition_point(|c| c.score < score);
        if self.entries.len() == POOL_SIZE {
            if at == 0 {
                return;
            }
            self.entries.remove(0);
            self.entries.insert(
                at - 1,
                Candidate {
                    score,
                    db,
                    key: key.into(),
                },
            );
        } else {
            self.entries.insert(
                at,
                Candidate {
                    score,
                    db,
                    key: key.into(),
                },
            );
        }
    }

    /// The best candidate, taken out of the pool.
    pub(crate) fn take_best(&mut self) -> Option<Candidate> {
        self.entries.pop()
    }

    pub fn clear(&mut self) {
        self.entries.clear();
    }
}

/// Why an eviction call stopped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// It freed what it was asked to.
    Freed,
    /// Its time ran out with more to free (call again soon).
    OutOfTime,
    /// Nothing is left that the policy may evict (or the policy is noeviction).
    Nothing,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lfu_counter_decays_and_grows_as_redis() {
        // A new key: 5; one period per decay-time minute elapsed.
        let lru = lfu_pack(100, 7);
        assert_eq!(lfu_counter(lru, 100, 1), 7);
        assert_eq!(lfu_counter(lru, 103, 1), 4);
        assert_eq!(lfu_counter(lru, 103, 2), 6);
        assert_eq!(lfu_counter(lru, 200, 1), 0);
        assert_eq!(lfu_counter(lru, 5000, 0), 7);
        // The minutes clock wraps once.
        assert_eq!(lfu_counter(lfu_pack(65534, 9), 1, 1), 7);
        // At or below the initial value it always grows; above, with probability
        // 1/((c-5)*factor+1).
        assert_eq!(lfu_incr(5, 0.999, 10), 6);
        assert_eq!(lfu_incr(6, 0.05, 10), 7);
        assert_eq!(lfu_incr(6, 0.2, 10), 6);
        assert_eq!(lfu_incr(255, 0.0, 10), 255);
        assert_eq!(lfu_incr(6, 0.9, 0), 7);
    }

    #[test]
    fn lru_clock_wraps_as_redis() {
        let now = (1u32 << 24) + 100;
        assert_eq!(idle_secs(lru_clock(now - 30), now), 30);
        assert_eq!(idle_secs(LRU_CLOCK_MAX - 9, now), 109);
        assert_eq!(lru_from_idle(30, now), 70);
        assert_eq!(lru_from_idle(1000, now), 100 + LRU_CLOCK_MAX / 2);
    }

    #[test]
    fn pool_keeps_the_best_sixteen() {
        let mut p = Pool::default();
        for s in [5u64, 1, 9, 3] {
            p.offer(s, 0, format!("k{s}").as_bytes());
        }
        let scores: Vec<u64> = p.entries.iter().map(|c| c.score).collect();
        assert_eq!(scores, [1, 3, 5, 9]);
        for s in 10..30u64 {
            p.offer(s, 0, b"x");
        }
        assert_eq!(p.entries.len(), POOL_SIZE);
        assert_eq!(p.entries[0].score, 14);
        p.offer(2, 0, b"worse");
        assert_eq!(p.entries[0].score, 14);
        assert_eq!(p.take_best().map(|c| c.score), Some(29));
    }
}
