//! LATENCY. The latency monitor's spikes (commands over latency-monitor-threshold, as
//! "command" or "fast-command") are kept by the shard of the core that ran them
//! (`Shard::count_call`); LATEST, HISTORY, GRAPH and DOCTOR merge every core's series by
//! second, RESET clears them everywhere. HISTOGRAM merges the cores' per-command latency
//! histograms (latency-tracking).

use crate::conn::Conn;
use crate::core::calls;
use engine::cmdstats::{self, Monitor, Series};
use engine::{Args, Error};

/// Every core's spikes, merged.
async fn merged(c: &Conn) -> Monitor {
    let mut all = Monitor::default();
    for m in c.core.ask_all(|_| calls::LatencyEvents, None).await {
        all.merge(&m);
    }
    all
}

fn now() -> u64 {
    engine::shard::unix_ms() / 1000
}

pub async fn command(c: &mut Conn, args: Args<'_>) -> engine::Result<()> {
    let sub = String::from_utf8_lossy(args.get(1)).to_ascii_lowercase();
    let n = args.len();
    match (sub.as_str(), n) {
        ("latest", 2) => {
            let all = merged(c).await;
            let mut w = c.writer();
            w.array(all.events.len());
            for (name, s) in &all.events {
                let (time, ms) = s.samples.back().copied().unwrap_or_default();
                w.array(4);
                w.bulk(name.as_bytes());
                w.integer(time as i64);
                w.integer(ms as i64);
                w.integer(s.max as i64);
            }
        }
        ("history", 3) => {
            let all = merged(c).await;
            let name = String::from_utf8_lossy(args.get(2)).into_owned();
            let mut w = c.writer();
            match all.events.get(&name) {
                None => w.array(0),
                Some(s) => {
                    w.array(s.samples.len());
                    for &(t, ms) in &s.samples {
                        w.array(2);
                        w.integer(t as i64);
                        w.integer(ms as i64);
                    }
                }
            }
        }
        ("graph", 3) => {
            let all = merged(c).await;
            let name = String::from_utf8_lossy(args.get(2)).into_owned();
            let Some(s) = all.events.get(&name) else {
                return Err(Error::msg(format!(
                    "ERR No samples available for event '{name}'"
                )));
            };
            let text = graph(&name, s, now());
            c.writer().verbatim(text.as_bytes());
        }
        ("doctor", 2) => {
            let all = merged(c).await;
            let threshold = c.core.settings.get().latency_threshold_ms;
            let slowlog = c.core.settings.get().slowlog_threshold;
            let text = doctor(&all, threshold, slowlog, now());
            c.writer().verbatim(text.as_bytes());
        }
        ("reset", _) => {
            let events: Vec<Vec<u8>> = args.iter().skip(2).map(<[u8]>::to_vec).collect();
            let mut gone: Vec<String> = c
                .core
                .ask_all(|_| calls::LatencyReset(events.clone()), None)
                .await
                .into_iter()
                .flatten()
                .collect();
            gone.sort();
            gone.dedup();
            c.writer().integer(gone.len() as i64);
        }
        ("histogram", _) => {
            let call = |_| calls::Stats {
                histograms: true,
                ..Default::default()
            };
            let mut stats = cmdstats::CommandStats::default();
            for s in c.core.ask_all(call, None).await {
                if let Some(cs) = &s.cmdstats {
                    stats.merge(cs);
                }
            }
            let slots: Vec<usize> = if n == 2 {
                let mut v: Vec<(&str, usize)> = (0..cmdstats::slot_count())
                    .map(|i| (cmdstats::stat_name(i), i))
                    .collect();
                v.sort();
                v.into_iter().map(|(_, i)| i).collect()
            } else {
                args.iter()
                    .skip(2)
                    .flat_map(cmdstats::slots_of)
                    .collect()
            };
            let with: Vec<(usize, &cmdstats::Histogram)> = slots
                .into_iter()
                .filter_map(|i| Some((i, stats.get(i)?.hist.as_deref()?)))
                .collect();
            let mut w = c.writer();
            w.map(with.len());
            for (i, h) in with {
                w.bulk(cmdstats::stat_name(i).as_bytes());
                w.map(2);
                w.bulk(b"calls");
                w.integer(h.total() as i64);
                w.bulk(b"histogram_usec");
                let buckets = h.cumulative_micros();
                w.map(buckets.len());
                for (us, count) in buckets {
                    w.integer(us as i64);
                    w.integer(count as i64);
                }
            }
        }
        ("help", 2) => engine::cmd::keys::help_reply(
            &mut c.writer(),
            &[
                "LATENCY <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
                "DOCTOR",
                "    Return a human readable latency analysis report.",
                "GRAPH <event>",
                "    Return an ASCII latency graph for the <event> class.",
                "HISTORY <event>",
                "    Return time-latency samples for the <event> class.",
                "LATEST",
                "    Return the latest latency samples for all events.",
                "RESET [<event> ...]",
                "    Reset latency data of one or more <event> classes.",
                "    (default: reset all data for all event classes)",
                "HISTOGRAM [COMMAND ...]",
                "    Return a cumulative distribution of latencies in the format of a histogram for the specified command names.",
                "    If no commands are specified then all histograms are replied.",
                "HELP",
                "    Prints this help.",
            ],
        ),
        _ => {
            let known = engine::lookup(b"latency")
                .and_then(|spec| engine::table::subcommand_error(spec, args));
            return Err(Error::msg(known.unwrap_or_else(|| {
                format!(
                    "ERR unknown subcommand or wrong number of arguments for '{}'. Try LATENCY HELP.",
                    String::from_utf8_lossy(args.get(1))
                        .chars()
                        .take(128)
                        .collect::<String>()
                )
            })));
        }
    }
    Ok(())
}

