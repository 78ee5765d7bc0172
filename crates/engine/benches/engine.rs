//! Engine hot path without any I/O: GET and SET on a shard holding 100k keys, the way the
//! runtime calls it (command table lookup, arity, execute into a reply buffer).

use criterion::{black_box, criterion_group, criterion_main, Criterion};
use engine::{Args, Shard};
use resp::{Arg, Proto};

fn argv(words: &[&[u8]]) -> (Vec<u8>, Vec<Arg>) {
    let mut buf = Vec::new();
    let mut ranges = Vec::new();
    for w in words {
        let start = buf.len() as u32;
        buf.extend_from_slice(w);
        ranges.push(Arg {
            start,
            end: buf.len() as u32,
        });
    }
    (buf, ranges)
}

fn bench(c: &mut Criterion) {
    let mut shard = Shard::new(0, 16);
    let value = [b'x'; 32];
    for i in 0..100_000u32 {
        let key = format!("key:{i:06}");
        shard.run(0, &[b"SET", key.as_bytes(), &value], Proto::Resp2);
    }
    let get = engine::lookup(b"GET").unwrap();
    let set = engine::lookup(b"SET").unwrap();
    let (gbuf, granges) = argv(&[b"GET", b"key:012345"]);
    let (sbuf, sranges) = argv(&[b"SET", b"key:054321", &value]);
    let mut out = Vec::with_capacity(1 << 16);
    c.bench_function("engine GET hit (100k keys)", |b| {
        b.iter(|| {
            out.clear();
            let spec = engine::lookup(black_box(b"GET")).unwrap();
            shard.execute(
                spec,
                get.handler().unwrap(),
                0,
                Args::new(&gbuf, &granges),
                &mut out,
                Proto::Resp2,
            );
            black_box(&out);
        })
    });
    c.bench_function("engine SET overwrite 32B (100k keys)", |b| {
        b.iter(|| {
            out.clear();
            let spec = engine::lookup(black_box(b"SET")).unwrap();
            shard.execute(
                spec,
                set.handler().unwrap(),
                0,
                Args::new(&sbuf, &sranges),
                &mut out,
                Proto::Resp2,
            );
            black_box(&out);
        })
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
