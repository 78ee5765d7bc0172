//! Replication in Redis' protocol, the replica side: REPLICAOF (SLAVEOF), the handshake
//! redis-server 7.0 does, the full sync (the master's RDB, sized or `$EOF:` diskless, loaded
//! into every shard by slot), then the master's command stream applied by a client of its
//! own (`Conn` with `master` set: its replies dropped but REPLCONF GETACK's), the offset of
//! what was applied acknowledged every second, partial resyncs (`+CONTINUE`) after a broken
//! link, ROLE and INFO replication.
//!
//! The link runs on the core that was asked (REPLICAOF, or core 0 at start with the
//! `replicaof` directive); the master's commands reach their keys' shards like any client's,
//! multi-key and MULTI/EXEC blocks through the same multi-shard path, so a transaction of the
//! master's is applied atomically here too.

use crate::conn::Conn;
use crate::core::Core;
use futures_lite::AsyncReadExt;
use reactor::Stream;
use std::os::unix::io::{IntoRawFd, RawFd};
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Duration;

const ZERO_ID: &str = "0000000000000000000000000000000000000000";

/// Where the link to the master is (INFO's master_link_status is `up` only when Connected).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Link {
    Connect,
    Connecting,
    Handshake,
    Transfer,
    Connected,
}

impl Link {
    /// ROLE's replica state.
    fn role_state(self) -> &'static str {
        match self {
            Link::Connect => "connect",
            Link::Connecting => "connecting",
            Link::Handshake => "handshake",
            Link::Transfer => "sync",
            Link::Connected => "connected",
        }
    }
}

/// A coordinated failover's progress (FAILOVER; INFO's master_failover_state).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FailoverState {
    None,
    WaitForSync,
    InProgress,
}

impl FailoverState {
    fn name(self) -> &'static str {
        match self {
            FailoverState::None => "no-failover",
            FailoverState::WaitForSync => "waiting-for-sync",
            FailoverState::InProgress => "failover-in-progress",
        }
    }
}

/// FAILOVER's request: the replica to hand over to (None: the first that catches up),
/// when to give up (unix ms, 0: never) and whether to hand over anyway then.
pub struct Failover {
    pub state: FailoverState,
    pub target: Option<(String, u16)>,
    pub end_ms: u64,
    pub force: bool,
}

pub struct Inner {
    /// The master, when this server is a replica.
    pub master: Option<(String, u16)>,
    pub link: Link,
    /// Unix ms the link went down (or the replica was made), 0 while it is up.
    pub down_since_ms: u64,
    pub replid: String,
    pub replid2: String,
    pub second_offset: i64,
    /// A full sync's payload: its size (-1: diskless, unknown) and what has arrived.
    pub sync_size: i64,
    pub sync_read: i64,
    pub sync_last_io_ms: u64,
    /// The master client's socket while the stream is applied (REPLICAOF shuts it down).
    master_fd: Option<RawFd>,
    /// The dataset follows some master's history (the replid and offset are worth a PSYNC).
    has_history: bool,
    /// The database the master's stream was in when the link broke: a partial resync
    /// continues there (Redis keeps its cached master client, and its SELECT).
    master_db: usize,
    pub failover: Failover,
}

/// The replication state every core reads (in `Shared`).
pub struct Repl {
    pub inner: Mutex<Inner>,
    /// The offset of the replication stream this server's data reflects: on a replica, the
    /// bytes of the master's stream applied.
    pub offset: AtomicI64,
    /// Bumped by every REPLICAOF: a link of an older generation stops.
    generation: AtomicU64,
    /// This server is a replica (read on the command path).
    pub replica: AtomicBool,
    /// Unix ms of the last bytes from the master.
    pub last_io_ms: AtomicU64,
    /// replica-read-only and replica-ignore-maxmemory (hot copies of the config).
    pub read_only: AtomicBool,
    pub ignore_maxmemory: AtomicBool,
    /// The master's stream's database as of the last read applied (for a snapshot's
    /// repl-stream-db).
    pub stream_db: std::sync::atomic::AtomicUsize,
    /// replica-serve-stale-data, and whether the link is up (the command path reads both).
    pub serve_stale: AtomicBool,
    pub link_up: AtomicBool,
    /// A failover holds writes (Redis' PAUSE_DURING_FAILOVER) until the new master answers.
    failover_pause: AtomicBool,
}

impl Repl {
    pub fn new() -> Repl {
        Repl {
            inner: Mutex::new(Inner {
                master: None,
                link: Link::Connect,
                down_since_ms: 0,
                replid: crate::shared::run_id(),
                replid2: ZERO_ID.to_string(),
                second_offset: -1,
                sync_size: 0,
                sync_read: 0,
                sync_last_io_ms: 0,
                master_fd: None,
                has_history: false,
                master_db: 0,
                failover: Failover {
                    state: FailoverState::None,
                    target: None,
                    end_ms: 0,
                    force: false,
                },
            }),
            offset: AtomicI64::new(0),
            generation: AtomicU64::new(0),
            replica: AtomicBool::new(false),
            last_io_ms: AtomicU64::new(0),
            read_only: AtomicBool::new(true),
            ignore_maxmemory: AtomicBool::new(true),
            serve_stale: AtomicBool::new(true),
            stream_db: Default::default(),
            link_up: AtomicBool::new(false),
            failover_pause: AtomicBool::new(false),
        }
    }

