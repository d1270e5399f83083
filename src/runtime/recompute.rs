//! The explorer's recompute thread: it owns the latest desired snapshot
//! and the latest live view, recomputes the report when either changes (only the touched
//! keys after a watch event, everything after a new commit or a connection change), and
//! sends the report to the UI as an owned message. Inputs are drained before computing, so
//! a burst of changes costs one computation ("replace the latest").

use crate::app::{LiveState, Msg, ReportBody, ReportUpdate};
use crate::desired::DesiredSnapshot;
use crate::drift::{self, DriftOptions, DriftReport, LiveCoverage};
use crate::live::watch::{ConnectionState, KindState, LiveView};
use crate::model::{DesiredObject, LiveObject, ResourceKey, SourceLocation};
use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

/// After this long reconnecting, a kind's rows turn `unknown` (before, they keep the last
/// data the watch delivered, and the status bar says it is reconnecting).
pub const STALE_AFTER: Duration = Duration::from_secs(30);

/// What the recompute thread hears.
pub enum RecomputeInput {
    /// Git's state; shared with the other targets of a fleet that read it alike.
    Desired(Arc<DesiredSnapshot>),
    /// What the cluster serves: (group, kind) → namespaced.
    Served(HashMap<(String, String), bool>),
    /// A new view from the watches.
    View(LiveView),
    /// Live objects read from a file at a time.
    File(Vec<LiveObject>, SystemTime),
    /// The cluster cannot be reached: every row is unknown for this reason.
    Unreachable(String),
    /// Server mode (`--diff-mode server`): where to ask for dry runs.
    Server(ServerSide),
}

/// What the recompute thread needs to ask the API server for dry runs (server mode).
pub struct ServerSide {
    pub target: crate::live::cluster::ClusterTarget,
    pub served: Arc<crate::live::cluster::Served>,
    /// The runtime the cluster task runs on; the recompute thread waits on it.
    pub handle: tokio::runtime::Handle,
    pub field_manager: String,
    pub concurrency: usize,
}

/// Where the recompute thread publishes what others need: the desired snapshot in use (rescoped to
/// the cluster), for sync previews, and the kinds to watch.
pub struct RecomputeOutputs {
    pub ui: tokio::sync::mpsc::UnboundedSender<Msg>,
    pub desired: tokio::sync::watch::Sender<Option<Arc<DesiredSnapshot>>>,
    pub kinds: tokio::sync::watch::Sender<BTreeSet<(String, String)>>,
    /// Where the kinds Git names are kept for the next run (`sources::write_kinds_cache`).
    pub kinds_cache: Option<std::path::PathBuf>,
}

enum Live {
    None,
    File(SystemTime),
    Watch(Vec<KindState>),
    Unreachable(String),
}

struct Engine {
    opts: DriftOptions,
    default_namespace: String,
    desired: Option<Arc<DesiredSnapshot>>,
    served: Option<HashMap<(String, String), bool>>,
    /// The live objects: a file's, or the watches' (each view's changes applied in turn).
    objects: HashMap<ResourceKey, Arc<LiveObject>>,
    live: Live,
    report: Option<DriftReport>,
    coverage: LiveCoverage,
    /// Objects the watches could not read.
    undecodable: Arc<HashMap<ResourceKey, String>>,
    /// When the recompute thread started (the wait for the cluster's first answer counts from it).
    started: SystemTime,
    /// The kinds Git names, and the CustomResourceDefinitions it declares by the (group,
    /// kind) they define (for why a kind's objects are missing): of `desired`.
    desired_kinds: BTreeSet<(String, String)>,
    crds: HashMap<(String, String), String>,
    /// Line history of the repository (opened with the first desired snapshot).
    history: Option<crate::desired::history::History>,
    /// The kinds last written to the kinds cache.
    cached_kinds: Option<BTreeSet<(String, String)>>,
    /// Server mode: the cluster to dry-run against, and the results by (manifest, live
    /// resourceVersion), so that only what changed is asked again.
    server: Option<ServerSide>,
    dry_runs: crate::live::server_diff::DryRunCache,
}

/// How often a report is made while the first lists are still coming in.
const PARTIAL_EVERY: Duration = Duration::from_secs(2);

