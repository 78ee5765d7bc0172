//! The CLUSTER command (Redis 7.0's clusterCommand), ASKING, READONLY and READWRITE.
//! Replies and errors as redis-server 7.0.15 sends them.

use super::state::{flag, Node, State, SLOTS};
use super::Cluster;
use crate::conn::Conn;
use crate::core::calls;
use engine::{Args, Error};
use resp::Writer;

const DISABLED: &str = "ERR This instance has cluster support disabled";

const HELP: &[&str] = &[
    "CLUSTER <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "ADDSLOTS <slot> [<slot> ...]",
    "    Assign slots to current node.",
    "ADDSLOTSRANGE <start slot> <end slot> [<start slot> <end slot> ...]",
    "    Assign slots which are between <start-slot> and <end-slot> to current node.",
    "BUMPEPOCH",
    "    Advance the cluster config epoch.",
    "COUNT-FAILURE-REPORTS <node-id>",
    "    Return number of failure reports for <node-id>.",
    "COUNTKEYSINSLOT <slot>",
    "    Return the number of keys in <slot>.",
    "DELSLOTS <slot> [<slot> ...]",
    "    Delete slots information from current node.",
    "DELSLOTSRANGE <start slot> <end slot> [<start slot> <end slot> ...]",
    "    Delete slots information which are between <start-slot> and <end-slot> from current node.",
    "FAILOVER [FORCE|TAKEOVER]",
    "    Promote current replica node to being a master.",
    "FORGET <node-id>",
    "    Remove a node from the cluster.",
    "GETKEYSINSLOT <slot> <count>",
    "    Return key names stored by current node in a slot.",
    "FLUSHSLOTS",
    "    Delete current node own slots information.",
    "INFO",
    "    Return information about the cluster.",
    "KEYSLOT <key>",
    "    Return the hash slot for <key>.",
    "MEET <ip> <port> [<bus-port>]",
    "    Connect nodes into a working cluster.",
    "MYID",
    "    Return the node id.",
    "NODES",
    "    Return cluster configuration seen by node. Output format:",
    "    <id> <ip:port> <flags> <master> <pings> <pongs> <epoch> <link> <slot> ...",
    "REPLICATE <node-id>",
    "    Configure current node as replica to <node-id>.",
    "RESET [HARD|SOFT]",
    "    Reset current node (default: soft).",
    "SET-CONFIG-EPOCH <epoch>",
    "    Set config epoch of current node.",
    "SETSLOT <slot> (IMPORTING <node-id>|MIGRATING <node-id>|STABLE|NODE <node-id>)",
    "    Set slot state.",
    "REPLICAS <node-id>",
    "    Return <node-id> replicas.",
    "SAVECONFIG",
    "    Force saving cluster configuration on disk.",
    "SLOTS",
    "    Return information about slots range mappings. Each range is made of:",
    "    start, end, master and replicas IP addresses, ports and ids",
    "SHARDS",
    "    Return information about slot range mappings and the nodes associated with them.",
    "LINKS",
    "    Return information about all network links between this node and its peers.",
    "    Output format is an array where each array element is a map containing attributes of a link",
    "HELP",
    "    Prints this help.",
];

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn msg(m: impl Into<String>) -> Error {
    Error::msg(m.into())
}

/// Redis' getLongLongFromObject: the whole word a 64-bit integer.
fn parse_i64(b: &[u8]) -> Option<i64> {
    std::str::from_utf8(b).ok()?.parse().ok()
}

/// getSlotOrReply.
fn slot_arg(b: &[u8]) -> Result<usize, Error> {
    parse_i64(b)
        .filter(|s| (0..SLOTS as i64).contains(s))
        .map(|s| s as usize)
        .ok_or_else(|| msg("ERR Invalid or out of range slot"))
}

