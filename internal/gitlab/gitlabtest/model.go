package gitlabtest

import (
	"strings"
	"time"
)

// AccessLevel is a GitLab membership role, with GitLab's numeric values.
type AccessLevel int

// GitLab access levels.
const (
	NoAccess   AccessLevel = 0
	Guest      AccessLevel = 10
	Reporter   AccessLevel = 20
	Developer  AccessLevel = 30
	Maintainer AccessLevel = 40
	Owner      AccessLevel = 50
	// Admin is the level protected environments use for "instance admins";
	// it is also the effective level of an administrator.
	Admin AccessLevel = 60
)

// Visibility is a project's visibility level.
type Visibility string

// Project visibility levels.
const (
	Private  Visibility = "private"
	Internal Visibility = "internal"
	Public   Visibility = "public"
)

// visibilityLevel is the numeric value GitLab uses in webhook payloads.
func (v Visibility) level() int {
	switch v {
	case Public:
		return 20
	case Internal:
		return 10
	default:
		return 0
	}
}

// TokenKind says how a token authenticates.
type TokenKind string

// Token kinds.
const (
	// PersonalToken is a personal (or project/group) access token, sent as
	// PRIVATE-TOKEN, private_token or Authorization: Bearer.
	PersonalToken TokenKind = "personal"
	// OAuthToken is an OAuth access token, sent as Authorization: Bearer.
	OAuthToken TokenKind = "oauth"
	// JobToken is a CI job token, sent as JOB-TOKEN or job_token.
	JobToken TokenKind = "job"
)

// Group inheritance types of protected-environment rules.
const (
	// InheritDirect matches direct members of the rule's group only.
	InheritDirect = 0
	// InheritAll also matches members of the group's ancestors.
	InheritAll = 1
)

type user struct {
	id       int64
	username string
	name     string
	email    string
	admin    bool
}

type token struct {
	value     string
	kind      TokenKind
	user      *user
	scopes    []string
	expiresAt time.Time
	revoked   bool
	project   *project // source project of a job token
	job       *job     // CI job the token belongs to, if any
}

type group struct {
	id       int64
	name     string
	fullPath string
	parent   *group
	members  map[int64]AccessLevel
}

type commit struct {
	sha         string
	title       string
	message     string
	authorName  string
	authorEmail string
	createdAt   time.Time
}

type project struct {
	id                   int64
	name                 string
	fullPath             string
	description          string
	visibility           Visibility
	defaultBranch        string
	namespace            *group
	members              map[int64]AccessLevel
	acceptAnySHA         bool
	acceptAnyRef         bool
	environmentsDisabled bool
	allowTriggerApprove  bool
	branches             map[string]string
	tags                 map[string]string
	commits              map[string]*commit
	// history is the fake's stand-in for the git graph: per branch, the
	// commits of its first-parent history, oldest first.
	history         map[string][]string
	environments    []*environment
	agents          []*agent
	deployments     []*deployment
	lastIID         int64
	lastMRIID       int64
	lastPipelineIID int64
	mergeRequests   []*mergeRequest
	protected       []*protectedEnv
	hooks           []*hook
	// jobTokenAllowlist maps a source project ID to the fine-grained
	// policies granted to its job tokens; a nil slice grants all.
	jobTokenAllowlist map[int64][]string
}

// path is the last segment of the full path.
func (p *project) path() string {
	for i := len(p.fullPath) - 1; i >= 0; i-- {
		if p.fullPath[i] == '/' {
			return p.fullPath[i+1:]
		}
	}
	return p.fullPath
}

type environment struct {
	id                  int64
	project             *project
	name                string
	slug                string
	externalURL         string
	tier                string
	state               string
	description         string
	clusterAgent        *agent
	kubernetesNamespace string
	fluxResourcePath    string
	autoStopSetting     string
	autoStopAt          time.Time
	createdAt           time.Time
	updatedAt           time.Time
}

// environmentType is Environment#environment_type: the folder, that is the
// part of the name before the first '/', when the name has one.
func (e *environment) environmentType() string {
	folder, _, ok := strings.Cut(e.name, "/")
	if !ok {
		return ""
	}
	return folder
}

// agent is a GitLab agent for Kubernetes (Clusters::Agent) registered in a
// project.
type agent struct {
	id        int64
	project   *project
	name      string
	createdBy *user
	createdAt time.Time
}

type deployment struct {
	id            int64
	iid           int64
	project       *project
	env           *environment
	ref           string
	sha           string
	tag           bool
	status        string
	user          *user
	createdAt     time.Time
	updatedAt     time.Time
	finishedAt    time.Time
	job           *job
	approvals     []*approval
	mergeRequests []*mergeRequest
}

type approval struct {
	id        int64
	user      *user
	status    string
	comment   string
	rule      *approvalRule
	createdAt time.Time
	updatedAt time.Time
}

type accessRule struct {
	id               int64
	user             *user
	group            *group
	accessLevel      AccessLevel
	groupInheritance int
}

type approvalRule struct {
	accessRule
	requiredApprovals int
}

type protectedEnv struct {
	id                    int64
	project               *project
	group                 *group
	name                  string
	deployAccess          []*accessRule
	approvalRules         []*approvalRule
	requiredApprovalCount int
}

type pipeline struct {
	id        int64
	iid       int64
	project   *project
	sha       string
	ref       string
	status    string
	source    string
	user      *user
	createdAt time.Time
	updatedAt time.Time
}

type job struct {
	id            int64
	project       *project
	pipeline      *pipeline
	name          string
	stage         string
	status        string
	ref           string
	sha           string
	tag           bool
	user          *user
	allowFailure  bool
	failureReason string
	createdAt     time.Time
	queuedAt      time.Time
	startedAt     time.Time
	finishedAt    time.Time
	token         string
	deployment    *deployment
}

type mergeRequest struct {
	id              int64
	iid             int64
	project         *project
	title           string
	description     string
	sourceBranch    string
	targetBranch    string
	state           string
	author          *user
	createdAt       time.Time
	updatedAt       time.Time
	mergedAt        time.Time
	closedAt        time.Time
	mergeCommitSHA  string
	squashCommitSHA string
	cherryPickSHAs  []string
	sha             string
}

type hook struct {
	id     int64
	url    string
	token  string
	events bool
}
