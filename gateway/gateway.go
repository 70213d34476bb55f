// Package gateway serves plain ARI (REST, the events WebSocket and the
// api-docs) for a whole ari-proxy cluster: an ARI application written for
// one Asterisk, with any ARI library, is pointed at the gateway instead
// and drives every Asterisk behind the bus.
//
// The gateway is a client of the bus like any other: it sends each REST
// operation through the Go client (client.DoExact, the generic kind of
// the operation, which carries Asterisk's body unchanged) to the node that
// has the resource, merges lists over every node, and relays the events of
// every node to the WebSockets, handing each new call (StasisStart) to
// exactly one WebSocket across all gateway instances, as client.Listen
// does. docs/gateway.md gives the routing rules.
package gateway

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ariproxy/ari-proxy/client"
	"github.com/ariproxy/ari-proxy/internal/arihttp"
	"github.com/ariproxy/ari-proxy/wire"
)

// NodeHeader and NodeParam are the node hint of a request: the node
// (Asterisk entity id, as in asterisk_id) a per-box request (GET
// /asterisk/info, /asterisk/variable...) or a create must go to. The query
// parameter is removed before the request is relayed.
const (
	NodeHeader = "X-ARI-Proxy-Node"
	NodeParam  = "ari_proxy_node"
)

// Config configures a Gateway.
type Config struct {
	// Client is the bus client the gateway sends through; its application
	// is the default one of REST requests that name none. Required.
	Client *client.Client
	// User and Password are the credentials ARI clients must give (Basic
	// or api_key=user:password): the gateway's own, never Asterisk's.
	User, Password string
	// Logger receives the gateway's logs; nil: none.
	Logger *slog.Logger
	// PendingTimeout is how long events of a resource this instance does
	// not own wait for it to become owned (its StasisStart handed here,
	// its create answered here) before they are dropped as another
	// instance's. Default 5s.
	PendingTimeout time.Duration
}

// Gateway serves ARI over the bus. It is an http.Handler for /ari/...
type Gateway struct {
	c    *client.Client
	user string
	pass string
	log  *slog.Logger

	loc      *locations
	lastNode atomic.Value // string: node of the latest call handed out or created
	ev       *eventHub
	close    sync.Once
}

// app is the client of application name (the default one for ""). A
// derived client registers with its root only once it subscribes, so one
// derived for a request is garbage after it; one that subscribed (a feed)
// is closed by release.
func (g *Gateway) app(name string) *client.Client {
	if name == "" || name == g.c.ApplicationName() {
		return g.c
	}
	return g.c.WithApplication(name)
}

// release closes c when app derived it.
func (g *Gateway) release(c *client.Client) {
	if c != g.c {
		_ = c.Close()
	}
}

// New returns a gateway sending through cfg.Client.
func New(cfg Config) (*Gateway, error) {
	if cfg.Client == nil {
		return nil, errors.New("gateway: no client")
	}
	if cfg.User == "" || cfg.Password == "" {
		return nil, errors.New("gateway: user and password are required")
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if cfg.PendingTimeout <= 0 {
		cfg.PendingTimeout = 5 * time.Second
	}
	g := &Gateway{c: cfg.Client, user: cfg.User, pass: cfg.Password, log: log, loc: newLocations()}
	g.ev = newEventHub(g, cfg.PendingTimeout)
	return g, nil
}

// Close ends the WebSockets and the gateway's subscriptions. The client is
// the caller's to close.
func (g *Gateway) Close() error {
	g.close.Do(g.ev.close)
	return nil
}

// authenticated checks Basic credentials or api_key=user:password, as
// Asterisk does, against the gateway's own credentials.
func (g *Gateway) authenticated(r *http.Request, form url.Values) bool {
	return arihttp.Authenticated(r, form, g.user, g.pass)
}

// locations remembers which node has which resource, learned from the
// replies and events the gateway sees.
type locations struct {
	mu    sync.Mutex
	nodes map[locKey]string
}

type locKey struct{ kind, id string }

func newLocations() *locations { return &locations{nodes: map[locKey]string{}} }

func (l *locations) node(kind, id string) string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.nodes[locKey{kind, id}]
}

func (l *locations) set(kind, id, node string) {
	if kind == "" || id == "" || node == "" {
		return
	}
	l.mu.Lock()
	l.nodes[locKey{kind, id}] = node
	l.mu.Unlock()
}

// setRefs records that node has refs (an event's resources).
func (l *locations) setRefs(refs []wire.Ref, node string) {
	if len(refs) == 0 || node == "" {
		return
	}
	l.mu.Lock()
	for _, r := range refs {
		if r.Kind == "" || r.ID == "" {
			continue
		}
		k := locKey{r.Kind, r.ID}
		if l.nodes[k] != node {
			l.nodes[k] = node
		}
	}
	l.mu.Unlock()
}

func (l *locations) forget(kind, id string) {
	l.mu.Lock()
	delete(l.nodes, locKey{kind, id})
	l.mu.Unlock()
}

// errNoServer is the 503 when no server serves the application.
func noServerMessage(app string) string {
	return fmt.Sprintf("No ari-proxy server serves application %s", app)
}

// affinity is the node of the latest call this gateway handed to a
// WebSocket or created, "" before any.
func (g *Gateway) affinity() string {
	n, _ := g.lastNode.Load().(string)
	return n
}

func (g *Gateway) setAffinity(node string) {
	if node != "" {
		g.lastNode.Store(node)
	}
}
