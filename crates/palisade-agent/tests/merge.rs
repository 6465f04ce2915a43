//! The index's per-file fast path must give exactly the cluster the engine builds from the same
//! manifests (`palisade_core::analyze`), however the objects are spread over files: the lab
//! compares what the agent enforces with what the engine predicts, so they must read the same
//! cluster.

mod common;

use std::path::{Path, PathBuf};

use common::{PODS, current, policy, with_diagnostics};
use palisade_agent::index::ManifestIndex;
use palisade_core::load::Input;
use palisade_core::model::Cluster;

/// Spans say where objects were written, which differs with the file layout; everything else
/// must be equal.
fn without_spans(mut cluster: Cluster) -> Cluster {
    for ns in &mut cluster.namespaces {
        ns.span = None;
    }
    for pod in &mut cluster.pods {
        pod.span = None;
    }
    for policy in &mut cluster.policies {
        policy.span = None;
        for rules in [&mut policy.ingress, &mut policy.egress]
            .into_iter()
            .flatten()
        {
            for rule in rules {
                rule.span = None;
            }
        }
    }
    cluster
}

fn assert_same(label: &str, got: Cluster, want: Cluster) {
    let (got, want) = (without_spans(got), without_spans(want));
    assert_eq!(got.namespaces, want.namespaces, "{label}: namespaces");
    assert_eq!(got.pods, want.pods, "{label}: pods");
    assert_eq!(got.policies, want.policies, "{label}: policies");
}

/// Documents of a multi-document YAML text.
fn documents(text: &str) -> Vec<String> {
    let mut docs = vec![String::new()];
    for line in text.lines() {
        if line.trim_end() == "---" {
            docs.push(String::new());
        } else if let Some(last) = docs.last_mut() {
            last.push_str(line);
            last.push('\n');
        }
    }
    docs.retain(|d| {
        d.lines()
            .any(|l| !l.trim().is_empty() && !l.trim_start().starts_with('#'))
    });
    docs
}

fn case_dirs() -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../testdata/cases");
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(&root)
        .expect("testdata/cases")
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.is_dir())
        .collect();
    dirs.sort();
    dirs
}

#[test]
fn every_case_gives_the_engine_cluster_however_it_is_split() {
    let dirs = case_dirs();
    assert!(dirs.len() > 10, "testdata/cases found: {}", dirs.len());
    for dir in dirs {
        let reference = palisade_core::analyze(&[Input::Path(dir.clone())]);
        let mut docs = Vec::new();
        let mut names: Vec<PathBuf> = std::fs::read_dir(&dir)
            .expect("case dir")
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
            .collect();
        names.sort();
        for name in names {
            docs.extend(documents(&std::fs::read_to_string(&name).expect("read")));
        }
        // One file per document, two files round robin, everything in one file reversed.
        for (layout, files) in [1usize, 2, 0].into_iter().enumerate() {
            let mut index = ManifestIndex::new();
            let groups: Vec<String> = match files {
                0 => vec![docs.iter().rev().cloned().collect::<Vec<_>>().join("---\n")],
                1 => docs.clone(),
                n => (0..n)
                    .map(|k| {
                        docs.iter()
                            .skip(k)
                            .step_by(n)
                            .cloned()
                            .collect::<Vec<_>>()
                            .join("---\n")
                    })
                    .collect(),
            };
            for (i, text) in groups.into_iter().enumerate() {
                let _ = index.apply(Path::new(&format!("m/{i:03}.yaml")), text);
            }
            let label = format!("{} layout {layout}", dir.display());
            let fast = current(&mut index);
            assert_same(&label, fast, reference.cluster.clone());
            let (slow, _) = index.rebuilt();
            assert_same(
                &format!("{label} (rebuilt)"),
                slow,
                reference.cluster.clone(),
            );
        }
    }
}

#[test]
fn an_object_defined_in_two_files_resolves_as_the_engine_does() {
    // Different content in two files: the fast path must step aside for build_cluster's
    // ranking (by content), whatever the file order.
    let namespace = |team: &str| {
        format!(
            "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: shop\n  labels:\n    team: {team}\n"
        )
    };
    let cases = [
        ("policy", policy("db", 5432), policy("db", 6543)),
        (
            "pod",
            common::extra_pod("twin", "10.0.1.1"),
            common::extra_pod("twin", "10.0.1.2"),
        ),
        ("namespace", namespace("a"), namespace("b")),
    ];
    for (kind, one, other) in cases {
        for (first, second) in [("a", "b"), ("b", "a")] {
            let mut index = ManifestIndex::new();
            let _ = index.apply(Path::new("m/pods.yaml"), PODS.to_string());
            let _ = index.apply(Path::new(&format!("m/{first}.yaml")), one.clone());
            let _ = index.apply(Path::new(&format!("m/{second}.yaml")), other.clone());
            let all = format!("{PODS}---\n{one}---\n{other}");
            let reference = palisade_core::analyze_text("all.yaml", &all);
            let (cluster, diagnostics) = with_diagnostics(&mut index);
            assert!(
                diagnostics.iter().any(|d| d.code == "P301"),
                "{kind}: {diagnostics:?}"
            );
            assert_same(
                &format!("{kind}: {first} then {second}"),
                cluster,
                reference.cluster,
            );
        }
    }
}

