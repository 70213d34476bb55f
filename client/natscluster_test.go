package client

import (
	"context"
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

	"github.com/ariproxy/ari-proxy/ari"
	"github.com/ariproxy/ari-proxy/arisim"
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
// client) the node the first server and a client are attached to is
// killed: both fail over by themselves, requests keep being answered, and
// the durable subscriber loses no event.
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
	for i, order := range attach {
		sim := localstack.StartSimConfig(t, arisim.Config{EntityID: nodeID(i)})
		sims = append(sims, sim)
		pb := connectOrdered(t, urls(order...), natsbus.WithReconnectBuffer(-1))
		pub, err := natsbus.NewDurablePublisher(pb, 0)
		if err != nil {
			t.Fatal(err)
		}
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
	sub, err := watcher.SubscribeDurable(ctx, "cluster-audit", "ChannelUserevent")
	if err != nil {
		t.Fatal(err)
	}

	const perNode = 500
	var mu sync.Mutex
	got := map[string][]int{} // node -> event numbers in order received
	gotAll := make(chan struct{})
	go func() {
		total := 0
		for ev := range sub.Events() {
			u := ev.(*ari.ChannelUserevent)
			n, _ := strconv.Atoi(u.Userevent["seq"].(string))
			mu.Lock()
			got[u.AsteriskID] = append(got[u.AsteriskID], n)
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
				t.Logf("node %s: first out of place at %d: %v", nodeID(i), j, seq[max(0, j-3):min(len(seq), j+12)])
				break
			}
		}
		if len(seq) != perNode {
			t.Errorf("node %s: durable subscriber got %d of %d events", nodeID(i), len(seq), perNode)
		}
	}
	t.Logf("NATS node killed, run went on %v: requests %d answered, %d unavailable (fail fast while reconnecting), %d timed out (in flight at the kill), %d other errors; durable events %d of %d, %d lost or out of order",
		time.Since(killed).Round(time.Millisecond), ok.Load(), unavailable.Load(), timeouts.Load(), other.Load(), len(got[nodeID(0)])+len(got[nodeID(1)]), 2*perNode, lost)
	if lost != 0 {
		t.Errorf("%d durable events lost or out of order", lost)
	}
	if other.Load() != 0 || timeouts.Load() > 1 {
		t.Errorf("%d requests failed, %d timed out (one may be in flight at the kill; last: %v)", other.Load(), timeouts.Load(), lastErr.Load())
	}
}
