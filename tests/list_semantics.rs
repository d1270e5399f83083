//! sim's list semantics (`sim::lists`, written from the API reference) against the drift
//! engine's (`drift::schema::builtin_list_kind`): the same list fields of every built-in kind
//! both know, asked of both, and every difference named. (Written, it found two engine
//! errors: `resizePolicy` is `+listType=atomic`, and a ServiceAccount's `imagePullSecrets` is
//! atomic where the pod spec's is keyed by name.)

use kdrift::drift::schema::{builtin_list_kind, ListKind};
use kdrift::path::{FieldPath, Segment};
use kdrift::sim::lists::{list_type, ListType};

/// Where the pod spec sits in each workload kind.
const POD_SPECS: &[(&str, &[&str])] = &[
    ("Deployment", &["spec", "template", "spec"]),
    ("StatefulSet", &["spec", "template", "spec"]),
    ("DaemonSet", &["spec", "template", "spec"]),
    ("ReplicaSet", &["spec", "template", "spec"]),
    ("Job", &["spec", "template", "spec"]),
    (
        "CronJob",
        &["spec", "jobTemplate", "spec", "template", "spec"],
    ),
];

const POD_LISTS: &[&str] = &[
    "volumes",
    "containers",
    "initContainers",
    "ephemeralContainers",
    "imagePullSecrets",
    "hostAliases",
    "topologySpreadConstraints",
    "schedulingGates",
    "resourceClaims",
    "tolerations",
    "readinessGates",
];

const CONTAINER_LISTS: &[&str] = &[
    "ports",
    "env",
    "envFrom",
    "volumeMounts",
    "volumeDevices",
    "resizePolicy",
    "args",
    "command",
];

/// Kinds and list fields outside pod specs.
const OTHER: &[(&str, &[&str])] = &[
    ("Service", &["spec", "ports"]),
    ("Service", &["spec", "externalIPs"]),
    ("Service", &["spec", "ipFamilies"]),
    ("MutatingWebhookConfiguration", &["webhooks"]),
    ("ValidatingWebhookConfiguration", &["webhooks"]),
    ("NetworkPolicy", &["spec", "ingress"]),
    ("NetworkPolicy", &["spec", "egress"]),
    ("NetworkPolicy", &["spec", "policyTypes"]),
    ("Ingress", &["spec", "rules"]),
    ("Ingress", &["spec", "tls"]),
    ("Role", &["rules"]),
    ("ClusterRole", &["rules"]),
    ("RoleBinding", &["subjects"]),
    ("ServiceAccount", &["imagePullSecrets"]),
    ("ServiceAccount", &["secrets"]),
    ("PersistentVolumeClaim", &["spec", "accessModes"]),
    ("HorizontalPodAutoscaler", &["spec", "metrics"]),
    ("StatefulSet", &["spec", "volumeClaimTemplates"]),
    ("ConfigMap", &["metadata", "finalizers"]),
    ("ConfigMap", &["metadata", "ownerReferences"]),
    ("Widget", &["metadata", "finalizers"]),
    (
        "Deployment",
        &["spec", "template", "metadata", "finalizers"],
    ),
];

fn path(fields: &[&str]) -> FieldPath {
    let mut p = FieldPath::default();
    for f in fields {
        p = if *f == "[]" {
            p.child(Segment::Item(vec![("name".into(), "app".into())]))
        } else {
            p.field(f)
        };
    }
    p
}

fn same(engine: &ListKind, sim: &ListType) -> bool {
    match (engine, sim) {
        (ListKind::Keyed(a), ListType::Map(b)) => a == b,
        (ListKind::Set, ListType::Set) => true,
        (ListKind::Atomic | ListKind::Index, ListType::Atomic) => true,
        _ => false,
    }
}

#[test]
fn sims_table_and_the_engines_agree_on_every_list_both_know() {
    let mut cases: Vec<(&str, Vec<&str>)> = Vec::new();
    for (kind, pod) in POD_SPECS {
        for l in POD_LISTS {
            cases.push((kind, [*pod, &[*l]].concat()));
        }
        for c in ["containers", "initContainers"] {
            for l in CONTAINER_LISTS {
                cases.push((kind, [*pod, &[c, "[]", *l]].concat()));
            }
        }
    }
    for (kind, p) in OTHER {
        cases.push((kind, p.to_vec()));
    }
    let mut differences = Vec::new();
    let mut agreed = 0;
    for (kind, fields) in &cases {
        let p = path(fields);
        let engine = builtin_list_kind(kind, &p);
        let sim = list_type(kind, &p);
        if same(&engine, &sim) {
            agreed += 1;
            continue;
        }
        let shown = fields.join(".").replace(".[].", "[].");
        differences.push(format!("{kind} {shown}: engine {engine:?}, sim {sim:?}"));
    }
    assert!(
        differences.is_empty(),
        "the engine and sim disagree ({agreed} of {} agree):\n{}",
        cases.len(),
        differences.join("\n")
    );
    assert!(agreed > 100, "the comparison covers {agreed} lists");
}
