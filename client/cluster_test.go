package client

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/ariproxy/ari-proxy/arisim"
	"github.com/ariproxy/ari-proxy/bus"
	"github.com/ariproxy/ari-proxy/internal/bustest"
	"github.com/ariproxy/ari-proxy/internal/localstack"
	"github.com/ariproxy/ari-proxy/wire"
)

// sniffer records the requests published under a prefix.
type sniffer struct {
	mu   sync.Mutex
	reqs []sniffed
}

type sniffed struct {
	subject string
	kind    string
	key     Key
	probe   bool
}

func sniff(t *testing.T, url, prefix string) *sniffer {
	t.Helper()
	s := &sniffer{}
	subjects := wire.NewSubjects(prefix)
	b := localstack.ConnectBus(t, url)
	_, err := b.Subscribe(prefix+">", func(m bus.Msg) {
		if classOf(subjects, m.Subject) == "" {
			return
		}
		r, err := wire.DecodeRequest(m.Data)
		if err != nil {
			return
		}
		var k Key
		if r.Key != nil {
			k = *r.Key
		}
		s.mu.Lock()
		s.reqs = append(s.reqs, sniffed{m.Subject, r.Kind, k, r.Probe})
		s.mu.Unlock()
	})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// subjectsOf lists the subjects requests of kind with key id ("" any)
// went to, in order.
func (s *sniffer) subjectsOf(kind, id string) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for _, r := range s.reqs {
		if r.kind == kind && (id == "" || r.key.ID == id) {
			out = append(out, r.subject)
		}
	}
	return out
}

// TestCluster: three servers on three simulators, one application.
func TestCluster(t *testing.T) { bustest.ForEachTransport(t, testCluster) }

