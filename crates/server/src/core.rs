//! One core: its shard, its clients, and its ends of the cross-core queues. Everything here
//! lives on one executor thread (`Rc`, `RefCell`), so nothing on the command path locks.
//!
//! Cross-core traffic uses two meshes of queues (`reactor::Mesh`): requests (a batch of
//! commands or a whole-shard operation) and responses. Sends never wait (the queues are
//! unbounded; what bounds them is that every sender waits for its replies): what one core
//! sends another in a turn leaves as one message at the turn's end, with one doorbell.

use crate::client::ClientInfo;
pub use crate::locks::LockKeys;
use crate::locks::LockTable;

pub mod calls;
use crate::ops::{Batch, Call, Op, Reply, Touches, Try};
use crate::shared::Shared;
use engine::Shard;
use reactor::{MeshRx, MeshTx};
use std::cell::{Cell, RefCell};
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};

pub struct Req {
    pub from: usize,
    pub token: u64,
    pub op: Op,
    /// The multi-shard operation the sender runs inside: its own held keys don't stop it.
    pub tx: Option<u64>,
}

pub struct Resp {
    pub token: u64,
    pub reply: Reply,
}

#[derive(Default)]
pub struct Counters {
    pub commands: Cell<u64>,
    pub net_in: Cell<u64>,
    pub net_out: Cell<u64>,
    pub hops: Cell<u64>,
}

pub struct Core {
    pub id: usize,
    pub shared: Arc<Shared>,
    pub shard: RefCell<Shard>,
    pub clients: RefCell<BTreeMap<u64, Rc<ClientInfo>>>,
    pub counters: Counters,
    /// This core's side of the memory meter (`memory`).
    pub mem: crate::memory::Local,
    /// The TCP sockets this core listens on, and their accept loops (`accept_tcp`: dropping
    /// a loop closes its socket).
    pub tcp_fds: RefCell<Vec<std::os::unix::io::RawFd>>,
    pub tcp_accept: RefCell<Vec<reactor::Task<()>>>,
    /// This core's clients' slow commands (`slowlog`).
    pub slowlog: RefCell<crate::slowlog::Log>,
    /// This core's MONITOR clients, and the lines waiting to go to other cores' (sent by
    /// one background task at a time: `monitor::feed`).
    pub monitors: RefCell<Vec<Rc<crate::pubsub::Mailbox>>>,
    pub monitor_out: RefCell<Vec<u8>>,
    pub monitor_sending: Cell<bool>,
    req_tx: MeshTx<Req>,
    resp_tx: MeshTx<Resp>,
    waiters: RefCell<HashMap<u64, Rc<Waiter>>>,
    next_token: Cell<u64>,
    /// The count in the next multi-shard operation's id (`new_tx`).
    next_tx: Cell<u64>,
    lock: ShardLock,
    /// Clients blocked on this shard's keys, by waiter id (the queues per key are in the
    /// shard: `Shard::block`).
    blocked: RefCell<HashMap<u64, Rc<crate::ops::BlockReg>>>,
    /// The subscriptions of this core's clients.
    pub pubsub: RefCell<crate::pubsub::Registry>,
    /// This core's BCAST tracking clients, by prefix (`tracking`).
    pub bcast: RefCell<HashMap<Vec<u8>, Vec<u64>>>,
    /// This core's own `Rc`, for work that must send from a `&self` method.
    me: RefCell<std::rc::Weak<Core>>,
    /// This core's copy of the hot configuration.
    pub settings: Cell<crate::shared::Settings>,
    /// Shard channels whose slot this shard owns: for each, the cores with subscribers and
    /// a count per core of the +1/-1 notices received (order-independent: a core's notices
    /// may arrive out of order; a core is routed to while its count is positive).
    shard_channels: RefCell<HashMap<Vec<u8>, CoreCounts>>,
    /// This shard's open AOF increment file, when the AOF is on.
    pub aof: RefCell<Option<crate::aof::Writer>>,
    /// This shard's Lua state, made by the first script that runs here.
    pub lua: RefCell<Option<script::Engine>>,
    /// This core's Lua state for functions (FCALL), loaded from `Shared::functions`.
    pub functions_lua: RefCell<Option<script::Engine>>,
    /// Functions learned to need a broad run (as `broad_scripts`).
    pub broad_functions: RefCell<std::collections::HashSet<Vec<u8>>>,
    /// When this core's script run started (Unix ms): FUNCTION STATS' duration.
    pub script_started: std::cell::Cell<u64>,
    /// Scripts seen reaching keys of other shards that they did not declare: this core runs
    /// them with every shard locked at once (`scripting`).
    pub broad_scripts: RefCell<std::collections::HashSet<[u8; 40]>>,
    /// A busy script of this shard, stopped until its next slice (`scripting`): the whole
    /// shard is held for it meanwhile.
    pub script_pause: RefCell<Option<crate::scripting::Paused>>,
    /// A replica's master client's runtime command is being polled (`Obeying`): what it
    /// sends to shards runs with `Shard::obey`, seeing keys as the master saw them.
    pub obey_ctx: std::cell::Cell<bool>,
    /// This core's end of the response mesh, for a script's synchronous calls
    /// (`call_blocking`).
    resp_rx: RefCell<Option<Rc<MeshRx<Resp>>>>,
}

