//! Word wrapping of styled text to a width, for the dialogs, help, log and detail: exact to
//! the cell (a wide character counts two), so that scrolling and "N lines hidden" count the
//! rows that are really drawn. Generic over the style, so that the explorer's state (which
//! knows tones) and the drawing (which knows terminal styles) wrap alike. Pure.

use crate::model::DriftStatus;
use crate::sync::Fate;
use unicode_width::UnicodeWidthChar;

/// How a piece of text looks, chosen by the explorer's state and styled by the drawing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tone {
    Plain,
    Strong,
    Dim,
    Good,
    Warn,
    Bad,
    Accent,
    /// The context a write goes to.
    Target,
    /// A resource's fate in a sync, coloured by it.
    Fate(Fate),
    /// A drift status's colour.
    Status(DriftStatus),
    /// A drift status's glyph (one cell; its text is a stand-in the drawing replaces).
    Glyph(DriftStatus),
    /// A health's colour.
    Health(crate::drift::health::HealthStatus),
}

/// A styled piece of text.
pub type Piece<S> = (S, String);

/// A line of toned pieces.
pub type Line = Vec<Piece<Tone>>;

/// Wraps one line (pieces) at spaces to `width` cells. A word longer than the width breaks
/// anywhere. Rows after the first start with `indent` spaces (in `blank`'s style), unless
/// the width leaves no room for them.
pub fn wrap<S: Clone + PartialEq>(
    line: &[Piece<S>],
    width: usize,
    indent: usize,
    blank: &S,
) -> Vec<Vec<Piece<S>>> {
    let width = width.max(1);
    let indent = if indent * 2 >= width { 0 } else { indent };
    let cells: Vec<(char, &S)> = line
        .iter()
        .flat_map(|(s, t)| t.chars().map(move |c| (c, s)))
        .filter(|(c, _)| *c != '\n')
        .collect();
    let mut rows: Vec<Vec<(char, &S)>> = Vec::new();
    let mut row: Vec<(char, &S)> = Vec::new();
    let mut used = 0usize;
    // Index in `row` of the last space after the indent.
    let mut last_space: Option<usize> = None;
    for (c, style) in cells {
        let w = c.width().unwrap_or(0);
        if used + w > width && used > 0 {
            // A space at the edge ends the row by itself.
            let at_space = if c == ' ' { None } else { last_space };
            let rest = match at_space {
                Some(at) => {
                    let rest = row.split_off(at + 1);
                    row.pop(); // the space itself
                    rest
                }
                None => Vec::new(),
            };
            rows.push(std::mem::take(&mut row));
            row = vec![(' ', blank); indent];
            used = indent;
            for (rc, rs) in rest {
                used += rc.width().unwrap_or(0);
                row.push((rc, rs));
            }
            last_space = None;
            if c == ' ' && used == indent {
                continue;
            }
        }
        if c == ' ' && used > indent {
            last_space = Some(row.len());
        }
        row.push((c, style));
        used += w;
    }
    rows.push(row);
    rows.into_iter()
        .map(|r| {
            let mut pieces: Vec<Piece<S>> = Vec::new();
            for (c, style) in r {
                match pieces.last_mut() {
                    Some((s, text)) if s == style => text.push(c),
                    _ => pieces.push((style.clone(), c.to_string())),
                }
            }
            pieces
        })
        .collect()
}

/// How many rows `line` takes at `width` (see [`wrap`]).
pub fn rows<S: Clone + PartialEq>(
    line: &[Piece<S>],
    width: usize,
    indent: usize,
    blank: &S,
) -> usize {
    wrap(line, width, indent, blank).len()
}

/// Cuts `text` to `width` cells, ending with `…` when anything was cut, so that a URL or a
/// number is never shown shortened without saying so.
pub fn ellipsis(text: &str, width: usize) -> String {
    let total: usize = text.chars().map(|c| c.width().unwrap_or(0)).sum();
    if total <= width {
        return text.to_string();
    }
    if width == 0 {
        return String::new();
    }
    let mut out = String::new();
    let mut used = 0;
    for c in text.chars() {
        let w = c.width().unwrap_or(0);
        if used + w > width - 1 {
            break;
        }
        out.push(c);
        used += w;
    }
    out.push('…');
    out
}

/// The width of a text in cells.
pub fn width(text: &str) -> usize {
    text.chars().map(|c| c.width().unwrap_or(0)).sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plain(text: &str) -> Vec<Piece<()>> {
        vec![((), text.to_string())]
    }

    fn texts(rows: &[Vec<Piece<()>>]) -> Vec<String> {
        rows.iter()
            .map(|r| r.iter().map(|(_, t)| t.as_str()).collect())
            .collect()
    }

    #[test]
    fn wraps_at_spaces_and_breaks_long_words() {
        let cases: &[(&str, usize, usize, &[&str])] = &[
            ("short", 10, 0, &["short"]),
            ("one two three", 7, 0, &["one two", "three"]),
            ("one two three", 7, 2, &["one two", "  three"]),
            ("abcdefghij", 4, 0, &["abcd", "efgh", "ij"]),
            (
                "conflict: m owns .spec.replicas",
                12,
                0,
                &["conflict: m", "owns", ".spec.replic", "as"],
            ),
            ("", 5, 0, &[""]),
            ("a  b", 2, 0, &["a ", "b"]),
        ];
        for (text, width, indent, want) in cases {
            let got = texts(&wrap(&plain(text), *width, *indent, &()));
            assert_eq!(&got, want, "{text:?} at {width}");
        }
    }

    #[test]
    fn no_row_is_wider_than_the_width_and_nothing_is_lost() {
        let text = "update   deployment/web-frontend-with-a-long-name in shop: spec.template.spec.containers[name=web].image: web:1 → web:2 ★ 漢字";
        for w in 1..60 {
            let rows = wrap(&plain(text), w, 0, &());
            for r in texts(&rows) {
                assert!(width(&r) <= w.max(2), "{w}: {r:?}");
            }
            let joined: String = texts(&rows)
                .concat()
                .chars()
                .filter(|c| *c != ' ')
                .collect();
            let want: String = text.chars().filter(|c| *c != ' ').collect();
            assert_eq!(joined, want, "{w}");
        }
    }

    #[test]
    fn styles_stay_with_their_text() {
        let line = vec![(1, "aaa ".to_string()), (2, "bbb ccc".to_string())];
        let rows = wrap(&line, 5, 0, &0);
        assert_eq!(
            rows,
            vec![
                vec![(1, "aaa".to_string())],
                vec![(2, "bbb".to_string())],
                vec![(2, "ccc".to_string())]
            ]
        );
    }

    #[test]
    fn ellipsis_says_when_it_cut() {
        assert_eq!(
            ellipsis("http://127.0.0.1:18471", 40),
            "http://127.0.0.1:18471"
        );
        assert_eq!(
            ellipsis("http://127.0.0.1:18471", 21),
            "http://127.0.0.1:184…"
        );
        assert_eq!(ellipsis("abc", 0), "");
        assert_eq!(ellipsis("abc", 1), "…");
    }
}
