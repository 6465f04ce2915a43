//! Where every pod runs and which addresses it gets: the pure half of the lab.
//!
//! ```text
//!   Cluster + LabConfig
//!     -> placement   spec.nodeName if it names a lab node (node-1..node-N); other node names
//!                    mapped onto lab nodes in sorted order; the rest round robin (cluster order)
//!     -> families    IPv4 unless the cluster is IPv6-only; IPv6 when any pod IP, ipBlock or
//!                    external is IPv6
//!     -> addresses   status IPs when given, else the next free one of 10.244.<n>.0/24 and
//!                    fd00:244:<n>::/64; hostNetwork pods take their node's addresses
//!     -> Plan        the adjusted Cluster (node + IPs on every pod) and one EndpointPlan per
//!                    endpoint (pods in cluster order, then externals)
//! ```
//!
//! The adjusted cluster is what predictions and agents must use, so that what the engine
//! predicts and what the kernel enforces talk about the same addresses. Nothing here touches the
//! kernel, so it is tested without root.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use ipnet::IpNet;
use palisade_core::model::{Cluster, Peer, Peers};

use crate::config::LabConfig;
use crate::error::{LabError, Result};

/// The gateway address every pod routes through: on each node-side pod veth (CNI ptp style).
pub const POD_GATEWAY_V4: Ipv4Addr = Ipv4Addr::new(169, 254, 1, 1);
pub const POD_GATEWAY_V6: Ipv6Addr = Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0, 1);
/// The gateway nodes and external hosts route through: on each fabric-side veth.
pub const FABRIC_GATEWAY_V4: Ipv4Addr = Ipv4Addr::new(169, 254, 2, 1);
pub const FABRIC_GATEWAY_V6: Ipv6Addr = Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0, 2);

/// The IP families the lab wires up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Families {
    pub v4: bool,
    pub v6: bool,
}

