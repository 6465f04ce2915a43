//! High cardinality: every workload has its own labels and named ports, and most policies
//! select one workload and name their peers one by one. Equivalence classes come close to
//! one per workload, which is what an engine built around shared labels finds hardest.

use std::fmt::Write as _;

use super::yaml::{labels, pairs};
use super::{Manifests, Rng, node_of, pod_ip};

struct Workload {
    app: String,
    namespace: usize,
    port: u16,
    port_name: String,
}

pub(crate) fn generate(pods: usize) -> Manifests {
    let mut rng = Rng::new(0x756e_6971);
    let tenants = (pods / 200).max(5);
    let mut base = String::new();
    let mut m = Manifests::default();

    // Cluster DNS, which every locked-down namespace lets its pods reach.
    namespace(&mut base, "kube-system", &[]);
    let mut n = 0;
    for r in 0..2 {
        pod(
            &mut base,
            &mut n,
            pods,
            "kube-system",
            &format!("coredns-5d78c9869d-{}", ["dnsa1", "dnsb2"][r]),
            &[("k8s-app", "kube-dns"), ("pod-template-hash", "5d78c9869d")],
            &[("dns", "UDP", 53), ("dns-tcp", "TCP", 53)],
        );
    }
    for t in 0..tenants {
        let group = format!("g{}", t % 5);
        namespace(
            &mut base,
            &tenant(t),
            &[("tenant", &format!("t{t}")), ("group", &group)],
        );
    }

    // Workloads of 1-3 replicas, each with its own app label and named port.
    let mut workloads: Vec<Workload> = Vec::new();
    let per_tenant = pods.saturating_sub(2) / tenants;
    for t in 0..tenants {
        let ns = tenant(t);
        let mut placed = 0;
        while placed < per_tenant {
            let j = workloads.len();
            let replicas = (1 + rng.below(3)).min(per_tenant - placed);
            let app = format!("svc-{j:05}");
            let port = 8000 + (j % 1000) as u16;
            let port_name = format!("http-{j}");
            let hash = rng.template_hash();
            for _ in 0..replicas {
                let name = format!("{app}-{hash}-{}", rng.suffix());
                pod(
                    &mut base,
                    &mut n,
                    pods,
                    &ns,
                    &name,
                    &[
                        ("app", &app),
                        ("component", &format!("c{}", j % 97)),
                        ("pod-template-hash", &hash),
                    ],
                    &[(&port_name, "TCP", port), ("metrics", "TCP", 9090)],
                );
            }
            placed += replicas;
            workloads.push(Workload {
                app,
                namespace: t,
                port,
                port_name,
            });
        }
    }
    m.pods = n;
    m.namespaces = tenants + 1;
    m.node = node_of(0, pods);

    let budget = pods * 3 / 10;
    let mut policies = Vec::new();
    // Per tenant: a default deny (most of them) and DNS egress.
    for t in 0..tenants {
        if policies.len() + 2 > budget {
            break;
        }
        if t % 5 != 4 {
            policies.push(default_deny(&tenant(t)));
        }
        policies.push(allow_dns(&tenant(t)));
    }
    // Then per workload, in a shuffled order, until the budget is spent.
    let mut order: Vec<usize> = (0..workloads.len()).collect();
    for i in (1..order.len()).rev() {
        order.swap(i, rng.below(i + 1));
    }
    for &w in &order {
        if policies.len() >= budget {
            break;
        }
        policies.push(workload_policy(&workloads, w, &mut rng));
    }
    m.policies = policies;
    m.base = base;
    let first = workloads.first().map_or(0, |w| w.namespace);
    m.from = format!("{}/{}", tenant(first), "pod-of-first");
    m.to = m.from.clone();
    // `why` needs real pod names: the first two pods written for the first tenant.
    let names: Vec<&str> = m
        .base
        .lines()
        .filter_map(|l| l.strip_prefix("  name: "))
        .filter(|name| name.starts_with("svc-"))
        .take(8)
        .collect();
    if let (Some(a), Some(b)) = (names.first(), names.last()) {
        m.from = format!("{}/{a}", tenant(first));
        m.to = format!("{}/{b}", tenant(first));
    }
    m
}

fn tenant(t: usize) -> String {
    format!("tenant-{t:03}")
}

