package chart

import (
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"
	. "github.com/onsi/gomega"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"
)

// The chart and the kustomize installer install the same objects: for each
// case, the chart rendered with the case's values equals the kustomization
// rendered as `make build-installer INSTALL_CONFIG=...` does, object by
// object, once normalised (normalise says how). Only the objects listed as
// one side's own may be missing from the other.
var installerCases = []struct {
	name string
	// values are the chart's --set values; none means its defaults.
	values []string
	// kustomization is the directory of config/ that renders the same.
	kustomization string
	// installerOnly and chartOnly are objects ("Kind namespace/name") that
	// only one of them has.
	installerOnly, chartOnly []string
}{{
	name:          "defaults",
	kustomization: "config/default",
	// helm install --create-namespace makes it.
	installerOnly: []string{"Namespace /rollgate-system"},
}, {
	name:          "cert-manager",
	values:        []string{"certificates.provider=cert-manager"},
	kustomization: "config/overlays/cert-manager",
	installerOnly: []string{"Namespace /rollgate-system"},
}, {
	name:          "failure-policy-ignore",
	values:        []string{"webhooks.failurePolicy=Ignore"},
	kustomization: "config/overlays/failure-policy-ignore",
	installerOnly: []string{"Namespace /rollgate-system"},
}, {
	name:          "monitoring",
	values:        []string{"metrics.serviceMonitor.enabled=true", "prometheusRule.enabled=true"},
	kustomization: "config/overlays/monitoring",
	installerOnly: []string{"Namespace /rollgate-system"},
}}

// Labels and annotations that only say who installed an object.
var (
	ownershipLabels = []string{
		"app.kubernetes.io/name", "app.kubernetes.io/instance", "app.kubernetes.io/version",
		"app.kubernetes.io/managed-by", "helm.sh/chart",
	}
	chartAnnotations = []string{"helm.sh/resource-policy"}
)

func TestChartMatchesInstaller(t *testing.T) {
	image := "rollgate:" + appVersion(t)
	for _, tc := range installerCases {
		t.Run(tc.name, func(t *testing.T) {
			g := NewWithT(t)
			var args []string
			for _, v := range tc.values {
				args = append(args, "--set", v)
			}
			chart := byKey(t, helmTemplate(t, args...))
			installer := byKey(t, kustomizeBuild(t, tc.kustomization, image))
			for _, key := range tc.installerOnly {
				g.Expect(installer).To(HaveKey(key))
				delete(installer, key)
			}
			for _, key := range tc.chartOnly {
				g.Expect(chart).To(HaveKey(key))
				delete(chart, key)
			}
			g.Expect(slices.Sorted(maps.Keys(chart))).To(Equal(slices.Sorted(maps.Keys(installer))),
				"the chart and %s install different objects", tc.kustomization)
			for key, want := range installer {
				got := chart[key]
				if diff := cmp.Diff(normalise(want), normalise(got)); diff != "" {
					t.Errorf("%s differs between %s (-) and the chart (+):\n%s", key, tc.kustomization, diff)
				}
			}
		})
	}
}

// byKey indexes objects by "Kind namespace/name", failing on duplicates.
func byKey(t *testing.T, objs []*unstructured.Unstructured) map[string]*unstructured.Unstructured {
	t.Helper()
	m := make(map[string]*unstructured.Unstructured, len(objs))
	for _, obj := range objs {
		key := fmt.Sprintf("%s %s/%s", obj.GetKind(), obj.GetNamespace(), obj.GetName())
		if _, dup := m[key]; dup {
			t.Fatalf("%s twice", key)
		}
		m[key] = obj
	}
	return m
}

// normalise drops what only says who installed an object (ownership labels,
// Helm's annotations) and empty label and annotation maps.
func normalise(obj *unstructured.Unstructured) map[string]any {
	obj = obj.DeepCopy()
	labels := obj.GetLabels()
	for _, l := range ownershipLabels {
		delete(labels, l)
	}
	obj.SetLabels(labels)
	annotations := obj.GetAnnotations()
	for _, a := range chartAnnotations {
		delete(annotations, a)
	}
	obj.SetAnnotations(annotations)
	for _, field := range []string{"labels", "annotations"} {
		if m, _, _ := unstructured.NestedMap(obj.Object, "metadata", field); len(m) == 0 {
			unstructured.RemoveNestedField(obj.Object, "metadata", field)
		}
	}
	return obj.Object
}

// chartMeta is what the test reads of Chart.yaml.
type chartMeta struct {
	Version    string `json:"version"`
	AppVersion string `json:"appVersion"`
}

func readChart(t *testing.T) chartMeta {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(root(t), "charts", "rollgate", "Chart.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var c chartMeta
	if err := yaml.Unmarshal(data, &c); err != nil {
		t.Fatal(err)
	}
	return c
}

// appVersion is the chart's appVersion, the default image tag.
func appVersion(t *testing.T) string {
	t.Helper()
	return readChart(t).AppVersion
}

// The chart's version is rollgate's (the Makefile reads it as VERSION); its
// appVersion, the binary's version and image tag, is always v<version>.
func TestChartVersion(t *testing.T) {
	g := NewWithT(t)
	c := readChart(t)
	g.Expect(c.Version).To(MatchRegexp(`^[0-9]+\.[0-9]+\.[0-9]+(-[0-9A-Za-z.-]+)?$`))
	g.Expect(c.AppVersion).To(Equal("v" + c.Version))
}
