//! The command table: every command declared once — name, arity, flags, key positions, ACL
//! categories and what runs it. COMMAND, routing, arity checks and (later) ACLs, cluster key
//! checks and the AOF all read this table, so a new command touches this file and one family
//! file.

use crate::args::Args;
use crate::cmd::{
    bitmap, blocking, geo, hash, hyperloglog, keys, list, set, sort, stream, string, zset,
};
use crate::error::Result;
use crate::shard::Ctx;
use std::collections::HashMap;
use std::hash::BuildHasherDefault;
use std::sync::OnceLock;

pub type Handler = fn(&mut Ctx, Args) -> Result<()>;

/// What runs a command.
#[derive(Clone, Copy)]
pub enum Kind {
    /// Runs on the shard owning its keys. When the keys span shards, `split` says how.
    Keyed { handler: Handler, split: Split },
    /// Runs in the runtime: connection state, server-wide state, or every shard.
    Runtime(Rt),
}

/// How a multi-key command whose keys live on several shards is carried out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Split {
    /// A single-key command: never spans shards.
    Never,
    /// Each shard runs the command on its keys; the integer replies are summed (DEL, EXISTS).
    SumInt,
    /// Each key runs alone as `CMD key`; the one-element array replies are concatenated in
    /// key order (MGET).
    PerKeyArray,
    /// Each shard runs the command on its key/value pairs; the reply is +OK (MSET).
    AllOk,
    /// XREAD: each key runs alone on its shard as `XREAD [COUNT n] STREAMS key id`; the
    /// keys that answered go into one reply in key order (no stream is copied).
    PerStream,
    /// The runtime moves values between shards itself (RENAME, COPY, LCS, MSETNX).
    Runtime(Rt),
    /// The runtime locks every key, gathers copies of their values onto one scratch shard,
    /// runs the command there and writes back the keys it modified (SINTERSTORE, SMOVE,
    /// ZUNIONSTORE, LMPOP, ...): one generic path for commands that combine whole values.
    Gather,
}

/// Keys that only the arguments can locate (Redis' "movablekeys").
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Movable {
    No,
    /// The argument at this index counts the keys that follow it (ZUNIONSTORE, LMPOP).
    NumKeys(usize),
    /// SORT's `STORE dst`.
    SortStore,
    /// GEORADIUS' and GEORADIUSBYMEMBER's `STORE dst` / `STOREDIST dst` (the last one).
    GeoStore,
    /// XREAD's and XREADGROUP's keys: the first half of what follows STREAMS.
    Streams,
}

/// What key positions are read from: a parsed command or a queued one.
pub trait Words {
    fn count(&self) -> usize;
    fn word(&self, i: usize) -> &[u8];
}

impl Words for Args<'_> {
    fn count(&self) -> usize {
        self.len()
    }
    fn word(&self, i: usize) -> &[u8] {
        self.get(i)
    }
}

impl Words for [Vec<u8>] {
    fn count(&self) -> usize {
        self.len()
    }
    fn word(&self, i: usize) -> &[u8] {
        &self[i]
    }
}

impl Words for [&[u8]] {
    fn count(&self) -> usize {
        self.len()
    }
    fn word(&self, i: usize) -> &[u8] {
        self[i]
    }
}

/// Commands the runtime implements.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Rt {
    Slowlog,
    Latency,
    Module,
    Lolwut,
    Monitor,
    Ping,
    Echo,
    Quit,
    Reset,
    Hello,
    Auth,
    Select,
    Client,
    Command,
    Info,
    Config,
    Time,
    Shutdown,
    Debug,
    Dbsize,
    Keys,
    Scan,
    RandomKey,
    FlushDb,
    FlushAll,
    SwapDb,
    LastSave,
    ReplicaOf,
    Role,
    Failover,
    Cluster,
    Asking,
    Migrate,
    ReadOnly,
    ReadWrite,
    Replconf,
    Psync,
    Sync,
    Wait,
    Save,
    BgSave,
    BgRewriteAof,
    Rename,
    RenameNx,
    Copy,
    Lcs,
    MSetNx,
    Memory,
    LMove,
    RPopLPush,
    Sort,
    Subscribe,
    Unsubscribe,
    PSubscribe,
    PUnsubscribe,
    SSubscribe,
    SUnsubscribe,
    Publish,
    SPublish,
    Pubsub,
    Multi,
    Exec,
    Discard,
    Watch,
    Unwatch,
    Eval,
    Script,
    Function,
}

/// A command's flags (Redis' `CMD_*`) as bits, read once at dispatch. The table spells them
/// as Redis' COMMAND names them; `Flags::of` turns the names into bits at compile time and
/// refuses an unknown name there.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct Flags(u32);

impl Flags {
    /// Bit `i` is `NAMES[i]`, in the order Redis 7.0's COMMAND lists them.
    const NAMES: [&'static str; 20] = [
        "write",
        "readonly",
        "denyoom",
        "admin",
        "pubsub",
        "noscript",
        "blocking",
        "loading",
        "stale",
        "skip_monitor",
        "skip_slowlog",
        "fast",
        "no_auth",
        "may_replicate",
        "no_mandatory_keys",
        "no_async_loading",
        "no_multi",
        "movablekeys",
        "allow_busy",
        "asking",
    ];
    pub const WRITE: Flags = Flags(1 << 0);
    pub const READONLY: Flags = Flags(1 << 1);
    pub const DENYOOM: Flags = Flags(1 << 2);
    pub const ADMIN: Flags = Flags(1 << 3);
    pub const PUBSUB: Flags = Flags(1 << 4);
    pub const NOSCRIPT: Flags = Flags(1 << 5);
    pub const BLOCKING: Flags = Flags(1 << 6);
    pub const LOADING: Flags = Flags(1 << 7);
    pub const STALE: Flags = Flags(1 << 8);
    pub const SKIP_MONITOR: Flags = Flags(1 << 9);
    pub const SKIP_SLOWLOG: Flags = Flags(1 << 10);
    pub const FAST: Flags = Flags(1 << 11);
    pub const NO_AUTH: Flags = Flags(1 << 12);
    /// Redis hides it from COMMAND.
    pub const MAY_REPLICATE: Flags = Flags(1 << 13);
    pub const NO_MANDATORY_KEYS: Flags = Flags(1 << 14);
    pub const NO_ASYNC_LOADING: Flags = Flags(1 << 15);
    pub const NO_MULTI: Flags = Flags(1 << 16);
    /// Not written in the table: COMMAND shows it for commands with `Movable` keys.
    pub const MOVABLE_KEYS: Flags = Flags(1 << 17);
    pub const ALLOW_BUSY: Flags = Flags(1 << 18);
    /// RESTORE-ASKING: served in an importing slot without ASKING.
    pub const ASKING: Flags = Flags(1 << 19);

    /// The flags named (a compile error in a table constant for a name Redis has not).
    pub const fn of(names: &[&str]) -> Flags {
        let mut bits = 0;
        let mut i = 0;
        while i < names.len() {
            let mut b = 0;
            loop {
                assert!(b < Self::NAMES.len(), "unknown command flag");
                if const_eq(names[i], Self::NAMES[b]) {
                    break;
                }
                b += 1;
            }
            bits |= 1 << b;
            i += 1;
        }
        Flags(bits)
    }

    pub const fn has(self, f: Flags) -> bool {
        self.0 & f.0 == f.0
    }

    pub const fn union(self, f: Flags) -> Flags {
        Flags(self.0 | f.0)
    }

    /// Every flag this one lacks.
    pub const fn lacking(self) -> Flags {
        Flags(!self.0)
    }

    /// The names COMMAND shows, in Redis' order (without the hidden `may_replicate`).
    pub fn names(self) -> impl Iterator<Item = &'static str> {
        (0..Self::NAMES.len())
            .filter(move |&b| self.0 & (1 << b) != 0 && Flags(1 << b) != Self::MAY_REPLICATE)
            .map(|b| Self::NAMES[b])
    }
}

const fn const_eq(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if a.len() != b.len() {
        return false;
    }
    let mut i = 0;
    while i < a.len() {
        if a[i] != b[i] {
            return false;
        }
        i += 1;
    }
    true
}

pub struct CommandSpec {
    /// Lowercase, as COMMAND reports it.
    pub name: &'static str,
    /// Redis arity: positive = exact argument count (name included), negative = at least.
    pub arity: i32,
    pub flags: Flags,
    pub first_key: i32,
    pub last_key: i32,
    pub step: i32,
    pub movable: Movable,
    pub acl: &'static [&'static str],
    pub group: &'static str,
    pub summary: &'static str,
    pub kind: Kind,
}

impl CommandSpec {
    pub fn arity_ok(&self, argc: usize) -> bool {
        let a = self.arity;
        if a >= 0 {
            argc == a as usize
        } else {
            argc >= (-a) as usize
        }
    }

    pub fn is_write(&self) -> bool {
        self.flags.has(Flags::WRITE)
    }

    pub fn is_blocking(&self) -> bool {
        self.flags.has(Flags::BLOCKING)
    }

    /// Whether this call writes: a write command, but not a write container's HELP (XGROUP
    /// HELP, whose own flags are Redis' `loading stale`).
    pub fn writes(&self, args: Args) -> bool {
        self.is_write()
            && !(args.len() == 2 && args.is(1, "help") && subcommand_arity(self, b"help").is_some())
    }

    /// Whether this call may block: a blocking command, but XREAD and XREADGROUP only with
    /// their BLOCK option.
    pub fn may_block(&self, args: Args) -> bool {
        self.is_blocking() && (!self.blocks_by_option() || xread_scan(&args).1)
    }

    /// XREAD and XREADGROUP: they block only when asked to (BLOCK), and refuse it in
    /// scripts themselves.
    pub fn blocks_by_option(&self) -> bool {
        matches!(self.name, "xread" | "xreadgroup")
    }

    /// Indexes of the key arguments for this invocation (Redis' first/last/step, then any
    /// movable keys). Container commands (OBJECT, MEMORY) name their key at 2 only when one
    /// is given. A bad key count yields only the fixed keys; the handler reports the error.
    pub fn key_positions<W: Words + ?Sized>(&self, args: &W) -> impl Iterator<Item = usize> {
        let argc = args.count();
        let first = self.first_key.max(0) as usize;
        let last = if self.last_key < 0 {
            argc as i64 + self.last_key as i64
        } else {
            self.last_key as i64
        };
        let last = last.min(argc as i64 - 1);
        let step = self.step.max(1) as usize;
        let fixed = if first == 0 || last < first as i64 {
            0..0
        } else {
            first..last as usize + 1
        };
        let movable = match self.movable {
            Movable::No => 0..0,
            Movable::NumKeys(at) => match (at < argc)
                .then(|| crate::args::parse_i64(args.word(at)))
                .flatten()
            {
                Some(n) if n > 0 && (n as usize) < argc - at => at + 1..at + 1 + n as usize,
                _ => 0..0,
            },
            Movable::SortStore => sort_store(args).map_or(0..0, |p| p..p + 1),
            Movable::GeoStore => geo_store(args).map_or(0..0, |p| p..p + 1),
            Movable::Streams => xread_keys(args),
        };
        fixed.step_by(step).chain(movable)
    }

