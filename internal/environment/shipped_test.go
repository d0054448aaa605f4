package environment

import (
	"fmt"
	"strings"
	"testing"
	"unicode/utf8"

	. "github.com/onsi/gomega"
)

func TestShippedMessage(t *testing.T) {
	long := strings.Repeat("x", 100)
	for _, tc := range []struct {
		name  string
		mrs   []ShippedMergeRequest
		total int
		want  string
	}{
		{name: "nothing", want: ""},
		{name: "one", mrs: []ShippedMergeRequest{{IID: 12, Title: "Fix login"}}, total: 1, want: "Shipped !12 Fix login"},
		{name: "two", mrs: []ShippedMergeRequest{{IID: 12, Title: "Fix login"}, {IID: 15, Title: "Add cache"}}, total: 2,
			want: "Shipped !12 Fix login, !15 Add cache"},
		{name: "more than shown", mrs: []ShippedMergeRequest{{IID: 12, Title: "Fix login"}}, total: 4,
			want: "Shipped !12 Fix login and 3 more"},
		{name: "total below the list counts the list", mrs: []ShippedMergeRequest{{IID: 1, Title: "A"}, {IID: 2, Title: "B"}}, total: 0,
			want: "Shipped !1 A, !2 B"},
		{name: "only a count", total: 7, want: "Shipped 7 merge requests"},
		{name: "only a count of one", total: 1, want: "Shipped 1 merge request"},
		{name: "untitled", mrs: []ShippedMergeRequest{{IID: 3}}, total: 1, want: "Shipped !3"},
		{name: "control characters and newlines", mrs: []ShippedMergeRequest{{IID: 3, Title: "Fix\n\tlogin\x00  now"}}, total: 1,
			want: "Shipped !3 Fix login now"},
		{name: "long title", mrs: []ShippedMergeRequest{{IID: 3, Title: long}}, total: 1,
			want: "Shipped !3 " + strings.Repeat("x", 79) + "…"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			NewWithT(t).Expect(ShippedMessage(tc.mrs, tc.total)).To(Equal(tc.want))
		})
	}
}

func TestShippedMessageStaysUnderTheEventLimit(t *testing.T) {
	g := NewWithT(t)
	mrs := make([]ShippedMergeRequest, 0, 200)
	for i := range 200 {
		mrs = append(mrs, ShippedMergeRequest{IID: int64(10000 + i), Title: strings.Repeat("é", 90)})
	}
	for _, total := range []int{200, 12345678} {
		msg := ShippedMessage(mrs, total)
		g.Expect(len(msg)).To(BeNumerically("<=", MaxEventMessage))
		g.Expect(utf8.ValidString(msg)).To(BeTrue())
		shown := strings.Count(msg, "!")
		g.Expect(shown).To(BeNumerically(">", 1))
		g.Expect(msg).To(HaveSuffix(fmt.Sprintf(" and %d more", total-shown)))
	}
}
