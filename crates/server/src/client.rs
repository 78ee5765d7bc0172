//! What a core knows about each of its clients, for CLIENT LIST/INFO/KILL and idle timeouts.
//! The connection task owns the socket; this record is shared with the core's registry.

use crate::ops::KillFilter;
use std::cell::{Cell, RefCell};
use std::os::unix::io::RawFd;

pub struct ClientInfo {
    pub id: u64,
    pub addr: String,
    pub laddr: String,
    pub fd: RawFd,
    /// Connected over the unix socket (CLIENT LIST flag U).
    pub unix: bool,
    pub created_ms: u64,
    pub name: RefCell<String>,
    pub db: Cell<usize>,
    pub resp: Cell<u8>,
    pub last_interaction: Cell<u64>,
    /// The last command's name, `container|sub` for commands with subcommands, as Redis
    /// shows it in CLIENT LIST's `cmd=`. Reused in place, so setting it rarely allocates.
    pub last_cmd: RefCell<String>,
    /// Connected over loopback (or the unix socket): enable-debug-command `local` allows it.
    pub local: bool,
    pub qbuf: Cell<usize>,
    /// Pub/Sub messages waiting in the client's mailbox, in bytes.
    pub obuf: Cell<usize>,
    /// The client's socket, for the replies it has queued.
    pub stream: Cell<Option<reactor::StreamRef>>,
    pub no_evict: Cell<bool>,
    pub killed: Cell<bool>,
    /// The master's link on a replica (CLIENT LIST flag M, type master).
    pub master: Cell<bool>,
    /// A replica of this server (flag S, type replica).
    pub replica: Cell<bool>,
    /// A MONITOR client (flag `O`).
    pub monitor: Cell<bool>,
    pub authenticated: Cell<bool>,
    /// While blocked (BLPOP & co): the token its reply comes through and the claim that
    /// decides who ends the block (CLIENT UNBLOCK takes it).
    pub blocked: RefCell<Option<(u64, std::sync::Arc<std::sync::atomic::AtomicBool>)>>,
    /// Subscriptions: channels, patterns, shard channels (CLIENT LIST sub/psub/ssub).
    pub subs: Cell<(usize, usize, usize)>,
    /// Commands queued in its transaction (-1: not in MULTI), CLIENT LIST's multi=.
    pub multi: Cell<i64>,
    /// Client-side caching (CLIENT TRACKING): `tracking::ON` and the other mode bits.
    pub tracking: Cell<u8>,
    /// Where its invalidations go instead (REDIRECT): the client's id (0: nowhere else)
    /// and the core it is on.
    pub redirect: Cell<(u64, usize)>,
    /// Its BCAST prefixes, in the order given.
    pub prefixes: RefCell<Vec<Vec<u8>>>,
    /// What reaches the client from outside its connection (messages, invalidations): the
    /// connection's mailbox, or one made by whoever delivers first (the connection takes
    /// it up when nudged). Cleared when the connection ends.
    pub inbox: RefCell<Option<std::rc::Rc<crate::pubsub::Mailbox>>>,
}

impl ClientInfo {
    pub fn new(
        id: u64,
        addr: String,
        laddr: String,
        fd: RawFd,
        local: bool,
        unix: bool,
    ) -> ClientInfo {
        let now = engine::shard::unix_ms();
        ClientInfo {
            id,
            addr,
            laddr,
            fd,
            unix,
            created_ms: now,
            name: RefCell::new(String::new()),
            db: Cell::new(0),
            resp: Cell::new(2),
            last_interaction: Cell::new(now),
            last_cmd: RefCell::new("NULL".to_string()),
            local,
            qbuf: Cell::new(0),
            obuf: Cell::new(0),
            stream: Cell::new(None),
            no_evict: Cell::new(false),
            killed: Cell::new(false),
            master: Cell::new(false),
            replica: Cell::new(false),
            monitor: Cell::new(false),
            authenticated: Cell::new(false),
            blocked: RefCell::new(None),
            subs: Cell::new((0, 0, 0)),
            multi: Cell::new(-1),
            tracking: Cell::new(0),
            redirect: Cell::new((0, 0)),
            prefixes: RefCell::new(Vec::new()),
            inbox: RefCell::new(None),
        }
    }

