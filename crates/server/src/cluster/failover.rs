//! Failure detection and replica failover, as Redis 7.0 does them: masters' reports that a
//! node is failing (gossip flags PFAIL or FAIL), FAIL once a majority of the masters agree
//! (markNodeAsFailingIfNeeded, then a FAIL broadcast), FAIL cleared when the node is back
//! (clearNodeFailureIfNeeded), and a replica of a FAIL master electing itself
//! (clusterHandleSlaveFailover: a delay by rank, FAILOVER_AUTH_REQUEST in a new epoch,
//! masters' votes, the master's slots taken with that epoch). Pure state changes; the
//! runtime (`bus`) sends the messages.

use super::state::{flag, State};
use super::wire::Header;

/// What a replica's election step asks the runtime to do.
#[derive(Debug, PartialEq, Eq)]
pub enum Election {
    /// Ask every master for its vote (FAILOVER_AUTH_REQUEST).
    AskVotes,
    /// This node won: it is a master now, serving its old master's slots (replication
    /// stops, a PONG goes to every node).
    Won,
}

impl State {
    /// A master reports node `i` failing (its gossip flags say PFAIL or FAIL).
    pub fn add_fail_report(&mut self, i: usize, reporter: &str, now: u64) {
        let n = &mut self.nodes[i];
        match n.fail_reports.iter_mut().find(|(r, _)| r == reporter) {
            Some(r) => r.1 = now,
            None => n.fail_reports.push((reporter.to_string(), now)),
        }
    }

    pub fn del_fail_report(&mut self, i: usize, reporter: &str) {
        self.nodes[i].fail_reports.retain(|(r, _)| r != reporter);
    }

    /// markNodeAsFailingIfNeeded: PFAIL becomes FAIL when a majority of the masters
    /// (this one included, if a master) reported it within twice the node timeout. True if
    /// it just did (the runtime broadcasts FAIL).
    pub fn mark_failing_if_needed(&mut self, i: usize, now: u64, node_timeout: u64) -> bool {
        let quorum = self.size / 2 + 1;
        let me_master = self.myself().has(flag::MASTER);
        let n = &mut self.nodes[i];
        if !n.has(flag::PFAIL) || n.has(flag::FAIL) {
            return false;
        }
        let validity = node_timeout * 2;
        n.fail_reports
            .retain(|(_, t)| now.saturating_sub(*t) <= validity);
        let failures = n.fail_reports.len() + usize::from(me_master);
        if failures < quorum {
            return false;
        }
        tracing::info!("Marking node {} as failing (quorum reached).", n.id);
        n.flags = (n.flags & !flag::PFAIL) | flag::FAIL;
        n.fail_time = now;
        true
    }

    /// clearNodeFailureIfNeeded, when node `i` answers again: a replica, or a master
    /// without slots, at once; a master with slots after twice the node timeout (if no
    /// replica took them meanwhile).
    pub fn clear_failure_if_needed(&mut self, i: usize, now: u64, node_timeout: u64) -> bool {
        let n = &mut self.nodes[i];
        if !n.has(flag::FAIL) {
            return false;
        }
        let serving = n.has(flag::MASTER) && n.slot_count() > 0;
        if !serving || now.saturating_sub(n.fail_time) > node_timeout * 2 {
            tracing::info!("Clear FAIL state for node {}: it is reachable again.", n.id);
            n.flags &= !flag::FAIL;
            return true;
        }
        false
    }

