package client

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/ariproxy/ari-proxy/ari"
	"github.com/ariproxy/ari-proxy/arisim"
	"github.com/ariproxy/ari-proxy/bus"
	"github.com/ariproxy/ari-proxy/bus/natsbus"
	"github.com/ariproxy/ari-proxy/bus/natsserver"
	"github.com/ariproxy/ari-proxy/internal/localstack"
	"github.com/ariproxy/ari-proxy/proxy"
)

func freePort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// natsCluster starts n clustered embedded NATS servers with JetStream,
// routes on loopback, and returns them once JetStream has a leader.
func natsCluster(t *testing.T, n int) []*natsserver.Server {
	t.Helper()
	clusterAddrs := make([]string, n)
	routes := make([]string, n)
	for i := range n {
		clusterAddrs[i] = freePort(t)
		routes[i] = "nats://" + clusterAddrs[i]
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	out := make([]*natsserver.Server, n)
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() {
			e, err := natsserver.Start(ctx, "127.0.0.1:0",
				natsserver.WithLogger(localstack.Logger()), natsserver.WithName(fmt.Sprintf("n%d", i+1)),
				natsserver.WithJetStream(t.TempDir()), natsserver.WithCluster("ariproxy-test", clusterAddrs[i], routes...))
			out[i], errs[i] = e, err
		})
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("NATS node %d: %v", i+1, err)
		}
		t.Cleanup(out[i].Shutdown)
	}
	for _, e := range out {
		for e.Server().NumRoutes() < n-1 {
			if ctx.Err() != nil {
				t.Fatalf("cluster not formed: %d routes", e.Server().NumRoutes())
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	return out
}

// urls lists the client URLs of nodes, first as given first: with
// DontRandomize a connection attaches to the first and fails over in
// order.
func urls(nodes ...*natsserver.Server) string {
	var u []string
	for _, n := range nodes {
		u = append(u, n.ClientURL())
	}
	return strings.Join(u, ",")
}

func connectOrdered(t *testing.T, url string, opts ...natsbus.Option) *natsbus.Bus {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	b, err := natsbus.Connect(ctx, url, append([]natsbus.Option{natsbus.WithLogger(localstack.Logger()),
		natsbus.WithNATSOptions(nats.DontRandomize())}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	return b
}

// TestNATSClusterFailover: three clustered NATS nodes, two proxy servers
// and two clients attached to different nodes, a durable stream with 3
// replicas. Under load (events from both Asterisks, requests from a
// client) the node the first server and a client are attached to, and
// which leads the durable consumer, is killed: both fail over by
// themselves, requests keep being answered, and the durable subscriber
// loses no event and sees each node's events in order, once.
func TestNATSClusterFailover(t *testing.T) {
	nodes := natsCluster(t, 3)
	n1, n2, n3 := nodes[0], nodes[1], nodes[2]
	prefix := localstack.Prefix()

	admin := connectOrdered(t, urls(n2, n3))
	ctx := context.Background()
	deadline := time.Now().Add(20 * time.Second)
	for {
		sctx, cancel := context.WithTimeout(ctx, 3*time.Second)
		_, err := natsbus.EnsureStream(sctx, admin, natsbus.StreamConfig{Prefix: prefix, Replicas: 3})
		cancel()
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("stream with 3 replicas: %v", err)
		}
		time.Sleep(200 * time.Millisecond)
	}

	// Server i attaches to attach[i] first.
	attach := [][]*natsserver.Server{{n1, n2, n3}, {n2, n3, n1}}
	var sims []*arisim.Sim
	var pubs []*natsbus.DurablePublisher
	for i, order := range attach {
		sim := localstack.StartSimConfig(t, arisim.Config{EntityID: nodeID(i)})
		sims = append(sims, sim)
		pb := connectOrdered(t, urls(order...), natsbus.WithReconnectBuffer(-1))
		pub, err := natsbus.NewDurablePublisher(pb, 0)
		if err != nil {
			t.Fatal(err)
		}
		pubs = append(pubs, pub)
		t.Cleanup(func() {
			cctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			defer cancel()
			pub.Close(cctx)
		})
		localstack.RunServer(t, proxy.Config{
			Applications: []string{testApp}, ARI: localstack.ARIConfig(sim),
			Bus: connectOrdered(t, urls(order...)), Prefix: prefix, Events: pub,
		})
	}
	newClient := func(order ...*natsserver.Server) *Client {
		c, err := New(ctx, WithBus(connectOrdered(t, urls(order...))), WithPrefix(prefix), WithApplication(testApp),
			WithLogger(localstack.Logger()), WithDiscoveryWait(2*time.Second), WithTimeout(5*time.Second))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		for len(c.Servers()) < 2 {
			time.Sleep(10 * time.Millisecond)
		}
		return c
	}
	requester := newClient(n1, n3, n2) // on the node that dies
	watcher := newClient(n3, n2, n1)
	// The durable consumer is led from the node that dies, the worst
	// case: the events it just sent are lost on the way (JetStream sends
	// them again only after AckWait). Moved there before the subscription
	// that reads it, which then resumes it.
	sub, err := watcher.SubscribeDurable(ctx, "cluster-audit", "ChannelUserevent")
	if err != nil {
		t.Fatal(err)
	}
	sub.Close()
	moveConsumerLeader(t, admin, natsbus.StreamName(prefix), "cluster-audit", n1.Server().Name())
	sub, err = watcher.SubscribeDurable(ctx, "cluster-audit", "ChannelUserevent")
	if err != nil {
		t.Fatal(err)
	}
	streamLeader := leaderOf(t, admin, natsbus.StreamName(prefix), "")

	const perNode = 500
	var mu sync.Mutex
	got := map[string][]int{} // node -> event numbers in order received
	gotAt := map[string][]time.Time{}
	gotAll := make(chan struct{})
	go func() {
		total := 0
		for ev := range sub.Events() {
			u := ev.(*ari.ChannelUserevent)
			n, _ := strconv.Atoi(u.Userevent["seq"].(string))
			mu.Lock()
			got[u.AsteriskID] = append(got[u.AsteriskID], n)
			gotAt[u.AsteriskID] = append(gotAt[u.AsteriskID], time.Now())
			mu.Unlock()
			if total++; total == 2*perNode {
				close(gotAll)
			}
		}
	}()

	// Requests all along.
	var ok, unavailable, timeouts, other atomic.Int64
	var lastErr atomic.Value
	stopReq := make(chan struct{})
	var reqWG sync.WaitGroup
	reqWG.Go(func() {
		for {
			select {
			case <-stopReq:
				return
			default:
			}
			_, err := requester.Asterisk().GetInfo(ctx, nil)
			switch {
			case err == nil:
				ok.Add(1)
			case errors.Is(err, ErrUnavailable):
				unavailable.Add(1) // fail fast while the connection moves
				time.Sleep(10 * time.Millisecond)
			case errors.Is(err, ErrTimeout):
				timeouts.Add(1) // in flight on the connection that died
				lastErr.Store(err)
			default:
				other.Add(1)
				lastErr.Store(err)
			}
		}
	})

	// Events from both Asterisks, up to 2 x 250/s; node 1 dies at a
	// third of the run.
	var killed time.Time
	var evWG sync.WaitGroup
	for k, sim := range sims {
		evWG.Go(func() {
			tick := time.NewTicker(4 * time.Millisecond)
			defer tick.Stop()
			for i := range perNode {
				<-tick.C
				userEvent(t, sim, testApp, strconv.Itoa(i))
				if k == 0 && i == perNode/3 {
					killed = time.Now()
					n1.Shutdown()
				}
			}
		})
	}
	evWG.Wait()
	// The requester fails over: requests are answered again (the one in
	// flight at the kill may still be waiting for its timeout).
	okAtEnd := ok.Load()
	for waited := time.Duration(0); ok.Load() == okAtEnd; waited += 50 * time.Millisecond {
		if waited > 10*time.Second {
			t.Errorf("no request answered after the kill: the requester did not fail over")
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	close(stopReq)
	reqWG.Wait()

	select {
	case <-gotAll:
	case <-time.After(30 * time.Second):
	}
	mu.Lock()
	defer mu.Unlock()
	lost := 0
	for i := range sims {
		seq := got[nodeID(i)]
		for j := range perNode {
			if j >= len(seq) || seq[j] != j {
				lost++
			}
		}
		for j := range min(len(seq), perNode) {
			if seq[j] != j {
				var at []string
				for _, tm := range gotAt[nodeID(i)][max(0, j-3):min(len(seq), j+5)] {
					at = append(at, afterKill(tm, killed))
				}
				t.Logf("node %s: first out of place at %d: %v, received at %v", nodeID(i), j, seq[max(0, j-3):min(len(seq), j+12)], at)
				break
			}
		}
		if len(seq) != perNode {
			t.Errorf("node %s: durable subscriber got %d of %d events", nodeID(i), len(seq), perNode)
		}
	}
	t.Logf("NATS node killed (it led the durable consumer; the stream was led by %s)", streamLeader)
	t.Logf("NATS node killed, run went on %v: requests %d answered, %d unavailable (fail fast while reconnecting), %d timed out (in flight at the kill), %d other errors; durable events %d of %d, %d lost or out of order, %d read from the stream (deliveries lost on the way)",
		time.Since(killed).Round(time.Millisecond), ok.Load(), unavailable.Load(), timeouts.Load(), other.Load(), len(got[nodeID(0)])+len(got[nodeID(1)]), 2*perNode, lost, sub.ro.fetched.Load())
	if lost != 0 {
		t.Errorf("%d durable events lost or out of order", lost)
		diagnoseDurable(t, admin, prefix, "cluster-audit", killed, pubs, []string{nodeID(0), nodeID(1)}, perNode, got, gotAt)
	}
	if other.Load() != 0 || timeouts.Load() > 1 {
		t.Errorf("%d requests failed, %d timed out (one may be in flight at the kill; last: %v)", other.Load(), timeouts.Load(), lastErr.Load())
	}
}

// diagnoseDurable tells where the events a durable subscriber missed are:
// in the stream or not (a publisher loss), delivered or pending (a
// consumer loss), with times relative to the kill.
func diagnoseDurable(t *testing.T, b *natsbus.Bus, prefix, consumer string, killed time.Time, pubs []*natsbus.DurablePublisher, nodes []string, perNode int, got map[string][]int, gotAt map[string][]time.Time) {
	t.Helper()
	for i, p := range pubs {
		t.Logf("publisher %d: acked %d, republished %d, dropped %d, buffered %d", i, p.Acked(), p.Republished(), p.Dropped(), p.Buffered())
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	js, err := jetstream.New(b.Conn())
	if err != nil {
		t.Logf("jetstream: %v", err)
		return
	}
	stream := natsbus.StreamName(prefix)
	if cons, err := js.Consumer(ctx, stream, consumer); err != nil {
		t.Logf("consumer %s: %v", consumer, err)
	} else if ci, err := cons.Info(ctx); err != nil {
		t.Logf("consumer %s info: %v", consumer, err)
	} else {
		leader := ""
		if ci.Cluster != nil {
			leader = ci.Cluster.Leader
		}
		t.Logf("consumer %s: leader %s, delivered stream seq %d, ack floor %d, ack pending %d, redelivered %d, pending %d",
			consumer, leader, ci.Delivered.Stream, ci.AckFloor.Stream, ci.NumAckPending, ci.NumRedelivered, ci.NumPending)
	}
	st, err := js.Stream(ctx, stream)
	if err != nil {
		t.Logf("stream: %v", err)
		return
	}
	info, err := st.Info(ctx)
	if err != nil {
		t.Logf("stream info: %v", err)
		return
	}
	in := map[string]map[int][]string{}
	msgs := 0
	for sq := info.State.FirstSeq; sq <= info.State.LastSeq && ctx.Err() == nil; sq++ {
		m, err := st.GetMsg(ctx, sq)
		if err != nil {
			continue
		}
		msgs++
		ev, err := ari.DecodeEvent(m.Data)
		u, ok := ev.(*ari.ChannelUserevent)
		if err != nil || !ok {
			continue
		}
		n, _ := strconv.Atoi(fmt.Sprint(u.Userevent["seq"]))
		if in[u.AsteriskID] == nil {
			in[u.AsteriskID] = map[int][]string{}
		}
		in[u.AsteriskID][n] = append(in[u.AsteriskID][n], fmt.Sprintf("stream seq %d stored at %s, header seq %s",
			sq, afterKill(m.Time, killed), m.Header.Get(bus.HeaderSeq)))
	}
	t.Logf("stream %s: %d messages read", stream, msgs)
	for _, node := range nodes {
		seq := got[node]
		seen := map[int]int{}
		for j, n := range seq {
			seen[n]++
			if j > 0 && n <= seq[j-1] {
				t.Logf("node %s: event %d received after %d, at %s", node, n, seq[j-1], afterKill(gotAt[node][j], killed))
			}
		}
		shown := 0
		for n := range perNode {
			if seen[n] == 1 {
				continue
			}
			if shown++; shown > 20 {
				t.Logf("node %s: more events not received once", node)
				break
			}
			t.Logf("node %s: event %d received %d times; in the stream: %v", node, n, seen[n], in[node][n])
		}
	}
}

// afterKill is t as "kill+1.5s".
func afterKill(t, killed time.Time) string {
	d := t.Sub(killed).Round(time.Millisecond)
	if d < 0 {
		return "kill" + d.String()
	}
	return "kill+" + d.String()
}

// leaderOf is the name of the server leading the consumer of stream, or
// the stream itself when consumer is "".
func leaderOf(t *testing.T, b *natsbus.Bus, stream, consumer string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	js, err := jetstream.New(b.Conn())
	if err != nil {
		t.Fatal(err)
	}
	var cl *jetstream.ClusterInfo
	if consumer == "" {
		st, err := js.Stream(ctx, stream)
		if err != nil {
			t.Fatal(err)
		}
		cl = st.CachedInfo().Cluster
	} else {
		cons, err := js.Consumer(ctx, stream, consumer)
		if err != nil {
			t.Fatal(err)
		}
		cl = cons.CachedInfo().Cluster
	}
	if cl == nil {
		return ""
	}
	return cl.Leader
}

// moveConsumerLeader makes server the leader of the consumer of stream
// (a step-down with that server preferred).
func moveConsumerLeader(t *testing.T, b *natsbus.Bus, stream, consumer, server string) {
	t.Helper()
	req, _ := json.Marshal(map[string]any{"placement": map[string]string{"preferred": server}})
	for deadline := time.Now().Add(20 * time.Second); ; {
		leader := leaderOf(t, b, stream, consumer)
		if leader == server {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("consumer %s still led by %q, not %s", consumer, leader, server)
		}
		if _, err := b.Conn().Request(fmt.Sprintf("$JS.API.CONSUMER.LEADER.STEPDOWN.%s.%s", stream, consumer), req, 2*time.Second); err != nil {
			t.Logf("consumer step-down: %v", err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}
