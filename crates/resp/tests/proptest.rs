//! Property tests: incremental parsing agrees with whole-buffer parsing, nothing panics,
//! and encoder output reads back.

use proptest::prelude::*;
use resp::{format_g17, parse_command, write_command, Limits, Parsed, Proto, Writer};

#[derive(Debug, Clone, PartialEq, Eq)]
enum Event {
    Command(Vec<Vec<u8>>),
    Error(&'static str),
    /// Stream ended with this many bytes of an unfinished command buffered.
    Pending(usize),
}

/// Feeds `data` in chunks ending at `cuts` (plus the end), the way a connection would:
/// append, then parse while commands come out, waiting for `needed` bytes after
/// `Incomplete`. Also checks the contract of every answer along the way.
fn feed(data: &[u8], cuts: &[usize], limits: &Limits) -> Vec<Event> {
    let mut bounds: Vec<usize> = cuts.iter().map(|&c| c.min(data.len())).collect();
    bounds.push(data.len());
    bounds.sort_unstable();

    let mut buf = Vec::new();
    let mut start = 0;
    let mut needed = 1;
    let mut args = Vec::new();
    let mut scratch = Vec::new();
    let mut events = Vec::new();
    let mut prev = 0;
    for &b in &bounds {
        buf.extend_from_slice(&data[prev..b]);
        prev = b;
        loop {
            let avail = buf.len() - start;
            if avail < needed {
                // The promise behind `needed`: below it the answer is still Incomplete.
                let r = parse_command(&buf[start..], limits, &mut args, &mut scratch);
                assert!(
                    matches!(r, Ok(Parsed::Incomplete { needed: n }) if n > avail),
                    "below needed={needed} with {avail} bytes: {r:?}"
                );
                break;
            }
            match parse_command(&buf[start..], limits, &mut args, &mut scratch) {
                Ok(Parsed::Command {
                    consumed,
                    inline_scratch,
                }) => {
                    assert!(consumed > 0 && consumed <= avail);
                    let src: &[u8] = if inline_scratch {
                        &scratch
                    } else {
                        &buf[start..start + consumed]
                    };
                    events.push(Event::Command(
                        args.iter().map(|a| a.slice(src).to_vec()).collect(),
                    ));
                    start += consumed;
                    needed = 1;
                }
                Ok(Parsed::Incomplete { needed: n }) => {
                    assert!(n > avail, "needed {n} <= available {avail}");
                    assert!(args.is_empty());
                    needed = n;
                    break;
                }
                Err(e) => {
                    assert!(args.is_empty());
                    events.push(Event::Error(e.0));
                    return events;
                }
            }
        }
    }
    if start < buf.len() {
        events.push(Event::Pending(buf.len() - start));
    }
    events
}

#[derive(Debug, Clone)]
enum Cmd {
    Multibulk(Vec<Vec<u8>>),
    InlinePlain(Vec<String>),
    InlineQuoted(Vec<Vec<u8>>),
}

impl Cmd {
    fn encode(&self, out: &mut Vec<u8>) {
        match self {
            Cmd::Multibulk(args) => {
                let refs: Vec<&[u8]> = args.iter().map(|a| a.as_slice()).collect();
                write_command(out, &refs);
            }
            Cmd::InlinePlain(words) => {
                out.extend_from_slice(words.join(" ").as_bytes());
                out.extend_from_slice(b"\r\n");
            }
            Cmd::InlineQuoted(args) => {
                for (i, a) in args.iter().enumerate() {
                    if i > 0 {
                        out.push(b' ');
                    }
                    out.push(b'"');
                    for &b in a {
                        if b.is_ascii_alphanumeric() || b == b' ' {
                            out.push(b);
                        } else {
                            out.extend_from_slice(format!("\\x{b:02x}").as_bytes());
                        }
                    }
                    out.push(b'"');
                }
                out.push(b'\n');
            }
        }
    }

