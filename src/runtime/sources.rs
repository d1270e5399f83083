//! The explorer's sources, each on a task or thread of its own, none of which the UI loop
//! ever waits on: the Git watcher (HEAD polled twice a second), the cluster task (connect,
//! discover, watch; or a live file), and the sync worker that carries out a confirmed
//! operation. They talk to the loop with messages.

use super::recompute::RecomputeInput;
use super::Settings;
use crate::app::sync_dialog::{SyncEffect, SyncMsg};
use crate::app::{LiveState, Msg};
use crate::desired::{self, DesiredSnapshot};
use crate::live::{self, cluster};
use crate::sync::{SyncError, Syncer};
use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;
use std::time::{Duration, SystemTime};
use tokio::sync::mpsc::UnboundedSender;

/// How often Git's HEAD is looked at.
const GIT_POLL: Duration = Duration::from_millis(250);

/// Commands the sources accept from the UI.
#[derive(Debug, Clone, Copy)]
pub enum SourceCmd {
    Refresh,
}

/// What went wrong reading Git, and what to do about it.
fn git_problem(e: &desired::DesiredError) -> String {
    let what_to_do = match e {
        desired::DesiredError::Repository { .. } => {
            "run kdrift inside a Git repository, or name one with --repo PATH"
        }
        desired::DesiredError::Revision { .. } => {
            "name a revision that exists with --rev (a branch, tag, commit or HEAD~N)"
        }
        desired::DesiredError::Object { .. } => "check the repository with `git fsck`",
        desired::DesiredError::NoSuchPath { .. } => {
            "name a folder of the repository with --path (relative to its root)"
        }
    };
    format!("{e}. {what_to_do}")
}

/// Tells the UI of a Git problem once (not again while it stays the same).
fn report_problem(ui: &UnboundedSender<Msg>, last: &mut Option<String>, text: String) {
    if last.as_deref() != Some(&text) {
        let _ = ui.send(Msg::GitProblem(Some(text.clone())));
        *last = Some(text);
    }
}

/// How long a first read with charts waits for the cluster's capabilities.
const CAPABILITIES_WAIT: Duration = Duration::from_secs(10);

/// Reads Git at start, then whenever HEAD (or the branch asked for) moves, and on refresh.
pub fn spawn_git_watcher(
    settings: &Settings,
    engine: std::sync::mpsc::Sender<RecomputeInput>,
    ui: UnboundedSender<Msg>,
    refresh: std::sync::mpsc::Receiver<GitRefresh>,
    capabilities: SharedCapabilities,
) {
    let mut load = settings.load.clone();
    // Against a cluster, charts must render with its capabilities: a first read that has
    // charts but no capabilities yet (a cluster never discovered before) is held until
    // discovery gives them, at most this long (then it is shown as rendered).
    let hold_until = settings
        .live_file
        .is_none()
        .then(|| std::time::Instant::now() + CAPABILITIES_WAIT);
    std::thread::spawn(move || {
        let mut current: Option<String> = None;
        let mut repo: Option<desired::git::GitRepo> = None;
        let mut last_error: Option<String> = None;
        let mut cache = desired::ParseCache::default();
        // Whether what is shown (or held) has charts: only then do new capabilities matter.
        let mut charts = true;
        // The first read is at once; then HEAD is polled every GIT_POLL.
        let mut first = true;
        loop {
            let (forced, capabilities_changed) = if std::mem::take(&mut first) {
                (false, false)
            } else {
                match refresh.recv_timeout(GIT_POLL) {
                    Ok(GitRefresh::User) => (true, false),
                    Ok(GitRefresh::Capabilities) => (false, charts),
                    Err(std::sync::mpsc::RecvTimeoutError::Timeout) => (false, false),
                    Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => return,
                }
            };
            let r = match &repo {
                Some(r) => r,
                None => match desired::git::GitRepo::open(load.repo.as_deref()) {
                    Ok(r) => repo.insert(r),
                    Err(e) => {
                        report_problem(&ui, &mut last_error, git_problem(&e));
                        continue;
                    }
                },
            };
            let commit = match r.resolve(&load.rev) {
                Ok(rev) => rev.commit,
                Err(e) => {
                    report_problem(&ui, &mut last_error, git_problem(&e));
                    repo = None;
                    continue;
                }
            };
            if !forced && !capabilities_changed && current.as_deref() == Some(&commit) {
                continue;
            }
            // Charts render with the cluster's capabilities as last discovered (the cluster
            // task asks for a read again when discovery finds them changed).
            load.capabilities = capabilities.lock().ok().and_then(|c| c.clone());
            match load_shared(&load, &commit, forced, &mut cache) {
                Ok(snapshot)
                    if snapshot.files.charts > 0
                        && load.capabilities.is_none()
                        && hold_until.is_some_and(|t| std::time::Instant::now() < t) =>
                {
                    // Not shown: read again when discovery asks (or at the next poll).
                    tracing::info!("charts wait for the cluster's capabilities");
                }
                Ok(snapshot) => {
                    charts = snapshot.files.charts > 0;
                    if last_error.take().is_some() {
                        let _ = ui.send(Msg::GitProblem(None));
                    }
                    current = Some(snapshot.revision.commit.clone());
                    tracing::info!(
                        commit = %snapshot.revision.commit,
                        objects = snapshot.objects.len(),
                        parsed_blobs = cache.last_parsed,
                        cached_on_disk = cache.last_from_disk,
                        read_ms = snapshot.timings.read_git.as_millis() as u64,
                        parse_ms = snapshot.timings.parse.as_millis() as u64,
                        "read Git"
                    );
                    if engine.send(RecomputeInput::Desired(snapshot)).is_err() {
                        return;
                    }
                }
                Err(e) => {
                    report_problem(&ui, &mut last_error, git_problem(&e));
                    current = Some(commit);
                }
            }
        }
    });
}

