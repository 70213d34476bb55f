// Package config is the proxy server's configuration: every setting, where
// it comes from (flags, environment, an optional JSON file, defaults, in
// that order of precedence) and how it is checked.
//
// Each setting is one row of a table (Settings), so the flags, the
// environment variables, the file keys, the usage text and the README's
// configuration table all describe the same list. Every value is checked
// when the configuration is loaded; an error names the setting, says where
// the bad value came from and shows it (passwords excepted), and wraps
// ErrInvalid.
package config

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/ariproxy/ari-proxy/bus/natsbus"
	"github.com/ariproxy/ari-proxy/bus/natsserver"
)

// ErrInvalid is wrapped by every error about a bad setting.
var ErrInvalid = errors.New("invalid configuration")

// Defaults of the settings that have one.
const (
	DefaultHTTPURL          = "http://127.0.0.1:8088/ari"
	DefaultWebSocketURL     = "ws://127.0.0.1:8088/ari/events"
	DefaultBusURL           = "embedded://127.0.0.1:4222"
	DefaultPrefix           = "ari."
	DefaultAnnounceInterval = 10 * time.Second
	DefaultRequestTimeout   = 10 * time.Second
	DefaultMaxConcurrent    = 64
	DefaultShutdownTimeout  = 10 * time.Second
	DefaultDurableMaxAge    = time.Hour
	DefaultDurableMaxBytes  = 1 << 30
	DefaultDurableReplicas  = 1
	DefaultLogLevel         = "info"
	DefaultLogFormat        = "text"
)

// Config is the proxy server's configuration, checked.
type Config struct {
	Applications []string // Stasis applications served, at least one
	Username     string   // ARI user
	Password     string   // ARI password; never printed
	HTTPURL      string   // base of the ARI REST API, http:// or https://
	WebSocketURL string   // the ARI events WebSocket, ws:// or wss://
	SubscribeAll bool     // ask Asterisk for the events of every resource

	// BusURL is the message bus: nats://, tls:// (a comma-separated list
	// for a cluster) or embedded://HOST:PORT for an in-process nats-server.
	BusURL          string
	CredentialsFile string // NATS credentials (.creds) file, "" for none
	RootCA          string // PEM file of the CA that signed the bus's certificate
	ClientCert      string // PEM client certificate for the bus (with ClientKey)
	ClientKey       string // PEM key of ClientCert

	// NodeID replaces Asterisk's entity id as the server's node on the
	// bus; "" means the entity id.
	NodeID string

	Prefix           string        // subject prefix, "ari." by default
	AnnounceInterval time.Duration // time between announcements
	RequestTimeout   time.Duration // longest time one request may take
	MaxConcurrent    int           // requests handled at once
	ShutdownTimeout  time.Duration // how long ARI calls in flight may finish at a stop

	// Durable mode (NATS JetStream): events are kept in a stream.
	Durable         bool
	DurableStoreDir string        // JetStream store of the embedded server, "" for a temporary one
	DurableMaxAge   time.Duration // events older than this leave the stream
	DurableMaxBytes int64         // the stream's size limit; the oldest events go first
	DurableReplicas int           // stream replicas in a NATS cluster (1, 3 or 5)

	LogLevel    slog.Level
	LogFormat   string // "text" or "json"
	MetricsAddr string // listen address of /metrics, /livez and /readyz, "" for none

	// File is the configuration file that was read, "" when none.
	File string
}

// Setting is one configuration setting: its names in each source and how
// a value is checked and stored.
type Setting struct {
	Flag    string   // flag name without dashes, e.g. "ari-http-url"
	Env     []string // environment variables, the preferred one first
	Default string   // as it would be written on the command line
	Usage   string
	Secret  bool // the value is never shown
	Bool    bool // a flag that needs no value

	set func(c *Config, v string) error
}

// Key is the setting's key in a configuration file.
func (s *Setting) Key() string { return strings.ReplaceAll(s.Flag, "-", "_") }

// Name is the name errors use for the setting: its main environment variable.
func (s *Setting) Name() string { return s.Env[0] }

