//! MIGRATE host port key|"" db timeout [COPY] [REPLACE] [AUTH pw] [AUTH2 user pw]
//! [KEYS key ...]: the keys' DUMP payloads restored on the target (RESTORE-ASKING in
//! cluster mode, RESTORE otherwise), then deleted here (as DEL, journaled) unless COPY.
//! The keys stay locked meanwhile, so no write of another client falls between the copy
//! and the delete (redis-server blocks for the whole command). Replies and errors as
//! redis-server 7.0's migrateCommand. Connections to targets are kept for reuse, on the
//! core that made them, until 10 s unused (Redis' migrate_cached_sockets).

use crate::conn::Conn;
use crate::core::calls;
use crate::ops::Op;
use crate::txn::{Scope, Txn};
use engine::{Args, Error};
use futures_lite::AsyncReadExt;
use std::time::Duration;

fn msg(m: impl Into<String>) -> Error {
    Error::msg(m.into())
}

/// How long an unused connection to a target is kept.
const IDLE_MS: u64 = 10_000;

thread_local! {
    /// This core's connections to MIGRATE targets, with when each was last used.
    static CACHE: std::cell::RefCell<std::collections::HashMap<(String, u16), (reactor::Stream, u64)>> =
        Default::default();
}

/// A cached connection to `host:port` (dropping any unused for too long).
fn cached(host: &str, port: u16) -> Option<reactor::Stream> {
    let now = engine::shard::unix_ms();
    CACHE.with(|c| {
        let mut c = c.borrow_mut();
        c.retain(|_, (_, used)| now.saturating_sub(*used) < IDLE_MS);
        c.remove(&(host.to_string(), port)).map(|(s, _)| s)
    })
}

fn keep(host: &str, port: u16, stream: reactor::Stream) {
    let now = engine::shard::unix_ms();
    CACHE.with(|c| {
        c.borrow_mut()
            .insert((host.to_string(), port), (stream, now));
    });
}

async fn connect(host: &str, port: u16) -> Result<reactor::Stream, Error> {
    match crate::repl::connect(host, port).await {
        Ok((fd, _, _)) => Ok(reactor::Stream::from_fd(fd)),
        // redis-server's connect is non-blocking: only a timeout fails it, a refused
        // connection shows at the first write.
        Err(e) if e.contains("timed out") => {
            Err(msg("IOERR error or timeout connecting to the client"))
        }
        Err(_) => Err(msg("IOERR error or timeout writing to target instance")),
    }
}

/// Sends `out` and reads `expected` reply lines (fewer if the link fails or times out).
async fn exchange(
    stream: &mut reactor::Stream,
    out: &[u8],
    expected: usize,
    timeout: u64,
) -> Result<Vec<String>, Error> {
    if stream.write(out).is_err() {
        return Err(msg("IOERR error or timeout writing to target instance"));
    }
    let mut lines: Vec<String> = Vec::new();
    let mut buf: Vec<u8> = Vec::new();
    let mut chunk = vec![0u8; 16 << 10];
    while lines.len() < expected {
        if let Some(p) = buf.windows(2).position(|w| w == b"\r\n") {
            lines.push(String::from_utf8_lossy(&buf[..p]).into_owned());
            buf.drain(..p + 2);
            continue;
        }
        let read = futures_lite::future::or(async { Some(stream.read(&mut chunk).await) }, async {
            reactor::sleep(Duration::from_millis(timeout)).await;
            None
        })
        .await;
        match read {
            Some(Ok(n)) if n > 0 => buf.extend_from_slice(&chunk[..n]),
            _ => break,
        }
    }
    Ok(lines)
}

pub async fn migrate(c: &mut Conn, args: Args<'_>) -> Result<(), Error> {
    let n = args.len();
    let (mut copy, mut replace) = (false, false);
    let mut auth: Option<(Option<Vec<u8>>, Vec<u8>)> = None;
    let (mut first_key, mut num_keys) = (3, 1);
    let mut j = 6;
    while j < n {
        let more = n - 1 - j;
        if args.is(j, "copy") {
            copy = true;
        } else if args.is(j, "replace") {
            replace = true;
        } else if args.is(j, "auth") {
            if more < 1 {
                return Err(Error::Syntax);
            }
            auth = Some((None, args.get(j + 1).to_vec()));
            j += 1;
        } else if args.is(j, "auth2") {
            if more < 2 {
                return Err(Error::Syntax);
            }
            auth = Some((Some(args.get(j + 1).to_vec()), args.get(j + 2).to_vec()));
            j += 2;
        } else if args.is(j, "keys") {
            if !args.get(3).is_empty() {
                return Err(msg(
                    "ERR When using MIGRATE KEYS option, the key argument must be set to the empty string",
                ));
            }
            first_key = j + 1;
            num_keys = n - j - 1;
            break;
        } else {
            return Err(Error::Syntax);
        }
        j += 1;
    }
    let timeout = args.int(5)?;
    let dbid = args.int(4)?;
    let timeout = if timeout <= 0 { 1000 } else { timeout as u64 };
    let host = String::from_utf8_lossy(args.get(1)).into_owned();
    let port = args
        .int(2)
        .ok()
        .filter(|p| (0..=65535).contains(p))
        .ok_or_else(|| msg("ERR value is not an integer or out of range"))? as u16;
    let core = c.core.clone();
    let db = c.db;
    let keys: Vec<(usize, usize, Vec<u8>)> = (first_key..first_key + num_keys)
        .map(|i| (core.shared.shard_of(args.get(i)), db, args.get(i).to_vec()))
        .collect();
    let held = Txn::begin(&core, c.tx, Scope::Keys(&keys)).await;
    let r = locked(
        c, &keys, &host, port, dbid, timeout, copy, replace, auth, held.tx,
    )
    .await;
    held.end(&core).await;
    r
}

