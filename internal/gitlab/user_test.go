package gitlab

import (
	"context"
	"testing"

	. "github.com/onsi/gomega"

	"github.com/rollgate/rollgate/internal/gitlab/gitlabtest"
)

// The token's user is read from GitLab once per client, then remembered.
func TestCurrentUserIsReadOnce(t *testing.T) {
	g := NewWithT(t)
	srv := envFake(t)
	c := newClient(t, testConfig(), srv.URL)
	for range 3 {
		user, err := c.CurrentUser(context.Background())
		g.Expect(err).NotTo(HaveOccurred())
		g.Expect(user).To(Equal("dev"))
	}
	g.Expect(srv.CountRequests(gitlabtest.EndpointCurrentUser, 200)).To(Equal(1))

	other, err := NewRegistry(testConfig()).ClientFor(Credentials{URL: srv.URL, Token: "rep-token"})
	g.Expect(err).NotTo(HaveOccurred())
	user, err := other.CurrentUser(context.Background())
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(user).To(Equal("rep"))
}
