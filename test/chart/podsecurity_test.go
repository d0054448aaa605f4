package chart

import (
	"testing"

	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	psapi "k8s.io/pod-security-admission/api"
	"k8s.io/pod-security-admission/policy"
)

// restricted is the Pod Security Standard the chart and the installer meet:
// "restricted", at the newest version of its checks.
var restricted = psapi.LevelVersion{Level: psapi.LevelRestricted, Version: psapi.LatestVersion()}

// The pods the chart and the kustomize installer (dist/install.yaml) make
// pass the "restricted" Pod Security Standard, as the PodSecurity admission
// plugin of a namespace labelled pod-security.kubernetes.io/enforce=restricted
// checks them: for the defaults and for each of the installer's overlays.
func TestPodSecurityRestricted(t *testing.T) {
	image := "rollgate:" + appVersion(t)
	for _, tc := range installerCases {
		t.Run(tc.name, func(t *testing.T) {
			var args []string
			for _, v := range tc.values {
				args = append(args, "--set", v)
			}
			expectRestricted(t, "the chart", helmTemplate(t, args...))
			expectRestricted(t, tc.kustomization, kustomizeBuild(t, tc.kustomization, image))
		})
	}
}

// The check above fails when a pod breaks the standard.
func TestPodSecurityRestrictedCanFail(t *testing.T) {
	g := NewWithT(t)
	objs := helmTemplate(t, "--set", "securityContext.allowPrivilegeEscalation=true")
	templates := podTemplates(t, objs)
	g.Expect(templates).To(HaveKey("Deployment rollgate-controller-manager"))
	result := evaluateRestricted(t, templates["Deployment rollgate-controller-manager"])
	g.Expect(result.Allowed).To(BeFalse())
	g.Expect(result.ForbiddenReasons).To(ContainElement("allowPrivilegeEscalation != false"))
}

// expectRestricted fails unless objs have a pod template and each passes
// the restricted standard.
func expectRestricted(t *testing.T, source string, objs []*unstructured.Unstructured) {
	t.Helper()
	templates := podTemplates(t, objs)
	if len(templates) == 0 {
		t.Fatalf("%s makes no pods", source)
	}
	for key, tmpl := range templates {
		if result := evaluateRestricted(t, tmpl); !result.Allowed {
			t.Errorf("%s: the pods of %s break the Pod Security Standard %s: %s",
				source, key, restricted, result.ForbiddenDetail())
		}
	}
}

// evaluateRestricted runs the PodSecurity admission plugin's checks of the
// restricted standard on a pod template.
func evaluateRestricted(t *testing.T, tmpl *corev1.PodTemplateSpec) policy.AggregateCheckResult {
	t.Helper()
	evaluator, err := policy.NewEvaluator(policy.DefaultChecks(), nil)
	if err != nil {
		t.Fatal(err)
	}
	return policy.AggregateCheckResults(evaluator.EvaluatePod(restricted, &tmpl.ObjectMeta, &tmpl.Spec))
}

// podTemplates returns the pod templates of the workloads among objs, by
// "Kind name", failing on a kind that makes pods but the test does not know.
func podTemplates(t *testing.T, objs []*unstructured.Unstructured) map[string]*corev1.PodTemplateSpec {
	t.Helper()
	out := map[string]*corev1.PodTemplateSpec{}
	for _, obj := range objs {
		key := obj.GetKind() + " " + obj.GetName()
		var fields []string
		switch obj.GetKind() {
		case "Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job":
			fields = []string{"spec", "template"}
		case "CronJob":
			fields = []string{"spec", "jobTemplate", "spec", "template"}
		case "Pod":
			pod := &corev1.Pod{}
			if err := runtime.DefaultUnstructuredConverter.FromUnstructuredWithValidation(obj.Object, pod, true); err != nil {
				t.Fatalf("%s: %v", key, err)
			}
			out[key] = &corev1.PodTemplateSpec{ObjectMeta: pod.ObjectMeta, Spec: pod.Spec}
			continue
		default:
			if _, found, _ := unstructured.NestedMap(obj.Object, "spec", "template", "spec"); found {
				t.Fatalf("the test does not know the kind of %s, which has a pod template", key)
			}
			continue
		}
		m, found, err := unstructured.NestedMap(obj.Object, fields...)
		if err != nil || !found {
			t.Fatalf("%s has no pod template: %v", key, err)
		}
		tmpl := &corev1.PodTemplateSpec{}
		if err := runtime.DefaultUnstructuredConverter.FromUnstructuredWithValidation(m, tmpl, true); err != nil {
			t.Fatalf("%s: %v", key, err)
		}
		out[key] = tmpl
	}
	return out
}
