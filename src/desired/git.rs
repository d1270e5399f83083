//! Reading a commit's tree with gix: resolving a revision, listing the files under the chosen
//! folders with their blob ids, reading blobs, and telling whether the working tree differs
//! from HEAD for those files. Never reads manifests from the working tree.

use super::DesiredError;
use gix::bstr::ByteSlice;
use std::path::{Path, PathBuf};

/// The commit the desired state was read from.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct RevisionInfo {
    /// What the user asked for (`HEAD`, a branch, `HEAD~2` …).
    pub spec: String,
    /// The full commit id.
    pub commit: String,
    pub short: String,
    pub subject: String,
    pub author: String,
    /// Commit time, seconds since the Unix epoch.
    pub time: i64,
    /// The branch HEAD points at, when the revision is HEAD on a branch.
    pub branch: Option<String>,
    /// The id of the commit's root tree.
    pub tree: String,
}

/// A file of the commit's tree.
#[derive(Debug, Clone)]
pub struct TreeFile {
    /// Path from the repository root, `/`-separated.
    pub path: String,
    pub blob: gix::ObjectId,
    pub is_link: bool,
}

/// A tree entry kdrift refuses to use: its name could make a path that leaves the folder it
/// is written to (`..`, an absolute or empty component, a `/` or NUL inside a name) or that
/// a filesystem reads as `.git` (any case, NTFS's trailing dots and spaces and `git~1`,
/// HFS+'s ignorable code points). Git itself refuses such trees (`fsck`, `core.protectNTFS`,
/// `core.protectHFS`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RejectedEntry {
    /// The path as far as it can be shown (control characters made visible).
    pub path: String,
    pub reason: String,
}

/// The files of a tree, and the entries refused (with everything below them).
#[derive(Debug, Clone, Default)]
pub struct TreeListing {
    pub files: Vec<TreeFile>,
    pub rejected: Vec<RejectedEntry>,
}

/// Why a tree entry's name cannot be used as one path component, if it cannot.
pub fn unsafe_component(name: &[u8]) -> Option<&'static str> {
    if name.is_empty() {
        return Some("an empty name");
    }
    if name == b"." || name == b".." {
        return Some("a `.` or `..` component");
    }
    if name.contains(&b'/') || name.contains(&b'\\') {
        return Some("a path separator inside a name");
    }
    if name.contains(&0) {
        return Some("a NUL byte");
    }
    if names_git_dir(name) {
        return Some("a name that a filesystem reads as .git");
    }
    None
}

/// Whether a name is `.git` to some filesystem: any case, with NTFS's trailing dots and
/// spaces or its short name `git~1`, or with HFS+'s ignorable code points inside.
fn names_git_dir(name: &[u8]) -> bool {
    let text = String::from_utf8_lossy(name);
    let folded: String = text
        .chars()
        .filter(|c| !is_hfs_ignorable(*c))
        .collect::<String>()
        .to_lowercase();
    let trimmed = folded.trim_end_matches(['.', ' ']);
    trimmed == ".git" || trimmed == "git~1" || trimmed.starts_with(".git:")
}

/// Code points HFS+ ignores when it compares names (as git's `is_hfs_dotgit` lists them).
fn is_hfs_ignorable(c: char) -> bool {
    matches!(c as u32, 0x200c..=0x200f | 0x202a..=0x202e | 0x206a..=0x206f | 0xfeff)
}

/// The most entries a tree listing visits.
pub const MAX_TREE_ENTRIES: usize = 2_000_000;

/// The largest manifest file read (Kubernetes itself refuses objects over about 1.5 MiB; a
/// file of many objects may be larger).
pub const MAX_MANIFEST_BYTES: u64 = 64 * 1024 * 1024;

/// What opens a repository again, as it was opened (see `GitRepo::reopener`).
pub struct Reopen {
    dir: PathBuf,
    options: gix::open::Options,
}

