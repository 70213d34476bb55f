package main

import (
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/ariproxy/ari-proxy/internal/localstack"
)

// TestGatewayCommand runs `ari-proxy gateway` (settings from flags and
// the environment) in front of a server on a simulator: it serves ARI
// with its own credentials and stops cleanly.
func TestGatewayCommand(t *testing.T) {
	_, url := localstack.StartNATS(t)
	sim := localstack.StartSim(t, "02:fc:00:00:00:99")
	localstack.StartServer(t, sim, url, "demo", "gw.")
	w := start(t, command(t, []string{
		"ARI_PROXY_GATEWAY_USER=gw", "ARI_PROXY_GATEWAY_PASSWORD=gw-secret", "MESSAGEBUS_URL=" + url,
		"ARI_PROXY_PREFIX=gw.", "ARI_APPLICATION=demo",
	}, "gateway", "--listen", "127.0.0.1:0", "--log-format", "json"))
	rec := w.wait(t, "gateway listening", 30*time.Second)
	addr, _ := rec["addr"].(string)
	get := func(user, pass string) (int, string) {
		req, _ := http.NewRequest("GET", "http://"+addr+"/ari/asterisk/info", nil)
		req.SetBasicAuth(user, pass)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, body := get("gw", "gw-secret"); code != 200 || !strings.Contains(body, "02:fc:00:00:00:99") {
		t.Errorf("asterisk/info through the gateway: %d %s", code, body)
	}
	if code, _ := get(localstack.SimUser, localstack.SimPassword); code != 401 {
		t.Errorf("Asterisk's credentials: %d, want 401", code)
	}
}

func TestGatewayCommandUsage(t *testing.T) {
	code, _, stderr := exitCode(t, command(t, nil, "gateway", "--application", "demo"), 30*time.Second)
	if code != exitUsage || !strings.Contains(stderr, "--user is required") {
		t.Errorf("exit %d, stderr %s", code, stderr)
	}
}
