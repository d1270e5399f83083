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
    read_dump(path, limit, true)
}

/// Reads a dump with every object exactly as written (sim's store keeps managedFields as
/// trees); `load` and `parse` keep field sets as text (`model::compact_managed_fields`), as
/// the product keeps live objects.
pub fn load_as_written(path: &Path) -> Result<LiveSnapshot, LiveError> {
    read_dump(path, DEFAULT_LIMIT, false)
}

fn read_dump(path: &Path, limit: u64, compact: bool) -> Result<LiveSnapshot, LiveError> {
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
    parse_with(&text, &shown, compact)
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
    parse_with(text, name, true)
}

fn parse_with(text: &str, name: &str, compact: bool) -> Result<LiveSnapshot, LiveError> {
    let json = crate::yaml::strip_bom(text);
    if crate::yaml::looks_like_json(json) {
        if let Some(objects) = parse_json_lists(json, name, compact) {
            return Ok(LiveSnapshot {
                source: name.to_string(),
                objects: objects?,
            });
        }
    }
    let mut objects = Vec::new();
    for result in crate::yaml::parse_stream(text) {
        let (value, line) = result.map_err(|e| LiveError::Parse {
            path: name.to_string(),
            line: e.line,
            message: e.message,
        })?;
        push(value, line, name, compact, &mut objects)?;
    }
    Ok(LiveSnapshot {
        source: name.to_string(),
        objects,
    })
}

/// A JSON dump whose values are Lists (`kubectl get -o json`), read item by item: each item
/// is packed as it is read, so the whole dump is never a tree in memory at once. `None` when
/// a value is not a List (or not readable): the general path reads it, with its errors.
fn parse_json_lists(
    text: &str,
    name: &str,
    compact: bool,
) -> Option<Result<Vec<LiveObject>, LiveError>> {
    use serde::de::IgnoredAny;
    #[derive(serde::Deserialize)]
    struct Peek {
        #[serde(default)]
        kind: Option<Value>,
        #[serde(default)]
        items: Option<IgnoredAny>,
    }
    let mut regions = Vec::new();
    let mut stream = serde_json::Deserializer::from_str(text).into_iter::<Peek>();
    loop {
        let before = stream.byte_offset();
        match stream.next()? {
            Ok(peek) => {
                let kind = match &peek.kind {
                    None => "",
                    Some(Value::String(k)) => k.as_str(),
                    Some(_) => return None,
                };
                if peek.items.is_none() || !(kind.is_empty() || kind.ends_with("List")) {
                    return None;
                }
                regions.push((before, stream.byte_offset()));
            }
            Err(_) => return None,
        }
        if text[stream.byte_offset()..].trim().is_empty() {
            break;
        }
    }
    let mut out = Vec::new();
    for (start, end) in regions {
        let region = &text[start..end];
        let skipped = region.find(|c: char| !c.is_whitespace()).unwrap_or(0);
        let line = 1 + text[..start + skipped].matches('\n').count();
        let mut failed = None;
        let seed = ListSeed {
            line,
            compact,
            name,
            out: &mut out,
            failed: &mut failed,
        };
        let mut de = serde_json::Deserializer::from_str(region);
        let read = serde::de::DeserializeSeed::deserialize(seed, &mut de);
        if let Some(e) = failed {
            return Some(Err(e));
        }
        if let Err(e) = read {
            return Some(Err(LiveError::Parse {
                path: name.to_string(),
                line: line + e.line().saturating_sub(1),
                message: e.to_string(),
            }));
        }
    }
    Some(Ok(out))
}

/// A List object whose `items` are pushed one by one as they are read.
struct ListSeed<'a> {
    line: usize,
    compact: bool,
    name: &'a str,
    out: &'a mut Vec<LiveObject>,
    failed: &'a mut Option<LiveError>,
}

impl<'de> serde::de::DeserializeSeed<'de> for ListSeed<'_> {
    type Value = ();
    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> serde::de::Visitor<'de> for ListSeed<'_> {
    type Value = ();
    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a List")
    }
    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        while let Some(key) = map.next_key::<std::borrow::Cow<'de, str>>()? {
            if key == "items" {
                map.next_value_seed(ItemsSeed {
                    line: self.line,
                    compact: self.compact,
                    name: self.name,
                    out: &mut *self.out,
                    failed: &mut *self.failed,
                })?;
            } else {
                map.next_value::<serde::de::IgnoredAny>()?;
            }
        }
        Ok(())
    }
}

