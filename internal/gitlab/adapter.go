package gitlab

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"sync"

	retryablehttp "github.com/hashicorp/go-retryablehttp"
	gl "gitlab.com/gitlab-org/api/client-go/v2"
)

// defaultPerPage is GitLab's maximum page size.
const defaultPerPage = 100

// adapter implements Client over gitlab.com/gitlab-org/api/client-go/v2.
type adapter struct {
	api       *gl.Client
	gate      *hostGate
	transport *http.Transport
	redact    func(string) string

	// user is the token's username once CurrentUser read it.
	userMu sync.Mutex
	user   string
}

var _ Client = (*adapter)(nil)

// newAdapter builds a client for one GitLab instance and token. POSTs are
// never replayed, GETs are retried a few times on 5xx and network errors,
// and every request first passes the host's gate.
func newAdapter(cfg Config, baseURL string, creds Credentials, gate *hostGate) (*adapter, error) {
	transport, err := newTransport(creds.CACert, cfg.RequestTimeout)
	if err != nil {
		return nil, err
	}
	a := &adapter{gate: gate, transport: transport, redact: newRedactor(creds.Token)}
	a.api, err = gl.NewClient(creds.Token,
		gl.WithBaseURL(baseURL+"/api/v4"),
		gl.WithHTTPClient(newHTTPClient(cfg, transport, gate)),
		gl.WithOnlyIdempotentRetries(),
		gl.WithCustomRetry(a.checkRetry),
		gl.WithCustomRetryMax(cfg.RetryMax),
		gl.WithCustomRetryWaitMinMax(cfg.RetryWaitMin, cfg.RetryWaitMax),
		gl.WithCustomBackoff(retryablehttp.LinearJitterBackoff),
		gl.WithCustomLimiter(gate),
		gl.WithUserAgent(cfg.UserAgent),
		gl.WithURLWarningLogger(slog.New(slog.DiscardHandler)),
	)
	if err != nil {
		return nil, err
	}
	return a, nil
}

// close releases idle connections of an evicted client.
func (a *adapter) close() { a.transport.CloseIdleConnections() }

// CreateDeployment implements Client.
func (a *adapter) CreateDeployment(ctx context.Context, project string, opts CreateOptions) (*Deployment, error) {
	const op = "create deployment"
	if err := checkProject(op, project); err != nil {
		return nil, err
	}
	if err := checkWritableStatus(op, opts.Status); err != nil {
		return nil, err
	}
	status := gl.DeploymentStatusValue(opts.Status)
	body := &gl.CreateProjectDeploymentOptions{
		Environment: &opts.Environment,
		Ref:         &opts.Ref,
		SHA:         &opts.SHA,
		Tag:         &opts.Tag,
		Status:      &status,
	}
	var out deploymentEntity
	if _, err := a.do(ctx, op, http.MethodPost, deploymentsPath(project), body, &out); err != nil {
		return nil, err
	}
	d := out.toDeployment()
	return &d, nil
}

// UpdateDeploymentStatus implements Client.
func (a *adapter) UpdateDeploymentStatus(ctx context.Context, project string, id int64, status string) (*Deployment, error) {
	const op = "update deployment status"
	if err := checkProject(op, project); err != nil {
		return nil, err
	}
	if err := checkWritableStatus(op, status); err != nil {
		return nil, err
	}
	value := gl.DeploymentStatusValue(status)
	body := &gl.UpdateProjectDeploymentOptions{Status: &value}
	var out deploymentEntity
	if _, err := a.do(ctx, op, http.MethodPut, deploymentPath(project, id), body, &out); err != nil {
		return nil, err
	}
	d := out.toDeployment()
	return &d, nil
}

// GetDeployment implements Client. It decodes GitLab's DeploymentExtended
// entity itself: the SDK's Deployment type has no approval fields.
func (a *adapter) GetDeployment(ctx context.Context, project string, id int64) (*Deployment, error) {
	const op = "get deployment"
	if err := checkProject(op, project); err != nil {
		return nil, err
	}
	var out deploymentEntity
	if _, err := a.do(ctx, op, http.MethodGet, deploymentPath(project, id), nil, &out); err != nil {
		return nil, err
	}
	d := out.toDeployment()
	return &d, nil
}

// ListDeployments implements Client. It stops at the last page (an empty
// X-Next-Page), at opts.MaxItems, or on a page that does not advance.
func (a *adapter) ListDeployments(ctx context.Context, project string, opts ListOptions) ([]Deployment, error) {
	const op = "list deployments"
	if err := checkProject(op, project); err != nil {
		return nil, err
	}
	query := listQuery(opts)
	var all []Deployment
	for page := int64(1); ; {
		query.Page = page
		var batch []deploymentEntity
		resp, err := a.do(ctx, op, http.MethodGet, deploymentsPath(project), query, &batch)
		if err != nil {
			return nil, err
		}
		for i := range batch {
			all = append(all, batch[i].toDeployment())
			if opts.MaxItems > 0 && len(all) >= opts.MaxItems {
				return all, nil
			}
		}
		if resp.NextPage <= page || len(batch) == 0 {
			return all, nil
		}
		page = resp.NextPage
	}
}

// do sends one API request through the SDK and decodes the response into
// out. Every failure comes back as an *Error.
func (a *adapter) do(ctx context.Context, op, method, path string, opt, out any) (*gl.Response, error) {
	ex := &exchange{method: method}
	ctx = withExchange(ctx, ex)
	req, err := a.api.NewRequest(method, path, opt, []gl.RequestOptionFunc{gl.WithContext(ctx)})
	if err != nil {
		return nil, &Error{Class: Terminal, Op: op, Message: sanitize(err.Error(), a.redact)}
	}
	resp, err := a.api.Do(req, out)
	if err != nil {
		return nil, a.classify(op, ex, err)
	}
	return resp, nil
}

