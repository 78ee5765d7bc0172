//! Command implementations, one file per family.
pub mod bitmap;
pub mod blocking;
pub mod geo;
pub mod hash;
pub mod hyperloglog;
pub mod keys;
pub mod list;
pub mod set;
pub mod sort;
pub mod stream;
pub mod string;
pub mod zset;

use crate::error::{Error, Result};
use crate::shard::{Ctx, Shard};
use crate::value::{Entry, Hash, List, Set, Str, Value};
use crate::zset::ZSet;

/// A type a key can hold, picked out of a stored value (None: the key holds another type).
pub(crate) trait Typed {
    fn of(v: &mut Value) -> Option<&mut Self>;
}

macro_rules! typed {
    ($t:ty, $variant:ident) => {
        impl Typed for $t {
            fn of(v: &mut Value) -> Option<&mut Self> {
                match v {
                    Value::$variant(x) => Some(x),
                    _ => None,
                }
            }
        }
    };
}

typed!(Str, Str);
typed!(Hash, Hash);
typed!(Set, Set);
typed!(ZSet, ZSet);

impl Typed for crate::stream::Stream {
    fn of(v: &mut Value) -> Option<&mut Self> {
        match v {
            Value::Stream(s) => Some(s),
            _ => None,
        }
    }
}

impl Typed for List {
    fn of(v: &mut Value) -> Option<&mut Self> {
        match v {
            Value::List(l) => Some(l),
            _ => None,
        }
    }
}

/// The value of a looked-up key as `T`: None when absent, WRONGTYPE when another type.
pub(crate) fn typed<T: Typed + ?Sized>(entry: Option<&mut Entry>) -> Result<Option<&mut T>> {
    match entry {
        None => Ok(None),
        Some(e) => T::of(&mut e.value).map(Some).ok_or(Error::WrongType),
    }
}

/// Looks `key` up for reading (hits and misses counted) as `T`.
pub(crate) fn read<'a, T: Typed + ?Sized>(
    shard: &'a mut Shard,
    db: usize,
    key: &[u8],
) -> Result<Option<&'a mut T>> {
    typed(shard.lookup_read(db, key))
}

/// Looks `key` up for writing as `T`.
pub(crate) fn write<'a, T: Typed + ?Sized>(
    shard: &'a mut Shard,
    db: usize,
    key: &[u8],
) -> Result<Option<&'a mut T>> {
    typed(shard.lookup(db, key))
}

/// The `T` at `key` for writing, created with `make` when absent.
pub(crate) fn write_or_create<'a, T: Typed + ?Sized>(
    shard: &'a mut Shard,
    db: usize,
    key: &[u8],
    make: impl FnOnce() -> Value,
) -> Result<&'a mut T> {
    typed(shard.lookup_or_store(db, key, make))?.ok_or(Error::NoSuchKey)
}

/// A STORE form's empty result: the destination goes, even if it had expired (Redis'
/// dbDelete), with a "del" event when something was there.
pub(crate) fn clear_destination(ctx: &mut Ctx, dst: &[u8]) {
    if ctx.shard.delete_stored(ctx.db, dst) {
        ctx.notify(crate::notify::GENERIC, "del", dst);
    }
}

/// After a command removed elements of a collection: deletes the key if it is now empty,
/// else counts the change (WATCH, dirty). Empty collections never stay, as in Redis. The
/// command's own keyspace event comes first; the "del" of an emptied key follows it.
pub(crate) fn settle(ctx: &mut Ctx, key: &[u8], empty: bool) {
    if empty {
        ctx.shard.delete(ctx.db, key);
        ctx.notify(crate::notify::GENERIC, "del", key);
    } else {
        ctx.shard.modified(ctx.db, key);
    }
}

/// `NAME key [n]`: how the pops of the multi-key and blocking forms are recorded.
pub(crate) fn pop_argv(name: &[u8], key: &[u8], n: Option<usize>) -> Vec<Vec<u8>> {
    let mut argv = vec![name.to_vec(), key.to_vec()];
    if let Some(n) = n {
        argv.push(crate::value::IntBuf::default().format(n as i64).to_vec());
    }
    argv
}
