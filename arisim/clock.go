package arisim

import (
	"sync"
	"time"
)

// Clock is the time source of a Sim's timed behaviour (Config.Clock).
type Clock interface {
	Now() time.Time
	// AfterFunc arranges for f to be called once d has passed on this
	// clock. It must not call f before returning: the simulator holds its
	// lock while scheduling, and f takes it.
	AfterFunc(d time.Duration, f func()) Timer
}

// Timer is a pending call made by Clock.AfterFunc; Stop cancels it and
// reports whether it was still pending (as time.Timer's Stop does).
type Timer interface{ Stop() bool }

// wallClock is the default Clock.
type wallClock struct{}

func (wallClock) Now() time.Time { return time.Now() }

func (wallClock) AfterFunc(d time.Duration, f func()) Timer { return time.AfterFunc(d, f) }

// ManualClock is a Clock that stands still until AdvanceTo moves it. A
// test that replays recorded traffic advances it to the recording's time
// of each request, so whatever the simulator times itself (DTMF, media,
// dialplan steps, the Answer application's wait for media, dial timeouts)
// happens between the same requests as in the recording, however slowly
// the machine runs. The zero value is not usable; use NewManualClock.
type ManualClock struct {
	mu     sync.Mutex
	now    time.Time
	seq    uint64
	timers map[*manualTimer]struct{}
}

type manualTimer struct {
	c   *ManualClock
	at  time.Time
	seq uint64
	f   func()
}

// NewManualClock returns a ManualClock standing at start.
func NewManualClock(start time.Time) *ManualClock {
	return &ManualClock{now: start, timers: map[*manualTimer]struct{}{}}
}

// Now returns the time the clock stands at.
func (c *ManualClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// AfterFunc schedules f for d after the time the clock stands at.
func (c *ManualClock) AfterFunc(d time.Duration, f func()) Timer {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.seq++
	t := &manualTimer{c: c, at: c.now.Add(d), seq: c.seq, f: f}
	c.timers[t] = struct{}{}
	return t
}

func (t *manualTimer) Stop() bool {
	t.c.mu.Lock()
	defer t.c.mu.Unlock()
	_, ok := t.c.timers[t]
	delete(t.c.timers, t)
	return ok
}

// AdvanceTo moves the clock forward to to (never back), running every call
// due by then in due order, ties in the order they were scheduled, in the
// calling goroutine, the clock standing at each call's due time while it
// runs; calls they schedule run too when due by to. The caller must not
// hold anything the calls need (a Sim's calls take the Sim's lock).
func (c *ManualClock) AdvanceTo(to time.Time) {
	for {
		c.mu.Lock()
		var next *manualTimer
		for t := range c.timers {
			if t.at.After(to) {
				continue
			}
			if next == nil || t.at.Before(next.at) || (t.at.Equal(next.at) && t.seq < next.seq) {
				next = t
			}
		}
		if next == nil {
			if to.After(c.now) {
				c.now = to
			}
			c.mu.Unlock()
			return
		}
		delete(c.timers, next)
		if next.at.After(c.now) {
			c.now = next.at
		}
		c.mu.Unlock()
		next.f()
	}
}
