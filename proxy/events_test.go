package proxy

import (
	"encoding/json"
	"fmt"
	"slices"
	"testing"
	"time"
)

func TestSpliceFields(t *testing.T) {
	tests := []struct {
		name string
		in   string
		kv   []string
		want string
	}{
		{"object", `{"type":"X","a":1}`, []string{"dialog", "d1"}, `{"dialog":"d1","type":"X","a":1}`},
		{"two", `{"type":"X"}`, []string{"application", "demo", "asterisk_id", "02:fc"}, `{"application":"demo","asterisk_id":"02:fc","type":"X"}`},
		{"empty", `{}`, []string{"dialog", "d"}, `{"dialog":"d"}`},
		{"empty spaced", " { \n} ", []string{"dialog", "d"}, "{\"dialog\":\"d\" \n} "},
		{"leading space", "  {\"a\":1}", []string{"k", "v"}, `{"k":"v","a":1}`},
		{"escaping", `{"a":1}`, []string{"dialog", "a\"b\\c<"}, `{"dialog":"a\"b\\c\u003c","a":1}`},
		{"not object", `[1,2]`, []string{"k", "v"}, ``},
		{"blank", ``, []string{"k", "v"}, ``},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := spliceFields([]byte(tt.in), tt.kv...)
			if string(got) != tt.want {
				t.Fatalf("spliceFields(%q) = %q, want %q", tt.in, got, tt.want)
			}
			if tt.want != "" && !json.Valid(got) {
				t.Fatalf("result is not JSON: %s", got)
			}
		})
	}
}

func TestSpliceKeepsBytes(t *testing.T) {
	// Whatever Asterisk wrote after the splice point (spacing, key order,
	// number formats, unknown members) is kept byte for byte.
	in := []byte(`{"type":"StasisStart",  "n": 1.50e3, "channel":{"id":"c","language":"en","x_new":[1, 2]}}`)
	got := spliceFields(in, "dialog", "d")
	want := `{"dialog":"d",` + string(in[1:])
	if string(got) != want {
		t.Fatalf("got %s\nwant %s", got, want)
	}
}

func TestEventHeadResources(t *testing.T) {
	tests := []struct {
		name      string
		event     string
		want      []resKey
		destroyed *resKey
	}{
		{
			name:  "StasisStart with replace_channel",
			event: `{"type":"StasisStart","application":"demo","channel":{"id":"c1","name":"x"},"replace_channel":{"id":"c0"},"args":[]}`,
			want:  []resKey{{"channel", "c1"}, {"channel", "c0"}},
		},
		{
			name:  "Dial",
			event: `{"type":"Dial","caller":{"id":""},"peer":{"id":"v5-1"},"forwarded":{"id":""},"dialstatus":""}`,
			want:  []resKey{{"channel", "v5-1"}},
		},
		{
			name:  "ChannelEnteredBridge",
			event: `{"type":"ChannelEnteredBridge","bridge":{"id":"b1","channels":["c1"]},"channel":{"id":"c1"}}`,
			want:  []resKey{{"channel", "c1"}, {"bridge", "b1"}},
		},
		{
			name:      "ChannelDestroyed",
			event:     `{"type":"ChannelDestroyed","channel":{"id":"c1"},"cause":16}`,
			want:      []resKey{{"channel", "c1"}},
			destroyed: &resKey{"channel", "c1"},
		},
		{
			name:      "PlaybackFinished on a channel",
			event:     `{"type":"PlaybackFinished","playback":{"id":"p1","target_uri":"channel:c1","state":"done"}}`,
			want:      []resKey{{"playback", "p1"}, {"channel", "c1"}},
			destroyed: &resKey{"playback", "p1"},
		},
		{
			name:      "RecordingFailed on a bridge",
			event:     `{"type":"RecordingFailed","recording":{"name":"r1","target_uri":"bridge:b1"}}`,
			want:      []resKey{{"liverecording", "r1"}, {"bridge", "b1"}},
			destroyed: &resKey{"liverecording", "r1"},
		},
		{
			name:      "BridgeDestroyed",
			event:     `{"type":"BridgeDestroyed","bridge":{"id":"b1"}}`,
			want:      []resKey{{"bridge", "b1"}},
			destroyed: &resKey{"bridge", "b1"},
		},
		{
			name:  "BridgeAttendedTransfer",
			event: `{"type":"BridgeAttendedTransfer","transferer_first_leg":{"id":"a"},"transferer_second_leg":{"id":"b"},"transferer_first_leg_bridge":{"id":"B1"},"transfer_target":{"id":"t"}}`,
			want:  []resKey{{"channel", "t"}, {"channel", "a"}, {"channel", "b"}, {"bridge", "B1"}},
		},
		{
			name:  "EndpointStateChange",
			event: `{"type":"EndpointStateChange","endpoint":{"technology":"PJSIP","resource":"alice","state":"online"}}`,
			want:  []resKey{{"endpoint", "PJSIP/alice"}},
		},
		{
			name:  "DeviceStateChanged",
			event: `{"type":"DeviceStateChanged","device_state":{"name":"Stasis:x","state":"INUSE"}}`,
			want:  []resKey{{"devicestate", "Stasis:x"}},
		},
		{
			name:  "ApplicationReplaced",
			event: `{"type":"ApplicationReplaced","application":"demo"}`,
		},
		{
			name:  "null members",
			event: `{"type":"Dial","caller":null,"peer":null,"playback":null}`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var h eventHead
			if err := json.Unmarshal([]byte(tt.event), &h); err != nil {
				t.Fatal(err)
			}
			got := h.resources(nil)
			if !sameSet(got, tt.want) {
				t.Fatalf("resources = %v, want %v", got, tt.want)
			}
			d, ok := h.destroyed()
			if (tt.destroyed != nil) != ok || ok && d != *tt.destroyed {
				t.Fatalf("destroyed = %v %v, want %v", d, ok, tt.destroyed)
			}
		})
	}
}

