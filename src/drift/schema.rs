//! What kdrift knows about the shape of objects, as the Kubernetes API defines it: which
//! lists are associative (and by which keys), sets or atomic; which maps are string maps
//! (where an empty value is still a value); where Quantities and base64 bytes stand; and, for
//! custom kinds, what their CRD's structural schema says (list types, pruning). Pure data.

use crate::path::{FieldPath, Segment};
use serde_json::Value;
use std::collections::HashMap;

/// How a list is compared.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ListKind {
    /// Associative: items matched by these keys (`x-kubernetes-list-type: map`).
    Keyed(Vec<String>),
    /// Unordered set of scalars.
    Set,
    /// Compared as a whole.
    Atomic,
    /// No schema: items compared by position.
    Index,
}

/// Defaults the API server gives a merge key when it is absent from an item, so Git's
/// `{port: 80}` and live `{port: 80, protocol: TCP}` have the same identity.
pub fn key_default(key: &str) -> Option<&'static str> {
    match key {
        "protocol" => Some("TCP"),
        _ => None,
    }
}

const POD_CONTAINER_LISTS: [&str; 3] = ["containers", "initContainers", "ephemeralContainers"];

fn keys(k: &[&str]) -> ListKind {
    ListKind::Keyed(k.iter().map(|s| s.to_string()).collect())
}

/// The list semantics of a built-in kind's field, from the API's `+listType`/`+listMapKey`
/// and patch merge keys.
pub fn builtin_list_kind(kind: &str, path: &FieldPath) -> ListKind {
    let segs = &path.0;
    let field = match segs.last() {
        Some(Segment::Field(f)) => f.as_str(),
        _ => return ListKind::Atomic,
    };
    // The field that holds the item this list belongs to (e.g. `containers` for
    // `containers[name=a].ports`).
    let parent_list = segs
        .len()
        .checked_sub(3)
        .and_then(|i| match (&segs[i], &segs[i + 1]) {
            (Segment::Field(f), Segment::Item(_)) => Some(f.as_str()),
            _ => None,
        });
    let in_container = parent_list.is_some_and(|p| POD_CONTAINER_LISTS.contains(&p));
    match field {
        f if POD_CONTAINER_LISTS.contains(&f) => keys(&["name"]),
        "env" if in_container => keys(&["name"]),
        "ports" if in_container => keys(&["containerPort", "protocol"]),
        "volumeMounts" if in_container => keys(&["mountPath"]),
        "volumeDevices" if in_container => keys(&["devicePath"]),
        "ports" if kind == "Service" && segs.len() == 2 => keys(&["port", "protocol"]),
        // A ServiceAccount's imagePullSecrets is `+listType=atomic`; the pod spec's is keyed.
        "imagePullSecrets" if kind == "ServiceAccount" => ListKind::Atomic,
        "volumes" | "imagePullSecrets" | "schedulingGates" | "resourceClaims" => keys(&["name"]),
        "hostAliases" => keys(&["ip"]),
        "topologySpreadConstraints" => keys(&["topologyKey", "whenUnsatisfiable"]),
        "webhooks"
            if kind == "MutatingWebhookConfiguration"
                || kind == "ValidatingWebhookConfiguration" =>
        {
            keys(&["name"])
        }
        "ownerReferences" if segs.len() == 2 => keys(&["uid"]),
        "finalizers" => ListKind::Set,
        _ => ListKind::Atomic,
    }
}

/// Maps whose entries are data (labels, annotations, ConfigMap data …): an entry that holds
/// `""` is not the same as no entry. Elsewhere in built-in kinds, Go's `omitempty` makes an
/// absent field and a zero value the same.
pub fn is_string_map_field(name: &str) -> bool {
    matches!(
        name,
        "labels"
            | "annotations"
            | "data"
            | "binaryData"
            | "stringData"
            | "nodeSelector"
            | "matchLabels"
            | "selector"
            | "parameters"
            | "limits"
            | "requests"
            | "hard"
            | "capacity"
    )
}

