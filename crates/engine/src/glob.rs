//! Redis' glob matching (util.c stringmatchlen): `*`, `?`, `[...]` with ranges and `^`
//! negation, and backslash escapes. Used by KEYS, SCAN MATCH and CONFIG GET.

pub fn matches(pattern: &[u8], s: &[u8], nocase: bool) -> bool {
    // Iterative with one backtrack point for the last `*`: linear in practice and, unlike the
    // recursive original, cannot blow the stack on a pattern of a thousand stars.
    let (mut p, mut i) = (0usize, 0usize);
    let mut star: Option<(usize, usize)> = None;
    while i < s.len() {
        if p < pattern.len() {
            match pattern[p] {
                b'*' => {
                    while p < pattern.len() && pattern[p] == b'*' {
                        p += 1;
                    }
                    if p == pattern.len() {
                        return true;
                    }
                    star = Some((p, i));
                    continue;
                }
                b'?' => {
                    p += 1;
                    i += 1;
                    continue;
                }
                b'[' => {
                    if let Some((matched, next)) = class(pattern, p, s[i], nocase) {
                        if matched {
                            p = next;
                            i += 1;
                            continue;
                        }
                    }
                }
                b'\\' if p + 1 < pattern.len() => {
                    if eq(pattern[p + 1], s[i], nocase) {
                        p += 2;
                        i += 1;
                        continue;
                    }
                }
                c => {
                    if eq(c, s[i], nocase) {
                        p += 1;
                        i += 1;
                        continue;
                    }
                }
            }
        }
        match star {
            Some((sp, si)) => {
                p = sp;
                i = si + 1;
                star = Some((sp, si + 1));
            }
            None => return false,
        }
    }
    pattern
        .get(p..)
        .unwrap_or_default()
        .iter()
        .all(|&c| c == b'*')
}

fn eq(a: u8, b: u8, nocase: bool) -> bool {
    if nocase {
        a.eq_ignore_ascii_case(&b)
    } else {
        a == b
    }
}

/// Matches `c` against the class starting at `pattern[start] == '['`. Returns whether it
/// matched and the index after the class. An unterminated class runs to the end of the
/// pattern, as in Redis.
fn class(pattern: &[u8], start: usize, c: u8, nocase: bool) -> Option<(bool, usize)> {
    let mut p = start + 1;
    let not = p < pattern.len() && pattern[p] == b'^';
    if not {
        p += 1;
    }
    let mut matched = false;
    loop {
        if p >= pattern.len() {
            // Redis treats the end of pattern as closing the class (and steps back one).
            break;
        }
        if pattern[p] == b'\\' && p + 1 < pattern.len() {
            p += 1;
            if pattern[p] == c {
                matched = true;
            }
        } else if pattern[p] == b']' {
            break;
        } else if p + 2 < pattern.len() && pattern[p + 1] == b'-' {
            let (mut lo, mut hi) = (pattern[p], pattern[p + 2]);
            if lo > hi {
                std::mem::swap(&mut lo, &mut hi);
            }
            let (mut cc, mut l, mut h) = (c, lo, hi);
            if nocase {
                cc = cc.to_ascii_lowercase();
                l = l.to_ascii_lowercase();
                h = h.to_ascii_lowercase();
            }
            if cc >= l && cc <= h {
                matched = true;
            }
            p += 2;
        } else if eq(pattern[p], c, nocase) {
            matched = true;
        }
        p += 1;
    }
    let matched = if not { !matched } else { matched };
    // Past an unterminated class the pattern is done (never past its end).
    Some((matched, (p + 1).min(pattern.len())))
}

/// DEBUG STRINGMATCH-TEST: `rounds` random patterns (made of the characters the matcher
/// treats specially) against random strings; it passes by not crashing or hanging.
pub fn fuzz(rounds: usize) {
    let mut rng = crate::dict::Rng::new(0x5eed ^ rounds as u64);
    const ALPHABET: &[u8] = b"ab*?[]^-\\";
    let word = |rng: &mut crate::dict::Rng| -> Vec<u8> {
        let len = (rng.next_u64() % 24) as usize;
        (0..len)
            .map(|_| ALPHABET[(rng.next_u64() % ALPHABET.len() as u64) as usize])
            .collect()
    };
    for _ in 0..rounds {
        let (p, s) = (word(&mut rng), word(&mut rng));
        std::hint::black_box(matches(&p, &s, rng.next_u64() & 1 == 0));
    }
}

#[cfg(test)]
mod tests {
    use super::matches;

    /// Unterminated classes and escapes at the end: answers, never a panic (a KEYS
    /// pattern of "[a" once took the core down).
    #[test]
    fn malformed_patterns_never_panic() {
        for p in ["[", "[a", "a[", "[^", "\\", "a\\", "[a-", "*[", "?[", "[\\"] {
            for s in ["", "a", "ab", "[", "\\"] {
                let _ = matches(p.as_bytes(), s.as_bytes(), false);
            }
        }
        assert!(matches(b"[a", b"a", false));
        super::fuzz(50_000);
    }

    #[test]
    fn redis_glob_cases() {
        let yes: &[(&str, &str)] = &[
            ("*", ""),
            ("*", "anything"),
            ("h?llo", "hello"),
            ("h*llo", "heeeello"),
            ("h[ae]llo", "hallo"),
            ("h[^e]llo", "hallo"),
            ("h[a-b]llo", "hbllo"),
            ("h[b-a]llo", "hallo"),
            ("key:\\*", "key:*"),
            ("*:*:*", "a:b:c"),
            ("a*b*c", "aXXbYYc"),
        ];
        for (p, s) in yes {
            assert!(matches(p.as_bytes(), s.as_bytes(), false), "{p} ~ {s}");
        }
        let no: &[(&str, &str)] = &[
            ("h[^e]llo", "hello"),
            ("h[ae]llo", "hillo"),
            ("h?llo", "hllo"),
            ("key:\\*", "key:a"),
            ("a*b", "aXc"),
            ("", "a"),
        ];
        for (p, s) in no {
            assert!(!matches(p.as_bytes(), s.as_bytes(), false), "{p} !~ {s}");
        }
        assert!(matches(b"HELLO", b"hello", true));
        let many_stars = "*".repeat(10_000) + "x";
        assert!(!matches(many_stars.as_bytes(), &[b'a'; 1000], false));
    }
}
