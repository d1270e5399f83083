//! The drift engine: from desired objects, invalid manifests and live objects to a
//! `DriftReport` with a verdict per resource and the drifted fields of each. Pure: no I/O, no
//! async, no clock. Secrets are masked here, when the report is built, so that no output
//! path can show them unless the caller asked for `show_secrets`.

pub mod attribution;
pub mod compare;
pub mod health;
pub mod normalize;
pub mod ownership;
pub mod schema;
pub mod tracking;

use crate::model::{
    DesiredObject, DriftStatus, InvalidManifest, LiveObject, Packed, ResourceKey, SourceLocation,
};
use crate::par::par_map;
use crate::path::{FieldPath, Segment};
pub use compare::FieldDrift;
use compare::{decode_base64, Comparer};
use ownership::Ownership;
pub use schema::CrdSchemas;
use schema::SchemaNode;
use serde_json::Value;
use sha2::{Digest, Sha256};
use std::borrow::Borrow;
use std::collections::{HashMap, HashSet};
use std::sync::Arc;
pub use tracking::{AppTracking, LabelSelector, Tracking};

/// An ignore rule from the configuration: for objects of a group/kind (optionally one
/// namespace and name), these paths never count, nor fields owned by these managers.
#[derive(Debug, Clone, Default)]
pub struct IgnoreRule {
    pub group: String,
    /// `*` matches every kind.
    pub kind: String,
    pub namespace: Option<String>,
    pub name: Option<String>,
    pub paths: Vec<FieldPath>,
    pub managers: Vec<String>,
}

impl IgnoreRule {
    fn applies_to(&self, key: &ResourceKey) -> bool {
        (self.kind == "*" || (self.kind == key.kind && self.group == key.group))
            && self.namespace.as_ref().is_none_or(|n| *n == key.namespace)
            && self.name.as_ref().is_none_or(|n| *n == key.name)
    }
}

/// How to judge drift.
#[derive(Debug, Clone, Default)]
pub struct DriftOptions {
    /// Managers whose Apply operations are this repository's applier.
    pub appliers: Vec<String>,
    pub ignore: Vec<IgnoreRule>,
    pub tracking: Tracking,
    pub show_secrets: bool,
    /// Field managers people use by hand (globs), for the `manual edit` cause.
    pub people: Vec<String>,
    /// Whether synced entries leave out their objects (`desired`, `live`): a one-shot report
    /// shows nothing of them, and at scale their copies are a large part of the memory.
    pub drop_synced_objects: bool,
}

/// The verdict for one resource.
#[derive(Debug, Clone)]
pub struct DriftEntry {
    pub key: ResourceKey,
    pub api_version: String,
    pub status: DriftStatus,
    /// Where Git declares it (absent for extras).
    pub source: Option<SourceLocation>,
    /// Why the status is what it is, where a reason helps (invalid, unknown).
    pub reason: Option<String>,
    /// The object's newest managedFields entry (who changed it last, and when).
    pub last_change: Option<attribution::FieldOwner>,
    /// When this repository's applier last applied the object (seconds since the epoch).
    pub applied_at: Option<i64>,
    pub fields: Vec<FieldDrift>,
    /// The normalised desired object (masked), for rendering, packed (`desired_value`).
    pub desired: Option<Packed>,
    /// The live object (normalised, masked): projected onto what Git sets for resources in
    /// Git (the desired object's text itself when synced), whole for extras; packed.
    pub live: Option<Packed>,
    /// How the live object is doing (`None` when there is none, or it cannot be read).
    pub health: Option<health::Health>,
    /// The app it belongs to (Git's, else the one its live object is marked with).
    pub app: Option<Arc<str>>,
    /// Whether the verdict is the API server's (server mode: a server-side apply dry run);
    /// otherwise kdrift compared the objects itself (local mode, or a dry run that failed).
    pub by_server: bool,
}

impl DriftEntry {
    /// An entry with its identity and status only (no source, reason, fields or objects).
    pub fn new(key: ResourceKey, api_version: impl Into<String>, status: DriftStatus) -> Self {
        DriftEntry {
            key,
            api_version: api_version.into(),
            status,
            source: None,
            reason: None,
            last_change: None,
            applied_at: None,
            fields: Vec::new(),
            desired: None,
            live: None,
            health: None,
            app: None,
            by_server: false,
        }
    }

    /// The desired object as a tree (a parse of its packed text), for showing.
    pub fn desired_value(&self) -> Option<Value> {
        self.desired.as_ref().map(Packed::value)
    }

