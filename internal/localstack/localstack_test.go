package localstack_test

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/ariproxy/ari-proxy/ariconn"
	"github.com/ariproxy/ari-proxy/client"
	"github.com/ariproxy/ari-proxy/internal/localstack"
	"github.com/ariproxy/ari-proxy/proxy"
)

// goroutineTolerance is how many goroutines more than before a closed
// stack may leave behind (runtime and net/http helpers that end lazily).
const goroutineTolerance = 3

// TestStartClose: Start gives a ready proxy a client can use; Close
// releases the ports and the goroutines.
func TestStartClose(t *testing.T) {
	before := runtime.NumGoroutine()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	const node = "02:fc:00:00:10:ca"
	st, err := localstack.Start(ctx, localstack.Options{
		Application: "stack",
		EntityID:    node,
		Prefix:      "lstest.",
		TimeScale:   0.01,
	})
	if err != nil {
		t.Fatal(err)
	}
	select {
	case <-st.Server.Ready():
	default:
		t.Fatal("Start returned before the proxy was ready")
	}
	if got := st.Server.Node(); got != node {
		t.Errorf("Node() = %q, want %q", got, node)
	}
	if !strings.HasPrefix(st.BusURL(), "nats://127.0.0.1:") {
		t.Errorf("BusURL() = %q", st.BusURL())
	}
	if st.SimUser != localstack.DefaultSimUser || st.SimPassword == "" {
		t.Errorf("credentials %q/%q", st.SimUser, st.SimPassword)
	}

	// The stack answers through the bus…
	cli, err := client.New(ctx, client.WithURL(st.BusURL()), client.WithApplication("stack"),
		client.WithPrefix("lstest."), client.WithNode(node))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cli.Asterisk().GetInfo(ctx, nil); err != nil {
		t.Errorf("AsteriskInfo through the proxy: %v", err)
	}
	cli.Close()
	// …and the simulator directly with the stack's credentials.
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, st.Sim.URL()+"/asterisk/info", nil)
	req.SetBasicAuth(st.SimUser, st.SimPassword)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("direct GET /asterisk/info: %s", resp.Status)
	}
	http.DefaultClient.CloseIdleConnections()

	natsAddr := st.NATS.Addr()
	simURL, err := url.Parse(st.Sim.URL())
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := st.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	for _, addr := range []string{natsAddr, simURL.Host} {
		if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
			c.Close()
			t.Errorf("%s still accepts connections after Close", addr)
		}
	}
	waitGoroutines(t, before+goroutineTolerance)
}

// TestStartErrors: Start without an application fails.
func TestStartErrors(t *testing.T) {
	if _, err := localstack.Start(context.Background(), localstack.Options{}); err == nil {
		t.Error("Start without an application succeeded")
	}
}

// TestRunServerNotReady: a server that cannot reach Asterisk is not ready
// in time; Serve says so and has stopped it.
func TestRunServerNotReady(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_, url := localstack.StartNATS(t)
	b := localstack.Connect(t, url)
	// A port nothing listens on.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := ln.Addr().String()
	ln.Close()
	srv, err := proxy.New(proxy.Config{
		Applications: []string{"stack"},
		ARI:          ariconn.Config{HTTPURL: "http://" + dead + "/ari", Username: "u", Password: "p"},
		Bus:          b,
		Logger:       slog.New(slog.DiscardHandler),
	})
	if err != nil {
		t.Fatal(err)
	}
	before := runtime.NumGoroutine()
	stop, err := localstack.Serve(ctx, srv, 200*time.Millisecond)
	if !errors.Is(err, localstack.ErrNotReady) || stop != nil {
		t.Fatalf("Serve: %v, stop %v; want ErrNotReady", err, stop != nil)
	}
	waitGoroutines(t, before+goroutineTolerance)
}

// waitGoroutines waits until at most max goroutines run.
func waitGoroutines(t *testing.T, max int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for runtime.NumGoroutine() > max {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			n := runtime.Stack(buf, true)
			t.Fatalf("%d goroutines, want at most %d:\n%s", runtime.NumGoroutine(), max, buf[:n])
		}
		time.Sleep(20 * time.Millisecond)
	}
}
