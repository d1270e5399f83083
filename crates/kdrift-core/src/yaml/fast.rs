//! A fast reader for the plain block YAML that nearly every manifest is written in: block
//! mappings and sequences indented with spaces, one-line plain and quoted scalars, literal
//! block scalars (`|`, `|-`, `|+`), flow collections that close on their line (`{}`, `[a, b]`,
//! `{a: 1}`), comments. It gives up (`None`) at the first thing outside that subset: flow
//! collections over several lines, anchors, aliases, tags, merge keys, folded
//! or multi-line scalars, escapes, tabs, non-ASCII text, duplicate keys and anything
//! malformed. The caller then reads the document with the full parser, which gives the same
//! value or the error with its line: this reader never decides an error, and where it answers
//! it answers exactly what the full parser would (tested against it). Pure.

use super::{key_string, resolve_plain};
use serde_json::map::Entry;
use serde_json::{Map, Value};

/// Reads one document (no `---` lines). `Some(None)` is an empty or comment-only document;
/// `None` means "not in this reader's subset".
pub(super) fn parse(text: &str) -> Option<Option<Value>> {
    if !text.bytes().all(|b| b == b'\n' || b >= 0x20 && b != 0x7f)
        || (!text.is_ascii() && !text.chars().all(is_plain_unicode))
    {
        return None;
    }
    let lines: Vec<&str> = text.split('\n').collect();
    if lines
        .iter()
        .any(|l| l.starts_with("---") || l.starts_with("...") || l.starts_with('%'))
    {
        return None;
    }
    // Deep nesting is left to the full parser, which bounds it (this reader recurses): a
    // level of block nesting takes at least one column, one of flow nesting a bracket.
    if lines.iter().any(|l| {
        l.len() - l.trim_start_matches(' ').len() >= super::MAX_DEPTH
            || l.bytes().filter(|b| matches!(b, b'[' | b'{')).count() >= super::MAX_DEPTH / 4
    }) {
        return None;
    }
    let reader = Reader { lines };
    let first = reader.skip(0);
    if first == reader.lines.len() {
        return Some(None);
    }
    let (value, next) = reader.block(first)?;
    (reader.skip(next) == reader.lines.len()).then_some(Some(value))
}

struct Reader<'a> {
    /// The document's lines without their line breaks (the last one is empty when the text
    /// ends with a line break).
    lines: Vec<&'a str>,
}

impl<'a> Reader<'a> {
    /// The first line at or after `i` that holds content (not blank, not only a comment).
    fn skip(&self, mut i: usize) -> usize {
        while i < self.lines.len() {
            let t = self.lines[i].trim_start_matches(' ');
            if !t.is_empty() && !t.starts_with('#') {
                break;
            }
            i += 1;
        }
        i
    }

    /// A content line's indentation and text after it.
    fn at(&self, i: usize) -> (usize, &'a str) {
        let line = self.lines[i];
        let text = line.trim_start_matches(' ');
        (line.len() - text.len(), text)
    }

    /// The block node (mapping or sequence) starting at content line `i`, and the line after it.
    fn block(&self, i: usize) -> Option<(Value, usize)> {
        let (indent, text) = self.at(i);
        if is_seq_item(text) {
            self.seq(i, indent)
        } else {
            self.map(i, indent, text)
        }
    }

    /// A block mapping at `indent` whose first entry is `first` (the text of line `i` after
    /// the indentation, or after `- ` for a mapping that starts on a sequence item's line).
    fn map(&self, mut i: usize, indent: usize, first: &'a str) -> Option<(Value, usize)> {
        let mut map = Map::new();
        let mut text = first;
        loop {
            let (key, rest) = split_key(text)?;
            let (value, next) = self.value(i, indent, rest)?;
            match map.entry(key) {
                Entry::Vacant(e) => {
                    e.insert(value);
                }
                Entry::Occupied(_) => return None,
            }
            i = self.skip(next);
            if i == self.lines.len() {
                break;
            }
            let (at, t) = self.at(i);
            if at < indent {
                break;
            }
            if at > indent || is_seq_item(t) {
                return None;
            }
            text = t;
        }
        Some((Value::Object(map), i))
    }

