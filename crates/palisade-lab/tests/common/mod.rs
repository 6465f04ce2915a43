//! Shared helpers of the root-only lab tests.

// Each test binary uses a different subset.
#![allow(dead_code)]

use std::net::IpAddr;
use std::time::Duration;

use palisade_core::eval::Probe;
use palisade_core::model::{Cluster, Pod};
use palisade_lab::{LabConfig, check_preconditions};
use palisade_test_support::builders::{mk_cluster, ns, pod};

/// False (with a message) when the lab cannot run here, so the test passes vacuously.
pub fn lab_available(test: &str) -> bool {
    match check_preconditions() {
        Ok(()) => true,
        Err(e) => {
            eprintln!("skipping {test}: {e}");
            false
        }
    }
}

pub fn probe(s: &str) -> Probe {
    s.parse().expect("probe literal")
}

pub fn ip(s: &str) -> IpAddr {
    s.parse().expect("IP literal")
}

/// Namespaces x and y with pods a and b each, no policies; IPs as given ("" = allocate).
pub fn four_pods(ips: [&str; 4]) -> Cluster {
    let pods: Vec<Pod> = [("x", "a"), ("x", "b"), ("y", "a"), ("y", "b")]
        .iter()
        .zip(ips)
        .map(|(&(n, p), address)| pod(n, p, &[("app", p)], address))
        .collect();
    mk_cluster(vec![ns("x", &[]), ns("y", &[])], pods, vec![])
}

pub fn config(probes: &[&str], externals: &[&str]) -> LabConfig {
    LabConfig {
        probes: probes.iter().map(|p| probe(p)).collect(),
        externals: externals.iter().map(|e| ip(e)).collect(),
        timeout: Duration::from_millis(600),
        ..LabConfig::default()
    }
}

/// Namespaces whose name starts with `prefix`.
pub fn leftovers(prefix: &str) -> Vec<String> {
    palisade_lab::netns::list()
        .into_iter()
        .filter(|n| n.starts_with(prefix))
        .collect()
}
