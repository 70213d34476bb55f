package proxy

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"
	"time"
)

// connectedBus is a bus that knows whether it is connected now (natsbus
// does). A bus that does not is taken to be connected.
type connectedBus interface {
	Connected() bool
}

// Reasons Readiness gives, each wrapped by its error.
var (
	ErrShuttingDown  = errors.New("shutting down")
	ErrNodeUnknown   = errors.New("node id unknown: Asterisk has not answered GET /asterisk/info yet")
	ErrARIDown       = errors.New("ARI WebSocket down")
	ErrBusDown       = errors.New("message bus disconnected")
	ErrNotServingYet = errors.New("starting: waiting for Asterisk to register the applications")
	ErrNotStarted    = errors.New("not started: Run has not been called")
)

// Readiness says whether the server serves requests now: nil when it
// does, otherwise an error naming every reason it does not (shutting
// down, node id unknown, ARI WebSocket down, bus disconnected), each
// testable with errors.Is. It is what /readyz answers.
func (s *Server) Readiness() error {
	if !s.started.Load() {
		return ErrNotStarted
	}
	if s.isStopping() {
		return ErrShuttingDown
	}
	var errs []error
	if s.Node() == "" {
		errs = append(errs, ErrNodeUnknown)
	}
	s.wsMu.Lock()
	wsUp := s.wsUp
	s.wsMu.Unlock()
	if !wsUp {
		errs = append(errs, ErrARIDown)
	}
	if c, ok := s.bus.(connectedBus); ok && !c.Connected() {
		errs = append(errs, ErrBusDown)
	}
	if err := s.Liveness(); err != nil {
		errs = append(errs, err)
	}
	if len(errs) == 0 && !s.serving.Load() {
		errs = append(errs, ErrNotServingYet)
	}
	if len(errs) == 0 {
		return nil
	}
	return readinessError(errs)
}

// readinessError joins the reasons on one line.
type readinessError []error

func (e readinessError) Error() string {
	parts := make([]string, len(e))
	for i, err := range e {
		parts[i] = err.Error()
	}
	return strings.Join(parts, "; ")
}

func (e readinessError) Unwrap() []error { return e }

// wedgeAfter is how long the handling of one ARI event may last before
// the server counts as wedged. Handling an event takes microseconds and
// never waits for the network (bus publishes are buffered), so only a
// bug (a lock never released) gets near it. A variable for tests.
var wedgeAfter = 30 * time.Second

// ErrWedged is what Liveness returns when the server is stuck.
var ErrWedged = errors.New("wedged")

// busySince records since when a piece of work has been running, 0 when
// none is: the WebSocket reader handles one event at a time.
type busySince struct{ t atomic.Int64 }

func (b *busySince) enter() { b.t.Store(time.Now().UnixNano()) }
func (b *busySince) leave() { b.t.Store(0) }

// since is how long the current work has been running (0: none).
func (b *busySince) since(now time.Time) time.Duration {
	if t := b.t.Load(); t != 0 {
		return now.Sub(time.Unix(0, t))
	}
	return 0
}

// Liveness says whether the server works at all: nil unless it is
// wedged, an error wrapping ErrWedged when one ARI event has been in
// handling for longer than 30 s (events from Asterisk no longer flow, and
// only a restart helps). It is what /livez answers. A server waiting for
// Asterisk or the bus is alive: it recovers by itself.
func (s *Server) Liveness() error {
	if d := s.eventBusy.since(time.Now()); d > wedgeAfter {
		return fmt.Errorf("%w: an ARI event has been in handling for %s", ErrWedged, d.Round(time.Second))
	}
	return nil
}

// HealthHandler serves the probes of Kubernetes convention:
//
//   - /livez (and /healthz, its older name): 200 "ok" unless Liveness
//     says the server is wedged, then 503 with the reason.
//   - /readyz: 200 "ok" while Readiness is nil, 503 with the reasons
//     otherwise.
//
// Mount it beside /metrics (ari-proxy serve does, on --metrics-addr).
func (s *Server) HealthHandler() http.Handler {
	mux := http.NewServeMux()
	live := func(w http.ResponseWriter, r *http.Request) { writeProbe(w, s.Liveness()) }
	mux.HandleFunc("GET /livez", live)
	mux.HandleFunc("GET /healthz", live)
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) { writeProbe(w, s.Readiness()) })
	return mux
}

// ProbePaths are the paths HealthHandler serves.
var ProbePaths = []string{"/livez", "/healthz", "/readyz"}

func writeProbe(w http.ResponseWriter, err error) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	if err != nil {
		w.WriteHeader(http.StatusServiceUnavailable)
		if errors.Is(err, ErrWedged) {
			fmt.Fprintf(w, "not alive: %v\n", err)
			return
		}
		fmt.Fprintf(w, "not ready: %v\n", err)
		return
	}
	fmt.Fprintln(w, "ok")
}
