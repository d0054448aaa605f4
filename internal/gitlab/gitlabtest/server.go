package gitlabtest

import (
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"time"
)

// apiPrefix is where GitLab serves its REST API.
const apiPrefix = "/api/v4"

// controlPrefix is where the fake serves its own control API. GitLab itself
// never serves anything under it.
const controlPrefix = "/-/fake"

// Fake is an in-memory GitLab serving the REST Deployments API. It is an
// http.Handler; all of its methods are safe for concurrent use.
type Fake struct {
	mu    sync.Mutex
	clock Clock
	cfg   config
	seq   map[string]int64

	usersByID    map[int64]*user
	usersByName  map[string]*user
	tokens       map[string]*token
	groupsByID   map[int64]*group
	groupsByPath map[string]*group
	projectsByID map[int64]*project
	projectsPath map[string]*project
	deployByID   map[int64]*deployment
	jobsByID     map[int64]*job
	protected    []*protectedEnv // group-level protected environments

	faults  *faultSet
	limiter *rateLimiter
	log     *requestLog
	hooks   *hookSender
	ctlOnce sync.Once
	ctl     *http.ServeMux
}

type config struct {
	baseURL        string
	acceptAnySHA   bool
	acceptAnyRef   bool
	community      bool
	hookClient     *http.Client
	controlToken   string
	disableControl bool
	approvalHooks  bool
	// jobApprovalsOnly: approvals are computed only for deployments of CI
	// jobs (older GitLab), never for deployments created through the API.
	jobApprovalsOnly bool
}

// Option configures a Fake.
type Option func(*Fake)

// WithClock makes the fake read time from c (for example a *FakeClock).
func WithClock(c Clock) Option { return func(f *Fake) { f.clock = c } }

// WithBaseURL sets the external URL of the fake (scheme, host, optional
// port), used for Link headers, web_url fields and webhook payloads. By
// default a Server uses its own URL and a bare handler uses the request's Host.
func WithBaseURL(u string) Option {
	return func(f *Fake) { f.cfg.baseURL = strings.TrimRight(u, "/") }
}

// WithAcceptAnySHA makes every project created afterwards accept any
// well-formed 40-hex SHA as an existing commit.
func WithAcceptAnySHA() Option { return func(f *Fake) { f.cfg.acceptAnySHA = true } }

// WithAcceptAnyRef makes every project created afterwards accept any ref
// name as an existing branch.
func WithAcceptAnyRef() Option { return func(f *Fake) { f.cfg.acceptAnyRef = true } }

// WithCommunityEdition makes the fake behave as GitLab CE: no protected
// environments, no approval route and no approval keys in
// DeploymentExtended.
func WithCommunityEdition() Option { return func(f *Fake) { f.cfg.community = true } }

// WithApprovalHooks makes the fake send the deployment approval lifecycle
// events of newer GitLab versions (gitlab-org/gitlab!239337) as Deployment
// Hooks: status "approved" or "rejected" when an approver records an
// approval or a rejection, with top-level approver and approval fields,
// and status "blocked" when a deployment blocks (awaits approval or a
// manual action). Off by default: GitLab without that change sends no
// hook for an approval.
func WithApprovalHooks() Option { return func(f *Fake) { f.cfg.approvalHooks = true } }

// WithJobApprovalsOnly makes the fake answer as GitLab versions that
// compute deployment approvals only for CI jobs' deployments: a deployment
// created through the API on a protected environment reports no pending
// approvals and no approval rules, and cannot be approved.
func WithJobApprovalsOnly() Option { return func(f *Fake) { f.cfg.jobApprovalsOnly = true } }

// WithHookClient sets the HTTP client used to deliver webhooks.
func WithHookClient(c *http.Client) Option { return func(f *Fake) { f.cfg.hookClient = c } }

// WithControlToken requires the control API to be called with the header
// "X-Fake-Token: <token>".
func WithControlToken(t string) Option { return func(f *Fake) { f.cfg.controlToken = t } }

// WithoutControlAPI disables the HTTP control API under /-/fake.
func WithoutControlAPI() Option { return func(f *Fake) { f.cfg.disableControl = true } }

// NewHandler returns a Fake that is not listening anywhere; serve it with
// any http.Server.
func NewHandler(opts ...Option) *Fake {
	f := &Fake{
		clock:        RealClock(),
		seq:          map[string]int64{},
		usersByID:    map[int64]*user{},
		usersByName:  map[string]*user{},
		tokens:       map[string]*token{},
		groupsByID:   map[int64]*group{},
		groupsByPath: map[string]*group{},
		projectsByID: map[int64]*project{},
		projectsPath: map[string]*project{},
		deployByID:   map[int64]*deployment{},
		jobsByID:     map[int64]*job{},
	}
	for _, o := range opts {
		o(f)
	}
	f.faults = newFaultSet()
	f.limiter = &rateLimiter{}
	f.log = &requestLog{}
	client := f.cfg.hookClient
	if client == nil {
		client = &http.Client{Timeout: 10 * time.Second}
	}
	f.hooks = newHookSender(client)
	return f
}

// Clock returns the clock the fake reads.
func (f *Fake) Clock() Clock { return f.clock }

// now returns the current time truncated to GitLab's millisecond precision.
func (f *Fake) now() time.Time { return f.clock.Now().UTC().Truncate(time.Millisecond) }

// next returns the next ID of a kind of record; IDs are global, like
// GitLab's primary keys.
func (f *Fake) next(kind string) int64 {
	f.seq[kind]++
	return f.seq[kind]
}

// base returns the configured external URL, or one derived from r.
func (f *Fake) base(r *http.Request) string {
	if f.cfg.baseURL != "" {
		return f.cfg.baseURL
	}
	if r == nil {
		return "http://localhost"
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host
}

// Close waits for pending webhook deliveries.
func (f *Fake) Close() { f.hooks.wait() }

// ServeHTTP serves the REST API under /api/v4 and the control API under
// /-/fake.
func (f *Fake) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	path := r.URL.EscapedPath()
	switch {
	case strings.HasPrefix(path, controlPrefix+"/") && !f.cfg.disableControl:
		f.serveControl(w, r)
	case path == apiPrefix || strings.HasPrefix(path, apiPrefix+"/"):
		f.serveLoggedAPI(w, r, strings.TrimPrefix(path, apiPrefix))
	default:
		writeJSON(w, http.StatusNotFound, map[string]string{keyError: "404 Not Found"})
	}
}

// Server is a Fake listening on a loopback port, like httptest.Server.
type Server struct {
	*Fake
	// URL is the base URL of the server, e.g. http://127.0.0.1:34567;
	// the REST API is under URL + "/api/v4".
	URL string
	ts  *httptest.Server
}

// NewServer starts a Fake on a free loopback port.
func NewServer(opts ...Option) *Server {
	f := NewHandler(opts...)
	ts := httptest.NewUnstartedServer(f)
	ts.Config.ReadHeaderTimeout = 10 * time.Second
	ts.Start()
	if f.cfg.baseURL == "" {
		f.cfg.baseURL = ts.URL
	}
	return &Server{Fake: f, URL: ts.URL, ts: ts}
}

// APIURL returns the REST API base, URL + "/api/v4".
func (s *Server) APIURL() string { return s.URL + apiPrefix }

// Addr returns the listener's address.
func (s *Server) Addr() net.Addr { return s.ts.Listener.Addr() }

// Close shuts the server down, closing open connections, and waits for
// pending webhook deliveries.
func (s *Server) Close() {
	s.ts.CloseClientConnections()
	s.ts.Close()
	s.Fake.Close()
}
