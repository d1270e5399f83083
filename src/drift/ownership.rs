//! Field ownership from `metadata.managedFields` (FieldsV1: `f:` fields, `k:` keyed list
//! items, `v:` set values, `.` the node itself) and from kubectl's last-applied annotation.
//! Answers, for a position in the live object, which managers touch it. Used to tell a field
//! removed from Git that the next apply deletes (drift) from one that stays (not drift).
//! Pure.

use crate::path::Segment;
use serde_json::{Map, Value};
use std::borrow::Cow;

/// One owner's field set, positioned at some node of the object.
#[derive(Debug, Clone, Copy)]
pub struct OwnerCursor<'a> {
    pub owner: &'a Owner<'a>,
    node: &'a Value,
}

impl OwnerCursor<'_> {
    /// Whether the set names this node itself (`.`: a list item as a whole).
    pub fn owns_itself(&self) -> bool {
        self.node.get(".").is_some()
    }

    /// Whether the set names fields or items beneath this node.
    pub fn owns_children(&self) -> bool {
        self.node
            .as_object()
            .is_some_and(|m| m.keys().any(|k| k != "."))
    }
}

/// A manager that owns fields.
#[derive(Debug, Clone)]
pub struct Owner<'a> {
    pub manager: &'a str,
    pub operation: &'a str,
    pub time: Option<&'a str>,
    /// The applier's own set: an Apply by a configured applier, or kubectl's client-side
    /// apply as recorded in the last-applied annotation.
    pub is_applier: bool,
    fields: Cow<'a, Value>,
}

/// Everyone who owns something in one live object.
#[derive(Debug, Clone, Default)]
pub struct Ownership<'a> {
    pub owners: Vec<Owner<'a>>,
}

/// The manager name kubectl uses for client-side apply.
pub const CLIENT_SIDE_APPLY: &str = "kubectl-client-side-apply";
const LAST_APPLIED: &str = "kubectl.kubernetes.io/last-applied-configuration";

impl<'a> Ownership<'a> {
    /// Reads the managedFields (and the last-applied annotation) of a raw live object.
    /// `appliers` are the managers whose Apply operations express the desired state.
    pub fn from_live(live: &'a Value, appliers: &[String]) -> Self {
        let mut owners = Vec::new();
        let entries = live
            .pointer("/metadata/managedFields")
            .and_then(Value::as_array);
        // Where the client-side apply entry is among the owners.
        let mut csa_fields: Option<usize> = None;
        for e in entries.into_iter().flatten() {
            let manager = e.get("manager").and_then(Value::as_str).unwrap_or("");
            let operation = e.get("operation").and_then(Value::as_str).unwrap_or("");
            let Some(fields) = crate::model::fields_v1(e) else {
                continue;
            };
            if manager == CLIENT_SIDE_APPLY {
                csa_fields = Some(owners.len());
            }
            owners.push(Owner {
                manager,
                operation,
                time: e.get("time").and_then(Value::as_str),
                is_applier: operation == "Apply" && appliers.iter().any(|a| a == manager),
                fields,
            });
        }
        // Client-side apply: its Update entry also owns the server's defaults, so the applied
        // set is what both the annotation and that entry name. An annotation with no such
        // entry is stale (the object moved on) and is not used.
        if appliers.iter().any(|a| a == CLIENT_SIDE_APPLY) {
            let annotation = live
                .pointer("/metadata/annotations")
                .and_then(|a| a.get(LAST_APPLIED))
                .and_then(Value::as_str);
            if let (Some(text), Some(csa)) = (annotation, csa_fields) {
                if let Ok(applied) = serde_json::from_str::<Value>(text) {
                    let set = intersect(&fields_of(&applied), &owners[csa].fields);
                    // The Update entry stands for the same writer; what it owns beyond the
                    // annotation are the server's defaults of its create.
                    owners.retain(|o| o.manager != CLIENT_SIDE_APPLY);
                    owners.push(Owner {
                        manager: CLIENT_SIDE_APPLY,
                        operation: "Apply",
                        time: None,
                        is_applier: true,
                        fields: Cow::Owned(set),
                    });
                }
            }
        }
        Ownership { owners }
    }