func sameSet(a, b []resKey) bool {
	less := func(x, y resKey) int {
		if x.kind != y.kind {
			if x.kind < y.kind {
				return -1
			}
			return 1
		}
		if x.id < y.id {
			return -1
		} else if x.id > y.id {
			return 1
		}
		return 0
	}
	a, b = slices.Clone(a), slices.Clone(b)
	slices.SortFunc(a, less)
	slices.SortFunc(b, less)
	return slices.Equal(a, b)
}

func TestLocalBase(t *testing.T) {
	for in, want := range map[string]string{"x;1": "x", "x;2": "x", "a;b;2": "a;b", "x;3": "", "x": "", ";2": "", "x2": ""} {
		got, ok := localBase(in)
		if got != want || ok != (want != "") {
			t.Errorf("localBase(%q) = %q, %v; want %q", in, got, ok, want)
		}
	}
}

func TestDialogTable(t *testing.T) {
	m := newMetrics()
	tab := newDialogTable(m.bindings)
	now := time.Now()
	ch := resKey{"channel", "c1"}

	if d := tab.lookup([]resKey{ch}); d != nil {
		t.Fatalf("empty table: %v", d)
	}
	fresh, gen := tab.bind(ch, "d1", false, now)
	if !fresh {
		t.Fatal("first bind not fresh")
	}
	if again, g2 := tab.bind(ch, "d1", false, now); again || g2 != gen {
		t.Fatal("second bind of the same pair is fresh or changed gen")
	}
	tab.bind(ch, "d2", false, now)
	tab.bind(resKey{"bridge", "b1"}, "d1", false, now)
	if tab.len() != 3 {
		t.Fatalf("len = %d, want 3", tab.len())
	}
	if got := tab.lookup([]resKey{ch, {"bridge", "b1"}}); !slices.Equal(got, []string{"d1", "d2"}) {
		t.Fatalf("lookup = %v", got)
	}
	// Local channel halves go with the pair's bindings.
	if got := tab.lookup([]resKey{{"channel", "c1;2"}}); !slices.Equal(got, []string{"d1", "d2"}) {
		t.Fatalf("lookup of ;2 half = %v", got)
	}
	// A rollback with a stale generation must not remove a newer binding.
	tab.unbind(ch, "d1")
	_, gen2 := tab.bind(ch, "d1", false, now)
	tab.unbindGen(ch, "d1", gen)
	if got := tab.lookup([]resKey{ch}); !slices.Contains(got, "d1") {
		t.Fatal("stale unbindGen removed a newer binding")
	}
	tab.unbindGen(ch, "d1", gen2)
	tab.release(ch)
	if got := tab.lookup([]resKey{ch}); got != nil {
		t.Fatalf("after release: %v", got)
	}
	tab.unbindDialog("d1")
	if tab.len() != 0 || len(tab.byRes) != 0 || len(tab.byDialog) != 0 {
		t.Fatalf("not empty: len %d, %v, %v", tab.len(), tab.byRes, tab.byDialog)
	}

	// Staged bindings expire unless an event used them or a real call re-bound them.
	tab.bind(resKey{"playback", "p1"}, "d", true, now.Add(-time.Hour))
	tab.bind(resKey{"playback", "p2"}, "d", true, now.Add(-time.Hour))
	tab.bind(resKey{"playback", "p3"}, "d", true, now.Add(-time.Hour))
	tab.bind(resKey{"playback", "p3"}, "d", false, now)
	tab.lookup([]resKey{{"playback", "p2"}})
	if n := tab.sweepStaged(now.Add(-time.Minute)); n != 1 || tab.len() != 2 {
		t.Fatalf("sweepStaged removed %d, len %d; want 1, 2", n, tab.len())
	}
	// A create that timed out is doubted: it expires like a staged one.
	_, g := tab.bind(resKey{"channel", "timed-out"}, "d", false, now.Add(-time.Hour))
	tab.markStaged(resKey{"channel", "timed-out"}, "d", g)
	if n := tab.sweepStaged(now.Add(-time.Minute)); n != 1 || tab.len() != 2 {
		t.Fatalf("sweepStaged of a doubted binding removed %d, len %d; want 1, 2", n, tab.len())
	}

	// releaseMissing spares young bindings and present resources.
	tab.clear()
	tab.bind(resKey{"channel", "old-gone"}, "d", false, now.Add(-time.Hour))
	tab.bind(resKey{"channel", "old-here"}, "d", false, now.Add(-time.Hour))
	tab.bind(resKey{"channel", "young"}, "d", false, now)
	tab.bind(resKey{"bridge", "old-gone"}, "d", false, now.Add(-time.Hour))
	n := tab.releaseMissing("channel", map[string]bool{"old-here": true}, now.Add(-time.Minute))
	if n != 1 || tab.len() != 3 {
		t.Fatalf("releaseMissing removed %d, len %d; want 1, 3", n, tab.len())
	}
	// releaseGen spares bindings made after the release was decided.
	b := resKey{"bridge", "old-gone"}
	g = tab.currentGen()
	tab.bind(b, "d-new", false, now)
	tab.releaseGen(b, g)
	if got := tab.lookup([]resKey{b}); !slices.Equal(got, []string{"d-new"}) {
		t.Fatalf("releaseGen: %v", got)
	}
	tab.clear()
	if tab.len() != 0 {
		t.Fatalf("clear: len %d", tab.len())
	}
}

