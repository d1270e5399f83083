//! The explorer's event loop, and only the loop: it takes the terminal (`terminal`), starts
//! the sources (`sources`: Git watcher, cluster task, sync worker) and the recompute thread
//! (`engine`), turns terminal events into messages, folds each message into the state
//! (`app::fold`), runs the effects, and redraws at most 30 times a second, only when something
//! changed. It never waits on a source: they send messages.

use super::log::init_logging;
use super::sources::SourceCmd;
use super::Settings;
use crate::app::tree::Filter;
use crate::app::{self, AppState, Effect, Header, LiveState, Look, MouseMsg, Msg};
use crate::keymap::{Key, KeyMap};
use crate::live::{self};
use anyhow::{Context, Result};
use crossterm::event::{Event, EventStream, KeyCode, KeyEventKind, KeyModifiers, MouseEventKind};
use futures::StreamExt;
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
    /// Resources marked at the start (the fleet matrix's marks for this target).
    pub marks: std::collections::BTreeSet<crate::model::ResourceKey>,
    /// Open the sync preview of the marks as soon as the first complete report is in.
    pub sync_on_load: bool,
}

pub(crate) fn key_of(code: KeyCode, mods: KeyModifiers) -> Option<Key> {
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

/// How an explorer run ended.
#[derive(Debug, Clone, PartialEq)]
pub enum Ending {
    /// Quit with this exit status.
    Exit(u8),
    /// `:ctx NAME`: run again on that context.
    Context(String),
    /// `:rev REV`: run again on that revision.
    Revision(String),
}

/// Runs the explorer once (until the user quits or switches context or revision); returns
/// how it ended and its state, which the next run carries on from (view, log, filters).
pub fn run(
    settings: &Settings,
    opts: ExplorerOptions,
    carried: Option<AppState>,
) -> Result<(Ending, AppState)> {
    if settings.diff_mode == crate::cli::DiffMode::Server && settings.live_file.is_some() {
        anyhow::bail!("--diff-mode server needs a cluster; it is not available with --live-file");
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    let ended = rt.block_on(explore_from(settings, opts, None, carried, true))?;
    // The sources (cluster task, watches) end with the runtime; the Git and recompute
    // threads end when their channels close.
    rt.shutdown_background();
    Ok(ended)
}

/// The explorer on the current runtime. `extra` receives the UI's sender, for callers that
/// add sources of their own (the demo's actors).
pub async fn explore(
    settings: &Settings,
    opts: ExplorerOptions,
    extra: Option<Box<dyn FnOnce(UnboundedSender<Msg>) + Send>>,
) -> Result<u8> {
    let (ending, _) = explore_from(settings, opts, extra, None, false).await?;
    Ok(match ending {
        Ending::Exit(code) => code,
        Ending::Context(_) | Ending::Revision(_) => super::EXIT_CLEAN,
    })
}

/// The explorer, starting from a carried state when there is one; `can_switch` says whether
/// `:ctx` and `:rev` may end the run to start another.
async fn explore_from(
    settings: &Settings,
    opts: ExplorerOptions,
    extra: Option<Box<dyn FnOnce(UnboundedSender<Msg>) + Send>>,
    carried: Option<AppState>,
    can_switch: bool,
) -> Result<(Ending, AppState)> {
    let log = init_logging();
    tracing::info!(context = ?settings.context, "explorer starting");
    // The explorer will own the terminal: credential plugins may not write to it.
    live::exec::terminal_owned();
    let super::sources::Started {
        ui_tx,
        mut ui_rx,
        git_refresh_tx,
        live_refresh_tx,
        connected_rx,
        desired_rx,
        context,
        server,
    } = super::sources::start(settings, opts.read_only);
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
    let header = Header {
        context,
        server,
        repo,
        revision: Default::default(),
        server_mode: settings.diff_mode == crate::cli::DiffMode::Server,
    };
    let fresh = carried.is_none();
    let mut state = match carried {
        Some(mut s) => {
            s.restart(header);
            s
        }
        None => AppState::new(opts.keymap.clone(), opts.look, header, SystemTime::now()),
    };
    state.can_switch = can_switch;
    if can_switch && settings.live_file.is_none() {
        state.contexts = live::kubeconfig::context_names(settings.kubeconfig.as_deref());
    }
    state.read_only = opts.read_only;
    state.sync.protected = opts.protected;
    if fresh {
        // A run after `:ctx` or `:rev` keeps the view the user had.
        state.filter = opts.filter;
        state.first_run_hint = opts.first_run_hint.clone();
        state.marks = opts.marks.clone();
        state.sync_on_load = opts.sync_on_load && !opts.marks.is_empty();
    }
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

    let mut signals = super::terminal::ending_signals();
    let (_guard, mut terminal) = super::terminal::take(state.mouse)?;
    let size = terminal.size()?;
    app::update(&mut state, Msg::Resize(size.width, size.height));
    // The demo's cluster is thrown away: it keeps no history.
    let history_tx = can_switch.then(|| {
        spawn_history(
            super::watch_cmd::history_context(&state.header.context, &state.header.server),
            ui_tx.clone(),
        )
    });
    let work_tree = settings
        .load
        .repo
        .clone()
        .unwrap_or_else(|| std::env::current_dir().unwrap_or_default());
    let mut events_task: Option<tokio::task::JoinHandle<()>> = None;

    let mut input = EventStream::new();
    let mut dirty = true;
    // Whether the memory the first complete screen's build freed went back (see
    // `release_memory`).
    let mut released = false;
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
        let mut second = false;
        let msg = tokio::select! {
            ev = input.next() => match ev {
                Some(Ok(e)) => msg_of(e),
                Some(Err(e)) => return Err(anyhow::anyhow!("reading the terminal: {e}")),
                None => return Ok((Ending::Exit(super::EXIT_CLEAN), state)),
            },
            m = ui_rx.recv() => m,
            _ = tokio::time::sleep_until(wake.into()) => {
                if Instant::now() >= next_tick {
                    next_tick = Instant::now() + Duration::from_secs(1);
                    second = true;
                }
                Some(Msg::Tick(SystemTime::now()))
            }
            n = super::terminal::next_signal(&mut signals) => {
                tracing::info!(signal = n, "terminated by a signal");
                return Ok((Ending::Exit(128 + n), state));
            }
        };
        let Some(msg) = msg else { continue };
        if let (Msg::Report(update), Some(tx)) = (&msg, &history_tx) {
            // What changed goes to the history thread, which keeps its own copy of the
            // report: reading every entry is not the UI thread's work.
            let _ = tx.send((update.body.clone(), update.live.is_complete()));
        }
        let report = matches!(msg, Msg::Report(_));
        let first_complete = !released && matches!(&msg, Msg::Report(u) if u.live.is_complete());
        let t = Instant::now();
        let folded = app::fold(&mut state, msg, SystemTime::now(), second);
        if first_complete {
            released = true;
            super::release_memory();
        }
        if report && t.elapsed() >= Duration::from_millis(50) {
            tracing::info!(
                ms = t.elapsed().as_millis() as u64,
                "a report took the UI thread long"
            );
        }
        dirty |= folded.redraw;
        for effect in folded.effects {
            match effect {
                Effect::Quit => {
                    if let Some(t) = events_task.take() {
                        t.abort();
                    }
                    return Ok((Ending::Exit(super::EXIT_CLEAN), state));
                }
                Effect::SwitchContext(c) => return Ok((Ending::Context(c), state)),
                Effect::SwitchRevision(r) => return Ok((Ending::Revision(r), state)),
                Effect::Refresh => {
                    let _ = git_refresh_tx.send(super::sources::GitRefresh::User);
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
                Effect::Copy(text) => {
                    use std::io::Write;
                    let mut out = std::io::stdout();
                    let _ = out.write_all(super::external::osc52(&text).as_bytes());
                    let _ = out.flush();
                }
                Effect::Mouse(on) => super::terminal::mouse(on),
                Effect::Ring(how, text) => {
                    use std::io::Write;
                    let text = crate::text::visible_line(&text)
                        .chars()
                        .filter(|c| *c != ';')
                        .take(200)
                        .collect::<String>();
                    let mut out = std::io::stdout();
                    let _ = out.write_all(super::external::ring(how, &text).as_bytes());
                    let _ = out.flush();
                }
                Effect::WatchEvents(key) => {
                    if let Some(t) = events_task.take() {
                        t.abort();
                    }
                    if let Some(k) = key {
                        if settings.live_file.is_some() {
                            app::update(
                                &mut state,
                                Msg::Events(k, Err("no cluster: the live side is a file".into())),
                            );
                        } else {
                            events_task = Some(tokio::spawn(super::sources::events_task(
                                k,
                                connected_rx.clone(),
                                ui_tx.clone(),
                            )));
                        }
                    }
                }
                Effect::Edit { file, line } => {
                    let commit = state.header.revision.commit.clone();
                    let differs = !commit.is_empty()
                        && super::external::differs_from(&work_tree, &commit, &file);
                    // The terminal goes to the editor; the input reader stops so that it does
                    // not take the editor's keys.
                    drop(input);
                    super::terminal::suspend();
                    let result = super::external::edit(&work_tree, &file, line);
                    super::terminal::resume(&mut terminal, state.mouse)?;
                    input = EventStream::new();
                    let now = SystemTime::now();
                    app::fold(&mut state, Msg::Tick(now), now, true);
                    match result {
                        Err(e) => state.announce(format!("{e:#}")),
                        Ok(()) if differs => state.announce(format!(
                            "note: {file} in the working tree differs from {} (the revision shown): you edited the working tree",
                            state.header.revision.short
                        )),
                        Ok(()) => state.log(format!("edited {file}")),
                    }
                    dirty = true;
                }
                Effect::Page { title, text } => {
                    drop(input);
                    super::terminal::suspend();
                    let result = super::external::page(&text);
                    super::terminal::resume(&mut terminal, state.mouse)?;
                    input = EventStream::new();
                    if let Err(e) = result {
                        state.announce(format!("{title}: {e:#}"));
                    }
                    dirty = true;
                }
            }
        }
    }
}

/// The drift history's writer, on its own thread: records the latest sightings (older ones
/// waiting in the channel are skipped) and answers with the open episodes. Without a
/// history (it cannot be opened) the explorer works as before, and the log says why.
fn spawn_history(
    context: String,
    ui: UnboundedSender<Msg>,
) -> std::sync::mpsc::Sender<(app::ReportBody, bool)> {
    let (tx, rx) = std::sync::mpsc::channel::<(app::ReportBody, bool)>();
    std::thread::spawn(move || {
        let now = || {
            SystemTime::now()
                .duration_since(SystemTime::UNIX_EPOCH)
                .unwrap_or_default()
                .as_secs() as i64
        };
        let path = crate::history::default_path();
        let mut history = match crate::history::History::open(&path, &context, now()) {
            Ok(h) => h,
            Err(e) => {
                let _ = ui.send(Msg::Notice(format!("no drift history: {e}")));
                return;
            }
        };
        let mut report = crate::drift::DriftReport::default();
        while let Ok((body, mut complete)) = rx.recv() {
            body.apply(&mut report);
            while let Ok((body, now_complete)) = rx.try_recv() {
                body.apply(&mut report);
                complete = now_complete;
            }
            if !complete {
                continue;
            }
            let sightings = crate::history::Sightings::of(&report);
            match history.record(&sightings, now()) {
                Ok(true) => {}
                // Nothing changed: the UI knows the open episodes already.
                Ok(false) => continue,
                Err(e) => {
                    tracing::warn!(error = %e, "history not recorded");
                    continue;
                }
            }
            if let Ok(open) = history.open_episodes() {
                let since = open.into_iter().map(|(k, (s, _))| (k, s)).collect();
                if ui.send(Msg::HistorySince(since)).is_err() {
                    return;
                }
            }
        }
    });
    tx
}
