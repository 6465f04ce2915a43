//! A lab that stays up: topology, servers and one enforcer per node, kept running until it is
//! dropped, so that a test can probe pairs one at a time, hold connections open and restart a
//! node's enforcer meanwhile. [`crate::run_plan`] is `up`, probe everything, tear down.
//!
//! ```text
//!   RunningLab::up   run dir -> topology -> servers -> enforcers -> settle -> open namespaces
//!   probe_once       one attempt from inside the source's namespace (on a thread of its own)
//!   connect_tcp      a stream created inside the source's namespace, kept as long as wanted
//!   kill_enforcer / start_enforcer / restart_enforcer   one node, while the rest keeps running
//!   down (or Drop)   namespaces files, enforcers, servers, topology, run dir: reverse order
//! ```

use std::fs::File;
use std::net::{IpAddr, SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use palisade_core::eval::Probe;
use socket2::{Domain, Protocol as SockProtocol, SockAddr, Socket, Type};

use crate::cleanup;
use crate::config::LabConfig;
use crate::enforcer::{Enforcer, NodeHandle, RunningEnforcer};
use crate::error::{LabError, Result};
use crate::manifests;
use crate::names::{self, RunNames};
use crate::netns;
use crate::plan::{Placement, Plan};
use crate::probe::{self, Job, Settings};
use crate::report::Outcome;
use crate::servers::Servers;
use crate::topology::Topology;

pub(crate) fn interrupted() -> Result<()> {
    if cleanup::cancelled() {
        Err(LabError::Interrupted)
    } else {
        Ok(())
    }
}

/// The run's directory: owner pid (so `clean` leaves a live run alone) and the manifests.
#[derive(Debug)]
struct RunDir {
    names: RunNames,
    path: PathBuf,
    manifests: PathBuf,
}

impl RunDir {
    fn claim() -> Result<(RunNames, RunDir)> {
        let root = PathBuf::from(names::RUN_DIR);
        std::fs::create_dir_all(&root)
            .map_err(|e| LabError::io(format!("creating {}", root.display()), e))?;
        loop {
            let names = RunNames::fresh(&netns::list());
            let path = names.run_dir();
            // Registered before anything exists, so a `clean` in this process never mistakes
            // a run being set up for a leftover.
            cleanup::register(&names);
            match std::fs::create_dir(&path) {
                Ok(()) => {
                    let dir = RunDir {
                        names: names.clone(),
                        manifests: path.join("manifests"),
                        path,
                    };
                    std::fs::write(dir.path.join("owner"), std::process::id().to_string())
                        .map_err(|e| LabError::io("writing the run's owner file", e))?;
                    std::fs::create_dir(&dir.manifests)
                        .map_err(|e| LabError::io("creating the manifests directory", e))?;
                    return Ok((names, dir));
                }
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                    cleanup::unregister(&names);
                    continue;
                }
                Err(e) => {
                    cleanup::unregister(&names);
                    return Err(LabError::io(format!("creating {}", path.display()), e));
                }
            }
        }
    }

    fn remove(&self) -> Result<()> {
        match std::fs::remove_dir_all(&self.path) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(LabError::io(format!("removing {}", self.path.display()), e)),
        }
    }
}

impl Drop for RunDir {
    fn drop(&mut self) {
        let _ = self.remove();
        cleanup::unregister(&self.names);
    }
}

/// Running enforcers, one slot per node (empty while a node's enforcer is down); dropping the
/// guard drops (stops) them.
#[derive(Debug, Default)]
struct Enforcers {
    handles: Vec<NodeHandle>,
    running: Vec<Option<Box<dyn RunningEnforcer>>>,
}

fn enforcer_error(node: &str, message: impl std::fmt::Display) -> LabError {
    LabError::Enforcer {
        node: node.to_string(),
        message: message.to_string(),
    }
}

