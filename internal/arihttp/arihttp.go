// Package arihttp holds what every ARI server of the project (the
// simulator, the gateway) does exactly as Asterisk's HTTP server and
// res_ari do before an operation runs: authentication, reading the body,
// and the checks of the events WebSocket request.
package arihttp

import (
	"bufio"
	"context"
	"crypto/subtle"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/coder/websocket"
)

// MaxBody is the largest request body Asterisk's HTTP server reads.
const MaxBody = 40960

// Authenticated reports whether r carries user and password, as Basic
// credentials or api_key=user:password in the query or the form.
func Authenticated(r *http.Request, form url.Values, user, password string) bool {
	u, p, ok := r.BasicAuth()
	if !ok {
		key := r.URL.Query().Get("api_key")
		if key == "" {
			key = form.Get("api_key")
		}
		if key != "" {
			u, p, ok = strings.Cut(key, ":")
		}
	}
	if !ok {
		return false
	}
	uok := subtle.ConstantTimeCompare([]byte(u), []byte(user))
	pok := subtle.ConstantTimeCompare([]byte(p), []byte(password))
	return uok&pok == 1
}

// BodyError is Asterisk's refusal of a body: its status and the message of
// its {"message": ...} answer.
type BodyError struct {
	Status  int
	Message string
}

// ReadBody reads r's body (at most MaxBody bytes) and, for a form, its
// fields.
func ReadBody(r *http.Request) ([]byte, url.Values, *BodyError) {
	if r.Body == nil || r.Body == http.NoBody {
		return nil, nil, nil
	}
	b, err := io.ReadAll(io.LimitReader(r.Body, MaxBody+1))
	if err != nil {
		return nil, nil, &BodyError{400, "Error parsing request body"}
	}
	if len(b) > MaxBody {
		return nil, nil, &BodyError{413, "Request body too large"}
	}
	if MediaType(r) != "application/x-www-form-urlencoded" {
		return b, nil, nil
	}
	form, err := url.ParseQuery(string(b))
	if err != nil {
		return nil, nil, &BodyError{400, "Error parsing request body"}
	}
	return b, form, nil
}

// MediaType is the media type of r's Content-Type, lower case without
// parameters; "" when there is none.
func MediaType(r *http.Request) string {
	v := r.Header["Content-Type"]
	if len(v) == 0 || v[0] == "" {
		return ""
	}
	ctype, _, _ := mime.ParseMediaType(v[0])
	return ctype
}

// Refusal is Asterisk's answer to an events request it does not upgrade:
// an HTML error page (ast_http_error) when Title is set, else an empty
// answer with the header Sec-WebSocket-Version (a bad handshake).
type Refusal struct {
	Status      int
	Title, Text string
}

// Events checks GET /ari/events as Asterisk does before the handshake:
// the app parameter (400 pages), the Upgrade header (426), then the
// handshake itself (res_http_websocket.c: key, version 13, a subprotocol
// "ari" or none). It returns the applications, sorted and without
// repeats, and the subprotocol to answer ("ari" or "").
func Events(r *http.Request) (apps []string, proto string, refused *Refusal) {
	appParam := r.URL.Query().Get("app")
	var names []string
	for _, n := range strings.Split(appParam, ",") {
		if n = strings.TrimSpace(n); n != "" {
			names = append(names, n)
		}
	}
	if appParam == "" {
		return nil, "", &Refusal{http.StatusBadRequest, "Bad Request", "HTTP request is missing param: [app]"}
	}
	if len(names) == 0 || slices.ContainsFunc(names, func(n string) bool { return len(n) > 80 }) {
		return nil, "", &Refusal{http.StatusBadRequest, "Bad Request", "Invalid application provided in param [app]."}
	}
	if !strings.EqualFold(r.Header.Get("Upgrade"), "websocket") {
		return nil, "", &Refusal{http.StatusUpgradeRequired, "Upgrade Required", ""}
	}
	proto, ok := subprotocol(r.Header.Values("Sec-WebSocket-Protocol"))
	if !ok || r.Header.Get("Sec-WebSocket-Key") == "" || strings.TrimSpace(r.Header.Get("Sec-WebSocket-Version")) != "13" {
		return nil, "", &Refusal{Status: http.StatusBadRequest}
	}
	return slices.Compact(slices.Sorted(slices.Values(names))), proto, nil
}

// WebSocketVersions is the Sec-WebSocket-Version header of a refused
// handshake: the versions Asterisk speaks.
const WebSocketVersions = "7, 8, 13"

// subprotocol picks the protocol of a Sec-WebSocket-Protocol request
// header the way res_http_websocket.c does: none asked for is accepted
// (ARI is the one registered protocol), otherwise the first listed that is
// "ari"; ok is false when the client asked only for others.
func subprotocol(values []string) (proto string, ok bool) {
	if len(values) == 0 {
		return "", true
	}
	requested := strings.TrimSpace(values[len(values)-1])
	if requested == "" {
		return "", true
	}
	for _, p := range strings.Split(requested, ",") {
		if strings.TrimSpace(p) == "ari" {
			return "ari", true
		}
	}
	return "", false
}

