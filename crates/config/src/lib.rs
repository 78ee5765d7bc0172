//! redis.conf parsing, CONFIG GET/SET/REWRITE, and command-line overrides, matching
//! redis-server 7.0 (config.c) closely enough to be a drop-in.
//!
//! Every directive Redis 7.0 knows is accepted; the ones percore does not act on are stored (so
//! CONFIG GET answers like Redis) and reported back as [`Warning`]s for the caller to log.

mod load;
mod parse;
mod rewrite;
mod table;
mod value;

use std::path::{Path, PathBuf};

pub use parse::parse_memory;
/// Redis' sdssplitargs (config lines, AOF manifests, library metadata).
pub use parse::split_args;

use table::{lookup, DEFS, IMMUTABLE, PROTECTED};
use value::Mode;

/// A non-fatal problem found while loading, for the caller to log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Warning(pub String);

impl std::fmt::Display for Warning {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// Where a rejected directive came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    File(PathBuf),
    CommandLine,
}

/// Why the server must refuse to start. Display mirrors redis-server's stderr output.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The config file (or an included one) could not be read.
    #[error("Fatal error, can't open config file '{}': {reason}", path.display())]
    Open { path: PathBuf, reason: String },
    /// A directive was unknown, had the wrong arity, or an invalid value.
    #[error(
        "*** FATAL CONFIG FILE ERROR ***\n{}\n>>> '{text}'\n{reason}",
        location(origin, *line)
    )]
    Directive {
        origin: Origin,
        /// 1-based line in the file, or 1-based override number for the command line.
        line: usize,
        /// The line as Redis prints it (trimmed).
        text: String,
        reason: String,
    },
}

fn location(origin: &Origin, line: usize) -> String {
    match origin {
        // Keeps Redis' exact "Reading the configuration file, at line N" prefix so anything
        // matching redis-server's output still matches, and adds which file it was.
        Origin::File(p) => {
            format!(
                "Reading the configuration file, at line {line} of '{}'",
                p.display()
            )
        }
        Origin::CommandLine => {
            format!("Reading the command line overrides, at override {line}")
        }
    }
}

/// The server configuration: one canonical string per known directive.
/// CONFIG SET's reason for a setting percore does not implement yet.
pub const NOT_IMPLEMENTED: &str = "not implemented by percore yet";

#[derive(Debug, Clone)]
pub struct Config {
    /// Indexed like `table::DEFS`; each holds exactly what CONFIG GET returns.
    values: Vec<String>,
    config_file: Option<PathBuf>,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            values: DEFS.iter().map(|d| d.default.to_string()).collect(),
            config_file: None,
        }
    }
}

impl Config {
    /// All directives at their defaults, no config file.
    #[allow(clippy::should_implement_trait)]
    pub fn default() -> Config {
        <Config as Default>::default()
    }

    /// Loads `path` (if any) and then the command-line `overrides` (the raw words after the
    /// config file path, e.g. `["--port", "6380", "--save", ""]`), exactly as redis-server does.
    pub fn load(
        path: Option<&Path>,
        overrides: &[String],
    ) -> Result<(Config, Vec<Warning>), ConfigError> {
        let mut cfg = Config::default();
        let warnings = load::load_into(&mut cfg, path, overrides)?;
        Ok((cfg, warnings))
    }

    /// The absolute path of the file this config was loaded from, for CONFIG REWRITE and INFO.
    pub fn config_file(&self) -> Option<PathBuf> {
        self.config_file.clone()
    }

    fn raw(&self, name: &str) -> &str {
        lookup(name)
            .and_then(|i| self.values.get(i))
            .map(String::as_str)
            .unwrap_or("")
    }

    /// Parses the stored value as a number; stored values are validated, so the fallback is
    /// only there to avoid a panic path.
    fn num<T: std::str::FromStr>(&self, name: &str, fallback: T) -> T {
        self.raw(name).parse().unwrap_or(fallback)
    }

    fn flag(&self, name: &str) -> bool {
        self.raw(name) == "yes"
    }

    fn opt(&self, name: &str) -> Option<String> {
        Some(self.raw(name).to_string()).filter(|s| !s.is_empty())
    }

