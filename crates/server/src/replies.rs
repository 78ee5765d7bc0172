//! Reply assembly: replies that wait for other cores, kept in request order as `Part`s and
//! written out once the hops return. It sees the replies, the output buffer and the events
//! list, nothing else of a connection.

use crate::core::Asked;
use crate::ops::{Batch, BatchOut};
use engine::notify::Event;
use resp::{Proto, Writer};
use std::ops::Range;

/// Where one reply (or one piece of a split command's reply) is.
#[derive(Clone)]
pub enum Src {
    Local(Range<usize>),
    Remote {
        shard: usize,
        idx: usize,
    },
    /// The reply of an operation sent on its own (a pipelined PUBLISH's count from another
    /// core): an index into `Conn::waits`.
    Wait(usize),
}

/// A reply waiting for cross-core hops, in request order.
pub enum Part {
    Single(Src),
    /// DEL/EXISTS/...: sum of the integer replies.
    Sum(Vec<Src>),
    /// MGET: one-element arrays, concatenated in key order.
    Array(Vec<Src>),
    /// MSET: +OK unless a piece failed.
    Ok(Vec<Src>),
    /// XREAD: one `[key, entries]` (or null) per key, the non-null ones gathered in key order
    /// into an array (a map in RESP3), null when none; the first error in key order wins.
    Streams(Vec<Src>),
}

/// The deferred replies of a connection's pipeline.
pub struct Deferred {
    /// Replies of local commands run while others wait (`Src::Local` ranges).
    pub local: Vec<u8>,
    pub parts: Vec<Part>,
    /// Commands queued for each shard: one hop per shard at `flush`.
    pub remote: Vec<Batch>,
    /// Some reply waits: later replies wait behind it.
    pub active: bool,
    /// Operations sent without waiting (`Src::Wait`), and their replies once `flush` has
    /// awaited them.
    pub waits: Vec<Asked<i64>>,
    pub waited: Vec<Vec<u8>>,
    /// Events of local executions whose replies are deferred, with their part's index
    /// (`assemble` merges them with the remote ones in command order).
    pub part_events: Vec<(usize, Event)>,
}

impl Deferred {
    pub fn new(shards: usize) -> Deferred {
        Deferred {
            local: Vec::new(),
            parts: Vec::new(),
            remote: (0..shards).map(|_| Batch::default()).collect(),
            active: false,
            waits: Vec::new(),
            waited: Vec::new(),
            part_events: Vec::new(),
        }
    }

    /// Appends the deferred commands' keyspace events in command order: part by part, a
    /// part's local events, then those of its remote pieces (each shard's in its batch's
    /// order, tagged with the command's index).
    fn merge_events(&mut self, outs: &[Option<BatchOut>], events: &mut Vec<Event>) {
        let mut local = std::mem::take(&mut self.part_events).into_iter().peekable();
        if local.peek().is_none() && outs.iter().flatten().all(|o| o.events.is_empty()) {
            return;
        }
        let mut next = vec![0usize; outs.len()];
        for (i, part) in self.parts.iter().enumerate() {
            while let Some((_, e)) = local.next_if(|(p, _)| *p == i) {
                events.push(e);
            }
            let srcs = match part {
                Part::Single(s) => std::slice::from_ref(s),
                Part::Sum(v) | Part::Array(v) | Part::Ok(v) | Part::Streams(v) => v.as_slice(),
            };
            for src in srcs {
                let Src::Remote { shard, idx } = *src else {
                    continue;
                };
                let Some(out) = &outs[shard] else { continue };
                while let Some((_, e)) = out
                    .events
                    .get(next[shard])
                    .filter(|(c, _)| *c as usize <= idx)
                {
                    events.push(e.clone());
                    next[shard] += 1;
                }
            }
        }
        events.extend(local.map(|(_, e)| e));
        for (s, out) in outs.iter().enumerate() {
            if let Some(out) = out {
                events.extend(out.events[next[s]..].iter().map(|(_, e)| e.clone()));
            }
        }
    }

    /// Writes the deferred replies in order, from the local ones and each shard's batch
    /// replies.
    pub fn assemble(
        &mut self,
        outs: Vec<Option<BatchOut>>,
        out: &mut Vec<u8>,
        events: &mut Vec<Event>,
        proto: Proto,
    ) {
        const UNAVAILABLE: &[u8] = b"-ERR shard unavailable\r\n";
        let local = std::mem::take(&mut self.local);
        let waited = std::mem::take(&mut self.waited);
        self.merge_events(&outs, events);
        let get = |src: &Src| -> &[u8] {
            match src {
                Src::Local(r) => &local[r.clone()],
                Src::Wait(i) => &waited[*i],
                Src::Remote { shard, idx } => {
                    outs[*shard].as_ref().map_or(UNAVAILABLE, |o| o.reply(*idx))
                }
            }
        };
        for part in self.parts.drain(..) {
            match part {
                Part::Single(src) => out.extend_from_slice(get(&src)),
                Part::Sum(srcs) => {
                    let mut total = 0i64;
                    let mut err = None;
                    for s in &srcs {
                        let b = get(s);
                        match parse_int_reply(b) {
                            Some(n) => total += n,
                            None => err = err.or(Some(b)),
                        }
                    }
                    match err {
                        Some(e) => out.extend_from_slice(e),
                        None => Writer::new(out, proto).integer(total),
                    }
                }
                Part::Array(srcs) => {
                    Writer::new(out, proto).array(srcs.len());
                    for s in &srcs {
                        let b = get(s);
                        out.extend_from_slice(b.strip_prefix(b"*1\r\n").unwrap_or(b));
                    }
                }
                Part::Streams(srcs) => {
                    let replies: Vec<&[u8]> = srcs.iter().map(get).collect();
                    if let Some(e) = replies.iter().find(|b| b.first() == Some(&b'-')) {
                        out.extend_from_slice(e);
                        continue;
                    }
                    let hits: Vec<&[u8]> = replies
                        .into_iter()
                        .filter(|b| *b != b"*-1\r\n" && *b != b"_\r\n")
                        .collect();
                    let mut w = Writer::new(out, proto);
                    match (hits.len(), proto) {
                        (0, _) => w.null_array(),
                        (n, Proto::Resp2) => w.array(n),
                        (n, _) => w.map(n),
                    }
                    for b in hits {
                        // Each is a one-element array ("*1") or map ("%1") of its key.
                        let body = b
                            .strip_prefix(b"*1\r\n")
                            .or_else(|| b.strip_prefix(b"%1\r\n"))
                            .unwrap_or(b);
                        out.extend_from_slice(body);
                    }
                }
                Part::Ok(srcs) => match srcs.iter().map(get).find(|b| b.first() == Some(&b'-')) {
                    Some(e) => out.extend_from_slice(e),
                    None => Writer::new(out, proto).ok(),
                },
            }
        }
        self.local = local;
        self.local.clear();
        self.active = false;
    }
}

fn parse_int_reply(b: &[u8]) -> Option<i64> {
    let body = b.strip_prefix(b":")?.strip_suffix(b"\r\n")?;
    engine::args::parse_i64(body)
}
