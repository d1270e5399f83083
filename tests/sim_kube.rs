//! sim driven by kube-rs over real HTTP (and HTTPS with a token): discovery both ways,
//! typed and dynamic CRUD, server-side apply with conflicts and force, dry runs, watches with
//! streaming lists, faults (dropped watches, 410, errors, forbidden kinds), CRDs.

use futures::{StreamExt, TryStreamExt};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{ConfigMap, Secret, Service};
use kdrift::sim::{self, SimHandle, SimOptions};
use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams, PostParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::runtime::watcher;
use kube::Client;
use serde_json::json;
use std::time::Duration;

async fn client_for(handle: &SimHandle) -> Client {
    let kc = Kubeconfig::from_yaml(&handle.kubeconfig).expect("sim writes a valid kubeconfig");
    let config = kube::Config::from_custom_kubeconfig(kc, &KubeConfigOptions::default())
        .await
        .expect("kube-rs reads it");
    Client::try_from(config).expect("a client")
}

async fn start() -> (SimHandle, Client) {
    let handle = sim::start(SimOptions::default()).await.expect("sim starts");
    let client = client_for(&handle).await;
    (handle, client)
}

fn deployment(name: &str, replicas: i32, image: &str) -> serde_json::Value {
    json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name, "namespace": "default"},
           "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": name}},
                    "template": {"metadata": {"labels": {"app": name}}, "spec": {"containers": [{"name": "app", "image": image}]}}}})
}

#[tokio::test]
async fn discovery_legacy_and_aggregated() {
    let (handle, client) = start().await;
    for aggregated in [false, true] {
        let d = kube::discovery::Discovery::new(client.clone());
        let d = if aggregated {
            d.run_aggregated().await
        } else {
            d.run().await
        }
        .expect("discovery runs");
        let apps = d.get("apps").expect("apps group served");
        let (ar, caps) = apps
            .recommended_kind("Deployment")
            .expect("Deployment served");
        assert_eq!(ar.plural, "deployments");
        assert_eq!(
            caps.scope,
            kube::discovery::Scope::Namespaced,
            "aggregated={aggregated}"
        );
        let core = d.get("").expect("core group");
        assert!(core
            .recommended_kind("Namespace")
            .is_some_and(|(_, c)| c.scope == kube::discovery::Scope::Cluster));
        assert!(d.get("apiextensions.k8s.io").is_some());
    }
    handle.stop().await;
}

#[tokio::test]
async fn typed_crud_with_defaults_and_server_metadata() {
    let (handle, client) = start().await;
    let api: Api<Deployment> = Api::namespaced(client.clone(), "default");
    let d: Deployment = serde_json::from_value(deployment("web", 2, "nginx")).unwrap();
    let created = api
        .create(&PostParams::default(), &d)
        .await
        .expect("create");
    let meta = &created.metadata;
    assert!(
        meta.uid.is_some() && meta.resource_version.is_some() && meta.creation_timestamp.is_some()
    );
    assert_eq!(meta.generation, Some(1));
    let spec = &created.spec;
    assert_eq!(spec.revision_history_limit, Some(10));
    let c = &spec.template.spec.as_ref().unwrap().containers[0];
    assert_eq!(
        c.image_pull_policy.as_deref(),
        Some("Always"),
        "no tag means :latest"
    );
    assert_eq!(
        created.status.as_ref().unwrap().available_replicas,
        Some(2),
        "available at once"
    );

    let err = api.create(&PostParams::default(), &d).await.unwrap_err();
    assert!(
        matches!(err, kube::Error::Api(ref s) if s.code == 409 && s.reason == "AlreadyExists"),
        "{err:?}"
    );

    // A stale resourceVersion is refused.
    let mut stale = created.clone();
    stale.metadata.resource_version = Some("1".into());
    let err = api
        .replace("web", &PostParams::default(), &stale)
        .await
        .unwrap_err();
    assert!(
        matches!(err, kube::Error::Api(ref s) if s.code == 409),
        "{err:?}"
    );

    // Merge patch of the spec bumps the generation.
    let patched = api
        .patch(
            "web",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"replicas": 4}})),
        )
        .await
        .unwrap();
    assert_eq!(patched.metadata.generation, Some(2));
    assert!(patched.metadata.resource_version > created.metadata.resource_version);

    let list = api.list(&ListParams::default()).await.unwrap();
    assert_eq!(list.items.len(), 1);
    api.delete("web", &DeleteParams::default()).await.unwrap();
    let err = api.get("web").await.unwrap_err();
    assert!(
        matches!(err, kube::Error::Api(ref s) if s.code == 404),
        "{err:?}"
    );
    handle.stop().await;
}

