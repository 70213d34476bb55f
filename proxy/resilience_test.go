package proxy_test

import (
	"context"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ariproxy/ari-proxy/arisim"
	"github.com/ariproxy/ari-proxy/bus/natsbus"
	"github.com/ariproxy/ari-proxy/bus/natsserver"
	"github.com/ariproxy/ari-proxy/internal/localstack"
	"github.com/ariproxy/ari-proxy/proxy"
	"github.com/ariproxy/ari-proxy/wire"
)

// oneRequestPerClass is a harmless request of each class, as a raw v5
// requester sends it.
var oneRequestPerClass = map[wire.Class]string{
	wire.ClassGet:     `{"kind":"ChannelList","key":{}}`,
	wire.ClassData:    `{"kind":"AsteriskInfo","key":{}}`,
	wire.ClassCommand: `{"kind":"ChannelHangup","key":{"kind":"channel","id":"no-such-channel"}}`,
	wire.ClassCreate:  `{"kind":"BridgeCreate","key":{}}`,
}

// TestGenericLevelsFollowARI: two servers; the first one's Asterisk stops.
// Every generic request of every class (all-node and per-application
// level) is answered by the live server only, node-addressed requests to
// the dead one get unavailable at once, and all resumes when it returns.
func TestGenericLevelsFollowARI(t *testing.T) {
	const node2 = "02:fc:00:00:00:02"
	e := newEnv(t)
	sim2 := localstack.StartSim(t, node2)
	e.startServer(sim2)
	ann := e.sub(e.subj.Announce())

	// replies gathers every reply to one request for a moment and returns
	// the nodes that answered.
	replies := func(subject, payload string) []*wire.Response {
		raws, _ := e.requestRaw(subject, payload, 0, 200*time.Millisecond)
		out := make([]*wire.Response, len(raws))
		for i, raw := range raws {
			out[i] = decodeResponse(t, raw)
		}
		return out
	}
	generic := func(class wire.Class) []string {
		return []string{e.subj.Request(class, "", ""), e.subj.Request(class, app, "")}
	}

	e.sim.RefuseConnections(time.Hour)
	e.sim.DropWebSockets()
	eventually(t, 5*time.Second, "websocket down", func() bool { return metric(t, e.reg, "ariproxy_ari_websocket_up") == 0 })
	// The generic levels are left right after the state change: wait until
	// the dead server no longer answers the first of them.
	eventually(t, 5*time.Second, "generic levels left", func() bool {
		for _, r := range replies(e.subj.Request(wire.ClassData, "", ""), oneRequestPerClass[wire.ClassData]) {
			if r.Node == node1 {
				return false
			}
		}
		return true
	})

	const rounds = 2
	var fromDead, answered, sent int
	for class, payload := range oneRequestPerClass {
		for _, subject := range generic(class) {
			for range rounds {
				sent++
				rs := replies(subject, payload)
				live := false
				for _, r := range rs {
					switch r.Node {
					case node1:
						fromDead++
						t.Errorf("%s: answer from the server whose Asterisk is down: %+v", subject, r)
					case node2:
						live = true
					}
				}
				if live {
					answered++
				} else {
					t.Errorf("%s: no answer from the live server (%d replies)", subject, len(rs))
				}
			}
		}
		// Node-addressed: answered unavailable, at once.
		start := time.Now()
		r := e.request(e.subj.Request(class, app, node1), payload)
		if r.Code != wire.CodeUnavailable || r.Node != node1 {
			t.Errorf("%s to the dead node: %+v, want unavailable from %s", class, r, node1)
		}
		if d := time.Since(start); d > 2*time.Second {
			t.Errorf("%s to the dead node answered after %v", class, d)
		}
	}
	t.Logf("Asterisk down: %d generic requests, %d answered by the live server, %d answers from the dead one", sent, answered, fromDead)

	drain(ann)
	e.sim.RefuseConnections(0)
	waitAnnounce(t, ann, node1)
	for class, payload := range oneRequestPerClass {
		if class == wire.ClassCreate {
			continue // one member of the queue group answers
		}
		for _, subject := range generic(class) {
			nodes := map[string]bool{}
			for _, r := range replies(subject, payload) {
				nodes[r.Node] = true
			}
			if !nodes[node1] || !nodes[node2] {
				t.Errorf("%s after Asterisk returned: answers from %v, want both nodes", subject, nodes)
			}
		}
	}
	ok(t, "create on the returned node", e.request(e.subj.Request(wire.ClassCreate, app, node1), oneRequestPerClass[wire.ClassCreate]))
}

