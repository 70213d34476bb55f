package client

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/ariproxy/ari-proxy/ari"
	"github.com/ariproxy/ari-proxy/arisim"
	"github.com/ariproxy/ari-proxy/internal/bustest"
	"github.com/ariproxy/ari-proxy/internal/localstack"
	"github.com/ariproxy/ari-proxy/proxy"
	"github.com/ariproxy/ari-proxy/wire"
)

func TestLocationsBounded(t *testing.T) {
	l := newLocations(3)
	ch := func(id string) wire.Ref { return wire.Ref{Kind: "channel", ID: id} }
	for i := range 5 {
		l.learn(ch(fmt.Sprint(i)), "n1")
	}
	if l.size() != 3 || l.node(ch("0")) != "" || l.node(ch("1")) != "" || l.node(ch("4")) != "n1" {
		t.Fatalf("after 5 learned in 3 slots: size %d", l.size())
	}
	// Forgotten then learned again: it takes the next slot, and the
	// oldest entries go.
	l.forget(ch("2"), "")
	l.learn(ch("2"), "n2")
	l.learn(ch("5"), "n1")
	l.learn(ch("6"), "n1")
	if l.size() != 3 || l.node(ch("2")) != "n2" || l.node(ch("3")) != "" || l.node(ch("4")) != "" || l.node(ch("6")) != "n1" {
		t.Errorf("size %d, 2 on %q, 3 on %q", l.size(), l.node(ch("2")), l.node(ch("3")))
	}
	for range 100 {
		l.learn(ch("x"), "n3") // the same key again takes no new slot
	}
	if l.size() > 3 || l.node(ch("x")) != "n3" {
		t.Errorf("size %d, x on %q", l.size(), l.node(ch("x")))
	}

	off := newLocations(0)
	off.learn(ch("a"), "n1")
	if off.node(ch("a")) != "" || off.size() != 0 {
		t.Error("a disabled cache learned")
	}
}

func TestLocationsForget(t *testing.T) {
	l := newLocations(10)
	a := wire.Ref{Kind: "channel", ID: "a"}
	b := wire.Ref{Kind: "bridge", ID: "b"}
	l.learn(a, "n1")
	l.learn(b, "n2")
	l.forget(a, "n2") // an end event of another node: stays
	if l.node(a) != "n1" {
		t.Error("forgotten on the word of another node")
	}
	l.learn(wire.Ref{Kind: "endpoint", ID: "PJSIP/100"}, "n1")
	l.learn(wire.Ref{Kind: "storedrecording", ID: "r"}, "n1")
	if l.size() != 2 {
		t.Errorf("per-box entities learned: size %d", l.size())
	}
	l.forgetNode("n1")
	if l.node(a) != "" || l.node(b) != "n2" {
		t.Errorf("forgetNode: a on %q, b on %q", l.node(a), l.node(b))
	}

	ev, err := ari.DecodeEvent([]byte(`{"type":"BridgeDestroyed","asterisk_id":"n2","application":"demo","timestamp":"2024-01-01T00:00:00.000+0000","bridge":{"id":"b","technology":"simple_bridge","bridge_type":"mixing","bridge_class":"stasis","creator":"demo","name":"","channels":[],"creationtime":"2024-01-01T00:00:00.000+0000","video_mode":"none"}}`))
	if err != nil {
		t.Fatal(err)
	}
	l.event(ev)
	if l.node(b) != "" {
		t.Error("kept after its end event")
	}
}

