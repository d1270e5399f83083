//! Server-side apply and field ownership, as the API server does them: an Apply claims the
//! fields of the applied configuration for its manager, conflicts with other managers that
//! own a field it would change (unless forced, which takes the fields over), removes fields
//! the manager owned alone and no longer applies, and merges keyed lists by key. Other writes
//! (create, update, patch) are Update operations: the writer takes the fields it changed.

use super::fieldset::{delete, display_path, item_key_json, lookup, FieldSet, Shape};
use super::lists::ListType;
use crate::path::{FieldPath, Segment};
use serde_json::{json, Map, Value};

/// One entry of `metadata.managedFields`.
#[derive(Debug, Clone, PartialEq)]
pub struct ManagedEntry {
    pub manager: String,
    pub operation: String,
    pub api_version: String,
    pub time: String,
    pub subresource: Option<String>,
    pub fields: FieldSet,
}

/// A field another manager owns, which the apply would change.
#[derive(Debug, Clone, PartialEq)]
pub struct Conflict {
    pub manager: String,
    pub field: String,
}

/// Reads `metadata.managedFields` of an object.
pub fn read_managed(obj: &Value) -> Vec<ManagedEntry> {
    obj.pointer("/metadata/managedFields")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .map(|e| ManagedEntry {
            manager: e["manager"].as_str().unwrap_or("").to_string(),
            operation: e["operation"].as_str().unwrap_or("Update").to_string(),
            api_version: e["apiVersion"].as_str().unwrap_or("").to_string(),
            time: e["time"].as_str().unwrap_or("").to_string(),
            subresource: e["subresource"].as_str().map(str::to_string),
            fields: FieldSet::from_fields_v1(&e["fieldsV1"]),
        })
        .collect()
}

/// Writes entries into `metadata.managedFields` (empty ones dropped).
pub fn write_managed(obj: &mut Value, entries: &[ManagedEntry]) {
    // The API server's order: operation (Apply before Update), time, manager, version.
    let mut sorted: Vec<&ManagedEntry> = entries.iter().collect();
    sorted.sort_by(|a, b| {
        (
            &a.operation,
            &a.time,
            &a.manager,
            &a.api_version,
            &a.subresource,
        )
            .cmp(&(
                &b.operation,
                &b.time,
                &b.manager,
                &b.api_version,
                &b.subresource,
            ))
    });
    let list: Vec<Value> = sorted
        .into_iter()
        .filter(|e| !e.fields.is_empty())
        .map(|e| {
            let mut v = json!({"manager": e.manager, "operation": e.operation, "apiVersion": e.api_version, "time": e.time,
                               "fieldsType": "FieldsV1", "fieldsV1": e.fields.to_fields_v1()});
            if let Some(s) = &e.subresource {
                v["subresource"] = json!(s);
            }
            v
        })
        .collect();
    if let Some(meta) = obj.get_mut("metadata").and_then(Value::as_object_mut) {
        if list.is_empty() {
            meta.remove("managedFields");
        } else {
            meta.insert("managedFields".into(), Value::Array(list));
        }
    }
}

/// The result of an apply: the new object (before defaulting) and the ownership.
pub struct Applied {
    pub object: Value,
    pub managed: Vec<ManagedEntry>,
}

