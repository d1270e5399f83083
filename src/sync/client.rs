//! The cluster side of sync: dry-run previews, guarded applies and pruning deletes through
//! kube-rs, the same calls against any API server. Every write is logged (time, kube user,
//! context, resource, action, result; never values). A read-only `Syncer` refuses to write.

use super::{
    parse_conflicts, short_value, Conflict, FieldChange, ItemResult, PlanAction, PlanItem,
    SyncOutcome, SyncPlan,
};
use crate::drift::{self, DriftOptions};
use crate::live::cluster::{explain, ClusterTarget, Served};
use crate::model::{DesiredObject, LiveObject, ResourceKey};
use futures::StreamExt;
use kube::api::{Api, DeleteParams, DynamicObject, Patch, PatchParams, Preconditions};
use serde_json::Value;
use std::sync::Arc;

/// Why a sync wrote nothing.
#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    /// Writes are off (`--read-only`, `read_only`, or the context is listed read-only).
    #[error("read-only: kdrift does not write to context {0} (--read-only, config read_only or read_only_contexts)")]
    ReadOnly(String),
    /// Git or live objects changed since the preview; nothing was written.
    #[error("changed since the preview, nothing written: {}", .0.join("; "))]
    Moved(Vec<String>),
    /// The resource may not be deleted by kdrift.
    #[error("{0}")]
    Refused(String),
}

/// Writes to one cluster with one field manager.
#[derive(Clone)]
pub struct Syncer {
    target: ClusterTarget,
    served: Arc<Served>,
    field_manager: String,
    read_only: bool,
    drift: DriftOptions,
    /// The kube user of the context, for the write log.
    user: String,
}

impl Syncer {
    /// The client of the cluster it writes to (for reads beside the sync: Events).
    pub fn client(&self) -> &kube::Client {
        &self.target.client
    }

    pub fn new(
        target: ClusterTarget,
        served: Arc<Served>,
        field_manager: &str,
        read_only: bool,
        drift: DriftOptions,
        user: &str,
    ) -> Syncer {
        Syncer {
            target,
            served,
            field_manager: field_manager.to_string(),
            read_only,
            drift,
            user: user.to_string(),
        }
    }

    pub fn is_read_only(&self) -> bool {
        self.read_only
    }

    pub fn context(&self) -> &str {
        &self.target.context
    }

    pub fn server(&self) -> &str {
        &self.target.server
    }

    fn api(&self, key: &ResourceKey) -> Option<(Api<DynamicObject>, kube::discovery::ApiResource)> {
        let (ar, namespaced) = self.served.get(&key.group, &key.kind)?;
        let api = if *namespaced {
            Api::namespaced_with(self.target.client.clone(), &key.namespace, ar)
        } else {
            Api::all_with(self.target.client.clone(), ar)
        };
        Some((api, ar.clone()))
    }

    /// Reads one live object now (`Ok(None)`: it does not exist).
    pub async fn get(&self, key: &ResourceKey) -> Result<Option<LiveObject>, String> {
        let Some((api, ar)) = self.api(key) else {
            return Err(format!("kind {} not served by the cluster", key.kind));
        };
        match api.get_opt(&key.name).await {
            Ok(Some(o)) => Ok(serde_json::to_value(o)
                .ok()
                .and_then(|v| crate::live::cluster::to_live(&ar, v))),
            Ok(None) => Ok(None),
            Err(e) => Err(explain(&e)),
        }
    }

