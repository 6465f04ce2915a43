//! Rate limiting of drop events: the first drop of a flow in each interval is told in full,
//! the rest of that interval is counted and told as one summary when the interval ends.
//!
//! ```text
//!   admit(flow, now):  new flow in this window, under max_flows -> Emit
//!                      seen flow, or over max_flows             -> counted (Suppressed)
//!   end of window:     Summary { per flow: suppressed count, overflow: drops of flows not shown }
//! ```
//!
//! A flow is direction + source + destination + protocol + port, so a port scan shows as
//! many flows and is capped by `max_flows`; a retrying client shows as one event per window.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::time::{Duration, Instant};

use palisade_core::model::Direction;

/// What identifies a flow of drops.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct FlowKey {
    pub direction: Direction,
    pub src: IpAddr,
    pub dst: IpAddr,
    pub protocol: u8,
    pub port: Option<u16>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admit {
    /// Tell this drop in full.
    Emit,
    /// Count it for the summary.
    Suppressed,
}

/// What the window that just ended held beyond its full events.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Summary {
    /// Flows with drops after their first, and how many.
    pub repeats: Vec<(FlowKey, u64)>,
    /// Drops of flows not told at all because the window had `max_flows` already.
    pub overflow_drops: u64,
    pub overflow_flows: u64,
    pub window: Duration,
}

impl Summary {
    pub fn is_empty(&self) -> bool {
        self.repeats.is_empty() && self.overflow_drops == 0
    }
}

#[derive(Debug)]
pub struct Limiter {
    interval: Duration,
    max_flows: usize,
    window_start: Instant,
    /// Flows told in this window, with drops counted after the first.
    told: BTreeMap<FlowKey, u64>,
    /// Flows not told in this window, with their drops.
    untold: BTreeMap<FlowKey, u64>,
}

impl Limiter {
    pub fn new(interval: Duration, max_flows: usize, now: Instant) -> Limiter {
        Limiter {
            interval,
            max_flows,
            window_start: now,
            told: BTreeMap::new(),
            untold: BTreeMap::new(),
        }
    }

    pub fn admit(&mut self, key: FlowKey, _now: Instant) -> Admit {
        if let Some(n) = self.told.get_mut(&key) {
            *n += 1;
            return Admit::Suppressed;
        }
        if self.told.len() < self.max_flows {
            self.told.insert(key, 0);
            return Admit::Emit;
        }
        *self.untold.entry(key).or_default() += 1;
        Admit::Suppressed
    }

    /// Ends the window if its interval has passed; `None` while it runs.
    pub fn flush(&mut self, now: Instant) -> Option<Summary> {
        let window = now.saturating_duration_since(self.window_start);
        if window < self.interval {
            return None;
        }
        self.window_start = now;
        let told = std::mem::take(&mut self.told);
        let untold = std::mem::take(&mut self.untold);
        Some(Summary {
            repeats: told.into_iter().filter(|(_, n)| *n > 0).collect(),
            overflow_drops: untold.values().sum(),
            overflow_flows: untold.len() as u64,
            window,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn flow(port: u16) -> FlowKey {
        FlowKey {
            direction: Direction::Ingress,
            src: "10.0.1.1".parse().unwrap_or(IpAddr::from([0, 0, 0, 0])),
            dst: "10.0.1.2".parse().unwrap_or(IpAddr::from([0, 0, 0, 0])),
            protocol: 6,
            port: Some(port),
        }
    }

    #[test]
    fn first_drop_per_flow_and_window_then_a_summary() {
        let t0 = Instant::now();
        let mut l = Limiter::new(Duration::from_secs(10), 2, t0);
        let admitted: Vec<Admit> = [80, 80, 80, 443, 22, 22, 8080]
            .into_iter()
            .map(|p| l.admit(flow(p), t0))
            .collect();
        use Admit::*;
        assert_eq!(
            admitted,
            [
                Emit, Suppressed, Suppressed, Emit, Suppressed, Suppressed, Suppressed
            ],
            "the third flow is over max_flows"
        );
        assert_eq!(
            l.flush(t0 + Duration::from_secs(9)),
            None,
            "window still open"
        );
        let summary = l.flush(t0 + Duration::from_secs(10)).expect("window over");
        assert_eq!(summary.repeats, [(flow(80), 2)]);
        assert_eq!((summary.overflow_drops, summary.overflow_flows), (3, 2));
        // A new window tells each flow again.
        assert_eq!(l.admit(flow(22), t0 + Duration::from_secs(11)), Emit);
        let quiet = l.flush(t0 + Duration::from_secs(21)).expect("window over");
        assert!(quiet.is_empty());
    }
}
