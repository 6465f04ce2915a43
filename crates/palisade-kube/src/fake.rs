//! A fake Kubernetes API server for tests (cargo feature `fake-api`): it replays recorded
//! responses on 127.0.0.1 so that kube's real client, watcher and this crate's code run end to end
//! without a cluster.
//!
//! It serves the three cluster-wide collections palisade uses (`/api/v1/namespaces`,
//! `/api/v1/pods`, `/apis/networking.k8s.io/v1/networkpolicies`); a request with `watch=true` is a
//! watch, any other a list. Per kind, tests queue replies:
//! - lists: served in order, the last one again once the queue is empty (relists see it);
//! - watches: served in order; a `Watch` reply streams its newline-delimited `WatchEvent`s and
//!   then closes, hangs open (as a quiet API server does) or aborts the connection; once the queue
//!   is empty a watch hangs open with no events. `BOOKMARK` events are sent only when the request
//!   has `allowWatchBookmarks=true`, as the API server does. [`FakeApiServer::push_event`] sends more events
//!   to the watches that are open, [`FakeApiServer::drop_watches`] cuts them.
//! - [`FakeApiServer::set_failing`] answers every request with an error status until cleared.
//!
//! Every request is recorded ([`FakeApiServer::requests`]) so tests can assert what the client
//! asked for (resourceVersion, allowWatchBookmarks, relists).

use std::collections::{BTreeMap, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{Method, StatusCode, Uri};
use axum::response::Response;
use futures::channel::mpsc;

use crate::health::ResourceKind;
use crate::target::Resolved;

type Chunk = Result<Bytes, std::io::Error>;

/// A recorded reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reply {
    /// A JSON body with this HTTP status: a `...List`, or a `Status` for an error.
    Json { status: u16, body: String },
    /// A watch response: HTTP 200, these events (one JSON `WatchEvent` each), then `end`.
    Watch { events: Vec<String>, end: WatchEnd },
}

/// How a watch response ends after its recorded events.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WatchEnd {
    /// The server closes the stream cleanly, as at the end of `timeoutSeconds`.
    Close,
    /// The stream stays open; [`FakeApiServer::push_event`] can add events.
    Hang,
    /// The connection is cut mid-stream.
    Abort,
}

impl Reply {
    /// A 200 list response.
    pub fn list(body: impl Into<String>) -> Reply {
        Reply::Json {
            status: 200,
            body: body.into(),
        }
    }

    /// A watch response from newline-delimited JSON text (blank lines ignored).
    pub fn watch(ndjson: &str, end: WatchEnd) -> Reply {
        Reply::Watch {
            events: ndjson
                .lines()
                .map(str::trim)
                .filter(|l| !l.is_empty())
                .map(str::to_string)
                .collect(),
            end,
        }
    }

    /// An error answer with a `Status` body as the API server writes it.
    pub fn status(code: u16, reason: &str, message: &str) -> Reply {
        Reply::Json {
            status: code,
            body: status_body(code, reason, message),
        }
    }
}

/// The `Status` object the API server returns with an error
/// (<https://kubernetes.io/docs/reference/kubernetes-api/common-definitions/status/>).
pub fn status_body(code: u16, reason: &str, message: &str) -> String {
    serde_json::json!({
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": message,
        "reason": reason,
        "code": code,
    })
    .to_string()
}

/// A list response body for `items`, as the API server writes it: `<Kind>List` with
/// `metadata.resourceVersion`. For tests that build objects instead of loading fixtures.
pub fn list_body<K>(items: &[K], resource_version: &str) -> String
where
    K: kube::Resource<DynamicType = ()> + serde::Serialize,
{
    serde_json::json!({
        "kind": format!("{}List", K::kind(&())),
        "apiVersion": K::api_version(&()),
        "metadata": { "resourceVersion": resource_version },
        "items": items,
    })
    .to_string()
}

/// One watch event line (`ADDED`, `MODIFIED`, `DELETED`) for `object`, stamped with
/// `resource_version`: kube's watcher rejects an event object without one, as a real API server
/// never sends it.
pub fn watch_event<K>(event_type: &str, object: &K, resource_version: &str) -> String
where
    K: kube::Resource + Clone + serde::Serialize,
{
    let mut object = object.clone();
    object.meta_mut().resource_version = Some(resource_version.to_string());
    serde_json::json!({ "type": event_type, "object": object }).to_string()
}

