//! The typed requests one core runs for another (`ops::Call`): each says what it touches
//! (for the key locks) and what it answers. Sent with `Core::ask`, `ask_tx`, `ask_all` or
//! `send_call`; a caller gets the reply type of its own request and nothing else.

use super::{watches_hold, Core, CoreCounts};
use crate::ops::{BlockReg, Call, CoreStats, KillFilter, Touches, Try};
use engine::notify::Event;
use engine::value::Entry;
use std::sync::Arc;

fn one(key: &[u8]) -> Vec<&[u8]> {
    vec![key]
}

fn all(keys: &[Vec<u8>]) -> Vec<&[u8]> {
    keys.iter().map(Vec::as_slice).collect()
}

/// WATCH these keys of `db`: their versions, with the top bit set for a key that is already
/// logically expired. Touches nothing: a version read while an operation holds the key only
/// makes the watcher's EXEC fail, never pass wrongly.
pub struct Watch {
    pub db: usize,
    pub keys: Vec<Vec<u8>>,
}

impl Call for Watch {
    type Out = Vec<u64>;
    fn touches(&self) -> Touches<'_> {
        Touches::Nothing
    }
    fn run(self, core: &Core) -> Vec<u64> {
        let mut shard = core.shard.borrow_mut();
        self.keys
            .iter()
            .map(|k| shard.watch(self.db, k) | (shard.is_expired(self.db, k) as u64) << 63)
            .collect()
    }
}

/// Drops one watch of each (db, key).
pub struct Unwatch(pub Vec<(usize, Vec<u8>)>);

impl Call for Unwatch {
    type Out = ();
    fn touches(&self) -> Touches<'_> {
        Touches::Nothing
    }
    fn run(self, core: &Core) {
        let mut shard = core.shard.borrow_mut();
        for (db, k) in self.0 {
            shard.unwatch(db, &k);
        }
    }
}

/// Whether every (db, key) is still at the version WATCH saw and has not expired since.
/// Sent by EXEC under its own locks.
pub struct WatchCheck(pub Vec<(usize, Vec<u8>, u64)>);

impl Call for WatchCheck {
    type Out = bool;
    fn touches(&self) -> Touches<'_> {
        Touches::Nothing
    }
    fn run(self, core: &Core) -> bool {
        watches_hold(&core.shard.borrow(), &self.0)
    }
}

/// Whether `key` holds a list (false: absent), or the error for another type.
pub struct CheckList {
    pub db: usize,
    pub key: Vec<u8>,
}

impl Call for CheckList {
    type Out = Result<bool, String>;
    fn touches(&self) -> Touches<'_> {
        Touches::Keys(self.db, one(&self.key))
    }
    fn run(self, core: &Core) -> Result<bool, String> {
        let mut shard = core.shard.borrow_mut();
        engine::cmd::list::check_list(&mut shard, self.db, &self.key)
            .map_err(|e| e.message().into_owned())
    }
}

/// Pops up to `count` elements from one end of a list (none if absent), with the events.
pub struct ListPop {
    pub db: usize,
    pub key: Vec<u8>,
    pub left: bool,
    pub count: usize,
}

impl Call for ListPop {
    type Out = Result<(Vec<Vec<u8>>, Vec<Event>), String>;
    fn touches(&self) -> Touches<'_> {
        Touches::Keys(self.db, one(&self.key))
    }
    fn run(self, core: &Core) -> Self::Out {
        let mut shard = core.shard.borrow_mut();
        match engine::cmd::list::pop_from(&mut shard, self.db, &self.key, self.left, self.count) {
            Ok(v) => {
                let v = v.unwrap_or_default();
                if !v.is_empty() {
                    let argv = engine::cmd::list::pop_record(&self.key, !self.left, Some(v.len()));
                    shard
                        .journal
                        .record(self.db, argv.iter().map(Vec::as_slice));
                }
                Ok((v, shard.take_events()))
            }
            Err(e) => Err(e.message().into_owned()),
        }
    }
}

/// Pushes elements onto one end of a list, creating it: the new length, with the events.
pub struct ListPush {
    pub db: usize,
    pub key: Vec<u8>,
    pub left: bool,
    pub elems: Vec<Vec<u8>>,
}

