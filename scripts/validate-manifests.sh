#!/usr/bin/env bash
# Offline validation of deploy/: renders both kustomize entry points (deploy/ and
# deploy/namespaced/) with `kubectl kustomize`, validates every object against the Kubernetes
# schemas in strict mode (unknown fields fail) with kubernetes-validate, and checks the rules the
# design fixes (RBAC exactly get/list/watch on pods; the plugin ConfigMap mounted without subPath).
# Installs what it lacks, once: kubectl (only where apt has it) and kubernetes-validate (pip).
# Prints one PASS/FAIL line last; exits non-zero on failure.
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"

kubernetes_validate_pin="kubernetes-validate==1.37.0"
entry_points=(deploy deploy/namespaced)
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

fail() {
    echo "validate-manifests: FAIL: $*"
    exit 1
}

# kubectl: use it when present; else install it from apt only when apt offers it (Debian's own
# `kubernetes-client` is kubectl 1.20, whose kustomize is too old for these files: not used).
ensure_kubectl() {
    command -v kubectl >/dev/null 2>&1 && return 0
    if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
        apt-get update -qq >/dev/null 2>&1 || true
        local candidate
        candidate="$(apt-cache policy kubectl 2>/dev/null | awk '/Candidate:/ {print $2}')"
        if [ -n "$candidate" ] && [ "$candidate" != "(none)" ]; then
            local started=$SECONDS
            DEBIAN_FRONTEND=noninteractive apt-get install -y -qq kubectl >/dev/null || return 1
            echo "installed kubectl $candidate with apt in $((SECONDS - started)) s"
            return 0
        fi
    fi
    return 1
}

ensure_kubernetes_validate() {
    python3 -c 'import kubernetes_validate' 2>/dev/null && return 0
    local started=$SECONDS
    python3 -m pip install --quiet --disable-pip-version-check --root-user-action=ignore \
        "$kubernetes_validate_pin" || return 1
    echo "installed $kubernetes_validate_pin with pip in $((SECONDS - started)) s"
}

ensure_kubernetes_validate || fail "cannot install $kubernetes_validate_pin with pip"
k8s_version="$(python3 -c 'import kubernetes_validate.utils as u; print(u.latest_version())')"
kv_version="$(python3 -c 'from kubernetes_validate.version import __version__; print(__version__)')"

# What to validate: the rendered entry points, or without kubectl the plain manifests that the
# kustomizations list (patches left out: they are partial objects).
targets=()
if ensure_kubectl; then
    for entry in "${entry_points[@]}"; do
        rendered="$work/${entry//\//_}.yaml"
        kubectl kustomize "$entry" >"$rendered" 2>"$work/kustomize.err" \
            || fail "kubectl kustomize $entry: $(cat "$work/kustomize.err")"
        targets+=("$rendered")
    done
    what="kustomize output of ${entry_points[*]}"
else
    echo "SKIP kustomize rendering: no kubectl on PATH and apt offers none to install;" \
        "validating the plain manifest files instead (overlay patches unchecked)"
    mapfile -t targets < <(python3 - "${entry_points[@]}" <<'PY'
import os, sys, yaml

def resource_files(directory, seen):
    """The manifest files a kustomization lists, following directories it includes."""
    with open(os.path.join(directory, "kustomization.yaml")) as f:
        kustomization = yaml.safe_load(f)
    for entry in kustomization.get("resources", []):
        path = os.path.normpath(os.path.join(directory, entry))
        if os.path.isdir(path):
            yield from resource_files(path, seen)
        elif path not in seen:
            seen.add(path)
            yield path

seen = set()
for directory in sys.argv[1:]:
    for path in resource_files(directory, seen):
        print(path)
PY
    )
    what="plain manifests of ${entry_points[*]}"
fi

echo "kubernetes-validate $kv_version, strict, Kubernetes $k8s_version:"
status=0
python3 -m kubernetes_validate --strict -k "$k8s_version" "${targets[@]}" >"$work/validate.out" 2>&1 \
    || status=$?
sed "s|$work/||; s|^|  |" "$work/validate.out"
# A WARN (no schema for a kind or apiVersion) means a typo here: every kind used is built in.
if [ "$status" != 0 ] || grep -qE '^(ERROR|WARN|FATAL)' "$work/validate.out"; then
    fail "schema validation of the $what (see above)"
fi
objects="$(grep -c '^INFO .* passed' "$work/validate.out" || true)"
[ "$objects" -gt 0 ] || fail "nothing was validated in the $what"

# The design's own rules, on the same files.
python3 - "${targets[@]}" <<'PY' || fail "policy check of the $what (see above)"
import sys, yaml

problems = []
for filename in sys.argv[1:]:
    replicas, budgets = {}, []
    with open(filename) as f:
        for obj in filter(None, yaml.safe_load_all(f)):
            kind, name = obj["kind"], obj["metadata"]["name"]
            if kind in ("Role", "ClusterRole"):
                read = ["get", "list", "watch"]
                expected = [{"apiGroups": [""], "resources": ["pods"], "verbs": read},
                            {"apiGroups": ["apps"], "resources": ["deployments", "statefulsets", "daemonsets", "replicasets"], "verbs": read},
                            {"apiGroups": ["batch"], "resources": ["jobs", "cronjobs"], "verbs": read}]
                if obj.get("rules") != expected:
                    problems.append(f"{kind}/{name} must grant exactly get, list, watch on pods and the workload kinds: {obj.get('rules')}")
            if kind == "Deployment":
                replicas[name] = (obj["spec"].get("replicas", 1), obj["spec"]["template"]["metadata"].get("labels", {}))
                pod = obj["spec"]["template"]["spec"]
                plugin_volumes = {v["name"] for v in pod.get("volumes", []) if "configMap" in v}
                for container in pod["containers"]:
                    for mount in container.get("volumeMounts", []):
                        if mount["name"] in plugin_volumes and "subPath" in mount:
                            problems.append(f"Deployment/{name}: ConfigMap volume {mount['name']} mounted with "
                                            "subPath, which never updates: plugins would not reload")
            if kind == "PodDisruptionBudget":
                budgets.append(obj)
    # Every Deployment runs several replicas and has a PodDisruptionBudget that selects its
    # pods and leaves at least one replica free to be evicted (else drains block).
    for deployment, (count, labels) in replicas.items():
        if count < 2:
            problems.append(f"{filename}: Deployment/{deployment} runs {count} replica(s); at least 2 behind the Service")
        covering = [b for b in budgets
                    if b["spec"]["selector"].get("matchLabels", {}).items() <= labels.items()]
        if not covering:
            problems.append(f"{filename}: no PodDisruptionBudget selects Deployment/{deployment}'s pods")
        for budget in covering:
            available = budget["spec"].get("minAvailable")
            if not isinstance(available, int) or not 1 <= available < count:
                problems.append(f"{filename}: PodDisruptionBudget/{budget['metadata']['name']} minAvailable "
                                f"{available} must be an integer from 1 to replicas - 1 ({count - 1})")
for problem in problems:
    print("  POLICY " + problem)
sys.exit(1 if problems else 0)
PY

echo "validate-manifests: PASS: $objects objects in the $what valid against Kubernetes $k8s_version (strict), RBAC, mounts, replicas and disruption budget as designed"
