package gitlab

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"net"
	"net/http"
	"time"

	"k8s.io/utils/clock"
)

// maxErrorBody bounds how much of an error response is kept.
const maxErrorBody = 64 << 10

// exchange carries what the transport saw of the last HTTP attempt of one
// API call back to the adapter, through the request context. The SDK drops
// the body of a 404 and does not expose Retry-After, so the adapter reads
// both from here.
type exchange struct {
	method     string
	status     int
	body       []byte
	retryAfter time.Duration
}

type exchangeKey struct{}

func withExchange(ctx context.Context, ex *exchange) context.Context {
	return context.WithValue(ctx, exchangeKey{}, ex)
}

func exchangeFrom(ctx context.Context) *exchange {
	ex, _ := ctx.Value(exchangeKey{}).(*exchange)
	return ex
}

// roundTripper instruments every HTTP attempt (retries included), pauses
// the host on a 429 and keeps error bodies for classification.
type roundTripper struct {
	next              http.RoundTripper
	gate              *hostGate
	clock             clock.PassiveClock
	defaultRetryAfter time.Duration
}

// RoundTrip implements http.RoundTripper.
func (rt *roundTripper) RoundTrip(req *http.Request) (*http.Response, error) {
	start := time.Now()
	resp, err := rt.next.RoundTrip(req)
	observeRequest(req, resp, time.Since(start))
	if err != nil {
		return nil, err
	}
	retryAfter := rt.retryAfter(resp)
	if ex := exchangeFrom(req.Context()); ex != nil {
		*ex = exchange{method: ex.method, status: resp.StatusCode, retryAfter: retryAfter}
		if resp.StatusCode >= http.StatusMultipleChoices {
			if ex.body, err = keepBody(resp); err != nil {
				return nil, err
			}
		}
	}
	return resp, nil
}

// retryAfter pauses the host on a 429 and returns how long GitLab asked
// callers to wait: on a 429 (a default when it gave no header), or on a 5xx
// carrying Retry-After.
func (rt *roundTripper) retryAfter(resp *http.Response) time.Duration {
	d, ok := retryAfterFrom(resp.Header, rt.clock.Now())
	switch {
	case resp.StatusCode == http.StatusTooManyRequests:
		if !ok || d <= 0 {
			d = rt.defaultRetryAfter
		}
		rt.gate.block(d)
		return d
	case resp.StatusCode >= http.StatusInternalServerError && ok:
		return d
	default:
		return 0
	}
}

// keepBody reads a bounded copy of the response body and puts it back.
func keepBody(resp *http.Response) ([]byte, error) {
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
	closeErr := resp.Body.Close()
	if err != nil {
		return nil, err
	}
	if closeErr != nil {
		return nil, closeErr
	}
	resp.Body = io.NopCloser(bytes.NewReader(body))
	return body, nil
}

// newTransport returns the base transport: bounded dial, TLS and header
// timeouts, TLS 1.2 or later, proxies from the environment, and caPEM
// trusted on top of the system roots when given.
func newTransport(caPEM []byte, timeout time.Duration) (*http.Transport, error) {
	tlsConfig := &tls.Config{MinVersion: tls.VersionTLS12}
	if len(caPEM) > 0 {
		pool, err := x509.SystemCertPool()
		if err != nil {
			pool = x509.NewCertPool()
		}
		if !pool.AppendCertsFromPEM(caPEM) {
			return nil, errors.New("ca.crt holds no PEM-encoded certificate")
		}
		tlsConfig.RootCAs = pool
	}
	dialer := &net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}
	return &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           dialer.DialContext,
		TLSClientConfig:       tlsConfig,
		TLSHandshakeTimeout:   10 * time.Second,
		ResponseHeaderTimeout: timeout,
		ExpectContinueTimeout: time.Second,
		IdleConnTimeout:       90 * time.Second,
		MaxIdleConns:          100,
		MaxIdleConnsPerHost:   10,
		ForceAttemptHTTP2:     true,
	}, nil
}

// newHTTPClient returns the HTTP client for one Client: the instrumented
// transport, a per-attempt timeout, and no redirects (an API call that is
// redirected points at the wrong URL, and a redirected POST turns into a
// GET).
func newHTTPClient(cfg Config, base *http.Transport, gate *hostGate) *http.Client {
	return &http.Client{
		Transport: &roundTripper{
			next:              base,
			gate:              gate,
			clock:             cfg.Clock,
			defaultRetryAfter: cfg.DefaultRetryAfter,
		},
		Timeout: cfg.RequestTimeout,
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}
}
