//! The Git side of attribution: where a field is written in a manifest (its line, found by
//! walking the YAML block structure from the document's first line), and which commit last
//! changed that line (following the line back through the first-parent history with line
//! diffs, bounded in commits and time so that a huge history never stalls). Results are
//! cached by (commit, file, line).

use super::origin::{trace, Recipe, Traced};
use crate::drift::attribution::{CommitRef, GitSide};
use crate::drift::{DriftEntry, FieldDrift};
use crate::model::ResourceKey;
use crate::path::{FieldPath, Segment};
use gix::bstr::ByteSlice;
use similar::{DiffOp, TextDiff};
use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How far back a search goes.
#[derive(Debug, Clone, Copy)]
pub struct Bounds {
    pub max_commits: usize,
    pub max_time: Duration,
}

impl Default for Bounds {
    fn default() -> Self {
        Bounds {
            max_commits: 2000,
            max_time: Duration::from_secs(2),
        }
    }
}

/// One line of YAML: its key's indentation, the text after any `- ` markers, and whether
/// it starts a list item (with the dash's indentation).
struct YamlLine<'a> {
    indent: usize,
    rest: &'a str,
    dash: Option<usize>,
}

fn yaml_line(line: &str) -> Option<YamlLine<'_>> {
    let trimmed = line.trim_start_matches(' ');
    if trimmed.is_empty() || trimmed.starts_with('#') {
        return None;
    }
    let mut indent = line.len() - trimmed.len();
    let mut rest = trimmed;
    let mut dash = None;
    while let Some(r) = rest
        .strip_prefix("- ")
        .or_else(|| (rest == "-").then_some(""))
    {
        if dash.is_none() {
            dash = Some(indent);
        }
        let r2 = r.trim_start_matches(' ');
        indent += 2 + (r.len() - r2.len());
        rest = r2;
        if rest.is_empty() {
            break;
        }
    }
    Some(YamlLine { indent, rest, dash })
}

fn key_of(rest: &str) -> Option<(&str, &str)> {
    let (k, v) = rest.split_once(':')?;
    if !(v.is_empty() || v.starts_with(' ')) {
        return None;
    }
    let k = k.trim().trim_matches('"').trim_matches('\'');
    Some((k, v.trim()))
}

fn unquote(v: &str) -> &str {
    let v = v.split(" #").next().unwrap_or(v).trim();
    v.trim_matches('"').trim_matches('\'')
}

/// The 1-based line where `path` is written in the YAML document that starts at `doc_line`
/// of `text`, for block-style YAML; `None` when it cannot be found (flow style, JSON, a
/// path through a list without keys the text shows).
pub fn field_line(text: &str, doc_line: usize, path: &FieldPath) -> Option<usize> {
    match field_walk(text, doc_line, path, false) {
        (n, line) if n == path.0.len() => line,
        _ => None,
    }
}

