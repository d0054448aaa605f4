package faults

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	"github.com/rollgate/rollgate/test/e2e/harness"
)

// webhookPrefix is what config/default prefixes the webhook configurations
// with; rollgate injects its CA into the configurations of these names.
const webhookPrefix = "rollgate-"

// startGatedManager runs a manager serving the approval webhooks on
// 127.0.0.1, installs rollgate's webhook configurations (as
// config/webhook has them, pointed at it) and waits until the API server
// can call them. The manager acts as its own user, so the webhooks can tell
// its writes from the test's.
func startGatedManager(t *testing.T) *manager {
	t.Helper()
	port, err := harness.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	configs := readWebhooks(t, "https://127.0.0.1:"+strconv.Itoa(port))
	for _, o := range configs {
		if err := k8s.Create(t.Context(), o); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			if err := k8s.Delete(context.Background(), o); err != nil {
				t.Error(err)
			}
		})
	}
	kubeconfig := impersonatingKubeconfig(t, filepath.Join(workDir, "rollgate.kubeconfig"))
	mgr := startManager(t, "manager", nil,
		"--kubeconfig="+kubeconfig,
		"--approval-webhooks=true",
		"--webhook-port="+strconv.Itoa(port),
		"--webhook-cert-path="+filepath.Join(workDir, "webhook-certs"),
		"--webhook-cert-secret="+systemNamespace+"/rollgate-webhook-cert",
		"--webhook-hosts=127.0.0.1",
		"--approval-poll-min=1s", "--approval-poll-max=2s")
	serving := waitUntil(t.Context(), 200*time.Millisecond, time.Minute, func() bool {
		return !mgr.Running() || webhooksServing(t.Context(), configs, port)
	})
	if !serving || !mgr.Running() {
		t.Fatalf("the manager's webhooks were not served with an injected CA within a minute; log %s", mgr.LogPath)
	}
	return mgr
}

// readWebhooks reads config/webhook/manifests.yaml and points every webhook
// at baseURL.
func readWebhooks(t *testing.T, baseURL string) []client.Object {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("..", "..", "config", "webhook", "manifests.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	point := func(cc *admissionregistrationv1.WebhookClientConfig) {
		if cc.Service != nil && cc.Service.Path != nil {
			u := baseURL + *cc.Service.Path
			cc.URL, cc.Service = &u, nil
		}
	}
	var out []client.Object
	reader := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(data)))
	for {
		doc, err := reader.Read()
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		var meta metav1.TypeMeta
		if err := yaml.Unmarshal(doc, &meta); err != nil {
			t.Fatal(err)
		}
		switch meta.Kind {
		case "MutatingWebhookConfiguration":
			m := &admissionregistrationv1.MutatingWebhookConfiguration{}
			if err := yaml.Unmarshal(doc, m); err != nil {
				t.Fatal(err)
			}
			m.Name = webhookPrefix + m.Name
			for i := range m.Webhooks {
				point(&m.Webhooks[i].ClientConfig)
			}
			out = append(out, m)
		case "ValidatingWebhookConfiguration":
			v := &admissionregistrationv1.ValidatingWebhookConfiguration{}
			if err := yaml.Unmarshal(doc, v); err != nil {
				t.Fatal(err)
			}
			v.Name = webhookPrefix + v.Name
			for i := range v.Webhooks {
				point(&v.Webhooks[i].ClientConfig)
			}
			out = append(out, v)
		}
	}
}

// webhooksServing reports whether the webhook port listens and every
// configuration carries a CA.
func webhooksServing(ctx context.Context, configs []client.Object, port int) bool {
	conn, err := (&net.Dialer{Timeout: time.Second}).DialContext(ctx, "tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
	if err != nil {
		return false
	}
	_ = conn.Close()
	for _, o := range configs {
		switch o.(type) {
		case *admissionregistrationv1.MutatingWebhookConfiguration:
			m := &admissionregistrationv1.MutatingWebhookConfiguration{}
			if k8s.Get(ctx, client.ObjectKeyFromObject(o), m) != nil || len(m.Webhooks) == 0 || len(m.Webhooks[0].ClientConfig.CABundle) == 0 {
				return false
			}
		case *admissionregistrationv1.ValidatingWebhookConfiguration:
			v := &admissionregistrationv1.ValidatingWebhookConfiguration{}
			if k8s.Get(ctx, client.ObjectKeyFromObject(o), v) != nil || len(v.Webhooks) == 0 || len(v.Webhooks[0].ClientConfig.CABundle) == 0 {
				return false
			}
		}
	}
	return true
}

// impersonatingKubeconfig writes a copy of the cluster's kubeconfig that
// acts as the user "rollgate" (with admin rights) to dest.
func impersonatingKubeconfig(t *testing.T, dest string) string {
	t.Helper()
	cfg, err := clientcmd.LoadFromFile(testCluster.KubeconfigPath)
	if err != nil {
		t.Fatal(err)
	}
	for _, auth := range cfg.AuthInfos {
		auth.Impersonate = "rollgate"
		auth.ImpersonateGroups = []string{"system:masters"}
	}
	if err := clientcmd.WriteToFile(*cfg, dest); err != nil {
		t.Fatal(err)
	}
	return dest
}
