//! What can go wrong when talking to the kernel, by cause, so callers can react (retry, fall back
//! to a full load, tell the operator to install nft) without parsing messages.

use std::fmt;

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Which kind of script nft refused; named in messages so an operator knows what was lost.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScriptKind {
    /// A whole ruleset replacing the table.
    Full,
    /// An incremental update of the table in force.
    Diff,
    /// A script loaded as given.
    Script,
}

impl fmt::Display for ScriptKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ScriptKind::Full => "full ruleset",
            ScriptKind::Diff => "ruleset update",
            ScriptKind::Script => "script",
        })
    }
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("`{program}` was not found: install nftables (the `nft` command) or give its path")]
    NftMissing { program: String },

    #[error("cannot run `{program}`: {source}")]
    Spawn {
        program: String,
        #[source]
        source: std::io::Error,
    },

    /// nft refused a script. Nothing of it reached the kernel: the table in force is unchanged.
    #[error("{}", rejected(*kind, *line, text.as_deref(), message))]
    Rejected {
        kind: ScriptKind,
        /// 1-based line of the caller's script nft complained about first; `None` when the
        /// complaint has no line or concerns what the dataplane added around the script.
        line: Option<usize>,
        /// That line, trimmed and shortened.
        text: Option<String>,
        /// nft's first complaint, e.g. `No such file or directory` or `syntax error, ...`.
        message: String,
        /// Everything nft wrote to stderr.
        stderr: String,
    },

    #[error(
        "not allowed to change nftables in this network namespace (run as root or with \
         CAP_NET_ADMIN): {message}"
    )]
    PermissionDenied { message: String },

    /// A command other than a script load failed (e.g. `nft list tables`).
    #[error("`nft {command}` failed: {message}")]
    Command { command: String, message: String },
}

fn rejected(kind: ScriptKind, line: Option<usize>, text: Option<&str>, message: &str) -> String {
    match (line, text) {
        (Some(line), Some(text)) => format!(
            "nft rejected the {kind} at line {line} (`{text}`): {message}; the table in force \
             is unchanged"
        ),
        (Some(line), None) => {
            format!(
                "nft rejected the {kind} at line {line}: {message}; the table in force is unchanged"
            )
        }
        _ => format!("nft rejected the {kind}: {message}; the table in force is unchanged"),
    }
}