    pub fn port(&self) -> u16 {
        self.num("port", 6379)
    }
    /// Addresses exactly as configured, including Redis' `-` prefix for optional ones.
    pub fn bind(&self) -> Vec<String> {
        self.raw("bind")
            .split_whitespace()
            .map(str::to_string)
            .collect()
    }
    /// `(address, optional)`: a leading `-` means "don't fail if this address is unavailable",
    /// as in Redis' `bind 127.0.0.1 -::1`.
    pub fn bind_addrs(&self) -> Vec<(String, bool)> {
        self.bind()
            .into_iter()
            .map(|a| match a.strip_prefix('-') {
                Some(rest) => (rest.to_string(), true),
                None => (a, false),
            })
            .collect()
    }
    pub fn unixsocket(&self) -> Option<String> {
        self.opt("unixsocket")
    }
    pub fn unixsocketperm(&self) -> u32 {
        u32::from_str_radix(self.raw("unixsocketperm"), 8).unwrap_or(0)
    }
    pub fn requirepass(&self) -> Option<String> {
        self.opt("requirepass")
    }
    pub fn databases(&self) -> usize {
        self.num("databases", 16)
    }
    pub fn dir(&self) -> String {
        self.raw("dir").to_string()
    }
    pub fn maxclients(&self) -> usize {
        self.num("maxclients", 10000)
    }
    pub fn timeout(&self) -> u64 {
        self.num("timeout", 0)
    }
    pub fn tcp_keepalive(&self) -> u64 {
        self.num("tcp-keepalive", 300)
    }
    pub fn tcp_backlog(&self) -> u32 {
        self.num("tcp-backlog", 511)
    }
    pub fn loglevel(&self) -> String {
        self.raw("loglevel").to_string()
    }
    pub fn logfile(&self) -> String {
        self.raw("logfile").to_string()
    }
    pub fn pidfile(&self) -> String {
        self.raw("pidfile").to_string()
    }
    pub fn daemonize(&self) -> bool {
        self.flag("daemonize")
    }
    pub fn protected_mode(&self) -> bool {
        self.flag("protected-mode")
    }
    /// `busy-reply-threshold` (`lua-time-limit`), in milliseconds; 0: scripts are never busy.
    pub fn busy_reply_threshold(&self) -> u64 {
        self.num("busy-reply-threshold", 5000)
    }
    /// Already clamped to 1..=500 as Redis does.
    pub fn hz(&self) -> u32 {
        self.num("hz", 10)
    }
    pub fn proto_max_bulk_len(&self) -> u64 {
        self.num("proto-max-bulk-len", 512 << 20)
    }
    pub fn client_query_buffer_limit(&self) -> u64 {
        self.num("client-query-buffer-limit", 1 << 30)
    }
    /// `(seconds, changes)` snapshot points; empty when saving is disabled.
    pub fn save_params(&self) -> Vec<(u64, u64)> {
        let nums: Vec<u64> = self
            .raw("save")
            .split_whitespace()
            .filter_map(|s| s.parse().ok())
            .collect();
        nums.chunks_exact(2).map(|c| (c[0], c[1])).collect()
    }
    pub fn appendonly(&self) -> bool {
        self.flag("appendonly")
    }
    pub fn appendfsync(&self) -> String {
        self.raw("appendfsync").to_string()
    }
    pub fn appendfilename(&self) -> String {
        self.raw("appendfilename").to_string()
    }
    pub fn appenddirname(&self) -> String {
        self.raw("appenddirname").to_string()
    }
    pub fn dbfilename(&self) -> String {
        self.raw("dbfilename").to_string()
    }
    pub fn maxmemory(&self) -> u64 {
        self.num("maxmemory", 0)
    }
    pub fn maxmemory_policy(&self) -> String {
        self.raw("maxmemory-policy").to_string()
    }
    pub fn maxmemory_samples(&self) -> u32 {
        self.num("maxmemory-samples", 5)
    }
    /// 0 means one shard per CPU.
    pub fn shards(&self) -> usize {
        self.num("shards", 0)
    }
    pub fn io_backend(&self) -> String {
        self.raw("io-backend").to_string()
    }

    /// The working directory the server changed to, absolute (CONFIG GET dir shows it so,
    /// as redis-server shows getcwd(), and CONFIG REWRITE writes it so).
    pub fn resolve_dir(&mut self, absolute: &str) {
        if let Some(slot) = lookup("dir").and_then(|i| self.values.get_mut(i)) {
            *slot = absolute.to_string();
        }
    }

