//! Decoding documents into Kubernetes objects: every kind palisade reads, List unwrapping,
//! skipped kinds, and every loading diagnostic (P103-P106) with its line, column, field and
//! wording.

use palisade_core::diag::Diagnostic;
use palisade_core::load::{K8sObject, Loaded, load_text};
use palisade_core::path::FieldPath;

fn only_diag(loaded: &Loaded) -> &Diagnostic {
    assert_eq!(
        loaded.diagnostics.len(),
        1,
        "expected one diagnostic: {:#?}",
        loaded.diagnostics
    );
    &loaded.diagnostics[0]
}

fn clean(text: &str) -> Loaded {
    let loaded = load_text("test.yaml", text);
    assert!(
        loaded.diagnostics.is_empty(),
        "unexpected: {:#?}",
        loaded.diagnostics
    );
    loaded
}

/// Checks code, 1-based line and column, field path and a fragment of message and help.
#[track_caller]
fn check(
    d: &Diagnostic,
    code: &str,
    pos: (u32, u32),
    field: Option<&str>,
    message: &str,
    help: &str,
) {
    assert_eq!(d.code, code, "{d:#?}");
    assert_eq!(d.span.map(|s| (s.line, s.column)), Some(pos), "{d:#?}");
    assert_eq!(d.field.as_deref(), field, "{d:#?}");
    assert!(
        d.message.contains(message),
        "message {:?} lacks {message:?}",
        d.message
    );
    assert!(
        d.help.as_deref().unwrap_or("").contains(help),
        "help {:?} lacks {help:?}",
        d.help
    );
}

const POD_SPEC: &str = "
    spec:
      containers:
      - name: app
        image: nginx
        ports:
        - containerPort: 80
          name: http";

