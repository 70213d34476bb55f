package client

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/ariproxy/ari-proxy/ari"
	"github.com/ariproxy/ari-proxy/arisim"
	"github.com/ariproxy/ari-proxy/bus/natsbus"
	"github.com/ariproxy/ari-proxy/bus/natsserver"
	"github.com/ariproxy/ari-proxy/internal/localstack"
	"github.com/ariproxy/ari-proxy/proxy"
)

// newDurableEnv is newEnv in durable mode: NATS with JetStream (a store
// that survives stopNATS), the event stream, and each server publishing
// its events through a DurablePublisher.
func newDurableEnv(t *testing.T, nodes int, cfg arisim.Config) *env {
	t.Helper()
	e := &env{prefix: localstack.Prefix(), app: testApp, storeDir: t.TempDir()}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	n, err := natsserver.Start(ctx, "127.0.0.1:0", natsserver.WithLogger(localstack.Logger()), natsserver.WithJetStream(e.storeDir))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(n.Shutdown)
	e.nats, e.url = n, n.ClientURL()
	admin := localstack.Connect(t, e.url)
	if _, err := natsbus.EnsureStream(ctx, admin, natsbus.StreamConfig{Prefix: e.prefix}); err != nil {
		t.Fatal(err)
	}
	for i := range nodes {
		c := cfg
		c.EntityID = nodeID(i)
		sim := localstack.StartSimConfig(t, c)
		e.sims = append(e.sims, sim)
		pb, err := natsbus.Connect(ctx, e.url, natsbus.WithLogger(localstack.Logger()), natsbus.WithReconnectBuffer(-1))
		if err != nil {
			t.Fatal(err)
		}
		pub, err := natsbus.NewDurablePublisher(pb, 0)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			defer cancel()
			pub.Close(ctx)
			pb.Close()
		})
		e.servers = append(e.servers, localstack.RunServer(t, proxy.Config{
			Applications: []string{e.app},
			ARI:          localstack.ARIConfig(sim),
			Bus:          localstack.Connect(t, e.url),
			Prefix:       e.prefix,
			Events:       pub,
		}))
	}
	return e
}

// readSeqs reads user events from sub until it has n of them or timeout,
// and returns their userevent.seq values in order.
func readSeqs(t *testing.T, sub *Subscription, n int, timeout time.Duration) []string {
	t.Helper()
	var out []string
	deadline := time.After(timeout)
	for len(out) < n {
		select {
		case ev, ok := <-sub.Events():
			if !ok {
				return out
			}
			if u, ok := ev.(*ari.ChannelUserevent); ok {
				seq, _ := u.Userevent["seq"].(string)
				out = append(out, seq)
			}
		case <-deadline:
			return out
		}
	}
	return out
}

// newDurableSub is a durable environment of one server and a client's
// durable subscription name to every event.
func newDurableSub(t *testing.T, name string) (*env, *Subscription) {
	t.Helper()
	e := newDurableEnv(t, 1, arisim.Config{})
	sub, err := e.client(t).SubscribeDurable(context.Background(), name)
	if err != nil {
		t.Fatal(err)
	}
	return e, sub
}

// readSeqsAsync is readSeqs in the background: wait returns its result.
func readSeqsAsync(t *testing.T, sub *Subscription, n int, timeout time.Duration) (wait func() []string) {
	var got []string
	read := make(chan struct{})
	go func() { got = readSeqs(t, sub, n, timeout); close(read) }()
	return func() []string { <-read; return got }
}

// TestDurableSubscribeOutage: 2,500 events at up to 500/s through a 3 s
// NATS outage: the durable subscriber gets every one, once, in order.
func TestDurableSubscribeOutage(t *testing.T) {
	e, sub := newDurableSub(t, "audit")
	const n = 2500
	wait := readSeqsAsync(t, sub, n, 30*time.Second)
	tick := time.NewTicker(2 * time.Millisecond)
	defer tick.Stop()
	var restart func()
	var down time.Time
	var outage time.Duration
	for i := range n {
		<-tick.C
		userEvent(t, e.sims[0], e.app, strconv.Itoa(i))
		switch {
		case i == 300:
			restart, down = e.stopNATS(t), time.Now()
		case restart != nil && time.Since(down) > 3*time.Second:
			restart()
			restart, outage = nil, time.Since(down)
		}
	}
	if restart != nil {
		restart()
		outage = time.Since(down)
	}
	got := wait()
	lost := 0
	for i := range n {
		if i >= len(got) || got[i] != strconv.Itoa(i) {
			lost++
		}
	}
	t.Logf("durable subscriber through a %v NATS outage: %d events sent, %d received, %d lost or out of order, Missed %d",
		outage.Round(time.Millisecond), n, len(got), lost, sub.Missed())
	if lost != 0 || len(got) != n {
		t.Errorf("got %d events, %d not in place; first: %v", len(got), lost, got[:min(len(got), 20)])
	}
}

