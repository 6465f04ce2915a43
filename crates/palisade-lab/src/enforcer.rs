//! Who enforces policy in the lab: one [`RunningEnforcer`] per node, started by an [`Enforcer`]
//! once the topology and servers are up, stopped before the namespaces go.
//!
//! ```text
//!   NoEnforcer        nothing: every pair should get through
//!   NftEnforcer       a fixed `nft -f` ruleset per node (tests: prove blocking is observed)
//!   CommandEnforcer   a process per node inside the node's namespace, ready when it prints a
//!                     marker line: `palisade agent --node N --manifests DIR`
//! ```

use std::collections::BTreeMap;
use std::fmt;
use std::io::{BufRead as _, BufReader, Write as _};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use palisade_core::model::Cluster;

use crate::error::EnforcerError;

/// One lab node, as an enforcer sees it.
#[derive(Debug, Clone)]
pub struct NodeHandle {
    /// `node-<index>`: the name pods' `spec.nodeName` carries in the adjusted cluster.
    pub name: String,
    /// 1-based.
    pub index: usize,
    /// The node's network namespace (`ip netns exec <netns> ...`).
    pub netns: String,
    /// A directory holding the adjusted cluster as manifests (`cluster.json`, a `List`).
    pub manifests_dir: PathBuf,
    /// `namespace/name` of the pods placed on this node.
    pub pods: Vec<String>,
}

impl NodeHandle {
    /// `ip netns exec <netns> <program>`: a command that runs inside this node's namespace.
    pub fn command(&self, program: impl AsRef<std::ffi::OsStr>) -> Command {
        let mut cmd = Command::new("ip");
        cmd.args(["netns", "exec", &self.netns]).arg(program);
        cmd
    }
}

/// Starts enforcement on one node; called once per node, possibly from several threads at once.
pub trait Enforcer: Sync {
    /// For reports: what enforces (`none`, `nft`, `palisade agent`).
    fn describe(&self) -> String;

    /// Starts enforcing on `node` and returns once the node's rules are in force. `cluster` is
    /// the adjusted cluster (the one written to `node.manifests_dir`).
    fn start_node(
        &self,
        node: &NodeHandle,
        cluster: &Cluster,
    ) -> Result<Box<dyn RunningEnforcer>, EnforcerError>;
}

/// Enforcement running on one node. Dropping it must stop it too (Drop is the panic path).
pub trait RunningEnforcer: Send + fmt::Debug {
    /// Called after probing: an error if enforcement died meanwhile, so the run is not trusted.
    fn check(&mut self) -> Result<(), EnforcerError> {
        Ok(())
    }

    /// Stops enforcing.
    fn stop(self: Box<Self>) -> Result<(), EnforcerError> {
        Ok(())
    }

    /// Stops without letting it clean up (SIGKILL for a process): what a crash looks like.
    /// Defaults to [`RunningEnforcer::stop`] for enforcers that have nothing to kill.
    fn kill(self: Box<Self>) -> Result<(), EnforcerError> {
        self.stop()
    }
}

#[derive(Debug)]
struct Nothing;

impl RunningEnforcer for Nothing {}

/// No rules at all: every pair should get through.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoEnforcer;

impl Enforcer for NoEnforcer {
    fn describe(&self) -> String {
        "none".to_string()
    }

    fn start_node(
        &self,
        _node: &NodeHandle,
        _cluster: &Cluster,
    ) -> Result<Box<dyn RunningEnforcer>, EnforcerError> {
        Ok(Box::new(Nothing))
    }
}

/// Loads a fixed ruleset (`nft -f` text) into chosen nodes' namespaces. Node names without an
/// entry get no rules. The rules die with the namespace.
#[derive(Debug, Clone, Default)]
pub struct NftEnforcer {
    pub rulesets: BTreeMap<String, String>,
}

impl NftEnforcer {
    pub fn new(rulesets: impl IntoIterator<Item = (String, String)>) -> NftEnforcer {
        NftEnforcer {
            rulesets: rulesets.into_iter().collect(),
        }
    }
}

/// Runs `nft -f -` with `text` inside `node`'s namespace.
pub fn load_nft(node: &NodeHandle, text: &str) -> Result<(), EnforcerError> {
    let mut child = node
        .command("nft")
        .args(["-f", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()?;
    if let Some(mut stdin) = child.stdin.take() {
        stdin.write_all(text.as_bytes())?;
    }
    let out = child.wait_with_output()?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "nft -f failed in {}: {}",
            node.netns,
            String::from_utf8_lossy(&out.stderr).trim()
        )
        .into())
    }
}

impl Enforcer for NftEnforcer {
    fn describe(&self) -> String {
        "nft (fixed rulesets)".to_string()
    }

    fn start_node(
        &self,
        node: &NodeHandle,
        _cluster: &Cluster,
    ) -> Result<Box<dyn RunningEnforcer>, EnforcerError> {
        if let Some(text) = self.rulesets.get(&node.name) {
            load_nft(node, text)?;
        }
        Ok(Box::new(Nothing))
    }
}

type CommandBuilder = dyn Fn(&NodeHandle) -> Command + Send + Sync;

