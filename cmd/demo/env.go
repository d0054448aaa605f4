package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/rollgate/rollgate/internal/localcluster"
	"github.com/rollgate/rollgate/internal/operator"
)

// environment is everything the demo runs: the cluster, the fake GitLab and
// rollgate, all in one working directory.
type environment struct {
	dir      string
	ownDir   bool
	cluster  *localcluster.Cluster
	gitlab   *fakeGitLab
	rollgate *rollgate
	kube     client.Client
}

// setUp starts the cluster, the fake GitLab and rollgate, telling the
// reader what each is for. On failure, what was started is stopped.
func setUp(ctx context.Context, n *narrator, o *options) (env *environment, err error) {
	env = &environment{dir: o.dir}
	if env.dir == "" {
		if env.dir, err = os.MkdirTemp("", "rollgate-demo-"); err != nil {
			return nil, fmt.Errorf("creating a working directory: %w", err)
		}
		env.ownDir = true
	} else if err := os.MkdirAll(env.dir, 0o750); err != nil {
		return nil, fmt.Errorf("creating %s: %w", env.dir, err)
	}
	defer func() {
		if err != nil {
			err = errors.Join(err, env.tearDown())
		}
	}()
	n.heading("Setting the stage")
	if err := env.startCluster(ctx, n, o); err != nil {
		return env, err
	}
	n.say("Starting a fake GitLab (%s): project %s, users %s (rollgate's token) and %s (the approver).",
		filepath.Base(o.fakeGitLabBin()), projectPath, rollgateUser, approverUser)
	if env.gitlab, err = startFakeGitLab(ctx, o.fakeGitLabBin(), env.dir); err != nil {
		return env, err
	}
	n.say("GitLab is at %s; %q is unprotected, %q needs 1 approval from %s.",
		env.gitlab.url, envStaging, envProduction, approverUser)
	if err := createCredentials(ctx, env.kube, env.gitlab.url); err != nil {
		return env, err
	}
	n.say("Starting rollgate (%s) with --default-credentials %s/%s: GitLab's URL and rollgate's token.",
		filepath.Base(o.managerBin()), systemNamespace, credentialsName)
	if env.rollgate, err = startRollgate(ctx, o.managerBin(), env.dir, o.root, env.cluster.KubeconfigPath,
		env.kube); err != nil {
		return env, err
	}
	if !env.rollgate.webhooks.empty() {
		n.say("rollgate is running, its admission webhooks served to the cluster at https://127.0.0.1:%d.",
			env.rollgate.webhookPort)
	} else {
		n.say("rollgate is running (this build has no admission webhooks).")
	}
	return env, nil
}

// startCluster starts the local Kubernetes cluster with rollgate's CRD.
func (env *environment) startCluster(ctx context.Context, n *narrator, o *options) error {
	n.say("Starting a local Kubernetes cluster: etcd, kube-apiserver, controller-manager, scheduler and")
	n.say("simulated nodes (kwok). Deployments roll out as on any cluster; no container really runs.")
	start := time.Now()
	c, err := localcluster.Start(ctx, localcluster.Options{
		BinDir:            o.k8sBin,
		Dir:               filepath.Join(env.dir, "cluster"),
		CRDDirectoryPaths: []string{filepath.Join(o.root, "config", "crd", "bases")},
	})
	if err != nil {
		return err
	}
	env.cluster = c
	if env.kube, err = client.New(c.Config, client.Options{Scheme: operator.NewScheme()}); err != nil {
		return fmt.Errorf("creating a client: %w", err)
	}
	n.say("The cluster is up (%v). Use it alongside the demo with:", time.Since(start).Round(100*time.Millisecond))
	n.command("kubectl --kubeconfig " + c.KubeconfigPath + " get gld -A")
	return nil
}

// tearDown stops everything, last started first, and removes the working
// directory unless the reader chose it.
func (env *environment) tearDown() error {
	var errs []error
	if env.rollgate != nil {
		errs = append(errs, env.rollgate.proc.Stop())
	}
	if env.gitlab != nil {
		errs = append(errs, env.gitlab.proc.Stop())
	}
	if env.cluster != nil {
		errs = append(errs, env.cluster.Stop())
	}
	if env.ownDir {
		errs = append(errs, removeAll(env.dir))
	}
	return errors.Join(errs...)
}
