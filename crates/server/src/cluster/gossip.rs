//! What a node does with the bus's PING, PONG, MEET, FAIL and UPDATE messages (Redis 7.0's
//! clusterProcessPacket and clusterProcessGossipSection), and what it puts in its own:
//! nodes met and handshaken, addresses learnt, roles, slots claimed with a greater config
//! epoch taken over, epochs raised, config-epoch collisions resolved. Pure: the runtime
//! (`bus`) owns the sockets and sends what these functions decide.

use super::state::{flag, Node, State, SLOTS};
use super::wire::{self, Body, Gossip, Header};

/// Where a message came from.
pub enum From {
    /// A link this node opened (its id).
    Outbound(u64),
    /// A link a peer opened: the peer's address and this node's address on it.
    Inbound { peer_ip: String, local_ip: String },
}

/// What the runtime must do after a message.
#[derive(Default)]
pub struct Effects {
    /// Answer with a PONG on the same link.
    pub pong: bool,
    /// nodes.conf must be written.
    pub save: bool,
    /// The view changed (routes to republish).
    pub changed: bool,
    /// Close this link.
    pub drop_link: bool,
    /// Send UPDATE to the sender: (the node whose slots it claims wrongly).
    pub update_for: Option<String>,
    /// Answer the sender's FAILOVER_AUTH_REQUEST with this node's vote.
    pub auth_ack: bool,
    /// Nodes just flagged FAIL: every node is told.
    pub broadcast_fail: Vec<String>,
    /// A message published elsewhere, for this node's subscribers: (channel, message,
    /// shard channel).
    pub deliver: Option<(Vec<u8>, Vec<u8>, bool)>,
    /// A replica asked this master for a manual failover (MFSTART): pause writes, PING it.
    pub mf_started: Option<String>,
}

fn random_id() -> String {
    crate::shared::run_id()
}

impl State {
    /// CLUSTER MEET (and gossip about an unknown node): a node in handshake, to be met
    /// (MEET) by the next cron. False if one is being handshaken at that address already.
    pub fn start_handshake(
        &mut self,
        ip: &str,
        port: u16,
        cport: u16,
        meet: bool,
        now: u64,
    ) -> bool {
        if self
            .nodes
            .iter()
            .any(|n| n.has(flag::HANDSHAKE) && n.ip == ip && n.port == port && n.cport == cport)
        {
            return false;
        }
        let mut n = Node::new(
            random_id(),
            flag::HANDSHAKE | if meet { flag::MEET } else { 0 },
        );
        n.ip = ip.to_string();
        n.port = port;
        n.cport = cport;
        n.ctime = now;
        self.nodes.push(n);
        true
    }

    /// The header of a message of type `ty` from this node (a replica sends its master's
    /// slots and config epoch).
    pub fn header(&self, ty: u16, offset: u64, announce_ip: &str) -> Header {
        let me = self.myself();
        let master = me
            .master
            .as_ref()
            .filter(|_| me.has(flag::SLAVE))
            .and_then(|m| self.find(m))
            .map(|i| &self.nodes[i])
            .unwrap_or(me);
        Header {
            ty,
            count: 0,
            port: me.port,
            pport: 0,
            cport: me.cport,
            current_epoch: self.current_epoch,
            config_epoch: master.config_epoch,
            offset,
            sender: me.id.clone(),
            myslots: master.slots.clone(),
            slaveof: me.master.clone().filter(|_| me.has(flag::SLAVE)),
            myip: announce_ip.to_string(),
            flags: me.flags & !flag::MYSELF | flag::MYSELF,
            state: if self.health == super::state::Health::Ok {
                0
            } else {
                1
            },
            // A master paused for a manual failover says so: its offset is final.
            mflags: [
                if me.has(flag::MASTER) && self.mf_end != 0 {
                    wire::FLAG0_PAUSED
                } else {
                    0
                },
                0,
                0,
            ],
            extensions: 0,
            hostname: Some(me.hostname.clone()).filter(|n| !n.is_empty()),
        }
    }

