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

package main

import (
	"strings"
	"testing"

	. "github.com/onsi/gomega"
	"k8s.io/apimachinery/pkg/types"

	"github.com/rollgate/rollgate/internal/version"
)

// --version needs no other flag and is not checked against them.
func TestVersionFlag(t *testing.T) {
	g := NewWithT(t)
	f, _, err := parseFlags([]string{"--version", "--gitlab-qps=-1"})
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(f.version).To(BeTrue())

	f, _, err = parseFlags(nil)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(f.version).To(BeFalse())
	g.Expect(f.rollgate.GitLab.UserAgent).To(Equal("rollgate/" + version.Get().Version))
}

// --cluster-name is empty or a DNS label; anything else stops the manager
// with a message naming the flag.
func TestClusterNameFlag(t *testing.T) {
	g := NewWithT(t)
	f, _, err := parseFlags([]string{"--cluster-name=eu-1", "--webhook-cert-rotation=false"})
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(f.rollgate.ClusterName).To(Equal("eu-1"))

	for _, bad := range []string{"EU-1", "eu_1", "-eu", "eu.1", strings.Repeat("a", 64), "production/eu"} {
		_, _, err := parseFlags([]string{"--cluster-name=" + bad})
		g.Expect(err).To(MatchError(ContainSubstring("--cluster-name")), bad)
		g.Expect(err).To(MatchError(ContainSubstring("DNS label")), bad)
	}
}

// The bypass signing key is kept in a Secret of the pod's namespace unless
// --bypass-key-secret names another; outside a pod, in memory.
func TestBypassKeySecretFlag(t *testing.T) {
	g := NewWithT(t)
	t.Setenv("POD_NAMESPACE", "rollgate-system")
	f, _, err := parseFlags([]string{"--webhook-cert-rotation=false"})
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(f.rollgate.Gate.BypassKey).To(Equal(types.NamespacedName{Namespace: "rollgate-system", Name: "rollgate-bypass-key"}))

	f, _, err = parseFlags([]string{"--webhook-cert-rotation=false", "--bypass-key-secret=ops/signing"})
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(f.rollgate.Gate.BypassKey).To(Equal(types.NamespacedName{Namespace: "ops", Name: "signing"}))

	_, _, err = parseFlags([]string{"--webhook-cert-rotation=false", "--bypass-key-secret=signing"})
	g.Expect(err).To(MatchError(ContainSubstring("--bypass-key-secret must be namespace/name")))

	t.Setenv("POD_NAMESPACE", "")
	f, _, err = parseFlags([]string{"--webhook-cert-rotation=false"})
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(f.rollgate.Gate.BypassKey.Name).To(BeEmpty())
}
