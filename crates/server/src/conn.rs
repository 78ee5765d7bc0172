//! One client connection: read, parse every complete command in the buffer, run each on the
//! core that owns its keys, and write all replies in request order with one write.
//!
//! Commands for this core's shard run inline. Commands for other shards are appended to a
//! per-shard batch and sent as one hop per shard per read (pipeline squashing); replies that
//! must wait for those hops are kept as ordered `Part`s and assembled when the hops return.
//! While nothing is in flight, replies go straight into the output buffer.

use crate::checks::{self, Verdict};
use crate::client::ClientInfo;
use crate::core::Core;
use crate::ops::{Batch, BatchOut, Op, Reply};
use crate::replies::{Deferred, Part, Src};
use engine::table::{CommandSpec, Flags, Handler, Kind, Rt, Split};
use engine::Args;
use futures_lite::AsyncReadExt;
use reactor::Stream;
use resp::{Arg, Limits, Parsed, Proto, Writer};
use std::collections::HashMap;
use std::ops::Range;
use std::rc::Rc;
use std::sync::atomic::Ordering;

#[derive(Clone, Copy, PartialEq, Eq)]
pub enum ReplyMode {
    On,
    Off,
    Skip,
}

pub struct Conn {
    /// Output since the last `write_out` came from this core (its shard, its runtime, its
    /// errors): it waits for this core's AOF group commit. Replies other cores made alone
    /// (they answered after their own commit) may leave a held turn.
    local_output: bool,
    pub core: Rc<Core>,
    pub info: Rc<ClientInfo>,
    pub proto: Proto,
    pub db: usize,
    pub authed: bool,
    pub reply_mode: ReplyMode,
    /// Set by QUIT, SHUTDOWN and protocol errors: write what is pending, then close.
    pub close: bool,
    /// A read is being run (`barrier`): set while its commands run, cleared while it
    /// waits for long (blocked, paused, a slow reader) and when its replies are done.
    pub in_read: bool,
    /// The output buffer: one write per read.
    pub out: Vec<u8>,
    /// The time commands run at: read once per read from the socket.
    now_ms: u64,
    last_spec: Option<&'static CommandSpec>,
    /// The command running was split into pieces per shard (SLOWLOG logs it whole).
    split_ran: bool,
    /// This connection is a MONITOR (its lines come through its mailbox, `subs.mailbox`).
    pub monitoring: bool,
    /// The command running was shown to monitors (where it ran), or needs no line.
    monitor_fed: bool,
    /// A piece of a split command is running on this core (not shown on its own).
    in_piece: bool,
    /// Where the running runtime command's reply starts in `out` (INFO commandstats'
    /// failed calls).
    reply_mark: usize,
    /// Where the pushes the running command wrote end in `out` (subscribe confirmations,
    /// its own published messages): CLIENT REPLY OFF/SKIP silences only what follows, as
    /// Redis' CLIENT_PUSHING lets pushes through.
    pub(crate) push_end: usize,
    /// MULTI/EXEC/WATCH state.
    pub multi: crate::multi::MultiState,
    /// The transaction (EXEC) this connection is running, whose key locks it holds.
    pub tx: Option<u64>,
    /// Replies that wait for other cores, and what assembles them in request order.
    replies: Deferred,
    /// A blocking command waiting (see `blocking`).
    pub blocked: Option<crate::blocking::Blocked>,
    /// Pub/Sub subscriptions and the mailbox their messages arrive in.
    pub subs: crate::pubsub::Subs,
    /// Since when the queued output has been over the soft output-buffer limit.
    soft_since: Option<u64>,
    /// Keyspace events of the command running, to publish before its reply.
    pub events: Vec<engine::notify::Event>,
    /// The master's link on a replica (`repl`): its replies are dropped, what it runs moves
    /// the replication offset, and it may write to a read-only replica.
    pub master: bool,
    /// What a replica said of itself (REPLCONF listening-port, ip-address).
    pub repl_port: u16,
    pub repl_ip: String,
    /// The replica can take a diskless payload (REPLCONF capa eof).
    pub repl_eof: bool,
    /// Cluster mode: ASKING was sent (for the next command, or the transaction it opens),
    /// and READONLY.
    pub asking: bool,
    pub asking_fresh: bool,
    pub readonly: bool,
    /// The master's stream dispatched but not yet counted in the offset, and what of it is
    /// in its transaction still open (kept as it came: it goes into this server's backlog
    /// for its own replicas, `feed::from_master`).
    unacked: Vec<u8>,
    in_multi: Vec<u8>,
    /// The running command's reads are remembered for client-side caching
    /// (`tracking::reads_tracked`, decided as it dispatches).
    pub track: bool,
}

const READ_CHUNK: usize = 16 * 1024;
/// A command at least this big that ends the input takes the read buffer with it
/// (`Args::in_shared`).
const SHARE_MIN: usize = 1 << 20;
/// How far the read buffer opens per read while a big command arrives.
const BIG_READ_STEP: usize = 4 << 20;
/// Commands parsed ahead of running them, for prefetching their keys.
const LOOKAHEAD: usize = 32;
/// The longest one write waits for eviction to catch up (`Conn::wait_for_memory`).
const MEMORY_WAIT: std::time::Duration = std::time::Duration::from_millis(200);

/// Why parsing ahead stopped.
enum Stop {
    /// LOOKAHEAD commands parsed; more may follow.
    Limit,
    Incomplete(usize),
    /// An inline command, parsed into the scratch buffer.
    Inline(usize),
    Error(resp::ProtocolError),
}
/// Past this many bytes of pending replies, write before parsing more: memory per client
/// stays bounded by this plus one reply, whatever the pipeline asks for.
const OUT_HIGH_WATER: usize = 1 << 20;
/// Output that does not count against client-output-buffer-limit (Redis' static reply
/// buffer per client).
const REPLY_BUF: usize = 16 * 1024;

/// A connection dropped in the middle of a read (its task cancelled) ends the read.
impl Drop for Conn {
    fn drop(&mut self) {
        self.leave_read();
        self.stop_monitoring();
        // The mailbox refers to the client's record: break the cycle.
        self.info.inbox.borrow_mut().take();
    }
}

impl Conn {
    pub fn new(core: Rc<Core>, info: Rc<ClientInfo>) -> Conn {
        let shards = core.shards();
        let authed = core.shared.requirepass().is_none();
        info.authenticated.set(authed);
        Conn {
            in_read: false,
            core,
            info,
            proto: Proto::Resp2,
            db: 0,
            authed,
            reply_mode: ReplyMode::On,
            close: false,
            master: false,
            repl_port: 0,
            unacked: Vec::new(),
            in_multi: Vec::new(),
            repl_ip: String::new(),
            repl_eof: false,
            asking: false,
            asking_fresh: false,
            readonly: false,
            out: Vec::with_capacity(READ_CHUNK),
            now_ms: engine::shard::unix_ms(),
            local_output: false,
            last_spec: None,
            split_ran: false,
            monitoring: false,
            monitor_fed: false,
            in_piece: false,
            reply_mark: 0,
            push_end: 0,
            multi: Default::default(),
            tx: None,
            replies: Deferred::new(shards),
            blocked: None,
            subs: Default::default(),
            soft_since: None,
            events: Vec::new(),
            track: false,
        }
    }

    /// A PUBLISH may join the deferred replies (`pubsub::publish_pipelined`) when nothing
    /// but other publishes waits on other cores (a batch still out could be overtaken by
    /// the message), outside transactions, and for a client that is not itself subscribed
    /// (whose own messages must come before its replies).
    fn publish_can_pipeline(&self) -> bool {
        self.tx.is_none()
            && self.subs.mailbox.is_none()
            && self.replies.remote.iter().all(Batch::is_empty)
            && self.replies.part_events.is_empty()
            && self.events.is_empty()
    }

