//! The diff of one resource as display rows, in kubectl's convention (`-` live, `+` Git):
//! side by side (live left, Git right, changed lines paired) or unified, whole objects or changed hunks with 3 lines of context, with
//! the first row of every hunk for `]`/`[`. Pure: built from a drift entry's canonical YAML.

use super::wrap::{Piece, Tone};
use super::AppState;
use crate::diff::{diff_lines, to_yaml, DiffLine, LineTag};
use crate::drift::DriftEntry;
use crate::model::DriftStatus;

/// One display row.
#[derive(Debug, Clone, PartialEq)]
pub enum DiffRow {
    /// Side by side: the live line (left) and the Git line (right); either may be absent.
    Pair(Option<DiffLine>, Option<DiffLine>),
    /// Unified: one line of either side.
    Single(DiffLine),
    /// Between hunks: lines left out.
    Gap,
}

/// A rendered diff document.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DiffDoc {
    pub rows: Vec<DiffRow>,
    /// Row index of the first changed row of each hunk.
    pub hunks: Vec<usize>,
    /// Widest line (characters), for horizontal scrolling.
    pub width: usize,
    /// Why there is only one side (missing, extra, invalid), when so.
    pub note: Option<String>,
    /// The one side shown is not a change (the other side is unknown): no signs, no colour.
    pub neutral: bool,
}

/// Builds the document of an entry, in kubectl's convention: the live object is the old
/// side (`-`, the left column), Git the new side (`+`, the right column), so that the diff
/// reads as what a sync would do.
pub fn build(entry: &DriftEntry, unified: bool, compact: bool) -> DiffDoc {
    let git = to_yaml(entry.desired_value().as_ref());
    let live = to_yaml(entry.live_value().as_ref());
    let (old, new, note, neutral) = match entry.status {
        DriftStatus::Missing => (
            String::new(),
            git,
            Some("not in the cluster: the + lines are what a sync would create".to_string()),
            false,
        ),
        DriftStatus::Extra => (
            live,
            String::new(),
            Some("not in Git: live only (the - lines are what a prune would delete)".to_string()),
            false,
        ),
        // The live side cannot be compared: what is shown is neither added nor removed.
        DriftStatus::Invalid => (
            if entry.live.is_some() {
                live
            } else {
                String::new()
            },
            String::new(),
            entry.reason.clone(),
            true,
        ),
        // Neither is compared: Git's side is shown as it is, with why.
        DriftStatus::Unknown | DriftStatus::Hook => {
            (String::new(), git, entry.reason.clone(), true)
        }
        _ => (live, git, None, false),
    };
    // One-sided documents show whole; two-sided ones honour compact mode.
    let context = if compact && !old.is_empty() && !new.is_empty() {
        Some(3)
    } else {
        None
    };
    let hunks = diff_lines(&old, &new, context);
    let mut doc = DiffDoc {
        note,
        neutral,
        ..DiffDoc::default()
    };
    for (h, hunk) in hunks.iter().enumerate() {
        if h > 0 {
            doc.rows.push(DiffRow::Gap);
        }
        let mut first_change: Option<usize> = None;
        let mut i = 0;
        while i < hunk.len() {
            let line = &hunk[i];
            doc.width = doc.width.max(line.text().chars().count());
            if line.tag != LineTag::Equal && first_change.is_none() {
                first_change = Some(doc.rows.len());
            }
            if unified {
                doc.rows.push(DiffRow::Single(line.clone()));
                i += 1;
                continue;
            }
            if line.tag == LineTag::Equal {
                doc.rows
                    .push(DiffRow::Pair(Some(line.clone()), Some(line.clone())));
                i += 1;
                continue;
            }
            // A run of deletions then insertions: pair them row by row.
            let mut dels = Vec::new();
            while i < hunk.len() && hunk[i].tag == LineTag::Delete {
                dels.push(hunk[i].clone());
                i += 1;
            }
            let mut ins = Vec::new();
            while i < hunk.len() && hunk[i].tag == LineTag::Insert {
                doc.width = doc.width.max(hunk[i].text().chars().count());
                ins.push(hunk[i].clone());
                i += 1;
            }
            for d in &dels {
                doc.width = doc.width.max(d.text().chars().count());
            }
            let n = dels.len().max(ins.len());
            let mut dels = dels.into_iter();
            let mut ins = ins.into_iter();
            for _ in 0..n {
                doc.rows.push(DiffRow::Pair(dels.next(), ins.next()));
            }
        }
        if let Some(f) = first_change {
            doc.hunks.push(f);
        }
    }
    doc
}

