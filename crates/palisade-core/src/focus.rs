//! Focus: which endpoints a question is about, as `--from` and `--to` give them on `reach`,
//! `graph`, `report` and `diff` ("who can reach the payments database?").
//!
//! ```text
//!   spec ──parse──> Focus ─┬─ matches_pod(cluster, i)   one pod of cluster.pods
//!                          ├─ pods(cluster)              every matching pod index, ascending
//!                          └─ matches_ip(ip)             an external address (--external)
//! ```
//!
//! # Syntax
//!
//! | Spec                        | Picks                                                        |
//! |-----------------------------|--------------------------------------------------------------|
//! | `NS/NAME`                   | the pod `NAME` of namespace `NS`, and the pods of the workload `NAME` there (`shop/web`: the pod `web` and every replica of the Deployment `web`) |
//! | `NS/*`                      | every pod of namespace `NS`                                  |
//! | `*`                         | every pod                                                    |
//! | `SELECTOR`                  | pods matching a label selector, in every namespace (`app=web,tier in (a,b)`) |
//! | `NS:SELECTOR`               | pods of namespace `NS` matching the selector (`production:app=web`) |
//! | `*:SELECTOR`                | the same as `SELECTOR`; needed for a lone key (`*:canary`)   |
//! | `IP` or `CIDR`              | pods with an address inside, and `--external` addresses inside (`10.0.0.5`, `10.0.0.0/24`, `fd00::/64`) |
//!
//! A workload is what [`crate::reach::workload_name`] finds: a pod's controller from its owner
//! references, or the labels controllers set. A name alone never makes a workload, so
//! `shop/account` does not pick the pods of `account-query`.
//!
//! Selectors are read as `kubectl get -l` reads them (apimachinery `labels.Parse`):
//! requirements separated by `,` must all hold; each is `key=value`, `key==value`,
//! `key!=value`, `key in (v1,v2)`, `key notin (v1,v2)`, `key` (the label exists) or `!key` (it
//! does not). Blanks around tokens are ignored; `in` and `notin` need blanks (or a `(`) to
//! stand apart from the key. Keys are qualified names (`app`, `app.kubernetes.io/name`), values
//! are at most 63 characters and may be empty (`key=`, `key in ()`). As in Kubernetes,
//! `key!=value` and `key notin (...)` also pick pods that lack the key. The numeric `key>1` and
//! `key<1` of `labels.Parse` are refused: NetworkPolicy selectors have no such operator.
//!
//! # Telling the forms apart
//!
//! The spec, trimmed of surrounding blanks, is tried against these rules in order:
//!
//! 1. `*` is every pod.
//! 2. An IP address or CIDR is an address focus. A CIDR's host bits are dropped
//!    (`10.0.0.5/24` is `10.0.0.0/24`).
//! 3. A spec with a `:` is `NS:SELECTOR`. Label keys and values never contain `:`, and an IPv6
//!    address was taken by rule 2.
//! 4. A spec with any of `= ! ( ) , < >` or a blank is a selector in every namespace; a `/` in
//!    it belongs to a key's prefix (`app.kubernetes.io/name=web`), never to a namespace.
//! 5. A spec with a `/` is `NS/NAME` or `NS/*`.
//! 6. Anything else, a bare word such as `web`, is refused: it could be a pod whose namespace
//!    is missing or a label key. Write `NS/web` for the pod or workload, `*:web` for the pods
//!    that have a label `web`.

use std::collections::BTreeSet;
use std::fmt;
use std::net::IpAddr;
use std::ops::Range;
use std::str::FromStr;

use ipnet::IpNet;

use crate::model::{Cluster, Operator, Requirement, Selector};
use crate::reach::workload_base;
use crate::validate::names;

