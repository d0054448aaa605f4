/*
Copyright 2026 The rollgate Authors.

Licensed under the Apache License, Version 2.0 (the "License");
you may not use this file except in compliance with the License.
You may obtain a copy of the License at

    http://www.apache.org/licenses/LICENSE-2.0

Unless required by applicable law or agreed to in writing, software
distributed under the License is distributed on an "AS IS" BASIS,
WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
See the License for the specific language governing permissions and
limitations under the License.
*/

// Package testenv locates the repository and the control-plane binaries that
// hack/build-k8s.sh builds, for envtest suites and the local cluster harness.
package testenv

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
)

// RepoRoot walks up from the working directory to the directory holding go.mod.
func RepoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("cannot find the repository root (no go.mod above the working directory)")
		}
		dir = parent
	}
}

// Versions reads hack/versions.env of the repository.
func Versions(root string) (map[string]string, error) {
	f, err := os.Open(filepath.Join(root, "hack", "versions.env"))
	if err != nil {
		return nil, err
	}
	defer func() { _ = f.Close() }()
	out := map[string]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if k, v, ok := strings.Cut(line, "="); ok {
			out[k] = v
		}
	}
	return out, sc.Err()
}

// BinDir returns the directory holding kube-apiserver, etcd and the other
// control-plane binaries: $ROLLGATE_K8S_BIN, else $KUBEBUILDER_ASSETS, else
// bin/k8s/<version>-<os>-<arch> of the repository. It fails, naming the
// command that builds them, when kube-apiserver is not there.
func BinDir() (string, error) {
	dir := os.Getenv("ROLLGATE_K8S_BIN")
	if dir == "" {
		dir = os.Getenv("KUBEBUILDER_ASSETS")
	}
	if dir == "" {
		root, err := RepoRoot()
		if err != nil {
			return "", err
		}
		v, err := Versions(root)
		if err != nil {
			return "", fmt.Errorf("reading hack/versions.env: %w", err)
		}
		dir = filepath.Join(root, "bin", "k8s", fmt.Sprintf("%s-%s-%s", v["KUBERNETES_VERSION"], runtime.GOOS, runtime.GOARCH))
	}
	if _, err := os.Stat(filepath.Join(dir, "kube-apiserver")); err != nil {
		return "", fmt.Errorf("no kube-apiserver in %s: build the control-plane binaries with `make k8s-binaries` (hack/build-k8s.sh)", dir)
	}
	return dir, nil
}
