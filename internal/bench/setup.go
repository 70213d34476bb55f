package bench

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/ariproxy/ari-proxy/ariconn"
	"github.com/ariproxy/ari-proxy/arisim"
	"github.com/ariproxy/ari-proxy/bus"
	"github.com/ariproxy/ari-proxy/bus/busdial"
	"github.com/ariproxy/ari-proxy/bus/natsbus"
	"github.com/ariproxy/ari-proxy/bus/natsserver"
	"github.com/ariproxy/ari-proxy/internal/localstack"
	"github.com/ariproxy/ari-proxy/proxy"
)

// benchBus is the bus of a run: every connection of the run (the proxy
// servers', the clients', the echo responder's) reaches it at url.
type benchBus struct {
	url     string
	connect func(ctx context.Context, name string) (bus.Bus, error)
	close   func()
}

// openBus is the one place where the run's bus is chosen: with url ""
// an embedded NATS server on a free loopback port, else the external bus
// at url (nats://, tls://, amqp:// or amqps://, as the proxy's --bus-url
// takes).
func openBus(ctx context.Context, url string, log *slog.Logger) (*benchBus, error) {
	if url == "" {
		emb, err := natsserver.Start(ctx, "127.0.0.1:0", natsserver.WithLogger(log.With("component", "nats")))
		if err != nil {
			return nil, fmt.Errorf("bench: starting NATS: %w", err)
		}
		// Over TCP, as separate processes reach a NATS server (the proxy
		// server as a child process must): the figures are a deployment's.
		url := emb.ClientURL()
		return &benchBus{url: url, close: emb.Shutdown,
			connect: func(ctx context.Context, name string) (bus.Bus, error) {
				return natsbus.Connect(ctx, url, natsbus.WithName(name), natsbus.WithLogger(log))
			}}, nil
	}
	if _, ok := busdial.Transport(url); !ok {
		return nil, fmt.Errorf("bench: bus %s: want nats://, tls://, amqp:// or amqps://", busdial.RedactURL(url))
	}
	connect := func(ctx context.Context, name string) (bus.Bus, error) {
		return busdial.Dial(ctx, url, busdial.Options{Name: name, Logger: log})
	}
	probe, err := connect(ctx, "ari-proxy bench probe")
	if err != nil {
		return nil, fmt.Errorf("bench: bus %s: %w", busdial.RedactURL(url), err)
	}
	_ = probe.Close()
	return &benchBus{url: url, connect: connect, close: func() {}}, nil
}

// target is the ARI the run measures: the simulator (sim set) or a real
// Asterisk.
type target struct {
	httpURL, wsURL string
	user, password string
	sim            *arisim.Sim // nil for a real Asterisk
}

func (t target) ariConfig(log *slog.Logger) ariconn.Config {
	return ariconn.Config{HTTPURL: t.httpURL, WebSocketURL: t.wsURL, Username: t.user, Password: t.password,
		Logger: log.With("component", "ariconn")}
}

// startSim starts a simulator with entity id eid on a free loopback port.
func startSim(eid, password string, log *slog.Logger) (target, error) {
	sim := arisim.New(arisim.Config{User: simUser, Password: password, EntityID: eid,
		Logger: log.With("component", "arisim")})
	if _, err := sim.Listen("127.0.0.1:0"); err != nil {
		return target{}, fmt.Errorf("bench: starting the ARI simulator: %w", err)
	}
	return target{httpURL: sim.URL(), wsURL: sim.WebSocketURL(), user: simUser, password: password, sim: sim}, nil
}

// realTarget is the real Asterisk of Options.ARIURL: the events WebSocket
// is the REST base URL's /events, as Asterisk serves it.
func realTarget(o Options) (target, error) {
	ws := strings.TrimSuffix(o.ARIURL, "/") + "/events"
	switch {
	case strings.HasPrefix(ws, "http://"):
		ws = "ws://" + strings.TrimPrefix(ws, "http://")
	case strings.HasPrefix(ws, "https://"):
		ws = "wss://" + strings.TrimPrefix(ws, "https://")
	default:
		return target{}, fmt.Errorf("bench: --ari-url %q: want http:// or https://", o.ARIURL)
	}
	return target{httpURL: strings.TrimSuffix(o.ARIURL, "/"), wsURL: ws, user: o.ARIUser, password: o.ARIPassword}, nil
}

// Sample is what the proxy server's own metrics say at one moment.
type Sample struct {
	CPUSeconds float64 `json:"cpu_seconds"`
	RSSBytes   float64 `json:"rss_bytes"`
	HeapBytes  float64 `json:"heap_inuse_bytes"`
	Goroutines float64 `json:"goroutines"`
	Bindings   float64 `json:"dialog_bindings"`
}

// RSSMB is the resident set in MiB.
func (s Sample) RSSMB() float64 { return s.RSSBytes / (1 << 20) }

// sampleOf reads a Sample from gathered metric families.
func sampleOf(fams map[string]*dto.MetricFamily) Sample {
	val := func(name string) float64 {
		f := fams[name]
		if f == nil || len(f.Metric) == 0 {
			return 0
		}
		m := f.Metric[0]
		switch {
		case m.Gauge != nil:
			return m.Gauge.GetValue()
		case m.Counter != nil:
			return m.Counter.GetValue()
		case m.Untyped != nil:
			return m.Untyped.GetValue()
		}
		return 0
	}
	return Sample{CPUSeconds: val("process_cpu_seconds_total"), RSSBytes: val("process_resident_memory_bytes"),
		HeapBytes: val("go_memstats_heap_inuse_bytes"), Goroutines: val("go_goroutines"),
		Bindings: val("ariproxy_dialog_bindings")}
}

