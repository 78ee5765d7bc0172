//! The runtime: one reactor (a thread with its own io_uring, working in turns) per shard,
//! each pinned to a core, each accepting on the shared port (SO_REUSEPORT), serving its
//! connections and answering the other cores through the cross-core queues. The engine does the command semantics; this crate moves bytes and
//! messages.

mod aof;
pub use aof::export as aof_export;
mod barrier;
mod blocking;
mod checks;
mod client;
mod cluster;
mod commands;
mod conn;
mod core;
mod feed;
mod functions;
mod info;
mod latency;
mod locks;
mod lolwut;
mod memory;
mod memstats;
mod monitor;
mod multi;
mod ops;
mod persist;
mod pubsub;
mod repl;
mod replies;
mod runtime;
mod scripting;
mod shared;
mod slowlog;
mod tracking;
mod txn;

pub use info::version_line;
pub use shared::{Shared, ShutdownReason};

/// The allocator the binary installs (`#[global_allocator]`); INFO's memory figures read its
/// statistics.
pub use tikv_jemallocator::Jemalloc as Allocator;

use crate::core::{Core, Req, Resp};
use config::Config;
use reactor::{Doorbell, Listener, Mesh, Stream};
use std::net::{IpAddr, SocketAddr};
use std::os::unix::io::RawFd;
use std::rc::Rc;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("io-backend '{0}' is not available: {1}")]
    Backend(String, String),
    #[error("Could not create server TCP listening socket {0}: {1}")]
    Bind(String, String),
    #[error("Failed to start shard {0}: {1}")]
    Executor(usize, String),
    #[error("{0}")]
    Load(String),
}

pub struct Server {
    pub shared: Arc<Shared>,
    shutdown_rx: crossbeam_channel::Receiver<ShutdownReason>,
}

impl Server {
    /// Blocks until SHUTDOWN or a signal asks the server to stop.
    pub fn wait(&self) -> ShutdownReason {
        self.shutdown_rx.recv().unwrap_or(ShutdownReason::Signal)
    }

    /// Stops listening before the process exits. Needed because an io_uring accept in
    /// flight holds the listening socket open until the kernel tears the ring down, after
    /// the process is gone: for that moment the port still accepted connections, so a
    /// restarted server (or redis-server) found it taken. shutdown(2) takes the socket out
    /// of LISTEN at once.
    pub fn close_listeners(&self) {
        self.shared
            .listeners_closing
            .store(true, std::sync::atomic::Ordering::Release);
        if let Ok(fds) = self.shared.listen_fds.lock() {
            for &fd in fds.iter() {
                // SAFETY: shutdown(2) on a listening socket this process opened; no memory
                // is involved.
                unsafe {
                    libc::shutdown(fd, libc::SHUT_RDWR);
                }
            }
        }
    }

    /// At exit: every shard's AOF file fsynced, as redis-server does before it exits (what
    /// the shards wrote is in the page cache; this makes it survive a power loss too).
    pub fn sync_aof(&self) {
        self.shared.aof.sync_all();
    }

    /// A sender the binary's signal thread uses to request shutdown.
    pub fn shutdown_handle(&self) -> crossbeam_channel::Sender<ShutdownReason> {
        self.shared.shutdown.clone()
    }

    /// Where the signal thread reports SIGTERM/SIGINT: the server saves (when save points
    /// are set) and then shuts down.
    pub fn signal_handle(&self) -> crossbeam_channel::Sender<()> {
        self.shared.signals.0.clone()
    }
}

/// Checks that the kernel lets this process create an io_uring (it may be disabled by
/// sysctl or a seccomp profile), without depending on glommio to fail usefully.
fn probe_io_uring() -> Result<(), String> {
    let mut params = [0u8; 120];
    // SAFETY: io_uring_setup with 1 entry and a zeroed io_uring_params-sized buffer; the
    // returned fd is closed at once.
    let fd = unsafe { libc::syscall(libc::SYS_io_uring_setup, 1u32, params.as_mut_ptr()) };
    if fd < 0 {
        return Err(std::io::Error::last_os_error().to_string());
    }
    // SAFETY: fd was just returned by the kernel and is owned here.
    unsafe { libc::close(fd as i32) };
    Ok(())
}

