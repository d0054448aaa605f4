/*
Copyright 2026 The rollgate Authors.

Licensed under the Apache License, Version 2.0 (the "License");
you may not use this file except in compliance with the License.
You may obtain a copy of the License at

    http://www.apache.org/licenses/LICENSE-2.0

Unless required by applicable law or agreed to in writing, software
distributed under the License is distributed on an "AS IS" BASIS,
WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
See the License for the specific language governing permissions and
limitations under the License.
*/

// Command kubectl-rollgate is a kubectl plugin that shows and steers
// rollgate's rollouts of a Deployment: kubectl rollgate status, history,
// bypass and abort.
package main

import (
	"context"
	"os"

	"github.com/spf13/cobra"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/rollgate/rollgate/internal/operator"
)

func main() {
	if err := newRootCommand().Execute(); err != nil {
		os.Exit(1)
	}
}

// connection holds the kubeconfig flags, as kubectl names them.
type connection struct {
	kubeconfig string
	context    string
	namespace  string
}

// client returns a client of the cluster and the namespace to act in.
func (c *connection) client() (client.Client, string, error) {
	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	rules.ExplicitPath = c.kubeconfig
	overrides := &clientcmd.ConfigOverrides{CurrentContext: c.context}
	overrides.Context.Namespace = c.namespace
	cfg := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, overrides)
	ns, _, err := cfg.Namespace()
	if err != nil {
		return nil, "", err
	}
	rest, err := cfg.ClientConfig()
	if err != nil {
		return nil, "", err
	}
	rest.UserAgent = "kubectl-rollgate"
	k, err := client.New(rest, client.Options{Scheme: operator.NewScheme()})
	return k, ns, err
}

// action is what a subcommand does to the Deployment name in namespace ns.
type action func(ctx context.Context, k client.Client, ns string, cmd *cobra.Command, name string) error

func newRootCommand() *cobra.Command {
	conn := &connection{}
	root := &cobra.Command{
		Use:           "kubectl-rollgate",
		Short:         "Show and steer rollgate's rollouts of a Deployment",
		SilenceUsage:  true,
		SilenceErrors: false,
	}
	root.PersistentFlags().StringVar(&conn.kubeconfig, "kubeconfig", "", "path to the kubeconfig file")
	root.PersistentFlags().StringVar(&conn.context, "context", "", "the kubeconfig context to use")
	root.PersistentFlags().StringVarP(&conn.namespace, "namespace", "n", "", "the namespace of the Deployment")

	run := func(do action) func(*cobra.Command, []string) error {
		return func(cmd *cobra.Command, args []string) error {
			k, ns, err := conn.client()
			if err != nil {
				return err
			}
			return do(cmd.Context(), k, ns, cmd, args[0])
		}
	}
	var output string
	status := &cobra.Command{
		Use:   "status DEPLOYMENT",
		Short: "The current rollout: its record, phase, hold and approval rules",
		Args:  cobra.ExactArgs(1),
		RunE: run(func(ctx context.Context, k client.Client, ns string, cmd *cobra.Command, name string) error {
			return Status(ctx, k, ns, name, output, cmd.OutOrStdout())
		}),
	}
	status.Flags().StringVarP(&output, "output", "o", "", "output format: empty for text, or json")
	history := &cobra.Command{
		Use:   "history DEPLOYMENT",
		Short: "The Deployment's rollouts, oldest first",
		Args:  cobra.ExactArgs(1),
		RunE: run(func(ctx context.Context, k client.Client, ns string, cmd *cobra.Command, name string) error {
			return History(ctx, k, ns, name, output, cmd.OutOrStdout())
		}),
	}
	history.Flags().StringVarP(&output, "output", "o", "", "output format: empty for text, or json")
	var reason string
	bypass := &cobra.Command{
		Use:   "bypass DEPLOYMENT --reason REASON",
		Short: "Release the held rollout without approval; rollgate records who did it and why",
		Args:  cobra.ExactArgs(1),
		RunE: run(func(ctx context.Context, k client.Client, ns string, cmd *cobra.Command, name string) error {
			return Bypass(ctx, k, ns, name, reason, cmd.OutOrStdout())
		}),
	}
	bypass.Flags().StringVar(&reason, "reason", "", "why the approval is bypassed (required)")
	abort := &cobra.Command{
		Use:   "abort DEPLOYMENT",
		Short: "Go back from the held template to the last one that succeeded",
		Args:  cobra.ExactArgs(1),
		RunE: run(func(ctx context.Context, k client.Client, ns string, cmd *cobra.Command, name string) error {
			return Abort(ctx, k, ns, name, cmd.OutOrStdout())
		}),
	}
	root.AddCommand(status, history, bypass, abort)
	return root
}
