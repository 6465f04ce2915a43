//! Deterministic, readable names and safe comments for chains and sets.
//!
//! ```text
//!   name(prefix, hint, key)  ->  "eg-production-allow-web-3f2a9c1b07"
//!                                 prefix  slug(hint)            fnv64(key), 40 bits
//! ```
//!
//! The hash is over a canonical text (a set's definition, a chain's rendered rules), so the same
//! content gets the same name on every node, run and Rust release; the hint only helps a human
//! reading `nft list`.

/// Longest hint kept in a name: chains and sets stay well under nft's limits and readable.
const HINT_MAX: usize = 32;
/// nft keeps comments up to 128 bytes; leave room for nothing surprising.
const COMMENT_MAX: usize = 120;

/// FNV-1a, 64 bits: tiny, stable across platforms and releases.
pub(crate) fn fnv64(text: &str) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in text.bytes() {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    hash
}

/// Lowercase letters, digits and single dashes: always a valid part of an nft identifier.
pub(crate) fn slug(text: &str) -> String {
    let mut out = String::with_capacity(text.len().min(HINT_MAX));
    for c in text.chars() {
        if out.len() >= HINT_MAX {
            break;
        }
        let c = c.to_ascii_lowercase();
        if c.is_ascii_alphanumeric() {
            out.push(c);
        } else if !out.is_empty() && !out.ends_with('-') {
            out.push('-');
        }
    }
    while out.ends_with('-') {
        out.pop();
    }
    out
}

/// `prefix-hint-hash`; the prefix starts with a letter, so the name never reads as a number or
/// a keyword to nft's parser.
pub(crate) fn name(prefix: &str, hint: &str, key: &str) -> String {
    let hash = fnv64(key) >> 24;
    let hint = slug(hint);
    if hint.is_empty() {
        format!("{prefix}-{hash:010x}")
    } else {
        format!("{prefix}-{hint}-{hash:010x}")
    }
}

/// Text safe inside an nft double-quoted comment: printable ASCII without quotes or
/// backslashes, at most [`COMMENT_MAX`] bytes.
pub(crate) fn comment(text: &str) -> String {
    let mut out = String::with_capacity(text.len().min(COMMENT_MAX));
    for c in text.chars() {
        if out.len() >= COMMENT_MAX - 3 && text.len() > COMMENT_MAX {
            out.push_str("...");
            break;
        }
        out.push(match c {
            '"' | '\\' => '\'',
            c if c.is_ascii_graphic() || c == ' ' => c,
            _ => '?',
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fnv_is_the_published_function() {
        // Test vectors of FNV-1a 64 (the empty string and "a").
        assert_eq!(fnv64(""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv64("a"), 0xaf63_dc4c_8601_ec8c);
    }

    #[test]
    fn slug_table() {
        let cases = [
            ("plain", "production", "production"),
            ("dots and case", "Allow.Web_Ingress", "allow-web-ingress"),
            ("runs of separators", "a -- b", "a-b"),
            ("leading/trailing separators", "--a--", "a"),
            ("cidr", "10.0.0.0/8", "10-0-0-0-8"),
            ("non-ascii", "café", "caf"),
        ];
        for (label, input, want) in cases {
            assert_eq!(slug(input), want, "{label}");
        }
        assert!(slug(&"x".repeat(100)).len() <= HINT_MAX);
    }

    #[test]
    fn names_differ_by_key_and_keep_the_hint() {
        let a = name("eg", "production allow-web", "k1");
        let b = name("eg", "production allow-web", "k2");
        assert_ne!(a, b);
        assert!(a.starts_with("eg-production-allow-web-"), "{a}");
        assert_eq!(name("p4", "", "k").len(), "p4-".len() + 10);
    }

    #[test]
    fn comment_is_quoted_safely() {
        assert_eq!(comment("a \"b\" \\ c\n"), "a 'b' ' c?");
        let long = comment(&"y".repeat(500));
        assert!(long.len() <= COMMENT_MAX && long.ends_with("..."), "{long}");
        assert_eq!(comment(&"z".repeat(COMMENT_MAX)), "z".repeat(COMMENT_MAX));
    }
}
