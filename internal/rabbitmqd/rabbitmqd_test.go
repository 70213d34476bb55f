package rabbitmqd

import "testing"

func TestHasSettings(t *testing.T) {
	for text, want := range map[string]bool{
		"":                                      false,
		"# NODENAME=rabbit\n\n  #NODE_PORT=1\n": false,
		"%% advanced\n":                         false,
		"# a comment\nNODE_PORT=5673\n":         true,
		"[{rabbit, []}].":                       true,
	} {
		if got := hasSettings(text); got != want {
			t.Errorf("hasSettings(%q) = %v, want %v", text, got, want)
		}
	}
}
