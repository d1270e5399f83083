//! Where a rendered object's field was set: the line of the repository that gave a field of
//! an object kustomize or helm rendered, so that attribution can follow that line's history
//! as it does for plain files.
//!
//! * kustomize: the app's own edits (an Argo CD Application's `kustomize:`, a Flux
//!   Kustomization's spec), then each kustomization from the root inwards: its transformer
//!   lines (`images:`, `replicas:`, `namespace:`, `namePrefix:`, `commonLabels:`, `labels:`,
//!   `commonAnnotations:`), the last patch that sets the field (strategic merge or JSON 6902,
//!   inline or in a file), else the resource it takes the object from (a base, recursively, or
//!   a file's document), or the generator that makes it.
//! * helm: the template's line for the field; when the template takes it straight from
//!   `.Values` (`{{ .Values.image.tag }}`, `toYaml .Values.resources`, `with .Values.x`), the
//!   values line that sets it, from the highest layer down: the app's parameters and values,
//!   its value files, the chart's `values.yaml`.
//!
//! Pure over the texts `read` gives (the files at the report's revision). What cannot be
//! followed is said (`Traced::Unknown`), never guessed.

use super::history::{block_field_line, field_line, field_walk};
use crate::path::{FieldPath, Segment};
use serde_json::Value;
use std::sync::Arc;

/// How a rendered object was made: what `trace` needs to follow its fields back.
#[derive(Debug, Clone, PartialEq)]
pub enum Recipe {
    /// kustomize built the kustomization file `kfile`, after the app's `edits`, if any;
    /// `generated` is its text when the repository has none (Flux generates it).
    Kustomize {
        kfile: String,
        edits: Option<Edits>,
        generated: Option<Arc<str>>,
    },
    /// helm rendered the chart in the folder `chart` with these values, lowest precedence
    /// first (all after the chart's own `values.yaml`, when `chart_values`).
    Helm {
        chart: String,
        values: Vec<Values>,
        chart_values: bool,
    },
}

/// A place in a manifest: its file, the line its document starts on, the path within it.
#[derive(Debug, Clone, PartialEq)]
pub struct At {
    pub file: String,
    pub doc_line: usize,
    pub at: FieldPath,
}

/// The kustomize settings an app adds to its root kustomization.
#[derive(Debug, Clone, PartialEq)]
pub struct Edits {
    pub place: At,
    /// Flux's names (`targetNamespace`, `commonMetadata`) instead of kustomize's.
    pub flux: bool,
}

/// One layer of a chart's values.
#[derive(Debug, Clone, PartialEq)]
pub enum Values {
    /// A values file of the repository, whole.
    File(String),
    /// YAML written in a manifest (`valuesObject`, a HelmRelease's `values`).
    Yaml(At),
    /// A string holding YAML (`values: |`, a ConfigMap's key).
    Block(At),
    /// Argo CD's `parameters`: items `{name: a.b, value}`.
    Parameters(At),
    /// Values kdrift cannot look into (a Secret's), named.
    Opaque(String),
}

/// Where a field was set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Traced {
    /// The lines (file, 1-based line) that set it; more than one when it is made of several
    /// values (`{{ .Values.image.repository }}:{{ .Values.image.tag }}`).
    Lines(Vec<(String, usize)>),
    /// Why it cannot be said.
    Unknown(String),
}

/// The texts of the repository, by path (`None`: no such file).
pub type Read<'a> = dyn FnMut(&str) -> Option<Arc<str>> + 'a;

/// Where the field at `path` of `object` (as rendered) was set. `source` is the file the
/// object was rendered from (the template for helm).
pub fn trace(
    recipe: &Recipe,
    source: &str,
    object: &Value,
    path: &FieldPath,
    read: &mut Read<'_>,
) -> Traced {
    match recipe {
        Recipe::Kustomize {
            kfile,
            edits,
            generated,
        } => {
            let mut read_generated = |p: &str| match generated {
                Some(text) if p == kfile => Some(text.clone()),
                _ => read(p),
            };
            trace_kustomize(kfile, edits.as_ref(), object, path, &mut read_generated)
        }
        Recipe::Helm {
            chart,
            values,
            chart_values,
        } => {
            let chart_file = subchart(chart, source);
            // Without the chart's values (Flux's valuesFiles), a subchart's own still count.
            let own = (*chart_values || !chart_file.0.is_empty()).then_some(chart_file);
            trace_helm(values, own, source, object, path, read)
        }
    }
}

