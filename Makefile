# rollgate — records Kubernetes Deployment rollouts as GitLab deployments and
# gates them on GitLab deployment approvals.

# Image URL to use all building/pushing image targets.
IMG ?= rollgate:latest

# Versions of the control-plane binaries (kube-apiserver, etcd, kwok, ...),
# pinned in one place.
include hack/versions.env

GOOS   ?= $(shell go env GOOS)
GOARCH ?= $(shell go env GOARCH)

# Setting SHELL to bash allows bash commands to be executed by recipes.
# Options are set to exit when a recipe line exits non-zero or a piped command fails.
SHELL = /usr/bin/env bash -o pipefail
.SHELLFLAGS = -ec

CONTAINER_TOOL ?= docker

.PHONY: all
all: build

##@ General

.PHONY: help
help: ## Display this help.
	@awk 'BEGIN {FS = ":.*##"; printf "\nUsage:\n  make \033[36m<target>\033[0m\n"} /^[a-zA-Z_0-9-]+:.*?##/ { printf "  \033[36m%-16s\033[0m %s\n", $$1, $$2 } /^##@/ { printf "\n\033[1m%s\033[0m\n", substr($$0, 5) } ' $(MAKEFILE_LIST)

##@ Development

.PHONY: manifests
manifests: controller-gen ## Generate WebhookConfiguration, ClusterRole and CustomResourceDefinition objects.
	"$(CONTROLLER_GEN)" rbac:roleName=manager-role crd webhook paths="./api/...;./internal/controller/..." output:crd:artifacts:config=config/crd/bases

.PHONY: generate
generate: controller-gen ## Generate code containing DeepCopy, DeepCopyInto, and DeepCopyObject method implementations.
	"$(CONTROLLER_GEN)" object:headerFile="hack/boilerplate.go.txt" paths="./api/...;./internal/controller/..."

.PHONY: fmt
fmt: ## Run go fmt against code.
	go fmt ./...

.PHONY: vet
vet: ## Run go vet against code.
	go vet ./...

.PHONY: lint
lint: golangci-lint ## Run golangci-lint.
	"$(GOLANGCI_LINT)" run

.PHONY: lint-fix
lint-fix: golangci-lint ## Run golangci-lint and apply its fixes.
	"$(GOLANGCI_LINT)" run --fix

.PHONY: verify
verify: manifests generate fmt ## Regenerate everything and fail if the tree changed (or versions disagree).
	go mod tidy
	hack/verify-versions.sh
	@if [ -n "$$(git status --porcelain)" ]; then \
		echo "The tree is not clean after regenerating; commit the result:"; \
		git status --porcelain; git --no-pager diff --stat; exit 1; \
	fi

# Tests run against real kube-apiserver and etcd binaries (envtest) and, for the
# harness and e2e tests, a real controller-manager, scheduler and kwok; all are
# built from the Go module proxy by hack/build-k8s.sh the first time.
TEST_FLAGS ?= -count=1 -timeout 30m

.PHONY: test
test: manifests generate fmt vet k8s-binaries ## Run unit, envtest and control-plane harness tests.
	KUBEBUILDER_ASSETS="$(K8S_BIN)" ROLLGATE_K8S_BIN="$(K8S_BIN)" \
		go test $(TEST_FLAGS) $$(go list ./... | grep -v /test/e2e)

.PHONY: test-e2e
test-e2e: manifests generate kustomize k8s-binaries ## Run the end-to-end tests on a real local control plane.
	KUBEBUILDER_ASSETS="$(K8S_BIN)" ROLLGATE_K8S_BIN="$(K8S_BIN)" \
		go test $(TEST_FLAGS) -v ./test/e2e/...