impl Call for ListPush {
    type Out = Result<(i64, Vec<Event>), String>;
    fn touches(&self) -> Touches<'_> {
        Touches::Keys(self.db, one(&self.key))
    }
    fn run(self, core: &Core) -> Self::Out {
        let mut shard = core.shard.borrow_mut();
        // Recorded once it succeeded (it fails on a key of another type).
        let record = shard.journal.enabled().then(|| {
            let name: &[u8] = if self.left { b"LPUSH" } else { b"RPUSH" };
            let mut argv = vec![name.to_vec(), self.key.clone()];
            argv.extend(self.elems.iter().cloned());
            argv
        });
        let elems = self.elems.into_iter().map(Vec::into_boxed_slice);
        match engine::cmd::list::push_into(&mut shard, self.db, &self.key, self.left, elems) {
            Ok(n) => {
                if let Some(argv) = record {
                    shard
                        .journal
                        .record(self.db, argv.iter().map(Vec::as_slice));
                }
                Ok((n as i64, shard.take_events()))
            }
            Err(e) => Err(e.message().into_owned()),
        }
    }
}

/// Keys in `db`. Whole-keyspace reads touch nothing themselves: DBSIZE and KEYS run inside
/// an operation that locks every shard (`txn::Scope::Every`); SCAN and RANDOMKEY promise
/// no snapshot.
pub struct Dbsize(pub usize);

impl Call for Dbsize {
    type Out = i64;
    fn touches(&self) -> Touches<'_> {
        Touches::Nothing
    }
    fn run(self, core: &Core) -> i64 {
        core.shard.borrow().dbsize(self.0) as i64
    }
}

/// Cluster mode: how many keys `slot` holds here, and up to `list` of them.
pub struct SlotKeys {
    pub slot: u16,
    pub list: usize,
}

impl Call for SlotKeys {
    type Out = (usize, Vec<Vec<u8>>);
    fn touches(&self) -> Touches<'_> {
        Touches::Nothing
    }
    fn run(self, core: &Core) -> Self::Out {
        let shard = core.shard.borrow();
        let keys = if self.list > 0 {
            shard.keys_in_slot(self.slot, self.list)
        } else {
            Vec::new()
        };
        (shard.count_keys_in_slot(self.slot), keys)
    }
}

/// KEYS `pattern` in `db`.
pub struct Keys {
    pub db: usize,
    pub pattern: Vec<u8>,
}

impl Call for Keys {
    type Out = Vec<Vec<u8>>;
    fn touches(&self) -> Touches<'_> {
        Touches::Nothing
    }
    fn run(self, core: &Core) -> Vec<Vec<u8>> {
        core.shard.borrow_mut().keys(self.db, &self.pattern)
    }
}

/// One SCAN step on this shard: the next cursor and the keys found.
pub struct Scan {
    pub db: usize,
    pub cursor: u64,
    pub count: usize,
    pub pattern: Option<Vec<u8>>,
    pub kind: Option<Vec<u8>>,
}

impl Call for Scan {
    type Out = (u64, Vec<Vec<u8>>);
    fn touches(&self) -> Touches<'_> {
        Touches::Nothing
    }
    fn run(self, core: &Core) -> Self::Out {
        core.shard.borrow_mut().scan(
            self.db,
            self.cursor,
            self.count,
            self.pattern.as_deref(),
            self.kind.as_deref(),
        )
    }
}

pub struct RandomKey(pub usize);

impl Call for RandomKey {
    type Out = Option<Vec<u8>>;
    fn touches(&self) -> Touches<'_> {
        Touches::Nothing
    }
    fn run(self, core: &Core) -> Option<Vec<u8>> {
        core.shard.borrow_mut().random_key(self.0)
    }
}

/// FLUSHDB (`db`) or FLUSHALL (None); `lazy` frees the old keys on another thread.
/// `journal`: recorded (not for DEBUG RELOAD, which loads the same data back).
pub struct Flush {
    pub db: Option<usize>,
    pub lazy: bool,
    pub journal: bool,
}

