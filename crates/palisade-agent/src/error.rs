//! Why an agent stopped. Everything else (a broken manifest, a refused ruleset) is logged and
//! retried while the rules in force stay.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum AgentError {
    #[error("cannot use manifests directory `{}`: {source}", path.display())]
    Manifests {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    #[error("cannot watch `{}` for changes: {source}", path.display())]
    Watch {
        path: PathBuf,
        #[source]
        source: notify::Error,
    },

    #[error("cannot write ready file `{}`: {source}", path.display())]
    ReadyFile {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    #[error(transparent)]
    Dataplane(#[from] palisade_dataplane::Error),

    /// The agent could not start: no API configuration, no runtime, no signal handler.
    #[error("{0}")]
    Setup(String),
}
