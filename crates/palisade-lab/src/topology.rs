//! The namespaces and links of one run, built from a [`Plan`] with a handful of `ip -batch`
//! processes, and removed again when the [`Topology`] is dropped.
//!
//! ```text
//!   pod netns ── veth ── node netns ── veth ──┐
//!   pod netns ── veth ──┘  (forwarding on)     ├── fabric netns (forwarding on) ── veth ── external netns
//!   pod netns ── veth ── node netns ── veth ──┘
//! ```
//!
//! Routed, CNI-ptp style: each pod has its /32 (/128) on its veth, a link-scope route to the
//! pod gateway (an address on every node-side pod veth) and a default route via it. The node
//! routes each local pod's /32 to its veth and everything else to the fabric gateway; the fabric
//! routes each node's pods via that node. No bridges: bridged traffic skips the `inet` forward
//! hook the agent enforces in. Nothing is ever created in, or routed to, the root namespace.

use std::net::IpAddr;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::cleanup;
use crate::error::{LabError, Result};
use crate::names::RunNames;
use crate::netns::{self, IpBatch};
use crate::plan::{
    FABRIC_GATEWAY_V4, FABRIC_GATEWAY_V6, POD_GATEWAY_V4, POD_GATEWAY_V6, Placement, Plan,
};

const LINKS_UP_TIMEOUT: Duration = Duration::from_secs(5);

/// The namespaces of a run. Dropping it kills what runs inside them and deletes them.
#[derive(Debug)]
pub struct Topology {
    pub names: RunNames,
    /// Every namespace of the run, fabric first.
    pub all: Vec<String>,
    /// Per endpoint (pods in cluster order, then externals): the namespace it lives in.
    pub endpoint_netns: Vec<String>,
    /// Per node (index 0 = node-1).
    pub node_netns: Vec<String>,
    removed: bool,
}

fn host_prefix(ip: &IpAddr) -> String {
    match ip {
        IpAddr::V4(_) => format!("{ip}/32"),
        IpAddr::V6(_) => format!("{ip}/128"),
    }
}

fn addr_line(ip: &IpAddr, dev: &str) -> String {
    match ip {
        IpAddr::V4(_) => format!("addr add {ip}/32 dev {dev}"),
        IpAddr::V6(_) => format!("addr add {ip}/128 dev {dev} nodad"),
    }
}

/// Gateway address, link route and default route of a host behind a point-to-point veth.
fn uplink_lines(batch: &mut IpBatch, dev: &str, v4: bool, v6: bool, fabric: bool) {
    let (gw4, gw6) = if fabric {
        (FABRIC_GATEWAY_V4, FABRIC_GATEWAY_V6)
    } else {
        (POD_GATEWAY_V4, POD_GATEWAY_V6)
    };
    if v4 {
        batch.line(format!("route add {gw4}/32 dev {dev} scope link"));
        batch.line(format!("route add default via {gw4} dev {dev}"));
    }
    if v6 {
        batch.line(format!("route add default via {gw6} dev {dev}"));
    }
}

fn gateway_lines(batch: &mut IpBatch, dev: &str, v4: bool, v6: bool, fabric: bool) {
    let (gw4, gw6) = if fabric {
        (FABRIC_GATEWAY_V4, FABRIC_GATEWAY_V6)
    } else {
        (POD_GATEWAY_V4, POD_GATEWAY_V6)
    };
    if v4 {
        batch.line(format!("addr add {gw4}/32 dev {dev}"));
    }
    if v6 {
        batch.line(format!("addr add {gw6}/64 dev {dev} nodad"));
    }
}

impl Topology {
    /// Creates every namespace and link of `plan`. On error, whatever was created is removed
    /// before returning.
    pub fn build(plan: &Plan, names: RunNames) -> Result<Topology> {
        let fam = plan.families;
        let node_netns: Vec<String> = plan.nodes.iter().map(|n| names.node(n.index)).collect();
        let endpoint_netns: Vec<String> = plan
            .endpoints
            .iter()
            .enumerate()
            .map(|(i, e)| match e.placement {
                Placement::Pod { .. } => names.pod(i),
                Placement::HostNetwork { node } => {
                    node_netns.get(node).cloned().unwrap_or_default()
                }
                Placement::External { index } => names.external(index),
            })
            .collect();
        let mut all = vec![names.fabric()];
        all.extend(node_netns.iter().cloned());
        for (e, ns) in plan.endpoints.iter().zip(&endpoint_netns) {
            if !matches!(e.placement, Placement::HostNetwork { .. }) {
                all.push(ns.clone());
            }
        }
        let topology = Topology {
            names,
            all,
            endpoint_netns,
            node_netns,
            removed: false,
        };
        cleanup::register(&topology.names);
        topology.create(plan, fam.v4, fam.v6)?;
        Ok(topology)
    }

