//! A deterministic synthetic cluster for benchmarks and property tests.
//!
//! ```text
//!   generate(SynthParams { namespaces, pods, policies, seed })
//!     namespaces  kube-system, monitoring, ingress-nginx, then "{team}-{env}[-n]" with
//!                 team/env/monitoring/istio labels
//!     pods        per namespace: deployments of a catalog app (1-12 replicas, some canaries
//!                 with a second version), labels app/tier/team/env/version plus labels no
//!                 policy reads (pod-template-hash, statefulset pod name); named container
//!                 ports; IPv4 from 10.<ns>.0.0/16, dual stack in every 4th namespace, ~1%
//!                 pending without IP; node-exporter hostNetwork pods on node IPs
//!     policies    per namespace: default denies, DNS egress (AND, named, and the OR mistake),
//!                 scrape and ingress-controller allows, then per-deployment allows cycling
//!                 through every feature (matchExpressions, endPort, named ports, ipBlock with
//!                 except, IPv6, SCTP, multi-rule, selectors that match nothing)
//! ```
//!
//! The same parameters always give the same cluster. The mix aims at a realistic middle:
//! replicas of one deployment collapse into one equivalence class, deployments do not.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use palisade_core::model::{
    Cluster, ContainerPort, NAMESPACE_NAME_LABEL, Namespace, Pod, PodOrigin, Policy, Protocol,
};

use crate::builders::{
    any_port, cport, does_not_exist, exists, ip_block, key_in, key_not_in, labels, mk_cluster,
    mk_ns, mk_pod, mk_policy, named, namespaces, pods, pods_in, port_range, rule, sctp, sel,
    sel_expr, tcp, udp,
};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SynthParams {
    pub namespaces: usize,
    pub pods: usize,
    pub policies: usize,
    pub seed: u64,
}

/// SplitMix64: tiny, fast, and stable across platforms and releases.
#[derive(Debug, Clone)]
pub(crate) struct Rng(pub(crate) u64);

impl Rng {
    pub(crate) fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (0 when `n == 0`).
    pub(crate) fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            (self.next() % n as u64) as usize
        }
    }

    pub(crate) fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }

    pub(crate) fn pick<'a, T>(&mut self, items: &'a [T]) -> Option<&'a T> {
        items.get(self.below(items.len()))
    }

    pub(crate) fn hash(&mut self) -> String {
        format!("{:08x}", self.next() as u32)
    }
}

struct App {
    name: &'static str,
    tier: &'static str,
    ports: &'static [(&'static str, Protocol, u16)],
    stateful: bool,
}

const fn app(
    name: &'static str,
    tier: &'static str,
    ports: &'static [(&'static str, Protocol, u16)],
    stateful: bool,
) -> App {
    App {
        name,
        tier,
        ports,
        stateful,
    }
}

use Protocol::{Sctp, Tcp, Udp};

const CATALOG: &[App] = &[
    app(
        "web",
        "frontend",
        &[("http", Tcp, 8080), ("metrics", Tcp, 9090)],
        false,
    ),
    app(
        "frontend",
        "frontend",
        &[("http", Tcp, 3000), ("metrics", Tcp, 9090)],
        false,
    ),
    app(
        "gateway",
        "frontend",
        &[
            ("http", Tcp, 80),
            ("https", Tcp, 443),
            ("statsd", Udp, 8125),
        ],
        false,
    ),
    app(
        "api",
        "backend",
        &[
            ("http", Tcp, 8080),
            ("grpc", Tcp, 9000),
            ("metrics", Tcp, 9090),
        ],
        false,
    ),
    app(
        "auth",
        "backend",
        &[("https", Tcp, 8443), ("metrics", Tcp, 9090)],
        false,
    ),
    app(
        "orders",
        "backend",
        &[("http", Tcp, 8081), ("metrics", Tcp, 9091)],
        false,
    ),
    app("worker", "backend", &[("metrics", Tcp, 9090)], false),
    app(
        "search",
        "backend",
        &[("http", Tcp, 9200), ("transport", Tcp, 9300)],
        false,
    ),
    app(
        "notifier",
        "backend",
        &[("http", Tcp, 8080), ("sip", Sctp, 5060)],
        false,
    ),
    app("batch", "backend", &[], false),
    app("cache", "data", &[("redis", Tcp, 6379)], true),
    app(
        "db",
        "data",
        &[("postgres", Tcp, 5432), ("metrics", Tcp, 9187)],
        true,
    ),
    app(
        "queue",
        "data",
        &[("amqp", Tcp, 5672), ("metrics", Tcp, 15692)],
        true,
    ),
    app("mongo", "data", &[("mongodb", Tcp, 27017)], true),
];