#[test]
fn a_namespace_only_referenced_gets_its_automatic_label() {
    let pods = PODS.split_once("---\n").map_or(PODS, |(_, rest)| rest);
    let mut index = ManifestIndex::new();
    let _ = index.apply(Path::new("m/pods.yaml"), pods.to_string());
    let _ = index.apply(Path::new("m/np.yaml"), policy("db", 1));
    let reference =
        palisade_core::analyze_text("all.yaml", &format!("{pods}---\n{}", policy("db", 1)));
    let cluster = current(&mut index);
    assert_eq!(cluster.namespaces.len(), 1, "{:?}", cluster.namespaces);
    assert_same("referenced only", cluster, reference.cluster);
}

#[test]
fn a_namespace_declared_in_one_file_and_used_in_another_keeps_its_labels() {
    let mut index = ManifestIndex::new();
    let ns = "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: shop\n  labels:\n    team: a\n";
    let pods = PODS.split_once("---\n").map_or(PODS, |(_, rest)| rest);
    let _ = index.apply(Path::new("m/z-ns.yaml"), ns.to_string());
    let _ = index.apply(Path::new("m/a-pods.yaml"), pods.to_string());
    let cluster = current(&mut index);
    let shop = cluster
        .namespaces
        .iter()
        .find(|n| n.name == "shop")
        .expect("namespace shop");
    assert!(shop.declared, "{shop:?}");
    assert_eq!(shop.labels.get("team").map(String::as_str), Some("a"));
    assert_eq!(cluster.namespaces.len(), 1);
}

/// Long random sequences of file writes and deletes, with objects moving between files and
/// clashing now and then: after every step the in-place cluster must equal a fresh build.
#[test]
fn in_place_updates_always_equal_a_fresh_build() {
    let mut pool = Vec::new();
    for dir in case_dirs().into_iter().take(12) {
        for name in ["cluster.yaml", "policies.yaml"] {
            if let Ok(text) = std::fs::read_to_string(dir.join(name)) {
                // Namespace-qualify by case so cases do not all clash with each other.
                let case = dir
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default();
                let prefix: String = case.chars().take(3).collect();
                pool.extend(documents(&text).into_iter().map(|d| {
                    d.replace("namespace: ", &format!("namespace: c{prefix}"))
                        .replace("  name: ", &format!("  name: c{prefix}"))
                }));
            }
        }
    }
    pool.push(common::extra_pod("web", "10.0.9.9")); // clashes with PODS' shop/web
    pool.push(PODS.to_string());
    assert!(pool.len() > 40, "pool of {} documents", pool.len());

    let mut seed: u64 = 0x5eed;
    let mut next = |n: usize| {
        seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((seed >> 33) as usize) % n.max(1)
    };
    // Every node some pod of the pool runs on, each with an incremental compiler fed the
    // index's changes: it must compile what a fresh compile of the same cluster gives, so the
    // changes the index reports leave nothing out.
    let mut everything = ManifestIndex::new();
    for (i, doc) in pool.iter().enumerate() {
        let _ = everything.apply(Path::new(&format!("{i}.yaml")), doc.clone());
    }
    let (all, _) = everything.rebuilt();
    let mut nodes: Vec<String> = all.pods.iter().filter_map(|p| p.node.clone()).collect();
    nodes.sort();
    nodes.dedup();
    assert!(nodes.len() >= 2, "nodes {nodes:?}");
    let mut compilers: Vec<palisade_nft::Incremental> = nodes
        .iter()
        .map(|n| palisade_nft::Incremental::new(n.as_str(), Default::default()))
        .collect();
    let mut known_changes = 0;

    let mut index = ManifestIndex::new();
    for step in 0..400 {
        let file = format!("m/{}.yaml", next(6));
        if next(5) == 0 {
            index.delete(Path::new(&file));
        } else {
            let count = 1 + next(4);
            let docs: Vec<String> = (0..count).map(|_| pool[next(pool.len())].clone()).collect();
            let _ = index.apply(Path::new(&file), docs.join("---\n"));
        }
        let (slow, _) = index.rebuilt();
        assert_same(&format!("step {step}"), current(&mut index), slow);
        let (cluster, _, changes) = index.cluster_and_changes();
        known_changes += usize::from(changes != palisade_nft::Changes::Unknown);
        for compiler in &mut compilers {
            let want = palisade_nft::compile(cluster, compiler.node());
            let got = compiler.compile_changed(cluster, &changes);
            assert!(
                *got == want,
                "step {step} node {}: incremental compile with {changes:?} differs",
                compiler.node()
            );
        }
    }
    // Most steps swap one file in place: the changes are then known, not `Unknown`.
    assert!(
        known_changes > 200,
        "{known_changes} of 400 steps knew their changes"
    );
}