/// Git's state as read for a revision, shared: the targets of a fleet that read the same
/// revision of the same repository the same way (paths, namespace, renderers, charts'
/// capabilities) hold one snapshot, read once. Kept while someone holds it.
fn load_shared(
    load: &desired::LoadOptions,
    commit: &str,
    forced: bool,
    cache: &mut desired::ParseCache,
) -> Result<Arc<DesiredSnapshot>, desired::DesiredError> {
    use std::collections::HashMap;
    use std::sync::{Mutex, OnceLock, Weak};
    type Shared = Mutex<HashMap<String, (Arc<Mutex<()>>, Weak<DesiredSnapshot>)>>;
    static SHARED: OnceLock<Shared> = OnceLock::new();
    let shared = SHARED.get_or_init(Default::default);
    let key = format!("{commit}\0{load:?}");
    let gate = {
        let mut map = shared.lock().unwrap_or_else(|e| e.into_inner());
        map.retain(|k, (_, w)| *k == key || w.strong_count() > 0);
        Arc::clone(&map.entry(key.clone()).or_default().0)
    };
    // One reader per key at a time: the others wait for its snapshot.
    let _reading = gate.lock().unwrap_or_else(|e| e.into_inner());
    if !forced {
        let held = shared
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&key)
            .and_then(|(_, w)| w.upgrade());
        if let Some(s) = held {
            return Ok(s);
        }
    }
    let snapshot = Arc::new(desired::load_cached(load, cache)?);
    if let Some(entry) = shared
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .get_mut(&key)
    {
        entry.1 = Arc::downgrade(&snapshot);
    }
    Ok(snapshot)
}

/// Why Git is read again before HEAD moves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GitRefresh {
    /// The user asked (`r`): read it all again.
    User,
    /// Discovery found other capabilities: charts render again (a repository without
    /// charts is not read again for it).
    Capabilities,
}

/// What the cluster task shares with the sync worker once connected.
#[derive(Clone)]
pub struct Connected {
    syncer: Syncer,
}

impl Connected {
    pub fn client(&self) -> &kube::Client {
        self.syncer.client()
    }

    /// The live object of `key` now (`None`: there is none).
    pub async fn get(
        &self,
        key: &crate::model::ResourceKey,
    ) -> Result<Option<crate::model::LiveObject>, String> {
        self.syncer.get(key).await
    }
}

/// Reads a resource's Events every few seconds while the Events view is open (the view
/// stops it), answering `Msg::Events`.
pub async fn events_task(
    key: crate::model::ResourceKey,
    connected: tokio::sync::watch::Receiver<Option<Connected>>,
    ui: UnboundedSender<Msg>,
) {
    loop {
        let client = connected.borrow().as_ref().map(|c| c.client().clone());
        let answer = match client {
            Some(c) => crate::live::events::read(&c, &key, 200).await,
            None => Err("not connected to a cluster (yet)".to_string()),
        };
        if ui.send(Msg::Events(key.clone(), answer)).is_err() {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_secs(2)).await;
    }
}

