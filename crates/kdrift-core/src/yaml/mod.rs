//! Reading YAML and JSON manifests the way kubectl does (sigs.k8s.io/yaml on go-yaml v2):
//! documents split on `---` lines, YAML 1.1 readings of plain scalars (`0644` is 420, `yes`
//! is true), anchors, aliases and `<<` merge keys (explicit keys win), duplicate keys refused.
//! Produces `serde_json::Value`, the JSON kubectl would send. Pure: text in, values out.

mod fast;

use serde_json::{Map, Number, Value};
use std::collections::HashMap;
use yaml_rust2::parser::{Event, MarkedEventReceiver, Parser};
use yaml_rust2::scanner::{Marker, TScalarStyle};

/// The deepest nesting of mappings and sequences read: serde_json's own limit for JSON (it reads
/// no 128th level), which also reads packed objects back (`model::Packed`).
pub const MAX_DEPTH: usize = 127;

/// The most values one document may hold once its aliases are expanded: a few kilobytes of
/// anchors and aliases can otherwise stand for billions of values (an "alias bomb").
pub const MAX_EXPANDED_VALUES: usize = 1_000_000;

/// The first character YAML does not allow in a stream (C0 controls other than tab, line
/// feed and carriage return; DEL; C1 controls other than NEL; U+FFFE and U+FFFF), with its
/// 1-based line. kubectl's reader refuses such text; read leniently, a NUL cuts a value short.
pub fn forbidden_character(text: &str) -> Option<(usize, char)> {
    let bad = |c: char| matches!(c, '\u{0}'..='\u{8}' | '\u{b}' | '\u{c}' | '\u{e}'..='\u{1f}' | '\u{7f}'..='\u{84}' | '\u{86}'..='\u{9f}' | '\u{fffe}' | '\u{ffff}');
    // Most texts have none: bytes that cannot start one rule it out without decoding.
    let maybe = |b: u8| {
        (b < 0x20 && !matches!(b, b'\t' | b'\n' | b'\r')) || matches!(b, 0x7f | 0xc2 | 0xef)
    };
    if !text.bytes().any(maybe) {
        return None;
    }
    let at = text.find(bad)?;
    let c = text[at..].chars().next()?;
    Some((1 + text[..at].matches('\n').count(), c))
}

/// The text without a leading UTF-8 byte-order mark.
pub fn strip_bom(text: &str) -> &str {
    text.strip_prefix('\u{feff}').unwrap_or(text)
}

/// A failure to read one document, with the 1-based line in the whole file.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("line {line}: {message}")]
pub struct ParseError {
    pub line: usize,
    pub message: String,
}

/// One document of a multi-document file: its text and the 1-based line where it starts.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RawDocument<'a> {
    pub text: &'a str,
    pub line: usize,
}

/// Splits a file into documents as kubectl's YAML reader does: a line that starts with `---`
/// followed by nothing but white space or a comment separates documents. Empty documents
/// are kept (callers skip them) so line numbers stay right.
pub fn split_documents(text: &str) -> Vec<RawDocument<'_>> {
    let mut docs = Vec::new();
    let mut start = 0usize;
    let mut start_line = 1usize;
    let mut offset = 0usize;
    for (line_no, line) in (1usize..).zip(text.split_inclusive('\n')) {
        if let Some(rest) = line.strip_prefix("---") {
            let rest = rest.trim();
            if rest.is_empty() || rest.starts_with('#') {
                docs.push(RawDocument {
                    text: &text[start..offset],
                    line: start_line,
                });
                start = offset + line.len();
                start_line = line_no + 1;
            }
        }
        offset += line.len();
    }
    docs.push(RawDocument {
        text: &text[start..],
        line: start_line,
    });
    docs
}

/// Whether a text looks like JSON rather than YAML (first non-blank character `{` or `[`).
pub fn looks_like_json(text: &str) -> bool {
    matches!(text.trim_start().chars().next(), Some('{') | Some('['))
}

