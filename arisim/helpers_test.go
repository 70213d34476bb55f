package arisim

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/ariproxy/ari-proxy/internal/sharedtest"
)

// tline is one line of a transcript.
type tline = sharedtest.TranscriptLine

// loadTranscript reads the shared transcript name (without .jsonl).
func loadTranscript(t testing.TB, name string) []tline {
	t.Helper()
	return sharedtest.ReadJSONL[tline](t, filepath.Join(sharedtest.Path(t, "ari", "transcripts"), name+".jsonl"))
}

// testSim starts a simulator on a random port and closes it at cleanup.
func testSim(t testing.TB, cfg Config) *Sim {
	t.Helper()
	if cfg.User == "" {
		cfg.User, cfg.Password = "proxy", "secret"
	}
	s := New(cfg)
	if _, err := s.Listen("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// clockedSim is a simulator on a ManualClock standing at t0 + the time
// advanced, served so that advance first waits until the simulator has
// finished handling every REST request answered so far: it works on after
// writing an answer (resp.after), and what it schedules then must be on
// the clock before the clock moves.
type clockedSim struct {
	*Sim
	clock    *ManualClock
	t0       time.Time
	handling sync.WaitGroup
}

func newClockedSim(t testing.TB, cfg Config) *clockedSim {
	t.Helper()
	if cfg.User == "" {
		cfg.User, cfg.Password = "proxy", "secret"
	}
	cs := &clockedSim{t0: time.Now()}
	cs.clock = NewManualClock(cs.t0)
	cfg.Clock = cs.clock
	cs.Sim = New(cfg)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/ari/events" {
			cs.handling.Add(1)
			defer cs.handling.Done()
		}
		cs.ServeHTTP(w, r)
	}))
	cs.srvMu.Lock()
	cs.addr = srv.Listener.Addr().String()
	cs.srvMu.Unlock()
	t.Cleanup(func() {
		_ = cs.Close()
		srv.Close()
	})
	return cs
}

// advance moves the clock to t0+d once the requests answered are handled.
func (cs *clockedSim) advance(d time.Duration) {
	cs.handling.Wait()
	cs.clock.AdvanceTo(cs.t0.Add(d))
}

// call makes one authenticated REST call; body is sent as JSON when not
// nil.
func call(t testing.TB, s *Sim, method, path, query string, body any) (int, []byte) {
	t.Helper()
	return callAuth(t, s, method, path, query, body, s.user, s.password)
}

func callAuth(t testing.TB, s *Sim, method, path, query string, body any, user, pass string) (int, []byte) {
	t.Helper()
	u := s.URL() + path
	if query != "" {
		u += "?" + query
	}
	var rd io.Reader
	if body != nil {
		switch b := body.(type) {
		case json.RawMessage:
			rd = bytes.NewReader(b)
		case string:
			rd = strings.NewReader(b)
		default:
			rd = bytes.NewReader(jsonOf(b))
		}
	}
	req, err := http.NewRequest(method, u, rd)
	if err != nil {
		t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if user != "" {
		req.SetBasicAuth(user, pass)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	data, _ := io.ReadAll(res.Body)
	return res.StatusCode, data
}

// wsClient is a test events WebSocket that records every message.
type wsClient struct {
	conn *websocket.Conn
	mu   sync.Mutex
	msgs []map[string]any
	raw  [][]byte
	wake chan struct{}
	done chan struct{}
}

// dialEvents connects an events WebSocket (query: app=..., subscribeAll)
// and returns once the applications have registered.
func dialEvents(t testing.TB, s *Sim, query string) *wsClient {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	hdr := http.Header{}
	req, _ := http.NewRequest("GET", "http://x", nil)
	req.SetBasicAuth(s.user, s.password)
	hdr.Set("Authorization", req.Header.Get("Authorization"))
	conn, _, err := websocket.Dial(ctx, s.WebSocketURL()+"?"+query, &websocket.DialOptions{HTTPHeader: hdr})
	if err != nil {
		t.Fatalf("websocket: %v", err)
	}
	conn.SetReadLimit(1 << 22)
	c := &wsClient{conn: conn, wake: make(chan struct{}, 1), done: make(chan struct{})}
	go func() {
		defer close(c.done)
		for {
			_, data, err := conn.Read(context.Background())
			if err != nil {
				return
			}
			var m map[string]any
			_ = json.Unmarshal(data, &m)
			c.mu.Lock()
			c.msgs = append(c.msgs, m)
			c.raw = append(c.raw, data)
			c.mu.Unlock()
			select {
			case c.wake <- struct{}{}:
			default:
			}
		}
	}()
	t.Cleanup(func() { _ = conn.CloseNow(); <-c.done })
	// No pause: the applications are registered before the 101 is sent.
	return c
}

func (c *wsClient) events() []map[string]any {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]map[string]any(nil), c.msgs...)
}

// waitFor waits until an event satisfies match and returns it.
func (c *wsClient) waitFor(t testing.TB, what string, match func(m map[string]any) bool) map[string]any {
	t.Helper()
	deadline := time.After(5 * time.Second)
	seen := 0
	for {
		c.mu.Lock()
		for ; seen < len(c.msgs); seen++ {
			if match(c.msgs[seen]) {
				m := c.msgs[seen]
				c.mu.Unlock()
				return m
			}
		}
		c.mu.Unlock()
		select {
		case <-c.wake:
		case <-deadline:
			t.Fatalf("timed out waiting for %s; got %v", what, typesOf(c.events()))
		case <-c.done:
			t.Fatalf("websocket closed waiting for %s; got %v", what, typesOf(c.events()))
		}
	}
}

// waitType waits for the next event of a type (optionally about a channel).
func (c *wsClient) waitType(t testing.TB, typ string, chanID string) map[string]any {
	t.Helper()
	return c.waitFor(t, typ+" "+chanID, func(m map[string]any) bool {
		if m["type"] != typ {
			return false
		}
		if chanID == "" {
			return true
		}
		ch, _ := m["channel"].(map[string]any)
		return ch != nil && ch["id"] == chanID
	})
}

func typesOf(list []map[string]any) []string {
	out := make([]string, 0, len(list))
	for _, m := range list {
		s, _ := m["type"].(string)
		if ch, ok := m["channel"].(map[string]any); ok {
			s += "(" + ch["id"].(string) + ")"
		}
		out = append(out, s)
	}
	return out
}

func decode(t testing.TB, b []byte) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("decode %s: %v", b, err)
	}
	return m
}
