package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"
)

// webhookPrefix is the name prefix config/default gives the webhook
// configurations, and under which rollgate injects their caBundle.
const webhookPrefix = "rollgate-"

// webhookConfigs are rollgate's admission webhook configurations.
type webhookConfigs struct {
	mutating   []*admissionregistrationv1.MutatingWebhookConfiguration
	validating []*admissionregistrationv1.ValidatingWebhookConfiguration
}

// readWebhooks reads config/webhook/manifests.yaml (generated from the
// code's webhook markers) and points every webhook at baseURL, the way the
// local kube-apiserver reaches a manager running outside the cluster. A
// missing file means a build without webhooks.
func readWebhooks(root, baseURL string) (*webhookConfigs, error) {
	path := filepath.Join(root, "config", "webhook", "manifests.yaml")
	data, err := os.ReadFile(path) //nolint:gosec // the repository's own file
	if errors.Is(err, os.ErrNotExist) {
		return &webhookConfigs{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading the webhook configurations: %w", err)
	}
	w := &webhookConfigs{}
	return w, w.decode(data, baseURL)
}

// decode adds every webhook configuration of a multi-document YAML.
func (w *webhookConfigs) decode(data []byte, baseURL string) error {
	reader := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(data)))
	for {
		doc, err := reader.Read()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("reading the webhook configurations: %w", err)
		}
		var meta metav1.TypeMeta
		if err := yaml.Unmarshal(doc, &meta); err != nil {
			return fmt.Errorf("reading the webhook configurations: %w", err)
		}
		switch meta.Kind {
		case "MutatingWebhookConfiguration":
			m := &admissionregistrationv1.MutatingWebhookConfiguration{}
			if err := yaml.Unmarshal(doc, m); err != nil {
				return err
			}
			m.Name = webhookPrefix + m.Name
			for i := range m.Webhooks {
				pointAt(&m.Webhooks[i].ClientConfig, baseURL)
			}
			w.mutating = append(w.mutating, m)
		case "ValidatingWebhookConfiguration":
			v := &admissionregistrationv1.ValidatingWebhookConfiguration{}
			if err := yaml.Unmarshal(doc, v); err != nil {
				return err
			}
			v.Name = webhookPrefix + v.Name
			for i := range v.Webhooks {
				pointAt(&v.Webhooks[i].ClientConfig, baseURL)
			}
			w.validating = append(w.validating, v)
		}
	}
}

// pointAt replaces a Service client configuration by a URL under baseURL.
func pointAt(cc *admissionregistrationv1.WebhookClientConfig, baseURL string) {
	if cc.Service != nil && cc.Service.Path != nil {
		url := baseURL + *cc.Service.Path
		cc.URL, cc.Service = &url, nil
	}
}

// empty reports whether the build has no admission webhooks.
func (w *webhookConfigs) empty() bool { return len(w.mutating)+len(w.validating) == 0 }

// names returns the names of the mutating and validating configurations.
func (w *webhookConfigs) names() (mutating, validating []string) {
	for _, m := range w.mutating {
		mutating = append(mutating, m.Name)
	}
	for _, v := range w.validating {
		validating = append(validating, v.Name)
	}
	return mutating, validating
}

// install creates the configurations in the cluster.
func (w *webhookConfigs) install(ctx context.Context, c client.Client) error {
	objs := make([]client.Object, 0, len(w.mutating)+len(w.validating))
	for _, m := range w.mutating {
		objs = append(objs, m)
	}
	for _, v := range w.validating {
		objs = append(objs, v)
	}
	for _, o := range objs {
		if err := c.Create(ctx, o); err != nil && !apierrors.IsAlreadyExists(err) {
			return fmt.Errorf("creating webhook configuration %s: %w", o.GetName(), err)
		}
	}
	return nil
}

// trusted reports whether rollgate has injected its CA into every
// configuration, so that the API server can call the webhooks.
func (w *webhookConfigs) trusted(ctx context.Context, c client.Client) bool {
	mutating, validating := w.names()
	for _, name := range mutating {
		m := &admissionregistrationv1.MutatingWebhookConfiguration{}
		if c.Get(ctx, client.ObjectKey{Name: name}, m) != nil || len(m.Webhooks) == 0 ||
			len(m.Webhooks[0].ClientConfig.CABundle) == 0 {
			return false
		}
	}
	for _, name := range validating {
		v := &admissionregistrationv1.ValidatingWebhookConfiguration{}
		if c.Get(ctx, client.ObjectKey{Name: name}, v) != nil || len(v.Webhooks) == 0 ||
			len(v.Webhooks[0].ClientConfig.CABundle) == 0 {
			return false
		}
	}
	return true
}
