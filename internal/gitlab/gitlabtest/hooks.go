package gitlabtest

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"net/url"
	"sync"
	"time"
)

// HookDelivery records one webhook POST the fake attempted.
type HookDelivery struct {
	URL     string          `json:"url"`
	Event   string          `json:"event"`
	Payload json.RawMessage `json:"payload"`
	// Status is the receiver's HTTP status, 0 when delivery failed.
	Status int    `json:"status"`
	Error  string `json:"error,omitempty"`
	// Time is the wall-clock time of the attempt.
	Time time.Time `json:"time"`
}

// hookSender delivers webhooks asynchronously; failures are recorded and
// otherwise ignored, as GitLab's WebHookService does.
type hookSender struct {
	client     *http.Client
	wg         sync.WaitGroup
	mu         sync.Mutex
	deliveries []HookDelivery
}

func newHookSender(c *http.Client) *hookSender { return &hookSender{client: c} }

func (h *hookSender) send(target, secret, event string, payload []byte) {
	h.wg.Go(func() {
		rec := HookDelivery{URL: target, Event: event, Payload: payload, Time: time.Now()}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, target, bytes.NewReader(payload))
		if err == nil {
			setHookHeaders(req, event, secret)
			var resp *http.Response
			if resp, err = h.client.Do(req); err == nil {
				rec.Status = resp.StatusCode
				_ = resp.Body.Close()
			}
		}
		if err != nil {
			rec.Error = err.Error()
		}
		h.mu.Lock()
		h.deliveries = append(h.deliveries, rec)
		h.mu.Unlock()
	})
}

func setHookHeaders(req *http.Request, event, secret string) {
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "GitLab/18.0.0")
	req.Header.Set("X-Gitlab-Event", event)
	req.Header.Set("X-Gitlab-Event-UUID", newUUID())
	req.Header.Set("X-Gitlab-Webhook-UUID", newUUID())
	req.Header.Set("X-Gitlab-Instance", req.URL.Scheme+"://"+req.URL.Host)
	if secret != "" {
		req.Header.Set("X-Gitlab-Token", secret)
	}
}

func newUUID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	s := hex.EncodeToString(b)
	return s[0:8] + "-" + s[8:12] + "-" + s[12:16] + "-" + s[16:20] + "-" + s[20:]
}

func (h *hookSender) wait() { h.wg.Wait() }

func (h *hookSender) list() []HookDelivery {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]HookDelivery(nil), h.deliveries...)
}

// hookUser is User#hook_attrs.
type hookUser struct {
	ID        int64  `json:"id"`
	Name      string `json:"name"`
	Username  string `json:"username"`
	AvatarURL string `json:"avatar_url"`
	Email     string `json:"email"`
}

// hookProject is Project#hook_attrs.
type hookProject struct {
	ID                int64   `json:"id"`
	Name              string  `json:"name"`
	Description       string  `json:"description"`
	WebURL            string  `json:"web_url"`
	AvatarURL         *string `json:"avatar_url"`
	GitSSHURL         string  `json:"git_ssh_url"`
	GitHTTPURL        string  `json:"git_http_url"`
	Namespace         string  `json:"namespace"`
	VisibilityLevel   int     `json:"visibility_level"`
	PathWithNamespace string  `json:"path_with_namespace"`
	DefaultBranch     string  `json:"default_branch"`
	CIConfigPath      *string `json:"ci_config_path"`
	Homepage          string  `json:"homepage"`
	URL               string  `json:"url"`
	SSHURL            string  `json:"ssh_url"`
	HTTPURL           string  `json:"http_url"`
}

// deploymentHook is Gitlab::DataBuilder::Deployment.build.
type deploymentHook struct {
	ObjectKind             string      `json:"object_kind"`
	Status                 string      `json:"status"`
	StatusChangedAt        string      `json:"status_changed_at"`
	DeploymentID           int64       `json:"deployment_id"`
	DeployableID           *int64      `json:"deployable_id"`
	DeployableURL          *string     `json:"deployable_url"`
	Environment            string      `json:"environment"`
	EnvironmentTier        string      `json:"environment_tier"`
	EnvironmentSlug        string      `json:"environment_slug"`
	EnvironmentExternalURL *string     `json:"environment_external_url"`
	Project                hookProject `json:"project"`
	ShortSHA               string      `json:"short_sha"`
	User                   *hookUser   `json:"user"`
	UserURL                *string     `json:"user_url"`
	CommitURL              *string     `json:"commit_url"`
	CommitTitle            *string     `json:"commit_title"`
	Ref                    string      `json:"ref"`
	// Approver and Approval are set only on the approval events of
	// WithApprovalHooks.
	Approver *hookUser     `json:"approver,omitempty"`
	Approval *hookApproval `json:"approval,omitempty"`
}

// hookApproval is Deployments::Approval#hook_attrs.
type hookApproval struct {
	ID        int64   `json:"id"`
	UserID    int64   `json:"user_id"`
	Status    string  `json:"status"`
	Comment   *string `json:"comment"`
	CreatedAt string  `json:"created_at"`
	UpdatedAt string  `json:"updated_at"`
}

