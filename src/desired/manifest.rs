//! Turning one manifest file's text into Kubernetes objects as kubectl would: several
//! documents per file, `List` kinds expanded, documents without `apiVersion`/`kind` told
//! apart, and broken documents salvaged into as much of an identity as the text still shows.
//! Pure: text in, items out.

use crate::model::Packed;
use crate::yaml;
use serde_json::Value;
use std::sync::Arc;

/// One result of reading a file.
#[derive(Debug, Clone, PartialEq)]
pub enum ManifestItem {
    /// A Kubernetes object (apiVersion and kind present), with its document's line.
    Object { object: Doc, line: usize },
    /// A document that is not a Kubernetes object (no apiVersion and no kind).
    NotAnObject { line: usize },
    /// A document that cannot become an object.
    Broken {
        line: usize,
        message: String,
        /// `apiVersion`, `kind`, `metadata.namespace` and `metadata.name` as far as the text
        /// shows them.
        salvage: Salvage,
    },
}

/// An object on its way through the loader: its packed text (the parse cache's, which the
/// snapshot then shares instead of packing it again) while nothing has changed it, and its
/// tree, read only when a stage needs more than its identity (`Doc::head`) and shared by the
/// stages (copied only by the one that changes it). A load keeps objects as text only, so
/// the trees of a whole repository are never held at once.
#[derive(Debug, Clone)]
pub struct Doc {
    /// Read from `text` on first use when empty; `text` is then always present.
    tree: std::sync::OnceLock<Arc<Value>>,
    /// apiVersion, kind and metadata, read from `text` once (while `tree` is not read).
    head: std::sync::OnceLock<Arc<Value>>,
    text: Option<Packed>,
}

impl Doc {
    pub fn new(tree: Value) -> Self {
        Doc {
            tree: Arc::new(tree).into(),
            head: std::sync::OnceLock::new(),
            text: None,
        }
    }

    /// The object as its packed text; the tree is read back when a stage asks for it.
    pub fn read(text: &Packed) -> Self {
        Doc {
            tree: std::sync::OnceLock::new(),
            head: std::sync::OnceLock::new(),
            text: Some(text.clone()),
        }
    }

    /// The whole object (read from its text the first time).
    pub fn tree(&self) -> &Value {
        self.tree
            .get_or_init(|| Arc::new(self.text.as_ref().map(Packed::value).unwrap_or_default()))
    }

    /// The object's apiVersion, kind and metadata (the whole tree if it was read already):
    /// enough for its identity, without reading the rest from the text.
    pub fn head(&self) -> &Value {
        match (self.tree.get(), &self.text) {
            (None, Some(text)) => self.head.get_or_init(|| Arc::new(text.head())),
            _ => self.tree(),
        }
    }

    /// The tree to change (a copy if another stage shares it); the text no longer holds.
    pub fn make_mut(&mut self) -> &mut Value {
        self.tree();
        self.text = None;
        self.head = std::sync::OnceLock::new();
        Arc::make_mut(self.tree.get_mut().expect("read above"))
    }

    /// The object packed, kept as its text from now on, and its tree let go (read again
    /// only if a stage asks).
    pub fn into_text(&mut self) -> Packed {
        let text = self
            .text
            .get_or_insert_with(|| Packed::new(self.tree.get().expect("a tree or a text")))
            .clone();
        self.tree = std::sync::OnceLock::new();
        self.head = std::sync::OnceLock::new();
        text
    }

    /// The object packed: the text it was read from if unchanged, else newly written.
    pub fn packed(&self) -> Packed {
        self.text
            .clone()
            .unwrap_or_else(|| Packed::new(self.tree()))
    }
}

impl PartialEq for Doc {
    fn eq(&self, other: &Doc) -> bool {
        match (&self.text, &other.text) {
            (Some(a), Some(b)) => a == b,
            _ => self.tree() == other.tree(),
        }
    }
}

/// Identity fields read from the raw text of a broken document.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Salvage {
    pub api_version: String,
    pub kind: String,
    pub namespace: String,
    pub name: String,
}

/// Reads a file's text. JSON files and YAML files are told apart by content, as kubectl does.
pub fn read_file(text: &str) -> Vec<ManifestItem> {
    read_units(text, |_| true)
        .into_iter()
        .flatten()
        .flatten()
        .collect()
}