    /// CONFIG GET of one name (case-insensitive, aliases included).
    pub fn get(&self, name: &str) -> Option<String> {
        lookup(name).and_then(|i| self.values.get(i)).cloned()
    }

    /// Every `(name, value)` CONFIG GET can return, aliases included as Redis 7.0 does; the
    /// caller applies the glob pattern.
    pub fn entries(&self) -> Vec<(&'static str, String)> {
        let mut out = Vec::with_capacity(DEFS.len() + 24);
        for (def, v) in DEFS.iter().zip(&self.values) {
            out.push((def.name, v.clone()));
            if let Some(alias) = def.alias {
                out.push((alias, v.clone()));
            }
        }
        out
    }

    /// CONFIG SET of one directive. The error is the full Redis reply text without the `-`.
    pub fn set(&mut self, name: &str, value: &str) -> Result<(), String> {
        let idx = self.check_settable(name)?;
        let fail = |reason: &str| {
            format!("ERR CONFIG SET failed (possibly related to argument '{name}') - {reason}")
        };
        let def = &DEFS[idx];
        let args: Vec<String> = if def.kind.multi_arg() {
            parse::split_args(value.as_bytes())
                .ok_or_else(|| fail("Unbalanced quotes in configuration line"))?
                .into_iter()
                .map(|a| String::from_utf8_lossy(&a).into_owned())
                .collect()
        } else {
            vec![value.to_string()]
        };
        let current = self.values.get(idx).map(String::as_str).unwrap_or("");
        let new = value::apply(def, &args, current, Mode::Set).map_err(|e| fail(&e))?;
        if let Some(slot) = self.values.get_mut(idx) {
            *slot = new;
        }
        Ok(())
    }

    /// Name-level checks CONFIG SET does before looking at any value.
    fn check_settable(&self, name: &str) -> Result<usize, String> {
        let idx = lookup(name).ok_or_else(|| {
            format!("ERR Unknown option or number of arguments for CONFIG SET - '{name}'")
        })?;
        let def = &DEFS[idx];
        let fail = |reason: &str| {
            format!("ERR CONFIG SET failed (possibly related to argument '{name}') - {reason}")
        };
        if def.has(IMMUTABLE) {
            return Err(fail("can't set immutable config"));
        }
        // Redis 7.0 also lets `local` through for local connections; we cannot tell here, so
        // `local` is treated like `yes` (documented deviation).
        if def.has(PROTECTED) && self.raw("enable-protected-configs") == "no" {
            return Err(fail("can't set protected config"));
        }
        Ok(idx)
    }

    /// CONFIG SET with several pairs: all are validated and applied, or none is.
    pub fn set_many(&mut self, pairs: &[(String, String)]) -> Result<(), String> {
        let mut seen = Vec::with_capacity(pairs.len());
        for (name, _) in pairs {
            let idx = self.check_settable(name)?;
            if seen.contains(&idx) {
                return Err(format!(
                    "ERR CONFIG SET failed (possibly related to argument '{name}') - duplicate \
                     parameter"
                ));
            }
            seen.push(idx);
        }
        let mut staged = self.clone();
        for ((name, value), &idx) in pairs.iter().zip(&seen) {
            staged.set(name, value)?;
            // A setting percore does not act on yet is refused rather than answered OK
            // while nothing happens; setting it to what it already is changes nothing.
            if !DEFS[idx].has(table::IMPL) && staged.values.get(idx) != self.values.get(idx) {
                return Err(format!(
                    "ERR CONFIG SET failed (possibly related to argument '{name}') - \
                     {NOT_IMPLEMENTED}"
                ));
            }
        }
        *self = staged;
        Ok(())
    }

    /// CONFIG REWRITE: rewrites the file this config was loaded from, keeping comments and
    /// lines it does not own, replacing changed directives in place and appending new ones.
    pub fn rewrite(&self) -> Result<(), String> {
        let path = self
            .config_file
            .as_deref()
            .ok_or("ERR The server is running without a config file")?;
        rewrite::rewrite_file(self, path).map_err(|e| format!("ERR Rewriting config file: {e}"))
    }
}

#[cfg(test)]
mod tests;
