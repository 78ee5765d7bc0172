//! Sockets on the ring. A connected socket keeps one multishot receive armed; what it
//! receives is copied to the socket's input (and the buffer given back) as the completion is
//! taken. Writes append to the socket's output and never wait: at the end of the turn every
//! socket with output gets one send, all submitted by the turn's one `io_uring_enter`. So a
//! client that writes its whole pipeline before it reads a reply is read on while its replies
//! wait; what a client may make the server hold is for the server's limits to decide
//! (`Stream::queued`).

use crate::exec::{user_data, with, Inner, OP_ACCEPT, OP_IGNORE, OP_RECV, OP_SEND};
use futures_lite::AsyncRead;
use io_uring::{cqueue, opcode, types};
use std::collections::VecDeque;
use std::io;
use std::os::unix::io::RawFd;
use std::pin::Pin;
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

pub(crate) const BUF_GROUP: u16 = 0;

/// Received bytes a socket may hold unread before its receive is paused (cancelled), and
/// the level below which it is re-armed. The server's query-buffer limit is far above this:
/// it applies to what the connection has read. What is held here is server memory (it
/// counts against maxmemory): at 4 MB, ten clients pipelining 256 KB writes while eviction
/// made them wait held 40-80 MB of unread input, and a 64 MB cache was emptied for it. The
/// rest of a client's pipeline waits in the kernel's socket buffer.
const IN_HIGH: usize = 1 << 20;
const IN_LOW: usize = 256 << 10;
/// Read bytes at the front of a socket's input past which it is compacted.
const IN_COMPACT: usize = 64 << 10;
/// The span over which connections count as active (`Table::active_conns`).
const ACTIVE_WINDOW: Duration = Duration::from_millis(1);
/// A closed socket whose last send has not finished after this long is shut down.
const CLOSE_GRACE: Duration = Duration::from_secs(10);

#[derive(Default)]
struct Sock {
    fd: RawFd,
    gen: u32,
    live: bool,
    listener: bool,
    // Receiving.
    input: Vec<u8>,
    in_off: usize,
    eof: bool,
    err: Option<i32>,
    recv_armed: bool,
    /// Receive cancelled while the input is over IN_HIGH.
    paused: bool,
    reader: Option<Waker>,
    /// `StreamRef::nudge` asked the reader to come back (`Stream::read_or_nudge`).
    nudged: bool,
    read_turn: u64,
    /// The activity window it last received in.
    window: u64,
    // Sending.
    out: Vec<u8>,
    inflight: Vec<u8>,
    sent: usize,
    sending: bool,
    dirty: bool,
    /// Its queued output may show writes this core has not made durable: a held turn
    /// (`exec::before_output`) keeps it. Output written with `write_from_durable` alone
    /// leaves even from a held turn.
    needs_sync: bool,
    // Accepting.
    accepted: VecDeque<RawFd>,
    acceptor: Option<Waker>,
    accept_armed: bool,
    accept_err: Option<i32>,
    listen_closed: bool,
    /// The handle is gone: close once the last send is done.
    dropped: Option<Instant>,
}

#[derive(Default)]
pub(crate) struct Table {
    socks: Vec<Sock>,
    free: Vec<u32>,
    dirty: Vec<u32>,
    rearm: Vec<u32>,
    closing: Vec<u32>,
    /// Connections that received something in this activity window and the last one.
    window: u64,
    window_start: Option<Instant>,
    window_active: usize,
    prev_active: usize,
}

impl Table {
    /// Connections that received requests lately (within the last one or two windows of
    /// ACTIVE_WINDOW): how many requests may come in while the core sleeps.
    pub(crate) fn active_conns(&self) -> usize {
        self.prev_active.max(self.window_active)
    }

    /// Starts a new activity window once the current one is ACTIVE_WINDOW old.
    pub(crate) fn roll_window(&mut self, now: Instant) {
        match self.window_start {
            Some(t) if now.duration_since(t) < ACTIVE_WINDOW => {}
            _ => {
                self.window_start = Some(now);
                self.prev_active = self.window_active;
                self.window_active = 0;
                self.window += 1;
            }
        }
    }