    /// Cursors at the root of every owner's set.
    pub fn root(&'a self) -> Vec<OwnerCursor<'a>> {
        self.owners
            .iter()
            .map(|o| OwnerCursor {
                owner: o,
                node: o.fields.as_ref(),
            })
            .collect()
    }
}

/// Descends every cursor by one segment; owners that do not reach it are dropped.
pub fn descend<'a>(cursors: &[OwnerCursor<'a>], seg: &Segment) -> Vec<OwnerCursor<'a>> {
    cursors
        .iter()
        .filter_map(|c| {
            child(c.node, seg).map(|node| OwnerCursor {
                owner: c.owner,
                node,
            })
        })
        .collect()
}

/// Descends to a set item (`v:<json>`).
pub fn descend_value<'a>(cursors: &[OwnerCursor<'a>], value: &Value) -> Vec<OwnerCursor<'a>> {
    let key = format!("v:{value}");
    cursors
        .iter()
        .filter_map(|c| {
            c.node.get(&key).map(|node| OwnerCursor {
                owner: c.owner,
                node,
            })
        })
        .collect()
}

fn child<'a>(node: &'a Value, seg: &Segment) -> Option<&'a Value> {
    let map = node.as_object()?;
    match seg {
        Segment::Field(f) => FIELD_KEY.with_borrow_mut(|key| {
            // `f:<name>` built in a reused buffer: this runs for every field of every object.
            key.clear();
            key.push_str("f:");
            key.push_str(f);
            map.get(key.as_str())
        }),
        Segment::Item(keys) => map.iter().find_map(|(k, v)| {
            let json = k.strip_prefix("k:")?;
            // Most entries are other items: a key value that is plainly absent from the
            // entry's text rules it out without parsing it (values that JSON would escape
            // are always parsed).
            let plainly_absent = keys.iter().any(|(_, want)| {
                want.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-._/:".contains(&b))
                    && !json.contains(want.as_str())
            });
            if plainly_absent {
                return None;
            }
            let parsed: Map<String, Value> = serde_json::from_str(json).ok()?;
            let matches = parsed.len() == keys.len()
                && keys.iter().all(|(name, want)| {
                    parsed.get(name).is_some_and(|got| match got {
                        Value::String(s) => s == want,
                        other => other.to_string().eq(want),
                    })
                });
            matches.then_some(v)
        }),
        Segment::Index(_) | Segment::Any => None,
    }
}

thread_local! {
    static FIELD_KEY: std::cell::RefCell<String> = const { std::cell::RefCell::new(String::new()) };
}

/// The FieldsV1 set of an applied object: every map key, with keyed list items for the
/// built-in merge keys it can recognise (name, or containerPort/port with protocol).
fn fields_of(applied: &Value) -> Value {
    fn walk(v: &Value) -> Value {
        let mut out = Map::new();
        match v {
            Value::Object(m) => {
                for (k, x) in m {
                    out.insert(format!("f:{k}"), walk(x));
                }
            }
            Value::Array(items) => {
                for item in items {
                    if let Some(key) = item_key(item) {
                        let mut inner = walk(item).as_object().cloned().unwrap_or_default();
                        inner.insert(".".into(), Value::Object(Map::new()));
                        out.insert(format!("k:{key}"), Value::Object(inner));
                    }
                }
            }
            _ => {}
        }
        Value::Object(out)
    }
    walk(applied)
}

fn item_key(item: &Value) -> Option<String> {
    let m = item.as_object()?;
    let mut key = Map::new();
    for (name, with_protocol) in [
        ("containerPort", true),
        ("port", true),
        ("mountPath", false),
        ("name", false),
    ] {
        if let Some(v) = m.get(name) {
            key.insert(name.into(), v.clone());
            if with_protocol {
                let proto = m
                    .get("protocol")
                    .cloned()
                    .unwrap_or(Value::String("TCP".into()));
                key.insert("protocol".into(), proto);
            }
            return Some(Value::Object(key).to_string());
        }
    }
    None
}

