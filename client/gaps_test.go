package client

import (
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
}

func (m streamMsg) Subject() string      { return m.subject }
func (m streamMsg) Headers() nats.Header { return m.header }
func (m streamMsg) Data() []byte         { return m.data }

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
