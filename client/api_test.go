package client

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/ariproxy/ari-proxy/ari"
	"github.com/ariproxy/ari-proxy/arisim"
	"github.com/ariproxy/ari-proxy/wire"
)

// TestErrorsFromClientPackage: a reply error is a *client.Error with the
// ARI status, code and detail, matching the client's sentinels.
func TestErrorsFromClientPackage(t *testing.T) {
	e := newEnv(t, 1, arisim.Config{TimeScale: 0.01})
	c := e.client(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err := c.Channel("no-such-channel").Get(ctx)
	var ce *Error
	if !errors.As(err, &ce) {
		t.Fatalf("error %v (%T) is no *client.Error", err, err)
	}
	if ce.Code != CodeNotFound || ce.Status != 404 || ce.Detail == "" || ce.Node != nodeID(0) || !errors.Is(err, ErrNotFound) {
		t.Errorf("error %+v", ce)
	}
	_, err = c.Do(ctx, ari.OpChannelsGet, Key{Kind: "channel", ID: "no-such-channel"}, nil)
	if !errors.As(err, &ce) || ce.Code != CodeNotFound {
		t.Errorf("Do: %v", err)
	}
	r, err := c.Do(ctx, ari.OpAsteriskGetInfo, Key{}, nil)
	if err != nil || r.Node != nodeID(0) {
		t.Fatalf("Do: %+v %v", r, err)
	}
	if _, ok := r.Entity("asterisk"); !ok {
		t.Errorf("Do reply data %s", r.Data)
	}
	if (&Error{Code: CodeNotImplemented}).Is(ErrNotImplemented) != true {
		t.Error("CodeNotImplemented does not match ErrNotImplemented")
	}
}

// recorder is a slog handler that keeps what it gets.
type recorder struct {
	mu    sync.Mutex
	lines []string
}

func (r *recorder) Enabled(context.Context, slog.Level) bool { return true }
func (r *recorder) Handle(_ context.Context, rec slog.Record) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.lines = append(r.lines, rec.Message)
	return nil
}
func (r *recorder) WithAttrs([]slog.Attr) slog.Handler { return r }
func (r *recorder) WithGroup(string) slog.Handler      { return r }

// TestQuietByDefault: without WithLogger the client logs nothing, not
// even through slog's default logger (connecting, failing requests,
// closing).
func TestQuietByDefault(t *testing.T) {
	e := newEnv(t, 1, arisim.Config{TimeScale: 0.01})
	rec := &recorder{}
	prev := slog.Default()
	slog.SetDefault(slog.New(rec))
	defer slog.SetDefault(prev)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := New(ctx, WithURL(e.url), WithPrefix(e.prefix), WithApplication(e.app))
	if err != nil {
		t.Fatal(err)
	}
	_, _ = c.Channel("nope").Get(ctx)
	_, _ = c.WithApplication("nobody").Asterisk().Ping(ctx)
	c.Close()
	rec.mu.Lock()
	defer rec.mu.Unlock()
	if len(rec.lines) > 0 {
		t.Errorf("the client logged without a logger: %q", rec.lines)
	}
}

// TestSubscribeUnknownType: a misspelt event type is an error, not a
// filter matching nothing.
func TestSubscribeUnknownType(t *testing.T) {
	e := newEnv(t, 1, arisim.Config{TimeScale: 0.01})
	c := e.client(t)
	ctx := context.Background()
	if _, err := c.Subscribe(ctx, "StasisStrat"); !errors.Is(err, ErrBadRequest) {
		t.Errorf("Subscribe: %v", err)
	}
	if _, err := c.Channel("x").Subscribe(ctx, ari.TypeStasisStart, "ChannelHungup"); !errors.Is(err, ErrBadRequest) {
		t.Errorf("handle Subscribe: %v", err)
	}
	s, err := c.Subscribe(ctx, ari.TypeStasisStart, ari.TypeStasisEnd)
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
}