func TestLocationsLearnReply(t *testing.T) {
	kind := func(name string) *wire.Kind {
		for _, k := range wire.Kinds() {
			if k.Name == name {
				return k
			}
		}
		t.Fatalf("no kind %s", name)
		return nil
	}
	ch := func(id string) wire.Ref { return wire.Ref{Kind: "channel", ID: id} }
	for _, tc := range []struct {
		name string
		kind string
		key  Key
		resp wire.Response
		want map[wire.Ref]string
	}{
		{"partial get learns the answering node", "ChannelData", Key{Kind: "channel", ID: "a", App: "demo"},
			wire.Response{Node: "n2"}, map[wire.Ref]string{ch("a"): "n2"}},
		{"v5 reply: the key's node", "ChannelData", Key{Kind: "channel", ID: "a", App: "demo", Node: "n1"},
			wire.Response{}, map[wire.Ref]string{ch("a"): "n1"}},
		{"created entity", "ChannelOriginate", Key{Kind: "channel", App: "demo"},
			wire.Response{Node: "n3", Key: &wire.Key{Kind: "channel", ID: "new", Node: "n3"}}, map[wire.Ref]string{ch("new"): "n3"}},
		{"originator of a create any server took is not learned", "ChannelOriginate", Key{Kind: "channel", ID: "orig", App: "demo"},
			wire.Response{Node: "n3", Key: &wire.Key{Kind: "channel", ID: "new", Node: "n3"}}, map[wire.Ref]string{ch("new"): "n3", ch("orig"): ""}},
		{"list", "ChannelList", Key{Kind: "channel", App: "demo"},
			wire.Response{Node: "n1", Keys: []*wire.Key{{Kind: "channel", ID: "x", Node: "n1"}, {Kind: "channel", ID: "y", Node: "n2"}}},
			map[wire.Ref]string{ch("x"): "n1", ch("y"): "n2"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l := newLocations(10)
			l.learnReply(kind(tc.kind), tc.key, &tc.resp)
			for ref, want := range tc.want {
				if got := l.node(ref); got != want {
					t.Errorf("%v on %q, want %q", ref, got, want)
				}
			}
		})
	}

	// A hangup forgets.
	l := newLocations(10)
	l.learn(ch("a"), "n1")
	l.learnReply(wire.KindOf(ari.OpChannelsHangup), Key{Kind: "channel", ID: "a", Node: "n1", App: "demo"}, &wire.Response{Node: "n1"})
	if l.node(ch("a")) != "" {
		t.Error("hung up channel still known")
	}
}

