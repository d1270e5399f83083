//! Drawing the explorer: `draw(frame, &AppState)` and nothing else. Reads the state, never
//! changes it, never touches the cluster or Git. Only the rows on screen are built, so a
//! frame costs the same for 100 resources as for 10,000.

mod dialog;
mod diff;
pub mod fleet;
pub mod theme;

use crate::app::layout::{self, Areas};
use crate::app::tree::{Filter, RowKind};
use crate::app::wrap;
use crate::app::{AppState, LiveState, Screen};
use crate::drift::Summary;
use crate::model::DriftStatus;
use ratatui::layout::Rect;
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Wrap};
use ratatui::Frame;
use std::time::SystemTime;
use theme::Theme;

pub use crate::app::ages::{age, age_secs, clock, owner_age};

/// Draws the whole screen.
pub fn draw(frame: &mut Frame, state: &AppState) {
    let size = frame.area();
    let areas = layout::areas(
        (size.width, size.height),
        state.detail.unwrap_or(size.width >= layout::WIDE),
    );
    let theme = Theme::new(state.look);
    draw_status(frame, state, &theme, areas.status);
    match state.screen {
        Screen::Tree => draw_tree_screen(frame, state, &theme, &areas),
        Screen::Diff => diff::draw(frame, state, &theme, areas.body),
        Screen::Help => draw_help(frame, state, &theme, areas.body),
        Screen::Log => draw_log(frame, state, &theme, areas.body),
        Screen::Events => draw_events(frame, state, &theme, areas.body),
    }
    draw_hint(frame, state, &theme, areas.hint);
    if state.sync.is_open() {
        dialog::draw(frame, state, &theme);
    }
    if state.look.ascii {
        asciify(frame.buffer_mut());
    }
}

/// `--ascii`: the drawing glyphs of the whole frame (borders, separators, ellipses, folds,
/// statuses) in their plain ASCII stand-ins, one cell each, whoever drew them.
fn asciify(buffer: &mut ratatui::buffer::Buffer) {
    for cell in buffer.content.iter_mut() {
        let plain = match cell.symbol() {
            "│" | "┃" | "║" => "|",
            "─" | "━" | "═" => "-",
            "┌" | "┐" | "└" | "┘" | "├" | "┤" | "┬" | "┴" | "┼" | "╭" | "╮" | "╯" | "╰" => {
                "+"
            }
            "·" | "…" | "⋯" => ".",
            "◦" => "o",
            "●" => "*",
            "▸" | "▶" | "→" | "›" => ">",
            "◂" | "◀" | "←" | "‹" => "<",
            "▾" => "v",
            "✓" => "=",
            "≠" => "~",
            "∅" => "-",
            "✗" => "!",
            "↑" => "^",
            "↓" => "v",
            "×" => "x",
            "▏" => "|",
            _ => continue,
        };
        cell.set_symbol(plain);
    }
}

fn live_text(state: &AppState, theme: &Theme, wide: bool) -> Span<'static> {
    let now = state.now;
    match &state.live {
        LiveState::File { read_at } => Span::styled(
            format!("◦ file, read {} ago", age(now, *read_at)),
            theme.dim(),
        ),
        LiveState::Connecting => Span::styled("… connecting".to_string(), theme.warn()),
        LiveState::Waiting { since } => Span::styled(
            if wide {
                format!(
                    "… waiting for {}: no answer for {}",
                    crate::text::visible_line(&state.header.server),
                    age(now, *since)
                )
            } else {
                format!("… no answer for {}", age(now, *since))
            },
            theme.warn(),
        ),
        LiveState::Connected { freshest } => Span::styled(
            if wide {
                format!(
                    "{} live · last change {} ago",
                    theme.dot(),
                    age(now, *freshest)
                )
            } else {
                format!("{} live {}", theme.dot(), age(now, *freshest))
            },
            theme.good(),
        ),
        LiveState::Reconnecting { since, .. } => Span::styled(
            if wide {
                format!(
                    "{} reconnecting since {} ({} ago)",
                    theme.dot(),
                    clock(*since),
                    age(now, *since)
                )
            } else {
                format!("{} reconnecting {}", theme.dot(), age(now, *since))
            },
            theme.bad(),
        ),
        LiveState::Unreachable { .. } => {
            Span::styled(format!("{} unreachable", theme.dot()), theme.bad())
        }
    }
}