    /// Writes wait: a failover is under way.
    pub fn failover_paused(&self) -> bool {
        self.failover_pause.load(Ordering::Relaxed)
    }

    pub fn failover_state(&self) -> FailoverState {
        self.lock().failover.state
    }

    pub fn is_replica(&self) -> bool {
        self.replica.load(Ordering::Relaxed)
    }

    /// Writes from clients other than the master are refused (-READONLY).
    pub fn refuses_writes(&self) -> bool {
        self.is_replica() && self.read_only.load(Ordering::Relaxed)
    }

    /// A replica whose link is down with replica-serve-stale-data no: commands not flagged
    /// stale get -MASTERDOWN.
    pub fn refuses_stale(&self) -> bool {
        self.is_replica()
            && !self.link_up.load(Ordering::Relaxed)
            && !self.serve_stale.load(Ordering::Relaxed)
    }

    /// maxmemory does not apply (a replica with replica-ignore-maxmemory: its master
    /// evicts, and the DELs come in the stream).
    pub fn ignores_maxmemory(&self) -> bool {
        self.is_replica() && self.ignore_maxmemory.load(Ordering::Relaxed)
    }

    /// The replication point a snapshot taken now stands for: a replica's master history
    /// and applied offset, or a master's own with a backlog; None otherwise.
    pub fn point(&self) -> Option<crate::persist::ReplPoint> {
        let g = self.lock();
        let offset = self.offset.load(Ordering::SeqCst);
        let db = self.stream_db.load(Ordering::Relaxed);
        match &g.master {
            Some(_) if g.has_history => Some((g.replid.clone(), offset, db)),
            None if offset > 0 => Some((g.replid.clone(), offset, 0)),
            _ => None,
        }
    }

    /// At start, from the RDB file: the history it was saved at, so that a replica
    /// continues with a partial resync (and a master's replicas can).
    pub fn restore(&self, (id, offset, db): crate::persist::ReplPoint) {
        let mut g = self.lock();
        g.replid = id;
        g.has_history = true;
        g.master_db = db;
        self.offset.store(offset, Ordering::SeqCst);
        tracing::info!(replid = %g.replid, offset, "replication history from the RDB file");
    }

    /// (replid, replid2, second_repl_offset).
    pub fn ids(&self) -> (String, String, i64) {
        let g = self.lock();
        (g.replid.clone(), g.replid2.clone(), g.second_offset)
    }

    /// A new history with nothing before it (the backlog was freed).
    pub fn new_history(&self) {
        let mut g = self.lock();
        g.replid = crate::shared::run_id();
        g.replid2 = ZERO_ID.to_string();
        g.second_offset = -1;
    }

    /// Unix ms the link to the master went down (0 while it is up).
    pub fn down_since_ms(&self) -> u64 {
        self.lock().down_since_ms
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Default for Repl {
    fn default() -> Self {
        Repl::new()
    }
}

/// REPLICAOF host port / NO ONE (and the `replicaof` directive at start).
/// Returns the reply: `+OK`, or Redis' `+OK Already connected to specified master`.
pub fn replicaof(core: &Rc<Core>, master: Option<(String, u16)>) -> Result<&'static str, String> {
    if core.shared.repl.failover_state() != FailoverState::None {
        return Err("ERR REPLICAOF not allowed while failing over.".into());
    }
    Ok(set_master(core, master, "user request"))
}

/// Cluster mode: follow the master CLUSTER REPLICATE (or the view) names, or none.
pub(crate) fn follow(core: &Rc<Core>, master: Option<(String, u16)>) {
    set_master(core, master, "cluster");
}

/// The master followed now, if any.
pub(crate) fn master_of(repl: &Repl) -> Option<(String, u16)> {
    repl.lock().master.clone()
}

/// Follows `master` (None: becomes a master, for the reason given in the log).
fn set_master(core: &Rc<Core>, master: Option<(String, u16)>, why: &str) -> &'static str {
    let repl = &core.shared.repl;
    let mut g = repl.lock();
    match master {
        None => {
            if g.master.is_none() {
                return "+OK\r\n";
            }
            tracing::info!("MASTER MODE enabled ({why})");
            g.master = None;
            repl.generation.fetch_add(1, Ordering::SeqCst);
            repl.replica.store(false, Ordering::SeqCst);
            cut_link(&mut g);
            // PSYNC2: a new history; replicas of the old one may continue from it.
            let offset = repl.offset.load(Ordering::SeqCst);
            g.replid2 = std::mem::replace(&mut g.replid, crate::shared::run_id());
            g.second_offset = offset + 1;
            g.link = Link::Connect;
            drop(g);
            set_replica_mode(core, false);
            "+OK\r\n"
        }
        Some((host, port)) => {
            if g.master.as_ref() == Some(&(host.clone(), port)) {
                return "+OK Already connected to specified master\r\n";
            }
            tracing::info!(%host, port, "REPLICAOF: connecting to a new master");
            let was_replica = g.master.is_some();
            g.master = Some((host, port));
            let gen = repl.generation.fetch_add(1, Ordering::SeqCst) + 1;
            repl.replica.store(true, Ordering::SeqCst);
            cut_link(&mut g);
            g.link = Link::Connect;
            g.down_since_ms = engine::shard::unix_ms();
            if !was_replica {
                // A master turning replica keeps its history: it may continue partially.
                g.has_history = true;
            }
            drop(g);
            set_replica_mode(core, true);
            reactor::spawn_local(link(core.clone(), gen)).detach();
            "+OK\r\n"
        }
    }
}

