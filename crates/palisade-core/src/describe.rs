//! Policies and pod isolation in plain words. (stub: to be implemented)

use crate::model::{Cluster, Policy, Pod};

/// What `policy` does, in sentences a careful colleague would write.
pub fn policy(cluster: &Cluster, policy: &Policy) -> String {
    let _ = (cluster, policy);
    unimplemented!("describe")
}

/// The effective isolation of `pod`: which policies select it, what each direction accepts.
pub fn pod(cluster: &Cluster, pod: &Pod) -> String {
    let _ = (cluster, pod);
    unimplemented!("describe")
}
