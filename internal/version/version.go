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

// Package version says which build of rollgate is running: its version,
// commit and Go version, as the --version flag, the rollgate_build_info
// metric and the User-Agent sent to GitLab and to the Kubernetes API server
// tell them.
//
// Version and Commit are stamped by the Makefile and the Dockerfile:
//
//	go build -ldflags "-X github.com/rollgate/rollgate/internal/version.Version=v0.1.0 \
//	  -X github.com/rollgate/rollgate/internal/version.Commit=$(git rev-parse HEAD)"
//
// An unstamped build falls back on what the Go toolchain recorded (the
// module version and VCS revision), else "dev" and "unknown".
package version

import (
	"fmt"
	"net/http"
	"runtime"
	"runtime/debug"
	"strings"

	"github.com/prometheus/client_golang/prometheus"
	utilnet "k8s.io/apimachinery/pkg/util/net"
	"k8s.io/client-go/rest"
)

// Set with -ldflags -X at build time.
var (
	// Version is the release, e.g. v0.1.0.
	Version string
	// Commit is the full git commit the binary was built from.
	Commit string
)

// Info is one build's identity.
type Info struct {
	Version, Commit, GoVersion string
}

// Get returns the running build's identity.
func Get() Info {
	return resolve(Version, Commit, debug.ReadBuildInfo)
}

// resolve fills what -ldflags left empty from the build information the Go
// toolchain recorded.
func resolve(v, c string, read func() (*debug.BuildInfo, bool)) Info {
	info := Info{Version: v, Commit: c, GoVersion: runtime.Version()}
	if bi, ok := read(); ok {
		if info.Version == "" && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
			info.Version = bi.Main.Version
		}
		if info.Commit == "" {
			for _, s := range bi.Settings {
				if s.Key == "vcs.revision" {
					info.Commit = s.Value
				}
			}
		}
	}
	if info.Version == "" {
		info.Version = "dev"
	}
	if info.Commit == "" {
		info.Commit = "unknown"
	}
	return info
}

// String is what rollgate --version prints.
func (i Info) String() string {
	return fmt.Sprintf("rollgate %s (commit %s, %s, %s/%s)", i.Version, i.Commit, i.GoVersion, runtime.GOOS, runtime.GOARCH)
}

// UserAgent is the User-Agent rollgate sends: rollgate/<version>.
func (i Info) UserAgent() string {
	return "rollgate/" + i.Version
}

// UserAgent is the running build's User-Agent, rollgate/<version>.
func UserAgent() string {
	return Get().UserAgent()
}

// SetUserAgent makes the clients made from cfg send rollgate/<version> to
// the Kubernetes API server. It sets cfg.UserAgent, and since
// rest.AddUserAgent (which controller-runtime's leader election calls on
// its copy of cfg) replaces that with client-go's default User-Agent
// followed by "/<client>", it also wraps cfg's transport so that such a
// request says rollgate/<version>/<client> instead.
func SetUserAgent(cfg *rest.Config) {
	ua := UserAgent()
	cfg.UserAgent = ua
	cfg.Wrap(func(rt http.RoundTripper) http.RoundTripper {
		return &userAgentTransport{next: rt, from: rest.DefaultKubernetesUserAgent(), to: ua}
	})
}

// userAgentTransport rewrites a User-Agent that begins with from to begin
// with to.
type userAgentTransport struct {
	next     http.RoundTripper
	from, to string
}

func (t *userAgentTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	suffix, ok := strings.CutPrefix(req.Header.Get("User-Agent"), t.from)
	if !ok {
		return t.next.RoundTrip(req)
	}
	// A RoundTripper must not change the request it is given.
	req = utilnet.CloneRequest(req)
	req.Header.Set("User-Agent", t.to+suffix)
	return t.next.RoundTrip(req)
}

// WrappedRoundTripper lets client-go see the transport underneath.
func (t *userAgentTransport) WrappedRoundTripper() http.RoundTripper { return t.next }

// MetricBuildInfo is the name of the build information gauge.
const MetricBuildInfo = "rollgate_build_info"

// Collector returns the gauge rollgate_build_info{version,commit,goversion},
// always 1, for the running build.
func Collector() prometheus.Collector {
	i := Get()
	g := prometheus.NewGauge(prometheus.GaugeOpts{
		Name: MetricBuildInfo,
		Help: "Always 1; its labels say which build of rollgate is running.",
		ConstLabels: prometheus.Labels{
			"version": i.Version, "commit": i.Commit, "goversion": i.GoVersion,
		},
	})
	g.Set(1)
	return g
}
