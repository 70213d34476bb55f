package client

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/ariproxy/ari-proxy/bus"
)

// streamMsg is a stream message as the reorderer reads it (subject, data,
// headers); the other methods are not called.
type streamMsg struct {
	jetstream.Msg
	subject string
	header  nats.Header
	data    []byte
	meta    *jetstream.MsgMetadata // nil: none (Metadata fails)
	acked   *[]string              // where Ack records the message, if set
}

func (m streamMsg) Subject() string      { return m.subject }
func (m streamMsg) Headers() nats.Header { return m.header }
func (m streamMsg) Data() []byte         { return m.data }

func (m streamMsg) Metadata() (*jetstream.MsgMetadata, error) {
	if m.meta == nil {
		return nil, jetstream.ErrNotJSMessage
	}
	return m.meta, nil
}

// delivered is m as the consumer's delivery number cons of stream
// sequence stream, delivered for the n-th time.
func (m streamMsg) delivered(stream, cons, n uint64) streamMsg {
	m.meta = &jetstream.MsgMetadata{Sequence: jetstream.SequencePair{Stream: stream, Consumer: cons}, NumDelivered: n}
	return m
}

func numbered(subject, epoch string, n int) streamMsg {
	h := nats.Header{}
	h.Set(bus.HeaderSeq, strconv.Itoa(n))
	h.Set(bus.HeaderEpoch, epoch)
	return streamMsg{subject: subject, header: h, data: []byte(fmt.Sprintf("%s/%d", epoch, n))}
}

func TestReorderer(t *testing.T) {
	var delivered, dropped []string
	r := &reorderer{
		deliver: func(bm bus.Msg, _ jetstream.Msg) { delivered = append(delivered, bm.Subject+":"+string(bm.Data)) },
		drop:    func(m jetstream.Msg) { dropped = append(dropped, m.Subject()+":"+string(m.Data())) },
	}
	for _, m := range []streamMsg{
		numbered("a", "e1", 1), numbered("a", "e1", 2), numbered("b", "e1", 7), numbered("a", "e1", 5),
		numbered("a", "e1", 3), numbered("a", "e1", 5), numbered("a", "e1", 4), numbered("a", "e1", 2),
		numbered("b", "e1", 8), numbered("a", "e1", 6), numbered("a", "e2", 1),
	} {
		r.push(m)
	}
	want := "[a:e1/1 a:e1/2 b:e1/7 a:e1/3 a:e1/4 a:e1/5 b:e1/8 a:e1/6 a:e2/1]"
	if got := fmt.Sprint(delivered); got != want {
		t.Errorf("delivered %s\nwant      %s", got, want)
	}
	if got := fmt.Sprint(dropped); got != "[a:e1/5 a:e1/2]" {
		t.Errorf("dropped %s, want the copies of 5 and 2", got)
	}

	// A number that never comes: the events after it wait, then go.
	delivered = nil
	r.push(numbered("a", "e2", 3))
	r.push(numbered("a", "e2", 4))
	if len(delivered) != 0 {
		t.Fatalf("delivered %v before 2 came", delivered)
	}
	r.expire(time.Now())
	if len(delivered) != 0 {
		t.Fatalf("gave up on 2 at once: %v", delivered)
	}
	r.expire(time.Now().Add(reorderWait + time.Second))
	if got := fmt.Sprint(delivered); got != "[a:e2/3 a:e2/4]" {
		t.Errorf("after the wait: %s", got)
	}
}