const SYSTEM_FILL: &[App] = &[
    app("metrics-server", "system", &[("https", Tcp, 10250)], false),
    app(
        "cert-manager",
        "system",
        &[("webhook", Tcp, 10250), ("metrics", Tcp, 9402)],
        false,
    ),
    app("external-dns", "system", &[("http", Tcp, 7979)], false),
];

const TEAMS: &[&str] = &[
    "payments", "search", "identity", "catalog", "checkout", "platform", "data", "growth",
];
const ENVS: &[&str] = &["prod", "staging", "dev"];

/// One deployment (or statefulset) as policies refer to it.
struct Deployment {
    app: String,
    tier: &'static str,
    ports: &'static [(&'static str, Protocol, u16)],
}

struct NsPlan {
    name: String,
    index: usize,
    team: &'static str,
    env: &'static str,
    system: bool,
    egress_locked: bool,
    dual_stack: bool,
    deployments: Vec<Deployment>,
}

/// Builds the cluster described in the module documentation.
pub fn generate(params: SynthParams) -> Cluster {
    let mut rng = Rng(params.seed ^ 0x005E_ED0F_C1A5);
    let ns_count = params.namespaces.max(1);
    let nodes = params.pods.div_ceil(110).max(1);
    let mut plans = plan_namespaces(ns_count, &mut rng);
    let mut out_ns: Vec<Namespace> = plans.iter().map(|p| namespace(p, &mut rng)).collect();
    out_ns.sort_by(|a, b| a.name.cmp(&b.name));

    let mut all_pods = Vec::with_capacity(params.pods);
    let mut global = 0usize;
    for (i, plan) in plans.iter_mut().enumerate() {
        let budget = share(params.pods, ns_count, i);
        let mut pod_gen = PodGen {
            rng: &mut rng,
            plan_index: plan.index,
            namespace: &plan.name,
            dual_stack: plan.dual_stack,
            counter: 0,
            global: &mut global,
            nodes,
            out: &mut all_pods,
        };
        plan.deployments = pod_gen.fill(budget, plan.system, plan.team, plan.env);
    }

    let mut all_policies = Vec::with_capacity(params.policies);
    let ns_names: Vec<String> = plans.iter().map(|p| p.name.clone()).collect();
    for (i, plan) in plans.iter().enumerate() {
        let budget = share(params.policies, ns_count, i);
        let mut policy_gen = PolicyGen {
            rng: &mut rng,
            plan,
            ns_names: &ns_names,
            out: Vec::new(),
        };
        policy_gen.fill(budget);
        all_policies.extend(policy_gen.out);
    }
    mk_cluster(out_ns, all_pods, all_policies)
}

/// Item `i`'s share when `total` is spread over `parts`.
fn share(total: usize, parts: usize, i: usize) -> usize {
    total / parts + usize::from(i < total % parts)
}

