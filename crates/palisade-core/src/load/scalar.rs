//! Scalar typing the way kubectl does it.
//!
//! kubectl turns YAML into JSON with `sigs.k8s.io/yaml`, which decodes with its fork of go-yaml
//! v2 (YAML 1.1 rules) into `interface{}` and then marshals JSON. So a plain `yes` is the
//! boolean true, `080` is the number 80 and `1_000` is 1000, and the API server only ever sees
//! the result. This module reproduces go-yaml v2's `resolve()` for plain scalars (the order of
//! its checks matters: the fixed table first, then integers, then floats), Go's
//! `strconv.ParseInt(s, 0, 64)` and `ParseFloat` on the way, and the formatting
//! `sigs.k8s.io/yaml` uses to turn a non-string map key into a string.

use super::tree::Value;

/// Types a plain (unquoted, untagged) scalar as go-yaml v2's `resolve("", s)` does.
pub fn resolve_plain(s: &str) -> Value {
    if let Some(v) = fixed_table(s) {
        return v;
    }
    match s.as_bytes().first() {
        Some(b'.') => match go_parse_float(s) {
            Some(f) => Value::Float(f),
            None => Value::Str(s.to_string()),
        },
        Some(b'0'..=b'9' | b'+' | b'-') => {
            resolve_number(s).unwrap_or_else(|| Value::Str(s.to_string()))
        }
        _ => Value::Str(s.to_string()),
    }
}

/// go-yaml v2's `resolve_map`: YAML 1.1 booleans, nulls and the special floats.
fn fixed_table(s: &str) -> Option<Value> {
    Some(match s {
        "" | "~" | "null" | "Null" | "NULL" => Value::Null,
        "y" | "Y" | "yes" | "Yes" | "YES" | "true" | "True" | "TRUE" | "on" | "On" | "ON" => {
            Value::Bool(true)
        }
        "n" | "N" | "no" | "No" | "NO" | "false" | "False" | "FALSE" | "off" | "Off" | "OFF" => {
            Value::Bool(false)
        }
        ".nan" | ".NaN" | ".NAN" => Value::Float(f64::NAN),
        ".inf" | ".Inf" | ".INF" | "+.inf" | "+.Inf" | "+.INF" => Value::Float(f64::INFINITY),
        "-.inf" | "-.Inf" | "-.INF" => Value::Float(f64::NEG_INFINITY),
        _ => return None,
    })
}

/// The digit-or-sign branch of go-yaml v2's `resolve`. Timestamps are tried first there, but
/// decoding into `interface{}` turns them back into strings and no timestamp is also a
/// number, so they need no case here.
fn resolve_number(s: &str) -> Option<Value> {
    // go-yaml strips every underscore before handing the text to strconv.
    let plain: String = s.chars().filter(|&c| c != '_').collect();
    if let Some(i) = go_parse_int(&plain) {
        return Some(int_value(i));
    }
    if is_yaml_style_float(&plain)
        && let Some(f) = go_parse_float(&plain)
    {
        return Some(Value::Float(f));
    }
    // go-yaml's extra binary forms: `0b` followed by what ParseInt(_, 2, 64) accepts (so a
    // sign after the prefix is allowed), and `-0b...`.
    if let Some(rest) = plain.strip_prefix("0b") {
        return parse_signed_radix(rest, 2).map(int_value);
    }
    if let Some(rest) = plain.strip_prefix("-0b") {
        return parse_signed_radix(&format!("-{rest}"), 2).map(int_value);
    }
    None
}

/// Values beyond `i64` (only `ParseUint` accepts them) are kept as floats: the tree has no
/// unsigned integers and no Kubernetes field of the kinds palisade reads is that wide.
fn int_value(i: i128) -> Value {
    match i64::try_from(i) {
        Ok(v) => Value::Int(v),
        Err(_) => Value::Float(i as f64),
    }
}

/// `strconv.ParseInt(s, 0, 64)`, falling back to `ParseUint(s, 0, 64)` as go-yaml does.
fn go_parse_int(s: &str) -> Option<i128> {
    let (neg, unsigned) = match s.as_bytes().first()? {
        b'+' => (false, &s[1..]),
        b'-' => (true, &s[1..]),
        _ => (false, s),
    };
    let magnitude = go_parse_uint_base0(unsigned)?;
    let signed = if neg {
        -(magnitude as i128)
    } else {
        magnitude as i128
    };
    if i64::try_from(signed).is_ok() {
        return Some(signed);
    }
    // Only the unsigned parse (no sign allowed) reaches past i64::MAX.
    (s == unsigned).then_some(signed)
}