// TestGracefulShutdownUnderLoad: requests pile up behind MaxConcurrent;
// the server stops. Every request gets exactly one answer (served, or
// unavailable "shutting down" for those still queued), none is dropped, the
// calls in flight finish, and Run returns within the bound.
func TestGracefulShutdownUnderLoad(t *testing.T) {
	for _, tt := range []struct {
		name             string
		latency, timeout time.Duration
		wantServed       bool // the calls in flight finish (latency < timeout)
	}{
		{"calls finish", 300 * time.Millisecond, 3 * time.Second, true},
		{"calls cut at the bound", 3 * time.Second, 500 * time.Millisecond, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, url := localstack.StartNATS(t)
			sim := localstack.StartSim(t, node1)
			prefix := localstack.Prefix()
			subj := wire.NewSubjects(prefix)
			srv, err := proxy.New(proxy.Config{
				Applications: []string{app}, ARI: localstack.ARIConfig(sim), Bus: localstack.Connect(t, url),
				Prefix: prefix, MaxConcurrent: 4, ShutdownTimeout: tt.timeout, RequestTimeout: 10 * time.Second,
				Logger: localstack.Logger(),
			})
			if err != nil {
				t.Fatal(err)
			}
			stop, err := localstack.Serve(context.Background(), srv, localstack.StartTimeout)
			if err != nil {
				t.Fatal(err)
			}
			cli := localstack.Connect(t, url)
			sim.SetLatency(tt.latency)

			const n = 100
			var served, shutting, other, none atomic.Int64
			var wg sync.WaitGroup
			var sentWG sync.WaitGroup
			sentWG.Add(n)
			for i := range n {
				subject := subj.Request(wire.ClassData, app, node1)
				if i%2 == 1 {
					subject = subj.Request(wire.ClassData, "", "") // generic level, one server
				}
				wg.Go(func() {
					rctx, cancel := context.WithTimeout(context.Background(), 8*time.Second)
					defer cancel()
					var got []*wire.Response
					sentWG.Done()
					_ = cli.RequestMany(rctx, subject, []byte(`{"kind":"AsteriskInfo","key":{}}`), func(b []byte) bool {
						got = append(got, decodeResponse(t, b))
						return false
					})
					switch {
					case len(got) == 0:
						none.Add(1)
					case got[0].Code == "":
						served.Add(1)
					case got[0].Code == wire.CodeUnavailable && strings.Contains(got[0].Error, "shutting down"):
						shutting.Add(1)
					default:
						other.Add(1) // an in-flight call cancelled at the bound
					}
				})
			}
			sentWG.Wait()
			_ = cli.Conn().Flush() // every request is on the bus before the stop
			time.Sleep(100 * time.Millisecond)
			start := time.Now()
			if err := stop(tt.timeout + 5*time.Second); err != nil {
				t.Fatalf("stop (bound %v): %v", tt.timeout, err)
			}
			took := time.Since(start)
			wg.Wait()
			t.Logf("stop took %v (bound %v): %d served, %d shutting down, %d other errors, %d unanswered of %d",
				took.Round(time.Millisecond), tt.timeout, served.Load(), shutting.Load(), other.Load(), none.Load(), n)
			if none.Load() != 0 {
				t.Errorf("%d requests got no answer", none.Load())
			}
			if tt.wantServed && (served.Load() == 0 || other.Load() != 0) {
				t.Errorf("calls in flight should finish: %d served, %d other errors", served.Load(), other.Load())
			}
			if !tt.wantServed && other.Load() == 0 {
				t.Errorf("the calls in flight past the bound should have been answered with an error")
			}
			if shutting.Load() == 0 {
				t.Errorf("no queued request was answered shutting down")
			}
			if took > tt.timeout+2*time.Second {
				t.Errorf("stop took %v, bound %v", took, tt.timeout)
			}
		})
	}
}

