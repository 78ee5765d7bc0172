//! The executor and the turn loop (see the crate docs for the turn).

use crate::bufring::BufRing;
use crate::net::{self, Table};
use async_task::Runnable;
use io_uring::{cqueue, opcode, squeue, types, IoUring};
use std::cell::{Cell, RefCell};
use std::collections::{BTreeMap, VecDeque};
use std::future::Future;
use std::io;
use std::os::unix::io::RawFd;
use std::pin::Pin;
use std::rc::Rc;
use std::sync::atomic::{fence, AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

pub use async_task::Task;

/// How long a turn runs tasks before it goes back to the kernel for I/O: a task that runs
/// long (a KEYS over millions of keys) calls `yield_if_needed`, which yields past this.
const TURN_BUDGET: Duration = Duration::from_micros(500);
/// How long an idle turn polls for completions before sleeping, after a turn that had some,
/// when the core serves few connections. With one connection every request would otherwise
/// cost a sleep and a wake-up (measured: 1 connection, P1, 10.5k -> 34.6k ops/s under
/// memtier); with many, requests arrive while the turn runs and a sleep collects a batch, so
/// polling only burns what sleeping saves (50 connections: 4.75 -> 5.3 us of CPU per op).
const SPIN: Duration = Duration::from_micros(50);
const SPIN_MAX_CONNS: usize = 4;
/// With more connections, how long a sleep waits for a batch of requests before it takes one
/// (50 connections, P1: 20 us gave 4.9 us of server CPU per op, 50 us 4.6-4.8, with the
/// same ops/s and p99).
const BATCH_WAIT: Duration = Duration::from_micros(50);

/// user_data layout: op in the low 8 bits, socket slot in the next 24, its generation in the
/// high 32 (a completion for a slot since reused is recognised and dropped).
pub(crate) const OP_RECV: u64 = 1;
pub(crate) const OP_SEND: u64 = 2;
pub(crate) const OP_ACCEPT: u64 = 3;
pub(crate) const OP_BELL: u64 = 4;
/// Cancellations: their own completion says nothing we need.
pub(crate) const OP_IGNORE: u64 = 5;

/// A turn-end hook: `held` says the turn's output is held (see `before_output`).
pub(crate) type TurnEnd = Box<dyn Fn(bool)>;
/// A `before_output` hook: true holds the turn's output.
type BeforeOutput = Box<dyn Fn() -> bool>;

pub(crate) fn user_data(op: u64, slot: u32, gen: u32) -> u64 {
    op | (slot as u64) << 8 | (gen as u64) << 32
}

/// Wakes a reactor that may be asleep in the kernel. Shared by every thread that sends to its
/// core; written only when the core said it is going to sleep, so a busy core costs its
/// senders nothing but an atomic swap.
pub struct Doorbell {
    fd: RawFd,
    sleeping: AtomicBool,
}

impl Doorbell {
    pub fn new() -> io::Result<Arc<Doorbell>> {
        // SAFETY: eventfd(2) with valid flags; the fd is owned by the Doorbell.
        let fd = unsafe { libc::eventfd(0, libc::EFD_NONBLOCK | libc::EFD_CLOEXEC) };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(Arc::new(Doorbell {
            fd,
            sleeping: AtomicBool::new(false),
        }))
    }

    /// Call after making work visible (a message pushed): wakes the core if it sleeps.
    pub fn ring(&self) {
        fence(Ordering::SeqCst);
        if self.sleeping.swap(false, Ordering::SeqCst) {
            let one: u64 = 1;
            // SAFETY: writes 8 bytes from a live u64 to our eventfd.
            unsafe {
                libc::write(self.fd, &one as *const u64 as *const libc::c_void, 8);
            }
        }
    }
}

impl Drop for Doorbell {
    fn drop(&mut self) {
        // SAFETY: closes the eventfd this Doorbell owns, once.
        unsafe {
            libc::close(self.fd);
        }
    }
}

/// Setup of one reactor.
pub struct Config {
    /// This core's doorbell (others hold clones to wake it).
    pub bell: Arc<Doorbell>,
    /// Submission queue entries (completions get four times as many).
    pub entries: u32,
    /// Receive buffers (a power of two) and their size.
    pub bufs: u16,
    pub buf_size: usize,
}

impl Config {
    pub fn new(bell: Arc<Doorbell>) -> Config {
        Config {
            bell,
            entries: 1024,
            bufs: 512,
            buf_size: 4 * 1024,
        }
    }
}

/// Work other threads hand to this core (a task woken from another thread).
struct Injector {
    queue: Mutex<Vec<Runnable>>,
    pending: AtomicBool,
    bell: Arc<Doorbell>,
}

pub(crate) struct Inner {
    id: usize,
    pub(crate) ring: RefCell<IoUring>,
    ready: RefCell<VecDeque<Runnable>>,
    next_turn: RefCell<Vec<Waker>>,
    injector: Arc<Injector>,
    timers: RefCell<BTreeMap<(Instant, u64), Waker>>,
    timer_seq: Cell<u64>,
    turn: Cell<u64>,
    turn_start: Cell<Instant>,
    pub(crate) net: RefCell<Table>,
    pub(crate) bufs: RefCell<BufRing>,
    bell_buf: Box<Cell<u64>>,
    /// Run at the end of every turn, before the doorbells (the meshes' outboxes).
    turn_end: RefCell<Vec<TurnEnd>>,
    /// Run once the turn's tasks are done, before any of its output leaves (sends, other
    /// cores' messages): see `before_output`.
    before_output: RefCell<Vec<BeforeOutput>>,
    /// A `before_output` hook held the turn's output until this time at the latest.
    hold_until: Cell<Option<Instant>>,
    /// This turn sent messages to other cores.
    sent_messages: Cell<bool>,

    chan_waiters: RefCell<Vec<ChanWaiter>>,
    /// The ring flags pending completion work in shared memory (TASKRUN_FLAG).
    taskrun_flag: bool,
}

/// A task waiting on a cross-core queue: woken once `check` says it has messages.
type ChanWaiter = (Box<dyn Fn() -> bool>, Waker);

static NEXT_ID: AtomicUsize = AtomicUsize::new(1);

thread_local! {
    static CURRENT: RefCell<Option<Rc<Inner>>> = const { RefCell::new(None) };
    static CURRENT_ID: Cell<usize> = const { Cell::new(0) };
}

/// Runs `f` with this thread's reactor. Panics outside one: every caller is a task or a
/// socket, which only exist inside `run`.
pub(crate) fn with<R>(f: impl FnOnce(&Rc<Inner>) -> R) -> R {
    CURRENT.with(|c| {
        let c = c.borrow();
        let inner = c.as_ref().expect("reactor call outside reactor::run");
        f(inner)
    })
}

fn build_ring(entries: u32) -> io::Result<(IoUring, &'static str)> {
    let cq = entries * 4;
    // TASKRUN_FLAG: the kernel flags pending completion work in the shared ring, so polling
    // for it costs a memory read, not a syscall.
    if let Ok(r) = IoUring::builder()
        .setup_single_issuer()
        .setup_defer_taskrun()
        .setup_taskrun_flag()
        .setup_cqsize(cq)
        .build(entries)
    {
        return Ok((r, "defer_taskrun"));
    }
    // DEFER_TASKRUN (Linux 6.1) implies everything else the reactor uses: provided-buffer
    // rings (5.19), multishot accept (5.19) and receive (6.0). Without it, no io_uring core.
    IoUring::builder()
        .setup_single_issuer()
        .setup_defer_taskrun()
        .setup_cqsize(cq)
        .build(entries)
        .map(|r| (r, "defer_taskrun_noflag"))
        .map_err(|e| {
            io::Error::new(
                e.kind(),
                format!("io_uring with DEFER_TASKRUN (Linux 6.1 or later) is not available: {e}"),
            )
        })
}

/// Makes this thread a reactor, spawns `main` on it and runs turns for ever. Returns only if
/// the ring cannot be created.
pub fn run<F>(config: Config, main: F) -> io::Result<()>
where
    F: Future<Output = ()> + 'static,
{
    let (ring, mode) = build_ring(config.entries)?;
    let bufs = BufRing::new(config.bufs, config.buf_size)?;
    // SAFETY: the ring memory stays mapped until `bufs` drops, after the ring (see Drop).
    unsafe {
        ring.submitter().register_buf_ring_with_flags(
            bufs.addr(),
            bufs.entries(),
            net::BUF_GROUP,
            0,
        )?;
    }
    let id = NEXT_ID.fetch_add(1, Ordering::Relaxed);
    let inner = Rc::new(Inner {
        id,
        ring: RefCell::new(ring),
        ready: RefCell::new(VecDeque::new()),
        next_turn: RefCell::new(Vec::new()),
        injector: Arc::new(Injector {
            queue: Mutex::new(Vec::new()),
            pending: AtomicBool::new(false),
            bell: config.bell.clone(),
        }),
        timers: RefCell::new(BTreeMap::new()),
        timer_seq: Cell::new(0),
        turn: Cell::new(0),
        turn_start: Cell::new(Instant::now()),
        net: RefCell::new(Table::default()),
        bufs: RefCell::new(bufs),
        bell_buf: Box::new(Cell::new(0)),
        turn_end: RefCell::new(Vec::new()),
        before_output: RefCell::new(Vec::new()),
        hold_until: Cell::new(None),
        sent_messages: Cell::new(false),

        chan_waiters: RefCell::new(Vec::new()),
        taskrun_flag: mode == "defer_taskrun",
    });
    CURRENT.with(|c| *c.borrow_mut() = Some(inner.clone()));
    CURRENT_ID.with(|c| c.set(id));
    tracing::debug!(mode, "reactor ring ready");
    inner.arm_bell(&config.bell);
    spawn_local(main).detach();
    inner.run_loop(&config.bell);
}

/// Spawns a task on this thread's reactor.
pub fn spawn_local<F>(future: F) -> Task<F::Output>
where
    F: Future + 'static,
    F::Output: 'static,
{
    let (owner, injector) = with(|i| (i.id, i.injector.clone()));
    let schedule = move |r: Runnable| {
        if CURRENT_ID.with(|c| c.get()) == owner {
            with(|i| i.ready.borrow_mut().push_back(r));
        } else {
            if let Ok(mut q) = injector.queue.lock() {
                q.push(r);
            }
            injector.pending.store(true, Ordering::SeqCst);
            injector.bell.ring();
        }
    };
    let (runnable, task) = async_task::spawn_local(future, schedule);
    runnable.schedule();
    task
}

/// Runs `f` at the end of every turn of this reactor, after the turn's tasks and before
/// anything they wrote leaves: replies to sockets and messages to other cores. A group
/// commit lives here: what `f` makes durable covers every reply of the turn. `f` returns
/// true to hold the turn's output (it leaves with a later turn's), after `hold_output_until`
/// said until when at the latest: the loop does not sleep past that.
pub fn before_output(f: impl Fn() -> bool + 'static) {
    with(|i| i.before_output.borrow_mut().push(Box::new(f)));
}

/// Called by a `before_output` hook that holds the output: the loop comes back by `at`.
pub fn hold_output_until(at: Instant) {
    with(|i| i.hold_until.set(Some(at)));
}

/// Sockets whose output is waiting to be sent (held, or written this turn).
pub fn held_outputs() -> usize {
    with(|i| net::held(i))
}

/// Connections active recently (that sent or received in the last activity window).
pub fn active_conns() -> usize {
    with(|i| i.net.borrow().active_conns())
}

/// Yields to the other ready tasks of this turn.
pub fn yield_now() -> impl Future<Output = ()> {
    futures_lite::future::yield_now()
}

/// Yields until the next turn: I/O completions are taken first.
pub fn yield_turn() -> YieldTurn {
    YieldTurn(false)
}

/// Yields to the next turn if this one has run tasks for longer than its budget.
pub async fn yield_if_needed() {
    let over = with(|i| i.turn_start.get().elapsed() > TURN_BUDGET);
    if over {
        yield_turn().await;
    }
}

pub struct YieldTurn(bool);

impl Future for YieldTurn {
    type Output = ();
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.0 {
            return Poll::Ready(());
        }
        self.0 = true;
        with(|i| i.next_turn.borrow_mut().push(cx.waker().clone()));
        Poll::Pending
    }
}

