//! What the benchmarks share: a generated fixture as desired and live objects, and the
//! default drift options with the fixture's tracking selector.

use kdrift::drift::DriftOptions;
use kdrift::model::{split_api_version, DesiredObject, LiveObject, ResourceKey, SourceLocation};
use serde_json::Value;

fn key(v: &Value) -> (String, ResourceKey) {
    let api = v["apiVersion"].as_str().unwrap_or("").to_string();
    let group = split_api_version(&api).0.to_string();
    let meta = &v["metadata"];
    let k = ResourceKey::new(
        &group,
        v["kind"].as_str().unwrap_or(""),
        meta["namespace"].as_str().unwrap_or(""),
        meta["name"].as_str().unwrap_or(""),
    );
    (api, k)
}

/// The objects of a generated fixture of `n` resources, and the options to compare them.
pub struct Objects {
    // The drift benchmark renders the fixture's files; the UI benchmark does not.
    #[allow(dead_code)]
    pub fx: kdrift::fixture::Fixture,
    pub desired: Vec<DesiredObject>,
    pub live: Vec<LiveObject>,
    pub opts: DriftOptions,
}

pub fn objects(n: usize) -> Objects {
    objects_in(n, 10)
}

/// `n` resources of the fixture in `namespaces` namespaces.
pub fn objects_in(n: usize, namespaces: usize) -> Objects {
    let fx = kdrift::fixture::generate(n, namespaces, 1);
    let desired: Vec<DesiredObject> = fx
        .files
        .iter()
        .flat_map(|(file, objs)| objs.iter().map(move |o| (file, o)))
        .map(|(file, o)| {
            let (api_version, key) = key(o);
            DesiredObject {
                key,
                api_version,
                object: kdrift::model::Packed::new(o),
                source: SourceLocation {
                    file: file.clone(),
                    line: None,
                },
            }
        })
        .collect();
    let live: Vec<LiveObject> = fx
        .live
        .iter()
        .map(|o| {
            let (api_version, key) = key(o);
            LiveObject::new(key, api_version, o.clone())
        })
        .collect();
    let opts = kdrift::fixture::drift_options();
    Objects {
        fx,
        desired,
        live,
        opts,
    }
}
