//! Health: has the live object converged to what its spec asks? Read from the object's
//! status the way kstatus and Argo CD read it, kind by kind (workloads, Jobs and CronJobs,
//! PersistentVolumeClaims, load-balanced Services and Ingresses, autoscalers, CRDs, Pods,
//! Namespaces), and for everything else from the conventions: `status.observedGeneration`
//! and the `Ready`, `Stalled` and `Reconciling` conditions. Pure.
//!
//! "Converged" means synced and healthy.

use crate::model::ResourceKey;
use serde::Serialize;
use serde_json::Value;
use std::fmt;

/// How a live object is doing, worst last.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum HealthStatus {
    Healthy,
    /// Paused or suspended on purpose (a paused rollout, a suspended Job or CronJob).
    Suspended,
    /// Its status cannot be read (a kind whose conditions say nothing kdrift understands).
    Unknown,
    /// Working towards its spec: a rollout under way, a Job running, waiting for an address.
    Progressing,
    /// It will not get there by itself: a progress deadline exceeded, a failed Job, a lost
    /// volume, a Stalled condition.
    Degraded,
}

impl HealthStatus {
    pub const ALL: [HealthStatus; 5] = [
        HealthStatus::Healthy,
        HealthStatus::Progressing,
        HealthStatus::Degraded,
        HealthStatus::Suspended,
        HealthStatus::Unknown,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            HealthStatus::Healthy => "healthy",
            HealthStatus::Progressing => "progressing",
            HealthStatus::Degraded => "degraded",
            HealthStatus::Suspended => "suspended",
            HealthStatus::Unknown => "unknown",
        }
    }
}

impl fmt::Display for HealthStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A live object's health, with why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Health {
    pub status: HealthStatus,
    /// A short reason (a condition's reason, or kdrift's word for the rule).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// The condition's message, or what the numbers say.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

/// `degraded (ProgressDeadlineExceeded: ReplicaSet "web-7f" has timed out progressing.)`
impl fmt::Display for Health {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (&self.reason, &self.message) {
            (Some(r), Some(m)) => write!(f, "{} ({r}: {m})", self.status),
            (Some(r), None) => write!(f, "{} ({r})", self.status),
            (None, Some(m)) => write!(f, "{} ({m})", self.status),
            (None, None) => write!(f, "{}", self.status),
        }
    }
}

impl Health {
    fn new(status: HealthStatus, reason: &str, message: impl Into<String>) -> Health {
        let message = message.into();
        Health {
            status,
            reason: Some(reason.to_string()).filter(|r| !r.is_empty()),
            message: Some(message).filter(|m| !m.is_empty()),
        }
    }

    fn healthy() -> Health {
        Health {
            status: HealthStatus::Healthy,
            reason: None,
            message: None,
        }
    }

    /// Whether it is healthy (the half of "converged" that is not drift).
    pub fn is_healthy(&self) -> bool {
        self.status == HealthStatus::Healthy
    }
}

fn int(v: &Value, pointer: &str) -> Option<i64> {
    v.pointer(pointer).and_then(Value::as_i64)
}

fn text<'a>(v: &'a Value, pointer: &str) -> &'a str {
    v.pointer(pointer).and_then(Value::as_str).unwrap_or("")
}

/// The condition of `type` (status, reason, message).
fn condition<'a>(v: &'a Value, kind: &str) -> Option<(&'a str, &'a str, &'a str)> {
    v.pointer("/status/conditions")?
        .as_array()?
        .iter()
        .find(|c| c.get("type").and_then(Value::as_str) == Some(kind))
        .map(|c| (text(c, "/status"), text(c, "/reason"), text(c, "/message")))
}

