//! Sync: the one write kdrift makes. A `SyncPlan` is the preview of converging chosen
//! resources (server-side apply dry runs with kdrift's field manager, the fields each would
//! change, the field-manager conflicts); `Syncer` applies exactly a confirmed plan, refusing
//! when Git or a live object moved since the preview, and prunes an extra resource by name
//! with a resourceVersion precondition. A `Syncer` made read-only refuses every write,
//! whoever calls it. Plan and outcome types are plain data the explorer shows.

mod client;

pub use client::{SyncError, Syncer};

use crate::model::ResourceKey;
use serde_json::Value;
use std::fmt;

/// What a sync does to one resource.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PlanAction {
    /// Missing in the cluster: created.
    Create,
    /// Out of sync: updated by server-side apply.
    Update,
    /// The apply would change nothing.
    Unchanged,
    /// Cannot be synced (the dry run was rejected, or it is not in Git).
    Refused,
}

impl fmt::Display for PlanAction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            PlanAction::Create => "create",
            PlanAction::Update => "update",
            PlanAction::Unchanged => "unchanged",
            PlanAction::Refused => "refused",
        })
    }
}

/// One field the apply would change, with both values rendered short (masked for Secrets).
#[derive(Debug, Clone, PartialEq)]
pub struct FieldChange {
    pub path: String,
    /// The value now (absent: the field is added).
    pub before: Option<String>,
    /// The value after the apply (absent: the field is removed).
    pub after: Option<String>,
}

/// Fields another manager owns that the apply would take.
#[derive(Debug, Clone, PartialEq)]
pub struct Conflict {
    pub manager: String,
    pub fields: Vec<String>,
}

/// The preview of one resource.
#[derive(Debug, Clone, PartialEq)]
pub struct PlanItem {
    pub key: ResourceKey,
    pub api_version: String,
    pub action: PlanAction,
    /// The Git manifest that will be applied (never shown: it may hold secret values).
    pub manifest: Value,
    /// The live object's resourceVersion at preview time (`None`: it did not exist).
    pub live_version: Option<String>,
    pub changes: Vec<FieldChange>,
    pub conflicts: Vec<Conflict>,
    /// Why it cannot be synced, in the server's words.
    pub error: Option<String>,
    /// A caveat of the preview (a create in a namespace the same sync creates could not be
    /// dry-run; its fields are Git's).
    pub note: Option<String>,
    /// The CustomResourceDefinition this same sync writes that this object's kind needs: the
    /// object is dry-run (and written only if that passes) once the CRD is established.
    pub after_crd: Option<String>,
}

/// The preview of a sync, confirmed as a whole.
#[derive(Debug, Clone, PartialEq)]
pub struct SyncPlan {
    pub context: String,
    pub server: String,
    /// The Git commit the manifests come from.
    pub revision: String,
    pub items: Vec<PlanItem>,
}

impl SyncPlan {
    /// Items that will be written.
    pub fn writes(&self) -> impl Iterator<Item = &PlanItem> {
        self.items
            .iter()
            .filter(|i| matches!(i.action, PlanAction::Create | PlanAction::Update))
    }

    /// The order writes are made in: namespaces, then CustomResourceDefinitions, then the
    /// rest in the order chosen, so that what a resource needs exists before it.
    pub fn write_order(&self) -> Vec<usize> {
        let rank = |k: &ResourceKey| match (k.group.as_str(), k.kind.as_str()) {
            ("", "Namespace") => 0,
            ("apiextensions.k8s.io", "CustomResourceDefinition") => 1,
            _ => 2,
        };
        let mut order: Vec<usize> = (0..self.items.len()).collect();
        order.sort_by_key(|&i| rank(&self.items[i].key));
        order
    }

    /// Whether any item has conflicts.
    pub fn has_conflicts(&self) -> bool {
        self.items.iter().any(|i| !i.conflicts.is_empty())
    }

