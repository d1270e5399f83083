//! The desired state: every object a Git revision declares, read from the commit's tree with
//! gix (never from the working tree), plain manifests and rendered kustomizations alike, with
//! identities resolved (group, scope, defaulted namespace) and broken input turned into
//! `InvalidManifest`s that name the file and line. Knows nothing of clusters or the UI.

pub mod apps;
pub mod git;
pub mod helm;
pub mod history;
pub mod kustomize;
pub mod manifest;
pub mod origin;
mod parsed;
pub mod rendered;

use crate::kinds::ScopeTable;
use crate::model::{
    meta_str, split_api_version, DesiredObject, InvalidManifest, Packed, ResourceKey,
    SourceLocation,
};
use git::{GitRepo, RejectedEntry, RevisionInfo, TreeFile};
use manifest::{ManifestItem, Salvage};
use serde_json::Value;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// Why no desired state could be read at all. Problems with single files are not errors;
/// they become `InvalidManifest`s.
#[derive(Debug, thiserror::Error)]
pub enum DesiredError {
    /// No repository at or around the path.
    #[error("no Git repository at {}: {message}", path.display())]
    Repository { path: PathBuf, message: String },
    /// The revision does not resolve to a commit.
    #[error("cannot read revision {spec:?}: {message}")]
    Revision { spec: String, message: String },
    /// An object of the repository cannot be read.
    #[error("cannot read {path} from the repository: {message}")]
    Object { path: String, message: String },
    /// A `--path` names nothing in the revision.
    #[error("--path {path} matches no file in revision {rev}")]
    NoSuchPath { path: String, rev: String },
}

/// What to read.
#[derive(Debug, Clone)]
pub struct LoadOptions {
    /// The repository, or `None` for the one around the current directory.
    pub repo: Option<PathBuf>,
    pub rev: String,
    /// Folders to limit to (relative to the repository root); empty means all.
    pub paths: Vec<String>,
    /// Namespace for namespaced objects that name none.
    pub default_namespace: String,
    /// Command that renders kustomizations; empty means `kubectl` (or `kustomize`) on PATH.
    pub kustomize_command: String,
    /// Command that renders Helm charts; empty means `helm` on PATH.
    pub helm_command: String,
    /// The cluster's version and API versions for charts' `.Capabilities`, when known.
    pub capabilities: Option<helm::Capabilities>,
    /// Which GitOps apps (Argo CD Applications) are found in the repository.
    pub apps: apps::AppsOptions,
    /// Where rendered trees are cached.
    pub cache_dir: PathBuf,
}

/// A file read as a plain manifest, with what it held.
#[derive(Debug, Clone, Default)]
pub struct FileStats {
    pub manifests: usize,
    /// Files with no Kubernetes object (CI configs, Helm values), skipped.
    pub skipped: Vec<String>,
    pub kustomizations: usize,
    pub charts: usize,
}

/// Stage times of a load.
#[derive(Debug, Clone, Copy, Default)]
pub struct LoadTimings {
    pub read_git: Duration,
    pub parse: Duration,
    pub kustomize: Duration,
    pub helm: Duration,
}

/// Everything one revision declares.
#[derive(Debug, Clone, Default)]
pub struct DesiredSnapshot {
    pub repo_path: PathBuf,
    pub revision: RevisionInfo,
    /// Valid objects under the chosen paths (`--path`; all without), sorted by key, at most
    /// one per key.
    pub objects: Vec<DesiredObject>,
    /// Objects Git declares outside the chosen paths: not shown or synced, but in Git, so
    /// never `extra`.
    pub outside_paths: Vec<DesiredObject>,
    pub invalid: Vec<InvalidManifest>,
    pub files: FileStats,
    /// Manifest files whose working-tree content differs from the revision (only when the
    /// revision is HEAD).
    pub worktree_changes: Vec<String>,
    pub scopes: ScopeTable,
    pub timings: LoadTimings,
    /// The text of each plain manifest file of the revision with its blob id, by path, as
    /// read for parsing (kept so that Git attribution need not read them again). Filled by
    /// `load`; empty where the loader did not keep them.
    pub texts: std::collections::HashMap<String, (gix::ObjectId, std::sync::Arc<str>)>,
    /// The apps found in the repository (Argo CD Applications whose source is this
    /// repository), in the order found.
    pub apps: Vec<apps::App>,
    /// The app of each object and invalid manifest that belongs to one, by key.
    pub app_of: HashMap<ResourceKey, u32>,
    /// How each rendered object was made (for attribution), by key.
    pub recipes: HashMap<ResourceKey, std::sync::Arc<origin::Recipe>>,
}

/// Whether a path names a manifest file kdrift reads.
pub fn is_manifest_path(path: &str) -> bool {
    let lower = path.to_ascii_lowercase();
    lower.ends_with(".yaml") || lower.ends_with(".yml") || lower.ends_with(".json")
}

/// Normalises a `--path` value to a folder prefix relative to the repository root.
pub fn normalize_root(path: &str) -> String {
    let trimmed = path.trim().trim_start_matches("./").trim_matches('/');
    if trimmed == "." {
        String::new()
    } else {
        trimmed.to_string()
    }
}

fn in_roots(path: &str, roots: &[String]) -> bool {
    roots.is_empty()
        || roots
            .iter()
            .any(|r| r.is_empty() || path == r || path.starts_with(&format!("{r}/")))
}

/// An item read from some source, before identities are resolved.
struct RawItem {
    item: ManifestItem,
    source: SourceLocation,
    /// The folder of the kustomization or chart that rendered it (`None`: a plain file).
    root: Option<String>,
    /// The app (index into the snapshot's apps) it belongs to.
    app: Option<u32>,
    /// The namespace its app deploys to, for a namespaced object that names none.
    app_namespace: Option<String>,
    /// An invalid row that stands for the object of its key (an app that cannot render):
    /// the object's own row gives way to it.
    replaces_object: bool,
    /// How a renderer made it (`None`: written as it is in a file).
    recipe: Option<std::sync::Arc<origin::Recipe>>,
}

impl RawItem {
    fn new(item: ManifestItem, source: SourceLocation) -> Self {
        RawItem {
            item,
            source,
            root: None,
            app: None,
            app_namespace: None,
            replaces_object: false,
            recipe: None,
        }
    }
}

/// A revision opened for reading: its files and which of them kustomizations claim.
struct Revision {
    repo: GitRepo,
    revision: RevisionInfo,
    roots: Vec<String>,
    files: Vec<TreeFile>,
    /// Tree entries refused as unsafe paths: each becomes an invalid row.
    rejected: Vec<RejectedEntry>,
    plan: kustomize::KustomizePlan,
    charts: helm::ChartPlan,
}