impl Reopen {
    pub fn open(&self) -> Result<GitRepo, DesiredError> {
        let repo = gix::open_opts(&self.dir, self.options.clone()).map_err(|e| {
            DesiredError::Repository {
                path: self.dir.clone(),
                message: e.to_string(),
            }
        })?;
        Ok(GitRepo { repo })
    }
}

/// An open repository.
pub struct GitRepo {
    repo: gix::Repository,
}

impl GitRepo {
    /// Opens the repository at `path`, or the one around the current directory.
    pub fn open(path: Option<&Path>) -> Result<Self, DesiredError> {
        let start = match path {
            Some(p) => p.to_path_buf(),
            None => std::env::current_dir().map_err(|e| DesiredError::Repository {
                path: PathBuf::from("."),
                message: e.to_string(),
            })?,
        };
        let repo = gix::discover(&start).map_err(|e| DesiredError::Repository {
            path: start.clone(),
            message: e.to_string(),
        })?;
        Ok(GitRepo { repo })
    }

    /// How to open this repository again on another thread (a handle stays on its thread).
    pub fn reopener(&self) -> Reopen {
        Reopen {
            dir: self.repo.git_dir().to_path_buf(),
            options: self.repo.open_options().clone(),
        }
    }

    /// The fetch URLs of the repository's remotes, as configured.
    pub fn remote_urls(&self) -> Vec<String> {
        let config = self.repo.config_snapshot();
        let mut out = Vec::new();
        for name in self.repo.remote_names() {
            let key = format!("remote.{name}.url");
            if let Some(url) = config.string(key.as_str()) {
                out.push(url.to_string());
            }
        }
        out
    }

    /// Where the repository's index file is (it may not exist).
    pub fn index_path(&self) -> PathBuf {
        self.repo.index_path()
    }

    /// The working tree folder, if the repository has one.
    pub fn workdir(&self) -> Option<&Path> {
        self.repo.workdir()
    }

    /// Where the repository lives (the working tree, or the git dir of a bare repository).
    pub fn location(&self) -> PathBuf {
        self.repo
            .workdir()
            .unwrap_or_else(|| self.repo.git_dir())
            .to_path_buf()
    }

    /// Resolves anything `git rev-parse` takes to a commit.
    pub fn resolve(&self, spec: &str) -> Result<RevisionInfo, DesiredError> {
        let bad = |message: String| DesiredError::Revision {
            spec: spec.to_string(),
            message,
        };
        let id = self
            .repo
            .rev_parse_single(spec)
            .map_err(|e| bad(e.to_string()))?;
        let commit = id
            .object()
            .map_err(|e| bad(e.to_string()))?
            .peel_to_commit()
            .map_err(|e| bad(e.to_string()))?;
        let message = commit.message_raw_sloppy();
        let subject = message
            .lines()
            .next()
            .map(|l| l.to_str_lossy().trim().to_string())
            .unwrap_or_default();
        let (author, time) = match commit.author() {
            Ok(sig) => (
                sig.name.to_str_lossy().to_string(),
                sig.time().map(|t| t.seconds).unwrap_or(0),
            ),
            Err(_) => (String::new(), 0),
        };
        let tree = commit.tree_id().map_err(|e| bad(e.to_string()))?;
        let commit_hex = commit.id().to_hex().to_string();
        let branch = if spec == "HEAD" {
            self.repo
                .head_name()
                .ok()
                .flatten()
                .map(|n| n.shorten().to_str_lossy().to_string())
        } else {
            None
        };
        Ok(RevisionInfo {
            spec: spec.to_string(),
            short: commit_hex.chars().take(7).collect(),
            commit: commit_hex,
            subject,
            author,
            time,
            branch,
            tree: tree.to_hex().to_string(),
        })
    }

