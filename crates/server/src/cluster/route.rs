//! The check every command passes in cluster mode (Redis' getNodeByQuery and
//! clusterRedirectClient): all its keys in one slot (-CROSSSLOT), the slot served here or
//! a redirection (-MOVED, -ASK for a migrating slot's missing keys, -TRYAGAIN when only some
//! are missing), and the cluster up (-CLUSTERDOWN).

use super::{Cluster, IMPORTING, MIGRATING};
use engine::table::{CommandSpec, Flags, Words};

pub const CROSSSLOT: &str = "CROSSSLOT Keys in request don't hash to the same slot";
pub const TRYAGAIN: &str = "TRYAGAIN Multiple keys request during rehashing of slot";
pub const DOWN: &str = "CLUSTERDOWN The cluster is down";
pub const DOWN_RO: &str = "CLUSTERDOWN The cluster is down and only accepts read commands";
pub const UNBOUND: &str = "CLUSTERDOWN Hash slot not served";

/// What the keys of a command (or of a transaction's commands) ask for.
pub struct Query {
    pub slot: u16,
    /// The slot's route entry.
    pub entry: u32,
    /// The distinct keys, kept when the slot is migrating or importing (their existence
    /// here decides between serving, ASK and TRYAGAIN).
    pub keys: Vec<Vec<u8>>,
    pub multiple_keys: bool,
    pub write: bool,
    /// A shard channel (SPUBLISH, SSUBSCRIBE, ...) among the keys.
    pub pubsub_shard: bool,
    /// A command that is served in an importing slot without ASKING (RESTORE-ASKING).
    pub asking_cmd: bool,
}

/// The decision.
pub enum Verdict {
    /// Run it here.
    Here,
    /// Answer this error instead.
    Error(String),
    /// The slot is migrating or importing: the answer depends on which of `Query::keys`
    /// exist here (`finish`).
    Keys(Query),
}

/// Redis' getNodeByQuery up to the keys' existence. `commands`: each command's spec and
/// words (one, or a transaction's queue at EXEC). `asking`: the client sent ASKING;
/// `readonly`: the client sent READONLY.
pub fn check<'a, W: Words + ?Sized + 'a>(
    cl: &Cluster,
    commands: impl IntoIterator<Item = (&'static CommandSpec, &'a W)>,
    asking: bool,
    readonly: bool,
) -> Verdict {
    let mut q: Option<Query> = None;
    let mut first_key: Vec<u8> = Vec::new();
    for (spec, words) in commands {
        let pubsub = spec.flags.has(Flags::PUBSUB);
        for p in spec.key_positions(words) {
            let key = words.word(p);
            let slot = engine::slot::key_slot(key);
            match &mut q {
                None => {
                    let entry = cl.route(slot);
                    if entry & !(MIGRATING | IMPORTING) == 0 {
                        return Verdict::Error(UNBOUND.into());
                    }
                    first_key = key.to_vec();
                    q = Some(Query {
                        slot,
                        entry,
                        keys: Vec::new(),
                        multiple_keys: false,
                        write: false,
                        pubsub_shard: false,
                        asking_cmd: false,
                    });
                }
                Some(q) => {
                    if key != first_key.as_slice() {
                        if slot != q.slot {
                            return Verdict::Error(CROSSSLOT.into());
                        }
                        q.multiple_keys = true;
                    }
                }
            }
            let q = q.as_mut().expect("set above");
            q.pubsub_shard |= pubsub;
            let open = (cl.is_me(q.entry) && q.entry & MIGRATING != 0) || q.entry & IMPORTING != 0;
            if open && !pubsub && !q.keys.iter().any(|k| k == key) {
                q.keys.push(key.to_vec());
            }
        }
        if let Some(q) = q.as_mut() {
            q.write |= spec.is_write();
            q.asking_cmd |= spec.flags.has(Flags::ASKING);
        }
    }
    let Some(q) = q else {
        return Verdict::Here;
    };
    if !cl.is_ok() {
        if q.pubsub_shard {
            if !cl
                .pubsubshard_when_down
                .load(std::sync::atomic::Ordering::Relaxed)
            {
                return Verdict::Error(DOWN.into());
            }
        } else if !cl
            .reads_when_down
            .load(std::sync::atomic::Ordering::Relaxed)
        {
            return Verdict::Error(DOWN.into());
        } else if q.write {
            return Verdict::Error(DOWN_RO.into());
        }
    }
    if !q.keys.is_empty() {
        return Verdict::Keys(q);
    }
    decide(cl, &q, 0, 0, asking, readonly)
}

/// The rest of getNodeByQuery, once the keys' existence here is known.
pub fn finish(cl: &Cluster, q: &Query, existing: usize, asking: bool, readonly: bool) -> Verdict {
    let missing = q.keys.len() - existing;
    decide(cl, q, existing, missing, asking, readonly)
}

fn decide(
    cl: &Cluster,
    q: &Query,
    existing: usize,
    missing: usize,
    asking: bool,
    readonly: bool,
) -> Verdict {
    let mine = cl.is_me(q.entry);
    let migrating = mine && q.entry & MIGRATING != 0;
    let importing = q.entry & IMPORTING != 0;
    if migrating && missing > 0 {
        if existing > 0 {
            return Verdict::Error(TRYAGAIN.into());
        }
        // (The state's guard must be gone before `addr_of_id` takes it again.)
        let target = cl.lock().migrating.get(&q.slot).cloned();
        let to = target.and_then(|id| cl.addr_of_id(&id));
        return match to {
            Some(addr) => Verdict::Error(format!("ASK {} {addr}", q.slot)),
            None => Verdict::Here,
        };
    }
    if importing && (asking || q.asking_cmd) {
        if q.multiple_keys && missing > 0 {
            return Verdict::Error(TRYAGAIN.into());
        }
        return Verdict::Here;
    }
    if (readonly || q.pubsub_shard) && !q.write && cl.replica_of_owner(q.entry) {
        return Verdict::Here;
    }
    if mine {
        Verdict::Here
    } else {
        Verdict::Error(format!("MOVED {} {}", q.slot, cl.addr_of(q.entry)))
    }
}