/// Applies `config` for `manager` over `live` (absent: a create).
pub fn apply(
    live: Option<&Value>,
    config: &Value,
    manager: &str,
    force: bool,
    shape: Shape<'_>,
    now: &str,
) -> Result<Applied, Vec<Conflict>> {
    let mut managed = live.map(read_managed).unwrap_or_default();
    let new_set = FieldSet::from_object(config, shape);
    let api_version = config["apiVersion"].as_str().unwrap_or("").to_string();

    // Conflicts: a member whose applied value differs from the live one and that another
    // manager owns.
    let mut conflicts = Vec::new();
    if let Some(live) = live {
        for path in new_set.members() {
            let applied = lookup(config, &path);
            let current = lookup(live, &path);
            let is_leaf_change = match (applied, current) {
                (Some(a), Some(c)) => !is_container(a) && a != c,
                _ => false,
            };
            if !is_leaf_change {
                continue;
            }
            // Every other field-set conflicts, the applier's own Update entries included: the
            // server keys managedFields by manager and operation.
            for e in managed
                .iter()
                .filter(|e| !(e.manager == manager && e.operation == "Apply"))
            {
                if e.fields.contains(&path) {
                    conflicts.push((e.manager.clone(), path.clone()));
                }
            }
        }
    }
    if !conflicts.is_empty() && !force {
        return Err(conflicts
            .into_iter()
            .map(|(m, p)| Conflict {
                manager: m,
                field: display_path(&p),
            })
            .collect());
    }
    for (m, p) in &conflicts {
        for e in managed
            .iter_mut()
            .filter(|e| &e.manager == m && !(e.manager == manager && e.operation == "Apply"))
        {
            e.fields.remove(p);
        }
    }

    let mut object = live.cloned().unwrap_or_else(|| json!({}));
    // Fields this manager applied before and no longer applies go, unless someone else owns them.
    if let Some(old) = managed
        .iter()
        .find(|e| e.manager == manager && e.operation == "Apply")
    {
        let mut dropped = old.fields.clone();
        dropped.subtract(&new_set);
        let mut paths = dropped.members();
        // Shallowest first: an item no one else owns goes whole (its fields with it). An item
        // kept for another owner keeps its key fields, whoever set them.
        paths.sort_by_key(|p| p.len());
        for p in paths {
            if is_key_field_of_item(&p) {
                continue;
            }
            let owned_elsewhere = managed
                .iter()
                .filter(|e| !(e.manager == manager && e.operation == "Apply"))
                .any(|e| e.fields.contains(&p) || has_members_below(&e.fields, &p));
            if !owned_elsewhere {
                delete(&mut object, &p);
            }
        }
    }
    merge(&mut object, config, &FieldPath::root(), shape);
    managed.retain(|e| !(e.manager == manager && e.operation == "Apply"));
    managed.push(ManagedEntry {
        manager: manager.to_string(),
        operation: "Apply".into(),
        api_version,
        time: now.to_string(),
        subresource: None,
        fields: new_set,
    });
    Ok(Applied { object, managed })
}

/// The value structs an empty object of the API's types already holds, where `obj` has them:
/// what a create is compared with.
fn empty_typed_object(obj: &Value) -> Value {
    const VALUE_STRUCTS: &[&str] = &[
        "/metadata",
        "/spec",
        "/spec/template",
        "/spec/template/metadata",
        "/spec/template/spec",
        "/spec/strategy",
        "/spec/updateStrategy",
        "/spec/resources",
        "/spec/scaleTargetRef",
        "/spec/jobTemplate",
        "/spec/jobTemplate/metadata",
        "/spec/jobTemplate/spec",
        "/spec/jobTemplate/spec/template",
        "/spec/jobTemplate/spec/template/metadata",
        "/spec/jobTemplate/spec/template/spec",
    ];
    let mut out = json!({});
    for p in VALUE_STRUCTS {
        if obj.pointer(p).is_some_and(Value::is_object) {
            let (parent, field) = p.rsplit_once('/').expect("absolute pointers");
            if let Some(m) = out.pointer_mut(parent).and_then(Value::as_object_mut) {
                m.insert(field.to_string(), json!({}));
            }
        }
    }
    // A pod spec's `containers` is encoded even when empty (no `omitempty`); a LabelSelector
    // held by value (a NetworkPolicy's podSelector) is `{}`.
    for p in [
        "/spec/template/spec",
        "/spec/jobTemplate/spec/template/spec",
    ] {
        if let Some(m) = out.pointer_mut(p).and_then(Value::as_object_mut) {
            m.insert("containers".into(), Value::Null);
        }
    }
    if obj.pointer("/spec/podSelector").is_some() {
        if let Some(m) = out.pointer_mut("/spec").and_then(Value::as_object_mut) {
            m.insert("podSelector".into(), json!({}));
        }
    }
    out
}

/// Whether a path names a key field of a keyed item (`k:{"name":"A"}` then `f:name`).
fn is_key_field_of_item(path: &[String]) -> bool {
    let [.., item, field] = path else {
        return false;
    };
    let (Some(key), Some(field)) = (item.strip_prefix("k:"), field.strip_prefix("f:")) else {
        return false;
    };
    serde_json::from_str::<Map<String, Value>>(key).is_ok_and(|k| k.contains_key(field))
}

fn has_members_below(set: &FieldSet, path: &[String]) -> bool {
    let mut node = set;
    for p in path {
        match node.children.get(p) {
            Some(n) => node = n,
            None => return false,
        }
    }
    !node.children.is_empty()
}

fn is_container(v: &Value) -> bool {
    matches!(v, Value::Object(m) if !m.is_empty())
}

