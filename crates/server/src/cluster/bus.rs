//! The cluster bus's runtime, on core 0: the listener on the bus port, a link to every
//! known node (PING or MEET at once, then the cron's PINGs), the links peers open (their
//! messages answered with PONG), and the cron every 100 ms (Redis' clusterCron): links
//! opened, handshakes timed out, PINGs to the nodes heard from least recently, nodes
//! silent for cluster-node-timeout flagged PFAIL, the health re-evaluated. What a message
//! means is `gossip`'s; the bytes are `wire`'s.

use super::gossip::{Effects, From};
use super::state::flag;
use super::wire;
use super::Cluster;
use crate::core::Core;
use futures_lite::AsyncReadExt;
use reactor::{Stream, StreamRef};
use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;
use std::time::Duration;

/// Core 0's bus state.
struct Bus {
    next_link: u64,
    /// Links this node opened, by id.
    outbound: HashMap<u64, StreamRef>,
    /// Every link, either way, for CLUSTER LINKS.
    links: HashMap<u64, LinkInfo>,
    rng: u64,
}

struct LinkInfo {
    inbound: bool,
    /// The node at the other end, once known (an inbound link learns it from a message).
    node: Option<String>,
    /// Unix ms it was made.
    ctime: u64,
    stream: StreamRef,
}

/// One line of CLUSTER LINKS: direction `from` (inbound), the node, create-time, bytes
/// queued to send.
pub struct LinkView {
    pub inbound: bool,
    pub node: String,
    pub ctime: u64,
    pub queued: usize,
}

/// CLUSTER LINKS (on core 0): every link associated with a node, in the nodes' order,
/// the one this node opened first.
pub fn links(core: &Core) -> Vec<LinkView> {
    let (Some(cl), Some(bus)) = (&core.shared.cluster, BUS.with(|b| b.borrow().clone())) else {
        return Vec::new();
    };
    // (An outbound link's node is the one whose link it is: a handshake renames it.)
    let nodes: Vec<(String, Option<u64>)> = cl
        .lock()
        .nodes
        .iter()
        .filter(|n| !n.has(flag::HANDSHAKE))
        .map(|n| (n.id.clone(), n.link))
        .collect();
    let b = bus.borrow();
    let view = |l: &LinkInfo, id: &str| LinkView {
        inbound: l.inbound,
        node: id.to_string(),
        ctime: l.ctime,
        queued: l.stream.queued(),
    };
    let mut out = Vec::new();
    for (id, link) in &nodes {
        if let Some(l) = link.and_then(|l| b.links.get(&l)) {
            out.push(view(l, id));
        }
        out.extend(
            b.links
                .values()
                .filter(|l| l.inbound && l.node.as_deref() == Some(id.as_str()))
                .map(|l| view(l, id)),
        );
    }
    out
}

impl Bus {
    fn random(&mut self, n: usize) -> usize {
        // xorshift: only for picking gossip and ping targets.
        self.rng ^= self.rng << 13;
        self.rng ^= self.rng >> 7;
        self.rng ^= self.rng << 17;
        if n == 0 {
            0
        } else {
            (self.rng % n as u64) as usize
        }
    }
}

fn offset(core: &Core) -> u64 {
    core.shared
        .repl
        .offset
        .load(std::sync::atomic::Ordering::SeqCst)
        .max(0) as u64
}

fn announce_ip(core: &Core) -> String {
    core.shared
        .config
        .read()
        .ok()
        .and_then(|c| c.get("cluster-announce-ip"))
        .unwrap_or_default()
}