/// Runs the recompute thread until the UI's channel closes.
pub fn run(
    rx: Receiver<RecomputeInput>,
    out: RecomputeOutputs,
    opts: DriftOptions,
    default_namespace: String,
    partial_reports: bool,
) {
    let mut engine = Engine {
        opts,
        default_namespace,
        desired: None,
        served: None,
        objects: HashMap::new(),
        live: Live::None,
        report: None,
        coverage: LiveCoverage::default(),
        undecodable: Arc::default(),
        started: SystemTime::now(),
        history: None,
        desired_kinds: BTreeSet::new(),
        crds: HashMap::new(),
        cached_kinds: None,
        server: None,
        dry_runs: Default::default(),
    };
    // Work put off while the first lists come in (see PARTIAL_EVERY).
    let mut full = false;
    let mut changed: Vec<ResourceKey> = Vec::new();
    // Whether a whole report went out: the UI then takes only what changes.
    let mut sent_whole = false;
    let mut put_off = false;
    // Whether the live state changed since the last report (it travels with the next).
    let mut restate = false;
    let mut last_partial: Option<std::time::Instant> = None;
    // Whether the memory the first complete report's work freed went back (see
    // `release_memory`).
    let mut released = false;
    loop {
        // Wake up now and then to turn long-reconnecting kinds unknown, and when put-off
        // work is due.
        let wait = match (put_off, last_partial) {
            (true, Some(at)) => PARTIAL_EVERY.saturating_sub(at.elapsed()),
            _ => Duration::from_secs(5),
        };
        let first = match rx.recv_timeout(wait) {
            Ok(i) => Some(i),
            Err(RecvTimeoutError::Timeout) => None,
            Err(RecvTimeoutError::Disconnected) => return,
        };
        let mut any = std::mem::take(&mut put_off);
        for input in first
            .into_iter()
            .chain(std::iter::from_fn(|| rx.try_recv().ok()))
        {
            any = true;
            match input {
                RecomputeInput::Desired(d) => {
                    // A new commit compares only the rows it changes, where that is the
                    // same as comparing them all; the report goes out with the new
                    // revision either way.
                    match engine.set_desired(d, &out) {
                        Some(keys) if engine.report.is_some() => {
                            changed.extend(keys);
                            restate = true;
                        }
                        _ => full = true,
                    }
                }
                RecomputeInput::Served(s) => {
                    // The snapshot is copied (it is shared) only when a scope the cluster
                    // reports moves an object; a copy of 10,000 objects is a tenth of a second.
                    let moves = engine.desired.as_ref().is_some_and(|d| {
                        crate::desired::rescope_moves(
                            d,
                            |g, k| s.get(&(g.to_string(), k.to_string())).copied(),
                            &engine.default_namespace,
                        )
                    });
                    engine.served = Some(s);
                    if moves {
                        if let Some(d) = engine.desired.clone() {
                            engine.set_desired(d, &out);
                        }
                    }
                    full = true;
                }
                RecomputeInput::View(v) => {
                    let was_states: Vec<String> = match &engine.live {
                        Live::Watch(k) => k.iter().map(|k| state_class(&k.state)).collect(),
                        _ => Vec::new(),
                    };
                    let now_states: Vec<String> =
                        v.kinds.iter().map(|k| state_class(&k.state)).collect();
                    // The rows of the kinds whose coverage this changes are compared again
                    // (below); the live state travels with the next report either way.
                    restate |= was_states != now_states;
                    if *v.undecodable != *engine.undecodable {
                        full = true;
                    }
                    if v.whole || !matches!(engine.live, Live::Watch(_)) {
                        // A new set of watches: what the last one held is gone.
                        engine.objects.clear();
                        full = true;
                    }
                    engine.undecodable = Arc::clone(&v.undecodable);
                    engine.live = Live::Watch(v.kinds.clone());
                    changed.extend(v.apply_to(&mut engine.objects));
                }
                RecomputeInput::File(objects, at) => {
                    engine.objects = objects
                        .into_iter()
                        .map(|o| (o.key.clone(), Arc::new(o)))
                        .collect();
                    engine.live = Live::File(at);
                    full = true;
                }
                RecomputeInput::Unreachable(why) => {
                    engine.live = Live::Unreachable(why);
                    full = true;
                }
                RecomputeInput::Server(s) => {
                    engine.server = Some(s);
                    full = true;
                }
            }
        }
        let coverage = engine.coverage();
        let moved = coverage_moved(&engine.coverage, &coverage);
        // A timer wake-up: only a change of coverage (a kind turning stale) matters.
        if !any && matches!(moved, Moved::Nothing) {
            continue;
        }
        match moved {
            Moved::Nothing => {}
            // The rows of those kinds only: a kind's first list compares its own rows, not
            // every row again.
            Moved::Kinds(kinds) => {
                changed.extend(engine.keys_of_kinds(&kinds));
                restate = true;
            }
            Moved::All => full = true,
        }
        engine.coverage = coverage;
        // Before the cluster's first answer the Git side is shown at once, every row
        // waiting (the coverage says so).
        if engine.desired.is_none() {
            full = false;
            changed.clear();
            continue;
        }
        // While kinds are still being listed for the first time, a report is made at most
        // every PARTIAL_EVERY: each is a full comparison, and the one that matters is the
        // first complete one, made as soon as the last kind is listed.
        let complete = engine.live_state().is_complete();
        if !complete
            && engine.report.is_some()
            && !partial_reports
            && matches!(engine.live, Live::Watch(_))
        {
            // Only the complete report, made when the last kind is listed.
            continue;
        }
        if !complete
            && engine.report.is_some()
            && last_partial.is_some_and(|at| at.elapsed() < PARTIAL_EVERY)
        {
            put_off = true;
            continue;
        }
        last_partial = (!complete).then(std::time::Instant::now);
        let t = std::time::Instant::now();
        let done = engine.recompute(full, &changed, std::mem::take(&mut restate));
        let was_full = std::mem::take(&mut full);
        changed.clear();
        let keys = match done {
            Recomputed::Nothing => continue,
            Recomputed::All => None,
            Recomputed::Keys(keys) => Some(keys),
        };
        let compared = t.elapsed();
        let attributed = engine.attribute();
        if let (false, Some(keys)) = (was_full, &keys) {
            if keys.len() >= 1000 {
                tracing::info!(
                    keys = keys.len(),
                    compare_ms = compared.as_millis() as u64,
                    attribute_ms = (t.elapsed() - compared).as_millis() as u64,
                    complete,
                    "recomputed many resources"
                );
            }
        }
        if was_full {
            tracing::info!(
                compare_ms = compared.as_millis() as u64,
                attribute_ms = (t.elapsed() - compared).as_millis() as u64,
                complete,
                "recomputed every resource"
            );
        }
        let Some(report) = &engine.report else {
            continue;
        };
        // After a watch event, only the entries that changed travel (the UI keeps the
        // rest): those of the event's keys, and any the attribution completed since.
        // Many keys (a kind's first list) travel as the whole report: the UI rebuilds its
        // rows once either way, and patching tens of thousands of entries costs it more.
        let body = match keys {
            Some(mut keys) if sent_whole && keys.len() * 8 < report.entries.len() => {
                keys.extend(attributed);
                keys.sort();
                keys.dedup();
                let entries = keys
                    .iter()
                    .filter_map(|k| report.shared(k).cloned())
                    .collect();
                ReportBody::Changed { keys, entries }
            }
            _ => ReportBody::Full(report.clone()),
        };
        sent_whole = true;
        let revision = engine
            .desired
            .as_ref()
            .map(|d| d.revision.clone())
            .unwrap_or_default();
        let update = ReportUpdate {
            body,
            revision,
            live: engine.live_state(),
        };
        let first_complete = !released && update.live.is_complete();
        if out.ui.send(Msg::Report(Box::new(update))).is_err() {
            return;
        }
        if first_complete {
            released = true;
            super::release_memory();
        }
    }
}