// Settings lists every setting, in the order usage shows them.
var Settings = []*Setting{
	{Flag: "application", Env: []string{"ARI_APPLICATION"}, Usage: "Stasis application(s) to serve, comma-separated", set: setApplications},
	{Flag: "ari-username", Env: []string{"ARI_USERNAME"}, Usage: "ARI user name (required)", set: func(c *Config, v string) error {
		if v == "" {
			return errors.New("is required")
		}
		c.Username = v
		return nil
	}},
	{Flag: "ari-password", Env: []string{"ARI_PASSWORD"}, Usage: "ARI password (required)", Secret: true, set: func(c *Config, v string) error {
		if v == "" {
			return errors.New("is required")
		}
		c.Password = v
		return nil
	}},
	{Flag: "ari-http-url", Env: []string{"ARI_HTTP_URL"}, Default: DefaultHTTPURL, Usage: "base URL of the ARI REST API", set: func(c *Config, v string) error {
		u, err := checkURL(v, "http", "https")
		c.HTTPURL = u
		return err
	}},
	{Flag: "ari-websocket-url", Env: []string{"ARI_WEBSOCKET_URL"}, Default: DefaultWebSocketURL, Usage: "URL of the ARI events WebSocket", set: func(c *Config, v string) error {
		u, err := checkURL(v, "ws", "wss")
		c.WebSocketURL = u
		return err
	}},
	{Flag: "ari-subscribe-all", Env: []string{"ARI_SUBSCRIBE_ALL"}, Default: "false", Bool: true, Usage: "receive the events of every Asterisk resource, not only the application's", set: func(c *Config, v string) error {
		b, err := parseBool(v)
		c.SubscribeAll = b
		return err
	}},
	{Flag: "bus-url", Env: []string{"MESSAGEBUS_URL", "NATS_URL"}, Default: DefaultBusURL, Usage: "message bus: nats://HOST:PORT[,nats://...], tls://..., amqp://USER:PASS@HOST:5672/VHOST or amqps://... (RabbitMQ), or embedded://HOST:PORT to run nats-server in-process", set: setBusURL},
	{Flag: "nats-credentials", Env: []string{"NATS_CREDENTIALS"}, Usage: "NATS credentials (.creds) file", set: func(c *Config, v string) error {
		c.CredentialsFile = v
		return checkFile(v)
	}},
	{Flag: "tls-ca", Env: []string{"MESSAGEBUS_TLS_CA"}, Usage: "PEM file of the CA that signed the bus server's certificate", set: func(c *Config, v string) error {
		c.RootCA = v
		return checkFile(v)
	}},
	{Flag: "tls-cert", Env: []string{"MESSAGEBUS_TLS_CERT"}, Usage: "PEM client certificate for the bus (needs --tls-key)", set: func(c *Config, v string) error {
		c.ClientCert = v
		return checkFile(v)
	}},
	{Flag: "tls-key", Env: []string{"MESSAGEBUS_TLS_KEY"}, Usage: "PEM private key of --tls-cert", set: func(c *Config, v string) error {
		c.ClientKey = v
		return checkFile(v)
	}},
	{Flag: "node-id", Env: []string{"ARI_PROXY_NODE_ID"}, Usage: "node id on the bus instead of Asterisk's entity id, for Asterisks that share one (several on one host); empty: the entity id", set: setNodeID},
	{Flag: "prefix", Env: []string{"ARI_PROXY_PREFIX"}, Default: DefaultPrefix, Usage: "subject prefix on the bus", set: setPrefix},
	{Flag: "announce-interval", Env: []string{"ARI_PROXY_ANNOUNCE_INTERVAL"}, Default: DefaultAnnounceInterval.String(), Usage: "time between announcements", set: func(c *Config, v string) error {
		d, err := parsePositiveDuration(v)
		c.AnnounceInterval = d
		return err
	}},
	{Flag: "request-timeout", Env: []string{"ARI_PROXY_REQUEST_TIMEOUT"}, Default: DefaultRequestTimeout.String(), Usage: "longest time one request may take", set: func(c *Config, v string) error {
		d, err := parsePositiveDuration(v)
		c.RequestTimeout = d
		return err
	}},
	{Flag: "max-concurrent", Env: []string{"ARI_PROXY_MAX_CONCURRENT"}, Default: strconv.Itoa(DefaultMaxConcurrent), Usage: "requests handled at once", set: func(c *Config, v string) error {
		n, err := strconv.Atoi(strings.TrimSpace(v))
		if err != nil {
			return errors.New("must be a whole number")
		}
		if n <= 0 {
			return errors.New("must be at least 1")
		}
		c.MaxConcurrent = n
		return nil
	}},
	{Flag: "shutdown-timeout", Env: []string{"ARI_PROXY_SHUTDOWN_TIMEOUT"}, Default: DefaultShutdownTimeout.String(), Usage: "at SIGTERM, how long the ARI calls in flight may finish (requests still queued are answered unavailable)", set: func(c *Config, v string) error {
		d, err := parsePositiveDuration(v)
		c.ShutdownTimeout = d
		return err
	}},
	{Flag: "durable", Env: []string{"ARI_PROXY_DURABLE"}, Default: "false", Bool: true, Usage: "keep the events in a NATS JetStream stream, published with acknowledgements (durable subscribers and Listen lose nothing across bus outages)", set: func(c *Config, v string) error {
		b, err := parseBool(v)
		c.Durable = b
		return err
	}},
	{Flag: "durable-store-dir", Env: []string{"ARI_PROXY_DURABLE_STORE_DIR"}, Usage: "JetStream store directory of the embedded NATS server in durable mode (empty: a temporary directory)", set: func(c *Config, v string) error {
		c.DurableStoreDir = v
		return nil
	}},
	{Flag: "durable-max-age", Env: []string{"ARI_PROXY_DURABLE_MAX_AGE"}, Default: DefaultDurableMaxAge.String(), Usage: "in durable mode, how long the stream keeps an event", set: func(c *Config, v string) error {
		d, err := parsePositiveDuration(v)
		c.DurableMaxAge = d
		return err
	}},
	{Flag: "durable-max-bytes", Env: []string{"ARI_PROXY_DURABLE_MAX_BYTES"}, Default: strconv.Itoa(DefaultDurableMaxBytes), Usage: "in durable mode, the stream's size limit in bytes (the oldest events go first)", set: func(c *Config, v string) error {
		n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
		if err != nil || n <= 0 {
			return errors.New("must be a positive whole number of bytes")
		}
		c.DurableMaxBytes = n
		return nil
	}},
	{Flag: "durable-replicas", Env: []string{"ARI_PROXY_DURABLE_REPLICAS"}, Default: strconv.Itoa(DefaultDurableReplicas), Usage: "in durable mode, the stream's replicas in a NATS cluster (1, 3 or 5)", set: func(c *Config, v string) error {
		n, err := strconv.Atoi(strings.TrimSpace(v))
		if err != nil || (n != 1 && n != 3 && n != 5) {
			return errors.New("must be 1, 3 or 5")
		}
		c.DurableReplicas = n
		return nil
	}},
	{Flag: "log-level", Env: []string{"ARI_PROXY_LOG_LEVEL"}, Default: DefaultLogLevel, Usage: "debug, info, warn or error", set: func(c *Config, v string) error {
		var l slog.Level
		if err := l.UnmarshalText([]byte(strings.TrimSpace(v))); err != nil {
			return errors.New("must be debug, info, warn or error")
		}
		c.LogLevel = l
		return nil
	}},
	{Flag: "log-format", Env: []string{"ARI_PROXY_LOG_FORMAT"}, Default: DefaultLogFormat, Usage: "text or json", set: func(c *Config, v string) error {
		switch v = strings.ToLower(strings.TrimSpace(v)); v {
		case "text", "json":
			c.LogFormat = v
			return nil
		}
		return errors.New("must be text or json")
	}},
	{Flag: "metrics-addr", Env: []string{"ARI_PROXY_METRICS_ADDR"}, Usage: "listen address of /metrics and the probes /livez and /readyz, e.g. :9090 (empty: off)", set: func(c *Config, v string) error {
		if v == "" {
			c.MetricsAddr = ""
			return nil
		}
		if _, port, err := net.SplitHostPort(v); err != nil || !validPort(port) {
			return errors.New("must be HOST:PORT or :PORT")
		}
		c.MetricsAddr = v
		return nil
	}},
}

