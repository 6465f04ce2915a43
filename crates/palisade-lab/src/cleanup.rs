//! Leaving nothing behind: the registry of live runs, teardown of namespaces (and whatever runs
//! in them), Ctrl-C handling, and `palisade lab clean` for what a killed run left.
//!
//! ```text
//!   run starts      register(run) + <RUN_DIR>/<id>/owner = pid
//!   run ends        Drop guards: enforcers -> servers -> namespaces -> run dir; unregister
//!   Ctrl-C          cancelled() turns true; the run unwinds through its guards; whatever is
//!                   still registered after a grace period is removed by the handler, exit 130
//!   killed run      clean(): every pl-<id>-* namespace whose owner process is gone
//! ```

use std::collections::BTreeMap;
use std::fmt;
use std::os::unix::fs::MetadataExt as _;
use std::path::Path;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

use crate::error::{LabError, Result};
use crate::names::{self, RunNames};
use crate::netns::{self, IpBatch};

static ACTIVE: Mutex<Vec<String>> = Mutex::new(Vec::new());
static CANCELLED: AtomicBool = AtomicBool::new(false);

/// True once Ctrl-C or SIGTERM arrived (after [`install_signal_cleanup`]).
pub fn cancelled() -> bool {
    CANCELLED.load(Ordering::SeqCst)
}

pub(crate) fn register(run: &RunNames) {
    if let Ok(mut active) = ACTIVE.lock() {
        active.push(run.id().to_string());
    }
}

pub(crate) fn unregister(run: &RunNames) {
    if let Ok(mut active) = ACTIVE.lock() {
        active.retain(|id| id != run.id());
    }
}

fn active_ids() -> Vec<String> {
    ACTIVE.lock().map(|a| a.clone()).unwrap_or_default()
}

/// Installs a Ctrl-C / SIGTERM handler that tears down every live run of this process, then
/// exits with status 130. Call once, early in `main`. Without it, a signal kills the process
/// before any Drop runs and `palisade lab clean` has to remove the leftovers.
pub fn install_signal_cleanup() -> Result<()> {
    ctrlc::set_handler(|| {
        CANCELLED.store(true, Ordering::SeqCst);
        if active_ids().is_empty() {
            std::process::exit(130);
        }
        eprintln!("palisade lab: interrupted, tearing the lab down...");
        // The run notices `cancelled()` between probes and unwinds through its guards.
        let deadline = Instant::now() + Duration::from_secs(5);
        while !active_ids().is_empty() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(50));
        }
        for id in active_ids() {
            let prefix = format!("{}{id}-", names::PREFIX);
            let leftovers: Vec<String> = netns::list()
                .into_iter()
                .filter(|n| n.starts_with(&prefix))
                .collect();
            let _ = remove_namespaces(&leftovers);
            let _ = std::fs::remove_dir_all(Path::new(names::RUN_DIR).join(&id));
        }
        // Give the main thread a moment to print its own error before the process ends.
        std::thread::sleep(Duration::from_millis(500));
        std::process::exit(130);
    })
    .map_err(|e| LabError::setup("installing the Ctrl-C handler", e.to_string()))
}

/// What [`clean`] removed, and what it left because its run is still alive.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct CleanReport {
    pub namespaces: Vec<String>,
    pub processes: Vec<i32>,
    pub links: Vec<String>,
    pub run_dirs: Vec<String>,
    /// `(run id, owner pid)` of runs left alone because their process is alive.
    pub skipped: Vec<(String, i32)>,
}

impl CleanReport {
    pub fn is_empty(&self) -> bool {
        self.namespaces.is_empty()
            && self.processes.is_empty()
            && self.links.is_empty()
            && self.run_dirs.is_empty()
    }
}

impl fmt::Display for CleanReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_empty() {
            writeln!(f, "nothing to clean")?;
        }
        if !self.namespaces.is_empty() {
            writeln!(
                f,
                "removed {} namespaces: {}",
                self.namespaces.len(),
                self.namespaces.join(" ")
            )?;
        }
        if !self.processes.is_empty() {
            let pids: Vec<String> = self.processes.iter().map(i32::to_string).collect();
            writeln!(f, "killed processes: {}", pids.join(" "))?;
        }
        if !self.links.is_empty() {
            writeln!(f, "removed links: {}", self.links.join(" "))?;
        }
        for (id, pid) in &self.skipped {
            writeln!(f, "left run {id} alone: its process {pid} is still running")?;
        }
        Ok(())
    }
}

/// The pid recorded as owner of run `id`, if any.
fn owner_of(id: &str) -> Option<i32> {
    let text = std::fs::read_to_string(Path::new(names::RUN_DIR).join(id).join("owner")).ok()?;
    text.trim().parse().ok()
}

