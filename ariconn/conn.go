// Package ariconn is the connection from the proxy server to one Asterisk:
// REST calls made from rows of the ari operation table, and the events
// WebSocket, reconnected with backoff.
package ariconn

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"

	"github.com/ariproxy/ari-proxy/ari"
)

// Config is what a Conn needs to reach one Asterisk.
type Config struct {
	HTTPURL      string // base of the REST API, e.g. http://127.0.0.1:8088/ari
	WebSocketURL string // the events WebSocket, e.g. ws://127.0.0.1:8088/ari/events; "": HTTPURL's /events
	Username     string // "": the user of HTTPURL, if any
	Password     string
	Applications []string // Stasis applications to register on the WebSocket
	SubscribeAll bool
	// TLSConfig is used for https:// and wss:// URLs; nil: the system's
	// roots and Go's defaults.
	TLSConfig *tls.Config
	Logger    *slog.Logger // nil: slog.Default()

	// PingInterval is how often Run pings Asterisk on the WebSocket to
	// notice a connection that died silently (host gone, no TCP reset);
	// without a pong within min(10s, PingInterval) Run reconnects.
	// 0: DefaultPingInterval; negative: never.
	PingInterval time.Duration
}

// Limits and timings.
const (
	DefaultPingInterval = 30 * time.Second
	// MaxEventSize is the largest WebSocket message Run accepts.
	MaxEventSize = 16 << 20
	// MaxResponseSize is the largest REST answer body Do accepts.
	MaxResponseSize = 64 << 20

	dialTimeout       = 10 * time.Second
	pingTimeout       = 10 * time.Second
	backoffMin        = 100 * time.Millisecond
	backoffMax        = 5 * time.Second
	unauthorizedDelay = 10 * time.Second // after a 401 on dial: a configuration error, retry slowly
	healthyAfter      = time.Minute      // a WebSocket up this long resets the backoff
)

// ErrUnauthorized means Asterisk rejected the credentials (HTTP 401).
// Run logs it and keeps retrying; Ping returns it wrapped.
var ErrUnauthorized = errors.New("ariconn: Asterisk refused the credentials (HTTP 401)")

// pingOp is GET /asterisk/ping, from the operation table.
var pingOp = ari.OpAsteriskPing.Op()

// ErrStatus is wrapped by Ping for an answer other than 2xx and 401.
var ErrStatus = errors.New("ariconn: unexpected HTTP status")

// Response is Asterisk's answer to a REST call.
type Response struct {
	Status int
	Body   []byte
}

// Conn is a connection to one Asterisk's ARI. It is safe for concurrent
// use; Run must not be called again while it runs.
type Conn struct {
	cfg     Config
	base    string       // HTTPURL without trailing slash or user info
	wsURL   string       // WebSocketURL with the app and subscribeAll query
	wsLog   string       // wsURL safe to log
	client  *http.Client // the WebSocket dial
	rest    *rest        // REST calls
	log     *slog.Logger
	running atomic.Bool
	// auth is the Authorization header value, made once rather than per
	// request ("" without credentials).
	auth string
}