/// Starts the bus on core 0: its listener (on every bind address, at the bus port) and cron.
pub fn start(core: &Rc<Core>, listen_fds: Vec<std::os::unix::io::RawFd>) {
    let bus = Rc::new(RefCell::new(Bus {
        next_link: 1,
        outbound: HashMap::new(),
        links: HashMap::new(),
        rng: engine::shard::unix_ms() | 1,
    }));
    for fd in listen_fds {
        let listener = reactor::Listener::from_fd(fd);
        let (core, bus) = (core.clone(), bus.clone());
        reactor::spawn_local(async move {
            loop {
                match listener.accept().await {
                    Ok(fd) => {
                        reactor::spawn_local(inbound(core.clone(), bus.clone(), fd)).detach();
                    }
                    Err(e) if e.kind() == std::io::ErrorKind::NotConnected => return,
                    Err(e) => {
                        tracing::warn!("cluster bus accept: {e}");
                        reactor::sleep(Duration::from_millis(10)).await;
                    }
                }
            }
        })
        .detach();
    }
    BUS.with(|b| *b.borrow_mut() = Some(bus.clone()));
    let core = core.clone();
    reactor::spawn_local(async move {
        let mut iteration = 0u64;
        loop {
            reactor::sleep(Duration::from_millis(100)).await;
            iteration += 1;
            if let Some(cl) = &core.shared.cluster {
                cron(&core, cl, &bus, iteration);
            }
        }
    })
    .detach();
}

/// Sends this node's PING (or PONG, MEET) to `stream`, with gossip for node `to`.
fn send_ping(core: &Core, cl: &Cluster, bus: &RefCell<Bus>, stream: &StreamRef, ty: u16, to: &str) {
    let bytes = {
        let mut g = cl.lock();
        let h = g.header(ty, offset(core), &announce_ip(core));
        let mut b = bus.borrow_mut();
        let gossip = g.gossip_for(to, |n| b.random(n));
        if (ty as usize) < g.sent.len() {
            g.sent[ty as usize] += 1;
        }
        wire::encode_ping(&h, &gossip)
    };
    let _ = stream.write(&bytes);
}

fn node_timeout(cl: &Cluster) -> u64 {
    cl.node_timeout
        .load(std::sync::atomic::Ordering::Relaxed)
        .max(100)
}

/// Sends `bytes` (a message of type `ty`) on every link this node opened.
fn broadcast(cl: &Cluster, bus: &RefCell<Bus>, ty: u16, bytes: &[u8]) {
    let links: Vec<StreamRef> = bus.borrow().outbound.values().copied().collect();
    let mut g = cl.lock();
    for l in links {
        if l.write(bytes).is_ok() {
            g.sent[ty as usize] += 1;
        }
    }
}

thread_local! {
    /// Core 0's bus, for messages other cores hand it (`publish_out`).
    static BUS: RefCell<Option<Rc<RefCell<Bus>>>> = const { RefCell::new(None) };
}

/// PUBLISH to every node, or PUBLISHSHARD to the nodes of this node's shard (its master
/// and that master's replicas), as clusterPropagatePublish. Runs on core 0 (other cores
/// reach it with `core::calls::ClusterPublish`).
pub fn publish_out(core: &Core, channel: &[u8], message: &[u8], shard: bool) {
    let (Some(cl), Some(bus)) = (&core.shared.cluster, BUS.with(|b| b.borrow().clone())) else {
        return;
    };
    let bus = &*bus;
    let ty = if shard {
        wire::PUBLISHSHARD
    } else {
        wire::PUBLISH
    };
    let (bytes, targets) = {
        let g = cl.lock();
        let bytes = wire::encode_publish(
            &g.header(ty, offset(core), &announce_ip(core)),
            channel,
            message,
        );
        let me = g.myself();
        let master = if me.has(flag::SLAVE) {
            me.master.clone().unwrap_or_default()
        } else {
            me.id.clone()
        };
        let targets: Vec<u64> = g
            .nodes
            .iter()
            .filter(|n| !n.has(flag::MYSELF) && !n.has(flag::HANDSHAKE))
            .filter(|n| !shard || n.id == master || n.master.as_deref() == Some(master.as_str()))
            .filter_map(|n| n.link)
            .collect();
        (bytes, targets)
    };
    let links: Vec<StreamRef> = {
        let b = bus.borrow();
        targets
            .iter()
            .filter_map(|l| b.outbound.get(l).copied())
            .collect()
    };
    let mut g = cl.lock();
    for l in links {
        if l.write(&bytes).is_ok() {
            g.sent[ty as usize] += 1;
        }
    }
}

/// FAIL about node `id`, to every node.
fn broadcast_fail(core: &Core, cl: &Cluster, bus: &RefCell<Bus>, id: &str) {
    let bytes = {
        let g = cl.lock();
        wire::encode_fail(&g.header(wire::FAIL, offset(core), &announce_ip(core)), id)
    };
    broadcast(cl, bus, wire::FAIL, &bytes);
}

