//! Stopping the agent: a handle anyone can trigger (a signal thread, a test, the lab), waking the
//! agent's loop through the same channel that carries file events, so a stop request is seen at
//! once even while the agent sleeps until its next resync.

use std::sync::mpsc::{self, Receiver, Sender};

/// A message to the agent's loop.
#[derive(Debug)]
pub(crate) enum Msg {
    Fs(notify::Result<notify::Event>),
    Stop,
}

/// Asks a running agent to stop; cheap to clone.
#[derive(Debug, Clone)]
pub struct ShutdownHandle {
    tx: Sender<Msg>,
}

impl ShutdownHandle {
    /// Asks the agent to finish its current pass and return. Harmless if it already has.
    pub fn shutdown(&self) {
        let _ = self.tx.send(Msg::Stop);
    }
}

/// The agent's side of [`channel`]: give it to `run_local`.
#[derive(Debug)]
pub struct Shutdown {
    pub(crate) tx: Sender<Msg>,
    pub(crate) rx: Receiver<Msg>,
}

impl Shutdown {
    /// Blocks until a stop is asked (for a process that has nothing else to do meanwhile).
    pub fn wait(self) {
        while let Ok(msg) = self.rx.recv() {
            if matches!(msg, Msg::Stop) {
                return;
            }
        }
    }
}

/// A stop handle and the matching receiver for one agent.
pub fn channel() -> (ShutdownHandle, Shutdown) {
    let (tx, rx) = mpsc::channel();
    (ShutdownHandle { tx: tx.clone() }, Shutdown { tx, rx })
}

/// Turns SIGTERM and SIGINT into `handle.shutdown()`. A second signal exits the process at
/// once (rules stay in the kernel either way), for an agent that is stuck.
pub fn on_signals(handle: ShutdownHandle) -> std::io::Result<()> {
    use signal_hook::consts::{SIGINT, SIGTERM};
    let mut signals = signal_hook::iterator::Signals::new([SIGTERM, SIGINT])?;
    std::thread::Builder::new()
        .name("palisade-signals".into())
        .spawn(move || {
            let mut seen = false;
            for signal in signals.forever() {
                if seen {
                    tracing::warn!(signal, "second signal: exiting now");
                    std::process::exit(128 + signal);
                }
                seen = true;
                tracing::info!(signal, "signal received: stopping");
                handle.shutdown();
            }
        })?;
    Ok(())
}

/// For the Kubernetes driver, which waits on a future rather than a channel: completes at the
/// first SIGTERM or SIGINT; a second signal exits the process at once (rules stay in force).
pub fn signals_future() -> std::io::Result<impl std::future::Future<Output = ()>> {
    use signal_hook::consts::{SIGINT, SIGTERM};
    let mut signals = signal_hook::iterator::Signals::new([SIGTERM, SIGINT])?;
    let (tx, rx) = futures::channel::oneshot::channel::<()>();
    std::thread::Builder::new()
        .name("palisade-signals".into())
        .spawn(move || {
            let mut tx = Some(tx);
            for signal in signals.forever() {
                match tx.take() {
                    Some(tx) => {
                        tracing::info!(signal, "signal received: stopping");
                        let _ = tx.send(());
                    }
                    None => {
                        tracing::warn!(signal, "second signal: exiting now");
                        std::process::exit(128 + signal);
                    }
                }
            }
        })?;
    Ok(async move {
        // A dropped sender (the thread died) also stops the agent: better than never stopping.
        let _ = rx.await;
    })
}
