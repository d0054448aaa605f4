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

package version

import (
	"net/http"
	"net/http/httptest"
	"runtime"
	"runtime/debug"
	"strings"
	"testing"

	. "github.com/onsi/gomega"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"k8s.io/client-go/rest"
)

func buildInfo(version, revision string) func() (*debug.BuildInfo, bool) {
	return func() (*debug.BuildInfo, bool) {
		bi := &debug.BuildInfo{Main: debug.Module{Path: "github.com/rollgate/rollgate", Version: version}}
		if revision != "" {
			bi.Settings = []debug.BuildSetting{{Key: "vcs.revision", Value: revision}}
		}
		return bi, true
	}
}

func TestResolve(t *testing.T) {
	g := NewWithT(t)
	// Stamped values win over the toolchain's.
	i := resolve("v1.2.3", "abc", buildInfo("v0.0.0-2026", "def"))
	g.Expect(i).To(Equal(Info{Version: "v1.2.3", Commit: "abc", GoVersion: runtime.Version()}))
	g.Expect(i.UserAgent()).To(Equal("rollgate/v1.2.3"))

	// Unstamped: the module version and VCS revision the toolchain recorded.
	i = resolve("", "", buildInfo("v0.0.0-20261201-0123456789ab", "0123456789abcdef"))
	g.Expect(i.Version).To(Equal("v0.0.0-20261201-0123456789ab"))
	g.Expect(i.Commit).To(Equal("0123456789abcdef"))

	// Nothing recorded: dev and unknown.
	i = resolve("", "", buildInfo("(devel)", ""))
	g.Expect(i.Version).To(Equal("dev"))
	g.Expect(i.Commit).To(Equal("unknown"))
	i = resolve("", "", func() (*debug.BuildInfo, bool) { return nil, false })
	g.Expect(i.UserAgent()).To(Equal("rollgate/dev"))
	g.Expect(i.String()).To(HavePrefix("rollgate dev (commit unknown, " + runtime.Version()))
}

func TestCollector(t *testing.T) {
	g := NewWithT(t)
	old := Version
	t.Cleanup(func() { Version = old })
	Version = "v9.8.7"
	i := Get()
	want := `
# HELP rollgate_build_info Always 1; its labels say which build of rollgate is running.
# TYPE rollgate_build_info gauge
rollgate_build_info{commit="` + i.Commit + `",goversion="` + runtime.Version() + `",version="v9.8.7"} 1
`
	g.Expect(testutil.CollectAndCompare(Collector(), strings.NewReader(want), MetricBuildInfo)).To(Succeed())
}

// Every client made from the configuration says rollgate/<version>, also one
// that rest.AddUserAgent renamed (controller-runtime's leader election), and
// a User-Agent of the caller's own is left alone.
func TestSetUserAgent(t *testing.T) {
	g := NewWithT(t)
	old := Version
	t.Cleanup(func() { Version = old })
	Version = "v9.8.7"
	got := make(chan string, 1)
	server := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got <- r.Header.Get("User-Agent")
	}))
	t.Cleanup(server.Close)
	cfg := &rest.Config{Host: server.URL}
	SetUserAgent(cfg)
	userAgent := func(cfg *rest.Config) string {
		c, err := rest.HTTPClientFor(cfg)
		g.Expect(err).NotTo(HaveOccurred())
		req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, server.URL, nil)
		g.Expect(err).NotTo(HaveOccurred())
		resp, err := c.Do(req)
		g.Expect(err).NotTo(HaveOccurred())
		g.Expect(resp.Body.Close()).To(Succeed())
		return <-got
	}
	g.Expect(userAgent(cfg)).To(Equal("rollgate/v9.8.7"))
	g.Expect(userAgent(rest.AddUserAgent(rest.CopyConfig(cfg), "leader-election"))).
		To(Equal("rollgate/v9.8.7/leader-election"))
	own := rest.CopyConfig(cfg)
	own.UserAgent = "probe/1"
	g.Expect(userAgent(own)).To(Equal("probe/1"))
}
