//! Screen geometry shared by drawing and input: where the status bar, the tree, the detail
//! pane, the diff rows and the hint bar are for a terminal size, so that a click lands on the
//! row that was drawn there and a page is as long as what is shown. Pure.

use super::sync_dialog::{DialogLine, DialogText, Tone};
use super::wrap;
use super::AppState;
use ratatui::layout::Rect;

/// Terminals at least this wide show the detail pane beside the tree (by default).
pub const WIDE: u16 = 100;
const STATUS_LINES: u16 = 2;
const HINT_LINES: u16 = 1;

/// The areas of one frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Areas {
    pub status: Rect,
    pub body: Rect,
    pub hint: Rect,
    /// The tree's rows.
    pub tree: Rect,
    /// The breadcrumb and position line under the tree.
    pub crumb: Rect,
    /// The detail pane: beside the tree on wide terminals, below it on narrow ones when
    /// asked for (`i`); empty when not shown.
    pub detail: Rect,
}

/// Splits a terminal of `size` into areas; `detail` says whether the detail pane shows.
pub fn areas(size: (u16, u16), detail: bool) -> Areas {
    let (w, h) = size;
    let status = Rect::new(0, 0, w, STATUS_LINES.min(h));
    let body_h = h.saturating_sub(STATUS_LINES + HINT_LINES);
    let body = Rect::new(0, status.height, w, body_h);
    let hint = Rect::new(
        0,
        body.y + body.height,
        w,
        HINT_LINES.min(h.saturating_sub(body.y + body.height)),
    );
    let (left, detail) = if !detail {
        (body, Rect::new(w, body.y, 0, 0))
    } else if w >= WIDE {
        let tw = (w * 2 / 5).max(36);
        (
            Rect::new(0, body.y, tw, body_h),
            Rect::new(tw, body.y, w - tw, body_h),
        )
    } else {
        // Below: the tree keeps the top third (at least three rows and the breadcrumb),
        // the detail the rest, where who changed what and with which commit fits.
        let top = (body_h / 3).max(body_h.min(4));
        (
            Rect::new(0, body.y, w, top),
            Rect::new(0, body.y + top, w, body_h - top),
        )
    };
    let crumb_h = u16::from(left.height >= 3);
    let tree = Rect::new(left.x, left.y, left.width, left.height - crumb_h);
    let crumb = Rect::new(left.x, left.y + tree.height, left.width, crumb_h);
    Areas {
        status,
        body,
        hint,
        tree,
        crumb,
        detail,
    }
}

/// Lines in the body.
pub fn body_height(size: (u16, u16)) -> u16 {
    areas(size, false).body.height
}

/// The frame's areas for the state's size and detail choice.
pub fn areas_of(state: &AppState) -> Areas {
    areas(state.size, state.detail_shown())
}

/// Where the tree rows are drawn.
pub fn tree_area(state: &AppState) -> Rect {
    areas_of(state).tree
}

/// The diff screen's header (see `diffview::header`) wrapped to the terminal's width, at
/// most half the body; what does not fit is counted on its last row.
pub fn diff_header_rows(state: &AppState) -> Vec<DialogLine> {
    let width = usize::from(state.size.0);
    let max = (usize::from(areas_of(state).body.height) / 2).max(2);
    let mut rows: Vec<DialogLine> = super::diffview::header(state)
        .iter()
        .flat_map(|l| wrap::wrap(l, width, 2, &Tone::Plain))
        .collect();
    if rows.len() > max {
        let hidden = rows.len() - max + 1;
        rows.truncate(max - 1);
        rows.push(vec![(
            Tone::Dim,
            format!("… {hidden} more header lines: i shows the detail"),
        )]);
    }
    rows
}

/// How many header lines the diff screen has above its rows: the wrapped header and the
/// column titles.
pub fn diff_header_lines(state: &AppState) -> u16 {
    diff_header_rows(state).len() as u16 + 1
}

/// Lines available for diff rows.
pub fn diff_rows_height(state: &AppState) -> usize {
    let body = areas_of(state).body.height;
    body.saturating_sub(diff_header_lines(state)) as usize
}