/// Whether the value at `path` of a built-in kind is a resource Quantity.
pub fn is_quantity_path(path: &FieldPath) -> bool {
    let mut names = path.0.iter().rev();
    let last = names.next();
    let parent = names.next();
    fn field(s: Option<&Segment>) -> Option<&str> {
        match s {
            Some(Segment::Field(f)) => Some(f.as_str()),
            _ => None,
        }
    }
    const QUANTITY_MAPS: [&str; 11] = [
        "limits",
        "requests",
        "hard",
        "capacity",
        "allocatable",
        "overhead",
        "max",
        "min",
        "default",
        "defaultRequest",
        "maxLimitRequestRatio",
    ];
    let (parent, last) = (field(parent), field(last));
    (last.is_some() && parent.is_some_and(|p| QUANTITY_MAPS.contains(&p)))
        || matches!(last, Some("sizeLimit" | "averageValue" | "storageCapacity"))
        || (matches!(parent, Some("target" | "current")) && last == Some("value"))
}

/// Whether the value at `path` is base64-encoded bytes (compared decoded).
pub fn is_base64_path(group: &str, kind: &str, path: &FieldPath) -> bool {
    group.is_empty()
        && path.0.len() == 2
        && matches!(
            (kind, &path.0[0]),
            ("Secret", Segment::Field(f)) if f == "data"
        )
        || group.is_empty()
            && path.0.len() == 2
            && matches!((kind, &path.0[0]), ("ConfigMap", Segment::Field(f)) if f == "binaryData")
}

/// The structural schemas of custom kinds, from CustomResourceDefinitions.
#[derive(Debug, Clone, Default)]
pub struct CrdSchemas {
    /// (group, kind) → version → openAPIV3Schema.
    by_kind: HashMap<(String, String), HashMap<String, Value>>,
}

impl CrdSchemas {
    /// The schemas of every CustomResourceDefinition among `objects` (others are skipped).
    pub fn of<'a>(
        objects: impl IntoIterator<Item = (&'a crate::model::ResourceKey, &'a crate::model::Packed)>,
    ) -> Self {
        let mut schemas = CrdSchemas::default();
        for (key, object) in objects {
            if key.kind == "CustomResourceDefinition" && key.group == "apiextensions.k8s.io" {
                schemas.learn(&object.value());
            }
        }
        schemas
    }

    /// Records the schemas of a CRD object (anything malformed is skipped).
    pub fn learn(&mut self, crd: &Value) {
        let Some(spec) = crd.get("spec") else { return };
        let (Some(group), Some(kind)) = (
            spec.get("group").and_then(Value::as_str),
            spec.pointer("/names/kind").and_then(Value::as_str),
        ) else {
            return;
        };
        let mut versions = HashMap::new();
        for v in spec
            .get("versions")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            if let (Some(name), Some(schema)) = (
                v.get("name").and_then(Value::as_str),
                v.pointer("/schema/openAPIV3Schema"),
            ) {
                versions.insert(name.to_string(), schema.clone());
            }
        }
        if let Some(schema) = spec.pointer("/validation/openAPIV3Schema") {
            versions.insert(String::new(), schema.clone());
        }
        if !versions.is_empty() {
            self.by_kind
                .insert((group.to_string(), kind.to_string()), versions);
        }
    }

    /// The schema of a custom kind at an API version (or any version of it).
    pub fn get(&self, group: &str, kind: &str, version: &str) -> Option<&Value> {
        let versions = self.by_kind.get(&(group.to_string(), kind.to_string()))?;
        versions
            .get(version)
            .or_else(|| versions.get(""))
            .or_else(|| versions.values().next())
    }
}

/// A field the structural schema does not know: the API server drops it on write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pruned;

/// A position in a CRD structural schema.
#[derive(Debug, Clone, Copy)]
pub struct SchemaNode<'a>(pub &'a Value);

impl<'a> SchemaNode<'a> {
    fn preserves_unknown(&self) -> bool {
        self.0
            .get("x-kubernetes-preserve-unknown-fields")
            .and_then(Value::as_bool)
            == Some(true)
    }