    /// Gossip entries for a PING to `to`: a tenth of the nodes, at least 3 (as many as
    /// there are), never this node, the receiver, nodes in handshake or without address,
    /// picked from `pick` (random numbers).
    pub fn gossip_for(&self, to: &str, mut pick: impl FnMut(usize) -> usize) -> Vec<Gossip> {
        let candidates: Vec<&Node> = self
            .nodes
            .iter()
            .filter(|n| {
                !n.has(flag::MYSELF)
                    && !n.has(flag::HANDSHAKE)
                    && !n.has(flag::NOADDR)
                    && n.id != to
            })
            .collect();
        let wanted = (self.nodes.len() / 10).max(3).min(candidates.len());
        let mut chosen: Vec<usize> = Vec::new();
        let mut tries = 0;
        while chosen.len() < wanted && tries < wanted * 3 + 10 {
            tries += 1;
            let i = pick(candidates.len());
            if !chosen.contains(&i) {
                chosen.push(i);
            }
        }
        // Nodes possibly failing always go (their reports reach a majority sooner).
        for (i, n) in candidates.iter().enumerate() {
            if n.has(flag::PFAIL) && !chosen.contains(&i) {
                chosen.push(i);
            }
        }
        chosen
            .into_iter()
            .map(|i| {
                let n = candidates[i];
                Gossip {
                    id: n.id.clone(),
                    ping_sent: (n.ping_sent / 1000) as u32,
                    pong_received: (n.pong_received / 1000) as u32,
                    ip: n.ip.clone(),
                    port: n.port,
                    cport: n.cport,
                    flags: n.flags,
                    pport: 0,
                }
            })
            .collect()
    }

    fn index_of_link(&self, link: u64) -> Option<usize> {
        self.nodes.iter().position(|n| n.link == Some(link))
    }

    /// Removes node `i` (its slots unassigned, replicas left masterless).
    pub fn remove_node(&mut self, i: usize) {
        for slot in 0..SLOTS {
            if self.owner[slot] == Some(i as u32) {
                self.assign(slot, None);
            }
        }
        let id = self.nodes[i].id.clone();
        self.nodes.remove(i);
        if self.me > i {
            self.me -= 1;
        }
        for o in self.owner.iter_mut().flatten() {
            if *o > i as u32 {
                *o -= 1;
            }
        }
        for n in &mut self.nodes {
            if n.master.as_deref() == Some(id.as_str()) {
                n.master = None;
            }
        }
        self.migrating.retain(|_, v| *v != id);
        self.importing.retain(|_, v| *v != id);
    }

