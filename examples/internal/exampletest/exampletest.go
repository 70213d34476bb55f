// Package exampletest runs the examples against the in-process stack:
// NATS, simulated Asterisks and a proxy server in front of each, and
// watches what an example writes.
package exampletest

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ariproxy/ari-proxy/arisim"
	"github.com/ariproxy/ari-proxy/internal/localstack"
	"github.com/ariproxy/ari-proxy/proxy"
)

// Cluster is a NATS server with simulated Asterisks and their servers.
type Cluster struct {
	URL     string
	Sims    []*arisim.Sim
	Servers []*proxy.Server
}

// Node is the entity id of the i-th simulator.
func Node(i int) string { return fmt.Sprintf("02:fc:00:00:00:%02x", i+1) }

// Start starts nodes simulators (sped up a hundredfold) and a server for
// apps in front of each, on one NATS server, all stopped on cleanup.
func Start(t *testing.T, nodes int, apps ...string) *Cluster {
	t.Helper()
	_, url := localstack.StartNATS(t)
	c := &Cluster{URL: url}
	for i := range nodes {
		sim := localstack.StartSimConfig(t, arisim.Config{EntityID: Node(i), TimeScale: 0.01})
		c.Sims = append(c.Sims, sim)
		c.Servers = append(c.Servers, localstack.RunServer(t, proxy.Config{
			Applications: apps,
			ARI:          localstack.ARIConfig(sim),
			Bus:          localstack.Connect(t, url),
		}))
	}
	return c
}

// Lines is an io.Writer that an example writes its lines to; tests wait
// for them.
type Lines struct {
	mu      sync.Mutex
	buf     bytes.Buffer
	changed chan struct{}
}

// NewLines returns an empty Lines.
func NewLines() *Lines { return &Lines{changed: make(chan struct{})} }

func (l *Lines) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.buf.Write(p)
	close(l.changed)
	l.changed = make(chan struct{})
	return len(p), nil
}

// String is everything written so far.
func (l *Lines) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

// Count is how many lines written so far contain sub.
func (l *Lines) Count(sub string) int {
	n := 0
	for _, line := range strings.Split(l.String(), "\n") {
		if strings.Contains(line, sub) {
			n++
		}
	}
	return n
}

// Wait waits until n lines contain sub, failing the test after timeout.
func (l *Lines) Wait(t *testing.T, sub string, n int, timeout time.Duration) {
	t.Helper()
	deadline := time.After(timeout)
	for {
		l.mu.Lock()
		ch := l.changed
		l.mu.Unlock()
		if l.Count(sub) >= n {
			return
		}
		select {
		case <-ch:
		case <-deadline:
			t.Fatalf("no %d lines with %q within %v; output:\n%s", n, sub, timeout, l.String())
		}
	}
}

// Run runs an example's run function in a goroutine until the test ends
// and checks it then returned nil.
func Run(t *testing.T, run func(ctx context.Context) error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("example: %v", err)
			}
		case <-time.After(10 * time.Second):
			t.Error("example did not stop")
		}
	})
}
