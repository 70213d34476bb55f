package client

import (
	"errors"
	"testing"

	"github.com/ariproxy/ari-proxy/ari"
)

// FuzzDecodeAnnouncement: announcements come from anyone on the bus.
func FuzzDecodeAnnouncement(f *testing.F) {
	for _, s := range []string{
		`{"node":"02:fc:00:00:00:01","application":"demo"}`,
		`{"node":""}`, `{}`, `null`, `[]`, `{"node":1}`, ``, `{"node":"a","application":"b","x":[1,2]}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		a, err := decodeAnnouncement(data)
		if err == nil && a.Node == "" {
			t.Fatal("accepted an announcement without node")
		}
		s := newServers(DefaultServerTTL)
		if err == nil {
			s.seen(a.Node, a.Application)
			if s.count(a.Application) != 1 {
				t.Fatal("announcement not counted")
			}
		}
	})
}

// FuzzGather: replies come from anyone who answers on the reply subject.
func FuzzGather(f *testing.F) {
	for _, s := range []string{
		`{"error":""}`,
		`{"error":"","key":{"kind":"channel","id":"a","node":"n","app":"demo"}}`,
		`{"error":"","keys":[{"kind":"channel","id":"a"},null]}`,
		`{"error":"Non-2XX response: 404 Not Found"}`,
		`{"error":"x","error_code":"not_found","ari_status":404}`,
		`{"error":"failed to get data: Error getting data for channel 'x': Non-2XX response: 409 Conflict"}`,
		`{"error":"","data":{"channel":{"id":"a"}}}`,
		`{"error":"","data":{"variable":"7"}}`,
		`not json`, `null`, `[]`, `{"error":5}`,
	} {
		f.Add([]byte(s), []byte(`{"error":"Non-2XX response: 404 Not Found"}`), true)
	}
	f.Fuzz(func(t *testing.T, a, b []byte, merge bool) {
		g := gather{expected: 2, merge: merge}
		if g.collect(a) {
			g.collect(b)
		}
		resp, err := g.result()
		if resp == nil {
			t.Fatal("answers gathered but no result")
		}
		if err == nil && resp.Err() != nil {
			t.Fatal("success result with an error reply")
		}
		if errors.Is(err, ErrNotFound) && g.failed != nil {
			t.Fatal("not found preferred over another error")
		}
		_, _ = variable(resp)
		_, _ = entityPtr[struct{ ID string }](resp, "channel")
		_, _ = wrapped[[]string](resp, "config", "fields")
		_, _ = resultKey(resp, "channel", Key{App: "demo"})
		_ = resultKeys(resp, "channel", Key{App: "demo"})
		_, _ = createdKey(resp, "channel", "channel", Key{App: "demo"})
		_ = newReply(resp, Key{App: "demo"})
		_ = replyError(resp, err)
	})
}

// FuzzEventCopies: events come from anyone publishing on a dialog subject;
// telling copies apart and reading their dialog must not fail on any input,
// and an event repeated for one application is never dropped.
func FuzzEventCopies(f *testing.F) {
	for _, s := range []string{
		`{"dialog":"d","type":"StasisStart","application":"demo","channel":{"id":"a"}}`,
		`{"type":"ChannelDtmfReceived","application":"caller","digit":"4"}`,
		`{"application":5}`, `{"application":"`, `[]`, ``, `null`,
	} {
		f.Add([]byte(s), []byte(`{"type":"ChannelDtmfReceived","application":"demo","digit":"4"}`))
	}
	f.Fuzz(func(t *testing.T, a, b []byte) {
		s := &Subscription{}
		if s.seenCopy(a) {
			t.Fatal("first event taken for a copy")
		}
		if s.seenCopy(a) {
			t.Fatal("the same event of the same application twice taken for a copy")
		}
		_ = s.seenCopy(b)
		if ev, err := ari.DecodeEvent(a); err == nil {
			_ = EventDialog(ev)
		}
	})
}
