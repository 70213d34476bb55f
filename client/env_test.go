package client

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/ariproxy/ari-proxy/ari"
	"github.com/ariproxy/ari-proxy/arisim"
	"github.com/ariproxy/ari-proxy/bus/natsserver"
	"github.com/ariproxy/ari-proxy/internal/bustest"
	"github.com/ariproxy/ari-proxy/internal/localstack"
	"github.com/ariproxy/ari-proxy/proxy"
)

// env is a real test bed: a bus of one transport, simulators and one proxy
// server in front of each, under a fresh subject prefix.
type env struct {
	tr       bustest.Transport
	nats     *natsserver.Server // the NATS transport's server, else nil
	url      string
	prefix   string
	app      string
	sims     []*arisim.Sim
	servers  []*proxy.Server
	storeDir string // JetStream store (durable mode), "" without
}

// nodeID is the entity id of the i-th simulator.
func nodeID(i int) string { return fmt.Sprintf("02:fc:00:00:00:%02x", i+1) }

// newEnv starts nodes simulators (with cfg as their base configuration)
// and a server for testApp in front of each.
func newEnv(t *testing.T, nodes int, cfg arisim.Config) *env {
	t.Helper()
	return newEnvOn(t, bustest.NATS, nodes, cfg)
}

// newEnvOn is newEnv on a bus of transport tr (suites parameterised by
// transport).
func newEnvOn(t *testing.T, tr bustest.Transport, nodes int, cfg arisim.Config) *env {
	t.Helper()
	e := &env{prefix: localstack.Prefix(), app: testApp, tr: tr}
	if tr.Name == bustest.NATS.Name {
		// The NATS-only tests look into the server's connections.
		e.nats, e.url = localstack.StartNATS(t)
	} else {
		e.url = tr.URL(t)
	}
	for i := range nodes {
		c := cfg
		c.EntityID = nodeID(i)
		sim := localstack.StartSimConfig(t, c)
		e.sims = append(e.sims, sim)
		e.servers = append(e.servers, localstack.RunServer(t, proxy.Config{
			Applications: []string{e.app, "other"},
			ARI:          localstack.ARIConfig(sim),
			Bus:          localstack.ConnectBus(t, e.url),
			Prefix:       e.prefix,
		}))
	}
	return e
}

// client makes a client on e, closed on cleanup.
func (e *env) client(t *testing.T, opts ...Option) *Client {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	base := []Option{WithURL(e.url), WithPrefix(e.prefix), WithApplication(e.app), WithLogger(localstack.Logger()), WithDiscoveryWait(2 * time.Second)}
	c, err := New(context.Background(), append(base, opts...)...)
	if err != nil {
		t.Fatalf("client.New: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	// Wait until every server announced itself, so scatter-gather knows
	// how many answers to expect.
	for len(c.Servers()) < len(e.servers) {
		if ctx.Err() != nil {
			t.Fatalf("servers known: %v, want %d", c.Servers(), len(e.servers))
		}
		time.Sleep(5 * time.Millisecond)
	}
	return c
}

// stasis tracks the channels that entered the application.
type stasis struct {
	mu      sync.Mutex
	started map[string]*ari.StasisStart
	changed chan struct{}
}

// watchStasis subscribes c to StasisStart events.
func watchStasis(t *testing.T, c *Client) *stasis {
	t.Helper()
	sub, err := c.Subscribe(context.Background(), ari.TypeStasisStart)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sub.Close() })
	s := &stasis{started: map[string]*ari.StasisStart{}, changed: make(chan struct{})}
	go func() {
		for ev := range sub.Events() {
			ss := ev.(*ari.StasisStart)
			s.mu.Lock()
			s.started[ss.Channel.ID] = ss
			close(s.changed)
			s.changed = make(chan struct{})
			s.mu.Unlock()
		}
	}()
	return s
}

// wait waits for the StasisStart of channel id.
func (s *stasis) wait(t *testing.T, id string) *ari.StasisStart {
	t.Helper()
	timeout := time.After(10 * time.Second)
	for {
		s.mu.Lock()
		ss, ch := s.started[id], s.changed
		s.mu.Unlock()
		if ss != nil {
			return ss
		}
		select {
		case <-ch:
		case <-timeout:
			t.Fatalf("no StasisStart for %s", id)
		}
	}
}

// recv waits for the next event of sub.
func recv(t *testing.T, sub *Subscription, within time.Duration) ari.Event {
	t.Helper()
	select {
	case ev, ok := <-sub.Events():
		if !ok {
			t.Fatal("subscription closed")
		}
		return ev
	case <-time.After(within):
		t.Fatalf("no event within %v", within)
	}
	return nil
}

// eventChannelID is the id of the channel an event is about, "" if none.
func eventChannelID(ev ari.Event) string {
	switch e := ev.(type) {
	case *ari.StasisStart:
		return e.Channel.ID
	case *ari.StasisEnd:
		return e.Channel.ID
	case *ari.ChannelStateChange:
		return e.Channel.ID
	case *ari.ChannelHangupRequest:
		return e.Channel.ID
	case *ari.ChannelDestroyed:
		return e.Channel.ID
	case *ari.ChannelVarset:
		if e.Channel != nil {
			return e.Channel.ID
		}
	case *ari.ChannelDialplan:
		return e.Channel.ID
	}
	return ""
}

var idSeq struct {
	sync.Mutex
	n int
}

// newID returns a fresh id with prefix p.
func newID(p string) string {
	idSeq.Lock()
	defer idSeq.Unlock()
	idSeq.n++
	return fmt.Sprintf("%s-%d", p, idSeq.n)
}

// originate starts a Local/echo channel into the application and waits for
// its StasisStart.
func originate(t *testing.T, c *Client, st *stasis, id string) *ChannelHandle {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ch, err := c.Channels().Originate(ctx, &ChannelsOriginateParams{Endpoint: "Local/echo@default", App: c.ApplicationName(), ChannelID: id})
	if err != nil {
		t.Fatalf("originate %s: %v", id, err)
	}
	if st != nil {
		st.wait(t, id)
	}
	return ch
}