    /// clusterSendFailoverAuthIfNeeded: whether this master votes for replica `s`, which
    /// asks with header `h` (its master failing, no vote in this epoch yet, none for a
    /// replica of that master within twice the node timeout, no slot it claims served
    /// with a greater config epoch).
    pub fn vote(&mut self, s: usize, h: &Header, now: u64, node_timeout: u64) -> bool {
        let me = self.myself();
        if !me.has(flag::MASTER) || me.slot_count() == 0 {
            return false;
        }
        if h.current_epoch < self.current_epoch || self.last_vote_epoch == self.current_epoch {
            return false;
        }
        let node = &self.nodes[s];
        let Some(m) = node
            .master
            .as_ref()
            .filter(|_| node.has(flag::SLAVE))
            .and_then(|m| self.find(m))
        else {
            return false;
        };
        // A manual failover's request (FORCEACK) is voted for though its master is up.
        let force_ack = h.mflags[0] & super::wire::FLAG0_FORCEACK != 0;
        if !self.nodes[m].has(flag::FAIL) && !force_ack {
            return false;
        }
        if now.saturating_sub(self.nodes[m].voted_time) < node_timeout * 2 {
            return false;
        }
        for slot in 0..super::state::SLOTS {
            if h.myslots
                .get(slot / 8)
                .is_some_and(|b| b & (1 << (slot % 8)) != 0)
            {
                if let Some(o) = self.owner[slot] {
                    if self.nodes[o as usize].config_epoch > h.config_epoch {
                        return false;
                    }
                }
            }
        }
        self.last_vote_epoch = self.current_epoch;
        self.nodes[m].voted_time = now;
        tracing::info!(
            "Failover auth granted to {} for epoch {}",
            self.nodes[s].id,
            self.current_epoch
        );
        true
    }

    /// A master's vote for this replica's election (it counts if the master serves slots
    /// and is in the election's epoch).
    pub fn count_vote(&mut self, from: usize, h: &Header) {
        let n = &self.nodes[from];
        if n.has(flag::MASTER) && n.slot_count() > 0 && h.current_epoch >= self.auth_epoch {
            self.auth_count += 1;
        }
    }

    /// clusterHandleSlaveFailover, every cron: a replica whose master is FAIL (and serves
    /// slots) schedules an election 500-1000 ms ahead plus a second per replica of the same
    /// master with a greater offset, then asks for votes in a new epoch, and wins with a
    /// majority of the masters. `random` is a random number.
    /// `data_age`: ms since this replica last heard from its master (or since the link
    /// went down).
    pub fn election(
        &mut self,
        now: u64,
        my_offset: u64,
        node_timeout: u64,
        random: u64,
        data_age: u64,
    ) -> Option<Election> {
        let manual = self.mf_end != 0 && self.mf_can_start;
        let me = self.myself();
        if !me.has(flag::SLAVE) || (self.settings.no_failover && !manual) {
            return None;
        }
        let m = me.master.as_ref().and_then(|m| self.find(m))?;
        let master = &self.nodes[m];
        if (!master.has(flag::FAIL) && !manual) || master.slot_count() == 0 {
            return None;
        }
        // Data too old to be worth a failover (cluster-replica-validity-factor), the
        // node timeout it took to detect the failure aside; manual failovers skip it.
        let age = if data_age > node_timeout {
            data_age - node_timeout
        } else {
            data_age
        };
        let factor = self.settings.validity_factor;
        if factor > 0 && age > self.settings.ping_period * 1000 + node_timeout * factor && !manual {
            if now.saturating_sub(self.cant_failover_logged) > 10_000 {
                self.cant_failover_logged = now;
                tracing::warn!("Currently unable to failover: Disconnected from master for longer than allowed. Please check the 'cluster-replica-validity-factor' configuration option.");
            }
            return None;
        }
        let auth_timeout = (node_timeout * 2).max(2000) as i64;
        let auth_retry = auth_timeout * 2;
        let age = now as i64 - self.auth_time as i64;
        if self.auth_time == 0 || age > auth_retry {
            let master_id = master.id.clone();
            let rank = self
                .nodes
                .iter()
                .filter(|r| {
                    r.master.as_deref() == Some(master_id.as_str())
                        && !r.has(flag::MYSELF)
                        && !r.has(flag::FAIL)
                        && r.repl_offset > my_offset
                })
                .count() as u64;
            self.auth_time = now + 500 + random % 500 + rank * 1000;
            let rank = if self.mf_end != 0 {
                // A manual failover does not wait.
                self.auth_time = now;
                0
            } else {
                rank
            };
            self.auth_count = 0;
            self.auth_sent = false;
            tracing::info!(
                "Start of election delayed for {} milliseconds (rank #{rank}, offset {my_offset}).",
                self.auth_time - now
            );
            if self.mf_end == 0 {
                return None;
            }
        }
        let age = now as i64 - self.auth_time as i64;
        if age < 0 || age > auth_timeout {
            return None;
        }
        if !self.auth_sent {
            self.current_epoch += 1;
            self.auth_epoch = self.current_epoch;
            self.auth_sent = true;
            tracing::info!(
                "Starting a failover election for epoch {}.",
                self.current_epoch
            );
            return Some(Election::AskVotes);
        }
        if self.auth_count < self.size / 2 + 1 {
            return None;
        }
        tracing::info!("Failover election won: I'm the new master.");
        let epoch = self.auth_epoch;
        self.replace_master(Some(epoch));
        Some(Election::Won)
    }

