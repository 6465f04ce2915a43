//! `--cluster` input end to end: the real `palisade` binary reads a live cluster through
//! kube's client from a fake API server replaying list responses (no API server can run where
//! palisade is tested), and must answer exactly as it does from the same objects in files.

mod common;

use std::io::Write;

use common::{palisade, workspace};
use k8s_openapi::api::core::v1::{Namespace, Pod};
use k8s_openapi::api::networking::v1::NetworkPolicy;
use palisade_core::load::{self, Input, K8sObject};
use palisade_kube::ResourceKind;
use palisade_kube::fake::{FakeApiServer, Reply, list_body};

/// The example's objects in k8s-openapi types, as the API server would list them.
struct Objects {
    namespaces: Vec<Namespace>,
    pods: Vec<Pod>,
    policies: Vec<NetworkPolicy>,
}

fn objects_of(paths: &[&str]) -> Objects {
    let inputs: Vec<Input> = paths
        .iter()
        .map(|p| Input::Path(workspace().join(p)))
        .collect();
    let loaded = load::load(&inputs);
    assert!(loaded.diagnostics.is_empty(), "{:?}", loaded.diagnostics);
    let mut objects = Objects {
        namespaces: Vec::new(),
        pods: Vec::new(),
        policies: Vec::new(),
    };
    for o in loaded.objects {
        match o.object {
            K8sObject::Namespace(n) => objects.namespaces.push(n),
            K8sObject::Pod(p) => objects.pods.push(p),
            K8sObject::NetworkPolicy(p) => objects.policies.push(p),
            K8sObject::Workload { .. } => panic!("the fixture has only pods"),
        }
    }
    objects
}

/// A fake API server and a kubeconfig file pointing at it. Each list is answered once, so
/// `serve` queues one set of lists per palisade run.
struct Cluster {
    runtime: tokio::runtime::Runtime,
    server: FakeApiServer,
    kubeconfig: tempfile::NamedTempFile,
}

impl Cluster {
    fn start() -> Cluster {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .expect("runtime");
        let server = runtime
            .block_on(FakeApiServer::start())
            .expect("fake API server");
        let mut kubeconfig = tempfile::NamedTempFile::new().expect("kubeconfig");
        kubeconfig
            .write_all(server.kubeconfig_yaml("shop-test").as_bytes())
            .expect("write kubeconfig");
        Cluster {
            runtime,
            server,
            kubeconfig,
        }
    }

    fn serve(&self, objects: &Objects) {
        let _guard = self.runtime.enter();
        self.server.on_list(
            ResourceKind::Namespaces,
            Reply::list(list_body(&objects.namespaces, "100")),
        );
        self.server.on_list(
            ResourceKind::Pods,
            Reply::list(list_body(&objects.pods, "100")),
        );
        self.server.on_list(
            ResourceKind::NetworkPolicies,
            Reply::list(list_body(&objects.policies, "100")),
        );
    }

    fn kubeconfig(&self) -> String {
        self.kubeconfig.path().display().to_string()
    }
}

const SHOP: [&str; 2] = ["examples/shop/cluster.yaml", "examples/shop/policies.yaml"];

#[test]
fn reach_from_the_cluster_equals_reach_from_the_files() {
    let cluster = Cluster::start();
    cluster.serve(&objects_of(&SHOP));
    let kubeconfig = cluster.kubeconfig();
    let probes = [
        "--probe", "tcp/8080", "--probe", "tcp/5432", "--probe", "udp/53",
    ];
    let mut live = vec![
        "reach",
        "--format",
        "json",
        "--cluster",
        "--kubeconfig",
        &kubeconfig,
    ];
    live.extend(probes);
    let (code, from_cluster, stderr) = palisade(&live);
    assert_eq!(code, 0, "{stderr}");
    let mut files = vec!["reach", "--format", "json"];
    files.extend(probes);
    files.extend(SHOP);
    let (code, from_files, stderr) = palisade(&files);
    assert_eq!(code, 0, "{stderr}");
    assert!(
        from_cluster.contains("production/frontend"),
        "{from_cluster}"
    );
    assert_eq!(from_cluster, from_files);
}

#[test]
fn check_from_the_cluster_points_into_the_snapshot() {
    let cluster = Cluster::start();
    cluster.serve(&objects_of(&SHOP));
    let kubeconfig = cluster.kubeconfig();
    let (code, stdout, stderr) = palisade(&[
        "check",
        "--format",
        "json",
        "--cluster",
        "--kubeconfig",
        &kubeconfig,
    ]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    // The shop's namespaces without a default deny are reported (L001), at a line of the
    // snapshot text named after the kubeconfig context.
    assert!(stdout.contains("\"L001\""), "{stdout}");
    assert!(stdout.contains("cluster:shop-test"), "{stdout}");
}

#[test]
fn diff_against_the_cluster_fails_ci_on_a_widening_change() {
    let cluster = Cluster::start();
    let kubeconfig = cluster.kubeconfig();
    // The change replaces the shop's policies with a version that also lets the frontend
    // reach postgres (same names: it is applied over the cluster, not added beside it).
    let change = "testdata/diff/shop-frontend-to-postgres";
    cluster.serve(&objects_of(&SHOP));
    let (code, stdout, stderr) = palisade(&[
        "diff",
        "--fail-on",
        "widen",
        "--cluster",
        "--kubeconfig",
        &kubeconfig,
        change,
    ]);
    assert_eq!(code, 1, "{stdout}{stderr}");
    assert!(stdout.contains("production/postgres"), "{stdout}");
    assert!(stdout.contains("TCP 5432"), "{stdout}");
    assert!(
        !stderr.contains("P301"),
        "a replaced object is not a duplicate: {stderr}"
    );

    // The same change through stdin (`helm template ... | palisade diff --cluster -`).
    cluster.serve(&objects_of(&SHOP));
    let text = std::fs::read_to_string(workspace().join(change).join("policies.yaml"))
        .expect("read the change");
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_palisade"))
        .args([
            "diff",
            "--fail-on",
            "widen",
            "--cluster",
            "--kubeconfig",
            &kubeconfig,
            "-",
        ])
        .current_dir(workspace())
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("run palisade");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(text.as_bytes())
        .expect("write the change");
    let out = child.wait_with_output().expect("palisade");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(
        stdout.contains("+ from production/frontend (1 pod): TCP 5432"),
        "{stdout}"
    );

    // The cluster against itself: nothing gained, exit 0.
    cluster.serve(&objects_of(&SHOP));
    let (code, stdout, stderr) = palisade(&[
        "diff",
        "--fail-on",
        "widen",
        "--cluster",
        "--kubeconfig",
        &kubeconfig,
        "examples/shop/policies.yaml",
    ]);
    assert_eq!(code, 0, "{stdout}{stderr}");
}

#[test]
fn an_unreachable_cluster_is_a_usage_error() {
    let mut kubeconfig = tempfile::NamedTempFile::new().expect("kubeconfig");
    // Port 9 on loopback: nothing listens (discard), the connection is refused at once.
    kubeconfig
        .write_all(
            b"apiVersion: v1\nkind: Config\ncurrent-context: gone\nclusters:\n- name: gone\n  \
              cluster:\n    server: http://127.0.0.1:9\ncontexts:\n- name: gone\n  context:\n    \
              cluster: gone\n    user: nobody\nusers:\n- name: nobody\n  user: {}\n",
        )
        .expect("write");
    let path = kubeconfig.path().display().to_string();
    let (code, _, stderr) = palisade(&["reach", "--cluster", "--kubeconfig", &path]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("cannot read the cluster"), "{stderr}");
}
