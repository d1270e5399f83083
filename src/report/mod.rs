//! Rendering a drift report for people and scripts: text that reads like `kubectl diff`
//! (a header per resource, its drifted fields, a unified diff, a summary line), and the JSON
//! and YAML shapes documented in the README. Values arrive masked from the drift engine.

use crate::diff;
use crate::drift::{DriftEntry, DriftReport, Summary};
use crate::model::{split_api_version, DriftStatus};
use serde::Serialize;
use serde_json::Value;

/// What the report is about, besides its entries.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ReportContext {
    /// The commit the desired state was read from.
    pub revision: String,
    /// The live source: a file path or a cluster URL.
    pub source: String,
    /// The kube context, when reading a cluster.
    pub context: Option<String>,
    /// Problems with single files (parse errors, failed kustomizations).
    pub errors: Vec<ReportError>,
    /// Notes for people (uncommitted manifest changes, skipped files).
    #[serde(skip)]
    pub notes: Vec<String>,
    /// The revision as people read it (`main a1b2c3d "subject"`).
    #[serde(skip)]
    pub revision_label: String,
    /// The apps found in the repository.
    #[serde(skip)]
    pub apps: Vec<crate::model::App>,
}

/// A problem with one file.
#[derive(Debug, Clone, Serialize)]
pub struct ReportError {
    pub file: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line: Option<usize>,
    pub message: String,
}

#[derive(Serialize)]
struct JsonField<'a> {
    path: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    desired: Option<&'a Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    live: Option<&'a Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    owner: Option<&'a crate::drift::attribution::FieldOwner>,
    #[serde(skip_serializing_if = "Option::is_none")]
    commit: Option<&'a crate::drift::attribution::CommitRef>,
    #[serde(skip_serializing_if = "Option::is_none")]
    cause: Option<crate::drift::attribution::Cause>,
    /// Why no Git line can be named for a rendered field.
    #[serde(skip_serializing_if = "Option::is_none")]
    git_note: Option<&'a str>,
}

#[derive(Serialize)]
struct JsonResource<'a> {
    group: &'a str,
    version: &'a str,
    kind: &'a str,
    namespace: &'a str,
    name: &'a str,
    status: DriftStatus,
    /// The app it belongs to (absent for none).
    #[serde(skip_serializing_if = "Option::is_none")]
    app: Option<&'a str>,
    file: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    line: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    reason: Option<&'a str>,
    /// How the live object is doing: `{status, reason, message}` (absent without one).
    #[serde(skip_serializing_if = "Option::is_none")]
    health: Option<&'a crate::drift::health::Health>,
    /// `server` when the API server's dry run made the verdict (server mode); absent when
    /// kdrift compared the objects itself.
    #[serde(skip_serializing_if = "Option::is_none")]
    verdict: Option<&'static str>,
    fields: Vec<JsonField<'a>>,
}

#[derive(Serialize)]
struct JsonReport<'a> {
    revision: &'a str,
    source: &'a str,
    context: Option<&'a str>,
    summary: Summary,
    resources: Vec<JsonResource<'a>>,
    errors: &'a [ReportError],
}

fn json_report<'a>(report: &'a DriftReport, ctx: &'a ReportContext) -> JsonReport<'a> {
    JsonReport {
        revision: &ctx.revision,
        source: &ctx.source,
        context: ctx.context.as_deref(),
        summary: report.summary(),
        resources: report
            .entries
            .iter()
            .map(|e| JsonResource {
                group: &e.key.group,
                version: split_api_version(&e.api_version).1,
                kind: &e.key.kind,
                namespace: &e.key.namespace,
                name: &e.key.name,
                status: e.status,
                app: e.app.as_deref(),
                file: e.source.as_ref().map(|s| s.file.as_str()),
                line: e.source.as_ref().and_then(|s| s.line),
                reason: e.reason.as_deref(),
                health: e.health.as_ref(),
                verdict: e.by_server.then_some("server"),
                fields: e
                    .fields
                    .iter()
                    .map(|f| JsonField {
                        path: f.path.to_string(),
                        desired: f.desired.as_ref(),
                        live: f.live.as_ref(),
                        owner: f.owner.as_ref(),
                        commit: f.commit.as_ref(),
                        cause: f.cause,
                        git_note: f.git_note.as_deref(),
                    })
                    .collect(),
            })
            .collect(),
        errors: &ctx.errors,
    }
}

/// One row of the apps table.
#[derive(Serialize)]
pub struct AppRow<'a> {
    pub name: &'a str,
    /// `Application` (Argo CD), `Kustomization` (Flux); empty for "(no app)".
    pub kind: &'a str,
    /// The app whose rendering declared it (app-of-apps).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub parent: Option<&'a str>,
    /// Its folders and renderers, `path (renderer)`.
    pub paths: Vec<String>,
    pub destination: String,
    /// Where the Application is declared.
    pub declared_in: String,
    pub summary: Summary,
    /// The worst status of its resources (as Argo CD's app list shows).
    pub status: DriftStatus,
}

