package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/coder/websocket"

	"github.com/ariproxy/ari-proxy/ari"
	"github.com/ariproxy/ari-proxy/ariconn"
	"github.com/ariproxy/ari-proxy/client"
	"github.com/ariproxy/ari-proxy/gateway"
	"github.com/ariproxy/ari-proxy/internal/localstack"
)

// The gateway section: the same ARI request and the same event flood made
// directly against the simulator and through ari-proxy gateway (gateway
// -> bus -> server -> simulator, and back), in one run.

// Targets of the gateway section (issue 14).
const (
	GatewayMaxLatencyRatio = 2.5 // gateway p50 / direct p50, at most
	GatewayMinEventRatio   = 0.5 // gateway events/s / direct events/s, at least
)

const gatewayUser, gatewayPassword = "bench-gw", "bench-gw-secret"

// GatewayReport is the gateway section: requests and events through the
// gateway against direct ARI.
type GatewayReport struct {
	// Requests compares direct ARI (Direct) with the gateway (Proxied).
	Requests Comparison `json:"requests"`
	// Client is the same request through the Go client: the gateway's
	// proxied leg, without the gateway.
	Client  Rate      `json:"client"`
	Direct  EventRate `json:"events_direct"`
	Gateway EventRate `json:"events_gateway"`
	// Bus is the same flood counted by a bus subscriber through the
	// proxy server (no gateway): what the gateway's input can be.
	Bus EventRate `json:"events_bus"`
	// EventRatio is gateway/direct events per second (neither decodes).
	EventRatio float64 `json:"event_ratio"`
	// GatewayShare is gateway/bus events per second: the gateway's own
	// cost, the server's left out.
	GatewayShare float64 `json:"gateway_share"`
}

// RunGateway starts NATS, the simulator, a proxy server and a gateway in
// this process and measures GET /channels/{id} and an event flood
// directly and through the gateway.
func RunGateway(ctx context.Context, opts Options) (*GatewayReport, error) {
	opts.defaults()
	st, err := localstack.Start(ctx, localstack.Options{Application: AppProxied, EntityID: EntityID, SimUser: simUser,
		Name: "ari-proxy bench server", Logger: opts.Logger, ReadyTimeout: startTimeout, StopTimeout: stopTimeout})
	if err != nil {
		return nil, fmt.Errorf("bench: %w", err)
	}
	defer st.Close()
	cli, err := client.New(ctx, client.WithURL(st.BusURL()), client.WithApplication(AppProxied))
	if err != nil {
		return nil, fmt.Errorf("bench: client: %w", err)
	}
	defer cli.Close()
	gw, err := gateway.New(gateway.Config{Client: cli, User: gatewayUser, Password: gatewayPassword, Logger: opts.Logger})
	if err != nil {
		return nil, err
	}
	defer gw.Close()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	hs := &http.Server{Handler: gw}
	go hs.Serve(ln)
	defer hs.Close()
	base := "http://" + ln.Addr().String()

	tr := ariconn.NewTransport()
	defer tr.CloseIdleConnections()
	e := &env{opts: opts, sim: st.Sim, app: AppProxied, cli: cli,
		tgt:  target{httpURL: st.Sim.URL(), wsURL: st.Sim.WebSocketURL(), user: simUser, password: st.SimPassword, sim: st.Sim},
		http: &http.Client{Transport: tr, Timeout: 10 * time.Second}}
	chanID, err := st.Sim.InboundCall(AppProxied)
	if err != nil {
		return nil, fmt.Errorf("bench: placing the call to query: %w", err)
	}
	if err := waitData(ctx, cli.Channel(chanID)); err != nil {
		return nil, err
	}
	rep := &GatewayReport{}
	// The request sides interleaved (interleaveRounds rounds, the order
	// rotating), so that a burst of another job hits each alike; the Go
	// client's request is the gateway's proxied leg.
	opts.Progress("gateway: GET /channels/{id} direct, through the Go client and through the gateway")
	decode := func() any { return new(json.RawMessage) }
	key := client.Key{Kind: "channel", ID: chanID, Node: EntityID}
	params := ari.Params{"channelId": chanID}
	rs, err := e.interleave(ctx, opts.Concurrency, opts.Duration, -1, []namedOp{
		{"direct ARI", e.direct("GET", "/channels/"+chanID, decode)},
		{"Go client through the proxy", func(ctx context.Context) error {
			// What the gateway sends for it.
			_, err := cli.DoExact(ctx, ari.OpChannelsGet, key, params)
			return err
		}},
		{"through the gateway", e.httpOp("GET", base+"/ari/channels/"+chanID, gatewayUser, gatewayPassword, decode)},
	}, nil)
	if err != nil {
		return nil, err
	}
	rep.Requests = compare("GET /channels/{id}", opts.Concurrency, rs[0], rs[2])
	rep.Client = rs[1]

	opts.Progress("gateway: events direct, through the gateway and to a bus subscriber through the proxy")
	if err := e.floodGatewayRounds(ctx, base, rep); err != nil {
		return nil, err
	}
	rep.EventRatio = ratio(rep.Gateway.PerSecond, rep.Direct.PerSecond)
	rep.GatewayShare = ratio(rep.Gateway.PerSecond, rep.Bus.PerSecond)
	return rep, nil
}