/// Bits of a multi-shard operation's id that name the core running it.
const TX_CORE_BITS: u32 = 12;

/// The core that runs multi-shard operation `tx`.
pub fn tx_core(tx: u64) -> usize {
    (tx & ((1 << TX_CORE_BITS) - 1)) as usize
}

/// (core, count) pairs: see `Core::shard_channels`.
type CoreCounts = Vec<(usize, i64)>;

/// Key locks of multi-shard operations (ARCHITECTURE.md, "Atomicity"). An operation locks
/// its keys shard by shard in ascending shard order (so no two operations wait on each other
/// in a cycle), runs its piece on each shard as soon as that shard grants, and releases every
/// shard once the last one has granted (the last one runs and releases at once). While keys
/// are held, whatever else touches them waits: requests from other cores are deferred in
/// arrival order, local connections await `wait_keys`. Commands on other keys never wait.
#[derive(Default)]
struct ShardLock {
    /// Held keys and waiting lock requests (first come, first served among those that
    /// conflict): the decisions, as plain state (`locks::LockTable`).
    table: RefCell<LockTable<Grant>>,
    /// Requests from other cores that touch held keys, in arrival order.
    deferred: RefCell<VecDeque<Req>>,
    /// Local tasks waiting for held keys.
    idle: RefCell<Vec<Waker>>,
    /// Keys given a value while held: their blocked clients are served once released, so
    /// that a transaction or multi-key command is seen whole (as Redis serves them after
    /// EXEC).
    ready: RefCell<Vec<(usize, Vec<u8>)>>,
    /// A grant pass is scheduled (see `release`).
    granting: Cell<bool>,
}

enum Grant {
    /// Another core's operation: run its piece, maybe release, answer with the piece's replies.
    Remote {
        from: usize,
        token: u64,
        batch: Batch,
        release: bool,
    },
    Local(Rc<Waiter>),
}

/// A one-shot slot a connection awaits while another core answers.
#[derive(Default)]
pub struct Waiter {
    value: RefCell<Option<Reply>>,
    waker: RefCell<Option<Waker>>,
}

impl Waiter {
    /// Hands over the reply and wakes whoever awaits it.
    fn set(&self, reply: Reply) {
        *self.value.borrow_mut() = Some(reply);
        if let Some(waker) = self.waker.borrow_mut().take() {
            waker.wake();
        }
    }
}

struct Wait(Rc<Waiter>);

impl Future for Wait {
    type Output = Reply;
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Reply> {
        if let Some(v) = self.0.value.borrow_mut().take() {
            return Poll::Ready(v);
        }
        *self.0.waker.borrow_mut() = Some(cx.waker().clone());
        Poll::Pending
    }
}

/// Awaits the reply `deliver` puts in `w`.
pub async fn wait_for(w: Rc<Waiter>) -> Reply {
    Wait(w).await
}

/// A request in flight: the reply arrives later through [`Pending::wait`].
pub enum Pending {
    Ready(Reply),
    Remote(Rc<Waiter>),
}

impl Pending {
    pub async fn wait(self) -> Reply {
        match self {
            Pending::Ready(r) => r,
            Pending::Remote(w) => Wait(w).await,
        }
    }
}

/// A typed call in flight (`Core::send_call`): `wait` gives its `Out`.
pub struct Asked<T> {
    pending: Pending,
    _out: std::marker::PhantomData<fn() -> T>,
}

impl<T: 'static> Asked<T> {
    pub async fn wait(self) -> T {
        out_of(self.pending.wait().await)
    }
}

/// The `Out` inside a typed call's reply. Only the call that made the reply waits for it
/// (its token is its own), so the type always matches.
fn out_of<T: 'static>(reply: Reply) -> T {
    match reply {
        Reply::Any(b) => match b.downcast::<T>() {
            Ok(v) => *v,
            Err(_) => unreachable!("a typed call got another call's reply"),
        },
        _ => unreachable!("a typed call got an untyped reply"),
    }
}

impl Core {
    pub fn new(id: usize, shared: Arc<Shared>, req_tx: MeshTx<Req>, resp_tx: MeshTx<Resp>) -> Core {
        let databases = shared.databases();
        let mut shard = Shard::new(id, databases);
        if shared.cluster.is_some() {
            shard.set_cluster();
        }
        let settings = shared.settings();
        shard.limits = settings.limits;
        shard.save_opts = settings.save;
        shard.eviction = settings.eviction;
        shard.notify_classes = engine::notify::recorded(settings.notify);
        shard.slow_threshold = settings.slowlog_threshold;
        shard.latency_tracking = settings.latency_tracking;
        shard.latency_threshold_ms = settings.latency_threshold_ms;
        shard.tracking.max_keys = settings.tracking_max_keys;
        Core {
            settings: Cell::new(settings),
            shard_channels: RefCell::new(HashMap::new()),
            id,
            shard: RefCell::new(shard),
            shared,
            clients: RefCell::new(BTreeMap::new()),
            bcast: RefCell::new(HashMap::new()),
            counters: Counters::default(),
            mem: crate::memory::Local::new(settings.maxmemory),
            tcp_fds: RefCell::new(Vec::new()),
            tcp_accept: RefCell::new(Vec::new()),
            slowlog: RefCell::new(Default::default()),
            monitors: RefCell::new(Vec::new()),
            monitor_out: RefCell::new(Vec::new()),
            monitor_sending: Cell::new(false),
            req_tx,
            resp_tx,
            waiters: RefCell::new(HashMap::new()),
            next_token: Cell::new(1),
            next_tx: Cell::new(
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map_or(1, |d| d.as_micros() as u64),
            ),
            lock: ShardLock::default(),
            blocked: RefCell::new(HashMap::new()),
            pubsub: RefCell::new(Default::default()),
            me: RefCell::new(std::rc::Weak::new()),
            aof: RefCell::new(None),
            lua: RefCell::new(None),
            functions_lua: RefCell::new(None),
            broad_functions: RefCell::new(Default::default()),
            script_started: std::cell::Cell::new(0),
            broad_scripts: RefCell::new(Default::default()),
            script_pause: RefCell::new(None),
            obey_ctx: std::cell::Cell::new(false),
            resp_rx: RefCell::new(None),
        }
    }