    /// Lists every file of a commit's tree (recursively), sorted by path. Entries whose
    /// names are unsafe as path components (see `unsafe_component`), and paths that occur
    /// twice, are left out and reported instead, with all they hold.
    pub fn list_files(&self, rev: &RevisionInfo) -> Result<TreeListing, DesiredError> {
        let tree_id =
            gix::ObjectId::from_hex(rev.tree.as_bytes()).map_err(|e| DesiredError::Revision {
                spec: rev.spec.clone(),
                message: e.to_string(),
            })?;
        let mut listing = TreeListing::default();
        let mut stack = vec![(tree_id, String::new())];
        // A tree may name the same subtree many times over (a "tree bomb"): what is
        // listed is bounded, not what is stored.
        let mut budget = MAX_TREE_ENTRIES;
        // Trees named more than once are decoded once (each read of an object is a file
        // opened and inflated): those seen once, then kept from their second naming on.
        type Entries = std::rc::Rc<Vec<(gix::objs::tree::EntryMode, Vec<u8>, gix::ObjectId)>>;
        let mut seen: std::collections::HashSet<gix::ObjectId> = Default::default();
        let mut kept: std::collections::HashMap<gix::ObjectId, Entries> = Default::default();
        while let Some((id, prefix)) = stack.pop() {
            let entries: Entries = match kept.get(&id) {
                Some(e) => e.clone(),
                None => {
                    let tree = self
                        .repo
                        .find_tree(id)
                        .map_err(|e| self.object_error(&prefix, e))?;
                    let decoded = tree.decode().map_err(|e| self.object_error(&prefix, e))?;
                    let entries: Entries = std::rc::Rc::new(
                        decoded
                            .entries
                            .iter()
                            .map(|e| (e.mode, e.filename.to_vec(), e.oid.to_owned()))
                            .collect(),
                    );
                    if !seen.insert(id) {
                        kept.insert(id, entries.clone());
                    }
                    entries
                }
            };
            let mut names = std::collections::HashSet::new();
            for (mode, filename, oid) in entries.iter() {
                budget = budget.checked_sub(1).ok_or_else(|| DesiredError::Object {
                    path: rev.tree.clone(),
                    message: format!(
                        "the tree has more than {MAX_TREE_ENTRIES} entries (counting every \
                         folder as often as it is named); kdrift does not read it"
                    ),
                })?;
                let name = String::from_utf8_lossy(filename);
                let path = if prefix.is_empty() {
                    name.to_string()
                } else {
                    format!("{prefix}/{name}")
                };
                let reason = unsafe_component(filename).map(str::to_string).or_else(|| {
                    (!names.insert(filename.as_slice()))
                        .then(|| "a name that occurs twice in its folder".to_string())
                });
                if let Some(reason) = reason {
                    listing.rejected.push(RejectedEntry {
                        path: crate::text::visible_line(&path).into_owned(),
                        reason,
                    });
                    continue;
                }
                if mode.is_tree() {
                    stack.push((*oid, path));
                } else if mode.is_blob() || mode.is_link() {
                    listing.files.push(TreeFile {
                        path,
                        blob: *oid,
                        is_link: mode.is_link(),
                    });
                }
            }
        }
        listing.files.sort_by(|a, b| a.path.cmp(&b.path));
        listing.rejected.sort_by(|a, b| a.path.cmp(&b.path));
        Ok(listing)
    }

    fn object_error(&self, path: &str, e: impl std::fmt::Display) -> DesiredError {
        DesiredError::Object {
            path: if path.is_empty() {
                "/".into()
            } else {
                path.into()
            },
            message: e.to_string(),
        }
    }

    /// Reads a manifest blob's bytes, or says why not when it is larger than `limit` bytes
    /// (its size is looked up before anything is read).
    pub fn read_blob_limited(
        &self,
        file: &TreeFile,
        limit: u64,
    ) -> Result<Result<Vec<u8>, String>, DesiredError> {
        let header = self
            .repo
            .find_header(file.blob)
            .map_err(|e| self.object_error(&file.path, e))?;
        if header.size() > limit {
            return Ok(Err(format!(
                "the file is {} bytes, more than the {limit} bytes kdrift reads as one manifest file",
                header.size()
            )));
        }
        self.read_blob(file).map(Ok)
    }

