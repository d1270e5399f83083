//! Screen geometry shared by drawing and input: where the status bar, the tree, the detail
//! pane, the diff rows and the hint bar are for a terminal size, so that a click lands on the
//! row that was drawn there and a page is as long as what is shown. Pure.

use super::{AppState, Screen};
use ratatui::layout::Rect;

/// Terminals at least this wide show the detail pane beside the tree.
pub const WIDE: u16 = 100;
const STATUS_LINES: u16 = 2;
const HINT_LINES: u16 = 1;

/// The areas of one frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Areas {
    pub status: Rect,
    pub body: Rect,
    pub hint: Rect,
    /// The tree (the body's left part on wide terminals, all of it otherwise).
    pub tree: Rect,
    /// The detail pane beside the tree (empty on narrow terminals).
    pub detail: Rect,
}

/// Splits a terminal of `size` into areas.
pub fn areas(size: (u16, u16)) -> Areas {
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
    let (tree, detail) = if w >= WIDE {
        let tw = (w * 2 / 5).max(36);
        (
            Rect::new(0, body.y, tw, body_h),
            Rect::new(tw, body.y, w - tw, body_h),
        )
    } else {
        (body, Rect::new(w, body.y, 0, body_h))
    };
    Areas {
        status,
        body,
        hint,
        tree,
        detail,
    }
}

/// Lines in the body.
pub fn body_height(size: (u16, u16)) -> u16 {
    areas(size).body.height
}

/// Where the tree rows are drawn.
pub fn tree_area(state: &AppState) -> Rect {
    areas(state.size).tree
}

/// How many header lines the diff screen has above its rows: title, drifted paths (up to
/// three lines), column titles.
pub fn diff_header_lines(state: &AppState) -> u16 {
    let fields = state
        .diff
        .as_ref()
        .and_then(|d| state.entry(&d.key))
        .map(|e| e.fields.len())
        .unwrap_or(0);
    let field_lines = if fields == 0 { 1 } else { fields.min(3) as u16 };
    2 + field_lines
}

/// Lines available for diff rows.
pub fn diff_rows_height(state: &AppState) -> usize {
    let body = areas(state.size).body.height;
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
    let _ = Screen::Help;
    lines
}