    /// Records the core's own `Rc` (once, right after creating it).
    pub fn set_me(self: &Rc<Self>) {
        *self.me.borrow_mut() = Rc::downgrade(self);
    }

    pub(crate) fn rc(&self) -> Option<Rc<Core>> {
        self.me.borrow().upgrade()
    }

    pub fn new_token(&self) -> u64 {
        let token = self.next_token.get();
        self.next_token.set(token + 1);
        token
    }

    /// A slot that a reply for `token` (sent with `deliver`) will fill.
    pub fn expect(&self, token: u64) -> Rc<Waiter> {
        let w = Rc::new(Waiter::default());
        self.waiters.borrow_mut().insert(token, w.clone());
        w
    }

    pub fn forget(&self, token: u64) {
        self.waiters.borrow_mut().remove(&token);
    }

    /// Hands `reply` to whatever awaits `token` on core `to`.
    pub fn deliver(&self, to: usize, token: u64, reply: Reply) {
        if to == self.id {
            self.fill(token, reply);
        } else if let Some(me) = self.rc() {
            me.respond(to, token, reply);
        }
    }

    fn fill(&self, token: u64, reply: Reply) {
        let waiter = self.waiters.borrow_mut().remove(&token);
        if let Some(w) = waiter {
            w.set(reply);
        }
    }

    /// Serves clients blocked on keys that commands just gave a value (Redis'
    /// handleClientsBlockedOnKeys), first blocked first. Runs after every command or
    /// operation on this shard; costs one check when nothing is ready.
    pub fn serve_ready(&self) {
        if !self.shard.borrow().has_ready() {
            return;
        }
        // What the served clients run is not logged as slow (whose it was is not known
        // here); what ran before is kept for its client.
        let slow = self.shard.borrow_mut().take_slow();
        self.serve_ready_now();
        self.shard.borrow_mut().restore_slow(slow);
    }

    fn serve_ready_now(&self) {
        use engine::cmd::blocking::{servable, Fit};
        use std::sync::atomic::Ordering::SeqCst;
        loop {
            let ready = {
                let mut shard = self.shard.borrow_mut();
                if !shard.has_ready() {
                    return;
                }
                shard.take_ready()
            };
            for (db, key) in ready {
                if !self
                    .lock
                    .table
                    .borrow()
                    .free_for(db, [key.as_slice()], None)
                {
                    self.lock.ready.borrow_mut().push((db, key));
                    continue;
                }
                let mut shard = self.shard.borrow_mut();
                for id in shard.waiters(db, &key) {
                    let reg = self.blocked.borrow().get(&id).cloned();
                    let Some(reg) = reg.filter(|r| !r.claim.load(SeqCst)) else {
                        shard.unblock(db, &key, id);
                        continue;
                    };
                    match servable(&mut shard, db, &key, &reg.kind) {
                        Fit::Empty => break,
                        Fit::Unfit => continue,
                        Fit::Ready => {}
                    }
                    shard.unblock(db, &key, id);
                    let reply = self.claim_and_serve(&mut shard, db, &key, &reg);
                    if matches!(reply, crate::ops::Try::Lost) {
                        continue;
                    }
                    self.deliver(reg.core, reg.token, Reply::Block(reply));
                }
            }
        }
    }

    /// Takes a ready waiter's claim and serves it from `key`: `Lost` when someone else ended
    /// its block first; a failure is served as its error reply.
    fn claim_and_serve(
        &self,
        shard: &mut Shard,
        db: usize,
        key: &[u8],
        reg: &crate::ops::BlockReg,
    ) -> crate::ops::Try {
        use std::sync::atomic::Ordering::SeqCst;
        if reg.claim.swap(true, SeqCst) {
            return crate::ops::Try::Lost;
        }
        let dst_here = reg.dst_shard == self.id;
        let mut out = Vec::new();
        let kind = &reg.kind;
        let (moved, undo) =
            match engine::cmd::blocking::serve(shard, db, key, kind, reg.proto, &mut out, dst_here)
            {
                Ok(served) => (served.moved, served.undo),
                Err(e) => {
                    out.clear();
                    resp::Writer::new(&mut out, reg.proto).error(&e.message());
                    (None, engine::cmd::blocking::Undo::Nothing)
                }
            };
        crate::ops::Try::Served {
            reply: out,
            moved,
            undo,
            shard: self.id,
        }
    }

