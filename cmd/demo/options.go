package main

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
)

// options are the demo's command-line settings.
type options struct {
	// autoApprove approves production without waiting for a person and
	// exits at the end of the story.
	autoApprove bool
	// binDir holds the manager and fake-gitlab binaries.
	binDir string
	// k8sBin holds the control-plane binaries; empty means internal/localcluster's
	// default lookup.
	k8sBin string
	// root is the repository root (config/crd, config/webhook).
	root string
	// dir is the working directory, kept when given.
	dir string
	// report, when set, receives GitLab's final deployments as JSON.
	report string
}

// parseOptions reads the flags. --auto-approve defaults to true when
// DEMO_AUTO_APPROVE=1 or when stdin is not a terminal (no one can press
// Enter, and a script should not wait for ever).
func parseOptions(args []string) (*options, error) {
	o := &options{}
	fs := flag.NewFlagSet("demo", flag.ContinueOnError)
	autoDefault := os.Getenv("DEMO_AUTO_APPROVE") == "1" || !isTerminal(os.Stdin)
	fs.BoolVar(&o.autoApprove, "auto-approve", autoDefault,
		"approve the production rollout without waiting and exit at the end "+
			"(default true when DEMO_AUTO_APPROVE=1 or stdin is not a terminal)")
	fs.StringVar(&o.binDir, "bin-dir", "", "directory holding the manager and fake-gitlab binaries (default: <repo>/bin)")
	fs.StringVar(&o.k8sBin, "k8s-bin", "", "directory holding the control-plane binaries (default: $ROLLGATE_K8S_BIN, "+
		"else bin/k8s/<version>-<os>-<arch>)")
	fs.StringVar(&o.root, "repo", "", "the rollgate repository (default: the nearest directory above holding go.mod)")
	fs.StringVar(&o.dir, "dir", "",
		"working directory for logs and cluster files, kept afterwards (default: a temporary one)")
	fs.StringVar(&o.report, "report", "", "write GitLab's final deployments to this file as JSON")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected arguments: %v", fs.Args())
	}
	return o, o.resolve()
}

// resolve finds the repository and checks that the binaries are there.
func (o *options) resolve() error {
	if o.root == "" {
		wd, err := os.Getwd()
		if err != nil {
			return err
		}
		if o.root, err = findRepo(wd); err != nil {
			return err
		}
	}
	if o.binDir == "" {
		o.binDir = filepath.Join(o.root, "bin")
	}
	var err error
	if o.binDir, err = filepath.Abs(o.binDir); err != nil {
		return err
	}
	for _, bin := range []string{o.managerBin(), o.fakeGitLabBin()} {
		if _, err := os.Stat(bin); err != nil {
			return fmt.Errorf("%s is missing: run `make demo`, which builds it (%w)", bin, err)
		}
	}
	return nil
}

// findRepo walks up from dir to the directory holding go.mod.
func findRepo(dir string) (string, error) {
	for d := dir; ; d = filepath.Dir(d) {
		if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
			return d, nil
		}
		if filepath.Dir(d) == d {
			return "", fmt.Errorf("no go.mod in %s or above: run the demo inside the rollgate repository, or pass --repo", dir)
		}
	}
}

func (o *options) managerBin() string    { return filepath.Join(o.binDir, "manager") }
func (o *options) fakeGitLabBin() string { return filepath.Join(o.binDir, "fake-gitlab") }

// enterPresses delivers one value each time the reader presses Enter.
func enterPresses(ctx context.Context) <-chan struct{} {
	ch := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(os.Stdin)
		for sc.Scan() {
			select {
			case ch <- struct{}{}:
			case <-ctx.Done():
				return
			}
		}
	}()
	return ch
}