impl Inner {
    pub(crate) fn defer_to_next_turn(&self, w: Waker) {
        self.next_turn.borrow_mut().push(w);
    }

    pub(crate) fn current_turn(&self) -> u64 {
        self.turn.get()
    }

    pub(crate) fn now(&self) -> Instant {
        self.turn_start.get()
    }

    /// Queues a submission, submitting what is queued first if the queue is full.
    pub(crate) fn push_sqe(&self, e: squeue::Entry) {
        let mut ring = self.ring.borrow_mut();
        loop {
            // SAFETY: every entry we push points at memory that outlives the operation: a
            // socket's send buffer is kept until its completion, the bell's 8 bytes live as
            // long as the reactor, receives use the registered buffer ring.
            if unsafe { ring.submission().push(&e) }.is_ok() {
                return;
            }
            if let Err(err) = ring.submit() {
                tracing::warn!("io_uring submit: {err}");
            }
        }
    }

    pub(crate) fn add_timer(&self, at: Instant, w: Waker) -> (Instant, u64) {
        let seq = self.timer_seq.get() + 1;
        self.timer_seq.set(seq);
        self.timers.borrow_mut().insert((at, seq), w);
        (at, seq)
    }

    pub(crate) fn update_timer(&self, key: (Instant, u64), w: &Waker) {
        if let Some(old) = self.timers.borrow_mut().get_mut(&key) {
            if !old.will_wake(w) {
                *old = w.clone();
            }
        }
    }

