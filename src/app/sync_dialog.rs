//! The explorer's side of sync: marks, the preview request, the confirmation dialog (typed
//! context name on protected contexts, a separate second confirmation to force conflicts),
//! the prune dialog (typed resource name), and the results. Nothing here writes: confirmed
//! choices leave as effects carrying the exact plan that was shown.

use super::tree::{self, RowKind};
use super::wrap::Piece;
pub use super::wrap::Tone;
use super::{AppState, Effect};
use crate::keymap::{Action, Key};
use crate::model::{DriftStatus, ResourceKey};
use crate::sync::{Fate, ItemResult, PlanAction, SyncOutcome, SyncPlan};

/// What the runtime must do for a sync.
#[derive(Debug, Clone, PartialEq)]
pub enum SyncEffect {
    /// Dry-run these resources and answer with `SyncMsg::Previewed`.
    Preview(Vec<ResourceKey>),
    /// Apply exactly this plan (answer `Applied`, or `Moved` with a new preview).
    Apply { plan: SyncPlan, force: bool },
    /// Read an extra resource for the prune dialog (answer `DeleteReady`).
    PrepareDelete(ResourceKey),
    /// Delete it if its resourceVersion is still `version`.
    Delete { key: ResourceKey, version: String },
}

/// Answers from the runtime.
#[derive(Debug, Clone, PartialEq)]
pub enum SyncMsg {
    Previewed(SyncPlan),
    Applied(Vec<SyncOutcome>),
    /// Git or live objects changed since the preview: nothing was written; here is a new one.
    Moved {
        what: Vec<String>,
        plan: SyncPlan,
    },
    DeleteReady {
        key: ResourceKey,
        version: String,
    },
    Deleted(SyncOutcome),
    Failed(String),
}

/// The open dialog.
#[derive(Debug, Clone, PartialEq, Default)]
pub enum Dialog {
    #[default]
    Closed,
    Working(String),
    Confirm {
        plan: SyncPlan,
        typed: String,
        scroll: usize,
        /// Why this is a second preview, when it is.
        note: Option<String>,
    },
    ConfirmForce {
        plan: SyncPlan,
        typed: String,
        scroll: usize,
    },
    ConfirmDelete {
        key: ResourceKey,
        version: String,
        typed: String,
    },
    Results {
        outcomes: Vec<SyncOutcome>,
        scroll: usize,
    },
    Failed(String),
}

/// Sync state of the explorer.
#[derive(Debug, Clone, Default)]
pub struct SyncState {
    pub dialog: Dialog,
    /// Whether the context matches a `protect` pattern (confirmations ask to type its name).
    pub protected: bool,
}

impl SyncState {
    pub fn is_open(&self) -> bool {
        self.dialog != Dialog::Closed
    }
}

fn can_sync(status: DriftStatus) -> bool {
    matches!(status, DriftStatus::OutOfSync | DriftStatus::Missing)
}

