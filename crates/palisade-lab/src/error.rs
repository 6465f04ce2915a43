//! The lab's error type: one variant per way a run can fail before it has a report.
//!
//! `Precondition` is the one a user fixes by installing something or becoming root; the CLI maps
//! it to exit code 2. Everything observed during probing (a blocked pair, a refused connection)
//! is part of the report, not an error.

use std::io;

/// What an [`crate::Enforcer`] may fail with; `anyhow::Error` converts into it.
pub type EnforcerError = Box<dyn std::error::Error + Send + Sync + 'static>;

#[derive(Debug, thiserror::Error)]
pub enum LabError {
    /// The machine cannot run the lab: not root, a tool missing, no network namespaces.
    #[error("cannot run the lab: {0}")]
    Precondition(String),
    /// The cluster or the configuration cannot be laid out (e.g. two pods with one IP).
    #[error("invalid lab setup: {0}")]
    Config(String),
    /// A kernel or tool operation failed while building or tearing down the lab.
    #[error("{what}: {message}")]
    Setup { what: String, message: String },
    /// The enforcer of a node failed to start or stop.
    #[error("enforcer on node {node}: {message}")]
    Enforcer { node: String, message: String },
    /// Ctrl-C (or SIGTERM) arrived; everything created so far was removed.
    #[error("interrupted; the lab was torn down")]
    Interrupted,
    #[error("{what}: {source}")]
    Io {
        what: String,
        #[source]
        source: io::Error,
    },
}

pub type Result<T, E = LabError> = std::result::Result<T, E>;

impl LabError {
    pub(crate) fn setup(what: impl Into<String>, message: impl Into<String>) -> LabError {
        LabError::Setup {
            what: what.into(),
            message: message.into(),
        }
    }

    pub(crate) fn io(what: impl Into<String>, source: io::Error) -> LabError {
        LabError::Io {
            what: what.into(),
            source,
        }
    }
}
