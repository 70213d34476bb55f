//go:build unix

package main

import (
	"testing"
	"time"
)

// TestIdleTrimmer: memory is returned once per burst, after three idle
// ticks, and never while idle all along or under steady light load.
func TestIdleTrimmer(t *testing.T) {
	tests := []struct {
		name   string
		shares []float64 // CPU share of each tick
		trims  int
		busies int // switches from idle to busy
	}{
		{"idle all along", []float64{0, 0.01, 0, 0.02, 0}, 0, 0},
		{"steady light load", []float64{0.07, 0.08, 0.06, 0.09, 0.07, 0.06}, 0, 0},
		{"burst then idle", []float64{0, 0.9, 1.5, 0.02, 0.01, 0, 0, 0}, 1, 1},
		{"burst, two idle ticks, burst", []float64{1, 0.01, 0.01, 1, 0.01, 0.01, 0.01}, 1, 1},
		{"two bursts", []float64{1, 0, 0, 0, 0.8, 0.04, 0.04, 0}, 2, 2},
		{"burst then light load", []float64{1, 0.06, 0.07, 0.06}, 0, 1},
		{"short burst, scraped", []float64{0.005, 0.19, 0.03, 0.04, 0.02, 0.03}, 1, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var used float64
			trims := 0
			busies := 0
			tr := &idleTrimmer{cpu: func() float64 { return used }, onIdle: func() { trims++ }, onBusy: func() { busies++ }}
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
		})
	}
	if cpuSeconds() <= 0 {
		t.Error("cpuSeconds: no CPU time read")
	}
}
