//! Entering network namespaces and running `ip`.
//!
//! `setns` changes the namespace of the calling thread only, so every use happens on a dedicated
//! OS thread that never returns to a shared pool. A socket keeps the namespace it was created in
//! for its whole life, wherever it is used afterwards: servers are bound on such a thread and then
//! served from anywhere.

use std::fs::File;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use nix::sched::{CloneFlags, setns};

use crate::error::{LabError, Result};

/// Where `ip netns add` mounts named namespaces.
pub const NETNS_DIR: &str = "/run/netns";

pub fn path(name: &str) -> PathBuf {
    Path::new(NETNS_DIR).join(name)
}

pub fn open(name: &str) -> Result<File> {
    File::open(path(name)).map_err(|e| LabError::io(format!("opening namespace {name}"), e))
}

/// Moves the calling thread into `ns`. Only call on a thread that belongs to the lab.
pub fn enter(ns: &File, name: &str) -> Result<()> {
    setns(ns, CloneFlags::CLONE_NEWNET)
        .map_err(|e| LabError::setup(format!("entering namespace {name}"), e.to_string()))
}

/// Writes a sysctl of the calling thread's namespace (`/proc/sys/net` follows the thread).
pub fn sysctl(key: &str, value: &str) -> Result<()> {
    let file = Path::new("/proc/sys").join(key.replace('.', "/"));
    std::fs::write(&file, value).map_err(|e| LabError::io(format!("setting {key}={value}"), e))
}

/// Names of the named network namespaces (`ip netns list` without spawning it).
pub fn list() -> Vec<String> {
    let Ok(dir) = std::fs::read_dir(NETNS_DIR) else {
        return Vec::new();
    };
    let mut names: Vec<String> = dir
        .filter_map(|e| e.ok())
        .filter_map(|e| e.file_name().into_string().ok())
        .collect();
    names.sort();
    names
}

/// One `ip -batch -` invocation, optionally inside a namespace (`ip -n NS`).
#[derive(Debug, Clone)]
pub struct IpBatch {
    pub netns: Option<String>,
    pub script: String,
    /// Continue past failing lines (teardown) instead of stopping at the first.
    pub force: bool,
}

impl IpBatch {
    pub fn new(netns: Option<&str>) -> IpBatch {
        IpBatch {
            netns: netns.map(str::to_string),
            script: String::new(),
            force: false,
        }
    }

    pub fn line(&mut self, line: impl AsRef<str>) {
        self.script.push_str(line.as_ref());
        self.script.push('\n');
    }

    fn command(&self) -> Command {
        let mut cmd = Command::new("ip");
        if let Some(ns) = &self.netns {
            cmd.args(["-n", ns]);
        }
        if self.force {
            cmd.arg("-force");
        }
        cmd.args(["-batch", "-"])
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        cmd
    }
}

/// Runs every batch at once and waits for all of them; the first failure names its namespace.
pub fn run_batches(batches: &[IpBatch]) -> Result<()> {
    let mut children = Vec::with_capacity(batches.len());
    for batch in batches.iter().filter(|b| !b.script.is_empty()) {
        let mut child = batch
            .command()
            .spawn()
            .map_err(|e| LabError::io("running `ip`", e))?;
        if let Some(mut stdin) = child.stdin.take() {
            // A failed write shows up as the command's own error below.
            let _ = stdin.write_all(batch.script.as_bytes());
        }
        children.push((batch, child));
    }
    let mut first_error = None;
    for (batch, child) in children {
        let out = child
            .wait_with_output()
            .map_err(|e| LabError::io("waiting for `ip`", e))?;
        if !out.status.success() && first_error.is_none() && !batch.force {
            let where_ = batch.netns.as_deref().unwrap_or("the root namespace");
            first_error = Some(LabError::setup(
                format!("`ip -batch` in {where_}"),
                String::from_utf8_lossy(&out.stderr).trim().to_string(),
            ));
        }
    }
    first_error.map_or(Ok(()), Err)
}
