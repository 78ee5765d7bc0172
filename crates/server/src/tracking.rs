//! Client-side caching: CLIENT TRACKING, CACHING, GETREDIR, TRACKINGINFO, and the delivery
//! of invalidations (Redis' tracking.c).
//!
//! Each shard remembers which clients (id and core) read which of its keys
//! (`engine::tracking`): the client's core marks the commands whose reads count
//! (`Conn::track`, sent with the command to wherever it runs). A write there consumes the
//! key's entry; at the end of the turn (`install`'s hook) the shard's invalidations go to
//! the readers' cores, whose clients get them in their mailbox: a RESP3 push, or a message
//! on `__redis__:invalidate` for a RESP2 client's REDIRECT target that is subscribed. BCAST
//! prefixes are registered with every shard; the keys written under one are sent once a
//! turn to the cores with clients for it. A flush sends every tracking client a null.
//!
//! A connection writes its mailbox after the replies of the read it is serving, so an
//! invalidation never reaches the client before the reply holding the value it
//! invalidates (it was written after that read, on the key's shard).

use crate::client::ClientInfo;
use crate::conn::Conn;
use crate::core::Core;
use crate::ops::{Call, Touches};
use engine::tracking::Reader;
use engine::{Args, Error};
use resp::{Proto, Writer};
use std::rc::Rc;
use std::sync::atomic::Ordering;

/// `ClientInfo::tracking` bits (Redis' CLIENT_TRACKING_* flags).
pub const ON: u8 = 1;
pub const BCAST: u8 = 2;
pub const OPTIN: u8 = 4;
pub const OPTOUT: u8 = 8;
pub const NOLOOP: u8 = 16;
/// CLIENT CACHING was given for the next command (or transaction).
pub const CACHING: u8 = 32;
pub const BROKEN: u8 = 64;

/// Whether the next command's reads are remembered for the client (Redis' call() and
/// trackingRememberKeys' OPTIN/OPTOUT test).
#[inline]
pub fn reads_tracked(info: &ClientInfo) -> bool {
    let f = info.tracking.get();
    if f & ON == 0 || f & BCAST != 0 {
        return false;
    }
    let caching = f & CACHING != 0;
    !((f & OPTIN != 0 && !caching) || (f & OPTOUT != 0 && caching))
}

/// After a command: CLIENT CACHING holds for one command, or the transaction it opens
/// (Redis' resetClient keeps it inside MULTI and after a CLIENT command).
pub fn after_command(c: &Conn, name: &[u8]) {
    let f = c.info.tracking.get();
    if f & CACHING != 0
        && !c.multi.active()
        && c.tx.is_none()
        && !name.eq_ignore_ascii_case(b"client")
    {
        c.info.tracking.set(f & !CACHING);
    }
}

/// The client this command runs for, as the shard's tracking sees it.
pub fn reader(c: &Conn) -> Reader {
    Reader {
        id: c.info.id,
        core: c.core.id as u16,
    }
}

// ---- the commands ----

