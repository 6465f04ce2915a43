//! Snapshot of `describe` over a realistic three-tier shop: web -> api -> db, DNS in
//! kube-system, Prometheus in monitoring, a default deny, and one classic mistake (a
//! podSelector and a namespaceSelector in separate `from` items, on a label no namespace has).

use palisade_core::describe;
use palisade_core::model::{
    Cluster, NAMESPACE_NAME_LABEL, Peer, Pod, PodOrigin, Policy, PortMatch, Protocol, Rule,
    Selector,
};
use palisade_test_support::builders::{
    cport, labels, mk_pod, mk_policy, ns, pods, pods_in as in_ns, port as num, rule, sel,
};

/// A workload's pod with named container ports.
fn pod(
    namespace: &str,
    name: &str,
    pairs: &[(&str, &str)],
    ports: &[(&str, u16, Protocol)],
) -> Pod {
    mk_pod(namespace, name, |p| {
        p.labels = labels(pairs);
        p.ports = ports
            .iter()
            .map(|(n, port, proto)| cport(n, *proto, *port))
            .collect();
        p.origin = PodOrigin::Template {
            kind: "Deployment".to_owned(),
        };
    })
}

/// A policy of the shop namespace.
fn policy(
    name: &str,
    subject: Selector,
    ingress: Option<Vec<Rule>>,
    egress: Option<Vec<Rule>>,
) -> Policy {
    mk_policy("shop", name, |p| {
        p.subject = subject;
        p.ingress = ingress;
        p.egress = egress;
    })
}

/// Pods of the policy's own namespace.
fn own(pairs: &[(&str, &str)]) -> Peer {
    pods(sel(pairs))
}

fn named(name: &str) -> PortMatch {
    palisade_test_support::builders::named(Protocol::Tcp, name)
}

fn shop() -> Cluster {
    use Protocol::{Tcp, Udp};
    let tier = |t: &str| sel(&[("tier", t)]);
    Cluster {
        namespaces: vec![
            ns("kube-system", &[]),
            ns("monitoring", &[("team", "monitoring")]),
            ns("shop", &[("env", "prod")]),
        ],
        pods: vec![
            pod(
                "kube-system",
                "coredns",
                &[("k8s-app", "kube-dns")],
                &[("dns", 53, Udp), ("dns-tcp", 53, Tcp)],
            ),
            pod(
                "monitoring",
                "prometheus",
                &[("app", "prometheus")],
                &[("web", 9090, Tcp)],
            ),
            pod(
                "shop",
                "api",
                &[("tier", "backend")],
                &[("http", 8080, Tcp), ("metrics", 9100, Tcp)],
            ),
            pod(
                "shop",
                "db",
                &[("tier", "database")],
                &[("postgres", 5432, Tcp)],
            ),
            pod(
                "shop",
                "web",
                &[("tier", "frontend")],
                &[("http", 8080, Tcp)],
            ),
        ],
        policies: vec![
            policy(
                "allow-dns",
                Selector::everything(),
                None,
                Some(vec![rule(
                    vec![in_ns(
                        sel(&[(NAMESPACE_NAME_LABEL, "kube-system")]),
                        sel(&[("k8s-app", "kube-dns")]),
                    )],
                    vec![num(Udp, 53), num(Tcp, 53)],
                )]),
            ),
            policy(
                "api",
                tier("backend"),
                Some(vec![
                    rule(vec![own(&[("tier", "frontend")])], vec![named("http")]),
                    rule(
                        vec![in_ns(
                            sel(&[("team", "monitoring")]),
                            sel(&[("app", "prometheus")]),
                        )],
                        vec![named("metrics")],
                    ),
                ]),
                Some(vec![rule(
                    vec![own(&[("tier", "database")])],
                    vec![num(Tcp, 5432)],
                )]),
            ),
            policy(
                "db",
                tier("database"),
                Some(vec![
                    rule(vec![own(&[("tier", "backend")])], vec![num(Tcp, 5432)]),
                    // The mistake: meant "backup pods in the backup namespace" (one item).
                    rule(
                        vec![
                            own(&[("app", "backup")]),
                            in_ns(sel(&[("team", "backup")]), Selector::everything()),
                        ],
                        vec![num(Tcp, 5432)],
                    ),
                ]),
                None,
            ),
            policy(
                "default-deny-all",
                Selector::everything(),
                Some(vec![]),
                Some(vec![]),
            ),
            policy(
                "web",
                tier("frontend"),
                Some(vec![rule(
                    vec![Peer::IpBlock {
                        cidr: "0.0.0.0/0".parse().unwrap_or_else(|e| panic!("{e}")),
                        except: vec![
                            "169.254.169.254/32"
                                .parse()
                                .unwrap_or_else(|e| panic!("{e}")),
                        ],
                    }],
                    vec![named("http")],
                )]),
                Some(vec![rule(
                    vec![own(&[("tier", "backend")])],
                    vec![named("http")],
                )]),
            ),
        ],
    }
}

fn render(cluster: &Cluster) -> String {
    let mut out = String::new();
    for p in &cluster.policies {
        out.push_str(&format!(
            "policy {}\n  {}\n",
            p.key(),
            describe::policy(cluster, p)
        ));
    }
    for p in &cluster.pods {
        out.push_str(&format!(
            "pod {}\n  {}\n",
            p.key(),
            describe::pod(cluster, p)
        ));
    }
    out
}

#[test]
fn three_tier_shop() {
    let cluster = shop();
    let text = render(&cluster);
    assert!(text.is_ascii());
    insta::assert_snapshot!(text);
}

#[test]
fn three_tier_shop_is_deterministic() {
    // Same cluster, policies in reverse: policies are additive and their order never matters.
    let cluster = shop();
    let mut reversed = shop();
    reversed.policies.reverse();
    for p in &cluster.pods {
        assert_eq!(
            describe::pod(&cluster, p),
            describe::pod(&reversed, p),
            "pod {}",
            p.key()
        );
    }
}