    /// The live object as a tree (a parse of its packed text), for showing.
    pub fn live_value(&self) -> Option<Value> {
        self.live.as_ref().map(Packed::value)
    }

    /// Whether it needs attention: drifted (out of sync, missing, extra, invalid) or
    /// degraded. Unknown rows are about the connection, not the resource.
    pub fn needs_attention(&self) -> bool {
        matches!(
            self.status,
            DriftStatus::OutOfSync
                | DriftStatus::Missing
                | DriftStatus::Extra
                | DriftStatus::Invalid
        ) || self
            .health
            .as_ref()
            .is_some_and(|h| h.status == health::HealthStatus::Degraded)
    }

    /// Synced (or a hook, never compared) and healthy (or with no live object to be
    /// unhealthy: never for a resource in Git that is not a hook, which is then missing).
    pub fn converged(&self) -> bool {
        matches!(self.status, DriftStatus::Synced | DriftStatus::Hook)
            && self.health.as_ref().is_none_or(|h| h.is_healthy())
    }
}

/// Counts per status.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct Summary {
    pub synced: usize,
    pub out_of_sync: usize,
    pub missing: usize,
    pub extra: usize,
    pub unknown: usize,
    pub invalid: usize,
    /// Refused by the server's dry run (server mode only).
    pub refused: usize,
    /// Helm and Argo CD hooks (not compared; in the JSON only when there are some).
    #[serde(skip_serializing_if = "is_zero")]
    pub hook: usize,
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

impl Summary {
    pub fn count(&self, status: DriftStatus) -> usize {
        match status {
            DriftStatus::Synced => self.synced,
            DriftStatus::OutOfSync => self.out_of_sync,
            DriftStatus::Missing => self.missing,
            DriftStatus::Extra => self.extra,
            DriftStatus::Unknown => self.unknown,
            DriftStatus::Invalid => self.invalid,
            DriftStatus::Refused => self.refused,
            DriftStatus::Hook => self.hook,
        }
    }

    /// Counts one more resource of `status`.
    pub fn add(&mut self, status: DriftStatus) {
        match status {
            DriftStatus::Synced => self.synced += 1,
            DriftStatus::OutOfSync => self.out_of_sync += 1,
            DriftStatus::Missing => self.missing += 1,
            DriftStatus::Extra => self.extra += 1,
            DriftStatus::Unknown => self.unknown += 1,
            DriftStatus::Invalid => self.invalid += 1,
            DriftStatus::Refused => self.refused += 1,
            DriftStatus::Hook => self.hook += 1,
        }
    }

    /// Counts one resource of `status` fewer.
    pub fn remove(&mut self, status: DriftStatus) {
        let n = match status {
            DriftStatus::Synced => &mut self.synced,
            DriftStatus::OutOfSync => &mut self.out_of_sync,
            DriftStatus::Missing => &mut self.missing,
            DriftStatus::Extra => &mut self.extra,
            DriftStatus::Unknown => &mut self.unknown,
            DriftStatus::Invalid => &mut self.invalid,
            DriftStatus::Refused => &mut self.refused,
            DriftStatus::Hook => &mut self.hook,
        };
        *n = n.saturating_sub(1);
    }

    /// Every resource counted, whatever its status.
    pub fn total(&self) -> usize {
        DriftStatus::ALL.iter().map(|s| self.count(*s)).sum()
    }

    /// Whether everything is synced.
    pub fn is_clean(&self) -> bool {
        self.out_of_sync + self.missing + self.extra + self.unknown + self.invalid + self.refused
            == 0
    }
}

impl From<Vec<DriftEntry>> for DriftReport {
    /// A report of these entries (sorted by key as they are given).
    fn from(entries: Vec<DriftEntry>) -> DriftReport {
        DriftReport {
            entries: entries.into_iter().map(Arc::new).collect(),
        }
    }
}

/// Verdicts for every resource, sorted by key. Entries are shared (`Arc`): the recompute
/// thread, the UI, the history thread and the fleet each keep a report, and a copy of one
/// is a copy of pointers (a whole copy of 10,000 entries was 15 MB each).
#[derive(Debug, Clone, Default)]
pub struct DriftReport {
    pub entries: Vec<Arc<DriftEntry>>,
}

impl DriftReport {
    /// The entry of a key.
    pub fn entry(&self, key: &ResourceKey) -> Option<&DriftEntry> {
        self.entries
            .binary_search_by(|e| e.key.cmp(key))
            .ok()
            .map(|i| &*self.entries[i])
    }

    /// An entry to change: its own copy when it is shared.
    pub fn entry_mut(&mut self, index: usize) -> &mut DriftEntry {
        Arc::make_mut(&mut self.entries[index])
    }