    pub(crate) fn remove_timer(&self, key: (Instant, u64)) {
        self.timers.borrow_mut().remove(&key);
    }

    pub(crate) fn note_sent_messages(&self) {
        self.sent_messages.set(true);
    }

    /// `f(held)`: run at every turn's end; `held` says the turn's output is held.
    pub(crate) fn at_turn_end(&self, f: TurnEnd) {
        self.turn_end.borrow_mut().push(f);
    }

    pub(crate) fn wait_channel(&self, check: Box<dyn Fn() -> bool>, w: Waker) {
        self.chan_waiters.borrow_mut().push((check, w));
    }

    fn arm_bell(&self, bell: &Doorbell) {
        let e = opcode::Read::new(types::Fd(bell.fd), self.bell_buf.as_ptr() as *mut u8, 8)
            .build()
            .user_data(user_data(OP_BELL, 0, 0));
        self.push_sqe(e);
    }

    fn run_loop(self: &Rc<Self>, bell: &Arc<Doorbell>) -> ! {
        let mut cqes: Vec<(u64, i32, u32)> = Vec::with_capacity(256);
        loop {
            self.turn.set(self.turn.get() + 1);
            self.turn_start.set(Instant::now());
            self.net.borrow_mut().roll_window(self.turn_start.get());
            // 1. Completions.
            cqes.clear();
            {
                let mut ring = self.ring.borrow_mut();
                cqes.extend(
                    ring.completion()
                        .map(|c: cqueue::Entry| (c.user_data(), c.result(), c.flags())),
                );
            }
            for &(ud, res, flags) in &cqes {
                match ud & 0xff {
                    OP_BELL => self.arm_bell(bell),
                    OP_IGNORE => {}
                    _ => net::complete(self, ud, res, flags),
                }
            }
            // 2. Cross-core queues, other threads' wake-ups, timers.
            self.poll_channels();
            self.fire_timers();
            // 3. Tasks.
            self.run_ready();
            // Tasks that yielded the turn run in the next one, after its completions.
            let yielded: Vec<Waker> = std::mem::take(&mut *self.next_turn.borrow_mut());
            for w in yielded {
                w.wake();
            }
            // 4. What must precede the turn's output (an AOF's group commit), then sends,
            // cross-core messages, doorbells, and one enter. A hook may hold the output
            // (sends and messages) for a later turn.
            self.hold_until.set(None);
            let mut hold = false;
            for f in self.before_output.borrow().iter() {
                hold |= f();
            }
            net::flush(self, !hold);
            for f in self.turn_end.borrow().iter() {
                f(hold);
            }
            self.enter(bell, !cqes.is_empty());
        }
    }

