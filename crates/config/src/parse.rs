//! Byte-level helpers ported from Redis so quoting, numbers and units behave identically.

/// C's `isspace` in the "C" locale; Redis uses it to skip blanks between arguments.
fn is_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c)
}

fn hex_val(b: u8) -> Option<u8> {
    (b as char).to_digit(16).map(|v| v as u8)
}

/// Port of `sdssplitargs`: returns `None` on unbalanced quotes or a closing quote that is not
/// followed by a blank, which is when Redis reports "Unbalanced quotes in configuration line".
pub fn split_args(line: &[u8]) -> Option<Vec<Vec<u8>>> {
    let at = |i: usize| line.get(i).copied().unwrap_or(0);
    let mut args = Vec::new();
    let mut p = 0;
    loop {
        while p < line.len() && is_space(line[p]) {
            p += 1;
        }
        if p >= line.len() {
            return Some(args);
        }
        let (mut inq, mut insq) = (false, false);
        let mut cur = Vec::new();
        loop {
            let c = at(p);
            if inq {
                if c == b'\\' && at(p + 1) == b'x' {
                    if let (Some(h), Some(l)) = (hex_val(at(p + 2)), hex_val(at(p + 3))) {
                        cur.push(h * 16 + l);
                        p += 4;
                        continue;
                    }
                }
                if c == b'\\' && p + 1 < line.len() {
                    p += 1;
                    cur.push(match line[p] {
                        b'n' => b'\n',
                        b'r' => b'\r',
                        b't' => b'\t',
                        b'b' => 0x08,
                        b'a' => 0x07,
                        other => other,
                    });
                } else if c == b'"' {
                    if p + 1 < line.len() && !is_space(line[p + 1]) {
                        return None;
                    }
                    p += 1;
                    break;
                } else if p >= line.len() {
                    return None;
                } else {
                    cur.push(c);
                }
            } else if insq {
                if c == b'\\' && at(p + 1) == b'\'' {
                    p += 1;
                    cur.push(b'\'');
                } else if c == b'\'' {
                    if p + 1 < line.len() && !is_space(line[p + 1]) {
                        return None;
                    }
                    p += 1;
                    break;
                } else if p >= line.len() {
                    return None;
                } else {
                    cur.push(c);
                }
            } else if p >= line.len() || matches!(c, b' ' | b'\n' | b'\r' | b'\t' | 0) {
                // Redis treats a NUL like end of string, but here the line goes on, so only
                // end the token; the outer loop then sees whatever follows as a new one.
                p += 1;
                break;
            } else if c == b'"' {
                inq = true;
            } else if c == b'\'' {
                insq = true;
            } else {
                cur.push(c);
            }
            p += 1;
        }
        args.push(cur);
    }
}

/// Port of `sdscatrepr`: the quoting CONFIG REWRITE and the command-line translation use, which
/// `split_args` reads back to the same bytes.
pub(crate) fn repr(s: &[u8]) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for &b in s {
        match b {
            b'\\' => out.push_str("\\\\"),
            b'"' => out.push_str("\\\""),
            b'\n' => out.push_str("\\n"),
            b'\r' => out.push_str("\\r"),
            b'\t' => out.push_str("\\t"),
            0x07 => out.push_str("\\a"),
            0x08 => out.push_str("\\b"),
            0x20..=0x7e => out.push(b as char),
            _ => out.push_str(&format!("\\x{b:02x}")),
        }
    }
    out.push('"');
    out
}

/// Port of Redis' `string2ll`: strict, so "+1", " 1", "01" and "" are all rejected as they are
/// by redis-server.
pub(crate) fn string2ll(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    if b == b"0" {
        return Some(0);
    }
    let (neg, digits) = match b.first()? {
        b'-' => (true, &b[1..]),
        _ => (false, b),
    };
    match digits.first() {
        Some(b'1'..=b'9') => {}
        _ => return None,
    }
    if !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    // Parse as i128 so i64::MIN (whose magnitude overflows i64) is handled without a panic.
    let mag: i128 = std::str::from_utf8(digits).ok()?.parse().ok()?;
    let v = if neg { -mag } else { mag };
    i64::try_from(v).ok()
}

