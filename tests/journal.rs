//! The journal is what redis-server would have written to its AOF: a shard's journal of
//! random writes, put in an appendonlydir as an increment file, is accepted by
//! redis-check-aof and loaded by redis-server, which then has the same DEBUG DIGEST.

use crate::harness::{which, Server};

#[path = "../crates/engine/tests/common/workload.rs"]
mod workload;

#[test]
fn redis_server_loads_the_journal_as_an_aof() {
    let Some(check) = which("redis-check-aof") else {
        panic!("redis-check-aof is not installed (apt-get install -y redis-tools)");
    };
    for seed in 1..=4u64 {
        let mut shard = engine::Shard::new(0, 16);
        shard.set_time(engine::shard::unix_ms());
        shard.journal.set_enabled(true);
        // Times long enough that nothing expires before redis-server has loaded it.
        let mut w = workload::Workload::new(seed, 8, "000");
        for _ in 0..400 {
            let line = w.line();
            let argv: Vec<&[u8]> = line.split(' ').map(str::as_bytes).collect();
            let db = w.below(3);
            shard.run(db, &argv, resp::Proto::Resp2);
        }
        let want = engine::digest::hex(&engine::digest::dataset(&shard.digest()));
        let dir = crate::harness::scratch_dir("journal-aof");
        let aof = dir.join("appendonlydir");
        std::fs::create_dir_all(&aof).unwrap();
        std::fs::write(aof.join("appendonly.aof.1.incr.aof"), shard.journal.take()).unwrap();
        let manifest = engine::aof::Manifest {
            files: vec![engine::aof::ManifestFile {
                name: "appendonly.aof.1.incr.aof".into(),
                seq: 1,
                kind: engine::aof::FileType::Incr,
                shard: None,
            }],
        };
        let manifest_path = aof.join("appendonly.aof.manifest");
        std::fs::write(&manifest_path, manifest.format()).unwrap();
        let out = std::process::Command::new(&check)
            .arg(&manifest_path)
            .output()
            .expect("redis-check-aof runs");
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success() && text.contains("is valid"),
            "seed {seed}: {text}"
        );
        let d = dir.display().to_string();
        let redis = Server::redis_with(&["--appendonly", "yes", "--dir", &d]);
        let got = redis.raw().cmd(&["DEBUG", "DIGEST"]);
        assert_eq!(got, format!("+{want}\r\n"), "seed {seed}");
    }
}
