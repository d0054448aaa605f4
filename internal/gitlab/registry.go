package gitlab

import (
	"crypto/sha256"
	"errors"
	"net/url"
	"strings"
	"sync"
	"time"

	"k8s.io/utils/clock"
)

// Config holds the operator-wide settings of GitLab clients. Zero fields
// take the defaults of DefaultConfig.
type Config struct {
	// QPS is the client-side request rate allowed per GitLab host, shared
	// by all clients of that host. Negative disables the limit.
	QPS float64
	// Burst is the number of requests per host that may exceed QPS at once.
	Burst int
	// RequestTimeout bounds one HTTP attempt, reading the body included.
	RequestTimeout time.Duration
	// RetryMax is how many times a GET is retried after a 5xx or network
	// error before the error is returned. Negative disables retries.
	// Writes are never retried after they may have reached GitLab.
	RetryMax int
	// RetryWaitMin is the base of the linear, jittered back-off between
	// retries.
	RetryWaitMin time.Duration
	// RetryWaitMax is the upper bound of that back-off per attempt.
	RetryWaitMax time.Duration
	// MaxRateLimitWait is how long a request waits in-process for a host
	// paused by a 429. A longer pause returns a Transient error carrying
	// RetryAfter at once, without sending. Negative never waits.
	MaxRateLimitWait time.Duration
	// DefaultRetryAfter is the pause applied after a 429 that says neither
	// Retry-After nor RateLimit-Reset.
	DefaultRetryAfter time.Duration
	// MaxClients bounds the Registry's cache; the least recently used
	// client is evicted beyond it.
	MaxClients int
	// ClientIdleTTL evicts a cached client unused for this long, such as
	// one built for a token that has since been rotated.
	ClientIdleTTL time.Duration
	// UserAgent is sent with every request.
	UserAgent string
	// Clock drives rate-limit waits and cache expiry; the real clock if nil.
	Clock clock.Clock
}

// DefaultConfig returns the defaults used for zero Config fields.
func DefaultConfig() Config {
	return Config{
		QPS:               100,
		Burst:             200,
		RequestTimeout:    30 * time.Second,
		RetryMax:          2,
		RetryWaitMin:      200 * time.Millisecond,
		RetryWaitMax:      time.Second,
		MaxRateLimitWait:  2 * time.Second,
		DefaultRetryAfter: 5 * time.Second,
		MaxClients:        128,
		ClientIdleTTL:     time.Hour,
		UserAgent:         "rollgate",
		Clock:             clock.RealClock{},
	}
}

// withDefaults fills zero fields and resolves the negative sentinels.
func (c Config) withDefaults() Config {
	d := DefaultConfig()
	c.QPS = pick(c.QPS, d.QPS)
	c.Burst = pick(c.Burst, d.Burst)
	c.RequestTimeout = pick(c.RequestTimeout, d.RequestTimeout)
	c.RetryMax = max(pick(c.RetryMax, d.RetryMax), 0)
	c.RetryWaitMin = pick(c.RetryWaitMin, d.RetryWaitMin)
	c.RetryWaitMax = max(pick(c.RetryWaitMax, d.RetryWaitMax), c.RetryWaitMin)
	c.MaxRateLimitWait = max(pick(c.MaxRateLimitWait, d.MaxRateLimitWait), 0)
	c.DefaultRetryAfter = pick(c.DefaultRetryAfter, d.DefaultRetryAfter)
	c.MaxClients = max(pick(c.MaxClients, d.MaxClients), 1)
	c.ClientIdleTTL = pick(c.ClientIdleTTL, d.ClientIdleTTL)
	c.UserAgent = pick(c.UserAgent, d.UserAgent)
	if c.Clock == nil {
		c.Clock = d.Clock
	}
	return c
}

func pick[T comparable](v, def T) T {
	var zero T
	if v == zero {
		return def
	}
	return v
}

// Credentials are the contents of a credentials Secret.
type Credentials struct {
	// URL is the GitLab instance, e.g. https://gitlab.example.com.
	URL string
	// Token is a personal, project or group access token with api scope.
	Token string
	// CACert is an optional PEM bundle trusted in addition to the system
	// roots.
	CACert []byte
}

// ClientProvider hands out the Client for a set of credentials. *Registry
// is the production implementation; controller tests can use
// ClientProviderFunc to hand out a FakeClient.
type ClientProvider interface {
	ClientFor(creds Credentials) (Client, error)
}

// ClientProviderFunc adapts a function to ClientProvider.
type ClientProviderFunc func(creds Credentials) (Client, error)

// ClientFor implements ClientProvider.
func (f ClientProviderFunc) ClientFor(creds Credentials) (Client, error) { return f(creds) }

var _ ClientProvider = (*Registry)(nil)

// Registry hands out Clients, one per GitLab URL, token and CA bundle, and
// shares one rate limit and 429 gate among all clients of a host. A rotated
// token yields a new client; the old one expires after ClientIdleTTL or when
// the cache is full. A Registry is safe for concurrent use.
type Registry struct {
	cfg Config

	mu      sync.Mutex
	clients map[clientKey]*cacheEntry
	gates   map[string]*hostGate
}

