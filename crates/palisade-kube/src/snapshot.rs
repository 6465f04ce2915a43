//! A one-time snapshot of the cluster for the CLI's `--cluster` input: Namespaces, Pods and
//! NetworkPolicies listed once and written as ONE `kind: List` JSON text, which the existing
//! loader reads like a file named `cluster:<context>`, so diagnostics point into that text.
//!
//! Objects are trimmed like the agent's ([`crate::trim`]): no `managedFields`, no annotations,
//! pods reduced to the fields palisade reads. Items are sorted (namespaces, pods, policies; each
//! by namespace and name) so two snapshots of the same state are the same text.

use std::fmt::Debug;
use std::time::Duration;

use k8s_openapi::api::core::v1::{Namespace, Pod};
use k8s_openapi::api::networking::v1::NetworkPolicy;
use kube::api::{ListParams, ObjectList};
use kube::{Api, Resource, ResourceExt};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::error::{Error, Result};
use crate::target::{ClusterTarget, Resolved};
use crate::trim;

/// Page size of each list call: large lists are read in pages, as kubectl does (it uses 500).
const PAGE_SIZE: u32 = 500;

/// Delays between the tries of a list the API server answered 429/503/504.
const RETRY_DELAYS: [Duration; 3] = [
    Duration::from_millis(250),
    Duration::from_millis(500),
    Duration::from_secs(1),
];

/// A cluster's objects as one loader input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Snapshot {
    /// `cluster:<context>` or `cluster:in-cluster`: the file name diagnostics show.
    pub name: String,
    /// A pretty-printed JSON `List` (JSON is YAML, so the YAML loader reads it).
    pub text: String,
}

/// Resolves `target` and lists it once.
pub async fn snapshot(target: &ClusterTarget) -> Result<Snapshot> {
    let resolved = target.resolve().await?;
    snapshot_from_config(&resolved).await
}

/// [`snapshot`] for a CLI without an async runtime: runs one on the current thread.
pub fn snapshot_blocking(target: &ClusterTarget) -> Result<Snapshot> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(Error::Runtime)?;
    runtime.block_on(snapshot(target))
}

/// Lists an already resolved target.
pub async fn snapshot_from_config(target: &Resolved) -> Result<Snapshot> {
    let client = target.client()?;
    let name = format!("cluster:{}", target.name);
    let mut namespaces: Vec<Namespace> = list_all(&client, &target.name).await?;
    let mut pods: Vec<Pod> = list_all(&client, &target.name).await?;
    let mut policies: Vec<NetworkPolicy> = list_all(&client, &target.name).await?;
    namespaces.iter_mut().for_each(trim::trim_namespace);
    pods.iter_mut().for_each(trim::trim_pod);
    policies.iter_mut().for_each(trim::trim_network_policy);
    sort(&mut namespaces);
    sort(&mut pods);
    sort(&mut policies);

    let mut items = Vec::with_capacity(namespaces.len() + pods.len() + policies.len());
    push_all(&mut items, &namespaces, &name)?;
    push_all(&mut items, &pods, &name)?;
    push_all(&mut items, &policies, &name)?;
    let list = serde_json::json!({
        "apiVersion": "v1",
        "kind": "List",
        "items": items,
    });
    let text = serde_json::to_string_pretty(&list).map_err(|source| Error::Encode {
        name: name.clone(),
        source,
    })?;
    Ok(Snapshot { name, text })
}

async fn list_all<K>(client: &kube::Client, target_name: &str) -> Result<Vec<K>>
where
    K: Resource<DynamicType = ()> + Clone + DeserializeOwned + Debug,
{
    let api = Api::<K>::all(client.clone());
    let mut out = Vec::new();
    let mut params = ListParams::default().limit(PAGE_SIZE);
    loop {
        let page = list_page(&api, &params)
            .await
            .map_err(|source| Error::List {
                resource: resource_name::<K>(),
                name: target_name.to_string(),
                source,
            })?;
        out.extend(page.items);
        match page.metadata.continue_.filter(|token| !token.is_empty()) {
            Some(token) => params = params.continue_token(&token),
            None => return Ok(out),
        }
    }
}

/// One list call, retried a few times, quickly, when the API server says it is overloaded or
/// briefly unavailable (429, 503, 504); any other error is final.
async fn list_page<K>(api: &Api<K>, params: &ListParams) -> kube::Result<ObjectList<K>>
where
    K: Resource<DynamicType = ()> + Clone + DeserializeOwned + Debug,
{
    let mut delays = RETRY_DELAYS.iter();
    loop {
        match api.list(params).await {
            Err(kube::Error::Api(status)) if matches!(status.code, 429 | 503 | 504) => {
                match delays.next() {
                    Some(delay) => tokio::time::sleep(*delay).await,
                    None => return Err(kube::Error::Api(status)),
                }
            }
            other => return other,
        }
    }
}

fn resource_name<K: Resource<DynamicType = ()>>() -> &'static str {
    match K::kind(&()).as_ref() {
        "Namespace" => "namespaces",
        "Pod" => "pods",
        "NetworkPolicy" => "networkpolicies",
        _ => "objects",
    }
}

fn sort<K: ResourceExt>(objects: &mut [K]) {
    objects.sort_by_key(|o| (o.namespace(), o.name_any()));
}

fn push_all<K: Serialize>(
    items: &mut Vec<serde_json::Value>,
    objects: &[K],
    name: &str,
) -> Result<()> {
    for object in objects {
        // k8s-openapi writes apiVersion and kind for each object, which list items from the
        // API server lack; the loader needs them in a generic `List`.
        let value = serde_json::to_value(object).map_err(|source| Error::Encode {
            name: name.to_string(),
            source,
        })?;
        items.push(value);
    }
    Ok(())
}
