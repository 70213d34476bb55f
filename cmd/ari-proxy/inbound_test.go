package main

import (
	"context"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ariproxy/ari-proxy/ari"
	"github.com/ariproxy/ari-proxy/ariconn"
	"github.com/ariproxy/ari-proxy/client"
	"github.com/ariproxy/ari-proxy/internal/sharedtest"
)

func TestParseRate(t *testing.T) {
	for in, want := range map[string]float64{"2/s": 2, "2": 2, "30/m": 0.5, "1/5s": 0.2, "3600/h": 1, " 4 / s ": 4, "0.5/s": 0.5} {
		got, err := parseRate(in)
		if err != nil || got != want {
			t.Errorf("parseRate(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"", "0/s", "-1/s", "x/s", "2/fortnight", "2/-1s"} {
		if _, err := parseRate(in); err == nil {
			t.Errorf("parseRate(%q) accepted", in)
		}
	}
}

// TestSimInboundCalls walks the newcomer's three-process path: `ari-proxy
// sim --inbound-rate`, `ari-proxy serve` in front of it, and an
// application of one's own (here the test, with the client library) that
// sees the calls arrive, answers them and hangs up.
func TestSimInboundCalls(t *testing.T) {
	simW := start(t, command(t, nil, "sim", "--listen", "127.0.0.1:0", "--log-format", "json",
		"--inbound-rate", "20/s", "--inbound-app", "demo"))
	rec := simW.wait(t, "ARI simulator listening", 30*time.Second)
	httpURL, _ := rec["http_url"].(string)
	wsURL, _ := rec["websocket_url"].(string)
	simW.wait(t, "inbound calls: waiting for application \"demo\" to connect (e.g. ari-proxy serve with ARI_APPLICATION)", 10*time.Second)

	bus := sharedtest.FreeAddr(t)
	serveW := start(t, command(t, []string{
		"ARI_APPLICATION=demo", "ARI_USERNAME=asterisk", "ARI_PASSWORD=asterisk",
		"ARI_HTTP_URL=" + httpURL, "ARI_WEBSOCKET_URL=" + wsURL,
		"MESSAGEBUS_URL=embedded://" + bus, "ARI_PROXY_LOG_FORMAT=json",
	}))
	serveW.wait(t, "ready", 30*time.Second)

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := client.New(ctx, client.WithApplication("demo"), client.WithURL("nats://"+bus))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	var mu sync.Mutex
	seen := map[string]bool{}
	enough := make(chan struct{})
	lctx, stop := context.WithCancel(ctx)
	l, err := c.Listen(lctx, func(ctx context.Context, h *client.ChannelHandle, ev *ari.StasisStart) {
		if err := h.Answer(ctx); err != nil {
			t.Errorf("answer %s: %v", h.ID(), err)
		}
		_ = h.Hangup(ctx, nil)
		mu.Lock()
		defer mu.Unlock()
		seen[h.ID()] = true
		if len(seen) == 3 {
			close(enough)
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	select {
	case <-enough:
	case <-ctx.Done():
		t.Fatalf("calls handled: %d, want 3; sim log:\n%s", len(seen), simW.text())
	}
	stop()
	_ = l.Wait()
	if !strings.Contains(simW.text(), `"msg":"inbound call placed"`) {
		t.Errorf("the simulator did not log its calls:\n%s", simW.text())
	}
}

// TestSimInboundCallsLimit: --inbound-calls N places N calls, into each
// connected application in turn, and stops; the calls reach the
// application's WebSocket as StasisStart.
func TestSimInboundCallsLimit(t *testing.T) {
	w := start(t, command(t, nil, "sim", "--listen", "127.0.0.1:0", "--log-format", "json",
		"--inbound-rate", "50/s", "--inbound-calls", "3", "--inbound-hangup-after", "0"))
	rec := w.wait(t, "ARI simulator listening", 30*time.Second)
	httpURL, _ := rec["http_url"].(string)
	conn, err := ariconn.New(ariconn.Config{HTTPURL: httpURL, Username: "asterisk", Password: "asterisk",
		Applications: []string{"app1"}, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	starts := make(chan struct{}, 10)
	go conn.Run(ctx, func(raw []byte) {
		if strings.Contains(string(raw), `"type":"StasisStart"`) {
			starts <- struct{}{}
		}
	}, nil)
	if done := w.wait(t, "inbound calls: all placed", 20*time.Second); done["calls"] != float64(3) {
		t.Errorf("all placed: %v", done)
	}
	for i := 0; i < 3; i++ {
		select {
		case <-starts:
		case <-ctx.Done():
			t.Fatalf("%d StasisStart of 3", i)
		}
	}
	time.Sleep(200 * time.Millisecond)
	if len(starts) != 0 {
		t.Errorf("%d calls more than --inbound-calls", len(starts))
	}
}
