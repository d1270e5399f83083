use super::*;
use std::collections::HashMap;

fn files(list: &[(&str, &str)]) -> HashMap<String, Arc<str>> {
    list.iter()
        .map(|(p, t)| (p.to_string(), Arc::from(*t)))
        .collect()
}

fn run(
    recipe: &Recipe,
    source: &str,
    repo: &HashMap<String, Arc<str>>,
    object: &Value,
    path: &str,
) -> Traced {
    let mut read = |p: &str| repo.get(p).cloned();
    trace(
        recipe,
        source,
        object,
        &FieldPath::parse(path).unwrap(),
        &mut read,
    )
}

fn at(file: &str, line: usize) -> Traced {
    Traced::Lines(vec![(file.to_string(), line)])
}

const BASE_DEPLOY: &str = "\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  labels:
    app: web
spec:
  replicas: 1
  template:
    spec:
      containers:
        - name: web
          image: web:1.0
          env:
            - name: MODE
              value: base
---
apiVersion: v1
kind: Service
metadata:
  name: web
spec:
  ports:
    - port: 80
";

const BASE_K: &str = "\
resources:
  - deploy.yaml
configMapGenerator:
  - name: settings
    literals: [a=b]
";

const OVERLAY_K: &str = "\
resources:
  - ../../base
namespace: prod
namePrefix: prod-
commonLabels:
  team: shop
images:
  - name: web
    newTag: \"2.0\"
replicas:
  - name: web
    count: 3
patches:
  - path: memory.yaml
  - target:
      kind: Deployment
      name: web
    patch: |-
      - op: replace
        path: /spec/template/spec/containers/0/env/0/value
        value: json
  - patch: |-
      apiVersion: apps/v1
      kind: Deployment
      metadata:
        name: web
      spec:
        paused: true
";

const MEMORY: &str = "\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  template:
    spec:
      containers:
        - name: web
          resources:
            limits:
              memory: 1Gi
";

fn kustomize_repo() -> HashMap<String, Arc<str>> {
    files(&[
        ("app/base/kustomization.yaml", BASE_K),
        ("app/base/deploy.yaml", BASE_DEPLOY),
        ("app/overlays/prod/kustomization.yaml", OVERLAY_K),
        ("app/overlays/prod/memory.yaml", MEMORY),
    ])
}

fn rendered_deploy() -> Value {
    serde_json::json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "prod-web", "namespace": "prod", "labels": {"app": "web", "team": "shop"}},
        "spec": {"replicas": 3, "paused": true, "template": {"spec": {"containers": [
            {"name": "web", "image": "web:2.0",
             "env": [{"name": "MODE", "value": "json"}],
             "resources": {"limits": {"memory": "1Gi"}}}]}}}
    })
}

#[test]
fn kustomize_fields_lead_to_the_line_that_set_them() {
    let repo = kustomize_repo();
    let recipe = Recipe::Kustomize {
        kfile: "app/overlays/prod/kustomization.yaml".into(),
        edits: None,
        generated: None,
    };
    let o = rendered_deploy();
    let k = "app/overlays/prod/kustomization.yaml";
    let cases = [
        ("spec.replicas", at(k, 12)),
        ("spec.template.spec.containers[name=web].image", at(k, 9)),
        ("metadata.namespace", at(k, 3)),
        ("metadata.name", at(k, 4)),
        ("metadata.labels.team", at(k, 6)),
        // From the base, untouched by the overlay.
        ("metadata.labels.app", at("app/base/deploy.yaml", 6)),
        // A strategic-merge patch in a file.
        (
            "spec.template.spec.containers[name=web].resources.limits.memory",
            at("app/overlays/prod/memory.yaml", 12),
        ),
        // A JSON 6902 operation inline: the line of its path.
        (
            "spec.template.spec.containers[name=web].env[name=MODE].value",
            at(k, 21),
        ),
        // An inline strategic-merge patch: the line inside the block.
        ("spec.paused", at(k, 28)),
    ];
    for (path, want) in cases {
        assert_eq!(run(&recipe, k, &repo, &o, path), want, "{path}");
    }
}