/// The health of a live object.
pub fn assess(key: &ResourceKey, obj: &Value) -> Health {
    if obj.pointer("/metadata/deletionTimestamp").is_some() {
        return Health::new(
            HealthStatus::Progressing,
            "Deleting",
            "being deleted (waiting for its finalizers)",
        );
    }
    // The controller has not seen the latest spec yet: nothing in the status is about it.
    if let (Some(generation), Some(observed)) = (
        int(obj, "/metadata/generation"),
        int(obj, "/status/observedGeneration"),
    ) {
        if observed < generation {
            return Health::new(
                HealthStatus::Progressing,
                "ObservedGeneration",
                format!("the controller has seen generation {observed} of {generation}"),
            );
        }
    }
    match (key.group.as_str(), key.kind.as_str()) {
        ("apps", "Deployment") => deployment(obj),
        ("apps", "StatefulSet") => stateful_set(obj),
        ("apps", "DaemonSet") => daemon_set(obj),
        ("apps", "ReplicaSet") => replica_set(obj),
        ("batch", "Job") => job(obj),
        ("batch", "CronJob") => {
            if obj.pointer("/spec/suspend") == Some(&Value::Bool(true)) {
                Health::new(HealthStatus::Suspended, "Suspended", "spec.suspend is true")
            } else {
                Health::healthy()
            }
        }
        ("", "PersistentVolumeClaim") => match text(obj, "/status/phase") {
            "Bound" => Health::healthy(),
            "Lost" => Health::new(
                HealthStatus::Degraded,
                "Lost",
                "the volume bound to this claim is gone",
            ),
            "" => Health::new(HealthStatus::Progressing, "Pending", "not bound yet"),
            phase => Health::new(HealthStatus::Progressing, phase, "not bound yet"),
        },
        ("", "Service") => {
            if text(obj, "/spec/type") == "LoadBalancer" {
                address(obj, "the load balancer has no address yet")
            } else {
                Health::healthy()
            }
        }
        ("networking.k8s.io", "Ingress") => address(obj, "the ingress has no address yet"),
        ("autoscaling", "HorizontalPodAutoscaler") => autoscaler(obj),
        ("apiextensions.k8s.io", "CustomResourceDefinition") => crd(obj),
        ("", "Pod") => pod(obj),
        ("", "Namespace") => match text(obj, "/status/phase") {
            "Terminating" => Health::new(HealthStatus::Progressing, "Terminating", "terminating"),
            _ => Health::healthy(),
        },
        _ => conditions(obj),
    }
}

/// An address in `status.loadBalancer.ingress`.
fn address(obj: &Value, waiting: &str) -> Health {
    let has = obj
        .pointer("/status/loadBalancer/ingress")
        .and_then(Value::as_array)
        .is_some_and(|a| !a.is_empty());
    if has {
        Health::healthy()
    } else {
        Health::new(HealthStatus::Progressing, "NoAddress", waiting)
    }
}

fn deployment(obj: &Value) -> Health {
    if obj.pointer("/spec/paused") == Some(&Value::Bool(true)) {
        return Health::new(HealthStatus::Suspended, "Paused", "the rollout is paused");
    }
    if let Some(("False", reason, message)) = condition(obj, "Progressing") {
        if reason == "ProgressDeadlineExceeded" {
            return Health::new(HealthStatus::Degraded, reason, message);
        }
    }
    if let Some(("True", reason, message)) = condition(obj, "ReplicaFailure") {
        return Health::new(HealthStatus::Degraded, reason, message);
    }
    let want = int(obj, "/spec/replicas").unwrap_or(1);
    let updated = int(obj, "/status/updatedReplicas").unwrap_or(0);
    let total = int(obj, "/status/replicas").unwrap_or(0);
    let available = int(obj, "/status/availableReplicas").unwrap_or(0);
    if updated < want {
        return Health::new(
            HealthStatus::Progressing,
            "RollingOut",
            format!("{updated} of {want} replicas updated"),
        );
    }
    if total > updated {
        return Health::new(
            HealthStatus::Progressing,
            "RollingOut",
            format!("{} old replicas pending termination", total - updated),
        );
    }
    if available < updated {
        return Health::new(
            HealthStatus::Progressing,
            "RollingOut",
            format!("{available} of {updated} updated replicas available"),
        );
    }
    Health::healthy()
}

fn stateful_set(obj: &Value) -> Health {
    let want = int(obj, "/spec/replicas").unwrap_or(1);
    let ready = int(obj, "/status/readyReplicas").unwrap_or(0);
    if ready < want {
        return Health::new(
            HealthStatus::Progressing,
            "RollingOut",
            format!("{ready} of {want} replicas ready"),
        );
    }
    if text(obj, "/spec/updateStrategy/type") != "OnDelete" {
        let partition = int(obj, "/spec/updateStrategy/rollingUpdate/partition").unwrap_or(0);
        let updated = int(obj, "/status/updatedReplicas").unwrap_or(0);
        if updated < want - partition {
            return Health::new(
                HealthStatus::Progressing,
                "RollingOut",
                format!("{updated} of {} replicas updated", want - partition),
            );
        }
        let (current, update) = (
            text(obj, "/status/currentRevision"),
            text(obj, "/status/updateRevision"),
        );
        if partition == 0 && !update.is_empty() && current != update {
            return Health::new(
                HealthStatus::Progressing,
                "RollingOut",
                format!("revision {update} is rolling out"),
            );
        }
    }
    Health::healthy()
}

