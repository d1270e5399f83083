//! Configuration: the embedded defaults (`config/default.yaml`), the user's file (platform
//! config dir, or `--config`) read over them key by key, validated strictly (an unknown key
//! or a wrong type names the key and the file). No flags here: the runtime merges them on
//! top when it resolves settings.

use serde::Deserialize;
use serde_yaml::Value as YamlValue;
use std::path::{Path, PathBuf};

/// The embedded defaults, also the documented reference of every key.
pub const DEFAULT_CONFIG: &str = include_str!("../config/default.yaml");

/// Why the configuration cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file cannot be read.
    #[error("cannot read config file {}: {message}", path.display())]
    Read { path: PathBuf, message: String },
    /// The file is not YAML, or a key is unknown or has the wrong type.
    #[error("config file {}: {message}", path.display())]
    Invalid { path: PathBuf, message: String },
}

/// The whole configuration.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    pub namespace: String,
    pub tracking: TrackingConfig,
    pub drift: DriftConfig,
    pub ignore: Vec<IgnoreConfig>,
    pub diff: DiffConfig,
    pub kustomize: KustomizeConfig,
    pub helm: HelmConfig,
    pub apps: AppsConfig,
    /// Never write to any cluster (also `--read-only`).
    pub read_only: bool,
    /// Contexts (glob patterns, `*` any text) that are always read-only.
    pub read_only_contexts: Vec<String>,
    /// Contexts (glob patterns) where a sync asks to type the context name.
    pub protect: Vec<String>,
    pub ui: UiConfig,
    pub keys: crate::keymap::KeysConfig,
    pub attribution: AttributionConfig,
    /// The fleet's targets (`targets:`).
    pub targets: Vec<TargetConfig>,
}

/// One target of the fleet: a cluster and the part of the repository it runs.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct TargetConfig {
    pub name: String,
    pub context: String,
    #[serde(default)]
    pub kubeconfig: Option<PathBuf>,
    #[serde(default)]
    pub paths: Vec<String>,
    #[serde(default)]
    pub read_only: bool,
    #[serde(default)]
    pub protect: bool,
}

/// How drifted fields are attributed.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AttributionConfig {
    /// Field managers people use by hand (globs).
    pub people: Vec<String>,
}

/// How the explorer looks.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UiConfig {
    /// Status glyphs and borders in plain ASCII (also `--ascii`).
    pub ascii: bool,
    /// Whether the explorer rings when something drifts while you watch.
    #[serde(default)]
    pub notify: Notify,
}

/// Whether the explorer rings when something drifts while you watch (`ui.notify`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Notify {
    #[default]
    Off,
    /// The terminal bell.
    Bell,
    /// Desktop notifications (OSC 777 and OSC 9) and the bell.
    Desktop,
}

/// How drift is computed against a cluster.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DiffConfig {
    pub mode: DiffModeConfig,
    pub field_manager: String,
    pub concurrency: usize,
    /// How long to wait for an answer (`30s`, `2m`).
    pub request_timeout: String,
}

