//! Commands the runtime implements: connection state (HELLO, AUTH, SELECT, CLIENT), server
//! state (CONFIG, INFO, COMMAND, SHUTDOWN), whole-keyspace commands that ask every shard
//! (DBSIZE, KEYS, SCAN, FLUSHALL, ...), and the multi-key commands that move values between
//! shards (RENAME, COPY, LCS, MSETNX).

use crate::conn::{Conn, ReplyMode};
use crate::core::calls::{self, Stored};
use crate::ops::{KillFilter, Op, Reply};
use crate::shared::ShutdownReason;
use crate::txn::{within, Scope, Txn};
use engine::notify::{GENERIC, KEY_MISS, NEW, STRING};
use engine::table::{CommandSpec, Rt, COMMANDS};
use engine::{Args, Error};
use resp::{Proto, Writer};
use std::collections::HashMap;
use std::sync::atomic::Ordering;

pub const REDIS_VERSION: &str = "7.0.15";

fn lower(b: &[u8]) -> String {
    String::from_utf8_lossy(b).to_ascii_lowercase()
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn unknown_sub(sub: &[u8], cmd: &str) -> String {
    format!(
        "ERR unknown subcommand '{}'. Try {} HELP.",
        String::from_utf8_lossy(sub)
            .chars()
            .take(128)
            .collect::<String>(),
        cmd.to_ascii_uppercase()
    )
}

pub async fn run(c: &mut Conn, rt: Rt, spec: &'static CommandSpec, args: Args<'_>) {
    if c.master {
        // A replica's master: what the command asks of the shards sees keys as the
        // master did (`Shard::obey`).
        let core = c.core.clone();
        let inner = Box::pin(run_inner(c, rt, spec, args));
        let r = crate::core::Obeying { core: &core, inner }.await;
        if let Err(e) = r {
            c.error(&e.message());
        }
        return;
    }
    if let Err(e) = run_inner(c, rt, spec, args).await {
        c.error(&e.message());
    }
}

async fn run_inner(
    c: &mut Conn,
    rt: Rt,
    spec: &'static CommandSpec,
    args: Args<'_>,
) -> engine::Result<()> {
    let core = c.core.clone();
    let shared = core.shared.clone();
    // Whether this runs inside the connection's read (whole-keyspace operations wait for
    // every other read: `barrier`).
    let in_read = c.in_read;
    match rt {
        // A RESP2 client in the subscribed state gets PING answered as a message.
        Rt::Ping if c.proto == Proto::Resp2 && c.subs.active() && args.len() <= 2 => {
            let mut w = c.writer();
            w.array(2);
            w.bulk(b"pong");
            w.bulk(if args.len() == 2 { args.get(1) } else { b"" });
        }
        Rt::Ping => match args.len() {
            1 => c.writer().simple(b"PONG"),
            2 => c.writer().bulk(args.get(1)),
            _ => return Err(Error::Arity("ping".into())),
        },
        Rt::Echo => c.writer().bulk(args.get(1)),
        Rt::Quit => {
            c.writer().ok();
            c.close = true;
        }
        Rt::Multi => crate::multi::multi(c),
        Rt::Exec => crate::multi::exec(c).await,
        Rt::Discard => crate::multi::discard(c).await,
        Rt::Watch => crate::multi::watch(c, args).await,
        Rt::Unwatch => crate::multi::unwatch(c).await,
        Rt::Eval => crate::scripting::eval(c, spec, args).await,
        Rt::Script => crate::scripting::script_cmd(c, args).await,
        Rt::Function => crate::functions::function_cmd(c, args).await,
        Rt::Reset => {
            crate::multi::end(c).await;
            c.stop_monitoring();
            crate::pubsub::unsubscribe_all(c).await;
            crate::tracking::disable(c).await;
            c.drop_mailbox_if_unused();
            c.db = 0;
            c.info.db.set(0);
            c.proto = Proto::Resp2;
            c.info.resp.set(2);
            c.reply_mode = ReplyMode::On;
            c.info.name.borrow_mut().clear();
            c.info.no_evict.set(false);
            c.authed = shared.requirepass().is_none();
            c.info.authenticated.set(c.authed);
            c.writer().simple(b"RESET");
        }
        Rt::Auth => {
            let (user, pass) = match args.len() {
                2 => (None, args.get(1)),
                3 => (Some(args.get(1)), args.get(2)),
                _ => return Err(Error::Syntax),
            };
            auth(c, user, pass)?;
            c.writer().ok();
        }
        Rt::Hello => hello(c, args)?,
        Rt::Select => {
            let db = args.int32(1)?;
            if shared.cluster.is_some() && db != 0 {
                return Err(Error::msg("ERR SELECT is not allowed in cluster mode"));
            }
            if db < 0 || db as usize >= shared.databases() {
                return Err(Error::msg("ERR DB index is out of range"));
            }
            c.db = db as usize;
            c.info.db.set(c.db);
            c.writer().ok();
        }
        Rt::Time => {
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap_or_default();
            let mut w = c.writer();
            w.array(2);
            w.bulk(now.as_secs().to_string().as_bytes());
            w.bulk(now.subsec_micros().to_string().as_bytes());
        }
        Rt::LastSave => {
            let t = shared.lastsave.load(Ordering::Relaxed);
            c.writer().integer(t as i64);
        }
        Rt::ReplicaOf if shared.cluster.is_some() => {
            return Err(Error::msg("ERR REPLICAOF not allowed in cluster mode."));
        }
        Rt::Failover if shared.cluster.is_some() => {
            return Err(Error::msg(
                "ERR FAILOVER not allowed in cluster mode. Use CLUSTER FAILOVER command instead.",
            ));
        }
        Rt::ReplicaOf => {
            let (host, port) = (text(args.get(1)), text(args.get(2)));
            let master = if host.eq_ignore_ascii_case("no") && port.eq_ignore_ascii_case("one") {
                None
            } else {
                let port = args
                    .int(2)
                    .ok()
                    .filter(|p| (0..=65535).contains(p))
                    .ok_or_else(|| Error::msg("ERR Invalid master port"))?;
                Some((host, port as u16))
            };
            let reply = crate::repl::replicaof(&core, master).map_err(Error::msg)?;
            c.out.extend_from_slice(reply.as_bytes());
        }
        Rt::Role => crate::repl::role(&shared, &mut c.writer()),
        Rt::Cluster => crate::cluster::cmd::cluster(c, args).await?,
        Rt::Asking => crate::cluster::cmd::asking(c).await?,
        Rt::Migrate => crate::cluster::migrate::migrate(c, args).await?,
        Rt::ReadOnly => crate::cluster::cmd::readonly(c, true).await?,
        Rt::ReadWrite => crate::cluster::cmd::readonly(c, false).await?,
        Rt::Failover => {
            if args.len() == 2 && args.is(1, "abort") {
                crate::repl::failover_abort(&core).map_err(Error::msg)?;
                c.writer().ok();
                return Ok(());
            }
            let mut req = crate::repl::FailoverRequest {
                target: None,
                timeout_ms: 0,
                force: false,
            };
            let mut j = 1;
            while j < args.len() {
                if args.is(j, "timeout") && j + 1 < args.len() && req.timeout_ms == 0 {
                    let ms = args.int(j + 1)?;
                    if ms <= 0 {
                        return Err(Error::msg("ERR FAILOVER timeout must be greater than 0"));
                    }
                    req.timeout_ms = ms as u64;
                    j += 2;
                } else if args.is(j, "to") && j + 2 < args.len() && req.target.is_none() {
                    let port = args.int(j + 2)?;
                    req.target = Some((text(args.get(j + 1)), port.clamp(0, 65535) as u16));
                    j += 3;
                } else if args.is(j, "force") && !req.force {
                    req.force = true;
                    j += 1;
                } else {
                    return Err(Error::Syntax);
                }
            }
            crate::repl::failover(&core, req).map_err(Error::msg)?;
            c.writer().ok();
        }
        Rt::Replconf => {
            if args.len().is_multiple_of(2) {
                return Err(Error::Syntax);
            }
            if args.is(1, "getack") {
                // From the master: the offset applied, written past the dropped replies.
                if c.master {
                    // Everything before it ran (runtime commands start after the deferred
                    // replies are in).
                    c.settle_offset();
                    if let Some(s) = c.info.stream.get() {
                        let _ = s.write(&crate::repl::ack(&shared.repl));
                    }
                }
                return Ok(());
            }
            let mut i = 1;
            while i + 1 < args.len() {
                let value = text(args.get(i + 1));
                if args.is(i, "ack") {
                    // A replica's acknowledgement (and FACK after it): no reply.
                    if let Ok(offset) = value.parse::<i64>() {
                        crate::feed::ack(&core, c.info.id, offset);
                    }
                    return Ok(());
                } else if args.is(i, "listening-port") {
                    c.repl_port = value
                        .parse()
                        .map_err(|_| Error::msg("ERR value is not an integer or out of range"))?;
                } else if args.is(i, "ip-address") {
                    c.repl_ip = value;
                } else if args.is(i, "capa") {
                    // eof: the replica takes a diskless payload; psync2: percore's ids are
                    // PSYNC2's anyway.
                    if value.eq_ignore_ascii_case("eof") {
                        c.repl_eof = true;
                    }
                } else if args.is(i, "rdb-only") || args.is(i, "rdb-filter-only") {
                    // Asked by redis-cli --rdb: the stream that follows is not read.
                } else {
                    return Err(Error::msg(format!(
                        "ERR Unrecognized REPLCONF option: {}",
                        text(args.get(i))
                    )));
                }
                i += 2;
            }
            c.writer().ok();
        }
        Rt::Psync | Rt::Sync => {
            if c.info.replica.get() {
                // Already a replica of this server: ignored, as Redis does.
                return Ok(());
            }
            let (id, offset) = if rt == Rt::Psync {
                (Some(text(args.get(1))), args.int(2).unwrap_or(-1))
            } else {
                (None, -1)
            };
            if rt == Rt::Psync && args.len() > 3 && args.is(3, "failover") {
                crate::repl::failover_request(&core, &text(args.get(1)), &c.info.addr)
                    .map_err(Error::msg)?;
            }
            crate::feed::psync(c, id, offset)
                .await
                .map_err(Error::msg)?;
        }
        Rt::Wait => {
            if shared.repl.is_replica() {
                return Err(Error::msg("ERR WAIT cannot be used with replica instances. Please also note that since Redis 4.0 if a replica is configured to be writable (which is not the default) writes to replicas are just local and are not propagated."));
            }
            let wanted = args.int(1)?;
            let timeout = args
                .int(2)
                .map_err(|_| Error::msg("ERR timeout is not an integer or out of range"))?;
            if timeout < 0 {
                return Err(Error::msg("ERR timeout is negative"));
            }
            // This core's writes of this turn go into the stream first.
            crate::feed::publish(&core);
            let target = shared.repl.offset.load(Ordering::SeqCst);
            let got = crate::feed::acked(&core, target);
            if got as i64 >= wanted || c.multi.active() || c.tx.is_some() {
                c.writer().integer(got as i64);
                return Ok(());
            }
            crate::feed::request_ack(&core);
            c.flush().await;
            c.leave_read();
            let deadline = (timeout > 0).then(|| {
                std::time::Instant::now() + std::time::Duration::from_millis(timeout as u64)
            });
            let got = loop {
                let got = crate::feed::acked(&core, target);
                if got as i64 >= wanted
                    || deadline.is_some_and(|d| std::time::Instant::now() >= d)
                    || c.info.killed.get()
                {
                    break got;
                }
                reactor::sleep(std::time::Duration::from_millis(1)).await;
            };
            c.enter_read().await;
            c.writer().integer(got as i64);
        }
        Rt::Save => {
            loop {
                match crate::persist::save(&core, in_read).await {
                    Err(e) if e == crate::persist::AOF_BUSY => wait_out_rewrite(c).await,
                    r => break r.map_err(Error::msg)?,
                }
            }
            c.writer().ok();
        }
        Rt::BgSave => {
            let schedule = match args.len() {
                1 => false,
                2 if args.is(1, "schedule") => true,
                _ => return Err(Error::Syntax),
            };
            let p = &shared.persist;
            if p.child.load(Ordering::Acquire) == crate::persist::CHILD_AOF {
                if !schedule {
                    return Err(Error::msg("ERR Another child process is active (AOF?): can't BGSAVE right now. Use BGSAVE SCHEDULE in order to schedule a BGSAVE whenever possible."));
                }
                p.scheduled.store(true, Ordering::Release);
                c.writer().simple(b"Background saving scheduled");
            } else if p.saving.load(Ordering::Acquire) {
                if !schedule {
                    return Err(Error::msg("ERR Background save already in progress"));
                }
                p.scheduled.store(true, Ordering::Release);
                c.writer().simple(b"Background saving scheduled");
            } else {
                crate::persist::bgsave(&core);
                c.writer().simple(b"Background saving started");
            }
        }
        Rt::BgRewriteAof => {
            let p = &shared.persist;
            let aof = &shared.aof;
            match p.child.load(Ordering::Acquire) {
                crate::persist::CHILD_AOF => {
                    return Err(Error::msg(
                        "ERR Background append only file rewriting already in progress",
                    ))
                }
                crate::persist::CHILD_RDB => {
                    aof.scheduled.store(true, Ordering::Release);
                    c.writer()
                        .simple(b"Background append only file rewriting scheduled");
                }
                _ => {
                    crate::aof::bgrewrite(&core);
                    c.writer()
                        .simple(b"Background append only file rewriting started");
                }
            }
        }
        Rt::Dbsize => {
            let db = c.db;
            let sizes = within(&core, c.tx, Scope::Every { in_read }, async |t: &Txn| {
                t.ask_all(&core, |_| calls::Dbsize(db)).await
            })
            .await;
            c.writer().integer(sizes.iter().sum());
        }
        Rt::Keys => {
            let (db, pat) = (c.db, args.get(1).to_vec());
            let mut keys = Vec::new();
            let replies = within(&core, c.tx, Scope::Every { in_read }, async |t: &Txn| {
                t.ask_all(&core, |_| calls::Keys {
                    db,
                    pattern: pat.clone(),
                })
                .await
            })
            .await;
            for k in replies {
                keys.extend(k);
            }
            let mut w = c.writer();
            w.array(keys.len());
            for k in &keys {
                w.bulk(k);
            }
        }
        Rt::Scan => scan(c, args).await?,
        Rt::RandomKey => {
            let db = c.db;
            let sizes: Vec<i64> = core.ask_all(|_| calls::Dbsize(db), None).await;
            let total: i64 = sizes.iter().sum();
            let mut key = None;
            if total > 0 {
                let draw = core.shard.borrow_mut().rng.next_u64();
                for s in random_key_order(&sizes, draw) {
                    if let Some(k) = core.ask(s, calls::RandomKey(db)).await {
                        key = Some(k);
                        break;
                    }
                }
            }
            match key {
                Some(k) => c.writer().bulk(&k),
                None => c.writer().null(),
            }
        }
        Rt::FlushDb | Rt::FlushAll => {
            let lazy = match args.len() {
                1 => false,
                2 if args.is(1, "async") => true,
                2 if args.is(1, "sync") => false,
                _ => return Err(Error::Syntax),
            };
            let db = if rt == Rt::FlushDb { Some(c.db) } else { None };
            within(&core, c.tx, Scope::Every { in_read }, async |t: &Txn| {
                t.ask_all(&core, |_| calls::Flush {
                    db,
                    lazy,
                    journal: true,
                })
                .await
            })
            .await;
            c.writer().ok();
        }
        Rt::SwapDb if shared.cluster.is_some() => {
            return Err(Error::msg("ERR SWAPDB is not allowed in cluster mode"));
        }
        Rt::SwapDb => {
            let a = args
                .int32(1)
                .map_err(|_| Error::msg("ERR invalid first DB index"))?;
            let b = args
                .int32(2)
                .map_err(|_| Error::msg("ERR invalid second DB index"))?;
            let n = shared.databases() as i64;
            if a < 0 || a >= n || b < 0 || b >= n {
                return Err(Error::msg("ERR DB index is out of range"));
            }
            within(&core, c.tx, Scope::Every { in_read }, async |t: &Txn| {
                t.ask_all(&core, |_| calls::SwapDb(a as usize, b as usize))
                    .await
            })
            .await;
            c.writer().ok();
        }
        Rt::Info => {
            let text = crate::info::render(c, args).await;
            c.writer().verbatim(text.as_bytes());
        }
        Rt::Config => config(c, args).await?,
        Rt::Slowlog => crate::slowlog::command(c, args).await?,
        Rt::Latency => crate::latency::command(c, args).await?,
        Rt::Module => module(c, args)?,
        Rt::Lolwut => lolwut(c, args)?,
        Rt::Monitor => {
            // Already monitoring: ignored, without a reply (Redis' monitorCommand).
            if !c.monitoring {
                let mb = c.mailbox();
                crate::monitor::start(&c.core, &mb);
                c.monitoring = true;
                c.info.monitor.set(true);
                c.writer().ok();
            }
        }
        Rt::Client => client(c, args).await?,
        Rt::Command => command(c, args)?,
        Rt::Shutdown => {
            let mut i = 1;
            while i < args.len() {
                if args.is(i, "abort") {
                    return Err(Error::msg("ERR There is no shutdown in progress."));
                }
                if !(args.is(i, "nosave")
                    || args.is(i, "save")
                    || args.is(i, "now")
                    || args.is(i, "force"))
                {
                    return Err(Error::Syntax);
                }
                i += 1;
            }
            let (save, nosave, force) = (
                (1..args.len()).any(|i| args.is(i, "save")),
                (1..args.len()).any(|i| args.is(i, "nosave")),
                (1..args.len()).any(|i| args.is(i, "force")),
            );
            if !nosave && shared.busy.any() {
                // Redis: only SHUTDOWN NOSAVE ends the server under a busy script.
                return Err(Error::msg(shared.busy.text()));
            }
            tracing::warn!("User requested shutdown...");
            if crate::persist::shutdown_saves(&core, save, nosave) {
                tracing::info!("Saving the final RDB snapshot before exiting.");
                // The final save may wait for a background save that is about to wait for
                // the reads in progress (`barrier`): this read steps out meanwhile (it has
                // finished everything it sent before SHUTDOWN).
                c.leave_read();
                let saved = crate::persist::final_save(&core).await;
                c.enter_read().await;
                if let Err(e) = saved {
                    tracing::warn!("Error trying to save the DB: {e}");
                    if !force {
                        return Err(Error::msg("ERR Errors trying to SHUTDOWN. Check logs."));
                    }
                }
            }
            let _ = shared.shutdown.send(ShutdownReason::Command);
            // Redis closes the connection without a reply when it shuts down.
            c.close = true;
        }
        Rt::Debug => debug(c, args).await?,
        Rt::Memory => {
            let sub = lower(args.get(1));
            match sub.as_str() {
                "usage" if args.len() >= 3 => {
                    let spec = &engine::table::MEMORY_USAGE;
                    let shard = shared.shard_of(args.get(2));
                    let mut batch = crate::ops::Batch::default();
                    let handler = spec.handler().ok_or(Error::Syntax)?;
                    batch.push(spec, handler, c.db, c.proto, args.iter());
                    if let Reply::Batch(out) = core.call(shard, Op::Batch(batch)).await {
                        c.out.extend_from_slice(out.reply(0));
                    }
                }
                "usage" => return Err(Error::Arity("memory|usage".into())),
                "help" => engine::cmd::keys::help_reply(
                    &mut c.writer(),
                    &[
                        "MEMORY <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
                        "DOCTOR",
                        "    Return memory problems reports.",
                        "MALLOC-STATS",
                        "    Return internal statistics report from the memory allocator.",
                        "PURGE",
                        "    Attempt to purge dirty pages for reclamation by the allocator.",
                        "STATS",
                        "    Return information about the memory usage of the server.",
                        "USAGE <key> [SAMPLES <count>]",
                        "    Return memory in bytes used by <key> and its value. Nested values are",
                        "    sampled up to <count> times (default: 5, 0 means sample all).",
                        "HELP",
                        "    Prints this help.",
                    ],
                ),
                // jemalloc's own report and purge, as redis-server (linked with jemalloc
                // too) gives them.
                "malloc-stats" if args.len() == 2 => {
                    let mut text = Vec::new();
                    let opts = tikv_jemalloc_ctl::stats_print::Options::default();
                    if tikv_jemalloc_ctl::stats_print::stats_print(&mut text, opts).is_err() {
                        text = b"Stats not supported for the current allocator".to_vec();
                    }
                    c.writer().verbatim(&text);
                }
                "purge" if args.len() == 2 => {
                    purge_allocator();
                    c.writer().ok();
                }
                "malloc-stats" | "purge" => {
                    return Err(Error::Arity(format!("memory|{sub}")));
                }
                "stats" if args.len() == 2 => {
                    let o = crate::memstats::gather(&core).await;
                    o.write(&mut c.writer());
                }
                "doctor" if args.len() == 2 => {
                    let o = crate::memstats::gather(&core).await;
                    c.writer().verbatim(o.doctor().as_bytes());
                }
                "stats" | "doctor" => return Err(Error::Arity(format!("memory|{sub}"))),
                _ => return Err(Error::msg(unknown_sub(args.get(1), "memory"))),
            }
        }
        Rt::Rename | Rt::RenameNx | Rt::Copy | Rt::Lcs | Rt::MSetNx | Rt::LMove | Rt::RPopLPush => {
            cross(c, rt, spec, args).await?
        }
        Rt::Sort => sort(c, spec, args).await?,
        Rt::Subscribe
        | Rt::Unsubscribe
        | Rt::PSubscribe
        | Rt::PUnsubscribe
        | Rt::SSubscribe
        | Rt::SUnsubscribe
        | Rt::Publish
        | Rt::SPublish
        | Rt::Pubsub => crate::pubsub::run(c, rt, args).await?,
    }
    Ok(())
}

/// SORT whose keys (the sorted key, STORE's destination, BY/GET patterns) may live on
/// several shards. The sorted key and the destination are locked for the duration; keys
/// read through patterns are fetched as they are (Redis Cluster refuses such patterns, so
/// there is no cluster behaviour to match; a single redis-server would read them in the
/// same instant).
async fn sort(c: &mut Conn, spec: &'static CommandSpec, args: Args<'_>) -> engine::Result<()> {
    use engine::cmd::sort as s;
    let core = c.core.clone();
    let shared = core.shared.clone();
    let db = c.db;
    let mut o = s::parse(args, spec.name == "sort_ro", shared.cluster.is_some())?;
    let key = args.get(1);
    let mut locked: Vec<(usize, usize, Vec<u8>)> = vec![(shared.shard_of(key), db, key.to_vec())];
    if let Some(dst) = o.store {
        locked.push((shared.shard_of(dst), db, dst.to_vec()));
    }
    locked.sort();
    locked.dedup();
    let held = Txn::begin(&c.core, c.tx, Scope::Keys(&locked)).await;
    let result = async {
        let get = calls::SortSource {
            db,
            key: key.to_vec(),
        };
        let entry = held.ask(&core, shared.shard_of(key), get).await;
        if entry.is_none() {
            c.notify(KEY_MISS, "keymiss", db, key);
        }
        let prepared = s::prepare(entry.as_ref().map(|e| &e.value), &mut o)?;
        // Fetch what the patterns read, one request per shard.
        let wanted = s::wanted(&prepared, &o);
        let mut by_shard: Vec<Vec<s::PatternKey>> = vec![Vec::new(); core.shards()];
        for w in wanted {
            by_shard[shared.shard_of(&w.0)].push(w);
        }
        let mut found: HashMap<s::PatternKey, (Option<Vec<u8>>, bool)> = HashMap::new();
        for (sh, items) in by_shard.into_iter().enumerate() {
            if items.is_empty() {
                continue;
            }
            let call = calls::SortLookup {
                db,
                items: items.clone(),
            };
            let (vals, exists) = held.ask(&core, sh, call).await;
            found.extend(items.into_iter().zip(vals.into_iter().zip(exists)));
        }
        let mut missed: Vec<Vec<u8>> = Vec::new();
        let rows = s::run(prepared, &o, &mut |k, f| {
            let (value, exists) = found
                .get(&(k.to_vec(), f.map(|f| f.to_vec())))
                .cloned()
                .unwrap_or((None, false));
            if !exists {
                missed.push(k.to_vec());
            }
            value
        });
        // Raised for the reads made, even when SORT then fails (a weight not a number).
        for k in &missed {
            c.notify(KEY_MISS, "keymiss", db, k);
        }
        let rows = rows?;
        match o.store {
            Some(dst) => {
                let n = rows.len();
                let to = shared.shard_of(dst);
                match s::stored(rows) {
                    Some(value) => {
                        let put = calls::Put {
                            db,
                            key: dst.to_vec(),
                            entry: engine::value::Entry::new(value, 0),
                            replace: true,
                        };
                        if held.ask(&core, to, put).await == Stored::New {
                            c.notify(NEW, "new", db, dst);
                        }
                        c.notify(engine::notify::LIST, "sortstore", db, dst);
                    }
                    None => {
                        let take = calls::Take {
                            db,
                            key: dst.to_vec(),
                        };
                        if held.ask(&core, to, take).await.is_some() {
                            c.notify(GENERIC, "del", db, dst);
                        }
                    }
                }
                c.writer().integer(n as i64);
            }
            None => s::reply(&mut c.writer(), &rows),
        }
        Ok::<(), Error>(())
    }
    .await;
    held.end(&core).await;
    result
}

fn auth(c: &mut Conn, user: Option<&[u8]>, pass: &[u8]) -> engine::Result<()> {
    let required = c.core.shared.requirepass();
    let default_user = user.is_none_or(|u| u == b"default");
    match (&required, user) {
        (None, None) => {
            return Err(Error::msg("ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?"));
        }
        (None, Some(_)) if default_user => {}
        (Some(p), _) if default_user && p.as_bytes() == pass => {}
        _ => {
            return Err(Error::msg(
                "WRONGPASS invalid username-password pair or user is disabled.",
            ));
        }
    }
    c.authed = true;
    c.info.authenticated.set(true);
    Ok(())
}

fn hello(c: &mut Conn, args: Args) -> engine::Result<()> {
    let mut proto = c.proto;
    let mut i = 1;
    if args.len() >= 2 {
        let v = args
            .int(1)
            .map_err(|_| Error::msg("ERR Protocol version is not an integer or out of range"))?;
        proto = match v {
            2 => Proto::Resp2,
            3 => Proto::Resp3,
            _ => return Err(Error::msg("NOPROTO unsupported protocol version")),
        };
        i = 2;
    }
    let mut name = None;
    let mut creds = None;
    while i < args.len() {
        if args.is(i, "auth") && i + 2 < args.len() {
            creds = Some((args.get(i + 1), args.get(i + 2)));
            i += 3;
        } else if args.is(i, "setname") && i + 1 < args.len() {
            name = Some(args.get(i + 1));
            i += 2;
        } else {
            return Err(Error::msg(format!(
                "ERR Syntax error in HELLO option '{}'",
                text(args.get(i))
            )));
        }
    }
    if let Some((user, pass)) = creds {
        auth(c, Some(user), pass)?;
    }
    if !c.authed {
        return Err(Error::msg("NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO AUTH <user> <pass> option can be used to authenticate the client and select the RESP protocol version at the same time"));
    }
    if let Some(n) = name {
        set_name(c, n)?;
    }
    c.proto = proto;
    c.info.resp.set(if proto == Proto::Resp3 { 3 } else { 2 });
    if let Some(mb) = &c.subs.mailbox {
        mb.proto.set(proto);
    }
    let id = c.info.id as i64;
    let replica = c.core.shared.repl.is_replica();
    let mode: &[u8] = if c.core.shared.cluster.is_some() {
        b"cluster"
    } else {
        b"standalone"
    };
    let mut w = c.writer();
    w.map(7);
    w.bulk(b"server");
    w.bulk(b"redis");
    w.bulk(b"version");
    w.bulk(REDIS_VERSION.as_bytes());
    w.bulk(b"proto");
    w.integer(if proto == Proto::Resp3 { 3 } else { 2 });
    w.bulk(b"id");
    w.integer(id);
    w.bulk(b"mode");
    w.bulk(mode);
    w.bulk(b"role");
    w.bulk(if replica { b"replica" } else { b"master" });
    w.bulk(b"modules");
    w.array(0);
    Ok(())
}

fn set_name(c: &mut Conn, name: &[u8]) -> engine::Result<()> {
    if name.iter().any(|&b| !(b'!'..=b'~').contains(&b)) {
        return Err(Error::msg(
            "ERR Client names cannot contain spaces, newlines or special characters.",
        ));
    }
    *c.info.name.borrow_mut() = text(name);
    Ok(())
}

async fn scan(c: &mut Conn, args: Args<'_>) -> engine::Result<()> {
    let core = c.core.clone();
    let mut walk = ScanWalk::new(args, c.db, core.shards())?;
    let next = loop {
        let (shard, call) = walk.request();
        let (next, found) = core.ask(shard, call).await;
        if let Some(cursor) = walk.feed(next, found) {
            break cursor;
        }
    };
    walk.reply(&mut c.writer(), next);
    Ok(())
}

/// RANDOMKEY's shards to try, in order: the first drawn in proportion to its size (so every
/// key is equally likely), then the others that hold keys. Sizes count expired keys not yet
/// reclaimed, so a shard may turn out to hold no live key: then the next is tried, as
/// Redis keeps drawing until it finds one.
pub(crate) fn random_key_order(sizes: &[i64], draw: u64) -> Vec<usize> {
    let total: i64 = sizes.iter().sum();
    if total <= 0 {
        return Vec::new();
    }
    let mut pick = (draw % total as u64) as i64;
    let first = sizes
        .iter()
        .position(|n| {
            let hit = pick < *n;
            pick -= n;
            hit
        })
        .unwrap_or(0);
    (0..sizes.len())
        .map(|i| (first + i) % sizes.len())
        .filter(|&s| sizes[s] != 0)
        .collect()
}

/// One SCAN over the shards: the cursor carries the shard in its low bits and that
/// shard's table cursor above them, so shards are walked one after another, each with
/// Redis' resize-safe cursor. The caller asks each shard the walk names (`request`) and
/// feeds its answer back until the walk has its next cursor.
pub(crate) struct ScanWalk {
    db: usize,
    shard: u64,
    inner: u64,
    shards: u64,
    count: usize,
    pattern: Option<Vec<u8>>,
    kind: Option<Vec<u8>>,
    keys: Vec<Vec<u8>>,
}

impl ScanWalk {
    const SHARD_BITS: u32 = 10;

    /// SCAN's arguments (cursor [MATCH pattern] [COUNT n] [TYPE t]).
    pub(crate) fn new(args: Args<'_>, db: usize, shards: usize) -> engine::Result<ScanWalk> {
        let cursor = engine::args::parse_cursor(args.get(1))?;
        let (mut count, mut pattern, mut kind) = (10usize, None, None);
        let mut i = 2;
        while i < args.len() {
            if args.is(i, "count") && i + 1 < args.len() {
                let n = args.int(i + 1)?;
                if n < 1 {
                    return Err(Error::Syntax);
                }
                count = n as usize;
            } else if args.is(i, "match") && i + 1 < args.len() {
                let p = args.get(i + 1);
                pattern = (p != b"*").then(|| p.to_vec());
            } else if args.is(i, "type") && i + 1 < args.len() {
                kind = Some(args.get(i + 1).to_vec());
            } else {
                return Err(Error::Syntax);
            }
            i += 2;
        }
        let shards = shards as u64;
        Ok(ScanWalk {
            db,
            shard: (cursor & ((1 << Self::SHARD_BITS) - 1)) % shards,
            inner: cursor >> Self::SHARD_BITS,
            shards,
            count,
            pattern,
            kind,
            keys: Vec::new(),
        })
    }

    /// The shard to ask next, and what.
    pub(crate) fn request(&self) -> (usize, calls::Scan) {
        let call = calls::Scan {
            db: self.db,
            cursor: self.inner,
            count: self.count,
            pattern: self.pattern.clone(),
            kind: self.kind.clone(),
        };
        (self.shard as usize, call)
    }

    /// A shard's answer; the next cursor once the walk has enough.
    pub(crate) fn feed(&mut self, next: u64, found: Vec<Vec<u8>>) -> Option<u64> {
        self.keys.extend(found);
        if next != 0 {
            return Some((next << Self::SHARD_BITS) | self.shard);
        }
        self.shard += 1;
        self.inner = 0;
        if self.shard == self.shards {
            return Some(0);
        }
        (self.keys.len() >= self.count).then_some(self.shard)
    }

    /// SCAN's reply: the next cursor and the keys.
    pub(crate) fn reply(&self, w: &mut Writer<'_>, next: u64) {
        w.array(2);
        w.bulk(next.to_string().as_bytes());
        w.array(self.keys.len());
        for k in &self.keys {
            w.bulk(k);
        }
    }
}

/// Waits, outside the connection's read, for an AOF rewrite in progress to end (the
/// rewrite waits for the reads in progress at its point; SAVE and DEBUG RELOAD follow it).
async fn wait_out_rewrite(c: &mut Conn) {
    let busy =
        |c: &Conn| c.core.shared.persist.child.load(Ordering::Acquire) == crate::persist::CHILD_AOF;
    if !busy(c) {
        return;
    }
    c.leave_read();
    while busy(c) {
        reactor::sleep(std::time::Duration::from_millis(5)).await;
    }
    c.enter_read().await;
}

async fn config(c: &mut Conn, args: Args<'_>) -> engine::Result<()> {
    let shared = c.core.shared.clone();
    let sub = lower(args.get(1));
    match sub.as_str() {
        "get" if args.len() >= 3 => {
            let cfg = shared
                .config
                .read()
                .map_err(|_| Error::msg("ERR config unavailable"))?;
            let mut found: Vec<(&'static str, String)> = Vec::new();
            for (name, value) in cfg.entries() {
                let hit = args
                    .iter()
                    .skip(2)
                    .any(|p| engine::glob::matches(p, name.as_bytes(), true));
                if hit && !found.iter().any(|(n, _)| *n == name) {
                    found.push((name, value));
                }
            }
            drop(cfg);
            let mut w = c.writer();
            w.map(found.len());
            for (n, v) in &found {
                w.bulk(n.as_bytes());
                w.bulk(v.as_bytes());
            }
        }
        "set" if args.len() >= 4 && args.len().is_multiple_of(2) => {
            let pairs: Vec<(String, String)> = (2..args.len())
                .step_by(2)
                .map(|i| (text(args.get(i)), text(args.get(i + 1))))
                .collect();
            if shared.persist.loading.load(Ordering::Acquire)
                && pairs
                    .iter()
                    .any(|(k, _)| k.eq_ignore_ascii_case("appendonly"))
            {
                // The AOF turns on or off once the dataset is whole (its files are being
                // loaded, or the start's rewrite runs).
                return Err(Error::msg("ERR CONFIG SET failed (possibly related to argument 'appendonly') - the dataset is still loading"));
            }
            // Worked out on a copy: the live configuration changes only once everything
            // the new values need (listening sockets, the directory) is in place.
            let (old, mut next) = {
                let cfg = shared
                    .config
                    .read()
                    .map_err(|_| Error::msg("ERR config unavailable"))?;
                (cfg.clone(), cfg.clone())
            };
            next.set_many(&pairs).map_err(|e| {
                if e.ends_with(config::NOT_IMPLEMENTED) {
                    tracing::warn!("CONFIG SET refused: {e}");
                }
                Error::msg(e)
            })?;
            let failed = |name: &str, why: &str| {
                Error::msg(format!(
                    "ERR CONFIG SET failed (possibly related to argument '{name}') - {why}"
                ))
            };
            // dir (where enable-protected-configs allows it): the process moves there, as
            // redis-server chdirs (the set checked it is a directory).
            if let Some((_, dir)) = pairs.iter().find(|(k, _)| k.eq_ignore_ascii_case("dir")) {
                std::env::set_current_dir(dir).map_err(|e| failed("dir", &e.to_string()))?;
                if let Ok(cwd) = std::env::current_dir() {
                    next.resolve_dir(&cwd.display().to_string());
                }
            }
            // port and bind: every core listens on the new addresses before it closes the
            // old ones; if one cannot be bound nothing changes (Redis' changeListenPort,
            // changeBindAddr).
            let relisten = old.port() != next.port() || old.bind_addrs() != next.bind_addrs();
            let fds = match relisten {
                false => None,
                true => {
                    let ours: Vec<std::net::SocketAddr> = old
                        .bind_addrs()
                        .iter()
                        .filter_map(|(a, _)| crate::bind_addr(a, old.port()))
                        .collect();
                    let opened = crate::open_listeners(
                        shared.shards,
                        &next.bind_addrs(),
                        next.port(),
                        next.tcp_backlog(),
                        &ours,
                    );
                    Some(opened.map_err(|e| {
                        tracing::warn!("CONFIG SET could not listen: {e}");
                        match old.port() != next.port() {
                            true => {
                                failed("port", "Unable to listen on this port. Check server logs.")
                            }
                            false => failed("bind", "Failed to bind to specified addresses."),
                        }
                    })?)
                }
            };
            let port = next.port();
            {
                // Applied again to the live configuration (the same checks pass), so that
                // another client's CONFIG SET meanwhile is not undone.
                let mut cfg = shared
                    .config
                    .write()
                    .map_err(|_| Error::msg("ERR config unavailable"))?;
                // A relative dir was resolved before the move: use what it resolved to.
                let absolute: Vec<(String, String)> = pairs
                    .iter()
                    .map(|(k, v)| match k.eq_ignore_ascii_case("dir") {
                        true => (k.clone(), next.get("dir").unwrap_or_else(|| v.clone())),
                        false => (k.clone(), v.clone()),
                    })
                    .collect();
                cfg.set_many(&absolute).map_err(Error::msg)?;
            }
            if let Some(fds) = fds {
                shared.tcp_port.store(port, Ordering::Relaxed);
                c.core
                    .clone()
                    .ask_all(|i| calls::Relisten(fds[i].clone()), None)
                    .await;
            }
            shared.refresh_hot_config();
            let settings = shared.settings();
            c.core
                .clone()
                .ask_all(|_| calls::SetLimits(settings), None)
                .await;
            let appendonly = shared
                .config
                .read()
                .map(|c| c.appendonly())
                .unwrap_or(false);
            crate::aof::set_enabled(&c.core, appendonly, c.tx, c.in_read)
                .await
                .map_err(Error::msg)?;
            c.writer().ok();
        }
        "resetstat" if args.len() == 2 => {
            // Wait for every core, as Redis resets synchronously: an INFO right after the
            // +OK must already see zeroed counters.
            let core = c.core.clone();
            core.ask_all(|_| calls::ResetStats, None).await;
            shared.meter.reset_stats();
            shared.total_connections.store(0, Ordering::Relaxed);
            shared.rejected_connections.store(0, Ordering::Relaxed);
            c.writer().ok();
        }
        "rewrite" if args.len() == 2 => {
            let cfg = shared
                .config
                .read()
                .map_err(|_| Error::msg("ERR config unavailable"))?;
            cfg.rewrite().map_err(Error::msg)?;
            c.writer().ok();
        }
        "help" if args.len() == 2 => engine::cmd::keys::help_reply(
            &mut c.writer(),
            &[
                "CONFIG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
                "GET <pattern>",
                "    Return parameters matching the glob-like <pattern> and their values.",
                "SET <directive> <value>",
                "    Set the configuration <directive> to <value>.",
                "RESETSTAT",
                "    Reset statistics reported by the INFO command.",
                "REWRITE",
                "    Rewrite the configuration file.",
                "HELP",
                "    Prints this help.",
            ],
        ),
        // CONFIG SET's arity is -4: an odd count past that is a dangling name.
        "set" if args.len() >= 4 => return Err(Error::Syntax),
        "get" | "set" | "resetstat" | "rewrite" | "help" => {
            return Err(Error::Arity(format!("config|{sub}")));
        }
        _ => return Err(Error::msg(unknown_sub(args.get(1), "config"))),
    }
    Ok(())
}

async fn client(c: &mut Conn, args: Args<'_>) -> engine::Result<()> {
    let core = c.core.clone();
    let shared = core.shared.clone();
    let sub = lower(args.get(1));
    let n = args.len();
    match (sub.as_str(), n) {
        ("id", 2) => {
            let id = c.info.id as i64;
            c.writer().integer(id);
        }
        ("unblock", 3 | 4) => {
            let id = args.int(2)?;
            let error = if n == 4 {
                if args.is(3, "error") {
                    true
                } else if args.is(3, "timeout") {
                    false
                } else {
                    return Err(Error::msg(
                        "ERR CLIENT UNBLOCK reason should be TIMEOUT or ERROR",
                    ));
                }
            } else {
                false
            };
            let core = c.core.clone();
            let found = core
                .ask_all(
                    |_| calls::ClientUnblock {
                        id: id as u64,
                        error,
                    },
                    None,
                )
                .await
                .contains(&true);
            c.writer().integer(found as i64);
        }
        ("getname", 2) => {
            let name = c.info.name.borrow().clone();
            if name.is_empty() {
                c.writer().null();
            } else {
                c.writer().bulk(name.as_bytes());
            }
        }
        ("setname", 3) => {
            set_name(c, args.get(2))?;
            c.writer().ok();
        }
        ("info", 2) => {
            let line = c.info.describe() + "\n";
            c.writer().verbatim(line.as_bytes());
        }
        ("list", _) => {
            let (mut ids, mut kind) = (None, None);
            let mut i = 2;
            while i < n {
                if args.is(i, "type") && i + 1 < n {
                    let k = lower(args.get(i + 1));
                    if !matches!(
                        k.as_str(),
                        "normal" | "master" | "replica" | "slave" | "pubsub"
                    ) {
                        return Err(Error::msg(format!(
                            "ERR Unknown client type '{}'",
                            text(args.get(i + 1))
                        )));
                    }
                    kind = Some(if k == "slave" { "replica".into() } else { k });
                    i += 2;
                } else if args.is(i, "id") && i + 1 < n {
                    let mut v = Vec::new();
                    for j in i + 1..n {
                        let id = args
                            .int(j)
                            .ok()
                            .filter(|&x| x > 0)
                            .ok_or_else(|| Error::msg("ERR Invalid client ID"))?;
                        v.push(id as u64);
                    }
                    ids = Some(v);
                    i = n;
                } else {
                    return Err(Error::Syntax);
                }
            }
            let mut text = String::new();
            for t in core
                .ask_all(
                    |_| calls::ClientList {
                        ids: ids.clone(),
                        kind: kind.clone(),
                    },
                    None,
                )
                .await
            {
                text.push_str(&t);
            }
            c.writer().verbatim(text.as_bytes());
        }
        ("kill", 3) => {
            // The old form: CLIENT KILL addr:port, replying +OK or an error.
            let f = KillFilter {
                addr: Some(text(args.get(2))),
                ..Default::default()
            };
            let killed: i64 = core
                .ask_all(|_| calls::ClientKill(f.clone()), None)
                .await
                .iter()
                .sum();
            if killed == 0 {
                return Err(Error::msg("ERR No such client"));
            }
            c.writer().ok();
        }
        ("kill", _) if n >= 4 => {
            // Redis reads filter/value pairs and answers a dangling filter with a syntax
            // error, not an arity error.
            if n % 2 == 1 {
                return Err(Error::Syntax);
            }
            let mut f = KillFilter {
                skip: Some(c.info.id),
                ..Default::default()
            };
            for i in (2..n).step_by(2) {
                let v = text(args.get(i + 1));
                match lower(args.get(i)).as_str() {
                    "id" => {
                        f.id =
                            Some(args.int(i + 1).ok().filter(|&x| x > 0).ok_or_else(|| {
                                Error::msg("ERR client-id should be greater than 0")
                            })? as u64)
                    }
                    "addr" => f.addr = Some(v),
                    "laddr" => f.laddr = Some(v),
                    "user" => f.user = Some(v),
                    "type" => {
                        let k = v.to_ascii_lowercase();
                        if !matches!(
                            k.as_str(),
                            "normal" | "master" | "replica" | "slave" | "pubsub"
                        ) {
                            return Err(Error::msg(format!("ERR Unknown client type '{v}'")));
                        }
                        f.kind = Some(if k == "slave" { "replica".into() } else { k });
                    }
                    "skipme" => match v.to_ascii_lowercase().as_str() {
                        "yes" => f.skip = Some(c.info.id),
                        "no" => f.skip = None,
                        _ => return Err(Error::Syntax),
                    },
                    _ => return Err(Error::Syntax),
                }
            }
            let killed: i64 = core
                .ask_all(|_| calls::ClientKill(f.clone()), None)
                .await
                .iter()
                .sum();
            c.writer().integer(killed);
        }
        ("reply", 3) => {
            let mode = lower(args.get(2));
            match mode.as_str() {
                "on" => {
                    c.reply_mode = ReplyMode::On;
                    c.writer().ok();
                }
                "off" => c.reply_mode = ReplyMode::Off,
                "skip" => {
                    if c.reply_mode != ReplyMode::Off {
                        c.reply_mode = ReplyMode::Skip;
                    }
                }
                _ => return Err(Error::Syntax),
            }
        }
        ("no-evict", 3) => {
            let v = lower(args.get(2));
            match v.as_str() {
                "on" => c.info.no_evict.set(true),
                "off" => c.info.no_evict.set(false),
                _ => return Err(Error::Syntax),
            }
            c.writer().ok();
        }
        ("pause", _) if n >= 3 => {
            let ms = args
                .int(2)
                .map_err(|_| Error::msg("ERR timeout is not an integer or out of range"))?;
            if ms < 0 {
                return Err(Error::msg("ERR timeout is negative"));
            }
            let all = match n {
                3 => true,
                4 if args.is(3, "all") => true,
                4 if args.is(3, "write") => false,
                4 => return Err(Error::msg("ERR CLIENT PAUSE mode must be WRITE or ALL")),
                _ => {
                    return Err(Error::msg(format!(
                        "ERR unknown subcommand or wrong number of arguments for '{}'. Try CLIENT HELP.",
                        text(args.get(1))
                    )))
                }
            };
            let until = engine::shard::unix_ms() + ms as u64;
            shared.pause_all.store(all, Ordering::Relaxed);
            shared.pause_until.fetch_max(until, Ordering::Relaxed);
            c.writer().ok();
        }
        ("unpause", 2) => {
            shared.pause_until.store(0, Ordering::Relaxed);
            c.writer().ok();
        }
        ("tracking", _) if n >= 3 => crate::tracking::client_tracking(c, args).await?,
        ("caching", 3) => crate::tracking::client_caching(c, args)?,
        ("getredir", 2) => crate::tracking::client_getredir(c),
        ("trackinginfo", 2) => crate::tracking::client_trackinginfo(c),
        ("help", 2) => engine::cmd::keys::help_reply(
            &mut c.writer(),
            &[
                "CLIENT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
                "CACHING (YES|NO)",
                "    Enable/disable tracking of the keys for next command in OPTIN/OPTOUT modes.",
                "GETREDIR",
                "    Return the client ID we are redirecting to when tracking is enabled.",
                "GETNAME",
                "    Return the name of the current connection.",
                "ID",
                "    Return the ID of the current connection.",
                "INFO",
                "    Return information about the current client connection.",
                "KILL <ip:port>",
                "    Kill connection made from <ip:port>.",
                "KILL <option> <value> [<option> <value> [...]]",
                "    Kill connections. Options are:",
                "    * ADDR (<ip:port>|<unixsocket>:0)",
                "      Kill connections made from the specified address",
                "    * LADDR (<ip:port>|<unixsocket>:0)",
                "      Kill connections made to specified local address",
                "    * TYPE (NORMAL|MASTER|REPLICA|PUBSUB)",
                "      Kill connections by type.",
                "    * USER <username>",
                "      Kill connections authenticated by <username>.",
                "    * SKIPME (YES|NO)",
                "      Skip killing current connection (default: yes).",
                "LIST [options ...]",
                "    Return information about client connections. Options:",
                "    * TYPE (NORMAL|MASTER|REPLICA|PUBSUB)",
                "      Return clients of specified type.",
                "UNPAUSE",
                "    Stop the current client pause, resuming traffic.",
                "PAUSE <timeout> [WRITE|ALL]",
                "    Suspend all, or just write, clients for <timeout> milliseconds.",
                "REPLY (ON|OFF|SKIP)",
                "    Control the replies sent to the current connection.",
                "SETNAME <name>",
                "    Assign the name <name> to the current connection.",
                "UNBLOCK <clientid> [TIMEOUT|ERROR]",
                "    Unblock the specified blocked client.",
                "TRACKING (ON|OFF) [REDIRECT <id>] [BCAST] [PREFIX <prefix> [...]]",
                "         [OPTIN] [OPTOUT] [NOLOOP]",
                "    Control server assisted client side caching.",
                "TRACKINGINFO",
                "    Report tracking status for the current connection.",
                "NO-EVICT (ON|OFF)",
                "    Protect current client connection from eviction.",
                "HELP",
                "    Prints this help.",
            ],
        ),
        (
            "id" | "getname" | "setname" | "info" | "kill" | "reply" | "no-evict" | "pause"
            | "unpause" | "help" | "tracking" | "caching" | "getredir" | "trackinginfo",
            _,
        ) => {
            return Err(Error::Arity(format!("client|{sub}")));
        }
        _ => return Err(Error::msg(unknown_sub(args.get(1), "client"))),
    }
    Ok(())
}

/// One entry of COMMAND / COMMAND INFO, in Redis 7's shape: redis-server's own (key specs,
/// tips, subcommands) where it describes the command.
fn command_entry(w: &mut Writer, spec: &CommandSpec) {
    if crate::commands::write_info(w, spec) {
        return;
    }
    w.array(10);
    w.bulk(spec.name.as_bytes());
    w.integer(spec.arity as i64);
    let mut flags = spec.flags;
    if spec.movable != engine::table::Movable::No {
        flags = flags.union(engine::table::Flags::MOVABLE_KEYS);
    }
    w.set(flags.names().count());
    for f in flags.names() {
        w.simple(f.as_bytes());
    }
    w.integer(spec.first_key as i64);
    w.integer(spec.last_key as i64);
    w.integer(spec.step as i64);
    w.set(spec.acl.len());
    for a in spec.acl {
        w.simple(a.as_bytes());
    }
    w.set(0); // tips
    w.array(0); // key specs (first/last/step above carry the positions)
    w.array(0); // subcommands
}

fn command_doc(w: &mut Writer, spec: &CommandSpec) {
    if crate::commands::write_docs(w, spec) {
        return;
    }
    // Not described by redis-server (none is today: a test checks): what the table knows.
    w.bulk(spec.name.as_bytes());
    w.map(2);
    w.bulk(b"summary");
    w.bulk(spec.summary.as_bytes());
    w.bulk(b"group");
    w.bulk(spec.group.as_bytes());
}

/// COMMAND GETKEYS' and GETKEYSANDFLAGS' command: its spec and its arguments.
fn inner_command(args: Args) -> engine::Result<(&'static CommandSpec, Args)> {
    let sub_args = Args::new(args.buf(), &args.ranges()[2..]);
    let spec = engine::lookup(sub_args.get(0))
        .ok_or_else(|| Error::msg("ERR Invalid command specified"))?;
    if !spec.arity_ok(sub_args.len()) {
        return Err(Error::msg(
            "ERR Invalid number of arguments specified for command",
        ));
    }
    Ok((spec, sub_args))
}

fn command(c: &mut Conn, args: Args) -> engine::Result<()> {
    if args.len() == 1 {
        let mut w = c.writer();
        w.array(COMMANDS.len());
        for spec in COMMANDS {
            command_entry(&mut w, spec);
        }
        return Ok(());
    }
    let sub = lower(args.get(1));
    match sub.as_str() {
        "count" if args.len() == 2 => c.writer().integer(COMMANDS.len() as i64),
        "info" => {
            let mut w = c.writer();
            if args.len() == 2 {
                w.array(COMMANDS.len());
                for spec in COMMANDS {
                    command_entry(&mut w, spec);
                }
            } else {
                w.array(args.len() - 2);
                for name in args.iter().skip(2) {
                    match engine::lookup(name) {
                        Some(spec) => command_entry(&mut w, spec),
                        None => w.null(),
                    }
                }
            }
        }
        "docs" => {
            let specs: Vec<&CommandSpec> = if args.len() == 2 {
                COMMANDS.iter().collect()
            } else {
                args.iter().skip(2).filter_map(engine::lookup).collect()
            };
            let mut w = c.writer();
            w.map(specs.len());
            for spec in specs {
                command_doc(&mut w, spec);
            }
        }
        "list" => {
            let mut names = crate::commands::all_names();
            if args.len() == 5 && args.is(2, "filterby") {
                let v = text(args.get(4));
                if args.is(3, "pattern") {
                    names.retain(|n| engine::glob::matches(v.as_bytes(), n.as_bytes(), true));
                } else if args.is(3, "aclcat") {
                    names.retain(|n| {
                        crate::commands::categories(n)
                            .iter()
                            .any(|a| a.eq_ignore_ascii_case(&v))
                    });
                } else if args.is(3, "module") {
                    // No modules here.
                    names.clear();
                } else {
                    return Err(Error::Syntax);
                }
            } else if args.len() != 2 {
                return Err(Error::Syntax);
            }
            let mut w = c.writer();
            w.array(names.len());
            for n in names {
                w.bulk(n.as_bytes());
            }
        }
        "getkeys" if args.len() >= 4 => {
            let (spec, sub_args) = inner_command(args)?;
            let keys = crate::commands::key_positions(spec, sub_args);
            if keys.is_empty() {
                return Err(Error::msg("ERR The command has no key arguments"));
            }
            let mut w = c.writer();
            w.array(keys.len());
            for k in keys {
                w.bulk(sub_args.get(k));
            }
        }
        "getkeysandflags" if args.len() >= 4 => {
            let (spec, sub_args) = inner_command(args)?;
            let keys = crate::commands::keys_and_flags(spec, sub_args);
            if keys.is_empty() {
                return Err(Error::msg("ERR The command has no key arguments"));
            }
            let mut w = c.writer();
            w.array(keys.len());
            for (k, flags) in keys {
                w.array(2);
                w.bulk(sub_args.get(k));
                w.set(flags.len());
                for f in flags {
                    w.simple(&f);
                }
            }
        }
        "help" if args.len() == 2 => engine::cmd::keys::help_reply(
            &mut c.writer(),
            &[
                "COMMAND <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
                "(no subcommand)",
                "    Return details about all Redis commands.",
                "COUNT",
                "    Return the total number of commands in this Redis server.",
                "LIST",
                "    Return a list of all commands in this Redis server.",
                "INFO [<command-name> ...]",
                "    Return details about multiple Redis commands.",
                "    If no command names are given, documentation details for all",
                "    commands are returned.",
                "DOCS [<command-name> ...]",
                "    Return documentation details about multiple Redis commands.",
                "    If no command names are given, documentation details for all",
                "    commands are returned.",
                "GETKEYS <full-command>",
                "    Return the keys from a full Redis command.",
                "GETKEYSANDFLAGS <full-command>",
                "    Return the keys and the access flags from a full Redis command.",
                "HELP",
                "    Prints this help.",
            ],
        ),
        // Subcommand arities as Redis 7.0 declares them (COUNT and HELP take nothing,
        // GETKEYS a command and at least one argument).
        "count" | "help" | "getkeys" | "getkeysandflags" => {
            return Err(Error::Arity(format!("command|{sub}")));
        }
        _ => return Err(Error::msg(unknown_sub(args.get(1), "command"))),
    }
    Ok(())
}

async fn debug(c: &mut Conn, args: Args<'_>) -> engine::Result<()> {
    let sub = lower(args.get(1));
    let in_read = c.in_read;
    match (sub.as_str(), args.len()) {
        ("sleep", 3) => {
            let secs: f64 = std::str::from_utf8(args.get(2))
                .ok()
                .and_then(|s| s.parse().ok())
                .filter(|v: &f64| v.is_finite() && *v >= 0.0)
                .ok_or(Error::NotFloat)?;
            // Redis blocks its one thread; we block this core, which is what tests that
            // simulate a busy server expect.
            std::thread::sleep(std::time::Duration::from_secs_f64(secs.min(3600.0)));
            c.writer().ok();
        }
        ("reload", 2) => {
            loop {
                wait_out_rewrite(c).await;
                match crate::persist::reload(&c.core.clone(), in_read).await {
                    // A rewrite started in between: wait for it too.
                    Err(e) if e == crate::persist::AOF_BUSY => {}
                    r => break r.map_err(Error::msg)?,
                }
            }
            c.writer().ok();
        }
        ("digest", 2) => {
            let core = c.core.clone();
            let mut per_db: Vec<Option<engine::digest::Digest>> = Vec::new();
            // One point in time of every shard, as redis-server's digest is.
            let all = within(&core, c.tx, Scope::Every { in_read }, async |t: &Txn| {
                t.ask_all(&core, |_| calls::Digest).await
            })
            .await;
            for dbs in all {
                per_db.resize(per_db.len().max(dbs.len()), None);
                for (acc, d) in per_db.iter_mut().zip(dbs) {
                    if let Some(d) = d {
                        let a = acc.get_or_insert([0; 20]);
                        a.iter_mut().zip(d).for_each(|(x, y)| *x ^= y);
                    }
                }
            }
            let d = engine::digest::dataset(&per_db);
            c.writer().simple(engine::digest::hex(&d).as_bytes());
        }
        ("digest-value", _) => {
            let core = c.core.clone();
            let db = c.db;
            let mut out = Vec::with_capacity(args.len() - 2);
            for k in args.iter().skip(2) {
                let shard = core.shared.shard_of(k);
                let call = calls::DigestValue {
                    db,
                    keys: vec![k.to_vec()],
                };
                let mut v = core.ask_tx(shard, call, c.tx).await;
                out.push(v.pop().unwrap_or_default());
            }
            let mut w = c.writer();
            w.array(out.len());
            for d in out {
                w.simple(&d);
            }
        }
        ("set-active-expire", 3) => {
            let on = args.int(2)? != 0;
            c.core.shared.active_expire.store(on, Ordering::Relaxed);
            c.writer().ok();
        }
        ("object", 3) | ("listpack", 3) => {
            let key = args.get(2).to_vec();
            let shard = c.core.shared.shard_of(&key);
            let get = calls::Get { db: c.db, key };
            let Some(e) = c.core.ask(shard, get).await else {
                return Err(Error::msg("ERR no such key"));
            };
            let encoding = e.value.encoding();
            if sub == "listpack" {
                if encoding != "listpack" {
                    return Err(Error::msg("ERR Not a listpack encoded object."));
                }
                tracing::info!(
                    key = %String::from_utf8_lossy(args.get(2)),
                    "DEBUG LISTPACK: a listpack of {} bytes in memory",
                    e.value.memory()
                );
                c.writer().simple(b"Listpack structure printed on stdout");
                return Ok(());
            }
            // The RDB encoding of the value alone: a DUMP payload less its type byte,
            // version and checksum.
            let opts = c.core.shard.borrow().save_opts;
            let serialized = engine::rdb::dump(&e.value, opts).len().saturating_sub(11);
            let lru = e.lru & ((1 << 24) - 1);
            let idle = engine::evict::idle_secs(e.lru, (engine::shard::unix_ms() / 1000) as u32);
            let mut text = format!(
                "Value at:{:p} refcount:1 encoding:{encoding} serializedlength:{serialized} lru:{lru} lru_seconds_idle:{idle}",
                &e.value
            );
            if let engine::value::Value::List(l) = &e.value {
                use std::fmt::Write as _;
                // The quicklist redis-server would hold for this list (percore's own chunks
                // are not listpacks): its nodes, fill, and their bytes. Nothing is compressed.
                let nodes = engine::rdb::quicklist_nodes(l, opts.list_fill, opts.plain_threshold);
                let (count, size) = nodes.iter().map(|n| n.count_and_size()).fold(
                    (0, 0),
                    |(c, s), (n, b)| (c + n, s + b),
                );
                let _ = write!(
                    text,
                    " ql_nodes:{} ql_avg_node:{:.2} ql_listpack_max:{} ql_compressed:0 ql_uncompressed_size:{size}",
                    nodes.len(),
                    count as f64 / nodes.len().max(1) as f64,
                    opts.list_fill
                );
            }
            c.writer().simple(text.as_bytes());
        }
        ("protocol", 3) => debug_protocol(&mut c.writer(), args.get(2))?,
        ("quicklist-packed-threshold", 3) => {
            let v = std::str::from_utf8(args.get(2))
                .ok()
                .and_then(config::parse_memory)
                .filter(|&v| v > 0 && v <= 1 << 32)
                .ok_or_else(|| {
                    Error::msg(
                        "ERR argument must be a memory value bigger than 1 and smaller than 4gb",
                    )
                })?;
            // Where a list's big elements get nodes of their own in the quicklists percore
            // writes (RDB files, DUMP) and describes (DEBUG OBJECT); percore's own chunks
            // hold any element.
            let shared = c.core.shared.clone();
            shared.plain_threshold.store(v as u64, Ordering::Relaxed);
            let settings = shared.settings();
            c.core
                .clone()
                .ask_all(|_| calls::SetLimits(settings), None)
                .await;
            c.writer().ok();
        }
        ("change-repl-id", 2) => {
            tracing::warn!("Changing replication IDs after receiving DEBUG change-repl-id");
            c.core.shared.repl.new_history();
            c.writer().ok();
        }
        ("stringmatch-test", 2) => {
            engine::glob::fuzz(20_000);
            c.writer()
                .simple(b"Apparently Redis did not crash: test passed");
        }
        ("help", 2) => engine::cmd::keys::help_reply(
            &mut c.writer(),
            &[
                "DEBUG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
                "SLEEP <seconds>",
                "    Stop the server for <seconds>. Decimals allowed.",
                "SET-ACTIVE-EXPIRE <0|1>",
                "    Setting it to 0 disables expiring keys in background when they are not accessed.",
                "DIGEST",
                "    Output a hex signature representing the current DB content.",
                "RELOAD",
                "    Save the RDB on disk and reload it back to memory.",
                "DIGEST-VALUE <key> [<key> ...]",
                "    Output a hex signature of the values of all the specified keys.",
                "OBJECT <key>",
                "    Show low level info about `key` and associated value.",
                "LISTPACK <key>",
                "    Show low level info about the listpack encoding of <key>.",
                "PROTOCOL <type>",
                "    Reply with a test value of the specified type. <type> can be: string,",
                "    integer, double, bignum, null, array, set, map, attrib, push, verbatim,",
                "    true, false.",
                "CHANGE-REPL-ID",
                "    Change the replication IDs of the instance.",
                "    Dangerous: should be used only for testing the replication subsystem.",
                "STRINGMATCH-TEST",
                "    Run a fuzz tester against the stringmatchlen() function.",
                "HELP",
                "    Prints this help.",
            ],
        ),
        _ => {
            return Err(Error::msg(format!(
                "ERR unknown subcommand or wrong number of arguments for '{}'. Try DEBUG HELP.",
                text(args.get(1))
            )))
        }
    }
    Ok(())
}

/// MEMORY PURGE: jemalloc returns every arena's dirty pages to the system (Redis'
/// jemalloc_purge: `arena.<MALLCTL_ARENAS_ALL>.purge`).
fn purge_allocator() {
    let name = b"arena.4096.purge\0";
    // SAFETY: a void control: no old value is read, no new value written (null pointers,
    // zero length), and the name is NUL-terminated.
    let rc = unsafe {
        tikv_jemalloc_sys::mallctl(
            name.as_ptr().cast(),
            std::ptr::null_mut(),
            std::ptr::null_mut(),
            std::ptr::null_mut(),
            0,
        )
    };
    if rc != 0 {
        tracing::warn!(rc, "MEMORY PURGE: jemalloc refused arena.all.purge");
    }
}

/// MODULE: percore loads no Redis modules (they are C code against Redis' own
/// structures). LIST is empty; LOAD, LOADEX and UNLOAD are refused as redis-server refuses
/// them (enable-module-command), and where allowed they fail as a failed load does.
fn module(c: &mut Conn, args: Args) -> engine::Result<()> {
    let sub = lower(args.get(1));
    let n = args.len();
    match (sub.as_str(), n) {
        ("list", 2) => c.writer().array(0),
        ("help", 2) => engine::cmd::keys::help_reply(
            &mut c.writer(),
            &[
                "MODULE <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
                "LIST",
                "    Return a list of loaded modules.",
                "LOAD <path> [<arg> ...]",
                "    Load a module library from <path>, passing to it any optional arguments.",
                "LOADEX <path> [[CONFIG NAME VALUE] [CONFIG NAME VALUE]] [ARGS ...]",
                "    Load a module library from <path>, while passing it module configurations and optional arguments.",
                "UNLOAD <name>",
                "    Unload a module.",
                "HELP",
                "    Prints this help.",
            ],
        ),
        ("load" | "loadex", 3..) | ("unload", 3) => {
            let setting = c
                .core
                .shared
                .config
                .read()
                .ok()
                .and_then(|cfg| cfg.get("enable-module-command"))
                .unwrap_or_default();
            let allowed = setting == "yes" || (setting == "local" && c.info.local);
            if !allowed {
                return Err(Error::msg("ERR MODULE command not allowed. If the enable-module-command option is set to \"local\", you can run it from a local connection, otherwise you need to set this option in the configuration file, and then restart the server."));
            }
            if sub == "unload" {
                return Err(Error::msg(
                    "ERR Error unloading module: no such module with that name",
                ));
            }
            tracing::warn!(
                path = %text(args.get(2)),
                "Module load refused: percore does not load Redis modules"
            );
            return Err(Error::msg(
                "ERR Error loading the extension. Please check the server logs.",
            ));
        }
        ("list" | "help" | "load" | "loadex" | "unload", _) => {
            return Err(Error::Arity(format!("module|{sub}")));
        }
        _ => return Err(Error::msg(unknown_sub(args.get(1), "module"))),
    }
    Ok(())
}

/// LOLWUT: Redis 7.0's own is its version line; VERSION 5 and 6 draw Redis 5's and 6's art.
fn lolwut(c: &mut Conn, args: Args) -> engine::Result<()> {
    let text = crate::lolwut::render(args, REDIS_VERSION)?;
    c.writer().verbatim(text.as_bytes());
    Ok(())
}

/// DEBUG PROTOCOL: a test value of each RESP type, as redis-server sends it (RESP2 gets
/// the RESP2 forms; a push is refused there).
fn debug_protocol(w: &mut Writer, name: &[u8]) -> engine::Result<()> {
    let resp3 = w.proto == Proto::Resp3;
    match String::from_utf8_lossy(name).to_ascii_lowercase().as_str() {
        "string" => w.bulk(b"Hello World"),
        "integer" => w.integer(12345),
        "double" => w.double_text(b"3.141"),
        "bignum" if resp3 => w.buf.extend_from_slice(b"(1234567999999999999999999999999999999\r\n"),
        "bignum" => w.bulk(b"1234567999999999999999999999999999999"),
        "null" => w.null(),
        "array" | "set" => {
            if name.eq_ignore_ascii_case(b"set") {
                w.set(3);
            } else {
                w.array(3);
            }
            (0..3).for_each(|i| w.integer(i));
        }
        "map" => {
            w.map(3);
            for i in 0..3 {
                w.integer(i);
                w.boolean(i == 1);
            }
        }
        "attrib" => {
            if resp3 {
                w.buf.extend_from_slice(b"|1\r\n");
                w.bulk(b"key-popularity");
                w.array(2);
                w.bulk(b"key:123");
                w.integer(90);
            }
            w.bulk(b"Some real reply following the attribute");
        }
        "push" => {
            if !resp3 {
                return Err(Error::msg("ERR RESP2 is not supported by this command"));
            }
            w.push(2);
            w.bulk(b"server-cpu-usage");
            w.integer(42);
            w.bulk(b"Some real reply following the push reply");
        }
        "verbatim" => w.verbatim(b"This is a verbatim\nstring"),
        "true" => w.boolean(true),
        "false" => w.boolean(false),
        _ => {
            return Err(Error::msg(
                "ERR Wrong protocol type name. Please use one of the following: string|integer|double|bignum|null|array|set|map|attrib|push|verbatim|true|false",
            ))
        }
    }
    Ok(())
}

/// A `Split::Gather` command whose keys live on several shards (SINTERSTORE, SMOVE,
/// ZUNIONSTORE, LMPOP, ...). Its keys are locked, copies of their values are gathered onto a
/// scratch shard, the command runs there through its ordinary handler, and the keys it
/// modified (their versions moved: every write path touches its key) are written back to
/// their shards before the locks go. The cost is a copy of each value, paid only when the
/// keys really span shards; one shard runs the handler in place.
pub async fn gather(
    c: &mut Conn,
    spec: &'static CommandSpec,
    handler: engine::table::Handler,
    args: Args<'_>,
    positions: &[usize],
) {
    let core = c.core.clone();
    let shared = core.shared.clone();
    let db = c.db;
    let mut keys: Vec<(usize, usize, Vec<u8>)> = positions
        .iter()
        .map(|&p| (shared.shard_of(args.get(p)), db, args.get(p).to_vec()))
        .collect();
    keys.sort();
    keys.dedup();
    let held = Txn::begin(&c.core, c.tx, Scope::Keys(&keys)).await;
    let mut scratch = engine::Shard::new(core.id, shared.databases());
    if shared.cluster.is_some() {
        scratch.set_cluster();
    }
    scratch.limits = core.shard.borrow().limits;
    scratch.notify_classes = engine::notify::recorded(core.settings.get().notify);
    scratch.set_time(engine::shard::unix_ms());
    let mut versions = Vec::with_capacity(keys.len());
    for (s, db, key) in &keys {
        let get = calls::Get {
            db: *db,
            key: key.clone(),
        };
        if let Some(e) = held.ask(&core, *s, get).await {
            scratch.store(*db, key, e.value, e.expire_at);
        }
        versions.push(scratch.watch(*db, key));
    }
    // Loading the copies is no event ("new"); what the command does is.
    drop(scratch.take_events());
    let proto = c.proto;
    scratch.execute(spec, handler, db, args, &mut c.out, proto);
    c.events.append(&mut scratch.take_events());
    if spec.is_write() {
        for ((s, db, key), v) in keys.iter().zip(versions) {
            if scratch.watch_version(*db, key) == Some(v) {
                continue;
            }
            let (db, key) = (*db, key.clone());
            match scratch.take(db, &key) {
                Some(entry) => {
                    let put = calls::Put {
                        db,
                        key,
                        entry,
                        replace: true,
                    };
                    held.ask(&core, *s, put).await;
                }
                None => {
                    held.ask(&core, *s, calls::Take { db, key }).await;
                }
            }
        }
    }
    held.end(&core).await;
}

/// Multi-key commands whose keys are on different shards and that move values between them.
/// Not atomic across shards yet (the atomicity issue adds ordering); each step is.
/// RENAME, RENAMENX, COPY, LCS and MSETNX whose keys live on several shards: their keys are
/// locked on every shard first (ascending shard order, see `core::ShardLock`), so the moves
/// and checks below are atomic, then released.
async fn cross(
    c: &mut Conn,
    rt: Rt,
    spec: &'static CommandSpec,
    args: Args<'_>,
) -> engine::Result<()> {
    // BLMOVE and BRPOPLPUSH come here inside EXEC (as their non-blocking form): their
    // arguments are checked as the blocking command checks them.
    if spec.is_blocking() {
        engine::cmd::blocking::parse(spec.name, args, engine::shard::unix_ms())?;
    }
    let core = c.core.clone();
    let shared = core.shared.clone();
    let db = c.db;
    let key = |k: &[u8], db: usize| (shared.shard_of(k), db, k.to_vec());
    let keys = match rt {
        Rt::Rename | Rt::RenameNx | Rt::Lcs | Rt::RPopLPush => {
            vec![key(args.get(1), db), key(args.get(2), db)]
        }
        Rt::LMove => {
            // Directions first, as Redis does (syntax error before any key is looked at).
            engine::cmd::list::parse_side(args.get(3))?;
            engine::cmd::list::parse_side(args.get(4))?;
            vec![key(args.get(1), db), key(args.get(2), db)]
        }
        Rt::Copy => {
            let (dst_db, _) = engine::cmd::keys::parse_copy_opts(args, db, shared.databases())?;
            vec![key(args.get(1), db), key(args.get(2), dst_db)]
        }
        Rt::MSetNx => {
            if args.len().is_multiple_of(2) {
                return Err(Error::Arity("msetnx".into()));
            }
            (1..args.len())
                .step_by(2)
                .map(|i| key(args.get(i), db))
                .collect()
        }
        _ => return Err(Error::Syntax),
    };
    let held = Txn::begin(&core, c.tx, Scope::Keys(&keys)).await;
    let result = cross_locked(c, rt, args, held.tx).await;
    held.end(&core).await;
    result
}

async fn cross_locked(c: &mut Conn, rt: Rt, args: Args<'_>, tx: u64) -> engine::Result<()> {
    let core = c.core.clone();
    let shared = core.shared.clone();
    let db = c.db;
    let shard_of = |k: &[u8]| shared.shard_of(k);
    let tx = Some(tx);
    match rt {
        Rt::LMove | Rt::RPopLPush => {
            use engine::cmd::list::parse_side;
            let (src, dst) = (args.get(1), args.get(2));
            let (from_left, to_left) = match rt {
                Rt::LMove => (parse_side(args.get(3))?, parse_side(args.get(4))?),
                _ => (false, true),
            };
            let check = |key: &[u8]| calls::CheckList {
                db,
                key: key.to_vec(),
            };
            if !core
                .ask_tx(shard_of(src), check(src), tx)
                .await
                .map_err(Error::msg)?
            {
                c.writer().null();
                return Ok(());
            }
            core.ask_tx(shard_of(dst), check(dst), tx)
                .await
                .map_err(Error::msg)?;
            let pop = calls::ListPop {
                db,
                key: src.to_vec(),
                left: from_left,
                count: 1,
            };
            let (mut popped, pop_events) = core
                .ask_tx(shard_of(src), pop, tx)
                .await
                .map_err(Error::msg)?;
            let Some(elem) = popped.pop() else {
                c.writer().null();
                return Ok(());
            };
            let push = calls::ListPush {
                db,
                key: dst.to_vec(),
                left: to_left,
                elems: vec![elem.clone()],
            };
            // The destination was checked under the same locks: the push cannot fail.
            let (_, mut push_events) = core
                .ask_tx(shard_of(dst), push, tx)
                .await
                .map_err(Error::msg)?;
            // Redis' order: the push on the destination, then the pop on the source.
            c.events.append(&mut push_events);
            c.events.extend(pop_events);
            c.writer().bulk(&elem);
        }
        Rt::Rename | Rt::RenameNx => {
            let (src, dst) = (args.get(1), args.get(2));
            let nx = rt == Rt::RenameNx;
            let get = calls::Get {
                db,
                key: src.to_vec(),
            };
            if core.ask_tx(shard_of(src), get, tx).await.is_none() {
                return Err(Error::NoSuchKey);
            }
            if nx {
                let check = calls::Exists {
                    db,
                    keys: vec![dst.to_vec()],
                };
                let exists = core.ask_tx(shard_of(dst), check, tx).await;
                if exists > 0 {
                    c.writer().integer(0);
                    return Ok(());
                }
            }
            let take = calls::Take {
                db,
                key: src.to_vec(),
            };
            let Some(entry) = core.ask_tx(shard_of(src), take, tx).await else {
                return Err(Error::NoSuchKey);
            };
            let put = calls::Put {
                db,
                key: dst.to_vec(),
                entry,
                replace: true,
            };
            core.ask_tx(shard_of(dst), put, tx).await;
            c.notify(NEW, "new", db, dst);
            c.notify(GENERIC, "rename_from", db, src);
            c.notify(GENERIC, "rename_to", db, dst);
            if nx {
                c.writer().integer(1);
            } else {
                c.writer().ok();
            }
        }
        Rt::Copy => {
            let (src, dst) = (args.get(1), args.get(2));
            let (dst_db, replace) =
                engine::cmd::keys::parse_copy_opts(args, db, shared.databases())?;
            let get = calls::Get {
                db,
                key: src.to_vec(),
            };
            let Some(entry) = core.ask_tx(shard_of(src), get, tx).await else {
                c.notify(KEY_MISS, "keymiss", db, src);
                c.writer().integer(0);
                return Ok(());
            };
            let put = calls::Put {
                db: dst_db,
                key: dst.to_vec(),
                entry,
                replace,
            };
            let copied = core.ask_tx(shard_of(dst), put, tx).await != Stored::No;
            if copied {
                c.notify(NEW, "new", dst_db, dst);
                c.notify(GENERIC, "copy_to", dst_db, dst);
            }
            c.writer().integer(copied as i64);
        }
        Rt::Lcs => {
            let mut vals = [Vec::new(), Vec::new()];
            let mut wrong = false;
            for (i, v) in vals.iter_mut().enumerate() {
                let key = args.get(1 + i);
                let get = calls::Get {
                    db,
                    key: key.to_vec(),
                };
                match core.ask_tx(shard_of(key), get, tx).await {
                    Some(e) => match e.value {
                        engine::value::Value::Str(s) => *v = s.to_vec(),
                        _ => wrong = true,
                    },
                    None => c.notify(KEY_MISS, "keymiss", db, key),
                }
            }
            if wrong {
                return Err(Error::msg(
                    "ERR The specified keys must contain string values",
                ));
            }
            // Redis checks the keys' types before the options.
            let opts = engine::cmd::string::parse_lcs_opts(args)?;
            let proto = c.proto;
            engine::cmd::string::lcs_reply(
                &mut Writer::new(&mut c.out, proto),
                &vals[0],
                &vals[1],
                opts,
            )?;
        }
        Rt::MSetNx => {
            if args.len().is_multiple_of(2) {
                return Err(Error::Arity("msetnx".into()));
            }
            let keys: Vec<Vec<u8>> = (1..args.len())
                .step_by(2)
                .map(|i| args.get(i).to_vec())
                .collect();
            let mut by_shard: Vec<Vec<Vec<u8>>> = vec![Vec::new(); core.shards()];
            for k in &keys {
                by_shard[shard_of(k)].push(k.clone());
            }
            let mut exists = 0;
            for (s, keys) in by_shard.into_iter().enumerate() {
                if !keys.is_empty() {
                    exists += core.ask_tx(s, calls::Exists { db, keys }, tx).await;
                }
            }
            if exists > 0 {
                c.writer().integer(0);
                return Ok(());
            }
            for i in (1..args.len()).step_by(2) {
                let key = args.get(i);
                let entry = engine::value::Entry {
                    value: engine::value::Value::Str(engine::value::Str::from_bytes(
                        args.get(i + 1),
                    )),
                    expire_at: 0,
                    lru: 0,
                    saved: Default::default(),
                };
                let put = calls::Put {
                    db,
                    key: key.to_vec(),
                    entry,
                    replace: true,
                };
                // A key named twice is new only the first time.
                if core.ask_tx(shard_of(key), put, tx).await == Stored::New {
                    c.notify(NEW, "new", db, key);
                }
                c.notify(STRING, "set", db, key);
            }
            c.writer().integer(1);
        }
        _ => return Err(Error::Syntax),
    }
    Ok(())
}