    /// How many resources confirming would write (with or without taking conflicts).
    pub fn to_write(&self, force: bool) -> usize {
        self.items.iter().filter(|i| i.fate(force).writes()).count()
    }

    /// How many resources have each fate, in the order the dialogs name them.
    pub fn fates(&self, force: bool) -> Vec<(Fate, usize)> {
        Fate::ALL
            .into_iter()
            .map(|f| (f, self.items.iter().filter(|i| i.fate(force) == f).count()))
            .filter(|(_, n)| *n > 0)
            .collect()
    }
}

/// What confirming a plan does to one resource, said before the confirmation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fate {
    Create,
    Update,
    Unchanged,
    /// Other managers own fields it sets, and conflicts are not being taken.
    NotWritten,
    /// The server refused the dry run, or it cannot be synced.
    Refused,
}

impl Fate {
    pub const ALL: [Fate; 5] = [
        Fate::Create,
        Fate::Update,
        Fate::NotWritten,
        Fate::Refused,
        Fate::Unchanged,
    ];

    /// Whether the resource is written.
    pub fn writes(self) -> bool {
        matches!(self, Fate::Create | Fate::Update)
    }

    /// A count of resources with this fate, as the dialogs' titles say it.
    pub fn count_text(self, n: usize) -> String {
        match self {
            Fate::Create => format!("{n} to create"),
            Fate::Update => format!("{n} to update"),
            Fate::Unchanged => format!("{n} unchanged"),
            Fate::NotWritten => format!("{n} will not be written"),
            Fate::Refused => format!("{n} refused"),
        }
    }
}

impl fmt::Display for Fate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Fate::Create => "create",
            Fate::Update => "update",
            Fate::Unchanged => "unchanged",
            Fate::NotWritten => "WILL NOT BE WRITTEN",
            Fate::Refused => "refused",
        })
    }
}

impl PlanItem {
    /// What confirming does to this resource; `force` takes conflicting fields.
    pub fn fate(&self, force: bool) -> Fate {
        match self.action {
            PlanAction::Refused => Fate::Refused,
            PlanAction::Unchanged => Fate::Unchanged,
            PlanAction::Create | PlanAction::Update if !self.conflicts.is_empty() && !force => {
                Fate::NotWritten
            }
            PlanAction::Create => Fate::Create,
            PlanAction::Update => Fate::Update,
        }
    }
}

/// What happened to one resource.
#[derive(Debug, Clone, PartialEq)]
pub enum ItemResult {
    Applied,
    Unchanged,
    Deleted,
    /// Another manager owns fields; not forced.
    Conflict(String),
    /// The server refused; its message verbatim.
    Rejected(String),
    /// Not written: something moved since the preview.
    Stale(String),
}

impl ItemResult {
    pub fn is_success(&self) -> bool {
        matches!(
            self,
            ItemResult::Applied | ItemResult::Unchanged | ItemResult::Deleted
        )
    }
}

impl fmt::Display for ItemResult {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ItemResult::Applied => f.write_str("applied"),
            ItemResult::Unchanged => f.write_str("unchanged"),
            ItemResult::Deleted => f.write_str("deleted"),
            ItemResult::Conflict(m) => write!(f, "conflict: {m}"),
            ItemResult::Rejected(m) => write!(f, "rejected: {m}"),
            ItemResult::Stale(m) => write!(f, "not applied: {m}"),
        }
    }
}

/// The result of one resource.
#[derive(Debug, Clone, PartialEq)]
pub struct SyncOutcome {
    pub key: ResourceKey,
    pub action: String,
    pub result: ItemResult,
}

impl SyncOutcome {
    /// What happened, in one word or two: `created`, `updated`, `unchanged`, `deleted`,
    /// `NOT WRITTEN` (a conflict, or something moved), `refused`.
    pub fn label(&self) -> &'static str {
        match &self.result {
            ItemResult::Applied => match self.action.as_str() {
                "create" => "created",
                "delete" => "deleted",
                _ => "updated",
            },
            ItemResult::Unchanged => "unchanged",
            ItemResult::Deleted => "deleted",
            ItemResult::Conflict(_) | ItemResult::Stale(_) => "NOT WRITTEN",
            ItemResult::Rejected(_) => "refused",
        }
    }
}

