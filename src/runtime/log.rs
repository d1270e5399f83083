//! The log: records go to a private file, never to the terminal the explorer owns.

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
