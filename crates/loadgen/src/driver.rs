//! The per-thread event loop: each thread drives its share of the connections with
//! non-blocking sockets and poll(2). Each connection is closed-loop: it sends a batch of
//! `pipeline` commands in one write, waits for all of their replies, checks each one, and only
//! then sends the next batch. A reply's latency is the time from the batch's write to the read
//! that delivered it.

use std::collections::VecDeque;
use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::os::fd::AsRawFd;
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use clap::ValueEnum;
use hdrhistogram::Histogram;

use crate::keys::{value_matches, write_key, write_value, KeyGen, Rng};
use crate::reply::{self, Reply};

/// Keys per MGET / MSET command.
pub const MULTI_KEYS: usize = 10;
/// Failure messages kept per thread, for the report.
const MAX_SAMPLES: usize = 5;
/// Read buffer: starting size and the free tail below which it is compacted or grown.
const RBUF_INIT: usize = 64 * 1024;
const RBUF_MIN_FREE: usize = 16 * 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum WorkloadKind {
    /// GET and SET mixed by --ratio
    Getset,
    /// MGET of 10 keys
    Mget,
    /// MSET of 10 keys
    Mset,
    /// INCR of one hot key (<prefix>incr)
    Incr,
    /// LPUSH and RPOP alternating on random list keys (<prefix>list:N)
    Lpushpop,
    /// SADD of a random member (of 1000) to a random set key (<prefix>set:N)
    Sadd,
    /// HSET of a random field (of 1000) in a random hash key (<prefix>hash:N)
    Hset,
    /// ZADD of a random member (of 1000) with a random score to a random key (<prefix>zset:N)
    Zadd,
    /// One publisher PUBLISHes to --subscribers subscribers of one channel (see `fanout`)
    Fanout,
}

impl WorkloadKind {
    pub fn name(self) -> &'static str {
        match self {
            WorkloadKind::Getset => "getset",
            WorkloadKind::Mget => "mget",
            WorkloadKind::Mset => "mset",
            WorkloadKind::Incr => "incr",
            WorkloadKind::Lpushpop => "lpushpop",
            WorkloadKind::Sadd => "sadd",
            WorkloadKind::Hset => "hset",
            WorkloadKind::Zadd => "zadd",
            WorkloadKind::Fanout => "fanout",
        }
    }
}

/// Everything a thread needs to know about what to send and how to check it.
#[derive(Debug, Clone)]
pub struct Spec {
    pub kind: WorkloadKind,
    pub ratio_get: u64,
    pub ratio_set: u64,
    pub keygen: KeyGen,
    pub prefix: Vec<u8>,
    pub value_size: usize,
    pub pipeline: usize,
    /// Every key was SET before the run, so a GET of a nil is a failure.
    pub preloaded: bool,
    pub duration: Option<Duration>,
    pub timeout: Duration,
    pub seed: u64,
    pub io: IoMode,
}

/// How a thread waits for its connections.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum IoMode {
    /// epoll, each ready connection served as epoll reports it: a connection sends its next
    /// request the moment its reply is in, as memtier_benchmark (libevent) and
    /// redis-benchmark (ae) drive theirs
    Epoll,
    /// poll(2) over every connection per round: each round sends the next batch of every
    /// connection that got its replies, so requests reach the server in bursts
    Poll,
}

/// What a reply must look like.
#[derive(Debug, Clone, Copy)]
enum Expect {
    Get(u64),
    Set,
    Mget([u64; MULTI_KEYS]),
    Mset,
    Incr,
    /// A new length (LPUSH).
    Length,
    /// The value of key `idx`, or nil (RPOP of a list that ran empty).
    Pop(u64),
    /// 0 or 1: added or not (SADD, HSET, ZADD).
    Added,
}

