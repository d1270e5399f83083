//! Field paths in kdrift's syntax: dotted from the object root, map keys that are not
//! plain identifiers quoted (`metadata.labels['app.kubernetes.io/name']`), keyed list items by
//! their merge keys (`containers[name=web]`, `ports[port=53,protocol=TCP]`), unkeyed items by
//! index (`endpoints[0]`). Also the patterns of ignore rules, which may use `*` for any one
//! field and `[*]` for any one item. Pure.

use std::fmt;

/// One step of a path.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Segment {
    /// A map key.
    Field(String),
    /// A keyed list item, by its merge keys in the API's order.
    Item(Vec<(String, String)>),
    /// An unkeyed list item, by position.
    Index(usize),
    /// Patterns only: any one segment (`*` or `[*]`).
    Any,
}

/// A path from the object root.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct FieldPath(pub Vec<Segment>);

/// Why a path text could not be read.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("bad field path {text:?} at character {at}: {reason}")]
pub struct PathError {
    pub text: String,
    pub at: usize,
    pub reason: &'static str,
}

impl FieldPath {
    pub fn root() -> Self {
        FieldPath(Vec::new())
    }

    pub fn is_root(&self) -> bool {
        self.0.is_empty()
    }

    /// A new path one segment deeper.
    pub fn child(&self, segment: Segment) -> Self {
        let mut v = Vec::with_capacity(self.0.len() + 1);
        v.extend_from_slice(&self.0);
        v.push(segment);
        FieldPath(v)
    }

    pub fn field(&self, name: &str) -> Self {
        self.child(Segment::Field(name.to_string()))
    }

    /// The last map key on the path, if the path ends in one.
    pub fn last_field(&self) -> Option<&str> {
        match self.0.last() {
            Some(Segment::Field(f)) => Some(f),
            _ => None,
        }
    }

    /// The field names along the path, items and indexes left out
    /// (`spec.template.spec.containers[name=a].image` → spec, template, spec, containers, image).
    pub fn field_names(&self) -> impl Iterator<Item = &str> {
        self.0.iter().filter_map(|s| match s {
            Segment::Field(f) => Some(f.as_str()),
            _ => None,
        })
    }

    /// The value at this path in `v`, if it is there (keyed items matched by their keys'
    /// values as text).
    pub fn lookup<'a>(&self, v: &'a serde_json::Value) -> Option<&'a serde_json::Value> {
        let mut cur = v;
        for seg in &self.0 {
            cur = match seg {
                Segment::Field(f) => cur.get(f)?,
                Segment::Index(i) => cur.get(*i)?,
                Segment::Item(keys) => cur.as_array()?.iter().find(|item| {
                    keys.iter().all(|(k, want)| match item.get(k) {
                        Some(serde_json::Value::String(s)) => s == want,
                        Some(other) => other.to_string().eq(want),
                        None => false,
                    })
                })?,
                Segment::Any => return None,
            };
        }
        Some(cur)
    }

    /// Whether this path, read as a pattern, covers `path`: it is a prefix of it, `Any`
    /// matching any one segment.
    pub fn covers(&self, path: &FieldPath) -> bool {
        self.0.len() <= path.0.len()
            && self
                .0
                .iter()
                .zip(&path.0)
                .all(|(p, s)| *p == Segment::Any || p == s)
    }

    /// Reads a path (or a pattern, when `*` and `[*]` are used).
    pub fn parse(text: &str) -> Result<Self, PathError> {
        Parser {
            text,
            chars: text.char_indices().collect(),
            pos: 0,
        }
        .parse()
    }
}

fn is_plain(key: &str) -> bool {
    !key.is_empty()
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-' || c == '$')
        && key != "*"
}

fn write_quoted(f: &mut fmt::Formatter<'_>, s: &str) -> fmt::Result {
    f.write_str("'")?;
    for c in s.chars() {
        if c == '\'' || c == '\\' {
            f.write_str("\\")?;
        }
        write!(f, "{c}")?;
    }
    f.write_str("'")
}