/// Walks `path` through the YAML document that starts at `doc_line` of `text` as
/// `field_line` does, as far as the text goes: how many segments were found, and the line
/// of the last one found (`None` when none was). `loose` is for templates, whose list items
/// are often named by an expression: an item whose keys do not match may still be the only
/// item, or the one whose key is templated (`{{`).
pub fn field_walk(
    text: &str,
    doc_line: usize,
    path: &FieldPath,
    loose: bool,
) -> (usize, Option<usize>) {
    let lines: Vec<&str> = text.lines().collect();
    let start = doc_line.saturating_sub(1);
    let end = lines
        .iter()
        .enumerate()
        .skip(start + 1)
        .find(|(_, l)| l.starts_with("---"))
        .map(|(i, _)| i)
        .unwrap_or(lines.len());
    let start = if lines.get(start).is_some_and(|l| l.starts_with("---")) {
        start + 1
    } else {
        start
    };
    // The node we are in: its lines are those after `pos` indented deeper than `parent`.
    let mut pos = start;
    let mut parent: isize = -1;
    let mut found = None;
    for (depth, seg) in path.0.iter().enumerate() {
        let step = match seg {
            Segment::Field(name) => {
                let mut hit = None;
                for (i, l) in lines.iter().enumerate().take(end).skip(pos) {
                    let Some(y) = yaml_line(l) else { continue };
                    if (y.indent as isize) <= parent
                        && !(i == pos
                            && y.dash.is_some()
                            && (y.dash.unwrap_or(0) as isize) <= parent)
                    {
                        break;
                    }
                    if let Some((k, _)) = key_of(y.rest) {
                        if k == name {
                            hit = Some((i, y.indent));
                            break;
                        }
                    }
                }
                hit.map(|(i, indent)| (i, indent, i + 1))
            }
            Segment::Item(_) | Segment::Index(_) => {
                // List items under the current key: lines starting with `- ` indented at
                // least as deep as the key (YAML allows the dash at the key's column).
                let mut items: Vec<(usize, usize)> = Vec::new();
                for (i, l) in lines.iter().enumerate().take(end).skip(pos) {
                    let Some(y) = yaml_line(l) else { continue };
                    match y.dash {
                        Some(d)
                            if (d as isize) >= parent
                                && items.first().is_none_or(|(_, first)| *first == d) =>
                        {
                            items.push((i, d));
                        }
                        _ if (y.indent as isize) <= parent => break,
                        _ => {}
                    }
                }
                let item_lines = |n: usize, i: usize| {
                    let until = items.get(n + 1).map(|x| x.0).unwrap_or(end);
                    lines[i..until].iter().filter_map(|l| yaml_line(l))
                };
                let chosen = match seg {
                    Segment::Index(n) => items.get(*n).copied(),
                    Segment::Item(keys) => items
                        .iter()
                        .enumerate()
                        .find_map(|(n, &(i, d))| {
                            // Every key the item writes matches, and one at least: a key it
                            // leaves to the server's default (`protocol: TCP`) is no mismatch.
                            let has = |k: &str, want: Option<&str>| {
                                item_lines(n, i).any(|y| {
                                    key_of(y.rest).is_some_and(|(kk, v)| {
                                        kk == k && want.is_none_or(|w| unquote(v) == w)
                                    })
                                })
                            };
                            let matches = keys
                                .iter()
                                .all(|(k, want)| has(k, Some(want)) || !has(k, None))
                                && keys.iter().any(|(k, want)| has(k, Some(want)));
                            matches.then_some((i, d))
                        })
                        .or_else(|| {
                            if !loose {
                                return None;
                            }
                            if items.len() == 1 {
                                return items.first().copied();
                            }
                            items.iter().enumerate().find_map(|(n, &(i, d))| {
                                let templated = keys.iter().all(|(k, _)| {
                                    item_lines(n, i).any(|y| {
                                        key_of(y.rest)
                                            .is_some_and(|(kk, v)| kk == k && v.contains("{{"))
                                    })
                                });
                                templated.then_some((i, d))
                            })
                        }),
                    _ => None,
                };
                chosen.map(|(i, d)| (i, d, i))
            }
            Segment::Any => None,
        };
        let Some((i, indent, next)) = step else {
            return (depth, found.map(|i: usize| i + 1));
        };
        found = Some(i);
        parent = indent as isize;
        pos = next;
    }
    (path.0.len(), found.map(|i| i + 1))
}

/// The 1-based line where `path` is written in the YAML that a block scalar holds (`values:
/// |`, `patch: |-`), the scalar's key being on line `key_line` of `text`.
pub fn block_field_line(text: &str, key_line: usize, path: &FieldPath) -> Option<usize> {
    let lines: Vec<&str> = text.lines().collect();
    let key = lines.get(key_line.checked_sub(1)?)?;
    let key_indent = key.len() - key.trim_start_matches(' ').len();
    let body: Vec<&str> = lines[key_line..]
        .iter()
        .take_while(|l| {
            l.trim().is_empty() || l.len() - l.trim_start_matches(' ').len() > key_indent
        })
        .copied()
        .collect();
    let cut = body
        .iter()
        .filter(|l| !l.trim().is_empty())
        .map(|l| l.len() - l.trim_start_matches(' ').len())
        .min()?;
    let sub: String = body
        .iter()
        .map(|l| l.get(cut..).unwrap_or(""))
        .collect::<Vec<_>>()
        .join("\n");
    field_line(&sub, 1, path).map(|l| l + key_line)
}

