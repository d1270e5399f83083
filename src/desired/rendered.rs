//! The cache of rendered output (kustomizations and Helm charts), by what the output depends
//! on: the files rendered (paths and blob ids, so their trees), how they are rendered, and
//! the program that renders them (path, size and modification time). Kept in memory for the
//! process, and on disk (0600, under the cache folder) only when the output holds no
//! Secret (no secret is written out) and is at most `DISK_MAX_BYTES`. The disk cache keeps
//! the newest `DISK_ENTRIES`.

use super::git::TreeFile;
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};

/// How many rendered outputs the disk cache keeps (the oldest go first).
const DISK_ENTRIES: usize = 512;
/// The largest output kept on disk (larger ones are kept in memory only).
const DISK_MAX_BYTES: usize = 4 << 20;
/// How many outputs the process keeps (all are dropped when it has more: a new commit
/// renders again what it needs).
const MEMORY_ENTRIES: usize = 1024;

fn memory() -> &'static Mutex<HashMap<String, Arc<str>>> {
    static CACHE: OnceLock<Mutex<HashMap<String, Arc<str>>>> = OnceLock::new();
    CACHE.get_or_init(Default::default)
}

/// Builds a cache key.
pub struct Key(Sha256);

impl Key {
    /// A key for a renderer (`kind` keeps kustomize's and helm's keys apart).
    pub fn new(kind: &str) -> Key {
        let mut h = Sha256::new();
        h.update(b"kdrift-rendered-1\0");
        h.update(kind.as_bytes());
        h.update([0]);
        Key(h)
    }

    /// A file of the tree the output depends on.
    pub fn file(&mut self, f: &TreeFile) {
        self.0.update(f.path.as_bytes());
        self.0.update([0, u8::from(f.is_link)]);
        self.0.update(f.blob.as_bytes());
    }

    /// A setting the output depends on (length-prefixed, so parts never run together).
    pub fn text(&mut self, text: &str) {
        self.0.update((text.len() as u64).to_le_bytes());
        self.0.update(text.as_bytes());
    }

    /// The program that renders: its path, size and modification time.
    pub fn program(&mut self, program: &Path) {
        self.0.update(program.as_os_str().as_encoded_bytes());
        if let Ok(meta) = std::fs::metadata(program) {
            self.0.update(meta.len().to_le_bytes());
            if let Ok(t) = meta.modified() {
                if let Ok(d) = t.duration_since(std::time::UNIX_EPOCH) {
                    self.0.update(d.as_nanos().to_le_bytes());
                }
            }
        }
    }

    pub fn finish(self) -> String {
        self.0
            .finalize()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect::<String>()
    }
}

/// Whether rendered text holds a Secret (then it is never written to the disk cache).
pub fn renders_secret(text: &str) -> bool {
    // Generous (any line that looks like a kind, at any depth): a false match only keeps a
    // render off the disk.
    text.lines().any(|l| {
        let l = l.trim().trim_start_matches("- ");
        l.strip_prefix("kind:")
            .map(|k| k.trim().trim_matches(|c| c == '"' || c == '\''))
            .is_some_and(|k| k.eq_ignore_ascii_case("secret"))
    }) || text.contains("\"kind\":\"Secret\"")
}

/// A render cached in this process or on disk.
pub fn cached(key: &str, cache_dir: &Path) -> Option<Arc<str>> {
    if let Some(hit) = memory().lock().ok().and_then(|m| m.get(key).cloned()) {
        return Some(hit);
    }
    let text: Arc<str> = std::fs::read_to_string(disk_path(key, cache_dir))
        .ok()?
        .into();
    if let Ok(mut m) = memory().lock() {
        m.insert(key.to_string(), Arc::clone(&text));
    }
    Some(text)
}

/// Keeps a render: in this process, and on disk unless it holds a Secret.
pub fn store(key: &str, text: &Arc<str>, cache_dir: &Path) {
    if let Ok(mut m) = memory().lock() {
        if m.len() >= MEMORY_ENTRIES {
            m.clear();
        }
        m.insert(key.to_string(), Arc::clone(text));
    }
    if text.len() <= DISK_MAX_BYTES && !renders_secret(text) {
        let path = disk_path(key, cache_dir);
        crate::cachefile::write(&path, text.as_bytes());
        if let Some(dir) = path.parent() {
            crate::cachefile::prune(dir, DISK_ENTRIES);
        }
    }
}

fn disk_path(key: &str, cache_dir: &Path) -> PathBuf {
    cache_dir.join("rendered").join(format!("{key}.yaml"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_secret_in_the_output_is_seen_in_yaml_and_json() {
        assert!(renders_secret("apiVersion: v1\nkind: Secret\n"));
        assert!(renders_secret("kind: \"Secret\"\n"));
        assert!(renders_secret("{\"kind\":\"Secret\"}"));
        assert!(!renders_secret("kind: SecretStore\n"));
        assert!(!renders_secret(
            "kind: ConfigMap\ndata:\n  kind: secretish\n"
        ));
        assert!(renders_secret("kind: List\nitems:\n  - kind: Secret\n"));
    }
}
