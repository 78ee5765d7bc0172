//! The file / command-line loader: a port of loadServerConfig + loadServerConfigFromString and
//! of redis-server's `--name value` translation in main().

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use crate::parse::{glob_match, repr, split_args};
use crate::table::{lookup, DEFS, DEPRECATED, IMPL};
use crate::value::{self, Mode};
use crate::{Config, ConfigError, Origin, Warning};

/// Redis has no limit and would recurse until it crashes on an include loop; we refuse instead.
const MAX_INCLUDE_DEPTH: usize = 32;

struct Loader<'a> {
    cfg: &'a mut Config,
    warnings: Vec<Warning>,
    warned: HashSet<String>,
    /// Directives set but not implemented yet, in the order first seen: one warning lists
    /// them all at the end of the load.
    unimplemented: Vec<String>,
    save_loaded: bool,
}

pub(crate) fn load_into(
    cfg: &mut Config,
    path: Option<&Path>,
    overrides: &[String],
) -> Result<Vec<Warning>, ConfigError> {
    if let Some(p) = path {
        // Stored absolute because the server may chdir to `dir` before CONFIG REWRITE runs.
        cfg.config_file = Some(absolute(p));
    }
    let mut loader = Loader {
        cfg,
        warnings: Vec::new(),
        warned: HashSet::new(),
        unimplemented: Vec::new(),
        save_loaded: false,
    };
    if let Some(p) = path {
        loader.load_file(p, 0)?;
    }
    for (i, line) in override_lines(overrides).iter().enumerate() {
        loader.load_line(line.as_bytes(), &Origin::CommandLine, i + 1, 0)?;
    }
    if !loader.unimplemented.is_empty() {
        let names = loader.unimplemented.join(", ");
        loader.warnings.push(Warning(format!(
            "directives not implemented by percore yet, ignored (CONFIG GET shows Redis' defaults): {names}"
        )));
    }
    Ok(loader.warnings)
}

fn absolute(p: &Path) -> PathBuf {
    std::path::absolute(p).unwrap_or_else(|_| p.to_path_buf())
}

fn open_error(path: &Path, e: &std::io::Error) -> ConfigError {
    // strerror-style text, without Rust's " (os error N)" suffix, to read like Redis' message.
    let msg = e.to_string();
    let reason = msg.split(" (os error").next().unwrap_or(&msg).to_string();
    ConfigError::Open {
        path: path.to_path_buf(),
        reason,
    }
}

impl Loader<'_> {
    fn load_file(&mut self, path: &Path, depth: usize) -> Result<(), ConfigError> {
        let text = std::fs::read(path).map_err(|e| open_error(path, &e))?;
        let origin = Origin::File(path.to_path_buf());
        for (i, line) in text.split(|&b| b == b'\n').enumerate() {
            self.load_line(line, &origin, i + 1, depth)?;
        }
        Ok(())
    }

    fn warn_unimplemented(&mut self, name: &str) {
        // Each name once, all in one warning: the Debian file alone would otherwise log
        // dozens of lines.
        if self.warned.insert(name.to_string()) {
            self.unimplemented.push(name.to_string());
        }
    }

    fn load_line(
        &mut self,
        raw: &[u8],
        origin: &Origin,
        lineno: usize,
        depth: usize,
    ) -> Result<(), ConfigError> {
        let line = trim(raw);
        if line.is_empty() || line[0] == b'#' {
            return Ok(());
        }
        let fail = |reason: &str| ConfigError::Directive {
            origin: origin.clone(),
            line: lineno,
            text: String::from_utf8_lossy(line).into_owned(),
            reason: reason.to_string(),
        };
        let argv: Vec<String> = split_args(line)
            .ok_or_else(|| fail("Unbalanced quotes in configuration line"))?
            .into_iter()
            .map(|a| String::from_utf8_lossy(&a).into_owned())
            .collect();
        let Some(first) = argv.first() else {
            return Ok(());
        };
        let name = first.to_ascii_lowercase();
        let argc = argv.len();

        if let Some(idx) = lookup(&name) {
            let def = &DEFS[idx];
            if !def.kind.multi_arg() && argc != 2 {
                return Err(fail("wrong number of arguments"));
            }
            // `--bind "a b"` arrives as one argument; Redis splits it for multi-arg directives
            // (but not an empty one, so `save ""` still means "clear").
            let args: Vec<String> = if def.kind.multi_arg() && argc == 2 && !argv[1].is_empty() {
                split_args(argv[1].as_bytes())
                    .ok_or_else(|| fail("Unbalanced quotes in configuration line"))?
                    .into_iter()
                    .map(|a| String::from_utf8_lossy(&a).into_owned())
                    .collect()
            } else {
                argv[1..].to_vec()
            };
            let current = self.cfg.values.get(idx).map(String::as_str).unwrap_or("");
            let mode = Mode::Load {
                save_loaded: &mut self.save_loaded,
            };
            let new = value::apply(def, &args, current, mode).map_err(|e| fail(&e))?;
            if let Some(slot) = self.cfg.values.get_mut(idx) {
                *slot = new;
            }
            if !def.has(IMPL) {
                self.warn_unimplemented(def.name);
            }
            return Ok(());
        }
        if argc == 2 && DEPRECATED.contains(&name.as_str()) {
            return Ok(());
        }
        match name.as_str() {
            "include" if argc == 2 => {
                if depth >= MAX_INCLUDE_DEPTH {
                    return Err(fail("Too many nested includes (include loop?)"));
                }
                self.include(&argv[1], depth + 1)
            }
            "rename-command" if argc == 3 => {
                self.warn_unimplemented("rename-command");
                Ok(())
            }
            "user" | "loadmodule" if argc >= 2 => {
                self.warn_unimplemented(&name);
                Ok(())
            }
            "sentinel" => Err(fail("sentinel directive while not in sentinel mode")),
            _ => Err(fail("Bad directive or wrong number of arguments")),
        }
    }

    /// `include` with Redis 7.0's wildcard rule: a pattern matching nothing is silently
    /// skipped (so an empty conf.d works), a plain missing file is fatal.
    fn include(&mut self, target: &str, depth: usize) -> Result<(), ConfigError> {
        if target.contains(['*', '?', '[']) {
            for path in glob_paths(target) {
                self.load_file(&path, depth)?;
            }
            Ok(())
        } else {
            // Relative to the current working directory, as fopen() in Redis resolves it.
            self.load_file(Path::new(target), depth)
        }
    }
}