/// The channels of the cluster task.
pub struct ClusterIo {
    pub engine: std::sync::mpsc::Sender<RecomputeInput>,
    pub ui: UnboundedSender<Msg>,
    pub kinds_rx: tokio::sync::watch::Receiver<BTreeSet<(String, String)>>,
    pub desired_rx: tokio::sync::watch::Receiver<Option<Arc<DesiredSnapshot>>>,
    pub connected_tx: tokio::sync::watch::Sender<Option<Connected>>,
    pub refresh: tokio::sync::mpsc::UnboundedReceiver<SourceCmd>,
    /// The capabilities Git's charts render with, and how to ask Git to be read again.
    pub capabilities: SharedCapabilities,
    pub git_refresh: std::sync::mpsc::Sender<GitRefresh>,
}

/// The cluster's capabilities as Helm charts see them, shared by the cluster task (which
/// discovers them) and the Git reader (which renders with them).
pub type SharedCapabilities = Arc<std::sync::Mutex<Option<crate::desired::helm::Capabilities>>>;

/// Connects (retrying while unreachable), discovers, and keeps watches on the kinds Git uses.
pub async fn cluster_task(settings: Settings, io: ClusterIo, read_only: bool) {
    let ClusterIo {
        engine,
        ui,
        mut kinds_rx,
        mut desired_rx,
        connected_tx,
        mut refresh,
        capabilities,
        git_refresh,
    } = io;
    let mut hinted = false;
    let (target, served) = loop {
        let attempt = async {
            let target = cluster::connect_with(
                settings.kubeconfig.as_deref(),
                settings.explicit_context.as_deref(),
                Some(settings.request_timeout),
            )
            .await?;
            let served = cluster::discover(&target).await?;
            Ok::<_, cluster::ClusterError>((target, served))
        };
        match attempt.await {
            Ok(ok) => break ok,
            Err(e) => {
                let why = e.to_string();
                tracing::warn!(error = %why, "cluster unreachable");
                let _ = engine.send(RecomputeInput::Unreachable(why.clone()));
                let _ = ui.send(Msg::Live(LiveState::Unreachable { error: why.clone() }));
                if !hinted {
                    hinted = true;
                    let _ = ui.send(Msg::Notice(format!(
                        "retrying every 5 s · {}",
                        super::NO_CLUSTER_HINT
                    )));
                }
                tokio::select! {
                    _ = tokio::time::sleep(Duration::from_secs(5)) => {}
                    cmd = refresh.recv() => if cmd.is_none() { return },
                }
            }
        }
    };
    tracing::info!(server = %target.server, "connected and discovered");
    {
        let fresh = Some(served.capabilities());
        if let Ok(mut caps) = capabilities.lock() {
            if *caps != fresh {
                *caps = fresh;
                let _ = git_refresh.send(GitRefresh::Capabilities);
            }
        }
    }
    let served = Arc::new(served);
    let scopes: HashMap<(String, String), bool> = served
        .scopes()
        .map(|(g, k, n)| ((g.to_string(), k.to_string()), n))
        .collect();
    let _ = engine.send(RecomputeInput::Served(scopes));
    if settings.diff_mode == crate::cli::DiffMode::Server {
        let _ = engine.send(RecomputeInput::Server(super::recompute::ServerSide {
            target: target.clone(),
            served: Arc::clone(&served),
            handle: tokio::runtime::Handle::current(),
            field_manager: settings.field_manager.clone(),
            concurrency: settings.concurrency,
        }));
    }
    let user = live::kubeconfig::context_user(settings.kubeconfig.as_deref(), &target.context)
        .unwrap_or_default();
    let syncer = Syncer::new(
        target.clone(),
        Arc::clone(&served),
        &settings.field_manager,
        read_only,
        settings.drift.clone(),
        &user,
    );
    connected_tx.send_replace(Some(Connected { syncer }));
    let mut watch: Option<live::watch::LiveWatch> = None;
    let mut watched: BTreeSet<(String, String)> = BTreeSet::new();
    let mut listed = false;
    let mut nothing_to_watch = false;
    let mut views_ended = false;
    let mut blind = false;
    // The kinds' states of the last view.
    let mut kinds_now: Vec<live::watch::KindState> = Vec::new();
    loop {
        let wanted = kinds_rx.borrow_and_update().clone();
        if wanted != watched || watch.is_none() {
            views_ended = false;
            let kinds: Vec<_> = wanted
                .iter()
                .filter_map(|(g, k)| served.get(g, k).cloned())
                .collect();
            let namespaces: BTreeSet<String> = desired_rx
                .borrow()
                .as_ref()
                .map(|d| {
                    d.objects
                        .iter()
                        .map(|o| o.key.namespace.clone())
                        .filter(|n| !n.is_empty())
                        .collect()
                })
                .unwrap_or_default();
            tracing::info!(kinds = kinds.len(), "watching");
            nothing_to_watch = kinds.is_empty();
            // Started before Git was read (the kinds of the last run): a kind whose
            // cluster-wide watch is forbidden is watched per namespace of Git once Git is read.
            blind = namespaces.is_empty() && desired_rx.borrow().is_none();
            watch = Some(
                live::watch::start(&target, &kinds, &namespaces, Duration::from_millis(100)).await,
            );
            watched = wanted;
        }
        let Some(w) = watch.as_mut() else { return };
        let views = &mut w.views;
        tokio::select! {
            view = views.recv(), if !views_ended => {
                let Some(view) = view else {
                    // With no kind to watch the views end at once, their one (complete,
                    // empty) view sent: that is kept until Git names kinds, rather than
                    // started again and again.
                    if nothing_to_watch {
                        views_ended = true;
                    } else {
                        watch = None;
                    }
                    continue;
                };
                kinds_now.clone_from(&view.kinds);
                if blind && desired_rx.borrow().is_some() && forbidden_somewhere(&kinds_now) {
                    // Watched before Git was read; now per namespace of Git (whose first
                    // view starts the reader's objects over).
                    watch = None;
                    continue;
                }
                if !listed && view.is_ready() {
                    listed = true;
                    tracing::info!(objects = view.len, "every kind listed once");
                }
                if engine.send(RecomputeInput::View(view)).is_err() {
                    return;
                }
            }
            changed = kinds_rx.changed() => {
                if changed.is_err() {
                    return;
                }
            }
            changed = desired_rx.changed(), if blind => {
                if changed.is_err() {
                    return;
                }
                if forbidden_somewhere(&kinds_now) {
                    watch = None;
                }
            }
            cmd = refresh.recv() => {
                match cmd {
                    // A refresh relists everything.
                    Some(SourceCmd::Refresh) => watch = None,
                    None => return,
                }
            }
        }
    }
}

