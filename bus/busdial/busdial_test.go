package busdial_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/ariproxy/ari-proxy/bus/busdial"
	"github.com/ariproxy/ari-proxy/internal/bustest"
	"github.com/ariproxy/ari-proxy/internal/localstack"
)

func TestMain(m *testing.M) { bustest.Main(m) }

func TestTransport(t *testing.T) {
	for url, want := range map[string]string{
		"nats://h:4222": "nats", "tls://h:4222": "nats", "nats://a:1, nats://b:2": "nats", "NATS://h:1": "nats",
		"amqp://u:p@h:5672/": "amqp", "amqps://h:5671/vh": "amqp", "http://h": "", "": "", "h:4222": "",
	} {
		got, ok := busdial.Transport(url)
		if got != want || ok != (want != "") {
			t.Errorf("Transport(%q) = %q, %v; want %q", url, got, ok, want)
		}
	}
}

// TestDial: one function opens either transport by URL, and both answer
// Connected; bad URLs and NATS-only settings on amqp:// are refused with
// the reason.
func TestDial(t *testing.T) {
	bustest.ForEachTransport(t, func(t *testing.T, tr bustest.Transport) {
		url := tr.URL(t)
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		b, err := busdial.Dial(ctx, url, busdial.Options{Name: "busdial test", Logger: localstack.Logger()})
		if err != nil {
			t.Fatal(err)
		}
		defer b.Close()
		if !b.Connected() {
			t.Error("not connected after Dial")
		}
	})
	// amqps with the same TLS settings as NATS (MESSAGEBUS_TLS_CA, _CERT,
	// _KEY of the server).
	url, certs := bustest.RabbitMQTLS(t)
	b, err := busdial.Dial(context.Background(), url, busdial.Options{RootCA: certs.CA, ClientCert: certs.ClientCert,
		ClientKey: certs.ClientKey, Logger: localstack.Logger()})
	if err != nil {
		t.Fatalf("amqps: %v", err)
	}
	b.Close()
	for url, want := range map[string]string{
		"redis://h:6379":       "must begin with",
		"amqp://u:secret@h:1/": "credentials file",
	} {
		_, err := busdial.Dial(context.Background(), url, busdial.Options{CredentialsFile: "x.creds"})
		if err == nil || !strings.Contains(err.Error(), want) || strings.Contains(err.Error(), "secret") {
			t.Errorf("Dial(%q): %v, want an error saying %q without the password", url, err, want)
		}
	}
}
