//! One-line double-quoted strings, for the fast readers ([`super::json_text`] and
//! [`super::block_yaml`]): a JSON string and a YAML double-quoted scalar on one line read alike
//! for the escapes both languages define. Anything else is left to the YAML parser, which reads
//! it (or refuses it) exactly.

/// The string whose opening `"` is just before `text`: its value and the bytes it took,
/// closing quote included. `None` for an escape outside `\" \\ \/ \b \f \n \r \t \0 \uXXXX`, a
/// `\u` naming no character (a surrogate: JSON's pairs are not YAML's), a raw control
/// character or DEL (not JSON, not printable YAML), or no closing quote.
pub(super) fn body(text: &str) -> Option<(String, usize)> {
    let bytes = text.as_bytes();
    let mut out = String::new();
    let mut run = 0;
    let mut at = 0;
    loop {
        match *bytes.get(at)? {
            b'"' => {
                out.push_str(text.get(run..at)?);
                return Some((out, at + 1));
            }
            b'\\' => {
                out.push_str(text.get(run..at)?);
                let escaped = *bytes.get(at + 1)?;
                at += 2;
                let decoded = match escaped {
                    b'"' => '"',
                    b'\\' => '\\',
                    b'/' => '/',
                    b'b' => '\u{8}',
                    b'f' => '\u{c}',
                    b'n' => '\n',
                    b'r' => '\r',
                    b't' => '\t',
                    b'0' => '\0',
                    b'u' => {
                        let hex = text.get(at..at + 4)?;
                        if !hex.bytes().all(|h| h.is_ascii_hexdigit()) {
                            return None;
                        }
                        at += 4;
                        char::from_u32(u32::from_str_radix(hex, 16).ok()?)?
                    }
                    _ => return None,
                };
                out.push(decoded);
                run = at;
            }
            0..=0x1f | 0x7f => return None,
            _ => at += 1,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::body;

    #[test]
    fn escapes_both_languages_share_are_decoded_and_the_rest_refused() {
        let read: &[(&str, Option<(&str, usize)>)] = &[
            (r#"plain" tail"#, Some(("plain", 6))),
            (r#"a\"b\\c\/d" x"#, Some(("a\"b\\c/d", 11))),
            (r#"\b\f\n\r\t\0""#, Some(("\u{8}\u{c}\n\r\t\0", 13))),
            (r#"\u00e9\u20AC""#, Some(("é€", 13))),
            (r#"é""#, Some(("é", 3))),
            (r#"\ud83d\ude00""#, None),
            (r#"\x41""#, None),
            (r#"\e""#, None),
            (r#"\u12"#, None),
            ("tab\there\"", None),
            ("del\u{7f}\"", None),
            (r#"no end"#, None),
            (r#"ends in \"#, None),
        ];
        for (text, want) in read {
            let got = body(text);
            assert_eq!(
                got.as_ref().map(|(s, n)| (s.as_str(), *n)),
                *want,
                "{text:?}"
            );
        }
    }
}