/// Reads every value of a JSON text (one value or a stream of concatenated values).
/// Returns the values with the 1-based line each starts on.
pub fn parse_json_stream(text: &str) -> Result<Vec<(Value, usize)>, ParseError> {
    let mut out = Vec::new();
    let mut stream = serde_json::Deserializer::from_str(text).into_iter::<StrictValue>();
    loop {
        let before = stream.byte_offset();
        match stream.next() {
            None => break,
            Some(Ok(StrictValue(v))) => {
                let skipped = text[before..]
                    .find(|c: char| !c.is_whitespace())
                    .unwrap_or(0);
                let line = 1 + text[..before + skipped].matches('\n').count();
                out.push((v, line));
            }
            Some(Err(e)) => {
                return Err(ParseError {
                    line: e.line(),
                    message: e.to_string(),
                })
            }
        }
    }
    Ok(out)
}

/// A JSON value read like `serde_json::Value`, except that a key set twice in one object
/// is an error (as kubectl's strict decoding has it), not the last one silently winning.
pub struct StrictValue(pub Value);

impl<'de> serde::Deserialize<'de> for StrictValue {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(StrictVisitor).map(StrictValue)
    }
}

struct StrictVisitor;

impl<'de> serde::de::Visitor<'de> for StrictVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::Number(v.into()))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::Number(v.into()))
    }
    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        Ok(Number::from_f64(v).map_or(Value::Null, Value::Number))
    }
    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_string()))
    }
    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }
    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::new();
        while let Some(StrictValue(v)) = seq.next_element()? {
            items.push(v);
        }
        Ok(Value::Array(items))
    }
    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut access: A) -> Result<Value, A::Error> {
        let mut map = Map::new();
        while let Some(key) = access.next_key::<String>()? {
            let StrictValue(v) = access.next_value()?;
            if map.contains_key(&key) {
                return Err(serde::de::Error::custom(format!(
                    "key {:?} already set in this object",
                    crate::text::visible_line(&key)
                )));
            }
            map.insert(key, v);
        }
        Ok(Value::Object(map))
    }
}

/// Reads one YAML document. `first_line` is the line of the document in its file, so errors
/// name the file's line. Returns `None` for an empty or comment-only document.
pub fn parse_document(text: &str, first_line: usize) -> Result<Option<Value>, ParseError> {
    if let Some((line, c)) = forbidden_character(text) {
        return Err(ParseError {
            line: first_line + line - 1,
            message: format!(
                "control character U+{:04X} is not allowed in YAML",
                c as u32
            ),
        });
    }
    match fast::parse(text) {
        Some(value) => Ok(value),
        None => parse_full(text, first_line),
    }
}

/// The fast reader alone (`None`: outside its subset): for the differential fuzz target.
pub fn parse_document_fast(text: &str) -> Option<Option<Value>> {
    fast::parse(text)
}

/// Reads one document with the full YAML parser (any YAML, errors with their lines).
pub fn parse_full(text: &str, first_line: usize) -> Result<Option<Value>, ParseError> {
    let mut builder = Builder::default();
    let mut parser = Parser::new_from_str(text);
    // Events are pulled one by one (the parser's own `load` recurses once per level of
    // nesting, and a deep document would overflow the stack before the builder could stop
    // it), up to the end of the first document or the builder's first error.
    loop {
        let (event, mark) = parser.next_token().map_err(|e| ParseError {
            line: first_line + e.marker().line().saturating_sub(1),
            message: e.info().to_string(),
        })?;
        let end = matches!(event, Event::DocumentEnd | Event::StreamEnd);
        builder.on_event(event, mark);
        if end || builder.error.is_some() {
            break;
        }
    }
    if let Some((line, message)) = builder.error {
        return Err(ParseError {
            line: first_line + line.saturating_sub(1),
            message,
        });
    }
    Ok(builder.root)
}