/// Shuts the master client's socket down (its task then ends).
fn cut_link(g: &mut Inner) {
    if let Some(fd) = g.master_fd.take() {
        // SAFETY: the fd is the master client's open socket: the link task clears it under
        // this lock before the socket closes.
        unsafe {
            libc::shutdown(fd, libc::SHUT_RDWR);
        }
    }
}

/// Every shard stops (or resumes) expiring keys: a replica's keys expire by its master's
/// DELs, and its stream is its master's. The replicas attached reconnect.
fn set_replica_mode(core: &Rc<Core>, on: bool) {
    crate::feed::role_changed(core);
    let core = core.clone();
    reactor::spawn_local(async move {
        core.ask_all(|_| crate::core::calls::ReplicaMode(on), None)
            .await;
    })
    .detach();
}

/// The link to the master of generation `gen`: connect, handshake, sync, apply the stream;
/// again a second after it breaks, until REPLICAOF changes the master.
async fn link(core: Rc<Core>, gen: u64) {
    let repl = &core.shared.repl;
    let current = || repl.generation.load(Ordering::SeqCst) == gen;
    while current() {
        let Some((host, port)) = repl.lock().master.clone() else {
            return;
        };
        repl.lock().link = Link::Connecting;
        match connect(&host, port).await {
            Ok((fd, peer, local)) if current() => {
                let mut stream = Stream::from_fd(fd);
                match sync(&core, &mut stream, gen).await {
                    Ok(rest) if current() => apply(&core, stream, rest, gen, peer, local).await,
                    Ok(_) => {}
                    Err(e) => tracing::warn!("replication with {host}:{port}: {e}"),
                }
            }
            Ok((fd, _, _)) => {
                // SAFETY: our own freshly connected socket, not handed to anything.
                unsafe {
                    libc::close(fd);
                }
                return;
            }
            Err(e) => tracing::warn!("Error condition on socket for SYNC: {e} ({host}:{port})"),
        }
        if !current() {
            return;
        }
        {
            let mut g = repl.lock();
            g.link = Link::Connect;
            if g.down_since_ms == 0 {
                g.down_since_ms = engine::shard::unix_ms();
            }
        }
        reactor::sleep(Duration::from_secs(1)).await;
    }
}

/// Connects on a helper thread (name resolution and connect(2) block), waiting here without
/// blocking the core.
pub(crate) async fn connect(host: &str, port: u16) -> Result<(RawFd, String, String), String> {
    let (tx, rx) = crossbeam_channel::bounded(1);
    let target = format!("{host}:{port}");
    std::thread::Builder::new()
        .name("repl-connect".into())
        .spawn(move || {
            use std::net::ToSocketAddrs;
            let res = (|| {
                let addr = target
                    .to_socket_addrs()
                    .map_err(|e| e.to_string())?
                    .next()
                    .ok_or_else(|| format!("no address for {target}"))?;
                let s = std::net::TcpStream::connect_timeout(&addr, Duration::from_secs(10))
                    .map_err(|e| e.to_string())?;
                let _ = s.set_nodelay(true);
                s.set_nonblocking(true).map_err(|e| e.to_string())?;
                let name = |a: std::io::Result<std::net::SocketAddr>| {
                    a.map(|a| a.to_string()).unwrap_or_default()
                };
                let (peer, local) = (name(s.peer_addr()), name(s.local_addr()));
                Ok((s.into_raw_fd(), peer, local))
            })();
            let _ = tx.send(res);
        })
        .map_err(|e| e.to_string())?;
    loop {
        match rx.try_recv() {
            Ok(r) => return r,
            Err(crossbeam_channel::TryRecvError::Empty) => {
                reactor::sleep(Duration::from_millis(1)).await
            }
            Err(crossbeam_channel::TryRecvError::Disconnected) => {
                return Err("connect thread failed".into())
            }
        }
    }
}

