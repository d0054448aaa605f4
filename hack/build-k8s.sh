#!/usr/bin/env bash
# Builds the Kubernetes control plane that rollgate's tests, demo and benchmarks
# run against -- kube-apiserver, kube-controller-manager, kube-scheduler, etcd and
# kwok (with its stage files) -- from the Go module proxy, into
#   bin/k8s/<kubernetes version>-<os>-<arch>/
# No download other than Go modules is needed. Versions come from hack/versions.env.
#
# Idempotent: a binary that is already there at the pinned version is kept, so a
# second run takes seconds. A cold build takes several minutes on two cores.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=versions.env
source "$root/hack/versions.env"

goos=$(go env GOOS)
goarch=$(go env GOARCH)
out="${K8S_BIN_DIR:-$root/bin/k8s/${KUBERNETES_VERSION}-${goos}-${goarch}}"
work="$root/bin/k8s/.build"
mkdir -p "$out" "$work"

log() { printf '[build-k8s] %s\n' "$*" >&2; }
current_cmd=""
trap 'rc=$?; if [ $rc -ne 0 ]; then log "FAILED (exit $rc) while running: ${current_cmd}"; fi' EXIT
run() { current_cmd="$*"; "$@"; }

# stamp records the version a binary was built at; a binary is rebuilt when its
# stamp is missing or different.
fresh() { [ -x "$out/$1" ] && [ "$(cat "$out/.$1.version" 2>/dev/null)" = "$2" ]; }
stamp() { echo "$2" >"$out/.$1.version"; }

kube_minor=${KUBERNETES_VERSION#v1.}; kube_minor=${kube_minor%%.*}
staging_version="v0.${KUBERNETES_VERSION#v1.}"

build_kubernetes() {
  local need=()
  for b in kube-apiserver kube-controller-manager kube-scheduler; do
    fresh "$b" "$KUBERNETES_VERSION" || need+=("$b")
  done
  [ ${#need[@]} -eq 0 ] && { log "kube-apiserver, kube-controller-manager, kube-scheduler ${KUBERNETES_VERSION}: up to date"; return; }

  local mod="$work/kubernetes-$KUBERNETES_VERSION"
  if [ ! -f "$mod/.ready" ]; then
    log "preparing a module for k8s.io/kubernetes ${KUBERNETES_VERSION} (staging modules at ${staging_version})"
    rm -rf "$mod"; mkdir -p "$mod"
    (
      cd "$mod"
      run go mod init rollgate.local/k8s-build >/dev/null 2>&1
      run go mod edit -require="k8s.io/kubernetes@${KUBERNETES_VERSION}"
      # Every staging module k8s.io/kubernetes replaces with ./staging/... is
      # replaced here with its published release instead.
      current_cmd="go mod download -json k8s.io/kubernetes@${KUBERNETES_VERSION}"
      gomod=$(go mod download -json "k8s.io/kubernetes@${KUBERNETES_VERSION}" | sed -n 's/.*"GoMod": "\(.*\)".*/\1/p')
      for m in $(awk '$2 == "=>" && $3 ~ /^\.\/staging\// {print $1}' "$gomod"); do
        go mod edit -replace="$m=$m@${staging_version}"
      done
      printf 'package tools\n\nimport (\n\t_ "k8s.io/kubernetes/cmd/kube-apiserver"\n\t_ "k8s.io/kubernetes/cmd/kube-controller-manager"\n\t_ "k8s.io/kubernetes/cmd/kube-scheduler"\n)\n' >tools.go
      log "resolving dependencies (go mod tidy)"
      run go mod tidy
    )
    touch "$mod/.ready"
  fi
  local pkg=k8s.io/component-base/version
  local ldflags="-s -w -X ${pkg}.gitVersion=${KUBERNETES_VERSION} -X ${pkg}.gitMajor=1 -X ${pkg}.gitMinor=${kube_minor} -X ${pkg}.gitTreeState=clean -X ${pkg}.buildDate=1970-01-01T00:00:00Z"
  for b in "${need[@]}"; do
    log "building $b ${KUBERNETES_VERSION} (takes minutes on a cold cache)"
    (cd "$mod" && run go build -trimpath -ldflags "$ldflags" -o "$out/$b" "k8s.io/kubernetes/cmd/$b")
    stamp "$b" "$KUBERNETES_VERSION"
  done
}

build_etcd() {
  fresh etcd "$ETCD_VERSION" && { log "etcd ${ETCD_VERSION}: up to date"; return; }
  local mod="$work/etcd-$ETCD_VERSION"
  log "building etcd ${ETCD_VERSION}"
  mkdir -p "$mod"
  (
    cd "$mod"
    [ -f go.mod ] || run go mod init rollgate.local/etcd-build >/dev/null 2>&1
    printf 'package tools\n\nimport _ "go.etcd.io/etcd/server/v3"\n' >tools.go
    run go get "go.etcd.io/etcd/server/v3@${ETCD_VERSION}"
    run go build -trimpath -ldflags "-s -w" -o "$out/etcd" go.etcd.io/etcd/server/v3
  )
  stamp etcd "$ETCD_VERSION"
}

build_kwok() {
  if fresh kwok "$KWOK_VERSION" && [ -f "$out/kwok-stages/pod/general/pod-ready.yaml" ] && [ -z "$(find "$out/kwok-stages" -name '*.go')" ]; then log "kwok ${KWOK_VERSION}: up to date"; return; fi
  log "building kwok ${KWOK_VERSION}"
  run env GOBIN="$out" go install -trimpath -ldflags "-s -w" "sigs.k8s.io/kwok/cmd/kwok@${KWOK_VERSION}"
  current_cmd="go mod download -json sigs.k8s.io/kwok@${KWOK_VERSION}"
  local dir
  dir=$(go mod download -json "sigs.k8s.io/kwok@${KWOK_VERSION}" | sed -n 's/.*"Dir": "\(.*\)".*/\1/p')
  rm -rf "$out/kwok-stages"; mkdir -p "$out/kwok-stages"
  # The stage files (node-initialize, node-heartbeat, pod-ready, ...) drive the
  # simulated nodes and pods; they ship in the module under kustomize/stage.
  # Only the YAML: the Go files beside them would become packages of this module.
  (cd "$dir/kustomize/stage" && find . -name '*.yaml' -exec cp --parents {} "$out/kwok-stages/" \;)
  chmod -R u+w "$out/kwok-stages"
  stamp kwok "$KWOK_VERSION"
}

build_etcd
build_kwok
build_kubernetes
current_cmd=""
"$out/kube-apiserver" --version >&2
log "binaries are in $out"
echo "$out"
