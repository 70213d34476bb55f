//go:build !unix

package main

import (
	"context"
	"log/slog"
	"runtime/debug"
)

// trimWhenIdle needs the process CPU time (getrusage): without it the
// GC target stays defaultGCPercent and the memory comes back as Go's
// scavenger returns it.
func trimWhenIdle(_ context.Context, _ *slog.Logger, adaptive bool) {
	if adaptive {
		debug.SetGCPercent(defaultGCPercent)
	}
}