fn indent(text: &str, by: usize) -> String {
    let pad = " ".repeat(by);
    text.lines()
        .map(|l| {
            if l.is_empty() {
                String::new()
            } else {
                format!("{pad}{l}")
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn every_kind_palisade_reads_is_decoded() {
    let template = |extra: usize| {
        format!(
            "  template:\n    metadata:\n      labels: {{app: web}}{}",
            indent(POD_SPEC, extra)
        )
    };
    let workloads = [
        ("apps/v1", "Deployment", template(0), "spec.template"),
        ("apps/v1", "StatefulSet", template(0), "spec.template"),
        ("apps/v1", "DaemonSet", template(0), "spec.template"),
        ("apps/v1", "ReplicaSet", template(0), "spec.template"),
        ("v1", "ReplicationController", template(0), "spec.template"),
        ("batch/v1", "Job", template(0), "spec.template"),
        (
            "batch/v1",
            "CronJob",
            format!(
                "  schedule: '* * * * *'\n  jobTemplate:\n    spec:\n{}",
                indent(&template(0), 4)
            ),
            "spec.jobTemplate.spec.template",
        ),
    ];
    let mut text = String::from(
        "apiVersion: v1\nkind: Namespace\nmetadata: {name: prod, labels: {env: prod}}\n---\n\
         apiVersion: v1\nkind: Pod\nmetadata: {name: p, namespace: prod}\nspec:\n  containers: [{name: c, image: i}]\n---\n\
         apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: np}\nspec: {podSelector: {}}\n---\n\
         apiVersion: v1\nkind: Service\nmetadata: {name: s}\nspec: {ports: [{port: 80}]}\n---\n\
         apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\n",
    );
    for (api, kind, spec, _) in &workloads {
        text.push_str(&format!("---\napiVersion: {api}\nkind: {kind}\nmetadata: {{name: w, namespace: prod}}\nspec:\n{spec}\n"));
    }
    let loaded = clean(&text);
    let kinds: Vec<&str> = loaded.objects.iter().map(|o| o.object.kind()).collect();
    assert_eq!(
        kinds,
        [
            "Namespace",
            "Pod",
            "NetworkPolicy",
            "Deployment",
            "StatefulSet",
            "DaemonSet",
            "ReplicaSet",
            "ReplicationController",
            "Job",
            "CronJob"
        ]
    );
    assert_eq!(loaded.skipped.get("Service"), Some(&1));
    assert_eq!(loaded.skipped.get("ConfigMap"), Some(&1));
    // A missing namespace stays missing here; the default is applied later.
    assert_eq!(loaded.objects[2].object.metadata().namespace, None);
    assert_eq!(loaded.objects[2].describe(), "NetworkPolicy default/np");
    for (obj, (_, kind, _, path)) in loaded.objects[3..].iter().zip(&workloads) {
        let K8sObject::Workload {
            kind: k,
            metadata,
            template,
            template_path,
        } = &obj.object
        else {
            panic!("{kind} is not a workload");
        };
        assert_eq!(k, kind);
        assert_eq!(metadata.name.as_deref(), Some("w"));
        assert_eq!(template_path.to_string(), *path, "{kind}");
        let labels = template.metadata.as_ref().and_then(|m| m.labels.as_ref());
        assert_eq!(
            labels.and_then(|l| l.get("app")).map(String::as_str),
            Some("web"),
            "{kind}"
        );
        let port = &template.spec.as_ref().unwrap().containers[0]
            .ports
            .as_ref()
            .unwrap()[0];
        assert_eq!(port.container_port, 80);
        // The template path leads back to the file.
        let span = obj.span_of(&template_path.field("spec")).unwrap();
        assert!(span.line > 1, "{kind}");
    }
}

#[test]
fn lists_are_unwrapped_and_typed_lists_lend_their_kind() {
    let text = "\
apiVersion: v1
kind: List
metadata: {resourceVersion: \"\"}
items:
- apiVersion: networking.k8s.io/v1
  kind: NetworkPolicy
  metadata: {name: a, namespace: x}
  spec:
    podSelector: {matchLabels: {app: db}}
- apiVersion: v1
  kind: Service
  metadata: {name: s}
- apiVersion: networking.k8s.io/v1
  kind: NetworkPolicyList
  items:
  - metadata: {name: b}
    spec: {podSelector: {}}
---
apiVersion: v1
kind: PodList
items:
- metadata: {name: p1}
  spec: {containers: [{name: c, image: i}]}
";
    let loaded = clean(text);
    let got: Vec<(String, String)> = loaded
        .objects
        .iter()
        .map(|o| (o.describe(), o.base.to_string()))
        .collect();
    assert_eq!(
        got,
        [
            ("NetworkPolicy x/a".to_string(), "items[0]".to_string()),
            (
                "NetworkPolicy default/b".to_string(),
                "items[2].items[0]".to_string()
            ),
            ("Pod default/p1".to_string(), "items[0]".to_string()),
        ]
    );
    assert_eq!(loaded.skipped.get("Service"), Some(&1));
    let a = &loaded.objects[0];
    let span = a
        .span_of(&FieldPath::parse("spec.podSelector.matchLabels.app"))
        .unwrap();
    assert_eq!((span.line, span.column), (9, 38));
    // A path that does not exist points at its nearest ancestor.
    let span = a.span_of(&FieldPath::parse("spec.ingress[0]")).unwrap();
    assert_eq!(span.line, 9);
}

#[test]
fn kubectl_get_json_output_is_read() {
    let text = r#"{
    "apiVersion": "v1",
    "items": [
        {
            "apiVersion": "v1",
            "kind": "Namespace",
            "metadata": {
                "creationTimestamp": "2024-01-01T00:00:00Z",
                "labels": {"kubernetes.io/metadata.name": "prod"},
                "name": "prod",
                "resourceVersion": "1",
                "uid": "0b5c3e1e-0000-0000-0000-000000000000"
            },
            "spec": {"finalizers": ["kubernetes"]},
            "status": {"phase": "Active"}
        }
    ],
    "kind": "List",
    "metadata": {"resourceVersion": ""}
}
"#;
    let loaded = load_text("ns.json", text);
    assert!(loaded.diagnostics.is_empty(), "{:#?}", loaded.diagnostics);
    assert_eq!(loaded.objects.len(), 1);
    assert_eq!(loaded.objects[0].describe(), "Namespace prod");
}

#[test]
fn p103_documents_that_are_not_objects() {
    // (label, text, (line, column), field, message)
    type Case<'a> = (&'a str, &'a str, (u32, u32), Option<&'a str>, &'a str);
    let cases: &[Case] = &[
        (
            "a list document",
            "- a\n- b\n",
            (1, 1),
            None,
            "found a list",
        ),
        (
            "a plain text document",
            "just some words\n",
            (1, 1),
            None,
            "found a string",
        ),
        (
            "no kind",
            "apiVersion: v1\nmetadata: {name: x}\n",
            (1, 1),
            None,
            "missing `kind`",
        ),
        (
            "no apiVersion",
            "kind: Pod\nmetadata: {name: x}\n",
            (1, 1),
            None,
            "missing `apiVersion`",
        ),
        (
            "neither",
            "\nspec:\n  podSelector: {}\n",
            (2, 1),
            None,
            "missing `apiVersion` and `kind`",
        ),
        (
            "kind not a string",
            "apiVersion: v1\nkind: [Pod]\n",
            (2, 7),
            Some("kind"),
            "`kind` must be a string, found a list",
        ),
        (
            "item without kind in a v1 List",
            "apiVersion: v1\nkind: List\nitems:\n- metadata: {name: x}\n",
            (4, 3),
            Some("items[0]"),
            "missing `apiVersion` and `kind`",
        ),
    ];
    for (label, text, pos, field, message) in cases {
        let loaded = load_text("t.yaml", text);
        let d = only_diag(&loaded);
        assert!(loaded.objects.is_empty(), "{label}");
        check(d, "P103", *pos, *field, message, "");
        assert!(d.help.is_some(), "{label}");
    }
}

#[test]
fn p104_unknown_fields_point_at_the_key_and_suggest() {
    let text = "\
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: db
  namespace: prod
spec:
  podSelector: {}
  ingress:
  - from:
    - podSelecter:
        matchLabels: {app: api}
";
    let loaded = load_text("np.yaml", text);
    let d = only_diag(&loaded);
    check(
        d,
        "P104",
        (10, 7),
        Some("spec.ingress[0].from[0].podSelecter"),
        "unknown field `podSelecter` in `spec.ingress[0].from[0]`",
        "did you mean `podSelector`?",
    );
    assert_eq!(d.object.as_deref(), Some("NetworkPolicy prod/db"));
    let span = d.span.unwrap();
    assert_eq!(&text[span.start..span.end], "podSelecter");
    // The object decodes without the unknown field, so later stages can still check it.
    assert_eq!(loaded.objects.len(), 1);

    // Flattened indentation: `name` at the top level belongs under metadata.
    let loaded = load_text(
        "t.yaml",
        "apiVersion: v1\nkind: Namespace\nmetadata:\nname: prod\n",
    );
    let d = only_diag(&loaded);
    check(
        d,
        "P104",
        (4, 1),
        Some("name"),
        "unknown field `name`",
        "`name` belongs under `metadata`",
    );

    // A YAML 1.1 boolean key: `on:` is read as "true".
    let loaded = load_text(
        "t.yaml",
        "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: x}\nspec:\n  on: 1\n",
    );
    let d = only_diag(&loaded);
    check(
        d,
        "P104",
        (5, 3),
        Some("spec.true"),
        "unknown field `true`",
        "reads the key `on` as `true`",
    );

    // Fields of a List itself.
    let loaded = load_text("t.yaml", "apiVersion: v1\nkind: List\nitem: []\n");
    let d = only_diag(&loaded);
    check(
        d,
        "P104",
        (3, 1),
        Some("item"),
        "unknown field `item` in a List",
        "did you mean `items`?",
    );
}

#[test]
fn p105_wrong_shapes_and_types() {
    let np = |spec: &str| {
        format!(
            "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata:\n  name: x\nspec:\n  podSelector: {{}}\n{spec}"
        )
    };
    // (label, text, (line, column), field, message, help)
    type Case<'a> = (&'a str, String, (u32, u32), &'a str, &'a str, &'a str);
    let cases: Vec<Case> = vec![
        (
            "to: {} from a blog post",
            np("  egress:\n  - to: {}\n    ports: [{port: 53, protocol: UDP}]\n"),
            (8, 9),
            "spec.egress[0].to",
            "expected a list of peers, found a map",
            "an absent or empty list (`to: []`) allows every destination",
        ),
        (
            "from: {}",
            np("  ingress:\n  - from: {}\n"),
            (8, 11),
            "spec.ingress[0].from",
            "expected a list of peers, found a map",
            "allows every source",
        ),
        (
            "policyTypes as a string",
            np("  policyTypes: Ingress\n"),
            (7, 16),
            "spec.policyTypes",
            "expected a list of policy types, found a string",
            "",
        ),
        (
            "podSelector as a list",
            "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: x}\nspec:\n  podSelector:\n  - matchLabels: {a: b}\n".to_string(),
            (6, 3),
            "spec.podSelector",
            "expected a map (LabelSelector), found a list",
            "remove the `- `",
        ),
        (
            "boolean label value",
            "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: x\n  labels:\n    enabled: yes\n".to_string(),
            (6, 14),
            "metadata.labels.enabled",
            "expected a string, found a boolean",
            "quote it (`\"yes\"`)",
        ),
        (
            "numeric label value",
            "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: x\n  labels: {version: 1.0}\n".to_string(),
            (5, 21),
            "metadata.labels.version",
            "expected a string, found a number",
            "quote it (`\"1.0\"`)",
        ),
        (
            "quoted endPort",
            np("  ingress:\n  - ports:\n    - port: 80\n      endPort: \"90\"\n"),
            (10, 16),
            "spec.ingress[0].ports[0].endPort",
            "expected an integer, found a string",
            "remove the quotes: `90`",
        ),
        (
            "fractional port",
            np("  ingress:\n  - ports:\n    - port: 80.5\n"),
            (9, 13),
            "spec.ingress[0].ports[0].port",
            "found a number",
            "",
        ),
        (
            "infinite port",
            np("  ingress:\n  - ports:\n    - port: .inf\n"),
            (9, 13),
            "spec.ingress[0].ports[0].port",
            "`.inf` cannot be sent to the API server",
            "finite number",
        ),
        (
            "quoted containerPort",
            "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  containers:\n  - name: c\n    ports: [{containerPort: '80'}]\n".to_string(),
            (7, 29),
            "spec.containers[0].ports[0].containerPort",
            "expected an integer, found a string",
            "remove the quotes: `80`",
        ),
        (
            "deployment without spec",
            "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: d}\n".to_string(),
            (1, 1),
            "spec",
            "missing required field `spec` in the object",
            "add `spec:`",
        ),
    ];
    for (label, text, pos, field, message, help) in &cases {
        let loaded = load_text("t.yaml", text);
        assert_eq!(
            loaded.diagnostics.len(),
            1,
            "{label}: {:#?}",
            loaded.diagnostics
        );
        let d = &loaded.diagnostics[0];
        assert!(
            loaded.objects.is_empty(),
            "{label}: an object of the wrong shape is dropped"
        );
        assert_eq!(d.code, "P105", "{label}");
        assert_eq!(
            d.span.map(|s| (s.line, s.column)),
            Some(*pos),
            "{label}: {d:#?}"
        );
        assert_eq!(d.field.as_deref(), Some(*field), "{label}");
        assert!(d.message.contains(message), "{label}: {:?}", d.message);
        assert!(
            d.help.as_deref().unwrap_or("").contains(help),
            "{label}: {:?}",
            d.help
        );
    }
}

#[test]
fn nulls_behave_as_in_go() {
    // `podSelector:` with no value is null: Go leaves the field unset, which is not an error;
    // a null label value is an empty string.
    let loaded = clean(
        "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata:\n  name: x\n  labels: {a: }\nspec:\n  podSelector:\n  ingress:\n  - from:\n",
    );
    let K8sObject::NetworkPolicy(np) = &loaded.objects[0].object else {
        panic!()
    };
    let spec = np.spec.as_ref().unwrap();
    assert_eq!(spec.pod_selector, None);
    assert_eq!(spec.ingress.as_ref().unwrap()[0].from, None);
    assert_eq!(np.metadata.labels.as_ref().unwrap()["a"], "");
}

#[test]
fn p106_retired_and_wrong_api_versions() {
    let cases: &[(&str, &str, &str, &str)] = &[
        (
            "extensions/v1beta1",
            "NetworkPolicy",
            "use `apiVersion: networking.k8s.io/v1`",
            "removed in Kubernetes 1.16",
        ),
        (
            "networking.k8s.io/v1beta1",
            "NetworkPolicy",
            "use `apiVersion: networking.k8s.io/v1`",
            "",
        ),
        (
            "apps/v1beta2",
            "Deployment",
            "use `apiVersion: apps/v1`",
            "removed in Kubernetes 1.16",
        ),
        (
            "batch/v1beta1",
            "CronJob",
            "use `apiVersion: batch/v1`",
            "removed in Kubernetes 1.25",
        ),
        ("apps/v1", "Pod", "use `apiVersion: v1`", ""),
        ("v2", "Namespace", "use `apiVersion: v1`", ""),
    ];
    for (api, kind, help, removed) in cases {
        let loaded = load_text(
            "t.yaml",
            &format!("kind: {kind}\napiVersion: {api}\nmetadata: {{name: x}}\n"),
        );
        let d = only_diag(&loaded);
        check(
            d,
            "P106",
            (2, 13),
            Some("apiVersion"),
            &format!("{kind} is not served as `{api}`"),
            help,
        );
        assert!(
            d.help.as_deref().unwrap().contains(removed),
            "{api} {kind}: {:?}",
            d.help
        );
        assert!(loaded.objects.is_empty());
    }
    // The same kind name in another API group is another resource: skipped, not an error.
    let loaded = clean(
        "apiVersion: crd.projectcalico.org/v1\nkind: NetworkPolicy\nmetadata: {name: x}\nspec: {selector: all()}\n",
    );
    assert!(loaded.objects.is_empty());
    assert_eq!(
        loaded
            .skipped
            .get("NetworkPolicy (crd.projectcalico.org/v1)"),
        Some(&1)
    );
}

#[test]
fn diagnostics_of_a_file_come_in_file_order() {
    // The unknown field (found while decoding) is before the syntax error (found while
    // parsing) in the file, and is reported first.
    let text = "apiVersion: v1\nkind: Namespace\nmetadata: {name: a}\nbogus: 1\n---\nkey: [\n";
    let loaded = load_text("t.yaml", text);
    let codes: Vec<(&str, u32)> = loaded
        .diagnostics
        .iter()
        .map(|d| (d.code, d.span.unwrap().line))
        .collect();
    assert_eq!(codes, [("P104", 4), ("P101", 7)]);
}

/// A List big enough to be decoded on several threads gives its objects in item order and
/// its findings at the right item, exactly as a short one does.
#[test]
fn a_big_list_decodes_in_order() {
    let mut text = String::from("apiVersion: v1\nkind: List\nitems:\n");
    for i in 0..1500 {
        let field = if i == 1234 { "nodeNme" } else { "nodeName" };
        text.push_str(&format!(
            "- apiVersion: v1\n  kind: Pod\n  metadata:\n    name: p{i}\n    namespace: default\n  spec:\n    {field}: n1\n    containers: [{{name: c, image: i}}]\n"
        ));
    }
    let loaded = load_text("big.yaml", &text);
    let names: Vec<String> = loaded
        .objects
        .iter()
        .map(|o| o.object.metadata().name.clone().unwrap_or_default())
        .collect();
    let want: Vec<String> = (0..1500).map(|i| format!("p{i}")).collect();
    assert_eq!(names, want);
    let d = only_diag(&loaded);
    assert_eq!(d.field.as_deref(), Some("spec.nodeNme"));
    assert_eq!(d.object.as_deref(), Some("Pod default/p1234"));
    assert_eq!(d.span.map(|s| s.line), Some(3 + 1234 * 8 + 7));
    assert_eq!(loaded.objects[1234].load_errors, 1);
}