/// A write action from the key map.
pub fn on_action(state: &mut AppState, action: Action) -> Vec<Effect> {
    match action {
        Action::Mark => {
            let Some(e) = state.selected_entry() else {
                state.toast = Some((
                    "space marks a resource; S marks the drifted ones of a group".into(),
                    state.now,
                ));
                return Vec::new();
            };
            if e.source.is_none() {
                state.toast = Some((
                    "not in Git: only D (prune) applies to an extra resource".into(),
                    state.now,
                ));
                return Vec::new();
            }
            let key = e.key.clone();
            if !state.marks.remove(&key) {
                state.marks.insert(key);
            }
            let next = (state.selected + 1).min(state.rows.len().saturating_sub(1));
            state.selected = next;
            state.rebuild();
            Vec::new()
        }
        Action::MarkGroup => {
            let Some(row) = state.selected_row().cloned() else {
                return Vec::new();
            };
            let group = match row.kind {
                RowKind::Group { .. } => row.id.clone(),
                RowKind::Resource { .. } => match row.parent {
                    Some(p) => p,
                    None => return Vec::new(),
                },
            };
            let mut n = 0;
            let grouping = state.grouping;
            let keys: Vec<ResourceKey> = state
                .report
                .entries
                .iter()
                .filter(|e| can_sync(e.status) && e.source.is_some())
                .filter(|e| tree::ancestors(e, grouping).contains(&group))
                .map(|e| e.key.clone())
                .collect();
            for k in keys {
                if state.marks.insert(k) {
                    n += 1;
                }
            }
            state.toast = Some((
                format!(
                    "marked {n} drifted resource{} ({} marked in all)",
                    if n == 1 { "" } else { "s" },
                    state.marks.len()
                ),
                state.now,
            ));
            Vec::new()
        }
        Action::Sync => {
            let keys: Vec<ResourceKey> = if !state.marks.is_empty() {
                state.marks.iter().cloned().collect()
            } else if let Some(e) = state
                .diff
                .as_ref()
                .filter(|_| state.screen == super::Screen::Diff)
                .and_then(|d| state.entry(&d.key))
                .or_else(|| state.selected_entry())
            {
                if e.source.is_none() {
                    state.toast = Some((
                        "not in Git: nothing to apply (D prunes an extra resource)".into(),
                        state.now,
                    ));
                    return Vec::new();
                }
                vec![e.key.clone()]
            } else {
                state.toast = Some((
                    "select a resource, or mark some with space or S".into(),
                    state.now,
                ));
                return Vec::new();
            };
            state.sync.dialog = Dialog::Working(format!(
                "previewing {} resource{} (server-side apply dry run)…",
                keys.len(),
                if keys.len() == 1 { "" } else { "s" }
            ));
            vec![Effect::Sync(SyncEffect::Preview(keys))]
        }
        Action::Delete => {
            let Some(e) = state.selected_entry() else {
                return Vec::new();
            };
            if e.status != DriftStatus::Extra {
                state.toast = Some((
                    "D prunes extra resources only (in the cluster, tracked, not in Git)".into(),
                    state.now,
                ));
                return Vec::new();
            }
            let owned = e
                .live
                .as_ref()
                .map(|l| l.head())
                .as_ref()
                .and_then(|l| l.pointer("/metadata/ownerReferences"))
                .and_then(|o| o.as_array())
                .is_some_and(|o| !o.is_empty());
            if owned {
                state.toast = Some((
                    "it has ownerReferences: its owner manages it".into(),
                    state.now,
                ));
                return Vec::new();
            }
            let key = e.key.clone();
            state.sync.dialog = Dialog::Working(format!("reading {}…", key.short_name()));
            vec![Effect::Sync(SyncEffect::PrepareDelete(key))]
        }
        _ => Vec::new(),
    }
}

/// How a key scrolls a dialog's body (`None`: it does not). `j`/`k` scroll only where
/// letters are not being typed.
fn scroll_by(key: &Key, letters_scroll: bool) -> Option<isize> {
    match key {
        Key::Down => Some(1),
        Key::Up => Some(-1),
        Key::PageDown => Some(10),
        Key::PageUp => Some(-10),
        Key::Char('j') if letters_scroll => Some(1),
        Key::Char('k') if letters_scroll => Some(-1),
        _ => None,
    }
}

fn scrolled(scroll: usize, by: isize) -> usize {
    (scroll as isize + by).max(0) as usize
}

/// Keeps the open dialog's scroll within what it has to show at this terminal size.
pub fn clamp_scroll(state: &mut AppState) {
    let Some(text) = text(state) else { return };
    let max = super::layout::dialog_box(state.size, &text).max_scroll;
    match &mut state.sync.dialog {
        Dialog::Confirm { scroll, .. }
        | Dialog::ConfirmForce { scroll, .. }
        | Dialog::Results { scroll, .. } => *scroll = (*scroll).min(max),
        _ => {}
    }
}

/// A key while a dialog is open.
pub fn on_key(state: &mut AppState, key: Key) -> Vec<Effect> {
    let effects = dialog_key(state, key);
    clamp_scroll(state);
    effects
}

