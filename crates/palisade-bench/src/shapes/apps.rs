//! Many namespaces of multi-tier demo applications, in the style of the guides and of the
//! well-known demo apps: a boutique of microservices, a guestbook, a voting app and a blog.
//! Pods are written as `kubectl get pods -o yaml` exports them (a `List`, ownerReferences,
//! pod-template-hash, uid, resourceVersion, status with phase and addresses); policies are
//! the ones the guides teach: default deny, DNS egress, tier-to-tier allows, ingress from the
//! ingress controller, scrapes from monitoring.

use std::fmt::Write as _;

use super::yaml::{labels, pairs};
use super::{Manifests, Rng, node_of, pod_ip};

/// One service of an application: its name, port (name, number) and who calls it.
struct Service {
    name: &'static str,
    port: Option<(&'static str, u16)>,
    callers: &'static [&'static str],
    stateful: bool,
}

const fn svc(
    name: &'static str,
    port: Option<(&'static str, u16)>,
    callers: &'static [&'static str],
    stateful: bool,
) -> Service {
    Service {
        name,
        port,
        callers,
        stateful,
    }
}

/// `callers` name other services of the app, or `@ingress` for the ingress controller.
struct App {
    name: &'static str,
    services: &'static [Service],
}

const BOUTIQUE: App = App {
    name: "boutique",
    services: &[
        svc(
            "frontend",
            Some(("http", 8080)),
            &["@ingress", "loadgenerator"],
            false,
        ),
        svc(
            "cartservice",
            Some(("grpc", 7070)),
            &["frontend", "checkoutservice"],
            false,
        ),
        svc(
            "productcatalogservice",
            Some(("grpc", 3550)),
            &["frontend", "checkoutservice", "recommendationservice"],
            false,
        ),
        svc(
            "currencyservice",
            Some(("grpc", 7000)),
            &["frontend", "checkoutservice"],
            false,
        ),
        svc(
            "paymentservice",
            Some(("grpc", 50051)),
            &["checkoutservice"],
            false,
        ),
        svc(
            "shippingservice",
            Some(("grpc", 50051)),
            &["frontend", "checkoutservice"],
            false,
        ),
        svc(
            "emailservice",
            Some(("grpc", 8080)),
            &["checkoutservice"],
            false,
        ),
        svc(
            "checkoutservice",
            Some(("grpc", 5050)),
            &["frontend"],
            false,
        ),
        svc(
            "recommendationservice",
            Some(("grpc", 8080)),
            &["frontend"],
            false,
        ),
        svc("adservice", Some(("grpc", 9555)), &["frontend"], false),
        svc("redis-cart", Some(("redis", 6379)), &["cartservice"], true),
        svc("loadgenerator", None, &[], false),
    ],
};

const GUESTBOOK: App = App {
    name: "guestbook",
    services: &[
        svc("frontend", Some(("http-server", 80)), &["@ingress"], false),
        svc(
            "redis-leader",
            Some(("redis", 6379)),
            &["frontend", "redis-follower"],
            true,
        ),
        svc("redis-follower", Some(("redis", 6379)), &["frontend"], true),
    ],
};

const VOTING: App = App {
    name: "voting",
    services: &[
        svc("vote", Some(("http", 80)), &["@ingress"], false),
        svc("result", Some(("http", 80)), &["@ingress"], false),
        svc("redis", Some(("redis", 6379)), &["vote", "worker"], true),
        svc("db", Some(("postgres", 5432)), &["worker", "result"], true),
        svc("worker", None, &[], false),
    ],
};

const BLOG: App = App {
    name: "blog",
    services: &[
        svc("wordpress", Some(("http", 80)), &["@ingress"], false),
        svc("mysql", Some(("mysql", 3306)), &["wordpress"], true),
    ],
};

const APPS: [&App; 4] = [&BOUTIQUE, &GUESTBOOK, &VOTING, &BLOG];
const TEAMS: [&str; 6] = ["retail", "web", "data", "growth", "platform", "payments"];
const ENVS: [&str; 3] = ["prod", "staging", "dev"];
const POD_PER_INSTANCE: usize = 100;