/// The part of set `a` that `b` also holds.
fn intersect(a: &Value, b: &Value) -> Value {
    let (Some(am), Some(bm)) = (a.as_object(), b.as_object()) else {
        return Value::Object(Map::new());
    };
    let mut out = Map::new();
    for (k, av) in am {
        let bv = if let Some(bv) = bm.get(k) {
            Some(bv)
        } else if let Some(json) = k.strip_prefix("k:") {
            // Key objects may list their fields in another order.
            let want: Option<Value> = serde_json::from_str(json).ok();
            bm.iter().find_map(|(bk, bv)| {
                let got: Option<Value> = serde_json::from_str(bk.strip_prefix("k:")?).ok();
                (got.is_some() && got == want).then_some(bv)
            })
        } else {
            None
        };
        if let Some(bv) = bv {
            out.insert(k.clone(), intersect(av, bv));
        }
    }
    Value::Object(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn live() -> Value {
        json!({"metadata": {"managedFields": [
            {"manager": "argocd-controller", "operation": "Apply", "fieldsV1": {
                "f:spec": {"f:replicas": {}, "f:template": {"f:spec": {"f:containers": {
                    "k:{\"name\":\"web\"}": {".": {}, "f:image": {}, "f:name": {}}}}}}}},
            {"manager": "hpa", "operation": "Update", "fieldsV1": {"f:spec": {"f:replicas": {}}}}
        ]}})
    }

    #[test]
    fn cursors_follow_fields_and_keyed_items() {
        let obj = live();
        let own = Ownership::from_live(&obj, &["argocd-controller".into()]);
        let root = own.root();
        let spec = descend(&root, &Segment::Field("spec".into()));
        assert_eq!(spec.len(), 2);
        let replicas = descend(&spec, &Segment::Field("replicas".into()));
        assert_eq!(replicas.len(), 2);
        let mut c = spec;
        for f in ["template", "spec", "containers"] {
            c = descend(&c, &Segment::Field(f.into()));
        }
        let item = descend(&c, &Segment::Item(vec![("name".into(), "web".into())]));
        assert_eq!(item.len(), 1);
        assert!(item[0].owner.is_applier);
        let other = descend(&c, &Segment::Item(vec![("name".into(), "side".into())]));
        assert!(other.is_empty());
    }

    #[test]
    fn compacted_field_sets_own_the_same_fields() {
        let tree = live();
        let mut text = live();
        crate::model::compact_managed_fields(&mut text);
        assert!(text
            .pointer("/metadata/managedFields/0/fieldsV1")
            .unwrap()
            .is_string());
        let mut again = text.clone();
        crate::model::compact_managed_fields(&mut again);
        assert_eq!(again, text, "compacting is idempotent");
        let a = Ownership::from_live(&tree, &["argocd-controller".into()]);
        let b = Ownership::from_live(&text, &["argocd-controller".into()]);
        assert_eq!(a.owners.len(), b.owners.len());
        for (x, y) in a.owners.iter().zip(&b.owners) {
            assert_eq!(
                (x.manager, x.is_applier, &*x.fields),
                (y.manager, y.is_applier, &*y.fields)
            );
        }
    }

    #[test]
    fn last_applied_counts_only_with_a_client_side_apply_entry() {
        let obj = json!({"metadata": {
            "annotations": {LAST_APPLIED: "{\"spec\":{\"paused\":true}}"},
            "managedFields": [{"manager": "kubectl-client-side-apply", "operation": "Update",
                "fieldsV1": {"f:spec": {"f:paused": {}, "f:progressDeadlineSeconds": {}}}}]}});
        let own = Ownership::from_live(&obj, &[CLIENT_SIDE_APPLY.into()]);
        let appliers: Vec<_> = own.owners.iter().filter(|o| o.is_applier).collect();
        assert_eq!(appliers.len(), 1);
        let spec = descend(&own.root(), &Segment::Field("spec".into()));
        let paused = descend(&spec, &Segment::Field("paused".into()));
        assert!(paused.iter().any(|c| c.owner.is_applier));
        let deadline = descend(&spec, &Segment::Field("progressDeadlineSeconds".into()));
        assert!(deadline.iter().all(|c| !c.owner.is_applier));

        let stale =
            json!({"metadata": {"annotations": {LAST_APPLIED: "{\"spec\":{\"paused\":true}}"}}});
        let own = Ownership::from_live(&stale, &[CLIENT_SIDE_APPLY.into()]);
        assert!(own.owners.is_empty());
    }
}