#[tokio::test]
async fn server_side_apply_owns_conflicts_and_dry_runs() {
    let (handle, client) = start().await;
    let api: Api<Deployment> = Api::namespaced(client.clone(), "default");
    let git = PatchParams::apply("git");
    api.patch("web", &git, &Patch::Apply(deployment("web", 2, "web:1")))
        .await
        .expect("apply creates");
    // Someone scales by hand.
    api.patch(
        "web",
        &PatchParams {
            field_manager: Some("kubectl-scale".into()),
            ..Default::default()
        },
        &Patch::Merge(json!({"spec": {"replicas": 5}})),
    )
    .await
    .unwrap();
    // A dry run stores nothing and bumps nothing.
    let before = api.get("web").await.unwrap();
    let mut dry = PatchParams::apply("git").force();
    dry.dry_run = true;
    let preview = api
        .patch("web", &dry, &Patch::Apply(deployment("web", 2, "web:2")))
        .await
        .unwrap();
    assert_eq!(preview.spec.replicas, Some(2));
    let after = api.get("web").await.unwrap();
    assert_eq!(
        after.metadata.resource_version,
        before.metadata.resource_version
    );
    assert_eq!(after.spec.replicas, Some(5));
    // The real apply conflicts on replicas, naming the other manager.
    let err = api
        .patch("web", &git, &Patch::Apply(deployment("web", 2, "web:2")))
        .await
        .unwrap_err();
    match err {
        kube::Error::Api(s) => {
            assert_eq!((s.code, s.reason.as_str()), (409, "Conflict"));
            assert!(
                s.message.contains("kubectl-scale") && s.message.contains(".spec.replicas"),
                "{}",
                s.message
            );
        }
        other => panic!("{other:?}"),
    }
    // Forcing takes the field over.
    let forced = api
        .patch(
            "web",
            &PatchParams::apply("git").force(),
            &Patch::Apply(deployment("web", 2, "web:2")),
        )
        .await
        .unwrap();
    assert_eq!(forced.spec.replicas, Some(2));
    let managed = forced.metadata.managed_fields.unwrap();
    let git_entry = managed
        .iter()
        .find(|m| m.manager.as_deref() == Some("git"))
        .unwrap();
    assert_eq!(git_entry.operation.as_deref(), Some("Apply"));
    // Applying without a field the manager owned alone removes it.
    let mut without = deployment("web", 2, "web:2");
    without["metadata"]["labels"] = json!({"team": "a"});
    api.patch("web", &git, &Patch::Apply(without))
        .await
        .unwrap();
    let dropped = api
        .patch("web", &git, &Patch::Apply(deployment("web", 2, "web:2")))
        .await
        .unwrap();
    assert!(!dropped
        .metadata
        .labels
        .unwrap_or_default()
        .contains_key("team"));
    // Apply without a field manager is refused.
    let err = api
        .patch(
            "web",
            &PatchParams::default(),
            &Patch::Apply(deployment("web", 2, "web:2")),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(err, kube::Error::Api(ref s) if s.code == 422),
        "{err:?}"
    );
    handle.stop().await;
}

