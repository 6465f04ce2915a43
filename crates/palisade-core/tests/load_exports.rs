//! What `kubectl get -o yaml` adds to an object loads: server-set metadata, `managedFields`,
//! the last-applied annotation and `status`. A Pod's addresses are still read from its status;
//! the rest of a status is dropped, with a P107 warning where the kind has no status in the API
//! (NetworkPolicy). Unknown fields anywhere else stay errors.

use palisade_core::analyze_text;
use palisade_core::diag::{Diagnostic, Severity};
use palisade_core::load::{K8sObject, load_text};

const EXPORT: &str = include_str!("../../palisade-cli/tests/fixtures/kubectl-export/export.yaml");

fn errors(diagnostics: &[Diagnostic]) -> Vec<&Diagnostic> {
    diagnostics.iter().filter(|d| d.is_error()).collect()
}

#[test]
fn a_kubectl_export_loads_whole() {
    let analysis = analyze_text("export.yaml", EXPORT);
    assert!(
        errors(&analysis.diagnostics).is_empty(),
        "{:#?}",
        analysis.diagnostics
    );
    assert_eq!(analysis.rejected, 0);
    let p107: Vec<&Diagnostic> = analysis
        .diagnostics
        .iter()
        .filter(|d| d.code == "P107")
        .collect();
    assert_eq!(p107.len(), 1, "{:#?}", analysis.diagnostics);
    let d = p107[0];
    assert_eq!(d.severity, Severity::Warning);
    assert_eq!(d.field.as_deref(), Some("status"));
    assert_eq!(
        d.object.as_deref(),
        Some("NetworkPolicy shop/web-allow-none")
    );
    assert_eq!(d.span.map(|s| (s.line, s.column)), Some((206, 3)));

    let cluster = &analysis.cluster;
    let pods: Vec<String> = cluster.pods.iter().map(|p| p.key()).collect();
    assert_eq!(pods, ["shop/client", "shop/web-5d8f7c9b6d-q7x2m"]);
    let web = &cluster.pods[1];
    assert_eq!(web.ips, ["10.244.1.7".parse::<std::net::IpAddr>().unwrap()]);
    assert_eq!(web.node.as_deref(), Some("worker-1"));
    let policies: Vec<String> = cluster.policies.iter().map(|p| p.key()).collect();
    assert_eq!(policies, ["shop/web-allow-none"]);
    assert!(
        cluster
            .namespaces
            .iter()
            .any(|n| n.name == "shop" && n.declared)
    );
}