    /// `calls::Block`: serve the waiter now if its key can, else queue it on the key.
    fn block(&self, shard: &mut Shard, mut reg: crate::ops::BlockReg, key: Vec<u8>) -> Try {
        use engine::cmd::blocking::{servable, BlockKind, Fit};
        use std::sync::atomic::Ordering::SeqCst;
        let db = reg.db;
        if reg.claim.load(SeqCst) {
            return Try::Lost;
        }
        // XREAD's `$` means the stream's last ID as the waiter registers on it.
        if let BlockKind::XRead(w) = &mut reg.kind {
            w.resolve(shard, db, &key);
        }
        if servable(shard, db, &key, &reg.kind) == Fit::Ready {
            return self.claim_and_serve(shard, db, &key, &reg);
        }
        shard.block(db, &key, reg.id);
        let id = reg.id;
        let mut blocked = self.blocked.borrow_mut();
        match blocked.get_mut(&id) {
            // Another key of the same client on this shard: keep its `$` resolutions too.
            Some(known) => {
                if let (BlockKind::XRead(new), BlockKind::XRead(old)) = (&reg.kind, &known.kind) {
                    if new != old {
                        let mut merged = reg.kind.clone();
                        if let BlockKind::XRead(m) = &mut merged {
                            m.merge(old);
                        }
                        reg.kind = merged;
                        *known = Rc::new(reg);
                    }
                }
            }
            None => {
                blocked.insert(id, Rc::new(reg));
            }
        }
        Try::Registered
    }

    pub fn shards(&self) -> usize {
        self.shared.shards
    }

    /// Sends `op` to `shard` (or runs it here when the shard is local) without waiting, so a
    /// connection can have every shard of a batch working at once.
    pub async fn send(self: &Rc<Self>, shard: usize, op: Op) -> Pending {
        self.send_tx(shard, op, None).await
    }

    /// As `send`, for multi-shard operation `tx`, which holds the keys `op` touches.
    pub async fn send_tx(self: &Rc<Self>, shard: usize, mut op: Op, tx: Option<u64>) -> Pending {
        if self.obey_ctx.get() {
            match &mut op {
                Op::Batch(b) | Op::LockRun { batch: b, .. } | Op::Exec { batch: b, .. } => {
                    b.obey = true
                }
                Op::Call(_) | Op::Release(_) => {}
            }
        }
        if shard == self.id {
            return Pending::Ready(self.exec_in(op, tx));
        }
        let token = self.next_token.get();
        self.next_token.set(token + 1);
        let waiter = Rc::new(Waiter::default());
        self.waiters.borrow_mut().insert(token, waiter.clone());
        self.counters.hops.set(self.counters.hops.get() + 1);
        crate::memory::disown(self, op.heap_bytes());
        let req = Req {
            from: self.id,
            token,
            op,
            tx,
        };
        // Clients' commands forwarded for another core to run, and the pieces and calls of
        // multi-shard operations (invisible until released), show nothing of this core's
        // writes: they leave at once. Everything else (a release, after which others see the
        // operation and its commit; a publish of this core's events; a call outside any
        // operation) leaves with this turn's output, once that is durable.
        let early = match &req.op {
            Op::Batch(_) | Op::LockRun { .. } | Op::Exec { .. } => true,
            Op::Release(_) => false,
            // A call inside a multi-shard operation is invisible until the release.
            Op::Call(_) => req.tx.is_some(),
        };
        if early {
            self.req_tx.send_early(shard, req);
        } else {
            self.req_tx.send_to(shard, req);
        }
        Pending::Remote(waiter)
    }

    /// Sends a typed call to another core (runs it here for this one) without waiting for,
    /// or keeping, its reply: a notice (tracking's invalidations). It leaves with this turn's
    /// output.
    pub fn post<C: Call>(&self, shard: usize, call: C) {
        if shard == self.id {
            self.run_call(call);
            return;
        }
        let req = Req {
            from: self.id,
            token: self.new_token(),
            op: Op::Call(Box::new(call)),
            tx: None,
        };
        self.req_tx.send_to(shard, req);
    }

    pub async fn call(self: &Rc<Self>, shard: usize, op: Op) -> Reply {
        self.send(shard, op).await.wait().await
    }

    /// Sends a typed call to `shard` (run at once when it is this core's), inside `tx`.
    pub async fn send_call<C: Call>(
        self: &Rc<Self>,
        shard: usize,
        call: C,
        tx: Option<u64>,
    ) -> Asked<C::Out> {
        if self.obey_ctx.get() {
            return self.send_call_as_is(shard, Obeyed(call), tx).await;
        }
        self.send_call_as_is(shard, call, tx).await
    }

    /// `send_call` without looking at `obey_ctx` (a call made for a replica's master is
    /// wrapped once, then sent as it is).
    async fn send_call_as_is<C: Call>(
        self: &Rc<Self>,
        shard: usize,
        call: C,
        tx: Option<u64>,
    ) -> Asked<C::Out> {
        let pending = if shard == self.id {
            Pending::Ready(Reply::Any(Box::new(match tx {
                Some(_) => self.in_block(tx, || self.run_call(call)),
                None => self.run_call(call),
            })))
        } else {
            self.send_tx(shard, Op::Call(Box::new(call)), tx).await
        };
        Asked {
            pending,
            _out: std::marker::PhantomData,
        }
    }