/// clusterLookupNode: 40 characters of `[a-z0-9]`, exactly as named.
fn lookup(st: &State, id: &[u8]) -> Option<usize> {
    if id.len() != 40
        || !id
            .iter()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
    {
        return None;
    }
    st.nodes.iter().position(|n| n.id.as_bytes() == id)
}

pub async fn asking(c: &mut Conn) -> Result<(), Error> {
    if c.core.shared.cluster.is_none() {
        return Err(msg(DISABLED));
    }
    c.asking = true;
    c.asking_fresh = true;
    c.writer().ok();
    Ok(())
}

pub async fn readonly(c: &mut Conn, on: bool) -> Result<(), Error> {
    if c.core.shared.cluster.is_none() {
        return Err(msg(DISABLED));
    }
    c.readonly = on;
    c.writer().ok();
    Ok(())
}

pub async fn cluster(c: &mut Conn, args: Args<'_>) -> Result<(), Error> {
    let core = c.core.clone();
    let n = args.len();
    // Unknown subcommands and wrong counts first, as Redis' command table answers them.
    if let Some(e) =
        engine::lookup(b"cluster").and_then(|s| engine::table::subcommand_error(s, args))
    {
        return Err(msg(e));
    }
    if n == 2 && args.is(1, "help") {
        let mut w = c.writer();
        w.array(HELP.len());
        for line in HELP {
            w.simple(line.as_bytes());
        }
        return Ok(());
    }
    let Some(cl) = core.shared.cluster.as_ref() else {
        return Err(msg(DISABLED));
    };
    let sub = text(args.get(1)).to_ascii_lowercase();
    match (sub.as_str(), n) {
        ("info", 2) => {
            let info = cl.lock().info();
            c.writer().verbatim(info.as_bytes());
        }
        ("myid", 2) => {
            let id = cl.lock().myself().id.clone();
            c.writer().bulk(id.as_bytes());
        }
        ("nodes", 2) => {
            let nodes = cl.lock().nodes_text();
            c.writer().verbatim(nodes.as_bytes());
        }
        ("slots", 2) => {
            let offset = my_offset(&core);
            let g = cl.lock();
            slots_reply(&g, offset, &mut c.writer());
        }
        ("shards", 2) => {
            let offset = my_offset(&core);
            let g = cl.lock();
            shards_reply(&g, offset, &mut c.writer());
        }
        ("links", 2) => {
            let links = core.ask(0, calls::ClusterLinks).await;
            let mut w = c.writer();
            w.array(links.len());
            for l in links {
                w.map(6);
                w.bulk(b"direction");
                w.bulk(if l.inbound { b"from" } else { b"to" });
                w.bulk(b"node");
                w.bulk(l.node.as_bytes());
                w.bulk(b"create-time");
                w.integer(l.ctime as i64);
                w.bulk(b"events");
                w.bulk(if l.queued > 0 { b"rw" } else { b"r" });
                w.bulk(b"send-buffer-allocated");
                w.integer(l.queued as i64);
                w.bulk(b"send-buffer-used");
                w.integer(l.queued as i64);
            }
        }
        ("keyslot", 3) => {
            c.writer()
                .integer(i64::from(engine::slot::key_slot(args.get(2))));
        }
        ("countkeysinslot", 3) => {
            let slot = parse_i64(args.get(2))
                .ok_or_else(|| msg("ERR value is not an integer or out of range"))?;
            if !(0..SLOTS as i64).contains(&slot) {
                return Err(msg("ERR Invalid slot"));
            }
            let shard = core.shared.slots.shard_of_slot(slot as u16);
            let count = core
                .ask(
                    shard,
                    calls::SlotKeys {
                        slot: slot as u16,
                        list: 0,
                    },
                )
                .await;
            c.writer().integer(count.0 as i64);
        }
        ("getkeysinslot", 4) => {
            let bad = || msg("ERR value is not an integer or out of range");
            let slot = parse_i64(args.get(2)).ok_or_else(bad)?;
            let count = parse_i64(args.get(3)).ok_or_else(bad)?;
            if !(0..SLOTS as i64).contains(&slot) || count < 0 {
                return Err(msg("ERR Invalid slot or number of keys"));
            }
            let shard = core.shared.slots.shard_of_slot(slot as u16);
            let (_, keys) = core
                .ask(
                    shard,
                    calls::SlotKeys {
                        slot: slot as u16,
                        list: count as usize,
                    },
                )
                .await;
            let mut w = c.writer();
            w.array(keys.len());
            for k in keys {
                w.bulk(&k);
            }
        }
        ("addslots" | "delslots", _) => {
            let add = sub == "addslots";
            let slots = (2..n)
                .map(|i| slot_arg(args.get(i)))
                .collect::<Result<Vec<_>, _>>()?;
            let mut g = cl.lock();
            check_assignments(&g, &slots, add)?;
            apply_assignments(&mut g, &slots, add);
            cl.changed(&mut g).map_err(config_error)?;
            drop(g);
            c.writer().ok();
        }
        ("addslotsrange" | "delslotsrange", _) => {
            if n % 2 == 1 {
                return Err(Error::Arity(format!("cluster|{sub}")));
            }
            let add = sub == "addslotsrange";
            let mut slots = Vec::new();
            let g = cl.lock();
            for i in (2..n).step_by(2) {
                let a = slot_arg(args.get(i))?;
                let b = slot_arg(args.get(i + 1))?;
                if a > b {
                    return Err(msg(format!(
                        "ERR start slot number {a} is greater than end slot number {b}"
                    )));
                }
                let range: Vec<usize> = (a..=b).collect();
                let mut seen = slots.clone();
                seen.extend_from_slice(&range);
                check_assignments(&g, &seen, add)?;
                slots = seen;
            }
            drop(g);
            let mut g = cl.lock();
            check_assignments(&g, &slots, add)?;
            apply_assignments(&mut g, &slots, add);
            cl.changed(&mut g).map_err(config_error)?;
            drop(g);
            c.writer().ok();
        }
        ("flushslots", 2) => {
            if db0_keys(c).await > 0 {
                return Err(msg("ERR DB must be empty to perform CLUSTER FLUSHSLOTS."));
            }
            let mut g = cl.lock();
            let me = g.me;
            for slot in 0..SLOTS {
                if g.owner[slot] == Some(me as u32) {
                    g.assign(slot, None);
                }
            }
            cl.changed(&mut g).map_err(config_error)?;
            drop(g);
            c.writer().ok();
        }
        ("setslot", _) => setslot(c, cl, args).await?,
        ("bumpepoch", 2) => {
            let mut g = cl.lock();
            let reply = if g.bump_epoch() {
                cl.changed(&mut g).map_err(config_error)?;
                format!("BUMPED {}", g.myself().config_epoch)
            } else {
                format!("STILL {}", g.myself().config_epoch)
            };
            drop(g);
            c.writer().simple(reply.as_bytes());
        }
        ("set-config-epoch", 3) => {
            let epoch = parse_i64(args.get(2))
                .ok_or_else(|| msg("ERR value is not an integer or out of range"))?;
            if epoch < 0 {
                return Err(msg(format!("ERR Invalid config epoch specified: {epoch}")));
            }
            let mut g = cl.lock();
            if g.nodes.len() > 1 {
                return Err(msg("ERR The user can assign a config epoch only when the node does not know any other node."));
            }
            if g.myself().config_epoch != 0 {
                return Err(msg("ERR Node config epoch is already non-zero"));
            }
            g.myself_mut().config_epoch = epoch as u64;
            g.current_epoch = g.current_epoch.max(epoch as u64);
            cl.changed(&mut g).map_err(config_error)?;
            drop(g);
            c.writer().ok();
        }
        ("saveconfig", 2) => {
            let g = cl.lock();
            cl.save(&g).map_err(|e| {
                msg(format!(
                    "ERR error saving the cluster node config: {}",
                    crate::aof::strerror(&e)
                ))
            })?;
            drop(g);
            c.writer().ok();
        }
        ("count-failure-reports", 3) => {
            let g = cl.lock();
            lookup(&g, args.get(2))
                .ok_or_else(|| msg(format!("ERR Unknown node {}", text(args.get(2)))))?;
            drop(g);
            // Failure reports come over the bus, which percore does not run yet.
            c.writer().integer(0);
        }
        ("replicas" | "slaves", 3) => {
            let g = cl.lock();
            let i = lookup(&g, args.get(2))
                .ok_or_else(|| msg(format!("ERR Unknown node {}", text(args.get(2)))))?;
            if g.nodes[i].has(flag::SLAVE) {
                return Err(msg("ERR The specified node is not a master"));
            }
            let id = g.nodes[i].id.clone();
            let lines: Vec<String> = g
                .nodes
                .iter()
                .filter(|r| r.master.as_deref() == Some(id.as_str()))
                .map(|r| g.node_line(r))
                .collect();
            drop(g);
            let mut w = c.writer();
            w.array(lines.len());
            for l in lines {
                w.bulk(l.as_bytes());
            }
        }
        ("forget", 3) => {
            let mut g = cl.lock();
            let i = lookup(&g, args.get(2))
                .ok_or_else(|| msg(format!("ERR Unknown node {}", text(args.get(2)))))?;
            if i == g.me {
                return Err(msg("ERR I tried hard but I can't forget myself..."));
            }
            if g.myself().master.as_deref() == Some(g.nodes[i].id.as_str()) {
                return Err(msg("ERR Can't forget my master!"));
            }
            let id = g.nodes[i].id.clone();
            g.forgotten.insert(id, engine::shard::unix_ms() + 60_000);
            g.remove_node(i);
            cl.changed(&mut g).map_err(config_error)?;
            drop(g);
            c.writer().ok();
        }
        ("reset", 2 | 3) => {
            let hard = match n {
                2 => false,
                _ if args.is(2, "hard") => true,
                _ if args.is(2, "soft") => false,
                _ => return Err(Error::Syntax),
            };
            let master = cl.lock().myself().has(flag::MASTER);
            if master && db0_keys(c).await > 0 {
                return Err(msg(
                    "ERR CLUSTER RESET can't be called with master nodes containing keys",
                ));
            }
            let was_replica = cl.lock().myself().has(flag::SLAVE);
            if was_replica {
                // A replica turns master with nothing (Redis flushes it).
                crate::repl::follow(&core, None);
                core.ask_all(
                    |_| calls::Flush {
                        db: None,
                        lazy: false,
                        journal: false,
                    },
                    None,
                )
                .await;
            }
            let mut g = cl.lock();
            reset(&mut g, hard);
            cl.changed(&mut g).map_err(config_error)?;
            drop(g);
            c.writer().ok();
        }
        ("meet", 4 | 5) => {
            let port = parse_i64(args.get(3)).ok_or_else(|| {
                msg(format!(
                    "ERR Invalid TCP base port specified: {}",
                    text(args.get(3))
                ))
            })?;
            let cport = match n {
                5 => parse_i64(args.get(4)).ok_or_else(|| {
                    msg(format!(
                        "ERR Invalid TCP bus port specified: {}",
                        text(args.get(4))
                    ))
                })?,
                _ => port + 10000,
            };
            let ip = text(args.get(2));
            if ip.parse::<std::net::IpAddr>().is_err()
                || !(1..=65535).contains(&port)
                || !(1..=65535).contains(&cport)
            {
                return Err(msg(format!(
                    "ERR Invalid node address specified: {ip}:{}",
                    text(args.get(3))
                )));
            }
            let mut g = cl.lock();
            let ip = ip
                .parse::<std::net::IpAddr>()
                .map(|a| a.to_string())
                .unwrap_or(ip);
            if g.start_handshake(
                &ip,
                port as u16,
                cport as u16,
                true,
                engine::shard::unix_ms(),
            ) {
                cl.refresh(&mut g, false);
            }
            drop(g);
            c.writer().ok();
        }
        ("replicate", 3) => {
            let (master_me, my_slots) = {
                let g = cl.lock();
                let i = lookup(&g, args.get(2))
                    .ok_or_else(|| msg(format!("ERR Unknown node {}", text(args.get(2)))))?;
                if i == g.me {
                    return Err(msg("ERR Can't replicate myself"));
                }
                if g.nodes[i].has(flag::SLAVE) {
                    return Err(msg("ERR I can only replicate a master, not a replica."));
                }
                (g.myself().has(flag::MASTER), g.myself().slot_count())
            };
            if master_me && (my_slots > 0 || db0_keys(c).await > 0) {
                return Err(msg(
                    "ERR To set a master the node must be empty and without assigned slots.",
                ));
            }
            let mut g = cl.lock();
            let Some(i) = lookup(&g, args.get(2)) else {
                return Err(msg(format!("ERR Unknown node {}", text(args.get(2)))));
            };
            let (id, addr) = {
                let n = &g.nodes[i];
                (n.id.clone(), (n.ip.clone(), n.port))
            };
            // clusterSetMaster: a replica of it, open slots closed, replication started.
            let me = g.myself_mut();
            me.flags = (me.flags & !flag::MASTER) | flag::SLAVE;
            me.master = Some(id);
            g.migrating.clear();
            g.importing.clear();
            cl.changed(&mut g).map_err(config_error)?;
            drop(g);
            crate::repl::follow(&core, Some(addr));
            c.writer().ok();
        }
        ("failover", 2 | 3) => {
            if n == 3 && !args.is(2, "force") && !args.is(2, "takeover") {
                return Err(Error::Syntax);
            }
            let call = crate::core::calls::ClusterFailover {
                force: n == 3,
                takeover: n == 3 && args.is(2, "takeover"),
            };
            core.ask(0, call).await.map_err(msg)?;
            c.writer().ok();
        }
        _ => {
            return Err(msg(format!(
                "ERR unknown subcommand or wrong number of arguments for '{}'. Try CLUSTER HELP.",
                text(&args.get(1)[..args.get(1).len().min(128)])
            )))
        }
    }
    Ok(())
}

