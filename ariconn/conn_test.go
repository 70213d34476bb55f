package ariconn

// Unit tests against small httptest servers, for what the simulator does
// not show: the exact request shapes, a server that stops answering
// pings, credentials in URLs. sim_test.go runs against arisim.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/ariproxy/ari-proxy/ari"
)

var quiet = slog.New(slog.DiscardHandler)

func TestNew(t *testing.T) {
	tests := []struct {
		name    string
		cfg     Config
		wantErr bool
		base    string
		ws      string
		user    string
	}{
		{name: "derived websocket", cfg: Config{HTTPURL: "http://h:8088/ari/", Applications: []string{"demo", "other"}},
			base: "http://h:8088/ari", ws: "ws://h:8088/ari/events?app=demo,other&subscribeAll=false"},
		{name: "https", cfg: Config{HTTPURL: "https://h/ari", SubscribeAll: true, Applications: []string{"a b"}},
			base: "https://h/ari", ws: "wss://h/ari/events?app=a+b&subscribeAll=true"},
		{name: "explicit websocket with query", cfg: Config{HTTPURL: "http://h/ari", WebSocketURL: "ws://w:1/ari/events?x=1", Applications: []string{"demo"}},
			base: "http://h/ari", ws: "ws://w:1/ari/events?x=1&app=demo&subscribeAll=false"},
		{name: "credentials in URL", cfg: Config{HTTPURL: "http://proxy:pw@h/ari"},
			base: "http://h/ari", ws: "ws://h/ari/events?app=&subscribeAll=false", user: "proxy"},
		{name: "no scheme", cfg: Config{HTTPURL: "h:8088/ari"}, wantErr: true},
		{name: "empty", cfg: Config{}, wantErr: true},
		{name: "bad websocket scheme", cfg: Config{HTTPURL: "http://h/ari", WebSocketURL: "ftp://h/"}, wantErr: true},
		{name: "comma in app", cfg: Config{HTTPURL: "http://h/ari", Applications: []string{"a,b"}}, wantErr: true},
		{name: "empty app", cfg: Config{HTTPURL: "http://h/ari", Applications: []string{""}}, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := New(tt.cfg)
			if tt.wantErr {
				if err == nil {
					t.Fatal("no error")
				}
				if strings.Contains(err.Error(), "pw") {
					t.Fatalf("error leaks password: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if c.base != tt.base || c.wsURL != tt.ws {
				t.Fatalf("base %q ws %q; want %q %q", c.base, c.wsURL, tt.base, tt.ws)
			}
			if tt.user != "" && c.cfg.Username != tt.user {
				t.Fatalf("user %q", c.cfg.Username)
			}
		})
	}
}

// seen is a request as the test server received it.
type seen struct {
	method, path, query, ctype string
	user, pass                 string
	body                       []byte
}

func TestDoRequestShape(t *testing.T) {
	got := make(chan seen, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u, p, _ := r.BasicAuth()
		b, _ := io.ReadAll(r.Body)
		got <- seen{r.Method, r.URL.EscapedPath(), r.URL.RawQuery, r.Header.Get("Content-Type"), u, p, b}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusConflict)
		w.Write([]byte(`{"message":"Channel not in Stasis application"}`))
	}))
	defer srv.Close()
	c, err := New(Config{HTTPURL: srv.URL + "/ari", Username: "proxy", Password: "pw", Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()

	resp, err := c.Do(ctx, ari.Lookup("channels.originate"), ari.Params{
		"endpoint": "Local/echo@default", "app": "demo", "appArgs": []string{"alpha", "beta"},
		"variables": map[string]string{"CALLERID(name)": "Alice"},
	})
	if err != nil {
		t.Fatal(err)
	}
	if resp.Status != http.StatusConflict || string(resp.Body) != `{"message":"Channel not in Stasis application"}` {
		t.Fatalf("response %d %s", resp.Status, resp.Body)
	}
	r := <-got
	if r.method != "POST" || r.path != "/ari/channels" || r.user != "proxy" || r.pass != "pw" || r.ctype != "application/json" {
		t.Fatalf("request %+v", r)
	}
	if r.query != "app=demo&appArgs=alpha%2Cbeta&endpoint=Local%2Fecho%40default" {
		t.Fatalf("query %q", r.query)
	}
	var body map[string]map[string]string
	if err := json.Unmarshal(r.body, &body); err != nil || body["variables"]["CALLERID(name)"] != "Alice" {
		t.Fatalf("body %s (%v)", r.body, err)
	}

	// No body: no Content-Type; path parameters escaped.
	if _, err := c.Do(ctx, ari.Lookup("channels.hangup"), ari.Params{"channelId": "a/b c"}); err != nil {
		t.Fatal(err)
	}
	r = <-got
	if r.method != "DELETE" || r.path != "/ari/channels/a%2Fb%20c" || r.ctype != "" || len(r.body) != 0 {
		t.Fatalf("request %+v", r)
	}

	// Bad params never reach the server.
	if _, err := c.Do(ctx, ari.Lookup("channels.hangup"), nil); !errors.Is(err, ari.ErrMissingParam) {
		t.Fatalf("missing param: %v", err)
	}
	if _, err := c.Do(ctx, ari.Lookup("channels.hangup"), ari.Params{"channelId": "x", "bogus": 1}); !errors.Is(err, ari.ErrUnknownParam) {
		t.Fatalf("unknown param: %v", err)
	}
	if _, err := c.Do(ctx, nil, nil); err == nil {
		t.Fatal("nil op accepted")
	}
	for _, op := range ari.Operations {
		if op.WebSocket {
			if _, err := c.Do(ctx, &op, nil); err == nil {
				t.Fatalf("%s: WebSocket op accepted", op.ID)
			}
		}
	}
	select {
	case r := <-got:
		t.Fatalf("unexpected request %+v", r)
	default:
	}
}

func TestDoTransportErrors(t *testing.T) {
	block := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-block:
		case <-r.Context().Done():
		}
	}))
	defer srv.Close()
	defer close(block)
	c, err := New(Config{HTTPURL: srv.URL + "/ari", Username: "proxy", Password: "s3cret", Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	_, err = c.Do(ctx, ari.Lookup("asterisk.getInfo"), nil)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want deadline exceeded", err)
	}
	if strings.Contains(err.Error(), "s3cret") {
		t.Fatalf("error leaks password: %v", err)
	}

	// Nothing listening.
	dead, err := New(Config{HTTPURL: "http://127.0.0.1:1/ari", Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := dead.Do(context.Background(), ari.Lookup("asterisk.getInfo"), nil); err == nil {
		t.Fatal("no error from a closed port")
	}
	if err := dead.Ping(context.Background()); err == nil {
		t.Fatal("Ping: no error from a closed port")
	}
}

// wsServer is an events WebSocket that records each connection's request
// and runs serve on it.
type wsServer struct {
	*httptest.Server
	mu    sync.Mutex
	reqs  []*http.Request
	conns atomic.Int32
}

func newWSServer(t *testing.T, serve func(n int, c *websocket.Conn)) *wsServer {
	s := &wsServer{}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if u, p, ok := r.BasicAuth(); !ok || u != "proxy" || p != "pw" {
			w.WriteHeader(http.StatusUnauthorized)
			w.Write([]byte(`{"message":"Authentication required"}`))
			return
		}
		s.mu.Lock()
		s.reqs = append(s.reqs, r)
		s.mu.Unlock()
		c, err := websocket.Accept(w, r, nil)
		if err != nil {
			return
		}
		defer c.CloseNow()
		serve(int(s.conns.Add(1)), c)
	}))
	t.Cleanup(s.Close)
	return s
}

