//! Pod rules palisade depends on: container ports (`validateContainerPorts` in kubernetes
//! `pkg/apis/core/validation`), the port warnings of `GetWarningsForPod`
//! (`pkg/api/pod/warnings.go`), pod IPs (`validatePodIPs`, `GetWarningsForIP`) and workload pod
//! templates (`ValidatePodTemplateSpec`).

use k8s_openapi::api::core::v1::{Container, PodSpec, PodStatus, PodTemplateSpec};

use super::ip;
use super::meta;
use super::policy::{PROTOCOLS, protocol_issue};
use super::{FieldIssue, codes, names};
use crate::path::FieldPath;

/// One declared container port, for the checks across containers.
struct Declared<'a> {
    container: &'a str,
    path: FieldPath,
    name: Option<&'a str>,
    port: i32,
    protocol: &'a str,
    host_port: i32,
    host_ip: &'a str,
}

/// The template of a Deployment, StatefulSet, Job...: its labels, annotations and pod spec.
pub(super) fn template(out: &mut Vec<FieldIssue>, template: &PodTemplateSpec, path: &FieldPath) {
    if let Some(metadata) = &template.metadata {
        meta::labels_and_annotations(out, metadata, &path.field("metadata"));
    }
    if let Some(spec) = &template.spec {
        pod_spec(out, spec, &path.field("spec"));
    }
}

pub(super) fn pod_spec(out: &mut Vec<FieldIssue>, spec: &PodSpec, path: &FieldPath) {
    let mut declared = Vec::new();
    let lists: [(&str, &[Container]); 2] = [
        (
            "initContainers",
            spec.init_containers.as_deref().unwrap_or(&[]),
        ),
        ("containers", &spec.containers),
    ];
    for (list, containers) in lists {
        for (i, container) in containers.iter().enumerate() {
            let ports_path = path.field(list).index(i).field("ports");
            container_ports(out, container, &ports_path, &mut declared);
        }
    }
    across_containers(out, &declared);
}

fn container_ports<'a>(
    out: &mut Vec<FieldIssue>,
    container: &'a Container,
    path: &FieldPath,
    declared: &mut Vec<Declared<'a>>,
) {
    let mut names_here: Vec<&str> = Vec::new();
    for (j, port) in container.ports.iter().flatten().enumerate() {
        let at = path.index(j);
        let name = port.name.as_deref().filter(|n| !n.is_empty());
        if let Some(name) = name {
            let reasons = names::port_name(name);
            if !reasons.is_empty() {
                out.push(
                    FieldIssue::error(
                        codes::INVALID_PORT_NAME,
                        at.field("name"),
                        format!("invalid port name \"{name}\": {}", reasons.join("; ")),
                    )
                    .with_label("not a valid port name")
                    .with_help(match names::suggest_port_name(name) {
                        Some(s) => format!("did you mean `name: {s}`?"),
                        None => "port names are at most 15 lower case letters, digits and '-', \
                                 with at least one letter"
                            .to_string(),
                    }),
                );
            } else if names_here.contains(&name) {
                out.push(
                    FieldIssue::error(
                        codes::DUPLICATE_PORT_NAME,
                        at.field("name"),
                        format!(
                            "port name \"{name}\" is used twice in container \"{}\"",
                            container.name
                        ),
                    )
                    .with_label("duplicate port name")
                    .with_help("give each port of a container its own name"),
                );
            } else {
                names_here.push(name);
            }
        }
        let number = port.container_port;
        if number == 0 {
            out.push(
                FieldIssue::error(
                    codes::INVALID_PORT_NUMBER,
                    at.field("containerPort"),
                    "containerPort is required",
                )
                .with_label("port required")
                .with_help("set the port the container listens on, from 1 to 65535"),
            );
        } else if !names::port_number(i64::from(number)).is_empty() {
            out.push(
                FieldIssue::error(
                    codes::INVALID_PORT_NUMBER,
                    at.field("containerPort"),
                    format!("containerPort {number} is out of range 1-65535"),
                )
                .with_label("not a port number")
                .with_help("ports are numbered 1 to 65535"),
            );
        }
        let host_port = port.host_port.unwrap_or(0);
        if host_port != 0 && !names::port_number(i64::from(host_port)).is_empty() {
            out.push(
                FieldIssue::error(
                    codes::INVALID_PORT_NUMBER,
                    at.field("hostPort"),
                    format!("hostPort {host_port} is out of range 1-65535"),
                )
                .with_label("not a port number")
                .with_help("use a port from 1 to 65535, or remove hostPort"),
            );
        }
        // SetDefaults_ContainerPort turns a missing or empty protocol into TCP.
        let protocol = match port.protocol.as_deref() {
            None | Some("") => "TCP",
            Some(p) => p,
        };
        if !PROTOCOLS.contains(&protocol) {
            out.push(protocol_issue(protocol, at.field("protocol")));
        }
        declared.push(Declared {
            container: &container.name,
            path: at,
            name,
            port: number,
            protocol,
            host_port,
            host_ip: port.host_ip.as_deref().unwrap_or(""),
        });
    }
}