/// One request as the fake server saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordedRequest {
    pub method: String,
    /// The collection asked for; `None` for any other path (answered 404).
    pub kind: Option<ResourceKind>,
    pub watch: bool,
    pub path: String,
    /// Query parameters, undecoded (`resourceVersion`, `allowWatchBookmarks`, `limit`, ...).
    pub query: BTreeMap<String, String>,
}

#[derive(Debug, Default)]
struct Script {
    lists: BTreeMap<ResourceKind, VecDeque<Reply>>,
    last_list: BTreeMap<ResourceKind, Reply>,
    watches: BTreeMap<ResourceKind, VecDeque<Reply>>,
    open: BTreeMap<ResourceKind, Vec<mpsc::UnboundedSender<Chunk>>>,
    failing: Option<u16>,
    requests: Vec<RecordedRequest>,
}

#[derive(Debug, Default)]
struct Shared {
    script: Mutex<Script>,
}

impl Shared {
    /// A panic in a test thread must not hide every later assertion behind a poisoned lock.
    fn lock(&self) -> MutexGuard<'_, Script> {
        self.script.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// The running fake server; stops when dropped.
#[derive(Debug)]
pub struct FakeApiServer {
    addr: SocketAddr,
    shared: Arc<Shared>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for FakeApiServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl FakeApiServer {
    /// Binds 127.0.0.1 on a free port and serves on the current tokio runtime.
    pub async fn start() -> std::io::Result<FakeApiServer> {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0)).await?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(Shared::default());
        let app = Router::new()
            .fallback(handle)
            .with_state(Arc::clone(&shared));
        let task = tokio::spawn(async move {
            if let Err(error) = axum::serve(listener, app).await {
                tracing::error!(%error, "fake API server stopped");
            }
        });
        Ok(FakeApiServer { addr, shared, task })
    }

    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// A client configuration pointing at this server, named `fake`.
    pub fn resolved(&self) -> Resolved {
        let uri = self
            .url()
            .parse()
            .unwrap_or_else(|_| Uri::from_static("http://127.0.0.1"));
        Resolved {
            config: kube::Config::new(uri),
            name: "fake".to_string(),
        }
    }

    /// A kubeconfig whose context `context` (the current one) points at this server.
    pub fn kubeconfig_yaml(&self, context: &str) -> String {
        format!(
            "apiVersion: v1\nkind: Config\ncurrent-context: {context}\nclusters:\n- name: fake\n  \
             cluster:\n    server: {url}\ncontexts:\n- name: {context}\n  context:\n    cluster: fake\n    \
             user: nobody\nusers:\n- name: nobody\n  user: {{}}\n",
            url = self.url()
        )
    }

    /// Queues a reply to the next list of `kind`.
    pub fn on_list(&self, kind: ResourceKind, reply: Reply) {
        self.shared
            .lock()
            .lists
            .entry(kind)
            .or_default()
            .push_back(reply);
    }

    /// Queues a reply to the next watch of `kind`.
    pub fn on_watch(&self, kind: ResourceKind, reply: Reply) {
        self.shared
            .lock()
            .watches
            .entry(kind)
            .or_default()
            .push_back(reply);
    }

    /// Sends one `WatchEvent` line to every open watch of `kind`; returns how many got it.
    pub fn push_event(&self, kind: ResourceKind, event: &str) -> usize {
        let line = Bytes::from(format!("{}\n", event.trim()));
        let mut script = self.shared.lock();
        let open = script.open.entry(kind).or_default();
        open.retain(|sender| sender.unbounded_send(Ok(line.clone())).is_ok());
        open.len()
    }

    /// How many watches of `kind` are open now.
    pub fn open_watches(&self, kind: ResourceKind) -> usize {
        let mut script = self.shared.lock();
        let open = script.open.entry(kind).or_default();
        open.retain(|sender| !sender.is_closed());
        open.len()
    }

    /// Cuts every open watch connection mid-stream.
    pub fn drop_watches(&self) {
        let mut script = self.shared.lock();
        for (_, senders) in std::mem::take(&mut script.open) {
            for sender in senders {
                let cut = std::io::Error::other("connection cut by the fake API server");
                let _ = sender.unbounded_send(Err(cut));
            }
        }
    }

