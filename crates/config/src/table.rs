//! The table of every directive redis-server 7.0 knows, plus percore's own.
//!
//! Keeping them all in one table (rather than a struct field per directive) lets the file loader,
//! CONFIG GET, CONFIG SET and CONFIG REWRITE share one validation path, so a value accepted in one
//! place is accepted everywhere, exactly as config.c's `standardConfig` table does for Redis.

/// How a directive's arguments are validated and rendered.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Kind {
    /// `yes` / `no`.
    Bool,
    /// Plain decimal integer (Redis' `string2ll`, strict) within inclusive bounds.
    Int {
        min: i128,
        max: i128,
    },
    /// Like `Int`, but Redis accepts any value and clamps it (only `hz` does this).
    Clamped {
        min: i128,
        max: i128,
        lo: i128,
        hi: i128,
    },
    /// Memory value with optional unit (`1k`, `1kb`, ...); CONFIG GET renders plain bytes.
    Mem {
        min: i128,
        max: i128,
    },
    /// Memory value or `N%` (only `maxmemory-clients`).
    MemPercent,
    /// Octal integer (only `unixsocketperm`).
    Octal {
        max: i128,
    },
    /// One of a fixed set of names, matched case-insensitively.
    Enum(&'static [&'static str]),
    /// Several flag names at once (`shutdown-on-sigint save now`); the first name means "none".
    Flags(&'static [&'static str]),
    /// Any string.
    Str,
    /// A string that must not contain a path separator; the payload is Redis' error text.
    BaseName(&'static str),
    /// The working directory; stored only, the server applies it.
    Dir,
    Save,
    Bind,
    ClientOutputBufferLimit,
    OomScoreAdjValues,
    NotifyKeyspaceEvents,
    ReplicaOf,
    Percentiles,
}

impl Kind {
    /// Redis' MULTI_ARG_CONFIG: takes any number of arguments instead of exactly one.
    pub(crate) fn multi_arg(self) -> bool {
        matches!(
            self,
            Kind::Flags(_)
                | Kind::Save
                | Kind::Bind
                | Kind::ClientOutputBufferLimit
                | Kind::OomScoreAdjValues
                | Kind::ReplicaOf
                | Kind::Percentiles
        )
    }
}

/// Cannot be changed with CONFIG SET.
pub(crate) const IMMUTABLE: u8 = 1;
/// Needs `enable-protected-configs` to be changed with CONFIG SET (Redis 7.0 hardening).
pub(crate) const PROTECTED: u8 = 2;
/// percore actually honours it; everything else is accepted, stored and warned about.
pub(crate) const IMPL: u8 = 4;

pub(crate) struct Def {
    pub name: &'static str,
    pub alias: Option<&'static str>,
    pub kind: Kind,
    /// The default, already in the canonical form CONFIG GET renders.
    pub default: &'static str,
    pub flags: u8,
}

impl Def {
    pub(crate) fn has(&self, flag: u8) -> bool {
        self.flags & flag != 0
    }
}

const INT_MAX: i128 = i32::MAX as i128;
const INT_MIN: i128 = i32::MIN as i128;
const UINT_MAX: i128 = u32::MAX as i128;
const LONG_MAX: i128 = i64::MAX as i128;
const ULLONG_MAX: i128 = u64::MAX as i128;
const MB: i128 = 1024 * 1024;

const fn int(min: i128, max: i128) -> Kind {
    Kind::Int { min, max }
}
const fn mem(min: i128, max: i128) -> Kind {
    Kind::Mem { min, max }
}

const fn d(name: &'static str, kind: Kind, default: &'static str, flags: u8) -> Def {
    Def {
        name,
        alias: None,
        kind,
        default,
        flags,
    }
}
const fn a(
    name: &'static str,
    alias: &'static str,
    kind: Kind,
    default: &'static str,
    flags: u8,
) -> Def {
    Def {
        name,
        alias: Some(alias),
        kind,
        default,
        flags,
    }
}

const YES_NO_LOCAL: &[&str] = &["no", "yes", "local"];
const SHUTDOWN: &[&str] = &["default", "save", "nosave", "now", "force"];
const POLICIES: &[&str] = &[
    "volatile-lru",
    "volatile-lfu",
    "volatile-random",
    "volatile-ttl",
    "allkeys-lru",
    "allkeys-lfu",
    "allkeys-random",
    "noeviction",
];