    fn poll_channels(&self) {
        if self.injector.pending.swap(false, Ordering::SeqCst) {
            let taken: Vec<Runnable> = match self.injector.queue.lock() {
                Ok(mut q) => std::mem::take(&mut *q),
                Err(_) => Vec::new(),
            };
            self.ready.borrow_mut().extend(taken);
        }
        let mut woken = Vec::new();
        self.chan_waiters.borrow_mut().retain(|(check, w)| {
            if check() {
                woken.push(w.clone());
                false
            } else {
                true
            }
        });
        for w in woken {
            w.wake();
        }
    }

    fn fire_timers(&self) {
        let now = Instant::now();
        loop {
            let due = {
                let mut timers = self.timers.borrow_mut();
                match timers.first_key_value() {
                    Some((&(at, seq), _)) if at <= now => timers.remove(&(at, seq)),
                    _ => None,
                }
            };
            match due {
                Some(w) => w.wake(),
                None => break,
            }
        }
    }

    fn run_ready(&self) {
        let mut n = 0u32;
        loop {
            let next = self.ready.borrow_mut().pop_front();
            let Some(r) = next else { break };
            r.run();
            n += 1;
            if n.is_multiple_of(64) && self.turn_start.get().elapsed() > TURN_BUDGET * 4 {
                break;
            }
        }
    }