    /// One line of CLIENT LIST, with Redis 7.0's fields in Redis' order.
    pub fn describe(&self) -> String {
        let now = engine::shard::unix_ms();
        let age = now.saturating_sub(self.created_ms) / 1000;
        let idle = now.saturating_sub(self.last_interaction.get()) / 1000;
        let mut flags = String::new();
        // In Redis' order (catClientInfoString).
        if self.monitor.get() {
            flags.push('O');
        } else if self.replica.get() {
            flags.push('S');
        }
        if self.master.get() {
            flags.push('M');
        }
        let (sub, psub, ssub) = self.subs.get();
        if sub + psub + ssub > 0 {
            flags.push('P');
        }
        if self.multi.get() >= 0 {
            flags.push('x');
        }
        if self.blocked.borrow().is_some() {
            flags.push('b');
        }
        let t = self.tracking.get();
        if t & crate::tracking::ON != 0 {
            flags.push('t');
        }
        if t & crate::tracking::BROKEN != 0 {
            flags.push('R');
        }
        if t & crate::tracking::BCAST != 0 {
            flags.push('B');
        }
        if self.unix {
            flags.push('U');
        }
        if self.no_evict.get() {
            flags.push('e');
        }
        if flags.is_empty() {
            flags.push('N');
        }
        format!(
            "id={} addr={} laddr={} fd={} name={} age={} idle={} flags={} db={} sub={} psub={} ssub={} multi={} qbuf={} qbuf-free=0 argv-mem=0 multi-mem=0 rbs=16384 rbp=0 obl=0 oll=0 omem={} tot-mem={} events=r cmd={} user=default redir={} resp={}",
            self.id,
            self.addr,
            self.laddr,
            self.fd,
            self.name.borrow(),
            age,
            idle,
            flags,
            self.db.get(),
            sub,
            psub,
            ssub,
            self.multi.get(),
            self.qbuf.get(),
            self.output_len(),
            self.memory(),
            self.last_cmd.borrow(),
            if t & crate::tracking::ON != 0 {
                self.redirect.get().0 as i64
            } else {
                -1
            },
            self.resp.get(),
        )
    }

    /// What the client costs, as CLIENT LIST's tot-mem shows it: its read buffer, what it
    /// has sent and not yet run, and its output.
    pub fn memory(&self) -> u64 {
        (16384 + self.qbuf.get() + self.output_len()) as u64
    }

    /// Output waiting for the client: queued replies and mailbox messages, in bytes.
    pub fn output_len(&self) -> usize {
        self.obuf.get() + self.stream.get().map_or(0, |s| s.queued())
    }

    /// Records the command about to run; `sub` is its first argument (empty if none).
    pub fn set_last_cmd(&self, name: &str, sub: &[u8], argc: usize) {
        /// Redis 7.0 commands whose first argument names a subcommand.
        const CONTAINERS: &[&str] = &[
            "acl", "client", "cluster", "command", "config", "function", "latency", "memory",
            "module", "object", "pubsub", "script", "slowlog", "xgroup", "xinfo",
        ];
        let mut last = self.last_cmd.borrow_mut();
        last.clear();
        last.push_str(name);
        if argc >= 2 && CONTAINERS.contains(&name) {
            last.push('|');
            // Bounded: it is client data, shown on every CLIENT LIST line.
            for &b in sub.iter().take(32) {
                last.push(if b.is_ascii_graphic() {
                    b.to_ascii_lowercase() as char
                } else {
                    '?'
                });
            }
        }
    }

    pub fn matches(&self, f: &KillFilter) -> bool {
        if f.skip == Some(self.id) {
            return false;
        }
        f.id.is_none_or(|id| id == self.id)
            && f.addr.as_ref().is_none_or(|a| *a == self.addr)
            && f.laddr.as_ref().is_none_or(|a| *a == self.laddr)
            && f.user.as_ref().is_none_or(|u| u == "default")
            && f.kind.as_ref().is_none_or(|k| *k == self.kind())
    }

    /// Redis' client type: master (a replica's link), pubsub (subscribed), or normal.
    pub fn kind(&self) -> &'static str {
        let (sub, psub, ssub) = self.subs.get();
        if self.master.get() {
            "master"
        } else if self.replica.get() {
            "replica"
        } else if sub + psub + ssub > 0 {
            "pubsub"
        } else {
            "normal"
        }
    }

    /// Ends the connection from outside its task: shutting the socket down makes the
    /// pending read return 0, and the connection task cleans up as on a normal close.
    pub fn kill(&self) {
        self.killed.set(true);
        // SAFETY: `fd` is this client's open socket for as long as its record is registered;
        // shutdown(2) on it has no memory-safety implications.
        {
            unsafe {
                libc::shutdown(self.fd, libc::SHUT_RDWR);
            }
        }
    }
}