/// The diff screen's header before wrapping: the resource with its status, source and view
/// mode, then who and what changed each drifted field (up to three, the rest counted), or
/// why there is only one side. Every word is kept: the drawing wraps it.
pub fn header(state: &AppState) -> Vec<Vec<Piece<Tone>>> {
    let Some(d) = &state.diff else {
        return Vec::new();
    };
    let entry = state.entry(&d.key);
    let mut title = Vec::new();
    if let Some(e) = entry {
        title.push((Tone::Glyph(e.status), "?".to_string()));
        title.push((Tone::Plain, " ".to_string()));
    }
    title.push((Tone::Strong, d.key.short_name()));
    if let Some(e) = entry {
        title.push((Tone::Status(e.status), format!("  {}", e.status)));
        if let Some(src) = &e.source {
            title.push((Tone::Dim, format!("  {src}")));
        }
    }
    title.push((
        Tone::Dim,
        format!(
            "  [{}{}{}]",
            if state.prefs.unified {
                "unified"
            } else {
                "side by side"
            },
            if state.prefs.compact {
                ", changes"
            } else {
                ", whole"
            },
            if state.prefs.wrap { ", wrap" } else { "" }
        ),
    ));
    let mut lines = vec![title];
    if let Some(h) = entry
        .and_then(|e| e.health.as_ref())
        .filter(|h| !h.is_healthy())
    {
        lines.push(vec![
            (Tone::Dim, "health ".to_string()),
            (Tone::Health(h.status), h.to_string()),
        ]);
    }
    let fields = entry.map(|e| e.fields.as_slice()).unwrap_or_default();
    if fields.is_empty() {
        let note = d.doc.note.clone().unwrap_or_else(|| match entry {
            Some(e) if e.status.is_synced() => "in sync: Git and the cluster agree".into(),
            _ => String::new(),
        });
        lines.push(vec![(Tone::Warn, note)]);
        return lines;
    }
    const SHOWN: usize = 3;
    for f in fields.iter().take(SHOWN) {
        let mut parts = Vec::new();
        if let Some(c) = f.cause {
            parts.push(c.to_string());
        }
        if let Some(o) = &f.owner {
            parts.push(format!(
                "{}{}",
                o.manager,
                super::ages::owner_age(state.now, o)
            ));
        }
        if let Some(c) = &f.commit {
            // The line's file when it is not the manifest's own (a values file, a patch).
            let place = match entry.and_then(|e| e.source.as_ref()) {
                Some(s) if s.file != c.file => {
                    format!(" {}:{}", crate::text::visible_line(&c.file), c.line)
                }
                _ => String::new(),
            };
            parts.push(format!(
                "git {} {} {:?}{place}",
                &c.id[..c.id.len().min(7)],
                c.author,
                c.summary
            ));
        } else if let Some(why) = &f.git_note {
            parts.push(format!("git: {}", crate::text::visible_line(why)));
        }
        let mut line = vec![
            (Tone::Dim, "drifted ".to_string()),
            (Tone::Status(DriftStatus::OutOfSync), f.path.to_string()),
        ];
        if !parts.is_empty() {
            line.push((Tone::Accent, format!("  {}", parts.join(" · "))));
        }
        lines.push(line);
    }
    if fields.len() > SHOWN {
        lines.push(vec![(
            Tone::Dim,
            format!(
                "(+{} more drifted fields: i shows them all)",
                fields.len() - SHOWN
            ),
        )]);
    }
    lines
}

/// The field path of line `line` (1-based) of canonical YAML: `spec.template.spec.
/// containers[0].image`. Keys by indentation; list items (at their key's indentation or
/// deeper) by index.
pub fn yaml_path_at(text: &str, line: usize) -> String {
    struct Level {
        indent: usize,
        segment: String,
        item: bool,
        items: usize,
    }
    let mut stack: Vec<Level> = Vec::new();
    for raw in text.lines().take(line) {
        let indent = raw.len() - raw.trim_start_matches(' ').len();
        let mut rest = raw.trim_start_matches(' ');
        if rest.is_empty() || rest.starts_with('#') {
            continue;
        }
        let mut key_indent = indent;
        if rest == "-" || rest.starts_with("- ") {
            while stack.last().is_some_and(|l| {
                if l.item {
                    l.indent >= indent
                } else {
                    l.indent > indent
                }
            }) {
                stack.pop();
            }
            let index = match stack.last_mut() {
                Some(parent) => {
                    parent.items += 1;
                    parent.items - 1
                }
                None => 0,
            };
            stack.push(Level {
                indent,
                segment: format!("[{index}]"),
                item: true,
                items: 0,
            });
            rest = rest.trim_start_matches('-').trim_start_matches(' ');
            key_indent = indent + 2;
            if rest.is_empty() {
                continue;
            }
        }
        let Some((key, _)) = rest.split_once(':') else {
            continue;
        };
        while stack.last().is_some_and(|l| {
            if l.item {
                l.indent + 2 > key_indent
            } else {
                l.indent >= key_indent
            }
        }) {
            stack.pop();
        }
        stack.push(Level {
            indent: key_indent,
            segment: key.trim().trim_matches('"').trim_matches('\'').to_string(),
            item: false,
            items: 0,
        });
    }
    let mut path = String::new();
    for l in &stack {
        if !l.item && !path.is_empty() {
            path.push('.');
        }
        path.push_str(&l.segment);
    }
    path
}