/// Reads a whole multi-document YAML (or JSON) text into values with their lines. Stops at
/// nothing: each document's error is returned in place.
pub fn parse_stream(text: &str) -> Vec<Result<(Value, usize), ParseError>> {
    let text = strip_bom(text);
    if looks_like_json(text) {
        return match parse_json_stream(text) {
            Ok(values) => values.into_iter().map(Ok).collect(),
            Err(e) => vec![Err(e)],
        };
    }
    let mut out = Vec::new();
    for doc in split_documents(text) {
        match parse_document(doc.text, doc.line) {
            Ok(Some(v)) => out.push(Ok((v, doc.line))),
            Ok(None) => {}
            Err(e) => out.push(Err(e)),
        }
    }
    out
}

enum Frame {
    Seq {
        items: Vec<Value>,
        anchor: usize,
    },
    Map {
        map: Map<String, Value>,
        key: Option<(String, bool)>,
        merges: Vec<Value>,
        anchor: usize,
    },
}

#[derive(Default)]
struct Builder {
    stack: Vec<Frame>,
    /// Anchored values with the number of values each holds.
    anchors: HashMap<usize, (Value, usize)>,
    /// Values built so far, aliases counted as often as they are expanded.
    values: usize,
    root: Option<Value>,
    error: Option<(usize, String)>,
    line: usize,
}

impl Builder {
    fn fail(&mut self, message: String) {
        if self.error.is_none() {
            self.error = Some((self.line, message));
        }
    }

    /// Delivers a finished node to its parent (or as the root).
    fn push_value(&mut self, value: Value, anchor: usize, key_text: Option<(String, bool)>) {
        if anchor != 0 {
            let count = count_values(&value);
            self.anchors.insert(anchor, (value.clone(), count));
        }
        let line = self.line;
        match self.stack.last_mut() {
            None => self.root = Some(value),
            Some(Frame::Seq { items, .. }) => items.push(value),
            Some(Frame::Map {
                map, key, merges, ..
            }) => match key.take() {
                None => {
                    // A key: scalars become strings the way sigs.k8s.io/yaml turns them.
                    match key_text {
                        Some(k) => *key = Some(k),
                        None => {
                            if self.error.is_none() {
                                self.error =
                                    Some((line, "a mapping key must be a scalar".to_string()));
                            }
                            *key = Some((String::new(), false));
                        }
                    }
                }
                Some((k, is_merge)) => {
                    if is_merge {
                        merges.push(value);
                    } else if map.contains_key(&k) {
                        if self.error.is_none() {
                            self.error =
                                Some((line, format!("key {k:?} already set in this mapping")));
                        }
                    } else {
                        map.insert(k, value);
                    }
                }
            },
        }
    }

    fn in_key_position(&self) -> bool {
        matches!(self.stack.last(), Some(Frame::Map { key: None, .. }))
    }
}

