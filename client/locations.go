package client

import (
	"strings"
	"sync"

	"github.com/ariproxy/ari-proxy/ari"
	"github.com/ariproxy/ari-proxy/wire"
)

// DefaultLocationCache is how many resources a client remembers the node
// of (see WithLocationCache).
const DefaultLocationCache = 10000

// locations remembers which node has which resource, learned from what
// the client has already seen: replies naming a node (the answer to a
// create, a get, a list), full-key requests that succeeded. A request
// with a partial key (no node) for a resource it knows goes to that node
// only instead of to every server; when that node says not found or is
// gone, the request falls back to every server and the entry is dropped.
// Entries also go on the resource's end event (ChannelDestroyed...), when
// the node leaves, and, the oldest first, when the cache is full: memory
// is bounded by max entries.
//
// Only the entities Asterisk creates per box (the entity table's Created
// rows: channels, bridges, playbacks, live recordings) are learned: their
// id names one resource on one node. Endpoints, sounds, stored recordings
// and the like may exist under the same name on every node.
type locations struct {
	max int // 0: learning is off

	mu    sync.Mutex
	nodes map[wire.Ref]located
	ring  []wire.Ref // ring[i] is the key learned into slot i; the oldest slot is reused first
	next  int
}

type located struct {
	node string
	slot int
}

func newLocations(max int) *locations {
	if max < 0 {
		max = 0
	}
	return &locations{max: max, nodes: make(map[wire.Ref]located)}
}

// endsLearnable is the set of event types that end a learnable entity.
var endsLearnable = func() map[string]bool {
	m := map[string]bool{}
	for _, e := range wire.Entities() {
		if e.Created {
			for _, t := range e.EndEvents {
				m[t] = true
			}
		}
	}
	return m
}()

// node is the node known to have ref, "" when none is.
func (l *locations) node(ref wire.Ref) string {
	if l.max == 0 {
		return ""
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.nodes[ref].node
}

// learn records that node has ref.
func (l *locations) learn(ref wire.Ref, node string) {
	if l.max == 0 || ref.ID == "" || node == "" {
		return
	}
	e := wire.EntityOf(ref.Kind)
	if e == nil || !e.Created {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if cur, ok := l.nodes[ref]; ok {
		if cur.node != node {
			cur.node = strings.Clone(node)
			l.nodes[ref] = cur
		}
		return
	}
	// Copies: the strings of a decoded reply share its whole buffer,
	// which an entry must not keep alive.
	ref = wire.Ref{Kind: e.Kind, ID: strings.Clone(ref.ID)}
	node = strings.Clone(node)
	slot := l.next
	if slot < len(l.ring) {
		// The slot's previous key is evicted, unless it was forgotten and
		// learned again into another slot since.
		if old, ok := l.nodes[l.ring[slot]]; ok && old.slot == slot {
			delete(l.nodes, l.ring[slot])
		}
		l.ring[slot] = ref
	} else {
		l.ring = append(l.ring, ref)
	}
	l.next = (slot + 1) % l.max
	l.nodes[ref] = located{node: node, slot: slot}
}

// forget drops ref when node ("" for any) is where it is known to be: a
// newer entry, learned on another node, stays.
func (l *locations) forget(ref wire.Ref, node string) {
	if l.max == 0 {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if e, ok := l.nodes[ref]; ok && (node == "" || e.node == node) {
		delete(l.nodes, ref)
	}
}

// forgetNode drops every resource of node: it left the cluster.
func (l *locations) forgetNode(node string) {
	if l.max == 0 {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	for ref, e := range l.nodes {
		if e.node == node {
			delete(l.nodes, ref)
		}
	}
}

// size is the number of resources known.
func (l *locations) size() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.nodes)
}

// event learns the node of the channel a StasisStart brings and drops
// the resource an end event ends, if it was learned on the event's node.
// Other events are not read further than their type: this runs for every
// event a subscription of the client decodes.
func (l *locations) event(ev ari.Event) {
	if l.max == 0 {
		return
	}
	if ss, ok := ev.(*ari.StasisStart); ok {
		l.learn(wire.Ref{Kind: "channel", ID: ss.Channel.ID}, ss.AsteriskID)
		return
	}
	if !endsLearnable[ev.EventType()] {
		return
	}
	_, ended := wire.EventResources(nil, ev.EventType(), ev.RawJSON())
	if ended.ID != "" {
		l.forget(ended, ev.Base().AsteriskID)
	}
}

// learnReply records what a successful reply to a request of kind k
// about key shows: the node of the entities it names or lists and, when
// the request acted on the key's entity where it is (not a create taken
// by any server, not a dialog-only kind every server answers without
// asking Asterisk), the node of that entity. A delete of the entity
// itself (a hangup) forgets it instead.
func (l *locations) learnReply(k *wire.Kind, key Key, resp *wire.Response) {
	if l.max == 0 || resp == nil || k.Op == nil || k.Stage || k.Unbind {
		return
	}
	if rk := resp.Key; rk != nil {
		node := rk.Node
		if node == "" {
			node = resp.Node
		}
		l.learn(wire.Ref{Kind: rk.Kind, ID: rk.ID}, node)
	}
	for _, rk := range resp.Keys {
		if rk != nil {
			l.learn(wire.Ref{Kind: rk.Kind, ID: rk.ID}, rk.Node)
		}
	}
	if key.ID == "" || k.KeyRef || key.Kind != k.KeyKind || (k.Class == wire.ClassCreate && key.Node == "") {
		return
	}
	ref := wire.Ref{Kind: key.Kind, ID: key.ID}
	if k.Op.Method == "DELETE" && strings.HasSuffix(k.Op.Path, "{"+k.KeyParam+"}") {
		l.forget(ref, "")
		return
	}
	node := resp.Node
	if node == "" {
		node = key.Node // a v5 server names no node in its reply
	}
	l.learn(ref, node)
}