/// This node's replication offset (CLUSTER SLOTS and SHARDS show it for itself).
fn my_offset(core: &crate::core::Core) -> i64 {
    core.shared
        .repl
        .offset
        .load(std::sync::atomic::Ordering::SeqCst)
}

fn config_error(e: std::io::Error) -> Error {
    tracing::error!("Fatal: can't update cluster config file: {e}");
    msg(format!(
        "ERR error saving the cluster node config: {}",
        crate::aof::strerror(&e)
    ))
}

/// Keys in database 0 on every shard.
async fn db0_keys(c: &Conn) -> i64 {
    c.core
        .ask_all(|_| calls::Dbsize(0), None)
        .await
        .into_iter()
        .sum()
}

/// checkSlotAssignmentsOrReply, over `slots` in order.
fn check_assignments(st: &State, slots: &[usize], add: bool) -> Result<(), Error> {
    let mut seen = vec![false; SLOTS];
    for &s in slots {
        if add && st.owner[s].is_some() {
            return Err(msg(format!("ERR Slot {s} is already busy")));
        }
        if !add && st.owner[s].is_none() {
            return Err(msg(format!("ERR Slot {s} is already unassigned")));
        }
        if seen[s] {
            return Err(msg(format!("ERR Slot {s} specified multiple times")));
        }
        seen[s] = true;
    }
    Ok(())
}