impl Families {
    pub fn contains(self, ip: &IpAddr) -> bool {
        match ip {
            IpAddr::V4(_) => self.v4,
            IpAddr::V6(_) => self.v6,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodePlan {
    /// `node-<index>`.
    pub name: String,
    /// 1-based.
    pub index: usize,
    /// Addresses of the node itself (on its uplink to the fabric); hostNetwork pods use them.
    /// At most one per family is the fabric's next hop: [`NodePlan::primary`].
    pub ips: Vec<IpAddr>,
    /// Indices into the cluster's pods placed on this node (hostNetwork ones included).
    pub pods: Vec<usize>,
}

impl NodePlan {
    /// The node's first address of `ip`'s family: the fabric routes this node's pods through it.
    pub fn primary(&self, v6: bool) -> Option<IpAddr> {
        self.ips.iter().copied().find(|ip| ip.is_ipv6() == v6)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Placement {
    /// A pod with its own namespace on node `node` (index into [`Plan::nodes`]).
    Pod { node: usize },
    /// A hostNetwork pod: it lives in its node's namespace and uses the node's addresses.
    HostNetwork { node: usize },
    /// An external host behind the fabric (index into [`Plan::externals`]).
    External { index: usize },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EndpointPlan {
    /// `namespace/name` or the external address, as reachability names endpoints.
    pub name: String,
    pub ips: Vec<IpAddr>,
    pub placement: Placement,
}

#[derive(Debug, Clone)]
pub struct Plan {
    /// The input cluster with every pod's node and IPs filled in.
    pub cluster: Cluster,
    pub nodes: Vec<NodePlan>,
    pub externals: Vec<IpAddr>,
    pub families: Families,
    /// Pods in cluster order, then externals.
    pub endpoints: Vec<EndpointPlan>,
    /// Node names of the manifests that are not lab nodes, and the lab node each maps to.
    pub node_mapping: BTreeMap<String, String>,
}

/// Places pods and assigns addresses; errors name the pod or address that cannot be laid out.
pub fn plan(cluster: &Cluster, config: &LabConfig) -> Result<Plan> {
    config.validate()?;
    let node_names: Vec<String> = (1..=config.nodes).map(|i| format!("node-{i}")).collect();
    let families = families(cluster, &config.externals);
    check_addresses(cluster, &config.externals, families)?;

    let (node_of, node_mapping) = place(cluster, &node_names);
    let mut used: BTreeSet<IpAddr> = cluster
        .pods
        .iter()
        .flat_map(|p| p.ips.iter().copied())
        .chain(config.externals.iter().copied())
        .collect();

    let mut nodes: Vec<NodePlan> = node_names
        .iter()
        .enumerate()
        .map(|(i, name)| NodePlan {
            name: name.clone(),
            index: i + 1,
            ips: Vec::new(),
            pods: Vec::new(),
        })
        .collect();
    for (pod_index, &node) in node_of.iter().enumerate() {
        if let Some(n) = nodes.get_mut(node) {
            n.pods.push(pod_index);
        }
    }
    // hostNetwork pods that state their IPs give their node those addresses.
    for (pod, &node) in cluster.pods.iter().zip(&node_of) {
        if pod.host_network
            && let Some(n) = nodes.get_mut(node)
        {
            for ip in &pod.ips {
                if !n.ips.contains(ip) {
                    n.ips.push(*ip);
                }
            }
        }
    }
    for n in &mut nodes {
        for v6 in [false, true] {
            let wanted = if v6 { families.v6 } else { families.v4 };
            if wanted && n.primary(v6).is_none() {
                let ip = allocate(node_range(n.index, v6, true), &mut used).ok_or_else(|| {
                    LabError::Config(format!("no free address for node {}", n.name))
                })?;
                n.ips.push(ip);
            }
        }
    }

    let mut adjusted = cluster.clone();
    let mut endpoints = Vec::with_capacity(cluster.pods.len() + config.externals.len());
    for (pod_index, pod) in adjusted.pods.iter_mut().enumerate() {
        let node_index = node_of.get(pod_index).copied().unwrap_or(0);
        let node = nodes
            .get(node_index)
            .ok_or_else(|| LabError::Config(format!("pod {} has no node", pod.key())))?;
        pod.node = Some(node.name.clone());
        let placement = if pod.host_network {
            if pod.ips.is_empty() {
                pod.ips = node.ips.clone();
            }
            Placement::HostNetwork { node: node_index }
        } else {
            if pod.ips.is_empty() {
                for v6 in [false, true] {
                    let wanted = if v6 { families.v6 } else { families.v4 };
                    if wanted {
                        let ip = allocate(node_range(node.index, v6, false), &mut used)
                            .ok_or_else(|| {
                                LabError::Config(format!(
                                    "node {} has no free pod address left for {} \
                                     (253 pods per node at most): use more --nodes",
                                    node.name,
                                    pod.key()
                                ))
                            })?;
                        pod.ips.push(ip);
                    }
                }
            }
            Placement::Pod { node: node_index }
        };
        endpoints.push(EndpointPlan {
            name: pod.key(),
            ips: pod.ips.clone(),
            placement,
        });
    }
    for (index, ip) in config.externals.iter().enumerate() {
        endpoints.push(EndpointPlan {
            name: ip.to_string(),
            ips: vec![*ip],
            placement: Placement::External { index },
        });
    }
    check_unique(&endpoints, &nodes)?;
    Ok(Plan {
        cluster: adjusted,
        nodes,
        externals: config.externals.clone(),
        families,
        endpoints,
        node_mapping,
    })
}

/// IPv6 when anything in the cluster or the externals is IPv6. IPv4 too, unless the addresses
/// given (pod IPs, externals) are all IPv6: an IPv6 ipBlock alone does not make a cluster
/// IPv6-only, it makes allocated pods dual stack.
fn families(cluster: &Cluster, externals: &[IpAddr]) -> Families {
    let addresses: Vec<&IpAddr> = cluster
        .pods
        .iter()
        .flat_map(|p| &p.ips)
        .chain(externals)
        .collect();
    let v4_address = addresses.iter().any(|ip| ip.is_ipv4());
    let v6_address = addresses.iter().any(|ip| ip.is_ipv6());
    let v6_block = cluster
        .policies
        .iter()
        .flat_map(|policy| policy.ingress.iter().chain(&policy.egress).flatten())
        .filter_map(|rule| match &rule.peers {
            Peers::OneOf(items) => Some(items),
            Peers::Any => None,
        })
        .flatten()
        .any(|item| {
            matches!(
                item,
                Peer::IpBlock {
                    cidr: IpNet::V6(_),
                    ..
                }
            )
        });
    Families {
        v4: v4_address || !v6_address,
        v6: v6_address || v6_block,
    }
}

/// Addresses the lab cannot give an endpoint: its own gateways live in link-local space, and
/// loopback, multicast or unspecified addresses cannot be routed between namespaces.
fn check_addresses(cluster: &Cluster, externals: &[IpAddr], _families: Families) -> Result<()> {
    let owners = cluster
        .pods
        .iter()
        .flat_map(|p| p.ips.iter().map(move |ip| (ip, format!("pod {}", p.key()))))
        .chain(externals.iter().map(|ip| (ip, format!("external {ip}"))));
    for (ip, owner) in owners {
        let reason = match ip {
            IpAddr::V4(v4) if v4.is_link_local() => Some("link-local (the lab's gateways use it)"),
            IpAddr::V6(v6) if v6.is_unicast_link_local() => {
                Some("link-local (the lab's gateways use it)")
            }
            ip if ip.is_loopback() => Some("loopback"),
            ip if ip.is_multicast() => Some("multicast"),
            ip if ip.is_unspecified() => Some("unspecified"),
            IpAddr::V4(v4) if v4.is_broadcast() => Some("broadcast"),
            _ => None,
        };
        if let Some(reason) = reason {
            return Err(LabError::Config(format!(
                "{owner}: address {ip} is {reason}, which the lab cannot route"
            )));
        }
    }
    Ok(())
}

/// Lab node for every pod (index into the node list), and how foreign node names were mapped.
fn place(cluster: &Cluster, node_names: &[String]) -> (Vec<usize>, BTreeMap<String, String>) {
    let lab_index: HashMap<&str, usize> = node_names
        .iter()
        .enumerate()
        .map(|(i, n)| (n.as_str(), i))
        .collect();
    let foreign: BTreeSet<&str> = cluster
        .pods
        .iter()
        .filter_map(|p| p.node.as_deref())
        .filter(|n| !lab_index.contains_key(n))
        .collect();
    let count = node_names.len().max(1);
    let foreign_index: HashMap<&str, usize> = foreign
        .iter()
        .enumerate()
        .map(|(i, &n)| (n, i % count))
        .collect();
    let mapping = foreign_index
        .iter()
        .map(|(&from, &to)| {
            (
                from.to_string(),
                node_names.get(to).cloned().unwrap_or_default(),
            )
        })
        .collect();
    let mut next = 0usize;
    let node_of = cluster
        .pods
        .iter()
        .map(|pod| match pod.node.as_deref() {
            Some(name) => lab_index
                .get(name)
                .or_else(|| foreign_index.get(name))
                .copied()
                .unwrap_or(0),
            None => {
                let node = next % count;
                next += 1;
                node
            }
        })
        .collect();
    (node_of, mapping)
}

/// Candidate addresses of node `index` (1-based): pods get 10.244.<n>.2-254 and
/// fd00:244:<n>::2-..., nodes 10.243.<n>.1-254 and fd00:243:<n>::1-... .
fn node_range(index: usize, v6: bool, node: bool) -> Box<dyn Iterator<Item = IpAddr>> {
    let n = u8::try_from(index).unwrap_or(u8::MAX);
    let (base4, base6, first): (u8, u16, u16) = if node {
        (243, 0x243, 1)
    } else {
        (244, 0x244, 2)
    };
    if v6 {
        Box::new((first..=0xfffe).map(move |host| {
            IpAddr::V6(Ipv6Addr::new(0xfd00, base6, u16::from(n), 0, 0, 0, 0, host))
        }))
    } else {
        Box::new(
            (u8::try_from(first).unwrap_or(1)..=254)
                .map(move |host| IpAddr::V4(Ipv4Addr::new(10, base4, n, host))),
        )
    }
}

fn allocate(
    mut candidates: Box<dyn Iterator<Item = IpAddr>>,
    used: &mut BTreeSet<IpAddr>,
) -> Option<IpAddr> {
    let ip = candidates.find(|ip| !used.contains(ip))?;
    used.insert(ip);
    Some(ip)
}

/// Two endpoints in different namespaces with one address would make routing ambiguous.
fn check_unique(endpoints: &[EndpointPlan], nodes: &[NodePlan]) -> Result<()> {
    // Owner: a node (hostNetwork pods share their node's addresses) or an endpoint.
    let mut owner: HashMap<IpAddr, (String, String)> = HashMap::new();
    for n in nodes {
        for ip in &n.ips {
            if let Some((_, other)) = owner.get(ip) {
                return Err(LabError::Config(format!(
                    "node {} and {other} both use address {ip} (hostNetwork pods on \
                     different nodes); give them distinct IPs",
                    n.name
                )));
            }
            owner.insert(
                *ip,
                (format!("node:{}", n.name), format!("node {}", n.name)),
            );
        }
    }
    for e in endpoints {
        let (key, label) = match e.placement {
            Placement::HostNetwork { node } => (
                format!("node:{}", nodes.get(node).map_or("", |n| n.name.as_str())),
                format!("hostNetwork pod {}", e.name),
            ),
            Placement::Pod { .. } => (format!("pod:{}", e.name), format!("pod {}", e.name)),
            // By index: two externals with one address are two hosts, which cannot be.
            Placement::External { index } => {
                (format!("ext:{index}"), format!("external {}", e.name))
            }
        };
        for ip in &e.ips {
            match owner.get(ip) {
                Some((k, other)) if *k != key => {
                    return Err(LabError::Config(format!(
                        "{label} and {other} both use address {ip}; give them distinct IPs"
                    )));
                }
                Some(_) => {}
                None => {
                    owner.insert(*ip, (key.clone(), label.clone()));
                }
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests;
