//! The cluster paths that matter most, run the same way against sim and against a real
//! kube-apiserver (`scripts/kube-apiserver`): manifests applied with the pinned kubectl as
//! their users apply them (client-side and server-side) show no drift in either diff mode;
//! real changes (a scaled Deployment, a deleted ConfigMap, an extra object) show as exactly
//! that; headless sync refuses a conflict, converges with force and writes nothing else;
//! a user who may not read Secrets gets `unknown` rows for them and verdicts for the rest.
//! What holds on one server and not the other is a finding (see the README's known
//! differences).

mod support;

use kdrift::sim::{self, SimHandle, SimOptions};
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use support::{stderr, stdout, Kubectl, TestRepo};

/// One server to run a scenario against.
struct Target {
    name: &'static str,
    kubeconfig: PathBuf,
    /// A kubeconfig whose user may not read Secrets.
    restricted: PathBuf,
    sim: Option<SimHandle>,
    _dir: tempfile::TempDir,
}

/// sim, and the real server where there is one.
async fn targets() -> Vec<Target> {
    let dir = tempfile::tempdir().unwrap();
    let handle = sim::start(SimOptions::default()).await.expect("sim starts");
    let kubeconfig = dir.path().join("sim-kubeconfig");
    handle.write_kubeconfig(&kubeconfig).unwrap();
    handle.faults().forbid_resource("secrets");
    // sim's restricted user is the same user with Secrets forbidden, switched per test below.
    let mut out = vec![Target {
        name: "sim",
        restricted: kubeconfig.clone(),
        kubeconfig,
        sim: Some(handle),
        _dir: dir,
    }];
    if let Some(real) = support::real_server() {
        out.push(Target {
            name: "real",
            kubeconfig: real.kubeconfig.clone(),
            restricted: real.kubeconfig_restricted.clone(),
            sim: None,
            _dir: tempfile::tempdir().unwrap(),
        });
    }
    out
}

impl Target {
    fn kubectl(&self, kubectl: &Path) -> Kubectl {
        Kubectl {
            bin: kubectl.to_path_buf(),
            kubeconfig: self.kubeconfig.clone(),
            cache: self._dir.path().join("kubectl-cache"),
        }
    }

    /// sim forbids Secrets to everyone once asked; the real server only to the restricted user.
    fn allow_secrets(&self, allow: bool) {
        if let Some(sim) = &self.sim {
            if allow {
                sim.faults().clear();
            } else {
                sim.faults().forbid_resource("secrets");
            }
        }
    }
}

/// The application: every common kind, written as people write them (ports without protocol,
/// quantities as `0.2` and `0.5Gi`, an empty `egress`, no defaults spelled out).
fn manifests(ns: &str) -> (String, String) {
    let label = format!("app.kubernetes.io/part-of: {ns}");
    let client_side = format!(
        "\
apiVersion: v1
kind: Namespace
metadata:
  name: {ns}
  labels: {{{label}}}
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: {ns}
  labels: {{{label}}}
spec:
  replicas: 2
  selector:
    matchLabels: {{app: web}}
  template:
    metadata:
      labels: {{app: web}}
    spec:
      containers:
        - name: web
          image: nginx:1.27
          ports:
            - containerPort: 8080
          env:
            - name: MODE
              value: blue
          resources:
            requests: {{cpu: '0.2', memory: 0.5Gi}}
            limits: {{cpu: 1000m, memory: '1073741824'}}
---
apiVersion: v1
kind: Service
metadata:
  name: web
  namespace: {ns}
  labels: {{{label}}}
spec:
  selector: {{app: web}}
  ports:
    - port: 80
      targetPort: 8080
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: cfg
  namespace: {ns}
  labels: {{{label}}}
data:
  mode: blue
---
apiVersion: v1
kind: Secret
metadata:
  name: db
  namespace: {ns}
  labels: {{{label}}}
stringData:
  password: hunter2
"
    );
    let server_side = format!(
        "\
apiVersion: v1
kind: ConfigMap
metadata:
  name: cfg2
  namespace: {ns}
  labels: {{{label}}}
data:
  a: '1'
---
apiVersion: v1
kind: ServiceAccount
metadata:
  name: runner
  namespace: {ns}
  labels: {{{label}}}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata:
  name: reader
  namespace: {ns}
  labels: {{{label}}}
rules:
  - apiGroups: ['']
    resources: [pods]
    verbs: [get, list]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata:
  name: reader
  namespace: {ns}
  labels: {{{label}}}
roleRef: {{apiGroup: rbac.authorization.k8s.io, kind: Role, name: reader}}
subjects:
  - kind: ServiceAccount
    name: runner
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: deny-egress
  namespace: {ns}
  labels: {{{label}}}
spec:
  podSelector: {{}}
  policyTypes: [Egress]
  egress: []
---
apiVersion: batch/v1
kind: CronJob
metadata:
  name: nightly
  namespace: {ns}
  labels: {{{label}}}
spec:
  schedule: '0 3 * * *'
  jobTemplate:
    spec:
      template:
        spec:
          restartPolicy: OnFailure
          containers:
            - name: job
              image: busybox:1.36
              args: [echo, hi]
---
apiVersion: apps/v1
kind: StatefulSet
metadata:
  name: store
  namespace: {ns}
  labels: {{{label}}}
spec:
  serviceName: store
  selector:
    matchLabels: {{app: store}}
  template:
    metadata:
      labels: {{app: store}}
    spec:
      containers:
        - name: store
          image: redis:7
---
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata:
  name: web
  namespace: {ns}
  labels: {{{label}}}
spec:
  scaleTargetRef: {{apiVersion: apps/v1, kind: Deployment, name: web}}
  minReplicas: 2
  maxReplicas: 5
---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: web
  namespace: {ns}
  labels: {{{label}}}
spec:
  rules:
    - host: shop.example.com
      http:
        paths:
          - path: /
            pathType: Prefix
            backend:
              service: {{name: web, port: {{number: 80}}}}
"
    );
    (client_side, server_side)
}