    /// Defers an integer reply summed from `here` and the replies of `pending`.
    pub fn defer_sum(&mut self, here: i64, pending: Vec<crate::core::Asked<i64>>) {
        if pending.is_empty() && !self.replies.active {
            self.writer().integer(here);
            return;
        }
        let start = self.replies.local.len();
        Writer::new(&mut self.replies.local, self.proto).integer(here);
        let mut srcs = vec![Src::Local(start..self.replies.local.len())];
        for p in pending {
            srcs.push(Src::Wait(self.replies.waits.len()));
            self.replies.waits.push(p);
        }
        self.replies.parts.push(Part::Sum(srcs));
        self.replies.active = true;
    }

    /// Records a keyspace event raised by the runtime itself (a command whose keys span
    /// shards), if its class is on.
    pub fn notify(&mut self, class: u32, name: &'static str, db: usize, key: &[u8]) {
        let classes = engine::notify::recorded(self.core.settings.get().notify);
        engine::notify::record(&mut self.events, classes, class, name, db, key);
    }

    /// A command split by shard (MSET, DEL, MGET...) raised its events shard by shard; Redis
    /// raises them in argument order. Each shard's are in argument order already, so a
    /// stable sort by the key's first position restores it (a key named twice keeps all its
    /// events at its first place: the one case left different).
    fn order_split_events(&mut self, spec: &CommandSpec, args: Args) {
        let mut first: HashMap<&[u8], usize> = HashMap::new();
        for p in spec.key_positions(&args) {
            first.entry(args.get(p)).or_insert(p);
        }
        self.events.sort_by_key(|e| first.get(&e.key[..]).copied());
    }

    /// Takes the keyspace events of a local execution whose reply is deferred: they belong
    /// to the part about to be pushed.
    fn collect_part_events(&mut self) {
        let mut sh = self.core.shard.borrow_mut();
        if sh.has_events() {
            let part = self.replies.parts.len();
            self.replies
                .part_events
                .extend(sh.take_events().into_iter().map(|e| (part, e)));
        }
    }

    /// While someone monitors: this client as MONITOR shows it (for batches it sends).
    pub fn monitor_who(&self) -> Option<std::sync::Arc<str>> {
        crate::monitor::active(&self.core)
            .then(|| crate::monitor::who(&self.core, &self.info).into())
    }

    /// Shows a command that just ran on this core for this client.
    fn monitor_here(&mut self, spec: &CommandSpec, args: Args) {
        if self.in_piece {
            return;
        }
        self.monitor_fed = true;
        let who = crate::monitor::who(&self.core, &self.info);
        crate::monitor::command(&self.core, self.db, &who, spec, args);
    }

    /// MONITOR ends (RESET, disconnect).
    pub fn stop_monitoring(&mut self) {
        if !self.monitoring {
            return;
        }
        self.monitoring = false;
        self.info.monitor.set(false);
        if let Some(mb) = &self.subs.mailbox {
            crate::monitor::stop(&self.core, mb);
        }
        self.drop_mailbox_if_unused();
    }

    /// The connection's mailbox (made on first use): what reaches the client from outside
    /// its commands (messages, MONITOR lines, invalidations). It may have been made by a
    /// delivery already (`ClientInfo::inbox`).
    pub fn mailbox(&mut self) -> Rc<crate::pubsub::Mailbox> {
        if let Some(mb) = &self.subs.mailbox {
            return mb.clone();
        }
        let mb = self
            .info
            .inbox
            .borrow()
            .clone()
            .unwrap_or_else(|| crate::pubsub::Mailbox::new(self.info.clone(), self.proto));
        *self.info.inbox.borrow_mut() = Some(mb.clone());
        self.subs.mailbox = Some(mb.clone());
        mb
    }

    /// Drops the mailbox once nothing needs it (no subscription, not monitoring, not
    /// tracking), writing out what it holds.
    pub fn drop_mailbox_if_unused(&mut self) {
        if self.subs.active() || self.monitoring || self.info.tracking.get() != 0 {
            return;
        }
        if let Some(mb) = self.subs.mailbox.take() {
            mb.drain_into(&mut self.out);
        }
        *self.info.inbox.borrow_mut() = None;
    }

    /// Whether a split command's keys span shards (its events then need `order_split_events`
    /// before anything else runs).
    fn split_across(&self, spec: &CommandSpec, args: Args) -> bool {
        let Kind::Keyed { split, .. } = spec.kind else {
            return false;
        };
        if !matches!(split, Split::PerKeyArray | Split::SumInt | Split::AllOk) {
            return false;
        }
        let shared = &self.core.shared;
        let mut positions = spec.key_positions(&args);
        let Some(first) = positions.next().map(|p| shared.shard_of(args.get(p))) else {
            return false;
        };
        !positions.all(|p| shared.shard_of(args.get(p)) == first)
    }

    /// Takes the keyspace events a local execution left in this core's shard.
    fn collect_events(&mut self) {
        let mut sh = self.core.shard.borrow_mut();
        if sh.has_events() {
            self.events.append(&mut sh.take_events());
        }
    }