/// CLIENT TRACKING (ON|OFF) [REDIRECT id] [BCAST] [PREFIX p ...] [OPTIN] [OPTOUT] [NOLOOP]
pub async fn client_tracking(c: &mut Conn, args: Args<'_>) -> engine::Result<()> {
    let core = c.core.clone();
    let mut redirect: Option<(u64, usize)> = None;
    let mut options = 0u8;
    let mut prefixes: Vec<Vec<u8>> = Vec::new();
    let mut j = 3;
    while j < args.len() {
        let more = j + 1 < args.len();
        if args.is(j, "redirect") && more {
            j += 1;
            if redirect.is_some() {
                return Err(Error::msg(
                    "ERR A client can only redirect to a single other client",
                ));
            }
            let id = args.int(j)?;
            // Redis requires the client to exist now (it may go away later).
            let found = find_client(&core, id).await;
            match found {
                Some(at) => redirect = Some((id as u64, at)),
                None => {
                    return Err(Error::msg(
                        "ERR The client ID you want redirect to does not exist",
                    ))
                }
            }
        } else if args.is(j, "bcast") {
            options |= BCAST;
        } else if args.is(j, "optin") {
            options |= OPTIN;
        } else if args.is(j, "optout") {
            options |= OPTOUT;
        } else if args.is(j, "noloop") {
            options |= NOLOOP;
        } else if args.is(j, "prefix") && more {
            j += 1;
            prefixes.push(args.get(j).to_vec());
        } else {
            return Err(Error::Syntax);
        }
        j += 1;
    }
    let flags = c.info.tracking.get();
    if args.is(2, "on") {
        if options & BCAST == 0 && !prefixes.is_empty() {
            return Err(Error::msg(
                "ERR PREFIX option requires BCAST mode to be enabled",
            ));
        }
        if flags & ON != 0 && (flags & BCAST != 0) != (options & BCAST != 0) {
            return Err(Error::msg("ERR You can't switch BCAST mode on/off before disabling tracking for this client, and then re-enabling it with a different mode."));
        }
        if options & BCAST != 0 && options & (OPTIN | OPTOUT) != 0 {
            return Err(Error::msg(
                "ERR OPTIN and OPTOUT are not compatible with BCAST",
            ));
        }
        if options & OPTIN != 0 && options & OPTOUT != 0 {
            return Err(Error::msg(
                "ERR You can't specify both OPTIN mode and OPTOUT mode",
            ));
        }
        if (options & OPTIN != 0 && flags & OPTOUT != 0)
            || (options & OPTOUT != 0 && flags & OPTIN != 0)
        {
            return Err(Error::msg("ERR You can't switch OPTIN/OPTOUT mode before disabling tracking for this client, and then re-enabling it with a different mode."));
        }
        if options & BCAST != 0 {
            check_prefixes(&c.info.prefixes.borrow(), &prefixes)?;
        }
        enable(c, redirect, options, prefixes).await;
    } else if args.is(2, "off") {
        disable(c).await;
        c.drop_mailbox_if_unused();
    } else {
        return Err(Error::Syntax);
    }
    c.writer().ok();
    Ok(())
}

/// Redis' checkPrefixCollisionsOrReply: a client's prefixes must not overlap (one a prefix
/// of another), among themselves or with those it has.
fn check_prefixes(have: &[Vec<u8>], new: &[Vec<u8>]) -> engine::Result<()> {
    let overlap = |a: &[u8], b: &[u8]| {
        let n = a.len().min(b.len());
        a[..n] == b[..n]
    };
    let show = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    for (i, p) in new.iter().enumerate() {
        if let Some(h) = have.iter().find(|h| overlap(h, p)) {
            return Err(Error::msg(format!(
                "ERR Prefix '{}' overlaps with an existing prefix '{}'. Prefixes for a single client must not overlap.",
                show(p),
                show(h)
            )));
        }
        if let Some(q) = new[i + 1..].iter().find(|q| overlap(p, q)) {
            return Err(Error::msg(format!(
                "ERR Prefix '{}' overlaps with another provided prefix '{}'. Prefixes for a single client must not overlap.",
                show(p),
                show(q)
            )));
        }
    }
    Ok(())
}

/// Redis' enableTracking.
async fn enable(c: &mut Conn, redirect: Option<(u64, usize)>, options: u8, prefixes: Vec<Vec<u8>>) {
    let info = c.info.clone();
    let core = c.core.clone();
    let old = info.tracking.get();
    if old & ON == 0 {
        core.shared.tracking_clients.fetch_add(1, Ordering::Relaxed);
    }
    info.tracking
        .set((old & CACHING) | ON | (options & (BCAST | OPTIN | OPTOUT | NOLOOP)));
    info.redirect.set(redirect.unwrap_or((0, 0)));
    if options & BCAST != 0 {
        let wanted = if prefixes.is_empty() {
            vec![Vec::new()]
        } else {
            prefixes
        };
        let fresh: Vec<Vec<u8>> = {
            let have = info.prefixes.borrow();
            let mut fresh: Vec<Vec<u8>> = Vec::new();
            for p in wanted {
                if !have.contains(&p) && !fresh.contains(&p) {
                    fresh.push(p);
                }
            }
            fresh
        };
        if !fresh.is_empty() {
            {
                let mut here = core.bcast.borrow_mut();
                for p in &fresh {
                    here.entry(p.clone()).or_default().push(info.id);
                }
            }
            // Kept sorted, as Redis' radix tree lists them.
            {
                let mut mine = info.prefixes.borrow_mut();
                mine.extend(fresh.iter().cloned());
                mine.sort();
            }
            set_prefixes(&core, fresh, true).await;
        }
    }
    // Pushes (and a broken redirect's notice) come through the mailbox.
    c.mailbox();
}

