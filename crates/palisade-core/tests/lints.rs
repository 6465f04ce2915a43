//! The lint catalogue, table-driven: for each lint, cases that must fire and cases that must
//! not, including the false positives other linters are known for (a namespace-wide
//! `podSelector: {}` default deny, a separate allow-dns policy, ingress-only policies).
//! Inputs are YAML, so positions are checked too. Semantics cited per case.

use palisade_core::analyze_text;
use palisade_core::diag::Diagnostic;
use palisade_core::lint::lint;
use palisade_core::source::Location;

fn pod(ns: &str, name: &str, labels: &str, ip: &str) -> String {
    format!(
        "apiVersion: v1\nkind: Pod\nmetadata: {{name: {name}, namespace: {ns}, labels: {{{labels}}}}}\nspec: {{containers: [{{name: main, image: app}}]}}\nstatus: {{podIP: {ip}}}\n---\n"
    )
}

fn namespace(name: &str, labels: &str) -> String {
    format!(
        "apiVersion: v1\nkind: Namespace\nmetadata: {{name: {name}, labels: {{{labels}}}}}\n---\n"
    )
}

fn policy(ns: &str, name: &str, spec: &str) -> String {
    format!(
        "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {{name: {name}, namespace: {ns}}}\nspec: {spec}\n---\n"
    )
}

fn dns_pod() -> String {
    pod("kube-system", "coredns", "k8s-app: kube-dns", "10.0.0.53")
}

const DENY_EGRESS: &str = "{podSelector: {}, policyTypes: [Egress]}";
const DENY_INGRESS: &str = "{podSelector: {}, policyTypes: [Ingress]}";
const ALLOW_DNS: &str = "{podSelector: {}, policyTypes: [Egress], egress: [{to: [{namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: kube-system}}, podSelector: {matchLabels: {k8s-app: kube-dns}}}], ports: [{protocol: UDP, port: 53}, {protocol: TCP, port: 53}]}]}";

/// Findings of one code, after checking the input is valid.
fn findings(yaml: &str, code: &str) -> Vec<Diagnostic> {
    let analysis = analyze_text("input.yaml", yaml);
    assert_eq!(
        analysis.error_count(),
        0,
        "invalid input: {:#?}",
        analysis.diagnostics
    );
    let found = lint(&analysis);
    for d in &found {
        assert!(d.span.is_some(), "every finding has a place: {d:?}");
        assert!(d.help.is_some(), "every finding has a help line: {d:?}");
    }
    found.into_iter().filter(|d| d.code == code).collect()
}

fn line_of(yaml: &str, d: &Diagnostic) -> u32 {
    let analysis = analyze_text("input.yaml", yaml);
    d.span
        .map(|s| Location::of(&s, &analysis.sources).line)
        .unwrap_or_default()
}

/// One case: a label, the input, how many findings of `code` it must give.
struct Case {
    label: &'static str,
    yaml: String,
    expect: usize,
}