    /// Runs a typed call on this core's shard now (inside `tx`, if any): `send_call` to
    /// itself without boxing the reply.
    pub fn run_here<C: Call>(&self, call: C, tx: Option<u64>) -> C::Out {
        match tx {
            Some(_) => self.in_block(tx, || self.run_call(call)),
            None => self.run_call(call),
        }
    }

    /// Runs a typed call on `shard` and returns its reply.
    pub async fn ask<C: Call>(self: &Rc<Self>, shard: usize, call: C) -> C::Out {
        self.send_call(shard, call, None).await.wait().await
    }

    /// As `ask`, from inside multi-shard operation `tx`, which holds what `call` touches.
    pub async fn ask_tx<C: Call>(
        self: &Rc<Self>,
        shard: usize,
        call: C,
        tx: Option<u64>,
    ) -> C::Out {
        self.send_call(shard, call, tx).await.wait().await
    }

    /// Runs `make(shard)` on every shard concurrently (inside `tx`, if any); replies in
    /// shard order.
    pub async fn ask_all<C: Call>(
        self: &Rc<Self>,
        make: impl Fn(usize) -> C,
        tx: Option<u64>,
    ) -> Vec<C::Out> {
        let mut pending = Vec::with_capacity(self.shards());
        for s in 0..self.shards() {
            pending.push(self.send_call(s, make(s), tx).await);
        }
        let mut out = Vec::with_capacity(pending.len());
        for p in pending {
            out.push(p.wait().await);
        }
        out
    }

    /// Runs a typed call here, then serves the clients it unblocked and publishes its
    /// events, as `exec` does for every request.
    fn run_call<C: Call>(&self, call: C) -> C::Out {
        self.shard.borrow_mut().set_time(engine::shard::unix_ms());
        let out = call.run(self);
        self.serve_ready();
        self.publish_events();
        out
    }

    /// Runs this shard's piece of multi-shard operation `tx`: its journal records form one
    /// block marked with the operation's id.
    pub fn exec_part(&self, tx: u64, batch: Batch) -> Reply {
        self.in_block(Some(tx), || self.exec(Op::Batch(batch)))
    }

    /// Runs `op`, a request sent inside multi-shard operation `tx` (if any): what it
    /// records is one journal block marked with `tx`; a one-shard EXEC is one block too.
    pub fn exec_in(&self, op: Op, tx: Option<u64>) -> Reply {
        match (&op, tx) {
            (_, Some(_)) => self.in_block(tx, || self.exec(op)),
            (Op::Exec { .. }, None) => self.in_block(None, || self.exec(op)),
            _ => self.exec(op),
        }
    }

    /// Runs `f` with what it records in one journal block (see `Journal::begin_tx`); a
    /// block that recorded something for multi-shard operation `tx` is noted for the core
    /// that runs it, which commits it (`commit`).
    pub(crate) fn in_block<R>(&self, tx: Option<u64>, f: impl FnOnce() -> R) -> R {
        let open = {
            let mut shard = self.shard.borrow_mut();
            let open = shard.journal.enabled() && !shard.journal.in_tx();
            if open {
                shard.journal.begin_tx(tx);
            }
            open
        };
        let out = f();
        if open && self.shard.borrow_mut().journal.end_tx() {
            if let Some(tx) = tx {
                self.shared.note_written(tx);
            }
        }
        out
    }

    /// Multi-shard operation `tx`, run from this core, is complete: if a piece of it was
    /// journaled anywhere, its commit goes into this shard's journal. Called before its
    /// keys are released, so nothing that saw its effects is durable before it is.
    pub fn commit(&self, tx: u64) {
        let pieces = self.shared.take_written(tx);
        if pieces > 0 {
            self.shard.borrow_mut().journal.commit(tx, pieces);
            crate::feed::commit(self, tx, pieces);
        }
    }

    /// Runs an operation on this core, then serves any clients it unblocked.
    pub fn exec(&self, op: Op) -> Reply {
        if let Op::Call(call) = op {
            return Reply::Any(self.run_call(call));
        }
        let mut reply = self.exec_op(op);
        if let Reply::Batch(out) = &mut reply {
            crate::monitor::feed(self, out.take_monitor());
        }
        self.serve_ready();
        if let Reply::Batch(out) = &mut reply {
            // Clients a batch's writes unblocked were served after its last command: their
            // events follow its own, in the same command order (not ahead of it).
            let mut shard = self.shard.borrow_mut();
            if shard.has_events() {
                let last = out.ends.len().saturating_sub(1) as u32;
                out.events
                    .extend(shard.take_events().into_iter().map(|e| (last, e)));
            }
        }
        self.publish_events();
        reply
    }

    /// Publishes keyspace events left in the shard by work that is no client's command
    /// here (batches carry theirs back to their connection in `BatchOut`).
    pub fn publish_events(&self) {
        let events = {
            let mut shard = self.shard.borrow_mut();
            if !shard.has_events() {
                return;
            }
            shard.take_events()
        };
        if let Some(core) = self.rc() {
            crate::pubsub::publish_detached(&core, events);
        }
    }

