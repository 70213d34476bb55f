package client

import (
	"errors"
	"net/http"
	"net/url"
	"slices"
	"testing"
	"time"

	"github.com/ariproxy/ari-proxy/arisim"
	"github.com/ariproxy/ari-proxy/bus"
	"github.com/ariproxy/ari-proxy/internal/bustest"
	"github.com/ariproxy/ari-proxy/internal/localstack"
	"github.com/ariproxy/ari-proxy/wire"
)

// probes lists, in order, whether each request of kind about id was a
// probe.
func (s *sniffer) probes(kind, id string) []bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []bool
	for _, r := range s.reqs {
		if r.kind == kind && r.key.ID == id {
			out = append(out, r.probe)
		}
	}
	return out
}

// settle waits until the sniffer has seen n requests of kind about id (it
// gets them on its own connection, maybe after the reply).
func (s *sniffer) settle(t *testing.T, kind, id string, n int) []bool {
	t.Helper()
	deadline := time.Now().Add(2 * time.Second)
	for len(s.probes(kind, id)) < n && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	time.Sleep(20 * time.Millisecond) // and no more
	return s.probes(kind, id)
}

// TestProbeRouting: with two nodes, a client that learns nothing finds a
// channel it never saw with one probe round when the channel's server saw
// it (an inbound call, on either node), and with a probe and an ordinary
// round when no server saw it (made on Asterisk directly, outside the
// application); the ordinary round teaches the server, so the next probe
// finds it at once. A command and a create class request with a partial
// key go the same way; an id nobody has is not found after both rounds.
func TestProbeRouting(t *testing.T) { bustest.ForEachTransport(t, testProbeRouting) }

func testProbeRouting(t *testing.T, tr bustest.Transport) {
	e := newEnvOn(t, tr, 2, arisim.Config{TimeScale: 0.01})
	cold := e.client(t, WithTimeout(5*time.Second), WithLocationCache(0))
	// An application learns ids from events, which the server publishes
	// after it learned them: wait for them as it would.
	st := watchStasis(t, e.client(t))
	sn := sniff(t, e.url, e.prefix)
	ctx := t.Context()
	one := []bool{true}
	two := []bool{true, false}

	for i, sim := range e.sims {
		id, err := sim.InboundCall(e.app)
		if err != nil {
			t.Fatal(err)
		}
		st.wait(t, id)
		ch, err := cold.Channel(id).Get(ctx)
		if err != nil || ch.ID != id {
			t.Fatalf("node %d: channel %s: %v", i, id, err)
		}
		if got := sn.settle(t, "ChannelData", id, 1); !slices.Equal(got, one) {
			t.Errorf("node %d: requests (probe or not) %v, want %v", i, got, one)
		}
		if err := cold.Channel(id).Hold(ctx); err != nil {
			t.Errorf("node %d: hold: %v", i, err)
		}
		if got := sn.settle(t, "ChannelHold", id, 1); !slices.Equal(got, one) {
			t.Errorf("node %d: hold requests %v, want %v", i, got, one)
		}
		// ChannelPlay is a create: its node is found by a get, which probes.
		pb, err := cold.Channel(id).Play(ctx, &ChannelPlayParams{Media: []string{"sound:demo-congrats"}})
		if err != nil {
			t.Fatalf("node %d: play: %v", i, err)
		}
		if pb.Key().Node != nodeID(i) {
			t.Errorf("node %d: playback on %q", i, pb.Key().Node)
		}
	}

	unseen := "unseen-" + newID("c")
	originateDirect(t, e.sims[1], unseen)
	if ch, err := cold.Channel(unseen).Get(ctx); err != nil || ch.ID != unseen {
		t.Fatalf("channel no server saw: %v", err)
	}
	if got := sn.settle(t, "ChannelData", unseen, 2); !slices.Equal(got, two) {
		t.Errorf("channel no server saw: requests %v, want %v", got, two)
	}
	if _, err := cold.Channel(unseen).Get(ctx); err != nil {
		t.Fatal(err)
	}
	if got := sn.settle(t, "ChannelData", unseen, 3); !slices.Equal(got, append(two, true)) {
		t.Errorf("after the ordinary round found it: requests %v, want one more probe only", got)
	}

	_, err := cold.Channel("no-such-channel").Get(ctx)
	if !errors.Is(err, ErrNotFound) {
		t.Errorf("no such channel: %v, want ErrNotFound", err)
	}
	if got := sn.settle(t, "ChannelData", "no-such-channel", 2); !slices.Equal(got, two) {
		t.Errorf("no such channel: requests %v, want %v", got, two)
	}
}

// TestProbeOneServer: with one server there is nothing to spare: no probe.
func TestProbeOneServer(t *testing.T) {
	e := newEnv(t, 1, arisim.Config{TimeScale: 0.01})
	cold := e.client(t, WithLocationCache(0))
	sn := sniff(t, e.url, e.prefix)
	id, err := e.sims[0].InboundCall(e.app)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cold.Channel(id).Get(t.Context()); err != nil {
		t.Fatal(err)
	}
	if got := sn.settle(t, "ChannelData", id, 1); !slices.Equal(got, []bool{false}) {
		t.Errorf("requests %v, want one ordinary", got)
	}
}

