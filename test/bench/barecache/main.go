// Command barecache is the yardstick of the manager's memory: a bare
// controller-runtime cache of every apps/v1 Deployment in full, and nothing
// else. It prints "synced" once the cache holds the cluster's
// Deployments, then waits for SIGTERM.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/go-logr/logr"
	appsv1 "k8s.io/api/apps/v1"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/log"
)

func main() {
	kubeconfig := flag.String("kubeconfig", "", "The kubeconfig file.")
	flag.Parse()
	log.SetLogger(logr.Discard())
	if err := run(*kubeconfig); err != nil {
		fmt.Fprintln(os.Stderr, "barecache:", err)
		os.Exit(1)
	}
}

func run(kubeconfig string) error {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	cfg, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	if err != nil {
		return err
	}
	scheme := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(scheme); err != nil {
		return err
	}
	c, err := cache.New(cfg, cache.Options{Scheme: scheme})
	if err != nil {
		return err
	}
	if _, err := c.GetInformer(ctx, &appsv1.Deployment{}); err != nil {
		return err
	}
	errc := make(chan error, 1)
	go func() { errc <- c.Start(ctx) }()
	if !c.WaitForCacheSync(ctx) {
		return fmt.Errorf("the cache did not sync: %w", <-errc)
	}
	// No List here: its copies would add to the memory measured.
	fmt.Println("synced")
	return <-errc
}