// redactedEmail is what GitLab puts in place of an email address a hook
// must not reveal.
const redactedEmail = "[REDACTED]"

// hookTime is the time format of hook payloads.
const hookTime = "2006-01-02 15:04:05 -0700"

func projectHookAttrs(p *project, base string) hookProject {
	host := hostOf(base)
	web := base + "/" + p.fullPath
	ns := p.fullPath
	if p.namespace != nil {
		ns = p.namespace.name
	}
	return hookProject{ID: p.id, Name: p.name, Description: p.description, WebURL: web,
		GitSSHURL: "git@" + host + ":" + p.fullPath + ".git", GitHTTPURL: web + ".git", Namespace: ns,
		VisibilityLevel: p.visibility.level(), PathWithNamespace: p.fullPath, DefaultBranch: p.defaultBranch,
		Homepage: web, URL: "git@" + host + ":" + p.fullPath + ".git", SSHURL: "git@" + host + ":" + p.fullPath + ".git",
		HTTPURL: web + ".git"}
}

// queueDeploymentHook sends a Deployment Hook to the project's hooks.
func (f *Fake) queueDeploymentHook(d *deployment, at time.Time, base string) {
	if len(d.project.hooks) == 0 {
		return
	}
	f.sendDeploymentHook(d.project, f.deploymentHookData(d, at, base))
}

// queueApprovalHook sends the Deployment Hook of an approval or rejection
// (status "approved" or "rejected", the approval's status) when
// WithApprovalHooks is on.
//
// The event is the one gitlab-org/gitlab!239337 ("Add deployment approval
// lifecycle webhook events", issue #441402) adds to the Deployment webhook:
// the usual Gitlab::DataBuilder::Deployment payload of the deployment, with
// status set to the approval's status and two new top-level fields,
// approver (User#hook_attrs, email redacted) and approval
// (Deployments::Approval#hook_attrs). The merge request's documentation of
// the exact payload was not at hand; the fields follow its description.
func (f *Fake) queueApprovalHook(d *deployment, a *approval, base string) {
	if !f.cfg.approvalHooks || f.cfg.community || len(d.project.hooks) == 0 {
		return
	}
	data := f.deploymentHookData(d, a.updatedAt, base)
	data.Status = a.status
	data.Approver = &hookUser{ID: a.user.id, Name: a.user.name, Username: a.user.username,
		AvatarURL: avatarURL(a.user.email), Email: redactedEmail}
	ap := &hookApproval{ID: a.id, UserID: a.user.id, Status: a.status,
		CreatedAt: a.createdAt.UTC().Format(hookTime), UpdatedAt: a.updatedAt.UTC().Format(hookTime)}
	if a.comment != "" {
		c := a.comment
		ap.Comment = &c
	}
	data.Approval = ap
	f.sendDeploymentHook(d.project, data)
}

func (f *Fake) sendDeploymentHook(p *project, data deploymentHook) {
	payload, err := json.Marshal(data)
	if err != nil {
		return
	}
	for _, h := range p.hooks {
		if h.events {
			f.hooks.send(h.url, h.token, "Deployment Hook", payload)
		}
	}
}

func (f *Fake) deploymentHookData(d *deployment, at time.Time, base string) deploymentHook {
	short := d.sha
	if len(short) > 8 {
		short = short[:8]
	}
	data := deploymentHook{ObjectKind: "deployment", Status: d.status,
		StatusChangedAt: at.UTC().Format(hookTime), DeploymentID: d.id,
		Environment: d.env.name, EnvironmentTier: d.env.tier, EnvironmentSlug: d.env.slug,
		Project: projectHookAttrs(d.project, base), ShortSHA: short, Ref: d.ref}
	if d.env.externalURL != "" {
		data.EnvironmentExternalURL = &d.env.externalURL
	}
	if j := d.job; j != nil {
		id, u := j.id, f.jobJSON(j, base).WebURL
		data.DeployableID, data.DeployableURL = &id, &u
	}
	by := d.user
	if d.job != nil && d.job.user != nil {
		by = d.job.user
	}
	if by != nil {
		data.User = &hookUser{ID: by.id, Name: by.name, Username: by.username,
			AvatarURL: avatarURL(by.email), Email: by.email}
		u := base + "/" + by.username
		data.UserURL = &u
	}
	if _, ok := d.project.resolveCommit(d.sha); ok && isHex(d.sha) {
		c := commitEntity(d.project, d.sha, base)
		data.CommitURL, data.CommitTitle = &c.WebURL, &c.Title
	}
	return data
}

func hostOf(base string) string {
	u, err := url.Parse(base)
	if err != nil || u.Hostname() == "" {
		return "localhost"
	}
	return u.Hostname()
}

// HookDeliveries returns every webhook delivery attempted so far.
func (f *Fake) HookDeliveries() []HookDelivery { return f.hooks.list() }

// WaitHooks blocks until all queued webhook deliveries have finished.
func (f *Fake) WaitHooks() { f.hooks.wait() }