// TestDialplanCallBindingsReleased: calls that enter Stasis from the
// dialplan get no ChannelDestroyed; their dialog bindings are released
// within a second of StasisEnd anyway, after the dialog got StasisEnd.
func TestDialplanCallBindingsReleased(t *testing.T) {
	e := newEnv(t)
	events := e.sub(e.subj.Event(app, node1))
	const calls = 20
	done := make(chan error, 1)
	go func() {
		done <- e.sim.RunInbound(context.Background(), app, calls, 0, arisim.InboundScript{Media: []string{}, HangupAfter: 700 * time.Millisecond})
	}()
	dialogs := map[string]<-chan []byte{}
	ended := 0
	var lastEnd time.Time
	deadline := time.After(10 * time.Second)
	for ended < calls {
		select {
		case raw := <-events:
			ev := decodeEvent(t, raw)
			if ev.Channel == nil {
				continue
			}
			switch ev.Type {
			case "StasisStart":
				d := "dp" + strings.NewReplacer(".", "", ";", "").Replace(ev.Channel.ID)
				dialogs[d] = e.sub(e.subj.DialogEvent(d))
				key := chanKey(ev.Channel.ID)
				key["dialog"] = d
				ok(t, "bind", e.request(e.subj.Request(wire.ClassCommand, app, node1), map[string]any{"kind": "ChannelAnswer", "key": key}))
			case "StasisEnd":
				ended++
				lastEnd = time.Now()
			}
		case <-deadline:
			t.Fatalf("%d of %d calls ended", ended, calls)
		}
	}
	if n := e.srv.DialogBindings(); n == 0 {
		t.Log("bindings already gone at the last StasisEnd")
	}
	eventually(t, 3*time.Second, "bindings released", func() bool { return e.srv.DialogBindings() == 0 })
	took := time.Since(lastEnd)
	t.Logf("%d dialplan calls: bindings back to 0 %v after the last StasisEnd", calls, took.Round(time.Millisecond))
	if took > time.Second {
		t.Errorf("bindings released %v after StasisEnd, want within 1 s", took)
	}
	for d, ch := range dialogs {
		waitEvent(t, ch, 2*time.Second, func(ev eventOf, _ []byte) bool { return ev.Type == "StasisEnd" && ev.Dialog == d })
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// lockedBuffer is a log sink for several goroutines.
type lockedBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// TestPublishFailuresCounted: the events bus refuses events (a durable
// buffer of one, its JetStream server down): each refused event is counted
// in ariproxy_events_publish_failed_total, and the log says so once when
// it starts and once when it ends, with the count.
func TestPublishFailuresCounted(t *testing.T) {
	var logs lockedBuffer
	log := slog.New(slog.NewTextHandler(&logs, nil))
	ctx := context.Background()
	dir := t.TempDir()
	start := func(addr string) *natsserver.Server {
		s, err := natsserver.Start(ctx, addr, natsserver.WithLogger(localstack.Logger()), natsserver.WithJetStream(dir))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(s.Shutdown)
		return s
	}
	js := start("127.0.0.1:0")
	var pub *natsbus.DurablePublisher
	e := newEnv(t, func(c *proxy.Config) {
		c.Logger = log
		if _, err := natsbus.EnsureStream(ctx, localstack.Connect(t, js.ClientURL()), natsbus.StreamConfig{Prefix: c.Prefix}); err != nil {
			t.Fatal(err)
		}
		pb, err := natsbus.Connect(ctx, js.ClientURL(), natsbus.WithLogger(localstack.Logger()), natsbus.WithReconnectBuffer(-1))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { pb.Close() })
		if pub, err = natsbus.NewDurablePublisher(pb, 1); err != nil {
			t.Fatal(err)
		}
		c.Events = pub
	})
	addr := js.Addr()
	js.Shutdown()
	const n = 50
	if err := e.sim.Flood(ctx, app, n); err != nil {
		t.Fatal(err)
	}
	eventually(t, 5*time.Second, "refused events counted", func() bool {
		return metric(t, e.reg, "ariproxy_events_publish_failed_total") == n-1 // one waits in the buffer
	})
	start(addr)
	eventually(t, 10*time.Second, "buffer flushed", func() bool { return pub.Buffered() == 0 })
	if err := e.sim.Flood(ctx, app, 1); err != nil {
		t.Fatal(err)
	}
	eventually(t, 5*time.Second, "publishing again", func() bool { return strings.Contains(logs.String(), "publishing events again") })
	text := logs.String()
	fails, again := strings.Count(text, "publishing events fails"), strings.Count(text, "publishing events again")
	t.Logf("%d events while the stream was away: %v refused and counted, %d warning line(s), %d recovery line(s)",
		n, metric(t, e.reg, "ariproxy_events_publish_failed_total"), fails, again)
	if fails != 1 || again != 1 || !strings.Contains(text, "lost="+strconv.Itoa(n-1)) {
		t.Errorf("want one line each, the second with lost=%d:\n%s", n-1, text)
	}
}
