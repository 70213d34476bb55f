package main

import (
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ariproxy/ari-proxy/arisim"
	"github.com/ariproxy/ari-proxy/internal/localstack"
)

// TestServeHints: the mistakes whose fix is obvious say the fix, in one
// line each, while the server keeps retrying.
func TestServeHints(t *testing.T) {
	sim := localstack.StartSimConfig(t, arisim.Config{User: "u", Password: "right-pw", EntityID: "02:fc:00:00:00:07"})
	simURL, err := url.Parse(sim.URL())
	if err != nil {
		t.Fatal(err)
	}
	hostport := simURL.Host
	_, busURL := localstack.StartNATS(t)
	tests := []struct {
		name string
		env  []string
		want string // in the log
	}{
		{"wrong password", []string{"ARI_PASSWORD=wrong-pw"}, "check ARI_USERNAME/ARI_PASSWORD"},
		{"HTTP URL without /ari", []string{"ARI_HTTP_URL=http://" + hostport},
			"the ARI base URL (ARI_HTTP_URL) must end in /ari"},
		{"WebSocket URL outside /ari", []string{"ARI_WEBSOCKET_URL=ws://" + hostport + "/events"},
			"(404 Not Found): the ARI events WebSocket URL (ARI_WEBSOCKET_URL) must end in /ari/events"},
		{"WebSocket URL misspelt", []string{"ARI_WEBSOCKET_URL=ws://" + hostport + "/ari/event"},
			"the ARI events WebSocket URL (ARI_WEBSOCKET_URL) must end in /ari/events"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			env := append([]string{
				"ARI_APPLICATION=demo", "ARI_USERNAME=u", "ARI_PASSWORD=right-pw",
				"ARI_HTTP_URL=" + sim.URL(), "ARI_WEBSOCKET_URL=" + sim.WebSocketURL(),
				"MESSAGEBUS_URL=" + busURL, "ARI_PROXY_PREFIX=" + localstack.Prefix(),
			}, tt.env...)
			w := start(t, command(t, env))
			deadline := time.Now().Add(20 * time.Second)
			for !strings.Contains(w.text(), tt.want) {
				if time.Now().After(deadline) {
					t.Fatalf("log lacks %q:\n%s", tt.want, w.text())
				}
				time.Sleep(50 * time.Millisecond)
			}
			for _, line := range strings.Split(w.text(), "\n") {
				if strings.Contains(line, tt.want) && (strings.Contains(line, "<") || strings.Contains(line, "\\r\\n")) {
					t.Errorf("the hint's line carries HTML: %s", line)
				}
			}
			if strings.Contains(w.text(), "right-pw") || strings.Contains(w.text(), "wrong-pw") {
				t.Errorf("the log shows a password:\n%s", w.text())
			}
		})
	}
}

// TestConfigFileErrorSaysInvalidOnce: "invalid configuration:" heads the
// list of errors once, however the error came about.
func TestConfigFileErrorSaysInvalidOnce(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.json")
	if err := os.WriteFile(bad, []byte("application = x"), 0o600); err != nil {
		t.Fatal(err)
	}
	for name, args := range map[string][]string{
		"missing file": {"--config", filepath.Join(dir, "none.json")},
		"not JSON":     {"--config", bad},
		"stray arg":    {"serve", "extra"},
		"bad value":    {"--request-timeout=-1s"},
	} {
		t.Run(name, func(t *testing.T) {
			code, _, stderr := exitCode(t, command(t, []string{"ARI_APPLICATION=demo", "ARI_USERNAME=u", "ARI_PASSWORD=p"}, args...), 30*time.Second)
			if code != exitUsage {
				t.Errorf("exit %d, want %d", code, exitUsage)
			}
			if n := strings.Count(stderr, "invalid configuration"); n != 1 {
				t.Errorf("%q appears %d times:\n%s", "invalid configuration", n, stderr)
			}
		})
	}
}

// TestEmbeddedPortInUse: the embedded bus's port taken says which setting
// moves it, and exits 1.
func TestEmbeddedPortInUse(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	addr := ln.Addr().String()
	code, _, stderr := exitCode(t, command(t, []string{"ARI_APPLICATION=demo", "ARI_USERNAME=u", "ARI_PASSWORD=p",
		"MESSAGEBUS_URL=embedded://" + addr}), 30*time.Second)
	if code != exitError {
		t.Errorf("exit %d, want %d", code, exitError)
	}
	for _, want := range []string{addr + " is already in use", "set MESSAGEBUS_URL (or --bus-url) to embedded://127.0.0.1:PORT", "nats://" + addr} {
		if !strings.Contains(stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, stderr)
		}
	}
}

// TestServeNodeID: ARI_PROXY_NODE_ID replaces the entity id as the node.
func TestServeNodeID(t *testing.T) {
	sim := localstack.StartSim(t, "02:fc:00:00:00:07")
	_, busURL := localstack.StartNATS(t)
	w := start(t, command(t, []string{
		"ARI_APPLICATION=demo", "ARI_USERNAME=" + localstack.SimUser, "ARI_PASSWORD=" + localstack.SimPassword, "ARI_PROXY_NODE_ID=pbx-7",
		"ARI_HTTP_URL=" + sim.URL(), "ARI_WEBSOCKET_URL=" + sim.WebSocketURL(),
		"MESSAGEBUS_URL=" + busURL, "ARI_PROXY_PREFIX=" + localstack.Prefix(), "ARI_PROXY_LOG_FORMAT=json",
	}))
	if rec := w.wait(t, "ready", 30*time.Second); rec["node"] != "pbx-7" {
		t.Errorf("ready node = %v, want pbx-7", rec["node"])
	}
}