// ConfigFlag and ConfigEnv name the configuration file setting, which is
// read before the others and so is not in Settings.
const (
	ConfigFlag = "config"
	ConfigEnv  = "ARI_PROXY_CONFIG"
)

// source is where a value came from; errors show it.
type source struct {
	value string
	from  string // `flag --x`, `env X`, `file f (key k)`, `default`
}

type options struct {
	lookupEnv func(string) (string, bool)
	output    io.Writer
	name      string
}

// Option changes how Load reads the configuration.
type Option func(*options)

// WithEnv makes Load read the environment through lookup (os.LookupEnv by
// default); tests pass a map's lookup.
func WithEnv(lookup func(string) (string, bool)) Option {
	return func(o *options) { o.lookupEnv = lookup }
}

// WithOutput is where usage and flag errors are written (os.Stderr by default).
func WithOutput(w io.Writer) Option { return func(o *options) { o.output = w } }

// WithName is the command name usage shows ("ari-proxy serve" by default).
func WithName(name string) Option { return func(o *options) { o.name = name } }

// Load reads the configuration from the command-line arguments args (no
// program name), the environment and the file named by --config or
// ARI_PROXY_CONFIG, in that order of precedence over the defaults, and
// checks every value. With -h or --help it writes usage and returns
// flag.ErrHelp. Errors about values wrap ErrInvalid; several are joined.
func Load(args []string, opts ...Option) (*Config, error) {
	o := options{lookupEnv: os.LookupEnv, output: os.Stderr, name: "ari-proxy serve"}
	for _, opt := range opts {
		opt(&o)
	}

	fs := flag.NewFlagSet(o.name, flag.ContinueOnError)
	fs.SetOutput(o.output)
	fs.Usage = func() { Usage(fs.Output(), o.name) }
	flagValues := map[string]*string{}
	for _, s := range Settings {
		if s.Bool {
			fs.Var(boolFlag{flagString(flagValues, s.Flag)}, s.Flag, s.Usage)
		} else {
			fs.Var(stringFlag{flagString(flagValues, s.Flag)}, s.Flag, s.Usage)
		}
	}
	configFile := fs.String(ConfigFlag, "", "JSON configuration file")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, invalid(fmt.Errorf("unexpected argument %q", fs.Arg(0)))
	}
	flagSet := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { flagSet[f.Name] = true })

	// Defaults, then the file, then the environment, then the flags.
	values := map[*Setting]source{}
	for _, s := range Settings {
		values[s] = source{s.Default, "default"}
	}

	file, fileFrom := "", ""
	if flagSet[ConfigFlag] {
		file, fileFrom = *configFile, "flag --"+ConfigFlag
	} else if v, ok := o.lookupEnv(ConfigEnv); ok && v != "" {
		file, fileFrom = v, "env "+ConfigEnv
	}
	if file != "" {
		fromFile, err := readFile(file)
		if err != nil {
			return nil, invalid(fmt.Errorf("%s (from %s): %w", ConfigEnv, fileFrom, err))
		}
		for s, v := range fromFile {
			values[s] = source{v, fmt.Sprintf("file %s (key %q)", file, s.Key())}
		}
	}

	for _, s := range Settings {
		for _, env := range s.Env {
			// An empty variable counts as unset, as shells make them easily.
			if v, ok := o.lookupEnv(env); ok && v != "" {
				values[s] = source{v, "env " + env}
				break
			}
		}
		if flagSet[s.Flag] {
			values[s] = source{*flagValues[s.Flag], "flag --" + s.Flag}
		}
	}

	c := &Config{File: file}
	var errs []error
	for _, s := range Settings {
		v := values[s]
		if err := s.set(c, v.value); err != nil {
			errs = append(errs, &SettingError{Setting: s, Value: v.value, From: v.from, Err: err})
		}
	}
	errs = append(errs, c.crossCheck(values)...)
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return c, nil
}