    fn args(&self) -> Vec<Vec<u8>> {
        match self {
            Cmd::Multibulk(a) | Cmd::InlineQuoted(a) => a.clone(),
            Cmd::InlinePlain(w) => w.iter().map(|s| s.as_bytes().to_vec()).collect(),
        }
    }
}

fn cmd_strategy() -> impl Strategy<Value = Cmd> {
    let arg = prop_oneof![
        prop::collection::vec(any::<u8>(), 0..40),
        Just(Vec::new()),
        Just(b"\r\n".to_vec()),
        prop::collection::vec(any::<u8>(), 100..400),
    ];
    prop_oneof![
        4 => prop::collection::vec(arg.clone(), 0..6).prop_map(Cmd::Multibulk),
        1 => prop::collection::vec("[a-zA-Z0-9:_]{1,12}", 0..5).prop_map(Cmd::InlinePlain),
        1 => prop::collection::vec(prop::collection::vec(any::<u8>(), 0..20), 1..4)
            .prop_map(Cmd::InlineQuoted),
    ]
}

/// Bytes that look like protocol often enough to reach every branch of the parser.
fn protocolish() -> impl Strategy<Value = Vec<u8>> {
    let tok = prop_oneof![
        Just(b"*".to_vec()),
        Just(b"$".to_vec()),
        Just(b"\r\n".to_vec()),
        Just(b"\r".to_vec()),
        Just(b"\n".to_vec()),
        Just(b"\"".to_vec()),
        Just(b"'".to_vec()),
        Just(b"\\".to_vec()),
        Just(b"\\x4".to_vec()),
        Just(b" ".to_vec()),
        Just(b"\0".to_vec()),
        Just(b"-1".to_vec()),
        Just(b"0".to_vec()),
        "[0-9]{1,3}".prop_map(|s| s.into_bytes()),
        "[0-9]{18,25}".prop_map(|s| s.into_bytes()),
        "[a-z]{1,5}".prop_map(|s| s.into_bytes()),
        any::<u8>().prop_map(|b| vec![b]),
    ];
    prop_oneof![
        3 => prop::collection::vec(tok, 0..60).prop_map(|v| v.concat()),
        1 => prop::collection::vec(any::<u8>(), 0..200),
    ]
}

fn limits_strategy() -> impl Strategy<Value = Limits> {
    prop_oneof![
        Just(Limits::default()),
        (0usize..40, 0usize..10, 0usize..24).prop_map(|(b, m, i)| Limits {
            max_bulk_len: b,
            max_multibulk_len: m,
            max_inline_len: i,
        }),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn valid_commands_any_split(
        cmds in prop::collection::vec(cmd_strategy(), 0..12),
        cuts in prop::collection::vec(any::<prop::sample::Index>(), 0..20),
    ) {
        let mut data = Vec::new();
        for c in &cmds {
            c.encode(&mut data);
        }
        let cuts: Vec<usize> = cuts.iter().map(|i| i.index(data.len() + 1)).collect();
        let expected: Vec<Event> = cmds.iter().map(|c| Event::Command(c.args())).collect();
        let limits = Limits::default();
        prop_assert_eq!(feed(&data, &[], &limits), expected.clone());
        prop_assert_eq!(feed(&data, &cuts, &limits), expected);
    }

    #[test]
    fn byte_at_a_time_equals_whole(cmds in prop::collection::vec(cmd_strategy(), 0..4)) {
        let mut data = Vec::new();
        for c in &cmds {
            c.encode(&mut data);
        }
        let cuts: Vec<usize> = (0..data.len()).collect();
        let limits = Limits::default();
        prop_assert_eq!(feed(&data, &cuts, &limits), feed(&data, &[], &limits));
    }

    #[test]
    fn random_bytes_split_invariant(
        data in protocolish(),
        cuts in prop::collection::vec(any::<prop::sample::Index>(), 0..12),
        limits in limits_strategy(),
    ) {
        let cuts: Vec<usize> = cuts.iter().map(|i| i.index(data.len() + 1)).collect();
        let whole = feed(&data, &[], &limits);
        prop_assert_eq!(feed(&data, &cuts, &limits), whole.clone());
        let every: Vec<usize> = (0..data.len()).collect();
        prop_assert_eq!(feed(&data, &every, &limits), whole);
    }

    #[test]
    fn integer_roundtrip(v in any::<i64>(), resp3 in any::<bool>()) {
        let mut out = Vec::new();
        let proto = if resp3 { Proto::Resp3 } else { Proto::Resp2 };
        Writer::new(&mut out, proto).integer(v);
        let s = std::str::from_utf8(&out).unwrap();
        prop_assert!(s.starts_with(':') && s.ends_with("\r\n"));
        prop_assert_eq!(s[1..s.len() - 2].parse::<i64>().unwrap(), v);

        out.clear();
        Writer::new(&mut out, proto).bulk_int(v);
        let digits = v.to_string();
        prop_assert_eq!(out, format!("${}\r\n{}\r\n", digits.len(), digits).into_bytes());
    }

    #[test]
    fn bulk_roundtrip_through_parser(args in prop::collection::vec(prop::collection::vec(any::<u8>(), 0..64), 1..5)) {
        // Array header + bulks written by Writer form a command the parser reads back.
        let mut out = Vec::new();
        let mut w = Writer::new(&mut out, Proto::Resp2);
        w.array(args.len());
        for a in &args {
            w.bulk(a);
        }
        prop_assert_eq!(feed(&out, &[], &Limits::default()), vec![Event::Command(args)]);
    }

    #[test]
    fn g17_roundtrip(v in prop::num::f64::NORMAL | prop::num::f64::SUBNORMAL | prop::num::f64::ZERO) {
        let mut out = Vec::new();
        format_g17(v, &mut out);
        let s = std::str::from_utf8(&out).unwrap();
        prop_assert_eq!(s.parse::<f64>().unwrap().to_bits(), v.to_bits(), "{}", s);
    }
}

/// 3799 doubles (random bit patterns, decimals, integers, exact ties) with the output of
/// python3 `'%.17g' % x`, which matches glibc printf.
#[test]
fn g17_matches_c_reference() {
    let data = include_str!("data/g17.txt");
    let mut n = 0;
    for line in data.lines().filter(|l| !l.starts_with('#')) {
        let (bits, want) = line.split_once(' ').unwrap();
        let v = f64::from_bits(u64::from_str_radix(bits, 16).unwrap());
        let mut out = Vec::new();
        format_g17(v, &mut out);
        assert_eq!(std::str::from_utf8(&out).unwrap(), want, "bits {bits}");
        n += 1;
    }
    assert!(n > 3000);
}
