//! Cache files (discovery, kinds, rendered charts): written whole or not at all, best
//! effort, private to the user. Nothing here reads them.

/// Writes a cache file whole or not at all (a temporary file, mode 0600, renamed over it),
/// best effort: a cache that cannot be written only costs time on the next run.
pub fn write(file: &std::path::Path, bytes: &[u8]) {
    let Some(dir) = file.parent() else { return };
    if std::fs::create_dir_all(dir).is_err() {
        return;
    }
    if let Ok(mut tmp) = tempfile::NamedTempFile::new_in(dir) {
        if std::io::Write::write_all(&mut tmp, bytes).is_ok() {
            let _ = tmp.persist(file);
        }
    }
}