    /// clusterFailoverReplaceYourMaster: this replica becomes a master serving its
    /// master's slots (with config epoch `epoch`, when an election gave one); any manual
    /// failover is over. False if it is no replica of a known master.
    pub fn replace_master(&mut self, epoch: Option<u64>) -> bool {
        let me = self.myself();
        let Some(m) = me
            .master
            .as_ref()
            .filter(|_| me.has(flag::SLAVE))
            .and_then(|m| self.find(m))
        else {
            return false;
        };
        let me = self.me;
        for slot in 0..super::state::SLOTS {
            if self.owner[slot] == Some(m as u32) {
                self.assign(slot, Some(me));
            }
        }
        let n = self.myself_mut();
        n.flags = (n.flags & !flag::SLAVE) | flag::MASTER;
        n.master = None;
        if let Some(epoch) = epoch {
            if n.config_epoch < epoch {
                n.config_epoch = epoch;
            }
        }
        self.auth_time = 0;
        self.auth_sent = false;
        self.reset_manual_failover();
        true
    }

    /// clusterHandleSlaveMigration, every cron at a replica: when a master that had
    /// replicas has none working (orphaned) while this replica's master keeps more than
    /// cluster-migration-barrier working ones, and this is the replica with the smallest id
    /// among the masters with the most, it moves to the orphaned master after 5 s. Also
    /// keeps each master's MIGRATE_TO mark. Returns the master to move to.
    pub fn replica_migration(&mut self, now: u64) -> Option<usize> {
        let any_replicas = self
            .nodes
            .iter()
            .any(|n| n.has(flag::SLAVE) && n.master.is_some());
        for i in 0..self.nodes.len() {
            if !self.nodes[i].has(flag::MASTER) {
                continue;
            }
            let listed = self.replicas_of(i).count();
            let n = &mut self.nodes[i];
            if listed > 0 {
                n.migrate_to = true;
            } else if n.listed_replicas > 0 {
                n.migrate_to = false;
            }
            let slots = n.slot_count() > 0;
            if slots && !n.had_slots && any_replicas {
                n.migrate_to = true;
            }
            n.listed_replicas = listed;
            n.had_slots = slots;
        }
        let me = self.myself();
        if !me.has(flag::SLAVE) || !self.settings.allow_replica_migration {
            return None;
        }
        let my_master = me.master.as_ref().and_then(|m| self.find(m))?;
        let working = |s: &State, m: usize| {
            s.replicas_of(m)
                .filter(|&r| !s.nodes[r].has(flag::FAIL))
                .count()
        };
        let (mut orphaned, mut max_replicas, mut mine) = (0, 0, 0);
        for i in 0..self.nodes.len() {
            let n = &self.nodes[i];
            if n.has(flag::MYSELF) || n.has(flag::NOADDR) || n.has(flag::HANDSHAKE) {
                continue;
            }
            if n.has(flag::MASTER) && !n.has(flag::FAIL) {
                let ok = working(self, i);
                if ok == 0 && n.slot_count() > 0 && n.migrate_to {
                    orphaned += 1;
                }
                max_replicas = max_replicas.max(ok);
                if i == my_master {
                    mine = ok;
                }
            }
        }
        if orphaned == 0 || max_replicas < 2 || mine != max_replicas {
            return None;
        }
        if self.health != super::state::Health::Ok {
            return None;
        }
        let ok_here = self
            .replicas_of(my_master)
            .filter(|&r| !self.nodes[r].has(flag::FAIL) && !self.nodes[r].has(flag::PFAIL))
            .count();
        if ok_here <= self.settings.migration_barrier {
            return None;
        }
        let mut candidate = self.me;
        let mut target = None;
        for i in 0..self.nodes.len() {
            let n = &self.nodes[i];
            let master = n.has(flag::MASTER);
            let ok = if master { working(self, i) } else { 0 };
            let is_orphaned = master && !n.has(flag::FAIL) && n.migrate_to && ok == 0;
            if is_orphaned && target.is_none() && n.slot_count() > 0 {
                target = Some(i);
            }
            let n = &mut self.nodes[i];
            if !is_orphaned {
                n.orphaned_time = 0;
            } else if n.orphaned_time == 0 {
                n.orphaned_time = now;
            }
            if master && ok == max_replicas {
                for r in self.replicas_of(i).collect::<Vec<_>>() {
                    if self.nodes[r].id < self.nodes[candidate].id {
                        candidate = r;
                    }
                }
            }
        }
        let t = target?;
        if candidate != self.me || now.saturating_sub(self.nodes[t].orphaned_time) <= 5000 {
            return None;
        }
        tracing::warn!("Migrating to orphaned master {}", self.nodes[t].id);
        let id = self.nodes[t].id.clone();
        let me = self.myself_mut();
        me.master = Some(id);
        self.reset_manual_failover();
        Some(t)
    }