/// Each case: a label, an object with what an export carries, and whether it loads clean
/// (no diagnostic at all).
#[test]
fn server_set_fields_are_accepted() {
    let meta = "  name: web
  namespace: shop
  uid: 7b3e9a12-5c44-4f0e-b1d2-6a8c9e0f1a23
  resourceVersion: \"48213\"
  creationTimestamp: \"2024-03-11T09:14:05Z\"
  deletionTimestamp: \"2024-03-12T10:00:00Z\"
  deletionGracePeriodSeconds: 30
  generation: 3
  generateName: web-
  selfLink: /api/v1/namespaces/shop/pods/web
  finalizers: [example.com/keep]
  ownerReferences:
  - {apiVersion: apps/v1, kind: ReplicaSet, name: web-5d8f7c9b6d, uid: 0f4c2b7e-8a51-4d7b-9e57-3c1f2d6a9b10, controller: true, blockOwnerDeletion: true}
  annotations:
    kubectl.kubernetes.io/last-applied-configuration: |
      {\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"metadata\":{\"annotations\":{},\"name\":\"web\",\"namespace\":\"shop\"}}
  managedFields:
  - apiVersion: v1
    fieldsType: FieldsV1
    fieldsV1: {f:metadata: {f:labels: {.: {}, f:app: {}}}}
    manager: kubectl-client-side-apply
    operation: Update
    time: \"2024-03-11T09:14:05Z\"
";
    let cases = [
        (
            "pod with full status",
            format!(
                "apiVersion: v1\nkind: Pod\nmetadata:\n{meta}spec:\n  containers: [{{name: c}}]\n\
                 status:\n  phase: Running\n  hostIP: 172.18.0.3\n  hostIPs: [{{ip: 172.18.0.3}}]\n  \
                 podIP: 10.0.0.5\n  podIPs: [{{ip: 10.0.0.5}}]\n  qosClass: BestEffort\n  \
                 startTime: \"2024-03-11T09:14:05Z\"\n  observedGeneration: 1\n  \
                 conditions: [{{type: Ready, status: \"True\", lastProbeTime: null}}]\n  \
                 containerStatuses: [{{name: c, ready: true, restartCount: 0, image: x, imageID: y, \
                 state: {{running: {{startedAt: \"2024-03-11T09:14:08Z\"}}}}, \
                 allocatedResources: {{cpu: 100m}}, stopSignal: SIGTERM}}]\n  \
                 resize: InProgress\n  aFieldOfARelease: {{palisade: does not know}}\n"
            ),
        ),
        (
            "namespace with status",
            "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: shop\n  uid: x\n  \
             resourceVersion: \"1\"\nspec:\n  finalizers: [kubernetes]\nstatus:\n  phase: Active\n  \
             conditions: [{type: NamespaceDeletionDiscoveryFailure, status: \"False\"}]\n"
                .to_string(),
        ),
        (
            "deployment with status",
            "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\n  generation: 2\nspec:\n  \
             selector: {matchLabels: {app: web}}\n  template:\n    metadata: {labels: {app: web}}\n    \
             spec: {containers: [{name: c}]}\nstatus:\n  replicas: 3\n  readyReplicas: 3\n  \
             observedGeneration: 2\n  terminatingReplicas: 0\n  \
             conditions: [{type: Available, status: \"True\"}]\n"
                .to_string(),
        ),
        (
            "policy with server metadata",
            format!(
                "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata:\n{}spec:\n  \
                 podSelector: {{}}\n",
                meta
            ),
        ),
    ];
    for (label, text) in &cases {
        let loaded = load_text("export.yaml", text);
        assert!(
            loaded.diagnostics.is_empty(),
            "{label}: {:#?}",
            loaded.diagnostics
        );
        assert_eq!(loaded.objects.len(), 1, "{label}");
        assert_eq!(loaded.objects[0].load_errors, 0, "{label}");
    }
    // The pod's addresses and phase survive the reduction of its status.
    let loaded = load_text("pod.yaml", &cases[0].1);
    let K8sObject::Pod(pod) = &loaded.objects[0].object else {
        panic!("not a pod");
    };
    let status = pod.status.as_ref().expect("status");
    assert_eq!(status.pod_ip.as_deref(), Some("10.0.0.5"));
    assert_eq!(status.pod_ips.as_ref().map(Vec::len), Some(1));
    assert_eq!(status.phase.as_deref(), Some("Running"));
    assert_eq!(status.host_ip, None);
}

#[test]
fn a_network_policy_status_is_ignored_with_a_warning() {
    let text = "\
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: db, namespace: prod}
spec:
  podSelector: {}
  policyTypes: [Ingress]
status:
  conditions:
  - type: PartialFailure
    status: \"True\"
    reason: EndPortNotSupported
    message: endPort is not supported by this plugin
    lastTransitionTime: \"2023-05-01T00:00:00Z\"
";
    let analysis = analyze_text("np.yaml", text);
    assert_eq!(analysis.diagnostics.len(), 1, "{:#?}", analysis.diagnostics);
    let d = &analysis.diagnostics[0];
    assert_eq!((d.code, d.severity), ("P107", Severity::Warning));
    assert_eq!(d.span.map(|s| (s.line, s.column)), Some((7, 1)));
    assert!(
        d.help.as_deref().unwrap_or("").contains("1.24 to 1.27"),
        "{d:#?}"
    );
    assert_eq!(analysis.rejected, 0);
    assert_eq!(analysis.cluster.policies.len(), 1);
    // Even a status of the wrong shape is only ignored.
    let odd = analyze_text(
        "np.yaml",
        &text.replace("status:\n  conditions:", "status: weird\nx:"),
    );
    assert!(
        odd.diagnostics.iter().any(|d| d.code == "P104"),
        "x is unknown"
    );
    let odd = analyze_text(
        "np.yaml",
        &format!("{}status: weird\n", &text[..text.find("status:").unwrap()]),
    );
    assert_eq!(
        odd.diagnostics.iter().map(|d| d.code).collect::<Vec<_>>(),
        ["P107"]
    );
}

/// The reduction of `status` opens nothing else: unknown fields in `spec`, in `metadata`, at
/// the top level, or in the part of a pod's status that palisade reads are errors as before,
/// and the object stays out of the answer.
#[test]
fn unknown_fields_outside_status_stay_errors() {
    let policy = "\
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: db, namespace: prod}
spec:
  podSelector: {}
  policyTypes: [Ingress]
status: {}
";
    let pod = "\
apiVersion: v1
kind: Pod
metadata: {name: web, namespace: prod}
spec: {containers: [{name: c}]}
status: {phase: Running, podIP: 10.0.0.5, podIPs: [{ip: 10.0.0.5}]}
";
    let cases = [
        (
            "policy spec",
            policy.replace("podSelector: {}", "podSelecter: {}"),
            "spec.podSelecter",
        ),
        (
            "policy metadata",
            policy.replace("namespace: prod", "namespace: prod, labelz: {}"),
            "metadata.labelz",
        ),
        (
            "policy top level",
            policy.replace("status: {}", "status: {}\nstatuss: {}"),
            "statuss",
        ),
        (
            "pod address",
            pod.replace("[{ip: 10.0.0.5}]", "[{ip: 10.0.0.5, ipp: x}]"),
            "status.podIPs[0].ipp",
        ),
        (
            "pod spec",
            pod.replace("{name: c}", "{name: c, portz: []}"),
            "spec.containers[0].portz",
        ),
    ];
    for (label, text, field) in &cases {
        let analysis = analyze_text("x.yaml", text);
        let found = errors(&analysis.diagnostics);
        assert_eq!(found.len(), 1, "{label}: {:#?}", analysis.diagnostics);
        assert_eq!(found[0].code, "P104", "{label}");
        assert_eq!(found[0].field.as_deref(), Some(*field), "{label}");
        assert_eq!(analysis.rejected, 1, "{label}");
    }
}

/// A pod's controller comes from its ownerReferences, and a ReplicaSet given in the input
/// hands the pod on to its own controller (Garbage collection concept page, "Owners and
/// dependents").
#[test]
fn owners_are_read_and_followed_through_the_input() {
    use palisade_core::model::Owner;
    use palisade_core::reach::workload_name;
    let owner = |kind: &str, name: &str| {
        Some(Owner {
            kind: kind.to_string(),
            name: name.to_string(),
        })
    };
    let analysis = analyze_text("export.yaml", EXPORT);
    let web = &analysis.cluster.pods[1];
    assert_eq!(web.owner, owner("ReplicaSet", "web-5d8f7c9b6d"));
    assert_eq!(workload_name(web), "shop/web");
    assert_eq!(analysis.cluster.pods[0].owner, None);

    let replica_set = "
---
apiVersion: apps/v1
kind: ReplicaSet
metadata:
  name: web-5d8f7c9b6d
  namespace: shop
  labels: {app: web, pod-template-hash: 5d8f7c9b6d}
  ownerReferences:
  - {apiVersion: apps/v1, kind: Deployment, name: storefront, uid: d1, controller: true}
  - {apiVersion: v1, kind: ConfigMap, name: not-a-controller, uid: c2}
spec:
  selector: {matchLabels: {app: web, pod-template-hash: 5d8f7c9b6d}}
  template:
    metadata: {labels: {app: web, pod-template-hash: 5d8f7c9b6d}}
    spec: {containers: [{name: nginx, image: nginx}]}
status: {replicas: 1, readyReplicas: 1}
";
    let analysis = analyze_text("export.yaml", &format!("{EXPORT}{replica_set}"));
    assert!(
        errors(&analysis.diagnostics).is_empty(),
        "{:#?}",
        analysis.diagnostics
    );
    let web = analysis
        .cluster
        .pods
        .iter()
        .find(|p| p.name == "web-5d8f7c9b6d-q7x2m")
        .expect("web pod");
    assert_eq!(web.owner, owner("Deployment", "storefront"));
    assert_eq!(workload_name(web), "shop/storefront");
}

/// A hand-edited manifest with a tab at the start of a line inside a flow sequence: kubectl's
/// YAML reader (go-yaml) accepts it, so the policy is loaded and enforced, not dropped.
#[test]
fn a_tab_inside_a_flow_sequence_loads() {
    let text = "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata:\n  name: deny\n  namespace: shop\nspec:\n  podSelector: {}\n  policyTypes: [\n\tIngress,\n\tEgress]\n";
    let analysis = analyze_text("tabs.yaml", text);
    assert!(
        errors(&analysis.diagnostics).is_empty(),
        "{:#?}",
        analysis.diagnostics
    );
    assert_eq!(analysis.rejected, 0);
    assert_eq!(analysis.cluster.policies.len(), 1);
}