fn daemon_set(obj: &Value) -> Health {
    let want = int(obj, "/status/desiredNumberScheduled").unwrap_or(0);
    let updated = int(obj, "/status/updatedNumberScheduled").unwrap_or(0);
    let available = int(obj, "/status/numberAvailable").unwrap_or(0);
    if text(obj, "/spec/updateStrategy/type") != "OnDelete" && updated < want {
        return Health::new(
            HealthStatus::Progressing,
            "RollingOut",
            format!("{updated} of {want} nodes updated"),
        );
    }
    if available < want {
        return Health::new(
            HealthStatus::Progressing,
            "RollingOut",
            format!("{available} of {want} nodes available"),
        );
    }
    Health::healthy()
}

fn replica_set(obj: &Value) -> Health {
    if let Some(("True", reason, message)) = condition(obj, "ReplicaFailure") {
        return Health::new(HealthStatus::Degraded, reason, message);
    }
    let want = int(obj, "/spec/replicas").unwrap_or(1);
    let available = int(obj, "/status/availableReplicas").unwrap_or(0);
    if available < want {
        return Health::new(
            HealthStatus::Progressing,
            "Scaling",
            format!("{available} of {want} replicas available"),
        );
    }
    Health::healthy()
}

fn job(obj: &Value) -> Health {
    if let Some(("True", reason, message)) = condition(obj, "Failed") {
        return Health::new(
            HealthStatus::Degraded,
            if reason.is_empty() { "Failed" } else { reason },
            message,
        );
    }
    if let Some(("True", _, _)) = condition(obj, "Complete") {
        return Health::healthy();
    }
    if obj.pointer("/spec/suspend") == Some(&Value::Bool(true)) {
        return Health::new(HealthStatus::Suspended, "Suspended", "spec.suspend is true");
    }
    let active = int(obj, "/status/active").unwrap_or(0);
    Health::new(
        HealthStatus::Progressing,
        "Running",
        format!(
            "{active} pod{} running, {} succeeded",
            if active == 1 { "" } else { "s" },
            int(obj, "/status/succeeded").unwrap_or(0)
        ),
    )
}

fn autoscaler(obj: &Value) -> Health {
    for kind in ["AbleToScale", "ScalingActive"] {
        if let Some(("False", reason, message)) = condition(obj, kind) {
            // Scaling switched off on purpose (min = max, or replicas 0) is not a failure.
            if reason == "ScalingDisabled" {
                return Health::new(HealthStatus::Suspended, reason, message);
            }
            return Health::new(HealthStatus::Degraded, reason, message);
        }
    }
    Health::healthy()
}

fn crd(obj: &Value) -> Health {
    if let Some(("False", reason, message)) = condition(obj, "NamesAccepted") {
        return Health::new(HealthStatus::Degraded, reason, message);
    }
    match condition(obj, "Established") {
        Some(("True", _, _)) => Health::healthy(),
        Some((_, reason, message)) => Health::new(HealthStatus::Progressing, reason, message),
        None => Health::new(
            HealthStatus::Progressing,
            "NotEstablished",
            "not established yet",
        ),
    }
}

fn pod(obj: &Value) -> Health {
    const STUCK: [&str; 6] = [
        "CrashLoopBackOff",
        "ImagePullBackOff",
        "ErrImagePull",
        "InvalidImageName",
        "CreateContainerConfigError",
        "CreateContainerError",
    ];
    let statuses = obj
        .pointer("/status/containerStatuses")
        .and_then(Value::as_array)
        .into_iter()
        .flatten();
    for c in statuses {
        let reason = text(c, "/state/waiting/reason");
        if STUCK.contains(&reason) {
            return Health::new(
                HealthStatus::Degraded,
                reason,
                format!(
                    "container {}: {}",
                    text(c, "/name"),
                    text(c, "/state/waiting/message")
                ),
            );
        }
    }
    match text(obj, "/status/phase") {
        "Succeeded" => Health::healthy(),
        "Failed" => Health::new(
            HealthStatus::Degraded,
            "Failed",
            text(obj, "/status/message").to_string(),
        ),
        "Running" => match condition(obj, "Ready") {
            Some(("True", _, _)) | None => Health::healthy(),
            Some((_, reason, message)) => Health::new(HealthStatus::Progressing, reason, message),
        },
        "" => Health::new(HealthStatus::Progressing, "Pending", ""),
        phase => Health::new(HealthStatus::Progressing, phase, ""),
    }
}