fn plan_namespaces(count: usize, rng: &mut Rng) -> Vec<NsPlan> {
    let system = ["kube-system", "monitoring", "ingress-nginx"];
    let with_system = count >= 4;
    (0..count)
        .map(|i| {
            let (name, team, env, is_system) = if with_system && i < system.len() {
                (system[i].to_string(), "platform", "prod", true)
            } else {
                let k = if with_system { i - system.len() } else { i };
                let team = TEAMS[k % TEAMS.len()];
                let env = ENVS[(k / TEAMS.len()) % ENVS.len()];
                let round = k / (TEAMS.len() * ENVS.len());
                let name = if round == 0 {
                    format!("{team}-{env}")
                } else {
                    format!("{team}-{env}-{round}")
                };
                (name, team, env, false)
            };
            NsPlan {
                name,
                index: i,
                team,
                env,
                system: is_system,
                egress_locked: !is_system && rng.chance(50),
                dual_stack: !is_system && i % 4 == 1,
                deployments: Vec::new(),
            }
        })
        .collect()
}

fn namespace(plan: &NsPlan, rng: &mut Rng) -> Namespace {
    mk_ns(&plan.name, |n| {
        let mut extra: Vec<(&str, &str)> = match plan.name.as_str() {
            "kube-system" => vec![("control-plane", "true")],
            "monitoring" => vec![("team", "platform"), ("purpose", "monitoring")],
            "ingress-nginx" => vec![("team", "platform"), ("purpose", "ingress")],
            _ => vec![("team", plan.team), ("env", plan.env)],
        };
        if !plan.system && rng.chance(60) {
            extra.push(("monitoring", "enabled"));
        }
        if rng.chance(30) {
            extra.push(("istio-injection", "enabled"));
        }
        if plan.team == "payments" && !plan.system {
            extra.push(("compliance", "pci"));
        }
        n.labels.extend(labels(&extra));
    })
}

struct PodGen<'a> {
    rng: &'a mut Rng,
    plan_index: usize,
    namespace: &'a str,
    dual_stack: bool,
    counter: u32,
    global: &'a mut usize,
    nodes: usize,
    out: &'a mut Vec<Pod>,
}