fn str_at<'a>(v: &'a Value, pointer: &str) -> &'a str {
    v.pointer(pointer).and_then(Value::as_str).unwrap_or("")
}

fn list<'a>(v: &'a Value, key: &str) -> &'a [Value] {
    v.get(key)
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or(&[])
}

fn join(a: &FieldPath, b: &[Segment]) -> FieldPath {
    FieldPath(a.0.iter().chain(b).cloned().collect())
}

fn field(name: &str) -> Segment {
    Segment::Field(name.to_string())
}

fn parent_dir(path: &str) -> &str {
    path.rsplit_once('/').map(|(d, _)| d).unwrap_or("")
}

// ---------------------------------------------------------------------------------------
// kustomize

/// One layer of kustomize settings: a kustomization file, or an app's edits.
struct Level<'t> {
    file: &'t str,
    text: &'t str,
    doc_line: usize,
    at: FieldPath,
    doc: &'t Value,
    flux: bool,
}

impl Level<'_> {
    fn line(&self, sub: &[Segment]) -> Option<(String, usize)> {
        field_line(self.text, self.doc_line, &join(&self.at, sub))
            .map(|l| (self.file.to_string(), l))
    }
}

fn trace_kustomize(
    kfile: &str,
    edits: Option<&Edits>,
    object: &Value,
    path: &FieldPath,
    read: &mut Read<'_>,
) -> Traced {
    let kind = str_at(object, "/kind");
    let name = str_at(object, "/metadata/name");
    let mut name = name.to_string();
    if let Some(e) = edits {
        if let Some(text) = read(&e.place.file) {
            let whole = crate::yaml::parse_document(doc_text(&text, e.place.doc_line), 1)
                .ok()
                .flatten()
                .unwrap_or(Value::Null);
            let doc = e.place.at.lookup(&whole).cloned().unwrap_or(Value::Null);
            let level = Level {
                file: &e.place.file,
                text: &text,
                doc_line: e.place.doc_line,
                at: e.place.at.clone(),
                doc: &doc,
                flux: e.flux,
            };
            name = unprefixed(&doc, &name);
            if let Some(hit) = level_sets(&level, kind, &name, object, path, read) {
                return Traced::Lines(vec![hit]);
            }
        }
    }
    let mut steps = 0;
    match walk(kfile, kind, &name, object, path, read, &mut steps) {
        Some(t) => t,
        None => Traced::Unknown(format!(
            "kdrift could not find which resource of {kfile} makes {kind} {name}"
        )),
    }
}

/// The text of the document that starts at `doc_line` (1-based) of `text`, to its end.
fn doc_text(text: &str, doc_line: usize) -> &str {
    let mut offset = 0;
    for (i, l) in text.split_inclusive('\n').enumerate() {
        if i + 1 >= doc_line {
            break;
        }
        offset += l.len();
    }
    let rest = &text[offset.min(text.len())..];
    let body = rest
        .strip_prefix("---")
        .map(|r| r.split_once('\n').map(|x| x.1).unwrap_or(""))
        .unwrap_or(rest);
    match body.find("\n---") {
        Some(end) => &body[..end + 1],
        None => body,
    }
}

/// `name` without the level's `namePrefix` and `nameSuffix`.
fn unprefixed(doc: &Value, name: &str) -> String {
    let mut n = name;
    if let Some(p) = doc.get("namePrefix").and_then(Value::as_str) {
        n = n.strip_prefix(p).unwrap_or(n);
    }
    if let Some(s) = doc.get("nameSuffix").and_then(Value::as_str) {
        n = n.strip_suffix(s).unwrap_or(n);
    }
    n.to_string()
}

/// How many kustomizations one trace visits at most.
const MAX_KUSTOMIZATIONS: usize = 200;