    /// The value of a mapping entry on line `i` of a mapping at `indent`; `rest` is the text
    /// after the key's `:`.
    fn value(&self, i: usize, indent: usize, rest: &'a str) -> Option<(Value, usize)> {
        let rest = rest.trim_start_matches(' ');
        if rest.is_empty() || rest.starts_with('#') {
            let j = self.skip(i + 1);
            if j < self.lines.len() {
                let (at, t) = self.at(j);
                if at > indent {
                    return self.block(j);
                }
                if at == indent && is_seq_item(t) {
                    return self.seq(j, indent);
                }
            }
            return Some((Value::Null, i + 1));
        }
        self.inline(i, indent, rest)
    }

    /// A block sequence whose items' dashes stand at `indent`, starting at line `i`.
    fn seq(&self, mut i: usize, indent: usize) -> Option<(Value, usize)> {
        let mut items = Vec::new();
        loop {
            let rest = &self.at(i).1[1..];
            let item = rest.trim_start_matches(' ');
            let column = indent + 1 + (rest.len() - item.len());
            let (value, next) = if item.is_empty() || item.starts_with('#') {
                let j = self.skip(i + 1);
                if j < self.lines.len() && self.at(j).0 > indent {
                    self.block(j)?
                } else {
                    (Value::Null, i + 1)
                }
            } else if is_seq_item(item) {
                return None;
            } else if split_key(item).is_some() {
                self.map(i, column, item)?
            } else {
                self.inline(i, indent, item)?
            };
            items.push(value);
            i = self.skip(next);
            if i == self.lines.len() {
                break;
            }
            let (at, t) = self.at(i);
            if at > indent {
                return None;
            }
            if at < indent || !is_seq_item(t) {
                break;
            }
        }
        Some((Value::Array(items), i))
    }

    /// A scalar (or `{}`/`[]`) written on line `i` under a node at `indent`.
    fn inline(&self, i: usize, indent: usize, text: &'a str) -> Option<(Value, usize)> {
        let value = match text.as_bytes()[0] {
            b'|' => return self.literal(i, indent, text),
            b'"' | b'\'' => {
                let (s, after) = quoted(text)?;
                if !is_comment_or_empty(after) {
                    return None;
                }
                Value::String(s)
            }
            b'{' | b'[' => {
                let (value, after) = flow(text)?;
                if !is_comment_or_empty(after) {
                    return None;
                }
                value
            }
            _ => resolve_plain(plain(text)?),
        };
        // A more indented line after a one-line scalar would continue it.
        let j = self.skip(i + 1);
        if j < self.lines.len() && self.at(j).0 > indent {
            return None;
        }
        Some((value, i + 1))
    }

    /// A literal block scalar whose header (`|`, `|-` or `|+`) is on line `i`, under a node
    /// at `indent`.
    fn literal(&self, i: usize, indent: usize, header: &str) -> Option<(Value, usize)> {
        let (chomp, after) = match header.as_bytes().get(1) {
            Some(b'-') => (Chomp::Strip, &header[2..]),
            Some(b'+') => (Chomp::Keep, &header[2..]),
            _ => (Chomp::Clip, &header[1..]),
        };
        if !is_comment_or_empty(after) {
            return None;
        }
        let mut out = String::new();
        let mut first = true;
        let mut content_indent = None;
        let mut blanks = 0usize;
        let mut j = i + 1;
        while j < self.lines.len() {
            let line = self.lines[j];
            if line.is_empty() {
                blanks += 1;
                j += 1;
                continue;
            }
            let at = line.len() - line.trim_start_matches(' ').len();
            if at == line.len() {
                // Spaces only: whether they are content depends on rules not worth a copy.
                return None;
            }
            let m = *content_indent.get_or_insert(at);
            if m <= indent {
                // An empty block scalar.
                return None;
            }
            if at < m {
                break;
            }
            if !first {
                out.push('\n');
            }
            first = false;
            for _ in 0..blanks {
                out.push('\n');
            }
            blanks = 0;
            out.push_str(&line[m..]);
            j += 1;
        }
        content_indent?;
        if j == self.lines.len() {
            // The last line is the empty rest after the final line break, not a blank line;
            // without a final line break the reading is left to the full parser.
            if self.lines.last().is_some_and(|l| !l.is_empty()) {
                return None;
            }
            blanks -= 1;
        }
        match chomp {
            Chomp::Strip => {}
            Chomp::Clip => out.push('\n'),
            Chomp::Keep => {
                out.push('\n');
                for _ in 0..blanks {
                    out.push('\n');
                }
            }
        }
        Some((Value::String(out), j))
    }
}