/// The help screen's lines: (keys, description) with headings (keys empty) per mode.
pub fn help_lines(state: &AppState) -> Vec<(String, String)> {
    use crate::keymap::KeyMode;
    let mut lines = Vec::new();
    let modes = [KeyMode::Tree, KeyMode::Diff, KeyMode::List, KeyMode::Global];
    for mode in modes {
        let bindings = state.keymap.help(mode);
        if bindings.is_empty() {
            continue;
        }
        if !lines.is_empty() {
            lines.push((String::new(), String::new()));
        }
        lines.push((String::new(), mode.name().to_string()));
        for (action, keys) in bindings {
            if action.is_write() && state.read_only {
                continue;
            }
            lines.push((keys.join(" "), action.description().to_string()));
        }
    }
    lines.push((String::new(), String::new()));
    lines.push((String::new(), "commands (after :)".to_string()));
    for (c, what) in super::COMMANDS {
        lines.push((format!(":{c}"), what.to_string()));
    }
    lines
}

/// The help screen wrapped to the terminal: every binding, the commands, then a legend of
/// the glyphs and colours.
pub fn help_rows(state: &AppState) -> Vec<DialogLine> {
    use crate::model::DriftStatus;
    let width = usize::from(state.size.0).saturating_sub(1).max(1);
    let mut lines: Vec<DialogLine> = help_lines(state)
        .into_iter()
        .map(|(keys, text)| {
            if keys.is_empty() {
                vec![(Tone::Accent, format!(" {text}"))]
            } else {
                vec![
                    (Tone::Strong, format!("   {keys:<16} ")),
                    (Tone::Plain, text),
                ]
            }
        })
        .collect();
    lines.push(vec![]);
    lines.push(vec![(Tone::Accent, " legend".to_string())]);
    let meaning = |s: DriftStatus| match s {
        DriftStatus::Synced => "synced: the cluster matches Git (green)",
        DriftStatus::OutOfSync => "out of sync: fields differ (yellow)",
        DriftStatus::Missing => "missing: in Git, not in the cluster (red)",
        DriftStatus::Extra => "extra: in the cluster, tracked, not in Git (magenta)",
        DriftStatus::Unknown => "unknown: cannot be read or compared (grey); the detail says why",
        DriftStatus::Invalid => "invalid: the Git manifest cannot be used (red)",
        DriftStatus::Refused => {
            "refused: the API server's dry run refuses the manifest (server mode)"
        }
        DriftStatus::Hook => "hook: a Helm or Argo CD hook, run around a sync; not compared",
    };
    for st in DriftStatus::ALL {
        lines.push(vec![
            (Tone::Plain, "   ".to_string()),
            (Tone::Glyph(st), "?".to_string()),
            (Tone::Plain, format!("  {}", meaning(st))),
        ]);
    }
    for (glyph, what) in [
        ("▾ ▸", "an open / a folded group (ascii: v >)"),
        ("*", "marked for sync"),
        ("- +", "in diffs: - the live side, + Git (as kubectl diff)"),
        (
            "◂ name",
            "in diffs: the field manager that changed that live line",
        ),
    ] {
        lines.push(vec![
            (Tone::Plain, "   ".to_string()),
            (Tone::Strong, format!("{glyph:<6}")),
            (Tone::Plain, format!(" {what}")),
        ]);
    }
    lines
        .iter()
        .flat_map(|l| wrap::wrap(l, width, 21, &Tone::Plain))
        .collect()
}

/// The event log wrapped to the terminal, oldest first, each line after its time.
pub fn log_rows(state: &AppState) -> Vec<DialogLine> {
    let width = usize::from(state.size.0).saturating_sub(1).max(1);
    state
        .log
        .iter()
        .flat_map(|l| {
            let line = vec![
                (Tone::Dim, format!(" {} ", super::ages::clock(l.time))),
                (Tone::Plain, crate::text::visible_line(&l.text).into_owned()),
            ];
            wrap::wrap(&line, width, 10, &Tone::Plain)
        })
        .collect()
}

/// The Events view wrapped to the terminal: a title, then each Event, newest first.
pub fn events_rows(state: &AppState) -> Vec<DialogLine> {
    let width = usize::from(state.size.0).saturating_sub(1).max(1);
    let Some(v) = &state.events else {
        return Vec::new();
    };
    let mut lines: Vec<DialogLine> = vec![vec![
        (Tone::Strong, format!(" Events of {}", v.key.short_name())),
        (Tone::Dim, "  newest first, live".to_string()),
    ]];
    if let Some(e) = &v.error {
        lines.push(vec![(Tone::Bad, format!(" {e}"))]);
    }
    match &v.events {
        None if v.error.is_none() => lines.push(vec![(Tone::Warn, " reading…".to_string())]),
        None => {}
        Some(list) if list.is_empty() => lines.push(vec![(
            Tone::Dim,
            " no Events (the API server keeps them about an hour)".to_string(),
        )]),
        Some(list) => {
            for e in list {
                let warn = e.kind == "Warning";
                let mut line = vec![
                    (
                        Tone::Dim,
                        format!(" {:>4} ", super::ages::age_secs(state.now, e.time)),
                    ),
                    (
                        if warn { Tone::Warn } else { Tone::Plain },
                        format!("{:<7} ", e.kind),
                    ),
                    (Tone::Strong, format!("{} ", e.reason)),
                    (Tone::Plain, e.message.clone()),
                ];
                if e.count > 1 {
                    line.push((Tone::Dim, format!(" (×{})", e.count)));
                }
                if !e.source.is_empty() {
                    line.push((Tone::Dim, format!("  {}", e.source)));
                }
                let line: DialogLine = line
                    .into_iter()
                    .map(|(t, x)| (t, crate::text::visible_line(&x).into_owned()))
                    .collect();
                lines.extend(wrap::wrap(&line, width, 14, &Tone::Plain));
            }
        }
    }
    lines
}

