//! Cluster mode on one node, against redis-server 7.0 in cluster mode: the CLUSTER
//! command's replies and errors, the checks every keyed command passes (CROSSSLOT,
//! CLUSTERDOWN, the commands cluster mode refuses), MULTI/EXEC, nodes.conf written and
//! loaded (by percore and by redis-server), keys counted and listed per slot across shards.

use crate::harness::{info_field, Raw, Server};
use std::time::{Duration, Instant};

fn wait_for(what: &str, mut done: impl FnMut() -> bool) {
    let start = Instant::now();
    while !done() {
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "timed out waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn percore_node(shards: usize) -> Server {
    Server::start_with(shards, &["--cluster-enabled", "yes"])
}

fn redis_node() -> Server {
    Server::redis_with(&["--cluster-enabled", "yes"])
}

fn cluster_state(s: &Server) -> String {
    let info = s.raw().cmd(&["CLUSTER", "INFO"]);
    info.split("\r\n")
        .find_map(|l| l.strip_prefix("cluster_state:"))
        .unwrap_or_default()
        .to_string()
}

/// A reply with the node's own id and ports replaced, so two nodes' replies compare.
fn masked(s: &Server, reply: &str) -> String {
    let id = s.raw().cmd(&["CLUSTER", "MYID"]);
    let id = id.split("\r\n").nth(1).unwrap_or_default().to_string();
    let port = s.port.to_string();
    let cport = (s.port as u32 + 10000).to_string();
    reply
        .replace(&id, "<id>")
        .replace(&cport, "<cport>")
        .replace(&port, "<port>")
}

/// Runs each command on both nodes and compares the replies.
fn same_replies(ours: &Server, theirs: &Server, commands: &[&str]) {
    let (mut o, mut t) = (ours.raw(), theirs.raw());
    for line in commands {
        let argv: Vec<&str> = line.split(' ').collect();
        let a = masked(ours, &o.cmd(&argv));
        let b = masked(theirs, &t.cmd(&argv));
        assert_eq!(a, b, "reply to {line}");
    }
}

#[test]
fn one_node_cluster_matches_redis() {
    let ours = percore_node(2);
    let theirs = redis_node();
    assert_eq!(
        info_field(&mut ours.raw(), "cluster", "cluster_enabled"),
        "1"
    );
    assert_eq!(
        info_field(&mut ours.raw(), "server", "redis_mode"),
        "cluster"
    );
    // Before any slot is served.
    same_replies(
        &ours,
        &theirs,
        &[
            "CLUSTER NODES",
            "CLUSTER SLOTS",
            "CLUSTER SHARDS",
            "CLUSTER LINKS",
            "CLUSTER HELP",
            "CLUSTER KEYSLOT foo",
            "CLUSTER KEYSLOT {user}1",
            "CLUSTER COUNTKEYSINSLOT 0",
            "CLUSTER COUNTKEYSINSLOT abc",
            "CLUSTER COUNTKEYSINSLOT 16384",
            "CLUSTER GETKEYSINSLOT 0 10",
            "CLUSTER GETKEYSINSLOT 0 -1",
            "CLUSTER GETKEYSINSLOT x 1",
            "GET foo",
            "SET foo bar",
            "MSET a 1 b 2",
            "CLUSTER ADDSLOTS abc",
            "CLUSTER ADDSLOTS 5 5",
            "CLUSTER ADDSLOTS 16384",
            "CLUSTER ADDSLOTSRANGE 1 5 3 7",
            "CLUSTER ADDSLOTSRANGE 5 1",
            "CLUSTER ADDSLOTSRANGE 1 2 3",
            "CLUSTER DELSLOTS 5",
            "CLUSTER DELSLOTSRANGE 5 6",
            "CLUSTER FOO",
            "CLUSTER",
            "CLUSTER INFO extra",
            "CLUSTER MEET 1.2.3.4",
            "CLUSTER MEET nohost 7000",
            "CLUSTER MEET 127.0.0.1 x",
            "CLUSTER MEET 127.0.0.1 7000 y",
            "CLUSTER SETSLOT 5 MIGRATING x",
            "CLUSTER SETSLOT 5 IMPORTING x",
            "CLUSTER SETSLOT 5 NODE x",
            "CLUSTER SETSLOT 5 FOO",
            "CLUSTER SETSLOT 99999 STABLE",
            "CLUSTER SETSLOT 5 STABLE",
            "CLUSTER SET-CONFIG-EPOCH -1",
            "CLUSTER SET-CONFIG-EPOCH x",
            "CLUSTER FORGET abc",
            "CLUSTER REPLICATE abc",
            "CLUSTER REPLICAS abc",
            "CLUSTER COUNT-FAILURE-REPORTS abc",
            "CLUSTER FAILOVER",
            "CLUSTER FAILOVER x",
            "CLUSTER RESET x",
            "SELECT 1",
            "SELECT 0",
            "SELECT x",
            "SWAPDB 0 1",
            "REPLICAOF no one",
            "SLAVEOF 127.0.0.1 1",
            "FAILOVER",
            "ASKING",
            "READONLY",
            "READWRITE",
            "CLUSTER SET-CONFIG-EPOCH 5",
            "CLUSTER SET-CONFIG-EPOCH 6",
            "CLUSTER BUMPEPOCH",
            "CLUSTER ADDSLOTSRANGE 0 16383",
            "CLUSTER NODES",
            "CLUSTER SLOTS",
            "CLUSTER SHARDS",
        ],
    );
    let up = |s: &Server| cluster_state(s) == "ok";
    wait_for("both nodes' state to be ok", || up(&ours) && up(&theirs));
    same_replies(
        &ours,
        &theirs,
        &[
            "CLUSTER INFO",
            "SET foo bar",
            "MSET a 1 b 2",
            "MSET {a}1 1 {a}2 2",
            "MGET {a}1 {a}2",
            "CLUSTER COUNTKEYSINSLOT 15495",
            "MOVE foo 1",
            "COPY foo bar DB 1",
            "COPY foo {foo}x DB 1",
            "COPY foo {foo}x DB x",
            "COPY foo {foo}x",
            "SORT foo BY x*",
            "SORT foo GET #",
            "SORT foo BY nosort",
            "MIGRATE 127.0.0.1 1 foo 0 1000 KEYS a",
            "MIGRATE 127.0.0.1 1 nokey 0 1000",
            "MIGRATE 127.0.0.1 1 foo 0 x",
            "MIGRATE 127.0.0.1 1 foo x 1000",
            "MIGRATE 127.0.0.1 1 foo 0 1000 AUTH",
            "MIGRATE 127.0.0.1 1 foo 0 1000 BOGUS",
            "MIGRATE 127.0.0.1 1 foo 0 1000",
            "EVAL return 1 0",
            "EVAL return 1 2 a b",
            "EVAL return 1 2 {a}1 {a}2",
            "MULTI",
            "SET {a}1 x",
            "GET {a}2",
            "EXEC",
            "MULTI",
            "SET bar 1",
            "SET foo 1",
            "EXEC",
            "MULTI",
            "SET bar 1",
            "MSET bar 1 foo 2",
            "EXEC",
            "CLUSTER SETSLOT 5 IMPORTING abc",
            "CLUSTER BUMPEPOCH",
            "CLUSTER INFO",
            "CLUSTER DELSLOTSRANGE 0 100",
            "GET k596",
            "MGET k596 bar",
            "MGET bar k596",
            "GET bar",
            "CLUSTER INFO",
            "CLUSTER SLOTS",
            "CLUSTER NODES",
            "CLUSTER RESET",
            "FLUSHALL",
            "CLUSTER FLUSHSLOTS",
            "CLUSTER RESET",
            "CLUSTER SLOTS",
        ],
    );
    // Down, but reads allowed: writes get their own CLUSTERDOWN.
    for s in [&ours, &theirs] {
        let mut c = s.raw();
        assert_eq!(
            c.cmd(&["CLUSTER", "ADDSLOTSRANGE", "0", "16383"]),
            "+OK\r\n"
        );
        assert_eq!(c.cmd(&["CLUSTER", "DELSLOTS", "5"]), "+OK\r\n");
        assert_eq!(
            c.cmd(&["CONFIG", "SET", "cluster-allow-reads-when-down", "yes"]),
            "+OK\r\n"
        );
    }
    same_replies(&ours, &theirs, &["GET foo", "SET foo 1", "GET {5}"]);
}

/// nodes.conf: written at every change in Redis' format, loaded at start (same id, slots,
/// epochs), and readable by redis-server. Keys are counted and listed per slot wherever
/// their shard is.
#[test]
fn nodes_conf_and_keys_per_slot() {
    let ours = Server::start_with(
        4,
        &[
            "--cluster-enabled",
            "yes",
            "--cluster-require-full-coverage",
            "no",
        ],
    );
    let mut c = ours.raw();
    assert_eq!(
        c.cmd(&["CLUSTER", "ADDSLOTSRANGE", "0", "100", "200", "16383"]),
        "+OK\r\n"
    );
    assert_eq!(c.cmd(&["CLUSTER", "SET-CONFIG-EPOCH", "3"]), "+OK\r\n");
    let id = c.cmd(&["CLUSTER", "MYID"]);
    wait_for("state ok", || cluster_state(&ours) == "ok");
    // Keys in slots 101-199 are not served here.
    let mut stored = 200;
    for i in 0..200 {
        assert_eq!(c.cmd(&["SET", &format!("{{tag}}{i}"), "v"]), "+OK\r\n");
        match c.cmd(&["SET", &format!("k{i}"), "v"]).as_str() {
            "+OK\r\n" => stored += 1,
            e => assert_eq!(e, "-CLUSTERDOWN Hash slot not served\r\n"),
        }
    }
    assert!(stored > 390);
    let slot = c.cmd(&["CLUSTER", "KEYSLOT", "tag"]);
    let slot = slot.trim_start_matches(':').trim_end();
    assert_eq!(c.cmd(&["CLUSTER", "COUNTKEYSINSLOT", slot]), ":200\r\n");
    let listed = c.cmd(&["CLUSTER", "GETKEYSINSLOT", slot, "1000"]);
    assert!(listed.starts_with("*200\r\n"), "{listed}");
    assert_eq!(
        c.cmd(&["CLUSTER", "GETKEYSINSLOT", slot, "5"])
            .matches("{tag}")
            .count(),
        5
    );
    // Every key of every slot is counted once.
    let mut pipeline = Vec::new();
    for s in 0..16384 {
        let s = s.to_string();
        resp::write_command(
            &mut pipeline,
            &[b"CLUSTER", b"COUNTKEYSINSLOT", s.as_bytes()],
        );
    }
    c.send(&pipeline);
    let mut total = 0;
    for _ in 0..16384 {
        let n = c.read_reply();
        total += n
            .trim_start_matches(':')
            .trim_end()
            .parse::<usize>()
            .unwrap();
    }
    assert_eq!(total, stored);
    let conf = std::fs::read_to_string(ours.dir.join("nodes.conf")).unwrap();
    let id = id.split("\r\n").nth(1).unwrap().to_string();
    assert_eq!(
        conf,
        format!(
            "{id} :{}@{} myself,master - 0 0 3 connected 0-100 200-16383\nvars currentEpoch 3 lastVoteEpoch 0\n",
            ours.port,
            ours.port + 10000
        )
    );
    // redis-server loads percore's nodes.conf as its own.
    let dir = crate::harness::scratch_dir("redis-cluster-conf");
    std::fs::copy(ours.dir.join("nodes.conf"), dir.join("nodes.conf")).unwrap();
    let dir_arg = dir.display().to_string();
    let redis = Server::redis_with(&["--cluster-enabled", "yes", "--dir", &dir_arg]);
    let mut r = redis.raw();
    assert_eq!(r.cmd(&["CLUSTER", "MYID"]), format!("$40\r\n{id}\r\n"));
    assert!(r
        .cmd(&["CLUSTER", "NODES"])
        .contains(" 0 0 3 connected 0-100 200-16383\n"));
    drop(r);
    drop(redis);
    // percore restarted on its files: the same node, and its keys.
    let dir_arg = ours.dir.display().to_string();
    let port = ours.port.to_string();
    drop(c);
    // A clean stop saves the keys (the save points' SHUTDOWN).
    let mut ours = ours;
    ours.raw().cmd(&["SAVE"]);
    ours.terminate();
    assert!(ours.wait_exit(Duration::from_secs(10)).is_some());
    let again = Server::start_raw(
        &[
            "--port".into(),
            port.clone(),
            "--bind".into(),
            "127.0.0.1".into(),
            "--shards".into(),
            "2".into(),
            "--dir".into(),
            dir_arg,
            "--cluster-enabled".into(),
            "yes".into(),
            "--cluster-require-full-coverage".into(),
            "no".into(),
        ],
        port.parse().unwrap(),
    );
    let mut c: Raw = again.raw();
    assert_eq!(c.cmd(&["CLUSTER", "MYID"]), format!("$40\r\n{id}\r\n"));
    assert!(c
        .cmd(&["CLUSTER", "INFO"])
        .contains("cluster_current_epoch:3\r\n"));
    assert_eq!(c.cmd(&["CLUSTER", "COUNTKEYSINSLOT", slot]), ":200\r\n");
    assert_eq!(c.cmd(&["DBSIZE"]), format!(":{stored}\r\n"));
}

/// `redis-cli --cluster create` over these nodes, with `replicas` replicas per master, its
/// output.
fn redis_cli_create_with(nodes: &[&Server], replicas: usize) -> String {
    let mut args: Vec<String> = vec!["--cluster".into(), "create".into()];
    args.extend(nodes.iter().map(|n| format!("127.0.0.1:{}", n.port)));
    args.push("--cluster-replicas".into());
    args.push(replicas.to_string());
    args.push("--cluster-yes".into());
    let out = std::process::Command::new("redis-cli")
        .args(&args)
        .output()
        .expect("redis-cli (apt-get install -y redis-tools)");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// redis-cli's verdict on a cluster it made or checked: every node agrees, every slot is
/// served.
fn assert_clean(out: &str) {
    assert!(
        out.contains("[OK] All nodes agree about slots configuration.")
            && out.contains("[OK] All 16384 slots covered."),
        "{out}"
    );
}

fn redis_cli_create(nodes: &[&Server]) -> String {
    redis_cli_create_with(nodes, 0)
}

fn redis_cli_check(node: &Server) -> String {
    let out = std::process::Command::new("redis-cli")
        .args(["--cluster", "check", &format!("127.0.0.1:{}", node.port)])
        .output()
        .expect("redis-cli");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Writes and reads keys through redis-py's RedisCluster (which follows MOVED) from `port`.
fn cluster_client_round_trip(port: u16, keys: usize) {
    let script = format!(
        "from redis.cluster import RedisCluster\n\
         rc = RedisCluster(host='127.0.0.1', port={port})\n\
         for i in range({keys}): rc.set(f'key:{{i}}', i)\n\
         bad = [i for i in range({keys}) if int(rc.get(f'key:{{i}}')) != i]\n\
         print('bad', len(bad))\n"
    );
    let out = std::process::Command::new("python3")
        .args(["-c", &script])
        .output()
        .expect("python3 with redis-py (apt-get install -y python3-redis)");
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "bad 0",
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn bus_node(shards: usize) -> Server {
    Server::start_with(
        shards,
        &["--cluster-enabled", "yes", "--cluster-node-timeout", "2000"],
    )
}

/// The cluster's nodes all see every node and agree on the slots, and are up.
fn wait_agreed(nodes: &[&Server]) {
    wait_for("the nodes to agree", || {
        nodes.iter().all(|n| {
            let mut c = n.raw();
            let info = c.cmd(&["CLUSTER", "INFO"]);
            info.contains("cluster_state:ok\r\n")
                && info.contains(&format!("cluster_known_nodes:{}\r\n", nodes.len()))
        })
    });
}

/// Three percore nodes made a cluster by redis-cli through the real cluster bus: MEET,
/// the handshake, gossip and the slots each master claims; then MOVED between them and a
/// cluster client that follows it.
#[test]
fn redis_cli_creates_a_percore_cluster() {
    let nodes = [bus_node(1), bus_node(2), bus_node(1)];
    let refs: Vec<&Server> = nodes.iter().collect();
    assert_clean(&redis_cli_create(&refs));
    wait_agreed(&refs);
    let check = redis_cli_check(&nodes[1]);
    assert!(check.contains("[OK] All 16384 slots covered."), "{check}");
    // foo's slot (12182) is the third node's.
    let third = format!("-MOVED 12182 127.0.0.1:{}\r\n", nodes[2].port);
    assert_eq!(nodes[0].raw().cmd(&["SET", "foo", "bar"]), third);
    assert_eq!(nodes[2].raw().cmd(&["SET", "foo", "bar"]), "+OK\r\n");
    cluster_client_round_trip(nodes[0].port, 1000);
    // Every node holds its share, and no key sits on a node that does not serve its slot.
    for n in &nodes {
        let mut c = n.raw();
        let size: usize = c.cmd(&["DBSIZE"])[1..].trim().parse().unwrap();
        assert!(size > 200, "{size}");
    }
    // nodes.conf has every node.
    let conf = std::fs::read_to_string(nodes[0].dir.join("nodes.conf")).unwrap();
    assert_eq!(conf.lines().count(), 4, "{conf}");
    // 1000 slots resharded while a cluster client writes and reads: no write lost, no
    // error it does not retry on its own, the check clean after.
    let writer = Writer::start(nodes[2].port);
    reshard(&nodes[2], &nodes[0], &nodes[1], 1000);
    let written = writer.finish();
    for n in &refs {
        assert_clean(&redis_cli_check(n));
    }
    // create gave them 5461, 5462 and 5461 slots.
    let check = redis_cli_check(&nodes[0]);
    assert!(check.contains("(4461 slots) master"), "{check}");
    assert!(check.contains("(6462 slots) master"), "{check}");
    assert_written(nodes[0].port, written, 1000);
}

/// `memtier_benchmark --cluster-mode` against three percore nodes runs clean: every request
/// answered, none an error, the keys spread over the nodes. memtier_benchmark has no
/// Debian package: where it is not installed the test says so and checks nothing.
#[test]
fn memtier_cluster_mode_runs_clean() {
    if std::process::Command::new("memtier_benchmark")
        .arg("--version")
        .output()
        .is_err()
    {
        eprintln!("memtier_benchmark is not installed: not run (see scripts/bench.sh)");
        return;
    }
    let nodes = [bus_node(1), bus_node(2), bus_node(1)];
    let refs: Vec<&Server> = nodes.iter().collect();
    assert_clean(&redis_cli_create(&refs));
    wait_agreed(&refs);
    let port = nodes[0].port.to_string();
    let out = std::process::Command::new("memtier_benchmark")
        .args([
            "-s",
            "127.0.0.1",
            "-p",
            &port,
            "--cluster-mode",
            "--protocol",
            "redis",
        ])
        .args([
            "-t",
            "2",
            "-c",
            "5",
            "-n",
            "2000",
            "--ratio",
            "1:1",
            "--key-maximum",
            "10000",
        ])
        .args([
            "--hide-histogram",
            "--pipeline",
            "4",
            "--key-pattern",
            "P:P",
        ])
        .output()
        .expect("memtier_benchmark");
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert!(out.status.success(), "{stdout}\n{stderr}");
    let errors = stderr
        .lines()
        .chain(stdout.lines())
        .filter(|l| l.to_ascii_lowercase().contains("error"))
        .count();
    assert_eq!(errors, 0, "{stdout}\n{stderr}");
    // 2 threads x 5 clients x 2000 requests, half of them SETs; P:P gives each client its
    // own tenth of the 10000 keys, so all of them are written once. Counted by the nodes:
    // memtier's own "Totals" rate reads 0.00 when its threads' clocks disagree (seen on a
    // loaded CI machine with every request answered).
    let served: u64 = nodes
        .iter()
        .map(|n| {
            info_field(&mut n.raw(), "stats", "total_commands_processed")
                .parse::<u64>()
                .unwrap()
        })
        .sum();
    assert!(served >= 20_000, "{served} commands served\n{stdout}");
    let sizes: Vec<usize> = nodes
        .iter()
        .map(|n| n.raw().cmd(&["DBSIZE"])[1..].trim().parse().unwrap())
        .collect();
    let keys: usize = sizes.iter().sum();
    assert!(
        sizes.iter().all(|&s| s > 2500) && (9000..=10001).contains(&keys),
        "{sizes:?}\n{stdout}"
    );
}

/// percore nodes and redis-server nodes in one cluster, three of each, with a replica per
/// master wherever redis-cli puts them: the bus is Redis' own, byte for byte, both ways,
/// and replicas of either kind follow masters of either kind.
#[test]
fn mixed_cluster_with_redis_server_nodes() {
    let redis =
        || Server::redis_with(&["--cluster-enabled", "yes", "--cluster-node-timeout", "2000"]);
    let (a, b, c, d, e, f) = (
        bus_node(2),
        redis(),
        bus_node(1),
        redis(),
        bus_node(1),
        redis(),
    );
    let refs = [&a, &b, &c, &d, &e, &f];
    assert_clean(&redis_cli_create_with(&refs, 1));
    wait_agreed(&refs);
    wait_replicas_synced(&refs);
    for n in refs {
        assert_clean(&redis_cli_check(n));
    }
    cluster_client_round_trip(b.port, 1000);
    cluster_client_round_trip(a.port, 1000);
    // PUBLISH reaches subscribers on every node, across implementations.
    // A channel per round: a round's message still crossing the bus when the next round's
    // subscriber subscribes must not reach it.
    for (round, (sub_node, pub_node)) in [(&a, &b), (&d, &c), (&e, &a)].into_iter().enumerate() {
        let channel = format!("news{round}");
        let mut sub = sub_node.raw();
        assert_eq!(
            sub.cmd(&["SUBSCRIBE", &channel]),
            format!("*3\r\n$9\r\nsubscribe\r\n$5\r\n{channel}\r\n:1\r\n")
        );
        let msg = format!("from {}", pub_node.port);
        // Subscribers elsewhere are not counted (redis-server counts its own node's).
        assert_eq!(pub_node.raw().cmd(&["PUBLISH", &channel, &msg]), ":0\r\n");
        assert_eq!(
            sub.read_reply(),
            format!(
                "*3\r\n$7\r\nmessage\r\n$5\r\n{channel}\r\n${}\r\n{msg}\r\n",
                msg.len()
            )
        );
    }
    assert_spublish_reaches_replicas(&refs);
    // CLUSTER LINKS: a link to and one from each of the five others, on either kind.
    let ids: Vec<String> = refs.iter().map(|n| node_id(n)).collect();
    for (i, n) in refs.iter().enumerate() {
        wait_for("every link", || {
            let links = n.raw().cmd(&["CLUSTER", "LINKS"]);
            links.starts_with("*10\r\n")
                && links.matches("$2\r\nto\r\n").count() == 5
                && links.matches("$4\r\nfrom\r\n").count() == 5
                && ids
                    .iter()
                    .enumerate()
                    .all(|(j, id)| (j == i) == (links.matches(id.as_str()).count() == 0))
        });
    }
    // cluster-announce-hostname travels in the ping extension, both ways.
    for (n, name) in [(&a, "percore-a"), (&b, "redis-b")] {
        let set = n
            .raw()
            .cmd(&["CONFIG", "SET", "cluster-announce-hostname", name]);
        assert_eq!(set, "+OK\r\n");
    }
    wait_for("the hostnames", || {
        refs.iter().all(|n| {
            let text = n.raw().cmd(&["CLUSTER", "NODES"]);
            text.contains(",percore-a ") && text.contains(",redis-b ")
        })
    });
}

/// A master's port, its replica's port, the slot ranges the master serves.
type ShardOf = (u16, u16, Vec<(u16, u16)>);

/// Every master with a replica, from CLUSTER NODES.
fn shards_of(node: &Server) -> Vec<ShardOf> {
    let text = node.raw().cmd(&["CLUSTER", "NODES"]);
    let lines: Vec<Vec<&str>> = text
        .lines()
        .filter(|l| l.contains('@'))
        .map(|l| l.split(' ').collect())
        .collect();
    let port = |f: &[&str]| -> u16 { f[1].split(['@', ':']).nth(1).unwrap().parse().unwrap() };
    let mut out = Vec::new();
    for m in lines.iter().filter(|f| f[2].contains("master")) {
        let Some(r) = lines.iter().find(|f| f[3] == m[0]) else {
            continue;
        };
        let ranges = m[8..]
            .iter()
            .filter(|s| !s.starts_with('['))
            .map(|s| match s.split_once('-') {
                Some((a, b)) => (a.parse().unwrap(), b.parse().unwrap()),
                None => (s.parse().unwrap(), s.parse().unwrap()),
            })
            .collect();
        out.push((port(m), port(r), ranges));
    }
    out
}

/// SPUBLISH at each master reaches a subscriber on its replica (PUBLISHSHARD on the bus),
/// whichever implementation each end is.
fn assert_spublish_reaches_replicas(nodes: &[&Server]) {
    let by_port = |p: u16| *nodes.iter().find(|n| n.port == p).unwrap();
    let shards = shards_of(nodes[0]);
    assert_eq!(shards.len(), 3);
    for (master, replica, ranges) in shards {
        // A channel in this master's slots.
        let channel = (0..)
            .map(|i| format!("ch{i}"))
            .find(|ch| {
                let r = by_port(master).raw().cmd(&["CLUSTER", "KEYSLOT", ch]);
                let slot: u16 = r[1..].trim().parse().unwrap();
                ranges.iter().any(|&(a, b)| a <= slot && slot <= b)
            })
            .unwrap();
        let mut sub = by_port(replica).raw();
        let n = channel.len();
        assert_eq!(
            sub.cmd(&["SSUBSCRIBE", &channel]),
            format!("*3\r\n$10\r\nssubscribe\r\n${n}\r\n{channel}\r\n:1\r\n")
        );
        let msg = format!("from {master}");
        let published = by_port(master).raw().cmd(&["SPUBLISH", &channel, &msg]);
        assert_eq!(published, ":0\r\n");
        assert_eq!(
            sub.read_reply(),
            format!(
                "*3\r\n$8\r\nsmessage\r\n${n}\r\n{channel}\r\n${}\r\n{msg}\r\n",
                msg.len()
            )
        );
    }
}

/// Every replica's link to its master is up and has what the master sent.
fn wait_replicas_synced(nodes: &[&Server]) {
    let state = || {
        let view: Vec<String> = nodes
            .iter()
            .map(|n| {
                let mut c = n.raw();
                format!(
                    "{}: {} {}:{} {}",
                    n.port,
                    info_field(&mut c, "replication", "role"),
                    info_field(&mut c, "replication", "master_host"),
                    info_field(&mut c, "replication", "master_port"),
                    info_field(&mut c, "replication", "master_link_status")
                )
            })
            .collect();
        view.join("; ")
    };
    let start = Instant::now();
    while !nodes.iter().all(|n| {
        let mut c = n.raw();
        info_field(&mut c, "replication", "role") != "slave"
            || info_field(&mut c, "replication", "master_link_status") == "up"
    }) {
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "timed out waiting for the replicas to sync: {}",
            state()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// `redis-cli --cluster create` of six nodes with `--cluster-replicas 1`: three masters,
/// three replicas (CLUSTER REPLICATE, then replication from their masters); the writes of a
/// cluster client reach the replicas, which serve reads after READONLY and redirect
/// writes to their masters.
#[test]
fn six_nodes_with_replicas() {
    let nodes: Vec<Server> = (0..6).map(|i| bus_node(1 + i % 2)).collect();
    let refs: Vec<&Server> = nodes.iter().collect();
    assert_clean(&redis_cli_create_with(&refs, 1));
    wait_agreed(&refs);
    wait_replicas_synced(&refs);
    assert_clean(&redis_cli_check(&nodes[0]));
    cluster_client_round_trip(nodes[0].port, 500);
    let replicas: Vec<&Server> = refs
        .iter()
        .copied()
        .filter(|n| info_field(&mut n.raw(), "replication", "role") == "slave")
        .collect();
    assert_eq!(replicas.len(), 3);
    for r in replicas {
        let mut c = r.raw();
        let nodes_text = c.cmd(&["CLUSTER", "NODES"]);
        assert_eq!(nodes_text.matches("slave").count(), 3, "{nodes_text}");
        // Its master's keys arrive; reads are served after READONLY, writes redirected.
        wait_for("the replica's keys", || c.cmd(&["DBSIZE"]) != ":0\r\n");
        let keys = c.cmd(&["RANDOMKEY"]);
        let key = keys.split("\r\n").nth(1).unwrap().to_string();
        assert!(c.cmd(&["GET", &key]).starts_with("-MOVED "));
        assert_eq!(c.cmd(&["READONLY"]), "+OK\r\n");
        assert!(c.cmd(&["GET", &key]).starts_with('$'));
        assert!(c.cmd(&["SET", &key, "x"]).starts_with("-MOVED "));
    }
    // CLUSTER SLOTS lists each master's replica once its offset is known.
    wait_for("replicas in CLUSTER SLOTS", || {
        let slots = nodes[0].raw().cmd(&["CLUSTER", "SLOTS"]);
        // Three ranges of start, end, master and one replica.
        slots.matches("*4\r\n:").count() == 3
    });
    assert_spublish_reaches_replicas(&refs);
    assert_publish_reaches_every_node(&refs);
}

/// PUBLISH at each node reaches subscribers on every node (two per node, so on more than
/// one core where the node has two), in the order published; its reply counts the
/// publishing node's own subscribers only, as redis-server's does.
fn assert_publish_reaches_every_node(nodes: &[&Server]) {
    let mut subs: Vec<_> = nodes.iter().flat_map(|n| [n.raw(), n.raw()]).collect();
    for s in &mut subs {
        assert_eq!(
            s.cmd(&["SUBSCRIBE", "all"]),
            "*3\r\n$9\r\nsubscribe\r\n$3\r\nall\r\n:1\r\n"
        );
    }
    for n in nodes {
        let mut p = n.raw();
        for i in 0..3 {
            assert_eq!(
                p.cmd(&["PUBLISH", "all", &format!("{}-{i}", n.port)]),
                ":2\r\n"
            );
        }
    }
    // Each node's messages in its order; nodes' messages interleave as the links deliver.
    for s in &mut subs {
        let got: Vec<String> = (0..nodes.len() * 3)
            .map(|_| {
                let r = s.read_reply();
                r.rsplit("\r\n").nth(1).unwrap().to_string()
            })
            .collect();
        for n in nodes {
            let from: Vec<&String> = got
                .iter()
                .filter(|m| m.starts_with(&format!("{}-", n.port)))
                .collect();
            let want: Vec<String> = (0..3).map(|i| format!("{}-{i}", n.port)).collect();
            assert_eq!(from, want.iter().collect::<Vec<_>>(), "{got:?}");
        }
    }
}

/// A master of a six-node cluster is killed: the other masters flag it FAIL by majority,
/// its replica wins the election and serves its slots within the node timeout plus the
/// election, the cluster is up again, and a cluster client's keys are all there. The old
/// master, restarted, comes back as a replica of the new one.
#[test]
fn killed_master_is_replaced_by_its_replica() {
    let mut nodes: Vec<Server> = (0..6).map(|i| bus_node(1 + i % 2)).collect();
    let refs: Vec<&Server> = nodes.iter().collect();
    assert_clean(&redis_cli_create_with(&refs, 1));
    wait_agreed(&refs);
    wait_replicas_synced(&refs);
    cluster_client_round_trip(nodes[0].port, 300);
    // The first master, and its replica.
    let victim = (0..6)
        .find(|&i| info_field(&mut nodes[i].raw(), "replication", "role") == "master")
        .unwrap();
    let victim_id = nodes[victim].raw().cmd(&["CLUSTER", "MYID"]);
    let victim_id = victim_id.split("\r\n").nth(1).unwrap().to_string();
    let replica = (0..6)
        .find(|&i| {
            nodes[i]
                .raw()
                .cmd(&["CLUSTER", "NODES"])
                .lines()
                .any(|l| l.contains("myself,slave") && l.contains(&victim_id))
        })
        .unwrap();
    // Every write is on the replica before the kill.
    wait_for("the replica to have its master's writes", || {
        let (mut m, mut r) = (nodes[victim].raw(), nodes[replica].raw());
        info_field(&mut m, "replication", "master_repl_offset")
            == info_field(&mut r, "replication", "slave_repl_offset")
    });
    let started = Instant::now();
    nodes[victim].terminate();
    let _ = nodes[victim].wait_exit(Duration::from_secs(10));
    let survivors: Vec<&Server> = (0..6).filter(|&i| i != victim).map(|i| &nodes[i]).collect();
    wait_for("the replica to take over", || {
        let mut c = nodes[replica].raw();
        info_field(&mut c, "replication", "role") == "master"
            && c.cmd(&["CLUSTER", "INFO"]).contains("cluster_state:ok\r\n")
    });
    let took = started.elapsed();
    assert!(took < Duration::from_secs(15), "{took:?}");
    wait_for("every survivor to be up", || {
        survivors.iter().all(|n| cluster_state(n) == "ok")
    });
    for n in &survivors {
        let view = n.raw().cmd(&["CLUSTER", "NODES"]);
        let line = view.lines().find(|l| l.starts_with(&victim_id)).unwrap();
        assert!(line.contains("fail"), "{line}");
    }
    // Every key written before is still served (the killed master's by its replica).
    let script = format!(
        "from redis.cluster import RedisCluster\n\
         rc = RedisCluster(host='127.0.0.1', port={})\n\
         bad = [i for i in range(300) if rc.get(f'key:{{i}}') is None or int(rc.get(f'key:{{i}}')) != i]\n\
         print('bad', len(bad))\n",
        nodes[replica].port
    );
    let out = std::process::Command::new("python3")
        .args(["-c", &script])
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "bad 0");
    eprintln!("replica promoted in {took:?}");
    // The old master restarts on its files: it learns its slots moved with a greater
    // epoch and follows the new master.
    let port = nodes[victim].port;
    let dir = nodes[victim].dir.display().to_string();
    let back = Server::start_raw(
        &[
            "--port".into(),
            port.to_string(),
            "--bind".into(),
            "127.0.0.1".into(),
            "--dir".into(),
            dir,
            "--cluster-enabled".into(),
            "yes".into(),
            "--cluster-node-timeout".into(),
            "2000".into(),
        ],
        port,
    );
    wait_for("the old master to follow the new one", || {
        let mut c = back.raw();
        info_field(&mut c, "replication", "role") == "slave"
            && info_field(&mut c, "replication", "master_link_status") == "up"
            && info_field(&mut c, "replication", "master_port") == nodes[replica].port.to_string()
    });
    nodes.push(back);
}

fn node_id(n: &Server) -> String {
    let id = n.raw().cmd(&["CLUSTER", "MYID"]);
    id.split("\r\n").nth(1).unwrap().to_string()
}

/// `redis-cli --cluster reshard` of `slots` slots from `from` to `to`.
fn reshard(via: &Server, from: &Server, to: &Server, slots: usize) {
    let out = std::process::Command::new("redis-cli")
        .args([
            "--cluster",
            "reshard",
            &format!("127.0.0.1:{}", via.port),
            "--cluster-from",
            &node_id(from),
            "--cluster-to",
            &node_id(to),
            "--cluster-slots",
            &slots.to_string(),
            "--cluster-yes",
        ])
        .output()
        .expect("redis-cli");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success() && !text.contains("[ERR]"), "{text}");
}

/// Slots move both ways between redis-server and percore masters with `redis-cli --cluster
/// reshard` (MIGRATE, RESTORE-ASKING, SETSLOT), while a cluster client writes: no write it
/// was acknowledged is lost, it needs no retry of its own, and every key reads back.
#[test]
fn reshard_between_percore_and_redis_under_writes() {
    let redis =
        || Server::redis_with(&["--cluster-enabled", "yes", "--cluster-node-timeout", "2000"]);
    let (p1, r1, p2, r2) = (bus_node(2), redis(), bus_node(1), redis());
    let refs = [&p1, &r1, &p2, &r2];
    assert_clean(&redis_cli_create(&refs));
    wait_agreed(&refs);
    cluster_client_round_trip(p1.port, 2000);
    let writer = Writer::start(p2.port);
    reshard(&p1, &r1, &p1, 300);
    reshard(&r2, &p2, &r2, 300);
    let written = writer.finish();
    for n in refs {
        assert_clean(&redis_cli_check(n));
    }
    assert_written(r1.port, written, 2000);
}

/// A cluster client (redis-py's RedisCluster) writing `w:<i>` = i and reading it back in
/// the background until told to stop, counting the writes acknowledged; a wrong read or any
/// error it does not retry on its own ends it and fails `finish`.
struct Writer {
    child: std::process::Child,
    stop: std::path::PathBuf,
    out: std::io::BufReader<std::process::ChildStdout>,
}

impl Writer {
    fn start(port: u16) -> Writer {
        let stop = crate::harness::scratch_dir("writer-stop").join("stop");
        let script = format!(
            "import os\n\
             from redis.cluster import RedisCluster\n\
             rc = RedisCluster(host='127.0.0.1', port={port})\n\
             i = 0\n\
             while not os.path.exists('{}') and i < 200000:\n\
             \x20   rc.set(f'w:{{i}}', i)\n\
             \x20   got = rc.get(f'w:{{i}}')\n\
             \x20   if got is None or int(got) != i:\n\
             \x20       raise SystemExit(f'w:{{i}} read back as {{got}}')\n\
             \x20   i += 1\n\
             \x20   if i == 100:\n\
             \x20       print('ready', flush=True)\n\
             print(i)\n",
            stop.display()
        );
        let mut child = std::process::Command::new("python3")
            .args(["-c", &script])
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        // It is under way once its first 100 writes were acknowledged (on a loaded
        // machine, starting Python and the cluster client takes seconds).
        let mut out = std::io::BufReader::new(child.stdout.take().unwrap());
        let mut line = String::new();
        std::io::BufRead::read_line(&mut out, &mut line).unwrap();
        let mut writer = Writer { child, stop, out };
        if line.trim() != "ready" {
            let mut err = String::new();
            std::io::Read::read_to_string(writer.child.stderr.as_mut().unwrap(), &mut err).ok();
            panic!("writer did not start: {line} {err}");
        }
        writer
    }

    /// Stops it: how many writes were acknowledged (more than the first 100).
    fn finish(mut self) -> usize {
        std::fs::write(&self.stop, b"").unwrap();
        let mut text = String::new();
        std::io::Read::read_to_string(&mut self.out, &mut text).unwrap();
        let mut err = String::new();
        std::io::Read::read_to_string(self.child.stderr.as_mut().unwrap(), &mut err).ok();
        self.child.wait().unwrap();
        let written: usize = text
            .trim()
            .parse()
            .unwrap_or_else(|_| panic!("writer: {text} {err}"));
        assert!(written > 100, "{written}");
        written
    }
}

/// Every write a `Writer` had acknowledged, and the `key:<i>` of
/// `cluster_client_round_trip`, read back through a cluster client.
fn assert_written(port: u16, written: usize, keys: usize) {
    let script = format!(
        "from redis.cluster import RedisCluster\n\
         rc = RedisCluster(host='127.0.0.1', port={port})\n\
         bad = [i for i in range({written}) if rc.get(f'w:{{i}}') is None or int(rc.get(f'w:{{i}}')) != i]\n\
         bad += [i for i in range({keys}) if rc.get(f'key:{{i}}') is None or int(rc.get(f'key:{{i}}')) != i]\n\
         print('bad', len(bad))\n"
    );
    let out = std::process::Command::new("python3")
        .args(["-c", &script])
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "bad 0",
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn role(n: &Server) -> String {
    info_field(&mut n.raw(), "replication", "role")
}

/// CLUSTER FAILOVER at `replica` (with `option`): it becomes the master of `master`'s
/// slots, and `master` its replica, within a few seconds.
fn manual_failover(replica: &Server, master: &Server, option: Option<&str>) {
    let mut args = vec!["CLUSTER", "FAILOVER"];
    args.extend(option);
    assert_eq!(replica.raw().cmd(&args), "+OK\r\n");
    let started = Instant::now();
    wait_for("the replica to take over", || {
        role(replica) == "master" && role(master) == "slave"
    });
    assert!(
        started.elapsed() < Duration::from_secs(6),
        "{:?}",
        started.elapsed()
    );
}

/// CLUSTER FAILOVER between percore and redis-server nodes both ways, while a cluster
/// client writes: the default form (MFSTART, the master's writes paused until the replica
/// has its final offset, an election the masters vote in though the master is up), FORCE
/// and TAKEOVER; no acknowledged write is lost, the client needs no retry of its own, and
/// redis-cli's check is clean after.
#[test]
fn manual_failover_between_percore_and_redis() {
    let redis =
        || Server::redis_with(&["--cluster-enabled", "yes", "--cluster-node-timeout", "2000"]);
    // Masters p1, r1, p2; replicas r2 (of p1), p3 (of r1), p4 (of p2).
    let (p1, r1, p2) = (bus_node(2), redis(), bus_node(1));
    let (r2, p3, p4) = (redis(), bus_node(2), bus_node(1));
    let masters = [&p1, &r1, &p2];
    assert_clean(&redis_cli_create(&masters));
    for (replica, master) in [(&r2, &p1), (&p3, &r1), (&p4, &p2)] {
        let port = p1.port.to_string();
        assert_eq!(
            replica.raw().cmd(&["CLUSTER", "MEET", "127.0.0.1", &port]),
            "+OK\r\n"
        );
        let id = node_id(master);
        wait_for("the replica to know its master", || {
            replica.raw().cmd(&["CLUSTER", "NODES"]).contains(&id)
        });
        assert_eq!(replica.raw().cmd(&["CLUSTER", "REPLICATE", &id]), "+OK\r\n");
    }
    let refs = [&p1, &r1, &p2, &r2, &p3, &p4];
    wait_agreed(&refs);
    wait_replicas_synced(&refs);
    cluster_client_round_trip(p1.port, 1000);
    let writer = Writer::start(p2.port);
    // A redis-server replica takes over from a percore master, and a percore replica from
    // a redis-server master, under writes.
    manual_failover(&r2, &p1, None);
    manual_failover(&p3, &r1, None);
    let written = writer.finish();
    wait_agreed(&refs);
    wait_replicas_synced(&refs);
    for n in refs {
        assert_clean(&redis_cli_check(n));
    }
    assert_written(r2.port, written, 1000);
    // Between percore nodes: FORCE, then TAKEOVER back. Neither waits for the master's
    // last writes (Redis' FORCE loses what the replica had not received), so these run
    // once the replica has everything.
    let synced = |r: &Server, m: &Server| {
        let offset = |n: &Server| info_field(&mut n.raw(), "replication", "master_repl_offset");
        wait_for("the replica's offset", || offset(r) == offset(m));
    };
    synced(&p4, &p2);
    manual_failover(&p4, &p2, Some("FORCE"));
    wait_replicas_synced(&refs);
    synced(&p2, &p4);
    manual_failover(&p2, &p4, Some("TAKEOVER"));
    wait_agreed(&refs);
    wait_replicas_synced(&refs);
    assert_clean(&redis_cli_check(&p4));
    assert_written(p2.port, written, 1000);
    // The errors redis-server gives.
    assert_eq!(
        r2.raw().cmd(&["CLUSTER", "FAILOVER"]),
        "-ERR You should send CLUSTER FAILOVER to a replica\r\n"
    );
    assert_eq!(
        p1.raw().cmd(&["CLUSTER", "FAILOVER", "NOW"]),
        "-ERR syntax error\r\n"
    );
}

/// Replica migration: masters a (two replicas) and b (one); b's replica dies, and once b has
/// been orphaned for 5 s the replica of a with the smaller id moves to b
/// (cluster-migration-barrier 1 leaves a one). cluster-replica-no-failover shows as the
/// `nofailover` flag.
#[test]
fn replica_migrates_to_an_orphaned_master() {
    let (a, b) = (bus_node(2), bus_node(1));
    let (a1, a2) = (bus_node(1), bus_node(1));
    let b1 = bus_node(1);
    assert_eq!(
        a.raw().cmd(&["CLUSTER", "ADDSLOTSRANGE", "0", "8191"]),
        "+OK\r\n"
    );
    assert_eq!(
        b.raw().cmd(&["CLUSTER", "ADDSLOTSRANGE", "8192", "16383"]),
        "+OK\r\n"
    );
    let port = a.port.to_string();
    for n in [&b, &a1, &a2, &b1] {
        assert_eq!(
            n.raw().cmd(&["CLUSTER", "MEET", "127.0.0.1", &port]),
            "+OK\r\n"
        );
    }
    let all = [&a, &b, &a1, &a2, &b1];
    wait_agreed(&all);
    for (r, m) in [(&a1, &a), (&a2, &a), (&b1, &b)] {
        assert_eq!(
            r.raw().cmd(&["CLUSTER", "REPLICATE", &node_id(m)]),
            "+OK\r\n"
        );
    }
    wait_replicas_synced(&all);
    assert_eq!(
        a2.raw()
            .cmd(&["CONFIG", "SET", "cluster-replica-no-failover", "yes"]),
        "+OK\r\n"
    );
    assert!(a2
        .raw()
        .cmd(&["CLUSTER", "NODES"])
        .contains("myself,slave,nofailover"));
    let mover = if node_id(&a1) < node_id(&a2) {
        &a1
    } else {
        &a2
    };
    let stays = if std::ptr::eq(mover, &a1) { &a2 } else { &a1 };
    drop(b1);
    let started = Instant::now();
    wait_for("a replica of a to move to b", || {
        info_field(&mut mover.raw(), "replication", "master_port") == b.port.to_string()
    });
    // At least the 5 s of Redis' migration delay, after the node timeout's detection.
    assert!(
        started.elapsed() > Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(
        info_field(&mut stays.raw(), "replication", "master_port"),
        a.port.to_string()
    );
    wait_replicas_synced(&[&a, &b, &a1, &a2]);
    let b_id = node_id(&b);
    wait_for("every node to see the move", || {
        [&a, &b, stays].iter().all(|n| {
            n.raw()
                .cmd(&["CLUSTER", "NODES"])
                .lines()
                .any(|l| l.starts_with(&node_id(mover)) && l.contains(&b_id))
        })
    });
}

/// Scripts in cluster mode, reply for reply against redis-server (one node serving half the
/// slots, on two shards here): keys another node serves, undeclared keys of another slot,
/// the no-cluster and allow-cross-slot-keys flags, functions too.
#[test]
fn scripts_in_cluster_mode_match_redis() {
    let ours = percore_node(2);
    let theirs = redis_node();
    for s in [&ours, &theirs] {
        let set = ["CONFIG", "SET", "cluster-require-full-coverage", "no"];
        assert_eq!(s.raw().cmd(&set), "+OK\r\n");
        assert_eq!(
            s.raw().cmd(&["CLUSTER", "ADDSLOTSRANGE", "0", "8191"]),
            "+OK\r\n"
        );
        wait_for("the node to serve", || cluster_state(s) == "ok");
    }
    // Two keys this node serves in different slots, one it does not.
    let slot = |k: &str| -> u16 {
        let r = ours.raw().cmd(&["CLUSTER", "KEYSLOT", k]);
        r[1..].trim().parse().unwrap()
    };
    let keys: Vec<String> = (0..100).map(|i| format!("k{i}")).collect();
    let mine: Vec<&String> = keys.iter().filter(|k| slot(k) < 8192).collect();
    let (a, b) = (
        mine[0].as_str(),
        *mine.iter().find(|k| slot(k) != slot(mine[0])).unwrap(),
    );
    let far = keys.iter().find(|k| slot(k) >= 8192).unwrap().as_str();
    let get2 = "return {redis.call('get', KEYS[1]), redis.call('get', ARGV[1])}";
    let shebang_get2 = format!("#!lua\n{get2}");
    let cross = "#!lua flags=allow-cross-slot-keys\nreturn {redis.call('set', ARGV[1], 1), redis.call('set', ARGV[2], 2)}";
    let cases: Vec<Vec<&str>> = vec![
        vec!["SET", a, "1"],
        vec!["EVAL", "return redis.call('get', KEYS[1])", "1", a],
        vec!["EVAL", "return redis.call('get', ARGV[1])", "0", far],
        vec!["EVAL", "return redis.call('get', ARGV[1])", "0", a],
        vec!["EVAL", get2, "1", a, b],
        vec!["EVAL", get2, "1", a, a],
        vec!["EVAL", &shebang_get2, "1", a, b],
        vec!["EVAL", &shebang_get2, "1", a, a],
        vec!["EVAL", &shebang_get2, "0", a, b],
        vec!["EVAL", "return {redis.call('get', ARGV[1]), redis.call('get', ARGV[2])}", "0", a, b],
        vec!["EVAL", "#!lua flags=no-cluster\nreturn 1", "0"],
        vec!["EVAL", "#!lua\nreturn redis.call('get', ARGV[1])", "0", far],
        vec!["EVAL", cross, "0", a, b],
        vec!["EVAL", cross, "0", a, far],
        vec!["EVAL", "return redis.pcall('get', ARGV[1])", "0", far],
        vec!["FUNCTION", "LOAD", "#!lua name=lib\nredis.register_function{function_name='nc', callback=function() return 1 end, flags={'no-cluster'}}\nredis.register_function('g', function(k, a) return redis.call('get', a[1]) end)"],
        vec!["FCALL", "nc", "0"],
        vec!["FCALL", "g", "0", far],
        vec!["FCALL", "g", "1", a, b],
    ];
    let (mut o, mut t) = (ours.raw(), theirs.raw());
    for argv in &cases {
        assert_eq!(o.cmd(argv), t.cmd(argv), "reply to {argv:?}");
    }
}
