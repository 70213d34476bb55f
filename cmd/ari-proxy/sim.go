package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"

	"github.com/ariproxy/ari-proxy/arisim"
	"github.com/ariproxy/ari-proxy/internal/config"
)

// Defaults of the sim command.
const (
	simDefaultListen   = "127.0.0.1:8088"
	simDefaultUser     = "asterisk"
	simDefaultPassword = "asterisk"
	simDefaultEntityID = "02:fc:00:00:00:01"
)

// sim serves the ARI simulator until ctx ends.
func sim(ctx context.Context, args []string, stderr io.Writer) error {
	fs := flag.NewFlagSet("ari-proxy sim", flag.ContinueOnError)
	fs.SetOutput(stderr)
	listen := fs.String("listen", simDefaultListen, "HOST:PORT to serve ARI on (port 0 picks a free one)")
	user := fs.String("user", simDefaultUser, "ARI user name the simulator accepts")
	password := fs.String("password", simDefaultPassword, "ARI password the simulator accepts")
	entityID := fs.String("entity-id", simDefaultEntityID, "Asterisk entity id the simulator reports (the node on the bus)")
	timeScale := fs.Float64("time-scale", 1, "multiplies simulated media and signalling durations (0.1: ten times faster)")
	logLevel := fs.String("log-level", "info", "debug, info, warn or error")
	logFormat := fs.String("log-format", "text", "text or json")
	var inbound inboundFlags
	inbound.register(fs)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), "Usage: ari-proxy sim [flags]\n\nServes a simulated Asterisk ARI (REST and events WebSocket) for development and tests.\n\nFlags:\n")
		fs.PrintDefaults()
	}
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *timeScale <= 0 {
		return usageError{fmt.Errorf("--time-scale must be more than zero, not %v", *timeScale)}
	}
	log, err := newLogger(stderr, *logLevel, *logFormat)
	if err != nil {
		return usageError{err}
	}
	var rate float64
	if inbound.rate != "" {
		if rate, err = parseRate(inbound.rate); err != nil {
			return usageError{err}
		}
	}
	if inbound.calls < 0 || inbound.hangupAfter < 0 {
		return usageError{fmt.Errorf("--inbound-calls and --inbound-hangup-after must not be negative")}
	}

	s := arisim.New(arisim.Config{User: *user, Password: *password, EntityID: *entityID, TimeScale: *timeScale, Logger: log})
	defer s.Close()
	ln, err := s.Listen(*listen)
	if err != nil {
		return fmt.Errorf("listening on %s: %w", *listen, err)
	}
	log.Info("ARI simulator listening", "addr", ln.Addr().String(), "http_url", s.URL(), "websocket_url", s.WebSocketURL(),
		"user", *user, "entity_id", *entityID)
	log.Info("to proxy it: ari-proxy serve", "env", fmt.Sprintf("ARI_HTTP_URL=%s ARI_WEBSOCKET_URL=%s ARI_USERNAME=%s ARI_PASSWORD=... ARI_APPLICATION=<app>",
		s.URL(), s.WebSocketURL(), *user))
	placed := make(chan struct{})
	if rate > 0 {
		go func() {
			defer close(placed)
			placeInbound(ctx, s, *user, *password, rate, inbound, log)
		}()
	} else {
		close(placed)
	}
	<-ctx.Done()
	log.Info("stopping the simulator")
	<-placed
	return nil
}

// newLogger builds the logger of the commands that do not read the
// server's configuration.
func newLogger(w io.Writer, level, format string) (*slog.Logger, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("--log-level must be debug, info, warn or error, not %q", level)
	}
	if format != "text" && format != "json" {
		return nil, fmt.Errorf("--log-format must be text or json, not %q", format)
	}
	return config.NewLogger(w, format, l), nil
}
