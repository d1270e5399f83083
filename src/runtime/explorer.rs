//! The explorer's event loop and its sources: the terminal (raw mode, alternate screen,
//! mouse; restored on quit, error, panic, SIGTERM and SIGHUP), the Git watcher thread (HEAD
//! polled twice a second), the cluster task (connect, discover, watch; or a live file), the
//! engine thread, and the sync worker. The UI loop never waits on any of them: they send
//! messages, and it redraws at most 30 times a second, only when something changed.

use super::engine::{self, EngineInput, EngineOutputs};
use super::Settings;
use crate::app::sync::{SyncEffect, SyncMsg};
use crate::app::tree::Filter;
use crate::app::{self, AppState, Effect, Header, LiveState, Look, MouseMsg, Msg};
use crate::desired::{self, DesiredSnapshot};
use crate::keymap::{Key, KeyMap};
use crate::live::{self, cluster};
use crate::sync::{SyncError, Syncer};
use anyhow::{Context, Result};
use crossterm::event::{Event, EventStream, KeyCode, KeyEventKind, KeyModifiers, MouseEventKind};
use futures::StreamExt;
use ratatui::backend::CrosstermBackend;
use ratatui::Terminal;
use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};
use tokio::sync::mpsc::UnboundedSender;

/// How often Git's HEAD is looked at.
const GIT_POLL: Duration = Duration::from_millis(500);
/// The shortest time between two frames.
const FRAME: Duration = Duration::from_millis(33);

/// How the explorer starts.
#[derive(Debug, Clone)]
pub struct ExplorerOptions {
    pub filter: Filter,
    pub look: Look,
    pub read_only: bool,
    pub protected: bool,
    pub keymap: KeyMap,
    pub first_run_hint: Option<String>,
    pub protect_note: Option<String>,
}

/// Restores the terminal when dropped (quit, error, unwinding panic).
struct TerminalGuard;

impl Drop for TerminalGuard {
    fn drop(&mut self) {
        restore_terminal();
    }
}

fn restore_terminal() {
    let _ = crossterm::terminal::disable_raw_mode();
    let _ = crossterm::execute!(
        std::io::stdout(),
        crossterm::event::DisableMouseCapture,
        crossterm::terminal::LeaveAlternateScreen,
        crossterm::cursor::Show
    );
}

/// Where the log file is: the platform state dir (else cache dir), `kdrift.log`.
pub fn log_path() -> std::path::PathBuf {
    directories::ProjectDirs::from("", "", "kdrift")
        .map(|d| d.state_dir().unwrap_or(d.cache_dir()).to_path_buf())
        .unwrap_or_else(std::env::temp_dir)
        .join("kdrift.log")
}

/// The log file's size at which it is rotated to `kdrift.log.1` (one old file is kept).
const LOG_MAX_BYTES: u64 = 8 * 1024 * 1024;
/// The longest log record kept; the rest is cut.
const LOG_MAX_RECORD: usize = 4096;

/// The log file: private (0600), rotated at `LOG_MAX_BYTES`, each record cut at
/// `LOG_MAX_RECORD` with control characters made visible, and kube-rs's client records left
/// out (on a response it cannot decode it logs the whole body, every Secret in it included).
struct LogFile {
    path: std::path::PathBuf,
    file: std::fs::File,
    size: u64,
}

impl LogFile {
    fn open(path: &std::path::Path) -> std::io::Result<LogFile> {
        let mut options = std::fs::OpenOptions::new();
        options.create(true).append(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(0o600);
        }
        let file = options.open(path)?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            file.set_permissions(std::fs::Permissions::from_mode(0o600))?;
        }
        let size = file.metadata().map(|m| m.len()).unwrap_or(0);
        Ok(LogFile {
            path: path.to_path_buf(),
            file,
            size,
        })
    }

    fn rotate(&mut self) -> std::io::Result<()> {
        let old = self.path.with_extension("log.1");
        std::fs::rename(&self.path, &old)?;
        *self = LogFile::open(&self.path)?;
        Ok(())
    }
}

