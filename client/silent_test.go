package client

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/ariproxy/ari-proxy/arisim"
	"github.com/ariproxy/ari-proxy/bus"
	"github.com/ariproxy/ari-proxy/internal/bustest"
	"github.com/ariproxy/ari-proxy/internal/localstack"
	"github.com/ariproxy/ari-proxy/wire"
)

// TestDeadServerForgotten: a server that dies without a word is still
// known until its TTL runs out, so the first request every server must
// answer waits for the whole timeout; that request forgets it, and the
// next one returns as soon as the live servers answered.
func TestDeadServerForgotten(t *testing.T) { bustest.ForEachTransport(t, testDeadServerForgotten) }

func testDeadServerForgotten(t *testing.T, tr bustest.Transport) {
	const timeout = time.Second
	e := newEnvOn(t, tr, 2, arisim.Config{TimeScale: 0.01})

	// The third server runs under the test's control, to be stopped
	// without announcing anything (as if its process died).
	stop := e.addStoppable(t, 2)

	c := e.client(t, WithTimeout(timeout))
	ctx := t.Context()
	notFound := func(what string) time.Duration {
		t.Helper()
		start := time.Now()
		_, err := c.Channel("no-such-channel").Get(ctx)
		d := time.Since(start)
		if !errors.Is(err, ErrNotFound) {
			t.Fatalf("%s: %v, want ErrNotFound", what, err)
		}
		t.Logf("%s: not found in %v", what, d)
		return d
	}
	if d := notFound("3 live servers"); d > timeout/2 {
		t.Errorf("with every server alive, not found took %v", d)
	}

	// Run's end removes the subscriptions and publishes nothing.
	if err := stop(localstack.StartTimeout); err != nil {
		t.Fatal(err)
	}
	if got := c.Servers(); len(got) != 3 {
		t.Fatalf("servers known right after the stop: %v, want 3 (the TTL has not run out)", got)
	}

	if d := notFound("first request after the death"); d < timeout*9/10 || d > timeout*3 {
		t.Errorf("first request took %v, want about the timeout %v", d, timeout)
	}
	live := []string{nodeID(0), nodeID(1)}
	if got := c.Servers(); !slices.Equal(got, live) {
		t.Errorf("servers known after the timeout: %v, want %v", got, live)
	}
	if d := notFound("second request"); d > timeout/4 {
		t.Errorf("second request took %v: the dead server was not forgotten", d)
	}
	if list, err := c.Channels().List(ctx); err != nil {
		t.Errorf("list: %v", err)
	} else {
		t.Logf("list of %d channels", len(list))
	}
	// The live servers answer the ping sent on forgetting and stay known.
	time.Sleep(100 * time.Millisecond)
	if got := c.Servers(); !slices.Equal(got, live) {
		t.Errorf("servers known at the end: %v, want %v", got, live)
	}
}

// TestSilentServerWithV5Peers: servers are forgotten only when every answer
// named its node. Two fake servers are announced; one answers, the other
// never does. With a v5 answer (no node) nobody can be told silent and both
// stay known; with a node in the answer, the silent one is forgotten.
func TestSilentServerWithV5Peers(t *testing.T) {
	bustest.ForEachTransport(t, testSilentServerWithV5Peers)
}

func testSilentServerWithV5Peers(t *testing.T, tr bustest.Transport) {
	for _, tc := range []struct {
		name   string
		answer string
		want   []string
	}{
		{"v5 answer without node", `{"error":"Non-2XX response: 404 Not Found"}`, []string{"v5-a", "v5-b"}},
		{"answer with node", `{"error":"Non-2XX response: 404 Not Found","error_code":"not_found","node":"v5-a"}`, []string{"v5-a"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			url := tr.URL(t)
			prefix := localstack.Prefix()
			subj := wire.NewSubjects(prefix)
			srv := localstack.ConnectBus(t, url)
			announce := func(node string) {
				b, _ := json.Marshal(wire.Announcement{Node: node, Application: testApp})
				if err := srv.Publish(context.Background(), subj.Announce(), "", b); err != nil {
					t.Error(err)
				}
			}
			// Only v5-a is alive: it answers pings and requests.
			if _, err := srv.Subscribe(subj.Ping(), func(bus.Msg) { announce("v5-a") }); err != nil {
				t.Fatal(err)
			}
			if _, err := srv.Subscribe(subj.Request(wire.ClassData, testApp, ""), func(m bus.Msg) {
				_ = srv.Publish(context.Background(), m.Reply, "", []byte(tc.answer))
			}); err != nil {
				t.Fatal(err)
			}
			c, err := New(context.Background(), WithURL(url), WithPrefix(prefix), WithApplication(testApp),
				WithLogger(localstack.Logger()), WithTimeout(300*time.Millisecond))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { c.Close() })
			announce("v5-b") // announced once, then silent
			waitFor(t, "both servers known", func() bool { return len(c.Servers()) == 2 })

			if _, err := c.Channel("no-such-channel").Get(t.Context()); !errors.Is(err, ErrNotFound) {
				t.Fatalf("got %v, want ErrNotFound", err)
			}
			time.Sleep(50 * time.Millisecond) // for the announcements answering the ping
			if got := c.Servers(); !slices.Equal(got, tc.want) {
				t.Errorf("servers known: %v, want %v", got, tc.want)
			}
		})
	}
}
