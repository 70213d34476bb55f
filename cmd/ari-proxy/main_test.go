package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/ariproxy/ari-proxy/arisim"
	"github.com/ariproxy/ari-proxy/internal/bustest"
	"github.com/ariproxy/ari-proxy/internal/config"
	"github.com/ariproxy/ari-proxy/internal/localstack"
	"github.com/ariproxy/ari-proxy/proxy"
	"github.com/ariproxy/ari-proxy/wire"
)

// The test binary doubles as the ari-proxy binary: run with this variable
// set, it is main() (same code, built with the test's flags, race detector
// included), so the tests see real exit codes, real signals and real output.
const beMain = "ARI_PROXY_TEST_BE_MAIN"

func TestMain(m *testing.M) {
	if os.Getenv(beMain) == "1" {
		main()
		return
	}
	bustest.Main(m) // stops the RabbitMQ broker TestRabbitMQ starts
}

// command returns the ari-proxy command with args, in an environment
// stripped of the settings the tests' caller may have set.
func command(t *testing.T, env []string, args ...string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(os.Args[0], args...)
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(name, "ARI_") || strings.HasPrefix(name, "MESSAGEBUS_") || strings.HasPrefix(name, "NATS_") {
			continue
		}
		cmd.Env = append(cmd.Env, kv)
	}
	cmd.Env = append(cmd.Env, beMain+"=1")
	cmd.Env = append(cmd.Env, env...)
	return cmd
}

// exitCode runs cmd to its end (within limit) and returns its exit code,
// stdout and stderr.
func exitCode(t *testing.T, cmd *exec.Cmd, limit time.Duration) (int, string, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		code := 0
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			code = ee.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		return code, stdout.String(), stderr.String()
	case <-time.After(limit):
		_ = cmd.Process.Kill()
		<-done
		t.Fatalf("%v did not exit within %s\nstdout:\n%s\nstderr:\n%s", cmd.Args, limit, stdout.String(), stderr.String())
		return 0, "", ""
	}
}

func TestServeBadConfig(t *testing.T) {
	base := []string{"ARI_APPLICATION=demo", "ARI_USERNAME=u", "ARI_PASSWORD=pw-not-shown"}
	tests := []struct {
		name string
		env  []string
		args []string
		want []string
	}{
		{"websocket URL given as http", []string{"ARI_WEBSOCKET_URL=http://127.0.0.1:8088/ari/events"}, nil,
			[]string{"ARI_WEBSOCKET_URL must be ws:// or wss://", "http://127.0.0.1:8088/ari/events"}},
		{"quoted HTTP URL", []string{`ARI_HTTP_URL="http://127.0.0.1:8088/ari"`}, nil,
			[]string{"ARI_HTTP_URL is wrapped in quotes"}},
		{"unknown bus scheme", []string{"MESSAGEBUS_URL=redis://127.0.0.1:6379"}, nil,
			[]string{"MESSAGEBUS_URL scheme must be nats, tls, amqp, amqps or embedded"}},
		{"missing password via flag", nil, []string{"serve", "--ari-password="},
			[]string{"ARI_PASSWORD is required"}},
		{"negative duration as first-arg flag", nil, []string{"--request-timeout=-3s"},
			[]string{"ARI_PROXY_REQUEST_TIMEOUT must not be negative", "flag --request-timeout"}},
		{"unknown flag", nil, []string{"serve", "--no-such-flag"},
			[]string{"no-such-flag"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			code, _, stderr := exitCode(t, command(t, append(append([]string{}, base...), tt.env...), tt.args...), 30*time.Second)
			if code != exitUsage {
				t.Errorf("exit code %d, want %d; stderr:\n%s", code, exitUsage, stderr)
			}
			for _, w := range tt.want {
				if !strings.Contains(stderr, w) {
					t.Errorf("stderr lacks %q:\n%s", w, stderr)
				}
			}
			if strings.Contains(stderr, "pw-not-shown") {
				t.Errorf("stderr shows the password:\n%s", stderr)
			}
		})
	}
}

func TestRunCommands(t *testing.T) {
	tests := []struct {
		args []string
		code int
		out  string // in stdout
		err  string // in stderr
	}{
		{[]string{"version"}, exitOK, "ari-proxy ", ""},
		{[]string{"help"}, exitOK, "ari-proxy demo", ""},
		{[]string{"--help"}, exitOK, "ari-proxy sim", ""},
		{[]string{"serve", "-h"}, exitOK, "", "--ari-websocket-url"},
		{[]string{"sim", "-h"}, exitOK, "", "-entity-id"},
		{[]string{"demo", "-h"}, exitOK, "", "-calls"},
		{[]string{"bogus"}, exitUsage, "", `unknown command "bogus"`},
		{[]string{"sim", "--time-scale=0"}, exitUsage, "", "--time-scale"},
		{[]string{"demo", "--calls=0"}, exitUsage, "", "--calls must be at least 1"},
		{[]string{"sim", "extra"}, exitUsage, "", "unexpected argument"},
	}
	for _, tt := range tests {
		var stdout, stderr bytes.Buffer
		code := run(context.Background(), tt.args, &stdout, &stderr)
		if code != tt.code {
			t.Errorf("%v: exit %d, want %d (stderr %s)", tt.args, code, tt.code, stderr.String())
		}
		if !strings.Contains(stdout.String(), tt.out) {
			t.Errorf("%v: stdout lacks %q:\n%s", tt.args, tt.out, stdout.String())
		}
		if !strings.Contains(stderr.String(), tt.err) {
			t.Errorf("%v: stderr lacks %q:\n%s", tt.args, tt.err, stderr.String())
		}
	}
}