/// Where a dialog goes and what of it shows at a terminal size.
#[derive(Debug, Clone, PartialEq)]
pub struct DialogBox {
    /// The box, borders included.
    pub area: Rect,
    /// Where the body's rows go.
    pub body: Rect,
    /// Where the footer's rows go (below the body, never scrolled away).
    pub footer: Rect,
    /// The body wrapped to the box, from the first row shown, as many as fit.
    pub body_rows: Vec<DialogLine>,
    pub footer_rows: Vec<DialogLine>,
    /// Rows of the body above and below what is shown.
    pub above: usize,
    pub below: usize,
    pub max_scroll: usize,
}

/// Dialogs cover the body, or the whole screen when the body is this short.
const DIALOG_MIN_BODY: u16 = 12;

/// Lays a dialog out: as wide as its text wants up to the terminal's width, wrapped at
/// words, as tall as it needs up to the terminal's height; the body scrolls and the footer
/// (the question) always shows.
pub fn dialog_box(size: (u16, u16), text: &DialogText) -> DialogBox {
    let screen = Rect::new(0, 0, size.0, size.1);
    let body = areas(size, false).body;
    let region = if body.height < DIALOG_MIN_BODY {
        screen
    } else {
        body
    };
    let max_w = if region.width >= 60 {
        region.width - 4
    } else {
        region.width
    };
    let line_w = |l: &DialogLine| l.iter().map(|(_, t)| wrap::width(t)).sum::<usize>();
    let natural = text
        .body
        .iter()
        .chain(text.footer.iter())
        .map(line_w)
        .max()
        .unwrap_or(0)
        .max(wrap::width(&text.title) + 4)
        + 4;
    let w = (natural.min(usize::from(u16::MAX)) as u16).clamp(max_w.min(50), max_w.max(1));
    // Borders, and a column of padding each side where there is room.
    let pad: u16 = if w >= 24 { 2 } else { 1 };
    let inner_w = usize::from(w.saturating_sub(pad * 2).max(1));
    let wrap_all = |lines: &[DialogLine]| -> Vec<DialogLine> {
        lines
            .iter()
            .flat_map(|l| wrap::wrap(l, inner_w, 4, &Tone::Plain))
            .collect()
    };
    let body_all = wrap_all(&text.body);
    let footer_all = wrap_all(&text.footer);
    let max_inner_h = usize::from(region.height.saturating_sub(2));
    // The footer keeps at least one body row above it where the box has two rows.
    let footer_h = footer_all
        .len()
        .min(max_inner_h.saturating_sub(usize::from(max_inner_h > 1)));
    let body_h = body_all.len().min(max_inner_h - footer_h);
    let max_scroll = body_all.len() - body_h;
    let skip = text.scroll.min(max_scroll);
    let h = (body_h + footer_h + 2) as u16;
    let area = Rect::new(
        region.x + (region.width - w) / 2,
        region.y + (region.height - h.min(region.height)) / 2,
        w,
        h.min(region.height),
    );
    let inner_x = area.x + pad;
    let inner = Rect::new(inner_x, area.y + 1, inner_w as u16, body_h as u16);
    let footer = Rect::new(
        inner_x,
        inner.y + inner.height,
        inner_w as u16,
        footer_h as u16,
    );
    let body_rows: Vec<DialogLine> = body_all.iter().skip(skip).take(body_h).cloned().collect();
    DialogBox {
        area,
        body: inner,
        footer,
        body_rows,
        footer_rows: footer_all.into_iter().take(footer_h).collect(),
        above: skip,
        below: max_scroll - skip,
        max_scroll,
    }
}
