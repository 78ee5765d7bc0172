//! Pub/Sub across cores.
//!
//! Each core keeps the subscriptions of its own clients (`Registry`). PUBLISH delivers on
//! its own core, then sends the message once to every other core that has subscribers
//! (`calls::Publish`), each of which delivers to its clients and answers how many received it;
//! the reply is the sum. A message thus crosses each core once, however many subscribers
//! that core has. One publisher's messages reach a subscriber in order: the publisher waits
//! for every core before its next command, and each pair of cores is a FIFO queue.
//!
//! A subscriber's connection owns a `Mailbox`: messages are encoded in its protocol when
//! delivered and written by the connection's task, which waits on its socket and its
//! mailbox at once. A mailbox past the pubsub class of `client-output-buffer-limit` (hard,
//! or soft for longer than its seconds) gets its client disconnected, as Redis does.

use crate::client::ClientInfo;
use crate::conn::Conn;
use crate::core::{calls, Core};
use engine::notify::Event;
use engine::table::Rt;
use engine::{Args, Error};
use resp::{Proto, Writer};
use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::sync::atomic::Ordering;
use std::task::{Context, Poll, Waker};

/// The three namespaces.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Channel,
    Pattern,
    Shard,
}

/// Messages waiting for a subscriber's connection to write them.
pub struct Mailbox {
    buf: RefCell<Vec<u8>>,
    waker: RefCell<Option<Waker>>,
    pub proto: Cell<Proto>,
    info: Rc<ClientInfo>,
    /// Unix ms when the buffer went past the soft limit (0: it is under).
    soft_since: Cell<u64>,
}

impl Mailbox {
    pub fn new(info: Rc<ClientInfo>, proto: Proto) -> Rc<Mailbox> {
        Rc::new(Mailbox {
            buf: RefCell::new(Vec::new()),
            waker: RefCell::new(None),
            proto: Cell::new(proto),
            info,
            soft_since: Cell::new(0),
        })
    }

    /// Moves the waiting messages to `out`.
    pub fn drain_into(&self, out: &mut Vec<u8>) {
        let mut buf = self.buf.borrow_mut();
        if !buf.is_empty() {
            out.extend_from_slice(&buf);
            buf.clear();
            if buf.capacity() > 1 << 20 {
                *buf = Vec::new();
            }
            self.soft_since.set(0);
        }
    }

    pub fn pending(&self) -> usize {
        self.buf.borrow().len()
    }

    /// Resolves once something is waiting.
    pub fn ready(self: &Rc<Self>) -> MailboxReady {
        MailboxReady(self.clone())
    }

    /// Queues one message, already encoded in this subscriber's protocol.
    pub(crate) fn deliver(&self, encoded: &[u8], limits: &Limits, now_ms: u64) {
        if self.info.killed.get() {
            return;
        }
        {
            let mut buf = self.buf.borrow_mut();
            buf.extend_from_slice(encoded);
            let n = buf.len();
            let over_soft = limits.soft > 0 && n > limits.soft;
            if !over_soft {
                self.soft_since.set(0);
            } else if self.soft_since.get() == 0 {
                self.soft_since.set(now_ms);
            }
            let soft_expired = over_soft
                && now_ms.saturating_sub(self.soft_since.get())
                    >= limits.soft_secs.saturating_mul(1000);
            if (limits.hard > 0 && n > limits.hard) || soft_expired {
                tracing::warn!(
                    client = self.info.id,
                    pending = n,
                    "closing a subscriber past client-output-buffer-limit pubsub"
                );
                *buf = Vec::new();
                drop(buf);
                self.info.kill();
                return;
            }
            self.info.obuf.set(n);
        }
        if let Some(w) = self.waker.borrow_mut().take() {
            w.wake();
        }
    }
}

pub struct MailboxReady(Rc<Mailbox>);

impl Future for MailboxReady {
    type Output = ();
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if !self.0.buf.borrow().is_empty() || self.0.info.killed.get() {
            return Poll::Ready(());
        }
        *self.0.waker.borrow_mut() = Some(cx.waker().clone());
        Poll::Pending
    }
}