/// Checks one reply; `Err` describes a failure.
fn check(
    spec: &Spec,
    exp: &Expect,
    r: &Reply<'_>,
    last_incr: &mut Option<i64>,
) -> Result<(), String> {
    if let Reply::Error(e) = r {
        return Err(format!(
            "{exp:?}: error reply -{}",
            String::from_utf8_lossy(e)
        ));
    }
    let value_ok = |idx: u64, r: &Reply<'_>| match r {
        Reply::Nil => !spec.preloaded,
        Reply::Bulk(v) => value_matches(idx, spec.value_size, v),
        _ => false,
    };
    let ok = match exp {
        Expect::Set | Expect::Mset => *r == Reply::Simple(b"OK"),
        Expect::Get(idx) => value_ok(*idx, r),
        Expect::Mget(idxs) => match r {
            Reply::Array(a) if a.len() == MULTI_KEYS => {
                a.iter().zip(idxs).all(|(item, &idx)| value_ok(idx, &item))
            }
            _ => false,
        },
        Expect::Length => matches!(r, Reply::Integer(n) if *n >= 1),
        Expect::Pop(idx) => match r {
            Reply::Nil => true,
            Reply::Bulk(v) => value_matches(*idx, spec.value_size, v),
            _ => false,
        },
        Expect::Added => matches!(r, Reply::Integer(0 | 1)),
        Expect::Incr => match r {
            // Other connections only add, so each connection sees its counter strictly rise.
            Reply::Integer(v) => {
                let rising = last_incr.is_none_or(|last| *v > last);
                *last_incr = Some(*v);
                rising
            }
            _ => false,
        },
    };
    if ok {
        Ok(())
    } else {
        Err(format!(
            "{exp:?}: unexpected reply {} (value size {}, preloaded {})",
            show(r),
            spec.value_size,
            spec.preloaded
        ))
    }
}

/// A short human-readable rendering of a reply, for failure messages.
fn show(r: &Reply<'_>) -> String {
    fn text(b: &[u8]) -> String {
        let s = String::from_utf8_lossy(&b[..b.len().min(80)]);
        let more = if b.len() > 80 { "..." } else { "" };
        format!("{s:?}{more}")
    }
    match r {
        Reply::Simple(s) => format!("+{}", text(s)),
        Reply::Error(e) => format!("-{}", text(e)),
        Reply::Integer(i) => format!(":{i}"),
        Reply::Bulk(b) => format!("bulk({} bytes) {}", b.len(), text(b)),
        Reply::Nil => "nil".to_string(),
        Reply::NilArray => "nil array".to_string(),
        Reply::Array(a) => {
            let items: Vec<String> = a.iter().take(3).map(|i| show(&i)).collect();
            let more = if a.len() > 3 { ", ..." } else { "" };
            format!("array({}) [{}{more}]", a.len(), items.join(", "))
        }
    }
}

/// Builds requests; one per thread.
struct Gen {
    spec: Arc<Spec>,
    rng: Rng,
    keys: Vec<u8>,
    vals: Vec<u8>,
    incr_key: Vec<u8>,
}

impl Gen {
    fn new(spec: Arc<Spec>, thread: usize) -> Self {
        let mut incr_key = spec.prefix.clone();
        incr_key.extend_from_slice(b"incr");
        let seed = spec.seed ^ (thread as u64 + 1).wrapping_mul(0xA076_1D64_78BD_642F);
        Gen {
            spec,
            rng: Rng::new(seed),
            keys: Vec::new(),
            vals: Vec::new(),
            incr_key,
        }
    }