    fn insert(&mut self, fd: RawFd, listener: bool) -> (u32, u32) {
        let slot = match self.free.pop() {
            Some(s) => s,
            None => {
                self.socks.push(Sock::default());
                (self.socks.len() - 1) as u32
            }
        };
        let s = &mut self.socks[slot as usize];
        let gen = s.gen.wrapping_add(1);
        let (input, out, inflight) = (
            std::mem::take(&mut s.input),
            std::mem::take(&mut s.out),
            std::mem::take(&mut s.inflight),
        );
        *s = Sock {
            fd,
            gen,
            live: true,
            listener,
            input,
            out,
            inflight,
            ..Sock::default()
        };
        (slot, gen)
    }

    fn get(&mut self, slot: u32, gen: u32) -> Option<&mut Sock> {
        self.socks
            .get_mut(slot as usize)
            .filter(|s| s.live && s.gen == gen)
    }
}

fn sock_ud(op: u64, slot: u32, gen: u32) -> u64 {
    user_data(op, slot, gen)
}

fn arm_recv(inner: &Inner, fd: RawFd, slot: u32, gen: u32) {
    let e = opcode::RecvMulti::new(types::Fd(fd), BUF_GROUP)
        .build()
        .user_data(sock_ud(OP_RECV, slot, gen));
    inner.push_sqe(e);
}

fn arm_accept(inner: &Inner, fd: RawFd, slot: u32, gen: u32) {
    let e = opcode::AcceptMulti::new(types::Fd(fd))
        .flags(libc::SOCK_CLOEXEC | libc::SOCK_NONBLOCK)
        .build()
        .user_data(sock_ud(OP_ACCEPT, slot, gen));
    inner.push_sqe(e);
}

fn cancel(inner: &Inner, ud: u64) {
    let e = opcode::AsyncCancel::new(ud)
        .build()
        .user_data(user_data(OP_IGNORE, 0, 0));
    inner.push_sqe(e);
}

fn submit_send(inner: &Inner, s: &mut Sock, slot: u32) {
    let rest = &s.inflight[s.sent..];
    let e = opcode::Send::new(
        types::Fd(s.fd),
        rest.as_ptr(),
        rest.len().min(u32::MAX as usize) as u32,
    )
    .flags(libc::MSG_NOSIGNAL)
    .build()
    .user_data(sock_ud(OP_SEND, slot, s.gen));
    s.sending = true;
    inner.push_sqe(e);
}