// crossCheck checks what no single setting can: settings that go together.
func (c *Config) crossCheck(values map[*Setting]source) []error {
	var errs []error
	cert, key := lookupSetting("tls-cert"), lookupSetting("tls-key")
	if (c.ClientCert == "") != (c.ClientKey == "") {
		s, other := cert, key
		if c.ClientCert == "" {
			s, other = key, cert
		}
		v := values[s]
		errs = append(errs, &SettingError{Setting: s, Value: v.value, From: v.from,
			Err: fmt.Errorf("needs %s (--%s) too", other.Name(), other.Flag)})
	}
	if !c.Durable {
		for _, name := range []string{"durable-store-dir"} {
			s := lookupSetting(name)
			if v := values[s]; v.value != "" {
				errs = append(errs, &SettingError{Setting: s, Value: v.value, From: v.from,
					Err: errors.New("applies only in durable mode (--durable)")})
			}
		}
	} else if s := lookupSetting("durable-store-dir"); c.DurableStoreDir != "" && !strings.HasPrefix(c.BusURL, "embedded://") {
		v := values[s]
		errs = append(errs, &SettingError{Setting: s, Value: v.value, From: v.from,
			Err: errors.New("applies only to the embedded bus (embedded://): an external nats-server has its own JetStream store")})
	}
	if strings.HasPrefix(c.BusURL, "embedded://") {
		for _, name := range []string{"nats-credentials", "tls-ca", "tls-cert", "tls-key"} {
			s := lookupSetting(name)
			if v := values[s]; v.value != "" {
				errs = append(errs, &SettingError{Setting: s, Value: v.value, From: v.from,
					Err: errors.New("applies only to an external bus (nats:// or tls://), not embedded://")})
			}
		}
	}
	return errs
}