/// Merges an applied configuration into an object: maps recurse, keyed lists merge by key,
/// sets take the union, other lists are replaced.
fn merge(target: &mut Value, config: &Value, path: &FieldPath, shape: Shape<'_>) {
    if shape.is_atomic_map(path) {
        *target = config.clone();
        return;
    }
    let Value::Object(c) = config else {
        *target = config.clone();
        return;
    };
    if !target.is_object() {
        *target = Value::Object(Map::new());
    }
    let t = target.as_object_mut().expect("just made a map");
    for (k, v) in c {
        let child = path.field(k);
        match v {
            Value::Array(items) => {
                let kind = shape.list_kind(&child);
                let slot = t.entry(k.clone()).or_insert(Value::Array(Vec::new()));
                match kind {
                    ListType::Map(keys) => {
                        if !slot.is_array() {
                            *slot = Value::Array(Vec::new());
                        }
                        let list = slot.as_array_mut().expect("just made a list");
                        for item in items {
                            let Some(key) = item_key_json(item, &keys) else {
                                list.push(item.clone());
                                continue;
                            };
                            let pos = list
                                .iter()
                                .position(|x| item_key_json(x, &keys).as_ref() == Some(&key));
                            let seg = Segment::Item(
                                super::lists::item_key(item, &keys).unwrap_or_default(),
                            );
                            match pos {
                                Some(pos) => merge(&mut list[pos], item, &child.child(seg), shape),
                                None => list.push(item.clone()),
                            }
                        }
                    }
                    ListType::Set => super::lists::set_union(slot, items),
                    _ => *slot = v.clone(),
                }
            }
            Value::Object(m) if !m.is_empty() => {
                merge(t.entry(k.clone()).or_insert(Value::Null), v, &child, shape);
            }
            _ => {
                t.insert(k.clone(), v.clone());
            }
        }
    }
}

/// Records an Update operation by `manager` that turned `old` into `new` (both as stored,
/// defaults included), as the API server's field manager compares them: the manager takes the
/// leaves it set or changed, the keyed items and maps it added (the `.` of FieldsV1), and
/// others lose what it changed; fields no longer present leave every set. A create compares
/// with the empty typed object, whose value structs (`spec`, `spec.template` …) exist already.
pub fn record_update(
    old: Option<&Value>,
    new: &mut Value,
    manager: &str,
    subresource: Option<&str>,
    shape: Shape<'_>,
    now: &str,
) {
    let mut managed = old.map(read_managed).unwrap_or_default();
    let skeleton;
    let before = match old {
        Some(o) => o,
        None => {
            skeleton = empty_typed_object(new);
            &skeleton
        }
    };
    let after = FieldSet::from_object(new, shape);
    let mut changed = FieldSet::default();
    for path in after.members() {
        let added = lookup(before, &path).is_none();
        let is_leaf = !after.has_children(&path);
        if added || (is_leaf && lookup(new, &path) != lookup(before, &path)) {
            changed.insert(&path);
        }
    }
    for path in after.inner_nodes() {
        let non_empty = |v: &Value| match v {
            Value::Object(m) => !m.is_empty(),
            Value::Array(a) => !a.is_empty(),
            _ => false,
        };
        let added_map =
            lookup(before, &path).is_none() && lookup(new, &path).is_some_and(non_empty);
        if added_map {
            changed.insert(&path);
        }
    }
    for e in managed.iter_mut() {
        e.fields.retain_present(new);
        if e.manager != manager {
            e.fields.subtract(&changed);
        }
    }
    if !changed.is_empty() {
        let api_version = new["apiVersion"].as_str().unwrap_or("").to_string();
        match managed.iter_mut().find(|e| {
            e.manager == manager
                && e.operation == "Update"
                && e.subresource.as_deref() == subresource
        }) {
            Some(e) => {
                e.fields.union(&changed);
                e.time = now.to_string();
            }
            None => managed.push(ManagedEntry {
                manager: manager.to_string(),
                operation: "Update".into(),
                api_version,
                time: now.to_string(),
                subresource: subresource.map(str::to_string),
                fields: changed,
            }),
        }
    }
    write_managed(new, &managed);
}

#[cfg(test)]
mod tests {
    use super::*;

    const D: Shape<'static> = Shape::builtin("Deployment");

