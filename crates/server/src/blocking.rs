//! Blocking commands on a sharded server (BLPOP, BRPOP, BLMPOP, BLMOVE, BRPOPLPUSH,
//! BZPOPMIN, BZPOPMAX, BZMPOP, and XREAD/XREADGROUP with BLOCK).
//!
//! A blocking command first runs as its non-blocking form, through the normal path (atomic
//! across shards like any multi-key command). If nothing was there, the client registers a
//! waiter on each key's shard, in key order. Registering re-checks the key, so a push that
//! landed in between is not missed. From then on the shard that owns a key serves its
//! waiters, first blocked first, right after the command that gave the key a value (or when
//! a transaction holding the key releases it), and sends the reply to the client's core.
//!
//! A client blocked on keys of several shards may be woken by any of them: the waiter's
//! `claim` flag, set once by whoever ends the block (a serving shard, the timeout, CLIENT
//! UNBLOCK, a disconnect), makes sure that exactly one element goes to it. The connection
//! keeps reading while blocked (buffering later commands, as Redis does), so a client that
//! goes away is noticed at once; if a shard served it in that instant, what was popped is
//! put back.

use crate::conn::Conn;
use crate::core::{calls, Waiter};
use crate::ops::{BlockReg, Reply, Try};
use engine::cmd::blocking::{BlockKind, Undo};
use engine::table::{CommandSpec, Handler, Split};
use engine::Args;
use futures_lite::AsyncReadExt;
use resp::Writer;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// A connection's block in progress.
pub struct Blocked {
    token: u64,
    id: u64,
    claim: Arc<AtomicBool>,
    waiter: Rc<Waiter>,
    /// (shard, key) of every registration.
    registered: Vec<(usize, Vec<u8>)>,
    db: usize,
    deadline: u64,
    kind: BlockKind,
    dst_shard: usize,
    /// Already decided while registering (served at once, or an error).
    early: Option<Reply>,
}

/// Starts a blocking command (outside MULTI/EXEC). Either answers it at once or leaves
/// `c.blocked` set for `Conn::run` to finish with `wait`.
pub async fn start(
    c: &mut Conn,
    spec: &'static CommandSpec,
    handler: Handler,
    split: Split,
    args: Args<'_>,
) {
    let now = engine::shard::unix_ms();
    let parsed = match engine::cmd::blocking::parse(spec.name, args, now) {
        Ok(p) => p,
        Err(e) => {
            c.flush().await;
            c.error(&e.message());
            return;
        }
    };
    // The non-blocking form first: it answers whenever something is there (or an error).
    c.flush().await;
    if !parsed.wait {
        c.keyed(spec, handler, split, args).await;
        return;
    }
    let mark = c.out.len();
    c.keyed(spec, handler, split, args).await;
    c.flush().await;
    let mut nothing = Vec::new();
    parsed
        .kind
        .write_timeout(&mut Writer::new(&mut nothing, c.proto));
    if c.out[mark..] != nothing[..] {
        return;
    }
    c.out.truncate(mark);

    let core = c.core.clone();
    let shared = core.shared.clone();
    let token = core.new_token();
    let id = ((core.id as u64) << 48) | token;
    let claim = Arc::new(AtomicBool::new(false));
    let waiter = core.expect(token);
    let dst_shard = match &parsed.kind {
        BlockKind::Move { dst, .. } => shared.shard_of(dst),
        _ => core.id,
    };
    let mut b = Blocked {
        token,
        id,
        claim: claim.clone(),
        waiter,
        registered: Vec::new(),
        db: c.db,
        deadline: parsed.deadline,
        kind: parsed.kind.clone(),
        dst_shard,
        early: None,
    };
    for key in &parsed.keys {
        let shard = shared.shard_of(key);
        let reg = BlockReg {
            id,
            core: core.id,
            token,
            claim: claim.clone(),
            kind: parsed.kind.clone(),
            proto: c.proto,
            db: c.db,
            dst_shard,
        };
        let call = calls::Block {
            reg,
            key: key.to_vec(),
        };
        match core.ask(shard, call).await {
            Try::Registered => b.registered.push((shard, key.to_vec())),
            // Served by another of its keys meanwhile: the reply comes through the token.
            Try::Lost => break,
            served => {
                b.early = Some(Reply::Block(served));
                break;
            }
        }
    }
    *c.info.blocked.borrow_mut() = Some((token, claim));
    shared.blocked_clients.fetch_add(1, Ordering::Relaxed);
    c.blocked = Some(b);
}

enum Event {
    Reply(Reply),
    Read(usize),
    Closed,
    Timeout,
}