pub(crate) fn generate(pods: usize) -> Manifests {
    let mut rng = Rng::new(0x6170_7073);
    let mut m = Manifests::default();
    let mut items = String::new();
    let mut policies = Vec::new();
    let mut n = 0;

    // Shared infrastructure: DNS, the ingress controller, monitoring.
    let infra: [Infra; 3] = [
        (
            "kube-system",
            "coredns",
            &[("k8s-app", "kube-dns")],
            &[("dns", "UDP", 53), ("dns-tcp", "TCP", 53)],
        ),
        (
            "ingress-nginx",
            "ingress-nginx-controller",
            &[
                ("app.kubernetes.io/name", "ingress-nginx"),
                ("app.kubernetes.io/component", "controller"),
            ],
            &[("http", "TCP", 80), ("https", "TCP", 443)],
        ),
        (
            "monitoring",
            "prometheus",
            &[("app.kubernetes.io/name", "prometheus")],
            &[("web", "TCP", 9090)],
        ),
    ];
    for (ns, name, label_pairs, ports) in infra {
        namespace(&mut items, ns, &[]);
        let hash = rng.template_hash();
        for _ in 0..2 {
            let mut l = label_pairs.to_vec();
            l.push(("pod-template-hash", &hash));
            let owner = Owner::ReplicaSet(format!("{name}-{hash}"));
            let pod_name = format!("{name}-{hash}-{}", rng.suffix());
            exported_pod(
                &mut items, &mut rng, &mut n, pods, ns, &pod_name, &owner, &l, ports,
            );
        }
    }
    m.namespaces = 3;

    // Application instances until the pods are placed.
    let mut used: std::collections::HashSet<String> = std::collections::HashSet::new();
    let mut instance = 0;
    while n < pods {
        let app = APPS[instance % APPS.len()];
        let team = TEAMS[rng.below(TEAMS.len())];
        let env = ENVS[instance % ENVS.len()];
        let ns = format!("{}-{instance}", app.name);
        namespace(
            &mut items,
            &ns,
            &[
                ("team", team),
                ("env", env),
                ("app.kubernetes.io/part-of", app.name),
            ],
        );
        m.namespaces += 1;
        // About a hundred pods per instance: data stores get one to three replicas, the
        // stateless services share the rest.
        let stateless = app.services.iter().filter(|s| !s.stateful).count().max(1);
        let share = (POD_PER_INSTANCE / stateless).max(1);
        for s in app.services {
            let replicas = if s.stateful {
                1 + rng.below(3)
            } else {
                share / 2 + rng.below(share)
            };
            let ports: Vec<(&str, &str, u16)> = s
                .port
                .map(|(name, number)| (name, "TCP", number))
                .into_iter()
                .chain(std::iter::once(("metrics", "TCP", 9100)))
                .collect();
            let hash = rng.template_hash();
            for r in 0..replicas {
                if n >= pods {
                    break;
                }
                let mut l: Vec<(&str, &str)> =
                    vec![("app", s.name), ("app.kubernetes.io/part-of", app.name)];
                let (name, owner) = if s.stateful {
                    (
                        format!("{}-{r}", s.name),
                        Owner::StatefulSet(s.name.to_string()),
                    )
                } else {
                    l.push(("pod-template-hash", &hash));
                    (
                        unique_name(&mut used, &mut rng, &format!("{}-{hash}", s.name)),
                        Owner::ReplicaSet(format!("{}-{hash}", s.name)),
                    )
                };
                let name_for_label = name.clone();
                if s.stateful {
                    l.push(("statefulset.kubernetes.io/pod-name", &name_for_label));
                }
                exported_pod(
                    &mut items, &mut rng, &mut n, pods, &ns, &name, &owner, &l, &ports,
                );
                if m.from.is_empty() && s.name == "frontend" {
                    m.from = format!("{ns}/{name}");
                }
                if m.to.is_empty() && !m.from.is_empty() && s.stateful {
                    m.to = format!("{ns}/{name}");
                }
            }
        }
        app_policies(&mut policies, app, &ns);
        instance += 1;
    }
    m.pods = n;
    m.node = node_of(0, pods);
    m.base =
        format!("apiVersion: v1\nkind: List\nmetadata:\n  resourceVersion: \"\"\nitems:\n{items}");
    m.policies = policies;
    m
}

