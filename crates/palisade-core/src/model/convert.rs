//! Kubernetes objects -> palisade's model, once, with every API default spelled out.
//! (stub: to be implemented)

use crate::diag::Diagnostic;
use crate::load::LoadedObject;
use crate::model::Cluster;

/// Builds the cluster from objects that passed validation. Objects are given in input order;
/// the result is sorted and independent of that order. Returns diagnostics for conflicts
/// (e.g. two objects with the same kind, namespace and name).
pub fn build_cluster(objects: &[&LoadedObject]) -> (Cluster, Vec<Diagnostic>) {
    let _ = objects;
    unimplemented!("convert")
}