    /// The entry of a key, shared.
    pub fn shared(&self, key: &ResourceKey) -> Option<&Arc<DriftEntry>> {
        self.entries
            .binary_search_by(|e| e.key.cmp(key))
            .ok()
            .map(|i| &self.entries[i])
    }

    /// Brings the report up to date where only the entries of `keys` changed: `entries` are
    /// the new entries of those still reported; the other keys are gone. Order is kept. One
    /// pass over the report (a list's first answer changes tens of thousands of keys).
    pub fn patch(&mut self, keys: &[ResourceKey], entries: Vec<Arc<DriftEntry>>) {
        if keys.len() + entries.len() <= 16 {
            // A key that keeps an entry is replaced in place below, not removed and inserted
            // (each of those moves every later entry).
            for k in keys.iter().filter(|k| entries.iter().all(|e| &e.key != *k)) {
                if let Ok(i) = self.entries.binary_search_by(|e| e.key.cmp(k)) {
                    self.entries.remove(i);
                }
            }
            for e in entries {
                match self.entries.binary_search_by(|x| x.key.cmp(&e.key)) {
                    Ok(i) => self.entries[i] = e,
                    Err(i) => self.entries.insert(i, e),
                }
            }
            return;
        }
        let mut gone: Vec<&ResourceKey> = keys.iter().collect();
        gone.sort_unstable();
        let mut entries = entries;
        // Stable: of two entries of one key, the later one stays (as inserting them in turn).
        entries.sort_by(|a, b| a.key.cmp(&b.key));
        entries.reverse();
        entries.dedup_by(|later, earlier| later.key == earlier.key);
        entries.reverse();
        let old = std::mem::take(&mut self.entries);
        let mut out = Vec::with_capacity(old.len() + entries.len());
        let mut fresh = entries.into_iter().peekable();
        let mut gone = gone.into_iter().peekable();
        for e in old {
            while let Some(n) = fresh.next_if(|n| n.key < e.key) {
                out.push(n);
            }
            if let Some(n) = fresh.next_if(|n| n.key == e.key) {
                out.push(n);
                continue;
            }
            while gone.next_if(|k| **k < e.key).is_some() {}
            if gone.peek().is_none_or(|k| **k != e.key) {
                out.push(e);
            }
        }
        out.extend(fresh);
        self.entries = out;
    }

    pub fn summary(&self) -> Summary {
        let mut s = Summary::default();
        for e in &self.entries {
            s.add(e.status);
        }
        s
    }
}

/// The key an invalid manifest is shown under: its salvaged identity, or its file and line.
pub fn invalid_key(inv: &InvalidManifest) -> ResourceKey {
    inv.key.clone().unwrap_or_else(|| ResourceKey {
        group: String::new(),
        kind: String::new(),
        namespace: String::new(),
        name: inv.source.to_string(),
    })
}

/// What the live side could not read, and why some desired objects are absent.
#[derive(Debug, Clone, Default)]
pub struct LiveCoverage {
    /// (group, kind, namespace; `""` for every namespace) → why it could not be read.
    pub unreadable: HashMap<(String, String, String), String>,
    /// (group, kind) → why its objects are missing (its CRD is not installed yet).
    pub missing_reason: HashMap<(String, String), String>,
    /// Single objects the cluster sent that cannot be read, with why.
    pub undecodable: HashMap<ResourceKey, String>,
}

impl LiveCoverage {
    fn unreadable(&self, key: &ResourceKey) -> Option<&String> {
        let gk = |ns: &str| (key.group.clone(), key.kind.clone(), ns.to_string());
        self.unreadable
            .get(&gk(""))
            .or_else(|| self.unreadable.get(&gk(&key.namespace)))
    }
}

/// Builds the report, with rows the live side could not read marked `unknown`.
pub fn build_report_with<L: Borrow<LiveObject>>(
    desired: &[DesiredObject],
    invalid: &[InvalidManifest],
    live: &[L],
    coverage: &LiveCoverage,
    opts: &DriftOptions,
) -> DriftReport {
    let mut report = build_report(desired, invalid, live, opts);
    for e in &mut report.entries {
        apply_coverage(Arc::make_mut(e), coverage);
    }
    report
}

