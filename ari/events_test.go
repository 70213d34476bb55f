package ari

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

// checkEvent decodes raw, which must be a known event type, and checks the
// decode/encode round trip is lossless.
func checkEvent(t *testing.T, where string, raw []byte) {
	t.Helper()
	ev, err := DecodeEvent(raw)
	if err != nil {
		t.Errorf("%s: %v", where, err)
		return
	}
	if _, unknown := ev.(*UnknownEvent); unknown {
		t.Errorf("%s: unknown event type %s", where, ev.EventType())
		return
	}
	var probe struct{ Type string }
	_ = json.Unmarshal(raw, &probe)
	if ev.EventType() != probe.Type || ev.Base().Type != probe.Type {
		t.Errorf("%s: EventType %s, Base().Type %s, want %s", where, ev.EventType(), ev.Base().Type, probe.Type)
	}
	if ev.Base().Application == "" || ev.Base().Timestamp == "" {
		t.Errorf("%s: base not decoded: %+v", where, ev.Base())
	}
	if _, err := ParseTime(ev.Base().Timestamp); err != nil {
		t.Errorf("%s: %v", where, err)
	}
	if !bytes.Equal(ev.RawJSON(), raw) {
		t.Errorf("%s: RawJSON differs from the input", where)
	}
	out, err := json.Marshal(ev)
	if err != nil {
		t.Errorf("%s: marshal: %v", where, err)
		return
	}
	if !jsonEqual(t, out, raw) {
		t.Errorf("%s: round trip differs\n got %s\nwant %s", where, out, raw)
	}
}