/// Whether a kind cannot be watched across namespaces (forbidden).
fn forbidden_somewhere(kinds: &[live::watch::KindState]) -> bool {
    kinds
        .iter()
        .any(|k| matches!(k.state, live::watch::ConnectionState::Unreadable { .. }))
}

/// Reads the live file at start and on refresh.
pub async fn file_task(
    path: std::path::PathBuf,
    limit: u64,
    engine: std::sync::mpsc::Sender<RecomputeInput>,
    ui: UnboundedSender<Msg>,
    mut refresh: tokio::sync::mpsc::UnboundedReceiver<SourceCmd>,
) {
    loop {
        let p = path.clone();
        match tokio::task::spawn_blocking(move || live::load_file(&p, limit)).await {
            Ok(Ok(snapshot)) => {
                if engine
                    .send(RecomputeInput::File(snapshot.objects, SystemTime::now()))
                    .is_err()
                {
                    return;
                }
            }
            Ok(Err(e)) => {
                let _ = ui.send(Msg::Notice(format!("live file: {e}")));
            }
            Err(_) => return,
        }
        if refresh.recv().await.is_none() {
            return;
        }
    }
}

/// Carries out one sync effect and answers the UI.
pub async fn run_sync(
    effect: SyncEffect,
    connected: Option<Connected>,
    desired: Option<Arc<DesiredSnapshot>>,
    concurrency: usize,
    ui: UnboundedSender<Msg>,
) {
    let Some(c) = connected else {
        let _ = ui.send(Msg::Sync(SyncMsg::Failed(
            "sync needs a cluster: kdrift is reading a live file, or the cluster is not reachable yet".into(),
        )));
        return;
    };
    let Some(desired) = desired else {
        let _ = ui.send(Msg::Sync(SyncMsg::Failed(
            "Git has not been read yet".into(),
        )));
        return;
    };
    let reply = match effect {
        SyncEffect::Preview(keys) => {
            let items = plan_inputs(&desired, keys);
            SyncMsg::Previewed(
                c.syncer
                    .preview(items, &desired.revision.commit, concurrency)
                    .await,
            )
        }
        SyncEffect::Apply { plan, force } => {
            match c.syncer.apply(&plan, &desired.revision.commit, force).await {
                Ok(outcomes) => SyncMsg::Applied(outcomes),
                Err(SyncError::Moved(what)) => {
                    let keys = plan.items.iter().map(|i| i.key.clone()).collect();
                    let items = plan_inputs(&desired, keys);
                    let plan = c
                        .syncer
                        .preview(items, &desired.revision.commit, concurrency)
                        .await;
                    SyncMsg::Moved { what, plan }
                }
                Err(e) => SyncMsg::Failed(e.to_string()),
            }
        }
        SyncEffect::PrepareDelete(key) => match c.syncer.get(&key).await {
            Ok(Some(l)) => {
                if desired.objects.iter().any(|o| o.key == key) {
                    SyncMsg::Failed(format!(
                        "{} is in Git: kdrift does not prune it",
                        key.short_name()
                    ))
                } else {
                    SyncMsg::DeleteReady {
                        key,
                        version: l.resource_version(),
                    }
                }
            }
            Ok(None) => SyncMsg::Failed(format!("{} no longer exists", key.short_name())),
            Err(e) => SyncMsg::Failed(e),
        },
        SyncEffect::Delete { key, version } => match c.syncer.delete(&key, &version).await {
            Ok(outcome) => SyncMsg::Deleted(outcome),
            Err(e) => SyncMsg::Failed(e.to_string()),
        },
    };
    let _ = ui.send(Msg::Sync(reply));
}

