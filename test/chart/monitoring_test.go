package chart

import (
	"encoding/json"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	. "github.com/onsi/gomega"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"
)

// The alert rules pass promtool's checks and unit tests
// (files/prometheus-rules_test.yaml).
func TestAlertRules(t *testing.T) {
	promtool := tool(t, "PROMTOOL", "promtool")
	files := filepath.Join(root(t), "charts", "rollgate", "files")
	run(t, files, promtool, "check", "rules", "prometheus-rules.yaml")
	run(t, files, promtool, "test", "rules", "prometheus-rules_test.yaml")
}

// Every alert has a unit test, so that a new alert cannot be shipped
// untested.
func TestEveryAlertIsTested(t *testing.T) {
	g := NewWithT(t)
	files := filepath.Join(root(t), "charts", "rollgate", "files")
	var rules struct {
		Groups []struct {
			Rules []struct {
				Alert string `json:"alert"`
			} `json:"rules"`
		} `json:"groups"`
	}
	var tests struct {
		Tests []struct {
			AlertRuleTest []struct {
				AlertName string `json:"alertname"`
				ExpAlerts []any  `json:"exp_alerts"`
			} `json:"alert_rule_test"`
		} `json:"tests"`
	}
	readYAML(t, filepath.Join(files, "prometheus-rules.yaml"), &rules)
	readYAML(t, filepath.Join(files, "prometheus-rules_test.yaml"), &tests)
	firing := map[string]bool{}
	for _, tc := range tests.Tests {
		for _, a := range tc.AlertRuleTest {
			firing[a.AlertName] = firing[a.AlertName] || len(a.ExpAlerts) > 0
		}
	}
	var alerts []string
	for _, group := range rules.Groups {
		for _, rule := range group.Rules {
			alerts = append(alerts, rule.Alert)
			g.Expect(firing).To(HaveKeyWithValue(rule.Alert, true), "no test sees %s fire", rule.Alert)
		}
	}
	g.Expect(alerts).NotTo(BeEmpty())
}

// The chart's PrometheusRule holds the rule file's alerts, less the disabled
// ones, with alertLabels and the overrides applied.
func TestChartPrometheusRule(t *testing.T) {
	g := NewWithT(t)
	objs := helmTemplate(t, "--set", "prometheusRule.enabled=true",
		"--set", "prometheusRule.disabled={RollgateWebhookErrors}",
		"--set", "prometheusRule.alertLabels.team=platform",
		"--set", "prometheusRule.overrides.RollgateRolloutHeldTooLong.for=4h",
		"--set", "prometheusRule.overrides.RollgateRolloutHeldTooLong.labels.severity=warning")
	var rule map[string]any
	for _, obj := range objs {
		if obj.GetKind() == "PrometheusRule" {
			rule = obj.Object
		}
	}
	g.Expect(rule).NotTo(BeNil())
	data, err := json.Marshal(rule["spec"])
	g.Expect(err).NotTo(HaveOccurred())
	var spec struct {
		Groups []struct {
			Rules []struct {
				Alert  string            `json:"alert"`
				For    string            `json:"for"`
				Expr   string            `json:"expr"`
				Labels map[string]string `json:"labels"`
			} `json:"rules"`
		} `json:"groups"`
	}
	g.Expect(json.Unmarshal(data, &spec)).To(Succeed())
	g.Expect(spec.Groups).To(HaveLen(1))
	byName := map[string]int{}
	for i, r := range spec.Groups[0].Rules {
		byName[r.Alert] = i
		g.Expect(r.Labels).To(HaveKeyWithValue("team", "platform"))
		g.Expect(r.Expr).NotTo(BeEmpty())
	}
	g.Expect(byName).NotTo(HaveKey("RollgateWebhookErrors"))
	g.Expect(byName).To(HaveKey("RollgateGitLabThrottled"))
	held := spec.Groups[0].Rules[byName["RollgateRolloutHeldTooLong"]]
	g.Expect(held.For).To(Equal("4h"))
	g.Expect(held.Labels).To(HaveKeyWithValue("severity", "warning"))
	throttled := spec.Groups[0].Rules[byName["RollgateGitLabThrottled"]]
	g.Expect(throttled.For).To(Equal("10m"))
	g.Expect(throttled.Labels).To(HaveKeyWithValue("severity", "warning"))
}