// logWatcher reads a command's JSON log lines from r and hands out the
// first record of a given message.
type logWatcher struct {
	mu      sync.Mutex
	records []map[string]any
	all     strings.Builder
	changed chan struct{}
}

func watchLog(r io.Reader) *logWatcher {
	w := &logWatcher{changed: make(chan struct{}, 1)}
	go func() {
		sc := bufio.NewScanner(r)
		for sc.Scan() {
			var rec map[string]any
			_ = json.Unmarshal(sc.Bytes(), &rec)
			w.mu.Lock()
			w.all.WriteString(sc.Text() + "\n")
			if rec != nil {
				w.records = append(w.records, rec)
			}
			w.mu.Unlock()
			select {
			case w.changed <- struct{}{}:
			default:
			}
		}
	}()
	return w
}

func (w *logWatcher) text() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.all.String()
}

// wait returns the first record whose msg is msg.
func (w *logWatcher) wait(t *testing.T, msg string, limit time.Duration) map[string]any {
	t.Helper()
	deadline := time.After(limit)
	for {
		w.mu.Lock()
		for _, r := range w.records {
			if r["msg"] == msg {
				w.mu.Unlock()
				return r
			}
		}
		w.mu.Unlock()
		select {
		case <-w.changed:
		case <-time.After(50 * time.Millisecond):
		case <-deadline:
			t.Fatalf("no log %q within %s; log:\n%s", msg, limit, w.text())
		}
	}
}

// start starts cmd with its stderr watched, and stops it (SIGINT) at the
// end of the test, checking it exits 0.
func start(t *testing.T, cmd *exec.Cmd) *logWatcher {
	t.Helper()
	pr, pw := io.Pipe()
	cmd.Stderr = pw
	cmd.Stdout = io.Discard
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	w := watchLog(pr)
	done := make(chan error, 1)
	go func() { done <- cmd.Wait(); pw.Close() }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGINT)
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("%v after SIGINT: %v; log:\n%s", cmd.Args, err, w.text())
			}
		case <-time.After(15 * time.Second):
			_ = cmd.Process.Kill()
			t.Errorf("%v did not stop within 15s of SIGINT; log:\n%s", cmd.Args, w.text())
		}
	})
	return w
}

func TestSim(t *testing.T) {
	w := start(t, command(t, nil, "sim", "--listen", "127.0.0.1:0", "--user", "alice", "--password", "s3cret",
		"--entity-id", "02:fc:00:00:00:42", "--log-format", "json"))
	rec := w.wait(t, "ARI simulator listening", 30*time.Second)
	base, _ := rec["http_url"].(string)
	if !strings.HasPrefix(base, "http://127.0.0.1:") || !strings.HasSuffix(base, "/ari") {
		t.Fatalf("http_url = %q", base)
	}
	if ws, _ := rec["websocket_url"].(string); !strings.HasPrefix(ws, "ws://127.0.0.1:") {
		t.Errorf("websocket_url = %q", ws)
	}

	get := func(user, pass string) (*http.Response, []byte) {
		req, _ := http.NewRequest("GET", base+"/asterisk/info", nil)
		req.SetBasicAuth(user, pass)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp, body
	}
	resp, body := get("alice", "s3cret")
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /ari/asterisk/info: %d %s", resp.StatusCode, body)
	}
	var info struct {
		System struct {
			EntityID string `json:"entity_id"`
		} `json:"system"`
	}
	if err := json.Unmarshal(body, &info); err != nil {
		t.Fatal(err)
	}
	if info.System.EntityID != "02:fc:00:00:00:42" {
		t.Errorf("entity_id = %q", info.System.EntityID)
	}
	if resp, _ := get("alice", "wrong"); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("wrong password: status %d, want 401", resp.StatusCode)
	}
}

