//! What a lab run is asked to do: how many nodes, which probes, which external hosts, and the
//! bounds (timeouts, parallelism) that keep a run short.

use std::net::IpAddr;
use std::time::Duration;

use palisade_core::eval::Probe;
use palisade_core::model::Protocol;

use crate::error::{LabError, Result};

/// The largest node count: node `n` allocates pod addresses from `10.244.<n>.0/24`.
pub const MAX_NODES: usize = 200;

#[derive(Debug, Clone)]
pub struct LabConfig {
    /// Node namespaces, named `node-1` .. `node-N`. Default 2, so cross-node pairs exist.
    pub nodes: usize,
    /// The probes, each giving one truth table. Default: `tcp/80` and `udp/80`.
    pub probes: Vec<Probe>,
    /// Non-pod hosts behind the fabric, endpoints after the pods (in this order).
    pub externals: Vec<IpAddr>,
    /// How long one probe may take before it counts as blocked. Default 1 s.
    pub timeout: Duration,
    /// Probes in flight at once. Default 64: a blocked probe just waits out its timeout.
    pub parallelism: usize,
    /// Treat a refused TCP connection (RST) or a UDP port-unreachable as blocked, for enforcers
    /// that reject instead of dropping. Default false: every probed port has a listener, so a
    /// refusal means something is wrong and is reported as an error.
    pub refused_is_blocked: bool,
    /// Pause between "every enforcer is ready" and the first probe. Default 0.
    pub settle: Duration,
}

impl Default for LabConfig {
    fn default() -> LabConfig {
        LabConfig {
            nodes: 2,
            probes: vec![
                Probe {
                    protocol: Protocol::Tcp,
                    port: 80,
                },
                Probe {
                    protocol: Protocol::Udp,
                    port: 80,
                },
            ],
            externals: Vec::new(),
            timeout: Duration::from_secs(1),
            parallelism: 64,
            refused_is_blocked: false,
            settle: Duration::ZERO,
        }
    }
}

impl LabConfig {
    /// Rejects settings the lab cannot honour, before anything is created.
    pub fn validate(&self) -> Result<()> {
        if self.nodes == 0 || self.nodes > MAX_NODES {
            return Err(LabError::Config(format!(
                "--nodes must be between 1 and {MAX_NODES}, not {}",
                self.nodes
            )));
        }
        if self.probes.is_empty() {
            return Err(LabError::Config(
                "give at least one probe, e.g. tcp/80".to_string(),
            ));
        }
        if let Some(p) = self.probes.iter().find(|p| p.port == 0) {
            return Err(LabError::Config(format!(
                "probe {p}: port 0 cannot be listened on or connected to"
            )));
        }
        if self.timeout.is_zero() {
            return Err(LabError::Config("the probe timeout must be above 0".into()));
        }
        Ok(())
    }

    /// The probes without repetitions, in the order given.
    pub(crate) fn unique_probes(&self) -> Vec<Probe> {
        let mut out: Vec<Probe> = Vec::with_capacity(self.probes.len());
        for p in &self.probes {
            if !out.contains(p) {
                out.push(*p);
            }
        }
        out
    }
}
