//! What SLOWLOG keeps of a command that ran longer than slowlog-log-slower-than: its
//! arguments trimmed as Redis 7.0 trims them (32 at most, the last saying how many more;
//! each 128 bytes at most, saying how many more bytes), when it ran and how long. The shard
//! records those it runs (`Shard::execute`); the runtime adds the client and keeps the log.

use crate::args::Args;

/// Arguments kept per entry (Redis' SLOWLOG_ENTRY_MAX_ARGC).
pub const MAX_ARGC: usize = 32;
/// Bytes kept per argument (SLOWLOG_ENTRY_MAX_STRING).
pub const MAX_STRING: usize = 128;

/// One slow command, before the runtime knows whose it was.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Record {
    /// Unix seconds when it ran.
    pub time: u64,
    pub micros: u64,
    pub argv: Vec<Vec<u8>>,
}

/// `args` as a slow log entry keeps them.
pub fn trimmed(args: Args) -> Vec<Vec<u8>> {
    let words: Vec<&[u8]> = args.iter().collect();
    trimmed_words(&words)
}

/// `trimmed` over plain words (the runtime's redacted copies).
pub fn trimmed_words(words: &[&[u8]]) -> Vec<Vec<u8>> {
    let argc = words.len();
    let kept = argc.min(MAX_ARGC);
    (0..kept)
        .map(|j| {
            if kept != argc && j == kept - 1 {
                format!("... ({} more arguments)", argc - kept + 1).into_bytes()
            } else if words[j].len() > MAX_STRING {
                let mut s = words[j][..MAX_STRING].to_vec();
                s.extend_from_slice(
                    format!("... ({} more bytes)", words[j].len() - MAX_STRING).as_bytes(),
                );
                s
            } else {
                words[j].to_vec()
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trims_as_redis() {
        let long = vec![b'x'; 130];
        let mut words: Vec<&[u8]> = vec![b"sadd", b"s", &long];
        assert_eq!(
            trimmed_words(&words)[2],
            [&long[..128], b"... (2 more bytes)"].concat()
        );
        let many: Vec<Vec<u8>> = (0..40).map(|i| i.to_string().into_bytes()).collect();
        words = vec![b"sadd"];
        words.extend(many.iter().map(Vec::as_slice));
        let t = trimmed_words(&words);
        assert_eq!(t.len(), 32);
        assert_eq!(t[30], b"29");
        assert_eq!(t[31], b"... (10 more arguments)");
    }
}
