//! Loading live objects from a file: YAML (one or many documents) or JSON (one value or a
//! stream), `List` kinds expanded. Broken input is an error naming the file and line.

use crate::model::{meta_str, split_api_version, LiveObject, ResourceKey};
use serde_json::Value;
use std::path::Path;

/// Every live object read from one source.
#[derive(Debug, Clone, Default)]
pub struct LiveSnapshot {
    /// Where the objects came from (a file path or a cluster URL).
    pub source: String,
    pub objects: Vec<LiveObject>,
}

/// Why the live state could not be read.
#[derive(Debug, thiserror::Error)]
pub enum LiveError {
    /// The live file cannot be opened or read.
    #[error("cannot read live file {path}: {message}")]
    Read { path: String, message: String },
    /// The live file holds something that is not Kubernetes objects.
    #[error("live file {path}, line {line}: {message}")]
    Parse {
        path: String,
        line: usize,
        message: String,
    },
}

/// The largest live dump read unless the user raises it (`--max-live-file-size`).
pub const DEFAULT_LIMIT: u64 = 1024 * 1024 * 1024;

/// Reads a live dump of at most the default size.
pub fn load(path: &Path) -> Result<LiveSnapshot, LiveError> {
    load_limited(path, DEFAULT_LIMIT)
}

/// Reads a live dump of at most `limit` bytes. The file is read in pieces: a larger file,
/// or one that never ends (`/dev/zero`, a pipe), stops the reading at the limit, and a NUL
/// byte (no YAML or JSON text has one) stops it at once.
pub fn load_limited(path: &Path, limit: u64) -> Result<LiveSnapshot, LiveError> {
    let shown = crate::text::visible_line(&path.display().to_string()).into_owned();
    let bytes = read_limited(path, limit).map_err(|message| LiveError::Read {
        path: shown.clone(),
        message,
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

fn read_limited(path: &Path, limit: u64) -> Result<Vec<u8>, String> {
    use std::io::Read;
    let mut file = std::fs::File::open(path).map_err(|e| e.to_string())?;
    let too_large = || {
        format!("larger than {limit} bytes; raise the limit with --max-live-file-size if it is really a dump")
    };
    if let Ok(meta) = file.metadata() {
        if meta.is_dir() {
            return Err("is a folder".into());
        }
        if meta.is_file() && meta.len() > limit {
            return Err(too_large());
        }
    }
    let mut out = Vec::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = match file.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e.to_string()),
        };
        if let Some(at) = buf[..n].iter().position(|&b| b == 0) {
            return Err(format!(
                "a NUL byte at offset {}: this is not a YAML or JSON text",
                out.len() + at
            ));
        }
        if (out.len() + n) as u64 > limit {
            return Err(too_large());
        }
        out.extend_from_slice(&buf[..n]);
    }
    Ok(out)
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
