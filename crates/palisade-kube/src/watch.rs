//! Watch streams for the agent: one kube watcher per kind over the whole cluster, with kube's
//! default backoff, watch bookmarks, and relist on 410 Gone; errors go to the health signal and
//! the log, the streams carry only events.
//!
//! The recovery is kube's watcher (kube-runtime `watcher.rs`): an initial list (`Init`,
//! `InitApply` per object, `InitDone`), then a watch from the list's resourceVersion; a watch that
//! ends is resumed from the last seen resourceVersion (bookmarks keep it fresh on quiet kinds); an
//! `ERROR` event with code 410 ("too old resource version", the API server no longer has that
//! history) restarts with a new list, so the consumer sees a fresh `Init ... InitDone` and must
//! treat objects missing from it as deleted
//! (<https://kubernetes.io/docs/reference/using-api/api-concepts/#efficient-detection-of-changes>).

use std::fmt::Debug;
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use futures::stream::BoxStream;
use k8s_openapi::api::core::v1::{Namespace, Pod};
use k8s_openapi::api::networking::v1::NetworkPolicy;
use kube::Resource;
use kube::client::ClientBuilder;
use kube::runtime::WatchStreamExt;
use kube::runtime::utils::Backoff as KubeBackoff;
use kube::runtime::watcher::{self, DefaultBackoff, Event};
use serde::de::DeserializeOwned;
use tokio::sync::watch;

use crate::error::{Error, Result};
use crate::health::{ApiHealth, ObserveLayer, Reporter, ResourceKind};
use crate::target::Resolved;
use crate::trim;

/// How the watches behave.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WatchOptions {
    /// Trim objects to what palisade reads ([`crate::trim`]) before handing them on.
    pub trim: bool,
    /// The delay after an error before the next list/watch call.
    pub backoff: Backoff,
}

impl Default for WatchOptions {
    fn default() -> Self {
        WatchOptions {
            trim: true,
            backoff: Backoff::Default,
        }
    }
}

/// The retry delay after a failed list/watch call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backoff {
    /// kube's default, modelled on client-go's reflector: exponential from 0.8 s to 30 s with
    /// jitter, reset after 120 s without errors.
    Default,
    /// A fixed delay (tests).
    Fixed(Duration),
}

/// The three event streams and the health signal. Each stream runs as long as it is polled and
/// never ends on its own: errors are retried after the backoff.
pub struct ClusterWatch {
    pub namespaces: BoxStream<'static, Event<Namespace>>,
    pub pods: BoxStream<'static, Event<Pod>>,
    pub network_policies: BoxStream<'static, Event<NetworkPolicy>>,
    pub health: watch::Receiver<ApiHealth>,
}

impl std::fmt::Debug for ClusterWatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClusterWatch")
            .field("health", &*self.health.borrow())
            .finish_non_exhaustive()
    }
}

/// Starts nothing yet: builds one client per kind (each with its own health observer) and the
/// lazy watch streams; requests are made as the streams are polled.
///
/// Async because kube's client spawns its request buffer on the current tokio runtime.
pub async fn watch_cluster(target: &Resolved, options: &WatchOptions) -> Result<ClusterWatch> {
    let (sender, health) = watch::channel(ApiHealth::default());
    let sender = Arc::new(sender);
    let trim = options.trim;
    let namespaces = kind_stream::<Namespace>(
        target,
        options,
        Reporter::new(Arc::clone(&sender), ResourceKind::Namespaces),
        move |ns| {
            if trim {
                trim::trim_namespace(ns);
            }
        },
    )?;
    let pods = kind_stream::<Pod>(
        target,
        options,
        Reporter::new(Arc::clone(&sender), ResourceKind::Pods),
        move |pod| {
            if trim {
                trim::trim_pod(pod);
            }
        },
    )?;
    let network_policies = kind_stream::<NetworkPolicy>(
        target,
        options,
        Reporter::new(Arc::clone(&sender), ResourceKind::NetworkPolicies),
        move |policy| {
            if trim {
                trim::trim_network_policy(policy);
            }
        },
    )?;
    Ok(ClusterWatch {
        namespaces,
        pods,
        network_policies,
        health,
    })
}

fn kind_stream<K>(
    target: &Resolved,
    options: &WatchOptions,
    reporter: Reporter,
    trim: impl Fn(&mut K) + Send + Sync + 'static,
) -> Result<BoxStream<'static, Event<K>>>
where
    K: Resource<DynamicType = ()> + Clone + DeserializeOwned + Debug + Send + Sync + 'static,
{
    // kube's client retries 429/503/504 itself, up to 15 times with delays growing towards
    // 1000 s, below any layer added here: the health signal would not see an outage for minutes.
    // The watcher's own backoff retries instead, and every failure reaches the health signal.
    let mut config = target.config.clone();
    config.default_retry = false;
    let client = ClientBuilder::try_from(config)
        .map_err(|source| Error::Client {
            name: target.name.clone(),
            source,
        })?
        .with_layer(&ObserveLayer::new(reporter.clone()))
        .build();
    let api = kube::Api::<K>::all(client);
    // watcher::Config::default(): bookmarks on, list-then-watch, no selectors (the whole cluster).
    let watch_config = watcher::Config::default();
    let span = tracing::info_span!("watch", kind = %reporter.kind());
    let events = watcher::watcher(api, watch_config)
        .backoff(options.backoff.build())
        .filter_map(move |result| {
            let _entered = span.enter();
            let out = match result {
                Ok(event) => {
                    match &event {
                        // Init is emitted before the list request is made: no evidence yet.
                        Event::Init => {}
                        Event::InitDone => reporter.success(true),
                        Event::InitApply(_) | Event::Apply(_) | Event::Delete(_) => {
                            reporter.success(false)
                        }
                    }
                    Some(event.modify(|object| trim(object)))
                }
                Err(error) => {
                    reporter.failure(error_chain(&error));
                    None
                }
            };
            futures::future::ready(out)
        });
    Ok(events.boxed())
}

impl Backoff {
    fn build(self) -> EitherBackoff {
        match self {
            Backoff::Default => EitherBackoff::Default(Box::default()),
            Backoff::Fixed(delay) => EitherBackoff::Fixed(delay),
        }
    }
}

/// One concrete type for both choices, as kube's `StreamBackoff` is generic over it.
enum EitherBackoff {
    Default(Box<DefaultBackoff>),
    Fixed(Duration),
}

impl Iterator for EitherBackoff {
    type Item = Duration;

    fn next(&mut self) -> Option<Duration> {
        match self {
            EitherBackoff::Default(b) => b.next(),
            EitherBackoff::Fixed(delay) => Some(*delay),
        }
    }
}

impl KubeBackoff for EitherBackoff {
    fn reset(&mut self) {
        if let EitherBackoff::Default(b) = self {
            b.reset();
        }
    }
}

/// The error with its causes, so the log line says why (e.g. the HTTP status of a failed list).
fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}