    /// Submits what the turn queued and takes completion work. With no task ready, it polls
    /// for a short while (only right after a turn that had completions) before it sleeps
    /// until something happens: on a busy server the next request is usually microseconds
    /// away, and a sleep and wake-up cost more than that.
    fn enter(&self, bell: &Doorbell, active: bool) {
        let sent_messages = self.sent_messages.replace(false);
        let busy = !self.ready.borrow().is_empty() || !self.next_turn.borrow().is_empty();
        self.enter_nowait();
        if busy || self.cq_ready() || self.has_messages() {
            return;
        }
        if active && self.net.borrow().active_conns() <= SPIN_MAX_CONNS {
            let until = Instant::now() + SPIN;
            loop {
                std::hint::spin_loop();
                if self.work_flagged() {
                    self.enter_nowait();
                    if self.cq_ready() {
                        return;
                    }
                }
                if self.has_messages() || self.timer_due() || Instant::now() >= until {
                    break;
                }
            }
            if self.has_messages() || self.timer_due() {
                return;
            }
        }
        bell.sleeping.store(true, Ordering::SeqCst);
        fence(Ordering::SeqCst);
        // Anything that arrived before the flag was seen must be taken now: a sender that
        // pushed before it rang nobody.
        if self.has_messages() {
            bell.sleeping.store(false, Ordering::SeqCst);
            return;
        }
        let next_timer = self.timers.borrow().first_key_value().map(|(k, _)| k.0);
        let next_timer = match (next_timer, self.hold_until.get()) {
            (Some(t), Some(h)) => Some(t.min(h)),
            (t, h) => t.or(h),
        };
        let ring = self.ring.borrow();
        let submitter = ring.submitter();
        // Many connections busy: sleep until several requests are in (conns/4), or
        // BATCH_WAIT has passed and one is. The kernel
        // wakes a DEFER_TASKRUN ring only when its wait count is reached, so the clients'
        // sends stop paying for waking this core one by one, and a wake-up serves a batch.
        // A quiet turn (one client among idle ones) waits for one completion, and so does a
        // turn that sent other cores messages: their replies are not kept waiting.
        let conns = self.net.borrow().active_conns();
        let batch =
            conns > SPIN_MAX_CONNS && !sent_messages && ring.params().is_feature_min_timeout();
        let want = if batch { (conns / 4).clamp(2, 32) } else { 1 };
        let min_wait = if want > 1 {
            BATCH_WAIT.as_micros() as u32
        } else {
            0
        };
        let d = next_timer
            .map(|at| at.saturating_duration_since(Instant::now()))
            .unwrap_or(Duration::from_secs(1));
        let ts = types::Timespec::new()
            .sec(d.as_secs())
            .nsec(d.subsec_nanos().max(1));
        let args = types::SubmitArgs::new()
            .timespec(&ts)
            .min_wait_usec(min_wait);
        let res = submitter.submit_with_args(want, &args);
        bell.sleeping.store(false, Ordering::SeqCst);
        if let Err(e) = res {
            match e.raw_os_error() {
                Some(libc::ETIME) | Some(libc::EINTR) | Some(libc::EBUSY) | Some(libc::EAGAIN) => {}
                _ => tracing::warn!("io_uring_enter: {e}"),
            }
        }
    }

