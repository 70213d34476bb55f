package arisim

import (
	"bufio"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"testing"
	"time"
)

// A flood leaves in batches, yet on the wire every event is what Asterisk
// writes: one unfragmented, unmasked text frame per event, in order.
func TestFloodFramesOnTheWire(t *testing.T) {
	s := testSim(t, Config{})
	u, _ := url.Parse(s.WebSocketURL())
	nc, err := net.Dial("tcp", u.Host)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	_ = nc.SetDeadline(time.Now().Add(20 * time.Second))
	req, _ := http.NewRequest("GET", s.WebSocketURL()+"?app=wire", nil)
	req.SetBasicAuth("proxy", "secret")
	req.Header.Set("Connection", "Upgrade")
	req.Header.Set("Upgrade", "websocket")
	req.Header.Set("Sec-WebSocket-Version", "13")
	req.Header.Set("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ==")
	if err := req.Write(nc); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(nc)
	resp, err := http.ReadResponse(br, req)
	if err != nil || resp.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("handshake: %v %v", resp, err)
	}
	for s.Flood(context.Background(), "wire", 0) != nil {
		time.Sleep(5 * time.Millisecond)
	}
	const n = 5000
	errc := make(chan error, 1)
	go func() { errc <- s.Flood(context.Background(), "wire", n) }()
	for i := range n {
		var h [2]byte
		if _, err := io.ReadFull(br, h[:]); err != nil {
			t.Fatalf("event %d: %v", i, err)
		}
		if h[0] != 0x81 || h[1]&0x80 != 0 {
			t.Fatalf("event %d: frame header %#x %#x, want a final unmasked text frame", i, h[0], h[1])
		}
		size := int(h[1] & 0x7f)
		switch size {
		case 126:
			var l [2]byte
			_, _ = io.ReadFull(br, l[:])
			size = int(binary.BigEndian.Uint16(l[:]))
		case 127:
			t.Fatalf("event %d: 64-bit length", i)
		}
		payload := make([]byte, size)
		if _, err := io.ReadFull(br, payload); err != nil {
			t.Fatalf("event %d: %v", i, err)
		}
		var ev struct {
			Type      string
			Userevent struct{ Seq string }
		}
		if err := json.Unmarshal(payload, &ev); err != nil || ev.Type != "ChannelUserevent" || ev.Userevent.Seq != strconv.Itoa(i) {
			t.Fatalf("event %d: %s (%v)", i, payload, err)
		}
	}
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
}

func TestBatchConnHolds(t *testing.T) {
	a, b := net.Pipe()
	defer a.Close()
	defer b.Close()
	c := &batchConn{Conn: a}
	c.startEvents()
	c.hold(true)
	for _, w := range []string{"one ", "two "} {
		if n, err := c.Write([]byte(w)); err != nil || n != len(w) {
			t.Fatalf("held write: %d %v", n, err)
		}
	}
	_ = b.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
	var buf [64]byte
	if n, err := b.Read(buf[:]); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("read %q (%v) while held, want nothing", buf[:n], err)
	}
	_ = b.SetReadDeadline(time.Time{})
	c.hold(false)
	done := make(chan error, 1)
	go func() { _, err := c.Write([]byte("three")); done <- err }()
	got, err := io.ReadAll(io.LimitReader(b, int64(len("one two three"))))
	if err != nil || string(got) != "one two three" {
		t.Fatalf("read %q (%v)", got, err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// A client that stops reading is dropped: each write has a deadline.
func TestBatchConnStuckReader(t *testing.T) {
	old := heldWriteTimeout
	heldWriteTimeout = 50 * time.Millisecond
	defer func() { heldWriteTimeout = old }()
	a, b := net.Pipe() // nobody reads b
	defer a.Close()
	defer b.Close()
	c := &batchConn{Conn: a}
	c.startEvents()
	start := time.Now()
	if _, err := c.Write([]byte("event")); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("write to a stuck reader: %v", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("write gave up after %s", d)
	}
}