    pub fn writer(&mut self) -> Writer<'_> {
        Writer::new(&mut self.out, self.proto)
    }

    pub fn error(&mut self, msg: &str) {
        self.writer().error(msg);
    }

    /// A HELP subcommand's reply: its lines as status replies (Redis' addReplyHelp).
    pub fn help(&mut self, lines: &[&str]) {
        let mut w = self.writer();
        w.array(lines.len());
        for l in lines {
            w.simple(l.as_bytes());
        }
    }

    /// A command refused before running: inside MULTI it also dooms the transaction
    /// (EXECABORT), as Redis' flagTransaction does.
    /// The output written next waits for this core's AOF group commit (see `local_output`).
    pub(crate) fn mark_local_output(&mut self) {
        self.local_output = true;
    }

    fn reject(&mut self, msg: &str) {
        self.core.shard.borrow_mut().cmdstats.error(msg.as_bytes());
        self.reject_quietly(msg);
    }

    /// `reject` of a command that exists: it counts among its rejected calls, as Redis
    /// counts them (INFO commandstats), unless its subcommand is unknown.
    fn reject_command(&mut self, spec: &'static CommandSpec, args: Args, msg: &str) {
        count_rejected(&self.core, spec, args, msg);
        self.reject_quietly(msg);
    }

    /// `reject` without counting: the error, unless CLIENT REPLY OFF or SKIP silences it
    /// (a refused command uses up a SKIP, as in Redis).
    fn reject_quietly(&mut self, msg: &str) {
        self.local_output = true;
        if self.multi.active() {
            self.multi.dirty = true;
        }
        match self.reply_mode {
            ReplyMode::On => self.error(msg),
            ReplyMode::Off => {}
            ReplyMode::Skip => self.reply_mode = ReplyMode::On,
        }
    }

    /// CLIENT REPLY OFF/SKIP: drops what the command wrote from `mark` on (a reply written
    /// outside the usual path: QUEUED, a refused EXEC).
    fn silence_since(&mut self, mark: usize) {
        match self.reply_mode {
            ReplyMode::On => {}
            ReplyMode::Off => self.out.truncate(mark),
            ReplyMode::Skip => {
                self.out.truncate(mark);
                self.reply_mode = ReplyMode::On;
            }
        }
    }

    pub async fn run(&mut self, stream: &mut Stream) {
        self.run_seeded(stream, Vec::new()).await
    }

    /// `run`, with `initial` bytes already read from the socket (the start of a master's
    /// stream that came with the end of its RDB) taken first.
    pub async fn run_seeded(&mut self, stream: &mut Stream, initial: Vec<u8>) {
        let mut rbuf = vec![0u8; READ_CHUNK.max(initial.len() + READ_CHUNK)];
        let mut seeded = initial.len();
        rbuf[..seeded].copy_from_slice(&initial);
        drop(initial);
        let (mut start, mut end) = (0usize, 0usize);
        let mut need = 0usize;
        let mut args: Vec<Arg> = Vec::new();
        let mut scratch: Vec<u8> = Vec::new();
        // Commands parsed ahead: (bytes in rbuf, their arguments in `flat`).
        let mut ahead: Vec<(Range<usize>, Range<usize>)> = Vec::with_capacity(LOOKAHEAD);
        let mut flat: Vec<Arg> = Vec::new();
        loop {
            // Make room: compact first, grow only when the pending command is bigger than
            // the buffer (bounded by client-query-buffer-limit below).
            if rbuf.len() - end < READ_CHUNK / 4 {
                if start > 0 {
                    rbuf.copy_within(start..end, 0);
                    end -= start;
                    start = 0;
                }
                if rbuf.len() - end < READ_CHUNK / 4 {
                    // A big command pending: reserve it whole once (pages nobody touched
                    // cost nothing), then open the buffer a few MB per read, so its pages
                    // are touched as its bytes arrive, not all in one turn.
                    let want = if need > rbuf.len() {
                        // Room for the whole command and a little more, so that opening it
                        // never reallocates (a realloc would copy, and first-touch, all of
                        // it at once).
                        if need + READ_CHUNK > rbuf.capacity() {
                            rbuf.reserve_exact(need + READ_CHUNK - rbuf.len());
                        }
                        need.min(end + BIG_READ_STEP).max(end + READ_CHUNK / 4)
                    } else {
                        rbuf.len() * 2
                    };
                    rbuf.resize(want, 0);
                }
            }
            if self.subs.mailbox.is_none() && self.info.inbox.borrow().is_some() {
                // A delivery made the mailbox (an invalidation for a REDIRECT target).
                self.mailbox();
            }
            let read = if seeded > 0 {
                Ok(std::mem::take(&mut seeded))
            } else {
                match self.subs.mailbox.clone() {
                    // A subscriber: wait for input and for messages at once.
                    Some(mb) => loop {
                        if mb.pending() > 0 {
                            mb.drain_into(&mut self.out);
                            if !self.write_out(stream).await {
                                break Err(());
                            }
                        }
                        if self.info.killed.get() {
                            break Err(());
                        }
                        let input = async { Some(stream.read(&mut rbuf[end..]).await) };
                        let message = async {
                            mb.ready().await;
                            None
                        };
                        match futures_lite::future::or(input, message).await {
                            Some(r) => break r.map_err(|_| ()),
                            None => continue,
                        }
                    },
                    None => match stream.read_or_nudge(&mut rbuf[end..]).await {
                        // A delivery made a mailbox: wait on it too.
                        Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                        r => r.map_err(|_| ()),
                    },
                }
            };
            let n = match read {
                Ok(0) | Err(_) => break,
                Ok(n) => n,
            };
            if self.master {
                self.core
                    .shared
                    .repl
                    .last_io_ms
                    .store(engine::shard::unix_ms(), Ordering::Relaxed);
            }
            if let Some(mb) = &self.subs.mailbox {
                // Messages that arrived with this input were published before it was read:
                // they go out before its replies.
                mb.drain_into(&mut self.out);
            }
            end += n;
            self.enter_read().await;
            let core = &self.core;
            core.counters
                .net_in
                .set(core.counters.net_in.get() + n as u64);
            self.now_ms = engine::shard::unix_ms();
            self.info.last_interaction.set(self.now_ms);
            let limits = Limits {
                max_bulk_len: core.shared.proto_max_bulk_len.load(Ordering::Relaxed) as usize,
                ..Limits::default()
            };
            let qlimit = core.shared.query_buffer_limit.load(Ordering::Relaxed) as usize;
            while end - start >= need && !self.close {
                if !self.authed {
                    if let Some(msg) = checks::unauthenticated_limit(&rbuf[start..end], &limits) {
                        self.flush().await;
                        self.error(msg);
                        self.close = true;
                        break;
                    }
                }
                // Parse ahead every complete command in the buffer (a bounded number), so
                // that their keys' cache misses overlap (`prefetch`); then run them in order.
                // Unauthenticated, one at a time: each command's size limit depends on the
                // AUTH before it.
                let max = if self.authed { LOOKAHEAD } else { 1 };
                ahead.clear();
                flat.clear();
                let mut pos = start;
                let mut stop = Stop::Limit;
                // A blocked command reads on while it waits: bytes past this mark arrived
                // after parsing stopped.
                let parsed_end = end;
                while ahead.len() < max {
                    match resp::parse_command(&rbuf[pos..end], &limits, &mut args, &mut scratch) {
                        Ok(Parsed::Incomplete { needed }) => {
                            stop = Stop::Incomplete(needed);
                            break;
                        }
                        Ok(Parsed::Command {
                            consumed,
                            inline_scratch: false,
                        }) => {
                            flat.extend_from_slice(&args);
                            ahead.push((pos..pos + consumed, flat.len() - args.len()..flat.len()));
                            pos += consumed;
                        }
                        Ok(Parsed::Command {
                            consumed,
                            inline_scratch: true,
                        }) => {
                            // Its arguments live in `scratch`, which the next parse reuses.
                            stop = Stop::Inline(consumed);
                            break;
                        }
                        Err(e) => {
                            stop = Stop::Error(e);
                            break;
                        }
                    }
                }
                if ahead.len() > 1 {
                    self.prefetch(&rbuf, &ahead, &flat);
                }
                for (cmd, range) in ahead.drain(..) {
                    if self.close {
                        break;
                    }
                    need = 0;
                    if self.master {
                        self.in_multi.extend_from_slice(&rbuf[cmd.clone()]);
                    }
                    if range.is_empty() {
                        start = cmd.end;
                    } else if cmd.len() >= SHARE_MIN
                        && cmd.end == end
                        && rbuf.capacity() <= cmd.len() + cmd.len() / 8 + 2 * READ_CHUNK
                    {
                        // A big command that ends the input and fills the read buffer: the
                        // buffer becomes its own (a SET keeps its value there instead of
                        // copying it), and the connection reads on into a new one. Not when
                        // the buffer is much larger (it held a pipeline of big commands): a
                        // value would keep all of it, many times its size.
                        let whole =
                            bytes::Bytes::from(std::mem::replace(&mut rbuf, vec![0u8; READ_CHUNK]));
                        self.dispatch(Args::in_shared(&whole, cmd, &flat[range]))
                            .await;
                        (start, end) = (0, 0);
                    } else {
                        let buf = &rbuf[cmd.clone()];
                        self.dispatch(Args::new(buf, &flat[range])).await;
                        start = cmd.end;
                    }
                    if self.master {
                        self.applied();
                    }
                    if self.blocked.is_some()
                        && !crate::blocking::wait(self, stream, &mut rbuf, &mut end, qlimit).await
                    {
                        self.close = true;
                        break;
                    }
                    if !self.after_command(stream).await {
                        break;
                    }
                }
                if self.close {
                    break;
                }
                match stop {
                    Stop::Limit => {}
                    Stop::Incomplete(needed) => {
                        need = needed;
                        if end == parsed_end {
                            break;
                        }
                    }
                    Stop::Inline(consumed) => {
                        need = 0;
                        if self.master {
                            self.in_multi
                                .extend_from_slice(&rbuf[start..start + consumed]);
                        }
                        if !args.is_empty() {
                            self.dispatch(Args::new(&scratch, &args)).await;
                        }
                        start += consumed;
                        if self.master {
                            self.applied();
                        }
                        if self.blocked.is_some()
                            && !crate::blocking::wait(self, stream, &mut rbuf, &mut end, qlimit)
                                .await
                        {
                            self.close = true;
                            break;
                        }
                        if !self.after_command(stream).await {
                            break;
                        }
                    }
                    Stop::Error(e) => {
                        self.flush().await;
                        self.error(&format!("ERR {e}"));
                        self.close = true;
                    }
                }
            }
            if end - start > qlimit || need > qlimit.saturating_add(2) {
                tracing::warn!(
                    client = self.info.id,
                    "closing client that reached max query buffer length"
                );
                self.close = true;
            }
            self.flush().await;
            if self.master {
                // Every command of the read has run where its keys live (their replies are
                // in): the offset covers them now.
                self.settle_offset();
                let repl = &self.core.shared.repl;
                repl.stream_db.store(self.db, Ordering::Relaxed);
            }
            self.leave_read();
            if let Some(mb) = &self.subs.mailbox {
                mb.drain_into(&mut self.out);
            }
            self.info.qbuf.set(end - start);
            if start == end {
                start = 0;
                end = 0;
                if rbuf.len() > 4 * READ_CHUNK {
                    // A huge command passed: give the memory back.
                    rbuf = vec![0u8; READ_CHUNK];
                }
            }
            if !self.write_out(stream).await {
                break;
            }
            if self.close || self.info.killed.get() {
                break;
            }
        }
        if self.master {
            // What was dispatched runs (batches gathered for other shards are sent and
            // their replies awaited); a transaction of the master's left open is not
            // counted, so the master sends it again after a partial resync.
            self.flush().await;
            self.settle_offset();
        }
        self.leave_read();
        // A client that goes away stops watching (its shards drop the entries) and
        // listening.
        crate::multi::unwatch_all(self).await;
        crate::pubsub::unsubscribe_all(self).await;
        crate::tracking::disable(self).await;
    }

    /// After each command: a small read can ask for huge replies (a thousand GETs of a 10 MB
    /// value), so write them as they grow instead of holding them all. False when the
    /// connection must close.
    async fn after_command(&mut self, stream: &mut Stream) -> bool {
        if self.out.len() + self.replies.local.len() < OUT_HIGH_WATER {
            return true;
        }
        self.flush().await;
        // Everything sent is done: a slow reader keeps no whole-keyspace operation waiting.
        self.leave_read();
        let ok = self.write_out(stream).await;
        self.enter_read().await;
        // The write may have waited on a slow reader: commands after it see the new time.
        self.now_ms = engine::shard::unix_ms();
        if !ok {
            self.close = true;
        }
        ok
    }

    /// Warms the cache for the local keys of the commands parsed ahead (their first key,
    /// argument 1: a command without keys there only costs a useless hint).
    fn prefetch(&self, rbuf: &[u8], ahead: &[(Range<usize>, Range<usize>)], flat: &[Arg]) {
        let shared = &self.core.shared;
        let mut keys: [&[u8]; LOOKAHEAD] = [&[]; LOOKAHEAD];
        let mut n = 0;
        for (cmd, range) in ahead {
            if range.len() < 2 {
                continue;
            }
            let key = Args::new(&rbuf[cmd.clone()], &flat[range.clone()]).get(1);
            if shared.shards == 1 || shared.shard_of(key) == self.core.id {
                keys[n] = key;
                n += 1;
            }
        }
        if n > 1 {
            self.core.shard.borrow().prefetch(self.db, &keys[..n]);
        }
    }

    /// Hands the output buffer to the socket (sent at the end of the turn, with every other
    /// connection's); false when the client is gone or past its output-buffer limit.
    pub(crate) async fn write_out(&mut self, stream: &mut Stream) -> bool {
        if self.out.is_empty() {
            return true;
        }
        if self.master {
            // The master reads no replies (REPLCONF GETACK's is written to the socket).
            self.out.clear();
            return true;
        }
        let core = &self.core;
        core.counters
            .net_out
            .set(core.counters.net_out.get() + self.out.len() as u64);
        // A subscriber's messages (keyspace events of this core's writes among them) count
        // as this core's.
        let local = std::mem::take(&mut self.local_output) || self.subs.mailbox.is_some();
        let queued = if local {
            stream.write_from(&mut self.out)
        } else {
            stream.write_from_durable(&mut self.out)
        };
        if queued.is_err() {
            return false;
        }
        if self.out.capacity() > OUT_HIGH_WATER * 2 {
            self.out = Vec::with_capacity(READ_CHUNK);
        }
        if self.output_within_limit(stream.queued()) {
            return true;
        }
        stream.discard();
        false
    }

    /// client-output-buffer-limit over what is still queued for the client: the normal
    /// class, or pubsub for a subscriber. Like Redis, the first 16 KB (its static reply
    /// buffer) do not count. Past the hard limit the client is closed at once; past the soft
    /// limit for longer than its seconds, too.
    fn output_within_limit(&mut self, queued: usize) -> bool {
        let used = queued.saturating_sub(REPLY_BUF);
        let settings = self.core.settings.get();
        let limit = if self.subs.active() {
            settings.output
        } else {
            settings.normal
        };
        if limit.hard > 0 && used > limit.hard {
            tracing::warn!(
                client = self.info.id,
                pending = queued,
                "closing a client past client-output-buffer-limit"
            );
            return false;
        }
        if limit.soft > 0 && used > limit.soft {
            let now = engine::shard::unix_ms();
            let since = *self.soft_since.get_or_insert(now);
            if now.saturating_sub(since) / 1000 >= limit.soft_secs.max(1) {
                tracing::warn!(
                    client = self.info.id,
                    pending = queued,
                    "closing a client over the soft client-output-buffer-limit for too long"
                );
                return false;
            }
        } else {
            self.soft_since = None;
        }
        true
    }

    pub(crate) async fn dispatch(&mut self, args: Args<'_>) {
        self.dispatch_one(args).await;
        if self.info.tracking.get() & crate::tracking::CACHING != 0 {
            crate::tracking::after_command(self, args.get(0));
        }
    }

    async fn dispatch_one(&mut self, args: Args<'_>) {
        let name = args.get(0);
        // Pipelines repeat their command: compare with the last one before hashing.
        let spec = match self.last_spec {
            Some(last) if last.name.as_bytes().eq_ignore_ascii_case(name) => Some(last),
            _ => engine::lookup(name),
        };
        let Some(spec) = spec else {
            self.flush_if_needed().await;
            let msg = checks::unknown_command(args);
            self.reject(&msg);
            return;
        };
        self.last_spec = Some(spec);
        let sub = if args.len() > 1 { args.get(1) } else { &[] };
        self.info.set_last_cmd(spec.name, sub, args.len());
        if self.monitoring
            && (spec.is_write()
                || spec.flags.has(Flags::READONLY)
                || spec.flags.has(Flags::MAY_REPLICATE))
        {
            // A monitor is a replica to Redis (CLIENT_SLAVE).
            self.flush_if_needed().await;
            self.reject_command(spec, args, "ERR Replica can't interact with the keyspace");
            return;
        }
        if self.core.shared.cluster.is_some() && !self.master {
            // ASKING holds for the next command, or for the transaction it opens.
            if self.asking_fresh {
                self.asking_fresh = false;
            } else if !self.multi.active() {
                self.asking = false;
            }
            if self.authed && spec.arity_ok(args.len()) && self.redirected(spec, args).await {
                return;
            }
        }
        let misconf = !self.core.shared.persist.last_ok.load(Ordering::Relaxed)
            && self.stop_writes_on_save_error();
        let aof_error = self.core.shared.aof.write_error();
        let owner = || {
            let first = spec.key_positions(&args).next()?;
            Some(self.core.shared.shard_of(args.get(first)))
        };
        let mut oom = !self.master && crate::memory::make_room(&self.core, owner);
        if !oom
            && crate::memory::behind(&self.core)
            && spec.flags.has(Flags::DENYOOM)
            && self.tx.is_none()
            && !self.multi.active()
        {
            oom = self.wait_for_memory(spec, args).await;
        }
        let state = checks::State {
            oom,
            denyoom_by_flags: oom && crate::scripting::denyoom_by_flags(&self.core, spec, args),
            authed: self.authed,
            readonly: !self.master && self.core.shared.repl.refuses_writes(),
            noreplicas: !self.master && self.core.shared.feed.too_few_replicas(),
            masterdown: !self.master && self.core.shared.repl.refuses_stale(),
            unstale_by_flags: !self.master
                && self.core.shared.repl.refuses_stale()
                && crate::scripting::unstale_by_flags(&self.core, spec, args),
            resp3: self.proto == Proto::Resp3,
            subscribed: self.subs.active(),
            in_multi: self.multi.active(),
            loading: self.core.shared.persist.loading.load(Ordering::Relaxed),
            writes_by_flags: (misconf
                || aof_error.is_some()
                || (!self.master
                    && (self.core.shared.repl.refuses_writes()
                        || self.core.shared.feed.too_few_replicas())))
                && crate::scripting::writes_by_flags(&self.core, spec, args),
            misconf,
            aof_error,
            queued: self.multi.flags,
            queued_lacking: self.multi.lacking,
            busy: match self.core.shared.busy.any()
                && crate::scripting::blocked_by_busy(&self.core, spec, args)
            {
                true => Some(self.core.shared.busy.text()),
                false => None,
            },
        };
        match checks::verify(&state, spec, args, || self.debug_allowed()) {
            Verdict::Run => {}
            Verdict::Queue => {
                self.flush_if_needed().await;
                let mark = self.out.len();
                crate::multi::queue(self, spec, args);
                self.silence_since(mark);
                return;
            }
            Verdict::Reject(msg) if matches!(spec.kind, Kind::Runtime(Rt::Exec)) => {
                self.flush_if_needed().await;
                let mark = self.out.len();
                crate::multi::abort(self, &checks::exec_abort(&msg)).await;
                self.silence_since(mark);
                return;
            }
            Verdict::Reject(msg) => {
                self.flush_if_needed().await;
                self.reject_command(spec, args, &msg);
                return;
            }
        }
        let core = &self.core;
        core.counters.commands.set(core.counters.commands.get() + 1);
        self.track = self.info.tracking.get() != 0 && crate::tracking::reads_tracked(&self.info);
        if self.wait_if_paused(spec).await
            && self.core.shared.cluster.is_some()
            && self.authed
            && self.redirected(spec, args).await
        {
            // Paused (a manual failover): where the keys live may have changed meanwhile.
            return;
        }
        if self.tx.is_none() && !self.core.lock_idle() {
            self.wait_for_keys(spec, args).await;
        }
        let suppress = self.reply_mode != ReplyMode::On;
        if suppress {
            self.flush().await;
        }
        let mark = self.out.len();
        self.push_end = 0;
        let notify = engine::notify::recorded(self.core.settings.get().notify) != 0;
        let split_across = notify && self.split_across(spec, args);
        if split_across {
            // Its events get reordered on their own (`order_split_events`).
            self.flush().await;
        }
        // Every command's reply is this core's but that of a keyed command run on another
        // shard alone (`keyed` says).
        let may_block = spec.may_block(args);
        if !matches!(spec.kind, Kind::Keyed { .. }) || may_block {
            self.local_output = true;
        }
        // SLOWLOG and INFO commandstats: runtime commands are timed here, and keyed ones
        // that may be split into pieces (logged and counted whole); the others where their
        // shard runs them.
        let started = match spec.kind {
            Kind::Runtime(_) => true,
            Kind::Keyed { split, .. } => !matches!(split, Split::Never),
        }
        .then(std::time::Instant::now);
        self.split_ran = false;
        // A transaction's commands dispatch inside EXEC's: each has its own flag.
        let outer_fed = std::mem::replace(&mut self.monitor_fed, false);
        if matches!(spec.kind, Kind::Runtime(engine::Rt::Eval))
            && crate::monitor::active(&self.core)
        {
            // Shown before the script's own calls, as Redis feeds EVAL and FCALL.
            let who = crate::monitor::who(&self.core, &self.info);
            if !self.core.shared.persist.loading.load(Ordering::Relaxed) {
                let mut l = Vec::new();
                crate::monitor::line(&mut l, self.db, &who, args);
                crate::monitor::feed(&self.core, l);
            }
            self.monitor_fed = true;
        }
        match spec.kind {
            // Inside EXEC blocking commands run as their non-blocking form (Redis'
            // CLIENT_DENY_BLOCKING).
            Kind::Keyed { handler, split } if may_block && self.tx.is_none() => {
                crate::blocking::start(self, spec, handler, split, args).await
            }
            Kind::Keyed { handler, split } => self.keyed(spec, handler, split, args).await,
            Kind::Runtime(engine::Rt::Publish) if self.publish_can_pipeline() => {
                crate::pubsub::publish_pipelined(self, args).await;
            }
            // Straight to the scripts: not through `runtime::run`, whose future (every
            // runtime command's state) costs a large copy per call.
            Kind::Runtime(engine::Rt::Eval) => {
                self.flush().await;
                if self.track {
                    // Redis remembers a script's declared keys once it runs a read; they
                    // are remembered ahead here, whatever it runs.
                    let keys = spec.key_positions(&args).map(|p| args.get(p));
                    crate::tracking::remember_ahead(self, keys).await;
                }
                self.reply_mark = self.out.len();
                crate::scripting::eval(self, spec, args).await;
            }
            Kind::Runtime(rt) => {
                self.flush().await;
                self.reply_mark = self.out.len();
                crate::runtime::run(self, rt, spec, args).await;
            }
        }
        let whole = match spec.kind {
            Kind::Runtime(engine::Rt::Eval) => {
                crate::slowlog::take_script_calls(&self.core);
                true
            }
            Kind::Runtime(_) => {
                crate::slowlog::take_local(self);
                true
            }
            // Its pieces' records are dropped (`Batch::push_piece`, and here for those run
            // on this shard): the command is logged whole.
            Kind::Keyed { .. } if self.split_ran => {
                drop(self.core.shard.borrow_mut().take_slow());
                true
            }
            Kind::Keyed { .. } => {
                crate::slowlog::take_local(self);
                false
            }
        };
        if let (Some(t), true) = (started, whole) {
            let micros = t.elapsed().as_micros() as u64;
            crate::slowlog::runtime_command(self, spec, args, micros);
            let at = match spec.kind {
                Kind::Runtime(_) => self.reply_mark,
                Kind::Keyed { .. } => mark,
            };
            let reply = self.out.get(at..).unwrap_or_default();
            if !count_rejected_subcommand(&self.core, spec, args, reply) {
                self.core
                    .shard
                    .borrow_mut()
                    .count_call(spec, args, micros, reply);
            }
        }
        // Not shown where it ran (a runtime command, one split over shards, a blocking
        // command's first try): shown now, whole.
        let fed = std::mem::replace(&mut self.monitor_fed, outer_fed);
        if !fed && crate::monitor::active(&self.core) {
            let who = crate::monitor::who(&self.core, &self.info);
            crate::monitor::command(&self.core, self.db, &who, spec, args);
        }
        if notify {
            // Keyspace notifications on: one client's events go out in its commands' order.
            // A command split over shards is finished first, its events put in argument
            // order; others publish now, or with the deferred replies they wait behind
            // (`flush`).
            if split_across {
                self.flush_replies().await;
                self.order_split_events(spec, args);
            }
            if !self.replies.active && !self.events.is_empty() {
                crate::pubsub::publish_events(self).await;
            }
        }
        if suppress {
            self.flush().await;
            // CLIENT REPLY itself switches the mode; the command that set OFF/SKIP is silent.
            let keep = mark.max(self.push_end);
            match self.reply_mode {
                ReplyMode::Off => self.out.truncate(keep),
                ReplyMode::Skip => {
                    self.out.truncate(keep);
                    self.reply_mode = ReplyMode::On;
                }
                ReplyMode::On => {}
            }
        }
    }

    /// enable-debug-command (immutable, default `no`): DEBUG can stall a whole core, so
    /// Redis 7.0 refuses it unless the operator allowed it.
    /// stop-writes-on-bgsave-error applies: it is on and save points are set. Read only
    /// after a failed save.
    fn stop_writes_on_save_error(&self) -> bool {
        crate::checks::stop_writes_on_save_error(&self.core)
    }

    fn debug_allowed(&self) -> bool {
        let setting = self
            .core
            .shared
            .config
            .read()
            .ok()
            .and_then(|c| c.get("enable-debug-command"))
            .unwrap_or_default();
        match setting.as_str() {
            "yes" => true,
            "local" => self.info.local,
            _ => false,
        }
    }

    /// Starts (or resumes) running a read: after any whole-keyspace operation in progress.
    #[inline]
    pub async fn enter_read(&mut self) {
        if self.in_read {
            return;
        }
        let barrier = &self.core.shared.barrier;
        while !barrier.try_enter(self.core.id) {
            barrier.wait().await;
        }
        self.in_read = true;
    }

    /// Ends (or suspends) the read: everything it sent is done.
    #[inline]
    pub fn leave_read(&mut self) {
        if std::mem::take(&mut self.in_read) {
            self.core.shared.barrier.leave(self.core.id);
        }
    }

    /// A write while eviction is not keeping up (`memory::behind`): waits, its earlier
    /// replies sent, while this core (every turn, and the timer's eviction) and the others
    /// evict, up to `MEMORY_WAIT`; then runs it (or refuses it, if the server is out of
    /// memory by then). Writers are slowed instead of the server growing past its limit.
    async fn wait_for_memory(&mut self, spec: &CommandSpec, args: Args<'_>) -> bool {
        self.flush().await;
        self.leave_read();
        let until = std::time::Instant::now() + MEMORY_WAIT;
        let core = self.core.clone();
        let owner = || {
            let first = spec.key_positions(&args).next()?;
            Some(core.shared.shard_of(args.get(first)))
        };
        let oom = loop {
            reactor::sleep(std::time::Duration::from_millis(1)).await;
            let oom = crate::memory::make_room(&self.core, owner);
            if oom || !crate::memory::behind(&self.core) || std::time::Instant::now() >= until {
                break oom;
            }
        };
        self.enter_read().await;
        oom
    }

    /// The commands of the master's stream dispatched so far have run (the caller flushed):
    /// the offset covers them (REPLCONF GETACK answers with it).
    pub fn settle_offset(&mut self) {
        crate::feed::from_master(&self.core, &self.unacked);
        self.unacked.clear();
    }

    /// The master's command just dispatched (its bytes taken before) counts in the offset
    /// once the read's replies are in (a command sent to another shard may not have run
    /// yet).
    fn applied(&mut self) {
        // Inside the master's MULTI the bytes wait for its EXEC (Redis' reploff does not
        // move within a transaction).
        if !self.multi.active() {
            if self.unacked.is_empty() {
                std::mem::swap(&mut self.unacked, &mut self.in_multi);
            } else {
                self.unacked.extend_from_slice(&self.in_multi);
                self.in_multi.clear();
            }
        }
    }

    /// Cluster mode: the redirection (or CROSSSLOT, CLUSTERDOWN) this command gets instead
    /// of running here, if any (`cluster::route`). EXEC is checked with its queue.
    async fn cluster_redirect(
        &mut self,
        spec: &'static CommandSpec,
        args: Args<'_>,
    ) -> Option<String> {
        use crate::cluster::route::{self, Verdict};
        let core = self.core.clone();
        let cl = core.shared.cluster.as_ref()?;
        let verdict = if matches!(spec.kind, Kind::Runtime(Rt::Exec)) {
            let queued = self.multi.queued.as_ref()?;
            let cmds: Vec<(&'static CommandSpec, &[Vec<u8>])> = queued
                .iter()
                .filter_map(|w| Some((engine::lookup(w.first()?)?, w.as_slice())))
                .collect();
            route::check(cl, cmds, self.asking, self.readonly)
        } else {
            route::check(cl, [(spec, &args)], self.asking, self.readonly)
        };
        let q = match verdict {
            Verdict::Here => return None,
            Verdict::Error(e) => return Some(e),
            Verdict::Keys(q) => q,
        };
        // A slot in migration: which of the keys are here decides.
        let shard = core.shared.slots.shard_of_slot(q.slot);
        let existing = core
            .ask(
                shard,
                crate::core::calls::Exists {
                    db: 0,
                    keys: q.keys.clone(),
                },
            )
            .await;
        match route::finish(cl, &q, existing as usize, self.asking, self.readonly) {
            Verdict::Error(e) => Some(e),
            _ => None,
        }
    }

    /// Cluster mode: answers the redirection (or refusal) for a command this node does not
    /// serve; true if it did.
    async fn redirected(&mut self, spec: &'static CommandSpec, args: Args<'_>) -> bool {
        let Some(err) = self.cluster_redirect(spec, args).await else {
            return false;
        };
        self.flush_if_needed().await;
        if matches!(spec.kind, Kind::Runtime(Rt::Exec)) {
            // The transaction is discarded; EXEC gets the redirection itself.
            crate::multi::end(self).await;
            self.local_output = true;
            count_rejected(&self.core, spec, args, &err);
            self.error(&err);
        } else {
            self.reject_command(spec, args, &err);
        }
        true
    }

    /// Waits out a pause (CLIENT PAUSE, a failover's); true if it waited.
    async fn wait_if_paused(&mut self, spec: &CommandSpec) -> bool {
        if self.master {
            // The master's stream is never paused (Redis pauses no replication link).
            return false;
        }
        let mut stepped_out = false;
        loop {
            let until = self.core.shared.pause_until.load(Ordering::Relaxed);
            let now = engine::shard::unix_ms();
            // A failover holds writes until the new master answers.
            let failover = spec.is_write()
                && (self.core.shared.repl.failover_paused()
                    || self
                        .core
                        .shared
                        .cluster
                        .as_ref()
                        .is_some_and(|c| c.failover_paused()));
            if (until == 0 || now >= until) && !failover {
                break;
            }
            let all = self.core.shared.pause_all.load(Ordering::Relaxed);
            if !all && !spec.is_write() {
                break;
            }
            let until = if failover { now + 10 } else { until };
            if !stepped_out {
                // Paused for long: finish what was sent and step out of the read.
                self.flush().await;
                self.leave_read();
                stepped_out = true;
            }
            reactor::sleep(std::time::Duration::from_millis((until - now).min(10))).await;
        }
        if stepped_out {
            self.enter_read().await;
        }
        stepped_out
    }

    /// Waits while a multi-shard operation (or a busy script) holds a key of this command
    /// on this core; keys of other shards wait there, if they must (whole-keyspace commands
    /// lock every shard themselves: `txn::Scope::Every`).
    async fn wait_for_keys(&self, spec: &CommandSpec, args: Args<'_>) {
        let db = self.db;
        let core = &self.core;
        let keys: Vec<&[u8]> = spec
            .key_positions(&args)
            .map(|p| args.get(p))
            .filter(|k| core.shared.shard_of(k) == core.id)
            .collect();
        self.core
            .wait_keys(|c| c.keys_free(db, keys.iter().copied()))
            .await;
    }

    async fn flush_if_needed(&mut self) {
        if self.replies.active {
            self.flush().await;
        }
    }

    pub(crate) async fn keyed(
        &mut self,
        spec: &'static CommandSpec,
        handler: Handler,
        split: Split,
        args: Args<'_>,
    ) {
        let shared = self.core.shared.clone();
        let mut positions = spec.key_positions(&args);
        let Some(first) = positions.next() else {
            // A keyed command given no key (OBJECT HELP): any shard answers.
            self.local_output = true;
            let id = self.core.id;
            self.single(id, spec, handler, args);
            return;
        };
        let shard = shared.shard_of(args.get(first));
        if split == Split::Runtime(engine::Rt::Sort)
            && shared.shards > 1
            && engine::cmd::sort::uses_patterns(args)
        {
            self.local_output = true;
            // BY/GET patterns may read keys anywhere.
            self.flush().await;
            self.split_ran = true;
            self.remember_ahead(spec, args).await;
            return crate::runtime::run(self, engine::Rt::Sort, spec, args).await;
        }
        if shared.shards == 1 || positions.all(|p| shared.shard_of(args.get(p)) == shard) {
            self.local_output |= shard == self.core.id;
            self.single(shard, spec, handler, args);
            return;
        }
        self.local_output = true;
        let positions: Vec<usize> = spec.key_positions(&args).collect();
        // Run over shards (by the runtime, gathered on a scratch shard, or in pieces): the
        // command is counted and logged whole when its dispatch ends.
        self.split_ran = !matches!(split, Split::Never);
        match split {
            Split::Never => return self.single(shard, spec, handler, args),
            Split::Runtime(rt) => {
                self.flush().await;
                self.remember_ahead(spec, args).await;
                return crate::runtime::run(self, rt, spec, args).await;
            }
            Split::Gather => {
                self.flush().await;
                self.remember_ahead(spec, args).await;
                return crate::runtime::gather(self, spec, handler, args, &positions).await;
            }
            // A bad option or ID: the error comes after the lookups of the keys before it,
            // as the whole command makes them (gathered; it copies, but only to fail).
            // Key-miss events on: they come all keys once, then all keys again, as the
            // whole command looks them up (also gathered).
            Split::PerStream
                if !engine::cmd::stream::xread_splits(args)
                    || engine::notify::recorded(self.core.settings.get().notify)
                        & engine::notify::KEY_MISS
                        != 0 =>
            {
                self.flush().await;
                self.remember_ahead(spec, args).await;
                return crate::runtime::gather(self, spec, handler, args, &positions).await;
            }
            _ => {}
        }
        if let Split::SumInt | Split::AllOk = split {
            // Key/value pairs must be whole before they are split by shard (MSET k v k).
            if !(args.len() - 1).is_multiple_of(spec.step.max(1) as usize) {
                self.flush().await;
                self.error(&format!(
                    "ERR wrong number of arguments for '{}' command",
                    spec.name
                ));
                return;
            }
        }
        if self.tx.is_some() {
            // Inside EXEC, which holds every key already: plain pieces, sent with its id.
            self.split(spec, handler, split, args, &positions, true);
            return;
        }
        // Atomic across shards (core::ShardLock): every piece goes into its shard's batch;
        // the shards lock their keys in ascending order and run their piece as they grant.
        self.flush().await;
        self.replies.active = true;
        self.split(spec, handler, split, args, &positions, false);
        let core = self.core.clone();
        let pieces: Vec<Batch> = self.replies.remote.iter_mut().map(std::mem::take).collect();
        let mut outs: Vec<Option<BatchOut>> = crate::txn::run_pieces(&core, pieces)
            .await
            .into_iter()
            .map(|r| match r {
                Some(Reply::Batch(o)) => Some(o),
                _ => None,
            })
            .collect();
        for o in outs.iter_mut().flatten() {
            crate::slowlog::log_client(self, o.take_slow());
        }
        let proto = self.proto;
        self.replies
            .assemble(outs, &mut self.out, &mut self.events, proto);
    }

    /// A read the runtime runs over several shards: its keys are remembered for a tracking
    /// client before it runs (`tracking::remember_ahead`).
    async fn remember_ahead(&self, spec: &CommandSpec, args: Args<'_>) {
        if self.track && spec.flags.has(Flags::READONLY) {
            let keys = spec.key_positions(&args).map(|p| args.get(p));
            crate::tracking::remember_ahead(self, keys).await;
        }
    }

    /// Runs the pieces of a command whose keys are on several shards.
    fn split(
        &mut self,
        spec: &'static CommandSpec,
        handler: Handler,
        split: Split,
        args: Args<'_>,
        positions: &[usize],
        local_now: bool,
    ) {
        let shared = self.core.shared.clone();
        if !matches!(split, Split::Never | Split::Runtime(_) | Split::Gather) {
            self.split_ran = true;
        }
        match split {
            // Handled by `keyed`.
            Split::Never | Split::Runtime(_) | Split::Gather => {}
            Split::PerStream => {
                let Ok(r) = engine::cmd::stream::parse_xread(args, false) else {
                    return;
                };
                self.replies.active = true;
                let count = r.count.to_string();
                let srcs = (0..r.nkeys)
                    .map(|i| {
                        let key = args.get(r.streams + i);
                        let mut words: Vec<&[u8]> = vec![args.get(0)];
                        if r.count > 0 {
                            words.extend([&b"COUNT"[..], count.as_bytes()]);
                        }
                        words.extend([&b"STREAMS"[..], key, args.get(r.streams + r.nkeys + i)]);
                        self.piece(
                            shared.shard_of(key),
                            spec,
                            handler,
                            words.into_iter(),
                            local_now,
                        )
                    })
                    .collect();
                self.replies.parts.push(Part::Streams(srcs));
            }
            Split::PerKeyArray => {
                self.replies.active = true;
                let srcs = positions
                    .iter()
                    .map(|&p| {
                        let key = args.get(p);
                        self.piece(
                            shared.shard_of(key),
                            spec,
                            handler,
                            [args.get(0), key].into_iter(),
                            local_now,
                        )
                    })
                    .collect();
                self.replies.parts.push(Part::Array(srcs));
            }
            Split::SumInt | Split::AllOk => {
                let step = spec.step.max(1) as usize;
                self.replies.active = true;
                let mut by_shard: Vec<Vec<usize>> = vec![Vec::new(); shared.shards];
                for &p in positions {
                    by_shard[shared.shard_of(args.get(p))].push(p);
                }
                let mut srcs = Vec::new();
                for (s, ps) in by_shard.iter().enumerate() {
                    if ps.is_empty() {
                        continue;
                    }
                    let words = std::iter::once(args.get(0))
                        .chain(ps.iter().flat_map(|&p| (p..p + step).map(|i| args.get(i))));
                    srcs.push(self.piece(s, spec, handler, words, local_now));
                }
                self.replies.parts.push(if split == Split::SumInt {
                    Part::Sum(srcs)
                } else {
                    Part::Ok(srcs)
                });
            }
        }
    }

    /// Runs a command whose keys are all on `shard`.
    fn single(&mut self, shard: usize, spec: &'static CommandSpec, handler: Handler, args: Args) {
        if let Some(tx) = self.tx.filter(|_| shard == self.core.id) {
            // Inside a multi-shard EXEC: this core's piece is one journal block.
            let core = self.core.clone();
            return core.in_block(Some(tx), || self.single_now(shard, spec, handler, args));
        }
        self.single_now(shard, spec, handler, args)
    }

    fn single_now(
        &mut self,
        shard: usize,
        spec: &'static CommandSpec,
        handler: Handler,
        args: Args,
    ) {
        if shard == self.core.id && !self.replies.active {
            let mut sh = self.core.shard.borrow_mut();
            sh.set_time(self.now_ms);
            sh.obey = self.master;
            sh.client = self.info.id;
            sh.reader = self.track.then(|| crate::tracking::reader(self));
            sh.execute(spec, handler, self.db, args, &mut self.out, self.proto);
            sh.obey = false;
            sh.client = 0;
            sh.reader = None;
            let ready = sh.has_ready();
            if crate::monitor::active(&self.core) {
                drop(sh);
                self.monitor_here(spec, args);
                sh = self.core.shard.borrow_mut();
            }
            let events = sh.has_events();
            drop(sh);
            if ready {
                self.core.serve_ready();
            }
            if events || ready {
                self.collect_events();
            }
            return;
        }
        let src = if shard == self.core.id {
            // Replies are waiting on other cores: run now, keep the reply in its place.
            self.run_deferred(spec, handler, args)
        } else {
            self.replies.active = true;
            let src = self.piece(shard, spec, handler, args.iter(), true);
            if let Src::Remote { shard, idx } = src {
                // A whole command, not a piece: its shard records it if slow and shows it
                // to monitors.
                self.replies.remote[shard].cmds[idx].piece = false;
                self.monitor_fed = true;
            }
            src
        };
        self.replies.parts.push(Part::Single(src));
    }

    /// Runs a command on this core while earlier replies wait on other cores: its reply is
    /// kept in its place among them, its events with its part.
    fn run_deferred(&mut self, spec: &'static CommandSpec, handler: Handler, args: Args) -> Src {
        match self.tx {
            // Inside a multi-shard EXEC: this core's piece is one journal block.
            Some(tx) => {
                let core = self.core.clone();
                core.in_block(Some(tx), || self.run_deferred_now(spec, handler, args))
            }
            None => self.run_deferred_now(spec, handler, args),
        }
    }

    fn run_deferred_now(
        &mut self,
        spec: &'static CommandSpec,
        handler: Handler,
        args: Args,
    ) -> Src {
        let mut sh = self.core.shard.borrow_mut();
        sh.set_time(self.now_ms);
        let start = self.replies.local.len();
        sh.obey = self.master;
        sh.uncounted = self.in_piece;
        sh.client = self.info.id;
        sh.reader = self.track.then(|| crate::tracking::reader(self));
        sh.execute(
            spec,
            handler,
            self.db,
            args,
            &mut self.replies.local,
            self.proto,
        );
        sh.obey = false;
        sh.uncounted = false;
        sh.client = 0;
        sh.reader = None;
        drop(sh);
        if crate::monitor::active(&self.core) {
            self.monitor_here(spec, args);
        }
        self.core.serve_ready();
        self.collect_part_events();
        Src::Local(start..self.replies.local.len())
    }

    /// Runs (locally, when `local_now`) or queues (in the shard's batch) one piece of a
    /// deferred reply.
    fn piece<'a>(
        &mut self,
        shard: usize,
        spec: &'static CommandSpec,
        handler: Handler,
        words: impl Iterator<Item = &'a [u8]>,
        local_now: bool,
    ) -> Src {
        if shard == self.core.id && local_now {
            let mut batch = Batch::default();
            batch.push(spec, handler, self.db, self.proto, words);
            self.in_piece = true;
            let src = self.run_deferred(spec, handler, Args::new(&batch.data, &batch.ranges));
            self.in_piece = false;
            src
        } else {
            let who = self.monitor_who();
            let (client, at, track) = (self.info.id, self.core.id as u16, self.track);
            let batch = &mut self.replies.remote[shard];
            batch.obey = self.master;
            batch.client = client;
            batch.client_core = at;
            if batch.who.is_none() {
                batch.who = who;
            }
            let idx = batch.push_piece(spec, handler, self.db, self.proto, words);
            batch.cmds[idx].track = track;
            Src::Remote { shard, idx }
        }
    }

    /// Sends the queued batches (one hop per shard), waits for all of them, and writes the
    /// deferred replies in order, after publishing their commands' keyspace events.
    pub async fn flush(&mut self) {
        if !self.replies.active {
            return;
        }
        self.flush_replies().await;
        if !self.events.is_empty() {
            crate::pubsub::publish_events(self).await;
        }
    }

    /// `flush` without publishing the events.
    async fn flush_replies(&mut self) {
        if !self.replies.active {
            return;
        }
        let core = self.core.clone();
        let mut pending = Vec::new();
        for s in 0..self.replies.remote.len() {
            if !self.replies.remote[s].is_empty() {
                let batch = std::mem::take(&mut self.replies.remote[s]);
                pending.push((s, core.send_tx(s, Op::Batch(batch), self.tx).await));
            }
        }
        let mut outs: Vec<Option<BatchOut>> =
            (0..self.replies.remote.len()).map(|_| None).collect();
        for (s, p) in pending {
            if let Reply::Batch(o) = p.wait().await {
                outs[s] = Some(o);
            }
        }
        for p in std::mem::take(&mut self.replies.waits) {
            let mut b = Vec::new();
            let n = p.wait().await;
            Writer::new(&mut b, self.proto).integer(n);
            self.replies.waited.push(b);
        }
        for o in outs.iter_mut().flatten() {
            crate::slowlog::log_client(self, o.take_slow());
        }
        let proto = self.proto;
        self.replies
            .assemble(outs, &mut self.out, &mut self.events, proto);
    }
}