/// A process per node, started inside the node's namespace, ready once a line of its stdout
/// or stderr contains `ready_marker`. The lead's agent wiring:
///
/// ```no_run
/// # use palisade_lab::CommandEnforcer;
/// let exe = std::env::current_exe().unwrap();
/// let agent = CommandEnforcer::new("palisade agent", move |node| {
///     let mut cmd = node.command(&exe);
///     cmd.args(["agent", "--node", &node.name, "--manifests"]).arg(&node.manifests_dir);
///     cmd
/// }, "ready");
/// ```
pub struct CommandEnforcer {
    name: String,
    build: Box<CommandBuilder>,
    ready_marker: String,
    pub ready_timeout: Duration,
    pub stop_timeout: Duration,
}

impl fmt::Debug for CommandEnforcer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CommandEnforcer")
            .field("name", &self.name)
            .field("ready_marker", &self.ready_marker)
            .finish_non_exhaustive()
    }
}

impl CommandEnforcer {
    /// `build` makes the command for a node; use [`NodeHandle::command`] so it runs in the
    /// node's namespace.
    pub fn new(
        name: impl Into<String>,
        build: impl Fn(&NodeHandle) -> Command + Send + Sync + 'static,
        ready_marker: impl Into<String>,
    ) -> CommandEnforcer {
        CommandEnforcer {
            name: name.into(),
            build: Box::new(build),
            ready_marker: ready_marker.into(),
            ready_timeout: Duration::from_secs(10),
            stop_timeout: Duration::from_secs(2),
        }
    }
}

/// A started process; its output is drained by two threads that keep the last lines.
#[derive(Debug)]
struct RunningCommand {
    node: String,
    child: Child,
    tail: Arc<Mutex<Vec<String>>>,
    stop_timeout: Duration,
}

const TAIL_LINES: usize = 20;

impl RunningCommand {
    fn tail_text(&self) -> String {
        self.tail.lock().map(|t| t.join("\n")).unwrap_or_default()
    }

    fn terminate(&mut self) -> Result<(), EnforcerError> {
        if self.child.try_wait()?.is_some() {
            return Ok(());
        }
        let pid = Pid::from_raw(self.child.id() as i32);
        let _ = kill(pid, Signal::SIGTERM);
        let deadline = Instant::now() + self.stop_timeout;
        while Instant::now() < deadline {
            if self.child.try_wait()?.is_some() {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        self.child.kill()?;
        self.child.wait()?;
        Ok(())
    }
}

impl RunningEnforcer for RunningCommand {
    fn check(&mut self) -> Result<(), EnforcerError> {
        match self.child.try_wait()? {
            None => Ok(()),
            Some(status) => Err(format!(
                "enforcer on {} exited early ({status}); last output:\n{}",
                self.node,
                self.tail_text()
            )
            .into()),
        }
    }

    fn stop(mut self: Box<Self>) -> Result<(), EnforcerError> {
        self.terminate()
    }

    fn kill(mut self: Box<Self>) -> Result<(), EnforcerError> {
        if self.child.try_wait()?.is_none() {
            // `ip netns exec` execs the program, so this is the enforcer's own pid.
            self.child.kill()?;
            self.child.wait()?;
        }
        Ok(())
    }
}

impl Drop for RunningCommand {
    fn drop(&mut self) {
        let _ = self.terminate();
    }
}

impl Enforcer for CommandEnforcer {
    fn describe(&self) -> String {
        self.name.clone()
    }

    fn start_node(
        &self,
        node: &NodeHandle,
        _cluster: &Cluster,
    ) -> Result<Box<dyn RunningEnforcer>, EnforcerError> {
        let mut cmd = (self.build)(node);
        cmd.stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = cmd.spawn()?;
        let tail = Arc::new(Mutex::new(Vec::new()));
        let (ready_tx, ready_rx) = mpsc::channel::<()>();
        let streams: Vec<Box<dyn std::io::Read + Send>> = [
            child
                .stdout
                .take()
                .map(|s| Box::new(s) as Box<dyn std::io::Read + Send>),
            child
                .stderr
                .take()
                .map(|s| Box::new(s) as Box<dyn std::io::Read + Send>),
        ]
        .into_iter()
        .flatten()
        .collect();
        for stream in streams {
            let (tail, tx, marker) = (tail.clone(), ready_tx.clone(), self.ready_marker.clone());
            // Drained until the process exits, so it never blocks on a full pipe.
            std::thread::spawn(move || {
                for line in BufReader::new(stream).lines() {
                    let Ok(line) = line else { break };
                    if line.contains(&marker) {
                        let _ = tx.send(());
                    }
                    if let Ok(mut t) = tail.lock() {
                        t.push(line);
                        if t.len() > TAIL_LINES {
                            t.remove(0);
                        }
                    }
                }
            });
        }
        drop(ready_tx);
        let mut running = RunningCommand {
            node: node.name.clone(),
            child,
            tail,
            stop_timeout: self.stop_timeout,
        };
        match ready_rx.recv_timeout(self.ready_timeout) {
            Ok(()) => Ok(Box::new(running)),
            Err(mpsc::RecvTimeoutError::Timeout) => {
                let _ = running.terminate();
                Err(format!(
                    "not ready after {:?} (no line containing {:?}); last output:\n{}",
                    self.ready_timeout,
                    self.ready_marker,
                    running.tail_text()
                )
                .into())
            }
            Err(mpsc::RecvTimeoutError::Disconnected) => {
                let status = running.child.wait()?;
                Err(format!(
                    "exited before it was ready ({status}); last output:\n{}",
                    running.tail_text()
                )
                .into())
            }
        }
    }
}
