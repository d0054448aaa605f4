package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	gitlab "gitlab.com/gitlab-org/api/client-go/v2"
)

// syncBuffer is a goroutine-safe output sink.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func start(t *testing.T, args ...string) (string, *syncBuffer) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	out := &syncBuffer{}
	ready := make(chan string, 1)
	done := make(chan error, 1)
	go func() { done <- run(ctx, append([]string{"--listen", "127.0.0.1:0"}, args...), out, ready) }()
	var url string
	select {
	case url = <-ready:
	case err := <-done:
		cancel()
		t.Fatalf("run: %v", err)
	case <-time.After(10 * time.Second):
		t.Fatal("server did not start")
	}
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("run: %v", err)
		}
	})
	return url, out
}

func TestDefaultDemo(t *testing.T) {
	g := NewWithT(t)
	url, out := start(t)
	g.Expect(out.String()).To(ContainSubstring("fake GitLab listening on " + url))
	g.Expect(out.String()).To(ContainSubstring("token " + defaultToken + " user=demo"))
	c, err := gitlab.NewClient(defaultToken, gitlab.WithBaseURL(url+"/api/v4"), gitlab.WithoutRetries())
	g.Expect(err).NotTo(HaveOccurred())
	d, resp, err := c.Deployments.CreateProjectDeployment(defaultProject, &gitlab.CreateProjectDeploymentOptions{
		Environment: new("production"), Ref: new("main"), SHA: new(strings.Repeat("ab", 20)),
		Tag: new(false), Status: new(gitlab.DeploymentStatusRunning)})
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(resp.StatusCode).To(Equal(http.StatusCreated))
	g.Expect(d.IID).To(Equal(int64(1)))
}

func TestSeedFileAndBaseURL(t *testing.T) {
	g := NewWithT(t)
	url, _ := start(t, "--seed", "seed.example.yaml", "--base-url", "https://gitlab.example.com", "--fake-clock", "2024-01-01T00:00:00Z")
	c, err := gitlab.NewClient("glpat-maint", gitlab.WithBaseURL(url+"/api/v4"), gitlab.WithoutRetries())
	g.Expect(err).NotTo(HaveOccurred())
	ds, resp, err := c.Deployments.ListProjectDeployments("acme/shop", &gitlab.ListProjectDeploymentsOptions{ListOptions: gitlab.ListOptions{PerPage: 1}})
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(ds).To(HaveLen(1))
	g.Expect(ds[0].Status).To(Equal("blocked"))
	g.Expect(ds[0].CreatedAt.UTC()).To(Equal(time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)))
	g.Expect(resp.FirstLink).To(HavePrefix("https://gitlab.example.com/api/v4/projects/acme%2Fshop/deployments?"))

	envs, _, err := c.Environments.ListEnvironments("acme/shop", &gitlab.ListEnvironmentsOptions{Name: new("production")})
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(envs).To(HaveLen(1))
	g.Expect(envs[0].ExternalURL).To(Equal("https://shop.example.com"))
	agents, _, err := c.ClusterAgents.ListAgents("acme/shop", nil)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(agents).To(HaveLen(1))
	g.Expect(agents[0].Name).To(Equal("prod-agent"))
}

func TestBadFlags(t *testing.T) {
	cases := map[string][]string{
		"unknown flag": {"--nope"},
		"bad role":     {"--user", "bob=boss"},
		"bad project":  {"--user", "bob", "--project", "lonely"},
		"bad clock":    {"--fake-clock", "tomorrow"},
		"missing seed": {"--seed", "does-not-exist.yaml"},
		"stray args":   {"extra"},
	}
	for name, args := range cases {
		t.Run(name, func(t *testing.T) {
			g := NewWithT(t)
			err := run(context.Background(), args, &syncBuffer{}, nil)
			g.Expect(err).To(HaveOccurred())
			g.Expect(errors.Is(err, flag.ErrHelp)).To(BeFalse())
		})
	}
}

func TestApprovalHooksFlag(t *testing.T) {
	g := NewWithT(t)
	var out bytes.Buffer
	o, err := parseFlags([]string{"--approval-hooks"}, &out)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(o.approvalHook).To(BeTrue())
	_, err = o.build()
	g.Expect(err).NotTo(HaveOccurred())
	o, err = parseFlags(nil, &out)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(o.approvalHook).To(BeFalse(), "off by default, as in GitLab")
}