/// Counts a command refused before it ran (INFO commandstats' rejected_calls and
/// errorstats); one whose subcommand is unknown counts only as an error, as in Redis.
fn count_rejected(core: &Core, spec: &'static CommandSpec, args: Args, msg: &str) {
    let mut shard = core.shard.borrow_mut();
    let unknown_sub =
        args.len() > 1 && engine::table::subcommand_arity(spec, args.get(1)) == Some(None);
    if unknown_sub {
        shard.cmdstats.error(msg.as_bytes());
    } else {
        let slot = engine::cmdstats::stat_index(spec, args);
        shard.cmdstats.rejected(slot, msg.as_bytes());
    }
}

/// A runtime command whose subcommand is unknown or has the wrong arity answered `reply`
/// without running: counted as Redis counts such a refusal (true), or not at all here.
fn count_rejected_subcommand(
    core: &Core,
    spec: &'static CommandSpec,
    args: Args,
    reply: &[u8],
) -> bool {
    if !matches!(spec.kind, Kind::Runtime(_)) || reply.first() != Some(&b'-') {
        return false;
    }
    if engine::table::subcommand_error(spec, args).is_none() {
        return false;
    }
    let msg = String::from_utf8_lossy(reply);
    count_rejected(core, spec, args, msg.trim_end());
    true
}