// TestMediaWait: Wait returns when a playback finishes, fails with
// ErrPlaybackFailed for media that cannot play; a live recording's Wait
// gives its stored recording on the same node, or ErrRecordingFailed.
func TestMediaWait(t *testing.T) {
	e := newEnv(t, 2, arisim.Config{TimeScale: 0.01})
	c := e.client(t)
	st := watchStasis(t, c)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	ch := originate(t, c, st, newID("media"))
	if err := ch.Answer(ctx); err != nil {
		t.Fatal(err)
	}
	if err := ch.PlayAndWait(ctx, "sound:hello-world", "sound:demo-congrats"); err != nil {
		t.Errorf("PlayAndWait: %v", err)
	}
	if err := ch.PlayAndWait(ctx, "sound:no-such-sound-anywhere"); !errors.Is(err, ErrPlaybackFailed) {
		t.Errorf("PlayAndWait of a missing sound: %v, want ErrPlaybackFailed", err)
	}
	// A playback already over counts as finished.
	pb, err := ch.Play(ctx, &ChannelPlayParams{Media: []string{"sound:beep"}})
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(100 * time.Millisecond)
	if err := pb.Wait(ctx); err != nil {
		t.Errorf("Wait after the end: %v", err)
	}

	rec, err := ch.Record(ctx, &ChannelRecordParams{Name: newID("rec"), Format: "wav", MaxDurationSeconds: 1})
	if err != nil {
		t.Fatal(err)
	}
	if rec.Key().Node == "" {
		t.Errorf("live recording handle not located: %+v", rec.Key())
	}
	stored, err := rec.Wait(ctx)
	if err != nil {
		t.Fatalf("recording Wait: %v", err)
	}
	if stored.ID() != rec.ID() || stored.Key().Node != rec.Key().Node || stored.Key().Kind != "storedrecording" {
		t.Errorf("stored %+v from live %+v", stored.Key(), rec.Key())
	}
	if _, err := stored.GetStored(ctx); err != nil {
		t.Errorf("stored recording: %v", err)
	}

	// Recording a channel in a bridge fails.
	// On the channel's node: a bridge created anywhere may be on another.
	br, err := c.WithNode(ch.Key().Node).Bridges().Create(ctx, &BridgesCreateParams{Type: "mixing"})
	if err != nil {
		t.Fatal(err)
	}
	if err := br.AddChannel(ctx, &BridgeAddChannelParams{Channel: []string{ch.ID()}}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(50 * time.Millisecond)
	rec2, err := ch.Record(ctx, &ChannelRecordParams{Name: newID("rec"), Format: "wav"})
	if err == nil {
		if _, err := rec2.Wait(ctx); !errors.Is(err, ErrRecordingFailed) {
			t.Errorf("recording in a bridge: %v, want ErrRecordingFailed", err)
		}
	}
}

// TestViews: WithNode and WithDialog views share the connection; closing
// one releases its own subscriptions only.
func TestViews(t *testing.T) {
	e := newEnv(t, 2, arisim.Config{TimeScale: 0.01})
	c := e.client(t)
	sn := sniff(t, e.url, e.prefix)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()

	n2 := c.WithNode(nodeID(1))
	if n2.Bus() != c.Bus() {
		t.Fatal("the view has its own connection")
	}
	ch, err := n2.Channels().Originate(ctx, &ChannelsOriginateParams{Endpoint: "Local/echo@default", App: e.app})
	if err != nil {
		t.Fatal(err)
	}
	if ch.Key().Node != nodeID(1) {
		t.Errorf("created on %s", ch.Key().Node)
	}
	if _, err := n2.Channel(ch.ID()).Get(ctx); err != nil {
		t.Fatal(err)
	}
	subj := wire.NewSubjects(e.prefix).Request(wire.ClassData, e.app, nodeID(1))
	waitFor(t, "sniffer", func() bool { return len(sn.subjectsOf("ChannelData", ch.ID())) == 1 })
	if got := sn.subjectsOf("ChannelData", ch.ID()); got[0] != subj {
		t.Errorf("pinned get went to %v", got)
	}

	dialog := NewDialogID()
	dv := c.WithDialog(dialog)
	dsub, err := dv.DialogEvents(ctx, dialog)
	if err != nil {
		t.Fatal(err)
	}
	csub, err := c.Subscribe(ctx, ari.TypeChannelVarset)
	if err != nil {
		t.Fatal(err)
	}
	nsub, err := n2.Subscribe(ctx, ari.TypeChannelVarset)
	if err != nil {
		t.Fatal(err)
	}
	if err := dv.Channel(ch.ID()).SetChannelVar(ctx, &ChannelSetChannelVarParams{Variable: "X", Value: "1"}); err != nil {
		t.Fatal(err)
	}
	for _, s := range []*Subscription{dsub, csub, nsub} {
		for ev := recv(t, s, 5*time.Second); ev.EventType() != ari.TypeChannelVarset; ev = recv(t, s, 5*time.Second) {
		}
	}
	if err := dv.Close(); err != nil {
		t.Fatal(err)
	}
	drained(t, dsub)
	if err := n2.Close(); err != nil {
		t.Fatal(err)
	}
	drained(t, nsub)
	// The root and its subscription live on.
	if err := c.Channel(ch.ID()).SetChannelVar(ctx, &ChannelSetChannelVarParams{Variable: "X", Value: "2"}); err != nil {
		t.Fatal(err)
	}
	if ev := recv(t, csub, 5*time.Second); ev.EventType() != ari.TypeChannelVarset {
		t.Errorf("root subscription got %s", ev.EventType())
	}
	if _, err := n2.Channel(ch.ID()).Get(ctx); !errors.Is(err, ErrClosed) {
		t.Errorf("request on a closed view: %v", err)
	}
}

// TestHandlesLocated: every handle from a list, a get, a create or a
// derived operation carries its node, so its next request goes to that
// node's subject only.
func TestHandlesLocated(t *testing.T) {
	e := newEnv(t, 2, arisim.Config{TimeScale: 0.01})
	c := e.client(t)
	st := watchStasis(t, c)
	sn := sniff(t, e.url, e.prefix)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()

	ch := originate(t, c, st, newID("loc"))
	var handles []interface{ Key() Key }
	handles = append(handles, ch)
	list, err := c.Channels().List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, h := range list {
		handles = append(handles, h)
	}
	br, err := c.Bridges().Create(ctx, &BridgesCreateParams{Type: "mixing"})
	if err != nil {
		t.Fatal(err)
	}
	br2, err := c.Bridge(newID("br")).CreateWithID(ctx, &BridgeCreateWithIDParams{Type: "mixing"})
	if err != nil {
		t.Fatal(err)
	}
	pb, err := br.Play(ctx, &BridgePlayParams{Media: []string{"sound:hello-world"}})
	if err != nil {
		t.Fatal(err)
	}
	pb2, err := ch.PlayWithID(ctx, &ChannelPlayWithIDParams{PlaybackID: newID("pb"), Media: []string{"sound:hello-world"}})
	if err != nil {
		t.Fatal(err)
	}
	snoop, err := ch.SnoopChannel(ctx, &ChannelSnoopChannelParams{App: e.app, Spy: "in"})
	if err != nil {
		t.Fatal(err)
	}
	snoop2, err := ch.SnoopChannelWithID(ctx, &ChannelSnoopChannelWithIDParams{SnoopID: newID("snoop"), App: e.app, Spy: "in"})
	if err != nil {
		t.Fatal(err)
	}
	rec, err := ch.Record(ctx, &ChannelRecordParams{Name: newID("rec"), Format: "wav", MaxDurationSeconds: 1})
	if err != nil {
		t.Fatal(err)
	}
	handles = append(handles, br, br2, pb, pb2, snoop, snoop2, rec, rec.Stored())
	for _, h := range handles {
		if h.Key().Node == "" || h.Key().App != e.app || h.Key().ID == "" {
			t.Errorf("handle %T not located: %+v", h, h.Key())
		}
	}
	if ch.Key().Node == "" {
		t.FailNow()
	}
	// The next request of a located handle goes to its node only.
	if _, err := snoop.Get(ctx); err != nil {
		t.Fatal(err)
	}
	want := wire.NewSubjects(e.prefix).Request(wire.ClassData, e.app, snoop.Key().Node)
	waitFor(t, "sniffer", func() bool { return len(sn.subjectsOf("ChannelData", snoop.ID())) == 1 })
	if got := sn.subjectsOf("ChannelData", snoop.ID()); got[0] != want {
		t.Errorf("request of a snoop handle went to %v, want %s", got, want)
	}
}

// TestEventCopies: the copy of an event delivered to another application
// is dropped, an event repeated for the same application is not.
func TestEventCopies(t *testing.T) {
	s := &Subscription{}
	demo := []byte(`{"dialog":"d","type":"ChannelDtmfReceived","digit":"4","application":"demo","timestamp":"t1"}`)
	caller := []byte(`{"dialog":"d","type":"ChannelDtmfReceived","digit":"4","application":"caller","timestamp":"t1"}`)
	if s.seenCopy(demo) || !s.seenCopy(caller) {
		t.Error("the copy for another application was not recognised")
	}
	if s.seenCopy(demo) {
		t.Error("an event repeated for its application was dropped")
	}
}