/// Buffered reading from the master during the handshake and the transfer.
struct Reader {
    buf: Vec<u8>,
    pos: usize,
}

impl Reader {
    async fn fill(&mut self, stream: &mut Stream) -> Result<(), String> {
        if self.pos > 0 && self.pos == self.buf.len() {
            self.buf.clear();
            self.pos = 0;
        }
        let mut chunk = vec![0u8; 64 << 10];
        let n = stream.read(&mut chunk).await.map_err(|e| e.to_string())?;
        if n == 0 {
            return Err("connection lost".into());
        }
        self.buf.extend_from_slice(&chunk[..n]);
        Ok(())
    }

    /// One reply line, without its CRLF.
    async fn line(&mut self, stream: &mut Stream, timeout_ms: u64) -> Result<String, String> {
        let deadline = engine::shard::unix_ms() + timeout_ms;
        loop {
            if let Some(i) = self.buf[self.pos..].iter().position(|&b| b == b'\n') {
                let line = &self.buf[self.pos..self.pos + i];
                let line = line.strip_suffix(b"\r").unwrap_or(line);
                let s = String::from_utf8_lossy(line).into_owned();
                self.pos += i + 1;
                return Ok(s);
            }
            let read = futures_lite::future::or(async { Some(self.fill(stream).await) }, async {
                reactor::sleep(Duration::from_millis(
                    deadline.saturating_sub(engine::shard::unix_ms()),
                ))
                .await;
                None
            })
            .await;
            match read {
                Some(r) => r?,
                None => return Err("Timeout connecting to the MASTER...".into()),
            }
        }
    }

    fn rest(&mut self) -> Vec<u8> {
        let rest = self.buf[self.pos..].to_vec();
        self.pos = self.buf.len();
        rest
    }
}

fn command(args: &[&[u8]]) -> Vec<u8> {
    let mut buf = Vec::new();
    resp::write_command(&mut buf, args);
    buf
}