/// The pubsub class of client-output-buffer-limit, in bytes and seconds (0 = no limit).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    pub hard: usize,
    pub soft: usize,
    pub soft_secs: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            hard: 32 << 20,
            soft: 8 << 20,
            soft_secs: 60,
        }
    }
}

impl Limits {
    /// Reads the pubsub class from a `client-output-buffer-limit` value ("normal 0 0 0 ...").
    pub fn from_config(value: &str) -> Limits {
        Limits::of_class(value, "pubsub").unwrap_or_default()
    }

    /// Reads one class ("normal", "pubsub", "replica" or its alias "slave").
    pub fn of_class(value: &str, want: &str) -> Option<Limits> {
        let words: Vec<&str> = value.split_whitespace().collect();
        for w in words.chunks(4) {
            if let [class, hard, soft, secs] = w {
                let class = if class.eq_ignore_ascii_case("slave") {
                    "replica"
                } else {
                    class
                };
                if class.eq_ignore_ascii_case(want) {
                    let bytes = |s: &str| config_bytes(s).unwrap_or(0);
                    return Some(Limits {
                        hard: bytes(hard),
                        soft: bytes(soft),
                        soft_secs: secs.parse().unwrap_or(0),
                    });
                }
            }
        }
        None
    }
}

/// "32mb", "8388608", "1gb": Redis' memtoull.
fn config_bytes(s: &str) -> Option<usize> {
    let lower = s.to_ascii_lowercase();
    let (num, mul) = [
        ("kb", 1024),
        ("mb", 1 << 20),
        ("gb", 1 << 30),
        ("k", 1000),
        ("m", 1_000_000),
        ("g", 1_000_000_000),
        ("b", 1),
    ]
    .iter()
    .find_map(|(suffix, m)| lower.strip_suffix(suffix).map(|n| (n.to_string(), *m)))
    .unwrap_or((lower.clone(), 1));
    num.parse::<usize>().ok().map(|n| n.saturating_mul(mul))
}

type Subscribers = Vec<(u64, Rc<Mailbox>)>;

/// A message encoded at most once per protocol.
#[derive(Default)]
struct Forms {
    resp2: Option<Vec<u8>>,
    resp3: Option<Vec<u8>>,
}

impl Forms {
    fn get(&mut self, proto: Proto, encode: impl FnOnce(&mut Writer)) -> &[u8] {
        let slot = match proto {
            Proto::Resp2 => &mut self.resp2,
            Proto::Resp3 => &mut self.resp3,
        };
        slot.get_or_insert_with(|| {
            let mut buf = Vec::with_capacity(64);
            encode(&mut Writer::new(&mut buf, proto));
            buf
        })
    }
}

/// A core's subscriptions: name -> its subscribers here, per namespace.
#[derive(Default)]
pub struct Registry {
    channels: HashMap<Vec<u8>, Subscribers>,
    patterns: HashMap<Vec<u8>, Subscribers>,
    shard: HashMap<Vec<u8>, Subscribers>,
}

impl Registry {
    fn map(&mut self, kind: Kind) -> &mut HashMap<Vec<u8>, Subscribers> {
        match kind {
            Kind::Channel => &mut self.channels,
            Kind::Pattern => &mut self.patterns,
            Kind::Shard => &mut self.shard,
        }
    }

    fn map_ref(&self, kind: Kind) -> &HashMap<Vec<u8>, Subscribers> {
        match kind {
            Kind::Channel => &self.channels,
            Kind::Pattern => &self.patterns,
            Kind::Shard => &self.shard,
        }
    }

    pub fn add(&mut self, kind: Kind, name: &[u8], id: u64, mb: &Rc<Mailbox>) {
        self.map(kind)
            .entry(name.to_vec())
            .or_default()
            .push((id, mb.clone()));
    }

    pub fn remove(&mut self, kind: Kind, name: &[u8], id: u64) {
        let map = self.map(kind);
        if let Some(subs) = map.get_mut(name) {
            subs.retain(|(c, _)| *c != id);
            if subs.is_empty() {
                map.remove(name);
            }
        }
    }