impl Revision {
    /// The working tree, when the revision is HEAD (only then do its changes matter).
    fn worktree_dir(&self) -> Option<PathBuf> {
        self.repo
            .is_head(&self.revision)
            .then(|| self.repo.workdir().map(Path::to_path_buf))
            .flatten()
    }

    /// Renders the kustomizations, resolves identities and assembles the snapshot.
    fn finish(
        self,
        mut raw: Vec<RawItem>,
        mut stats: FileStats,
        worktree_changes: Vec<String>,
        read_git: Duration,
        parse: Duration,
        opts: &LoadOptions,
    ) -> DesiredSnapshot {
        // Every kustomization root and chart renders as it would on its own; then the apps
        // Git declares take over the folders they name (rendered their way, into their
        // namespace), app-of-apps nesting.
        let kustomize_started = Instant::now();
        let jobs: Vec<KustomizeJob> = self
            .plan
            .roots
            .iter()
            .map(|(dir, kfile)| KustomizeJob {
                dir: dir.clone(),
                kfile: kfile.clone(),
                edits: None,
                edits_at: None,
                generated: None,
            })
            .collect();
        stats.kustomizations = jobs.len();
        if !jobs.is_empty() {
            raw.extend(render_kustomize_jobs(
                &self.repo,
                &self.files,
                &self.plan.dirs,
                &jobs,
                opts,
            ));
        }
        let kustomize = kustomize_started.elapsed();
        let helm_started = Instant::now();
        let jobs: Vec<(helm::Chart, helm::RenderSpec)> = self
            .charts
            .charts
            .iter()
            .map(|c| (c.clone(), default_chart_spec(c, opts)))
            .collect();
        stats.charts = jobs.len();
        if !jobs.is_empty() {
            raw.extend(render_chart_jobs(&self.repo, &self.files, &jobs, opts));
        }
        let helm = helm_started.elapsed();
        let apps = if opts.apps.discover {
            apps::resolve(&self, &mut raw, opts)
        } else {
            Vec::new()
        };
        raw.extend(self.rejected.iter().map(|r| {
            RawItem::new(
                ManifestItem::Broken {
                    line: 1,
                    message: format!(
                        "unsafe path in the Git tree ({}); git refuses such trees, and kdrift \
                         reads nothing below it",
                        r.reason
                    ),
                    salvage: Salvage::default(),
                },
                SourceLocation {
                    file: r.path.clone(),
                    line: None,
                },
            )
        }));
        let mut snapshot = if self.roots.is_empty() {
            resolve_identities(raw, &opts.default_namespace)
        } else {
            // Everything was read (an object in Git anywhere is never extra); what the paths
            // choose is shown. Each side has its own identities: folders for different
            // clusters often declare the same objects, which conflict only within one side.
            let (inside, outside): (Vec<RawItem>, Vec<RawItem>) = raw
                .into_iter()
                .partition(|r| in_roots(&r.source.file, &self.roots));
            let mut snapshot = resolve_identities(inside, &opts.default_namespace);
            let outside = resolve_identities(outside, &opts.default_namespace);
            snapshot.outside_paths = outside.objects;
            for (k, v) in outside.app_of {
                snapshot.app_of.entry(k).or_insert(v);
            }
            snapshot
        };
        snapshot.apps = apps;
        snapshot.repo_path = self.repo.location();
        snapshot.revision = self.revision;
        snapshot.files = stats;
        snapshot.worktree_changes = worktree_changes;
        snapshot.timings = LoadTimings {
            read_git,
            parse,
            kustomize,
            helm,
        };
        snapshot
    }

    fn open(opts: &LoadOptions) -> Result<Revision, DesiredError> {
        let repo = GitRepo::open(opts.repo.as_deref())?;
        let revision = repo.resolve(&opts.rev)?;
        let roots: Vec<String> = opts.paths.iter().map(|p| normalize_root(p)).collect();
        let listing = repo.list_files(&revision)?;
        let files = listing.files;
        for (root, given) in roots.iter().zip(&opts.paths) {
            if !files
                .iter()
                .any(|f| in_roots(&f.path, std::slice::from_ref(root)))
            {
                return Err(DesiredError::NoSuchPath {
                    path: given.clone(),
                    rev: revision.short.clone(),
                });
            }
        }
        // Every kustomization is rendered and every manifest read, whatever the paths: the
        // paths choose what is shown (in `finish`), not what is in Git.
        let plan = kustomize::plan(&repo, &files, &|_| true);
        // A chart inside a kustomization's folder is the kustomization's (kdrift never
        // enables kustomize's helm support).
        let charts = helm::plan(&repo, &files, &|dir| {
            plan.dirs
                .keys()
                .any(|k| k.is_empty() || dir == k || dir.starts_with(&format!("{k}/")))
        });
        Ok(Revision {
            repo,
            revision,
            roots,
            files,
            rejected: listing.rejected,
            plan,
            charts,
        })
    }
}

impl Revision {
    /// The manifest files read as plain manifests: not links, not claimed by a
    /// kustomization or a chart.
    fn plain_files(&self) -> Vec<&TreeFile> {
        self.files
            .iter()
            .filter(|f| {
                !f.is_link
                    && is_manifest_path(&f.path)
                    && !self.plan.claimed.contains(&f.path)
                    && !self.charts.claimed.contains(&f.path)
            })
            .collect()
    }
}

/// The manifest files under `roots` whose content in the working tree `dir` differs from
/// `files` (none without a working tree to look at). Reads files only.
fn worktree_changes_at(
    dir: Option<&Path>,
    index: &Path,
    files: &[TreeFile],
    roots: &[String],
) -> Vec<String> {
    match dir {
        Some(dir) => git::worktree_changes(dir, Some(index), files, roots, is_manifest_path),
        None => Vec::new(),
    }
}

/// Reads the desired state of a revision.
pub fn load(opts: &LoadOptions) -> Result<DesiredSnapshot, DesiredError> {
    load_with(opts, |_| {})
}

