//! The shared harness: starts the real `percore-server` binary (or a real `redis-server` for
//! differential tests) on a free loopback port and talks to it with real clients.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub const BIN: &str = env!("CARGO_BIN_EXE_percore-server");

/// A free loopback port (bind :0, read it, release it).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("no free port")
}

pub struct Server {
    child: Child,
    pub port: u16,
    pub dir: std::path::PathBuf,
}

impl Server {
    /// percore with `shards` shards and the given extra directives.
    pub fn start(shards: usize) -> Server {
        Server::start_with(shards, &[])
    }

    pub fn start_with(shards: usize, extra: &[&str]) -> Server {
        // A free port may be taken by a parallel test before the server binds it: another.
        for _ in 0..4 {
            match Server::try_start_with(shards, extra) {
                Ok(s) => return s,
                Err(e) if e.contains("Address already in use") => continue,
                Err(e) => panic!("{e}"),
            }
        }
        Server::try_start_with(shards, extra).unwrap_or_else(|e| panic!("{e}"))
    }

    fn try_start_with(shards: usize, extra: &[&str]) -> Result<Server, String> {
        let port = free_port();
        let dir = scratch_dir("percore");
        let mut args: Vec<String> = vec![
            "--port".into(),
            port.to_string(),
            "--bind".into(),
            "127.0.0.1".into(),
            "--shards".into(),
            shards.to_string(),
            "--dir".into(),
            dir.display().to_string(),
            "--loglevel".into(),
            "warning".into(),
        ];
        args.extend(extra.iter().map(|s| s.to_string()));
        Server::try_spawn(Command::new(BIN).args(&args), port, dir)
    }

    /// percore from a config file path plus overrides (port must be in them or the file).
    pub fn start_raw(args: &[String], port: u16) -> Server {
        let dir = scratch_dir("percore");
        Server::spawn(Command::new(BIN).args(args), port, dir)
    }

    /// The real redis-server from Debian's package, for differential tests. Missing is a
    /// failure, never a skip: CI installs it.
    pub fn redis() -> Server {
        Server::redis_with(&[])
    }

    /// redis-server with extra arguments (later ones override: `--dir`, `--save`, ...).
    pub fn redis_with(extra: &[&str]) -> Server {
        let bin = which("redis-server").unwrap_or_else(|| {
            panic!("redis-server is not installed: differential tests need it (apt-get install -y redis-server)")
        });
        let port = free_port();
        let dir = scratch_dir("redis");
        let mut cmd = Command::new(bin);
        cmd.args([
            "--port",
            &port.to_string(),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--enable-debug-command",
            "yes",
        ])
        .args(["--dir", &dir.display().to_string()])
        .args(extra);
        Server::spawn(&mut cmd, port, dir)
    }

    fn spawn(cmd: &mut Command, port: u16, dir: std::path::PathBuf) -> Server {
        Server::try_spawn(cmd, port, dir).unwrap_or_else(|e| panic!("{e}"))
    }

    /// Starts the server and waits until it answers; Err with what it said if it exited.
    fn try_spawn(cmd: &mut Command, port: u16, dir: std::path::PathBuf) -> Result<Server, String> {
        // PERCORE_TEST_LOGS=dir keeps every server's log there, by port (for debugging).
        let (stdout, stderr) = match std::env::var_os("PERCORE_TEST_LOGS") {
            Some(d) => {
                let _ = std::fs::create_dir_all(&d);
                let path = std::path::Path::new(&d).join(format!("{port}.log"));
                match std::fs::File::create(path) {
                    Ok(f) => match f.try_clone() {
                        Ok(g) => (Stdio::from(f), Stdio::from(g)),
                        Err(_) => (Stdio::null(), Stdio::piped()),
                    },
                    Err(_) => (Stdio::null(), Stdio::piped()),
                }
            }
            None => (Stdio::null(), Stdio::piped()),
        };
        if std::env::var_os("PERCORE_TEST_LOGS").is_some() && cmd.get_program() == BIN {
            cmd.args(["--loglevel", "notice"]);
        }
        let child = cmd
            .stdin(Stdio::null())
            .stdout(stdout)
            .stderr(stderr)
            .spawn()
            .expect("cannot start server binary");
        let mut s = Server { child, port, dir };
        s.wait_ready()?;
        Ok(s)
    }

    fn wait_ready(&mut self) -> Result<(), String> {
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                let mut err = String::new();
                if let Some(mut e) = self.child.stderr.take() {
                    let _ = e.read_to_string(&mut err);
                }
                return Err(format!("server exited during start ({status}): {err}"));
            }
            if let Ok(mut c) = TcpStream::connect(("127.0.0.1", self.port)) {
                let _ = c.set_read_timeout(Some(Duration::from_secs(2)));
                if c.write_all(b"PING\r\n").is_ok() {
                    let mut line = String::new();
                    // With requirepass, NOAUTH is the answer of a server that is up.
                    if BufReader::new(&c).read_line(&mut line).is_ok()
                        && (line.starts_with('+') || line.starts_with("-NOAUTH"))
                    {
                        return Ok(());
                    }
                }
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!("server on port {} did not become ready", self.port);
    }

    pub fn client(&self) -> redis::Connection {
        let c = redis::Client::open(format!("redis://127.0.0.1:{}/", self.port)).expect("client");
        c.get_connection().expect("connect")
    }

