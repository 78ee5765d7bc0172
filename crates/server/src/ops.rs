//! What one core asks of another: a batch of commands for keys the other core owns, or a
//! whole-shard operation (DBSIZE, SCAN, FLUSHALL, ...). Everything here is `Send`: it crosses
//! threads through the cross-core queues.

use engine::table::{CommandSpec, Handler};
use engine::{Args, Shard};
use resp::{Arg, Proto};
use std::ops::Range;

/// Commands for one shard, in the order the connection sent them. Arguments are copied once
/// into `data` (one allocation per hop, not per command).
#[derive(Default)]
pub struct Batch {
    pub data: Vec<u8>,
    pub ranges: Vec<Arg>,
    pub cmds: Vec<BatchCmd>,
    /// The commands are a replica's master's (`Shard::obey`).
    pub obey: bool,
    /// While someone monitors: whose commands these are, as MONITOR shows them (the
    /// shard that runs them feeds the lines: `BatchOut::monitor`).
    pub who: Option<std::sync::Arc<str>>,
    /// The client whose commands these are (0: none), and its core: tracking's NOLOOP and
    /// the keys its `track`ed commands read.
    pub client: u64,
    pub client_core: u16,
}

impl Batch {
    /// Heap bytes it holds (handed from core to core with it: `memory::disown`).
    pub fn heap_bytes(&self) -> i64 {
        use crate::memory::vec_bytes;
        vec_bytes(&self.data) + vec_bytes(&self.ranges) + vec_bytes(&self.cmds)
    }
}

pub struct BatchCmd {
    pub spec: &'static CommandSpec,
    pub handler: Handler,
    pub db: u16,
    pub proto: Proto,
    pub args: Range<u32>,
    /// A piece of a command split over shards: not logged as slow on its own.
    pub piece: bool,
    /// The client tracks the keys this command reads (client-side caching).
    pub track: bool,
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
            piece: false,
            track: false,
        });
        self.cmds.len() - 1
    }

    /// `push` of a piece of a split command.
    pub fn push_piece<'a>(
        &mut self,
        spec: &'static CommandSpec,
        handler: Handler,
        db: usize,
        proto: Proto,
        args: impl Iterator<Item = &'a [u8]>,
    ) -> usize {
        let idx = self.push(spec, handler, db, proto, args);
        self.cmds[idx].piece = true;
        idx
    }

    pub fn run(&self, shard: &mut Shard) -> BatchOut {
        shard.obey = self.obey;
        shard.client = self.client;
        let out = self.run_commands(shard);
        shard.obey = false;
        shard.client = 0;
        shard.reader = None;
        out
    }

    fn run_commands(&self, shard: &mut Shard) -> BatchOut {
        let mut out = BatchOut {
            data: Vec::with_capacity(64 * self.cmds.len()),
            ends: Vec::with_capacity(self.cmds.len()),
            events: Vec::new(),
            extra: None,
        };
        // One clock read per command for SLOWLOG: each starts when the one before ended.
        let mut clock = shard.slow_clock();
        for c in &self.cmds {
            let args = Args::new(
                &self.data,
                &self.ranges[c.args.start as usize..c.args.end as usize],
            );
            shard.uncounted = c.piece;
            shard.reader = c.track.then_some(engine::tracking::Reader {
                id: self.client,
                core: self.client_core,
            });
            clock = shard.execute_since(
                c.spec,
                c.handler,
                c.db as usize,
                args,
                &mut out.data,
                c.proto,
                clock,
            );
            out.ends.push(out.data.len() as u32);
            if let Some(who) = self.who.as_deref().filter(|_| !c.piece) {
                if crate::monitor::shown(c.spec) && !shard.loading {
                    crate::monitor::line(&mut out.extra().monitor, c.db as usize, who, args);
                }
            }
            if shard.has_slow() {
                let mut slow = shard.take_slow();
                if !c.piece {
                    out.extra().slow.append(&mut slow);
                }
            }
            if shard.has_events() {
                let i = out.ends.len() as u32 - 1;
                out.events
                    .extend(shard.take_events().into_iter().map(|e| (i, e)));
            }
        }
        shard.uncounted = false;
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
    /// What only some batches have (boxed: replies stay small on the mesh).
    pub extra: Option<Box<BatchExtra>>,
}

#[derive(Default)]
pub struct BatchExtra {
    /// Its commands that ran slow (the connection logs them as its own: `slowlog`).
    pub slow: Vec<engine::slowlog::Record>,
    /// MONITOR lines of its commands (fed by the core that ran them, `Core::exec`).
    pub monitor: Vec<u8>,
}

impl BatchOut {
    fn extra(&mut self) -> &mut BatchExtra {
        self.extra.get_or_insert_with(Default::default)
    }

    /// Its slow commands' records (`slowlog`).
    pub fn take_slow(&mut self) -> Vec<engine::slowlog::Record> {
        self.extra
            .as_mut()
            .map(|e| std::mem::take(&mut e.slow))
            .unwrap_or_default()
    }

