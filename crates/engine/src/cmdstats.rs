//! What INFO commandstats, errorstats and latencystats, LATENCY HISTOGRAM and the latency
//! monitor (LATENCY LATEST/HISTORY/GRAPH) report, kept per shard where commands run and
//! merged by the runtime.
//!
//! Each command, and each subcommand of a container command ("config|get"), has a slot
//! (`stat_index`) counting its calls, microseconds, rejected and failed calls, and a latency
//! histogram with the layout of Redis' (HdrHistogram, 1 ns to 1 s, two significant
//! figures), so percentiles and the histogram's buckets read as redis-server's.

use crate::args::Args;
use crate::table::{self, CommandSpec, COMMANDS};
use std::collections::{BTreeMap, VecDeque};
use std::sync::OnceLock;

// Redis' LATENCY_HISTOGRAM_MIN_VALUE..MAX_VALUE, 2 significant figures: 256 sub-buckets
// (half 128), unit magnitude 0, 23 buckets to reach 1e9.
const SUB_HALF_MAG: u32 = 7;
const SUB_HALF: usize = 1 << SUB_HALF_MAG;
const SUB_MASK: u64 = (2 * SUB_HALF as u64) - 1;
const BUCKETS: usize = 23;
const COUNTS: usize = (BUCKETS + 1) * SUB_HALF;
/// Recorded values, in nanoseconds, are clamped to these (a command that took 0 µs counts
/// as 1 ns, as in Redis).
const MIN_NS: u64 = 1;
const MAX_NS: u64 = 1_000_000_000;

/// A latency histogram in nanoseconds with HdrHistogram's bucket layout.
#[derive(Clone, Debug)]
pub struct Histogram {
    counts: Box<[u64]>,
    total: u64,
}

impl Default for Histogram {
    fn default() -> Self {
        Histogram {
            counts: vec![0; COUNTS].into_boxed_slice(),
            total: 0,
        }
    }
}

fn bucket_of(v: u64) -> u32 {
    let pow2ceiling = 64 - (v | SUB_MASK).leading_zeros();
    pow2ceiling - (SUB_HALF_MAG + 1)
}

fn index_of(v: u64) -> usize {
    let b = bucket_of(v);
    let sub = (v >> b) as usize;
    ((b as usize + 1) << SUB_HALF_MAG) + sub - SUB_HALF
}

fn value_at(idx: usize) -> u64 {
    let mut bucket = (idx >> SUB_HALF_MAG) as i64 - 1;
    let mut sub = (idx & (SUB_HALF - 1)) + SUB_HALF;
    if bucket < 0 {
        sub -= SUB_HALF;
        bucket = 0;
    }
    (sub as u64) << bucket
}

fn lowest_equivalent(v: u64) -> u64 {
    let b = bucket_of(v);
    (v >> b) << b
}

fn highest_equivalent(v: u64) -> u64 {
    let b = bucket_of(v);
    let sub = v >> b;
    let adjusted = if sub >= 2 * SUB_HALF as u64 { b + 1 } else { b };
    lowest_equivalent(v) + (1u64 << adjusted) - 1
}

impl Histogram {
    pub fn record_ns(&mut self, ns: u64) {
        self.counts[index_of(ns.clamp(MIN_NS, MAX_NS))] += 1;
        self.total += 1;
    }

    pub fn total(&self) -> u64 {
        self.total
    }

    pub fn add(&mut self, other: &Histogram) {
        for (a, b) in self.counts.iter_mut().zip(other.counts.iter()) {
            *a += b;
        }
        self.total += other.total;
    }

    /// hdr_value_at_percentile: the highest value equivalent to the one below which
    /// `percentile` of the recorded values fall.
    pub fn value_at_percentile(&self, percentile: f64) -> u64 {
        let p = percentile.min(100.0);
        let wanted = (((p / 100.0) * self.total as f64) + 0.5) as u64;
        let wanted = wanted.max(1);
        let mut seen = 0;
        let mut value = 0;
        for (i, &c) in self.counts.iter().enumerate() {
            seen += c;
            if seen >= wanted {
                value = value_at(i);
                break;
            }
        }
        if percentile == 0.0 {
            lowest_equivalent(value)
        } else {
            highest_equivalent(value)
        }
    }

