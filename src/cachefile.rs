//! Cache files (discovery, kinds, rendered charts, parsed manifests): written whole or not at
//! all, best effort, private to the user. Nothing here reads them.

/// Writes a cache file whole or not at all (a temporary file, mode 0600, renamed over it),
/// best effort: a cache that cannot be written only costs time on the next run.
pub fn write(file: &std::path::Path, bytes: &[u8]) {
    write_with(file, |w| w.write_all(bytes));
}

/// Like `write`, the content written by `fill` as it makes it (a large file is never held
/// whole in memory); a `fill` that fails leaves the file as it was.
pub fn write_with(
    file: &std::path::Path,
    fill: impl FnOnce(&mut dyn std::io::Write) -> std::io::Result<()>,
) {
    let Some(dir) = file.parent() else { return };
    if std::fs::create_dir_all(dir).is_err() {
        return;
    }
    if let Ok(tmp) = tempfile::NamedTempFile::new_in(dir) {
        let mut out = std::io::BufWriter::with_capacity(1 << 16, tmp);
        if fill(&mut out).is_ok() {
            if let Ok(tmp) = out.into_inner() {
                let _ = tmp.persist(file);
            }
        }
    }
}

/// Removes the oldest files of `dir` beyond the newest `keep`, and any temporary file left
/// by a write that was cut (a process that ended while writing) an hour ago or more.
pub fn prune(dir: &std::path::Path, keep: usize) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let mut files: Vec<(std::time::SystemTime, std::path::PathBuf)> = Vec::new();
    for e in entries.filter_map(|e| e.ok()) {
        let Some(modified) = e.metadata().ok().and_then(|m| m.modified().ok()) else {
            continue;
        };
        if e.file_name().to_string_lossy().starts_with(".tmp") {
            let old = modified
                .elapsed()
                .is_ok_and(|age| age >= std::time::Duration::from_secs(3600));
            if old {
                let _ = std::fs::remove_file(e.path());
            }
            continue;
        }
        files.push((modified, e.path()));
    }
    if files.len() <= keep {
        return;
    }
    files.sort();
    for (_, path) in &files[..files.len() - keep] {
        let _ = std::fs::remove_file(path);
    }
}
