//! Rendering objects as canonical YAML (keys sorted, so both sides share one order) and
//! diffing the two texts: a unified diff like `kubectl diff`, and diff lines with word-level
//! emphasis for the explorer. Pure: values and text in, text and line structures out.

use serde_json::Value;
use similar::{ChangeTag, TextDiff};

/// Canonical YAML of a value: keys sorted, block style. An absent value renders empty.
pub fn to_yaml(value: Option<&Value>) -> String {
    match value {
        None => String::new(),
        Some(v) => serde_yaml::to_string(v).unwrap_or_else(|e| format!("# cannot render: {e}\n")),
    }
}

/// A unified diff of two texts with `context` lines around changes and the given labels;
/// empty when the texts are equal.
pub fn unified(old: &str, new: &str, old_label: &str, new_label: &str, context: usize) -> String {
    if old == new {
        return String::new();
    }
    TextDiff::from_lines(old, new)
        .unified_diff()
        .context_radius(context)
        .header(old_label, new_label)
        .to_string()
}

/// How a diff line differs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LineTag {
    Equal,
    /// Only on the old (Git) side.
    Delete,
    /// Only on the new (live) side.
    Insert,
}

/// One line of a diff, with its numbers on each side and its text in segments, the
/// emphasised ones being the words that changed.
#[derive(Debug, Clone, PartialEq)]
pub struct DiffLine {
    pub tag: LineTag,
    pub old_line: Option<usize>,
    pub new_line: Option<usize>,
    pub segments: Vec<(bool, String)>,
}

impl DiffLine {
    /// The line's text without its newline.
    pub fn text(&self) -> String {
        let s: String = self.segments.iter().map(|(_, t)| t.as_str()).collect();
        s.trim_end_matches('\n').to_string()
    }
}

/// Diff lines grouped in hunks with `context` lines around each change (`None`: one hunk
/// with every line).
pub fn diff_lines(old: &str, new: &str, context: Option<usize>) -> Vec<Vec<DiffLine>> {
    let diff = TextDiff::from_lines(old, new);
    let groups = match context {
        Some(n) => diff.grouped_ops(n),
        None => vec![diff.ops().to_vec()],
    };
    groups
        .iter()
        .map(|ops| {
            ops.iter()
                .flat_map(|op| diff.iter_inline_changes(op))
                .map(|change| DiffLine {
                    tag: match change.tag() {
                        ChangeTag::Equal => LineTag::Equal,
                        ChangeTag::Delete => LineTag::Delete,
                        ChangeTag::Insert => LineTag::Insert,
                    },
                    old_line: change.old_index().map(|i| i + 1),
                    new_line: change.new_index().map(|i| i + 1),
                    segments: change
                        .iter_strings_lossy()
                        .map(|(emph, s)| (emph, s.into_owned()))
                        .collect(),
                })
                .collect()
        })
        .filter(|h: &Vec<DiffLine>| !h.is_empty())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn canonical_yaml_sorts_keys() {
        let a = to_yaml(Some(
            &json!({"spec": {"b": 1, "a": 2}, "kind": "X", "apiVersion": "v1"}),
        ));
        assert_eq!(a, "apiVersion: v1\nkind: X\nspec:\n  a: 2\n  b: 1\n");
    }

    #[test]
    fn only_real_differences_are_changed_lines() {
        let old = to_yaml(Some(&json!({"spec": {"replicas": 2, "image": "web:1"}})));
        let new = to_yaml(Some(&json!({"spec": {"replicas": 2, "image": "web:2"}})));
        let hunks = diff_lines(&old, &new, Some(3));
        let changed: Vec<_> = hunks
            .iter()
            .flatten()
            .filter(|l| l.tag != LineTag::Equal)
            .collect();
        assert_eq!(changed.len(), 2);
        assert!(changed[0]
            .segments
            .iter()
            .any(|(e, s)| *e && s.contains('1')));
        let text = unified(&old, &new, "git", "live", 3);
        assert!(
            text.contains("-  image: web:1") && text.contains("+  image: web:2"),
            "{text}"
        );
        assert!(unified(&old, &old, "a", "b", 3).is_empty());
    }
}
