//! Shared by the agent's tests: manifests as text and a trivial [`RulesetSource`].
#![allow(dead_code)]

use std::collections::BTreeSet;

use palisade_agent::RulesetSource;
use palisade_core::model::Cluster;

/// Namespace `shop` with pods `web` and `db` on node-a and `cache` on node-b.
pub const PODS: &str = r#"apiVersion: v1
kind: Namespace
metadata:
  name: shop
---
apiVersion: v1
kind: Pod
metadata:
  name: web
  namespace: shop
  labels:
    app: web
spec:
  nodeName: node-a
  containers:
  - name: main
    image: nginx
status:
  podIP: 10.0.1.10
---
apiVersion: v1
kind: Pod
metadata:
  name: db
  namespace: shop
  labels:
    app: db
spec:
  nodeName: node-a
  containers:
  - name: main
    image: postgres
    ports:
    - containerPort: 5432
status:
  podIP: 10.0.1.11
---
apiVersion: v1
kind: Pod
metadata:
  name: cache
  namespace: shop
  labels:
    app: cache
spec:
  nodeName: node-b
  containers:
  - name: main
    image: redis
status:
  podIP: 10.0.2.10
"#;

/// `shop/NAME`: only pods labelled app=web may reach app=db, on TCP `port`.
pub fn policy(name: &str, port: u32) -> String {
    format!(
        r#"apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: {name}
  namespace: shop
spec:
  podSelector:
    matchLabels:
      app: db
  policyTypes: [Ingress]
  ingress:
  - from:
    - podSelector:
        matchLabels:
          app: web
    ports:
    - protocol: TCP
      port: {port}
"#
    )
}

/// One more pod on node-a, with address `ip`, labelled app=db (so the real compiler puts it
/// in the ruleset: the `db` policy selects it).
pub fn extra_pod(name: &str, ip: &str) -> String {
    format!(
        r#"apiVersion: v1
kind: Pod
metadata:
  name: {name}
  namespace: shop
  labels:
    app: db
spec:
  nodeName: node-a
  containers:
  - name: main
    image: busybox
status:
  podIP: {ip}
"#
    )
}

/// What the trivial source compiles: the node's IPv4 pod addresses and every policy, each
/// policy as a chain named after it with its port in the comment, so tests can see changes in
/// `nft list` output.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Summary {
    pub local: BTreeSet<String>,
    pub policies: BTreeSet<(String, String)>,
}

#[derive(Debug, Default)]
pub struct SummarySource;

pub fn chain_name(key: &str) -> String {
    let clean: String = key
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
    format!("pol_{clean}")
}

impl RulesetSource for SummarySource {
    type Ruleset = Summary;

    fn compile(&self, cluster: &Cluster, node: &str) -> Summary {
        let local = cluster
            .pods
            .iter()
            .filter(|p| p.node.as_deref() == Some(node))
            .flat_map(|p| {
                p.ips
                    .iter()
                    .filter(|ip| ip.is_ipv4())
                    .map(|ip| ip.to_string())
            })
            .collect();
        let policies = cluster
            .policies
            .iter()
            .map(|p| (p.key(), format!("{:?}", p.ingress)))
            .map(|(key, rules)| (key, format!("{:016x}", fnv(&rules))))
            .collect();
        Summary { local, policies }
    }

    fn full(&self, ruleset: &Summary) -> String {
        let mut out = String::from(
            "table inet palisade {}\ndelete table inet palisade\ntable inet palisade {\n\tset local4 {\n\t\ttype ipv4_addr\n",
        );
        if !ruleset.local.is_empty() {
            let elements: Vec<&str> = ruleset.local.iter().map(String::as_str).collect();
            out.push_str(&format!("\t\telements = {{ {} }}\n", elements.join(", ")));
        }
        out.push_str("\t}\n");
        for (key, rules) in &ruleset.policies {
            out.push_str(&format!(
                "\tchain {} {{\n\t\tcomment \"{key} {rules}\"\n\t}}\n",
                chain_name(key)
            ));
        }
        out.push_str("}\n");
        out
    }

    fn diff(&self, old: &Summary, new: &Summary) -> Option<String> {
        let mut out = String::new();
        for gone in old.local.difference(&new.local) {
            out.push_str(&format!(
                "delete element inet palisade local4 {{ {gone} }}\n"
            ));
        }
        for added in new.local.difference(&old.local) {
            out.push_str(&format!("add element inet palisade local4 {{ {added} }}\n"));
        }
        for (key, _) in old.policies.difference(&new.policies) {
            out.push_str(&format!("delete chain inet palisade {}\n", chain_name(key)));
        }
        for (key, rules) in new.policies.difference(&old.policies) {
            out.push_str(&format!(
                "add chain inet palisade {} {{ comment \"{key} {rules}\"; }}\n",
                chain_name(key)
            ));
        }
        (!out.is_empty()).then_some(out)
    }
}

#[allow(unused_imports)] // not every test binary uses it
pub use palisade_agent::NftSource;

/// FNV-1a, to put a short fingerprint of a policy's rules in a comment.
fn fnv(text: &str) -> u64 {
    text.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// The index's cluster, owned (the index lends it).
pub fn current(index: &mut palisade_agent::index::ManifestIndex) -> Cluster {
    index.cluster().0.clone()
}

pub fn with_diagnostics(
    index: &mut palisade_agent::index::ManifestIndex,
) -> (Cluster, Vec<palisade_core::diag::Diagnostic>) {
    let (cluster, diagnostics) = index.cluster();
    (cluster.clone(), diagnostics.to_vec())
}
