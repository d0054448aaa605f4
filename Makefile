# rollgate — records Kubernetes Deployment rollouts as GitLab deployments and
# gates them on GitLab deployment approvals.

# rollgate's version: the chart's version (charts/rollgate/Chart.yaml, the one
# place it is set). The binary says v$(VERSION), the image is tagged
# v$(VERSION), the chart's appVersion is v$(VERSION).
VERSION ?= $(shell sed -n 's/^version: *//p' charts/rollgate/Chart.yaml)
COMMIT ?= $(shell git rev-parse HEAD 2>/dev/null || echo unknown)
# -ldflags stamping the version and commit into the manager.
LDFLAGS ?= -X github.com/rollgate/rollgate/internal/version.Version=v$(VERSION) \
	-X github.com/rollgate/rollgate/internal/version.Commit=$(COMMIT)

# Image URL to use all building/pushing image targets; by default the chart's
# default image, so that dist/install.yaml and the chart install the same.
IMG ?= rollgate:v$(VERSION)

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

CHART ?= charts/rollgate

.PHONY: manifests
manifests: controller-gen ## Generate WebhookConfiguration, ClusterRole and CustomResourceDefinition objects (and the chart's copies).
	"$(CONTROLLER_GEN)" rbac:roleName=manager-role crd webhook paths="./api/...;./internal/..." output:crd:artifacts:config=config/crd/bases
	rm -f $(CHART)/files/crds/*.yaml && cp config/crd/bases/*.yaml $(CHART)/files/crds/
	cp config/rbac/role.yaml $(CHART)/files/rbac/role.yaml
	hack/prometheus-rule.sh $(CHART)/files/prometheus-rules.yaml > config/prometheus/prometheus_rule.yaml

.PHONY: generate
generate: controller-gen ## Generate code containing DeepCopy, DeepCopyInto, and DeepCopyObject method implementations.
	"$(CONTROLLER_GEN)" object:headerFile="hack/boilerplate.go.txt" paths="./api/..."

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
verify: ## Regenerate everything and fail if that changed the tree (or versions disagree); works on a dirty tree.
	@before="$$(git status --porcelain; git diff)"; \
	$(MAKE) --no-print-directory manifests generate fmt >/dev/null && go mod tidy && hack/verify-versions.sh; \
	after="$$(git status --porcelain; git diff)"; \
	if [ "$$before" != "$$after" ]; then \
		echo "Regenerating changed the tree; commit the result:"; \
		git status --porcelain; git --no-pager diff --stat; exit 1; \
	fi

# Tests run against real kube-apiserver and etcd binaries (envtest) and, for the
# harness and e2e tests, a real controller-manager, scheduler and kwok; all are
# built from the Go module proxy by hack/build-k8s.sh the first time.
TEST_FLAGS ?= -count=1 -timeout 30m

# Packages whose tests need no control plane under -short, and those that
# need one (envtest, or the local cluster for the harness and the demo).
UNIT_PKGS = $$(go list ./... | grep -v /test/)
INTEGRATION_PKGS = $$(go list ./... | grep -v /test/e2e | grep -v /test/faults | grep -v /test/bench)

.PHONY: test
test: verify vet lint test-unit test-integration ## The fast checks (verify, vet, lint, unit tests), then the envtest and control-plane tests.

.PHONY: test-unit
test-unit: ## Run the unit tests (-short, -race): no control plane, seconds.
	go test -short -race -count=1 $(UNIT_PKGS)

.PHONY: test-integration
test-integration: manifests generate k8s-binaries kustomize helm promtool ## Run the envtest, control-plane harness and chart tests (-race).
	KUBEBUILDER_ASSETS="$(K8S_BIN)" ROLLGATE_K8S_BIN="$(K8S_BIN)" \
		KUSTOMIZE="$(KUSTOMIZE)" HELM="$(HELM)" PROMTOOL="$(PROMTOOL)" \
		go test -race $(TEST_FLAGS) $(INTEGRATION_PKGS)

.PHONY: test-e2e
test-e2e: manifests generate kustomize helm k8s-binaries ## Run the end-to-end tests on a real local control plane.
	KUBEBUILDER_ASSETS="$(K8S_BIN)" ROLLGATE_K8S_BIN="$(K8S_BIN)" \
		KUSTOMIZE="$(KUSTOMIZE)" HELM="$(HELM)" \
		go test $(TEST_FLAGS) -v ./test/e2e/...

# The fault suite's sizes (test/faults/params_test.go); the short version is
# the same code with smaller numbers, for CI.
FAULTS_SHORT_ENV ?= FAULTS_DEPLOYMENTS=6 FAULTS_CRASH_ROLLOUTS=30 FAULTS_KILLS=8 \
	FAULTS_MIN_UP=4s FAULTS_MAX_UP=6s FAULTS_OUTAGE_ROLLOUTS=16 FAULTS_OUTAGE=8s \
	FAULTS_THROTTLE_ROLLOUTS=16 FAULTS_STORMS=2 FAULTS_STORM=4s FAULTS_RETRY_AFTER=2s \
	FAULTS_RATE_LIMIT=2 FAULTS_RATE_PERIOD=5s FAULTS_RATE_WINDOW=10s \
	FAULTS_LOST_ROLLOUTS=16 FAULTS_LOST_DURATION=12s FAULTS_TAKEOVERS=2 \
	FAULTS_SETTLE=75s FAULTS_QUIET=8s FAULTS_BAD_INPUT_WAIT=20s
# FAULTS_RUN picks the tests, e.g. FAULTS_RUN=TestOutages.
FAULTS_RUN ?= .

.PHONY: test-faults
test-faults: manifests generate k8s-binaries ## Run the full fault suite (20 to 30 minutes): crashes, outages, throttling, lost answers, leader takeover, bad input.
	KUBEBUILDER_ASSETS="$(K8S_BIN)" ROLLGATE_K8S_BIN="$(K8S_BIN)" \
		go test -count=1 -timeout 90m -v -run '$(FAULTS_RUN)' ./test/faults/...

.PHONY: test-faults-short
test-faults-short: manifests generate k8s-binaries ## Run the fault suite with small numbers (under 10 minutes), as CI does.
	$(FAULTS_SHORT_ENV) KUBEBUILDER_ASSETS="$(K8S_BIN)" ROLLGATE_K8S_BIN="$(K8S_BIN)" \
		go test -count=1 -timeout 20m -v -run '$(FAULTS_RUN)' ./test/faults/...

# BENCH_MANAGER_FLAGS are added to the manager's flags in the benchmarks, to
# compare settings, e.g. BENCH_MANAGER_FLAGS="--kube-api-qps=200".
# BENCH_TABLE, if set, is a file the table is written to as well.
BENCH_RUN = KUBEBUILDER_ASSETS="$(K8S_BIN)" ROLLGATE_K8S_BIN="$(K8S_BIN)" \
	BENCH_MANAGER_FLAGS="$(BENCH_MANAGER_FLAGS)" BENCH_TABLE="$(BENCH_TABLE)" \
	go test -count=1 -timeout 120m -run '^$$' -benchtime=1x -v ./test/bench/

.PHONY: bench
bench: manifests generate k8s-binaries ## Benchmark the manager on a local control plane: 2,000 and 10,000 Deployments (about 10 minutes).
	$(BENCH_RUN) -bench 'Scale(2000|10000)$$'

.PHONY: bench-quick
bench-quick: manifests generate k8s-binaries ## Benchmark the manager over 2,000 Deployments only (under 5 minutes).
	$(BENCH_RUN) -bench 'Scale2000$$'

FUZZTIME ?= 30s

.PHONY: fuzz
fuzz: ## Fuzz the parsing and validation of the workload annotations.
	go test -short -run '^$$' -fuzz FuzzAnnotations -fuzztime $(FUZZTIME) ./internal/rollout/

##@ Build

.PHONY: build
build: manifests generate fmt vet ## Build the manager binary.
	go build -ldflags "$(LDFLAGS)" -o bin/manager ./cmd
	go build -ldflags "$(LDFLAGS)" -o bin/kubectl-rollgate ./cmd/kubectl-rollgate

# RUN_FLAGS are passed to the manager by `make run`. The admission webhooks
# are off by default: the API server could not reach them on this machine.
RUN_FLAGS ?= --approval-webhooks=false

.PHONY: run
run: manifests generate fmt vet ## Run the manager against the cluster in the current kubeconfig (`make install` first).
	go run -ldflags "$(LDFLAGS)" ./cmd $(RUN_FLAGS)

# DEMO_FLAGS are passed to the demo, e.g. DEMO_FLAGS=--auto-approve.
DEMO_FLAGS ?=

.PHONY: demo
demo: manifests k8s-binaries ## Show rollgate end to end: a local cluster, a fake GitLab, approvals (see cmd/demo).
	@echo "Building rollgate's manager, the fake GitLab and the demo into bin/ ..."
	go build -ldflags "$(LDFLAGS)" -o bin/manager ./cmd
	go build -ldflags "$(LDFLAGS)" -o bin/kubectl-rollgate ./cmd/kubectl-rollgate
	go build -o bin/fake-gitlab ./cmd/fake-gitlab
	go build -o bin/demo ./cmd/demo
	ROLLGATE_K8S_BIN="$(K8S_BIN)" bin/demo --bin-dir bin $(DEMO_FLAGS)

.PHONY: docker-build
docker-build: ## Build the manager's container image.
	$(CONTAINER_TOOL) build $(if $(BASE_IMAGE),--build-arg BASE_IMAGE=$(BASE_IMAGE)) \
		--build-arg VERSION=v$(VERSION) --build-arg COMMIT=$(COMMIT) -t $(IMG) .

.PHONY: docker-push
docker-push: ## Push the manager's container image.
	$(CONTAINER_TOOL) push $(IMG)

# INSTALL_CONFIG is what build-installer, deploy and undeploy render:
# config/default (the manager makes and renews the webhook certificate) or
# config/overlays/cert-manager (cert-manager does).
INSTALL_CONFIG ?= config/default

# render-install writes $(INSTALL_CONFIG) with the manager image $(IMG) (or
# $(1)) to stdout. The image is set in a copy of config/, so the tree stays
# as it is.
define render-install
( set -e; tmp="$$(mktemp -d)"; trap 'rm -rf "$$tmp"' EXIT; cp -R config "$$tmp/"; \
  cd "$$tmp/config/manager" && "$(KUSTOMIZE)" edit set image controller=$(or $(1),$(IMG)); \
  "$(KUSTOMIZE)" build "$$tmp/$(INSTALL_CONFIG)" )
endef

# DIST is where build-installer and release write.
DIST ?= dist

.PHONY: build-installer
build-installer: manifests generate kustomize ## Generate dist/install.yaml: CRDs, RBAC, the manager, its webhooks and metrics Service.
	mkdir -p "$(DIST)"
	$(render-install) > "$(DIST)/install.yaml"

.PHONY: helm-lint
helm-lint: helm ## Lint the Helm chart.
	"$(HELM)" lint --strict $(CHART)

# REGISTRY is where release images are pushed: make release tags the image
# $(REGISTRY):v$(VERSION).
REGISTRY ?= rollgate

# release packages the tree as it is (make verify checks that its generated
# files are current), so that it never rewrites files other commands read.
.PHONY: release
release: kustomize helm ## Write dist/install.yaml and dist/rollgate-x.y.z.tgz for VERSION=x.y.z, image $(REGISTRY):vx.y.z.
	@if ! echo "$(VERSION)" | grep -Eq '^[0-9]+\.[0-9]+\.[0-9]+(-[0-9A-Za-z.-]+)?$$'; then \
		echo "VERSION must be x.y.z (SemVer, no leading v), not '$(VERSION)'" >&2; exit 1; fi
	mkdir -p "$(DIST)"
	$(call render-install,$(REGISTRY):v$(VERSION)) > "$(DIST)/install.yaml"
	( set -e; tmp="$$(mktemp -d)"; trap 'rm -rf "$$tmp"' EXIT; cp -R $(CHART) "$$tmp/rollgate"; \
	  sed -i.bak -e 's|^  repository: .*|  repository: $(REGISTRY)|' "$$tmp/rollgate/values.yaml"; rm -f "$$tmp/rollgate/values.yaml.bak"; \
	  "$(HELM)" lint --strict "$$tmp/rollgate" >/dev/null; \
	  "$(HELM)" package "$$tmp/rollgate" --version $(VERSION) --app-version v$(VERSION) --destination "$(DIST)" )
	@echo "$(DIST)/install.yaml and $(DIST)/rollgate-$(VERSION).tgz are for $(REGISTRY):v$(VERSION)."
	@echo "Build and push that image: make docker-build docker-push VERSION=$(VERSION) IMG=$(REGISTRY):v$(VERSION)"

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
HELM ?= $(LOCALBIN)/helm
PROMTOOL ?= $(LOCALBIN)/promtool

## Tool Versions
KUSTOMIZE_VERSION ?= v5.8.1
CONTROLLER_TOOLS_VERSION ?= v0.23.0
GOLANGCI_LINT_VERSION ?= v2.15.0
HELM_VERSION ?= v4.3.1
PROMTOOL_VERSION ?= v0.316.0

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

.PHONY: helm
helm: $(HELM) ## Install helm locally if necessary.
$(HELM): $(LOCALBIN)
	$(call go-install-tool,$(HELM),helm.sh/helm/v4/cmd/helm,$(HELM_VERSION))

.PHONY: promtool
promtool: $(PROMTOOL) ## Install promtool locally if necessary.
$(PROMTOOL): $(LOCALBIN)
	$(call go-install-tool,$(PROMTOOL),github.com/prometheus/prometheus/cmd/promtool,$(PROMTOOL_VERSION),-tags=remove_all_sd)

# go-install-tool will 'go install' any package with custom target and name of binary, if it doesn't exist
# $1 - target path with name of binary
# $2 - package url which can be installed
# $3 - specific version of package
# $4 - optional go install flags (promtool is built without its service
#      discovery plugins, which only `promtool check service-discovery` uses)
define go-install-tool
@[ -f "$(1)-$(3)" ] && [ "$$(realpath -- "$(1)" 2>/dev/null)" = "$$(realpath -- "$(1)-$(3)")" ] || { \
set -e; \
package=$(2)@$(3) ;\
echo "Installing $${package}" ;\
rm -f "$(1)" ;\
GOBIN="$(LOCALBIN)" go install $(4) $${package} ;\
mv "$(LOCALBIN)/$$(basename "$(1)")" "$(1)-$(3)" ;\
} ;\
ln -sf "$$(realpath "$(1)-$(3)")" "$(1)"
endef
