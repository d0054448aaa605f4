// Package cluster runs a real, single-machine Kubernetes cluster for
// end-to-end tests, demos and benchmarks: etcd, kube-apiserver,
// kube-controller-manager (Deployment, ReplicaSet, node lifecycle, garbage
// collector and namespace controllers), kube-scheduler, and kwok simulating
// the nodes and the pods on them. Deployments roll out as on any cluster, within
// a second; no container runs.
//
// In a test package, start one cluster for all tests:
//
//	var testCluster *localcluster.Cluster
//
//	func TestMain(m *testing.M) {
//		c, err := localcluster.Start(context.Background(), localcluster.Options{
//			CRDDirectoryPaths: []string{"../../config/crd/bases"},
//		})
//		if err != nil {
//			fmt.Fprintln(os.Stderr, err)
//			os.Exit(1)
//		}
//		testCluster = c
//		code := m.Run()
//		if err := c.Stop(); err != nil {
//			fmt.Fprintln(os.Stderr, err)
//		}
//		os.Exit(code)
//	}
//
// or one per test with StartT, which stops it when the test ends. A client
// for the cluster comes from Cluster.Config; kubectl takes
// --kubeconfig=Cluster.KubeconfigPath.
//
// # Binaries
//
// The binaries are looked up in Options.BinDir, else in $ROLLGATE_K8S_BIN,
// else in bin/k8s/<version>-<os>-<arch> at the repository root (the nearest
// directory at or above the working directory holding hack/versions.env, whose
// KUBERNETES_VERSION gives <version>). `make k8s-binaries` builds them there.
//
// # Failing rollouts
//
// A pod labelled NeverReadyLabel runs but never becomes ready. A Deployment
// whose pod template carries the label never completes its rollout, and with
// spec.progressDeadlineSeconds set it reports Progressing=False with reason
// ProgressDeadlineExceeded once the deadline passes.
//
// # Users and the audit log
//
// UserConfig makes a further user, authenticated by a client certificate of
// the cluster's CA, so that a program under test is told apart from the
// others. With Options.AuditUsers the API server writes one JSON line per
// request of those users (metadata only) to Cluster.AuditLogPath; ReadAudit
// parses it. The benchmarks count the manager's requests that way.
//
// # Processes
//
// Each component runs in its own process group with its output in
// <Dir>/<component>.log. Stop ends them in the reverse order of their start.
// On Linux the kernel also kills them when the calling program dies without
// calling Stop (a panic, a test timeout, a kill), so none is left behind.
// Ports are picked free at start, so clusters may run side by side.
package localcluster
