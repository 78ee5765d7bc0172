//! percore-loadgen: a closed-loop RESP2 load generator that checks every reply.
//!
//! Connections are split over `--threads` OS threads; each thread drives its connections with
//! non-blocking sockets and poll(2) (see `driver`). Values are a pure function of the key index
//! and `--value-size`, so every GET/MGET reply is checked byte for byte. Failures (error
//! replies, wrong values) are reported, excluded from throughput and make the exit code 1;
//! connection, protocol and timeout errors abort with exit code 2.

mod driver;
mod fanout;
mod keys;
mod reply;

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::process::ExitCode;
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use clap::Parser;

use driver::{ConnPlan, IoMode, Spec, WorkloadKind};
use keys::{KeyGen, KeyPattern};

#[derive(Parser, Debug)]
#[command(
    name = "percore-loadgen",
    version,
    about = "Closed-loop RESP load generator that checks every reply"
)]
struct Args {
    #[arg(long, default_value = "127.0.0.1")]
    host: String,
    #[arg(long, default_value_t = 6379)]
    port: u16,
    /// Connections in total
    #[arg(long, default_value_t = 50)]
    conns: usize,
    /// OS threads; each drives conns/threads connections with poll(2)
    #[arg(long, default_value_t = 1)]
    threads: usize,
    /// Commands sent per batch on each connection (closed loop: next batch after all replies)
    #[arg(long, default_value_t = 1)]
    pipeline: usize,
    /// GET:SET ratio for the getset workload
    #[arg(long, default_value = "10:1")]
    ratio: String,
    /// Key space: keys <prefix>0 .. <prefix>(keys-1)
    #[arg(long, default_value_t = 100_000)]
    keys: u64,
    #[arg(long, value_enum, default_value_t = KeyPattern::Uniform)]
    key_pattern: KeyPattern,
    #[arg(long, default_value = "key:")]
    key_prefix: String,
    /// Value size in bytes
    #[arg(long, default_value_t = 32)]
    value_size: usize,
    #[arg(long, value_enum, default_value_t = WorkloadKind::Getset)]
    workload: WorkloadKind,
    /// Subscribers for the fanout workload
    #[arg(long, default_value_t = 50)]
    subscribers: usize,
    /// Total commands to send [default: 100000 unless --duration is given]
    #[arg(long, conflicts_with = "duration")]
    requests: Option<u64>,
    /// Run for this many seconds instead of a fixed number of requests
    #[arg(long)]
    duration: Option<f64>,
    /// SET every key once (pipelined) before measuring; a nil GET is then a failure
    #[arg(long)]
    preload: bool,
    /// Print one CSV line of results
    #[arg(long)]
    csv: bool,
    /// With --csv, print the header line first
    #[arg(long)]
    csv_header: bool,
    /// Label for the results (e.g. the server's name)
    #[arg(long, default_value = "run")]
    label: String,
    /// Connect timeout and longest wait for a reply, in seconds
    #[arg(long, default_value_t = 10.0)]
    timeout: f64,
    /// Seed for the key choice
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// How each thread waits for its connections: epoll serves each one as its reply comes
    /// in (as memtier_benchmark and redis-benchmark do); poll sends each round's batches
    /// together, which a server sees as bursts and finds cheaper to serve
    #[arg(long, value_enum, default_value_t = IoMode::Epoll)]
    io: IoMode,
}

const CSV_HEADER: &str = "label,workload,conns,pipeline,ops,seconds,ops_per_sec,p50_us,p99_us,p999_us,max_us,failures,client_cpu_s";
/// SETs per round trip while preloading, and the most request bytes per round trip.
const PRELOAD_BATCH: u64 = 1000;
const PRELOAD_BYTES: usize = 1 << 20;
const MAX_DURATION_S: f64 = 24.0 * 3600.0;

fn parse_ratio(s: &str) -> Result<(u64, u64), String> {
    let (g, st) = s
        .split_once(':')
        .ok_or_else(|| format!("--ratio {s:?}: expected GET:SET, e.g. 10:1"))?;
    let g: u64 = g
        .trim()
        .parse()
        .map_err(|_| format!("--ratio {s:?}: bad GET part"))?;
    let st: u64 = st
        .trim()
        .parse()
        .map_err(|_| format!("--ratio {s:?}: bad SET part"))?;
    if g + st == 0 || g > 1_000_000 || st > 1_000_000 {
        return Err(format!(
            "--ratio {s:?}: parts must be 0..=1000000, not both 0"
        ));
    }
    Ok((g, st))
}