/// Redis' disableTracking (CLIENT TRACKING OFF, RESET, disconnect).
pub async fn disable(c: &mut Conn) {
    let info = c.info.clone();
    let core = c.core.clone();
    let flags = info.tracking.get();
    if flags & BCAST != 0 {
        let prefixes = std::mem::take(&mut *info.prefixes.borrow_mut());
        {
            let mut here = core.bcast.borrow_mut();
            for p in &prefixes {
                if let Some(ids) = here.get_mut(p) {
                    ids.retain(|&id| id != info.id);
                    if ids.is_empty() {
                        here.remove(p);
                    }
                }
            }
        }
        set_prefixes(&core, prefixes, false).await;
    }
    if flags & ON != 0 {
        core.shared.tracking_clients.fetch_sub(1, Ordering::Relaxed);
        info.tracking.set(0);
    }
}

/// Registers (or drops) `prefixes` of a client of this core with every shard, before the
/// command that changed them answers: every write after it is matched.
async fn set_prefixes(core: &Rc<Core>, prefixes: Vec<Vec<u8>>, add: bool) {
    if prefixes.is_empty() {
        return;
    }
    let at = core.id;
    core.ask_all(
        |_| Prefixes {
            prefixes: prefixes.clone(),
            core: at,
            add,
        },
        None,
    )
    .await;
}

/// The core client `id` is connected to, if it is.
async fn find_client(core: &Rc<Core>, id: i64) -> Option<usize> {
    if id <= 0 {
        return None;
    }
    if core.clients.borrow().contains_key(&(id as u64)) {
        return Some(core.id);
    }
    core.ask_all(|_| FindClient(id as u64), None)
        .await
        .iter()
        .position(|&here| here)
}

/// CLIENT CACHING YES|NO
pub fn client_caching(c: &mut Conn, args: Args<'_>) -> engine::Result<()> {
    let f = c.info.tracking.get();
    if f & ON == 0 {
        return Err(Error::msg("ERR CLIENT CACHING can be called only when the client is in tracking mode with OPTIN or OPTOUT mode enabled"));
    }
    if args.is(2, "yes") {
        if f & OPTIN == 0 {
            return Err(Error::msg(
                "ERR CLIENT CACHING YES is only valid when tracking is enabled in OPTIN mode.",
            ));
        }
    } else if args.is(2, "no") {
        if f & OPTOUT == 0 {
            return Err(Error::msg(
                "ERR CLIENT CACHING NO is only valid when tracking is enabled in OPTOUT mode.",
            ));
        }
    } else {
        return Err(Error::Syntax);
    }
    c.info.tracking.set(f | CACHING);
    c.writer().ok();
    Ok(())
}

/// CLIENT GETREDIR
pub fn client_getredir(c: &mut Conn) {
    let v = if c.info.tracking.get() & ON != 0 {
        c.info.redirect.get().0 as i64
    } else {
        -1
    };
    c.writer().integer(v);
}

/// CLIENT TRACKINGINFO
pub fn client_trackinginfo(c: &mut Conn) {
    let f = c.info.tracking.get();
    let mut flags: Vec<&[u8]> = vec![if f & ON != 0 { b"on" } else { b"off" }];
    if f & BCAST != 0 {
        flags.push(b"bcast");
    }
    if f & OPTIN != 0 {
        flags.push(b"optin");
        if f & CACHING != 0 {
            flags.push(b"caching-yes");
        }
    }
    if f & OPTOUT != 0 {
        flags.push(b"optout");
        if f & CACHING != 0 {
            flags.push(b"caching-no");
        }
    }
    if f & NOLOOP != 0 {
        flags.push(b"noloop");
    }
    if f & BROKEN != 0 {
        flags.push(b"broken_redirect");
    }
    let redirect = if f & ON != 0 {
        c.info.redirect.get().0 as i64
    } else {
        -1
    };
    let prefixes = c.info.prefixes.borrow().clone();
    let mut w = c.writer();
    w.map(3);
    w.bulk(b"flags");
    w.set(flags.len());
    for f in flags {
        w.bulk(f);
    }
    w.bulk(b"redirect");
    w.integer(redirect);
    w.bulk(b"prefixes");
    w.array(prefixes.len());
    for p in &prefixes {
        w.bulk(p);
    }
}