/// Takes one completion for a socket.
pub(crate) fn complete(inner: &Inner, ud: u64, res: i32, flags: u32) {
    let op = ud & 0xff;
    let slot = ((ud >> 8) & 0xff_ffff) as u32;
    let gen = (ud >> 32) as u32;
    let bid = cqueue::buffer_select(flags);
    let mut table = inner.net.borrow_mut();
    let table = &mut *table;
    let Some(s) = table
        .socks
        .get_mut(slot as usize)
        .filter(|s| s.live && s.gen == gen)
    else {
        drop_late(inner, op, res, bid);
        return;
    };
    let mut wake = None;
    match op {
        OP_RECV => {
            if res > 0 && s.window != table.window {
                s.window = table.window;
                table.window_active += 1;
            }
            if res > 0 {
                if let Some(bid) = bid {
                    let mut bufs = inner.bufs.borrow_mut();
                    s.input.extend_from_slice(bufs.get(bid, res as usize));
                    bufs.recycle(bid);
                }
            } else if let Some(bid) = bid {
                inner.bufs.borrow_mut().recycle(bid);
            }
            if res == 0 {
                s.eof = true;
            } else if res < 0 && res != -libc::ENOBUFS && res != -libc::ECANCELED {
                s.err = Some(-res);
            }
            if !cqueue::more(flags) {
                s.recv_armed = false;
                if !s.eof && s.err.is_none() && !s.paused && s.dropped.is_none() {
                    table.rearm.push(slot);
                }
            } else if s.input.len() - s.in_off > IN_HIGH && !s.paused {
                // A client sending faster than it is served: stop receiving for now.
                s.paused = true;
                cancel(inner, ud);
            }
            wake = s.reader.take();
        }
        OP_SEND => {
            s.sending = false;
            if res < 0 {
                s.err = Some(-res);
                s.inflight.clear();
                s.sent = 0;
                s.out.clear();
                wake = s.reader.take();
            } else {
                s.sent += res as usize;
                if s.sent < s.inflight.len() {
                    submit_send(inner, s, slot);
                } else {
                    s.inflight.clear();
                    s.sent = 0;
                    if s.inflight.capacity() > 1 << 20 {
                        s.inflight = Vec::new();
                    }
                    if !s.out.is_empty() && !s.dirty {
                        s.dirty = true;
                        table.dirty.push(slot);
                    }
                }
            }
        }
        OP_ACCEPT => {
            if res >= 0 {
                s.accepted.push_back(res);
            } else if res == -libc::EINVAL || res == -libc::EBADF {
                // The listener was shut down (the server is stopping).
                s.listen_closed = true;
            } else if res != -libc::ECANCELED {
                // Out of fds or memory: the accepting task hears of it, waits, accepts again.
                s.accept_err = Some(-res);
            }
            if !cqueue::more(flags) {
                s.accept_armed = false;
                if s.dropped.is_none() && !s.listen_closed && s.accept_err.is_none() {
                    table.rearm.push(slot);
                }
            }
            wake = s.acceptor.take();
        }
        _ => {}
    }
    if let Some(w) = wake {
        w.wake();
    }
    try_close(table, slot);
}

/// A completion for a socket slot that has since been closed: give back its buffer, close an
/// accepted connection nobody will serve.
fn drop_late(inner: &Inner, op: u64, res: i32, bid: Option<u16>) {
    if let Some(bid) = bid {
        inner.bufs.borrow_mut().recycle(bid);
    }
    if op == OP_ACCEPT && res >= 0 {
        // SAFETY: an fd the kernel just gave us that nothing else knows.
        unsafe {
            libc::close(res);
        }
    }
}

/// Closes a dropped socket once no operation of the ring refers to its fd.
fn try_close(table: &mut Table, slot: u32) {
    let s = &mut table.socks[slot as usize];
    if !s.live || s.dropped.is_none() || s.recv_armed || s.accept_armed || s.sending {
        return;
    }
    if !s.out.is_empty() && s.err.is_none() {
        // Replies still to go (QUIT's +OK, an error before closing): send them first.
        if !s.dirty {
            s.dirty = true;
            table.dirty.push(slot);
        }
        return;
    }
    // SAFETY: the fd is ours and no submitted operation refers to it any more.
    unsafe {
        libc::close(s.fd);
    }
    for fd in s.accepted.drain(..) {
        // SAFETY: accepted fds nobody took.
        unsafe {
            libc::close(fd);
        }
    }
    s.live = false;
    s.input.clear();
    s.in_off = 0;
    s.out.clear();
    s.inflight.clear();
    if s.input.capacity() > 64 << 10 {
        s.input = Vec::new();
    }
    if s.out.capacity() > 64 << 10 {
        s.out = Vec::new();
    }
    table.free.push(slot);
}

/// Sockets whose output waits for the next flush.
pub(crate) fn held(inner: &Inner) -> usize {
    inner.net.borrow().dirty.len()
}

