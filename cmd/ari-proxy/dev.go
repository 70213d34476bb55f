package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/ariproxy/ari-proxy/internal/localstack"
	"github.com/ariproxy/ari-proxy/wire"
)

// Defaults of "ari-proxy dev".
const (
	devDefaultApplication = "demo"
	devDefaultNATS        = "127.0.0.1:4222"
	devDefaultControl     = "127.0.0.1:8089"
	devMaxNodes           = 9
)

// devCmd runs a local stack for trying clients (the Node SDK, the Go
// client, v5 clients): an embedded NATS server, one simulated Asterisk and
// proxy server per node, and a small HTTP endpoint that places simulated
// inbound calls. Unlike demo, it runs no application: the user brings it.
func devCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("ari-proxy dev", flag.ContinueOnError)
	fs.SetOutput(stderr)
	app := fs.String("application", devDefaultApplication, "Stasis application the proxy servers serve")
	natsAddr := fs.String("nats", devDefaultNATS, "address of the embedded NATS server (host:port; port 0 picks a free one)")
	control := fs.String("control", devDefaultControl, `address of the HTTP endpoint placing simulated inbound calls ("POST /call"; "" for none)`)
	nodes := fs.Int("nodes", 1, fmt.Sprintf("number of simulated Asterisk servers, each with its proxy server (1 to %d)", devMaxNodes))
	callEvery := fs.Duration("call-every", 0, "place a simulated inbound call this often on the first node (0: only on request)")
	timeScale := fs.Float64("time-scale", 1, "multiply the simulated media durations (0.1 plays a 3 s prompt in 0.3 s)")
	prefix := fs.String("prefix", wire.DefaultPrefix, "subject prefix of the proxy servers")
	logLevel := fs.String("log-level", "warn", "level of the components' logs on stderr: debug, info, warn or error")
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), `Usage: ari-proxy dev [flags]

Runs a local ari-proxy stack for developing applications: an embedded NATS
server, the ARI simulator standing in for Asterisk and the proxy server
between them (one simulator and proxy per --nodes), without an
application. It prints the bus URL and the application to connect to, as
environment variables the clients read, then runs until interrupted.

Simulated inbound calls ring the application on request:

  curl -X POST http://127.0.0.1:8089/call            # first node
  curl -X POST 'http://127.0.0.1:8089/call?node=2&args=a,b'

Flags:
`)
		fs.PrintDefaults()
	}
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *nodes < 1 || *nodes > devMaxNodes {
		return usageError{fmt.Errorf("--nodes must be 1 to %d, not %d", devMaxNodes, *nodes)}
	}
	if !wire.ValidToken(*app) {
		return usageError{fmt.Errorf("--application %q is not a valid subject token", *app)}
	}
	if *callEvery < 0 || *timeScale <= 0 {
		return usageError{errors.New("--call-every must not be negative and --time-scale must be more than zero")}
	}
	log, err := newLogger(stderr, *logLevel, "text")
	if err != nil {
		return usageError{err}
	}

	d, err := startDev(ctx, devOptions{App: *app, NATSAddr: *natsAddr, Nodes: *nodes, TimeScale: *timeScale, Prefix: *prefix, Logger: log})
	if err != nil {
		return err
	}
	defer d.Close()

	var ctlURL string
	if *control != "" {
		ln, err := net.Listen("tcp", *control)
		if err != nil {
			return fmt.Errorf("control endpoint: %w", err)
		}
		srv := &http.Server{Handler: d.handler(), ReadHeaderTimeout: 5 * time.Second}
		go func() { _ = srv.Serve(ln) }()
		defer srv.Close()
		ctlURL = "http://" + ln.Addr().String() + "/call"
	}

	fmt.Fprintf(stdout, "ari-proxy dev: NATS, %d simulated Asterisk and proxy server(s) running; no application.\n", *nodes)
	fmt.Fprintf(stdout, "MESSAGEBUS_URL=%s\n", d.stacks[0].BusURL())
	fmt.Fprintf(stdout, "ARI_APPLICATION=%s\n", *app)
	if *prefix != wire.DefaultPrefix {
		fmt.Fprintf(stdout, "ARI_PREFIX=%s\n", *prefix)
	}
	for i, s := range d.stacks {
		fmt.Fprintf(stdout, "node %d: %s\n", i+1, s.Sim.EntityID())
	}
	if ctlURL != "" {
		fmt.Fprintf(stdout, "ARI_PROXY_DEV_CALL_URL=%s\n", ctlURL)
		fmt.Fprintf(stdout, "place an inbound call: curl -X POST %s\n", ctlURL)
	}
	fmt.Fprintln(stdout, "ready; Ctrl-C stops")

	var tick <-chan time.Time
	if *callEvery > 0 {
		t := time.NewTicker(*callEvery)
		defer t.Stop()
		tick = t.C
	}
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-tick:
			if id, node, err := d.call(0, nil); err != nil {
				log.Warn("placing a simulated call", "err", err)
			} else {
				fmt.Fprintf(stdout, "inbound call %s on %s\n", id, node)
			}
		}
	}
}