/// Parses a Redis memory value the way `memtoull` does: digits followed by an optional unit,
/// `b`, `k`=1000, `kb`=1024, `m`, `mb`, `g`, `gb`, case-insensitively. `None` on anything else,
/// including negatives and overflow.
pub fn parse_memory(s: &str) -> Option<u64> {
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (digits, unit) = s.split_at(split);
    let mul: u64 = match unit.to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" => 1000,
        "kb" => 1024,
        "m" => 1000 * 1000,
        "mb" => 1024 * 1024,
        "g" => 1000 * 1000 * 1000,
        "gb" => 1024 * 1024 * 1024,
        _ => return None,
    };
    if digits.is_empty() {
        return None;
    }
    digits.parse::<u64>().ok()?.checked_mul(mul)
}

/// Port of `rewriteConfigFormatMemory`: the largest binary unit that divides the value exactly.
pub(crate) fn format_memory(bytes: u64) -> String {
    const KB: u64 = 1024;
    const MB: u64 = KB * 1024;
    const GB: u64 = MB * 1024;
    match bytes {
        0 => "0".to_string(),
        b if b % GB == 0 => format!("{}gb", b / GB),
        b if b % MB == 0 => format!("{}mb", b / MB),
        b if b % KB == 0 => format!("{}kb", b / KB),
        b => b.to_string(),
    }
}

/// Shell-style glob (`*`, `?`, `[a-z]`, `[!x]`/`[^x]`, `\` escapes) used for `include` patterns.
pub(crate) fn glob_match(pat: &[u8], s: &[u8]) -> bool {
    // Iterative matcher with single backtrack point for `*`, so hostile patterns stay linear-ish
    // and cannot overflow the stack.
    let (mut p, mut i) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while i < s.len() {
        if p < pat.len() {
            match pat[p] {
                b'*' => {
                    star = Some((p, i));
                    p += 1;
                    continue;
                }
                b'?' => {
                    p += 1;
                    i += 1;
                    continue;
                }
                b'[' => {
                    if let Some((matched, next)) = match_class(pat, p, s[i]) {
                        if matched {
                            p = next;
                            i += 1;
                            continue;
                        }
                    } else if s[i] == b'[' {
                        // An unterminated class is a literal '[' as in glob(3).
                        p += 1;
                        i += 1;
                        continue;
                    }
                }
                b'\\' if p + 1 < pat.len() => {
                    if pat[p + 1] == s[i] {
                        p += 2;
                        i += 1;
                        continue;
                    }
                }
                c => {
                    if c == s[i] {
                        p += 1;
                        i += 1;
                        continue;
                    }
                }
            }
        }
        match star {
            Some((sp, si)) => {
                p = sp + 1;
                i = si + 1;
                star = Some((sp, si + 1));
            }
            None => return false,
        }
    }
    pat[p..].iter().all(|&c| c == b'*')
}