fn needs_quotes_in_item(v: &str) -> bool {
    v.is_empty()
        || v == "*"
        || v.chars()
            .any(|c| matches!(c, ',' | ']' | '[' | '=' | '\'' | '\\') || c.is_whitespace())
}

impl fmt::Display for FieldPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, seg) in self.0.iter().enumerate() {
            match seg {
                Segment::Field(k) if is_plain(k) => {
                    if i > 0 {
                        f.write_str(".")?;
                    }
                    f.write_str(k)?;
                }
                Segment::Field(k) => {
                    f.write_str("[")?;
                    write_quoted(f, k)?;
                    f.write_str("]")?;
                }
                Segment::Item(keys) => {
                    f.write_str("[")?;
                    for (j, (k, v)) in keys.iter().enumerate() {
                        if j > 0 {
                            f.write_str(",")?;
                        }
                        write!(f, "{k}=")?;
                        if needs_quotes_in_item(v) {
                            write_quoted(f, v)?;
                        } else {
                            f.write_str(v)?;
                        }
                    }
                    f.write_str("]")?;
                }
                Segment::Index(n) => write!(f, "[{n}]")?,
                Segment::Any => {
                    if i > 0 {
                        f.write_str(".")?;
                    }
                    f.write_str("*")?;
                }
            }
        }
        Ok(())
    }
}

struct Parser<'a> {
    text: &'a str,
    chars: Vec<(usize, char)>,
    pos: usize,
}

