package config

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/ariproxy/ari-proxy/internal/sharedtest"
)

// env makes a lookup function from pairs.
func env(kv ...string) func(string) (string, bool) {
	m := map[string]string{}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
}

// minimal is the smallest valid environment.
var minimal = []string{"ARI_APPLICATION", "demo", "ARI_USERNAME", "u", "ARI_PASSWORD", "secret-pw"}

func withMinimal(kv ...string) func(string) (string, bool) {
	return env(append(append([]string{}, minimal...), kv...)...)
}

func load(t *testing.T, args []string, lookup func(string) (string, bool)) (*Config, error) {
	t.Helper()
	var out bytes.Buffer
	return Load(args, WithEnv(lookup), WithOutput(&out))
}

func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestDefaults(t *testing.T) {
	c, err := load(t, nil, withMinimal())
	if err != nil {
		t.Fatal(err)
	}
	want := &Config{
		Applications:     []string{"demo"},
		Username:         "u",
		Password:         "secret-pw",
		HTTPURL:          DefaultHTTPURL,
		WebSocketURL:     DefaultWebSocketURL,
		BusURL:           DefaultBusURL,
		Prefix:           "ari.",
		AnnounceInterval: DefaultAnnounceInterval,
		RequestTimeout:   DefaultRequestTimeout,
		MaxConcurrent:    DefaultMaxConcurrent,
		ShutdownTimeout:  DefaultShutdownTimeout,
		DurableMaxAge:    DefaultDurableMaxAge,
		DurableMaxBytes:  DefaultDurableMaxBytes,
		DurableReplicas:  DefaultDurableReplicas,
		LogLevel:         slog.LevelInfo,
		LogFormat:        "text",
	}
	if !reflect.DeepEqual(c, want) {
		t.Errorf("defaults:\n got %#v\nwant %#v", c, want)
	}
}