const KUSTOMIZATION_FILES: [&str; 3] = ["kustomization.yaml", "kustomization.yml", "Kustomization"];

/// Follows the object `kind`/`name` (as kustomization `kfile` outputs it) to where the field
/// was set; `None` when this kustomization does not make the object.
fn walk(
    kfile: &str,
    kind: &str,
    name: &str,
    object: &Value,
    path: &FieldPath,
    read: &mut Read<'_>,
    steps: &mut usize,
) -> Option<Traced> {
    // Kustomizations nest and share bases: a bound on the kustomizations visited keeps a
    // cycle or a lattice of bases from taking long.
    *steps += 1;
    if *steps > MAX_KUSTOMIZATIONS {
        return None;
    }
    let text = read(kfile)?;
    let doc = crate::yaml::parse_document(&text, 1).ok().flatten()?;
    let inner = unprefixed(&doc, name);
    let dir = parent_dir(kfile);
    let mut found = None;
    let refs = ["resources", "bases", "components"]
        .iter()
        .flat_map(|k| list(&doc, k).iter())
        .filter_map(Value::as_str)
        .filter(|r| !super::kustomize::is_remote(r));
    for r in refs.map(str::to_string).collect::<Vec<_>>() {
        let Some(p) = super::kustomize::join_normalized(dir, &r) else {
            continue;
        };
        let nested = KUSTOMIZATION_FILES
            .iter()
            .filter_map(|f| super::kustomize::join_normalized(&p, f))
            .find(|f| read(f).is_some());
        if let Some(k) = nested {
            if let Some(t) = walk(&k, kind, &inner, object, path, read, steps) {
                found = Some(t);
                break;
            }
            continue;
        }
        let Some(file_text) = read(&p) else { continue };
        let doc_line =
            super::manifest::read_file(&file_text)
                .into_iter()
                .find_map(|item| match item {
                    super::manifest::ManifestItem::Object { object: o, line }
                        if str_at(o.tree(), "/kind") == kind
                            && str_at(o.tree(), "/metadata/name") == inner =>
                    {
                        Some(line)
                    }
                    _ => None,
                });
        if let Some(doc_line) = doc_line {
            found = Some(match field_line(&file_text, doc_line, path) {
                Some(l) => Traced::Lines(vec![(p.clone(), l)]),
                None => Traced::Unknown(format!(
                    "{p} does not write it, and kdrift found no patch or transformer that does"
                )),
            });
            break;
        }
    }
    if found.is_none() {
        // Generated ConfigMaps and Secrets: the generator's entry (its name, hash-suffixed).
        for (g, k) in [
            ("configMapGenerator", "ConfigMap"),
            ("secretGenerator", "Secret"),
        ] {
            if k != kind {
                continue;
            }
            for (i, entry) in list(&doc, g).iter().enumerate() {
                let n = str_at(entry, "/name");
                if !n.is_empty()
                    && (inner == n || inner.strip_prefix(n).is_some_and(|r| r.starts_with('-')))
                {
                    let line = field_line(&text, 1, &FieldPath(vec![field(g), Segment::Index(i)]));
                    found = Some(match line {
                        Some(l) => Traced::Lines(vec![(kfile.to_string(), l)]),
                        None => Traced::Unknown(format!("{kfile} generates it")),
                    });
                }
            }
        }
    }
    let found = found?;
    let level = Level {
        file: kfile,
        text: &text,
        doc_line: 1,
        at: FieldPath::root(),
        doc: &doc,
        flux: false,
    };
    Some(match level_sets(&level, kind, &inner, object, path, read) {
        Some(hit) => Traced::Lines(vec![hit]),
        None => found,
    })
}