// Write writes an answer as Asterisk's HTTP server does: Server and
// Cache-Control headers, and for a body its Content-Type (JSON unless
// ctype says) and Content-Length.
func Write(w http.ResponseWriter, server string, status int, header http.Header, ctype string, body []byte) {
	h := w.Header()
	for k, v := range header {
		h[k] = v
	}
	// The keys are canonical already; the constant values are shared (the
	// server copies the header before writing it).
	h["Server"] = []string{server}
	h["Cache-Control"] = noCache
	if body == nil {
		w.WriteHeader(status)
		return
	}
	if ctype == "" {
		h["Content-Type"] = jsonType
	} else {
		h["Content-Type"] = []string{ctype}
	}
	h["Content-Length"] = []string{strconv.Itoa(len(body))}
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

var (
	noCache  = []string{"no-cache, no-store"}
	jsonType = []string{"application/json"}
)

// ErrorPage is the HTML page of ast_http_error.
func ErrorPage(status int, title, text string) []byte {
	return fmt.Appendf(nil, "<!DOCTYPE HTML PUBLIC \"-//IETF//DTD HTML 2.0//EN\">\r\n"+
		"<html><head>\r\n<title>%d %s</title>\r\n</head><body>\r\n<h1>%s</h1>\r\n<p>%s</p>\r\n"+
		"<hr />\r\n<address>Asterisk Server</address>\r\n</body></html>\r\n", status, title, title, text)
}

// ServeBatchedWebSocket completes the handshake of an events WebSocket
// checked by Events (answering proto), hands the connection to attach
// with its Batch, then reads and ignores what the client sends, as
// Asterisk does, until it closes. It returns once the connection is gone
// (at once when the handshake fails). The Batch lets the messages written
// between its Hold and its Release go out in one write to the network
// instead of one each.
func ServeBatchedWebSocket(w http.ResponseWriter, r *http.Request, proto string, attach func(*websocket.Conn, *Batch)) {
	bw := &batchingWriter{ResponseWriter: w}
	opts := &websocket.AcceptOptions{InsecureSkipVerify: true}
	if proto != "" {
		opts.Subprotocols = []string{proto}
	}
	ws, err := websocket.Accept(bw, r, opts)
	if err != nil {
		return
	}
	ws.SetReadLimit(1 << 20)
	attach(ws, bw.batch) // set by the hijack of a successful handshake
	for {
		if _, _, err := ws.Read(context.Background()); err != nil {
			return
		}
	}
}

// WriteMessages writes msgs to ws as text messages, in order, held in b
// and sent in few network writes: one each time maxHeld bytes are held,
// and one at the end. Each network write must be taken by the reader
// before timeout; a reader that takes none for that long fails the write.
// The messages are the same frames coder/websocket writes one at a time.
func (b *Batch) WriteMessages(ws *websocket.Conn, msgs [][]byte, maxHeld int, timeout time.Duration) error {
	b.Hold()
	for _, m := range msgs {
		// No context: the deadline of the network write bounds it.
		if err := ws.Write(context.Background(), websocket.MessageText, m); err != nil {
			_ = b.Release(time.Now().Add(timeout))
			return err
		}
		if b.Buffered() >= maxHeld {
			if err := b.Release(time.Now().Add(timeout)); err != nil {
				return err
			}
			b.Hold()
		}
	}
	return b.Release(time.Now().Add(timeout))
}

// Batch is the network connection under a WebSocket of
// ServeBatchedWebSocket. coder/websocket flushes every message to the
// network on its own, one write (a system call and, on loopback, a wake-up
// of the reader) per message; between Hold and Release the bytes of the
// frames it writes are collected instead and Release writes them at once.
// The frames stay whole and in the library's order: only their grouping
// into writes changes. Frames the library writes while the batch is not
// held (a pong, the close) go out at once.
type Batch struct {
	net.Conn

	mu   sync.Mutex
	held bool
	buf  []byte
}

// batchKeep is the largest buffer a Batch keeps between batches.
const batchKeep = 1 << 20

// Write is the library's: collected while held, else written through.
func (b *Batch) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.held {
		b.buf = append(b.buf, p...)
		return len(p), nil
	}
	return b.Conn.Write(p)
}

// Hold starts collecting what the library writes.
func (b *Batch) Hold() {
	b.mu.Lock()
	b.held = true
	b.mu.Unlock()
}

// Buffered is how many bytes wait for Release.
func (b *Batch) Buffered() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.buf)
}

// Release writes what was collected, failing if the peer has not taken it
// by deadline, and stops collecting.
func (b *Batch) Release(deadline time.Time) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.held = false
	if len(b.buf) == 0 {
		return nil
	}
	if err := b.Conn.SetWriteDeadline(deadline); err != nil {
		return err
	}
	_, err := b.Conn.Write(b.buf)
	if derr := b.Conn.SetWriteDeadline(time.Time{}); err == nil {
		err = derr
	}
	if cap(b.buf) > batchKeep {
		b.buf = nil
	} else {
		b.buf = b.buf[:0]
	}
	return err
}

// batchingWriter hands coder/websocket, when it hijacks the connection, a
// Batch and a buffered writer on it instead of the bare connection.
type batchingWriter struct {
	http.ResponseWriter
	batch *Batch
}

func (w *batchingWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	nc, brw, err := http.NewResponseController(w.ResponseWriter).Hijack()
	if err != nil {
		return nil, nil, err
	}
	if err := brw.Writer.Flush(); err != nil {
		nc.Close()
		return nil, nil, err
	}
	w.batch = &Batch{Conn: nc}
	return w.batch, bufio.NewReadWriter(brw.Reader, bufio.NewWriter(w.batch)), nil
}

// Refuse writes refused as Asterisk does: its HTML page, or for a bad
// handshake an empty 400 naming the WebSocket versions Asterisk speaks.
func Refuse(w http.ResponseWriter, server string, refused *Refusal) {
	if refused.Title != "" {
		Write(w, server, refused.Status, nil, "text/html", ErrorPage(refused.Status, refused.Title, refused.Text))
		return
	}
	w.Header().Set("Sec-WebSocket-Version", WebSocketVersions)
	Write(w, server, refused.Status, nil, "", nil)
}
