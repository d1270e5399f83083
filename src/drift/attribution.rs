//! Who, when and why for drifted fields: the managedFields entry that owns a live field
//! (resolved through FieldsV1 down to the field), the commit that last changed its lines in
//! Git (attached here by `attach_commits`, from the line-to-commit lookup that
//! `desired::history::commit_lookup` gives), and the cause that follows from both:
//! a manual edit, a controller, a Git change not yet applied, a server default, or unknown.
//! Pure: times are read from the objects and commits, never from the clock.

use super::ownership::{Owner, OwnerCursor};
use crate::timefmt::parse_rfc3339;
use serde::Serialize;
use std::fmt;

/// What Git says about one drifted field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GitSide {
    /// The commit that last changed the line that sets it.
    Commit(CommitRef),
    /// Why no line can be named (a renderer made the field and its source cannot be
    /// followed).
    Unknown(String),
}

/// Attaches to every drifted field of `report` what `git_of` says of it (asked with the
/// entry and the field): the commit, which refines its cause with that commit's time (a Git
/// change after the applier's last apply is `not yet applied`), or why there is none. Fields
/// the lookup says nothing of keep theirs.
pub fn attach_commits(
    report: &mut super::DriftReport,
    people: &[String],
    mut git_of: impl FnMut(&super::DriftEntry, &super::FieldDrift) -> Option<GitSide>,
) -> Vec<crate::model::ResourceKey> {
    let mut changed = Vec::new();
    // A field that has its commit, or the reason it has none, is done: an entry whose fields
    // are all done is passed over without a copy (this runs after every watch event, over
    // every drifted entry).
    let done = |f: &super::FieldDrift| f.commit.is_some() || f.git_note.is_some();
    for e in report.entries.iter_mut().filter(|e| !e.fields.is_empty()) {
        if e.source.is_none() || e.fields.iter().all(done) {
            continue;
        }
        // Entries are shared: one is copied only when its fields change.
        let mut fields = e.fields.clone();
        for f in fields.iter_mut().filter(|f| !done(f)) {
            match git_of(e, f) {
                Some(GitSide::Commit(c)) => {
                    f.cause = Some(classify(
                        f.owner.as_ref(),
                        f.owner_is_applier,
                        Some(c.time),
                        e.applied_at,
                        people,
                    ));
                    f.commit = Some(c);
                }
                Some(GitSide::Unknown(why)) => f.git_note = Some(why),
                None => {}
            }
        }
        if fields != e.fields {
            changed.push(e.key.clone());
            std::sync::Arc::make_mut(e).fields = fields;
        }
    }
    changed
}

/// The managedFields entry that owns a live field.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FieldOwner {
    pub manager: String,
    /// `Apply` or `Update`.
    pub operation: String,
    /// RFC 3339, as the server wrote it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub time: Option<String>,
}

/// The commit that last changed a field's lines in Git.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CommitRef {
    pub id: String,
    pub author: String,
    /// Seconds since the epoch.
    #[serde(serialize_with = "as_rfc3339")]
    pub time: i64,
    pub summary: String,
    pub file: String,
    pub line: usize,
}

fn as_rfc3339<S: serde::Serializer>(t: &i64, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&crate::timefmt::rfc3339(*t))
}

/// Why a field drifted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Cause {
    /// An Update by a manager people use (kubectl edit/patch/scale…, k9s, Lens).
    ManualEdit,
    /// An Update or Apply by any other manager.
    Controller,
    /// Git changed the field after the applier's last apply (or the applier itself set the
    /// live value from an older Git).
    NotYetApplied,
    /// Server mode: the dry run adds it.
    ServerDefault,
    Unknown,
}

impl fmt::Display for Cause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Cause::ManualEdit => "manual edit",
            Cause::Controller => "controller",
            Cause::NotYetApplied => "not yet applied",
            Cause::ServerDefault => "server default",
            Cause::Unknown => "unknown",
        })
    }
}

