//! Engine hot path without any I/O: GET and SET on a shard holding 100k keys, the way the
//! runtime calls it (execute into a reply buffer). Keys rotate over 4096 spread-out keys so
//! the figures include the cache misses of a real keyspace, not one hot key.

use criterion::{black_box, criterion_group, criterion_main, Criterion};
use engine::{Args, Shard};
use resp::{Arg, Proto};

struct Cmds {
    buf: Vec<u8>,
    ranges: Vec<Vec<Arg>>,
}

/// `n` commands `name key:<i> [value]` over keys spread across the key space.
fn cmds(name: &[u8], value: Option<&[u8]>, n: u32) -> Cmds {
    let mut buf = Vec::new();
    let mut ranges = Vec::new();
    for i in 0..n {
        let key = format!("key:{:06}", (i as u64 * 7919) % 100_000);
        let mut words: Vec<&[u8]> = vec![name, key.as_bytes()];
        if let Some(v) = value {
            words.push(v);
        }
        let mut r = Vec::new();
        for w in words {
            let start = buf.len() as u32;
            buf.extend_from_slice(w);
            r.push(Arg {
                start,
                end: buf.len() as u32,
            });
        }
        ranges.push(r);
    }
    Cmds { buf, ranges }
}

fn run(c: &mut Criterion, label: &str, volatile: bool) {
    let mut shard = Shard::new(0, 16);
    let value = [b'x'; 32];
    for i in 0..100_000u32 {
        let key = format!("key:{i:06}");
        if volatile {
            shard.run(
                0,
                &[b"SET", key.as_bytes(), &value, b"EX", b"100000"],
                Proto::Resp2,
            );
        } else {
            shard.run(0, &[b"SET", key.as_bytes(), &value], Proto::Resp2);
        }
    }
    let get = engine::lookup(b"GET").unwrap();
    let set = engine::lookup(b"SET").unwrap();
    let gets = cmds(b"GET", None, 4096);
    let sets = cmds(b"SET", Some(&value), 4096);
    let mut out = Vec::with_capacity(1 << 16);
    let mut i = 0usize;
    c.bench_function(&format!("engine GET hit{label}"), |b| {
        b.iter(|| {
            out.clear();
            i = (i + 1) & 4095;
            let args = Args::new(&gets.buf, &gets.ranges[i]);
            shard.execute(get, get.handler().unwrap(), 0, args, &mut out, Proto::Resp2);
            black_box(&out);
        })
    });
    c.bench_function(&format!("engine SET overwrite 32B{label}"), |b| {
        b.iter(|| {
            out.clear();
            i = (i + 1) & 4095;
            let args = Args::new(&sets.buf, &sets.ranges[i]);
            shard.execute(set, set.handler().unwrap(), 0, args, &mut out, Proto::Resp2);
            black_box(&out);
        })
    });
}

/// A pipeline of 16 GETs of random keys among 1M (far more than the caches hold), run as the
/// runtime runs a read's commands: with and without `Shard::prefetch` of the batch first.
fn pipeline(c: &mut Criterion) {
    const KEYS: u64 = 1_000_000;
    const CMDS: usize = 1 << 16;
    let mut shard = Shard::new(0, 16);
    let value = [b'x'; 32];
    for i in 0..KEYS {
        shard.run(
            0,
            &[b"SET", format!("key:{i}").as_bytes(), &value],
            Proto::Resp2,
        );
    }
    let mut buf = Vec::new();
    let mut ranges = Vec::new();
    let mut rng = engine::dict::Rng::new(99);
    for _ in 0..CMDS {
        let key = format!("key:{}", rng.next_u64() % KEYS);
        let start = buf.len() as u32;
        buf.extend_from_slice(b"GET");
        let mid = buf.len() as u32;
        buf.extend_from_slice(key.as_bytes());
        ranges.push([
            Arg { start, end: mid },
            Arg {
                start: mid,
                end: buf.len() as u32,
            },
        ]);
    }
    let get = engine::lookup(b"GET").unwrap();
    let mut out = Vec::with_capacity(1 << 16);
    for prefetch in [false, true] {
        let mut at = 0usize;
        let label = if prefetch {
            "with prefetch"
        } else {
            "no prefetch"
        };
        c.bench_function(&format!("engine 16 GETs of 1M random keys, {label}"), |b| {
            b.iter(|| {
                out.clear();
                at = (at + 16) % CMDS;
                let batch = &ranges[at..at + 16];
                if prefetch {
                    let keys: Vec<&[u8]> = batch
                        .iter()
                        .map(|r| &buf[r[1].start as usize..r[1].end as usize])
                        .collect();
                    shard.prefetch(0, &keys);
                }
                for r in batch {
                    let args = Args::new(&buf, r);
                    shard.execute(get, get.handler().unwrap(), 0, args, &mut out, Proto::Resp2);
                }
                black_box(&out);
            })
        });
    }
}

/// What every command pays for INFO commandstats and latencystats (`Shard::count_call`):
/// its stat slot, counters and histogram, with latency-tracking on and off.
fn counting(c: &mut Criterion) {
    let get = engine::lookup(b"GET").unwrap();
    let cmd = cmds(b"GET", None, 1);
    let args = Args::new(&cmd.buf, &cmd.ranges[0]);
    for tracking in [true, false] {
        let mut shard = Shard::new(0, 16);
        shard.latency_tracking = tracking;
        let mut us = 0;
        c.bench_function(&format!("engine count_call, tracking {tracking}"), |b| {
            b.iter(|| {
                us = (us + 1) & 7;
                shard.count_call(get, args, black_box(us), b"$1\r\n1\r\n");
            })
        });
    }
}

fn bench(c: &mut Criterion) {
    counting(c);
    pipeline(c);
    run(c, "", false);
    // Every key has a TTL: each lookup must also check expiry.
    run(c, ", volatile db", true);
}

criterion_group!(benches, bench);
criterion_main!(benches);