/// Waits for the block in `c.blocked` to end: served, timed out, unblocked, or the client
/// gone. Bytes the client sends meanwhile are appended to `rbuf[*end..]` for later. Returns
/// false when the connection must close.
pub async fn wait(
    c: &mut Conn,
    stream: &mut reactor::Stream,
    rbuf: &mut Vec<u8>,
    end: &mut usize,
    limit: usize,
) -> bool {
    let Some(mut b) = c.blocked.take() else {
        return true;
    };
    let mut alive = true;
    let reply = match b.early.take() {
        Some(r) => r,
        None => {
            // Earlier replies of the pipeline go out before the client waits, outside its
            // read (`barrier`): a blocked client keeps no whole-keyspace operation waiting.
            c.flush().await;
            c.leave_read();
            if !c.write_out(stream).await {
                alive = false;
            }
            let mut reply = None;
            while reply.is_none() && alive {
                match next_event(&b, stream, rbuf, end, limit).await {
                    Event::Reply(r) => reply = Some(r),
                    Event::Read(n) => *end += n,
                    Event::Closed => alive = false,
                    Event::Timeout => {
                        reply = Some(if !b.claim.swap(true, Ordering::SeqCst) {
                            Reply::Unit
                        } else {
                            // A shard claimed it this instant: its reply is on the way.
                            crate::core::wait_for(b.waiter.clone()).await
                        });
                    }
                }
            }
            match reply {
                Some(r) => r,
                None if !b.claim.swap(true, Ordering::SeqCst) => Reply::Unit,
                // The client is gone but was just served: take the reply and undo it.
                None => crate::core::wait_for(b.waiter.clone()).await,
            }
        }
    };
    c.enter_read().await;
    finish(c, &mut b, reply, alive).await;
    alive
}

async fn next_event(
    b: &Blocked,
    stream: &mut reactor::Stream,
    rbuf: &mut Vec<u8>,
    end: &mut usize,
    limit: usize,
) -> Event {
    if rbuf.len() - *end < 1024 && rbuf.len() < limit {
        let grow = (rbuf.len() * 2).min(limit.max(rbuf.len()));
        rbuf.resize(grow, 0);
    }
    let wake = async { Event::Reply(crate::core::wait_for(b.waiter.clone()).await) };
    let read = async {
        if *end >= rbuf.len() {
            // The query buffer is full: stop reading until the block ends.
            return std::future::pending().await;
        }
        match stream.read(&mut rbuf[*end..]).await {
            Ok(0) | Err(_) => Event::Closed,
            Ok(n) => Event::Read(n),
        }
    };
    let timer = async {
        if b.deadline == 0 {
            return std::future::pending().await;
        }
        let now = engine::shard::unix_ms();
        let left = b.deadline.saturating_sub(now);
        reactor::sleep(std::time::Duration::from_millis(left)).await;
        Event::Timeout
    };
    futures_lite::future::or(wake, futures_lite::future::or(read, timer)).await
}

/// Writes the outcome (when the client is still there), completes a cross-shard move, puts
/// back what a vanished client was served, and drops the registrations.
async fn finish(c: &mut Conn, b: &mut Blocked, reply: Reply, alive: bool) {
    let core = c.core.clone();
    // A client that closed (or half-closed) its side while blocked gets no reply: Redis
    // frees it on the read that saw the end (a nil first would mislead a client that resends
    // unfinished commands after reconnecting).
    let mark = c.out.len();
    // The reply shows what the shards did while the client waited: it waits for this
    // core's group commit like any reply made here.
    c.mark_local_output();
    match reply {
        Reply::Block(Try::Served {
            reply,
            moved,
            undo,
            shard,
        }) => {
            if !alive {
                // A move not pushed anywhere yet goes back to its source too.
                if !matches!(undo, Undo::Nothing) {
                    core.ask(shard, calls::Undo { db: b.db, undo }).await;
                }
            } else if let (Some(elem), BlockKind::Move { dst, to_right, .. }) = (moved, &b.kind) {
                let push = calls::ListPush {
                    db: b.db,
                    key: dst.clone(),
                    left: !to_right,
                    elems: vec![elem.clone()],
                };
                let mut events = match core.ask(b.dst_shard, push).await {
                    Err(e) => {
                        core.ask(shard, calls::Undo { db: b.db, undo }).await;
                        c.error(&e);
                        Vec::new()
                    }
                    Ok((_, events)) => {
                        c.writer().bulk(&elem);
                        events
                    }
                };
                if !events.is_empty() {
                    c.events.append(&mut events);
                    crate::pubsub::publish_events(c).await;
                }
            } else {
                c.out.extend_from_slice(&reply);
            }
        }
        Reply::Unblocked { error: true } => {
            c.error("UNBLOCKED client unblocked via CLIENT UNBLOCK");
        }
        // Timed out, or unblocked as a timeout.
        _ => {
            let proto = c.proto;
            b.kind.write_timeout(&mut Writer::new(&mut c.out, proto));
        }
    }
    let mut by_shard: Vec<Vec<Vec<u8>>> = vec![Vec::new(); core.shards()];
    for (s, k) in b.registered.drain(..) {
        by_shard[s].push(k);
    }
    for (s, keys) in by_shard.into_iter().enumerate() {
        if !keys.is_empty() {
            let call = calls::Unblock {
                db: b.db,
                keys,
                id: b.id,
            };
            core.ask(s, call).await;
        }
    }
    if !alive {
        c.out.truncate(mark);
    }
    core.forget(b.token);
    *c.info.blocked.borrow_mut() = None;
    core.shared.blocked_clients.fetch_sub(1, Ordering::Relaxed);
}
