package proxy_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/ariproxy/ari-proxy/arisim"
	"github.com/ariproxy/ari-proxy/internal/localstack"
	"github.com/ariproxy/ari-proxy/proxy"
	"github.com/ariproxy/ari-proxy/wire"
)

// unstarted builds, without running it, a server for app in front of sim
// on a fresh NATS: the probes' answers before and after Run are the test.
func unstarted(t *testing.T, sim *arisim.Sim) *proxy.Server {
	t.Helper()
	_, url := localstack.StartNATS(t)
	srv, err := proxy.New(proxy.Config{
		Applications: []string{app}, ARI: localstack.ARIConfig(sim),
		Bus: localstack.Connect(t, url), Prefix: localstack.Prefix(), Logger: localstack.Logger(),
	})
	if err != nil {
		t.Fatal(err)
	}
	return srv
}

// probes serves srv's health handler and returns a function that GETs a
// path and returns its status and body.
func probes(t *testing.T, srv *proxy.Server) func(path string) (int, string) {
	t.Helper()
	hs := httptest.NewServer(srv.HealthHandler())
	t.Cleanup(hs.Close)
	return func(path string) (int, string) {
		t.Helper()
		resp, err := http.Get(hs.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
}

// wantProbes waits until /readyz answers code with a body containing
// reason, and checks /livez and /healthz answer 200 all along.
func wantProbes(t *testing.T, get func(string) (int, string), code int, reason string) {
	t.Helper()
	var gotCode int
	var body string
	deadline := time.Now().Add(10 * time.Second)
	for {
		for _, p := range []string{"/livez", "/healthz"} {
			if c, b := get(p); c != http.StatusOK || strings.TrimSpace(b) != "ok" {
				t.Fatalf("%s = %d %q, want 200 ok", p, c, b)
			}
		}
		gotCode, body = get("/readyz")
		if gotCode == code && strings.Contains(body, reason) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("/readyz = %d %q, want %d with %q", gotCode, body, code, reason)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestProbesReadyThenAsteriskDown: ready while everything is up; Asterisk
// gone makes /readyz 503 "ARI WebSocket down" (and the ready gauge 0);
// back, 200 again.
func TestProbesReadyThenAsteriskDown(t *testing.T) {
	e := newEnv(t)
	get := probes(t, e.srv)
	wantProbes(t, get, http.StatusOK, "ok")
	if v := metric(t, e.reg, "ariproxy_ready"); v != 1 {
		t.Errorf("ariproxy_ready = %v while ready", v)
	}

	e.sim.RefuseConnections(time.Hour)
	e.sim.DropWebSockets()
	wantProbes(t, get, http.StatusServiceUnavailable, "ARI WebSocket down")
	if err := e.srv.Readiness(); !errors.Is(err, proxy.ErrARIDown) {
		t.Errorf("Readiness() = %v, want ErrARIDown", err)
	}
	if v := metric(t, e.reg, "ariproxy_ready"); v != 0 {
		t.Errorf("ariproxy_ready = %v while Asterisk is down", v)
	}

	e.sim.RefuseConnections(0)
	wantProbes(t, get, http.StatusOK, "ok")
	if v := metric(t, e.reg, "ariproxy_ari_websocket_reconnects_total"); v != 1 {
		t.Errorf("ariproxy_ari_websocket_reconnects_total = %v, want 1", v)
	}
}

// TestProbesNodeUnknown: a server whose Asterisk never answered does not
// know its node; /readyz says so until Asterisk answers.
func TestProbesNodeUnknown(t *testing.T) {
	sim := localstack.StartSim(t, node1)
	sim.RefuseConnections(time.Hour)
	srv := unstarted(t, sim)
	get := probes(t, srv)
	wantProbes(t, get, http.StatusServiceUnavailable, "not started")

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })

	wantProbes(t, get, http.StatusServiceUnavailable, "node id unknown")
	if err := srv.Readiness(); !errors.Is(err, proxy.ErrNodeUnknown) || !errors.Is(err, proxy.ErrARIDown) {
		t.Errorf("Readiness() = %v, want ErrNodeUnknown and ErrARIDown", err)
	}
	sim.RefuseConnections(0)
	wantProbes(t, get, http.StatusOK, "ok")
}

// TestProbesBusDown: the bus server gone makes /readyz 503 "message bus
// disconnected" while the server itself stays alive.
func TestProbesBusDown(t *testing.T) {
	nats, url := localstack.StartNATS(t)
	sim := localstack.StartSim(t, node1)
	srv := localstack.RunServer(t, proxy.Config{
		Applications: []string{app}, ARI: localstack.ARIConfig(sim),
		Bus: localstack.Connect(t, url), Prefix: localstack.Prefix(),
	})
	get := probes(t, srv)
	wantProbes(t, get, http.StatusOK, "ok")
	nats.Shutdown()
	wantProbes(t, get, http.StatusServiceUnavailable, "message bus disconnected")
	if err := srv.Readiness(); !errors.Is(err, proxy.ErrBusDown) {
		t.Errorf("Readiness() = %v, want ErrBusDown", err)
	}
}

// TestProbesShuttingDown: once Run's context ends /readyz answers 503
// "shutting down" (while requests in flight finish), /livez still 200.
func TestProbesShuttingDown(t *testing.T) {
	srv := unstarted(t, localstack.StartSim(t, node1))
	get := probes(t, srv)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx) }()
	select {
	case <-srv.Ready():
	case <-time.After(localstack.StartTimeout):
		t.Fatal("not ready")
	}
	wantProbes(t, get, http.StatusOK, "ok")
	cancel()
	wantProbes(t, get, http.StatusServiceUnavailable, "shutting down")
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	wantProbes(t, get, http.StatusServiceUnavailable, "shutting down")
	if err := srv.Readiness(); !errors.Is(err, proxy.ErrShuttingDown) {
		t.Errorf("Readiness() = %v, want ErrShuttingDown", err)
	}
}

// TestProbesWedged: an ARI event stuck in handling (here behind a lock a
// bug never released) makes /livez 503 "wedged", so that Kubernetes
// restarts the server; once it moves again, 200.
func TestProbesWedged(t *testing.T) {
	defer proxy.SetWedgeAfter(200 * time.Millisecond)()
	e := newEnv(t)
	get := probes(t, e.srv)
	wantProbes(t, get, http.StatusOK, "ok")
	// A binding, so that events go through the dialog table.
	ok(t, "bind", e.request(e.subj.Request(wire.ClassCreate, app, node1),
		`{"kind":"BridgeCreate","key":{"kind":"bridge","id":"w-br","dialog":"w"},"bridge_create":{"type":"mixing"}}`))
	unlock := proxy.LockDialogs(e.srv)
	locked := true
	defer func() {
		if locked {
			unlock()
		}
	}()
	if _, err := e.sim.InboundCall(app); err != nil {
		t.Fatal(err)
	}
	waitCode := func(path string, code int, text string) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for {
			c, body := get(path)
			if c == code && strings.Contains(body, text) {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s = %d %q, want %d with %q", path, c, body, code, text)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	waitCode("/livez", http.StatusServiceUnavailable, "not alive: wedged: an ARI event has been in handling for")
	waitCode("/healthz", http.StatusServiceUnavailable, "wedged")
	waitCode("/readyz", http.StatusServiceUnavailable, "wedged")
	if err := e.srv.Liveness(); !errors.Is(err, proxy.ErrWedged) {
		t.Errorf("Liveness() = %v, want ErrWedged", err)
	}
	unlock()
	locked = false
	waitCode("/livez", http.StatusOK, "ok")
}