/// The apps table (`kdrift apps`): one row per app, then the resources of no app.
pub fn app_rows<'a>(report: &DriftReport, apps: &'a [crate::model::App]) -> Vec<AppRow<'a>> {
    let mut rows: Vec<AppRow> = apps
        .iter()
        .map(|a| AppRow {
            name: &a.name,
            kind: a.kind,
            parent: a
                .parent
                .and_then(|p| apps.get(p as usize))
                .map(|p| p.name.as_str()),
            paths: a
                .parts
                .iter()
                .map(|p| {
                    format!(
                        "{} ({})",
                        if p.path.is_empty() { "." } else { &p.path },
                        p.renderer
                    )
                })
                .collect(),
            destination: format!(
                "{}{}",
                if a.destination_namespace.is_empty() {
                    "(default namespace)".to_string()
                } else {
                    a.destination_namespace.clone()
                },
                if a.destination.is_empty() {
                    String::new()
                } else {
                    format!(" on {}", a.destination)
                }
            ),
            declared_in: a.source.to_string(),
            summary: Summary::default(),
            status: DriftStatus::Hook,
        })
        .collect();
    let mut none = AppRow {
        name: "(no app)",
        kind: "",
        parent: None,
        paths: Vec::new(),
        destination: String::new(),
        declared_in: String::new(),
        summary: Summary::default(),
        status: DriftStatus::Hook,
    };
    for e in &report.entries {
        let row = match e.app.as_deref() {
            Some(name) => match rows.iter_mut().find(|r| r.name == name) {
                Some(r) => r,
                None => &mut none,
            },
            None => &mut none,
        };
        row.summary.add(e.status);
        if e.status.severity() > row.status.severity() {
            row.status = e.status;
        }
    }
    if none.summary != Summary::default() {
        rows.push(none);
    }
    rows
}

/// The apps table as text: one line per app with its counts, then where each renders from.
pub fn apps_text(rows: &[AppRow]) -> String {
    if rows.is_empty() {
        return "no apps: the repository holds no Argo CD Application whose source is this \
                repository\n"
            .to_string();
    }
    let width = rows
        .iter()
        .map(|r| r.name.chars().count())
        .max()
        .unwrap_or(0)
        .max(3);
    let mut out = String::new();
    for r in rows {
        let counts: Vec<String> = DriftStatus::ALL
            .iter()
            .filter(|s| r.summary.count(**s) > 0)
            .map(|s| format!("{} {}", r.summary.count(*s), s))
            .collect();
        out.push_str(&format!(
            "{:<width$}  {:<11}  {}\n",
            r.name,
            r.status.as_str(),
            if counts.is_empty() {
                "no resources".to_string()
            } else {
                counts.join(", ")
            }
        ));
        if !r.paths.is_empty() {
            out.push_str(&format!(
                "{:<width$}  {} -> {}{}\n",
                "",
                r.paths.join(", "),
                r.destination,
                r.parent
                    .map(|p| format!(" (app of {p})"))
                    .unwrap_or_default()
            ));
        }
    }
    out
}

/// The report as pretty JSON.
pub fn to_json(report: &DriftReport, ctx: &ReportContext) -> String {
    serde_json::to_string_pretty(&json_report(report, ctx)).unwrap_or_default() + "\n"
}

/// The report as YAML.
pub fn to_yaml(report: &DriftReport, ctx: &ReportContext) -> String {
    serde_yaml::to_string(&json_report(report, ctx)).unwrap_or_default()
}

/// One value on one line, for field lists.
pub fn short_value(v: Option<&Value>) -> String {
    match v {
        None => "(absent)".to_string(),
        Some(Value::String(s)) => {
            let s = if s.contains('\n') {
                format!("{:?}", s)
            } else {
                s.clone()
            };
            truncate(&s, 80)
        }
        Some(other) => truncate(&other.to_string(), 80),
    }
}

fn truncate(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_string()
    } else {
        let t: String = s.chars().take(max - 1).collect();
        format!("{t}…")
    }
}

