//! A cluster node's view of the cluster, as Redis 7.0 keeps it (cluster.h's clusterState
//! and clusterNode): the nodes it knows, which node serves each slot, the slots in
//! migration, the epochs, and their text forms (CLUSTER NODES lines, nodes.conf). Pure data:
//! no sockets, no files (the runtime reads and writes them).

use std::fmt::Write;

pub const SLOTS: usize = 16384;

/// Node flags: Redis' CLUSTER_NODE_* bits (the bus carries them as they are).
pub mod flag {
    pub const MASTER: u16 = 1;
    pub const SLAVE: u16 = 2;
    pub const PFAIL: u16 = 4;
    pub const FAIL: u16 = 8;
    pub const MYSELF: u16 = 16;
    pub const HANDSHAKE: u16 = 32;
    pub const NOADDR: u16 = 64;
    pub const MEET: u16 = 128;
    pub const NOFAILOVER: u16 = 512;

    /// Names as CLUSTER NODES prints them (Redis' redisNodeFlagsTable order).
    pub const NAMES: [(u16, &str); 8] = [
        (MYSELF, "myself"),
        (MASTER, "master"),
        (SLAVE, "slave"),
        (PFAIL, "fail?"),
        (FAIL, "fail"),
        (HANDSHAKE, "handshake"),
        (NOADDR, "noaddr"),
        (NOFAILOVER, "nofailover"),
    ];
}

pub struct Node {
    pub id: String,
    pub ip: String,
    pub port: u16,
    pub cport: u16,
    pub hostname: String,
    pub flags: u16,
    /// The master's id, for a replica.
    pub master: Option<String>,
    /// Unix ms: the PING in flight was sent (0: none), the last PONG came.
    pub ping_sent: u64,
    pub pong_received: u64,
    pub config_epoch: u64,
    pub connected: bool,
    /// The slots this node serves (its own claim, as gossiped), a bit each.
    pub slots: Vec<u8>,
    /// Unix ms the node was added (a handshake times out from there).
    pub ctime: u64,
    /// Its replication offset, as its last message said.
    pub repl_offset: u64,
    /// Masters' reports that it is failing: (reporter id, unix ms).
    pub fail_reports: Vec<(String, u64)>,
    /// Unix ms it was flagged FAIL, and this node last voted for a replica of it.
    pub fail_time: u64,
    pub voted_time: u64,
    /// The bus link to it this node opened (an id the runtime gives), if any.
    pub link: Option<u64>,
    /// A master that had replicas (or replaced one that had): a target for replica
    /// migration when orphaned (Redis' CLUSTER_NODE_MIGRATE_TO); since when it has been
    /// orphaned; its replicas and whether it served slots at the last look.
    pub migrate_to: bool,
    pub orphaned_time: u64,
    pub listed_replicas: usize,
    pub had_slots: bool,
}

impl Node {
    pub fn new(id: String, flags: u16) -> Node {
        Node {
            id,
            ip: String::new(),
            port: 0,
            cport: 0,
            hostname: String::new(),
            flags,
            master: None,
            migrate_to: false,
            orphaned_time: 0,
            listed_replicas: 0,
            had_slots: false,
            ping_sent: 0,
            pong_received: 0,
            config_epoch: 0,
            connected: false,
            slots: vec![0; SLOTS / 8],
            ctime: 0,
            repl_offset: 0,
            fail_reports: Vec::new(),
            fail_time: 0,
            voted_time: 0,
            link: None,
        }
    }

    pub fn has(&self, f: u16) -> bool {
        self.flags & f != 0
    }

    pub fn serves(&self, slot: usize) -> bool {
        self.slots[slot / 8] & (1 << (slot % 8)) != 0
    }

    pub fn set_slot(&mut self, slot: usize, on: bool) {
        if on {
            self.slots[slot / 8] |= 1 << (slot % 8);
        } else {
            self.slots[slot / 8] &= !(1 << (slot % 8));
        }
    }

