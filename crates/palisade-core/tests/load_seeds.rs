//! The YAML examples of the user guides (testdata/load/README.md): the good ones load with no
//! diagnostic, the broken ones are rejected at the line that is wrong.

use std::path::PathBuf;

use palisade_core::load::{Input, K8sObject, Loaded, load};

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("testdata/load")
        .join(name)
}

fn load_fixture(name: &str) -> Loaded {
    let loaded = load(&[Input::Path(fixture(name))]);
    assert!(loaded.io_errors.is_empty(), "{:#?}", loaded.io_errors);
    loaded
}

#[test]
fn every_guide_example_loads_cleanly() {
    let loaded = load_fixture("seeds");
    let problems: Vec<String> = loaded
        .diagnostics
        .iter()
        .map(|d| {
            let file = d
                .span
                .map(|s| loaded.sources.get(s.file).name.clone())
                .unwrap_or_default();
            format!("{file}: {} {}", d.code, d.message)
        })
        .collect();
    assert!(problems.is_empty(), "{problems:#?}");
    assert_eq!(loaded.sources.len(), 20, "one source per fixture file");
    // Every example is a NetworkPolicy; the multi-document files hold several.
    assert_eq!(loaded.objects.len(), 25);
    assert!(
        loaded
            .objects
            .iter()
            .all(|o| matches!(o.object, K8sObject::NetworkPolicy(_)))
    );
    let names: Vec<String> = loaded.objects.iter().map(|o| o.describe()).collect();
    for expected in [
        "NetworkPolicy production/postgres-lockdown",
        "NetworkPolicy production/web-tier-policy",
        "NetworkPolicy default/or-logic",
        "NetworkPolicy team-a/namespace-isolation",
    ] {
        assert!(
            names.iter().any(|n| n == expected),
            "{expected} missing from {names:#?}"
        );
    }
}

#[test]
fn three_tier_example_with_to_empty_map_is_rejected_at_each_to() {
    let loaded = load_fixture("three-tier-to-empty-map.yaml");
    let found: Vec<(u32, u32, &str, Option<&str>)> = loaded
        .diagnostics
        .iter()
        .map(|d| {
            (
                d.span.unwrap().line,
                d.span.unwrap().column,
                d.code,
                d.object.as_deref(),
            )
        })
        .collect();
    assert_eq!(
        found,
        [
            (
                27,
                11,
                "P105",
                Some("NetworkPolicy production/frontend-policy")
            ),
            (
                61,
                11,
                "P105",
                Some("NetworkPolicy production/backend-policy")
            ),
        ]
    );
    for d in &loaded.diagnostics {
        assert_eq!(d.field.as_deref(), Some("spec.egress[1].to"));
        assert!(
            d.message.contains("expected a list of peers, found a map"),
            "{}",
            d.message
        );
        assert!(
            d.help.as_deref().unwrap().contains("`to: []`"),
            "{:?}",
            d.help
        );
    }
    // The third policy of the file is fine and still loads.
    assert_eq!(loaded.objects.len(), 1);
    assert_eq!(
        loaded.objects[0].describe(),
        "NetworkPolicy production/database-policy"
    );
}

#[test]
fn html_mangled_example_is_a_syntax_error_at_the_first_html_line() {
    let loaded = load_fixture("html-mangled-deny-all.yaml");
    assert!(loaded.objects.is_empty());
    assert_eq!(loaded.diagnostics.len(), 1, "{:#?}", loaded.diagnostics);
    let d = &loaded.diagnostics[0];
    assert_eq!(
        (d.code, d.span.unwrap().line, d.span.unwrap().column),
        ("P101", 9, 1)
    );
    assert!(
        d.message
            .contains("`<ul class=\"list-disc pl-6 mb-4 space-y-2\">` is HTML markup"),
        "{}",
        d.message
    );
    assert!(
        d.help.as_deref().unwrap().contains("web page"),
        "{:?}",
        d.help
    );
}

#[test]
fn prose_pasted_after_a_manifest_is_an_unknown_field_at_its_line() {
    let loaded = load_fixture("prose-after-manifest.yaml");
    assert_eq!(loaded.diagnostics.len(), 1, "{:#?}", loaded.diagnostics);
    let d = &loaded.diagnostics[0];
    assert_eq!(
        (d.code, d.span.unwrap().line, d.span.unwrap().column),
        ("P104", 11, 1)
    );
    assert_eq!(d.field.as_deref(), Some("Recommended Pattern"));
}

#[test]
fn a_snippet_of_a_policy_is_not_an_object() {
    let loaded = load_fixture("selector-fragment.yaml");
    assert_eq!(loaded.diagnostics.len(), 1, "{:#?}", loaded.diagnostics);
    let d = &loaded.diagnostics[0];
    assert_eq!((d.code, d.span.unwrap().line), ("P103", 2));
    assert!(d.message.contains("missing `apiVersion` and `kind`"));
}
