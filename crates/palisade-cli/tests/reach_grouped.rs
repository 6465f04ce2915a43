//! `palisade reach --group-by workload` agrees with the per-pod answer: a workload cell is `.`
//! exactly when every member pod pair is allowed, `X` when none is, `~` otherwise.

mod common;

use std::collections::BTreeMap;

use common::{palisade, workspace};
use palisade_core::analyze;
use palisade_core::load::Input;
use palisade_core::reach::workload_name;
use serde_json::Value;

const FIXTURE: &str = "crates/palisade-cli/tests/fixtures/workloads";

#[test]
fn workload_cells_summarise_the_pod_cells() {
    let analysis = analyze(&[Input::Path(workspace().join(FIXTURE))]);
    let workload_of: BTreeMap<String, String> = analysis
        .cluster
        .pods
        .iter()
        .map(|p| (p.key(), workload_name(p)))
        .collect();
    let probes = ["tcp/80", "tcp/5432"];

    let (code, pods, stderr) = palisade(&[
        "reach", "--format", "json", "--probe", probes[0], "--probe", probes[1], FIXTURE,
    ]);
    assert_eq!(code, 0, "{stderr}");
    let pods: Value = serde_json::from_str(&pods).expect("pod json");
    let (code, groups, stderr) = palisade(&[
        "reach",
        "--group-by",
        "workload",
        "--format",
        "json",
        "--probe",
        probes[0],
        "--probe",
        probes[1],
        FIXTURE,
    ]);
    assert_eq!(code, 0, "{stderr}");
    let groups: Value = serde_json::from_str(&groups).expect("group json");

    let endpoints: Vec<&str> = pods["endpoints"]
        .as_array()
        .expect("endpoints")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    // The grouped answer's cell per (from, to, probe); absent edges mean nothing allowed.
    let mut cells: BTreeMap<(String, String, String), String> = BTreeMap::new();
    for edge in groups["edges"].as_array().expect("edges") {
        for p in edge["probes"].as_array().expect("probes") {
            cells.insert(
                (
                    edge["from"].as_str().expect("from").to_string(),
                    edge["to"].as_str().expect("to").to_string(),
                    p["probe"].as_str().expect("probe").to_string(),
                ),
                p["cell"].as_str().expect("cell").to_string(),
            );
        }
    }
    let mut checked = 0;
    for (n, probe) in probes.iter().enumerate() {
        let matrix = &pods["probes"][n]["allowed"];
        // Member pairs per workload pair: (allowed, total), distinct pods only.
        let mut tally: BTreeMap<(String, String), (usize, usize)> = BTreeMap::new();
        for (i, from) in endpoints.iter().enumerate() {
            for (j, to) in endpoints.iter().enumerate() {
                if i == j {
                    continue;
                }
                let entry = tally
                    .entry((workload_of[*from].clone(), workload_of[*to].clone()))
                    .or_default();
                entry.1 += 1;
                if matrix[i][j].as_bool().expect("cell") {
                    entry.0 += 1;
                }
            }
        }
        for ((from, to), (allowed, total)) in tally {
            let expected = if allowed == total {
                "."
            } else if allowed == 0 {
                "X"
            } else {
                "~"
            };
            let got = cells
                .get(&(from.clone(), to.clone(), probe.to_string()))
                .map(String::as_str)
                .unwrap_or("X");
            assert_eq!(
                got, expected,
                "{from} -> {to} on {probe}: {allowed}/{total} pod pairs"
            );
            checked += 1;
        }
    }
    assert!(checked >= 6, "only {checked} workload pairs compared");
}
