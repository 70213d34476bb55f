package natsbus

import (
	"net/url"
	"strings"
	"testing"
)

// FuzzRedactURL: whatever the URL list, a password in it never survives
// redaction.
func FuzzRedactURL(f *testing.F) {
	for _, s := range []string{"h:4222", "nats://h:4222", "tls://a@h:1,nats://b@h:2", "x://[::1", "@@"} {
		f.Add(s, "s3cretpw")
	}
	f.Fuzz(func(t *testing.T, u, pw string) {
		if len(pw) < 4 || strings.ContainsAny(pw, "@:/,") {
			return
		}
		in := "nats://user:" + url.PathEscape(pw) + "@" + u
		if out := RedactURL(in); strings.Contains(out, "user:"+url.PathEscape(pw)) {
			t.Fatalf("RedactURL(%q) = %q keeps the password", in, out)
		}
	})
}
