//! Field paths inside an object, written the way `kubectl explain` and the API server's error
//! messages write them: `spec.egress[1].to[0].ipBlock.cidr`.

use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Segment {
    Field(String),
    Index(usize),
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FieldPath(pub Vec<Segment>);

impl FieldPath {
    pub fn root() -> FieldPath {
        FieldPath(Vec::new())
    }

    /// Parses `spec.egress[1].to`; also accepts serde's dotted indices (`spec.egress.1.to`).
    pub fn parse(s: &str) -> FieldPath {
        let mut segments = Vec::new();
        for part in s.split('.').filter(|p| !p.is_empty()) {
            let (name, mut rest) = match part.find('[') {
                Some(i) => (&part[..i], &part[i..]),
                None => (part, ""),
            };
            if !name.is_empty() {
                match name.parse::<usize>() {
                    Ok(i) => segments.push(Segment::Index(i)),
                    Err(_) => segments.push(Segment::Field(name.to_string())),
                }
            }
            while let Some(stripped) = rest.strip_prefix('[') {
                let end = stripped.find(']').unwrap_or(stripped.len());
                if let Ok(i) = stripped[..end].parse::<usize>() {
                    segments.push(Segment::Index(i));
                }
                rest = stripped.get(end + 1..).unwrap_or("");
            }
        }
        FieldPath(segments)
    }

    pub fn field(&self, name: &str) -> FieldPath {
        let mut p = self.clone();
        p.0.push(Segment::Field(name.to_string()));
        p
    }

    pub fn index(&self, i: usize) -> FieldPath {
        let mut p = self.clone();
        p.0.push(Segment::Index(i));
        p
    }

    pub fn join(&self, other: &FieldPath) -> FieldPath {
        let mut p = self.clone();
        p.0.extend(other.0.iter().cloned());
        p
    }

    pub fn is_root(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Display for FieldPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, seg) in self.0.iter().enumerate() {
            match seg {
                Segment::Field(name) if i == 0 => f.write_str(name)?,
                Segment::Field(name) => write!(f, ".{name}")?,
                Segment::Index(idx) => write!(f, "[{idx}]")?,
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_prints_both_spellings() {
        for input in ["spec.egress[1].to[0].ipBlock", "spec.egress.1.to.0.ipBlock"] {
            assert_eq!(
                FieldPath::parse(input).to_string(),
                "spec.egress[1].to[0].ipBlock"
            );
        }
        assert_eq!(FieldPath::parse("items[3]").to_string(), "items[3]");
        assert!(FieldPath::parse("").is_root());
    }
}
