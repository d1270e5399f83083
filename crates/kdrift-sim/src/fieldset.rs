//! Field sets as server-side apply keeps them (FieldsV1): which fields of an object a manager
//! owns. Built from objects with the API's list semantics (keyed items `k:{..}`, set values
//! `v:..`, atomic lists as leaves), read from and written to FieldsV1 JSON, and combined
//! (union, difference, the members whose values differ between two objects).

use super::lists::{list_type, ListType};
use crate::path::{FieldPath, Segment};
use serde_json::{Map, Value};
use std::collections::BTreeMap;

/// A node of a field set: whether the node itself is a member, and its children by FieldsV1
/// key (`f:name`, `k:{"name":"web"}`, `v:"x"`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FieldSet {
    pub member: bool,
    pub children: BTreeMap<String, FieldSet>,
}

/// What the list and map semantics of an object's kind are: sim's table for built-in kinds,
/// the CRD's structural schema for custom ones (`x-kubernetes-list-type`,
/// `x-kubernetes-list-map-keys`, `x-kubernetes-map-type`; atomic where it says nothing).
#[derive(Debug, Clone, Copy)]
pub struct Shape<'a> {
    pub kind: &'a str,
    pub builtin: bool,
    pub schema: Option<&'a Value>,
}

impl<'a> Shape<'a> {
    /// The shape of a built-in kind (sim's own table).
    pub const fn builtin(kind: &'a str) -> Shape<'a> {
        Shape {
            kind,
            builtin: true,
            schema: None,
        }
    }

    pub fn is_atomic_map(&self, path: &FieldPath) -> bool {
        if self.builtin {
            return super::lists::is_atomic_map(self.kind, path);
        }
        self.schema
            .and_then(|s| super::lists::schema_at(s, path))
            .is_some_and(|s| {
                s.get("x-kubernetes-map-type").and_then(Value::as_str) == Some("atomic")
            })
    }

    pub fn list_kind(&self, path: &FieldPath) -> ListType {
        if self.builtin || matches!(path.0.first(), Some(Segment::Field(f)) if f == "metadata") {
            return list_type(self.kind, path);
        }
        match self.schema.and_then(|s| super::lists::schema_at(s, path)) {
            Some(s) => super::lists::schema_list_type(s),
            None => ListType::Atomic,
        }
    }
}

/// The FieldsV1 key of a keyed item: its merge-key values as a JSON object.
pub fn item_key_json(item: &Value, keys: &[String]) -> Option<String> {
    let m = item.as_object()?;
    let mut key = Map::new();
    for k in keys {
        let v = match m.get(k) {
            Some(v) => v.clone(),
            None => Value::String(super::lists::key_default(k)?.to_string()),
        };
        key.insert(k.clone(), v);
    }
    Some(format!("k:{}", Value::Object(key)))
}

impl FieldSet {
    /// The fields an object sets (what applying it claims). Top-level identity fields
    /// (apiVersion, kind, metadata.name/namespace) are not part of it, nor `status`.
    pub fn from_object(obj: &Value, shape: Shape<'_>) -> FieldSet {
        let mut root = FieldSet::default();
        if let Value::Object(m) = obj {
            for (k, v) in m {
                if matches!(k.as_str(), "apiVersion" | "kind" | "status") {
                    continue;
                }
                if k == "metadata" {
                    let mut meta = FieldSet::default();
                    for (mk, mv) in v.as_object().into_iter().flatten() {
                        if matches!(
                            mk.as_str(),
                            "labels" | "annotations" | "finalizers" | "ownerReferences"
                        ) {
                            let path = FieldPath::root().field("metadata").field(mk);
                            meta.children
                                .insert(format!("f:{mk}"), walk(mv, &path, shape));
                        }
                    }
                    if !meta.children.is_empty() {
                        root.children.insert("f:metadata".into(), meta);
                    }
                    continue;
                }
                root.children.insert(
                    format!("f:{k}"),
                    walk(v, &FieldPath::root().field(k), shape),
                );
            }
        }
        root
    }

    /// Reads FieldsV1 JSON.
    pub fn from_fields_v1(v: &Value) -> FieldSet {
        let mut set = FieldSet::default();
        if let Value::Object(m) = v {
            set.member = m.is_empty() || m.contains_key(".");
            for (k, child) in m {
                if k != "." {
                    set.children
                        .insert(k.clone(), FieldSet::from_fields_v1(child));
                }
            }
        }
        set
    }

    /// Writes FieldsV1 JSON (the root is never a member).
    pub fn to_fields_v1(&self) -> Value {
        let mut m = Map::new();
        if self.member && !self.children.is_empty() {
            m.insert(".".into(), Value::Object(Map::new()));
        }
        for (k, c) in &self.children {
            m.insert(k.clone(), c.to_fields_v1());
        }
        Value::Object(m)
    }

    pub fn is_empty(&self) -> bool {
        !self.member && self.children.is_empty()
    }

