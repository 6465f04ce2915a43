//! The value formats of the API server (apimachinery `pkg/util/validation`): DNS-1123 labels and
//! subdomains, qualified names (label and annotation keys), label values, IANA service names
//! (port names) and port numbers.
//!
//! Each check returns the reasons a value is rejected, empty when it is accepted, like the
//! upstream `IsDNS1123Label`, `IsDNS1123Subdomain`, `IsQualifiedName`, `IsValidLabelValue`,
//! `IsValidPortName` and `IsValidPortNum`. The `suggest_*` functions propose a nearby valid value
//! for `help:` lines; they return `None` rather than guess badly.

/// `validation.DNS1123LabelMaxLength`.
pub const DNS1123_LABEL_MAX: usize = 63;
/// `validation.DNS1123SubdomainMaxLength`.
pub const DNS1123_SUBDOMAIN_MAX: usize = 253;
/// Maximum length of the name part of a qualified name (`qualifiedNameMaxLength`).
pub const QUALIFIED_NAME_MAX: usize = 63;
/// `validation.LabelValueMaxLength`.
pub const LABEL_VALUE_MAX: usize = 63;
/// IANA service names are at most 15 characters (RFC 6335).
pub const PORT_NAME_MAX: usize = 15;

fn lower_alnum(c: char) -> bool {
    c.is_ascii_lowercase() || c.is_ascii_digit()
}

/// `[a-z0-9]([-a-z0-9]*[a-z0-9])?`
fn is_dns_label_shape(s: &str) -> bool {
    let (Some(first), Some(last)) = (s.chars().next(), s.chars().last()) else {
        return false;
    };
    lower_alnum(first) && lower_alnum(last) && s.chars().all(|c| lower_alnum(c) || c == '-')
}

