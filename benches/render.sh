#!/usr/bin/env bash
# What rendering costs per app: `kdrift diff --live-file` on a repository of APPS Argo CD
# apps (half render an in-repo Helm chart with their own values, half a kustomization with
# overrides), against the same objects committed as plain manifests, in one run. Medians of
# RUNS rounds (each round runs both, fresh processes), after an untimed run of each that
# fills the rendered-output cache ("cached"); with COLD=1 the cache is emptied before every
# timed run of the apps repository instead ("uncached").
#
#   benches/render.sh [APPS] [RUNS]
#
# Prints both medians and (apps - plain) / APPS, the time rendering adds per app. Needs helm
# and kubectl (the pinned ones of scripts/install-tools, else HELM and KUBECTL).
set -euo pipefail
cd "$(dirname "$0")/.."
apps=${1:-20}
runs=${2:-7}
tools=$(bash scripts/install-tools --print-dir)
helm=${HELM:-$tools/helm}
kubectl=${KUBECTL:-$tools/kubectl}
[ -x "$helm" ] && [ -x "$kubectl" ] || { echo "helm and kubectl are needed (scripts/install-tools)"; exit 2; }
cargo build --profile profiling -q
bin=$PWD/target/profiling/kdrift
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/apps" "$work/plain" "$work/cache"
config="$work/config.yaml"
printf 'helm:\n  command: %s\nkustomize:\n  command: %s\n' "$helm" "$kubectl" > "$config"
gitc() { git -C "$1" -c user.email=bench@kdrift -c user.name=bench "${@:2}"; }

# The apps repository.
r=$work/apps
gitc "$r" init -q
for i in $(seq 1 "$apps"); do
  name=$(printf 'app%03d' "$i")
  if [ $((i % 2)) -eq 1 ]; then
    d=$r/charts/$name
    mkdir -p "$d/templates"
    printf 'apiVersion: v2\nname: %s\nversion: 1.0.0\n' "$name" > "$d/Chart.yaml"
    printf 'replicas: 1\nimage: nginx:1.25\ncolor: blue\n' > "$d/values.yaml"
    printf 'color: red\n' > "$d/values-prod.yaml"
    cat > "$d/templates/deploy.yaml" <<'T'
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ .Release.Name }}
  labels: {app: {{ .Release.Name }}}
spec:
  replicas: {{ .Values.replicas }}
  selector:
    matchLabels: {app: {{ .Release.Name }}}
  template:
    metadata:
      labels: {app: {{ .Release.Name }}}
    spec:
      containers:
      - name: app
        image: {{ .Values.image }}
T
    cat > "$d/templates/svc.yaml" <<'T'
apiVersion: v1
kind: Service
metadata:
  name: {{ .Release.Name }}
spec:
  selector: {app: {{ .Release.Name }}}
  ports:
  - port: 80
T
    cat > "$d/templates/cm.yaml" <<'T'
apiVersion: v1
kind: ConfigMap
metadata:
  name: {{ .Release.Name }}-config
data:
  color: {{ .Values.color | quote }}
T
    source="    path: charts/$name
    helm:
      valueFiles: [values-prod.yaml]
      parameters:
      - name: replicas
        value: \"2\""
  else
    d=$r/kustomize/$name
    mkdir -p "$d"
    printf 'resources:\n- deploy.yaml\n- svc.yaml\n' > "$d/kustomization.yaml"
    printf 'apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: %s\nspec:\n  selector:\n    matchLabels: {app: %s}\n  template:\n    metadata:\n      labels: {app: %s}\n    spec:\n      containers:\n      - name: app\n        image: nginx:1.25\n' "$name" "$name" "$name" > "$d/deploy.yaml"
    printf 'apiVersion: v1\nkind: Service\nmetadata:\n  name: %s\nspec:\n  selector: {app: %s}\n  ports:\n  - port: 80\n' "$name" "$name" > "$d/svc.yaml"
    source="    path: kustomize/$name
    kustomize:
      namePrefix: prod-
      images: [nginx=nginx:1.27]"
  fi
  mkdir -p "$r/argocd"
  printf 'apiVersion: argoproj.io/v1alpha1\nkind: Application\nmetadata:\n  name: %s\n  namespace: argocd\nspec:\n  destination:\n    namespace: %s\n  source:\n    repoURL: https://example.com/bench.git\n%s\n' "$name" "$name" "$source" > "$r/argocd/$name.yaml"
done
gitc "$r" add -A
gitc "$r" commit -qm apps

# The same objects as plain manifests, rendered by hand with the same settings.
p=$work/plain
gitc "$p" init -q
mkdir -p "$p/m"
for i in $(seq 1 "$apps"); do
  name=$(printf 'app%03d' "$i")
  if [ $((i % 2)) -eq 1 ]; then
    "$helm" template "$name" "$r/charts/$name" --namespace "$name" -f "$r/charts/$name/values-prod.yaml" --set replicas=2 > "$p/m/$name.yaml"
  else
    ov=$work/overlay/$name
    mkdir -p "$ov"
    printf 'resources:\n- ../../apps/kustomize/%s\nnamePrefix: prod-\nnamespace: %s\nimages:\n- name: nginx\n  newTag: "1.27"\n' "$name" "$name" > "$ov/kustomization.yaml"
    "$kubectl" kustomize --load-restrictor LoadRestrictionsNone "$ov" > "$p/m/$name.yaml"
  fi
  cp "$r/argocd/$name.yaml" "$p/m/$name-application.yaml"
done
gitc "$p" add -A
gitc "$p" commit -qm plain
empty=$work/empty.yaml
printf 'apiVersion: v1\nkind: List\nitems: []\n' > "$empty"
count=$( (XDG_CACHE_HOME=$work/cache "$bin" --config "$config" --repo "$p" diff --live-file "$empty" -o json || true) | python3 -c "import json,sys; print(len(json.load(sys.stdin)['resources']))")

run() { # repo → milliseconds
  local s e
  s=$(date +%s%N)
  XDG_CACHE_HOME=$work/cache "$bin" --config "$config" --repo "$1" diff --live-file "$empty" -o json > /dev/null || true
  e=$(date +%s%N)
  echo $(((e - s) / 1000000))
}
median() { sort -n | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : int((a[NR/2] + a[NR/2+1]) / 2)}'; }
run "$r" > /dev/null
run "$p" > /dev/null
a=(); b=()
for _ in $(seq 1 "$runs"); do
  if [ "${COLD:-0}" = 1 ]; then rm -rf "$work/cache/kdrift/rendered"; fi
  a+=("$(run "$r")")
  b+=("$(run "$p")")
done
ma=$(printf '%s\n' "${a[@]}" | median)
mb=$(printf '%s\n' "${b[@]}" | median)
mode=$([ "${COLD:-0}" = 1 ] && echo uncached || echo cached)
echo "apps: $apps ($((apps - apps / 2)) Helm, $((apps / 2)) kustomize), $count objects, $runs runs, $mode"
echo "kdrift diff, apps rendered:   median ${ma} ms  (${a[*]})"
echo "kdrift diff, plain manifests: median ${mb} ms  (${b[*]})"
awk -v a="$ma" -v b="$mb" -v n="$apps" 'BEGIN { printf "rendering adds %.1f ms per app\n", (a - b) / n }'
