//! The sync dialogs drawn over the body: the preview to confirm (context and server first,
//! every resource with its action, changed fields and conflicts), the second confirmation
//! to force conflicts, the prune confirmation, progress and results.

use super::theme::Theme;
use crate::app::sync_dialog::Dialog;
use crate::app::AppState;
use crate::sync::{ItemResult, PlanAction, SyncPlan};
use ratatui::layout::Rect;
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, Paragraph, Wrap};
use ratatui::Frame;

fn bold() -> Style {
    Style::default().add_modifier(Modifier::BOLD)
}

fn plan_lines(plan: &SyncPlan, theme: &Theme, conflicts_only: bool) -> Vec<Line<'static>> {
    let mut lines = Vec::new();
    for item in &plan.items {
        if conflicts_only && item.conflicts.is_empty() {
            continue;
        }
        let style = match item.action {
            PlanAction::Create => theme.status(crate::model::DriftStatus::Missing),
            PlanAction::Update => theme.status(crate::model::DriftStatus::OutOfSync),
            PlanAction::Unchanged => theme.dim(),
            PlanAction::Refused => theme.bad(),
        };
        lines.push(Line::from(vec![
            Span::styled(format!(" {:<9} ", item.action.to_string()), style),
            Span::styled(item.key.short_name(), bold()),
        ]));
        if let Some(err) = &item.error {
            lines.push(Line::from(Span::styled(format!("     {err}"), theme.bad())));
        }
        if let Some(note) = &item.note {
            lines.push(Line::from(Span::styled(
                format!("     ({note})"),
                theme.dim(),
            )));
        }
        if !conflicts_only {
            let max = 12;
            for c in item.changes.iter().take(max) {
                let before = c.before.clone().unwrap_or_else(|| "(absent)".into());
                let after = c.after.clone().unwrap_or_else(|| "(removed)".into());
                let text = if item.action == PlanAction::Create {
                    format!("     + {}: {after}", c.path)
                } else {
                    format!("     {}: {before} → {after}", c.path)
                };
                lines.push(Line::from(Span::raw(text)));
            }
            if item.changes.len() > max {
                lines.push(Line::from(Span::styled(
                    format!("     … {} more fields", item.changes.len() - max),
                    theme.dim(),
                )));
            }
        }
        for c in &item.conflicts {
            lines.push(Line::from(Span::styled(
                format!("     conflict: {} owns {}", c.manager, c.fields.join(", ")),
                theme.warn(),
            )));
        }
    }
    lines
}