/// A confirmed plan leaves as the effect that applies exactly it.
fn apply(state: &mut AppState, plan: SyncPlan, force: bool) -> Vec<Effect> {
    let writes = plan.to_write(force);
    state.sync.dialog = Dialog::Working(format!(
        "applying {writes} resource{}{}…",
        plural(writes),
        if force {
            ", taking the conflicting fields"
        } else {
            ""
        }
    ));
    vec![Effect::Sync(SyncEffect::Apply { plan, force })]
}

fn dialog_key(state: &mut AppState, key: Key) -> Vec<Effect> {
    let protected = state.sync.protected;
    let context = state.header.context.clone();
    let dialog = std::mem::take(&mut state.sync.dialog);
    match dialog {
        Dialog::Closed => Vec::new(),
        Dialog::Working(text) => {
            // Esc stops waiting (a slow cluster must not hold the explorer); a preview that
            // arrives later is dropped, the result of a confirmed write is still shown.
            if key == Key::Esc {
                state.toast = Some((
                    "stopped waiting; nothing more will be written".into(),
                    state.now,
                ));
            } else {
                state.sync.dialog = Dialog::Working(text);
            }
            Vec::new()
        }
        Dialog::Results { outcomes, scroll } => {
            if let Some(by) = scroll_by(&key, true) {
                state.sync.dialog = Dialog::Results {
                    outcomes,
                    scroll: scrolled(scroll, by),
                };
            }
            Vec::new()
        }
        Dialog::Failed(_) => Vec::new(),
        Dialog::Confirm {
            plan,
            mut typed,
            mut scroll,
            note,
        } => {
            let writes = plan.to_write(false);
            if let Some(by) = scroll_by(&key, !protected) {
                scroll = scrolled(scroll, by);
            } else {
                match key {
                    Key::Char('f') if plan.has_conflicts() && !protected => {
                        state.sync.dialog = Dialog::ConfirmForce {
                            plan,
                            typed: String::new(),
                            scroll: 0,
                        };
                        return Vec::new();
                    }
                    Key::Tab if plan.has_conflicts() && protected => {
                        state.sync.dialog = Dialog::ConfirmForce {
                            plan,
                            typed: String::new(),
                            scroll: 0,
                        };
                        return Vec::new();
                    }
                    Key::Char('y') if !protected && writes > 0 => {
                        return apply(state, plan, false);
                    }
                    Key::Char(c) if protected && writes > 0 => typed.push(c),
                    Key::Backspace if protected => {
                        typed.pop();
                    }
                    Key::Enter if protected && writes > 0 && typed == context => {
                        return apply(state, plan, false);
                    }
                    _ => {
                        state.toast = Some(("sync cancelled: nothing written".into(), state.now));
                        return Vec::new();
                    }
                }
            }
            state.sync.dialog = Dialog::Confirm {
                plan,
                typed,
                scroll,
                note,
            };
            Vec::new()
        }
        Dialog::ConfirmForce {
            plan,
            mut typed,
            mut scroll,
        } => {
            if let Some(by) = scroll_by(&key, !protected) {
                scroll = scrolled(scroll, by);
            } else {
                match key {
                    Key::Char('y') if !protected => return apply(state, plan, true),
                    Key::Char(c) if protected => typed.push(c),
                    Key::Backspace if protected => {
                        typed.pop();
                    }
                    Key::Enter if protected && typed == context => return apply(state, plan, true),
                    _ => {
                        state.toast = Some(("force cancelled: nothing written".into(), state.now));
                        return Vec::new();
                    }
                }
            }
            state.sync.dialog = Dialog::ConfirmForce {
                plan,
                typed,
                scroll,
            };
            Vec::new()
        }
        Dialog::ConfirmDelete {
            key: k,
            version,
            mut typed,
        } => {
            match key {
                Key::Char(c) => typed.push(c),
                Key::Backspace => {
                    typed.pop();
                }
                Key::Enter if typed == k.name => {
                    state.sync.dialog = Dialog::Working(format!("deleting {}…", k.short_name()));
                    return vec![Effect::Sync(SyncEffect::Delete { key: k, version })];
                }
                _ => {
                    state.toast = Some(("prune cancelled: nothing deleted".into(), state.now));
                    return Vec::new();
                }
            }
            state.sync.dialog = Dialog::ConfirmDelete {
                key: k,
                version,
                typed,
            };
            Vec::new()
        }
    }
}