/// A repository's line history, with a cache.
pub struct History {
    repo: gix::Repository,
    cache: HashMap<(String, String, usize), Option<CommitRef>>,
    /// (commit, file) → the file's blob there; blob → its text. Walking the history for
    /// many fields of one file asks the same questions again and again.
    blobs: std::cell::RefCell<HashMap<(gix::ObjectId, String), Option<gix::ObjectId>>>,
    texts: std::cell::RefCell<HashMap<gix::ObjectId, std::sync::Arc<str>>>,
    /// Commit id → (first parent, author, time, subject).
    commits: std::cell::RefCell<HashMap<gix::ObjectId, CommitFacts>>,
}

#[derive(Clone)]
struct CommitFacts {
    parent: Option<gix::ObjectId>,
    tree: Option<gix::ObjectId>,
    author: String,
    time: i64,
    summary: String,
}

impl History {
    pub fn open(path: &Path) -> Option<History> {
        gix::discover(path).ok().map(|mut repo| History {
            repo: {
                // Walking a file's history reads the same trees again for every field.
                repo.object_cache_size_if_unset(4 << 20);
                repo
            },
            cache: HashMap::new(),
            blobs: Default::default(),
            texts: Default::default(),
            commits: Default::default(),
        })
    }

    /// Tells the history the files of `commit` (hex) already read elsewhere: path → (blob
    /// id, text), as `DesiredSnapshot::texts` holds them.
    pub fn seed(
        &mut self,
        commit: &str,
        files: &HashMap<String, (gix::ObjectId, std::sync::Arc<str>)>,
    ) {
        let Ok(id) = gix::ObjectId::from_hex(commit.as_bytes()) else {
            return;
        };
        let (blobs, texts) = (self.blobs.get_mut(), self.texts.get_mut());
        for (path, (blob, text)) in files {
            blobs.insert((id, path.clone()), Some(*blob));
            texts.insert(*blob, text.clone());
        }
    }

    fn facts(&self, id: gix::ObjectId) -> Option<CommitFacts> {
        if let Some(hit) = self.commits.borrow().get(&id) {
            return Some(hit.clone());
        }
        let c = self.repo.find_commit(id).ok()?;
        let (author, time) = match c.author() {
            Ok(sig) => (
                sig.name.to_str_lossy().to_string(),
                sig.time().map(|t| t.seconds).unwrap_or(0),
            ),
            Err(_) => (String::new(), 0),
        };
        let facts = CommitFacts {
            parent: c.parent_ids().next().map(|p| p.detach()),
            tree: c.tree_id().ok().map(|t| t.detach()),
            author,
            time,
            summary: c
                .message_raw_sloppy()
                .lines()
                .next()
                .map(|l| l.to_str_lossy().trim().to_string())
                .unwrap_or_default(),
        };
        self.commits.borrow_mut().insert(id, facts.clone());
        Some(facts)
    }

    fn blob_at(&self, commit: gix::ObjectId, file: &str) -> Option<gix::ObjectId> {
        let key = (commit, file.to_string());
        if let Some(hit) = self.blobs.borrow().get(&key) {
            return *hit;
        }
        let found = self
            .facts(commit)
            .and_then(|f| f.tree)
            .and_then(|t| self.repo.find_tree(t).ok())
            .and_then(|tree| tree.lookup_entry_by_path(file).ok().flatten())
            .map(|entry| entry.object_id());
        self.blobs.borrow_mut().insert(key, found);
        found
    }

    fn text(&self, id: gix::ObjectId) -> Option<std::sync::Arc<str>> {
        if let Some(hit) = self.texts.borrow().get(&id) {
            return Some(hit.clone());
        }
        // A file larger than kdrift reads as a manifest is not read for attribution either
        // (its size is looked up first).
        let header = self.repo.find_header(id).ok()?;
        if header.size() > super::git::MAX_MANIFEST_BYTES {
            return None;
        }
        let blob = self.repo.find_blob(id).ok()?;
        let text: std::sync::Arc<str> = String::from_utf8_lossy(&blob.data).into();
        self.texts.borrow_mut().insert(id, text.clone());
        Some(text)
    }