func testCluster(t *testing.T, tr bustest.Transport) {
	const timeout = 5 * time.Second
	e := newEnvOn(t, tr, 3, arisim.Config{TimeScale: 0.01})
	c := e.client(t, WithTimeout(timeout))
	sn := sniff(t, e.url, e.prefix)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	sub := func(class wire.Class, node string) string {
		return wire.NewSubjects(e.prefix).Request(class, e.app, node)
	}

	// One channel on each node, created there with WithNode.
	ids := make([]string, 3)
	for i := range 3 {
		ids[i] = newID("n" + string(rune('0'+i)))
		ch, err := c.WithNode(nodeID(i)).Channels().Originate(ctx, &ChannelsOriginateParams{Endpoint: "Local/echo@default", App: e.app, ChannelID: ids[i]})
		if err != nil {
			t.Fatal(err)
		}
		if ch.Key().Node != nodeID(i) || ch.ID() != ids[i] {
			t.Fatalf("created %+v, want node %s", ch.Key(), nodeID(i))
		}
	}
	waitFor(t, "sniffer", func() bool { return len(sn.subjectsOf("ChannelOriginate", "")) >= 3 })
	for i, s := range sn.subjectsOf("ChannelOriginate", "") {
		if s != sub(wire.ClassCreate, nodeID(i)) {
			t.Errorf("pinned create %d went to %s", i, s)
		}
	}

	t.Run("full key reaches its node only", func(t *testing.T) {
		full := Key{Kind: "channel", ID: ids[1], Node: nodeID(1), App: e.app}
		d, err := c.ChannelFromKey(full).Get(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if d.ID != ids[1] {
			t.Errorf("data of %s", d.ID)
		}
		waitFor(t, "sniffer", func() bool { return len(sn.subjectsOf("ChannelData", ids[1])) == 1 })
		if got := sn.subjectsOf("ChannelData", ids[1]); got[0] != sub(wire.ClassData, nodeID(1)) {
			t.Errorf("full key went to %v", got)
		}
		// The channel lives on node 1: node 2 alone must say not found.
		wrong := full
		wrong.Node = nodeID(2)
		if _, err := c.ChannelFromKey(wrong).Get(ctx); !errors.Is(err, ErrNotFound) {
			t.Errorf("channel of node 1 asked on node 2: %v, want ErrNotFound", err)
		}
	})

	t.Run("partial key finds the node that has it", func(t *testing.T) {
		// A client that learns nothing: every partial key scatters.
		cold := e.client(t, WithTimeout(timeout), WithLocationCache(0))
		for i, id := range ids {
			d, err := cold.Channel(id).Get(ctx)
			if err != nil {
				t.Fatalf("%s: %v", id, err)
			}
			if d.ID != id {
				t.Errorf("data of %s, want %s", d.ID, id)
			}
			if err := cold.Channel(id).Answer(ctx); err != nil {
				t.Errorf("answer %s (node %d) with a partial key: %v", id, i, err)
			}
		}
		// The sniffer sees the request on its own connection, maybe after the reply.
		waitFor(t, "sniffer", func() bool { return len(sn.subjectsOf("ChannelData", ids[0])) > 0 })
		if got := sn.subjectsOf("ChannelData", ids[0]); len(got) != 1 || got[0] != sub(wire.ClassData, "") {
			t.Errorf("partial key went to %v", got)
		}
	})

	t.Run("partial key of a learned channel goes to its node", func(t *testing.T) {
		// c created the channels: their replies named the nodes.
		// The requests of the subtests above: cold, and full and wrong node for ids[1].
		earlier := []int{1, 3, 1}
		for i, id := range ids {
			waitFor(t, "sniffer", func() bool { return len(sn.subjectsOf("ChannelData", id)) == earlier[i] })
			before := earlier[i]
			if _, err := c.Channel(id).Get(ctx); err != nil {
				t.Fatalf("%s: %v", id, err)
			}
			waitFor(t, "sniffer", func() bool { return len(sn.subjectsOf("ChannelData", id)) > before })
			if got := sn.subjectsOf("ChannelData", id); got[len(got)-1] != sub(wire.ClassData, nodeID(i)) {
				t.Errorf("learned partial key of node %d went to %v", i, got)
			}
		}
	})

	t.Run("partial key create acts on the right node", func(t *testing.T) {
		// ChannelPlay is a create: the client finds the channel's node
		// first instead of letting any server take it.
		pb, err := c.Channel(ids[2]).Play(ctx, &ChannelPlayParams{Media: []string{"sound:demo-congrats"}, PlaybackID: newID("cpb")})
		if err != nil {
			t.Fatal(err)
		}
		if pb.Key().Node != nodeID(2) {
			t.Errorf("playback on %s, channel on %s", pb.Key().Node, nodeID(2))
		}
		if _, err := c.Channel("no-such-channel").Play(ctx, &ChannelPlayParams{Media: []string{"sound:beep"}}); !errors.Is(err, ErrNotFound) {
			t.Errorf("play on a missing channel: %v", err)
		}
	})

	t.Run("not found everywhere returns promptly", func(t *testing.T) {
		start := time.Now()
		_, err := c.Channel("no-such-channel").Get(ctx)
		d := time.Since(start)
		if !errors.Is(err, ErrNotFound) {
			t.Fatalf("got %v, want ErrNotFound", err)
		}
		if d > timeout/5 {
			t.Errorf("not found took %v (timeout %v)", d, timeout)
		}
		t.Logf("not found on 3 servers in %v", d)
		start = time.Now()
		if err := c.Channel("no-such-channel").Hangup(ctx, nil); !errors.Is(err, ErrNotFound) {
			t.Errorf("hangup: %v, want ErrNotFound", err)
		}
		if d := time.Since(start); d > timeout/5 {
			t.Errorf("not found took %v", d)
		}
	})

	t.Run("lists merge every server", func(t *testing.T) {
		list, err := c.Channels().List(ctx)
		if err != nil {
			t.Fatal(err)
		}
		nodes := map[string]string{}
		for _, h := range list {
			nodes[h.ID()] = h.Key().Node
		}
		for i, id := range ids {
			if nodes[id] != nodeID(i) {
				t.Errorf("list has %s on %q, want %s", id, nodes[id], nodeID(i))
			}
		}
	})

	t.Run("creates spread, each answered once", func(t *testing.T) {
		const n = 30
		created := map[string]string{}
		perNode := map[string]int{}
		for range n {
			id := newID("spread")
			b, err := c.Bridges().Create(ctx, &BridgesCreateParams{Type: "mixing", BridgeID: id})
			if err != nil {
				t.Fatal(err)
			}
			created[id] = b.Key().Node
			perNode[b.Key().Node]++
		}
		for i := range 3 {
			if perNode[nodeID(i)] == 0 {
				t.Errorf("node %s got no create: %v", nodeID(i), perNode)
			}
		}
		// Every bridge exists on exactly the node that answered.
		seen := map[string]int{}
		for i := range 3 {
			list, err := c.WithNode(nodeID(i)).Bridges().List(ctx)
			if err != nil {
				t.Fatal(err)
			}
			for _, h := range list {
				if want, ok := created[h.ID()]; ok {
					seen[h.ID()]++
					if want != nodeID(i) {
						t.Errorf("bridge %s on %s, answer said %s", h.ID(), nodeID(i), want)
					}
				}
			}
		}
		for id := range created {
			if seen[id] != 1 {
				t.Errorf("bridge %s exists on %d nodes", id, seen[id])
			}
		}
		t.Logf("creates per node: %v", perNode)
	})

	t.Run("derived application shares the connection", func(t *testing.T) {
		o := c.WithApplication("other")
		defer o.Close()
		if got := o.Servers(); !slices.Equal(got, c.Servers()) {
			t.Errorf("servers of other: %v", got)
		}
		info, err := o.Asterisk().GetInfo(ctx, nil)
		if err != nil {
			t.Fatal(err)
		}
		var raw map[string]json.RawMessage
		if err := json.Unmarshal(info.Raw, &raw); err != nil || raw["system"] == nil {
			t.Errorf("info %s", info.Raw)
		}
	})
}
