//! Drawing the fleet matrix (`app::fleet`): a status line with each target's connection and
//! counts, a header of target names, the rows with a glyph per target, and a hint line; or,
//! with a cell open, that target's view of the resource.

use super::theme::Theme;
use crate::app::fleet::{Cell, FleetState};
use crate::app::LiveState;
use ratatui::layout::Rect;
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;
use ratatui::Frame;

/// The width of one target's column.
fn column_width(state: &FleetState) -> usize {
    state
        .columns
        .iter()
        .map(|c| c.name.chars().count())
        .max()
        .unwrap_or(3)
        .clamp(3, 10)
}

fn cut(text: &str, width: usize) -> String {
    let n = text.chars().count();
    if n <= width {
        format!("{text:<width$}")
    } else if width == 0 {
        String::new()
    } else {
        let mut s: String = text.chars().take(width - 1).collect();
        s.push('…');
        s
    }
}

fn live_glyph(theme: &Theme, ascii: bool, l: &LiveState) -> Span<'static> {
    let (g, a, style) = match l {
        LiveState::Connected { .. } => ("●", "*", theme.good()),
        LiveState::File { .. } => ("▤", "f", theme.dim()),
        LiveState::Connecting | LiveState::Waiting { .. } => ("◌", "o", theme.dim()),
        LiveState::Reconnecting { .. } => ("◐", "~", theme.warn()),
        LiveState::Unreachable { .. } => ("✗", "x", theme.bad()),
    };
    Span::styled(if ascii { a } else { g }, style)
}

