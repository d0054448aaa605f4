package gitlabtest

import (
	"slices"
	"testing"

	. "github.com/onsi/gomega"
)

func TestTransitionTable(t *testing.T) {
	all := []string{StatusCreated, StatusRunning, StatusSuccess, StatusFailed, StatusCanceled, StatusSkipped, StatusBlocked}
	want := map[string][]string{ // to → allowed froms
		StatusRunning:  {StatusCreated, StatusBlocked},
		StatusSuccess:  {StatusCreated, StatusRunning, StatusFailed, StatusCanceled, StatusSkipped, StatusBlocked},
		StatusFailed:   {StatusCreated, StatusRunning, StatusSuccess, StatusCanceled, StatusSkipped, StatusBlocked},
		StatusCanceled: {StatusCreated, StatusRunning, StatusSuccess, StatusFailed, StatusSkipped, StatusBlocked},
		StatusSkipped:  {StatusCreated, StatusRunning, StatusSuccess, StatusFailed, StatusCanceled, StatusBlocked},
		StatusBlocked:  {StatusCreated},
		StatusCreated:  {StatusSkipped},
	}
	for _, to := range all {
		for _, from := range all {
			NewWithT(t).Expect(canTransition(from, to)).To(Equal(slices.Contains(want[to], from)), from+"→"+to)
		}
	}
}

func TestEnvironmentSlugs(t *testing.T) {
	g := NewWithT(t)
	suffix := func(name string) string { return slugSuffix(name) }
	cases := map[string]string{
		"production":                "production",
		"PRODUCTION":                "production-" + suffix("PRODUCTION"),
		"review/1-foo":              "review-1-foo-" + suffix("review/1-foo"),
		"1-foo":                     "env-1-foo-" + suffix("1-foo"),
		"foo-":                      "foo",
		"staging-1234567890123456":  "staging-1234567890123456",
		"staging-1234567890123456-": "staging-123456789-" + suffix("staging-1234567890123456-"),
		"9-staging-123456789012345": "env-9-staging-123-" + suffix("9-staging-123456789012345"),
	}
	for name, slug := range cases {
		g.Expect(environmentSlug(name)).To(Equal(slug), name)
	}
	g.Expect(guessTier("production")).To(Equal("production"))
	g.Expect(guessTier("review/app")).To(Equal("development"))
	g.Expect(guessTier("staging")).To(Equal("staging"))
	g.Expect(guessTier("qa")).To(Equal("testing"))
	g.Expect(guessTier("canary")).To(Equal("other"))
}