// TestServe runs the server against a simulator, on an embedded bus, with
// metrics: it must become healthy, export metrics and stop cleanly.
func TestServe(t *testing.T) {
	sim := localstack.StartSimConfig(t, arisim.Config{User: "u", Password: "pw-not-shown", EntityID: "02:fc:00:00:00:07"})
	w := start(t, command(t, []string{
		"ARI_APPLICATION=demo,other", "ARI_USERNAME=u", "ARI_PASSWORD=pw-not-shown",
		"ARI_HTTP_URL=" + sim.URL(), "ARI_WEBSOCKET_URL=" + sim.WebSocketURL(),
		"MESSAGEBUS_URL=embedded://127.0.0.1:0", "ARI_PROXY_LOG_FORMAT=json",
	}, "--metrics-addr", "127.0.0.1:0"))

	emb := w.wait(t, "embedded NATS server listening", 30*time.Second)
	if u, _ := emb["url"].(string); !strings.HasPrefix(u, "nats://127.0.0.1:") {
		t.Errorf("embedded url = %q", u)
	}
	metrics := w.wait(t, "metrics listening", 30*time.Second)
	ready := w.wait(t, "ready", 30*time.Second)
	if ready["node"] != "02:fc:00:00:00:07" {
		t.Errorf("ready node = %v", ready["node"])
	}

	get := func(url string) (int, string) {
		resp, err := http.Get(url)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	metricsURL, _ := metrics["url"].(string)
	for _, key := range []string{"health", "livez", "readyz"} {
		u, _ := metrics[key].(string)
		if code, body := get(u); code != http.StatusOK || strings.TrimSpace(body) != "ok" {
			t.Errorf("%s %q: %d %s", key, u, code, body)
		}
	}
	// Asterisk gone: not ready, still alive.
	sim.DropWebSockets()
	sim.RefuseConnections(time.Hour)
	readyz, _ := metrics["readyz"].(string)
	livez, _ := metrics["livez"].(string)
	deadline := time.Now().Add(10 * time.Second)
	for {
		code, body := get(readyz)
		if code == http.StatusServiceUnavailable && strings.Contains(body, "ARI WebSocket down") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("readyz with Asterisk down: %d %s", code, body)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if code, _ := get(livez); code != http.StatusOK {
		t.Errorf("livez with Asterisk down: %d", code)
	}
	sim.RefuseConnections(0)
	if code, body := get(metricsURL); code != http.StatusOK || !strings.Contains(body, "ariproxy_") || !strings.Contains(body, "go_goroutines") {
		t.Errorf("metrics: %d, no ariproxy_ or go_ series:\n%.2000s", code, body)
	}
	if strings.Contains(w.text(), "pw-not-shown") {
		t.Errorf("the log shows the password:\n%s", w.text())
	}
}

// TestRabbitMQ: serve on an amqp:// bus becomes ready, reports the bus
// healthy and exports the RabbitMQ metrics; demo --bus runs on the same
// broker.
func TestRabbitMQ(t *testing.T) {
	url := bustest.RabbitMQURL(t)
	sim := localstack.StartSimConfig(t, arisim.Config{User: "u", Password: "pw-not-shown", EntityID: "02:fc:00:00:00:08"})
	w := start(t, command(t, []string{
		"ARI_APPLICATION=demo", "ARI_USERNAME=u", "ARI_PASSWORD=pw-not-shown",
		"ARI_HTTP_URL=" + sim.URL(), "ARI_WEBSOCKET_URL=" + sim.WebSocketURL(),
		"MESSAGEBUS_URL=" + url, "ARI_PROXY_LOG_FORMAT=json", "ARI_PROXY_PREFIX=" + localstack.Prefix(),
	}, "--metrics-addr", "127.0.0.1:0"))
	metrics := w.wait(t, "metrics listening", 30*time.Second)
	w.wait(t, "ready", 30*time.Second)
	for _, u := range []string{metrics["health"].(string), metrics["url"].(string)} {
		resp, err := http.Get(u)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Errorf("%s: %d %s", u, resp.StatusCode, b)
		}
		if strings.Contains(u, "metrics") && !strings.Contains(string(b), "ariproxy_amqp_published_total") {
			t.Errorf("metrics lack ariproxy_amqp_published_total:\n%.2000s", b)
		}
	}

	code, stdout, stderr := exitCode(t, command(t, nil, "demo", "--calls", "2", "--bus", url), 60*time.Second)
	if code != 0 || !strings.Contains(stdout, "done: 2 calls") {
		t.Fatalf("demo --bus: exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
}

func TestDemoCommand(t *testing.T) {
	code, stdout, stderr := exitCode(t, command(t, nil, "demo", "--calls", "2"), 60*time.Second)
	if code != 0 {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	for _, want := range []string{"call 1 arrived", "call 2 arrived", "bridged call", "done: 2 calls"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("stdout lacks %q:\n%s", want, stdout)
		}
	}
}

// TestDefaultsAgree: the configuration's defaults are the proxy's, so that
// the README and -h tell what the server does when a setting is absent.
func TestDefaultsAgree(t *testing.T) {
	if config.DefaultAnnounceInterval != proxy.DefaultAnnounceInterval ||
		config.DefaultRequestTimeout != proxy.DefaultRequestTimeout ||
		config.DefaultMaxConcurrent != proxy.DefaultMaxConcurrent ||
		config.DefaultPrefix != wire.DefaultPrefix {
		t.Errorf("config defaults (%s, %s, %d, %q) differ from the proxy's (%s, %s, %d, %q)",
			config.DefaultAnnounceInterval, config.DefaultRequestTimeout, config.DefaultMaxConcurrent, config.DefaultPrefix,
			proxy.DefaultAnnounceInterval, proxy.DefaultRequestTimeout, proxy.DefaultMaxConcurrent, wire.DefaultPrefix)
	}
}
