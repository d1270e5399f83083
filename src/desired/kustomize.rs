//! Kustomize support: finding the kustomizations of a commit, deciding which are roots (not
//! used as a base by another), materialising the commit's tree in a cache folder keyed by
//! tree id, and rendering each root with `kubectl kustomize` (or `kustomize build`).
//! Spawns processes and writes only below the cache folder.

use super::git::{GitRepo, RevisionInfo, TreeFile};
use std::collections::{BTreeSet, HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::process::Command;

const KUSTOMIZATION_NAMES: [&str; 3] = ["kustomization.yaml", "kustomization.yml", "Kustomization"];

/// The kustomizations of a tree and what they claim.
#[derive(Debug, Default)]
pub struct KustomizePlan {
    /// Folders to render (roots), with the path of their kustomization file.
    pub roots: Vec<(String, String)>,
    /// Files that belong to some kustomization and are not read as plain manifests.
    pub claimed: HashSet<String>,
}

fn parent_dir(path: &str) -> &str {
    path.rsplit_once('/').map(|(d, _)| d).unwrap_or("")
}

fn join_normalized(dir: &str, rel: &str) -> Option<String> {
    let mut parts: Vec<&str> = if dir.is_empty() {
        Vec::new()
    } else {
        dir.split('/').collect()
    };
    for p in rel.split('/') {
        match p {
            "" | "." => {}
            ".." => {
                parts.pop()?;
            }
            other => parts.push(other),
        }
    }
    Some(parts.join("/"))
}

fn is_under(path: &str, dir: &str) -> bool {
    dir.is_empty() || path == dir || path.starts_with(&format!("{dir}/"))
}

/// Finds the kustomizations among `files` and decides which to render: those inside one of
/// `selected` (folder prefixes; empty means everything) that no other kustomization uses.
pub fn plan(repo: &GitRepo, files: &[TreeFile], selected: &dyn Fn(&str) -> bool) -> KustomizePlan {
    let mut dirs: HashMap<String, String> = HashMap::new();
    for f in files {
        let name = f.path.rsplit('/').next().unwrap_or("");
        if KUSTOMIZATION_NAMES.contains(&name) {
            dirs.entry(parent_dir(&f.path).to_string())
                .or_insert_with(|| f.path.clone());
        }
    }
    if dirs.is_empty() {
        return KustomizePlan::default();
    }
    let by_path: HashMap<&str, &TreeFile> = files.iter().map(|f| (f.path.as_str(), f)).collect();
    let mut referenced_dirs = HashSet::new();
    let mut claimed = HashSet::new();
    for (dir, kfile) in &dirs {
        let Some(file) = by_path.get(kfile.as_str()) else {
            continue;
        };
        let Ok(data) = repo.read_blob(file) else {
            continue;
        };
        let text = String::from_utf8_lossy(&data);
        let Ok(Some(doc)) = crate::yaml::parse_document(&text, 1) else {
            continue;
        };
        for field in [
            "resources",
            "bases",
            "components",
            "crds",
            "patchesStrategicMerge",
        ] {
            let Some(entries) = doc.get(field).and_then(|v| v.as_array()) else {
                continue;
            };
            for entry in entries.iter().filter_map(|e| e.as_str()) {
                if entry.contains("://") || entry.starts_with("github.com/") {
                    continue;
                }
                if let Some(target) = join_normalized(dir, entry) {
                    if dirs.contains_key(&target) {
                        referenced_dirs.insert(target);
                    } else {
                        claimed.insert(target);
                    }
                }
            }
        }
    }
    for f in files {
        if dirs.keys().any(|d| is_under(&f.path, d)) {
            claimed.insert(f.path.clone());
        }
    }
    let mut roots: Vec<(String, String)> = dirs
        .iter()
        .filter(|(d, _)| !referenced_dirs.contains(*d) && selected(d))
        .map(|(d, k)| (d.clone(), k.clone()))
        .collect();
    roots.sort();
    KustomizePlan { roots, claimed }
}

/// Writes the whole tree of `rev` below the cache folder once per tree id and returns it.
pub fn materialize(
    repo: &GitRepo,
    rev: &RevisionInfo,
    files: &[TreeFile],
    cache_root: &Path,
) -> Result<PathBuf, String> {
    let dest = cache_root.join(&rev.tree);
    if dest.join(".kdrift-complete").exists() {
        return Ok(dest);
    }
    std::fs::create_dir_all(cache_root)
        .map_err(|e| format!("cannot create {}: {e}", cache_root.display()))?;
    let staging = tempfile::Builder::new()
        .prefix(".staging-")
        .tempdir_in(cache_root)
        .map_err(|e| format!("cannot create a folder in {}: {e}", cache_root.display()))?;
    let mut made = BTreeSet::new();
    for f in files {
        let target = staging.path().join(&f.path);
        if let Some(parent) = target.parent() {
            if made.insert(parent.to_path_buf()) {
                std::fs::create_dir_all(parent)
                    .map_err(|e| format!("cannot create {}: {e}", parent.display()))?;
            }
        }
        let data = repo.read_blob(f).map_err(|e| e.to_string())?;
        #[cfg(unix)]
        if f.is_link {
            let link = String::from_utf8_lossy(&data).to_string();
            let _ = std::os::unix::fs::symlink(link, &target);
            continue;
        }
        std::fs::write(&target, data)
            .map_err(|e| format!("cannot write {}: {e}", target.display()))?;
    }
    std::fs::write(staging.path().join(".kdrift-complete"), b"")
        .map_err(|e| format!("cannot write in {}: {e}", staging.path().display()))?;
    let staged = staging.keep();
    if std::fs::rename(&staged, &dest).is_err() {
        // Another run finished first; use its copy.
        let _ = std::fs::remove_dir_all(&staged);
    }
    Ok(dest)
}

/// The command that renders a kustomization: the configured one, else `kubectl` on PATH,
/// else `kustomize` on PATH.
pub fn renderer(configured: &str) -> Option<(PathBuf, Vec<String>)> {
    let pick = |program: PathBuf| {
        let is_kustomize = program
            .file_name()
            .map(|n| n.to_string_lossy().starts_with("kustomize"))
            .unwrap_or(false);
        let args = if is_kustomize {
            vec!["build".to_string()]
        } else {
            vec!["kustomize".to_string()]
        };
        (program, args)
    };
    if !configured.is_empty() {
        return Some(pick(PathBuf::from(configured)));
    }
    find_on_path("kubectl")
        .or_else(|| find_on_path("kustomize"))
        .map(pick)
}

/// Looks a program up on PATH.
pub fn find_on_path(program: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join(program))
        .find(|p| p.is_file())
}

/// Renders one kustomization folder; stdout on success, stderr (trimmed) on failure.
pub fn render(command: &(PathBuf, Vec<String>), dir: &Path) -> Result<String, String> {
    let output = Command::new(&command.0)
        .args(&command.1)
        .arg(dir)
        .output()
        .map_err(|e| format!("cannot run {}: {e}", command.0.display()))?;
    if output.status.success() {
        Ok(String::from_utf8_lossy(&output.stdout).into_owned())
    } else {
        let err = String::from_utf8_lossy(&output.stderr).trim().to_string();
        Err(if err.is_empty() {
            format!("{} exited with {}", command.0.display(), output.status)
        } else {
            err
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn join_normalizes_relative_references() {
        assert_eq!(
            join_normalized("overlays/prod", "../../base").as_deref(),
            Some("base")
        );
        assert_eq!(
            join_normalized("", "./a/b.yaml").as_deref(),
            Some("a/b.yaml")
        );
        assert_eq!(join_normalized("a", "../../x"), None);
    }

    #[test]
    fn under_is_folder_aware() {
        assert!(is_under("base/x.yaml", "base"));
        assert!(!is_under("base2/x.yaml", "base"));
        assert!(is_under("anything", ""));
    }
}