/// `strconv.ParseUint(s, 0, 64)` without underscores: `0x`, `0o`, `0b` prefixes (only when
/// something follows them) and a bare leading `0` for octal.
fn go_parse_uint_base0(s: &str) -> Option<u64> {
    if s.is_empty() {
        return None;
    }
    let b = s.as_bytes();
    let (radix, digits) = if b[0] == b'0' {
        match b.get(1).map(u8::to_ascii_lowercase) {
            Some(b'x') if b.len() >= 3 => (16, &s[2..]),
            Some(b'o') if b.len() >= 3 => (8, &s[2..]),
            Some(b'b') if b.len() >= 3 => (2, &s[2..]),
            _ => (8, &s[1..]),
        }
    } else {
        (10, s)
    };
    parse_digits(digits, radix)
}

/// Digits only (an empty string is zero, as after Go's octal `0` prefix), with overflow
/// checked.
fn parse_digits(digits: &str, radix: u32) -> Option<u64> {
    let mut n: u64 = 0;
    for c in digits.chars() {
        let d = c.to_digit(radix)?;
        n = n.checked_mul(u64::from(radix))?.checked_add(u64::from(d))?;
    }
    Some(n)
}

/// `strconv.ParseInt(s, radix, 64)` for an explicit radix: an optional sign, then at least one
/// digit.
fn parse_signed_radix(s: &str, radix: u32) -> Option<i128> {
    let (neg, digits) = match s.as_bytes().first()? {
        b'+' => (false, &s[1..]),
        b'-' => (true, &s[1..]),
        _ => (false, s),
    };
    if digits.is_empty() {
        return None;
    }
    let m = i128::from(parse_digits(digits, radix)?);
    let v = if neg { -m } else { m };
    i64::try_from(v).ok().map(i128::from)
}

/// go-yaml v2's `yamlStyleFloat`: `^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$`.
fn is_yaml_style_float(s: &str) -> bool {
    let b = s.as_bytes();
    let mut i = 0;
    if matches!(b.first(), Some(b'+' | b'-')) {
        i += 1;
    }
    let digits = |i: &mut usize| {
        let start = *i;
        while b.get(*i).is_some_and(u8::is_ascii_digit) {
            *i += 1;
        }
        *i - start
    };
    if b.get(i) == Some(&b'.') {
        i += 1;
        if digits(&mut i) == 0 {
            return false;
        }
    } else {
        if digits(&mut i) == 0 {
            return false;
        }
        if b.get(i) == Some(&b'.') {
            i += 1;
            digits(&mut i);
        }
    }
    if matches!(b.get(i), Some(b'e' | b'E')) {
        i += 1;
        if matches!(b.get(i), Some(b'+' | b'-')) {
            i += 1;
        }
        if digits(&mut i) == 0 {
            return false;
        }
    }
    i == b.len()
}

/// `strconv.ParseFloat(s, 64)` for the decimal forms go-yaml can hand it. An out-of-range
/// value is an error in Go (so the scalar stays a string); Go accepts `_` between digits.
fn go_parse_float(s: &str) -> Option<f64> {
    let cleaned;
    let text = if s.contains('_') {
        if !go_underscore_ok(s) {
            return None;
        }
        cleaned = s.replace('_', "");
        cleaned.as_str()
    } else {
        s
    };
    // Rust also accepts words like `inf` and `nan`; Go's decimal grammar here does not.
    if !text
        .bytes()
        .all(|c| c.is_ascii_digit() || matches!(c, b'.' | b'e' | b'E' | b'+' | b'-'))
    {
        return None;
    }
    let f: f64 = text.parse().ok()?;
    f.is_finite().then_some(f)
}

/// Go's `underscoreOK`: an underscore only between two digits.
fn go_underscore_ok(s: &str) -> bool {
    let s = s.strip_prefix(['+', '-']).unwrap_or(s);
    let mut saw = '^';
    for c in s.chars() {
        if c.is_ascii_digit() {
            saw = '0';
        } else if c == '_' {
            if saw != '0' {
                return false;
            }
            saw = '_';
        } else {
            if saw == '_' {
                return false;
            }
            saw = '!';
        }
    }
    saw != '_'
}

/// The YAML 1.1 types an explicit core tag can ask for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CoreScalarTag {
    Str,
    Int,
    Float,
    Bool,
    Null,
}

