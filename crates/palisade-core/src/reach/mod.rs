//! All-pairs reachability over a cluster. (stub: to be implemented)

use std::net::IpAddr;

use crate::eval::{PortSet, Probe};
use crate::model::Cluster;

/// Allowed protocol/ports for every ordered pair of endpoints: the cluster's pods (in
/// [`Cluster::pods`] order) followed by the external addresses (in the order given).
#[derive(Debug, Clone)]
pub struct Reachability {}

impl Reachability {
    pub fn compute(cluster: &Cluster, externals: &[IpAddr]) -> Reachability {
        let _ = (cluster, externals);
        unimplemented!("reach")
    }

    /// `namespace/name` for pods, the address for externals.
    pub fn endpoint_names(&self) -> Vec<String> {
        unimplemented!("reach")
    }

    pub fn len(&self) -> usize {
        unimplemented!("reach")
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The protocol/ports `from` may use to reach `to` (everything when `from == to`).
    pub fn ports(&self, from: usize, to: usize) -> &PortSet {
        let _ = (from, to);
        unimplemented!("reach")
    }

    pub fn allowed(&self, from: usize, to: usize, probe: Probe) -> bool {
        let _ = (from, to, probe);
        unimplemented!("reach")
    }
}