    /// One message, as clusterProcessPacket handles it.
    pub fn handle(
        &mut self,
        h: &Header,
        body: &Body,
        from: &From,
        now: u64,
        announced_ip: bool,
        node_timeout: u64,
    ) -> Effects {
        let mut fx = Effects::default();
        let ty = h.ty;
        if (ty as usize) < self.received.len() {
            self.received[ty as usize] += 1;
        }
        let mut sender = self
            .find(&h.sender)
            .filter(|&i| !self.nodes[i].has(flag::HANDSHAKE));
        // Epochs: the greatest seen wins.
        if let Some(s) = sender {
            if h.current_epoch > self.current_epoch {
                self.current_epoch = h.current_epoch;
                fx.save = true;
            }
            if h.config_epoch > self.nodes[s].config_epoch && h.slaveof.is_none() {
                self.nodes[s].config_epoch = h.config_epoch;
                fx.save = true;
            }
            // This replica's master, paused for a manual failover, with its offset. Redis
            // keeps the first such offset; the latest is kept here, since writes admitted
            // before the pause may still be joining the master's stream.
            let me = self.myself();
            if me.has(flag::SLAVE)
                && me.master.as_deref() == Some(h.sender.as_str())
                && h.mflags[0] & wire::FLAG0_PAUSED != 0
            {
                if self.mf_master_offset == -1 {
                    tracing::warn!(
                        "Received replication offset for paused master manual failover: {}",
                        h.offset
                    );
                }
                self.mf_master_offset = h.offset as i64;
            }
        }
        if ty == wire::PING || ty == wire::MEET {
            // This node's address, learnt from a MEET (or any PING while unknown).
            if let From::Inbound { local_ip, .. } = from {
                if !announced_ip
                    && (ty == wire::MEET || self.myself().ip.is_empty())
                    && !local_ip.is_empty()
                    && self.myself().ip != *local_ip
                {
                    tracing::info!("IP address for this node updated to {local_ip}");
                    self.myself_mut().ip = local_ip.clone();
                    fx.save = true;
                    fx.changed = true;
                }
            }
            if sender.is_none() && ty == wire::MEET {
                // A node that met us: it will be handshaken from here.
                let ip = match from {
                    From::Inbound { peer_ip, .. } if h.myip.is_empty() => peer_ip.clone(),
                    _ => h.myip.clone(),
                };
                self.start_handshake(&ip, h.port, h.cport, false, now);
                if let Body::Gossip(g) = body {
                    self.gossip(None, g, now, node_timeout);
                }
                fx.save = true;
                fx.changed = true;
            }
            fx.pong = true;
        }
        if ty == wire::PING || ty == wire::PONG || ty == wire::MEET {
            if let From::Outbound(link) = from {
                if let Some(i) = self.index_of_link(*link) {
                    if self.nodes[i].has(flag::HANDSHAKE) {
                        // The first PONG of a handshake names the node.
                        if ty != wire::PONG {
                            return fx;
                        }
                        if let Some(known) = sender {
                            // Known under its real id already: update its address, drop this.
                            let (ip, port, cport) = {
                                let n = &self.nodes[i];
                                (n.ip.clone(), n.port, n.cport)
                            };
                            let k = &mut self.nodes[known];
                            if k.ip != ip || k.port != port || k.cport != cport {
                                k.ip = ip;
                                k.port = port;
                                k.cport = cport;
                                fx.save = true;
                            }
                            self.remove_node(i);
                            fx.drop_link = true;
                            fx.changed = true;
                            return fx;
                        }
                        let n = &mut self.nodes[i];
                        tracing::info!("Handshake with node {} completed.", h.sender);
                        n.id = h.sender.clone();
                        n.flags &= !(flag::HANDSHAKE | flag::MEET);
                        n.flags |= h.flags & (flag::MASTER | flag::SLAVE);
                        fx.save = true;
                        fx.changed = true;
                        sender = Some(i);
                    } else if self.nodes[i].id != h.sender {
                        // The node at this address changed its id: forget the address.
                        let n = &mut self.nodes[i];
                        n.flags |= flag::NOADDR;
                        n.ip.clear();
                        n.port = 0;
                        n.cport = 0;
                        fx.drop_link = true;
                        fx.save = true;
                        return fx;
                    }
                }
            }
            let Some(s) = sender else {
                return fx;
            };
            // The sender's address as seen by this link.
            if let From::Inbound { peer_ip, .. } = from {
                let ip = if h.myip.is_empty() { peer_ip } else { &h.myip };
                let n = &mut self.nodes[s];
                if (n.ip != *ip || n.port != h.port || n.cport != h.cport) && !ip.is_empty() {
                    n.ip = ip.clone();
                    n.port = h.port;
                    n.cport = h.cport;
                    n.flags &= !flag::NOADDR;
                    fx.save = true;
                    fx.changed = true;
                }
            }
            self.nodes[s].repl_offset = h.offset;
            if ty == wire::PONG {
                let n = &mut self.nodes[s];
                n.pong_received = now;
                n.ping_sent = 0;
                if n.has(flag::PFAIL) {
                    n.flags &= !flag::PFAIL;
                    fx.changed = true;
                }
                if self.clear_failure_if_needed(s, now, node_timeout) {
                    fx.changed = true;
                    fx.save = true;
                }
            }
            // Role.
            match &h.slaveof {
                None => {
                    let n = &mut self.nodes[s];
                    if !n.has(flag::MASTER) || n.master.is_some() {
                        // A replica promoted: a target for replica migration.
                        if n.has(flag::SLAVE) {
                            n.migrate_to = true;
                        }
                        n.flags = (n.flags & !flag::SLAVE) | flag::MASTER;
                        n.master = None;
                        fx.save = true;
                        fx.changed = true;
                    }
                }
                Some(m) => {
                    let n = &mut self.nodes[s];
                    if n.has(flag::MASTER) {
                        // A master turned replica: its slots are no longer its own.
                        n.flags = (n.flags & !flag::MASTER) | flag::SLAVE;
                        for slot in 0..SLOTS {
                            if self.owner[slot] == Some(s as u32) {
                                self.assign(slot, None);
                            }
                        }
                        fx.save = true;
                        fx.changed = true;
                    }
                    let n = &mut self.nodes[s];
                    if n.master.as_deref() != Some(m.as_str()) {
                        n.master = Some(m.clone());
                        fx.save = true;
                        fx.changed = true;
                    }
                }
            }
            // Slots the sender (a master) claims with its config epoch.
            if h.slaveof.is_none() && self.nodes[s].slots != h.myslots {
                if let Some(stale_for) = self.take_slots(s, h.config_epoch, &h.myslots) {
                    fx.update_for = Some(stale_for);
                }
                fx.save = true;
                fx.changed = true;
            }
            // Two masters with one config epoch: the one with the greater id moves on.
            if self.myself().has(flag::MASTER)
                && h.slaveof.is_none()
                && s != self.me
                && h.config_epoch == self.myself().config_epoch
                && h.sender.as_str() > self.myself().id.as_str()
            {
                self.current_epoch += 1;
                let e = self.current_epoch;
                self.myself_mut().config_epoch = e;
                tracing::warn!(
                    "WARNING: configEpoch collision with node {}. configEpoch set to {e}",
                    h.sender
                );
                fx.save = true;
            }
            if let Body::Gossip(g) = body {
                fx.broadcast_fail = self.gossip(Some(s), g, now, node_timeout);
                fx.changed = true;
                // Its hostname, or none if it sent no extension.
                let hostname = h.hostname.clone().unwrap_or_default();
                if self.nodes[s].hostname != hostname {
                    self.nodes[s].hostname = hostname;
                    fx.save = true;
                }
            }
        }
        if let (Some(_), Body::Publish { channel, message }) = (sender, body) {
            fx.deliver = Some((channel.clone(), message.clone(), ty == wire::PUBLISHSHARD));
        }
        if ty == wire::AUTH_REQUEST {
            if let Some(s) = sender {
                fx.auth_ack = self.vote(s, h, now, node_timeout);
                fx.save |= fx.auth_ack;
            }
        }
        if ty == wire::MFSTART {
            if let Some(s) = sender {
                if self.manual_failover_asked(s, now) {
                    fx.mf_started = Some(self.nodes[s].id.clone());
                }
            }
        }
        if ty == wire::AUTH_ACK {
            if let Some(s) = sender {
                self.count_vote(s, h);
            }
        }
        if ty == wire::UPDATE {
            if let Body::Update {
                config_epoch,
                id,
                slots,
            } = body
            {
                if let Some(n) = self.find(id) {
                    if self.nodes[n].config_epoch < *config_epoch {
                        self.nodes[n].config_epoch = *config_epoch;
                        if self.nodes[n].has(flag::MASTER) {
                            self.take_slots(n, *config_epoch, slots);
                        }
                        fx.save = true;
                        fx.changed = true;
                    }
                }
            }
        }
        if ty == wire::FAIL {
            if let (Some(_), Body::Fail(id)) = (sender, body) {
                if let Some(n) = self.find(id) {
                    let n = &mut self.nodes[n];
                    if !n.has(flag::MYSELF) && !n.has(flag::FAIL) {
                        tracing::info!("FAIL message received about {}", n.id);
                        n.flags = (n.flags | flag::FAIL) & !flag::PFAIL;
                        n.fail_time = now;
                        fx.save = true;
                        fx.changed = true;
                    }
                }
            }
        }
        fx
    }

