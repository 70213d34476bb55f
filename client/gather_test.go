package client

import (
	"errors"
	"testing"
	"time"
)

func TestGather(t *testing.T) {
	const (
		ok       = `{"error":"","key":{"kind":"channel","id":"a","node":"n2"}}`
		notFound = `{"error":"Non-2XX response: 404 Not Found"}`
		conflict = `{"error":"x","error_code":"conflict","ari_status":409}`
		list1    = `{"error":"","keys":[{"kind":"channel","id":"a","node":"n1"}]}`
		list2    = `{"error":"","keys":[{"kind":"channel","id":"b","node":"n2"},{"kind":"channel","id":"c","node":"n2"}]}`
	)
	for _, tc := range []struct {
		name     string
		expected int
		merge    bool
		replies  []string
		stopsAt  int   // the reply after which collect says stop, 0: never
		want     error // nil: success
		keys     int
	}{
		{name: "first success wins", expected: 3, replies: []string{notFound, ok, notFound}, stopsAt: 2},
		{name: "not found everywhere", expected: 3, replies: []string{notFound, notFound, notFound}, stopsAt: 3, want: ErrNotFound},
		{name: "conflict beats not found", expected: 3, replies: []string{notFound, conflict, notFound}, stopsAt: 3, want: ErrConflict},
		{name: "bad reply is internal", expected: 2, replies: []string{"{", notFound}, stopsAt: 2, want: ErrInternal},
		{name: "lists merge", expected: 3, merge: true, replies: []string{list1, notFound, list2}, stopsAt: 3, keys: 3},
		{name: "unknown count waits", expected: 0, replies: []string{notFound, ok}, stopsAt: 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := gather{expected: tc.expected, merge: tc.merge}
			stopped := 0
			for i, r := range tc.replies {
				if !g.collect([]byte(r)) {
					stopped = i + 1
					break
				}
			}
			if stopped != tc.stopsAt {
				t.Errorf("stopped after reply %d, want %d", stopped, tc.stopsAt)
			}
			resp, err := g.result()
			if resp == nil {
				t.Fatal("no result")
			}
			if tc.want == nil && err != nil || tc.want != nil && !errors.Is(err, tc.want) {
				t.Errorf("err %v, want %v", err, tc.want)
			}
			if tc.merge && len(resp.Keys) != tc.keys {
				t.Errorf("%d keys, want %d", len(resp.Keys), tc.keys)
			}
		})
	}
}

func TestServersExpire(t *testing.T) {
	s := newServers(50 * time.Millisecond)
	first := s.waitFirst("demo")
	s.seen("n1", "other")
	select {
	case <-first:
		t.Fatal("another application's server ended the wait")
	default:
	}
	s.seen("n1", "demo")
	s.seen("n2", "demo")
	<-first
	if s.count("demo") != 2 || s.count("") != 3 || len(s.nodes("")) != 2 {
		t.Fatalf("count %d, all %d, nodes %v", s.count("demo"), s.count(""), s.nodes(""))
	}
	time.Sleep(80 * time.Millisecond)
	s.seen("n2", "demo")
	if got := s.nodes("demo"); len(got) != 1 || got[0] != "n2" {
		t.Errorf("after the ttl: %v, want [n2]", got)
	}
}

func TestGatherRecordsNodes(t *testing.T) {
	g := gather{expected: 3}
	g.collect([]byte(`{"error":"Non-2XX response: 404 Not Found","node":"n1"}`))
	g.collect([]byte(`{"error":"","key":{"kind":"channel","id":"a"},"node":"n2"}`))
	if !g.nodes["n1"] || !g.nodes["n2"] || len(g.nodes) != 2 || g.anonymous != 0 {
		t.Errorf("nodes %v, anonymous %d", g.nodes, g.anonymous)
	}
	g = gather{expected: 3}
	g.collect([]byte(`{"error":"Non-2XX response: 404 Not Found"}`)) // v5
	g.collect([]byte(`{`))
	if len(g.nodes) != 0 || g.anonymous != 2 {
		t.Errorf("nodes %v, anonymous %d", g.nodes, g.anonymous)
	}
}

func TestServersForgetSilent(t *testing.T) {
	s := newServers(time.Minute)
	s.seen("n1", "demo")
	s.seen("n2", "demo")
	s.seen("n3", "demo")
	s.seen("n3", "other")
	since := time.Now()
	time.Sleep(time.Millisecond)
	s.seen("n2", "demo") // announced after the request left: alive
	got := s.forgetSilent("demo", map[string]bool{"n1": true}, since)
	if len(got) != 1 || got[0] != "n3" {
		t.Errorf("forgot %v, want [n3]", got)
	}
	if n := s.nodes("demo"); len(n) != 2 || n[0] != "n1" || n[1] != "n2" {
		t.Errorf("demo servers %v", n)
	}
	if s.count("other") != 1 {
		t.Error("a server of another application was forgotten")
	}
}