/// Pairs each key with its Git manifest (`None`: not in Git).
pub fn plan_inputs(
    desired: &DesiredSnapshot,
    keys: Vec<crate::model::ResourceKey>,
) -> Vec<(
    crate::model::ResourceKey,
    Option<crate::model::DesiredObject>,
)> {
    keys.into_iter()
        .map(|k| {
            let d = desired.objects.iter().find(|o| o.key == k).cloned();
            (k, d)
        })
        .collect()
}

/// The sources running: the channel their messages arrive on, and the handles the caller
/// needs (refresh, the connection for writes and Events, the desired snapshot).
pub struct Started {
    pub ui_tx: UnboundedSender<Msg>,
    pub ui_rx: tokio::sync::mpsc::UnboundedReceiver<Msg>,
    pub git_refresh_tx: std::sync::mpsc::Sender<GitRefresh>,
    pub live_refresh_tx: UnboundedSender<SourceCmd>,
    pub connected_rx: tokio::sync::watch::Receiver<Option<Connected>>,
    pub desired_rx: tokio::sync::watch::Receiver<Option<Arc<DesiredSnapshot>>>,
    /// The kube context, or `(offline)`.
    pub context: String,
    /// The API server, or the live file.
    pub server: String,
}

/// Where the kinds Git named in the last run on this repository, revision and paths are kept.
fn kinds_cache_file(settings: &Settings) -> std::path::PathBuf {
    use sha2::{Digest, Sha256};
    let repo = settings
        .load
        .repo
        .clone()
        .or_else(|| std::env::current_dir().ok())
        .map(|p| std::fs::canonicalize(&p).unwrap_or(p))
        .unwrap_or_default();
    let mut h = Sha256::new();
    h.update(repo.as_os_str().as_encoded_bytes());
    h.update([0]);
    h.update(settings.load.rev.as_bytes());
    for p in &settings.load.paths {
        h.update([0]);
        h.update(p.as_bytes());
    }
    let name: String = h.finalize()[..12]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    settings
        .load
        .cache_dir
        .join("kinds")
        .join(format!("{name}.json"))
}