    /// The nodes that say they replicate node `m`.
    pub fn replicas_of(&self, m: usize) -> impl Iterator<Item = usize> + '_ {
        let id = &self.nodes[m].id;
        (0..self.nodes.len()).filter(move |&r| {
            self.nodes[r].has(flag::SLAVE) && self.nodes[r].master.as_deref() == Some(id.as_str())
        })
    }

    /// resetManualFailover: no manual failover in progress. True if this node was the
    /// master of one (its writes, paused, go on).
    pub fn reset_manual_failover(&mut self) -> bool {
        let was_master = self.mf_replica.take().is_some();
        self.mf_end = 0;
        self.mf_can_start = false;
        self.mf_master_offset = -1;
        was_master
    }

    /// CLUSTER FAILOVER [FORCE|TAKEOVER] at this replica, its checks passed: the manual
    /// failover starts (`now` + 5 s to complete). TAKEOVER takes the master's slots at once
    /// with a config epoch of its own; FORCE elects without waiting for the master's
    /// offset; the default asks the master to pause (the runtime sends MFSTART).
    pub fn start_manual_failover(&mut self, now: u64, force: bool, takeover: bool) {
        self.reset_manual_failover();
        self.mf_end = now + MF_TIMEOUT;
        if takeover {
            tracing::warn!("Taking over the master (user request).");
            self.bump_epoch();
            self.replace_master(None);
        } else if force {
            tracing::warn!("Forced failover user request accepted.");
            self.mf_can_start = true;
        } else {
            tracing::warn!("Manual failover user request accepted.");
        }
    }

    /// MFSTART from replica `s` of this master: writes pause (the runtime pauses them for
    /// twice the manual failover's time) and the replica gets PINGs with the final offset.
    /// False if `s` is not this master's replica.
    pub fn manual_failover_asked(&mut self, s: usize, now: u64) -> bool {
        let me = self.myself();
        if !me.has(flag::MASTER) || self.nodes[s].master.as_deref() != Some(me.id.as_str()) {
            return false;
        }
        self.reset_manual_failover();
        self.mf_end = now + MF_TIMEOUT;
        self.mf_replica = Some(self.nodes[s].id.clone());
        tracing::warn!("Manual failover requested by replica {}.", self.nodes[s].id);
        true
    }

    /// Every cron (manualFailoverCheckTimeout, clusterHandleManualFailover): a manual
    /// failover past its time ends; a replica whose offset reached its paused master's may
    /// start the election. True if a master's pause ended.
    pub fn manual_failover_cron(&mut self, now: u64, my_offset: u64) -> bool {
        if self.mf_end != 0 && self.mf_end < now {
            tracing::warn!("Manual failover timed out.");
            return self.reset_manual_failover();
        }
        // A master that became a replica meanwhile lets its writes go (to be redirected).
        if self.mf_replica.is_some() && !self.myself().has(flag::MASTER) {
            return self.reset_manual_failover();
        }
        if self.mf_end != 0
            && !self.mf_can_start
            && self.mf_master_offset >= 0
            && self.mf_master_offset as u64 == my_offset
        {
            self.mf_can_start = true;
            tracing::warn!("All master replication stream processed, manual failover can start.");
        }
        false
    }
}

