package proxy

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
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
	if s.stopping.Load() {
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

// HealthHandler serves the probes of Kubernetes convention:
//
//   - /livez (and /healthz, its older name): 200 "ok" while the process
//     serves HTTP at all. A server waiting for Asterisk or the bus is
//     alive (it recovers by itself), so restarting it would not help.
//   - /readyz: 200 "ok" while Readiness is nil, 503 with the reasons
//     otherwise.
//
// Mount it beside /metrics (ari-proxy serve does, on --metrics-addr).
func (s *Server) HealthHandler() http.Handler {
	mux := http.NewServeMux()
	live := func(w http.ResponseWriter, r *http.Request) { writeProbe(w, nil) }
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
		fmt.Fprintf(w, "not ready: %v\n", err)
		return
	}
	fmt.Fprintln(w, "ok")
}
