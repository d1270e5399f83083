//! sim's own list semantics for the built-in kinds it serves, written from the Kubernetes API
//! reference (the Go types of k8s.io/api v0.34: `+listType`, `+listMapKey`, and
//! `patchMergeKey` with `patchStrategy:"merge"`, which server-side apply also reads as a map
//! keyed by that field). It is deliberately not the drift engine's table: sim is what the
//! engine is tested against, so a wrong key must not be wrong on both sides.
//! `tests/list_semantics.rs` compares the two and names every difference.
//!
//! A field path is resolved by walking the API's types from the kind's root type: each field
//! names the type of its value (or of its items), and the table below says, for the list
//! fields of each type, how their items are identified. A list the table does not name is
//! atomic, as the API server treats a list without markers.

use crate::path::{FieldPath, Segment};
use serde_json::Value;

/// How the items of a list are merged and owned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ListType {
    /// `x-kubernetes-list-type: map`: items identified by these keys.
    Map(Vec<String>),
    /// `x-kubernetes-list-type: set`: scalar items identified by their value.
    Set,
    /// Replaced and owned as a whole.
    Atomic,
}

/// The root type of each kind sim serves.
const ROOTS: &[(&str, &str)] = &[
    ("Deployment", "Workload"),
    ("StatefulSet", "Workload"),
    ("DaemonSet", "Workload"),
    ("ReplicaSet", "Workload"),
    ("Job", "Workload"),
    ("CronJob", "CronJob"),
    ("Pod", "Pod"),
    ("Service", "Service"),
    ("MutatingWebhookConfiguration", "WebhookConfiguration"),
    ("ValidatingWebhookConfiguration", "WebhookConfiguration"),
    ("PodDisruptionBudget", "PodDisruptionBudget"),
    ("NetworkPolicy", "NetworkPolicy"),
    ("RoleBinding", "Binding"),
    ("ClusterRoleBinding", "Binding"),
];

/// (type, field, the type of its value or of its items). `Workload` stands for the kinds
/// whose `spec.template` is a PodTemplateSpec.
const FIELDS: &[(&str, &str, &str)] = &[
    ("Object", "metadata", "ObjectMeta"),
    ("Workload", "spec", "WorkloadSpec"),
    ("WorkloadSpec", "template", "PodTemplateSpec"),
    ("CronJob", "spec", "CronJobSpec"),
    ("CronJobSpec", "jobTemplate", "JobTemplateSpec"),
    ("JobTemplateSpec", "metadata", "ObjectMeta"),
    ("JobTemplateSpec", "spec", "WorkloadSpec"),
    ("PodTemplateSpec", "metadata", "ObjectMeta"),
    ("PodTemplateSpec", "spec", "PodSpec"),
    ("Pod", "spec", "PodSpec"),
    ("Service", "spec", "ServiceSpec"),
    ("PodSpec", "containers", "Container"),
    ("PodSpec", "initContainers", "Container"),
    ("PodSpec", "ephemeralContainers", "Container"),
    (
        "PodSpec",
        "topologySpreadConstraints",
        "TopologySpreadConstraint",
    ),
    ("PodDisruptionBudget", "spec", "PodDisruptionBudgetSpec"),
    ("NetworkPolicy", "spec", "NetworkPolicySpec"),
    ("WebhookConfiguration", "webhooks", "Webhook"),
];

/// (type, field) of maps and structs the API marks atomic (`+structType=atomic`,
/// `+mapType=atomic`): owned and replaced as a whole. Every LabelSelector is atomic, and so are
/// a binding's `roleRef` and a Service's `selector`.
const ATOMIC_MAPS: &[(&str, &str)] = &[
    ("WorkloadSpec", "selector"),
    ("PodDisruptionBudgetSpec", "selector"),
    ("NetworkPolicySpec", "podSelector"),
    ("TopologySpreadConstraint", "labelSelector"),
    ("Webhook", "namespaceSelector"),
    ("Webhook", "objectSelector"),
    ("ServiceSpec", "selector"),
    ("Binding", "roleRef"),
];