impl Call for Flush {
    type Out = ();
    fn touches(&self) -> Touches<'_> {
        Touches::Everything
    }
    fn run(self, core: &Core) {
        let mut shard = core.shard.borrow_mut();
        if self.journal {
            let name: &[u8] = if self.db.is_some() {
                b"FLUSHDB"
            } else {
                b"FLUSHALL"
            };
            let argv: &[&[u8]] = if self.lazy {
                &[name, b"ASYNC"]
            } else {
                &[name]
            };
            match self.db {
                Some(db) => shard.journal.record(db, argv.iter().copied()),
                None => shard.journal.record_any_db(argv.iter().copied()),
            }
        }
        let old = shard.flush(self.db);
        drop(shard);
        if self.lazy {
            // Dropping millions of keys takes a while: do it off the core.
            std::thread::spawn(move || drop(old));
        }
    }
}

pub struct SwapDb(pub usize, pub usize);

impl Call for SwapDb {
    type Out = ();
    fn touches(&self) -> Touches<'_> {
        Touches::Everything
    }
    fn run(self, core: &Core) {
        let mut shard = core.shard.borrow_mut();
        let (a, b) = (self.0.to_string(), self.1.to_string());
        shard
            .journal
            .record_any_db([&b"SWAPDB"[..], a.as_bytes(), b.as_bytes()]);
        shard.swapdb(self.0, self.1);
    }
}

/// INFO keyspace's counts per database.
pub struct DbInfo;

impl Call for DbInfo {
    type Out = Vec<engine::DbInfo>;
    fn touches(&self) -> Touches<'_> {
        Touches::Nothing
    }
    fn run(self, core: &Core) -> Vec<engine::DbInfo> {
        core.shard.borrow().db_info()
    }
}

/// INFO's counters; the subscription names only when `pubsub` (INFO stats).
#[derive(Default)]
pub struct Stats {
    pub pubsub: bool,
    /// Per-command counters too (INFO commandstats, errorstats), and with them the
    /// latency histograms (latencystats, LATENCY HISTOGRAM).
    pub commands: bool,
    pub histograms: bool,
}

impl Call for Stats {
    type Out = CoreStats;
    fn touches(&self) -> Touches<'_> {
        Touches::Nothing
    }
    fn run(self, core: &Core) -> CoreStats {
        let shard = core.shard.borrow();
        let keys = (0..shard.databases()).map(|d| shard.dbsize(d)).sum();
        let clients = core.clients.borrow();
        CoreStats {
            keyspace_hits: shard.stats.keyspace_hits,
            keyspace_misses: shard.stats.keyspace_misses,
            expired_keys: shard.stats.expired_keys,
            evicted_keys: shard.stats.evicted_keys,
            dirty: shard.stats.dirty,
            commands: core.counters.commands.get(),
            keys,
            net_input_bytes: core.counters.net_in.get(),
            net_output_bytes: core.counters.net_out.get(),
            hops_sent: core.counters.hops.get(),
            max_input_buffer: clients.values().map(|c| c.qbuf.get()).max().unwrap_or(0),
            max_output_buffer: clients.values().map(|c| c.output_len()).max().unwrap_or(0),
            error_replies: shard.cmdstats.error_replies,
            tracking: shard.tracking.totals(),
            clients_replicas: clients
                .values()
                .filter(|c| c.replica.get())
                .map(|c| c.memory())
                .sum(),
            clients_normal: clients
                .values()
                .filter(|c| !c.replica.get())
                .map(|c| c.memory())
                .sum(),
            db_overheads: shard.db_overheads(),
            replicas: clients.values().filter(|c| c.replica.get()).count(),
            clients: clients.values().filter(|c| !c.replica.get()).count(),
            cmdstats: match (self.commands, self.histograms) {
                (_, true) => Some(shard.cmdstats.clone()),
                (true, false) => Some(shard.cmdstats.without_histograms()),
                _ => None,
            },
            pubsub: if self.pubsub {
                use crate::pubsub::Kind;
                let reg = core.pubsub.borrow();
                [Kind::Channel, Kind::Pattern, Kind::Shard].map(|k| reg.names(k, None))
            } else {
                Default::default()
            },
        }
    }
}

/// CONFIG RESETSTAT's share of this core.
pub struct ResetStats;

impl Call for ResetStats {
    type Out = ();
    fn touches(&self) -> Touches<'_> {
        Touches::Nothing
    }
    fn run(self, core: &Core) {
        let mut shard = core.shard.borrow_mut();
        shard.stats.keyspace_hits = 0;
        shard.stats.keyspace_misses = 0;
        shard.stats.expired_keys = 0;
        shard.stats.evicted_keys = 0;
        shard.cmdstats.reset();
        core.counters.commands.set(0);
        core.counters.net_in.set(0);
        core.counters.net_out.set(0);
        core.counters.hops.set(0);
    }
}

