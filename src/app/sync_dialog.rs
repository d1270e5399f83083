//! The explorer's side of sync: marks, the preview request, the confirmation dialog (typed
//! context name on protected contexts, a separate second confirmation to force conflicts),
//! the prune dialog (typed resource name), and the results. Nothing here writes: confirmed
//! choices leave as effects carrying the exact plan that was shown.

use super::tree::{self, RowKind};
use super::{AppState, Effect};
use crate::keymap::{Action, Key};
use crate::model::{DriftStatus, ResourceKey};
use crate::sync::{SyncOutcome, SyncPlan};

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
    },
    ConfirmDelete {
        key: ResourceKey,
        version: String,
        typed: String,
    },
    Results {
        outcomes: Vec<SyncOutcome>,
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

/// A key while a dialog is open.
pub fn on_key(state: &mut AppState, key: Key) -> Vec<Effect> {
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
        Dialog::Results { .. } | Dialog::Failed(_) => Vec::new(),
        Dialog::Confirm {
            plan,
            mut typed,
            mut scroll,
            note,
        } => {
            let writes = plan.writes().count();
            match key {
                Key::Down => scroll += 1,
                Key::Char('j') if !protected => scroll += 1,
                Key::Up => scroll = scroll.saturating_sub(1),
                Key::Char('k') if !protected => scroll = scroll.saturating_sub(1),
                Key::PageDown => scroll += 10,
                Key::PageUp => scroll = scroll.saturating_sub(10),
                Key::Char('f') if plan.has_conflicts() && !protected => {
                    state.sync.dialog = Dialog::ConfirmForce {
                        plan,
                        typed: String::new(),
                    };
                    return Vec::new();
                }
                Key::Tab if plan.has_conflicts() && protected => {
                    state.sync.dialog = Dialog::ConfirmForce {
                        plan,
                        typed: String::new(),
                    };
                    return Vec::new();
                }
                Key::Char('y') if !protected && writes > 0 => {
                    state.sync.dialog = Dialog::Working("applying…".into());
                    return vec![Effect::Sync(SyncEffect::Apply { plan, force: false })];
                }
                Key::Char(c) if protected && writes > 0 => typed.push(c),
                Key::Backspace if protected => {
                    typed.pop();
                }
                Key::Enter if protected && writes > 0 && typed == context => {
                    state.sync.dialog = Dialog::Working("applying…".into());
                    return vec![Effect::Sync(SyncEffect::Apply { plan, force: false })];
                }
                _ => {
                    state.toast = Some(("sync cancelled: nothing written".into(), state.now));
                    return Vec::new();
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
        Dialog::ConfirmForce { plan, mut typed } => {
            match key {
                Key::Char('y') if !protected => {
                    state.sync.dialog =
                        Dialog::Working("applying, taking the conflicting fields…".into());
                    return vec![Effect::Sync(SyncEffect::Apply { plan, force: true })];
                }
                Key::Char(c) if protected => typed.push(c),
                Key::Backspace if protected => {
                    typed.pop();
                }
                Key::Enter if protected && typed == context => {
                    state.sync.dialog =
                        Dialog::Working("applying, taking the conflicting fields…".into());
                    return vec![Effect::Sync(SyncEffect::Apply { plan, force: true })];
                }
                _ => {
                    state.toast = Some(("force cancelled: nothing written".into(), state.now));
                    return Vec::new();
                }
            }
            state.sync.dialog = Dialog::ConfirmForce { plan, typed };
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
            state.sync.dialog = Dialog::Results { outcomes };
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
            };
        }
        SyncMsg::Failed(message) => {
            state.log(format!("sync: {message}"));
            state.sync.dialog = Dialog::Failed(message);
        }
    }
    Vec::new()
}