// New checks cfg and returns a Conn. It does not connect yet.
func New(cfg Config) (*Conn, error) {
	hu, err := url.Parse(cfg.HTTPURL)
	if err != nil || (hu.Scheme != "http" && hu.Scheme != "https") || hu.Host == "" {
		return nil, fmt.Errorf("ariconn: HTTPURL %q: want http(s)://host[:port]/ari", redactURL(cfg.HTTPURL))
	}
	if hu.User != nil {
		// Credentials in the URL: use them unless given apart, and keep
		// them out of request URLs (and so out of errors and logs).
		if cfg.Username == "" {
			cfg.Username = hu.User.Username()
			cfg.Password, _ = hu.User.Password()
		}
		hu.User = nil
	}
	hu.RawQuery, hu.Fragment = "", ""
	c := &Conn{cfg: cfg, base: strings.TrimSuffix(hu.String(), "/")}
	if cfg.Username != "" || cfg.Password != "" {
		c.auth = "Basic " + base64.StdEncoding.EncodeToString([]byte(cfg.Username+":"+cfg.Password))
	}

	ws := cfg.WebSocketURL
	if ws == "" {
		wu := *hu
		wu.Scheme = map[string]string{"http": "ws", "https": "wss"}[hu.Scheme]
		wu.Path = strings.TrimSuffix(wu.Path, "/") + "/events"
		ws = wu.String()
	}
	wu, err := url.Parse(ws)
	if err != nil || wu.Host == "" {
		return nil, fmt.Errorf("ariconn: WebSocketURL %q: want ws(s)://host[:port]/ari/events", redactURL(ws))
	}
	switch wu.Scheme {
	case "ws", "wss", "http", "https":
	default:
		return nil, fmt.Errorf("ariconn: WebSocketURL %q: want ws(s)://host[:port]/ari/events", redactURL(ws))
	}
	if wu.User != nil {
		if c.cfg.Username == "" {
			c.cfg.Username = wu.User.Username()
			c.cfg.Password, _ = wu.User.Password()
		}
		wu.User = nil
	}
	for _, app := range cfg.Applications {
		if app == "" || strings.Contains(app, ",") {
			return nil, fmt.Errorf("ariconn: application name %q: empty or with a comma", app)
		}
	}
	// Asterisk reads app as a comma-separated list: keep the commas
	// literal, as Asterisk's own clients send them.
	apps := make([]string, len(cfg.Applications))
	for i, a := range cfg.Applications {
		apps[i] = url.QueryEscape(a)
	}
	q := "app=" + strings.Join(apps, ",") + "&subscribeAll=" + strconv.FormatBool(cfg.SubscribeAll)
	if wu.RawQuery != "" {
		q = wu.RawQuery + "&" + q
	}
	wu.RawQuery = q
	c.wsURL = wu.String()
	c.wsLog = wu.Scheme + "://" + wu.Host + wu.Path

	tr := NewTransport()
	tr.TLSClientConfig = cfg.TLSConfig
	c.client = &http.Client{Transport: tr}
	c.rest = newREST(hu, c.auth, cfg.TLSConfig)
	c.log = cfg.Logger
	if c.log == nil {
		c.log = slog.Default()
	}
	c.log = c.log.With("component", "ariconn", "asterisk", hu.Host)
	return c, nil
}

// NewTransport returns the net/http transport a Conn dials the events
// WebSocket with, also what a Go application calling ARI directly would
// use (the benchmarks' direct side): keep-alive with room for many concurrent calls, idle
// connections dropped before Asterisk's own keep-alive timeout (15 s by
// default) so that a reused connection is not one Asterisk just closed,
// and at most 64 connections, below Asterisk's session limit (100).
func NewTransport() *http.Transport {
	return &http.Transport{
		Proxy: http.ProxyFromEnvironment,
		DialContext: (&net.Dialer{
			Timeout:   5 * time.Second,
			KeepAlive: 30 * time.Second,
		}).DialContext,
		MaxIdleConns:          128,
		MaxIdleConnsPerHost:   64,
		MaxConnsPerHost:       64,
		IdleConnTimeout:       10 * time.Second,
		TLSHandshakeTimeout:   5 * time.Second,
		ResponseHeaderTimeout: 30 * time.Second,
		ExpectContinueTimeout: time.Second,
		// Asterisk speaks HTTP/1.1 only, and WebSocket upgrades need it.
		ForceAttemptHTTP2: false,
	}
}

// Do makes the REST call op with params. A non-2xx answer is a Response,
// not an error; errors are transport failures and bad params.
func (c *Conn) Do(ctx context.Context, op *ari.Operation, params ari.Params) (*Response, error) {
	if op == nil {
		return nil, errors.New("ariconn: nil operation")
	}
	if op.WebSocket {
		return nil, fmt.Errorf("ariconn: %s is the events WebSocket, not a REST call", op.ID)
	}
	path, query, body, err := op.Encode(params)
	if err != nil {
		return nil, fmt.Errorf("ariconn: %w", err)
	}
	return c.rest.do(ctx, op.Method, path, query.Encode(), body)
}