// proxyServer is the proxy server under measurement, in this process or a
// child process.
type proxyServer interface {
	// sample reads the server's metrics.
	sample(ctx context.Context) (Sample, error)
	stop() error
}

// inProcess is a proxy server run in the benchmark's own process: its
// process metrics are the whole benchmark's.
type inProcess struct {
	reg  *prometheus.Registry
	bus  bus.Bus // closed by stop when the server has its own
	owns bool
	halt func(time.Duration) error
}

// startInProcess starts a proxy server for app in front of t, on the bus
// connection shared when not nil, else on one of its own; reg, when not
// nil, receives its metrics and the process's.
func startInProcess(ctx context.Context, b *benchBus, shared bus.Bus, t target, app, name string, reg *prometheus.Registry, log *slog.Logger) (*inProcess, error) {
	conn, owns := shared, false
	if conn == nil {
		var err error
		if conn, err = b.connect(ctx, name); err != nil {
			return nil, fmt.Errorf("bench: proxy connecting to the bus: %w", err)
		}
		owns = true
	}
	closeOwn := func() {
		if owns {
			_ = conn.Close()
		}
	}
	cfg := proxy.Config{Applications: []string{app}, ARI: t.ariConfig(log), Bus: conn,
		Logger: log.With("component", "proxy")}
	if reg != nil {
		cfg.Registerer = reg
	}
	srv, err := proxy.New(cfg)
	if err != nil {
		closeOwn()
		return nil, fmt.Errorf("bench: %w", err)
	}
	halt, err := localstack.Serve(ctx, srv, startTimeout)
	if err != nil {
		closeOwn()
		return nil, fmt.Errorf("bench: %w", err)
	}
	return &inProcess{reg: reg, bus: conn, owns: owns, halt: halt}, nil
}

func (p *inProcess) sample(context.Context) (Sample, error) {
	if p.reg == nil {
		return Sample{}, errors.New("bench: no metrics registry")
	}
	fams, err := p.reg.Gather()
	if err != nil {
		return Sample{}, err
	}
	m := make(map[string]*dto.MetricFamily, len(fams))
	for _, f := range fams {
		m[f.GetName()] = f
	}
	return sampleOf(m), nil
}

func (p *inProcess) stop() error {
	err := p.halt(stopTimeout)
	if p.owns {
		_ = p.bus.Close()
	}
	return err
}

// newMetricsRegistry is a registry with the process and Go collectors, as
// `ari-proxy serve` exports them.
func newMetricsRegistry() *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return reg
}

// child is a proxy server run as a child process (`ari-proxy serve`):
// its metrics are its own.
type child struct {
	cmd     *exec.Cmd
	metrics string
	done    chan error
	stderr  *tailBuffer
}

// startChild runs command (the ari-proxy executable and "serve") with the
// settings of a proxy server for app in front of t, its metrics on a free
// loopback port.
func startChild(ctx context.Context, command []string, b *benchBus, t target, app string) (*child, error) {
	addr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	args := append(append([]string(nil), command[1:]...),
		"--application", app,
		"--ari-http-url", t.httpURL, "--ari-websocket-url", t.wsURL,
		"--ari-username", t.user,
		"--bus-url", b.url,
		"--metrics-addr", addr,
		"--log-level", "error")
	cmd := exec.Command(command[0], args...)
	// The password in the environment, not on the command line that ps shows.
	cmd.Env = append(os.Environ(), "ARI_PASSWORD="+t.password)
	tail := &tailBuffer{max: 8 << 10}
	cmd.Stdout, cmd.Stderr = io.Discard, tail
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("bench: starting the proxy server %s: %w", command[0], err)
	}
	c := &child{cmd: cmd, metrics: "http://" + addr + "/metrics", done: make(chan error, 1), stderr: tail}
	go func() { c.done <- cmd.Wait() }()
	deadline := time.Now().Add(startTimeout)
	for {
		if _, err := c.sample(ctx); err == nil {
			return c, nil
		}
		select {
		case err := <-c.done:
			c.done <- err
			return nil, fmt.Errorf("bench: the proxy server exited: %v: %s", err, tail.String())
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			_ = c.stop()
			return nil, fmt.Errorf("bench: the proxy server's metrics at %s not up in %s: %s", c.metrics, startTimeout, tail.String())
		}
	}
}

func (c *child) sample(ctx context.Context) (Sample, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.metrics, nil)
	if err != nil {
		return Sample{}, err
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return Sample{}, err
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return Sample{}, fmt.Errorf("bench: %s: %s", c.metrics, res.Status)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(res.Body)
	if err != nil {
		return Sample{}, fmt.Errorf("bench: %s: %w", c.metrics, err)
	}
	return sampleOf(fams), nil
}

// stop asks the server to stop (SIGINT, as a user would) and kills it
// when it has not within the stop timeout.
func (c *child) stop() error {
	_ = c.cmd.Process.Signal(os.Interrupt)
	select {
	case err := <-c.done:
		if err != nil {
			return fmt.Errorf("bench: the proxy server: %w: %s", err, c.stderr.String())
		}
		return nil
	case <-time.After(stopTimeout):
		_ = c.cmd.Process.Kill()
		<-c.done
		return fmt.Errorf("bench: the proxy server did not stop in %s", stopTimeout)
	}
}

// freeAddr is a loopback address with a port free at the time of asking.
func freeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("bench: finding a free port: %w", err)
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

// tailBuffer keeps the last max bytes written to it.
type tailBuffer struct {
	mu  sync.Mutex
	max int
	b   bytes.Buffer
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.b.Write(p)
	if over := t.b.Len() - t.max; over > 0 {
		t.b.Next(over)
	}
	return len(p), nil
}

func (t *tailBuffer) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return strings.TrimSpace(t.b.String())
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