/// Removes a key and hands over its entry.
pub struct Take {
    pub db: usize,
    pub key: Vec<u8>,
}

impl Call for Take {
    type Out = Option<Entry>;
    fn touches(&self) -> Touches<'_> {
        Touches::Keys(self.db, one(&self.key))
    }
    fn run(self, core: &Core) -> Option<Entry> {
        let mut shard = core.shard.borrow_mut();
        let taken = shard.take(self.db, &self.key);
        if taken.is_some() {
            shard.journal.record(self.db, [&b"DEL"[..], &self.key]);
        }
        taken
    }
}

/// A copy of a key's entry.
pub struct Get {
    pub db: usize,
    pub key: Vec<u8>,
}

impl Call for Get {
    type Out = Option<Entry>;
    fn touches(&self) -> Touches<'_> {
        Touches::Keys(self.db, one(&self.key))
    }
    fn run(self, core: &Core) -> Option<Entry> {
        core.shard.borrow_mut().peek(self.db, &self.key).cloned()
    }
}

/// What `Put` did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stored {
    /// The key exists and `replace` was off.
    No,
    New,
    Replaced,
}

/// Stores `entry` unless the key exists and `replace` is off. The command that asked
/// raises the keyspace events (it hears whether the key is new).
pub struct Put {
    pub db: usize,
    pub key: Vec<u8>,
    pub entry: Entry,
    pub replace: bool,
}

impl Call for Put {
    type Out = Stored;
    fn touches(&self) -> Touches<'_> {
        Touches::Keys(self.db, one(&self.key))
    }
    fn run(self, core: &Core) -> Stored {
        let mut shard = core.shard.borrow_mut();
        let mark = shard.event_mark();
        let existed = shard.exists(self.db, &self.key);
        if self.replace || !existed {
            shard.record_put(self.db, &self.key, &self.entry);
        }
        let done =
            engine::cmd::keys::put_copy(&mut shard, self.db, &self.key, self.entry, self.replace);
        shard.discard_events_since(mark);
        match (done, existed) {
            (false, _) => Stored::No,
            (true, false) => Stored::New,
            (true, true) => Stored::Replaced,
        }
    }
}

/// How many of `keys` exist (MSETNX's check).
pub struct Exists {
    pub db: usize,
    pub keys: Vec<Vec<u8>>,
}

impl Call for Exists {
    type Out = i64;
    fn touches(&self) -> Touches<'_> {
        Touches::Keys(self.db, all(&self.keys))
    }
    fn run(self, core: &Core) -> i64 {
        let mut shard = core.shard.borrow_mut();
        self.keys
            .iter()
            .filter(|k| shard.exists(self.db, k))
            .count() as i64
    }
}

/// A blocking command's waiter on `key` (of `reg.db`): served at once if the key can
/// serve it, else registered until a push serves it, it times out or its client goes.
pub struct Block {
    pub reg: BlockReg,
    pub key: Vec<u8>,
}

impl Call for Block {
    type Out = Try;
    fn touches(&self) -> Touches<'_> {
        Touches::Keys(self.reg.db, one(&self.key))
    }
    fn run(self, core: &Core) -> Try {
        let mut shard = core.shard.borrow_mut();
        core.block(&mut shard, self.reg, self.key)
    }
}

/// Drops waiter `id` from these keys.
pub struct Unblock {
    pub db: usize,
    pub keys: Vec<Vec<u8>>,
    pub id: u64,
}

impl Call for Unblock {
    type Out = ();
    fn touches(&self) -> Touches<'_> {
        Touches::Nothing
    }
    fn run(self, core: &Core) {
        let mut shard = core.shard.borrow_mut();
        for k in &self.keys {
            shard.unblock(self.db, k, self.id);
        }
        core.blocked.borrow_mut().remove(&self.id);
    }
}

/// Puts back what serving a waiter took, its client being gone (no command: no events).
pub struct Undo {
    pub db: usize,
    pub undo: engine::cmd::blocking::Undo,
}