/// End of a turn: one send per socket with output, re-armed receives and accepts, and the
/// sockets waiting to close. When the turn's output is held (`send` false, see
/// `exec::before_output`), only sockets whose output needs no sync are sent.
pub(crate) fn flush(inner: &Inner, send: bool) {
    let mut table = inner.net.borrow_mut();
    let table = &mut *table;
    let mut dirty = std::mem::take(&mut table.dirty);
    let mut held = Vec::new();
    if !send {
        dirty.retain(|&slot| {
            let keep = !table.socks[slot as usize].needs_sync;
            if !keep {
                held.push(slot);
            }
            keep
        });
    }
    for &slot in &dirty {
        let s = &mut table.socks[slot as usize];
        s.dirty = false;
        s.needs_sync = false;
        if !s.live || s.sending || s.out.is_empty() {
            continue;
        }
        if s.err.is_some() {
            s.out.clear();
            continue;
        }
        std::mem::swap(&mut s.out, &mut s.inflight);
        s.sent = 0;
        submit_send(inner, s, slot);
    }
    table.dirty = dirty;
    table.dirty.clear();
    table.dirty.extend(held);
    for slot in std::mem::take(&mut table.rearm) {
        let s = &mut table.socks[slot as usize];
        if !s.live || s.dropped.is_some() {
            continue;
        }
        if s.listener {
            if !s.accept_armed {
                s.accept_armed = true;
                arm_accept(inner, s.fd, slot, s.gen);
            }
        } else if !s.recv_armed && !s.eof && s.err.is_none() && !s.paused {
            s.recv_armed = true;
            arm_recv(inner, s.fd, slot, s.gen);
        }
    }
    if !table.closing.is_empty() {
        let now = inner.now();
        let closing = std::mem::take(&mut table.closing);
        for slot in closing {
            let s = &mut table.socks[slot as usize];
            if !s.live || s.dropped.is_none() {
                continue;
            }
            if s.dropped
                .is_some_and(|t| now.duration_since(t) > CLOSE_GRACE)
                && s.sending
            {
                // A peer that does not read: give up on the rest.
                // SAFETY: shutdown(2) on our open socket; the pending send then completes.
                unsafe {
                    libc::shutdown(s.fd, libc::SHUT_RDWR);
                }
            }
            try_close(table, slot);
            let s = &table.socks[slot as usize];
            // Still closing (a slot freed and reused since is someone else's now).
            if s.live && s.dropped.is_some() {
                table.closing.push(slot);
            }
        }
    }
}

/// Registers `fd` and arms its multishot receive (or accept, for a listener).
fn open(fd: RawFd, listener: bool) -> (u32, u32) {
    with(|inner| {
        let mut table = inner.net.borrow_mut();
        let (slot, gen) = table.insert(fd, listener);
        let s = &mut table.socks[slot as usize];
        if listener {
            s.accept_armed = true;
            arm_accept(inner, fd, slot, gen);
        } else {
            s.recv_armed = true;
            arm_recv(inner, fd, slot, gen);
        }
        (slot, gen)
    })
}

/// The handle of a socket is gone: cancel what is armed and close once the ring no longer
/// refers to the fd (after its last send, for a connection).
fn release(slot: u32, gen: u32) {
    with(|inner| {
        let mut t = inner.net.borrow_mut();
        let t = &mut *t;
        let Some(s) = t.get(slot, gen) else {
            return;
        };
        s.dropped = Some(inner.now());
        s.reader = None;
        s.acceptor = None;
        if s.recv_armed {
            cancel(inner, sock_ud(OP_RECV, slot, gen));
        }
        if s.accept_armed {
            cancel(inner, sock_ud(OP_ACCEPT, slot, gen));
        }
        t.closing.push(slot);
        try_close(t, slot);
    })
}

/// A connected socket served by this thread's reactor.
pub struct Stream {
    slot: u32,
    gen: u32,
    fd: RawFd,
}

impl Stream {
    /// Takes ownership of a connected, non-blocking socket.
    pub fn from_fd(fd: RawFd) -> Stream {
        let (slot, gen) = open(fd, false);
        Stream { slot, gen, fd }
    }

    pub fn fd(&self) -> RawFd {
        self.fd
    }

    /// Reply bytes not yet taken by the kernel (queued plus in flight).
    pub fn queued(&self) -> usize {
        self.handle().queued()
    }

    /// A copyable reference for those who watch the socket (CLIENT LIST) without owning it.
    pub fn handle(&self) -> StreamRef {
        StreamRef {
            slot: self.slot,
            gen: self.gen,
        }
    }

