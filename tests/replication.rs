//! Replication with the real peer: percore as the replica of a redis-server 7.0 master (full
//! sync, diskless and from disk; the command stream; partial resync after a cut link), the
//! replica's role, read-only refusals, INFO and ROLE, and REPLICAOF NO ONE.

use crate::differential::{settled_digest, workload};
use crate::harness::{info_field, Raw, Server};
use std::time::{Duration, Instant};

const READONLY: &str = "-READONLY You can't write against a read only replica.\r\n";

fn wait_for(what: &str, mut done: impl FnMut() -> bool) {
    let start = Instant::now();
    while !done() {
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "timed out waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn redis_master(extra: &[&str]) -> Server {
    let mut args = vec!["--repl-diskless-sync-delay", "0"];
    args.extend_from_slice(extra);
    Server::redis_with(&args)
}

/// The replica's link is up and it applied everything the master sent.
fn wait_synced(master: &Server, replica: &Server) {
    let (mut m, mut r) = (master.raw(), replica.raw());
    wait_for("the replica to catch up", || {
        let up = info_field(&mut r, "replication", "master_link_status") == "up";
        let mo = info_field(&mut m, "replication", "master_repl_offset");
        let ro = info_field(&mut r, "replication", "slave_repl_offset");
        up && mo == ro
    });
}

/// Runs generated commands on the master (one connection of their own, in order).
fn run_workload(master: &Server, commands: &[Vec<Vec<u8>>]) {
    let mut c = master.raw();
    // (An empty command gets no reply.)
    for argv in commands.iter().filter(|a| !a.is_empty()) {
        let argv: Vec<&[u8]> = argv.iter().map(|a| a.as_slice()).collect();
        let mut buf = Vec::new();
        resp::write_command(&mut buf, &argv);
        c.send(&buf);
        if c.try_read_reply().is_none() {
            let shown: Vec<String> = argv
                .iter()
                .map(|a| String::from_utf8_lossy(a).into())
                .collect();
            panic!("no reply from the master to {shown:?}");
        }
    }
}

fn num(c: &mut Raw, section: &str, field: &str) -> i64 {
    info_field(c, section, field).parse().unwrap_or(-1)
}

/// The differential generator's commands (seeded by `seed`) run on `master` before the
/// replica attaches (the full sync carries them) and after (the stream does), with the link
/// cut in the middle: the replica continues partially, and both datasets end equal.
fn follows(master: &Server, replica: &Server, seed: u64) {
    let mut m = master.raw();
    let (lib, before) = workload(seed, 300);
    assert_eq!(
        m.cmd(&["FUNCTION", "LOAD", "REPLACE", &lib]),
        "$7\r\ndifflib\r\n"
    );
    run_workload(master, &before);
    let mut r = replica.raw();
    let port = master.port.to_string();
    assert_eq!(r.cmd(&["REPLICAOF", "127.0.0.1", &port]), "+OK\r\n");
    assert_eq!(
        r.cmd(&["REPLICAOF", "127.0.0.1", &port]),
        "+OK Already connected to specified master\r\n"
    );
    wait_synced(master, replica);
    assert_eq!(num(&mut m, "stats", "sync_full"), 1);
    let (_, after) = workload(seed + 1000, 600);
    run_workload(master, &after[..300]);
    // Cut the link: the replica reconnects and continues from its offset.
    assert_eq!(r.cmd(&["CLIENT", "KILL", "TYPE", "master"]), ":1\r\n");
    run_workload(master, &after[300..]);
    wait_synced(master, replica);
    assert_eq!(
        num(&mut m, "stats", "sync_full"),
        1,
        "a full resync after the cut"
    );
    assert!(num(&mut m, "stats", "sync_partial_ok") >= 1);
    same_data(master, replica);
}

fn percore(shards: usize) -> Server {
    Server::start_with(
        shards,
        &[
            "--enable-debug-command",
            "yes",
            "--repl-diskless-sync-delay",
            "0",
        ],
    )
}

fn follows_redis_master(shards: usize, diskless: bool) {
    let master = redis_master(&["--repl-diskless-sync", if diskless { "yes" } else { "no" }]);
    follows(&master, &percore(shards), 7 + shards as u64);
}

#[test]
fn percore_replica_of_redis_one_shard() {
    follows_redis_master(1, true);
}

#[test]
fn percore_replica_of_redis_two_shards_rdb_from_disk() {
    follows_redis_master(2, false);
}

#[test]
fn percore_replica_of_redis_four_shards() {
    follows_redis_master(4, true);
}

/// A replica refuses writes with Redis' error (in MULTI too), answers ROLE, INFO and HELLO as
/// one, and REPLICAOF NO ONE makes it a master with a new history that keeps the old one as
/// replid2.
#[test]
fn replica_role_readonly_and_promotion() {
    let master = redis_master(&[]);
    let replica = percore(2);
    let mut m = master.raw();
    m.cmd(&["SET", "k", "v"]);
    m.cmd(&["RPUSH", "l", "a", "b"]);
    let mut r = replica.raw();
    assert_eq!(
        r.cmd(&["REPLICAOF", "127.0.0.1", "notaport"]),
        "-ERR Invalid master port\r\n"
    );
    let port = master.port.to_string();
    assert_eq!(r.cmd(&["SLAVEOF", "127.0.0.1", &port]), "+OK\r\n");
    wait_synced(&master, &replica);
    assert_eq!(r.cmd(&["GET", "k"]), "$1\r\nv\r\n");
    assert_eq!(r.cmd(&["SET", "k", "x"]), READONLY);
    assert_eq!(r.cmd(&["LPOP", "l"]), READONLY);
    assert_eq!(r.cmd(&["MULTI"]), "+OK\r\n");
    assert_eq!(r.cmd(&["INCR", "n"]), READONLY);
    assert_eq!(
        r.cmd(&["EXEC"]),
        "-EXECABORT Transaction discarded because of previous errors.\r\n"
    );
    let offset = info_field(&mut r, "replication", "slave_repl_offset");
    let role = r.cmd(&["ROLE"]);
    assert_eq!(
        role,
        format!(
            "*5\r\n$5\r\nslave\r\n$9\r\n127.0.0.1\r\n:{port}\r\n$9\r\nconnected\r\n:{offset}\r\n"
        )
    );
    for (field, want) in [
        ("role", "slave"),
        ("master_host", "127.0.0.1"),
        ("master_port", port.as_str()),
        ("master_link_status", "up"),
        ("master_sync_in_progress", "0"),
        ("slave_priority", "100"),
        ("slave_read_only", "1"),
        ("replica_announced", "1"),
    ] {
        assert_eq!(info_field(&mut r, "replication", field), want, "{field}");
    }
    assert!(r.cmd(&["HELLO", "3"]).contains("role\r\n$7\r\nreplica\r\n"));
    let mut r = replica.raw();
    // The master sees this replica, at the port it announced.
    let slave0 = info_field(&mut m, "replication", "slave0");
    assert!(
        slave0.contains(&format!("port={}", replica.port)),
        "{slave0}"
    );
    let list = r.cmd(&["CLIENT", "LIST", "TYPE", "master"]);
    assert!(list.contains("flags=M"), "{list}");
    // Promotion.
    let old_id = info_field(&mut r, "replication", "master_replid");
    assert_eq!(r.cmd(&["REPLICAOF", "NO", "ONE"]), "+OK\r\n");
    assert_eq!(r.cmd(&["SET", "k", "x"]), "+OK\r\n");
    assert_eq!(info_field(&mut r, "replication", "role"), "master");
    assert_eq!(info_field(&mut r, "replication", "master_replid2"), old_id);
    assert_ne!(info_field(&mut r, "replication", "master_replid"), old_id);
    assert!(r.cmd(&["ROLE"]).starts_with("*3\r\n$6\r\nmaster\r\n"));
    // The master's later writes no longer arrive.
    m.cmd(&["SET", "after", "1"]);
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(r.cmd(&["EXISTS", "after"]), ":0\r\n");
    wait_for("the master to drop the replica", || {
        info_field(&mut m, "replication", "connected_slaves") == "0"
    });
}

/// The `replicaof` directive: a replica from the start, and keys with a TTL stay until the
/// master's DEL (a replica deletes nothing itself), though reads find nothing once the TTL
/// passed (as redis-server's replicas answer).
#[test]
fn replicaof_directive_and_expiry_by_the_master() {
    let master = redis_master(&[]);
    let mut m = master.raw();
    // The master's own expiry only on access: its DEL is what the replica waits for.
    assert_eq!(m.cmd(&["DEBUG", "SET-ACTIVE-EXPIRE", "0"]), "+OK\r\n");
    let port = master.port.to_string();
    let replica = Server::start_with(1, &["--replicaof", "127.0.0.1", &port]);
    wait_synced(&master, &replica);
    m.cmd(&["SET", "t", "v", "PX", "100"]);
    wait_synced(&master, &replica);
    std::thread::sleep(Duration::from_millis(300));
    let mut r = replica.raw();
    assert_eq!(num(&mut r, "stats", "expired_keys"), 0);
    assert_eq!(r.cmd(&["DBSIZE"]), ":1\r\n");
    assert_eq!(r.cmd(&["GET", "t"]), "$-1\r\n");
    assert_eq!(r.cmd(&["EXISTS", "t"]), ":0\r\n");
    assert_eq!(r.cmd(&["PTTL", "t"]), ":-2\r\n");
    assert_eq!(r.cmd(&["DBSIZE"]), ":1\r\n");
    // The master deletes it when it is read there; the DEL reaches the replica.
    assert_eq!(m.cmd(&["GET", "t"]), "$-1\r\n");
    wait_synced(&master, &replica);
    assert_eq!(r.cmd(&["DBSIZE"]), ":0\r\n");
}

/// A replica of `master` at `replica` (any server).
fn attach(replica: &Server, master: &Server) {
    let port = master.port.to_string();
    assert_eq!(
        replica.raw().cmd(&["REPLICAOF", "127.0.0.1", &port]),
        "+OK\r\n"
    );
    wait_synced(master, replica);
}

/// A percore master with `shards` shards and `replica` (redis-server or percore).
fn percore_master(shards: usize, replica: Server) {
    follows(&percore(shards), &replica, 70 + shards as u64);
}

#[test]
fn redis_replica_of_percore_one_shard() {
    percore_master(1, Server::redis());
}

#[test]
fn redis_replica_of_percore_two_shards() {
    percore_master(2, Server::redis());
}

#[test]
fn percore_replica_of_percore_shard_counts() {
    for (m, r) in [(1, 2), (2, 4), (4, 1)] {
        percore_master(m, percore(r));
    }
}

/// WAIT counts the replicas that acknowledged the writes before it; with fewer than asked it
/// waits out its timeout. A multi-shard MSET reaches a redis-server replica as one MULTI/EXEC
/// block, applied whole.
#[test]
fn wait_and_multi_shard_writes_on_a_redis_replica() {
    let master = percore(2);
    let replica = Server::redis();
    let mut m = master.raw();
    assert_eq!(m.cmd(&["WAIT", "0", "0"]), ":0\r\n");
    attach(&replica, &master);
    assert_eq!(info_field(&mut m, "replication", "connected_slaves"), "1");
    let slave0 = info_field(&mut m, "replication", "slave0");
    assert!(
        slave0.starts_with(&format!("ip=127.0.0.1,port={},state=online", replica.port)),
        "{slave0}"
    );
    for i in 0..50 {
        m.cmd(&[
            "MSET",
            &format!("a{i}"),
            "1",
            &format!("b{i}"),
            "2",
            &format!("c{i}"),
            "3",
        ]);
    }
    assert_eq!(m.cmd(&["WAIT", "1", "5000"]), ":1\r\n");
    let mut r = replica.raw();
    assert_eq!(r.cmd(&["DBSIZE"]), ":150\r\n");
    let started = Instant::now();
    assert_eq!(m.cmd(&["WAIT", "2", "200"]), ":1\r\n");
    assert!(started.elapsed() >= Duration::from_millis(190));
    assert_eq!(m.cmd(&["WAIT", "-1", "-5"]), "-ERR timeout is negative\r\n");
    assert_eq!(
        r.cmd(&["WAIT", "1", "10"]),
        "-ERR WAIT cannot be used with replica instances. Please also note that since Redis 4.0 if a replica is configured to be writable (which is not the default) writes to replicas are just local and are not propagated.\r\n"
    );
    // ROLE on the master lists the replica and its acknowledged offset.
    let role = m.cmd(&["ROLE"]);
    assert!(role.starts_with("*3\r\n$6\r\nmaster\r\n:"), "{role}");
    assert!(
        role.contains(&format!(
            "$9\r\n127.0.0.1\r\n${}\r\n{}\r\n",
            replica.port.to_string().len(),
            replica.port
        )),
        "{role}"
    );
}

/// The replica holds the master's dataset (DEBUG DIGEST), compared at a moment the master's
/// stays the same across the replica's catching up (its active expiry may delete keys, and
/// stream their DELs, at any time).
fn same_data(master: &Server, replica: &Server) {
    let mut last = (String::new(), String::new());
    for _ in 0..20 {
        let digest = settled_digest(master);
        assert_ne!(
            digest,
            format!("+{}\r\n", "0".repeat(40)),
            "the workload left no data"
        );
        wait_synced(master, replica);
        let theirs = replica.raw().cmd(&["DEBUG", "DIGEST"]);
        if theirs == digest {
            return;
        }
        let again = master.raw().cmd(&["DEBUG", "DIGEST"]);
        last = (digest.clone(), theirs);
        if again == digest {
            break;
        }
    }
    if last.1 != last.0 {
        assert_eq!(
            last.1,
            last.0,
            "the replica's dataset differs from the master's: keys {:?}",
            differing_keys(master, replica)
        );
    }
}

/// The keys (db:name) whose values or expiry differ between two servers.
fn differing_keys(a: &Server, b: &Server) -> Vec<String> {
    let (mut a, mut b) = (a.raw(), b.raw());
    let mut out = Vec::new();
    for db in 0..16 {
        let mut keys = Vec::new();
        for c in [&mut a, &mut b] {
            c.cmd(&["SELECT", &db.to_string()]);
            let list = c.cmd(&["KEYS", "*"]);
            keys.extend(
                list.split("\r\n")
                    .filter(|l| !l.is_empty() && !l.starts_with(['*', '$']))
                    .map(String::from),
            );
        }
        keys.sort();
        keys.dedup();
        for k in keys {
            let probe = |c: &mut Raw| {
                (
                    c.cmd(&["DEBUG", "DIGEST-VALUE", &k]),
                    c.cmd(&["PTTL", &k]).starts_with(":-"),
                )
            };
            if probe(&mut a) != probe(&mut b) {
                out.push(format!("{db}:{k}"));
            }
        }
    }
    out
}

/// min-replicas-to-write: writes get -NOREPLICAS until enough replicas acknowledge within
/// min-replicas-max-lag; replica-serve-stale-data no: a replica whose link is down answers
/// -MASTERDOWN to what is not flagged stale.
#[test]
fn min_replicas_and_stale_data() {
    let master = percore(2);
    let mut m = master.raw();
    assert_eq!(
        m.cmd(&["CONFIG", "SET", "min-replicas-to-write", "1"]),
        "+OK\r\n"
    );
    assert_eq!(
        m.cmd(&["SET", "k", "v"]),
        "-NOREPLICAS Not enough good replicas to write.\r\n"
    );
    assert_eq!(m.cmd(&["GET", "k"]), "$-1\r\n");
    assert_eq!(
        info_field(&mut m, "replication", "min_slaves_good_slaves"),
        "0"
    );
    let replica = percore(1);
    attach(&replica, &master);
    wait_for("a good replica", || {
        info_field(&mut m, "replication", "min_slaves_good_slaves") == "1"
    });
    assert_eq!(m.cmd(&["SET", "k", "v"]), "+OK\r\n");
    wait_synced(&master, &replica);
    // The replica stops acknowledging (its link cut for good): writes stop after the lag.
    let mut r = replica.raw();
    assert_eq!(
        r.cmd(&["CONFIG", "SET", "replica-serve-stale-data", "no"]),
        "+OK\r\n"
    );
    assert_eq!(r.cmd(&["GET", "k"]), "$1\r\nv\r\n");
    let dead = crate::harness::free_port().to_string();
    assert_eq!(r.cmd(&["REPLICAOF", "127.0.0.1", &dead]), "+OK\r\n");
    assert_eq!(
        r.cmd(&["GET", "k"]),
        "-MASTERDOWN Link with MASTER is down and replica-serve-stale-data is set to 'no'.\r\n"
    );
    assert!(r
        .cmd(&["INFO", "replication"])
        .contains("master_link_status:down"));
    assert_eq!(
        m.cmd(&["CONFIG", "SET", "min-replicas-max-lag", "1"]),
        "+OK\r\n"
    );
    wait_for("the replica to count as gone", || {
        m.cmd(&["SET", "k", "w"]) == "-NOREPLICAS Not enough good replicas to write.\r\n"
    });
}

/// Scripts on a stale replica (link down, replica-serve-stale-data no), as redis-server
/// answers them: a script without flags runs, but its calls of commands not flagged stale
/// fail; one that declares flags needs allow-stale (else -MASTERDOWN); functions alike.
#[test]
fn scripts_on_a_stale_replica_match_redis() {
    let ours = percore(2);
    let theirs = Server::redis();
    let lib = "#!lua name=stale\n\
               redis.register_function{function_name='ok', callback=function() return redis.call('get', 'k') end, flags={'allow-stale', 'no-writes'}}\n\
               redis.register_function{function_name='no', callback=function() return 1 end, flags={'no-writes'}}";
    let cases: Vec<Vec<&str>> = vec![
        vec!["EVAL", "return redis.call('get', 'k')", "0"],
        vec!["EVAL", "return redis.pcall('get', 'k')", "0"],
        vec!["EVAL", "return type(redis.call('time'))", "0"],
        vec!["EVAL", "#!lua\nreturn 1", "0"],
        vec!["EVAL", "#!lua flags=no-writes\nreturn 1", "0"],
        vec!["EVAL", "#!lua flags=allow-stale\nreturn 1", "0"],
        vec![
            "EVAL",
            "#!lua flags=allow-stale,no-writes\nreturn redis.call('get', 'k')",
            "0",
        ],
        vec![
            "EVAL_RO",
            "#!lua flags=allow-stale,no-writes\nreturn type(redis.call('time'))",
            "0",
        ],
        vec!["FCALL", "ok", "0"],
        vec!["FCALL_RO", "no", "0"],
    ];
    let dead = crate::harness::free_port().to_string();
    for s in [&ours, &theirs] {
        let mut c = s.raw();
        assert_eq!(c.cmd(&["SET", "k", "v"]), "+OK\r\n");
        assert_eq!(c.cmd(&["FUNCTION", "LOAD", lib]), "$5\r\nstale\r\n");
        let set = ["CONFIG", "SET", "replica-serve-stale-data", "no"];
        assert_eq!(c.cmd(&set), "+OK\r\n");
        assert_eq!(c.cmd(&["REPLICAOF", "127.0.0.1", &dead]), "+OK\r\n");
    }
    let (mut o, mut t) = (ours.raw(), theirs.raw());
    for argv in &cases {
        assert_eq!(o.cmd(argv), t.cmd(argv), "reply to {argv:?}");
    }
}

/// Four clients at once on a four-shard percore master (the generator's commands, its keys
/// shared, multi-shard operations among them): the merged stream brings a redis-server
/// replica and a percore replica to the master's dataset.
#[test]
fn concurrent_writers_on_a_four_shard_master() {
    let master = percore(4);
    let redis = Server::redis();
    let ours = percore(2);
    let (lib, _) = workload(0, 0);
    assert_eq!(
        master.raw().cmd(&["FUNCTION", "LOAD", "REPLACE", &lib]),
        "$7\r\ndifflib\r\n"
    );
    attach(&redis, &master);
    attach(&ours, &master);
    std::thread::scope(|s| {
        for t in 0..4u64 {
            let master = &master;
            s.spawn(move || run_workload(master, &workload(500 + t, 400).1));
        }
    });
    same_data(&master, &redis);
    same_data(&master, &ours);
}

/// A replica restarted with the RDB it saved continues with a partial resync from the
/// history and offset kept in the file (repl-id, repl-offset, repl-stream-db), as
/// redis-server's replicas do.
#[test]
fn restarted_replica_continues_partially() {
    let master = redis_master(&[]);
    let mut m = master.raw();
    let dir = crate::harness::scratch_dir("replica-rdb");
    let dir_arg = dir.display().to_string();
    let port = master.port.to_string();
    let args = [
        "--dir",
        dir_arg.as_str(),
        "--replicaof",
        "127.0.0.1",
        port.as_str(),
        "--enable-debug-command",
        "yes",
    ];
    let replica = Server::start_with(2, &args);
    m.cmd(&["SELECT", "3"]);
    for i in 0..100 {
        m.cmd(&["INCR", &format!("n{i}")]);
    }
    wait_synced(&master, &replica);
    assert_eq!(replica.raw().cmd(&["SAVE"]), "+OK\r\n");
    drop(replica);
    // Written while it is away, in the database the stream was in.
    for i in 0..100 {
        m.cmd(&["INCR", &format!("n{i}")]);
    }
    let full = num(&mut m, "stats", "sync_full");
    let partial = num(&mut m, "stats", "sync_partial_ok");
    let replica = Server::start_with(2, &args);
    wait_synced(&master, &replica);
    assert_eq!(num(&mut m, "stats", "sync_full"), full, "a full resync");
    assert_eq!(num(&mut m, "stats", "sync_partial_ok"), partial + 1);
    let mut r = replica.raw();
    r.cmd(&["SELECT", "3"]);
    assert_eq!(r.cmd(&["GET", "n7"]), "$1\r\n2\r\n");
    same_data(&master, &replica);
    let _ = std::fs::remove_dir_all(&dir);
}

fn role(s: &Server) -> String {
    info_field(&mut s.raw(), "replication", "role")
}

/// FAILOVER between percore servers, with replicas chained below the target (a percore and
/// a redis-server replica of a replica): the master pauses writes, hands over once the
/// target has its whole stream, and follows it with a partial resync; the chained replicas
/// keep following, and every dataset ends equal.
#[test]
fn failover_between_percore_servers_with_chained_replicas() {
    let master = percore(2);
    let target = percore(1);
    let chained = percore(2);
    let redis_chained = Server::redis();
    let mut m = master.raw();
    let (lib, before) = workload(91, 300);
    assert_eq!(
        m.cmd(&["FUNCTION", "LOAD", "REPLACE", &lib]),
        "$7\r\ndifflib\r\n"
    );
    run_workload(&master, &before);
    assert_eq!(
        m.cmd(&["FAILOVER"]),
        "-ERR FAILOVER requires connected replicas.\r\n"
    );
    attach(&target, &master);
    attach(&chained, &target);
    attach(&redis_chained, &target);
    let (_, after) = workload(92, 600);
    run_workload(&master, &after[..300]);
    same_data(&master, &target);
    same_data(&target, &chained);
    same_data(&target, &redis_chained);

    let mut t = target.raw();
    assert_eq!(
        t.cmd(&["FAILOVER"]),
        "-ERR FAILOVER is not valid when server is a replica.\r\n"
    );
    assert_eq!(
        m.cmd(&["FAILOVER", "ABORT"]),
        "-ERR No failover in progress.\r\n"
    );
    assert_eq!(
        m.cmd(&["FAILOVER", "TO", "127.0.0.1", "1", "FORCE"]),
        "-ERR FAILOVER with force option requires both a timeout and target HOST and IP.\r\n"
    );
    assert_eq!(
        m.cmd(&["FAILOVER", "TO", "127.0.0.1", "1"]),
        "-ERR FAILOVER target HOST and PORT is not a replica.\r\n"
    );
    assert_eq!(
        m.cmd(&["FAILOVER", "TIMEOUT", "0"]),
        "-ERR FAILOVER timeout must be greater than 0\r\n"
    );
    assert_eq!(m.cmd(&["FAILOVER", "BOGUS"]), "-ERR syntax error\r\n");
    let full_before = num(&mut t, "stats", "sync_full");
    let port = target.port.to_string();
    assert_eq!(m.cmd(&["FAILOVER", "TO", "127.0.0.1", &port]), "+OK\r\n");
    wait_for("the hand-over", || {
        role(&target) == "master"
            && info_field(&mut master.raw(), "replication", "master_link_status") == "up"
    });
    assert_eq!(
        info_field(&mut m, "replication", "master_failover_state"),
        "no-failover"
    );
    assert_eq!(info_field(&mut m, "replication", "master_port"), port);
    // The old master continued partially from the new one.
    assert_eq!(num(&mut t, "stats", "sync_full"), full_before);
    assert!(num(&mut t, "stats", "sync_partial_ok") >= 1);
    // Writes go to the new master now; everything follows it.
    assert!(m.cmd(&["SET", "x", "1"]).starts_with("-READONLY"));
    run_workload(&target, &after[300..]);
    same_data(&target, &master);
    same_data(&target, &chained);
    same_data(&target, &redis_chained);
}

/// FAILOVER across implementations: a redis-server master hands over to its percore
/// replica (percore answers PSYNC ... FAILOVER), then the percore master hands back to
/// the redis-server replica; each time the old master continues partially.
#[test]
fn failover_with_redis_server_both_ways() {
    let redis = redis_master(&[]);
    let ours = percore(2);
    let mut r = redis.raw();
    let (lib, before) = workload(93, 300);
    assert_eq!(
        r.cmd(&["FUNCTION", "LOAD", "REPLACE", &lib]),
        "$7\r\ndifflib\r\n"
    );
    run_workload(&redis, &before);
    attach(&ours, &redis);
    same_data(&redis, &ours);
    // Any replica: the first to catch up.
    assert_eq!(r.cmd(&["FAILOVER"]), "+OK\r\n");
    wait_for("percore to take over", || {
        role(&ours) == "master"
            && info_field(&mut redis.raw(), "replication", "master_link_status") == "up"
    });
    let mut o = ours.raw();
    assert_eq!(num(&mut o, "stats", "sync_full"), 0);
    assert_eq!(num(&mut o, "stats", "sync_partial_ok"), 1);
    let (_, after) = workload(94, 600);
    run_workload(&ours, &after[..300]);
    same_data(&ours, &redis);

    let port = redis.port.to_string();
    let full_before = num(&mut r, "stats", "sync_full");
    assert_eq!(
        o.cmd(&["FAILOVER", "TO", "127.0.0.1", &port, "TIMEOUT", "5000"]),
        "+OK\r\n"
    );
    wait_for("redis-server to take over", || {
        role(&redis) == "master"
            && info_field(&mut ours.raw(), "replication", "master_link_status") == "up"
    });
    assert_eq!(num(&mut r, "stats", "sync_full"), full_before);
    assert!(num(&mut r, "stats", "sync_partial_ok") >= 1);
    run_workload(&redis, &after[300..]);
    same_data(&redis, &ours);
}

/// A failover whose replica does not catch up in time gives up at its TIMEOUT: writes that
/// waited meanwhile run, and the server stays master; FAILOVER ABORT ends one at once;
/// REPLICAOF is refused during one.
#[test]
fn failover_timeout_and_abort() {
    let master = percore(2);
    let replica = Server::redis();
    attach(&replica, &master);
    let mut m = master.raw();
    // The replica sleeps: it acknowledges nothing for a while.
    let sleeper = {
        let mut r = replica.raw();
        std::thread::spawn(move || r.cmd(&["DEBUG", "SLEEP", "2"]))
    };
    std::thread::sleep(Duration::from_millis(100));
    assert_eq!(m.cmd(&["SET", "a", "1"]), "+OK\r\n");
    assert_eq!(m.cmd(&["FAILOVER", "TIMEOUT", "400"]), "+OK\r\n");
    assert_eq!(
        info_field(&mut m, "replication", "master_failover_state"),
        "waiting-for-sync"
    );
    assert_eq!(
        m.cmd(&["REPLICAOF", "127.0.0.1", "1"]),
        "-ERR REPLICAOF not allowed while failing over.\r\n"
    );
    assert_eq!(
        m.cmd(&["FAILOVER"]),
        "-ERR FAILOVER already in progress.\r\n"
    );
    // Reads go on; a write waits for the end of the failover.
    assert_eq!(m.cmd(&["GET", "a"]), "$1\r\n1\r\n");
    let t = Instant::now();
    assert_eq!(m.cmd(&["SET", "b", "1"]), "+OK\r\n");
    assert!(
        t.elapsed() >= Duration::from_millis(200),
        "{:?}",
        t.elapsed()
    );
    assert_eq!(
        info_field(&mut m, "replication", "master_failover_state"),
        "no-failover"
    );
    assert_eq!(role(&master), "master");
    // ABORT, while the replica still sleeps.
    assert_eq!(m.cmd(&["SET", "c", "1"]), "+OK\r\n");
    assert_eq!(m.cmd(&["FAILOVER"]), "+OK\r\n");
    assert_eq!(m.cmd(&["FAILOVER", "ABORT"]), "+OK\r\n");
    assert_eq!(
        info_field(&mut m, "replication", "master_failover_state"),
        "no-failover"
    );
    assert_eq!(m.cmd(&["SET", "d", "1"]), "+OK\r\n");
    assert_eq!(sleeper.join().unwrap(), "+OK\r\n");
    wait_synced(&master, &replica);
    assert_eq!(replica.raw().cmd(&["DBSIZE"]), ":4\r\n");
}

/// A replica's side of a full sync by hand: the handshake (with `capa eof` when `eof`),
/// `PSYNC ? -1`, then the reply and the payload. Returns the time to the `+FULLRESYNC`
/// reply, the payload's header line and the payload.
fn hand_full_sync(port: u16, eof: bool) -> (Duration, String, Vec<u8>) {
    use std::io::{BufRead, BufReader, Read, Write};
    let s = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    let mut r = BufReader::new(s.try_clone().unwrap());
    let mut w = &s;
    let mut line = String::new();
    let cmd = |w: &mut &std::net::TcpStream, args: &[&str]| {
        let argv: Vec<&[u8]> = args.iter().map(|a| a.as_bytes()).collect();
        let mut buf = Vec::new();
        resp::write_command(&mut buf, &argv);
        w.write_all(&buf).unwrap();
    };
    cmd(&mut w, &["REPLCONF", "listening-port", "1"]);
    r.read_line(&mut line).unwrap();
    assert_eq!(line, "+OK\r\n");
    if eof {
        cmd(&mut w, &["REPLCONF", "capa", "eof", "capa", "psync2"]);
        line.clear();
        r.read_line(&mut line).unwrap();
        assert_eq!(line, "+OK\r\n");
    }
    let t = Instant::now();
    cmd(&mut w, &["PSYNC", "?", "-1"]);
    // Newlines keep the link alive while the snapshot waits.
    let next = |r: &mut BufReader<std::net::TcpStream>| loop {
        let mut l = String::new();
        r.read_line(&mut l).unwrap();
        if l != "\n" {
            return l.trim_end().to_string();
        }
    };
    let reply = next(&mut r);
    let waited = t.elapsed();
    assert!(reply.starts_with("+FULLRESYNC "), "{reply}");
    let head = next(&mut r);
    let mut payload = Vec::new();
    match head.strip_prefix("$EOF:") {
        Some(mark) => {
            assert_eq!(mark.len(), 40);
            while !payload.ends_with(mark.as_bytes()) {
                let mut b = [0u8; 4096];
                let n = r.read(&mut b).unwrap();
                assert!(n > 0, "the master closed the link mid-payload");
                payload.extend_from_slice(&b[..n]);
            }
            payload.truncate(payload.len() - 40);
        }
        None => {
            let len: usize = head[1..].parse().unwrap();
            payload.resize(len, 0);
            r.read_exact(&mut payload).unwrap();
        }
    }
    assert!(payload.starts_with(b"REDIS"));
    (waited, head, payload)
}

/// repl-diskless-sync: a replica that takes `$EOF:` payloads gets one, after
/// repl-diskless-sync-delay (or as soon as repl-diskless-sync-max-replicas wait, sharing
/// one snapshot); a replica without `capa eof`, or the setting off, gets a sized payload
/// saved to the RDB file first. On the replica, repl-diskless-load disabled stores the
/// payload as its RDB file, swapdb does not.
#[test]
fn diskless_and_disk_based_full_syncs() {
    let master = Server::start_with(
        2,
        &[
            "--repl-diskless-sync-delay",
            "1",
            "--repl-diskless-sync-max-replicas",
            "2",
        ],
    );
    let mut m = master.raw();
    for i in 0..100 {
        m.cmd(&["SET", &format!("k{i}"), "v"]);
    }
    let port = master.port;
    // Alone: the delay passes first.
    let (waited, head, one) = hand_full_sync(port, true);
    assert!(waited >= Duration::from_millis(900), "{waited:?}");
    assert!(head.starts_with("$EOF:"), "{head}");
    // Two at once: the second starts the sync at once, both get the same image.
    let pair: Vec<_> = (0..2)
        .map(|_| std::thread::spawn(move || hand_full_sync(port, true)))
        .collect();
    let pair: Vec<_> = pair.into_iter().map(|h| h.join().unwrap()).collect();
    for (waited, head, payload) in &pair {
        assert!(*waited < Duration::from_millis(900), "{waited:?}");
        assert!(head.starts_with("$EOF:"));
        assert_eq!(payload.len(), one.len());
    }
    assert_eq!(pair[0].2, pair[1].2, "one snapshot for both");
    assert!(!master.dir.join("dump.rdb").exists());
    // Without capa eof: a sized payload, saved on disk.
    let (_, head, sized) = hand_full_sync(port, false);
    assert_eq!(head, format!("${}", sized.len()));
    assert!(master.dir.join("dump.rdb").exists());
    assert_eq!(num(&mut m, "persistence", "rdb_changes_since_last_save"), 0);
    std::fs::remove_file(master.dir.join("dump.rdb")).unwrap();
    assert_eq!(
        m.cmd(&["CONFIG", "SET", "repl-diskless-sync", "no"]),
        "+OK\r\n"
    );
    let (waited, head, _) = hand_full_sync(port, true);
    assert!(head.starts_with('$') && !head.starts_with("$EOF"), "{head}");
    assert!(waited < Duration::from_millis(900));
    assert!(master.dir.join("dump.rdb").exists());
    assert_eq!(
        m.cmd(&[
            "CONFIG",
            "SET",
            "repl-diskless-sync",
            "yes",
            "repl-diskless-sync-delay",
            "0"
        ]),
        "+OK\r\n"
    );

    // The replica's side: disabled stores the master's RDB, swapdb keeps it in memory only.
    for (mode, stored) in [
        ("disabled", true),
        ("swapdb", false),
        ("on-empty-db", false),
    ] {
        let replica = Server::start_with(1, &["--repl-diskless-load", mode]);
        attach(&replica, &master);
        assert_eq!(replica.raw().cmd(&["DBSIZE"]), ":100\r\n");
        assert_eq!(replica.dir.join("dump.rdb").exists(), stored, "{mode}");
    }
    // A redis-server replica takes percore's diskless payload.
    let redis = Server::redis();
    attach(&redis, &master);
    assert_eq!(redis.raw().cmd(&["DBSIZE"]), ":100\r\n");
}

/// A master played by the test: it answers the handshake, sends an empty RDB, then
/// `stream`, and keeps the link open until dropped.
struct FakeMaster {
    port: u16,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl FakeMaster {
    fn start(stream: Vec<u8>) -> FakeMaster {
        use std::io::{BufRead, BufReader, Write};
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let flag = stop.clone();
        let thread = std::thread::spawn(move || {
            let (s, _) = listener.accept().unwrap();
            s.set_read_timeout(Some(Duration::from_millis(200)))
                .unwrap();
            let mut r = BufReader::new(s.try_clone().unwrap());
            let mut w = &s;
            // Commands as RESP arrays: answer each by its name.
            loop {
                let mut line = String::new();
                if r.read_line(&mut line).is_err() || line.is_empty() {
                    return;
                }
                let n: usize = line.trim_end()[1..].parse().unwrap();
                let mut argv = Vec::new();
                for _ in 0..n {
                    let mut len = String::new();
                    r.read_line(&mut len).unwrap();
                    let mut arg = String::new();
                    r.read_line(&mut arg).unwrap();
                    argv.push(arg.trim_end().to_ascii_uppercase());
                }
                match argv[0].as_str() {
                    "PING" => w.write_all(b"+PONG\r\n").unwrap(),
                    "PSYNC" => {
                        let mut out = format!("+FULLRESYNC {} 0\r\n", "f".repeat(40)).into_bytes();
                        // An empty RDB: header, EOF, no checksum.
                        let rdb = b"REDIS0009\xff\0\0\0\0\0\0\0\0";
                        out.extend_from_slice(format!("${}\r\n", rdb.len()).as_bytes());
                        out.extend_from_slice(rdb);
                        out.extend_from_slice(&stream);
                        w.write_all(&out).unwrap();
                        break;
                    }
                    _ => w.write_all(b"+OK\r\n").unwrap(),
                }
            }
            // Read (and drop) the ACKs until told to stop.
            let mut sink = Vec::new();
            while !flag.load(std::sync::atomic::Ordering::Relaxed) {
                let _ = std::io::Read::read_to_end(&mut r, &mut sink);
                sink.clear();
            }
        });
        FakeMaster {
            port,
            stop,
            thread: Some(thread),
        }
    }
}

impl Drop for FakeMaster {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Commands the runtime runs across shards (RENAME, COPY, MSETNX, LMOVE), sent by the
/// master for keys whose TTL passed on the replica's clock but not on the master's: the
/// replica applies them as the master did (Redis' replicas let the master's commands see
/// such keys), so nothing diverges.
#[test]
fn master_commands_see_keys_the_replica_thinks_expired() {
    let past = (std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis()
        - 1000)
        .to_string();
    let mut stream = Vec::new();
    let mut cmd = |args: &[&str]| {
        let argv: Vec<&[u8]> = args.iter().map(|a| a.as_bytes()).collect();
        resp::write_command(&mut stream, &argv);
    };
    cmd(&["SELECT", "0"]);
    for i in 0..8 {
        let (src, dst, cp, list, nx) = (
            format!("src{i}"),
            format!("dst{i}"),
            format!("copy{i}"),
            format!("list{i}"),
            format!("nx{i}"),
        );
        cmd(&["SET", &src, "v"]);
        cmd(&["SET", &cp, "c"]);
        cmd(&["RPUSH", &list, "x"]);
        cmd(&["SET", &nx, "old"]);
        for k in [&src, &cp, &list, &nx] {
            cmd(&["PEXPIREAT", k, &past]);
        }
        // As the master saw them: the keys exist.
        cmd(&["RENAME", &src, &dst]);
        cmd(&["PERSIST", &dst]);
        cmd(&["COPY", &cp, &format!("{cp}-to")]);
        cmd(&["PERSIST", &format!("{cp}-to")]);
        cmd(&["LMOVE", &list, &format!("{list}-to"), "LEFT", "RIGHT"]);
        // The master's MSETNX failed (nx exists there): nothing set.
        cmd(&["MSETNX", &nx, "new", &format!("nx-other{i}"), "y"]);
        cmd(&["PERSIST", &nx]);
    }
    let master = FakeMaster::start(stream);
    let replica = percore(2);
    let mut r = replica.raw();
    assert_eq!(
        r.cmd(&["REPLICAOF", "127.0.0.1", &master.port.to_string()]),
        "+OK\r\n"
    );
    wait_for("the stream to be applied", || {
        r.cmd(&["EXISTS", "nx7"]) == ":1\r\n"
    });
    for i in 0..8 {
        assert_eq!(
            r.cmd(&["GET", &format!("dst{i}")]),
            "$1\r\nv\r\n",
            "RENAME {i}"
        );
        assert_eq!(
            r.cmd(&["GET", &format!("copy{i}-to")]),
            "$1\r\nc\r\n",
            "COPY {i}"
        );
        assert_eq!(
            r.cmd(&["LRANGE", &format!("list{i}-to"), "0", "-1"]),
            "*1\r\n$1\r\nx\r\n",
            "LMOVE {i}"
        );
        assert_eq!(
            r.cmd(&["GET", &format!("nx{i}")]),
            "$3\r\nold\r\n",
            "MSETNX {i}"
        );
        assert_eq!(
            r.cmd(&["EXISTS", &format!("nx-other{i}")]),
            ":0\r\n",
            "MSETNX {i}"
        );
    }
    drop(master);
}

/// Scripts on a read-only replica answer as redis-server's replica does: a write without
/// flags is refused when called (READONLY, with the script's place), pcall hands the
/// error back, a script declaring writes is refused before it runs, reads run.
#[test]
fn scripts_on_read_only_replicas_match_redis() {
    let master = redis_master(&[]);
    let ours = percore(2);
    let theirs = Server::redis();
    master.raw().cmd(&["SET", "x", "1"]);
    attach(&ours, &master);
    attach(&theirs, &master);
    let scripts = [
        "return redis.call('set','x','2')",
        "return redis.pcall('set','x','2')",
        "#!lua\nreturn redis.call('set','x','2')",
        "#!lua flags=no-writes\nreturn redis.call('get','x')",
        "return redis.call('get','x')",
        "redis.call('get','x') return redis.call('incr','x')",
    ];
    let (mut o, mut t) = (ours.raw(), theirs.raw());
    for s in scripts {
        assert_eq!(o.cmd(&["EVAL", s, "0"]), t.cmd(&["EVAL", s, "0"]), "{s}");
    }
    assert_eq!(o.cmd(&["GET", "x"]), "$1\r\n1\r\n");
}