#[derive(Clone, Copy)]
enum Chomp {
    Strip,
    Clip,
    Keep,
}

/// A non-ASCII character YAML prints as itself and never reads as a line break or a byte
/// order mark.
fn is_plain_unicode(c: char) -> bool {
    c.is_ascii()
        || matches!(c, '\u{a0}'..='\u{2027}' | '\u{202a}'..='\u{fefe}' | '\u{ff00}'..='\u{fffd}' | '\u{10000}'..)
}

fn is_seq_item(text: &str) -> bool {
    text == "-" || text.starts_with("- ")
}

/// Whether the rest of a line after a node is nothing or a comment (which needs a space
/// before its `#`).
fn is_comment_or_empty(after: &str) -> bool {
    after.is_empty()
        || (after.starts_with(' ') && {
            let t = after.trim_start_matches(' ');
            t.is_empty() || t.starts_with('#')
        })
}

/// Characters that cannot start a plain scalar (`-`, `?` and `:` can, when a non-space
/// follows).
fn is_indicator(first: u8) -> bool {
    matches!(
        first,
        b'&' | b'*'
            | b'!'
            | b'|'
            | b'>'
            | b'\''
            | b'"'
            | b'%'
            | b'@'
            | b'`'
            | b'#'
            | b','
            | b'['
            | b']'
            | b'{'
            | b'}'
    )
}

fn starts_plain(text: &str) -> bool {
    let b = text.as_bytes();
    match b.first() {
        None => false,
        Some(b'-' | b'?' | b':') => b.len() > 1 && b[1] != b' ',
        Some(&c) => !is_indicator(c),
    }
}

/// A one-line plain scalar with its comment and trailing spaces taken off.
fn plain(text: &str) -> Option<&str> {
    if !starts_plain(text) {
        return None;
    }
    let end = text.find(" #").unwrap_or(text.len());
    let s = text[..end].trim_end_matches(' ');
    if s.contains(": ") || s.ends_with(':') {
        return None;
    }
    Some(s)
}

/// A mapping entry's key and the text after its `:`, or `None` when `text` is not a
/// `key: ...` entry this reader takes.
fn split_key(text: &str) -> Option<(String, &str)> {
    if text.starts_with(['"', '\'']) {
        let (key, after) = quoted(text)?;
        let rest = after.strip_prefix(':')?;
        return (rest.is_empty() || rest.starts_with(' ')).then_some((key, rest));
    }
    if !starts_plain(text) {
        return None;
    }
    let b = text.as_bytes();
    let colon = (0..b.len()).find(|&i| {
        b[i] == b':' && (i + 1 == b.len() || b[i + 1] == b' ')
            || b[i] == b'#' && i > 0 && b[i - 1] == b' '
    })?;
    if b[colon] == b'#' {
        return None;
    }
    let raw = text[..colon].trim_end_matches(' ');
    if raw == "<<" {
        return None;
    }
    Some((key_string(&resolve_plain(raw), raw), &text[colon + 1..]))
}

/// A flow collection (`{a: 1, b: [x, "y"]}`) that closes on its line, and the text after
/// it. Keys are plain or quoted scalars; plain scalars with a `:` or `#`, entries without a
/// value, empty entries and trailing commas are left to the full parser.
fn flow(text: &str) -> Option<(Value, &str)> {
    let close = if text.starts_with('{') { b'}' } else { b']' };
    let mut map = Map::new();
    let mut items = Vec::new();
    let mut rest = text[1..].trim_start_matches(' ');
    if rest.as_bytes().first() == Some(&close) {
        rest = &rest[1..];
    } else {
        loop {
            if close == b'}' {
                let (key, after) = flow_scalar(rest)?;
                let key = match key {
                    FlowScalar::Quoted(s) => s,
                    FlowScalar::Plain(raw) => key_string(&resolve_plain(raw), raw),
                };
                let after = after.strip_prefix(": ")?.trim_start_matches(' ');
                let (value, after) = flow_node(after)?;
                match map.entry(key) {
                    Entry::Vacant(e) => {
                        e.insert(value);
                    }
                    Entry::Occupied(_) => return None,
                }
                rest = after;
            } else {
                let (value, after) = flow_node(rest)?;
                items.push(value);
                rest = after;
            }
            rest = rest.trim_start_matches(' ');
            match rest.as_bytes().first()? {
                b',' => {
                    rest = rest[1..].trim_start_matches(' ');
                    if rest.as_bytes().first() == Some(&close) {
                        return None;
                    }
                }
                &c if c == close => {
                    rest = &rest[1..];
                    break;
                }
                _ => return None,
            }
        }
    }
    let value = if close == b'}' {
        Value::Object(map)
    } else {
        Value::Array(items)
    };
    Some((value, rest))
}