    /// Reads a blob's bytes.
    pub fn read_blob(&self, file: &TreeFile) -> Result<Vec<u8>, DesiredError> {
        let mut blob = self
            .repo
            .find_blob(file.blob)
            .map_err(|e| self.object_error(&file.path, e))?;
        Ok(blob.take_data())
    }

    /// Whether `rev` is the commit HEAD points at.
    pub fn is_head(&self, rev: &RevisionInfo) -> bool {
        self.repo
            .head_id()
            .map(|id| id.to_hex().to_string().eq(&rev.commit))
            .unwrap_or(false)
    }
}

/// The manifest files (as `is_manifest` decides) whose content in the working tree at
/// `workdir` differs from `files`, including manifests that are not in the tree at all,
/// below `roots`. Reads only the working tree (no repository handle, so it can run beside
/// the parsing).
pub fn worktree_changes(
    workdir: &Path,
    index: Option<&Path>,
    files: &[TreeFile],
    roots: &[String],
    is_manifest: impl Fn(&str) -> bool,
) -> Vec<String> {
    let mut changed = Vec::new();
    let mut known = std::collections::HashSet::new();
    // As `git status` does: a file whose index entry holds the committed blob and whose stat
    // data still match that entry (and is not racily new) is unchanged without reading it;
    // every other file is read and hashed.
    let index = index.and_then(|path| {
        gix::index::File::at(path, gix::hash::Kind::Sha1, true, Default::default()).ok()
    });
    let stat_options = gix::index::entry::stat::Options {
        use_nsec: true,
        ..Default::default()
    };
    for f in files.iter().filter(|f| is_manifest(&f.path) && !f.is_link) {
        known.insert(f.path.as_str());
        let full = workdir.join(&f.path);
        let clean_by_stat = index.as_ref().is_some_and(|index| {
            let Some(entry) = index.entry_by_path(f.path.as_str().into()) else {
                return false;
            };
            let Ok(meta) = gix::index::fs::Metadata::from_path_no_follow(&full) else {
                return false;
            };
            entry.id == f.blob
                && meta.is_file()
                && gix::index::entry::Stat::from_fs(&meta).is_ok_and(|stat| {
                    entry.stat.matches(&stat, stat_options)
                        && !entry.stat.is_racy(index.timestamp(), stat_options)
                })
        });
        if clean_by_stat {
            continue;
        }
        let same = std::fs::read(&full)
            .ok()
            .and_then(|data| {
                gix::objs::compute_hash(gix::hash::Kind::Sha1, gix::objs::Kind::Blob, &data).ok()
            })
            .is_some_and(|id| id == f.blob);
        if !same {
            changed.push(f.path.clone());
        }
    }
    // Manifests present in the working tree but not committed (bounded walk).
    let mut budget = 100_000usize;
    let starts: Vec<PathBuf> = if roots.is_empty() {
        vec![workdir.to_path_buf()]
    } else {
        roots.iter().map(|r| workdir.join(r)).collect()
    };
    let mut stack = starts;
    while let Some(dir) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            budget = budget.saturating_sub(1);
            if budget == 0 {
                return changed;
            }
            let p = entry.path();
            let Ok(rel) = p.strip_prefix(workdir) else {
                continue;
            };
            let rel = rel.to_string_lossy().replace('\\', "/");
            if rel == ".git" || rel.starts_with(".git/") {
                continue;
            }
            match entry.file_type() {
                Ok(t) if t.is_dir() => stack.push(p),
                Ok(t) if t.is_file() && is_manifest(&rel) && !known.contains(rel.as_str()) => {
                    changed.push(rel);
                }
                _ => {}
            }
        }
    }
    changed.sort();
    changed
}
