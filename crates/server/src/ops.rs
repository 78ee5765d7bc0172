//! What one core asks of another: a batch of commands for keys the other core owns, or a
//! whole-shard operation (DBSIZE, SCAN, FLUSHALL, ...). Everything here is `Send`: it crosses
//! threads through the cross-core queues.

use engine::table::{CommandSpec, Handler};
use engine::value::Entry;
use engine::{Args, DbInfo, Shard};
use resp::{Arg, Proto};
use std::ops::Range;

/// Commands for one shard, in the order the connection sent them. Arguments are copied once
/// into `data` (one allocation per hop, not per command).
#[derive(Default)]
pub struct Batch {
    pub data: Vec<u8>,
    pub ranges: Vec<Arg>,
    pub cmds: Vec<BatchCmd>,
}

pub struct BatchCmd {
    pub spec: &'static CommandSpec,
    pub handler: Handler,
    pub db: u16,
    pub proto: Proto,
    pub args: Range<u32>,
}

impl Batch {
    pub fn is_empty(&self) -> bool {
        self.cmds.is_empty()
    }

    /// The (db, key) pairs its commands touch, from the command table's key positions.
    pub fn keys(&self) -> impl Iterator<Item = (usize, &[u8])> {
        self.cmds.iter().flat_map(move |c| {
            let args = &self.ranges[c.args.start as usize..c.args.end as usize];
            c.spec
                .key_positions(&Args::new(&self.data, args))
                .filter_map(move |p| args.get(p))
                .map(move |a| (c.db as usize, &self.data[a.start as usize..a.end as usize]))
        })
    }

    /// Appends a command; `args` are the words (name first) to copy. Returns its index.
    pub fn push<'a>(
        &mut self,
        spec: &'static CommandSpec,
        handler: Handler,
        db: usize,
        proto: Proto,
        args: impl Iterator<Item = &'a [u8]>,
    ) -> usize {
        let first = self.ranges.len() as u32;
        for a in args {
            let start = self.data.len() as u32;
            self.data.extend_from_slice(a);
            self.ranges.push(Arg {
                start,
                end: self.data.len() as u32,
            });
        }
        self.cmds.push(BatchCmd {
            spec,
            handler,
            db: db as u16,
            proto,
            args: first..self.ranges.len() as u32,
        });
        self.cmds.len() - 1
    }

    pub fn run(&self, shard: &mut Shard) -> BatchOut {
        let mut out = BatchOut {
            data: Vec::with_capacity(64 * self.cmds.len()),
            ends: Vec::with_capacity(self.cmds.len()),
            events: Vec::new(),
        };
        for c in &self.cmds {
            let args = Args::new(
                &self.data,
                &self.ranges[c.args.start as usize..c.args.end as usize],
            );
            shard.execute(
                c.spec,
                c.handler,
                c.db as usize,
                args,
                &mut out.data,
                c.proto,
            );
            out.ends.push(out.data.len() as u32);
            if shard.has_events() {
                let i = out.ends.len() as u32 - 1;
                out.events
                    .extend(shard.take_events().into_iter().map(|e| (i, e)));
            }
        }
        out
    }
}

/// The replies of a batch, back to back, with the end offset of each, and the keyspace
/// events its commands raised, each with its command's index (the connection publishes
/// them in its commands' order, whatever shards they ran on).
#[derive(Default)]
pub struct BatchOut {
    pub data: Vec<u8>,
    pub ends: Vec<u32>,
    pub events: Vec<(u32, engine::notify::Event)>,
}

impl BatchOut {
    pub fn reply(&self, idx: usize) -> &[u8] {
        let start = if idx == 0 {
            0
        } else {
            self.ends[idx - 1] as usize
        };
        &self.data[start..self.ends[idx] as usize]
    }
}

/// A CLIENT KILL filter (the new form; the old `CLIENT KILL addr` maps to `addr`).
#[derive(Clone, Debug, Default)]
pub struct KillFilter {
    pub id: Option<u64>,
    pub addr: Option<String>,
    pub laddr: Option<String>,
    pub user: Option<String>,
    pub kind: Option<String>,
    /// The id of the client asking, to skip it (SKIPME yes, the default).
    pub skip: Option<u64>,
}