// TestLearnedRouting: three nodes. A partial key for a channel the
// client has seen goes to its node only; when the channel has gone from
// there (hung up behind the client's back, its id now used on another
// node) the request falls back to every server and learns the new node;
// an id on no node is not found promptly.
func TestLearnedRouting(t *testing.T) {
	const timeout = 5 * time.Second
	e := newEnv(t, 3, arisim.Config{TimeScale: 0.01})
	c := e.client(t, WithTimeout(timeout))
	other := e.client(t, WithTimeout(timeout), WithLocationCache(0)) // acts behind c's back
	sn := sniff(t, e.url, e.prefix)
	ctx := t.Context()
	subj := func(node string) string { return wire.NewSubjects(e.prefix).Request(wire.ClassData, e.app, node) }
	// last waits for the n-th ChannelData request of id and returns its subject.
	last := func(id string, n int) string {
		t.Helper()
		waitFor(t, "sniffer", func() bool { return len(sn.subjectsOf("ChannelData", id)) >= n })
		got := sn.subjectsOf("ChannelData", id)
		if len(got) != n {
			t.Fatalf("%d requests of %s, want %d: %v", len(got), id, n, got)
		}
		return got[n-1]
	}

	id := newID("moving")
	// gone waits until node i lists id no more (a request for the
	// channel itself would count among the sniffed ones).
	gone := func(i int) {
		t.Helper()
		waitFor(t, "the channel gone", func() bool {
			list, err := other.WithNode(nodeID(i)).Channels().List(ctx)
			if err != nil {
				return false
			}
			for _, h := range list {
				if h.ID() == id {
					return false
				}
			}
			return true
		})
	}

	if _, err := c.WithNode(nodeID(0)).Channels().Originate(ctx, &ChannelsOriginateParams{Endpoint: "Local/echo@default", App: e.app, ChannelID: id}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Channel(id).Get(ctx); err != nil {
		t.Fatal(err)
	}
	if got := last(id, 1); got != subj(nodeID(0)) {
		t.Fatalf("learned channel asked on %s, want its node", got)
	}

	// Hung up on node 0 and created again, same id, on node 2: c does
	// not know.
	if err := other.ChannelFromKey(Key{Kind: "channel", ID: id, Node: nodeID(0), App: e.app}).Hangup(ctx, nil); err != nil {
		t.Fatal(err)
	}
	gone(0)
	if _, err := other.WithNode(nodeID(2)).Channels().Originate(ctx, &ChannelsOriginateParams{Endpoint: "Local/echo@default", App: e.app, ChannelID: id}); err != nil {
		t.Fatal(err)
	}
	n := 1
	d, err := c.Channel(id).Get(ctx)
	if err != nil {
		t.Fatalf("moved channel: %v", err)
	}
	if d.ID != id || c.core.locs.node(wire.Ref{Kind: "channel", ID: id}) != nodeID(2) {
		t.Errorf("moved channel: data of %s, known on %q", d.ID, c.core.locs.node(wire.Ref{Kind: "channel", ID: id}))
	}
	if a, b := last(id, n+2), sn.subjectsOf("ChannelData", id)[n]; b != subj(nodeID(0)) || a != subj("") {
		t.Errorf("stale entry: asked %s then %s, want its old node then every server", b, a)
	}
	if _, err := c.Channel(id).Get(ctx); err != nil {
		t.Fatal(err)
	}
	if got := last(id, n+3); got != subj(nodeID(2)) {
		t.Errorf("relearned channel asked on %s", got)
	}

	// Hung up for good: the stale entry costs one request to the old
	// node, then not found from every server, well within the timeout.
	if err := other.ChannelFromKey(Key{Kind: "channel", ID: id, Node: nodeID(2), App: e.app}).Hangup(ctx, nil); err != nil {
		t.Fatal(err)
	}
	gone(2)
	start := time.Now()
	if _, err := c.Channel(id).Get(ctx); !errors.Is(err, ErrNotFound) {
		t.Fatalf("hung-up channel: %v, want ErrNotFound", err)
	}
	if d := time.Since(start); d > timeout/5 {
		t.Errorf("not found after a stale entry took %v", d)
	}
	if c.core.locs.node(wire.Ref{Kind: "channel", ID: id}) != "" {
		t.Error("hung-up channel still known")
	}

	// A command with a learned partial key acts on the right node.
	id2 := newID("cmd")
	if _, err := c.WithNode(nodeID(1)).Channels().Originate(ctx, &ChannelsOriginateParams{Endpoint: "Local/echo@default", App: e.app, ChannelID: id2}); err != nil {
		t.Fatal(err)
	}
	if err := c.Channel(id2).SetChannelVar(ctx, &ChannelSetChannelVarParams{Variable: "X", Value: "1"}); err != nil {
		t.Fatal(err)
	}
	v, err := other.ChannelFromKey(Key{Kind: "channel", ID: id2, Node: nodeID(1), App: e.app}).GetChannelVar(ctx, &ChannelGetChannelVarParams{Variable: "X"})
	if err != nil || v != "1" {
		t.Errorf("variable set through the learned node: %q, %v", v, err)
	}
	pb, err := c.Channel(id2).Play(ctx, &ChannelPlayParams{Media: []string{"sound:demo-congrats"}, PlaybackID: newID("pb")})
	if err != nil || pb.Key().Node != nodeID(1) {
		t.Fatalf("play on a learned channel: %v, %+v", err, pb)
	}
	if c.core.locs.node(wire.Ref{Kind: "playback", ID: pb.ID()}) != nodeID(1) {
		t.Error("the playback's node was not learned from its create")
	}

	// An id on no node: not found, promptly.
	start = time.Now()
	if _, err := c.Channel("nowhere").Get(ctx); !errors.Is(err, ErrNotFound) {
		t.Fatalf("no such channel: %v", err)
	}
	if d := time.Since(start); d > timeout/5 {
		t.Errorf("not found took %v", d)
	}
}

// TestLearnedNodeLeft: the node a resource was learned on stops serving;
// the next partial-key request finds nobody on its subject, forgets that
// server at once and asks the others, answering without waiting for the
// gone server (no timeout). Its resources are forgotten when it leaves.
func TestLearnedNodeLeft(t *testing.T) { bustest.ForEachTransport(t, testLearnedNodeLeft) }

func testLearnedNodeLeft(t *testing.T, tr bustest.Transport) {
	const timeout = 3 * time.Second
	e := newEnvOn(t, tr, 1, arisim.Config{TimeScale: 0.01})
	stop := e.addStoppable(t, 1)
	c := e.client(t, WithTimeout(timeout))
	ctx := t.Context()

	var ids [2]string
	for i := range ids {
		ids[i] = newID("left")
		if _, err := c.WithNode(nodeID(i)).Channels().Originate(ctx, &ChannelsOriginateParams{Endpoint: "Local/echo@default", App: e.app, ChannelID: ids[i]}); err != nil {
			t.Fatal(err)
		}
	}
	members := c.WatchMembers(ctx)
	if err := stop(localstack.StartTimeout); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	_, err := c.Channel(ids[1]).Get(ctx)
	if !errors.Is(err, ErrNotFound) {
		t.Fatalf("channel of the gone node: %v, want ErrNotFound", err)
	}
	if d := time.Since(start); d > timeout/3 {
		t.Errorf("took %v: waited for the gone server", d)
	}
	if c.core.servers.serves(nodeID(1), e.app) {
		t.Error("the gone server is still a member")
	}
	// Its resources are forgotten with it.
	left := false
	for !left {
		select {
		case ev := <-members:
			left = ev.Type == MemberLeft && ev.Member.Node == nodeID(1)
		case <-time.After(5 * time.Second):
			t.Fatal("no MemberLeft")
		}
	}
	if _, err := c.Channel(ids[0]).Get(ctx); err != nil {
		t.Errorf("channel of the live node: %v", err)
	}
	if c.core.locs.node(wire.Ref{Kind: "channel", ID: ids[0]}) != nodeID(0) {
		t.Error("live node's channel not known")
	}
}

// TestLearnedEndEvent: a subscription that sees a channel's
// ChannelDestroyed drops what the client knew of its node.
func TestLearnedEndEvent(t *testing.T) {
	e := newEnv(t, 2, arisim.Config{TimeScale: 0.01})
	c := e.client(t)
	other := e.client(t, WithLocationCache(0))
	ctx := t.Context()
	sub, err := c.Subscribe(ctx, ari.TypeChannelDestroyed)
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	id := newID("ends")
	if _, err := c.WithNode(nodeID(1)).Channels().Originate(ctx, &ChannelsOriginateParams{Endpoint: "Local/echo@default", App: e.app, ChannelID: id}); err != nil {
		t.Fatal(err)
	}
	ref := wire.Ref{Kind: "channel", ID: id}
	if c.core.locs.node(ref) != nodeID(1) {
		t.Fatal("created channel not known")
	}
	if err := other.ChannelFromKey(Key{Kind: "channel", ID: id, Node: nodeID(1), App: e.app}).Hangup(ctx, nil); err != nil {
		t.Fatal(err)
	}
	for ev := range sub.Events() {
		if d, ok := ev.(*ari.ChannelDestroyed); ok && d.Channel.ID == id {
			break
		}
	}
	if c.core.locs.node(ref) != "" {
		t.Error("destroyed channel still known")
	}
}

// TestLearnedManyServers: eight nodes, a channel on each. A learning
// client reaches each through its node once it has seen it; a cold one
// scatters; both get every channel.
func TestLearnedManyServers(t *testing.T) {
	const nodes = 8
	e := newEnv(t, nodes, arisim.Config{TimeScale: 0.01})
	c := e.client(t)
	cold := e.client(t, WithLocationCache(0))
	sn := sniff(t, e.url, e.prefix)
	ctx := t.Context()
	ids := make([]string, nodes)
	for i := range ids {
		id, err := e.sims[i].InboundCall(e.app)
		if err != nil {
			t.Fatal(err)
		}
		ids[i] = id
	}
	for round := range 2 {
		for i, id := range ids {
			for _, cl := range []*Client{c, cold} {
				d, err := cl.Channel(id).Get(ctx)
				if err != nil || d.ID != id {
					t.Fatalf("round %d, channel of node %d: %v", round, i, err)
				}
			}
		}
	}
	all := wire.NewSubjects(e.prefix).Request(wire.ClassData, e.app, "")
	for i, id := range ids {
		waitFor(t, "sniffer", func() bool { return len(sn.subjectsOf("ChannelData", id)) == 4 })
		got := sn.subjectsOf("ChannelData", id)
		everyServer := 0
		for _, s := range got {
			if s == all {
				everyServer++
			}
		}
		// The learning client's first request and the cold one's two.
		if everyServer != 3 {
			t.Errorf("channel of node %d: requests went to %v", i, got)
		}
		if c.core.locs.node(wire.Ref{Kind: "channel", ID: id}) != nodeID(i) {
			t.Errorf("channel of node %d known on %q", i, c.core.locs.node(wire.Ref{Kind: "channel", ID: id}))
		}
	}
}

// TestScatterFirstSuccess: a cold partial key returns with the first
// server that has the resource, without waiting for a slow one's not
// found; a not found is final only when every server said so, so a
// resource on the slow server is found, not missed.
func TestScatterFirstSuccess(t *testing.T) {
	const latency = 1500 * time.Millisecond
	e := newEnv(t, 3, arisim.Config{TimeScale: 0.01})
	cold := e.client(t, WithTimeout(5*time.Second), WithLocationCache(0))
	ctx := t.Context()
	fast, err := e.sims[0].InboundCall(e.app)
	if err != nil {
		t.Fatal(err)
	}
	slow, err := e.sims[2].InboundCall(e.app)
	if err != nil {
		t.Fatal(err)
	}
	e.sims[2].SetLatency(latency)
	defer e.sims[2].SetLatency(0)

	start := time.Now()
	if _, err := cold.Channel(fast).Get(ctx); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d >= latency/2 {
		t.Errorf("found on a fast server in %v: waited for the slow one", d)
	}
	start = time.Now()
	d, err := cold.Channel(slow).Get(ctx)
	if err != nil || d.ID != slow {
		t.Fatalf("channel of the slow server: %v", err)
	}
	if d := time.Since(start); d < latency {
		t.Errorf("answered in %v, before the slow server could", d)
	}
}

// TestLearnedFromListen: the StasisStart a Listen hands over tells where
// the call is; a partial key for it then goes to that node.
func TestLearnedFromListen(t *testing.T) {
	e := newEnv(t, 2, arisim.Config{TimeScale: 0.01})
	c := e.client(t)
	ctx := t.Context()
	got := make(chan string, 1)
	l, err := c.Listen(ctx, func(ctx context.Context, h *ChannelHandle, _ *ari.StasisStart) { got <- h.ID() })
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	id, err := e.sims[1].InboundCall(e.app)
	if err != nil {
		t.Fatal(err)
	}
	select {
	case h := <-got:
		if h != id {
			t.Fatalf("handled %s, placed %s", h, id)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no call")
	}
	if n := c.core.locs.node(wire.Ref{Kind: "channel", ID: id}); n != nodeID(1) {
		t.Errorf("listened call known on %q, want %s", n, nodeID(1))
	}
}

// addStoppable adds to e a server for the node'th simulator (started
// here) that serves e's application only and that the test can stop
// (stop is also run on cleanup).
func (e *env) addStoppable(t *testing.T, node int) (stop func(time.Duration) error) {
	t.Helper()
	sim := localstack.StartSimConfig(t, arisim.Config{TimeScale: 0.01, EntityID: nodeID(node)})
	srv, err := proxy.New(proxy.Config{Applications: []string{e.app}, ARI: localstack.ARIConfig(sim),
		Bus: localstack.ConnectBus(t, e.url), Prefix: e.prefix, Logger: localstack.Logger()})
	if err != nil {
		t.Fatal(err)
	}
	stop, err = localstack.Serve(context.Background(), srv, localstack.StartTimeout)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = stop(localstack.StartTimeout) })
	e.servers = append(e.servers, srv)
	return stop
}

