// Package natsserver runs a nats-server in this process: the embedded bus
// of ari-proxy (the default), of its demo and of the tests. It is a package
// of its own so that programs that only connect to a bus (anything built on
// package client) do not link nats-server; connect to it with
// natsbus.ConnectInProcess (in-process) or natsbus.Connect (TCP).
package natsserver

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
)

// DefaultAddr is where the embedded server listens when the
// configuration says just "embedded".
const DefaultAddr = "127.0.0.1:4222"

// DefaultMaxPayload is the embedded server's largest message: ARI answers
// (channel lists, recordings) can outgrow nats-server's 1 MiB default.
const DefaultMaxPayload = 8 << 20

// readyTimeout bounds how long Start waits for the server
// to accept connections.
const readyTimeout = 10 * time.Second

// Server is a nats-server running in this process.
type Server struct {
	srv      *server.Server
	tls      bool
	user     string
	password string
	token    string
	once     sync.Once
	tempDir  string // JetStream store made for this server, removed at Shutdown
}

// Option configures Start.
type Option func(*options)

type options struct {
	user, password string
	token          string
	tlsConfig      *tls.Config
	logger         *slog.Logger
	maxPayload     int32
	serverName     string
	jetStream      bool
	storeDir       string
	clusterName    string
	clusterAddr    string
	routes         []string
}

// WithUserPassword makes clients authenticate with user and password
// ("nats://user:password@host:port").
func WithUserPassword(user, password string) Option {
	return func(o *options) { o.user, o.password = user, password }
}

// WithToken makes clients authenticate with token ("nats://token@host:port").
func WithToken(token string) Option {
	return func(o *options) { o.token = token }
}

// WithTLS makes the server require TLS with cfg (which holds its
// certificate; set ClientAuth and ClientCAs for mutual TLS).
func WithTLS(cfg *tls.Config) Option {
	return func(o *options) { o.tlsConfig = cfg }
}

// WithLogger sends the server's log to l (notices at info, debug
// lines only when l enables debug) instead of slog.Default().
func WithLogger(l *slog.Logger) Option {
	return func(o *options) { o.logger = l }
}

// WithMaxPayload sets the largest message the server accepts (default
// DefaultMaxPayload).
func WithMaxPayload(n int32) Option {
	return func(o *options) { o.maxPayload = n }
}

// WithName names the server (shown to clients and in its log).
func WithName(name string) Option {
	return func(o *options) { o.serverName = name }
}

// WithJetStream turns JetStream on (durable mode), storing in dir; "" makes
// a temporary directory, removed at Shutdown.
func WithJetStream(dir string) Option {
	return func(o *options) { o.jetStream, o.storeDir = true, dir }
}

// WithCluster makes the server a member of the NATS cluster name: it
// listens for routes on addr ("host:port", port 0 picks one) and connects
// to the other members at routes ("nats://host:port" each; its own
// address may be among them). Members need distinct names (WithName);
// with JetStream they replicate streams among them.
func WithCluster(name, addr string, routes ...string) Option {
	return func(o *options) { o.clusterName, o.clusterAddr, o.routes = name, addr, routes }
}

