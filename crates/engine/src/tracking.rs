//! Client-side caching (Redis' tracking.c), the part a shard keeps: which clients read
//! which of its keys, and the broadcast prefixes its writes are matched against. A write
//! (`Shard::touch`) turns the entries of its key into `Invalidation`s the runtime delivers;
//! the shard knows clients only by id and core.
//!
//! As in Redis, the table is by key name alone (a key read in one database is invalidated
//! by a write of that name in any database), an entry is consumed by the first write, and
//! a broadcast prefix collects the keys written under it until the runtime sends them.

use indexmap::IndexMap;
use std::collections::BTreeMap;

/// A client that read a key: its id and the core its connection lives on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Reader {
    pub id: u64,
    pub core: u16,
}

/// A key some client read was written (or evicted from the table): tell `to`.
#[derive(Debug, PartialEq, Eq)]
pub struct Invalidation {
    pub to: Reader,
    pub key: Vec<u8>,
    /// The client whose command wrote it (0: none, e.g. expiry), for NOLOOP.
    pub by: u64,
}

/// A broadcast prefix: how many BCAST clients of each core registered it, and the keys
/// written under it since the runtime last took them (with their last writer).
#[derive(Default, Debug)]
pub struct Prefix {
    pub cores: Vec<u32>,
    pub keys: BTreeMap<Vec<u8>, u64>,
}

pub struct Table {
    keys: IndexMap<Vec<u8>, Vec<Reader>>,
    /// Draws the keys dropped over the limit.
    seed: u64,
    /// Reader entries over every key (INFO's tracking_total_items).
    items: usize,
    /// This shard's share of tracking-table-max-keys (0: no limit).
    pub max_keys: usize,
    prefixes: BTreeMap<Vec<u8>, Prefix>,
    /// Invalidations waiting for the runtime.
    out: Vec<Invalidation>,
    /// Keys were written under a prefix since `take_broadcasts`.
    bcast_pending: bool,
    /// The table was emptied by a flush: every tracking client hears a null.
    flushed: bool,
}

impl Default for Table {
    fn default() -> Table {
        Table {
            keys: IndexMap::new(),
            seed: 0x9E37_79B9_7F4A_7C15,
            items: 0,
            max_keys: 0,
            prefixes: BTreeMap::new(),
            out: Vec::new(),
            bcast_pending: false,
            flushed: false,
        }
    }
}

impl Table {
    /// Nothing is tracked: a write has nothing to check.
    #[inline]
    pub fn idle(&self) -> bool {
        self.keys.is_empty() && self.prefixes.is_empty()
    }

    /// Remembers that `reader` read `key` (Redis' trackingRememberKeys, for one key).
    pub fn remember(&mut self, key: &[u8], reader: Reader) {
        let readers = match self.keys.get_mut(key) {
            Some(r) => r,
            None => self.keys.entry(key.to_vec()).or_default(),
        };
        if !readers.contains(&reader) {
            readers.push(reader);
            self.items += 1;
        }
        self.limit();
    }

    /// Redis' trackingInvalidateKey: `key` was modified by client `by`.
    #[inline]
    pub fn invalidate(&mut self, key: &[u8], by: u64) {
        if self.idle() {
            return;
        }
        self.invalidate_slow(key, by);
    }

    fn invalidate_slow(&mut self, key: &[u8], by: u64) {
        for (prefix, p) in self.prefixes.iter_mut() {
            if key.starts_with(prefix) {
                p.keys.insert(key.to_vec(), by);
                self.bcast_pending = true;
            }
        }
        self.drop_key(key, by);
    }

    fn drop_key(&mut self, key: &[u8], by: u64) {
        if let Some(readers) = self.keys.swap_remove(key) {
            self.items -= readers.len();
            self.out.extend(readers.into_iter().map(|to| Invalidation {
                to,
                key: key.to_vec(),
                by,
            }));
        }
    }

    /// Over this shard's share of tracking-table-max-keys: invalidates keys picked at random
    /// until under it, at most 100 a call (Redis' trackingLimitUsedSlots): a limit lowered
    /// by CONFIG SET is reached over the next reads, not in one stall.
    fn limit(&mut self) {
        let mut effort = 100;
        while self.max_keys > 0 && self.keys.len() > self.max_keys && effort > 0 {
            // xorshift64: any spread draw does.
            self.seed ^= self.seed << 13;
            self.seed ^= self.seed >> 7;
            self.seed ^= self.seed << 17;
            let i = (self.seed % self.keys.len() as u64) as usize;
            if let Some((key, readers)) = self.keys.swap_remove_index(i) {
                self.items -= readers.len();
                self.out.extend(readers.into_iter().map(|to| Invalidation {
                    to,
                    key: key.clone(),
                    by: 0,
                }));
            }
            effort -= 1;
        }
    }

