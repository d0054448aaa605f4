package localcluster

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
)

// BinDirEnv is the environment variable naming the directory that holds the
// Kubernetes binaries when Options.BinDir is empty.
const BinDirEnv = "ROLLGATE_K8S_BIN"

// versionsFile is where the repository pins the Kubernetes version, relative to
// the repository root.
const versionsFile = "hack/versions.env"

// buildHint tells the reader how to produce missing binaries.
const buildHint = "build them with `make k8s-binaries` (or hack/build-k8s.sh), " +
	"or point Options.BinDir or $" + BinDirEnv + " at a directory holding them"

// binaries are the executables and kwok stage files a cluster runs from.
type binaries struct {
	etcd, apiServer, controllerManager, scheduler, kwok string
	// stages is the directory of kwok's stage definitions (kustomize/stage in
	// kwok's module).
	stages string
}

// findBinaries resolves the binary directory (explicit, then $ROLLGATE_K8S_BIN,
// then bin/k8s/<version>-<os>-<arch> at the repository root) and checks that
// every file is there.
func findBinaries(explicit string) (binaries, error) {
	dir, err := binDir(explicit)
	if err != nil {
		return binaries{}, err
	}
	b := binaries{
		etcd:              filepath.Join(dir, "etcd"),
		apiServer:         filepath.Join(dir, "kube-apiserver"),
		controllerManager: filepath.Join(dir, "kube-controller-manager"),
		scheduler:         filepath.Join(dir, "kube-scheduler"),
		kwok:              filepath.Join(dir, "kwok"),
		stages:            filepath.Join(dir, "kwok-stages"),
	}
	for _, p := range []string{b.etcd, b.apiServer, b.controllerManager, b.scheduler, b.kwok} {
		info, err := os.Stat(p)
		if err != nil || info.IsDir() || info.Mode()&0o111 == 0 {
			return binaries{}, fmt.Errorf("cluster: %s is missing or not executable; %s", p, buildHint)
		}
	}
	if info, err := os.Stat(b.stages); err != nil || !info.IsDir() {
		return binaries{}, fmt.Errorf("cluster: kwok stage directory %s is missing; %s", b.stages, buildHint)
	}
	return b, nil
}

// binDir picks the directory the binaries are looked up in.
func binDir(explicit string) (string, error) {
	if explicit != "" {
		return explicit, nil
	}
	if env := os.Getenv(BinDirEnv); env != "" {
		return env, nil
	}
	wd, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("cluster: finding the repository root: %w", err)
	}
	root, err := repoRoot(wd)
	if err != nil {
		return "", err
	}
	version, err := pinnedVersion(root)
	if err != nil {
		return "", err
	}
	return filepath.Join(root, "bin", "k8s", version+"-"+runtime.GOOS+"-"+runtime.GOARCH), nil
}

// repoRoot walks up from dir to the first directory holding hack/versions.env.
func repoRoot(dir string) (string, error) {
	for d := dir; ; d = filepath.Dir(d) {
		if _, err := os.Stat(filepath.Join(d, versionsFile)); err == nil {
			return d, nil
		}
		if filepath.Dir(d) == d {
			return "", fmt.Errorf("cluster: no %s in %s or any parent, so the binary directory is unknown; %s",
				versionsFile, dir, buildHint)
		}
	}
}

// pinnedVersion reads KUBERNETES_VERSION from hack/versions.env under root.
func pinnedVersion(root string) (string, error) {
	name := filepath.Join(root, versionsFile)
	f, err := os.Open(name) //nolint:gosec // G304: the repository's own versions file.
	if err != nil {
		return "", fmt.Errorf("cluster: reading the pinned Kubernetes version: %w", err)
	}
	defer func() { _ = f.Close() }()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		key, value, ok := strings.Cut(strings.TrimSpace(sc.Text()), "=")
		if ok && key == "KUBERNETES_VERSION" {
			return strings.Trim(value, `"'`), nil
		}
	}
	if err := sc.Err(); err != nil {
		return "", fmt.Errorf("cluster: reading %s: %w", name, err)
	}
	return "", fmt.Errorf("cluster: %s does not set KUBERNETES_VERSION", name)
}

// EnvtestAssets returns the directory that holds kube-apiserver and etcd,
// found as Start finds it, for envtest's BinaryAssetsDirectory.
func EnvtestAssets() (string, error) {
	dir, err := binDir("")
	if err != nil {
		return "", err
	}
	for _, name := range []string{"kube-apiserver", "etcd"} {
		if _, err := os.Stat(filepath.Join(dir, name)); err != nil {
			return "", fmt.Errorf("cluster: %s is missing; %s", filepath.Join(dir, name), buildHint)
		}
	}
	return dir, nil
}