impl std::io::Write for LogFile {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        // The formatter writes one record per call.
        let record = String::from_utf8_lossy(buf);
        if record.contains(" kube_client::client:") {
            return Ok(buf.len());
        }
        let trimmed = record.trim_end_matches('\n');
        let safe = crate::text::visible_line(trimmed);
        let line = format!("{}\n", crate::text::bounded(&safe, LOG_MAX_RECORD));
        if self.size + line.len() as u64 > LOG_MAX_BYTES {
            let _ = self.rotate();
        }
        self.file.write_all(line.as_bytes())?;
        self.size += line.len() as u64;
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.file.flush()
    }
}

/// Sends logs to the log file, never to the terminal.
pub fn init_logging() -> Option<std::path::PathBuf> {
    let path = log_path();
    if let Some(dir) = path.parent() {
        let _ = std::fs::create_dir_all(dir);
    }
    let file = LogFile::open(&path).ok()?;
    let _ = tracing_subscriber::fmt()
        .with_writer(std::sync::Mutex::new(file))
        .with_ansi(false)
        .with_max_level(tracing::Level::INFO)
        .try_init();
    Some(path)
}

fn key_of(code: KeyCode, mods: KeyModifiers) -> Option<Key> {
    Some(match code {
        KeyCode::Char(c) if mods.contains(KeyModifiers::CONTROL) => {
            Key::Ctrl(c.to_ascii_lowercase())
        }
        KeyCode::Char(c) => Key::Char(c),
        KeyCode::Up => Key::Up,
        KeyCode::Down => Key::Down,
        KeyCode::Left => Key::Left,
        KeyCode::Right => Key::Right,
        KeyCode::Enter => Key::Enter,
        KeyCode::Esc => Key::Esc,
        KeyCode::Tab => Key::Tab,
        KeyCode::BackTab => Key::BackTab,
        KeyCode::Backspace => Key::Backspace,
        KeyCode::PageUp => Key::PageUp,
        KeyCode::PageDown => Key::PageDown,
        KeyCode::Home => Key::Home,
        KeyCode::End => Key::End,
        KeyCode::Delete => Key::Delete,
        _ => return None,
    })
}

fn msg_of(event: Event) -> Option<Msg> {
    match event {
        Event::Key(k) if k.kind != KeyEventKind::Release => {
            key_of(k.code, k.modifiers).map(Msg::Key)
        }
        Event::Mouse(m) => match m.kind {
            MouseEventKind::ScrollUp => Some(Msg::Mouse(MouseMsg::ScrollUp)),
            MouseEventKind::ScrollDown => Some(Msg::Mouse(MouseMsg::ScrollDown)),
            MouseEventKind::Down(_) => Some(Msg::Mouse(MouseMsg::Click {
                column: m.column,
                row: m.row,
            })),
            _ => None,
        },
        Event::Resize(w, h) => Some(Msg::Resize(w, h)),
        _ => None,
    }
}