/// Like `load`, calling `early_kind` with each (group, kind) pair the plain manifests appear
/// to hold as soon as the file naming it first is read (reading and parsing go on), so that a
/// caller can start fetching the live objects of those kinds in the meantime. The guess comes from
/// top-level `apiVersion:`/`kind:` lines and may miss kinds (JSON, Lists, kustomize output)
/// or name some that parsing rejects; the snapshot is what counts.
pub fn load_with(
    opts: &LoadOptions,
    mut early_kind: impl FnMut((String, String)),
) -> Result<DesiredSnapshot, DesiredError> {
    let started = Instant::now();
    let rev = Revision::open(opts)?;
    let plain = rev.plain_files();
    let workdir = rev.worktree_dir();
    let index = rev.repo.index_path();
    let mut kinds = std::collections::HashSet::new();
    let (parsed, read_git, worktree_changes) = read_and_parse(
        started,
        &rev.repo,
        &plain,
        guess_kinds,
        |guessed| {
            for pair in guessed {
                if kinds.insert(pair.clone()) {
                    early_kind(pair);
                }
            }
        },
        |_, data| {
            let items = read_blob_items(&data);
            (data.unwrap_or_default(), items)
        },
        || worktree_changes_at(workdir.as_deref(), &index, &rev.files, &rev.roots),
    )?;
    let parse = started.elapsed().saturating_sub(read_git);
    let mut texts = std::collections::HashMap::with_capacity(parsed.len());
    let mut results = Vec::with_capacity(parsed.len());
    for (f, (data, items)) in plain.iter().zip(parsed) {
        if let Ok(text) = String::from_utf8(data) {
            texts.insert(f.path.clone(), (f.blob, std::sync::Arc::<str>::from(text)));
        }
        results.push((f.path.clone(), items));
    }
    let mut stats = FileStats::default();
    let raw = assemble(results, &mut stats);
    let mut snapshot = rev.finish(raw, stats, worktree_changes, read_git, parse, opts);
    snapshot.texts = texts;
    Ok(snapshot)
}

/// Reads and parses the blobs of `files` on all cores, each thread with a repository handle
/// of its own taking the next file as it is done (a blob's read is mostly system calls, which
/// then overlap too); `seen` is shown, on this thread, what `look` made of each blob's bytes
/// as read, and `meanwhile` runs on a thread of its own beside. Returns what `parse` made of
/// each file (given its index in `files`), in file order; how long since `started` the
/// reading ended; and what `meanwhile` gave.
fn read_and_parse<R: Send, L: Send, M: Send>(
    started: Instant,
    repo: &git::GitRepo,
    files: &[&TreeFile],
    look: impl Fn(&[u8]) -> L + Sync,
    mut seen: impl FnMut(L),
    parse: impl Fn(usize, Blob) -> R + Sync,
    meanwhile: impl FnOnce() -> M + Send,
) -> Result<(Vec<R>, Duration, M), DesiredError> {
    let threads = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
        .clamp(1, 8)
        .min(files.len().max(1));
    let next = std::sync::atomic::AtomicUsize::new(0);
    // The last read's end, in nanoseconds since `started`.
    let read_end = std::sync::atomic::AtomicU64::new(0);
    let (tx, rx) = std::sync::mpsc::channel::<L>();
    let reopen = repo.reopener();
    let (parse, look, next, read_end, reopen) = (&parse, &look, &next, &read_end, &reopen);
    let (beside, done) = std::thread::scope(|scope| {
        let beside = scope.spawn(meanwhile);
        let workers: Vec<_> = (0..threads)
            .map(|_| {
                let tx = tx.clone();
                scope.spawn(move || -> Result<Vec<(usize, R)>, DesiredError> {
                    let mut done = Vec::new();
                    let repo = match reopen.open() {
                        Ok(r) => r,
                        Err(e) => {
                            next.store(files.len(), std::sync::atomic::Ordering::Relaxed);
                            return Err(e);
                        }
                    };
                    loop {
                        let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        let Some(f) = files.get(i) else { break };
                        let data = repo.read_blob_limited(f, git::MAX_MANIFEST_BYTES);
                        let at = started.elapsed().as_nanos() as u64;
                        read_end.fetch_max(at, std::sync::atomic::Ordering::Relaxed);
                        let data = match data {
                            Ok(data) => data,
                            Err(e) => {
                                // The others stop at their next file.
                                next.store(files.len(), std::sync::atomic::Ordering::Relaxed);
                                return Err(e);
                            }
                        };
                        if let Ok(bytes) = &data {
                            let _ = tx.send(look(bytes));
                        }
                        done.push((i, parse(i, data)));
                    }
                    Ok(done)
                })
            })
            .collect();
        drop(tx);
        for l in rx {
            seen(l);
        }
        let done: Vec<_> = workers.into_iter().map(|w| w.join()).collect();
        (beside.join(), done)
    });
    let mut parsed = Vec::with_capacity(files.len());
    for d in done {
        match d {
            Ok(r) => parsed.extend(r?),
            Err(panic) => std::panic::resume_unwind(panic),
        }
    }
    let beside = beside.unwrap_or_else(|panic| std::panic::resume_unwind(panic));
    if parsed.len() != files.len() {
        return Err(DesiredError::Repository {
            path: repo.location(),
            message: "a thread parsing the manifests failed".into(),
        });
    }
    parsed.sort_unstable_by_key(|p| p.0);
    let read_git = Duration::from_nanos(read_end.load(std::sync::atomic::Ordering::Relaxed));
    Ok((parsed.into_iter().map(|p| p.1).collect(), read_git, beside))
}

/// Reads objects from files given as text (path, content), as `load` does for a commit's
/// files: for tests and tools that have manifests without a repository.
pub fn from_texts(files: &[(String, String)], default_namespace: &str) -> DesiredSnapshot {
    let blobs: Vec<(String, Blob)> = files
        .iter()
        .map(|(p, t)| (p.clone(), Ok(t.clone().into_bytes())))
        .collect();
    let mut stats = FileStats::default();
    let raw = parse_files(&blobs, &mut stats);
    let mut snapshot = resolve_identities(raw, default_namespace);
    snapshot.files = stats;
    snapshot
}

/// The (group, kind) pairs named by a file's top-level `apiVersion:` and `kind:` lines,
/// document by document, each once: a cheap guess made before parsing.
fn guess_kinds(data: &[u8]) -> Vec<(String, String)> {
    let mut new: Vec<(String, String)> = Vec::new();
    let Ok(text) = std::str::from_utf8(data) else {
        return new;
    };
    let (mut api, mut kind) = (None, None);
    for line in text.lines() {
        if line.starts_with("---") {
            api = None;
            kind = None;
        } else if let Some(v) = line.strip_prefix("apiVersion:") {
            api = Some(v.trim().trim_matches(|c| c == '"' || c == '\''));
        } else if let Some(v) = line.strip_prefix("kind:") {
            kind = Some(v.trim().trim_matches(|c| c == '"' || c == '\''));
        }
        if let (Some(a), Some(k)) = (api, kind) {
            if !a.is_empty() && !k.is_empty() && !k.ends_with("List") {
                let group = split_api_version(a).0;
                if !new.iter().any(|(g, n)| g == group && n == k) {
                    new.push((group.to_string(), k.to_string()));
                }
            }
            api = None;
            kind = None;
        }
    }
    new
}

