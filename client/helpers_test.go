package client

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ariproxy/ari-proxy/ari"
	"github.com/ariproxy/ari-proxy/wire"
)

const testApp = "demo"

// setParam copies p[name], when present, into *dst (the generated test
// table fills parameter structs with it). Values convert through JSON, so
// 10.0 fills an int and "a" fills a []string, as ARI reads them.
func setParam[T any](dst *T, p ari.Params, name string) {
	v, ok := p[name]
	if !ok {
		return
	}
	if t, ok := v.(T); ok {
		*dst = t
		return
	}
	b, err := json.Marshal(v)
	if err == nil {
		if err = json.Unmarshal(b, dst); err == nil {
			return
		}
		// A single value for a list parameter.
		if b, err = json.Marshal([]any{v}); err == nil {
			if err = json.Unmarshal(b, dst); err == nil {
				return
			}
		}
	}
	panic(fmt.Sprintf("parameter %s: cannot use %#v as %T: %v", name, v, *dst, err))
}

// waitFor polls cond for a few seconds.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting: %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// drained reads what sub still buffers and fails unless its channel is
// closed soon: it must be, after Close.
func drained(t *testing.T, sub *Subscription) {
	t.Helper()
	timeout := time.After(2 * time.Second)
	for {
		select {
		case _, ok := <-sub.Events():
			if !ok {
				return
			}
		case <-timeout:
			t.Fatal("subscription's events channel still open")
		}
	}
}

// handledOnce checks that want distinct calls were handled, each once.
func handledOnce(t *testing.T, what string, counts map[string]int, want int) {
	t.Helper()
	if len(counts) != want {
		t.Errorf("%d %s handled, want %d", len(counts), what, want)
	}
	for id, n := range counts {
		if n != 1 {
			t.Errorf("%s %s handled %d times", what, id, n)
		}
	}
}

// classOf is the class of request subject subj under s: the class whose
// Subjects.Request it is, at some level; "" when it is no request.
func classOf(s wire.Subjects, subj string) wire.Class {
	i := slices.IndexFunc(wire.RequestClasses, func(c wire.Class) bool { return strings.HasPrefix(subj+".", s.Request(c, "", "")+".") })
	if i < 0 {
		return ""
	}
	return wire.RequestClasses[i]
}