impl MarkedEventReceiver for Builder {
    fn on_event(&mut self, ev: Event, mark: Marker) {
        // After an error nothing more is built: what follows could be an alias bomb's
        // expansion or nesting past the limit.
        if self.error.is_some() {
            return;
        }
        self.line = mark.line();
        self.values += 1;
        if matches!(ev, Event::SequenceStart(..) | Event::MappingStart(..))
            && self.stack.len() >= MAX_DEPTH
        {
            self.fail(format!(
                "nested more than {MAX_DEPTH} levels deep; kdrift does not read deeper documents"
            ));
            return;
        }
        match ev {
            Event::Scalar(text, style, anchor, tag) => {
                let tag_suffix = tag.as_ref().map(|t| t.suffix.as_str());
                let is_key = self.in_key_position();
                let is_merge = is_key && style == TScalarStyle::Plain && text == "<<";
                let value = match resolve_scalar(&text, style, tag_suffix) {
                    Ok(v) => v,
                    Err(m) => {
                        self.fail(m);
                        Value::Null
                    }
                };
                let key_text = is_key.then(|| (key_string(&value, &text), is_merge));
                self.push_value(value, anchor, key_text);
            }
            Event::SequenceStart(anchor, _) => self.stack.push(Frame::Seq {
                items: Vec::new(),
                anchor,
            }),
            Event::MappingStart(anchor, _) => self.stack.push(Frame::Map {
                map: Map::new(),
                key: None,
                merges: Vec::new(),
                anchor,
            }),
            Event::SequenceEnd => {
                if let Some(Frame::Seq { items, anchor }) = self.stack.pop() {
                    self.push_value(Value::Array(items), anchor, None);
                }
            }
            Event::MappingEnd => {
                if let Some(Frame::Map {
                    mut map,
                    merges,
                    anchor,
                    ..
                }) = self.stack.pop()
                {
                    for merged in merges {
                        let sources = match merged {
                            Value::Array(items) => items,
                            other => vec![other],
                        };
                        // Earlier maps of a merge list win over later ones; explicit keys win
                        // over all of them.
                        for source in sources {
                            match source {
                                Value::Object(m) => {
                                    for (k, v) in m {
                                        map.entry(k).or_insert(v);
                                    }
                                }
                                _ => self.fail("a << merge needs a mapping".to_string()),
                            }
                        }
                    }
                    self.push_value(Value::Object(map), anchor, None);
                }
            }
            Event::Alias(id) => {
                let is_key = self.in_key_position();
                let size = self.anchors.get(&id).map_or(0, |(_, n)| *n);
                self.values += size;
                if self.values > MAX_EXPANDED_VALUES {
                    self.fail(format!(
                        "the document expands to more than {MAX_EXPANDED_VALUES} values through its aliases; kdrift does not read it"
                    ));
                    return;
                }
                match self.anchors.get(&id).map(|(v, _)| v.clone()) {
                    Some(v) => {
                        let key_text = is_key.then(|| (key_string(&v, ""), false));
                        self.push_value(v, 0, key_text);
                    }
                    None => {
                        self.fail("alias to an unknown anchor".to_string());
                        self.push_value(Value::Null, 0, is_key.then(|| (String::new(), false)));
                    }
                }
            }
            Event::Nothing
            | Event::StreamStart
            | Event::StreamEnd
            | Event::DocumentStart
            | Event::DocumentEnd => {}
        }
    }
}

/// How many values a value holds, itself included.
fn count_values(value: &Value) -> usize {
    match value {
        Value::Array(items) => 1 + items.iter().map(count_values).sum::<usize>(),
        Value::Object(map) => 1 + map.values().map(count_values).sum::<usize>(),
        _ => 1,
    }
}

/// The JSON object key sigs.k8s.io/yaml makes of a YAML key.
fn key_string(value: &Value, raw: &str) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Null if raw.is_empty() => "null".to_string(),
        Value::Null => raw.to_string(),
        other => other.to_string(),
    }
}

fn resolve_scalar(text: &str, style: TScalarStyle, tag: Option<&str>) -> Result<Value, String> {
    match tag {
        Some("str") | Some("binary") => return Ok(Value::String(text.to_string())),
        Some("int") | Some("float") | Some("bool") | Some("null") => {
            let v = resolve_plain(text);
            let ok = match (tag, &v) {
                (Some("int"), Value::Number(n)) => n.is_i64() || n.is_u64(),
                (Some("float"), Value::Number(_)) => true,
                (Some("bool"), Value::Bool(_)) => true,
                (Some("null"), Value::Null) => true,
                _ => false,
            };
            return if ok {
                Ok(v)
            } else {
                Err(format!("cannot read {text:?} as !!{}", tag.unwrap_or("")))
            };
        }
        _ => {}
    }
    if style != TScalarStyle::Plain {
        return Ok(Value::String(text.to_string()));
    }
    Ok(resolve_plain(text))
}