// Grafana's variables in the dashboard's queries, and what promtool parses
// in their place.
var dashboardVariables = strings.NewReplacer(
	"$__rate_interval", "5m", "$__interval", "1m", "$__range", "1h", "$job", "rollgate")

// The metrics the dashboard may query: rollgate's own and controller-runtime's.
var knownMetric = regexp.MustCompile(`^(rollgate_(gitlab_requests_total|gitlab_request_duration_seconds_bucket|` +
	`rollouts_recorded_total|records_running_too_long|rollout_phase|build_info)|` +
	`workqueue_(depth|queue_duration_seconds_bucket|retries_total|longest_running_processor_seconds)|` +
	`controller_runtime_(reconcile_total|reconcile_errors_total|reconcile_time_seconds_bucket|` +
	`webhook_requests_total|webhook_latency_seconds_bucket))$`)

// Every PromQL expression of the dashboard parses, and queries only metrics
// rollgate exports.
func TestDashboard(t *testing.T) {
	g := NewWithT(t)
	promtool := tool(t, "PROMTOOL", "promtool")
	data, err := os.ReadFile(filepath.Join(root(t), "charts", "rollgate", "files", "dashboards", "rollgate.json"))
	g.Expect(err).NotTo(HaveOccurred())
	var dashboard map[string]any
	g.Expect(json.Unmarshal(data, &dashboard)).To(Succeed())
	g.Expect(dashboard).To(HaveKeyWithValue("uid", "rollgate"))
	exprs := collectExprs(dashboard)
	g.Expect(len(exprs)).To(BeNumerically(">=", 10))
	metricName := regexp.MustCompile(`\b(rollgate|workqueue|controller_runtime)_[a-z_]+\b`)
	for _, expr := range exprs {
		out, err := runErr(t, root(t), promtool, "--experimental", "promql", "format", dashboardVariables.Replace(expr))
		g.Expect(err).NotTo(HaveOccurred(), "the dashboard's query %q", expr)
		g.Expect(strings.TrimSpace(string(out))).NotTo(BeEmpty())
		names := metricName.FindAllString(expr, -1)
		g.Expect(names).NotTo(BeEmpty(), "%q queries none of rollgate's metrics", expr)
		for _, name := range names {
			g.Expect(name).To(MatchRegexp(knownMetric.String()), "%q", expr)
		}
	}
	// Its panels cover rollouts, GitLab, held rollouts and the reconcile queue.
	all := strings.Join(exprs, "\n")
	for _, m := range []string{"rollgate_rollouts_recorded_total", "rollgate_gitlab_request_duration_seconds_bucket",
		`rollgate_rollout_phase{job=~"$job",phase="AwaitingApproval"}`, "workqueue_depth"} {
		g.Expect(all).To(ContainSubstring(m))
	}

	// The chart ships it in a ConfigMap for Grafana's sidecar.
	objs := helmTemplate(t, "--set", "grafana.dashboard.enabled=true,grafana.dashboard.folder=Operators")
	cm := objs[slices.IndexFunc(objs, func(o *unstructured.Unstructured) bool { return o.GetKind() == "ConfigMap" })]
	g.Expect(cm.GetLabels()).To(HaveKeyWithValue("grafana_dashboard", "1"))
	g.Expect(cm.GetAnnotations()).To(HaveKeyWithValue("grafana_folder", "Operators"))
	shipped, _, _ := unstructured.NestedString(cm.Object, "data", "rollgate.json")
	g.Expect(shipped).To(MatchJSON(data))
}

// collectExprs returns the "expr" of every panel target, depth first.
func collectExprs(v any) []string {
	var out []string
	switch v := v.(type) {
	case map[string]any:
		if e, ok := v["expr"].(string); ok {
			out = append(out, e)
		}
		for _, k := range slices.Sorted(maps.Keys(v)) {
			out = append(out, collectExprs(v[k])...)
		}
	case []any:
		for _, e := range v {
			out = append(out, collectExprs(e)...)
		}
	}
	return out
}

func readYAML(t *testing.T, path string, into any) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(data, into); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}