fn default_shards() -> usize {
    // At most the `shards` directive's maximum (operation ids keep the core in 12 bits).
    std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
        .min(1024)
}

/// Parses a redis.conf bind address: `*` is every IPv4 address, `::*` every IPv6 one.
pub(crate) fn bind_addr(addr: &str, port: u16) -> Option<SocketAddr> {
    let ip: IpAddr = match addr {
        "*" => "0.0.0.0".parse().ok()?,
        "::*" => "::".parse().ok()?,
        a => a.parse().ok()?,
    };
    Some(SocketAddr::new(ip, port))
}

/// Starts every shard and returns once all of them listen, or with the first failure.
pub fn start(config: Config) -> Result<Server, StartError> {
    let backend = config.io_backend();
    match backend.as_str() {
        "epoll" => {
            return Err(StartError::Backend(
                backend,
                "the epoll backend is not implemented yet".into(),
            ));
        }
        _ => probe_io_uring().map_err(|e| StartError::Backend("io_uring".into(), e))?,
    }
    tracing::info!("io backend: io_uring");
    let shards = match config.shards() {
        0 => default_shards(),
        n => n,
    };
    let cpus = default_shards();
    ensure_ports_free(&config)?;
    let (shutdown_tx, shutdown_rx) = crossbeam_channel::unbounded();
    // With the AOF on, it is what loads (as in redis-server: the RDB file is not read).
    let (start, manifest) = aof::prepare(&config, shards).map_err(StartError::Load)?;
    let rdb = match start {
        aof::Start::Off => persist::read_at_start(&config).map_err(StartError::Load)?,
        _ => None,
    };
    let cluster = if config.get("cluster-enabled").as_deref() == Some("yes") {
        if config
            .get("replicaof")
            .is_some_and(|v| !v.trim().is_empty())
        {
            return Err(StartError::Load(
                "replicaof directive not allowed in cluster mode".into(),
            ));
        }
        Some(cluster::Cluster::open(&config, config.port()).map_err(StartError::Load)?)
    } else {
        None
    };
    let shared = Shared::new(config, shards, shutdown_tx, cluster);
    if let Some(point) = rdb.as_deref().and_then(persist::repl_point) {
        shared.repl.restore(point);
    }
    let mut images: Vec<Vec<u8>> = rdb.into_iter().collect();
    let aof_on = !matches!(start, aof::Start::Off);
    match start {
        aof::Start::Off => {}
        aof::Start::Own(own) => {
            if let Ok(mut s) = shared.aof.start.lock() {
                *s = Some(own);
            }
            shared.aof.current.store(true, Ordering::Release);
        }
        aof::Start::Convert(imgs) => {
            images = imgs;
            shared.aof.rewrite_at_start.store(true, Ordering::Release);
        }
    }
    if aof_on {
        shared.aof.enabled.store(true, Ordering::Release);
        if let Ok(mut m) = shared.aof.manifest.lock() {
            *m = manifest;
        }
    }
    aof::start_fsync_thread(shared.clone());
    if aof_on || !images.is_empty() {
        let p = &shared.persist;
        p.loading.store(true, Ordering::Release);
        p.loading_left.store(shards, Ordering::Release);
        if let Ok(mut l) = p.load.lock() {
            *l = images.into_iter().map(Arc::new).collect();
        }
    }
    let mut bells = Vec::with_capacity(shards);
    for id in 0..shards {
        bells.push(Doorbell::new().map_err(|e| StartError::Executor(id, e.to_string()))?);
    }
    let req_mesh: Arc<Mesh<Req>> = Mesh::new(bells.clone());
    let resp_mesh: Arc<Mesh<Resp>> = Mesh::new(bells.clone());
    let (ready_tx, ready_rx) = crossbeam_channel::unbounded::<Result<usize, StartError>>();
    for (id, bell) in bells.into_iter().enumerate() {
        let (shared, req_mesh, resp_mesh, ready) = (
            shared.clone(),
            req_mesh.clone(),
            resp_mesh.clone(),
            ready_tx.clone(),
        );
        let pin = (shards <= cpus).then_some(id);
        let spawned = std::thread::Builder::new()
            .name(format!("shard-{id}"))
            .stack_size(16 << 20)
            .spawn(move || {
                if let Some(cpu) = pin {
                    pin_to_cpu(cpu);
                }
                let main = {
                    let ready = ready.clone();
                    async move {
                        if let Err(e) = shard_main(id, shared, &req_mesh, &resp_mesh, &ready).await
                        {
                            let _ = ready.send(Err(e));
                        }
                    }
                };
                if let Err(e) = reactor::run(reactor::Config::new(bell), main) {
                    let _ = ready.send(Err(StartError::Executor(id, e.to_string())));
                }
            });
        if let Err(e) = spawned {
            return Err(StartError::Executor(id, e.to_string()));
        }
    }
    drop(ready_tx);
    for _ in 0..shards {
        match ready_rx.recv_timeout(Duration::from_secs(30)) {
            Ok(Ok(_)) => {}
            Ok(Err(e)) => return Err(e),
            Err(_) => return Err(StartError::Executor(0, "timed out starting shards".into())),
        }
    }
    // MEMORY STATS' startup.allocated: what the server holds before any client.
    shared
        .startup_allocated
        .store(info::allocated_now(), Ordering::Relaxed);
    Ok(Server {
        shared,
        shutdown_rx,
    })
}

