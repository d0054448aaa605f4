package gitlab

import (
	"context"
	"crypto/tls"
	"errors"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"syscall"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	clocktesting "k8s.io/utils/clock/testing"
)

var epoch = time.Unix(1_780_000_000, 0)

func TestRetryAfterFrom(t *testing.T) {
	tests := []struct {
		name    string
		headers map[string]string
		want    time.Duration
		ok      bool
	}{
		{"seconds", map[string]string{"Retry-After": "30"}, 30 * time.Second, true},
		{"http date", map[string]string{"Retry-After": epoch.Add(90 * time.Second).UTC().Format(http.TimeFormat)}, 90 * time.Second, true},
		{"ratelimit reset", map[string]string{"RateLimit-Reset": strconv.FormatInt(epoch.Unix()+42, 10)}, 42 * time.Second, true},
		{"retry-after wins", map[string]string{"Retry-After": "3", "RateLimit-Reset": strconv.FormatInt(epoch.Unix()+42, 10)}, 3 * time.Second, true},
		{"reset in the past", map[string]string{"RateLimit-Reset": strconv.FormatInt(epoch.Unix()-10, 10)}, 0, true},
		{"capped", map[string]string{"Retry-After": "86400"}, maxRetryAfter, true},
		{"huge", map[string]string{"Retry-After": "9223372036854775807"}, maxRetryAfter, true},
		{"garbage", map[string]string{"Retry-After": "soon", "RateLimit-Reset": "later"}, 0, false},
		{"none", map[string]string{}, 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := NewWithT(t)
			h := http.Header{}
			for k, v := range tt.headers {
				h.Set(k, v)
			}
			got, ok := retryAfterFrom(h, epoch)
			g.Expect(ok).To(Equal(tt.ok))
			g.Expect(got).To(Equal(tt.want))
		})
	}
}

// throttlingServer answers the first request with GitLab's Rack::Attack 429
// and every later one with a deployment.
func throttlingServer(t *testing.T, headers ...string) *gitlabServer {
	return newGitLabServer(t, func(w http.ResponseWriter, _ *http.Request, n int) {
		if n == 1 {
			reply(w, http.StatusTooManyRequests, "Retry later\n", append([]string{"Content-Type", "text/plain"}, headers...)...)
			return
		}
		reply(w, http.StatusOK, apiDeploymentJSON)
	})
}

// twoClients returns two clients of one registry for the same host with
// different tokens.
func twoClients(t *testing.T, cfg Config, baseURL string) (Client, Client) {
	t.Helper()
	g := NewWithT(t)
	reg := NewRegistry(cfg)
	a, err := reg.ClientFor(Credentials{URL: baseURL, Token: "token-a"})
	g.Expect(err).NotTo(HaveOccurred())
	b, err := reg.ClientFor(Credentials{URL: baseURL, Token: "token-b"})
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(a).NotTo(BeIdenticalTo(b))
	return a, b
}

func Test429PausesEveryClientOfTheHost(t *testing.T) {
	g := NewWithT(t)
	clk := clocktesting.NewFakeClock(epoch)
	srv := throttlingServer(t, "Retry-After", "30")
	cfg := testConfig()
	cfg.Clock = clk
	cfg.MaxRateLimitWait = -1
	a, b := twoClients(t, cfg, srv.URL)
	ctx := context.Background()

	_, err := a.GetDeployment(ctx, testProject, 42)
	g.Expect(RetryAfter(err)).To(Equal(30 * time.Second))
	g.Expect(StatusCode(err)).To(Equal(http.StatusTooManyRequests))
	g.Expect(srv.count()).To(Equal(1), "a 429 is not retried")

	_, err = b.CreateDeployment(ctx, testProject, CreateOptions{Environment: "production", Ref: "main", SHA: testSHA, Status: StatusRunning})
	g.Expect(ClassOf(err)).To(Equal(Transient))
	g.Expect(RetryAfter(err)).To(Equal(30 * time.Second))
	g.Expect(StatusCode(err)).To(BeZero())
	g.Expect(srv.count()).To(Equal(1), "the other client sends nothing while the host is paused")

	clk.Step(20 * time.Second)
	_, err = b.GetDeployment(ctx, testProject, 42)
	g.Expect(RetryAfter(err)).To(Equal(10 * time.Second))
	g.Expect(srv.count()).To(Equal(1))

	clk.Step(10 * time.Second)
	_, err = b.GetDeployment(ctx, testProject, 42)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(srv.count()).To(Equal(2))
}

func TestShort429PauseIsWaitedOut(t *testing.T) {
	g := NewWithT(t)
	clk := clocktesting.NewFakeClock(epoch)
	srv := throttlingServer(t, "RateLimit-Reset", strconv.FormatInt(epoch.Unix()+5, 10))
	cfg := testConfig()
	cfg.Clock = clk
	cfg.MaxRateLimitWait = time.Minute
	a, b := twoClients(t, cfg, srv.URL)

	_, err := a.GetDeployment(context.Background(), testProject, 42)
	g.Expect(RetryAfter(err)).To(Equal(5 * time.Second))

	done := make(chan error, 1)
	go func() {
		_, err := b.GetDeployment(context.Background(), testProject, 42)
		done <- err
	}()
	g.Eventually(clk.HasWaiters).Should(BeTrue())
	g.Consistently(srv.count, 100*time.Millisecond).Should(Equal(1), "nothing is sent before the pause ends")
	clk.Step(5 * time.Second)
	g.Eventually(done).Should(Receive(BeNil()))
	g.Expect(srv.count()).To(Equal(2))
}