// Start starts a nats-server in this process listening on addr
// ("host:port"; port 0 picks a free port; "" is DefaultAddr) and
// waits until it accepts connections. ctx bounds the start only: the
// server runs until Shutdown. The server installs no signal handlers and
// logs through slog.
func Start(ctx context.Context, addr string, opts ...Option) (*Server, error) {
	o := options{maxPayload: DefaultMaxPayload}
	for _, opt := range opts {
		opt(&o)
	}
	if addr == "" {
		addr = DefaultAddr
	}
	host, port, err := splitAddr(addr)
	if err != nil {
		return nil, fmt.Errorf("natsserver address %q: %w", addr, err)
	}
	if port == 0 {
		port = server.RANDOM_PORT // nats-server reads 0 as "the default port"
	}
	if o.token != "" && (o.user != "" || o.password != "") {
		return nil, errors.New("natsserver: token and user/password are exclusive")
	}
	sopts := &server.Options{
		ServerName:    o.serverName,
		Host:          host,
		Port:          port,
		NoSigs:        true,
		MaxPayload:    o.maxPayload,
		Username:      o.user,
		Password:      o.password,
		Authorization: o.token,
		TLSConfig:     o.tlsConfig,
		// HTTP monitoring stays off; clustering and JetStream only when
		// asked for (WithCluster, WithJetStream).
	}
	if o.tlsConfig != nil {
		sopts.TLSTimeout = 2 // seconds
	}
	var tempDir string
	if o.jetStream {
		sopts.JetStream = true
		sopts.StoreDir = o.storeDir
		if o.storeDir == "" {
			d, err := os.MkdirTemp("", "ari-proxy-jetstream-")
			if err != nil {
				return nil, fmt.Errorf("natsserver: JetStream store: %w", err)
			}
			tempDir, sopts.StoreDir = d, d
		}
	}
	removeTemp := func() {
		if tempDir != "" {
			_ = os.RemoveAll(tempDir)
		}
	}
	if o.clusterName != "" {
		chost, cport, err := splitAddr(o.clusterAddr)
		if err != nil {
			removeTemp()
			return nil, fmt.Errorf("natsserver cluster address %q: %w", o.clusterAddr, err)
		}
		if cport == 0 {
			cport = server.RANDOM_PORT
		}
		sopts.Cluster = server.ClusterOpts{Name: o.clusterName, Host: chost, Port: cport}
		for _, r := range o.routes {
			u, err := url.Parse(r)
			if err != nil {
				removeTemp()
				return nil, fmt.Errorf("natsserver route %q: %w", r, err)
			}
			sopts.Routes = append(sopts.Routes, u)
		}
	}
	srv, err := server.NewServer(sopts)
	if err != nil {
		removeTemp()
		return nil, fmt.Errorf("natsserver: %w", err)
	}
	log := o.logger
	if log == nil {
		log = slog.Default()
	}
	sl := &serverLogger{log: log.With("component", "nats-server"), fatal: make(chan string, 1)}
	srv.SetLoggerV2(sl, log.Enabled(ctx, slog.LevelDebug), false, false)
	srv.Start()

	ready := make(chan bool, 1)
	go func() { ready <- srv.ReadyForConnections(readyTimeout) }()
	fail := func(err error) (*Server, error) {
		srv.Shutdown()
		srv.WaitForShutdown()
		removeTemp()
		return nil, fmt.Errorf("natsserver on %s: %w", addr, err)
	}
	select {
	case ok := <-ready:
		if !ok {
			return fail(errors.New("not ready after " + readyTimeout.String()))
		}
	case msg := <-sl.fatal:
		return fail(errors.New(msg))
	case <-ctx.Done():
		return fail(ctx.Err())
	}
	return &Server{srv: srv, tls: o.tlsConfig != nil, user: o.user, password: o.password, token: o.token, tempDir: tempDir}, nil
}

// ClusterURL returns the route URL other cluster members connect to
// ("nats://host:port"), "" when the server is not clustered.
func (e *Server) ClusterURL() string {
	a := e.srv.ClusterAddr()
	if a == nil {
		return ""
	}
	return "nats://" + a.String()
}

// Server returns the nats-server itself.
func (e *Server) Server() *server.Server { return e.srv }

// Addr returns the "host:port" the server listens on for clients.
func (e *Server) Addr() string {
	if a := e.srv.Addr(); a != nil {
		return a.String()
	}
	return ""
}

