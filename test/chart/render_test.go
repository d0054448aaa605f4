// Package chart tests the Helm chart charts/rollgate without a cluster: it
// lints, its objects for default values equal the kustomize installer's
// (dist/install.yaml), its values turn on what they say, its pods and the
// installer's meet the "restricted" Pod Security Standard, and its alert rules
// and dashboard hold valid PromQL (promtool).
package chart

import (
	"bytes"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"

	"github.com/rollgate/rollgate/test/e2e/harness"
)

// namespace is the namespace the chart is rendered for, the installer's.
const namespace = "rollgate-system"

// root returns the repository's root directory.
func root(t *testing.T) string {
	t.Helper()
	dir, err := harness.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	return dir
}

// skipShort skips, under -short, a test that runs the repository's tool
// binaries (helm, kustomize, promtool, make).
func skipShort(t *testing.T, what string) {
	t.Helper()
	if testing.Short() {
		t.Skipf("runs %s; not run with -short", what)
	}
}

// tool returns the path of a tool binary: $env, else bin/name as the
// Makefile installs it. Under -short it skips the test.
func tool(t *testing.T, env, name string) string {
	t.Helper()
	skipShort(t, name)
	path := os.Getenv(env)
	if path == "" {
		path = filepath.Join(root(t), "bin", name)
	}
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("%s is needed (make %s, or set $%s): %v", name, name, env, err)
	}
	return path
}

// run runs a tool and returns its standard output, failing the test with its
// standard error.
func run(t *testing.T, dir, name string, args ...string) []byte {
	t.Helper()
	out, err := runErr(t, dir, name, args...)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func runErr(t *testing.T, dir, name string, args ...string) ([]byte, error) {
	t.Helper()
	//nolint:gosec // G204: the repository's own tools on its own files.
	cmd := exec.CommandContext(t.Context(), name, args...)
	cmd.Dir = dir
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return out, errors.New(filepath.Base(name) + " " + joinArgs(args) + ": " + err.Error() + "\n" + stderr.String() + string(out))
	}
	return out, nil
}

func joinArgs(args []string) string {
	var b bytes.Buffer
	for i, a := range args {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(a)
	}
	return b.String()
}

// helmTemplate renders the chart as `helm template rollgate charts/rollgate
// -n rollgate-system` does, with extra arguments (--set ...).
func helmTemplate(t *testing.T, args ...string) []*unstructured.Unstructured {
	t.Helper()
	dir := root(t)
	out := run(t, dir, tool(t, "HELM", "helm"), append([]string{
		"template", "rollgate", filepath.Join(dir, "charts", "rollgate"), "--namespace", namespace,
	}, args...)...)
	objs, err := decode(out)
	if err != nil {
		t.Fatalf("decoding helm template's output: %v\n%s", err, out)
	}
	return objs
}

// kustomizeBuild renders a kustomization of config/ as `make build-installer
// INSTALL_CONFIG=dir IMG=image` does: in a copy of config/ whose manager image
// is set to image.
func kustomizeBuild(t *testing.T, dir, image string) []*unstructured.Unstructured {
	t.Helper()
	kustomize := tool(t, "KUSTOMIZE", "kustomize")
	tmp := t.TempDir()
	if err := os.CopyFS(filepath.Join(tmp, "config"), os.DirFS(filepath.Join(root(t), "config"))); err != nil {
		t.Fatal(err)
	}
	run(t, filepath.Join(tmp, "config", "manager"), kustomize, "edit", "set", "image", "controller="+image)
	out := run(t, tmp, kustomize, "build", filepath.Join(tmp, dir))
	objs, err := decode(out)
	if err != nil {
		t.Fatalf("decoding kustomize build %s: %v", dir, err)
	}
	return objs
}

// decode splits a multi-document YAML stream into objects.
func decode(manifests []byte) ([]*unstructured.Unstructured, error) {
	var objs []*unstructured.Unstructured
	dec := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(manifests), 4096)
	for {
		obj := &unstructured.Unstructured{}
		err := dec.Decode(&obj.Object)
		if errors.Is(err, io.EOF) {
			return objs, nil
		}
		if err != nil {
			return nil, err
		}
		if len(obj.Object) > 0 {
			objs = append(objs, obj)
		}
	}
}