#[tokio::test]
async fn secrets_fold_string_data_and_services_get_ips() {
    let (handle, client) = start().await;
    let secrets: Api<Secret> = Api::namespaced(client.clone(), "default");
    let s: Secret = serde_json::from_value(
        json!({"metadata": {"name": "db"}, "stringData": {"password": "hunter2"}}),
    )
    .unwrap();
    let s = secrets.create(&PostParams::default(), &s).await.unwrap();
    assert_eq!(s.type_.as_deref(), Some("Opaque"));
    assert_eq!(s.data.unwrap()["password"].0, b"hunter2");
    let services: Api<Service> = Api::namespaced(client.clone(), "default");
    let svc: Service = serde_json::from_value(json!({"metadata": {"name": "web"}, "spec": {"selector": {"app": "web"}, "ports": [{"port": 80}]}})).unwrap();
    let svc = services.create(&PostParams::default(), &svc).await.unwrap();
    let spec = svc.spec.unwrap();
    assert!(spec.cluster_ip.unwrap().starts_with("10.96."));
    let port = &spec.ports.unwrap()[0];
    assert_eq!(port.protocol.as_deref(), Some("TCP"));
    assert_eq!(
        port.target_port,
        Some(k8s_openapi::apimachinery::pkg::util::intstr::IntOrString::Int(80))
    );
    handle.stop().await;
}

#[tokio::test]
async fn watches_stream_and_survive_faults() {
    let (handle, client) = start().await;
    let api: Api<ConfigMap> = Api::namespaced(client.clone(), "default");
    for i in 0..3 {
        let cm: ConfigMap = serde_json::from_value(
            json!({"metadata": {"name": format!("cm-{i}")}, "data": {"v": "0"}}),
        )
        .unwrap();
        api.create(&PostParams::default(), &cm).await.unwrap();
    }
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let watch_api = api.clone();
    let task = tokio::spawn(async move {
        let stream = watcher(
            watch_api,
            watcher::Config::default().streaming_lists().timeout(5),
        );
        let mut stream = Box::pin(stream);
        while let Some(ev) = stream.next().await {
            let _ = tx.send(ev.map_err(|e| e.to_string()));
        }
    });
    let mut seen_init_done = false;
    let mut initial = 0;
    while !seen_init_done {
        match tokio::time::timeout(Duration::from_secs(5), rx.recv())
            .await
            .expect("events arrive")
            .unwrap()
        {
            Ok(watcher::Event::InitApply(_)) => initial += 1,
            Ok(watcher::Event::InitDone) => seen_init_done = true,
            _ => {}
        }
    }
    assert_eq!(initial, 3, "streaming list delivers the initial objects");
    api.patch(
        "cm-0",
        &PatchParams::default(),
        &Patch::Merge(json!({"data": {"v": "1"}})),
    )
    .await
    .unwrap();
    wait_for(&mut rx, "cm-0").await;
    // Every watch dropped: the watcher reconnects and still sees the next change.
    handle.faults().drop_watches();
    api.patch(
        "cm-1",
        &PatchParams::default(),
        &Patch::Merge(json!({"data": {"v": "1"}})),
    )
    .await
    .unwrap();
    wait_for(&mut rx, "cm-1").await;
    // History compacted: a resumed watch gets 410 and the watcher relists.
    handle.compact();
    handle.faults().drop_watches();
    api.patch(
        "cm-2",
        &PatchParams::default(),
        &Patch::Merge(json!({"data": {"v": "1"}})),
    )
    .await
    .unwrap();
    wait_for(&mut rx, "cm-2").await;
    task.abort();
    handle.stop().await;
}

type Events = tokio::sync::mpsc::UnboundedReceiver<Result<watcher::Event<ConfigMap>, String>>;

/// Waits for `name` to be seen with `data.v == "1"`.
async fn wait_for(rx: &mut Events, name: &str) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let ev = tokio::time::timeout_at(deadline, rx.recv())
            .await
            .expect("the change arrives")
            .unwrap();
        if let Ok(watcher::Event::Apply(cm) | watcher::Event::InitApply(cm)) = ev {
            if cm.metadata.name.as_deref() == Some(name)
                && cm
                    .data
                    .as_ref()
                    .and_then(|d| d.get("v"))
                    .map(String::as_str)
                    == Some("1")
            {
                return;
            }
        }
    }
}