/// Applies an explicit scalar tag the way go-yaml v2's `resolve(tag, s)` does: `!!str` keeps
/// the text, the others resolve it and insist on the result (`!!float` also takes integers).
pub fn resolve_tagged(tag: CoreScalarTag, s: &str) -> Result<Value, String> {
    if tag == CoreScalarTag::Str {
        return Ok(Value::Str(s.to_string()));
    }
    let resolved = resolve_plain(s);
    let ok = match (tag, &resolved) {
        (CoreScalarTag::Int, Value::Int(_)) => true,
        // An integer beyond i64 is stored as a float but is still an integer to go-yaml.
        (CoreScalarTag::Int, Value::Float(f)) => {
            f.fract() == 0.0 && go_parse_int(&s.replace('_', "")).is_some()
        }
        (CoreScalarTag::Float, Value::Float(_)) => true,
        (CoreScalarTag::Float, Value::Int(i)) => return Ok(Value::Float(*i as f64)),
        (CoreScalarTag::Bool, Value::Bool(_)) => true,
        (CoreScalarTag::Null, Value::Null) => true,
        _ => false,
    };
    if ok {
        Ok(resolved)
    } else {
        Err(format!("`{s}` is not {}", tag.describe()))
    }
}

impl CoreScalarTag {
    pub fn describe(self) -> &'static str {
        match self {
            CoreScalarTag::Str => "a string",
            CoreScalarTag::Int => "an integer",
            CoreScalarTag::Float => "a number",
            CoreScalarTag::Bool => "a boolean",
            CoreScalarTag::Null => "null",
        }
    }
}

/// The JSON object key `sigs.k8s.io/yaml` makes of a non-string map key; `None` for keys it
/// rejects (null).
pub fn key_string(v: &Value) -> Option<String> {
    match v {
        Value::Str(s) => Some(s.clone()),
        Value::Bool(b) => Some(b.to_string()),
        Value::Int(i) => Some(i.to_string()),
        Value::Float(f) => Some(go_format_float_key(*f)),
        Value::Null | Value::Seq(_) | Value::Map(_) => None,
    }
}