    fn create(&self, plan: &Plan, v4: bool, v6: bool) -> Result<()> {
        let names = &self.names;
        let fabric = names.fabric();

        let mut root = IpBatch::new(None);
        for ns in &self.all {
            root.line(format!("netns add {ns}"));
        }
        netns::run_batches(&[root])?;

        self.sysctls(v6)?;

        let mut links = IpBatch::new(None);
        for node in &plan.nodes {
            links.line(format!(
                "link add {} netns {fabric} type veth peer name {} netns {}",
                names.fabric_to_node(node.index),
                names.node_uplink(node.index),
                names.node(node.index)
            ));
        }
        for (i, e) in plan.endpoints.iter().enumerate() {
            match e.placement {
                Placement::Pod { node } => {
                    let node_ns = self.node_netns.get(node).map_or("", String::as_str);
                    links.line(format!(
                        "link add {} netns {node_ns} type veth peer name {} netns {}",
                        names.node_to_pod(i),
                        names.pod_link(i),
                        names.pod(i)
                    ));
                }
                Placement::External { index } => links.line(format!(
                    "link add {} netns {fabric} type veth peer name {} netns {}",
                    names.fabric_to_external(index),
                    names.external_link(index),
                    names.external(index)
                )),
                Placement::HostNetwork { .. } => {}
            }
        }
        netns::run_batches(&[links])?;

        let mut fab = IpBatch::new(Some(&fabric));
        fab.line("link set lo up");
        let mut batches = Vec::new();
        for node in &plan.nodes {
            let (f, u) = (
                names.fabric_to_node(node.index),
                names.node_uplink(node.index),
            );
            fab.line(format!("link set {f} up"));
            gateway_lines(&mut fab, &f, v4, v6, true);
            for ip in &node.ips {
                fab.line(format!("route add {} dev {f}", host_prefix(ip)));
            }
            let mut nb = IpBatch::new(Some(&names.node(node.index)));
            nb.line("link set lo up");
            nb.line(format!("link set {u} up"));
            for ip in &node.ips {
                nb.line(addr_line(ip, &u));
            }
            uplink_lines(&mut nb, &u, v4, v6, true);
            for &p in &node.pods {
                let Some(e) = plan.endpoints.get(p) else {
                    continue;
                };
                if !matches!(e.placement, Placement::Pod { .. }) {
                    continue;
                }
                let dev = names.node_to_pod(p);
                nb.line(format!("link set {dev} up"));
                gateway_lines(&mut nb, &dev, v4, v6, false);
                for ip in &e.ips {
                    nb.line(format!("route add {} dev {dev}", host_prefix(ip)));
                    if let Some(via) = node.primary(ip.is_ipv6()) {
                        fab.line(format!(
                            "route add {} via {via} dev {f} onlink",
                            host_prefix(ip)
                        ));
                    }
                }
                let mut pb = IpBatch::new(Some(&names.pod(p)));
                let link = names.pod_link(p);
                pb.line("link set lo up");
                pb.line(format!("link set {link} up"));
                for ip in &e.ips {
                    pb.line(addr_line(ip, &link));
                }
                let has4 = e.ips.iter().any(IpAddr::is_ipv4);
                let has6 = e.ips.iter().any(IpAddr::is_ipv6);
                uplink_lines(&mut pb, &link, has4, has6, false);
                batches.push(pb);
            }
            batches.push(nb);
        }
        for (j, ip) in plan.externals.iter().enumerate() {
            let (g, h) = (names.fabric_to_external(j), names.external_link(j));
            fab.line(format!("link set {g} up"));
            gateway_lines(&mut fab, &g, v4, v6, true);
            fab.line(format!("route add {} dev {g}", host_prefix(ip)));
            let mut xb = IpBatch::new(Some(&names.external(j)));
            xb.line("link set lo up");
            xb.line(format!("link set {h} up"));
            xb.line(addr_line(ip, &h));
            uplink_lines(&mut xb, &h, ip.is_ipv4(), ip.is_ipv6(), true);
            batches.push(xb);
        }
        batches.push(fab);
        netns::run_batches(&batches)?;
        self.wait_until_up()
    }