/// Reads messages from `stream` until it closes, handling each.
async fn read_loop(
    core: &Rc<Core>,
    bus: &Rc<RefCell<Bus>>,
    stream: &mut Stream,
    from: From,
    link: u64,
) {
    let Some(cl) = core.shared.cluster.as_ref() else {
        return;
    };
    let handle = stream.handle();
    let mut buf: Vec<u8> = Vec::new();
    let mut chunk = vec![0u8; 64 << 10];
    loop {
        let n = match stream.read(&mut chunk).await {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        buf.extend_from_slice(&chunk[..n]);
        loop {
            let len = match wire::message_len(&buf) {
                Ok(Some(len)) => len,
                Ok(None) => break,
                Err(e) => {
                    tracing::warn!("cluster bus: {e}: link closed");
                    return;
                }
            };
            if buf.len() < len {
                break;
            }
            let msg: Vec<u8> = buf.drain(..len).collect();
            let (h, body) = match wire::decode(&msg) {
                Ok(m) => m,
                Err(e) => {
                    tracing::warn!("cluster bus: {e}: link closed");
                    return;
                }
            };
            let timeout = node_timeout(cl);
            let fx: Effects = {
                let mut g = cl.lock();
                let announced = !announce_ip(core).is_empty();
                g.handle(
                    &h,
                    &body,
                    &from,
                    engine::shard::unix_ms(),
                    announced,
                    timeout,
                )
            };
            if matches!(from, From::Inbound { .. }) {
                // An inbound link belongs to the node that talks on it, once known.
                let known = {
                    let g = cl.lock();
                    g.find(&h.sender)
                        .filter(|&i| !g.nodes[i].has(flag::HANDSHAKE))
                        .map(|i| g.nodes[i].id.clone())
                };
                if let Some(l) = bus.borrow_mut().links.get_mut(&link) {
                    if l.node.is_none() {
                        l.node = known;
                    }
                }
            }
            if fx.pong {
                send_ping(core, cl, bus, &handle, wire::PONG, &h.sender);
            }
            if fx.auth_ack {
                let bytes = {
                    let mut g = cl.lock();
                    g.sent[wire::AUTH_ACK as usize] += 1;
                    wire::encode_bare(&g.header(wire::AUTH_ACK, offset(core), &announce_ip(core)))
                };
                let _ = handle.write(&bytes);
            }
            for id in &fx.broadcast_fail {
                broadcast_fail(core, cl, bus, id);
            }
            if let Some(replica) = &fx.mf_started {
                // Writes pause (twice the failover's time at most); the replica learns
                // this master's final offset from its PINGs, the first one now.
                let until = engine::shard::unix_ms() + 2 * super::failover::MF_TIMEOUT;
                cl.mf_pause_until
                    .store(until, std::sync::atomic::Ordering::SeqCst);
                send_to(core, cl, bus, replica, wire::PING);
            }
            if let Some((channel, message, shard)) = fx.deliver {
                crate::pubsub::deliver_everywhere(core, channel, message, shard);
            }
            if let Some(stale) = fx.update_for {
                let bytes = {
                    let g = cl.lock();
                    g.find(&stale).map(|i| {
                        let n = &g.nodes[i];
                        let hdr = g.header(wire::UPDATE, offset(core), &announce_ip(core));
                        wire::encode_update(&hdr, n.config_epoch, &n.id, &n.slots)
                    })
                };
                if let Some(b) = bytes {
                    let _ = handle.write(&b);
                }
            }
            if fx.changed || fx.save {
                let mut g = cl.lock();
                cl.refresh(&mut g, fx.save);
            }
            if fx.drop_link {
                return;
            }
        }
    }
}

/// A link a peer opened.
async fn inbound(core: Rc<Core>, bus: Rc<RefCell<Bus>>, fd: std::os::unix::io::RawFd) {
    let (peer_ip, local_ip) = {
        // SAFETY: borrows the accepted socket for two calls; ManuallyDrop keeps it open.
        let sock = std::mem::ManuallyDrop::new(unsafe {
            <std::net::TcpStream as std::os::unix::io::FromRawFd>::from_raw_fd(fd)
        });
        let _ = sock.set_nodelay(true);
        let ip = |a: std::io::Result<std::net::SocketAddr>| {
            a.map(|a| a.ip().to_string()).unwrap_or_default()
        };
        (ip(sock.peer_addr()), ip(sock.local_addr()))
    };
    let mut stream = Stream::from_fd(fd);
    let link = {
        let mut b = bus.borrow_mut();
        let link = b.next_link;
        b.next_link += 1;
        let info = LinkInfo {
            inbound: true,
            node: None,
            ctime: engine::shard::unix_ms(),
            stream: stream.handle(),
        };
        b.links.insert(link, info);
        link
    };
    read_loop(
        &core,
        &bus,
        &mut stream,
        From::Inbound { peer_ip, local_ip },
        link,
    )
    .await;
    bus.borrow_mut().links.remove(&link);
}

/// A link this node opens to node `id` at `ip:cport`: MEET or PING at once, then whatever
/// comes back; the node is marked disconnected when it ends.
async fn outbound(core: Rc<Core>, bus: Rc<RefCell<Bus>>, link: u64, ip: String, cport: u16) {
    let Some(cl) = core.shared.cluster.as_ref() else {
        return;
    };
    let connected = crate::repl::connect(&ip, cport).await;
    let gone = |cl: &Cluster| {
        let mut g = cl.lock();
        if let Some(n) = g.nodes.iter_mut().find(|n| n.link == Some(link)) {
            n.link = None;
            n.connected = false;
        }
    };
    let fd = match connected {
        Ok((fd, _, _)) => fd,
        Err(_) => {
            gone(cl);
            bus.borrow_mut().outbound.remove(&link);
            return;
        }
    };
    let mut stream = Stream::from_fd(fd);
    let handle = stream.handle();
    let first = {
        let mut g = cl.lock();
        match g.nodes.iter_mut().find(|n| n.link == Some(link)) {
            Some(n) => {
                n.connected = true;
                if n.ping_sent == 0 {
                    n.ping_sent = engine::shard::unix_ms();
                }
                let meet = n.has(flag::MEET);
                n.flags &= !flag::MEET;
                Some((if meet { wire::MEET } else { wire::PING }, n.id.clone()))
            }
            None => None,
        }
    };
    let Some((ty, id)) = first else {
        return;
    };
    bus.borrow_mut().outbound.insert(link, handle);
    let info = LinkInfo {
        inbound: false,
        node: None,
        ctime: engine::shard::unix_ms(),
        stream: handle,
    };
    bus.borrow_mut().links.insert(link, info);
    send_ping(&core, cl, &bus, &handle, ty, &id);
    read_loop(&core, &bus, &mut stream, From::Outbound(link), link).await;
    bus.borrow_mut().outbound.remove(&link);
    bus.borrow_mut().links.remove(&link);
    gone(cl);
}

/// This replica just became a master (an election won, or a takeover): replication stops,
/// nodes.conf is written, every node gets a PONG with the slots it serves now.
fn now_master(core: &Rc<Core>, cl: &Cluster, bus: &RefCell<Bus>) {
    crate::repl::follow(core, None);
    {
        let mut g = cl.lock();
        cl.refresh(&mut g, true);
    }
    let links: Vec<(StreamRef, String)> = {
        let g = cl.lock();
        let b = bus.borrow();
        g.nodes
            .iter()
            .filter_map(|n| Some((*b.outbound.get(&n.link?)?, n.id.clone())))
            .collect()
    };
    for (l, id) in links {
        send_ping(core, cl, bus, &l, wire::PONG, &id);
    }
}

/// Sends message `ty` (PING, or a bare MFSTART) to node `id` on this node's link to it.
fn send_to(core: &Core, cl: &Cluster, bus: &RefCell<Bus>, id: &str, ty: u16) {
    let link = {
        let g = cl.lock();
        g.find(id).and_then(|i| g.nodes[i].link)
    };
    let Some(stream) = link.and_then(|l| bus.borrow().outbound.get(&l).copied()) else {
        return;
    };
    if ty == wire::PING {
        send_ping(core, cl, bus, &stream, ty, id);
        return;
    }
    let bytes = {
        let mut g = cl.lock();
        g.sent[ty as usize] += 1;
        wire::encode_bare(&g.header(ty, offset(core), &announce_ip(core)))
    };
    let _ = stream.write(&bytes);
}

/// CLUSTER FAILOVER [FORCE|TAKEOVER] (run on core 0, where the bus is): Redis' checks and
/// errors, then the manual failover starts (`State::start_manual_failover`); the default
/// form asks the master to pause (MFSTART), TAKEOVER announces the slots at once.
pub fn manual_failover(core: &Core, force: bool, takeover: bool) -> Result<(), String> {
    let (Some(cl), Some(bus), Some(me)) = (
        &core.shared.cluster,
        BUS.with(|b| b.borrow().clone()),
        core.rc(),
    ) else {
        return Err("ERR the cluster bus is not running".into());
    };
    let master_id = {
        let mut g = cl.lock();
        if g.myself().has(flag::MASTER) {
            return Err("ERR You should send CLUSTER FAILOVER to a replica".into());
        }
        let Some(m) = g.myself().master.clone().and_then(|m| g.find(&m)) else {
            return Err("ERR I'm a replica but my master is unknown to me".into());
        };
        let master = &g.nodes[m];
        if !force && (master.has(flag::FAIL) || master.link.is_none() || !master.connected) {
            return Err("ERR Master is down or failed, please use CLUSTER FAILOVER FORCE".into());
        }
        let id = master.id.clone();
        g.start_manual_failover(engine::shard::unix_ms(), force, takeover);
        id
    };
    if takeover {
        now_master(&me, cl, &bus);
    } else if !force {
        send_to(core, cl, &bus, &master_id, wire::MFSTART);
    }
    Ok(())
}

/// How long this replica has not heard from its master, ms (Redis' data_age).
fn data_age(core: &Core, now: u64) -> u64 {
    let repl = &core.shared.repl;
    let since = if repl.link_up.load(std::sync::atomic::Ordering::Relaxed) {
        repl.last_io_ms.load(std::sync::atomic::Ordering::Relaxed)
    } else {
        repl.down_since_ms()
    };
    // Redis counts whole seconds.
    now.saturating_sub(since) / 1000 * 1000
}

/// clusterCron, every 100 ms.
fn cron(core: &Rc<Core>, cl: &Cluster, bus: &Rc<RefCell<Bus>>, iteration: u64) {
    let now = engine::shard::unix_ms();
    let timeout = node_timeout(cl);
    let mut failed: Vec<String> = Vec::new();
    let mut to_connect = Vec::new();
    let mut to_ping: Vec<(u64, String)> = Vec::new();
    let mut changed = false;
    {
        let mut g = cl.lock();
        // Handshakes that did not complete in time are dropped.
        let handshake_timeout = timeout.max(1000);
        while let Some(i) = g
            .nodes
            .iter()
            .position(|n| n.has(flag::HANDSHAKE) && now.saturating_sub(n.ctime) > handshake_timeout)
        {
            tracing::info!(
                "Handshake with {}:{} timed out",
                g.nodes[i].ip,
                g.nodes[i].port
            );
            if let Some(l) = g.nodes[i].link {
                bus.borrow_mut().outbound.remove(&l);
            }
            g.remove_node(i);
            changed = true;
        }
        let mut b = bus.borrow_mut();
        for n in g.nodes.iter_mut() {
            if n.has(flag::MYSELF) || n.has(flag::NOADDR) || n.link.is_some() || n.ip.is_empty() {
                continue;
            }
            let link = b.next_link;
            b.next_link += 1;
            n.link = Some(link);
            // The PING this link will carry is pending from now: a node that cannot be
            // reached at all times out as one that does not answer.
            if n.ping_sent == 0 {
                n.ping_sent = now;
            }
            to_connect.push((link, n.ip.clone(), n.cport));
        }
        // Every second, a PING to the node heard from least recently among five at random.
        if iteration.is_multiple_of(10) {
            let candidates: Vec<usize> = (0..g.nodes.len())
                .filter(|&i| {
                    let n = &g.nodes[i];
                    !n.has(flag::MYSELF)
                        && !n.has(flag::HANDSHAKE)
                        && n.connected
                        && n.ping_sent == 0
                })
                .collect();
            let mut best: Option<usize> = None;
            for _ in 0..5.min(candidates.len()) {
                let i = candidates[b.random(candidates.len())];
                if best.is_none_or(|j| g.nodes[i].pong_received < g.nodes[j].pong_received) {
                    best = Some(i);
                }
            }
            if let Some(i) = best {
                if let Some(l) = g.nodes[i].link {
                    g.nodes[i].ping_sent = now;
                    to_ping.push((l, g.nodes[i].id.clone()));
                }
            }
        }
        for i in 0..g.nodes.len() {
            let n = &mut g.nodes[i];
            if n.has(flag::MYSELF) || n.has(flag::HANDSHAKE) {
                continue;
            }
            // Silent for half the timeout: ping it now.
            if n.connected && n.ping_sent == 0 && now.saturating_sub(n.pong_received) > timeout / 2
            {
                if let Some(l) = n.link {
                    n.ping_sent = now;
                    to_ping.push((l, n.id.clone()));
                }
            }
            // No answer within the timeout: possibly failing.
            if n.ping_sent != 0
                && now.saturating_sub(n.ping_sent) > timeout
                && !n.has(flag::PFAIL)
                && !n.has(flag::FAIL)
            {
                tracing::info!("*** NODE {} possibly failing", n.id);
                n.flags |= flag::PFAIL;
                changed = true;
            }
            if g.mark_failing_if_needed(i, now, timeout) {
                failed.push(g.nodes[i].id.clone());
                changed = true;
            }
        }
        if changed {
            cl.refresh(&mut g, true);
        }
    }
    // A replica of a master with replicas to spare moves to an orphaned master.
    {
        let mut g = cl.lock();
        if g.replica_migration(now).is_some() {
            cl.refresh(&mut g, true);
        }
    }
    // A replica follows its master (after CLUSTER REPLICATE, a restart, or a new master
    // learnt from the view).
    let want = {
        let g = cl.lock();
        let me = g.myself();
        me.master
            .as_ref()
            .filter(|_| me.has(flag::SLAVE))
            .and_then(|m| g.find(m))
            .map(|i| (g.nodes[i].ip.clone(), g.nodes[i].port))
            .filter(|(ip, port)| !ip.is_empty() && *port != 0)
    };
    if let Some(m) = want {
        if crate::repl::master_of(&core.shared.repl).as_ref() != Some(&m) {
            crate::repl::follow(core, Some(m));
        }
    }
    for id in &failed {
        broadcast_fail(core, cl, bus, id);
    }
    // Manual failovers: timed out, or a replica ready to start; a master handing over
    // PINGs its replica every cron with its final offset.
    let (unpause, ping_replica) = {
        let mut g = cl.lock();
        let unpause = g.manual_failover_cron(now, offset(core));
        let ping = g.mf_replica.clone().filter(|_| g.mf_end != 0);
        (unpause, ping)
    };
    if unpause {
        cl.mf_pause_until
            .store(0, std::sync::atomic::Ordering::SeqCst);
    }
    if let Some(r) = ping_replica {
        send_to(core, cl, bus, &r, wire::PING);
    }
    // A replica of a failed master (or in a manual failover): its election.
    let random = bus.borrow_mut().random(1 << 30) as u64;
    let step = cl
        .lock()
        .election(now, offset(core), timeout, random, data_age(core, now));
    match step {
        Some(super::failover::Election::AskVotes) => {
            let bytes = {
                let mut g = cl.lock();
                cl.refresh(&mut g, true);
                let mut h = g.header(wire::AUTH_REQUEST, offset(core), &announce_ip(core));
                if g.mf_end != 0 {
                    // A manual failover: masters vote though this replica's master is up.
                    h.mflags[0] |= wire::FLAG0_FORCEACK;
                }
                wire::encode_bare(&h)
            };
            broadcast(cl, bus, wire::AUTH_REQUEST, &bytes);
        }
        Some(super::failover::Election::Won) => now_master(core, cl, bus),
        None => {}
    }
    for (link, ip, cport) in to_connect {
        reactor::spawn_local(outbound(core.clone(), bus.clone(), link, ip, cport)).detach();
    }
    for (link, id) in to_ping {
        let stream = bus.borrow().outbound.get(&link).copied();
        if let Some(s) = stream {
            send_ping(core, cl, bus, &s, wire::PING, &id);
        }
    }
    cl.tick();
}