enum FlowScalar<'a> {
    Quoted(String),
    Plain(&'a str),
}

/// A scalar inside a flow collection, and the text after it (spaces after a plain scalar
/// stay).
fn flow_scalar(text: &str) -> Option<(FlowScalar<'_>, &str)> {
    if text.starts_with(['"', '\'']) {
        let (s, after) = quoted(text)?;
        return Some((FlowScalar::Quoted(s), after));
    }
    if !starts_plain(text) {
        return None;
    }
    // YAML 1.2 flow plain scalars: `:` belongs to the scalar when a non-space, non-flow
    // character follows it, `#` when a non-space precedes it.
    let b = text.as_bytes();
    let is_flow_end = |c: u8| matches!(c, b' ' | b',' | b'[' | b']' | b'{' | b'}');
    let end = (0..b.len()).find(|&i| match b[i] {
        b',' | b'[' | b']' | b'{' | b'}' => true,
        b':' => b.get(i + 1).is_none_or(|&c| is_flow_end(c)),
        b'#' => i > 0 && b[i - 1] == b' ',
        _ => false,
    })?;
    if b[end] == b'#' || (b[end] == b':' && !text[end..].starts_with(": ")) {
        return None;
    }
    let raw = text[..end].trim_end_matches(' ');
    if raw.is_empty() {
        return None;
    }
    Some((FlowScalar::Plain(raw), &text[raw.len()..]))
}

/// A value inside a flow collection: a nested collection or a scalar.
fn flow_node(text: &str) -> Option<(Value, &str)> {
    if text.starts_with(['{', '[']) {
        return flow(text);
    }
    let (scalar, after) = flow_scalar(text)?;
    if after.trim_start_matches(' ').starts_with(':') {
        // A single-pair mapping inside a sequence.
        return None;
    }
    let value = match scalar {
        FlowScalar::Quoted(s) => Value::String(s),
        FlowScalar::Plain(raw) => resolve_plain(raw),
    };
    Some((value, after))
}