/// Marks an entry `unknown` when its kind could not be read, or says why it is missing.
fn apply_coverage(e: &mut DriftEntry, coverage: &LiveCoverage) {
    {
        if e.status == DriftStatus::Invalid {
            return;
        }
        if let Some(why) = coverage
            .undecodable
            .get(&e.key)
            .or_else(|| coverage.unreadable(&e.key))
        {
            if e.status == DriftStatus::Hook {
                // Never compared: a hook stays a hook; only its live side is not known.
                e.live = None;
                e.health = None;
                return;
            }
            e.status = DriftStatus::Unknown;
            e.reason = Some(why.clone());
            e.fields.clear();
            e.live = None;
            e.health = None;
        } else if e.status == DriftStatus::Missing {
            if let Some(why) = coverage
                .missing_reason
                .get(&(e.key.group.clone(), e.key.kind.clone()))
            {
                e.reason = Some(why.clone());
            }
        }
    }
}

/// Recomputes, in place, only the entries of `changed` keys after the live objects of those
/// keys changed (a watch event). Returns `false`, changing nothing, when a full
/// `build_report_with` is needed instead: a changed key is a CustomResourceDefinition
/// (schemas change) or shows as an invalid manifest.
pub fn refresh_keys(
    report: &mut DriftReport,
    changed: &[ResourceKey],
    desired: &[DesiredObject],
    live: &HashMap<ResourceKey, Arc<LiveObject>>,
    coverage: &LiveCoverage,
    opts: &DriftOptions,
) -> bool {
    let is_crd =
        |k: &ResourceKey| k.kind == "CustomResourceDefinition" && k.group == "apiextensions.k8s.io";
    for key in changed {
        if is_crd(key) {
            return false;
        }
        if let Ok(i) = report.entries.binary_search_by(|e| e.key.cmp(key)) {
            if report.entries[i].status == DriftStatus::Invalid {
                return false;
            }
        }
    }
    debug_assert!(desired.is_sorted_by(|a, b| a.key < b.key));
    let mut schemas = CrdSchemas::default();
    // Sorted by key: Git's CustomResourceDefinitions are one run of it.
    let crds = desired.partition_point(|d| {
        (d.key.group.as_str(), d.key.kind.as_str())
            < ("apiextensions.k8s.io", "CustomResourceDefinition")
    });
    for d in desired[crds..].iter().take_while(|d| is_crd(&d.key)) {
        schemas.learn(&d.object.value());
    }
    for l in live.values().filter(|l| is_crd(&l.key)) {
        schemas.learn(&l.value());
    }
    let desired_of = |key: &ResourceKey| {
        let i = desired.binary_search_by(|d| d.key.cmp(key)).ok()?;
        Some(&desired[i])
    };
    let fresh = par_map(changed, |key| {
        let live_obj = live.get(key).map(|l| &**l);
        let mut e = match (desired_of(key), live_obj) {
            (Some(d), l) => compare_one(d, l, &schemas, opts),
            (None, Some(l)) if opts.tracking.is_tracked(&l.key, &l.object.head()) => {
                extra_entry(l, opts)
            }
            _ => return None,
        };
        apply_coverage(&mut e, coverage);
        Some(Arc::new(e))
    });
    report.patch(changed, fresh.into_iter().flatten().collect());
    true
}

/// Server mode for one resource: every difference between the result of a server-side
/// apply dry run of its manifest and the live object, both normalised (fields the apply
/// would remove included).
pub fn compare_server(
    key: &ResourceKey,
    dry_run: &Value,
    live: &LiveObject,
    schemas: &CrdSchemas,
    opts: &DriftOptions,
) -> Vec<FieldDrift> {
    let mut result = dry_run.clone();
    normalize::normalize(&key.group, &key.kind, &mut result);
    let mut current = live.value();
    normalize::normalize(&key.group, &key.kind, &mut current);
    let rules: Vec<&IgnoreRule> = opts.ignore.iter().filter(|r| r.applies_to(key)).collect();
    let version = crate::model::split_api_version(&live.api_version).1;
    let comparer = Comparer {
        group: &key.group,
        kind: &key.kind,
        builtin: crate::kinds::is_builtin(&key.group, &key.kind),
        // A CRD's keyed lists name their items by key, as in local mode.
        schema: schemas.get(&key.group, &key.kind, version).map(SchemaNode),
        ignore_paths: rules.iter().flat_map(|r| r.paths.iter()).collect(),
        ignore_managers: Vec::new(),
        project: false,
    };
    // What the apply would set or change, then what it would remove.
    let mut fields = comparer.compare(&result, &current, &[]).fields;
    for f in comparer.compare(&current, &result, &[]).fields {
        if !fields.iter().any(|g| g.path == f.path) {
            fields.push(FieldDrift {
                path: f.path,
                desired: f.live,
                live: f.desired,
                owner: f.owner,
                owner_is_applier: f.owner_is_applier,
                commit: None,
                cause: None,
                git_note: None,
            });
        }
    }
    if !opts.show_secrets && is_secret(key) {
        mask_fields(&mut fields);
    }
    fields
}