    /// Delivers a message to this core's receivers; returns how many there were (channel
    /// subscribers plus matching pattern subscriptions, as Redis counts). Each form of the
    /// message (per protocol, per pattern) is encoded once and copied to every mailbox:
    /// with 50 subscribers, encoding per subscriber was a tenth of the server's time.
    pub fn publish(&self, channel: &[u8], message: &[u8], shard: bool, limits: &Limits) -> usize {
        let now = engine::shard::unix_ms();
        let mut n = 0;
        let (map, kind) = if shard {
            (&self.shard, &b"smessage"[..])
        } else {
            (&self.channels, &b"message"[..])
        };
        if let Some(subs) = map.get(channel) {
            let mut forms = Forms::default();
            for (_, mb) in subs {
                let bytes = forms.get(mb.proto.get(), |w| {
                    w.push(3);
                    w.bulk(kind);
                    w.bulk(channel);
                    w.bulk(message);
                });
                mb.deliver(bytes, limits, now);
                n += 1;
            }
        }
        if shard {
            return n;
        }
        for (pattern, subs) in &self.patterns {
            if !engine::glob::matches(pattern, channel, false) {
                continue;
            }
            let mut forms = Forms::default();
            for (_, mb) in subs {
                let bytes = forms.get(mb.proto.get(), |w| {
                    w.push(4);
                    w.bulk(b"pmessage");
                    w.bulk(pattern);
                    w.bulk(channel);
                    w.bulk(message);
                });
                mb.deliver(bytes, limits, now);
                n += 1;
            }
        }
        n
    }

    /// Names with subscribers here, filtered by an optional glob.
    pub fn names(&self, kind: Kind, pattern: Option<&[u8]>) -> Vec<Vec<u8>> {
        self.map_ref(kind)
            .keys()
            .filter(|k| pattern.is_none_or(|p| engine::glob::matches(p, k, false)))
            .cloned()
            .collect()
    }

    pub fn subscribers(&self, kind: Kind, name: &[u8]) -> usize {
        self.map_ref(kind).get(name).map_or(0, |s| s.len())
    }
}

/// A connection's own subscriptions, in the order it made them.
#[derive(Default)]
pub struct Subs {
    pub channels: Vec<Vec<u8>>,
    pub patterns: Vec<Vec<u8>>,
    pub shard: Vec<Vec<u8>>,
    pub mailbox: Option<Rc<Mailbox>>,
}

impl Subs {
    pub fn list(&mut self, kind: Kind) -> &mut Vec<Vec<u8>> {
        match kind {
            Kind::Channel => &mut self.channels,
            Kind::Pattern => &mut self.patterns,
            Kind::Shard => &mut self.shard,
        }
    }

    /// Redis' clientSubscriptionsCount (channels and patterns) or, for shard channels,
    /// clientShardSubscriptionsCount.
    pub fn count(&self, kind: Kind) -> usize {
        match kind {
            Kind::Shard => self.shard.len(),
            _ => self.channels.len() + self.patterns.len(),
        }
    }

    /// Subscribed to anything (RESP2's subscribed state).
    pub fn active(&self) -> bool {
        !(self.channels.is_empty() && self.patterns.is_empty() && self.shard.is_empty())
    }
}

// ---- the commands ----

fn word(kind: Kind, sub: bool) -> &'static [u8] {
    match (kind, sub) {
        (Kind::Channel, true) => b"subscribe",
        (Kind::Channel, false) => b"unsubscribe",
        (Kind::Pattern, true) => b"psubscribe",
        (Kind::Pattern, false) => b"punsubscribe",
        (Kind::Shard, true) => b"ssubscribe",
        (Kind::Shard, false) => b"sunsubscribe",
    }
}

/// Mirrors the connection's subscription counts into its CLIENT LIST record.
fn show_counts(c: &Conn) {
    let s = &c.subs;
    c.info
        .subs
        .set((s.channels.len(), s.patterns.len(), s.shard.len()));
}