pub(crate) const BIND_DEFAULT: &str = "127.0.0.1 -::1";
pub(crate) const COBL_DEFAULT: &str =
    "normal 0 0 0 slave 268435456 67108864 60 pubsub 33554432 8388608 60";

const I: u8 = IMPL;
const IM: u8 = IMMUTABLE;

/// Order matters only for CONFIG GET * output and for the order CONFIG REWRITE appends lines.
pub(crate) static DEFS: &[Def] = &[
    // ---- implemented by percore ----
    d("port", int(0, 65535), "6379", I),
    d("bind", Kind::Bind, BIND_DEFAULT, I),
    d("unixsocket", Kind::Str, "", I | IM),
    d("unixsocketperm", Kind::Octal { max: 0o777 }, "0", I | IM),
    d("requirepass", Kind::Str, "", I),
    d("databases", int(1, INT_MAX), "16", I | IM),
    d("dir", Kind::Dir, ".", I | PROTECTED),
    d("maxclients", int(1, UINT_MAX), "10000", I),
    d("timeout", int(0, INT_MAX), "0", I),
    d("tcp-keepalive", int(0, INT_MAX), "300", I),
    d("tcp-backlog", int(0, INT_MAX), "511", I | IM),
    d(
        "loglevel",
        Kind::Enum(&["debug", "verbose", "notice", "warning", "nothing"]),
        "notice",
        I,
    ),
    d("logfile", Kind::Str, "", I | IM),
    d("pidfile", Kind::Str, "", I | IM),
    d("daemonize", Kind::Bool, "no", I | IM),
    d("protected-mode", Kind::Bool, "yes", I),
    d(
        "hz",
        Kind::Clamped {
            min: 0,
            max: INT_MAX,
            lo: 1,
            hi: 500,
        },
        "10",
        I,
    ),
    d("proto-max-bulk-len", mem(MB, LONG_MAX), "536870912", I),
    d(
        "client-query-buffer-limit",
        mem(MB, LONG_MAX),
        "1073741824",
        I,
    ),
    d("save", Kind::Save, "3600 1 300 100 60 10000", I),
    d("appendonly", Kind::Bool, "no", I),
    d(
        "appendfsync",
        Kind::Enum(&["everysec", "always", "no"]),
        "everysec",
        I,
    ),
    d(
        "appendfilename",
        Kind::BaseName("appendfilename can't be a path, just a filename"),
        "appendonly.aof",
        I | IM,
    ),
    d(
        "appenddirname",
        Kind::BaseName("appenddirname can't be a path, just a dirname"),
        "appendonlydir",
        I | IM,
    ),
    d(
        "dbfilename",
        Kind::BaseName("dbfilename can't be a path, just a filename"),
        "dump.rdb",
        I | PROTECTED,
    ),
    // Eviction is issue 17's: a limit would be accepted and never enforced.
    d("maxmemory", mem(0, ULLONG_MAX), "0", I),
    d("maxmemory-policy", Kind::Enum(POLICIES), "noeviction", I),
    d("maxmemory-samples", int(1, 64), "5", I),
    // percore's own
    d("shards", int(0, 1024), "0", I | IM),
    d(
        "io-backend",
        Kind::Enum(&["auto", "uring", "epoll"]),
        "auto",
        I | IM,
    ),
    // ---- accepted, stored, not implemented (Redis 7.0 names and defaults) ----
    d(
        "enable-protected-configs",
        Kind::Enum(YES_NO_LOCAL),
        "no",
        IM,
    ),
    d(
        "enable-debug-command",
        Kind::Enum(YES_NO_LOCAL),
        "no",
        I | IM,
    ),
    d("enable-module-command", Kind::Enum(YES_NO_LOCAL), "no", IM),
    d("io-threads", int(1, 128), "1", IM),
    d("io-threads-do-reads", Kind::Bool, "no", IM),
    d("always-show-logo", Kind::Bool, "no", IM),
    d("set-proc-title", Kind::Bool, "yes", IM),
    d(
        "proc-title-template",
        Kind::Str,
        "{title} {listen-addr} {server-mode}",
        0,
    ),
    d("syslog-enabled", Kind::Bool, "no", IM),
    d("syslog-ident", Kind::Str, "redis", IM),
    d(
        "syslog-facility",
        Kind::Enum(&[
            "user", "local0", "local1", "local2", "local3", "local4", "local5", "local6", "local7",
        ]),
        "local0",
        IM,
    ),
    d(
        "supervised",
        Kind::Enum(&["upstart", "systemd", "auto", "no"]),
        "no",
        IM,
    ),
    d("crash-log-enabled", Kind::Bool, "yes", 0),
    d("crash-memcheck-enabled", Kind::Bool, "yes", 0),
    d("disable-thp", Kind::Bool, "yes", IM),
    d(
        "oom-score-adj",
        Kind::Enum(&["no", "yes", "relative", "absolute"]),
        "no",
        0,
    ),
    d(
        "oom-score-adj-values",
        Kind::OomScoreAdjValues,
        "0 200 800",
        0,
    ),
    d("socket-mark-id", int(0, UINT_MAX), "0", 0),
    d("bind-source-addr", Kind::Str, "", 0),
    d("server_cpulist", Kind::Str, "", IM),
    d("bio_cpulist", Kind::Str, "", IM),
    d("aof_rewrite_cpulist", Kind::Str, "", IM),
    d("bgsave_cpulist", Kind::Str, "", IM),
    d("ignore-warnings", Kind::Str, "", 0),
    d("aclfile", Kind::Str, "", IM),
    d("acllog-max-len", int(0, LONG_MAX), "128", 0),
    d(
        "acl-pubsub-default",
        Kind::Enum(&["allchannels", "resetchannels"]),
        "resetchannels",
        0,
    ),
    d("masterauth", Kind::Str, "", I),
    d("masteruser", Kind::Str, "", I),
    a("replicaof", "slaveof", Kind::ReplicaOf, "", IM | I),
    a(
        "replica-serve-stale-data",
        "slave-serve-stale-data",
        Kind::Bool,
        "yes",
        I,
    ),
    a("replica-read-only", "slave-read-only", Kind::Bool, "yes", I),
    a(
        "replica-lazy-flush",
        "slave-lazy-flush",
        Kind::Bool,
        "no",
        0,
    ),
    a(
        "replica-ignore-maxmemory",
        "slave-ignore-maxmemory",
        Kind::Bool,
        "yes",
        I,
    ),
    a(
        "replica-priority",
        "slave-priority",
        int(0, INT_MAX),
        "100",
        I,
    ),
    a("replica-announce-ip", "slave-announce-ip", Kind::Str, "", I),
    a(
        "replica-announce-port",
        "slave-announce-port",
        int(0, 65535),
        "0",
        I,
    ),
    d("replica-announced", Kind::Bool, "yes", I),
    d("replica-ignore-disk-write-errors", Kind::Bool, "no", 0),
    a(
        "repl-ping-replica-period",
        "repl-ping-slave-period",
        int(1, INT_MAX),
        "10",
        I,
    ),
    d("repl-timeout", int(1, INT_MAX), "60", I),
    d("repl-disable-tcp-nodelay", Kind::Bool, "no", 0),
    d("repl-diskless-sync", Kind::Bool, "yes", I),
    d("repl-diskless-sync-delay", int(0, INT_MAX), "5", I),
    d("repl-diskless-sync-max-replicas", int(0, INT_MAX), "0", I),
    d(
        "repl-diskless-load",
        Kind::Enum(&["disabled", "on-empty-db", "swapdb"]),
        "disabled",
        I,
    ),
    d("repl-backlog-size", mem(1, LONG_MAX), "1048576", I),
    d("repl-backlog-ttl", int(0, LONG_MAX), "3600", I),
    a(
        "min-replicas-to-write",
        "min-slaves-to-write",
        int(0, INT_MAX),
        "0",
        I,
    ),
    a(
        "min-replicas-max-lag",
        "min-slaves-max-lag",
        int(0, INT_MAX),
        "10",
        I,
    ),
    d(
        "propagation-error-behavior",
        Kind::Enum(&["ignore", "panic", "panic-on-replicas"]),
        "ignore",
        0,
    ),
    d("stop-writes-on-bgsave-error", Kind::Bool, "yes", I),
    d("rdbcompression", Kind::Bool, "yes", I),
    d("rdbchecksum", Kind::Bool, "yes", I),
    d("rdb-del-sync-files", Kind::Bool, "no", 0),
    d("rdb-save-incremental-fsync", Kind::Bool, "yes", 0),
    d(
        "sanitize-dump-payload",
        Kind::Enum(&["no", "yes", "clients"]),
        "no",
        0,
    ),
    d("no-appendfsync-on-rewrite", Kind::Bool, "no", I),
    d("auto-aof-rewrite-percentage", int(0, INT_MAX), "100", I),
    d("auto-aof-rewrite-min-size", mem(0, LONG_MAX), "67108864", I),
    d("aof-load-truncated", Kind::Bool, "yes", I),
    d("aof-use-rdb-preamble", Kind::Bool, "yes", I),
    d("aof-timestamp-enabled", Kind::Bool, "no", I),
    d("aof-rewrite-incremental-fsync", Kind::Bool, "yes", 0),
    d("lazyfree-lazy-eviction", Kind::Bool, "no", 0),
    d("lazyfree-lazy-expire", Kind::Bool, "no", 0),
    d("lazyfree-lazy-server-del", Kind::Bool, "no", 0),
    d("lazyfree-lazy-user-del", Kind::Bool, "no", 0),
    d("lazyfree-lazy-user-flush", Kind::Bool, "no", 0),
    d("maxmemory-eviction-tenacity", int(0, 100), "10", I),
    d("maxmemory-clients", Kind::MemPercent, "0", 0),
    d("lfu-log-factor", int(0, INT_MAX), "10", I),
    d("lfu-decay-time", int(0, INT_MAX), "1", I),
    d("active-expire-effort", int(1, 10), "1", 0),
    d("activerehashing", Kind::Bool, "yes", 0),
    d("activedefrag", Kind::Bool, "no", 0),
    d(
        "active-defrag-ignore-bytes",
        mem(1, LONG_MAX),
        "104857600",
        0,
    ),
    d("active-defrag-threshold-lower", int(0, 1000), "10", 0),
    d("active-defrag-threshold-upper", int(0, 1000), "100", 0),
    d("active-defrag-cycle-min", int(1, 99), "1", 0),
    d("active-defrag-cycle-max", int(1, 99), "25", 0),
    d("active-defrag-max-scan-fields", int(1, LONG_MAX), "1000", 0),
    d("jemalloc-bg-thread", Kind::Bool, "yes", I),
    d("dynamic-hz", Kind::Bool, "yes", 0),
    a(
        "busy-reply-threshold",
        "lua-time-limit",
        int(0, LONG_MAX),
        "5000",
        I,
    ),
    d("slowlog-log-slower-than", int(-1, LONG_MAX), "10000", I),
    d("slowlog-max-len", int(0, LONG_MAX), "128", I),
    d("latency-monitor-threshold", int(0, LONG_MAX), "0", I),
    d("latency-tracking", Kind::Bool, "yes", I),
    d(
        "latency-tracking-info-percentiles",
        Kind::Percentiles,
        "50 99 99.9",
        I,
    ),
    d("notify-keyspace-events", Kind::NotifyKeyspaceEvents, "", I),
    d(
        "client-output-buffer-limit",
        Kind::ClientOutputBufferLimit,
        COBL_DEFAULT,
        I,
    ),
    d("tracking-table-max-keys", int(0, LONG_MAX), "1000000", I),
    d("shutdown-timeout", int(0, INT_MAX), "10", 0),
    d("shutdown-on-sigint", Kind::Flags(SHUTDOWN), "default", 0),
    d("shutdown-on-sigterm", Kind::Flags(SHUTDOWN), "default", 0),
    a(
        "hash-max-listpack-entries",
        "hash-max-ziplist-entries",
        int(0, LONG_MAX),
        "512",
        I,
    ),
    a(
        "hash-max-listpack-value",
        "hash-max-ziplist-value",
        mem(0, LONG_MAX),
        "64",
        I,
    ),
    a(
        "list-max-listpack-size",
        "list-max-ziplist-size",
        int(INT_MIN, INT_MAX),
        "-2",
        I,
    ),
    d("list-compress-depth", int(0, INT_MAX), "0", 0),
    d("set-max-intset-entries", int(0, LONG_MAX), "512", I),
    a(
        "zset-max-listpack-entries",
        "zset-max-ziplist-entries",
        int(0, LONG_MAX),
        "128",
        I,
    ),
    a(
        "zset-max-listpack-value",
        "zset-max-ziplist-value",
        mem(0, LONG_MAX),
        "64",
        I,
    ),
    d("hll-sparse-max-bytes", mem(0, LONG_MAX), "3000", I),
    d("stream-node-max-bytes", mem(0, LONG_MAX), "4096", I),
    d("stream-node-max-entries", int(0, LONG_MAX), "100", I),
    d("cluster-enabled", Kind::Bool, "no", IM | I),
    d("cluster-config-file", Kind::Str, "nodes.conf", IM | I),
    d("cluster-node-timeout", int(0, LONG_MAX), "15000", I),
    d("cluster-port", int(0, 65535), "0", IM | I),
    d("cluster-announce-ip", Kind::Str, "", I),
    d("cluster-announce-hostname", Kind::Str, "", I),
    d("cluster-announce-port", int(0, 65535), "0", I),
    d("cluster-announce-bus-port", int(0, 65535), "0", I),
    d("cluster-announce-tls-port", int(0, 65535), "0", 0),
    a(
        "cluster-replica-validity-factor",
        "cluster-slave-validity-factor",
        int(0, INT_MAX),
        "10",
        I,
    ),
    d("cluster-migration-barrier", int(0, INT_MAX), "1", I),
    d("cluster-allow-replica-migration", Kind::Bool, "yes", I),
    d("cluster-require-full-coverage", Kind::Bool, "yes", I),
    a(
        "cluster-replica-no-failover",
        "cluster-slave-no-failover",
        Kind::Bool,
        "no",
        I,
    ),
    d("cluster-allow-reads-when-down", Kind::Bool, "no", I),
    d("cluster-allow-pubsubshard-when-down", Kind::Bool, "yes", I),
    d("cluster-link-sendbuf-limit", mem(0, ULLONG_MAX), "0", 0),
    d(
        "cluster-preferred-endpoint-type",
        Kind::Enum(&["ip", "hostname", "unknown-endpoint"]),
        "ip",
        0,
    ),
    d("tls-port", int(0, 65535), "0", 0),
    d("tls-cert-file", Kind::Str, "", 0),
    d("tls-key-file", Kind::Str, "", 0),
    d("tls-key-file-pass", Kind::Str, "", 0),
    d("tls-client-cert-file", Kind::Str, "", 0),
    d("tls-client-key-file", Kind::Str, "", 0),
    d("tls-client-key-file-pass", Kind::Str, "", 0),
    d("tls-dh-params-file", Kind::Str, "", 0),
    d("tls-ca-cert-file", Kind::Str, "", 0),
    d("tls-ca-cert-dir", Kind::Str, "", 0),
    d("tls-protocols", Kind::Str, "", 0),
    d("tls-ciphers", Kind::Str, "", 0),
    d("tls-ciphersuites", Kind::Str, "", 0),
    d("tls-prefer-server-ciphers", Kind::Bool, "no", 0),
    d("tls-session-caching", Kind::Bool, "yes", 0),
    d("tls-session-cache-size", int(0, INT_MAX), "20480", 0),
    d("tls-session-cache-timeout", int(0, INT_MAX), "300", 0),
    d("tls-cluster", Kind::Bool, "no", 0),
    d("tls-replication", Kind::Bool, "no", 0),
    d(
        "tls-auth-clients",
        Kind::Enum(&["no", "yes", "optional"]),
        "yes",
        0,
    ),
];

/// Index of a directive by name or alias, case-insensitively.
pub(crate) fn lookup(name: &str) -> Option<usize> {
    DEFS.iter().position(|def| {
        def.name.eq_ignore_ascii_case(name)
            || def
                .alias
                .is_some_and(|alias| alias.eq_ignore_ascii_case(name))
    })
}

/// Removed in 7.0 but still silently accepted by it (config.c `deprecated_configs`), so old
/// files keep loading. Each takes exactly one argument.
pub(crate) const DEPRECATED: &[&str] = &[
    "list-max-ziplist-entries",
    "list-max-ziplist-value",
    "lua-replicate-commands",
];
