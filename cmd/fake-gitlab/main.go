// Command fake-gitlab serves rollgate's fake GitLab (package gitlabtest):
// GitLab's REST Deployments API under /api/v4 and a JSON control API under
// /-/fake, seeded from flags and/or a seed file. See the gitlabtest package
// documentation for the seed file format and the control API.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/rollgate/rollgate/internal/gitlab/gitlabtest"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, nil); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			os.Exit(0)
		}
		_, _ = fmt.Fprintln(os.Stderr, "fake-gitlab:", err)
		os.Exit(2)
	}
}

// run serves until ctx is done. When ready is not nil, the server's URL is
// sent on it once listening.
func run(ctx context.Context, args []string, out io.Writer, ready chan<- string) error {
	o, err := parseFlags(args, out)
	if err != nil {
		return err
	}
	ln, err := (&net.ListenConfig{}).Listen(ctx, "tcp", o.listen)
	if err != nil {
		return fmt.Errorf("listening on %s: %w", o.listen, err)
	}
	url := "http://" + ln.Addr().String()
	if o.baseURL == "" {
		o.baseURL = url
	}
	fake, err := o.build()
	if err != nil {
		_ = ln.Close()
		return err
	}
	defer fake.Close()
	srv := &http.Server{Handler: fake, ReadHeaderTimeout: 10 * time.Second}
	printBanner(out, url, o)
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	if ready != nil {
		ready <- url
	}
	select {
	case err := <-errc:
		return fmt.Errorf("serving: %w", err)
	case <-ctx.Done():
	}
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		return fmt.Errorf("shutting down: %w", err)
	}
	_, _ = fmt.Fprintln(out, "fake-gitlab stopped")
	return nil
}

func printBanner(out io.Writer, url string, o *options) {
	_, _ = fmt.Fprintf(out, "fake GitLab listening on %s (REST API %s/api/v4, control API %s/-/fake)\n", url, url, url)
	if o.baseURL != url {
		_, _ = fmt.Fprintf(out, "external URL %s\n", o.baseURL)
	}
	for _, t := range o.seed.Tokens {
		kind := t.Kind
		if kind == "" {
			kind = gitlabtest.PersonalToken
		}
		scopes := strings.Join(t.Scopes, ",")
		if scopes == "" {
			scopes = "api"
		}
		_, _ = fmt.Fprintf(out, "token %s user=%s kind=%s scopes=%s\n", t.Token, t.User, kind, scopes)
	}
	for _, p := range o.seed.Projects {
		_, _ = fmt.Fprintf(out, "project %s\n", p.Path)
	}
}