fn namespace(out: &mut String, name: &str, extra: &[(&str, &str)]) {
    let _ = writeln!(
        out,
        "---\napiVersion: v1\nkind: Namespace\nmetadata:\n  name: {name}"
    );
    if !extra.is_empty() {
        labels(out, 2, "labels", &pairs(extra));
    }
}

fn pod(
    out: &mut String,
    n: &mut usize,
    total: usize,
    namespace: &str,
    name: &str,
    label_pairs: &[(&str, &str)],
    ports: &[(&str, &str, u16)],
) {
    let _ = writeln!(
        out,
        "---\napiVersion: v1\nkind: Pod\nmetadata:\n  name: {name}\n  namespace: {namespace}"
    );
    labels(out, 2, "labels", &pairs(label_pairs));
    let _ = writeln!(
        out,
        "spec:\n  nodeName: {}\n  containers:\n  - name: main\n    image: registry.example/app:1.0\n    ports:",
        node_of(*n, total)
    );
    for (port_name, protocol, port) in ports {
        let _ = writeln!(
            out,
            "    - name: {port_name}\n      containerPort: {port}\n      protocol: {protocol}"
        );
    }
    let _ = writeln!(out, "status:\n  podIP: {}", pod_ip(*n));
    *n += 1;
}

fn default_deny(ns: &str) -> String {
    format!(
        "---\napiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata:\n  name: default-deny\n  namespace: {ns}\nspec:\n  podSelector: {{}}\n  policyTypes: [Ingress, Egress]\n"
    )
}

fn allow_dns(ns: &str) -> String {
    format!(
        "---\napiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata:\n  name: allow-dns\n  namespace: {ns}\nspec:\n  podSelector: {{}}\n  policyTypes: [Egress]\n  egress:\n  - to:\n    - namespaceSelector:\n        matchLabels:\n          kubernetes.io/metadata.name: kube-system\n      podSelector:\n        matchLabels:\n          k8s-app: kube-dns\n    ports:\n    - protocol: UDP\n      port: 53\n    - protocol: TCP\n      port: 53\n"
    )
}

/// Ingress from one to three named workloads (some in other tenants) on the workload's named
/// port, egress to one or two named workloads on their numbers; one in ten also admits
/// metrics scrapes from every namespace, one in ten from a group of tenants.
fn workload_policy(workloads: &[Workload], w: usize, rng: &mut Rng) -> String {
    let me = &workloads[w];
    let ns = tenant(me.namespace);
    let mut out = format!(
        "---\napiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata:\n  name: allow-{}\n  namespace: {ns}\nspec:\n  podSelector:\n    matchLabels:\n      app: {}\n  policyTypes: [Ingress, Egress]\n  ingress:\n  - from:\n",
        me.app, me.app
    );
    for _ in 0..1 + rng.below(3) {
        let peer = &workloads[rng.below(workloads.len())];
        peer_item(&mut out, "    ", me.namespace, peer);
    }
    let _ = writeln!(
        out,
        "    ports:\n    - protocol: TCP\n      port: {}",
        me.port_name
    );
    match rng.below(10) {
        0 => out.push_str(
            "  - from:\n    - namespaceSelector: {}\n    ports:\n    - protocol: TCP\n      port: metrics\n",
        ),
        1 => {
            let _ = writeln!(
                out,
                "  - from:\n    - namespaceSelector:\n        matchLabels:\n          group: g{}\n    ports:\n    - protocol: TCP\n      port: 9090",
                rng.below(5)
            );
        }
        _ => {}
    }
    out.push_str("  egress:\n");
    for _ in 0..1 + rng.below(2) {
        let peer = &workloads[rng.below(workloads.len())];
        out.push_str("  - to:\n");
        peer_item(&mut out, "    ", me.namespace, peer);
        let _ = writeln!(
            out,
            "    ports:\n    - protocol: TCP\n      port: {}",
            peer.port
        );
    }
    out
}

fn peer_item(out: &mut String, pad: &str, own: usize, peer: &Workload) {
    if peer.namespace == own {
        let _ = writeln!(
            out,
            "{pad}- podSelector:\n{pad}    matchLabels:\n{pad}      app: {}",
            peer.app
        );
    } else {
        let _ = writeln!(
            out,
            "{pad}- namespaceSelector:\n{pad}    matchLabels:\n{pad}      tenant: t{}\n{pad}  podSelector:\n{pad}    matchLabels:\n{pad}      app: {}",
            peer.namespace, peer.app
        );
    }
}
