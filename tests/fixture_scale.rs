//! At scale: the project's generator with 10,000 resources and drift of every kind it plants
//! (hand edits of replicas, images, env, quantities, Service ports, ConfigMap and Secret
//! data, labels; fields the applier alone still owns) and noise that must not count (server
//! defaults, respelled quantities, other managers' fields and containers, stringData). Every
//! verdict and drifted path must equal the generator's expectations.

use kdrift::drift;

#[test]
fn ten_thousand_generated_resources_agree_exactly() {
    let fx = kdrift::fixture::generate(10_000, 12, 7);
    let files: Vec<(String, String)> = fx
        .files
        .iter()
        .map(|(path, objs)| {
            let text: String = objs
                .iter()
                .map(|o| format!("---\n{}", serde_yaml::to_string(o).unwrap()))
                .collect();
            (path.clone(), text)
        })
        .collect();
    let desired = kdrift::desired::from_texts(&files, "default");
    assert!(desired.invalid.is_empty(), "{:?}", desired.invalid.first());
    let live_text = serde_json::to_string(
        &serde_json::json!({"apiVersion": "v1", "kind": "List", "items": fx.live}),
    )
    .unwrap();
    let live = kdrift::live::file::parse(&live_text, "live.json").unwrap();
    let opts = kdrift::fixture::drift_options();
    let report = drift::build_report(&desired.objects, &desired.invalid, &live.objects, &opts);
    let got = kdrift::fixture::verdicts_of_report(&report);
    let wrong: Vec<_> = fx
        .expected
        .iter()
        .filter(|(k, e)| got.get(*k) != Some(e))
        .take(10)
        .collect();
    assert!(wrong.is_empty(), "{wrong:#?}");
    assert_eq!(got.len(), fx.expected.len());
    let paths: Vec<&str> = fx
        .expected
        .values()
        .flat_map(|e| e.fields.iter().map(String::as_str))
        .collect();
    for planted in [
        "spec.replicas",
        ".image",
        "].env[name=VAR_0].value",
        ".resources.limits.memory",
        "metadata.labels.legacy",
        "spec.ports[port=80,protocol=TCP].targetPort",
        "data['app.properties']",
        "data['stale.key']",
        "data.password",
        "metadata.labels.app",
    ] {
        assert!(
            paths.iter().any(|p| p.ends_with(planted)),
            "no planted drift at {planted}"
        );
    }
}
