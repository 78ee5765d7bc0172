//! percore-server: a Redis-compatible server, started like redis-server:
//! `percore-server [/path/to/redis.conf] [--directive value ...]`.

use anyhow::Context;
use config::Config;
use std::io::Write;
use std::path::PathBuf;

const USAGE: &str = "Usage: ./percore-server [/path/to/redis.conf] [options] [-]
       ./percore-server - (read config from stdin)
       ./percore-server -v or --version
       ./percore-server -h or --help
       ./percore-server --aof-export <appendonlydir> <file> [--databases N]

Examples:
       ./percore-server (run the server with default config)
       ./percore-server /etc/redis/6379.conf
       ./percore-server --port 7777
       ./percore-server --port 7777 --shards 4
       ./percore-server /etc/myredis.conf --loglevel verbose
";

#[global_allocator]
static ALLOC: server::Allocator = server::Allocator;

fn main() {
    if let Err(e) = run() {
        // Before logging is set up (bad config), errors go to stderr, as redis-server does.
        let _ = writeln!(std::io::stderr(), "\n{e:#}");
        std::process::exit(1);
    }
}

fn run() -> anyhow::Result<()> {
    let argv: Vec<String> = std::env::args().skip(1).collect();
    match argv.first().map(String::as_str) {
        Some("-h" | "--help") => {
            let _ = write!(std::io::stdout(), "{USAGE}");
            return Ok(());
        }
        Some("-v" | "--version") => {
            let _ = writeln!(std::io::stdout(), "{}", server::version_line());
            return Ok(());
        }
        Some("--aof-export") => return aof_export(&argv[1..]),
        _ => {}
    }
    let (path, overrides) = match argv.first() {
        Some(first) if !first.starts_with("--") => (Some(PathBuf::from(first)), &argv[1..]),
        _ => (None, &argv[..]),
    };
    let (config, warnings) =
        Config::load(path.as_deref(), overrides).map_err(|e| anyhow::anyhow!("{e}"))?;

    if config.daemonize() {
        daemonize()?;
    }
    init_logging(&config)?;
    for w in &warnings {
        tracing::warn!("{}", w.0);
    }
    if path.is_none() {
        tracing::warn!("no config file specified, using the default config; to specify one use percore-server /path/to/redis.conf");
    }
    let dir = config.dir();
    std::env::set_current_dir(&dir).with_context(|| format!("Can't chdir to '{dir}'"))?;
    let mut config = config;
    if let Ok(cwd) = std::env::current_dir() {
        config.resolve_dir(&cwd.display().to_string());
    }
    let pidfile = config.pidfile();
    let pidfile = if pidfile.is_empty() && config.daemonize() {
        "/var/run/redis.pid".to_string()
    } else {
        pidfile
    };
    let unixsocket = config.unixsocket();

    // Signals go to one thread that waits for them; every other thread inherits the mask.
    let sigset = block_signals();
    let server = server::start(config).context("could not start")?;
    if !pidfile.is_empty() {
        if let Err(e) = std::fs::write(&pidfile, format!("{}\n", std::process::id())) {
            tracing::warn!("Failed to write PID file {pidfile}: {e}");
        }
    }
    let signals = server.signal_handle();
    std::thread::Builder::new()
        .name("signals".into())
        .spawn(move || loop {
            let mut sig: libc::c_int = 0;
            // SAFETY: sigwait on a fully initialized set, writing into a local c_int.
            if unsafe { libc::sigwait(&sigset, &mut sig) } == 0 {
                let name = if sig == libc::SIGINT {
                    "SIGINT"
                } else {
                    "SIGTERM"
                };
                tracing::warn!("Received {name} scheduling shutdown...");
                let _ = signals.send(());
            }
        })
        .context("spawning the signal thread")?;

    let reason = server.wait();
    server.close_listeners();
    server.sync_aof();
    tracing::info!(?reason, "percore is now ready to exit, bye bye...");
    if !pidfile.is_empty() {
        let _ = std::fs::remove_file(&pidfile);
    }
    if let Some(path) = unixsocket {
        let _ = std::fs::remove_file(path);
    }
    // A shutdown that saves has saved before `wait` returned; the executors end with the
    // process.
    std::process::exit(0);
}

/// `--aof-export DIR FILE [--databases N]`: percore's per-shard AOF as one file for
/// redis-server (see `server::aof_export`).
fn aof_export(args: &[String]) -> anyhow::Result<()> {
    let (dir, file) = match args {
        [dir, file, ..] => (PathBuf::from(dir), PathBuf::from(file)),
        _ => anyhow::bail!(
            "usage: percore-server --aof-export <appendonlydir> <file> [--databases N]"
        ),
    };
    let databases = match &args[2..] {
        [] => 16,
        [flag, n] if flag == "--databases" => n.parse().context("--databases takes a number")?,
        _ => anyhow::bail!(
            "usage: percore-server --aof-export <appendonlydir> <file> [--databases N]"
        ),
    };
    let summary = server::aof_export(&dir, &file, databases).map_err(|e| anyhow::anyhow!(e))?;
    let _ = writeln!(std::io::stdout(), "{summary}");
    Ok(())
}

fn block_signals() -> libc::sigset_t {
    // SAFETY: plain libc signal-set manipulation on a local, zero-initialized set.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::sigaddset(&mut set, libc::SIGTERM);
        libc::sigaddset(&mut set, libc::SIGINT);
        libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut());
        set
    }
}

fn daemonize() -> anyhow::Result<()> {
    // SAFETY: fork before any thread exists (config loading is single-threaded); the child
    // only calls async-signal-safe functions until it returns to normal execution.
    unsafe {
        match libc::fork() {
            -1 => anyhow::bail!("fork failed: {}", std::io::Error::last_os_error()),
            0 => {}
            _ => libc::_exit(0),
        }
        libc::setsid();
        let null = libc::open(c"/dev/null".as_ptr(), libc::O_RDWR);
        if null >= 0 {
            libc::dup2(null, 0);
            libc::dup2(null, 1);
            libc::dup2(null, 2);
            if null > 2 {
                libc::close(null);
            }
        }
    }
    Ok(())
}

fn init_logging(config: &Config) -> anyhow::Result<()> {
    use tracing_subscriber::filter::LevelFilter;
    let level = match config.loglevel().as_str() {
        "debug" => LevelFilter::DEBUG,
        "verbose" => LevelFilter::INFO,
        "notice" => LevelFilter::INFO,
        "warning" => LevelFilter::WARN,
        _ => LevelFilter::OFF,
    };
    let builder = tracing_subscriber::fmt()
        .with_max_level(level)
        .with_target(false);
    let logfile = config.logfile();
    if logfile.is_empty() {
        // Colour codes only for a terminal: redirected logs stay plain text, as Redis'.
        use std::io::IsTerminal;
        builder
            .with_writer(std::io::stdout)
            .with_ansi(std::io::stdout().is_terminal())
            .init();
    } else {
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&logfile)
            .with_context(|| format!("Can't open the log file: {logfile}"))?;
        builder
            .with_writer(std::sync::Mutex::new(file))
            .with_ansi(false)
            .init();
    }
    Ok(())
}