func lookupSetting(flagName string) *Setting {
	for _, s := range Settings {
		if s.Flag == flagName {
			return s
		}
	}
	panic("config: no setting " + flagName)
}

// invalid marks err as a configuration error (errors.Is(err, ErrInvalid))
// without repeating ErrInvalid's text: the caller says "invalid
// configuration" once, above the list of errors.
func invalid(err error) error { return invalidError{err} }

type invalidError struct{ err error }

func (e invalidError) Error() string   { return e.err.Error() }
func (e invalidError) Unwrap() []error { return []error{ErrInvalid, e.err} }

// SettingError is a bad value of one setting.
type SettingError struct {
	Setting *Setting
	Value   string // the value as given (not shown for secrets)
	From    string // where it came from: "flag --x", "env X", "file f (key k)", "default"
	Err     error  // what is wrong
}

func (e *SettingError) Error() string {
	shown := fmt.Sprintf("%q", e.Value)
	if e.Setting.Secret {
		shown = "(hidden)"
		if e.Value == "" {
			shown = `""`
		}
	} else if e.Setting.Flag == "bus-url" {
		shown = fmt.Sprintf("%q", natsbus.RedactURL(e.Value))
	}
	if e.Value == "" && e.From == "default" {
		return fmt.Sprintf("%s %v (not set: use --%s, env %s or the file key %q)",
			e.Setting.Name(), e.Err, e.Setting.Flag, e.Setting.Name(), e.Setting.Key())
	}
	return fmt.Sprintf("%s %v (got %s from %s)", e.Setting.Name(), e.Err, shown, e.From)
}

// Unwrap makes errors.Is(err, ErrInvalid) true, and exposes the cause.
func (e *SettingError) Unwrap() []error { return []error{ErrInvalid, e.Err} }

// readFile reads a JSON configuration file: one object whose keys are the
// settings' keys (flag names with "_" for "-"). Values may be strings,
// numbers, booleans, or for application a list of strings.
func readFile(path string) (map[*Setting]string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("cannot read the configuration file: %w", err)
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(data, &raw); err != nil {
		return nil, fmt.Errorf("%s is not a JSON object: %w", path, err)
	}
	byKey := map[string]*Setting{}
	for _, s := range Settings {
		byKey[s.Key()] = s
	}
	out := map[*Setting]string{}
	for k, v := range raw {
		s, ok := byKey[k]
		if !ok {
			return nil, fmt.Errorf("%s: unknown key %q", path, k)
		}
		var val any
		if err := json.Unmarshal(v, &val); err != nil {
			return nil, fmt.Errorf("%s: key %q: %w", path, k, err)
		}
		switch x := val.(type) {
		case string:
			out[s] = x
		case bool:
			out[s] = strconv.FormatBool(x)
		case float64:
			out[s] = string(v)
		case nil:
			// null leaves the default.
		case []any:
			var parts []string
			for _, e := range x {
				str, ok := e.(string)
				if !ok || s.Flag != "application" {
					return nil, fmt.Errorf("%s: key %q: a list is allowed only for application, of strings", path, k)
				}
				parts = append(parts, str)
			}
			out[s] = strings.Join(parts, ",")
		default:
			return nil, fmt.Errorf("%s: key %q: must be a string, number or boolean", path, k)
		}
	}
	return out, nil
}