    fn deploy(replicas: i64, labels: Value) -> Value {
        json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "w", "labels": labels},
               "spec": {"replicas": replicas, "template": {"spec": {"containers": [{"name": "web", "image": "web:1"}]}}}})
    }

    fn fields_of(obj: &Value, manager: &str) -> Value {
        read_managed(obj)
            .into_iter()
            .find(|e| e.manager == manager)
            .map(|e| e.fields.to_fields_v1())
            .unwrap_or(Value::Null)
    }

    /// A Deployment as `git`'s first apply leaves it, managed fields written.
    fn created_by_git(labels: Value) -> Value {
        let first = apply(None, &deploy(2, labels), "git", false, D, "t").unwrap();
        let mut obj = first.object;
        write_managed(&mut obj, &first.managed);
        obj
    }

    #[test]
    fn apply_creates_then_removes_what_it_no_longer_applies() {
        let obj = created_by_git(json!({"a": "1", "b": "2"}));
        assert_eq!(
            fields_of(&obj, "git")["f:metadata"]["f:labels"],
            json!({"f:a": {}, "f:b": {}})
        );
        let second = apply(
            Some(&obj),
            &deploy(2, json!({"a": "1"})),
            "git",
            false,
            D,
            "t",
        )
        .unwrap();
        assert_eq!(second.object["metadata"]["labels"], json!({"a": "1"}));
    }

    #[test]
    fn co_owned_fields_stay_and_conflicts_need_force() {
        let obj = created_by_git(json!({"a": "1", "b": "2"}));
        // Someone else sets label b to the same value (co-owns it) and scales.
        let mut edited = obj.clone();
        edited["spec"]["replicas"] = json!(5);
        record_update(Some(&obj), &mut edited, "kubectl-scale", None, D, "t");
        let other = apply(
            Some(&edited),
            &deploy(5, json!({"b": "2"})),
            "helper",
            false,
            D,
            "t",
        )
        .unwrap();
        let mut obj = other.object;
        write_managed(&mut obj, &other.managed);
        // git drops label b: helper co-owns it, so it stays.
        let r = apply(
            Some(&obj),
            &deploy(2, json!({"a": "1"})),
            "git",
            false,
            D,
            "t",
        );
        let conflicts = r.err().expect("replicas is owned by kubectl-scale");
        assert!(
            conflicts
                .iter()
                .any(|c| c.manager == "kubectl-scale" && c.field == ".spec.replicas"),
            "{conflicts:?}"
        );
        let forced = apply(
            Some(&obj),
            &deploy(2, json!({"a": "1"})),
            "git",
            true,
            D,
            "t",
        )
        .unwrap();
        assert_eq!(forced.object["spec"]["replicas"], 2);
        assert_eq!(
            forced.object["metadata"]["labels"],
            json!({"a": "1", "b": "2"})
        );
        let scale = forced.managed.iter().find(|e| e.manager == "kubectl-scale");
        assert!(scale.is_none_or(|e| !e.fields.contains(&["f:spec".into(), "f:replicas".into()])));
    }

    #[test]
    fn a_keyed_item_no_longer_applied_goes_whole() {
        let with_env = |env: Value| {
            let mut d = deploy(1, json!({}));
            d["spec"]["template"]["spec"]["containers"][0]["env"] = env;
            d
        };
        let first = apply(
            None,
            &with_env(json!([{"name": "A", "value": "1"}, {"name": "B", "value": "2"}])),
            "git",
            false,
            D,
            "t",
        )
        .unwrap();
        let mut obj = first.object;
        write_managed(&mut obj, &first.managed);
        let second = apply(
            Some(&obj),
            &with_env(json!([{"name": "A", "value": "1"}])),
            "git",
            false,
            D,
            "t",
        )
        .unwrap();
        assert_eq!(
            second.object["spec"]["template"]["spec"]["containers"][0]["env"],
            json!([{"name": "A", "value": "1"}])
        );
    }

    #[test]
    fn keyed_lists_merge_by_key() {
        let mut live = deploy(1, json!({}));
        live["spec"]["template"]["spec"]["containers"] = json!([{"name": "web", "image": "web:1", "imagePullPolicy": "IfNotPresent"}, {"name": "side", "image": "s"}]);
        let mut config = deploy(1, json!({}));
        config["spec"]["template"]["spec"]["containers"] =
            json!([{"name": "web", "image": "web:2"}]);
        let r = apply(Some(&live), &config, "git", false, D, "t").unwrap();
        let cs = &r.object["spec"]["template"]["spec"]["containers"];
        assert_eq!(cs.as_array().unwrap().len(), 2);
        assert_eq!(cs[0]["image"], "web:2");
        assert_eq!(cs[0]["imagePullPolicy"], "IfNotPresent");
    }

    #[test]
    fn update_takes_changed_fields_from_others() {
        let first = apply(None, &deploy(2, json!({"a": "1"})), "git", false, D, "t").unwrap();
        let mut obj = first.object;
        write_managed(&mut obj, &first.managed);
        let mut edited = obj.clone();
        edited["spec"]["replicas"] = json!(4);
        record_update(Some(&obj), &mut edited, "kubectl-edit", None, D, "t");
        assert_eq!(
            fields_of(&edited, "kubectl-edit"),
            json!({"f:spec": {"f:replicas": {}}})
        );
        assert!(fields_of(&edited, "git")["f:spec"]
            .get("f:replicas")
            .is_none());
    }
}