fn apply_assignments(st: &mut State, slots: &[usize], add: bool) {
    let me = st.me;
    for &s in slots {
        st.importing.remove(&(s as u16));
        st.assign(s, add.then_some(me));
    }
}

async fn setslot(c: &mut Conn, cl: &Cluster, args: Args<'_>) -> Result<(), Error> {
    let n = args.len();
    if cl.lock().myself().has(flag::SLAVE) {
        return Err(msg("ERR Please use SETSLOT only with masters."));
    }
    let slot = slot_arg(args.get(2))?;
    let action = text(args.get(3)).to_ascii_lowercase();
    let invalid =
        || msg("ERR Invalid CLUSTER SETSLOT action or number of arguments. Try CLUSTER HELP");
    let node_arg = |g: &State, unknown: &str| -> Result<usize, Error> {
        let i = lookup(g, args.get(4))
            .ok_or_else(|| msg(format!("ERR {unknown} {}", text(args.get(4)))))?;
        if g.nodes[i].has(flag::SLAVE) {
            return Err(msg("ERR Target node is not a master"));
        }
        Ok(i)
    };
    match (action.as_str(), n) {
        ("migrating", 5) => {
            let mut g = cl.lock();
            if g.owner[slot] != Some(g.me as u32) {
                return Err(msg(format!("ERR I'm not the owner of hash slot {slot}")));
            }
            let i = node_arg(&g, "I don't know about node")?;
            let id = g.nodes[i].id.clone();
            g.migrating.insert(slot as u16, id);
            cl.changed_markers(&mut g).map_err(config_error)?;
        }
        ("importing", 5) => {
            let mut g = cl.lock();
            if g.owner[slot] == Some(g.me as u32) {
                return Err(msg(format!(
                    "ERR I'm already the owner of hash slot {slot}"
                )));
            }
            let i = node_arg(&g, "I don't know about node")?;
            let id = g.nodes[i].id.clone();
            g.importing.insert(slot as u16, id);
            cl.changed_markers(&mut g).map_err(config_error)?;
        }
        ("stable", 4) => {
            let mut g = cl.lock();
            g.migrating.remove(&(slot as u16));
            g.importing.remove(&(slot as u16));
            cl.changed_markers(&mut g).map_err(config_error)?;
        }
        ("node", 5) => {
            let (target, mine) = {
                let g = cl.lock();
                let i = node_arg(&g, "Unknown node")?;
                (i, g.owner[slot] == Some(g.me as u32))
            };
            let me = cl.lock().me;
            let keys = if mine {
                let shard = c.core.shared.slots.shard_of_slot(slot as u16);
                c.core
                    .ask(
                        shard,
                        calls::SlotKeys {
                            slot: slot as u16,
                            list: 0,
                        },
                    )
                    .await
                    .0
            } else {
                0
            };
            let mut g = cl.lock();
            if mine && target != me && keys != 0 {
                return Err(msg(format!("ERR Can't assign hashslot {slot} to a different node while I still hold keys for this hash slot.")));
            }
            if keys == 0 {
                g.migrating.remove(&(slot as u16));
            }
            g.assign(slot, Some(target));
            if target == me && g.importing.remove(&(slot as u16)).is_some() {
                g.bump_epoch();
            }
            cl.changed(&mut g).map_err(config_error)?;
        }
        _ => return Err(invalid()),
    }
    c.writer().ok();
    Ok(())
}

