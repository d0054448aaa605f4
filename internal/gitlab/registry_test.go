package gitlab

import (
	"context"
	"encoding/pem"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	clocktesting "k8s.io/utils/clock/testing"
)

func TestParseBaseURL(t *testing.T) {
	tests := []struct {
		raw, base, host string
	}{
		{"https://gitlab.example.com", "https://gitlab.example.com", "https://gitlab.example.com"},
		{"https://GitLab.Example.com/", "https://gitlab.example.com", "https://gitlab.example.com"},
		{" https://gitlab.example.com/api/v4 ", "https://gitlab.example.com", "https://gitlab.example.com"},
		{"https://example.com/gitlab/", "https://example.com/gitlab", "https://example.com"},
		{"http://127.0.0.1:8080/api/v4/", "http://127.0.0.1:8080", "http://127.0.0.1:8080"},
	}
	for _, tt := range tests {
		g := NewWithT(t)
		base, host, err := parseBaseURL(tt.raw)
		g.Expect(err).NotTo(HaveOccurred(), tt.raw)
		g.Expect(base).To(Equal(tt.base), tt.raw)
		g.Expect(host).To(Equal(tt.host), tt.raw)
	}
}

func TestClientForRejectsBadCredentials(t *testing.T) {
	tests := []struct {
		name      string
		creds     Credentials
		wantClass Class
		wantMsg   string
	}{
		{"empty url", Credentials{Token: testToken}, Terminal, "credentials url is empty"},
		{"no scheme", Credentials{URL: "gitlab.example.com", Token: testToken}, Terminal, "must start with https:// or http://"},
		{"other scheme", Credentials{URL: "ftp://gitlab.example.com", Token: testToken}, Terminal, "must start with https:// or http://"},
		{"no host", Credentials{URL: "https://", Token: testToken}, Terminal, "has no host"},
		{"unparsable", Credentials{URL: "http://[::1", Token: testToken}, Terminal, "not a valid URL"},
		{"user info", Credentials{URL: "https://root:hunter2@gitlab.example.com", Token: testToken}, Terminal, "must not contain a user or password"},
		{"query", Credentials{URL: "https://gitlab.example.com/?x=1", Token: testToken}, Terminal, "must not contain a query"},
		{"fragment", Credentials{URL: "https://gitlab.example.com/#x", Token: testToken}, Terminal, "must not contain a query or fragment"},
		{"empty token", Credentials{URL: "https://gitlab.example.com", Token: " "}, InvalidCredentials, "empty token"},
		{"bad CA", Credentials{URL: "https://gitlab.example.com", Token: testToken, CACert: []byte("not a certificate")}, Terminal, "ca.crt holds no PEM-encoded certificate"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := NewWithT(t)
			reg := NewRegistry(testConfig())
			c, err := reg.ClientFor(tt.creds)
			g.Expect(c).To(BeNil())
			e := asError(g, err)
			g.Expect(e.Class).To(Equal(tt.wantClass))
			g.Expect(e.Op).To(Equal("configure client"))
			g.Expect(e.Message).To(ContainSubstring(tt.wantMsg))
			g.Expect(err.Error()).NotTo(ContainSubstring("hunter2"))
			g.Expect(err.Error()).NotTo(ContainSubstring(testToken))
			g.Expect(reg.Len()).To(BeZero())
			g.Expect(reg.gates).To(BeEmpty())
		})
	}
}

func TestRegistryCachesOneClientPerURLTokenAndCA(t *testing.T) {
	g := NewWithT(t)
	reg := NewRegistry(testConfig())
	tlsSrv := httptest.NewTLSServer(http.NotFoundHandler())
	defer tlsSrv.Close()
	ca := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: tlsSrv.Certificate().Raw})

	get := func(creds Credentials) Client {
		c, err := reg.ClientFor(creds)
		g.Expect(err).NotTo(HaveOccurred())
		return c
	}
	base := get(Credentials{URL: "https://gitlab.example.com", Token: "a"})
	g.Expect(get(Credentials{URL: "https://gitlab.example.com", Token: "a"})).To(BeIdenticalTo(base))
	g.Expect(get(Credentials{URL: "https://GITLAB.example.com/api/v4/", Token: "a"})).To(BeIdenticalTo(base))
	g.Expect(get(Credentials{URL: "https://gitlab.example.com", Token: "b"})).NotTo(BeIdenticalTo(base))
	g.Expect(get(Credentials{URL: "https://gitlab.example.com", Token: "a", CACert: ca})).NotTo(BeIdenticalTo(base))
	g.Expect(get(Credentials{URL: "https://gitlab.example.com/sub", Token: "a"})).NotTo(BeIdenticalTo(base))
	g.Expect(reg.Len()).To(Equal(4))
	g.Expect(reg.gates).To(HaveLen(1), "one gate per host")
}

