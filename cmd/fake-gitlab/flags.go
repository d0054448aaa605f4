package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/rollgate/rollgate/internal/gitlab/gitlabtest"
)

// Defaults used when neither flags nor a seed file name any user, project
// or token.
const (
	defaultUser    = "demo"
	defaultProject = "demo/app"
	defaultToken   = "glpat-demo-token" //nolint:gosec // a demo credential of a fake server
)

// listFlag is a repeatable string flag.
type listFlag []string

func (l *listFlag) String() string     { return strings.Join(*l, ",") }
func (l *listFlag) Set(v string) error { *l = append(*l, v); return nil }

type options struct {
	listen       string
	baseURL      string
	seedFile     string
	projects     listFlag
	users        listFlag
	tokens       listFlag
	acceptAnySHA bool
	acceptAnyRef bool
	community    bool
	fakeClock    string
	controlToken string
	approvalHook bool
	jobApprovals bool
	seed         gitlabtest.Seed
	clock        gitlabtest.Clock
}

func parseFlags(args []string, out io.Writer) (*options, error) {
	o := &options{}
	fs := flag.NewFlagSet("fake-gitlab", flag.ContinueOnError)
	fs.SetOutput(out)
	fs.StringVar(&o.listen, "listen", "127.0.0.1:8929", "address to listen on")
	fs.StringVar(&o.baseURL, "base-url", "",
		"external URL used in Link headers, web_url and webhooks (default: the listen URL)")
	fs.StringVar(&o.seedFile, "seed", "", "seed file (YAML or JSON, see package gitlabtest)")
	fs.Var(&o.projects, "project", "project full path to create, e.g. group/app (repeatable)")
	fs.Var(&o.users, "user", "user to create as NAME or NAME=ROLE (guest|reporter|developer|maintainer|owner|admin); "+
		"becomes a member of every --project (repeatable)")
	fs.Var(&o.tokens, "token", "personal access token as TOKEN or TOKEN=USER, scope api (repeatable)")
	fs.BoolVar(&o.acceptAnySHA, "accept-any-sha", false, "treat every 40-hex SHA as an existing commit")
	fs.BoolVar(&o.acceptAnyRef, "accept-any-ref", false, "treat every well-formed ref name as an existing branch")
	fs.BoolVar(&o.community, "community", false, "behave as GitLab CE (no protected environments or approvals)")
	fs.StringVar(&o.fakeClock, "fake-clock", "", "run on a controllable clock starting at this RFC 3339 time, or \"now\"")
	fs.StringVar(&o.controlToken, "control-token", "", "require X-Fake-Token on the control API")
	fs.BoolVar(&o.approvalHook, "approval-hooks", false,
		"send Deployment Hooks for approvals, rejections and blocked deployments (GitLab with gitlab-org/gitlab!239337)")
	fs.BoolVar(&o.jobApprovals, "job-approvals-only", false,
		"compute deployment approvals only for CI jobs' deployments, as older GitLab versions do")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected arguments: %s", strings.Join(fs.Args(), " "))
	}
	if err := o.resolve(); err != nil {
		return nil, err
	}
	return o, nil
}

// resolve loads the seed file, adds the flag-defined state and the clock.
func (o *options) resolve() error {
	if o.seedFile != "" {
		data, err := os.ReadFile(o.seedFile)
		if err != nil {
			return fmt.Errorf("reading seed: %w", err)
		}
		if o.seed, err = gitlabtest.ParseSeed(data); err != nil {
			return fmt.Errorf("%s: %w", o.seedFile, err)
		}
	}
	if err := o.flagSeed(); err != nil {
		return err
	}
	switch o.fakeClock {
	case "":
		o.clock = gitlabtest.RealClock()
	case "now":
		o.clock = gitlabtest.NewFakeClock(time.Now().UTC())
	default:
		t, err := time.Parse(time.RFC3339, o.fakeClock)
		if err != nil {
			return fmt.Errorf("--fake-clock: want RFC 3339 time or \"now\": %w", err)
		}
		o.clock = gitlabtest.NewFakeClock(t)
	}
	return nil
}

var roles = map[string]gitlabtest.AccessLevel{
	"guest": gitlabtest.Guest, "reporter": gitlabtest.Reporter, "developer": gitlabtest.Developer,
	"maintainer": gitlabtest.Maintainer, "owner": gitlabtest.Owner,
}

// flagSeed turns --user, --project and --token into seed entries,
// falling back to a demo user, project and token when nothing is given.
func (o *options) flagSeed() error {
	empty := o.seedFile == "" && len(o.users)+len(o.projects)+len(o.tokens) == 0
	if empty {
		o.users, o.projects, o.tokens = listFlag{defaultUser}, listFlag{defaultProject}, listFlag{defaultToken}
		o.acceptAnySHA, o.acceptAnyRef = true, true
	}
	members := map[string]gitlabtest.AccessLevel{}
	for _, u := range o.users {
		name, role, _ := strings.Cut(u, "=")
		spec := gitlabtest.UserSpec{Username: name}
		level := gitlabtest.Maintainer
		switch {
		case role == "admin":
			spec.Admin = true
		case role != "":
			var ok bool
			if level, ok = roles[role]; !ok {
				return fmt.Errorf("--user %s: unknown role %q", u, role)
			}
		}
		if name == "" {
			return errors.New("--user: empty name")
		}
		members[name] = level
		o.seed.Users = append(o.seed.Users, spec)
	}
	for _, p := range o.projects {
		if !strings.Contains(strings.Trim(p, "/"), "/") {
			return fmt.Errorf("--project %s: want a full path such as group/app", p)
		}
		o.seed.Projects = append(o.seed.Projects, gitlabtest.ProjectSpec{Path: p, Members: members,
			AcceptAnySHA: o.acceptAnySHA, AcceptAnyRef: o.acceptAnyRef})
	}
	return o.flagTokens()
}

func (o *options) flagTokens() error {
	for _, t := range o.tokens {
		value, owner, _ := strings.Cut(t, "=")
		if owner == "" {
			if len(o.users) == 0 {
				return fmt.Errorf("--token %s: name its user as TOKEN=USER", t)
			}
			owner, _, _ = strings.Cut(o.users[0], "=")
		}
		o.seed.Tokens = append(o.seed.Tokens, gitlabtest.TokenSpec{Token: value, User: owner, Scopes: []string{"api"}})
	}
	return nil
}

// build creates and seeds the fake.
func (o *options) build() (*gitlabtest.Fake, error) {
	opts := []gitlabtest.Option{gitlabtest.WithClock(o.clock), gitlabtest.WithBaseURL(o.baseURL)}
	if o.acceptAnySHA {
		opts = append(opts, gitlabtest.WithAcceptAnySHA())
	}
	if o.acceptAnyRef {
		opts = append(opts, gitlabtest.WithAcceptAnyRef())
	}
	if o.community {
		opts = append(opts, gitlabtest.WithCommunityEdition())
	}
	if o.controlToken != "" {
		opts = append(opts, gitlabtest.WithControlToken(o.controlToken))
	}
	if o.approvalHook {
		opts = append(opts, gitlabtest.WithApprovalHooks())
	}
	if o.jobApprovals {
		opts = append(opts, gitlabtest.WithJobApprovalsOnly())
	}
	f := gitlabtest.NewHandler(opts...)
	if err := f.Seed(o.seed); err != nil {
		return nil, fmt.Errorf("seeding: %w", err)
	}
	return f, nil
}
