//! Kubernetes objects as the API server sends them (uid, resourceVersion, creationTimestamp,
//! status), built small, with tweak closures for the field a test is about.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::net::IpAddr;

use k8s_openapi::api::core::v1::{Namespace, Pod, PodIP, PodSpec, PodStatus};
use k8s_openapi::api::networking::v1::{
    NetworkPolicy, NetworkPolicyIngressRule, NetworkPolicyPeer, NetworkPolicyPort,
    NetworkPolicySpec,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta, Time};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use palisade_core::eval::Probe;
use palisade_core::model::Protocol;
use palisade_nft::{Decision, Packet, Ruleset, Transport};

pub const NODE: &str = "node-a";

pub fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn meta(namespace: Option<&str>, name: &str) -> ObjectMeta {
    ObjectMeta {
        name: Some(name.into()),
        namespace: namespace.map(str::to_string),
        resource_version: Some("1".into()),
        ..ObjectMeta::default()
    }
}

/// A timestamp `seconds` after an arbitrary epoch: creation order in tests.
pub fn at(seconds: i64) -> Time {
    Time(
        k8s_openapi::jiff::Timestamp::from_second(1_700_000_000 + seconds)
            .expect("timestamp in range"),
    )
}

pub fn mk_ns(name: &str, pairs: &[(&str, &str)]) -> Namespace {
    Namespace {
        metadata: ObjectMeta {
            labels: Some(labels(pairs)),
            ..meta(None, name)
        },
        ..Namespace::default()
    }
}

/// A running pod on `node` with `address`, uid `uid`, created at `at(0)`.
pub fn mk_pod(
    namespace: &str,
    name: &str,
    uid: &str,
    pairs: &[(&str, &str)],
    node: &str,
    address: Option<&str>,
    tweak: impl FnOnce(&mut Pod),
) -> Pod {
    let mut pod = Pod {
        metadata: ObjectMeta {
            uid: Some(uid.into()),
            labels: Some(labels(pairs)),
            creation_timestamp: Some(at(0)),
            ..meta(Some(namespace), name)
        },
        spec: Some(PodSpec {
            node_name: Some(node.into()),
            ..PodSpec::default()
        }),
        status: Some(PodStatus {
            phase: Some("Running".into()),
            pod_ip: address.map(str::to_string),
            pod_ips: address.map(|a| vec![PodIP { ip: a.into() }]),
            ..PodStatus::default()
        }),
    };
    tweak(&mut pod);
    pod
}

/// A new version of `object`'s metadata: the API server bumps resourceVersion on every write.
pub fn bump(meta: &mut ObjectMeta) {
    let next = meta
        .resource_version
        .as_deref()
        .and_then(|v| v.parse::<u64>().ok())
        .unwrap_or(0)
        + 1;
    meta.resource_version = Some(next.to_string());
}

pub fn set_ip(pod: &mut Pod, address: Option<&str>) {
    let status = pod.status.get_or_insert_with(PodStatus::default);
    status.pod_ip = address.map(str::to_string);
    status.pod_ips = address.map(|a| vec![PodIP { ip: a.into() }]);
    bump(&mut pod.metadata);
}

pub fn selector(pairs: &[(&str, &str)]) -> LabelSelector {
    LabelSelector {
        match_labels: (!pairs.is_empty()).then(|| labels(pairs)),
        ..LabelSelector::default()
    }
}

/// Ingress to pods matching `subject` in `namespace`: TCP `port` from pods matching `from`
/// (in the policy's namespace, or in namespaces matching `from_ns` when given).
pub fn allow_from(
    namespace: &str,
    name: &str,
    subject: &[(&str, &str)],
    from: &[(&str, &str)],
    from_ns: Option<&[(&str, &str)]>,
    port: i32,
) -> NetworkPolicy {
    NetworkPolicy {
        metadata: meta(Some(namespace), name),
        spec: Some(NetworkPolicySpec {
            pod_selector: Some(selector(subject)),
            policy_types: Some(vec!["Ingress".into()]),
            ingress: Some(vec![NetworkPolicyIngressRule {
                from: Some(vec![NetworkPolicyPeer {
                    pod_selector: Some(selector(from)),
                    namespace_selector: from_ns.map(selector),
                    ..NetworkPolicyPeer::default()
                }]),
                ports: Some(vec![NetworkPolicyPort {
                    protocol: Some("TCP".into()),
                    port: Some(IntOrString::Int(port)),
                    ..NetworkPolicyPort::default()
                }]),
            }]),
            ..NetworkPolicySpec::default()
        }),
    }
}

pub fn ip(s: &str) -> IpAddr {
    s.parse().expect("test address")
}

/// What the compiled rules do with the first TCP packet from `src` to `dst:port`.
pub fn decide(ruleset: &Ruleset, src: &str, dst: &str, port: u16) -> Decision {
    ruleset.decide(&Packet {
        src: ip(src),
        dst: ip(dst),
        transport: Transport::Port(Probe {
            protocol: Protocol::Tcp,
            port,
        }),
    })
}