    /// While `Some(code)`, every request is answered with that status (e.g. 500, 503).
    pub fn set_failing(&self, code: Option<u16>) {
        self.shared.lock().failing = code;
    }

    /// Every request so far, in arrival order.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.shared.lock().requests.clone()
    }
}

fn kind_of(path: &str) -> Option<ResourceKind> {
    match path.trim_end_matches('/') {
        "/api/v1/namespaces" => Some(ResourceKind::Namespaces),
        "/api/v1/pods" => Some(ResourceKind::Pods),
        "/apis/networking.k8s.io/v1/networkpolicies" => Some(ResourceKind::NetworkPolicies),
        _ => None,
    }
}

fn parse_query(query: Option<&str>) -> BTreeMap<String, String> {
    query
        .unwrap_or_default()
        .split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| match pair.split_once('=') {
            Some((k, v)) => (k.to_string(), v.to_string()),
            None => (pair.to_string(), String::new()),
        })
        .collect()
}

async fn handle(State(shared): State<Arc<Shared>>, method: Method, uri: Uri) -> Response {
    let query = parse_query(uri.query());
    let watch = matches!(query.get("watch").map(String::as_str), Some("true" | "1"));
    let bookmarks = matches!(
        query.get("allowWatchBookmarks").map(String::as_str),
        Some("true" | "1")
    );
    let kind = kind_of(uri.path());
    let mut script = shared.lock();
    script.requests.push(RecordedRequest {
        method: method.to_string(),
        kind,
        watch,
        path: uri.path().to_string(),
        query,
    });
    if let Some(code) = script.failing {
        return json_response(
            code,
            status_body(
                code,
                "InternalError",
                "recorded failure of the fake API server",
            ),
        );
    }
    let Some(kind) = kind else {
        return json_response(
            404,
            status_body(
                404,
                "NotFound",
                "the server could not find the requested resource",
            ),
        );
    };
    if watch {
        let reply = script
            .watches
            .get_mut(&kind)
            .and_then(VecDeque::pop_front)
            .unwrap_or(Reply::Watch {
                events: Vec::new(),
                end: WatchEnd::Hang,
            });
        return match reply {
            Reply::Json { status, body } => json_response(status, body),
            Reply::Watch { events, end } => {
                let (sender, receiver) = mpsc::unbounded();
                // Like the API server, send BOOKMARK events only to clients that asked for them.
                for event in events.iter().filter(|e| bookmarks || !is_bookmark(e)) {
                    let _ = sender.unbounded_send(Ok(Bytes::from(format!("{event}\n"))));
                }
                match end {
                    WatchEnd::Close => drop(sender),
                    WatchEnd::Hang => script.open.entry(kind).or_default().push(sender),
                    WatchEnd::Abort => {
                        let cut = std::io::Error::other("connection cut by the fake API server");
                        let _ = sender.unbounded_send(Err(cut));
                    }
                }
                Response::builder()
                    .status(StatusCode::OK)
                    .header("content-type", "application/json")
                    .body(Body::from_stream(receiver))
                    .unwrap_or_else(|_| Response::new(Body::empty()))
            }
        };
    }
    let next = script.lists.get_mut(&kind).and_then(VecDeque::pop_front);
    let reply = match next {
        Some(reply) => {
            script.last_list.insert(kind, reply.clone());
            Some(reply)
        }
        None => script.last_list.get(&kind).cloned(),
    };
    match reply {
        Some(Reply::Json { status, body }) => json_response(status, body),
        Some(Reply::Watch { .. }) | None => json_response(
            500,
            status_body(500, "InternalError", &format!("no recorded list of {kind}")),
        ),
    }
}

fn is_bookmark(event: &str) -> bool {
    serde_json::from_str::<serde_json::Value>(event)
        .is_ok_and(|v| v.get("type").and_then(|t| t.as_str()) == Some("BOOKMARK"))
}

fn json_response(status: u16, body: String) -> Response {
    Response::builder()
        .status(StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR))
        .header("content-type", "application/json")
        .body(Body::from(body))
        .unwrap_or_else(|_| Response::new(Body::empty()))
}