/// `kdrift diff -o json` of the repository against `kubeconfig`: status by kind/name.
async fn statuses(
    repo: &TestRepo,
    kubeconfig: &Path,
    ns: &str,
    mode: &str,
) -> (i32, BTreeMap<String, String>, String) {
    let selector = format!("app.kubernetes.io/part-of={ns}");
    let out = support::kdrift_on(
        repo.path(),
        kubeconfig,
        &["diff", "-o", "json", "-l", &selector, "--diff-mode", mode],
    )
    .await;
    let v: Value = serde_json::from_str(&stdout(&out))
        .unwrap_or_else(|e| panic!("{e}: {}{}", stdout(&out), stderr(&out)));
    let mut rows = BTreeMap::new();
    for r in v["resources"].as_array().unwrap() {
        let key = format!(
            "{}/{}",
            r["kind"].as_str().unwrap(),
            r["name"].as_str().unwrap()
        );
        let mut status = r["status"].as_str().unwrap().to_string();
        if status != "synced" {
            status = format!("{status}: {}", r);
        }
        rows.insert(key, status);
    }
    (out.status.code().unwrap_or(-1), rows, stderr(&out))
}

fn only_drift(rows: &BTreeMap<String, String>) -> Vec<String> {
    rows.iter()
        .filter(|(_, s)| *s != "synced")
        .map(|(k, s)| format!("{k} {s}"))
        .collect()
}