/// Parses files on all cores; keeps file order.
fn parse_files(blobs: &[(String, Blob)], stats: &mut FileStats) -> Vec<RawItem> {
    assemble(read_all(blobs), stats)
}

/// Reads every blob's documents, on all cores (files are independent; order is kept).
fn read_all(blobs: &[(String, Blob)]) -> Vec<(String, Vec<ManifestItem>)> {
    crate::par::par_map_from(blobs, 2, |(path, data)| {
        (path.clone(), read_blob_items(data))
    })
}

/// Turns each file's documents into raw items with their source, counting the files.
fn assemble(results: Vec<(String, Vec<ManifestItem>)>, stats: &mut FileStats) -> Vec<RawItem> {
    let mut out = Vec::new();
    for (path, items) in results {
        let has_object = items
            .iter()
            .any(|i| !matches!(i, ManifestItem::NotAnObject { .. }));
        if !has_object {
            stats.skipped.push(path);
            continue;
        }
        stats.manifests += 1;
        for item in items {
            let line = match &item {
                ManifestItem::Object { line, .. }
                | ManifestItem::NotAnObject { line }
                | ManifestItem::Broken { line, .. } => *line,
            };
            out.push(RawItem::new(
                item,
                SourceLocation {
                    file: path.clone(),
                    line: Some(line),
                },
            ));
        }
    }
    out
}

/// Parsed documents by blob id, so that reading a new commit parses only the blobs that
/// changed (a blob id is its content's hash: an unchanged file has the same id). Objects
/// are kept packed (a tenth of a tree's memory) and read back at each load: the explorer
/// holds this cache for its whole run.
#[derive(Default)]
pub struct ParseCache {
    /// Each blob's units (see `manifest::read_units`).
    by_blob: std::collections::HashMap<gix::ObjectId, Vec<Vec<CachedItem>>>,
    /// Blobs parsed by the last load (the rest came from the cache).
    pub last_parsed: usize,
    /// Blobs the last load found in the disk cache (`parsed`), read at the first load only;
    /// of those, the ones with a unit parsed again (a Secret's).
    pub last_from_disk: usize,
    pub last_partly_parsed: usize,
    /// Whether the disk cache was read (at the first load).
    disk_read: bool,
    /// The last write of the disk cache, while it may wait or still be going on.
    writing: Option<parsed::Pending>,
}

impl ParseCache {
    /// Writes the disk cache now, if a write waits, and returns once it is written (a test
    /// reads it next).
    pub fn wait_written(&mut self) {
        if let Some(w) = self.writing.take() {
            w.finish();
        }
    }
}

/// A parsed document as the parse cache keeps it.
#[derive(Clone)]
enum CachedItem {
    Object { object: Packed, line: usize },
    Other(ManifestItem),
}

impl CachedItem {
    /// The item as the cache keeps it: an object as its packed text.
    fn pack(item: ManifestItem) -> Self {
        match item {
            ManifestItem::Object { mut object, line } => CachedItem::Object {
                object: object.into_text(),
                line,
            },
            other => CachedItem::Other(other),
        }
    }

    /// The item for a load, its object's identity read (on the load's threads).
    fn unpack(&self) -> ManifestItem {
        match self {
            CachedItem::Object { object, line } => {
                let object = manifest::Doc::read(object);
                object.head();
                ManifestItem::Object {
                    object,
                    line: *line,
                }
            }
            CachedItem::Other(item) => item.clone(),
        }
    }
}

/// Like `load`, reading and parsing only the plain manifest blobs `cache` has not seen;
/// the cache keeps the blobs of this revision only. Kustomizations are rendered as by
/// `load` (their rendering is cached by tree id on disk).
pub fn load_cached(
    opts: &LoadOptions,
    cache: &mut ParseCache,
) -> Result<DesiredSnapshot, DesiredError> {
    let started = Instant::now();
    let rev = Revision::open(opts)?;
    let plain = rev.plain_files();
    let location = rev.repo.location();
    // The disk cache, read at the first load: blobs whose every unit it holds are ready; the
    // others it names are read again, and only their missing units parsed.
    let mut partial: std::collections::HashMap<gix::ObjectId, parsed::Units> = Default::default();
    cache.last_from_disk = 0;
    if !std::mem::replace(&mut cache.disk_read, true) && cache.by_blob.is_empty() {
        let wanted = plain.iter().map(|f| f.blob).collect();
        let found = parsed::read(&opts.cache_dir, &location, &wanted);
        cache.last_from_disk = found.len();
        for (id, units) in found {
            if units.iter().all(Option::is_some) {
                cache
                    .by_blob
                    .insert(id, units.into_iter().flatten().collect());
            } else {
                partial.insert(id, units);
            }
        }
    }
    let mut seen = std::collections::HashSet::new();
    let fresh: Vec<&TreeFile> = plain
        .iter()
        .filter(|f| !cache.by_blob.contains_key(&f.blob) && seen.insert(f.blob))
        .copied()
        .collect();
    cache.last_partly_parsed = partial.len();
    cache.last_parsed = fresh.len() - partial.len();
    // Parsed and packed on all cores as they are read, each file's trees let go as soon as
    // it is packed: a load holds objects as text (`manifest::Doc`), never a whole
    // repository's trees at once.
    let workdir = rev.worktree_dir();
    let index = rev.repo.index_path();
    let (parsed, read_git, worktree_changes) = read_and_parse(
        started,
        &rev.repo,
        &fresh,
        |_| (),
        |()| {},
        |i, blob| match partial.get(&fresh[i].blob) {
            Some(known) => complete_units(&blob, known),
            None => read_blob_units(&blob, |_| true)
                .into_iter()
                .map(|u| u.unwrap_or_default())
                .collect(),
        },
        || worktree_changes_at(workdir.as_deref(), &index, &rev.files, &rev.roots),
    )?;
    // The disk cache is written again when a blob it did not hold was parsed (one it held
    // in part, a Secret's, does not rewrite it).
    let write = fresh.iter().any(|f| !partial.contains_key(&f.blob));
    cache
        .by_blob
        .extend(fresh.iter().map(|f| f.blob).zip(parsed));
    let keep: std::collections::HashSet<gix::ObjectId> = plain.iter().map(|f| f.blob).collect();
    cache.by_blob.retain(|id, _| keep.contains(id));
    if write {
        let entries: Vec<parsed::Entry> = cache
            .by_blob
            .iter()
            .map(|(id, units)| (*id, units.clone()))
            .collect();
        let previous = cache.writing.take();
        cache.writing = parsed::write(&opts.cache_dir, &location, entries, previous);
    }
    let results: Vec<(String, Vec<ManifestItem>)> = crate::par::par_map(&plain, |f| {
        (
            f.path.clone(),
            cache
                .by_blob
                .get(&f.blob)
                .map(|units| units.iter().flatten().map(CachedItem::unpack).collect())
                .unwrap_or_default(),
        )
    });
    let mut stats = FileStats::default();
    let raw = assemble(results, &mut stats);
    let parse = started.elapsed().saturating_sub(read_git);
    Ok(rev.finish(raw, stats, worktree_changes, read_git, parse, opts))
}

