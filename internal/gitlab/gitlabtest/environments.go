package gitlabtest

import (
	"crypto/sha256"
	"encoding/hex"
	"math/big"
	"regexp"
	"strings"
)

// Environment name rules, from Gitlab::Regex.
const (
	envNameMaxLength = 255
	envNameFormatMsg = "can contain only letters, digits, '-', '_', '/', '$', '{', '}', '.', and spaces, " +
		"but it cannot start or end with '/'"
)

var envNameRegexp = regexp.MustCompile(`\A[a-zA-Z0-9_\$\{\}\. \-]([a-zA-Z0-9_/\$\{\}\. \-]*[a-zA-Z0-9_\$\{\}\. \-])?\z`)

// validateEnvironmentName returns the model's error messages for name.
func validateEnvironmentName(name string) []string {
	var msgs []string
	if strings.TrimSpace(name) == "" {
		msgs = append(msgs, "can't be blank")
	}
	if len([]rune(name)) > envNameMaxLength {
		msgs = append(msgs, "is too long (maximum is 255 characters)")
	}
	if !envNameRegexp.MatchString(name) {
		msgs = append(msgs, envNameFormatMsg)
	}
	return msgs
}

// findOrCreateEnvironment is environments.find_or_create_by_name.
func (f *Fake) findOrCreateEnvironment(p *project, name string) (*environment, *apiError) {
	if e := p.environmentNamed(name); e != nil {
		return e, nil
	}
	if msgs := validateEnvironmentName(name); len(msgs) > 0 {
		return nil, validationError("name", msgs...)
	}
	return f.newEnvironment(p, name), nil
}

// newEnvironment stores a new available environment with a guessed tier.
func (f *Fake) newEnvironment(p *project, name string) *environment {
	now := f.now()
	e := &environment{
		id: f.next("environment"), project: p, name: name, slug: environmentSlug(name),
		tier: guessTier(name), state: envAvailable, autoStopSetting: autoStopAlways,
		createdAt: now, updatedAt: now,
	}
	p.environments = append(p.environments, e)
	return e
}

func (p *project) environmentNamed(name string) *environment {
	for _, e := range p.environments {
		if e.name == name {
			return e
		}
	}
	return nil
}

var (
	nonSlugChars = regexp.MustCompile(`[^a-z0-9]`)
	dashes       = regexp.MustCompile(`-+`)
)

// environmentSlug is Gitlab::Slug::Environment.
func environmentSlug(name string) string {
	s := nonSlugChars.ReplaceAllString(strings.ToLower(name), "-")
	if s == "" || s[0] < 'a' || s[0] > 'z' {
		s = "env-" + s
	}
	s = dashes.ReplaceAllString(s, "-")
	if len(s) > 24 || s != name {
		if len(s) > 17 {
			s = s[:17]
		}
		if !strings.HasSuffix(s, "-") {
			s += "-"
		}
		return s + slugSuffix(name)
	}
	return strings.TrimSuffix(s, "-")
}

// slugSuffix is the predictable six-character suffix GitLab derives from
// the SHA-256 of the name.
func slugSuffix(name string) string {
	sum := sha256.Sum256([]byte(name))
	n, _ := new(big.Int).SetString(hex.EncodeToString(sum[:]), 16)
	s := n.Text(36)
	return s[len(s)-6:]
}

var tierPatterns = []struct {
	tier string
	re   *regexp.Regexp
}{
	{"development", regexp.MustCompile(`(?i)(dev|review|trunk)`)},
	{"testing", regexp.MustCompile(`(?i)(test|tst|int|ac(ce|)pt|qa|qc|control|quality)`)},
	{"staging", regexp.MustCompile(`(?i)(st(a|)g|mod(e|)l|pre|demo|non)`)},
	{"production", regexp.MustCompile(`(?i)(pr(o|)d|live)`)},
}

// guessTier is Environment#guess_tier.
func guessTier(name string) string {
	for _, t := range tierPatterns {
		if t.re.MatchString(name) {
			return t.tier
		}
	}
	return "other"
}

// resolveCommit is project.commit(rev): a branch, a tag or a (possibly
// abbreviated) commit SHA of the project's repository.
func (p *project) resolveCommit(rev string) (string, bool) {
	if rev == "" {
		return "", false
	}
	if sha, ok := p.branches[rev]; ok {
		return sha, true
	}
	if sha, ok := p.tags[rev]; ok {
		return sha, true
	}
	for _, prefix := range []string{"refs/heads/", "refs/tags/"} {
		if rest, ok := strings.CutPrefix(rev, prefix); ok {
			return p.resolveCommit(rest)
		}
	}
	if _, ok := p.commits[strings.ToLower(rev)]; ok {
		return strings.ToLower(rev), true
	}
	if p.acceptAnySHA && isFullSHA(rev) {
		return strings.ToLower(rev), true
	}
	if sha, ok := p.abbreviated(rev); ok {
		return sha, true
	}
	if p.acceptAnyRef && isRefName(rev) {
		return "", true
	}
	return "", false
}

// abbreviated resolves a unique hex prefix of at least 4 characters.
func (p *project) abbreviated(rev string) (string, bool) {
	if len(rev) < 4 || !isHex(rev) {
		return "", false
	}
	rev = strings.ToLower(rev)
	found := ""
	for sha := range p.commits {
		if strings.HasPrefix(sha, rev) {
			if found != "" {
				return "", false
			}
			found = sha
		}
	}
	return found, found != ""
}

func isHex(s string) bool {
	for _, r := range s {
		if !strings.ContainsRune("0123456789abcdefABCDEF", r) {
			return false
		}
	}
	return s != ""
}

func isFullSHA(s string) bool { return len(s) == 40 && isHex(s) }

// isRefName is a loose git check-ref-format.
func isRefName(s string) bool {
	if s == "" || strings.HasPrefix(s, "/") || strings.HasSuffix(s, "/") || strings.HasSuffix(s, ".") ||
		strings.Contains(s, "..") || strings.Contains(s, "//") || strings.Contains(s, "@{") {
		return false
	}
	return !strings.ContainsAny(s, " ~^:?*[\\\x7f") && !strings.HasPrefix(s, "-")
}
