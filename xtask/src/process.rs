//! Running external commands: echo them (passwords masked), check their exit status, find programs.

use std::ffi::OsStr;
use std::path::PathBuf;
use std::process::{Command, ExitStatus, Output, Stdio};

use crate::Result;
use crate::config::redact_url;

/// The command as a shell-like line, with passwords in URLs masked.
pub fn display(cmd: &Command) -> String {
    let mut parts = vec![quote(cmd.get_program())];
    parts.extend(cmd.get_args().map(quote));
    parts.join(" ")
}

fn quote(arg: &OsStr) -> String {
    let arg = redact_url(&arg.to_string_lossy());
    let plain = !arg.is_empty()
        && arg
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./=:,@%+*".contains(c));
    if plain {
        arg
    } else {
        format!("'{}'", arg.replace('\'', r"'\''"))
    }
}

/// Echoes and runs the command with inherited stdio; returns its exit status.
pub fn status(cmd: &mut Command) -> Result<ExitStatus> {
    println!("$ {}", display(cmd));
    cmd.status()
        .map_err(|e| format!("could not start `{}`: {e}", display(cmd)))
}

/// Echoes and runs the command; fails unless it exits successfully.
pub fn run(cmd: &mut Command) -> Result<()> {
    let status = status(cmd)?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("`{}` failed ({status})", display(cmd)))
    }
}

/// Runs the command quietly and captures its output (stdin closed).
pub fn output(cmd: &mut Command) -> Result<Output> {
    cmd.stdin(Stdio::null())
        .output()
        .map_err(|e| format!("could not start `{}`: {e}", display(cmd)))
}

/// Whether the command runs and exits successfully, with all output discarded.
pub fn succeeds(cmd: &mut Command) -> bool {
    cmd.stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// The program's path if it is on `PATH`.
pub fn which(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|candidate| candidate.is_file())
}

/// Whether this process runs as root (`None` when it cannot tell, e.g. without /proc).
pub fn is_root() -> Option<bool> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("Uid:"))?;
    // Uid: real effective saved filesystem
    let effective = line.split_whitespace().nth(2)?;
    Some(effective == "0")
}
