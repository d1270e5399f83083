//! The diff screen: a title line, the drifted field paths, column titles naming each side
//! (`-` live, `+` Git, as kubectl diff), then the rows of the diff document (side by side or
//! unified) from the scroll position, with line numbers,
//! the changed words emphasised, horizontal scrolling or wrapping.

use super::theme::Theme;
use crate::app::diffview::DiffRow;
use crate::app::layout;
use crate::app::AppState;
use crate::diff::{DiffLine, LineTag};
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;
use ratatui::Frame;

const NUM: usize = 4;

pub fn draw(frame: &mut Frame, state: &AppState, theme: &Theme, area: Rect) {
    let Some(d) = &state.diff else { return };
    let width = area.width as usize;
    let mut lines: Vec<Line> = theme.lines(&layout::diff_header_rows(state));
    // Column titles: which side is which, in kubectl's convention.
    let rev = &state.header.revision.short;
    let half = width.saturating_sub(1) / 2;
    let neutral = d.doc.neutral;
    let (live_sign, git_sign) = if neutral { (" ", " ") } else { ("-", "+") };
    let live_title = format!("{live_sign} live ({})", state.header.context);
    let git_title = format!("{git_sign} Git {rev}");
    if state.prefs.unified {
        lines.push(Line::from(vec![
            Span::styled(
                format!("{:>w$} {:>w$}   ", "live", "git", w = NUM),
                theme.dim(),
            ),
            Span::styled(live_title, theme.live_side()),
            Span::raw("   "),
            Span::styled(git_title, theme.git_side()),
        ]));
    } else {
        lines.push(Line::from(vec![
            Span::styled(
                pad(&format!("{:>w$} {live_title}", "", w = NUM), half),
                theme.live_side(),
            ),
            Span::styled(theme.vbar(), theme.dim()),
            Span::styled(format!("{:>w$} {git_title}", "", w = NUM), theme.git_side()),
        ]));
    }
    let rows_h = (area.height as usize).saturating_sub(lines.len());
    let owners = owners_by_key(state, &d.key);
    let mut produced = 0;
    for row in d.doc.rows.iter().skip(d.scroll) {
        if produced >= rows_h {
            break;
        }
        let rendered = render_row(row, state, theme, width, half, d.hscroll, &owners);
        for l in rendered {
            if produced >= rows_h {
                break;
            }
            lines.push(l);
            produced += 1;
        }
    }
    if d.doc.rows.is_empty() {
        lines.push(Line::from(Span::styled("  (nothing to show)", theme.dim())));
    }
    frame.render_widget(Paragraph::new(lines), area);
}

fn pad(s: &str, w: usize) -> String {
    let n = s.chars().count();
    if n >= w {
        s.chars().take(w).collect()
    } else {
        format!("{s}{}", " ".repeat(w - n))
    }
}

/// The segments of a line cut to `[skip, skip+width)` characters, styled.
fn cut(
    line: &DiffLine,
    skip: usize,
    width: usize,
    base: Style,
    emph: Style,
) -> (Vec<Span<'static>>, usize) {
    let mut spans = Vec::new();
    let mut pos = 0usize;
    let mut used = 0usize;
    for (emphasised, text) in &line.segments {
        let text = text.trim_end_matches('\n');
        for ch in text.chars() {
            if pos >= skip && used < width {
                let style = if *emphasised { base.patch(emph) } else { base };
                match spans.last_mut() {
                    Some(Span { content, style: s }) if *s == style => content.to_mut().push(ch),
                    _ => spans.push(Span::styled(ch.to_string(), style)),
                }
                used += 1;
            }
            pos += 1;
        }
    }
    (spans, used)
}

fn line_len(line: &DiffLine) -> usize {
    line.segments
        .iter()
        .map(|(_, t)| t.trim_end_matches('\n').chars().count())
        .sum()
}

/// kubectl's convention: deleted lines are the live side, inserted ones Git's; a neutral
/// document (the other side unknown) is neither.
fn side_style(tag: LineTag, theme: &Theme, neutral: bool) -> Style {
    match tag {
        _ if neutral => Style::default(),
        LineTag::Equal => Style::default(),
        LineTag::Delete => theme.live_side(),
        LineTag::Insert => theme.git_side(),
    }
}

/// One half of a side-by-side row: number gutter and text, padded to `w`.
/// The key a YAML line sets (`image` of `  - image: web:1`).
fn line_key(text: &str) -> Option<&str> {
    let t = text.trim_start();
    let t = t.trim_start_matches("- ").trim_start();
    let (k, _) = t.split_once(':')?;
    Some(k.trim().trim_matches('"').trim_matches('\''))
}

/// Who changed the live lines: the owner of each drifted field, by the field's last name.
fn owners_by_key(state: &AppState, key: &crate::model::ResourceKey) -> Vec<(String, String)> {
    let Some(e) = state.entry(key) else {
        return Vec::new();
    };
    e.fields
        .iter()
        .filter_map(|f| {
            let last = f.path.0.iter().rev().find_map(|s| match s {
                crate::path::Segment::Field(n) => Some(n.clone()),
                _ => None,
            })?;
            let o = f.owner.as_ref()?;
            let age = super::owner_age(state.now, o);
            Some((last, format!("◂ {}{}", o.manager, age.replace(" ago", ""))))
        })
        .collect()
}

