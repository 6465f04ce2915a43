//! The whole front half (load -> validate -> model) and what the answering stages make of it.

use palisade_core::analyze_text;
use palisade_core::describe;
use palisade_core::reach::Reachability;
use proptest::prelude::*;

const POLICY_WITH_TYPO: &str = "\
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: deny-web, namespace: shop}
spec:
  podSelecter: {matchLabels: {app: web}}
  policyTypes: [Ingress]
";

/// Regression: an unknown field is reported, and the object must not reach the model, where the
/// missing `podSelector` would read as "every pod of the namespace".
#[test]
fn an_object_with_an_unknown_field_stays_out_of_the_model() {
    let analysis = analyze_text("typo.yaml", POLICY_WITH_TYPO);
    assert_eq!(analysis.error_count(), 1, "{:#?}", analysis.diagnostics);
    assert_eq!(analysis.diagnostics[0].code, "P104");
    assert_eq!(analysis.rejected, 1);
    assert!(analysis.cluster.policies.is_empty());
}

/// The bundled shop, both files, split into documents.
fn shop_documents() -> Vec<String> {
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/../../examples/shop/");
    let mut docs = Vec::new();
    for file in ["cluster.yaml", "policies.yaml"] {
        let text = std::fs::read_to_string(format!("{root}{file}")).expect("example exists");
        docs.extend(
            text.split("\n---")
                .map(|d| d.trim_start_matches("---").trim().to_string())
                .filter(|d| d.lines().any(|l| l.starts_with("kind:"))),
        );
    }
    docs
}

/// Every answer the engine gives about a set of manifests, as one comparable text.
fn answers(text: &str) -> String {
    let analysis = analyze_text("all.yaml", text);
    assert_eq!(analysis.error_count(), 0, "{:#?}", analysis.diagnostics);
    let reach = Reachability::compute(&analysis.cluster, &["203.0.113.50".parse().unwrap()]);
    let names = reach.endpoint_names();
    let mut out = String::new();
    for i in 0..names.len() {
        for j in 0..names.len() {
            out.push_str(&format!(
                "{} => {}: {}\n",
                names[i],
                names[j],
                reach.ports(i, j)
            ));
        }
    }
    for policy in &analysis.cluster.policies {
        out.push_str(&describe::policy(&analysis.cluster, policy));
    }
    for pod in &analysis.cluster.pods {
        out.push_str(&describe::pod(&analysis.cluster, pod));
    }
    out
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    /// Policies are additive and order never matters (NetworkPolicy concept page): any order of
    /// the documents gives the same reachability and the same explanations.
    #[test]
    fn document_order_does_not_change_any_answer(docs in Just(shop_documents()).prop_shuffle()) {
        let baseline = answers(&shop_documents().join("\n---\n"));
        prop_assert_eq!(answers(&docs.join("\n---\n")), baseline);
    }
}

#[test]
fn the_shop_has_every_kind_of_document() {
    let docs = shop_documents();
    assert!(docs.len() >= 10, "{} documents", docs.len());
}

/// `analyze_pair` reads the shared base once and copies it to both sides: each side must be
/// exactly what `analyze` makes of base + that side (files, objects, model, diagnostics),
/// with a broken document in the base and in one side.
#[test]
fn a_pair_of_sides_is_two_analyses_of_base_plus_side() {
    use palisade_core::load::Input;
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/../../examples/shop/");
    let read = |file: &str| std::fs::read_to_string(format!("{root}{file}")).expect("example");
    let text = |name: &str, text: String| Input::Text {
        name: name.to_string(),
        text,
    };
    let config_map = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c, namespace: shop}\n";
    let missing = |name: &str| Input::Path(format!("/nonexistent/{name}").into());
    let base = vec![
        text("cluster.yaml", read("cluster.yaml")),
        text("broken.yaml", format!("{POLICY_WITH_TYPO}---\nkind: [\n")),
        text("config.yaml", config_map.to_string()),
        missing("base.yaml"),
    ];
    let old = vec![text("policies.yaml", read("policies.yaml"))];
    let new = vec![
        text(
            "policies.yaml",
            read("policies.yaml").replace("8080", "8443"),
        ),
        text(
            "typo.yaml",
            POLICY_WITH_TYPO.replace("deny-web", "deny-api"),
        ),
        text("more-config.yaml", config_map.replace("name: c", "name: d")),
        missing("new.yaml"),
    ];
    let (old_side, new_side) = palisade_core::analyze_pair(&base, &old, &new);
    for (side, got) in [(&old, &old_side), (&new, &new_side)] {
        let mut inputs = base.clone();
        inputs.extend(side.iter().cloned());
        let want = palisade_core::analyze(&inputs);
        let files = |a: &palisade_core::Analysis| {
            a.sources
                .iter()
                .map(|(id, f)| format!("{id:?} {} {}", f.name, f.text.len()))
                .collect::<Vec<_>>()
        };
        assert_eq!(files(got), files(&want));
        assert_eq!(format!("{:?}", got.cluster), format!("{:?}", want.cluster));
        assert_eq!(got.diagnostics, want.diagnostics);
        assert_eq!((got.rejected, &got.read), (want.rejected, &want.read));
        assert_eq!(
            (&got.skipped, &got.io_errors),
            (&want.skipped, &want.io_errors)
        );
        assert!(!want.skipped.is_empty() && !want.io_errors.is_empty());
        assert!(
            want.rejected >= 1 && want.error_count() >= 2,
            "{:#?}",
            want.diagnostics
        );
    }
    assert_ne!(
        format!("{:?}", old_side.cluster.policies),
        format!("{:?}", new_side.cluster.policies)
    );
}