    /// Key positions for a runtime command whose arguments name keys (shard channels).
    const fn keys(mut self, keys: (i32, i32, i32)) -> CommandSpec {
        self.first_key = keys.0;
        self.last_key = keys.1;
        self.step = keys.2;
        self
    }

    /// Marks the command's keys as located by its arguments.
    const fn movable(mut self, m: Movable) -> CommandSpec {
        self.movable = m;
        self
    }

    pub fn handler(&self) -> Option<Handler> {
        match self.kind {
            Kind::Keyed { handler, .. } => Some(handler),
            Kind::Runtime(_) => None,
        }
    }
}

const W: &[&str] = &["write"];
const WD: &[&str] = &["write", "denyoom"];
const WDF: &[&str] = &["write", "denyoom", "fast"];
const WF: &[&str] = &["write", "fast"];
const WB: &[&str] = &["write", "noscript", "blocking"];
const WBM: &[&str] = &["write", "blocking"];
const WDB: &[&str] = &["write", "denyoom", "noscript", "blocking"];
const WFB: &[&str] = &["write", "noscript", "blocking", "fast"];
const R: &[&str] = &["readonly"];
const RF: &[&str] = &["readonly", "fast"];
const CONN: &[&str] = &["noscript", "loading", "stale", "fast"];
const CONN_NOAUTH: &[&str] = &["noscript", "loading", "stale", "fast", "no_auth"];
const PUBSUB: &[&str] = &["pubsub", "noscript", "loading", "stale"];
/// PUBLISH and SPUBLISH: may_replicate (hidden from COMMAND, as in Redis) makes read-only
/// scripts refuse them.
const PUBSUB_F: &[&str] = &["pubsub", "loading", "stale", "fast", "may_replicate"];
const ADMIN: &[&str] = &["admin", "noscript", "loading", "stale"];

const A_HASH_WF: &[&str] = &["@write", "@hash", "@fast"];
const A_HASH_RF: &[&str] = &["@read", "@hash", "@fast"];
const A_HASH_RS: &[&str] = &["@read", "@hash", "@slow"];
const A_SET_WF: &[&str] = &["@write", "@set", "@fast"];
const A_SET_WS: &[&str] = &["@write", "@set", "@slow"];
const A_SET_RF: &[&str] = &["@read", "@set", "@fast"];
const A_SET_RS: &[&str] = &["@read", "@set", "@slow"];
const A_ZSET_WF: &[&str] = &["@write", "@sortedset", "@fast"];
const A_ZSET_WS: &[&str] = &["@write", "@sortedset", "@slow"];
const A_ZSET_RF: &[&str] = &["@read", "@sortedset", "@fast"];
const A_ZSET_RS: &[&str] = &["@read", "@sortedset", "@slow"];
const A_LIST_WSB: &[&str] = &["@write", "@list", "@slow", "@blocking"];
const A_ZSET_WFB: &[&str] = &["@write", "@sortedset", "@fast", "@blocking"];
const A_ZSET_WSB: &[&str] = &["@write", "@sortedset", "@slow", "@blocking"];
const A_SORT_W: &[&str] = &[
    "@write",
    "@set",
    "@sortedset",
    "@list",
    "@slow",
    "@dangerous",
];
const A_SORT_R: &[&str] = &[
    "@read",
    "@set",
    "@sortedset",
    "@list",
    "@slow",
    "@dangerous",
];
const A_LIST_WF: &[&str] = &["@write", "@list", "@fast"];
const A_LIST_WS: &[&str] = &["@write", "@list", "@slow"];
const A_LIST_RF: &[&str] = &["@read", "@list", "@fast"];
const A_LIST_RS: &[&str] = &["@read", "@list", "@slow"];
const A_STR_R: &[&str] = &["@read", "@string", "@fast"];
const A_STR_W: &[&str] = &["@write", "@string", "@fast"];
const A_STR_WS: &[&str] = &["@write", "@string", "@slow"];
const A_STR_RS: &[&str] = &["@read", "@string", "@slow"];
const A_BIT_WS: &[&str] = &["@write", "@bitmap", "@slow"];
const A_GEO_WS: &[&str] = &["@write", "@geo", "@slow"];
const A_STREAM_WF: &[&str] = &["@write", "@stream", "@fast"];
const A_STREAM_WS: &[&str] = &["@write", "@stream", "@slow"];
const A_STREAM_RF: &[&str] = &["@read", "@stream", "@fast"];
const A_STREAM_RS: &[&str] = &["@read", "@stream", "@slow"];
const A_STREAM_RSB: &[&str] = &["@read", "@stream", "@slow", "@blocking"];
const A_STREAM_WSB: &[&str] = &["@write", "@stream", "@slow", "@blocking"];
const A_GEO_RS: &[&str] = &["@read", "@geo", "@slow"];
const A_HLL_WF: &[&str] = &["@write", "@hyperloglog", "@fast"];
const A_HLL_WS: &[&str] = &["@write", "@hyperloglog", "@slow"];
const A_HLL_RS: &[&str] = &["@read", "@hyperloglog", "@slow"];
const A_HLL_ADMIN_W: &[&str] = &["@write", "@hyperloglog", "@admin", "@slow", "@dangerous"];
const A_HLL_ADMIN: &[&str] = &["@hyperloglog", "@admin", "@slow", "@dangerous"];
const A_BIT_RF: &[&str] = &["@read", "@bitmap", "@fast"];
const A_BIT_RS: &[&str] = &["@read", "@bitmap", "@slow"];
const A_KEY_W: &[&str] = &["@keyspace", "@write", "@fast"];
const A_KEY_WS: &[&str] = &["@keyspace", "@write", "@slow"];
const A_KEY_R: &[&str] = &["@keyspace", "@read", "@fast"];
const A_KEY_RS: &[&str] = &["@keyspace", "@read", "@slow"];
const A_CONN: &[&str] = &["@fast", "@connection"];
const A_ADMIN: &[&str] = &["@admin", "@slow", "@dangerous"];
const A_SLOW: &[&str] = &["@slow"];
const A_PUBSUB_S: &[&str] = &["@pubsub", "@slow"];
const A_PUBSUB_F: &[&str] = &["@pubsub", "@fast"];

#[allow(clippy::too_many_arguments)]
const fn keyed(
    name: &'static str,
    arity: i32,
    flags: &'static [&'static str],
    keys: (i32, i32, i32),
    acl: &'static [&'static str],
    group: &'static str,
    summary: &'static str,
    handler: Handler,
    split: Split,
) -> CommandSpec {
    CommandSpec {
        name,
        arity,
        flags: Flags::of(flags),
        first_key: keys.0,
        last_key: keys.1,
        step: keys.2,
        movable: Movable::No,
        acl,
        group,
        summary,
        kind: Kind::Keyed { handler, split },
    }
}

const fn rt(
    name: &'static str,
    arity: i32,
    flags: &'static [&'static str],
    acl: &'static [&'static str],
    group: &'static str,
    summary: &'static str,
    rt: Rt,
) -> CommandSpec {
    CommandSpec {
        name,
        arity,
        flags: Flags::of(flags),
        first_key: 0,
        last_key: 0,
        step: 0,
        movable: Movable::No,
        acl,
        group,
        summary,
        kind: Kind::Runtime(rt),
    }
}

const ONE: (i32, i32, i32) = (1, 1, 1);
const ALL: (i32, i32, i32) = (1, -1, 1);
const PAIRS: (i32, i32, i32) = (1, -1, 2);
const TWO: (i32, i32, i32) = (1, 2, 1);
const SECOND: (i32, i32, i32) = (2, 2, 1);
/// Keys found only through the arguments (see `Movable`).
const NONE: (i32, i32, i32) = (0, 0, 0);
/// Every argument but the last (the timeout).
const BLOCK_KEYS: (i32, i32, i32) = (1, -2, 1);

use Split::{AllOk, Never, PerKeyArray, SumInt};