func TestPauseRespectsCallerDeadline(t *testing.T) {
	g := NewWithT(t)
	clk := clocktesting.NewFakeClock(epoch)
	srv := throttlingServer(t, "Retry-After", "20")
	cfg := testConfig()
	cfg.Clock = clk
	cfg.MaxRateLimitWait = time.Minute
	a, b := twoClients(t, cfg, srv.URL)
	_, _ = a.GetDeployment(context.Background(), testProject, 42)

	ctx, cancel := context.WithDeadline(context.Background(), time.Now().Add(time.Second))
	defer cancel()
	_, err := b.GetDeployment(ctx, testProject, 42)
	g.Expect(ClassOf(err)).To(Equal(Transient))
	g.Expect(RetryAfter(err)).To(Equal(20 * time.Second))
	g.Expect(srv.count()).To(Equal(1))
}

func TestPost429IsNotRetried(t *testing.T) {
	g := NewWithT(t)
	srv := throttlingServer(t, "Retry-After", "1")
	_, err := newClient(t, testConfig(), srv.URL).CreateDeployment(context.Background(), testProject,
		CreateOptions{Environment: "production", Ref: "main", SHA: testSHA, Status: StatusRunning})
	g.Expect(StatusCode(err)).To(Equal(http.StatusTooManyRequests))
	g.Expect(RetryAfter(err)).To(Equal(time.Second))
	g.Expect(srv.count()).To(Equal(1))
}

func TestClientSideRateLimitIsSharedPerHost(t *testing.T) {
	g := NewWithT(t)
	clk := clocktesting.NewFakeClock(epoch)
	srv := newGitLabServer(t, func(w http.ResponseWriter, _ *http.Request, _ int) {
		reply(w, http.StatusOK, apiDeploymentJSON)
	})
	cfg := testConfig()
	cfg.Clock = clk
	cfg.QPS, cfg.Burst = 1, 1
	a, b := twoClients(t, cfg, srv.URL)
	ctx := context.Background()

	_, err := a.GetDeployment(ctx, testProject, 42)
	g.Expect(err).NotTo(HaveOccurred())

	done := make(chan error, 1)
	go func() {
		_, err := b.GetDeployment(ctx, testProject, 42)
		done <- err
	}()
	g.Eventually(clk.HasWaiters).Should(BeTrue())
	g.Consistently(srv.count, 100*time.Millisecond).Should(Equal(1), "the second client waits for a token")
	clk.Step(time.Second)
	g.Eventually(done).Should(Receive(BeNil()))
	g.Expect(srv.count()).To(Equal(2))

	short, cancel := context.WithDeadline(ctx, time.Now().Add(100*time.Millisecond))
	defer cancel()
	_, err = a.GetDeployment(short, testProject, 42)
	g.Expect(ClassOf(err)).To(Equal(Transient))
	g.Expect(RetryAfter(err)).To(Equal(time.Second), "a wait beyond the caller's deadline returns at once")
	g.Expect(srv.count()).To(Equal(2))
}

func TestCheckRetry(t *testing.T) {
	dialErr := &net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED}
	readErr := &net.OpError{Op: "read", Net: "tcp", Err: syscall.ECONNRESET}
	tests := []struct {
		name   string
		method string
		code   int // 0: no response
		err    error
		paused bool
		want   bool
	}{
		{"GET 502", http.MethodGet, 502, nil, false, true},
		{"GET 500", http.MethodGet, 500, nil, false, true},
		{"GET 408", http.MethodGet, 408, nil, false, true},
		{"GET 501", http.MethodGet, 501, nil, false, false},
		{"GET 429", http.MethodGet, 429, nil, false, false},
		{"GET 404", http.MethodGet, 404, nil, false, false},
		{"GET read error", http.MethodGet, 0, &url.Error{Op: "Get", Err: readErr}, false, true},
		{"GET 502 while paused", http.MethodGet, 502, nil, true, false},
		{"POST 502", http.MethodPost, 502, nil, false, false},
		{"POST 503", http.MethodPost, 503, nil, false, false},
		{"POST dial error", http.MethodPost, 0, &url.Error{Op: "Post", Err: dialErr}, false, true},
		{"POST read error", http.MethodPost, 0, &url.Error{Op: "Post", Err: readErr}, false, false},
		{"POST DNS failure", http.MethodPost, 0, &net.DNSError{Err: "server misbehaving", IsTemporary: true}, false, true},
		{"POST unknown host", http.MethodPost, 0, &net.DNSError{Err: "no such host", IsNotFound: true}, false, false},
		{"PUT 502", http.MethodPut, 502, nil, false, false},
		{"PUT dial error", http.MethodPut, 0, dialErr, false, true},
		{"GET untrusted certificate", http.MethodGet, 0, &url.Error{Op: "Get", Err: &tls.CertificateVerificationError{Err: errors.New("x509: unknown authority")}}, false, false},
		{"unknown method 502", "", 502, nil, false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := NewWithT(t)
			clk := clocktesting.NewFakeClock(epoch)
			a := &adapter{gate: newHostGate(clk, -1, 0, 0)}
			if tt.paused {
				a.gate.block(time.Minute)
			}
			var resp *http.Response
			if tt.code != 0 {
				resp = &http.Response{StatusCode: tt.code, Body: http.NoBody}
			}
			ctx := withExchange(context.Background(), &exchange{method: tt.method})
			got, err := a.checkRetry(ctx, resp, tt.err)
			g.Expect(err).NotTo(HaveOccurred())
			g.Expect(got).To(Equal(tt.want))
		})
	}

	g := NewWithT(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	a := &adapter{gate: newHostGate(clocktesting.NewFakeClock(epoch), -1, 0, 0)}
	got, err := a.checkRetry(ctx, &http.Response{StatusCode: http.StatusBadGateway, Body: http.NoBody}, nil)
	g.Expect(got).To(BeFalse())
	g.Expect(err).To(MatchError(context.Canceled))
}
