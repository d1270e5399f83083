//! Which live objects belong to this repository, so that those not in Git are `extra`: a
//! label selector (`-l`, config `tracking.selector`) or Argo CD annotation tracking
//! (`argocd.argoproj.io/tracking-id` = `APP:<group>/<Kind>:<namespace>/<name>`). Objects
//! with ownerReferences are never extra (their owner made them). Pure.

use crate::model::ResourceKey;
pub use crate::selector::LabelSelector;
use serde_json::Value;

/// How kdrift decides that a live object belongs to the repository.
#[derive(Debug, Clone, Default)]
pub struct Tracking {
    pub selector: Option<LabelSelector>,
    pub argocd_app: Option<String>,
    /// Objects Git declares outside the paths shown (`--path`): tracked or not, they are in
    /// Git, so never extra.
    pub in_git_elsewhere: std::sync::Arc<std::collections::HashSet<ResourceKey>>,
    /// The apps found in the repository: which Git resource is whose, and how Argo CD marks
    /// the live objects of each.
    pub apps: std::sync::Arc<AppTracking>,
}

/// The apps of a repository as tracking sees them.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AppTracking {
    /// The app of each resource Git declares that belongs to one.
    pub by_key: std::collections::HashMap<ResourceKey, std::sync::Arc<str>>,
    /// Every app's name.
    pub names: std::collections::HashSet<std::sync::Arc<str>>,
    /// Argo CD's annotation `argocd.argoproj.io/tracking-id` marks an app's objects.
    pub by_annotation: bool,
    /// This label (Argo CD's `application.instanceLabelKey`) marks an app's objects.
    pub label: Option<String>,
    /// Flux Kustomizations by namespace and name: kustomize-controller marks what it applies
    /// with the labels `kustomize.toolkit.fluxcd.io/name` and `…/namespace`.
    pub flux: std::collections::HashMap<(String, String), std::sync::Arc<str>>,
    /// Flux HelmReleases by release namespace and name: Helm marks what it installs with
    /// the annotations `meta.helm.sh/release-name` and `…/release-namespace`.
    pub releases: std::collections::HashMap<(String, String), std::sync::Arc<str>>,
}

impl AppTracking {
    /// The app a live object is marked with, if it is one of these apps'.
    pub fn marked(&self, key: &ResourceKey, object: &Value) -> Option<std::sync::Arc<str>> {
        if self.names.is_empty() {
            return None;
        }
        let meta = object.get("metadata")?;
        // Flux marks what it applies with a pair of labels (kustomize-controller) or, through
        // Helm, a pair of annotations (helm-controller).
        let pair = |map: &str, name: &str, ns: &str| {
            let m = meta.get(map)?;
            Some((
                m.get(ns)?.as_str()?.to_string(),
                m.get(name)?.as_str()?.to_string(),
            ))
        };
        if let Some(app) = pair(
            "labels",
            "kustomize.toolkit.fluxcd.io/name",
            "kustomize.toolkit.fluxcd.io/namespace",
        )
        .and_then(|k| self.flux.get(&k))
        {
            return Some(app.clone());
        }
        if let Some(app) = pair(
            "annotations",
            "meta.helm.sh/release-name",
            "meta.helm.sh/release-namespace",
        )
        .and_then(|k| self.releases.get(&k))
        {
            return Some(app.clone());
        }
        if self.by_annotation {
            if let Some(id) = meta
                .get("annotations")
                .and_then(|a| a.get("argocd.argoproj.io/tracking-id"))
                .and_then(Value::as_str)
            {
                // `app:` or, for an Application outside Argo CD's namespace, `ns_app:`.
                if let Some((app, rest)) = id.split_once(':') {
                    let app = app.rsplit_once('_').map_or(app, |(_, a)| a);
                    if let Some(name) = self.names.get(app) {
                        if argocd_tracking_id(app, key).split_once(':').map(|(_, r)| r)
                            == Some(rest)
                        {
                            return Some(name.clone());
                        }
                    }
                }
            }
        }
        let label = self.label.as_deref()?;
        let value = meta.get("labels")?.get(label)?.as_str()?;
        self.names.get(value).cloned()
    }

    /// The app of a resource: Git's, else the one its live object is marked with.
    pub fn app_of(&self, key: &ResourceKey, live: Option<&Value>) -> Option<std::sync::Arc<str>> {
        self.by_key
            .get(key)
            .cloned()
            .or_else(|| self.marked(key, live?))
    }
}