pub static COMMANDS: &[CommandSpec] = &[
    // hashes
    keyed(
        "hset",
        -4,
        WDF,
        ONE,
        A_HASH_WF,
        "hash",
        "Set the string value of a hash field",
        hash::hset,
        Never,
    ),
    keyed(
        "hmset",
        -4,
        WDF,
        ONE,
        A_HASH_WF,
        "hash",
        "Set multiple hash fields to multiple values",
        hash::hmset,
        Never,
    ),
    keyed(
        "hsetnx",
        4,
        WDF,
        ONE,
        A_HASH_WF,
        "hash",
        "Set the value of a hash field, only if the field does not exist",
        hash::hsetnx,
        Never,
    ),
    keyed(
        "hget",
        3,
        RF,
        ONE,
        A_HASH_RF,
        "hash",
        "Get the value of a hash field",
        hash::hget,
        Never,
    ),
    keyed(
        "hmget",
        -3,
        RF,
        ONE,
        A_HASH_RF,
        "hash",
        "Get the values of all the given hash fields",
        hash::hmget,
        Never,
    ),
    keyed(
        "hdel",
        -3,
        WF,
        ONE,
        A_HASH_WF,
        "hash",
        "Delete one or more hash fields",
        hash::hdel,
        Never,
    ),
    keyed(
        "hlen",
        2,
        RF,
        ONE,
        A_HASH_RF,
        "hash",
        "Get the number of fields in a hash",
        hash::hlen,
        Never,
    ),
    keyed(
        "hstrlen",
        3,
        RF,
        ONE,
        A_HASH_RF,
        "hash",
        "Get the length of the value of a hash field",
        hash::hstrlen,
        Never,
    ),
    keyed(
        "hexists",
        3,
        RF,
        ONE,
        A_HASH_RF,
        "hash",
        "Determine if a hash field exists",
        hash::hexists,
        Never,
    ),
    keyed(
        "hgetall",
        2,
        R,
        ONE,
        A_HASH_RS,
        "hash",
        "Get all the fields and values in a hash",
        hash::hgetall,
        Never,
    ),
    keyed(
        "hkeys",
        2,
        R,
        ONE,
        A_HASH_RS,
        "hash",
        "Get all the fields in a hash",
        hash::hkeys,
        Never,
    ),
    keyed(
        "hvals",
        2,
        R,
        ONE,
        A_HASH_RS,
        "hash",
        "Get all the values in a hash",
        hash::hvals,
        Never,
    ),
    keyed(
        "hincrby",
        4,
        WDF,
        ONE,
        A_HASH_WF,
        "hash",
        "Increment the integer value of a hash field by the given number",
        hash::hincrby,
        Never,
    ),
    keyed(
        "hincrbyfloat",
        4,
        WDF,
        ONE,
        A_HASH_WF,
        "hash",
        "Increment the float value of a hash field by the given amount",
        hash::hincrbyfloat,
        Never,
    ),
    // sets
    keyed(
        "sadd",
        -3,
        WDF,
        ONE,
        A_SET_WF,
        "set",
        "Add one or more members to a set",
        set::sadd,
        Never,
    ),
    keyed(
        "srem",
        -3,
        WF,
        ONE,
        A_SET_WF,
        "set",
        "Remove one or more members from a set",
        set::srem,
        Never,
    ),
    keyed(
        "smembers",
        2,
        R,
        ONE,
        A_SET_RS,
        "set",
        "Get all the members in a set",
        set::smembers,
        Never,
    ),
    keyed(
        "sismember",
        3,
        RF,
        ONE,
        A_SET_RF,
        "set",
        "Determine if a given value is a member of a set",
        set::sismember,
        Never,
    ),
    keyed(
        "smismember",
        -3,
        RF,
        ONE,
        A_SET_RF,
        "set",
        "Returns the membership associated with the given elements for a set",
        set::smismember,
        Never,
    ),
    keyed(
        "scard",
        2,
        RF,
        ONE,
        A_SET_RF,
        "set",
        "Get the number of members in a set",
        set::scard,
        Never,
    ),
    keyed(
        "spop",
        -2,
        WF,
        ONE,
        A_SET_WF,
        "set",
        "Remove and return one or multiple random members from a set",
        set::spop,
        Never,
    ),
    keyed(
        "srandmember",
        -2,
        R,
        ONE,
        A_SET_RS,
        "set",
        "Get one or multiple random members from a set",
        set::srandmember,
        Never,
    ),
    keyed(
        "smove",
        4,
        WF,
        TWO,
        A_SET_WF,
        "set",
        "Move a member from one set to another",
        set::smove,
        Split::Gather,
    ),
    keyed(
        "sinter",
        -2,
        R,
        ALL,
        A_SET_RS,
        "set",
        "Intersect multiple sets",
        set::sinter,
        Split::Gather,
    ),
    keyed(
        "sintercard",
        -3,
        R,
        NONE,
        A_SET_RS,
        "set",
        "Intersect multiple sets and return the cardinality of the result",
        set::sintercard,
        Split::Gather,
    )
    .movable(Movable::NumKeys(1)),
    keyed(
        "sinterstore",
        -3,
        WD,
        ALL,
        A_SET_WS,
        "set",
        "Intersect multiple sets and store the resulting set in a key",
        set::sinterstore,
        Split::Gather,
    ),
    keyed(
        "sunion",
        -2,
        R,
        ALL,
        A_SET_RS,
        "set",
        "Add multiple sets",
        set::sunion,
        Split::Gather,
    ),
    keyed(
        "sunionstore",
        -3,
        WD,
        ALL,
        A_SET_WS,
        "set",
        "Add multiple sets and store the resulting set in a key",
        set::sunionstore,
        Split::Gather,
    ),
    keyed(
        "sdiff",
        -2,
        R,
        ALL,
        A_SET_RS,
        "set",
        "Subtract multiple sets",
        set::sdiff,
        Split::Gather,
    ),
    keyed(
        "sdiffstore",
        -3,
        WD,
        ALL,
        A_SET_WS,
        "set",
        "Subtract multiple sets and store the resulting set in a key",
        set::sdiffstore,
        Split::Gather,
    ),
    keyed(
        "sscan",
        -3,
        R,
        ONE,
        A_SET_RS,
        "set",
        "Incrementally iterate Set elements",
        set::sscan,
        Never,
    ),
    // sorted sets
    keyed(
        "zadd",
        -4,
        WDF,
        ONE,
        A_ZSET_WF,
        "sorted-set",
        "Add one or more members to a sorted set, or update its score if it already exists",
        zset::zadd,
        Never,
    ),
    keyed(
        "zincrby",
        4,
        WDF,
        ONE,
        A_ZSET_WF,
        "sorted-set",
        "Increment the score of a member in a sorted set",
        zset::zincrby,
        Never,
    ),
    keyed(
        "zrem",
        -3,
        WF,
        ONE,
        A_ZSET_WF,
        "sorted-set",
        "Remove one or more members from a sorted set",
        zset::zrem,
        Never,
    ),
    keyed(
        "zcard",
        2,
        RF,
        ONE,
        A_ZSET_RF,
        "sorted-set",
        "Get the number of members in a sorted set",
        zset::zcard,
        Never,
    ),
    keyed(
        "zscore",
        3,
        RF,
        ONE,
        A_ZSET_RF,
        "sorted-set",
        "Get the score associated with the given member in a sorted set",
        zset::zscore,
        Never,
    ),
    keyed(
        "zmscore",
        -3,
        RF,
        ONE,
        A_ZSET_RF,
        "sorted-set",
        "Get the score associated with the given members in a sorted set",
        zset::zmscore,
        Never,
    ),
    keyed(
        "zrank",
        3,
        RF,
        ONE,
        A_ZSET_RF,
        "sorted-set",
        "Determine the index of a member in a sorted set",
        zset::zrank,
        Never,
    ),
    keyed(
        "zrevrank",
        3,
        RF,
        ONE,
        A_ZSET_RF,
        "sorted-set",
        "Determine the index of a member in a sorted set, with scores ordered from high to low",
        zset::zrevrank,
        Never,
    ),
    keyed(
        "zcount",
        4,
        RF,
        ONE,
        A_ZSET_RF,
        "sorted-set",
        "Count the members in a sorted set with scores within the given values",
        zset::zcount,
        Never,
    ),
    keyed(
        "zlexcount",
        4,
        RF,
        ONE,
        A_ZSET_RF,
        "sorted-set",
        "Count the number of members in a sorted set between a given lexicographical range",
        zset::zlexcount,
        Never,
    ),
    keyed(
        "zrange",
        -4,
        R,
        ONE,
        A_ZSET_RS,
        "sorted-set",
        "Return a range of members in a sorted set",
        zset::zrange,
        Never,
    ),
    keyed(
        "zrangestore",
        -5,
        WD,
        TWO,
        A_ZSET_WS,
        "sorted-set",
        "Store a range of members from sorted set into another key",
        zset::zrangestore,
        Split::Gather,
    ),
    keyed(
        "zrevrange",
        -4,
        R,
        ONE,
        A_ZSET_RS,
        "sorted-set",
        "Return a range of members in a sorted set, by index, with scores ordered from high to low",
        zset::zrevrange,
        Never,
    ),
    keyed(
        "zrangebyscore",
        -4,
        R,
        ONE,
        A_ZSET_RS,
        "sorted-set",
        "Return a range of members in a sorted set, by score",
        zset::zrangebyscore,
        Never,
    ),
    keyed(
        "zrevrangebyscore",
        -4,
        R,
        ONE,
        A_ZSET_RS,
        "sorted-set",
        "Return a range of members in a sorted set, by score, with scores ordered from high to low",
        zset::zrevrangebyscore,
        Never,
    ),
    keyed(
        "zrangebylex",
        -4,
        R,
        ONE,
        A_ZSET_RS,
        "sorted-set",
        "Return a range of members in a sorted set, by lexicographical range",
        zset::zrangebylex,
        Never,
    ),
    keyed(
        "zrevrangebylex",
        -4,
        R,
        ONE,
        A_ZSET_RS,
        "sorted-set",
        "Return a range of members in a sorted set, by lexicographical range, ordered from higher to lower strings.",
        zset::zrevrangebylex,
        Never,
    ),
    keyed(
        "zremrangebyrank",
        4,
        W,
        ONE,
        A_ZSET_WS,
        "sorted-set",
        "Remove all members in a sorted set within the given indexes",
        zset::zremrangebyrank,
        Never,
    ),
    keyed(
        "zremrangebyscore",
        4,
        W,
        ONE,
        A_ZSET_WS,
        "sorted-set",
        "Remove all members in a sorted set within the given scores",
        zset::zremrangebyscore,
        Never,
    ),
    keyed(
        "zremrangebylex",
        4,
        W,
        ONE,
        A_ZSET_WS,
        "sorted-set",
        "Remove all members in a sorted set between the given lexicographical range",
        zset::zremrangebylex,
        Never,
    ),
    keyed(
        "zpopmin",
        -2,
        WF,
        ONE,
        A_ZSET_WF,
        "sorted-set",
        "Remove and return members with the lowest scores in a sorted set",
        zset::zpopmin,
        Never,
    ),
    keyed(
        "zpopmax",
        -2,
        WF,
        ONE,
        A_ZSET_WF,
        "sorted-set",
        "Remove and return members with the highest scores in a sorted set",
        zset::zpopmax,
        Never,
    ),
    keyed(
        "zmpop",
        -4,
        W,
        NONE,
        A_ZSET_WS,
        "sorted-set",
        "Remove and return members with scores in a sorted set",
        zset::zmpop,
        Split::Gather,
    )
    .movable(Movable::NumKeys(1)),
    keyed(
        "zrandmember",
        -2,
        R,
        ONE,
        A_ZSET_RS,
        "sorted-set",
        "Get one or multiple random elements from a sorted set",
        zset::zrandmember,
        Never,
    ),
    keyed(
        "zunion",
        -3,
        R,
        NONE,
        A_ZSET_RS,
        "sorted-set",
        "Add multiple sorted sets",
        zset::zunion,
        Split::Gather,
    )
    .movable(Movable::NumKeys(1)),
    keyed(
        "zinter",
        -3,
        R,
        NONE,
        A_ZSET_RS,
        "sorted-set",
        "Intersect multiple sorted sets",
        zset::zinter,
        Split::Gather,
    )
    .movable(Movable::NumKeys(1)),
    keyed(
        "zdiff",
        -3,
        R,
        NONE,
        A_ZSET_RS,
        "sorted-set",
        "Subtract multiple sorted sets",
        zset::zdiff,
        Split::Gather,
    )
    .movable(Movable::NumKeys(1)),
    keyed(
        "zintercard",
        -3,
        R,
        NONE,
        A_ZSET_RS,
        "sorted-set",
        "Intersect multiple sorted sets and return the cardinality of the result",
        zset::zintercard,
        Split::Gather,
    )
    .movable(Movable::NumKeys(1)),
    keyed(
        "zunionstore",
        -4,
        WD,
        ONE,
        A_ZSET_WS,
        "sorted-set",
        "Add multiple sorted sets and store the resulting sorted set in a new key",
        zset::zunionstore,
        Split::Gather,
    )
    .movable(Movable::NumKeys(2)),
    keyed(
        "zinterstore",
        -4,
        WD,
        ONE,
        A_ZSET_WS,
        "sorted-set",
        "Intersect multiple sorted sets and store the resulting sorted set in a new key",
        zset::zinterstore,
        Split::Gather,
    )
    .movable(Movable::NumKeys(2)),
    keyed(
        "zdiffstore",
        -4,
        WD,
        ONE,
        A_ZSET_WS,
        "sorted-set",
        "Subtract multiple sorted sets and store the resulting sorted set in a new key",
        zset::zdiffstore,
        Split::Gather,
    )
    .movable(Movable::NumKeys(2)),
    keyed(
        "zscan",
        -3,
        R,
        ONE,
        A_ZSET_RS,
        "sorted-set",
        "Incrementally iterate sorted sets elements and associated scores",
        zset::zscan,
        Never,
    ),
    // hashes: random and scan
    keyed(
        "hrandfield",
        -2,
        R,
        ONE,
        A_HASH_RS,
        "hash",
        "Get one or multiple random fields from a hash",
        hash::hrandfield,
        Never,
    ),
    keyed(
        "hscan",
        -3,
        R,
        ONE,
        A_HASH_RS,
        "hash",
        "Incrementally iterate hash fields and associated values",
        hash::hscan,
        Never,
    ),
    // lists
    keyed(
        "lpush",
        -3,
        WDF,
        ONE,
        A_LIST_WF,
        "list",
        "Prepend one or multiple elements to a list",
        list::lpush,
        Never,
    ),
    keyed(
        "rpush",
        -3,
        WDF,
        ONE,
        A_LIST_WF,
        "list",
        "Append one or multiple elements to a list",
        list::rpush,
        Never,
    ),
    keyed(
        "lpushx",
        -3,
        WDF,
        ONE,
        A_LIST_WF,
        "list",
        "Prepend an element to a list, only if the list exists",
        list::lpushx,
        Never,
    ),
    keyed(
        "rpushx",
        -3,
        WDF,
        ONE,
        A_LIST_WF,
        "list",
        "Append an element to a list, only if the list exists",
        list::rpushx,
        Never,
    ),
    keyed(
        "lpop",
        -2,
        WF,
        ONE,
        A_LIST_WF,
        "list",
        "Remove and get the first elements in a list",
        list::lpop,
        Never,
    ),
    keyed(
        "rpop",
        -2,
        WF,
        ONE,
        A_LIST_WF,
        "list",
        "Remove and get the last elements in a list",
        list::rpop,
        Never,
    ),
    keyed(
        "lmove",
        5,
        WD,
        TWO,
        A_LIST_WS,
        "list",
        "Pop an element from a list, push it to another list and return it",
        list::lmove,
        Split::Runtime(Rt::LMove),
    ),
    keyed(
        "rpoplpush",
        3,
        WD,
        TWO,
        A_LIST_WS,
        "list",
        "Remove the last element in a list, prepend it to another list and return it",
        list::rpoplpush,
        Split::Runtime(Rt::RPopLPush),
    ),
    keyed(
        "llen",
        2,
        RF,
        ONE,
        A_LIST_RF,
        "list",
        "Get the length of a list",
        list::llen,
        Never,
    ),
    keyed(
        "lrange",
        4,
        R,
        ONE,
        A_LIST_RS,
        "list",
        "Get a range of elements from a list",
        list::lrange,
        Never,
    ),
    keyed(
        "lindex",
        3,
        R,
        ONE,
        A_LIST_RS,
        "list",
        "Get an element from a list by its index",
        list::lindex,
        Never,
    ),
    keyed(
        "lset",
        4,
        WD,
        ONE,
        A_LIST_WS,
        "list",
        "Set the value of an element in a list by its index",
        list::lset,
        Never,
    ),
    keyed(
        "linsert",
        5,
        WD,
        ONE,
        A_LIST_WS,
        "list",
        "Insert an element before or after another element in a list",
        list::linsert,
        Never,
    ),
    keyed(
        "lrem",
        4,
        W,
        ONE,
        A_LIST_WS,
        "list",
        "Remove elements from a list",
        list::lrem,
        Never,
    ),
    keyed(
        "ltrim",
        4,
        W,
        ONE,
        A_LIST_WS,
        "list",
        "Trim a list to the specified range",
        list::ltrim,
        Never,
    ),
    keyed(
        "lpos",
        -3,
        R,
        ONE,
        A_LIST_RS,
        "list",
        "Return the index of matching elements on a list",
        list::lpos,
        Never,
    ),
    // lists: multi-key pop
    keyed(
        "lmpop",
        -4,
        W,
        NONE,
        A_LIST_WS,
        "list",
        "Pop elements from a list",
        list::lmpop,
        Split::Gather,
    )
    .movable(Movable::NumKeys(1)),
    // blocking pops
    keyed(
        "blpop",
        -3,
        WB,
        BLOCK_KEYS,
        A_LIST_WSB,
        "list",
        "Remove and get the first element in a list, or block until one is available",
        blocking::nonblocking,
        Split::Gather,
    ),
    keyed(
        "brpop",
        -3,
        WB,
        BLOCK_KEYS,
        A_LIST_WSB,
        "list",
        "Remove and get the last element in a list, or block until one is available",
        blocking::nonblocking,
        Split::Gather,
    ),
    keyed(
        "blmpop",
        -5,
        WBM,
        NONE,
        A_LIST_WSB,
        "list",
        "Pop elements from a list, or block until one is available",
        blocking::nonblocking,
        Split::Gather,
    )
    .movable(Movable::NumKeys(2)),
    keyed(
        "blmove",
        6,
        WDB,
        TWO,
        A_LIST_WSB,
        "list",
        "Pop an element from a list, push it to another list and return it; or block until one is available",
        blocking::nonblocking,
        Split::Runtime(Rt::LMove),
    ),
    keyed(
        "brpoplpush",
        4,
        WDB,
        TWO,
        A_LIST_WSB,
        "list",
        "Pop an element from a list, push it to another list and return it; or block until one is available",
        blocking::nonblocking,
        Split::Runtime(Rt::RPopLPush),
    ),
    keyed(
        "bzpopmin",
        -3,
        WFB,
        BLOCK_KEYS,
        A_ZSET_WFB,
        "sorted-set",
        "Remove and return the member with the lowest score from one or more sorted sets, or block until one is available",
        blocking::nonblocking,
        Split::Gather,
    ),
    keyed(
        "bzpopmax",
        -3,
        WFB,
        BLOCK_KEYS,
        A_ZSET_WFB,
        "sorted-set",
        "Remove and return the member with the highest score from one or more sorted sets, or block until one is available",
        blocking::nonblocking,
        Split::Gather,
    ),
    keyed(
        "bzmpop",
        -5,
        WBM,
        NONE,
        A_ZSET_WSB,
        "sorted-set",
        "Remove and return members with scores in a sorted set or block until one is available",
        blocking::nonblocking,
        Split::Gather,
    )
    .movable(Movable::NumKeys(2)),
    // sort
    keyed(
        "sort",
        -2,
        WD,
        ONE,
        A_SORT_W,
        "generic",
        "Sort the elements in a list, set or sorted set",
        sort::sort,
        Split::Runtime(Rt::Sort),
    )
    .movable(Movable::SortStore),
    keyed(
        "sort_ro",
        -2,
        R,
        ONE,
        A_SORT_R,
        "generic",
        "Sort the elements in a list, set or sorted set. Read-only variant of SORT.",
        sort::sort_ro,
        Split::Runtime(Rt::Sort),
    )
    .movable(Movable::SortStore),
    // strings
    keyed(
        "get",
        2,
        RF,
        ONE,
        A_STR_R,
        "string",
        "Get the value of a key",
        string::get,
        Never,
    ),
    keyed(
        "set",
        -3,
        WD,
        ONE,
        A_STR_WS,
        "string",
        "Set the string value of a key",
        string::set,
        Never,
    ),
    keyed(
        "setnx",
        3,
        WDF,
        ONE,
        A_STR_W,
        "string",
        "Set the value of a key, only if the key does not exist",
        string::setnx,
        Never,
    ),
    keyed(
        "setex",
        4,
        WD,
        ONE,
        A_STR_WS,
        "string",
        "Set the value and expiration of a key",
        string::setex,
        Never,
    ),
    keyed(
        "psetex",
        4,
        WD,
        ONE,
        A_STR_WS,
        "string",
        "Set the value and expiration in milliseconds of a key",
        string::psetex,
        Never,
    ),
    keyed(
        "getset",
        3,
        WDF,
        ONE,
        A_STR_W,
        "string",
        "Set the string value of a key and return its old value",
        string::getset,
        Never,
    ),
    keyed(
        "getdel",
        2,
        WF,
        ONE,
        A_STR_W,
        "string",
        "Get the value of a key and delete the key",
        string::getdel,
        Never,
    ),
    keyed(
        "getex",
        -2,
        WF,
        ONE,
        A_STR_W,
        "string",
        "Get the value of a key and optionally set its expiration",
        string::getex,
        Never,
    ),
    keyed(
        "mget",
        -2,
        RF,
        ALL,
        A_STR_R,
        "string",
        "Get the values of all the given keys",
        string::mget,
        PerKeyArray,
    ),
    keyed(
        "mset",
        -3,
        WD,
        PAIRS,
        A_STR_WS,
        "string",
        "Set multiple keys to multiple values",
        string::mset,
        AllOk,
    ),
    keyed(
        "msetnx",
        -3,
        WD,
        PAIRS,
        A_STR_WS,
        "string",
        "Set multiple keys to multiple values, only if none of the keys exist",
        string::msetnx,
        Split::Runtime(Rt::MSetNx),
    ),
    keyed(
        "append",
        3,
        WDF,
        ONE,
        A_STR_W,
        "string",
        "Append a value to a key",
        string::append,
        Never,
    ),
    keyed(
        "strlen",
        2,
        RF,
        ONE,
        A_STR_R,
        "string",
        "Get the length of the value stored in a key",
        string::strlen,
        Never,
    ),
    keyed(
        "incr",
        2,
        WDF,
        ONE,
        A_STR_W,
        "string",
        "Increment the integer value of a key by one",
        string::incr,
        Never,
    ),
    keyed(
        "decr",
        2,
        WDF,
        ONE,
        A_STR_W,
        "string",
        "Decrement the integer value of a key by one",
        string::decr,
        Never,
    ),
    keyed(
        "incrby",
        3,
        WDF,
        ONE,
        A_STR_W,
        "string",
        "Increment the integer value of a key by the given amount",
        string::incrby,
        Never,
    ),
    keyed(
        "decrby",
        3,
        WDF,
        ONE,
        A_STR_W,
        "string",
        "Decrement the integer value of a key by the given number",
        string::decrby,
        Never,
    ),
    keyed(
        "incrbyfloat",
        3,
        WDF,
        ONE,
        A_STR_W,
        "string",
        "Increment the float value of a key by the given amount",
        string::incrbyfloat,
        Never,
    ),
    keyed(
        "getrange",
        4,
        R,
        ONE,
        A_STR_RS,
        "string",
        "Get a substring of the string stored at a key",
        string::getrange,
        Never,
    ),
    keyed(
        "substr",
        4,
        R,
        ONE,
        A_STR_RS,
        "string",
        "Get a substring of the string stored at a key",
        string::getrange,
        Never,
    ),
    keyed(
        "setbit",
        4,
        WD,
        ONE,
        A_BIT_WS,
        "bitmap",
        "Sets or clears the bit at offset in the string value stored at key",
        bitmap::setbit,
        Never,
    ),
    keyed(
        "getbit",
        3,
        RF,
        ONE,
        A_BIT_RF,
        "bitmap",
        "Returns the bit value at offset in the string value stored at key",
        bitmap::getbit,
        Never,
    ),
    keyed(
        "bitcount",
        -2,
        R,
        ONE,
        A_BIT_RS,
        "bitmap",
        "Count set bits in a string",
        bitmap::bitcount,
        Never,
    ),
    keyed(
        "bitpos",
        -3,
        R,
        ONE,
        A_BIT_RS,
        "bitmap",
        "Find first bit set or clear in a string",
        bitmap::bitpos,
        Never,
    ),
    keyed(
        "bitop",
        -4,
        WD,
        (2, -1, 1),
        A_BIT_WS,
        "bitmap",
        "Perform bitwise operations between strings",
        bitmap::bitop,
        Split::Gather,
    ),
    keyed(
        "bitfield",
        -2,
        WD,
        ONE,
        A_BIT_WS,
        "bitmap",
        "Perform arbitrary bitfield integer operations on strings",
        bitmap::bitfield,
        Never,
    ),
    keyed(
        "bitfield_ro",
        -2,
        RF,
        ONE,
        A_BIT_RF,
        "bitmap",
        "Perform arbitrary bitfield integer operations on strings. Read-only variant of BITFIELD",
        bitmap::bitfield_ro,
        Never,
    ),
    keyed(
        "geoadd",
        -5,
        WD,
        ONE,
        A_GEO_WS,
        "geo",
        "Add one or more geospatial items in the geospatial index represented using a sorted set",
        geo::geoadd,
        Never,
    ),
    keyed(
        "geopos",
        -2,
        R,
        ONE,
        A_GEO_RS,
        "geo",
        "Returns longitude and latitude of members of a geospatial index",
        geo::geopos,
        Never,
    ),
    keyed(
        "geodist",
        -4,
        R,
        ONE,
        A_GEO_RS,
        "geo",
        "Returns the distance between two members of a geospatial index",
        geo::geodist,
        Never,
    ),
    keyed(
        "geohash",
        -2,
        R,
        ONE,
        A_GEO_RS,
        "geo",
        "Returns members of a geospatial index as standard geohash strings",
        geo::geohash,
        Never,
    ),
    keyed(
        "georadius",
        -6,
        WD,
        ONE,
        A_GEO_WS,
        "geo",
        "Query a sorted set representing a geospatial index to fetch members matching a given maximum distance from a point",
        geo::georadius,
        Split::Gather,
    )
    .movable(Movable::GeoStore),
    keyed(
        "georadius_ro",
        -6,
        R,
        ONE,
        A_GEO_RS,
        "geo",
        "A read-only variant for GEORADIUS",
        geo::georadius_ro,
        Never,
    ),
    keyed(
        "georadiusbymember",
        -5,
        WD,
        ONE,
        A_GEO_WS,
        "geo",
        "Query a sorted set representing a geospatial index to fetch members matching a given maximum distance from a member",
        geo::georadiusbymember,
        Split::Gather,
    )
    .movable(Movable::GeoStore),
    keyed(
        "georadiusbymember_ro",
        -5,
        R,
        ONE,
        A_GEO_RS,
        "geo",
        "A read-only variant for GEORADIUSBYMEMBER",
        geo::georadiusbymember_ro,
        Never,
    ),
    keyed(
        "geosearch",
        -7,
        R,
        ONE,
        A_GEO_RS,
        "geo",
        "Query a sorted set representing a geospatial index to fetch members inside an area of a box or a circle.",
        geo::geosearch,
        Never,
    ),
    keyed(
        "geosearchstore",
        -8,
        WD,
        TWO,
        A_GEO_WS,
        "geo",
        "Query a sorted set representing a geospatial index to fetch members inside an area of a box or a circle, and store the result in another key.",
        geo::geosearchstore,
        Split::Gather,
    ),
    // streams
    keyed(
        "xadd",
        -5,
        WDF,
        ONE,
        A_STREAM_WF,
        "stream",
        "Appends a new entry to a stream",
        stream::xadd,
        Never,
    ),
    keyed(
        "xlen",
        2,
        RF,
        ONE,
        A_STREAM_RF,
        "stream",
        "Return the number of entries in a stream",
        stream::xlen,
        Never,
    ),
    keyed(
        "xrange",
        -4,
        R,
        ONE,
        A_STREAM_RS,
        "stream",
        "Return a range of elements in a stream, with IDs matching the specified IDs interval",
        stream::xrange,
        Never,
    ),
    keyed(
        "xrevrange",
        -4,
        R,
        ONE,
        A_STREAM_RS,
        "stream",
        "Return a range of elements in a stream, with IDs matching the specified IDs interval, in reverse order (from greater to smaller IDs) compared to XRANGE",
        stream::xrevrange,
        Never,
    ),
    keyed(
        "xdel",
        -3,
        WF,
        ONE,
        A_STREAM_WF,
        "stream",
        "Removes the specified entries from the stream. Returns the number of items actually deleted, that may be different from the number of IDs passed in case certain IDs do not exist.",
        stream::xdel,
        Never,
    ),
    keyed(
        "xtrim",
        -4,
        W,
        ONE,
        A_STREAM_WS,
        "stream",
        "Trims the stream to (approximately if '~' is passed) a certain size",
        stream::xtrim,
        Never,
    ),
    keyed(
        "xsetid",
        -3,
        WDF,
        ONE,
        A_STREAM_WF,
        "stream",
        "An internal command for replicating stream values",
        stream::xsetid,
        Never,
    ),
    keyed(
        "xgroup",
        -2,
        WD,
        SECOND,
        A_STREAM_WS,
        "stream",
        "A container for consumer groups commands",
        stream::xgroup,
        Never,
    ),
    keyed(
        "xinfo",
        -2,
        R,
        SECOND,
        A_STREAM_RS,
        "stream",
        "A container for stream introspection commands",
        stream::xinfo,
        Never,
    ),
    keyed(
        "xread",
        -4,
        &["readonly", "blocking"],
        NONE,
        A_STREAM_RSB,
        "stream",
        "Return never seen elements in multiple streams, with IDs greater than the ones reported by the caller for each stream. Can block.",
        stream::xread,
        Split::PerStream,
    )
    .movable(Movable::Streams),
    keyed(
        "xreadgroup",
        -7,
        &["write", "blocking"],
        NONE,
        A_STREAM_WSB,
        "stream",
        "Return new entries from a stream using a consumer group, or access the history of the pending entries for a given consumer. Can block.",
        stream::xreadgroup,
        Split::Gather,
    )
    .movable(Movable::Streams),
    keyed(
        "xack",
        -4,
        WF,
        ONE,
        A_STREAM_WF,
        "stream",
        "Marks a pending message as correctly processed, effectively removing it from the pending entries list of the consumer group. Return value of the command is the number of messages successfully acknowledged, that is, the IDs we were actually able to resolve in the PEL.",
        stream::xack,
        Never,
    ),
    keyed(
        "xpending",
        -3,
        R,
        ONE,
        A_STREAM_RS,
        "stream",
        "Return information and entries from a stream consumer group pending entries list, that are messages fetched but never acknowledged.",
        stream::xpending,
        Never,
    ),
    keyed(
        "xclaim",
        -6,
        WF,
        ONE,
        A_STREAM_WF,
        "stream",
        "Changes (or acquires) ownership of a message in a consumer group, as if the message was delivered to the specified consumer.",
        stream::xclaim,
        Never,
    ),
    keyed(
        "xautoclaim",
        -6,
        WF,
        ONE,
        A_STREAM_WF,
        "stream",
        "Changes (or acquires) ownership of messages in a consumer group, as if the messages were delivered to the specified consumer.",
        stream::xautoclaim,
        Never,
    ),
    keyed(
        "pfadd",
        -2,
        WDF,
        ONE,
        A_HLL_WF,
        "hyperloglog",
        "Adds the specified elements to the specified HyperLogLog.",
        hyperloglog::pfadd,
        Never,
    ),
    keyed(
        "pfcount",
        -2,
        &["readonly", "may_replicate"],
        ALL,
        A_HLL_RS,
        "hyperloglog",
        "Return the approximated cardinality of the set(s) observed by the HyperLogLog at key(s).",
        hyperloglog::pfcount,
        Split::Gather,
    ),
    keyed(
        "pfmerge",
        -2,
        WD,
        ALL,
        A_HLL_WS,
        "hyperloglog",
        "Merge N different HyperLogLogs into a single one.",
        hyperloglog::pfmerge,
        Split::Gather,
    ),
    keyed(
        "pfdebug",
        3,
        &["write", "denyoom", "admin"],
        (2, 2, 1),
        A_HLL_ADMIN_W,
        "hyperloglog",
        "Internal commands for debugging HyperLogLog values",
        hyperloglog::pfdebug,
        Never,
    ),
    keyed(
        "pfselftest",
        1,
        &["admin"],
        (0, 0, 0),
        A_HLL_ADMIN,
        "hyperloglog",
        "An internal command for testing HyperLogLog values",
        hyperloglog::pfselftest,
        Never,
    ),
    keyed(
        "setrange",
        4,
        WD,
        ONE,
        A_STR_WS,
        "string",
        "Overwrite part of a string at key starting at the specified offset",
        string::setrange,
        Never,
    ),
    keyed(
        "lcs",
        -3,
        R,
        TWO,
        A_STR_RS,
        "string",
        "Find longest common substring",
        string::lcs,
        Split::Runtime(Rt::Lcs),
    ),
    // keys
    keyed(
        "del",
        -2,
        W,
        ALL,
        A_KEY_WS,
        "generic",
        "Delete a key",
        keys::del,
        SumInt,
    ),
    keyed(
        "unlink",
        -2,
        WF,
        ALL,
        A_KEY_W,
        "generic",
        "Delete a key asynchronously in another thread",
        keys::del,
        SumInt,
    ),
    keyed(
        "exists",
        -2,
        RF,
        ALL,
        A_KEY_R,
        "generic",
        "Determine if a key exists",
        keys::exists,
        SumInt,
    ),
    keyed(
        "touch",
        -2,
        RF,
        ALL,
        A_KEY_R,
        "generic",
        "Alters the last access time of a key(s)",
        keys::touch,
        SumInt,
    ),
    keyed(
        "type",
        2,
        RF,
        ONE,
        A_KEY_R,
        "generic",
        "Determine the type stored at key",
        keys::type_,
        Never,
    ),
    keyed(
        "expire",
        -3,
        WF,
        ONE,
        A_KEY_W,
        "generic",
        "Set a key's time to live in seconds",
        keys::expire,
        Never,
    ),
    keyed(
        "pexpire",
        -3,
        WF,
        ONE,
        A_KEY_W,
        "generic",
        "Set a key's time to live in milliseconds",
        keys::pexpire,
        Never,
    ),
    keyed(
        "expireat",
        -3,
        WF,
        ONE,
        A_KEY_W,
        "generic",
        "Set the expiration for a key as a UNIX timestamp",
        keys::expireat,
        Never,
    ),
    keyed(
        "pexpireat",
        -3,
        WF,
        ONE,
        A_KEY_W,
        "generic",
        "Set the expiration for a key as a UNIX timestamp specified in milliseconds",
        keys::pexpireat,
        Never,
    ),
    keyed(
        "ttl",
        2,
        RF,
        ONE,
        A_KEY_R,
        "generic",
        "Get the time to live for a key in seconds",
        keys::ttl,
        Never,
    ),
    keyed(
        "pttl",
        2,
        RF,
        ONE,
        A_KEY_R,
        "generic",
        "Get the time to live for a key in milliseconds",
        keys::pttl,
        Never,
    ),
    keyed(
        "expiretime",
        2,
        RF,
        ONE,
        A_KEY_R,
        "generic",
        "Get the expiration Unix timestamp for a key",
        keys::expiretime,
        Never,
    ),
    keyed(
        "pexpiretime",
        2,
        RF,
        ONE,
        A_KEY_R,
        "generic",
        "Get the expiration Unix timestamp for a key in milliseconds",
        keys::pexpiretime,
        Never,
    ),
    keyed(
        "persist",
        2,
        WF,
        ONE,
        A_KEY_W,
        "generic",
        "Remove the expiration from a key",
        keys::persist,
        Never,
    ),
    keyed(
        "rename",
        3,
        W,
        TWO,
        A_KEY_WS,
        "generic",
        "Rename a key",
        keys::rename,
        Split::Runtime(Rt::Rename),
    ),
    keyed(
        "renamenx",
        3,
        WF,
        TWO,
        A_KEY_W,
        "generic",
        "Rename a key, only if the new key does not exist",
        keys::renamenx,
        Split::Runtime(Rt::RenameNx),
    ),
    keyed(
        "copy",
        -3,
        WD,
        TWO,
        A_KEY_WS,
        "generic",
        "Copy a key",
        keys::copy,
        Split::Runtime(Rt::Copy),
    ),
    keyed(
        "move",
        3,
        WF,
        ONE,
        A_KEY_W,
        "generic",
        "Move a key to another database",
        keys::move_,
        Never,
    ),
    keyed(
        "dump",
        2,
        R,
        ONE,
        A_KEY_RS,
        "generic",
        "Return a serialized version of the value stored at the specified key.",
        keys::dump,
        Never,
    ),
    keyed(
        "restore",
        -4,
        WD,
        ONE,
        &["@keyspace", "@write", "@slow", "@dangerous"],
        "generic",
        "Create a key using the provided serialized value, previously obtained using DUMP.",
        keys::restore,
        Never,
    ),
    keyed(
        "restore-asking",
        -4,
        &["write", "denyoom", "asking"],
        ONE,
        &["@keyspace", "@write", "@slow", "@dangerous"],
        "server",
        "An internal command for migrating keys in a cluster",
        keys::restore,
        Never,
    ),
    keyed(
        "object",
        -2,
        R,
        SECOND,
        A_KEY_RS,
        "generic",
        "A container for object introspection commands",
        keys::object,
        Never,
    ),
    rt(
        "memory",
        -2,
        R,
        A_SLOW,
        "server",
        "A container for memory diagnostics commands",
        Rt::Memory,
    ),
    rt(
        "keys",
        2,
        R,
        &["@keyspace", "@read", "@slow", "@dangerous"],
        "generic",
        "Find all keys matching the given pattern",
        Rt::Keys,
    ),
    rt(
        "scan",
        -2,
        R,
        A_KEY_RS,
        "generic",
        "Incrementally iterate the keys space",
        Rt::Scan,
    ),
    rt(
        "randomkey",
        1,
        R,
        A_KEY_RS,
        "generic",
        "Return a random key from the keyspace",
        Rt::RandomKey,
    ),
    rt(
        "dbsize",
        1,
        RF,
        A_KEY_R,
        "server",
        "Return the number of keys in the selected database",
        Rt::Dbsize,
    ),
    rt(
        "flushdb",
        -1,
        W,
        &["@keyspace", "@write", "@slow", "@dangerous"],
        "server",
        "Remove all keys from the current database",
        Rt::FlushDb,
    ),
    rt(
        "flushall",
        -1,
        W,
        &["@keyspace", "@write", "@slow", "@dangerous"],
        "server",
        "Remove all keys from all databases",
        Rt::FlushAll,
    ),
    rt(
        "swapdb",
        3,
        WF,
        &["@keyspace", "@write", "@fast", "@dangerous"],
        "server",
        "Swaps two Redis databases",
        Rt::SwapDb,
    ),
    // transactions
    rt(
        "multi",
        1,
        &["noscript", "loading", "stale", "fast", "allow_busy"],
        &["@fast", "@transaction"],
        "transactions",
        "Start a transaction block",
        Rt::Multi,
    ),
    rt(
        "exec",
        1,
        &["noscript", "loading", "stale", "skip_slowlog"],
        &["@slow", "@transaction"],
        "transactions",
        "Execute all commands issued after MULTI",
        Rt::Exec,
    ),
    rt(
        "discard",
        1,
        &["noscript", "loading", "stale", "fast", "allow_busy"],
        &["@fast", "@transaction"],
        "transactions",
        "Discard all commands issued after MULTI",
        Rt::Discard,
    ),
    CommandSpec {
        first_key: 1,
        last_key: -1,
        step: 1,
        ..rt(
            "watch",
            -2,
            &["noscript", "loading", "stale", "fast", "allow_busy"],
            &["@fast", "@transaction"],
            "transactions",
            "Watch the given keys to determine execution of the MULTI/EXEC block",
            Rt::Watch,
        )
    },
    rt(
        "eval",
        -3,
        &["noscript", "skip_monitor", "may_replicate", "no_mandatory_keys", "stale", "movablekeys"],
        &["@slow", "@scripting"],
        "scripting",
        "Execute a Lua script server side",
        Rt::Eval,
    )
    .movable(Movable::NumKeys(2)),
    rt(
        "evalsha",
        -3,
        &["noscript", "skip_monitor", "may_replicate", "no_mandatory_keys", "stale", "movablekeys"],
        &["@slow", "@scripting"],
        "scripting",
        "Execute a Lua script server side",
        Rt::Eval,
    )
    .movable(Movable::NumKeys(2)),
    rt(
        "eval_ro",
        -3,
        &["readonly", "noscript", "skip_monitor", "no_mandatory_keys", "stale", "movablekeys"],
        &["@slow", "@scripting"],
        "scripting",
        "Execute a read-only Lua script server side",
        Rt::Eval,
    )
    .movable(Movable::NumKeys(2)),
    rt(
        "evalsha_ro",
        -3,
        &["readonly", "noscript", "skip_monitor", "no_mandatory_keys", "stale", "movablekeys"],
        &["@slow", "@scripting"],
        "scripting",
        "Execute a read-only Lua script server side",
        Rt::Eval,
    )
    .movable(Movable::NumKeys(2)),
    rt(
        "fcall",
        -3,
        &["noscript", "skip_monitor", "may_replicate", "no_mandatory_keys", "stale", "movablekeys"],
        &["@slow", "@scripting"],
        "scripting",
        "Invoke a function",
        Rt::Eval,
    )
    .movable(Movable::NumKeys(2)),
    rt(
        "fcall_ro",
        -3,
        &["readonly", "noscript", "skip_monitor", "no_mandatory_keys", "stale", "movablekeys"],
        &["@slow", "@scripting"],
        "scripting",
        "Invoke a read-only function",
        Rt::Eval,
    )
    .movable(Movable::NumKeys(2)),
    rt(
        "function",
        -2,
        &[],
        &["@slow"],
        "scripting",
        "A container for function commands",
        Rt::Function,
    ),
    rt(
        "script",
        -2,
        &["noscript"],
        &["@slow", "@scripting"],
        "scripting",
        "A container for Lua scripts management commands",
        Rt::Script,
    ),
    rt(
        "unwatch",
        1,
        &["noscript", "loading", "stale", "fast", "allow_busy"],
        &["@fast", "@transaction"],
        "transactions",
        "Forget about all watched keys",
        Rt::Unwatch,
    ),
    rt(
        "select",
        2,
        &["loading", "stale", "fast"],
        A_CONN,
        "connection",
        "Change the selected database for the current connection",
        Rt::Select,
    ),
    // pub/sub
    rt(
        "subscribe",
        -2,
        PUBSUB,
        A_PUBSUB_S,
        "pubsub",
        "Listen for messages published to the given channels",
        Rt::Subscribe,
    ),
    rt(
        "unsubscribe",
        -1,
        PUBSUB,
        A_PUBSUB_S,
        "pubsub",
        "Stop listening for messages posted to the given channels",
        Rt::Unsubscribe,
    ),
    rt(
        "psubscribe",
        -2,
        PUBSUB,
        A_PUBSUB_S,
        "pubsub",
        "Listen for messages published to channels matching the given patterns",
        Rt::PSubscribe,
    ),
    rt(
        "punsubscribe",
        -1,
        PUBSUB,
        A_PUBSUB_S,
        "pubsub",
        "Stop listening for messages posted to channels matching the given patterns",
        Rt::PUnsubscribe,
    ),
    rt(
        "ssubscribe",
        -2,
        PUBSUB,
        A_PUBSUB_S,
        "pubsub",
        "Listen for messages published to the given shard channels",
        Rt::SSubscribe,
    )
    .keys(ALL),
    rt(
        "sunsubscribe",
        -1,
        PUBSUB,
        A_PUBSUB_S,
        "pubsub",
        "Stop listening for messages posted to the given shard channels",
        Rt::SUnsubscribe,
    )
    .keys(ALL),
    rt(
        "publish",
        3,
        PUBSUB_F,
        A_PUBSUB_F,
        "pubsub",
        "Post a message to a channel",
        Rt::Publish,
    ),
    rt(
        "spublish",
        3,
        PUBSUB_F,
        A_PUBSUB_F,
        "pubsub",
        "Post a message to a shard channel",
        Rt::SPublish,
    )
    .keys(ONE),
    rt(
        "pubsub",
        -2,
        &[],
        A_SLOW,
        "pubsub",
        "A container for Pub/Sub commands",
        Rt::Pubsub,
    ),
    // connection and server
    rt(
        "ping",
        -1,
        &["fast"],
        A_CONN,
        "connection",
        "Ping the server",
        Rt::Ping,
    ),
    rt(
        "echo",
        2,
        &["fast"],
        A_CONN,
        "connection",
        "Echo the given string",
        Rt::Echo,
    ),
    rt(
        "quit",
        -1,
        &[
            "allow_busy",
            "noscript",
            "loading",
            "stale",
            "fast",
            "no_auth",
        ],
        A_CONN,
        "connection",
        "Close the connection",
        Rt::Quit,
    ),
    rt(
        "reset",
        1,
        CONN_NOAUTH,
        A_CONN,
        "connection",
        "Reset the connection",
        Rt::Reset,
    ),
    rt(
        "hello",
        -1,
        CONN_NOAUTH,
        A_CONN,
        "connection",
        "Handshake with Redis",
        Rt::Hello,
    ),
    rt(
        "auth",
        -2,
        CONN_NOAUTH,
        A_CONN,
        "connection",
        "Authenticate to the server",
        Rt::Auth,
    ),
    rt(
        "client",
        -2,
        CONN,
        &["@slow", "@connection"],
        "connection",
        "A container for client connection commands",
        Rt::Client,
    ),
    rt(
        "command",
        -1,
        &["loading", "stale"],
        &["@slow", "@connection"],
        "server",
        "Get array of Redis command details",
        Rt::Command,
    ),
    rt(
        "info",
        -1,
        &["loading", "stale"],
        &["@slow", "@dangerous"],
        "server",
        "Get information and statistics about the server",
        Rt::Info,
    ),
    rt(
        "monitor",
        1,
        ADMIN,
        A_ADMIN,
        "server",
        "Listen for all requests received by the server in real time",
        Rt::Monitor,
    ),
    rt(
        "module",
        -2,
        &["admin", "noscript"],
        &["@admin", "@slow", "@dangerous"],
        "server",
        "A container for module commands",
        Rt::Module,
    ),
    rt(
        "lolwut",
        -1,
        &["readonly", "fast"],
        &["@read", "@fast"],
        "server",
        "Display some computer art and the Redis version",
        Rt::Lolwut,
    ),
    rt(
        "latency",
        -2,
        ADMIN,
        A_ADMIN,
        "server",
        "A container for latency diagnostics commands",
        Rt::Latency,
    ),
    rt(
        "slowlog",
        -2,
        ADMIN,
        A_ADMIN,
        "server",
        "A container for slow log commands",
        Rt::Slowlog,
    ),
    rt(
        "config",
        -2,
        ADMIN,
        A_ADMIN,
        "server",
        "A container for server configuration commands",
        Rt::Config,
    ),
    rt(
        "time",
        1,
        &["loading", "stale", "fast"],
        &["@fast"],
        "server",
        "Return the current server time",
        Rt::Time,
    ),
    rt(
        "shutdown",
        -1,
        &[
            "admin",
            "noscript",
            "loading",
            "stale",
            "no_multi",
            "allow_busy",
        ],
        A_ADMIN,
        "server",
        "Synchronously save the dataset to disk and then shut down the server",
        Rt::Shutdown,
    ),
    rt(
        "debug",
        -2,
        ADMIN,
        A_ADMIN,
        "server",
        "A container for debugging commands",
        Rt::Debug,
    ),
    rt(
        "replicaof",
        3,
        &["admin", "noscript", "stale", "no_async_loading"],
        &["@admin", "@slow", "@dangerous"],
        "server",
        "Configure a server as replica of another server, or promote it to a master",
        Rt::ReplicaOf,
    ),
    rt(
        "slaveof",
        3,
        &["admin", "noscript", "stale", "no_async_loading"],
        &["@admin", "@slow", "@dangerous"],
        "server",
        "Sets a Redis server as a replica of another, or promotes it to being a master",
        Rt::ReplicaOf,
    ),
    rt(
        "cluster",
        -2,
        &[],
        &["@slow"],
        "cluster",
        "A container for Redis Cluster commands",
        Rt::Cluster,
    ),
    rt(
        "migrate",
        -6,
        &["write"],
        &["@keyspace", "@write", "@slow", "@dangerous"],
        "generic",
        "Atomically transfer a key from a Redis instance to another one.",
        Rt::Migrate,
    ),
    rt(
        "asking",
        1,
        &["fast"],
        &["@fast", "@connection"],
        "cluster",
        "Sent by cluster clients after an -ASK redirect",
        Rt::Asking,
    ),
    rt(
        "readonly",
        1,
        &["loading", "stale", "fast"],
        &["@fast", "@connection"],
        "cluster",
        "Enables read queries for a connection to a Redis Cluster replica node",
        Rt::ReadOnly,
    ),
    rt(
        "readwrite",
        1,
        &["loading", "stale", "fast"],
        &["@fast", "@connection"],
        "cluster",
        "Enables read-write queries for a connection to a Redis Cluster replica node",
        Rt::ReadWrite,
    ),
    rt(
        "failover",
        -1,
        &["admin", "noscript", "stale"],
        &["@admin", "@slow", "@dangerous"],
        "server",
        "Start a coordinated failover between this server and one of its replicas.",
        Rt::Failover,
    ),
    rt(
        "role",
        1,
        &["noscript", "loading", "stale", "fast"],
        &["@admin", "@fast", "@dangerous"],
        "server",
        "Returns the replication role",
        Rt::Role,
    ),
    rt(
        "replconf",
        -1,
        &["admin", "noscript", "loading", "stale", "allow_busy"],
        &["@admin", "@slow", "@dangerous"],
        "server",
        "An internal command for configuring the replication stream",
        Rt::Replconf,
    ),
    rt(
        "psync",
        -3,
        &["admin", "noscript", "no_async_loading", "no_multi"],
        &["@admin", "@slow", "@dangerous"],
        "server",
        "An internal command used in replication",
        Rt::Psync,
    ),
    rt(
        "sync",
        1,
        &["admin", "noscript", "no_async_loading", "no_multi"],
        &["@admin", "@slow", "@dangerous"],
        "server",
        "An internal command used in replication",
        Rt::Sync,
    ),
    rt(
        "wait",
        3,
        &["noscript"],
        &["@slow", "@connection"],
        "generic",
        "Wait for the synchronous replication of all the write commands sent in the context of the current connection",
        Rt::Wait,
    ),
    rt(
        "lastsave",
        1,
        &["loading", "stale", "fast"],
        &["@admin", "@fast", "@dangerous"],
        "server",
        "Get the UNIX time stamp of the last successful save to disk",
        Rt::LastSave,
    ),
    rt(
        "save",
        1,
        &["admin", "noscript", "no_async_loading", "no_multi"],
        A_ADMIN,
        "server",
        "Synchronously save the dataset to disk",
        Rt::Save,
    ),
    rt(
        "bgsave",
        -1,
        &["admin", "noscript", "no_async_loading"],
        A_ADMIN,
        "server",
        "Asynchronously save the dataset to disk",
        Rt::BgSave,
    ),
    rt(
        "bgrewriteaof",
        1,
        &["admin", "noscript", "no_async_loading"],
        A_ADMIN,
        "server",
        "Asynchronously rewrite the append-only file",
        Rt::BgRewriteAof,
    ),
];