/// Client CPU time (user, system) of the whole process, in seconds.
fn cpu_times() -> (f64, f64) {
    // SAFETY: getrusage writes into the zeroed struct we own.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: RUSAGE_SELF with a valid pointer cannot fail.
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut ru) };
    let tv = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    (tv(ru.ru_utime), tv(ru.ru_stime))
}

fn connect(addrs: &[SocketAddr], timeout: Duration) -> io::Result<TcpStream> {
    let mut last = None;
    for a in addrs {
        match TcpStream::connect_timeout(a, timeout) {
            Ok(s) => {
                s.set_nodelay(true)?;
                return Ok(s);
            }
            Err(e) => last = Some(io::Error::new(e.kind(), format!("connect {a}: {e}"))),
        }
    }
    Err(last.unwrap_or_else(|| io::Error::other("no address to connect to")))
}

/// SETs every key once over one blocking connection, PRELOAD_BATCH per round trip.
fn preload(stream: &mut TcpStream, spec: &Spec, keys: u64) -> io::Result<()> {
    let mut out = Vec::new();
    let mut key = Vec::new();
    let mut val = Vec::new();
    let mut rbuf = vec![0u8; 64 * 1024];
    let mut idx = 0;
    while idx < keys {
        let mut n = 0;
        out.clear();
        while n < PRELOAD_BATCH && idx + n < keys && out.len() < PRELOAD_BYTES {
            let i = idx + n;
            n += 1;
            key.clear();
            val.clear();
            keys::write_key(&spec.prefix, i, &mut key);
            keys::write_value(i, spec.value_size, &mut val);
            resp::write_command(&mut out, &[b"SET", &key, &val]);
        }
        stream.write_all(&out)?;
        let (mut start, mut end, mut got) = (0, 0, 0);
        while got < n {
            while let Some((r, used)) = reply::parse(&rbuf[start..end])
                .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?
            {
                if r != reply::Reply::Simple(b"OK") {
                    return Err(io::Error::other(format!(
                        "preload SET {}: unexpected reply {r:?}",
                        idx + got
                    )));
                }
                start += used;
                got += 1;
            }
            if got == n {
                break;
            }
            rbuf.copy_within(start..end, 0);
            end -= start;
            start = 0;
            if end == rbuf.len() {
                rbuf.resize(rbuf.len() * 2, 0);
            }
            let r = stream.read(&mut rbuf[end..]).map_err(|e| {
                io::Error::new(e.kind(), format!("preload: waiting for replies: {e}"))
            })?;
            if r == 0 {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "preload: server closed the connection",
                ));
            }
            end += r;
        }
        idx += n;
    }
    Ok(())
}

fn main() -> ExitCode {
    let args = Args::parse();
    match run(&args) {
        Ok(failures) if failures > 0 => ExitCode::from(1),
        Ok(_) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("percore-loadgen: error: {e}");
            ExitCode::from(2)
        }
    }
}

/// The fanout workload: prints messages published and delivered per second (CSV:
/// label,published,delivered,seconds,published_per_sec,delivered_per_sec,missing).
fn run_fanout(args: &Args, duration: Duration) -> Result<u64, Box<dyn std::error::Error>> {
    if args.subscribers == 0 || args.subscribers > 10_000 {
        return Err("--subscribers must be in 1..=10000".into());
    }
    let addr = (args.host.as_str(), args.port)
        .to_socket_addrs()?
        .next()
        .ok_or("no address")?;
    let r = fanout::run(
        addr,
        args.subscribers,
        args.pipeline,
        duration,
        args.value_size,
    )?;
    let (pps, dps) = (
        r.published as f64 / r.seconds,
        r.delivered as f64 / r.seconds,
    );
    if args.csv {
        if args.csv_header {
            println!(
                "label,published,delivered,seconds,published_per_sec,delivered_per_sec,missing"
            );
        }
        println!(
            "{},{},{},{:.3},{:.0},{:.0},{}",
            args.label, r.published, r.delivered, r.seconds, pps, dps, r.missing
        );
    } else {
        println!(
            "{}: fanout to {} subscribers, pipeline {}, {} B messages\n  published {} ({:.0}/s), delivered {} ({:.0}/s) in {:.3} s, missing {}",
            args.label, args.subscribers, args.pipeline, args.value_size, r.published, pps,
            r.delivered, dps, r.seconds, r.missing
        );
    }
    Ok(r.missing)
}