fn state_class(s: &ConnectionState) -> String {
    match s {
        ConnectionState::Connecting => "connecting".into(),
        ConnectionState::Connected { .. } => "connected".into(),
        ConnectionState::Reconnecting { since, .. } => {
            if since.elapsed().unwrap_or_default() >= STALE_AFTER {
                "stale".into()
            } else {
                "reconnecting".into()
            }
        }
        ConnectionState::Unreadable { reason } => format!("unreadable {reason}"),
    }
}

/// Which rows a change of coverage touches.
#[derive(Debug, PartialEq)]
enum Moved {
    Nothing,
    /// The rows of these kinds (group, kind).
    Kinds(BTreeSet<(String, String)>),
    /// Every row (an object turned readable or unreadable on its own).
    All,
}

/// What changed between two coverages: the kinds whose rows they tell differently.
fn coverage_moved(was: &LiveCoverage, now: &LiveCoverage) -> Moved {
    if was.undecodable != now.undecodable {
        return Moved::All;
    }
    let mut kinds = BTreeSet::new();
    for (key, _) in was.unreadable.iter().chain(&now.unreadable) {
        if was.unreadable.get(key) != now.unreadable.get(key) {
            kinds.insert((key.0.clone(), key.1.clone()));
        }
    }
    for (gk, _) in was.missing_reason.iter().chain(&now.missing_reason) {
        if was.missing_reason.get(gk) != now.missing_reason.get(gk) {
            kinds.insert(gk.clone());
        }
    }
    if kinds.is_empty() {
        Moved::Nothing
    } else {
        Moved::Kinds(kinds)
    }
}

/// What a recomputation changed.
enum Recomputed {
    Nothing,
    /// Every entry was compared again.
    All,
    /// Only the entries of these keys (sorted).
    Keys(Vec<ResourceKey>),
}

impl Engine {
    /// Takes a new snapshot; the keys whose rows it changes (`changed_keys`), when only
    /// those need comparing again.
    fn set_desired(
        &mut self,
        d: Arc<DesiredSnapshot>,
        out: &RecomputeOutputs,
    ) -> Option<Vec<ResourceKey>> {
        let before = self.desired.clone().map(|old| {
            (
                old,
                Arc::clone(&self.opts.tracking.in_git_elsewhere),
                Arc::clone(&self.opts.tracking.apps),
                self.crds.clone(),
            )
        });
        // Copied (it may be shared) only when the cluster's scopes move an object.
        let d = match &self.served {
            Some(served) => {
                let scope = |g: &str, k: &str| served.get(&(g.to_string(), k.to_string())).copied();
                if crate::desired::rescope_moves(&d, scope, &self.default_namespace) {
                    let mut owned = (*d).clone();
                    crate::desired::rescope(&mut owned, scope, &self.default_namespace);
                    Arc::new(owned)
                } else {
                    d
                }
            }
            None => d,
        };
        // Sorted by key, one object a key (a watch event finds its object by binary search).
        let d = if d.objects.is_sorted_by(|a, b| a.key < b.key) {
            d
        } else {
            let mut owned = (*d).clone();
            owned.objects.sort_by(|a, b| a.key.cmp(&b.key));
            owned.objects.dedup_by(|b, a| a.key == b.key);
            Arc::new(owned)
        };
        // What Git declares outside the chosen paths is never extra.
        self.opts.tracking.in_git_elsewhere = Arc::new(d.outside_keys());
        self.opts.tracking.apps = d.app_tracking(&self.opts.tracking.apps);
        let kinds: BTreeSet<(String, String)> = d
            .objects
            .iter()
            .map(|o| (o.key.group.clone(), o.key.kind.clone()))
            .collect();
        self.crds = d.crds_by_kind();
        self.desired_kinds.clone_from(&kinds);
        self.desired = Some(Arc::clone(&d));
        // Rows depend on more than their own object where these change: every row again.
        let changed = before.and_then(|(old, elsewhere, apps, crds)| {
            let same = *elsewhere == *self.opts.tracking.in_git_elsewhere
                && *apps == *self.opts.tracking.apps
                && crds == self.crds;
            same.then(|| changed_keys(&old, &d)).flatten()
        });
        out.desired.send_replace(Some(d));
        if let Some(file) = &out.kinds_cache {
            if self.cached_kinds.as_ref() != Some(&kinds) {
                super::sources::write_kinds_cache(file, &kinds);
                self.cached_kinds = Some(kinds.clone());
            }
        }
        out.kinds.send_if_modified(|k| {
            if *k == kinds {
                false
            } else {
                *k = kinds;
                true
            }
        });
        changed
    }