pub fn draw(frame: &mut Frame, state: &FleetState) {
    let area = frame.area();
    let theme = Theme::new(state.look);
    let width = usize::from(area.width);
    let mut lines: Vec<Line> = Vec::new();
    // The status line: each target's connection and counts.
    let mut status = vec![Span::styled(
        format!("fleet · {} targets ", state.columns.len()),
        theme.bar(),
    )];
    for c in &state.columns {
        status.push(Span::raw(" │ "));
        status.push(live_glyph(&theme, state.look.ascii, &c.live));
        status.push(Span::raw(format!(" {} ", c.name)));
        match (&c.report, c.is_current()) {
            (Some(r), true) => {
                let s = r.summary();
                for (st, n) in [
                    (crate::model::DriftStatus::Synced, s.synced),
                    (crate::model::DriftStatus::OutOfSync, s.out_of_sync),
                    (crate::model::DriftStatus::Missing, s.missing),
                    (crate::model::DriftStatus::Extra, s.extra),
                ] {
                    if n > 0 || st == crate::model::DriftStatus::Synced {
                        status.push(Span::styled(
                            format!("{}{n} ", theme.glyph(st)),
                            theme.status(st),
                        ));
                    }
                }
            }
            _ => status.push(Span::styled(
                crate::app::fleet::live_words(&c.live)
                    .split(':')
                    .next()
                    .unwrap_or("")
                    .to_string(),
                theme.dim(),
            )),
        }
    }
    lines.push(Line::from(status));
    if state.view.is_some() {
        draw_view(frame, state, &theme, area, lines);
        return;
    }
    let cw = column_width(state);
    let label_w = width.saturating_sub((cw + 1) * state.columns.len()).max(8);
    let mut header = vec![Span::styled(cut("", label_w), theme.dim())];
    for (i, c) in state.columns.iter().enumerate() {
        let style = if i == state.column {
            theme.accent().add_modifier(Modifier::REVERSED)
        } else {
            theme.dim()
        };
        header.push(Span::raw(" "));
        header.push(Span::styled(cut(&c.name, cw), style));
    }
    lines.push(Line::from(header));
    let body = state.body_height();
    if state.rows.is_empty() {
        let waiting = state.columns.iter().any(|c| c.report.is_none());
        lines.push(Line::from(Span::styled(
            if waiting {
                "waiting for the targets' first reports…".to_string()
            } else {
                format!(
                    "nothing to show under the filter: {}",
                    state.filter.label(
                        &state
                            .columns
                            .get(state.column)
                            .map(|c| c.name.clone())
                            .unwrap_or_default()
                    )
                )
            },
            theme.dim(),
        )));
    }
    for (i, row) in state.rows.iter().enumerate().skip(state.offset).take(body) {
        let selected = i == state.selected;
        let label = match &row.key {
            None => cut(&crate::text::visible_line(&row.label), label_w),
            Some(_) => cut(
                &format!("  {}", crate::text::visible_line(&row.label)),
                label_w,
            ),
        };
        let base = if selected {
            theme.selected()
        } else {
            Style::default()
        };
        let base = if row.key.is_none() {
            base.add_modifier(Modifier::BOLD)
        } else {
            base
        };
        let mut spans = vec![Span::styled(label, base)];
        for (j, cell) in row.cells.iter().enumerate() {
            let (glyph, style) = match cell {
                Cell::Status(s) => (theme.glyph(*s).to_string(), theme.status(*s)),
                Cell::Absent => (
                    (if state.look.ascii { "." } else { "·" }).to_string(),
                    theme.dim(),
                ),
                Cell::NoVerdict => (
                    (if state.look.ascii { "#" } else { "░" }).to_string(),
                    theme.dim(),
                ),
            };
            let pad = cw.saturating_sub(1) / 2;
            let marked = row
                .key
                .as_ref()
                .is_some_and(|k| state.marks.contains(&(j, k.clone())));
            // A marked cell: `*` after its glyph.
            let after = if marked {
                format!("*{}", " ".repeat((cw - 1 - pad).saturating_sub(1)))
            } else {
                " ".repeat(cw - 1 - pad)
            };
            let text = format!("{}{glyph}{after}", " ".repeat(pad));
            let style = if selected && j == state.column {
                style.add_modifier(Modifier::REVERSED)
            } else {
                style
            };
            spans.push(Span::styled(" ", base));
            spans.push(Span::styled(text, style));
        }
        lines.push(Line::from(spans));
    }
    while lines.len() < usize::from(area.height.saturating_sub(1)) {
        lines.push(Line::from(""));
    }
    let col = state
        .columns
        .get(state.column)
        .map(|c| c.name.clone())
        .unwrap_or_default();
    lines.truncate(usize::from(area.height.saturating_sub(1)));
    lines.push(Line::from(Span::styled(
        format!(
            " h/l target · enter view · space mark · s sync · o open · f {} · q quit",
            state.filter.label(&col)
        ),
        theme.bar(),
    )));
    frame.render_widget(Paragraph::new(lines), area);
}

fn draw_view(
    frame: &mut Frame,
    state: &FleetState,
    theme: &Theme,
    area: Rect,
    mut lines: Vec<Line<'static>>,
) {
    let Some(v) = &state.view else { return };
    let body = usize::from(area.height.saturating_sub(2));
    let text = state.view_lines();
    for (i, l) in text
        .iter()
        .enumerate()
        .skip(v.scroll.min(text.len().saturating_sub(1)))
        .take(body)
    {
        let l = cut(&crate::text::visible_line(l), usize::from(area.width))
            .trim_end()
            .to_string();
        let style = if i == 0 {
            theme.accent()
        } else if l.starts_with('-') && !l.starts_with("---") {
            theme.live_side()
        } else if l.starts_with('+') && !l.starts_with("+++") {
            theme.git_side()
        } else {
            Style::default()
        };
        lines.push(Line::from(Span::styled(l, style)));
    }
    while lines.len() < usize::from(area.height.saturating_sub(1)) {
        lines.push(Line::from(""));
    }
    lines.truncate(usize::from(area.height.saturating_sub(1)));
    lines.push(Line::from(Span::styled(
        if state.view.as_ref().is_some_and(|v| v.compare.is_some()) {
            " esc back · c compare with the next target · j/k scroll"
        } else {
            " esc back · h/l the other targets · c compare live with the next target · j/k scroll"
        },
        theme.bar(),
    )));
    frame.render_widget(Paragraph::new(lines), area);
}