    /// The text of `file` at `commit` (hex).
    pub fn file_at(&self, commit: &str, file: &str) -> Option<String> {
        let id = gix::ObjectId::from_hex(commit.as_bytes()).ok()?;
        self.text(self.blob_at(id, file)?).map(|t| t.to_string())
    }

    /// The commit that last changed line `line` (1-based) of `file` as of `commit`, following
    /// first parents; `None` past the bounds or when the file is not there.
    pub fn last_change(
        &mut self,
        commit: &str,
        file: &str,
        line: usize,
        bounds: Bounds,
    ) -> Option<CommitRef> {
        let key = (commit.to_string(), file.to_string(), line);
        if let Some(hit) = self.cache.get(&key) {
            return hit.clone();
        }
        let result = self.search(commit, file, line, bounds);
        // Running out of time is not cached: a later, less busy call may finish.
        if result.is_some() {
            self.cache.insert(key, result.clone());
        }
        result
    }

    fn search(&self, commit: &str, file: &str, line: usize, bounds: Bounds) -> Option<CommitRef> {
        let started = Instant::now();
        let mut current = gix::ObjectId::from_hex(commit.as_bytes()).ok()?;
        let mut blob = self.blob_at(current, file)?;
        let mut text = self.text(blob)?;
        let mut line = line;
        for _ in 0..bounds.max_commits {
            if started.elapsed() > bounds.max_time {
                return None;
            }
            let facts = self.facts(current)?;
            let parent_blob = facts
                .parent
                .and_then(|p| self.blob_at(p, file).map(|b| (p, b)));
            let Some((parent, pb)) = parent_blob else {
                // The file appears in this commit.
                return Some(self.commit_ref(current, &facts, file));
            };
            if pb != blob {
                let old = self.text(pb)?;
                let diff = TextDiff::from_lines(&*old, &*text);
                let target = line - 1;
                let mut mapped = None;
                for op in diff.ops() {
                    match *op {
                        DiffOp::Equal {
                            old_index,
                            new_index,
                            len,
                        } if (new_index..new_index + len).contains(&target) => {
                            mapped = Some(old_index + (target - new_index) + 1);
                            break;
                        }
                        DiffOp::Insert {
                            new_index, new_len, ..
                        }
                        | DiffOp::Replace {
                            new_index, new_len, ..
                        } if (new_index..new_index + new_len).contains(&target) => {
                            return Some(self.commit_ref(current, &facts, file));
                        }
                        _ => {}
                    }
                }
                line = mapped?;
                text = old;
                blob = pb;
            }
            current = parent;
        }
        None
    }

    /// How many first-parent steps back from `from` the commit `id` is (`None`: not within
    /// `max`). Tells apart commits made within the same second.
    pub fn depth(&self, from: &str, id: &str, max: usize) -> Option<usize> {
        let mut current = gix::ObjectId::from_hex(from.as_bytes()).ok()?;
        let want = gix::ObjectId::from_hex(id.as_bytes()).ok()?;
        for n in 0..max {
            if current == want {
                return Some(n);
            }
            current = self.facts(current)?.parent?;
        }
        None
    }

    fn commit_ref(&self, id: gix::ObjectId, facts: &CommitFacts, file: &str) -> CommitRef {
        CommitRef {
            id: id.to_hex().to_string(),
            author: facts.author.clone(),
            time: facts.time,
            summary: facts.summary.clone(),
            file: file.to_string(),
            line: 0,
        }
    }
}