/// Pins the calling thread to `cpu`.
fn pin_to_cpu(cpu: usize) {
    // SAFETY: a zeroed cpu_set_t filled by CPU_SET and passed by pointer with its size to
    // sched_setaffinity for the calling thread (pid 0).
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        libc::CPU_SET(cpu, &mut set);
        if libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set) != 0 {
            tracing::warn!(
                cpu,
                "could not pin shard: {}",
                std::io::Error::last_os_error()
            );
        }
    }
}

async fn shard_main(
    id: usize,
    shared: Arc<Shared>,
    req_mesh: &Mesh<Req>,
    resp_mesh: &Mesh<Resp>,
    ready: &crossbeam_channel::Sender<Result<usize, StartError>>,
) -> Result<(), StartError> {
    let shards = shared.shards;
    let (req_tx, req_rx) = req_mesh.join(id);
    let (resp_tx, resp_rx) = resp_mesh.join(id);
    let core = Rc::new(Core::new(id, shared.clone(), req_tx, resp_tx));
    core.set_me();
    let (req_rx, resp_rx) = (Rc::new(req_rx), Rc::new(resp_rx));
    core.set_resp_rx(resp_rx.clone());
    for peer in 0..shards {
        if peer != id {
            reactor::spawn_local(core.clone().serve_requests(req_rx.clone(), peer)).detach();
            reactor::spawn_local(core.clone().serve_responses(resp_rx.clone(), peer)).detach();
        }
    }
    reactor::spawn_local(core.clone().expire_loop()).detach();
    reactor::spawn_local(crate::memory::evict_loop(core.clone())).detach();
    if id == 0 {
        reactor::spawn_local(persist::save_point_loop(core.clone())).detach();
        reactor::spawn_local(persist::signal_loop(core.clone())).detach();
        reactor::spawn_local(feed::ping_loop(core.clone())).detach();

        let master = shared
            .config
            .read()
            .ok()
            .and_then(|c| c.get("replicaof"))
            .and_then(|v| {
                let (host, port) = v.split_once(' ')?;
                Some((host.to_string(), port.parse::<u16>().ok()?))
            });
        if let Some(master) = master {
            let core = core.clone();
            reactor::spawn_local(async move {
                // After the data files are loaded, as Redis connects from its cron.
                while core.shared.persist.loading.load(Ordering::Acquire) {
                    reactor::sleep(std::time::Duration::from_millis(10)).await;
                }
                let _ = repl::replicaof(&core, Some(master));
            })
            .detach();
        }
    }
    aof::install(&core);
    tracking::install(&core);
    let own = shared.aof.start.lock().ok().and_then(|mut s| {
        let own = s.as_mut()?;
        Some((own.shards.get_mut(id)?.take()?, own.apply.clone()))
    });
    if let Some((files, apply)) = own {
        reactor::spawn_local(aof::load_own(core.clone(), files, apply)).detach();
    } else if shared.persist.loading.load(Ordering::Acquire) {
        let files = shared
            .persist
            .load
            .lock()
            .map(|l| l.clone())
            .unwrap_or_default();
        reactor::spawn_local(persist::load_shard(core.clone(), files, false)).detach();
    }

    let (addrs, port, unixsocket, perm, backlog) = {
        let c = shared
            .config
            .read()
            .map_err(|_| StartError::Executor(id, "config lock".into()))?;
        (
            c.bind_addrs(),
            c.port(),
            c.unixsocket(),
            c.unixsocketperm(),
            c.tcp_backlog(),
        )
    };
    let bus_addrs = addrs.clone();
    let mut listeners = Vec::new();
    if port != 0 {
        for (addr, optional) in addrs {
            let Some(sa) = bind_addr(&addr, port) else {
                return Err(StartError::Bind(
                    format!("{addr}:{port}"),
                    "invalid address".into(),
                ));
            };
            match listen(sa, backlog) {
                Ok(fd) => listeners.push(fd),
                Err(e) if optional => {
                    if id == 0 {
                        tracing::warn!("Could not bind optional address {sa}: {e}");
                    }
                }
                Err(e) => return Err(StartError::Bind(sa.to_string(), e.to_string())),
            }
        }
    }
    if id == 0 && shared.cluster.is_some() && port != 0 {
        // The cluster bus: core 0 listens on the bus port of every bind address.
        let cport = shared
            .config
            .read()
            .ok()
            .and_then(|c| c.get("cluster-port"))
            .and_then(|v| v.parse::<u16>().ok())
            .filter(|&p| p != 0)
            .unwrap_or(port.wrapping_add(10000));
        let mut fds = Vec::new();
        for (addr, optional) in &bus_addrs {
            let Some(sa) = bind_addr(addr, cport) else {
                continue;
            };
            match listen(sa, backlog) {
                Ok(fd) => fds.push(fd),
                Err(_) if *optional => {}
                Err(e) => return Err(StartError::Bind(sa.to_string(), e.to_string())),
            }
        }
        cluster::bus::start(&core, fds);
    }
    let mut unix = None;
    if let (Some(path), 0) = (unixsocket, id) {
        let _ = std::fs::remove_file(&path);
        let l = std::os::unix::net::UnixListener::bind(&path)
            .and_then(|l| l.set_nonblocking(true).map(|_| l))
            .map_err(|e| StartError::Bind(path.clone(), e.to_string()))?;
        if perm != 0 {
            use std::os::unix::fs::PermissionsExt;
            let _ = std::fs::set_permissions(&path, std::fs::Permissions::from_mode(perm));
        }
        use std::os::unix::io::IntoRawFd;
        let fd = l.into_raw_fd();
        if let Ok(mut fds) = shared.listen_fds.lock() {
            fds.push(fd);
        }
        unix = Some((Listener::from_fd(fd), path.clone()));
    }
    if id == 0 {
        tracing::info!(shards, port, "Ready to accept connections");
    }
    let _ = ready.send(Ok(id));
    accept_tcp(&core, listeners);
    let mut tasks = Vec::new();
    if let Some((l, sock_path)) = unix {
        let core = core.clone();
        tasks.push(reactor::spawn_local(async move {
            loop {
                match l.accept().await {
                    Ok(fd) => {
                        // Redis shows unix clients as "<path>:0".
                        let path = format!("{sock_path}:0");
                        let stream = Stream::from_fd(fd);
                        reactor::spawn_local(serve(
                            core.clone(),
                            stream,
                            path.clone(),
                            path,
                            true,
                            true,
                        ))
                        .detach();
                    }
                    Err(e) if e.kind() == std::io::ErrorKind::NotConnected => break,
                    Err(_) if core.shared.listeners_closing.load(Ordering::Acquire) => break,
                    Err(e) => {
                        tracing::warn!("accept: {e}");
                        reactor::sleep(Duration::from_millis(10)).await;
                    }
                }
            }
        }));
    }
    // Keep the core alive: the accept loops end only when the listeners are shut down.
    futures_lite::future::pending::<()>().await;
    Ok(())
}

