package arihttp

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
)

// batchPair serves one batched WebSocket, dials it and returns the
// client's end and the server's connection and Batch.
func batchPair(t *testing.T, ctx context.Context) (client, ws *websocket.Conn, b *Batch) {
	t.Helper()
	type server struct {
		ws *websocket.Conn
		b  *Batch
	}
	ch := make(chan server, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ServeBatchedWebSocket(w, r, "", func(ws *websocket.Conn, b *Batch) { ch <- server{ws, b} })
	}))
	t.Cleanup(srv.Close)
	client, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(srv.URL, "http"), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { client.CloseNow() })
	s := <-ch
	return client, s.ws, s.b
}

// TestBatchOrder: messages written in batches (several held writes,
// messages larger than the buffers, releases in the middle) arrive whole,
// byte for byte and in order, while the client pings (the pongs are
// written by the library, held or not).
func TestBatchOrder(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	client, ws, b := batchPair(t, ctx)
	client.SetReadLimit(-1)

	var want [][]byte
	for i := range 3000 {
		size := 50 + i%300
		if i%500 == 7 {
			size = 200 << 10 // larger than any buffer on the way
		}
		m := fmt.Appendf(nil, "%06d:", i)
		m = append(m, bytes.Repeat([]byte{byte('a' + i%26)}, size)...)
		want = append(want, m)
	}
	pingCtx, stopPing := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { // pings need the reader below to answer them
		defer wg.Done()
		for pingCtx.Err() == nil {
			_ = client.Ping(pingCtx)
		}
	}()
	done := make(chan error, 1)
	go func() {
		for i := 0; i < len(want); {
			b.Hold()
			for n := 0; n < 1+i%40 && i < len(want); n++ {
				if err := ws.Write(context.Background(), websocket.MessageText, want[i]); err != nil {
					done <- err
					return
				}
				i++
				if b.Buffered() > 64<<10 {
					if err := b.Release(time.Now().Add(5 * time.Second)); err != nil {
						done <- err
						return
					}
					b.Hold()
				}
			}
			if err := b.Release(time.Now().Add(5 * time.Second)); err != nil {
				done <- err
				return
			}
		}
		done <- nil
	}()
	for i := range want {
		typ, m, err := client.Read(ctx)
		if err != nil {
			t.Fatalf("message %d: %v", i, err)
		}
		if typ != websocket.MessageText || !bytes.Equal(m, want[i]) {
			t.Fatalf("message %d: %d bytes starting %.10q, want %d bytes starting %.10q", i, len(m), m, len(want[i]), want[i])
		}
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	stopPing()
	wg.Wait()
}

// TestBatchStuckReader: a client that reads nothing makes Release fail at
// its deadline instead of blocking the writer.
func TestBatchStuckReader(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	_, ws, b := batchPair(t, ctx)
	big := bytes.Repeat([]byte("x"), 1<<20)
	start := time.Now()
	var werr error
	for i := 0; i < 200 && werr == nil; i++ { // far more than the socket buffers hold
		b.Hold()
		if werr = ws.Write(context.Background(), websocket.MessageText, big); werr == nil {
			werr = b.Release(time.Now().Add(300 * time.Millisecond))
		}
	}
	var ne net.Error
	if !errors.As(werr, &ne) || !ne.Timeout() {
		t.Fatalf("writes to a client reading nothing: %v, want a timeout", werr)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("the timeout took %s", d)
	}
}