/// Remembers, before it runs, what a command that reads through the runtime (a script's
/// declared keys, a read gathered from several shards) will read: Redis remembers them
/// once it ran, but a remote read's entry must exist before a write can follow it.
pub async fn remember_ahead(c: &Conn, keys: impl Iterator<Item = &[u8]>) {
    let core = c.core.clone();
    let reader = reader(c);
    let mut by_shard: Vec<Vec<Vec<u8>>> = vec![Vec::new(); core.shards()];
    for k in keys {
        by_shard[core.shared.shard_of(k)].push(k.to_vec());
    }
    let mut pending = Vec::new();
    for (s, keys) in by_shard.into_iter().enumerate() {
        if !keys.is_empty() {
            pending.push(core.send_call(s, Remember { keys, reader }, None).await);
        }
    }
    for p in pending {
        p.wait().await;
    }
}

// ---- delivery ----

/// What an invalidation says: keys, or null (a flush) in the protocol of the tracking
/// client (Redis' shared.null[c->resp], even when redirected).
#[derive(Clone)]
pub enum Payload {
    Keys(Vec<Vec<u8>>),
    Null(u8),
}

/// Registers this core's end-of-turn delivery of its shard's invalidations.
pub fn install(core: &Rc<Core>) {
    let weak = Rc::downgrade(core);
    reactor::before_output(move || {
        if let Some(core) = weak.upgrade() {
            send_out(&core);
        }
        false
    });
}

/// Sends what the shard's writes invalidated to the readers' cores.
fn send_out(core: &Rc<Core>) {
    let (invalidations, flushed, broadcasts) = {
        let Ok(mut shard) = core.shard.try_borrow_mut() else {
            return;
        };
        if !shard.tracking.has_output() {
            return;
        }
        let t = &mut shard.tracking;
        (
            t.take_invalidations(),
            t.take_flushed(),
            t.take_broadcasts(),
        )
    };
    let mut by_core: Vec<Vec<(u64, Vec<u8>, u64)>> = vec![Vec::new(); core.shards()];
    for inv in invalidations {
        if let Some(v) = by_core.get_mut(inv.to.core as usize) {
            v.push((inv.to.id, inv.key, inv.by));
        }
    }
    for (at, items) in by_core.into_iter().enumerate() {
        if items.is_empty() {
        } else if at == core.id {
            deliver_keys(core, items);
        } else {
            core.post(at, Invalidate(items));
        }
    }
    if flushed {
        // Every shard flushes: each tells its own core's clients, so each hears one null.
        deliver_flush(core);
    }
    for (prefix, cores, keys) in broadcasts {
        for at in cores {
            let at = at as usize;
            if at == core.id {
                deliver_broadcast(core, &prefix, &keys);
            } else {
                core.post(
                    at,
                    Broadcast {
                        prefix: prefix.clone(),
                        keys: keys.clone(),
                    },
                );
            }
        }
    }
}

fn client(core: &Core, id: u64) -> Option<Rc<ClientInfo>> {
    core.clients.borrow().get(&id).cloned()
}

/// Default-mode invalidations for this core's clients (the second half of Redis'
/// trackingInvalidateKey).
fn deliver_keys(core: &Core, items: Vec<(u64, Vec<u8>, u64)>) {
    for (id, key, by) in items {
        let Some(info) = client(core, id) else {
            continue;
        };
        let f = info.tracking.get();
        // A client that switched to BCAST since it read gets no default-mode message.
        if f & ON == 0 || f & BCAST != 0 || (f & NOLOOP != 0 && by == id) {
            continue;
        }
        send(core, &info, Payload::Keys(vec![key]));
    }
}

