package gitlab

import (
	"context"
	"errors"
)

// FakeClient is a Client for controller unit tests. Each method calls the
// matching function field; a method whose field is unset fails the call,
// so a test notices any GitLab call it did not expect.
//
//nolint:dupl // one function field per method of Client, which it mirrors
type FakeClient struct {
	// CreateDeploymentFunc implements CreateDeployment.
	CreateDeploymentFunc func(ctx context.Context, project string, opts CreateOptions) (*Deployment, error)
	// UpdateDeploymentStatusFunc implements UpdateDeploymentStatus.
	UpdateDeploymentStatusFunc func(ctx context.Context, project string, id int64, status string) (*Deployment, error)
	// GetDeploymentFunc implements GetDeployment.
	GetDeploymentFunc func(ctx context.Context, project string, id int64) (*Deployment, error)
	// ListDeploymentsFunc implements ListDeployments.
	ListDeploymentsFunc func(ctx context.Context, project string, opts ListOptions) ([]Deployment, error)
	// GetEnvironmentByNameFunc implements GetEnvironmentByName.
	GetEnvironmentByNameFunc func(ctx context.Context, project, name string) (*Environment, error)
	// EditEnvironmentFunc implements EditEnvironment.
	EditEnvironmentFunc func(ctx context.Context, project string, id int64, edit EnvironmentEdit) (*Environment, error)
	// ResolveAgentFunc implements ResolveAgent.
	ResolveAgentFunc func(ctx context.Context, project, ref string) (*Agent, error)
	// ListDeploymentMergeRequestsFunc implements ListDeploymentMergeRequests.
	ListDeploymentMergeRequestsFunc func(ctx context.Context, project string, deploymentID int64, maxItems int) (*MergeRequestList, error)
	// CurrentUserFunc implements CurrentUser.
	CurrentUserFunc func(ctx context.Context) (string, error)
}

var _ Client = (*FakeClient)(nil)

// errUnexpectedCall is returned by FakeClient methods left unset.
var errUnexpectedCall = errors.New("unexpected call to FakeClient")

// CreateDeployment implements Client.
func (f *FakeClient) CreateDeployment(ctx context.Context, project string, opts CreateOptions) (*Deployment, error) {
	if f.CreateDeploymentFunc == nil {
		return nil, unexpected("CreateDeployment")
	}
	return f.CreateDeploymentFunc(ctx, project, opts)
}

// UpdateDeploymentStatus implements Client.
func (f *FakeClient) UpdateDeploymentStatus(ctx context.Context, project string, id int64, status string) (*Deployment, error) {
	if f.UpdateDeploymentStatusFunc == nil {
		return nil, unexpected("UpdateDeploymentStatus")
	}
	return f.UpdateDeploymentStatusFunc(ctx, project, id, status)
}

// GetDeployment implements Client.
func (f *FakeClient) GetDeployment(ctx context.Context, project string, id int64) (*Deployment, error) {
	if f.GetDeploymentFunc == nil {
		return nil, unexpected("GetDeployment")
	}
	return f.GetDeploymentFunc(ctx, project, id)
}

// ListDeployments implements Client.
func (f *FakeClient) ListDeployments(ctx context.Context, project string, opts ListOptions) ([]Deployment, error) {
	if f.ListDeploymentsFunc == nil {
		return nil, unexpected("ListDeployments")
	}
	return f.ListDeploymentsFunc(ctx, project, opts)
}

// GetEnvironmentByName implements Client.
func (f *FakeClient) GetEnvironmentByName(ctx context.Context, project, name string) (*Environment, error) {
	if f.GetEnvironmentByNameFunc == nil {
		return nil, unexpected("GetEnvironmentByName")
	}
	return f.GetEnvironmentByNameFunc(ctx, project, name)
}

// EditEnvironment implements Client.
func (f *FakeClient) EditEnvironment(ctx context.Context, project string, id int64, edit EnvironmentEdit) (*Environment, error) {
	if f.EditEnvironmentFunc == nil {
		return nil, unexpected("EditEnvironment")
	}
	return f.EditEnvironmentFunc(ctx, project, id, edit)
}

// ResolveAgent implements Client.
func (f *FakeClient) ResolveAgent(ctx context.Context, project, ref string) (*Agent, error) {
	if f.ResolveAgentFunc == nil {
		return nil, unexpected("ResolveAgent")
	}
	return f.ResolveAgentFunc(ctx, project, ref)
}

// ListDeploymentMergeRequests implements Client.
func (f *FakeClient) ListDeploymentMergeRequests(ctx context.Context, project string, deploymentID int64, maxItems int) (*MergeRequestList, error) {
	if f.ListDeploymentMergeRequestsFunc == nil {
		return nil, unexpected("ListDeploymentMergeRequests")
	}
	return f.ListDeploymentMergeRequestsFunc(ctx, project, deploymentID, maxItems)
}

// CurrentUser implements Client.
func (f *FakeClient) CurrentUser(ctx context.Context) (string, error) {
	if f.CurrentUserFunc == nil {
		return "", unexpected("CurrentUser")
	}
	return f.CurrentUserFunc(ctx)
}

// unexpected returns a Terminal error naming the unset method.
func unexpected(method string) error {
	return &Error{Class: Terminal, Op: method, Message: errUnexpectedCall.Error(), cause: errUnexpectedCall}
}