/// The handshake and, when the master says so, the full sync. Returns the bytes of the
/// command stream that came with the last read.
async fn sync(core: &Rc<Core>, stream: &mut Stream, gen: u64) -> Result<Vec<u8>, String> {
    let repl = &core.shared.repl;
    let current = || repl.generation.load(Ordering::SeqCst) == gen;
    let (timeout_ms, auth, announce_ip, announce_port) = {
        let c = core.shared.config.read().map_err(|_| "config lock")?;
        let timeout = c
            .get("repl-timeout")
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(60)
            * 1000;
        let pass = c.get("masterauth").unwrap_or_default();
        let user = c.get("masteruser").unwrap_or_default();
        let auth = (!pass.is_empty()).then_some((user, pass));
        let ip = c.get("replica-announce-ip").unwrap_or_default();
        let port = c
            .get("replica-announce-port")
            .and_then(|v| v.parse::<u16>().ok())
            .filter(|&p| p != 0)
            .unwrap_or(core.shared.tcp_port.load(Ordering::Relaxed));
        (timeout, auth, ip, port)
    };
    repl.lock().link = Link::Handshake;
    let mut r = Reader {
        buf: Vec::new(),
        pos: 0,
    };
    let send = |stream: &Stream, args: &[&[u8]]| {
        stream
            .write(&command(args))
            .map_err(|e| format!("write to MASTER: {e}"))
    };
    send(stream, &[b"PING"])?;
    let pong = r.line(stream, timeout_ms).await?;
    // An error about authentication is fine here: AUTH comes next (as Redis accepts it).
    if pong.starts_with('-')
        && !pong.starts_with("-NOAUTH")
        && !pong.starts_with("-NOPERM")
        && !pong.starts_with("-ERR operation not permitted")
    {
        return Err(format!("Error reply to PING from master: '{pong}'"));
    }
    if let Some((user, pass)) = &auth {
        if user.is_empty() {
            send(stream, &[b"AUTH", pass.as_bytes()])?;
        } else {
            send(stream, &[b"AUTH", user.as_bytes(), pass.as_bytes()])?;
        }
        let ok = r.line(stream, timeout_ms).await?;
        if ok.starts_with('-') {
            return Err(format!("Unable to AUTH to MASTER: {ok}"));
        }
    }
    let port = announce_port.to_string();
    send(stream, &[b"REPLCONF", b"listening-port", port.as_bytes()])?;
    let ok = r.line(stream, timeout_ms).await?;
    if ok.starts_with('-') {
        tracing::info!("(Non critical) Master does not understand REPLCONF listening-port: {ok}");
    }
    if !announce_ip.is_empty() {
        send(
            stream,
            &[b"REPLCONF", b"ip-address", announce_ip.as_bytes()],
        )?;
        let ok = r.line(stream, timeout_ms).await?;
        if ok.starts_with('-') {
            tracing::info!("(Non critical) Master does not understand REPLCONF ip-address: {ok}");
        }
    }
    send(stream, &[b"REPLCONF", b"capa", b"eof", b"capa", b"psync2"])?;
    let ok = r.line(stream, timeout_ms).await?;
    if ok.starts_with('-') {
        tracing::info!("(Non critical) Master does not understand REPLCONF capa: {ok}");
    }
    let (psync_id, psync_offset) = {
        let g = repl.lock();
        if g.has_history {
            (
                g.replid.clone(),
                (repl.offset.load(Ordering::SeqCst) + 1).to_string(),
            )
        } else {
            ("?".to_string(), "-1".to_string())
        }
    };
    // A master handing over (FAILOVER) asks its target to take the master's role.
    let failing_over = repl.failover_state() == FailoverState::InProgress;
    let mut psync: Vec<&[u8]> = vec![b"PSYNC", psync_id.as_bytes(), psync_offset.as_bytes()];
    if failing_over {
        psync.push(b"FAILOVER");
    }
    send(stream, &psync)?;
    let reply = loop {
        let line = r.line(stream, timeout_ms).await?;
        if !line.is_empty() {
            break line;
        }
    };
    if !current() {
        return Err("replication target changed".into());
    }
    if failing_over {
        if reply.starts_with("+CONTINUE") || reply.starts_with("+FULLRESYNC") {
            clear_failover(repl);
            tracing::info!("FAILOVER: the target accepted the hand-over");
        } else {
            abort_failover(core, "Failover target rejected psync request");
            return Err(format!("Failover target rejected psync request: {reply}"));
        }
    }
    if let Some(rest) = reply.strip_prefix("+CONTINUE") {
        let new_id = rest.trim();
        let mut g = repl.lock();
        if !new_id.is_empty() && new_id != g.replid {
            // The master's history changed (it was promoted): the old id stays valid up to
            // here, for this server's own replicas.
            let offset = repl.offset.load(Ordering::SeqCst);
            g.replid2 = std::mem::replace(&mut g.replid, new_id.to_string());
            g.second_offset = offset + 1;
            drop(g);
            // This server's replicas learn the new id by reconnecting.
            crate::feed::role_changed(core);
        }
        tracing::info!("Successful partial resynchronization with master.");
        return Ok(r.rest());
    }
    let Some(full) = reply.strip_prefix("+FULLRESYNC ") else {
        return Err(format!("Unexpected reply to PSYNC from master: {reply}"));
    };
    let mut words = full.split_whitespace();
    let replid = words.next().unwrap_or_default().to_string();
    let offset: i64 = words
        .next()
        .and_then(|o| o.parse().ok())
        .ok_or_else(|| format!("bad FULLRESYNC reply: {reply}"))?;
    tracing::info!(%replid, offset, "Full resync from master");
    crate::feed::new_history(core);
    let payload = transfer(repl, stream, &mut r, timeout_ms).await?;
    if !current() {
        return Err("replication target changed".into());
    }
    tracing::info!(
        bytes = payload.len(),
        "MASTER <-> REPLICA sync: Loading DB in memory"
    );
    crate::persist::load_from_master(core, payload)
        .await
        .map_err(|e| format!("Failed trying to load the MASTER synchronization DB: {e}"))?;
    {
        let mut g = repl.lock();
        g.replid = replid;
        g.replid2 = ZERO_ID.to_string();
        g.second_offset = -1;
        g.has_history = true;
        g.master_db = 0;
        repl.offset.store(offset, Ordering::SeqCst);
    }
    tracing::info!("MASTER <-> REPLICA sync: Finished with success");
    Ok(r.rest())
}

/// The RDB payload: `$<len>` then that many bytes, or `$EOF:<40 bytes>` then bytes up to
/// the same 40 bytes. Newlines before it are the master's keep-alives.
async fn transfer(
    repl: &Repl,
    stream: &mut Stream,
    r: &mut Reader,
    timeout_ms: u64,
) -> Result<Vec<u8>, String> {
    repl.lock().link = Link::Transfer;
    let head = loop {
        let line = r.line(stream, timeout_ms).await?;
        if !line.is_empty() {
            break line;
        }
    };
    let Some(head) = head.strip_prefix('$') else {
        return Err(format!(
            "Bad protocol from MASTER, the first byte is not '$': {head}"
        ));
    };
    let eof_mark = head.strip_prefix("EOF:").map(|m| m.as_bytes().to_vec());
    if eof_mark.as_ref().is_some_and(|m| m.len() != 40) {
        return Err("bad EOF mark from MASTER".into());
    }
    let size: i64 = match &eof_mark {
        Some(_) => -1,
        None => head
            .parse()
            .map_err(|_| format!("bad transfer size: {head}"))?,
    };
    {
        let mut g = repl.lock();
        g.sync_size = size;
        g.sync_read = 0;
        g.sync_last_io_ms = engine::shard::unix_ms();
    }
    let mut payload: Vec<u8> = Vec::new();
    loop {
        // Take what is buffered (no more than the payload when its size is known).
        let avail = r.buf.len() - r.pos;
        let take = if size >= 0 {
            avail.min(size as usize - payload.len())
        } else {
            avail
        };
        payload.extend_from_slice(&r.buf[r.pos..r.pos + take]);
        r.pos += take;
        {
            let mut g = repl.lock();
            g.sync_read = payload.len() as i64;
            g.sync_last_io_ms = engine::shard::unix_ms();
        }
        match &eof_mark {
            None if payload.len() as i64 == size => return Ok(payload),
            Some(mark) if payload.ends_with(mark) => {
                payload.truncate(payload.len() - mark.len());
                return Ok(payload);
            }
            _ => {}
        }
        let read = futures_lite::future::or(async { Some(r.fill(stream).await) }, async {
            reactor::sleep(Duration::from_millis(timeout_ms)).await;
            None
        })
        .await;
        match read {
            Some(res) => res?,
            None => return Err("Timeout receiving bulk data from MASTER".into()),
        }
    }
}

