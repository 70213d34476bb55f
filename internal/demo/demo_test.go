package demo

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/ariproxy/ari-proxy/internal/sharedtest"
)

func TestRun(t *testing.T) {
	for _, calls := range []int{2, 3} {
		t.Run(fmt.Sprintf("%d calls", calls), func(t *testing.T) {
			var out, logs sharedtest.Buffer
			start := time.Now()
			err := Run(context.Background(), Options{
				Calls:   calls,
				Timeout: 30 * time.Second,
				Out:     &out,
				Logger:  slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelWarn})),
			})
			if err != nil {
				t.Fatalf("Run: %v\noutput:\n%s\nlogs:\n%s", err, out.String(), logs.String())
			}
			t.Logf("%d calls in %s", calls, time.Since(start))
			text := out.String()
			for i := 1; i <= calls; i++ {
				for _, want := range []string{
					fmt.Sprintf("call %d arrived (channel ", i),
					fmt.Sprintf("call %d answered", i),
					fmt.Sprintf("call %d playing %s", i, Prompt),
					fmt.Sprintf("call %d playback finished", i),
					fmt.Sprintf("call %d hung up", i),
				} {
					if !strings.Contains(text, want) {
						t.Errorf("output lacks %q", want)
					}
				}
			}
			bridged := regexp.MustCompile(`bridged call \d \+ call \d in mixing bridge \S+`).FindAllString(text, -1)
			if len(bridged) != calls/2 {
				t.Errorf("%d bridged lines, want %d", len(bridged), calls/2)
			}
			if calls%2 == 1 && !strings.Contains(text, "has no partner left") {
				t.Error("the odd call out was not hung up alone")
			}
			if !strings.Contains(text, fmt.Sprintf("done: %d calls handled", calls)) {
				t.Error("no done line")
			}
			if strings.Contains(text, "failed") {
				t.Error("a step failed")
			}
			if t.Failed() {
				t.Logf("output:\n%s\nlogs:\n%s", text, logs.String())
			}
		})
	}
}

// TestRunTimeout: the demo never hangs; past its timeout it returns an
// error that says so.
func TestRunTimeout(t *testing.T) {
	var out sharedtest.Buffer
	start := time.Now()
	err := Run(context.Background(), Options{Calls: 1000, Timeout: 2 * time.Second, Out: &out})
	if err == nil || !strings.Contains(err.Error(), "not done after 2s") {
		t.Fatalf("Run = %v, want the timeout error\n%s", err, out.String())
	}
	if d := time.Since(start); d > 15*time.Second {
		t.Errorf("returned %s after start, want about 2s plus shutdown", d)
	}
}

// TestRunForeverStopsWithContext: with Forever, Run returns nil when its
// context ends.
func TestRunForeverStopsWithContext(t *testing.T) {
	var out sharedtest.Buffer
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- Run(ctx, Options{Forever: true, Out: &out}) }()
	deadline := time.After(20 * time.Second)
	for !strings.Contains(out.String(), "bridged call ") {
		select {
		case err := <-done:
			t.Fatalf("Run returned early: %v\n%s", err, out.String())
		case <-deadline:
			cancel()
			t.Fatalf("no bridge within 20s:\n%s", out.String())
		case <-time.After(50 * time.Millisecond):
		}
	}
	cancel()
	select {
	case err := <-done:
		if err != nil && !errors.Is(err, context.Canceled) {
			t.Errorf("Run = %v", err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("Run did not return after cancel")
	}
}
