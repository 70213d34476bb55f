//go:build !unix

package main

import (
	"context"
	"log/slog"
)

// trimWhenIdle needs the process CPU time (getrusage): without it the
// memory comes back as Go's scavenger returns it.
func trimWhenIdle(context.Context, *slog.Logger) {}
