//! The defaults the API server applies to the built-in kinds sim serves, and the status their
//! controllers would leave, from the Kubernetes API reference, kept in this one place. Also
//! the write-time transformations: Secret `stringData` folding, the typed encoding (canonical
//! quantities, no empty optional lists) and, after the write's fields are recorded, what the
//! server sets on its own (Service IPs, a Job's selector, admission's finalizers).

use serde_json::{json, Map, Value};

/// Allocation state of the cluster (Service IPs, node ports).
#[derive(Debug, Clone, Default)]
pub struct Allocator {
    next_ip: u32,
    next_node_port: u32,
}

impl Allocator {
    fn cluster_ip(&mut self) -> String {
        self.next_ip += 1;
        let n = self.next_ip + 9;
        format!("10.96.{}.{}", (n / 250) % 250, n % 250 + 1)
    }

    fn node_port(&mut self) -> u32 {
        self.next_node_port += 1;
        30000 + (self.next_node_port % 2767)
    }
}

fn set_default(m: &mut Map<String, Value>, key: &str, value: Value) {
    if m.get(key).is_none_or(Value::is_null) {
        m.insert(key.to_string(), value);
    }
}

/// `v` as a map, made one if it is not (sim stores what clients send; a value of the wrong
/// type is replaced rather than crashing the server).
fn map_of(v: &mut Value) -> &mut Map<String, Value> {
    if !v.is_object() {
        *v = json!({});
    }
    match v {
        Value::Object(m) => m,
        _ => unreachable!("made an object above"),
    }
}

fn obj<'a>(v: &'a mut Value, key: &str) -> &'a mut Map<String, Value> {
    if !v.is_object() {
        *v = json!({});
    }
    let m = v.as_object_mut().expect("just made an object");
    let child = m.entry(key).or_insert_with(|| json!({}));
    if !child.is_object() {
        *child = json!({});
    }
    child.as_object_mut().expect("just made an object")
}

/// Applies the server's defaults to an object of `group/kind` about to be stored, and stores
/// it as the server's typed encoding would write it back: quantities in their canonical
/// spelling, empty optional lists (Go's `omitempty`) dropped.
pub fn apply(group: &str, kind: &str, o: &mut Value) {
    defaults(group, kind, o);
    if kind == "CustomResourceDefinition" {
        return;
    }
    let maps = if kind == "LimitRange" {
        QUANTITY_MAPS
    } else {
        &QUANTITY_MAPS[..4]
    };
    if let Some(m) = o.as_object_mut() {
        for (k, v) in m.iter_mut() {
            if k != "metadata" && k != "status" {
                as_encoded(v, k, maps);
            }
        }
    }
}

/// Maps whose values are all quantities, by field name (container and PVC `resources`,
/// ResourceQuota `hard`, pod `overhead`; the rest only in a LimitRange's items), and single
/// quantity fields.
const QUANTITY_MAPS: &[&str] = &[
    "requests",
    "limits",
    "hard",
    "overhead",
    "max",
    "min",
    "default",
    "defaultRequest",
    "maxLimitRequestRatio",
];
const QUANTITY_FIELDS: &[&str] = &["sizeLimit", "averageValue"];
/// Lists encoded even when empty (declared without `omitempty`).
const KEPT_EMPTY: &[&str] = &["containers", "rules"];

fn canonical_quantity(v: &mut Value) {
    let text = match v {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        _ => return,
    };
    if let Some(c) = crate::quantity::canonical(&text) {
        *v = Value::String(c);
    }
}

fn as_encoded(v: &mut Value, field: &str, quantity_maps: &[&str]) {
    match v {
        Value::Object(m) => {
            if quantity_maps.contains(&field) {
                m.values_mut().for_each(canonical_quantity);
                return;
            }
            m.retain(|k, x| {
                !matches!(x, Value::Array(a) if a.is_empty()) || KEPT_EMPTY.contains(&k.as_str())
            });
            for (k, x) in m.iter_mut() {
                if QUANTITY_FIELDS.contains(&k.as_str()) {
                    canonical_quantity(x);
                } else {
                    as_encoded(x, k, quantity_maps);
                }
            }
        }
        Value::Array(items) => items
            .iter_mut()
            .for_each(|i| as_encoded(i, "", quantity_maps)),
        _ => {}
    }
}