/// Builds the report.
pub fn build_report<L: Borrow<LiveObject>>(
    desired: &[DesiredObject],
    invalid: &[InvalidManifest],
    live: &[L],
    opts: &DriftOptions,
) -> DriftReport {
    let live: Vec<&LiveObject> = live.iter().map(Borrow::borrow).collect();
    let live = live.as_slice();
    let mut schemas = CrdSchemas::default();
    let is_crd =
        |k: &ResourceKey| k.kind == "CustomResourceDefinition" && k.group == "apiextensions.k8s.io";
    for d in desired.iter().filter(|d| is_crd(&d.key)) {
        schemas.learn(&d.object.value());
    }
    for l in live.iter().filter(|l| is_crd(&l.key)) {
        schemas.learn(&l.value());
    }
    let live_by_key: HashMap<&ResourceKey, &LiveObject> =
        live.iter().map(|l| (&l.key, *l)).collect();
    // Each entry is made shared as it is made (one allocation each, and the list of them
    // grows without moving the entries).
    let mut entries = compare_all(desired, &live_by_key, &schemas, opts);
    entries.reserve(invalid.len() + live.len().saturating_sub(desired.len()));
    let mut in_git: HashSet<&ResourceKey> = desired.iter().map(|d| &d.key).collect();
    for inv in invalid {
        let key = invalid_key(inv);
        let live_obj = live_by_key.get(&key).map(|l| (*l, l.value()));
        entries.push(Arc::new(DriftEntry {
            app: opts
                .tracking
                .apps
                .app_of(&key, live_obj.as_ref().map(|(_, v)| v)),
            source: Some(inv.source.clone()),
            reason: Some(format!("{}: {}", inv.source, inv.message)),
            live: live_obj.map(|(l, v)| Packed::new(&prepared(&l.key, v, opts))),
            ..DriftEntry::new(key, inv.api_version.clone(), DriftStatus::Invalid)
        }));
        if let Some(k) = &inv.key {
            if let Some(l) = live_by_key.get(k) {
                in_git.insert(&l.key);
            }
        }
    }
    for l in live {
        if in_git.contains(&l.key) || !opts.tracking.is_tracked(&l.key, &l.object.head()) {
            continue;
        }
        entries.push(Arc::new(extra_entry(l, opts)));
    }
    entries.sort_by(|a, b| a.key.cmp(&b.key));
    DriftReport { entries }
}

/// Compares every desired object, on all cores (objects are independent; order is kept).
fn compare_all(
    desired: &[DesiredObject],
    live_by_key: &HashMap<&ResourceKey, &LiveObject>,
    schemas: &CrdSchemas,
    opts: &DriftOptions,
) -> Vec<Arc<DriftEntry>> {
    let one = |d: &DesiredObject| {
        Arc::new(compare_one(
            d,
            live_by_key.get(&d.key).copied(),
            schemas,
            opts,
        ))
    };
    par_map(desired, one)
}

/// The entry of a tracked live object that Git does not declare: extra, unless it is a hook
/// (a hook's object outlives the render that made it; Helm and Argo CD never prune it).
fn extra_entry(l: &LiveObject, opts: &DriftOptions) -> DriftEntry {
    let object = l.value();
    let hook = hook_of(&object);
    DriftEntry {
        app: opts.tracking.apps.app_of(&l.key, Some(&object)),
        health: Some(health::assess(&l.key, &object)),
        live: Some(Packed::new(&prepared(&l.key, object, opts))),
        reason: hook.as_ref().map(|h| {
            format!("{h} in the cluster, not rendered from Git now; hooks are not compared")
        }),
        ..DriftEntry::new(
            l.key.clone(),
            l.api_version.clone(),
            if hook.is_some() {
                DriftStatus::Hook
            } else {
                DriftStatus::Extra
            },
        )
    }
}

/// Whether an object is a hook, and which: `helm.sh/hook` (Helm runs it around an install or
/// upgrade) or `argocd.argoproj.io/hook` (Argo CD runs it around a sync). Helm 2's
/// `crd-install` is not a hook to Helm 3 or Argo CD (the CRD is a resource), nor is Argo CD's
/// `Skip`. Described as "Helm hook pre-install,pre-upgrade".
pub fn hook_of(object: &Value) -> Option<String> {
    let annotations = object.pointer("/metadata/annotations")?;
    let phases = |name: &str| {
        annotations
            .get(name)
            .and_then(Value::as_str)
            .map(|v| {
                v.split(',')
                    .map(str::trim)
                    .filter(|p| !p.is_empty() && *p != "crd-install" && *p != "Skip")
                    .collect::<Vec<_>>()
                    .join(",")
            })
            .filter(|v| !v.is_empty())
    };
    // Made safe to print where it is printed, as every string from Git is.
    if let Some(p) = phases("helm.sh/hook") {
        return Some(format!("Helm hook {p}"));
    }
    phases("argocd.argoproj.io/hook").map(|p| format!("Argo CD hook {p}"))
}

