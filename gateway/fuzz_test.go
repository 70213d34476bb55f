package gateway

import (
	"bytes"
	"encoding/json"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
)

// FuzzStripDialog: any bus message is handled without panic, a valid
// object stays valid JSON, and only a leading "dialog" member goes.
func FuzzStripDialog(f *testing.F) {
	f.Add([]byte(`{"dialog":"d1","type":"StasisStart","asterisk_id":"x"}`))
	f.Add([]byte(`{"dialog":"d1"}`))
	f.Add([]byte(`{"dialog":1,"type":"x"}`))
	f.Add([]byte(`{"type":"ChannelUserevent"}`))
	f.Add([]byte(`{"dialog":"`))
	f.Fuzz(func(t *testing.T, raw []byte) {
		out := stripDialog(raw)
		if json.Valid(raw) && bytes.HasPrefix(raw, []byte("{")) && !json.Valid(out) {
			t.Fatalf("%s became invalid: %s", raw, out)
		}
		if !bytes.HasPrefix(raw, []byte(`{"dialog":`)) && !bytes.Equal(out, raw) {
			t.Fatalf("%s changed: %s", raw, out)
		}
	})
}

// FuzzParse: any REST request is routed or refused with an Asterisk
// answer, never a panic.
func FuzzParse(f *testing.F) {
	f.Add("POST", "/channels?endpoint=Local/x@y&app=a", "application/json", `{"variables":{"A":"1"}}`)
	f.Add("GET", "/channels/abc%2Fdef", "", "")
	f.Add("POST", "/applications/a/eventSource", "application/x-www-form-urlencoded", "eventSource=channel:1")
	f.Add("PUT", "/asterisk/config/dynamic/a/b/c", "application/json", `null`)
	f.Fuzz(func(t *testing.T, method, target, ctype, body string) {
		if !strings.HasPrefix(target, "/") || strings.ContainsAny(target, " \r\n#") || strings.ContainsAny(method, " \r\n/") || method == "" {
			return
		}
		if _, err := url.ParseRequestURI("http://x/ari" + target); err != nil {
			return // no HTTP server hands such a request over
		}
		r := httptest.NewRequest("GET", "http://x/ari"+target, strings.NewReader(body))
		r.Method = method
		if ctype != "" {
			r.Header.Set("Content-Type", ctype)
		}
		raw, form, bad := readBody(r)
		if bad != nil {
			return
		}
		rq, a := parse(r, strings.TrimPrefix(r.URL.EscapedPath(), "/ari"), raw, form)
		if (rq == nil) == (a == nil) {
			t.Fatalf("parse: request %v answer %v", rq, a)
		}
		if a != nil && !json.Valid(a.body) {
			t.Fatalf("answer body %q", a.body)
		}
	})
}
