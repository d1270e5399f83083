//! Kustomize support: finding the kustomizations of a commit, deciding which are roots (not
//! used as a base by another), and rendering each root with `kubectl kustomize` (or
//! `kustomize build`). A repository is not trusted: only what a root's kustomizations
//! reference inside the repository is written out, into a private temporary folder (0700)
//! that is removed after rendering; a reference that leaves the repository refuses the
//! kustomization; symbolic links are written only where they point inside the repository;
//! the renderer runs without plugins, bounded in time and output, and its errors are cut
//! short with secretGenerator literals masked. Nothing here writes anywhere else.

use super::git::{GitRepo, TreeFile};
use std::collections::{BTreeSet, HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

const KUSTOMIZATION_NAMES: [&str; 3] = ["kustomization.yaml", "kustomization.yml", "Kustomization"];

/// The kustomizations of a tree and what they claim.
#[derive(Debug, Default)]
pub struct KustomizePlan {
    /// Folders to render (roots), with the path of their kustomization file.
    pub roots: Vec<(String, String)>,
    /// Files that belong to some kustomization and are not read as plain manifests.
    pub claimed: HashSet<String>,
    /// Every folder with a kustomization, with the path of that file.
    pub dirs: HashMap<String, String>,
}

fn parent_dir(path: &str) -> &str {
    path.rsplit_once('/').map(|(d, _)| d).unwrap_or("")
}

pub(crate) fn join_normalized(dir: &str, rel: &str) -> Option<String> {
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

/// A kustomization file's document, if it can be read (the renderer reports what cannot).
fn read_kustomization(
    repo: &GitRepo,
    by_path: &HashMap<&str, &TreeFile>,
    kfile: &str,
) -> Option<serde_json::Value> {
    let data = repo.read_blob(by_path.get(kfile)?).ok()?;
    crate::yaml::parse_document(&String::from_utf8_lossy(&data), 1)
        .ok()
        .flatten()
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
        let Some(doc) = read_kustomization(repo, &by_path, kfile) else {
            continue;
        };
        // Everything a kustomization references is its own: a folder with a kustomization
        // is a base (not a root), a file is not read again as a plain manifest.
        for entry in path_refs(&doc) {
            if let Some(target) = join_normalized(dir, &entry) {
                if dirs.contains_key(&target) {
                    referenced_dirs.insert(target);
                } else {
                    claimed.insert(target);
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
    KustomizePlan {
        roots,
        claimed,
        dirs,
    }
}

/// The fields of a kustomization that name files or folders, as kustomize reads them.
fn path_refs(doc: &serde_json::Value) -> Vec<String> {
    let mut out = Vec::new();
    let mut push = |v: &serde_json::Value| {
        if let Some(s) = v.as_str() {
            // `key=path` (generators' files) names the path after the `=`.
            let path = s.split_once('=').map(|(_, p)| p).unwrap_or(s);
            out.push(path.trim().to_string());
        }
    };
    for field in [
        "resources",
        "bases",
        "components",
        "crds",
        "patchesStrategicMerge",
        "generators",
        "transformers",
        "validators",
        "configurations",
    ] {
        for v in doc
            .get(field)
            .and_then(|v| v.as_array())
            .into_iter()
            .flatten()
        {
            push(v);
        }
    }
    for field in ["patches", "patchesJson6902", "replacements"] {
        for v in doc
            .get(field)
            .and_then(|v| v.as_array())
            .into_iter()
            .flatten()
        {
            if let Some(p) = v.get("path") {
                push(p);
            }
        }
    }
    for field in ["configMapGenerator", "secretGenerator"] {
        for g in doc
            .get(field)
            .and_then(|v| v.as_array())
            .into_iter()
            .flatten()
        {
            for list in ["files", "envs"] {
                for v in g.get(list).and_then(|v| v.as_array()).into_iter().flatten() {
                    push(v);
                }
            }
            if let Some(v) = g.get("env") {
                push(v);
            }
        }
    }
    for p in [
        doc.pointer("/openapi/path"),
        doc.pointer("/helmGlobals/chartHome"),
    ]
    .into_iter()
    .flatten()
    {
        push(p);
    }
    out.retain(|p| !p.is_empty() && !is_remote(p));
    out
}

/// Whether a reference names something kustomize fetches over the network.
pub(crate) fn is_remote(reference: &str) -> bool {
    reference.contains("://")
        || reference.starts_with("github.com/")
        || reference.starts_with("git@")
        || reference.starts_with("gitlab.com/")
        || reference.starts_with("bitbucket.org/")
}

/// The values of every secretGenerator literal (and the literals whole), so that an error
/// of the renderer that echoes one can be masked.
fn secret_literals(doc: &serde_json::Value) -> Vec<String> {
    let mut out = Vec::new();
    for g in doc
        .get("secretGenerator")
        .and_then(|v| v.as_array())
        .into_iter()
        .flatten()
    {
        for lit in g
            .get("literals")
            .and_then(|v| v.as_array())
            .into_iter()
            .flatten()
            .filter_map(|v| v.as_str())
        {
            out.push(lit.to_string());
            if let Some((_, value)) = lit.split_once('=') {
                out.push(value.to_string());
            }
        }
    }
    out.retain(|s| !s.is_empty());
    // Longest first, so that a value inside a whole literal is masked with it.
    out.sort_by_key(|s| std::cmp::Reverse(s.len()));
    out
}

/// What one root needs written out to render, or why it cannot be rendered.
#[derive(Debug, Default, PartialEq)]
pub struct Closure {
    /// Paths of the tree's files to write (links among them).
    pub files: BTreeSet<String>,
    /// secretGenerator literals to mask in error text.
    pub secrets: Vec<String>,
}

/// The files a root kustomization uses inside the repository: its own folder, and every
/// folder and file its kustomizations reference, followed through bases, components and
/// links inside the repository. A reference that is absolute or leaves the repository is an
/// error naming it.
pub fn closure(
    repo: &GitRepo,
    files: &[TreeFile],
    root: &str,
    kustomization_dirs: &HashMap<String, String>,
) -> Result<Closure, String> {
    let by_path: HashMap<&str, &TreeFile> = files.iter().map(|f| (f.path.as_str(), f)).collect();
    let mut out = Closure::default();
    let mut pending = vec![root.to_string()];
    let mut seen = HashSet::new();
    let add_subtree = |dir: &str, out: &mut Closure, pending: &mut Vec<String>| {
        for f in files.iter().filter(|f| is_under(&f.path, dir)) {
            if out.files.insert(f.path.clone()) && f.is_link {
                if let Ok(target) = link_target(repo, f) {
                    pending.push(target);
                }
            }
        }
    };
    while let Some(path) = pending.pop() {
        if !seen.insert(path.clone()) {
            continue;
        }
        if let Some(f) = by_path.get(path.as_str()) {
            if out.files.insert(f.path.clone()) && f.is_link {
                if let Ok(target) = link_target(repo, f) {
                    pending.push(target);
                }
            }
            continue;
        }
        add_subtree(&path, &mut out, &mut pending);
        let Some(kfile) = kustomization_dirs.get(&path) else {
            continue;
        };
        let Some(doc) = read_kustomization(repo, &by_path, kfile) else {
            continue;
        };
        out.secrets.extend(secret_literals(&doc));
        for reference in path_refs(&doc) {
            if reference.starts_with('/') {
                return Err(format!(
                    "{kfile} references {:?}, an absolute path; kdrift renders only what is inside the repository",
                    crate::text::visible_line(&reference)
                ));
            }
            match join_normalized(&path, &reference) {
                Some(target) => pending.push(target),
                None => {
                    return Err(format!(
                        "{kfile} references {:?}, which is outside the repository; kdrift renders only what is inside it",
                        crate::text::visible_line(&reference)
                    ))
                }
            }
        }
    }
    out.secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
    out.secrets.dedup();
    Ok(out)
}

/// Where a link of the tree points, as a path inside the repository; an error for a link
/// that is absolute or leaves the repository.
fn link_target(repo: &GitRepo, link: &TreeFile) -> Result<String, String> {
    let data = repo.read_blob(link).map_err(|e| e.to_string())?;
    let target = String::from_utf8_lossy(&data).into_owned();
    if target.starts_with('/') || target.contains('\0') {
        return Err(format!("{} points outside the repository", link.path));
    }
    join_normalized(parent_dir(&link.path), &target)
        .ok_or_else(|| format!("{} points outside the repository", link.path))
}

/// Writes `paths` of the tree into `dest` (an empty folder kdrift made): regular files first,
/// each created anew (never through an existing file or link), then the links that point
/// inside the repository. Tree paths were checked when listed (no `..`, no `.git`).
pub fn materialize(
    repo: &GitRepo,
    files: &[TreeFile],
    paths: &BTreeSet<String>,
    dest: &Path,
) -> Result<(), String> {
    use std::io::Write;
    let chosen: Vec<&TreeFile> = files.iter().filter(|f| paths.contains(&f.path)).collect();
    let mut made = BTreeSet::new();
    let mut links = Vec::new();
    for f in chosen {
        if f.is_link {
            links.push(f);
            continue;
        }
        let target = dest.join(&f.path);
        if let Some(parent) = target.parent() {
            if made.insert(parent.to_path_buf()) {
                std::fs::create_dir_all(parent)
                    .map_err(|e| format!("cannot create {}: {e}", parent.display()))?;
            }
        }
        let data = repo.read_blob(f).map_err(|e| e.to_string())?;
        let mut out = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&target)
            .map_err(|e| format!("cannot write {}: {e}", target.display()))?;
        out.write_all(&data)
            .map_err(|e| format!("cannot write {}: {e}", target.display()))?;
    }
    #[cfg(unix)]
    for link in links {
        // Links that leave the repository are not written: kustomize then reports the
        // missing file by its name.
        if link_target(repo, link).is_err() {
            continue;
        }
        let data = repo.read_blob(link).map_err(|e| e.to_string())?;
        let target = dest.join(&link.path);
        if let Some(parent) = target.parent() {
            if !parent.starts_with(dest)
                || std::fs::symlink_metadata(parent).is_ok_and(|m| m.file_type().is_symlink())
            {
                continue;
            }
            std::fs::create_dir_all(parent)
                .map_err(|e| format!("cannot create {}: {e}", parent.display()))?;
        }
        let _ = std::os::unix::fs::symlink(String::from_utf8_lossy(&data).as_ref(), &target);
    }
    Ok(())
}

/// A root written out, ready to render: removed from disk when dropped.
pub struct Prepared {
    dir: tempfile::TempDir,
    root: String,
    secrets: Vec<String>,
}

/// Writes one root's closure into a private temporary folder (0700).
pub fn prepare(
    repo: &GitRepo,
    files: &[TreeFile],
    root: &str,
    closure: Closure,
) -> Result<Prepared, String> {
    let dir = tempfile::Builder::new()
        .prefix("kdrift-kustomize-")
        .tempdir()
        .map_err(|e| format!("cannot create a private temporary folder: {e}"))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o700))
            .map_err(|e| format!("cannot make {} private: {e}", dir.path().display()))?;
    }
    materialize(repo, files, &closure.files, dir.path())?;
    Ok(Prepared {
        dir,
        root: root.to_string(),
        secrets: closure.secrets,
    })
}

impl Prepared {
    /// Changes the root kustomization as `kustomize edit` would (Argo CD's overrides of an
    /// app): `namePrefix`, `nameSuffix` and `namespace` are set; `images` and `replicas` set
    /// by name; `commonLabels` and `commonAnnotations` added; `patches` and `components`
    /// appended. The file is rewritten as JSON, which kustomize reads as YAML.
    pub fn edit_root(&self, kfile: &str, edits: &serde_json::Value) -> Result<(), String> {
        use serde_json::Value;
        let path = self.dir.path().join(kfile);
        let text =
            std::fs::read_to_string(&path).map_err(|e| format!("cannot read {kfile}: {e}"))?;
        let mut doc = crate::yaml::parse_document(&text, 1)
            .map_err(|e| format!("{kfile}: {}", e.message))?
            .unwrap_or_else(|| Value::Object(Default::default()));
        let Some(map) = doc.as_object_mut() else {
            return Err(format!("{kfile} is not a mapping"));
        };
        for (field, value) in edits.as_object().into_iter().flatten() {
            match field.as_str() {
                "images" | "replicas" => {
                    let list = map
                        .entry(field.clone())
                        .or_insert_with(|| Value::Array(Vec::new()));
                    if !list.is_array() {
                        *list = Value::Array(Vec::new());
                    }
                    let list = list.as_array_mut().expect("an array");
                    for entry in value.as_array().into_iter().flatten() {
                        let name = entry.get("name");
                        match list.iter_mut().find(|e| e.get("name") == name) {
                            Some(existing) => *existing = entry.clone(),
                            None => list.push(entry.clone()),
                        }
                    }
                }
                "commonLabels" | "commonAnnotations" => {
                    let target = map
                        .entry(field.clone())
                        .or_insert_with(|| Value::Object(Default::default()));
                    if !target.is_object() {
                        *target = Value::Object(Default::default());
                    }
                    let target = target.as_object_mut().expect("a mapping");
                    for (k, v) in value.as_object().into_iter().flatten() {
                        target.insert(k.clone(), v.clone());
                    }
                }
                "patches" | "components" | "labels" => {
                    let list = map
                        .entry(field.clone())
                        .or_insert_with(|| Value::Array(Vec::new()));
                    if !list.is_array() {
                        *list = Value::Array(Vec::new());
                    }
                    list.as_array_mut()
                        .expect("an array")
                        .extend(value.as_array().into_iter().flatten().cloned());
                }
                _ => {
                    map.insert(field.clone(), value.clone());
                }
            }
        }
        std::fs::write(&path, doc.to_string()).map_err(|e| format!("cannot write {kfile}: {e}"))
    }

    /// Writes the root kustomization `kfile` (one the repository does not have: Flux
    /// generates it), refusing to write over a file of the repository.
    pub fn write_root(&self, kfile: &str, text: &str) -> Result<(), String> {
        use std::io::Write;
        let path = self.dir.path().join(kfile);
        let mut out = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&path)
            .map_err(|e| format!("cannot write {kfile}: {e}"))?;
        out.write_all(text.as_bytes())
            .map_err(|e| format!("cannot write {kfile}: {e}"))
    }

    /// Renders the root; errors are bounded and have secret literals masked.
    pub fn render(&self, command: &(PathBuf, Vec<String>)) -> Result<String, String> {
        let folder = if self.root.is_empty() {
            self.dir.path().to_path_buf()
        } else {
            self.dir.path().join(&self.root)
        };
        render(command, &folder).map_err(|e| mask(&e, &self.secrets))
    }
}

