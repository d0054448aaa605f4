package localcluster

import (
	"net/http"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
)

// auditedUser is the user whose requests the shared cluster audits.
const auditedUser = "audited-user"

// TestUserConfigAndAudit checks that a user made by UserConfig is
// authenticated as such, and that the audit log holds that user's requests,
// with their status codes, and nobody else's.
func TestUserConfigAndAudit(t *testing.T) {
	g := NewWithT(t)
	ctx := t.Context()
	cfg, kubeconfig, err := shared.UserConfig(auditedUser, "system:masters")
	g.Expect(err).NotTo(HaveOccurred())
	fromFile, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(fromFile.CertData).To(Equal(cfg.CertData))

	user := kubernetes.NewForConfigOrDie(cfg)
	admin := kubernetes.NewForConfigOrDie(shared.Config)
	review, err := user.AuthenticationV1().SelfSubjectReviews().Create(ctx, &authenticationv1.SelfSubjectReview{}, metav1.CreateOptions{})
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(review.Status.UserInfo.Username).To(Equal(auditedUser))
	g.Expect(review.Status.UserInfo.Groups).To(ContainElement("system:masters"))
	from := time.Now().Add(-time.Second)
	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "audited"}}
	_, err = user.CoreV1().ConfigMaps("default").Create(ctx, cm, metav1.CreateOptions{})
	g.Expect(err).NotTo(HaveOccurred())
	_, err = user.CoreV1().ConfigMaps("default").Get(ctx, "missing", metav1.GetOptions{})
	g.Expect(apierrors.IsNotFound(err)).To(BeTrue())
	_, err = admin.CoreV1().ConfigMaps("default").Get(ctx, "audited", metav1.GetOptions{})
	g.Expect(err).NotTo(HaveOccurred())

	type seen struct {
		user, verb, resource, name string
		code                       int
	}
	g.Eventually(func() []seen {
		events, err := shared.ReadAudit()
		if err != nil {
			return nil
		}
		var out []seen
		for _, e := range events {
			if e.Received.Before(from) || e.ObjectRef.Resource != "configmaps" {
				continue
			}
			out = append(out, seen{e.User.Username, e.Verb, e.Resource(), e.ObjectRef.Name, e.ResponseStatus.Code})
		}
		return out
	}).Should(Equal([]seen{
		{auditedUser, "create", "configmaps", "audited", http.StatusCreated},
		{auditedUser, "get", "configmaps", "missing", http.StatusNotFound},
	}))
}
