package proxy_test

import (
	"testing"
	"time"

	"github.com/ariproxy/ari-proxy/internal/localstack"
	"github.com/ariproxy/ari-proxy/proxy"
	"github.com/ariproxy/ari-proxy/wire"
)

// TestNodeIDOverride: two Asterisks that report the same entity id (two
// instances on one host) behind two servers with their own node ids, on
// one bus and prefix. Announcements, replies, requests and events stay
// apart: each server answers only for its node, each event goes out on
// its own node's subject carrying that node as asterisk_id, and a request
// keyed with the node an event named reaches the Asterisk that sent it.
func TestNodeIDOverride(t *testing.T) {
	const shared = "02:fc:00:00:00:01" // both simulators report it
	e := newEnv(t, func(c *proxy.Config) { c.Node = "pbx-a" })
	simB := localstack.StartSim(t, shared)
	srvB := e.startServer(simB, func(c *proxy.Config) { c.Node = "pbx-b" })
	if e.srv.Node() != "pbx-a" || srvB.Node() != "pbx-b" {
		t.Fatalf("nodes %q and %q, want pbx-a and pbx-b", e.srv.Node(), srvB.Node())
	}

	// One reply per node-level request, from that node only.
	for _, node := range []string{"pbx-a", "pbx-b"} {
		raws, err := e.requestRaw(e.subj.Request(wire.ClassData, app, node), `{"kind":"AsteriskInfo","key":{}}`, 0, 500*time.Millisecond)
		if err != nil {
			t.Fatalf("%s: %v", node, err)
		}
		if len(raws) != 1 {
			t.Fatalf("%s: %d replies, want 1", node, len(raws))
		}
		if r := ok(t, node, decodeResponse(t, raws[0])); r.Node != node {
			t.Errorf("reply of %s names node %q", node, r.Node)
		}
	}
	// Nobody serves the shared entity id any more.
	if _, err := e.requestRaw(e.subj.Request(wire.ClassData, app, shared), `{"kind":"AsteriskInfo","key":{}}`, 1, 300*time.Millisecond); err == nil {
		t.Error("a server answered on the entity id's subject")
	}

	evA, evB := e.sub(e.subj.Event(app, "pbx-a")), e.sub(e.subj.Event(app, "pbx-b"))
	evShared := e.sub(e.subj.Event(app, shared))
	eventually(t, 5*time.Second, "application registered on B", func() bool {
		_, err := simB.InboundCall(app)
		return err == nil
	})
	raw := waitEvent(t, evB, 5*time.Second, func(ev eventOf, _ []byte) bool { return ev.Type == "StasisStart" })
	ev := decodeEvent(t, raw)
	if ev.AsteriskID != "pbx-b" {
		t.Errorf("event asterisk_id = %q, want pbx-b: %s", ev.AsteriskID, raw)
	}
	id := ev.Channel.ID
	key := map[string]any{"kind": "channel", "id": id, "node": ev.AsteriskID, "app": app}
	ok(t, "channel on its node", e.request(e.subj.Request(wire.ClassData, app, ev.AsteriskID), map[string]any{"kind": "ChannelData", "key": key}))
	key["node"] = "pbx-a"
	if r := e.request(e.subj.Request(wire.ClassData, app, "pbx-a"), map[string]any{"kind": "ChannelData", "key": key}); r.Code != wire.CodeNotFound {
		t.Errorf("B's channel asked of pbx-a: %+v, want not_found", r)
	}

	// A call created on node pbx-a: its events on pbx-a only.
	ok(t, "originate on pbx-a", e.request(e.subj.Request(wire.ClassCreate, app, "pbx-a"), map[string]any{
		"kind": "ChannelOriginate", "key": map[string]any{},
		"channel_originate": map[string]any{"originate_request": map[string]any{"endpoint": "Local/echo@default", "app": app, "channelId": "on-a"}},
	}))
	raw = waitEvent(t, evA, 5*time.Second, func(ev eventOf, _ []byte) bool {
		return ev.Type == "StasisStart" && ev.Channel != nil && ev.Channel.ID == "on-a"
	})
	if ev := decodeEvent(t, raw); ev.AsteriskID != "pbx-a" {
		t.Errorf("event asterisk_id = %q, want pbx-a", ev.AsteriskID)
	}
	time.Sleep(200 * time.Millisecond) // let anything misrouted arrive
	for name, ch := range map[string]<-chan []byte{"pbx-b": evB, shared: evShared} {
		for {
			select {
			case raw := <-ch:
				if ev := decodeEvent(t, raw); ev.Channel != nil && ev.Channel.ID == "on-a" {
					t.Errorf("A's event reached %s: %s", name, raw)
				}
				continue
			default:
			}
			break
		}
	}
	if len(evShared) > 0 {
		t.Errorf("%d events on the shared entity id's subject", len(evShared))
	}
}

func TestNodeIDInvalid(t *testing.T) {
	_, url := localstack.StartNATS(t)
	sim := localstack.StartSim(t, node1)
	_, err := proxy.New(proxy.Config{Applications: []string{app}, ARI: localstack.ARIConfig(sim), Bus: localstack.Connect(t, url), Node: "a.b"})
	if err == nil {
		t.Fatal("node id a.b accepted")
	}
}