// TestReordererLostDeliveries: the consumer's leader dies with deliveries
// on the way (consumer sequences 4 to 6 never arrive). They are read from
// the stream at once and delivered in their place; JetStream's
// redelivery of them after AckWait is acknowledged and dropped. When the
// stream cannot be read, the subscription waits for that redelivery
// rather than giving up after reorderWait.
func TestReordererLostDeliveries(t *testing.T) {
	stream := map[uint64]streamMsg{} // stream sequence -> message
	for i := range uint64(10) {
		stream[i+1] = numbered(fmt.Sprintf("n%d", i%2), "e1", int(i/2+1))
	}
	var delivered, dropped []string
	var fetchErr error
	var fetched [][2]uint64
	r := &reorderer{
		deliver: func(bm bus.Msg, m jetstream.Msg) {
			src := "consumer"
			if m == nil {
				src = "stream"
			}
			delivered = append(delivered, bm.Subject+":"+bm.Header[bus.HeaderSeq]+"/"+src)
		},
		drop: func(m jetstream.Msg) { dropped = append(dropped, m.Subject()+":"+m.Headers().Get(bus.HeaderSeq)) },
		fetch: func(_ context.Context, after, before uint64) ([]*jetstream.RawStreamMsg, error) {
			fetched = append(fetched, [2]uint64{after, before})
			if fetchErr != nil {
				return nil, fetchErr
			}
			var out []*jetstream.RawStreamMsg
			for seq := after + 1; seq < before; seq++ {
				m := stream[seq]
				out = append(out, &jetstream.RawStreamMsg{Subject: m.subject, Sequence: seq, Header: m.header, Data: m.data})
			}
			return out, nil
		},
		ackWait: 30 * time.Second,
	}
	for _, d := range [][3]uint64{{1, 1, 1}, {2, 2, 1}, {3, 3, 1}, {7, 7, 1}, {8, 8, 1}, {4, 9, 2}, {5, 10, 2}, {6, 11, 2}} {
		r.push(stream[d[0]].delivered(d[0], d[1], d[2]))
	}
	want := "[n0:1/consumer n1:1/consumer n0:2/consumer n1:2/stream n0:3/stream n1:3/stream n0:4/consumer n1:4/consumer]"
	if got := fmt.Sprint(delivered); got != want {
		t.Errorf("delivered %s\nwant      %s", got, want)
	}
	if got := fmt.Sprint(fetched); got != "[[3 7]]" {
		t.Errorf("read from the stream %s, want the sequences between 3 and 7", got)
	}
	if got := fmt.Sprint(dropped); got != "[n1:2 n0:3 n1:3]" {
		t.Errorf("dropped %s, want the redeliveries of what was read from the stream", got)
	}

	// The stream cannot be read: the events after the lost ones wait,
	// beyond reorderWait, for JetStream's redelivery.
	delivered, dropped, fetched = nil, nil, nil
	fetchErr = errors.New("no stream leader")
	for i := range uint64(6) {
		stream[11+i] = numbered(fmt.Sprintf("n%d", i%2), "e1", int(i/2+6))
	}
	for _, d := range [][3]uint64{{9, 12, 1}, {10, 13, 1}, {11, 14, 1}, {12, 15, 1}, {15, 18, 1}, {16, 19, 1}} { // 13, 14 lost
		r.push(stream[d[0]].delivered(d[0], d[1], d[2]))
	}
	r.expire(time.Now().Add(reorderWait + time.Second))
	if got := fmt.Sprint(delivered); got != "[n0:5/consumer n1:5/consumer n0:6/consumer n1:6/consumer]" {
		t.Errorf("delivered %s before the lost ones came", got)
	}
	if len(fetched) != 2 {
		t.Errorf("read the stream %d times (%v), want on the delivery after the loss and on expire", len(fetched), fetched)
	}
	r.push(stream[13].delivered(13, 20, 2))
	r.push(stream[14].delivered(14, 21, 2))
	want = "[n0:5/consumer n1:5/consumer n0:6/consumer n1:6/consumer n0:7/consumer n0:8/consumer n1:7/consumer n1:8/consumer]"
	if got := fmt.Sprint(delivered); got != want {
		t.Errorf("after the redelivery %s\nwant                %s", got, want)
	}
	// Given up once JetStream must have delivered them again.
	r.expire(time.Now().Add(r.ackWait + reorderWait + 2*time.Second))
	if len(r.lost) != 0 {
		t.Errorf("still looking for %v", r.lost)
	}

	// An event without a number (a v5 server) is left to the redelivery:
	// nothing would tell that from a new event.
	delivered, fetchErr = nil, nil
	stream[17] = streamMsg{subject: "v5", header: nats.Header{}, data: []byte("v5")}
	stream[18] = numbered("n0", "e1", 9)
	r.push(stream[18].delivered(18, 23, 1)) // 22 (stream 17) lost
	r.push(stream[17].delivered(17, 24, 2))
	if got := fmt.Sprint(delivered); got != "[n0:9/consumer v5:/consumer]" {
		t.Errorf("with a v5 event lost: %s", got)
	}
}
