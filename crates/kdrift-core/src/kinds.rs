//! What kdrift knows about kinds without asking a cluster: the scope (namespaced or cluster)
//! of every built-in Kubernetes kind, and the scope of custom kinds declared by
//! CustomResourceDefinitions. Cluster discovery, where available, overrides this table.
//! Pure data; no I/O.

use serde_json::Value;
use std::collections::HashMap;

/// (group, kind, namespaced, plural) for the built-in API of Kubernetes 1.32.
const BUILTIN: &[(&str, &str, bool, &str)] = &[
    ("", "Binding", true, "bindings"),
    ("", "ComponentStatus", false, "componentstatuses"),
    ("", "ConfigMap", true, "configmaps"),
    ("", "Endpoints", true, "endpoints"),
    ("", "Event", true, "events"),
    ("", "LimitRange", true, "limitranges"),
    ("", "Namespace", false, "namespaces"),
    ("", "Node", false, "nodes"),
    ("", "PersistentVolumeClaim", true, "persistentvolumeclaims"),
    ("", "PersistentVolume", false, "persistentvolumes"),
    ("", "Pod", true, "pods"),
    ("", "PodTemplate", true, "podtemplates"),
    ("", "ReplicationController", true, "replicationcontrollers"),
    ("", "ResourceQuota", true, "resourcequotas"),
    ("", "Secret", true, "secrets"),
    ("", "ServiceAccount", true, "serviceaccounts"),
    ("", "Service", true, "services"),
    (
        "admissionregistration.k8s.io",
        "MutatingWebhookConfiguration",
        false,
        "mutatingwebhookconfigurations",
    ),
    (
        "admissionregistration.k8s.io",
        "ValidatingWebhookConfiguration",
        false,
        "validatingwebhookconfigurations",
    ),
    (
        "admissionregistration.k8s.io",
        "ValidatingAdmissionPolicy",
        false,
        "validatingadmissionpolicies",
    ),
    (
        "admissionregistration.k8s.io",
        "ValidatingAdmissionPolicyBinding",
        false,
        "validatingadmissionpolicybindings",
    ),
    (
        "apiextensions.k8s.io",
        "CustomResourceDefinition",
        false,
        "customresourcedefinitions",
    ),
    ("apiregistration.k8s.io", "APIService", false, "apiservices"),
    ("apps", "ControllerRevision", true, "controllerrevisions"),
    ("apps", "DaemonSet", true, "daemonsets"),
    ("apps", "Deployment", true, "deployments"),
    ("apps", "ReplicaSet", true, "replicasets"),
    ("apps", "StatefulSet", true, "statefulsets"),
    (
        "authentication.k8s.io",
        "TokenReview",
        false,
        "tokenreviews",
    ),
    (
        "authorization.k8s.io",
        "LocalSubjectAccessReview",
        true,
        "localsubjectaccessreviews",
    ),
    (
        "authorization.k8s.io",
        "SelfSubjectAccessReview",
        false,
        "selfsubjectaccessreviews",
    ),
    (
        "authorization.k8s.io",
        "SelfSubjectRulesReview",
        false,
        "selfsubjectrulesreviews",
    ),
    (
        "authorization.k8s.io",
        "SubjectAccessReview",
        false,
        "subjectaccessreviews",
    ),
    (
        "autoscaling",
        "HorizontalPodAutoscaler",
        true,
        "horizontalpodautoscalers",
    ),
    ("batch", "CronJob", true, "cronjobs"),
    ("batch", "Job", true, "jobs"),
    (
        "certificates.k8s.io",
        "CertificateSigningRequest",
        false,
        "certificatesigningrequests",
    ),
    ("coordination.k8s.io", "Lease", true, "leases"),
    ("discovery.k8s.io", "EndpointSlice", true, "endpointslices"),
    ("events.k8s.io", "Event", true, "events"),
    (
        "flowcontrol.apiserver.k8s.io",
        "FlowSchema",
        false,
        "flowschemas",
    ),
    (
        "flowcontrol.apiserver.k8s.io",
        "PriorityLevelConfiguration",
        false,
        "prioritylevelconfigurations",
    ),
    ("networking.k8s.io", "IngressClass", false, "ingressclasses"),
    ("networking.k8s.io", "Ingress", true, "ingresses"),
    (
        "networking.k8s.io",
        "NetworkPolicy",
        true,
        "networkpolicies",
    ),
    ("node.k8s.io", "RuntimeClass", false, "runtimeclasses"),
    (
        "policy",
        "PodDisruptionBudget",
        true,
        "poddisruptionbudgets",
    ),
    (
        "rbac.authorization.k8s.io",
        "ClusterRoleBinding",
        false,
        "clusterrolebindings",
    ),
    (
        "rbac.authorization.k8s.io",
        "ClusterRole",
        false,
        "clusterroles",
    ),
    (
        "rbac.authorization.k8s.io",
        "RoleBinding",
        true,
        "rolebindings",
    ),
    ("rbac.authorization.k8s.io", "Role", true, "roles"),
    (
        "scheduling.k8s.io",
        "PriorityClass",
        false,
        "priorityclasses",
    ),
    ("storage.k8s.io", "CSIDriver", false, "csidrivers"),
    ("storage.k8s.io", "CSINode", false, "csinodes"),
    (
        "storage.k8s.io",
        "CSIStorageCapacity",
        true,
        "csistoragecapacities",
    ),
    ("storage.k8s.io", "StorageClass", false, "storageclasses"),
    (
        "storage.k8s.io",
        "VolumeAttachment",
        false,
        "volumeattachments",
    ),
    // Groups whose old names still appear in repositories.
    ("extensions", "Deployment", true, "deployments"),
    ("extensions", "DaemonSet", true, "daemonsets"),
    ("extensions", "Ingress", true, "ingresses"),
    ("extensions", "NetworkPolicy", true, "networkpolicies"),
    ("extensions", "ReplicaSet", true, "replicasets"),
];

