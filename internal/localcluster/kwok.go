package localcluster

import (
	"bytes"
	"context"
	_ "embed"
	"fmt"
	"os"
	"path/filepath"
	"slices"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"sigs.k8s.io/yaml"
)

// NeverReadyLabel is the pod label that keeps a pod from becoming ready: its
// containers run but are never marked ready, whatever the label's value. Put
// it on a Deployment's pod template to make a rollout fail on demand.
const NeverReadyLabel = "rollgate.dev/never-ready"

const (
	// kwokNodeAnnotation marks the nodes kwok manages.
	kwokNodeAnnotation = "kwok.x-k8s.io/node"
	// nodeNamePrefix starts the name of each simulated node.
	nodeNamePrefix = "kwok-node-"
	// notReadyTaint is put on new nodes by admission and lifted by the node
	// lifecycle controller once the node is ready.
	notReadyTaint = "node.kubernetes.io/not-ready"
)

// kwokStages are the stage files, relative to kwok's stage directory, that
// drive the simulated nodes and pods: nodes become ready at once and renew
// their lease; pods become ready at once and go away at once when deleted.
var kwokStages = []string{
	"node/fast/node-initialize.yaml",
	"node/heartbeat-with-lease/node-heartbeat-with-lease.yaml",
	"pod/fast/pod-ready.yaml",
	"pod/fast/pod-complete.yaml",
	"pod/fast/pod-delete.yaml",
}

// neverReadyStage makes labelled pods run without becoming ready.
//
//go:embed stages/pod-never-ready.yaml
var neverReadyStage []byte

// neverReadyKey is the kwok selector expression reading NeverReadyLabel.
const neverReadyKey = `.metadata.labels["` + NeverReadyLabel + `"]`

// writeKwokConfig writes kwok's configuration to dest: kwok's own stages, the
// pod-ready one restricted to pods without NeverReadyLabel, plus the stage for
// pods with it.
func writeKwokConfig(stageDir, dest string) error {
	docs := make([][]byte, 0, len(kwokStages)+1)
	for _, name := range kwokStages {
		path := filepath.Join(stageDir, filepath.FromSlash(name))
		data, err := os.ReadFile(path) //nolint:gosec // G304: a stage file shipped with the binaries.
		if err != nil {
			return fmt.Errorf("cluster: reading kwok stage: %w", err)
		}
		if name == "pod/fast/pod-ready.yaml" {
			if data, err = addMatchExpression(data, neverReadyKey, "DoesNotExist"); err != nil {
				return fmt.Errorf("cluster: %s: %w", path, err)
			}
		}
		docs = append(docs, data)
	}
	neverReady, err := addMatchExpression(neverReadyStage, neverReadyKey, "Exists")
	if err != nil {
		return fmt.Errorf("cluster: never-ready stage: %w", err)
	}
	docs = append(docs, neverReady)
	//nolint:gosec // G703: dest is a file in the cluster's own directory.
	if err := os.WriteFile(dest, bytes.Join(docs, []byte("\n---\n")), 0o600); err != nil {
		return fmt.Errorf("cluster: writing the kwok configuration: %w", err)
	}
	return nil
}

// addMatchExpression appends {key, operator} to the spec.selector.matchExpressions
// of a kwok Stage document.
func addMatchExpression(stage []byte, key, operator string) ([]byte, error) {
	var doc map[string]any
	if err := yaml.Unmarshal(stage, &doc); err != nil {
		return nil, fmt.Errorf("parsing the stage: %w", err)
	}
	spec, _ := doc["spec"].(map[string]any)
	selector, _ := spec["selector"].(map[string]any)
	if selector == nil {
		return nil, fmt.Errorf("the stage has no spec.selector")
	}
	exprs, _ := selector["matchExpressions"].([]any)
	selector["matchExpressions"] = append(slices.Clip(exprs), map[string]any{"key": key, "operator": operator})
	out, err := yaml.Marshal(doc)
	if err != nil {
		return nil, fmt.Errorf("encoding the stage: %w", err)
	}
	return out, nil
}

// createNodes registers n nodes for kwok to manage.
func createNodes(ctx context.Context, cs kubernetes.Interface, n int) error {
	for i := range n {
		name := fmt.Sprintf("%s%d", nodeNamePrefix, i)
		node := &corev1.Node{ObjectMeta: metav1.ObjectMeta{
			Name:        name,
			Annotations: map[string]string{kwokNodeAnnotation: "fake"},
			Labels: map[string]string{
				"kubernetes.io/hostname": name,
				"kubernetes.io/os":       "linux",
				"kubernetes.io/arch":     "amd64",
				"type":                   "kwok",
			},
		}}
		if _, err := cs.CoreV1().Nodes().Create(ctx, node, metav1.CreateOptions{}); err != nil {
			return fmt.Errorf("cluster: creating node %s: %w", name, err)
		}
	}
	return nil
}

// allNodes reports whether there are n nodes and each satisfies accept.
func allNodes(ctx context.Context, cs kubernetes.Interface, n int, accept func(*corev1.Node) bool) bool {
	nodes, err := cs.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
	if err != nil || len(nodes.Items) < n {
		return false
	}
	for i := range nodes.Items {
		if !accept(&nodes.Items[i]) {
			return false
		}
	}
	return true
}

// nodeReady reports whether kwok has made the node ready.
func nodeReady(node *corev1.Node) bool {
	return slices.ContainsFunc(node.Status.Conditions, func(c corev1.NodeCondition) bool {
		return c.Type == corev1.NodeReady && c.Status == corev1.ConditionTrue
	})
}

// nodeSchedulable reports whether the node is ready and rid of the not-ready
// taint, which the node lifecycle controller lifts.
func nodeSchedulable(node *corev1.Node) bool {
	return nodeReady(node) && !slices.ContainsFunc(node.Spec.Taints, func(t corev1.Taint) bool {
		return t.Key == notReadyTaint
	})
}