/// The line of `level` that sets the field (a transformer, or the last patch that sets it),
/// when one does.
fn level_sets(
    level: &Level<'_>,
    kind: &str,
    name: &str,
    object: &Value,
    path: &FieldPath,
    read: &mut Read<'_>,
) -> Option<(String, usize)> {
    let doc = level.doc;
    let segs = &path.0;
    let names: Vec<&str> = path.field_names().collect();
    let is = |p: &[&str]| names.len() == segs.len() && names == p;
    // namespace, names
    if is(&["metadata", "namespace"]) {
        let key = if level.flux {
            "targetNamespace"
        } else {
            "namespace"
        };
        if doc.get(key).is_some() {
            return level.line(&[field(key)]);
        }
    }
    if is(&["metadata", "name"]) {
        for key in ["namePrefix", "nameSuffix"] {
            if doc
                .get(key)
                .and_then(Value::as_str)
                .is_some_and(|v| !v.is_empty())
            {
                return level.line(&[field(key)]);
            }
        }
    }
    // labels and annotations
    if let (Some(Segment::Field(map)), Some(Segment::Field(key))) = (
        segs.len().checked_sub(2).and_then(|i| segs.get(i)),
        segs.last(),
    ) {
        let top = segs.len() == 3 && names.first() == Some(&"metadata");
        let labels =
            map == "labels" || map == "matchLabels" || (map == "selector" && kind == "Service");
        if labels {
            if level.flux {
                if top
                    && doc
                        .pointer("/commonMetadata/labels")
                        .and_then(|l| l.get(key))
                        .is_some()
                {
                    return level.line(&[field("commonMetadata"), field("labels"), field(key)]);
                }
            } else {
                if doc.get("commonLabels").and_then(|l| l.get(key)).is_some() {
                    return level.line(&[field("commonLabels"), field(key)]);
                }
                for (i, l) in list(doc, "labels").iter().enumerate() {
                    let everywhere = l.get("includeSelectors").and_then(Value::as_bool)
                        == Some(true)
                        || (map == "labels"
                            && l.get("includeTemplates").and_then(Value::as_bool) == Some(true));
                    if (top || everywhere) && l.get("pairs").and_then(|p| p.get(key)).is_some() {
                        return level.line(&[
                            field("labels"),
                            Segment::Index(i),
                            field("pairs"),
                            field(key),
                        ]);
                    }
                }
            }
        }
        if map == "annotations" {
            let (pointer, sub): (&str, Vec<Segment>) = if level.flux {
                (
                    "/commonMetadata/annotations",
                    vec![field("commonMetadata"), field("annotations")],
                )
            } else {
                ("/commonAnnotations", vec![field("commonAnnotations")])
            };
            if (top || !level.flux) && doc.pointer(pointer).and_then(|a| a.get(key)).is_some() {
                let mut sub = sub;
                sub.push(field(key));
                return level.line(&sub);
            }
        }
    }
    // images
    let in_container = names
        .iter()
        .any(|n| matches!(*n, "containers" | "initContainers" | "ephemeralContainers"));
    if in_container && names.last() == Some(&"image") {
        if let Some(image) = path.lookup(object).and_then(Value::as_str) {
            let (image_name, _, _) = split_image(image);
            for (i, e) in list(doc, "images").iter().enumerate().rev() {
                let matches = match e {
                    Value::String(s) => {
                        // Argo CD's `name=newName:tag` or `name:tag`.
                        let set = s.split_once('=').map(|(_, r)| r).unwrap_or(s);
                        split_image(set).0 == image_name
                    }
                    _ => {
                        let new_name = str_at(e, "/newName");
                        let target = if new_name.is_empty() {
                            str_at(e, "/name")
                        } else {
                            new_name
                        };
                        target == image_name
                    }
                };
                if matches {
                    // The line most likely to change: the digest, the tag, the new name.
                    let mut sub = vec![field("images"), Segment::Index(i)];
                    if let Some(k) = ["digest", "newTag", "newName"]
                        .into_iter()
                        .find(|k| e.get(*k).is_some())
                    {
                        sub.push(field(k));
                    }
                    return level.line(&sub);
                }
            }
        }
    }
    // replicas
    if is(&["spec", "replicas"]) {
        for (i, e) in list(doc, "replicas").iter().enumerate().rev() {
            if str_at(e, "/name") == name {
                return level.line(&[field("replicas"), Segment::Index(i), field("count")]);
            }
        }
    }
    patches_set(level, kind, name, object, path, read)
}

