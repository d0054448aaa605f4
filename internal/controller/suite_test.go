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

package controller

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"go.uber.org/zap/zapcore"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	logf "sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"

	gitlabv1alpha1 "github.com/rollgate/rollgate/api/v1alpha1"
	"github.com/rollgate/rollgate/internal/localcluster"
)

// The envtest control plane (a real kube-apiserver and etcd) shared by this
// package's integration tests; each test works in a namespace of its own.
var (
	testScheme = runtime.NewScheme()
	cfg        *rest.Config
	k8sClient  client.Client
)

func TestMain(m *testing.M) {
	flag.Parse()
	if fuzzing() {
		// Fuzz targets are pure functions: no control plane, and none left
		// behind by the fuzzing engine's worker processes.
		os.Exit(m.Run())
	}
	os.Exit(runSuite(m))
}

// fuzzing reports whether go test runs a fuzz target (-fuzz) or is one of
// its workers.
func fuzzing() bool {
	if f := flag.Lookup("test.fuzz"); f != nil && f.Value.String() != "" {
		return true
	}
	f := flag.Lookup("test.fuzzworker")
	return f != nil && f.Value.String() == "true"
}

func runSuite(m *testing.M) int {
	logf.SetLogger(zap.New(zap.WriteTo(os.Stderr), zap.Level(zapcore.WarnLevel)))
	utilruntime.Must(clientgoscheme.AddToScheme(testScheme))
	utilruntime.Must(gitlabv1alpha1.AddToScheme(testScheme))

	bin, err := localcluster.EnvtestAssets()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	env := &envtest.Environment{
		CRDDirectoryPaths:     []string{filepath.Join("..", "..", "config", "crd", "bases")},
		ErrorIfCRDPathMissing: true,
		BinaryAssetsDirectory: bin,
		WebhookInstallOptions: envtest.WebhookInstallOptions{
			Paths: []string{filepath.Join("..", "..", "config", "webhook", "manifests.yaml")},
		},
	}
	cfg, err = env.Start()
	if err != nil {
		fmt.Fprintf(os.Stderr, "starting envtest: %v\n", err)
		return 1
	}
	defer func() {
		if err := env.Stop(); err != nil {
			fmt.Fprintf(os.Stderr, "stopping envtest: %v\n", err)
		}
	}()
	// Tests act as the envtest admin; rollgate's managers act as their own
	// user, which its admission webhooks recognise.
	k8sClient, err = client.New(cfg, client.Options{Scheme: testScheme})
	if err != nil {
		fmt.Fprintf(os.Stderr, "creating client: %v\n", err)
		return 1
	}
	if cfg, err = rollgateConfig(env); err != nil {
		fmt.Fprintf(os.Stderr, "adding rollgate's user: %v\n", err)
		return 1
	}
	stopWebhooks, err := startWebhookServer(env)
	if err != nil {
		fmt.Fprintf(os.Stderr, "starting the webhook server: %v\n", err)
		return 1
	}
	defer stopWebhooks()
	stop, err := startManager()
	if err != nil {
		fmt.Fprintf(os.Stderr, "starting the manager: %v\n", err)
		return 1
	}
	defer stop()
	return m.Run()
}

// reportStop reports a manager that stopped with an error.
func reportStop(err error) {
	if err != nil {
		fmt.Fprintf(os.Stderr, "stopping a manager: %v\n", err)
	}
}

// newNamespace creates a namespace for one test and deletes it afterwards.
func newNamespace(t *testing.T) string {
	t.Helper()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{GenerateName: "test-"}}
	if err := k8sClient.Create(context.Background(), ns); err != nil {
		t.Fatalf("creating namespace: %v", err)
	}
	t.Cleanup(func() { _ = k8sClient.Delete(context.Background(), ns) })
	return ns.Name
}