// TestProbeV5Server: a v5 server ignores the probe mark and answers as to
// any request: its answer counts as a claim. Beside one of our servers
// (which answers unclaimed), the channel only the v5 server has is found
// in one round, and "not found" from it ends the probe without a second
// round only when no server answered unclaimed.
func TestProbeV5Server(t *testing.T) {
	e := newEnv(t, 1, arisim.Config{TimeScale: 0.01})
	const v5node = "02:fc:00:00:00:55"
	b := localstack.ConnectBus(t, e.url)
	subjects := wire.NewSubjects(e.prefix)
	// The v5 server: knows the channel "v5-chan", answers every request.
	if _, err := b.Subscribe(subjects.Request(wire.ClassData, e.app, ""), func(m bus.Msg) {
		r, err := wire.DecodeRequest(m.Data)
		if err != nil || r.Key == nil {
			return
		}
		answer := `{"error":"Non-2XX response: 404 Not Found"}`
		if r.Key.ID == "v5-chan" {
			answer = `{"error":"","data":{"channel":{"id":"v5-chan","name":"PJSIP/v5-1","state":"Up"}}}`
		}
		_ = b.Publish(t.Context(), m.Reply, "", []byte(answer))
	}); err != nil {
		t.Fatal(err)
	}
	announce := func() {
		_ = b.Publish(t.Context(), subjects.Announce(), "", []byte(`{"node":"`+v5node+`","application":"`+e.app+`"}`))
	}
	announce()
	cold := e.client(t, WithLocationCache(0), WithTimeout(2*time.Second))
	for len(cold.Servers()) < 2 {
		announce()
		time.Sleep(10 * time.Millisecond)
	}
	sn := sniff(t, e.url, e.prefix)
	ch, err := cold.Channel("v5-chan").Get(t.Context())
	if err != nil || ch.ID != "v5-chan" {
		t.Fatalf("channel of the v5 server: %+v, %v", ch, err)
	}
	if got := sn.settle(t, "ChannelData", "v5-chan", 1); !slices.Equal(got, []bool{true}) {
		t.Errorf("requests %v, want one probe", got)
	}
	// Not found anywhere: our server did not look, so it is asked again.
	if _, err := cold.Channel("nowhere").Get(t.Context()); !errors.Is(err, ErrNotFound) {
		t.Errorf("nowhere: %v, want ErrNotFound", err)
	}
	if got := sn.settle(t, "ChannelData", "nowhere", 2); !slices.Equal(got, []bool{true, false}) {
		t.Errorf("nowhere: requests %v, want a probe and an ordinary one", got)
	}
}

// originateDirect creates channel id on sim's Asterisk through its own
// ARI, into the dialplan: no application, so no proxy server hears of it.
func originateDirect(t *testing.T, sim *arisim.Sim, id string) {
	t.Helper()
	q := url.Values{"endpoint": {"Local/echo@default"}, "context": {"default"}, "extension": {"echo"}, "priority": {"1"}, "channelId": {id}}
	simPost(t, sim, "/channels?"+q.Encode(), "", http.StatusOK)
}

// TestProbeSilentServer: a probe that some server leaves unanswered until
// the timeout is asked again, ordinarily, for a read (harmless: the
// channel no server had seen is found, the silent server forgotten by
// then), but not for a command, which ends with a timeout: the silent
// server may have acted on it.
func TestProbeSilentServer(t *testing.T) {
	const timeout = 500 * time.Millisecond
	e := newEnv(t, 1, arisim.Config{TimeScale: 0.01})
	b := localstack.ConnectBus(t, e.url)
	announceSilent := func() {
		_ = b.Publish(t.Context(), wire.NewSubjects(e.prefix).Announce(), "", []byte(`{"node":"02:fc:00:00:00:5e","application":"`+e.app+`"}`))
	}
	cold := e.client(t, WithLocationCache(0), WithTimeout(timeout))
	sn := sniff(t, e.url, e.prefix)
	announceSilent()
	waitFor(t, "the silent server known", func() bool { return len(cold.Servers()) == 2 })

	unseen := "unseen-" + newID("s")
	originateDirect(t, e.sims[0], unseen)
	start := time.Now()
	if ch, err := cold.Channel(unseen).Get(t.Context()); err != nil || ch.ID != unseen {
		t.Fatalf("read with a silent server: %v", err)
	}
	if d := time.Since(start); d < timeout*9/10 {
		t.Errorf("found in %v, before the probe's timeout", d)
	}
	if got := sn.settle(t, "ChannelData", unseen, 2); !slices.Equal(got, []bool{true, false}) {
		t.Errorf("read: requests %v, want a probe and an ordinary one", got)
	}

	announceSilent()
	waitFor(t, "the silent server known again", func() bool { return len(cold.Servers()) == 2 })
	err := cold.Channel("no-such-channel").Hold(t.Context())
	if !errors.Is(err, ErrTimeout) {
		t.Errorf("command with a silent server: %v, want ErrTimeout", err)
	}
	if got := sn.settle(t, "ChannelHold", "no-such-channel", 1); !slices.Equal(got, []bool{true}) {
		t.Errorf("command: requests %v, want the probe only", got)
	}
}
