// Package bustest gives the end-to-end suites their transports: each suite
// runs once per transport (ForEachTransport) on buses the Transport
// starts, an embedded NATS server or a private RabbitMQ broker shared by
// the test binary. Test code only.
package bustest

import (
	"context"
	"fmt"
	"os"
	"sync"
	"testing"

	"github.com/ariproxy/ari-proxy/internal/localstack"
	"github.com/ariproxy/ari-proxy/internal/rabbitmqd"
)

// Transport is a bus the end-to-end suites run on. Tests take one as a
// parameter (ForEachTransport) and get bus URLs from it: nothing in a
// suite depends on which one it is.
type Transport struct {
	// Name is the subtest name: "nats" or "rabbitmq".
	Name string
	url  func(t testing.TB) string
}

// URL returns the URL of a bus of this transport for t: a fresh embedded
// NATS server, or the test binary's shared RabbitMQ broker (tests keep
// apart by their random prefixes). A RabbitMQ that cannot start skips t
// with the reason, and fails it under CI=true.
func (tr Transport) URL(t testing.TB) string {
	t.Helper()
	return tr.url(t)
}

// NATS is the embedded-NATS transport.
var NATS = Transport{Name: "nats", url: func(t testing.TB) string {
	t.Helper()
	_, url := localstack.StartNATS(t)
	return url
}}

// RabbitMQ is the RabbitMQ transport: a private rabbitmq-server for the
// test binary (see RabbitMQURL).
var RabbitMQ = Transport{Name: "rabbitmq", url: func(t testing.TB) string {
	t.Helper()
	return RabbitMQURL(t)
}}

// Transports are every transport, NATS first.
func Transports() []Transport { return []Transport{NATS, RabbitMQ} }

// ForEachTransport runs f as a subtest per transport.
func ForEachTransport(t *testing.T, f func(t *testing.T, tr Transport)) {
	t.Helper()
	for _, tr := range Transports() {
		t.Run(tr.Name, func(t *testing.T) { f(t, tr) })
	}
}

var shared struct {
	once   sync.Once
	broker *rabbitmqd.Broker
	certs  Certs
	dir    string
	err    error
}

// RabbitMQURL returns the URL of the test binary's private RabbitMQ
// broker, starting it on first use (about 5 s). Packages that use it
// stop it after their tests with Main. When it cannot start, t is
// skipped with the reason, or failed when CI=true (CI installs it).
func RabbitMQURL(t testing.TB) string {
	t.Helper()
	b := RabbitMQBroker(t)
	return b.URL()
}

// RabbitMQBroker is RabbitMQURL's broker itself (for restarts and
// rabbitmqctl).
func RabbitMQBroker(t testing.TB) *rabbitmqd.Broker {
	t.Helper()
	shared.once.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), rabbitmqd.StartTimeout)
		defer cancel()
		// An amqps listener too, requiring client certificates.
		if shared.dir, shared.err = os.MkdirTemp("", "bustest-certs-"); shared.err != nil {
			return
		}
		if shared.certs, shared.err = MakeCerts(shared.dir); shared.err != nil {
			return
		}
		shared.broker, shared.err = rabbitmqd.Start(ctx, rabbitmqd.Options{TLS: &rabbitmqd.TLS{
			CertFile: shared.certs.ServerCert, KeyFile: shared.certs.ServerKey, CAFile: shared.certs.CA}})
	})
	if shared.err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("bustest: RabbitMQ is required under CI=true: %v", shared.err)
		}
		// Visible without -v: the package's result line alone would hide it.
		fmt.Fprintf(os.Stderr, "SKIP %s: RabbitMQ cannot start here: %v\n", t.Name(), shared.err)
		t.Skipf("RabbitMQ cannot start here: %v", shared.err)
	}
	return shared.broker
}

// RabbitMQTLS returns the amqps URL of the shared broker's TLS listener,
// which requires a client certificate, and the PKI to reach it.
func RabbitMQTLS(t testing.TB) (string, Certs) {
	t.Helper()
	b := RabbitMQBroker(t)
	return fmt.Sprintf("amqps://guest:guest@127.0.0.1:%d/", b.TLSPort), shared.certs
}

// Main runs the package's tests and then stops the shared RabbitMQ
// broker, if one was started. Use it as TestMain in every package that
// runs suites on RabbitMQ:
//
//	func TestMain(m *testing.M) { bustest.Main(m) }
func Main(m *testing.M) {
	code := m.Run()
	if shared.broker != nil {
		shared.broker.Stop()
	}
	if shared.dir != "" {
		_ = os.RemoveAll(shared.dir)
	}
	os.Exit(code)
}

// URLTransport is a transport whose every bus is url (an existing bus,
// e.g. the RabbitMQ broker with another user).
func URLTransport(name, url string) Transport {
	return Transport{Name: name, url: func(testing.TB) string { return url }}
}
