//! Which cluster to talk to: a kubeconfig file and context, or the pod's in-cluster service
//! account. Plain data, free of any argument parser, so the CLI and the agent can both fill it.

use std::path::PathBuf;

use kube::config::{KubeConfigOptions, Kubeconfig};

use crate::error::{Error, Result};

/// The environment variable the kubelet sets in every pod; its presence is how client-go and kube
/// decide that in-cluster configuration is available.
const SERVICE_HOST_ENV: &str = "KUBERNETES_SERVICE_HOST";

/// A cluster to reach, as a user names it.
///
/// - neither field set, inside a pod (`KUBERNETES_SERVICE_HOST` set): the in-cluster service
///   account;
/// - otherwise: `kubeconfig` or, when absent, the kubeconfig loading rules (`$KUBECONFIG`, a list
///   of files merged, else `~/.kube/config`), with `context` or the file's `current-context`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClusterTarget {
    pub kubeconfig: Option<PathBuf>,
    pub context: Option<String>,
}

/// A resolved target: the client configuration and a name for messages and snapshot names
/// (the kubeconfig context, or `in-cluster`).
#[derive(Debug, Clone)]
pub struct Resolved {
    pub config: kube::Config,
    pub name: String,
}

impl ClusterTarget {
    /// Resolves the target, choosing in-cluster configuration by the process environment.
    pub async fn resolve(&self) -> Result<Resolved> {
        let in_cluster = std::env::var_os(SERVICE_HOST_ENV).is_some_and(|v| !v.is_empty());
        self.resolve_with(in_cluster).await
    }

    /// [`resolve`](Self::resolve) with the in-cluster decision made by the caller (tests).
    pub async fn resolve_with(&self, in_cluster_available: bool) -> Result<Resolved> {
        if self.kubeconfig.is_none() && self.context.is_none() && in_cluster_available {
            let config = kube::Config::incluster().map_err(Error::InCluster)?;
            return Ok(Resolved {
                config,
                name: "in-cluster".to_string(),
            });
        }
        let (kubeconfig, path) = self.read_kubeconfig()?;
        let available = context_list(&kubeconfig);
        let context = match &self.context {
            Some(wanted) => {
                if !kubeconfig.contexts.iter().any(|c| &c.name == wanted) {
                    return Err(Error::UnknownContext {
                        context: wanted.clone(),
                        path,
                        available,
                    });
                }
                wanted.clone()
            }
            None => match kubeconfig.current_context.clone().filter(|c| !c.is_empty()) {
                Some(current) => current,
                None => return Err(Error::NoContext { path, available }),
            },
        };
        let options = KubeConfigOptions {
            context: Some(context.clone()),
            cluster: None,
            user: None,
        };
        let config = kube::Config::from_custom_kubeconfig(kubeconfig, &options)
            .await
            .map_err(|source| Error::Config {
                path,
                context: context.clone(),
                source,
            })?;
        Ok(Resolved {
            config,
            name: context,
        })
    }

    /// A client for the target.
    pub async fn client(&self) -> Result<kube::Client> {
        let resolved = self.resolve().await?;
        resolved.client()
    }

    fn read_kubeconfig(&self) -> Result<(Kubeconfig, String)> {
        match &self.kubeconfig {
            Some(path) => {
                let shown = path.display().to_string();
                Kubeconfig::read_from(path)
                    .map(|k| (k, shown.clone()))
                    .map_err(|source| Error::Kubeconfig {
                        path: shown,
                        source,
                    })
            }
            None => {
                let shown = default_rules_description();
                Kubeconfig::read()
                    .map(|k| (k, shown.clone()))
                    .map_err(|source| Error::Kubeconfig {
                        path: shown,
                        source,
                    })
            }
        }
    }
}

impl Resolved {
    /// A kube client without kube's built-in retry of 429/503/504 (up to 15 attempts with
    /// delays growing towards 1000 s: minutes of silence for a command line or a readiness
    /// probe). Callers retry on their own terms: the watcher's backoff, the snapshot's few tries.
    pub fn client(&self) -> Result<kube::Client> {
        let mut config = self.config.clone();
        config.default_retry = false;
        kube::Client::try_from(config).map_err(|source| Error::Client {
            name: self.name.clone(),
            source,
        })
    }
}

/// Where the default loading rules look, for error messages.
fn default_rules_description() -> String {
    match std::env::var("KUBECONFIG") {
        Ok(list) if !list.is_empty() => format!("$KUBECONFIG ({list})"),
        _ => "~/.kube/config".to_string(),
    }
}

fn context_list(kubeconfig: &Kubeconfig) -> String {
    let mut names: Vec<&str> = kubeconfig
        .contexts
        .iter()
        .map(|c| c.name.as_str())
        .collect();
    names.sort_unstable();
    if names.is_empty() {
        "none".to_string()
    } else {
        names.join(", ")
    }
}