/// The application in a namespace of its own (`prefix-…`), committed to a new repository and
/// applied to the target as its users apply it: one file client-side, one server-side.
async fn deployed(t: &Target, kubectl: &Path, prefix: &str) -> (String, TestRepo, Kubectl) {
    let ns = support::unique_name(prefix);
    let (client_side, server_side) = manifests(&ns);
    let repo = TestRepo::new();
    repo.write("apps/a.yaml", &client_side);
    repo.write("apps/b.yaml", &server_side);
    repo.commit("shop");
    let k = t.kubectl(kubectl);
    let kc = k.clone();
    tokio::task::spawn_blocking(move || {
        kc.ok(&["apply", "-f", "-"], Some(&client_side));
        kc.ok(&["apply", "--server-side", "-f", "-"], Some(&server_side));
    })
    .await
    .unwrap();
    (ns, repo, k)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn applied_manifests_show_no_false_drift_and_real_changes_exactly() {
    let Some(kubectl) = support::kubectl() else {
        return;
    };
    for t in targets().await {
        t.allow_secrets(true);
        let (ns, repo, k) = deployed(&t, &kubectl, "shop").await;
        for mode in ["local", "server"] {
            let (code, rows, err) = statuses(&repo, &t.kubeconfig, &ns, mode).await;
            assert_eq!(rows.len(), 14, "{}: {mode}: {rows:#?}", t.name);
            assert!(
                only_drift(&rows).is_empty() && code == 0,
                "{}: false drift in {mode} mode (exit {code}):\n{}\n{err}",
                t.name,
                only_drift(&rows).join("\n")
            );
        }

        // Real changes: scaled, deleted, and an object Git does not have.
        let kc = k.clone();
        let ns2 = ns.clone();
        tokio::task::spawn_blocking(move || {
            kc.ok(&["patch", "deploy", "web", "-n", &ns2, "--type", "merge", "-p", r#"{"spec":{"replicas":5}}"#], None);
            kc.ok(&["delete", "configmap", "cfg2", "-n", &ns2], None);
            let extra = format!("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: stray\n  namespace: {ns2}\n  labels: {{app.kubernetes.io/part-of: {ns2}}}\ndata: {{x: '1'}}\n");
            kc.ok(&["apply", "-f", "-"], Some(&extra));
        })
        .await
        .unwrap();
        for mode in ["local", "server"] {
            let (code, rows, err) = statuses(&repo, &t.kubeconfig, &ns, mode).await;
            let drift: Vec<(String, String)> = rows
                .iter()
                .filter(|(_, s)| *s != "synced")
                .map(|(k, s)| (k.clone(), s.split(':').next().unwrap().to_string()))
                .collect();
            assert_eq!(
                drift,
                vec![
                    ("ConfigMap/cfg2".to_string(), "missing".to_string()),
                    ("ConfigMap/stray".to_string(), "extra".to_string()),
                    ("Deployment/web".to_string(), "out-of-sync".to_string()),
                ],
                "{}: {mode} mode (exit {code}):\n{}\n{err}",
                t.name,
                only_drift(&rows).join("\n")
            );
            assert_eq!(code, 1);
        }
    }
}

/// Every object of the namespace's common kinds, by kind/name, with its resourceVersion.
fn versions(k: &Kubectl, ns: &str) -> BTreeMap<String, String> {
    let out = k.ok(
        &[
            "get",
            "deploy,cm,svc,sa,role,rolebinding,networkpolicy,cronjob,sts,hpa,ingress",
            "-n",
            ns,
            "-o",
            "json",
        ],
        None,
    );
    let v: Value = serde_json::from_str(&out).unwrap();
    v["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| {
            (
                format!(
                    "{}/{}",
                    o["kind"].as_str().unwrap(),
                    o["metadata"]["name"].as_str().unwrap()
                ),
                o["metadata"]["resourceVersion"]
                    .as_str()
                    .unwrap()
                    .to_string(),
            )
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn headless_sync_refuses_conflicts_forces_and_writes_nothing_else() {
    let Some(kubectl) = support::kubectl() else {
        return;
    };
    for t in targets().await {
        t.allow_secrets(true);
        let (ns, repo, k) = deployed(&t, &kubectl, "sync").await;
        let kc = k.clone();
        let ns2 = ns.clone();
        let before = tokio::task::spawn_blocking(move || {
            kc.ok(
                &[
                    "patch",
                    "cm",
                    "cfg2",
                    "-n",
                    &ns2,
                    "--type",
                    "merge",
                    "-p",
                    r#"{"data":{"a":"2"}}"#,
                ],
                None,
            );
            versions(&kc, &ns2)
        })
        .await
        .unwrap();

        // cfg2's `a` is now owned by kubectl-patch: a plain sync is refused and writes nothing.
        let out = support::kdrift_on(
            repo.path(),
            &t.kubeconfig,
            &["sync", "--yes", "cm/cfg2", "-n", &ns],
        )
        .await;
        assert_eq!(
            out.status.code(),
            Some(2),
            "{}: {}{}",
            t.name,
            stdout(&out),
            stderr(&out)
        );
        assert!(
            stdout(&out).contains("conflict: kubectl-patch owns .data.a"),
            "{}: {}",
            t.name,
            stdout(&out)
        );
        let kc = k.clone();
        let ns2 = ns.clone();
        let unchanged = tokio::task::spawn_blocking(move || versions(&kc, &ns2))
            .await
            .unwrap();
        assert_eq!(unchanged, before, "{}: a refused sync wrote", t.name);

        // With force it converges, and nothing else is written.
        let out = support::kdrift_on(
            repo.path(),
            &t.kubeconfig,
            &["sync", "--yes", "--force-conflicts", "cm/cfg2", "-n", &ns],
        )
        .await;
        assert_eq!(
            out.status.code(),
            Some(0),
            "{}: {}{}",
            t.name,
            stdout(&out),
            stderr(&out)
        );
        let kc = k.clone();
        let ns2 = ns.clone();
        let (after, value) = tokio::task::spawn_blocking(move || {
            (
                versions(&kc, &ns2),
                kc.ok(
                    &["get", "cm", "cfg2", "-n", &ns2, "-o", "jsonpath={.data.a}"],
                    None,
                ),
            )
        })
        .await
        .unwrap();
        assert_eq!(value, "1", "{}", t.name);
        for (key, rv) in &before {
            if key == "ConfigMap/cfg2" {
                assert_ne!(&after[key], rv, "{}: cfg2 was not written", t.name);
            } else {
                assert_eq!(after.get(key), Some(rv), "{}: {key} was written", t.name);
            }
        }
        let (code, rows, err) = statuses(&repo, &t.kubeconfig, &ns, "local").await;
        assert!(
            code == 0 && only_drift(&rows).is_empty(),
            "{}: after sync:\n{}\n{err}",
            t.name,
            only_drift(&rows).join("\n")
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_user_who_may_not_read_secrets_gets_unknown_rows_for_them_only() {
    let Some(kubectl) = support::kubectl() else {
        return;
    };
    for t in targets().await {
        t.allow_secrets(true);
        let ns = support::unique_name("rbac");
        let (client_side, _) = manifests(&ns);
        let repo = TestRepo::new();
        repo.write("apps/a.yaml", &client_side);
        repo.commit("shop");
        let kc = t.kubectl(&kubectl);
        let a = client_side.clone();
        tokio::task::spawn_blocking(move || kc.ok(&["apply", "-f", "-"], Some(&a)))
            .await
            .unwrap();
        t.allow_secrets(false);
        let (code, rows, err) = statuses(&repo, &t.restricted, &ns, "local").await;
        let drift = only_drift(&rows);
        assert_eq!(drift.len(), 1, "{}: {drift:#?}\n{err}", t.name);
        assert!(
            rows["Secret/db"].starts_with("unknown") && rows["Secret/db"].contains("forbidden"),
            "{}: {}",
            t.name,
            rows["Secret/db"]
        );
        assert_eq!(code, 1, "{}", t.name);
        t.allow_secrets(true);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watches_see_changes_at_once_and_report_a_forbidden_kind() {
    use kdrift::live::cluster;
    use kdrift::live::watch::{self, ConnectionState};
    use std::time::Duration;
    let Some(kubectl) = support::kubectl() else {
        return;
    };
    for t in targets().await {
        t.allow_secrets(true);
        let ns = support::unique_name("watch");
        let k = t.kubectl(&kubectl);
        let objects = format!(
            "apiVersion: v1\nkind: Namespace\nmetadata: {{name: {ns}}}\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {{name: settings, namespace: {ns}}}\ndata: {{v: '0'}}\n---\napiVersion: v1\nkind: Secret\nmetadata: {{name: db, namespace: {ns}}}\nstringData: {{p: x}}\n"
        );
        let kc = k.clone();
        tokio::task::spawn_blocking(move || kc.ok(&["apply", "-f", "-"], Some(&objects)))
            .await
            .unwrap();
        t.allow_secrets(false);
        // Watched as the user who may not read Secrets.
        let target = cluster::connect(Some(&t.restricted), None).await.unwrap();
        let served = cluster::discover(&target).await.unwrap();
        let kinds = vec![
            served.get("", "ConfigMap").unwrap().clone(),
            served.get("", "Secret").unwrap().clone(),
        ];
        let namespaces: std::collections::BTreeSet<String> = [ns.clone()].into();
        let mut live = watch::start(&target, &kinds, &namespaces, Duration::from_millis(50)).await;
        let mut views = support::Views::new(&mut live.views);
        let five = Duration::from_secs(5);
        support::wait_view(&mut views, "first list", five, |v| {
            support::value_of(v, "settings").as_deref() == Some("0")
        })
        .await;
        support::wait_view(&mut views, "the forbidden kind reported", five, |v| {
            v.kinds.iter().any(|k| {
                k.kind == "Secret" && matches!(k.state, ConnectionState::Unreadable { .. })
            })
        })
        .await;
        for value in ["1", "2"] {
            let kc = k.clone();
            let ns2 = ns.clone();
            let patch = format!(r#"{{"data":{{"v":"{value}"}}}}"#);
            tokio::task::spawn_blocking(move || {
                kc.ok(
                    &[
                        "patch", "cm", "settings", "-n", &ns2, "--type", "merge", "-p", &patch,
                    ],
                    None,
                )
            })
            .await
            .unwrap();
            let took = support::wait_view(&mut views, "a change", Duration::from_secs(2), |v| {
                support::value_of(v, "settings").as_deref() == Some(value)
            })
            .await;
            eprintln!("{}: change {value} seen after {took:?}", t.name);
        }
        let kc = k.clone();
        let ns2 = ns.clone();
        tokio::task::spawn_blocking(move || kc.ok(&["delete", "cm", "settings", "-n", &ns2], None))
            .await
            .unwrap();
        support::wait_view(&mut views, "the deletion", Duration::from_secs(2), |v| {
            support::value_of(v, "settings").is_none()
        })
        .await;
        t.allow_secrets(true);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn custom_kinds_are_read_at_any_served_version_and_keyed_items_named_by_key() {
    let Some(kubectl) = support::kubectl() else {
        return;
    };
    for t in targets().await {
        t.allow_secrets(true);
        let ns = support::unique_name("crd");
        let group = format!("{ns}.example.com");
        // Rule: v1, a list keyed by name. Route: served at v1alpha1 only.
        let crds = format!(
            "apiVersion: v1\nkind: Namespace\nmetadata: {{name: {ns}}}\n---\napiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\nmetadata: {{name: rules.{group}}}\nspec:\n  group: {group}\n  scope: Namespaced\n  names: {{kind: Rule, plural: rules}}\n  versions:\n  - name: v1\n    served: true\n    storage: true\n    schema:\n      openAPIV3Schema:\n        type: object\n        properties:\n          spec:\n            type: object\n            properties:\n              groups:\n                type: array\n                x-kubernetes-list-type: map\n                x-kubernetes-list-map-keys: [name]\n                items:\n                  type: object\n                  required: [name]\n                  properties:\n                    name: {{type: string}}\n                    expr: {{type: string}}\n---\napiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\nmetadata: {{name: routes.{group}}}\nspec:\n  group: {group}\n  scope: Namespaced\n  names: {{kind: Route, plural: routes}}\n  versions:\n  - name: v1alpha1\n    served: true\n    storage: true\n    schema:\n      openAPIV3Schema: {{type: object, x-kubernetes-preserve-unknown-fields: true}}\n"
        );
        let objects = |expr: &str| {
            format!("apiVersion: {group}/v1\nkind: Rule\nmetadata: {{name: r, namespace: {ns}}}\nspec:\n  groups:\n  - {{name: a, expr: up}}\n  - {{name: b, expr: {expr}}}\n---\napiVersion: {group}/v1alpha1\nkind: Route\nmetadata: {{name: x, namespace: {ns}}}\nspec: {{to: web}}\n")
        };
        let k = t.kubectl(&kubectl);
        let (c, live) = (crds.clone(), objects("old"));
        tokio::task::spawn_blocking(move || {
            k.ok(&["apply", "-f", "-"], Some(&c));
            // The kinds are served once the CRDs are established.
            for attempt in 0.. {
                let out = k.run(&["apply", "-f", "-"], Some(&live));
                if out.status.success() {
                    break;
                }
                assert!(attempt < 50, "{}", String::from_utf8_lossy(&out.stderr));
                std::thread::sleep(std::time::Duration::from_millis(200));
            }
        })
        .await
        .unwrap();
        let repo = TestRepo::new();
        repo.write("crds.yaml", &crds);
        repo.write("objects.yaml", &objects("new"));
        repo.commit("rules and routes");
        for mode in ["local", "server"] {
            let out = support::kdrift_on(
                repo.path(),
                &t.kubeconfig,
                &["diff", "-o", "json", "--diff-mode", mode],
            )
            .await;
            let v: Value = serde_json::from_str(&stdout(&out))
                .unwrap_or_else(|e| panic!("{e}: {}{}", stdout(&out), stderr(&out)));
            let rows: BTreeMap<String, Value> = v["resources"]
                .as_array()
                .unwrap()
                .iter()
                .map(|r| {
                    (
                        format!(
                            "{}/{}",
                            r["kind"].as_str().unwrap(),
                            r["name"].as_str().unwrap()
                        ),
                        r.clone(),
                    )
                })
                .collect();
            let status = |key: &str| {
                rows.get(key)
                    .map(|r| r["status"].clone())
                    .unwrap_or_default()
            };
            for synced in [
                "Namespace/".to_string() + &ns,
                format!("CustomResourceDefinition/rules.{group}"),
                format!("CustomResourceDefinition/routes.{group}"),
                "Route/x".into(),
            ] {
                assert_eq!(
                    status(&synced),
                    "synced",
                    "{}: {mode}: {synced}: {:#}",
                    t.name,
                    rows.get(&synced).cloned().unwrap_or_default()
                );
            }
            let rule = &rows["Rule/r"];
            assert_eq!(
                rule["status"], "out-of-sync",
                "{}: {mode}: {rule:#}",
                t.name
            );
            let fields: Vec<&str> = rule["fields"]
                .as_array()
                .unwrap()
                .iter()
                .map(|f| f["path"].as_str().unwrap())
                .collect();
            assert_eq!(fields, ["spec.groups[name=b].expr"], "{}: {mode}", t.name);
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_mode_says_which_manifests_the_server_would_refuse_in_its_words() {
    let Some(kubectl) = support::kubectl() else {
        return;
    };
    for t in targets().await {
        t.allow_secrets(true);
        let (ns, repo, _k) = deployed(&t, &kubectl, "refuse").await;
        // Git changes web's selector (immutable) and adds a Deployment whose selector does
        // not select its own pods (invalid): neither can be applied.
        let a = std::fs::read_to_string(repo.path().join("apps/a.yaml")).unwrap();
        let changed = a
            .replacen("matchLabels: {app: web}", "matchLabels: {app: web2}", 1)
            .replacen("labels: {app: web}", "labels: {app: web2}", 1);
        assert_ne!(a, changed);
        let broken = format!(
            "\n---\napiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: broken\n  namespace: {ns}\nspec:\n  selector:\n    matchLabels: {{app: one}}\n  template:\n    metadata:\n      labels: {{app: other}}\n    spec:\n      containers:\n      - name: c\n        image: nginx:1.27\n"
        );
        repo.write("apps/a.yaml", &format!("{changed}{broken}"));
        repo.commit("a new selector, and a broken Deployment");

        // Local mode cannot know: out of sync, and missing.
        let out = support::kdrift_on(repo.path(), &t.kubeconfig, &["diff", "--no-pager"]).await;
        let text = stdout(&out);
        assert!(
            text.contains(&format!("out-of-sync: apps/Deployment/{ns}/web")),
            "{}: {text}",
            t.name
        );
        assert!(
            text.contains(&format!("missing: apps/Deployment/{ns}/broken")),
            "{}: {text}",
            t.name
        );
        assert!(!text.contains("refused"), "{}: {text}", t.name);

        // Server mode asks the server: both refused, in its words, and the exit says so.
        let out = support::kdrift_on(
            repo.path(),
            &t.kubeconfig,
            &["diff", "--no-pager", "--diff-mode", "server"],
        )
        .await;
        let text = stdout(&out);
        assert_eq!(
            out.status.code(),
            Some(1),
            "{}: {text}{}",
            t.name,
            stderr(&out)
        );
        assert!(
            text.contains(&format!("refused: apps/Deployment/{ns}/web")),
            "{}: {text}",
            t.name
        );
        assert!(text.contains("field is immutable"), "{}: {text}", t.name);
        assert!(
            text.contains(&format!("refused: apps/Deployment/{ns}/broken")),
            "{}: {text}",
            t.name
        );
        assert!(
            text.contains("`selector` does not match template `labels`"),
            "{}: {text}",
            t.name
        );
        assert!(text.contains(" 2 refused"), "{}: {text}", t.name);
        // JSON says the same.
        let out = support::kdrift_on(
            repo.path(),
            &t.kubeconfig,
            &["diff", "--diff-mode", "server", "-o", "json"],
        )
        .await;
        let v: Value = serde_json::from_str(&stdout(&out)).unwrap();
        assert_eq!(v["summary"]["refused"], 2, "{}", t.name);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sync_wait_follows_the_rollout_until_healthy_or_the_timeout() {
    let Some(kubectl) = support::kubectl() else {
        return;
    };
    for t in targets().await {
        t.allow_secrets(true);
        let (ns, repo, _k) = deployed(&t, &kubectl, "wait").await;
        let a = std::fs::read_to_string(repo.path().join("apps/a.yaml")).unwrap();
        repo.write("apps/a.yaml", &a.replacen("replicas: 2", "replicas: 3", 1));
        repo.commit("web: 3 replicas");
        let out = support::kdrift_on(
            repo.path(),
            &t.kubeconfig,
            &[
                "sync",
                "--yes",
                "--force-conflicts",
                "--wait=3s",
                "deploy/web",
                "-n",
                &ns,
            ],
        )
        .await;
        let text = stdout(&out);
        assert!(
            text.contains(&format!("health      Deployment/web -n {ns}")),
            "{}: {text}",
            t.name
        );
        if t.name == "sim" {
            // sim plays the Deployment controller: the rollout is done at once.
            assert_eq!(
                out.status.code(),
                Some(0),
                "{}: {text}{}",
                t.name,
                stderr(&out)
            );
            assert!(text.contains("All 1 healthy."), "{}: {text}", t.name);
        } else {
            // The test server runs no controllers: the rollout never progresses.
            assert_eq!(
                out.status.code(),
                Some(1),
                "{}: {text}{}",
                t.name,
                stderr(&out)
            );
            assert!(
                text.contains("Still progressing after 3 s"),
                "{}: {text}",
                t.name
            );
        }
    }
}

/// The server's version as charts see it (`kubectl version`, as kdrift reads it; kubectl
/// itself fails on a server built without version stamps, but prints the versions).
fn server_version(k: &Kubectl) -> String {
    let out = k.run(&["version", "-o", "json"], None);
    let v: Value = serde_json::from_str(&stdout(&out)).unwrap();
    let s = &v["serverVersion"];
    kdrift::live::cluster::kube_version(
        s["gitVersion"].as_str().unwrap_or(""),
        s["major"].as_str().unwrap_or(""),
        s["minor"].as_str().unwrap_or(""),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_argo_cd_app_of_a_chart_is_synced_as_helm_renders_it_for_this_server() {
    let (Some(kubectl), Some(helm)) = (support::kubectl(), support::helm()) else {
        return;
    };
    for t in targets().await {
        t.allow_secrets(true);
        let ns = support::unique_name("chart");
        let app = format!("{ns}-app");
        let repo = TestRepo::new();
        repo.write(
            "argocd/app.yaml",
            &format!("apiVersion: argoproj.io/v1alpha1\nkind: Application\nmetadata:\n  name: {app}\n  namespace: argocd\nspec:\n  destination:\n    namespace: {ns}\n  source:\n    repoURL: https://example.com/gitops.git\n    path: charts/shop\n    helm:\n      releaseName: shop\n      values: |\n        replicas: 2\n"),
        );
        repo.write(
            "charts/shop/Chart.yaml",
            "apiVersion: v2\nname: shop\nversion: 1.0.0\n",
        );
        repo.write("charts/shop/values.yaml", "replicas: 1\ncolor: blue\n");
        repo.write(
            "charts/shop/templates/all.yaml",
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}-config\ndata:\n  color: {{ .Values.color | quote }}\n  kube: {{ .Capabilities.KubeVersion.Version | quote }}\n---\napiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: {{ .Release.Name }}\nspec:\n  replicas: {{ .Values.replicas }}\n  selector:\n    matchLabels: {app: shop}\n  template:\n    metadata:\n      labels: {app: shop}\n    spec:\n      containers:\n      - name: web\n        image: nginx:1.27\n---\napiVersion: v1\nkind: Pod\nmetadata:\n  name: {{ .Release.Name }}-test\n  annotations:\n    helm.sh/hook: test\nspec:\n  containers:\n  - name: t\n    image: busybox\n",
        );
        repo.commit("an app of a chart");
        let config = repo.path().join(".git").join("kdrift.yaml");
        std::fs::write(&config, format!("helm:\n  command: {}\n", helm.display())).unwrap();
        // Applied as Argo CD applies it: rendered for this server, hooks left out, each object
        // marked with the app's tracking id; and one more object of the app's, not in Git.
        let k = t.kubectl(&kubectl);
        let kc = k.clone();
        let (ns2, app2, helm2, chart) = (
            ns.clone(),
            app.clone(),
            helm.clone(),
            repo.path().join("charts/shop"),
        );
        tokio::task::spawn_blocking(move || {
            let version = server_version(&kc);
            let rendered = support::run_ok(
                std::process::Command::new(&helm2)
                    .args(["template", "shop"])
                    .arg(&chart)
                    .args(["--namespace", &ns2, "--set", "replicas=2", "--skip-tests"])
                    .args(["--kube-version", &version]),
            );
            let mut docs = vec![format!("apiVersion: v1\nkind: Namespace\nmetadata:\n  name: {ns2}\n")];
            for doc in support::stdout(&rendered).split("\n---") {
                let mut obj: Value = match serde_yaml::from_str(doc) {
                    Ok(v) if !matches!(v, Value::Null) => v,
                    _ => continue,
                };
                let kind = obj["kind"].as_str().unwrap().to_string();
                let group = if kind == "Deployment" { "apps" } else { "" };
                let name = obj["metadata"]["name"].as_str().unwrap().to_string();
                obj["metadata"]["namespace"] = Value::String(ns2.clone());
                obj["metadata"]["annotations"] = serde_json::json!({
                    "argocd.argoproj.io/tracking-id": format!("{app2}:{group}/{kind}:{ns2}/{name}")
                });
                docs.push(serde_json::to_string(&obj).unwrap());
            }
            docs.push(format!("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: stray\n  namespace: {ns2}\n  annotations:\n    argocd.argoproj.io/tracking-id: {app2}:/ConfigMap:{ns2}/stray\ndata: {{x: '1'}}\n"));
            kc.ok(
                &["apply", "--server-side", "--field-manager", "argocd-controller", "-f", "-"],
                Some(&docs.join("\n---\n")),
            );
        })
        .await
        .unwrap();
        let report = |out: &std::process::Output| -> BTreeMap<String, (String, String)> {
            let v: Value = serde_json::from_str(&stdout(out))
                .unwrap_or_else(|e| panic!("{e}: {}{}", stdout(out), stderr(out)));
            v["resources"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|r| r["namespace"] == ns.as_str())
                .map(|r| {
                    (
                        format!(
                            "{}/{}",
                            r["kind"].as_str().unwrap(),
                            r["name"].as_str().unwrap()
                        ),
                        (
                            r["status"].as_str().unwrap().to_string(),
                            r["app"].as_str().unwrap_or("").to_string(),
                        ),
                    )
                })
                .collect()
        };
        let args = ["--config", config.to_str().unwrap(), "diff", "-o", "json"];
        let out = support::kdrift_on(repo.path(), &t.kubeconfig, &args).await;
        let rows = report(&out);
        let row = |s: &str| (s.to_string(), app.clone());
        let expected: BTreeMap<String, (String, String)> = [
            ("ConfigMap/shop-config".to_string(), row("synced")),
            ("Deployment/shop".to_string(), row("synced")),
            ("Pod/shop-test".to_string(), row("hook")),
            ("ConfigMap/stray".to_string(), row("extra")),
        ]
        .into_iter()
        .collect();
        assert_eq!(rows, expected, "{}: {}", t.name, stderr(&out));

        // A hand edit to a rendered object is the app's drift.
        let kc = k.clone();
        let ns2 = ns.clone();
        tokio::task::spawn_blocking(move || {
            kc.ok(
                &[
                    "patch",
                    "configmap",
                    "shop-config",
                    "-n",
                    &ns2,
                    "--type",
                    "merge",
                    "-p",
                    r#"{"data":{"color":"green"}}"#,
                ],
                None,
            );
        })
        .await
        .unwrap();
        let out = support::kdrift_on(repo.path(), &t.kubeconfig, &args).await;
        assert_eq!(
            report(&out)["ConfigMap/shop-config"],
            row("out-of-sync"),
            "{}",
            t.name
        );
    }
}

/// Lists in pages as kdrift's watches ask for them: every object exactly once and in order,
/// in one namespace and across namespaces; `remainingItemCount` counts the rest where no
/// selector is given, and is left out where one is (a server would have to match every
/// remaining object to count them). sim pages from where the last page ended, as the real
/// server does, instead of walking the whole kind for each page.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lists_page_the_same_way_on_both_servers() {
    use k8s_openapi::api::core::v1::{ConfigMap, Namespace};
    use kube::api::{Api, ListParams, PostParams};
    for t in targets().await {
        let client = kdrift::live::cluster::connect(Some(&t.kubeconfig), None)
            .await
            .unwrap()
            .client;
        let run = support::unique_name("pages");
        let (a, b) = (format!("{run}-a"), format!("{run}-b"));
        let namespaces: Api<Namespace> = Api::all(client.clone());
        for ns in [&a, &b] {
            let n: Namespace =
                serde_json::from_value(serde_json::json!({"metadata": {"name": ns}})).unwrap();
            namespaces.create(&PostParams::default(), &n).await.unwrap();
        }
        let mut want = Vec::new();
        for i in 0..25 {
            let ns = if i % 4 == 0 { &b } else { &a };
            let cm: ConfigMap = serde_json::from_value(serde_json::json!({"metadata": {
                "name": format!("cm-{i:02}"),
                "labels": {"run": run, "even": (i % 2 == 0).to_string()}
            }}))
            .unwrap();
            Api::<ConfigMap>::namespaced(client.clone(), ns)
                .create(&PostParams::default(), &cm)
                .await
                .unwrap();
            want.push((ns.clone(), format!("cm-{i:02}")));
        }
        want.sort();
        // Every page of `api` with `lp`: the names, and each page's remainingItemCount.
        async fn pages(
            api: &Api<ConfigMap>,
            lp: ListParams,
            limit: u32,
        ) -> (Vec<(String, String)>, Vec<Option<i64>>) {
            let (mut names, mut remaining) = (Vec::new(), Vec::new());
            let mut lp = lp.limit(limit);
            loop {
                let page = api.list(&lp).await.unwrap();
                names.extend(page.items.iter().map(|c| {
                    (
                        c.metadata.namespace.clone().unwrap_or_default(),
                        c.metadata.name.clone().unwrap_or_default(),
                    )
                }));
                match page.metadata.continue_.filter(|c| !c.is_empty()) {
                    Some(c) => {
                        remaining.push(page.metadata.remaining_item_count);
                        lp = lp.continue_token(&c);
                    }
                    None => break,
                }
            }
            (names, remaining)
        }
        let in_a: Api<ConfigMap> = Api::namespaced(client.clone(), &a);
        let (names, remaining) = pages(&in_a, ListParams::default(), 7).await;
        let want_a: Vec<_> = want.iter().filter(|(ns, _)| *ns == a).cloned().collect();
        assert_eq!(names, want_a, "{}: one namespace, in pages", t.name);
        assert_eq!(
            remaining,
            vec![Some(11), Some(4)],
            "{}: the rest counted without a selector",
            t.name
        );
        let everywhere: Api<ConfigMap> = Api::all(client.clone());
        let (names, remaining) = pages(
            &everywhere,
            ListParams::default().labels(&format!("run={run}")),
            4,
        )
        .await;
        assert_eq!(names, want, "{}: across namespaces, in pages", t.name);
        assert!(
            remaining.iter().all(Option::is_none),
            "{}: no count with a selector: {remaining:?}",
            t.name
        );
        let (names, _) = pages(
            &everywhere,
            ListParams::default().labels(&format!("run={run},even=true")),
            3,
        )
        .await;
        assert_eq!(names.len(), 13, "{}: a selector across pages", t.name);
        for ns in [&a, &b] {
            namespaces.delete(ns, &Default::default()).await.unwrap();
        }
    }
}