    /// Every member, as FieldsV1 key paths.
    pub fn members(&self) -> Vec<Vec<String>> {
        let mut out = Vec::new();
        self.collect(&mut Vec::new(), &mut out);
        out
    }

    fn collect(&self, prefix: &mut Vec<String>, out: &mut Vec<Vec<String>>) {
        if self.member && !prefix.is_empty() {
            out.push(prefix.clone());
        }
        for (k, c) in &self.children {
            prefix.push(k.clone());
            c.collect(prefix, out);
            prefix.pop();
        }
    }

    /// Whether the node at `path` has children.
    pub fn has_children(&self, path: &[String]) -> bool {
        let mut node = self;
        for p in path {
            match node.children.get(p) {
                Some(n) => node = n,
                None => return false,
            }
        }
        !node.children.is_empty()
    }

    /// The paths of the nodes that have children (members or not), the root excluded.
    pub fn inner_nodes(&self) -> Vec<Vec<String>> {
        fn go(set: &FieldSet, prefix: &mut Vec<String>, out: &mut Vec<Vec<String>>) {
            if !set.children.is_empty() && !prefix.is_empty() {
                out.push(prefix.clone());
            }
            for (k, c) in &set.children {
                prefix.push(k.clone());
                go(c, prefix, out);
                prefix.pop();
            }
        }
        let mut out = Vec::new();
        go(self, &mut Vec::new(), &mut out);
        out
    }

    /// Whether a path is a member.
    pub fn contains(&self, path: &[String]) -> bool {
        match path.split_first() {
            None => self.member,
            Some((head, rest)) => self.children.get(head).is_some_and(|c| c.contains(rest)),
        }
    }

    /// Adds a path as a member.
    pub fn insert(&mut self, path: &[String]) {
        match path.split_first() {
            None => self.member = true,
            Some((head, rest)) => self.children.entry(head.clone()).or_default().insert(rest),
        }
    }

    /// Removes a path's membership (and prunes empty nodes); returns whether it was a member.
    pub fn remove(&mut self, path: &[String]) -> bool {
        match path.split_first() {
            None => std::mem::replace(&mut self.member, false),
            Some((head, rest)) => {
                let Some(child) = self.children.get_mut(head) else {
                    return false;
                };
                let removed = child.remove(rest);
                if child.is_empty() {
                    self.children.remove(head);
                }
                removed
            }
        }
    }

    /// Removes every member of `other`.
    pub fn subtract(&mut self, other: &FieldSet) {
        for m in other.members() {
            self.remove(&m);
        }
    }

    /// Adds every member of `other`.
    pub fn union(&mut self, other: &FieldSet) {
        for m in other.members() {
            self.insert(&m);
        }
    }

    /// Keeps only the members whose path still exists in `obj`.
    pub fn retain_present(&mut self, obj: &Value) {
        for m in self.members() {
            if lookup(obj, &m).is_none() {
                self.remove(&m);
            }
        }
    }
}

fn walk(v: &Value, path: &FieldPath, shape: Shape<'_>) -> FieldSet {
    match v {
        Value::Object(m) if !m.is_empty() && !shape.is_atomic_map(path) => {
            let mut set = FieldSet::default();
            for (k, x) in m {
                set.children
                    .insert(format!("f:{k}"), walk(x, &path.field(k), shape));
            }
            set
        }
        Value::Array(items) if !items.is_empty() => match shape.list_kind(path) {
            ListType::Map(keys) => {
                let mut set = FieldSet::default();
                for item in items {
                    match item_key_json(item, &keys) {
                        Some(k) => {
                            let seg = Segment::Item(
                                super::lists::item_key(item, &keys).unwrap_or_default(),
                            );
                            let mut child = walk(item, &path.child(seg), shape);
                            child.member = true;
                            set.children.insert(k, child);
                        }
                        // Items without their keys cannot be tracked one by one.
                        None => {
                            return FieldSet {
                                member: true,
                                children: BTreeMap::new(),
                            }
                        }
                    }
                }
                set
            }
            ListType::Set => {
                let mut set = FieldSet::default();
                for item in items {
                    set.children.insert(
                        format!("v:{item}"),
                        FieldSet {
                            member: true,
                            children: BTreeMap::new(),
                        },
                    );
                }
                set
            }
            ListType::Atomic => FieldSet {
                member: true,
                children: BTreeMap::new(),
            },
        },
        _ => FieldSet {
            member: true,
            children: BTreeMap::new(),
        },
    }
}

/// The value at a FieldsV1 key path of an object.
pub fn lookup<'a>(obj: &'a Value, path: &[String]) -> Option<&'a Value> {
    let Some((head, rest)) = path.split_first() else {
        return Some(obj);
    };
    let next = if let Some(f) = head.strip_prefix("f:") {
        obj.as_object()?.get(f)?
    } else if let Some(k) = head.strip_prefix("k:") {
        let want: Map<String, Value> = serde_json::from_str(k).ok()?;
        obj.as_array()?.iter().find(|item| {
            want.iter().all(|(name, v)| match item.get(name) {
                Some(got) => got == v,
                None => super::lists::key_default(name).is_some_and(|d| v.as_str() == Some(d)),
            })
        })?
    } else if let Some(v) = head.strip_prefix("v:") {
        let want: Value = serde_json::from_str(v).ok()?;
        obj.as_array()?.iter().find(|item| **item == want)?
    } else {
        return None;
    };
    lookup(next, rest)
}