fn run(args: &Args) -> Result<u64, Box<dyn std::error::Error>> {
    if args.conns == 0 || args.threads == 0 || args.pipeline == 0 || args.keys == 0 {
        return Err("--conns, --threads, --pipeline and --keys must be at least 1".into());
    }
    if args.conns > 10_000 || args.pipeline > 100_000 || args.value_size > 64 << 20 {
        return Err(
            "limits: --conns <= 10000, --pipeline <= 100000, --value-size <= 64 MiB".into(),
        );
    }
    if !(args.timeout > 0.0 && args.timeout <= 3600.0) {
        return Err("--timeout must be in (0, 3600] seconds".into());
    }
    let duration = match args.duration {
        Some(d) if !(d > 0.0 && d <= MAX_DURATION_S) => {
            return Err(format!("--duration must be in (0, {MAX_DURATION_S}] seconds").into())
        }
        d => d.map(Duration::from_secs_f64),
    };
    let requests = match (duration, args.requests) {
        (Some(_), _) => u64::MAX,
        (None, Some(0)) => return Err("--requests must be at least 1".into()),
        (None, r) => r.unwrap_or(100_000),
    };
    if args.workload == WorkloadKind::Fanout {
        return run_fanout(args, duration.unwrap_or(Duration::from_secs(3)));
    }
    let (ratio_get, ratio_set) = parse_ratio(&args.ratio)?;
    let threads = args.threads.min(args.conns);
    let timeout = Duration::from_secs_f64(args.timeout);
    let spec = Arc::new(Spec {
        kind: args.workload,
        ratio_get,
        ratio_set,
        keygen: KeyGen::new(args.key_pattern, args.keys),
        prefix: args.key_prefix.as_bytes().to_vec(),
        value_size: args.value_size,
        pipeline: args.pipeline,
        preloaded: args.preload,
        duration,
        timeout,
        seed: args.seed,
        io: args.io,
    });

    let addrs: Vec<SocketAddr> = (args.host.as_str(), args.port)
        .to_socket_addrs()
        .map_err(|e| format!("resolve {}:{}: {e}", args.host, args.port))?
        .collect();

    if args.preload {
        let t = Instant::now();
        let mut s = connect(&addrs, timeout)?;
        s.set_read_timeout(Some(timeout))?;
        s.set_write_timeout(Some(timeout))?;
        preload(&mut s, &spec, args.keys)?;
        eprintln!(
            "preloaded {} keys in {:.3} s",
            args.keys,
            t.elapsed().as_secs_f64()
        );
    }

    // Connect everything up front so connection errors surface before measuring.
    let mut per_thread: Vec<Vec<ConnPlan>> = (0..threads).map(|_| Vec::new()).collect();
    for id in 0..args.conns {
        let stream = connect(&addrs, timeout)?;
        let share = if requests == u64::MAX {
            u64::MAX
        } else {
            requests / args.conns as u64 + u64::from((id as u64) < requests % args.conns as u64)
        };
        per_thread[id % threads].push(ConnPlan {
            id,
            stream,
            requests: share,
        });
    }

    let barrier = Arc::new(Barrier::new(threads + 1));
    let handles: Vec<_> = per_thread
        .into_iter()
        .enumerate()
        .map(|(t, plans)| {
            let spec = spec.clone();
            let barrier = barrier.clone();
            std::thread::Builder::new()
                .name(format!("loadgen-{t}"))
                .spawn(move || driver::run_thread(spec, t, plans, barrier))
        })
        .collect::<Result<_, _>>()?;
    let (u0, s0) = cpu_times();
    barrier.wait();
    let mut results = Vec::new();
    let mut first_err = None;
    for h in handles {
        match h.join() {
            Ok(Ok(st)) => results.push(st),
            Ok(Err(e)) => {
                first_err.get_or_insert(e);
            }
            Err(_) => return Err("a load thread panicked".into()),
        }
    }
    let (u1, s1) = cpu_times();
    if let Some(e) = first_err {
        return Err(e.into());
    }

    let mut hist = driver::new_histogram();
    let (mut ok, mut failures) = (0u64, 0u64);
    let mut samples = Vec::new();
    let start = results.iter().map(|r| r.start).min().expect("one thread");
    let end = results.iter().map(|r| r.end).max().expect("one thread");
    for r in &results {
        hist.add(&r.hist)
            .map_err(|e| format!("merge histograms: {e:?}"))?;
        ok += r.ok;
        failures += r.failures;
        samples.extend(r.samples.iter().cloned());
    }
    let secs = end.duration_since(start).as_secs_f64().max(1e-9);
    let us = |q: f64| {
        if hist.is_empty() {
            0.0
        } else {
            hist.value_at_quantile(q) as f64 / 1000.0
        }
    };
    let (p50, p99, p999) = (us(0.5), us(0.99), us(0.999));
    let max = hist.max() as f64 / 1000.0;
    let ops_s = ok as f64 / secs;
    let (cu, cs) = (u1 - u0, s1 - s0);
    let cpu = cu + cs;

    for s in &samples {
        eprintln!("FAILURE {s}");
    }
    if failures > samples.len() as u64 {
        eprintln!("... {} failures in all", failures);
    }
    if args.csv {
        if args.csv_header {
            println!("{CSV_HEADER}");
        }
        println!(
            "{},{},{},{},{},{:.3},{:.0},{:.1},{:.1},{:.1},{:.1},{},{:.3}",
            csv_field(&args.label),
            spec.kind.name(),
            args.conns,
            args.pipeline,
            ok,
            secs,
            ops_s,
            p50,
            p99,
            p999,
            max,
            failures,
            cpu
        );
    } else {
        let workload = match spec.kind {
            WorkloadKind::Getset => format!("getset {}:{}", ratio_get, ratio_set),
            k => k.name().to_string(),
        };
        println!(
            "{}: {} conns={} threads={} pipeline={} keys={} pattern={:?} value-size={} preload={}",
            args.label,
            workload,
            args.conns,
            threads,
            args.pipeline,
            args.keys,
            args.key_pattern,
            args.value_size,
            if args.preload { "yes" } else { "no" }
        );
        println!("  ops        {ok} ok, {failures} failures in {secs:.3} s");
        println!("  throughput {ops_s:.0} ops/s");
        println!("  latency us p50 {p50:.1}  p99 {p99:.1}  p99.9 {p999:.1}  max {max:.1}");
        println!(
            "  client cpu {cpu:.3} s (user {cu:.3}, sys {cs:.3}) = {:.2} cores, {:.2} us/op",
            cpu / secs,
            if ok + failures > 0 {
                cpu * 1e6 / (ok + failures) as f64
            } else {
                0.0
            }
        );
    }
    Ok(failures)
}