    /// Appends one command to `out` and returns what its reply must be.
    fn command(&mut self, out: &mut Vec<u8>) -> Expect {
        let spec = &*self.spec;
        self.keys.clear();
        self.vals.clear();
        match spec.kind {
            WorkloadKind::Getset => {
                let idx = spec.keygen.next(&mut self.rng);
                write_key(&spec.prefix, idx, &mut self.keys);
                let get = self.rng.below(spec.ratio_get + spec.ratio_set) < spec.ratio_get;
                if get {
                    resp::write_command(out, &[b"GET", &self.keys]);
                    Expect::Get(idx)
                } else {
                    write_value(idx, spec.value_size, &mut self.vals);
                    resp::write_command(out, &[b"SET", &self.keys, &self.vals]);
                    Expect::Set
                }
            }
            WorkloadKind::Mget | WorkloadKind::Mset => {
                let set = spec.kind == WorkloadKind::Mset;
                let mut idxs = [0u64; MULTI_KEYS];
                let mut ends = [0usize; MULTI_KEYS];
                for (i, idx) in idxs.iter_mut().enumerate() {
                    *idx = spec.keygen.next(&mut self.rng);
                    write_key(&spec.prefix, *idx, &mut self.keys);
                    ends[i] = self.keys.len();
                    if set {
                        write_value(*idx, spec.value_size, &mut self.vals);
                    }
                }
                let mut args: [&[u8]; 1 + 2 * MULTI_KEYS] = [b""; 1 + 2 * MULTI_KEYS];
                let mut n = 1;
                let mut start = 0;
                for (i, &end) in ends.iter().enumerate() {
                    args[n] = &self.keys[start..end];
                    n += 1;
                    if set {
                        let vs = spec.value_size;
                        args[n] = &self.vals[i * vs..(i + 1) * vs];
                        n += 1;
                    }
                    start = end;
                }
                if set {
                    args[0] = b"MSET";
                    resp::write_command(out, &args[..n]);
                    Expect::Mset
                } else {
                    args[0] = b"MGET";
                    resp::write_command(out, &args[..n]);
                    Expect::Mget(idxs)
                }
            }
            WorkloadKind::Incr => {
                resp::write_command(out, &[b"INCR", &self.incr_key]);
                Expect::Incr
            }
            WorkloadKind::Lpushpop => {
                let idx = spec.keygen.next(&mut self.rng);
                self.keys.extend_from_slice(&spec.prefix);
                write_key(b"list:", idx, &mut self.keys);
                if self.rng.below(2) == 0 {
                    write_value(idx, spec.value_size, &mut self.vals);
                    resp::write_command(out, &[b"LPUSH", &self.keys, &self.vals]);
                    Expect::Length
                } else {
                    resp::write_command(out, &[b"RPOP", &self.keys]);
                    Expect::Pop(idx)
                }
            }
            WorkloadKind::Fanout => unreachable!("the fanout workload runs in `fanout`"),
            WorkloadKind::Sadd | WorkloadKind::Hset | WorkloadKind::Zadd => {
                let idx = spec.keygen.next(&mut self.rng);
                let (name, kind): (&[u8], &[u8]) = match spec.kind {
                    WorkloadKind::Sadd => (b"SADD", b"set:"),
                    WorkloadKind::Hset => (b"HSET", b"hash:"),
                    _ => (b"ZADD", b"zset:"),
                };
                self.keys.extend_from_slice(&spec.prefix);
                write_key(kind, idx, &mut self.keys);
                let key_end = self.keys.len();
                write_key(b"m", self.rng.below(1000), &mut self.keys);
                let member = &self.keys[key_end..];
                let key = &self.keys[..key_end];
                match spec.kind {
                    WorkloadKind::Sadd => resp::write_command(out, &[name, key, member]),
                    WorkloadKind::Hset => {
                        write_value(idx, spec.value_size, &mut self.vals);
                        resp::write_command(out, &[name, key, member, &self.vals])
                    }
                    _ => {
                        write_key(b"", self.rng.below(1_000_000), &mut self.vals);
                        resp::write_command(out, &[name, key, &self.vals, member])
                    }
                }
                Expect::Added
            }
        }
    }
}

struct Conn {
    id: usize,
    stream: TcpStream,
    out: Vec<u8>,
    out_pos: usize,
    rbuf: Vec<u8>,
    rstart: usize,
    rend: usize,
    expects: VecDeque<Expect>,
    /// Commands this connection may still send (u64::MAX in --duration mode).
    remaining: u64,
    batch_start: Instant,
    last_progress: Instant,
    last_incr: Option<i64>,
    done: bool,
}

/// What one thread measured.
pub struct ThreadStats {
    pub hist: Histogram<u64>,
    pub ok: u64,
    pub failures: u64,
    pub samples: Vec<String>,
    pub start: Instant,
    pub end: Instant,
}