/// clusterReset: a master again, every slot and every other node forgotten; HARD: epochs
/// to 0 and a new id.
fn reset(st: &mut State, hard: bool) {
    st.migrating.clear();
    st.importing.clear();
    for slot in 0..SLOTS {
        st.assign(slot, None);
    }
    while st.nodes.len() > 1 {
        let other = if st.me == 0 { 1 } else { 0 };
        st.remove_node(other);
    }
    let me = st.myself_mut();
    me.flags = (me.flags & !(flag::SLAVE)) | flag::MASTER;
    me.master = None;
    if hard {
        me.config_epoch = 0;
        me.id = crate::shared::run_id();
        st.current_epoch = 0;
        st.last_vote_epoch = 0;
    }
}

/// A node's entry in CLUSTER SLOTS: endpoint, port, id, metadata.
fn slots_node(n: &Node, w: &mut Writer) {
    w.array(4);
    w.bulk(n.ip.as_bytes());
    w.integer(i64::from(n.port));
    w.bulk(n.id.as_bytes());
    if n.hostname.is_empty() {
        w.map(0);
    } else {
        w.map(1);
        w.bulk(b"hostname");
        w.bulk(n.hostname.as_bytes());
    }
}

/// CLUSTER SLOTS: a run of consecutive slots per owner, the master then the replicas
/// whose offset is known.
fn slots_reply(st: &State, my_offset: i64, w: &mut Writer) {
    let mut runs: Vec<(usize, usize, u32)> = Vec::new();
    for (slot, o) in st.owner.iter().enumerate() {
        let Some(o) = *o else { continue };
        match runs.last_mut() {
            Some((_, end, owner)) if *owner == o && *end + 1 == slot => *end = slot,
            _ => runs.push((slot, slot, o)),
        }
    }
    w.array(runs.len());
    for (a, b, o) in runs {
        let master = &st.nodes[o as usize];
        // Replicas whose offset is known (from their messages, or this node's own).
        let replicas: Vec<&Node> = st
            .nodes
            .iter()
            .filter(|r| {
                r.master.as_deref() == Some(master.id.as_str())
                    && !r.has(flag::FAIL)
                    && (if r.has(flag::MYSELF) {
                        my_offset
                    } else {
                        r.repl_offset as i64
                    }) != 0
            })
            .collect();
        w.array(3 + replicas.len());
        w.integer(a as i64);
        w.integer(b as i64);
        slots_node(master, w);
        for r in replicas {
            slots_node(r, w);
        }
    }
}