/// A manifest file's bytes, or why they were not read (too large).
type Blob = Result<Vec<u8>, String>;

/// A file's items, each object packed and its tree let go (see `manifest::Doc`).
fn read_blob_items(blob: &Blob) -> Vec<ManifestItem> {
    read_blob_units(blob, |_| true)
        .into_iter()
        .flatten()
        .flatten()
        .map(|item| item.unpack())
        .collect()
}

/// A file's units (see `manifest::read_units`), those `wanted` picks read, each object
/// packed as the parse cache keeps it. A file that cannot be read as text is one unit.
fn read_blob_units(blob: &Blob, wanted: impl Fn(usize) -> bool) -> Vec<Option<Vec<CachedItem>>> {
    let broken = |line, message: &str| {
        vec![Some(vec![CachedItem::Other(ManifestItem::Broken {
            line,
            message: message.to_string(),
            salvage: Salvage::default(),
        })])]
    };
    let data = match blob {
        Ok(data) => data,
        Err(message) => return broken(1, message),
    };
    match std::str::from_utf8(data) {
        Ok(text) => manifest::read_units(text, wanted)
            .into_iter()
            .map(|u| u.map(|items| items.into_iter().map(CachedItem::pack).collect()))
            .collect(),
        Err(e) => broken(
            1 + data[..e.valid_up_to()]
                .iter()
                .filter(|&&b| b == b'\n')
                .count(),
            "the file is not valid UTF-8",
        ),
    }
}

/// A blob's units where the disk cache holds `known` (`None`: parse that unit again): only
/// those are parsed, from the blob split as before; the whole blob when it splits otherwise.
fn complete_units(blob: &Blob, known: &parsed::Units) -> Vec<Vec<CachedItem>> {
    let read = read_blob_units(blob, |i| known.get(i).is_none_or(Option::is_none));
    if read.len() != known.len() {
        return read_blob_units(blob, |_| true)
            .into_iter()
            .map(|u| u.unwrap_or_default())
            .collect();
    }
    read.into_iter()
        .zip(known)
        .map(|(read, known)| read.or_else(|| known.clone()).unwrap_or_default())
        .collect()
}

/// One kustomization to render: its folder, its file, and what an app changes in it.
pub(crate) struct KustomizeJob {
    pub dir: String,
    pub kfile: String,
    pub edits: Option<Value>,
    /// Where the app writes `edits` (for attribution).
    pub edits_at: Option<origin::Edits>,
    /// The kustomization to write at `kfile` (JSON) when the folder has none (Flux generates
    /// one): `kfile` then names no file of the repository.
    pub generated: Option<String>,
}

/// An invalid item for a renderer's failure, named after the file that asked for it.
fn render_failure(kind: &str, name: &str, file: &str, message: String) -> RawItem {
    RawItem::new(
        ManifestItem::Broken {
            line: 1,
            message,
            salvage: Salvage {
                kind: kind.into(),
                name: name.into(),
                ..Salvage::default()
            },
        },
        SourceLocation {
            file: file.to_string(),
            line: None,
        },
    )
}

