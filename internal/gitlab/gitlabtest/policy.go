package gitlabtest

// Abilities checked by the deployments API.
const (
	abilityReadDeployment     = "read_deployment"
	abilityCreateDeployment   = "create_deployment"
	abilityUpdateDeployment   = "update_deployment"
	abilityDestroyDeployment  = "destroy_deployment"
	abilityCreateEnvironment  = "create_environment"
	abilityReadEnvironment    = "read_environment"
	abilityUpdateEnvironment  = "update_environment"
	abilityDestroyEnvironment = "destroy_environment"
	// abilityReadCluster and abilityReadClusterAgent gate the cluster
	// agents API and the agent fields of the Environment entity; GitLab
	// grants both from Developer up, and they do not depend on the
	// Environments feature.
	abilityReadCluster      = "read_cluster"
	abilityReadClusterAgent = "read_cluster_agent"
)

// accessLevel is the user's highest role on the project, directly or
// through the project's group and its ancestors; administrators get Admin.
func (f *Fake) accessLevel(u *user, p *project) AccessLevel {
	if u == nil {
		return NoAccess
	}
	if u.admin {
		return Admin
	}
	level := p.members[u.id]
	for g := p.namespace; g != nil; g = g.parent {
		if l := g.members[u.id]; l > level {
			level = l
		}
	}
	return level
}

// canReadProject is read_project.
func (f *Fake) canReadProject(u *user, p *project) bool {
	switch {
	case u == nil:
		return false
	case p.visibility == Public || p.visibility == Internal:
		return true
	default:
		return f.accessLevel(u, p) >= Guest
	}
}

// can reports a project-level deployment ability.
func (f *Fake) can(u *user, ability string, p *project) bool {
	if u == nil || !f.canReadProject(u, p) {
		return false
	}
	level := f.accessLevel(u, p)
	switch ability {
	case abilityReadCluster, abilityReadClusterAgent:
		return level >= Developer
	}
	if p.environmentsDisabled {
		return false
	}
	switch ability {
	case abilityReadDeployment, abilityReadEnvironment:
		return level >= Reporter || p.visibility != Private
	case abilityCreateDeployment, abilityUpdateDeployment, abilityCreateEnvironment, abilityUpdateEnvironment,
		abilityDestroyEnvironment:
		return level >= Developer
	case abilityDestroyDeployment:
		return level >= Maintainer
	}
	return false
}

// protections are the protected environments that apply to env: the
// project-level one with its name and group-level ones matching its tier.
func (f *Fake) protections(env *environment) []*protectedEnv {
	if f.cfg.community {
		return nil
	}
	var out []*protectedEnv
	for _, pe := range env.project.protected {
		if pe.name == env.name {
			out = append(out, pe)
		}
	}
	for _, pe := range f.protected {
		if pe.name == env.tier && isAncestor(pe.group, env.project.namespace) {
			out = append(out, pe)
		}
	}
	return out
}

func isAncestor(a, g *group) bool {
	for ; g != nil; g = g.parent {
		if g == a {
			return true
		}
	}
	return false
}

// protectedFrom is Environment#protected_from?: some protection denies u.
func (f *Fake) protectedFrom(u *user, env *environment) bool {
	if u == nil {
		return true
	}
	for _, pe := range f.protections(env) {
		if !f.anyAccess(u, env.project, pe.deployAccess) {
			return true
		}
	}
	return false
}

func (f *Fake) anyAccess(u *user, p *project, rules []*accessRule) bool {
	for _, r := range rules {
		if f.checkAccess(u, p, r) {
			return true
		}
	}
	return false
}

// checkAccess is ProtectedEnvironments::Authorizable#check_access.
func (f *Fake) checkAccess(u *user, p *project, r *accessRule) bool {
	switch {
	case u == nil:
		return false
	case u.admin:
		return true
	case r.user != nil:
		return r.user == u
	case r.group != nil:
		return groupMember(u, r.group, r.groupInheritance == InheritAll)
	case r.accessLevel == Admin:
		return false
	default:
		return r.accessLevel > NoAccess && f.accessLevel(u, p) >= r.accessLevel
	}
}

func groupMember(u *user, g *group, inherited bool) bool {
	for ; g != nil; g = g.parent {
		if g.members[u.id] > NoAccess {
			return true
		}
		if !inherited {
			return false
		}
	}
	return false
}

// canOnEnvironment adds the EE rule that a protected environment forbids
// create/update/destroy to users it is protected from.
func (f *Fake) canOnEnvironment(u *user, ability string, env *environment) bool {
	return f.can(u, ability, env.project) && !f.protectedFrom(u, env)
}

// canUpdateDeployment is DeploymentPolicy's update_deployment.
func (f *Fake) canUpdateDeployment(u *user, d *deployment) bool {
	return f.canOnEnvironment(u, abilityUpdateDeployment, d.env)
}

// canDestroyDeployment is DeploymentPolicy's destroy_deployment.
func (f *Fake) canDestroyDeployment(u *user, d *deployment) bool {
	return f.canOnEnvironment(u, abilityDestroyDeployment, d.env)
}

// humanizeRule is Authorizable#humanize.
func humanizeRule(r *accessRule) string {
	switch {
	case r.user != nil:
		return r.user.name
	case r.group != nil:
		return r.group.name
	}
	switch r.accessLevel {
	case Reporter:
		return "Reporters + Developers + Maintainers"
	case Developer:
		return "Developers + Maintainers"
	case Maintainer:
		return "Maintainers"
	case Admin:
		return "Instance admins"
	}
	return "No one"
}