    /// As `write`, taking `buf`'s bytes and leaving it empty: when nothing else is queued the
    /// buffers trade places instead of copying (a big reply moves for free).
    pub fn write_from(&self, buf: &mut Vec<u8>) -> io::Result<()> {
        self.queue(buf, true)
    }

    /// As `write_from`, for bytes that show nothing of what this core has not made durable
    /// (replies another core made and answered after its own group commit): when nothing
    /// else queued needs it, they leave even from a turn whose output is held.
    pub fn write_from_durable(&self, buf: &mut Vec<u8>) -> io::Result<()> {
        self.queue(buf, false)
    }

    fn queue(&self, buf: &mut Vec<u8>, needs_sync: bool) -> io::Result<()> {
        queue(self.slot, self.gen, buf, needs_sync)
    }

    /// Drops the output not yet handed to the kernel: a client closed for its limits gets
    /// nothing more.
    pub fn discard(&self) {
        with(|inner| {
            if let Some(s) = inner.net.borrow_mut().get(self.slot, self.gen) {
                s.out.clear();
            }
        })
    }

    /// Appends `buf` to the output: sent at the end of the turn. Fails once the connection
    /// is broken.
    pub fn write(&self, buf: &[u8]) -> io::Result<()> {
        self.write_from(&mut buf.to_vec())
    }
}

impl Drop for Stream {
    fn drop(&mut self) {
        release(self.slot, self.gen);
    }
}

impl AsyncRead for Stream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        self.poll_input(cx, buf, false)
    }
}

impl Stream {
    /// As a read, that also ends (with `ErrorKind::Interrupted`) when `StreamRef::nudge`
    /// is called: its owner has something to look at besides the socket.
    pub fn read_or_nudge<'a>(
        &'a mut self,
        buf: &'a mut [u8],
    ) -> impl std::future::Future<Output = io::Result<usize>> + 'a {
        std::future::poll_fn(move |cx| self.poll_input(cx, buf, true))
    }

    fn poll_input(
        &self,
        cx: &mut Context<'_>,
        buf: &mut [u8],
        nudgeable: bool,
    ) -> Poll<io::Result<usize>> {
        with(|inner| {
            let turn = inner.current_turn();
            let mut t = inner.net.borrow_mut();
            let t = &mut *t;
            let Some(s) = t
                .socks
                .get_mut(self.slot as usize)
                .filter(|s| s.live && s.gen == self.gen)
            else {
                return Poll::Ready(Err(io::ErrorKind::NotConnected.into()));
            };
            if nudgeable && s.nudged {
                s.nudged = false;
                return Poll::Ready(Err(io::ErrorKind::Interrupted.into()));
            }
            if s.in_off < s.input.len() {
                if s.read_turn == turn {
                    // One read per connection per turn: its replies go out with everyone
                    // else's before it reads on.
                    inner.defer_to_next_turn(cx.waker().clone());
                    return Poll::Pending;
                }
                s.read_turn = turn;
                let n = (s.input.len() - s.in_off).min(buf.len());
                buf[..n].copy_from_slice(&s.input[s.in_off..s.in_off + n]);
                s.in_off += n;
                if s.in_off == s.input.len() {
                    s.input.clear();
                    s.in_off = 0;
                    if s.input.capacity() > IN_HIGH {
                        s.input = Vec::new();
                    }
                } else if s.in_off >= IN_COMPACT && s.in_off * 2 >= s.input.len() {
                    // A client sending faster than it is read: keep only what is unread (each
                    // byte moves at most once on average), or the buffer would hold the
                    // whole stream.
                    s.input.drain(..s.in_off);
                    s.in_off = 0;
                }
                if s.paused && s.input.len() - s.in_off < IN_LOW {
                    s.paused = false;
                    if !s.recv_armed {
                        t.rearm.push(self.slot);
                    }
                }
                return Poll::Ready(Ok(n));
            }
            if let Some(e) = s.err {
                return Poll::Ready(Err(io::Error::from_raw_os_error(e)));
            }
            if s.eof {
                return Poll::Ready(Ok(0));
            }
            if buf.is_empty() {
                return Poll::Ready(Ok(0));
            }
            s.reader = Some(cx.waker().clone());
            Poll::Pending
        })
    }
}