// floodRounds is how many floods of Events/floodRounds events each side
// of the gateway's event comparison gets, the order rotating.
const floodRounds = 4

// floodGatewayRounds floods, in turn, a direct WebSocket of the
// simulator, an events WebSocket of the gateway and a bus subscriber
// through the proxy (no gateway), each receiver alone in its flood; each
// side's rate is over all its rounds.
func (e *env) floodGatewayRounds(ctx context.Context, base string, rep *GatewayReport) error {
	sides := []struct {
		flood func(context.Context) (EventRate, error)
		into  *EventRate
	}{
		{func(ctx context.Context) (EventRate, error) { return e.floodDirect(ctx, "direct WebSocket", false) }, &rep.Direct},
		{func(ctx context.Context) (EventRate, error) { return e.floodGateway(ctx, base) }, &rep.Gateway},
		{e.floodProxiedRaw, &rep.Bus},
	}
	total := e.opts.Events
	defer func() { e.opts.Events = total }()
	e.opts.Events = max(total/floodRounds, 1)
	for round := range floodRounds {
		for j := range sides {
			i := (j + round) % len(sides)
			r, err := sides[i].flood(ctx)
			if err != nil {
				return err
			}
			into := sides[i].into
			into.Name = r.Name
			into.Sent += r.Sent
			into.Received += r.Received
			into.Seconds += r.Seconds
		}
	}
	for _, s := range sides {
		if s.into.Seconds > 0 {
			s.into.PerSecond = float64(s.into.Received) / s.into.Seconds
		}
	}
	return nil
}

// floodGateway floods the proxied application; an events WebSocket of the
// gateway counts the events.
func (e *env) floodGateway(ctx context.Context, base string) (EventRate, error) {
	q := url.Values{"app": {AppProxied}, "api_key": {gatewayUser + ":" + gatewayPassword}}
	conn, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(base, "http")+"/ari/events?"+q.Encode(), nil)
	if err != nil {
		return EventRate{}, fmt.Errorf("bench: dialing the gateway's events WebSocket: %w", err)
	}
	defer conn.CloseNow()
	conn.SetReadLimit(-1)
	rctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var cnt counter
	go func() {
		for {
			if _, _, err := conn.Read(rctx); err != nil {
				return
			}
			cnt.add()
		}
	}()
	return e.flood(ctx, "gateway WebSocket", AppProxied, &cnt)
}

// WriteText writes the gateway section as a table, with the targets.
func (r *GatewayReport) WriteText(w io.Writer) error {
	var b strings.Builder
	b.WriteString("Gateway (ari-proxy gateway vs direct ARI, same run)\n")
	t := &table{w: &b, leftLast: true}
	t.row("", "direct", "gateway", "ratio", "target")
	rq := r.Requests
	t.row(rq.Name+" req/s", rate(rq.Direct.PerSecond), rate(rq.Proxied.PerSecond), fmt.Sprintf("%.2f", rq.Ratio), "")
	t.row(rq.Name+" p50 ms", lat(rq.Direct.Latency.P50), lat(rq.Proxied.Latency.P50), fmt.Sprintf("%.2f", rq.LatencyRatio),
		verdict(rq.LatencyRatio <= GatewayMaxLatencyRatio, fmt.Sprintf("<= %.1f", GatewayMaxLatencyRatio)))
	t.row(rq.Name+" p50 ms, Go client through the proxy", "", lat(r.Client.Latency.P50), fmt.Sprintf("%.2f", ratio(r.Client.Latency.P50, rq.Direct.Latency.P50)), "the proxied leg")
	t.row(rq.Name+" p99 ms", lat(rq.Direct.Latency.P99), lat(rq.Proxied.Latency.P99), fmt.Sprintf("%.2f", ratio(rq.Proxied.Latency.P99, rq.Direct.Latency.P99)), "")
	t.row("events/s", rate(r.Direct.PerSecond), rate(r.Gateway.PerSecond), fmt.Sprintf("%.2f", r.EventRatio),
		verdict(r.EventRatio >= GatewayMinEventRatio, fmt.Sprintf(">= %.1f", GatewayMinEventRatio)))
	t.row("events/s, bus subscriber through the proxy", "", rate(r.Bus.PerSecond), fmt.Sprintf("%.2f", r.GatewayShare), "gateway/bus: the gateway's own share")
	t.Flush()
	fmt.Fprintf(&b, "  events received: direct %d/%d, gateway %d/%d, bus %d/%d\n", r.Direct.Received, r.Direct.Sent,
		r.Gateway.Received, r.Gateway.Sent, r.Bus.Received, r.Bus.Sent)
	_, err := io.WriteString(w, b.String())
	return err
}

func verdict(ok bool, target string) string {
	if ok {
		return target + " ok"
	}
	return target + " MISSED"
}

// WriteJSON writes the gateway section as JSON.
func (r *GatewayReport) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}
