//! A high-cardinality synthetic cluster: every workload has labels of its own.
//!
//! ```text
//!   generate_unique(UniqueParams { namespaces, pods, policies, seed })
//!     namespaces  "{team}-{n}" with team/env labels, some monitoring=enabled; kube-system
//!                 holds coredns
//!     pods        workloads of 1-3 replicas, each with a unique `app` label (plus tier and
//!                 an unread pod-template-hash); named ports `http` (a number per workload),
//!                 `metrics`, sometimes `grpc`; IPv4 from 10.<ns>.0.0/16, dual stack in every
//!                 5th namespace, ~1% pending without IP
//!     policies    per namespace a default deny (both directions); then one policy per workload (cycling):
//!                 ingress from 1-3 named peer workloads (own or other namespace) on `http`,
//!                 egress to named peers on `http` and DNS, and in some of them broad peers:
//!                 `namespaceSelector: {}`, a namespaceSelector by team or env label,
//!                 `namespaceSelector: {}` with a tier podSelector, a list of namespace names,
//!                 the whole own namespace; egress to every pod (or a list of namespaces) on
//!                 a named port
//! ```
//!
//! The shape no class-based grouping collapses: workloads are their own equivalence classes,
//! and broad peers cover nearly every pod of the cluster. The same parameters always give the
//! same cluster.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use palisade_core::model::{
    Cluster, ContainerPort, NAMESPACE_NAME_LABEL, Pod, PodOrigin, Policy, Protocol,
};

use crate::builders::{
    cport, key_in, labels, mk_cluster, mk_ns, mk_pod, mk_policy, named, namespaces, pods, pods_in,
    rule, sel, sel_expr, tcp, udp,
};
use crate::synth::Rng;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UniqueParams {
    pub namespaces: usize,
    pub pods: usize,
    pub policies: usize,
    pub seed: u64,
}

const TEAMS: &[&str] = &[
    "payments", "search", "identity", "catalog", "checkout", "platform", "data", "growth",
];
const ENVS: &[&str] = &["prod", "staging", "dev"];
const TIERS: &[&str] = &["frontend", "backend", "data"];

/// One workload as policies refer to it.
struct Workload {
    namespace: usize,
    app: String,
}