    /// Waits until every link of the run is operationally up. The kernel attaches a link's real
    /// queueing discipline only when its link watcher runs (a workqueue, late under load);
    /// until then packets are silently dropped, and a dropped first ARP reply would look
    /// exactly like a blocked connection.
    fn wait_until_up(&self) -> Result<()> {
        let prefix = self.names.prefix();
        let deadline = Instant::now() + LINKS_UP_TIMEOUT;
        let mut pending: Vec<&String> = self.all.iter().collect();
        loop {
            let children: Vec<_> = pending
                .iter()
                .map(|ns| {
                    Command::new("ip")
                        .args(["-n", ns, "-o", "link", "show"])
                        .stdout(Stdio::piped())
                        .stderr(Stdio::null())
                        .spawn()
                })
                .collect();
            let mut still = Vec::new();
            for (ns, child) in pending.iter().zip(children) {
                let out = child
                    .and_then(|c| c.wait_with_output())
                    .map_err(|e| LabError::io("running `ip link show`", e))?;
                let text = String::from_utf8_lossy(&out.stdout);
                let down = text
                    .lines()
                    .filter(|l| l.contains(&prefix))
                    .any(|l| !l.contains(" state UP "));
                if down || !out.status.success() {
                    still.push(*ns);
                }
            }
            if still.is_empty() {
                return Ok(());
            }
            if Instant::now() >= deadline {
                let names: Vec<&str> = still.iter().map(|s| s.as_str()).collect();
                return Err(LabError::setup(
                    "waiting for links to come up",
                    format!(
                        "still down after {LINKS_UP_TIMEOUT:?} in {}",
                        names.join(" ")
                    ),
                ));
            }
            pending = still;
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    /// Forwarding on in nodes and the fabric only; no duplicate address detection anywhere, so
    /// IPv6 addresses are usable at once.
    fn sysctls(&self, v6: bool) -> Result<()> {
        let fabric = self.names.fabric();
        let routers: Vec<&String> = std::iter::once(&fabric)
            .chain(self.node_netns.iter())
            .collect();
        let all = self.all.clone();
        std::thread::scope(|s| {
            s.spawn(move || -> Result<()> {
                for ns in &all {
                    let file = netns::open(ns)?;
                    netns::enter(&file, ns)?;
                    if v6 {
                        netns::sysctl("net.ipv6.conf.all.accept_dad", "0")?;
                        netns::sysctl("net.ipv6.conf.default.accept_dad", "0")?;
                    }
                    if routers.contains(&ns) {
                        netns::sysctl("net.ipv4.ip_forward", "1")?;
                        if v6 {
                            netns::sysctl("net.ipv6.conf.all.forwarding", "1")?;
                            netns::sysctl("net.ipv6.conf.default.forwarding", "1")?;
                        }
                    }
                }
                Ok(())
            })
            .join()
            .unwrap_or_else(|_| Err(LabError::setup("sysctl thread", "panicked")))
        })
    }

    /// The node namespace of node `index` (0-based).
    pub fn node_ns(&self, index: usize) -> Option<&str> {
        self.node_netns.get(index).map(String::as_str)
    }

    /// Kills what runs in the namespaces and deletes them; idempotent. Sockets of this process
    /// must be closed first, or the namespaces live on, unnamed, until they are.
    pub fn remove(&mut self) -> Result<()> {
        if self.removed {
            return Ok(());
        }
        self.removed = true;
        let result = cleanup::remove_namespaces(&self.all).map(|_| ());
        cleanup::unregister(&self.names);
        result
    }
}

impl Drop for Topology {
    fn drop(&mut self) {
        // Errors are reported by an explicit `remove`; Drop is the safety net on failure paths.
        let _ = self.remove();
    }
}
