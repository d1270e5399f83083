//! Programs kdrift hands the terminal to, and what it writes to the terminal beside the
//! frame: the pager (`$KDRIFT_PAGER`, else `$PAGER`, else `less -R`), the editor (`$VISUAL`,
//! else `$EDITOR`, else `vi`), and the clipboard over OSC 52 (works over SSH and in tmux with
//! `set-clipboard on`).

use anyhow::{anyhow, Context, Result};
use base64::Engine;
use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};

/// The pager command as the user set it: `$KDRIFT_PAGER`, else `$PAGER`, else `less -R`.
/// An empty or `cat` value means no pager.
pub fn pager_command() -> Option<Vec<String>> {
    let text = ["KDRIFT_PAGER", "PAGER"]
        .iter()
        .find_map(|v| std::env::var(v).ok())
        .unwrap_or_else(|| "less -R".to_string());
    let words = split_words(&text);
    match words.first().map(String::as_str) {
        None | Some("cat") => None,
        Some(_) => Some(words),
    }
}

/// The editor command: `$VISUAL`, else `$EDITOR`, else `vi`.
pub fn editor_command() -> Vec<String> {
    let text = ["VISUAL", "EDITOR"]
        .iter()
        .find_map(|v| std::env::var(v).ok().filter(|s| !s.trim().is_empty()))
        .unwrap_or_else(|| "vi".to_string());
    split_words(&text)
}

/// Splits a command line at spaces, honouring single and double quotes (as a shell would
/// for the simple values `$PAGER` and `$EDITOR` hold).
fn split_words(text: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut word = String::new();
    let mut quote: Option<char> = None;
    let mut any = false;
    for c in text.chars() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), c) => word.push(c),
            (None, '\'' | '"') => {
                quote = Some(c);
                any = true;
            }
            (None, c) if c.is_whitespace() => {
                if any || !word.is_empty() {
                    words.push(std::mem::take(&mut word));
                    any = false;
                }
            }
            (None, c) => word.push(c),
        }
    }
    if any || !word.is_empty() {
        words.push(word);
    }
    words
}

/// Pipes `text` through the pager and waits for it. `less` gets `LESS=FRX` unless the user
/// set `LESS`, so that short output does not wait for `q`.
pub fn page(text: &str) -> Result<()> {
    let Some(cmd) = pager_command() else {
        print!("{text}");
        return Ok(());
    };
    let mut command = Command::new(&cmd[0]);
    command.args(&cmd[1..]).stdin(Stdio::piped());
    if std::env::var_os("LESS").is_none() {
        command.env("LESS", "FRX");
    }
    let mut child = command
        .spawn()
        .with_context(|| format!("starting the pager {:?}", cmd.join(" ")))?;
    if let Some(mut stdin) = child.stdin.take() {
        // A pager quit early closes the pipe: that is not an error.
        let _ = stdin.write_all(text.as_bytes());
    }
    child.wait().context("waiting for the pager")?;
    Ok(())
}

/// Opens `file` (relative to `dir`) at `line` in the editor and waits for it.
pub fn edit(dir: &Path, file: &str, line: Option<usize>) -> Result<()> {
    let cmd = editor_command();
    let mut command = Command::new(&cmd[0]);
    command.args(&cmd[1..]).current_dir(dir);
    if let Some(n) = line {
        // vi, vim, nvim, nano, emacs, micro, kak and hx all take `+N`.
        command.arg(format!("+{n}"));
    }
    command.arg(file);
    let status = command
        .status()
        .with_context(|| format!("starting the editor {:?}", cmd.join(" ")))?;
    if !status.success() {
        return Err(anyhow!(
            "the editor {:?} ended with {status}",
            cmd.join(" ")
        ));
    }
    Ok(())
}

/// Whether the working tree's `file` differs from it at `commit` (or cannot be compared).
pub fn differs_from(dir: &Path, commit: &str, file: &str) -> bool {
    Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(["diff", "--quiet", commit, "--", file])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .map(|s| !s.success())
        .unwrap_or(true)
}

/// The OSC 52 sequence that puts `text` on the terminal's clipboard.
pub fn osc52(text: &str) -> String {
    let data = base64::engine::general_purpose::STANDARD.encode(text.as_bytes());
    format!("\x1b]52;c;{data}\x07")
}

/// What rings the terminal: the bell, and for `desktop` the OSC 777 and OSC 9 desktop
/// notifications before it (terminals that know neither ignore them). `text` holds no
/// control characters.
pub fn ring(how: crate::config::Notify, text: &str) -> String {
    match how {
        crate::config::Notify::Off => String::new(),
        crate::config::Notify::Bell => "\x07".to_string(),
        crate::config::Notify::Desktop => {
            format!("\x1b]777;notify;kdrift;{text}\x1b\\\x1b]9;kdrift: {text}\x1b\\\x07")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_split_like_a_shell_for_simple_values() {
        assert_eq!(split_words("less -R"), vec!["less", "-R"]);
        assert_eq!(split_words("  code --wait "), vec!["code", "--wait"]);
        assert_eq!(
            split_words("'/opt/my editor/bin/ed' -x \"a b\""),
            vec!["/opt/my editor/bin/ed", "-x", "a b"]
        );
        assert_eq!(split_words("''"), vec![""]);
        assert!(split_words("").is_empty());
    }

    #[test]
    fn rings_are_a_bell_or_desktop_notifications() {
        use crate::config::Notify;
        assert_eq!(ring(Notify::Off, "x"), "");
        assert_eq!(ring(Notify::Bell, "x"), "\x07");
        let d = ring(Notify::Desktop, "Service/web drifted");
        assert!(d.starts_with("\x1b]777;notify;kdrift;Service/web drifted\x1b\\"));
        assert!(d.contains("\x1b]9;kdrift: Service/web drifted\x1b\\"));
        assert!(d.ends_with('\x07'));
    }

    #[test]
    fn osc52_is_base64_between_the_markers() {
        assert_eq!(
            osc52("Deployment/web -n shop"),
            "\x1b]52;c;RGVwbG95bWVudC93ZWIgLW4gc2hvcA==\x07"
        );
    }
}