func TestDecodeSampleEvents(t *testing.T) {
	f, err := os.Open("testdata/events.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	n := 0
	for sc.Scan() {
		n++
		checkEvent(t, "testdata line "+itoa(n), bytes.Clone(sc.Bytes()))
	}
	if n < 10 {
		t.Fatalf("only %d sample events", n)
	}
}

func TestDecodeTranscriptEvents(t *testing.T) {
	n := 0
	for file, lines := range transcripts(t) {
		for _, l := range lines {
			if l.Kind == "event" {
				n++
				checkEvent(t, file+"#"+itoa(l.Seq), l.Body)
			}
		}
	}
	if n == 0 {
		t.Fatal("no events in the transcripts")
	}
}

// TestDecodeTranscriptResponses decodes every successful response body into
// the model its operation's responseClass names and checks the round trip.
func TestDecodeTranscriptResponses(t *testing.T) {
	n := 0
	for file, lines := range transcripts(t) {
		for _, l := range lines {
			if l.Kind != "response" || l.Status/100 != 2 || len(l.Body) == 0 {
				continue
			}
			op, _, _, _ := Route(l.Method, l.Path)
			if op == nil {
				t.Errorf("%s#%d: %s %s does not route", file, l.Seq, l.Method, l.Path)
				continue
			}
			class, list := strings.CutPrefix(op.ResponseClass, "List[")
			class = strings.TrimSuffix(class, "]")
			mk := modelTypes[class]
			if mk == nil {
				t.Errorf("%s#%d: %s: no model %s", file, l.Seq, op.ID, class)
				continue
			}
			n++
			var v any = mk()
			if list {
				v = reflect.New(reflect.SliceOf(reflect.TypeOf(v).Elem())).Interface()
			}
			if err := json.Unmarshal(l.Body, v); err != nil {
				t.Errorf("%s#%d: %s: %v", file, l.Seq, op.ID, err)
				continue
			}
			out, err := json.Marshal(v)
			if err != nil {
				t.Errorf("%s#%d: %s: %v", file, l.Seq, op.ID, err)
			} else if !jsonEqual(t, out, l.Body) {
				t.Errorf("%s#%d: %s: round trip differs\n got %s\nwant %s", file, l.Seq, op.ID, out, l.Body)
			}
		}
	}
	if n == 0 {
		t.Fatal("no model responses in the transcripts")
	}
}

func itoa(n int) string {
	b, _ := json.Marshal(n)
	return string(b)
}

func TestDecodeEventErrors(t *testing.T) {
	for _, in := range []string{
		``, `{`, `null`, `[]`, `"StasisStart"`, `{}`, `{"type":""}`, `{"type":5}`, `{"type":null}`,
		`{"type":"StasisStart","channel":"not an object"}`,
		`{"type":"ChannelDestroyed","cause":"sixteen"}`,
		`{"type":"Unknown","application":7}`,
		`{"type":"StasisStart"} trailing`,
	} {
		ev, err := DecodeEvent([]byte(in))
		if !errors.Is(err, ErrInvalidEvent) || ev != nil {
			t.Errorf("DecodeEvent(%s) = %v, %v; want ErrInvalidEvent", in, ev, err)
		}
	}
}

func TestUnknownEvent(t *testing.T) {
	raw := []byte(`{"type":"FutureEvent","application":"demo","timestamp":"2026-11-22T02:39:35.083+0000","future":{"a":[1,2]},"asterisk_id":"x"}`)
	ev, err := DecodeEvent(raw)
	if err != nil {
		t.Fatal(err)
	}
	u, ok := ev.(*UnknownEvent)
	if !ok || u.EventType() != "FutureEvent" || u.Base().Application != "demo" || u.AsteriskID != "x" {
		t.Fatalf("got %#v", ev)
	}
	out, err := json.Marshal(u)
	if err != nil || !jsonEqual(t, out, raw) {
		t.Errorf("round trip: %s, %v", out, err)
	}
	if !bytes.Equal(u.RawJSON(), raw) {
		t.Error("RawJSON differs")
	}
}

// TestLossless: unknown members survive at every level, known members that
// change are written as changed, zero values and nulls keep their form.
func TestLossless(t *testing.T) {
	raw := []byte(`{"type":"StasisStart","timestamp":"2026-11-22T02:39:35.084+0000","args":[],"extra":{"k":[1,"2",null]},
		"channel":{"id":"c1","name":"Local/x","state":"Up","protocol_id":"","caller":{"name":"","number":"","x":1},
		"connected":{"name":"","number":""},"accountcode":"","dialplan":{"context":"default","exten":"s","priority":1,"app_name":"","app_data":""},
		"creationtime":"2026-11-22T02:39:35.083+0000","language":"en","future_field":true,"tenantid":""},
		"replace_channel":null,"asterisk_id":"02:fc:00:00:00:01","application":"demo"}`)
	ev, err := DecodeEvent(raw)
	if err != nil {
		t.Fatal(err)
	}
	ss := ev.(*StasisStart)
	if ss.Channel.ID != "c1" || ss.Channel.Dialplan.Priority != 1 || ss.ReplaceChannel != nil || ss.Args == nil {
		t.Fatalf("decoded %+v", ss)
	}
	out, err := json.Marshal(ss)
	if err != nil || !jsonEqual(t, out, raw) {
		t.Fatalf("round trip: %s, %v", out, err)
	}

	// Changes are honoured, unknown members kept.
	ss.Channel.Name = "Local/y"
	ss.Channel.Language = "" // cleared: written as ""
	ss.Channel.Tenantid = "t1"
	ss.Channel.Caller.Number = "1001"
	ss.Application = "other"
	ss.Args = nil // still empty: keeps its raw form []
	out, err = json.Marshal(ss)
	if err != nil {
		t.Fatal(err)
	}
	var got map[string]any
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatal(err)
	}
	ch := got["channel"].(map[string]any)
	checks := []struct {
		name      string
		got, want any
	}{
		{"application", got["application"], "other"},
		{"extra", got["extra"], map[string]any{"k": []any{1.0, "2", nil}}},
		{"args", got["args"], []any{}},
		{"channel.name", ch["name"], "Local/y"},
		{"channel.language", ch["language"], ""},
		{"channel.tenantid", ch["tenantid"], "t1"},
		{"channel.future_field", ch["future_field"], true},
		{"channel.caller", ch["caller"], map[string]any{"name": "", "number": "1001", "x": 1.0}},
	}
	for _, c := range checks {
		if !reflect.DeepEqual(c.got, c.want) {
			t.Errorf("%s = %#v, want %#v", c.name, c.got, c.want)
		}
	}
	if _, ok := got["replace_channel"]; !ok {
		t.Error("replace_channel: null dropped")
	}

	// A cleared optional member that had a value is left out.
	ss.Channel.Tenantid = ""
	ss.AsteriskID = ""
	out, _ = json.Marshal(ss)
	got = nil
	_ = json.Unmarshal(out, &got)
	if _, ok := got["asterisk_id"]; ok {
		t.Errorf("cleared asterisk_id still written: %s", out)
	}
	if _, ok := got["channel"].(map[string]any)["tenantid"]; !ok {
		t.Errorf("tenantid \"\" was in the input and should stay: %s", out)
	}
}