/// The lookup that drift attribution asks (`drift::attribution::attach_commits`): for a
/// drifted field of an entry, the line of the repository at `revision` that sets it (in its
/// manifest; for a rendered object, where `desired::origin` follows it through its recipe)
/// and the commit that last changed that line (the newest, when several lines make the
/// value); or why no line can be named. It answers nothing once `budget` is spent, so that a
/// large report never waits on Git for long.
pub fn commit_lookup<'a>(
    history: &'a mut History,
    revision: &'a str,
    recipes: &'a HashMap<ResourceKey, Arc<Recipe>>,
    budget: Duration,
) -> impl FnMut(&DriftEntry, &FieldDrift) -> Option<GitSide> + 'a {
    let started = Instant::now();
    let mut texts: HashMap<String, Option<Arc<str>>> = HashMap::new();
    move |entry, field| {
        if started.elapsed() > budget {
            return None;
        }
        let src = entry.source.as_ref()?;
        let mut read = |file: &str| {
            texts
                .entry(file.to_string())
                .or_insert_with(|| history.file_at(revision, file).map(Arc::from))
                .clone()
        };
        let lines = match recipes.get(&entry.key) {
            None => {
                let text = read(&src.file)?;
                vec![(
                    src.file.clone(),
                    field_line(&text, src.line.unwrap_or(1), &field.path)?,
                )]
            }
            Some(recipe) => {
                let object = entry.desired_value()?;
                match trace(recipe, &src.file, &object, &field.path, &mut read) {
                    Traced::Lines(lines) => lines,
                    Traced::Unknown(why) => return Some(GitSide::Unknown(why)),
                }
            }
        };
        let mut newest: Option<CommitRef> = None;
        let several = lines.len() > 1;
        for (file, line) in lines {
            let left = budget.saturating_sub(started.elapsed());
            let bounds = Bounds {
                max_commits: 2000,
                max_time: left.min(Duration::from_secs(2)),
            };
            if let Some(mut c) = history.last_change(revision, &file, line, bounds) {
                c.line = line;
                c.file = file;
                let newer = match &newest {
                    None => true,
                    Some(n) if c.time != n.time => c.time > n.time,
                    // Within the same second: the one fewer commits back.
                    Some(n) if several && n.id != c.id => {
                        let depth =
                            |id: &str| history.depth(revision, id, 2000).unwrap_or(usize::MAX);
                        depth(&c.id) < depth(&n.id)
                    }
                    Some(_) => false,
                };
                if newer {
                    newest = Some(c);
                }
            }
        }
        newest.map(GitSide::Commit)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DOC: &str = "\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  labels:
    app: web
spec:
  replicas: 2
  template:
    spec:
      containers:
        - name: sidecar
          image: envoy:1
        - name: web
          image: web:1
          ports:
          - containerPort: 8080
            protocol: TCP
          args: [\"--a\"]
---
apiVersion: v1
kind: Service
metadata:
  name: web
spec:
  replicas: 9
";

    fn line(path: &str) -> Option<usize> {
        field_line(DOC, 1, &FieldPath::parse(path).unwrap())
    }

    #[test]
    fn fields_keyed_items_and_indexes_are_found() {
        assert_eq!(line("spec.replicas"), Some(8));
        assert_eq!(line("metadata.labels.app"), Some(6));
        assert_eq!(
            line("spec.template.spec.containers[name=web].image"),
            Some(15)
        );
        assert_eq!(
            line("spec.template.spec.containers[name=sidecar].image"),
            Some(13)
        );
        assert_eq!(line("spec.template.spec.containers[name=web]"), Some(14));
        assert_eq!(
            line("spec.template.spec.containers[name=web].ports[containerPort=8080,protocol=TCP]"),
            Some(17)
        );
        assert_eq!(
            line("spec.template.spec.containers[name=web].args"),
            Some(19)
        );
        assert_eq!(line("spec.template.spec.containers[1].image"), Some(15));
        // A merge key the manifest leaves to the server's default still finds its item.
        assert_eq!(
            line("spec.template.spec.containers[name=web].ports[containerPort=8080,protocol=UDP]"),
            None
        );
        assert_eq!(
            line("spec.template.spec.containers[name=web].ports[containerPort=8080,hostIP=]"),
            Some(17)
        );
        assert_eq!(line("spec.nothere"), None);
        // The second document has its own lines.
        assert_eq!(
            field_line(DOC, 20, &FieldPath::parse("spec.replicas").unwrap()),
            Some(26)
        );
    }
}