/// Memory's one keyed subcommand: MEMORY USAGE runs on the key's shard.
pub static MEMORY_USAGE: CommandSpec = keyed(
    "memory",
    -3,
    R,
    SECOND,
    A_SLOW,
    "server",
    "Estimate the memory usage of a key",
    keys::memory_usage,
    Never,
);

/// Subcommands of the container commands, with Redis 7.0's arities. Redis checks a command
/// down to its subcommand before running or queueing it; the handlers check when they run,
/// and MULTI checks with this before queueing.
const SUBCOMMANDS: &[(&str, &[(&str, i32)])] = &[
    (
        "cluster",
        &[
            ("addslots", -3),
            ("addslotsrange", -4),
            ("bumpepoch", 2),
            ("count-failure-reports", 3),
            ("countkeysinslot", 3),
            ("delslots", -3),
            ("delslotsrange", -4),
            ("failover", -2),
            ("flushslots", 2),
            ("forget", 3),
            ("getkeysinslot", 4),
            ("help", 2),
            ("info", 2),
            ("keyslot", 3),
            ("links", 2),
            ("meet", -4),
            ("myid", 2),
            ("nodes", 2),
            ("replicas", 3),
            ("replicate", 3),
            ("reset", -2),
            ("saveconfig", 2),
            ("set-config-epoch", 3),
            ("setslot", -4),
            ("shards", 2),
            ("slaves", 3),
            ("slots", 2),
        ],
    ),
    (
        "xgroup",
        &[
            ("create", -5),
            ("createconsumer", 5),
            ("delconsumer", 5),
            ("destroy", 4),
            ("help", 2),
            ("setid", -5),
        ],
    ),
    (
        "xinfo",
        &[("consumers", 4), ("groups", 3), ("help", 2), ("stream", -3)],
    ),
    (
        "function",
        &[
            ("delete", 3),
            ("dump", 2),
            ("flush", -2),
            ("help", 2),
            ("kill", 2),
            ("list", -2),
            ("load", -3),
            ("restore", -3),
            ("stats", 2),
        ],
    ),
    (
        "script",
        &[
            ("debug", 3),
            ("exists", -3),
            ("flush", -2),
            ("help", 2),
            ("kill", 2),
            ("load", 3),
        ],
    ),
    (
        "pubsub",
        &[
            ("channels", -2),
            ("help", 2),
            ("numpat", 2),
            ("numsub", -2),
            ("shardchannels", -2),
            ("shardnumsub", -2),
        ],
    ),
    (
        "object",
        &[
            ("encoding", 3),
            ("freq", 3),
            ("help", 2),
            ("idletime", 3),
            ("refcount", 3),
        ],
    ),
    (
        "config",
        &[
            ("get", -3),
            ("help", 2),
            ("resetstat", 2),
            ("rewrite", 2),
            ("set", -4),
        ],
    ),
    (
        "command",
        &[
            ("count", 2),
            ("docs", -2),
            ("getkeys", -4),
            ("getkeysandflags", -4),
            ("help", 2),
            ("info", -2),
            ("list", -2),
        ],
    ),
    (
        "slowlog",
        &[("get", -2), ("help", 2), ("len", 2), ("reset", 2)],
    ),
    (
        "module",
        &[
            ("help", 2),
            ("list", 2),
            ("load", -3),
            ("loadex", -3),
            ("unload", 3),
        ],
    ),
    (
        "latency",
        &[
            ("doctor", 2),
            ("graph", 3),
            ("help", 2),
            ("histogram", -2),
            ("history", 3),
            ("latest", 2),
            ("reset", -2),
        ],
    ),
    (
        "memory",
        &[
            ("doctor", 2),
            ("help", 2),
            ("malloc-stats", 2),
            ("purge", 2),
            ("stats", 2),
            ("usage", -3),
        ],
    ),
    (
        "client",
        &[
            ("caching", 3),
            ("getname", 2),
            ("getredir", 2),
            ("help", 2),
            ("id", 2),
            ("info", 2),
            ("kill", -3),
            ("list", -2),
            ("no-evict", 3),
            ("pause", -3),
            ("reply", 3),
            ("setname", 3),
            ("tracking", -3),
            ("trackinginfo", 2),
            ("unblock", -3),
            ("unpause", 2),
        ],
    ),
];

