//! The engine's own synthetic cluster (`palisade_test_support::synth`), written as manifests.

use palisade_test_support::synth::{SynthParams, generate as synth};
use serde_json::{Value, json};

use super::Manifests;

pub(crate) fn generate(pods: usize) -> Manifests {
    let cluster = synth(SynthParams {
        namespaces: (pods / 200).max(5),
        pods,
        policies: pods * 3 / 10,
        seed: 1,
    });
    let list = palisade_lab::manifests::to_json(&cluster);
    let items = list["items"].as_array().cloned().unwrap_or_default();
    let (policies, base): (Vec<Value>, Vec<Value>) = items
        .into_iter()
        .partition(|item| item["kind"] == "NetworkPolicy");
    // Pretty-printed, as `kubectl get -o json` writes it (one line per field).
    let document = |items: Vec<Value>| {
        serde_json::to_string_pretty(&json!({"apiVersion": "v1", "kind": "List", "items": items}))
            .unwrap_or_default()
    };
    let node = cluster
        .pods
        .iter()
        .find_map(|p| p.node.clone())
        .unwrap_or_default();
    // A pod pair in one locked-down namespace: the first and the last pod of the first team.
    let team: Vec<_> = cluster
        .pods
        .iter()
        .filter(|p| p.namespace == cluster.pods.last().map_or("", |l| &l.namespace))
        .collect();
    let from = team.first().map(|p| p.key()).unwrap_or_default();
    let to = team.last().map(|p| p.key()).unwrap_or_default();
    Manifests {
        base: document(base),
        // One document per policy, so that a tenth can be left out for `diff`.
        policies: policies
            .into_iter()
            .map(|p| {
                format!(
                    "---\n{}\n",
                    serde_json::to_string_pretty(&p).unwrap_or_default()
                )
            })
            .collect(),
        namespaces: cluster.namespaces.len(),
        pods: cluster.pods.len(),
        node,
        from,
        to,
    }
}