/// (type, list field, item keys; `[]` for a set). From the API reference:
/// * ObjectMeta: `ownerReferences` patchMergeKey `uid`; `finalizers` `+listType=set`.
/// * PodSpec: `volumes`, `containers`, `initContainers`, `ephemeralContainers` and
///   `imagePullSecrets` patchMergeKey `name`; `hostAliases` `+listMapKey=ip`;
///   `topologySpreadConstraints` `+listMapKey=topologyKey,whenUnsatisfiable`;
///   `schedulingGates` and `resourceClaims` `+listMapKey=name`.
/// * Container: `ports` `+listMapKey=containerPort,protocol`; `env` patchMergeKey `name`;
///   `volumeMounts` patchMergeKey `mountPath`; `volumeDevices` patchMergeKey `devicePath`;
///   `resizePolicy` `+listType=atomic` (not listed, so atomic).
/// * ServiceSpec: `ports` `+listMapKey=port,protocol`.
/// * Mutating/ValidatingWebhookConfiguration: `webhooks` patchMergeKey `name`.
const LISTS: &[(&str, &str, &[&str])] = &[
    ("ObjectMeta", "ownerReferences", &["uid"]),
    ("ObjectMeta", "finalizers", &[]),
    ("PodSpec", "volumes", &["name"]),
    ("PodSpec", "containers", &["name"]),
    ("PodSpec", "initContainers", &["name"]),
    ("PodSpec", "ephemeralContainers", &["name"]),
    ("PodSpec", "imagePullSecrets", &["name"]),
    ("PodSpec", "hostAliases", &["ip"]),
    (
        "PodSpec",
        "topologySpreadConstraints",
        &["topologyKey", "whenUnsatisfiable"],
    ),
    ("PodSpec", "schedulingGates", &["name"]),
    ("PodSpec", "resourceClaims", &["name"]),
    ("Container", "ports", &["containerPort", "protocol"]),
    ("Container", "env", &["name"]),
    ("Container", "volumeMounts", &["mountPath"]),
    ("Container", "volumeDevices", &["devicePath"]),
    ("ServiceSpec", "ports", &["port", "protocol"]),
    ("WebhookConfiguration", "webhooks", &["name"]),
];

/// The value the API server defaults a list-map key to before items are matched (the
/// `protocol` of container and service ports is `TCP` when absent).
pub fn key_default(key: &str) -> Option<&'static str> {
    (key == "protocol").then_some("TCP")
}

/// The list type of the list at `path` in an object of the built-in `kind`; `path` ends with
/// the list's field name. Unknown kinds and fields are atomic, except `metadata`'s lists,
/// which every kind shares (custom resources included).
pub fn list_type(kind: &str, path: &FieldPath) -> ListType {
    let Some((Segment::Field(last), ty)) = type_of_parent(kind, path) else {
        return ListType::Atomic;
    };
    match LISTS.iter().find(|(t, f, _)| *t == ty && f == last) {
        Some((_, _, [])) => ListType::Set,
        Some((_, _, keys)) => ListType::Map(keys.iter().map(|k| k.to_string()).collect()),
        None => ListType::Atomic,
    }
}

/// Whether the map or struct at `path` in an object of `kind` is atomic.
pub fn is_atomic_map(kind: &str, path: &FieldPath) -> bool {
    match type_of_parent(kind, path) {
        Some((Segment::Field(last), ty)) => ATOMIC_MAPS.iter().any(|(t, f)| *t == ty && f == last),
        _ => false,
    }
}

/// The last segment of `path` and the type that holds it, walking the API's types from the
/// kind's root type; `None` where the walk leaves the types this table knows.
fn type_of_parent<'p>(kind: &str, path: &'p FieldPath) -> Option<(&'p Segment, &'static str)> {
    let root = ROOTS
        .iter()
        .find(|(k, _)| *k == kind)
        .map_or("Object", |(_, t)| *t);
    let (last, parents) = path.0.split_last()?;
    let mut ty = root;
    for seg in parents {
        match seg {
            Segment::Field(f) => {
                ty = FIELDS
                    .iter()
                    .find(|(t, field, _)| *field == f && (*t == ty || *t == "Object"))
                    .map(|(_, _, child)| *child)?;
            }
            Segment::Item(_) | Segment::Index(_) => {}
            Segment::Any => return None,
        }
    }
    Some((last, ty))
}

/// The schema of the value at `path` in a structural schema (`properties` for fields,
/// `items` for list items, `additionalProperties` for map entries); `None` where the schema
/// does not say.
pub fn schema_at<'a>(schema: &'a Value, path: &FieldPath) -> Option<&'a Value> {
    let mut s = schema;
    for seg in &path.0 {
        s = match seg {
            Segment::Field(f) => s
                .pointer(&format!(
                    "/properties/{}",
                    f.replace('~', "~0").replace('/', "~1")
                ))
                .or_else(|| s.get("additionalProperties").filter(|a| a.is_object()))?,
            Segment::Item(_) | Segment::Index(_) => s.get("items")?,
            Segment::Any => return None,
        };
    }
    Some(s)
}

