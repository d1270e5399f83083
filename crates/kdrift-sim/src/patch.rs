//! The patch formats the API server accepts, besides server-side apply: JSON merge patch
//! (RFC 7386), strategic merge patch (keyed lists merged by their merge keys, `$patch`
//! directives) and JSON patch (RFC 6902).

use super::fieldset::Shape;
use super::lists::ListType;
use crate::path::{FieldPath, Segment};
use serde_json::{Map, Value};

/// RFC 7386: maps merge, `null` deletes, anything else replaces.
pub fn merge_patch(target: &mut Value, patch: &Value) {
    match patch {
        Value::Object(p) => {
            if !target.is_object() {
                *target = Value::Object(Map::new());
            }
            let t = target.as_object_mut().expect("just made a map");
            for (k, v) in p {
                if v.is_null() {
                    t.remove(k);
                } else {
                    merge_patch(t.entry(k.clone()).or_insert(Value::Null), v);
                }
            }
        }
        other => *target = other.clone(),
    }
}

/// Strategic merge patch: like a merge patch, but keyed lists of built-in kinds merge item by
/// item, `$patch: delete` removes an item or map, `$patch: replace` replaces, and the other
/// `$` directives (`$setElementOrder`, `$retainKeys`, `$deleteFromPrimitiveList`) are honoured
/// where they change content and otherwise ignored.
pub fn strategic_merge(target: &mut Value, patch: &Value, shape: Shape<'_>) {
    smp(target, patch, &FieldPath::root(), shape);
}

fn smp(target: &mut Value, patch: &Value, path: &FieldPath, shape: Shape<'_>) {
    let Value::Object(p) = patch else {
        *target = patch.clone();
        return;
    };
    match p.get("$patch").and_then(Value::as_str) {
        Some("replace") => {
            let mut clean = p.clone();
            clean.remove("$patch");
            *target = Value::Object(clean);
            return;
        }
        Some("delete") => {
            *target = Value::Null;
            return;
        }
        _ => {}
    }
    if !target.is_object() {
        *target = Value::Object(Map::new());
    }
    let t = target.as_object_mut().expect("just made a map");
    for (k, v) in p {
        if let Some(field) = k.strip_prefix("$deleteFromPrimitiveList/") {
            if let (Some(Value::Array(items)), Value::Array(del)) = (t.get_mut(field), v) {
                items.retain(|i| !del.contains(i));
            }
            continue;
        }
        if k.starts_with('$') {
            continue;
        }
        if v.is_null() {
            t.remove(k);
            continue;
        }
        let child = path.field(k);
        match v {
            Value::Array(items) => {
                let kind = shape.list_kind(&child);
                let existing = t.entry(k.clone()).or_insert(Value::Array(Vec::new()));
                match kind {
                    ListType::Map(keys) => merge_keyed(existing, items, &keys, &child, shape),
                    ListType::Set => super::lists::set_union(existing, items),
                    _ => *existing = Value::Array(items.clone()),
                }
            }
            _ => {
                let slot = t.entry(k.clone()).or_insert(Value::Null);
                smp(slot, v, &child, shape);
                if slot.is_null() {
                    t.remove(k);
                }
            }
        }
    }
}

fn merge_keyed(
    existing: &mut Value,
    items: &[Value],
    keys: &[String],
    path: &FieldPath,
    shape: Shape<'_>,
) {
    if !existing.is_array() {
        *existing = Value::Array(Vec::new());
    }
    let e = existing.as_array_mut().expect("just made a list");
    let key_of = |v: &Value| super::lists::item_key(v, keys);
    if items
        .iter()
        .any(|i| i.get("$patch").and_then(Value::as_str) == Some("replace"))
    {
        *e = items
            .iter()
            .filter(|i| i.get("$patch").is_none())
            .cloned()
            .collect();
        return;
    }
    // As apimachinery's strategic merge: the patch's items (merged with the live ones they
    // name, new ones included) in patch order, with the live items the patch does not name
    // slotted in by their live order (`mergeSortedSlice`): a new item lands before the live
    // items that follow the patch's known ones.
    let server_order: Vec<Option<Vec<(String, String)>>> = e.iter().map(key_of).collect();
    let mut named = vec![false; e.len()];
    let mut patched: Vec<Value> = Vec::new();
    for item in items {
        let Some(k) = key_of(item) else {
            patched.push(item.clone());
            continue;
        };
        let pos = e.iter().position(|x| key_of(x).as_ref() == Some(&k));
        if let Some(pos) = pos {
            named[pos] = true;
        }
        if item.get("$patch").and_then(Value::as_str) == Some("delete") {
            continue;
        }
        let mut merged = match pos {
            Some(pos) => e[pos].clone(),
            None => Value::Object(Map::new()),
        };
        smp(&mut merged, item, &path.child(Segment::Item(k)), shape);
        patched.push(merged);
    }
    let server_only: Vec<Value> = e
        .iter()
        .zip(&named)
        .filter(|(_, n)| !**n)
        .map(|(v, _)| v.clone())
        .collect();
    let live_index = |v: &Value| {
        let k = key_of(v)?;
        server_order.iter().position(|s| s.as_ref() == Some(&k))
    };
    let (mut i, mut j) = (0, 0);
    let mut out = Vec::with_capacity(server_only.len() + patched.len());
    while i < server_only.len() || j < patched.len() {
        let take_live = j >= patched.len()
            || (i < server_only.len()
                && matches!((live_index(&server_only[i]), live_index(&patched[j])), (Some(l), Some(r)) if l < r));
        if take_live {
            out.push(server_only[i].clone());
            i += 1;
        } else {
            out.push(patched[j].clone());
            j += 1;
        }
    }
    *e = out;
}

