use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};
use resp::{parse_command, write_command, Limits, Parsed, Proto, Writer};

fn pipeline(set: bool) -> Vec<u8> {
    let mut buf = Vec::new();
    for i in 0..16 {
        let key = format!("key:{:06}", 123 + i);
        if set {
            write_command(&mut buf, &[b"SET", key.as_bytes(), &[b'v'; 32]]);
        } else {
            write_command(&mut buf, &[b"GET", key.as_bytes()]);
        }
    }
    buf
}

/// Parses every command of the pipeline, as the connection loop would.
fn parse_all(buf: &[u8], limits: &Limits, args: &mut Vec<resp::Arg>, scratch: &mut Vec<u8>) {
    let mut pos = 0;
    while pos < buf.len() {
        match parse_command(&buf[pos..], limits, args, scratch) {
            Ok(Parsed::Command { consumed, .. }) => {
                black_box(&*args);
                pos += consumed;
            }
            other => panic!("bench input must parse: {other:?}"),
        }
    }
}

fn bench(c: &mut Criterion) {
    let limits = Limits::default();
    let mut args = Vec::new();
    let mut scratch = Vec::new();

    let mut g = c.benchmark_group("parse");
    for (name, set) in [("set_pipeline_16", true), ("get_pipeline_16", false)] {
        let buf = pipeline(set);
        g.throughput(Throughput::Elements(16));
        g.bench_function(name, |b| {
            b.iter(|| parse_all(black_box(&buf), &limits, &mut args, &mut scratch))
        });
    }
    g.finish();

    let mut g = c.benchmark_group("encode");
    let value = [b'v'; 32];
    let mut out = Vec::with_capacity(4096);
    g.throughput(Throughput::Elements(16));
    g.bench_function("bulk_16", |b| {
        b.iter(|| {
            out.clear();
            let mut w = Writer::new(&mut out, Proto::Resp2);
            for _ in 0..16 {
                w.bulk(black_box(&value));
            }
            black_box(out.len());
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
