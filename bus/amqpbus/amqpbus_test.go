package amqpbus_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/ariproxy/ari-proxy/bus"
	"github.com/ariproxy/ari-proxy/bus/amqpbus"
	"github.com/ariproxy/ari-proxy/internal/bustest"
	"github.com/ariproxy/ari-proxy/internal/localstack"
)

func TestMain(m *testing.M) { bustest.Main(m) }

func connect(t *testing.T, url string, opts ...amqpbus.Option) *amqpbus.Bus {
	return connectB(t, url, opts...)
}

func connectB(t testing.TB, url string, opts ...amqpbus.Option) *amqpbus.Bus {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	b, err := amqpbus.Connect(ctx, url, append([]amqpbus.Option{amqpbus.WithLogger(localstack.Logger()),
		amqpbus.WithBackoff(50*time.Millisecond, 500*time.Millisecond)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	return b
}

// collector gathers a subscription's messages.
type collector struct {
	mu   sync.Mutex
	msgs []bus.Msg
	seen map[string]int
}

func (c *collector) handle(m bus.Msg) {
	c.mu.Lock()
	c.msgs = append(c.msgs, m)
	if c.seen == nil {
		c.seen = map[string]int{}
	}
	c.seen[string(m.Data)]++
	c.mu.Unlock()
}

func (c *collector) count() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.msgs)
}

func (c *collector) distinct() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.seen)
}