impl Enforcers {
    fn start(
        plan: &Plan,
        topology: &Topology,
        manifests_dir: &Path,
        enforcer: &dyn Enforcer,
    ) -> Result<Enforcers> {
        let handles: Vec<NodeHandle> = plan
            .nodes
            .iter()
            .enumerate()
            .map(|(i, n)| NodeHandle {
                name: n.name.clone(),
                index: n.index,
                netns: topology.node_ns(i).unwrap_or_default().to_string(),
                manifests_dir: manifests_dir.to_path_buf(),
                pods: n
                    .pods
                    .iter()
                    .filter_map(|&p| plan.cluster.pods.get(p).map(|p| p.key()))
                    .collect(),
            })
            .collect();
        let results: Vec<_> = std::thread::scope(|s| {
            let threads: Vec<_> = handles
                .iter()
                .map(|h| s.spawn(move || enforcer.start_node(h, &plan.cluster)))
                .collect();
            threads.into_iter().map(|t| t.join()).collect()
        });
        let mut started = Enforcers {
            running: Vec::with_capacity(handles.len()),
            handles: Vec::new(),
        };
        let mut first_error = None;
        for (handle, result) in handles.iter().zip(results) {
            match result {
                Ok(Ok(running)) => started.running.push(Some(running)),
                Ok(Err(e)) => {
                    started.running.push(None);
                    first_error.get_or_insert(enforcer_error(&handle.name, e));
                }
                // Re-raise after the other nodes' enforcers are owned by `started`, so they
                // are stopped while unwinding.
                Err(panic) => std::panic::resume_unwind(panic),
            }
        }
        started.handles = handles;
        match first_error {
            Some(e) => Err(e),
            None => Ok(started),
        }
    }

    fn check(&mut self) -> Result<()> {
        for (handle, running) in self.handles.iter().zip(&mut self.running) {
            if let Some(running) = running {
                running
                    .check()
                    .map_err(|e| enforcer_error(&handle.name, e))?;
            }
        }
        Ok(())
    }

    fn stop(&mut self) -> Result<()> {
        let mut first_error = None;
        for (handle, running) in self.handles.iter().zip(&mut self.running) {
            if let Some(running) = running.take()
                && let Err(e) = running.stop()
            {
                first_error.get_or_insert(enforcer_error(&handle.name, format!("stopping: {e}")));
            }
        }
        first_error.map_or(Ok(()), Err)
    }

    fn slot(
        &mut self,
        node: usize,
    ) -> Result<(&NodeHandle, &mut Option<Box<dyn RunningEnforcer>>)> {
        match (self.handles.get(node), self.running.get_mut(node)) {
            (Some(h), Some(r)) => Ok((h, r)),
            _ => Err(LabError::Config(format!(
                "the lab has no node number {}",
                node + 1
            ))),
        }
    }
}

/// How long one enforcer restart took.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Restart {
    /// From the kill to the process being reaped.
    pub killed: Duration,
    /// From the new start to "ready" (its rules in force, as the enforcer reports it).
    pub ready: Duration,
}

/// A lab that is up: see the module documentation. Dropping it tears everything down.
pub struct RunningLab<'e> {
    // Field order is teardown order for the Drop safety net: files of namespaces, enforcers,
    // servers, namespaces, run directory.
    namespaces: Vec<(String, File)>,
    /// Per endpoint: index into `namespaces`.
    endpoint_ns: Vec<usize>,
    enforcers: Mutex<Enforcers>,
    pub(crate) servers: Servers,
    pub(crate) topology: Topology,
    run_dir: RunDir,
    enforcer: &'e dyn Enforcer,
    plan: Plan,
    settings: Settings,
    /// Setup durations: topology, servers, enforcers.
    pub(crate) setup: [Duration; 3],
}

impl<'e> RunningLab<'e> {
    /// Builds the lab for an already laid-out plan (see [`crate::plan::plan`]) and starts one
    /// enforcer per node; returns once every enforcer is ready and `config.settle` has passed.
    /// Does not check preconditions (see [`crate::check_preconditions`]).
    pub fn up(
        plan: Plan,
        config: &LabConfig,
        enforcer: &'e dyn Enforcer,
    ) -> Result<RunningLab<'e>> {
        config.validate()?;
        let probes = config.unique_probes();
        let t = Instant::now();
        let (names, run_dir) = RunDir::claim()?;
        std::fs::write(
            run_dir.manifests.join("cluster.json"),
            manifests::to_string(&plan.cluster),
        )
        .map_err(|e| LabError::io("writing the lab's manifests", e))?;
        let topology = Topology::build(&plan, names)?;
        let topology_time = t.elapsed();
        interrupted()?;

        let t = Instant::now();
        let servers = Servers::start(&crate::run::serve_specs(&plan, &topology, &probes))?;
        let servers_time = t.elapsed();
        interrupted()?;

