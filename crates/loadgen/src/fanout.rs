//! The fan-out workload: `--subscribers` connections SUBSCRIBE to one channel and one
//! connection PUBLISHes to it (pipelined) for the run; every subscriber must receive every
//! message. Reports messages published and delivered per second.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

pub struct FanoutResult {
    pub published: u64,
    pub delivered: u64,
    pub seconds: f64,
    /// Messages some subscriber never got (a failure).
    pub missing: u64,
}

const CHANNEL: &[u8] = b"loadgen:fanout";
/// What every delivered message contains once: the message kind and the channel.
const MARK: &[u8] = b"$7\r\nmessage\r\n$14\r\nloadgen:fanout\r\n";

fn command(words: &[&[u8]]) -> Vec<u8> {
    let mut out = Vec::new();
    resp::write_command(&mut out, words);
    out
}

/// Counts MARK in a stream read in chunks (a mark may straddle two reads).
fn count_marks(stream: &mut TcpStream, stop: &AtomicBool, counter: &AtomicU64) {
    let mut buf = vec![0u8; 64 * 1024];
    let mut carry: Vec<u8> = Vec::new();
    loop {
        let n = match stream.read(&mut buf) {
            Ok(0) => return,
            Ok(n) => n,
            Err(e)
                if e.kind() == std::io::ErrorKind::WouldBlock
                    || e.kind() == std::io::ErrorKind::TimedOut =>
            {
                if stop.load(Ordering::Relaxed) {
                    return;
                }
                continue;
            }
            Err(_) => return,
        };
        carry.extend_from_slice(&buf[..n]);
        let mut found = 0;
        let mut i = 0;
        while let Some(p) = carry[i..].windows(MARK.len()).position(|w| w == MARK) {
            found += 1;
            i += p + MARK.len();
        }
        counter.fetch_add(found, Ordering::Relaxed);
        let keep = carry.len().saturating_sub(MARK.len() - 1).max(i);
        carry.drain(..keep);
    }
}

pub fn run(
    addr: std::net::SocketAddr,
    subscribers: usize,
    pipeline: usize,
    duration: Duration,
    size: usize,
) -> Result<FanoutResult, Box<dyn std::error::Error>> {
    let stop = Arc::new(AtomicBool::new(false));
    let mut readers = Vec::new();
    let mut counters = Vec::new();
    for _ in 0..subscribers {
        let mut s = TcpStream::connect(addr)?;
        s.set_nodelay(true)?;
        s.write_all(&command(&[b"SUBSCRIBE", CHANNEL]))?;
        // The confirmation: *3 subscribe loadgen:fanout :1.
        let mut confirm = [0u8; 256];
        let mut got = 0;
        while !confirm[..got].ends_with(b":1\r\n") {
            let n = s.read(&mut confirm[got..])?;
            if n == 0 {
                return Err("subscriber closed before confirming".into());
            }
            got += n;
        }
        s.set_read_timeout(Some(Duration::from_millis(200)))?;
        let counter = Arc::new(AtomicU64::new(0));
        counters.push(counter.clone());
        let stop = stop.clone();
        readers.push(std::thread::spawn(move || {
            count_marks(&mut s, &stop, &counter)
        }));
    }
    let mut publisher = TcpStream::connect(addr)?;
    publisher.set_nodelay(true)?;
    let payload = vec![b'x'; size];
    let batch: Vec<u8> = (0..pipeline)
        .flat_map(|_| command(&[b"PUBLISH", CHANNEL, &payload]))
        .collect();
    let mut reply = vec![0u8; 64 * 1024];
    let start = Instant::now();
    let mut published = 0u64;
    while start.elapsed() < duration {
        publisher.write_all(&batch)?;
        // Integer replies: count the lines.
        let mut lines = 0;
        while lines < pipeline {
            let n = publisher.read(&mut reply)?;
            if n == 0 {
                return Err("publisher connection closed".into());
            }
            lines += reply[..n].iter().filter(|&&b| b == b'\n').count();
        }
        published += pipeline as u64;
    }
    let want = published * subscribers as u64;
    // Wait (bounded) for the last messages to arrive.
    let deadline = Instant::now() + Duration::from_secs(10);
    let total = |c: &[Arc<AtomicU64>]| c.iter().map(|c| c.load(Ordering::Relaxed)).sum::<u64>();
    while total(&counters) < want && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(5));
    }
    let seconds = start.elapsed().as_secs_f64();
    let delivered = total(&counters);
    stop.store(true, Ordering::Relaxed);
    for r in readers {
        let _ = r.join();
    }
    Ok(FanoutResult {
        published,
        delivered,
        seconds,
        missing: want.saturating_sub(delivered),
    })
}
