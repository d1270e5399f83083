//! sim driven by the pinned kubectl (1.34), as an operator would drive a cluster: get (tables and YAML),
//! apply --server-side (conflicts, force), diff --server-side, get -w, scale, patch (merge,
//! strategic, JSON), delete. Skips with a reason where kubectl is missing (fails under CI=true).

mod support;

use support::Kubectl;

use kdrift::sim::{self, SimOptions};
use std::path::Path;
use std::time::Duration;

const DEPLOY: &str = "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\n  namespace: shop\nspec:\n  replicas: 2\n  selector:\n    matchLabels: {app: web}\n  template:\n    metadata:\n      labels: {app: web}\n    spec:\n      containers:\n      - name: web\n        image: nginx:1.25\n";
const NS: &str = "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: shop\n";

fn setup(dir: &Path, kubeconfig: &str) -> Option<Kubectl> {
    let bin = support::kubectl()?;
    let path = dir.join("kubeconfig");
    std::fs::write(&path, kubeconfig).unwrap();
    Some(Kubectl {
        bin,
        kubeconfig: path,
        cache: dir.join("cache"),
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_works_against_sim_as_against_a_cluster() {
    let handle = sim::start(SimOptions::default()).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let Some(k) = setup(dir.path(), &handle.kubeconfig) else {
        return;
    };
    let k = std::sync::Arc::new(k);
    let kk = k.clone();
    tokio::task::spawn_blocking(move || {
        let k = kk;
        k.ok(&["apply", "--server-side", "-f", "-"], Some(NS));
        assert!(k.ok(&["apply", "--server-side", "-f", "-"], Some(DEPLOY)).contains("serverside-applied"));
        let table = k.ok(&["get", "deploy", "-n", "shop"], None);
        assert!(table.contains("NAME") && table.contains("web"), "{table}");
        let yaml = k.ok(&["get", "deploy", "web", "-n", "shop", "-o", "yaml"], None);
        assert!(yaml.contains("imagePullPolicy: IfNotPresent") && yaml.contains("availableReplicas: 2"), "{yaml}");

        // diff --server-side: exit 1 and the change, nothing stored.
        let changed = DEPLOY.replace("replicas: 2", "replicas: 3");
        let out = k.run(&["diff", "--server-side", "-f", "-"], Some(&changed));
        assert_eq!(out.status.code(), Some(1), "{}", String::from_utf8_lossy(&out.stderr));
        let diff = String::from_utf8_lossy(&out.stdout);
        assert!(diff.contains("-  replicas: 2") && diff.contains("+  replicas: 3"), "{diff}");
        assert!(!diff.contains("lastTransitionTime"), "a dry run changes no status: {diff}");
        let out = k.run(&["diff", "--server-side", "-f", "-"], Some(DEPLOY));
        assert_eq!(out.status.code(), Some(0), "no drift: {}", String::from_utf8_lossy(&out.stdout));

        // scale, then a conflicting apply, then force.
        k.ok(&["scale", "deploy/web", "-n", "shop", "--replicas", "5"], None);
        let out = k.run(&["apply", "--server-side", "-f", "-"], Some(&changed));
        assert!(!out.status.success());
        assert!(String::from_utf8_lossy(&out.stderr).contains("conflict"), "{}", String::from_utf8_lossy(&out.stderr));
        k.ok(&["apply", "--server-side", "--force-conflicts", "-f", "-"], Some(&changed));
        assert_eq!(k.ok(&["get", "deploy", "web", "-n", "shop", "-o", "jsonpath={.spec.replicas}"], None), "3");

        // Patches of every type.
        k.ok(&["patch", "deploy", "web", "-n", "shop", "--type", "merge", "-p", r#"{"spec":{"paused":true}}"#], None);
        k.ok(&["patch", "deploy", "web", "-n", "shop", "-p", r#"{"spec":{"template":{"spec":{"containers":[{"name":"web","image":"nginx:1.26"}]}}}}"#], None);
        k.ok(&["patch", "deploy", "web", "-n", "shop", "--type", "json", "-p", r#"[{"op":"replace","path":"/spec/replicas","value":4}]"#], None);
        let got = k.ok(&["get", "deploy", "web", "-n", "shop", "-o", "jsonpath={.spec.replicas} {.spec.paused} {.spec.template.spec.containers[0].image}"], None);
        assert_eq!(got, "4 true nginx:1.26");

        // A `List` file validates against /openapi/v2 (fetched as protobuf) and applies.
        let list = "apiVersion: v1\nkind: List\nitems:\n- apiVersion: v1\n  kind: ConfigMap\n  metadata: {name: listed, namespace: shop}\n  data: {a: '1'}\n";
        k.ok(&["apply", "-f", "-"], Some(list));
        k.ok(&["apply", "--server-side", "-f", "-"], Some(list));
        assert_eq!(k.ok(&["get", "cm", "listed", "-n", "shop", "-o", "jsonpath={.data.a}"], None), "1");
    })
    .await
    .unwrap();

    // get -w sees a change made while it watches.
    let kw = k.clone();
    let watcher = tokio::task::spawn_blocking(move || {
        kw.run(
            &[
                "get",
                "deploy",
                "-n",
                "shop",
                "-w",
                "--request-timeout",
                "8s",
                "-o",
                "jsonpath={.metadata.name}={.spec.replicas}{\"\\n\"}",
            ],
            None,
        )
    });
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let k2 = k.clone();
    tokio::task::spawn_blocking(move || {
        k2.ok(
            &["scale", "deploy/web", "-n", "shop", "--replicas", "9"],
            None,
        )
    })
    .await
    .unwrap();
    tokio::time::sleep(Duration::from_millis(500)).await;
    handle.faults().drop_watches();
    let out = watcher.await.unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("web=4") && text.contains("web=9"),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let k3 = k.clone();
    tokio::task::spawn_blocking(move || {
        k3.ok(&["delete", "deploy", "web", "-n", "shop"], None);
        let out = k3.run(&["get", "deploy", "web", "-n", "shop"], None);
        assert!(!out.status.success() && String::from_utf8_lossy(&out.stderr).contains("NotFound"));
    })
    .await
    .unwrap();
    handle.stop().await;
}