/// Redis trims " \t\r\n" from both ends of each line before anything else.
fn trim(line: &[u8]) -> &[u8] {
    let is_trim = |b: &u8| matches!(b, b' ' | b'\t' | b'\r' | b'\n');
    let start = line.iter().position(|b| !is_trim(b)).unwrap_or(line.len());
    let end = line
        .iter()
        .rposition(|b| !is_trim(b))
        .map_or(start, |e| e + 1);
    &line[start..end]
}

/// glob(3) for include patterns: wildcards are allowed in any path component, results come
/// out sorted, and hidden names only match patterns that start with a dot.
fn glob_paths(pattern: &str) -> Vec<PathBuf> {
    let is_abs = pattern.starts_with('/');
    let mut current: Vec<PathBuf> = vec![if is_abs {
        PathBuf::from("/")
    } else {
        PathBuf::new()
    }];
    for comp in pattern.split('/').filter(|c| !c.is_empty()) {
        let mut next = Vec::new();
        for base in &current {
            if !comp.contains(['*', '?', '[']) {
                let p = base.join(comp);
                if p.exists() || p.symlink_metadata().is_ok() {
                    next.push(p);
                }
                continue;
            }
            let dir = if base.as_os_str().is_empty() {
                Path::new(".")
            } else {
                base.as_path()
            };
            let Ok(entries) = std::fs::read_dir(dir) else {
                continue;
            };
            let mut names: Vec<String> = entries
                .filter_map(|e| e.ok())
                .filter_map(|e| e.file_name().into_string().ok())
                .filter(|n| !n.starts_with('.') || comp.starts_with('.'))
                .filter(|n| glob_match(comp.as_bytes(), n.as_bytes()))
                .collect();
            names.sort();
            next.extend(names.into_iter().map(|n| base.join(n)));
        }
        current = next;
    }
    current.into_iter().filter(|p| p.is_file()).collect()
}

/// Turns the words after the config path into config lines the way redis-server's main() does:
/// `--name` starts a directive, following words are its arguments (quoted, so `""` survives),
/// and a bare `--save` (last, or followed by another `--option`) means `save ""`.
pub(crate) fn override_lines(words: &[String]) -> Vec<String> {
    let mut lines: Vec<String> = Vec::new();
    // False right after a lone `--name`, so a following `--word` is taken as its value (as in
    // `--requirepass --secret`).
    let mut handled_last = true;
    for (j, w) in words.iter().enumerate() {
        let next_is_option = words.get(j + 1).is_some_and(|n| n.starts_with("--"));
        let is_last = j + 1 == words.len();
        if handled_last && w.starts_with("--") {
            let mut line = format!("{} ", &w[2..]);
            let name_only = split_args(w.as_bytes())
                .map(|a| a.len() == 1)
                .unwrap_or(false);
            if name_only {
                handled_last = false;
                let is_save = w.eq_ignore_ascii_case("--save");
                if is_save && (next_is_option || is_last) {
                    line.push_str("\"\"");
                    handled_last = true;
                } else if w.eq_ignore_ascii_case("--sentinel") && next_is_option {
                    handled_last = true;
                }
            } else {
                handled_last = true;
            }
            lines.push(line);
        } else {
            let quoted = repr(w.as_bytes());
            match lines.last_mut() {
                Some(line) => {
                    line.push_str(&quoted);
                    line.push(' ');
                }
                None => lines.push(format!("{quoted} ")),
            }
            handled_last = true;
        }
    }
    lines
}
