#!/usr/bin/env bash
# Checks that the Kubernetes version pinned in hack/versions.env matches the
# k8s.io/* modules in go.mod (k8s.io v0.Y.Z <-> Kubernetes v1.Y.Z).
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=versions.env
source "$root/hack/versions.env"
cd "$root"
want="v0.${KUBERNETES_VERSION#v1.}"
status=0
for m in k8s.io/api k8s.io/apimachinery k8s.io/client-go; do
  have=$(go list -m -f '{{.Version}}' "$m")
  if [ "$have" != "$want" ]; then
    echo "hack/versions.env pins Kubernetes ${KUBERNETES_VERSION}, so go.mod needs $m $want, but it has $have" >&2
    status=1
  fi
done
exit $status