    fn exec_op(&self, op: Op) -> Reply {
        crate::memory::make_room_for_batch(self);
        let mut shard = self.shard.borrow_mut();
        shard.set_time(engine::shard::unix_ms());
        match op {
            Op::Batch(b) => Reply::Batch(b.run(&mut shard)),
            // Handled by `serve_requests` and `exec`; on its own core a lock is taken with
            // `lock_local`.
            Op::LockRun { .. } | Op::Release(_) | Op::Call(_) => Reply::Unit,
            Op::Exec { watches, batch } => {
                if watches_hold(&shard, &watches) {
                    Reply::Batch(batch.run(&mut shard))
                } else {
                    Reply::Aborted
                }
            }
        }
    }

    /// Serves requests from `peer` until the mesh closes.
    pub async fn serve_requests(self: Rc<Self>, rx: Rc<MeshRx<Req>>, peer: usize) {
        while let Some(req) = rx.recv_from(peer).await {
            crate::memory::adopt(&self, req.op.heap_bytes());
            let (from, token, tx_of_req) = (req.from, req.token, req.tx);
            let reply = match req.op {
                Op::LockRun {
                    tx,
                    keys,
                    batch,
                    release,
                } => {
                    let grant = Grant::Remote {
                        from,
                        token,
                        batch,
                        release,
                    };
                    self.lock_or_queue(tx, keys, grant);
                    continue;
                }
                Op::Release(tx) => {
                    self.release(tx);
                    Reply::Unit
                }
                op if !self.lock_allows(&op, tx_of_req) => {
                    let req = Req {
                        from,
                        token,
                        op,
                        tx: tx_of_req,
                    };
                    self.lock.deferred.borrow_mut().push_back(req);
                    continue;
                }
                op => self.exec_in(op, tx_of_req),
            };
            crate::memory::disown(&self, reply.heap_bytes());
            self.resp_tx.send_to(from, Resp { token, reply });
        }
    }

    /// Sends a response (queued at once: sends never wait).
    fn respond(self: &Rc<Self>, to_shard: usize, token: u64, reply: Reply) {
        crate::memory::disown(self, reply.heap_bytes());
        self.resp_tx.send_to(to_shard, Resp { token, reply });
    }

    /// No multi-shard operation holds any key here: the common case, one check.
    pub fn lock_idle(&self) -> bool {
        self.lock.table.borrow().is_idle()
    }

    /// Whether a script starting now may stop in the middle when it is busy: nothing holds
    /// the whole shard, so it can (`pause_shard`).
    pub fn whole_free(&self) -> bool {
        self.lock.table.borrow().whole_free()
    }

    /// A busy script stopped in the middle: the whole shard is held for `tx` until
    /// `release(tx)`, so that everything else waits (see `LockTable::seize_whole`).
    pub fn pause_shard(&self, tx: u64) {
        self.lock.table.borrow_mut().seize_whole(tx);
    }

