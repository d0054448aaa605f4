package localcluster

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"sigs.k8s.io/yaml"
)

// AuditEvent is one request in the audit log: who asked what, when, and the
// answer's status code.
type AuditEvent struct {
	AuditID string `json:"auditID"`
	Stage   string `json:"stage"`
	Verb    string `json:"verb"`
	URI     string `json:"requestURI"`
	User    struct {
		Username string `json:"username"`
	} `json:"user"`
	// ImpersonatedUser is who the user acted as, if it impersonated
	// someone (the audit policy selects by User, the one authenticated).
	ImpersonatedUser struct {
		Username string `json:"username"`
	} `json:"impersonatedUser"`
	UserAgent string `json:"userAgent"`
	ObjectRef struct {
		Resource    string `json:"resource"`
		Subresource string `json:"subresource"`
		Namespace   string `json:"namespace"`
		Name        string `json:"name"`
		APIGroup    string `json:"apiGroup"`
	} `json:"objectRef"`
	ResponseStatus struct {
		Code int `json:"code"`
	} `json:"responseStatus"`
	Received time.Time `json:"requestReceivedTimestamp"`
}

// Resource is the resource and, if any, the subresource: "deployments",
// "gitlabdeployments/status".
func (e *AuditEvent) Resource() string {
	if e.ObjectRef.Subresource != "" {
		return e.ObjectRef.Resource + "/" + e.ObjectRef.Subresource
	}
	return e.ObjectRef.Resource
}

// auditArgs writes an audit policy that logs the metadata of the users'
// requests, and nothing of anyone else's, and returns the API server flags
// that apply it.
func (c *Cluster) auditArgs(users []string) ([]string, error) {
	policy := map[string]any{
		"apiVersion": "audit.k8s.io/v1",
		"kind":       "Policy",
		// One line per request: once answered, or once a watch started
		// streaming (and again when it ends).
		"omitStages": []string{"RequestReceived"},
		"rules": []map[string]any{
			{"level": "Metadata", "users": users},
			{"level": "None"},
		},
	}
	data, err := yaml.Marshal(policy)
	if err != nil {
		return nil, fmt.Errorf("cluster: encoding the audit policy: %w", err)
	}
	path := filepath.Join(c.Dir, "audit-policy.yaml")
	if err := os.WriteFile(path, data, 0o600); err != nil {
		return nil, fmt.Errorf("cluster: writing the audit policy: %w", err)
	}
	c.AuditLogPath = filepath.Join(c.Dir, "audit.log")
	if err := os.Remove(c.AuditLogPath); err != nil && !os.IsNotExist(err) { // an earlier cluster's
		return nil, fmt.Errorf("cluster: clearing %s: %w", c.AuditLogPath, err)
	}
	return []string{
		"--audit-policy-file=" + path,
		"--audit-log-path=" + c.AuditLogPath,
		"--audit-log-format=json",
		"--audit-log-mode=blocking",
		// No rotation: the log lives as long as the cluster.
		"--audit-log-maxsize=100000",
	}, nil
}

// ReadAudit returns the requests in the audit log so far, once each (the
// first line of each request), in the order they were logged. It fails
// unless the cluster was started with Options.AuditUsers.
func (c *Cluster) ReadAudit() ([]AuditEvent, error) {
	if c.AuditLogPath == "" {
		return nil, fmt.Errorf("cluster: the audit log is off (Options.AuditUsers)")
	}
	f, err := os.Open(c.AuditLogPath)
	if os.IsNotExist(err) {
		return nil, nil // nothing logged yet
	}
	if err != nil {
		return nil, fmt.Errorf("cluster: %w", err)
	}
	defer func() { _ = f.Close() }()
	seen := map[string]bool{}
	var out []AuditEvent
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 0, 64<<10), 16<<20)
	for sc.Scan() {
		var e AuditEvent
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			continue // a line being written
		}
		if seen[e.AuditID] {
			continue
		}
		seen[e.AuditID] = true
		out = append(out, e)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("cluster: reading %s: %w", c.AuditLogPath, err)
	}
	return out, nil
}