    /// clusterUpdateSlotsConfigWith: the slots `n` claims that are unassigned or served by a
    /// node with a smaller config epoch become its own (not those this node imports). Returns
    /// the id of a node whose greater epoch contradicts the claim (it gets an UPDATE).
    fn take_slots(&mut self, n: usize, config_epoch: u64, slots: &[u8]) -> Option<String> {
        let mut stale = None;
        // The master this node serves under (itself, if a master).
        let me = self.myself();
        let current = me
            .master
            .as_ref()
            .filter(|_| me.has(flag::SLAVE))
            .and_then(|m| self.find(m))
            .unwrap_or(self.me);
        let mut took_ours = false;
        let mut migrated = 0;
        let claimed: u32 = slots.iter().map(|b| b.count_ones()).sum();
        for slot in 0..SLOTS {
            if slots
                .get(slot / 8)
                .is_none_or(|b| b & (1 << (slot % 8)) == 0)
            {
                continue;
            }
            if self.owner[slot] == Some(n as u32) || self.importing.contains_key(&(slot as u16)) {
                continue;
            }
            match self.owner[slot] {
                Some(o) if self.nodes[o as usize].config_epoch >= config_epoch => {
                    if self.nodes[o as usize].config_epoch > config_epoch {
                        stale = Some(self.nodes[o as usize].id.clone());
                    }
                }
                _ => {
                    if self.owner[slot] == Some(self.me as u32) {
                        tracing::warn!(
                            "Slot {slot} moved to {} by a greater config epoch",
                            self.nodes[n].id
                        );
                        self.migrating.remove(&(slot as u16));
                    }
                    if self.owner[slot] == Some(current as u32) {
                        took_ours = true;
                        migrated += 1;
                    }
                    self.assign(slot, Some(n));
                }
            }
        }
        // All of our master's slots (or ours) went to `n`: it is our master now (a
        // failover happened, or this old master comes back).
        // Without cluster-allow-replica-migration only a failover's (the new master
        // claims exactly what we served) makes this node follow.
        if took_ours
            && self.nodes[current].slot_count() == 0
            && n != self.me
            && (self.settings.allow_replica_migration || claimed == migrated)
        {
            let id = self.nodes[n].id.clone();
            tracing::info!(
                "Configuration change detected. Reconfiguring myself as a replica of {id}"
            );
            let me = self.myself_mut();
            me.flags = (me.flags & !flag::MASTER) | flag::SLAVE;
            me.master = Some(id);
            self.migrating.clear();
            self.importing.clear();
        }
        stale
    }