/// This core accepts TCP connections on `fds` (listening sockets) from now on, and no more
/// on those it had: their accept loops are dropped, which closes them (CONFIG SET port and
/// bind; the start).
pub(crate) fn accept_tcp(core: &Rc<Core>, fds: Vec<RawFd>) {
    let old = core.tcp_fds.replace(fds.clone());
    if let Ok(mut all) = core.shared.listen_fds.lock() {
        all.retain(|fd| !old.contains(fd));
        all.extend_from_slice(&fds);
    }
    let mut tasks = Vec::with_capacity(fds.len());
    for fd in fds {
        let l = Listener::from_fd(fd);
        let core = core.clone();
        tasks.push(reactor::spawn_local(async move {
            loop {
                match l.accept().await {
                    Ok(fd) => {
                        reactor::spawn_local(serve_tcp(core.clone(), fd)).detach();
                    }
                    Err(e) if e.kind() == std::io::ErrorKind::NotConnected => break,
                    Err(_) if core.shared.listeners_closing.load(Ordering::Acquire) => break,
                    Err(e) => {
                        tracing::warn!("accept: {e}");
                        reactor::sleep(Duration::from_millis(10)).await;
                    }
                }
            }
        }));
    }
    let previous = core.tcp_accept.replace(tasks);
    drop(previous);
}