/// A shared service: namespace, name, labels, ports (name, protocol, number).
type Infra = (
    &'static str,
    &'static str,
    &'static [(&'static str, &'static str)],
    &'static [(&'static str, &'static str, u16)],
);

/// `base-xxxxx` with a suffix no pod of the cluster has yet (the API server retries a
/// generateName that collides, so an export never holds two).
fn unique_name(used: &mut std::collections::HashSet<String>, rng: &mut Rng, base: &str) -> String {
    loop {
        let name = format!("{base}-{}", rng.suffix());
        if used.insert(name.clone()) {
            return name;
        }
    }
}

enum Owner {
    ReplicaSet(String),
    StatefulSet(String),
}

fn namespace(out: &mut String, name: &str, extra: &[(&str, &str)]) {
    let _ = writeln!(
        out,
        "- apiVersion: v1\n  kind: Namespace\n  metadata:\n    creationTimestamp: \"2026-10-01T08:00:00Z\"\n    name: {name}\n    resourceVersion: \"1042\"\n    uid: 5b2c7e1a-0000-4000-8000-{:012x}",
        name.len()
    );
    let mut l = pairs(extra);
    l.push(("kubernetes.io/metadata.name".into(), name.into()));
    labels(out, 4, "labels", &l);
    let _ = writeln!(
        out,
        "  spec:\n    finalizers:\n    - kubernetes\n  status:\n    phase: Active"
    );
}

#[allow(clippy::too_many_arguments)]
fn exported_pod(
    out: &mut String,
    rng: &mut Rng,
    n: &mut usize,
    total: usize,
    namespace: &str,
    name: &str,
    owner: &Owner,
    label_pairs: &[(&str, &str)],
    ports: &[(&str, &str, u16)],
) {
    let uid = rng.next();
    let (owner_kind, owner_name, owner_api) = match owner {
        Owner::ReplicaSet(rs) => ("ReplicaSet", rs.as_str(), "apps/v1"),
        Owner::StatefulSet(sts) => ("StatefulSet", sts.as_str(), "apps/v1"),
    };
    let _ = writeln!(
        out,
        "- apiVersion: v1\n  kind: Pod\n  metadata:\n    creationTimestamp: \"2026-11-02T10:00:00Z\"\n    generateName: {}-",
        owner_name
    );
    labels(out, 4, "labels", &pairs(label_pairs));
    let _ = writeln!(
        out,
        "    name: {name}\n    namespace: {namespace}\n    ownerReferences:\n    - apiVersion: {owner_api}\n      blockOwnerDeletion: true\n      controller: true\n      kind: {owner_kind}\n      name: {owner_name}\n      uid: 9c1d2e3f-0000-4000-8000-{:012x}\n    resourceVersion: \"{}\"\n    uid: 0f1e2d3c-0000-4000-8000-{:012x}",
        uid >> 16 & 0xffff_ffff_ffff,
        10_000 + *n,
        uid & 0xffff_ffff_ffff
    );
    let node = node_of(*n, total);
    let _ = writeln!(
        out,
        "  spec:\n    containers:\n    - image: registry.example/{owner_name}:1.4.2\n      imagePullPolicy: IfNotPresent\n      name: server"
    );
    if !ports.is_empty() {
        out.push_str("      ports:\n");
        for (port_name, protocol, port) in ports {
            let _ = writeln!(
                out,
                "      - containerPort: {port}\n        name: {port_name}\n        protocol: {protocol}"
            );
        }
    }
    let _ = writeln!(
        out,
        "      resources:\n        requests:\n          cpu: 100m\n          memory: 64Mi\n    dnsPolicy: ClusterFirst\n    nodeName: {node}\n    restartPolicy: Always\n    schedulerName: default-scheduler\n    serviceAccountName: default\n    terminationGracePeriodSeconds: 30"
    );
    let host = node
        .trim_start_matches("node-")
        .parse::<usize>()
        .unwrap_or(0);
    let ip = pod_ip(*n);
    let _ = writeln!(
        out,
        "  status:\n    conditions:\n    - lastProbeTime: null\n      lastTransitionTime: \"2026-11-02T10:00:05Z\"\n      status: \"True\"\n      type: Ready\n    hostIP: 192.168.{}.{}\n    phase: Running\n    podIP: {ip}\n    podIPs:\n    - ip: {ip}\n    qosClass: Burstable\n    startTime: \"2026-11-02T10:00:00Z\"",
        host / 250,
        host % 250 + 1
    );
    *n += 1;
}