// AbortCalls cuts every REST call in flight: each fails at once with an
// I/O error. Do follows its context's deadline but cannot abandon one call
// when its context is cancelled; a server stopping past its bound calls
// this instead.
func (c *Conn) AbortCalls() { c.rest.abort() }

// Ping asks Asterisk whether it is there (GET /asterisk/ping). It returns
// nil on a 2xx answer, an error wrapping ErrUnauthorized on 401 and one
// wrapping ErrStatus on any other status.
func (c *Conn) Ping(ctx context.Context) error {
	resp, err := c.Do(ctx, pingOp, nil)
	if err != nil {
		return err
	}
	switch {
	case resp.Status >= 200 && resp.Status < 300:
		return nil
	case resp.Status == http.StatusUnauthorized:
		return fmt.Errorf("ariconn: ping: %w", ErrUnauthorized)
	default:
		return fmt.Errorf("ariconn: %w", c.StatusError("ping", resp))
	}
}

// Run holds the events WebSocket until ctx ends: it calls handle with each
// event's exact bytes, sequentially and in the order Asterisk sent them,
// and reconnects with backoff when the connection drops. onState, if not
// nil, is told each time the WebSocket goes up or down.
//
// Details: handle may keep raw (each message is a new slice) and should
// not block long (it runs on the reading goroutine, so a stuck handle
// also delays the answers to Run's pings). onState(true) follows each
// successful dial and onState(false) each loss of a connection that was
// up (including the one ctx ends), never two alike in a row; the state
// before the first dial is down. Reconnection waits 100 ms doubling to
// 5 s with jitter, reset after a connection that stayed up a minute; a
// 401 (bad credentials) is logged at error level and retried every 10 s,
// so the proxy recovers when Asterisk's configuration is fixed. Run
// returns ctx.Err() when ctx ends, or at once an error when Config has no
// Applications or Run is already running.
func (c *Conn) Run(ctx context.Context, handle func(raw []byte), onState func(up bool)) error {
	if len(c.cfg.Applications) == 0 {
		return errors.New("ariconn: Run: no Applications configured (Asterisk requires app)")
	}
	if !c.running.CompareAndSwap(false, true) {
		return errors.New("ariconn: Run: already running")
	}
	defer c.running.Store(false)
	if onState == nil {
		onState = func(bool) {}
	}

	var delay time.Duration // current backoff step; 0 before the first failure
	failures := 0
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		ws, err := c.dial(ctx)
		var wait time.Duration
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			failures++
			delay = nextDelay(delay)
			wait = jitter(delay)
			if errors.Is(err, ErrUnauthorized) {
				wait = unauthorizedDelay
				c.log.Error("ARI WebSocket refused: bad credentials ("+hintCredentials+"); retrying", "url", c.wsLog, "user", c.cfg.Username, "retry_in", wait)
			} else {
				level := slog.LevelWarn
				if failures > 1 && failures%10 != 0 {
					level = slog.LevelDebug // an outage: say it once, then now and then
				}
				c.log.Log(ctx, level, "ARI WebSocket dial failed; retrying", "url", c.wsLog, "err", err, "attempt", failures, "retry_in", wait)
			}
		} else {
			if failures > 0 {
				c.log.Info("ARI WebSocket connected", "url", c.wsLog, "after_attempts", failures+1)
			} else {
				c.log.Info("ARI WebSocket connected", "url", c.wsLog)
			}
			failures = 0
			onState(true)
			start := time.Now()
			err := c.read(ctx, ws, handle)
			onState(false)
			if ctx.Err() != nil {
				return ctx.Err()
			}
			if time.Since(start) >= healthyAfter {
				delay = 0
			}
			delay = nextDelay(delay)
			wait = jitter(delay)
			c.log.Warn("ARI WebSocket lost; reconnecting", "url", c.wsLog, "err", err, "retry_in", wait)
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
	}
}