/// `text` with each of `secrets` replaced by `***`.
fn mask(text: &str, secrets: &[String]) -> String {
    let mut out = text.to_string();
    for s in secrets {
        out = out.replace(s.as_str(), "***");
    }
    out
}

/// Removes what older kdrift versions cached: a plaintext copy of whole commit trees.
pub fn remove_legacy_cache(cache_root: &Path) {
    let old = cache_root.join("kustomize");
    if old.is_dir() {
        let _ = std::fs::remove_dir_all(&old);
    }
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

/// How long a renderer may run.
const RENDER_TIMEOUT: Duration = Duration::from_secs(120);
/// The most output a renderer may give (larger output is an error).
const RENDER_MAX_OUTPUT: usize = 256 * 1024 * 1024;
/// The most of a renderer's error text shown.
const RENDER_MAX_ERROR: usize = 4096;

/// Renders one kustomization folder; stdout on success, stderr (cut short) on failure. The
/// renderer gets no plugins (kdrift never passes `--enable-alpha-plugins`, `--enable-exec`
/// or `--enable-helm`), no stdin, and `RENDER_TIMEOUT`.
pub fn render(command: &(PathBuf, Vec<String>), dir: &Path) -> Result<String, String> {
    let mut cmd = Command::new(&command.0);
    cmd.args(&command.1).arg(dir).current_dir(dir);
    run_renderer(cmd, &|err| err.to_string())
}

/// Runs a renderer (kustomize, helm) with no stdin, `RENDER_TIMEOUT` and `RENDER_MAX_OUTPUT`:
/// its stdout on success; on failure its stderr, cut short and passed through `explain`
/// (which names the repository's paths instead of a temporary copy's).
pub fn run_renderer(cmd: Command, explain: &dyn Fn(&str) -> String) -> Result<String, String> {
    let program = PathBuf::from(cmd.get_program());
    let output = crate::process::run(
        cmd,
        crate::process::Io::Closed,
        RENDER_TIMEOUT,
        RENDER_MAX_OUTPUT,
        RENDER_MAX_ERROR,
    )
    .map_err(|e| e.to_string())?;
    if output.stdout_dropped > 0 {
        return Err(format!(
            "{} printed more than {RENDER_MAX_OUTPUT} bytes; kdrift does not read it",
            program.display()
        ));
    }
    if output.status.success() {
        return Ok(String::from_utf8_lossy(&output.stdout).into_owned());
    }
    let err = explain(String::from_utf8_lossy(&output.stderr).trim());
    Err(if err.is_empty() {
        format!("{} exited with {}", program.display(), output.status)
    } else if output.stderr_dropped > 0 {
        format!("{err} … ({} more bytes)", output.stderr_dropped)
    } else {
        err
    })
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
