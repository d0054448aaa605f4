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

package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/duration"
	"sigs.k8s.io/controller-runtime/pkg/client"

	gitlabv1alpha1 "github.com/rollgate/rollgate/api/v1alpha1"
	"github.com/rollgate/rollgate/internal/bypass"
	"github.com/rollgate/rollgate/internal/rollout"
)

// now is the clock of ages; tests set it.
var now = time.Now

// rolloutsOf lists the GitLabDeployments of a Deployment, oldest first.
func rolloutsOf(ctx context.Context, k client.Reader, ns, name string) ([]gitlabv1alpha1.GitLabDeployment, error) {
	var list gitlabv1alpha1.GitLabDeploymentList
	if err := k.List(ctx, &list, client.InNamespace(ns),
		client.MatchingLabels{gitlabv1alpha1.LabelWorkload: rollout.LabelValue(name)}); err != nil {
		return nil, err
	}
	out := slices.DeleteFunc(list.Items, func(gld gitlabv1alpha1.GitLabDeployment) bool {
		return gld.Spec.WorkloadRef.Name != name
	})
	slices.SortFunc(out, rollout.Compare)
	return out, nil
}

func getDeployment(ctx context.Context, k client.Reader, ns, name string) (*appsv1.Deployment, error) {
	d := &appsv1.Deployment{}
	if err := k.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, d); err != nil {
		if apierrors.IsNotFound(err) {
			return nil, fmt.Errorf("deployment %s not found in namespace %s", name, ns)
		}
		return nil, err
	}
	return d, nil
}

// current returns the newest rollout of a template hash, or nil.
func current(rollouts []gitlabv1alpha1.GitLabDeployment, hash string) *gitlabv1alpha1.GitLabDeployment {
	for i := len(rollouts) - 1; i >= 0; i-- {
		if rollout.Hash(&rollouts[i]) == hash {
			return &rollouts[i]
		}
	}
	return nil
}

// StatusView is what status shows, and its JSON form.
type StatusView struct {
	Deployment   string                         `json:"deployment"`
	Namespace    string                         `json:"namespace"`
	TemplateHash string                         `json:"templateHash"`
	Held         bool                           `json:"held"`
	Paused       bool                           `json:"paused"`
	Rollout      string                         `json:"rollout,omitempty"`
	Revision     int64                          `json:"revision,omitempty"`
	SHA          string                         `json:"sha,omitempty"`
	Ref          string                         `json:"ref,omitempty"`
	Environment  string                         `json:"environment,omitempty"`
	Phase        gitlabv1alpha1.RolloutPhase    `json:"phase,omitempty"`
	Record       *gitlabv1alpha1.GitLabRecord   `json:"record,omitempty"`
	Approval     *gitlabv1alpha1.ApprovalStatus `json:"approval,omitempty"`
	Source       gitlabv1alpha1.ApprovalSource  `json:"approvalSource,omitempty"`
	Approved     *metav1.Condition              `json:"approvedCondition,omitempty"`
	ApproveAt    string                         `json:"approveAt,omitempty"`
}

func statusView(ctx context.Context, k client.Reader, ns, name string) (*StatusView, error) {
	deploy, err := getDeployment(ctx, k, ns, name)
	if err != nil {
		return nil, err
	}
	hash := rollout.CurrentHash(deploy)
	v := &StatusView{Deployment: name, Namespace: ns, TemplateHash: hash,
		Held: rollout.Held(deploy), Paused: deploy.Spec.Paused}
	rollouts, err := rolloutsOf(ctx, k, ns, name)
	if err != nil {
		return nil, err
	}
	gld := current(rollouts, hash)
	if gld == nil {
		return v, nil
	}
	v.Rollout, v.Revision = gld.Name, rollout.Revision(gld)
	v.SHA, v.Ref, v.Environment, v.Phase = gld.Spec.SHA, gld.Spec.Ref, gld.Spec.Environment, gld.Status.Phase
	if gld.Status.Record.IID != 0 || gld.Status.Record.Status != "" {
		rec := gld.Status.Record
		v.Record = &rec
	}
	v.Approval = gld.Status.Approval
	if gld.Spec.Approval != nil {
		v.Source = gld.Spec.Approval.Source
		v.Approved = meta.FindStatusCondition(gld.Status.Conditions, gitlabv1alpha1.ConditionApproved)
		v.ApproveAt = approveAt(gld)
	}
	return v, nil
}