/// The list type a structural schema declares for a list (atomic when it declares none).
pub fn schema_list_type(schema: &Value) -> ListType {
    match schema.get("x-kubernetes-list-type").and_then(Value::as_str) {
        Some("map") => {
            let keys: Vec<String> = schema
                .get("x-kubernetes-list-map-keys")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(|k| k.as_str().map(str::to_string))
                .collect();
            if keys.is_empty() {
                ListType::Atomic
            } else {
                ListType::Map(keys)
            }
        }
        Some("set") => ListType::Set,
        _ => ListType::Atomic,
    }
}

/// Merges the items of a set into `list` (made a list if it is not one): those it lacks are
/// appended, in order.
pub fn set_union(list: &mut Value, items: &[Value]) {
    if !list.is_array() {
        *list = Value::Array(Vec::new());
    }
    let l = list.as_array_mut().expect("just made a list");
    for i in items {
        if !l.contains(i) {
            l.push(i.clone());
        }
    }
}

/// An item's identity in a list of type `Map(keys)`: its key values (absent keys defaulted
/// as the server defaults them), as a path segment names them. `None` when a key is missing.
pub fn item_key(item: &Value, keys: &[String]) -> Option<Vec<(String, String)>> {
    let m = item.as_object()?;
    keys.iter()
        .map(|k| {
            let v = match m.get(k) {
                Some(Value::String(s)) => s.clone(),
                Some(Value::Null) | None => key_default(k)?.to_string(),
                Some(other) => other.to_string(),
            };
            Some((k.clone(), v))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(fields: &[&str]) -> FieldPath {
        let mut path = FieldPath::default();
        for f in fields {
            path = if *f == "[]" {
                path.child(Segment::Item(vec![("name".into(), "x".into())]))
            } else {
                path.field(f)
            };
        }
        path
    }

    #[test]
    fn list_types_follow_the_api_types() {
        let cases: &[(&str, &[&str], ListType)] = &[
            (
                "Deployment",
                &["spec", "template", "spec", "containers"],
                ListType::Map(vec!["name".into()]),
            ),
            (
                "CronJob",
                &[
                    "spec",
                    "jobTemplate",
                    "spec",
                    "template",
                    "spec",
                    "containers",
                    "[]",
                    "env",
                ],
                ListType::Map(vec!["name".into()]),
            ),
            (
                "Deployment",
                &["spec", "template", "spec", "containers", "[]", "ports"],
                ListType::Map(vec!["containerPort".into(), "protocol".into()]),
            ),
            (
                "Service",
                &["spec", "ports"],
                ListType::Map(vec!["port".into(), "protocol".into()]),
            ),
            ("Widget", &["metadata", "finalizers"], ListType::Set),
            (
                "Deployment",
                &["spec", "template", "metadata", "finalizers"],
                ListType::Set,
            ),
            (
                "Deployment",
                &["spec", "template", "spec", "tolerations"],
                ListType::Atomic,
            ),
            (
                "Deployment",
                &[
                    "spec",
                    "template",
                    "spec",
                    "containers",
                    "[]",
                    "resizePolicy",
                ],
                ListType::Atomic,
            ),
            ("NetworkPolicy", &["spec", "egress"], ListType::Atomic),
            ("Widget", &["spec", "containers"], ListType::Atomic),
            // A field named like a keyed list, somewhere else, is atomic.
            ("Ingress", &["spec", "rules", "[]", "env"], ListType::Atomic),
        ];
        for (kind, path, want) in cases {
            assert_eq!(&list_type(kind, &p(path)), want, "{kind} {path:?}");
        }
    }

    #[test]
    fn selectors_and_role_refs_are_atomic() {
        for (kind, path, atomic) in [
            ("Deployment", &["spec", "selector"][..], true),
            (
                "CronJob",
                &["spec", "jobTemplate", "spec", "selector"][..],
                true,
            ),
            ("PodDisruptionBudget", &["spec", "selector"][..], true),
            ("Service", &["spec", "selector"][..], true),
            ("RoleBinding", &["roleRef"][..], true),
            ("NetworkPolicy", &["spec", "podSelector"][..], true),
            (
                "Deployment",
                &["spec", "template", "metadata", "labels"][..],
                false,
            ),
            ("Deployment", &["spec", "strategy"][..], false),
            ("Widget", &["spec", "selector"][..], false),
        ] {
            assert_eq!(is_atomic_map(kind, &p(path)), atomic, "{kind} {path:?}");
        }
    }

    #[test]
    fn absent_protocol_is_the_default_in_an_item_key() {
        let keys = vec!["containerPort".to_string(), "protocol".to_string()];
        assert_eq!(
            item_key(&serde_json::json!({"containerPort": 80}), &keys),
            Some(vec![
                ("containerPort".into(), "80".into()),
                ("protocol".into(), "TCP".into())
            ])
        );
        assert_eq!(
            item_key(&serde_json::json!({"protocol": "UDP"}), &keys),
            None
        );
    }
}
