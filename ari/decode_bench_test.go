package ari

import (
	"bufio"
	"bytes"
	"encoding/json"
	"os"
	"testing"
)

// sampleEvent returns the first event of type typ in testdata/events.jsonl.
func sampleEvent(b *testing.B, typ string) []byte {
	b.Helper()
	f, err := os.Open("testdata/events.jsonl")
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		if bytes.Contains(sc.Bytes(), []byte(`"type":"`+typ+`"`)) {
			return bytes.Clone(sc.Bytes())
		}
	}
	b.Fatalf("no %s in testdata/events.jsonl", typ)
	return nil
}

// BenchmarkDecodeEvent: one real StasisStart (a channel with nested caller,
// connected and dialplan objects), the proxy's commonest large event.
//
//	go test -run '^$' -bench DecodeEvent -benchmem ./ari/
func BenchmarkDecodeEvent(b *testing.B) {
	for _, typ := range []string{"StasisStart", "ChannelUserevent"} {
		raw := sampleEvent(b, typ)
		b.Run(typ, func(b *testing.B) {
			b.SetBytes(int64(len(raw)))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := DecodeEvent(raw); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkMarshalEvent: writing a decoded StasisStart back, where the
// members the struct does not model are found from Raw.
func BenchmarkMarshalEvent(b *testing.B) {
	ev, err := DecodeEvent(sampleEvent(b, "StasisStart"))
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := json.Marshal(ev); err != nil {
			b.Fatal(err)
		}
	}
}