/// Renders a JSON value on one line, cut to `max` characters.
pub fn short_value(v: &Value, max: usize) -> String {
    let text = match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    if text.chars().count() > max {
        let cut: String = text.chars().take(max.saturating_sub(1)).collect();
        format!("{cut}…")
    } else {
        text
    }
}

/// Parses the conflicts out of a server-side apply 409: from the status causes when there
/// are any (`conflict with "kubectl-edit" using apps/v1` + `.spec.replicas`), else from the
/// message (`Apply failed with 1 conflict: conflict with "m": .f`).
pub fn parse_conflicts(status: &Value) -> Vec<Conflict> {
    let mut by_manager: Vec<Conflict> = Vec::new();
    fn push(by_manager: &mut Vec<Conflict>, manager: String, field: String) {
        match by_manager.iter_mut().find(|c| c.manager == manager) {
            Some(c) => c.fields.push(field),
            None => by_manager.push(Conflict {
                manager,
                fields: vec![field],
            }),
        }
    }
    let quoted = |text: &str| -> Option<String> {
        let start = text.find('"')? + 1;
        let end = text[start..].find('"')? + start;
        Some(text[start..end].to_string())
    };
    if let Some(causes) = status.pointer("/details/causes").and_then(Value::as_array) {
        for c in causes {
            // metav1.StatusCause's JSON name for the cause's kind is `reason`.
            if c.get("reason").and_then(Value::as_str) != Some("FieldManagerConflict") {
                continue;
            }
            let message = c.get("message").and_then(Value::as_str).unwrap_or("");
            let field = c
                .get("field")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string();
            if let Some(m) = quoted(message) {
                push(&mut by_manager, m, field);
            }
        }
    }
    if by_manager.is_empty() {
        // The message alone, in either wording: `conflict with "m": .f` on one line, or the
        // API server's `conflicts with "m" using apps/v1:` followed by `- .f` lines.
        let message = status.get("message").and_then(Value::as_str).unwrap_or("");
        let mut current: Option<String> = None;
        for line in message.lines() {
            let text = line.trim();
            if let Some(field) = text.strip_prefix("- ") {
                if let Some(m) = &current {
                    push(&mut by_manager, m.clone(), field.trim().to_string());
                }
                continue;
            }
            for part in text.split(" with \"").skip(1) {
                let Some(m) = quoted(&format!("\"{part}")) else {
                    continue;
                };
                current = Some(m.clone());
                // A field on the same line, after the last `: `.
                if let Some((_, f)) = part.rsplit_once(": ") {
                    let f = f.trim().trim_end_matches(',');
                    if f.starts_with('.') {
                        push(&mut by_manager, m, f.to_string());
                    }
                }
            }
        }
    }
    by_manager
}

/// Resolves a lower-case kind name (kind, plural or short name) and an optional group to
/// (group, Kind, namespaced).
pub type KindResolver<'a> = dyn Fn(&str, Option<&str>) -> Option<(String, String, bool)> + 'a;

