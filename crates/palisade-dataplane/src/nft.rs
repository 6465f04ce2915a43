//! Running the `nft` command and reading its complaints.
//!
//! One script = one `nft -f -` process: nft sends everything a file says as a single netlink
//! batch, which the kernel commits or refuses as a whole. That, not anything in this crate, is
//! what makes each change atomic.

use std::io::{ErrorKind, Write};
use std::path::Path;
use std::process::{Command, Stdio};

use crate::error::{Error, Result};

/// What one nft process said.
#[derive(Debug)]
pub(crate) struct Output {
    pub success: bool,
    pub stdout: String,
    pub stderr: String,
}

/// Runs `program args...`, feeding `stdin` if given.
pub(crate) fn run(program: &Path, args: &[&str], stdin: Option<&str>) -> Result<Output> {
    let mut command = Command::new(program);
    command
        .args(args)
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = command
        .spawn()
        .map_err(|source| spawn_error(program, source))?;
    let pipe = child.stdin.take();
    // Write from a second thread: a large script must not deadlock against nft filling the
    // stderr pipe with complaints before it has read all of its input.
    let output = std::thread::scope(|scope| {
        if let (Some(mut pipe), Some(text)) = (pipe, stdin) {
            scope.spawn(move || {
                // nft may exit before reading everything (a usage error): its stderr says why,
                // so a broken pipe here adds nothing.
                let _ = pipe.write_all(text.as_bytes());
            });
        }
        child.wait_with_output()
    })
    .map_err(|source| spawn_error(program, source))?;
    Ok(Output {
        success: output.status.success(),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    })
}

fn spawn_error(program: &Path, source: std::io::Error) -> Error {
    let program = program.display().to_string();
    if source.kind() == ErrorKind::NotFound {
        Error::NftMissing { program }
    } else {
        Error::Spawn { program, source }
    }
}

/// nft's first complaint: `/dev/stdin:4:21-27: Error: No such file or directory`, or a bare
/// `Error: ...` when it has no place.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Complaint {
    pub line: Option<usize>,
    pub message: String,
}

pub(crate) fn first_complaint(stderr: &str) -> Option<Complaint> {
    stderr.lines().find_map(|line| {
        if let Some(message) = line.strip_prefix("Error: ") {
            return Some(Complaint {
                line: None,
                message: message.trim().to_string(),
            });
        }
        let (location, message) = line.split_once(": Error: ")?;
        // `name:LINE:COLUMNS`; the name may itself contain colons, so read from the right.
        let mut parts = location.rsplitn(3, ':');
        let _columns = parts.next()?;
        let line = parts.next()?.parse::<usize>().ok()?;
        parts.next()?;
        Some(Complaint {
            line: Some(line),
            message: message.trim().to_string(),
        })
    })
}

/// Permission problems look the same for every command; recognise them once.
pub(crate) fn is_permission_denied(stderr: &str) -> bool {
    stderr.contains("Operation not permitted")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn complaints_are_read_from_nft_stderr() {
        // Shapes copied from nft 1.0.6 runs of `nft -f -` on broken input.
        let cases: &[(&str, &str, Option<Complaint>)] = &[
            (
                "kernel refusal with a place",
                "/dev/stdin:4:21-27: Error: No such file or directory\n chain c { ip daddr @nosuch drop; }\n                    ^^^^^^^\n",
                Some(Complaint {
                    line: Some(4),
                    message: "No such file or directory".into(),
                }),
            ),
            (
                "syntax error, first of two complaints wins",
                "/dev/stdin:2:15-18: Error: syntax error, unexpected string\n x\n/dev/stdin:4:1-1: Error: syntax error, unexpected end of file\n",
                Some(Complaint {
                    line: Some(2),
                    message: "syntax error, unexpected string".into(),
                }),
            ),
            (
                "single column",
                "/dev/stdin:6:40-40: Error: syntax error, unexpected '}'\n",
                Some(Complaint {
                    line: Some(6),
                    message: "syntax error, unexpected '}'".into(),
                }),
            ),
            (
                "no place",
                "Error: Could not process rule: Operation not permitted\n",
                Some(Complaint {
                    line: None,
                    message: "Could not process rule: Operation not permitted".into(),
                }),
            ),
            (
                "file name with a colon",
                "a:b.nft:7:1-3: Error: oops\n",
                Some(Complaint {
                    line: Some(7),
                    message: "oops".into(),
                }),
            ),
            ("nothing recognisable", "segmentation fault\n", None),
            ("empty", "", None),
        ];
        for (label, stderr, expected) in cases {
            assert_eq!(&first_complaint(stderr), expected, "{label}");
        }
    }

    #[test]
    fn a_missing_program_is_named() {
        let err = run(
            Path::new("/nonexistent/palisade-nft-test"),
            &["list", "tables"],
            None,
        )
        .expect_err("program does not exist");
        assert!(
            matches!(&err, Error::NftMissing { program } if program.ends_with("palisade-nft-test")),
            "{err:?}"
        );
    }
}