/// The forms, one per line, for `help:` text and the command line's `--help`.
pub const SYNTAX: &str = "\
NS/NAME       a pod, and the pods of the workload NAME (shop/web)
NS/*          every pod of a namespace (shop/*)
*             every pod
SELECTOR      pods matching a label selector, in every namespace (app=web,tier in (a,b))
NS:SELECTOR   pods of one namespace matching a selector (shop:app=web; *:app for every namespace)
IP or CIDR    pods and external addresses inside (10.0.0.5, 10.0.0.0/24, fd00::/64)";

/// A parsed `--from` / `--to`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Focus {
    /// `*`: every pod.
    All,
    /// `NS/*`: every pod of the namespace.
    Namespace(String),
    /// `NS/NAME`: the pod named `name` and the pods of the workload named `name`.
    Name { namespace: String, name: String },
    /// `SELECTOR`, `NS:SELECTOR`: pods matching `selector`, in `namespace` or (`None`) in every
    /// namespace.
    Selector {
        namespace: Option<String>,
        selector: Selector,
    },
    /// `IP`, `CIDR`: pods with an address inside, and external addresses inside.
    Address(IpNet),
}

impl Focus {
    /// Reads a focus; see the module documentation for the syntax.
    pub fn parse(spec: &str) -> Result<Focus, FocusError> {
        let start = spec.len() - spec.trim_start().len();
        let text = spec.trim();
        let fail = |at: Range<usize>, kind: FocusErrorKind| FocusError {
            spec: spec.to_string(),
            at,
            kind,
        };
        let whole = start..start + text.len();
        if text.is_empty() {
            return Err(fail(whole, FocusErrorKind::Empty));
        }
        if text == "*" {
            return Ok(Focus::All);
        }
        if let Ok(ip) = text.parse::<IpAddr>() {
            return Ok(Focus::Address(IpNet::from(ip)));
        }
        if let Ok(net) = text.parse::<IpNet>() {
            return Ok(Focus::Address(net.trunc()));
        }
        let plain = !text.bytes().any(|b| is_special(b) || is_blank(b));
        if plain
            && let Some((address, _)) = text.split_once('/')
            && let Ok(ip) = address.parse::<IpAddr>()
        {
            return Err(fail(whole, FocusErrorKind::BadPrefixLength { ip }));
        }
        if let Some(colon) = text.find(':') {
            if text[colon + 1..].contains(':') {
                return Err(fail(whole, FocusErrorKind::NotAnAddress));
            }
            let (namespace, rest) = (&text[..colon], &text[colon + 1..]);
            let namespace = if namespace == "*" {
                None
            } else {
                check_namespace(namespace).map_err(|kind| fail(start..start + colon, kind))?;
                Some(namespace.to_string())
            };
            let offset = start + colon + 1;
            if rest.trim().is_empty() {
                return Err(fail(
                    offset..offset + rest.len(),
                    FocusErrorKind::EmptySelector,
                ));
            }
            let selector = parse_selector(rest)
                .map_err(|(at, kind)| fail(offset + at.start..offset + at.end, kind))?;
            return Ok(Focus::Selector {
                namespace,
                selector,
            });
        }
        if !plain {
            let selector = parse_selector(text)
                .map_err(|(at, kind)| fail(start + at.start..start + at.end, kind))?;
            return Ok(Focus::Selector {
                namespace: None,
                selector,
            });
        }
        if let Some((namespace, name)) = text.split_once('/') {
            let ns_at = start..start + namespace.len();
            let name_at = ns_at.end + 1..whole.end;
            if name.contains('/') {
                return Err(fail(whole, FocusErrorKind::TooManySlashes));
            }
            if let Err(kind) = check_namespace(namespace) {
                // `example.com/canary`: more likely a prefixed label key than a namespace.
                let kind = if names::qualified_name(text).is_empty() {
                    FocusErrorKind::PrefixedKey {
                        key: text.to_string(),
                    }
                } else {
                    kind
                };
                return Err(fail(ns_at, kind));
            }
            if name == "*" {
                return Ok(Focus::Namespace(namespace.to_string()));
            }
            let reasons = names::dns1123_subdomain(name);
            if !reasons.is_empty() {
                return Err(fail(
                    name_at,
                    FocusErrorKind::BadName {
                        name: name.to_string(),
                        reasons: reasons.join("; "),
                    },
                ));
            }
            return Ok(Focus::Name {
                namespace: namespace.to_string(),
                name: name.to_string(),
            });
        }
        Err(fail(
            whole,
            FocusErrorKind::BareWord {
                word: text.to_string(),
            },
        ))
    }

    /// Whether the focus picks this pod (index into `cluster.pods`); externals never match a
    /// pod focus.
    pub fn matches_pod(&self, cluster: &Cluster, pod: usize) -> bool {
        let Some(pod) = cluster.pods.get(pod) else {
            return false;
        };
        match self {
            Focus::All => true,
            Focus::Namespace(namespace) => pod.namespace == *namespace,
            Focus::Name { namespace, name } => {
                pod.namespace == *namespace
                    && (pod.name == *name || workload_base(pod) == name.as_str())
            }
            Focus::Selector {
                namespace,
                selector,
            } => {
                namespace.as_ref().is_none_or(|ns| pod.namespace == *ns)
                    && selector.matches(&pod.labels)
            }
            Focus::Address(net) => pod.ips.iter().any(|ip| net.contains(ip)),
        }
    }

    /// All matching pod indices, ascending. A focus naming a namespace looks only at that
    /// namespace's pods, found by binary search on the `(namespace, name)` order of
    /// `cluster.pods`.
    pub fn pods(&self, cluster: &Cluster) -> Vec<usize> {
        debug_assert!(
            cluster
                .pods
                .is_sorted_by(|a, b| (&a.namespace, &a.name) <= (&b.namespace, &b.name)),
            "cluster.pods must be sorted by (namespace, name)"
        );
        let range = match self {
            Focus::All => return (0..cluster.pods.len()).collect(),
            Focus::Namespace(namespace) | Focus::Name { namespace, .. } => {
                namespace_range(cluster, namespace)
            }
            Focus::Selector {
                namespace: Some(namespace),
                ..
            } => namespace_range(cluster, namespace),
            Focus::Selector {
                namespace: None, ..
            }
            | Focus::Address(_) => 0..cluster.pods.len(),
        };
        match self {
            Focus::Namespace(_) => range.collect(),
            _ => range.filter(|&i| self.matches_pod(cluster, i)).collect(),
        }
    }

    /// Whether the focus picks an external address given with `--external`: only an IP or CIDR
    /// focus does.
    pub fn matches_ip(&self, ip: IpAddr) -> bool {
        match self {
            Focus::Address(net) => net.contains(&ip),
            _ => false,
        }
    }
}

impl FromStr for Focus {
    type Err = FocusError;

    fn from_str(spec: &str) -> Result<Focus, FocusError> {
        Focus::parse(spec)
    }
}

/// The canonical spelling, which [`Focus::parse`] reads back to the same focus.
impl fmt::Display for Focus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Focus::All => f.write_str("*"),
            Focus::Namespace(namespace) => write!(f, "{namespace}/*"),
            Focus::Name { namespace, name } => write!(f, "{namespace}/{name}"),
            // Only built by hand: a parsed selector has at least one requirement.
            Focus::Selector {
                namespace: Some(namespace),
                selector,
            } if selector.is_empty() => write!(f, "{namespace}/*"),
            Focus::Selector {
                namespace: None,
                selector,
            } if selector.is_empty() => f.write_str("*"),
            Focus::Selector {
                namespace,
                selector,
            } => {
                write!(f, "{}:", namespace.as_deref().unwrap_or("*"))?;
                write_selector(f, selector)
            }
            Focus::Address(net) if net.prefix_len() == net.max_prefix_len() => {
                write!(f, "{}", net.addr())
            }
            Focus::Address(net) => write!(f, "{net}"),
        }
    }
}

fn write_selector(f: &mut fmt::Formatter<'_>, selector: &Selector) -> fmt::Result {
    let mut first = true;
    let mut sep = |f: &mut fmt::Formatter<'_>| {
        let s = if first { "" } else { "," };
        first = false;
        f.write_str(s)
    };
    for (key, value) in &selector.match_labels {
        sep(f)?;
        write!(f, "{key}={value}")?;
    }
    let join = |values: &BTreeSet<String>| values.iter().cloned().collect::<Vec<_>>().join(",");
    for r in &selector.expressions {
        sep(f)?;
        match &r.operator {
            Operator::In(values) => write!(f, "{} in ({})", r.key, join(values))?,
            Operator::NotIn(values) => write!(f, "{} notin ({})", r.key, join(values))?,
            Operator::Exists => f.write_str(&r.key)?,
            Operator::DoesNotExist => write!(f, "!{}", r.key)?,
        }
    }
    Ok(())
}

/// The pods of `namespace`: a contiguous run of `cluster.pods`.
fn namespace_range(cluster: &Cluster, namespace: &str) -> Range<usize> {
    let pods = &cluster.pods;
    let first = pods.partition_point(|p| p.namespace.as_str() < namespace);
    let end = first + pods[first..].partition_point(|p| p.namespace == namespace);
    first..end
}

fn check_namespace(namespace: &str) -> Result<(), FocusErrorKind> {
    let reasons = names::dns1123_label(namespace);
    if reasons.is_empty() {
        Ok(())
    } else {
        Err(FocusErrorKind::BadNamespace {
            namespace: namespace.to_string(),
            reasons: reasons.join("; "),
        })
    }
}

/// A `--from`/`--to` that could not be read: the spec, the offending part of it, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FocusError {
    /// The spec as given.
    pub spec: String,
    /// Byte range of the offending text in `spec` (empty at the end for a missing token).
    pub at: Range<usize>,
    pub kind: FocusErrorKind,
}

/// What was wrong with a focus spec.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FocusErrorKind {
    /// Nothing but blanks.
    Empty,
    /// A word with no `/`, `:` or operator: a pod without its namespace, or a label key?
    BareWord {
        word: String,
    },
    /// `NS:` with no selector after it.
    EmptySelector,
    BadNamespace {
        namespace: String,
        reasons: String,
    },
    BadName {
        name: String,
        reasons: String,
    },
    /// `a/b/c`.
    TooManySlashes,
    /// `example.com/canary`: a label key with a prefix, where a namespace was expected.
    PrefixedKey {
        key: String,
    },
    /// `10.0.0.0/33`.
    BadPrefixLength {
        ip: IpAddr,
    },
    /// More than one `:` and not an IPv6 address.
    NotAnAddress,
    /// A selector token other than the one expected, e.g. `a in (x` without `)`.
    Syntax {
        /// The token found, `None` at the end of the spec.
        found: Option<String>,
        expected: &'static str,
    },
    BadKey {
        key: String,
        reasons: String,
    },
    BadValue {
        key: String,
        value: String,
        reasons: String,
    },
    /// `>` or `<`, which `labels.Parse` knows but NetworkPolicy selectors do not.
    Numeric {
        operator: &'static str,
    },
}

impl FocusError {
    /// One sentence: what is wrong. Lower-case, no trailing period.
    pub fn message(&self) -> String {
        match &self.kind {
            FocusErrorKind::Empty => "the focus is empty".to_string(),
            FocusErrorKind::BareWord { word } => {
                format!("`{word}` is neither NS/NAME, a label selector nor an address")
            }
            FocusErrorKind::EmptySelector => "no label selector after `:`".to_string(),
            FocusErrorKind::BadNamespace { namespace, reasons } => {
                format!("`{namespace}` is not a namespace name: it {reasons}")
            }
            FocusErrorKind::BadName { name, reasons } => {
                format!("`{name}` is not a pod or workload name: it {reasons}")
            }
            FocusErrorKind::TooManySlashes => {
                "expected NS/NAME with one `/`, found more".to_string()
            }
            FocusErrorKind::PrefixedKey { key } => {
                format!("`{key}` is not NS/NAME: the part before `/` is not a namespace name")
            }
            FocusErrorKind::BadPrefixLength { ip } => {
                let max = if ip.is_ipv4() { 32 } else { 128 };
                format!("not a CIDR: the prefix length after `/` must be 0 to {max}")
            }
            FocusErrorKind::NotAnAddress => {
                "not an IP address, and a selector takes only one `NS:` prefix".to_string()
            }
            FocusErrorKind::Syntax { found, expected } => match found {
                Some(found) => format!("found `{found}`, expected {expected}"),
                None => format!("the selector ends early, expected {expected}"),
            },
            FocusErrorKind::BadKey { key, reasons } => {
                format!("`{key}` is not a label key: {reasons}")
            }
            FocusErrorKind::BadValue {
                key,
                value,
                reasons,
            } => format!("`{value}` is not a label value (for `{key}`): it {reasons}"),
            FocusErrorKind::Numeric { operator } => {
                format!("`{operator}` is not supported: NetworkPolicy selectors compare no numbers")
            }
        }
    }

    /// How to fix it, ending with the list of forms.
    pub fn help(&self) -> String {
        let hint = match &self.kind {
            FocusErrorKind::BareWord { word } => Some(format!(
                "write NS/{word} for a pod or workload, or *:{word} for the pods labelled `{word}`"
            )),
            FocusErrorKind::EmptySelector => {
                Some("for every pod of a namespace write NS/*".to_string())
            }
            FocusErrorKind::PrefixedKey { key } => Some(format!(
                "for the pods that have the label `{key}`, write *:{key}"
            )),
            FocusErrorKind::Syntax { .. } => {
                Some("requirements are joined by `,`: app=web,tier in (api,db),!canary".to_string())
            }
            FocusErrorKind::Numeric { .. } => {
                Some("list the values instead: key in (1,2,3)".to_string())
            }
            FocusErrorKind::BadValue { value, .. } => {
                names::suggest_label_value(value).map(|v| format!("did you mean `{v}`?"))
            }
            FocusErrorKind::BadKey { key, .. } => {
                names::suggest_qualified_name(key).map(|k| format!("did you mean `{k}`?"))
            }
            _ => None,
        };
        let mut help = hint.map(|h| format!("{h}\n")).unwrap_or_default();
        help.push_str("a focus is one of:\n");
        for line in SYNTAX.lines() {
            help.push_str("  ");
            help.push_str(line);
            help.push('\n');
        }
        help.pop();
        help
    }
}

impl fmt::Display for FocusError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "invalid focus `{}`: {}\nhelp: {}",
            self.spec,
            self.message(),
            self.help()
        )
    }
}

impl std::error::Error for FocusError {}

// The selector grammar of apimachinery's `labels.Parse`:
//
//   selector    ::= requirement ("," requirement)*  |  ""
//   requirement ::= ["!"] KEY [ ("in" | "notin") "(" values ")" | ("=" | "==" | "!=") VALUE ]
//   values      ::= VALUE ("," VALUE)*     (empty entries are the empty value)
//
// Tokens are runs of the special bytes `= ! ( ) , < >` (`!=` and `==` are single tokens) or
// runs of anything else up to a special byte or a blank (space, tab, CR, LF). `in` and `notin`
// are operators after a key and plain identifiers where a key or value is expected.

fn is_special(b: u8) -> bool {
    matches!(b, b'=' | b'!' | b'(' | b')' | b',' | b'>' | b'<')
}

fn is_blank(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\r' | b'\n')
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Tok {
    End,
    Ident,
    In,
    NotIn,
    Open,
    Close,
    Comma,
    Not,
    Eq,
    DoubleEq,
    NotEq,
    Gt,
    Lt,
}

#[derive(Debug, Clone)]
struct Token<'a> {
    tok: Tok,
    text: &'a str,
    at: Range<usize>,
}

fn lex(s: &str) -> Vec<Token<'_>> {
    let bytes = s.as_bytes();
    let mut tokens = Vec::new();
    let mut i = 0;
    loop {
        while i < bytes.len() && is_blank(bytes[i]) {
            i += 1;
        }
        if i == bytes.len() {
            tokens.push(Token {
                tok: Tok::End,
                text: "",
                at: i..i,
            });
            return tokens;
        }
        let start = i;
        let tok = if is_special(bytes[i]) {
            let pair = bytes.get(i + 1) == Some(&b'=');
            let (tok, len) = match bytes[i] {
                b'!' if pair => (Tok::NotEq, 2),
                b'=' if pair => (Tok::DoubleEq, 2),
                b'!' => (Tok::Not, 1),
                b'=' => (Tok::Eq, 1),
                b'(' => (Tok::Open, 1),
                b')' => (Tok::Close, 1),
                b',' => (Tok::Comma, 1),
                b'>' => (Tok::Gt, 1),
                _ => (Tok::Lt, 1),
            };
            i += len;
            tok
        } else {
            while i < bytes.len() && !is_special(bytes[i]) && !is_blank(bytes[i]) {
                i += 1;
            }
            match &s[start..i] {
                "in" => Tok::In,
                "notin" => Tok::NotIn,
                _ => Tok::Ident,
            }
        };
        tokens.push(Token {
            tok,
            text: &s[start..i],
            at: start..i,
        });
    }
}

type SelectorError = (Range<usize>, FocusErrorKind);

struct Parser<'a> {
    tokens: Vec<Token<'a>>,
    next: usize,
}

impl<'a> Parser<'a> {
    /// The next token; where a key or value is expected (`as_value`), `in` and `notin` are
    /// identifiers.
    fn peek(&self, as_value: bool) -> Token<'a> {
        let mut token = self.tokens[self.next].clone();
        if as_value && matches!(token.tok, Tok::In | Tok::NotIn) {
            token.tok = Tok::Ident;
        }
        token
    }

    fn take(&mut self, as_value: bool) -> Token<'a> {
        let token = self.peek(as_value);
        if token.tok != Tok::End {
            self.next += 1;
        }
        token
    }
}

fn unexpected(token: &Token<'_>, expected: &'static str) -> SelectorError {
    let found = (token.tok != Tok::End).then(|| token.text.to_string());
    (token.at.clone(), FocusErrorKind::Syntax { found, expected })
}

/// Parses a label selector the way `labels.Parse` does and maps it onto the model: `=` and `==`
/// become `match_labels` (an `In` of one value when the key is already there with another
/// value, so that `a=x,a=y` still matches nothing), `!=` a `NotIn` of one value.
fn parse_selector(s: &str) -> Result<Selector, SelectorError> {
    let mut p = Parser {
        tokens: lex(s),
        next: 0,
    };
    let mut selector = Selector::everything();
    loop {
        let token = p.peek(true);
        match token.tok {
            Tok::Ident | Tok::Not => {
                let (key, operator) = parse_requirement(&mut p)?;
                add(&mut selector, key, operator);
                let token = p.take(true);
                match token.tok {
                    Tok::End => break,
                    Tok::Comma => {
                        let after = p.peek(true);
                        if !matches!(after.tok, Tok::Ident | Tok::Not) {
                            return Err(unexpected(&after, "a label key or `!key` after `,`"));
                        }
                    }
                    _ => return Err(unexpected(&token, "`,` or the end of the selector")),
                }
            }
            Tok::End => break,
            _ => return Err(unexpected(&token, "a label key or `!key`")),
        }
    }
    selector.expressions.sort();
    selector.expressions.dedup();
    Ok(selector)
}

/// What one requirement adds to the selector: an equality (`=`, `==`) for `match_labels`, or
/// an expression.
enum Parsed {
    Equals(String),
    Op(Operator),
}

fn add(selector: &mut Selector, key: String, parsed: Parsed) {
    match parsed {
        Parsed::Equals(value) => match selector.match_labels.get(&key) {
            None => {
                selector.match_labels.insert(key, value);
            }
            Some(existing) if *existing == value => {}
            Some(_) => selector.expressions.push(Requirement {
                key,
                operator: Operator::In(BTreeSet::from([value])),
            }),
        },
        Parsed::Op(operator) => selector.expressions.push(Requirement { key, operator }),
    }
}

fn parse_requirement(p: &mut Parser<'_>) -> Result<(String, Parsed), SelectorError> {
    let mut token = p.take(true);
    let negated = token.tok == Tok::Not;
    if negated {
        token = p.take(true);
    }
    if token.tok != Tok::Ident {
        return Err(unexpected(&token, "a label key"));
    }
    let key = token.text.to_string();
    let reasons = names::qualified_name(&key);
    if !reasons.is_empty() {
        return Err((
            token.at.clone(),
            FocusErrorKind::BadKey {
                key,
                reasons: reasons.join("; "),
            },
        ));
    }
    // `!key` takes nothing after it; whatever follows must be `,` or the end, which the
    // caller checks (so `!key=value` is refused there, as by `labels.Parse`).
    if negated {
        return Ok((key, Parsed::Op(Operator::DoesNotExist)));
    }
    if matches!(p.peek(true).tok, Tok::End | Tok::Comma) {
        return Ok((key, Parsed::Op(Operator::Exists)));
    }
    let op = p.take(false);
    let values = match op.tok {
        Tok::In | Tok::NotIn => parse_values(p)?,
        Tok::Eq | Tok::DoubleEq | Tok::NotEq => BTreeSet::from([parse_exact_value(p)?]),
        Tok::Gt | Tok::Lt => {
            let operator = if op.tok == Tok::Gt { ">" } else { "<" };
            return Err((op.at.clone(), FocusErrorKind::Numeric { operator }));
        }
        _ => {
            return Err(unexpected(
                &op,
                "an operator: `=`, `==`, `!=`, `in`, `notin`, or `,` or the end",
            ));
        }
    };
    for value in &values {
        let reasons = names::label_value(value);
        if !reasons.is_empty() {
            let at = p.tokens[..p.next]
                .iter()
                .rev()
                .find(|t| t.tok != Tok::Close && t.text == value)
                .map_or(op.at.clone(), |t| t.at.clone());
            return Err((
                at,
                FocusErrorKind::BadValue {
                    key,
                    value: value.clone(),
                    reasons: reasons.join("; "),
                },
            ));
        }
    }
    let parsed = match op.tok {
        Tok::In => Parsed::Op(Operator::In(values)),
        Tok::NotIn => Parsed::Op(Operator::NotIn(values)),
        Tok::NotEq => Parsed::Op(Operator::NotIn(values)),
        _ => Parsed::Equals(values.into_iter().next().unwrap_or_default()),
    };
    Ok((key, parsed))
}

/// `( values )`; `()` is the set holding the empty value, and so is an empty entry (`(a,)`).
fn parse_values(p: &mut Parser<'_>) -> Result<BTreeSet<String>, SelectorError> {
    let open = p.take(true);
    if open.tok != Tok::Open {
        return Err(unexpected(&open, "`(`"));
    }
    let mut values = BTreeSet::new();
    let first = p.peek(true);
    match first.tok {
        Tok::Close => {
            p.take(true);
            values.insert(String::new());
            return Ok(values);
        }
        Tok::Ident | Tok::Comma => {}
        _ => return Err(unexpected(&first, "a value, `,` or `)`")),
    }
    loop {
        let token = p.take(true);
        match token.tok {
            Tok::Ident => {
                values.insert(token.text.to_string());
                let after = p.peek(true);
                match after.tok {
                    Tok::Comma => {}
                    Tok::Close => break,
                    _ => return Err(unexpected(&after, "`,` or `)`")),
                }
            }
            Tok::Comma => {
                if values.is_empty() {
                    // `(,a)`: the empty value before the comma.
                    values.insert(String::new());
                }
                match p.peek(true).tok {
                    Tok::Close => {
                        values.insert(String::new());
                        break;
                    }
                    Tok::Comma => {
                        p.take(true);
                        values.insert(String::new());
                    }
                    _ => {}
                }
            }
            _ => return Err(unexpected(&token, "a value or `,`")),
        }
    }
    p.take(true);
    Ok(values)
}

/// The value after `=`, `==` or `!=`; nothing before `,` or the end is the empty value.
fn parse_exact_value(p: &mut Parser<'_>) -> Result<String, SelectorError> {
    if matches!(p.peek(true).tok, Tok::End | Tok::Comma) {
        return Ok(String::new());
    }
    let token = p.take(true);
    if token.tok != Tok::Ident {
        return Err(unexpected(&token, "a label value"));
    }
    Ok(token.text.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Labels;

    fn set(values: &[&str]) -> BTreeSet<String> {
        values.iter().map(|v| v.to_string()).collect()
    }

    fn req(key: &str, operator: Operator) -> Requirement {
        Requirement {
            key: key.to_string(),
            operator,
        }
    }

    fn selector(pairs: &[(&str, &str)], expressions: Vec<Requirement>) -> Selector {
        Selector {
            match_labels: pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            expressions,
        }
    }

    fn anywhere(selector: Selector) -> Focus {
        Focus::Selector {
            namespace: None,
            selector,
        }
    }

    fn labels(pairs: &[(&str, &str)]) -> Labels {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn focus_forms() {
        use Operator::*;
        let net = |s: &str| Focus::Address(s.parse().unwrap());
        let cases: Vec<(&str, &str, Focus)> = vec![
            ("every pod", "*", Focus::All),
            ("blanks around", "  *\t", Focus::All),
            ("namespace", "shop/*", Focus::Namespace("shop".into())),
            (
                "pod or workload",
                "shop/web",
                Focus::Name {
                    namespace: "shop".into(),
                    name: "web".into(),
                },
            ),
            (
                "pod name with dots",
                "shop/web.v2",
                Focus::Name {
                    namespace: "shop".into(),
                    name: "web.v2".into(),
                },
            ),
            ("IPv4 address", "10.0.0.5", net("10.0.0.5/32")),
            ("IPv4 CIDR", "10.0.0.0/24", net("10.0.0.0/24")),
            ("CIDR host bits dropped", "10.0.0.5/24", net("10.0.0.0/24")),
            ("IPv6 address", "fd00::1", net("fd00::1/128")),
            ("IPv6 CIDR", "fd00::/64", net("fd00::/64")),
            (
                "equality",
                "app=web",
                anywhere(selector(&[("app", "web")], vec![])),
            ),
            (
                "double equals",
                "app==web",
                anywhere(selector(&[("app", "web")], vec![])),
            ),
            (
                "inequality is notin of one value",
                "app!=web",
                anywhere(selector(&[], vec![req("app", NotIn(set(&["web"])))])),
            ),
            (
                "set-based and equality",
                "app=web,tier in (a,b)",
                anywhere(selector(
                    &[("app", "web")],
                    vec![req("tier", In(set(&["a", "b"])))],
                )),
            ),
            (
                "does not exist",
                "!canary",
                anywhere(selector(&[], vec![req("canary", DoesNotExist)])),
            ),
            (
                "exists next to another requirement",
                "canary,app=web",
                anywhere(selector(&[("app", "web")], vec![req("canary", Exists)])),
            ),
            (
                "namespace prefix",
                "production:app=web,tier in (a,b)",
                Focus::Selector {
                    namespace: Some("production".into()),
                    selector: selector(&[("app", "web")], vec![req("tier", In(set(&["a", "b"])))]),
                },
            ),
            (
                "every-namespace prefix, lone key",
                "*:canary",
                anywhere(selector(&[], vec![req("canary", Exists)])),
            ),
            (
                "prefixed key with a slash is a selector",
                "app.kubernetes.io/name=web",
                anywhere(selector(&[("app.kubernetes.io/name", "web")], vec![])),
            ),
            (
                "prefixed lone key behind *:",
                "*:example.com/canary",
                anywhere(selector(&[], vec![req("example.com/canary", Exists)])),
            ),
            (
                "conflicting equalities keep both",
                "a=x,a=y",
                anywhere(selector(&[("a", "x")], vec![req("a", In(set(&["y"])))])),
            ),
            (
                "repeated equality once",
                "a=x,a==x",
                anywhere(selector(&[("a", "x")], vec![])),
            ),
        ];
        for (label, spec, want) in cases {
            assert_eq!(Focus::parse(spec), Ok(want), "{label}: {spec:?}");
        }
    }

    /// The good strings and examples of apimachinery's selector tests, and what they become.
    #[test]
    fn kubernetes_selector_examples() {
        use Operator::*;
        let cases: Vec<(&str, Selector)> = vec![
            (
                "x=a,y=b,z=c",
                selector(&[("x", "a"), ("y", "b"), ("z", "c")], vec![]),
            ),
            (
                "x!=a,y=b",
                selector(&[("y", "b")], vec![req("x", NotIn(set(&["a"])))]),
            ),
            ("x=", selector(&[("x", "")], vec![])),
            ("x= ", selector(&[("x", "")], vec![])),
            ("x=,z= ", selector(&[("x", ""), ("z", "")], vec![])),
            ("x= ,z= ", selector(&[("x", ""), ("z", "")], vec![])),
            ("!x", selector(&[], vec![req("x", DoesNotExist)])),
            ("\rx", selector(&[], vec![req("x", Exists)])),
            ("a ", selector(&[], vec![req("a", Exists)])),
            (
                "this-is-a-dns.domain.com/key-with-dash",
                selector(
                    &[],
                    vec![req("this-is-a-dns.domain.com/key-with-dash", Exists)],
                ),
            ),
            (
                "this-is-another-dns.domain.com/key-with-dash in (so,what)",
                selector(
                    &[],
                    vec![req(
                        "this-is-another-dns.domain.com/key-with-dash",
                        In(set(&["so", "what"])),
                    )],
                ),
            ),
            (
                "0.1.2.domain/99 notin (10.10.100.1, tick.tack.clock)",
                selector(
                    &[],
                    vec![req(
                        "0.1.2.domain/99",
                        NotIn(set(&["10.10.100.1", "tick.tack.clock"])),
                    )],
                ),
            ),
            (
                "foo  in\t (abc)",
                selector(&[], vec![req("foo", In(set(&["abc"])))]),
            ),
            (
                "x notin\n (abc)",
                selector(&[], vec![req("x", NotIn(set(&["abc"])))]),
            ),
            (
                "x  notin\t\t\t(abc,def)",
                selector(&[], vec![req("x", NotIn(set(&["abc", "def"])))]),
            ),
            (
                "x in (abc,)",
                selector(&[], vec![req("x", In(set(&["abc", ""])))]),
            ),
            ("x in ()", selector(&[], vec![req("x", In(set(&[""])))])),
            (
                "x notin (abc,,def),bar,z in (),w",
                selector(
                    &[],
                    vec![
                        req("bar", Exists),
                        req("w", Exists),
                        req("x", NotIn(set(&["abc", "", "def"]))),
                        req("z", In(set(&[""]))),
                    ],
                ),
            ),
            (
                "x=a,y!=b,z in (h,i,j)",
                selector(
                    &[("x", "a")],
                    vec![
                        req("y", NotIn(set(&["b"]))),
                        req("z", In(set(&["h", "i", "j"]))),
                    ],
                ),
            ),
            (
                "x notin ( )",
                selector(&[], vec![req("x", NotIn(set(&[""])))]),
            ),
            (
                "x notin (, a)",
                selector(&[], vec![req("x", NotIn(set(&["", "a"])))]),
            ),
            (
                "a in (x,y,notin, z,in)",
                selector(
                    &[],
                    vec![req("a", In(set(&["in", "notin", "x", "y", "z"])))],
                ),
            ),
            ("notin=in", selector(&[("notin", "in")], vec![])),
            (
                "x,y",
                selector(&[], vec![req("x", Exists), req("y", Exists)]),
            ),
            (
                "x=abc,y==jkl,z!=a,z",
                selector(
                    &[("x", "abc"), ("y", "jkl")],
                    vec![req("z", NotIn(set(&["a"]))), req("z", Exists)],
                ),
            ),
        ];
        for (spec, want) in cases {
            // A lone key would be a bare word; `*:` says "a selector, every namespace".
            let focus = Focus::parse(&format!("*:{spec}"));
            assert_eq!(focus, Ok(anywhere(want)), "{spec:?}");
        }
    }

    /// The bad strings of apimachinery's selector tests, and the focus-level mistakes.
    #[test]
    fn refused_specs() {
        let long_key = "a".repeat(64);
        let long_value = format!("app={}", "v".repeat(64));
        let cases: Vec<(&str, &str)> = vec![
            ("x=a||y=b", "`a||y` is not a label value"),
            ("x==a==b", "found `==`"),
            ("!x=a", "found `=`, expected `,` or the end"),
            ("x<a", "`<` is not supported"),
            ("x>1", "`>` is not supported"),
            (
                "x,,y",
                "found `,`, expected a label key or `!key` after `,`",
            ),
            (",x,y", "found `,`, expected a label key or `!key`"),
            ("x nott in (y)", "found `nott`, expected an operator"),
            (
                "a in (xyz),",
                "the selector ends early, expected a label key",
            ),
            ("a in (xyz)b notin ()", "found `b`, expected `,` or the end"),
            ("a in (xyz abc)", "found `abc`, expected `,` or `)`"),
            (
                "a notin(",
                "the selector ends early, expected a value, `,` or `)`",
            ),
            ("a (", "found `(`, expected an operator"),
            ("(", "found `(`, expected a label key"),
            ("a in (x,,)", "found `)`, expected a value or `,`"),
            ("a in x", "found `x`, expected `(`"),
            ("app=web,", "the selector ends early"),
            ("App Name=x", "found `Name`"),
            ("-app=x", "`-app` is not a label key"),
            ("app=web/x", "`web/x` is not a label value"),
            (&long_value, "must be no more than 63 characters"),
            ("", "the focus is empty"),
            ("   ", "the focus is empty"),
            ("web", "`web` is neither NS/NAME"),
            ("shop:", "no label selector after `:`"),
            ("Shop:app=web", "`Shop` is not a namespace name"),
            ("shop/Web", "`Web` is not a pod or workload name"),
            ("shop/", "`` is not a pod or workload name"),
            ("/web", "`` is not a namespace name"),
            ("a/b/c", "one `/`"),
            (
                "example.com/canary",
                "the part before `/` is not a namespace name",
            ),
            ("10.0.0.0/33", "prefix length after `/` must be 0 to 32"),
            ("fd00::/129", "prefix length after `/` must be 0 to 128"),
            ("fe80::zz", "not an IP address"),
        ];
        let long_key_spec = format!("*:{long_key}");
        let cases = cases.into_iter().chain([(
            long_key_spec.as_str(),
            "the name part must be no more than 63",
        )]);
        for (spec, want) in cases {
            let err = Focus::parse(spec).expect_err(spec);
            let text = err.to_string();
            assert!(text.contains(want), "{spec:?}: {text}");
            assert!(text.contains("help: "), "{spec:?}: {text}");
            assert!(err.at.end <= spec.len(), "{spec:?}: {:?}", err.at);
        }
    }

    #[test]
    fn error_points_at_the_offending_text() {
        let cases = [
            ("shop:app=web,tier in (a b)", "b"),
            ("  app=we/b", "we/b"),
            ("Shop:app=web", "Shop"),
            ("shop/Web", "Web"),
            ("x=a||y=b", "a||y"),
            ("app=web,", ""),
        ];
        for (spec, want) in cases {
            let err = Focus::parse(spec).expect_err(spec);
            assert_eq!(&spec[err.at.clone()], want, "{spec:?}");
        }
    }

    #[test]
    fn error_renders_message_and_help() {
        let err = Focus::parse("web").expect_err("bare word");
        assert_eq!(
            err.to_string(),
            "invalid focus `web`: `web` is neither NS/NAME, a label selector nor an address
help: write NS/web for a pod or workload, or *:web for the pods labelled `web`
a focus is one of:
  NS/NAME       a pod, and the pods of the workload NAME (shop/web)
  NS/*          every pod of a namespace (shop/*)
  *             every pod
  SELECTOR      pods matching a label selector, in every namespace (app=web,tier in (a,b))
  NS:SELECTOR   pods of one namespace matching a selector (shop:app=web; *:app for every namespace)
  IP or CIDR    pods and external addresses inside (10.0.0.5, 10.0.0.0/24, fd00::/64)"
        );
    }

    /// `!=` and `notin` pick objects without the key, as `labels.Parse` selectors do
    /// (`Requirement.Matches`: "The operator is DoesNotExist or NotIn and Labels does not have
    /// the Requirement's key").
    #[test]
    fn selector_semantics_follow_kubernetes() {
        type Case = (&'static str, &'static [(&'static str, &'static str)], bool);
        let cases: Vec<Case> = vec![
            ("x=y", &[("x", "y")], true),
            ("x=y,z=w", &[("x", "y"), ("z", "w")], true),
            ("x!=y,z!=w", &[("x", "z"), ("z", "a")], true),
            ("notin=in", &[("notin", "in")], true),
            ("x", &[("x", "z")], true),
            ("!x", &[("y", "z")], true),
            ("x=z", &[], false),
            ("x=y", &[("x", "z")], false),
            ("x=y,z=w", &[("x", "w"), ("z", "w")], false),
            ("x!=y,z!=w", &[("x", "z"), ("z", "w")], false),
            ("x", &[("y", "z")], false),
            ("!x", &[("x", "z")], false),
            ("app!=web", &[], true),
            ("app!=web", &[("app", "web")], false),
            ("app!=web", &[("app", "api")], true),
            ("tier notin (a,b)", &[], true),
            ("tier notin (a,b)", &[("tier", "a")], false),
            ("tier in (a,b)", &[], false),
            ("x=", &[("x", "")], true),
            ("x=", &[], false),
            ("a=x,a=y", &[("a", "x")], false),
        ];
        for (spec, pairs, want) in cases {
            let Ok(Focus::Selector { selector, .. }) = Focus::parse(&format!("*:{spec}")) else {
                panic!("{spec:?} does not parse as a selector");
            };
            assert_eq!(
                selector.matches(&labels(pairs)),
                want,
                "{spec:?} on {pairs:?}"
            );
        }
    }

    #[test]
    fn display_reads_back() {
        let specs = [
            "*",
            "shop/*",
            "shop/web",
            "10.0.0.5",
            "10.0.0.0/24",
            "fd00::/64",
            "app=web",
            "shop:app=web,tier in (a,b),!canary,env notin (,dev),x",
            "a=x,a=y",
            "x=",
            "*:example.com/canary",
        ];
        for spec in specs {
            let focus = Focus::parse(spec).expect(spec);
            let shown = focus.to_string();
            assert_eq!(
                Focus::parse(&shown),
                Ok(focus),
                "{spec:?} shown as {shown:?}"
            );
        }
        assert_eq!(
            Focus::parse("shop: app==web , tier in ( b , a )")
                .unwrap()
                .to_string(),
            "shop:app=web,tier in (a,b)"
        );
    }

    #[test]
    fn only_addresses_match_externals() {
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        let cases = [
            ("10.0.0.0/24", "10.0.0.7", true),
            ("10.0.0.0/24", "10.0.1.7", false),
            ("10.0.0.7", "10.0.0.7", true),
            ("fd00::/64", "fd00::9", true),
            ("fd00::/64", "10.0.0.7", false),
            ("*", "10.0.0.7", false),
            ("shop/*", "10.0.0.7", false),
            ("app=web", "10.0.0.7", false),
        ];
        for (spec, address, want) in cases {
            let focus = Focus::parse(spec).unwrap();
            assert_eq!(focus.matches_ip(ip(address)), want, "{spec} / {address}");
        }
    }
}