// TestLocationsNodeLeft: a node that leaves the members takes what was
// learned of it along.
func TestLocationsNodeLeft(t *testing.T) {
	s := newServers(30 * time.Millisecond)
	l := newLocations(10)
	s.onLeft = l.forgetNode
	s.seen("n1", "demo")
	s.seen("n2", "demo")
	s.check()
	l.learn(wire.Ref{Kind: "channel", ID: "a"}, "n1")
	l.learn(wire.Ref{Kind: "channel", ID: "b"}, "n2")
	if !s.serves("n1", "demo") || s.serves("n1", "other") || s.serves("n3", "demo") {
		t.Fatal("serves")
	}
	time.Sleep(50 * time.Millisecond)
	s.seen("n2", "demo")
	s.check()
	if s.serves("n1", "demo") || l.node(wire.Ref{Kind: "channel", ID: "a"}) != "" || l.node(wire.Ref{Kind: "channel", ID: "b"}) != "n2" {
		t.Errorf("after n1 left: serves %v, a on %q, b on %q", s.serves("n1", "demo"),
			l.node(wire.Ref{Kind: "channel", ID: "a"}), l.node(wire.Ref{Kind: "channel", ID: "b"}))
	}
	s.gone("n2", "demo")
	if s.serves("n2", "demo") || l.node(wire.Ref{Kind: "channel", ID: "b"}) != "" {
		t.Error("gone: still served or known")
	}
}