    /// Why rows cannot be trusted: kinds the cluster does not serve, CRDs not installed,
    /// watches that are forbidden, still connecting, or disconnected for too long.
    fn coverage(&self) -> LiveCoverage {
        let mut c = LiveCoverage {
            undecodable: (*self.undecodable).clone(),
            ..LiveCoverage::default()
        };
        if self.desired.is_none() {
            return c;
        }
        match &self.live {
            Live::None => {
                for (g, k) in &self.desired_kinds {
                    c.unreadable.insert(
                        (g.clone(), k.clone(), String::new()),
                        "waiting for the cluster's first answer".to_string(),
                    );
                }
                return c;
            }
            Live::Unreachable(why) => {
                for (g, k) in &self.desired_kinds {
                    c.unreadable.insert(
                        (g.clone(), k.clone(), String::new()),
                        format!("cluster unreachable: {why}"),
                    );
                }
                return c;
            }
            Live::Watch(kinds) => {
                for k in kinds {
                    let why = match &k.state {
                        ConnectionState::Connecting => {
                            Some("waiting for the first list".to_string())
                        }
                        ConnectionState::Unreadable { reason } => Some(reason.clone()),
                        ConnectionState::Reconnecting { since, error }
                            if since.elapsed().unwrap_or_default() >= STALE_AFTER =>
                        {
                            Some(format!(
                                "disconnected since {} ({error})",
                                crate::ui::clock(*since)
                            ))
                        }
                        _ => None,
                    };
                    if let Some(why) = why {
                        c.unreadable
                            .insert((k.group.clone(), k.kind.clone(), k.namespace.clone()), why);
                    }
                }
                // A kind Git names that no watch covers yet (a commit that adds a kind,
                // watches started for the kinds of an earlier run) has not been listed: its
                // rows wait, they are not missing.
                for (group, kind) in self.unwatched_kinds(kinds) {
                    c.unreadable
                        .entry((group, kind, String::new()))
                        .or_insert_with(|| "waiting for the first list".to_string());
                }
            }
            _ => {}
        }
        if let Some(served) = &self.served {
            // By kind, not by object: this runs after every watch event.
            for gk in &self.desired_kinds {
                if served.contains_key(gk) {
                    continue;
                }
                let gk = gk.clone();
                match self.crds.get(&gk) {
                    Some(crd) => {
                        c.missing_reason.insert(gk, format!("its CustomResourceDefinition {crd} is not installed in the cluster"));
                    }
                    None => {
                        c.unreadable.insert(
                            (gk.0, gk.1, String::new()),
                            "kind not served by the cluster".into(),
                        );
                    }
                }
            }
        }
        c
    }

    /// The keys of these kinds' rows: Git's objects and the live ones (extras).
    fn keys_of_kinds(&self, kinds: &BTreeSet<(String, String)>) -> Vec<ResourceKey> {
        // A few kinds: looked through, not looked up (no key is copied to ask).
        let of = |k: &ResourceKey| kinds.iter().any(|(g, kd)| *g == k.group && *kd == k.kind);
        let desired = self.desired.iter().flat_map(|d| &d.objects).map(|o| &o.key);
        desired
            .chain(self.objects.keys())
            .filter(|k| of(k))
            .cloned()
            .collect()
    }

    /// Recomputes: every entry, or only those of `changed` keys where that suffices. With
    /// `restate` (the live state changed) a report goes out even when no entry changed.
    fn recompute(&mut self, full: bool, changed: &[ResourceKey], restate: bool) -> Recomputed {
        let Some(d) = self.desired.clone() else {
            return Recomputed::Nothing;
        };
        if !full {
            if changed.is_empty() {
                return if restate && self.report.is_some() {
                    Recomputed::Keys(Vec::new())
                } else {
                    Recomputed::Nothing
                };
            }
            if let Some(report) = &mut self.report {
                let mut keys: Vec<ResourceKey> = changed.to_vec();
                keys.sort();
                keys.dedup();
                if drift::refresh_keys(
                    report,
                    &keys,
                    &d.objects,
                    &self.objects,
                    &self.coverage,
                    &self.opts,
                ) {
                    self.server_verdicts(&d, Some(&keys));
                    return Recomputed::Keys(keys);
                }
            }
        }
        let live: Vec<&LiveObject> = self.objects.values().map(|o| &**o).collect();
        self.report = Some(drift::build_report_with(
            &d.objects,
            &d.invalid,
            &live,
            &self.coverage,
            &self.opts,
        ));
        if self.server.is_some() {
            let in_git: std::collections::HashSet<&ResourceKey> =
                d.objects.iter().map(|o| &o.key).collect();
            self.dry_runs.retain(|k| in_git.contains(k));
        }
        self.server_verdicts(&d, None);
        Recomputed::All
    }