/// A flush: every tracking client of this core hears a null.
fn deliver_flush(core: &Core) {
    let clients: Vec<Rc<ClientInfo>> = core
        .clients
        .borrow()
        .values()
        .filter(|c| c.tracking.get() & ON != 0)
        .cloned()
        .collect();
    for info in clients {
        let resp = info.resp.get();
        send(core, &info, Payload::Null(resp));
    }
}

/// The keys written under `prefix`, for this core's BCAST clients of it (Redis'
/// trackingBroadcastInvalidationMessages): NOLOOP clients miss the keys they wrote last.
fn deliver_broadcast(core: &Core, prefix: &[u8], keys: &[(Vec<u8>, u64)]) {
    let ids = core.bcast.borrow().get(prefix).cloned().unwrap_or_default();
    for id in ids {
        let Some(info) = client(core, id) else {
            continue;
        };
        let f = info.tracking.get();
        if f & ON == 0 || f & BCAST == 0 {
            continue;
        }
        let list: Vec<Vec<u8>> = keys
            .iter()
            .filter(|(_, by)| f & NOLOOP == 0 || *by != id)
            .map(|(k, _)| k.clone())
            .collect();
        if !list.is_empty() {
            send(core, &info, Payload::Keys(list));
        }
    }
}

/// Redis' sendTrackingMessage: to the client, or to its REDIRECT target (wherever that
/// is), or a broken-redirect notice.
fn send(core: &Core, info: &Rc<ClientInfo>, payload: Payload) {
    let (to, at) = info.redirect.get();
    if to == 0 {
        to_client(core, info, &payload, false);
    } else if at != core.id {
        core.post(
            at,
            Redirected {
                from: info.id,
                from_core: core.id,
                to,
                payload,
            },
        );
    } else {
        match client(core, to) {
            Some(target) => to_client(core, &target, &payload, true),
            None => broken(core, info),
        }
    }
}

/// The REDIRECT target is gone: the client is told (in RESP3) and flagged.
fn broken(core: &Core, info: &Rc<ClientInfo>) {
    info.tracking.set(info.tracking.get() | BROKEN);
    if info.resp.get() > 2 {
        let mut buf = Vec::new();
        let mut w = Writer::new(&mut buf, Proto::Resp3);
        w.push(2);
        w.bulk(b"tracking-redir-broken");
        w.integer(info.redirect.get().0 as i64);
        mailbox_of(core, info).deliver(&buf, &limits(core, info), engine::shard::unix_ms());
    }
}

/// Encodes the invalidation for `target`: a RESP3 push, a Pub/Sub message on
/// `__redis__:invalidate` for a subscribed RESP2 redirect target, or nothing (RESP2 has
/// no pushes).
fn to_client(core: &Core, target: &Rc<ClientInfo>, payload: &Payload, redirected: bool) {
    let resp3 = target.resp.get() > 2;
    let (sub, psub, ssub) = target.subs.get();
    let mut buf = Vec::new();
    {
        let proto = if resp3 { Proto::Resp3 } else { Proto::Resp2 };
        let mut w = Writer::new(&mut buf, proto);
        if resp3 {
            w.push(2);
            w.bulk(b"invalidate");
        } else if redirected && sub + psub + ssub > 0 {
            w.array(3);
            w.bulk(b"message");
            w.bulk(b"__redis__:invalidate");
        } else {
            return;
        }
        match payload {
            Payload::Keys(keys) => {
                w.array(keys.len());
                for k in keys {
                    w.bulk(k);
                }
            }
            Payload::Null(_) => {}
        }
    }
    if let Payload::Null(resp) = payload {
        buf.extend_from_slice(if *resp > 2 { b"_\r\n" } else { b"$-1\r\n" });
    }
    mailbox_of(core, target).deliver(&buf, &limits(core, target), engine::shard::unix_ms());
}