pub fn draw(frame: &mut Frame, state: &AppState, theme: &Theme, body: Rect) {
    let context = &state.header.context;
    let server = &state.header.server;
    let protected = state.sync.protected;
    let target = Line::from(vec![
        Span::raw(" context "),
        Span::styled(context.clone(), bold().patch(theme.warn())),
        Span::raw("  server "),
        Span::styled(server.clone(), bold()),
    ]);
    let (title, mut lines, footer, scroll): (String, Vec<Line>, Vec<Line>, usize) =
        match &state.sync.dialog {
            Dialog::Closed => return,
            Dialog::Working(text) => (
                " sync ".into(),
                vec![target, Line::from(""), Line::from(format!(" {text}"))],
                vec![],
                0,
            ),
            Dialog::Confirm {
                plan,
                typed,
                scroll,
                note,
            } => {
                let writes = plan.writes().count();
                let mut lines = vec![target];
                if let Some(n) = note {
                    lines.push(Line::from(Span::styled(format!(" {n}"), theme.bad())));
                }
                lines.push(Line::from(Span::styled(
                    format!(
                        " from Git {}: {writes} to write, {} in all",
                        &plan.revision[..plan.revision.len().min(7)],
                        plan.items.len()
                    ),
                    theme.dim(),
                )));
                lines.extend(plan_lines(plan, theme, false));
                let mut footer = Vec::new();
                if writes == 0 {
                    footer.push(Line::from(Span::styled(
                        " nothing to apply; any key closes",
                        theme.dim(),
                    )));
                } else if protected {
                    footer.push(Line::from(Span::styled(
                        format!(
                        " {context} is a protected context: type its name and press enter to apply"
                    ),
                        theme.warn(),
                    )));
                    footer.push(Line::from(vec![
                        Span::raw(" > "),
                        Span::styled(typed.clone(), bold()),
                        Span::styled("▏", theme.accent()),
                    ]));
                    if plan.has_conflicts() {
                        footer.push(Line::from(Span::styled(
                            " tab: take the conflicting fields (force)…  esc: cancel",
                            theme.dim(),
                        )));
                    }
                } else {
                    let mut spans = vec![Span::styled(
                        format!(" y: apply {writes} to {context}"),
                        bold(),
                    )];
                    if plan.has_conflicts() {
                        spans.push(Span::raw("   f: take the conflicting fields (force)…"));
                    }
                    spans.push(Span::styled(
                        "   j/k: scroll   any other key: cancel",
                        theme.dim(),
                    ));
                    footer.push(Line::from(spans));
                    if plan.has_conflicts() {
                        footer.push(Line::from(Span::styled(
                            " y applies without force: resources with conflicts are not written",
                            theme.dim(),
                        )));
                    }
                }
                (" confirm sync ".into(), lines, footer, *scroll)
            }
            Dialog::ConfirmForce { plan, typed } => {
                let mut lines = vec![
                    target,
                    Line::from(Span::styled(
                        " FORCE: kdrift takes these fields from their managers:",
                        theme.bad(),
                    )),
                ];
                lines.extend(plan_lines(plan, theme, true));
                let footer = if protected {
                    vec![
                        Line::from(Span::styled(
                            format!(" type {context} and press enter to force; esc cancels"),
                            theme.warn(),
                        )),
                        Line::from(vec![
                            Span::raw(" > "),
                            Span::styled(typed.clone(), bold()),
                            Span::styled("▏", theme.accent()),
                        ]),
                    ]
                } else {
                    vec![Line::from(vec![
                        Span::styled(" y: force-apply", bold()),
                        Span::styled("   any other key: cancel", theme.dim()),
                    ])]
                };
                (" confirm force ".into(), lines, footer, 0)
            }
            Dialog::ConfirmDelete { key, typed, .. } => (
                " confirm prune ".into(),
                vec![
                    target,
                    Line::from(vec![
                        Span::raw(" delete "),
                        Span::styled(key.short_name(), bold().patch(theme.bad())),
                    ]),
                    Line::from(Span::styled(
                        " it is in the cluster, tracked, and not in Git",
                        theme.dim(),
                    )),
                ],
                vec![
                    Line::from(Span::styled(
                        format!(
                            " type the name {:?} and press enter to delete; esc cancels",
                            key.name
                        ),
                        theme.warn(),
                    )),
                    Line::from(vec![
                        Span::raw(" > "),
                        Span::styled(typed.clone(), bold()),
                        Span::styled("▏", theme.accent()),
                    ]),
                ],
                0,
            ),
            Dialog::Results { outcomes } => {
                let mut lines = vec![target];
                for o in outcomes {
                    let style = match &o.result {
                        r if r.is_success() => theme.good(),
                        ItemResult::Conflict(_) | ItemResult::Stale(_) => theme.warn(),
                        _ => theme.bad(),
                    };
                    lines.push(Line::from(vec![
                        Span::styled(format!(" {:<9} ", o.action), theme.dim()),
                        Span::styled(o.key.short_name(), bold()),
                    ]));
                    lines.push(Line::from(Span::styled(
                        format!("     {}", o.result),
                        style,
                    )));
                }
                (
                    " sync result ".into(),
                    lines,
                    vec![Line::from(Span::styled(" any key closes", theme.dim()))],
                    0,
                )
            }
            Dialog::Failed(message) => (
                " sync failed ".into(),
                vec![
                    target,
                    Line::from(Span::styled(format!(" {message}"), theme.bad())),
                ],
                vec![Line::from(Span::styled(
                    " nothing was written · any key closes",
                    theme.dim(),
                ))],
                0,
            ),
        };
    let w = body.width.saturating_sub(4).min(110);
    // A terminal too narrow for a 20-column dialog gets one as wide as it is.
    let w = if w < 20 { body.width } else { w };
    let want = (lines.len() + footer.len() + 2) as u16;
    let h = want.min(body.height).max(5.min(body.height));
    let area = Rect::new(
        body.x + (body.width - w) / 2,
        body.y + (body.height - h) / 2,
        w,
        h,
    );
    frame.render_widget(Clear, area);
    let block = Block::default()
        .borders(Borders::ALL)
        .title(Span::styled(title, bold()));
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let footer_h = (footer.len() as u16).min(inner.height);
    let main_h = inner.height - footer_h;
    let max_scroll = lines.len().saturating_sub(main_h as usize);
    let skip = scroll.min(max_scroll);
    lines.drain(..skip);
    frame.render_widget(
        Paragraph::new(lines).wrap(Wrap { trim: false }),
        Rect::new(inner.x, inner.y, inner.width, main_h),
    );
    frame.render_widget(
        Paragraph::new(footer).wrap(Wrap { trim: false }),
        Rect::new(inner.x, inner.y + main_h, inner.width, footer_h),
    );
}
