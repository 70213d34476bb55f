package proxy

import (
	"context"
	"encoding/json"
	"log/slog"
	"net"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/ariproxy/ari-proxy/ariconn"
	"github.com/ariproxy/ari-proxy/bus"
	"github.com/ariproxy/ari-proxy/bus/natsbus"
	"github.com/ariproxy/ari-proxy/bus/natsserver"
	"github.com/ariproxy/ari-proxy/wire"
)

// deadServer is a Server whose Asterisk refuses connections, marked as
// serving, to drive process directly: every ARI call fails at once.
func deadServer(t testing.TB) *Server {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens there now

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	emb, err := natsserver.Start(ctx, "127.0.0.1:0", natsserver.WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(emb.Shutdown)
	b, err := natsbus.ConnectInProcess(ctx, emb, natsbus.WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	s, err := New(Config{
		Applications:   []string{"demo"},
		ARI:            ariconn.Config{HTTPURL: "http://" + addr + "/ari", Username: "u", Password: "p"},
		Bus:            b,
		Logger:         slog.New(slog.DiscardHandler),
		RequestTimeout: time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	s.runCtx = context.Background()
	node := "02:fc:00:00:00:01"
	s.node.Store(&node)
	s.serving.Store(true)
	return s
}

// FuzzRequest feeds arbitrary request bytes to the request path: it must
// never panic, always answer, and every error answer carries a code.
func FuzzRequest(f *testing.F) {
	for _, s := range []string{
		`{"kind":"ChannelData","key":{"kind":"channel","id":"c1"}}`,
		`{"kind":"ChannelOriginate","key":{"dialog":"d"},"channel_originate":{"originate_request":{"endpoint":"Local/echo@default","app":"demo"}}}`,
		`{"kind":"ChannelStagePlay","key":{"kind":"channel","id":"c","dialog":"d"},"channel_play":{"media_uri":"sound:beep"}}`,
		`{"kind":"BridgeCreate","key":{"kind":"bridge","id":"b","dialog":"d"},"bridge_create":{"type":"mixing"}}`,
		`{"kind":"DialogUnbind","key":{"dialog":"d"}}`,
		`{"kind":"ChannelSendDTMF","key":{"kind":"channel","id":"c"},"channel_send_dtmf":{"dtmf":"1","options":{"Between":"x"}}}`,
		`{"kind":"channels.rtpstatistics","key":{"kind":"channel","id":"c"},"params":{"channelId":null}}`,
		`{"kind":"BridgeUnsubscribe","key":{"kind":"bridge","id":"b","dialog":"d"}}`,
		`{"kind":"ChannelUserEvent","key":{"kind":"channel","id":"c"},"ChannelUserevent":{"eventname":"x"}}`,
		`{"kind":null,"key":[]}`, `{"kind":"ChannelData","key":{"dialog":"a.b"}}`, `[]`, `null`, ``, `{`,
		`{"kind":"ChannelData","key":{"kind":"channel","id":"c1","app":"demo"},"probe":{}}`,
		`{"kind":"ChannelHold","key":{"kind":"channel","id":"c1"},"probe":{}}`,
		`{"kind":"EndpointData","key":{"kind":"endpoint","id":"PJSIP/a"},"probe":{}}`,
		`{"kind":"ChannelData","key":{"kind":"channel","id":"c1"},"probe":1}`, `{"probe":{}}`,
	} {
		f.Add([]byte(s), uint8(0))
	}
	s := deadServer(f)
	classes := wire.RequestClasses
	f.Fuzz(func(t *testing.T, data []byte, sel uint8) {
		r := route{class: classes[int(sel)%4], app: "demo", node: sel&4 != 0}
		if sel&8 != 0 {
			r.app = ""
		}
		// The probe answered in the bus's goroutine: only unclaimed.
		if resps, _ := s.probeAnswer(r, data); resps != nil {
			for _, resp := range resps {
				if resp.Code != wire.CodeUnclaimed {
					t.Fatalf("probe answer to %q: %+v", data, resp)
				}
			}
		}
		label := ""
		resps := s.process(r, data, &label)
		if len(resps) == 0 {
			t.Fatalf("no reply to %q", data)
		}
		for _, resp := range resps {
			if resp.Error != "" && resp.Code == "" {
				t.Fatalf("error reply without code to %q: %+v", data, resp)
			}
		}
	})
}

// TestProcessDead: with Asterisk unreachable, calls answer unavailable and
// roll back the dialog bindings they made.
func TestProcessDead(t *testing.T) {
	s := deadServer(t)
	label := ""
	resps := s.process(route{class: wire.ClassCreate, app: "demo", node: true},
		[]byte(`{"kind":"ChannelOriginate","key":{"dialog":"d"},"channel_originate":{"originate_request":{"endpoint":"Local/echo@default","app":"demo"}}}`), &label)
	if len(resps) != 1 || resps[0].Code != wire.CodeUnavailable {
		t.Fatalf("replies %+v", resps[0])
	}
	if label != "ChannelOriginate" {
		t.Fatalf("label %q", label)
	}
	if n := s.DialogBindings(); n != 0 {
		t.Fatalf("bindings after a failed create: %d", n)
	}
	s.serving.Store(false)
	resps = s.process(route{class: wire.ClassData, app: "demo"}, []byte(`{"kind":"ChannelData","key":{"kind":"channel","id":"c"}}`), &label)
	if resps[0].Code != wire.CodeUnavailable {
		t.Fatalf("not serving: %+v", resps[0])
	}
}

// TestSweep: the janitor drops staged bindings never used; it leaves the
// rest alone when Asterisk cannot be asked.
func TestSweep(t *testing.T) {
	s := deadServer(t)
	now := time.Now()
	s.dialogs.bind(resKey{"playback", "p"}, "d", true, now.Add(-time.Hour))
	s.dialogs.bind(resKey{"channel", "c"}, "d", false, now.Add(-time.Hour))
	s.sweep(context.Background(), now)
	if n := s.DialogBindings(); n != 1 {
		t.Fatalf("after sweep: %d bindings, want 1", n)
	}
}

// TestPanicRecovered: a panic while serving a request (here: a broken
// dialog table) is answered as an internal error, logged and counted; the
// server goes on.
func TestPanicRecovered(t *testing.T) {
	s := deadServer(t)
	s.dialogs = nil // bindDialog will dereference it
	replies := make(chan []byte, 1)
	sub, err := s.bus.Subscribe("test.reply", func(m bus.Msg) { replies <- m.Data })
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Unsubscribe()
	s.serve(route{class: wire.ClassData, app: "demo", node: true}, bus.Msg{
		Subject: "x", Reply: "test.reply",
		Data: []byte(`{"kind":"ChannelData","key":{"kind":"channel","id":"c","dialog":"d"}}`),
	})
	select {
	case raw := <-replies:
		var r wire.Response
		if err := json.Unmarshal(raw, &r); err != nil || r.Code != wire.CodeInternal || r.Error == "" {
			t.Fatalf("reply %s (%v)", raw, err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no reply after the panic")
	}
	if v := testutil.ToFloat64(s.metrics.panics); v != 1 {
		t.Fatalf("panics counter = %v", v)
	}
	if v := testutil.ToFloat64(s.metrics.requests.WithLabelValues("ChannelData", "internal")); v != 1 {
		t.Fatalf("requests{ChannelData,internal} = %v", v)
	}
}