/// How long ago, as the graph labels its samples: seconds, minutes, hours or days.
fn ago(secs: u64) -> String {
    match secs {
        s if s < 60 => format!("{s}s"),
        s if s < 3600 => format!("{}m", s / 60),
        s if s < 86400 => format!("{}h", s / 3600),
        s => format!("{}d", s / 86400),
    }
}

const GRAPH_COLS: usize = 80;
const GRAPH_ROWS: usize = 4;
const FILL: [u8; 3] = [b'_', b'o', b'#'];

/// LATENCY GRAPH: a title, a rule, and the samples as a filled sparkline four rows high
/// (three levels a row, '|' below the top of a column) with how long ago each was,
/// written downwards under it; 80 columns, wrapping to further blocks.
pub fn graph(event: &str, s: &Series, now: u64) -> String {
    let values: Vec<u64> = s.samples.iter().map(|&(_, l)| l).collect();
    let (min, max) = (
        values.iter().copied().min().unwrap_or(0),
        values.iter().copied().max().unwrap_or(0),
    );
    let mut out = format!(
        "{event} - high {max} ms, low {min} ms (all time high {} ms)\n{}\n",
        s.max,
        "-".repeat(GRAPH_COLS)
    );
    let labels: Vec<String> = s
        .samples
        .iter()
        .map(|&(t, _)| ago(now.saturating_sub(t)))
        .collect();
    let steps = (FILL.len() * GRAPH_ROWS) as f64;
    let range = match max - min {
        0 => 1.0,
        r => r as f64,
    };
    let step_of = |v: u64| -> usize {
        let s = (((v - min) as f64 * steps).trunc() / range) as usize;
        s.min(FILL.len() * GRAPH_ROWS - 1)
    };
    for (block, start) in (0..values.len()).step_by(GRAPH_COLS).enumerate() {
        if block > 0 {
            out.push('\n');
        }
        let end = (start + GRAPH_COLS).min(values.len());
        for row in 0..GRAPH_ROWS {
            let line: String = (start..end)
                .map(|j| {
                    let level =
                        step_of(values[j]) as i64 - ((GRAPH_ROWS - row - 1) * FILL.len()) as i64;
                    match level {
                        l if l < 0 => ' ',
                        l if (l as usize) < FILL.len() => FILL[l as usize] as char,
                        _ => '|',
                    }
                })
                .collect();
            out.push_str(&line);
            out.push('\n');
        }
        // One blank line, then the labels, a character a line.
        out.push_str(&" ".repeat(end - start));
        out.push('\n');
        let tallest = labels[start..end]
            .iter()
            .map(String::len)
            .max()
            .unwrap_or(0);
        for k in 0..tallest {
            let line: String = labels[start..end]
                .iter()
                .map(|l| l.as_bytes().get(k).map_or(' ', |&b| b as char))
                .collect();
            out.push_str(&line);
            out.push('\n');
        }
    }
    out
}