/// Removes the value at a FieldsV1 key path from an object; returns whether it was there.
pub fn delete(obj: &mut Value, path: &[String]) -> bool {
    let Some((head, rest)) = path.split_first() else {
        return false;
    };
    if rest.is_empty() {
        if let Some(f) = head.strip_prefix("f:") {
            return obj.as_object_mut().and_then(|m| m.remove(f)).is_some();
        }
        let Some(items) = obj.as_array_mut() else {
            return false;
        };
        let before = items.len();
        let snapshot: Vec<Value> = items.clone();
        let target = lookup(&Value::Array(snapshot), std::slice::from_ref(head)).cloned();
        if let Some(t) = target {
            if let Some(pos) = items.iter().position(|i| *i == t) {
                items.remove(pos);
            }
        }
        return items.len() != before;
    }
    let next = if let Some(f) = head.strip_prefix("f:") {
        obj.as_object_mut().and_then(|m| m.get_mut(f))
    } else {
        let target = lookup(obj, std::slice::from_ref(head)).cloned();
        match (target, obj.as_array_mut()) {
            (Some(t), Some(items)) => items.iter_mut().find(|i| **i == t),
            _ => None,
        }
    };
    next.is_some_and(|n| delete(n, rest))
}

/// A human path of a FieldsV1 key path, as the API server writes it in conflicts
/// (`.spec.template.spec.containers[name="web"].image`).
pub fn display_path(path: &[String]) -> String {
    let mut out = String::new();
    for p in path {
        if let Some(f) = p.strip_prefix("f:") {
            out.push('.');
            out.push_str(f);
        } else if let Some(k) = p.strip_prefix("k:") {
            let m: Map<String, Value> = serde_json::from_str(k).unwrap_or_default();
            let parts: Vec<String> = m.iter().map(|(k, v)| format!("{k}={v}")).collect();
            out.push_str(&format!("[{}]", parts.join(",")));
        } else if let Some(v) = p.strip_prefix("v:") {
            out.push_str(&format!("[={v}]"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const DEPLOY: Shape<'static> = Shape::builtin("Deployment");

    #[test]
    fn keyed_items_sets_and_atomic_lists() {
        let obj = json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "x", "labels": {"a": "1"}, "finalizers": ["f1"]},
            "spec": {"replicas": 2, "template": {"spec": {"containers": [{"name": "web", "image": "i", "args": ["a", "b"], "ports": [{"containerPort": 80}]}]}}}});
        let set = FieldSet::from_object(&obj, DEPLOY);
        let v1 = set.to_fields_v1();
        assert_eq!(
            v1["f:metadata"],
            json!({"f:labels": {"f:a": {}}, "f:finalizers": {"v:\"f1\"": {}}})
        );
        let c = &v1["f:spec"]["f:template"]["f:spec"]["f:containers"]["k:{\"name\":\"web\"}"];
        assert_eq!(c["."], json!({}));
        assert_eq!(c["f:args"], json!({}));
        assert!(c["f:ports"]
            .get("k:{\"containerPort\":80,\"protocol\":\"TCP\"}")
            .is_some());
        assert_eq!(FieldSet::from_fields_v1(&v1), set);
    }

    #[test]
    fn lookup_and_delete_follow_keys() {
        let mut obj = json!({"spec": {"containers": [{"name": "a", "image": "1"}, {"name": "b", "image": "2"}]}});
        let path: Vec<String> = vec![
            "f:spec".into(),
            "f:containers".into(),
            "k:{\"name\":\"b\"}".into(),
            "f:image".into(),
        ];
        assert_eq!(lookup(&obj, &path), Some(&json!("2")));
        assert!(delete(&mut obj, &path[..3]));
        assert_eq!(obj["spec"]["containers"].as_array().unwrap().len(), 1);
        assert_eq!(display_path(&path), ".spec.containers[name=\"b\"].image");
    }

    #[test]
    fn membership_operations() {
        let mut a = FieldSet::default();
        a.insert(&["f:spec".into(), "f:replicas".into()]);
        a.insert(&["f:spec".into(), "f:paused".into()]);
        let mut b = FieldSet::default();
        b.insert(&["f:spec".into(), "f:replicas".into()]);
        a.subtract(&b);
        assert_eq!(
            a.members(),
            vec![vec!["f:spec".to_string(), "f:paused".to_string()]]
        );
        assert!(!a.contains(&["f:spec".into(), "f:replicas".into()]));
    }
}