/// Image `name[:tag][@digest]` split into name, tag, digest.
fn split_image(s: &str) -> (&str, Option<&str>, Option<&str>) {
    let (rest, digest) = match s.split_once('@') {
        Some((r, d)) => (r, Some(d)),
        None => (s, None),
    };
    match rest.rsplit_once(':') {
        Some((n, t)) if !t.contains('/') => (n, Some(t), digest),
        _ => (rest, None, digest),
    }
}

/// A patch's text and where it is written.
struct Patch {
    /// The patch file, or `None` when inline in the level's text.
    file: Option<String>,
    text: Arc<str>,
    /// Inline: the line of the key holding the patch.
    key_line: usize,
    target: Option<Value>,
}

fn patches_set(
    level: &Level<'_>,
    kind: &str,
    name: &str,
    object: &Value,
    path: &FieldPath,
    read: &mut Read<'_>,
) -> Option<(String, usize)> {
    let dir = parent_dir(level.file);
    let mut patches: Vec<Patch> = Vec::new();
    let mut add =
        |list: &str, body: &Value, target: Option<&Value>, index: usize, read: &mut Read<'_>| {
            let (text_key, path_key) = match body {
                Value::String(_) => (None, None),
                _ => (Some("patch"), Some("path")),
            };
            let inline = match (body, text_key) {
                (Value::String(s), _)
                    if s.contains('\n')
                        || s.trim_start().starts_with('{')
                        || s.trim_start().starts_with('[') =>
                {
                    Some((s.clone(), vec![field(list), Segment::Index(index)]))
                }
                (_, Some(k)) => body.get(k).and_then(Value::as_str).map(|s| {
                    (
                        s.to_string(),
                        vec![field(list), Segment::Index(index), field(k)],
                    )
                }),
                _ => None,
            };
            if let Some((text, sub)) = inline {
                let key_line =
                    field_line(level.text, level.doc_line, &join(&level.at, &sub)).unwrap_or(0);
                patches.push(Patch {
                    file: None,
                    text: text.into(),
                    key_line,
                    target: target.cloned(),
                });
                return;
            }
            let file = match (body, path_key) {
                (Value::String(s), _) => Some(s.as_str()),
                (_, Some(k)) => body.get(k).and_then(Value::as_str),
                _ => None,
            };
            if let Some(f) = file.and_then(|f| super::kustomize::join_normalized(dir, f)) {
                if let Some(text) = read(&f) {
                    patches.push(Patch {
                        file: Some(f),
                        text,
                        key_line: 0,
                        target: target.cloned(),
                    });
                }
            }
        };
    // kustomize's order: strategic merge patches, then `patches`, then JSON 6902.
    for key in ["patchesStrategicMerge", "patches", "patchesJson6902"] {
        if level.flux && key != "patches" {
            continue;
        }
        for (i, p) in list(level.doc, key).iter().enumerate() {
            add(key, p, p.get("target"), i, read);
        }
    }
    let pointer = json_pointer(object, path);
    for p in patches.iter().rev() {
        if let Some(t) = &p.target {
            if !target_matches(t, kind, name, object) {
                continue;
            }
        }
        let place = |line: usize| {
            (
                p.file.clone().unwrap_or_else(|| level.file.to_string()),
                line,
            )
        };
        // JSON 6902: a list of operations.
        if let Some(Value::Array(ops)) = parse_patch(&p.text).first() {
            let Some(pointer) = &pointer else { continue };
            for op in ops.iter().rev() {
                let at = str_at(op, "/path");
                let sets = matches!(str_at(op, "/op"), "add" | "replace" | "copy" | "move");
                let covers = pointer == at
                    || pointer.starts_with(&format!("{at}/"))
                    || at
                        .strip_suffix("/-")
                        .is_some_and(|parent| pointer.starts_with(&format!("{parent}/")));
                if sets && covers {
                    let lines: Vec<&str> = p.text.lines().collect();
                    let line = lines.iter().position(|l| {
                        let l = l.trim().trim_start_matches("- ");
                        (l.starts_with("path:") || l.contains("\"path\""))
                            && l.split([' ', '"', ',']).any(|w| w == at)
                    });
                    // The operation's value, when it is written on a line of its own below.
                    let line = line.map(|i| {
                        lines[i + 1..]
                            .iter()
                            .take_while(|l| !l.trim_start().starts_with("- "))
                            .position(|l| l.trim_start().starts_with("value:"))
                            .map(|v| i + 1 + v)
                            .unwrap_or(i)
                    });
                    return Some(match (&p.file, line) {
                        (Some(_), Some(l)) => place(l + 1),
                        (None, Some(l)) => place(p.key_line + 1 + l),
                        _ => place(p.key_line.max(1)),
                    });
                }
            }
            continue;
        }
        // Strategic merge: documents naming their object (or the target's).
        let mut line = 0usize;
        for (n, doc) in parse_patch(&p.text).into_iter().enumerate() {
            let names_it = p.target.is_some()
                || (str_at(&doc, "/kind") == kind && str_at(&doc, "/metadata/name") == name);
            if names_it && path.lookup(&doc).is_some() {
                let found = match &p.file {
                    Some(_) => {
                        let start = doc_start(&p.text, n);
                        field_line(&p.text, start, path)
                    }
                    None if n == 0 => block_field_line(level.text, p.key_line, path),
                    None => None,
                };
                line = found.unwrap_or(if p.file.is_some() {
                    doc_start(&p.text, n)
                } else {
                    p.key_line
                });
                break;
            }
        }
        if line > 0 {
            return Some(place(line));
        }
    }
    None
}