func TestEverySettingFromEachSource(t *testing.T) {
	dir := t.TempDir()
	creds := filepath.Join(dir, "x.creds")
	for _, f := range []string{creds} {
		if err := os.WriteFile(f, []byte("x"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	want := &Config{
		Applications:     []string{"a", "b"},
		Username:         "user",
		Password:         "pw",
		HTTPURL:          "https://pbx:8089/ari",
		WebSocketURL:     "wss://pbx:8089/ari/events",
		SubscribeAll:     true,
		BusURL:           "nats://n1:4222,nats://n2:4222",
		CredentialsFile:  creds,
		RootCA:           creds,
		ClientCert:       creds,
		ClientKey:        creds,
		NodeID:           "pbx-2",
		Prefix:           "test.ari.",
		AnnounceInterval: 3 * time.Second,
		RequestTimeout:   time.Minute,
		MaxConcurrent:    7,
		ShutdownTimeout:  4 * time.Second,
		Durable:          true,
		DurableMaxAge:    2 * time.Hour,
		DurableMaxBytes:  1000,
		DurableReplicas:  3,
		LogLevel:         slog.LevelDebug,
		LogFormat:        "json",
		MetricsAddr:      "127.0.0.1:9090",
	}
	values := map[string]string{
		"application": "a, b", "ari-username": "user", "ari-password": "pw",
		"ari-http-url": "https://pbx:8089/ari", "ari-websocket-url": "wss://pbx:8089/ari/events",
		"ari-subscribe-all": "true", "bus-url": "nats://n1:4222,nats://n2:4222",
		"nats-credentials": creds, "tls-ca": creds, "tls-cert": creds, "tls-key": creds,
		"node-id": "pbx-2", "prefix": "test.ari", "announce-interval": "3s", "request-timeout": "1m",
		"max-concurrent": "7", "shutdown-timeout": "4s", "durable": "true", "durable-store-dir": "",
		"durable-max-age": "2h", "durable-max-bytes": "1000", "durable-replicas": "3", "log-level": "debug", "log-format": "json", "metrics-addr": "127.0.0.1:9090",
	}
	if len(values) != len(Settings) {
		t.Fatalf("test covers %d settings, there are %d", len(values), len(Settings))
	}

	t.Run("flags", func(t *testing.T) {
		var args []string
		for k, v := range values {
			args = append(args, "--"+k+"="+v)
		}
		c, err := load(t, args, env())
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(c, want) {
			t.Errorf("got  %#v\nwant %#v", c, want)
		}
	})
	t.Run("env", func(t *testing.T) {
		var kv []string
		for _, s := range Settings {
			kv = append(kv, s.Env[0], values[s.Flag])
		}
		c, err := load(t, nil, env(kv...))
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(c, want) {
			t.Errorf("got  %#v\nwant %#v", c, want)
		}
	})
	t.Run("file", func(t *testing.T) {
		var b strings.Builder
		b.WriteString(`{"application": ["a", "b"], "ari_subscribe_all": true, "max_concurrent": 7`)
		for _, s := range Settings {
			switch s.Flag {
			case "application", "ari-subscribe-all", "max-concurrent":
				continue
			}
			fmt.Fprintf(&b, ", %q: %q", s.Key(), values[s.Flag])
		}
		b.WriteString("}")
		path := writeFile(t, "c.json", b.String())
		c, err := load(t, []string{"--config", path}, env())
		if err != nil {
			t.Fatal(err)
		}
		w := *want
		w.File = path
		if !reflect.DeepEqual(c, &w) {
			t.Errorf("got  %#v\nwant %#v", c, &w)
		}
	})
}

func TestPrecedence(t *testing.T) {
	file := writeFile(t, "c.json", `{"application": "from-file", "ari_username": "file-user", "ari_password": "file-pw",
		"prefix": "file", "request_timeout": "3s", "log_level": "warn"}`)
	tests := []struct {
		name string
		args []string
		env  []string
		want func(*Config) string // "" when right
	}{
		{"defaults only where nothing is set", []string{"--config", file}, nil, func(c *Config) string {
			if c.AnnounceInterval != DefaultAnnounceInterval || c.HTTPURL != DefaultHTTPURL {
				return "defaults lost"
			}
			return ""
		}},
		{"file over defaults", []string{"--config", file}, nil, func(c *Config) string {
			if c.Applications[0] != "from-file" || c.Prefix != "file." || c.RequestTimeout != 3*time.Second || c.LogLevel != slog.LevelWarn {
				return fmt.Sprintf("file values not used: %v", c)
			}
			return ""
		}},
		{"env over file", []string{"--config", file}, []string{"ARI_APPLICATION", "from-env", "ARI_PROXY_REQUEST_TIMEOUT", "4s"}, func(c *Config) string {
			if c.Applications[0] != "from-env" || c.RequestTimeout != 4*time.Second || c.Prefix != "file." {
				return fmt.Sprintf("env did not win over file: %v", c)
			}
			return ""
		}},
		{"flags over env and file", []string{"--config", file, "--application", "from-flag", "--request-timeout=5s"},
			[]string{"ARI_APPLICATION", "from-env", "ARI_PROXY_REQUEST_TIMEOUT", "4s"}, func(c *Config) string {
				if c.Applications[0] != "from-flag" || c.RequestTimeout != 5*time.Second || c.Username != "file-user" {
					return fmt.Sprintf("flags did not win: %v", c)
				}
				return ""
			}},
		{"config file from env", nil, []string{"ARI_PROXY_CONFIG", file}, func(c *Config) string {
			if c.File != file || c.Applications[0] != "from-file" {
				return "ARI_PROXY_CONFIG not read"
			}
			return ""
		}},
		{"--config over ARI_PROXY_CONFIG", []string{"--config", file}, []string{"ARI_PROXY_CONFIG", "/nonexistent.json"}, func(c *Config) string {
			if c.File != file {
				return "flag did not win"
			}
			return ""
		}},
		{"MESSAGEBUS_URL over NATS_URL", nil, append(append([]string{}, minimal...), "NATS_URL", "nats://old:4222", "MESSAGEBUS_URL", "nats://new:4222"), func(c *Config) string {
			if c.BusURL != "nats://new:4222" {
				return "got " + c.BusURL
			}
			return ""
		}},
		{"NATS_URL alone", nil, append(append([]string{}, minimal...), "NATS_URL", "nats://old:4222"), func(c *Config) string {
			if c.BusURL != "nats://old:4222" {
				return "got " + c.BusURL
			}
			return ""
		}},
		{"empty env is unset", nil, append(append([]string{}, minimal...), "MESSAGEBUS_URL", "", "ARI_HTTP_URL", ""), func(c *Config) string {
			if c.BusURL != DefaultBusURL || c.HTTPURL != DefaultHTTPURL {
				return "empty variables were used"
			}
			return ""
		}},
		{"bool flag without value", []string{"--ari-subscribe-all"}, minimal, func(c *Config) string {
			if !c.SubscribeAll {
				return "not set"
			}
			return ""
		}},
		{"bool flag false over env", []string{"--ari-subscribe-all=false"}, append(append([]string{}, minimal...), "ARI_SUBSCRIBE_ALL", "true"), func(c *Config) string {
			if c.SubscribeAll {
				return "flag did not win"
			}
			return ""
		}},
		{"applications deduplicated", []string{"--application", "a,b,a"}, minimal, func(c *Config) string {
			if !reflect.DeepEqual(c.Applications, []string{"a", "b"}) {
				return fmt.Sprint(c.Applications)
			}
			return ""
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := load(t, tt.args, env(tt.env...))
			if err != nil {
				t.Fatal(err)
			}
			if msg := tt.want(c); msg != "" {
				t.Error(msg)
			}
		})
	}
}

func TestValidation(t *testing.T) {
	dir := t.TempDir()
	readable := writeFile(t, "ok.pem", "x")
	tests := []struct {
		name string
		args []string
		env  []string
		want []string // substrings of the error
	}{
		{"quoted HTTP URL", nil, []string{"ARI_HTTP_URL", `"http://x:8088/ari"`}, []string{"ARI_HTTP_URL", "quotes", `"\"http://x:8088/ari\""`, "env ARI_HTTP_URL"}},
		{"single-quoted WebSocket URL", nil, []string{"ARI_WEBSOCKET_URL", `'ws://x/ari/events'`}, []string{"ARI_WEBSOCKET_URL", "quotes"}},
		{"WebSocket URL given as http", nil, []string{"ARI_WEBSOCKET_URL", "http://x:8088/ari/events"}, []string{"ARI_WEBSOCKET_URL must be ws:// or wss://", `"http://x:8088/ari/events"`}},
		{"HTTP URL given as ws", nil, []string{"ARI_HTTP_URL", "ws://x:8088/ari"}, []string{"ARI_HTTP_URL must be http:// or https://"}},
		{"HTTP URL without host", []string{"--ari-http-url", "http:///ari"}, nil, []string{"ARI_HTTP_URL has no host", "flag --ari-http-url"}},
		{"HTTP URL not a URL", []string{"--ari-http-url", "::"}, nil, []string{"ARI_HTTP_URL"}},
		{"HTTP URL with spaces", nil, []string{"ARI_HTTP_URL", " http://x/ari"}, []string{"ARI_HTTP_URL"}},
		{"bus unknown scheme", nil, []string{"MESSAGEBUS_URL", "redis://x:6379"}, []string{"MESSAGEBUS_URL scheme must be nats, tls, amqp, amqps or embedded", `"redis"`}},
		{"bus amqp list", nil, []string{"MESSAGEBUS_URL", "amqp://a:5672,amqp://b:5672"}, []string{"MESSAGEBUS_URL", "not a list"}},
		{"bus unknown scheme via NATS_URL", nil, []string{"NATS_URL", "http://x:4222"}, []string{"MESSAGEBUS_URL scheme must be", "env NATS_URL"}},
		{"bus without scheme", nil, []string{"MESSAGEBUS_URL", "localhost:4222"}, []string{"MESSAGEBUS_URL"}},
		{"bus quoted", nil, []string{"MESSAGEBUS_URL", `"nats://x:4222"`}, []string{"MESSAGEBUS_URL", "quotes"}},
		{"bus bad list member", nil, []string{"MESSAGEBUS_URL", "nats://a:4222,foo://b"}, []string{"MESSAGEBUS_URL scheme must be"}},
		{"embedded with user", nil, []string{"MESSAGEBUS_URL", "embedded://u@127.0.0.1:4222"}, []string{"MESSAGEBUS_URL", "HOST:PORT"}},
		{"embedded bad port", nil, []string{"MESSAGEBUS_URL", "embedded://127.0.0.1:99999"}, []string{"MESSAGEBUS_URL"}},
		{"embedded in a list", nil, []string{"MESSAGEBUS_URL", "embedded://127.0.0.1:1,nats://x:2"}, []string{"MESSAGEBUS_URL", "list"}},
		{"bus password not shown", nil, []string{"MESSAGEBUS_URL", "foo://user:hunter2@x:4222"}, []string{"MESSAGEBUS_URL", "redacted"}},
		{"empty application", nil, []string{"ARI_APPLICATION", " "}, []string{"ARI_APPLICATION is required"}},
		{"missing application", nil, []string{"ARI_APPLICATION", ""}, []string{"ARI_APPLICATION is required"}},
		{"empty name in list", []string{"--application", "a,,b"}, nil, []string{"ARI_APPLICATION has an empty application name"}},
		{"application with a dot", []string{"--application", "my.app"}, nil, []string{"ARI_APPLICATION has a bad application name \"my.app\""}},
		{"missing password", nil, []string{"ARI_PASSWORD", ""}, []string{"ARI_PASSWORD is required"}},
		{"missing username", nil, []string{"ARI_USERNAME", ""}, []string{"ARI_USERNAME is required"}},
		{"negative announce interval", nil, []string{"ARI_PROXY_ANNOUNCE_INTERVAL", "-5s"}, []string{"ARI_PROXY_ANNOUNCE_INTERVAL must not be negative", `"-5s"`}},
		{"negative request timeout", []string{"--request-timeout=-1s"}, nil, []string{"ARI_PROXY_REQUEST_TIMEOUT must not be negative", "flag --request-timeout"}},
		{"zero request timeout", []string{"--request-timeout=0s"}, nil, []string{"ARI_PROXY_REQUEST_TIMEOUT must be more than zero"}},
		{"duration without unit", nil, []string{"ARI_PROXY_REQUEST_TIMEOUT", "10"}, []string{"ARI_PROXY_REQUEST_TIMEOUT must be a duration"}},
		{"max concurrent not a number", nil, []string{"ARI_PROXY_MAX_CONCURRENT", "many"}, []string{"ARI_PROXY_MAX_CONCURRENT must be a whole number"}},
		{"max concurrent zero", nil, []string{"ARI_PROXY_MAX_CONCURRENT", "0"}, []string{"ARI_PROXY_MAX_CONCURRENT must be at least 1"}},
		{"max concurrent negative", nil, []string{"ARI_PROXY_MAX_CONCURRENT", "-3"}, []string{"ARI_PROXY_MAX_CONCURRENT must be at least 1"}},
		{"subscribe-all not a bool", nil, []string{"ARI_SUBSCRIBE_ALL", "yes please"}, []string{"ARI_SUBSCRIBE_ALL must be true or false"}},
		{"log level", nil, []string{"ARI_PROXY_LOG_LEVEL", "loud"}, []string{"ARI_PROXY_LOG_LEVEL must be debug, info, warn or error"}},
		{"log format", nil, []string{"ARI_PROXY_LOG_FORMAT", "xml"}, []string{"ARI_PROXY_LOG_FORMAT must be text or json"}},
		{"metrics address", nil, []string{"ARI_PROXY_METRICS_ADDR", "9090"}, []string{"ARI_PROXY_METRICS_ADDR must be HOST:PORT"}},
		{"prefix with wildcard", []string{"--prefix", "ari.*"}, nil, []string{"ARI_PROXY_PREFIX"}},
		{"prefix with empty word", []string{"--prefix", "a..b"}, nil, []string{"ARI_PROXY_PREFIX", "empty word"}},
		{"unreadable credentials", nil, []string{"MESSAGEBUS_URL", "nats://x:4222", "NATS_CREDENTIALS", filepath.Join(dir, "missing.creds")}, []string{"NATS_CREDENTIALS cannot be read", "missing.creds"}},
		{"CA is a directory", nil, []string{"MESSAGEBUS_URL", "tls://x:4222", "MESSAGEBUS_TLS_CA", dir}, []string{"MESSAGEBUS_TLS_CA is a directory"}},
		{"cert without key", nil, []string{"MESSAGEBUS_URL", "tls://x:4222", "MESSAGEBUS_TLS_CERT", readable}, []string{"MESSAGEBUS_TLS_CERT needs MESSAGEBUS_TLS_KEY"}},
		{"key without cert", nil, []string{"MESSAGEBUS_URL", "tls://x:4222", "MESSAGEBUS_TLS_KEY", readable}, []string{"MESSAGEBUS_TLS_KEY needs MESSAGEBUS_TLS_CERT"}},
		{"credentials with embedded bus", nil, []string{"NATS_CREDENTIALS", readable}, []string{"NATS_CREDENTIALS applies only to an external bus"}},
		{"unreadable config file", []string{"--config", filepath.Join(dir, "nope.json")}, nil, []string{"ARI_PROXY_CONFIG", "flag --config", "cannot read"}},
		{"config file not JSON", []string{"--config", writeFile(t, "bad.json", "application = x")}, nil, []string{"ARI_PROXY_CONFIG", "not a JSON object"}},
		{"config file unknown key", []string{"--config", writeFile(t, "typo.json", `{"aplication": "x"}`)}, nil, []string{"unknown key \"aplication\""}},
		{"config file bad list", []string{"--config", writeFile(t, "list.json", `{"prefix": ["x"]}`)}, nil, []string{"key \"prefix\"", "list"}},
		{"config file value error names key", []string{"--config", writeFile(t, "v.json", `{"request_timeout": "-2s"}`)}, nil, []string{"ARI_PROXY_REQUEST_TIMEOUT must not be negative", `key "request_timeout"`}},
		{"stray argument", []string{"extra"}, nil, []string{"unexpected argument \"extra\""}},
		{"node id with a dot", []string{"--node-id", "pbx.2"}, nil, []string{"ARI_PROXY_NODE_ID must not contain", `"pbx.2"`}},
		{"node id with a space", nil, []string{"ARI_PROXY_NODE_ID", "pbx 2"}, []string{"ARI_PROXY_NODE_ID must not contain", "env ARI_PROXY_NODE_ID"}},
		{"node id quoted", nil, []string{"ARI_PROXY_NODE_ID", `"pbx2"`}, []string{"ARI_PROXY_NODE_ID is wrapped in quotes"}},
		{"node id too long", nil, []string{"ARI_PROXY_NODE_ID", strings.Repeat("n", 129)}, []string{"ARI_PROXY_NODE_ID must be at most 128 bytes"}},
		{"several errors at once", nil, []string{"ARI_HTTP_URL", "ws://x/ari", "ARI_WEBSOCKET_URL", "http://x/ari/events"}, []string{"ARI_HTTP_URL must be", "ARI_WEBSOCKET_URL must be"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := load(t, tt.args, withMinimal(tt.env...))
			if err == nil {
				t.Fatal("no error")
			}
			if !errors.Is(err, ErrInvalid) {
				t.Errorf("error does not wrap ErrInvalid: %v", err)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
			if strings.Contains(err.Error(), "hunter2") || strings.Contains(err.Error(), "secret-pw") {
				t.Errorf("error shows a secret: %v", err)
			}
		})
	}
}

func TestPasswordErrorIsHidden(t *testing.T) {
	// A password never fails validation unless empty, but the error path
	// must hide it all the same.
	e := &SettingError{Setting: lookupSetting("ari-password"), Value: "secret-pw", From: "env ARI_PASSWORD", Err: errors.New("is bad")}
	if strings.Contains(e.Error(), "secret-pw") {
		t.Errorf("shows the password: %v", e)
	}
}

func TestHelp(t *testing.T) {
	var out bytes.Buffer
	_, err := Load([]string{"-h"}, WithEnv(env()), WithOutput(&out))
	if !errors.Is(err, flag.ErrHelp) {
		t.Fatalf("err = %v, want flag.ErrHelp", err)
	}
	for _, s := range Settings {
		for _, want := range append([]string{"--" + s.Flag}, s.Env...) {
			if !strings.Contains(out.String(), want) {
				t.Errorf("usage lacks %s", want)
			}
		}
	}
}

func TestUnknownFlag(t *testing.T) {
	var out bytes.Buffer
	_, err := Load([]string{"--no-such-flag"}, WithEnv(withMinimal()), WithOutput(&out))
	if err == nil || !strings.Contains(err.Error(), "no-such-flag") {
		t.Fatalf("err = %v", err)
	}
}

func TestSecretsNeverPrinted(t *testing.T) {
	c, err := load(t, nil, withMinimal("MESSAGEBUS_URL", "nats://bususer:hunter2@n1:4222,nats://tok3n@n2:4222"))
	if err != nil {
		t.Fatal(err)
	}
	var logged bytes.Buffer
	for _, format := range []string{"text", "json"} {
		NewLogger(&logged, format, slog.LevelInfo).Info("config", "config", c)
	}
	outputs := map[string]string{
		"String": c.String(),
		"%v":     fmt.Sprintf("%v", c),
		"%+v":    fmt.Sprintf("%+v", c),
		"%#v":    fmt.Sprintf("%#v", c),
		"slog":   logged.String(),
	}
	for name, out := range outputs {
		for _, secret := range []string{"secret-pw", "hunter2", "tok3n"} {
			if strings.Contains(out, secret) {
				t.Errorf("%s shows %q: %s", name, secret, out)
			}
		}
		if !strings.Contains(out, "n1:4222") {
			t.Errorf("%s lost the bus host: %s", name, out)
		}
	}
}

func TestEmbeddedForms(t *testing.T) {
	tests := []struct{ in, want string }{
		{"embedded", "embedded://127.0.0.1:4222"},
		{"embedded://", "embedded://127.0.0.1:4222"},
		{"embedded://127.0.0.1", "embedded://127.0.0.1:4222"},
		{"embedded://:0", "embedded://127.0.0.1:0"},
		{"embedded://0.0.0.0:4333", "embedded://0.0.0.0:4333"},
	}
	for _, tt := range tests {
		c, err := load(t, nil, withMinimal("MESSAGEBUS_URL", tt.in))
		if err != nil {
			t.Errorf("%q: %v", tt.in, err)
			continue
		}
		if c.BusURL != tt.want {
			t.Errorf("%q: BusURL = %q, want %q", tt.in, c.BusURL, tt.want)
		}
	}
}

var update = flag.Bool("update", false, "rewrite the configuration table in README.md")

const (
	beginTable = "<!-- BEGIN CONFIG"
	endTable   = "<!-- END CONFIG -->"
)

// TestREADMEConfigTable keeps the README's configuration table in step
// with Settings: it is generated (go test ./internal/config -run
// TestREADME -update) and checked here.
func TestREADMEConfigTable(t *testing.T) {
	sharedtest.CheckSection(t, filepath.Join(sharedtest.RepoRoot(t), "README.md"), beginTable, endTable, MarkdownTable(), *update,
		"run go test ./internal/config -run TestREADME -update")
}