/// CLUSTER SHARDS: one entry per master, its slot ranges and its nodes.
fn shards_reply(st: &State, my_offset: i64, w: &mut Writer) {
    let masters: Vec<&Node> = st.nodes.iter().filter(|n| n.has(flag::MASTER)).collect();
    w.array(masters.len());
    for m in masters {
        w.map(2);
        w.bulk(b"slots");
        let ranges = m.ranges();
        w.array(ranges.len() * 2);
        for (a, b) in ranges {
            w.integer(a as i64);
            w.integer(b as i64);
        }
        w.bulk(b"nodes");
        let replicas: Vec<&Node> = st
            .nodes
            .iter()
            .filter(|r| r.master.as_deref() == Some(m.id.as_str()))
            .collect();
        w.array(1 + replicas.len());
        for n in std::iter::once(m).chain(replicas) {
            let me = n.has(flag::MYSELF);
            let offset = if me { my_offset } else { n.repl_offset as i64 };
            w.map(if n.hostname.is_empty() { 7 } else { 8 });
            w.bulk(b"id");
            w.bulk(n.id.as_bytes());
            w.bulk(b"port");
            w.integer(i64::from(n.port));
            w.bulk(b"ip");
            w.bulk(n.ip.as_bytes());
            w.bulk(b"endpoint");
            w.bulk(n.ip.as_bytes());
            if !n.hostname.is_empty() {
                w.bulk(b"hostname");
                w.bulk(n.hostname.as_bytes());
            }
            w.bulk(b"role");
            w.bulk(if n.has(flag::SLAVE) {
                b"replica" as &[u8]
            } else {
                b"master"
            });
            w.bulk(b"replication-offset");
            w.integer(offset);
            w.bulk(b"health");
            w.bulk(if n.has(flag::FAIL) {
                b"fail" as &[u8]
            } else if n.has(flag::SLAVE) && offset == 0 {
                b"loading"
            } else {
                b"online"
            });
        }
    }
}
