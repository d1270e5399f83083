//! Which live objects belong to this repository, so that those not in Git are `extra`: a
//! label selector (`-l`, config `tracking.selector`) or Argo CD annotation tracking
//! (`argocd.argoproj.io/tracking-id` = `APP:<group>/<Kind>:<namespace>/<name>`). Objects
//! with ownerReferences are never extra (their owner made them). Pure.

use crate::model::ResourceKey;
use serde_json::Value;

/// One requirement of a label selector.
#[derive(Debug, Clone, PartialEq)]
enum Requirement {
    Equals(String, String),
    NotEquals(String, String),
    In(String, Vec<String>),
    NotIn(String, Vec<String>),
    Exists(String),
    NotExists(String),
}

/// A label selector in kubectl's syntax: `a=b,c!=d,e,!f,g in (x,y),h notin (z)`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct LabelSelector {
    requirements: Vec<Requirement>,
}

impl LabelSelector {
    /// Reads a selector; the error names the part that cannot be read.
    pub fn parse(text: &str) -> Result<Self, String> {
        let mut requirements = Vec::new();
        let mut parts = Vec::new();
        let mut depth = 0;
        let mut current = String::new();
        for c in text.chars() {
            match c {
                '(' => depth += 1,
                ')' => depth -= 1,
                ',' if depth == 0 => {
                    parts.push(std::mem::take(&mut current));
                    continue;
                }
                _ => {}
            }
            current.push(c);
        }
        parts.push(current);
        for part in parts.iter().map(|p| p.trim()).filter(|p| !p.is_empty()) {
            let set = |rest: &str| -> Result<Vec<String>, String> {
                let inner = rest
                    .trim()
                    .strip_prefix('(')
                    .and_then(|r| r.strip_suffix(')'))
                    .ok_or_else(|| format!("selector {part:?}: expected a list in parentheses"))?;
                Ok(inner.split(',').map(|v| v.trim().to_string()).collect())
            };
            let req = if let Some((k, v)) = part.split_once("!=") {
                Requirement::NotEquals(k.trim().into(), v.trim().into())
            } else if let Some((k, v)) = part.split_once("==") {
                Requirement::Equals(k.trim().into(), v.trim().into())
            } else if let Some((k, v)) = part.split_once('=') {
                Requirement::Equals(k.trim().into(), v.trim().into())
            } else if let Some((k, rest)) = part.split_once(" notin ") {
                Requirement::NotIn(k.trim().into(), set(rest)?)
            } else if let Some((k, rest)) = part.split_once(" in ") {
                Requirement::In(k.trim().into(), set(rest)?)
            } else if let Some(k) = part.strip_prefix('!') {
                Requirement::NotExists(k.trim().into())
            } else if part
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_./".contains(c))
            {
                Requirement::Exists(part.into())
            } else {
                return Err(format!("cannot read label selector part {part:?}"));
            };
            requirements.push(req);
        }
        Ok(LabelSelector { requirements })
    }

    pub fn is_empty(&self) -> bool {
        self.requirements.is_empty()
    }

    /// Whether an object's labels satisfy every requirement.
    pub fn matches(&self, object: &Value) -> bool {
        let labels = object.pointer("/metadata/labels");
        let get = |k: &str| labels.and_then(|l| l.get(k)).and_then(Value::as_str);
        self.requirements.iter().all(|r| match r {
            Requirement::Equals(k, v) => get(k) == Some(v.as_str()),
            Requirement::NotEquals(k, v) => get(k) != Some(v.as_str()),
            Requirement::In(k, vs) => get(k).is_some_and(|x| vs.iter().any(|v| v == x)),
            Requirement::NotIn(k, vs) => !get(k).is_some_and(|x| vs.iter().any(|v| v == x)),
            Requirement::Exists(k) => get(k).is_some(),
            Requirement::NotExists(k) => get(k).is_none(),
        })
    }
}

/// How kdrift decides that a live object belongs to the repository.
#[derive(Debug, Clone, Default)]
pub struct Tracking {
    pub selector: Option<LabelSelector>,
    pub argocd_app: Option<String>,
    /// Objects Git declares outside the paths shown (`--path`): tracked or not, they are in
    /// Git, so never extra.
    pub in_git_elsewhere: std::sync::Arc<std::collections::HashSet<ResourceKey>>,
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
        by_selector || by_argo
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
    fn selectors() {
        let obj = json!({"metadata": {"labels": {"app": "web", "tier": "front"}}});
        for (sel, want) in [
            ("app=web", true),
            ("app==web,tier=front", true),
            ("app!=web", false),
            ("app in (web, api)", true),
            ("app notin (web)", false),
            ("tier", true),
            ("!tier", false),
            ("missing", false),
        ] {
            assert_eq!(
                LabelSelector::parse(sel).unwrap().matches(&obj),
                want,
                "{sel}"
            );
        }
        assert!(LabelSelector::parse("a in b").is_err());
    }

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
