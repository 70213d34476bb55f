package wire

import "testing"

// TestCreatedIDParam: the parameter a generated id goes into, per kind.
func TestCreatedIDParam(t *testing.T) {
	for kind, want := range map[string]string{
		"ChannelOriginate": "channelId", "ChannelCreate": "channelId", "ChannelExternalMedia": "channelId",
		"ChannelSnoop": "snoopId", "ChannelStageSnoop": "snoopId", "ChannelPlay": "playbackId", "BridgePlay": "playbackId",
		"BridgeCreate": "bridgeId", "ChannelRecord": "name", "channels.originateWithId": "channelId", "BridgeStagePlay": "playbackId",
	} {
		k, ok := LookupKind(kind)
		if !ok {
			t.Errorf("kind %s missing", kind)
			continue
		}
		if got := k.CreatedIDParam(); got != want {
			t.Errorf("CreatedIDParam(%s) = %q, want %q", kind, got, want)
		}
	}
}