    /// LATENCY HISTOGRAM's buckets: (microseconds, cumulative count) at powers of two
    /// from 1024 ns, as HdrHistogram's logarithmic iterator reports them, each only where
    /// the count grew.
    pub fn cumulative_micros(&self) -> Vec<(u64, u64)> {
        let mut out = Vec::new();
        let (mut idx, mut value, mut highest, mut cumulative) = (-1i64, 0u64, 0u64, 0u64);
        let mut level: u64 = 1024;
        let mut level_low = lowest_equivalent(level);
        let mut previous = 0;
        let mut report = |highest: u64, cumulative: u64, out: &mut Vec<(u64, u64)>| {
            if cumulative > previous {
                out.push((highest / 1000, cumulative));
            }
            previous = cumulative;
        };
        loop {
            let more_above = idx < COUNTS as i64 && value_at((idx + 1) as usize) > level_low;
            if !(cumulative < self.total || more_above) {
                break;
            }
            loop {
                if value >= level_low {
                    report(highest, cumulative, &mut out);
                    level = level.saturating_mul(2);
                    level_low = lowest_equivalent(level);
                    break;
                }
                idx += 1;
                if idx as usize >= COUNTS {
                    report(highest, cumulative, &mut out);
                    break;
                }
                cumulative += self.counts[idx as usize];
                value = value_at(idx as usize);
                highest = highest_equivalent(value);
            }
            if idx as usize >= COUNTS {
                break;
            }
        }
        out
    }
}

/// One command's (or subcommand's) counters.
#[derive(Clone, Debug, Default)]
pub struct CmdStat {
    pub calls: u64,
    pub usec: u64,
    pub rejected: u64,
    pub failed: u64,
    pub hist: Option<Box<Histogram>>,
}

/// Counters of every command and error, for one shard or merged over all.
#[derive(Clone, Debug, Default)]
pub struct CommandStats {
    cmds: Vec<CmdStat>,
    /// Error replies by their code (the reply's first word), as errorstats lists them.
    pub errors: BTreeMap<String, u64>,
    /// INFO stats' total_error_replies.
    pub error_replies: u64,
}

/// Where each container command's subcommands start among the stat slots (0: none).
struct Layout {
    sub_start: Vec<usize>,
    names: Vec<String>,
}

fn layout() -> &'static Layout {
    static L: OnceLock<Layout> = OnceLock::new();
    L.get_or_init(|| {
        let mut names: Vec<String> = COMMANDS.iter().map(|c| c.name.to_string()).collect();
        let mut sub_start = vec![0; COMMANDS.len()];
        for (i, c) in COMMANDS.iter().enumerate() {
            if let Some(subs) = table::subcommand_names(c) {
                sub_start[i] = names.len();
                names.extend(subs.iter().map(|s| format!("{}|{s}", c.name)));
            }
        }
        Layout { sub_start, names }
    })
}

fn base_index(spec: &CommandSpec) -> usize {
    let start = COMMANDS.as_ptr() as usize;
    let at = spec as *const CommandSpec as usize;
    let i = at.wrapping_sub(start) / std::mem::size_of::<CommandSpec>();
    if at >= start && i < COMMANDS.len() && std::ptr::eq(&COMMANDS[i], spec) {
        return i;
    }
    // A spec outside the table (MEMORY USAGE's keyed one) counts as its command.
    table::lookup(spec.name.as_bytes())
        .map(|c| (c as *const CommandSpec as usize - start) / std::mem::size_of::<CommandSpec>())
        .unwrap_or(0)
}

/// The stat slot of `spec` run with `args`: its subcommand's for a container command.
pub fn stat_index(spec: &CommandSpec, args: Args) -> usize {
    let i = base_index(spec);
    let l = layout();
    let start = l.sub_start[i];
    if start == 0 || args.len() < 2 {
        return i;
    }
    let subs = table::subcommand_names(&COMMANDS[i]).unwrap_or(&[]);
    let sub = args.get(1);
    subs.iter()
        .position(|s| s.as_bytes().eq_ignore_ascii_case(sub))
        .map_or(i, |j| start + j)
}

/// How many stat slots there are.
pub fn slot_count() -> usize {
    layout().names.len()
}

/// INFO's name of a stat slot: "get", "config|get".
pub fn stat_name(i: usize) -> &'static str {
    &layout().names[i]
}