/// Builds the cluster described in the module documentation.
pub fn generate_unique(params: UniqueParams) -> Cluster {
    let mut rng = Rng(params.seed ^ 0x0A11_0DD5_0F7E);
    let ns_count = params.namespaces.max(2);
    let nodes = params.pods.div_ceil(110).max(1);
    let mut ns_names = vec!["kube-system".to_string()];
    let mut namespace_list = vec![mk_ns("kube-system", |_| {})];
    for i in 1..ns_count {
        let team = TEAMS[i % TEAMS.len()];
        let env = ENVS[(i / TEAMS.len()) % ENVS.len()];
        let name = format!("{team}-{i}");
        let monitored = rng.chance(60);
        namespace_list.push(mk_ns(&name, |n| {
            n.labels.extend(labels(&[("team", team), ("env", env)]));
            if monitored {
                n.labels.extend(labels(&[("monitoring", "enabled")]));
            }
        }));
        ns_names.push(name);
    }

    let mut all_pods: Vec<Pod> = Vec::with_capacity(params.pods);
    let mut workloads: Vec<Workload> = Vec::new();
    let mut per_ns: Vec<Vec<usize>> = vec![Vec::new(); ns_count];
    let mut global = 0usize;
    for (n, ns) in ns_names.iter().enumerate() {
        let mut budget = params.pods / ns_count + usize::from(n < params.pods % ns_count);
        let mut counter = 0u32;
        let mut k = 0usize;
        while budget > 0 {
            let (app, replicas, ports) = if n == 0 && k == 0 {
                let ports = vec![
                    cport("dns", Protocol::Udp, 53),
                    cport("dns-tcp", Protocol::Tcp, 53),
                ];
                ("coredns".to_string(), budget.min(2), ports)
            } else {
                let mut ports = vec![
                    cport("http", Protocol::Tcp, 8000 + (rng.below(200) as u16)),
                    cport("metrics", Protocol::Tcp, 9090),
                ];
                if rng.chance(30) {
                    ports.push(cport("grpc", Protocol::Tcp, 9000 + (rng.below(50) as u16)));
                }
                (format!("{ns}-w{k}"), (1 + rng.below(3)).min(budget), ports)
            };
            let tier = TIERS[rng.below(TIERS.len())];
            let hash = rng.hash();
            for r in 0..replicas {
                counter += 1;
                let pending = rng.chance(1);
                let ips = if pending {
                    Vec::new()
                } else {
                    let base = u32::from(Ipv4Addr::new(10, 0, 0, 0));
                    let v4 = base.wrapping_add(((n as u32) << 16) + counter);
                    let mut ips = vec![IpAddr::V4(Ipv4Addr::from(v4))];
                    if n % 5 == 4 {
                        ips.push(IpAddr::V6(Ipv6Addr::new(
                            0xfd00,
                            0x20,
                            n as u16,
                            0,
                            0,
                            0,
                            0,
                            counter as u16,
                        )));
                    }
                    ips
                };
                let node = global % nodes;
                global += 1;
                let mut pairs = vec![("app", app.as_str()), ("tier", tier)];
                if app == "coredns" {
                    pairs.push(("k8s-app", "kube-dns"));
                }
                pairs.push(("pod-template-hash", hash.as_str()));
                let pod_ports: Vec<ContainerPort> = ports.clone();
                all_pods.push(mk_pod(ns, &format!("{app}-{hash}-{r}"), |p| {
                    p.labels = labels(&pairs);
                    p.ips = ips;
                    p.ports = pod_ports;
                    p.node = (!pending).then(|| format!("node-{node}"));
                    p.origin = PodOrigin::Pod;
                }));
            }
            budget -= replicas;
            if app != "coredns" {
                per_ns[n].push(workloads.len());
                workloads.push(Workload { namespace: n, app });
            }
            k += 1;
        }
    }

    let mut policies: Vec<Policy> = Vec::with_capacity(params.policies);
    for ns in ns_names.iter().skip(1) {
        if policies.len() < params.policies {
            policies.push(mk_policy(ns, "default-deny", |p| {
                p.egress = Some(Vec::new())
            }));
        }
    }
    let mut step = 0usize;
    while policies.len() < params.policies && !workloads.is_empty() {
        let w = &workloads[step % workloads.len()];
        let ns = &ns_names[w.namespace];
        let peer = |rng: &mut Rng| {
            // Mostly the same namespace; a third elsewhere.
            let same = &per_ns[w.namespace];
            if rng.chance(66) && !same.is_empty() {
                let p = &workloads[same[rng.below(same.len())]];
                pods(sel(&[("app", p.app.as_str())]))
            } else {
                let p = &workloads[rng.below(workloads.len())];
                pods_in(
                    sel(&[(NAMESPACE_NAME_LABEL, ns_names[p.namespace].as_str())]),
                    sel(&[("app", p.app.as_str())]),
                )
            }
        };
        let from: Vec<_> = (0..1 + rng.below(3)).map(|_| peer(&mut rng)).collect();
        let to: Vec<_> = (0..1 + rng.below(2)).map(|_| peer(&mut rng)).collect();
        // Nearly every policy admits a broad peer, most two; seven in ten egress rules too.
        let broad = rng.below(9);
        let second = if rng.chance(70) { 4 + rng.below(4) } else { 9 };
        let broad_egress = rng.below(10);
        let team = TEAMS[rng.below(TEAMS.len())];
        let env = ENVS[rng.below(ENVS.len())];
        let tier = TIERS[rng.below(TIERS.len())];
        // "Allow from these namespaces": a list of 5-20 namespace names.
        let listed = |rng: &mut Rng| {
            let n = 5 + rng.below(16);
            let names: Vec<&str> = (0..n)
                .map(|_| ns_names[rng.below(ns_names.len())].as_str())
                .collect();
            sel_expr(&[], vec![key_in(NAMESPACE_NAME_LABEL, &names)])
        };
        let listed_in = listed(&mut rng);
        let listed_out = listed(&mut rng);
        let egress_locked = rng.chance(80);
        let app = w.app.clone();
        policies.push(mk_policy(ns, &format!("allow-{app}"), |p| {
            p.subject = sel(&[("app", app.as_str())]);
            let mut ingress = vec![rule(from, vec![named(Protocol::Tcp, "http")])];
            let http = || vec![named(Protocol::Tcp, "http")];
            for broad in [broad, second] {
                match broad {
                    0 => ingress.push(rule(
                        vec![namespaces(sel(&[]))],
                        vec![named(Protocol::Tcp, "metrics")],
                    )),
                    1 => ingress.push(rule(
                        vec![namespaces(sel(&[("team", team)]))],
                        vec![tcp(8443)],
                    )),
                    2 => ingress.push(rule(
                        vec![pods_in(sel(&[]), sel(&[("tier", tier)]))],
                        http(),
                    )),
                    3 => ingress.push(rule(
                        vec![namespaces(sel(&[("env", env)]))],
                        vec![named(Protocol::Tcp, "grpc")],
                    )),
                    4 | 6 => {
                        ingress.push(rule(vec![namespaces(listed_in.clone())], vec![tcp(8080)]))
                    }
                    5 | 7 => ingress.push(rule(
                        vec![pods_in(listed_in.clone(), sel(&[("tier", tier)]))],
                        http(),
                    )),
                    8 => ingress.push(rule(
                        vec![pods_in(sel(&[("team", team)]), sel(&[("tier", tier)]))],
                        http(),
                    )),
                    _ => {}
                }
            }
            p.ingress = Some(ingress);
            if egress_locked {
                let mut egress = vec![
                    rule(to, http()),
                    rule(
                        vec![pods_in(
                            sel(&[(NAMESPACE_NAME_LABEL, "kube-system")]),
                            sel(&[("k8s-app", "kube-dns")]),
                        )],
                        vec![udp(53), tcp(53)],
                    ),
                ];
                match broad_egress {
                    0 | 3 => egress.push(rule(vec![namespaces(sel(&[]))], http())),
                    1 | 4 => egress.push(rule(
                        vec![namespaces(sel(&[("monitoring", "enabled")]))],
                        vec![named(Protocol::Tcp, "metrics")],
                    )),
                    2 | 5 | 6 => egress.push(rule(
                        vec![pods_in(listed_out.clone(), sel(&[("tier", tier)]))],
                        http(),
                    )),
                    _ => {}
                }
                p.egress = Some(egress);
            }
        }));
        step += 1;
    }
    mk_cluster(namespace_list, all_pods, policies)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deterministic_and_high_cardinality() {
        let params = UniqueParams {
            namespaces: 10,
            pods: 1_000,
            policies: 300,
            seed: 3,
        };
        let a = generate_unique(params);
        let b = generate_unique(params);
        assert_eq!(a.pods, b.pods);
        assert_eq!(a.policies, b.policies);
        assert_eq!(a.pods.len(), 1_000);
        assert_eq!(a.policies.len(), 300);
        let apps: std::collections::BTreeSet<&str> = a
            .pods
            .iter()
            .filter_map(|p| p.labels.get("app").map(String::as_str))
            .collect();
        // 1-3 replicas per workload: at least a third as many workloads as pods.
        assert!(apps.len() > 333, "{} workloads", apps.len());
    }
}