/// One half of a side-by-side row: number gutter and text, padded to `w`, with an owner
/// note right-aligned in the padding when it fits.
fn half_spans(
    line: Option<&DiffLine>,
    number: Option<usize>,
    theme: &Theme,
    w: usize,
    skip: usize,
    note: Option<&str>,
    neutral: bool,
) -> Vec<Span<'static>> {
    let text_w = w.saturating_sub(NUM + 1);
    let mut spans = Vec::new();
    match line {
        Some(l) => {
            let num = number.map(|n| n.to_string()).unwrap_or_default();
            spans.push(Span::styled(format!("{num:>NUM$} "), theme.dim()));
            let style = side_style(l.tag, theme, neutral);
            let (mut s, used) = cut(l, skip, text_w, style, theme.emphasis());
            spans.append(&mut s);
            let room = text_w - used;
            match note {
                Some(n) if n.chars().count() + 2 <= room => {
                    let n_len = n.chars().count();
                    spans.push(Span::raw(" ".repeat(room - n_len)));
                    spans.push(Span::styled(n.to_string(), theme.accent()));
                }
                _ => spans.push(Span::raw(" ".repeat(room))),
            }
        }
        None => spans.push(Span::styled(" ".repeat(w), theme.dim())),
    }
    spans
}

fn render_row(
    row: &DiffRow,
    state: &AppState,
    theme: &Theme,
    width: usize,
    half: usize,
    hscroll: usize,
    owners: &[(String, String)],
) -> Vec<Line<'static>> {
    let neutral = state.diff.as_ref().is_some_and(|d| d.doc.neutral);
    // Who changed a live line: notes go on the live side's changed lines.
    let note_for = |l: &DiffLine| -> Option<&str> {
        if l.tag != LineTag::Delete || neutral {
            return None;
        }
        let text = l.text();
        let k = line_key(&text)?.to_string();
        owners
            .iter()
            .find(|(name, _)| *name == k)
            .map(|(_, n)| n.as_str())
    };
    let wrap = state.prefs.wrap;
    match row {
        DiffRow::Gap => vec![Line::from(Span::styled(
            format!("{:>w$} ⋯", "", w = NUM),
            theme.dim(),
        ))],
        DiffRow::Pair(left, right) => {
            let text_w = half.saturating_sub(NUM + 1).max(1);
            let pieces = if wrap {
                let longest = left
                    .iter()
                    .chain(right.iter())
                    .map(line_len)
                    .max()
                    .unwrap_or(0);
                longest.div_ceil(text_w).max(1)
            } else {
                1
            };
            (0..pieces)
                .map(|p| {
                    let skip = if wrap { p * text_w } else { hscroll };
                    let first = p == 0;
                    let mut spans = half_spans(
                        left.as_ref(),
                        left.as_ref().and_then(|l| l.old_line).filter(|_| first),
                        theme,
                        half,
                        skip,
                        left.as_ref().filter(|_| first).and_then(note_for),
                        neutral,
                    );
                    spans.push(Span::styled(theme.vbar().to_string(), theme.dim()));
                    spans.extend(half_spans(
                        right.as_ref(),
                        right.as_ref().and_then(|l| l.new_line).filter(|_| first),
                        theme,
                        width.saturating_sub(half + 1),
                        skip,
                        None,
                        neutral,
                    ));
                    Line::from(spans)
                })
                .collect()
        }
        DiffRow::Single(l) => {
            let gutter = NUM * 2 + 4;
            let text_w = width.saturating_sub(gutter).max(1);
            let pieces = if wrap {
                line_len(l).div_ceil(text_w).max(1)
            } else {
                1
            };
            (0..pieces)
                .map(|p| {
                    let skip = if wrap { p * text_w } else { hscroll };
                    let sign = match l.tag {
                        _ if neutral => " ",
                        LineTag::Equal => " ",
                        LineTag::Delete => "-",
                        LineTag::Insert => "+",
                    };
                    let style = side_style(l.tag, theme, neutral);
                    let first = p == 0;
                    let old = l
                        .old_line
                        .filter(|_| first)
                        .map(|n| n.to_string())
                        .unwrap_or_default();
                    let new = l
                        .new_line
                        .filter(|_| first)
                        .map(|n| n.to_string())
                        .unwrap_or_default();
                    let mut spans = vec![
                        Span::styled(format!("{old:>NUM$} {new:>NUM$} "), theme.dim()),
                        Span::styled(format!("{} ", if first { sign } else { " " }), style),
                    ];
                    let (s, used) = cut(l, skip, text_w, style, theme.emphasis());
                    spans.extend(s);
                    if let Some(n) =
                        note_for(l).filter(|n| first && n.chars().count() + 2 <= text_w - used)
                    {
                        spans.push(Span::raw(" ".repeat(text_w - used - n.chars().count())));
                        spans.push(Span::styled(n.to_string(), theme.accent()));
                    }
                    Line::from(spans)
                })
                .collect()
        }
    }
}