impl PodGen<'_> {
    fn fill(
        &mut self,
        mut budget: usize,
        system: bool,
        team: &'static str,
        env: &'static str,
    ) -> Vec<Deployment> {
        let mut deployments = Vec::new();
        if system {
            self.system_pods(&mut budget, &mut deployments);
        }
        let catalog = if system { SYSTEM_FILL } else { CATALOG };
        let mut order: Vec<usize> = (0..catalog.len()).collect();
        for i in (1..order.len()).rev() {
            order.swap(i, self.rng.below(i + 1));
        }
        let mut round = 0;
        while budget > 0 {
            for &ci in &order {
                if budget == 0 {
                    break;
                }
                let Some(entry) = catalog.get(ci) else {
                    continue;
                };
                let name = if round == 0 {
                    entry.name.to_string()
                } else {
                    format!("{}-{}", entry.name, round + 1)
                };
                let replicas = (1 + self.rng.below(12)).min(budget);
                budget -= replicas;
                let team = if self.rng.chance(10) {
                    "platform"
                } else {
                    team
                };
                self.deployment(&name, entry, team, env, replicas);
                deployments.push(Deployment {
                    app: name,
                    tier: entry.tier,
                    ports: entry.ports,
                });
            }
            round += 1;
        }
        deployments
    }

    fn system_pods(&mut self, budget: &mut usize, deployments: &mut Vec<Deployment>) {
        match self.namespace {
            "kube-system" => {
                let n = (*budget).min(2);
                for i in 0..n {
                    let ports = vec![
                        cport("dns", Udp, 53),
                        cport("dns-tcp", Tcp, 53),
                        cport("metrics", Tcp, 9153),
                    ];
                    self.push(
                        format!("coredns-{i}"),
                        &[("k8s-app", "kube-dns"), ("app", "coredns")],
                        ports,
                        None,
                    );
                }
                *budget -= n;
                deployments.push(Deployment {
                    app: "coredns".into(),
                    tier: "system",
                    ports: &[("dns", Udp, 53), ("dns-tcp", Tcp, 53)],
                });
                let n = (*budget).min(self.nodes);
                for k in 0..n {
                    self.push(
                        format!("node-exporter-{k}"),
                        &[("app", "node-exporter")],
                        vec![cport("metrics", Tcp, 9100)],
                        Some(k),
                    );
                }
                *budget -= n;
            }
            "monitoring" => {
                let n = (*budget).min(3);
                for i in 0..n {
                    let (app, port) = if i < 2 {
                        ("prometheus", cport("web", Tcp, 9090))
                    } else {
                        ("grafana", cport("http", Tcp, 3000))
                    };
                    self.push(format!("{app}-{i}"), &[("app", app)], vec![port], None);
                }
                *budget -= n;
            }
            "ingress-nginx" => {
                let n = (*budget).min(2);
                for i in 0..n {
                    self.push(
                        format!("controller-{i}"),
                        &[
                            ("app", "ingress-nginx"),
                            ("app.kubernetes.io/name", "ingress-nginx"),
                        ],
                        vec![cport("http", Tcp, 80), cport("https", Tcp, 443)],
                        None,
                    );
                }
                *budget -= n;
            }
            _ => {}
        }
    }

    fn deployment(&mut self, name: &str, entry: &App, team: &str, env: &str, replicas: usize) {
        let canary = replicas >= 2 && self.rng.chance(25);
        let ports: Vec<ContainerPort> = entry
            .ports
            .iter()
            .map(|&(n, p, port)| cport(n, p, port))
            .collect();
        let mut hash = self.rng.hash();
        let stable = self.rng.chance(30);
        for i in 0..replicas {
            let version = if canary && i + 1 == replicas {
                "v2"
            } else {
                "v1"
            };
            if canary && i + 1 == replicas {
                hash = self.rng.hash();
            }
            let pod_name = if entry.stateful {
                format!("{name}-{i}")
            } else {
                format!("{name}-{hash}-{i}")
            };
            let mut pairs = vec![
                ("app", name.to_string()),
                ("tier", entry.tier.to_string()),
                ("team", team.to_string()),
                ("env", env.to_string()),
                ("version", version.to_string()),
            ];
            if entry.stateful {
                pairs.push(("statefulset.kubernetes.io/pod-name", pod_name.clone()));
                if entry.name == "db" {
                    let role = if i == 0 { "primary" } else { "replica" };
                    pairs.push(("role", role.to_string()));
                }
            } else {
                pairs.push(("pod-template-hash", hash.clone()));
            }
            if version == "v2" {
                pairs.push(("canary", "true".to_string()));
            }
            if stable {
                pairs.push(("release", "stable".to_string()));
            }
            let borrowed: Vec<(&str, &str)> = pairs.iter().map(|(k, v)| (*k, v.as_str())).collect();
            self.push(pod_name, &borrowed, ports.clone(), None);
        }
    }

    /// Adds a pod; `host_node` makes it a hostNetwork pod on that node, with the node's IP.
    fn push(
        &mut self,
        name: String,
        pairs: &[(&str, &str)],
        ports: Vec<ContainerPort>,
        host_node: Option<usize>,
    ) {
        let node_index = host_node.unwrap_or(*self.global % self.nodes);
        *self.global += 1;
        self.counter += 1;
        let pending = host_node.is_none() && self.rng.chance(1);
        let ips = match host_node {
            Some(k) => vec![node_ip(k)],
            None if pending => Vec::new(),
            None => {
                let base = u32::from(Ipv4Addr::new(10, 0, 0, 0));
                let v4 = base.wrapping_add(((self.plan_index as u32) << 16) + self.counter);
                let mut ips = vec![IpAddr::V4(Ipv4Addr::from(v4))];
                if self.dual_stack {
                    ips.push(IpAddr::V6(Ipv6Addr::new(
                        0xfd00,
                        0x10,
                        self.plan_index as u16,
                        0,
                        0,
                        0,
                        0,
                        self.counter as u16,
                    )));
                }
                ips
            }
        };
        let pod = mk_pod(self.namespace, &name, |p| {
            p.labels = labels(pairs);
            p.ips = ips;
            p.ports = ports;
            p.host_network = host_node.is_some();
            p.node = (!pending).then(|| format!("node-{node_index}"));
            p.origin = PodOrigin::Pod;
        });
        self.out.push(pod);
    }
}

