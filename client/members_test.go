package client

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/ariproxy/ari-proxy/arisim"
)

// nextMember waits for the next membership event.
func nextMember(t *testing.T, w <-chan MemberEvent, within time.Duration) MemberEvent {
	t.Helper()
	select {
	case ev, ok := <-w:
		if !ok {
			t.Fatal("membership watch closed")
		}
		return ev
	case <-time.After(within):
		t.Fatalf("no membership event within %v", within)
	}
	return MemberEvent{}
}

// TestMembership: two nodes join; when the second one's Asterisk dies,
// the watcher hears it become unavailable (its server says so to the
// next request, and stops announcing) and then leave, while the first
// one stays.
func TestMembership(t *testing.T) {
	const ttl = 3 * time.Second
	e := newEnv(t, 2, arisim.Config{TimeScale: 0.01})
	c := e.client(t, WithServerTTL(ttl))
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()

	w := c.WatchMembers(ctx)
	for i := range 2 {
		ev := nextMember(t, w, time.Second)
		if ev.Type != MemberJoined || ev.Member.Node != nodeID(i) || !ev.Member.Available ||
			!slices.Equal(ev.Member.Applications, []string{testApp, "other"}) {
			t.Fatalf("event %d: %v %+v", i, ev.Type, ev.Member)
		}
	}
	ms := c.Members()
	if len(ms) != 2 || time.Since(ms[1].LastSeen) > ttl || !ms[0].Available || !ms[1].Available {
		t.Fatalf("members: %+v", ms)
	}

	e.sims[1].Close()
	start := time.Now()
	_, err := c.WithNode(nodeID(1)).Asterisk().GetInfo(ctx, nil)
	for err == nil && time.Since(start) < 5*time.Second {
		time.Sleep(20 * time.Millisecond) // the server has not noticed yet
		_, err = c.WithNode(nodeID(1)).Asterisk().GetInfo(ctx, nil)
	}
	if !errors.Is(err, ErrUnavailable) {
		t.Fatalf("request to the dead node: %v, want ErrUnavailable", err)
	}
	ev := nextMember(t, w, time.Second)
	if ev.Type != MemberUnavailable || ev.Member.Node != nodeID(1) || ev.Member.Available {
		t.Fatalf("after the Asterisk died: %v %+v", ev.Type, ev.Member)
	}
	if ms := c.Members(); len(ms) != 2 || !ms[0].Available || ms[1].Available {
		t.Errorf("members with one down: %+v", ms)
	}
	ev = nextMember(t, w, 2*ttl)
	if ev.Type != MemberLeft || ev.Member.Node != nodeID(1) {
		t.Fatalf("after the TTL: %v %+v", ev.Type, ev.Member)
	}
	if ms := c.Members(); len(ms) != 1 || ms[0].Node != nodeID(0) || !ms[0].Available {
		t.Errorf("members after the leave: %+v", ms)
	}
	select {
	case ev := <-w:
		t.Errorf("unexpected event %v %+v", ev.Type, ev.Member)
	case <-time.After(200 * time.Millisecond):
	}
	cancel()
	for range w {
	}
}

// TestMemberTransitions: the member state machine on its own: join,
// unavailable on an unavailable answer, available again on the next
// announcement, updated when an application is added, left at the TTL.
func TestMemberTransitions(t *testing.T) {
	const ttl = 300 * time.Millisecond
	s := newServers(ttl)
	w := &memberWatch{}
	s.watch(w)
	want := func(types ...MemberEventType) {
		t.Helper()
		evs := w.take()
		var got []MemberEventType
		for _, ev := range evs {
			got = append(got, ev.Type)
		}
		if !slices.Equal(got, types) {
			t.Fatalf("events %v, want %v", got, types)
		}
	}
	s.seen("n1", "demo")
	want(MemberJoined)
	s.markDown("n1")
	want(MemberUnavailable)
	time.Sleep(time.Millisecond)
	s.seen("n1", "demo")
	want(MemberAvailable)
	s.seen("n1", "other")
	want(MemberUpdated)
	time.Sleep(ttl * 3 / 4)
	s.check()
	want(MemberUnavailable)
	time.Sleep(ttl / 2)
	s.check()
	want(MemberLeft)
	if ms := s.members(); len(ms) != 0 {
		t.Errorf("members after leaving: %+v", ms)
	}
}
