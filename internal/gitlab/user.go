package gitlab

import (
	"context"
	"net/http"
)

// CurrentUser implements Client.
func (a *adapter) CurrentUser(ctx context.Context) (string, error) {
	const op = "get current user"
	a.userMu.Lock()
	defer a.userMu.Unlock()
	if a.user != "" {
		return a.user, nil
	}
	var out userEntity
	if _, err := a.do(ctx, op, http.MethodGet, "user", nil, &out); err != nil {
		return "", err
	}
	if out.Username == "" {
		return "", &Error{Class: Transient, Op: op, Message: "GitLab answered without a username"}
	}
	a.user = out.Username
	return a.user, nil
}