func waitFor(t *testing.T, what string, d time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestPublishSubscribe(t *testing.T) {
	url := bustest.RabbitMQURL(t)
	p := localstack.Prefix()
	a, b := connect(t, url), connect(t, url)
	ctx := context.Background()

	var all, one, ping, other collector
	for subj, c := range map[string]*collector{p + "event.app.>": &all, p + "event.app.n1": &one, p + "ping": &ping,
		"zz" + p + "ping": &other} {
		if _, err := b.Subscribe(subj, c.handle); err != nil {
			t.Fatal(err)
		}
	}
	for _, s := range []string{p + "event.app.n1", p + "event.app.n2", p + "event.app", p + "event.other.n1", p + "ping"} {
		if err := a.Publish(ctx, s, "", []byte(s)); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, "messages", 5*time.Second, func() bool { return all.count() == 2 && one.count() == 1 && ping.count() == 1 })
	time.Sleep(100 * time.Millisecond)
	// ">" needs a token ("event.app" is not under "event.app.>"), and the
	// fanout's other prefixes are filtered out.
	if all.count() != 2 || one.count() != 1 || ping.count() != 1 || other.count() != 0 {
		t.Fatalf("all %d one %d ping %d other %d, want 2 1 1 0", all.count(), one.count(), ping.count(), other.count())
	}
	if got := one.msgs[0]; got.Subject != p+"event.app.n1" || string(got.Data) != p+"event.app.n1" {
		t.Fatalf("message %+v", got)
	}
}

func TestUnsubscribeDeletesQueue(t *testing.T) {
	url := bustest.RabbitMQURL(t)
	b := connect(t, url)
	var c collector
	sub, err := b.Subscribe(localstack.Prefix()+"event.x.y", c.handle)
	if err != nil {
		t.Fatal(err)
	}
	q := amqpbus.QueueName(sub)
	if err := sub.Unsubscribe(); err != nil {
		t.Fatal(err)
	}
	out, err := bustest.RabbitMQBroker(t).Ctl(context.Background(), "list_queues", "name")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(out, q) {
		t.Fatalf("queue %s still declared after Unsubscribe", q)
	}
}

func TestQueueSubscribeOneMember(t *testing.T) {
	url := bustest.RabbitMQURL(t)
	p := localstack.Prefix()
	pub := connect(t, url)
	var members [3]collector
	for i := range members {
		b := connect(t, url)
		if _, err := b.QueueSubscribe(p+"create.app", "ariproxy", members[i].handle); err != nil {
			t.Fatal(err)
		}
	}
	const n = 300
	for i := range n {
		if err := pub.Publish(context.Background(), p+"create.app", "", fmt.Appendf(nil, "%d", i)); err != nil {
			t.Fatal(err)
		}
	}
	total := func() int { return members[0].count() + members[1].count() + members[2].count() }
	waitFor(t, "all messages", 10*time.Second, func() bool { return total() >= n })
	time.Sleep(100 * time.Millisecond)
	if total() != n {
		t.Fatalf("%d deliveries for %d messages", total(), n)
	}
	for i := range members {
		if members[i].count() == 0 {
			t.Errorf("member %d got nothing (%d %d %d)", i, members[0].count(), members[1].count(), members[2].count())
		}
	}
}

func TestRequestMany(t *testing.T) {
	url := bustest.RabbitMQURL(t)
	p := localstack.Prefix()
	cli := connect(t, url)
	for i := range 3 {
		srv := connect(t, url)
		if _, err := srv.Subscribe(p+"get.app", func(m bus.Msg) {
			_ = srv.Publish(context.Background(), m.Reply, "", fmt.Appendf(nil, "answer %d to %s", i, m.Data))
		}); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	// Scatter-gather: three servers, three answers, on one request.
	for round := range 20 {
		var got []string
		err := cli.RequestMany(ctx, p+"get.app", fmt.Appendf(nil, "q%d", round), func(r []byte) bool {
			got = append(got, string(r))
			return len(got) < 3
		})
		if err != nil || len(got) != 3 {
			t.Fatalf("round %d: %v, %q", round, err, got)
		}
		for _, a := range got {
			if !strings.HasSuffix(a, fmt.Sprintf("q%d", round)) {
				t.Fatalf("round %d: answer %q of another request", round, a)
			}
		}
	}
	// Nobody bound: the broker returns the request.
	err := cli.RequestMany(ctx, p+"get.nobody", []byte("x"), func([]byte) bool { return true })
	if !errors.Is(err, bus.ErrNoResponders) {
		t.Fatalf("request to nobody: %v, want ErrNoResponders", err)
	}
	// Bound but silent: the context ends it.
	if _, err := connect(t, url).Subscribe(p+"get.silent", func(bus.Msg) {}); err != nil {
		t.Fatal(err)
	}
	sctx, scancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer scancel()
	if err := cli.RequestMany(sctx, p+"get.silent", nil, func([]byte) bool { return true }); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("silent: %v", err)
	}
}

func TestBadSubjects(t *testing.T) {
	b := connect(t, bustest.RabbitMQURL(t))
	for _, s := range []string{"", "a..b", "a.>.b", "a b", "a.b#", strings.Repeat("x", 256)} {
		if _, err := b.Subscribe(s, func(bus.Msg) {}); err == nil {
			t.Errorf("Subscribe(%q) accepted", s)
		}
	}
	for _, s := range []string{"", "a.*", "a.>", "a..b"} {
		if err := b.Publish(context.Background(), s, "", nil); err == nil {
			t.Errorf("Publish(%q) accepted", s)
		}
	}
}

func TestClosedChannelResubscribes(t *testing.T) {
	url := bustest.RabbitMQURL(t)
	p := localstack.Prefix()
	a, b := connect(t, url), connect(t, url)
	var c collector
	sub, err := b.Subscribe(p+"event.app.n", c.handle)
	if err != nil {
		t.Fatal(err)
	}
	_ = a.Publish(context.Background(), p+"event.app.n", "", []byte("1"))
	waitFor(t, "first", 5*time.Second, func() bool { return c.count() == 1 })
	amqpbus.CloseChannel(sub)
	// The queue outlives its channel: what is published meanwhile waits.
	_ = a.Publish(context.Background(), p+"event.app.n", "", []byte("2"))
	waitFor(t, "after the channel closed", 5*time.Second, func() bool { return c.count() == 2 })
}

// TestBrokerRestart publishes a numbered stream through a broker restart
// and counts: every message arrives (some possibly twice), requests in
// flight fail with ErrNotConnected rather than hang, and new requests
// work after the restart.
func TestBrokerRestart(t *testing.T) {
	url := bustest.RabbitMQURL(t)
	broker := bustest.RabbitMQBroker(t)
	p := localstack.Prefix()
	pub, sub := connect(t, url), connect(t, url)
	var c collector
	if _, err := sub.Subscribe(p+"event.app.>", c.handle); err != nil {
		t.Fatal(err)
	}
	srv := connect(t, url)
	var block atomic.Bool
	block.Store(true)
	if _, err := srv.Subscribe(p+"get.app", func(m bus.Msg) {
		if !block.Load() {
			_ = srv.Publish(context.Background(), m.Reply, "", []byte("ok"))
		}
	}); err != nil {
		t.Fatal(err)
	}
	reqErr := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		reqErr <- pub.RequestMany(ctx, p+"get.app", nil, func([]byte) bool { return false })
	}()

	stop := make(chan struct{})
	published := make(chan int)
	go func() {
		i := 0
		defer func() { published <- i }()
		for ; ; i++ {
			if err := pub.Publish(context.Background(), p+"event.app.n1", "", fmt.Appendf(nil, "%d", i)); err != nil {
				t.Errorf("publish %d: %v", i, err)
				return
			}
			if i%10 == 0 {
				time.Sleep(time.Millisecond)
			}
			select {
			case <-stop:
				i++
				return
			default:
			}
		}
	}()
	waitFor(t, "some messages before the restart", 10*time.Second, func() bool { return c.count() > 100 })
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := broker.Restart(ctx); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-reqErr:
		if !errors.Is(err, bus.ErrNotConnected) {
			t.Fatalf("request in flight during the restart: %v, want ErrNotConnected", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("request in flight still waiting after the restart")
	}
	time.Sleep(300 * time.Millisecond) // messages after the restart too
	close(stop)
	got := <-published
	waitFor(t, "both reconnected", 30*time.Second, func() bool {
		return pub.Stats().Reconnects > 0 && sub.Stats().Reconnects > 0
	})
	deadline := time.Now().Add(20 * time.Second)
	for c.distinct() != got {
		if time.Now().After(deadline) {
			c.mu.Lock()
			var missing []int
			for i := range got {
				if c.seen[fmt.Sprint(i)] == 0 {
					missing = append(missing, i)
				}
			}
			c.mu.Unlock()
			t.Fatalf("published %d, received %d distinct; missing %d: %v; publisher %+v", got, c.distinct(), len(missing), missing[:min(len(missing), 20)], pub.Stats())
		}
		time.Sleep(10 * time.Millisecond)
	}
	st := pub.Stats()
	t.Logf("published %d: received %d (%d distinct), publisher stats %+v, subscriber reconnects %d",
		got, c.count(), c.distinct(), st, sub.Stats().Reconnects)
	if st.Reconnects == 0 || sub.Stats().Reconnects == 0 {
		t.Fatalf("no reconnect counted: publisher %d, subscriber %d", st.Reconnects, sub.Stats().Reconnects)
	}
	if st.Dropped != 0 || st.Refused != 0 {
		t.Fatalf("publisher dropped %d, refused %d", st.Dropped, st.Refused)
	}
	// Requests work again once reconnected.
	block.Store(false)
	rctx, rcancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer rcancel()
	for {
		err := pub.RequestMany(rctx, p+"get.app", nil, func([]byte) bool { return false })
		if err == nil {
			break
		}
		if rctx.Err() != nil {
			t.Fatalf("request after the restart: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestBufferBounded: with no broker reachable, Publish buffers up to the
// bound and then drops, counting each drop.
func TestBufferBounded(t *testing.T) {
	url := bustest.RabbitMQURL(t)
	broker := bustest.RabbitMQBroker(t)
	b := connect(t, url, amqpbus.WithBuffer(10, 10))
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if _, err := broker.Ctl(ctx, "stop_app"); err != nil {
		t.Fatal(err)
	}
	defer func() {
		if _, err := broker.Ctl(ctx, "start_app"); err != nil {
			t.Error(err)
		}
		_ = broker.WaitReady(ctx)
	}()
	waitFor(t, "disconnect", 10*time.Second, func() bool { return !b.Connected() })
	var refused int
	for i := range 15 {
		if err := b.Publish(context.Background(), "x.event.a.b", "", []byte{byte(i)}); err != nil {
			refused++
		}
	}
	if refused != 5 || b.Stats().Dropped != 5 {
		t.Fatalf("15 publishes into a buffer of 10: %d refused, %d counted dropped; want 5", refused, b.Stats().Dropped)
	}
}

// TestTLS: amqps with the broker's CA and a client certificate works;
// without the CA, or without the certificate, it does not.
func TestTLS(t *testing.T) {
	url, certs := bustest.RabbitMQTLS(t)
	b := connect(t, url, amqpbus.WithRootCA(certs.CA), amqpbus.WithClientCert(certs.ClientCert, certs.ClientKey))
	p := localstack.Prefix()
	if _, err := b.Subscribe(p+"get.x", func(m bus.Msg) { _ = b.Publish(context.Background(), m.Reply, "", []byte("ok")) }); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := b.RequestMany(ctx, p+"get.x", nil, func([]byte) bool { return false }); err != nil {
		t.Fatalf("request over amqps: %v", err)
	}
	for name, opts := range map[string][]amqpbus.Option{
		"without the CA":          {amqpbus.WithClientCert(certs.ClientCert, certs.ClientKey)},
		"without the client cert": {amqpbus.WithRootCA(certs.CA)},
	} {
		if b, err := amqpbus.Connect(ctx, url, append(opts, amqpbus.WithLogger(localstack.Logger()))...); err == nil {
			b.Close()
			t.Errorf("connected %s", name)
		}
	}
}

// TestV5Replies: a v5-style server (raw AMQP) answers without a
// correlation id, and late, twice: every request gets its own answers
// only, whichever channel it had.
func TestV5Replies(t *testing.T) {
	url := bustest.RabbitMQURL(t)
	p := localstack.Prefix()
	cli := connect(t, url) // declares the exchanges
	ch, reqs := rawV5Server(t, url, p+"data.app")
	go func() {
		for d := range reqs {
			// The answer at once, and the same again 250 ms later (after
			// the requester is done): no correlation id on either.
			_ = ch.Publish("", d.ReplyTo, false, false, amqp.Publishing{Body: d.Body})
			time.AfterFunc(250*time.Millisecond, func() { _ = ch.Publish("", d.ReplyTo, false, false, amqp.Publishing{Body: d.Body}) })
		}
	}()
	// And one of ours on the same subject, answering with the id.
	ours := connect(t, url)
	if _, err := ours.Subscribe(p+"data.app", func(m bus.Msg) {
		_ = ours.Publish(context.Background(), m.Reply, "", append([]byte("ours:"), m.Data...))
	}); err != nil {
		t.Fatal(err)
	}
	for i := range 20 {
		q := fmt.Sprintf("q%d", i)
		var got []string
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		err := cli.RequestMany(ctx, p+"data.app", []byte(q), func(r []byte) bool {
			got = append(got, string(r))
			return len(got) < 2
		})
		cancel()
		if err != nil {
			t.Fatalf("request %d: %v", i, err)
		}
		for _, a := range got {
			if a != q && a != "ours:"+q {
				t.Fatalf("request %s got %q: another request's answer", q, a)
			}
		}
		time.Sleep(30 * time.Millisecond) // late answers of earlier requests keep coming
	}
}

// TestLateV5AnswerAfterReuse: a v5-style server's answer (no correlation
// id) that comes after its request timed out, while the next request
// waits on the same reply channel, does not reach that request: each
// request has a reply address of its own.
func TestLateV5AnswerAfterReuse(t *testing.T) {
	url := bustest.RabbitMQURL(t)
	p := localstack.Prefix()
	cli := connect(t, url) // declares the exchanges
	ch, reqs := rawV5Server(t, url, p+"data.app")
	var late atomic.Int64 // late answers sent
	go func() {
		for d := range reqs {
			wait := 300 * time.Millisecond
			if bytes.HasPrefix(d.Body, []byte("late")) {
				wait = 100 * time.Millisecond
			}
			time.AfterFunc(wait, func() {
				_ = ch.Publish("", d.ReplyTo, false, false, amqp.Publishing{Body: d.Body})
				if bytes.HasPrefix(d.Body, []byte("late")) {
					late.Add(1)
				}
			})
		}
	}()
	for i := range 5 {
		// Times out before its answer comes...
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Millisecond)
		err := cli.RequestMany(ctx, p+"data.app", fmt.Appendf(nil, "late%d", i), func([]byte) bool { return false })
		cancel()
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("late request %d: %v, want a timeout", i, err)
		}
		// ... which comes while this one waits, on the same channel.
		want := fmt.Sprintf("slow%d", i)
		var got []string
		ctx, cancel = context.WithTimeout(context.Background(), 5*time.Second)
		err = cli.RequestMany(ctx, p+"data.app", []byte(want), func(r []byte) bool {
			got = append(got, string(r))
			return false
		})
		cancel()
		if err != nil {
			t.Fatalf("request %s: %v", want, err)
		}
		if len(got) != 1 || got[0] != want {
			t.Fatalf("request %s got %q: another request's answer", want, got)
		}
	}
	if n := late.Load(); n != 5 {
		t.Fatalf("%d late answers sent, want 5 (the test did not test)", n)
	}
	if n := amqpbus.ReplyChannels(cli); n != 1 {
		t.Fatalf("%d reply channels opened for sequential requests, want 1", n)
	}
}

// TestReplyChannelClosed: the channel answers go out on closes (as a
// channel error would close it); the next answers still arrive, on a new
// one or by the buffered way.
func TestReplyChannelClosed(t *testing.T) {
	url := bustest.RabbitMQURL(t)
	p := localstack.Prefix()
	srv, cli := connect(t, url), connect(t, url)
	if _, err := srv.Subscribe(p+"get.app", func(m bus.Msg) {
		_ = srv.Publish(context.Background(), m.Reply, "", m.Data)
	}); err != nil {
		t.Fatal(err)
	}
	for i := range 20 {
		if i%4 == 1 {
			amqpbus.CloseReplyPublisher(srv)
		}
		want := fmt.Sprintf("q%d", i)
		var got string
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		err := cli.RequestMany(ctx, p+"get.app", []byte(want), func(r []byte) bool { got = string(r); return false })
		cancel()
		if err != nil || got != want {
			t.Fatalf("request %d after the reply channel closed: %q, %v", i, got, err)
		}
	}
}

// TestFewInflight: with room for fewer unconfirmed messages than a batch
// holds, a flood still arrives whole and in order (the batch's held-back
// frames go out before the publisher waits for their confirms).
func TestFewInflight(t *testing.T) {
	url := bustest.RabbitMQURL(t)
	p := localstack.Prefix()
	pub, sub := connect(t, url, amqpbus.WithBuffer(100000, 5)), connect(t, url)
	var c collector
	if _, err := sub.Subscribe(p+"event.app.>", c.handle); err != nil {
		t.Fatal(err)
	}
	const n = 1000
	for i := range n {
		if err := pub.Publish(context.Background(), p+"event.app.n1", "", fmt.Appendf(nil, "%d", i)); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, "every message", 30*time.Second, func() bool { return c.distinct() == n })
	c.mu.Lock()
	defer c.mu.Unlock()
	for i, m := range c.msgs[:n] {
		if string(m.Data) != fmt.Sprint(i) {
			t.Fatalf("message %d is %q: out of order", i, m.Data)
		}
	}
}

// rawV5Server is a v5-style server on a connection of its own (raw AMQP,
// closed at the end of the test): a queue bound to key on the request
// exchange, its requests consumed with auto-ack.
func rawV5Server(t *testing.T, url, key string) (*amqp.Channel, <-chan amqp.Delivery) {
	t.Helper()
	conn, err := amqp.Dial(url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	ch, err := conn.Channel()
	if err != nil {
		t.Fatal(err)
	}
	q, err := ch.QueueDeclare("", false, true, true, false, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := ch.QueueBind(q.Name, key, amqpbus.ExchangeRequest, false, nil); err != nil {
		t.Fatal(err)
	}
	reqs, err := ch.Consume(q.Name, "", true, false, false, false, nil)
	if err != nil {
		t.Fatal(err)
	}
	return ch, reqs
}