/// `([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]`
fn is_qualified_name_shape(s: &str) -> bool {
    let (Some(first), Some(last)) = (s.chars().next(), s.chars().last()) else {
        return false;
    };
    first.is_ascii_alphanumeric()
        && last.is_ascii_alphanumeric()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

fn too_long(len: usize, max: usize) -> String {
    format!("must be no more than {max} characters (it has {len})")
}

/// `IsDNS1123Label`: namespace names, StatefulSet names.
pub fn dns1123_label(s: &str) -> Vec<String> {
    let mut reasons = Vec::new();
    if s.len() > DNS1123_LABEL_MAX {
        reasons.push(too_long(s.len(), DNS1123_LABEL_MAX));
    }
    if !is_dns_label_shape(s) {
        reasons.push(
            "must consist of lower case letters, digits and '-', and start and end with a letter \
             or digit"
                .to_string(),
        );
    }
    reasons
}

/// `IsDNS1123Subdomain`: most object names, label key prefixes.
pub fn dns1123_subdomain(s: &str) -> Vec<String> {
    let mut reasons = Vec::new();
    if s.len() > DNS1123_SUBDOMAIN_MAX {
        reasons.push(too_long(s.len(), DNS1123_SUBDOMAIN_MAX));
    }
    if !s.split('.').all(is_dns_label_shape) {
        reasons.push(
            "must consist of lower case letters, digits, '-' and '.', and each dot-separated part \
             must start and end with a letter or digit"
                .to_string(),
        );
    }
    reasons
}

/// `IsQualifiedName`: label keys, annotation keys, selector keys. An optional DNS subdomain
/// prefix and `/`, then a name of at most 63 characters.
pub fn qualified_name(s: &str) -> Vec<String> {
    let mut reasons = Vec::new();
    let parts: Vec<&str> = s.split('/').collect();
    let name = match parts.as_slice() {
        [name] => *name,
        [prefix, name] => {
            if prefix.is_empty() {
                reasons.push("the prefix before '/' must not be empty".to_string());
            } else {
                reasons.extend(
                    dns1123_subdomain(prefix)
                        .into_iter()
                        .map(|r| format!("the prefix before '/' {r}")),
                );
            }
            *name
        }
        _ => {
            return vec![
                "may contain at most one '/' (an optional DNS subdomain prefix, '/', then a name)"
                    .to_string(),
            ];
        }
    };
    if name.is_empty() {
        reasons.push("the name part must not be empty".to_string());
        return reasons;
    }
    if name.len() > QUALIFIED_NAME_MAX {
        reasons.push(format!(
            "the name part {}",
            too_long(name.len(), QUALIFIED_NAME_MAX)
        ));
    }
    if !is_qualified_name_shape(name) {
        reasons.push(
            "the name part must consist of letters, digits, '-', '_' and '.', and start and end \
             with a letter or digit"
                .to_string(),
        );
    }
    reasons
}

/// `IsValidLabelValue`: empty, or at most 63 characters of `[-A-Za-z0-9_.]` with alphanumeric
/// ends.
pub fn label_value(s: &str) -> Vec<String> {
    let mut reasons = Vec::new();
    if s.len() > LABEL_VALUE_MAX {
        reasons.push(too_long(s.len(), LABEL_VALUE_MAX));
    }
    if !s.is_empty() && !is_qualified_name_shape(s) {
        reasons.push(
            "must consist of letters, digits, '-', '_' and '.', and start and end with a letter \
             or digit"
                .to_string(),
        );
    }
    reasons
}

/// `IsValidPortName` (an IANA_SVC_NAME, RFC 6335 section 5.1).
pub fn port_name(s: &str) -> Vec<String> {
    let mut reasons = Vec::new();
    if s.len() > PORT_NAME_MAX {
        reasons.push(too_long(s.len(), PORT_NAME_MAX));
    }
    if s.is_empty() || !s.chars().all(|c| lower_alnum(c) || c == '-') {
        reasons.push("must contain only lower case letters, digits and '-'".to_string());
    }
    if !s.chars().any(|c| c.is_ascii_lowercase()) {
        reasons.push("must contain at least one letter".to_string());
    }
    if s.contains("--") {
        reasons.push("must not contain two hyphens in a row".to_string());
    }
    if s.starts_with('-') || s.ends_with('-') {
        reasons.push("must not begin or end with a hyphen".to_string());
    }
    reasons
}

/// `IsValidPortNum`: 1 to 65535 inclusive.
pub fn port_number(n: i64) -> Vec<String> {
    if (1..=65535).contains(&n) {
        Vec::new()
    } else {
        vec!["must be between 1 and 65535, inclusive".to_string()]
    }
}

/// Replaces characters `keep` rejects by `-` and trims what may not start or end the value.
fn sanitize(s: &str, keep: impl Fn(char) -> bool, max: usize, lowercase: bool) -> String {
    let mapped: String = s
        .chars()
        .map(|c| if lowercase { c.to_ascii_lowercase() } else { c })
        .map(|c| if keep(c) { c } else { '-' })
        .collect();
    let mut out = String::new();
    for c in mapped.chars() {
        // Runs of replaced characters read better as one hyphen.
        if c == '-' && out.ends_with('-') {
            continue;
        }
        out.push(c);
    }
    let trimmed = out.trim_matches(|c: char| !c.is_ascii_alphanumeric());
    let cut: String = trimmed.chars().take(max).collect();
    cut.trim_end_matches(|c: char| !c.is_ascii_alphanumeric())
        .to_string()
}

fn offer(original: &str, candidate: String, valid: impl Fn(&str) -> bool) -> Option<String> {
    (candidate != original && !candidate.is_empty() && valid(&candidate)).then_some(candidate)
}

/// A DNS-1123 label close to `s`, e.g. `My_App` -> `my-app`.
pub fn suggest_dns1123_label(s: &str) -> Option<String> {
    let candidate = sanitize(s, |c| lower_alnum(c) || c == '-', DNS1123_LABEL_MAX, true);
    offer(s, candidate, |c| dns1123_label(c).is_empty())
}

/// A DNS-1123 subdomain close to `s`.
pub fn suggest_dns1123_subdomain(s: &str) -> Option<String> {
    let parts: Vec<String> = s
        .split('.')
        .map(|p| sanitize(p, |c| lower_alnum(c) || c == '-', DNS1123_LABEL_MAX, true))
        .filter(|p| !p.is_empty())
        .collect();
    let joined = parts.join(".");
    let candidate: String = joined.chars().take(DNS1123_SUBDOMAIN_MAX).collect();
    let candidate = candidate.trim_end_matches(['-', '.']).to_string();
    offer(s, candidate, |c| dns1123_subdomain(c).is_empty())
}

/// A label value close to `s`, e.g. `front end` -> `front-end`.
pub fn suggest_label_value(s: &str) -> Option<String> {
    let candidate = sanitize(
        s,
        |c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'),
        LABEL_VALUE_MAX,
        false,
    );
    offer(s, candidate, |c| label_value(c).is_empty())
}

/// A qualified name (label key) close to `s`.
pub fn suggest_qualified_name(s: &str) -> Option<String> {
    let keep_name = |c: char| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.');
    let candidate = match s.rsplit_once('/') {
        Some((prefix, name)) => {
            let prefix = if dns1123_subdomain(prefix).is_empty() {
                prefix.to_string()
            } else {
                suggest_dns1123_subdomain(prefix)?
            };
            format!(
                "{prefix}/{}",
                sanitize(name, keep_name, QUALIFIED_NAME_MAX, false)
            )
        }
        None => sanitize(s, keep_name, QUALIFIED_NAME_MAX, false),
    };
    offer(s, candidate, |c| qualified_name(c).is_empty())
}

/// A port name close to `s`, e.g. `HTTP_Web` -> `http-web`.
pub fn suggest_port_name(s: &str) -> Option<String> {
    let candidate = sanitize(s, |c| lower_alnum(c) || c == '-', PORT_NAME_MAX, true);
    offer(s, candidate, |c| port_name(c).is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    // Cases follow the upstream tables in apimachinery
    // pkg/util/validation/validation_test.go (TestIsDNS1123Label, TestIsQualifiedName,
    // TestIsValidLabelValue, TestIsValidPortName...), re-derived from the documented formats.

    #[test]
    fn dns1123_label_table() {
        let long = "a".repeat(63);
        let too_long = "a".repeat(64);
        for (label, value, ok) in [
            ("single letter", "a", true),
            ("digits only", "0", true),
            ("inner hyphen", "a-1", true),
            ("63 chars", long.as_str(), true),
            ("64 chars", too_long.as_str(), false),
            ("empty", "", false),
            ("upper case", "A", false),
            ("leading hyphen", "-a", false),
            ("trailing hyphen", "a-", false),
            ("dot", "a.b", false),
            ("underscore", "a_b", false),
            ("non-ascii", "é", false),
        ] {
            assert_eq!(dns1123_label(value).is_empty(), ok, "{label}: {value:?}");
        }
    }

    #[test]
    fn dns1123_subdomain_table() {
        let long = ["a"; 127].join(".");
        let too_long = format!("{long}.ab");
        assert_eq!(long.len(), 253);
        for (label, value, ok) in [
            ("label", "a", true),
            ("dotted", "a.b.c", true),
            ("hyphen in part", "a-b.c-d", true),
            ("253 chars", long.as_str(), true),
            ("256 chars", too_long.as_str(), false),
            ("empty", "", false),
            ("empty part", "a..b", false),
            ("leading dot", ".a", false),
            ("part ends in hyphen", "a-.b", false),
            ("upper case", "A.b", false),
        ] {
            assert_eq!(
                dns1123_subdomain(value).is_empty(),
                ok,
                "{label}: {value:?}"
            );
        }
    }

    #[test]
    fn qualified_name_table() {
        let name63 = "a".repeat(63);
        let name64 = "a".repeat(64);
        let prefixed64 = format!("example.com/{name64}");
        for (label, value, ok) in [
            ("simple", "app", true),
            ("mixed case and symbols", "My_App.v-1", true),
            ("prefixed", "app.kubernetes.io/name", true),
            ("63-char name", name63.as_str(), true),
            ("64-char name", name64.as_str(), false),
            ("64-char name with prefix", prefixed64.as_str(), false),
            ("empty", "", false),
            ("empty prefix", "/app", false),
            ("empty name", "example.com/", false),
            ("two slashes", "a/b/c", false),
            ("upper-case prefix", "Example.com/app", false),
            ("leading underscore", "_app", false),
            ("space", "my app", false),
        ] {
            assert_eq!(qualified_name(value).is_empty(), ok, "{label}: {value:?}");
        }
    }

    #[test]
    fn label_value_table() {
        let v63 = "a".repeat(63);
        let v64 = "a".repeat(64);
        for (label, value, ok) in [
            ("empty is allowed", "", true),
            ("simple", "web", true),
            ("symbols inside", "A-b_c.d", true),
            ("63 chars", v63.as_str(), true),
            ("64 chars", v64.as_str(), false),
            ("trailing dot", "web.", false),
            ("slash", "a/b", false),
            ("space", "front end", false),
        ] {
            assert_eq!(label_value(value).is_empty(), ok, "{label}: {value:?}");
        }
    }

    #[test]
    fn port_name_table() {
        for (label, value, ok) in [
            ("simple", "http", true),
            ("with digits and hyphen", "http-8080", true),
            ("15 chars", "abcdefghijklmno", true),
            ("16 chars", "abcdefghijklmnop", false),
            ("digits only", "8080", false),
            ("upper case", "HTTP", false),
            ("underscore", "http_alt", false),
            ("double hyphen", "http--alt", false),
            ("leading hyphen", "-http", false),
            ("trailing hyphen", "http-", false),
            ("empty", "", false),
        ] {
            assert_eq!(port_name(value).is_empty(), ok, "{label}: {value:?}");
        }
    }

    #[test]
    fn port_number_table() {
        for (n, ok) in [
            (0, false),
            (1, true),
            (80, true),
            (65535, true),
            (65536, false),
            (-1, false),
        ] {
            assert_eq!(port_number(n).is_empty(), ok, "{n}");
        }
    }

    #[test]
    fn suggestions_are_valid_and_close() {
        assert_eq!(suggest_dns1123_label("My_App").as_deref(), Some("my-app"));
        assert_eq!(
            suggest_dns1123_subdomain("Allow.Web_Traffic").as_deref(),
            Some("allow.web-traffic")
        );
        assert_eq!(
            suggest_label_value("front end").as_deref(),
            Some("front-end")
        );
        assert_eq!(
            suggest_qualified_name("App_Kubernetes/name").as_deref(),
            Some("app-kubernetes/name")
        );
        assert_eq!(suggest_qualified_name("my key").as_deref(), Some("my-key"));
        assert_eq!(suggest_port_name("HTTP_Web").as_deref(), Some("http-web"));
        assert_eq!(
            suggest_port_name("8080"),
            None,
            "no letter, nothing to offer"
        );
        assert_eq!(
            suggest_dns1123_label("ok"),
            None,
            "valid values get no suggestion"
        );
    }
}