// TestDurableResume: an application stops; events go on; started again
// with the same durable name it gets exactly what it missed.
func TestDurableResume(t *testing.T) {
	e := newDurableEnv(t, 1, arisim.Config{})
	c1 := e.client(t)
	sub, err := c1.SubscribeDurable(context.Background(), "billing")
	if err != nil {
		t.Fatal(err)
	}
	for i := range 10 {
		userEvent(t, e.sims[0], e.app, strconv.Itoa(i))
	}
	if got := readSeqs(t, sub, 10, 10*time.Second); len(got) != 10 {
		t.Fatalf("before the restart: %v", got)
	}
	c1.Close() // the application stops
	for i := 10; i < 60; i++ {
		userEvent(t, e.sims[0], e.app, strconv.Itoa(i))
	}
	c2 := e.client(t)
	sub2, err := c2.SubscribeDurable(context.Background(), "billing")
	if err != nil {
		t.Fatal(err)
	}
	got := readSeqs(t, sub2, 50, 10*time.Second)
	t.Logf("restarted with the same durable name: %d of the 50 events missed while stopped", len(got))
	for i, s := range got {
		if s != strconv.Itoa(10+i) {
			t.Fatalf("after the restart event %d is %s, want %d: %v", i, s, 10+i, got)
		}
	}
	if len(got) != 50 {
		t.Fatalf("after the restart got %d events, want 50", len(got))
	}
}

// TestDurableLostDeliveries: deliveries of the durable consumer that
// never reach the subscriber (as when the consumer's leader dies with
// them on the way, in a NATS cluster) are read from the stream and
// delivered in their place at once, not after AckWait (30 s), when
// JetStream would send them again. Here another pull on the same consumer
// takes them, real deliveries the subscriber never sees.
func TestDurableLostDeliveries(t *testing.T) {
	e, sub := newDurableSub(t, "audit")
	js, err := jetstream.New(localstack.Connect(t, e.url).Conn())
	if err != nil {
		t.Fatal(err)
	}
	cons, err := js.Consumer(context.Background(), natsbus.StreamName(e.prefix), "audit")
	if err != nil {
		t.Fatal(err)
	}
	const n = 300
	wait := readSeqsAsync(t, sub, n, 20*time.Second)
	var stolen []string
	stole := make(chan struct{})
	for i := range n {
		if i == n/3 {
			// A pull beside the subscriber's: what it takes is never
			// acknowledged, lost to the subscriber.
			go func() {
				defer close(stole)
				batch, err := cons.Fetch(5, jetstream.FetchMaxWait(5*time.Second))
				if err != nil {
					t.Error(err)
					return
				}
				for m := range batch.Messages() {
					ev, _ := ari.DecodeEvent(m.Data())
					if u, ok := ev.(*ari.ChannelUserevent); ok {
						stolen = append(stolen, u.Userevent["seq"].(string))
					}
				}
			}()
		}
		userEvent(t, e.sims[0], e.app, strconv.Itoa(i))
		time.Sleep(time.Millisecond)
	}
	sent := time.Now()
	<-stole
	got := wait()
	took := time.Since(sent)
	t.Logf("%d deliveries taken from the subscriber (events %v); it got %d of %d events, %d read from the stream, the last %v after the last was sent",
		len(stolen), stolen, len(got), n, sub.ro.fetched.Load(), took.Round(time.Millisecond))
	if len(stolen) == 0 {
		t.Fatal("no delivery taken: the test proves nothing")
	}
	for i, s := range got {
		if s != strconv.Itoa(i) {
			t.Fatalf("event %d is %s: %v", i, s, got[max(0, i-3):min(len(got), i+5)])
		}
	}
	if len(got) != n {
		t.Fatalf("got %d of %d events", len(got), n)
	}
	if took > reorderWait/2 {
		t.Errorf("the lost deliveries took %v: waited for the reorder timeout, not read from the stream", took)
	}
	if sub.ro.fetched.Load() < uint64(len(stolen)) {
		t.Errorf("%d read from the stream, %d deliveries lost", sub.ro.fetched.Load(), len(stolen))
	}
}

