//go:build unix

package main

import (
	"context"
	"log/slog"
	"runtime/debug"
	"syscall"
	"time"
)

// Returning memory after a burst. With the server's GC target
// (defaultGCPercent) the heap may peak at a few times its live size under
// load, and Go gives freed memory back to the OS only gradually: a server
// that went quiet would keep its peak RSS for minutes. trimWhenIdle gives
// it back once, when the process has gone from busy to idle.
const (
	trimTick = time.Second
	// busyCPU and idleCPU are the shares of one CPU over a tick above
	// which the process counts as busy, and below which as idle.
	busyCPU   = 0.05
	idleCPU   = 0.01
	idleTicks = 2 // idle this many ticks in a row after being busy: trim
)

// trimWhenIdle runs until ctx ends.
func trimWhenIdle(ctx context.Context, log *slog.Logger) {
	t := time.NewTicker(trimTick)
	defer t.Stop()
	last, busy, quiet := cpuSeconds(), false, 0
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		now := cpuSeconds()
		share := (now - last) / trimTick.Seconds()
		last = now
		switch {
		case share > busyCPU:
			busy, quiet = true, 0
		case busy && share < idleCPU:
			if quiet++; quiet >= idleTicks {
				busy, quiet = false, 0
				debug.FreeOSMemory()
				log.Debug("idle: memory returned to the OS")
			}
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
