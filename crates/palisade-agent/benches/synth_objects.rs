//! The benchmark cluster as API objects: palisade-test-support's synthetic cluster (10,000
//! pods in 50 namespaces, 3,000 policies), spread round robin over 91 nodes so that about 110
//! pods are local to `node-0` (the kubelet's default pod limit), written out by the lab's
//! manifest writer and read back as k8s-openapi objects with a uid and resourceVersion each.
//! Shared by `benches/cluster_index.rs` and `examples/index_memory.rs`.

#![allow(dead_code)]

use k8s_openapi::api::core::v1::{Namespace, Pod};
use k8s_openapi::api::networking::v1::NetworkPolicy;
use palisade_core::model::Cluster;
use palisade_test_support::synth::{SynthParams, generate};

pub const NODES: usize = 91;
pub const NODE: &str = "node-0";

#[derive(Debug, Default)]
pub struct Objects {
    pub namespaces: Vec<Namespace>,
    pub pods: Vec<Pod>,
    pub policies: Vec<NetworkPolicy>,
}

pub fn model(pods: usize, namespaces: usize, policies: usize) -> Cluster {
    let mut cluster = generate(SynthParams {
        namespaces,
        pods,
        policies,
        seed: 1,
    });
    for (i, pod) in cluster.pods.iter_mut().enumerate() {
        if !pod.host_network {
            pod.node = Some(format!("node-{}", i % NODES));
        }
    }
    cluster
}

/// `cluster` as the API server would list it.
pub fn objects(cluster: &Cluster) -> Objects {
    let list = palisade_lab::manifests::to_json(cluster);
    let mut out = Objects::default();
    let items = list
        .get("items")
        .and_then(|i| i.as_array())
        .cloned()
        .unwrap_or_default();
    for (n, item) in items.into_iter().enumerate() {
        let kind = item
            .get("kind")
            .and_then(|k| k.as_str())
            .unwrap_or("")
            .to_string();
        match kind.as_str() {
            "Namespace" => out.namespaces.extend(serde_json::from_value(item).ok()),
            "Pod" => {
                if let Ok(mut pod) = serde_json::from_value::<Pod>(item) {
                    pod.metadata.uid = Some(format!("uid-{n}"));
                    pod.metadata.resource_version = Some("1".into());
                    out.pods.push(pod);
                }
            }
            "NetworkPolicy" => {
                if let Ok(mut np) = serde_json::from_value::<NetworkPolicy>(item) {
                    np.metadata.resource_version = Some("1".into());
                    out.policies.push(np);
                }
            }
            _ => {}
        }
    }
    for ns in &mut out.namespaces {
        ns.metadata.resource_version = Some("1".into());
    }
    out
}