/// The master's command stream, applied by a client of its own until the link breaks.
async fn apply(
    core: &Rc<Core>,
    mut stream: Stream,
    rest: Vec<u8>,
    gen: u64,
    addr: String,
    laddr: String,
) {
    let repl = &core.shared.repl;
    let shared = core.shared.clone();
    let id = shared.next_client_id.fetch_add(1, Ordering::Relaxed);
    let info = Rc::new(crate::client::ClientInfo::new(
        id,
        addr,
        laddr,
        stream.fd(),
        false,
        false,
    ));
    info.master.set(true);
    info.stream.set(Some(stream.handle()));
    core.clients.borrow_mut().insert(id, info.clone());
    {
        let mut g = repl.lock();
        if repl.generation.load(Ordering::SeqCst) != gen {
            core.clients.borrow_mut().remove(&id);
            return;
        }
        g.master_fd = Some(stream.fd());
        g.link = Link::Connected;
        g.down_since_ms = 0;
        repl.link_up.store(true, Ordering::SeqCst);
    }
    repl.last_io_ms
        .store(engine::shard::unix_ms(), Ordering::Relaxed);
    // The first ACK at once: after a diskless sync the master waits for it to stream.
    let handle = stream.handle();
    let _ = handle.write(&ack(repl));
    let alive = Rc::new(std::cell::Cell::new(true));
    reactor::spawn_local(heartbeat(core.clone(), handle, info.clone(), alive.clone())).detach();
    let mut conn = Conn::new(core.clone(), info);
    conn.master = true;
    conn.authed = true;
    conn.db = repl.lock().master_db;
    conn.info.db.set(conn.db);
    conn.run_seeded(&mut stream, rest).await;
    alive.set(false);
    {
        let mut g = repl.lock();
        repl.link_up.store(false, Ordering::SeqCst);
        g.master_db = conn.db;
        g.master_fd = None;
        if g.master.is_some() && repl.generation.load(Ordering::SeqCst) == gen {
            tracing::info!("Connection with master lost.");
            g.link = Link::Connect;
            g.down_since_ms = engine::shard::unix_ms();
        }
    }
    core.clients.borrow_mut().remove(&id);
}

/// `REPLCONF ACK <offset>`, the applied offset.
pub fn ack(repl: &Repl) -> Vec<u8> {
    let offset = repl.offset.load(Ordering::SeqCst).to_string();
    command(&[b"REPLCONF", b"ACK", offset.as_bytes()])
}

/// Every second while the stream is applied: REPLCONF ACK, and the end of a link silent for
/// longer than repl-timeout (the master PINGs every repl-ping-replica-period).
async fn heartbeat(
    core: Rc<Core>,
    handle: reactor::StreamRef,
    info: Rc<crate::client::ClientInfo>,
    alive: Rc<std::cell::Cell<bool>>,
) {
    let repl = &core.shared.repl;
    loop {
        reactor::sleep(Duration::from_secs(1)).await;
        if !alive.get() {
            return;
        }
        if handle.write(&ack(repl)).is_err() {
            return;
        }
        let timeout_ms = core
            .shared
            .config
            .read()
            .ok()
            .and_then(|c| c.get("repl-timeout"))
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(60)
            * 1000;
        let last = repl.last_io_ms.load(Ordering::Relaxed);
        if engine::shard::unix_ms().saturating_sub(last) > timeout_ms {
            tracing::warn!("MASTER timeout: no data nor PING received...");
            info.kill();
            return;
        }
    }
}

/// ROLE's reply.
pub fn role(shared: &crate::shared::Shared, w: &mut resp::Writer) {
    let repl = &shared.repl;
    let g = repl.lock();
    let offset = repl.offset.load(Ordering::SeqCst);
    match &g.master {
        Some((host, port)) => {
            w.array(5);
            w.bulk(b"slave");
            w.bulk(host.as_bytes());
            w.integer(i64::from(*port));
            w.bulk(g.link.role_state().as_bytes());
            w.integer(if g.has_history { offset } else { -1 });
        }
        None => {
            drop(g);
            let replicas = shared.feed.lock().replicas.clone();
            w.array(3);
            w.bulk(b"master");
            w.integer(offset);
            let online: Vec<_> = replicas.iter().filter(|r| r.state == "online").collect();
            w.array(online.len());
            for r in online {
                w.array(3);
                w.bulk(r.ip.as_bytes());
                w.bulk(r.port.to_string().as_bytes());
                w.bulk(r.ack.to_string().as_bytes());
            }
        }
    }
}