    /// clusterProcessGossipSection: a master's word on the nodes it gossips about (failure
    /// reports, FAIL by majority), and unknown nodes with an address handshaken. Returns
    /// the nodes just flagged FAIL.
    fn gossip(
        &mut self,
        sender: Option<usize>,
        entries: &[Gossip],
        now: u64,
        node_timeout: u64,
    ) -> Vec<String> {
        let mut failed = Vec::new();
        let reporter = sender
            .filter(|&s| self.nodes[s].has(flag::MASTER))
            .map(|s| self.nodes[s].id.clone());
        for g in entries {
            if let Some(i) = self.find(&g.id) {
                if let Some(r) = &reporter {
                    if i != self.me {
                        if g.flags & (flag::FAIL | flag::PFAIL) != 0 {
                            self.add_fail_report(i, r, now);
                            if self.mark_failing_if_needed(i, now, node_timeout) {
                                failed.push(self.nodes[i].id.clone());
                            }
                        } else {
                            self.del_fail_report(i, r);
                        }
                    }
                }
                continue;
            }
            // A node forgotten less than a minute ago is not met again through gossip.
            self.forgotten.retain(|_, until| *until > now);
            if g.flags & flag::NOADDR == 0
                && !g.ip.is_empty()
                && g.port != 0
                && g.id.len() == 40
                && !self.forgotten.contains_key(&g.id)
            {
                self.start_handshake(&g.ip, g.port, g.cport, false, now);
            }
        }
        failed
    }
}

#[cfg(test)]
mod tests {
    use super::super::state::{flag, Node, State};
    use super::super::wire::{self, Body, Gossip};
    use super::From;

    /// Gossip about an unknown node starts a handshake, unless CLUSTER FORGET removed it
    /// less than a minute ago.
    #[test]
    fn forgotten_nodes_are_not_met_again_by_gossip() {
        let mut s = State::new("m".repeat(40), "127.0.0.1", 7000, 17000);
        let mut a = Node::new("a".repeat(40), flag::MASTER);
        a.ip = "127.0.0.1".into();
        a.port = 7001;
        s.nodes.push(a);
        let mut h = s.header(wire::PING, 0, "");
        h.sender = "a".repeat(40);
        h.myslots = vec![0; 2048];
        h.flags = flag::MASTER;
        let about = |id: char| {
            Body::Gossip(vec![Gossip {
                id: id.to_string().repeat(40),
                ping_sent: 0,
                pong_received: 0,
                ip: "127.0.0.1".into(),
                port: 7005,
                cport: 17005,
                flags: flag::MASTER,
                pport: 0,
            }])
        };
        let from = || From::Inbound {
            peer_ip: "127.0.0.1".into(),
            local_ip: "127.0.0.1".into(),
        };
        s.forgotten.insert("f".repeat(40), 70_000);
        s.handle(&h, &about('f'), &from(), 10_000, false, 2000);
        assert!(!s.nodes.iter().any(|n| n.has(flag::HANDSHAKE)));
        // A minute later it is met again.
        s.handle(&h, &about('f'), &from(), 70_001, false, 2000);
        assert!(s.nodes.iter().any(|n| n.has(flag::HANDSHAKE)));
    }
}