/// How long a manual failover may take (CLUSTER_MF_TIMEOUT); a master pauses writes for
/// twice that at most.
pub const MF_TIMEOUT: u64 = 5000;

#[cfg(test)]
mod tests {
    use super::super::state::{flag, Node, State};
    use super::*;

    fn node(id: char, flags: u16) -> Node {
        let mut n = Node::new(id.to_string().repeat(40), flags);
        n.ip = "127.0.0.1".into();
        n
    }

    /// Masters a, b, c (a with slots 0-99), replica r of a (this node).
    fn cluster() -> State {
        let mut s = State::new("r".repeat(40), "127.0.0.1", 7003, 17003);
        s.myself_mut().flags = flag::MYSELF | flag::SLAVE;
        s.myself_mut().master = Some("a".repeat(40));
        for (c, from) in [('a', 0), ('b', 100), ('c', 200)] {
            s.nodes.push(node(c, flag::MASTER));
            let i = s.nodes.len() - 1;
            for slot in from..from + 100 {
                s.assign(slot, Some(i));
            }
        }
        s.size = 3;
        s
    }

    #[test]
    fn fail_by_majority_and_election() {
        let mut s = cluster();
        let a = s.find(&"a".repeat(40)).unwrap();
        s.nodes[a].flags |= flag::PFAIL;
        // A replica does not count itself: two masters' reports are needed.
        s.add_fail_report(a, &"b".repeat(40), 1000);
        assert!(!s.mark_failing_if_needed(a, 1000, 2000));
        s.add_fail_report(a, &"c".repeat(40), 1000);
        assert!(s.mark_failing_if_needed(a, 1000, 2000));
        assert!(s.nodes[a].has(flag::FAIL));
        // The election: scheduled, then votes asked in a new epoch, then won.
        assert_eq!(s.election(2000, 10, 2000, 0, 0), None);
        assert!(s.auth_time >= 2500 && s.auth_time < 3000);
        assert_eq!(s.election(2100, 10, 2000, 0, 0), None, "waits its delay");
        let epoch = s.current_epoch;
        assert_eq!(s.election(3000, 10, 2000, 0, 0), Some(Election::AskVotes));
        assert_eq!(s.current_epoch, epoch + 1);
        let mut h = s.header(super::super::wire::AUTH_ACK, 0, "");
        h.current_epoch = s.current_epoch;
        for c in ['b', 'c'] {
            let i = s.find(&c.to_string().repeat(40)).unwrap();
            s.count_vote(i, &h);
        }
        assert_eq!(s.election(3100, 10, 2000, 0, 0), Some(Election::Won));
        assert!(s.myself().has(flag::MASTER));
        assert_eq!(s.myself().slot_count(), 100);
        assert_eq!(s.myself().config_epoch, s.current_epoch);
    }

    #[test]
    fn a_master_votes_once_per_epoch() {
        let mut s = State::new("b".repeat(40), "127.0.0.1", 7001, 17001);
        for slot in 100..200 {
            s.assign(slot, Some(0));
        }
        let mut a = node('a', flag::MASTER | flag::FAIL);
        a.config_epoch = 1;
        s.nodes.push(a);
        let ai = s.nodes.len() - 1;
        for slot in 0..100 {
            s.assign(slot, Some(ai));
        }
        let mut r = node('r', flag::SLAVE);
        r.master = Some("a".repeat(40));
        s.nodes.push(r);
        let ri = s.nodes.len() - 1;
        s.current_epoch = 5;
        let mut h = s.header(super::super::wire::AUTH_REQUEST, 0, "");
        h.current_epoch = 5;
        h.config_epoch = 1;
        h.myslots = s.nodes[ai].slots.clone();
        assert!(s.vote(ri, &h, 10_000, 2000));
        assert!(!s.vote(ri, &h, 10_001, 2000), "one vote per epoch");
    }
}