    /// Submits what is queued and runs pending completion work, without waiting.
    fn enter_nowait(&self) {
        let ring = self.ring.borrow();
        let n = ring_sq_len(&ring);
        // SAFETY: a plain io_uring_enter with GETEVENTS and no argument.
        let res = unsafe {
            ring.submitter().enter::<libc::sigset_t>(
                n,
                0,
                io_uring::EnterFlags::GETEVENTS.bits(),
                None,
            )
        };
        if let Err(e) = res {
            match e.raw_os_error() {
                Some(libc::EINTR) | Some(libc::EBUSY) | Some(libc::EAGAIN) => {}
                _ => tracing::warn!("io_uring_enter: {e}"),
            }
        }
    }

    /// The kernel has completion work for us (TASKRUN_FLAG); true when it cannot say.
    fn work_flagged(&self) -> bool {
        let ring = self.ring.borrow();
        if !self.taskrun_flag {
            // No flag to read: enter and see.
            return true;
        }
        // SAFETY: reading the ring's flags from the thread that owns it.
        let flagged = unsafe { ring.submission_shared() }.taskrun();
        flagged
    }

    fn cq_ready(&self) -> bool {
        let ring = self.ring.borrow();
        // SAFETY: reading the completion queue's length from the thread that owns the ring.
        let empty = unsafe { ring.completion_shared() }.is_empty();
        !empty
    }

    /// Messages from other cores or tasks woken from other threads.
    fn has_messages(&self) -> bool {
        self.injector.pending.load(Ordering::SeqCst)
            || self.chan_waiters.borrow().iter().any(|(check, _)| check())
    }

    /// A timer wants the turn.
    fn timer_due(&self) -> bool {
        self.timers
            .borrow()
            .first_key_value()
            .is_some_and(|(k, _)| k.0 <= Instant::now())
    }
}

fn ring_sq_len(ring: &IoUring) -> u32 {
    // SAFETY: reading the submission queue's length from the thread that owns the ring.
    unsafe { ring.submission_shared().len() as u32 }
}