func setApplications(c *Config, v string) error {
	if strings.TrimSpace(v) == "" {
		return errors.New("is required: name at least one Stasis application")
	}
	var apps []string
	seen := map[string]bool{}
	for _, a := range strings.Split(v, ",") {
		a = strings.TrimSpace(a)
		if a == "" {
			return errors.New("has an empty application name in its list")
		}
		if err := checkToken(a); err != nil {
			return fmt.Errorf("has a bad application name %q: %v", a, err)
		}
		if !seen[a] {
			seen[a] = true
			apps = append(apps, a)
		}
	}
	c.Applications = apps
	return nil
}

// checkToken checks that s can be one token of a subject: application
// names and prefix parts become parts of subjects.
func checkToken(s string) error {
	if strings.ContainsAny(s, ".*> \t\r\n") {
		return errors.New(`must not contain ".", "*", ">" or spaces`)
	}
	return nil
}

// maxNodeID bounds a node id: it is part of every subject the server uses.
const maxNodeID = 128

func setNodeID(c *Config, v string) error {
	if v == "" {
		c.NodeID = ""
		return nil
	}
	if err := checkQuotes(v); err != nil {
		return err
	}
	if err := checkToken(v); err != nil {
		return err
	}
	if len(v) > maxNodeID {
		return fmt.Errorf("must be at most %d bytes", maxNodeID)
	}
	c.NodeID = v
	return nil
}

func setPrefix(c *Config, v string) error {
	p := strings.TrimSpace(v)
	if p == "" {
		p = DefaultPrefix
	}
	if err := checkQuotes(p); err != nil {
		return err
	}
	if !strings.HasSuffix(p, ".") {
		p += "."
	}
	for _, tok := range strings.Split(strings.TrimSuffix(p, "."), ".") {
		if tok == "" {
			return errors.New(`must be dot-separated words such as "ari." (an empty word)`)
		}
		if strings.ContainsAny(tok, "*> \t\r\n") {
			return errors.New(`must not contain "*", ">" or spaces`)
		}
	}
	c.Prefix = p
	return nil
}

func setBusURL(c *Config, v string) error {
	v = strings.TrimSpace(v)
	if err := checkQuotes(v); err != nil {
		return err
	}
	// "", "embedded" and embedded://HOST:PORT ask for the in-process server;
	// natsbus reads them, and the configuration keeps the normalized form.
	if strings.Contains(v, ",") && strings.Contains(v, "embedded:") {
		return errors.New("embedded:// cannot be part of a list")
	}
	if rest, ok := strings.CutPrefix(v, "embedded://"); ok && strings.ContainsAny(rest, "@?#") {
		return errors.New("embedded:// takes only HOST:PORT, e.g. embedded://127.0.0.1:4222")
	}
	if addr, ok := natsserver.ParseURL(v); ok {
		c.BusURL = "embedded://" + addr
		return nil
	}
	parts := strings.Split(v, ",")
	for _, part := range parts {
		part = strings.TrimSpace(part)
		u, err := url.Parse(part)
		if err != nil || u.Scheme == "" || u.Host == "" {
			return errors.New("must be a URL such as nats://HOST:PORT, amqp://USER:PASS@HOST:5672/ or embedded://HOST:PORT")
		}
		switch strings.ToLower(u.Scheme) {
		case "nats", "tls":
		case "amqp", "amqps":
			if len(parts) > 1 {
				return errors.New("amqp:// takes one broker URL, not a list")
			}
		case "embedded":
			if len(parts) > 1 {
				return errors.New("embedded:// cannot be part of a list")
			}
			return errors.New("embedded:// takes only HOST:PORT, e.g. embedded://127.0.0.1:4222")
		default:
			return fmt.Errorf("scheme must be nats, tls, amqp, amqps or embedded, not %q", u.Scheme)
		}
	}
	c.BusURL = v
	return nil
}