/// A file's items by unit (a YAML document, or a whole JSON file), read only for the units
/// `wanted` says (by their index; the others are `None`): a cache of parsed units can keep
/// some and read the others again from the same text, split the same way.
pub fn read_units(text: &str, wanted: impl Fn(usize) -> bool) -> Vec<Option<Vec<ManifestItem>>> {
    let text = yaml::strip_bom(text);
    if yaml::looks_like_json(text) {
        if !wanted(0) {
            return vec![None];
        }
        let mut out = Vec::new();
        match yaml::parse_json_stream(text) {
            Ok(values) => {
                for (v, line) in values {
                    push_value(v, line, &mut out);
                }
            }
            Err(e) => out.push(ManifestItem::Broken {
                line: e.line,
                message: e.message,
                salvage: salvage_json(text),
            }),
        }
        return vec![Some(out)];
    }
    yaml::split_documents(text)
        .into_iter()
        .enumerate()
        .map(|(i, doc)| {
            wanted(i).then(|| {
                let mut out = Vec::new();
                match yaml::parse_document(doc.text, doc.line) {
                    Ok(Some(v)) => push_value(v, first_content_line(doc.text, doc.line), &mut out),
                    Ok(None) => {}
                    Err(e) => out.push(ManifestItem::Broken {
                        line: e.line,
                        message: e.message,
                        salvage: salvage_yaml(doc.text),
                    }),
                }
                out
            })
        })
        .collect()
}

/// The line of the first non-blank, non-comment line of a document (where an editor should
/// jump), or the document's own line.
fn first_content_line(text: &str, line: usize) -> usize {
    text.lines()
        .position(|l| {
            let t = l.trim();
            !t.is_empty() && !t.starts_with('#')
        })
        .map(|i| line + i)
        .unwrap_or(line)
}

fn push_value(mut v: Value, line: usize, out: &mut Vec<ManifestItem>) {
    if let Some(items) = take_list_items(&mut v) {
        match items {
            Value::Array(items) => {
                for item in items {
                    push_value(item, line, out);
                }
            }
            Value::Null => {}
            _ => out.push(ManifestItem::Broken {
                line,
                message: "a List's items is not a list".into(),
                salvage: Salvage::default(),
            }),
        }
        return;
    }
    let Value::Object(map) = &v else {
        if v.is_null() {
            return;
        }
        out.push(ManifestItem::Broken {
            line,
            message: "the document is not a mapping".into(),
            salvage: Salvage::default(),
        });
        return;
    };
    let api_version = map.get("apiVersion").and_then(Value::as_str);
    let kind = map.get("kind").and_then(Value::as_str);
    match (api_version, kind) {
        (None, None) => out.push(ManifestItem::NotAnObject { line }),
        (Some(av), Some(k)) if !av.is_empty() && !k.is_empty() => out.push(ManifestItem::Object {
            object: Doc::new(v),
            line,
        }),
        _ => {
            let salvage = Salvage {
                api_version: api_version.unwrap_or("").into(),
                kind: kind.unwrap_or("").into(),
                namespace: crate::model::meta_str(&v, "namespace").into(),
                name: crate::model::meta_str(&v, "name").into(),
            };
            let message = if api_version.unwrap_or("").is_empty() {
                "the object has no apiVersion"
            } else {
                "the object has no kind"
            };
            out.push(ManifestItem::Broken {
                line,
                message: message.into(),
                salvage,
            })
        }
    }
}

/// Takes the `items` of a `List` (any kind ending in `List` with `items` and an apiVersion).
fn take_list_items(v: &mut Value) -> Option<Value> {
    let map = v.as_object_mut()?;
    let is_list = map.get("apiVersion").and_then(Value::as_str).is_some()
        && map
            .get("kind")
            .and_then(Value::as_str)
            .is_some_and(|k| k.ends_with("List"))
        && map.contains_key("items");
    if is_list {
        map.remove("items")
    } else {
        None
    }
}