pub enum Op {
    Batch(Batch),
    /// A multi-shard operation's piece for this shard: lock `keys` for `tx` (after earlier
    /// operations on them), run `batch`, release at once when it is the last shard, and answer
    /// with the batch's replies.
    LockRun {
        tx: u64,
        keys: crate::core::LockKeys,
        batch: Batch,
        release: bool,
    },
    /// Release `tx`'s keys on this shard.
    Release(u64),
    /// WATCH these keys of `db`: answers their versions (`Reply::Versions`), with the top bit
    /// set for a key that is already logically expired.
    Watch {
        db: usize,
        keys: Vec<Vec<u8>>,
    },
    /// Whether `key` holds a list (`Reply::Bool`), is absent, or is another type (error text).
    CheckList {
        db: usize,
        key: Vec<u8>,
    },
    /// Pop up to `count` elements from one end of a list (`Reply::Keys`; nothing if absent).
    ListPop {
        db: usize,
        key: Vec<u8>,
        left: bool,
        count: usize,
    },
    /// Push elements onto one end of a list, creating it (`Reply::Int`: the new length).
    ListPush {
        db: usize,
        key: Vec<u8>,
        left: bool,
        elems: Vec<Vec<u8>>,
    },
    /// Drop one watch of each (db, key).
    Unwatch(Vec<(usize, Vec<u8>)>),
    /// Whether every (db, key) is still at the version WATCH saw (as `Watch` answered it)
    /// and has not expired since.
    WatchCheck(Vec<(usize, Vec<u8>, u64)>),
    /// A transaction whose keys all live on this shard: check the watches, then run the
    /// whole queue in one go (`Reply::Batch`), or answer `Reply::Bool(false)`.
    Exec {
        watches: Vec<(usize, Vec<u8>, u64)>,
        batch: Batch,
    },
    /// A blocking command's waiter on `key` (of `reg.db`): served at once if the key can
    /// serve it (`Reply::Block(Try::Served)`), else registered until a push serves it, it
    /// times out or its client goes.
    Block {
        reg: BlockReg,
        key: Vec<u8>,
    },
    /// Drops waiter `id` from these keys.
    Unblock {
        db: usize,
        keys: Vec<Vec<u8>>,
        id: u64,
    },
    /// Puts back what serving a waiter took, its client being gone.
    Undo {
        db: usize,
        undo: engine::cmd::blocking::Undo,
    },
    /// CLIENT UNBLOCK: unblocks client `id` if it is this core's and blocked
    /// (`Reply::Int(1)`), with an error or as a timeout.
    ClientUnblock {
        id: u64,
        error: bool,
    },
    /// SORT's source: the entry (`Reply::Entry`), a sorted set converted as SORT leaves it.
    SortSource {
        db: usize,
        key: Vec<u8>,
    },
    /// SORT's pattern reads: each (key, hash field) as a string or field value
    /// (`Reply::Values`).
    SortLookup {
        db: usize,
        items: Vec<engine::cmd::sort::PatternKey>,
    },
    /// A message for this core's subscribers (`Reply::Int`: how many received it).
    Publish {
        /// (channel, message) pairs, delivered in order.
        msgs: Vec<(Vec<u8>, Vec<u8>)>,
        shard: bool,
    },
    /// At a shard channel's owning shard: `core` has its first subscriber to each of
    /// `channels` (`add`), or lost its last one.
    ShardChannels {
        channels: Vec<Vec<u8>>,
        core: usize,
        add: bool,
    },
    /// At a shard channel's owning shard: which cores subscribe to it (`Reply::Cores`).
    ShardRoute {
        channel: Vec<u8>,
    },
    /// Names with subscribers on this core (`Reply::Keys`).
    PubsubNames {
        kind: crate::pubsub::Kind,
        pattern: Option<Vec<u8>>,
    },
    /// Subscriber counts on this core (`Reply::Versions`, in order).
    PubsubCount {
        kind: crate::pubsub::Kind,
        names: Vec<Vec<u8>>,
    },
    /// New encoding limits after CONFIG SET.
    SetLimits(crate::shared::Settings),
    Dbsize(usize),
    Keys(usize, Vec<u8>),
    Scan {
        db: usize,
        cursor: u64,
        count: usize,
        pattern: Option<Vec<u8>>,
        kind: Option<Vec<u8>>,
    },
    RandomKey(usize),
    Flush {
        db: Option<usize>,
        lazy: bool,
    },
    SwapDb(usize, usize),
    DbInfo,
    /// INFO's counters; the subscription names only when `pubsub` (INFO stats).
    Stats {
        pubsub: bool,
    },
    ResetStats,
    Take {
        db: usize,
        key: Vec<u8>,
    },
    Get {
        db: usize,
        key: Vec<u8>,
    },
    /// Stores `entry` unless the key exists and `replace` is off (`Reply::Int`: 0 not
    /// stored, 1 stored under a new key, 2 stored over an existing one).
    Put {
        db: usize,
        key: Vec<u8>,
        entry: Entry,
        replace: bool,
    },
    /// How many of `keys` exist (MSETNX's check).
    Exists {
        db: usize,
        keys: Vec<Vec<u8>>,
    },
    ClientList {
        ids: Option<Vec<u64>>,
        kind: Option<String>,
    },
    ClientKill(KillFilter),
    /// Each database's xor of key digests (`Reply::Digests`), for DEBUG DIGEST.
    Digest,
    /// The snapshot point (sent under a whole-shard lock): start this shard's snapshot,
    /// feeding `sink` (`Reply::Versions`: the change counter, then keys and expires per db).
    SnapshotStart {
        sink: crossbeam_channel::Sender<crate::persist::SaveMsg>,
    },
    /// Load this shard's keys from an RDB file (DEBUG RELOAD), in the background.
    Load(std::sync::Arc<Vec<u8>>),
    /// DEBUG DIGEST-VALUE of these keys of `db` (`Reply::Keys`: hex digests in order).
    DigestValue {
        db: usize,
        keys: Vec<Vec<u8>>,
    },
}