/// The position of SORT's STORE destination, skipping option arguments as Redis'
/// sortGetKeys does (the last STORE wins).
fn sort_store<W: Words + ?Sized>(args: &W) -> Option<usize> {
    let mut found = None;
    let mut i = 2;
    while i < args.count() {
        let w = args.word(i);
        let skip = if w.eq_ignore_ascii_case(b"limit") {
            2
        } else if w.eq_ignore_ascii_case(b"get") || w.eq_ignore_ascii_case(b"by") {
            1
        } else if w.eq_ignore_ascii_case(b"store") {
            if i + 1 < args.count() {
                found = Some(i + 1);
            }
            1
        } else {
            0
        };
        i += skip + 1;
    }
    found
}

/// georadiusGetKeys: the key after the last STORE or STOREDIST from argument 5 on.
fn geo_store<W: Words + ?Sized>(args: &W) -> Option<usize> {
    let mut found = None;
    let mut i = 5;
    while i < args.count() {
        let w = args.word(i);
        if (w.eq_ignore_ascii_case(b"store") || w.eq_ignore_ascii_case(b"storedist"))
            && i + 1 < args.count()
        {
            found = Some(i + 1);
            i += 1;
        }
        i += 1;
    }
    found
}

/// XREAD's and XREADGROUP's options as xreadGetKeys skips them (BLOCK n, COUNT n, GROUP g
/// c, NOACK): the index of STREAMS, if reached, and whether BLOCK came before it.
pub fn xread_scan<W: Words + ?Sized>(args: &W) -> (Option<usize>, bool) {
    let mut block = false;
    let mut i = 1;
    while i < args.count() {
        let w = args.word(i);
        if w.eq_ignore_ascii_case(b"block") {
            block = true;
            i += 2;
        } else if w.eq_ignore_ascii_case(b"count") {
            i += 2;
        } else if w.eq_ignore_ascii_case(b"group") {
            i += 3;
        } else if w.eq_ignore_ascii_case(b"noack") {
            i += 1;
        } else if w.eq_ignore_ascii_case(b"streams") {
            return (Some(i), block);
        } else {
            break;
        }
    }
    (None, block)
}