    /// Previews syncing `items` (each key with its Git manifest, `None` when it is not in
    /// Git) from commit `revision`: a server-side apply dry run of each manifest, without
    /// force (to learn the conflicts) and, when there are conflicts, with force (to learn
    /// what the apply would do). Nothing is written.
    pub async fn preview(
        &self,
        items: Vec<(ResourceKey, Option<DesiredObject>)>,
        revision: &str,
        concurrency: usize,
    ) -> SyncPlan {
        let schemas = self.crd_schemas(&items).await;
        let schemas = &schemas;
        let mut planned: Vec<PlanItem> = futures::stream::iter(items)
            .map(|(key, desired)| async move { self.preview_one(key, desired, schemas).await })
            .buffered(concurrency.max(1))
            .collect()
            .await;
        // Objects in a namespace this same sync creates cannot be dry-run before it exists:
        // they are created from Git as they are.
        let new_namespaces: Vec<String> = planned
            .iter()
            .filter(|i| {
                i.action == PlanAction::Create
                    && i.key.kind == "Namespace"
                    && i.key.group.is_empty()
            })
            .map(|i| i.key.name.clone())
            .collect();
        for item in &mut planned {
            let waits = item.error.as_deref().is_some_and(|e| {
                new_namespaces
                    .iter()
                    .any(|ns| e.contains(&format!("namespaces \"{ns}\" not found")))
            });
            if waits && item.live_version.is_none() && !item.manifest.is_null() {
                item.error = None;
                item.action = PlanAction::Create;
                item.changes =
                    self.fields_of_manifest(&item.key, &item.api_version, &item.manifest, schemas);
                item.note = Some(format!(
                    "namespace {} is created by this sync first; not dry-run, created as Git has it",
                    item.key.namespace
                ));
            }
        }
        // Custom resources whose CRD this same sync writes cannot be dry-run before the CRD
        // is established and its kind served: they are checked then, and written only if the
        // check passes.
        let new_crds: std::collections::HashMap<(String, String), String> = planned
            .iter()
            .filter(|i| {
                matches!(i.action, PlanAction::Create | PlanAction::Update)
                    && i.key.kind == "CustomResourceDefinition"
                    && i.key.group == "apiextensions.k8s.io"
            })
            .filter_map(|i| {
                let g = i.manifest.pointer("/spec/group")?.as_str()?.to_string();
                let k = i
                    .manifest
                    .pointer("/spec/names/kind")?
                    .as_str()?
                    .to_string();
                Some(((g, k), i.key.name.clone()))
            })
            .collect();
        for item in &mut planned {
            let crd = new_crds.get(&(item.key.group.clone(), item.key.kind.clone()));
            if let (Some(crd), true) = (crd, self.api(&item.key).is_none()) {
                if item.manifest.is_null() {
                    continue;
                }
                item.error = None;
                item.action = PlanAction::Create;
                item.changes =
                    self.fields_of_manifest(&item.key, &item.api_version, &item.manifest, schemas);
                item.note = Some(format!(
                    "its CustomResourceDefinition {crd} is written by this sync first; this object is checked with a dry run once that CRD is established, and written only if the check passes"
                ));
                item.after_crd = Some(crd.clone());
            }
        }
        SyncPlan {
            context: self.target.context.clone(),
            server: self.target.server.clone(),
            revision: revision.to_string(),
            items: planned,
        }
    }

    /// The structural schemas of the custom kinds among `items`: from the CRDs this sync
    /// writes, else from the cluster's (one read per kind; a kind without one, or that may not
    /// be read, has none, and its keyed items are then named by position).
    async fn crd_schemas(
        &self,
        items: &[(ResourceKey, Option<DesiredObject>)],
    ) -> drift::CrdSchemas {
        let mut schemas = drift::CrdSchemas::of(
            items
                .iter()
                .filter_map(|(k, d)| d.as_ref().map(|d| (k, &d.object))),
        );
        let crds: Api<DynamicObject> = Api::all_with(
            self.target.client.clone(),
            &kube::discovery::ApiResource {
                group: "apiextensions.k8s.io".into(),
                version: "v1".into(),
                api_version: "apiextensions.k8s.io/v1".into(),
                kind: "CustomResourceDefinition".into(),
                plural: "customresourcedefinitions".into(),
            },
        );
        let mut asked = std::collections::BTreeSet::new();
        for (key, _) in items {
            // Built-in groups have no dot (apps, batch) or serve no CRD of that name.
            if !key.group.contains('.') || !asked.insert((key.group.clone(), key.kind.clone())) {
                continue;
            }
            let Some((ar, _)) = self.served.get(&key.group, &key.kind) else {
                continue;
            };
            if let Ok(Some(crd)) = crds.get_opt(&format!("{}.{}", ar.plural, key.group)).await {
                schemas.learn(&serde_json::to_value(crd).unwrap_or(Value::Null));
            }
        }
        schemas
    }

