//! The journal of write effects: each shard records, in execution order, the commands that
//! reproduce what its writes did, in the form redis-server 7.0 propagates to its AOF and
//! replicas (relative expiries as absolute times, INCRBYFLOAT as the value it left, SPOP as
//! SREM, expired keys as DEL, ...), RESP-encoded, with a SELECT before each change of
//! database. The AOF, replication and slot migration read it; the engine only writes it.
//!
//! Recording is off until the runtime turns it on (a shard that nobody reads keeps
//! nothing).

use crate::value::IntBuf;

const MULTI: &[u8] = b"*1\r\n$5\r\nMULTI\r\n";
const EXEC: &[u8] = b"*1\r\n$4\r\nEXEC\r\n";

#[derive(Default)]
pub struct Journal {
    enabled: bool,
    buf: Vec<u8>,
    /// The database of the last record: a SELECT precedes a change.
    db: Option<usize>,
    /// Commands recorded since the start (SELECTs not counted).
    pub records: u64,
    /// Inside one command's execution: where its first record starts (after any SELECT)
    /// and the count before it, so that a command recording several is wrapped in
    /// MULTI/EXEC (`end_call`).
    call: Option<(Option<usize>, u64)>,
    /// Inside a block (`begin_tx`): the multi-shard operation's id (None: a one-shard
    /// MULTI/EXEC) and whether the block was opened by a first record.
    tx: Option<(Option<u64>, bool)>,
    /// Calls nested inside the one in progress (a script's commands): they record into
    /// the outer call's unit.
    depth: u32,
    /// The call in progress opened blocks of its own (a script holding every shard records
    /// each of its commands on this shard as a piece of its operation): those are its
    /// units, and it is not wrapped again (MULTI cannot nest).
    call_blocks: bool,
    /// Recording suspended (a script's `redis.set_repl(redis.REPL_NONE)`).
    pub muted: bool,
    /// How much of the buffer the replication stream has taken (`unpublished`).
    published: usize,
}

impl Journal {
    #[inline]
    pub fn enabled(&self) -> bool {
        self.enabled
    }

    /// Starts or stops recording; what was recorded stays until taken. The next record
    /// starts with a SELECT (recording may go to a new file from here).
    pub fn set_enabled(&mut self, on: bool) {
        self.enabled = on;
        self.db = None;
    }

    /// Appends one command run against `db` (nothing while recording is off).
    pub fn record<'a, I>(&mut self, db: usize, argv: I)
    where
        I: IntoIterator<Item = &'a [u8]>,
        I::IntoIter: ExactSizeIterator,
    {
        if !self.enabled || self.muted {
            return;
        }
        if self.db != Some(db) {
            let mut n = IntBuf::default();
            let n = n.format(db as i64);
            self.encode([&b"SELECT"[..], n].into_iter());
            self.db = Some(db);
        }
        if let Some((id, opened @ false)) = &mut self.tx {
            // `#` lines are annotations to redis-server and redis-check-aof (as #TS: is).
            if let Some(id) = id {
                self.buf
                    .extend_from_slice(format!("#TX {id}\r\n").as_bytes());
            }
            self.buf.extend_from_slice(MULTI);
            *opened = true;
        }
        if let Some((at @ None, _)) = &mut self.call {
            *at = Some(self.buf.len());
        }
        self.encode(argv.into_iter());
        self.records += 1;
    }

    /// Appends a command whose database does not matter (FLUSHALL, SWAPDB): no SELECT.
    pub fn record_any_db<'a, I>(&mut self, argv: I)
    where
        I: IntoIterator<Item = &'a [u8]>,
        I::IntoIter: ExactSizeIterator,
    {
        let db = self.db.unwrap_or(0);
        self.record(db, argv);
    }

    /// A command starts executing: what it records until `end_call` is one unit.
    #[inline]
    pub fn begin_call(&mut self) {
        if self.enabled {
            self.depth += 1;
            if self.depth == 1 {
                self.call = Some((None, self.records));
                self.call_blocks = false;
            }
        }
    }

