package natsbus

import (
	"context"
	"errors"
	"strconv"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/ariproxy/ari-proxy/bus"
	"github.com/ariproxy/ari-proxy/bus/natsserver"
)

// restartable is an embedded JetStream server that can be stopped and
// started again on the same address and store.
type restartable struct {
	t    *testing.T
	addr string
	dir  string
	e    *natsserver.Server
}

func startJetStream(t *testing.T) *restartable {
	r := &restartable{t: t, dir: t.TempDir()}
	r.e = startServer(t, natsserver.WithJetStream(r.dir))
	r.addr = r.e.Addr()
	return r
}

func (r *restartable) restart(down time.Duration) {
	r.e.Shutdown()
	time.Sleep(down)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	e, err := natsserver.Start(ctx, r.addr, natsserver.WithLogger(quiet), natsserver.WithJetStream(r.dir))
	if err != nil {
		r.t.Fatal(err)
	}
	r.t.Cleanup(e.Shutdown)
	r.e = e
}

// streamData reads every message of the stream, in stream order.
func streamData(t *testing.T, st jetstream.Stream, want int) []string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := st.OrderedConsumer(ctx, jetstream.OrderedConsumerConfig{})
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for len(out) < want {
		batch, err := c.Fetch(want-len(out), jetstream.FetchMaxWait(time.Second))
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for m := range batch.Messages() {
			out = append(out, string(m.Data()))
			n++
		}
		if n == 0 {
			break
		}
	}
	return out
}

// TestDurablePublisherOutage: events published at 1,000/s through a 1 s
// NATS restart all reach the stream, once each and in order.
func TestDurablePublisherOutage(t *testing.T) {
	r := startJetStream(t)
	url := r.e.ClientURL()
	admin := connectT(t, url)
	ctx := context.Background()
	if _, err := EnsureStream(ctx, admin, StreamConfig{Prefix: "d."}); err != nil {
		t.Fatal(err)
	}
	pb := connectT(t, url, WithReconnectBuffer(-1), WithReconnect(-1, 20*time.Millisecond))
	p, err := NewDurablePublisher(pb, 0)
	if err != nil {
		t.Fatal(err)
	}
	const n = 3000
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	restarted := make(chan struct{})
	for i := range n {
		<-tick.C
		if i == 1000 {
			go func() { r.restart(time.Second); close(restarted) }()
		}
		if err := p.PublishMsg(ctx, bus.Msg{Subject: "d.event.demo.n1", Data: []byte(strconv.Itoa(i))}); err != nil {
			t.Fatalf("publish %d: %v", i, err)
		}
	}
	<-restarted
	cctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	left, err := p.Close(cctx)
	if err != nil || left != 0 {
		t.Fatalf("close: %d events left: %v %s", left, err, p.debugState())
	}
	t.Logf("%d events through a 1 s outage: acked %d, republished %d, dropped %d", n, p.Acked(), p.Republished(), p.Dropped())

	admin2 := connectT(t, r.e.ClientURL())
	js, _ := jetstream.New(admin2.Conn())
	st, err := js.Stream(ctx, StreamName("d."))
	if err != nil {
		t.Fatal(err)
	}
	got := streamData(t, st, n+10)
	if len(got) != n {
		t.Errorf("stream has %d events, want %d", len(got), n)
	}
	for i, d := range got {
		if d != strconv.Itoa(i) {
			t.Fatalf("stream event %d is %s: lost, duplicated or out of order", i, d)
		}
	}
}

// TestDurablePublisherBound: with the bus away, events beyond the buffer
// are refused with ErrBufferFull and counted.
func TestDurablePublisherBound(t *testing.T) {
	r := startJetStream(t)
	admin := connectT(t, r.e.ClientURL())
	if _, err := EnsureStream(context.Background(), admin, StreamConfig{Prefix: "b."}); err != nil {
		t.Fatal(err)
	}
	pb := connectT(t, r.e.ClientURL(), WithReconnectBuffer(-1))
	p, err := NewDurablePublisher(pb, 10)
	if err != nil {
		t.Fatal(err)
	}
	r.e.Shutdown()
	waitFor(t, func() bool { return !pb.Connected() })
	full := 0
	for i := range 15 {
		if err := p.PublishMsg(context.Background(), bus.Msg{Subject: "b.event.x.y", Data: []byte(strconv.Itoa(i))}); errors.Is(err, ErrBufferFull) {
			full++
		}
	}
	if full != 5 || p.Dropped() != 5 || p.Buffered() != 10 {
		t.Errorf("refused %d, dropped %d, buffered %d; want 5, 5, 10", full, p.Dropped(), p.Buffered())
	}
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if left, _ := p.Close(ctx); left != 10 {
		t.Errorf("close left %d, want 10", left)
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("timed out")
		}
		time.Sleep(5 * time.Millisecond)
	}
}