# BENCH_MANAGER_FLAGS are added to the manager's flags in the benchmarks, to
# compare settings, e.g. BENCH_MANAGER_FLAGS="--kube-api-qps=200".
# BENCH_TABLE, if set, is a file the table is written to as well.
BENCH_RUN = KUBEBUILDER_ASSETS="$(K8S_BIN)" ROLLGATE_K8S_BIN="$(K8S_BIN)" \
	BENCH_MANAGER_FLAGS="$(BENCH_MANAGER_FLAGS)" BENCH_TABLE="$(BENCH_TABLE)" \
	go test -count=1 -timeout 120m -run '^$$' -benchtime=1x -v ./test/bench/

.PHONY: bench
bench: manifests generate k8s-binaries ## Benchmark the manager on a local control plane: 2,000 and 10,000 Deployments (about 25 minutes).
	$(BENCH_RUN) -bench 'Scale(2000|10000)$$'

.PHONY: bench-quick
bench-quick: manifests generate k8s-binaries ## Benchmark the manager over 2,000 Deployments only (under 5 minutes).
	$(BENCH_RUN) -bench 'Scale2000$$'

FUZZTIME ?= 30s

.PHONY: fuzz
fuzz: ## Fuzz the parsing and validation of the workload annotations.
	go test -run '^$$' -fuzz FuzzAnnotations -fuzztime $(FUZZTIME) ./internal/controller/

##@ Build

.PHONY: build
build: manifests generate fmt vet ## Build the manager binary.
	go build -o bin/manager ./cmd

# RUN_FLAGS are passed to the manager by `make run`. The admission webhooks
# are off by default: the API server could not reach them on this machine.
RUN_FLAGS ?= --approval-webhooks=false

.PHONY: run
run: manifests generate fmt vet ## Run the manager against the cluster in the current kubeconfig (`make install` first).
	go run ./cmd $(RUN_FLAGS)

# DEMO_FLAGS are passed to the demo, e.g. DEMO_FLAGS=--auto-approve.
DEMO_FLAGS ?=

.PHONY: demo
demo: manifests k8s-binaries ## Show rollgate end to end: a local cluster, a fake GitLab, approvals (see cmd/demo).
	@echo "Building rollgate's manager, the fake GitLab and the demo into bin/ ..."
	go build -o bin/manager ./cmd
	go build -o bin/fake-gitlab ./cmd/fake-gitlab
	go build -o bin/demo ./cmd/demo
	ROLLGATE_K8S_BIN="$(K8S_BIN)" bin/demo --bin-dir bin $(DEMO_FLAGS)

.PHONY: docker-build
docker-build: ## Build the manager's container image.
	$(CONTAINER_TOOL) build $(if $(BASE_IMAGE),--build-arg BASE_IMAGE=$(BASE_IMAGE)) -t $(IMG) .

.PHONY: docker-push
docker-push: ## Push the manager's container image.
	$(CONTAINER_TOOL) push $(IMG)

# INSTALL_CONFIG is what build-installer, deploy and undeploy render:
# config/default (the manager makes and renews the webhook certificate) or
# config/overlays/cert-manager (cert-manager does).
INSTALL_CONFIG ?= config/default

# render-install writes $(INSTALL_CONFIG) with the manager image $(IMG) to
# stdout. The image is set in a copy of config/, so the tree stays as it is.
define render-install
( set -e; tmp="$$(mktemp -d)"; trap 'rm -rf "$$tmp"' EXIT; cp -R config "$$tmp/"; \
  cd "$$tmp/config/manager" && "$(KUSTOMIZE)" edit set image controller=$(IMG); \
  "$(KUSTOMIZE)" build "$$tmp/$(INSTALL_CONFIG)" )
endef

.PHONY: build-installer
build-installer: manifests generate kustomize ## Generate dist/install.yaml: CRDs, RBAC, the manager, its webhooks and metrics Service.
	mkdir -p dist
	$(render-install) > dist/install.yaml

##@ Deployment

ifndef ignore-not-found
  ignore-not-found = false
endif