fn confirm(c: &mut Conn, kind: Kind, sub: bool, name: Option<&[u8]>) {
    let n = c.subs.count(kind) as i64;
    let mut w = c.writer();
    w.push(3);
    w.bulk(word(kind, sub));
    match name {
        Some(name) => w.bulk(name),
        None => w.null(),
    }
    w.integer(n);
    c.push_end = c.out.len();
}

pub async fn subscribe(c: &mut Conn, kind: Kind, args: Args<'_>) {
    let core = c.core.clone();
    let id = c.info.id;
    let mb = c.mailbox();
    let mut first_here = Vec::new();
    for name in args.iter().skip(1) {
        if !c.subs.list(kind).iter().any(|n| n == name) {
            c.subs.list(kind).push(name.to_vec());
            let mut reg = core.pubsub.borrow_mut();
            reg.add(kind, name, id, &mb);
            if kind == Kind::Shard && reg.subscribers(kind, name) == 1 {
                first_here.push(name.to_vec());
            }
            drop(reg);
            core.shared.counts(kind)[core.id].fetch_add(1, Ordering::Relaxed);
        }
        confirm(c, kind, true, Some(name));
    }
    // The slot owners learn of this core's new shard channels before the client hears it
    // is subscribed, so an SPUBLISH it triggers next finds it.
    route_shard_channels(&core, first_here, true).await;
    show_counts(c);
}

/// Tells each shard channel's owning shard (by slot, as in Redis Cluster) that this core
/// has its first subscriber to it (`add`) or lost its last one.
async fn route_shard_channels(core: &Rc<Core>, names: Vec<Vec<u8>>, add: bool) {
    if names.is_empty() {
        return;
    }
    let mut by_owner: Vec<Vec<Vec<u8>>> = vec![Vec::new(); core.shards()];
    for n in names {
        by_owner[core.shared.shard_of(&n)].push(n);
    }
    let mut pending = Vec::new();
    for (owner, channels) in by_owner.into_iter().enumerate() {
        if !channels.is_empty() {
            let call = calls::ShardChannels {
                channels,
                core: core.id,
                add,
            };
            pending.push(core.send_call(owner, call, None).await);
        }
    }
    for p in pending {
        p.wait().await;
    }
}

/// Unsubscribes from `names` (every subscription of `kind` when None), confirming each.
pub async fn unsubscribe(c: &mut Conn, kind: Kind, names: Option<Vec<Vec<u8>>>, reply: bool) {
    let core = c.core.clone();
    let names = names.unwrap_or_else(|| c.subs.list(kind).clone());
    if names.is_empty() && reply {
        confirm(c, kind, false, None);
    }
    let mut last_here = Vec::new();
    for name in &names {
        if let Some(i) = c.subs.list(kind).iter().position(|n| n == name) {
            c.subs.list(kind).remove(i);
            let mut reg = core.pubsub.borrow_mut();
            reg.remove(kind, name, c.info.id);
            if kind == Kind::Shard && reg.subscribers(kind, name) == 0 {
                last_here.push(name.clone());
            }
            drop(reg);
            core.shared.counts(kind)[core.id].fetch_sub(1, Ordering::Relaxed);
        }
        if reply {
            confirm(c, kind, false, Some(name));
        }
    }
    route_shard_channels(&core, last_here, false).await;
    show_counts(c);
    c.drop_mailbox_if_unused();
}

/// Drops every subscription (disconnect, RESET), without replies.
pub async fn unsubscribe_all(c: &mut Conn) {
    for kind in [Kind::Channel, Kind::Pattern, Kind::Shard] {
        unsubscribe(c, kind, None, false).await;
    }
}

/// Delivers a message to this core's receivers; returns how many there were.
pub fn publish_here(core: &Core, channel: &[u8], message: &[u8], shard: bool) -> i64 {
    let limits = core.settings.get().output;
    core.pubsub
        .borrow()
        .publish(channel, message, shard, &limits) as i64
}

/// Cluster mode: a message published on this node goes to the other nodes too (their
/// subscribers are not counted in the reply, as in Redis).
async fn to_cluster(core: &Rc<Core>, channel: &[u8], message: &[u8], shard: bool) {
    if core.shared.cluster.is_none() {
        return;
    }
    if core.id == 0 {
        crate::cluster::bus::publish_out(core, channel, message, shard);
        return;
    }
    let call = crate::core::calls::ClusterPublish {
        channel: channel.to_vec(),
        message: message.to_vec(),
        shard,
    };
    // Nothing to wait for: the reply counts this node's subscribers only, as in Redis.
    drop(core.send_call(0, call, None).await);
}