#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum DiffModeConfig {
    Local,
    Server,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrackingConfig {
    pub selector: String,
    pub argocd_app: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DriftConfig {
    pub appliers: Vec<String>,
}

/// One ignore rule as written in the file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IgnoreConfig {
    #[serde(default)]
    pub group: String,
    pub kind: String,
    #[serde(default)]
    pub namespace: Option<String>,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub paths: Vec<String>,
    #[serde(default)]
    pub managers: Vec<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KustomizeConfig {
    pub command: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AppsConfig {
    /// Whether Argo CD Applications in the repository become apps.
    pub discover: bool,
    /// More URLs that name this repository (beside its remotes).
    pub repo_urls: Vec<String>,
    /// How Argo CD marks an app's live objects: `annotation`, `label` or
    /// `annotation+label` (its `application.resourceTrackingMethod`).
    pub tracking: String,
    /// The label of label tracking (its `application.instanceLabelKey`).
    pub label_key: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HelmConfig {
    /// Program that renders charts (`helm template`); empty: `helm` on PATH.
    pub command: String,
}

/// The user's config file at the platform location, if the platform has one.
pub fn user_config_path() -> Option<PathBuf> {
    directories::ProjectDirs::from("", "", "kdrift").map(|d| d.config_dir().join("config.yaml"))
}

/// Loads the defaults and, over them, `explicit` (which must exist) or else the user's file
/// at the platform location (if it exists).
pub fn load(explicit: Option<&Path>) -> Result<Config, ConfigError> {
    let mut merged: YamlValue =
        serde_yaml::from_str(DEFAULT_CONFIG).map_err(|e| ConfigError::Invalid {
            path: PathBuf::from("<embedded default.yaml>"),
            message: e.to_string(),
        })?;
    let user = match explicit {
        Some(p) => Some(p.to_path_buf()),
        None => user_config_path().filter(|p| p.exists()),
    };
    let mut source = PathBuf::from("<embedded default.yaml>");
    if let Some(path) = user {
        let text = std::fs::read_to_string(&path).map_err(|e| ConfigError::Read {
            path: path.clone(),
            message: e.to_string(),
        })?;
        let overlay: YamlValue = serde_yaml::from_str(&text).map_err(|e| ConfigError::Invalid {
            path: path.clone(),
            message: e.to_string(),
        })?;
        if !overlay.is_null() {
            merge(&mut merged, overlay);
        }
        source = path;
    }
    from_value(merged, &source)
}

/// The embedded defaults alone.
pub fn load_defaults() -> Result<Config, ConfigError> {
    from_str_over_defaults("", Path::new("<embedded default.yaml>"))
}

/// The key map of the embedded configuration.
pub fn default_keymap() -> crate::keymap::KeyMap {
    load_defaults()
        .ok()
        .and_then(|c| crate::keymap::KeyMap::from_config(&c.keys).ok())
        .unwrap_or_default()
}

/// Reads a configuration from YAML text laid over the defaults (for tests and tools).
pub fn from_str_over_defaults(text: &str, name: &Path) -> Result<Config, ConfigError> {
    let mut merged: YamlValue =
        serde_yaml::from_str(DEFAULT_CONFIG).map_err(|e| ConfigError::Invalid {
            path: name.to_path_buf(),
            message: e.to_string(),
        })?;
    let overlay: YamlValue = serde_yaml::from_str(text).map_err(|e| ConfigError::Invalid {
        path: name.to_path_buf(),
        message: e.to_string(),
    })?;
    if !overlay.is_null() {
        merge(&mut merged, overlay);
    }
    from_value(merged, name)
}

fn from_value(value: YamlValue, source: &Path) -> Result<Config, ConfigError> {
    serde_path_to_error::deserialize(value).map_err(|e| {
        let path = e.path().to_string();
        ConfigError::Invalid {
            path: source.to_path_buf(),
            message: if path == "." {
                e.inner().to_string()
            } else {
                format!("{path}: {}", e.inner())
            },
        }
    })
}

/// Lays `overlay` over `base`: maps merge key by key, anything else replaces.
fn merge(base: &mut YamlValue, overlay: YamlValue) {
    match (base, overlay) {
        (YamlValue::Mapping(b), YamlValue::Mapping(o)) => {
            for (k, v) in o {
                match b.get_mut(&k) {
                    Some(existing) => merge(existing, v),
                    None => {
                        b.insert(k, v);
                    }
                }
            }
        }
        (b, o) => *b = o,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keymap::{Action, Key, KeyMap, KeyMode, Resolution};

    #[test]
    fn defaults_bind_the_documented_keys() {
        let map = default_keymap();
        assert_eq!(
            map.resolve(KeyMode::Tree, &[Key::Char('j')]),
            Resolution::Action(Action::Down)
        );
        assert_eq!(
            map.resolve(KeyMode::Tree, &[Key::Down]),
            Resolution::Action(Action::Down)
        );
        assert_eq!(
            map.resolve(KeyMode::Diff, &[Key::Char('q')]),
            Resolution::Action(Action::Quit)
        );
        assert_eq!(
            map.resolve(KeyMode::Tree, &[Key::Char('g')]),
            Resolution::Pending {
                fallback: Some(Action::ToggleGrouping)
            }
        );
        assert_eq!(
            map.resolve(KeyMode::Tree, &[Key::Char('g'), Key::Char('g')]),
            Resolution::Action(Action::Top)
        );
        assert_eq!(
            map.resolve(KeyMode::Tree, &[Key::Char('Z')]),
            Resolution::Unbound
        );
    }

    #[test]
    fn a_user_binding_overrides_and_none_unbinds() {
        let cfg = crate::config::from_str_over_defaults(
            "keys:\n  tree:\n    x: down\n    j: none\n",
            std::path::Path::new("user.yaml"),
        )
        .unwrap();
        let map = KeyMap::from_config(&cfg.keys).unwrap();
        assert_eq!(
            map.resolve(KeyMode::Tree, &[Key::Char('x')]),
            Resolution::Action(Action::Down)
        );
        assert_eq!(
            map.resolve(KeyMode::Tree, &[Key::Char('j')]),
            Resolution::Unbound
        );
    }

    #[test]
    fn an_unknown_action_names_the_key_and_file() {
        let err = crate::config::from_str_over_defaults(
            "keys:\n  tree:\n    x: explode\n",
            std::path::Path::new("user.yaml"),
        )
        .unwrap_err()
        .to_string();
        assert!(
            err.contains("user.yaml") && err.contains("keys.tree"),
            "{err}"
        );
    }

    #[test]
    fn renamed_kubectl_binaries_are_people_by_default() {
        let people = load_defaults().unwrap().attribution.people;
        for manager in [
            "kubectl",
            "kubectl.1.32",
            "kubectl-1.34",
            "kubectl-edit",
            "k9s",
        ] {
            assert!(
                people.iter().any(|p| crate::glob::glob_match(p, manager)),
                "{manager}"
            );
        }
        assert!(!people
            .iter()
            .any(|p| crate::glob::glob_match(p, "kube-controller-manager")));
    }

    #[test]
    fn defaults_load() {
        let c = from_str_over_defaults("", Path::new("x.yaml")).unwrap();
        assert!(c.drift.appliers.iter().any(|a| a == "kdrift"));
        assert_eq!(c.namespace, "");
    }

    #[test]
    fn user_values_override_key_by_key() {
        let c =
            from_str_over_defaults("tracking:\n  selector: app=x\n", Path::new("u.yaml")).unwrap();
        assert_eq!(c.tracking.selector, "app=x");
        assert_eq!(c.tracking.argocd_app, "");
    }

    #[test]
    fn unknown_key_names_key_and_file() {
        let err = from_str_over_defaults("tracking:\n  selectr: x\n", Path::new("/home/u/k.yaml"))
            .unwrap_err();
        let msg = err.to_string();
        assert!(
            msg.contains("/home/u/k.yaml") && msg.contains("selectr"),
            "{msg}"
        );
    }

    #[test]
    fn wrong_type_names_key_and_file() {
        let err =
            from_str_over_defaults("drift:\n  appliers: 3\n", Path::new("k.yaml")).unwrap_err();
        let msg = err.to_string();
        assert!(
            msg.contains("k.yaml") && msg.contains("drift.appliers"),
            "{msg}"
        );
    }
}