fn counts_spans(summary: &Summary, theme: &Theme, all: bool) -> Vec<Span<'static>> {
    let mut spans = Vec::new();
    for s in DriftStatus::ALL {
        let n = summary.count(s);
        if n == 0 && (!all || s.is_occasional()) {
            continue;
        }
        let style = if n == 0 { theme.dim() } else { theme.status(s) };
        spans.push(Span::styled(format!("{}{n} ", theme.glyph(s)), style));
    }
    spans
}

/// Whether a status is a comparison's verdict (which server mode makes with a dry run).
fn has_verdict(s: DriftStatus) -> bool {
    matches!(
        s,
        DriftStatus::Synced | DriftStatus::OutOfSync | DriftStatus::Missing | DriftStatus::Refused
    )
}

fn draw_status(frame: &mut Frame, state: &AppState, theme: &Theme, area: Rect) {
    let sep = || Span::styled(" │ ", theme.dim());
    let mut line1 = Vec::new();
    if state.read_only {
        line1.push(Span::styled(" READ-ONLY ", theme.read_only()));
        line1.push(Span::raw(" "));
    }
    line1.push(Span::styled(
        format!("{} {}", theme.cluster_glyph(), state.header.context),
        Style::default().add_modifier(Modifier::BOLD),
    ));
    if state.header.server_mode {
        line1.push(sep());
        line1.push(Span::styled("server mode", theme.accent()));
    }
    line1.push(sep());
    line1.push(live_text(state, theme, area.width >= 100));
    line1.push(sep());
    if state.loaded {
        line1.extend(counts_spans(&state.report.summary(), theme, true));
    } else {
        line1.push(Span::styled("loading… ", theme.warn()));
    }
    // The server last: on a narrow terminal it is what gets cut.
    line1.push(Span::styled(
        format!("│ {}", state.header.server),
        theme.dim(),
    ));
    // Line 2: the revision, then what narrows the view (kept visible on narrow
    // terminals), then the commit subject and the repository (what gets cut).
    let rev = &state.header.revision;
    let mut line2 = vec![Span::styled(
        format!(
            "{} {}{}",
            theme.branch_glyph(),
            rev.branch
                .as_deref()
                .map(|b| format!("{b} "))
                .unwrap_or_default(),
            if rev.short.is_empty() {
                "…"
            } else {
                &rev.short
            },
        ),
        Style::default(),
    )];
    if state.filter != Filter::All {
        line2.push(sep());
        line2.push(Span::styled(
            format!("filter: {}", state.filter.label()),
            theme.accent(),
        ));
    }
    if !state.search.query.is_empty() {
        let n = state.match_count();
        line2.push(sep());
        line2.push(Span::styled(
            format!(
                "/{} ({n} match{})",
                state.search.query,
                if n == 1 { "" } else { "es" }
            ),
            theme.accent(),
        ));
    }
    if !state.marks.is_empty() {
        line2.push(sep());
        line2.push(Span::styled(
            format!("{} marked", state.marks.len()),
            theme.accent(),
        ));
    }
    line2.push(sep());
    line2.push(Span::raw(rev.subject.clone()));
    line2.push(Span::styled(
        format!(" · {}", state.header.repo),
        theme.dim(),
    ));
    let width = usize::from(area.width);
    let lines = vec![Line::from(fit(line1, width)), Line::from(fit(line2, width))];
    frame.render_widget(Paragraph::new(lines).style(theme.bar()), area);
}

