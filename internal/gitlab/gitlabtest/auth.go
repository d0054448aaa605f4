package gitlabtest

import (
	"net/http"
	"slices"
	"strconv"
	"strings"
)

// principal is the authenticated caller of a request.
type principal struct {
	user *user
	tok  *token
	// jobSource is the project of the CI job whose token was used.
	jobSource *project
}

const (
	expiredDescription = "Token is expired. You can either do re-authorization or token refresh."
	revokedDescription = "Token was revoked. You have to re-authorize from the user."
	scopeDescription   = "The request requires higher privileges than provided by the access token."
)

// invalidToken is Rack::OAuth2's Bearer::Unauthorized response.
func invalidToken(desc string) *apiError {
	return &apiError{
		status: http.StatusUnauthorized,
		body:   map[string]any{keyError: "invalid_token", "error_description": desc},
		headers: map[string]string{"WWW-Authenticate": `Bearer realm="Protected by OAuth 2.0", ` +
			`error="invalid_token", error_description="` + desc + `"`},
	}
}

func insufficientScope(scopes []string) *apiError {
	return &apiError{status: http.StatusForbidden, body: map[string]any{
		keyError: "insufficient_scope", "error_description": scopeDescription, "scope": strings.Join(scopes, " "),
	}}
}

// authenticate resolves the caller from the request's credentials, as
// authenticate! does, including token validation and sudo.
func (f *Fake) authenticate(c *call) (*principal, *apiError) {
	tok := f.findAccessToken(c)
	if tok == nil {
		return f.authenticateJob(c)
	}
	if err := f.validateAccessToken(tok, requiredScopes(c.r.Method)); err != nil {
		return nil, err
	}
	who := &principal{user: tok.user, tok: tok}
	if err := f.sudo(c, who); err != nil {
		return nil, err
	}
	return who, nil
}

// findAccessToken finds an OAuth or personal access token.
func (f *Fake) findAccessToken(c *call) *token {
	if v, ok := bearer(c.r); ok {
		if t := f.tokens[v]; t != nil && (t.kind == OAuthToken || t.kind == PersonalToken) {
			return t
		}
	}
	v := c.r.Header.Get("Private-Token")
	if v == "" {
		v = c.p["private_token"].value
	}
	if t := f.tokens[v]; v != "" && t != nil && t.kind == PersonalToken {
		return t
	}
	return nil
}

func bearer(r *http.Request) (string, bool) {
	h := r.Header.Get("Authorization")
	if len(h) > 7 && strings.EqualFold(h[:7], "bearer ") {
		return strings.TrimSpace(h[7:]), true
	}
	return "", false
}

// requiredScopes are the scopes that allow a request with this method.
func requiredScopes(method string) []string {
	if method == http.MethodGet || method == http.MethodHead {
		return []string{scopeAPI, "read_api"}
	}
	return []string{scopeAPI}
}

func (f *Fake) validateAccessToken(t *token, scopes []string) *apiError {
	if !t.expiresAt.IsZero() && !f.clock.Now().Before(t.expiresAt) {
		return invalidToken(expiredDescription)
	}
	if t.revoked {
		return invalidToken(revokedDescription)
	}
	for _, s := range scopes {
		if slices.Contains(t.scopes, s) {
			return nil
		}
	}
	return insufficientScope(scopes)
}

// authenticateJob authenticates with a CI job token.
func (f *Fake) authenticateJob(c *call) (*principal, *apiError) {
	v := c.r.Header.Get("Job-Token")
	if v == "" {
		v = c.p["job_token"].value
	}
	t := f.tokens[v]
	if v == "" || t == nil || t.kind != JobToken {
		return nil, unauthorized()
	}
	if _, allowed := jobTokenPolicies[c.route.endpoint]; !allowed {
		// A route without job_token_allowed does not look for job tokens.
		return nil, unauthorized()
	}
	if t.job != nil && t.job.status != "running" {
		return nil, unauthorized()
	}
	if t.revoked || (!t.expiresAt.IsZero() && !f.clock.Now().Before(t.expiresAt)) {
		return nil, unauthorized()
	}
	return &principal{user: t.user, tok: t, jobSource: t.project}, nil
}

// sudo switches the caller to another user for administrators.
func (f *Fake) sudo(c *call, who *principal) *apiError {
	id := c.r.Header.Get("Sudo")
	if id == "" {
		id = c.p["sudo"].value
	}
	if id == "" {
		return nil
	}
	if !who.user.admin {
		return forbidden("Must be admin to use sudo")
	}
	if err := f.validateAccessToken(who.tok, []string{"sudo"}); err != nil {
		return err
	}
	var target *user
	if n, err := strconv.ParseInt(id, 10, 64); err == nil {
		target = f.usersByID[n]
	} else {
		target = f.usersByName[strings.ToLower(id)]
	}
	if target == nil {
		return messageError(http.StatusNotFound, "404 User with ID or username '"+id+"' Not Found")
	}
	who.user = target
	return nil
}
