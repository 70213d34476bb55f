package client

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tidwall/gjson"

	"github.com/ariproxy/ari-proxy/ari"
	"github.com/ariproxy/ari-proxy/arisim"
	"github.com/ariproxy/ari-proxy/bus"
	"github.com/ariproxy/ari-proxy/internal/localstack"
)

// callLog is what one subscriber saw: the event types of each call, in
// the order received.
type callLog struct {
	mu    sync.Mutex
	calls map[string][]string
	n     int
}

func (l *callLog) add(ev ari.Event) {
	id := callOf(ev)
	l.mu.Lock()
	defer l.mu.Unlock()
	l.n++
	if id == "" {
		return
	}
	if l.calls == nil {
		l.calls = map[string][]string{}
	}
	l.calls[id] = append(l.calls[id], ev.EventType())
}

// callOf is the channel an event is about: its channel, or the channel a
// playback targets.
func callOf(ev ari.Event) string {
	b := ev.RawJSON()
	if id := gjson.GetBytes(b, "channel.id").String(); id != "" {
		return id
	}
	if uri := gjson.GetBytes(b, "playback.target_uri").String(); strings.HasPrefix(uri, "channel:") {
		return strings.TrimPrefix(uri, "channel:")
	}
	return ""
}

func (l *callLog) count() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.n
}

// TestLoadNoLoss: two simulated Asterisks run 500 concurrent dialplan
// calls (250 each) of at least 20 events; two client subscribers and a
// raw bus subscriber receive every event of every call, in order per call
// (the raw one checks each subject's sequence numbers are consecutive).
func TestLoadNoLoss(t *testing.T) {
	const perNode, minEvents = 250, 20
	e := newEnv(t, 2, arisim.Config{TimeScale: 0.01})
	var logs [2]callLog
	var hangups sync.WaitGroup
	for i := range logs {
		c := e.client(t)
		sub, err := c.Subscribe(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		go func() {
			for ev := range sub.Events() {
				logs[i].add(ev)
				// The application hangs up each call once its media
				// played: every call has all its events, however slow
				// the machine.
				if f, ok := ev.(*ari.PlaybackFinished); ok && i == 0 {
					id := strings.TrimPrefix(f.Playback.TargetURI, "channel:")
					hangups.Go(func() {
						ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
						defer cancel()
						if err := c.WithNode(f.AsteriskID).Channel(id).Hangup(ctx, nil); err != nil {
							t.Errorf("hangup %s: %v", id, err)
						}
					})
				}
			}
		}()
		t.Cleanup(func() {
			if m := sub.Missed(); m != 0 {
				t.Errorf("subscriber %d missed %d events", i, m)
			}
		})
	}

	// The raw subscriber checks the servers' numbering.
	raw := localstack.Connect(t, e.url)
	var rawMu sync.Mutex
	lastSeq := map[string]uint64{}
	rawN, seqErrs := 0, 0
	rs, err := raw.Subscribe(e.prefix+"event."+e.app+".*", func(m bus.Msg) {
		n, _ := strconv.ParseUint(m.Header[bus.HeaderSeq], 10, 64)
		rawMu.Lock()
		defer rawMu.Unlock()
		rawN++
		if n != lastSeq[m.Subject]+1 {
			seqErrs++
			if seqErrs < 5 {
				t.Errorf("%s: sequence %d after %d", m.Subject, n, lastSeq[m.Subject])
			}
		}
		lastSeq[m.Subject] = n
	})
	if err != nil {
		t.Fatal(err)
	}
	defer rs.Unsubscribe()
	_ = raw.Conn().Flush()

	media := make([]string, 9)
	for i := range media {
		media[i] = "sound:beep"
	}
	start := time.Now()
	var wg sync.WaitGroup
	for _, sim := range e.sims {
		wg.Go(func() {
			if err := sim.RunInbound(context.Background(), e.app, perNode, 0, arisim.InboundScript{Media: media, HangupAfter: -1}); err != nil {
				t.Errorf("RunInbound: %v", err)
			}
		})
	}
	wg.Wait()
	ran := time.Since(start)
	hangups.Wait()
	// Every call ended in the simulators; wait until the subscribers have
	// the events in flight, then compare.
	rawCount := func() int { rawMu.Lock(); defer rawMu.Unlock(); return rawN }
	settle := time.Now().Add(30 * time.Second)
	for prev := -1; time.Now().Before(settle); {
		time.Sleep(300 * time.Millisecond)
		n := rawCount()
		if n == prev && logs[0].count() >= n && logs[1].count() >= n {
			break
		}
		prev = n
	}
	total := rawCount()
	t.Logf("%d calls on 2 nodes in %v: %d events on the bus, subscribers got %d and %d",
		2*perNode, ran.Round(time.Millisecond), total, logs[0].count(), logs[1].count())

	ref := logs[0].calls
	if len(ref) != 2*perNode {
		t.Fatalf("subscriber 0 saw %d calls, want %d", len(ref), 2*perNode)
	}
	short := 0
	for id, types := range ref {
		if len(types) < minEvents {
			short++
		}
		if types[0] != "StasisStart" || types[len(types)-1] != "StasisEnd" {
			t.Errorf("call %s: events %v, want StasisStart first and StasisEnd last", id, types)
		}
		if got := fmt.Sprint(logs[1].calls[id]); got != fmt.Sprint(types) {
			t.Errorf("call %s: subscriber 1 saw %s, subscriber 0 %v", id, got, types)
		}
	}
	if short > 0 {
		t.Errorf("%d calls had fewer than %d events", short, minEvents)
	}
	if logs[0].count() != total || logs[1].count() != total {
		t.Errorf("subscribers got %d and %d events of %d", logs[0].count(), logs[1].count(), total)
	}
	if seqErrs > 0 {
		t.Errorf("%d sequence breaks on the bus", seqErrs)
	}
}
