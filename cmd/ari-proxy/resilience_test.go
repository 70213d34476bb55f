package main

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/ariproxy/ari-proxy/arisim"
	"github.com/ariproxy/ari-proxy/bus/natsbus"
	"github.com/ariproxy/ari-proxy/bus/natsserver"
	"github.com/ariproxy/ari-proxy/wire"
)

const resNode = "02:fc:00:00:00:0a"

var quiet = slog.New(slog.DiscardHandler)

// freeAddr returns a loopback address nobody listens on (yet).
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

func startSimFor(t *testing.T) *arisim.Sim {
	t.Helper()
	sim := arisim.New(arisim.Config{User: "u", Password: "pw", EntityID: resNode})
	t.Cleanup(func() { sim.Close() })
	if _, err := sim.Listen("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	return sim
}

func serveEnv(sim *arisim.Sim, busURL string, extra ...string) []string {
	return append([]string{
		"ARI_APPLICATION=demo", "ARI_USERNAME=u", "ARI_PASSWORD=pw",
		"ARI_HTTP_URL=" + sim.URL(), "ARI_WEBSOCKET_URL=" + sim.WebSocketURL(),
		"MESSAGEBUS_URL=" + busURL, "ARI_PROXY_LOG_FORMAT=json", "ARI_PROXY_PREFIX=res",
	}, extra...)
}

func startNATSAt(t *testing.T, addr string) *natsserver.Server {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	e, err := natsserver.Start(ctx, addr, natsserver.WithLogger(quiet))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.Shutdown)
	return e
}

// count is how many log records have message msg.
func (w *logWatcher) count(msg string) int {
	w.mu.Lock()
	defer w.mu.Unlock()
	n := 0
	for _, r := range w.records {
		if r["msg"] == msg {
			n++
		}
	}
	return n
}

// askInfo sends AsteriskInfo to the server's node and returns its reply.
func askInfo(t *testing.T, b *natsbus.Bus) (*wire.Response, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var r *wire.Response
	err := b.RequestMany(ctx, wire.NewSubjects("res").Request(wire.ClassData, "demo", resNode), []byte(`{"kind":"AsteriskInfo","key":{}}`), func(raw []byte) bool {
		r = new(wire.Response)
		_ = json.Unmarshal(raw, r)
		return false
	})
	return r, err
}

// TestServeWaitsForBus: the server starts before its NATS server (no
// crash loop), waits with one log line, serves once NATS is up, survives a
// NATS restart with one line per state change, and readiness follows.
func TestServeWaitsForBus(t *testing.T) {
	sim := startSimFor(t)
	addr := freeAddr(t)
	w := start(t, command(t, serveEnv(sim, "nats://"+addr)))
	w.wait(t, "nats not reachable yet; retrying in the background", 30*time.Second)
	time.Sleep(1500 * time.Millisecond) // several backoff rounds
	if n := w.count("nats not reachable yet; retrying in the background"); n != 1 {
		t.Errorf("%d waiting lines, want 1", n)
	}

	emb := startNATSAt(t, addr)
	w.wait(t, "nats connected", 10*time.Second)
	w.wait(t, "ready", 15*time.Second)
	cli, err := natsbus.Connect(context.Background(), emb.ClientURL(), natsbus.WithLogger(quiet))
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()
	if r, err := askInfo(t, cli); err != nil || r.Code != "" {
		t.Fatalf("request once the bus is up: %+v %v", r, err)
	}
	cli.Close()

	// NATS restarts: 2 s without a bus.
	emb.Shutdown()
	w.wait(t, "nats disconnected; reconnecting", 10*time.Second)
	time.Sleep(2 * time.Second)
	emb = startNATSAt(t, addr)
	w.wait(t, "nats reconnected", 10*time.Second)
	cli2, err := natsbus.Connect(context.Background(), emb.ClientURL(), natsbus.WithLogger(quiet))
	if err != nil {
		t.Fatal(err)
	}
	defer cli2.Close()
	var r *wire.Response
	deadline := time.Now().Add(5 * time.Second)
	for {
		r, err = askInfo(t, cli2)
		if err == nil && r.Code == "" || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err != nil || r.Code != "" {
		t.Fatalf("request after the NATS restart: %+v %v", r, err)
	}
	for msg, want := range map[string]int{"nats disconnected; reconnecting": 1, "nats reconnected": 1, "nats connected": 1} {
		if n := w.count(msg); n != want {
			t.Errorf("%d log lines %q, want %d", n, msg, want)
		}
	}
	if n := strings.Count(w.text(), `"level":"ERROR"`); n != 0 {
		t.Errorf("%d error lines:\n%s", n, w.text())
	}
}

// TestServeSIGTERMUnderLoad: 100 requests wait behind --max-concurrent 4
// when the server gets SIGTERM. Every one is answered (served, or
// unavailable "shutting down"), and the process exits 0 within the bound.
func TestServeSIGTERMUnderLoad(t *testing.T) {
	sim := startSimFor(t)
	emb := startNATSAt(t, "127.0.0.1:0")
	cmd := command(t, serveEnv(sim, emb.ClientURL(), "ARI_PROXY_MAX_CONCURRENT=4", "ARI_PROXY_SHUTDOWN_TIMEOUT=3s"))
	w, exited := startOnly(t, cmd)
	w.wait(t, "ready", 30*time.Second)
	cli, err := natsbus.Connect(context.Background(), emb.ClientURL(), natsbus.WithLogger(quiet))
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()
	sim.SetLatency(300 * time.Millisecond)

	const n = 100
	var mu sync.Mutex
	outcome := map[string]int{}
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() {
			r, err := askInfo(t, cli)
			key := "served"
			switch {
			case errors.Is(err, context.DeadlineExceeded) || r == nil:
				key = "unanswered"
			case r.Code == wire.CodeUnavailable && strings.Contains(r.Error, "shutting down"):
				key = "shutting down"
			case r.Code != "":
				key = "error " + string(r.Code)
			}
			mu.Lock()
			outcome[key]++
			mu.Unlock()
		})
	}
	_ = cli.Conn().Flush()
	time.Sleep(150 * time.Millisecond)
	start := time.Now()
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	var exitErr error
	select {
	case exitErr = <-exited:
	case <-time.After(10 * time.Second):
		t.Fatalf("no exit within 10 s of SIGTERM; log:\n%s", w.text())
	}
	took := time.Since(start)
	if exitErr != nil {
		t.Errorf("exit after SIGTERM: %v (want status 0); log:\n%s", exitErr, w.text())
	}
	wg.Wait()
	t.Logf("SIGTERM with %d requests queued: %v; stopped in %v", n, outcome, took.Round(time.Millisecond))
	if outcome["unanswered"] != 0 {
		t.Errorf("%d requests unanswered", outcome["unanswered"])
	}
	if outcome["served"] == 0 || outcome["shutting down"] == 0 || outcome["served"]+outcome["shutting down"] != n {
		t.Errorf("outcomes %v: want every request served or answered shutting down", outcome)
	}
	if took > 5*time.Second {
		t.Errorf("stop took %v, bound 3s", took)
	}
}

