//! The manifest index and directory scan without a kernel: which objects are in force after a
//! file is added, replaced, broken, fixed or deleted.

mod common;

use std::path::Path;

use common::{PODS, current, extra_pod, policy, with_diagnostics};
use palisade_agent::index::{FileOutcome, FileStatus, ManifestIndex};
use palisade_agent::scan;
use palisade_core::eval::{Endpoint, Probe, evaluate};
use palisade_core::model::{Cluster, Protocol};

fn pod_names(cluster: &Cluster) -> Vec<String> {
    cluster.pods.iter().map(|p| p.key()).collect()
}

fn policy_names(cluster: &Cluster) -> Vec<String> {
    cluster.policies.iter().map(|p| p.key()).collect()
}

/// May `from` open TCP `port` on `to`? Uses the engine, so "the policy stays" means its effect
/// stays, not just its name.
fn allowed(cluster: &Cluster, from: &str, to: &str, port: u16) -> bool {
    let index = |key: &str| {
        cluster
            .pods
            .iter()
            .position(|p| p.key() == key)
            .unwrap_or_else(|| panic!("pod {key} in cluster"))
    };
    evaluate(
        cluster,
        Endpoint::Pod(index(from)),
        Endpoint::Pod(index(to)),
        Probe {
            protocol: Protocol::Tcp,
            port,
        },
    )
    .allowed
}

fn loaded(index: &mut ManifestIndex, path: &str, text: &str) {
    match index.apply(Path::new(path), text.to_string()) {
        FileOutcome::Updated { .. } => {}
        other => panic!("{path}: expected the file to load, got {other:?}"),
    }
}

#[test]
fn files_add_replace_and_remove_their_objects() {
    let mut index = ManifestIndex::new();
    loaded(&mut index, "m/pods.yaml", PODS);
    loaded(&mut index, "m/np.yaml", &policy("db", 5432));
    let (cluster, diagnostics) = with_diagnostics(&mut index);
    assert!(diagnostics.is_empty(), "{diagnostics:?}");
    assert_eq!(pod_names(&cluster), ["shop/cache", "shop/db", "shop/web"]);
    assert_eq!(policy_names(&cluster), ["shop/db"]);
    // NetworkPolicy: an isolated pod admits only what a rule allows
    // (https://kubernetes.io/docs/concepts/services-networking/network-policies/#isolated-and-non-isolated-pods).
    assert!(allowed(&cluster, "shop/web", "shop/db", 5432));
    assert!(!allowed(&cluster, "shop/cache", "shop/db", 5432));
    assert!(!allowed(&cluster, "shop/web", "shop/db", 6543));

    loaded(&mut index, "m/np.yaml", &policy("db", 6543));
    let cluster = current(&mut index);
    assert!(
        !allowed(&cluster, "shop/web", "shop/db", 5432),
        "old port gone"
    );
    assert!(
        allowed(&cluster, "shop/web", "shop/db", 6543),
        "new port in force"
    );

    assert!(index.delete(Path::new("m/np.yaml")));
    let cluster = current(&mut index);
    assert!(cluster.policies.is_empty());
    assert!(
        allowed(&cluster, "shop/cache", "shop/db", 5432),
        "no policy, no isolation"
    );
    assert!(!index.delete(Path::new("m/np.yaml")), "already gone");
}

#[test]
fn a_broken_file_keeps_its_previous_good_objects() {
    let broken: &[(&str, String)] = &[
        (
            "YAML syntax error",
            policy("db", 5432).replace("  podSelector:", "  podSelector: ["),
        ),
        ("port out of range (validation)", policy("db", 0)),
        (
            "unknown field (strict decoding)",
            policy("db", 5432).replace("policyTypes", "policyTipes"),
        ),
        (
            "truncated mid-object",
            policy("db", 5432)[..120].to_string(),
        ),
        (
            "one good and one bad document",
            format!(
                "{}---\n{}",
                extra_pod("extra", "10.0.1.99"),
                policy("db", 70000)
            ),
        ),
    ];
    for (label, text) in broken {
        let mut index = ManifestIndex::new();
        loaded(&mut index, "m/pods.yaml", PODS);
        loaded(&mut index, "m/np.yaml", &policy("db", 5432));
        let before = current(&mut index);
        let revision = index.revision();

        match index.apply(Path::new("m/np.yaml"), text.clone()) {
            FileOutcome::Rejected { diagnostics } => {
                assert!(
                    diagnostics.first().is_some_and(|d| d.is_error()),
                    "{label}: errors first"
                );
            }
            other => panic!("{label}: expected rejection, got {other:?}"),
        }
        assert!(
            matches!(
                index.status(Path::new("m/np.yaml")),
                Some(FileStatus::Rejected {
                    errors: 1..,
                    kept: 1
                })
            ),
            "{label}: {:?}",
            index.status(Path::new("m/np.yaml"))
        );
        assert_eq!(
            index.revision(),
            revision,
            "{label}: nothing in force changed"
        );
        let after = current(&mut index);
        assert_eq!(
            after.policies, before.policies,
            "{label}: policy kept as it was"
        );
        assert_eq!(
            pod_names(&after),
            pod_names(&before),
            "{label}: no object of the bad file added"
        );
        assert!(
            !allowed(&after, "shop/cache", "shop/db", 5432),
            "{label}: no hole opened"
        );
        assert!(allowed(&after, "shop/web", "shop/db", 5432), "{label}");

        // Fixing the file puts the new version in force.
        loaded(&mut index, "m/np.yaml", &policy("db", 6543));
        let fixed = current(&mut index);
        assert!(
            allowed(&fixed, "shop/web", "shop/db", 6543),
            "{label}: fix applied"
        );
    }
}

