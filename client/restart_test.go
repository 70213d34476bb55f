package client

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/ariproxy/ari-proxy/ari"
	"github.com/ariproxy/ari-proxy/arisim"
	"github.com/ariproxy/ari-proxy/internal/bustest"
)

// TestBrokerRestart: new calls arrive at a steady pace while the RabbitMQ
// broker restarts under a proxy server and a client. Every StasisStart
// the simulator sent reaches the client's subscription (the proxy
// buffers what it publishes during the outage, the client's queue
// outlives the restart), a request made during the outage fails with
// ErrUnavailable or ErrTimeout instead of hanging, and requests work
// again afterwards.
func TestBrokerRestart(t *testing.T) {
	broker := bustest.RabbitMQBroker(t)
	e := newEnvOn(t, bustest.RabbitMQ, 1, arisim.Config{TimeScale: 0.01})
	c := e.client(t, WithTimeout(3*time.Second))
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	sub, err := c.Subscribe(ctx, "StasisStart")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	got := map[string]int{}
	go func() {
		for ev := range sub.Events() {
			mu.Lock()
			got[ev.(*ari.StasisStart).Channel.ID]++
			mu.Unlock()
		}
	}()

	// Calls every 10 ms until told to stop.
	var placed []string
	stop := make(chan struct{})
	placing := make(chan error, 1)
	go func() {
		for {
			select {
			case <-stop:
				placing <- nil
				return
			case <-time.After(10 * time.Millisecond):
			}
			id, err := e.sims[0].InboundCall(testApp)
			if err != nil {
				placing <- err
				return
			}
			mu.Lock()
			placed = append(placed, id)
			mu.Unlock()
		}
	}()
	time.Sleep(300 * time.Millisecond)

	if _, err := broker.Ctl(ctx, "stop_app"); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	_, err = c.Asterisk().Ping(ctx)
	if !errors.Is(err, ErrUnavailable) && !errors.Is(err, ErrTimeout) {
		t.Errorf("request during the outage: %v, want ErrUnavailable or ErrTimeout", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("request during the outage took %v", d)
	}
	time.Sleep(500 * time.Millisecond) // calls keep coming while the broker is down
	if _, err := broker.Ctl(ctx, "start_app"); err != nil {
		t.Fatal(err)
	}
	if err := broker.WaitReady(ctx); err != nil {
		t.Fatal(err)
	}
	time.Sleep(300 * time.Millisecond)
	close(stop)
	if err := <-placing; err != nil {
		t.Fatal(err)
	}

	deadline := time.Now().Add(30 * time.Second)
	for {
		mu.Lock()
		missing, dups := 0, 0
		for _, id := range placed {
			switch n := got[id]; {
			case n == 0:
				missing++
			case n > 1:
				dups++
			}
		}
		total := len(placed)
		mu.Unlock()
		if missing == 0 {
			t.Logf("%d calls placed across the restart: all %d StasisStart received (%d twice)", total, total, dups)
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d calls placed across the restart: %d StasisStart never arrived", total, missing)
		}
		time.Sleep(50 * time.Millisecond)
	}
	// Requests work again once both sides reconnected.
	for {
		_, err := c.Asterisk().Ping(ctx)
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("request after the restart: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