/// Whether a kind is namespaced, by group and kind.
#[derive(Debug, Clone, Default)]
pub struct ScopeTable {
    custom: HashMap<(String, String), bool>,
}

impl ScopeTable {
    /// Records the kinds a CustomResourceDefinition declares. Anything that is not a
    /// well-formed CRD is ignored (the CRD itself is compared as an object elsewhere).
    pub fn learn_crd(&mut self, crd: &Value) {
        let spec = match crd.get("spec") {
            Some(s) => s,
            None => return,
        };
        let group = spec.get("group").and_then(Value::as_str);
        let kind = spec.pointer("/names/kind").and_then(Value::as_str);
        if let (Some(group), Some(kind)) = (group, kind) {
            let namespaced = spec.get("scope").and_then(Value::as_str) != Some("Cluster");
            self.custom
                .insert((group.to_string(), kind.to_string()), namespaced);
        }
    }

    /// Records a scope the cluster reported; it wins over everything else.
    pub fn set(&mut self, group: &str, kind: &str, namespaced: bool) {
        self.custom
            .insert((group.to_string(), kind.to_string()), namespaced);
    }

    /// The scope of a kind: learned (CRD or cluster) first, then built-in; an unknown kind
    /// is namespaced, as most custom kinds are.
    pub fn is_namespaced(&self, group: &str, kind: &str) -> bool {
        if let Some(&n) = self.custom.get(&(group.to_string(), kind.to_string())) {
            return n;
        }
        builtin(group, kind).map(|(_, _, n, _)| *n).unwrap_or(true)
    }
}

type BuiltinKind = (&'static str, &'static str, bool, &'static str);

fn builtin(group: &str, kind: &str) -> Option<&'static BuiltinKind> {
    type Index = HashMap<(&'static str, &'static str), &'static BuiltinKind>;
    static INDEX: std::sync::OnceLock<Index> = std::sync::OnceLock::new();
    let index = INDEX.get_or_init(|| BUILTIN.iter().map(|e| ((e.0, e.1), e)).collect());
    index.get(&(group, kind)).copied()
}

/// Whether a group/kind is part of the built-in API (so its schema is known to kdrift).
pub fn is_builtin(group: &str, kind: &str) -> bool {
    builtin(group, kind).is_some()
}

/// The plural resource name of a built-in kind, if known.
pub fn builtin_plural(group: &str, kind: &str) -> Option<&'static str> {
    builtin(group, kind).map(|(_, _, _, p)| *p)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn builtin_scopes() {
        let t = ScopeTable::default();
        assert!(t.is_namespaced("apps", "Deployment"));
        assert!(!t.is_namespaced("", "Namespace"));
        assert!(!t.is_namespaced("rbac.authorization.k8s.io", "ClusterRole"));
        assert!(
            t.is_namespaced("example.com", "Widget"),
            "unknown kinds are namespaced"
        );
    }

    #[test]
    fn crd_declares_scope() {
        let mut t = ScopeTable::default();
        t.learn_crd(&json!({"spec": {"group": "example.com", "names": {"kind": "Cluster"}, "scope": "Cluster"}}));
        assert!(!t.is_namespaced("example.com", "Cluster"));
    }
}