/// `strconv.FormatFloat(f, 'g', -1, 32)` plus the `.inf`/`.nan` spellings, as in
/// `sigs.k8s.io/yaml`'s key conversion.
fn go_format_float_key(f: f64) -> String {
    if f.is_nan() {
        return ".nan".to_string();
    }
    let single = f as f32;
    if single.is_infinite() {
        return if single > 0.0 { ".inf" } else { "-.inf" }.to_string();
    }
    // Rust's `{:e}` prints the shortest digits that round-trip, as Go's shortest mode does.
    let sci = format!("{single:e}");
    let (mantissa, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let (neg, mantissa) = match mantissa.strip_prefix('-') {
        Some(m) => (true, m),
        None => (false, mantissa),
    };
    let digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
    let sign = if neg { "-" } else { "" };
    // Go's 'g' with the shortest precision switches to exponent form outside [-4, 6).
    if !(-4..6).contains(&exp) {
        let (first, rest) = digits.split_at(1.min(digits.len()));
        let frac = if rest.is_empty() {
            String::new()
        } else {
            format!(".{rest}")
        };
        let esign = if exp < 0 { '-' } else { '+' };
        return format!("{sign}{first}{frac}e{esign}{:02}", exp.abs());
    }
    let point = exp + 1; // digits before the decimal point
    let n = digits.len() as i32;
    let body = if point <= 0 {
        format!("0.{}{digits}", "0".repeat((-point) as usize))
    } else if point >= n {
        format!("{digits}{}", "0".repeat((point - n) as usize))
    } else {
        let (int_part, frac_part) = digits.split_at(point as usize);
        format!("{int_part}.{frac_part}")
    };
    format!("{sign}{body}")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Pins go-yaml v2's `resolve()` (gopkg.in/yaml.v2 resolve.go, vendored by kubectl as
    /// sigs.k8s.io/yaml/goyaml.v2) for plain scalars.
    #[test]
    fn plain_scalars_are_typed_like_go_yaml_v2() {
        use Value::*;
        let table: &[(&str, Value)] = &[
            // nulls
            ("", Null),
            ("~", Null),
            ("null", Null),
            ("Null", Null),
            ("NULL", Null),
            ("nULL", Str("nULL".into())),
            // YAML 1.1 booleans, every spelling go-yaml lists
            ("y", Bool(true)),
            ("Y", Bool(true)),
            ("yes", Bool(true)),
            ("Yes", Bool(true)),
            ("YES", Bool(true)),
            ("true", Bool(true)),
            ("True", Bool(true)),
            ("TRUE", Bool(true)),
            ("on", Bool(true)),
            ("On", Bool(true)),
            ("ON", Bool(true)),
            ("n", Bool(false)),
            ("N", Bool(false)),
            ("no", Bool(false)),
            ("No", Bool(false)),
            ("NO", Bool(false)),
            ("false", Bool(false)),
            ("False", Bool(false)),
            ("FALSE", Bool(false)),
            ("off", Bool(false)),
            ("Off", Bool(false)),
            ("OFF", Bool(false)),
            ("yEs", Str("yEs".into())),
            ("tRUE", Str("tRUE".into())),
            // integers
            ("0", Int(0)),
            ("-0", Int(0)),
            ("+12", Int(12)),
            ("-12", Int(-12)),
            ("1_000", Int(1000)),
            ("0x1F", Int(31)),
            ("0X1f", Int(31)),
            ("-0x10", Int(-16)),
            ("0o17", Int(15)),
            ("017", Int(15)),
            ("0b101", Int(5)),
            ("-0b101", Int(-5)),
            ("0b-101", Int(-5)),
            ("9223372036854775807", Int(i64::MAX)),
            ("-9223372036854775808", Int(i64::MIN)),
            // leading-zero decimals are not octal, but the float regexp takes them
            ("080", Float(80.0)),
            ("09", Float(9.0)),
            // floats
            ("1.5", Float(1.5)),
            ("1.", Float(1.0)),
            (".5", Float(0.5)),
            ("-.5", Float(-0.5)),
            ("1e3", Float(1000.0)),
            ("6.02E+23", Float(6.02e23)),
            ("1_0.5", Float(10.5)),
            ("99999999999999999999", Float(1e20)),
            (".inf", Float(f64::INFINITY)),
            ("-.Inf", Float(f64::NEG_INFINITY)),
            ("+.INF", Float(f64::INFINITY)),
            // strings
            ("0x", Str("0x".into())),
            ("0b", Str("0b".into())),
            ("1e999", Str("1e999".into())),
            ("1.2.3", Str("1.2.3".into())),
            ("10.0.0.0/8", Str("10.0.0.0/8".into())),
            ("2001-12-14", Str("2001-12-14".into())),
            ("12:30", Str("12:30".into())),
            ("inf", Str("inf".into())),
            ("nan", Str("nan".into())),
            (".", Str(".".into())),
            ("+", Str("+".into())),
            ("-", Str("-".into())),
            ("_1", Str("_1".into())),
            ("TCP", Str("TCP".into())),
            ("<<", Str("<<".into())),
        ];
        for (input, want) in table {
            assert_eq!(&resolve_plain(input), want, "plain scalar {input:?}");
        }
        assert!(matches!(resolve_plain(".nan"), Float(f) if f.is_nan()));
        assert!(matches!(resolve_plain(".NaN"), Float(f) if f.is_nan()));
    }

    #[test]
    fn explicit_tags_resolve_and_insist() {
        use CoreScalarTag as T;
        assert_eq!(resolve_tagged(T::Str, "yes"), Ok(Value::Str("yes".into())));
        assert_eq!(resolve_tagged(T::Int, "0x10"), Ok(Value::Int(16)));
        assert_eq!(resolve_tagged(T::Float, "3"), Ok(Value::Float(3.0)));
        assert_eq!(resolve_tagged(T::Bool, "on"), Ok(Value::Bool(true)));
        assert_eq!(resolve_tagged(T::Null, "~"), Ok(Value::Null));
        let err = resolve_tagged(T::Int, "abc").unwrap_err();
        assert!(err.contains("`abc` is not an integer"), "{err}");
        assert!(resolve_tagged(T::Bool, "1").is_err());
    }

    /// `sigs.k8s.io/yaml` yaml.go `convertToJSONableObject`: keys go through
    /// strconv.Itoa / FormatFloat(f, 'g', -1, 32) / "true" / "false".
    #[test]
    fn non_string_keys_become_strings() {
        let cases: &[(Value, Option<&str>)] = &[
            (Value::Int(80), Some("80")),
            (Value::Bool(true), Some("true")),
            (Value::Float(1.5), Some("1.5")),
            (Value::Float(1000.0), Some("1000")),
            (Value::Float(1e6), Some("1e+06")),
            (Value::Float(0.0001), Some("0.0001")),
            (Value::Float(0.00001), Some("1e-05")),
            (Value::Float(123456.7), Some("123456.7")),
            (Value::Float(0.1), Some("0.1")),
            (Value::Float(f64::INFINITY), Some(".inf")),
            (Value::Float(f64::NEG_INFINITY), Some("-.inf")),
            (Value::Float(f64::NAN), Some(".nan")),
            (Value::Null, None),
        ];
        for (v, want) in cases {
            assert_eq!(key_string(v).as_deref(), *want, "key {v:?}");
        }
    }
}