/// Listening sockets for every one of `shards` cores on each of `addrs` at `port` (none for
/// port 0), or why not (what was opened is closed again). An optional address (`-::1`) that
/// cannot be bound is left out. An address another process accepts on is taken (`ours`:
/// the addresses this server listens on now, not probed).
pub(crate) fn open_listeners(
    shards: usize,
    addrs: &[(String, bool)],
    port: u16,
    backlog: u32,
    ours: &[SocketAddr],
) -> Result<Vec<Vec<RawFd>>, String> {
    let mut out: Vec<Vec<RawFd>> = vec![Vec::new(); shards];
    if port == 0 {
        return Ok(out);
    }
    let close_all = |out: &[Vec<RawFd>]| {
        for fd in out.iter().flatten() {
            // SAFETY: closing sockets this function opened and nothing else holds.
            unsafe {
                libc::close(*fd);
            }
        }
    };
    for (addr, optional) in addrs {
        let Some(sa) = bind_addr(addr, port) else {
            close_all(&out);
            return Err(format!("{addr}: invalid address"));
        };
        // SO_REUSEPORT would share a port another server listens on: probe it first.
        let mut probe = sa;
        if probe.ip().is_unspecified() {
            probe.set_ip(match sa {
                SocketAddr::V4(_) => std::net::Ipv4Addr::LOCALHOST.into(),
                SocketAddr::V6(_) => std::net::Ipv6Addr::LOCALHOST.into(),
            });
        }
        if !ours.contains(&sa)
            && std::net::TcpStream::connect_timeout(&probe, Duration::from_millis(100)).is_ok()
        {
            if *optional {
                continue;
            }
            close_all(&out);
            return Err(format!("{sa}: Address already in use"));
        }
        for fds in out.iter_mut() {
            match listen(sa, backlog) {
                Ok(fd) => fds.push(fd),
                Err(_) if *optional => break,
                Err(e) => {
                    close_all(&out);
                    return Err(format!("{sa}: {e}"));
                }
            }
        }
    }
    Ok(out)
}

