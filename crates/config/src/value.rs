//! Validation of a directive's arguments into the canonical string CONFIG GET returns.
//!
//! Error strings are Redis 7.0's own, because clients and test suites match on them.

use crate::parse::{parse_memory, string2ll};
use crate::table::{Def, Kind};

/// Where a value comes from; `save` and `client-output-buffer-limit` accumulate differently.
pub(crate) enum Mode<'a> {
    /// Reading the file or command line: the first `save` line drops the defaults and later
    /// ones append, as in config.c's `save_loaded`.
    Load { save_loaded: &'a mut bool },
    /// CONFIG SET: the new value replaces the old one.
    Set,
}

type Res = Result<String, String>;

/// Validates `args` for `def` and returns the new canonical value. `current` is the value being
/// replaced (needed where Redis merges, e.g. per-class buffer limits).
pub(crate) fn apply(def: &Def, args: &[String], current: &str, mode: Mode<'_>) -> Res {
    if !def.kind.multi_arg() && args.len() != 1 {
        return Err("wrong number of arguments".into());
    }
    let one = args.first().map(String::as_str).unwrap_or("");
    match def.kind {
        Kind::Bool => parse_bool(one).map(|b| yes_no(b).to_string()),
        Kind::Int { min, max } => {
            let v = string2ll(one).ok_or("argument couldn't be parsed into an integer")?;
            check_bounds(v as i128, min, max)
        }
        Kind::Clamped { min, max, lo, hi } => {
            let v = string2ll(one).ok_or("argument couldn't be parsed into an integer")?;
            check_bounds(v as i128, min, max)?;
            // Redis treats hz as a hint and silently caps it (updateHZ).
            Ok((v as i128).clamp(lo, hi).to_string())
        }
        Kind::Mem { min, max } => {
            let v = parse_memory(one).ok_or("argument must be a memory value")?;
            check_bounds(v as i128, min, max)
        }
        Kind::MemPercent => parse_mem_percent(one),
        Kind::Octal { max } => {
            let v = parse_octal(one).ok_or("argument couldn't be parsed into an integer")?;
            if v > max {
                return Err(format!("argument must be between 0 and {max:o} inclusive"));
            }
            Ok(format!("{v:o}"))
        }
        Kind::Enum(names) => names
            .iter()
            .find(|n| n.eq_ignore_ascii_case(one))
            .map(|n| n.to_string())
            .ok_or_else(|| enum_error(names)),
        Kind::Flags(names) => parse_flags(names, args),
        Kind::Str => Ok(one.to_string()),
        Kind::BaseName(msg) => {
            if one.contains('/') || one.contains('\\') {
                Err(msg.to_string())
            } else {
                Ok(one.to_string())
            }
        }
        Kind::Dir => {
            // Redis reports chdir's error; an empty path is ENOENT there.
            match std::fs::metadata(one) {
                _ if one.is_empty() => Err("No such file or directory".into()),
                Ok(m) if m.is_dir() => Ok(one.to_string()),
                Ok(_) => Err("Not a directory".into()),
                Err(e) => Err(match e.kind() {
                    std::io::ErrorKind::NotFound => "No such file or directory".into(),
                    std::io::ErrorKind::PermissionDenied => "Permission denied".into(),
                    _ => e.to_string(),
                }),
            }
        }
        Kind::Save => parse_save(args, current, mode),
        Kind::Bind => {
            if args.len() > 16 {
                return Err("Too many bind addresses specified.".into());
            }
            if args.len() == 1 && args[0].is_empty() {
                return Ok(String::new());
            }
            Ok(args.join(" "))
        }
        Kind::ClientOutputBufferLimit => parse_cobl(args, current),
        Kind::OomScoreAdjValues => {
            if args.len() != 3 {
                return Err("wrong number of arguments".into());
            }
            let mut out = Vec::with_capacity(3);
            for a in args {
                match string2ll(a) {
                    Some(v) if (-2000..=2000).contains(&v) => out.push(v.to_string()),
                    _ => {
                        return Err("Invalid oom-score-adj-values, elements must be between \
                                    -2000 and 2000."
                            .into())
                    }
                }
            }
            Ok(out.join(" "))
        }
        Kind::NotifyKeyspaceEvents => parse_notify(one),
        Kind::ReplicaOf => {
            if args.len() != 2 {
                return Err("wrong number of arguments".into());
            }
            if args[0].eq_ignore_ascii_case("no") && args[1].eq_ignore_ascii_case("one") {
                return Ok(String::new());
            }
            match string2ll(&args[1]) {
                Some(p) if (0..=65535).contains(&p) => Ok(format!("{} {}", args[0], p)),
                _ => Err("Invalid master port".into()),
            }
        }
        Kind::Percentiles => {
            if args.len() == 1 && args[0].is_empty() {
                return Ok(String::new());
            }
            let mut out = Vec::with_capacity(args.len());
            for a in args {
                match a.parse::<f64>() {
                    Ok(v) if (0.0..=100.0).contains(&v) => out.push(v.to_string()),
                    Ok(_) => {
                        return Err(
                            "latency-tracking-info-percentiles should be between 0.0 and \
                                    100.0"
                                .into(),
                        )
                    }
                    Err(_) => {
                        return Err("Invalid latency-tracking-info-percentiles parameters".into())
                    }
                }
            }
            Ok(out.join(" "))
        }
    }
}

