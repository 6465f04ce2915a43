//! Namespaces, Pods and workload pod templates.

use k8s_openapi::api::core::v1 as k8s;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

use super::{name_of, namespace_of};
use crate::model::{
    ContainerPort, Labels, NAMESPACE_NAME_LABEL, Namespace, Owner, Pod, PodOrigin, Protocol,
};
use crate::source::Span;
use crate::validate::ip;

/// A declared Namespace.
pub fn namespace(ns: &k8s::Namespace, span: Option<Span>) -> Namespace {
    let name = name_of(&ns.metadata);
    let mut labels = ns.metadata.labels.clone().unwrap_or_default();
    // "The Kubernetes control plane sets an immutable label kubernetes.io/metadata.name on all
    // namespaces. The value of the label is the namespace name." (Namespaces concept page,
    // "Automatic labelling"); the API server overwrites whatever value the user gave.
    labels.insert(NAMESPACE_NAME_LABEL.to_string(), name.clone());
    Namespace {
        name,
        labels,
        declared: true,
        span,
    }
}

/// A namespace named by a pod or policy but not declared: it carries only the label the API
/// server would give it.
pub fn referenced_namespace(name: &str) -> Namespace {
    Namespace {
        name: name.to_string(),
        labels: Labels::from([(NAMESPACE_NAME_LABEL.to_string(), name.to_string())]),
        declared: false,
        span: None,
    }
}

/// A pod that has finished: "Succeeded: All containers in the Pod have terminated in success"
/// / "Failed: All containers in the Pod have terminated" (Pod lifecycle, Pod phase). Its IP is
/// released, so it takes no part in networking.
pub fn is_terminal(pod: &k8s::Pod) -> bool {
    matches!(
        pod.status.as_ref().and_then(|s| s.phase.as_deref()),
        Some("Succeeded" | "Failed")
    )
}

/// A Pod object. Terminal pods are converted too; [`is_terminal`] tells the caller to skip them.
pub fn pod(pod: &k8s::Pod, span: Option<Span>) -> Pod {
    let spec = pod.spec.as_ref();
    Pod {
        namespace: namespace_of(&pod.metadata),
        name: name_of(&pod.metadata),
        labels: pod.metadata.labels.clone().unwrap_or_default(),
        ips: pod.status.as_ref().map(pod_ips).unwrap_or_default(),
        node: spec.and_then(node_name),
        // "hostNetwork: Host networking requested for this pod. ... Default to false."
        host_network: spec.and_then(|s| s.host_network).unwrap_or(false),
        ports: spec.map(container_ports).unwrap_or_default(),
        origin: PodOrigin::Pod,
        owner: controller_of(&pod.metadata),
        span,
    }
}

/// The managing controller among `metadata.ownerReferences`: the entry with `controller: true`
/// ("If true, this reference points to the managing controller"; "There cannot be more than one
/// managing controller", ObjectMeta API reference). Other owners do not manage the object.
pub fn controller_of(metadata: &ObjectMeta) -> Option<Owner> {
    metadata
        .owner_references
        .iter()
        .flatten()
        .find(|r| r.controller == Some(true) && !r.kind.is_empty() && !r.name.is_empty())
        .map(|r| Owner {
            kind: r.kind.clone(),
            name: r.name.clone(),
        })
}

/// The pod template of a workload, as one pod standing for all its replicas: named after the
/// workload, in its namespace, with the template's labels, ports and hostNetwork, and no IP
/// (replica IPs are not known from a manifest).
pub fn workload_pod(
    kind: &str,
    metadata: &ObjectMeta,
    template: &k8s::PodTemplateSpec,
    span: Option<Span>,
) -> Pod {
    let name = name_of(metadata);
    let mut labels = template
        .metadata
        .as_ref()
        .and_then(|m| m.labels.clone())
        .unwrap_or_default();
    if kind == "Job" {
        // The Job strategy labels the template with the Job's name (`batch.kubernetes.io/
        // job-name` and the legacy `job-name`) unless `manualSelector: true`, which palisade does
        // not see here; validation then requires those labels, so every Job pod carries them.
        labels.insert("batch.kubernetes.io/job-name".to_string(), name.clone());
        labels.insert("job-name".to_string(), name.clone());
    }
    let spec = template.spec.as_ref();
    Pod {
        namespace: namespace_of(metadata),
        name,
        labels,
        ips: Vec::new(),
        node: spec.and_then(node_name),
        host_network: spec.and_then(|s| s.host_network).unwrap_or(false),
        ports: spec.map(container_ports).unwrap_or_default(),
        origin: PodOrigin::Template {
            kind: kind.to_string(),
        },
        // The template stands for the workload itself.
        owner: None,
        span,
    }
}

fn node_name(spec: &k8s::PodSpec) -> Option<String> {
    spec.node_name.clone().filter(|n| !n.is_empty())
}

/// "podIPs holds the IP addresses allocated to the pod. If this field is specified, the 0th
/// entry must match the podIP field." When both are given and disagree, the API server's v1 ->
/// internal conversion keeps podIP and replaces podIPs by it (the same rule as for a node's
/// podCIDR/podCIDRs: "PodCIDR is authoritative for compatibility with older clients"); a podIP
/// alone stands for podIPs. Addresses are read like the API server reads them.
fn pod_ips(status: &k8s::PodStatus) -> Vec<std::net::IpAddr> {
    let pod_ip = status.pod_ip.as_deref().filter(|ip| !ip.is_empty());
    let listed: Vec<&str> = status
        .pod_ips
        .iter()
        .flatten()
        .map(|p| p.ip.as_str())
        .collect();
    let texts = match (pod_ip, listed.first()) {
        (Some(single), Some(first)) if single != *first => vec![single],
        (_, Some(_)) => listed,
        (Some(single), None) => vec![single],
        (None, None) => Vec::new(),
    };
    let mut ips = Vec::new();
    for addr in texts.into_iter().filter_map(ip::parse_ip).map(|p| p.addr) {
        if !ips.contains(&addr) {
            ips.push(addr);
        }
    }
    ips
}

/// Ports of the containers and of sidecars: "init containers with restartPolicy: Always" keep
/// running next to the app containers (Sidecar containers concept page), so their ports are
/// served; other init containers have exited before the pod serves anything.
fn container_ports(spec: &k8s::PodSpec) -> Vec<ContainerPort> {
    let sidecars = spec
        .init_containers
        .iter()
        .flatten()
        .filter(|c| c.restart_policy.as_deref() == Some("Always"));
    let mut ports: Vec<ContainerPort> = spec
        .containers
        .iter()
        .chain(sidecars)
        .flat_map(|c| c.ports.iter().flatten())
        .filter_map(container_port)
        .collect();
    ports.sort();
    ports.dedup();
    ports
}

fn container_port(port: &k8s::ContainerPort) -> Option<ContainerPort> {
    let number = u16::try_from(port.container_port)
        .ok()
        .filter(|&n| n != 0)?;
    // "Protocol for port. Must be UDP, TCP, or SCTP. Defaults to \"TCP\"." The defaulter also
    // replaces an empty string.
    let protocol = match port.protocol.as_deref() {
        None | Some("") => Protocol::Tcp,
        Some(other) => Protocol::from_api(other)?,
    };
    Some(ContainerPort {
        name: port.name.clone().filter(|n| !n.is_empty()),
        port: number,
        protocol,
    })
}
