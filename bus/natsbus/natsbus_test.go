package natsbus

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"log/slog"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/ariproxy/ari-proxy/bus"
	"github.com/ariproxy/ari-proxy/bus/natsserver"
)

var quiet = slog.New(slog.DiscardHandler)

func startServer(t testing.TB, opts ...natsserver.Option) *natsserver.Server {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	e, err := natsserver.Start(ctx, "127.0.0.1:0", append([]natsserver.Option{natsserver.WithLogger(quiet)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.Shutdown)
	return e
}

func connectT(t testing.TB, url string, opts ...Option) *Bus {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	b, err := Connect(ctx, url, append([]Option{WithLogger(quiet)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	return b
}

// flush makes sure the server has seen every subscription made so far.
func flush(t testing.TB, b *Bus) {
	t.Helper()
	if err := b.Conn().FlushTimeout(5 * time.Second); err != nil {
		t.Fatal(err)
	}
}

func TestPublishSubscribe(t *testing.T) {
	e := startServer(t)
	pub := connectT(t, e.ClientURL())
	subBus := connectT(t, e.ClientURL())

	got := make(chan bus.Msg, 10)
	sub, err := subBus.Subscribe("ari.event.*.node1", func(m bus.Msg) { got <- m })
	if err != nil {
		t.Fatal(err)
	}
	flush(t, subBus)

	ctx := context.Background()
	if err := pub.Publish(ctx, "ari.event.app1.node1", "reply.here", []byte(`{"a":1}`)); err != nil {
		t.Fatal(err)
	}
	if err := pub.Publish(ctx, "ari.event.app1.other", "", []byte(`no`)); err != nil {
		t.Fatal(err)
	}
	select {
	case m := <-got:
		if m.Subject != "ari.event.app1.node1" || m.Reply != "reply.here" || string(m.Data) != `{"a":1}` {
			t.Fatalf("got %+v", m)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no message")
	}

	if err := sub.Unsubscribe(); err != nil {
		t.Fatal(err)
	}
	if err := sub.Unsubscribe(); err != nil {
		t.Fatalf("second Unsubscribe: %v", err)
	}
	flush(t, subBus)
	_ = pub.Publish(ctx, "ari.event.app1.node1", "", []byte("late"))
	flush(t, pub)
	select {
	case m := <-got:
		t.Fatalf("message after Unsubscribe: %+v", m)
	case <-time.After(100 * time.Millisecond):
	}

	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if err := pub.Publish(cctx, "x", "", nil); !errors.Is(err, context.Canceled) {
		t.Fatalf("Publish with ended ctx: %v", err)
	}
}

func TestQueueGroup(t *testing.T) {
	e := startServer(t)
	b := connectT(t, e.ClientURL())
	const members, msgs = 3, 300

	var mu sync.Mutex
	seen := map[string]int{}
	perMember := make([]int, members)
	var wg sync.WaitGroup
	wg.Add(msgs)
	for i := range members {
		// One connection per member, as separate proxies would have.
		mb := connectT(t, e.ClientURL())
		if _, err := mb.QueueSubscribe("ari.commands.app", "proxies", func(m bus.Msg) {
			mu.Lock()
			seen[string(m.Data)]++
			perMember[i]++
			mu.Unlock()
			wg.Done()
		}); err != nil {
			t.Fatal(err)
		}
		flush(t, mb)
	}
	if _, err := b.QueueSubscribe("x", "", func(bus.Msg) {}); err == nil {
		t.Fatal("empty queue name accepted")
	}
	for i := range msgs {
		if err := b.Publish(context.Background(), "ari.commands.app", "", []byte(strconv.Itoa(i))); err != nil {
			t.Fatal(err)
		}
	}
	waitWG(t, &wg)
	flush(t, b)
	time.Sleep(50 * time.Millisecond) // a duplicate would show up now
	mu.Lock()
	defer mu.Unlock()
	if len(seen) != msgs {
		t.Fatalf("%d distinct messages, want %d", len(seen), msgs)
	}
	for k, n := range seen {
		if n != 1 {
			t.Fatalf("message %s delivered %d times", k, n)
		}
	}
	for i, n := range perMember {
		if n == 0 {
			t.Errorf("member %d got nothing (%v)", i, perMember)
		}
	}
}

func waitWG(t *testing.T, wg *sync.WaitGroup) {
	t.Helper()
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("timed out waiting for messages")
	}
}

// respond subscribes n responders on subject that answer "<prefix><i>:<request>".
func respond(t *testing.T, b *Bus, subject string, n int) {
	t.Helper()
	for i := range n {
		_, err := b.Subscribe(subject, func(m bus.Msg) {
			_ = b.Publish(context.Background(), m.Reply, "", fmt.Appendf(nil, "r%d:%s", i, m.Data))
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	flush(t, b)
}

func TestRequestMany(t *testing.T) {
	e := startServer(t)
	srv := connectT(t, e.ClientURL())
	cli := connectT(t, e.ClientURL())
	respond(t, srv, "ari.ping", 3)

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var got []string
	err := cli.RequestMany(ctx, "ari.ping", []byte("hi"), func(r []byte) bool {
		got = append(got, string(r))
		return len(got) < 3
	})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]bool{"r0:hi": true, "r1:hi": true, "r2:hi": true}
	for _, g := range got {
		if !want[g] {
			t.Fatalf("unexpected or duplicate answer %q in %q", g, got)
		}
		delete(want, g)
	}
}

func TestRequestManyTimeout(t *testing.T) {
	e := startServer(t)
	srv := connectT(t, e.ClientURL())
	cli := connectT(t, e.ClientURL())
	respond(t, srv, "ari.ping", 1)

	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	n := 0
	start := time.Now()
	err := cli.RequestMany(ctx, "ari.ping", nil, func([]byte) bool { n++; return true })
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want deadline exceeded", err)
	}
	if n != 1 {
		t.Fatalf("%d answers, want 1", n)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("took %v", d)
	}

	// An ended context publishes nothing.
	cctx, ccancel := context.WithCancel(context.Background())
	ccancel()
	if err := cli.RequestMany(cctx, "ari.ping", nil, func([]byte) bool { return true }); !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want canceled", err)
	}
}

func TestNoResponders(t *testing.T) {
	e := startServer(t)
	cli := connectT(t, e.ClientURL())
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	start := time.Now()
	called := false
	err := cli.RequestMany(ctx, "nobody.home", []byte("x"), func([]byte) bool { called = true; return true })
	if !errors.Is(err, bus.ErrNoResponders) {
		t.Fatalf("err = %v, want ErrNoResponders", err)
	}
	if called {
		t.Fatal("collect called")
	}
	if d := time.Since(start); d > time.Second {
		t.Fatalf("no-responders took %v", d)
	}
}

func TestOrdering(t *testing.T) {
	e := startServer(t)
	pub := connectT(t, e.ClientURL())
	subBus := connectT(t, e.ClientURL())
	const n = 10000

	done := make(chan struct{})
	var next, bad atomic.Int64
	var inHandler atomic.Int32
	_, err := subBus.Subscribe("order", func(m bus.Msg) {
		if inHandler.Add(1) != 1 {
			bad.Store(-1) // concurrent handler calls
		}
		defer inHandler.Add(-1)
		want := next.Load()
		if string(m.Data) != strconv.FormatInt(want, 10) && bad.Load() == 0 {
			bad.Store(want + 1)
		}
		if next.Add(1) == n {
			close(done)
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	flush(t, subBus)
	for i := range n {
		if err := pub.Publish(context.Background(), "order", "", []byte(strconv.Itoa(i))); err != nil {
			t.Fatal(err)
		}
	}
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		t.Fatalf("got %d of %d", next.Load(), n)
	}
	switch b := bad.Load(); {
	case b == -1:
		t.Fatal("handler called concurrently")
	case b > 0:
		t.Fatalf("message %d out of order", b-1)
	}
}

func TestAuth(t *testing.T) {
	ctx := context.Background()
	up := startServer(t, natsserver.WithUserPassword("ari", "s3cret"))
	tok := startServer(t, natsserver.WithToken("t0ken"))
	host := func(e *natsserver.Server) string { return strings.TrimPrefix(e.ClientURL(), "nats://") }

	tests := []struct {
		name string
		url  string
		ok   bool
	}{
		{"user/password", "nats://ari:s3cret@" + host(up), true},
		{"wrong password", "nats://ari:nope@" + host(up), false},
		{"no credentials", "nats://" + host(up), false},
		{"token", "nats://t0ken@" + host(tok), true},
		{"wrong token", "nats://nope@" + host(tok), false},
		{"url list", "nats://127.0.0.1:1,nats://t0ken@" + host(tok), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
			defer cancel()
			b, err := Connect(cctx, tt.url, WithLogger(quiet), WithName("test"))
			if tt.ok != (err == nil) {
				t.Fatalf("Connect: %v, want ok=%v", err, tt.ok)
			}
			if err != nil {
				for _, secret := range []string{"s3cret", "nope", "t0ken"} {
					if strings.Contains(err.Error(), secret) {
						t.Fatalf("error leaks credentials: %v", err)
					}
				}
				return
			}
			defer b.Close()
			respond(t, b, "echo", 1)
			if err := b.RequestMany(cctx, "echo", []byte("x"), func([]byte) bool { return false }); err != nil {
				t.Fatal(err)
			}
		})
	}

	// In-process connection carries the server's credentials itself.
	for _, e := range []*natsserver.Server{up, tok} {
		b, err := ConnectInProcess(ctx, e, WithLogger(quiet))
		if err != nil {
			t.Fatalf("in-process Connect: %v", err)
		}
		respond(t, b, "echo", 1)
		if err := b.RequestMany(ctx, "echo", nil, func([]byte) bool { return false }); err != nil {
			t.Fatal(err)
		}
		b.Close()
	}
}

func TestTLS(t *testing.T) {
	dir := t.TempDir()
	caFile, serverCert := makeCA(t, dir)
	e := startServer(t, natsserver.WithTLS(&tls.Config{Certificates: []tls.Certificate{serverCert}, MinVersion: tls.VersionTLS12}))
	if !strings.HasPrefix(e.ClientURL(), "tls://") {
		t.Fatalf("ClientURL = %s", e.ClientURL())
	}
	natsURL := "nats://" + e.Addr()

	b := connectT(t, natsURL, WithRootCA(caFile))
	respond(t, b, "echo", 1)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := b.RequestMany(ctx, "echo", nil, func([]byte) bool { return false }); err != nil {
		t.Fatal(err)
	}
	if !b.Conn().TLSRequired() {
		t.Fatal("connection is not TLS")
	}
	connectT(t, e.ClientURL(), WithRootCA(caFile)).Close()

	// Without the CA the server's certificate is unknown.
	if b, err := Connect(ctx, e.ClientURL(), WithLogger(quiet)); err == nil {
		b.Close()
		t.Fatal("connected without trusting the CA")
	}
	// In-process connections skip TLS.
	ib, err := ConnectInProcess(ctx, e, WithLogger(quiet))
	if err != nil {
		t.Fatal(err)
	}
	ib.Close()
}

// makeCA writes a self-signed CA to dir/ca.pem and returns its path and a
// certificate for 127.0.0.1 it signed.
func makeCA(t *testing.T, dir string) (string, tls.Certificate) {
	t.Helper()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	caTmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "test CA"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		IsCA:                  true,
		KeyUsage:              x509.KeyUsageCertSign,
		BasicConstraintsValid: true,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	caCert, _ := x509.ParseCertificate(caDER)
	srvKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	srvTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2),
		Subject:      pkix.Name{CommonName: "127.0.0.1"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IPAddresses:  []net.IP{net.ParseIP("127.0.0.1")},
		DNSNames:     []string{"localhost"},
	}
	srvDER, err := x509.CreateCertificate(rand.Reader, srvTmpl, caCert, &srvKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	caFile := filepath.Join(dir, "ca.pem")
	if err := os.WriteFile(caFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}), 0o600); err != nil {
		t.Fatal(err)
	}
	return caFile, tls.Certificate{Certificate: [][]byte{srvDER}, PrivateKey: srvKey}
}

func TestClose(t *testing.T) {
	e := startServer(t)
	b := connectT(t, e.ClientURL())
	ctx := context.Background()

	// A handler busy at Close finishes its message: Close drains.
	started, finished := make(chan struct{}), make(chan struct{})
	if _, err := b.Subscribe("slow", func(bus.Msg) {
		close(started)
		time.Sleep(100 * time.Millisecond)
		close(finished)
	}); err != nil {
		t.Fatal(err)
	}
	flush(t, b)
	_ = b.Publish(ctx, "slow", "", nil)
	<-started
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-finished:
	default:
		t.Fatal("Close returned before the handler finished")
	}
	if err := b.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if err := b.Publish(ctx, "x", "", nil); !errors.Is(err, bus.ErrClosed) {
		t.Fatalf("Publish after Close: %v", err)
	}
	if _, err := b.Subscribe("x", func(bus.Msg) {}); !errors.Is(err, bus.ErrClosed) {
		t.Fatalf("Subscribe after Close: %v", err)
	}
	if err := b.RequestMany(ctx, "x", nil, func([]byte) bool { return true }); !errors.Is(err, bus.ErrClosed) {
		t.Fatalf("RequestMany after Close: %v", err)
	}
}

func TestRequestManyBusClosed(t *testing.T) {
	e := startServer(t)
	srv := connectT(t, e.ClientURL())
	respond(t, srv, "one", 1)
	b := connectT(t, e.ClientURL(), WithDrainTimeout(200*time.Millisecond))
	errc := make(chan error, 1)
	got := make(chan struct{})
	go func() {
		errc <- b.RequestMany(context.Background(), "one", nil, func([]byte) bool { close(got); return true })
	}()
	<-got
	b.Close()
	select {
	case err := <-errc:
		if !errors.Is(err, bus.ErrClosed) {
			t.Fatalf("err = %v, want ErrClosed", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("RequestMany still waiting after Close")
	}
}

func TestFromConn(t *testing.T) {
	e := startServer(t)
	nc, err := nats.Connect(e.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	b := FromConn(nc)
	if b.Conn() != nc {
		t.Fatal("Conn() is not the shared connection")
	}
	got := make(chan struct{}, 1)
	if _, err := b.Subscribe("s", func(bus.Msg) { got <- struct{}{} }); err != nil {
		t.Fatal(err)
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	if nc.IsClosed() {
		t.Fatal("Close closed the shared connection")
	}
	if n := nc.NumSubscriptions(); n != 0 {
		t.Fatalf("%d subscriptions left", n)
	}
}

func TestReconnect(t *testing.T) {
	ctx := context.Background()
	e1 := startServer(t)
	addr := e1.Addr()
	b := connectT(t, e1.ClientURL(), WithReconnect(-1, 20*time.Millisecond))
	got := make(chan string, 10)
	if _, err := b.Subscribe("r", func(m bus.Msg) { got <- string(m.Data) }); err != nil {
		t.Fatal(err)
	}
	flush(t, b)
	e1.Shutdown()

	sctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	var e2 *natsserver.Server
	var err error
	for { // the port may linger a moment
		if e2, err = natsserver.Start(sctx, addr, natsserver.WithLogger(quiet)); err == nil {
			break
		}
		if sctx.Err() != nil {
			t.Fatal(err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	defer e2.Shutdown()
	pub := connectT(t, e2.ClientURL())
	deadline := time.After(10 * time.Second)
	for {
		// The subscription comes back with the connection.
		_ = pub.Publish(ctx, "r", "", []byte("again"))
		select {
		case m := <-got:
			if m != "again" {
				t.Fatalf("got %q", m)
			}
			return
		case <-time.After(50 * time.Millisecond):
		case <-deadline:
			t.Fatal("no message after reconnect")
		}
	}
}

func TestRedactURL(t *testing.T) {
	tests := []struct{ in, want string }{
		{"nats://127.0.0.1:4222", "nats://127.0.0.1:4222"},
		{"nats://u:secret@h:4222", "nats://redacted@h:4222"},
		{"nats://secret@h:4222", "nats://redacted@h:4222"},
		{"nats://a:secret@h1:1, tls://secret@h2:2", "nats://redacted@h1:1,tls://redacted@h2:2"},
		{"u:secret@h:4222", "redacted@h:4222"},
		{"h:4222", "h:4222"},
	}
	for _, tt := range tests {
		if got := RedactURL(tt.in); got != tt.want {
			t.Errorf("RedactURL(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func BenchmarkPublish(b *testing.B) {
	e := startServer(b)
	bb := connectT(b, e.ClientURL())
	var n atomic.Int64
	sb := connectT(b, e.ClientURL(), WithPendingLimits(-1, -1))
	if _, err := sb.Subscribe("bench", func(bus.Msg) { n.Add(1) }); err != nil {
		b.Fatal(err)
	}
	flush(b, sb)
	data := make([]byte, 512)
	ctx := context.Background()
	b.SetBytes(int64(len(data)))
	b.ResetTimer()
	for b.Loop() {
		if err := bb.Publish(ctx, "bench", "", data); err != nil {
			b.Fatal(err)
		}
	}
	flush(b, bb)
}

func BenchmarkRequest(b *testing.B) {
	e := startServer(b)
	srv := connectT(b, e.ClientURL())
	if _, err := srv.Subscribe("bench.req", func(m bus.Msg) {
		_ = srv.Publish(context.Background(), m.Reply, "", m.Data)
	}); err != nil {
		b.Fatal(err)
	}
	flush(b, srv)
	cli := connectT(b, e.ClientURL())
	data := make([]byte, 256)
	ctx := context.Background()
	b.ResetTimer()
	for b.Loop() {
		if err := cli.RequestMany(ctx, "bench.req", data, func([]byte) bool { return false }); err != nil {
			b.Fatal(err)
		}
	}
}

// Each message carries its own headers exactly, though PublishMsg reuses
// the maps it hands nats.go.
func TestPublishMsgHeaders(t *testing.T) {
	e := startServer(t)
	pub := connectT(t, e.ClientURL())
	got := make(chan bus.Msg, 10)
	if _, err := pub.Subscribe("hdr.>", func(m bus.Msg) { got <- m }); err != nil {
		t.Fatal(err)
	}
	flush(t, pub)
	sent := []map[string]string{
		{bus.HeaderSeq: "1", bus.HeaderEpoch: "e1", "X-Other": "x"},
		{bus.HeaderSeq: "2"},
		nil,
		{bus.HeaderEpoch: "e2"},
	}
	for i, h := range sent {
		if err := pub.PublishMsg(context.Background(), bus.Msg{Subject: "hdr." + strconv.Itoa(i), Header: h, Data: []byte("d")}); err != nil {
			t.Fatal(err)
		}
	}
	for i, want := range sent {
		select {
		case m := <-got:
			if len(m.Header) != len(want) {
				t.Fatalf("message %d: headers %v, want %v", i, m.Header, want)
			}
			for k, v := range want {
				if m.Header[k] != v {
					t.Fatalf("message %d: headers %v, want %v", i, m.Header, want)
				}
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("message %d not received", i)
		}
	}
}
