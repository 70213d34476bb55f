//go:build unix

package main

import (
	"runtime"
	"runtime/debug"
	"testing"
	"time"
)

// TestIdleTrimmer: memory is returned once per burst, after three idle
// ticks, and never while idle all along or under steady light load; each
// idle tick after that trim, until the next burst, may return it again.
func TestIdleTrimmer(t *testing.T) {
	tests := []struct {
		name   string
		shares []float64 // CPU share of each tick
		trims  int
		busies int // switches from idle to busy
		quiets int // idle ticks after a trim
	}{
		{"idle all along", []float64{0, 0.01, 0, 0.02, 0}, 0, 0, 0},
		{"steady light load", []float64{0.07, 0.08, 0.06, 0.09, 0.07, 0.06}, 0, 0, 0},
		{"burst then idle", []float64{0, 0.9, 1.5, 0.02, 0.01, 0, 0, 0}, 1, 1, 2},
		{"burst, two idle ticks, burst", []float64{1, 0.01, 0.01, 1, 0.01, 0.01, 0.01}, 1, 1, 0},
		{"two bursts", []float64{1, 0, 0, 0, 0.8, 0.04, 0.04, 0}, 2, 2, 0},
		{"two bursts, idle between", []float64{1, 0, 0, 0, 0, 0, 0.8, 0.04, 0.04, 0, 0}, 2, 2, 3},
		{"burst then light load", []float64{1, 0.06, 0.07, 0.06}, 0, 1, 0},
		{"short burst, scraped", []float64{0.005, 0.19, 0.03, 0.04, 0.02, 0.03}, 1, 1, 1},
		{"trimmed, light load, idle", []float64{1, 0, 0, 0, 0.07, 0.06, 0.01}, 1, 1, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var used float64
			trims, busies, quiets := 0, 0, 0
			tr := &idleTrimmer{cpu: func() float64 { return used }, onIdle: func() { trims++ },
				onBusy: func() { busies++ }, onQuiet: func() { quiets++ }}
			for _, s := range tt.shares {
				used += s
				tr.tick(time.Second)
			}
			if trims != tt.trims {
				t.Errorf("%d trims, want %d", trims, tt.trims)
			}
			if busies != tt.busies {
				t.Errorf("%d switches to busy, want %d", busies, tt.busies)
			}
			if quiets != tt.quiets {
				t.Errorf("%d idle ticks after a trim, want %d", quiets, tt.quiets)
			}
		})
	}
	if cpuSeconds() <= 0 {
		t.Error("cpuSeconds: no CPU time read")
	}
}

// TestRegrown: an idle server returns memory again only once it holds
// more than minRegrow, or a quarter of its live heap when that is more,
// above what it held right after its last trim.
func TestRegrown(t *testing.T) {
	const floor = 8 << 20
	tests := []struct {
		live, held uint64
		want       bool
	}{
		{2 << 20, floor, false},
		{2 << 20, floor - 1<<20, false}, // the scavenger returned some meanwhile
		{2 << 20, floor + minRegrow, false},
		{2 << 20, floor + minRegrow + 1, true},
		{2 << 20, floor + 4<<20, true},
		{40 << 20, floor + 4<<20, false}, // a quarter of 40 MiB live: 10 MiB
		{40 << 20, floor + 10<<20 + 1, true},
	}
	for _, tt := range tests {
		if got := regrown(floor, tt.live, tt.held); got != tt.want {
			t.Errorf("regrown(%d, %d, %d) = %v, want %v", floor, tt.live, tt.held, got, tt.want)
		}
	}
}

// TestHeldBytes: the memory held follows what the heap holds.
func TestHeldBytes(t *testing.T) {
	debug.FreeOSMemory() // what is free is not held
	before, _ := heldBytes()
	keep := make([]byte, 16<<20)
	for i := range keep {
		keep[i] = 1
	}
	after, _ := heldBytes()
	runtime.GC()
	_, live := heldBytes()
	runtime.KeepAlive(keep)
	if before == 0 || after < before+15<<20 {
		t.Errorf("held %d bytes, then %d after allocating 16 MiB", before, after)
	}
	if live < 16<<20 {
		t.Errorf("live heap %d bytes with 16 MiB kept", live)
	}
}
