package arisim

import (
	"bufio"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/ariproxy/ari-proxy/arisim/apidocs"
)

// A client that connects and at once originates into its application gets
// the StasisStart every time: ari_websockets.c registers the session's
// applications before res_http_websocket.c writes the 101, so nothing
// raised after the handshake can miss them.
func TestConnectThenOriginate(t *testing.T) {
	s := testSim(t, Config{})
	const rounds = 100
	ok := 0
	for i := range rounds {
		app := fmt.Sprintf("race%d", i)
		ws := dialEvents(t, s, "app="+app)
		id := fmt.Sprintf("race-%d", i)
		st, body := call(t, s, "POST", "/channels", "endpoint=Local/echo@default&app="+app+"&channelId="+id, nil)
		if st != 200 {
			t.Fatalf("round %d: originate: %d %s", i, st, body)
		}
		if waitStasisStart(ws, id, 2*time.Second) {
			ok++
		}
		_ = ws.conn.CloseNow()
		<-ws.done
	}
	t.Logf("connect-then-originate: %d/%d rounds got StasisStart", ok, rounds)
	if ok != rounds {
		t.Errorf("connect-then-originate: %d/%d rounds got StasisStart", ok, rounds)
	}
}

func waitStasisStart(ws *wsClient, id string, d time.Duration) bool {
	deadline := time.After(d)
	for {
		for _, m := range ws.events() {
			ch, _ := m["channel"].(map[string]any)
			if m["type"] == "StasisStart" && ch != nil && ch["id"] == id {
				return true
			}
		}
		select {
		case <-ws.wake:
		case <-deadline:
			return false
		case <-ws.done:
			return false
		}
	}
}

// An event raised while the handshake is written is queued for the
// connection, not lost: the writer starts with whatever is waiting.
func TestEventsBeforeHandshakeAreQueued(t *testing.T) {
	s := testSim(t, Config{})
	conn := &wsConn{s: s, limit: 10, done: make(chan struct{})}
	conn.init()
	conn.enqueue([]byte(`{"type":"early"}`))
	if len(conn.queue) != 1 {
		t.Fatalf("queued %d messages before the socket exists, want 1", len(conn.queue))
	}
	// A connection dropped before its socket exists shuts down cleanly.
	conn.shutdown()
}

// dialRaw opens an events WebSocket with the given subprotocols and
// returns the handshake response.
func dialRaw(t *testing.T, s *Sim, app string, protocols ...string) (*websocket.Conn, *http.Response, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	req, _ := http.NewRequest("GET", "http://x", nil)
	req.SetBasicAuth(s.user, s.password)
	hdr := http.Header{"Authorization": {req.Header.Get("Authorization")}}
	return websocket.Dial(ctx, s.WebSocketURL()+"?app="+app, &websocket.DialOptions{HTTPHeader: hdr, Subprotocols: protocols})
}

// Sec-WebSocket-Protocol: ari is answered with that protocol (RFC 6455
// clients such as ws and browsers fail without it); a list is searched in
// order; none is accepted as Asterisk's one registered protocol; an
// unsupported one is 400 Bad Request with Sec-WebSocket-Version
// (websocket_bad_request in res_http_websocket.c).
func TestWebSocketSubprotocol(t *testing.T) {
	s := testSim(t, Config{})
	for _, tc := range []struct {
		name      string
		protocols []string
		want      string
	}{
		{"ari", []string{"ari"}, "ari"},
		{"list", []string{"chat", "ari"}, "ari"},
		{"none", nil, ""},
	} {
		conn, res, err := dialRaw(t, s, "demo", tc.protocols...)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if got := res.Header.Get("Sec-WebSocket-Protocol"); got != tc.want || conn.Subprotocol() != tc.want {
			t.Errorf("%s: Sec-WebSocket-Protocol %q (conn %q), want %q", tc.name, got, conn.Subprotocol(), tc.want)
		}
		_ = conn.CloseNow()
	}
	_, res, err := dialRaw(t, s, "refused", "chat")
	if err == nil {
		t.Fatal("unsupported subprotocol accepted")
	}
	if res == nil || res.StatusCode != 400 || res.Header.Get("Sec-WebSocket-Version") != "7, 8, 13" {
		t.Fatalf("unsupported subprotocol: %v %v", res, err)
	}
	// The refused connection registered nothing.
	if st, body := call(t, s, "GET", "/applications/refused", "", nil); st != 404 {
		t.Errorf("refused connection left its application: %d %s", st, body)
	}
}