func TestRotatedTokenGetsNewClient(t *testing.T) {
	g := NewWithT(t)
	srv := newGitLabServer(t, func(w http.ResponseWriter, _ *http.Request, _ int) {
		reply(w, http.StatusOK, apiDeploymentJSON)
	})
	reg := NewRegistry(testConfig())
	ctx := context.Background()

	for _, token := range []string{"token-before", "token-after"} {
		c, err := reg.ClientFor(Credentials{URL: srv.URL, Token: token})
		g.Expect(err).NotTo(HaveOccurred())
		_, err = c.GetDeployment(ctx, testProject, 42)
		g.Expect(err).NotTo(HaveOccurred())
		g.Expect(srv.last().Token).To(Equal(token))
	}
}

func TestRegistryEvictsIdleAndLeastRecentlyUsed(t *testing.T) {
	g := NewWithT(t)
	clk := clocktesting.NewFakeClock(epoch)
	cfg := testConfig()
	cfg.Clock = clk
	cfg.MaxClients = 2
	cfg.ClientIdleTTL = time.Hour
	reg := NewRegistry(cfg)
	get := func(url, token string) Client {
		c, err := reg.ClientFor(Credentials{URL: url, Token: token})
		g.Expect(err).NotTo(HaveOccurred())
		return c
	}

	a := get("https://a.example.com", "t")
	clk.Step(time.Minute)
	get("https://b.example.com", "t")
	clk.Step(time.Minute)
	g.Expect(get("https://a.example.com", "t")).To(BeIdenticalTo(a), "using a refreshes it")
	clk.Step(time.Minute)
	get("https://c.example.com", "t")
	g.Expect(cachedHosts(reg)).To(ConsistOf("https://a.example.com", "https://c.example.com"), "b was the least recently used")
	g.Expect(reg.gates).To(HaveLen(2), "the gate of a host without clients is dropped")

	clk.Step(2 * time.Hour)
	get("https://d.example.com", "t")
	g.Expect(cachedHosts(reg)).To(ConsistOf("https://d.example.com"), "idle clients expire")
	g.Expect(reg.gates).To(HaveLen(1))
}

func cachedHosts(r *Registry) []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	hosts := make([]string, 0, len(r.clients))
	for _, e := range r.clients {
		hosts = append(hosts, e.host)
	}
	return hosts
}

func TestCustomCAIsTrusted(t *testing.T) {
	g := NewWithT(t)
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		reply(w, http.StatusOK, apiDeploymentJSON)
	}))
	defer srv.Close()
	ca := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw})

	c, err := NewRegistry(testConfig()).ClientFor(Credentials{URL: srv.URL, Token: testToken, CACert: ca})
	g.Expect(err).NotTo(HaveOccurred())
	d, err := c.GetDeployment(context.Background(), testProject, 42)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(d.ID).To(Equal(int64(42)))
}

func TestConfigDefaults(t *testing.T) {
	g := NewWithT(t)
	got := Config{}.withDefaults()
	want := DefaultConfig()
	got.Clock, want.Clock = nil, nil
	g.Expect(got).To(Equal(want))

	got = Config{QPS: -1, RetryMax: -1, MaxRateLimitWait: -1, RetryWaitMin: time.Second, RetryWaitMax: time.Millisecond}.withDefaults()
	g.Expect(got.QPS).To(Equal(-1.0))
	g.Expect(got.RetryMax).To(BeZero())
	g.Expect(got.MaxRateLimitWait).To(BeZero())
	g.Expect(got.RetryWaitMax).To(Equal(time.Second))
}
