package proxy_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/ariproxy/ari-proxy/arisim"
	"github.com/ariproxy/ari-proxy/bus"
	"github.com/ariproxy/ari-proxy/internal/bustest"
	"github.com/ariproxy/ari-proxy/internal/localstack"
	"github.com/ariproxy/ari-proxy/proxy"
	"github.com/ariproxy/ari-proxy/wire"
)

// The simulated Asterisk of the tests: the one of the transcripts and the
// v5 corpus.
const (
	node1 = "02:fc:00:00:00:01"
	app   = "demo"
)

// env is one proxy server in front of one simulator, with a client bus
// connection and a metrics registry.
type env struct {
	t      testing.TB
	busURL string
	sim    *arisim.Sim
	cli    bus.Bus
	prefix string
	subj   wire.Subjects
	srv    *proxy.Server
	reg    *prometheus.Registry
}

// newEnv starts NATS, a simulator and a server for app "demo"; mods adjust
// the server's configuration.
func newEnv(t testing.TB, mods ...func(*proxy.Config)) *env {
	t.Helper()
	return newEnvOn(t, bustest.NATS, mods...)
}

// newEnvOn is newEnv on a bus of transport tr (suites parameterised by
// transport).
func newEnvOn(t testing.TB, tr bustest.Transport, mods ...func(*proxy.Config)) *env {
	t.Helper()
	url := tr.URL(t)
	sim := localstack.StartSim(t, node1)
	e := &env{t: t, busURL: url, sim: sim, prefix: localstack.Prefix(), reg: prometheus.NewRegistry()}
	e.subj = wire.NewSubjects(e.prefix)
	e.srv = e.startServer(sim, mods...)
	e.cli = localstack.ConnectBus(t, url)
	return e
}

// startServer starts one more server on the env's bus and prefix.
func (e *env) startServer(sim *arisim.Sim, mods ...func(*proxy.Config)) *proxy.Server {
	e.t.Helper()
	cfg := proxy.Config{
		Applications: []string{app},
		ARI:          localstack.ARIConfig(sim),
		Bus:          localstack.ConnectBus(e.t, e.busURL),
		Prefix:       e.prefix,
	}
	if e.srv == nil {
		cfg.Registerer = e.reg
	}
	for _, m := range mods {
		m(&cfg)
	}
	return localstack.RunServer(e.t, cfg)
}

// encode accepts a payload as raw JSON (string or []byte) or a value.
func encode(t testing.TB, payload any) []byte {
	switch p := payload.(type) {
	case []byte:
		return p
	case string:
		return []byte(p)
	}
	b, err := json.Marshal(payload)
	if err != nil {
		t.Fatalf("encoding %v: %v", payload, err)
	}
	return b
}

// requestRaw sends a request and returns the raw replies: up to n, or all
// that arrive within wait when n is 0.
func (e *env) requestRaw(subject string, payload any, n int, wait time.Duration) ([][]byte, error) {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	var out [][]byte
	err := e.cli.RequestMany(ctx, subject, encode(e.t, payload), func(b []byte) bool {
		out = append(out, append([]byte(nil), b...))
		return n == 0 || len(out) < n
	})
	if errors.Is(err, context.DeadlineExceeded) && (n == 0 && len(out) > 0 || n > 0 && len(out) >= n) {
		err = nil
	}
	return out, err
}

// request sends a request and returns its first reply.
func (e *env) request(subject string, payload any) *wire.Response {
	e.t.Helper()
	raws, err := e.requestRaw(subject, payload, 1, 10*time.Second)
	if err != nil {
		e.t.Fatalf("request on %s: %v", subject, err)
	}
	return decodeResponse(e.t, raws[0])
}

func decodeResponse(t testing.TB, raw []byte) *wire.Response {
	t.Helper()
	var r wire.Response
	if err := json.Unmarshal(raw, &r); err != nil {
		t.Fatalf("reply %s: %v", raw, err)
	}
	return &r
}