/// The stat slots of a command name as LATENCY HISTOGRAM takes it: the command's own and
/// its subcommands'.
pub fn slots_of(name: &[u8]) -> Vec<usize> {
    let Some(spec) = table::lookup(name) else {
        return Vec::new();
    };
    let i = base_index(spec);
    let mut v = vec![i];
    let start = layout().sub_start[i];
    if start != 0 {
        let n = table::subcommand_names(spec).map_or(0, |s| s.len());
        v.extend(start..start + n);
    }
    v
}

/// The error code INFO errorstats counts a reply under: its first word (Redis looks at 32
/// bytes; without a space there, "ERR").
pub fn error_code(reply: &[u8]) -> &str {
    let body = reply.strip_prefix(b"-").unwrap_or(reply);
    let head = &body[..body.len().min(31)];
    match head.iter().position(|&b| b == b' ') {
        Some(n) => std::str::from_utf8(&head[..n]).unwrap_or("ERR"),
        None => "ERR",
    }
}

impl CommandStats {
    /// The slots, made on first use (a shard that ran nothing keeps none).
    fn slots(&mut self) -> &mut [CmdStat] {
        if self.cmds.is_empty() {
            self.cmds = vec![CmdStat::default(); layout().names.len()];
        }
        &mut self.cmds
    }

    fn slot(&mut self, i: usize) -> &mut CmdStat {
        &mut self.slots()[i]
    }

    /// A command that ran for `micros`; `reply` is what it answered (an error makes it a
    /// failed call).
    #[inline]
    pub fn call(&mut self, slot: usize, micros: u64, track: bool, reply: &[u8]) {
        let s = self.slot(slot);
        s.calls += 1;
        s.usec += micros;
        if track {
            s.hist
                .get_or_insert_with(Default::default)
                .record_ns(micros.saturating_mul(1000));
        }
        if reply.first() == Some(&b'-') {
            self.slot(slot).failed += 1;
            self.error(reply);
        }
    }

    /// A command refused before it ran, with `reply`.
    pub fn rejected(&mut self, slot: usize, reply: &[u8]) {
        self.slot(slot).rejected += 1;
        self.error(reply);
    }

    /// An error reply, counted by its code.
    pub fn error(&mut self, reply: &[u8]) {
        self.error_replies += 1;
        let code = error_code(reply);
        match self.errors.get_mut(code) {
            Some(n) => *n += 1,
            None => {
                self.errors.insert(code.to_string(), 1);
            }
        }
    }

    /// This shard's counters without the histograms (INFO commandstats).
    pub fn without_histograms(&self) -> CommandStats {
        CommandStats {
            cmds: self
                .cmds
                .iter()
                .map(|c| CmdStat {
                    hist: None,
                    ..c.clone()
                })
                .collect(),
            errors: self.errors.clone(),
            error_replies: self.error_replies,
        }
    }

    pub fn merge(&mut self, other: &CommandStats) {
        let mine: &mut [CmdStat] = match other.cmds.is_empty() {
            true => &mut [],
            false => self.slots(),
        };
        for (a, b) in mine.iter_mut().zip(&other.cmds) {
            a.calls += b.calls;
            a.usec += b.usec;
            a.rejected += b.rejected;
            a.failed += b.failed;
            if let Some(h) = &b.hist {
                a.hist.get_or_insert_with(Default::default).add(h);
            }
        }
        for (k, v) in &other.errors {
            *self.errors.entry(k.clone()).or_default() += v;
        }
        self.error_replies += other.error_replies;
    }

    /// Slots with anything counted, with their counters, in name order.
    pub fn used(&self) -> Vec<(&'static str, &CmdStat)> {
        let mut v: Vec<(&'static str, &CmdStat)> = self
            .cmds
            .iter()
            .enumerate()
            .filter(|(_, c)| c.calls > 0 || c.failed > 0 || c.rejected > 0 || c.hist.is_some())
            .map(|(i, c)| (stat_name(i), c))
            .collect();
        v.sort_by_key(|(n, _)| *n);
        v
    }

    /// The counters of slot `i`.
    pub fn get(&self, i: usize) -> Option<&CmdStat> {
        self.cmds.get(i)
    }

    /// CONFIG RESETSTAT.
    pub fn reset(&mut self) {
        *self = CommandStats::default();
    }
}

/// Samples the latency monitor keeps per event (Redis' LATENCY_TS_LEN).
pub const SAMPLES: usize = 160;

/// One event's latency spikes: at most one sample per second (the largest), the newest
/// `SAMPLES`, and the largest ever.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Series {
    pub samples: VecDeque<(u64, u64)>,
    pub max: u64,
}