    pub fn raw(&self) -> Raw {
        Raw::connect(self.port)
    }

    /// Waits for the process to exit (after SHUTDOWN or a signal), returning its status.
    pub fn wait_exit(&mut self, timeout: Duration) -> Option<std::process::ExitStatus> {
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            if let Ok(Some(s)) = self.child.try_wait() {
                return Some(s);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        None
    }

    /// Sends SIGTERM (a supervisor's stop).
    pub fn terminate(&self) {
        // SAFETY: kill(2) on our own child's pid.
        unsafe {
            libc::kill(self.child.id() as i32, libc::SIGTERM);
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

pub fn which(name: &str) -> Option<std::path::PathBuf> {
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|p| p.join(name))
            .find(|p| p.is_file())
    })
}

pub fn scratch_dir(tag: &str) -> std::path::PathBuf {
    static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let dir = std::env::temp_dir().join(format!("{tag}-test-{}-{n}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("scratch dir");
    dir
}

/// A raw RESP connection: send any bytes, read whole replies as raw bytes, so tests can
/// assert exact wire output (types, nulls, error strings) and send malformed input.
pub struct Raw {
    pub stream: TcpStream,
    reader: BufReader<TcpStream>,
}

impl Raw {
    pub fn connect(port: u16) -> Raw {
        Raw::connect_to("127.0.0.1", port)
    }

    pub fn connect_to(host: &str, port: u16) -> Raw {
        let stream = TcpStream::connect((host, port)).expect("connect");
        stream.set_read_timeout(Some(Duration::from_secs(10))).ok();
        let reader = BufReader::new(stream.try_clone().expect("clone"));
        Raw { stream, reader }
    }

    pub fn send(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).expect("write");
    }

    /// Sends one command as a RESP array and returns its raw reply.
    pub fn cmd(&mut self, args: &[&str]) -> String {
        let argv: Vec<&[u8]> = args.iter().map(|a| a.as_bytes()).collect();
        self.cmd_bytes(&argv)
    }

    pub fn cmd_bytes(&mut self, args: &[&[u8]]) -> String {
        let mut buf = Vec::new();
        resp::write_command(&mut buf, args);
        self.send(&buf);
        self.read_reply()
    }

    /// Sends one command and returns its reply's bytes exactly as sent (binary-safe).
    pub fn cmd_raw(&mut self, args: &[&[u8]]) -> Vec<u8> {
        let mut buf = Vec::new();
        resp::write_command(&mut buf, args);
        self.send(&buf);
        let mut out = Vec::new();
        self.read_value(&mut out).expect("read reply");
        out
    }

    /// Reads one complete reply, returning its bytes (lossy UTF-8) exactly as sent.
    pub fn read_reply(&mut self) -> String {
        let mut out = Vec::new();
        self.read_value(&mut out).expect("read reply");
        String::from_utf8_lossy(&out).into_owned()
    }

    /// Reads one reply, or None when the server closed the connection.
    pub fn try_read_reply(&mut self) -> Option<String> {
        let mut out = Vec::new();
        self.read_value(&mut out).ok()?;
        Some(String::from_utf8_lossy(&out).into_owned())
    }

    fn read_line(&mut self, out: &mut Vec<u8>) -> std::io::Result<Vec<u8>> {
        let mut line = Vec::new();
        let n = self.reader.read_until(b'\n', &mut line)?;
        if n == 0 {
            return Err(std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                "closed",
            ));
        }
        out.extend_from_slice(&line);
        Ok(line)
    }

    fn read_value(&mut self, out: &mut Vec<u8>) -> std::io::Result<()> {
        let line = self.read_line(out)?;
        let body = String::from_utf8_lossy(&line[1..]).trim_end().to_string();
        let n: i64 = body.parse().unwrap_or(0);
        match line[0] {
            b'$' | b'=' | b'!' if n >= 0 => {
                let mut data = vec![0u8; n as usize + 2];
                self.reader.read_exact(&mut data)?;
                out.extend_from_slice(&data);
            }
            b'*' | b'~' | b'>' if n >= 0 => {
                for _ in 0..n {
                    self.read_value(out)?;
                }
            }
            b'%' | b'|' => {
                for _ in 0..n * 2 {
                    self.read_value(out)?;
                }
            }
            _ => {}
        }
        Ok(())
    }
}

/// One field of an INFO section, as text ("" when absent).
pub fn info_field(c: &mut Raw, section: &str, field: &str) -> String {
    let info = c.cmd(&["INFO", section]);
    info.lines()
        .find_map(|l| l.strip_prefix(&format!("{field}:")))
        .unwrap_or_default()
        .trim()
        .to_string()
}

/// INFO stats' total_cross_shard_hops: how many requests this server's cores sent each other.
pub fn hops(raw: &mut Raw) -> u64 {
    let info = raw.cmd(&["INFO", "stats"]);
    info.lines()
        .find_map(|l| l.strip_prefix("total_cross_shard_hops:"))
        .and_then(|v| v.trim().parse().ok())
        .expect("INFO stats has total_cross_shard_hops")
}

/// Runs `percore-server --aof-export AOFDIR OUT` and asserts it succeeded.
pub fn aof_export(aofdir: &std::path::Path, out: &std::path::Path) {
    let run = std::process::Command::new(BIN)
        .arg("--aof-export")
        .arg(aofdir)
        .arg(out)
        .output()
        .expect("run --aof-export");
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
}