/// A live object normalised and masked, for showing whole.
fn prepared(key: &ResourceKey, mut v: Value, opts: &DriftOptions) -> Value {
    normalize::normalize(&key.group, &key.kind, &mut v);
    if !opts.show_secrets && is_secret(key) {
        mask_object(&mut v);
    }
    v
}

/// Whether an object's values are masked: a Secret, and anything that calls itself one in
/// any case under any API group (a misspelt `kind: secret` still holds secret values).
fn is_secret(key: &ResourceKey) -> bool {
    key.kind.eq_ignore_ascii_case("secret")
}

/// Compares one desired object with its live counterpart (if any).
pub fn compare_one(
    d: &DesiredObject,
    live: Option<&LiveObject>,
    schemas: &CrdSchemas,
    opts: &DriftOptions,
) -> DriftEntry {
    // Both objects are read from their packed forms, for this comparison only. Most manifests
    // are already normal: the entry then shares the snapshot's text (one copy for the
    // snapshot and the report); the others are normalised and packed again.
    let mut desired = d.object.value();
    let normal = normalize::is_normal(&d.key.group, &d.key.kind, &desired);
    if !normal {
        normalize::normalize(&d.key.group, &d.key.kind, &mut desired);
    }
    let masked = !opts.show_secrets && is_secret(&d.key);
    let packed_desired = |desired: &Value| {
        if masked {
            let mut copy = desired.clone();
            mask_object(&mut copy);
            Packed::new(&copy)
        } else if normal {
            d.object.clone()
        } else {
            Packed::new(desired)
        }
    };
    let live_value = live.map(LiveObject::value);
    let live = live_value.as_ref();
    let mut entry = DriftEntry {
        source: Some(d.source.clone()),
        app: opts.tracking.apps.app_of(&d.key, live),
        ..DriftEntry::new(d.key.clone(), d.api_version.clone(), DriftStatus::Missing)
    };
    if let Some(hook) = hook_of(&desired) {
        // Run around a sync, often deleted after: its live object (if any) is shown, never
        // compared, and a sync never applies it.
        entry.status = DriftStatus::Hook;
        entry.reason = Some(format!(
            "{hook}: run around an install, upgrade or sync, not compared"
        ));
        entry.health = live.map(|l| health::assess(&d.key, l));
        entry.live = live_value.map(|l| Packed::new(&prepared(&d.key, l, opts)));
        entry.desired = Some(packed_desired(&desired));
        return entry;
    }
    let Some(l) = live else {
        entry.desired = Some(packed_desired(&desired));
        return entry;
    };
    entry.health = Some(health::assess(&d.key, l));
    let rules: Vec<&IgnoreRule> = opts
        .ignore
        .iter()
        .filter(|r| r.applies_to(&d.key))
        .collect();
    let version = crate::model::split_api_version(&d.api_version).1;
    let mut comparer = Comparer {
        group: &d.key.group,
        kind: &d.key.kind,
        builtin: crate::kinds::is_builtin(&d.key.group, &d.key.kind),
        schema: schemas
            .get(&d.key.group, &d.key.kind, version)
            .map(SchemaNode),
        ignore_paths: rules.iter().flat_map(|r| r.paths.iter()).collect(),
        ignore_managers: rules
            .iter()
            .flat_map(|r| r.managers.iter().map(String::as_str))
            .collect(),
        project: false,
    };
    let ownership = Ownership::from_live(l, &opts.appliers);
    let mut result = comparer.compare(&desired, l, &ownership.root());
    if !result.fields.is_empty() {
        // Only drifted objects need the live side projected for showing.
        comparer.project = true;
        result = comparer.compare(&desired, l, &ownership.root());
    }
    entry.status = if result.fields.is_empty() {
        DriftStatus::Synced
    } else {
        DriftStatus::OutOfSync
    };
    entry.fields = result.fields;
    if !entry.fields.is_empty() {
        let (last, applied_at) = attribution::object_times(&ownership.owners);
        entry.last_change = last;
        entry.applied_at = applied_at;
        for f in &mut entry.fields {
            f.cause = Some(attribution::classify(
                f.owner.as_ref(),
                f.owner_is_applier,
                None,
                applied_at,
                &opts.people,
            ));
        }
    }
    if entry.status == DriftStatus::Synced && opts.drop_synced_objects {
        return entry;
    }
    let packed = packed_desired(&desired);
    entry.live = Some(if entry.status == DriftStatus::Synced {
        // In sync, the projection of the live object is the desired object itself.
        packed.clone()
    } else {
        let mut projected = result.projected_live;
        if masked {
            mask_object(&mut projected);
        }
        Packed::new(&projected)
    });
    entry.desired = Some(packed);
    if masked {
        mask_fields(&mut entry.fields);
    }
    entry
}