/// The owner of a field from the owners whose sets reach it: the one that changed it
/// (an owner other than the applier), else any; the latest first.
pub fn pick_owner(owners: &[OwnerCursor<'_>]) -> Option<FieldOwner> {
    let time = |o: &Owner<'_>| o.time.and_then(parse_rfc3339).unwrap_or(i64::MIN);
    owners
        .iter()
        .map(|c| c.owner)
        .max_by_key(|o| (!o.is_applier, time(o)))
        .map(|o| FieldOwner {
            manager: o.manager.to_string(),
            operation: o.operation.to_string(),
            time: o.time.map(str::to_string),
        })
}

/// The newest managedFields entry of an object (its last change), and the time of the
/// appliers' last Apply.
pub fn object_times(owners: &[Owner<'_>]) -> (Option<FieldOwner>, Option<i64>) {
    let last = owners
        .iter()
        .filter_map(|o| o.time.and_then(parse_rfc3339).map(|t| (t, o)))
        .max_by_key(|(t, _)| *t)
        .map(|(_, o)| FieldOwner {
            manager: o.manager.to_string(),
            operation: o.operation.to_string(),
            time: o.time.map(str::to_string),
        });
    let applied = owners
        .iter()
        .filter(|o| o.is_applier)
        .filter_map(|o| o.time.and_then(parse_rfc3339))
        .max();
    (last, applied)
}

/// Whether a manager is one people use by hand (`patterns` are globs, `*` any text).
pub fn is_person(manager: &str, patterns: &[String]) -> bool {
    patterns.iter().any(|p| crate::glob::glob_match(p, manager))
}

/// The cause of a field's drift from its owner, the commit that last set it in Git and the
/// appliers' last apply time.
pub fn classify(
    owner: Option<&FieldOwner>,
    owner_is_applier: bool,
    commit_time: Option<i64>,
    applied_at: Option<i64>,
    people: &[String],
) -> Cause {
    if owner_is_applier {
        return Cause::NotYetApplied;
    }
    if let (Some(c), Some(a)) = (commit_time, applied_at) {
        if c > a {
            return Cause::NotYetApplied;
        }
    }
    match owner {
        Some(o) if is_person(&o.manager, people) && o.operation == "Update" => Cause::ManualEdit,
        Some(_) => Cause::Controller,
        None => Cause::Unknown,
    }
}

/// Attribution of server-mode fields: a field local mode also found keeps its story; a
/// field the Git manifest does not set is what the dry run added (`server default`).
pub fn attribute_server(
    fields: &mut [super::FieldDrift],
    git: &serde_json::Value,
    local: &[super::FieldDrift],
) {
    for f in fields {
        if let Some(l) = local.iter().find(|l| l.path == f.path) {
            f.owner = l.owner.clone();
            f.owner_is_applier = l.owner_is_applier;
            f.commit = l.commit.clone();
            f.cause = l.cause;
        } else if f.path.lookup(git).is_none() {
            f.cause = Some(Cause::ServerDefault);
        } else {
            f.cause = Some(Cause::Unknown);
        }
    }
}

/// A cause rolled up per resource: the one most fields share (ties: the first in `Cause`
/// order), `None` without fields.
pub fn roll_up(causes: impl Iterator<Item = Cause>) -> Option<Cause> {
    let mut counts: std::collections::BTreeMap<Cause, usize> = std::collections::BTreeMap::new();
    for c in causes {
        *counts.entry(c).or_default() += 1;
    }
    counts
        .into_iter()
        .max_by(|a, b| a.1.cmp(&b.1).then(b.0.cmp(&a.0)))
        .map(|(c, _)| c)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn owner(m: &str, op: &str) -> FieldOwner {
        FieldOwner {
            manager: m.into(),
            operation: op.into(),
            time: Some("2026-11-26T10:00:00Z".into()),
        }
    }

    fn people() -> Vec<String> {
        vec!["kubectl-*".into(), "k9s".into()]
    }

    #[test]
    fn causes() {
        let t = parse_rfc3339("2026-11-26T10:00:00Z");
        assert_eq!(
            classify(
                Some(&owner("kubectl-edit", "Update")),
                false,
                None,
                t,
                &people()
            ),
            Cause::ManualEdit
        );
        assert_eq!(
            classify(Some(&owner("k9s", "Update")), false, None, t, &people()),
            Cause::ManualEdit
        );
        assert_eq!(
            classify(
                Some(&owner("hpa-controller", "Update")),
                false,
                None,
                t,
                &people()
            ),
            Cause::Controller
        );
        assert_eq!(
            classify(Some(&owner("istio", "Apply")), false, None, t, &people()),
            Cause::Controller
        );
        // The applier set the live value: Git moved since.
        assert_eq!(
            classify(Some(&owner("kdrift", "Apply")), true, None, t, &people()),
            Cause::NotYetApplied
        );
        // Git changed the line after the last apply.
        let later = t.map(|x| x + 60);
        assert_eq!(
            classify(
                Some(&owner("kubectl-edit", "Update")),
                false,
                later,
                t,
                &people()
            ),
            Cause::NotYetApplied
        );
        let earlier = t.map(|x| x - 60);
        assert_eq!(
            classify(
                Some(&owner("kubectl-edit", "Update")),
                false,
                earlier,
                t,
                &people()
            ),
            Cause::ManualEdit
        );
        assert_eq!(classify(None, false, None, None, &people()), Cause::Unknown);
    }

    #[test]
    fn server_mode_fields_git_does_not_set_are_server_defaults() {
        use crate::path::FieldPath;
        let field = |p: &str| super::super::FieldDrift {
            path: FieldPath::parse(p).unwrap(),
            desired: Some(serde_json::json!(1)),
            live: None,
            owner: None,
            owner_is_applier: false,
            commit: None,
            cause: None,
            git_note: None,
        };
        let git = serde_json::json!({"spec": {"replicas": 2, "template": {"spec": {"containers": [{"name": "web", "image": "x"}]}}}});
        let mut local = field("spec.replicas");
        local.owner = Some(owner("kubectl-scale", "Update"));
        local.cause = Some(Cause::ManualEdit);
        let mut fields = vec![
            field("spec.replicas"),
            field("spec.template.spec.containers[name=web].imagePullPolicy"),
            field("spec.template.spec.containers[name=web].image"),
        ];
        attribute_server(&mut fields, &git, &[local]);
        assert_eq!(fields[0].cause, Some(Cause::ManualEdit));
        assert_eq!(fields[0].owner.as_ref().unwrap().manager, "kubectl-scale");
        assert_eq!(fields[1].cause, Some(Cause::ServerDefault));
        assert_eq!(fields[2].cause, Some(Cause::Unknown));
    }

    #[test]
    fn roll_up_takes_the_most_common() {
        use Cause::*;
        assert_eq!(
            roll_up([ManualEdit, Controller, ManualEdit].into_iter()),
            Some(ManualEdit)
        );
        assert_eq!(
            roll_up([Controller, ManualEdit].into_iter()),
            Some(ManualEdit)
        );
        assert_eq!(roll_up(std::iter::empty()), None);
    }
}