/// Reads identity fields from broken YAML line by line: top-level `apiVersion:` and `kind:`,
/// and `name:`/`namespace:` one level under a top-level `metadata:`.
pub fn salvage_yaml(text: &str) -> Salvage {
    let mut s = Salvage::default();
    let mut in_metadata = false;
    let mut meta_indent: Option<usize> = None;
    for line in text.lines() {
        let trimmed = line.trim_end();
        if trimmed.trim_start().starts_with('#') || trimmed.trim().is_empty() {
            continue;
        }
        let indent = trimmed.len() - trimmed.trim_start().len();
        let body = trimmed.trim_start();
        let value = |key: &str| -> Option<String> {
            body.strip_prefix(key)
                .and_then(|r| r.strip_prefix(':'))
                .map(|r| {
                    let r = r.split(" #").next().unwrap_or("").trim();
                    r.trim_matches(|c| c == '"' || c == '\'').to_string()
                })
        };
        if indent == 0 {
            in_metadata = body.starts_with("metadata:");
            meta_indent = None;
            if let Some(v) = value("apiVersion") {
                s.api_version = v;
            } else if let Some(v) = value("kind") {
                s.kind = v;
            }
        } else if in_metadata {
            let level = *meta_indent.get_or_insert(indent);
            if indent == level {
                if let Some(v) = value("name") {
                    s.name = v;
                } else if let Some(v) = value("namespace") {
                    s.namespace = v;
                }
            }
        }
    }
    s
}

/// Salvages identity from broken JSON by looking for the first `"kind"`, `"apiVersion"`,
/// `"name"` and `"namespace"` string values.
fn salvage_json(text: &str) -> Salvage {
    let find = |key: &str| -> String {
        let pat = format!("\"{key}\"");
        text.find(&pat)
            .and_then(|i| {
                let rest = text[i + pat.len()..].trim_start().strip_prefix(':')?;
                let rest = rest.trim_start().strip_prefix('"')?;
                rest.split('"').next().map(str::to_string)
            })
            .unwrap_or_default()
    };
    Salvage {
        api_version: find("apiVersion"),
        kind: find("kind"),
        namespace: find("namespace"),
        name: find("name"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn objects(items: &[ManifestItem]) -> Vec<(&Value, usize)> {
        items
            .iter()
            .filter_map(|i| match i {
                ManifestItem::Object { object, line } => Some((object.tree(), *line)),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn several_documents_with_comments_and_empties() {
        let text = "# leading comment\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n--- # second\n\n---\n# only comment\n---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: b\n...\n";
        let items = read_file(text);
        let objs = objects(&items);
        assert_eq!(objs.len(), 2, "{items:?}");
        assert_eq!(objs[0].1, 2);
        assert_eq!(objs[1].1, 11);
    }

    #[test]
    fn lists_are_expanded() {
        let text = "apiVersion: v1\nkind: List\nitems:\n- apiVersion: v1\n  kind: ConfigMap\n  metadata: {name: a}\n- apiVersion: v1\n  kind: Secret\n  metadata: {name: b}\n";
        let items = read_file(text);
        assert_eq!(objects(&items).len(), 2);
        let text = "apiVersion: v1\nkind: ConfigMapList\nitems:\n- apiVersion: v1\n  kind: ConfigMap\n  metadata: {name: a}\n";
        assert_eq!(objects(&read_file(text)).len(), 1);
    }

    #[test]
    fn json_documents() {
        let text = "{\"apiVersion\": \"v1\", \"kind\": \"ConfigMap\", \"metadata\": {\"name\": \"a\"}, \"data\": {\"x\": \"1\"}}";
        let items = read_file(text);
        assert_eq!(objects(&items)[0].0["data"], json!({"x": "1"}));
    }

    #[test]
    fn values_files_are_not_objects() {
        let items = read_file("replicaCount: 3\nimage:\n  tag: latest\n");
        assert_eq!(items, vec![ManifestItem::NotAnObject { line: 1 }]);
    }

    #[test]
    fn broken_document_salvages_identity_and_keeps_the_rest() {
        let text = "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\n  namespace: shop\nspec:\n  replicas: [1\n---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: ok\n";
        let items = read_file(text);
        assert_eq!(objects(&items).len(), 1);
        match &items[0] {
            ManifestItem::Broken { line, salvage, .. } => {
                assert!(*line >= 7, "line {line}");
                assert_eq!(salvage.kind, "Deployment");
                assert_eq!(salvage.name, "web");
                assert_eq!(salvage.namespace, "shop");
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn missing_kind_is_broken() {
        let items = read_file("apiVersion: v1\nmetadata:\n  name: x\n");
        assert!(
            matches!(&items[0], ManifestItem::Broken { message, .. } if message.contains("kind"))
        );
    }
}
