//! palisade-kube's health signal as the cluster loop reads it: connected or not, with the first
//! failing kind's error. Whether every kind has been listed is the loop's own business (it waits
//! for each `InitDone`), so `synced` is left out here. Shared by the CLI and the end-to-end tests
//! so that both exercise the same mapping.

use futures::Stream;
use tokio::sync::watch;

use crate::cluster::ApiHealth;

/// One kube health value in the loop's terms.
pub fn api_health(health: &palisade_kube::ApiHealth) -> ApiHealth {
    if health.connected() {
        return ApiHealth::ok();
    }
    match health.last_error() {
        Some((kind, error)) => ApiHealth::down(format!("{}: {error}", kind.resource())),
        None => ApiHealth::down("API server unreachable"),
    }
}

/// The current value, then one per change; ends when the sender (the watches) is dropped.
pub fn health_stream(
    rx: watch::Receiver<palisade_kube::ApiHealth>,
) -> impl Stream<Item = ApiHealth> {
    futures::stream::unfold((rx, true), |(mut rx, first)| async move {
        if !first {
            rx.changed().await.ok()?;
        }
        let mapped = api_health(&rx.borrow_and_update());
        Some((mapped, (rx, false)))
    })
}

#[cfg(test)]
mod tests {
    use palisade_kube::ResourceKind;

    use super::*;

    #[test]
    fn connected_is_ok_and_a_failing_kind_names_itself() {
        let mut health = palisade_kube::ApiHealth::default();
        assert!(!api_health(&health).ok, "nothing connected yet");
        assert_eq!(api_health(&health).reason, "API server unreachable");
        for kind in health.kinds.values_mut() {
            kind.connected = true;
        }
        assert!(api_health(&health).ok);
        if let Some(pods) = health.kinds.get_mut(&ResourceKind::Pods) {
            pods.connected = false;
            pods.last_error = Some("GET /api/v1/pods: HTTP 500".into());
        }
        let down = api_health(&health);
        assert!(!down.ok);
        assert_eq!(down.reason, "pods: GET /api/v1/pods: HTTP 500");
    }
}