    /// The command is done: two or more records are wrapped in MULTI/EXEC, as Redis 7.0's
    /// propagatePendingCommands does (SELECT stays before MULTI), so a replay applies them
    /// together.
    #[inline]
    pub fn end_call(&mut self) {
        if self.depth == 0 {
            return;
        }
        self.depth -= 1;
        if self.depth > 0 {
            return;
        }
        let Some((Some(at), before)) = self.call.take() else {
            return;
        };
        // Inside a multi-shard operation's block, which wraps everything already.
        if self.records - before >= 2 && self.tx.is_none() && !self.call_blocks {
            self.buf.splice(at..at, MULTI.iter().copied());
            self.buf.extend_from_slice(EXEC);
        }
    }

    /// A block starts: what is recorded until `end_tx` is one MULTI ... EXEC, so a replay
    /// applies it whole. For a piece of multi-shard operation `id`, the block is marked
    /// `#TX <id>`, so that a replay applies it only if the operation committed (`commit`,
    /// on the core that ran it) and an export can join its pieces from every shard. None:
    /// a transaction on this shard alone (EXEC).
    pub fn begin_tx(&mut self, id: Option<u64>) {
        if self.enabled {
            self.tx = Some((id, false));
            self.call_blocks |= self.depth > 0;
        }
    }

    /// A command's records are being gathered (`begin_call`): a busy script stopped in
    /// the middle. Its records are written out only once it ends (`end_call`).
    pub fn call_open(&self) -> bool {
        self.call.is_some()
    }

    /// Inside a block already (a piece that runs within another keeps the outer block).
    pub fn in_tx(&self) -> bool {
        self.tx.is_some()
    }

    /// The block ends; true if anything was recorded in it.
    pub fn end_tx(&mut self) -> bool {
        match self.tx.take() {
            Some((_, true)) => {
                self.buf.extend_from_slice(EXEC);
                true
            }
            _ => false,
        }
    }

    /// Multi-shard operation `id` is complete: its `pieces` blocks are recorded on their
    /// shards (and, by the time this is, durable where the AOF syncs every write). Written
    /// by the core that ran the operation, before its keys are released; a replay applies
    /// the pieces only if it finds all of them.
    pub fn commit(&mut self, id: u64, pieces: usize) {
        if self.enabled {
            self.buf
                .extend_from_slice(format!("#TXC {id} {pieces}\r\n").as_bytes());
        }
    }

    fn encode<'a>(&mut self, argv: impl ExactSizeIterator<Item = &'a [u8]>) {
        let b = &mut self.buf;
        b.push(b'*');
        b.extend_from_slice(IntBuf::default().format(argv.len() as i64));
        b.extend_from_slice(b"\r\n");
        for a in argv {
            b.push(b'$');
            b.extend_from_slice(IntBuf::default().format(a.len() as i64));
            b.extend_from_slice(b"\r\n");
            b.extend_from_slice(a);
            b.extend_from_slice(b"\r\n");
        }
    }

    /// The bytes recorded since the last call. The database carries over: the next record
    /// after a take needs no SELECT unless the database changes.
    pub fn take(&mut self) -> Vec<u8> {
        self.published = 0;
        std::mem::take(&mut self.buf)
    }

    /// The bytes recorded since the last `clear` (or `take`), for a writer that keeps the
    /// buffer's capacity between turns.
    pub fn pending(&self) -> &[u8] {
        &self.buf
    }

    pub fn clear(&mut self) {
        self.buf.clear();
        self.published = 0;
    }

    /// The bytes the replication stream has not taken yet (the AOF writes and clears the
    /// buffer on its own schedule); marks them taken.
    pub fn unpublished(&mut self) -> &[u8] {
        let from = self.published.min(self.buf.len());
        self.published = self.buf.len();
        &self.buf[from..]
    }

    pub fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }
}