// TestDurableListenRedelivery: in durable mode each call goes to one
// instance; an instance that dies after receiving a StasisStart and
// before its handler returned leaves the call unacknowledged, and another
// instance gets it within the ack wait.
func TestDurableListenRedelivery(t *testing.T) {
	const ackWait = time.Second
	e := newDurableEnv(t, 1, arisim.Config{TimeScale: 0.01})
	release := make(chan struct{})
	t.Cleanup(func() { close(release) })

	type take struct {
		inst int
		id   string
		at   time.Time
	}
	takes := make(chan take, 100)
	listen := func(inst int, c *Client, block bool) {
		_, err := c.Listen(context.Background(), func(ctx context.Context, h *ChannelHandle, ev *ari.StasisStart) {
			takes <- take{inst, ev.Channel.ID, time.Now()}
			if block {
				select { // the instance "hangs" until it is killed
				case <-release:
				case <-ctx.Done():
				}
			}
		})
		if err != nil {
			t.Fatalf("listen %d: %v", inst, err)
		}
	}

	// Instance 0 alone takes the first call, then dies before returning.
	c0 := e.client(t, WithDurable(ackWait))
	listen(0, c0, true)
	id, err := e.sims[0].InboundCall(e.app)
	if err != nil {
		t.Fatal(err)
	}
	first := <-takes
	if first.inst != 0 || first.id != id {
		t.Fatalf("first take %+v, want instance 0 with %s", first, id)
	}
	c1 := e.client(t, WithDurable(ackWait))
	listen(1, c1, false)
	killed := time.Now()
	c0.Bus().(*natsbus.Bus).Conn().Close() // killed: no ack, no close
	select {
	case tk := <-takes:
		if tk.inst != 1 || tk.id != id {
			t.Fatalf("after the kill: %+v, want instance 1 with %s", tk, id)
		}
		t.Logf("call redelivered to the other instance %v after the kill (ack wait %v)", tk.at.Sub(killed).Round(time.Millisecond), ackWait)
	case <-time.After(ackWait + 5*time.Second):
		t.Fatal("the call of the dead instance was not redelivered")
	}

	// Normal operation: 20 calls, each taken exactly once.
	c2 := e.client(t, WithDurable(ackWait))
	listen(2, c2, false)
	var mu sync.Mutex
	want := map[string]bool{}
	for range 20 {
		id, err := e.sims[0].InboundCall(e.app)
		if err != nil {
			t.Fatal(err)
		}
		mu.Lock()
		want[id] = true
		mu.Unlock()
	}
	count := map[string]int{}
	per := map[int]int{}
	deadline := time.After(10 * time.Second)
	for len(count) < len(want) {
		select {
		case tk := <-takes:
			count[tk.id]++
			per[tk.inst]++
		case <-deadline:
			t.Fatalf("%d of %d calls taken", len(count), len(want))
		}
	}
	time.Sleep(ackWait + 500*time.Millisecond) // a duplicate would show by now
	for len(takes) > 0 {
		tk := <-takes
		count[tk.id]++
	}
	for id, n := range count {
		if n != 1 || !want[id] {
			t.Errorf("call %s taken %d times", id, n)
		}
	}
	t.Logf("20 calls over 2 instances: %v", per)
}

// TestStreamReader: the messages of a filter between two stream
// sequences, in order, with none of the other subjects, and nothing (no
// error) past the end of the stream.
func TestStreamReader(t *testing.T) {
	e := newDurableEnv(t, 0, arisim.Config{})
	ctx := context.Background()
	js, err := jetstream.New(localstack.Connect(t, e.url).Conn())
	if err != nil {
		t.Fatal(err)
	}
	for i := range 10 {
		app := []string{"a", "b"}[i%2]
		if _, err := js.Publish(ctx, e.prefix+"event."+app+".node", []byte(strconv.Itoa(i+1))); err != nil {
			t.Fatal(err)
		}
	}
	st, err := js.Stream(ctx, natsbus.StreamName(e.prefix))
	if err != nil {
		t.Fatal(err)
	}
	read := streamReader(st, []string{e.prefix + "event.a.>"})
	for _, c := range []struct {
		after, before uint64
		want          string
	}{
		{0, 11, "[1 3 5 7 9]"},
		{2, 7, "[3 5]"},
		{3, 5, "[]"},
		{9, 100, "[]"},
	} {
		msgs, err := read(ctx, c.after, c.before)
		if err != nil {
			t.Fatalf("(%d, %d): %v", c.after, c.before, err)
		}
		var seqs []uint64
		for _, m := range msgs {
			if string(m.Data) != strconv.FormatUint(m.Sequence, 10) {
				t.Errorf("message %d is %q", m.Sequence, m.Data)
			}
			seqs = append(seqs, m.Sequence)
		}
		if got := fmt.Sprint(seqs); got != c.want {
			t.Errorf("(%d, %d): %s, want %s", c.after, c.before, got, c.want)
		}
	}
}