#[allow(clippy::too_many_arguments)]
async fn locked(
    c: &mut Conn,
    keys: &[(usize, usize, Vec<u8>)],
    host: &str,
    port: u16,
    dbid: i64,
    timeout: u64,
    copy: bool,
    replace: bool,
    auth: Option<(Option<Vec<u8>>, Vec<u8>)>,
    tx: u64,
) -> Result<(), Error> {
    let core = c.core.clone();
    let now = engine::shard::unix_ms();
    let opts = core.settings.get().save;
    // The keys that exist (not expired), with their payloads and TTLs.
    let mut found: Vec<(usize, Vec<u8>, u64, Vec<u8>)> = Vec::new();
    for (shard, kdb, key) in keys {
        let get = calls::Get {
            db: *kdb,
            key: key.clone(),
        };
        let Some(e) = core.ask_tx(*shard, get, Some(tx)).await else {
            continue;
        };
        if e.expire_at != 0 && e.expire_at <= now {
            continue;
        }
        let ttl = if e.expire_at == 0 {
            0
        } else {
            (e.expire_at - now).max(1)
        };
        found.push((*shard, key.clone(), ttl, engine::rdb::dump(&e.value, opts)));
    }
    if found.is_empty() {
        c.writer().simple(b"NOKEY");
        return Ok(());
    }
    let restore: &[u8] = if core.shared.cluster.is_some() {
        b"RESTORE-ASKING"
    } else {
        b"RESTORE"
    };
    let mut out = Vec::new();
    let mut expected = 0;
    if let Some((user, pass)) = &auth {
        match user {
            Some(u) => resp::write_command(&mut out, &[b"AUTH", u, pass]),
            None => resp::write_command(&mut out, &[b"AUTH", pass]),
        }
        expected += 1;
    }
    let dbs = dbid.to_string();
    resp::write_command(&mut out, &[b"SELECT", dbs.as_bytes()]);
    expected += 1;
    for (_, key, ttl, payload) in &found {
        let ttl = ttl.to_string();
        if replace {
            resp::write_command(
                &mut out,
                &[restore, key, ttl.as_bytes(), payload, b"REPLACE"],
            );
        } else {
            resp::write_command(&mut out, &[restore, key, ttl.as_bytes(), payload]);
        }
        expected += 1;
    }
    // A cached connection first; if it fails before any reply (the target closed it),
    // once more on a new one (Redis' may_retry).
    let (mut stream, mut reused) = match cached(host, port) {
        Some(s) => (s, true),
        None => (connect(host, port).await?, false),
    };
    let lines = loop {
        match exchange(&mut stream, &out, expected, timeout).await {
            Ok(lines) if lines.is_empty() && reused => {}
            Err(_) if reused => {}
            Ok(lines) => break lines,
            Err(e) => return Err(e),
        }
        stream = connect(host, port).await?;
        reused = false;
    };
    let prefix = expected - found.len();
    let mut error: Option<String> = lines[..prefix.min(lines.len())]
        .iter()
        .find(|l| l.starts_with('-'))
        .cloned();
    let del = engine::lookup(b"del").ok_or_else(|| msg("ERR no DEL"))?;
    let handler = del.handler().ok_or_else(|| msg("ERR no DEL"))?;
    for (i, (shard, key, _, _)) in found.iter().enumerate() {
        let Some(line) = lines.get(prefix + i) else {
            break;
        };
        if line.starts_with('-') || error.is_some() {
            error.get_or_insert_with(|| line.clone());
            continue;
        }
        if !copy {
            let mut batch = crate::ops::Batch::default();
            batch.push(del, handler, c.db, c.proto, [&b"DEL"[..], key].into_iter());
            core.send_tx(*shard, Op::Batch(batch), Some(tx))
                .await
                .wait()
                .await;
        }
    }
    if let Some(e) = error {
        return Err(msg(format!(
            "ERR Target instance replied with error: {}",
            e.trim_start_matches('-')
        )));
    }
    if lines.len() < expected {
        return Err(msg("IOERR error or timeout reading to target instance"));
    }
    keep(host, port, stream);
    c.writer().ok();
    Ok(())
}