#[tokio::test]
async fn expired_resource_version_is_410_and_errors_are_injected() {
    let (handle, client) = start().await;
    let api: Api<ConfigMap> = Api::namespaced(client.clone(), "default");
    let cm: ConfigMap = serde_json::from_value(json!({"metadata": {"name": "a"}})).unwrap();
    api.create(&PostParams::default(), &cm).await.unwrap();
    handle.compact();
    let stream = api
        .watch(&kube::api::WatchParams::default(), "1")
        .await
        .unwrap();
    let err = Box::pin(stream).try_next().await;
    match err {
        Ok(Some(kube::api::WatchEvent::Error(e))) => assert_eq!(e.code, 410),
        other => panic!("expected a 410 ERROR event, got {other:?}"),
    }
    // 500s (clients do not retry those on their own).
    handle.faults().set_errors(1.0, 500, None);
    let err = api.get("a").await.unwrap_err();
    assert!(
        matches!(err, kube::Error::Api(ref s) if s.code == 500),
        "{err:?}"
    );
    handle.faults().clear();
    handle.faults().forbid_resource("secrets");
    let secrets: Api<Secret> = Api::all(client.clone());
    let err = secrets.list(&ListParams::default()).await.unwrap_err();
    assert!(
        matches!(err, kube::Error::Api(ref s) if s.code == 403),
        "{err:?}"
    );
    assert!(
        api.get("a").await.is_ok(),
        "only the forbidden kind suffers"
    );
    handle.stop().await;
}

#[tokio::test]
async fn crds_serve_their_kinds_until_deleted() {
    let (handle, client) = start().await;
    let crds: Api<kube::api::DynamicObject> = Api::all_with(
        client.clone(),
        &kube::api::ApiResource::from_gvk_with_plural(
            &kube::api::GroupVersionKind::gvk(
                "apiextensions.k8s.io",
                "v1",
                "CustomResourceDefinition",
            ),
            "customresourcedefinitions",
        ),
    );
    let crd = json!({"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition", "metadata": {"name": "widgets.example.com"},
        "spec": {"group": "example.com", "scope": "Namespaced", "names": {"kind": "Widget", "plural": "widgets"},
                 "versions": [{"name": "v1", "served": true, "storage": true, "schema": {"openAPIV3Schema": {"type": "object", "x-kubernetes-preserve-unknown-fields": true}}}]}});
    crds.patch(
        "widgets.example.com",
        &PatchParams::apply("test"),
        &Patch::Apply(crd),
    )
    .await
    .unwrap();
    let d = kube::discovery::Discovery::new(client.clone())
        .run_aggregated()
        .await
        .unwrap();
    let (ar, _) = d
        .get("example.com")
        .and_then(|g| g.recommended_kind("Widget"))
        .expect("the CRD's kind is discovered");
    let widgets: Api<kube::api::DynamicObject> =
        Api::namespaced_with(client.clone(), "default", &ar);
    let w = json!({"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w1"}, "spec": {"size": 3}});
    widgets
        .patch("w1", &PatchParams::apply("test"), &Patch::Apply(w))
        .await
        .unwrap();
    assert_eq!(
        widgets
            .list(&ListParams::default())
            .await
            .unwrap()
            .items
            .len(),
        1
    );
    crds.delete("widgets.example.com", &DeleteParams::default())
        .await
        .unwrap();
    let err = widgets.list(&ListParams::default()).await.unwrap_err();
    assert!(
        matches!(err, kube::Error::Api(ref s) if s.code == 404),
        "{err:?}"
    );
    handle.stop().await;
}