/// Spans cut to `width` cells: the span that does not fit ends with `…`, and the ones after
/// it go, so that a URL or a number is never shown shortened without saying so.
fn fit(spans: Vec<Span<'static>>, width: usize) -> Vec<Span<'static>> {
    let mut out = Vec::new();
    let mut used = 0;
    for span in spans {
        let w = wrap::width(&span.content);
        if used + w <= width {
            used += w;
            out.push(span);
            continue;
        }
        let room = width - used;
        if room >= 1 {
            out.push(Span::styled(
                wrap::ellipsis(&span.content, room),
                span.style,
            ));
        } else if let Some(last) = out.last_mut() {
            // No room for a word: say so on what is already shown.
            let text = last.content.to_string();
            let n = wrap::width(&text);
            last.content = wrap::ellipsis(&text, n.saturating_sub(1).max(1)).into();
        }
        break;
    }
    out
}

fn draw_tree_screen(frame: &mut Frame, state: &AppState, theme: &Theme, areas: &Areas) {
    draw_tree(frame, state, theme, areas.tree);
    draw_crumb(frame, state, theme, areas.crumb);
    if areas.detail.width > 0 && areas.detail.height > 0 {
        draw_detail(
            frame,
            state,
            theme,
            areas.detail,
            areas.detail.y > areas.tree.y,
        );
    }
}

/// Where the cursor is: namespace › kind › name (or folder › file › name), and row n/N.
fn draw_crumb(frame: &mut Frame, state: &AppState, theme: &Theme, area: Rect) {
    if area.height == 0 || !state.loaded || state.rows.is_empty() {
        return;
    }
    let position = format!(" {}/{} ", state.selected + 1, state.rows.len());
    let mut crumb = state.breadcrumb().join(" › ");
    if let Some(ns) = &state.namespace {
        crumb = format!("[:ns {ns}] {crumb}");
    }
    let room = usize::from(area.width).saturating_sub(wrap::width(&position) + 1);
    let crumb = wrap::ellipsis(&format!(" {crumb}"), room);
    let pad = usize::from(area.width).saturating_sub(wrap::width(&crumb) + wrap::width(&position));
    frame.render_widget(
        Paragraph::new(Line::from(vec![
            Span::styled(crumb, theme.accent()),
            Span::raw(" ".repeat(pad)),
            Span::styled(position, theme.dim()),
        ]))
        .style(theme.bar()),
        area,
    );
}

fn draw_tree(frame: &mut Frame, state: &AppState, theme: &Theme, area: Rect) {
    let mut area = area;
    if let Some(problem) = &state.git_problem {
        // It stays where the work is until Git can be read again: above the last report
        // read, or alone.
        let text = vec![
            Line::from(Span::styled(
                format!("  Git: {}", crate::text::visible_line(problem)),
                theme.bad(),
            )),
            Line::from(Span::styled(
                if state.loaded {
                    "  (the rows below are from the last revision read)"
                } else {
                    "  kdrift keeps trying every half second"
                },
                theme.dim(),
            )),
        ];
        let width = usize::from(area.width.max(1));
        let text_lines = text.len();
        let rows: usize = text.iter().map(|l| l.width().div_ceil(width).max(1)).sum();
        let para = Paragraph::new(text).wrap(Wrap { trim: false });
        // Wrapping at words may take a row more than the widths say.
        let rows = rows + usize::from(rows > text_lines);
        let height = (rows as u16).min(area.height);
        frame.render_widget(para, Rect { height, ..area });
        if !state.loaded || height >= area.height {
            return;
        }
        area = Rect {
            y: area.y + height,
            height: area.height - height,
            ..area
        };
    }
    let h = area.height as usize;
    if !state.loaded {
        frame.render_widget(
            Paragraph::new(vec![
                Line::from(""),
                Line::from(Span::styled("  reading Git and the cluster…", theme.warn())),
            ]),
            area,
        );
        return;
    }
    if state.rows.is_empty() {
        let text = if state.report.entries.is_empty() {
            "  no resources: Git declares nothing under the chosen paths".to_string()
        } else {
            format!(
                "  nothing matches the filter \"{}\" (f cycles filters)",
                state.filter.label()
            )
        };
        frame.render_widget(
            Paragraph::new(Line::from(Span::styled(text, theme.dim()))),
            area,
        );
        return;
    }
    let matcher = crate::app::tree::Matcher::new(&state.search.query);
    let mut lines = Vec::with_capacity(h);
    for (i, row) in state.rows.iter().enumerate().skip(state.offset).take(h) {
        let indent = "  ".repeat(row.depth as usize);
        let mut spans = vec![Span::raw(indent)];
        match &row.kind {
            RowKind::Group {
                counts,
                worst,
                health,
                collapsed,
            } => {
                spans.push(Span::styled(
                    format!("{} ", theme.fold(*collapsed)),
                    theme.dim(),
                ));
                spans.push(Span::styled(theme.glyph(*worst), theme.status(*worst)));
                spans.push(theme.health_span(*health));
                spans.push(Span::raw(" "));
                spans.push(Span::styled(
                    row.label.clone(),
                    Style::default().add_modifier(Modifier::BOLD),
                ));
                let total = counts.total();
                spans.push(Span::styled(format!("  {total}"), theme.dim()));
                let drifted = total - counts.synced;
                if drifted > 0 {
                    spans.push(Span::raw(" "));
                    spans.extend(counts_spans(
                        &Summary {
                            synced: 0,
                            ..*counts
                        },
                        theme,
                        false,
                    ));
                }
            }
            RowKind::Resource { index } => {
                let e = &state.report.entries[*index];
                let marked = state.marks.contains(&e.key);
                spans.push(Span::styled(
                    if marked {
                        theme.mark().to_string()
                    } else {
                        "  ".to_string()
                    },
                    theme.accent(),
                ));
                spans.push(Span::styled(theme.glyph(e.status), theme.status(e.status)));
                spans.push(theme.health_span(e.health.as_ref().map(|h| h.status)));
                spans.push(Span::raw(" "));
                let is_match = matcher.matches(e);
                spans.push(Span::styled(
                    row.label.clone(),
                    if is_match {
                        theme.matched()
                    } else {
                        Style::default()
                    },
                ));
                if let Some(reason) = &e.reason {
                    if matches!(e.status, DriftStatus::Unknown | DriftStatus::Invalid) {
                        spans.push(Span::styled(format!("  {reason}"), theme.dim()));
                    }
                }
                if let Some(cause) =
                    crate::drift::attribution::roll_up(e.fields.iter().filter_map(|f| f.cause))
                {
                    spans.push(Span::styled(format!("  {cause}"), theme.dim()));
                }
                // In server mode a verdict the server did not make says so on its row.
                if state.header.server_mode && has_verdict(e.status) && !e.by_server {
                    spans.push(Span::styled("  (local verdict)", theme.warn()));
                }
            }
        }
        let mut line = Line::from(spans);
        if i == state.selected {
            line = line.style(theme.selected());
        }
        lines.push(line);
    }
    frame.render_widget(Paragraph::new(lines), area);
}

fn draw_detail(frame: &mut Frame, state: &AppState, theme: &Theme, area: Rect, below: bool) {
    let inner = if below {
        // A rule above, naming the pane and its key.
        let rule = format!("{} detail (i hides) ", "─".repeat(2));
        let rest = usize::from(area.width).saturating_sub(wrap::width(&rule));
        frame.render_widget(
            Paragraph::new(Line::from(Span::styled(
                format!("{rule}{}", "─".repeat(rest)),
                theme.dim(),
            ))),
            Rect::new(area.x, area.y, area.width, 1),
        );
        Rect::new(
            area.x,
            area.y + 1,
            area.width,
            area.height.saturating_sub(1),
        )
    } else {
        let sep: Vec<Line> = (0..area.height)
            .map(|_| Line::from(Span::styled(theme.vbar(), theme.dim())))
            .collect();
        frame.render_widget(
            Paragraph::new(sep),
            Rect::new(area.x, area.y, 1, area.height),
        );
        Rect::new(
            area.x + 1,
            area.y,
            area.width.saturating_sub(1),
            area.height,
        )
    };
    let mut lines: Vec<Line> = Vec::new();
    if let Some(e) = state.selected_entry() {
        lines.push(Line::from(vec![
            Span::styled(
                format!("{} ", theme.glyph(e.status)),
                theme.status(e.status),
            ),
            Span::styled(
                format!("{} {}", e.key.kind, e.key.name),
                Style::default().add_modifier(Modifier::BOLD),
            ),
            Span::styled(format!("  {}", e.status), theme.status(e.status)),
        ]));
        if state.header.server_mode && has_verdict(e.status) {
            lines.push(Line::from(Span::styled(
                if e.by_server {
                    "verdict: the API server's dry run (server mode)"
                } else {
                    "verdict: compared here (local mode): no dry run answered"
                },
                theme.dim(),
            )));
        }
        let ns = if e.key.namespace.is_empty() {
            "(cluster-scoped)".to_string()
        } else {
            e.key.namespace.clone()
        };
        lines.push(Line::from(Span::styled(
            format!(
                "namespace {ns}  ·  {}",
                if e.api_version.is_empty() {
                    e.key.group.clone()
                } else {
                    e.api_version.clone()
                }
            ),
            theme.dim(),
        )));
        match &e.source {
            Some(src) => lines.push(Line::from(Span::styled(format!("Git: {src}"), theme.dim()))),
            None => lines.push(Line::from(Span::styled(
                "not in Git (live only)",
                theme.dim(),
            ))),
        }
        if let Some(h) = &e.health {
            lines.push(Line::from(vec![
                Span::styled(
                    format!("health {} ", theme.health_glyph(h.status)),
                    theme.dim(),
                ),
                Span::styled(
                    crate::text::visible_line(&h.to_string()).into_owned(),
                    theme.health(h.status),
                ),
            ]));
        }
        if let Some(r) = &e.reason {
            lines.push(Line::from(""));
            lines.push(Line::from(Span::styled(r.clone(), theme.warn())));
        }
        if !e.fields.is_empty() {
            lines.push(Line::from(""));
            lines.push(Line::from(Span::styled(
                format!(
                    "{} drifted field{}:",
                    e.fields.len(),
                    if e.fields.len() == 1 { "" } else { "s" }
                ),
                Style::default().add_modifier(Modifier::BOLD),
            )));
            for f in &e.fields {
                let mut head = vec![Span::styled(
                    format!(" {}", f.path),
                    theme.status(DriftStatus::OutOfSync),
                )];
                if let Some(c) = f.cause {
                    head.push(Span::styled(format!("  {c}"), theme.accent()));
                }
                lines.push(Line::from(head));
                let show = |v: &Option<serde_json::Value>| match v {
                    Some(v) => crate::sync::short_value(v, 48),
                    None => "(absent)".to_string(),
                };
                let mut git = vec![
                    Span::styled("   git  ", theme.dim()),
                    Span::styled(show(&f.desired), theme.git_side()),
                ];
                if let Some(c) = &f.commit {
                    // The line's file when it is not the manifest's own (a values file, a
                    // patch, a base).
                    let place = if e.source.as_ref().is_some_and(|s| s.file == c.file) {
                        format!("line {}", c.line)
                    } else {
                        format!("{}:{}", crate::text::visible_line(&c.file), c.line)
                    };
                    git.push(Span::styled(
                        format!(
                            "  {} {}, {} ago, {:?} {place}",
                            &c.id[..c.id.len().min(7)],
                            c.author,
                            age_secs(state.now, c.time),
                            c.summary,
                        ),
                        theme.dim(),
                    ));
                } else if let Some(why) = &f.git_note {
                    git.push(Span::styled(
                        format!("  source unknown: {}", crate::text::visible_line(why)),
                        theme.dim(),
                    ));
                }
                lines.push(Line::from(git));
                let mut live = vec![
                    Span::styled("   live ", theme.dim()),
                    Span::styled(show(&f.live), theme.live_side()),
                ];
                if let Some(o) = &f.owner {
                    live.push(Span::styled(
                        format!(
                            "  {} ({}){}",
                            o.manager,
                            o.operation,
                            owner_age(state.now, o)
                        ),
                        theme.dim(),
                    ));
                }
                lines.push(Line::from(live));
            }
            if let Some(o) = &e.last_change {
                lines.push(Line::from(Span::styled(
                    format!(
                        "last change: {} ({}){}",
                        o.manager,
                        o.operation,
                        owner_age(state.now, o)
                    ),
                    theme.dim(),
                )));
            }
        }
        // Since when: the drift history's first sight (across restarts), else this run's.
        let recorded = state
            .history_since
            .get(&e.key.to_string())
            .map(|s| SystemTime::UNIX_EPOCH + std::time::Duration::from_secs((*s).max(0) as u64));
        let timeline = state.timeline.get(&e.key);
        let since = match (recorded, timeline.map(|t| t.first_drift)) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        if let Some(since) = since {
            let what = if e.status == DriftStatus::OutOfSync {
                "out of sync"
            } else {
                "needs attention"
            };
            let mut text = format!(
                "{what} since {} ({} ago)",
                clock(since),
                age(state.now, since)
            );
            if let Some(t) = timeline {
                text.push_str(&format!(
                    ", drift last changed {} ago",
                    age(state.now, t.last_change)
                ));
            }
            lines.push(Line::from(Span::styled(text, theme.dim())));
        }
        lines.push(Line::from(""));
        lines.push(Line::from(Span::styled(
            "enter: side-by-side diff",
            theme.dim(),
        )));
    } else if let Some(row) = state.selected_row() {
        if let RowKind::Group { counts, worst, .. } = &row.kind {
            lines.push(Line::from(vec![
                Span::styled(format!("{} ", theme.glyph(*worst)), theme.status(*worst)),
                Span::styled(
                    row.label.clone(),
                    Style::default().add_modifier(Modifier::BOLD),
                ),
            ]));
            lines.push(Line::from(""));
            for s in DriftStatus::ALL {
                if s.is_occasional() && counts.count(s) == 0 {
                    continue;
                }
                lines.push(Line::from(Span::styled(
                    format!("{} {:>5}  {}", theme.glyph(s), counts.count(s), s),
                    if counts.count(s) == 0 {
                        theme.dim()
                    } else {
                        theme.status(s)
                    },
                )));
            }
        }
    }
    frame.render_widget(Paragraph::new(lines).wrap(Wrap { trim: false }), inner);
}

fn draw_rows(frame: &mut Frame, state: &AppState, theme: &Theme, area: Rect, rows: &[wrap::Line]) {
    let shown: Vec<Line> = theme.lines(
        &rows
            .iter()
            .skip(state.list_scroll)
            .take(usize::from(area.height))
            .cloned()
            .collect::<Vec<_>>(),
    );
    frame.render_widget(Paragraph::new(shown), area);
}

fn draw_help(frame: &mut Frame, state: &AppState, theme: &Theme, area: Rect) {
    draw_rows(frame, state, theme, area, &layout::help_rows(state));
}

fn draw_log(frame: &mut Frame, state: &AppState, theme: &Theme, area: Rect) {
    if state.log.is_empty() {
        frame.render_widget(
            Paragraph::new(Span::styled(" the event log is empty", theme.dim())),
            area,
        );
        return;
    }
    draw_rows(frame, state, theme, area, &layout::log_rows(state));
}

fn draw_events(frame: &mut Frame, state: &AppState, theme: &Theme, area: Rect) {
    draw_rows(frame, state, theme, area, &layout::events_rows(state));
}

fn draw_hint(frame: &mut Frame, state: &AppState, theme: &Theme, area: Rect) {
    use crate::keymap::{Action, KeyMode};
    let line = if let Some(cmd) = &state.command {
        Line::from(vec![
            Span::styled(":", theme.accent()),
            Span::raw(crate::text::visible_line(cmd).into_owned()),
            Span::styled("▏", theme.accent()),
            Span::styled("   tab: complete · enter: run · esc: cancel", theme.dim()),
        ])
    } else if state.search.editing {
        Line::from(vec![
            Span::styled("/", theme.accent()),
            Span::raw(state.search.query.clone()),
            Span::styled("▏", theme.accent()),
            Span::styled(
                "   enter: keep · esc: clear · n/N: next/previous",
                theme.dim(),
            ),
        ])
    } else if let Some(t) = state.current_toast() {
        Line::from(Span::styled(format!(" {t}"), theme.toast()))
    } else if let Some(h) = &state.first_run_hint {
        Line::from(Span::styled(format!(" {h}"), theme.toast()))
    } else {
        let (mode, actions): (KeyMode, &[Action]) = match state.screen {
            Screen::Tree => (
                KeyMode::Tree,
                &[
                    Action::Open,
                    Action::CycleFilter,
                    Action::Search,
                    Action::ToggleGrouping,
                    Action::Sync,
                    Action::Mark,
                    Action::Help,
                    Action::Quit,
                ],
            ),
            Screen::Diff => (
                KeyMode::Diff,
                &[
                    Action::Back,
                    Action::NextHunk,
                    Action::ToggleUnified,
                    Action::ToggleCompact,
                    Action::ToggleWrap,
                    Action::Sync,
                    Action::Help,
                    Action::Quit,
                ],
            ),
            Screen::Help | Screen::Log | Screen::Events => (
                KeyMode::List,
                &[Action::Back, Action::Down, Action::Up, Action::Quit],
            ),
        };
        let mut spans = Vec::new();
        for a in actions {
            if a.is_write() && state.read_only {
                continue;
            }
            if let Some(k) = state.keymap.key_for(mode, *a) {
                let word = match a {
                    Action::Open => "diff",
                    Action::CycleFilter => "filter",
                    Action::Search => "search",
                    Action::ToggleGrouping => "group",
                    Action::Sync => "sync",
                    Action::Mark => "mark",
                    Action::Help => "help",
                    Action::Quit => "quit",
                    Action::Back => "back",
                    Action::NextHunk => "next change",
                    Action::ToggleUnified => "unified",
                    Action::ToggleCompact => "full/compact",
                    Action::ToggleWrap => "wrap",
                    Action::Down => "down",
                    Action::Up => "up",
                    _ => "",
                };
                spans.push(Span::styled(
                    format!(" {k}"),
                    Style::default().add_modifier(Modifier::BOLD),
                ));
                spans.push(Span::styled(format!(" {word} "), theme.dim()));
            }
        }
        Line::from(fit(spans, usize::from(area.width)))
    };
    frame.render_widget(Paragraph::new(line).style(theme.bar()), area);
}
