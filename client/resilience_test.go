package client

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ariproxy/ari-proxy/ari"
	"github.com/ariproxy/ari-proxy/arisim"
	"github.com/ariproxy/ari-proxy/bus/natsbus"
	"github.com/ariproxy/ari-proxy/bus/natsserver"
	"github.com/ariproxy/ari-proxy/internal/localstack"
)

// restartNATS stops e's NATS server, waits down, and starts it again on
// the same address.
func (e *env) stopNATS(t *testing.T) (restart func()) {
	t.Helper()
	addr := e.nats.Addr()
	e.nats.Shutdown()
	return func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		opts := []natsserver.Option{natsserver.WithLogger(localstack.Logger())}
		if e.storeDir != "" {
			opts = append(opts, natsserver.WithJetStream(e.storeDir))
		}
		n, err := natsserver.Start(ctx, addr, opts...)
		if err != nil {
			t.Fatalf("restarting NATS on %s: %v", addr, err)
		}
		t.Cleanup(n.Shutdown)
		e.nats = n
	}
}

// TestFailFastWhileReconnecting: while the client's bus connection is
// away, requests fail at once with ErrUnavailable; the one in flight when
// the bus went gets its reply or ErrTimeout; all works again once the bus
// is back.
func TestFailFastWhileReconnecting(t *testing.T) {
	e := newEnv(t, 1, arisim.Config{})
	c := e.client(t, WithTimeout(3*time.Second))
	ctx := context.Background()
	if _, err := c.Asterisk().GetInfo(ctx, nil); err != nil {
		t.Fatal(err)
	}

	e.sims[0].SetLatency(time.Second)
	inflight := make(chan error, 1)
	go func() {
		_, err := c.Asterisk().GetInfo(ctx, nil)
		inflight <- err
	}()
	time.Sleep(200 * time.Millisecond)
	restart := e.stopNATS(t)
	bus := c.Bus().(*natsbus.Bus)
	waitFor(t, "client sees the bus gone", func() bool { return !bus.Connected() })

	const n = 50
	var slowest time.Duration
	unavailable := 0
	for range n {
		start := time.Now()
		_, err := c.Asterisk().GetInfo(ctx, nil)
		slowest = max(slowest, time.Since(start))
		if errors.Is(err, ErrUnavailable) {
			unavailable++
		} else {
			t.Errorf("request while reconnecting: %v, want ErrUnavailable", err)
		}
	}
	t.Logf("bus away: %d of %d requests failed fast with ErrUnavailable, slowest %v", unavailable, n, slowest)
	if slowest > time.Second {
		t.Errorf("slowest fail-fast request took %v", slowest)
	}
	restart()
	if err := <-inflight; err != nil && !errors.Is(err, ErrTimeout) {
		t.Errorf("request in flight during the outage: %v, want its reply or ErrTimeout", err)
	}
	e.sims[0].SetLatency(0)
	waitFor(t, "client reconnected", bus.Connected)
	deadline := time.Now().Add(5 * time.Second)
	for {
		_, err := c.Asterisk().GetInfo(ctx, nil)
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after the bus returned: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestGapsCounted: events flow at 200/s through a 1 s bus outage. Core
// NATS loses some of them; the subscription counts exactly those: the
// events received plus Missed equal the events sent, and the gap handler
// saw the same number.
func TestGapsCounted(t *testing.T) {
	e := newEnv(t, 1, arisim.Config{})
	var handled atomic.Uint64
	c := e.client(t, WithGapHandler(func(_ *Subscription, g Gap) { handled.Add(g.Missed()) }))
	sub, err := c.Subscribe(context.Background(), "ChannelUserevent")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	got := map[string]bool{}
	last := make(chan struct{})
	const total = 500
	go func() {
		for ev := range sub.Events() {
			u, ok := ev.(*ari.ChannelUserevent)
			if !ok {
				continue
			}
			seq, _ := u.Userevent["seq"].(string)
			mu.Lock()
			got[seq] = true
			mu.Unlock()
			if seq == "last" {
				close(last)
			}
		}
	}()

	sim := e.sims[0]
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	var restart func()
	sent := 0
	for i := 0; i < total; i++ {
		<-tick.C
		userEvent(t, sim, e.app, strconv.Itoa(i))
		sent++
		switch i {
		case 100:
			restart = e.stopNATS(t)
		case 300:
			restart()
		}
	}
	// The events lost at the tail show once one more arrives: send a
	// marker until it does.
	markers := 0
	for done := false; !done; {
		select {
		case <-last:
			done = true
		case <-time.After(100 * time.Millisecond):
			if markers > 100 {
				t.Fatal("marker event never arrived")
			}
			markers++
			sent++
			seq := "m" + strconv.Itoa(markers)
			if markers%5 == 0 {
				seq = "last"
			}
			userEvent(t, sim, e.app, seq)
		}
	}
	mu.Lock()
	received := len(got)
	mu.Unlock()
	t.Logf("sent %d events over a 1 s bus outage: received %d, Missed %d, gap handler %d", sent, received, sub.Missed(), handled.Load())
	if uint64(received)+sub.Missed() != uint64(sent) {
		t.Errorf("received %d + missed %d != sent %d: a loss went unreported", received, sub.Missed(), sent)
	}
	if handled.Load() != sub.Missed() {
		t.Errorf("gap handler saw %d, Missed %d", handled.Load(), sub.Missed())
	}
}

// userEvent makes sim send app a ChannelUserevent whose userevent.seq is
// seq, straight through ARI (not the bus, which may be away).
func userEvent(t *testing.T, sim *arisim.Sim, app, seq string) {
	t.Helper()
	simPost(t, sim, "/events/user/Seq?application="+url.QueryEscape(app), `{"variables":{"seq":"`+seq+`"}}`, http.StatusNoContent)
}

// simPost POSTs body (JSON, or "" for none) to path (with its query) on
// sim's own ARI and fails unless it answers want.
func simPost(t *testing.T, sim *arisim.Sim, path, body string, want int) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, sim.URL()+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.SetBasicAuth(localstack.SimUser, localstack.SimPassword)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("POST %s: %v", path, err)
	}
	resp.Body.Close()
	if resp.StatusCode != want {
		t.Fatalf("POST %s: status %d, want %d", path, resp.StatusCode, want)
	}
}