pub(crate) fn yes_no(b: bool) -> &'static str {
    if b {
        "yes"
    } else {
        "no"
    }
}

fn parse_bool(s: &str) -> Result<bool, String> {
    if s.eq_ignore_ascii_case("yes") {
        Ok(true)
    } else if s.eq_ignore_ascii_case("no") {
        Ok(false)
    } else {
        Err("argument must be 'yes' or 'no'".into())
    }
}

fn check_bounds(v: i128, min: i128, max: i128) -> Res {
    if v < min || v > max {
        Err(format!(
            "argument must be between {min} and {max} inclusive"
        ))
    } else {
        Ok(v.to_string())
    }
}

fn enum_error(names: &[&str]) -> String {
    format!(
        "argument(s) must be one of the following: {}",
        names.join(", ")
    )
}

/// `strtoll(s, &end, 8)` with the whole string consumed, as Redis parses OCTAL_CONFIG values.
fn parse_octal(s: &str) -> Option<i128> {
    if s.is_empty() || s.len() > 22 || !s.bytes().all(|b| (b'0'..=b'7').contains(&b)) {
        return None;
    }
    i128::from_str_radix(s, 8).ok()
}

fn parse_mem_percent(s: &str) -> Res {
    if let Some(num) = s.strip_suffix('%') {
        if !num.is_empty() {
            return match string2ll(num) {
                Some(v) if (0..=100).contains(&v) => Ok(format!("{v}%")),
                Some(v) if v > 100 => {
                    Err("percentage argument must be less or equal to 100".into())
                }
                _ => Err("argument must be a memory or percent value".into()),
            };
        }
    }
    let v = parse_memory(s).ok_or("argument must be a memory or percent value")?;
    check_bounds(v as i128, 0, i64::MAX as i128)
}

fn parse_flags(names: &[&str], args: &[String]) -> Res {
    if args.is_empty() {
        return Err(enum_error(names));
    }
    // names[0] is the "no flags" value; the rest are bits in table order.
    let mut bits = 0u32;
    for a in args {
        let i = names
            .iter()
            .position(|n| n.eq_ignore_ascii_case(a))
            .ok_or_else(|| enum_error(names))?;
        if i > 0 {
            bits |= 1 << i;
        }
    }
    if bits == 0 {
        return Ok(names[0].to_string());
    }
    let set: Vec<&str> = names
        .iter()
        .enumerate()
        .filter(|(i, _)| bits & (1 << i) != 0)
        .map(|(_, n)| *n)
        .collect();
    Ok(set.join(" "))
}

fn parse_save(args: &[String], current: &str, mode: Mode<'_>) -> Res {
    const ERR: &str = "Invalid save parameters";
    let args: &[String] = if args.len() == 1 && args[0].is_empty() {
        &[]
    } else {
        args
    };
    if !args.len().is_multiple_of(2) {
        return Err(ERR.into());
    }
    let mut pairs = Vec::with_capacity(args.len());
    for (j, a) in args.iter().enumerate() {
        let min = if j % 2 == 0 { 1 } else { 0 };
        match leading_int(a) {
            Some(v) if v >= min => pairs.push(v.to_string()),
            _ => return Err(ERR.into()),
        }
    }
    let explicit_reset = args.is_empty();
    let keep_current = match mode {
        Mode::Set => false,
        Mode::Load { save_loaded } => {
            let keep = *save_loaded;
            *save_loaded = true;
            keep && !explicit_reset
        }
    };
    let mut out: Vec<String> = Vec::new();
    if keep_current && !current.is_empty() {
        out.push(current.to_string());
    }
    out.extend(pairs.chunks(2).map(|p| p.join(" ")));
    Ok(out.join(" "))
}

