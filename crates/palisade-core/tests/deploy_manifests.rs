//! The install manifests in `deploy/` (docs/deploy.md): they load through palisade's own strict
//! loader with no diagnostic, the kinds the loader skips (RBAC, ServiceAccount) are decoded just
//! as strictly here, and the security properties the docs promise are pinned.

use std::collections::BTreeSet;
use std::path::PathBuf;

use k8s_openapi::api::apps::v1::DaemonSet;
use k8s_openapi::api::core::v1::ServiceAccount;
use k8s_openapi::api::rbac::v1::{ClusterRole, ClusterRoleBinding};
use palisade_core::load::{Input, Node, Value, yaml};
use palisade_core::source::Sources;
use palisade_core::{analyze, analyze_text};
use serde::de::DeserializeOwned;

fn deploy_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../deploy")
}

fn read(name: &str) -> String {
    let path = deploy_dir().join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The loader's spanned tree as JSON: the same YAML-to-JSON typing kubectl applies (that is
/// what the tree's scalars already are), so what is decoded below is what the API server gets.
fn to_json(node: &Node) -> serde_json::Value {
    match &node.value {
        Value::Null => serde_json::Value::Null,
        Value::Bool(b) => serde_json::Value::Bool(*b),
        Value::Int(i) => serde_json::Value::from(*i),
        Value::Float(f) => serde_json::Number::from_f64(*f)
            .map(serde_json::Value::Number)
            .unwrap_or(serde_json::Value::Null),
        Value::Str(s) => serde_json::Value::String(s.clone()),
        Value::Seq(items) => serde_json::Value::Array(items.iter().map(to_json).collect()),
        Value::Map(entries) => serde_json::Value::Object(
            entries
                .iter()
                .map(|(k, v)| (k.name.clone(), to_json(v)))
                .collect(),
        ),
    }
}

/// Decodes the single document of `text` into `T`, refusing unknown fields (k8s-openapi would
/// silently drop them; the API server's strict field validation rejects them) and type errors.
fn strict<T: DeserializeOwned>(name: &str, text: &str) -> Result<T, String> {
    let mut sources = Sources::default();
    let file = sources.add(name, text);
    let (docs, diags) = yaml::parse_documents(file, text);
    if !diags.is_empty() {
        return Err(format!("{name}: {diags:?}"));
    }
    let [doc] = docs.as_slice() else {
        return Err(format!(
            "{name}: expected one document, found {}",
            docs.len()
        ));
    };
    let json = to_json(doc);
    let mut unknown = Vec::new();
    let value: T = serde_ignored::deserialize(json, |path| unknown.push(path.to_string()))
        .map_err(|e| format!("{name}: {e}"))?;
    if unknown.is_empty() {
        Ok(value)
    } else {
        Err(format!("{name}: unknown fields {unknown:?}"))
    }
}

fn daemonset() -> DaemonSet {
    strict("daemonset.yaml", &read("daemonset.yaml")).unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn every_manifest_passes_palisade_check() {
    let analysis = analyze(&[Input::Path(deploy_dir())]);
    assert!(analysis.io_errors.is_empty(), "{:#?}", analysis.io_errors);
    let problems: Vec<String> = analysis
        .diagnostics
        .iter()
        .map(|d| format!("{} {:?} at {:?}: {}", d.code, d.field, d.span, d.message))
        .collect();
    assert!(problems.is_empty(), "{problems:#?}");
    assert_eq!(analysis.error_count(), 0);
    assert_eq!(analysis.rejected, 0);
    let read: Vec<(&str, usize)> = analysis
        .read
        .iter()
        .map(|(k, n)| (k.as_str(), *n))
        .collect();
    // The agent's DaemonSet, and the uninstall step's cleanup DaemonSet (deploy/uninstall/).
    assert_eq!(read, [("DaemonSet", 2), ("Namespace", 1)]);
    // What the loader skips is decoded strictly by the tests below.
    let skipped: Vec<&str> = analysis.skipped.keys().map(String::as_str).collect();
    assert_eq!(
        skipped,
        [
            "ClusterRole",
            "ClusterRoleBinding",
            "Kustomization",
            "ServiceAccount"
        ]
    );
}

#[test]
fn the_strict_decoder_used_here_can_fail() {
    // A misspelt `verb` must not read as "no verbs" and pass the least-privilege check.
    let typo = "apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata: {name: x}\n\
                rules:\n- apiGroups: ['']\n  resources: [pods]\n  verb: [get]\n";
    let err = strict::<ClusterRole>("typo.yaml", typo).expect_err("unknown field");
    assert!(err.contains("verb"), "{err}");
    // And palisade's own loader rejects a DaemonSet with an unknown security field.
    let ds = read("daemonset.yaml").replace("readOnlyRootFilesystem", "readOnlyRootFileSystem");
    let analysis = analyze_text("daemonset.yaml", &ds);
    assert!(analysis.error_count() > 0, "{:#?}", analysis.diagnostics);
}

/// The agent programs the node's own netfilter with nft over netlink: host network namespace,
/// CAP_NET_ADMIN (plus NET_RAW, see the manifest), everything else dropped.
/// https://kubernetes.io/docs/tasks/configure-pod-container/security-context/#set-capabilities-for-a-container
#[test]
fn daemonset_runs_on_the_host_network_with_only_net_admin_and_net_raw() {
    let ds = daemonset();
    let spec = ds.spec.expect("spec");
    let pod = spec.template.spec.expect("template.spec");
    assert_eq!(pod.host_network, Some(true));
    assert_eq!(pod.dns_policy.as_deref(), Some("ClusterFirstWithHostNet"));
    assert_eq!(
        pod.priority_class_name.as_deref(),
        Some("system-node-critical")
    );
    let tolerations = pod.tolerations.unwrap_or_default();
    assert!(
        tolerations
            .iter()
            .any(|t| t.operator.as_deref() == Some("Exists")
                && t.key.is_none()
                && t.effect.is_none()),
        "an Exists toleration without key or effect tolerates every taint: {tolerations:?}"
    );
    assert_eq!(pod.containers.len(), 1);
    assert!(pod.init_containers.unwrap_or_default().is_empty());
    let c = &pod.containers[0];
    let sc = c.security_context.as_ref().expect("securityContext");
    let caps = sc.capabilities.as_ref().expect("capabilities");
    let add: BTreeSet<&str> = caps.add.iter().flatten().map(String::as_str).collect();
    assert_eq!(add, BTreeSet::from(["NET_ADMIN", "NET_RAW"]));
    assert_eq!(caps.add.as_ref().map(Vec::len), Some(2), "no duplicates");
    assert_eq!(caps.drop.as_deref(), Some(&["ALL".to_string()][..]));
    assert_eq!(sc.read_only_root_filesystem, Some(true));
    assert_eq!(sc.allow_privilege_escalation, Some(false));
    assert_ne!(sc.privileged, Some(true));
    assert_eq!(sc.run_as_user, Some(0));
    assert!(pod.host_pid.is_none() && pod.host_ipc.is_none());
    assert!(pod.volumes.unwrap_or_default().is_empty(), "no hostPath");
}

#[test]
fn daemonset_rolls_one_node_at_a_time_and_knows_its_node() {
    use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
    let spec = daemonset().spec.expect("spec");
    let strategy = spec.update_strategy.expect("updateStrategy");
    assert_eq!(strategy.type_.as_deref(), Some("RollingUpdate"));
    let rolling = strategy.rolling_update.expect("rollingUpdate");
    assert_eq!(rolling.max_unavailable, Some(IntOrString::Int(1)));
    let pod = spec.template.spec.expect("template.spec");
    assert!(pod.termination_grace_period_seconds.is_some());
    let c = &pod.containers[0];
    let node_name = c
        .env
        .iter()
        .flatten()
        .find(|e| e.name == "NODE_NAME")
        .and_then(|e| e.value_from.as_ref())
        .and_then(|v| v.field_ref.as_ref())
        .map(|f| f.field_path.as_str());
    assert_eq!(node_name, Some("spec.nodeName"));
    let args = c.args.clone().unwrap_or_default();
    assert_eq!(
        args.first().map(String::as_str),
        Some("agent"),
        "the image's ENTRYPOINT is the palisade binary"
    );
    assert!(args.windows(2).any(|w| w == ["--node", "$(NODE_NAME)"]));
    let resources = c.resources.as_ref().expect("resources");
    assert!(
        resources
            .requests
            .as_ref()
            .is_some_and(|r| r.contains_key("cpu") && r.contains_key("memory"))
    );
    assert!(
        resources
            .limits
            .as_ref()
            .is_some_and(|l| l.contains_key("memory"))
    );
    for (what, probe) in [
        ("liveness", &c.liveness_probe),
        ("readiness", &c.readiness_probe),
    ] {
        let get = probe.as_ref().and_then(|p| p.http_get.as_ref());
        assert!(get.is_some(), "{what} probe is an httpGet");
    }
}

/// https://kubernetes.io/docs/reference/access-authn-authz/rbac/#referring-to-resources
#[test]
fn cluster_role_only_reads_pods_namespaces_and_networkpolicies() {
    let role: ClusterRole =
        strict("clusterrole.yaml", &read("clusterrole.yaml")).unwrap_or_else(|e| panic!("{e}"));
    assert!(
        role.aggregation_rule.is_none(),
        "aggregation would add rules"
    );
    let mut granted = BTreeSet::new();
    for rule in role.rules.iter().flatten() {
        assert!(rule.resource_names.is_none() && rule.non_resource_urls.is_none());
        for group in rule.api_groups.iter().flatten() {
            for resource in rule.resources.iter().flatten() {
                for verb in &rule.verbs {
                    granted.insert((group.as_str(), resource.as_str(), verb.as_str()));
                }
            }
        }
    }
    let mut expected = BTreeSet::new();
    for (group, resource) in [
        ("", "pods"),
        ("", "namespaces"),
        ("networking.k8s.io", "networkpolicies"),
    ] {
        for verb in ["get", "list", "watch"] {
            expected.insert((group, resource, verb));
        }
    }
    assert_eq!(granted, expected);
}

#[test]
fn binding_ties_the_role_to_the_agents_service_account() {
    let sa: ServiceAccount = strict("serviceaccount.yaml", &read("serviceaccount.yaml"))
        .unwrap_or_else(|e| panic!("{e}"));
    let binding: ClusterRoleBinding =
        strict("clusterrolebinding.yaml", &read("clusterrolebinding.yaml"))
            .unwrap_or_else(|e| panic!("{e}"));
    let pod = daemonset()
        .spec
        .and_then(|s| s.template.spec)
        .expect("pod spec");
    assert_eq!(binding.role_ref.kind, "ClusterRole");
    assert_eq!(binding.role_ref.name, "palisade-agent");
    let subjects = binding.subjects.unwrap_or_default();
    assert_eq!(subjects.len(), 1);
    assert_eq!(subjects[0].kind, "ServiceAccount");
    assert_eq!(Some(&subjects[0].name), sa.metadata.name.as_ref());
    assert_eq!(subjects[0].namespace, sa.metadata.namespace);
    assert_eq!(pod.service_account_name, sa.metadata.name);
    assert_eq!(sa.metadata.namespace.as_deref(), Some("palisade-system"));
}

#[test]
fn kustomization_lists_every_manifest() {
    let text = read("kustomization.yaml");
    let mut sources = Sources::default();
    let file = sources.add("kustomization.yaml", text.as_str());
    let (docs, diags) = yaml::parse_documents(file, &text);
    assert!(diags.is_empty(), "{diags:?}");
    let listed: BTreeSet<String> = docs
        .first()
        .and_then(|d| d.get("resources"))
        .map(to_json)
        .and_then(|j| serde_json::from_value(j).ok())
        .unwrap_or_default();
    let on_disk: BTreeSet<String> = std::fs::read_dir(deploy_dir())
        .expect("deploy/")
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|n| n.ends_with(".yaml") && n != "kustomization.yaml")
        .collect();
    assert_eq!(listed, on_disk);
}
