package amqpbus

import (
	"errors"
	"net"
	"testing"
)

// recordConn records each write; failing makes them fail.
type recordConn struct {
	net.Conn
	writes  [][]byte
	failing bool
	closed  bool
}

func (r *recordConn) Write(p []byte) (int, error) {
	if r.failing {
		return 0, errors.New("broken pipe")
	}
	r.writes = append(r.writes, append([]byte(nil), p...))
	return len(p), nil
}

func (r *recordConn) Close() error { r.closed = true; return nil }

func TestCorkConn(t *testing.T) {
	rec := &recordConn{}
	c := &corkConn{Conn: rec}
	_, _ = c.Write([]byte("a"))
	c.cork()
	_, _ = c.Write([]byte("b"))
	c.cork() // nested
	_, _ = c.Write([]byte("c"))
	c.uncork()
	if len(rec.writes) != 1 {
		t.Fatalf("writes sent while corked: %q", rec.writes)
	}
	c.uncork()
	_, _ = c.Write([]byte("d"))
	want := []string{"a", "bc", "d"}
	if len(rec.writes) != len(want) {
		t.Fatalf("writes %q, want %q", rec.writes, want)
	}
	for i, w := range want {
		if string(rec.writes[i]) != w {
			t.Fatalf("writes %q, want %q", rec.writes, want)
		}
	}

	// A held-back write that fails closes the connection, and later
	// writes fail.
	rec.failing = true
	c.cork()
	if _, err := c.Write([]byte("e")); err != nil {
		t.Fatal(err)
	}
	c.uncork()
	if !rec.closed {
		t.Fatal("connection not closed after a failed held-back write")
	}
	if _, err := c.Write([]byte("f")); err == nil {
		t.Fatal("write after a failed held-back write succeeded")
	}
}

// TestCorkConnBound: a cork holds back at most corkMax bytes, so that a
// long corked batch does not hold back the frames others write meanwhile.
func TestCorkConnBound(t *testing.T) {
	rec := &recordConn{}
	c := &corkConn{Conn: rec}
	c.cork()
	_, _ = c.Write(make([]byte, corkMax-1))
	if len(rec.writes) != 0 {
		t.Fatalf("%d writes sent under the bound", len(rec.writes))
	}
	_, _ = c.Write([]byte("answer"))
	if len(rec.writes) != 1 || len(rec.writes[0]) != corkMax+5 {
		t.Fatalf("writes at the bound: %d", len(rec.writes))
	}
	_, _ = c.Write([]byte("x"))
	c.uncork()
	if len(rec.writes) != 2 || string(rec.writes[1]) != "x" {
		t.Fatalf("after uncork: %d writes", len(rec.writes))
	}
}