/// Matches `c` against the bracket expression starting at `pat[start] == '['`. Returns whether it
/// matched and the index after the closing `]`, or `None` when the class is unterminated.
fn match_class(pat: &[u8], start: usize, c: u8) -> Option<(bool, usize)> {
    let mut j = start + 1;
    let negate = matches!(pat.get(j), Some(b'!') | Some(b'^'));
    if negate {
        j += 1;
    }
    let mut matched = false;
    let mut first = true;
    loop {
        let lo = *pat.get(j)?;
        if lo == b']' && !first {
            return Some((matched != negate, j + 1));
        }
        first = false;
        if pat.get(j + 1) == Some(&b'-') && pat.get(j + 2).is_some_and(|&hi| hi != b']') {
            let hi = pat[j + 2];
            matched |= lo <= c && c <= hi;
            j += 3;
        } else {
            matched |= lo == c;
            j += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split(s: &str) -> Option<Vec<String>> {
        split_args(s.as_bytes()).map(|v| {
            v.into_iter()
                .map(|a| String::from_utf8_lossy(&a).into_owned())
                .collect()
        })
    }

    #[test]
    fn splits_like_sdssplitargs() {
        assert_eq!(split("a b  c").unwrap(), ["a", "b", "c"]);
        assert_eq!(split("  ").unwrap(), Vec::<String>::new());
        assert_eq!(split(r#"set "a b" 'c d'"#).unwrap(), ["set", "a b", "c d"]);
        assert_eq!(split(r#""\n\r\t\\\"\x41\x4a""#).unwrap(), ["\n\r\t\\\"AJ"]);
        assert_eq!(split(r#""\b\a\q""#).unwrap(), ["\u{8}\u{7}q"]);
        assert_eq!(split(r#"'it\'s' '\n'"#).unwrap(), ["it's", "\\n"]);
        assert_eq!(split(r#"foo"bar baz""#).unwrap(), ["foobar baz"]);
        assert_eq!(split(r#""" ''"#).unwrap(), ["", ""]);
        // \x with non-hex digits is just an escaped 'x'.
        assert_eq!(split(r#""\xzz""#).unwrap(), ["xzz"]);
        assert_eq!(split("\"\\xff\"").unwrap(), ["\u{fffd}"]);
    }

    #[test]
    fn rejects_unbalanced_quotes() {
        assert!(split(r#""abc"#).is_none());
        assert!(split("'abc").is_none());
        assert!(split(r#""abc"def"#).is_none());
        assert!(split("'abc'def").is_none());
        assert!(split(r#""abc\"#).is_none());
    }

    #[test]
    fn repr_roundtrips() {
        let raw: Vec<u8> = (0u8..=255).collect();
        let quoted = repr(&raw);
        assert_eq!(split_args(quoted.as_bytes()).unwrap(), vec![raw]);
        assert_eq!(repr(b"a\"b"), r#""a\"b""#);
    }

    #[test]
    fn strict_integers() {
        assert_eq!(string2ll("0"), Some(0));
        assert_eq!(string2ll("-12"), Some(-12));
        assert_eq!(string2ll("9223372036854775807"), Some(i64::MAX));
        assert_eq!(string2ll("-9223372036854775808"), Some(i64::MIN));
        for bad in [
            "",
            "-",
            "+1",
            " 1",
            "1 ",
            "01",
            "-0",
            "1.5",
            "9223372036854775808",
            "x",
        ] {
            assert_eq!(string2ll(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn memory_units() {
        assert_eq!(parse_memory("64mb"), Some(64 << 20));
        assert_eq!(parse_memory("1k"), Some(1000));
        assert_eq!(parse_memory("1KB"), Some(1024));
        assert_eq!(parse_memory("1m"), Some(1_000_000));
        assert_eq!(parse_memory("1Mb"), Some(1 << 20));
        assert_eq!(parse_memory("2g"), Some(2_000_000_000));
        assert_eq!(parse_memory("2gB"), Some(2 << 30));
        assert_eq!(parse_memory("100b"), Some(100));
        assert_eq!(parse_memory("123"), Some(123));
        for bad in [
            "",
            "kb",
            "-1",
            "1tb",
            "1.5gb",
            "1 kb",
            "99999999999999999999gb",
            "1kbb",
        ] {
            assert_eq!(parse_memory(bad), None, "{bad:?}");
        }
        assert_eq!(format_memory(0), "0");
        assert_eq!(format_memory(1 << 30), "1gb");
        assert_eq!(format_memory(512 << 20), "512mb");
        assert_eq!(format_memory(2048), "2kb");
        assert_eq!(format_memory(1000), "1000");
    }

    #[test]
    fn globbing() {
        assert!(glob_match(b"*.conf", b"a.conf"));
        assert!(!glob_match(b"*.conf", b"a.conf.bak"));
        assert!(glob_match(b"a?c", b"abc"));
        assert!(glob_match(b"[a-c]x", b"bx"));
        assert!(!glob_match(b"[!a-c]x", b"bx"));
        assert!(glob_match(b"[]]", b"]"));
        assert!(glob_match(b"[ab", b"[ab"));
        assert!(glob_match(b"\\*", b"*"));
        assert!(glob_match(b"**a*b*", b"xxaxxbxx"));
    }
}
