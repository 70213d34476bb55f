// Package arihttp holds what every ARI server of the project (the
// simulator, the gateway) does exactly as Asterisk's HTTP server and
// res_ari do before an operation runs: authentication, reading the body,
// and the checks of the events WebSocket request.
package arihttp

import (
	"context"
	"crypto/subtle"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

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
	if r.Body == nil {
		return nil, nil, nil
	}
	b, err := io.ReadAll(io.LimitReader(r.Body, MaxBody+1))
	if err != nil {
		return nil, nil, &BodyError{400, "Error parsing request body"}
	}
	if len(b) > MaxBody {
		return nil, nil, &BodyError{413, "Request body too large"}
	}
	ctype, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if ctype != "application/x-www-form-urlencoded" {
		return b, nil, nil
	}
	form, err := url.ParseQuery(string(b))
	if err != nil {
		return nil, nil, &BodyError{400, "Error parsing request body"}
	}
	return b, form, nil
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
	for k, v := range header {
		w.Header()[k] = v
	}
	w.Header().Set("Server", server)
	w.Header().Set("Cache-Control", "no-cache, no-store")
	if body == nil {
		w.WriteHeader(status)
		return
	}
	if ctype == "" {
		ctype = "application/json"
	}
	w.Header().Set("Content-Type", ctype)
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// ErrorPage is the HTML page of ast_http_error.
func ErrorPage(status int, title, text string) []byte {
	return fmt.Appendf(nil, "<!DOCTYPE HTML PUBLIC \"-//IETF//DTD HTML 2.0//EN\">\r\n"+
		"<html><head>\r\n<title>%d %s</title>\r\n</head><body>\r\n<h1>%s</h1>\r\n<p>%s</p>\r\n"+
		"<hr />\r\n<address>Asterisk Server</address>\r\n</body></html>\r\n", status, title, title, text)
}

// ServeWebSocket completes the handshake of an events WebSocket checked by
// Events (answering proto), hands the connection to attach, then reads and
// ignores what the client sends, as Asterisk does, until it closes. It
// returns once the connection is gone (at once when the handshake fails).
func ServeWebSocket(w http.ResponseWriter, r *http.Request, proto string, attach func(*websocket.Conn)) {
	opts := &websocket.AcceptOptions{InsecureSkipVerify: true}
	if proto != "" {
		opts.Subprotocols = []string{proto}
	}
	ws, err := websocket.Accept(w, r, opts)
	if err != nil {
		return
	}
	ws.SetReadLimit(1 << 20)
	attach(ws)
	for {
		if _, _, err := ws.Read(context.Background()); err != nil {
			return
		}
	}
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
