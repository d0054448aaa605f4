// Package gitlabtest is an in-memory GitLab that serves the REST
// Deployments API (/api/v4/projects/:id/deployments...) the way GitLab
// 17/18 EE serves it: status codes, error bodies, the deployment state
// machine, list filters and their validation, offset pagination headers,
// protected environments and deployment approvals, CI job deployments,
// authentication and token scopes, and Deployment Hook webhooks.
//
// It also serves the Environments API (list with name, search and states,
// get, create, edit, stop, delete: /projects/:id/environments...) with
// GitLab's validations of name, tier, external_url, cluster_agent_id,
// kubernetes_namespace, flux_resource_path and description, its tier
// guess, and its permissions; the cluster agents list and get routes
// (/projects/:id/cluster_agents...); GET /user, the token's user; and it
// links merge requests to a deployment when it succeeds, as
// Deployments::LinkMergeRequestsService does. The fake has no git graph:
// a project's branches carry an ordered first-parent history
// (ProjectSpec.History, PushCommits), and the commit range since the
// environment's previous successful deployment is read from it (see
// commitsBetween).
//
// Use NewServer in tests (it listens on a loopback port like
// httptest.Server) or NewHandler to serve the fake from any http.Server, as
// cmd/fake-gitlab does. Seed state with the Add*, Set*, ProtectEnvironment,
// AddHook and CreateJob methods or with a whole Seed; inspect it with
// Deployments, Deployment and Environments; inject faults with AddFault and
// SetRateLimit; read the request log with Requests and RequestCounts; and
// drive time with a *FakeClock passed through WithClock.
//
// # Control API
//
// The same handler serves a JSON control API under /-/fake, a prefix GitLab
// never uses, so that non-Go clients can drive the fake:
//
//	POST   /-/fake/seed                            Seed as JSON or YAML
//	GET    /-/fake/projects/{project}/deployments  ?environment=NAME
//	GET    /-/fake/projects/{project}/environments
//	POST   /-/fake/projects/{project}/commits      {"branch": "main", "commits": [CommitSpec]}
//	GET    /-/fake/deployments/{id}
//	POST   /-/fake/jobs                            JobSpec → Job
//	GET    /-/fake/jobs/{id}
//	POST   /-/fake/jobs/{id}/play                  {"user": "alice"}
//	POST   /-/fake/jobs/{id}/run|succeed|fail|cancel
//	GET    /-/fake/faults
//	POST   /-/fake/faults                          Fault → {"id": ...}
//	DELETE /-/fake/faults[/{id}]
//	GET    /-/fake/rate-limit
//	PUT    /-/fake/rate-limit                      RateLimit
//	DELETE /-/fake/rate-limit
//	GET    /-/fake/requests
//	GET    /-/fake/requests/counts
//	DELETE /-/fake/requests
//	GET    /-/fake/clock
//	POST   /-/fake/clock                           {"set": RFC3339} or {"advance": "90s"}
//	GET    /-/fake/hooks/deliveries
//
// {project} is a numeric ID or a URL-encoded full path. Errors are
// {"error": "..."} with 400, 404 or 409.
//
// # Seed format
//
// A seed (file or control API body) is YAML or JSON; unknown keys are
// errors. Sections are applied in this order:
//
//	users:                    # UserSpec
//	  - {username: alice, name: Alice, admin: false}
//	groups:                   # GroupSpec; parents first
//	  - {path: acme, members: {alice: maintainer}}
//	projects:                 # ProjectSpec; the namespace group is created if missing
//	  - path: acme/shop
//	    id: 1                 # optional
//	    visibility: private   # private | internal | public
//	    branches: {main: "0123456789abcdef0123456789abcdef01234567"}   # quote SHAs in YAML
//	    tags: {v1.0.0: "0123456789abcdef0123456789abcdef01234567"}
//	    commits: [{sha: "89abcdef0123456789abcdef0123456789abcdef", title: "Add feature"}]
//	    members: {alice: developer, bob: 40}   # name or number: guest 10 … owner 50
//	    accept_any_sha: true  # any 40-hex SHA is a commit
//	    accept_any_ref: true  # any well-formed ref is a branch
//	    history:              # first-parent history per branch, oldest first;
//	      main: ["aaaa…", "bbbb…"]   # the branch points at the last one
//	    job_token_allowlist: [{project: acme/ci, policies: [read_deployments]}]
//	tokens:                   # TokenSpec
//	  - {token: glpat-alice, user: alice, scopes: [api]}
//	  - {token: glpat-ro, user: alice, scopes: [read_api], expires_at: 2030-01-01T00:00:00Z}
//	  - {token: oauth-alice, user: alice, kind: oauth}
//	  - {token: job-1, user: alice, kind: job, project: acme/shop}
//	cluster_agents:           # AgentSpec
//	  - {project: acme/shop, name: prod-agent, id: 7, created_by: alice}
//	environments:             # EnvironmentSpec; as if created in GitLab's UI
//	  - {project: acme/shop, name: production, tier: production, external_url: "https://shop.example.com",
//	     cluster_agent: prod-agent, kubernetes_namespace: shop, description: Live, state: available}
//	merge_requests:           # MergeRequestSpec
//	  - {project: acme/shop, title: Fix, target_branch: main, merged_at: 2024-01-01T00:00:00Z,
//	     merge_commit_sha: "bbbb…", squash_commit_sha: "", cherry_pick_shas: ["cccc…"],
//	     created_at: 2024-01-01T00:00:00Z}
//	protected_environments:   # ProtectedEnvironmentSpec
//	  - project: acme/shop
//	    name: production
//	    deploy_access_levels: [{access_level: maintainer}]
//	    approval_rules: [{group: acme, required_approvals: 2}]
//	    required_approval_count: 0   # legacy unified setting, used without rules
//	hooks:                    # HookSpec
//	  - {project: acme/shop, url: "http://127.0.0.1:9000/hook", token: s3cret}
//	jobs:                     # JobSpec
//	  - {project: acme/shop, environment: production, ref: main, user: alice}
//	approval_hooks: true      # approval lifecycle Deployment Hooks (WithApprovalHooks)
package gitlabtest