    /// Whether `keys` of `db` are free for code outside any multi-shard operation.
    pub fn keys_free<'k>(&self, db: usize, keys: impl IntoIterator<Item = &'k [u8]>) -> bool {
        self.keys_free_for(db, keys, None)
    }

    /// Whether `key` of `db` is free for code running inside `tx` (None: outside any).
    pub fn keys_free_in(&self, db: usize, key: &[u8], tx: Option<u64>) -> bool {
        self.lock_idle() || self.keys_free_for(db, [key], tx)
    }

    /// Whether `keys` of `db` are free for code running inside `tx` (None: outside any).
    fn keys_free_for<'k>(
        &self,
        db: usize,
        keys: impl IntoIterator<Item = &'k [u8]>,
        tx: Option<u64>,
    ) -> bool {
        self.lock.table.borrow().free_for(db, keys, tx)
    }

    /// Whether a request (sent inside `tx`, if any) may run now, or must wait for held keys.
    /// Every kind of request says what it touches (typed calls through `Call::touches`, a
    /// required method; no catch-all here): a new one cannot skip the key locks.
    pub fn lock_allows(&self, op: &Op, tx: Option<u64>) -> bool {
        if self.lock_idle() {
            return true;
        }
        match op {
            Op::Call(call) => match call.touches() {
                Touches::Nothing => true,
                Touches::Keys(db, keys) => self.keys_free_for(db, keys, tx),
                Touches::Everything => self.lock.table.borrow().all_held_by(tx),
            },
            Op::Batch(b) => b.keys().all(|(db, k)| self.keys_free_for(db, [k], tx)),
            Op::Exec { watches, batch } => {
                batch.keys().all(|(db, k)| self.keys_free_for(db, [k], tx))
                    && watches
                        .iter()
                        .all(|(db, k, _)| self.keys_free_for(*db, [k.as_slice()], tx))
            }
            // Lock requests queue in the lock table itself.
            Op::LockRun { .. } | Op::Release(_) => true,
        }
    }

    /// Waits until `ready()` (checked again whenever held keys are released).
    pub async fn wait_keys(&self, mut ready: impl FnMut(&Core) -> bool) {
        std::future::poll_fn(|cx| {
            if ready(self) {
                Poll::Ready(())
            } else {
                self.lock.idle.borrow_mut().push(cx.waker().clone());
                Poll::Pending
            }
        })
        .await
    }

    fn lock_or_queue(self: &Rc<Self>, tx: u64, keys: LockKeys, grant: Grant) {
        let granted = self.lock.table.borrow_mut().request(tx, keys, grant);
        if let Some(grant) = granted {
            self.grant(tx, grant);
        }
    }

    /// Does what a granted request asked for (its keys are held now).
    fn grant(self: &Rc<Self>, tx: u64, grant: Grant) {
        match grant {
            Grant::Remote {
                from,
                token,
                batch,
                release,
            } => {
                let reply = self.exec_part(tx, batch);
                if release {
                    self.release(tx);
                }
                self.respond(from, token, reply);
            }
            Grant::Local(w) => w.set(Reply::Unit),
        }
    }

    /// A new id for a multi-shard operation started here: unique across cores (the core
    /// id is in the low `TX_CORE_BITS` bits) and across restarts (the count starts at the
    /// start's time in microseconds, and no core starts a million operations a second), so
    /// a journal's ids from an earlier run never meet a later run's.
    pub fn new_tx(&self) -> u64 {
        let n = self.next_tx.get();
        self.next_tx.set(n + 1);
        (n << TX_CORE_BITS) | self.id as u64
    }

    /// Locks `keys` of this shard for `tx`, after the operations that asked for them first.
    pub async fn lock_local(self: &Rc<Self>, tx: u64, keys: LockKeys) {
        let w = Rc::new(Waiter::default());
        self.lock_or_queue(tx, keys, Grant::Local(w.clone()));
        Wait(w).await;
    }

    /// Locks `keys` (shard, db, key) for `tx`, shard by shard in ascending order, without
    /// running anything; returns the shards locked, for `release_all`.
    pub async fn lock_keys(
        self: &Rc<Self>,
        tx: u64,
        keys: &[(usize, usize, Vec<u8>)],
    ) -> Vec<usize> {
        let mut shards: Vec<usize> = keys.iter().map(|k| k.0).collect();
        shards.sort_unstable();
        shards.dedup();
        for &s in &shards {
            let mine: LockKeys = keys
                .iter()
                .filter(|k| k.0 == s)
                .map(|k| (k.1, k.2.clone()))
                .collect();
            if s == self.id {
                self.lock_local(tx, mine).await;
            } else {
                let op = Op::LockRun {
                    tx,
                    keys: mine,
                    batch: Batch::default(),
                    release: false,
                };
                self.call(s, op).await;
            }
        }
        shards
    }

    /// Releases `tx`'s keys on `shards`.
    pub async fn release_all(self: &Rc<Self>, tx: u64, shards: &[usize]) {
        for &s in shards {
            if s == self.id {
                self.release(tx);
            } else {
                drop(self.send(s, Op::Release(tx)).await);
            }
        }
    }

    /// Releases `tx`'s keys: deferred requests that are now free run first, in arrival order,
    /// and local waiters are woken; waiting lock requests are granted after those had their
    /// turn (so nobody starves behind a stream of operations on the same keys).
    pub fn release(self: &Rc<Self>, tx: u64) {
        self.lock.table.borrow_mut().release(tx);
        let ready: Vec<(usize, Vec<u8>)> = self.lock.ready.borrow_mut().drain(..).collect();
        if !ready.is_empty() {
            {
                let mut shard = self.shard.borrow_mut();
                for (db, key) in ready {
                    shard.signal_ready(db, key);
                }
            }
            self.serve_ready();
            self.publish_events();
        }
        let pending: Vec<Req> = self.lock.deferred.borrow_mut().drain(..).collect();
        for req in pending {
            if self.lock_allows(&req.op, req.tx) {
                let reply = self.exec_in(req.op, req.tx);
                self.respond(req.from, req.token, reply);
            } else {
                self.lock.deferred.borrow_mut().push_back(req);
            }
        }
        for w in self.lock.idle.borrow_mut().drain(..) {
            w.wake();
        }
        if !self.lock.table.borrow().has_waiting() || self.lock.granting.replace(true) {
            return;
        }
        let core = self.clone();
        reactor::spawn_local(async move {
            reactor::yield_now().await;
            core.lock.granting.set(false);
            core.grant_waiting();
        })
        .detach();
    }

    /// Grants, in order, every waiting request whose keys are neither held nor wanted by an
    /// earlier waiting one.
    fn grant_waiting(self: &Rc<Self>) {
        loop {
            let next = self.lock.table.borrow_mut().grant_next();
            let Some((tx, grant)) = next else { break };
            self.grant(tx, grant);
        }
    }

    /// Runs `op` on `shard` inside multi-shard operation `tx` and waits for its reply with
    /// this core's thread, as a script's `redis.call` must (Lua cannot wait for a future).
    /// The request leaves at once; responses for others that arrive meanwhile are handed
    /// to their waiters. Safe from deadlock only because `tx` holds what `op` touches and no
    /// other core ever waits like this at the same time (only a script holding every shard
    /// does: `scripting`), so the other core answers from its own loop.
    pub fn call_blocking(&self, shard: usize, op: Op, tx: u64) -> Option<Reply> {
        let rx = self.resp_rx.borrow().clone()?;
        let token = self.new_token();
        let waiter = self.expect(token);
        self.counters.hops.set(self.counters.hops.get() + 1);
        crate::memory::disown(self, op.heap_bytes());
        let req = Req {
            from: self.id,
            token,
            op,
            tx: Some(tx),
        };
        self.req_tx.send_now(shard, req);
        let give_up = std::time::Instant::now() + std::time::Duration::from_secs(60);
        loop {
            if let Some(v) = waiter.value.borrow_mut().take() {
                return Some(v);
            }
            for peer in 0..self.shards() {
                while let Some(resp) = rx.try_recv_from(peer) {
                    crate::memory::adopt(self, resp.reply.heap_bytes());
                    self.fill(resp.token, resp.reply);
                }
            }
            if waiter.value.borrow().is_some() {
                continue;
            }
            let gone = rx
                .wait_from(shard, std::time::Duration::from_millis(100))
                .is_none();
            if gone || std::time::Instant::now() > give_up {
                self.forget(token);
                return None;
            }
        }
    }

    /// Records this core's end of the response mesh (once, at start).
    pub fn set_resp_rx(&self, rx: Rc<MeshRx<Resp>>) {
        *self.resp_rx.borrow_mut() = Some(rx);
    }

    /// Hands responses from `peer` to the connections waiting for them.
    pub async fn serve_responses(self: Rc<Self>, rx: Rc<MeshRx<Resp>>, peer: usize) {
        while let Some(resp) = rx.recv_from(peer).await {
            crate::memory::adopt(&self, resp.reply.heap_bytes());
            self.fill(resp.token, resp.reply);
        }
    }

    /// Active expiry: every 1000/hz ms, sample volatile keys and delete expired ones, within a
    /// time budget (a quarter of the period, as Redis' slow cycle), yielding between slices
    /// so a million expired keys never stall the clients of this core.
    pub async fn expire_loop(self: Rc<Self>) {
        loop {
            let hz = self
                .shared
                .hz
                .load(std::sync::atomic::Ordering::Relaxed)
                .max(1);
            let period = std::time::Duration::from_millis(1000 / hz);
            reactor::sleep(period).await;
            self.shard
                .borrow_mut()
                .rehash(std::time::Duration::from_millis(1));
            // Save points read the changes of every shard from here.
            self.shared.persist.dirty[self.id].store(
                self.shard.borrow().stats.dirty,
                std::sync::atomic::Ordering::Relaxed,
            );
            if !self
                .shared
                .active_expire
                .load(std::sync::atomic::Ordering::Relaxed)
                || self.shared.writes_paused()
            {
                self.check_idle_clients();
                continue;
            }
            let deadline = std::time::Instant::now() + period / 4;
            loop {
                if !self.lock.table.borrow().whole_free() {
                    // A busy script (or a whole-keyspace operation) holds the shard: keys
                    // do not expire under it.
                    break;
                }
                let more = {
                    let mut shard = self.shard.borrow_mut();
                    shard.set_time(engine::shard::unix_ms());
                    shard.active_expire(std::time::Duration::from_millis(1))
                };
                self.publish_events();
                if !more || std::time::Instant::now() >= deadline {
                    break;
                }
                reactor::yield_if_needed().await;
            }
            self.check_idle_clients();
        }
    }

    /// Closes clients idle for longer than `timeout` seconds (0 = never).
    fn check_idle_clients(&self) {
        let timeout = self
            .shared
            .timeout_secs
            .load(std::sync::atomic::Ordering::Relaxed);
        if timeout == 0 {
            return;
        }
        let now = engine::shard::unix_ms();
        for c in self.clients.borrow().values() {
            if now.saturating_sub(c.last_interaction.get()) > timeout * 1000 {
                c.kill();
            }
        }
    }
}