impl Parser<'_> {
    fn err(&self, reason: &'static str) -> PathError {
        PathError {
            text: self.text.to_string(),
            at: self.pos,
            reason,
        }
    }

    fn peek(&self) -> Option<char> {
        self.chars.get(self.pos).map(|&(_, c)| c)
    }

    fn bump(&mut self) -> Option<char> {
        let c = self.peek();
        self.pos += 1;
        c
    }

    fn expect(&mut self, c: char, reason: &'static str) -> Result<(), PathError> {
        if self.bump() == Some(c) {
            Ok(())
        } else {
            self.pos -= 1;
            Err(self.err(reason))
        }
    }

    fn parse(mut self) -> Result<FieldPath, PathError> {
        let mut segs = Vec::new();
        if self.chars.is_empty() {
            return Err(self.err("empty path"));
        }
        let mut first = true;
        while let Some(c) = self.peek() {
            match c {
                '[' => {
                    self.bump();
                    segs.push(self.bracket()?);
                }
                '.' if !first => {
                    self.bump();
                    segs.push(self.ident()?);
                }
                _ if first => segs.push(self.ident()?),
                _ => return Err(self.err("expected '.' or '['")),
            }
            first = false;
        }
        Ok(FieldPath(segs))
    }

    fn ident(&mut self) -> Result<Segment, PathError> {
        if self.peek() == Some('*') {
            self.bump();
            return Ok(Segment::Any);
        }
        let mut s = String::new();
        while let Some(c) = self.peek() {
            if c.is_ascii_alphanumeric() || c == '_' || c == '-' || c == '$' {
                s.push(c);
                self.bump();
            } else {
                break;
            }
        }
        if s.is_empty() {
            return Err(self.err("expected a field name"));
        }
        Ok(Segment::Field(s))
    }

    fn quoted(&mut self) -> Result<String, PathError> {
        self.expect('\'', "expected a quote")?;
        let mut s = String::new();
        loop {
            match self.bump() {
                None => return Err(self.err("unterminated quote")),
                Some('\\') => match self.bump() {
                    Some(c) => s.push(c),
                    None => return Err(self.err("unterminated escape")),
                },
                Some('\'') => return Ok(s),
                Some(c) => s.push(c),
            }
        }
    }

    fn bracket(&mut self) -> Result<Segment, PathError> {
        match self.peek() {
            Some('\'') => {
                let k = self.quoted()?;
                self.expect(']', "expected ']'")?;
                Ok(Segment::Field(k))
            }
            Some('*') => {
                self.bump();
                self.expect(']', "expected ']'")?;
                Ok(Segment::Any)
            }
            Some(c) if c.is_ascii_digit() => {
                let mut n = String::new();
                while let Some(c) = self.peek().filter(|c| c.is_ascii_digit()) {
                    n.push(c);
                    self.bump();
                }
                self.expect(']', "expected ']' after an index")?;
                n.parse()
                    .map(Segment::Index)
                    .map_err(|_| self.err("index too large"))
            }
            _ => {
                let mut keys = Vec::new();
                loop {
                    let mut k = String::new();
                    while let Some(c) = self.peek().filter(|&c| c != '=' && c != ']') {
                        k.push(c);
                        self.bump();
                    }
                    if k.is_empty() {
                        return Err(self.err("expected a key name"));
                    }
                    self.expect('=', "expected '=' in an item selector")?;
                    let v = if self.peek() == Some('\'') {
                        self.quoted()?
                    } else {
                        let mut v = String::new();
                        while let Some(c) = self.peek().filter(|&c| c != ',' && c != ']') {
                            v.push(c);
                            self.bump();
                        }
                        v
                    };
                    keys.push((k, v));
                    match self.bump() {
                        Some(',') => continue,
                        Some(']') => break,
                        _ => {
                            self.pos -= 1;
                            return Err(self.err("expected ',' or ']'"));
                        }
                    }
                }
                Ok(Segment::Item(keys))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn p(s: &str) -> FieldPath {
        FieldPath::parse(s).unwrap()
    }

    #[test]
    fn design_examples_round_trip() {
        for s in [
            "metadata.labels['app.kubernetes.io/name']",
            "data['.dockerconfigjson']",
            "spec.template.spec.containers[name=web].image",
            "spec.ports[port=53,protocol=TCP].targetPort",
            "subjects",
            "spec.endpoints[0].port",
            "spec.template.spec.containers[name=a].volumeMounts[mountPath=/data]",
        ] {
            assert_eq!(p(s).to_string(), s);
        }
    }

    #[test]
    fn display_quotes_what_is_not_an_identifier() {
        let path = FieldPath::root().field("data").field("a.b");
        assert_eq!(path.to_string(), "data['a.b']");
        let path = FieldPath::root().field("x").field("it's");
        assert_eq!(path.to_string(), "x['it\\'s']");
    }

    #[test]
    fn patterns_cover_prefixes_and_wildcards() {
        let pat = p("spec.template.spec.containers[*].image");
        assert!(pat.covers(&p("spec.template.spec.containers[name=web].image")));
        assert!(!pat.covers(&p("spec.template.spec.containers[name=web].env")));
        assert!(p("metadata.annotations").covers(&p("metadata.annotations['a/b']")));
        assert!(p("*.replicas").covers(&p("spec.replicas")));
    }

    #[test]
    fn bad_paths_are_errors() {
        for s in ["", "a..b", "a[", "a['x", "a[k]", "a[k=v", ".a"] {
            assert!(FieldPath::parse(s).is_err(), "{s}");
        }
    }

    fn segment() -> impl Strategy<Value = Segment> {
        prop_oneof![
            "[a-zA-Z_][a-zA-Z0-9_-]{0,8}".prop_map(Segment::Field),
            "\\PC{0,10}".prop_map(Segment::Field),
            prop::collection::vec(("[a-zA-Z]{1,8}", "\\PC{0,8}"), 1..3).prop_map(Segment::Item),
            (0usize..1000).prop_map(Segment::Index),
        ]
    }

    proptest! {
        #[test]
        fn display_then_parse_is_identity(first in "[a-z][a-zA-Z0-9]{0,6}", rest in prop::collection::vec(segment(), 0..6)) {
            let mut segs = vec![Segment::Field(first)];
            segs.extend(rest);
            let path = FieldPath(segs);
            let text = path.to_string();
            prop_assert_eq!(FieldPath::parse(&text).unwrap(), path);
        }
    }
}