    async fn preview_one(
        &self,
        key: ResourceKey,
        desired: Option<DesiredObject>,
        schemas: &drift::CrdSchemas,
    ) -> PlanItem {
        let mut item = PlanItem {
            key: key.clone(),
            api_version: String::new(),
            action: PlanAction::Refused,
            manifest: Value::Null,
            live_version: None,
            changes: Vec::new(),
            conflicts: Vec::new(),
            error: None,
            note: None,
            after_crd: None,
        };
        let Some(d) = desired else {
            let place = if key.namespace.is_empty() {
                "cluster-wide".to_string()
            } else {
                format!("in namespace {}", key.namespace)
            };
            item.error = Some(match self.get(&key).await {
                Ok(Some(_)) => format!(
                    "not in Git ({place}): nothing to apply; it exists only in the cluster (an extra resource is deleted from the explorer, not by sync)"
                ),
                Ok(None) => format!(
                    "exists neither in Git nor in the cluster ({place}); check the name, and the namespace with -n"
                ),
                Err(e) => format!("not in Git ({place}); the cluster cannot say more: {e}"),
            });
            return item;
        };
        item.api_version = d.api_version.clone();
        item.manifest = d.object.value();
        let Some((api, _)) = self.api(&key) else {
            item.error = Some(format!("kind {} is not served by the cluster", key.kind));
            return item;
        };
        let live = match self.get(&key).await {
            Ok(l) => l,
            Err(e) => {
                item.error = Some(e);
                return item;
            }
        };
        item.live_version = live.as_ref().map(|l| l.resource_version());
        let dry = |force: bool| {
            let mut pp = PatchParams::apply(&self.field_manager);
            pp.dry_run = true;
            if force {
                pp = pp.force();
            }
            let api = api.clone();
            let body = item.manifest.clone();
            let name = key.name.clone();
            async move { api.patch(&name, &pp, &Patch::Apply(&body)).await }
        };
        let result = match dry(false).await {
            Ok(o) => Ok(o),
            Err(kube::Error::Api(s)) if s.code == 409 => {
                let status = serde_json::to_value(&s).unwrap_or(Value::Null);
                item.conflicts = parse_conflicts(&status);
                if item.conflicts.is_empty() {
                    item.conflicts.push(Conflict {
                        manager: "(unnamed)".into(),
                        fields: vec![s.message.clone()],
                    });
                }
                dry(true).await
            }
            Err(e) => Err(e),
        };
        let result = match result {
            Ok(o) => serde_json::to_value(o).unwrap_or(Value::Null),
            Err(kube::Error::Api(s)) => {
                item.error = Some(s.message.clone());
                return item;
            }
            Err(e) => {
                item.error = Some(explain(&e));
                return item;
            }
        };
        let Some(live_obj) = live.as_ref() else {
            // A create: what Git sets (the server's defaults would only be noise).
            item.changes = self.fields_of_manifest(&key, &d.api_version, &item.manifest, schemas);
            item.action = PlanAction::Create;
            return item;
        };
        let fields = drift::compare_server(&key, &result, live_obj, schemas, &self.drift);
        item.changes = fields
            .into_iter()
            .map(|f| FieldChange {
                path: f.path.to_string(),
                before: f.live.as_ref().map(|v| short_value(v, 60)),
                after: f.desired.as_ref().map(|v| short_value(v, 60)),
            })
            .collect();
        item.action = match (&live, item.changes.is_empty()) {
            (None, _) => PlanAction::Create,
            (Some(_), true) => PlanAction::Unchanged,
            (Some(_), false) => PlanAction::Update,
        };
        item
    }

