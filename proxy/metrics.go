package proxy

import (
	"errors"
	"fmt"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/ariproxy/ari-proxy/ari"
	"github.com/ariproxy/ari-proxy/bus"
)

// Reasons of the bad input counter (label "reason").
const (
	reasonTooLarge   = "too_large"    // request above MaxRequestBytes
	reasonInvalid    = "invalid"      // not a request envelope (bad JSON, no kind...)
	reasonUnknown    = "unknown_kind" // kind not in the table
	reasonBadParams  = "bad_params"   // key or payload do not fit the kind
	reasonNoReply    = "no_reply"     // request without a reply subject, dropped
	reasonWrongClass = "wrong_class"  // a create on a subject every server receives
	reasonBadEvent   = "bad_event"    // an ARI event the server could not route
)

// Label values of the requests counter for requests that have no kind.
const (
	kindLabelInvalid = "invalid"
	kindLabelUnknown = "unknown"
	codeLabelOK      = "ok"
)

// metrics are the server's Prometheus collectors. They always exist, so the
// code never checks; they are registered only when Config.Registerer is set.
type metrics struct {
	events       *prometheus.CounterVec
	eventsEvent  prometheus.Counter // events{subject="event"}
	eventsDialog prometheus.Counter // events{subject="dialogevent"}
	received     *prometheus.CounterVec
	byType       map[string]prometheus.Counter // received, one per event type of the spec
	otherType    prometheus.Counter            // received{type="other"}: a type the spec does not define
	requests     *prometheus.CounterVec
	latency      *prometheus.HistogramVec
	badInput     *prometheus.CounterVec
	panics       prometheus.Counter
	wsUp         prometheus.Gauge
	wsReconnects prometheus.Counter
	bindings     prometheus.Gauge
	refused      prometheus.Counter
	publishFail  prometheus.Counter
	ready        func() bool // set by New: the server's readiness, for the ready gauge
	known        func() int  // set by New: the size of the known set, for its gauge
}

func newMetrics() *metrics {
	m := &metrics{
		events: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "ariproxy", Name: "events_published_total",
			Help: "ARI events published on the bus, by subject family (event, dialogevent).",
		}, []string{"subject"}),
		received: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "ariproxy", Name: "ari_events_total",
			Help: "ARI events received from Asterisk, by event type (\"other\" for a type the ARI spec does not define).",
		}, []string{"type"}),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "ariproxy", Name: "requests_total",
			Help: "Requests answered, by kind and result code (ok or the wire error code).",
		}, []string{"kind", "code"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: "ariproxy", Name: "request_duration_seconds",
			Help:    "Time from receiving a request to publishing its reply, by request class, kind and result code.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}, []string{"class", "kind", "code"}),
		badInput: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "ariproxy", Name: "bad_input_total",
			Help: "Requests and events rejected as malformed, by reason.",
		}, []string{"reason"}),
		panics: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: "ariproxy", Name: "request_panics_total",
			Help: "Requests whose handling panicked (recovered; a bug).",
		}),
		wsUp: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: "ariproxy", Name: "ari_websocket_up",
			Help: "1 while the ARI events WebSocket is connected.",
		}),
		wsReconnects: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: "ariproxy", Name: "ari_websocket_reconnects_total",
			Help: "Times the ARI events WebSocket came up again after it was lost (Asterisk restarted, network cut).",
		}),
		bindings: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: "ariproxy", Name: "dialog_bindings",
			Help: "Current (resource, dialog) bindings.",
		}),
	}
	m.refused = prometheus.NewCounter(prometheus.CounterOpts{
		Namespace: "ariproxy", Name: "requests_refused_total",
		Help: "Requests answered unavailable without being served because the server was stopping.",
	})
	m.publishFail = prometheus.NewCounter(prometheus.CounterOpts{
		Namespace: "ariproxy", Name: "events_publish_failed_total",
		Help: "Events the bus refused to take (each leaves a gap in its subject's sequence, seen by subscribers).",
	})
	m.eventsEvent = m.events.WithLabelValues("event")
	m.eventsDialog = m.events.WithLabelValues("dialogevent")
	// One series per known type, made now: the label's values stay
	// bounded whatever Asterisk sends, and counting is a map read.
	m.byType = map[string]prometheus.Counter{}
	for _, t := range ari.EventTypes() {
		m.byType[t] = m.received.WithLabelValues(t)
	}
	m.otherType = m.received.WithLabelValues("other")
	return m
}

// register adds every collector to r. A collector already registered
// (another server in the same process) is an error: wrap r with
// prometheus.WrapRegistererWith to tell servers apart.
func (m *metrics) register(r prometheus.Registerer, b bus.Bus) error {
	cs := []prometheus.Collector{m.events, m.received, m.requests, m.latency, m.badInput, m.panics, m.wsUp, m.wsReconnects, m.bindings, m.refused, m.publishFail,
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Namespace: "ariproxy", Name: "ready",
			Help: "1 while the server serves requests (what /readyz answers 200 to), 0 otherwise.",
		}, func() float64 { return boolFloat(m.ready()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Namespace: "ariproxy", Name: "known_resources",
			Help: "Channels, bridges, playbacks and live recordings this server knows are on its Asterisk (it claims probes for them).",
		}, func() float64 { return float64(m.known()) }),
	}
	// The bus's own state, when the implementation reports it (natsbus does).
	if c, ok := b.(connectedBus); ok {
		cs = append(cs, prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Namespace: "ariproxy", Name: "bus_up",
			Help: "1 while the connection to the message bus is up, 0 while it is reconnecting.",
		}, func() float64 { return boolFloat(c.Connected()) }))
	}
	if rc, ok := b.(reconnectingBus); ok {
		cs = append(cs, prometheus.NewCounterFunc(prometheus.CounterOpts{
			Namespace: "ariproxy", Name: "bus_reconnects_total",
			Help: "Times the connection to the message bus was re-established.",
		}, func() float64 { return float64(rc.Reconnects()) }))
	}
	for _, c := range cs {
		if err := r.Register(c); err != nil {
			var are prometheus.AlreadyRegisteredError
			if errors.As(err, &are) {
				return fmt.Errorf("proxy: metrics already registered (wrap the registerer with labels to run several servers): %w", err)
			}
			return fmt.Errorf("proxy: registering metrics: %w", err)
		}
	}
	return nil
}

// reconnectingBus is a bus that counts its reconnections (natsbus does).
type reconnectingBus interface {
	Reconnects() uint64
}

func boolFloat(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// eventReceived counts one event of type typ from Asterisk.
func (m *metrics) eventReceived(typ string) {
	if c, ok := m.byType[typ]; ok {
		c.Inc()
		return
	}
	m.otherType.Inc()
}

// answered counts one answered request and observes its latency. The
// kind label is bounded: a kind of the table, "invalid" or "unknown".
func (m *metrics) answered(class, kind, code string, took time.Duration) {
	m.requests.WithLabelValues(kind, code).Inc()
	m.latency.WithLabelValues(class, kind, code).Observe(took.Seconds())
}