impl Tracking {
    /// Whether a live object (not in Git) is tracked, and so `extra`.
    pub fn is_tracked(&self, key: &ResourceKey, object: &Value) -> bool {
        if self.in_git_elsewhere.contains(key) {
            return false;
        }
        let owned = object
            .pointer("/metadata/ownerReferences")
            .and_then(Value::as_array)
            .is_some_and(|a| !a.is_empty());
        if owned {
            return false;
        }
        let by_selector = self
            .selector
            .as_ref()
            .is_some_and(|s| !s.is_empty() && s.matches(object));
        let by_argo = self.argocd_app.as_ref().is_some_and(|app| {
            object
                .pointer("/metadata/annotations")
                .and_then(|a| a.get("argocd.argoproj.io/tracking-id"))
                .and_then(Value::as_str)
                == Some(argocd_tracking_id(app, key).as_str())
        });
        by_selector || by_argo || self.apps.marked(key, object).is_some()
    }
}

/// The value Argo CD writes in `argocd.argoproj.io/tracking-id` for an object of an app.
pub fn argocd_tracking_id(app: &str, key: &ResourceKey) -> String {
    format!(
        "{app}:{}/{}:{}/{}",
        key.group, key.kind, key.namespace, key.name
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn owned_objects_are_never_tracked() {
        let t = Tracking {
            selector: Some(LabelSelector::parse("app=web").unwrap()),
            ..Tracking::default()
        };
        let key = ResourceKey::new("apps", "ReplicaSet", "ns", "web-1");
        let owned =
            json!({"metadata": {"labels": {"app": "web"}, "ownerReferences": [{"uid": "1"}]}});
        assert!(!t.is_tracked(&key, &owned));
        let free = json!({"metadata": {"labels": {"app": "web"}}});
        assert!(t.is_tracked(&key, &free));
    }

    #[test]
    fn apps_mark_their_objects_by_annotation_label_or_flux_labels() {
        let mut apps = AppTracking {
            names: ["web".into()].into_iter().collect(),
            by_annotation: true,
            ..AppTracking::default()
        };
        apps.flux
            .insert(("flux-system".into(), "apps".into()), "apps".into());
        let key = ResourceKey::new("", "ConfigMap", "shop", "cfg");
        let marked = |apps: &AppTracking, meta: Value| {
            apps.marked(&key, &json!({ "metadata": meta }))
                .map(|a| a.to_string())
        };
        let annotated =
            json!({"annotations": {"argocd.argoproj.io/tracking-id": "web:/ConfigMap:shop/cfg"}});
        assert_eq!(marked(&apps, annotated.clone()).as_deref(), Some("web"));
        // An id copied from another object does not mark this one.
        let copied =
            json!({"annotations": {"argocd.argoproj.io/tracking-id": "web:/ConfigMap:shop/other"}});
        assert_eq!(marked(&apps, copied), None);
        let labelled = json!({"labels": {"app.kubernetes.io/instance": "web"}});
        assert_eq!(marked(&apps, labelled.clone()), None);
        apps.label = Some("app.kubernetes.io/instance".into());
        assert_eq!(marked(&apps, labelled).as_deref(), Some("web"));
        let flux = json!({"labels": {"kustomize.toolkit.fluxcd.io/name": "apps", "kustomize.toolkit.fluxcd.io/namespace": "flux-system"}});
        assert_eq!(marked(&apps, flux).as_deref(), Some("apps"));
        apps.releases
            .insert(("web".into(), "web-podinfo".into()), "podinfo".into());
        let release = json!({"annotations": {"meta.helm.sh/release-name": "web-podinfo", "meta.helm.sh/release-namespace": "web"}});
        assert_eq!(marked(&apps, release).as_deref(), Some("podinfo"));
    }

    #[test]
    fn argocd_annotation_tracking() {
        let t = Tracking {
            argocd_app: Some("shop".into()),
            ..Tracking::default()
        };
        let key = ResourceKey::new("apps", "Deployment", "prod", "web");
        let obj = json!({"metadata": {"annotations": {"argocd.argoproj.io/tracking-id": "shop:apps/Deployment:prod/web"}}});
        assert!(t.is_tracked(&key, &obj));
        let other = json!({"metadata": {"annotations": {"argocd.argoproj.io/tracking-id": "other:apps/Deployment:prod/web"}}});
        assert!(!t.is_tracked(&key, &other));
    }
}