    /// A flush emptied the keyspace: the table goes, and every tracking client is told
    /// (Redis' trackingInvalidateKeysOnFlush).
    pub fn flush(&mut self) {
        self.keys = IndexMap::new();
        self.items = 0;
        self.flushed = true;
    }

    /// Whether the runtime has something to deliver.
    #[inline]
    pub fn has_output(&self) -> bool {
        !self.out.is_empty() || self.bcast_pending || self.flushed
    }

    pub fn take_invalidations(&mut self) -> Vec<Invalidation> {
        std::mem::take(&mut self.out)
    }

    /// Whether a flush happened since the last call.
    pub fn take_flushed(&mut self) -> bool {
        std::mem::take(&mut self.flushed)
    }

    /// The keys written under each prefix since the last call, with the cores that have
    /// clients for it.
    #[allow(clippy::type_complexity)]
    pub fn take_broadcasts(&mut self) -> Vec<(Vec<u8>, Vec<u16>, Vec<(Vec<u8>, u64)>)> {
        if !std::mem::take(&mut self.bcast_pending) {
            return Vec::new();
        }
        let mut out = Vec::new();
        for (prefix, p) in self.prefixes.iter_mut() {
            if p.keys.is_empty() {
                continue;
            }
            let cores = (0..p.cores.len())
                .filter(|&c| p.cores[c] > 0)
                .map(|c| c as u16)
                .collect();
            let keys = std::mem::take(&mut p.keys).into_iter().collect();
            out.push((prefix.clone(), cores, keys));
        }
        out
    }

    /// A BCAST client of `core` registered `prefix` (`add`) or dropped it.
    pub fn set_prefix(&mut self, prefix: &[u8], core: usize, add: bool) {
        if add {
            let p = self.prefixes.entry(prefix.to_vec()).or_default();
            if p.cores.len() <= core {
                p.cores.resize(core + 1, 0);
            }
            p.cores[core] += 1;
            return;
        }
        let Some(p) = self.prefixes.get_mut(prefix) else {
            return;
        };
        if let Some(n) = p.cores.get_mut(core) {
            *n = n.saturating_sub(1);
        }
        if p.cores.iter().all(|&n| n == 0) {
            self.prefixes.remove(prefix);
        }
    }

    /// INFO: tracking_total_keys, tracking_total_items, tracking_total_prefixes.
    pub fn totals(&self) -> (usize, usize, usize) {
        (self.keys.len(), self.items, self.prefixes.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: Reader = Reader { id: 7, core: 0 };
    const B: Reader = Reader { id: 9, core: 1 };

    #[test]
    fn a_write_consumes_the_entry() {
        let mut t = Table::default();
        assert!(t.idle());
        t.remember(b"k", A);
        t.remember(b"k", A);
        t.remember(b"k", B);
        assert_eq!(t.totals(), (1, 2, 0));
        t.invalidate(b"other", 3);
        assert!(!t.has_output());
        t.invalidate(b"k", 3);
        let inv = t.take_invalidations();
        assert_eq!(inv.len(), 2);
        assert_eq!((inv[0].to, inv[1].to, inv[0].by), (A, B, 3));
        assert!(t.idle());
        // Consumed: a second write tells nobody.
        t.invalidate(b"k", 3);
        assert!(!t.has_output());
    }

    #[test]
    fn the_limit_invalidates_keys() {
        let mut t = Table {
            max_keys: 2,
            ..Table::default()
        };
        for k in [&b"a"[..], b"b", b"c", b"d"] {
            t.remember(k, A);
        }
        assert_eq!(t.totals().0, 2);
        assert_eq!(t.take_invalidations().len(), 2);
    }

    #[test]
    fn prefixes_collect_keys_in_order_with_their_last_writer() {
        let mut t = Table::default();
        t.set_prefix(b"user:", 1, true);
        t.set_prefix(b"", 0, true);
        t.invalidate(b"user:2", 5);
        t.invalidate(b"user:1", 5);
        t.invalidate(b"user:2", 6);
        t.invalidate(b"x", 6);
        let b = t.take_broadcasts();
        assert_eq!(b.len(), 2);
        assert_eq!(b[0].0, b"");
        assert_eq!(b[0].1, vec![0]);
        assert_eq!(b[0].2.len(), 3);
        assert_eq!(b[1].0, b"user:");
        assert_eq!(b[1].1, vec![1]);
        assert_eq!(
            b[1].2,
            vec![(b"user:1".to_vec(), 5), (b"user:2".to_vec(), 6)]
        );
        assert!(t.take_broadcasts().is_empty());
        t.set_prefix(b"user:", 1, false);
        t.set_prefix(b"", 0, false);
        assert!(t.idle());
    }

    #[test]
    fn a_flush_empties_the_table() {
        let mut t = Table::default();
        t.remember(b"k", A);
        t.flush();
        assert!(t.has_output() && t.take_flushed());
        assert_eq!(t.totals(), (0, 0, 0));
    }
}