/// Every core binds with SO_REUSEPORT, which would let us share a port with another
/// SO_REUSEPORT server (another percore) instead of failing as redis-server does. So first
/// check that nothing accepts connections on each address: if something does, the port is
/// taken. (A connect probe, not a bind probe: a bind probe without SO_REUSEPORT was refused
/// by leftover TIME_WAIT sockets of our own previous run.)
fn ensure_ports_free(config: &Config) -> Result<(), StartError> {
    let port = config.port();
    if port == 0 {
        return Ok(());
    }
    for (addr, _) in config.bind_addrs() {
        let Some(mut sa) = bind_addr(&addr, port) else {
            continue;
        };
        if sa.ip().is_unspecified() {
            sa.set_ip(if sa.is_ipv6() {
                IpAddr::from([0u16, 0, 0, 0, 0, 0, 0, 1])
            } else {
                IpAddr::from([127, 0, 0, 1])
            });
        }
        // A process killed a moment ago (SIGKILL, a supervisor restarting it at once) leaves
        // its listener accepting until the kernel tears its io_uring down, about a
        // millisecond later: only a listener that stays is another server.
        let deadline = std::time::Instant::now() + Duration::from_secs(1);
        while std::net::TcpStream::connect_timeout(&sa, Duration::from_millis(200)).is_ok() {
            if std::time::Instant::now() >= deadline {
                return Err(StartError::Bind(
                    sa.to_string(),
                    "Address already in use".into(),
                ));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
    Ok(())
}

/// A listening socket as redis-server makes it (SO_REUSEADDR, IPV6_V6ONLY, tcp-backlog), plus
/// SO_REUSEPORT so that every core listens on the same port and the kernel spreads
/// connections over them.
fn listen(addr: SocketAddr, backlog: u32) -> std::io::Result<RawFd> {
    use socket2::{Domain, Socket, Type};
    use std::os::unix::io::IntoRawFd;
    let domain = if addr.is_ipv6() {
        Domain::IPV6
    } else {
        Domain::IPV4
    };
    let sock = Socket::new(domain, Type::STREAM, None)?;
    sock.set_reuse_address(true)?;
    sock.set_reuse_port(true)?;
    if addr.is_ipv6() {
        sock.set_only_v6(true)?;
    }
    sock.set_nonblocking(true)?;
    sock.bind(&addr.into())?;
    sock.listen(backlog.clamp(1, i32::MAX as u32) as i32)?;
    Ok(sock.into_raw_fd())
}

async fn serve_tcp(core: Rc<Core>, fd: RawFd) {
    let (peer, local_addr) = {
        // SAFETY: borrows the accepted socket for a few calls; ManuallyDrop keeps it open.
        let sock = std::mem::ManuallyDrop::new(unsafe {
            <std::net::TcpStream as std::os::unix::io::FromRawFd>::from_raw_fd(fd)
        });
        let _ = sock.set_nodelay(true);
        (sock.peer_addr().ok(), sock.local_addr().ok())
    };
    set_keepalive(
        fd,
        core.shared
            .config
            .read()
            .map(|c| c.tcp_keepalive())
            .unwrap_or(300),
    );
    let stream = Stream::from_fd(fd);
    let addr = peer.map(|a| a.to_string()).unwrap_or_default();
    let laddr = local_addr.map(|a| a.to_string()).unwrap_or_default();
    let local = peer.is_some_and(|a| a.ip().is_loopback());
    serve(core, stream, addr, laddr, local, false).await
}

fn set_keepalive(fd: i32, secs: u64) {
    if secs == 0 {
        return;
    }
    let on: libc::c_int = 1;
    let idle = secs.min(i32::MAX as u64) as libc::c_int;
    let intvl = (idle / 3).max(1);
    let cnt: libc::c_int = 3;
    let sz = std::mem::size_of::<libc::c_int>() as libc::socklen_t;
    // SAFETY: setsockopt on an open socket with pointers to live c_ints of the stated size.
    unsafe {
        libc::setsockopt(
            fd,
            libc::SOL_SOCKET,
            libc::SO_KEEPALIVE,
            &on as *const _ as *const _,
            sz,
        );
        libc::setsockopt(
            fd,
            libc::IPPROTO_TCP,
            libc::TCP_KEEPIDLE,
            &idle as *const _ as *const _,
            sz,
        );
        libc::setsockopt(
            fd,
            libc::IPPROTO_TCP,
            libc::TCP_KEEPINTVL,
            &intvl as *const _ as *const _,
            sz,
        );
        libc::setsockopt(
            fd,
            libc::IPPROTO_TCP,
            libc::TCP_KEEPCNT,
            &cnt as *const _ as *const _,
            sz,
        );
    }
}

const DENIED: &[u8] = b"-DENIED Redis is running in protected mode because protected mode is enabled and no password is set for the default user. In this mode connections are only accepted from the loopback interface. If you want to connect from external computers to Redis you may adopt one of the following solutions: 1) Just disable protected mode sending the command 'CONFIG SET protected-mode no' from the loopback interface by connecting to Redis from the same host the server is running, however MAKE SURE Redis is not publicly accessible from internet if you do so. Use CONFIG REWRITE to make this change permanent. 2) Alternatively you can just disable the protected mode by editing the Redis configuration file, and setting the protected mode option to 'no', and then restarting the server. 3) If you started the server manually just for testing, restart it with the '--protected-mode no' option. 4) Set up an authentication password for the default user. NOTE: You only need to do one of the above things in order for the server to start accepting connections from the outside.\r\n";

async fn serve(
    core: Rc<Core>,
    mut stream: Stream,
    addr: String,
    laddr: String,
    local: bool,
    unix: bool,
) {
    let shared = core.shared.clone();
    shared.total_connections.fetch_add(1, Ordering::Relaxed);
    if !local && shared.protected_mode.load(Ordering::Relaxed) && shared.requirepass().is_none() {
        let _ = stream.write(DENIED);
        shared.rejected_connections.fetch_add(1, Ordering::Relaxed);
        return;
    }
    let connected = shared.connected_clients.fetch_add(1, Ordering::Relaxed);
    if connected >= shared.maxclients.load(Ordering::Relaxed) {
        let _ = stream.write(b"-ERR max number of clients reached\r\n");
        shared.connected_clients.fetch_sub(1, Ordering::Relaxed);
        shared.rejected_connections.fetch_add(1, Ordering::Relaxed);
        return;
    }
    let id = shared.next_client_id.fetch_add(1, Ordering::Relaxed);
    let info = Rc::new(client::ClientInfo::new(
        id,
        addr,
        laddr,
        stream.fd(),
        local,
        unix,
    ));
    info.stream.set(Some(stream.handle()));
    core.clients.borrow_mut().insert(id, info.clone());
    let mut conn = conn::Conn::new(core.clone(), info);
    // A bug that panics outside a shard's own guard (`Shard::execute` turns those into
    // error replies) ends this connection, not the core and every client on it.
    let run = std::panic::AssertUnwindSafe(conn.run(&mut stream));
    if futures_lite::FutureExt::catch_unwind(run).await.is_err() {
        tracing::error!(
            client = id,
            "internal error serving a client: connection closed"
        );
        // What the connection's end would have undone.
        multi::unwatch_all(&mut conn).await;
        pubsub::unsubscribe_all(&mut conn).await;
        tracking::disable(&mut conn).await;
    }
    core.clients.borrow_mut().remove(&id);
    shared.connected_clients.fetch_sub(1, Ordering::Relaxed);
}
