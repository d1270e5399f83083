//! Loading live objects from a file: YAML (one or many documents) or JSON (one value or a
//! stream), `List` kinds expanded. Broken input is an error naming the file and line.

use super::{LiveError, LiveSnapshot};
use crate::model::{meta_str, split_api_version, LiveObject, ResourceKey};
use serde_json::Value;
use std::path::Path;

/// Reads a live dump.
pub fn load(path: &Path) -> Result<LiveSnapshot, LiveError> {
    let shown = path.display().to_string();
    let bytes = std::fs::read(path).map_err(|e| LiveError::Read {
        path: shown.clone(),
        message: e.to_string(),
    })?;
    let text = String::from_utf8(bytes).map_err(|e| LiveError::Parse {
        path: shown.clone(),
        line: 1 + e.as_bytes()[..e.utf8_error().valid_up_to()]
            .iter()
            .filter(|&&b| b == b'\n')
            .count(),
        message: "not valid UTF-8".into(),
    })?;
    parse(&text, &shown)
}

/// Reads live objects from text; `name` is used in errors.
pub fn parse(text: &str, name: &str) -> Result<LiveSnapshot, LiveError> {
    let mut objects = Vec::new();
    for result in crate::yaml::parse_stream(text) {
        let (value, line) = result.map_err(|e| LiveError::Parse {
            path: name.to_string(),
            line: e.line,
            message: e.message,
        })?;
        push(value, line, name, &mut objects)?;
    }
    Ok(LiveSnapshot {
        source: name.to_string(),
        objects,
    })
}

fn push(value: Value, line: usize, name: &str, out: &mut Vec<LiveObject>) -> Result<(), LiveError> {
    let err = |message: String| LiveError::Parse {
        path: name.to_string(),
        line,
        message,
    };
    let mut value = value;
    let Value::Object(map) = &mut value else {
        return Err(err("expected a Kubernetes object (a mapping)".into()));
    };
    let kind = map
        .get("kind")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    if map.contains_key("items") && (kind.ends_with("List") || kind.is_empty()) {
        let Some(Value::Array(items)) = map.remove("items") else {
            return Err(err(format!("{kind}: items is not a list")));
        };
        for item in items {
            push(item, line, name, out)?;
        }
        return Ok(());
    }
    let kind = kind.as_str();
    let api_version = map
        .get("apiVersion")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    let api_version = api_version.as_str();
    let obj_name = meta_str(&value, "name");
    if kind.is_empty() || api_version.is_empty() || obj_name.is_empty() {
        return Err(err(format!(
            "an object without apiVersion, kind or metadata.name (kind {kind:?}, name {obj_name:?})"
        )));
    }
    let (group, _) = split_api_version(api_version);
    let key = ResourceKey::new(group, kind, meta_str(&value, "namespace"), obj_name);
    out.push(LiveObject {
        key,
        api_version: api_version.to_string(),
        object: value,
    });
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn list_and_documents() {
        let text = "apiVersion: v1\nkind: List\nitems:\n- apiVersion: v1\n  kind: ConfigMap\n  metadata: {name: a, namespace: ns1}\n---\napiVersion: apps/v1\nkind: Deployment\nmetadata: {name: d, namespace: ns1}\n";
        let snap = parse(text, "live.yaml").unwrap();
        let keys: Vec<String> = snap.objects.iter().map(|o| o.key.to_string()).collect();
        assert_eq!(keys, ["/ConfigMap/ns1/a", "apps/Deployment/ns1/d"]);
    }

    #[test]
    fn json_list() {
        let text = r#"{"apiVersion":"v1","kind":"List","items":[{"apiVersion":"v1","kind":"Namespace","metadata":{"name":"x"}}]}"#;
        assert_eq!(parse(text, "live.json").unwrap().objects.len(), 1);
    }

    #[test]
    fn broken_input_names_file_and_line() {
        let err = parse(
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: [a\n",
            "dump.yaml",
        )
        .unwrap_err();
        let msg = err.to_string();
        assert!(msg.starts_with("live file dump.yaml, line "), "{msg}");
        let err = parse("---\nfoo: bar\n", "dump.yaml").unwrap_err();
        assert!(err.to_string().contains("line 2"), "{err}");
    }
}