// stateLog records onState calls.
type stateLog struct {
	mu sync.Mutex
	s  []bool
	ch chan bool
}

func newStateLog() *stateLog { return &stateLog{ch: make(chan bool, 100)} }

func (l *stateLog) on(up bool) {
	l.mu.Lock()
	l.s = append(l.s, up)
	l.mu.Unlock()
	l.ch <- up
}

func (l *stateLog) wait(t *testing.T, want bool) {
	t.Helper()
	select {
	case got := <-l.ch:
		if got != want {
			t.Fatalf("onState(%v), want %v", got, want)
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("no onState(%v)", want)
	}
}

func TestRunOrderAndReconnect(t *testing.T) {
	srv := newWSServer(t, func(n int, c *websocket.Conn) {
		ctx := c.CloseRead(context.Background())
		for i := range 3 {
			if err := c.Write(ctx, websocket.MessageText, []byte{byte('0' + n), byte('a' + i)}); err != nil {
				return
			}
		}
		if n == 1 {
			return // drop the first connection
		}
		<-ctx.Done()
	})
	c, err := New(Config{HTTPURL: srv.URL + "/ari", Username: "proxy", Password: "pw",
		Applications: []string{"demo", "other"}, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	events := make(chan string, 10)
	states := newStateLog()
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx, func(raw []byte) { events <- string(raw) }, states.on) }()

	states.wait(t, true)
	if err := c.Run(ctx, func([]byte) {}, nil); err == nil {
		t.Fatal("second concurrent Run accepted")
	}
	states.wait(t, false)
	states.wait(t, true)
	want := []string{"1a", "1b", "1c", "2a", "2b", "2c"}
	for _, w := range want {
		select {
		case e := <-events:
			if e != w {
				t.Fatalf("event %q, want %q", e, w)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("no event %q", w)
		}
	}
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("Run = %v", err)
	}
	states.wait(t, false)

	srv.mu.Lock()
	defer srv.mu.Unlock()
	r := srv.reqs[0]
	if r.URL.Path != "/ari/events" || r.URL.RawQuery != "app=demo,other&subscribeAll=false" {
		t.Fatalf("websocket request %s?%s", r.URL.Path, r.URL.RawQuery)
	}
}

func TestRunUnauthorized(t *testing.T) {
	var logs bytes.Buffer
	var mu sync.Mutex
	log := slog.New(slog.NewTextHandler(lockedWriter{&mu, &logs}, nil))
	srv := newWSServer(t, func(int, *websocket.Conn) {})
	c, err := New(Config{HTTPURL: srv.URL + "/ari", Username: "proxy", Password: "wrong-secret",
		Applications: []string{"demo"}, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	states := newStateLog()
	if err := c.Run(ctx, func([]byte) {}, states.on); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Run = %v", err)
	}
	mu.Lock()
	out := logs.String()
	mu.Unlock()
	if !strings.Contains(out, "level=ERROR") || !strings.Contains(out, "bad credentials") {
		t.Fatalf("no error log for 401:\n%s", out)
	}
	if strings.Contains(out, "wrong-secret") {
		t.Fatalf("log leaks password:\n%s", out)
	}
	if len(states.s) != 0 {
		t.Fatalf("onState called: %v", states.s)
	}
	if err := c.Ping(context.Background()); !errors.Is(err, ErrUnauthorized) {
		t.Fatalf("Ping = %v", err)
	}
}

type lockedWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

func (l lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// A server that keeps the TCP connection but stops answering (never reads,
// so never sends a pong) is dropped after a ping timeout.
func TestRunPingTimeout(t *testing.T) {
	srv := newWSServer(t, func(n int, c *websocket.Conn) {
		time.Sleep(5 * time.Second) // neither read nor write
	})
	c, err := New(Config{HTTPURL: srv.URL + "/ari", Username: "proxy", Password: "pw",
		Applications: []string{"demo"}, Logger: quiet, PingInterval: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	states := newStateLog()
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx, func([]byte) {}, states.on) }()
	states.wait(t, true)
	states.wait(t, false)
	states.wait(t, true)
	cancel()
	<-done
}

func TestRunNoApplications(t *testing.T) {
	c, err := New(Config{HTTPURL: "http://127.0.0.1:1/ari", Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Run(context.Background(), func([]byte) {}, nil); err == nil {
		t.Fatal("Run without applications")
	}
}

func TestBackoff(t *testing.T) {
	var d time.Duration
	var steps []time.Duration
	for range 8 {
		d = nextDelay(d)
		steps = append(steps, d)
	}
	want := []time.Duration{100, 200, 400, 800, 1600, 3200, 5000, 5000}
	for i := range want {
		if steps[i] != want[i]*time.Millisecond {
			t.Fatalf("steps %v", steps)
		}
	}
	for range 1000 {
		if j := jitter(time.Second); j < 500*time.Millisecond || j > time.Second {
			t.Fatalf("jitter %v", j)
		}
	}
}

// Messages of every size come whole and each in a slice of its own, which
// handle may keep: the reader's scratch buffer grows and is reused.
func TestRunMessageSizes(t *testing.T) {
	sizes := []int{0, 1, 200, 4095, 4096, 4097, 70000, 10, 3 << 20, 5}
	msg := func(i, n int) []byte { return bytes.Repeat([]byte{byte('a' + i)}, n) }
	srv := newWSServer(t, func(_ int, c *websocket.Conn) {
		ctx := c.CloseRead(context.Background())
		for i, n := range sizes {
			if err := c.Write(ctx, websocket.MessageText, msg(i, n)); err != nil {
				return
			}
		}
		<-ctx.Done()
	})
	c, err := New(Config{HTTPURL: srv.URL + "/ari", Username: "proxy", Password: "pw", Applications: []string{"demo"}, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	got := make(chan []byte, len(sizes))
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx, func(raw []byte) { got <- raw }, nil) }()
	var kept [][]byte
	for range sizes {
		select {
		case raw := <-got:
			kept = append(kept, raw)
		case <-time.After(10 * time.Second):
			t.Fatalf("%d of %d messages", len(kept), len(sizes))
		}
	}
	for i, n := range sizes {
		if !bytes.Equal(kept[i], msg(i, n)) {
			t.Fatalf("message %d: %d bytes, want %d of %c", i, len(kept[i]), n, rune('a'+i))
		}
	}
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("Run = %v", err)
	}
}