.PHONY: install
install: manifests kustomize ## Install the CRDs into the cluster in the current kubeconfig.
	"$(KUSTOMIZE)" build config/crd | "$(KUBECTL)" apply -f -

.PHONY: uninstall
uninstall: manifests kustomize ## Remove the CRDs from the cluster in the current kubeconfig.
	"$(KUSTOMIZE)" build config/crd | "$(KUBECTL)" delete --ignore-not-found=$(ignore-not-found) -f -

.PHONY: deploy
deploy: manifests kustomize ## Deploy rollgate (INSTALL_CONFIG, IMG) to the cluster in the current kubeconfig.
	$(render-install) | "$(KUBECTL)" apply --server-side -f -

.PHONY: undeploy
undeploy: kustomize ## Remove rollgate from the cluster in the current kubeconfig.
	$(render-install) | "$(KUBECTL)" delete --ignore-not-found=$(ignore-not-found) -f -

##@ Dependencies

## Location to install dependencies to
LOCALBIN ?= $(shell pwd)/bin
$(LOCALBIN):
	mkdir -p "$(LOCALBIN)"

## The control-plane binaries for tests, the demo and benchmarks.
K8S_BIN ?= $(LOCALBIN)/k8s/$(KUBERNETES_VERSION)-$(GOOS)-$(GOARCH)

.PHONY: k8s-binaries
k8s-binaries: ## Build kube-apiserver, kube-controller-manager, kube-scheduler, etcd and kwok into bin/k8s.
	K8S_BIN_DIR="$(K8S_BIN)" hack/build-k8s.sh >/dev/null

## Tool Binaries
KUBECTL ?= kubectl
KUSTOMIZE ?= $(LOCALBIN)/kustomize
CONTROLLER_GEN ?= $(LOCALBIN)/controller-gen
GOLANGCI_LINT = $(LOCALBIN)/golangci-lint

## Tool Versions
KUSTOMIZE_VERSION ?= v5.8.1
CONTROLLER_TOOLS_VERSION ?= v0.23.0
GOLANGCI_LINT_VERSION ?= v2.15.0

.PHONY: kustomize
kustomize: $(KUSTOMIZE) ## Install kustomize locally if necessary.
$(KUSTOMIZE): $(LOCALBIN)
	$(call go-install-tool,$(KUSTOMIZE),sigs.k8s.io/kustomize/kustomize/v5,$(KUSTOMIZE_VERSION))

.PHONY: controller-gen
controller-gen: $(CONTROLLER_GEN) ## Install controller-gen locally if necessary.
$(CONTROLLER_GEN): $(LOCALBIN)
	$(call go-install-tool,$(CONTROLLER_GEN),sigs.k8s.io/controller-tools/cmd/controller-gen,$(CONTROLLER_TOOLS_VERSION))

.PHONY: golangci-lint
golangci-lint: $(GOLANGCI_LINT) ## Install golangci-lint locally if necessary.
$(GOLANGCI_LINT): $(LOCALBIN)
	$(call go-install-tool,$(GOLANGCI_LINT),github.com/golangci/golangci-lint/v2/cmd/golangci-lint,$(GOLANGCI_LINT_VERSION))

# go-install-tool will 'go install' any package with custom target and name of binary, if it doesn't exist
# $1 - target path with name of binary
# $2 - package url which can be installed
# $3 - specific version of package
define go-install-tool
@[ -f "$(1)-$(3)" ] && [ "$$(readlink -- "$(1)" 2>/dev/null)" = "$(1)-$(3)" ] || { \
set -e; \
package=$(2)@$(3) ;\
echo "Installing $${package}" ;\
rm -f "$(1)" ;\
GOBIN="$(LOCALBIN)" go install $${package} ;\
mv "$(LOCALBIN)/$$(basename "$(1)")" "$(1)-$(3)" ;\
} ;\
ln -sf "$$(realpath "$(1)-$(3)")" "$(1)"
endef