/// Who, when and why of a drifted field on one line, when anything is known.
pub fn story(f: &crate::drift::FieldDrift) -> Option<String> {
    let mut parts = Vec::new();
    if let Some(c) = f.cause {
        parts.push(c.to_string());
    }
    if let Some(o) = &f.owner {
        parts.push(format!(
            "live: {} ({}{})",
            o.manager,
            o.operation,
            o.time
                .as_deref()
                .map(|t| format!(", {t}"))
                .unwrap_or_default()
        ));
    }
    if let Some(c) = &f.commit {
        parts.push(format!(
            "git: {} {} {:?} {}:{}",
            &c.id[..c.id.len().min(7)],
            c.author,
            c.summary,
            c.file,
            c.line
        ));
    }
    if let Some(why) = &f.git_note {
        parts.push(format!("git: {}", crate::text::visible_line(why)));
    }
    (!parts.is_empty()).then(|| parts.join(" · "))
}

/// The text of one entry: header, fields, unified diff (live `-`, Git `+`, as kubectl diff).
pub fn entry_text(e: &DriftEntry) -> String {
    let mut out = String::new();
    let place = e
        .source
        .as_ref()
        .map(|s| format!(" ({s})"))
        .unwrap_or_default();
    out.push_str(&format!("{}: {}{}\n", e.status, e.key, place));
    if let Some(reason) = &e.reason {
        out.push_str(&format!("  {reason}\n"));
    }
    if let Some(h) = e.health.as_ref().filter(|h| !h.is_healthy()) {
        out.push_str(&format!("  health: {h}\n"));
    }
    for f in &e.fields {
        out.push_str(&format!(
            "  ~ {}: git {} | live {}\n",
            f.path,
            short_value(f.desired.as_ref()),
            short_value(f.live.as_ref())
        ));
        if let Some(why) = story(f) {
            out.push_str(&format!("      {why}\n"));
        }
    }
    // Invalid manifests have nothing to diff; hooks are not compared.
    if !matches!(e.status, DriftStatus::Invalid | DriftStatus::Hook) {
        let live = diff::to_yaml(e.live_value().as_ref());
        let git = diff::to_yaml(e.desired_value().as_ref());
        out.push_str(&diff::unified(
            &live,
            &git,
            &format!("live: {}", e.key),
            &format!("git: {}", e.key),
            3,
        ));
    }
    out
}

/// The health line: how many live objects are not healthy, and which (synced ones too,
/// since the drift above lists only what is not synced); `None` when all are healthy.
pub fn health_lines(report: &DriftReport) -> Option<String> {
    let sick: Vec<&DriftEntry> = report
        .entries
        .iter()
        .filter(|e| e.health.as_ref().is_some_and(|h| !h.is_healthy()))
        .map(|e| &**e)
        .collect();
    if sick.is_empty() {
        return None;
    }
    let mut out = format!(
        "{} not healthy (converged means synced and healthy):\n",
        sick.len()
    );
    for e in sick {
        if let Some(h) = &e.health {
            out.push_str(&format!("  {}: {h}\n", e.key));
        }
    }
    Some(out)
}

/// The summary line.
pub fn summary_line(s: &Summary, ctx: &ReportContext) -> String {
    let total = s.total();
    let parts: Vec<String> = DriftStatus::ALL
        .iter()
        .filter(|st| !st.is_occasional() || s.count(**st) > 0)
        .map(|st| format!("{} {}", s.count(*st), st))
        .collect();
    format!(
        "{total} resources: {} ({} against {})",
        parts.join(", "),
        ctx.revision_label,
        ctx.source
    )
}

/// The text report: every resource that is not synced, then the summary line.
pub fn to_text(report: &DriftReport, ctx: &ReportContext) -> String {
    let shown: Vec<&DriftEntry> = report
        .entries
        .iter()
        .filter(|e| !e.status.is_synced())
        .map(|e| &**e)
        .collect();
    // Entries render independently (each diff is its own YAML and text diff): on all cores,
    // in order.
    let threads = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
        .clamp(1, 8);
    let texts: Vec<String> = if shown.len() < 64 || threads == 1 {
        shown.iter().map(|e| entry_text(e)).collect()
    } else {
        let chunk = shown.len().div_ceil(threads);
        std::thread::scope(|scope| {
            let parts: Vec<_> = shown
                .chunks(chunk)
                .map(|part| {
                    scope.spawn(move || part.iter().map(|e| entry_text(e)).collect::<Vec<_>>())
                })
                .collect();
            parts
                .into_iter()
                .flat_map(|p| {
                    // A panic while rendering is a bug; it is not hidden behind a short report.
                    p.join().unwrap_or_else(|e| std::panic::resume_unwind(e))
                })
                .collect()
        })
    };
    let mut out = String::with_capacity(texts.iter().map(|t| t.len() + 1).sum::<usize>() + 256);
    for t in texts {
        out.push_str(&t);
        out.push('\n');
    }
    if let Some(h) = health_lines(report) {
        out.push_str(&h);
        out.push('\n');
    }
    out.push_str(&summary_line(&report.summary(), ctx));
    out.push('\n');
    out
}