/// `to_cluster` from where nothing can wait (a script's PUBLISH).
pub fn to_cluster_detached(core: &Core, channel: &[u8], message: &[u8], shard: bool) {
    if core.shared.cluster.is_none() {
        return;
    }
    if core.id == 0 {
        crate::cluster::bus::publish_out(core, channel, message, shard);
    } else if let Some(me) = core.rc() {
        let (channel, message) = (channel.to_vec(), message.to_vec());
        reactor::spawn_local(async move { to_cluster(&me, &channel, &message, shard).await })
            .detach();
    }
}

/// A message another node published: to this node's subscribers on every core.
pub fn deliver_everywhere(core: &Rc<Core>, channel: Vec<u8>, message: Vec<u8>, shard: bool) {
    publish_here(core, &channel, &message, shard);
    let core = core.clone();
    reactor::spawn_local(async move {
        let msgs = || vec![(channel.clone(), message.clone())];
        for p in send_remote(&core, msgs, shard).await {
            p.wait().await;
        }
    })
    .detach();
}

/// PUBLISH: delivers here, then once to every other core with subscribers.
async fn publish(c: &mut Conn, args: Args<'_>) -> i64 {
    let core = c.core.clone();
    let (channel, message) = (args.get(1), args.get(2));
    to_cluster(&core, channel, message, false).await;
    let total = publish_here(&core, channel, message, false);
    // This client's own messages come before the reply, as in Redis.
    if let Some(mb) = c.subs.mailbox.clone() {
        mb.drain_into(&mut c.out);
        c.push_end = c.out.len();
    }
    total + publish_remote(&core, || vec![(channel.to_vec(), message.to_vec())], false).await
}

/// PUBLISH in a pipeline (`Conn::publish_can_pipeline`): delivered here at once and sent
/// to the other cores without waiting; its reply (the sum) takes its place among the
/// pipeline's deferred replies. A pipeline of PUBLISHes then costs one wait per read, not
/// one round trip per message. Order holds: each pair of cores is a FIFO queue.
pub async fn publish_pipelined(c: &mut Conn, args: Args<'_>) {
    let core = c.core.clone();
    let (channel, message) = (args.get(1), args.get(2));
    to_cluster(&core, channel, message, false).await;
    let here = publish_here(&core, channel, message, false);
    let msgs = || vec![(channel.to_vec(), message.to_vec())];
    let pending = send_remote(&core, msgs, false).await;
    c.defer_sum(here, pending);
}

/// SPUBLISH: the channel's owning shard (its slot's) knows which cores subscribe to it;
/// the message goes to those alone, once each.
async fn spublish(c: &mut Conn, args: Args<'_>) -> i64 {
    let core = c.core.clone();
    let shared = core.shared.clone();
    let (channel, message) = (args.get(1), args.get(2));
    to_cluster(&core, channel, message, true).await;
    if shared
        .shard_subscriptions
        .iter()
        .all(|n| n.load(Ordering::Relaxed) == 0)
    {
        return 0;
    }
    let route = calls::ShardRoute {
        channel: channel.to_vec(),
    };
    let cores = core.ask(shared.shard_of(channel), route).await;
    let mut total = 0;
    let mut pending = Vec::new();
    for s in cores {
        if s == core.id {
            total += publish_here(&core, channel, message, true);
            if let Some(mb) = c.subs.mailbox.clone() {
                mb.drain_into(&mut c.out);
            }
        } else {
            let call = calls::Publish {
                msgs: vec![(channel.to_vec(), message.to_vec())],
                shard: true,
            };
            pending.push(core.send_call(s, call, None).await);
        }
    }
    for p in pending {
        total += p.wait().await;
    }
    total
}