/// What a command asks to be recorded instead of itself (Redis' rewriteClientCommandVector,
/// alsoPropagate and preventCommandPropagation), set by its handler.
#[derive(Default)]
pub enum Propagate {
    /// The command as it was sent, if it changed the dataset.
    #[default]
    AsSent,
    /// These commands, in order, instead.
    Instead(Vec<Vec<Vec<u8>>>),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_resp_with_select_on_database_changes() {
        let mut j = Journal::default();
        j.record(0, [&b"SET"[..], b"k", b"v"]);
        assert!(j.is_empty(), "nothing while off");
        j.set_enabled(true);
        j.record(0, [&b"SET"[..], b"k", b"v"]);
        j.record(0, [&b"DEL"[..], b"k"]);
        j.record(3, [&b"INCR"[..], b"n"]);
        assert_eq!(
            j.take(),
            b"*2\r\n$6\r\nSELECT\r\n$1\r\n0\r\n*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n\
              *2\r\n$3\r\nDEL\r\n$1\r\nk\r\n*2\r\n$6\r\nSELECT\r\n$1\r\n3\r\n\
              *2\r\n$4\r\nINCR\r\n$1\r\nn\r\n"
                .to_vec()
        );
        // The database carries over a take.
        j.record(3, [&b"DEL"[..], b""]);
        assert_eq!(j.take(), b"*2\r\n$3\r\nDEL\r\n$0\r\n\r\n".to_vec());
        assert_eq!(j.records, 4);
        // One command recording two: wrapped, its SELECT first.
        j.begin_call();
        j.record(7, [&b"DEL"[..], b"x"]);
        j.record(7, [&b"SET"[..], b"x", b"1"]);
        j.end_call();
        assert_eq!(
            j.take(),
            b"*2\r\n$6\r\nSELECT\r\n$1\r\n7\r\n*1\r\n$5\r\nMULTI\r\n\
              *2\r\n$3\r\nDEL\r\n$1\r\nx\r\n*3\r\n$3\r\nSET\r\n$1\r\nx\r\n$1\r\n1\r\n\
              *1\r\n$4\r\nEXEC\r\n"
                .to_vec()
        );
        j.begin_call();
        j.record(7, [&b"DEL"[..], b"y"]);
        j.end_call();
        assert_eq!(j.take(), b"*2\r\n$3\r\nDEL\r\n$1\r\ny\r\n".to_vec());
        // A multi-shard operation's part: one block with its id, whatever its commands
        // record; nothing at all when they record nothing.
        j.begin_tx(Some(9));
        assert!(!j.end_tx());
        assert!(j.is_empty());
        j.begin_tx(Some(9));
        j.begin_call();
        j.record(7, [&b"DEL"[..], b"a"]);
        j.record(7, [&b"SET"[..], b"a", b"1"]);
        j.end_call();
        j.begin_call();
        j.record(7, [&b"DEL"[..], b"b"]);
        j.end_call();
        assert!(j.end_tx());
        j.commit(9, 1);
        assert_eq!(
            String::from_utf8(j.take()).unwrap(),
            "#TX 9\r\n*1\r\n$5\r\nMULTI\r\n*2\r\n$3\r\nDEL\r\n$1\r\na\r\n\
             *3\r\n$3\r\nSET\r\n$1\r\na\r\n$1\r\n1\r\n*2\r\n$3\r\nDEL\r\n$1\r\nb\r\n\
             *1\r\n$4\r\nEXEC\r\n#TXC 9 1\r\n"
        );
        // A call whose commands record as pieces of its own operation (a script holding
        // every shard): the pieces are the units; the call does not wrap them again.
        j.begin_call();
        for key in [&b"c"[..], b"d"] {
            j.begin_tx(Some(10));
            j.record(7, [&b"DEL"[..], key]);
            assert!(j.end_tx());
        }
        j.end_call();
        assert_eq!(
            String::from_utf8(j.take()).unwrap(),
            "#TX 10\r\n*1\r\n$5\r\nMULTI\r\n*2\r\n$3\r\nDEL\r\n$1\r\nc\r\n*1\r\n$4\r\nEXEC\r\n\
             #TX 10\r\n*1\r\n$5\r\nMULTI\r\n*2\r\n$3\r\nDEL\r\n$1\r\nd\r\n*1\r\n$4\r\nEXEC\r\n"
        );
    }
}
