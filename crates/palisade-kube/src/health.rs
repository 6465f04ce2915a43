//! The API health signal: per watched kind, whether the last list/watch exchange with the API
//! server worked, whether a full list has ever completed, and the last error.
//!
//! Two observers feed it, because neither alone sees everything:
//! - an HTTP layer under each kind's client ([`ObserveLayer`]): a 2xx answer to a list or watch
//!   request means connected (a re-established watch on a quiet cluster carries no event that
//!   would tell), any other status or a transport error means disconnected;
//! - the watcher's own results: an error (a failed list, a watch stream cut mid-way, an `ERROR`
//!   watch event such as 410 Gone) means disconnected; an object event means connected, and the
//!   end of an initial list (`InitDone`) means synced.
//!
//! The agent turns [`ApiHealth::ready`] into `/readyz`: while the API server is unreachable the
//! last state stays enforced, but the node reports that it may be stale.

use std::collections::BTreeMap;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::SystemTime;

use tokio::sync::watch;

/// The resource kinds palisade watches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ResourceKind {
    Namespaces,
    Pods,
    NetworkPolicies,
}

impl ResourceKind {
    pub const ALL: [ResourceKind; 3] = [
        ResourceKind::Namespaces,
        ResourceKind::Pods,
        ResourceKind::NetworkPolicies,
    ];

    /// The resource name as RBAC and the API paths spell it.
    pub fn resource(self) -> &'static str {
        match self {
            ResourceKind::Namespaces => "namespaces",
            ResourceKind::Pods => "pods",
            ResourceKind::NetworkPolicies => "networkpolicies",
        }
    }
}

impl fmt::Display for ResourceKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.resource())
    }
}

/// The health of one kind's list/watch.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KindHealth {
    /// The last list/watch exchange succeeded (false until the first one does).
    pub connected: bool,
    /// A full list has completed at least once. Stays true through later relists: the agent keeps
    /// its last view while it relists.
    pub synced: bool,
    /// The most recent error, kept after recovery for logs and status pages.
    pub last_error: Option<String>,
    /// When the last successful answer or event arrived.
    pub last_success: Option<SystemTime>,
    /// How many errors were seen in all.
    pub failures: u64,
}

/// The health of all watched kinds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiHealth {
    pub kinds: BTreeMap<ResourceKind, KindHealth>,
}

impl Default for ApiHealth {
    fn default() -> Self {
        ApiHealth {
            kinds: ResourceKind::ALL
                .iter()
                .map(|k| (*k, KindHealth::default()))
                .collect(),
        }
    }
}

impl ApiHealth {
    /// Every kind's last exchange with the API server succeeded.
    pub fn connected(&self) -> bool {
        self.kinds.values().all(|k| k.connected)
    }

    /// Every kind has been listed in full at least once.
    pub fn synced(&self) -> bool {
        self.kinds.values().all(|k| k.synced)
    }

    /// Synced and connected: what a readiness probe should report.
    pub fn ready(&self) -> bool {
        self.connected() && self.synced()
    }

    /// The first disconnected kind's error, else none.
    pub fn last_error(&self) -> Option<(ResourceKind, &str)> {
        self.kinds
            .iter()
            .filter(|(_, h)| !h.connected)
            .find_map(|(kind, h)| h.last_error.as_deref().map(|e| (*kind, e)))
    }

    /// The oldest of the kinds' last successes: how fresh the whole view is at worst.
    pub fn last_success(&self) -> Option<SystemTime> {
        self.kinds
            .values()
            .map(|k| k.last_success)
            .collect::<Option<Vec<_>>>()
            .and_then(|times| times.into_iter().min())
    }

    /// Total errors over all kinds.
    pub fn failures(&self) -> u64 {
        self.kinds.values().map(|k| k.failures).sum()
    }
}

/// The writing side for one kind. Receivers are woken only when `connected`, `synced` or the
/// error changes, not on every event.
#[derive(Debug, Clone)]
pub(crate) struct Reporter {
    sender: Arc<watch::Sender<ApiHealth>>,
    kind: ResourceKind,
}

impl Reporter {
    pub(crate) fn new(sender: Arc<watch::Sender<ApiHealth>>, kind: ResourceKind) -> Self {
        Reporter { sender, kind }
    }

    pub(crate) fn kind(&self) -> ResourceKind {
        self.kind
    }

    pub(crate) fn success(&self, synced: bool) {
        let kind = self.kind;
        self.sender.send_if_modified(|health| {
            let entry = health.kinds.entry(kind).or_default();
            entry.last_success = Some(SystemTime::now());
            let changed = !entry.connected || (synced && !entry.synced);
            entry.connected = true;
            entry.synced |= synced;
            if changed {
                tracing::info!(kind = %kind, synced = entry.synced, "API server reachable");
            }
            changed
        });
    }

    pub(crate) fn failure(&self, error: String) {
        let kind = self.kind;
        tracing::warn!(kind = %kind, error = %error, "API server list/watch failed");
        self.sender.send_modify(|health| {
            let entry = health.kinds.entry(kind).or_default();
            entry.connected = false;
            entry.last_error = Some(error);
            entry.failures += 1;
        });
    }
}

/// A tower layer that reports each HTTP exchange of one kind's client to its [`Reporter`].
#[derive(Debug, Clone)]
pub(crate) struct ObserveLayer {
    reporter: Reporter,
}

impl ObserveLayer {
    pub(crate) fn new(reporter: Reporter) -> Self {
        ObserveLayer { reporter }
    }
}

impl<S> tower::Layer<S> for ObserveLayer {
    type Service = Observe<S>;

    fn layer(&self, inner: S) -> Self::Service {
        Observe {
            inner,
            reporter: self.reporter.clone(),
        }
    }
}

#[derive(Debug, Clone)]
pub(crate) struct Observe<S> {
    inner: S,
    reporter: Reporter,
}

impl<S, Req, Body> tower::Service<http::Request<Req>> for Observe<S>
where
    S: tower::Service<http::Request<Req>, Response = http::Response<Body>>,
    S::Future: Send + 'static,
    S::Error: fmt::Display,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Self::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<Req>) -> Self::Future {
        let what = format!("{} {}", request.method(), request.uri().path());
        let reporter = self.reporter.clone();
        let future = self.inner.call(request);
        Box::pin(async move {
            let result = future.await;
            match &result {
                Ok(response) if response.status().is_success() => reporter.success(false),
                Ok(response) => reporter.failure(format!("{what}: HTTP {}", response.status())),
                Err(error) => reporter.failure(format!("{what}: {error}")),
            }
            result
        })
    }
}