    /// The fields a manifest sets, as changes from nothing (masked for Secrets).
    fn fields_of_manifest(
        &self,
        key: &ResourceKey,
        api_version: &str,
        manifest: &Value,
        schemas: &drift::CrdSchemas,
    ) -> Vec<FieldChange> {
        let empty = LiveObject::new(
            key.clone(),
            api_version,
            serde_json::json!({"apiVersion": api_version, "kind": key.kind, "metadata": {"name": key.name, "namespace": key.namespace}}),
        );
        drift::compare_server(key, manifest, &empty, schemas, &self.drift)
            .into_iter()
            .filter(|f| f.desired.is_some())
            .map(|f| FieldChange {
                path: f.path.to_string(),
                before: None,
                after: f.desired.as_ref().map(|v| short_value(v, 60)),
            })
            .collect()
    }

    /// Applies a confirmed plan, exactly as previewed: refuses (writing nothing) when Git
    /// is no longer at the plan's commit or a live object's resourceVersion moved; each
    /// update carries the previewed resourceVersion as a precondition, so a change in the
    /// instant between the check and the write is refused by the server too. Conflicts are
    /// taken only with `force`.
    pub async fn apply(
        &self,
        plan: &SyncPlan,
        current_revision: &str,
        force: bool,
    ) -> Result<Vec<SyncOutcome>, SyncError> {
        if self.read_only {
            return Err(SyncError::ReadOnly(self.target.context.clone()));
        }
        let mut moved = Vec::new();
        if plan.revision != current_revision {
            moved.push(format!(
                "Git moved from {} to {}",
                short(&plan.revision),
                short(current_revision)
            ));
        }
        for item in plan.writes().filter(|i| i.after_crd.is_none()) {
            let now = self
                .get(&item.key)
                .await
                .map(|l| l.map(|l| l.resource_version()));
            match now {
                Ok(v) if v == item.live_version => {}
                Ok(v) => moved.push(format!(
                    "{} changed in the cluster (resourceVersion {} → {})",
                    item.key.short_name(),
                    item.live_version.as_deref().unwrap_or("absent"),
                    v.as_deref().unwrap_or("deleted")
                )),
                Err(e) => moved.push(format!("{}: {e}", item.key.short_name())),
            }
        }
        if !moved.is_empty() {
            return Err(SyncError::Moved(moved));
        }
        let mut outcomes = Vec::new();
        // What the cluster serves once the plan's CRDs are established (found when the first
        // object that waits for one comes up).
        let mut after_crds: Option<Result<crate::live::cluster::Served, String>> = None;
        for item in plan.write_order().into_iter().map(|i| &plan.items[i]) {
            let action = item.action.to_string();
            let result = match item.action {
                PlanAction::Refused => ItemResult::Rejected(
                    item.error
                        .clone()
                        .unwrap_or_else(|| "cannot be synced".into()),
                ),
                PlanAction::Unchanged => ItemResult::Unchanged,
                PlanAction::Create | PlanAction::Update => {
                    if !item.conflicts.is_empty() && !force {
                        ItemResult::Conflict(conflict_text(&item.conflicts))
                    } else if item.after_crd.is_some() {
                        if after_crds.is_none() {
                            after_crds = Some(self.await_crds(plan).await);
                        }
                        match after_crds.as_ref() {
                            Some(Ok(served)) => self.apply_after_crd(item, served, force).await,
                            Some(Err(why)) => ItemResult::Rejected(why.clone()),
                            None => ItemResult::Rejected("no discovery".into()),
                        }
                    } else {
                        self.apply_one(item, force).await
                    }
                }
            };
            self.log_write(&item.key, &action, &result);
            outcomes.push(SyncOutcome {
                key: item.key.clone(),
                action,
                result,
            });
        }
        Ok(outcomes)
    }