struct ItemsSeed<'a> {
    line: usize,
    compact: bool,
    name: &'a str,
    out: &'a mut Vec<LiveObject>,
    failed: &'a mut Option<LiveError>,
}

impl<'de> serde::de::DeserializeSeed<'de> for ItemsSeed<'_> {
    type Value = ();
    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de> serde::de::Visitor<'de> for ItemsSeed<'_> {
    type Value = ();
    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a list of objects")
    }
    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while let Some(crate::yaml::StrictValue(item)) = seq.next_element()? {
            if self.failed.is_some() {
                continue;
            }
            if let Err(e) = push(item, self.line, self.name, self.compact, self.out) {
                *self.failed = Some(e);
            }
        }
        Ok(())
    }
}

fn push(
    value: Value,
    line: usize,
    name: &str,
    compact: bool,
    out: &mut Vec<LiveObject>,
) -> Result<(), LiveError> {
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
            push(item, line, name, compact, out)?;
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
    let api_version = api_version.to_string();
    out.push(if compact {
        LiveObject::new(key, api_version, value)
    } else {
        LiveObject::as_written(key, api_version, &value)
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
    fn json_lists_are_read_item_by_item_like_any_other_value() {
        // `kubectl get -o json` writes items before kind; a stream of Lists; an object
        // with its own `items` that is not a List is one object.
        let cm = |n: &str| {
            format!(
                r#"{{"apiVersion":"v1","kind":"ConfigMap","metadata":{{"name":"{n}","namespace":"a","managedFields":[{{"manager":"m","fieldsV1":{{"f:data":{{}}}}}}]}}}}"#
            )
        };
        let text = format!(
            "{{\"apiVersion\":\"v1\",\"items\":[{},{}],\"kind\":\"List\",\"metadata\":{{}}}}\n{{\"items\":[{}]}}",
            cm("x"),
            cm("y"),
            cm("z")
        );
        let streamed = parse(&text, "live.json").unwrap();
        let names: Vec<&str> = streamed
            .objects
            .iter()
            .map(|o| o.key.name.as_str())
            .collect();
        assert_eq!(names, ["x", "y", "z"]);
        // Field sets kept as text, as everywhere in the product.
        let v = streamed.objects[0].value();
        assert!(
            v["metadata"]["managedFields"][0]["fieldsV1"].is_string(),
            "{v}"
        );
        // The same objects through the general path (YAML) are the same objects.
        let yaml: String = ["x", "y", "z"]
            .iter()
            .map(|n| format!("---\n{}\n", cm(n)))
            .collect();
        assert_eq!(parse(&yaml, "live.yaml").unwrap().objects, streamed.objects);
        let own_items =
            r#"{"apiVersion":"x.io/v1","kind":"Basket","metadata":{"name":"b"},"items":[1,2]}"#;
        let snap = parse(own_items, "live.json").unwrap();
        assert_eq!(snap.objects.len(), 1);
        assert_eq!(snap.objects[0].value()["items"], serde_json::json!([1, 2]));
        // A broken item names the List's line; a key set twice in an item is refused.
        let text = "\n\n{\"kind\":\"List\",\"items\":[{\"kind\":\"ConfigMap\"}]}";
        let err = parse(text, "live.json").unwrap_err().to_string();
        assert!(err.starts_with("live file live.json, line 3:"), "{err}");
        let text = r#"{"kind":"List","items":[{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"a","name":"b"}}]}"#;
        assert!(parse(text, "live.json").is_err());
        // Items as written for sim.
        let file = std::env::temp_dir().join(format!("kdrift-dump-{}.json", std::process::id()));
        std::fs::write(&file, format!(r#"{{"kind":"List","items":[{}]}}"#, cm("w"))).unwrap();
        let written = load_as_written(&file).unwrap();
        std::fs::remove_file(&file).ok();
        assert!(written.objects[0].value()["metadata"]["managedFields"][0]["fieldsV1"].is_object());
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