    /// Server mode: the dry runs' verdicts replace the local ones (of `only`, after a watch
    /// event; rows of kinds not listed yet are unknown and wait). The recompute waits for
    /// them, so that no report shows a local verdict where the server could answer (and each
    /// entry says which it is).
    fn server_verdicts(&mut self, d: &DesiredSnapshot, only: Option<&[ResourceKey]>) {
        let (Some(server), Some(report)) = (&self.server, &mut self.report) else {
            return;
        };
        let live_by_key: HashMap<&ResourceKey, &LiveObject> = match only {
            None => self.objects.iter().map(|(k, o)| (k, &**o)).collect(),
            Some(keys) => keys
                .iter()
                .filter_map(|k| self.objects.get_key_value(k))
                .map(|(k, o)| (k, &**o))
                .collect(),
        };
        let schemas = super::diff_cmd::server_schemas(d, self.objects.values().map(|o| &**o));
        server.handle.block_on(super::diff_cmd::server_mode(
            &server.target,
            &server.served,
            d,
            &live_by_key,
            &schemas,
            report,
            &super::diff_cmd::ServerRun {
                field_manager: &server.field_manager,
                concurrency: server.concurrency,
                drift: &self.opts,
            },
            &self.dry_runs,
            only,
        ));
    }

    /// Attaches, within a short budget, the commits that last changed the drifted fields;
    /// returns the keys whose entries gained some.
    fn attribute(&mut self) -> Vec<ResourceKey> {
        let (Some(d), Some(report)) = (&self.desired, &mut self.report) else {
            return Vec::new();
        };
        if self.history.is_none() {
            self.history = crate::desired::history::History::open(&d.repo_path);
        }
        if let Some(h) = &mut self.history {
            return crate::drift::attribution::attach_commits(
                report,
                &self.opts.people,
                crate::desired::history::commit_lookup(
                    h,
                    &d.revision.commit,
                    &d.recipes,
                    Duration::from_millis(400),
                ),
            );
        }
        Vec::new()
    }

    fn live_state(&self) -> LiveState {
        match &self.live {
            Live::None => LiveState::Waiting {
                since: self.started,
            },
            Live::File(at) => LiveState::File { read_at: *at },
            Live::Unreachable(e) => LiveState::Unreachable { error: e.clone() },
            Live::Watch(kinds) => match live_state_of(kinds) {
                // Every watch has listed, but a kind Git names is served and not watched yet
                // (the watches began with the kinds of an earlier run, or none): its rows
                // wait, and the verdicts are no baseline until it is listed.
                LiveState::Connected { .. } if !self.unwatched_kinds(kinds).is_empty() => {
                    LiveState::Connecting
                }
                state => state,
            },
        }
    }

    /// The kinds Git names that the cluster serves and no watch covers yet.
    fn unwatched_kinds(&self, kinds: &[KindState]) -> BTreeSet<(String, String)> {
        let Some(served) = &self.served else {
            return BTreeSet::new();
        };
        let watched: HashSet<(&str, &str)> = kinds
            .iter()
            .map(|k| (k.group.as_str(), k.kind.as_str()))
            .collect();
        self.desired_kinds
            .iter()
            .filter(|(g, k)| {
                !watched.contains(&(g.as_str(), k.as_str()))
                    && served.contains_key(&(g.clone(), k.clone()))
            })
            .cloned()
            .collect()
    }
}

/// The connection summary of a set of watches.
pub fn live_state_of(kinds: &[KindState]) -> LiveState {
    let mut freshest: Option<SystemTime> = None;
    let mut connecting = false;
    let mut failing: Option<(SystemTime, String)> = None;
    for k in kinds {
        match &k.state {
            ConnectionState::Connecting => connecting = true,
            ConnectionState::Connected { last_event } => {
                freshest = Some(freshest.map_or(*last_event, |f| f.max(*last_event)));
            }
            ConnectionState::Reconnecting { since, error } => {
                if failing.as_ref().is_none_or(|(s, _)| since < s) {
                    failing = Some((*since, error.clone()));
                }
            }
            ConnectionState::Unreadable { .. } => {}
        }
    }
    if let Some((since, error)) = failing {
        LiveState::Reconnecting { since, error }
    } else if connecting {
        LiveState::Connecting
    } else {
        LiveState::Connected {
            freshest: freshest.unwrap_or_else(SystemTime::now),
        }
    }
}

