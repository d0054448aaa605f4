package localcluster

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
)

// shared is the cluster the tests of this package share.
var shared *Cluster

// orphanEnv, when set, makes the test binary start a cluster in the directory
// it names, print the component PIDs and panic without stopping it.
const orphanEnv = "ROLLGATE_CLUSTER_TEST_ORPHAN_DIR"

func TestMain(m *testing.M) {
	if dir := os.Getenv(orphanEnv); dir != "" {
		startAndPanic(dir)
	}
	flag.Parse()
	if testing.Short() {
		fmt.Println("localcluster: the control-plane tests do not run with -short")
		os.Exit(0)
	}
	start := time.Now()
	c, err := Start(context.Background(), Options{Nodes: 2, AuditUsers: []string{auditedUser}})
	if err != nil {
		fmt.Fprintln(os.Stderr, "FAIL: starting the test cluster:", err)
		os.Exit(1)
	}
	fmt.Printf("cluster started in %v\n", time.Since(start).Round(time.Millisecond))
	shared = c
	code := m.Run()
	if code != 0 {
		fmt.Fprintf(os.Stderr, "cluster logs:\n%s", c.Logs(tailLines))
	}
	start = time.Now()
	if err := c.Stop(); err != nil {
		fmt.Fprintln(os.Stderr, "FAIL: stopping the test cluster:", err)
		code = 1
	}
	fmt.Printf("cluster stopped in %v\n", time.Since(start).Round(time.Millisecond))
	os.Exit(code)
}

// startAndPanic starts a cluster in dir, prints its PIDs and dies.
func startAndPanic(dir string) {
	c, err := Start(context.Background(), Options{Dir: dir})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fmt.Println("PIDS", strings.Trim(fmt.Sprint(pids(c)), "[]"))
	panic("the program dies without stopping its cluster")
}

func TestAPIServerReportsPinnedVersion(t *testing.T) {
	g := NewWithT(t)
	wd, err := os.Getwd()
	g.Expect(err).NotTo(HaveOccurred())
	root, err := repoRoot(wd)
	g.Expect(err).NotTo(HaveOccurred())
	pinned, err := pinnedVersion(root)
	g.Expect(err).NotTo(HaveOccurred())

	info, err := clientset(t, shared).Discovery().ServerVersion()
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(info.GitVersion).To(Equal(pinned))
	g.Expect(pinned).To(Equal("v1.37.2"))
}

func TestKubeconfigReachesTheCluster(t *testing.T) {
	g := NewWithT(t)
	cs := clientsetFromKubeconfig(t, shared.KubeconfigPath)
	nodes, err := cs.CoreV1().Nodes().List(t.Context(), metav1.ListOptions{})
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(nodes.Items).To(HaveLen(2))
	for _, n := range nodes.Items {
		g.Expect(n.Status.Conditions).To(ContainElement(And(
			HaveField("Type", corev1.NodeReady), HaveField("Status", corev1.ConditionTrue))))
	}
}

func TestStopLeavesNoProcessBehind(t *testing.T) {
	g := NewWithT(t)
	start := time.Now()
	c, err := Start(t.Context(), Options{})
	g.Expect(err).NotTo(HaveOccurred())
	t.Logf("second cluster started in %v", time.Since(start).Round(time.Millisecond))
	running := pids(c)
	g.Expect(running).To(HaveLen(5))
	for _, pid := range running {
		g.Expect(processGone(pid)).To(BeFalse(), "PID %d before Stop", pid)
	}

	start = time.Now()
	g.Expect(c.Stop()).To(Succeed())
	t.Logf("second cluster stopped in %v", time.Since(start).Round(time.Millisecond))
	for _, pid := range running {
		g.Expect(processGone(pid)).To(BeTrue(), "PID %d after Stop", pid)
	}
	g.Expect(c.Dir).NotTo(BeADirectory())
	g.Expect(c.Stop()).To(Succeed(), "a second Stop")
}

func TestProcessesDieWithTheProgram(t *testing.T) {
	g := NewWithT(t)
	cmd := exec.CommandContext(t.Context(), os.Args[0]) //nolint:gosec // G204: this test binary itself.
	cmd.Env = append(os.Environ(), orphanEnv+"="+t.TempDir())
	out, err := cmd.Output()
	g.Expect(err).To(HaveOccurred(), "the program was expected to panic; output:\n%s", out)

	var orphans []int
	sc := bufio.NewScanner(strings.NewReader(string(out)))
	for sc.Scan() {
		if fields := strings.Fields(sc.Text()); len(fields) > 1 && fields[0] == "PIDS" {
			for _, f := range fields[1:] {
				pid, err := strconv.Atoi(f)
				g.Expect(err).NotTo(HaveOccurred())
				orphans = append(orphans, pid)
			}
		}
	}
	g.Expect(orphans).To(HaveLen(5), "output:\n%s\n%s", out, exitOutput(err))
	for _, pid := range orphans {
		g.Eventually(func() bool { return processGone(pid) }).WithTimeout(5*time.Second).
			Should(BeTrue(), "PID %d outlived the program", pid)
	}
}

// pids returns the PIDs of the cluster's running components.
func pids(c *Cluster) []int {
	var out []int
	for _, p := range c.procs {
		if !p.Exited() {
			out = append(out, p.PID())
		}
	}
	return out
}

// processGone reports whether no live process has the PID; a zombie, killed
// but not yet reaped by its new parent, counts as gone.
func processGone(pid int) bool {
	stat, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return true
	}
	// The state follows the parenthesised command name.
	fields := strings.Fields(string(stat[strings.LastIndexByte(string(stat), ')')+1:]))
	return len(fields) > 0 && (fields[0] == "Z" || fields[0] == "X")
}

func exitOutput(err error) string {
	if exitErr, ok := errors.AsType[*exec.ExitError](err); ok {
		return string(exitErr.Stderr)
	}
	return ""
}

func clientset(t *testing.T, c *Cluster) kubernetes.Interface {
	t.Helper()
	cs, err := kubernetes.NewForConfig(c.Config)
	if err != nil {
		t.Fatal(err)
	}
	return cs
}

func clientsetFromKubeconfig(t *testing.T, path string) kubernetes.Interface {
	t.Helper()
	cfg, err := clientcmd.BuildConfigFromFlags("", path)
	if err != nil {
		t.Fatal(err)
	}
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return cs
}