/// Commands the sources accept from the UI.
#[derive(Debug, Clone, Copy)]
enum SourceCmd {
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

/// Reads Git at start, then whenever HEAD (or the branch asked for) moves, and on refresh.
fn spawn_git_watcher(
    settings: &Settings,
    engine: std::sync::mpsc::Sender<EngineInput>,
    ui: UnboundedSender<Msg>,
    refresh: std::sync::mpsc::Receiver<()>,
) {
    let load = settings.load.clone();
    std::thread::spawn(move || {
        let mut current: Option<String> = None;
        let mut repo: Option<desired::git::GitRepo> = None;
        let mut last_error: Option<String> = None;
        let mut cache = desired::ParseCache::default();
        loop {
            let forced = match refresh.recv_timeout(GIT_POLL) {
                Ok(()) => true,
                Err(std::sync::mpsc::RecvTimeoutError::Timeout) => false,
                Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => return,
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
            if !forced && current.as_deref() == Some(&commit) {
                continue;
            }
            match desired::load_cached(&load, &mut cache) {
                Ok(snapshot) => {
                    if last_error.take().is_some() {
                        let _ = ui.send(Msg::GitProblem(None));
                    }
                    current = Some(snapshot.revision.commit.clone());
                    tracing::info!(
                        commit = %snapshot.revision.commit,
                        objects = snapshot.objects.len(),
                        parsed_blobs = cache.last_parsed,
                        read_ms = snapshot.timings.read_git.as_millis() as u64,
                        parse_ms = snapshot.timings.parse.as_millis() as u64,
                        "read Git"
                    );
                    if engine
                        .send(EngineInput::Desired(Box::new(snapshot)))
                        .is_err()
                    {
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

/// What the cluster task shares with the sync worker once connected.
#[derive(Clone)]
struct Connected {
    syncer: Syncer,
}

/// Connects (retrying while unreachable), discovers, and keeps watches on the kinds Git uses.
/// The channels of the cluster task.
struct ClusterIo {
    engine: std::sync::mpsc::Sender<EngineInput>,
    ui: UnboundedSender<Msg>,
    kinds_rx: tokio::sync::watch::Receiver<BTreeSet<(String, String)>>,
    desired_rx: tokio::sync::watch::Receiver<Option<Arc<DesiredSnapshot>>>,
    connected_tx: tokio::sync::watch::Sender<Option<Connected>>,
    refresh: tokio::sync::mpsc::UnboundedReceiver<SourceCmd>,
}

async fn cluster_task(settings: Settings, io: ClusterIo, read_only: bool) {
    let ClusterIo {
        engine,
        ui,
        mut kinds_rx,
        desired_rx,
        connected_tx,
        mut refresh,
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
                let _ = engine.send(EngineInput::Unreachable(why.clone()));
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
    let served = Arc::new(served);
    let scopes: HashMap<(String, String), bool> = served
        .scopes()
        .map(|(g, k, n)| ((g.to_string(), k.to_string()), n))
        .collect();
    let _ = engine.send(EngineInput::Served(scopes));
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
    loop {
        let wanted = kinds_rx.borrow_and_update().clone();
        if wanted != watched || watch.is_none() {
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
            watch = Some(
                live::watch::start(&target, &kinds, &namespaces, Duration::from_millis(100)).await,
            );
            watched = wanted;
        }
        let Some(w) = watch.as_mut() else { return };
        let views = &mut w.views;
        tokio::select! {
            changed = views.changed() => {
                if changed.is_err() {
                    watch = None;
                    continue;
                }
                let view = views.borrow_and_update().clone();
                if engine.send(EngineInput::View(view)).is_err() {
                    return;
                }
            }
            changed = kinds_rx.changed() => {
                if changed.is_err() {
                    return;
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

/// Reads the live file at start and on refresh.
async fn file_task(
    path: std::path::PathBuf,
    limit: u64,
    engine: std::sync::mpsc::Sender<EngineInput>,
    ui: UnboundedSender<Msg>,
    mut refresh: tokio::sync::mpsc::UnboundedReceiver<SourceCmd>,
) {
    loop {
        let p = path.clone();
        match tokio::task::spawn_blocking(move || live::file::load_limited(&p, limit)).await {
            Ok(Ok(snapshot)) => {
                if engine
                    .send(EngineInput::File(snapshot.objects, SystemTime::now()))
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
async fn sync_effect(
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
                        version: crate::model::meta_str(&l.object, "resourceVersion").to_string(),
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

/// Runs the explorer until the user quits; returns the exit status.
pub fn run(settings: &Settings, opts: ExplorerOptions) -> Result<u8> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    let code = rt.block_on(explore(settings, opts, None))?;
    rt.shutdown_background();
    Ok(code)
}

/// The explorer on the current runtime. `extra` receives the UI's sender, for callers that
/// add sources of their own (the demo's actors).
pub async fn explore(
    settings: &Settings,
    opts: ExplorerOptions,
    extra: Option<Box<dyn FnOnce(UnboundedSender<Msg>) + Send>>,
) -> Result<u8> {
    let log = init_logging();
    // The explorer will own the terminal: credential plugins may not write to it.
    live::exec::terminal_owned();
    let (ui_tx, mut ui_rx) = tokio::sync::mpsc::unbounded_channel::<Msg>();
    let (engine_tx, engine_rx) = std::sync::mpsc::channel::<EngineInput>();
    let (desired_tx, desired_rx) =
        tokio::sync::watch::channel::<Option<Arc<DesiredSnapshot>>>(None);
    let (kinds_tx, kinds_rx) =
        tokio::sync::watch::channel::<BTreeSet<(String, String)>>(BTreeSet::new());
    let (connected_tx, connected_rx) = tokio::sync::watch::channel::<Option<Connected>>(None);
    let (git_refresh_tx, git_refresh_rx) = std::sync::mpsc::channel::<()>();
    let (live_refresh_tx, live_refresh_rx) = tokio::sync::mpsc::unbounded_channel::<SourceCmd>();

    let outputs = EngineOutputs {
        ui: ui_tx.clone(),
        desired: desired_tx,
        kinds: kinds_tx,
    };
    let drift_opts = settings.drift.clone();
    let default_ns = settings.load.default_namespace.clone();
    std::thread::spawn(move || engine::run(engine_rx, outputs, drift_opts, default_ns));
    spawn_git_watcher(settings, engine_tx.clone(), ui_tx.clone(), git_refresh_rx);

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
                },
                opts.read_only,
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
    if let Some(f) = extra {
        f(ui_tx.clone());
    }

    let repo = settings
        .load
        .repo
        .clone()
        .unwrap_or_else(|| std::env::current_dir().unwrap_or_default())
        .display()
        .to_string();
    let mut state = AppState::new(
        opts.keymap.clone(),
        opts.look,
        Header {
            context,
            server,
            repo,
            revision: Default::default(),
        },
        SystemTime::now(),
    );
    state.read_only = opts.read_only;
    state.sync.protected = opts.protected;
    state.filter = opts.filter;
    state.first_run_hint = opts.first_run_hint.clone();
    if settings.live_file.is_some() {
        state.live = LiveState::File {
            read_at: SystemTime::now(),
        };
    }
    if let Some(p) = &log {
        state.log(format!("log file: {}", p.display()));
    }
    if let Some(n) = &opts.protect_note {
        state.log(n.clone());
    }

    // Every catchable signal whose default would end the process ends the explorer instead,
    // with the terminal restored (by the guard) and the status a shell expects (128 + n).
    #[cfg(unix)]
    let mut signals: Vec<(u8, tokio::signal::unix::Signal)> = [1, 2, 3, 10, 12, 14, 15]
        .into_iter()
        .filter_map(|n| {
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::from_raw(n))
                .ok()
                .map(|s| (n as u8, s))
        })
        .collect();
    // The terminal, restored whatever happens.
    crossterm::terminal::enable_raw_mode().context("the terminal does not support raw mode")?;
    let _guard = TerminalGuard;
    // A panic on the UI's thread restores the terminal and then reports as usual; one on
    // another thread (a source, the engine) goes to the log file, not over the screen.
    let ui_thread = std::thread::current().id();
    let previous_hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        if std::thread::current().id() == ui_thread {
            restore_terminal();
            previous_hook(info);
        } else {
            tracing::error!("panic on a background thread: {info}");
        }
    }));
    crossterm::execute!(
        std::io::stdout(),
        crossterm::terminal::EnterAlternateScreen,
        crossterm::event::EnableMouseCapture
    )?;
    let mut terminal = Terminal::new(CrosstermBackend::new(std::io::stdout()))?;
    terminal.clear()?;
    let size = terminal.size()?;
    app::update(&mut state, Msg::Resize(size.width, size.height));

    let mut events = EventStream::new();
    let mut dirty = true;
    let mut last_draw = Instant::now() - FRAME;
    let mut next_tick = Instant::now() + Duration::from_secs(1);
    loop {
        if dirty && last_draw.elapsed() >= FRAME {
            terminal.draw(|f| crate::ui::draw(f, &state))?;
            last_draw = Instant::now();
            dirty = false;
        }
        let draw_at = if dirty { last_draw + FRAME } else { next_tick };
        let pending_at = state
            .pending_deadline()
            .and_then(|d| d.duration_since(SystemTime::now()).ok())
            .map(|d| Instant::now() + d);
        let wake = [Some(draw_at), Some(next_tick), pending_at]
            .into_iter()
            .flatten()
            .min()
            .unwrap_or(next_tick);
        #[cfg(unix)]
        let signalled = futures::future::select_all(
            signals
                .iter_mut()
                .map(|(n, s)| Box::pin(async move { s.recv().await.map(|_| *n) })),
        );
        #[cfg(not(unix))]
        let signalled = std::future::pending::<(Option<u8>, usize, ())>();
        let mut second = false;
        let msg = tokio::select! {
            ev = events.next() => match ev {
                Some(Ok(e)) => msg_of(e),
                Some(Err(e)) => return Err(anyhow::anyhow!("reading the terminal: {e}")),
                None => return Ok(super::EXIT_CLEAN),
            },
            m = ui_rx.recv() => m,
            _ = tokio::time::sleep_until(wake.into()) => {
                if Instant::now() >= next_tick {
                    next_tick = Instant::now() + Duration::from_secs(1);
                    second = true;
                }
                Some(Msg::Tick(SystemTime::now()))
            }
            (n, _, _) = signalled => {
                let n = n.unwrap_or(15);
                tracing::info!(signal = n, "terminated by a signal");
                return Ok(128 + n);
            }
        };
        let Some(msg) = msg else { continue };
        let folded = app::fold(&mut state, msg, SystemTime::now(), second);
        dirty |= folded.redraw;
        for effect in folded.effects {
            match effect {
                Effect::Quit => return Ok(super::EXIT_CLEAN),
                Effect::Refresh => {
                    let _ = git_refresh_tx.send(());
                    let _ = live_refresh_tx.send(SourceCmd::Refresh);
                }
                Effect::Sync(e) => {
                    let connected = connected_rx.borrow().clone();
                    let desired = desired_rx.borrow().clone();
                    tokio::spawn(sync_effect(
                        e,
                        connected,
                        desired,
                        settings.concurrency,
                        ui_tx.clone(),
                    ));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::LogFile;
    use std::io::Write;

    #[test]
    fn the_log_is_private_bounded_and_holds_no_response_bodies() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("kdrift.log");
        let mut log = LogFile::open(&path).unwrap();
        log.write_all(b"2026 WARN kube_client::client: {\"items\":[{\"data\":{\"password\":\"aHVudGVyMg==\"}}]}, Error\n")
            .unwrap();
        log.write_all(b"2026 INFO kdrift: a value \x1b[2K with an escape\n")
            .unwrap();
        log.write_all(format!("2026 INFO kdrift: {}\n", "x".repeat(10_000)).as_bytes())
            .unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(!text.contains("aHVudGVyMg"), "{text}");
        assert!(text.contains("\\x1b[2K"), "{text}");
        assert!(text.lines().all(|l| l.len() < 4200), "records are cut");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600);
        }
        // Past the cap it rotates, keeping one old file.
        let record = format!("2026 INFO kdrift: {}\n", "y".repeat(3000));
        for _ in 0..3000 {
            log.write_all(record.as_bytes()).unwrap();
        }
        assert!(path.with_extension("log.1").exists());
        assert!(std::fs::metadata(&path).unwrap().len() <= super::LOG_MAX_BYTES);
    }
}