/// Sends messages once to every other core with subscribers and waits for them all;
/// returns how many received them there.
async fn publish_remote(
    core: &Rc<Core>,
    msgs: impl Fn() -> Vec<(Vec<u8>, Vec<u8>)>,
    shard: bool,
) -> i64 {
    let mut total = 0;
    for p in send_remote(core, msgs, shard).await {
        total += p.wait().await;
    }
    total
}

/// Sends messages once to every other core with subscribers, without waiting.
async fn send_remote(
    core: &Rc<Core>,
    msgs: impl Fn() -> Vec<(Vec<u8>, Vec<u8>)>,
    shard: bool,
) -> Vec<crate::core::Asked<i64>> {
    let kind = if shard { Kind::Shard } else { Kind::Channel };
    let mut pending = Vec::new();
    for s in 0..core.shards() {
        if s != core.id && core.shared.counts(kind)[s].load(Ordering::Relaxed) > 0 {
            let call = calls::Publish {
                msgs: msgs(),
                shard,
            };
            pending.push(core.send_call(s, call, None).await);
        }
    }
    pending
}

/// The messages keyspace events turn into under `flags` (None when nobody anywhere
/// subscribes, so nothing is built).
fn event_messages(core: &Core, events: &[Event]) -> Option<Vec<(Vec<u8>, Vec<u8>)>> {
    let shared = &core.shared;
    if shared
        .subscriptions
        .iter()
        .all(|n| n.load(Ordering::Relaxed) == 0)
    {
        return None;
    }
    let flags = core.settings.get().notify;
    Some(events.iter().flat_map(|e| e.messages(flags)).collect())
}

fn deliver_here(core: &Core, msgs: &[(Vec<u8>, Vec<u8>)]) {
    let limits = core.settings.get().output;
    let reg = core.pubsub.borrow();
    for (channel, message) in msgs {
        reg.publish(channel, message, false, &limits);
    }
}

/// Publishes the keyspace events of a connection's command before its reply, as Redis
/// does: its own subscription sees them first, and the other cores have delivered them
/// before the client can send its next command.
pub async fn publish_events(c: &mut Conn) {
    let events = std::mem::take(&mut c.events);
    let core = c.core.clone();
    let Some(msgs) = event_messages(&core, &events) else {
        return;
    };
    deliver_here(&core, &msgs);
    if let Some(mb) = c.subs.mailbox.clone() {
        mb.drain_into(&mut c.out);
    }
    publish_remote(&core, || msgs.clone(), false).await;
}

/// Publishes keyspace events raised outside a client's command on this core (active expiry,
/// a blocked client served, an operation for another core): delivered here at once and
/// sent to the other cores in the background.
pub fn publish_detached(core: &Rc<Core>, events: Vec<Event>) {
    let Some(msgs) = event_messages(core, &events) else {
        return;
    };
    deliver_here(core, &msgs);
    let core = core.clone();
    reactor::spawn_local(async move {
        publish_remote(&core, || msgs.clone(), false).await;
    })
    .detach();
}

/// Sends messages to the other cores with subscribers in the background (a script that
/// publishes after writing, on one shard: it cannot wait).
pub fn publish_detached_messages(core: &Rc<Core>, msgs: Vec<(Vec<u8>, Vec<u8>)>, shard: bool) {
    let core = core.clone();
    reactor::spawn_local(async move {
        publish_remote(&core, || msgs.clone(), shard).await;
    })
    .detach();
}

pub async fn run(c: &mut Conn, rt: Rt, args: Args<'_>) -> engine::Result<()> {
    match rt {
        Rt::Subscribe => subscribe(c, Kind::Channel, args).await,
        Rt::PSubscribe => subscribe(c, Kind::Pattern, args).await,
        Rt::SSubscribe => subscribe(c, Kind::Shard, args).await,
        Rt::Unsubscribe | Rt::PUnsubscribe | Rt::SUnsubscribe => {
            let kind = match rt {
                Rt::Unsubscribe => Kind::Channel,
                Rt::PUnsubscribe => Kind::Pattern,
                _ => Kind::Shard,
            };
            let names = (args.len() > 1).then(|| args.iter().skip(1).map(|a| a.to_vec()).collect());
            unsubscribe(c, kind, names, true).await;
        }
        Rt::Publish | Rt::SPublish => {
            let n = if rt == Rt::SPublish {
                spublish(c, args).await
            } else {
                publish(c, args).await
            };
            c.writer().integer(n);
        }
        Rt::Pubsub => pubsub(c, args).await?,
        _ => return Err(Error::Syntax),
    }
    Ok(())
}

