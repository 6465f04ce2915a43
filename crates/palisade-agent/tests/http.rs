//! The metrics server over real HTTP on 127.0.0.1, driven through the `Observer` (no root, no
//! nft): status codes and bodies of `/metrics`, `/healthz` and `/readyz` before and after the
//! agent is ready.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use palisade_agent::metrics::{ApplyKind, Pass};
use palisade_agent::{METRICS_CONTENT_TYPE, MetricsServer, Observer};

struct Reply {
    status: u16,
    content_type: String,
    body: String,
}

/// One HTTP/1.1 GET with `Connection: close`, read to the end.
fn get(address: SocketAddr, path: &str) -> Reply {
    let mut stream = TcpStream::connect(address).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\n\r\n"
    )
    .expect("send");
    let mut raw = String::new();
    stream.read_to_string(&mut raw).expect("read");
    let (head, body) = raw.split_once("\r\n\r\n").expect("header end");
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .expect("status line");
    let content_type = head
        .lines()
        .find_map(|l| {
            let (name, value) = l.split_once(':')?;
            name.eq_ignore_ascii_case("content-type")
                .then(|| value.trim().to_string())
        })
        .unwrap_or_default();
    Reply {
        status,
        content_type,
        body: body.to_string(),
    }
}

fn sample(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find_map(|line| line.strip_prefix(series)?.strip_prefix(' '))
        .and_then(|value| value.trim().parse().ok())
}

#[test]
fn endpoints_answer_before_and_after_readiness() {
    let observer = Observer::new();
    let server =
        MetricsServer::start("127.0.0.1:0".parse().expect("addr"), observer.clone()).expect("bind");
    let address = server.address();
    assert_ne!(address.port(), 0, "an actual port is reported");

    // Before the loop runs: not alive, not ready, metrics already there at zero.
    for (label, path, status, body) in [
        (
            "health, no loop",
            "/healthz",
            503,
            "agent loop not running\n",
        ),
        (
            "ready, no loop",
            "/readyz",
            503,
            "not ready: agent loop not running\n",
        ),
    ] {
        let reply = get(address, path);
        assert_eq!(
            (reply.status, reply.body.as_str()),
            (status, body),
            "{label}"
        );
    }
    let metrics = get(address, "/metrics");
    assert_eq!(metrics.status, 200);
    assert_eq!(metrics.content_type, METRICS_CONTENT_TYPE);
    assert_eq!(sample(&metrics.body, "palisade_generation"), Some(0.0));
    assert!(metrics.body.ends_with("# EOF\n"), "{}", metrics.body);

    observer.loop_started();
    let reply = get(address, "/healthz");
    assert_eq!(
        (reply.status, reply.body.as_str()),
        (200, "ok: agent loop running\n")
    );
    let reply = get(address, "/readyz");
    assert_eq!(
        (reply.status, reply.body.as_str()),
        (503, "not ready: first ruleset not applied yet\n")
    );

    observer.applied(&Pass {
        kind: Some(ApplyKind::Full),
        duration: Duration::from_millis(3),
        generation: 1,
        files: 2,
        ..Pass::default()
    });
    let reply = get(address, "/readyz");
    assert_eq!(
        (reply.status, reply.body.as_str()),
        (200, "ready: generation 1 in force\n")
    );
    let metrics = get(address, "/metrics").body;
    for (series, want) in [
        ("palisade_generation", 1.0),
        ("palisade_manifest_files", 2.0),
        ("palisade_applies_total{kind=\"full\"}", 1.0),
        ("palisade_reconcile_duration_seconds_count", 1.0),
    ] {
        assert_eq!(sample(&metrics, series), Some(want), "{series}:\n{metrics}");
    }

    // A later failure leaves the earlier rules in force: still ready, and the reason says why.
    observer.apply_failed(Duration::from_millis(1), "nft: busy", true);
    let reply = get(address, "/readyz");
    assert_eq!(
        (reply.status, reply.body.as_str()),
        (
            200,
            "ready: generation 1 in force; last apply failed: nft: busy\n"
        )
    );
    assert_eq!(
        sample(
            &get(address, "/metrics").body,
            "palisade_apply_errors_total"
        ),
        Some(1.0)
    );

    assert_eq!(get(address, "/nope").status, 404);

    observer.loop_stopped();
    assert_eq!(get(address, "/healthz").status, 503);
    assert_eq!(get(address, "/readyz").status, 503);

    drop(server);
    assert!(
        TcpStream::connect(address).is_err(),
        "the port is closed once the server is dropped"
    );
}

#[test]
fn a_busy_address_is_an_error_at_start() {
    let first =
        MetricsServer::start("127.0.0.1:0".parse().expect("addr"), Observer::new()).expect("bind");
    let again = MetricsServer::start(first.address(), Observer::new());
    assert!(again.is_err(), "second bind on {}", first.address());
}