/// Quotes a CSV field if it needs it.
fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ratios() {
        assert_eq!(parse_ratio("10:1"), Ok((10, 1)));
        assert_eq!(parse_ratio("0:1"), Ok((0, 1)));
        assert_eq!(parse_ratio("1:0"), Ok((1, 0)));
        assert!(parse_ratio("0:0").is_err());
        assert!(parse_ratio("10").is_err());
        assert!(parse_ratio("a:1").is_err());
    }

    #[test]
    fn cli_defaults() {
        let a = Args::parse_from(["percore-loadgen"]);
        assert_eq!(
            (a.conns, a.threads, a.pipeline, a.keys),
            (50, 1, 1, 100_000)
        );
        assert_eq!(a.requests, None);
        assert_eq!(a.workload, WorkloadKind::Getset);
        assert!(Args::try_parse_from(["x", "--requests", "5", "--duration", "1"]).is_err());
        let b = Args::parse_from(["x", "--workload", "mget", "--key-pattern", "gaussian"]);
        assert_eq!(b.workload, WorkloadKind::Mget);
        assert_eq!(b.key_pattern, KeyPattern::Gaussian);
    }

    #[test]
    fn csv_quoting() {
        assert_eq!(csv_field("redis"), "redis");
        assert_eq!(csv_field("a,b"), "\"a,b\"");
        assert_eq!(csv_field("a\"b"), "\"a\"\"b\"");
    }
}