async fn pubsub(c: &mut Conn, args: Args<'_>) -> engine::Result<()> {
    if let Some(e) =
        engine::lookup(b"pubsub").and_then(|s| engine::table::subcommand_error(s, args))
    {
        return Err(Error::msg(e));
    }
    let core = c.core.clone();
    let sub = args.get(1).to_ascii_lowercase();
    match (sub.as_slice(), args.len()) {
        (b"channels" | b"shardchannels", 2 | 3) => {
            let kind = if sub == b"channels" {
                Kind::Channel
            } else {
                Kind::Shard
            };
            let pattern = (args.len() == 3).then(|| args.get(2).to_vec());
            let mut all: Vec<Vec<u8>> = Vec::new();
            for k in core
                .ask_all(
                    |_| calls::PubsubNames {
                        kind,
                        pattern: pattern.clone(),
                    },
                    None,
                )
                .await
            {
                all.extend(k);
            }
            all.sort();
            all.dedup();
            let mut w = c.writer();
            w.array(all.len());
            for n in &all {
                w.bulk(n);
            }
        }
        (b"numsub" | b"shardnumsub", _) => {
            let kind = if sub == b"numsub" {
                Kind::Channel
            } else {
                Kind::Shard
            };
            let names: Vec<Vec<u8>> = args.iter().skip(2).map(|a| a.to_vec()).collect();
            let mut counts = vec![0u64; names.len()];
            for v in core
                .ask_all(
                    |_| calls::PubsubCount {
                        kind,
                        names: names.clone(),
                    },
                    None,
                )
                .await
            {
                for (t, n) in counts.iter_mut().zip(v) {
                    *t += n;
                }
            }
            let mut w = c.writer();
            w.array(names.len() * 2);
            for (n, k) in names.iter().zip(counts) {
                w.bulk(n);
                w.integer(k as i64);
            }
        }
        (b"numpat", 2) => {
            let mut all: Vec<Vec<u8>> = Vec::new();
            for k in core
                .ask_all(
                    |_| calls::PubsubNames {
                        kind: Kind::Pattern,
                        pattern: None,
                    },
                    None,
                )
                .await
            {
                all.extend(k);
            }
            all.sort();
            all.dedup();
            c.writer().integer(all.len() as i64);
        }
        (b"help", 2) => {
            let lines = [
                "PUBSUB <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
                "CHANNELS [<pattern>]",
                "    Return the currently active channels matching a <pattern> (default: '*').",
                "NUMPAT",
                "    Return number of subscriptions to patterns.",
                "NUMSUB [<channel> ...]",
                "    Return the number of subscribers for the specified channels, excluding",
                "    pattern subscriptions(default: no channels).",
                "SHARDCHANNELS [<pattern>]",
                "    Return the currently active shard level channels matching a <pattern> (default: '*').",
                "SHARDNUMSUB [<shardchannel> ...]",
                "    Return the number of subscribers for the specified shard level channel(s)",
                "HELP",
                "    Prints this help.",
            ];
            c.help(&lines);
        }
        _ => {
            return Err(Error::msg(format!(
                "ERR unknown subcommand or wrong number of arguments for '{}'. Try PUBSUB HELP.",
                String::from_utf8_lossy(args.get(1))
            )))
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn output_buffer_limit_config() {
        let l = Limits::from_config(
            "normal 0 0 0 slave 268435456 67108864 60 pubsub 33554432 8388608 60",
        );
        assert_eq!(l, Limits::default());
        let l = Limits::from_config("pubsub 1mb 512kb 5");
        assert_eq!(
            l,
            Limits {
                hard: 1 << 20,
                soft: 512 << 10,
                soft_secs: 5
            }
        );
    }
}