/// `strtoll(s, &end, 10)` requiring the whole string: accepts a sign and leading zeros, which
/// Redis' save parser allows.
fn leading_int(s: &str) -> Option<i64> {
    let t = s.trim_start_matches(|c: char| c.is_ascii_whitespace());
    let digits = t.strip_prefix(['+', '-']).unwrap_or(t);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    t.parse::<i64>().ok()
}

fn parse_cobl(args: &[String], current: &str) -> Res {
    if args.is_empty() || !args.len().is_multiple_of(4) {
        return Err("Wrong number of arguments in buffer limit configuration.".into());
    }
    // Current limits per class, in the fixed order Redis renders them.
    let mut limits: [[u64; 3]; 3] = [
        [0, 0, 0],
        [268435456, 67108864, 60],
        [33554432, 8388608, 60],
    ];
    let cur: Vec<&str> = current.split_whitespace().collect();
    for chunk in cur.chunks(4) {
        if let [class, h, s, secs] = chunk {
            if let Some(i) = class_index(class) {
                let parsed = (h.parse(), s.parse(), secs.parse());
                if let (Ok(h), Ok(s), Ok(secs)) = parsed {
                    limits[i] = [h, s, secs];
                }
            }
        }
    }
    // Validate everything before changing anything, like setConfigClientOutputBufferLimitOption.
    let mut updates = Vec::new();
    for chunk in args.chunks(4) {
        let i = class_index(&chunk[0])
            .ok_or("Invalid client class specified in buffer limit configuration.")?;
        let bad = "Error in hard, soft or soft_seconds setting in buffer limit configuration.";
        let hard = parse_memory(&chunk[1]).ok_or(bad)?;
        let soft = parse_memory(&chunk[2]).ok_or(bad)?;
        let secs = leading_int(&chunk[3]).filter(|v| *v >= 0).ok_or(bad)?;
        updates.push((i, [hard, soft, secs as u64]));
    }
    for (i, l) in updates {
        limits[i] = l;
    }
    Ok(render_cobl(&limits))
}

pub(crate) const COBL_CLASSES: [&str; 3] = ["normal", "slave", "pubsub"];

fn class_index(name: &str) -> Option<usize> {
    match name.to_ascii_lowercase().as_str() {
        "normal" => Some(0),
        "slave" | "replica" => Some(1),
        "pubsub" => Some(2),
        _ => None,
    }
}

fn render_cobl(limits: &[[u64; 3]; 3]) -> String {
    COBL_CLASSES
        .iter()
        .zip(limits)
        .map(|(c, [h, s, secs])| format!("{c} {h} {s} {secs}"))
        .collect::<Vec<_>>()
        .join(" ")
}

/// Port of keyspaceEventsStringToFlags / keyspaceEventsFlagsToString.
fn parse_notify(s: &str) -> Res {
    const ORDER: &[u8] = b"g$lshzxetdn";
    // 'A' is an alias for all of these (not 'm', 'n', 'K', 'E').
    const ALL: &[u8] = b"g$lshzxetd";
    let mut set = [false; 128];
    for b in s.bytes() {
        match b {
            b'A' => ALL.iter().for_each(|&c| set[c as usize] = true),
            b'g' | b'$' | b'l' | b's' | b'h' | b'z' | b'x' | b'e' | b'K' | b'E' | b't' | b'm'
            | b'd' | b'n' => set[b as usize] = true,
            _ => return Err("Invalid event class character. Use 'Ag$lshzxeKEtmdn'.".into()),
        }
    }
    let mut out = String::new();
    if ALL.iter().all(|&c| set[c as usize]) {
        out.push('A');
        if set[b'n' as usize] {
            out.push('n');
        }
    } else {
        out.extend(
            ORDER
                .iter()
                .filter(|&&c| set[c as usize])
                .map(|&c| c as char),
        );
    }
    out.extend(
        b"KEm"
            .iter()
            .filter(|&&c| set[c as usize])
            .map(|&c| c as char),
    );
    Ok(out)
}

/// Parses a canonical `client-output-buffer-limit` value back into per-class triples, for
/// CONFIG REWRITE's one-line-per-class output.
pub(crate) fn cobl_classes(value: &str) -> Vec<(&str, [u64; 3])> {
    let parts: Vec<&str> = value.split_whitespace().collect();
    parts
        .chunks(4)
        .filter_map(|c| match c {
            [class, h, s, secs] => Some((
                *class,
                [h.parse().ok()?, s.parse().ok()?, secs.parse().ok()?],
            )),
            _ => None,
        })
        .collect()
}