    /// Waits until every CRD the plan writes is Established and the cluster serves the
    /// kinds written after them (at most `CRD_WAIT` in all); what it serves then.
    async fn await_crds(&self, plan: &SyncPlan) -> Result<crate::live::cluster::Served, String> {
        let crds: Vec<&str> = plan
            .items
            .iter()
            .filter_map(|i| i.after_crd.as_deref())
            .collect();
        let ar = kube::discovery::ApiResource::erase::<
            k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition,
        >(&());
        let api: Api<DynamicObject> = Api::all_with(self.target.client.clone(), &ar);
        let started = std::time::Instant::now();
        for name in crds {
            loop {
                let established = api.get_opt(name).await.ok().flatten().is_some_and(|o| {
                    o.data
                        .pointer("/status/conditions")
                        .and_then(Value::as_array)
                        .is_some_and(|c| {
                            c.iter().any(|c| {
                                c.get("type").and_then(Value::as_str) == Some("Established")
                                    && c.get("status").and_then(Value::as_str) == Some("True")
                            })
                        })
                });
                if established {
                    break;
                }
                if started.elapsed() > CRD_WAIT {
                    return Err(format!(
                        "CustomResourceDefinition {name} was not established within {} s; not written",
                        CRD_WAIT.as_secs()
                    ));
                }
                tokio::time::sleep(std::time::Duration::from_millis(250)).await;
            }
        }
        // Established is not served yet: the API server's discovery catches up a moment
        // later (the real kube-apiserver does, under load). Asked again until every kind
        // the plan writes after its CRD is served, for at most `SERVED_WAIT` (a version the
        // CRD does not serve never will be).
        let established = std::time::Instant::now();
        loop {
            let served = crate::live::cluster::discover(&self.target)
                .await
                .map_err(|e| e.to_string())?;
            let all_served = plan
                .items
                .iter()
                .filter(|i| i.after_crd.is_some())
                .all(|i| served.get(&i.key.group, &i.key.kind).is_some());
            if all_served || started.elapsed() > CRD_WAIT || established.elapsed() > SERVED_WAIT {
                return Ok(served);
            }
            tokio::time::sleep(std::time::Duration::from_millis(250)).await;
        }
    }

    /// Checks an object whose CRD this sync wrote (a dry run, now that its kind is served),
    /// then writes it if the check passes.
    async fn apply_after_crd(
        &self,
        item: &PlanItem,
        served: &crate::live::cluster::Served,
        force: bool,
    ) -> ItemResult {
        let Some((ar, namespaced)) = served.get(&item.key.group, &item.key.kind) else {
            return ItemResult::Rejected(format!(
                "kind {} is still not served after its CustomResourceDefinition was established",
                item.key.kind
            ));
        };
        let api: Api<DynamicObject> = if *namespaced {
            Api::namespaced_with(self.target.client.clone(), &item.key.namespace, ar)
        } else {
            Api::all_with(self.target.client.clone(), ar)
        };
        let mut check = PatchParams::apply(&self.field_manager);
        check.dry_run = true;
        if let Err(e) = api
            .patch(&item.key.name, &check, &Patch::Apply(&item.manifest))
            .await
        {
            return match e {
                kube::Error::Api(s) => {
                    ItemResult::Rejected(format!("the check failed: {}", s.message))
                }
                other => ItemResult::Rejected(explain(&other)),
            };
        }
        self.apply_with(&api, item, force).await
    }

    async fn apply_one(&self, item: &PlanItem, force: bool) -> ItemResult {
        let Some((api, _)) = self.api(&item.key) else {
            return ItemResult::Rejected(format!("kind {} is not served", item.key.kind));
        };
        self.apply_with(&api, item, force).await
    }