// ClientURL returns the URL clients connect to, without credentials
// ("nats://host:port", or "tls://host:port" with WithTLS). An unspecified
// listening host (0.0.0.0, ::) becomes the loopback address.
func (e *Server) ClientURL() string {
	host, port, err := net.SplitHostPort(e.Addr())
	if err != nil {
		return e.srv.ClientURL()
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsUnspecified() {
		host = "127.0.0.1"
		if ip.To4() == nil {
			host = "::1"
		}
	}
	u := url.URL{Scheme: "nats", Host: net.JoinHostPort(host, port)}
	if e.tls {
		u.Scheme = "tls"
	}
	return u.String()
}

// InProcessOptions are the nats.go options that connect to the server
// in-process (no TCP, no TLS) with the credentials it was started with:
// natsbus.ConnectInProcess uses them.
func (e *Server) InProcessOptions() []nats.Option {
	opts := []nats.Option{nats.InProcessServer(e.srv)}
	switch {
	case e.token != "":
		opts = append(opts, nats.Token(e.token))
	case e.user != "" || e.password != "":
		opts = append(opts, nats.UserInfo(e.user, e.password))
	}
	return opts
}

// Shutdown stops the server and waits until it has stopped. Calling it
// again does nothing.
func (e *Server) Shutdown() {
	e.once.Do(func() {
		e.srv.Shutdown()
		e.srv.WaitForShutdown()
		if e.tempDir != "" {
			_ = os.RemoveAll(e.tempDir)
		}
	})
}

// ParseURL reads the bus URL forms that ask for the embedded
// server: "" and "embedded" or "embedded://" give DefaultAddr;
// "embedded://HOST:PORT" gives HOST:PORT, where a missing host is
// 127.0.0.1 (listen on all interfaces with "embedded://0.0.0.0:PORT") and
// a missing port is 4222. ok is false for any other URL (a real NATS
// server's).
func ParseURL(u string) (addr string, ok bool) {
	u = strings.TrimSpace(u)
	if u == "" || u == "embedded" {
		return DefaultAddr, true
	}
	rest, found := strings.CutPrefix(u, "embedded://")
	if !found {
		return "", false
	}
	rest = strings.TrimSuffix(rest, "/")
	if rest == "" {
		return DefaultAddr, true
	}
	host, port, err := net.SplitHostPort(rest)
	if err != nil {
		// No port ("embedded://0.0.0.0", "embedded://[::1]").
		host, port = strings.Trim(rest, "[]"), "4222"
		if strings.ContainsAny(host, "/@?#[]") {
			return "", false
		}
	}
	if host == "" {
		host = "127.0.0.1"
	}
	addr = net.JoinHostPort(host, port)
	if _, _, err := splitAddr(addr); err != nil {
		return "", false
	}
	return addr, true
}

// splitAddr splits "host:port" with a numeric port.
func splitAddr(addr string) (string, int, error) {
	host, portStr, err := net.SplitHostPort(addr)
	if err != nil {
		return "", 0, err
	}
	port, err := strconv.Atoi(portStr)
	if err != nil || port < 0 || port > 65535 {
		return "", 0, fmt.Errorf("bad port %q", portStr)
	}
	return host, port, nil
}

// serverLogger adapts nats-server's Logger to slog.
type serverLogger struct {
	log   *slog.Logger
	fatal chan string // the first fatal error, which stops the server's start
}

func (l *serverLogger) Noticef(format string, v ...any) { l.log.Info(fmt.Sprintf(format, v...)) }
func (l *serverLogger) Warnf(format string, v ...any)   { l.log.Warn(fmt.Sprintf(format, v...)) }
func (l *serverLogger) Errorf(format string, v ...any)  { l.log.Error(fmt.Sprintf(format, v...)) }
func (l *serverLogger) Debugf(format string, v ...any)  { l.log.Debug(fmt.Sprintf(format, v...)) }
func (l *serverLogger) Tracef(format string, v ...any)  { l.log.Debug(fmt.Sprintf(format, v...)) }

// Fatalf logs at error level; nats-server's own logger would exit the
// process, which an embedded server must not do.
func (l *serverLogger) Fatalf(format string, v ...any) {
	msg := fmt.Sprintf(format, v...)
	l.log.Error(msg, "fatal", true)
	select {
	case l.fatal <- msg:
	default:
	}
}