// checkURL checks a URL whose scheme must be one of schemes, and says what
// was probably meant when it is not.
func checkURL(v string, schemes ...string) (string, error) {
	if err := checkQuotes(v); err != nil {
		return "", err
	}
	if strings.TrimSpace(v) != v {
		return "", errors.New("has spaces around it")
	}
	u, err := url.Parse(v)
	if err != nil {
		return "", errors.New("is not a URL")
	}
	want := strings.Join(schemes, ":// or ") + "://"
	scheme := strings.ToLower(u.Scheme)
	ok := false
	for _, s := range schemes {
		ok = ok || scheme == s
	}
	if !ok {
		hint := ""
		switch {
		case scheme == "http" && schemes[0] == "ws", scheme == "https" && schemes[0] == "ws":
			hint = " (the events WebSocket URL, e.g. ws://127.0.0.1:8088/ari/events)"
		case scheme == "ws" && schemes[0] == "http", scheme == "wss" && schemes[0] == "http":
			hint = " (the REST API base URL, e.g. http://127.0.0.1:8088/ari)"
		}
		return "", fmt.Errorf("must be %s%s", want, hint)
	}
	if u.Host == "" {
		return "", errors.New("has no host")
	}
	return v, nil
}

// checkQuotes catches values wrapped in quotes, as written in a file that
// was read by a tool that does not strip them (docker env files, systemd).
func checkQuotes(v string) error {
	v = strings.TrimSpace(v)
	if len(v) >= 1 && strings.ContainsAny(v[:1], `"'`) || len(v) >= 1 && strings.ContainsAny(v[len(v)-1:], `"'`) {
		return errors.New("is wrapped in quotes: remove them")
	}
	return nil
}

func checkFile(path string) error {
	if path == "" {
		return nil
	}
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("cannot be read: %w", err)
	}
	defer f.Close()
	if st, err := f.Stat(); err == nil && st.IsDir() {
		return errors.New("is a directory, not a file")
	}
	return nil
}

func parsePositiveDuration(v string) (time.Duration, error) {
	d, err := time.ParseDuration(strings.TrimSpace(v))
	if err != nil {
		return 0, errors.New(`must be a duration such as "10s" or "1m30s"`)
	}
	if d < 0 {
		return 0, errors.New("must not be negative")
	}
	if d == 0 {
		return 0, errors.New("must be more than zero")
	}
	return d, nil
}

func parseBool(v string) (bool, error) {
	b, err := strconv.ParseBool(strings.TrimSpace(v))
	if err != nil {
		return false, errors.New("must be true or false")
	}
	return b, nil
}

func validPort(p string) bool {
	n, err := strconv.Atoi(p)
	return err == nil && n >= 0 && n <= 65535
}

// String shows the configuration with its secrets hidden.
func (c *Config) String() string {
	return fmt.Sprintf("applications=%s ari-username=%s ari-password=%s ari-http-url=%s ari-websocket-url=%s "+
		"ari-subscribe-all=%t bus-url=%s node-id=%q prefix=%s announce-interval=%s request-timeout=%s max-concurrent=%d "+
		"shutdown-timeout=%s durable=%t durable-store-dir=%q durable-max-age=%s durable-max-bytes=%d durable-replicas=%d log-level=%s log-format=%s metrics-addr=%q",
		strings.Join(c.Applications, ","), c.Username, redacted(c.Password), natsbus.RedactURL(c.HTTPURL), natsbus.RedactURL(c.WebSocketURL),
		c.SubscribeAll, natsbus.RedactURL(c.BusURL), c.NodeID, c.Prefix, c.AnnounceInterval, c.RequestTimeout, c.MaxConcurrent,
		c.ShutdownTimeout, c.Durable, c.DurableStoreDir, c.DurableMaxAge, c.DurableMaxBytes, c.DurableReplicas, c.LogLevel, c.LogFormat, c.MetricsAddr)
}