/// The guides' policies for one application instance.
fn app_policies(out: &mut Vec<String>, app: &App, ns: &str) {
    let header = |name: &str| {
        format!(
            "---\napiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata:\n  name: {name}\n  namespace: {ns}\n"
        )
    };
    out.push(
        header("default-deny-all")
            + "spec:\n  podSelector: {}\n  policyTypes:\n  - Ingress\n  - Egress\n",
    );
    out.push(
        header("allow-dns")
            + "spec:\n  podSelector: {}\n  policyTypes:\n  - Egress\n  egress:\n  - to:\n    - namespaceSelector:\n        matchLabels:\n          kubernetes.io/metadata.name: kube-system\n      podSelector:\n        matchLabels:\n          k8s-app: kube-dns\n    ports:\n    - protocol: UDP\n      port: 53\n    - protocol: TCP\n      port: 53\n",
    );
    out.push(
        header("allow-prometheus-scrape")
            + "spec:\n  podSelector: {}\n  ingress:\n  - from:\n    - namespaceSelector:\n        matchLabels:\n          kubernetes.io/metadata.name: monitoring\n      podSelector:\n        matchLabels:\n          app.kubernetes.io/name: prometheus\n    ports:\n    - port: metrics\n",
    );
    for s in app.services {
        let Some((port_name, _)) = s.port else {
            continue;
        };
        if s.callers.is_empty() {
            continue;
        }
        let mut p = header(&format!("{}-ingress", s.name));
        let _ = write!(
            p,
            "spec:\n  podSelector:\n    matchLabels:\n      app: {}\n  policyTypes:\n  - Ingress\n  ingress:\n  - from:\n",
            s.name
        );
        for caller in s.callers {
            if *caller == "@ingress" {
                p.push_str("    - namespaceSelector:\n        matchLabels:\n          kubernetes.io/metadata.name: ingress-nginx\n");
            } else {
                let _ = writeln!(
                    p,
                    "    - podSelector:\n        matchLabels:\n          app: {caller}"
                );
            }
        }
        let _ = writeln!(
            p,
            "    ports:\n    - protocol: TCP\n      port: {port_name}"
        );
        out.push(p);
    }
    // Each caller may open connections to what it calls, inside the namespace.
    for s in app.services {
        let callees: Vec<&Service> = app
            .services
            .iter()
            .filter(|t| t.callers.contains(&s.name) && t.port.is_some())
            .collect();
        if callees.is_empty() {
            continue;
        }
        let mut p = header(&format!("{}-egress", s.name));
        let _ = write!(
            p,
            "spec:\n  podSelector:\n    matchLabels:\n      app: {}\n  policyTypes:\n  - Egress\n  egress:\n",
            s.name
        );
        for t in callees {
            if let Some((_, number)) = t.port {
                let _ = writeln!(
                    p,
                    "  - to:\n    - podSelector:\n        matchLabels:\n          app: {}\n    ports:\n    - protocol: TCP\n      port: {number}",
                    t.name
                );
            }
        }
        out.push(p);
    }
}