/// client-output-buffer-limit: the pubsub class for a subscriber, else the normal one.
fn limits(core: &Core, info: &ClientInfo) -> crate::pubsub::Limits {
    let (sub, psub, ssub) = info.subs.get();
    let s = core.settings.get();
    if sub + psub + ssub > 0 {
        s.output
    } else {
        s.normal
    }
}

/// The client's mailbox; one is made if its connection has none, and the connection is
/// nudged to take it up.
fn mailbox_of(core: &Core, info: &Rc<ClientInfo>) -> Rc<crate::pubsub::Mailbox> {
    let _ = core;
    if let Some(mb) = info.inbox.borrow().as_ref() {
        return mb.clone();
    }
    let proto = if info.resp.get() > 2 {
        Proto::Resp3
    } else {
        Proto::Resp2
    };
    let mb = crate::pubsub::Mailbox::new(info.clone(), proto);
    *info.inbox.borrow_mut() = Some(mb.clone());
    if let Some(s) = info.stream.get() {
        s.nudge();
    }
    mb
}

// ---- the calls ----

/// At a key's shard: remember that `reader` reads `keys`.
pub struct Remember {
    pub keys: Vec<Vec<u8>>,
    pub reader: Reader,
}

impl Call for Remember {
    type Out = ();
    fn touches(&self) -> Touches<'_> {
        Touches::Nothing
    }
    fn run(self, core: &Core) {
        let mut shard = core.shard.borrow_mut();
        for k in &self.keys {
            shard.tracking.remember(k, self.reader);
        }
    }
}

/// At every shard: a BCAST client of `core` registered (or dropped) `prefixes`.
pub struct Prefixes {
    pub prefixes: Vec<Vec<u8>>,
    pub core: usize,
    pub add: bool,
}

impl Call for Prefixes {
    type Out = ();
    fn touches(&self) -> Touches<'_> {
        Touches::Nothing
    }
    fn run(self, core: &Core) {
        let mut shard = core.shard.borrow_mut();
        for p in &self.prefixes {
            shard.tracking.set_prefix(p, self.core, self.add);
        }
    }
}

/// Whether client `.0` is connected to this core.
pub struct FindClient(pub u64);

impl Call for FindClient {
    type Out = bool;
    fn touches(&self) -> Touches<'_> {
        Touches::Nothing
    }
    fn run(self, core: &Core) -> bool {
        core.clients.borrow().contains_key(&self.0)
    }
}

/// Default-mode invalidations for clients of this core: (client, key, writer).
pub struct Invalidate(pub Vec<(u64, Vec<u8>, u64)>);

impl Call for Invalidate {
    type Out = ();
    fn touches(&self) -> Touches<'_> {
        Touches::Nothing
    }
    fn run(self, core: &Core) {
        deliver_keys(core, self.0);
    }
}

/// Keys written under a BCAST prefix, for this core's clients of it.
pub struct Broadcast {
    pub prefix: Vec<u8>,
    pub keys: Vec<(Vec<u8>, u64)>,
}

impl Call for Broadcast {
    type Out = ();
    fn touches(&self) -> Touches<'_> {
        Touches::Nothing
    }
    fn run(self, core: &Core) {
        deliver_broadcast(core, &self.prefix, &self.keys);
    }
}

/// An invalidation for client `to` of this core, the REDIRECT target of `from`.
pub struct Redirected {
    pub from: u64,
    pub from_core: usize,
    pub to: u64,
    pub payload: Payload,
}

impl Call for Redirected {
    type Out = ();
    fn touches(&self) -> Touches<'_> {
        Touches::Nothing
    }
    fn run(self, core: &Core) {
        match client(core, self.to) {
            Some(target) => to_client(core, &target, &self.payload, true),
            None => core.post(self.from_core, RedirectBroken(self.from)),
        }
    }
}

/// Client `.0` of this core redirects to a client that is gone.
pub struct RedirectBroken(pub u64);

impl Call for RedirectBroken {
    type Out = ();
    fn touches(&self) -> Touches<'_> {
        Touches::Nothing
    }
    fn run(self, core: &Core) {
        if let Some(info) = client(core, self.0) {
            if info.tracking.get() & ON != 0 {
                broken(core, &info);
            }
        }
    }
}
