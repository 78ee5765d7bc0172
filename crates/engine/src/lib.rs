//! The engine: keyspaces, value types and command semantics. No sockets, no runtime, no
//! config files: a [`Shard`] takes a parsed command and writes its reply, so it is unit-tested
//! and benchmarked on its own and any runtime (glommio today, an epoll fallback later) can
//! host it.

pub mod aof;
pub mod args;
pub mod cmd;
pub mod cmdstats;
pub mod dict;
pub mod digest;
pub mod error;
pub mod evict;
pub mod glob;
pub mod hll;
pub mod journal;
pub mod keyspace;
pub mod listpack;
pub mod notify;
pub mod packed;
pub mod quicklist;
pub mod rdb;
pub mod shard;
pub mod slot;
pub mod slowlog;
pub mod snapshot;
pub mod stream;
pub mod table;
pub mod tracking;
pub mod usage;
pub mod value;
pub mod zset;

pub use args::Args;
pub use error::{Error, Result};
pub use shard::{Ctx, DbInfo, Shard};
pub use table::{lookup, CommandSpec, Kind, Rt, Split};