// dial opens the events WebSocket.
func (c *Conn) dial(ctx context.Context) (*websocket.Conn, error) {
	dctx, cancel := context.WithTimeout(ctx, dialTimeout)
	defer cancel()
	h := http.Header{}
	if c.cfg.Username != "" || c.cfg.Password != "" {
		req := http.Request{Header: h}
		req.SetBasicAuth(c.cfg.Username, c.cfg.Password)
	}
	ws, resp, err := websocket.Dial(dctx, c.wsURL, &websocket.DialOptions{HTTPClient: c.client, HTTPHeader: h})
	if err != nil {
		if resp != nil {
			var body []byte
			if resp.Body != nil {
				body, _ = io.ReadAll(resp.Body)
			}
			switch resp.StatusCode {
			case http.StatusUnauthorized:
				return nil, ErrUnauthorized
			case http.StatusSwitchingProtocols:
			default:
				return nil, c.statusError("WebSocket handshake", resp.StatusCode, body, c.wsLog, hintWebSocket)
			}
		}
		return nil, err
	}
	ws.SetReadLimit(MaxEventSize)
	return ws, nil
}

// read passes the messages of ws to handle until the connection fails or
// ctx ends, pinging Asterisk meanwhile.
func (c *Conn) read(ctx context.Context, ws *websocket.Conn, handle func([]byte)) error {
	defer ws.CloseNow() //nolint:errcheck // the connection is done either way
	rctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	if every := c.pingInterval(); every > 0 {
		go func() {
			t := time.NewTicker(every)
			defer t.Stop()
			for {
				select {
				case <-rctx.Done():
					return
				case <-t.C:
				}
				pctx, pcancel := context.WithTimeout(rctx, min(pingTimeout, every))
				err := ws.Ping(pctx)
				pcancel()
				if err != nil && rctx.Err() == nil {
					// Cancelling the read closes the connection.
					cancel(fmt.Errorf("no answer to ping: %w", err))
					return
				}
			}
		}()
	}
	// Reads get a context that never ends and the connection is closed
	// when rctx ends instead: for a context that can end, the WebSocket
	// library arms and disarms a watch on it for every frame it reads
	// (two per event), which costs more than the rest of the read.
	stop := context.AfterFunc(rctx, func() { _ = ws.CloseNow() })
	defer stop()
	var m messageReader
	for {
		data, err := m.next(ws)
		if err != nil {
			if cause := context.Cause(rctx); cause != nil && ctx.Err() == nil {
				return cause
			}
			return err
		}
		handle(data)
	}
}

// messageReader reads whole WebSocket messages through a scratch buffer
// it keeps, so that each message costs one allocation of its exact size
// (io.ReadAll, as websocket.Conn.Read uses, starts at 512 bytes and grows
// by copying).
type messageReader struct{ scratch []byte }

// keptScratch is the largest scratch buffer kept between messages.
const keptScratch = 1 << 20

// next returns the next data message of ws, a new slice.
func (m *messageReader) next(ws *websocket.Conn) ([]byte, error) {
	_, r, err := ws.Reader(context.Background())
	if err != nil {
		return nil, err
	}
	buf := m.scratch[:0]
	if cap(buf) == 0 {
		buf = make([]byte, 0, 4096)
	}
	for {
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
		n, err := r.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}
	}
	if cap(buf) <= keptScratch {
		m.scratch = buf
	}
	return bytes.Clone(buf), nil
}

func (c *Conn) pingInterval() time.Duration {
	switch {
	case c.cfg.PingInterval == 0:
		return DefaultPingInterval
	case c.cfg.PingInterval < 0:
		return 0
	default:
		return c.cfg.PingInterval
	}
}

// nextDelay doubles the backoff step from backoffMin up to backoffMax.
func nextDelay(d time.Duration) time.Duration {
	if d < backoffMin {
		return backoffMin
	}
	return min(2*d, backoffMax)
}

// jitter spreads d over [d/2, d], so that proxies restarted together do
// not redial in step.
func jitter(d time.Duration) time.Duration {
	return d/2 + rand.N(d/2+1)
}

// redactURL hides the user information of u, for error messages.
func redactURL(u string) string {
	pu, err := url.Parse(u)
	if err != nil {
		if at := strings.LastIndex(u, "@"); at >= 0 {
			return "redacted" + u[at:]
		}
		return u
	}
	if pu.User != nil {
		pu.User = url.User("redacted")
	}
	return pu.String()
}