type devOptions struct {
	App       string
	NATSAddr  string
	Nodes     int
	TimeScale float64
	Prefix    string
	Logger    *slog.Logger
}

// devStack is the running stack of "ari-proxy dev".
type devStack struct {
	app    string
	stacks []*localstack.Stack
	mu     sync.Mutex
}

// startDev starts NATS and the nodes; the first stack owns the NATS server,
// the others share it.
func startDev(ctx context.Context, o devOptions) (_ *devStack, err error) {
	d := &devStack{app: o.App}
	defer func() {
		if err != nil {
			d.Close()
		}
	}()
	for i := range o.Nodes {
		lo := localstack.Options{
			Application: o.App,
			EntityID:    fmt.Sprintf("02:fc:00:00:00:%02x", i+1),
			TimeScale:   o.TimeScale,
			Prefix:      o.Prefix,
			Name:        fmt.Sprintf("ari-proxy dev server %d", i+1),
			Logger:      o.Logger.With("node", i+1),
			NATSAddr:    o.NATSAddr,
			Mailboxes:   true,
		}
		if i > 0 {
			lo.NATS = d.stacks[0].NATS
		}
		s, err := localstack.Start(ctx, lo)
		if err != nil {
			return nil, fmt.Errorf("dev: node %d: %w", i+1, err)
		}
		d.stacks = append(d.stacks, s)
	}
	return d, nil
}

// call places a simulated inbound call on node i (0-based).
func (d *devStack) call(i int, args []string) (id, node string, err error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if i < 0 || i >= len(d.stacks) {
		return "", "", fmt.Errorf("no node %d (1 to %d)", i+1, len(d.stacks))
	}
	s := d.stacks[i]
	id, err = s.Sim.InboundCall(d.app, args...)
	return id, s.Sim.EntityID(), err
}

// handler serves POST /call[?node=N][&args=a,b]: one simulated inbound
// call, answered with {"channel": id, "node": entity id}.
func (d *devStack) handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /call", func(w http.ResponseWriter, r *http.Request) {
		i := 0
		if n := r.URL.Query().Get("node"); n != "" {
			if _, err := fmt.Sscanf(n, "%d", &i); err != nil || i < 1 {
				http.Error(w, "node must be a number from 1", http.StatusBadRequest)
				return
			}
			i--
		}
		var args []string
		if a := r.URL.Query().Get("args"); a != "" {
			args = strings.Split(a, ",")
		}
		id, node, err := d.call(i, args)
		if err != nil {
			http.Error(w, err.Error(), http.StatusConflict)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]string{"channel": id, "node": node})
	})
	return mux
}

// Close stops the nodes, the one owning NATS last.
func (d *devStack) Close() {
	for i := len(d.stacks) - 1; i >= 0; i-- {
		_ = d.stacks[i].Close()
	}
}