/// An answer from the runtime.
pub fn on_msg(state: &mut AppState, msg: SyncMsg) -> Vec<Effect> {
    let waiting = matches!(state.sync.dialog, Dialog::Working(_));
    if !waiting
        && matches!(
            msg,
            SyncMsg::Previewed(_) | SyncMsg::Moved { .. } | SyncMsg::DeleteReady { .. }
        )
    {
        state.log("a preview arrived after its dialog was closed; dropped");
        return Vec::new();
    }
    match msg {
        SyncMsg::Previewed(plan) => {
            state.sync.dialog = Dialog::Confirm {
                plan,
                typed: String::new(),
                scroll: 0,
                note: None,
            };
        }
        SyncMsg::Moved { what, plan } => {
            state.log(format!(
                "sync refused, previewed again: {}",
                what.join("; ")
            ));
            state.sync.dialog = Dialog::Confirm {
                plan,
                typed: String::new(),
                scroll: 0,
                note: Some(format!(
                    "changed since the preview, nothing written: {}. This is the new preview.",
                    what.join("; ")
                )),
            };
        }
        SyncMsg::Applied(outcomes) => {
            for o in &outcomes {
                state.log(format!(
                    "sync {}: {} {}",
                    o.key.short_name(),
                    o.action,
                    o.result
                ));
                if o.result.is_success() {
                    state.marks.remove(&o.key);
                }
            }
            state.sync.dialog = Dialog::Results {
                outcomes,
                scroll: 0,
            };
        }
        SyncMsg::DeleteReady { key, version } => {
            state.sync.dialog = Dialog::ConfirmDelete {
                key,
                version,
                typed: String::new(),
            };
        }
        SyncMsg::Deleted(outcome) => {
            state.log(format!(
                "prune {}: {}",
                outcome.key.short_name(),
                outcome.result
            ));
            state.sync.dialog = Dialog::Results {
                outcomes: vec![outcome],
                scroll: 0,
            };
        }
        SyncMsg::Failed(message) => {
            state.log(format!("sync: {message}"));
            state.sync.dialog = Dialog::Failed(message);
        }
    }
    Vec::new()
}

/// One line of a dialog, before wrapping.
pub type DialogLine = Vec<Piece<Tone>>;

/// Everything a dialog says: the body scrolls, the footer (the question) stays.
#[derive(Debug, Clone, PartialEq)]
pub struct DialogText {
    pub title: String,
    pub body: Vec<DialogLine>,
    pub footer: Vec<DialogLine>,
    pub scroll: usize,
}

/// A piece of dialog text; what came from Git or the cluster never drives the terminal.
fn piece(tone: Tone, text: impl Into<String>) -> Piece<Tone> {
    let text = text.into();
    (tone, crate::text::visible_line(&text).into_owned())
}

fn plural(n: usize) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}

