package amqpbus_test

import (
	"strings"
	"testing"

	"github.com/ariproxy/ari-proxy/bus/amqpbus"
)

// naiveMatch is NATS matching written the obvious way, to check
// amqpbus's against.
func naiveMatch(pattern, subject string) bool {
	p, s := strings.Split(pattern, "."), strings.Split(subject, ".")
	for i, tok := range p {
		if tok == ">" {
			return i == len(p)-1 && len(s) > i
		}
		if i >= len(s) || (tok != "*" && tok != s[i]) {
			return false
		}
	}
	return len(p) == len(s)
}

func TestMatchSubject(t *testing.T) {
	for _, c := range []struct {
		p, s string
		want bool
	}{
		{"a.b", "a.b", true}, {"a.*", "a.b", true}, {"a.*", "a.b.c", false}, {"a.>", "a.b.c", true},
		{"a.>", "a", false}, {">", "a", true}, {"a.*.c", "a.b.c", true}, {"a.b", "a.b.c", false}, {"a.b.c", "a.b", false},
	} {
		if got := amqpbus.MatchSubject(c.p, c.s); got != c.want {
			t.Errorf("match(%q, %q) = %v", c.p, c.s, got)
		}
	}
}

// FuzzSubjects: on any subject (routing keys arrive from the broker,
// written by any publisher) matching agrees with the naive version, a
// checked pattern's binding key is a valid AMQP topic key, and nothing
// panics.
func FuzzSubjects(f *testing.F) {
	for _, s := range [][2]string{{"ari.event.app.>", "ari.event.app.n1"}, {"ari.*", "ari.ping"}, {">", "x"}, {"a..b", "a.b"}, {"a.b.>", "a.b"}} {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, pattern, subject string) {
		patErr := amqpbus.CheckSubject(pattern, true)
		_ = amqpbus.CheckSubject(subject, false)
		_ = amqpbus.ExchangeOf(subject)
		if patErr != nil || subject == "" || strings.Contains(subject, "..") || strings.HasPrefix(subject, ".") || strings.HasSuffix(subject, ".") {
			return
		}
		if got, want := amqpbus.MatchSubject(pattern, subject), naiveMatch(pattern, subject); got != want {
			t.Fatalf("match(%q, %q) = %v, naive %v", pattern, subject, got, want)
		}
		key := amqpbus.BindingKey(pattern)
		if strings.Contains(key, ">") || len(key) > 255 {
			t.Fatalf("binding key %q of %q", key, pattern)
		}
	})
}