/// The field path at the top of the open diff (the first line shown with a number), on the
/// Git side where it has one, else the live side.
pub fn path_at_top(state: &AppState) -> Option<String> {
    let d = state.diff.as_ref()?;
    let e = state.entry(&d.key)?;
    let lines = d.doc.rows.iter().skip(d.scroll).flat_map(|r| match r {
        DiffRow::Pair(a, b) => vec![b.clone(), a.clone()],
        DiffRow::Single(l) => vec![Some(l.clone())],
        DiffRow::Gap => vec![],
    });
    for l in lines.flatten() {
        if let Some(n) = l.new_line {
            return Some(yaml_path_at(&to_yaml(e.desired_value().as_ref()), n));
        }
        if let Some(n) = l.old_line {
            return Some(yaml_path_at(&to_yaml(e.live_value().as_ref()), n));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Packed, ResourceKey};
    use serde_json::json;

    fn entry(desired: serde_json::Value, live: serde_json::Value) -> DriftEntry {
        DriftEntry {
            desired: Some(Packed::new(&desired)),
            live: Some(Packed::new(&live)),
            ..DriftEntry::new(
                ResourceKey::new("apps", "Deployment", "shop", "web"),
                "apps/v1",
                DriftStatus::OutOfSync,
            )
        }
    }

    #[test]
    fn side_by_side_pairs_the_changed_lines() {
        let mut big = serde_json::Map::new();
        for i in 0..20 {
            big.insert(format!("k{i:02}"), json!(i));
        }
        let mut live = big.clone();
        live.insert("k10".into(), json!(99));
        let e = entry(json!({ "data": big }), json!({ "data": live }));
        let doc = build(&e, false, true);
        assert_eq!(doc.hunks.len(), 1);
        let changed: Vec<&DiffRow> = doc
            .rows
            .iter()
            .filter(|r| matches!(r, DiffRow::Pair(Some(a), _) if a.tag != LineTag::Equal))
            .collect();
        assert_eq!(changed.len(), 1);
        match changed[0] {
            DiffRow::Pair(Some(a), Some(b)) => {
                // Live on the left (old), Git on the right (new), as kubectl diff reads.
                assert!(a.text().contains("k10: 99") && b.text().contains("k10: 10"));
            }
            other => panic!("{other:?}"),
        }
        // Compact: 3 lines of context each side, not the whole object.
        assert!(doc.rows.len() <= 7, "{}", doc.rows.len());
        let full = build(&e, false, false);
        assert!(full.rows.len() > 20);
        let uni = build(&e, true, true);
        assert_eq!(uni.rows.len(), 8);
    }

    #[test]
    fn missing_shows_git_only() {
        let mut e = entry(json!({"kind": "X"}), json!(null));
        e.live = None;
        e.status = DriftStatus::Missing;
        let doc = build(&e, false, true);
        assert!(doc.note.as_deref().unwrap().contains("not in the cluster"));
        assert!(doc
            .rows
            .iter()
            .all(|r| matches!(r, DiffRow::Pair(None, Some(l)) if l.tag == LineTag::Insert)));
        assert!(!doc.neutral);
    }

    #[test]
    fn yaml_paths_by_indentation() {
        let yaml = "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\nspec:\n  replicas: 2\n  template:\n    spec:\n      containers:\n      - image: web:1\n        name: web\n      - env:\n        - name: A\n          value: x\n        image: side:1\n      dnsPolicy: ClusterFirst\n";
        let cases = [
            (1, "apiVersion"),
            (4, "metadata.name"),
            (6, "spec.replicas"),
            (10, "spec.template.spec.containers[0].image"),
            (11, "spec.template.spec.containers[0].name"),
            (13, "spec.template.spec.containers[1].env[0].name"),
            (14, "spec.template.spec.containers[1].env[0].value"),
            (15, "spec.template.spec.containers[1].image"),
            (16, "spec.template.spec.dnsPolicy"),
        ];
        for (line, want) in cases {
            assert_eq!(yaml_path_at(yaml, line), want, "line {line}");
        }
    }

    #[test]
    fn unknown_shows_git_as_neither_added_nor_removed() {
        let mut e = entry(json!({"kind": "X"}), json!(null));
        e.live = None;
        e.status = DriftStatus::Unknown;
        e.reason = Some("forbidden".into());
        let doc = build(&e, true, true);
        assert!(doc.neutral);
        assert_eq!(doc.note.as_deref(), Some("forbidden"));
    }
}
