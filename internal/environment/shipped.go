package environment

import (
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// MaxEventMessage is the longest Event note the API server accepts, in
// bytes.
const MaxEventMessage = 1024

// maxTitle bounds one merge request title in the Event, in runes.
const maxTitle = 80

// ShippedMergeRequest is a merge request as the Shipped Event names it.
type ShippedMergeRequest struct {
	IID   int64
	Title string
}

// ShippedMessage formats the Event of a successful rollout,
// "Shipped !12 Fix login, !15 Add cache and 3 more", from the first merge
// requests GitLab linked to the record and how many it linked in all
// (total below len(mrs) counts as len(mrs)). Titles are cleaned of control
// characters and cut to 80 characters; merge requests that would take the
// message past MaxEventMessage bytes are counted in "and N more". It
// returns "" when nothing was shipped.
func ShippedMessage(mrs []ShippedMergeRequest, total int) string {
	total = max(total, len(mrs))
	if total == 0 {
		return ""
	}
	var b strings.Builder
	b.WriteString("Shipped")
	// Room for the longest possible " and N more".
	reserve := len(" and  more") + len(strconv.Itoa(total))
	shown := 0
	for _, mr := range mrs {
		item := "!" + strconv.FormatInt(mr.IID, 10)
		if t := cleanTitle(mr.Title); t != "" {
			item += " " + t
		}
		sep := " "
		if shown > 0 {
			sep = ", "
		}
		rest := 0
		if shown+1 < total {
			rest = reserve
		}
		if b.Len()+len(sep)+len(item)+rest > MaxEventMessage {
			break
		}
		b.WriteString(sep + item)
		shown++
	}
	switch more := total - shown; {
	case shown == 0 && total == 1:
		b.WriteString(" 1 merge request")
	case shown == 0:
		b.WriteString(" " + strconv.Itoa(total) + " merge requests")
	case more > 0:
		b.WriteString(" and " + strconv.Itoa(more) + " more")
	}
	return b.String()
}

// cleanTitle collapses whitespace and control characters and cuts the
// title to maxTitle runes.
func cleanTitle(t string) string {
	t = strings.Join(strings.FieldsFunc(t, func(r rune) bool {
		return unicode.IsSpace(r) || unicode.IsControl(r) || r == utf8.RuneError
	}), " ")
	if utf8.RuneCountInString(t) > maxTitle {
		r := []rune(t)
		t = strings.TrimSpace(string(r[:maxTitle-1])) + "…"
	}
	return t
}
