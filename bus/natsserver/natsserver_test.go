package natsserver

import (
	"context"
	"log/slog"
	"os/exec"
	"strings"
	"testing"
	"time"
)

var quiet = slog.New(slog.DiscardHandler)

func startServer(t testing.TB, opts ...Option) *Server {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	e, err := Start(ctx, "127.0.0.1:0", append([]Option{WithLogger(quiet)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.Shutdown)
	return e
}

func TestStartErrors(t *testing.T) {
	e := startServer(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	start := time.Now()
	if e2, err := Start(ctx, e.Addr(), WithLogger(quiet)); err == nil {
		e2.Shutdown()
		t.Fatal("second server on the same port started")
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Fatalf("port-in-use failure took %v", d)
	}
	for _, addr := range []string{"nohost", "127.0.0.1:x", "127.0.0.1:70000"} {
		if _, err := Start(ctx, addr); err == nil {
			t.Fatalf("%q accepted", addr)
		}
	}
	if _, err := Start(ctx, "127.0.0.1:0", WithToken("a"), WithUserPassword("u", "p")); err == nil {
		t.Fatal("token with user/password accepted")
	}
}

func TestParseURL(t *testing.T) {
	tests := []struct {
		in   string
		addr string
		ok   bool
	}{
		{"", DefaultAddr, true},
		{"embedded", DefaultAddr, true},
		{"embedded://", DefaultAddr, true},
		{"embedded://127.0.0.1:4333", "127.0.0.1:4333", true},
		{"embedded://0.0.0.0:4222", "0.0.0.0:4222", true},
		{"embedded://:5000", "127.0.0.1:5000", true},
		{"embedded://10.0.0.1", "10.0.0.1:4222", true},
		{"embedded://[::1]:4222", "[::1]:4222", true},
		{"embedded://[::1]", "[::1]:4222", true},
		{"embedded://localhost:0/", "localhost:0", true},
		{"embedded://h:notaport", "", false},
		{"embedded://u:p@h:1", "", false},
		{"nats://127.0.0.1:4222", "", false},
		{"tls://h:4222", "", false},
	}
	for _, tt := range tests {
		addr, ok := ParseURL(tt.in)
		if addr != tt.addr || ok != tt.ok {
			t.Errorf("ParseURL(%q) = %q, %v; want %q, %v", tt.in, addr, ok, tt.addr, tt.ok)
		}
	}
}

// FuzzParseURL: an accepted URL always gives a host:port that
// Start can split.
func FuzzParseURL(f *testing.F) {
	for _, s := range []string{"", "embedded", "embedded://:1", "embedded://[::1]", "nats://h:1", "embedded://a:b:c"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, u string) {
		addr, ok := ParseURL(u)
		if !ok {
			return
		}
		if _, _, err := splitAddr(addr); err != nil {
			t.Fatalf("ParseURL(%q) = %q: %v", u, addr, err)
		}
	})
}

// TestClientDoesNotLinkServer: a program built on package client links
// neither this package nor nats-server (the reason this package exists).
func TestClientDoesNotLinkServer(t *testing.T) {
	if testing.Short() {
		t.Skip("skipping go list in -short mode")
	}
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Skipf("skipping: no go command: %v", err)
	}
	out, err := exec.Command(goTool, "list", "-deps", "github.com/ariproxy/ari-proxy/client").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	for _, dep := range strings.Fields(string(out)) {
		if strings.HasPrefix(dep, "github.com/nats-io/nats-server") || dep == "github.com/ariproxy/ari-proxy/bus/natsserver" {
			t.Errorf("package client depends on %s", dep)
		}
	}
}