/// Anything else: the conventions custom resources follow (kstatus). `Stalled` true is
/// degraded; `Reconciling` true or `Ready` false is progressing; no conditions at all is
/// healthy (the object exists, and nothing says otherwise).
fn conditions(obj: &Value) -> Health {
    if let Some(("True", reason, message)) = condition(obj, "Stalled") {
        return Health::new(
            HealthStatus::Degraded,
            if reason.is_empty() { "Stalled" } else { reason },
            message,
        );
    }
    if let Some(("True", reason, message)) = condition(obj, "Reconciling") {
        return Health::new(
            HealthStatus::Progressing,
            if reason.is_empty() {
                "Reconciling"
            } else {
                reason
            },
            message,
        );
    }
    match condition(obj, "Ready") {
        Some(("True", _, _)) | None => Health::healthy(),
        Some(("False", reason, message)) => Health::new(
            HealthStatus::Progressing,
            if reason.is_empty() {
                "NotReady"
            } else {
                reason
            },
            message,
        ),
        Some((_, reason, message)) => Health::new(
            HealthStatus::Unknown,
            if reason.is_empty() {
                "ReadyUnknown"
            } else {
                reason
            },
            message,
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use HealthStatus::*;

    fn key(group: &str, kind: &str) -> ResourceKey {
        ResourceKey::new(group, kind, "ns", "x")
    }

    #[test]
    fn health_rules_per_kind() {
        let cases: Vec<(&str, &str, Value, HealthStatus, &str)> = vec![
            // Deployments.
            (
                "apps",
                "Deployment",
                json!({"spec": {"replicas": 2}, "status": {"replicas": 2, "updatedReplicas": 2, "availableReplicas": 2}}),
                Healthy,
                "",
            ),
            (
                "apps",
                "Deployment",
                json!({"metadata": {"generation": 3}, "spec": {"replicas": 2}, "status": {"observedGeneration": 2, "replicas": 2, "updatedReplicas": 2, "availableReplicas": 2}}),
                Progressing,
                "ObservedGeneration",
            ),
            (
                "apps",
                "Deployment",
                json!({"spec": {"replicas": 3}, "status": {"replicas": 3, "updatedReplicas": 1, "availableReplicas": 3}}),
                Progressing,
                "RollingOut",
            ),
            (
                "apps",
                "Deployment",
                json!({"spec": {"replicas": 2}, "status": {"replicas": 3, "updatedReplicas": 2, "availableReplicas": 2}}),
                Progressing,
                "RollingOut",
            ),
            (
                "apps",
                "Deployment",
                json!({"spec": {"replicas": 2}, "status": {"replicas": 2, "updatedReplicas": 2, "availableReplicas": 1}}),
                Progressing,
                "RollingOut",
            ),
            (
                "apps",
                "Deployment",
                json!({"spec": {"replicas": 2}, "status": {"replicas": 3, "updatedReplicas": 1, "availableReplicas": 2, "conditions": [{"type": "Progressing", "status": "False", "reason": "ProgressDeadlineExceeded", "message": "ReplicaSet \"web-7f\" has timed out progressing."}]}}),
                Degraded,
                "ProgressDeadlineExceeded",
            ),
            (
                "apps",
                "Deployment",
                json!({"spec": {"replicas": 2, "paused": true}, "status": {"replicas": 2, "updatedReplicas": 0}}),
                Suspended,
                "Paused",
            ),
            (
                "apps",
                "Deployment",
                json!({"spec": {}, "status": {"replicas": 1, "updatedReplicas": 1, "availableReplicas": 1}}),
                Healthy,
                "",
            ),
            // StatefulSets and DaemonSets.
            (
                "apps",
                "StatefulSet",
                json!({"spec": {"replicas": 3}, "status": {"readyReplicas": 2, "updatedReplicas": 3}}),
                Progressing,
                "RollingOut",
            ),
            (
                "apps",
                "StatefulSet",
                json!({"spec": {"replicas": 3}, "status": {"readyReplicas": 3, "updatedReplicas": 3, "currentRevision": "a", "updateRevision": "b"}}),
                Progressing,
                "RollingOut",
            ),
            (
                "apps",
                "StatefulSet",
                json!({"spec": {"replicas": 3, "updateStrategy": {"rollingUpdate": {"partition": 2}}}, "status": {"readyReplicas": 3, "updatedReplicas": 1, "currentRevision": "a", "updateRevision": "b"}}),
                Healthy,
                "",
            ),
            (
                "apps",
                "StatefulSet",
                json!({"spec": {"replicas": 3}, "status": {"readyReplicas": 3, "updatedReplicas": 3, "currentRevision": "b", "updateRevision": "b"}}),
                Healthy,
                "",
            ),
            (
                "apps",
                "DaemonSet",
                json!({"status": {"desiredNumberScheduled": 4, "updatedNumberScheduled": 3, "numberAvailable": 4}}),
                Progressing,
                "RollingOut",
            ),
            (
                "apps",
                "DaemonSet",
                json!({"status": {"desiredNumberScheduled": 4, "updatedNumberScheduled": 4, "numberAvailable": 4}}),
                Healthy,
                "",
            ),
            (
                "apps",
                "ReplicaSet",
                json!({"spec": {"replicas": 2}, "status": {"availableReplicas": 2, "conditions": [{"type": "ReplicaFailure", "status": "True", "reason": "FailedCreate", "message": "pods \"web-\" is forbidden: exceeded quota"}]}}),
                Degraded,
                "FailedCreate",
            ),
            // Jobs and CronJobs.
            (
                "batch",
                "Job",
                json!({"status": {"conditions": [{"type": "Complete", "status": "True"}]}}),
                Healthy,
                "",
            ),
            (
                "batch",
                "Job",
                json!({"status": {"conditions": [{"type": "Failed", "status": "True", "reason": "BackoffLimitExceeded", "message": "Job has reached the specified backoff limit"}]}}),
                Degraded,
                "BackoffLimitExceeded",
            ),
            (
                "batch",
                "Job",
                json!({"spec": {"suspend": true}, "status": {}}),
                Suspended,
                "Suspended",
            ),
            (
                "batch",
                "Job",
                json!({"status": {"active": 1}}),
                Progressing,
                "Running",
            ),
            (
                "batch",
                "CronJob",
                json!({"spec": {"suspend": true}}),
                Suspended,
                "Suspended",
            ),
            (
                "batch",
                "CronJob",
                json!({"spec": {"suspend": false}}),
                Healthy,
                "",
            ),
            // Claims, addresses, autoscalers, CRDs.
            (
                "",
                "PersistentVolumeClaim",
                json!({"status": {"phase": "Bound"}}),
                Healthy,
                "",
            ),
            (
                "",
                "PersistentVolumeClaim",
                json!({"status": {"phase": "Pending"}}),
                Progressing,
                "Pending",
            ),
            (
                "",
                "PersistentVolumeClaim",
                json!({"status": {"phase": "Lost"}}),
                Degraded,
                "Lost",
            ),
            (
                "",
                "Service",
                json!({"spec": {"type": "ClusterIP"}}),
                Healthy,
                "",
            ),
            (
                "",
                "Service",
                json!({"spec": {"type": "LoadBalancer"}, "status": {"loadBalancer": {}}}),
                Progressing,
                "NoAddress",
            ),
            (
                "",
                "Service",
                json!({"spec": {"type": "LoadBalancer"}, "status": {"loadBalancer": {"ingress": [{"ip": "10.0.0.1"}]}}}),
                Healthy,
                "",
            ),
            (
                "networking.k8s.io",
                "Ingress",
                json!({"status": {"loadBalancer": {}}}),
                Progressing,
                "NoAddress",
            ),
            (
                "networking.k8s.io",
                "Ingress",
                json!({"status": {"loadBalancer": {"ingress": [{"hostname": "lb.example.com"}]}}}),
                Healthy,
                "",
            ),
            (
                "autoscaling",
                "HorizontalPodAutoscaler",
                json!({"status": {"conditions": [{"type": "AbleToScale", "status": "True"}, {"type": "ScalingActive", "status": "False", "reason": "FailedGetResourceMetric", "message": "the HPA was unable to compute the replica count"}]}}),
                Degraded,
                "FailedGetResourceMetric",
            ),
            (
                "autoscaling",
                "HorizontalPodAutoscaler",
                json!({"status": {"conditions": [{"type": "AbleToScale", "status": "True"}, {"type": "ScalingActive", "status": "True"}]}}),
                Healthy,
                "",
            ),
            (
                "apiextensions.k8s.io",
                "CustomResourceDefinition",
                json!({"status": {"conditions": [{"type": "NamesAccepted", "status": "True"}, {"type": "Established", "status": "True"}]}}),
                Healthy,
                "",
            ),
            (
                "apiextensions.k8s.io",
                "CustomResourceDefinition",
                json!({"status": {"conditions": [{"type": "NamesAccepted", "status": "False", "reason": "KindConflict", "message": "\"Widget\" is already in use"}]}}),
                Degraded,
                "KindConflict",
            ),
            (
                "apiextensions.k8s.io",
                "CustomResourceDefinition",
                json!({"status": {}}),
                Progressing,
                "NotEstablished",
            ),
            // Pods.
            (
                "",
                "Pod",
                json!({"status": {"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}]}}),
                Healthy,
                "",
            ),
            (
                "",
                "Pod",
                json!({"status": {"phase": "Running", "containerStatuses": [{"name": "web", "state": {"waiting": {"reason": "CrashLoopBackOff", "message": "back-off 5m0s"}}}]}}),
                Degraded,
                "CrashLoopBackOff",
            ),
            (
                "",
                "Pod",
                json!({"status": {"phase": "Pending", "containerStatuses": [{"name": "web", "state": {"waiting": {"reason": "ImagePullBackOff"}}}]}}),
                Degraded,
                "ImagePullBackOff",
            ),
            (
                "",
                "Pod",
                json!({"status": {"phase": "Pending"}}),
                Progressing,
                "Pending",
            ),
            // Custom resources by convention, and objects with no status at all.
            (
                "example.com",
                "Widget",
                json!({"status": {"conditions": [{"type": "Ready", "status": "True"}]}}),
                Healthy,
                "",
            ),
            (
                "example.com",
                "Widget",
                json!({"status": {"conditions": [{"type": "Ready", "status": "False", "reason": "Waiting"}]}}),
                Progressing,
                "Waiting",
            ),
            (
                "example.com",
                "Widget",
                json!({"status": {"conditions": [{"type": "Ready", "status": "False"}, {"type": "Stalled", "status": "True", "reason": "InvalidSpec", "message": "spec.size must be positive"}]}}),
                Degraded,
                "InvalidSpec",
            ),
            (
                "example.com",
                "Widget",
                json!({"status": {"conditions": [{"type": "Reconciling", "status": "True", "reason": "Progressing"}]}}),
                Progressing,
                "Progressing",
            ),
            (
                "example.com",
                "Widget",
                json!({"status": {"conditions": [{"type": "Ready", "status": "Unknown"}]}}),
                Unknown,
                "ReadyUnknown",
            ),
            (
                "example.com",
                "Widget",
                json!({"metadata": {"generation": 5}, "status": {"observedGeneration": 4, "conditions": [{"type": "Ready", "status": "True"}]}}),
                Progressing,
                "ObservedGeneration",
            ),
            ("", "ConfigMap", json!({"data": {"a": "b"}}), Healthy, ""),
            (
                "",
                "Namespace",
                json!({"status": {"phase": "Terminating"}}),
                Progressing,
                "Terminating",
            ),
            (
                "",
                "ConfigMap",
                json!({"metadata": {"deletionTimestamp": "2026-01-01T00:00:00Z"}}),
                Progressing,
                "Deleting",
            ),
        ];
        for (group, kind, obj, want, reason) in cases {
            let h = assess(&key(group, kind), &obj);
            assert_eq!(h.status, want, "{kind} {obj}");
            assert_eq!(h.reason.as_deref().unwrap_or(""), reason, "{kind} {obj}");
        }
    }

    #[test]
    fn a_degraded_rollout_carries_the_conditions_message() {
        let obj = json!({"spec": {"replicas": 2}, "status": {"conditions": [{"type": "Progressing", "status": "False", "reason": "ProgressDeadlineExceeded", "message": "ReplicaSet \"web-7f\" has timed out progressing."}]}});
        let h = assess(&key("apps", "Deployment"), &obj);
        assert_eq!(
            h.message.as_deref(),
            Some("ReplicaSet \"web-7f\" has timed out progressing.")
        );
        let json = serde_json::to_value(&h).unwrap();
        assert_eq!(json["status"], "degraded");
    }
}