/// The fates of a plan's resources, counted as the list below them shows them.
fn fate_counts(plan: &SyncPlan, force: bool) -> String {
    plan.fates(force)
        .into_iter()
        .map(|(f, n)| f.count_text(n))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Every resource of a plan with what confirming does to it, its changes and conflicts.
fn plan_lines(plan: &SyncPlan, force: bool) -> Vec<DialogLine> {
    let mut lines = Vec::new();
    for item in &plan.items {
        let fate = item.fate(force);
        lines.push(vec![
            piece(Tone::Fate(fate), format!("{:<9} ", fate.to_string())),
            piece(Tone::Strong, item.key.short_name()),
        ]);
        if let Some(err) = &item.error {
            lines.push(vec![piece(
                Tone::Bad,
                format!("    the server says: {err}"),
            )]);
        }
        if let Some(note) = &item.note {
            lines.push(vec![piece(Tone::Dim, format!("    ({note})"))]);
        }
        for c in &item.changes {
            let after = c.after.clone().unwrap_or_else(|| "(removed)".into());
            let text = if item.action == PlanAction::Create {
                format!("    + {}: {after}", c.path)
            } else {
                let before = c.before.clone().unwrap_or_else(|| "(absent)".into());
                format!("    {}: {before} → {after}", c.path)
            };
            lines.push(vec![piece(
                if fate.writes() {
                    Tone::Plain
                } else {
                    Tone::Dim
                },
                text,
            )]);
        }
        for c in &item.conflicts {
            let (tone, what) = if force {
                (Tone::Bad, "taken from it (force)")
            } else {
                (Tone::Warn, "not written without force")
            };
            lines.push(vec![piece(
                tone,
                format!(
                    "    conflict with {} on {}: {what}",
                    c.manager,
                    c.fields.join(", ")
                ),
            )]);
        }
    }
    lines
}

/// The text of the open dialog (`None` when none is open).
pub fn text(state: &AppState) -> Option<DialogText> {
    let context = state.header.context.as_str();
    let protected = state.sync.protected;
    let target = vec![
        piece(Tone::Dim, "context "),
        piece(Tone::Target, context),
        piece(Tone::Dim, "  server "),
        piece(Tone::Strong, state.header.server.clone()),
    ];
    let typed_line = |typed: &str| {
        vec![
            piece(Tone::Plain, "> "),
            piece(Tone::Strong, typed),
            piece(Tone::Target, "▏"),
        ]
    };
    let scroll_keys = if protected {
        "↑/↓: scroll"
    } else {
        "j/k: scroll"
    };
    let text = match &state.sync.dialog {
        Dialog::Closed => return None,
        Dialog::Working(what) => DialogText {
            title: "sync".into(),
            body: vec![target, vec![], vec![piece(Tone::Plain, what.clone())]],
            footer: vec![vec![piece(Tone::Dim, "esc: stop waiting")]],
            scroll: 0,
        },
        Dialog::Confirm {
            plan,
            typed,
            scroll,
            note,
        } => {
            let writes = plan.to_write(false);
            let held = plan
                .items
                .iter()
                .filter(|i| i.fate(false) == Fate::NotWritten)
                .count();
            let mut body = vec![target];
            if let Some(n) = note {
                body.push(vec![piece(Tone::Bad, n.clone())]);
            }
            body.push(vec![
                piece(
                    Tone::Dim,
                    format!(
                        "from Git {}: ",
                        &plan.revision[..plan.revision.len().min(7)]
                    ),
                ),
                piece(Tone::Strong, fate_counts(plan, false)),
            ]);
            body.extend(plan_lines(plan, false));
            let mut footer = Vec::new();
            if writes == 0 && held > 0 {
                footer.push(vec![piece(
                    Tone::Warn,
                    format!(
                        "nothing can be written without force: {held} resource{} conflict{}",
                        plural(held),
                        if held == 1 { "s" } else { "" }
                    ),
                )]);
                footer.push(vec![
                    piece(
                        Tone::Strong,
                        if protected {
                            "tab: take the conflicting fields (force)…"
                        } else {
                            "f: take the conflicting fields (force)…"
                        },
                    ),
                    piece(Tone::Dim, format!("  {scroll_keys}  esc: cancel")),
                ]);
            } else if writes == 0 {
                footer.push(vec![piece(Tone::Dim, "nothing to apply · any key closes")]);
            } else if protected {
                footer.push(vec![piece(
                    Tone::Warn,
                    format!(
                        "{context} is a protected context: type its name and press enter to apply {writes} resource{}",
                        plural(writes)
                    ),
                )]);
                footer.push(typed_line(typed));
                let mut keys = Vec::new();
                if held > 0 {
                    keys.push(piece(Tone::Plain, "tab: force…  "));
                }
                keys.push(piece(Tone::Dim, format!("{scroll_keys}  esc: cancel")));
                footer.push(keys);
            } else {
                let mut keys = vec![piece(
                    Tone::Strong,
                    format!("y: apply {writes} to {context}"),
                )];
                if held > 0 {
                    keys.push(piece(Tone::Plain, "  f: force…"));
                }
                keys.push(piece(
                    Tone::Dim,
                    format!("  {scroll_keys}  other keys: cancel"),
                ));
                footer.push(keys);
            }
            DialogText {
                title: format!("confirm sync: {writes} to write"),
                body,
                footer,
                scroll: *scroll,
            }
        }
        Dialog::ConfirmForce {
            plan,
            typed,
            scroll,
        } => {
            let writes = plan.to_write(true);
            let mut body = vec![
                target,
                vec![piece(
                    Tone::Bad,
                    "FORCE: kdrift takes the conflicting fields from their managers",
                )],
                vec![
                    piece(
                        Tone::Dim,
                        format!(
                            "from Git {}: ",
                            &plan.revision[..plan.revision.len().min(7)]
                        ),
                    ),
                    piece(Tone::Strong, fate_counts(plan, true)),
                ],
            ];
            body.extend(plan_lines(plan, true));
            let footer = if protected {
                vec![
                    vec![piece(
                        Tone::Warn,
                        format!(
                            "type {context} and press enter to force-apply {writes} resource{}",
                            plural(writes)
                        ),
                    )],
                    typed_line(typed),
                    vec![piece(Tone::Dim, format!("{scroll_keys}  esc: cancel"))],
                ]
            } else {
                vec![vec![
                    piece(
                        Tone::Strong,
                        format!("y: force-apply {writes} to {context}"),
                    ),
                    piece(Tone::Dim, format!("  {scroll_keys}  other keys: cancel")),
                ]]
            };
            DialogText {
                title: format!("confirm force: {writes} to write"),
                body,
                footer,
                scroll: *scroll,
            }
        }
        Dialog::ConfirmDelete { key, typed, .. } => DialogText {
            title: "confirm prune: 1 to delete".into(),
            body: vec![
                target,
                vec![
                    piece(Tone::Plain, "delete "),
                    piece(Tone::Bad, key.short_name()),
                ],
                vec![piece(
                    Tone::Dim,
                    "it is in the cluster, tracked, and not in Git",
                )],
            ],
            footer: vec![
                vec![piece(
                    Tone::Warn,
                    format!(
                        "type the name {:?} and press enter to delete; esc cancels",
                        key.name
                    ),
                )],
                typed_line(typed),
            ],
            scroll: 0,
        },
        Dialog::Results { outcomes, scroll } => {
            let mut counts: Vec<(&str, usize)> = Vec::new();
            let mut body = vec![target];
            for o in outcomes {
                let label = o.label();
                match counts.iter_mut().find(|(l, _)| *l == label) {
                    Some((_, n)) => *n += 1,
                    None => counts.push((label, 1)),
                }
                let tone = match &o.result {
                    r if r.is_success() => Tone::Good,
                    ItemResult::Conflict(_) | ItemResult::Stale(_) => Tone::Warn,
                    _ => Tone::Bad,
                };
                body.push(vec![
                    piece(tone, format!("{label:<11} ")),
                    piece(Tone::Strong, o.key.short_name()),
                ]);
                if !matches!(o.result, ItemResult::Applied | ItemResult::Unchanged) {
                    body.push(vec![piece(tone, format!("    {}", o.result))]);
                }
                // The rollout, followed live: the health of the latest report.
                if o.result == ItemResult::Applied {
                    if let Some(h) = state.entry(&o.key).and_then(|e| e.health.as_ref()) {
                        body.push(vec![
                            piece(Tone::Dim, "    health "),
                            piece(Tone::Health(h.status), h.to_string()),
                        ]);
                    }
                }
            }
            DialogText {
                title: format!(
                    "sync result: {}",
                    counts
                        .iter()
                        .map(|(l, n)| format!("{n} {l}"))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
                body,
                footer: vec![vec![piece(Tone::Dim, "j/k: scroll  other keys: close")]],
                scroll: *scroll,
            }
        }
        Dialog::Failed(message) => DialogText {
            title: "sync failed".into(),
            body: vec![target, vec![piece(Tone::Bad, message.clone())]],
            footer: vec![vec![piece(
                Tone::Dim,
                "nothing was written · any key closes",
            )]],
            scroll: 0,
        },
    };
    Some(text)
}
