package wire

import (
	"errors"
	"testing"

	"github.com/oklog/ulid/v2"
)

// TestCreatedIDParam: the parameter a generated id goes into, per kind.
func TestCreatedIDParam(t *testing.T) {
	for kind, want := range map[string]string{
		"ChannelOriginate": "channelId", "ChannelCreate": "channelId", "ChannelExternalMedia": "channelId",
		"ChannelSnoop": "snoopId", "ChannelStageSnoop": "snoopId", "ChannelPlay": "playbackId", "BridgePlay": "playbackId",
		"BridgeCreate": "bridgeId", "ChannelRecord": "name", "channels.originateWithId": "channelId", "BridgeStagePlay": "playbackId",
	} {
		k, ok := LookupKind(kind)
		if !ok {
			t.Errorf("kind %s missing", kind)
			continue
		}
		if got := k.CreatedIDParam(); got != want {
			t.Errorf("CreatedIDParam(%s) = %q, want %q", kind, got, want)
		}
	}
}

// TestDecode: the server's decode step per kind: the id a create gets
// (the client's, else a fresh ULID, "" counting as absent), the dialog
// targets, the errors.
func TestDecode(t *testing.T) {
	isULID := func(s string) bool { _, err := ulid.ParseStrict(s); return err == nil }
	tests := []struct {
		name    string
		req     string
		param   string // where the id must be
		given   string // the id the request chose ("": the server assigns one)
		created string // kind of Created ("": none)
		touched Ref
		absent  string // a parameter that must stay unset
		err     error
	}{
		{name: "originate", req: `{"kind":"ChannelOriginate","key":{"dialog":"d"},"channel_originate":{"originate_request":{"endpoint":"Local/x","channelId":""}}}`,
			param: "channelId", created: "channel"},
		{name: "originate with id", req: `{"kind":"ChannelOriginate","key":{},"channel_originate":{"originate_request":{"endpoint":"Local/x","channelId":"mine"}}}`,
			param: "channelId", given: "mine", created: "channel"},
		{name: "create", req: `{"kind":"ChannelCreate","key":{},"channel_create":{"channel_create_request":{"endpoint":"Local/x","app":"a"}}}`, param: "channelId", created: "channel"},
		{name: "snoop", req: `{"kind":"ChannelSnoop","key":{"kind":"channel","id":"c1","dialog":"d"},"channel_snoop":{"snoop_id":"","options":{"app":"a"}}}`,
			param: "snoopId", created: "channel", touched: Ref{"channel", "c1"}},
		{name: "external media", req: `{"kind":"ChannelExternalMedia","key":{},"channel_external_media":{"options":{"app":"a","external_host":"h:1","format":"ulaw"}}}`, param: "channelId", created: "channel"},
		{name: "bridge", req: `{"kind":"BridgeCreate","key":{},"bridge_create":{"type":"mixing"}}`, param: "bridgeId", created: "bridge"},
		{name: "bridge with key id", req: `{"kind":"BridgeCreate","key":{"kind":"bridge","id":"b1"}}`, param: "bridgeId", given: "b1", created: "bridge"},
		{name: "play", req: `{"kind":"ChannelPlay","key":{"kind":"channel","id":"c1"},"channel_play":{"media_uri":"sound:x"}}`, param: "playbackId", created: "playback", touched: Ref{"channel", "c1"}},
		{name: "stage play", req: `{"kind":"ChannelStagePlay","key":{"kind":"channel","id":"c1","dialog":"d"},"channel_play":{"media_uri":"sound:x"}}`,
			param: "playbackId", created: "playback", touched: Ref{"channel", "c1"}},
		{name: "record, empty name", req: `{"kind":"ChannelRecord","key":{"kind":"channel","id":"c1"},"channel_record":{"name":"","options":{"Format":"wav"}}}`, param: "name", created: "liverecording", touched: Ref{"channel", "c1"}},
		{name: "bridge record, no name", req: `{"kind":"BridgeRecord","key":{"kind":"bridge","id":"b1"},"bridge_record":{"options":{"Format":"wav"}}}`, param: "name", created: "liverecording", touched: Ref{"bridge", "b1"}},
		{name: "generic play", req: `{"kind":"channels.play","key":{"kind":"channel","id":"c1"},"params":{"media":["sound:x"]}}`, param: "playbackId", created: "playback", touched: Ref{"channel", "c1"}},
		{name: "stored copy: required, not invented", req: `{"kind":"RecordingStoredCopy","key":{"kind":"storedrecording","id":"r"}}`, absent: "destinationRecordingName"},
		{name: "originateWithId: path id, not invented", req: `{"kind":"channels.originateWithId","key":{},"params":{"endpoint":"Local/x"}}`, err: ErrBadRequest},
		{name: "unknown kind", req: `{"kind":"ChannelFly","key":{}}`, err: ErrNotImplemented},
		{name: "dialog with a dot", req: `{"kind":"ChannelAnswer","key":{"kind":"channel","id":"c","dialog":"a.b"}}`, err: ErrBadRequest},
		{name: "unbind without dialog", req: `{"kind":"DialogUnbind","key":{"kind":"channel","id":"c"}}`, err: ErrBadRequest},
		{name: "unbind id without kind", req: `{"kind":"DialogUnbind","key":{"id":"c","dialog":"d"}}`, err: ErrBadRequest},
		{name: "answer touches its channel", req: `{"kind":"ChannelAnswer","key":{"kind":"channel","id":"c","dialog":"d"}}`, touched: Ref{"channel", "c"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, err := DecodeRequest([]byte(tt.req))
			if err != nil {
				t.Fatal(err)
			}
			c, err := Decode(req, "app")
			if tt.err != nil {
				if !errors.Is(err, tt.err) {
					t.Fatalf("err %v, want %v", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if tt.absent != "" && c.Params[tt.absent] != nil {
				t.Fatalf("%s = %v, want it unset", tt.absent, c.Params[tt.absent])
			}
			if tt.param != "" {
				id, _ := c.Params[tt.param].(string)
				if tt.given != "" && id != tt.given || tt.given == "" && !isULID(id) {
					t.Fatalf("%s = %q, want %q or a ULID", tt.param, id, tt.given)
				}
				if c.ResultID != id {
					t.Fatalf("ResultID %q, want %q", c.ResultID, id)
				}
			}
			if (c.Created.ID != "") != (tt.created != "") || c.Created.ID != "" && (c.Created.Kind != tt.created || c.Created.ID != c.ResultID) {
				t.Fatalf("Created %+v, want kind %q with the result id", c.Created, tt.created)
			}
			if c.Touched != tt.touched {
				t.Fatalf("Touched %+v, want %+v", c.Touched, tt.touched)
			}
		})
	}
	// Ids are fresh each time.
	seen := map[string]bool{}
	for range 1000 {
		id := NewID()
		if seen[id] || !isULID(id) {
			t.Fatalf("NewID gave %q twice or not a ULID", id)
		}
		seen[id] = true
	}
}

// TestProbed: what a probe may ask about, on both sides.
func TestProbed(t *testing.T) {
	ch := Key{Kind: "channel", ID: "c1", App: "demo"}
	for _, c := range []struct {
		kind string
		key  Key
		want Ref
	}{
		{"ChannelData", ch, Ref{"channel", "c1"}},
		{"ChannelHold", ch, Ref{"channel", "c1"}},
		{"BridgeData", Key{Kind: "bridge", ID: "b1"}, Ref{"bridge", "b1"}},
		{"ChannelData", Key{Kind: "channel"}, Ref{}},                  // no id
		{"ChannelPlay", ch, Ref{}},                                    // a create: one server takes it
		{"ChannelStagePlay", ch, Ref{}},                               // no ARI call
		{"EndpointData", Key{Kind: "endpoint", ID: "PJSIP/a"}, Ref{}}, // every box may have it
		{"ChannelList", Key{Kind: "channel", App: "demo"}, Ref{}},
	} {
		k, ok := LookupKind(c.kind)
		if !ok {
			t.Fatalf("no kind %s", c.kind)
		}
		if got := k.Probed(c.key); got != c.want {
			t.Errorf("%s %+v: %+v, want %+v", c.kind, c.key, got, c.want)
		}
	}
}