/// Parses a resource named on the command line: `group/Kind/namespace/name` (core group
/// empty), or kubectl style `kind/name` (`deploy/web`, `deployment.apps/web`) with the
/// namespace given apart. Kind names, plurals and short names are resolved by `resolve_kind`
/// (lower-case name in, (group, Kind) out).
pub fn parse_key(
    text: &str,
    namespace: &str,
    resolve_kind: &KindResolver<'_>,
) -> Result<ResourceKey, String> {
    let parts: Vec<&str> = text.split('/').collect();
    match parts.as_slice() {
        [_, _, _, _] => ResourceKey::parse(text).ok_or_else(|| {
            format!("{text:?}: expected group/Kind/namespace/name (the core group is empty)")
        }),
        [kind, name] if !kind.is_empty() && !name.is_empty() => {
            let (kind_name, group) = match kind.split_once('.') {
                Some((k, g)) => (k, Some(g)),
                None => (*kind, None),
            };
            let (group, kind, namespaced) = resolve_kind(&kind_name.to_lowercase(), group)
                .ok_or_else(|| format!("{text:?}: unknown kind {kind:?}"))?;
            Ok(ResourceKey::new(
                &group,
                &kind,
                if namespaced { namespace } else { "" },
                name,
            ))
        }
        _ => Err(format!(
            "{text:?}: name a resource as kind/name (deploy/web -n shop) or group/Kind/namespace/name"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn conflicts_from_causes_group_by_manager() {
        let status = json!({"message": "Apply failed with 2 conflicts", "details": {"causes": [
            {"reason": "FieldManagerConflict", "message": "conflict with \"kubectl-edit\" using apps/v1", "field": ".spec.replicas"},
            {"reason": "FieldManagerConflict", "message": "conflict with \"kubectl-edit\"", "field": ".spec.paused"},
            {"reason": "FieldManagerConflict", "message": "conflict with \"hpa\"", "field": ".spec.x"}
        ]}});
        let c = parse_conflicts(&status);
        assert_eq!(c.len(), 2);
        assert_eq!(c[0].manager, "kubectl-edit");
        assert_eq!(c[0].fields, vec![".spec.replicas", ".spec.paused"]);
    }

    #[test]
    fn conflicts_from_the_message_alone() {
        let status = json!({"message": "Apply failed with 1 conflict: conflict with \"kubectl-scale\": .spec.replicas"});
        let c = parse_conflicts(&status);
        assert_eq!(
            c,
            vec![Conflict {
                manager: "kubectl-scale".into(),
                fields: vec![".spec.replicas".into()]
            }]
        );
    }

    #[test]
    fn conflicts_in_the_api_servers_words() {
        let status = json!({"message": "Apply failed with 3 conflicts: conflicts with \"kubectl-edit\" using apps/v1:\n- .spec.replicas\n- .spec.paused\nconflict with \"kubectl\" with subresource \"scale\" using apps/v1: .spec.minReadySeconds"});
        let c = parse_conflicts(&status);
        assert_eq!(
            c,
            vec![
                Conflict {
                    manager: "kubectl-edit".into(),
                    fields: vec![".spec.replicas".into(), ".spec.paused".into()]
                },
                Conflict {
                    manager: "kubectl".into(),
                    fields: vec![".spec.minReadySeconds".into()]
                }
            ]
        );
    }

    #[test]
    fn keys_in_both_styles() {
        let resolve = |k: &str, g: Option<&str>| -> Option<(String, String, bool)> {
            match (k, g) {
                ("deploy" | "deployment" | "deployments", None | Some("apps")) => {
                    Some(("apps".into(), "Deployment".into(), true))
                }
                ("namespace" | "ns", None) => Some(("".into(), "Namespace".into(), false)),
                _ => None,
            }
        };
        assert_eq!(
            parse_key("deploy/web", "shop", &resolve).unwrap(),
            ResourceKey::new("apps", "Deployment", "shop", "web")
        );
        assert_eq!(
            parse_key("deployment.apps/web", "shop", &resolve).unwrap(),
            ResourceKey::new("apps", "Deployment", "shop", "web")
        );
        assert_eq!(
            parse_key("ns/shop", "default", &resolve).unwrap(),
            ResourceKey::new("", "Namespace", "", "shop")
        );
        assert_eq!(
            parse_key("/ConfigMap/shop/cfg", "x", &resolve).unwrap(),
            ResourceKey::new("", "ConfigMap", "shop", "cfg")
        );
        assert!(parse_key("bogus/web", "x", &resolve)
            .unwrap_err()
            .contains("unknown kind"));
        assert!(parse_key("web", "x", &resolve).is_err());
    }
}
