package client

import (
	"strconv"
	"testing"

	"github.com/ariproxy/ari-proxy/ari"
	"github.com/ariproxy/ari-proxy/bus"
)

// The client's hot paths (allocations per op are in docs/benchmarks.md):
//
//	go test -run '^$' -bench 'Reply|Deliver' -benchmem ./client/

// channelDataReply is a server's reply to ChannelData, as published.
var channelDataReply = []byte(`{"error":"","data":{"channel":{"key":{"kind":"channel","id":"1763779175.0","node":"02:fc:00:00:be:01","app":"bench"},"id":"1763779175.0","name":"PJSIP/1001-00000000","state":"Up","protocol_id":"b2c1e5a0-7d1f-4c7e-9a1b-2f3e4d5c6b7a","caller":{"name":"Alice","number":"1001"},"connected":{"name":"","number":""},"accountcode":"","dialplan":{"context":"default","exten":"100","priority":3,"app_name":"Stasis","app_data":"demo"},"creationtime":"2026-11-22T02:39:35.083+0000","language":"en","channelvars":{"CHANNEL(rtp,dest)":"","X":"y"}}},"node":"02:fc:00:00:be:01"}`)

// BenchmarkReplyChannelData: gathering one reply and decoding its channel,
// as ChannelHandle.Data does.
func BenchmarkReplyChannelData(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		g := gather{expected: 1}
		g.collect(channelDataReply)
		resp, err := g.result()
		if err != nil {
			b.Fatal(err)
		}
		ch, err := entityPtr[ari.Channel](resp, "channel")
		if err != nil || ch.ID != "1763779175.0" {
			b.Fatal(ch, err)
		}
	}
}

// floodEvent is a ChannelUserevent of the simulator's flood.
var floodEvent = []byte(`{"type":"ChannelUserevent","timestamp":"2026-11-22T02:39:35.083+0000","eventname":"Flood","userevent":{"seq":"1","eventname":"Flood"},"asterisk_id":"02:fc:00:00:be:01","application":"bench"}`)

// BenchmarkDeliverFiltered: an event a Subscribe for another type
// receives and drops.
func BenchmarkDeliverFiltered(b *testing.B) {
	benchDeliver(b, "StasisStart")
}

// BenchmarkDeliver: an event a Subscribe for its type receives, decodes
// and hands to the reader.
func BenchmarkDeliver(b *testing.B) {
	benchDeliver(b, "ChannelUserevent")
}

// BenchmarkDeliverOtherResource: an event on the dialog of a resource
// subscription (ChannelSubscribe) that names another resource bound to
// the dialog: dropped before it is decoded.
func BenchmarkDeliverOtherResource(b *testing.B) {
	benchDeliverTo(b, func(s *Subscription) {
		s.dialog = "d1"
		s.watch.Kind, s.watch.ID = "channel", "other-channel"
	}, stasisStartEvent)
}

// stasisStartEvent is a StasisStart of channel c-500.
var stasisStartEvent = []byte(`{"type":"StasisStart","timestamp":"2026-11-22T02:39:35.083+0000","args":[],"channel":{"id":"c-500","name":"PJSIP/1001-00000001","state":"Up","protocol_id":"","caller":{"name":"Alice","number":"1001"},"connected":{"name":"","number":""},"accountcode":"","dialplan":{"context":"default","exten":"100","priority":3,"app_name":"Stasis","app_data":"bench"},"creationtime":"2026-11-22T02:39:35.083+0000","language":"en"},"asterisk_id":"02:fc:00:00:be:01","application":"bench"}`)

func benchDeliver(b *testing.B, types ...string) {
	benchDeliverTo(b, nil, floodEvent, types...)
}

func benchDeliverTo(b *testing.B, setup func(*Subscription), event []byte, types ...string) {
	c := &Client{core: &core{}, done: make(chan struct{})}
	s := c.newSubscription(types)
	if setup != nil {
		setup(s)
	}
	go func() {
		for range s.ch {
		}
	}()
	// Sequence headers as a server sends them, counting up.
	hdr := map[string]string{bus.HeaderEpoch: "e1"}
	n := 0
	b.ReportAllocs()
	for b.Loop() {
		n++
		hdr[bus.HeaderSeq] = strconv.Itoa(n)
		s.deliver(bus.Msg{Subject: "ari.event.bench.n", Header: hdr, Data: event})
	}
	b.StopTimer()
	close(s.ch)
}