// startOnly starts cmd with its stderr watched; exited gets cmd.Wait's
// result. The process is killed at the end of the test if still running.
func startOnly(t *testing.T, cmd *exec.Cmd) (*logWatcher, <-chan error) {
	t.Helper()
	pr, pw := io.Pipe()
	cmd.Stderr, cmd.Stdout = pw, io.Discard
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	w := watchLog(pr)
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait(); pw.Close() }()
	t.Cleanup(func() { _ = cmd.Process.Kill() })
	return w, exited
}

// TestServeDurableEmbedded: --durable with the embedded bus keeps every
// event in the JetStream stream, stored under --durable-store-dir.
func TestServeDurableEmbedded(t *testing.T) {
	sim := startSimFor(t)
	dir := t.TempDir()
	w := start(t, command(t, serveEnv(sim, "embedded://127.0.0.1:0", "ARI_PROXY_DURABLE=true", "ARI_PROXY_DURABLE_STORE_DIR="+dir)))
	emb := w.wait(t, "embedded NATS server listening", 30*time.Second)
	w.wait(t, "durable mode: event stream ready", 30*time.Second)
	w.wait(t, "ready", 30*time.Second)
	url, _ := emb["url"].(string)
	const n = 200
	if err := sim.Flood(context.Background(), "demo", n); err != nil {
		t.Fatal(err)
	}
	b, err := natsbus.Connect(context.Background(), url, natsbus.WithLogger(quiet))
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	js, err := jetstream.New(b.Conn())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	st, err := js.Stream(ctx, natsbus.StreamName("res."))
	if err != nil {
		t.Fatal(err)
	}
	msgs := streamMsgs(ctx, t, st, n)
	if msgs != n {
		t.Errorf("stream holds %d events, want %d", msgs, n)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) == 0 {
		t.Errorf("nothing in the JetStream store %s", dir)
	}
	t.Logf("--durable, embedded: %d events in stream %s, store %s", msgs, natsbus.StreamName("res."), dir)
}

// TestServeDurableWaitsForBus: in durable mode too the server starts
// before NATS: the events Asterisk sends meanwhile wait in the durable
// buffer and reach the stream once NATS and JetStream are up.
func TestServeDurableWaitsForBus(t *testing.T) {
	sim := startSimFor(t)
	addr := freeAddr(t)
	w := start(t, command(t, serveEnv(sim, "nats://"+addr, "ARI_PROXY_DURABLE=true")))
	w.wait(t, "durable mode: waiting for JetStream to create the event stream; events are buffered meanwhile", 30*time.Second)
	w.wait(t, "ready", 30*time.Second)
	const before, after = 50, 50
	if err := sim.Flood(context.Background(), "demo", before); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	emb, err := natsserver.Start(ctx, addr, natsserver.WithLogger(quiet), natsserver.WithJetStream(t.TempDir()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(emb.Shutdown)
	w.wait(t, "durable mode: event stream ready", 20*time.Second)
	if err := sim.Flood(context.Background(), "demo", after); err != nil {
		t.Fatal(err)
	}
	b, err := natsbus.Connect(ctx, emb.ClientURL(), natsbus.WithLogger(quiet))
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	js, _ := jetstream.New(b.Conn())
	st, err := js.Stream(ctx, natsbus.StreamName("res."))
	if err != nil {
		t.Fatal(err)
	}
	msgs := streamMsgs(ctx, t, st, before+after)
	t.Logf("durable server started before NATS: %d events sent before NATS was up, %d after; the stream holds %d", before, after, msgs)
	if msgs != before+after {
		t.Errorf("stream holds %d events, want %d", msgs, before+after)
	}
}

// streamMsgs waits until st holds at least n messages or ctx ends, and
// returns how many it holds.
func streamMsgs(ctx context.Context, t *testing.T, st jetstream.Stream, n uint64) uint64 {
	t.Helper()
	var msgs uint64
	for ctx.Err() == nil {
		info, err := st.Info(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if msgs = info.State.Msgs; msgs >= n {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	return msgs
}