/// INFO's Replication section (the fields Redis 7.0 prints, in its order).
pub fn info(shared: &crate::shared::Shared, s: &mut String) {
    use std::fmt::Write;
    let repl = &shared.repl;
    let g = repl.lock();
    let offset = repl.offset.load(Ordering::SeqCst);
    let now = engine::shard::unix_ms();
    let (priority, read_only, announced) = shared
        .config
        .read()
        .map(|c| {
            (
                c.get("replica-priority").unwrap_or_else(|| "100".into()),
                c.get("replica-read-only").as_deref() != Some("no"),
                c.get("replica-announced").as_deref() != Some("no"),
            )
        })
        .unwrap_or(("100".into(), true, true));
    match &g.master {
        Some((host, port)) => {
            let up = g.link == Link::Connected;
            let last_io = if up {
                now.saturating_sub(repl.last_io_ms.load(Ordering::Relaxed)) / 1000
            } else {
                // Redis prints -1 while there is no link.
                u64::MAX
            };
            let _ = write!(
                s,
                "role:slave\r\nmaster_host:{host}\r\nmaster_port:{port}\r\nmaster_link_status:{}\r\nmaster_last_io_seconds_ago:{}\r\nmaster_sync_in_progress:{}\r\nslave_read_repl_offset:{offset}\r\nslave_repl_offset:{offset}\r\n",
                if up { "up" } else { "down" },
                if last_io == u64::MAX { "-1".to_string() } else { last_io.to_string() },
                u8::from(g.link == Link::Transfer),
            );
            if g.link == Link::Transfer {
                let _ = write!(
                    s,
                    "master_sync_total_bytes:{}\r\nmaster_sync_read_bytes:{}\r\nmaster_sync_left_bytes:{}\r\nmaster_sync_perc:{:.2}\r\nmaster_sync_last_io_seconds_ago:{}\r\n",
                    g.sync_size,
                    g.sync_read,
                    if g.sync_size >= 0 { g.sync_size - g.sync_read } else { -1 },
                    if g.sync_size > 0 { g.sync_read as f64 * 100.0 / g.sync_size as f64 } else { 0.0 },
                    now.saturating_sub(g.sync_last_io_ms) / 1000,
                );
            }
            if !up {
                let since = if g.down_since_ms == 0 {
                    0
                } else {
                    now.saturating_sub(g.down_since_ms) / 1000
                };
                let _ = write!(s, "master_link_down_since_seconds:{since}\r\n");
            }
            let _ = write!(
                s,
                "slave_priority:{priority}\r\nslave_read_only:{}\r\nreplica_announced:{}\r\n",
                u8::from(read_only),
                u8::from(announced),
            );
        }
        None => s.push_str("role:master\r\n"),
    }
    let (replid, replid2, second) = (g.replid.clone(), g.replid2.clone(), g.second_offset);
    let failover = g.failover.state.name();
    drop(g);
    crate::feed::info_replicas(&shared.feed, s);
    let _ = write!(
        s,
        "master_failover_state:{}\r\nmaster_replid:{replid}\r\nmaster_replid2:{replid2}\r\nmaster_repl_offset:{offset}\r\nsecond_repl_offset:{second}\r\n",
        failover
    );
    let size = shared
        .config
        .read()
        .ok()
        .and_then(|c| c.get("repl-backlog-size"))
        .and_then(|v| v.parse().ok())
        .unwrap_or(1 << 20);
    crate::feed::info_backlog(&shared.feed, s, size);
}

/// FAILOVER's arguments.
pub struct FailoverRequest {
    pub target: Option<(String, u16)>,
    pub timeout_ms: u64,
    pub force: bool,
}