fn run(code: &str, cases: Vec<Case>) {
    let mut failures = Vec::new();
    for case in cases {
        let got = findings(&case.yaml, code);
        if got.len() != case.expect {
            failures.push(format!(
                "{code} / {}: expected {} finding(s), got {}: {:#?}",
                case.label,
                case.expect,
                got.len(),
                got.iter().map(|d| &d.message).collect::<Vec<_>>()
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

fn case(label: &'static str, yaml: String, expect: usize) -> Case {
    Case {
        label,
        yaml,
        expect,
    }
}

// https://kubernetes.io/docs/concepts/services-networking/network-policies/#default-policies
#[test]
fn l001_l002_default_deny() {
    let web = pod("shop", "web", "app: web", "10.0.1.10");
    run(
        "L001",
        vec![
            case("no policy at all", web.clone(), 1),
            case(
                "namespace-wide podSelector {} deny counts",
                web.clone() + &policy("shop", "deny", DENY_INGRESS),
                0,
            ),
            case(
                "{} with allow rules next to the deny still counts",
                web.clone()
                    + &policy(
                        "shop",
                        "deny",
                        "{podSelector: {}, ingress: [{from: [{podSelector: {}}]}]}",
                    ),
                0,
            ),
            case(
                "{} whose rule allows everything is no deny",
                web.clone() + &policy("shop", "open", "{podSelector: {}, ingress: [{}]}"),
                1,
            ),
            case(
                "a policy per pod is not a default deny",
                web.clone()
                    + &policy(
                        "shop",
                        "web",
                        "{podSelector: {matchLabels: {app: web}}, policyTypes: [Ingress]}",
                    ),
                1,
            ),
            case(
                "a deny in another namespace does not count (only shop is reported)",
                web.clone()
                    + &pod("other", "x", "app: x", "10.0.2.10")
                    + &policy("other", "deny", DENY_INGRESS),
                1,
            ),
            case(
                "an egress-only deny does not count for ingress",
                web.clone() + &policy("shop", "deny", DENY_EGRESS),
                1,
            ),
            case(
                "policies alone, no pods: nothing to say",
                policy("shop", "web", "{podSelector: {matchLabels: {app: web}}}"),
                0,
            ),
        ],
    );
    run(
        "L002",
        vec![
            case(
                "an ingress-only deny does not count for egress",
                web.clone() + &policy("shop", "deny", DENY_INGRESS),
                1,
            ),
            case(
                "podSelector {} with both types",
                web.clone()
                    + &policy(
                        "shop",
                        "deny",
                        "{podSelector: {}, policyTypes: [Ingress, Egress]}",
                    ),
                0,
            ),
            case(
                "a deny with a DNS allow rule is still a deny (only kube-system is reported)",
                web.clone() + &dns_pod() + &policy("shop", "deny", ALLOW_DNS),
                1,
            ),
        ],
    );
}

// Egress isolation: https://kubernetes.io/docs/concepts/services-networking/network-policies/#the-two-sorts-of-pod-isolation
#[test]
fn l003_dns() {
    let base = dns_pod() + &pod("shop", "web", "app: web", "10.0.1.10");
    let deny = policy("shop", "deny", DENY_EGRESS);
    run(
        "L003",
        vec![
            case(
                "default deny egress and nothing else",
                base.clone() + &deny,
                1,
            ),
            case(
                "a separate allow-dns policy satisfies DNS",
                base.clone() + &deny + &policy("shop", "allow-dns", ALLOW_DNS),
                0,
            ),
            case(
                "ingress-only policies do not restrict egress",
                base.clone() + &policy("shop", "deny", DENY_INGRESS),
                0,
            ),
            case(
                "UDP only: TCP 53 is missing",
                base.clone()
                    + &deny
                    + &policy(
                        "shop",
                        "dns-udp",
                        "{podSelector: {}, policyTypes: [Egress], egress: [{to: [{namespaceSelector: {}, podSelector: {matchLabels: {k8s-app: kube-dns}}}], ports: [{protocol: UDP, port: 53}]}]}",
                    ),
                1,
            ),
            case(
                "port 53 to a node-local cache address counts",
                base.clone()
                    + &deny
                    + &policy(
                        "shop",
                        "dns-local",
                        "{podSelector: {}, policyTypes: [Egress], egress: [{to: [{ipBlock: {cidr: 169.254.20.10/32}}], ports: [{protocol: UDP, port: 53}, {protocol: TCP, port: 53}]}]}",
                    ),
                0,
            ),
            case(
                "port 53 to pods that are not DNS does not count",
                base.clone()
                    + &deny
                    + &policy(
                        "shop",
                        "wrong",
                        "{podSelector: {}, policyTypes: [Egress], egress: [{to: [{podSelector: {}}], ports: [{protocol: UDP, port: 53}, {protocol: TCP, port: 53}]}]}",
                    ),
                1,
            ),
            case(
                "allow-dns for other pods leaves these out",
                base.clone()
                    + &pod("shop", "api", "app: api", "10.0.1.11")
                    + &deny
                    + &policy(
                        "shop",
                        "dns-api",
                        "{podSelector: {matchLabels: {app: api}}, policyTypes: [Egress], egress: [{ports: [{protocol: UDP, port: 53}, {protocol: TCP, port: 53}]}]}",
                    ),
                1,
            ),
            case(
                "without DNS pods in the inventory, any rule on 53 counts",
                pod("shop", "web", "app: web", "10.0.1.10")
                    + &deny
                    + &policy(
                        "shop",
                        "dns",
                        "{podSelector: {}, policyTypes: [Egress], egress: [{to: [{namespaceSelector: {}}], ports: [{protocol: UDP, port: 53}, {protocol: TCP, port: 53}]}]}",
                    ),
                0,
            ),
        ],
    );
    let found = findings(&(base.clone() + &deny), "L003");
    assert!(
        found[0].message.contains("UDP 53 and TCP 53"),
        "{}",
        found[0].message
    );
}

// https://kubernetes.io/docs/concepts/services-networking/network-policies/#behavior-of-to-and-from-selectors
#[test]
fn l004_or_meant_and() {
    let inv = namespace("monitoring", "team: ops")
        + &pod("monitoring", "prometheus", "app: prometheus", "10.0.2.10")
        + &pod("monitoring", "grafana", "app: grafana", "10.0.2.11")
        + &pod("shop", "web", "app: web", "10.0.1.10");
    let or = policy(
        "shop",
        "scrape",
        "{podSelector: {}, ingress: [{from: [{namespaceSelector: {matchLabels: {team: ops}}}, {podSelector: {matchLabels: {app: prometheus}}}]}]}",
    );
    run(
        "L004",
        vec![
            case("two items", inv.clone() + &or, 1),
            case(
                "one item (AND)",
                inv.clone()
                    + &policy(
                        "shop",
                        "scrape",
                        "{podSelector: {}, ingress: [{from: [{namespaceSelector: {matchLabels: {team: ops}}, podSelector: {matchLabels: {app: prometheus}}}]}]}",
                    ),
                0,
            ),
            case(
                "both readings allow the same pods",
                namespace("monitoring", "team: ops")
                    + &pod("monitoring", "prometheus", "app: prometheus", "10.0.2.10")
                    + &pod("shop", "web", "app: web", "10.0.1.10")
                    + &or,
                0,
            ),
            case(
                "an ipBlock next to a podSelector is not this mistake",
                inv.clone()
                    + &policy(
                        "shop",
                        "mixed",
                        "{podSelector: {}, ingress: [{from: [{ipBlock: {cidr: 192.0.2.0/24}}, {podSelector: {matchLabels: {app: prometheus}}}]}]}",
                    ),
                0,
            ),
        ],
    );
    let yaml = inv + &or;
    let found = findings(&yaml, "L004");
    let d = &found[0];
    assert!(
        d.message.contains("allows 2 pods") && d.message.contains("allow 1 pod "),
        "{}",
        d.message
    );
    assert_eq!(d.field.as_deref(), Some("spec.ingress[0].from[1]"));
    assert_eq!(
        line_of(&yaml, d),
        yaml.lines()
            .collect::<Vec<_>>()
            .iter()
            .rposition(|l| l.starts_with("spec:"))
            .map_or(0, |i| i as u32 + 1)
    );
}

// https://kubernetes.io/docs/concepts/services-networking/network-policies/#targeting-a-namespace-by-its-name
#[test]
fn l005_l006_l007_selectors_that_match_nothing() {
    let inv = namespace("monitoring", "")
        + &pod("monitoring", "prom", "app: prom", "10.0.2.10")
        + &pod("shop", "web", "app: web", "10.0.1.10");
    let from = |peer: &str| {
        policy(
            "shop",
            "p",
            &format!("{{podSelector: {{}}, ingress: [{{from: [{peer}]}}]}}"),
        )
    };
    run(
        "L005",
        vec![
            case(
                "name: monitoring is no label the API server sets",
                inv.clone() + &from("{namespaceSelector: {matchLabels: {name: monitoring}}}"),
                1,
            ),
            case(
                "kubernetes.io/metadata.name is",
                inv.clone()
                    + &from(
                        "{namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: monitoring}}}",
                    ),
                0,
            ),
            case(
                "no Namespace objects loaded: unknown",
                pod("shop", "web", "app: web", "10.0.1.10")
                    + &from("{namespaceSelector: {matchLabels: {name: monitoring}}}"),
                0,
            ),
            case(
                "NotIn on a missing key matches every namespace",
                inv.clone()
                    + &from(
                        "{namespaceSelector: {matchExpressions: [{key: tier, operator: NotIn, values: [x]}]}}",
                    ),
                0,
            ),
        ],
    );
    let found = findings(
        &(inv.clone() + &from("{namespaceSelector: {matchLabels: {name: monitoring}}}")),
        "L005",
    );
    assert!(
        found[0]
            .help
            .as_deref()
            .unwrap_or("")
            .contains("kubernetes.io/metadata.name: monitoring"),
        "{:?}",
        found[0].help
    );
    run(
        "L006",
        vec![
            case(
                "a typo in a pod label",
                inv.clone() + &from("{podSelector: {matchLabels: {app: wbe}}}"),
                1,
            ),
            case(
                "an existing pod",
                inv.clone() + &from("{podSelector: {matchLabels: {app: web}}}"),
                0,
            ),
            case(
                "L005 already explains the unknown label",
                inv.clone() + &from("{namespaceSelector: {matchLabels: {name: monitoring}}}"),
                0,
            ),
            case(
                "a namespace whose pods were not loaded",
                inv.clone()
                    + &from(
                        "{namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: billing}}, podSelector: {}}",
                    ),
                0,
            ),
            case(
                "no pods loaded at all",
                from("{podSelector: {matchLabels: {app: wbe}}}"),
                0,
            ),
            case(
                "ipBlocks are for outside addresses",
                inv.clone() + &from("{ipBlock: {cidr: 192.0.2.0/24}}"),
                0,
            ),
        ],
    );
    run(
        "L007",
        vec![
            case(
                "no such pod",
                inv.clone() + &policy("shop", "p", "{podSelector: {matchLabels: {app: api}}}"),
                1,
            ),
            case(
                "selects web",
                inv.clone() + &policy("shop", "p", "{podSelector: {matchLabels: {app: web}}}"),
                0,
            ),
            case(
                "namespace without loaded pods",
                inv.clone() + &policy("billing", "p", "{podSelector: {matchLabels: {app: api}}}"),
                0,
            ),
        ],
    );
}

#[test]
fn l008_l015_ip_blocks() {
    let inv = pod("shop", "web", "app: web", "10.0.1.10");
    let egress = |to: &str, ports: &str| {
        policy(
            "shop",
            "p",
            &format!(
                "{{podSelector: {{}}, policyTypes: [Egress], egress: [{{to: [{to}]{ports}}}]}}"
            ),
        )
    };
    run(
        "L008",
        vec![
            case(
                "a private range holding the pods",
                inv.clone() + &egress("{ipBlock: {cidr: 10.0.0.0/8}}", ""),
                1,
            ),
            case(
                "the pod network excepted",
                inv.clone() + &egress("{ipBlock: {cidr: 10.0.0.0/8, except: [10.0.0.0/16]}}", ""),
                0,
            ),
            case(
                "/0 is a deliberate everything",
                inv.clone()
                    + &egress(
                        "{ipBlock: {cidr: 0.0.0.0/0, except: [169.254.169.254/32]}}",
                        "",
                    ),
                0,
            ),
            case(
                "an outside range",
                inv.clone() + &egress("{ipBlock: {cidr: 203.0.113.0/24}}", ""),
                0,
            ),
        ],
    );
    run(
        "L015",
        vec![
            case(
                "0.0.0.0/0 on every port",
                inv.clone() + &egress("{ipBlock: {cidr: 0.0.0.0/0}}", ""),
                1,
            ),
            case(
                "0.0.0.0/0 on TCP 80",
                inv.clone() + &egress("{ipBlock: {cidr: 0.0.0.0/0}}", ", ports: [{port: 80}]"),
                1,
            ),
            case(
                "metadata excepted",
                inv.clone()
                    + &egress(
                        "{ipBlock: {cidr: 0.0.0.0/0, except: [169.254.169.254/32]}}",
                        "",
                    ),
                0,
            ),
            case(
                "HTTPS only: the metadata service listens on 80",
                inv.clone() + &egress("{ipBlock: {cidr: 0.0.0.0/0}}", ", ports: [{port: 443}]"),
                0,
            ),
            case(
                "link-local written on purpose",
                inv.clone() + &egress("{ipBlock: {cidr: 169.254.0.0/16}}", ""),
                0,
            ),
            case(
                "::/0 reaches the IPv6 metadata address",
                inv.clone() + &egress("{ipBlock: {cidr: \"::/0\"}}", ""),
                1,
            ),
            case(
                "::/0 with it excepted",
                inv.clone()
                    + &egress(
                        "{ipBlock: {cidr: \"::/0\", except: [\"fd00:ec2::254/128\"]}}",
                        "",
                    ),
                0,
            ),
            case(
                "ingress from 0.0.0.0/0 is not egress",
                inv.clone()
                    + &policy(
                        "shop",
                        "p",
                        "{podSelector: {}, ingress: [{from: [{ipBlock: {cidr: 0.0.0.0/0}}]}]}",
                    ),
                0,
            ),
        ],
    );
}

// NetworkPolicyPort.port: https://kubernetes.io/docs/reference/kubernetes-api/policy-resources/network-policy-v1/#NetworkPolicySpec
#[test]
fn l009_named_ports() {
    let named = |ports: &str| {
        format!(
            "apiVersion: v1\nkind: Pod\nmetadata: {{name: db, namespace: shop, labels: {{app: db}}}}\nspec: {{containers: [{{name: main, image: db, ports: [{ports}]}}]}}\nstatus: {{podIP: 10.0.1.20}}\n---\n"
        ) + &pod("shop", "web", "app: web", "10.0.1.10")
    };
    let ingress = policy(
        "shop",
        "db",
        "{podSelector: {matchLabels: {app: db}}, ingress: [{ports: [{port: sql}]}]}",
    );
    let egress = policy(
        "shop",
        "web",
        "{podSelector: {matchLabels: {app: web}}, policyTypes: [Egress], egress: [{to: [{podSelector: {matchLabels: {app: db}}}], ports: [{port: sql}]}]}",
    );
    run(
        "L009",
        vec![
            case(
                "ingress, defined",
                named("{name: sql, containerPort: 5432}") + &ingress,
                0,
            ),
            case(
                "ingress, undefined",
                named("{containerPort: 5432}") + &ingress,
                1,
            ),
            case(
                "egress resolves on the destination",
                named("{name: sql, containerPort: 5432}") + &egress,
                0,
            ),
            case(
                "egress, destination lacks it",
                named("{name: postgres, containerPort: 5432}") + &egress,
                1,
            ),
            case(
                "defined for UDP only",
                named("{name: sql, containerPort: 5432, protocol: UDP}") + &ingress,
                1,
            ),
        ],
    );
    let found = findings(
        &(named("{name: sql, containerPort: 5432, protocol: UDP}") + &ingress),
        "L009",
    );
    assert!(
        found[0].message.contains("defined for UDP"),
        "{}",
        found[0].message
    );
}

// Policies are additive: https://kubernetes.io/docs/concepts/services-networking/network-policies/#networkpolicy-resource
#[test]
fn l010_l011_shadowing() {
    let inv = pod("shop", "web", "app: web", "10.0.1.10");
    let allow = |name: &str, subject: &str, from: &str, ports: &str| {
        policy(
            "shop",
            name,
            &format!("{{podSelector: {subject}, ingress: [{{from: [{from}], ports: [{ports}]}}]}}"),
        )
    };
    run(
        "L010",
        vec![
            case(
                "a narrower rule in another policy",
                inv.clone()
                    + &allow(
                        "a-wide",
                        "{}",
                        "{podSelector: {}}",
                        "{port: 80}, {port: 443}",
                    )
                    + &policy(
                        "shop",
                        "b-narrow",
                        "{podSelector: {matchLabels: {app: web}}, ingress: [{from: [{podSelector: {matchLabels: {app: web}}}], ports: [{port: 80}]}, {from: [{podSelector: {matchLabels: {app: x}}}], ports: [{port: 9090}]}]}",
                    ),
                1,
            ),
            case(
                "the wider policy is not covered by the narrower",
                inv.clone()
                    + &allow(
                        "a-narrow",
                        "{matchLabels: {app: web}}",
                        "{podSelector: {}}",
                        "{port: 80}",
                    )
                    + &allow(
                        "b-wide",
                        "{}",
                        "{podSelector: {matchLabels: {app: web}}}",
                        "{port: 80}",
                    ),
                0,
            ),
            case(
                "other ports",
                inv.clone()
                    + &policy(
                        "shop",
                        "p",
                        "{podSelector: {}, ingress: [{from: [{podSelector: {}}], ports: [{port: 80}]}, {from: [{podSelector: {}}], ports: [{port: 443}]}]}",
                    ),
                0,
            ),
            case(
                "a range inside a range",
                inv.clone()
                    + &policy(
                        "shop",
                        "p",
                        "{podSelector: {}, ingress: [{ports: [{port: 8000, endPort: 9000}]}, {ports: [{port: 8080}]}]}",
                    ),
                1,
            ),
            case(
                "an ipBlock inside an ipBlock minus excepts",
                inv.clone()
                    + &policy(
                        "shop",
                        "p",
                        "{podSelector: {}, ingress: [{from: [{ipBlock: {cidr: 192.0.0.0/8, except: [192.168.0.0/16]}}]}, {from: [{ipBlock: {cidr: 192.0.2.0/24}}]}]}",
                    ),
                1,
            ),
            case(
                "an ipBlock overlapping an except",
                inv.clone()
                    + &policy(
                        "shop",
                        "p",
                        "{podSelector: {}, ingress: [{from: [{ipBlock: {cidr: 192.0.0.0/8, except: [192.168.0.0/16]}}]}, {from: [{ipBlock: {cidr: 192.168.1.0/24}}]}]}",
                    ),
                0,
            ),
        ],
    );
    run(
        "L011",
        vec![
            case(
                "every rule covered by a wider policy",
                inv.clone()
                    + &allow(
                        "a-wide",
                        "{}",
                        "{podSelector: {}}",
                        "{port: 80}, {port: 443}",
                    )
                    + &allow(
                        "b-narrow",
                        "{matchLabels: {app: web}}",
                        "{podSelector: {matchLabels: {app: web}}}",
                        "{port: 80}",
                    ),
                1,
            ),
            case(
                "an identical copy: the later one",
                inv.clone()
                    + &allow("a", "{}", "{podSelector: {}}", "{port: 80}")
                    + &allow("b", "{}", "{podSelector: {}}", "{port: 80}"),
                1,
            ),
            case(
                "a default deny next to an allow policy selecting every pod",
                inv.clone()
                    + &policy(
                        "shop",
                        "allow-web",
                        "{podSelector: {}, ingress: [{from: [{podSelector: {matchLabels: {app: web}}}]}]}",
                    )
                    + &policy("shop", "default-deny", DENY_INGRESS),
                0,
            ),
            case(
                "a deny for some pods inside a deny for all",
                inv.clone()
                    + &policy("shop", "deny-all", DENY_INGRESS)
                    + &policy(
                        "shop",
                        "deny-web",
                        "{podSelector: {matchLabels: {app: web}}, policyTypes: [Ingress]}",
                    ),
                1,
            ),
            case(
                "the egress half is not covered",
                inv.clone()
                    + &policy("shop", "deny-all", DENY_INGRESS)
                    + &policy(
                        "shop",
                        "deny-web",
                        "{podSelector: {matchLabels: {app: web}}, policyTypes: [Ingress, Egress]}",
                    ),
                0,
            ),
        ],
    );
    // The copy's rule is not reported on top of the whole policy.
    let yaml = inv
        + &allow("a", "{}", "{podSelector: {}}", "{port: 80}")
        + &allow("b", "{}", "{podSelector: {}}", "{port: 80}");
    assert_eq!(findings(&yaml, "L010").len(), 0);
    assert!(findings(&yaml, "L011")[0].object.as_deref() == Some("NetworkPolicy shop/b"));
}

// https://kubernetes.io/docs/concepts/services-networking/network-policies/#networkpolicy-and-hostnetwork-pods
#[test]
fn l012_l013_l014() {
    let inv = pod("shop", "web", "app: web", "10.0.1.10");
    run(
        "L012",
        vec![
            case(
                "- {}",
                inv.clone() + &policy("shop", "p", "{podSelector: {}, ingress: [{}]}"),
                1,
            ),
            case(
                "from: [] is also everything",
                inv.clone() + &policy("shop", "p", "{podSelector: {}, ingress: [{from: []}]}"),
                1,
            ),
            case(
                "every pod is not every address",
                inv.clone()
                    + &policy(
                        "shop",
                        "p",
                        "{podSelector: {}, ingress: [{from: [{namespaceSelector: {}}]}]}",
                    ),
                0,
            ),
            case(
                "every source on one port",
                inv.clone()
                    + &policy(
                        "shop",
                        "p",
                        "{podSelector: {}, ingress: [{ports: [{port: 80}]}]}",
                    ),
                0,
            ),
        ],
    );
    let host = "apiVersion: v1\nkind: Pod\nmetadata: {name: agent, namespace: shop, labels: {app: agent}}\nspec: {hostNetwork: true, containers: [{name: main, image: agent}]}\nstatus: {podIP: 192.0.2.1}\n---\n";
    run(
        "L013",
        vec![
            case(
                "only hostNetwork pods",
                inv.clone()
                    + host
                    + &policy("shop", "p", "{podSelector: {matchLabels: {app: agent}}}"),
                1,
            ),
            case(
                "hostNetwork and normal pods",
                inv.clone() + host + &policy("shop", "p", "{podSelector: {}}"),
                0,
            ),
        ],
    );
    let named = "apiVersion: v1\nkind: Pod\nmetadata: {name: bastion, namespace: shop, labels: {app: bastion}}\nspec: {containers: [{name: main, image: ssh, ports: [{name: ssh, containerPort: 22}]}]}\nstatus: {podIP: 10.0.1.30}\n---\n";
    run(
        "L014",
        vec![
            case(
                "22 from everywhere",
                inv.clone()
                    + &policy(
                        "shop",
                        "p",
                        "{podSelector: {}, ingress: [{ports: [{port: 22}]}]}",
                    ),
                1,
            ),
            case(
                "a range over 6443 from 0.0.0.0/0",
                inv.clone()
                    + &policy(
                        "shop",
                        "p",
                        "{podSelector: {}, ingress: [{from: [{ipBlock: {cidr: 0.0.0.0/0}}], ports: [{port: 6000, endPort: 7000}]}]}",
                    ),
                1,
            ),
            case(
                "a named port resolving to 22",
                named.to_owned()
                    + &policy(
                        "shop",
                        "p",
                        "{podSelector: {matchLabels: {app: bastion}}, ingress: [{ports: [{port: ssh}]}]}",
                    ),
                1,
            ),
            case(
                "443 from everywhere",
                inv.clone()
                    + &policy(
                        "shop",
                        "p",
                        "{podSelector: {}, ingress: [{ports: [{port: 443}]}]}",
                    ),
                0,
            ),
            case(
                "22 from the admin network",
                inv.clone()
                    + &policy(
                        "shop",
                        "p",
                        "{podSelector: {}, ingress: [{from: [{ipBlock: {cidr: 192.0.2.0/24}}], ports: [{port: 22}]}]}",
                    ),
                0,
            ),
            case(
                "egress to 22 anywhere is a client",
                inv.clone()
                    + &policy(
                        "shop",
                        "p",
                        "{podSelector: {}, policyTypes: [Egress], egress: [{ports: [{port: 22}]}]}",
                    ),
                0,
            ),
        ],
    );
}

/// `palisade.dev/allow-lints` on an object silences the lints it names there, and only there:
/// a deliberate OR stays documented in the policy that writes it.
#[test]
fn an_annotation_silences_named_lints_on_its_object_only() {
    let inv = namespace("monitoring", "team: ops")
        + &namespace("shop", "")
        + &pod("monitoring", "prometheus", "app: prometheus", "10.0.2.10")
        + &pod("monitoring", "grafana", "app: grafana", "10.0.2.11")
        + &pod("shop", "web", "app: web", "10.0.1.10");
    let spec = "{podSelector: {}, ingress: [{from: [{namespaceSelector: {matchLabels: {team: ops}}}, {podSelector: {matchLabels: {app: prometheus}}}]}]}";
    let annotated = |name: &str, allow: &str| {
        format!(
            "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata:\n  name: {name}\n  namespace: shop\n  annotations:\n    palisade.dev/allow-lints: \"{allow}\"\nspec: {spec}\n---\n"
        )
    };
    let count = |yaml: String| findings(&yaml, "L004").len();
    assert_eq!(
        count(inv.clone() + &policy("shop", "scrape", spec)),
        1,
        "unannotated"
    );
    assert_eq!(
        count(inv.clone() + &annotated("scrape", "L004")),
        0,
        "by code"
    );
    assert_eq!(
        count(inv.clone() + &annotated("scrape", "L009, or-probably-meant-and")),
        0,
        "by name, in a list"
    );
    assert_eq!(
        count(inv.clone() + &annotated("scrape", "L009")),
        1,
        "another lint named: still fires"
    );
    // Two policies with the same mistake: the annotation on one leaves the other's finding.
    let both = inv + &annotated("scrape", "L004") + &policy("shop", "scrape-too", spec);
    let found = findings(&both, "L004");
    assert_eq!(found.len(), 1);
    assert_eq!(
        found[0].object.as_deref(),
        Some("NetworkPolicy shop/scrape-too")
    );
}