        let t = Instant::now();
        let enforcers = Enforcers::start(&plan, &topology, &run_dir.manifests, enforcer)?;
        let enforcers_time = t.elapsed();
        std::thread::sleep(config.settle);
        interrupted()?;

        let mut namespaces: Vec<(String, File)> = Vec::new();
        let mut endpoint_ns = Vec::with_capacity(topology.endpoint_netns.len());
        for ns in &topology.endpoint_netns {
            let index = match namespaces.iter().position(|(n, _)| n == ns) {
                Some(i) => i,
                None => {
                    namespaces.push((ns.clone(), netns::open(ns)?));
                    namespaces.len() - 1
                }
            };
            endpoint_ns.push(index);
        }
        Ok(RunningLab {
            namespaces,
            endpoint_ns,
            enforcers: Mutex::new(enforcers),
            servers,
            topology,
            run_dir,
            enforcer,
            plan,
            settings: Settings {
                timeout: config.timeout,
                refused_is_blocked: config.refused_is_blocked,
            },
            setup: [topology_time, servers_time, enforcers_time],
        })
    }

    /// The adjusted cluster and where everything lives.
    pub fn plan(&self) -> &Plan {
        &self.plan
    }

    /// `pl-<run id>-`: the prefix of everything this lab created.
    pub fn prefix(&self) -> String {
        self.topology.names.prefix()
    }

    /// The index of the endpoint named `name` (`namespace/pod`, or an external's address).
    pub fn endpoint(&self, name: &str) -> Option<usize> {
        self.plan.endpoints.iter().position(|e| e.name == name)
    }

    /// The node (0-based index into [`Plan::nodes`]) an endpoint runs on; None for externals.
    pub fn node_of(&self, endpoint: usize) -> Option<usize> {
        match self.plan.endpoints.get(endpoint)?.placement {
            Placement::Pod { node } | Placement::HostNetwork { node } => Some(node),
            Placement::External { .. } => None,
        }
    }

    pub(crate) fn namespaces(&self) -> &[(String, File)] {
        &self.namespaces
    }

    pub(crate) fn endpoint_ns(&self, endpoint: usize) -> usize {
        self.endpoint_ns
            .get(endpoint)
            .copied()
            .unwrap_or(usize::MAX)
    }

    pub(crate) fn settings(&self) -> Settings {
        self.settings
    }

    /// The first address pair of a family both endpoints have.
    fn addresses(&self, from: usize, to: usize) -> Option<(IpAddr, IpAddr)> {
        let (src, dst) = (self.plan.endpoints.get(from)?, self.plan.endpoints.get(to)?);
        src.ips.iter().find_map(|s| {
            dst.ips
                .iter()
                .find(|d| d.is_ipv6() == s.is_ipv6())
                .map(|d| (*s, *d))
        })
    }

    /// Runs `f` on a fresh thread inside endpoint `from`'s namespace: `setns` moves only the
    /// calling thread, and the caller's thread must stay where it is.
    fn in_namespace_of<T: Send>(&self, from: usize, f: impl FnOnce() -> T + Send) -> Result<T> {
        let (name, file) = self
            .namespaces
            .get(self.endpoint_ns(from))
            .ok_or_else(|| LabError::Config(format!("no endpoint number {from}")))?;
        std::thread::scope(|s| {
            s.spawn(|| {
                netns::enter(file, name)?;
                Ok(f())
            })
            .join()
            .unwrap_or_else(|_| Err(LabError::setup("a namespace thread", "panicked")))
        })
    }

    /// One attempt of `probe` from endpoint `from` to endpoint `to` (first common IP family),
    /// bounded by the configured timeout.
    pub fn probe_once(&self, from: usize, to: usize, probe: Probe) -> Outcome {
        let Some((src, dst)) = self.addresses(from, to) else {
            return Outcome::NotTestable("the two endpoints share no IP family".to_string());
        };
        let job = Job {
            table: 0,
            from,
            to,
            probe,
            netns: self.endpoint_ns(from),
            src,
            dst,
        };
        let (settings, seen) = (self.settings, &self.servers.seen);
        self.in_namespace_of(from, || probe::attempt(&job, settings, seen))
            .unwrap_or_else(|e| Outcome::Error(e.to_string()))
    }

    /// A TCP connection from endpoint `from` to endpoint `to` on `port`, made inside `from`'s
    /// namespace and bound to its address. The lab's servers echo what they receive, so the
    /// stream can carry messages for as long as the caller keeps it.
    pub fn connect_tcp(
        &self,
        from: usize,
        to: usize,
        port: u16,
        timeout: Duration,
    ) -> Result<TcpStream> {
        let (src, dst) = self
            .addresses(from, to)
            .ok_or_else(|| LabError::Config("the two endpoints share no IP family".to_string()))?;
        self.in_namespace_of(from, || -> std::io::Result<TcpStream> {
            let domain = if dst.is_ipv6() {
                Domain::IPV6
            } else {
                Domain::IPV4
            };
            let s = Socket::new(domain, Type::STREAM, Some(SockProtocol::TCP))?;
            s.bind(&SockAddr::from(SocketAddr::new(src, 0)))?;
            s.connect_timeout(&SockAddr::from(SocketAddr::new(dst, port)), timeout)?;
            Ok(s.into())
        })?
        .map_err(|e| LabError::io(format!("connecting {src} -> {dst}:{port}"), e))
    }

    /// An error if some node's enforcer died (a killed one that was not started again is not
    /// checked).
    pub fn check_enforcers(&self) -> Result<()> {
        self.lock_enforcers()?.check()
    }

    fn lock_enforcers(&self) -> Result<std::sync::MutexGuard<'_, Enforcers>> {
        self.enforcers
            .lock()
            .map_err(|_| LabError::setup("the enforcers", "a restart panicked"))
    }

    /// Kills node `node`'s enforcer (0-based) the hard way (SIGKILL for a process): nothing it
    /// could do on a graceful exit is done. Its rules stay wherever it left them.
    pub fn kill_enforcer(&self, node: usize) -> Result<Duration> {
        let mut enforcers = self.lock_enforcers()?;
        let (handle, slot) = enforcers.slot(node)?;
        let t = Instant::now();
        if let Some(running) = slot.take() {
            running
                .kill()
                .map_err(|e| enforcer_error(&handle.name, format!("killing: {e}")))?;
        }
        Ok(t.elapsed())
    }

    /// Starts node `node`'s enforcer (0-based) again; returns once it reports ready.
    pub fn start_enforcer(&self, node: usize) -> Result<Duration> {
        let mut enforcers = self.lock_enforcers()?;
        let (handle, slot) = enforcers.slot(node)?;
        if slot.is_some() {
            return Err(enforcer_error(&handle.name, "already running"));
        }
        let t = Instant::now();
        let running = self
            .enforcer
            .start_node(handle, &self.plan.cluster)
            .map_err(|e| enforcer_error(&handle.name, format!("restarting: {e}")))?;
        *slot = Some(running);
        Ok(t.elapsed())
    }

    /// [`RunningLab::kill_enforcer`] then [`RunningLab::start_enforcer`].
    pub fn restart_enforcer(&self, node: usize) -> Result<Restart> {
        let killed = self.kill_enforcer(node)?;
        let ready = self.start_enforcer(node)?;
        Ok(Restart { killed, ready })
    }

    /// Stops the enforcers and removes everything the lab created; returns how long it took.
    pub fn down(mut self) -> Result<Duration> {
        self.teardown()
    }

    pub(crate) fn teardown(&mut self) -> Result<Duration> {
        let t = Instant::now();
        // Open namespace files would keep the namespaces alive after their names go.
        self.namespaces.clear();
        let stopped = match self.enforcers.get_mut() {
            Ok(e) => e.stop(),
            Err(poisoned) => poisoned.into_inner().stop(),
        };
        self.servers.stop();
        self.topology.remove()?;
        self.run_dir.remove()?;
        stopped?;
        Ok(t.elapsed())
    }
}

impl std::fmt::Debug for RunningLab<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RunningLab")
            .field("prefix", &self.topology.names.prefix())
            .field("enforcer", &self.enforcer.describe())
            .field("endpoints", &self.plan.endpoints.len())
            .finish_non_exhaustive()
    }
}

impl Drop for RunningLab<'_> {
    fn drop(&mut self) {
        // Errors are reported by an explicit `down`; Drop is the safety net on failure paths.
        let _ = self.teardown();
    }
}