/// xreadGetKeys: after STREAMS, as many keys as IDs.
fn xread_keys<W: Words + ?Sized>(args: &W) -> std::ops::Range<usize> {
    let Some(i) = xread_scan(args).0 else {
        return 0..0;
    };
    let n = args.count() - i - 1;
    if n == 0 || !n.is_multiple_of(2) {
        return 0..0;
    }
    i + 1..i + 1 + n / 2
}

/// The subcommands of a container command, lowercase, or None.
pub fn subcommand_names(spec: &CommandSpec) -> Option<&'static [&'static str]> {
    static NAMES: OnceLock<Vec<(&'static str, Vec<&'static str>)>> = OnceLock::new();
    let all = NAMES.get_or_init(|| {
        SUBCOMMANDS
            .iter()
            .map(|(c, subs)| (*c, subs.iter().map(|(s, _)| *s).collect()))
            .collect()
    });
    all.iter()
        .find(|(c, _)| *c == spec.name)
        .map(|(_, subs)| subs.as_slice())
}

/// How a container command's subcommand resolves, as Redis' lookupCommand does: None for a
/// command without a subcommand table; Some(None) for an unknown subcommand; Some(Some(arity))
/// for a known one.
pub fn subcommand_arity(spec: &CommandSpec, sub: &[u8]) -> Option<Option<i32>> {
    let (_, subs) = SUBCOMMANDS.iter().find(|(n, _)| *n == spec.name)?;
    Some(
        subs.iter()
            .find(|(s, _)| s.as_bytes().eq_ignore_ascii_case(sub))
            .map(|&(_, arity)| arity),
    )
}