pub fn new_histogram() -> Histogram<u64> {
    // Nanoseconds, 1 ns .. 100 s, 3 significant digits.
    Histogram::new_with_bounds(1, 100_000_000_000, 3).expect("histogram bounds")
}

/// A connection handed to a thread with the number of commands it must send.
pub struct ConnPlan {
    pub id: usize,
    pub stream: TcpStream,
    pub requests: u64,
}

struct Worker {
    spec: Arc<Spec>,
    gen: Gen,
    stats: ThreadStats,
    deadline: Option<Instant>,
}

impl Worker {
    /// Sends the next batch on `c`, if it has one; marks it done otherwise.
    fn start_batch(&mut self, c: &mut Conn, now: Instant) -> io::Result<()> {
        let past_deadline = self.deadline.is_some_and(|d| now >= d);
        if c.remaining == 0 || past_deadline {
            c.done = true;
            return Ok(());
        }
        let n = (self.spec.pipeline as u64).min(c.remaining);
        c.remaining -= n;
        c.out.clear();
        c.out_pos = 0;
        for _ in 0..n {
            let e = self.gen.command(&mut c.out);
            c.expects.push_back(e);
        }
        c.batch_start = Instant::now();
        c.last_progress = c.batch_start;
        flush(c)
    }

    /// Reads what is there on `c`, checks every complete reply, and starts the next batch once
    /// the current one is fully answered.
    fn on_readable(&mut self, c: &mut Conn) -> io::Result<()> {
        if c.rbuf.len() - c.rend < RBUF_MIN_FREE {
            c.rbuf.copy_within(c.rstart..c.rend, 0);
            c.rend -= c.rstart;
            c.rstart = 0;
            if c.rbuf.len() - c.rend < RBUF_MIN_FREE {
                let len = c.rbuf.len() * 2;
                c.rbuf.resize(len, 0);
            }
        }
        let n = match c.stream.read(&mut c.rbuf[c.rend..]) {
            Ok(0) => {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    format!(
                        "connection {}: server closed the connection with {} replies pending",
                        c.id,
                        c.expects.len()
                    ),
                ))
            }
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(()),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => return Ok(()),
            Err(e) => {
                return Err(io::Error::new(
                    e.kind(),
                    format!("connection {}: {e}", c.id),
                ))
            }
        };
        c.rend += n;
        let now = Instant::now();
        c.last_progress = now;
        let lat = now.duration_since(c.batch_start).as_nanos() as u64;
        loop {
            let parsed = reply::parse(&c.rbuf[c.rstart..c.rend]).map_err(|e| {
                io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!("connection {}: {e}", c.id),
                )
            })?;
            let Some((r, used)) = parsed else { break };
            let Some(exp) = c.expects.pop_front() else {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!("connection {}: unsolicited reply {}", c.id, show(&r)),
                ));
            };
            match check(&self.spec, &exp, &r, &mut c.last_incr) {
                Ok(()) => {
                    self.stats.ok += 1;
                    self.stats.hist.saturating_record(lat.max(1));
                }
                Err(msg) => {
                    self.stats.failures += 1;
                    if self.stats.samples.len() < MAX_SAMPLES {
                        self.stats
                            .samples
                            .push(format!("connection {}: {msg}", c.id));
                    }
                }
            }
            c.rstart += used;
        }
        if c.rstart == c.rend {
            c.rstart = 0;
            c.rend = 0;
        }
        if c.expects.is_empty() {
            if c.rend != 0 {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!("connection {}: bytes after the last expected reply", c.id),
                ));
            }
            self.start_batch(c, now)?;
        }
        Ok(())
    }
}

/// Writes as much of the pending batch as the socket takes.
fn flush(c: &mut Conn) -> io::Result<()> {
    while c.out_pos < c.out.len() {
        match c.stream.write(&c.out[c.out_pos..]) {
            Ok(n) => c.out_pos += n,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(()),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => {
                return Err(io::Error::new(
                    e.kind(),
                    format!("connection {}: {e}", c.id),
                ))
            }
        }
    }
    Ok(())
}