/// Why a JSON patch cannot be applied.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct JsonPatchError(pub String);

fn unescape(token: &str) -> String {
    token.replace("~1", "/").replace("~0", "~")
}

fn parent_and_key<'a>(
    doc: &'a mut Value,
    pointer: &str,
) -> Result<(&'a mut Value, String), JsonPatchError> {
    let (parent, last) = pointer
        .rsplit_once('/')
        .ok_or_else(|| JsonPatchError(format!("bad JSON pointer {pointer:?}")))?;
    let target = if parent.is_empty() {
        Some(doc)
    } else {
        doc.pointer_mut(parent)
    };
    let target = target.ok_or_else(|| JsonPatchError(format!("path {parent:?} does not exist")))?;
    Ok((target, unescape(last)))
}

fn add(doc: &mut Value, pointer: &str, value: Value) -> Result<(), JsonPatchError> {
    if pointer.is_empty() {
        *doc = value;
        return Ok(());
    }
    let (parent, key) = parent_and_key(doc, pointer)?;
    match parent {
        Value::Object(m) => {
            m.insert(key, value);
            Ok(())
        }
        Value::Array(a) => {
            let idx = if key == "-" {
                a.len()
            } else {
                key.parse()
                    .map_err(|_| JsonPatchError(format!("bad index {key:?}")))?
            };
            if idx > a.len() {
                return Err(JsonPatchError(format!("index {idx} out of range")));
            }
            a.insert(idx, value);
            Ok(())
        }
        _ => Err(JsonPatchError(format!("cannot add at {pointer:?}"))),
    }
}

fn remove(doc: &mut Value, pointer: &str) -> Result<Value, JsonPatchError> {
    let (parent, key) = parent_and_key(doc, pointer)?;
    match parent {
        Value::Object(m) => m
            .remove(&key)
            .ok_or_else(|| JsonPatchError(format!("path {pointer:?} does not exist"))),
        Value::Array(a) => {
            let idx: usize = key
                .parse()
                .map_err(|_| JsonPatchError(format!("bad index {key:?}")))?;
            if idx >= a.len() {
                return Err(JsonPatchError(format!("index {idx} out of range")));
            }
            Ok(a.remove(idx))
        }
        _ => Err(JsonPatchError(format!("cannot remove {pointer:?}"))),
    }
}

/// RFC 6902.
pub fn json_patch(doc: &mut Value, ops: &Value) -> Result<(), JsonPatchError> {
    let ops = ops
        .as_array()
        .ok_or_else(|| JsonPatchError("a JSON patch is a list of operations".into()))?;
    for op in ops {
        let path = op.get("path").and_then(Value::as_str).unwrap_or("");
        match op.get("op").and_then(Value::as_str) {
            Some("add") => add(doc, path, op.get("value").cloned().unwrap_or(Value::Null))?,
            Some("remove") => {
                remove(doc, path)?;
            }
            Some("replace") => {
                remove(doc, path)?;
                add(doc, path, op.get("value").cloned().unwrap_or(Value::Null))?;
            }
            Some("test") => {
                if doc.pointer(path) != op.get("value") {
                    return Err(JsonPatchError(format!("test failed at {path:?}")));
                }
            }
            Some("move") => {
                let from = op.get("from").and_then(Value::as_str).unwrap_or("");
                let v = remove(doc, from)?;
                add(doc, path, v)?;
            }
            Some("copy") => {
                let from = op.get("from").and_then(Value::as_str).unwrap_or("");
                let v = doc
                    .pointer(from)
                    .cloned()
                    .ok_or_else(|| JsonPatchError(format!("path {from:?} does not exist")))?;
                add(doc, path, v)?;
            }
            other => return Err(JsonPatchError(format!("unknown operation {other:?}"))),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const D: Shape<'static> = Shape::builtin("Deployment");

    #[test]
    fn merge_patch_deletes_with_null() {
        let mut t = json!({"a": {"b": 1, "c": 2}, "l": [1, 2]});
        merge_patch(&mut t, &json!({"a": {"b": null, "d": 3}, "l": [3]}));
        assert_eq!(t, json!({"a": {"c": 2, "d": 3}, "l": [3]}));
    }

    #[test]
    fn strategic_merge_merges_keyed_lists() {
        let mut t = json!({"spec": {"template": {"spec": {"containers": [{"name": "a", "image": "1"}, {"name": "b", "image": "2"}]}}}});
        let p = json!({"spec": {"template": {"spec": {"$setElementOrder/containers": [{"name": "a"}, {"name": "b"}],
            "containers": [{"name": "b", "image": "3"}, {"name": "c", "image": "4"}, {"name": "a", "$patch": "delete"}]}}}});
        strategic_merge(&mut t, &p, D);
        assert_eq!(
            t["spec"]["template"]["spec"]["containers"],
            json!([{"name": "b", "image": "3"}, {"name": "c", "image": "4"}])
        );
    }

    #[test]
    fn json_patch_ops() {
        let mut d = json!({"spec": {"replicas": 1, "list": [1, 2]}});
        json_patch(&mut d, &json!([{"op": "replace", "path": "/spec/replicas", "value": 3}, {"op": "add", "path": "/spec/list/-", "value": 9},
                                    {"op": "remove", "path": "/spec/list/0"}, {"op": "test", "path": "/spec/replicas", "value": 3}])).unwrap();
        assert_eq!(d, json!({"spec": {"replicas": 3, "list": [2, 9]}}));
        assert!(json_patch(
            &mut d,
            &json!([{"op": "test", "path": "/spec/replicas", "value": 4}])
        )
        .is_err());
    }
}