/// Redis' error for an unknown subcommand or a subcommand's wrong arity, if any.
pub fn subcommand_error(spec: &CommandSpec, args: Args) -> Option<String> {
    let (_, subs) = SUBCOMMANDS.iter().find(|(n, _)| *n == spec.name)?;
    if args.len() < 2 {
        return None;
    }
    let sub = args.get(1);
    match subs
        .iter()
        .find(|(s, _)| s.as_bytes().eq_ignore_ascii_case(sub))
    {
        None => {
            let shown: String = String::from_utf8_lossy(&sub[..sub.len().min(128)])
                .chars()
                .map(|c| if c == '\r' || c == '\n' { ' ' } else { c })
                .collect();
            Some(format!(
                "ERR unknown subcommand '{shown}'. Try {} HELP.",
                spec.name.to_uppercase()
            ))
        }
        Some(&(name, arity)) => {
            let n = args.len() as i32;
            let ok = if arity >= 0 { n == arity } else { n >= -arity };
            (!ok).then(|| {
                format!(
                    "ERR wrong number of arguments for '{}|{name}' command",
                    spec.name
                )
            })
        }
    }
}

/// FxHash (rustc's): command names are short and trusted to be few, so a multiply-rotate
/// hash beats SipHash's DoS resistance, which a fixed table of ~200 names does not need.
#[derive(Default)]
struct NameHasher(u64);