func TestMarshalBuiltInGo(t *testing.T) {
	ev := &ChannelDtmfReceived{
		EventBase:  EventBase{Application: "demo", Timestamp: FormatTime(time.Date(2026, 11, 22, 2, 39, 35, 83e6, time.UTC))},
		Digit:      "5",
		DurationMS: 100,
		Channel:    Channel{ID: "c1"},
	}
	out, err := json.Marshal(ev)
	if err != nil {
		t.Fatal(err)
	}
	back, err := DecodeEvent(out)
	if err != nil {
		t.Fatal(err)
	}
	got := back.(*ChannelDtmfReceived)
	if got.Type != "ChannelDtmfReceived" || got.Digit != "5" || got.Channel.ID != "c1" || got.Timestamp != "2026-11-22T02:39:35.083+0000" {
		t.Errorf("got %s", out)
	}
	if strings.Contains(string(out), "asterisk_id") {
		t.Errorf("omitempty not applied: %s", out)
	}
	// A model built in Go marshals plainly.
	out, err = json.Marshal(Mailbox{Name: "mb", NewMessages: 2})
	if err != nil || string(out) != `{"name":"mb","old_messages":0,"new_messages":2}` {
		t.Errorf("Mailbox = %s, %v", out, err)
	}
}

func TestEventTypes(t *testing.T) {
	types := EventTypes()
	if len(types) != 45 || !slices.IsSorted(types) {
		t.Fatalf("EventTypes() = %d %v", len(types), types)
	}
	for _, want := range []string{"StasisStart", "StasisEnd", "ChannelDestroyed", "Dial", "PlaybackFinished", "RESTResponse", "ChannelTransfer", "CallClaimed", "ApplicationReplaced"} {
		if !slices.Contains(types, want) {
			t.Errorf("missing %s", want)
		}
	}
	for _, typ := range types {
		ev, err := DecodeEvent([]byte(`{"type":"` + typ + `","application":"a","timestamp":"t"}`))
		if err != nil || ev.EventType() != typ {
			t.Errorf("%s: %v %v", typ, ev, err)
		}
	}
	if slices.Contains(types, "MissingParams") || slices.Contains(types, "Event") {
		t.Error("non-event types listed")
	}
}

func TestParseTime(t *testing.T) {
	want := time.Date(2026, 11, 22, 2, 39, 35, 83e6, time.UTC)
	for _, s := range []string{"2026-11-22T02:39:35.083+0000", "2026-11-22T03:39:35.083+0100", "2026-11-22T02:39:35.083Z", "2026-11-22T02:39:35.083+00:00"} {
		got, err := ParseTime(s)
		if err != nil || !got.Equal(want) {
			t.Errorf("ParseTime(%s) = %v, %v", s, got, err)
		}
	}
	if got, err := ParseTime("2026-11-22T02:39:35+0000"); err != nil || !got.Equal(want.Truncate(time.Second)) {
		t.Errorf("no fraction: %v %v", got, err)
	}
	if _, err := ParseTime("yesterday"); err == nil {
		t.Error("ParseTime(yesterday) succeeded")
	}
	if s := FormatTime(want); s != "2026-11-22T02:39:35.083+0000" {
		t.Errorf("FormatTime = %s", s)
	}
}

func FuzzDecodeEvent(f *testing.F) {
	data, err := os.ReadFile("testdata/events.jsonl")
	if err != nil {
		f.Fatal(err)
	}
	for line := range bytes.Lines(data) {
		f.Add(bytes.TrimSpace(line))
	}
	for _, s := range []string{`{"type":"X"}`, `{"type":"StasisStart","channel":null}`, `{"type":"Dial","peer":{"caller":{"x":[]}}}`, `{}`, `[`, `{"type":"StasisStart","type":"Dial"}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		ev, err := DecodeEvent(in)
		if err != nil {
			if ev != nil {
				t.Fatal("event with error")
			}
			return
		}
		out, err := json.Marshal(ev)
		if err != nil {
			t.Fatalf("marshal of a decoded event: %v", err)
		}
		again, err := DecodeEvent(out)
		if err != nil {
			t.Fatalf("re-decode of %s: %v", out, err)
		}
		if again.EventType() != ev.EventType() {
			t.Fatalf("type %s became %s", ev.EventType(), again.EventType())
		}
	})
}

func TestKnownEventType(t *testing.T) {
	for _, tt := range []struct {
		in string
		ok bool
	}{{"StasisStart", true}, {"ChannelUserevent", true}, {"stasisstart", false}, {"", false}, {"NoSuchEvent", false}} {
		got, ok := KnownEventType(strings.Clone(tt.in))
		if ok != tt.ok || (ok && got != tt.in) {
			t.Errorf("KnownEventType(%q) = %q, %v; want ok %v", tt.in, got, ok, tt.ok)
		}
	}
}