/// Same name or same port in two places of one pod: the API server accepts both.
fn across_containers(out: &mut Vec<FieldIssue>, declared: &[Declared<'_>]) {
    for (k, later) in declared.iter().enumerate() {
        let earlier = declared.get(..k).unwrap_or(&[]);
        if let Some(name) = later.name
            && names::port_name(name).is_empty()
            && let Some(first) = earlier
                .iter()
                .find(|d| d.name == Some(name) && d.container != later.container)
        {
            out.push(
                FieldIssue::warning(
                    codes::DUPLICATE_PORT_NAME,
                    later.path.field("name"),
                    format!(
                        "port name \"{name}\" is also used by container \"{}\" ({}/{} there, \
                         {}/{} here)",
                        first.container, first.port, first.protocol, later.port, later.protocol
                    ),
                )
                .with_label("ambiguous port name")
                .with_help(format!(
                    "a policy's `port: {name}` is resolved per pod; rename one of the two so it \
                     names a single port"
                )),
            );
        }
        // GetWarningsForPod: "duplicate" when host port and IP agree, "overlapping" when one of
        // them has no host port.
        for first in earlier
            .iter()
            .filter(|d| d.port == later.port && d.protocol == later.protocol)
        {
            let same_host = first.host_port == later.host_port && first.host_ip == later.host_ip;
            if !same_host && first.host_port != 0 && later.host_port != 0 {
                continue;
            }
            let how = if same_host {
                "duplicate"
            } else {
                "overlapping"
            };
            out.push(
                FieldIssue::warning(
                    codes::DUPLICATE_PORT,
                    later.path.clone(),
                    format!(
                        "{how} port definition: {}/{} is already declared at {}",
                        later.port, later.protocol, first.path
                    ),
                )
                .with_label(format!("{how} port"))
                .with_help("declare each container port and protocol once per pod"),
            );
        }
    }
}

pub(super) fn pod_status(out: &mut Vec<FieldIssue>, status: &PodStatus, path: &FieldPath) {
    let pod_ips = status.pod_ips.as_deref().unwrap_or(&[]);
    let mut parsed = Vec::new();
    let mut all_valid = true;
    for (i, entry) in pod_ips.iter().enumerate() {
        match check_ip(out, &entry.ip, path.field("podIPs").index(i).field("ip")) {
            Some(addr) => parsed.push(addr),
            None => all_valid = false,
        }
    }
    let pod_ip = status.pod_ip.as_deref().unwrap_or("");
    if !pod_ip.is_empty() {
        check_ip(out, pod_ip, path.field("podIP"));
    }
    // validatePodIPs: more than one address must be a dual-stack pair.
    if all_valid && parsed.len() > 1 {
        let v4 = parsed.iter().filter(|a| a.is_ipv4()).count();
        let v6 = parsed.len() - v4;
        if parsed.len() > 2 || v4 != 1 || v6 != 1 {
            let listed = pod_ips
                .iter()
                .map(|p| p.ip.as_str())
                .collect::<Vec<_>>()
                .join(", ");
            out.push(
                FieldIssue::error(
                    codes::INVALID_POD_IP,
                    path.field("podIPs"),
                    format!(
                        "status.podIPs lists {} addresses ({listed}); a pod has at most one IPv4 \
                         and one IPv6 address",
                        parsed.len()
                    ),
                )
                .with_label("at most one address per family")
                .with_help("keep one IPv4 and/or one IPv6 address"),
            );
        }
    }
    if let Some(first) = pod_ips.first()
        && !pod_ip.is_empty()
        && first.ip != pod_ip
    {
        // Convert_v1_PodStatus_To_core_PodStatus: when both are given and differ, podIP is
        // authoritative and podIPs is replaced by it.
        out.push(
            FieldIssue::warning(
                codes::POD_IP_MISMATCH,
                path.field("podIP"),
                format!(
                    "status.podIP \"{pod_ip}\" differs from status.podIPs[0] \"{}\"; the API \
                     server keeps podIP and drops podIPs",
                    first.ip
                ),
            )
            .with_label("differs from podIPs[0]")
            .with_help(format!(
                "list \"{pod_ip}\" first in status.podIPs, or remove status.podIP"
            )),
        );
    }
}

/// Reports an invalid or non-standard address; returns the address the API server reads.
fn check_ip(out: &mut Vec<FieldIssue>, text: &str, at: FieldPath) -> Option<std::net::IpAddr> {
    let Some(addr) = ip::parse_ip(text) else {
        let help = match ip::parse_cidr(text) {
            Some(cidr) => format!(
                "a pod IP is a single address without prefix length: write `{}`",
                cidr.addr
            ),
            None => "write an IPv4 or IPv6 address, e.g. `10.244.1.5` or `fd00::5`".to_string(),
        };
        out.push(
            FieldIssue::error(
                codes::INVALID_POD_IP,
                at,
                format!("invalid IP address \"{text}\""),
            )
            .with_label("not an IP address")
            .with_help(help),
        );
        return None;
    };
    if addr.is_non_standard() {
        let what = if addr.ipv4_mapped {
            "an IPv4-mapped IPv6 address"
        } else {
            "leading zeros"
        };
        out.push(
            FieldIssue::warning(
                codes::NON_STANDARD_POD_IP,
                at,
                format!(
                    "non-standard IP address \"{text}\" ({what}): accepted today, rejected once \
                     Kubernetes enforces strict IP validation"
                ),
            )
            .with_label("non-standard address")
            .with_help(format!("write `{}`", addr.addr)),
        );
    } else if addr.addr.is_ipv6() && addr.addr.to_string() != text {
        out.push(
            FieldIssue::warning(
                codes::NON_STANDARD_POD_IP,
                at,
                format!("IPv6 address \"{text}\" is not in RFC 5952 canonical form"),
            )
            .with_label("non-canonical IPv6")
            .with_help(format!("write `{}`", addr.addr)),
        );
    }
    Some(addr.addr)
}