fn defaults(group: &str, kind: &str, o: &mut Value) {
    match (group, kind) {
        ("", "Namespace") => {
            let name = o.pointer("/metadata/name").cloned().unwrap_or(Value::Null);
            let meta = obj(o, "metadata");
            let labels = meta.entry("labels").or_insert_with(|| json!({}));
            if !labels.is_object() {
                *labels = json!({});
            }
            if let Some(l) = labels.as_object_mut() {
                l.insert("kubernetes.io/metadata.name".into(), name);
            }
            set_default(obj(o, "spec"), "finalizers", json!(["kubernetes"]));
            o["status"] = json!({"phase": "Active"});
        }
        ("", "Secret") => {
            if let Some(Value::Object(sd)) = o.as_object_mut().and_then(|m| m.remove("stringData"))
            {
                use base64::Engine;
                let data = obj(o, "data");
                for (k, v) in sd {
                    let text = v
                        .as_str()
                        .map(str::to_string)
                        .unwrap_or_else(|| v.to_string());
                    data.insert(
                        k,
                        Value::String(base64::engine::general_purpose::STANDARD.encode(text)),
                    );
                }
            }
            set_default(map_of(o), "type", json!("Opaque"));
        }
        ("", "Service") => service(o),
        ("", "PersistentVolumeClaim") => {
            set_default(obj(o, "spec"), "volumeMode", json!("Filesystem"));
            // sim plays the volume controller as it plays the workload controllers: the
            // claim is bound at once, with what it asked for.
            let modes = o.pointer("/spec/accessModes").cloned().unwrap_or(json!([]));
            let size = o
                .pointer("/spec/resources/requests/storage")
                .cloned()
                .unwrap_or(json!("0"));
            o["status"] =
                json!({"phase": "Bound", "accessModes": modes, "capacity": {"storage": size}});
        }
        ("apps", "Deployment") => {
            let s = obj(o, "spec");
            set_default(s, "replicas", json!(1));
            set_default(s, "revisionHistoryLimit", json!(10));
            set_default(s, "progressDeadlineSeconds", json!(600));
            let strategy = s.entry("strategy").or_insert_with(|| json!({}));
            let st = map_of(strategy);
            set_default(st, "type", json!("RollingUpdate"));
            if st.get("type") == Some(&json!("RollingUpdate")) {
                let ru = obj(strategy, "rollingUpdate");
                set_default(ru, "maxSurge", json!("25%"));
                set_default(ru, "maxUnavailable", json!("25%"));
            }
            pod_template(&mut o["spec"]["template"], true);
            workload_status(o);
        }
        ("apps", "StatefulSet") => {
            let s = obj(o, "spec");
            set_default(s, "replicas", json!(1));
            set_default(s, "podManagementPolicy", json!("OrderedReady"));
            set_default(s, "revisionHistoryLimit", json!(10));
            set_default(
                s,
                "persistentVolumeClaimRetentionPolicy",
                json!({"whenDeleted": "Retain", "whenScaled": "Retain"}),
            );
            let us = s.entry("updateStrategy").or_insert_with(|| json!({}));
            let u = map_of(us);
            set_default(u, "type", json!("RollingUpdate"));
            if u.get("type") == Some(&json!("RollingUpdate")) {
                set_default(obj(us, "rollingUpdate"), "partition", json!(0));
            }
            for t in o
                .pointer_mut("/spec/volumeClaimTemplates")
                .and_then(Value::as_array_mut)
                .into_iter()
                .flatten()
            {
                let m = map_of(t);
                set_default(m, "apiVersion", json!("v1"));
                set_default(m, "kind", json!("PersistentVolumeClaim"));
                set_default(obj(t, "spec"), "volumeMode", json!("Filesystem"));
                t["status"] = json!({"phase": "Pending"});
            }
            pod_template(&mut o["spec"]["template"], true);
            workload_status(o);
        }
        ("apps", "DaemonSet") => {
            // The template generation the DaemonSet strategy records (not advanced on updates).
            let annotations = obj(o, "metadata")
                .entry("annotations")
                .or_insert_with(|| json!({}));
            set_default(
                map_of(annotations),
                "deprecated.daemonset.template.generation",
                json!("1"),
            );
            let s = obj(o, "spec");
            set_default(s, "revisionHistoryLimit", json!(10));
            let us = s.entry("updateStrategy").or_insert_with(|| json!({}));
            let u = map_of(us);
            set_default(u, "type", json!("RollingUpdate"));
            if u.get("type") == Some(&json!("RollingUpdate")) {
                let ru = obj(us, "rollingUpdate");
                set_default(ru, "maxUnavailable", json!(1));
                set_default(ru, "maxSurge", json!(0));
            }
            pod_template(&mut o["spec"]["template"], true);
            o["status"] = json!({"currentNumberScheduled": 1, "desiredNumberScheduled": 1, "numberAvailable": 1, "numberReady": 1, "numberMisscheduled": 0, "updatedNumberScheduled": 1, "observedGeneration": o["metadata"]["generation"]});
        }
        ("apps", "ReplicaSet") => {
            set_default(obj(o, "spec"), "replicas", json!(1));
            pod_template(&mut o["spec"]["template"], true);
            workload_status(o);
        }
        ("batch", "Job") => {
            job_spec(o);
            // The Job controller, played at once: the pods ran and succeeded.
            let now = crate::clock::now();
            let completions = o.pointer("/spec/completions").cloned().unwrap_or(json!(1));
            o["status"] = json!({"succeeded": completions, "ready": 0, "startTime": now, "completionTime": now,
                "conditions": [
                    {"type": "SuccessCriteriaMet", "status": "True", "reason": "CompletionsReached", "message": "Reached expected number of succeeded pods", "lastProbeTime": now, "lastTransitionTime": now},
                    {"type": "Complete", "status": "True", "reason": "CompletionsReached", "message": "Reached expected number of succeeded pods", "lastProbeTime": now, "lastTransitionTime": now}]});
        }
        ("batch", "CronJob") => {
            let s = obj(o, "spec");
            set_default(s, "concurrencyPolicy", json!("Allow"));
            set_default(s, "suspend", json!(false));
            set_default(s, "successfulJobsHistoryLimit", json!(3));
            set_default(s, "failedJobsHistoryLimit", json!(1));
            let jt = &mut o["spec"]["jobTemplate"];
            if jt.is_object() {
                obj(jt, "metadata");
                let template = obj(jt, "spec").entry("template").or_insert(Value::Null);
                pod_template(template, false);
            }
            o["status"] = json!({});
        }
        ("networking.k8s.io", "NetworkPolicy") => {
            let s = obj(o, "spec");
            if s.get("policyTypes").is_none() {
                let mut types = vec![json!("Ingress")];
                if s.get("egress")
                    .and_then(Value::as_array)
                    .is_some_and(|e| !e.is_empty())
                {
                    types.push(json!("Egress"));
                }
                s.insert("policyTypes".into(), Value::Array(types));
            }
            for dir in ["ingress", "egress"] {
                for rule in s
                    .get_mut(dir)
                    .and_then(Value::as_array_mut)
                    .into_iter()
                    .flatten()
                {
                    for p in rule
                        .get_mut("ports")
                        .and_then(Value::as_array_mut)
                        .into_iter()
                        .flatten()
                    {
                        if let Some(m) = p.as_object_mut() {
                            set_default(m, "protocol", json!("TCP"));
                        }
                    }
                }
            }
        }
        ("networking.k8s.io", "Ingress") => {
            for rule in o
                .pointer_mut("/spec/rules")
                .and_then(Value::as_array_mut)
                .into_iter()
                .flatten()
            {
                for path in rule
                    .pointer_mut("/http/paths")
                    .and_then(Value::as_array_mut)
                    .into_iter()
                    .flatten()
                {
                    if let Some(m) = path.as_object_mut() {
                        set_default(m, "pathType", json!("ImplementationSpecific"));
                    }
                }
            }
            o["status"] = json!({"loadBalancer": {}});
        }
        ("policy", "PodDisruptionBudget") if o.get("status").is_none() => {
            o["status"] = json!({"currentHealthy": 0, "desiredHealthy": 0, "disruptionsAllowed": 0, "expectedPods": 0});
        }
        ("autoscaling", "HorizontalPodAutoscaler") => {
            let s = obj(o, "spec");
            set_default(s, "minReplicas", json!(1));
            set_default(
                s,
                "metrics",
                json!([{"type": "Resource", "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 80}}}]),
            );
            o["status"] = json!({"currentReplicas": o["spec"]["minReplicas"], "desiredReplicas": o["spec"]["minReplicas"], "currentMetrics": null});
        }
        ("rbac.authorization.k8s.io", "RoleBinding" | "ClusterRoleBinding") => {
            for s in o
                .get_mut("subjects")
                .and_then(Value::as_array_mut)
                .into_iter()
                .flatten()
            {
                let kind = s
                    .get("kind")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_string();
                if let Some(m) = s.as_object_mut() {
                    if kind == "User" || kind == "Group" {
                        set_default(m, "apiGroup", json!("rbac.authorization.k8s.io"));
                    }
                }
            }
        }
        (
            "admissionregistration.k8s.io",
            k @ ("MutatingWebhookConfiguration" | "ValidatingWebhookConfiguration"),
        ) => {
            let mutating = k.starts_with("Mutating");
            for w in o
                .get_mut("webhooks")
                .and_then(Value::as_array_mut)
                .into_iter()
                .flatten()
            {
                let m = map_of(w);
                set_default(m, "failurePolicy", json!("Fail"));
                set_default(m, "matchPolicy", json!("Equivalent"));
                set_default(m, "namespaceSelector", json!({}));
                set_default(m, "objectSelector", json!({}));
                set_default(m, "timeoutSeconds", json!(10));
                if mutating {
                    set_default(m, "reinvocationPolicy", json!("Never"));
                }
                if let Some(svc) = w
                    .pointer_mut("/clientConfig/service")
                    .and_then(Value::as_object_mut)
                {
                    set_default(svc, "port", json!(443));
                }
                for r in w
                    .get_mut("rules")
                    .and_then(Value::as_array_mut)
                    .into_iter()
                    .flatten()
                {
                    if let Some(m) = r.as_object_mut() {
                        set_default(m, "scope", json!("*"));
                    }
                }
            }
        }
        ("apiextensions.k8s.io", "CustomResourceDefinition") => {
            let names = o.pointer("/spec/names").cloned().unwrap_or(json!({}));
            let mut accepted = names.clone();
            if let Some(m) = accepted.as_object_mut() {
                let kind = names["kind"].as_str().unwrap_or("");
                set_default(m, "singular", json!(kind.to_ascii_lowercase()));
                set_default(m, "listKind", json!(format!("{kind}List")));
            }
            if let Some(n) = o.pointer_mut("/spec/names").and_then(Value::as_object_mut) {
                let kind = names["kind"].as_str().unwrap_or("").to_string();
                set_default(n, "singular", json!(kind.to_ascii_lowercase()));
                set_default(n, "listKind", json!(format!("{kind}List")));
            }
            let s = obj(o, "spec");
            set_default(s, "conversion", json!({"strategy": "None"}));
            let now = crate::clock::now();
            o["status"] = json!({"acceptedNames": accepted, "storedVersions": o.pointer("/spec/versions/0/name").cloned().map(|v| json!([v])).unwrap_or(json!([])),
                "conditions": [{"type": "NamesAccepted", "status": "True", "reason": "NoConflicts", "lastTransitionTime": now},
                               {"type": "Established", "status": "True", "reason": "InitialNamesAccepted", "lastTransitionTime": now}]});
        }
        _ => {}
    }
}

fn service(o: &mut Value) {
    let s = obj(o, "spec");
    set_default(s, "type", json!("ClusterIP"));
    set_default(s, "sessionAffinity", json!("None"));
    let ty = s
        .get("type")
        .and_then(Value::as_str)
        .unwrap_or("ClusterIP")
        .to_string();
    if ty != "ExternalName" {
        set_default(s, "internalTrafficPolicy", json!("Cluster"));
    }
    let external = ty == "NodePort" || ty == "LoadBalancer";
    if external {
        set_default(s, "externalTrafficPolicy", json!("Cluster"));
    }
    if ty == "LoadBalancer" {
        set_default(s, "allocateLoadBalancerNodePorts", json!(true));
    }
    for p in s
        .get_mut("ports")
        .and_then(Value::as_array_mut)
        .into_iter()
        .flatten()
    {
        let port = p.get("port").cloned().unwrap_or(Value::Null);
        if let Some(m) = p.as_object_mut() {
            set_default(m, "protocol", json!("TCP"));
            set_default(m, "targetPort", port);
        }
    }
    o["status"] = json!({"loadBalancer": {}});
}

/// What a Service's REST storage allocates after the write is recorded: cluster IPs, IP
/// families and node ports (so no writer owns them).
fn service_allocations(o: &mut Value, alloc: &mut Allocator) {
    let s = obj(o, "spec");
    let ty = s
        .get("type")
        .and_then(Value::as_str)
        .unwrap_or("ClusterIP")
        .to_string();
    if ty != "ExternalName" {
        let ip = match s.get("clusterIP").and_then(Value::as_str) {
            Some(ip) if !ip.is_empty() => ip.to_string(),
            _ => alloc.cluster_ip(),
        };
        s.insert("clusterIP".into(), json!(ip));
        set_default(s, "clusterIPs", json!([ip]));
        set_default(s, "ipFamilies", json!(["IPv4"]));
        set_default(s, "ipFamilyPolicy", json!("SingleStack"));
    }
    if ty == "NodePort" || ty == "LoadBalancer" {
        for p in s
            .get_mut("ports")
            .and_then(Value::as_array_mut)
            .into_iter()
            .flatten()
        {
            if let Some(m) = p.as_object_mut() {
                if m.get("nodePort").is_none() {
                    m.insert("nodePort".into(), json!(alloc.node_port()));
                }
            }
        }
    }
}

/// What the API server sets after a write's fields are recorded, so that no writer owns it:
/// allocations (Service IPs and node ports), the selector and labels the Job strategy
/// generates, and the finalizer the StorageObjectInUseProtection admission plugin adds to a
/// PersistentVolumeClaim.
pub fn server_set(group: &str, kind: &str, o: &mut Value, alloc: &mut Allocator) {
    match (group, kind) {
        ("", "Service") => service_allocations(o, alloc),
        ("batch", "Job") => job_selector(o),
        ("", "PersistentVolumeClaim") => {
            let meta = obj(o, "metadata");
            let fin = meta.entry("finalizers").or_insert_with(|| json!([]));
            if let Some(f) = fin.as_array_mut() {
                if !f.contains(&json!("kubernetes.io/pvc-protection")) {
                    f.push(json!("kubernetes.io/pvc-protection"));
                }
            }
        }
        _ => {}
    }
}

fn job_spec(o: &mut Value) {
    let s = obj(o, "spec");
    set_default(s, "backoffLimit", json!(6));
    set_default(s, "completions", json!(1));
    set_default(s, "parallelism", json!(1));
    set_default(s, "completionMode", json!("NonIndexed"));
    set_default(s, "suspend", json!(false));
    set_default(s, "podReplacementPolicy", json!("TerminatingOrFailed"));
    if s.get("manualSelector").and_then(Value::as_bool) != Some(true) {
        s.insert("manualSelector".into(), json!(false));
    }
    pod_template(&mut o["spec"]["template"], false);
}

/// The selector and pod labels the Job strategy generates (unless the selector is manual).
fn job_selector(o: &mut Value) {
    let uid = o.pointer("/metadata/uid").cloned().unwrap_or(json!(""));
    let name = o.pointer("/metadata/name").cloned().unwrap_or(json!(""));
    let s = obj(o, "spec");
    let manual = s.get("manualSelector").and_then(Value::as_bool) == Some(true);
    if !manual {
        set_default(
            s,
            "selector",
            json!({"matchLabels": {"batch.kubernetes.io/controller-uid": uid}}),
        );
        let labels = json!({"batch.kubernetes.io/controller-uid": uid, "batch.kubernetes.io/job-name": name, "controller-uid": uid, "job-name": name});
        let tmeta = obj(
            obj(o, "spec")
                .entry("template")
                .or_insert_with(|| json!({})),
            "metadata",
        );
        let tl = tmeta.entry("labels").or_insert_with(|| json!({}));
        if let (Some(tl), Some(add)) = (tl.as_object_mut(), labels.as_object()) {
            for (k, v) in add {
                tl.insert(k.clone(), v.clone());
            }
        }
        let meta = obj(o, "metadata");
        if meta.get("labels").is_none() {
            meta.insert("labels".into(), labels);
        }
    }
}

fn workload_status(o: &mut Value) {
    let r = o.pointer("/spec/replicas").cloned().unwrap_or(json!(1));
    let now = crate::clock::now();
    o["status"] = json!({"observedGeneration": o["metadata"]["generation"], "replicas": r, "readyReplicas": r, "availableReplicas": r, "updatedReplicas": r,
        "conditions": [{"type": "Available", "status": "True", "reason": "MinimumReplicasAvailable", "message": "Deployment has minimum availability.", "lastUpdateTime": now, "lastTransitionTime": now},
                       {"type": "Progressing", "status": "True", "reason": "NewReplicaSetAvailable", "lastUpdateTime": now, "lastTransitionTime": now}]});
}

/// Pod template defaults (metadata and pod spec); `restart_always` for workloads whose pods
/// must restart (Jobs name their own policy).
fn pod_template(t: &mut Value, restart_always: bool) {
    if !t.is_object() {
        return;
    }
    obj(t, "metadata");
    let spec = obj(t, "spec");
    if restart_always {
        set_default(spec, "restartPolicy", json!("Always"));
    }
    set_default(spec, "terminationGracePeriodSeconds", json!(30));
    set_default(spec, "dnsPolicy", json!("ClusterFirst"));
    set_default(spec, "securityContext", json!({}));
    set_default(spec, "schedulerName", json!("default-scheduler"));
    if let Some(sa) = spec.get("serviceAccountName").cloned() {
        set_default(spec, "serviceAccount", sa);
    }
    let host_network = spec.get("hostNetwork").and_then(Value::as_bool) == Some(true);
    for list in ["containers", "initContainers"] {
        for c in spec
            .get_mut(list)
            .and_then(Value::as_array_mut)
            .into_iter()
            .flatten()
        {
            container(c, host_network);
        }
    }
    for v in spec
        .get_mut("volumes")
        .and_then(Value::as_array_mut)
        .into_iter()
        .flatten()
    {
        for source in ["configMap", "secret"] {
            if let Some(m) = v.get_mut(source).and_then(Value::as_object_mut) {
                set_default(m, "defaultMode", json!(420));
            }
        }
    }
}

fn container(c: &mut Value, host_network: bool) {
    let image = c
        .get("image")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    let Some(m) = c.as_object_mut() else { return };
    let tag = image
        .rsplit('/')
        .next()
        .unwrap_or("")
        .split_once(':')
        .map(|(_, t)| t.to_string());
    let pull = if image.contains('@') || tag.as_deref().is_some_and(|t| t != "latest") {
        "IfNotPresent"
    } else {
        "Always"
    };
    set_default(m, "imagePullPolicy", json!(pull));
    set_default(m, "terminationMessagePath", json!("/dev/termination-log"));
    set_default(m, "terminationMessagePolicy", json!("File"));
    set_default(m, "resources", json!({}));
    for p in m
        .get_mut("ports")
        .and_then(Value::as_array_mut)
        .into_iter()
        .flatten()
    {
        let cp = p.get("containerPort").cloned().unwrap_or(Value::Null);
        if let Some(pm) = p.as_object_mut() {
            set_default(pm, "protocol", json!("TCP"));
            if host_network {
                set_default(pm, "hostPort", cp);
            }
        }
    }
    for probe in ["livenessProbe", "readinessProbe", "startupProbe"] {
        if let Some(pm) = m.get_mut(probe).and_then(Value::as_object_mut) {
            set_default(pm, "timeoutSeconds", json!(1));
            set_default(pm, "periodSeconds", json!(10));
            set_default(pm, "successThreshold", json!(1));
            set_default(pm, "failureThreshold", json!(3));
            if let Some(h) = pm.get_mut("httpGet").and_then(Value::as_object_mut) {
                set_default(h, "scheme", json!("HTTP"));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deployment_defaults_depend_on_the_image_tag_and_strategy() {
        let mut d = json!({"metadata": {"name": "w", "generation": 1}, "spec": {"strategy": {"type": "Recreate"}, "template": {"spec": {"containers": [
            {"name": "a", "image": "nginx"}, {"name": "b", "image": "nginx:1.25"}, {"name": "c", "image": "nginx:latest"}]}}}});
        apply("apps", "Deployment", &mut d);
        let cs = &d["spec"]["template"]["spec"]["containers"];
        assert_eq!(cs[0]["imagePullPolicy"], "Always");
        assert_eq!(cs[1]["imagePullPolicy"], "IfNotPresent");
        assert_eq!(cs[2]["imagePullPolicy"], "Always");
        assert!(d["spec"]["strategy"].get("rollingUpdate").is_none());
        assert_eq!(d["spec"]["replicas"], 1);
        assert_eq!(d["status"]["availableReplicas"], 1);
    }

    #[test]
    fn service_allocation_and_port_defaults() {
        let mut s = json!({"metadata": {"name": "s"}, "spec": {"type": "NodePort", "ports": [{"port": 80}]}});
        apply("", "Service", &mut s);
        server_set("", "Service", &mut s, &mut Allocator::default());
        assert!(s["spec"]["clusterIP"]
            .as_str()
            .unwrap()
            .starts_with("10.96."));
        assert_eq!(s["spec"]["ports"][0]["targetPort"], 80);
        assert_eq!(s["spec"]["ports"][0]["protocol"], "TCP");
        assert!(s["spec"]["ports"][0]["nodePort"].as_u64().unwrap() >= 30000);
    }

    #[test]
    fn stored_as_the_typed_encoding_writes_it() {
        let mut d = json!({"metadata": {"name": "w"}, "spec": {"template": {"spec": {"containers": [
            {"name": "a", "image": "a:1", "args": [], "resources": {"requests": {"cpu": "0.2", "memory": "0.5Gi"}, "limits": {"cpu": 1}}}]}}}});
        apply("apps", "Deployment", &mut d);
        let c = &d["spec"]["template"]["spec"]["containers"][0];
        assert_eq!(
            c["resources"],
            json!({"requests": {"cpu": "200m", "memory": "512Mi"}, "limits": {"cpu": "1"}})
        );
        assert!(
            c.get("args").is_none(),
            "an empty optional list is not encoded"
        );
        let mut np = json!({"metadata": {"name": "n"}, "spec": {"podSelector": {}, "egress": []}});
        apply("networking.k8s.io", "NetworkPolicy", &mut np);
        assert_eq!(
            np["spec"],
            json!({"podSelector": {}, "policyTypes": ["Ingress"]})
        );
    }

    #[test]
    fn secret_string_data_folds() {
        let mut s = json!({"metadata": {"name": "s"}, "stringData": {"a": "x"}, "data": {"a": "eQ==", "b": "eg=="}});
        apply("", "Secret", &mut s);
        assert_eq!(s["data"], json!({"a": "eA==", "b": "eg=="}));
        assert_eq!(s["type"], "Opaque");
        assert!(s.get("stringData").is_none());
    }
}
