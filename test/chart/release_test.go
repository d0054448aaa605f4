package chart

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	. "github.com/onsi/gomega"
	appsv1 "k8s.io/api/apps/v1"
)

// `make release VERSION=x.y.z` writes an installer and a chart package for
// that version, both pinned to the image <registry>:vx.y.z and installing
// the same objects, and leaves the tree as it was.
func TestRelease(t *testing.T) {
	skipShort(t, "make release")
	g := NewWithT(t)
	if _, err := exec.LookPath("make"); err != nil {
		t.Fatalf("make is needed: %v", err)
	}
	dir := root(t)
	before := gitStatus(t, dir)
	dist := t.TempDir()
	const version, registry = "9.8.7", "registry.example/team/rollgate"
	run(t, dir, "make", "--no-print-directory", "-s", "release", "VERSION="+version, "REGISTRY="+registry, "DIST="+dist,
		"HELM="+tool(t, "HELM", "helm"), "KUSTOMIZE="+tool(t, "KUSTOMIZE", "kustomize"))
	g.Expect(gitStatus(t, dir)).To(Equal(before), "make release changed the tree")

	pkg := filepath.Join(dist, "rollgate-"+version+".tgz")
	g.Expect(pkg).To(BeAnExistingFile())
	out := run(t, dir, tool(t, "HELM", "helm"), "show", "chart", pkg)
	g.Expect(string(out)).To(And(ContainSubstring("version: "+version+"\n"), ContainSubstring("appVersion: v"+version+"\n")))

	manifests, err := os.ReadFile(filepath.Join(dist, "install.yaml"))
	g.Expect(err).NotTo(HaveOccurred())
	installerObjs, err := decode(manifests)
	g.Expect(err).NotTo(HaveOccurred())
	installer := byKey(t, installerObjs)
	chartObjs, err := decode(run(t, dir, tool(t, "HELM", "helm"), "template", "rollgate", pkg, "--namespace", namespace))
	g.Expect(err).NotTo(HaveOccurred())
	chart := byKey(t, chartObjs)
	delete(installer, "Namespace /"+namespace)
	g.Expect(len(chart)).To(Equal(len(installer)))
	for key, want := range installer {
		g.Expect(chart).To(HaveKey(key))
		g.Expect(normalise(chart[key])).To(Equal(normalise(want)), key)
	}
	d := typed[appsv1.Deployment](t, chartObjs, "Deployment", "rollgate-controller-manager")
	g.Expect(d.Spec.Template.Spec.Containers[0].Image).To(Equal(registry + ":v" + version))
	g.Expect(chartObjs[0].GetLabels()).To(HaveKeyWithValue("app.kubernetes.io/version", "v"+version))
}

// gitStatus is `git status --porcelain` of the tree.
func gitStatus(t *testing.T, dir string) string {
	t.Helper()
	return string(run(t, dir, "git", "status", "--porcelain", "--untracked-files=all"))
}