impl Series {
    pub fn add(&mut self, time: u64, ms: u64) {
        self.max = self.max.max(ms);
        match self.samples.back_mut() {
            Some((t, l)) if *t == time => *l = (*l).max(ms),
            _ => {
                if self.samples.len() == SAMPLES {
                    self.samples.pop_front();
                }
                self.samples.push_back((time, ms));
            }
        }
    }

    /// Another core's samples of the same event, merged by time.
    pub fn merge(&mut self, other: &Series) {
        let mut all: Vec<(u64, u64)> = self.samples.iter().chain(&other.samples).copied().collect();
        all.sort();
        let mut merged = Series::default();
        for (t, l) in all {
            merged.add(t, l);
        }
        merged.max = self.max.max(other.max);
        *self = merged;
    }
}

/// The latency monitor: events over latency-monitor-threshold, by event name.
#[derive(Clone, Debug, Default)]
pub struct Monitor {
    pub events: BTreeMap<String, Series>,
}

impl Monitor {
    pub fn add(&mut self, event: &str, time: u64, ms: u64) {
        match self.events.get_mut(event) {
            Some(s) => s.add(time, ms),
            None => {
                let mut s = Series::default();
                s.add(time, ms);
                self.events.insert(event.to_string(), s);
            }
        }
    }

    pub fn merge(&mut self, other: &Monitor) {
        for (name, s) in &other.events {
            match self.events.get_mut(name) {
                Some(mine) => mine.merge(s),
                None => {
                    self.events.insert(name.clone(), s.clone());
                }
            }
        }
    }

    /// LATENCY RESET: forgets `events` (all when empty); returns the names forgotten.
    pub fn reset(&mut self, events: &[Vec<u8>]) -> Vec<String> {
        if events.is_empty() {
            return std::mem::take(&mut self.events).into_keys().collect();
        }
        let mut gone = Vec::new();
        for e in events {
            let name = String::from_utf8_lossy(e).into_owned();
            if self.events.remove(&name).is_some() {
                gone.push(name);
            }
        }
        gone
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_as_redis_reports_them() {
        let mut h = Histogram::default();
        for _ in 0..100 {
            h.record_ns(1000);
        }
        // redis-server shows a 1 µs command as p50=1.003.
        assert_eq!(h.value_at_percentile(50.0), 1003);
        h.record_ns(0);
        assert_eq!(h.value_at_percentile(0.0), 1);
        let mut big = Histogram::default();
        big.record_ns(5_000_000_000);
        assert_eq!(big.value_at_percentile(99.9), highest_equivalent(MAX_NS));
        assert_eq!(Histogram::default().value_at_percentile(50.0), 0);
    }

    #[test]
    fn cumulative_buckets_at_powers_of_two() {
        let mut h = Histogram::default();
        for ns in [1000, 1000, 3000, 40_000] {
            h.record_ns(ns);
        }
        assert_eq!(h.cumulative_micros(), vec![(1, 2), (4, 3), (66, 4)]);
        assert!(Histogram::default().cumulative_micros().is_empty());
    }

    #[test]
    fn error_codes() {
        assert_eq!(error_code(b"-WRONGTYPE Operation against"), "WRONGTYPE");
        assert_eq!(error_code(b"-ERR syntax error"), "ERR");
        assert_eq!(error_code(b"-NOSPACEATALL"), "ERR");
    }

    #[test]
    fn series_keep_one_sample_a_second() {
        let mut s = Series::default();
        s.add(10, 5);
        s.add(10, 7);
        s.add(11, 3);
        assert_eq!(s.samples, [(10, 7), (11, 3)]);
        let mut o = Series::default();
        o.add(11, 9);
        o.add(12, 1);
        s.merge(&o);
        assert_eq!(s.samples, [(10, 7), (11, 9), (12, 1)]);
        assert_eq!(s.max, 9);
    }
}
