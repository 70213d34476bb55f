//go:build unix

package main

import (
	"context"
	"log/slog"
	"runtime"
	"runtime/debug"
	"syscall"
	"time"
)

// Returning memory after a burst. With the server's GC target
// (defaultGCPercent) the heap may peak at a few times its live size under
// load, and Go gives freed memory back to the OS only gradually: a server
// that went quiet would keep its peak for minutes. trimWhenIdle gives it
// back once, when the process has gone from busy to idle.
const (
	trimTick = time.Second
	// busyCPU and idleCPU are the shares of one CPU over a tick above
	// which the process counts as busy, and below which as idle. A burst
	// of 2,000 calls takes a fifth of a CPU for a second; an idle server
	// scraped by Prometheus, or by the bench 4 times a second, under 2 %.
	busyCPU = 0.10
	idleCPU = 0.05
	// idleTicks idle ticks in a row after being busy: trim. Three, so
	// that the server's parked request workers (which exit after 2 s
	// without work) are gone and their stacks are returned too.
	idleTicks = 3
)

// trimWhenIdle runs until ctx ends. With adaptive, the GC target follows
// the load: defaultGCPercent while busy, Go's default while idle, so that
// an idle server (scraped, pinged) does not grow its heap to a few times
// its live size between collections. Without it (the operator set GOGC)
// only the memory is returned.
func trimWhenIdle(ctx context.Context, log *slog.Logger, adaptive bool) {
	t := time.NewTicker(trimTick)
	defer t.Stop()
	tr := &idleTrimmer{cpu: cpuSeconds}
	tr.onIdle = func() {
		if adaptive {
			debug.SetGCPercent(idleGCPercent)
		}
		// Two collections: the first moves sync.Pool contents to their
		// victim caches, the second frees them; FreeOSMemory's own
		// collection then returns the pages.
		runtime.GC()
		runtime.GC()
		debug.FreeOSMemory()
		log.Debug("idle after a burst: memory returned to the OS")
	}
	if adaptive {
		tr.onBusy = func() { debug.SetGCPercent(defaultGCPercent) }
		debug.SetGCPercent(idleGCPercent) // the server starts idle
	}
	tr.last = tr.cpu()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			tr.tick(trimTick)
		}
	}
}

// idleGCPercent is the GC target of an idle server (Go's default).
const idleGCPercent = 100

// idleTrimmer decides, tick by tick, when the process went from busy to
// idle.
type idleTrimmer struct {
	cpu    func() float64 // CPU seconds used so far
	onBusy func()         // on the first busy tick after idle; may be nil
	onIdle func()         // on the idleTicks-th idle tick after busy
	last   float64
	busy   bool
	quiet  int
}

// tick takes the CPU used over the last d and trims on the idleTicks-th
// idle tick after a busy one.
func (t *idleTrimmer) tick(d time.Duration) {
	now := t.cpu()
	share := (now - t.last) / d.Seconds()
	t.last = now
	switch {
	case share > busyCPU:
		if !t.busy && t.onBusy != nil {
			t.onBusy()
		}
		t.busy, t.quiet = true, 0
	case t.busy && share < idleCPU:
		if t.quiet++; t.quiet >= idleTicks {
			t.busy, t.quiet = false, 0
			t.onIdle()
		}
	}
}

// cpuSeconds is the CPU time the process used so far (user and system).
func cpuSeconds() float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()).Seconds()
}