/// A short stable fingerprint of a secret value: changes show, values do not.
pub fn fingerprint(bytes: &[u8]) -> String {
    let digest = Sha256::digest(bytes);
    let hex: String = digest.iter().take(4).map(|b| format!("{b:02x}")).collect();
    format!("<secret sha256:{hex}>")
}

fn mask_value(v: &mut Value) {
    let bytes = decode_base64(v).unwrap_or_else(|| match &*v {
        Value::String(s) => s.as_bytes().to_vec(),
        other => other.to_string().into_bytes(),
    });
    *v = Value::String(fingerprint(&bytes));
}

/// Masks every value of a Secret's `data` (and `stringData`, should it remain).
pub fn mask_object(v: &mut Value) {
    for field in ["data", "stringData"] {
        if let Some(Value::Object(m)) = v.get_mut(field) {
            m.values_mut().for_each(mask_value);
        }
    }
}

/// Masks the values of drifted fields under a Secret's `data` (or `stringData`).
fn mask_fields(fields: &mut [FieldDrift]) {
    for f in fields {
        let under_data =
            matches!(f.path.0.first(), Some(Segment::Field(s)) if s == "data" || s == "stringData");
        if !under_data {
            continue;
        }
        for v in [f.desired.as_mut(), f.live.as_mut()].into_iter().flatten() {
            if f.path.0.len() == 1 {
                if let Value::Object(m) = v {
                    m.values_mut().for_each(mask_value);
                }
            } else {
                mask_value(v);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    fn arb_value() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i32>().prop_map(|n| json!(n)),
            "[a-z0-9 .:/-]{0,12}".prop_map(Value::String),
        ];
        leaf.prop_recursive(4, 48, 6, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
                prop::collection::btree_map("[a-zA-Z][a-zA-Z0-9.]{0,8}", inner, 0..5)
                    .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }

    fn object(kind: &str, api: &str, spec: Value) -> Value {
        json!({"apiVersion": api, "kind": kind, "metadata": {"name": "x", "namespace": "n"}, "spec": spec, "data": spec})
    }

    #[test]
    fn anything_called_secret_is_masked_whatever_its_group_or_case() {
        for (api, kind) in [
            ("v1", "Secret"),
            ("example.com/v1", "secret"),
            ("v2", "SECRET"),
        ] {
            let (group, _) = crate::model::split_api_version(api);
            let key = ResourceKey::new(group, kind, "n", "s");
            let object = |v: &str| json!({"apiVersion": api, "kind": kind, "metadata": {"name": "s", "namespace": "n"}, "data": {"password": v}});
            let d = DesiredObject {
                key: key.clone(),
                api_version: api.into(),
                object: Packed::new(&object("hunter2")),
                source: SourceLocation::default(),
            };
            let l = LiveObject::new(key, api, object("swordfish"));
            let e = compare_one(
                &d,
                Some(&l),
                &CrdSchemas::default(),
                &DriftOptions::default(),
            );
            let shown = format!("{:?}", e);
            assert!(
                !shown.contains("hunter2") && !shown.contains("swordfish"),
                "{kind}: {shown}"
            );
            assert_eq!(e.status, DriftStatus::OutOfSync, "{kind}");
        }
    }

    /// One text per object: a normal manifest's entry shares the snapshot's packed text, and
    /// a synced entry's live side is that same text; a Secret's are masked copies.
    #[test]
    fn a_synced_entry_shares_the_snapshots_text_and_a_secrets_is_masked() {
        let compare = |kind: &str, data: Value| {
            let key = ResourceKey::new("", kind, "n", "x");
            let obj = json!({"apiVersion": "v1", "kind": kind, "metadata": {"name": "x", "namespace": "n"}, "data": data});
            let d = DesiredObject {
                key: key.clone(),
                api_version: "v1".into(),
                object: Packed::new(&obj),
                source: SourceLocation::default(),
            };
            let l = LiveObject::new(key, "v1", obj);
            let e = compare_one(
                &d,
                Some(&l),
                &CrdSchemas::default(),
                &DriftOptions::default(),
            );
            (d, e)
        };
        let (d, e) = compare("ConfigMap", json!({"a": "1"}));
        assert_eq!(e.status, DriftStatus::Synced);
        assert!(e.desired.as_ref().is_some_and(|t| t.same(&d.object)));
        assert!(e.live.as_ref().is_some_and(|t| t.same(&d.object)));
        let (d, e) = compare("Secret", json!({"password": "aHVudGVyMg=="}));
        assert_eq!(e.status, DriftStatus::Synced);
        let (desired, live) = (e.desired.clone().unwrap(), e.live.clone().unwrap());
        assert!(!desired.same(&d.object) && desired.same(&live));
        assert!(!desired.as_str().contains("aHVudGVyMg"), "{desired:?}");
        assert_eq!(
            desired.value()["data"]["password"],
            fingerprint(b"hunter2"),
            "{desired:?}"
        );
    }

    proptest! {
        /// Invariant: an object compared with itself is clean, whatever it holds, for
        /// built-in kinds (with their list and quantity rules) and custom kinds alike.
        #[test]
        fn compare_x_with_x_is_clean(spec in arb_value(), which in 0usize..4) {
            let (kind, api) = [("Deployment", "apps/v1"), ("Service", "v1"), ("Secret", "v1"), ("Widget", "example.com/v1")][which];
            let obj = object(kind, api, spec);
            let (group, _) = crate::model::split_api_version(api);
            let key = ResourceKey::new(group, kind, "n", "x");
            let d = DesiredObject { key: key.clone(), api_version: api.into(), object: Packed::new(&obj), source: SourceLocation::default() };
            let l = LiveObject::new(key, api, obj);
            let e = compare_one(&d, Some(&l), &CrdSchemas::default(), &DriftOptions::default());
            prop_assert!(e.fields.is_empty(), "{:?}", e.fields);
        }

        /// Invariant: patching a report in one pass (many keys) gives what removing the
        /// keys and inserting the entries one by one gives.
        #[test]
        fn patch_in_one_pass_is_patch_one_by_one(
            before in prop::collection::btree_set(0u16..400, 0..200),
            gone in prop::collection::vec(0u16..400, 0..60),
            fresh in prop::collection::vec((0u16..400, any::<bool>()), 0..60),
        ) {
            let key = |n: u16| ResourceKey::new("", "ConfigMap", "ns", &format!("c{n:03}"));
            let entry = |n: u16, synced: bool| Arc::new(DriftEntry::new(
                key(n),
                "v1",
                if synced { DriftStatus::Synced } else { DriftStatus::OutOfSync },
            ));
            let report = DriftReport::from(
                before.iter().map(|n| (*entry(*n, true)).clone()).collect::<Vec<_>>(),
            );
            let mut keys: Vec<ResourceKey> = gone.iter().map(|n| key(*n)).collect();
            keys.extend(fresh.iter().map(|(n, _)| key(*n)));
            let entries: Vec<Arc<DriftEntry>> = fresh.iter().map(|(n, s)| entry(*n, *s)).collect();
            let mut one_by_one = report.clone();
            for k in &keys {
                if let Ok(i) = one_by_one.entries.binary_search_by(|e| e.key.cmp(k)) {
                    one_by_one.entries.remove(i);
                }
            }
            for e in entries.clone() {
                match one_by_one.entries.binary_search_by(|x| x.key.cmp(&e.key)) {
                    Ok(i) => one_by_one.entries[i] = e,
                    Err(i) => one_by_one.entries.insert(i, e),
                }
            }
            let mut merged = report.clone();
            merged.patch(&keys, entries);
            let shown = |r: &DriftReport| -> Vec<(String, DriftStatus)> {
                r.entries.iter().map(|e| (e.key.name.clone(), e.status)).collect()
            };
            prop_assert_eq!(shown(&merged), shown(&one_by_one));
        }

        /// Invariant: normalising twice changes nothing.
        #[test]
        fn normalise_is_idempotent(spec in arb_value(), which in 0usize..3) {
            let (kind, api) = [("Deployment", "apps/v1"), ("Secret", "v1"), ("Widget", "example.com/v1")][which];
            let mut v = object(kind, api, spec);
            let (group, _) = crate::model::split_api_version(api);
            normalize::normalize(group, kind, &mut v);
            let once = v.clone();
            normalize::normalize(group, kind, &mut v);
            prop_assert_eq!(v, once);
        }
    }
}
