package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	gitlabv1alpha1 "github.com/rollgate/rollgate/api/v1alpha1"
	rolloutpkg "github.com/rollgate/rollgate/internal/rollout"
	"github.com/rollgate/rollgate/test/e2e/harness"
)

// seedHistory gives each of the first optedIn opted-in Deployments n earlier
// rollouts, settled as rollgate leaves them: a success record in GitLab and
// a GitLabDeployment recording it (Succeeded, record synced), older than
// the Deployment's current rollout. Rolling out n times through the cluster
// and the manager would take far longer than the benchmark may.
func (e *benchEnv) seedHistory(ctx context.Context, optedIn, n int) error {
	return parallel(ctx, optedIn, createWorkers, func(k int) error {
		d := &appsv1.Deployment{}
		if err := e.k8s.Get(ctx, deploymentKey(optedInIndex(k)), d); err != nil {
			return err
		}
		for rev := 1; rev <= n; rev++ {
			if err := e.seedRollout(ctx, d, n, rev); err != nil {
				return err
			}
		}
		return nil
	})
}

// seedRollout creates the rev-th of n earlier rollouts of d.
func (e *benchEnv) seedRollout(ctx context.Context, d *appsv1.Deployment, n, rev int) error {
	sha := commit(fmt.Sprintf("history %d", rev))
	rec, err := e.seedRecord(ctx, environment(types.NamespacedName{Namespace: d.Namespace, Name: d.Name}), sha)
	if err != nil {
		return err
	}
	annotations := maps.Clone(d.Annotations)
	annotations[gitlabv1alpha1.AnnotationSHA] = sha
	spec, err := rolloutpkg.SpecFromAnnotations(d.Name, annotations)
	if err != nil {
		return err
	}
	spec.PodTemplateHash = fmt.Sprintf("h%08d", rev)
	gld := &gitlabv1alpha1.GitLabDeployment{
		ObjectMeta: metav1.ObjectMeta{
			Namespace: d.Namespace, Name: d.Name + "-" + spec.PodTemplateHash,
			// As rollgate leaves a superseded rollout with nothing left to
			// do: settled, without the record finalizer.
			Labels: map[string]string{gitlabv1alpha1.LabelWorkload: d.Name, gitlabv1alpha1.LabelSettled: "true",
				gitlabv1alpha1.LabelRecordID: strconv.FormatInt(rec.ID, 10)},
			// No revision: rollgate numbers a rollout with its Deployment's
			// generation, and this Deployment was created once, with its
			// current template (generation 1); numbers 1 to n would make
			// the seed newer than the current rollout. Without one, the
			// creation time orders them: the seed is older.
		},
		Spec: spec,
	}
	if err := controllerutil.SetOwnerReference(d, gld, e.k8s.Scheme()); err != nil {
		return err
	}
	if err := e.k8s.Create(ctx, gld); err != nil {
		return err
	}
	at := metav1.NewTime(time.Now().Add(-time.Duration(n-rev+1) * time.Hour))
	msg := fmt.Sprintf("GitLab deployment #%d in %s is success", rec.IID, spec.Environment)
	gld.Status = gitlabv1alpha1.GitLabDeploymentStatus{
		ObservedGeneration: gld.Generation,
		Phase:              gitlabv1alpha1.PhaseSucceeded,
		ShortSHA:           sha[:8],
		PodTemplateHash:    spec.PodTemplateHash,
		Record: gitlabv1alpha1.GitLabRecord{ID: rec.ID, IID: rec.IID, Status: "success",
			EnvironmentID: rec.Environment.ID, WebURL: rec.WebURL, CreatedAt: &at, UpdatedAt: &at},
		Rollout: gitlabv1alpha1.RolloutObservation{Replicas: 1, UpdatedReplicas: 1, AvailableReplicas: 1,
			StartedAt: &at, FinishedAt: &at},
		Conditions: []metav1.Condition{
			{Type: gitlabv1alpha1.ConditionRecordSynced, Status: metav1.ConditionTrue, Reason: gitlabv1alpha1.ReasonRecordSynced,
				Message: msg, ObservedGeneration: gld.Generation, LastTransitionTime: at},
			{Type: gitlabv1alpha1.ConditionReady, Status: metav1.ConditionTrue, Reason: string(gitlabv1alpha1.PhaseSucceeded),
				Message: msg, ObservedGeneration: gld.Generation, LastTransitionTime: at},
		},
	}
	return e.k8s.Status().Update(ctx, gld)
}

// seededRecord is what the fake GitLab answers a deployment POST with.
type seededRecord struct {
	ID          int64  `json:"id"`
	IID         int64  `json:"iid"`
	WebURL      string `json:"web_url"`
	Environment struct {
		ID int64 `json:"id"`
	} `json:"environment"`
}

// seedRecord creates a success record in the fake GitLab, as the manager's
// user, straight through its handler (not the write log the benchmark
// measures).
func (e *benchEnv) seedRecord(ctx context.Context, env, sha string) (*seededRecord, error) {
	body, err := json.Marshal(map[string]any{"environment": env, "sha": sha, "ref": "main", "tag": false, "status": "success"})
	if err != nil {
		return nil, err
	}
	req := httptest.NewRequestWithContext(ctx, http.MethodPost, "/api/v4/projects/"+url.PathEscape(project)+"/deployments", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("PRIVATE-TOKEN", harness.GitLabToken)
	rec := httptest.NewRecorder()
	e.gitLab.Fake.ServeHTTP(rec, req)
	if rec.Code != http.StatusCreated && rec.Code != http.StatusOK {
		return nil, fmt.Errorf("seeding a GitLab record: %d %s", rec.Code, rec.Body.String())
	}
	var out seededRecord
	if err := json.Unmarshal(rec.Body.Bytes(), &out); err != nil {
		return nil, err
	}
	return &out, nil
}
