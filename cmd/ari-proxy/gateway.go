package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/ariproxy/ari-proxy/client"
	"github.com/ariproxy/ari-proxy/gateway"
	"github.com/ariproxy/ari-proxy/internal/config"
)

// gatewaySetting is one setting of the gateway command: a flag, the
// environment variables read when the flag is not given (the server's
// names for the bus settings), and its default.
type gatewaySetting struct {
	flag, usage, def string
	env              []string
	value            *string
}

// gatewayCmd serves plain ARI for the cluster until ctx ends.
func gatewayCmd(ctx context.Context, args []string, stderr io.Writer) error {
	fs := flag.NewFlagSet("ari-proxy gateway", flag.ContinueOnError)
	fs.SetOutput(stderr)
	settings := []*gatewaySetting{
		{flag: "listen", env: []string{"ARI_PROXY_GATEWAY_LISTEN"}, def: "127.0.0.1:8088", usage: "HOST:PORT to serve ARI on"},
		{flag: "user", env: []string{"ARI_PROXY_GATEWAY_USER"}, usage: "user name ARI clients give the gateway (its own, not Asterisk's; required)"},
		{flag: "password", env: []string{"ARI_PROXY_GATEWAY_PASSWORD"}, usage: "password ARI clients give the gateway (required)"},
		{flag: "application", env: []string{"ARI_APPLICATION"}, usage: "default application of REST requests that name none (required)"},
		{flag: "bus-url", env: []string{"MESSAGEBUS_URL", "NATS_URL"}, def: config.DefaultBusURL, usage: "message bus: nats://HOST:PORT[,nats://...]"},
		{flag: "prefix", env: []string{"ARI_PROXY_PREFIX"}, def: config.DefaultPrefix, usage: "subject prefix on the bus"},
		{flag: "request-timeout", env: []string{"ARI_PROXY_REQUEST_TIMEOUT"}, def: config.DefaultRequestTimeout.String(), usage: "longest time one request may take"},
		{flag: "log-level", env: []string{"ARI_PROXY_LOG_LEVEL"}, def: config.DefaultLogLevel, usage: "debug, info, warn or error"},
		{flag: "log-format", env: []string{"ARI_PROXY_LOG_FORMAT"}, def: config.DefaultLogFormat, usage: "text or json"},
	}
	for _, s := range settings {
		s.value = new(string)
		usage := s.usage + " (env " + strings.Join(s.env, ", ") + ")"
		fs.StringVar(s.value, s.flag, "", usage)
	}
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), "Usage: ari-proxy gateway [flags]\n\nServes plain ARI (REST, the events WebSocket, api-docs) for every ari-proxy server on the bus.\n\nFlags:\n")
		fs.PrintDefaults()
	}
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	get := map[string]string{}
	for _, s := range settings {
		v := *s.value
		for _, e := range s.env {
			if v == "" {
				v = os.Getenv(e)
			}
		}
		if v == "" {
			v = s.def
		}
		get[s.flag] = v
	}
	for _, req := range []string{"user", "password", "application"} {
		if get[req] == "" {
			return usageError{fmt.Errorf("--%s is required", req)}
		}
	}
	timeout, err := time.ParseDuration(get["request-timeout"])
	if err != nil || timeout <= 0 {
		return usageError{fmt.Errorf("--request-timeout must be a positive duration, not %q", get["request-timeout"])}
	}
	log, err := newLogger(stderr, get["log-level"], get["log-format"])
	if err != nil {
		return usageError{err}
	}
	app, _, _ := strings.Cut(get["application"], ",")
	c, err := client.New(ctx, client.WithURL(get["bus-url"]), client.WithPrefix(get["prefix"]),
		client.WithApplication(app), client.WithTimeout(timeout), client.WithLogger(log))
	if err != nil {
		return err
	}
	defer c.Close()
	g, err := gateway.New(gateway.Config{Client: c, User: get["user"], Password: get["password"], Logger: log})
	if err != nil {
		return usageError{err}
	}
	defer g.Close()
	ln, err := net.Listen("tcp", get["listen"])
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: g, ReadHeaderTimeout: 10 * time.Second}
	log.Info("gateway listening", "addr", ln.Addr().String(), "application", app, "servers", len(c.Servers()))
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil && !errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	return nil
}
