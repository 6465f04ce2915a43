//! The kernel readback on a thread of its own.
//!
//! ```text
//!   Passes ── Job{cluster} ──────────> palisade-verify thread: nft -j list ruleset (listed_at)
//!          <── Outcome{listed_at, result} ──  -> kernel::verify_owned(budget: one thread, deadline)
//! ```
//!
//! A check reads every class pair of the node; on a big cluster that takes seconds, and the
//! agent must go on enforcing changes meanwhile. The thread is started from the agent's thread,
//! so it lives in the network namespace the agent programs (a new thread inherits its
//! creator's). An outcome is only trusted if no apply started between the job and the listing:
//! the listing could be of either table then.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver, Sender, TryRecvError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use palisade_core::model::Cluster;
use palisade_dataplane::Dataplane;
use palisade_nft::kernel::{Budget, KernelRuleset, Verification};

/// One readback to do.
pub(crate) struct Job {
    /// A snapshot of the cluster the table in force was compiled from.
    pub cluster: Cluster,
    /// The longest a check may take.
    pub budget: Duration,
}

/// What a readback found.
pub(crate) struct Outcome {
    /// When the kernel's table was listed (`None`: it could not be).
    pub listed_at: Option<Instant>,
    /// `Err`: the table could not be read back.
    pub result: Result<Verification, String>,
    pub elapsed: Duration,
}

pub(crate) struct Verifier {
    jobs: Option<Sender<Job>>,
    outcomes: Receiver<Outcome>,
    cancel: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
    /// A job was sent and its outcome not yet taken.
    busy: bool,
}

impl Verifier {
    /// Starts the thread, in the calling thread's network namespace.
    pub fn start(node: String, dataplane: Dataplane) -> std::io::Result<Verifier> {
        let (jobs, job_rx) = mpsc::channel::<Job>();
        let (outcome_tx, outcomes) = mpsc::channel();
        let cancel = Arc::new(AtomicBool::new(false));
        let stop = cancel.clone();
        let thread = std::thread::Builder::new()
            .name("palisade-verify".into())
            .spawn(move || {
                for job in job_rx {
                    let started = Instant::now();
                    let (listed_at, result) = check(&node, &dataplane, job, &stop);
                    let outcome = Outcome {
                        listed_at,
                        result,
                        elapsed: started.elapsed(),
                    };
                    if outcome_tx.send(outcome).is_err() || stop.load(Ordering::Relaxed) {
                        return;
                    }
                }
            })?;
        Ok(Verifier {
            jobs: Some(jobs),
            outcomes,
            cancel,
            thread: Some(thread),
            busy: false,
        })
    }

    pub fn busy(&self) -> bool {
        self.busy
    }

    /// Sends a job; false when the thread is gone.
    pub fn send(&mut self, job: Job) -> bool {
        let sent = self.jobs.as_ref().is_some_and(|j| j.send(job).is_ok());
        self.busy |= sent;
        sent
    }

    /// The outcome of the job in flight, if it is done.
    pub fn take(&mut self) -> Option<Outcome> {
        match self.outcomes.try_recv() {
            Ok(outcome) => {
                self.busy = false;
                Some(outcome)
            }
            Err(TryRecvError::Empty) => None,
            Err(TryRecvError::Disconnected) => {
                self.busy = false;
                None
            }
        }
    }
}

impl Drop for Verifier {
    /// Cancels a check in flight (it stops within a few pairs) and waits for the thread.
    fn drop(&mut self) {
        self.cancel.store(true, Ordering::Relaxed);
        self.jobs = None;
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn check(
    node: &str,
    dataplane: &Dataplane,
    job: Job,
    cancel: &AtomicBool,
) -> (Option<Instant>, Result<Verification, String>) {
    let json = match dataplane.list_ruleset_json() {
        Ok(json) => json,
        Err(e) => return (None, Err(e.to_string())),
    };
    let listed_at = Some(Instant::now());
    let kernel = match KernelRuleset::parse(&json) {
        Ok(k) => k,
        Err(e) => return (listed_at, Err(e.to_string())),
    };
    let budget = Budget {
        until: Some(Instant::now() + job.budget),
        cancel: Some(cancel),
        // A background check leaves the other cores to the node's workloads.
        threads: 1,
    };
    // The job's snapshot is the thread's own: checked without another copy.
    let result = palisade_nft::kernel::verify_owned(job.cluster, &[], node, &kernel, budget);
    (listed_at, Ok(result))
}