// The api-docs are parsed and re-serialised in the compact format, with
// basePath set to this server (ast_ari_get_docs): no indentation survives
// and the document is what the file says.
func TestAPIDocsCompact(t *testing.T) {
	s := testSim(t, Config{})
	for _, name := range []string{"resources.json", "channels.json", "events.json"} {
		st, body := call(t, s, "GET", "/api-docs/"+name, "", nil)
		if st != 200 {
			t.Fatalf("%s: %d", name, st)
		}
		if strings.ContainsAny(string(body), "\t\n") {
			t.Errorf("%s: not compact (%d bytes)", name, len(body))
		}
		var doc map[string]any
		if err := json.Unmarshal(body, &doc); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if want := s.URL(); doc["basePath"] != want {
			t.Errorf("%s: basePath %v, want %s", name, doc["basePath"], want)
		}
		raw, _ := apidocs.Raw(name)
		var file map[string]any
		_ = json.Unmarshal(raw, &file)
		file["basePath"] = doc["basePath"]
		if a, b := jsonOf(file), jsonOf(doc); string(a) != string(b) {
			t.Errorf("%s: served document differs from the file", name)
		}
	}
}

// The Server header and /asterisk/info name the same version, as
// main/http.c builds server_name from ast_get_version().
func TestServerHeaderVersion(t *testing.T) {
	s := testSim(t, Config{})
	req, _ := http.NewRequest("GET", s.URL()+"/asterisk/info", nil)
	req.SetBasicAuth(s.user, s.password)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var info struct {
		System struct {
			Version string `json:"version"`
		} `json:"system"`
	}
	if err := json.NewDecoder(res.Body).Decode(&info); err != nil {
		t.Fatal(err)
	}
	if want := "Asterisk/" + info.System.Version; info.System.Version == "" || res.Header.Get("Server") != want {
		t.Errorf("Server %q, /asterisk/info version %q: want Server %q", res.Header.Get("Server"), info.System.Version, want)
	}
}

// A handshake Asterisk refuses (no key, an unsupported version) is 400
// before the session is attempted: it registers nothing and does not take
// over the application of the socket that holds it.
func TestBadHandshakeTakesNothingOver(t *testing.T) {
	s := testSim(t, Config{})
	ws := dialEvents(t, s, "app=demo")
	for _, hdr := range []map[string]string{
		{"Sec-WebSocket-Version": "12", "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ=="},
		{"Sec-WebSocket-Version": "13"},
	} {
		req, _ := http.NewRequest("GET", s.URL()+"/events?app=demo", nil)
		req.SetBasicAuth(s.user, s.password)
		req.Header.Set("Upgrade", "websocket")
		req.Header.Set("Connection", "Upgrade")
		for k, v := range hdr {
			req.Header.Set(k, v)
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_ = res.Body.Close()
		if res.StatusCode != 400 || res.Header.Get("Sec-WebSocket-Version") != "7, 8, 13" {
			t.Errorf("%v: %d %v", hdr, res.StatusCode, res.Header)
		}
	}
	originateInStasis(t, s, ws, "still-mine")
	for _, m := range ws.events() {
		if m["type"] == "ApplicationReplaced" {
			t.Fatal("a refused handshake took the application over")
		}
	}
}

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
