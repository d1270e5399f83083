//! The explorer's event loop, and only the loop: it takes the terminal (`terminal`), starts
//! the sources (`sources`: Git watcher, cluster task, sync worker) and the recompute thread
//! (`engine`), turns terminal events into messages, folds each message into the state
//! (`app::fold`), runs the effects, and redraws at most 30 times a second, only when something
//! changed. It never waits on a source: they send messages.

use super::log::init_logging;
use super::recompute::{self, RecomputeInput, RecomputeOutputs};
use super::sources::{cluster_task, file_task, spawn_git_watcher, ClusterIo, Connected, SourceCmd};
use super::Settings;
use crate::app::tree::Filter;
use crate::app::{self, AppState, Effect, Header, LiveState, Look, MouseMsg, Msg};
use crate::desired::DesiredSnapshot;
use crate::keymap::{Key, KeyMap};
use crate::live::{self};
use anyhow::{Context, Result};
use crossterm::event::{Event, EventStream, KeyCode, KeyEventKind, KeyModifiers, MouseEventKind};
use futures::StreamExt;
use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};
use tokio::sync::mpsc::UnboundedSender;

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
    let (engine_tx, engine_rx) = std::sync::mpsc::channel::<RecomputeInput>();
    let (desired_tx, desired_rx) =
        tokio::sync::watch::channel::<Option<Arc<DesiredSnapshot>>>(None);
    let (kinds_tx, kinds_rx) =
        tokio::sync::watch::channel::<BTreeSet<(String, String)>>(BTreeSet::new());
    let (connected_tx, connected_rx) = tokio::sync::watch::channel::<Option<Connected>>(None);
    let (git_refresh_tx, git_refresh_rx) = std::sync::mpsc::channel::<()>();
    let (live_refresh_tx, live_refresh_rx) = tokio::sync::mpsc::unbounded_channel::<SourceCmd>();

    let outputs = RecomputeOutputs {
        ui: ui_tx.clone(),
        desired: desired_tx,
        kinds: kinds_tx,
    };
    let drift_opts = settings.drift.clone();
    let default_ns = settings.load.default_namespace.clone();
    std::thread::spawn(move || recompute::run(engine_rx, outputs, drift_opts, default_ns));
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

    #[cfg(unix)]
    let mut signals = super::terminal::ending_signals();
    let (_guard, mut terminal) = super::terminal::take()?;
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
                    tokio::spawn(super::sources::run_sync(
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