/// YAML 1.1 resolution of a plain scalar, as go-yaml v2 does it.
pub fn resolve_plain(text: &str) -> Value {
    match text {
        "" | "~" | "null" | "Null" | "NULL" => return Value::Null,
        "y" | "Y" | "yes" | "Yes" | "YES" | "true" | "True" | "TRUE" | "on" | "On" | "ON" => {
            return Value::Bool(true)
        }
        "n" | "N" | "no" | "No" | "NO" | "false" | "False" | "FALSE" | "off" | "Off" | "OFF" => {
            return Value::Bool(false)
        }
        _ => {}
    }
    let first = text.as_bytes()[0];
    if !(first.is_ascii_digit() || matches!(first, b'+' | b'-' | b'.')) {
        return Value::String(text.to_string());
    }
    let plain: String = text.chars().filter(|&c| c != '_').collect();
    if let Some(n) = parse_go_int(&plain) {
        return Value::Number(n);
    }
    if is_yaml_float(&plain) {
        if let Ok(f) = plain.parse::<f64>() {
            return number_from_f64(f).unwrap_or_else(|| Value::String(text.to_string()));
        }
    }
    Value::String(text.to_string())
}

/// A float as JSON: integral values within the exact range become integers, so `1e3` and
/// `1000` read alike (as they do once sigs.k8s.io/yaml formats them).
pub fn number_from_f64(f: f64) -> Option<Value> {
    if !f.is_finite() {
        return None;
    }
    if f.fract() == 0.0 && f.abs() < 9.0e15 {
        return Some(Value::Number(Number::from(f as i64)));
    }
    Number::from_f64(f).map(Value::Number)
}

/// `strconv.ParseInt(s, 0, 64)` plus go-yaml's `0b` handling; u64 beyond i64.
fn parse_go_int(s: &str) -> Option<Number> {
    let (neg, body) = match s.as_bytes().first()? {
        b'-' => (true, &s[1..]),
        b'+' => (false, &s[1..]),
        _ => (false, s),
    };
    if body.is_empty() {
        return None;
    }
    let (radix, digits) = if let Some(d) = body.strip_prefix("0x").or(body.strip_prefix("0X")) {
        (16, d)
    } else if let Some(d) = body.strip_prefix("0b").or(body.strip_prefix("0B")) {
        (2, d)
    } else if let Some(d) = body.strip_prefix("0o").or(body.strip_prefix("0O")) {
        (8, d)
    } else if body.len() > 1 && body.starts_with('0') {
        (8, &body[1..])
    } else {
        (10, body)
    };
    if digits.is_empty() || !digits.chars().all(|c| c.is_digit(radix)) {
        return None;
    }
    let magnitude = u64::from_str_radix(digits, radix).ok()?;
    if neg {
        if magnitude <= i64::MAX as u64 + 1 {
            return Some(Number::from((magnitude as i128).wrapping_neg() as i64));
        }
        return None;
    }
    if magnitude <= i64::MAX as u64 {
        Some(Number::from(magnitude as i64))
    } else {
        Some(Number::from(magnitude))
    }
}

/// go-yaml v2's float pattern: `^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$`.
fn is_yaml_float(s: &str) -> bool {
    let b = s.as_bytes();
    let mut i = 0;
    if i < b.len() && (b[i] == b'+' || b[i] == b'-') {
        i += 1;
    }
    let int_start = i;
    while i < b.len() && b[i].is_ascii_digit() {
        i += 1;
    }
    let int_digits = i - int_start;
    if i < b.len() && b[i] == b'.' {
        i += 1;
        let frac_start = i;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        if int_digits == 0 && i == frac_start {
            return false;
        }
    } else if int_digits == 0 {
        return false;
    }
    if i < b.len() && (b[i] == b'e' || b[i] == b'E') {
        i += 1;
        if i < b.len() && (b[i] == b'+' || b[i] == b'-') {
            i += 1;
        }
        let exp_start = i;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        if i == exp_start {
            return false;
        }
    }
    i == b.len()
}

#[cfg(test)]
mod tests {