impl Call for Undo {
    type Out = ();
    fn touches(&self) -> Touches<'_> {
        match self.undo.key() {
            Some(k) => Touches::Keys(self.db, one(k)),
            None => Touches::Nothing,
        }
    }
    fn run(self, core: &Core) {
        let mut shard = core.shard.borrow_mut();
        let mark = shard.event_mark();
        engine::cmd::blocking::undo(&mut shard, self.db, self.undo);
        shard.discard_events_since(mark);
    }
}

/// CLIENT UNBLOCK: unblocks client `id` if it is this core's and blocked (true), with an
/// error or as a timeout.
pub struct ClientUnblock {
    pub id: u64,
    pub error: bool,
}

impl Call for ClientUnblock {
    type Out = bool;
    fn touches(&self) -> Touches<'_> {
        Touches::Nothing
    }
    fn run(self, core: &Core) -> bool {
        let client = core.clients.borrow().get(&self.id).cloned();
        client.is_some_and(|c| {
            let b = c.blocked.borrow();
            match &*b {
                Some((token, claim)) if !claim.swap(true, std::sync::atomic::Ordering::SeqCst) => {
                    core.fill(*token, crate::ops::Reply::Unblocked { error: self.error });
                    true
                }
                _ => false,
            }
        })
    }
}

/// SORT's source: the entry, a sorted set converted as SORT leaves it. SORT raises its
/// reads' keymiss events itself, in the order Redis' SORT reads, so these drop theirs.
pub struct SortSource {
    pub db: usize,
    pub key: Vec<u8>,
}

impl Call for SortSource {
    type Out = Option<Entry>;
    fn touches(&self) -> Touches<'_> {
        Touches::Keys(self.db, one(&self.key))
    }
    fn run(self, core: &Core) -> Option<Entry> {
        let mut shard = core.shard.borrow_mut();
        let mark = shard.event_mark();
        let entry = shard.lookup_read(self.db, &self.key).map(|e| {
            engine::cmd::sort::sortable(&mut e.value);
            e.clone()
        });
        shard.discard_events_since(mark);
        entry
    }
}

/// SORT's pattern reads: each (key, hash field) as a string or field value, and whether
/// each key exists.
pub struct SortLookup {
    pub db: usize,
    pub items: Vec<engine::cmd::sort::PatternKey>,
}

impl Call for SortLookup {
    type Out = (Vec<Option<Vec<u8>>>, Vec<bool>);
    fn touches(&self) -> Touches<'_> {
        Touches::Keys(
            self.db,
            self.items.iter().map(|(k, _)| k.as_slice()).collect(),
        )
    }
    fn run(self, core: &Core) -> Self::Out {
        let mut shard = core.shard.borrow_mut();
        let mark = shard.event_mark();
        let mut values = Vec::with_capacity(self.items.len());
        let mut exists = Vec::with_capacity(self.items.len());
        for (k, f) in &self.items {
            values.push(engine::cmd::sort::fetch(
                &mut shard,
                self.db,
                k,
                f.as_deref(),
            ));
            exists.push(shard.value(self.db, k).is_some());
        }
        shard.discard_events_since(mark);
        (values, exists)
    }
}

/// Messages for this core's subscribers: how many received them.
pub struct Publish {
    /// (channel, message) pairs, delivered in order.
    pub msgs: Vec<(Vec<u8>, Vec<u8>)>,
    pub shard: bool,
}

impl Call for Publish {
    type Out = i64;
    fn touches(&self) -> Touches<'_> {
        Touches::Nothing
    }
    fn run(self, core: &Core) -> i64 {
        let limits = core.settings.get().output;
        let reg = core.pubsub.borrow();
        self.msgs
            .iter()
            .map(|(channel, message)| reg.publish(channel, message, self.shard, &limits))
            .sum::<usize>() as i64
    }
}

/// At a shard channel's owning shard: `core` has its first subscriber to each of
/// `channels` (`add`), or lost its last one.
pub struct ShardChannels {
    pub channels: Vec<Vec<u8>>,
    pub core: usize,
    pub add: bool,
}