    /// Its MONITOR lines.
    pub fn take_monitor(&mut self) -> Vec<u8> {
        self.extra
            .as_mut()
            .map(|e| std::mem::take(&mut e.monitor))
            .unwrap_or_default()
    }

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

/// What a cross-core call touches, for the key locks of multi-shard operations
/// (`Core::lock_allows`).
pub enum Touches<'a> {
    /// No key (pub/sub, clients, settings, counters, watch versions, whole-keyspace reads
    /// that run inside an operation locking every shard).
    Nothing,
    /// These keys of a database.
    Keys(usize, Vec<&'a [u8]>),
    /// Every key: waits until everything held is the caller's own.
    Everything,
}

/// A request one core runs for another, typed with its reply: the caller gets `Out` and
/// nothing else, and every call says what it touches before it compiles.
pub trait Call: Send + 'static {
    type Out: Send + 'static;
    fn touches(&self) -> Touches<'_>;
    /// Runs on the core that owns what it touches (the shard's clock already set).
    fn run(self, core: &crate::core::Core) -> Self::Out;
}

/// A `Call` with its types erased, as it crosses the queues.
pub trait AnyCall: Send {
    fn touches(&self) -> Touches<'_>;
    fn run_any(self: Box<Self>, core: &crate::core::Core) -> Box<dyn std::any::Any + Send>;
}

/// A call that came across the queues runs as what it is.
impl Call for Box<dyn AnyCall> {
    type Out = Box<dyn std::any::Any + Send>;
    fn touches(&self) -> Touches<'_> {
        (**self).touches()
    }
    fn run(self, core: &crate::core::Core) -> Self::Out {
        self.run_any(core)
    }
}

impl<C: Call> AnyCall for C {
    fn touches(&self) -> Touches<'_> {
        Call::touches(self)
    }
    fn run_any(self: Box<Self>, core: &crate::core::Core) -> Box<dyn std::any::Any + Send> {
        Box::new((*self).run(core))
    }
}

impl Op {
    /// Heap bytes of the batch it carries, if any.
    pub fn heap_bytes(&self) -> i64 {
        match self {
            Op::Batch(b) | Op::LockRun { batch: b, .. } | Op::Exec { batch: b, .. } => {
                b.heap_bytes()
            }
            Op::Call(_) | Op::Release(_) => 0,
        }
    }
}

impl Reply {
    /// Heap bytes of the batch replies it carries, if any.
    pub fn heap_bytes(&self) -> i64 {
        match self {
            Reply::Batch(o) => {
                use crate::memory::vec_bytes;
                vec_bytes(&o.data) + vec_bytes(&o.ends) + vec_bytes(&o.events)
            }
            _ => 0,
        }
    }
}

pub enum Op {
    Batch(Batch),
    /// A typed call (`Call`, `core::calls`); answered with `Reply::Any` holding its `Out`.
    Call(Box<dyn AnyCall>),
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
    /// A transaction whose keys all live on this shard: check the watches, then run the
    /// whole queue in one go (`Reply::Batch`), or answer `Reply::Aborted`.
    Exec {
        watches: Vec<(usize, Vec<u8>, u64)>,
        batch: Batch,
    },
}

/// Counters a core reports for INFO.
#[derive(Clone, Debug, Default)]
pub struct CoreStats {
    pub keyspace_hits: u64,
    pub keyspace_misses: u64,
    pub expired_keys: u64,
    pub evicted_keys: u64,
    pub dirty: u64,
    pub commands: u64,
    pub keys: usize,
    pub net_input_bytes: u64,
    pub net_output_bytes: u64,
    pub hops_sent: u64,
    pub max_input_buffer: usize,
    pub max_output_buffer: usize,
    /// Error replies (INFO stats' total_error_replies), and, when asked for, the
    /// per-command and per-error counters.
    pub error_replies: u64,
    pub cmdstats: Option<engine::cmdstats::CommandStats>,
    /// Channels, patterns and shard channels this core's clients subscribe to (INFO counts
    /// the distinct names over all cores).
    pub pubsub: [Vec<Vec<u8>>; 3],
    /// Client-side caching: tracked keys, reader entries, broadcast prefixes (every shard
    /// holds every prefix).
    pub tracking: (usize, usize, usize),
    /// Memory of this core's clients, as CLIENT LIST's tot-mem: replicas, and the others.
    pub clients_replicas: u64,
    pub clients_normal: u64,
    /// How many replicas and other clients are connected to this core.
    pub replicas: usize,
    pub clients: usize,
    /// (database, hash table overhead, slot-to-keys overhead) of its databases with keys.
    pub db_overheads: Vec<(usize, usize, usize)>,
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
    /// A typed call's `Out`.
    Any(Box<dyn std::any::Any + Send>),
    /// What became of a blocked client (delivered to its connection).
    Block(Try),
    /// CLIENT UNBLOCK ended the block.
    Unblocked {
        error: bool,
    },
    Batch(BatchOut),
    /// A one-shard EXEC whose watches failed.
    Aborted,
    Unit,
}