    async fn apply_with(
        &self,
        api: &Api<DynamicObject>,
        item: &PlanItem,
        force: bool,
    ) -> ItemResult {
        let mut body = item.manifest.clone();
        if let (Some(rv), Some(meta)) = (
            &item.live_version,
            body.get_mut("metadata").and_then(Value::as_object_mut),
        ) {
            meta.insert("resourceVersion".into(), Value::String(rv.clone()));
        }
        let mut pp = PatchParams::apply(&self.field_manager);
        if force {
            pp = pp.force();
        }
        match api.patch(&item.key.name, &pp, &Patch::Apply(&body)).await {
            Ok(o) => {
                let new_rv = o.metadata.resource_version.clone();
                if new_rv.is_some() && new_rv == item.live_version {
                    ItemResult::Unchanged
                } else {
                    ItemResult::Applied
                }
            }
            Err(kube::Error::Api(s)) if s.code == 409 => {
                let status = serde_json::to_value(&s).unwrap_or(Value::Null);
                let conflicts = parse_conflicts(&status);
                if conflicts.is_empty() {
                    ItemResult::Stale(s.message.clone())
                } else {
                    ItemResult::Conflict(conflict_text(&conflicts))
                }
            }
            Err(kube::Error::Api(s)) => ItemResult::Rejected(s.message.clone()),
            Err(e) => ItemResult::Rejected(explain(&e)),
        }
    }

    /// Deletes an extra resource whose live resourceVersion is `expected_version`. Refuses
    /// objects with ownerReferences (their owner manages them) and read-only mode.
    pub async fn delete(
        &self,
        key: &ResourceKey,
        expected_version: &str,
    ) -> Result<SyncOutcome, SyncError> {
        if self.read_only {
            return Err(SyncError::ReadOnly(self.target.context.clone()));
        }
        let live = self
            .get(key)
            .await
            .map_err(SyncError::Refused)?
            .ok_or_else(|| SyncError::Refused(format!("{} no longer exists", key.short_name())))?;
        let owners = live
            .object
            .head()
            .pointer("/metadata/ownerReferences")
            .and_then(Value::as_array)
            .is_some_and(|o| !o.is_empty());
        if owners {
            return Err(SyncError::Refused(format!(
                "{} has ownerReferences: its owner manages it; kdrift does not delete it",
                key.short_name()
            )));
        }
        let Some((api, _)) = self.api(key) else {
            return Err(SyncError::Refused(format!(
                "kind {} is not served",
                key.kind
            )));
        };
        let dp = DeleteParams {
            preconditions: Some(Preconditions {
                resource_version: Some(expected_version.to_string()),
                uid: None,
            }),
            ..DeleteParams::default()
        };
        let result = match api.delete(&key.name, &dp).await {
            Ok(_) => ItemResult::Deleted,
            Err(kube::Error::Api(s)) if s.code == 409 => ItemResult::Stale(s.message.clone()),
            Err(kube::Error::Api(s)) => ItemResult::Rejected(s.message.clone()),
            Err(e) => ItemResult::Rejected(explain(&e)),
        };
        self.log_write(key, "delete", &result);
        Ok(SyncOutcome {
            key: key.clone(),
            action: "delete".into(),
            result,
        })
    }

    fn log_write(&self, key: &ResourceKey, action: &str, result: &ItemResult) {
        tracing::info!(
            target: "kdrift::write",
            user = %self.user,
            context = %self.target.context,
            server = %self.target.server,
            resource = %key,
            action,
            result = %result,
            "write"
        );
    }
}

/// How long a sync waits for the CustomResourceDefinitions it wrote to be established.
const CRD_WAIT: std::time::Duration = std::time::Duration::from_secs(60);
/// How long discovery may lag behind a CRD's Established condition.
const SERVED_WAIT: std::time::Duration = std::time::Duration::from_secs(15);

fn short(commit: &str) -> &str {
    &commit[..commit.len().min(7)]
}

fn conflict_text(conflicts: &[Conflict]) -> String {
    conflicts
        .iter()
        .map(|c| format!("{} owns {}", c.manager, c.fields.join(", ")))
        .collect::<Vec<_>>()
        .join("; ")
}
