//! The terminal while the explorer owns it: raw mode, the alternate screen and the mouse,
//! taken at start and restored whatever happens (quit, error, a panic on the UI's thread, a
//! signal); and the signals whose default would end the process, so that the explorer ends
//! instead, with the terminal restored and the status a shell expects (128 + n).

use anyhow::{Context, Result};
use ratatui::backend::CrosstermBackend;
use ratatui::Terminal;
use std::io::Stdout;

/// Restores the terminal when dropped (quit, error, unwinding panic).
pub struct TerminalGuard;

impl Drop for TerminalGuard {
    fn drop(&mut self) {
        restore();
    }
}

/// Leaves raw mode, the alternate screen and mouse capture, and shows the cursor.
pub fn restore() {
    let _ = crossterm::terminal::disable_raw_mode();
    let _ = crossterm::execute!(
        std::io::stdout(),
        crossterm::event::DisableMouseCapture,
        crossterm::terminal::LeaveAlternateScreen,
        crossterm::cursor::Show
    );
}

/// Takes the terminal: raw mode, the alternate screen, the mouse, cleared. The guard restores
/// it when dropped. A panic on this (the UI's) thread restores it and then reports as usual;
/// one on another thread (a source, the recompute thread) goes to the log file, not over the screen.
pub fn take(mouse: bool) -> Result<(TerminalGuard, Terminal<CrosstermBackend<Stdout>>)> {
    crossterm::terminal::enable_raw_mode().context("the terminal does not support raw mode")?;
    let guard = TerminalGuard;
    let ui_thread = std::thread::current().id();
    let previous_hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        if std::thread::current().id() == ui_thread {
            restore();
            previous_hook(info);
        } else {
            tracing::error!("panic on a background thread: {info}");
        }
    }));
    Ok((guard, enter(mouse)?))
}

/// The alternate screen, cleared, the mouse as asked, and a terminal with no previous frame
/// (so the first frame draws everything). Not `Terminal::clear`: it asks the terminal for
/// the cursor position, and an input reader of an earlier run (`:ctx`, `:rev`) or of the
/// time before an editor may take the answer.
fn enter(mouse: bool) -> Result<Terminal<CrosstermBackend<Stdout>>> {
    crossterm::execute!(
        std::io::stdout(),
        crossterm::terminal::EnterAlternateScreen,
        crossterm::terminal::Clear(crossterm::terminal::ClearType::All)
    )?;
    self::mouse(mouse);
    Ok(Terminal::new(CrosstermBackend::new(std::io::stdout()))?)
}

/// Captures the mouse (wheel and clicks come to kdrift) or lets the terminal have it (to
/// select text). Most terminals also select with shift held while the mouse is captured.
pub fn mouse(on: bool) {
    let _ = if on {
        crossterm::execute!(std::io::stdout(), crossterm::event::EnableMouseCapture)
    } else {
        crossterm::execute!(std::io::stdout(), crossterm::event::DisableMouseCapture)
    };
}

/// Gives the terminal to another program (editor, pager): as it was before kdrift.
pub fn suspend() {
    restore();
}

/// Takes the terminal back after another program; the next frame redraws everything.
pub fn resume(terminal: &mut Terminal<CrosstermBackend<Stdout>>, mouse: bool) -> Result<()> {
    crossterm::terminal::enable_raw_mode().context("the terminal does not support raw mode")?;
    *terminal = enter(mouse)?;
    Ok(())
}

/// The signals a loop ends on, each with its number.
#[cfg(unix)]
pub type Signals = Vec<(u8, tokio::signal::unix::Signal)>;
#[cfg(not(unix))]
pub type Signals = ();

/// The number of the next ending signal (never, where there are none).
#[cfg(unix)]
pub async fn next_signal(signals: &mut Signals) -> u8 {
    if signals.is_empty() {
        return std::future::pending().await;
    }
    let (n, _, _) = futures::future::select_all(
        signals
            .iter_mut()
            .map(|(n, s)| Box::pin(async move { s.recv().await.map(|_| *n) })),
    )
    .await;
    n.unwrap_or(15)
}

#[cfg(not(unix))]
pub async fn next_signal(_: &mut Signals) -> u8 {
    std::future::pending().await
}

#[cfg(not(unix))]
pub fn ending_signals() -> Signals {}

/// Every catchable signal whose default would end the process (HUP, INT, QUIT, USR1, USR2,
/// ALRM, TERM), each with its number.
#[cfg(unix)]
pub fn ending_signals() -> Signals {
    [1, 2, 3, 10, 12, 14, 15]
        .into_iter()
        .filter_map(|n| {
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::from_raw(n))
                .ok()
                .map(|s| (n as u8, s))
        })
        .collect()
}
