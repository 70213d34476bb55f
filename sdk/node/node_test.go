// Package nodesdk holds the Go test that builds the Node.js SDK and runs
// its test suite (node's built-in test runner) against the Go stack, so
// that the repository's one test command covers the SDK too.
package nodesdk

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ariproxy/ari-proxy/internal/rabbitmqd"
	"github.com/ariproxy/ari-proxy/internal/sharedtest"
)

// TestNodeSDK builds the SDK (npm ci when node_modules is absent, npm run
// build), checks that TypeDoc generates its API reference, starts
// "ari-proxy dev" (two nodes) from a binary built once, and runs the Node
// suite against it: unit tests, every SDK method, events, listen across
// three instances, routing, the conference layer and the README example.
// Without npm it skips; under CI=true that is a failure.
func TestNodeSDK(t *testing.T) {
	ctx := needNode(t)

	build(ctx, t)
	run(ctx, t, nil, "npm", "run", "--silent", "docs:check")

	env := startDev(ctx, t)
	runSuite(ctx, t, env, "build/test/")
}

// rabbitMQSuite are the integration test files run on RabbitMQ too: every
// SDK method (operations), events with listen across three instances and
// routing, and the conference layer. Not faults.test (it fakes servers
// with a raw NATS connection) nor example.test (a listener of a fresh
// process: on RabbitMQ the shared listen queue keeps, for its expiry, the
// calls the earlier files placed while nobody listened, as v5's does).
var rabbitMQSuite = []string{"build/test/integration/operations.test.js", "build/test/integration/events.test.js", "build/test/integration/conference.test.js"}

// TestNodeSDKRabbitMQ runs the SDK's integration suite (the same files)
// on RabbitMQ: a private rabbitmq-server, "ari-proxy dev --bus amqp://..."
// with two nodes, and the SDK's amqplib transport. Without
// rabbitmq-server it skips; under CI=true that is a failure.
func TestNodeSDKRabbitMQ(t *testing.T) {
	ctx := needNode(t)
	broker, err := rabbitmqd.Start(ctx)
	if errors.Is(err, rabbitmqd.ErrNotInstalled) {
		sharedtest.SkipOrFail(t, "the Node SDK suite on RabbitMQ needs rabbitmq-server: %v", err)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(broker.Stop)
	build(ctx, t)
	env := startDev(ctx, t, "--bus", broker.URL())
	if !slices.ContainsFunc(env, func(v string) bool { return strings.HasPrefix(v, "MESSAGEBUS_URL=amqp://") }) {
		t.Fatalf("ari-proxy dev --bus %s printed no amqp:// MESSAGEBUS_URL: %q", broker.URL(), env)
	}
	runSuite(ctx, t, env, rabbitMQSuite...)
}

// runSuite runs node's test runner on paths with env and fails on any
// failure or skip.
func runSuite(ctx context.Context, t *testing.T, env []string, paths ...string) {
	t.Helper()
	out, err := command(ctx, env, "node", append([]string{"--test", "--test-concurrency=1"}, paths...)...).CombinedOutput()
	summary := regexp.MustCompile(`(?m)^# (tests|pass|fail|skipped) \d+$`).FindAll(out, -1)
	t.Logf("node --test: %s", bytes.Join(summary, []byte(", ")))
	if err != nil {
		t.Fatalf("node --test: %v\n%s", err, failures(out))
	}
	if m := regexp.MustCompile(`(?m)^# skipped (\d+)$`).FindSubmatch(out); m != nil && string(m[1]) != "0" {
		t.Errorf("node --test skipped %s tests:\n%s", m[1], out)
	}
}

// needNode skips (fails under CI=true) without node and npm; it returns
// the test's deadline.
func needNode(t *testing.T) context.Context {
	t.Helper()
	for _, tool := range []string{"node", "npm"} {
		if _, err := exec.LookPath(tool); err != nil {
			sharedtest.SkipOrFail(t, "the Node SDK suite (sdk/node) needs %s on PATH", tool)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// build installs the packages when node_modules is absent and builds the
// SDK and its tests.
func build(ctx context.Context, t *testing.T) {
	t.Helper()
	if _, err := os.Stat("node_modules"); err != nil {
		run(ctx, t, nil, "npm", "ci", "--no-audit", "--no-fund")
	}
	run(ctx, t, nil, "npm", "run", "--silent", "build")
	run(ctx, t, nil, "npm", "run", "--silent", "build:test")
}

func command(ctx context.Context, env []string, name string, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = append(os.Environ(), env...)
	return cmd
}

func run(ctx context.Context, t *testing.T, env []string, name string, args ...string) {
	t.Helper()
	out, err := command(ctx, env, name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
}

// failures keeps the lines of TAP output that tell what failed.
func failures(out []byte) string {
	var b strings.Builder
	for _, line := range strings.Split(string(out), "\n") {
		l := strings.TrimSpace(line)
		if strings.HasPrefix(l, "not ok") || strings.HasPrefix(l, "error:") || strings.HasPrefix(l, "expected") || strings.HasPrefix(l, "actual") || strings.HasPrefix(l, "location:") {
			b.WriteString(line + "\n")
		}
	}
	// The end of the output holds the failing tests' diagnostics.
	lines := strings.Split(string(out), "\n")
	b.WriteString("--- last lines of the output:\n")
	b.WriteString(strings.Join(lines[max(0, len(lines)-120):], "\n"))
	return b.String()
}

// startDev builds ari-proxy once and runs "ari-proxy dev" on free ports
// until the test ends; it returns the environment the Node suite reads.
func startDev(ctx context.Context, t *testing.T, extra ...string) []string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "ari-proxy")
	build := exec.CommandContext(ctx, "go", "build", "-o", bin, "./cmd/ari-proxy")
	build.Dir = "../.."
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build ./cmd/ari-proxy: %v\n%s", err, out)
	}
	args := append([]string{"dev", "--nats", "127.0.0.1:0", "--control", "127.0.0.1:0", "--nodes", "2", "--time-scale", "0.2"}, extra...)
	cmd := exec.Command(bin, args...)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Signal(os.Interrupt)
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("ari-proxy dev: %v\n%s", err, stderr.String())
			}
		case <-time.After(15 * time.Second):
			_ = cmd.Process.Kill()
			t.Errorf("ari-proxy dev did not stop within 15 s")
		}
	})
	var env, nodes []string
	sc := bufio.NewScanner(stdout)
	ready := false
	deadline := time.AfterFunc(30*time.Second, func() { _ = cmd.Process.Kill() })
	defer deadline.Stop()
	for sc.Scan() {
		line := sc.Text()
		if k, _, ok := strings.Cut(line, "="); ok && k == strings.ToUpper(k) && !strings.Contains(k, " ") {
			env = append(env, line)
		}
		if n, ok := strings.CutPrefix(line, "node "); ok {
			if _, id, ok := strings.Cut(n, ": "); ok {
				nodes = append(nodes, id)
			}
		}
		if strings.HasPrefix(line, "ready") {
			ready = true
			break
		}
	}
	if !ready {
		t.Fatalf("ari-proxy dev did not get ready:\n%s", stderr.String())
	}
	go func() {
		for sc.Scan() { // keep draining stdout (simulated calls)
		}
	}()
	return append(env, "ARI_PROXY_DEV_NODES="+strings.Join(nodes, ","))
}
