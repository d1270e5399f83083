//! Just enough of kubeconfig to know the current context and its namespace (the default
//! namespace of manifests). Files from `--kubeconfig`, else `$KUBECONFIG` (several, merged
//! first-wins as kubectl does), else `~/.kube/config`. A missing or unreadable file is not an
//! error here: there is simply no context.

use serde_json::Value;
use std::path::{Path, PathBuf};

/// The kubeconfig files kubectl would read.
pub fn files(explicit: Option<&Path>) -> Vec<PathBuf> {
    if let Some(p) = explicit {
        return vec![p.to_path_buf()];
    }
    if let Some(list) = std::env::var_os("KUBECONFIG").filter(|v| !v.is_empty()) {
        return std::env::split_paths(&list).collect();
    }
    directories::BaseDirs::new()
        .map(|d| vec![d.home_dir().join(".kube").join("config")])
        .unwrap_or_default()
}

/// Every readable kubeconfig document, in merge order.
fn documents(explicit: Option<&Path>) -> Vec<Value> {
    files(explicit)
        .iter()
        .filter_map(|p| std::fs::read_to_string(p).ok())
        .filter_map(|t| crate::yaml::parse_document(&t, 1).ok().flatten())
        .collect()
}

/// The first entry named `name` of a kubeconfig list (`contexts`, `clusters`, `users`), as
/// kubectl merges them (first wins).
fn named<'a>(docs: &'a [Value], list: &str, name: &str) -> Option<&'a Value> {
    docs.iter().find_map(|d| {
        d.get(list)?
            .as_array()?
            .iter()
            .find(|c| c.get("name").and_then(Value::as_str) == Some(name))
    })
}

/// The context that would be used (`--context`, else `current-context`) and its namespace.
pub fn context_namespace(
    explicit: Option<&Path>,
    context: Option<&str>,
) -> (Option<String>, Option<String>) {
    let docs = documents(explicit);
    let current = context.map(str::to_string).or_else(|| {
        docs.iter()
            .find_map(|d| d.get("current-context").and_then(Value::as_str))
            .filter(|s| !s.is_empty())
            .map(str::to_string)
    });
    let Some(name) = current else {
        return (None, None);
    };
    let ns = named(&docs, "contexts", &name)
        .and_then(|c| c.pointer("/context/namespace"))
        .and_then(Value::as_str)
        .map(str::to_string);
    (Some(name), ns.filter(|n| !n.is_empty()))
}

/// The user name the context uses (for the write log), if the kubeconfig says.
pub fn context_user(explicit: Option<&Path>, context: &str) -> Option<String> {
    let docs = documents(explicit);
    named(&docs, "contexts", context)?
        .pointer("/context/user")
        .and_then(Value::as_str)
        .map(str::to_string)
}

/// The API server URL of a context's cluster, if the kubeconfig says.
pub fn context_server(explicit: Option<&Path>, context: &str) -> Option<String> {
    let docs = documents(explicit);
    let cluster = named(&docs, "contexts", context)?
        .pointer("/context/cluster")
        .and_then(Value::as_str)?;
    named(&docs, "clusters", cluster)?
        .pointer("/cluster/server")
        .and_then(Value::as_str)
        .map(str::to_string)
}

/// Every context name of the kubeconfig files, in merge order, each once.
pub fn context_names(explicit: Option<&Path>) -> Vec<String> {
    let mut names: Vec<String> = Vec::new();
    for d in documents(explicit) {
        let Some(list) = d.get("contexts").and_then(Value::as_array) else {
            continue;
        };
        for c in list {
            if let Some(n) = c.get("name").and_then(Value::as_str) {
                if !names.iter().any(|x| x == n) {
                    names.push(n.to_string());
                }
            }
        }
    }
    names
}
