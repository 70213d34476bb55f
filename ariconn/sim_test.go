package ariconn

// Tests against the ARI simulator (arisim), which behaves as the recorded
// Asterisk 22 does.

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/ariproxy/ari-proxy/ari"
	"github.com/ariproxy/ari-proxy/arisim"
)

const (
	simUser     = "proxy"
	simPassword = "pw"
	simEntityID = "02:fc:00:00:00:01"
)

func newSim(t *testing.T) *arisim.Sim {
	t.Helper()
	sim := arisim.New(arisim.Config{User: simUser, Password: simPassword, EntityID: simEntityID, Logger: quiet, TimeScale: 0.01})
	if _, err := sim.Listen("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sim.Close() })
	return sim
}

func simConn(t *testing.T, sim *arisim.Sim, password string, apps ...string) *Conn {
	t.Helper()
	c, err := New(Config{HTTPURL: sim.URL(), WebSocketURL: sim.WebSocketURL(), Username: simUser, Password: password,
		Applications: apps, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// event is the part of an ARI event the tests look at.
type event struct {
	Type       string `json:"type"`
	AsteriskID string `json:"asterisk_id"`
	Channel    struct {
		ID string `json:"id"`
	} `json:"channel"`
	Userevent struct {
		Seq string `json:"seq"`
	} `json:"userevent"`
	raw []byte
}

// runner runs c.Run in the background and collects events and states.
type runner struct {
	events chan event
	states *stateLog
	done   chan error
	cancel context.CancelFunc
}

func startRun(t *testing.T, c *Conn) *runner {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	r := &runner{events: make(chan event, 20000), states: newStateLog(), done: make(chan error, 1), cancel: cancel}
	go func() {
		r.done <- c.Run(ctx, func(raw []byte) {
			var e event
			if err := json.Unmarshal(raw, &e); err != nil {
				t.Errorf("event %s: %v", raw, err)
			}
			e.raw = raw
			r.events <- e
		}, r.states.on)
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-r.done:
			if !errors.Is(err, context.Canceled) {
				t.Errorf("Run = %v", err)
			}
		case <-time.After(5 * time.Second):
			t.Error("Run did not return after cancel")
		}
	})
	return r
}

// next returns the next event of type typ, skipping others.
func (r *runner) next(t *testing.T, typ string) event {
	t.Helper()
	timeout := time.After(10 * time.Second)
	for {
		select {
		case e := <-r.events:
			if e.Type == typ {
				return e
			}
		case <-timeout:
			t.Fatalf("no %s event", typ)
		}
	}
}

// inbound makes a call enter app, waiting for the simulator to have
// registered the application (the WebSocket is up for the client a moment
// before).
func inbound(t *testing.T, sim *arisim.Sim, app string) string {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		id, err := sim.InboundCall(app)
		if err == nil {
			return id
		}
		if !errors.Is(err, arisim.ErrNoApplication) || time.Now().After(deadline) {
			t.Fatal(err)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// ready waits until the simulator has registered app on the WebSocket
// (the client sees it up a moment before) by running a call into it.
func (r *runner) ready(t *testing.T, sim *arisim.Sim, app string) {
	t.Helper()
	r.states.wait(t, true)
	id := inbound(t, sim, app)
	if e := r.next(t, "StasisStart"); e.Channel.ID != id {
		t.Fatalf("StasisStart %s, want %s", e.raw, id)
	}
}

func TestSimDo(t *testing.T) {
	sim := newSim(t)
	c := simConn(t, sim, simPassword)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	resp, err := c.Do(ctx, ari.Lookup("asterisk.getInfo"), nil)
	if err != nil {
		t.Fatal(err)
	}
	var info struct {
		System struct {
			EntityID string `json:"entity_id"`
		} `json:"system"`
	}
	if resp.Status != http.StatusOK || json.Unmarshal(resp.Body, &info) != nil || info.System.EntityID != simEntityID {
		t.Fatalf("info: %d %s", resp.Status, resp.Body)
	}

	resp, err = c.Do(ctx, ari.Lookup("channels.get"), ari.Params{"channelId": "nope"})
	if err != nil {
		t.Fatal(err)
	}
	var msg struct{ Message string }
	if resp.Status != http.StatusNotFound || json.Unmarshal(resp.Body, &msg) != nil || msg.Message == "" {
		t.Fatalf("missing channel: %d %s", resp.Status, resp.Body)
	}

	if err := c.Ping(ctx); err != nil {
		t.Fatal(err)
	}

	// Concurrent calls share the keep-alive pool.
	errs := make(chan error, 50)
	for range 50 {
		go func() {
			r, err := c.Do(ctx, ari.Lookup("asterisk.ping"), nil)
			if err == nil && r.Status != http.StatusOK {
				err = errors.New(strconv.Itoa(r.Status))
			}
			errs <- err
		}()
	}
	for range 50 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}

	bad := simConn(t, sim, "wrong")
	resp, err = bad.Do(ctx, ari.Lookup("asterisk.getInfo"), nil)
	if err != nil || resp.Status != http.StatusUnauthorized {
		t.Fatalf("bad password: %v %+v", err, resp)
	}
	if err := bad.Ping(ctx); !errors.Is(err, ErrUnauthorized) {
		t.Fatalf("Ping with bad password: %v", err)
	}
}

func TestSimRunInbound(t *testing.T) {
	sim := newSim(t)
	c := simConn(t, sim, simPassword, "demo", "other")
	r := startRun(t, c)
	r.states.wait(t, true)

	id := inbound(t, sim, "other")
	e := r.next(t, "StasisStart")
	if e.Channel.ID != id || e.AsteriskID != simEntityID {
		t.Fatalf("StasisStart %s, want channel %s", e.raw, id)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	resp, err := c.Do(ctx, ari.Lookup("channels.hangup"), ari.Params{"channelId": id})
	if err != nil || resp.Status != http.StatusNoContent {
		t.Fatalf("hangup: %v %+v", err, resp)
	}
	if e := r.next(t, "StasisEnd"); e.Channel.ID != id {
		t.Fatalf("StasisEnd %s", e.raw)
	}
}

func TestSimEventOrder(t *testing.T) {
	sim := newSim(t)
	c := simConn(t, sim, simPassword, "demo")
	r := startRun(t, c)
	r.ready(t, sim, "demo")

	const n = 5000
	if err := sim.Flood(context.Background(), "demo", n); err != nil {
		t.Fatal(err)
	}
	for i := range n {
		e := r.next(t, "ChannelUserevent")
		if e.Userevent.Seq != strconv.Itoa(i) {
			t.Fatalf("event %d has seq %s", i, e.Userevent.Seq)
		}
	}
}

func TestSimReconnectAfterDrop(t *testing.T) {
	sim := newSim(t)
	c := simConn(t, sim, simPassword, "demo")
	r := startRun(t, c)
	r.ready(t, sim, "demo")

	for range 2 {
		sim.DropWebSockets()
		r.states.wait(t, false)
		r.ready(t, sim, "demo")
	}
}

func TestSimReconnectAfterRefuse(t *testing.T) {
	sim := newSim(t)
	c := simConn(t, sim, simPassword, "demo")
	r := startRun(t, c)
	r.ready(t, sim, "demo")

	const refuse = 500 * time.Millisecond
	start := time.Now()
	sim.RefuseConnections(refuse)
	sim.DropWebSockets()
	r.states.wait(t, false)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	r.states.wait(t, true)
	if d := time.Since(start); d < refuse {
		t.Fatalf("up again after %v, before the refusal ended", d)
	}
	if err := c.Ping(ctx); err != nil {
		t.Fatal(err)
	}
	id := inbound(t, sim, "demo")
	if e := r.next(t, "StasisStart"); e.Channel.ID != id {
		t.Fatalf("StasisStart %s, want %s", e.raw, id)
	}
}

func TestSimRestart(t *testing.T) {
	sim := newSim(t)
	c := simConn(t, sim, simPassword, "demo")
	r := startRun(t, c)
	r.ready(t, sim, "demo")

	sim.Restart("02:fc:00:00:00:02")
	r.states.wait(t, false)
	r.states.wait(t, true)
	inbound(t, sim, "demo")
	if e := r.next(t, "StasisStart"); e.AsteriskID != "02:fc:00:00:00:02" {
		t.Fatalf("StasisStart after restart %s", e.raw)
	}
}

func TestSimUnauthorized(t *testing.T) {
	sim := newSim(t)
	c := simConn(t, sim, "wrong", "demo")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	states := newStateLog()
	if err := c.Run(ctx, func([]byte) {}, states.on); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Run = %v", err)
	}
	if len(states.s) != 0 {
		t.Fatalf("onState called: %v", states.s)
	}
}