// ok fails the test when r is an error reply.
func ok(t testing.TB, what string, r *wire.Response) *wire.Response {
	t.Helper()
	if r.Error != "" || r.Code != "" {
		t.Fatalf("%s: error reply: %+v", what, r)
	}
	return r
}

// sub subscribes the client to subject; the channel gets every message.
func (e *env) sub(subject string) <-chan []byte {
	e.t.Helper()
	ch := make(chan []byte, 20000)
	s, err := e.cli.Subscribe(subject, func(m bus.Msg) { ch <- append([]byte(nil), m.Data...) })
	if err != nil {
		e.t.Fatalf("subscribe %s: %v", subject, err)
	}
	e.t.Cleanup(func() { s.Unsubscribe() })
	return ch
}

// eventOf is the part of an event the tests look at.
type eventOf struct {
	Type        string `json:"type"`
	Application string `json:"application"`
	AsteriskID  string `json:"asterisk_id"`
	Dialog      string `json:"dialog"`
	Channel     *struct {
		ID string `json:"id"`
	} `json:"channel"`
	Value     string `json:"value"`
	Variable  string `json:"variable"`
	Userevent *struct {
		Seq string `json:"seq"`
	} `json:"userevent"`
}

func decodeEvent(t testing.TB, raw []byte) eventOf {
	t.Helper()
	var ev eventOf
	if err := json.Unmarshal(raw, &ev); err != nil {
		t.Fatalf("event %s: %v", raw, err)
	}
	return ev
}

// waitEvent reads ch until an event matches, failing after timeout.
func waitEvent(t testing.TB, ch <-chan []byte, timeout time.Duration, match func(eventOf, []byte) bool) []byte {
	t.Helper()
	deadline := time.After(timeout)
	for {
		select {
		case raw := <-ch:
			if match(decodeEvent(t, raw), raw) {
				return raw
			}
		case <-deadline:
			t.Fatalf("no matching event within %v", timeout)
			return nil
		}
	}
}

// eventually polls cond until it holds or timeout passes.
func eventually(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// metric returns the value of the counter or gauge name with labels
// (name=value pairs) in reg, 0 when absent.
func metric(t testing.TB, reg *prometheus.Registry, name string, labels ...string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatalf("gather: %v", err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	next:
		for _, m := range mf.GetMetric() {
			for i := 0; i+1 < len(labels); i += 2 {
				if labelValue(m, labels[i]) != labels[i+1] {
					continue next
				}
			}
			switch {
			case m.Counter != nil:
				return m.Counter.GetValue()
			case m.Gauge != nil:
				return m.Gauge.GetValue()
			case m.Histogram != nil:
				return float64(m.Histogram.GetSampleCount())
			}
		}
	}
	return 0
}

func labelValue(m *dto.Metric, name string) string {
	for _, l := range m.GetLabel() {
		if l.GetName() == name {
			return l.GetValue()
		}
	}
	return ""
}

// originate creates a channel into Stasis app demo through the proxy and
// waits for its StasisStart on the event subject.
func (e *env) originate(id string, events <-chan []byte) {
	e.t.Helper()
	r := ok(e.t, "originate", e.request(e.subj.Request(wire.ClassCreate, "", ""), map[string]any{
		"kind": "ChannelOriginate", "key": map[string]any{},
		"channel_originate": map[string]any{"originate_request": map[string]any{
			"endpoint": "Local/echo@default", "app": app, "channelId": id,
		}},
	}))
	if r.Key == nil || r.Key.ID != id {
		e.t.Fatalf("originate reply key = %+v", r.Key)
	}
	if events != nil {
		waitEvent(e.t, events, 5*time.Second, func(ev eventOf, _ []byte) bool {
			return ev.Type == "StasisStart" && ev.Channel != nil && ev.Channel.ID == id
		})
	}
}

func chanKey(id string) map[string]any {
	return map[string]any{"kind": "channel", "id": id, "node": node1, "app": app}
}

// has reports whether s contains every one of subs.
func has(s string, subs ...string) bool {
	for _, sub := range subs {
		if !strings.Contains(s, sub) {
			return false
		}
	}
	return true
}