// approveAt says where approvers act: the GitLab deployment that waits for
// them, or the environment's page in the project.
func approveAt(gld *gitlabv1alpha1.GitLabDeployment) string {
	env := rollout.ApprovalEnvironment(gld)
	if gld.Status.Record.WebURL != "" && env == gld.Spec.Environment {
		return gld.Status.Record.WebURL
	}
	id := ""
	if a := gld.Status.Approval; a != nil && a.DeploymentID != 0 {
		id = fmt.Sprintf(", deployment ID %d", a.DeploymentID)
	}
	return fmt.Sprintf("project %s > Operate > Environments > %s%s", gld.Spec.Project, env, id)
}

// Status prints the current rollout of a Deployment.
func Status(ctx context.Context, k client.Reader, ns, name, output string, w io.Writer) error {
	v, err := statusView(ctx, k, ns, name)
	if err != nil {
		return err
	}
	switch output {
	case "json":
		return writeJSON(w, v)
	case "":
	default:
		return fmt.Errorf("unknown output format %q (want json)", output)
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	line := func(k, format string, args ...any) { _, _ = fmt.Fprintf(tw, k+":\t"+format+"\n", args...) }
	line("Deployment", "%s/%s", ns, name)
	held := "no"
	switch {
	case v.Held:
		held = "yes: paused by rollgate until the rollout is approved"
	case v.Paused:
		held = "no (paused, but not by rollgate)"
	}
	line("Template", "%s", v.TemplateHash)
	line("Held", "%s", held)
	if v.Rollout == "" {
		line("Rollout", "none yet for this template")
		return tw.Flush()
	}
	line("Rollout", "%s (revision %s)", v.Rollout, revision(v.Revision))
	line("Commit", "%s on %s", short(v.SHA), v.Ref)
	line("Environment", "%s", v.Environment)
	line("Phase", "%s", dash(string(v.Phase)))
	if r := v.Record; r != nil {
		line("Record", "#%d %s %s", r.IID, dash(r.Status), r.WebURL)
	} else {
		line("Record", "not yet created")
	}
	if v.Source == "" && v.Approval == nil {
		line("Approval", "not gated")
		return tw.Flush()
	}
	return printApproval(w, tw, v)
}

// printApproval prints the approval part of status.
func printApproval(w io.Writer, tw *tabwriter.Writer, v *StatusView) error {
	line := func(k, format string, args ...any) { _, _ = fmt.Fprintf(tw, k+":\t"+format+"\n", args...) }
	state, open := "not requested yet", true
	if v.Approval != nil && v.Approval.State != "" {
		state, open = string(v.Approval.State), v.Approval.State == gitlabv1alpha1.ApprovalAwaiting
		if n := v.Approval.PendingCount; open && n == 1 {
			state += " (1 approval pending)"
		} else if open && n > 1 {
			state += fmt.Sprintf(" (%d approvals pending)", n)
		}
	}
	line("Approval", "%s, source %s", state, dash(string(v.Source)))
	if c := v.Approved; c != nil {
		line("Approved", "%s %s: %s", c.Status, c.Reason, c.Message)
	}
	if v.Approval != nil && v.Approval.Bypass != nil {
		line("Bypassed by", "%s: %s", v.Approval.Bypass.User, v.Approval.Bypass.Reason)
	}
	if open {
		line("Approvers act at", "%s", v.ApproveAt)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if v.Approval == nil || len(v.Approval.Rules) == 0 {
		return nil
	}
	_, _ = fmt.Fprintln(w)
	tw = tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	_, _ = fmt.Fprintln(tw, "RULE\tREQUIRED\tAPPROVED\tPENDING")
	for _, r := range v.Approval.Rules {
		_, _ = fmt.Fprintf(tw, "%s\t%d\t%d\t%d\n", dash(r.Name), r.Required, r.Approved, r.Pending)
	}
	return tw.Flush()
}

// HistoryRow is one line of history, and its JSON form.
type HistoryRow struct {
	Name     string                      `json:"name"`
	Revision int64                       `json:"revision,omitempty"`
	SHA      string                      `json:"sha"`
	Hash     string                      `json:"podTemplateHash"`
	Phase    gitlabv1alpha1.RolloutPhase `json:"phase,omitempty"`
	IID      int64                       `json:"recordIID,omitempty"`
	Record   string                      `json:"recordStatus,omitempty"`
	Approval string                      `json:"approval,omitempty"`
	Created  time.Time                   `json:"created"`
	Current  bool                        `json:"current"`
}

// History prints a Deployment's rollouts, oldest first.
func History(ctx context.Context, k client.Reader, ns, name, output string, w io.Writer) error {
	deploy, err := getDeployment(ctx, k, ns, name)
	if err != nil {
		return err
	}
	rollouts, err := rolloutsOf(ctx, k, ns, name)
	if err != nil {
		return err
	}
	hash := rollout.CurrentHash(deploy)
	cur := current(rollouts, hash)
	rows := make([]HistoryRow, 0, len(rollouts))
	for i := range rollouts {
		gld := &rollouts[i]
		r := HistoryRow{Name: gld.Name, Revision: rollout.Revision(gld), SHA: gld.Spec.SHA, Hash: rollout.Hash(gld),
			Phase: gld.Status.Phase, IID: gld.Status.Record.IID, Record: gld.Status.Record.Status,
			Created: gld.CreationTimestamp.Time, Current: gld == cur}
		switch {
		case gld.Status.Approval != nil && gld.Status.Approval.State != "":
			r.Approval = string(gld.Status.Approval.State)
		case gld.Spec.Approval != nil:
			r.Approval = "Requested"
		}
		rows = append(rows, r)
	}
	switch output {
	case "json":
		return writeJSON(w, rows)
	case "":
	default:
		return fmt.Errorf("unknown output format %q (want json)", output)
	}
	if len(rows) == 0 {
		_, err := fmt.Fprintf(w, "No rollouts recorded for deployment %s/%s.\n", ns, name)
		return err
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	_, _ = fmt.Fprintln(tw, "NAME\tREVISION\tSHA\tPHASE\tRECORD\tAPPROVAL\tAGE")
	for _, r := range rows {
		name := r.Name
		if r.Current {
			name += " *"
		}
		record := "-"
		if r.IID != 0 || r.Record != "" {
			record = fmt.Sprintf("#%d %s", r.IID, dash(r.Record))
		}
		_, _ = fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", name, revision(r.Revision), short(r.SHA),
			dash(string(r.Phase)), record, dash(r.Approval), duration.HumanDuration(now().Sub(r.Created)))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if cur != nil {
		_, err = fmt.Fprintln(w, "* the Deployment's current template")
	}
	return err
}

// Bypass sets the audited bypass annotation to reason.
func Bypass(ctx context.Context, k client.Client, ns, name, reason string, w io.Writer) error {
	reason = strings.TrimSpace(reason)
	if reason == "" {
		return errors.New("--reason is required: rollgate records it as why the approval was bypassed")
	}
	deploy, err := getDeployment(ctx, k, ns, name)
	if err != nil {
		return err
	}
	if !rollout.OptedIn(deploy.Annotations) {
		return fmt.Errorf("deployment %s/%s is not recorded by rollgate (no %s annotation): there is no approval to bypass",
			ns, name, gitlabv1alpha1.AnnotationEnvironment)
	}
	patch, err := json.Marshal(map[string]any{"metadata": map[string]any{"annotations": map[string]string{
		gitlabv1alpha1.AnnotationApprovalBypass: reason}}})
	if err != nil {
		return err
	}
	if err := k.Patch(ctx, deploy, client.RawPatch(types.MergePatchType, patch)); err != nil {
		return err
	}
	hash := rollout.CurrentHash(deploy)
	_, _ = fmt.Fprintf(w, "deployment %s/%s annotated %s=%q\n", ns, name, gitlabv1alpha1.AnnotationApprovalBypass, reason)
	if rollout.Held(deploy) {
		_, err = fmt.Fprintf(w, "rollgate releases the held template %s without approval, records the bypass "+
			"(by %s) in the rollout's status.approval.bypass and an Event, and removes the annotation.\n",
			hash, byWhom(deploy))
		return err
	}
	_, err = fmt.Fprintf(w, "The Deployment is not held: rollgate records the bypass on the rollout of template %s "+
		"and removes the annotation; it does not carry over to a later template.\n", hash)
	return err
}

func byWhom(deploy *appsv1.Deployment) string {
	if by := deploy.Annotations[gitlabv1alpha1.AnnotationApprovalBypassedBy]; by != "" {
		return bypass.User(by)
	}
	return "you, as the API server authenticated you"
}

// Abort puts back the template of the newest earlier rollout that succeeded
// in place of the held one.
func Abort(ctx context.Context, k client.Client, ns, name string, w io.Writer) error {
	deploy, err := getDeployment(ctx, k, ns, name)
	if err != nil {
		return err
	}
	hash := rollout.CurrentHash(deploy)
	if !rollout.Held(deploy) {
		return fmt.Errorf("deployment %s/%s is not held by rollgate: its template %s is not waiting for approval, "+
			"nothing to abort (use kubectl rollout undo to go back from a template that runs)", ns, name, hash)
	}
	rollouts, err := rolloutsOf(ctx, k, ns, name)
	if err != nil {
		return err
	}
	end := len(rollouts)
	for i := range rollouts {
		if rollout.Hash(&rollouts[i]) == hash {
			end = i
			break
		}
	}
	var rsets appsv1.ReplicaSetList
	if err := k.List(ctx, &rsets, client.InNamespace(ns)); err != nil {
		return err
	}
	var skipped []string
	for i := end - 1; i >= 0; i-- {
		gld := &rollouts[i]
		prev := rollout.Hash(gld)
		if prev == hash || !rollout.Succeeded(gld) {
			continue
		}
		rs := replicaSetOf(deploy, rsets.Items, prev)
		if rs == nil {
			skipped = append(skipped, gld.Name)
			continue
		}
		return restore(ctx, k, deploy, gld, rs, w)
	}
	if len(skipped) > 0 {
		return fmt.Errorf("nothing to go back to: the ReplicaSets of the earlier successful rollouts (%s) are gone "+
			"(revisionHistoryLimit); set the template yourself", strings.Join(skipped, ", "))
	}
	return fmt.Errorf("nothing to go back to: deployment %s/%s has no earlier rollout that succeeded; "+
		"the held template %s is its first", ns, name, hash)
}

// restore puts the template of a rollout's ReplicaSet back, without the
// ReplicaSet's pod-template-hash label, with an optimistic lock.
func restore(ctx context.Context, k client.Client, deploy *appsv1.Deployment, gld *gitlabv1alpha1.GitLabDeployment,
	rs *appsv1.ReplicaSet, w io.Writer) error {
	ns, name, hash, prev := deploy.Namespace, deploy.Name, rollout.CurrentHash(deploy), rollout.Hash(gld)
	before := deploy.DeepCopy()
	deploy.Spec.Template = *rs.Spec.Template.DeepCopy()
	delete(deploy.Spec.Template.Labels, appsv1.DefaultDeploymentUniqueLabelKey)
	restoreCommit(deploy, gld)
	lock := client.MergeFromWithOptions(before, client.MergeFromWithOptimisticLock{})
	if err := k.Patch(ctx, deploy, lock); err != nil {
		if apierrors.IsConflict(err) {
			return fmt.Errorf("deployment %s/%s changed meanwhile; run abort again: %w", ns, name, err)
		}
		return err
	}
	_, _ = fmt.Fprintf(w, "deployment %s/%s: template %s replaced by %s of rollout %s (ReplicaSet %s, commit %s)\n",
		ns, name, hash, prev, gld.Name, rs.Name, short(gld.Spec.SHA))
	var err error
	if deploy.Spec.Paused {
		_, err = fmt.Fprintf(w, "The Deployment is still paused; rollgate releases a template approved before "+
			"(see kubectl rollgate status %s).\n", name)
	} else {
		_, err = fmt.Fprintln(w, "rollgate released it: the restored template was approved before; the held one never ran.")
	}
	return err
}

// restoreCommit puts back the commit annotations of the rollout whose
// template is restored, so that rollgate records the commit that runs
// again, not the one of the aborted template.
func restoreCommit(deploy *appsv1.Deployment, gld *gitlabv1alpha1.GitLabDeployment) {
	if deploy.Annotations == nil {
		deploy.Annotations = map[string]string{}
	}
	deploy.Annotations[gitlabv1alpha1.AnnotationSHA] = gld.Spec.SHA
	if gld.Spec.Ref != "" {
		deploy.Annotations[gitlabv1alpha1.AnnotationRef] = gld.Spec.Ref
	}
	if gld.Spec.Tag {
		deploy.Annotations[gitlabv1alpha1.AnnotationTag] = "true"
	} else {
		delete(deploy.Annotations, gitlabv1alpha1.AnnotationTag)
	}
}

// replicaSetOf is the Deployment's ReplicaSet of a template hash.
func replicaSetOf(deploy *appsv1.Deployment, rsets []appsv1.ReplicaSet, hash string) *appsv1.ReplicaSet {
	for i := range rsets {
		rs := &rsets[i]
		if rs.Labels[appsv1.DefaultDeploymentUniqueLabelKey] != hash || rs.DeletionTimestamp != nil {
			continue
		}
		if owner := metav1.GetControllerOf(rs); owner != nil && owner.UID == deploy.UID {
			return rs
		}
	}
	return nil
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func short(sha string) string {
	if len(sha) > 8 {
		return sha[:8]
	}
	return dash(sha)
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func revision(n int64) string {
	if n == 0 {
		return "-"
	}
	return strconv.FormatInt(n, 10)
}
