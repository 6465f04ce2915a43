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

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::{ContainerPort, EnvVar, PodIP, Volume};
    use std::collections::BTreeMap;

    fn port(name: &str, number: i32) -> ContainerPort {
        ContainerPort {
            name: Some(name.to_string()),
            container_port: number,
            protocol: Some("TCP".to_string()),
            ..ContainerPort::default()
        }
    }

    fn full_pod() -> Pod {
        Pod {
            metadata: ObjectMeta {
                name: Some("web".to_string()),
                namespace: Some("prod".to_string()),
                labels: Some(BTreeMap::from([("app".to_string(), "web".to_string())])),
                annotations: Some(BTreeMap::from([("a".to_string(), "b".to_string())])),
                generate_name: Some("web-".to_string()),
                ..ObjectMeta::default()
            },
            spec: Some(PodSpec {
                host_network: Some(true),
                node_name: Some("worker-1".to_string()),
                volumes: Some(vec![Volume {
                    name: "data".to_string(),
                    ..Volume::default()
                }]),
                containers: vec![Container {
                    name: "main".to_string(),
                    image: Some("registry.example.com/web:1".to_string()),
                    env: Some(vec![EnvVar {
                        name: "X".to_string(),
                        ..EnvVar::default()
                    }]),
                    ports: Some(vec![port("http", 8080)]),
                    ..Container::default()
                }],
                init_containers: Some(vec![Container {
                    name: "proxy".to_string(),
                    restart_policy: Some("Always".to_string()),
                    ports: Some(vec![port("admin", 15000)]),
                    command: Some(vec!["proxy".to_string()]),
                    ..Container::default()
                }]),
                ..PodSpec::default()
            }),
            status: Some(PodStatus {
                phase: Some("Running".to_string()),
                pod_ip: Some("10.0.0.5".to_string()),
                pod_ips: Some(vec![PodIP {
                    ip: "10.0.0.5".to_string(),
                }]),
                host_ip: Some("192.168.1.5".to_string()),
                ..PodStatus::default()
            }),
        }
    }

    #[test]
    fn trim_pod_keeps_what_the_model_reads_and_nothing_else() {
        let mut pod = full_pod();
        trim_pod(&mut pod);
        assert_eq!(pod.metadata.annotations, None);
        assert_eq!(pod.metadata.generate_name, None);
        assert_eq!(pod.metadata.labels.as_ref().map(BTreeMap::len), Some(1));
        let spec = pod.spec.as_ref().expect("spec");
        assert_eq!(
            spec.host_network,
            Some(true),
            "hostNetwork pods are not policed"
        );
        assert_eq!(spec.node_name.as_deref(), Some("worker-1"));
        assert_eq!(spec.volumes, None);
        let main = &spec.containers[0];
        assert_eq!((main.image.as_ref(), main.env.as_ref()), (None, None));
        assert_eq!(main.ports.as_deref(), Some(&[port("http", 8080)][..]));
        // A sidecar (init container with restartPolicy: Always) serves its ports.
        let sidecar = &spec.init_containers.as_ref().expect("init containers")[0];
        assert_eq!(sidecar.restart_policy.as_deref(), Some("Always"));
        assert_eq!(sidecar.ports.as_deref(), Some(&[port("admin", 15000)][..]));
        assert_eq!(sidecar.command, None);
        let status = pod.status.as_ref().expect("status");
        assert_eq!(status.pod_ip.as_deref(), Some("10.0.0.5"));
        assert_eq!(status.pod_ips.as_ref().map(Vec::len), Some(1));
        assert_eq!(status.host_ip, None);
    }

    #[test]
    fn trim_policy_drops_annotations_and_keeps_the_spec() {
        let mut policy = NetworkPolicy {
            metadata: ObjectMeta {
                name: Some("p".to_string()),
                annotations: Some(BTreeMap::from([(
                    "kubectl.kubernetes.io/last-applied-configuration".to_string(),
                    "{}".to_string(),
                )])),
                ..ObjectMeta::default()
            },
            spec: Some(Default::default()),
        };
        trim_network_policy(&mut policy);
        assert_eq!(policy.metadata.annotations, None);
        assert_eq!(policy.metadata.name.as_deref(), Some("p"));
        assert!(policy.spec.is_some());
    }
}
