//! L008 an ipBlock that contains pod addresses, L015 egress to 0.0.0.0/0 that can reach the
//! cloud metadata address.
//!
//! ipBlock "describes a particular CIDR ... that is allowed to the pods matched by a
//! NetworkPolicySpec's podSelector"; it is meant for cluster-external addresses, because pod
//! addresses are ephemeral and what a pod's traffic looks like after NAT is implementation
//! specific (<https://kubernetes.io/docs/concepts/services-networking/network-policies/#behavior-of-to-and-from-selectors>,
//! "cluster ingress and egress mechanisms often require rewriting the source or destination IP").
//! A block that contains the inventory's pod addresses therefore allows those pods by accident
//! of addressing. A /0 block is taken as a deliberate "everything" and not flagged by L008.
//!
//! 169.254.169.254 serves instance credentials on the big clouds; egress "to the internet"
//! written as 0.0.0.0/0 reaches it too unless it is in `except`. L015 fires when an egress
//! ipBlock wider than the link-local /16 contains it and the rule allows TCP 80 (the metadata
//! service's port). The IPv6 metadata address of AWS, fd00:ec2::254, is checked the same way
//! in blocks wider than fd00::/8.

use ipnet::IpNet;

use super::{Ctx, DIRECTIONS, IP_BLOCK_COVERS_PODS, METADATA_REACHABLE, peers_path, plural};
use crate::diag::Diagnostic;
use crate::eval::matching::ip_block_contains;
use crate::model::{Direction, Peer, Peers, PortSpec, Ports, Protocol};

/// The metadata addresses: IPv4 link-local on every big cloud, and the IPv6 one of AWS. Each
/// with the prefix length under which a block counts as "the internet" rather than a range
/// written on purpose around it (169.254.0.0/16 is link-local, fd00::/8 unique local).
const METADATA: [(std::net::IpAddr, u8, &str); 2] = [
    (
        std::net::IpAddr::V4(std::net::Ipv4Addr::new(169, 254, 169, 254)),
        16,
        "169.254.169.254/32",
    ),
    (
        std::net::IpAddr::V6(std::net::Ipv6Addr::new(0xfd00, 0xec2, 0, 0, 0, 0, 0, 0x254)),
        8,
        "fd00:ec2::254/128",
    ),
];

pub(super) fn check(ctx: &Ctx<'_>, out: &mut Vec<Diagnostic>) {
    for policy in &ctx.cluster.policies {
        for direction in DIRECTIONS {
            for (r, rule) in policy.rules(direction).into_iter().flatten().enumerate() {
                let Peers::OneOf(items) = &rule.peers else {
                    continue;
                };
                for (k, peer) in items.iter().enumerate() {
                    let Peer::IpBlock { cidr, except } = peer else {
                        continue;
                    };
                    let path = peers_path(direction, r).index(k).field("ipBlock");
                    if cidr.prefix_len() > 0 {
                        let pods = ctx.inv.block_pods(cidr, except);
                        if let Some(first) = pods.first().and_then(|&i| ctx.cluster.pods.get(i)) {
                            let ip = first
                                .ips
                                .iter()
                                .find(|ip| ip_block_contains(cidr, except, ip))
                                .map(ToString::to_string)
                                .unwrap_or_default();
                            let side = match direction {
                                Direction::Ingress => "from",
                                Direction::Egress => "to",
                            };
                            out.push(
                                ctx.at_policy(
                                    IP_BLOCK_COVERS_PODS,
                                    policy,
                                    &path.field("cidr"),
                                    format!(
                                        "ipBlock {cidr} contains the addresses of {} (e.g. {} at {ip}): it allows traffic {side} them by address",
                                        plural(pods.len(), "pod", "pods"),
                                        first.key()
                                    ),
                                )
                                .with_label("contains pod addresses")
                                .with_help(match pod_network_hint(cidr, &ip) {
                                    Some(hint) => format!(
                                        "select pods with podSelector/namespaceSelector, and add the pod network to `except` (e.g. except: [{hint}])"
                                    ),
                                    None => "this block lies inside the pod network: select the pods with podSelector/namespaceSelector instead".to_owned(),
                                }),
                            );
                        }
                    }
                    let metadata = METADATA.iter().find(|(ip, wide, _)| {
                        cidr.prefix_len() < *wide && ip_block_contains(cidr, except, ip)
                    });
                    if let Some((ip, _, host)) = metadata
                        && direction == Direction::Egress
                        && allows_tcp_80(&rule.ports)
                    {
                        out.push(
                            ctx.at_policy(
                                METADATA_REACHABLE,
                                policy,
                                &path.field("cidr"),
                                format!("egress to {cidr} includes the cloud metadata address {ip}, which hands out the node's credentials"),
                            )
                            .with_label(format!("{ip} is not excepted"))
                            .with_help(match except.is_empty() {
                                true => format!("except it: ipBlock: {{cidr: {cidr}, except: [{host}]}}"),
                                false => format!("add {host} to this ipBlock's `except` list"),
                            }),
                        );
                    }
                }
            }
        }
    }
}

fn allows_tcp_80(ports: &Ports) -> bool {
    match ports {
        Ports::Any => true,
        Ports::OneOf(items) => items.iter().any(|item| {
            item.protocol == Protocol::Tcp
                && match &item.port {
                    PortSpec::Any => true,
                    PortSpec::Range { first, last } => (*first..=*last).contains(&80),
                    // A named port resolves on pods only, never on the metadata address.
                    PortSpec::Named(_) => false,
                }
        }),
    }
}

/// The /16 (IPv4) or /64 (IPv6) around a pod address, clipped to the block: a starting point
/// for the `except` entry, which the user should replace by the real pod CIDR.
fn pod_network_hint(cidr: &IpNet, ip: &str) -> Option<String> {
    let wanted = match cidr {
        IpNet::V4(_) => 16,
        IpNet::V6(_) => 64,
    };
    if wanted <= cidr.prefix_len() {
        return None;
    }
    ip.parse::<std::net::IpAddr>()
        .ok()
        .and_then(|ip| IpNet::new(ip, wanted).ok())
        .map(|n| n.trunc().to_string())
}
