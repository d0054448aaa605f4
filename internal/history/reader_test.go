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

package history

import (
	"context"
	"errors"
	"testing"

	. "github.com/onsi/gomega"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/client"

	gitlabv1alpha1 "github.com/rollgate/rollgate/api/v1alpha1"
)

// listRecorder answers lists with the given errors, in turn, and records
// what each list asked the API server for.
type listRecorder struct {
	client.Reader
	errs []error
	asks []metav1.ListOptions
	nss  []string
}

func (l *listRecorder) List(_ context.Context, list client.ObjectList, opts ...client.ListOption) error {
	lo := &client.ListOptions{}
	lo.ApplyOptions(opts)
	l.nss = append(l.nss, lo.Namespace)
	l.asks = append(l.asks, *lo.AsListOptions())
	if len(l.errs) > 0 {
		err := l.errs[0]
		l.errs = l.errs[1:]
		if err != nil {
			return err
		}
	}
	list.(*gitlabv1alpha1.GitLabDeploymentList).Items = []gitlabv1alpha1.GitLabDeployment{{}}
	return nil
}

type syncedAt string

func (s syncedAt) LastSyncResourceVersion() string { return string(s) }

// tooLarge is the API server's answer to a list newer than its watch
// cache, after waiting for it (k8s.io/apiserver's
// storage.NewTooLargeResourceVersionError).
func tooLarge() error {
	err := apierrors.NewTimeoutError("Too large resource version: 900, current: 850", 1)
	err.ErrStatus.Details.Causes = []metav1.StatusCause{{Type: metav1.CauseTypeResourceVersionTooLarge, Message: "Too large resource version"}}
	return err
}

func listShop(r client.Reader) (*gitlabv1alpha1.GitLabDeploymentList, error) {
	list := &gitlabv1alpha1.GitLabDeploymentList{}
	err := r.List(context.Background(), list, client.InNamespace("shop"), client.MatchingLabels{gitlabv1alpha1.LabelWorkload: "web"})
	return list, err
}

// A list is served from the watch cache, no older than the informer, with
// the caller's namespace and selector.
func TestReaderListsNoOlderThanTheInformer(t *testing.T) {
	g := NewWithT(t)
	api := &listRecorder{}
	list, err := listShop(&Reader{Reader: api, Synced: syncedAt("850")})
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(list.Items).To(HaveLen(1))
	g.Expect(api.asks).To(HaveLen(1))
	g.Expect(api.asks[0].ResourceVersion).To(Equal("850"))
	g.Expect(api.asks[0].ResourceVersionMatch).To(Equal(metav1.ResourceVersionMatchNotOlderThan))
	g.Expect(api.asks[0].LabelSelector).To(Equal(gitlabv1alpha1.LabelWorkload + "=web"))
	g.Expect(api.nss).To(Equal([]string{"shop"}))
}

// Before the informer has synced, and without one, a list is consistent.
func TestReaderListsConsistentlyWithoutAResourceVersion(t *testing.T) {
	for name, synced := range map[string]Synced{"not synced": syncedAt(""), "no informer": nil} {
		t.Run(name, func(t *testing.T) {
			g := NewWithT(t)
			api := &listRecorder{}
			_, err := listShop(&Reader{Reader: api, Synced: synced})
			g.Expect(err).NotTo(HaveOccurred())
			g.Expect(api.asks).To(HaveLen(1))
			g.Expect(api.asks[0].ResourceVersion).To(BeEmpty())
			g.Expect(api.asks[0].ResourceVersionMatch).To(BeEmpty())
		})
	}
}

// An API server whose watch cache is behind the informer (another replica)
// answers "too large resource version": the list is made consistently
// instead, and its answer returned.
func TestReaderFallsBackToAConsistentList(t *testing.T) {
	g := NewWithT(t)
	api := &listRecorder{errs: []error{tooLarge()}}
	list, err := listShop(&Reader{Reader: api, Synced: syncedAt("900")})
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(list.Items).To(HaveLen(1))
	g.Expect(api.asks).To(HaveLen(2))
	g.Expect(api.asks[1].ResourceVersion).To(BeEmpty())
	g.Expect(api.nss).To(Equal([]string{"shop", "shop"}))
	g.Expect(api.asks[1].LabelSelector).To(Equal(api.asks[0].LabelSelector))
}

// Other errors are returned as they are, without a second list.
func TestReaderReturnsOtherErrors(t *testing.T) {
	g := NewWithT(t)
	for _, failure := range []error{
		apierrors.NewForbidden(schema.GroupResource{Group: gitlabv1alpha1.GroupVersion.Group, Resource: "gitlabdeployments"}, "", errors.New("no")),
		apierrors.NewTimeoutError("the server was unable to return a response in the time allotted", 0),
	} {
		api := &listRecorder{errs: []error{failure}}
		_, err := listShop(&Reader{Reader: api, Synced: syncedAt("900")})
		g.Expect(err).To(MatchError(failure))
		g.Expect(api.asks).To(HaveLen(1))
	}
}
