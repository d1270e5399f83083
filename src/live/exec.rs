//! Exec credential plugins, bounded. kube-rs runs a kubeconfig's `exec` plugin itself with
//! no deadline and keeps all of its output; kdrift points the kubeconfig's plugin at its own
//! hidden `exec-credential` command instead, which runs the real plugin with a deadline, at
//! most `MAX_CREDENTIAL_BYTES` of output, stderr shown once (made visible, cut short), and
//! passes the credential through. kube-rs still decides when to run it (and so refreshes
//! expiring tokens as before).

use std::path::PathBuf;
use std::sync::OnceLock;
use std::time::Duration;

/// The most output an exec plugin may give (a credential is a few kilobytes).
pub const MAX_CREDENTIAL_BYTES: usize = 1024 * 1024;
/// The most of a plugin's stderr shown.
const MAX_STDERR: usize = 8 * 1024;

static WRAPPER: OnceLock<PathBuf> = OnceLock::new();

/// Set while the explorer owns the terminal: plugins then cannot talk to the user (their
/// stderr would draw over the screen), and fail with their words in the error instead.
static TERMINAL_OWNED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Says that the terminal belongs to a full-screen UI from now on.
pub fn terminal_owned() {
    TERMINAL_OWNED.store(true, std::sync::atomic::Ordering::SeqCst);
}

/// Registers the program that runs exec plugins with bounds (the kdrift binary itself).
/// Without it (a library user, a test), plugins run as kube-rs runs them.
pub fn set_wrapper(program: PathBuf) {
    let _ = WRAPPER.set(program);
}

/// Points an exec plugin of `config` at the bounded runner, if one is registered.
pub fn wrap(config: &mut kube::Config, timeout: Duration) {
    let Some(wrapper) = WRAPPER.get() else {
        return;
    };
    let Some(exec) = config.auth_info.exec.as_mut() else {
        return;
    };
    let Some(command) = exec.command.take() else {
        return;
    };
    let interactive = exec.interactive_mode != Some(kube::config::ExecInteractiveMode::Never);
    let mut args = vec![
        "exec-credential".to_string(),
        "--timeout".to_string(),
        format!("{}ms", timeout.as_millis().max(1)),
    ];
    if interactive {
        args.push("--interactive".into());
    }
    args.push("--".into());
    args.push(command);
    args.extend(exec.args.take().unwrap_or_default());
    exec.command = Some(wrapper.display().to_string());
    exec.args = Some(args);
}

/// `kdrift exec-credential`: runs the plugin with bounds; its credential on stdout and exit
/// 0, or one line on stderr saying what went wrong and exit 1.
pub fn run_plugin(plugin: &[String], timeout: Duration, interactive: bool) -> u8 {
    use std::io::Write;
    let Some((program, plugin_args)) = plugin.split_first() else {
        return 2;
    };
    let shown = crate::text::visible_line(program).into_owned();
    let mut command = std::process::Command::new(program);
    command.args(plugin_args);
    let io = if interactive {
        crate::process::Io::Interactive
    } else {
        crate::process::Io::Closed
    };
    let fail = |message: String| {
        let _ = writeln!(
            std::io::stderr(),
            "exec credential plugin {shown}: {}",
            crate::text::visible_line(&message)
        );
        1
    };
    match crate::process::run(command, io, timeout, MAX_CREDENTIAL_BYTES, MAX_STDERR) {
        Err(e) => fail(e.to_string()),
        Ok(out) if out.stdout_dropped > 0 => fail(format!(
            "printed more than {MAX_CREDENTIAL_BYTES} bytes; that is no credential"
        )),
        Ok(out) if !out.status.success() => {
            let err = String::from_utf8_lossy(&out.stderr).trim().to_string();
            fail(if err.is_empty() || interactive {
                format!("exited with {}", out.status)
            } else {
                format!("exited with {}: {err}", out.status)
            })
        }
        Ok(out) => {
            // A successful plugin's stderr is not shown (kube-rs does not show it either).
            let _ = std::io::stdout().write_all(&out.stdout);
            0
        }
    }
}

/// A kube-rs error from an exec plugin in words, without the command's environment (which
/// kube-rs's own message prints, secrets included) and with its output bounded.
pub fn explain_auth(e: &kube::client::AuthError) -> Option<String> {
    match e {
        kube::client::AuthError::AuthExecRun { out, .. } => {
            let err = String::from_utf8_lossy(&out.stderr);
            let err = crate::text::bounded(err.trim(), MAX_STDERR);
            Some(format!(
                "the exec credential plugin failed ({}){}",
                out.status,
                if err.is_empty() {
                    String::new()
                } else {
                    format!(": {}", crate::text::visible_line(&err))
                }
            ))
        }
        kube::client::AuthError::AuthExecStart(io) => Some(format!(
            "the exec credential plugin cannot be started: {io}"
        )),
        _ => None,
    }
}
