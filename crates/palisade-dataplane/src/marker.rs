//! The state marker: which full ruleset the table was loaded from, kept in the kernel itself.
//!
//! A restarted agent must decide whether the table it finds is exactly what it would load
//! (adopt it, touch nothing) or not (replace it). The answer has to survive `kill -9`, so it is
//! stored in the table: an empty, hookless chain [`STATE_CHAIN`] whose comment carries the
//! SHA-256 of the full script. A table comment would be the obvious place, but the kernel sets
//! it only when the table is created and the compiler's script creates the table, so the
//! dataplane could not add one. The chain is rewritten in the same transaction as every full
//! load and every update, so it can never disagree with the table it sits in; after an update
//! it says "modified", which no digest matches, and the next start reloads.

use sha2::{Digest, Sha256};

use crate::TABLE;

/// The chain that carries the marker. The compiler must not use this name.
pub const STATE_CHAIN: &str = "palisade_state";

/// Bumped when the meaning of the marker changes, so an old marker is never trusted.
const PREFIX: &str = "palisade-state v1 ";

/// What the marker says about the table in force.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TableState {
    /// Loaded from the full script with this digest ([`digest`]), untouched since.
    Full { digest: String },
    /// Loaded, then changed by updates: its content is known to nobody.
    Modified,
    /// The fail-closed lockdown table.
    Lockdown,
    /// The table exists but carries no marker palisade understands (an older version, or
    /// someone else's script).
    Unknown,
}

/// Hex SHA-256 of a full script, the identity [`TableState::Full`] records.
pub fn digest(script: &str) -> String {
    let hash = Sha256::digest(script.as_bytes());
    hash.iter().map(|b| format!("{b:02x}")).collect()
}

/// Lines that (re)write the marker; valid whether or not the table and chain exist already.
pub(crate) fn lines(state: &TableState) -> String {
    let word = match state {
        TableState::Full { digest } => format!("full sha256:{digest}"),
        TableState::Modified => "modified".to_string(),
        TableState::Lockdown => "lockdown".to_string(),
        TableState::Unknown => "unknown".to_string(),
    };
    // `add` is a no-op on what exists, so the delete that follows never fails and the chain is
    // created afresh with the new comment (the kernel cannot change a comment in place).
    format!(
        "add table {TABLE}\nadd chain {TABLE} {STATE_CHAIN}\ndelete chain {TABLE} {STATE_CHAIN}\n\
         add chain {TABLE} {STATE_CHAIN} {{ comment \"{PREFIX}{word}\"; }}\n"
    )
}

/// Number of lines [`lines`] produces.
#[cfg(test)]
pub(crate) const LINES: usize = 4;

/// Reads the marker from `nft list table inet palisade` output.
pub(crate) fn read(listing: &str) -> TableState {
    let needle = format!("comment \"{PREFIX}");
    let Some(start) = listing.find(&needle) else {
        return TableState::Unknown;
    };
    let rest = &listing[start + needle.len()..];
    let word = rest.split('"').next().unwrap_or_default();
    match word {
        "modified" => TableState::Modified,
        "lockdown" => TableState::Lockdown,
        _ => match word.strip_prefix("full sha256:") {
            Some(digest) if !digest.is_empty() => TableState::Full {
                digest: digest.to_string(),
            },
            _ => TableState::Unknown,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn marker_lines_count_matches() {
        for state in [
            TableState::Full {
                digest: digest("x"),
            },
            TableState::Modified,
            TableState::Lockdown,
        ] {
            assert_eq!(lines(&state).lines().count(), LINES, "{state:?}");
        }
    }

    #[test]
    fn marker_reads_back_from_a_listing() {
        let d = digest("table inet palisade {}\n");
        let listing = |comment: &str| {
            format!(
                "table inet palisade {{\n\tchain c {{\n\t}}\n\n\tchain {STATE_CHAIN} {{\n\t\tcomment \"{comment}\"\n\t}}\n}}\n"
            )
        };
        let cases = [
            (
                "full",
                listing(&format!("{PREFIX}full sha256:{d}")),
                TableState::Full { digest: d.clone() },
            ),
            (
                "modified",
                listing(&format!("{PREFIX}modified")),
                TableState::Modified,
            ),
            (
                "lockdown",
                listing(&format!("{PREFIX}lockdown")),
                TableState::Lockdown,
            ),
            (
                "other version",
                listing("palisade-state v0 full sha256:ab"),
                TableState::Unknown,
            ),
            (
                "empty digest",
                listing(&format!("{PREFIX}full sha256:")),
                TableState::Unknown,
            ),
            (
                "no marker",
                "table inet palisade {\n}\n".to_string(),
                TableState::Unknown,
            ),
        ];
        for (label, text, expected) in cases {
            assert_eq!(read(&text), expected, "{label}");
        }
    }

    #[test]
    fn digest_is_sha256_hex() {
        // SHA-256 of the empty string, FIPS 180-2 test vector.
        assert_eq!(
            digest(""),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        assert_ne!(digest("a"), digest("b"));
    }

    #[test]
    fn marker_fits_in_an_nft_comment() {
        // nft refuses comments longer than 128 bytes (NFT_USERDATA_MAXLEN is per attribute,
        // the parser limits comments to 128).
        let text = format!("{PREFIX}full sha256:{}", digest("x"));
        assert!(text.len() <= 128, "{} bytes", text.len());
    }
}
