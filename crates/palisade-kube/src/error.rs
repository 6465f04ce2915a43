//! The crate's error type: every message names the kubeconfig file, context or resource involved.

/// What went wrong talking to (or finding) a cluster.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("cannot read kubeconfig {path}: {source}")]
    Kubeconfig {
        path: String,
        #[source]
        source: kube::config::KubeconfigError,
    },
    #[error("context `{context}` is not in kubeconfig {path} (contexts there: {available})")]
    UnknownContext {
        context: String,
        path: String,
        available: String,
    },
    #[error(
        "kubeconfig {path} sets no current-context; choose one with --context (contexts there: {available})"
    )]
    NoContext { path: String, available: String },
    #[error("kubeconfig {path}, context `{context}`: {source}")]
    Config {
        path: String,
        context: String,
        #[source]
        source: kube::config::KubeconfigError,
    },
    #[error("in-cluster configuration failed: {0}")]
    InCluster(#[source] kube::config::InClusterError),
    #[error("cannot build a Kubernetes client for {name}: {source}")]
    Client {
        name: String,
        #[source]
        source: kube::Error,
    },
    #[error("listing {resource} from {name} failed: {source}")]
    List {
        resource: &'static str,
        name: String,
        #[source]
        source: kube::Error,
    },
    #[error("cannot encode the snapshot of {name}: {source}")]
    Encode {
        name: String,
        #[source]
        source: serde_json::Error,
    },
    #[error("cannot start an async runtime: {0}")]
    Runtime(#[source] std::io::Error),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
