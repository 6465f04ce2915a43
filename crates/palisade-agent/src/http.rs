//! The metrics server: `/metrics`, `/healthz`, `/readyz` over plain HTTP/1.1.
//!
//! It runs on a thread of its own with a single-threaded tokio runtime, so the agent's loop
//! stays synchronous and a scrape never competes with a pass for the loop's thread. The socket
//! is bound by the caller, so a bad or busy address is an error at start, and the server lives
//! in the caller's network namespace.

use std::io;
use std::net::SocketAddr;
use std::thread::JoinHandle;

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use crate::metrics::{Observer, Probe};

/// What `/metrics` answers with: the format `prometheus-client` writes.
pub const METRICS_CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// A running metrics server; dropping it stops it.
#[derive(Debug)]
pub struct MetricsServer {
    address: SocketAddr,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl MetricsServer {
    /// Binds `address` (port 0 picks one; see [`MetricsServer::address`]) and serves what
    /// `observer` knows.
    pub fn start(address: SocketAddr, observer: Observer) -> io::Result<MetricsServer> {
        let listener = std::net::TcpListener::bind(address)?;
        listener.set_nonblocking(true)?;
        let address = listener.local_addr()?;
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_io()
            .build()?;
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let app = router(observer);
        let thread = std::thread::Builder::new()
            .name("palisade-metrics".into())
            .spawn(move || {
                runtime.block_on(async move {
                    let listener = match tokio::net::TcpListener::from_std(listener) {
                        Ok(listener) => listener,
                        Err(err) => {
                            tracing::error!(%err, "metrics server cannot use its socket");
                            return;
                        }
                    };
                    let server = tokio::spawn(async move {
                        if let Err(err) = axum::serve(listener, app).await {
                            tracing::error!(%err, "metrics server stopped");
                        }
                    });
                    // Stop means stop: connections still open (keep-alive scrapers) are
                    // dropped with the runtime rather than waited for.
                    let _ = stopped.await;
                    server.abort();
                });
            })?;
        tracing::info!(%address, "serving /metrics, /healthz and /readyz");
        Ok(MetricsServer {
            address,
            stop: Some(stop),
            thread: Some(thread),
        })
    }

    /// The address actually bound.
    pub fn address(&self) -> SocketAddr {
        self.address
    }
}

impl Drop for MetricsServer {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn router(observer: Observer) -> Router {
    Router::new()
        .route("/metrics", get(metrics))
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .with_state(observer)
}

async fn metrics(State(observer): State<Observer>) -> Response {
    match observer.encode() {
        Ok(text) => ([(header::CONTENT_TYPE, METRICS_CONTENT_TYPE)], text).into_response(),
        Err(_) => (StatusCode::INTERNAL_SERVER_ERROR, "cannot encode metrics\n").into_response(),
    }
}

async fn healthz(State(observer): State<Observer>) -> Response {
    probe(observer.health())
}

async fn readyz(State(observer): State<Observer>) -> Response {
    probe(observer.readiness())
}

fn probe(probe: Probe) -> Response {
    let status = if probe.ok {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (
        status,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        probe.reason + "\n",
    )
        .into_response()
}