fn node_ip(k: usize) -> IpAddr {
    let base = u32::from(Ipv4Addr::new(172, 16, 0, 1));
    IpAddr::V4(Ipv4Addr::from(base.wrapping_add(k as u32)))
}

struct PolicyGen<'a> {
    rng: &'a mut Rng,
    plan: &'a NsPlan,
    ns_names: &'a [String],
    out: Vec<Policy>,
}

const TEMPLATES: usize = 11;

impl PolicyGen<'_> {
    fn add(&mut self, name: String, tweak: impl FnOnce(&mut Policy)) {
        self.out.push(mk_policy(&self.plan.name, &name, tweak));
    }

    fn fill(&mut self, budget: usize) {
        self.namespace_policies();
        let mut step = 0usize;
        let deployments = self.plan.deployments.len().max(1);
        while self.out.len() < budget {
            let d = step % deployments;
            let template = (step / deployments + d) % TEMPLATES;
            self.app_policy(step, d, template);
            step += 1;
        }
        self.out.truncate(budget);
    }

    fn namespace_policies(&mut self) {
        let ns_label = |n: &str| sel(&[(NAMESPACE_NAME_LABEL, n)]);
        match self.plan.name.as_str() {
            "kube-system" => {
                self.add("allow-dns-from-everywhere".into(), |p| {
                    p.subject = sel(&[("k8s-app", "kube-dns")]);
                    p.ingress = Some(vec![rule(
                        vec![namespaces(sel(&[]))],
                        vec![udp(53), tcp(53), named(Tcp, "metrics")],
                    )]);
                });
                return;
            }
            "ingress-nginx" => {
                self.add("allow-all-ingress".into(), |p| {
                    p.ingress = Some(vec![rule(vec![], vec![])]);
                });
                self.add("egress-to-frontends".into(), |p| {
                    p.ingress = None;
                    p.egress = Some(vec![
                        rule(
                            vec![pods_in(sel(&[]), sel(&[("tier", "frontend")]))],
                            vec![named(Tcp, "http"), named(Tcp, "https")],
                        ),
                        rule(
                            vec![pods_in(
                                ns_label("kube-system"),
                                sel(&[("k8s-app", "kube-dns")]),
                            )],
                            vec![udp(53)],
                        ),
                    ]);
                });
                return;
            }
            "monitoring" => {
                self.add("default-deny-ingress".into(), |_| {});
                self.add("allow-grafana-from-ingress".into(), |p| {
                    p.subject = sel(&[("app", "grafana")]);
                    p.ingress = Some(vec![rule(
                        vec![namespaces(sel(&[("purpose", "ingress")]))],
                        vec![named(Tcp, "http")],
                    )]);
                });
                return;
            }
            _ => {}
        }
        if self.rng.chance(90) {
            self.add("default-deny-ingress".into(), |_| {});
        }
        if self.plan.egress_locked {
            self.add("default-deny-egress".into(), |p| {
                p.ingress = None;
                p.egress = Some(Vec::new());
            });
            let variant = self.rng.below(10);
            self.add("allow-dns".into(), |p| {
                p.ingress = None;
                let dns = sel(&[("k8s-app", "kube-dns")]);
                p.egress = Some(vec![match variant {
                    // The OR mistake: two items instead of one.
                    0 => rule(
                        vec![namespaces(ns_label("kube-system")), pods(dns)],
                        vec![udp(53), tcp(53)],
                    ),
                    1..=3 => rule(
                        vec![pods_in(ns_label("kube-system"), dns)],
                        vec![named(Udp, "dns"), named(Tcp, "dns-tcp")],
                    ),
                    _ => rule(
                        vec![pods_in(ns_label("kube-system"), dns)],
                        vec![udp(53), tcp(53)],
                    ),
                }]);
            });
            self.add("allow-internet-egress".into(), |p| {
                p.subject = sel_expr(&[], vec![key_in("tier", &["frontend", "backend"])]);
                p.ingress = None;
                p.egress = Some(vec![rule(
                    vec![
                        ip_block(
                            "0.0.0.0/0",
                            &[
                                "10.0.0.0/8",
                                "172.16.0.0/12",
                                "192.168.0.0/16",
                                "169.254.169.254/32",
                            ],
                        ),
                        ip_block("::/0", &["fd00::/8"]),
                    ],
                    vec![tcp(443)],
                )]);
            });
        }
        self.add("allow-prometheus-scrape".into(), |p| {
            p.ingress = Some(vec![rule(
                vec![pods_in(
                    ns_label("monitoring"),
                    sel(&[("app", "prometheus")]),
                )],
                vec![named(Tcp, "metrics")],
            )]);
        });
        self.add("allow-ingress-controller".into(), |p| {
            p.subject = sel(&[("tier", "frontend")]);
            p.ingress = Some(vec![rule(
                vec![namespaces(sel(&[("purpose", "ingress")]))],
                vec![named(Tcp, "http"), named(Tcp, "https")],
            )]);
        });
        if self.rng.chance(30) {
            self.add("allow-same-namespace".into(), |p| {
                p.ingress = Some(vec![rule(vec![pods(sel(&[]))], vec![])]);
            });
        }
    }

    fn app_policy(&mut self, step: usize, d: usize, template: usize) {
        let Some(dep) = self.plan.deployments.get(d) else {
            // A namespace without pods still gets policies (they select nothing).
            self.add(format!("select-nothing-{step}"), |p| {
                p.subject = sel(&[("app", "legacy")]);
            });
            return;
        };
        let app = dep.app.clone();
        let subject = sel(&[("app", app.as_str())]);
        let first_named = dep.ports.first().copied();
        let tier = dep.tier;
        let client = self
            .rng
            .pick(&self.plan.deployments)
            .map_or_else(|| "web".to_string(), |c| c.app.clone());
        let other_ns = self
            .rng
            .pick(self.ns_names)
            .cloned()
            .unwrap_or_else(|| self.plan.name.clone());
        let other_index = self
            .ns_names
            .iter()
            .position(|n| *n == other_ns)
            .unwrap_or(0);
        let team = TEAMS[self.rng.below(TEAMS.len())];
        let env = self.plan.env;
        let name = |t: &str| format!("{t}-{app}-{step}");
        match template {
            0 => self.add(name("allow-from-client"), |p| {
                p.subject = subject;
                let ports = match first_named {
                    Some((n, proto, _)) => vec![named(proto, n)],
                    None => vec![tcp(8080)],
                };
                // Data stores admit a tier, services a named client.
                let from = if tier == "data" {
                    pods(sel(&[("tier", "backend")]))
                } else {
                    pods(sel(&[("app", &client)]))
                };
                p.ingress = Some(vec![rule(vec![from], ports)]);
            }),
            1 => self.add(name("allow-team-range"), |p| {
                p.subject = subject;
                p.ingress = Some(vec![rule(
                    vec![pods_in(
                        sel(&[("team", team)]),
                        sel(&[("tier", "frontend")]),
                    )],
                    vec![port_range(Tcp, 8000, 8100)],
                )]);
            }),
            2 => self.add(name("egress-to-data"), |p| {
                p.subject = subject;
                p.ingress = None;
                p.egress = Some(vec![
                    rule(
                        vec![pods(sel(&[("tier", "data")]))],
                        vec![tcp(5432), tcp(6379)],
                    ),
                    rule(
                        vec![pods_in(sel(&[("env", env)]), sel(&[("app", "db")]))],
                        vec![named(Tcp, "postgres")],
                    ),
                ]);
            }),
            3 => self.add(name("allow-office"), |p| {
                p.subject = subject;
                p.ingress = Some(vec![rule(
                    vec![
                        ip_block("203.0.113.0/24", &[]),
                        ip_block("2001:db8:100::/48", &["2001:db8:100:ff::/64"]),
                        ip_block("172.16.0.0/16", &["172.16.0.0/28"]),
                    ],
                    vec![tcp(443), port_range(Tcp, 8443, 8444)],
                )]);
            }),
            4 => self.add(name("allow-expressions"), |p| {
                let extra = match step % 3 {
                    0 => key_not_in("version", &["v2"]),
                    1 => exists("version"),
                    _ => does_not_exist("canary"),
                };
                p.subject = sel_expr(&[], vec![key_in("app", &[app.as_str()]), extra]);
                p.ingress = Some(vec![rule(
                    vec![namespaces(sel_expr(
                        &[],
                        vec![key_in("env", &["prod", "staging"])],
                    ))],
                    vec![any_port(Udp), named(Udp, "statsd")],
                )]);
            }),
            5 => {
                if step.is_multiple_of(4) {
                    // Pod CIDR blocks are rare in real clusters; one that cuts a namespace's
                    // addresses in two splits its classes.
                    // The /16 of that namespace's pod addresses (10.0.0.0 + index << 16, past
                    // 10.255 too).
                    let first = u32::from(Ipv4Addr::new(10, 0, 0, 0))
                        .wrapping_add((other_index as u32) << 16);
                    let cidr = format!("{}/16", Ipv4Addr::from(first));
                    let except = format!("{}/25", Ipv4Addr::from(first + 128));
                    self.add(name("allow-pod-cidr"), |p| {
                        p.subject = subject;
                        p.ingress = Some(vec![rule(
                            vec![ip_block(&cidr, &[&except])],
                            vec![tcp(8080)],
                        )]);
                    });
                } else {
                    self.add(name("allow-other-ns-app"), |p| {
                        p.subject = subject;
                        p.ingress = Some(vec![rule(
                            vec![pods_in(
                                sel(&[(NAMESPACE_NAME_LABEL, &other_ns)]),
                                sel(&[("app", &client)]),
                            )],
                            vec![named(Tcp, "http")],
                        )]);
                    });
                }
            }
            6 => self.add(name("allow-sctp"), |p| {
                p.subject = subject;
                p.ingress = Some(vec![rule(
                    vec![pods(sel(&[]))],
                    vec![named(Sctp, "sip"), sctp(9999)],
                )]);
            }),
            7 => self.add(name("egress-missing-team"), |p| {
                // A namespaceSelector on a label no namespace carries: allows nothing.
                p.subject = subject;
                p.ingress = None;
                p.egress = Some(vec![rule(
                    vec![namespaces(sel(&[("team", "nonexistent")]))],
                    vec![tcp(80)],
                )]);
            }),
            8 => self.add(name("allow-multi"), |p| {
                p.subject = subject;
                p.ingress = Some(vec![
                    rule(
                        vec![pods(sel(&[("tier", "frontend")]))],
                        vec![named(Tcp, "http")],
                    ),
                    rule(
                        vec![
                            pods(sel(&[("app", &client)])),
                            namespaces(sel(&[("team", team)])),
                        ],
                        vec![tcp(9090), udp(8125)],
                    ),
                ]);
            }),
            9 => self.add(name("allow-monitored-any-port"), |p| {
                p.subject = sel_expr(
                    &[("app", app.as_str())],
                    vec![key_not_in("tier", &["data"])],
                );
                p.ingress = Some(vec![rule(
                    vec![pods_in(sel(&[("monitoring", "enabled")]), sel(&[]))],
                    vec![],
                )]);
            }),
            _ => self.add(name("egress-to-other-ns"), |p| {
                p.subject = subject;
                p.ingress = None;
                p.egress = Some(vec![rule(
                    vec![pods_in(
                        sel(&[(NAMESPACE_NAME_LABEL, &other_ns)]),
                        sel(&[("app", &client)]),
                    )],
                    vec![named(Tcp, "http"), named(Tcp, "grpc")],
                )]);
            }),
        }
    }
}
