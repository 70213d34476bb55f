package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestBenchSmoke runs `ari-proxy bench --smoke` as a user does, with the
// proxy server as a child process (this test binary doubles as
// ari-proxy), so the benchmark never breaks unnoticed. Its figures are not
// asserted: the machine is shared.
func TestBenchSmoke(t *testing.T) {
	svg := filepath.Join(t.TempDir(), "bench.svg")
	code, stdout, stderr := exitCode(t, command(t, nil, "bench", "--smoke", "-q", "--svg", svg), 2*time.Minute)
	if code != exitOK {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	lines := strings.Split(strings.TrimSpace(stdout), "\n")
	last := regexp.MustCompile(`^bench: latency-ratio=[0-9.]+ throughput-ratio=[0-9.]+ events-per-sec=[0-9]+ overhead-rtts=-?[0-9.]+ events-ratio=[0-9.]+ calls-ratio=[0-9.]+$`)
	if !last.MatchString(lines[len(lines)-1]) {
		t.Errorf("last line %q\n%s", lines[len(lines)-1], stdout)
	}
	if !strings.Contains(stdout, "the proxy server's own process") {
		t.Errorf("the proxy server did not run as a child process:\n%s", stdout)
	}
	if b, err := os.ReadFile(svg); err != nil || !bytes.Contains(b, []byte("<svg")) {
		t.Errorf("chart: %v %.100s", err, b)
	}
	t.Log(lines[len(lines)-1])
}

func TestBenchUsage(t *testing.T) {
	for _, tt := range []struct {
		args []string
		err  string
	}{
		{[]string{"bench", "--scatter", "5,1"}, "counts must increase"},
		{[]string{"bench", "--scatter", "x"}, "not a positive whole number"},
		{[]string{"bench", "--concurrency-high", "0"}, "must be at least 1"},
		{[]string{"bench", "--ari-url", "http://127.0.0.1:1/ari"}, "--ari-url needs --ari-user"},
	} {
		var stdout, stderr bytes.Buffer
		if code := run(context.Background(), tt.args, &stdout, &stderr); code != exitUsage || !strings.Contains(stderr.String(), tt.err) {
			t.Errorf("%v: exit %d, stderr %q, want %d and %q", tt.args, code, stderr.String(), exitUsage, tt.err)
		}
	}
}
