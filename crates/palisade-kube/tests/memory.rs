//! What trimming buys for the agent's whole-cluster view: 10,000 pods decoded from a recorded
//! API server pod (tests/fixtures/pods-list.json), kept full vs trimmed. Resident memory is read
//! from /proc/self/statm; this test binary runs alone, but allocator reuse makes the figure
//! approximate, so the bound is loose and the figures are printed (`--nocapture`).
//! Measured on the build machine: one recorded pod is 3.5 kB of JSON and 0.6 kB trimmed; 10,000
//! k8s-openapi pods take about 55 MiB resident trimmed and 170 MiB untrimmed.

use std::path::Path;

use k8s_openapi::api::core::v1::Pod;
use palisade_kube::trim::trim_pod;

const PODS: usize = 10_000;

fn resident_bytes() -> Option<u64> {
    let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
    let pages: u64 = statm.split_whitespace().nth(1)?.parse().ok()?;
    Some(pages * 4096)
}

fn recorded_pod() -> Pod {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/pods-list.json");
    let text = std::fs::read_to_string(&path).expect("fixture");
    let list: serde_json::Value = serde_json::from_str(&text).expect("json");
    serde_json::from_value(list["items"][1].clone()).expect("a pod")
}

fn view(trim: bool) -> Vec<Pod> {
    let template = recorded_pod();
    (0..PODS)
        .map(|i| {
            let mut pod = template.clone();
            pod.metadata.name = Some(format!("web-{i}"));
            if trim {
                trim_pod(&mut pod);
            }
            pod
        })
        .collect()
}
#[test]
fn trimmed_pods_take_a_fraction_of_the_full_ones() {
    let full_json = serde_json::to_vec(&recorded_pod()).expect("json").len();
    let mut trimmed = recorded_pod();
    trim_pod(&mut trimmed);
    let trimmed_json = serde_json::to_vec(&trimmed).expect("json").len();
    eprintln!("one recorded pod as JSON: {full_json} bytes full, {trimmed_json} trimmed");
    assert!(
        trimmed_json * 3 < full_json,
        "{trimmed_json} vs {full_json}"
    );

    let Some(start) = resident_bytes() else {
        eprintln!("no /proc/self/statm: resident figures skipped");
        return;
    };
    let kept = view(true);
    let after_trimmed = resident_bytes().unwrap_or(start);
    let trimmed_mib = after_trimmed.saturating_sub(start) as f64 / 1048576.0;
    drop(kept);
    let before_full = resident_bytes().unwrap_or(start);
    let kept = view(false);
    let after_full = resident_bytes().unwrap_or(start);
    let full_mib = after_full.saturating_sub(before_full) as f64 / 1048576.0;
    drop(kept);
    eprintln!(
        "{PODS} pods resident: about {trimmed_mib:.1} MiB trimmed, {full_mib:.1} MiB full \
         (second figure may reuse memory freed by the first)"
    );
    // Measured here: about 55 MiB trimmed vs 170 MiB full. Most of what is left is the layout of
    // k8s-openapi's structs (hundreds of mostly-None fields per pod), not data: an index that keeps
    // palisade's own model per pod instead of the k8s-openapi object needs far less.
    assert!(
        trimmed_mib < 80.0,
        "10,000 trimmed pods should stay well under the agent's 150 MiB: {trimmed_mib:.1} MiB"
    );
}
