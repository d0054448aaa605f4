package main

import (
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	gitlabv1alpha1 "github.com/rollgate/rollgate/api/v1alpha1"
)

// ANSI styles, used only on a terminal and when NO_COLOR is unset.
const (
	styleBold  = "\033[1m"
	styleDim   = "\033[2m"
	styleGreen = "\033[32m"
	styleRed   = "\033[31m"
	styleCyan  = "\033[36m"
	styleReset = "\033[0m"
)

// narrator writes the demo's story: headings, plain sentences, commands
// and tables.
type narrator struct {
	out   io.Writer
	color bool
	start time.Time
}

// newNarrator writes to out, in color when out is a terminal and the
// NO_COLOR convention (https://no-color.org) does not ask otherwise.
func newNarrator(out *os.File) *narrator {
	_, noColor := os.LookupEnv("NO_COLOR")
	return &narrator{out: out, color: !noColor && isTerminal(out), start: time.Now()}
}

// isTerminal reports whether f is a character device (a terminal).
func isTerminal(f *os.File) bool {
	info, err := f.Stat()
	return err == nil && info.Mode()&os.ModeCharDevice != 0
}

func (n *narrator) style(s, style string) string {
	if !n.color {
		return s
	}
	return style + s + styleReset
}

// heading starts a part of the story.
func (n *narrator) heading(title string) {
	_, _ = fmt.Fprintf(n.out, "\n%s\n", n.style("== "+title, styleBold))
}

// say writes one sentence of the story, stamped with the time since start.
func (n *narrator) say(format string, args ...any) {
	stamp := fmt.Sprintf("[%5.1fs]", time.Since(n.start).Seconds())
	_, _ = fmt.Fprintf(n.out, "%s %s\n", n.style(stamp, styleDim), fmt.Sprintf(format, args...))
}

// good writes a sentence telling of an expected outcome.
func (n *narrator) good(format string, args ...any) {
	n.say("%s", n.style(fmt.Sprintf(format, args...), styleGreen))
}

// bad writes a sentence telling of a failure or a missing piece.
func (n *narrator) bad(format string, args ...any) {
	n.say("%s", n.style(fmt.Sprintf(format, args...), styleRed))
}

// command shows a command the reader can run.
func (n *narrator) command(cmd string) {
	_, _ = fmt.Fprintf(n.out, "\n    %s\n\n", n.style(cmd, styleCyan))
}

// block writes pre-formatted lines, indented.
func (n *narrator) block(text string) {
	for line := range strings.SplitSeq(strings.TrimRight(text, "\n"), "\n") {
		_, _ = fmt.Fprintf(n.out, "    %s\n", line)
	}
}

// recordLine describes one GitLab deployment in a sentence.
func recordLine(d deployment) string {
	return fmt.Sprintf("GitLab: %s deployment #%d (%s @ %s) is %s",
		d.Environment.Name, d.IID, d.Ref, short(d.SHA), d.Status)
}

// recordsTable renders GitLab deployments like GitLab's environments page.
func recordsTable(ds []deployment) string {
	var b strings.Builder
	w := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	_, _ = fmt.Fprintln(w, "ENVIRONMENT\tIID\tREF\tSHA\tSTATUS")
	for _, d := range ds {
		_, _ = fmt.Fprintf(w, "%s\t%d\t%s\t%s\t%s\n", d.Environment.Name, d.IID, d.Ref, short(d.SHA), d.Status)
	}
	_ = w.Flush()
	return b.String()
}

// gldTable renders GitLabDeployments like `kubectl get gld -A`.
func gldTable(items []gitlabv1alpha1.GitLabDeployment) string {
	var b strings.Builder
	w := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	_, _ = fmt.Fprintln(w, "NAMESPACE\tNAME\tENVIRONMENT\tREF\tSHA\tPHASE\tIID\tGITLAB\tAPPROVAL")
	for _, g := range items {
		approval := ""
		if g.Status.Approval != nil {
			approval = string(g.Status.Approval.State)
		}
		iid := ""
		if g.Status.Record.IID != 0 {
			iid = fmt.Sprint(g.Status.Record.IID)
		}
		_, _ = fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", g.Namespace, g.Name, g.Spec.Environment,
			g.Spec.Ref, g.Status.ShortSHA, g.Status.Phase, iid, g.Status.Record.Status, approval)
	}
	_ = w.Flush()
	return b.String()
}

// short is the first 8 characters of a commit SHA, as GitLab shows it.
func short(sha string) string {
	return sha[:min(len(sha), 8)]
}