/// The 1-based line where document `n` (0-based) of a multi-document text starts.
fn doc_start(text: &str, n: usize) -> usize {
    if n == 0 {
        return 1;
    }
    text.lines()
        .enumerate()
        .filter(|(_, l)| l.starts_with("---"))
        .nth(if text.starts_with("---") { n } else { n - 1 })
        .map(|(i, _)| i + 1)
        .unwrap_or(1)
}

/// A patch's documents (YAML or JSON).
fn parse_patch(text: &str) -> Vec<Value> {
    let mut out = Vec::new();
    let mut line = 1;
    for part in text.split("\n---") {
        if let Ok(Some(v)) = crate::yaml::parse_document(part, line) {
            out.push(v);
        }
        line += part.lines().count();
    }
    out
}

/// Whether a patch's `target` selects the object.
fn target_matches(t: &Value, kind: &str, name: &str, object: &Value) -> bool {
    let is = |key: &str, actual: &str| {
        let want = str_at(t, key);
        want.is_empty() || want == actual || simple_regex(want, actual)
    };
    let selector_ok = |key: &str, pointer: &str| {
        let s = str_at(t, key);
        if s.is_empty() {
            return true;
        }
        let Ok(sel) = crate::selector::LabelSelector::parse(s) else {
            return false;
        };
        let _ = pointer;
        sel.matches(object)
    };
    is("/kind", kind) && is("/name", name) && selector_ok("/labelSelector", "/metadata/labels")
}

/// kustomize's target names are regular expressions; the common forms (`.*`, `a|b`, `^a$`,
/// literal text) are matched here.
fn simple_regex(pattern: &str, s: &str) -> bool {
    pattern
        .trim_start_matches('^')
        .trim_end_matches('$')
        .split('|')
        .any(|alt| match alt.split_once(".*") {
            Some((pre, post)) => {
                s.starts_with(pre) && s.ends_with(post) && s.len() >= pre.len() + post.len()
            }
            None => alt == s,
        })
}

/// `path` as a JSON pointer into `object` (keyed items turned into their index).
fn json_pointer(object: &Value, path: &FieldPath) -> Option<String> {
    let mut out = String::new();
    let mut cur = object;
    for seg in &path.0 {
        match seg {
            Segment::Field(f) => {
                out.push('/');
                out.push_str(&f.replace('~', "~0").replace('/', "~1"));
                cur = cur.get(f)?;
            }
            Segment::Index(i) => {
                out.push_str(&format!("/{i}"));
                cur = cur.get(*i)?;
            }
            Segment::Item(_) => {
                let list = cur.as_array()?;
                let one = FieldPath(vec![seg.clone()]);
                let item = one.lookup(cur)?;
                let i = list.iter().position(|x| std::ptr::eq(x, item))?;
                out.push_str(&format!("/{i}"));
                cur = item;
            }
            Segment::Any => return None,
        }
    }
    Some(out)
}

