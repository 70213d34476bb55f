package proxy

import (
	"errors"
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
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
	requests     *prometheus.CounterVec
	latency      *prometheus.HistogramVec
	badInput     *prometheus.CounterVec
	panics       prometheus.Counter
	wsUp         prometheus.Gauge
	bindings     prometheus.Gauge
	refused      prometheus.Counter
	publishFail  prometheus.Counter
}

func newMetrics() *metrics {
	m := &metrics{
		events: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "ariproxy", Name: "events_published_total",
			Help: "ARI events published on the bus, by subject family (event, dialogevent).",
		}, []string{"subject"}),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "ariproxy", Name: "requests_total",
			Help: "Requests answered, by kind and result code (ok or the wire error code).",
		}, []string{"kind", "code"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: "ariproxy", Name: "request_duration_seconds",
			Help:    "Time from receiving a request to publishing its reply, by request class.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}, []string{"class"}),
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
	return m
}

// register adds every collector to r. A collector already registered
// (another server in the same process) is an error: wrap r with
// prometheus.WrapRegistererWith to tell servers apart.
func (m *metrics) register(r prometheus.Registerer) error {
	for _, c := range []prometheus.Collector{m.events, m.requests, m.latency, m.badInput, m.panics, m.wsUp, m.bindings, m.refused, m.publishFail} {
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