impl Call for ShardChannels {
    type Out = ();
    fn touches(&self) -> Touches<'_> {
        Touches::Nothing
    }
    fn run(self, core: &Core) {
        let mut map = core.shard_channels.borrow_mut();
        let delta = if self.add { 1 } else { -1 };
        for ch in self.channels {
            let cores: &mut CoreCounts = map.entry(ch.clone()).or_default();
            match cores.iter_mut().find(|(c, _)| *c == self.core) {
                Some((_, n)) => *n += delta,
                None => cores.push((self.core, delta)),
            }
            cores.retain(|&(_, n)| n != 0);
            if cores.is_empty() {
                map.remove(&ch);
            }
        }
    }
}

/// At a shard channel's owning shard: which cores subscribe to it.
pub struct ShardRoute {
    pub channel: Vec<u8>,
}

impl Call for ShardRoute {
    type Out = Vec<usize>;
    fn touches(&self) -> Touches<'_> {
        Touches::Nothing
    }
    fn run(self, core: &Core) -> Vec<usize> {
        core.shard_channels
            .borrow()
            .get(&self.channel)
            .map(|cores| {
                cores
                    .iter()
                    .filter(|&&(_, n)| n > 0)
                    .map(|&(c, _)| c)
                    .collect()
            })
            .unwrap_or_default()
    }
}

/// Names with subscribers on this core.
pub struct PubsubNames {
    pub kind: crate::pubsub::Kind,
    pub pattern: Option<Vec<u8>>,
}

impl Call for PubsubNames {
    type Out = Vec<Vec<u8>>;
    fn touches(&self) -> Touches<'_> {
        Touches::Nothing
    }
    fn run(self, core: &Core) -> Vec<Vec<u8>> {
        core.pubsub
            .borrow()
            .names(self.kind, self.pattern.as_deref())
    }
}

/// Subscriber counts on this core, in order.
pub struct PubsubCount {
    pub kind: crate::pubsub::Kind,
    pub names: Vec<Vec<u8>>,
}

impl Call for PubsubCount {
    type Out = Vec<u64>;
    fn touches(&self) -> Touches<'_> {
        Touches::Nothing
    }
    fn run(self, core: &Core) -> Vec<u64> {
        let reg = core.pubsub.borrow();
        self.names
            .iter()
            .map(|n| reg.subscribers(self.kind, n) as u64)
            .collect()
    }
}

/// New hot settings after CONFIG SET.
pub struct SetLimits(pub crate::shared::Settings);

impl Call for SetLimits {
    type Out = ();
    fn touches(&self) -> Touches<'_> {
        Touches::Nothing
    }
    fn run(self, core: &Core) {
        let settings = self.0;
        let mut shard = core.shard.borrow_mut();
        shard.limits = settings.limits;
        shard.save_opts = settings.save;
        shard.eviction = settings.eviction;
        crate::memory::set_limit(core, settings.maxmemory);
        shard.notify_classes = engine::notify::recorded(settings.notify);
        shard.slow_threshold = settings.slowlog_threshold;
        shard.latency_tracking = settings.latency_tracking;
        shard.latency_threshold_ms = settings.latency_threshold_ms;
        shard.tracking.max_keys = settings.tracking_max_keys;
        core.settings.set(settings);
    }
}

/// CLIENT LIST's lines for this core's clients.
pub struct ClientList {
    pub ids: Option<Vec<u64>>,
    pub kind: Option<String>,
}

impl Call for ClientList {
    type Out = String;
    fn touches(&self) -> Touches<'_> {
        Touches::Nothing
    }
    fn run(self, core: &Core) -> String {
        let clients = core.clients.borrow();
        let mut text = String::new();
        for c in clients.values() {
            if self.ids.as_ref().is_some_and(|ids| !ids.contains(&c.id)) {
                continue;
            }
            if self.kind.as_ref().is_some_and(|k| k.as_str() != c.kind()) {
                continue;
            }
            text.push_str(&c.describe());
            text.push('\n');
        }
        text
    }
}

/// CLIENT KILL on this core: how many were killed.
pub struct ClientKill(pub KillFilter);

impl Call for ClientKill {
    type Out = i64;
    fn touches(&self) -> Touches<'_> {
        Touches::Nothing
    }
    fn run(self, core: &Core) -> i64 {
        let clients = core.clients.borrow();
        let mut killed = 0;
        for c in clients.values() {
            if c.matches(&self.0) {
                c.kill();
                killed += 1;
            }
        }
        killed
    }
}