// FuzzEventRouting feeds arbitrary bytes to the event routing decode and
// the splice: neither may panic, and a splice of an object stays JSON.
func FuzzEventRouting(f *testing.F) {
	for _, s := range []string{
		`{"type":"StasisStart","application":"demo","asterisk_id":"02:fc","channel":{"id":"c1"}}`,
		`{"type":"PlaybackFinished","playback":{"id":"p","target_uri":"channel:c"}}`,
		`{"type":"Dial","peer":{"id":"x;2"},"caller":null}`,
		`{}`, ` {"a":[1,{"b":"}"}]} `, `[]`, `"x"`, `{"type":1}`, `{"channel":"notobject"}`, ``,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		var h eventHead
		if err := json.Unmarshal(raw, &h); err == nil {
			h.resources(nil)
			h.destroyed()
		}
		out := spliceFields(raw, "dialog", "d")
		if out != nil && json.Valid(raw) && !json.Valid(out) {
			t.Fatalf("splice of valid %q gave invalid %q", raw, out)
		}
	})
}

// benchStasis is a StasisStart as Asterisk 22 sends it (transcripts/bridge.jsonl).
var benchStasis = []byte(`{"type":"StasisStart","timestamp":"2026-11-22T02:39:37.053+0000","args":["alpha","beta"],"channel":{"id":"leg-a","name":"Local/echo@default-0000000e;1","state":"Up","protocol_id":"","caller":{"name":"Alice","number":"1001"},"connected":{"name":"Alice","number":"1001"},"accountcode":"","dialplan":{"context":"default","exten":"echo","priority":1,"app_name":"Stasis","app_data":"demo,alpha,beta"},"creationtime":"2026-11-22T02:39:37.052+0000","language":"en"},"asterisk_id":"02:fc:00:00:00:01","application":"demo"}`)

// BenchmarkEventHead: what routing an event to dialogs costs (the path
// taken while some dialog is bound): its top members and the resources it
// names, read from the spec's members without decoding the event.
func BenchmarkEventHead(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		var h eventHead
		if err := h.UnmarshalJSON(benchStasis); err != nil {
			b.Fatal(err)
		}
		var buf [8]resKey
		if len(h.resources(buf[:0])) != 1 {
			b.Fatal("want one resource")
		}
	}
}

// TestDialogTableShrinks: after a burst of calls the emptied table starts
// with new maps (Go maps never shrink), and works as before.
func TestDialogTableShrinks(t *testing.T) {
	tab := newDialogTable(nil)
	now := time.Now()
	n := shrinkAfter + 10
	for i := range n {
		tab.bind(resKey{"channel", fmt.Sprint("c", i)}, fmt.Sprint("d", i), false, now)
	}
	if tab.peak != n {
		t.Fatalf("peak %d, want %d", tab.peak, n)
	}
	for i := range n {
		tab.unbindDialog(fmt.Sprint("d", i))
	}
	if tab.len() != 0 || tab.peak != 0 {
		t.Fatalf("after the burst: len %d, peak %d; want 0, 0 (maps made anew)", tab.len(), tab.peak)
	}
	ch := resKey{"channel", "again"}
	tab.bind(ch, "d", false, now)
	if got := tab.lookup([]resKey{ch}); !slices.Equal(got, []string{"d"}) {
		t.Fatalf("lookup after shrinking: %v", got)
	}
}