/// Renders kustomizations (written out one by one on this thread, rendered at once), each
/// item tagged with its root folder.
fn render_kustomize_jobs(
    repo: &GitRepo,
    files: &[TreeFile],
    dirs: &HashMap<String, String>,
    jobs: &[KustomizeJob],
    opts: &LoadOptions,
) -> Vec<RawItem> {
    let broken = |j: &KustomizeJob, message: String| {
        let mut item = render_failure("Kustomization", &j.kfile, &j.kfile, message);
        item.root = Some(j.dir.clone());
        item
    };
    let Some(command) = kustomize::renderer(&opts.kustomize_command) else {
        return jobs
            .iter()
            .map(|j| {
                broken(
                    j,
                    "cannot render this kustomization: neither kubectl nor kustomize is on PATH \
                     (set kustomize.command in the config)"
                        .into(),
                )
            })
            .collect();
    };
    kustomize::remove_legacy_cache(&opts.cache_dir);
    // Each job's closure names what its output depends on: from the cache when it was
    // rendered before; the rest written out one by one and rendered at once.
    enum Job {
        Done(Result<std::sync::Arc<str>, String>),
        Render(String, Result<kustomize::Prepared, String>),
    }
    let prepared: Vec<Job> = jobs
        .iter()
        .map(|j| {
            let mut closure = match kustomize::closure(repo, files, &j.dir, dirs) {
                Ok(c) => c,
                Err(e) => return Job::Done(Err(e)),
            };
            // A generated kustomization's resources: their kustomizations' own closures.
            if let Some(text) = &j.generated {
                let doc: Value = serde_json::from_str(text).unwrap_or(Value::Null);
                for r in doc["resources"].as_array().into_iter().flatten() {
                    let Some(dir) = r
                        .as_str()
                        .and_then(|r| kustomize::join_normalized(&j.dir, r))
                        .filter(|d| dirs.contains_key(d))
                    else {
                        continue;
                    };
                    match kustomize::closure(repo, files, &dir, dirs) {
                        Ok(c) => {
                            closure.files.extend(c.files);
                            closure.secrets.extend(c.secrets);
                        }
                        Err(e) => return Job::Done(Err(e)),
                    }
                }
            }
            let mut key = rendered::Key::new("kustomize");
            for f in files.iter().filter(|f| closure.files.contains(&f.path)) {
                key.file(f);
            }
            key.text(&j.dir);
            key.text(&j.edits.as_ref().map(Value::to_string).unwrap_or_default());
            key.text(j.generated.as_deref().unwrap_or_default());
            key.program(&command.0);
            for a in &command.1 {
                key.text(a);
            }
            let key = key.finish();
            if let Some(text) = rendered::cached(&key, &opts.cache_dir) {
                return Job::Done(Ok(text));
            }
            let p = kustomize::prepare(repo, files, &j.dir, closure).and_then(|p| {
                if let Some(text) = &j.generated {
                    p.write_root(&j.kfile, text)?;
                }
                if let Some(edits) = &j.edits {
                    p.edit_root(&j.kfile, edits)?;
                }
                Ok(p)
            });
            Job::Render(key, p)
        })
        .collect();
    let rendered: Vec<Result<std::sync::Arc<str>, String>> = std::thread::scope(|scope| {
        let handles: Vec<_> = prepared
            .iter()
            .map(|job| {
                let command = &command;
                scope.spawn(move || match job {
                    Job::Done(result) => result.clone(),
                    Job::Render(key, Ok(p)) => p.render(command).map(|text| {
                        let text: std::sync::Arc<str> = text.into();
                        rendered::store(key, &text, &opts.cache_dir);
                        text
                    }),
                    Job::Render(_, Err(e)) => Err(e.clone()),
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|_| Err("the renderer thread failed".into()))
            })
            .collect()
    });
    drop(prepared);
    let mut out = Vec::new();
    for (j, result) in jobs.iter().zip(rendered) {
        match result {
            Ok(text) => {
                let recipe = std::sync::Arc::new(origin::Recipe::Kustomize {
                    kfile: j.kfile.clone(),
                    edits: j.edits_at.clone(),
                    generated: j.generated.as_deref().map(std::sync::Arc::from),
                });
                // A generated kustomization is no file: its objects come from the folder.
                let file = match &j.generated {
                    Some(_) if j.dir.is_empty() => ".".to_string(),
                    Some(_) => j.dir.clone(),
                    None => j.kfile.clone(),
                };
                for item in manifest::read_file(&text) {
                    let mut item = RawItem::new(
                        item,
                        SourceLocation {
                            file: file.clone(),
                            line: None,
                        },
                    );
                    item.root = Some(j.dir.clone());
                    item.recipe = Some(recipe.clone());
                    out.push(item);
                }
            }
            Err(e) => out.push(broken(j, format!("kustomize failed: {e}"))),
        }
    }
    out
}

/// Renders charts (each from the caches when it can; the rest written out one by one on
/// this thread and rendered a few at a time), each item tagged with the chart's folder and
/// sourced from the template that made it.
fn render_chart_jobs(
    repo: &GitRepo,
    files: &[TreeFile],
    jobs: &[(helm::Chart, helm::RenderSpec)],
    opts: &LoadOptions,
) -> Vec<RawItem> {
    let broken = |c: &helm::Chart, message: String| {
        let mut item = render_failure("HelmChart", &c.dir, &c.chart_file, message);
        item.root = Some(c.dir.clone());
        item
    };
    let Some(helm) = helm::renderer(&opts.helm_command) else {
        return jobs
            .iter()
            .map(|(c, _)| {
                broken(
                    c,
                    "cannot render this Helm chart: helm is not on PATH (set helm.command in \
                     the config)"
                        .into(),
                )
            })
            .collect();
    };
    let mut rendered: Vec<(usize, Result<std::sync::Arc<str>, String>)> = Vec::new();
    let mut pending: Vec<(usize, String, helm::PreparedChart)> = Vec::new();
    for (i, (c, spec)) in jobs.iter().enumerate() {
        if let Some(why) = helm::unrenderable(c) {
            rendered.push((i, Err(why)));
            continue;
        }
        let key = helm::cache_key(files, c, spec, &helm);
        if let Some(text) = rendered::cached(&key, &opts.cache_dir) {
            rendered.push((i, Ok(text)));
            continue;
        }
        match helm::prepare(repo, files, c, spec) {
            Ok(p) => pending.push((i, key, p)),
            Err(e) => rendered.push((i, Err(e))),
        }
    }
    let threads = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
        .clamp(1, 4);
    let next = std::sync::atomic::AtomicUsize::new(0);
    let fresh: Vec<(usize, Result<std::sync::Arc<str>, String>)> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..threads.min(pending.len()))
            .map(|_| {
                scope.spawn(|| {
                    let mut done = Vec::new();
                    loop {
                        let n = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        let Some((i, key, prepared)) = pending.get(n) else {
                            break;
                        };
                        let result = prepared.render(&helm).map(|text| {
                            let text: std::sync::Arc<str> = text.into();
                            rendered::store(key, &text, &opts.cache_dir);
                            text
                        });
                        done.push((*i, result));
                    }
                    done
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap_or_default())
            .collect()
    });
    drop(pending);
    rendered.extend(fresh);
    rendered.sort_by_key(|(i, _)| *i);
    let paths: std::collections::HashSet<&str> = files.iter().map(|f| f.path.as_str()).collect();
    let mut out = Vec::new();
    for (i, result) in rendered {
        let chart = &jobs[i].0;
        match result {
            Ok(text) => {
                let recipe = std::sync::Arc::new(origin::Recipe::Helm {
                    chart: chart.dir.clone(),
                    values: jobs[i].1.origins.clone(),
                    chart_values: !jobs[i].1.without_chart_values,
                });
                for (source, doc) in helm::split_sources(&text, chart, &paths) {
                    for item in manifest::read_file(doc) {
                        let mut item = RawItem::new(
                            item,
                            SourceLocation {
                                file: source.clone(),
                                line: None,
                            },
                        );
                        item.root = Some(chart.dir.clone());
                        item.recipe = Some(recipe.clone());
                        out.push(item);
                    }
                }
            }
            Err(e) => out.push(broken(chart, format!("helm template failed: {e}"))),
        }
    }
    out
}

/// How a chart renders when no app says otherwise: as Argo CD names a chart's release when
/// nothing else does, after its folder (the chart's name at the repository root), into the
/// default namespace, with the chart's own values.
fn default_chart_spec(c: &helm::Chart, opts: &LoadOptions) -> helm::RenderSpec {
    helm::RenderSpec {
        release: c
            .dir
            .rsplit('/')
            .next()
            .filter(|d| !d.is_empty())
            .unwrap_or(&c.name)
            .to_string(),
        namespace: opts.default_namespace.clone(),
        values: Vec::new(),
        set: Vec::new(),
        capabilities: opts.capabilities.clone(),
        origins: Vec::new(),
        without_chart_values: false,
    }
}

/// Gives every object its key, collects invalid items and refuses duplicate keys (both
/// places named).
fn resolve_identities(raw: Vec<RawItem>, default_namespace: &str) -> DesiredSnapshot {
    let mut scopes = ScopeTable::default();
    for r in &raw {
        if let ManifestItem::Object { object, .. } = &r.item {
            let head = object.head();
            let api = head.get("apiVersion").and_then(Value::as_str).unwrap_or("");
            let kind = head.get("kind").and_then(Value::as_str).unwrap_or("");
            if kind == "CustomResourceDefinition" && api.starts_with("apiextensions.k8s.io/") {
                scopes.learn_crd(object.tree());
            }
        }
    }
    let key_for = |api: &str,
                   kind: &str,
                   ns: &str,
                   name: &str,
                   scopes: &ScopeTable,
                   default_namespace: &str| {
        let (group, _) = split_api_version(api);
        let ns = if scopes.is_namespaced(group, kind) {
            if ns.is_empty() {
                default_namespace
            } else {
                ns
            }
        } else {
            ""
        };
        ResourceKey::new(group, kind, ns, name)
    };
    let mut invalid = Vec::new();
    let mut by_key: HashMap<ResourceKey, Vec<DesiredObject>> = HashMap::new();
    let mut app_of: HashMap<ResourceKey, u32> = HashMap::new();
    let mut recipes: HashMap<ResourceKey, std::sync::Arc<origin::Recipe>> = HashMap::new();
    let mut replaced: std::collections::HashSet<ResourceKey> = Default::default();
    for r in raw {
        let default_namespace = r.app_namespace.as_deref().unwrap_or(default_namespace);
        match r.item {
            ManifestItem::NotAnObject { .. } => invalid.push(InvalidManifest {
                key: None,
                api_version: String::new(),
                source: r.source,
                message: "the document has no apiVersion and no kind".into(),
            }),
            ManifestItem::Broken {
                message, salvage, ..
            } => {
                let key = (!salvage.kind.is_empty() || !salvage.name.is_empty()).then(|| {
                    key_for(
                        &salvage.api_version,
                        &salvage.kind,
                        &salvage.namespace,
                        &salvage.name,
                        &scopes,
                        default_namespace,
                    )
                });
                if let (Some(k), Some(app)) = (&key, r.app) {
                    app_of.insert(k.clone(), app);
                }
                if let (Some(k), true) = (&key, r.replaces_object) {
                    replaced.insert(k.clone());
                }
                invalid.push(InvalidManifest {
                    key,
                    api_version: salvage.api_version,
                    source: r.source,
                    message,
                });
            }
            ManifestItem::Object { mut object, .. } => {
                let head = object.head();
                let api = head
                    .get("apiVersion")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_string();
                let kind = head
                    .get("kind")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_string();
                let name = meta_str(head, "name").to_string();
                let ns = meta_str(head, "namespace").to_string();
                let generate_name = meta_str(head, "generateName").to_string();
                // A hook named by the server (`generateName`) is shown under its prefix: hooks
                // are never compared, so no live object needs to match it.
                let name = if name.is_empty()
                    && !generate_name.is_empty()
                    && crate::drift::hook_of(head).is_some()
                {
                    generate_name
                } else {
                    name
                };
                let key = key_for(&api, &kind, &ns, &name, &scopes, default_namespace);
                if let Some(app) = r.app {
                    app_of.insert(key.clone(), app);
                }
                if name.is_empty() {
                    let generate = !meta_str(head, "generateName").is_empty();
                    invalid.push(InvalidManifest {
                        key: Some(key),
                        api_version: api,
                        source: r.source,
                        message: if generate {
                            "the object has only metadata.generateName; kdrift cannot track \
                             objects whose name the server picks"
                                .into()
                        } else {
                            "the object has no metadata.name".into()
                        },
                    });
                    continue;
                }
                set_namespace(&mut object, &key.namespace);
                if let Some(recipe) = r.recipe {
                    recipes.insert(key.clone(), recipe);
                }
                by_key.entry(key.clone()).or_default().push(DesiredObject {
                    key,
                    api_version: api,
                    object: object.packed(),
                    source: r.source,
                });
            }
        }
    }
    by_key.retain(|k, _| !replaced.contains(k));
    let mut objects = Vec::with_capacity(by_key.len());
    let mut by_key: Vec<_> = by_key.into_iter().collect();
    by_key.sort_unstable_by(|a, b| a.0.cmp(&b.0));
    for (key, mut defs) in by_key {
        if defs.len() == 1 {
            objects.extend(defs.pop());
        } else {
            let places: Vec<String> = defs.iter().map(|d| d.source.to_string()).collect();
            invalid.push(InvalidManifest {
                key: Some(key),
                api_version: defs[0].api_version.clone(),
                source: defs[0].source.clone(),
                message: format!("defined {} times: {}", defs.len(), places.join(" and ")),
            });
        }
    }
    DesiredSnapshot {
        objects,
        invalid,
        scopes,
        app_of,
        recipes,
        ..DesiredSnapshot::default()
    }
}

/// Corrects identities with the scopes a cluster reported (they win over kdrift's table):
/// a kind the cluster says is namespaced gets `default_namespace` where Git named none, a
/// cluster-scoped one loses the namespace Git wrote.
pub fn rescope(
    snapshot: &mut DesiredSnapshot,
    is_namespaced: impl Fn(&str, &str) -> Option<bool>,
    default_namespace: &str,
) {
    let mut changed = false;
    for o in snapshot
        .objects
        .iter_mut()
        .chain(snapshot.outside_paths.iter_mut())
    {
        let Some(namespaced) = is_namespaced(&o.key.group, &o.key.kind) else {
            continue;
        };
        snapshot.scopes.set(&o.key.group, &o.key.kind, namespaced);
        let ns = scoped_namespace(o, namespaced, default_namespace);
        if ns != o.key.namespace {
            o.key.namespace = ns.clone();
            let mut object = o.object.value();
            if namespace_differs(&object, &ns) {
                set_namespace_in(&mut object, &ns);
                o.object = Packed::new(&object);
            }
            changed = true;
        }
    }
    if changed {
        snapshot.objects.sort_by(|a, b| a.key.cmp(&b.key));
    }
}

/// Whether `rescope` would move any object to another namespace (else it only records the
/// scopes, which then agree with those the objects were read with).
pub fn rescope_moves(
    snapshot: &DesiredSnapshot,
    is_namespaced: impl Fn(&str, &str) -> Option<bool>,
    default_namespace: &str,
) -> bool {
    snapshot
        .objects
        .iter()
        .chain(snapshot.outside_paths.iter())
        .any(|o| {
            is_namespaced(&o.key.group, &o.key.kind)
                .is_some_and(|n| scoped_namespace(o, n, default_namespace) != o.key.namespace)
        })
}

/// The namespace an object has once its kind's scope is known.
fn scoped_namespace(o: &DesiredObject, namespaced: bool, default_namespace: &str) -> String {
    if !namespaced {
        return String::new();
    }
    if !o.key.namespace.is_empty() {
        return o.key.namespace.clone();
    }
    let written = o.object.meta_str("namespace");
    if written.is_empty() {
        default_namespace.to_string()
    } else {
        written
    }
}

impl DesiredSnapshot {
    /// Tracking of this snapshot's apps, marked as `how` says (annotation, label).
    pub fn app_tracking(
        &self,
        how: &crate::drift::AppTracking,
    ) -> std::sync::Arc<crate::drift::AppTracking> {
        let names: Vec<std::sync::Arc<str>> = self
            .apps
            .iter()
            .map(|a| std::sync::Arc::<str>::from(a.name.as_str()))
            .collect();
        std::sync::Arc::new(crate::drift::AppTracking {
            by_key: self
                .app_of
                .iter()
                .filter_map(|(k, i)| Some((k.clone(), names.get(*i as usize)?.clone())))
                .collect(),
            names: self
                .apps
                .iter()
                .zip(&names)
                .filter(|(a, _)| a.kind == "Application")
                .map(|(_, n)| n.clone())
                .collect(),
            by_annotation: how.by_annotation,
            label: how.label.clone(),
            flux: self
                .apps
                .iter()
                .zip(&names)
                .filter(|(a, _)| a.kind == "Kustomization")
                .map(|(a, n)| ((a.namespace.clone(), a.name.clone()), n.clone()))
                .collect(),
            releases: self
                .apps
                .iter()
                .zip(&names)
                .filter(|(a, _)| a.kind == "HelmRelease")
                .map(|(a, n)| {
                    (
                        (a.destination_namespace.clone(), a.release.clone()),
                        n.clone(),
                    )
                })
                .collect(),
        })
    }

    /// The CustomResourceDefinitions Git declares, by the (group, kind) each defines: their
    /// names (to say why a kind's objects are missing when its definition is not installed).
    pub fn crds_by_kind(&self) -> std::collections::HashMap<(String, String), String> {
        self.objects
            .iter()
            .filter(|o| {
                o.key.kind == "CustomResourceDefinition" && o.key.group == "apiextensions.k8s.io"
            })
            .filter_map(|o| {
                let object = o.object.value();
                let g = object.pointer("/spec/group")?.as_str()?.to_string();
                let k = object.pointer("/spec/names/kind")?.as_str()?.to_string();
                Some(((g, k), o.key.name.clone()))
            })
            .collect()
    }

    /// The keys of the objects Git declares outside the chosen paths.
    pub fn outside_keys(&self) -> std::collections::HashSet<ResourceKey> {
        self.outside_paths.iter().map(|o| o.key.clone()).collect()
    }
}

/// Writes the resolved namespace into the object (or removes it for cluster-scoped kinds),
/// so later stages see what the server would; the tree is copied only when it changes (the
/// other stages share it).
fn set_namespace(object: &mut manifest::Doc, namespace: &str) {
    if !namespace_differs(object.head(), namespace) {
        return;
    }
    set_namespace_in(object.make_mut(), namespace);
}

/// Whether `set_namespace_in` would change `object`.
fn namespace_differs(object: &Value, namespace: &str) -> bool {
    let same = match object.pointer("/metadata/namespace") {
        None => namespace.is_empty(),
        Some(v) => v.as_str() == Some(namespace) && !namespace.is_empty(),
    };
    !same && object.get("metadata").is_some_and(Value::is_object)
}

fn set_namespace_in(object: &mut Value, namespace: &str) {
    if let Some(meta) = object.get_mut("metadata").and_then(Value::as_object_mut) {
        if namespace.is_empty() {
            meta.remove("namespace");
        } else {
            meta.insert("namespace".into(), Value::String(namespace.to_string()));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The deepest document the YAML reader builds (`yaml::MAX_DEPTH` containers) reads back
    /// from its packed text whole: desired objects are kept packed, and a tree that did not
    /// come back would be compared as nothing.
    #[test]
    fn the_deepest_readable_document_reads_back_from_its_packed_text() {
        let mut v = Value::String("leaf".into());
        for i in 0..crate::yaml::MAX_DEPTH {
            v = if i % 2 == 0 {
                serde_json::json!({ "k": v })
            } else {
                serde_json::json!([v])
            };
        }
        let packed = Packed::new(&v);
        assert_eq!(packed.value(), v);
        assert!(packed.same(&packed.clone()));
        assert!(!packed.same(&Packed::new(&v)));
    }

    #[test]
    fn cluster_scopes_win_over_the_table() {
        let mut snap = from_texts(
            &[("a.yaml".into(), "apiVersion: example.com/v1\nkind: Gadget\nmetadata: {name: g, namespace: ignored}\n---\napiVersion: example.com/v1\nkind: Widget\nmetadata: {name: w}\n".into())],
            "team",
        );
        // Unknown kinds were taken as namespaced; the cluster says Gadget is cluster-scoped.
        assert_eq!(snap.objects[0].key.namespace, "ignored");
        rescope(&mut snap, |_, k| Some(k == "Widget"), "team");
        let keys: Vec<String> = snap.objects.iter().map(|o| o.key.to_string()).collect();
        assert_eq!(keys, ["example.com/Gadget//g", "example.com/Widget/team/w"]);
        assert!(snap.objects[0].object.value()["metadata"]
            .get("namespace")
            .is_none());
    }

    #[test]
    fn roots_are_folder_prefixes() {
        assert_eq!(normalize_root("./apps/"), "apps");
        assert_eq!(normalize_root("."), "");
        assert!(in_roots("apps/a.yaml", &["apps".into()]));
        assert!(!in_roots("apps2/a.yaml", &["apps".into()]));
    }

    #[test]
    fn duplicates_name_both_places_and_cluster_scope_drops_namespace() {
        let obj = |ns: &str| serde_json::json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "a", "namespace": ns}});
        let item = |object: Value, file: &str| {
            RawItem::new(
                ManifestItem::Object {
                    object: manifest::Doc::new(object),
                    line: 1,
                },
                SourceLocation {
                    file: file.into(),
                    line: Some(1),
                },
            )
        };
        let ns = serde_json::json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "x", "namespace": "junk"}});
        let snap = resolve_identities(
            vec![
                item(obj("default"), "a.yaml"),
                item(obj(""), "b.yaml"),
                item(ns, "ns.yaml"),
            ],
            "default",
        );
        assert_eq!(snap.objects.len(), 1);
        assert_eq!(snap.objects[0].key.to_string(), "/Namespace//x");
        assert_eq!(snap.invalid.len(), 1);
        assert!(snap.invalid[0].message.contains("a.yaml:1 and b.yaml:1"));
    }
}
