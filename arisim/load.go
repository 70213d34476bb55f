package arisim

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/ariproxy/ari-proxy/ari"
)

// ErrNoApplication is returned when a load function targets an
// application that no WebSocket holds.
var ErrNoApplication = errors.New("arisim: application not registered")

// ErrClosed is returned by load functions once the simulator is closed.
var ErrClosed = errors.New("arisim: closed")

// InboundScript describes what a simulated inbound call does once it is in
// Stasis. The zero value is a short, ordinary call: the caller hears a
// beep and hangs up two seconds after entering the application.
type InboundScript struct {
	// Args are the Stasis application arguments (Stasis(app,args...)).
	Args []string
	// Media is played to the caller once in Stasis, as if the application
	// had asked; nil plays "sound:beep", an empty non-nil slice nothing.
	Media []string
	// HangupAfter is how long after StasisStart the far end hangs up; 0
	// means 2 s, negative means never (the application must hang up).
	HangupAfter time.Duration
	// Cause is the far end's hangup cause; 0 means 16 (normal clearing).
	Cause int
}

// InboundCall makes a call enter Stasis application app from the dialplan,
// like the recorded inbound calls: a Local pair whose ;2 half runs echo
// (Answer, Wait) and whose ;1 half runs Stasis(app,args...) at priority 2
// of extension "stasis". The application gets StasisStart (channel Up),
// nothing before. It returns the id of the channel in Stasis.
func (s *Sim) InboundCall(app string, args ...string) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, err := s.inbound(app, args)
	if err != nil {
		return "", err
	}
	return c.id, nil
}

// inbound creates and starts an inbound call; the caller holds s.mu.
func (s *Sim) inbound(app string, args []string) (*channel, error) {
	if s.closed {
		return nil, ErrClosed
	}
	if a := s.state.apps[app]; a == nil || a.conn == nil {
		return nil, fmt.Errorf("%w: %q", ErrNoApplication, app)
	}
	one, two := s.newLocalPair("echo@default", "", "")
	one.appName, one.appData = "AppDial2", "(Outgoing Line)"
	data := app
	if len(args) > 0 {
		data += "," + strings.Join(args, ",")
	}
	stasisArgs := append([]string{}, args...)
	s.startLocalDial(one, nil, "echo@default", "echo@default", 0, func() {
		// The answered ;1 half runs the dialplan: NoOp, then Stasis.
		one.context, one.exten, one.priority = "default", "stasis", 2
		one.inPBX = true
		one.pbxGen++
		old := one.snapshot()
		one.appName, one.appData = "Stasis", data
		s.publish(one, old)
		s.runStasis(one, app, stasisArgs, true)
	})
	_ = two
	if one.gone || one.stasis == nil {
		return nil, fmt.Errorf("%w: %q", ErrNoApplication, app)
	}
	return one, nil
}

// RunInbound places n inbound calls into app at rate calls per second
// (rate <= 0: as fast as possible), each following script, and returns
// when every call has ended or ctx is done.
func (s *Sim) RunInbound(ctx context.Context, app string, n int, rate float64, script InboundScript) error {
	media := script.Media
	if media == nil {
		media = []string{"sound:beep"}
	}
	hold := script.HangupAfter
	if hold == 0 {
		hold = 2 * time.Second
	}
	cause := script.Cause
	if cause == 0 {
		cause = causeNormal
	}
	var interval time.Duration
	if rate > 0 {
		interval = time.Duration(float64(time.Second) / rate)
	}
	var wg sync.WaitGroup
	var firstErr error
	var errMu sync.Mutex
	start := time.Now()
	for i := 0; i < n; i++ {
		if interval > 0 {
			wait := time.Until(start.Add(time.Duration(i) * interval))
			if wait > 0 {
				t := time.NewTimer(wait)
				select {
				case <-ctx.Done():
					t.Stop()
					wg.Wait()
					return ctx.Err()
				case <-s.closedCh:
					t.Stop()
					wg.Wait()
					return ErrClosed
				case <-t.C:
				}
			}
		} else if err := ctx.Err(); err != nil {
			wg.Wait()
			return err
		}
		done := make(chan struct{})
		s.mu.Lock()
		c, err := s.inbound(app, script.Args)
		if err == nil {
			s.scriptCall(c, media, hold, cause, done)
		}
		s.mu.Unlock()
		if err != nil {
			wg.Wait()
			return err
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			select {
			case <-done:
			case <-ctx.Done():
				errMu.Lock()
				if firstErr == nil {
					firstErr = ctx.Err()
				}
				errMu.Unlock()
			case <-s.closedCh:
			}
		}()
	}
	wg.Wait()
	return firstErr
}

// scriptCall drives one scripted call; done closes when the call is over.
func (s *Sim) scriptCall(c *channel, media []string, hold time.Duration, cause int, done chan struct{}) {
	var closeOnce sync.Once
	finish := func() { closeOnce.Do(func() { close(done) }) }
	c.onGone = append(c.onGone, finish)
	if len(media) > 0 {
		p := &playback{id: uuid(), media: media, target: "channel:" + c.id, language: c.language,
			state: pbQueued, skip: 3 * time.Second, ch: c, chanID: c.id}
		s.state.playbacks[p.id] = p
		s.send(c, func() bool { return s.startPlayback(p) })
	}
	if hold > 0 {
		s.after(hold, func() {
			far := c.peer
			if far == nil || far.gone || far.hangingUp {
				return
			}
			far.hangupCause = cause
			s.terminate(far)
		})
	}
}

// Flood sends n events to app's WebSocket as fast as the client reads
// them: benchmark mode. The events are ChannelUserevent messages, shaped
// like real ones, and bypass the simulated calls. It returns when all are
// queued for writing, or on error.
func (s *Sim) Flood(ctx context.Context, app string, n int) error {
	s.mu.Lock()
	a := s.state.apps[app]
	if a == nil || a.conn == nil {
		s.mu.Unlock()
		return fmt.Errorf("%w: %q", ErrNoApplication, app)
	}
	conn, eid := a.conn, s.eid
	s.mu.Unlock()
	const high = 4096
	// What does not change from one event to the next is made once.
	prefix := []byte(`{"type":"ChannelUserevent","timestamp":"`)
	suffix := append([]byte(`","eventname":"Flood"},"asterisk_id":`), jsonString(eid)...)
	suffix = append(suffix, `,"application":`...)
	suffix = append(suffix, jsonString(app)...)
	suffix = append(suffix, '}')
	for i := 0; i < n; i++ {
		if i%256 == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		msg := make([]byte, 0, 200)
		msg = append(msg, prefix...)
		msg = now().AppendFormat(msg, ari.TimeLayout)
		msg = append(msg, `","eventname":"Flood","userevent":{"seq":"`...)
		msg = strconv.AppendInt(msg, int64(i), 10)
		msg = append(msg, suffix...)
		if !conn.enqueueWait(msg, high) {
			return fmt.Errorf("arisim: flood: websocket of %q closed", app)
		}
	}
	return nil
}
