package ariconn

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/valyala/fasthttp"
)

// rest makes Asterisk's REST calls with fasthttp's HostClient: a call is
// written and its answer read by the calling goroutine on a pooled
// keep-alive connection. net/http hands every request to two goroutines
// of its own (a write loop and a read loop per connection) and builds
// header maps both ways; on the proxy's hot path that cost about 15 us of
// CPU per call more (docs/benchmarks.md, "The proxy's ARI client").
// The events WebSocket still dials with net/http (coder/websocket needs
// it); it is one long-lived connection.
type rest struct {
	hc   *fasthttp.HostClient
	base string // HTTPURL without trailing slash or user info
	auth []byte // Authorization header value; nil without credentials

	mu      sync.Mutex
	conns   map[*trackedConn]struct{} // open connections, for abort
	aborted atomic.Bool               // abort was called: retry nothing
}

// trackedConn is a connection of the pool that abort can cut.
type trackedConn struct {
	net.Conn
	r    *rest
	once sync.Once
}

func (t *trackedConn) Close() error {
	t.once.Do(func() {
		t.r.mu.Lock()
		delete(t.r.conns, t)
		t.r.mu.Unlock()
	})
	return t.Conn.Close()
}

// abort cuts every call in flight: their reads and writes fail at once.
// The pool then closes the connections.
func (r *rest) abort() {
	r.aborted.Store(true)
	r.mu.Lock()
	defer r.mu.Unlock()
	for t := range r.conns {
		_ = t.SetDeadline(time.Unix(1, 0))
	}
}

// Pool and timing limits of the REST client, chosen for Asterisk: at most
// 64 connections (below its session limit of 100), idle ones closed
// before its own keep-alive timeout (15 s by default) so that a reused
// connection is not one Asterisk just closed.
const (
	restMaxConns     = 64
	restIdleTimeout  = 10 * time.Second
	restDialTimeout  = 5 * time.Second
	restCallDeadline = 30 * time.Second // a call whose context has no deadline
)

func newREST(hu *url.URL, auth string, tlsConfig *tls.Config) *rest {
	host := hu.Host
	if hu.Port() == "" {
		host = net.JoinHostPort(hu.Hostname(), map[string]string{"http": "80", "https": "443"}[hu.Scheme])
	}
	r := &rest{base: strings.TrimSuffix(hu.String(), "/"), conns: map[*trackedConn]struct{}{}}
	r.hc = &fasthttp.HostClient{
		Addr:                host,
		IsTLS:               hu.Scheme == "https",
		TLSConfig:           tlsConfig,
		MaxConns:            restMaxConns,
		MaxConnWaitTimeout:  restCallDeadline,
		MaxIdleConnDuration: restIdleTimeout,
		MaxResponseBodySize: MaxResponseSize,
		Dial: func(addr string) (net.Conn, error) {
			c, err := fasthttp.DialTimeout(addr, restDialTimeout)
			if err != nil {
				return nil, err
			}
			t := &trackedConn{Conn: c, r: r}
			r.mu.Lock()
			r.conns[t] = struct{}{}
			r.mu.Unlock()
			return t, nil
		},
		RetryIfErr:               r.retry,
		NoDefaultUserAgentHeader: true,
		// op.Encode escapes the path: send it as it is.
		DisablePathNormalizing: true,
	}
	if auth != "" {
		r.auth = []byte(auth)
	}
	return r
}

// retry decides whether a failed call is made again on a new connection:
// only a GET, whose reused keep-alive connection turned out closed by
// Asterisk before answering (what net/http retries too), and never after
// abort. Other methods change state in Asterisk: once written they are
// not sent twice.
func (r *rest) retry(req *fasthttp.Request, attempts int, err error) (resetTimeout, retry bool) {
	if r.aborted.Load() || attempts > 1 || !req.Header.IsGet() {
		return false, false
	}
	return false, errors.Is(err, fasthttp.ErrConnectionClosed) || errors.Is(err, io.EOF)
}

// do makes one call. The context's deadline bounds it (restCallDeadline
// without one); a context already ended is not called. fasthttp cannot
// abandon one call in flight when its context is cancelled: a cancelled
// call runs to its deadline unless abort cuts every call (Conn.AbortCalls).
func (r *rest) do(ctx context.Context, method, path, query string, body []byte) (*Response, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("ariconn: %s %s: %w", method, path, err)
	}
	req := fasthttp.AcquireRequest()
	resp := fasthttp.AcquireResponse()
	defer fasthttp.ReleaseRequest(req)
	defer fasthttp.ReleaseResponse(resp)

	u := r.base + path
	if query != "" {
		u += "?" + query
	}
	req.SetRequestURI(u)
	req.Header.SetMethod(method)
	if r.auth != nil {
		req.Header.SetBytesV("Authorization", r.auth)
	}
	req.Header.Set("Accept", "application/json")
	if body != nil {
		req.Header.SetContentType("application/json")
		req.SetBodyRaw(body)
	}
	deadline, ok := ctx.Deadline()
	if !ok {
		deadline = time.Now().Add(restCallDeadline)
	}
	if err := r.hc.DoDeadline(req, resp, deadline); err != nil {
		if errors.Is(err, fasthttp.ErrTimeout) || errors.Is(err, fasthttp.ErrDialTimeout) {
			if ctx.Err() != nil || !time.Now().Before(deadline) {
				err = fmt.Errorf("%w (%v)", context.DeadlineExceeded, err)
			} else if r.aborted.Load() {
				err = fmt.Errorf("call cut by AbortCalls: %w", err)
			}
		}
		return nil, fmt.Errorf("ariconn: %s %s: %w", method, path, err)
	}
	// resp is released on return: the body must be copied.
	data := append([]byte(nil), resp.Body()...)
	return &Response{Status: resp.StatusCode(), Body: data}, nil
}
