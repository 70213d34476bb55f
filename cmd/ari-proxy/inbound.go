package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/ariproxy/ari-proxy/arisim"
)

// inboundFlags are sim's flags that make calls arrive, so that an
// application run beside `ari-proxy sim` and `ari-proxy serve` sees calls.
type inboundFlags struct {
	rate        string
	app         string
	calls       int
	hangupAfter time.Duration
}

func (f *inboundFlags) register(fs interface {
	StringVar(*string, string, string, string)
	IntVar(*int, string, int, string)
	DurationVar(*time.Duration, string, time.Duration, string)
}) {
	fs.StringVar(&f.rate, "inbound-rate", "", `place inbound calls at this rate, e.g. "2/s", "10/m" or "1/5s" (empty: none)`)
	fs.StringVar(&f.app, "inbound-app", "", "Stasis application the calls enter (empty: every application connected to the simulator)")
	fs.IntVar(&f.calls, "inbound-calls", 0, "stop after this many calls (0: until stopped)")
	fs.DurationVar(&f.hangupAfter, "inbound-hangup-after", 30*time.Second, "the caller hangs up this long after the call entered the application (0: never; the application hangs up)")
}

// parseRate reads "N/s", "N/m", "N/h", "N/<duration>" or "N" (per second)
// as calls per second.
func parseRate(s string) (float64, error) {
	num, per, found := strings.Cut(strings.TrimSpace(s), "/")
	n, err := strconv.ParseFloat(strings.TrimSpace(num), 64)
	if err != nil || n <= 0 {
		return 0, fmt.Errorf("--inbound-rate %q: want a positive number of calls per time, e.g. 2/s, 10/m or 1/5s", s)
	}
	if !found {
		return n, nil
	}
	var d time.Duration
	switch per = strings.TrimSpace(per); per {
	case "s":
		d = time.Second
	case "m", "min":
		d = time.Minute
	case "h":
		d = time.Hour
	default:
		d, err = time.ParseDuration(per)
		if err != nil || d <= 0 {
			return 0, fmt.Errorf("--inbound-rate %q: the time after / must be s, m, h or a duration such as 5s", s)
		}
	}
	return n / d.Seconds(), nil
}

// placeInbound places calls into the simulator at rate until ctx ends or
// f.calls calls were placed. Calls go to f.app, or in turn to each
// application that holds a WebSocket on the simulator; while there is
// none, it waits (and says so once).
func placeInbound(ctx context.Context, s *arisim.Sim, user, password string, rate float64, f inboundFlags, log *slog.Logger) {
	script := arisim.InboundScript{Media: []string{}, HangupAfter: f.hangupAfter}
	if f.hangupAfter == 0 {
		script.HangupAfter = -1
	}
	interval := time.Duration(float64(time.Second) / rate)
	t := time.NewTicker(interval)
	defer t.Stop()
	var wg sync.WaitGroup
	defer wg.Wait()
	placed, turn, waiting := 0, 0, false
	for f.calls == 0 || placed < f.calls {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		apps := []string{f.app}
		if f.app == "" {
			apps = connectedApps(ctx, s.URL(), user, password)
		} else if !appConnected(ctx, s.URL(), user, password, f.app) {
			apps = nil
		}
		if len(apps) == 0 {
			if !waiting {
				which := "an application"
				if f.app != "" {
					which = "application " + strconv.Quote(f.app)
				}
				log.Info("inbound calls: waiting for "+which+" to connect (e.g. ari-proxy serve with ARI_APPLICATION)", "rate_per_s", rate)
				waiting = true
			}
			continue
		}
		waiting = false
		app := apps[turn%len(apps)]
		turn++
		placed++
		n := placed
		wg.Go(func() {
			// One call per RunInbound: it returns when the call ended.
			err := s.RunInbound(ctx, app, 1, 0, script)
			switch {
			case err == nil, errors.Is(err, context.Canceled), errors.Is(err, arisim.ErrClosed):
			default:
				log.Warn("inbound call failed", "call", n, "app", app, "err", err)
			}
		})
		log.Info("inbound call placed", "call", n, "app", app)
	}
	log.Info("inbound calls: all placed", "calls", placed)
}

// connectedApps lists the applications that hold a WebSocket on the
// simulator, asking it over ARI as any client would (GET /applications).
func connectedApps(ctx context.Context, base, user, password string) []string {
	var apps []struct {
		Name string `json:"name"`
	}
	if getJSON(ctx, base+"/applications", user, password, &apps) != nil {
		return nil
	}
	names := make([]string, 0, len(apps))
	for _, a := range apps {
		names = append(names, a.Name)
	}
	return names
}

func appConnected(ctx context.Context, base, user, password, app string) bool {
	var a struct {
		Name string `json:"name"`
	}
	return getJSON(ctx, base+"/applications/"+app, user, password, &a) == nil && a.Name == app
}

func getJSON(ctx context.Context, url, user, password string, v any) error {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	req.SetBasicAuth(user, password)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s: status %d", url, resp.StatusCode)
	}
	return json.Unmarshal(body, v)
}
