//! `/openapi/v2`: the Swagger 2.0 document kubectl validates against, with a definition for
//! every kind sim serves and for its List, each open (`type: object`, no properties) and tagged
//! with `x-kubernetes-group-version-kind`, under the names the API server gives them
//! (`io.k8s.api.apps.v1.Deployment`, `com.example.v1.Widget`). kubectl asks for it as
//! protobuf (gnostic's `openapi_v2.Document`), so it is served both ways: JSON on request,
//! else protobuf, written by the small encoder below.

use super::registry::ResourceType;
use serde_json::{json, Map, Value};

/// The definition name the API server uses for a kind of a group version.
pub fn definition_name(group: &str, version: &str, kind: &str) -> String {
    let package = match group {
        "" => "io.k8s.api.core".to_string(),
        "apiextensions.k8s.io" => "io.k8s.apiextensions-apiserver.pkg.apis.apiextensions".into(),
        "apiregistration.k8s.io" => "io.k8s.kube-aggregator.pkg.apis.apiregistration".into(),
        g if g.ends_with(".k8s.io") || !g.contains('.') => {
            let first = g.split('.').next().unwrap_or(g);
            format!("io.k8s.api.{first}")
        }
        g => g.split('.').rev().collect::<Vec<_>>().join("."),
    };
    format!("{package}.{version}.{kind}")
}

/// (definition name, group, version, kind) of every kind served and of its List.
fn definitions(types: &[ResourceType]) -> Vec<(String, String, String, String)> {
    let mut out = Vec::new();
    for t in types {
        for kind in [t.kind.clone(), format!("{}List", t.kind)] {
            out.push((
                definition_name(&t.group, &t.version, &kind),
                t.group.clone(),
                t.version.clone(),
                kind,
            ));
        }
    }
    out.sort();
    out.dedup();
    out
}

/// The document as JSON.
pub fn v2_json(types: &[ResourceType]) -> Value {
    let mut defs = Map::new();
    for (name, group, version, kind) in definitions(types) {
        defs.insert(
            name,
            json!({"type": "object", "x-kubernetes-group-version-kind": [{"group": group, "version": version, "kind": kind}]}),
        );
    }
    json!({"swagger": "2.0", "info": {"title": "Kubernetes", "version": "v1.34.4"}, "paths": {}, "definitions": defs})
}

/// The document as gnostic's `openapi_v2.Document` protobuf: swagger (1), info (2: title 1,
/// version 2), definitions (9: repeated NamedSchema 1 of name 1 and Schema 2, whose type is
/// field 22 and vendor extensions field 31 as NamedAny of name 1 and Any 2 with its YAML at 2).
pub fn v2_protobuf(types: &[ResourceType]) -> Vec<u8> {
    let mut info = Vec::new();
    bytes_field(&mut info, 1, b"Kubernetes");
    bytes_field(&mut info, 2, b"v1.34.4");
    let mut definitions_msg = Vec::new();
    for (name, group, version, kind) in definitions(types) {
        let mut type_item = Vec::new();
        bytes_field(&mut type_item, 1, b"object");
        let yaml = format!("- group: \"{group}\"\n  kind: \"{kind}\"\n  version: \"{version}\"\n");
        let mut any = Vec::new();
        bytes_field(&mut any, 2, yaml.as_bytes());
        let mut named_any = Vec::new();
        bytes_field(&mut named_any, 1, b"x-kubernetes-group-version-kind");
        bytes_field(&mut named_any, 2, &any);
        let mut schema = Vec::new();
        bytes_field(&mut schema, 22, &type_item);
        bytes_field(&mut schema, 31, &named_any);
        let mut named_schema = Vec::new();
        bytes_field(&mut named_schema, 1, name.as_bytes());
        bytes_field(&mut named_schema, 2, &schema);
        bytes_field(&mut definitions_msg, 1, &named_schema);
    }
    let mut doc = Vec::new();
    bytes_field(&mut doc, 1, b"2.0");
    bytes_field(&mut doc, 2, &info);
    bytes_field(&mut doc, 9, &definitions_msg);
    doc
}

fn varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

/// A length-delimited field (wire type 2).
fn bytes_field(out: &mut Vec<u8>, field: u32, bytes: &[u8]) {
    varint(out, (u64::from(field) << 3) | 2);
    varint(out, bytes.len() as u64);
    out.extend_from_slice(bytes);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn definition_names_are_the_api_servers() {
        assert_eq!(
            definition_name("", "v1", "ConfigMapList"),
            "io.k8s.api.core.v1.ConfigMapList"
        );
        assert_eq!(
            definition_name("apps", "v1", "Deployment"),
            "io.k8s.api.apps.v1.Deployment"
        );
        assert_eq!(
            definition_name("rbac.authorization.k8s.io", "v1", "Role"),
            "io.k8s.api.rbac.v1.Role"
        );
        assert_eq!(
            definition_name("example.com", "v1", "Widget"),
            "com.example.v1.Widget"
        );
    }

    #[test]
    fn protobuf_fields_are_length_delimited_with_varint_lengths() {
        let mut out = Vec::new();
        bytes_field(&mut out, 31, &[7u8; 200]);
        // Tag 31<<3|2 = 250 → two varint bytes; length 200 → two bytes.
        assert_eq!(&out[..4], &[0xfa, 0x01, 0xc8, 0x01]);
        assert_eq!(out.len(), 204);
    }
}