fn alive(pid: i32) -> bool {
    // A zombie has exited; its /proc entry stays until it is reaped.
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => !stat
            .rsplit_once(')')
            .is_some_and(|(_, rest)| rest.trim_start().starts_with('Z')),
        Err(_) => false,
    }
}

/// Removes every `pl-<id>-*` namespace, link and run directory whose run is no longer alive,
/// killing processes left inside those namespaces. Runs owned by a live process (another lab,
/// or a live run of this process) are listed in `skipped` and left alone.
pub fn clean() -> Result<CleanReport> {
    let mut report = CleanReport::default();
    let own = std::process::id() as i32;
    let active = active_ids();
    let mut by_run: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for ns in netns::list() {
        if let Some(id) = names::run_id_of(&ns) {
            by_run.entry(id.to_string()).or_default().push(ns);
        }
    }
    if let Ok(dir) = std::fs::read_dir(names::RUN_DIR) {
        for entry in dir.filter_map(|e| e.ok()) {
            if let Ok(id) = entry.file_name().into_string() {
                by_run.entry(id).or_default();
            }
        }
    }
    for (id, namespaces) in by_run {
        let owner = owner_of(&id);
        let live = match owner {
            Some(pid) if pid == own => active.contains(&id),
            Some(pid) => alive(pid),
            None => false,
        };
        if live {
            report.skipped.push((id, owner.unwrap_or(0)));
            continue;
        }
        let killed = remove_namespaces(&namespaces)?;
        report.processes.extend(killed);
        report.namespaces.extend(namespaces);
        let dir = Path::new(names::RUN_DIR).join(&id);
        if dir.exists() {
            std::fs::remove_dir_all(&dir)
                .map_err(|e| LabError::io(format!("removing {}", dir.display()), e))?;
            report.run_dirs.push(dir.display().to_string());
        }
    }
    // Links are only ever created inside lab namespaces; one in the root namespace is a leftover
    // of an interrupted `ip link add` and is removed if its run is not alive.
    let mut root = IpBatch::new(None);
    root.force = true;
    if let Ok(dir) = std::fs::read_dir("/sys/class/net") {
        for entry in dir.filter_map(|e| e.ok()) {
            let Ok(name) = entry.file_name().into_string() else {
                continue;
            };
            let Some(id) = names::run_id_of(&name) else {
                continue;
            };
            if report.skipped.iter().any(|(s, _)| s == id) {
                continue;
            }
            root.line(format!("link del {name}"));
            report.links.push(name);
        }
    }
    netns::run_batches(&[root])?;
    Ok(report)
}

/// Pids of processes (other than this one) whose network namespace is one of `names`.
fn pids_in(names: &[String]) -> Vec<i32> {
    let inodes: Vec<(u64, u64)> = names
        .iter()
        .filter_map(|n| std::fs::metadata(netns::path(n)).ok())
        .map(|m| (m.dev(), m.ino()))
        .collect();
    if inodes.is_empty() {
        return Vec::new();
    }
    let own = std::process::id() as i32;
    let Ok(proc_dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    let mut pids = Vec::new();
    for entry in proc_dir.filter_map(|e| e.ok()) {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|s| s.parse::<i32>().ok())
        else {
            continue;
        };
        if pid == own {
            continue;
        }
        let Ok(meta) = std::fs::metadata(format!("/proc/{pid}/ns/net")) else {
            continue;
        };
        // A bind-mounted namespace file and /proc/<pid>/ns/net share the nsfs inode.
        if inodes.iter().any(|&(_, ino)| ino == meta.ino()) {
            pids.push(pid);
        }
    }
    pids
}

/// Kills what runs inside `names` (TERM, then KILL after a second) and deletes the namespaces.
/// Returns the pids that were signalled.
pub(crate) fn remove_namespaces(names: &[String]) -> Result<Vec<i32>> {
    if names.is_empty() {
        return Ok(Vec::new());
    }
    let pids = pids_in(names);
    for &pid in &pids {
        let _ = kill(Pid::from_raw(pid), Signal::SIGTERM);
    }
    let deadline = Instant::now() + Duration::from_secs(1);
    while !pids.is_empty() && Instant::now() < deadline {
        if pids
            .iter()
            .all(|&p| !alive(p) || !pids_in(names).contains(&p))
        {
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    for &pid in &pids_in(names) {
        let _ = kill(Pid::from_raw(pid), Signal::SIGKILL);
    }
    let mut batch = IpBatch::new(None);
    batch.force = true;
    for ns in names {
        batch.line(format!("netns del {ns}"));
    }
    netns::run_batches(&[batch])?;
    let left: Vec<&String> = names.iter().filter(|n| netns::path(n).exists()).collect();
    if left.is_empty() {
        Ok(pids)
    } else {
        Err(LabError::setup(
            "removing namespaces",
            format!(
                "still present: {}",
                left.iter()
                    .map(|s| s.as_str())
                    .collect::<Vec<_>>()
                    .join(" ")
            ),
        ))
    }
}