// ---------------------------------------------------------------------------------------
// helm

fn trace_helm(
    values: &[Values],
    chart_file: Option<(Vec<Segment>, String)>,
    source: &str,
    object: &Value,
    path: &FieldPath,
    read: &mut Read<'_>,
) -> Traced {
    let Some(text) = read(source) else {
        return Traced::Unknown(format!("the template {source} cannot be read"));
    };
    let clean = blank_directives(&text);
    let kind = str_at(object, "/kind");
    let doc_line = template_doc(&clean, kind);
    let (n, line) = field_walk(&clean, doc_line, path, true);
    let raw: Vec<&str> = text.lines().collect();
    // A subchart's values sit under its name in the parent's values.
    let (values_prefix, chart_values) = chart_file.unwrap_or_default();
    if n == path.0.len() {
        let Some(l) = line else {
            return Traced::Unknown(format!("{source} does not write it"));
        };
        let refs = values_refs(raw[l - 1]);
        if refs.is_empty() {
            return if raw[l - 1].contains("{{") {
                Traced::Unknown(format!("the template computes it ({source}:{l})"))
            } else {
                Traced::Lines(vec![(source.to_string(), l)])
            };
        }
        let mut lines = Vec::new();
        for r in refs {
            match values_line(&chart_values, values, &values_prefix, &r, read) {
                Ok(Some(hit)) => lines.push(hit),
                Ok(None) => {}
                Err(what) => {
                    return Traced::Unknown(format!(
                        "it comes from .Values.{r}, which {what} may set"
                    ))
                }
            }
        }
        if lines.is_empty() {
            // Not in any values: the template's default.
            lines.push((source.to_string(), l));
        }
        return Traced::Lines(lines);
    }
    // The rest of the path is written by an expression: `toYaml .Values.x` below the
    // deepest key found, or `with .Values.x` just above it.
    let from = line.unwrap_or(doc_line.max(1));
    let indent = |l: &str| l.len() - l.trim_start_matches(' ').len();
    let base_indent = raw.get(from - 1).map(|l| indent(l)).unwrap_or(0);
    let below = raw
        .iter()
        .skip(from)
        .take_while(|l| l.trim().is_empty() || is_directive(l) || indent(l) > base_indent)
        .filter(|l| is_directive(l));
    let above = raw[..from.saturating_sub(1)]
        .iter()
        .rev()
        .take_while(|l| is_directive(l));
    let reference = below.chain(above).find_map(|l| {
        let refs = values_refs(l);
        (refs.len() == 1).then(|| refs.into_iter().next()).flatten()
    });
    if let (Some(r), Some(_)) = (reference, line) {
        let full = join(&r, &path.0[n..]);
        match values_line(&chart_values, values, &values_prefix, &full, read) {
            Ok(Some(hit)) => return Traced::Lines(vec![hit]),
            Ok(None) => {}
            Err(what) => {
                return Traced::Unknown(format!(
                    "it comes from .Values.{full}, which {what} may set"
                ))
            }
        }
        return Traced::Unknown(format!(
            "{source} writes it from .Values.{r}, and no values file sets .Values.{full}"
        ));
    }
    Traced::Unknown(format!(
        "{source} writes it through an expression kdrift does not follow"
    ))
}

/// For a template of a subchart (`<chart>/charts/<sub>/templates/…`): the subchart's name
/// (its values sit under it in the parent's) and its own values file; else nothing and the
/// chart's values file.
fn subchart(chart: &str, source: &str) -> (Vec<Segment>, String) {
    let own = |dir: &str| {
        if dir.is_empty() {
            "values.yaml".to_string()
        } else {
            format!("{dir}/values.yaml")
        }
    };
    let rest = if chart.is_empty() {
        source
    } else {
        source.strip_prefix(&format!("{chart}/")).unwrap_or(source)
    };
    match rest.strip_prefix("charts/").and_then(|r| r.split_once('/')) {
        Some((sub, tail)) if tail.starts_with("templates/") => {
            let dir = if chart.is_empty() {
                format!("charts/{sub}")
            } else {
                format!("{chart}/charts/{sub}")
            };
            (vec![field(sub)], own(&dir))
        }
        _ => (Vec::new(), own(chart)),
    }
}