/// A `Stream` seen from outside: its queued output, while it lives (0 after).
#[derive(Clone, Copy, Debug)]
pub struct StreamRef {
    slot: u32,
    gen: u32,
}

impl StreamRef {
    /// Wakes the stream's reader: a pending `Stream::read_or_nudge` ends with
    /// `ErrorKind::Interrupted` (the next one does, if none is pending).
    pub fn nudge(&self) {
        let waker = with(|inner| {
            let mut t = inner.net.borrow_mut();
            let s = t.get(self.slot, self.gen)?;
            s.nudged = true;
            s.reader.take()
        });
        if let Some(w) = waker {
            w.wake();
        }
    }

    /// Reply bytes not yet taken by the kernel (queued plus in flight).
    pub fn queued(&self) -> usize {
        with(|inner| {
            let mut t = inner.net.borrow_mut();
            t.get(self.slot, self.gen)
                .map(|s| s.out.len() + s.inflight.len() - s.sent)
                .unwrap_or(0)
        })
    }

    /// Appends `buf` to the stream's output from outside its owner (a timer writing to the
    /// connection): sent at the end of the turn. Fails once the connection is gone.
    pub fn write(&self, buf: &[u8]) -> io::Result<()> {
        queue(self.slot, self.gen, &mut buf.to_vec(), true)
    }
}

/// Appends to socket (slot, gen)'s output; see `Stream::write_from`.
fn queue(slot: u32, gen: u32, buf: &mut Vec<u8>, needs_sync: bool) -> io::Result<()> {
    with(|inner| {
        let mut t = inner.net.borrow_mut();
        let t = &mut *t;
        let Some(s) = t.get(slot, gen) else {
            return Err(io::ErrorKind::NotConnected.into());
        };
        if let Some(e) = s.err {
            return Err(io::Error::from_raw_os_error(e));
        }
        if s.out.is_empty() {
            std::mem::swap(&mut s.out, buf);
        } else {
            s.out.extend_from_slice(buf);
        }
        buf.clear();
        s.needs_sync |= needs_sync;
        if !s.dirty {
            s.dirty = true;
            t.dirty.push(slot);
        }
        Ok(())
    })
}

/// A listening socket served by this thread's reactor (multishot accept).
pub struct Listener {
    slot: u32,
    gen: u32,
}

impl Listener {
    /// Takes ownership of a bound, listening socket.
    pub fn from_fd(fd: RawFd) -> Listener {
        let (slot, gen) = open(fd, true);
        Listener { slot, gen }
    }

    /// The next accepted connection's fd (non-blocking, close-on-exec); `NotConnected` once
    /// the listening socket is shut down.
    pub fn accept(&self) -> Accept<'_> {
        Accept(self)
    }
}

pub struct Accept<'a>(&'a Listener);

impl std::future::Future for Accept<'_> {
    type Output = io::Result<RawFd>;
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<RawFd>> {
        let l = self.0;
        with(|inner| {
            let mut t = inner.net.borrow_mut();
            let Some(s) = t.get(l.slot, l.gen) else {
                return Poll::Ready(Err(io::ErrorKind::NotConnected.into()));
            };
            if let Some(fd) = s.accepted.pop_front() {
                return Poll::Ready(Ok(fd));
            }
            if s.listen_closed {
                return Poll::Ready(Err(io::ErrorKind::NotConnected.into()));
            }
            if let Some(e) = s.accept_err.take() {
                return Poll::Ready(Err(io::Error::from_raw_os_error(e)));
            }
            if !s.accept_armed {
                s.accept_armed = true;
                arm_accept(inner, s.fd, l.slot, l.gen);
            }
            s.acceptor = Some(cx.waker().clone());
            Poll::Pending
        })
    }
}

impl Drop for Listener {
    fn drop(&mut self) {
        release(self.slot, self.gen);
    }
}