#[test]
fn generated_and_unfindable_objects_say_so() {
    let repo = kustomize_repo();
    let recipe = Recipe::Kustomize {
        kfile: "app/overlays/prod/kustomization.yaml".into(),
        edits: None,
        generated: None,
    };
    let cm = serde_json::json!({"apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": "prod-settings-8h2k5", "namespace": "prod"}, "data": {"a": "b"}});
    assert_eq!(
        run(&recipe, "x", &repo, &cm, "data.a"),
        at("app/base/kustomization.yaml", 4)
    );
    let other =
        serde_json::json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "nope"}});
    assert!(matches!(
        run(&recipe, "x", &repo, &other, "data.a"),
        Traced::Unknown(_)
    ));
    // A field no line writes (a transformer kdrift does not follow).
    let svc = serde_json::json!({"apiVersion": "v1", "kind": "Service",
        "metadata": {"name": "prod-web"}, "spec": {"type": "ClusterIP"}});
    match run(&recipe, "x", &repo, &svc, "spec.type") {
        Traced::Unknown(why) => assert!(why.contains("app/base/deploy.yaml"), "{why}"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn an_apps_kustomize_edits_come_first() {
    let mut repo = kustomize_repo();
    let app = "\
apiVersion: argoproj.io/v1alpha1
kind: Application
metadata:
  name: shop
spec:
  source:
    path: app/overlays/prod
    kustomize:
      namePrefix: argo-
      images:
        - web=registry/web:3.0
";
    repo.insert("apps/shop.yaml".into(), Arc::from(app));
    let recipe = Recipe::Kustomize {
        kfile: "app/overlays/prod/kustomization.yaml".into(),
        edits: Some(Edits {
            place: At {
                file: "apps/shop.yaml".into(),
                doc_line: 1,
                at: FieldPath::parse("spec.source.kustomize").unwrap(),
            },
            flux: false,
        }),
        generated: None,
    };
    let mut o = rendered_deploy();
    o["metadata"]["name"] = "argo-web".into();
    o["spec"]["template"]["spec"]["containers"][0]["image"] = "registry/web:3.0".into();
    assert_eq!(
        run(
            &recipe,
            "x",
            &repo,
            &o,
            "spec.template.spec.containers[name=web].image"
        ),
        at("apps/shop.yaml", 11)
    );
    assert_eq!(
        run(&recipe, "x", &repo, &o, "metadata.name"),
        at("apps/shop.yaml", 9)
    );
    // The overlay's replicas still apply (names are matched without the app's prefix).
    assert_eq!(
        run(&recipe, "x", &repo, &o, "spec.replicas"),
        at("app/overlays/prod/kustomization.yaml", 12)
    );
}

const TEMPLATE: &str = "\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ include \"web.fullname\" . }}
  labels:
    app: web
spec:
  replicas: {{ .Values.replicaCount }}
  template:
    spec:
      containers:
        - name: {{ .Chart.Name }}
          image: \"{{ .Values.image.repository }}:{{ .Values.image.tag | default .Chart.AppVersion }}\"
          {{- with .Values.env }}
          env:
            {{- toYaml . | nindent 12 }}
          {{- end }}
          resources:
            {{- toYaml .Values.resources | nindent 12 }}
          args: [\"--port\", \"{{ .Values.port | add 1 }}\"]
          workingDir: /srv
";

const VALUES: &str = "\
replicaCount: 1
image:
  repository: web
  tag: \"1.0\"
env:
  - name: MODE
    value: chart
resources:
  limits:
    memory: 1Gi
port: 80
";

fn helm_repo() -> HashMap<String, Arc<str>> {
    files(&[
        ("charts/web/templates/deploy.yaml", TEMPLATE),
        ("charts/web/values.yaml", VALUES),
        ("charts/web/values-prod.yaml", "image:\n  tag: \"2.0\"\n"),
        (
            "apps/web.yaml",
            "\
apiVersion: argoproj.io/v1alpha1
kind: Application
metadata:
  name: web
spec:
  source:
    path: charts/web
    helm:
      valueFiles: [values-prod.yaml]
      parameters:
        - name: replicaCount
          value: \"4\"
      values: |
        resources:
          limits:
            memory: 2Gi
",
        ),
    ])
}

fn helm_recipe() -> Recipe {
    let place = |p: &str| At {
        file: "apps/web.yaml".into(),
        doc_line: 1,
        at: FieldPath::parse(p).unwrap(),
    };
    Recipe::Helm {
        chart: "charts/web".into(),
        chart_values: true,
        values: vec![
            Values::File("charts/web/values-prod.yaml".into()),
            Values::Block(place("spec.source.helm.values")),
            Values::Parameters(place("spec.source.helm.parameters")),
        ],
    }
}

#[test]
fn helm_fields_lead_to_the_values_line_that_set_them() {
    let repo = helm_repo();
    let recipe = helm_recipe();
    let o = serde_json::json!({"apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "web", "labels": {"app": "web"}},
        "spec": {"replicas": 4, "template": {"spec": {"containers": [{"name": "web",
            "image": "web:2.0", "env": [{"name": "MODE", "value": "chart"}],
            "resources": {"limits": {"memory": "2Gi"}}, "workingDir": "/srv"}]}}}});
    let t = "charts/web/templates/deploy.yaml";
    let cases = [
        ("spec.replicas", at("apps/web.yaml", 11)),
        (
            "spec.template.spec.containers[name=web].image",
            Traced::Lines(vec![
                ("charts/web/values.yaml".into(), 3),
                ("charts/web/values-prod.yaml".into(), 2),
            ]),
        ),
        (
            "spec.template.spec.containers[name=web].resources.limits.memory",
            at("apps/web.yaml", 16),
        ),
        (
            "spec.template.spec.containers[name=web].env[name=MODE].value",
            at("charts/web/values.yaml", 7),
        ),
        ("metadata.labels.app", at(t, 6)),
        (
            "spec.template.spec.containers[name=web].workingDir",
            at(t, 21),
        ),
    ];
    for (path, want) in cases {
        assert_eq!(run(&recipe, t, &repo, &o, path), want, "{path}");
    }
    assert!(matches!(
        run(&recipe, t, &repo, &o, "metadata.name"),
        Traced::Unknown(_)
    ));
}

#[test]
fn values_from_a_secret_are_named_not_guessed() {
    let repo = helm_repo();
    let recipe = Recipe::Helm {
        chart: "charts/web".into(),
        values: vec![Values::Opaque("Secret web-values".into())],
        chart_values: true,
    };
    let o = serde_json::json!({"kind": "Deployment", "spec": {"replicas": 1}});
    match run(
        &recipe,
        "charts/web/templates/deploy.yaml",
        &repo,
        &o,
        "spec.replicas",
    ) {
        Traced::Unknown(why) => assert!(why.contains("Secret web-values"), "{why}"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn subchart_values_sit_under_its_name() {
    let repo = files(&[
        (
            "c/charts/db/templates/s.yaml",
            "apiVersion: v1\nkind: Service\nmetadata:\n  name: db\nspec:\n  port: {{ .Values.port }}\n",
        ),
        ("c/charts/db/values.yaml", "port: 5432\n"),
        ("c/values.yaml", "db:\n  port: 6000\n"),
    ]);
    let recipe = Recipe::Helm {
        chart: "c".into(),
        values: vec![],
        chart_values: true,
    };
    let o = serde_json::json!({"kind": "Service", "spec": {"port": 6000}});
    assert_eq!(
        run(
            &recipe,
            "c/charts/db/templates/s.yaml",
            &repo,
            &o,
            "spec.port"
        ),
        at("c/charts/db/values.yaml", 1)
    );
}

#[test]
fn values_references_are_read_from_template_lines() {
    let refs = |l: &str| {
        values_refs(l)
            .iter()
            .map(|p| p.to_string())
            .collect::<Vec<_>>()
    };
    assert_eq!(refs("x: {{ .Values.a.b }}"), ["a.b"]);
    assert_eq!(
        refs("x: {{ $.Values.a }}-{{ .Values.c_d | quote }}"),
        ["a", "c_d"]
    );
    assert!(refs("x: {{ .Chart.Name }}").is_empty());
    assert!(refs("x: {{ .NotValues.a }}").is_empty());
}

#[test]
fn a_cycle_or_lattice_of_kustomizations_ends_quickly() {
    // Each level names the next twice; the last names the first.
    let mut list = Vec::new();
    for i in 0..30 {
        let next = (i + 1) % 30;
        list.push((
            format!("k{i}/kustomization.yaml"),
            format!("resources:\n  - ../k{next}\n  - ../k{next}/\n"),
        ));
    }
    let repo: HashMap<String, Arc<str>> = list
        .iter()
        .map(|(p, t)| (p.clone(), Arc::from(t.as_str())))
        .collect();
    let recipe = Recipe::Kustomize {
        kfile: "k0/kustomization.yaml".into(),
        edits: None,
        generated: None,
    };
    let o = serde_json::json!({"kind": "ConfigMap", "metadata": {"name": "x"}});
    let started = std::time::Instant::now();
    assert!(matches!(
        run(&recipe, "x", &repo, &o, "data.a"),
        Traced::Unknown(_)
    ));
    assert!(started.elapsed() < std::time::Duration::from_secs(2));
}