/// Whether every watched (db, key, version as WATCH answered it) is unchanged and has not
/// expired since (a key already expired when watched does not count as expiring again).
fn watches_hold(shard: &Shard, watches: &[(usize, Vec<u8>, u64)]) -> bool {
    watches.iter().all(|(db, k, v)| {
        let was_expired = v >> 63 == 1;
        shard.watch_version(*db, k) == Some(v & !(1 << 63))
            && (was_expired || !shard.is_expired(*db, k))
    })
}

/// A call made for a replica's master: it runs with `Shard::obey` (keys past their TTL on
/// this server's clock are still there for the master's commands, as in Redis).
pub struct Obeyed<C>(pub C);

impl<C: Call> Call for Obeyed<C> {
    type Out = C::Out;
    fn touches(&self) -> Touches<'_> {
        self.0.touches()
    }
    fn run(self, core: &Core) -> C::Out {
        core.shard.borrow_mut().obey = true;
        let out = self.0.run(core);
        core.shard.borrow_mut().obey = false;
        out
    }
}

/// Polls a replica's master client's runtime command with `Core::obey_ctx` set.
pub struct Obeying<'a, F> {
    pub core: &'a Core,
    pub inner: std::pin::Pin<Box<F>>,
}

impl<F: std::future::Future> std::future::Future for Obeying<'_, F> {
    type Output = F::Output;
    fn poll(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<F::Output> {
        self.core.obey_ctx.set(true);
        let out = self.inner.as_mut().poll(cx);
        self.core.obey_ctx.set(false);
        out
    }
}