/// FAILOVER [TO host port [FORCE]] [TIMEOUT ms]: writes pause, and once a replica (the one
/// named) has the whole stream, this master turns replica of it, asking it with
/// `PSYNC <replid> <offset> FAILOVER` to take over (`failover_tick`, then `sync`).
pub fn failover(core: &Rc<Core>, req: FailoverRequest) -> Result<(), String> {
    let repl = &core.shared.repl;
    let mut g = repl.lock();
    if g.failover.state != FailoverState::None {
        return Err("ERR FAILOVER already in progress.".into());
    }
    if g.master.is_some() {
        return Err("ERR FAILOVER is not valid when server is a replica.".into());
    }
    let replicas = core.shared.feed.lock().replicas.clone();
    if replicas.is_empty() {
        return Err("ERR FAILOVER requires connected replicas.".into());
    }
    if req.force && (req.timeout_ms == 0 || req.target.is_none()) {
        return Err(
            "ERR FAILOVER with force option requires both a timeout and target HOST and IP.".into(),
        );
    }
    if let Some((host, port)) = &req.target {
        let Some(r) = replicas.iter().find(|r| r.ip == *host && r.port == *port) else {
            return Err("ERR FAILOVER target HOST and PORT is not a replica.".into());
        };
        if r.state != "online" {
            return Err("ERR FAILOVER target replica is not online.".into());
        }
        tracing::info!("FAILOVER requested to {host}:{port}.");
    } else {
        tracing::info!("FAILOVER requested to any replica.");
    }
    g.failover = Failover {
        state: FailoverState::WaitForSync,
        target: req.target,
        end_ms: if req.timeout_ms > 0 {
            engine::shard::unix_ms() + req.timeout_ms
        } else {
            0
        },
        force: req.force,
    };
    repl.failover_pause.store(true, Ordering::SeqCst);
    Ok(())
}

/// FAILOVER ABORT.
pub fn failover_abort(core: &Rc<Core>) -> Result<(), String> {
    if core.shared.repl.failover_state() == FailoverState::None {
        return Err("ERR No failover in progress.".into());
    }
    abort_failover(core, "Failover manually aborted");
    Ok(())
}

fn clear_failover(repl: &Repl) {
    let mut g = repl.lock();
    g.failover = Failover {
        state: FailoverState::None,
        target: None,
        end_ms: 0,
        force: false,
    };
    repl.failover_pause.store(false, Ordering::SeqCst);
}

fn abort_failover(core: &Rc<Core>, why: &str) {
    let repl = &core.shared.repl;
    let (state, target) = {
        let g = repl.lock();
        (g.failover.state, g.failover.target.clone())
    };
    if state == FailoverState::None {
        return;
    }
    match target {
        Some((h, p)) => tracing::info!("FAILOVER to {h}:{p} aborted: {why}"),
        None => tracing::info!("FAILOVER to any replica aborted: {why}"),
    }
    if state == FailoverState::InProgress {
        set_master(core, None, "failover aborted");
    }
    clear_failover(repl);
}

/// Every 100 ms on core 0 (Redis' updateFailoverStatus): a failover waiting for its replica
/// gives up (or, with FORCE, hands over anyway) at its timeout, and hands over once the
/// replica acknowledged the whole stream (the first replica to do so, when none was named).
pub fn failover_tick(core: &Rc<Core>) {
    let repl = &core.shared.repl;
    let (target, end_ms, force) = {
        let g = repl.lock();
        if g.failover.state != FailoverState::WaitForSync {
            return;
        }
        (
            g.failover.target.clone(),
            g.failover.end_ms,
            g.failover.force,
        )
    };
    if end_ms > 0 && engine::shard::unix_ms() >= end_ms {
        match (force, target) {
            (true, Some((host, port))) => {
                tracing::info!("FAILOVER to {host}:{port} time out exceeded, failing over.");
                hand_over(core, host, port);
            }
            _ => abort_failover(core, "Replica never caught up before timeout"),
        }
        return;
    }
    let offset = repl.offset.load(Ordering::SeqCst);
    let replicas = core.shared.feed.lock().replicas.clone();
    let synced = replicas.iter().find(|r| match &target {
        Some((host, port)) => r.ip == *host && r.port == *port && r.ack == offset,
        None => r.ack == offset && r.state == "online",
    });
    if let Some(r) = synced {
        tracing::info!(
            "Failover target {}:{} is synced, failing over.",
            r.ip,
            r.port
        );
        hand_over(core, r.ip.clone(), r.port);
    }
}

/// This master follows `host:port`, its PSYNC carrying FAILOVER.
fn hand_over(core: &Rc<Core>, host: String, port: u16) {
    {
        let mut g = core.shared.repl.lock();
        g.failover.state = FailoverState::InProgress;
        g.failover.target = Some((host.clone(), port));
    }
    set_master(core, Some((host, port)), "failover");
}

/// `PSYNC <replid> <offset> FAILOVER` reached this replica: its master hands over. With
/// the master's history it becomes a master (the PSYNC then continues from it, partially).
pub fn failover_request(core: &Rc<Core>, replid: &str, from: &str) -> Result<(), String> {
    let repl = &core.shared.repl;
    tracing::warn!("Failover request received for replid {replid}.");
    let (is_replica, ours) = {
        let g = repl.lock();
        (g.master.is_some(), g.replid.clone())
    };
    if !is_replica {
        return Err("ERR PSYNC FAILOVER can't be sent to a master.".into());
    }
    if !replid.eq_ignore_ascii_case(&ours) {
        return Err("ERR PSYNC FAILOVER replid must match my replid.".into());
    }
    set_master(core, None, &format!("failover request from '{from}'"));
    Ok(())
}