#[tokio::test]
async fn tls_with_a_token() {
    let handle = sim::start(SimOptions {
        tls: true,
        ..SimOptions::default()
    })
    .await
    .unwrap();
    assert!(handle.url.starts_with("https://"));
    let client = client_for(&handle).await;
    let api: Api<ConfigMap> = Api::namespaced(client, "default");
    assert!(
        api.list(&ListParams::default()).await.is_ok(),
        "the kubeconfig's CA and token work"
    );
    // Without the token: 401.
    let mut kc = Kubeconfig::from_yaml(&handle.kubeconfig).unwrap();
    kc.auth_infos[0].auth_info.as_mut().unwrap().token = None;
    let config = kube::Config::from_custom_kubeconfig(kc, &KubeConfigOptions::default())
        .await
        .unwrap();
    let anon: Api<ConfigMap> = Api::namespaced(Client::try_from(config).unwrap(), "default");
    let err = anon.list(&ListParams::default()).await.unwrap_err();
    assert!(format!("{err:?}").contains("401"), "{err:?}");
    handle.stop().await;
}

#[tokio::test]
async fn listing_pages_with_limit_and_continue_and_selectors() {
    let (handle, client) = start().await;
    let api: Api<ConfigMap> = Api::namespaced(client.clone(), "default");
    for i in 0..25 {
        let cm: ConfigMap = serde_json::from_value(json!({"metadata": {"name": format!("cm-{i:02}"), "labels": {"even": (i % 2 == 0).to_string()}}})).unwrap();
        api.create(&PostParams::default(), &cm).await.unwrap();
    }
    let mut names = Vec::new();
    let mut lp = ListParams::default().limit(10);
    loop {
        let page = api.list(&lp).await.unwrap();
        names.extend(page.items.iter().map(|c| c.metadata.name.clone().unwrap()));
        match page.metadata.continue_ {
            Some(c) if !c.is_empty() => lp = ListParams::default().limit(10).continue_token(&c),
            _ => break,
        }
    }
    assert_eq!(names.len(), 25);
    assert_eq!(names[0], "cm-00");
    let even = api
        .list(&ListParams::default().labels("even=true"))
        .await
        .unwrap();
    assert_eq!(even.items.len(), 13);
    let one = api
        .list(&ListParams::default().fields("metadata.name=cm-07"))
        .await
        .unwrap();
    assert_eq!(one.items.len(), 1);
    handle.stop().await;
}

/// One raw HTTP/1.1 request; returns the status line and headers and the body.
async fn raw_http(
    addr: std::net::SocketAddr,
    method: &str,
    path: &str,
    body: &str,
) -> std::io::Result<(String, String)> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut s = tokio::net::TcpStream::connect(addr).await?;
    let req = format!("{method} {path} HTTP/1.1\r\nHost: sim\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}", body.len());
    s.write_all(req.as_bytes()).await?;
    let mut out = Vec::new();
    s.read_to_end(&mut out).await?;
    let text = String::from_utf8_lossy(&out).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    Ok((head.to_string(), body.to_string()))
}