// classify turns whatever the SDK returned into an *Error, once.
func (a *adapter) classify(op string, ex *exchange, err error) *Error {
	var limited *rateLimitedError
	var apiErr *gl.ErrorResponse
	var syntaxErr *json.SyntaxError
	var typeErr *json.UnmarshalTypeError
	var certErr *tls.CertificateVerificationError
	switch {
	case errors.As(err, &limited):
		return &Error{Class: Transient, Op: op, Message: limited.Error(), RetryAfter: limited.retryAfter}
	case errors.As(err, &apiErr):
		body := apiErr.Body
		if ex.status == apiErr.StatusCode {
			body = ex.body
		}
		return newStatusError(op, apiErr.StatusCode, body, ex.retryAfter, a.redact)
	case errors.As(err, &syntaxErr), errors.As(err, &typeErr):
		return &Error{Class: Terminal, Op: op, StatusCode: ex.status,
			Message: "GitLab answered with an unexpected body; check that the credentials url points at a GitLab instance"}
	case errors.As(err, &certErr):
		return &Error{Class: Terminal, Op: op, cause: certErr,
			Message: "GitLab's TLS certificate is not trusted; add its CA to ca.crt in the credentials Secret: " + sanitize(certErr.Error(), a.redact)}
	default:
		// Network failures, timeouts and cancellation; the cause stays
		// reachable for errors.Is(err, context.Canceled) and the like.
		return &Error{Class: Transient, Op: op, Message: transportMessage(err, a.redact), cause: unwrapURLError(err)}
	}
}

// transportMessage describes a network failure without the request URL.
func transportMessage(err error, redact func(string) string) string {
	return sanitize(unwrapURLError(err).Error(), redact)
}

// unwrapURLError strips *url.Error, whose text holds the request URL.
func unwrapURLError(err error) error {
	if urlErr, ok := errors.AsType[*url.Error](err); ok && urlErr.Err != nil {
		return urlErr.Err
	}
	return err
}

// checkRetry decides whether the SDK retries an attempt. Only GETs are
// retried after a response or a timeout; a write is retried only when it
// provably never left this process (a failed dial). A 429 is never retried
// here: it pauses the host and is returned with RetryAfter. No retry starts
// while the host is paused.
func (a *adapter) checkRetry(ctx context.Context, resp *http.Response, err error) (bool, error) {
	if ctx.Err() != nil {
		return false, ctx.Err()
	}
	if a.gate.remaining() > 0 {
		return false, nil
	}
	method := "" // unknown: treated as a write
	if ex := exchangeFrom(ctx); ex != nil {
		method = ex.method
	}
	if err != nil {
		if _, ok := errors.AsType[*tls.CertificateVerificationError](err); ok {
			return false, nil
		}
		return method == http.MethodGet || failedBeforeSending(err), nil
	}
	s := resp.StatusCode
	retryable := s == http.StatusRequestTimeout || (s >= 500 && s != http.StatusNotImplemented)
	return retryable && method == http.MethodGet, nil
}

// failedBeforeSending reports errors that happen before a request is
// written: dial failures such as connection refused, and DNS failures
// other than an unknown name.
func failedBeforeSending(err error) bool {
	if dnsErr, ok := errors.AsType[*net.DNSError](err); ok {
		return !dnsErr.IsNotFound
	}
	opErr, ok := errors.AsType[*net.OpError](err)
	return ok && opErr.Op == "dial"
}

// checkProject rejects an empty project before any request.
func checkProject(op, project string) error {
	if project == "" {
		return &Error{Class: Terminal, Op: op, Message: "project is empty; set a numeric project ID or a full path such as group/app"}
	}
	return nil
}

// checkWritableStatus rejects statuses the API cannot set.
func checkWritableStatus(op, status string) error {
	switch status {
	case StatusRunning, StatusSuccess, StatusFailed, StatusCanceled:
		return nil
	default:
		return &Error{Class: Terminal, Op: op,
			Message: "status " + strconv.Quote(status) + " cannot be set through the API; use running, success, failed or canceled"}
	}
}

func deploymentsPath(project string) string {
	return "projects/" + gl.PathEscape(project) + "/deployments"
}

func deploymentPath(project string, id int64) string {
	return deploymentsPath(project) + "/" + strconv.FormatInt(id, 10)
}

// listQuery maps ListOptions to the SDK's query options.
func listQuery(opts ListOptions) *gl.ListProjectDeploymentsOptions {
	q := &gl.ListProjectDeploymentsOptions{}
	q.PerPage = int64(opts.PerPage)
	if q.PerPage <= 0 {
		q.PerPage = defaultPerPage
	}
	if opts.MaxItems > 0 && int64(opts.MaxItems) < q.PerPage {
		q.PerPage = int64(opts.MaxItems)
	}
	setString(&q.Environment, opts.Environment)
	setString(&q.Status, opts.Status)
	setString(&q.Sort, opts.Sort)
	orderBy := opts.OrderBy
	if orderBy == "" && (!opts.UpdatedAfter.IsZero() || !opts.UpdatedBefore.IsZero()) {
		orderBy = "updated_at"
	}
	setString(&q.OrderBy, orderBy)
	if !opts.UpdatedAfter.IsZero() {
		t := opts.UpdatedAfter.UTC()
		q.UpdatedAfter = &t
	}
	if !opts.UpdatedBefore.IsZero() {
		t := opts.UpdatedBefore.UTC()
		q.UpdatedBefore = &t
	}
	return q
}

func setString(dst **string, v string) {
	if v != "" {
		*dst = &v
	}
}