/// Counters a core reports for INFO.
#[derive(Clone, Debug, Default)]
pub struct CoreStats {
    pub keyspace_hits: u64,
    pub keyspace_misses: u64,
    pub expired_keys: u64,
    pub dirty: u64,
    pub commands: u64,
    pub keys: usize,
    pub net_input_bytes: u64,
    pub net_output_bytes: u64,
    pub hops_sent: u64,
    pub max_input_buffer: usize,
    pub max_output_buffer: usize,
    /// Channels, patterns and shard channels this core's clients subscribe to (INFO counts
    /// the distinct names over all cores).
    pub pubsub: [Vec<Vec<u8>>; 3],
}

/// A client blocked on keys, as registered on the shards that own them. `claim` is the one
/// thing shared between cores: whoever sets it first (a shard serving the client, its
/// timeout, CLIENT UNBLOCK or its disconnect) decides how the block ends, so a client is
/// served at most once however many shards its keys live on.
pub struct BlockReg {
    /// Unique across cores: the client's core in the top bits, its token below.
    pub id: u64,
    pub core: usize,
    pub token: u64,
    pub claim: std::sync::Arc<std::sync::atomic::AtomicBool>,
    pub kind: engine::cmd::blocking::BlockKind,
    pub proto: Proto,
    pub db: usize,
    /// The shard of a move's destination.
    pub dst_shard: usize,
}

/// What a shard did with a waiter.
pub enum Try {
    /// Served: the reply, a move's element still to push to another shard, and what to put
    /// back if the client is gone.
    Served {
        reply: Vec<u8>,
        moved: Option<Vec<u8>>,
        undo: engine::cmd::blocking::Undo,
        /// The shard that served it (where an undo goes).
        shard: usize,
    },
    Registered,
    /// Already claimed by another of its keys, or by its own timeout.
    Lost,
}

pub enum Reply {
    Cores(Vec<usize>),
    /// A reply and the keyspace events raised making it, for the asking connection to
    /// publish in its command's order.
    Evented(Box<Reply>, Vec<engine::notify::Event>),
    Block(Try),
    /// CLIENT UNBLOCK ended the block.
    Unblocked {
        error: bool,
    },
    Batch(BatchOut),
    Int(i64),
    Keys(Vec<Vec<u8>>),
    Scan(u64, Vec<Vec<u8>>),
    Key(Option<Vec<u8>>),
    Entry(Option<Entry>),
    Bool(bool),
    DbInfo(Vec<DbInfo>),
    Stats(CoreStats),
    Text(String),
    Versions(Vec<u64>),
    Digests(Vec<Option<engine::digest::Digest>>),
    /// Values, and whether each one's key exists.
    Values(Vec<Option<Vec<u8>>>, Vec<bool>),
    Unit,
}

impl Reply {
    /// The reply and its keyspace events (none unless `Evented`).
    pub fn events(self) -> (Reply, Vec<engine::notify::Event>) {
        match self {
            Reply::Evented(r, e) => (*r, e),
            r => (r, Vec::new()),
        }
    }

    pub fn int(&self) -> i64 {
        match self {
            Reply::Int(n) => *n,
            _ => 0,
        }
    }
}