/// The keys whose rows differ between two snapshots of the same repository: added, removed,
/// or with another object, apiVersion or source (file and line). `None` when rows may
/// change beyond those keys: invalid manifests differ (their rows are made apart), or a
/// CustomResourceDefinition changed (its schema decides how its kind's lists compare). The
/// caller checks what else rows read from the snapshot (apps, what Git declares outside the
/// chosen paths). Both lists of objects are sorted by key.
fn changed_keys(old: &DesiredSnapshot, new: &DesiredSnapshot) -> Option<Vec<ResourceKey>> {
    let invalid =
        |d: &DesiredSnapshot| -> Vec<(Option<ResourceKey>, String, SourceLocation, String)> {
            d.invalid
                .iter()
                .map(|i| {
                    (
                        i.key.clone(),
                        i.api_version.clone(),
                        i.source.clone(),
                        i.message.clone(),
                    )
                })
                .collect()
        };
    if invalid(old) != invalid(new) {
        return None;
    }
    let is_crd =
        |k: &ResourceKey| k.kind == "CustomResourceDefinition" && k.group == "apiextensions.k8s.io";
    let same = |a: &DesiredObject, b: &DesiredObject| {
        a.api_version == b.api_version
            && a.source == b.source
            && a.object.as_str() == b.object.as_str()
    };
    let mut out = Vec::new();
    let (a, b) = (&old.objects, &new.objects);
    let (mut i, mut j) = (0, 0);
    while i < a.len() || j < b.len() {
        let order = match (a.get(i), b.get(j)) {
            (Some(x), Some(y)) => x.key.cmp(&y.key),
            (Some(_), None) => std::cmp::Ordering::Less,
            _ => std::cmp::Ordering::Greater,
        };
        let key = match order {
            std::cmp::Ordering::Less => {
                i += 1;
                &a[i - 1].key
            }
            std::cmp::Ordering::Greater => {
                j += 1;
                &b[j - 1].key
            }
            std::cmp::Ordering::Equal => {
                i += 1;
                j += 1;
                if same(&a[i - 1], &b[j - 1]) {
                    continue;
                }
                &a[i - 1].key
            }
        };
        if is_crd(key) {
            return None;
        }
        out.push(key.clone());
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::live::watch::ConnectionState;
    use crate::model::{DesiredObject, Packed, SourceLocation};
    use serde_json::json;

    fn object(group: &str, kind: &str, name: &str) -> DesiredObject {
        let api_version = if group.is_empty() {
            "v1".to_string()
        } else {
            format!("{group}/v1")
        };
        DesiredObject {
            key: ResourceKey::new(group, kind, "shop", name),
            object: Packed::new(&json!({
                "apiVersion": api_version,
                "kind": kind,
                "metadata": {"name": name, "namespace": "shop"},
            })),
            api_version,
            source: SourceLocation {
                file: "app.yaml".into(),
                line: Some(1),
            },
        }
    }

    fn kind(group: &str, kind: &str, state: ConnectionState) -> KindState {
        KindState {
            group: group.into(),
            kind: kind.into(),
            namespace: String::new(),
            state,
        }
    }

    /// The next report the UI gets.
    fn next_report(ui_rx: &mut tokio::sync::mpsc::UnboundedReceiver<Msg>) -> Box<ReportUpdate> {
        loop {
            match ui_rx.blocking_recv() {
                Some(Msg::Report(u)) => return u,
                Some(_) => continue,
                None => panic!("the recompute thread ended"),
            }
        }
    }

    /// A recompute thread (with partial reports or not) told that the cluster serves
    /// ConfigMaps and Deployments; its input, the UI's end, and the thread.
    fn engine_serving_configmaps_and_deployments(
        partial_reports: bool,
    ) -> (
        std::sync::mpsc::Sender<RecomputeInput>,
        tokio::sync::mpsc::UnboundedReceiver<Msg>,
        std::thread::JoinHandle<()>,
    ) {
        let (tx, rx) = std::sync::mpsc::channel();
        let (ui, ui_rx) = tokio::sync::mpsc::unbounded_channel();
        let (desired, _) = tokio::sync::watch::channel(None);
        let (kinds, _) = tokio::sync::watch::channel(BTreeSet::new());
        let out = RecomputeOutputs {
            ui,
            desired,
            kinds,
            kinds_cache: None,
        };
        let thread = std::thread::spawn(move || {
            run(
                rx,
                out,
                DriftOptions::default(),
                "default".into(),
                partial_reports,
            )
        });
        let served: HashMap<(String, String), bool> = [
            (("".to_string(), "ConfigMap".to_string()), true),
            (("apps".to_string(), "Deployment".to_string()), true),
        ]
        .into_iter()
        .collect();
        tx.send(RecomputeInput::Served(served)).unwrap();
        (tx, ui_rx, thread)
    }

    /// Watches that began with the kinds of an earlier run (here: ConfigMaps only) have all
    /// listed, but Git names Deployments too: the state is not complete (no baseline, the
    /// fleet shows no verdict) until the Deployments are listed as well.
    #[test]
    fn a_kind_git_names_and_no_watch_covers_keeps_the_state_incomplete() {
        let (tx, mut ui_rx, thread) = engine_serving_configmaps_and_deployments(false);
        let snapshot = DesiredSnapshot {
            objects: vec![
                object("", "ConfigMap", "web"),
                object("apps", "Deployment", "web"),
            ],
            ..DesiredSnapshot::default()
        };
        tx.send(RecomputeInput::Desired(Arc::new(snapshot)))
            .unwrap();
        let now = SystemTime::now();
        let listed = ConnectionState::Connected { last_event: now };
        let view = |kinds: Vec<KindState>| LiveView {
            generation: 1,
            kinds,
            ..LiveView::default()
        };
        tx.send(RecomputeInput::View(view(vec![kind(
            "",
            "ConfigMap",
            listed.clone(),
        )])))
        .unwrap();
        let first = next_report(&mut ui_rx);
        assert!(
            !first.live.is_complete(),
            "Deployments are not listed yet: {:?}",
            first.live
        );
        let mut report = DriftReport::default();
        first.body.apply(&mut report);
        tx.send(RecomputeInput::View(view(vec![
            kind("", "ConfigMap", listed.clone()),
            kind("apps", "Deployment", listed),
        ])))
        .unwrap();
        loop {
            let u = next_report(&mut ui_rx);
            let done = u.live.is_complete();
            u.body.apply(&mut report);
            if done {
                break;
            }
        }
        assert!(report
            .entries
            .iter()
            .all(|e| e.status == crate::model::DriftStatus::Missing));
        drop(tx);
        drop(ui_rx);
        thread.join().unwrap();
    }

    /// A kind's first list compares that kind's rows only (the others keep their entries),
    /// and the report the UI puts together is the one a whole comparison makes.
    #[test]
    fn a_kinds_first_list_compares_its_own_rows_only() {
        let (tx, mut ui_rx, thread) = engine_serving_configmaps_and_deployments(true);
        let mut web = object("", "ConfigMap", "web");
        let mut v = web.object.value();
        v["data"] = json!({"a": "1"});
        web.object = Packed::new(&v);
        let snapshot = DesiredSnapshot {
            objects: vec![
                web,
                object("apps", "Deployment", "api"),
                object("apps", "Deployment", "web"),
            ],
            ..DesiredSnapshot::default()
        };
        let objects = snapshot.objects.clone();
        tx.send(RecomputeInput::Desired(Arc::new(snapshot)))
            .unwrap();
        let live = |group: &str, kind: &str, name: &str, data: serde_json::Value| {
            let mut v = object(group, kind, name).object.value();
            v["data"] = data;
            let o = LiveObject::new(ResourceKey::new(group, kind, "shop", name), "v1", v);
            (o.key.clone(), Some(Arc::new(o)))
        };
        let now = SystemTime::now();
        let listed = ConnectionState::Connected { last_event: now };
        tx.send(RecomputeInput::View(LiveView {
            generation: 1,
            whole: true,
            kinds: vec![
                kind("", "ConfigMap", listed.clone()),
                kind("apps", "Deployment", ConnectionState::Connecting),
            ],
            changes: vec![live("", "ConfigMap", "web", json!({"a": "2"}))],
            ..LiveView::default()
        }))
        .unwrap();
        let mut report = DriftReport::default();
        loop {
            let u = next_report(&mut ui_rx);
            u.body.apply(&mut report);
            if report.entry(&objects[0].key).map(|e| e.status)
                == Some(crate::model::DriftStatus::OutOfSync)
            {
                break;
            }
        }
        let deployments = [live("apps", "Deployment", "web", json!({"b": "1"}))];
        tx.send(RecomputeInput::View(LiveView {
            generation: 2,
            kinds: vec![
                kind("", "ConfigMap", listed.clone()),
                kind("apps", "Deployment", listed),
            ],
            changes: deployments.to_vec(),
            ..LiveView::default()
        }))
        .unwrap();
        let last = loop {
            let u = next_report(&mut ui_rx);
            if u.live.is_complete() {
                break u;
            }
            u.body.apply(&mut report);
        };
        let compared_before = report.shared(&objects[0].key).cloned().unwrap();
        last.body.apply(&mut report);
        assert!(
            Arc::ptr_eq(&compared_before, report.shared(&objects[0].key).unwrap()),
            "the ConfigMap's row was not compared again"
        );
        let all_live: Vec<LiveObject> = [live("", "ConfigMap", "web", json!({"a": "2"}))]
            .iter()
            .chain(&deployments)
            .map(|(_, o)| o.as_deref().unwrap().clone())
            .collect();
        let whole = drift::build_report(&objects, &[], &all_live, &DriftOptions::default());
        assert_eq!(verdicts(&report), verdicts(&whole));
        assert_eq!(
            verdicts(&report),
            [
                "/ConfigMap/shop/web out-of-sync 1",
                "apps/Deployment/shop/api missing 0",
                "apps/Deployment/shop/web synced 0"
            ]
        );
        drop(tx);
        drop(ui_rx);
        thread.join().unwrap();
    }

    /// Each row as "key status number-of-drifted-fields".
    fn verdicts(r: &DriftReport) -> Vec<String> {
        r.entries
            .iter()
            .map(|e| format!("{} {} {}", e.key, e.status, e.fields.len()))
            .collect()
    }

    fn with_data(mut o: DesiredObject, data: serde_json::Value) -> DesiredObject {
        let mut v = o.object.value();
        v["data"] = data;
        o.object = Packed::new(&v);
        o
    }

    /// Which rows a new snapshot changes: added, removed, another object, apiVersion or
    /// line; `None` where more than those rows can change.
    #[test]
    fn a_new_snapshot_changes_the_rows_of_the_objects_it_changes() {
        let base = vec![
            object("", "ConfigMap", "a"),
            object("", "ConfigMap", "b"),
            object("apps", "Deployment", "c"),
        ];
        let snap = |objects: Vec<DesiredObject>| DesiredSnapshot {
            objects,
            ..DesiredSnapshot::default()
        };
        let keys = |old: Vec<DesiredObject>, new: Vec<DesiredObject>| -> Option<Vec<String>> {
            changed_keys(&snap(old), &snap(new)).map(|k| k.iter().map(|k| k.name.clone()).collect())
        };
        assert_eq!(keys(base.clone(), base.clone()), Some(vec![]));
        let mut moved = base.clone();
        moved[1].source.line = Some(9);
        assert_eq!(keys(base.clone(), moved), Some(vec!["b".into()]));
        let mut edited = base.clone();
        edited[2] = with_data(edited[2].clone(), json!({"x": "1"}));
        assert_eq!(keys(base.clone(), edited), Some(vec!["c".into()]));
        let mut other_version = base.clone();
        other_version[0].api_version = "v2".into();
        assert_eq!(keys(base.clone(), other_version), Some(vec!["a".into()]));
        assert_eq!(
            keys(base[..2].to_vec(), base[1..].to_vec()),
            Some(vec!["a".into(), "c".into()]),
            "one removed, one added"
        );
        assert_eq!(keys(vec![], base.clone()).map(|k| k.len()), Some(3));
        // A CustomResourceDefinition changes schemas; an invalid manifest its own rows.
        let mut with_crd = base.clone();
        with_crd.insert(
            0,
            object("apiextensions.k8s.io", "CustomResourceDefinition", "w"),
        );
        assert_eq!(keys(base.clone(), with_crd), None);
        let mut broken = snap(base.clone());
        broken.invalid.push(crate::model::InvalidManifest {
            key: None,
            api_version: String::new(),
            source: SourceLocation::default(),
            message: "bad".into(),
        });
        assert_eq!(changed_keys(&snap(base.clone()), &broken), None);
    }

    /// After the first complete report, a new commit compares only the rows it changed and
    /// the report goes out with the new revision, even when no row changed; the report the
    /// UI puts together is the one a whole comparison of the new snapshot makes.
    #[test]
    fn a_new_commit_compares_only_the_rows_it_changes() {
        let (tx, mut ui_rx, thread) = engine_serving_configmaps_and_deployments(true);
        let revision = |commit: &str| crate::desired::git::RevisionInfo {
            commit: commit.into(),
            ..Default::default()
        };
        // Enough rows that three changed travel as changes, not as a whole report.
        let mut first = vec![
            object("", "ConfigMap", "a"),
            object("", "ConfigMap", "b"),
            object("apps", "Deployment", "c"),
        ];
        first.extend((0..30).map(|i| object("", "ConfigMap", &format!("x{i:02}"))));
        first.sort_by(|a, b| a.key.cmp(&b.key));
        let send = |objects: Vec<DesiredObject>, commit: &str| {
            tx.send(RecomputeInput::Desired(Arc::new(DesiredSnapshot {
                objects,
                revision: revision(commit),
                ..DesiredSnapshot::default()
            })))
            .unwrap();
        };
        send(first.clone(), "one");
        let listed = ConnectionState::Connected {
            last_event: SystemTime::now(),
        };
        let live: Vec<LiveObject> = first
            .iter()
            .map(|d| LiveObject::new(d.key.clone(), d.api_version.clone(), d.object.value()))
            .collect();
        tx.send(RecomputeInput::View(LiveView {
            generation: 1,
            whole: true,
            kinds: vec![
                kind("", "ConfigMap", listed.clone()),
                kind("apps", "Deployment", listed),
            ],
            changes: live
                .iter()
                .map(|o| (o.key.clone(), Some(Arc::new(o.clone()))))
                .collect(),
            ..LiveView::default()
        }))
        .unwrap();
        let mut report = DriftReport::default();
        loop {
            let u = next_report(&mut ui_rx);
            u.body.apply(&mut report);
            if u.live.is_complete() {
                break;
            }
        }
        let c = ResourceKey::new("apps", "Deployment", "shop", "c");
        let untouched = report.shared(&c).cloned().unwrap();
        // One ConfigMap edited, one removed, one added.
        let mut second: Vec<DesiredObject> = first
            .iter()
            .filter(|o| o.key.name != "b")
            .map(|o| match o.key.name.as_str() {
                "a" => with_data(o.clone(), json!({"k": "v"})),
                _ => o.clone(),
            })
            .collect();
        second.push(object("", "ConfigMap", "d"));
        second.sort_by(|a, b| a.key.cmp(&b.key));
        send(second.clone(), "two");
        let u = next_report(&mut ui_rx);
        assert_eq!(u.revision.commit, "two");
        match &u.body {
            ReportBody::Changed { keys, .. } => {
                let names: Vec<&str> = keys.iter().map(|k| k.name.as_str()).collect();
                assert_eq!(names, ["a", "b", "d"]);
            }
            ReportBody::Full(_) => panic!("a whole report for a commit that changed 3 rows"),
        }
        u.body.apply(&mut report);
        assert!(
            Arc::ptr_eq(&untouched, report.shared(&c).unwrap()),
            "a row the commit did not change was not compared again"
        );
        let whole = drift::build_report(&second, &[], &live, &DriftOptions::default());
        assert_eq!(verdicts(&report), verdicts(&whole));
        // A commit that changes no object: no row compared, the new revision all the same.
        send(second, "three");
        let u = next_report(&mut ui_rx);
        assert_eq!(u.revision.commit, "three");
        assert!(matches!(&u.body, ReportBody::Changed { keys, .. } if keys.is_empty()));
        drop(tx);
        drop(ui_rx);
        thread.join().unwrap();
    }
}