/// The line that sets `.Values.<r>`: the highest layer that does, then the chart's file.
/// `Err` names a layer kdrift cannot look into that comes first.
fn values_line(
    chart_values: &str,
    values: &[Values],
    prefix: &[Segment],
    r: &FieldPath,
    read: &mut Read<'_>,
) -> Result<Option<(String, usize)>, String> {
    let full = FieldPath(prefix.iter().chain(&r.0).cloned().collect());
    for v in values.iter().rev() {
        let hit = match v {
            Values::File(f) => read(f)
                .and_then(|t| field_line(&t, 1, &full))
                .map(|l| (f.clone(), l)),
            Values::Yaml(at) => read(&at.file)
                .and_then(|t| field_line(&t, at.doc_line, &join(&at.at, &full.0)))
                .map(|l| (at.file.clone(), l)),
            Values::Block(at) => read(&at.file)
                .and_then(|t| {
                    let key = field_line(&t, at.doc_line, &at.at)?;
                    block_field_line(&t, key, &full)
                })
                .map(|l| (at.file.clone(), l)),
            Values::Parameters(at) => {
                let dotted = full.field_names().collect::<Vec<_>>().join(".");
                let item = Segment::Item(vec![("name".into(), dotted)]);
                read(&at.file)
                    .and_then(|t| field_line(&t, at.doc_line, &join(&at.at, &[item])))
                    .map(|l| (at.file.clone(), l))
            }
            Values::Opaque(what) => return Err(what.clone()),
        };
        if hit.is_some() {
            return Ok(hit);
        }
    }
    if chart_values.is_empty() {
        return Ok(None);
    }
    Ok(read(chart_values)
        .and_then(|t| field_line(&t, 1, r))
        .map(|l| (chart_values.to_string(), l)))
}

/// Whether a line holds only template actions (`{{- if … }}`, `{{ toYaml … | nindent 8 }}`).
fn is_directive(line: &str) -> bool {
    let t = line.trim();
    t.starts_with("{{") && t.ends_with("}}") && !t[2..t.len() - 2].contains("}}")
}

/// The template with lines that hold only actions blanked (line numbers kept), so that its
/// YAML structure can be walked.
fn blank_directives(text: &str) -> String {
    text.lines()
        .map(|l| if is_directive(l) { "" } else { l })
        .collect::<Vec<_>>()
        .join("\n")
}

/// The line where the template's document of `kind` starts (the first document without one).
fn template_doc(text: &str, kind: &str) -> usize {
    let mut start = 1;
    for (i, l) in text.lines().enumerate() {
        if l.starts_with("---") {
            start = i + 1;
        }
        if l.strip_prefix("kind:")
            .is_some_and(|k| k.trim().trim_matches('"') == kind)
        {
            return start;
        }
    }
    1
}

/// The `.Values.a.b` paths a line of a template reads.
fn values_refs(line: &str) -> Vec<FieldPath> {
    let mut out = Vec::new();
    let mut rest = line;
    while let Some(i) = rest.find(".Values.") {
        let before = rest[..i].chars().last();
        let tail = &rest[i + ".Values.".len()..];
        let end = tail
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '.' || c == '-'))
            .unwrap_or(tail.len());
        let dotted = tail[..end].trim_end_matches('.');
        if !before.is_some_and(|c| c.is_ascii_alphanumeric() || c == '_') && !dotted.is_empty() {
            let p = FieldPath(
                dotted
                    .split('.')
                    .filter(|s| !s.is_empty())
                    .map(field)
                    .collect(),
            );
            if !out.contains(&p) {
                out.push(p);
            }
        }
        rest = &tail[end..];
    }
    out
}

#[cfg(test)]
mod tests;