    /// The schema of a map key; `Err(Pruned)` when the server would prune the key.
    pub fn property(&self, key: &str) -> Result<Option<SchemaNode<'a>>, Pruned> {
        if let Some(p) = self.0.get("properties").and_then(|p| p.get(key)) {
            return Ok(Some(SchemaNode(p)));
        }
        match self.0.get("additionalProperties") {
            Some(Value::Object(_)) => {
                return Ok(self.0.get("additionalProperties").map(SchemaNode));
            }
            Some(Value::Bool(true)) => return Ok(None),
            _ => {}
        }
        if self.preserves_unknown() || self.0.get("properties").is_none() {
            Ok(None)
        } else {
            Err(Pruned)
        }
    }

    /// Whether the field holds a Kubernetes quantity, compared by value as for built-in kinds:
    /// `format: quantity`, or an int-or-string (`x-kubernetes-int-or-string`, or `anyOf`
    /// integer and string) whose pattern is the quantity pattern controller-gen writes for
    /// `resource.Quantity`.
    pub fn is_quantity(&self) -> bool {
        if self.0.get("format").and_then(Value::as_str) == Some("quantity") {
            return true;
        }
        let int_or_string = self
            .0
            .get("x-kubernetes-int-or-string")
            .and_then(Value::as_bool)
            == Some(true)
            || self
                .0
                .get("anyOf")
                .and_then(Value::as_array)
                .is_some_and(|a| {
                    let types: Vec<&str> = a
                        .iter()
                        .filter_map(|t| t.get("type").and_then(Value::as_str))
                        .collect();
                    types.contains(&"integer") && types.contains(&"string")
                });
        int_or_string
            && self
                .0
                .get("pattern")
                .and_then(Value::as_str)
                .is_some_and(|p| p.contains("[KMGTPE]i") && p.contains("[numkMGTPE]"))
    }

    /// The schema of list items.
    pub fn items(&self) -> Option<SchemaNode<'a>> {
        self.0.get("items").map(SchemaNode)
    }

    /// Whether this node is a map with free keys (entries are data).
    pub fn is_free_map(&self) -> bool {
        self.0.get("additionalProperties").is_some()
    }

    /// The list semantics the schema declares; lists without a declaration are compared by
    /// position, which reports the most useful paths (`spec.endpoints[0].port`).
    pub fn list_kind(&self) -> ListKind {
        match self.0.get("x-kubernetes-list-type").and_then(Value::as_str) {
            Some("map") => {
                let keys: Vec<String> = self
                    .0
                    .get("x-kubernetes-list-map-keys")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                    .filter_map(|k| k.as_str().map(str::to_string))
                    .collect();
                if keys.is_empty() {
                    ListKind::Index
                } else {
                    ListKind::Keyed(keys)
                }
            }
            Some("set") => ListKind::Set,
            Some("atomic") => ListKind::Atomic,
            _ => ListKind::Index,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> FieldPath {
        FieldPath::parse(s).unwrap()
    }

    #[test]
    fn builtin_lists() {
        assert_eq!(
            builtin_list_kind("Deployment", &p("spec.template.spec.containers")),
            keys(&["name"])
        );
        assert_eq!(
            builtin_list_kind(
                "Deployment",
                &p("spec.template.spec.containers[name=a].ports")
            ),
            keys(&["containerPort", "protocol"])
        );
        assert_eq!(
            builtin_list_kind("Service", &p("spec.ports")),
            keys(&["port", "protocol"])
        );
        assert_eq!(
            builtin_list_kind("NetworkPolicy", &p("spec.ingress[0].ports")),
            ListKind::Atomic
        );
        assert_eq!(
            builtin_list_kind("RoleBinding", &p("subjects")),
            ListKind::Atomic
        );
        assert_eq!(
            builtin_list_kind(
                "Deployment",
                &p("spec.template.spec.containers[name=a].args")
            ),
            ListKind::Atomic
        );
    }

    #[test]
    fn quantities_and_bytes() {
        assert!(is_quantity_path(&p(
            "spec.template.spec.containers[name=a].resources.limits.cpu"
        )));
        assert!(is_quantity_path(&p("spec.resources.requests.storage")));
        assert!(!is_quantity_path(&p("data.cpu")));
        assert!(is_base64_path("", "Secret", &p("data.password")));
        assert!(!is_base64_path("", "ConfigMap", &p("data.password")));
        assert!(is_base64_path("", "ConfigMap", &p("binaryData.blob")));
    }
}