/// Each database's xor of key digests, for DEBUG DIGEST.
pub struct Digest;

impl Call for Digest {
    type Out = Vec<Option<engine::digest::Digest>>;
    fn touches(&self) -> Touches<'_> {
        Touches::Nothing
    }
    fn run(self, core: &Core) -> Self::Out {
        core.shard.borrow().digest()
    }
}

/// DEBUG DIGEST-VALUE of these keys of `db`: hex digests in order.
pub struct DigestValue {
    pub db: usize,
    pub keys: Vec<Vec<u8>>,
}

impl Call for DigestValue {
    type Out = Vec<Vec<u8>>;
    fn touches(&self) -> Touches<'_> {
        Touches::Keys(self.db, all(&self.keys))
    }
    fn run(self, core: &Core) -> Vec<Vec<u8>> {
        let shard = core.shard.borrow();
        self.keys
            .iter()
            .map(|k| engine::digest::hex(&shard.digest_value(self.db, k)).into_bytes())
            .collect()
    }
}

/// The snapshot point (sent under a lock of every shard): starts this shard's snapshot,
/// feeding `sink`; answers the change counter, then keys and expires per database.
pub struct SnapshotStart {
    pub sink: crossbeam_channel::Sender<crate::persist::SaveMsg>,
}

impl Call for SnapshotStart {
    type Out = Vec<u64>;
    fn touches(&self) -> Touches<'_> {
        Touches::Everything
    }
    fn run(self, core: &Core) -> Vec<u64> {
        // What this shard wrote before the point is in the replication stream before the
        // offset a full sync's snapshot stands for.
        crate::feed::publish(core);
        match core.rc() {
            Some(me) => crate::persist::start_shard(&me, self.sink),
            None => Vec::new(),
        }
    }
}

/// Loads this shard's keys from RDB images (DEBUG RELOAD; a replica's full sync, which
/// keeps keys already expired: `.1`), in the background.
pub struct Load(pub Vec<Arc<Vec<u8>>>, pub bool);

impl Call for Load {
    type Out = ();
    fn touches(&self) -> Touches<'_> {
        Touches::Nothing
    }
    fn run(self, core: &Core) {
        if let Some(me) = core.rc() {
            reactor::spawn_local(crate::persist::load_shard(me, self.0, self.1)).detach();
        }
    }
}

/// The replication stream starts: this shard's journal records (if the AOF has not turned
/// it on already).
pub struct EnableJournal;

impl Call for EnableJournal {
    type Out = ();
    fn touches(&self) -> Touches<'_> {
        Touches::Nothing
    }
    fn run(self, core: &Core) {
        let mut shard = core.shard.borrow_mut();
        if !shard.journal.enabled() {
            shard.journal.set_enabled(true);
        }
    }
}

/// A replica's shards expire nothing (the master's DELs do), a master's do.
pub struct ReplicaMode(pub bool);

impl Call for ReplicaMode {
    type Out = ();
    fn touches(&self) -> Touches<'_> {
        Touches::Nothing
    }
    fn run(self, core: &Core) {
        if self.0 {
            // The master's own writes so far go into its stream first.
            crate::feed::publish(core);
        }
        let mut shard = core.shard.borrow_mut();
        let was = shard.replica;
        shard.replica = self.0;
        if was && !self.0 {
            // Promoted: what this shard recorded applying its master's stream is in the
            // backlog already (as the master sent it); its own writes record from here,
            // starting with a SELECT.
            shard.journal.unpublished();
            if core
                .shared
                .feed
                .active
                .load(std::sync::atomic::Ordering::Acquire)
            {
                shard.journal.set_enabled(true);
            }
        }
    }
}

/// SCRIPT FLUSH: this core forgets its scripts (a fresh Lua state when one is next needed).
pub struct FlushScripts;

impl Call for FlushScripts {
    type Out = ();
    // Not under a busy script: it waits for the script to end.
    fn touches(&self) -> Touches<'_> {
        Touches::Everything
    }
    fn run(self, core: &Core) {
        let mut lua = core.lua.borrow_mut();
        if lua.as_ref().is_some_and(|e| e.is_paused()) {
            // A busy script stopped in the middle (it came in before the script was busy):
            // its state stays until it ends; SCRIPT FLUSH answers BUSY from then on.
            return;
        }
        *lua = None;
        core.broad_scripts.borrow_mut().clear();
    }
}