    pub fn slot_count(&self) -> usize {
        self.slots.iter().map(|b| b.count_ones() as usize).sum()
    }

    /// The slots served as (start, end) ranges.
    pub fn ranges(&self) -> Vec<(usize, usize)> {
        let mut out: Vec<(usize, usize)> = Vec::new();
        for s in (0..SLOTS).filter(|&s| self.serves(s)) {
            match out.last_mut() {
                Some((_, end)) if *end + 1 == s => *end = s,
                _ => out.push((s, s)),
            }
        }
        out
    }

    /// `flags` as CLUSTER NODES prints them (`noflags` when none).
    pub fn flag_names(&self) -> String {
        let names: Vec<&str> = flag::NAMES
            .iter()
            .filter(|(f, _)| self.has(*f))
            .map(|(_, n)| *n)
            .collect();
        if names.is_empty() {
            "noflags".into()
        } else {
            names.join(",")
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Health {
    Ok,
    Fail,
}

pub struct State {
    pub nodes: Vec<Node>,
    /// The index of this node in `nodes`.
    pub me: usize,
    pub current_epoch: u64,
    pub last_vote_epoch: u64,
    /// The node serving each slot (an index into `nodes`).
    pub owner: Vec<Option<u32>>,
    /// Slots this node is moving out (to the node id) or in (from the node id).
    pub migrating: std::collections::BTreeMap<u16, String>,
    pub importing: std::collections::BTreeMap<u16, String>,
    pub health: Health,
    /// Masters serving slots, as of the last evaluation (Redis starts it at 1).
    pub size: usize,
    /// Unix ms of the first evaluation of the health (0: none yet), and of the last one
    /// that found this node among a minority of the masters.
    first_eval_ms: u64,
    among_minority_ms: u64,
    /// Cluster bus messages sent and received, by type (CLUSTER INFO).
    pub sent: [u64; 11],
    pub received: [u64; 11],
    /// A replica's election (Redis' failover_auth_*): when it may ask for votes (0: none
    /// scheduled), whether it asked, the votes it got, the epoch it asked in.
    pub auth_time: u64,
    pub auth_sent: bool,
    pub auth_count: usize,
    pub auth_epoch: u64,
    /// A manual failover (CLUSTER FAILOVER; Redis' mf_*): when it times out (unix ms; 0:
    /// none), whether the replica may start its election, the paused master's offset from
    /// its PINGs (-1: none yet), and at the master the replica that asked (MFSTART).
    pub mf_end: u64,
    pub mf_can_start: bool,
    pub mf_master_offset: i64,
    pub mf_replica: Option<String>,
    pub settings: Settings,
    /// When the last "unable to failover" line was logged (they are rate-limited).
    pub cant_failover_logged: u64,
    /// Nodes CLUSTER FORGET removed, and until when (unix ms) gossip does not bring them
    /// back (Redis' blacklist, 60 s).
    pub forgotten: std::collections::HashMap<String, u64>,
}

/// The cluster-* settings the state's decisions read.
#[derive(Clone, Copy, Debug)]
pub struct Settings {
    /// cluster-replica-no-failover: this replica never starts an election of its own.
    pub no_failover: bool,
    /// cluster-replica-validity-factor (0: any data age may fail over).
    pub validity_factor: u64,
    /// repl-ping-replica-period, seconds (part of the data age allowed).
    pub ping_period: u64,
    /// cluster-migration-barrier, cluster-allow-replica-migration.
    pub migration_barrier: usize,
    pub allow_replica_migration: bool,
}

impl Default for Settings {
    fn default() -> Settings {
        Settings {
            no_failover: false,
            validity_factor: 10,
            ping_period: 10,
            migration_barrier: 1,
            allow_replica_migration: true,
        }
    }
}

/// Bus message type names as CLUSTER INFO prints them, by type number.
pub const MSG_NAMES: [&str; 11] = [
    "ping",
    "pong",
    "meet",
    "fail",
    "publish",
    "auth-req",
    "auth-ack",
    "update",
    "mfstart",
    "module",
    "publishshard",
];

impl State {
    /// A node alone in its cluster, a master serving nothing.
    pub fn new(id: String, ip: &str, port: u16, cport: u16) -> State {
        let mut me = Node::new(id, flag::MYSELF | flag::MASTER);
        me.ip = ip.to_string();
        me.port = port;
        me.cport = cport;
        me.connected = true;
        State {
            nodes: vec![me],
            me: 0,
            current_epoch: 0,
            last_vote_epoch: 0,
            owner: vec![None; SLOTS],
            migrating: Default::default(),
            importing: Default::default(),
            health: Health::Fail,
            size: 1,
            first_eval_ms: 0,
            among_minority_ms: 0,
            sent: [0; 11],
            received: [0; 11],
            auth_time: 0,
            auth_sent: false,
            auth_count: 0,
            auth_epoch: 0,
            mf_end: 0,
            mf_can_start: false,
            mf_master_offset: -1,
            mf_replica: None,
            settings: Settings::default(),
            cant_failover_logged: 0,
            forgotten: Default::default(),
        }
    }

    pub fn myself(&self) -> &Node {
        &self.nodes[self.me]
    }

    pub fn myself_mut(&mut self) -> &mut Node {
        let me = self.me;
        &mut self.nodes[me]
    }

    pub fn find(&self, id: &str) -> Option<usize> {
        self.nodes
            .iter()
            .position(|n| n.id.eq_ignore_ascii_case(id))
    }

    /// Slot `slot` is served by node `n` (or by nobody).
    pub fn assign(&mut self, slot: usize, n: Option<usize>) {
        if let Some(old) = self.owner[slot] {
            self.nodes[old as usize].set_slot(slot, false);
        }
        if let Some(n) = n {
            self.nodes[n].set_slot(slot, true);
        }
        self.owner[slot] = n.map(|n| n as u32);
    }

    pub fn owner_of(&self, slot: usize) -> Option<&Node> {
        self.owner[slot].map(|i| &self.nodes[i as usize])
    }

    /// Redis' clusterUpdateState at unix ms `now`: OK when every slot is served by a node
    /// not failing (or full coverage is not required) and a majority of the masters
    /// serving slots is reachable; FAIL otherwise. A master stays FAIL for its first two
    /// seconds (CLUSTER_WRITABLE_DELAY: time to learn the configuration first), and a
    /// master found among a minority turns OK only `rejoin_delay` ms after that.
    pub fn update_health(&mut self, require_full_coverage: bool, now: u64, rejoin_delay: u64) {
        if self.first_eval_ms == 0 {
            self.first_eval_ms = now;
        }
        if self.myself().has(flag::MASTER)
            && self.health == Health::Fail
            && now.saturating_sub(self.first_eval_ms) < 2000
        {
            return;
        }
        let mut ok = true;
        if require_full_coverage {
            ok = self
                .owner
                .iter()
                .all(|o| o.is_some_and(|i| !self.nodes[i as usize].has(flag::FAIL)));
        }
        let serving: Vec<&Node> = self
            .nodes
            .iter()
            .filter(|n| n.has(flag::MASTER) && n.slot_count() > 0)
            .collect();
        self.size = serving.len();
        let reachable = serving
            .iter()
            .filter(|n| !n.has(flag::FAIL) && !n.has(flag::PFAIL))
            .count();
        if reachable < self.size / 2 + 1 {
            ok = false;
            self.among_minority_ms = now;
        }
        let new = if ok { Health::Ok } else { Health::Fail };
        if new == Health::Ok
            && self.health == Health::Fail
            && self.myself().has(flag::MASTER)
            && now.saturating_sub(self.among_minority_ms) < rejoin_delay
        {
            return;
        }
        self.health = new;
    }

    pub fn slots_assigned(&self) -> usize {
        self.owner.iter().filter(|o| o.is_some()).count()
    }

    fn slots_flagged(&self, f: u16) -> usize {
        self.owner
            .iter()
            .filter(|o| o.is_some_and(|i| self.nodes[i as usize].has(f)))
            .count()
    }

    /// CLUSTER INFO's text.
    pub fn info(&self) -> String {
        let mut s = String::new();
        let assigned = self.slots_assigned();
        let pfail = self.slots_flagged(flag::PFAIL);
        let fail = self.slots_flagged(flag::FAIL);
        let _ = write!(
            s,
            "cluster_state:{}\r\ncluster_slots_assigned:{assigned}\r\ncluster_slots_ok:{}\r\ncluster_slots_pfail:{pfail}\r\ncluster_slots_fail:{fail}\r\ncluster_known_nodes:{}\r\ncluster_size:{}\r\ncluster_current_epoch:{}\r\ncluster_my_epoch:{}\r\n",
            if self.health == Health::Ok { "ok" } else { "fail" },
            assigned - pfail - fail,
            self.nodes.len(),
            self.size,
            self.current_epoch,
            self.my_epoch(),
        );
        let mut total = 0;
        for (i, name) in MSG_NAMES.iter().enumerate() {
            if self.sent[i] > 0 {
                let _ = write!(s, "cluster_stats_messages_{name}_sent:{}\r\n", self.sent[i]);
            }
            total += self.sent[i];
        }
        let _ = write!(s, "cluster_stats_messages_sent:{total}\r\n");
        let mut total = 0;
        for (i, name) in MSG_NAMES.iter().enumerate() {
            if self.received[i] > 0 {
                let _ = write!(
                    s,
                    "cluster_stats_messages_{name}_received:{}\r\n",
                    self.received[i]
                );
            }
            total += self.received[i];
        }
        let _ = write!(
            s,
            "cluster_stats_messages_received:{total}\r\ntotal_cluster_links_buffer_limit_exceeded:0\r\n"
        );
        s
    }

    /// Redis' clusterBumpConfigEpochWithoutConsensus: unless this node's config epoch is
    /// already the greatest (and not 0), it takes a new current epoch. Whether it did.
    pub fn bump_epoch(&mut self) -> bool {
        let max = self
            .nodes
            .iter()
            .map(|n| n.config_epoch)
            .max()
            .unwrap_or(0)
            .max(self.current_epoch);
        let mine = self.myself().config_epoch;
        if mine != 0 && mine == max {
            return false;
        }
        self.current_epoch += 1;
        let e = self.current_epoch;
        self.myself_mut().config_epoch = e;
        true
    }

    /// This node's config epoch, or its master's for a replica (cluster_my_epoch).
    pub fn my_epoch(&self) -> u64 {
        let me = self.myself();
        match me.master.as_ref().and_then(|m| self.find(m)) {
            Some(m) if me.has(flag::SLAVE) => self.nodes[m].config_epoch,
            _ => me.config_epoch,
        }
    }

    /// One CLUSTER NODES line (without its newline); `open_slots`: this node's slots in
    /// migration too, as nodes.conf and CLUSTER NODES print them for myself.
    pub fn node_line(&self, n: &Node) -> String {
        let mut s = String::new();
        let _ = write!(s, "{} {}:{}@{}", n.id, n.ip, n.port, n.cport);
        if !n.hostname.is_empty() {
            let _ = write!(s, ",{}", n.hostname);
        }
        // A replica shows its master's config epoch.
        let epoch = match n.master.as_ref().and_then(|m| self.find(m)) {
            Some(m) if n.has(flag::SLAVE) => self.nodes[m].config_epoch,
            _ => n.config_epoch,
        };
        let _ = write!(
            s,
            " {} {} {} {} {} {}",
            n.flag_names(),
            n.master.as_deref().unwrap_or("-"),
            n.ping_sent,
            n.pong_received,
            epoch,
            if n.connected || n.has(flag::MYSELF) {
                "connected"
            } else {
                "disconnected"
            }
        );
        if n.has(flag::MASTER) || !n.has(flag::SLAVE) {
            for (a, b) in n.ranges() {
                if a == b {
                    let _ = write!(s, " {a}");
                } else {
                    let _ = write!(s, " {a}-{b}");
                }
            }
        }
        if n.has(flag::MYSELF) {
            for (slot, to) in &self.migrating {
                let _ = write!(s, " [{slot}->-{to}]");
            }
            for (slot, from) in &self.importing {
                let _ = write!(s, " [{slot}-<-{from}]");
            }
        }
        s
    }

    /// CLUSTER NODES' text: a line per node, each ending in a newline.
    pub fn nodes_text(&self) -> String {
        let mut s = String::new();
        for n in &self.nodes {
            s.push_str(&self.node_line(n));
            s.push('\n');
        }
        s
    }

    /// nodes.conf: the nodes' lines (not those in handshake) and the epochs.
    pub fn config_text(&self) -> String {
        let mut s = String::new();
        for n in self.nodes.iter().filter(|n| !n.has(flag::HANDSHAKE)) {
            s.push_str(&self.node_line(n));
            s.push('\n');
        }
        let _ = writeln!(
            s,
            "vars currentEpoch {} lastVoteEpoch {}",
            self.current_epoch, self.last_vote_epoch
        );
        s
    }

    /// A node loaded from nodes.conf, or the reason it cannot be.
    pub fn from_config(text: &str, ip: &str, port: u16, cport: u16) -> Result<State, String> {
        let mut nodes = Vec::new();
        let mut epochs = (0, 0);
        let mut open: Vec<(u16, bool, String)> = Vec::new();
        let mut owners: Vec<(usize, usize, usize)> = Vec::new();
        for line in text.lines().map(str::trim).filter(|l| !l.is_empty()) {
            let words: Vec<&str> = line.split_whitespace().collect();
            if words[0] == "vars" {
                for pair in words[1..].chunks(2) {
                    let v = pair.get(1).and_then(|v| v.parse().ok()).unwrap_or(0);
                    match pair[0] {
                        "currentEpoch" => epochs.0 = v,
                        "lastVoteEpoch" => epochs.1 = v,
                        _ => {}
                    }
                }
                continue;
            }
            if words.len() < 8 {
                return Err(format!(
                    "Unrecoverable error: corrupted cluster config file \"{line}\"."
                ));
            }
            let mut n = Node::new(words[0].to_string(), 0);
            let (addr, host) = match words[1].split_once(',') {
                Some((a, h)) => (a, h),
                None => (words[1], ""),
            };
            n.hostname = host.to_string();
            let (hostport, bus) = addr.split_once('@').unwrap_or((addr, ""));
            let (h, p) = hostport
                .rsplit_once(':')
                .ok_or("bad address in nodes.conf")?;
            n.ip = h.to_string();
            n.port = p.parse().map_err(|_| "bad port in nodes.conf")?;
            n.cport = bus.parse().unwrap_or(n.port.saturating_add(10000));
            for f in words[2].split(',') {
                if let Some((bit, _)) = flag::NAMES.iter().find(|(_, name)| *name == f) {
                    n.flags |= bit;
                }
            }
            if words[3] != "-" {
                n.master = Some(words[3].to_string());
            }
            n.ping_sent = 0;
            n.pong_received = 0;
            n.config_epoch = words[6].parse().unwrap_or(0);
            let idx = nodes.len();
            for w in &words[8..] {
                if let Some(inner) = w.strip_prefix('[').and_then(|w| w.strip_suffix(']')) {
                    if let Some((slot, to)) = inner.split_once("->-") {
                        open.push((slot.parse().map_err(|_| "bad slot")?, true, to.into()));
                    } else if let Some((slot, from)) = inner.split_once("-<-") {
                        open.push((slot.parse().map_err(|_| "bad slot")?, false, from.into()));
                    }
                    continue;
                }
                let (a, b) = match w.split_once('-') {
                    Some((a, b)) => (a, b),
                    None => (*w, *w),
                };
                let (a, b): (usize, usize) = (
                    a.parse().map_err(|_| "bad slot in nodes.conf")?,
                    b.parse().map_err(|_| "bad slot in nodes.conf")?,
                );
                if a > b || b >= SLOTS {
                    return Err("bad slot range in nodes.conf".into());
                }
                owners.push((idx, a, b));
            }
            nodes.push(n);
        }
        let me = nodes
            .iter()
            .position(|n| n.has(flag::MYSELF))
            .ok_or("Unrecoverable error: the nodes.conf has no myself node")?;
        let mut s = State::new(nodes[me].id.clone(), ip, port, cport);
        s.nodes = nodes;
        s.me = me;
        {
            let m = s.myself_mut();
            // This run's address wins over the file's (Redis: the address is learned anew).
            m.ip = ip.to_string();
            m.port = port;
            m.cport = cport;
            m.connected = true;
        }
        for (idx, a, b) in owners {
            for slot in a..=b {
                s.assign(slot, Some(idx));
            }
        }
        for (slot, out, peer) in open {
            if out {
                s.migrating.insert(slot, peer);
            } else {
                s.importing.insert(slot, peer);
            }
        }
        s.current_epoch = epochs.0;
        s.last_vote_epoch = epochs.1;
        Ok(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nodes_conf_round_trip() {
        let id = "a".repeat(40);
        let mut s = State::new(id.clone(), "127.0.0.1", 7000, 17000);
        for slot in (0..100).chain([200, 16383]) {
            s.assign(slot, Some(0));
        }
        s.migrating.insert(5, "b".repeat(40));
        s.importing.insert(300, "c".repeat(40));
        s.current_epoch = 7;
        s.last_vote_epoch = 3;
        s.myself_mut().config_epoch = 7;
        let text = s.config_text();
        assert_eq!(
            text,
            format!(
                "{id} 127.0.0.1:7000@17000 myself,master - 0 0 7 connected 0-99 200 16383 [5->-{}] [300-<-{}]\nvars currentEpoch 7 lastVoteEpoch 3\n",
                "b".repeat(40),
                "c".repeat(40)
            )
        );
        let back = State::from_config(&text, "127.0.0.1", 7000, 17000).unwrap();
        assert_eq!(back.config_text(), text);
        assert_eq!(back.slots_assigned(), 102);
    }

    #[test]
    fn info_counts_slots_and_health() {
        let mut s = State::new("a".repeat(40), "127.0.0.1", 7000, 17000);
        s.update_health(true, 1000, 500);
        assert!(s
            .info()
            .starts_with("cluster_state:fail\r\ncluster_slots_assigned:0\r\n"));
        assert!(
            s.info().contains("cluster_size:1\r\n"),
            "Redis starts it at 1"
        );
        // Past the writable delay, serving nothing: among a minority.
        s.update_health(true, 3000, 500);
        assert!(s.info().contains("cluster_size:0\r\n"));
        for slot in 0..SLOTS {
            s.assign(slot, Some(0));
        }
        s.update_health(true, 3200, 500);
        assert!(
            s.info().starts_with("cluster_state:fail\r\n"),
            "rejoin delay"
        );
        s.update_health(true, 3600, 500);
        assert!(s.info().starts_with(
            "cluster_state:ok\r\ncluster_slots_assigned:16384\r\ncluster_slots_ok:16384\r\n"
        ));
        assert!(s.info().contains("cluster_size:1\r\n"));
    }
}
