package gitlabtest

import "fmt"

// ProtectEnvironment protects an environment (project level) or a tier
// (group level), with deploy access levels, approval rules and the legacy
// required approval count.
func (f *Fake) ProtectEnvironment(s ProtectedEnvironmentSpec) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.protectEnvironment(s)
}

func (f *Fake) protectEnvironment(s ProtectedEnvironmentSpec) error {
	if s.Name == "" || (s.Project == "") == (s.Group == "") {
		return fmt.Errorf("%w: protected environment needs a name and exactly one of project or group", ErrInvalid)
	}
	if s.RequiredApprovalCount < 0 || s.RequiredApprovalCount > 5 {
		return fmt.Errorf("%w: required_approval_count must be 0..5", ErrInvalid)
	}
	pe := &protectedEnv{id: f.next("protected_environment"), name: s.Name, requiredApprovalCount: s.RequiredApprovalCount}
	var err error
	if s.Project != "" {
		pe.project, err = f.projectNamed(s.Project)
	} else {
		pe.group, err = f.groupNamed(s.Group)
	}
	if err != nil {
		return err
	}
	deploy := s.DeployAccessLevels
	if len(deploy) == 0 {
		deploy = []AccessRuleSpec{{AccessLevel: Maintainer}}
	}
	for _, d := range deploy {
		r, err := f.accessRule(d, "deploy_access_level")
		if err != nil {
			return err
		}
		pe.deployAccess = append(pe.deployAccess, r)
	}
	for _, a := range s.ApprovalRules {
		if a.RequiredApprovals < 1 || a.RequiredApprovals > 5 {
			return fmt.Errorf("%w: required_approvals must be 1..5", ErrInvalid)
		}
		r, err := f.accessRule(a.AccessRuleSpec, "approval_rule")
		if err != nil {
			return err
		}
		pe.approvalRules = append(pe.approvalRules, &approvalRule{accessRule: *r, requiredApprovals: a.RequiredApprovals})
	}
	if pe.project != nil {
		pe.project.protected = append(pe.project.protected, pe)
	} else {
		f.protected = append(f.protected, pe)
	}
	return nil
}

func (f *Fake) accessRule(s AccessRuleSpec, kind string) (*accessRule, error) {
	r := &accessRule{id: f.next(kind), accessLevel: s.AccessLevel, groupInheritance: s.GroupInheritanceType}
	set := 0
	var err error
	if s.User != "" {
		set++
		r.user, err = f.userNamed(s.User)
	}
	if s.Group != "" && err == nil {
		set++
		r.group, err = f.groupNamed(s.Group)
	}
	if s.AccessLevel != 0 {
		set++
		if s.AccessLevel != Reporter && s.AccessLevel != Developer && s.AccessLevel != Maintainer && s.AccessLevel != Admin {
			return nil, fmt.Errorf("%w: access level %d", ErrInvalid, s.AccessLevel)
		}
	}
	if err != nil {
		return nil, err
	}
	if set != 1 {
		return nil, fmt.Errorf("%w: a rule names exactly one of user, group or access_level", ErrInvalid)
	}
	return r, nil
}