/// Runs one thread's connections to completion. All threads start together at `barrier`.
pub fn run_thread(
    spec: Arc<Spec>,
    thread: usize,
    plans: Vec<ConnPlan>,
    barrier: Arc<Barrier>,
) -> io::Result<ThreadStats> {
    let now = Instant::now();
    let mut conns: Vec<Conn> = Vec::with_capacity(plans.len());
    for p in plans {
        p.stream.set_nonblocking(true)?;
        conns.push(Conn {
            id: p.id,
            stream: p.stream,
            out: Vec::with_capacity(1024),
            out_pos: 0,
            rbuf: vec![0; RBUF_INIT],
            rstart: 0,
            rend: 0,
            expects: VecDeque::with_capacity(spec.pipeline),
            remaining: p.requests,
            batch_start: now,
            last_progress: now,
            last_incr: None,
            done: false,
        });
    }
    let mut w = Worker {
        gen: Gen::new(spec.clone(), thread),
        stats: ThreadStats {
            hist: new_histogram(),
            ok: 0,
            failures: 0,
            samples: Vec::new(),
            start: now,
            end: now,
        },
        deadline: None,
        spec: spec.clone(),
    };
    barrier.wait();
    let start = Instant::now();
    w.stats.start = start;
    w.deadline = spec.duration.map(|d| start + d);
    for c in conns.iter_mut() {
        w.start_batch(c, start)?;
    }
    match spec.io {
        IoMode::Poll => poll_loop(&spec, &mut w, &mut conns)?,
        IoMode::Epoll => epoll_loop(&spec, &mut w, &mut conns)?,
    }
    w.stats.end = Instant::now();
    Ok(w.stats)
}

/// Fails a connection that has waited longer than the timeout for a reply.
fn check_stalls(spec: &Spec, conns: &[Conn], now: Instant) -> io::Result<()> {
    for c in conns.iter().filter(|c| !c.done) {
        let idle = now.duration_since(c.last_progress);
        if idle >= spec.timeout {
            return Err(io::Error::new(
                io::ErrorKind::TimedOut,
                format!(
                    "connection {}: no reply for {:.1} s ({} replies pending)",
                    c.id,
                    idle.as_secs_f64(),
                    c.expects.len()
                ),
            ));
        }
    }
    Ok(())
}

/// Waits with poll(2) over every connection, serving each round's ready ones.
fn poll_loop(spec: &Spec, w: &mut Worker, conns: &mut [Conn]) -> io::Result<()> {
    let mut fds: Vec<libc::pollfd> = conns
        .iter()
        .map(|c| libc::pollfd {
            fd: c.stream.as_raw_fd(),
            events: 0,
            revents: 0,
        })
        .collect();
    let start = Instant::now();
    let mut last_check = start;
    loop {
        let mut active = 0;
        for (c, f) in conns.iter().zip(fds.iter_mut()) {
            f.revents = 0;
            if c.done {
                f.fd = -1; // poll ignores negative fds
            } else {
                active += 1;
                f.events = libc::POLLIN;
                if c.out_pos < c.out.len() {
                    f.events |= libc::POLLOUT;
                }
            }
        }
        if active == 0 {
            break;
        }
        // SAFETY: `fds` is a valid, exclusively borrowed array of `fds.len()` pollfds.
        let rc = unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, 250) };
        if rc < 0 {
            let e = io::Error::last_os_error();
            if e.kind() == io::ErrorKind::Interrupted {
                continue;
            }
            return Err(e);
        }
        if rc > 0 {
            for (c, f) in conns.iter_mut().zip(fds.iter()) {
                if f.revents == 0 || c.done {
                    continue;
                }
                if f.revents & libc::POLLNVAL != 0 {
                    return Err(io::Error::other(format!("connection {}: POLLNVAL", c.id)));
                }
                if f.revents & libc::POLLOUT != 0 {
                    flush(c)?;
                }
                if f.revents & (libc::POLLIN | libc::POLLERR | libc::POLLHUP) != 0 {
                    w.on_readable(c)?;
                }
            }
        }
        let now = Instant::now();
        if now.duration_since(last_check) >= Duration::from_millis(250) {
            last_check = now;
            check_stalls(spec, conns, now)?;
        }
    }
    Ok(())
}

