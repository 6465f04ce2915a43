//! Trimming objects to what palisade reads, before they are kept or handed on.
//!
//! The agent keeps the whole cluster's pods in memory (10,000 pods should stay well under
//! 150 MiB resident); a pod as the API server returns it carries `managedFields`, annotations,
//! volumes, environment, probes and container statuses, often several kilobytes, none of which
//! NetworkPolicy semantics read. A pod is therefore rebuilt from the kept fields rather than
//! having fields removed, so a field a newer API server adds is dropped too.
//!
//! Kept for a pod (what palisade-core's model and validation read, plus identity):
//! `metadata.{name, namespace, uid, resourceVersion, labels, ownerReferences, deletionTimestamp}`,
//! `spec.{nodeName, hostNetwork}`, each container's `name` and `ports`, each init container's
//! `name`, `restartPolicy` (sidecars serve their ports) and `ports`, and
//! `status.{phase, podIP, podIPs}`.

use k8s_openapi::api::core::v1::{Container, Namespace, Pod, PodSpec, PodStatus};
use k8s_openapi::api::networking::v1::NetworkPolicy;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

/// Rebuilds `pod` from the fields palisade reads (see the module doc).
pub fn trim_pod(pod: &mut Pod) {
    let metadata = std::mem::take(&mut pod.metadata);
    pod.metadata = ObjectMeta {
        name: metadata.name,
        namespace: metadata.namespace,
        uid: metadata.uid,
        resource_version: metadata.resource_version,
        labels: metadata.labels,
        owner_references: metadata.owner_references,
        deletion_timestamp: metadata.deletion_timestamp,
        ..ObjectMeta::default()
    };
    pod.spec = pod.spec.take().map(|spec| PodSpec {
        node_name: spec.node_name,
        host_network: spec.host_network,
        containers: spec.containers.into_iter().map(trim_container).collect(),
        init_containers: spec
            .init_containers
            .map(|list| list.into_iter().map(trim_container).collect()),
        ..PodSpec::default()
    });
    pod.status = pod.status.take().map(|status| PodStatus {
        phase: status.phase,
        pod_ip: status.pod_ip,
        pod_ips: status.pod_ips,
        ..PodStatus::default()
    });
}

fn trim_container(container: Container) -> Container {
    Container {
        name: container.name,
        ports: container.ports,
        restart_policy: container.restart_policy,
        ..Container::default()
    }
}

/// Drops `managedFields` and annotations: namespaceSelector reads labels only.
pub fn trim_namespace(namespace: &mut Namespace) {
    trim_meta(&mut namespace.metadata);
}

/// Drops `managedFields` and annotations (`kubectl apply` stores a whole copy of the policy in
/// `kubectl.kubernetes.io/last-applied-configuration`); the spec is kept whole.
pub fn trim_network_policy(policy: &mut NetworkPolicy) {
    trim_meta(&mut policy.metadata);
}

fn trim_meta(metadata: &mut ObjectMeta) {
    metadata.managed_fields = None;
    metadata.annotations = None;
}