/// Cluster mode, at core 0: a message published on this node, for the other nodes' bus.
pub struct ClusterPublish {
    pub channel: Vec<u8>,
    pub message: Vec<u8>,
    pub shard: bool,
}

impl Call for ClusterPublish {
    type Out = ();
    fn touches(&self) -> Touches<'_> {
        Touches::Nothing
    }
    fn run(self, core: &Core) {
        crate::cluster::bus::publish_out(core, &self.channel, &self.message, self.shard);
    }
}

/// Cluster mode, at core 0 (the bus's core): CLUSTER FAILOVER [FORCE|TAKEOVER].
pub struct ClusterFailover {
    pub force: bool,
    pub takeover: bool,
}

impl Call for ClusterFailover {
    type Out = Result<(), String>;
    fn touches(&self) -> Touches<'_> {
        Touches::Nothing
    }
    fn run(self, core: &Core) -> Result<(), String> {
        crate::cluster::bus::manual_failover(core, self.force, self.takeover)
    }
}

/// Cluster mode, at core 0 (the bus's core): the bus's links (CLUSTER LINKS).
pub struct ClusterLinks;

impl Call for ClusterLinks {
    type Out = Vec<crate::cluster::bus::LinkView>;
    fn touches(&self) -> Touches<'_> {
        Touches::Nothing
    }
    fn run(self, core: &Core) -> Vec<crate::cluster::bus::LinkView> {
        crate::cluster::bus::links(core)
    }
}

/// CONFIG SET port or bind: this core accepts on these new listening sockets and closes the
/// ones it had (`accept_tcp`).
pub struct Relisten(pub Vec<std::os::unix::io::RawFd>);

impl Call for Relisten {
    type Out = ();
    fn touches(&self) -> Touches<'_> {
        Touches::Nothing
    }
    fn run(self, core: &Core) {
        if let Some(me) = core.rc() {
            crate::accept_tcp(&me, self.0);
        }
    }
}

/// LATENCY LATEST/HISTORY/GRAPH/DOCTOR: this core's latency spikes.
pub struct LatencyEvents;

impl Call for LatencyEvents {
    type Out = engine::cmdstats::Monitor;
    fn touches(&self) -> Touches<'_> {
        Touches::Nothing
    }
    fn run(self, core: &Core) -> Self::Out {
        core.shard.borrow().latency.clone()
    }
}

/// LATENCY RESET on this core: the names of the events it forgot.
pub struct LatencyReset(pub Vec<Vec<u8>>);

impl Call for LatencyReset {
    type Out = Vec<String>;
    fn touches(&self) -> Touches<'_> {
        Touches::Nothing
    }
    fn run(self, core: &Core) -> Self::Out {
        core.shard.borrow_mut().latency.reset(&self.0)
    }
}

/// SLOWLOG GET: this core's newest `count` entries.
pub struct SlowlogGet(pub usize);

impl Call for SlowlogGet {
    type Out = Vec<crate::slowlog::Entry>;
    fn touches(&self) -> Touches<'_> {
        Touches::Nothing
    }
    fn run(self, core: &Core) -> Self::Out {
        core.slowlog.borrow().newest(self.0)
    }
}

/// SLOWLOG LEN: this core's entry count.
pub struct SlowlogLen;

impl Call for SlowlogLen {
    type Out = usize;
    fn touches(&self) -> Touches<'_> {
        Touches::Nothing
    }
    fn run(self, core: &Core) -> usize {
        core.slowlog.borrow().len()
    }
}

/// SLOWLOG RESET on this core.
pub struct SlowlogReset;

impl Call for SlowlogReset {
    type Out = ();
    fn touches(&self) -> Touches<'_> {
        Touches::Nothing
    }
    fn run(self, core: &Core) {
        core.slowlog.borrow_mut().clear();
    }
}

/// MONITOR lines another core ran commands for, to this core's monitors.
pub struct MonitorLines(pub Vec<u8>);

impl Call for MonitorLines {
    type Out = ();
    fn touches(&self) -> Touches<'_> {
        Touches::Nothing
    }
    fn run(self, core: &Core) {
        crate::monitor::deliver_here(core, &self.0);
    }
}
