package proxy

import (
	"fmt"
	"testing"

	"github.com/ariproxy/ari-proxy/ari"
)

// TestKnownSet: the set is bounded (emptied when full), its maps are made
// anew after a burst, and only start, end and StasisEnd events change it,
// with the resources the entity table says.
func TestKnownSet(t *testing.T) {
	k := newKnownSet()
	for i := range maxKnown {
		k.add(resKey{kindChannel, fmt.Sprint("c", i)})
	}
	if k.len() != maxKnown {
		t.Fatalf("len %d, want %d", k.len(), maxKnown)
	}
	k.add(resKey{kindChannel, "one-more"})
	if k.len() != 1 || !k.has(resKey{kindChannel, "one-more"}) {
		t.Fatalf("full set: len %d after one more, want it emptied and holding the new one", k.len())
	}
	k.add(resKey{kindChannel, ""})
	if k.len() != 1 {
		t.Errorf("an empty id was added")
	}

	k = newKnownSet()
	for i := range shrinkAfter + 1 {
		k.add(resKey{kindBridge, fmt.Sprint("b", i)})
	}
	for i := range shrinkAfter + 1 {
		k.remove(resKey{kindBridge, fmt.Sprint("b", i)})
	}
	if k.peak != 0 {
		t.Errorf("peak %d after the burst, want 0 (map made anew)", k.peak)
	}

	s := &Server{known: newKnownSet()}
	ch := resKey{kindChannel, "1700000000.1"}
	pb := resKey{"playback", "pb-1"}
	for _, c := range []struct {
		typ, raw string
		want     map[resKey]bool
	}{
		{ari.TypeStasisStart, `{"type":"StasisStart","channel":{"id":"1700000000.1"}}`, map[resKey]bool{ch: true}},
		{"ChannelUserevent", `{"type":"ChannelUserevent","channel":{"id":"1700000000.2"}}`, map[resKey]bool{ch: true, {kindChannel, "1700000000.2"}: false}},
		{"PlaybackStarted", `{"type":"PlaybackStarted","playback":{"id":"pb-1","target_uri":"channel:1700000000.1"}}`, map[resKey]bool{ch: true, pb: true}},
		{"PlaybackFinished", `{"type":"PlaybackFinished","playback":{"id":"pb-1","target_uri":"channel:1700000000.1"}}`, map[resKey]bool{ch: true, pb: false}},
		{ari.TypeStasisEnd, `{"type":"StasisEnd","channel":{"id":"1700000000.1"}}`, map[resKey]bool{ch: false}},
		{"ChannelCreated", `{"type":"ChannelCreated","channel":{"id":"1700000000.1"}}`, map[resKey]bool{ch: true}},
		{"ChannelDestroyed", `{"type":"ChannelDestroyed","channel":{"id":"1700000000.1"}}`, map[resKey]bool{ch: false}},
		{"BridgeCreated", `{"type":"BridgeCreated","bridge":{"id":"br-1"}}`, map[resKey]bool{{kindBridge, "br-1"}: true}},
	} {
		h := eventHead{eventTop: eventTop{Type: c.typ}}
		s.learnEvent(&h, []byte(c.raw), false)
		for r, want := range c.want {
			if got := s.known.has(r); got != want {
				t.Errorf("after %s: has(%v) = %v, want %v", c.typ, r, got, want)
			}
		}
	}
}

// BenchmarkProbeUnclaimed: a probe about a channel this server has not
// seen, decided in the bus's delivery goroutine (what each of the other
// servers pays for one cold partial key).
//
//	go test -run '^$' -bench 'ProbeUnclaimed' -benchmem ./proxy/
func BenchmarkProbeUnclaimed(b *testing.B) {
	s := deadServer(b)
	r := route{class: "data", app: "demo"}
	data := []byte(`{"kind":"ChannelData","key":{"kind":"channel","id":"1763779175.0","app":"demo"},"probe":{}}`)
	b.ReportAllocs()
	for b.Loop() {
		if resps, _ := s.probeAnswer(r, data); len(resps) != 1 {
			b.Fatal("not answered unclaimed")
		}
	}
}