// LogValue makes slog show the configuration with its secrets hidden.
func (c *Config) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("applications", strings.Join(c.Applications, ",")),
		slog.String("ari_username", c.Username),
		slog.String("ari_password", redacted(c.Password)),
		slog.String("ari_http_url", natsbus.RedactURL(c.HTTPURL)),
		slog.String("ari_websocket_url", natsbus.RedactURL(c.WebSocketURL)),
		slog.Bool("ari_subscribe_all", c.SubscribeAll),
		slog.String("bus_url", natsbus.RedactURL(c.BusURL)),
		slog.String("node_id", c.NodeID),
		slog.String("prefix", c.Prefix),
		slog.Duration("announce_interval", c.AnnounceInterval),
		slog.Duration("request_timeout", c.RequestTimeout),
		slog.Int("max_concurrent", c.MaxConcurrent),
		slog.Duration("shutdown_timeout", c.ShutdownTimeout),
		slog.Bool("durable", c.Durable),
		slog.String("log_level", c.LogLevel.String()),
		slog.String("log_format", c.LogFormat),
		slog.String("metrics_addr", c.MetricsAddr),
	)
}

func redacted(s string) string {
	if s == "" {
		return ""
	}
	return "REDACTED"
}

// GoString keeps %#v from printing the password.
func (c *Config) GoString() string { return "config.Config{" + c.String() + "}" }

// NewLogger returns a logger writing to w in the configured format and level.
func (c *Config) NewLogger(w io.Writer) *slog.Logger {
	return NewLogger(w, c.LogFormat, c.LogLevel)
}

// NewLogger returns a text or json logger writing to w at level.
func NewLogger(w io.Writer, format string, level slog.Level) *slog.Logger {
	ho := &slog.HandlerOptions{Level: level}
	if format == "json" {
		return slog.New(slog.NewJSONHandler(w, ho))
	}
	return slog.New(slog.NewTextHandler(w, ho))
}

// Usage writes the settings with their flags, environment variables and
// defaults.
func Usage(w io.Writer, name string) {
	fmt.Fprintf(w, "Usage: %s [flags]\n\nFlags (each also read from the environment variable shown, and from the JSON file's key):\n", name)
	for _, s := range Settings {
		arg := " VALUE"
		if s.Bool {
			arg = ""
		}
		fmt.Fprintf(w, "  --%s%s\n        %s\n        env %s", s.Flag, arg, s.Usage, strings.Join(s.Env, " or "))
		if s.Default != "" {
			fmt.Fprintf(w, ", default %s", s.Default)
		}
		fmt.Fprintln(w)
	}
	fmt.Fprintf(w, "  --%s PATH\n        JSON configuration file (keys: the flag names with _ for -)\n        env %s\n", ConfigFlag, ConfigEnv)
	fmt.Fprintln(w, "\nPrecedence: flags, then environment, then the file, then defaults.")
}

// MarkdownTable is the table of settings the README shows.
func MarkdownTable() string {
	var b strings.Builder
	b.WriteString("| flag | environment | file key | default | meaning |\n|---|---|---|---|---|\n")
	for _, s := range Settings {
		envs := make([]string, len(s.Env))
		for i, e := range s.Env {
			envs[i] = "`" + e + "`"
		}
		def := ""
		if s.Default != "" {
			def = "`" + s.Default + "`"
		}
		fmt.Fprintf(&b, "| `--%s` | %s | `%s` | %s | %s |\n", s.Flag, strings.Join(envs, " or "), s.Key(), def, s.Usage)
	}
	fmt.Fprintf(&b, "| `--%s` | `%s` | | | JSON configuration file whose keys are the file keys above |\n", ConfigFlag, ConfigEnv)
	return b.String()
}

func flagString(m map[string]*string, name string) *string {
	p := new(string)
	m[name] = p
	return p
}

type stringFlag struct{ p *string }

func (f stringFlag) String() string {
	if f.p == nil {
		return ""
	}
	return *f.p
}
func (f stringFlag) Set(v string) error { *f.p = v; return nil }

// boolFlag stores "true"/"false" as given, checked later like the other
// sources so that errors read the same.
type boolFlag struct{ p *string }

func (f boolFlag) String() string {
	if f.p == nil {
		return ""
	}
	return *f.p
}
func (f boolFlag) Set(v string) error { *f.p = v; return nil }
func (f boolFlag) IsBoolFlag() bool   { return true }

//go:generate go test -run TestREADMEConfigTable -update .
