package client

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/ariproxy/ari-proxy/ari"
	"github.com/ariproxy/ari-proxy/arisim"
)

// TestReturnPath: five instances of the application on two nodes, each
// listening, originate 1,000 channels concurrently (without ids: the
// servers assign them). Each instance's Listener gets the StasisStart of
// every channel it created and none of another's, while inbound calls
// placed meanwhile are still shared, each handled exactly once.
func TestReturnPath(t *testing.T) {
	const (
		instances   = 5
		perInstance = 200
		inbound     = 50
		parallel    = 16 // originates in flight per instance
	)
	e := newEnv(t, 2, arisim.Config{TimeScale: 0.01})
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	type instance struct {
		c       *Client
		mu      sync.Mutex
		started int
		created map[string]bool
		got     map[string]int // StasisStart per channel id
	}
	var (
		all     = make(chan struct{}, instances*perInstance+inbound)
		inMu    sync.Mutex
		inCalls = map[string]int{}
	)
	insts := make([]*instance, instances)
	for i := range insts {
		in := &instance{c: e.client(t), created: map[string]bool{}, got: map[string]int{}}
		insts[i] = in
		l, err := in.c.Listen(ctx, func(ctx context.Context, ch *ChannelHandle, ev *ari.StasisStart) {
			if ch.Key().Node == "" || ch.Key().Node != ev.AsteriskID {
				t.Errorf("handle of %s not located: %+v", ch.ID(), ch.Key())
			}
			in.mu.Lock()
			in.got[ch.ID()]++
			in.mu.Unlock()
			if EventDialog(ev) == "" {
				inMu.Lock()
				inCalls[ch.ID()]++
				inMu.Unlock()
			}
			all <- struct{}{}
		})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { l.Close() })
	}

	var wg sync.WaitGroup
	for _, in := range insts {
		for range parallel {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for {
					in.mu.Lock()
					in.started++
					n := in.started
					in.mu.Unlock()
					if n > perInstance {
						return
					}
					ch, err := in.c.Channels().Originate(ctx, &ChannelsOriginateParams{Endpoint: "Local/echo@default", App: testApp})
					if err != nil {
						t.Errorf("originate: %v", err)
						return
					}
					if ch.Key().Node == "" || ch.Key().Dialog != "" {
						t.Errorf("originated handle %+v: want a node and no dialog", ch.Key())
					}
					in.mu.Lock()
					in.created[ch.ID()] = true
					in.mu.Unlock()
				}
			}()
		}
	}
	for i := range inbound {
		if _, err := e.sims[i%2].InboundCall(testApp); err != nil {
			t.Fatal(err)
		}
	}
	wg.Wait()
	total := inbound
	for _, in := range insts {
		total += len(in.created)
	}
	timeout := time.After(30 * time.Second)
	for range total {
		select {
		case <-all:
		case <-timeout:
			t.Fatalf("fewer than %d calls handled", total)
		}
	}
	time.Sleep(200 * time.Millisecond) // nothing more may arrive
	if n := len(all); n > 0 {
		t.Errorf("%d calls handled more than once", n)
	}

	owner := map[string]int{}
	for i, in := range insts {
		for id := range in.created {
			owner[id] = i
		}
	}
	for i, in := range insts {
		in.mu.Lock()
		missing, foreign := 0, 0
		for id := range in.created {
			if in.got[id] != 1 {
				missing++
			}
		}
		for id, n := range in.got {
			if o, ok := owner[id]; ok && o != i {
				foreign++
			}
			if n != 1 {
				t.Errorf("instance %d: channel %s handled %d times", i, id, n)
			}
		}
		in.mu.Unlock()
		if len(in.created) != perInstance {
			t.Errorf("instance %d created %d channels", i, len(in.created))
		}
		if missing > 0 || foreign > 0 {
			t.Errorf("instance %d: %d of its %d channels not returned to it, %d of another's", i, missing, len(in.created), foreign)
		}
	}
	inMu.Lock()
	defer inMu.Unlock()
	handledOnce(t, "inbound calls", inCalls, inbound)
}

// TestListenReturned: a ListenReturned Listener gets the channels its
// client creates and no share of the inbound calls, which all go to the
// instance listening for them.
func TestListenReturned(t *testing.T) {
	e := newEnv(t, 1, arisim.Config{TimeScale: 0.01})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var mu sync.Mutex
	got := map[string][]string{}
	handler := func(who string) Handler {
		return func(ctx context.Context, ch *ChannelHandle, ev *ari.StasisStart) {
			mu.Lock()
			got[who] = append(got[who], ch.ID())
			mu.Unlock()
		}
	}
	dialer, worker := e.client(t), e.client(t)
	if _, err := dialer.ListenReturned(ctx, handler("dialer")); err != nil {
		t.Fatal(err)
	}
	if _, err := worker.Listen(ctx, handler("worker")); err != nil {
		t.Fatal(err)
	}
	for i := range 10 {
		if _, err := dialer.Channels().Originate(ctx, &ChannelsOriginateParams{Endpoint: "Local/echo@default", App: testApp, ChannelID: newID("out")}); err != nil {
			t.Fatal(err)
		}
		if _, err := e.sims[0].InboundCall(testApp); err != nil {
			t.Fatal(err, i)
		}
	}
	waitFor(t, "20 calls", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(got["dialer"])+len(got["worker"]) >= 20
	})
	time.Sleep(100 * time.Millisecond)
	mu.Lock()
	defer mu.Unlock()
	if len(got["dialer"]) != 10 || len(got["worker"]) != 10 {
		t.Fatalf("dialer got %v, worker got %v", got["dialer"], got["worker"])
	}
	for _, id := range got["dialer"] {
		if len(id) < 4 || id[:4] != "out-" {
			t.Errorf("dialer got inbound call %s", id)
		}
	}
}
