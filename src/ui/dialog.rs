//! The sync dialogs drawn over the body: the preview to confirm (context and server first,
//! every resource with what confirming does to it, its changed fields and conflicts), the
//! second confirmation to force conflicts, the prune confirmation, progress and results.
//! What they say is `app::sync_dialog::text`; where it goes is `app::layout::dialog_box`;
//! this only styles and draws it.

use super::theme::Theme;
use crate::app::layout;
use crate::app::sync_dialog;
use crate::app::AppState;
use ratatui::style::{Modifier, Style};
use ratatui::text::Span;
use ratatui::widgets::{Block, Borders, Clear, Paragraph};
use ratatui::Frame;

fn bold() -> Style {
    Style::default().add_modifier(Modifier::BOLD)
}

pub fn draw(frame: &mut Frame, state: &AppState, theme: &Theme) {
    let Some(text) = sync_dialog::text(state) else {
        return;
    };
    let b = layout::dialog_box(state.size, &text);
    frame.render_widget(Clear, b.area);
    let mut block = Block::default()
        .borders(Borders::ALL)
        .title(Span::styled(format!(" {} ", text.title), bold()));
    if b.above > 0 || b.below > 0 {
        let mut parts = Vec::new();
        if b.above > 0 {
            parts.push(format!("↑{} above", b.above));
        }
        if b.below > 0 {
            parts.push(format!("↓{} more lines", b.below));
        }
        block = block.title_bottom(Span::styled(format!(" {} ", parts.join(" ")), theme.warn()));
    }
    frame.render_widget(block, b.area);
    frame.render_widget(Paragraph::new(theme.lines(&b.body_rows)), b.body);
    frame.render_widget(Paragraph::new(theme.lines(&b.footer_rows)), b.footer);
}