/// LATENCY DOCTOR: what the monitor saw, event by event, and what to look at.
pub fn doctor(all: &Monitor, threshold_ms: u64, slowlog_us: i64, now: u64) -> String {
    if all.events.is_empty() && threshold_ms == 0 {
        return "Latency monitoring is disabled in this percore instance. You may use \
                \"CONFIG SET latency-monitor-threshold <milliseconds>.\" in order to enable \
                it. See https://redis.io/topics/latency-monitor.\n"
            .into();
    }
    if all.events.is_empty() {
        return "No latency spike was observed during the lifetime of this instance \
                (latency-monitor-threshold is set), not in the slightest bit.\n"
            .into();
    }
    let mut out = String::from("Latency spikes were observed in this instance:\n\n");
    let mut advice = Vec::new();
    for (i, (name, s)) in all.events.iter().enumerate() {
        let n = s.samples.len() as u64;
        let avg = s.samples.iter().map(|&(_, l)| l).sum::<u64>() / n.max(1);
        let mad = s.samples.iter().map(|&(_, l)| l.abs_diff(avg)).sum::<u64>() / n.max(1);
        let oldest = s.samples.front().map_or(now, |&(t, _)| t);
        let period = now.saturating_sub(oldest).max(1);
        out.push_str(&format!(
            "{}. {name}: {n} latency spikes (average {avg}ms, mean deviation {mad}ms, period {:.2} sec). Worst all time event {}ms.\n",
            i + 1,
            period as f64 / n.max(1) as f64,
            s.max
        ));
        match name.as_str() {
            "command" => {
                if slowlog_us < 0 {
                    advice.push("Enable the slow log (slowlog-log-slower-than) to see which commands are slow.");
                } else if slowlog_us / 1000 > threshold_ms as i64 {
                    advice.push("Set slowlog-log-slower-than no higher than latency-monitor-threshold, so the slow log shows the commands behind these spikes.");
                }
                advice.push("Check SLOWLOG GET for the slow commands, and look for O(N) commands on large values (KEYS, SMEMBERS, LRANGE over long lists, DEL of big keys).");
            }
            "fast-command" => advice.push("O(1) and O(log N) commands ran slow: the machine may be overloaded or the process descheduled (check other processes and the hypervisor)."),
            _ => {}
        }
    }
    if !advice.is_empty() {
        out.push_str("\nI have a few advices for you:\n\n");
        for a in advice {
            out.push_str("- ");
            out.push_str(a);
            out.push('\n');
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn graph_draws_levels_and_labels() {
        let mut s = Series::default();
        s.add(100, 10);
        s.add(101, 40);
        s.add(150, 25);
        let g = graph("command", &s, 160);
        let lines: Vec<&str> = g.lines().collect();
        assert_eq!(
            lines[0],
            "command - high 40 ms, low 10 ms (all time high 40 ms)"
        );
        assert_eq!(lines[1].len(), 80);
        assert_eq!(&lines[2..6], [" # ", " |_", " ||", "_||"]);
        assert_eq!(&lines[6..], ["   ", "151", "m90", " ss"]);
    }

    #[test]
    fn doctor_names_each_event() {
        let mut m = Monitor::default();
        assert!(doctor(&m, 0, 10_000, 0).contains("disabled"));
        m.add("command", 10, 120);
        let d = doctor(&m, 100, 10_000, 20);
        assert!(
            d.contains("1. command: 1 latency spikes (average 120ms"),
            "{d}"
        );
        assert!(d.contains("SLOWLOG"), "{d}");
    }
}
