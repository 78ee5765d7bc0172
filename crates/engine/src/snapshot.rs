//! A point-in-time snapshot of one shard, written while the shard keeps serving (no fork).
//!
//! At the start the shard's epoch moves on. From then on every entry whose `saved` mark is
//! older than the epoch still owes the snapshot its value as of the start: the walk writes
//! such entries as it meets them, and any write to one (change, delete, expiry, flush) writes
//! it first (`Shard::save_before_write`). Each written entry is marked, so nothing is
//! written twice even when the table resizes under the walk; entries created after the
//! start carry the new epoch and are skipped. The extra memory is the output buffer, which
//! the runtime drains every step: no copy of the dataset.

use crate::rdb::{Encoder, SaveOpts};
use crate::value::Entry;

pub struct Snapshot {
    pub epoch: u32,
    /// Where the walk stands: database and table cursor.
    pub(crate) db: usize,
    pub(crate) cursor: u64,
    enc: Encoder,
    /// The database of the last entry in `enc` (a SELECTDB precedes a change of it, and
    /// every chunk handed out starts with one: chunks of several shards interleave).
    cur_db: Option<usize>,
    now_s: u32,
    pub keys: u64,
}

impl Snapshot {
    pub(crate) fn new(epoch: u32, opts: SaveOpts, now_s: u32) -> Snapshot {
        Snapshot {
            epoch,
            db: 0,
            cursor: 0,
            enc: Encoder::new(opts),
            cur_db: None,
            now_s,
            keys: 0,
        }
    }

    /// Writes `e` if it still owes this snapshot its value, and marks it.
    #[inline]
    pub(crate) fn save(&mut self, db: usize, key: &[u8], e: &Entry) {
        if e.saved.get() >= self.epoch {
            return;
        }
        if self.cur_db != Some(db) {
            self.enc.select_db(db);
            self.cur_db = Some(db);
        }
        self.enc.entry(key, e, self.now_s);
        e.saved.set(self.epoch);
        self.keys += 1;
    }

    pub(crate) fn buffered(&self) -> usize {
        self.enc.out.len()
    }

    /// The bytes written since the last call.
    pub(crate) fn take(&mut self) -> Vec<u8> {
        self.cur_db = None;
        self.enc.take()
    }
}