    proptest::proptest! {
        /// The byte pre-check never hides a forbidden character.
        #[test]
        fn forbidden_characters_are_found_with_or_without_the_pre_check(
            text in "(\\PC|[\\x00-\\x1f\\x7f\\u{80}-\\u{9f}\\u{fffe}\\u{ffff}]){0,40}"
        ) {
            let naive = text.char_indices().find(|(_, c)| {
                matches!(c, '\u{0}'..='\u{8}' | '\u{b}' | '\u{c}' | '\u{e}'..='\u{1f}' | '\u{7f}'..='\u{84}' | '\u{86}'..='\u{9f}' | '\u{fffe}' | '\u{ffff}')
            }).map(|(at, c)| (1 + text[..at].matches('\n').count(), c));
            proptest::prop_assert_eq!(forbidden_character(&text), naive);
        }
    }
    use super::*;
    use serde_json::json;

    fn one(text: &str) -> Value {
        parse_document(text, 1).unwrap().unwrap()
    }

    #[test]
    fn yaml_1_1_scalars_read_as_kubectl_reads_them() {
        let v = one("a: 0644\nb: yes\nc: off\nd: 0x1F\ne: 1_000\nf: 1e3\ng: '0644'\nh: ~\ni: 1.5\nj: -12\nk: 09\nl: v1.2\nm: 0b101\n");
        assert_eq!(
            v,
            json!({"a": 420, "b": true, "c": false, "d": 31, "e": 1000, "f": 1000, "g": "0644",
                   "h": null, "i": 1.5, "j": -12, "k": 9, "l": "v1.2", "m": 5})
        );
    }

    #[test]
    fn quoted_and_block_scalars_stay_strings() {
        let v = one("a: \"yes\"\nb: |\n  0644\nc: !!str 12\nd: !!int \"7\"\n");
        assert_eq!(v, json!({"a": "yes", "b": "0644\n", "c": "12", "d": 7}));
    }

    #[test]
    fn anchors_aliases_and_merge_keys_with_explicit_keys_winning() {
        let v = one("base: &b\n  x: 1\n  w: 2\nother: &o\n  w: 9\n  z: 3\nout:\n  <<: [*b, *o]\n  x: 7\nlist: &l [1, 2]\ncopy: *l\n");
        assert_eq!(v["out"], json!({"x": 7, "w": 2, "z": 3}));
        assert_eq!(v["copy"], json!([1, 2]));
    }

    #[test]
    fn duplicate_key_is_an_error_with_its_line() {
        let err = parse_document("a: 1\nb: 2\na: 3\n", 10).unwrap_err();
        assert_eq!(err.line, 12);
        assert!(err.message.contains("\"a\""), "{}", err.message);
    }

    #[test]
    fn syntax_error_names_the_line_in_the_file() {
        let err = parse_document("a: 1\nb: [1, 2\nc: 3\n", 5).unwrap_err();
        assert!(err.line >= 6, "{err:?}");
    }

    #[test]
    fn split_documents_follows_kubectl_separators() {
        let text = "a: 1\n--- # comment\nb: 2\n---\n\n---x\n...\n";
        let docs = split_documents(text);
        assert_eq!(docs.len(), 3);
        assert_eq!(docs[0].line, 1);
        assert_eq!(docs[1].line, 3);
        assert_eq!(docs[2].line, 5);
        assert!(docs[2].text.contains("---x"));
    }

    #[test]
    fn empty_and_comment_only_documents_are_none() {
        assert_eq!(parse_document("# only a comment\n", 1).unwrap(), None);
        assert_eq!(parse_document("", 1).unwrap(), None);
        assert_eq!(parse_document("...\n", 1).unwrap(), None);
    }

    #[test]
    fn json_stream_reports_lines() {
        let values = parse_json_stream("{\"a\": 1}\n\n{\"b\": 2}").unwrap();
        assert_eq!(values.len(), 2);
        assert_eq!(values[1].1, 3);
    }

    #[test]
    fn non_string_keys_become_strings() {
        let v = one("1: a\ntrue: b\nnull: c\n");
        assert_eq!(v, json!({"1": "a", "true": "b", "null": "c"}));
    }
}