/// The kinds of the last run (none when there is no readable cache; at most 1,000).
fn read_kinds_cache(file: &std::path::Path) -> BTreeSet<(String, String)> {
    let small = std::fs::metadata(file).is_ok_and(|m| m.len() < 1 << 20);
    let kinds: Vec<(String, String)> = small
        .then(|| std::fs::read(file).ok())
        .flatten()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or_default();
    kinds.into_iter().take(1000).collect()
}

/// Keeps the kinds Git names for the next run (best effort).
pub fn write_kinds_cache(file: &std::path::Path, kinds: &BTreeSet<(String, String)>) {
    if let Ok(bytes) = serde_json::to_vec(kinds) {
        crate::cachefile::write(file, &bytes);
    }
}

/// Starts what the explorer and `kdrift watch` run on: the recompute thread, the Git
/// watcher, and the cluster task (or the live file's). Their reports, connection news and
/// Git problems arrive as messages on `ui_rx`.
pub fn start(settings: &Settings, read_only: bool) -> Started {
    let (ui_tx, ui_rx) = tokio::sync::mpsc::unbounded_channel::<Msg>();
    let (engine_tx, engine_rx) = std::sync::mpsc::channel::<RecomputeInput>();
    let (desired_tx, desired_rx) =
        tokio::sync::watch::channel::<Option<Arc<DesiredSnapshot>>>(None);
    // The kinds Git named in the last run on this repository start the watches before Git
    // is read (the set Git names then replaces them, restarting the watches only if it
    // differs; rows of a kind not yet listed wait, `recompute` sees to it).
    let kinds_cache = settings
        .live_file
        .is_none()
        .then(|| kinds_cache_file(settings));
    let (kinds_tx, kinds_rx) = tokio::sync::watch::channel::<BTreeSet<(String, String)>>(
        kinds_cache
            .as_deref()
            .map(read_kinds_cache)
            .unwrap_or_default(),
    );
    let (connected_tx, connected_rx) = tokio::sync::watch::channel::<Option<Connected>>(None);
    let (git_refresh_tx, git_refresh_rx) = std::sync::mpsc::channel::<GitRefresh>();
    let (live_refresh_tx, live_refresh_rx) = tokio::sync::mpsc::unbounded_channel::<SourceCmd>();
    let outputs = super::recompute::RecomputeOutputs {
        ui: ui_tx.clone(),
        desired: desired_tx,
        kinds: kinds_tx,
        kinds_cache,
    };
    let drift_opts = settings.drift.clone();
    let default_ns = settings.load.default_namespace.clone();
    let partial = settings.partial_reports;
    std::thread::spawn(move || {
        super::recompute::run(engine_rx, outputs, drift_opts, default_ns, partial)
    });
    // Charts first render with this cluster's capabilities as the last run discovered them.
    let capabilities: SharedCapabilities = Arc::new(std::sync::Mutex::new(
        settings
            .live_file
            .is_none()
            .then(|| super::context_server(settings))
            .flatten()
            .and_then(|server| cluster::cached_discovery(&settings.load.cache_dir, &server))
            .map(|served| served.capabilities()),
    ));
    spawn_git_watcher(
        settings,
        engine_tx.clone(),
        ui_tx.clone(),
        git_refresh_rx,
        Arc::clone(&capabilities),
    );
    let (context, server) = match &settings.live_file {
        Some(path) => {
            tokio::spawn(file_task(
                path.clone(),
                settings.live_file_limit,
                engine_tx.clone(),
                ui_tx.clone(),
                live_refresh_rx,
            ));
            ("(offline)".to_string(), path.display().to_string())
        }
        None => {
            tokio::spawn(cluster_task(
                settings.clone(),
                ClusterIo {
                    engine: engine_tx.clone(),
                    ui: ui_tx.clone(),
                    kinds_rx,
                    desired_rx: desired_rx.clone(),
                    connected_tx,
                    refresh: live_refresh_rx,
                    capabilities,
                    git_refresh: git_refresh_tx.clone(),
                },
                read_only,
            ));
            let server = super::context_server(settings).unwrap_or_else(|| "(no server)".into());
            (
                settings
                    .context
                    .clone()
                    .unwrap_or_else(|| "(no context)".into()),
                server,
            )
        }
    };
    Started {
        ui_tx,
        ui_rx,
        git_refresh_tx,
        live_refresh_tx,
        connected_rx,
        desired_rx,
        context,
        server,
    }
}
