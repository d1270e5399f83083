//! Normalisation applied to both sides before comparing: status and server-owned metadata
//! dropped, annotations kubectl and controllers write dropped, Secret `stringData` folded into
//! base64 `data`, and null / empty map / empty list pruned (absent and empty are alike).
//! Idempotent and pure.

use base64::Engine;
use serde_json::{Map, Value};

/// Metadata fields the server owns.
const SERVER_METADATA: [&str; 9] = [
    "uid",
    "resourceVersion",
    "generation",
    "creationTimestamp",
    "managedFields",
    "selfLink",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
    "generateName",
];

/// Annotations written by kubectl, controllers or trackers, never part of the desired state.
pub const IGNORED_ANNOTATIONS: [&str; 5] = [
    "kubectl.kubernetes.io/last-applied-configuration",
    "deployment.kubernetes.io/revision",
    "argocd.argoproj.io/tracking-id",
    "kubectl.kubernetes.io/restartedAt",
    "control-plane.alpha.kubernetes.io/leader",
];

/// Whether `key` under `parent` is something normalisation drops, so that a comparison can
/// read a raw live object as if it were normalised (without copying it).
pub fn is_normalized_away(parent: &crate::path::FieldPath, key: &str) -> bool {
    use crate::path::Segment;
    match parent.0.as_slice() {
        [] => key == "status",
        [Segment::Field(m)] if m == "metadata" => SERVER_METADATA.contains(&key),
        [Segment::Field(m), Segment::Field(a)] if m == "metadata" && a == "annotations" => {
            IGNORED_ANNOTATIONS.contains(&key)
        }
        _ => false,
    }
}

/// Normalises an object in place (see the module comment).
pub fn normalize(group: &str, kind: &str, object: &mut Value) {
    let Some(map) = object.as_object_mut() else {
        return;
    };
    map.remove("status");
    if let Some(Value::Object(meta)) = map.get_mut("metadata") {
        for f in SERVER_METADATA {
            meta.remove(f);
        }
        if let Some(Value::Object(ann)) = meta.get_mut("annotations") {
            for a in IGNORED_ANNOTATIONS {
                ann.remove(a);
            }
        }
    }
    if group.is_empty() && kind == "Secret" {
        fold_string_data(map);
    }
    prune(object);
}

/// Moves `stringData` into `data` (base64), `stringData` winning for a key in both, as the
/// API server does on write.
fn fold_string_data(map: &mut Map<String, Value>) {
    let Some(Value::Object(string_data)) = map.remove("stringData") else {
        return;
    };
    let data = map
        .entry("data")
        .or_insert_with(|| Value::Object(Map::new()));
    if !data.is_object() {
        *data = Value::Object(Map::new());
    }
    if let Value::Object(data) = data {
        for (k, v) in string_data {
            let text = match v {
                Value::String(s) => s,
                Value::Null => String::new(),
                other => other.to_string(),
            };
            data.insert(
                k,
                Value::String(base64::engine::general_purpose::STANDARD.encode(text)),
            );
        }
    }
}

/// Whether `normalize` would leave `object` as it is, found without copying it (manifests in
/// Git mostly are).
pub fn is_normal(group: &str, kind: &str, object: &Value) -> bool {
    let Some(map) = object.as_object() else {
        return true;
    };
    if map.contains_key("status")
        || (group.is_empty() && kind == "Secret" && map.contains_key("stringData"))
    {
        return false;
    }
    if let Some(Value::Object(meta)) = map.get("metadata") {
        if SERVER_METADATA.iter().any(|f| meta.contains_key(*f)) {
            return false;
        }
        if let Some(Value::Object(ann)) = meta.get("annotations") {
            if IGNORED_ANNOTATIONS.iter().any(|a| ann.contains_key(*a)) {
                return false;
            }
        }
    }
    is_pruned(object)
}

/// Whether `prune` would leave `v` as it is.
fn is_pruned(v: &Value) -> bool {
    match v {
        Value::Object(m) => m.values().all(|x| !is_empty(x) && is_pruned(x)),
        Value::Array(items) => items.iter().all(is_pruned),
        _ => true,
    }
}

/// Removes nulls and empty maps and lists from maps, recursively. List items are kept in
/// place (their position can matter), but pruned inside.
pub fn prune(v: &mut Value) {
    match v {
        Value::Object(m) => {
            m.retain(|_, x| {
                prune(x);
                !is_empty(x)
            });
        }
        Value::Array(items) => items.iter_mut().for_each(prune),
        _ => {}
    }
}

/// Null, `{}` and `[]`.
pub fn is_empty(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::Object(m) => m.is_empty(),
        Value::Array(a) => a.is_empty(),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn drops_server_fields_and_folds_string_data() {
        let mut s = json!({"apiVersion": "v1", "kind": "Secret",
            "metadata": {"name": "s", "uid": "u", "resourceVersion": "1", "managedFields": [],
                         "annotations": {"kubectl.kubernetes.io/last-applied-configuration": "{}"}},
            "data": {"a": "eA==", "b": "eQ=="}, "stringData": {"b": "new", "c": "z"}, "status": {}});
        normalize("", "Secret", &mut s);
        assert_eq!(
            s,
            json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s"},
                   "data": {"a": "eA==", "b": "bmV3", "c": "eg=="}})
        );
    }

    #[test]
    fn prunes_empties_but_keeps_zero_values() {
        let mut v = json!({"a": null, "b": {}, "c": [], "d": {"e": {"f": null}}, "g": 0, "h": false, "i": "", "j": [{}]});
        normalize("", "X", &mut v);
        assert_eq!(v, json!({"g": 0, "h": false, "i": "", "j": [{}]}));
    }

    fn value() -> impl proptest::strategy::Strategy<Value = Value> {
        use proptest::prelude::*;
        let leaf = prop_oneof![
            Just(Value::Null),
            Just(json!(0)),
            Just(json!("")),
            Just(json!("x")),
            Just(json!({})),
            Just(json!([])),
        ];
        leaf.prop_recursive(4, 32, 4, |inner| {
            let key = prop::sample::select(vec![
                "status",
                "metadata",
                "annotations",
                "uid",
                "managedFields",
                "name",
                "stringData",
                "data",
                "spec",
                "kubectl.kubernetes.io/last-applied-configuration",
            ]);
            prop_oneof![
                prop::collection::btree_map(key, inner.clone(), 0..4).prop_map(|m| Value::Object(
                    m.into_iter().map(|(k, v)| (k.to_string(), v)).collect()
                )),
                prop::collection::vec(inner, 0..3).prop_map(Value::Array),
            ]
        })
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(2000))]
        #[test]
        fn is_normal_says_whether_normalising_changes_anything(
            v in value(),
            secret in proptest::bool::ANY,
        ) {
            let kind = if secret { "Secret" } else { "ConfigMap" };
            let mut n = v.clone();
            normalize("", kind, &mut n);
            proptest::prop_assert_eq!(is_normal("", kind, &v), n == v, "{}", v);
        }
    }

    #[test]
    fn normalising_twice_changes_nothing() {
        let mut v = json!({"kind": "Secret", "metadata": {"name": "a", "annotations": {"deployment.kubernetes.io/revision": "2"}},
                           "stringData": {"x": "1"}, "spec": {"a": [{"b": null}]}});
        normalize("", "Secret", &mut v);
        let once = v.clone();
        normalize("", "Secret", &mut v);
        assert_eq!(v, once);
    }
}
