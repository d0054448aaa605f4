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

package gitlabdeployment_test

import (
	"testing"

	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/rollgate/rollgate/internal/testenv"
)

// k8sClient acts as the envtest admin, the tests' own user.
var k8sClient client.Client

// TestMain starts envtest once for the package, with rollgate's admission
// webhooks; each integration test runs a manager of its own for its
// namespace (newNamespace). Under -short only the unit tests run.
func TestMain(m *testing.M) {
	testenv.Main(m, true, func(e *testenv.Env) { k8sClient = e.Client })
}

// newNamespace creates a namespace for one test, deleted afterwards, and
// runs rollgate with the test options for it.
func newNamespace(t *testing.T) string {
	t.Helper()
	e := testenv.Get(t)
	ns := e.NewNamespace(t)
	e.StartManager(t, testenv.TestOptions(), ns)
	return ns
}