#[test]
fn a_file_that_was_never_good_contributes_nothing() {
    let mut index = ManifestIndex::new();
    loaded(&mut index, "m/pods.yaml", PODS);
    let outcome = index.apply(Path::new("m/np.yaml"), policy("db", 0));
    assert!(
        matches!(outcome, FileOutcome::Rejected { .. }),
        "{outcome:?}"
    );
    assert_eq!(
        index.status(Path::new("m/np.yaml")),
        Some(&FileStatus::Rejected { errors: 1, kept: 0 })
    );
    assert!(current(&mut index).policies.is_empty());
    assert_eq!(index.rejected(), 1);
}

#[test]
fn the_same_text_is_not_parsed_again() {
    let mut index = ManifestIndex::new();
    loaded(&mut index, "m/pods.yaml", PODS);
    let revision = index.revision();
    assert!(matches!(
        index.apply(Path::new("m/pods.yaml"), PODS.to_string()),
        FileOutcome::Unchanged
    ));
    assert_eq!(index.revision(), revision);
    // A rejected text is not reported twice either.
    let _ = index.apply(Path::new("m/np.yaml"), policy("db", 0));
    assert!(matches!(
        index.apply(Path::new("m/np.yaml"), policy("db", 0)),
        FileOutcome::Unchanged
    ));
}

#[test]
fn an_unreadable_file_keeps_its_objects_and_is_read_again() {
    let mut index = ManifestIndex::new();
    loaded(&mut index, "m/pods.yaml", PODS);
    index.unreadable(Path::new("m/pods.yaml"));
    assert_eq!(
        index.status(Path::new("m/pods.yaml")),
        Some(&FileStatus::Unreadable { kept: 4 })
    );
    assert_eq!(current(&mut index).pods.len(), 3);
    // Readable again with the same text: parsed (and in force) again.
    assert!(matches!(
        index.apply(Path::new("m/pods.yaml"), PODS.to_string()),
        FileOutcome::Updated { .. }
    ));
    assert_eq!(index.rejected(), 0);
}

#[test]
fn an_object_defined_in_two_files_is_reported_and_one_wins() {
    let mut index = ManifestIndex::new();
    loaded(&mut index, "m/pods.yaml", PODS);
    loaded(&mut index, "m/a.yaml", &policy("db", 5432));
    loaded(&mut index, "m/b.yaml", &policy("db", 5432));
    let (cluster, diagnostics) = with_diagnostics(&mut index);
    assert_eq!(policy_names(&cluster), ["shop/db"]);
    assert!(
        diagnostics.iter().any(|d| d.code == "P301"),
        "duplicate reported: {diagnostics:?}"
    );
}

#[test]
fn scanning_a_directory_follows_its_files() {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path();
    let write = |name: &str, text: &str| {
        let path = root.join(name);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).expect("mkdir");
        }
        std::fs::write(path, text).expect("write");
    };
    write("pods.yaml", PODS);
    write("sub/np.yml", &policy("db", 5432));
    write(".hidden.yaml", &policy("hidden", 1));
    write(".hidden-dir/np.yaml", &policy("hidden-dir", 1));
    write("notes.txt", &policy("txt", 1));
    write("np.yaml.swp", &policy("swp", 1));

    let mut index = ManifestIndex::new();
    let report = scan::scan(root, &mut index).expect("scan");
    assert_eq!((report.files, report.updated), (2, 2), "{report:?}");
    assert_eq!(
        policy_names(&current(&mut index)),
        ["shop/db"],
        "hidden and non-manifest files skipped"
    );

    // Nothing changed: nothing updated.
    let report = scan::scan(root, &mut index).expect("scan");
    assert_eq!(report.updated, 0, "{report:?}");

    write("sub/np.yml", &policy("db", 0));
    let report = scan::scan(root, &mut index).expect("scan");
    assert_eq!(report.rejected, 1, "{report:?}");
    assert_eq!(
        policy_names(&current(&mut index)),
        ["shop/db"],
        "bad edit keeps the policy"
    );

    std::fs::remove_file(root.join("sub/np.yml")).expect("rm");
    let report = scan::scan(root, &mut index).expect("scan");
    assert_eq!(report.removed, 1, "{report:?}");
    assert!(
        current(&mut index).policies.is_empty(),
        "deleted file withdraws its objects"
    );

    write(
        "extra.json",
        r#"{"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "j", "namespace": "shop"}, "spec": {"nodeName": "node-a", "containers": [{"name": "c", "image": "x"}]}}"#,
    );
    scan::scan(root, &mut index).expect("scan");
    assert!(
        pod_names(&current(&mut index)).contains(&"shop/j".to_string()),
        "json read"
    );
}

#[test]
fn a_missing_directory_changes_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path().join("m");
    std::fs::create_dir(&root).expect("mkdir");
    std::fs::write(root.join("np.yaml"), policy("db", 5432)).expect("write");
    let mut index = ManifestIndex::new();
    scan::scan(&root, &mut index).expect("scan");
    std::fs::remove_dir_all(&root).expect("rm");
    assert!(scan::scan(&root, &mut index).is_err());
    assert_eq!(
        policy_names(&current(&mut index)),
        ["shop/db"],
        "outage is not deletion"
    );
}
