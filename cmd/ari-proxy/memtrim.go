//go:build unix

package main

import (
	"context"
	"log/slog"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"syscall"
	"time"
)

// Returning memory after a burst. With the server's GC target
// (defaultGCPercent) the heap may peak at a few times its live size under
// load, and Go gives freed memory back to the OS only gradually: a server
// that went quiet would keep its peak for minutes. trimWhenIdle gives it
// back when the process has gone from busy to idle, and again, while it
// stays idle, whenever its own idle work has regrown it.
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
	// minRegrow is the least an idle server may hold above its level
	// right after its trim before it returns memory again: its own work
	// (each /metrics scrape allocates about 190 KiB, pings, timers)
	// regrows the heap to the GC target, and the freed pages stay
	// resident until Go's scavenger returns them, minutes later. Half a
	// MiB is three scrapes. With a large live heap the margin is a
	// quarter of it, so that the re-trim's collection, whose cost grows
	// with the live heap, stays as rare relative to its cost. For the
	// 2 MiB live heap of an idle server: 1.5 to 6 ms of CPU, at most once
	// a second (scraped four times a second), every three scrapes under
	// Prometheus' usual 15 s interval.
	minRegrow = 512 << 10
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
	var floor, live uint64 // memory held and live heap right after the last trim
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
		floor, live = heldBytes()
		log.Debug("idle after a burst: memory returned to the OS", "held", floor, "live", live)
	}
	tr.onQuiet = func() {
		if held, _ := heldBytes(); regrown(floor, live, held) {
			debug.FreeOSMemory()
			floor, live = heldBytes()
			log.Debug("idle: regrown memory returned to the OS", "was", held, "held", floor)
		}
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

// heldBytes is the memory the Go runtime holds from the OS (mapped and
// not returned: about the process's anonymous RSS), and its live heap as
// of the last collection.
func heldBytes() (held, live uint64) {
	s := []metrics.Sample{{Name: "/memory/classes/total:bytes"}, {Name: "/memory/classes/heap/released:bytes"},
		{Name: "/gc/heap/live:bytes"}}
	metrics.Read(s)
	return s[0].Value.Uint64() - s[1].Value.Uint64(), s[2].Value.Uint64()
}

// regrown reports whether an idle process now holding held bytes should
// return memory again, when it held floor with a live heap of live
// right after its last trim.
func regrown(floor, live, held uint64) bool { return held > floor+max(minRegrow, live/4) }

// idleTrimmer decides, tick by tick, when the process went from busy to
// idle.
type idleTrimmer struct {
	cpu     func() float64 // CPU seconds used so far
	onBusy  func()         // on the first busy tick after idle; may be nil
	onIdle  func()         // on the idleTicks-th idle tick after busy
	onQuiet func()         // on each idle tick after that trim, until busy; may be nil
	last    float64
	busy    bool
	trimmed bool // onIdle ran and the process has not been busy since
	quiet   int
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
		t.busy, t.trimmed, t.quiet = true, false, 0
	case t.busy && share < idleCPU:
		if t.quiet++; t.quiet >= idleTicks {
			t.busy, t.trimmed, t.quiet = false, true, 0
			t.onIdle()
		}
	case t.trimmed && share < idleCPU && t.onQuiet != nil:
		t.onQuiet()
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