/// A quoted scalar that closes on its line (no escapes in double quotes; `''` in single
/// quotes), and the text after its closing quote.
fn quoted(text: &str) -> Option<(String, &str)> {
    let quote = text.as_bytes()[0];
    let body = &text[1..];
    if quote == b'"' {
        // JSON's escapes; YAML's others (`\x`, `\u`, `\N`, folded lines, ...) are left to
        // the full parser.
        let mut out = String::new();
        let mut rest = body;
        loop {
            let end = rest.find(['"', '\\'])?;
            out.push_str(&rest[..end]);
            if rest.as_bytes()[end] == b'"' {
                return Some((out, &rest[end + 1..]));
            }
            out.push(match rest.as_bytes().get(end + 1)? {
                b'"' => '"',
                b'\\' => '\\',
                b'/' => '/',
                b'n' => '\n',
                b't' => '\t',
                b'r' => '\r',
                _ => return None,
            });
            rest = &rest[end + 2..];
        }
    }
    let mut out = String::new();
    let mut rest = body;
    loop {
        let end = rest.find('\'')?;
        out.push_str(&rest[..end]);
        if rest[end + 1..].starts_with('\'') {
            out.push('\'');
            rest = &rest[end + 2..];
        } else {
            return Some((out, &rest[end + 1..]));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    fn full(text: &str) -> Option<Value> {
        super::super::parse_full(text, 1).ok().flatten()
    }

    /// The fast reader either gives up or agrees with the full parser.
    fn agrees(text: &str) -> bool {
        match parse(text) {
            None => true,
            Some(v) => {
                let f = super::super::parse_full(text, 1);
                assert_eq!(
                    f.as_ref().ok(),
                    Some(&v),
                    "fast and full differ on:\n{text}"
                );
                true
            }
        }
    }

    #[test]
    fn reads_a_manifest() {
        let text = "apiVersion: apps/v1\nkind: Deployment # a comment\nmetadata:\n  name: web\n  labels:\n    app.kubernetes.io/name: web\n  annotations: {}\nspec:\n  replicas: 3\n  template:\n    spec:\n      containers:\n      - name: web\n        image: \"nginx:1.27\"\n        args: []\n        env:\n        - name: A\n          value: 'it''s'\n        ports:\n          - containerPort: 80\n            protocol: TCP\n      volumes:\n      -\n        name: x\n";
        let v = parse(text).unwrap().unwrap();
        assert_eq!(v, full(text).unwrap());
        assert_eq!(
            v["spec"]["template"]["spec"]["containers"][0]["env"][0]["value"],
            "it's"
        );
        assert_eq!(v["spec"]["replicas"], 3);
    }

    fn taken_and_agrees(text: &str) {
        let fast = parse(text).unwrap_or_else(|| panic!("not taken: {text:?}"));
        assert_eq!(fast, full(text).map(Some).unwrap(), "{text:?}");
    }

    #[test]
    fn flow_collections_on_one_line() {
        for text in [
            "a: {b: 1, c: [x, 'y z', \"w\"], d: {}}\n",
            "a: [ 1 , {k: v} ,[] ] # c\n",
            "- {name: web, image: \"web:2\"}\n- [on, off, ~, 0644]\n",
            "a: {x y: a b, 'k': -1}\n",
            "a: [web:2, {image: \"h:1\", u: http://h:80/p}, a#b]\n",
        ] {
            taken_and_agrees(text);
        }
    }

    #[test]
    fn literal_block_scalars_with_each_chomping() {
        for text in [
            "a: |\n  x\n   y\n\n  z\nb: 1\n",
            "a: |-\n  x\n\n\nb: 1\n",
            "a: |+\n  x\n\n\nb: 1\n",
            "a: |+\n  x\n\n",
            "a: |\n  x\n",
            "- |\n  x\n- y\n",
            "a: | # c\n  # not a comment\n  x\n# a comment\nb: 2\n",
            "a:\n  b: |\n    one\n\n    two\n  c: 3\n",
        ] {
            taken_and_agrees(text);
        }
    }

    #[test]
    fn gives_up_outside_its_subset() {
        for text in [
            "a: &x 1\nb: *x\n",
            "a: [1, 2\n  ]\n",
            "a: {b: 1, }\n",
            "a: {b}\n",
            "a: {b:, c: 1}\n",
            "a: [x #c]\n",
            "a: [b: c]\n",
            "a: [1,, 2]\n",
            "a: >\n  folded\n",
            "a: !!str 1\n",
            "a: b\n  c\n",
            "a: \"x\\u0041y\"\n",
            "a: \"x\\\n  y\"\n",
            "a: b\u{2028}c\n",
            "\u{feff}a: b\n",
            "a: \u{85}\n",
            "a:\tb\n",
            "<<: {}\n",
            "a: 1\na: 2\n",
            "just a scalar\n",
            "a: b: c\n",
            "a: {b: 1, b: 2}\n",
            "a: 'open\n  close'\n",
            "a: |2\n   x\n",
            "a: |\n  x",
            "? a\n: b\n",
            "- - a\n",
        ] {
            assert_eq!(parse(text), None, "{text:?}");
        }
    }

    #[test]
    fn empty_and_comment_only_documents() {
        assert_eq!(parse(""), Some(None));
        assert_eq!(parse("# only\n\n"), Some(None));
    }

    #[test]
    fn keys_read_as_the_full_parser_reads_them() {
        let text = "1: a\nyes: b\nnull: c\n0644: d\n\"q\": e\n'p': f\n";
        let v = parse(text).unwrap().unwrap();
        assert_eq!(v, full(text).unwrap());
        assert_eq!(v["420"], "d");
        assert_eq!(v["true"], json!("b"));
    }

    /// Text pieces that put together make likely and unlikely YAML.
    fn piece() -> impl Strategy<Value = &'static str> {
        prop::sample::select(vec![
            "a",
            "b",
            "key",
            "app.kubernetes.io/name",
            "1",
            "0644",
            "yes",
            "~",
            "null",
            "-1",
            "1.5",
            "1e3",
            "x y",
            "http://h:80/p",
            "a#b",
            "'q'",
            "'it''s'",
            "\"d\"",
            "\"\"",
            "{}",
            "[]",
            "|",
            "|-",
            "|+",
            "# c",
            " # c",
            ":",
            ": ",
            "- ",
            "-",
            "  ",
            "    ",
            "\n",
            "\n",
            "\n",
            "\n  ",
            "\n    ",
            "\n- ",
            "\n  - ",
            "&a",
            "*a",
            "!!str",
            ">",
            "[1]",
            "<<",
            "?",
            "\"a\\n\"",
            "\t",
            "--- ",
            "...",
            "{",
            "}",
            "[",
            "]",
            ", ",
            ",",
            "{a: 1}",
            "[x, y]",
            "{a: [b, {c: d}]}",
            "{a:b}",
            "[a:b, c#d, e #f]",
            ":",
            "#",
            "é",
            "日本",
            "\u{2028}",
            "\u{85}",
            "\u{a0}",
            "\"\\\"\"",
            "\"\\\\\"",
            "\"\\t\"",
            "\\",
        ])
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(4000))]
        #[test]
        fn fast_reader_gives_up_or_agrees(parts in prop::collection::vec(piece(), 1..40)) {
            let text: String = parts.concat();
            prop_assert!(agrees(&text));
        }

        #[test]
        fn block_documents_are_taken_and_agree(doc in node(), indentless in any::<bool>(), compact in any::<bool>(), notes in any::<bool>()) {
            let root = match doc {
                Node::Map(_) | Node::Seq(_) => doc,
                leaf => Node::Map(vec![("root", leaf)]),
            };
            let mut text = String::new();
            render(&root, 0, Style { indentless, compact, notes }, &mut text);
            let fast = parse(&text);
            prop_assert!(fast.is_some(), "not taken:\n{}", text);
            prop_assert!(agrees(&text));
        }
    }

    /// A document tree in the subset the fast reader takes.
    #[derive(Debug, Clone)]
    enum Node {
        Scalar(&'static str),
        Literal(Vec<&'static str>, &'static str),
        Map(Vec<(&'static str, Node)>),
        Seq(Vec<Node>),
    }

    #[derive(Clone, Copy)]
    struct Style {
        indentless: bool,
        compact: bool,
        notes: bool,
    }

    fn node() -> impl Strategy<Value = Node> {
        let scalar = prop::sample::select(vec![
            "v",
            "1",
            "0x1F",
            "true",
            "No",
            "~",
            "'s p'",
            "\"q\"",
            "{}",
            "[]",
            "x # c",
            "a:b",
            "-x",
            "?y",
            "''",
            "1_000",
            ".5",
            "+1",
            "http://h:80/p",
            "a#b",
            "'it''s'",
            "\"\"",
            "null",
            "1e3",
            "v1.2",
            "0644",
            "-1.5e-3",
            "x  y",
            "{a: 1, b: [x, 'y']}",
            "[ {k: v}, [], \"s\" ]",
            "{ 'q': on , r: ~ } # c",
            "\"k:{\\\"name\\\":\\\"a\\\"}\"",
            "é ü",
            "\"\\\\n\"",
        ]);
        let lines = prop::collection::vec(
            prop::sample::select(vec![
                "x",
                "  y",
                "",
                "# not a comment",
                "a: b",
                "- c",
                "{[",
                "'",
            ]),
            0..4,
        );
        let header = prop::sample::select(vec!["|", "|-", "|+", "| # c", "|- # c"]);
        let leaf = prop_oneof![
            3 => scalar.prop_map(Node::Scalar),
            1 => (lines, header).prop_map(|(mut l, h)| {
                l.insert(0, "x");
                Node::Literal(l, h)
            }),
        ];
        let key = prop::sample::select(vec![
            "a",
            "b",
            "name",
            "app.kubernetes.io/name",
            "1",
            "'q k'",
            "\"d\"",
            "x y",
            "-k",
            "on",
            "0644",
            "~",
            "k:v",
            "a#b",
        ]);
        leaf.prop_recursive(4, 48, 5, move |inner| {
            prop_oneof![
                prop::collection::btree_map(key.clone(), inner.clone(), 1..5)
                    .prop_map(|m| Node::Map(m.into_iter().collect())),
                prop::collection::vec(inner, 1..4).prop_map(Node::Seq),
            ]
        })
    }

    fn pad(n: usize) -> String {
        " ".repeat(n)
    }

    /// Writes what follows a key's `:` or an item's `-` for `node`, whose own lines are
    /// indented by `indent`.
    fn render_after(node: &Node, indent: usize, style: Style, out: &mut String) {
        match node {
            Node::Scalar(s) => {
                out.push(' ');
                out.push_str(s);
                out.push('\n');
            }
            Node::Literal(lines, header) => {
                out.push(' ');
                out.push_str(header);
                out.push('\n');
                for l in lines {
                    if !l.is_empty() {
                        out.push_str(&pad(indent + 2));
                        out.push_str(l);
                    }
                    out.push('\n');
                }
            }
            Node::Map(_) => {
                out.push_str(if style.notes { " # note\n" } else { "\n" });
                render(node, indent + 2, style, out);
            }
            Node::Seq(_) => {
                out.push('\n');
                render(
                    node,
                    if style.indentless { indent } else { indent + 2 },
                    style,
                    out,
                );
            }
        }
    }

    fn render(node: &Node, indent: usize, style: Style, out: &mut String) {
        match node {
            Node::Map(entries) => {
                for (k, v) in entries {
                    if style.notes {
                        out.push_str(&pad(indent));
                        out.push_str("# between\n\n");
                    }
                    out.push_str(&pad(indent));
                    out.push_str(k);
                    out.push(':');
                    render_after(v, indent, style, out);
                }
            }
            Node::Seq(items) => {
                for item in items {
                    out.push_str(&pad(indent));
                    out.push('-');
                    match item {
                        Node::Map(entries) if style.compact => {
                            // `- key: value` with the other entries under the first.
                            out.push(' ');
                            let (k, v) = &entries[0];
                            out.push_str(k);
                            out.push(':');
                            render_after(v, indent + 2, style, out);
                            render(&Node::Map(entries[1..].to_vec()), indent + 2, style, out);
                        }
                        Node::Map(_) => {
                            out.push('\n');
                            render(item, indent + 2, style, out);
                        }
                        Node::Seq(_) => {
                            out.push('\n');
                            render(item, indent + 2, style, out);
                        }
                        leaf => render_after(leaf, indent, style, out),
                    }
                }
            }
            leaf => render_after(leaf, indent, style, out),
        }
    }
}

#[cfg(test)]
mod corpus {
    use super::parse;

    fn yaml_files(dir: &std::path::Path, out: &mut Vec<std::path::PathBuf>) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                yaml_files(&p, out);
            } else if p.extension().is_some_and(|x| x == "yaml" || x == "yml") {
                out.push(p);
            }
        }
    }

    /// Every YAML document the project carries (test cases, the demo, the example, the
    /// default configuration) reads the same through the fast reader, and most are taken.
    #[test]
    fn the_projects_own_yaml_agrees() {
        // The repository's root: this crate sits in crates/kdrift-core.
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        let mut files = Vec::new();
        for dir in ["tests", "assets", "config"] {
            yaml_files(&root.join(dir), &mut files);
        }
        let (mut taken, mut all) = (0, 0);
        for f in &files {
            let text = std::fs::read_to_string(f).unwrap();
            for doc in super::super::split_documents(&text) {
                all += 1;
                if let Some(v) = parse(doc.text) {
                    taken += 1;
                    let full = super::super::parse_full(doc.text, doc.line);
                    assert_eq!(full.ok(), Some(v), "{} line {}", f.display(), doc.line);
                }
            }
        }
        eprintln!("{taken} of {all} documents in {} files", files.len());
        assert!(all > 100 && taken * 10 > all * 8, "{taken} of {all}");
    }
}
