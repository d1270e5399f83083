//! Running another program (kustomize, an exec credential plugin) with bounds: its output is
//! read up to a cap (the rest is drained and counted, never kept), and it is killed when it
//! runs past a deadline. A program that misbehaves costs kdrift a bounded time and memory.

use std::io::Read;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

/// What a bounded run produced.
#[derive(Debug)]
pub struct Bounded {
    pub status: ExitStatus,
    pub stdout: Vec<u8>,
    /// Bytes of stdout past the cap (read and dropped).
    pub stdout_dropped: u64,
    pub stderr: Vec<u8>,
    pub stderr_dropped: u64,
}

/// Why a bounded run failed.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error("cannot run {program}: {message}")]
    Spawn { program: String, message: String },
    #[error("{program} gave no result within {} s and was stopped", .after.as_secs())]
    Timeout { program: String, after: Duration },
}

/// Reads a stream to its end on a thread, keeping at most `cap` bytes; with `forward`, what
/// is kept is written to kdrift's stderr as it comes (control characters made visible)
/// instead of being returned.
fn drain(
    mut stream: impl Read + Send + 'static,
    cap: usize,
    forward: bool,
) -> std::thread::JoinHandle<(Vec<u8>, u64)> {
    std::thread::spawn(move || {
        use std::io::Write;
        let mut kept = Vec::new();
        let mut taken = 0usize;
        let mut dropped = 0u64;
        let mut buf = [0u8; 64 * 1024];
        loop {
            match stream.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    let room = cap.saturating_sub(taken).min(n);
                    taken += room;
                    if forward {
                        let text = String::from_utf8_lossy(&buf[..room]);
                        let _ = std::io::stderr()
                            .write_all(crate::text::visible_text(&text).as_bytes());
                    } else {
                        kept.extend_from_slice(&buf[..room]);
                    }
                    dropped += (n - room) as u64;
                }
            }
        }
        (kept, dropped)
    })
}

/// Where a bounded run's stdin comes from and its stderr goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Io {
    /// No stdin; stderr kept (up to its cap) for an error message.
    Closed,
    /// These bytes on stdin (then closed); stderr kept (up to its cap).
    Input(std::sync::Arc<[u8]>),
    /// kdrift's stdin; stderr forwarded to kdrift's stderr as it comes (up to its cap), for
    /// programs that talk to the user (an interactive login).
    Interactive,
}

fn wait_until(child: &mut Child, deadline: Instant) -> Option<ExitStatus> {
    loop {
        match child.try_wait() {
            Ok(Some(status)) => return Some(status),
            Ok(None) if Instant::now() >= deadline => return None,
            Ok(None) => std::thread::sleep(Duration::from_millis(10)),
            Err(_) => return None,
        }
    }
}

/// Runs `command`, keeping at most `max_stdout` and `max_stderr` bytes of its output, and
/// killing it after `timeout`.
pub fn run(
    mut command: Command,
    io: Io,
    timeout: Duration,
    max_stdout: usize,
    max_stderr: usize,
) -> Result<Bounded, RunError> {
    let program = command.get_program().to_string_lossy().into_owned();
    match &io {
        Io::Closed => {
            command.stdin(Stdio::null());
        }
        Io::Input(_) => {
            command.stdin(Stdio::piped());
        }
        Io::Interactive => {}
    }
    let mut child = command
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| RunError::Spawn {
            program: program.clone(),
            message: e.to_string(),
        })?;
    if let (Io::Input(bytes), Some(mut stdin)) = (&io, child.stdin.take()) {
        // Written on a thread: a program that does not read must not hold kdrift; a closed
        // pipe is the program's choice.
        let bytes = std::sync::Arc::clone(bytes);
        std::thread::spawn(move || {
            use std::io::Write;
            let _ = stdin.write_all(&bytes);
        });
    }
    let out = drain(
        child.stdout.take().expect("piped stdout"),
        max_stdout,
        false,
    );
    let err = drain(
        child.stderr.take().expect("piped stderr"),
        max_stderr,
        matches!(io, Io::Interactive),
    );
    let Some(status) = wait_until(&mut child, Instant::now() + timeout) else {
        let _ = child.kill();
        let _ = child.wait();
        // Grandchildren may keep the pipes open: the readers are not waited for.
        return Err(RunError::Timeout {
            program,
            after: timeout,
        });
    };
    let (stdout, stdout_dropped) = out.join().unwrap_or_default();
    let (stderr, stderr_dropped) = err.join().unwrap_or_default();
    Ok(Bounded {
        status,
        stdout,
        stdout_dropped,
        stderr,
        stderr_dropped,
    })
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;

    fn sh(script: &str) -> Command {
        let mut c = Command::new("sh");
        c.arg("-c").arg(script);
        c
    }

    #[test]
    fn output_past_the_cap_is_counted_not_kept() {
        let r = run(
            sh("head -c 100000 /dev/zero"),
            Io::Closed,
            Duration::from_secs(20),
            1000,
            10,
        )
        .unwrap();
        assert!(r.status.success());
        assert_eq!(r.stdout.len(), 1000);
        assert_eq!(r.stdout_dropped, 99_000);
    }

    #[test]
    fn a_hung_program_is_stopped_at_the_deadline() {
        let started = Instant::now();
        let e = run(
            sh("sleep 30"),
            Io::Closed,
            Duration::from_millis(300),
            10,
            10,
        )
        .unwrap_err();
        assert!(matches!(e, RunError::Timeout { .. }), "{e}");
        assert!(started.elapsed() < Duration::from_secs(10));
    }
}