// TestLearnedNodeTimesOut: the learned node does not answer in time. The
// request fails with ErrTimeout and is not sent again to every server
// (the node may have acted on it: a command must not run twice); the
// entry is dropped, so the next request asks every server.
func TestLearnedNodeTimesOut(t *testing.T) {
	const timeout = 300 * time.Millisecond
	e := newEnv(t, 2, arisim.Config{TimeScale: 0.01})
	c := e.client(t, WithTimeout(timeout))
	sn := sniff(t, e.url, e.prefix)
	ctx := t.Context()
	id, err := e.sims[1].InboundCall(e.app)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Channel(id).Get(ctx); err != nil { // learned
		t.Fatal(err)
	}
	e.sims[1].SetLatency(2 * timeout)
	if err := c.Channel(id).Answer(ctx); !errors.Is(err, ErrTimeout) {
		t.Fatalf("answer on a stuck node: %v, want ErrTimeout", err)
	}
	time.Sleep(100 * time.Millisecond) // the sniffer's copies
	if got := sn.subjectsOf("ChannelAnswer", id); len(got) != 1 || got[0] != wire.NewSubjects(e.prefix).Request(wire.ClassCommand, e.app, nodeID(1)) {
		t.Errorf("answer sent to %v, want its node once", got)
	}
	if c.core.locs.node(wire.Ref{Kind: "channel", ID: id}) != "" {
		t.Error("the stuck node is still where the channel is known")
	}
	e.sims[1].SetLatency(0)
	time.Sleep(2 * timeout) // the stuck answer comes and goes
	if _, err := c.Channel(id).Get(ctx); err != nil {
		t.Fatal(err)
	}
	if c.core.locs.node(wire.Ref{Kind: "channel", ID: id}) != nodeID(1) {
		t.Error("not learned again")
	}
}