type clientKey struct {
	baseURL string
	token   [sha256.Size]byte
	ca      [sha256.Size]byte
}

type cacheEntry struct {
	client   *adapter
	host     string
	lastUsed time.Time
}

// NewRegistry returns an empty Registry configured by cfg.
func NewRegistry(cfg Config) *Registry {
	return &Registry{
		cfg:     cfg.withDefaults(),
		clients: map[clientKey]*cacheEntry{},
		gates:   map[string]*hostGate{},
	}
}

// ClientFor returns the client for creds, building it on first use. It
// fails with a Terminal error for an unusable URL or CA bundle, and with an
// InvalidCredentials error for an empty token. It makes no request.
func (r *Registry) ClientFor(creds Credentials) (Client, error) {
	const op = "configure client"
	base, host, err := parseBaseURL(creds.URL)
	if err != nil {
		return nil, &Error{Class: Terminal, Op: op, Message: err.Error()}
	}
	if strings.TrimSpace(creds.Token) == "" {
		return nil, &Error{Class: InvalidCredentials, Op: op, Message: "credentials have an empty token"}
	}
	key := clientKey{baseURL: base, token: sha256.Sum256([]byte(creds.Token)), ca: sha256.Sum256(creds.CACert)}

	r.mu.Lock()
	defer r.mu.Unlock()
	now := r.cfg.Clock.Now()
	r.evictIdle(now)
	if e, ok := r.clients[key]; ok {
		e.lastUsed = now
		return e.client, nil
	}
	c, err := newAdapter(r.cfg, base, creds, r.gateFor(host))
	if err != nil {
		r.dropGateIfUnused(host)
		return nil, &Error{Class: Terminal, Op: op, Message: sanitize(err.Error(), newRedactor(creds.Token))}
	}
	r.clients[key] = &cacheEntry{client: c, host: host, lastUsed: now}
	r.evictOverflow(key)
	return c, nil
}

// Len returns the number of cached clients.
func (r *Registry) Len() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.clients)
}

// gateFor returns the shared gate of host, creating it if needed.
func (r *Registry) gateFor(host string) *hostGate {
	g, ok := r.gates[host]
	if !ok {
		g = newHostGate(r.cfg.Clock, r.cfg.QPS, r.cfg.Burst, r.cfg.MaxRateLimitWait)
		r.gates[host] = g
	}
	return g
}

// evictIdle drops clients unused for longer than ClientIdleTTL.
func (r *Registry) evictIdle(now time.Time) {
	for k, e := range r.clients {
		if now.Sub(e.lastUsed) > r.cfg.ClientIdleTTL {
			r.evict(k)
		}
	}
}

// evictOverflow drops least recently used clients beyond MaxClients,
// never the one just added.
func (r *Registry) evictOverflow(keep clientKey) {
	for len(r.clients) > r.cfg.MaxClients {
		var oldest *clientKey
		var oldestAt time.Time
		for k, e := range r.clients {
			if k != keep && (oldest == nil || e.lastUsed.Before(oldestAt)) {
				oldest, oldestAt = &k, e.lastUsed
			}
		}
		r.evict(*oldest)
	}
}

// evict drops one client.
func (r *Registry) evict(k clientKey) {
	e := r.clients[k]
	delete(r.clients, k)
	e.client.close()
	r.dropGateIfUnused(e.host)
}

// dropGateIfUnused forgets host's gate once no client uses it and it holds
// no pause.
func (r *Registry) dropGateIfUnused(host string) {
	for _, e := range r.clients {
		if e.host == host {
			return
		}
	}
	if g := r.gates[host]; g != nil && g.remaining() <= 0 {
		delete(r.gates, host)
	}
}

// parseBaseURL validates a credentials URL and returns the instance's base
// URL (no trailing slash, no /api/v4) and its scheme://host key. Messages
// never repeat the URL, which could embed a password.
func parseBaseURL(raw string) (base, host string, err error) {
	u, err := url.Parse(strings.TrimSpace(raw))
	switch {
	case raw == "":
		return "", "", errors.New("credentials url is empty")
	case err != nil:
		return "", "", errors.New("credentials url is not a valid URL")
	case u.Scheme != "https" && u.Scheme != "http":
		return "", "", errors.New("credentials url must start with https:// or http://")
	case u.Host == "":
		return "", "", errors.New("credentials url has no host")
	case u.User != nil:
		return "", "", errors.New("credentials url must not contain a user or password; put the token in the token key")
	case u.RawQuery != "" || u.Fragment != "":
		return "", "", errors.New("credentials url must not contain a query or fragment")
	}
	path := strings.TrimSuffix(strings.TrimSuffix(u.EscapedPath(), "/"), "/api/v4")
	host = u.Scheme + "://" + strings.ToLower(u.Host)
	return host + strings.TrimSuffix(path, "/"), host, nil
}