/// Waits with epoll, serving each connection as it becomes ready (memtier's pattern).
fn epoll_loop(spec: &Spec, w: &mut Worker, conns: &mut [Conn]) -> io::Result<()> {
    // SAFETY: epoll_create1 with a valid flag; the fd is closed below.
    let ep = unsafe { libc::epoll_create1(libc::EPOLL_CLOEXEC) };
    if ep < 0 {
        return Err(io::Error::last_os_error());
    }
    let ctl = |op: i32, i: usize, c: &Conn| {
        let mut ev = libc::epoll_event {
            events: (libc::EPOLLIN
                | if c.out_pos < c.out.len() {
                    libc::EPOLLOUT
                } else {
                    0
                }) as u32,
            u64: i as u64,
        };
        // SAFETY: epoll_ctl on our epoll fd with a live event struct.
        unsafe { libc::epoll_ctl(ep, op, c.stream.as_raw_fd(), &mut ev) };
    };
    let mut watching_out: Vec<bool> = conns.iter().map(|c| c.out_pos < c.out.len()).collect();
    let mut active = 0usize;
    for (i, c) in conns.iter().enumerate() {
        if !c.done {
            ctl(libc::EPOLL_CTL_ADD, i, c);
            active += 1;
        }
    }
    let mut events = vec![libc::epoll_event { events: 0, u64: 0 }; 64];
    let mut last_check = Instant::now();
    let result = (|| {
        while active > 0 {
            // SAFETY: `events` is a valid array of 64 epoll_events.
            let n = unsafe { libc::epoll_wait(ep, events.as_mut_ptr(), 64, 250) };
            if n < 0 {
                let e = io::Error::last_os_error();
                if e.kind() == io::ErrorKind::Interrupted {
                    continue;
                }
                return Err(e);
            }
            for ev in &events[..n as usize] {
                let i = ev.u64 as usize;
                let c = &mut conns[i];
                if c.done {
                    continue;
                }
                let flags = ev.events as i32;
                if flags & libc::EPOLLOUT != 0 {
                    flush(c)?;
                }
                if flags & (libc::EPOLLIN | libc::EPOLLERR | libc::EPOLLHUP) != 0 {
                    w.on_readable(c)?;
                }
                if c.done {
                    ctl(libc::EPOLL_CTL_DEL, i, c);
                    active -= 1;
                } else if watching_out[i] != (c.out_pos < c.out.len()) {
                    watching_out[i] = c.out_pos < c.out.len();
                    ctl(libc::EPOLL_CTL_MOD, i, c);
                }
            }
            let now = Instant::now();
            if now.duration_since(last_check) >= Duration::from_millis(250) {
                last_check = now;
                // Past the deadline a connection waiting for nothing ends here.
                for (i, c) in conns.iter_mut().enumerate() {
                    if !c.done && c.expects.is_empty() && w.deadline.is_some_and(|d| now >= d) {
                        c.done = true;
                        ctl(libc::EPOLL_CTL_DEL, i, c);
                        active -= 1;
                    }
                }
                check_stalls(spec, conns, now)?;
            }
        }
        Ok(())
    })();
    // SAFETY: closes the epoll fd created above, once.
    unsafe { libc::close(ep) };
    result
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::KeyPattern;

    fn spec(kind: WorkloadKind, preloaded: bool) -> Spec {
        Spec {
            kind,
            ratio_get: 1,
            ratio_set: 1,
            keygen: KeyGen::new(KeyPattern::Uniform, 50),
            prefix: b"k:".to_vec(),
            value_size: 20,
            pipeline: 1,
            preloaded,
            duration: None,
            timeout: Duration::from_secs(10),
            seed: 3,
            io: IoMode::Epoll,
        }
    }

    #[test]
    fn checks_replies() {
        let s = spec(WorkloadKind::Getset, false);
        let mut li = None;
        let mut v = Vec::new();
        write_value(7, 20, &mut v);
        assert!(check(&s, &Expect::Get(7), &Reply::Bulk(&v), &mut li).is_ok());
        assert!(check(&s, &Expect::Get(8), &Reply::Bulk(&v), &mut li).is_err());
        assert!(check(&s, &Expect::Get(7), &Reply::Nil, &mut li).is_ok());
        assert!(check(&s, &Expect::Get(7), &Reply::Error(b"ERR"), &mut li).is_err());
        assert!(check(&s, &Expect::Set, &Reply::Simple(b"OK"), &mut li).is_ok());
        assert!(check(&s, &Expect::Set, &Reply::Simple(b"QUEUED"), &mut li).is_err());
        let pre = spec(WorkloadKind::Getset, true);
        assert!(check(&pre, &Expect::Get(7), &Reply::Nil, &mut li).is_err());
        assert!(check(&s, &Expect::Incr, &Reply::Integer(5), &mut li).is_ok());
        assert!(check(&s, &Expect::Incr, &Reply::Integer(9), &mut li).is_ok());
        assert!(check(&s, &Expect::Incr, &Reply::Integer(9), &mut li).is_err());
        assert!(check(&s, &Expect::Incr, &Reply::Bulk(b"10"), &mut li).is_err());
    }

    #[test]
    fn generated_commands_parse_and_mget_checks() {
        let s = Arc::new(spec(WorkloadKind::Mget, false));
        let mut g = Gen::new(s.clone(), 0);
        let mut out = Vec::new();
        let Expect::Mget(idxs) = g.command(&mut out) else {
            panic!()
        };
        // The request is itself a RESP array of bulk strings: MGET + 10 keys.
        let (Reply::Array(a), used) = reply::parse(&out).unwrap().unwrap() else {
            panic!()
        };
        assert_eq!(used, out.len());
        let items: Vec<_> = a.iter().collect();
        assert_eq!(items[0], Reply::Bulk(b"MGET"));
        for (item, idx) in items[1..].iter().zip(idxs) {
            assert_eq!(*item, Reply::Bulk(format!("k:{idx}").as_bytes()));
        }
        // A well-formed MGET reply with values or nils passes; a short or wrong one fails.
        let mut rep = format!("*{MULTI_KEYS}\r\n").into_bytes();
        for (i, idx) in idxs.iter().enumerate() {
            if i % 2 == 0 {
                rep.extend_from_slice(b"$-1\r\n");
            } else {
                let mut v = Vec::new();
                write_value(*idx, 20, &mut v);
                rep.extend_from_slice(b"$20\r\n");
                rep.extend_from_slice(&v);
                rep.extend_from_slice(b"\r\n");
            }
        }
        let (r, _) = reply::parse(&rep).unwrap().unwrap();
        let mut li = None;
        assert!(check(&s, &Expect::Mget(idxs), &r, &mut li).is_ok());
        let mut other = idxs;
        other[1] = other[1].wrapping_add(1);
        if other[1] != idxs[1] {
            assert!(check(&s, &Expect::Mget(other), &r, &mut li).is_err());
        }
        let (short, _) = reply::parse(b"*1\r\n$-1\r\n").unwrap().unwrap();
        assert!(check(&s, &Expect::Mget(idxs), &short, &mut li).is_err());

        let ms = Arc::new(spec(WorkloadKind::Mset, false));
        let mut g = Gen::new(ms, 0);
        out.clear();
        assert!(matches!(g.command(&mut out), Expect::Mset));
        let (Reply::Array(a), _) = reply::parse(&out).unwrap().unwrap() else {
            panic!()
        };
        assert_eq!(a.len(), 1 + 2 * MULTI_KEYS);
        let items: Vec<_> = a.iter().collect();
        let Reply::Bulk(k) = items[1] else { panic!() };
        let idx: u64 = std::str::from_utf8(&k[2..]).unwrap().parse().unwrap();
        let Reply::Bulk(v) = items[2] else { panic!() };
        assert!(value_matches(idx, 20, v));
    }
}