impl std::hash::Hasher for NameHasher {
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0.rotate_left(5) ^ b as u64).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
        }
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

type Index = HashMap<&'static [u8], &'static CommandSpec, BuildHasherDefault<NameHasher>>;

fn index() -> &'static Index {
    static INDEX: OnceLock<Index> = OnceLock::new();
    INDEX.get_or_init(|| COMMANDS.iter().map(|c| (c.name.as_bytes(), c)).collect())
}

/// Finds a command by name, case-insensitively, without allocating.
pub fn lookup(name: &[u8]) -> Option<&'static CommandSpec> {
    let mut buf = [0u8; 32];
    if name.len() > buf.len() {
        return None;
    }
    for (d, s) in buf.iter_mut().zip(name) {
        *d = s.to_ascii_lowercase();
    }
    index().get(&buf[..name.len()]).copied()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lookup_is_case_insensitive_and_names_are_unique() {
        assert_eq!(lookup(b"GeT").map(|c| c.name), Some("get"));
        assert!(lookup(b"nosuch").is_none());
        assert_eq!(index().len(), COMMANDS.len());
    }

    /// A command that names several keys must say how it splits across shards: running it
    /// whole on its first key's shard would touch keys that shard does not own.
    #[test]
    fn multi_key_commands_declare_a_split() {
        for c in COMMANDS {
            if let Kind::Keyed {
                split: Split::Never,
                ..
            } = c.kind
            {
                assert!(
                    c.last_key == c.first_key && c.movable == Movable::No,
                    "{} names several keys but never splits",
                    c.name
                );
            }
        }
    }

    #[test]
    fn key_positions_follow_first_last_step() {
        let mset = lookup(b"mset").unwrap();
        let pos = |spec: &CommandSpec, line: &str| -> Vec<usize> {
            let words: Vec<Vec<u8>> = line.split(' ').map(|w| w.as_bytes().to_vec()).collect();
            spec.key_positions(&words[..]).collect()
        };
        assert_eq!(pos(mset, "mset a 1 b 2"), vec![1, 3]);
        let del = lookup(b"del").unwrap();
        assert_eq!(pos(del, "del a b c"), vec![1, 2, 3]);
        let obj = lookup(b"object").unwrap();
        assert!(pos(obj, "object help").is_empty());
        assert_eq!(pos(obj, "object encoding k"), vec![2]);
        assert!(pos(lookup(b"ping").unwrap(), "ping x").is_empty());
    }

    #[test]
    fn movable_keys_follow_the_arguments() {
        let pos = |line: &str| -> Vec<usize> {
            let words: Vec<Vec<u8>> = line.split(' ').map(|w| w.as_bytes().to_vec()).collect();
            lookup(&words[0])
                .unwrap()
                .key_positions(&words[..])
                .collect()
        };
        assert_eq!(pos("zunionstore d 2 a b weights 1 2"), vec![1, 3, 4]);
        assert_eq!(pos("zunionstore d 3 a b"), vec![1]);
        assert_eq!(pos("zunionstore d x a b"), vec![1]);
        assert_eq!(pos("zmpop 1 a min"), vec![2]);
        assert_eq!(pos("lmpop 2 a b left count 3"), vec![2, 3]);
        assert_eq!(pos("blmpop 0 2 a b left"), vec![3, 4]);
        assert_eq!(pos("blpop a b 0"), vec![1, 2]);
        assert_eq!(pos("sintercard 2 a b limit 1"), vec![2, 3]);
        assert_eq!(pos("sintercard 3 a b"), Vec::<usize>::new());
        assert_eq!(pos("sintercard x a b"), Vec::<usize>::new());
        assert_eq!(pos("georadius k 1 2 3 km"), vec![1]);
        assert_eq!(pos("georadius k 1 2 3 km store d storedist e"), vec![1, 9]);
        assert_eq!(pos("georadiusbymember k m 3 km storedist d"), vec![1, 6]);
        assert_eq!(pos("georadius k 1 2 3 km store"), vec![1]);
        assert_eq!(
            pos("geosearchstore d k frommember m byradius 1 m"),
            vec![1, 2]
        );
    }
}