#[tokio::test]
async fn fault_switches_over_http_refusals_429_and_namespaces() {
    let (handle, client) = start().await;
    // 429 with Retry-After, switched over HTTP as `kdrift demo` and other processes do.
    let (head, _) = raw_http(
        handle.addr,
        "POST",
        "/sim/faults",
        r#"{"errorRate": 1.0, "errorCode": 429, "retryAfter": 2}"#,
    )
    .await
    .unwrap();
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    let (head, body) = raw_http(
        handle.addr,
        "GET",
        "/api/v1/namespaces/default/configmaps",
        "",
    )
    .await
    .unwrap();
    assert!(head.starts_with("HTTP/1.1 429"), "{head}");
    assert!(
        head.to_ascii_lowercase().contains("retry-after: 2"),
        "{head}"
    );
    assert!(body.contains("TooManyRequests"), "{body}");
    let (head, body) = raw_http(
        handle.addr,
        "POST",
        "/sim/faults",
        r#"{"clear": true, "bogus": 1}"#,
    )
    .await
    .unwrap();
    assert!(
        head.starts_with("HTTP/1.1 400") && body.contains("bogus"),
        "unknown switches are refused: {head} {body}"
    );
    raw_http(handle.addr, "POST", "/sim/faults", r#"{"clear": true}"#)
        .await
        .unwrap();

    // A forbidden namespace: its objects and cross-namespace lists are 403, others work.
    handle.faults().forbid_namespace("kube-system");
    let cms_sys: Api<ConfigMap> = Api::namespaced(client.clone(), "kube-system");
    let err = cms_sys.list(&ListParams::default()).await.unwrap_err();
    assert!(
        matches!(err, kube::Error::Api(ref s) if s.code == 403),
        "{err:?}"
    );
    let all: Api<ConfigMap> = Api::all(client.clone());
    assert!(all.list(&ListParams::default()).await.is_err());
    let cms: Api<ConfigMap> = Api::namespaced(client.clone(), "default");
    assert!(cms.list(&ListParams::default()).await.is_ok());
    handle.faults().clear();

    // Refused connections for a while, then service again.
    handle
        .faults()
        .refuse_connections(Duration::from_millis(700));
    let refused = raw_http(handle.addr, "GET", "/version", "").await;
    assert!(
        refused.map(|(h, _)| h.is_empty()).unwrap_or(true),
        "the connection is closed without an answer"
    );
    tokio::time::sleep(Duration::from_millis(800)).await;
    let (head, _) = raw_http(handle.addr, "GET", "/version", "").await.unwrap();
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    handle.stop().await;
}

/// Regression: values of the wrong type where defaults apply (a string strategy, a webhook
/// that is not a map) once crashed sim's connection task; they must get an answer.
#[tokio::test]
async fn wrong_typed_fields_never_crash_the_server() {
    let (handle, _client) = start().await;
    let body = r#"{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"odd"},"spec":{"strategy":"x","updateStrategy":3,"template":{"spec":{"containers":[{"name":"a","image":"a"}]}}}}"#;
    let (head, _) = raw_http(
        handle.addr,
        "POST",
        "/apis/apps/v1/namespaces/default/deployments",
        body,
    )
    .await
    .unwrap();
    assert!(head.starts_with("HTTP/1.1 201"), "{head}");
    let body = r#"{"apiVersion":"admissionregistration.k8s.io/v1","kind":"ValidatingWebhookConfiguration","metadata":{"name":"w"},"webhooks":["not-a-map"]}"#;
    let (head, _) = raw_http(
        handle.addr,
        "POST",
        "/apis/admissionregistration.k8s.io/v1/validatingwebhookconfigurations",
        body,
    )
    .await
    .unwrap();
    assert!(head.starts_with("HTTP/1.1 201"), "{head}");
    let (head, _) = raw_http(handle.addr, "GET", "/version", "").await.unwrap();
    assert!(head.starts_with("HTTP/1.1 200"), "still serving: {head}");
    handle.stop().await;
}

/// sim serves a loaded dump's managedFields as the API server does (field sets as objects),
/// whatever form the product keeps them in once read.
#[tokio::test]
async fn loaded_dumps_keep_their_field_sets_as_objects() {
    let dir = tempfile::tempdir().unwrap();
    let dump = dir.path().join("live.json");
    std::fs::write(
        &dump,
        serde_json::to_vec(&json!({"apiVersion": "v1", "kind": "List", "items": [
            {"apiVersion": "v1", "kind": "ConfigMap",
             "metadata": {"name": "c", "namespace": "default", "managedFields": [
                 {"manager": "kubectl", "operation": "Apply", "apiVersion": "v1",
                  "time": "2026-01-01T00:00:00Z", "fieldsType": "FieldsV1",
                  "fieldsV1": {"f:data": {"f:a": {}}}}]},
             "data": {"a": "1"}}]}))
        .unwrap(),
    )
    .unwrap();
    let handle = sim::start(SimOptions {
        load: vec![dump],
        ..SimOptions::default()
    })
    .await
    .unwrap();
    let client = client_for(&handle).await;
    let cms: Api<ConfigMap> = Api::namespaced(client, "default");
    let raw: serde_json::Value = serde_json::to_value(cms.get("c").await.unwrap()).unwrap();
    let fields = &raw["metadata"]["managedFields"][0]["fieldsV1"];
    assert!(fields.is_object(), "{raw}");
    assert!(fields.pointer("/f:data/f:a").is_some(), "{raw}");
    handle.stop().await;
}
