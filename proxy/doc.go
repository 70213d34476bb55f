// Package proxy is the ari-proxy server: it runs beside one Asterisk, holds
// its ARI WebSocket and REST API through ariconn, publishes every event on
// the bus and answers requests from the bus by calling ARI, speaking the v5
// wire protocol (package wire) plus our additive extensions.
//
// # Node
//
// The node is the Asterisk entity id (GET /asterisk/info, system.entity_id),
// read before anything is subscribed, retrying until ARI answers. It is read
// again on every WebSocket (re)connection: when another entity id answers,
// the request subscriptions move to the new node and the dialog bindings,
// which belonged to the Asterisk that is gone, are dropped.
//
// # Events
//
// Each event is published on <prefix>event.<app>.<node> as the exact bytes
// Asterisk sent; "application" and "asterisk_id" are spliced in front only
// when missing. Routing reads the top members (type, application,
// asterisk_id) and, only while some dialog is bound, the ids of the
// resources the event names: wire.EventResources reads the members the
// spec gives the event type (ari.EventRefs), never the whole event. Events are published from the single WebSocket reader,
// one after the other, so the bus sees them in Asterisk's order.
//
// # Dialogs
//
// A request whose key has a dialog binds, before the ARI call, the resource
// the key names and, for creates, the resource created: its id is the one
// the client chose or the one the server assigned (see Requests), so even
// the first event of a new channel reaches <prefix>dialogevent.<dialog>,
// with "dialog":"<id>" spliced into the event. Stage kinds bind and answer
// the key without calling ARI; Subscribe kinds bind; BridgeUnsubscribe and
// our additive kind DialogUnbind release.
//
// Bindings are released when the resource goes: ChannelDestroyed,
// BridgeDestroyed, PlaybackFinished, RecordingFinished/Failed (after the
// event is delivered to the dialog); a successful bridge delete (after a
// short grace, since Asterisk sends no BridgeDestroyed when the bridge's
// channels are in Stasis) and device state delete; StasisEnd (after half
// a second, since a call that entered Stasis from the dialplan gets no
// ChannelDestroyed: Asterisk unsubscribes the app at StasisEnd); a failed create; a 404
// on the touched resource. A create that timed out may still have
// happened: its binding is kept but expires like a staged one unless an
// event uses it. A janitor drops staged bindings never used and,
// every minute and after each reconnect, the channel and bridge bindings
// whose resource Asterisk no longer lists (destroy events missed while
// disconnected, or resources the application gets no events for).
//
// Playbacks and recordings also count as events of the channel or bridge
// they target (target_uri), so a dialog that owns a call sees the media
// operations on it. The halves of a Local channel pair ("x;1", "x;2") go
// to the dialogs bound to "x": for the application they are one call. Only
// the destruction of "x" itself releases the binding of "x", so events of
// "x;2" after that are not on the dialog subject (they still are on the
// event subject).
//
// # Requests
//
// The server subscribes to get, data and command at the three levels
// (<prefix><class>, .<app>, .<app>.<node>) and to create at the three
// levels in queue group wire.CreateQueue, so exactly one server takes a
// create sent to a generic subject. The generic level is one subject for
// every application: it is subscribed once, the ARI call is made once and,
// for non-create classes, one reply per application served is sent (a
// client expects one answer per announcement). A create kind sent on a
// subject every server receives (another class, not node-specific) is
// refused with bad_request, since every server would create it.
//
// Requests are served concurrently, at most MaxConcurrent at once; when all
// slots are busy the bus handler waits. Each request: size cap,
// wire.DecodeRequest, wire.Decode (kind, parameters, default application,
// the id of what a create creates, dialog targets; an unknown kind is
// answered wire.NotImplemented with code not_implemented), then the policy
// kept here (class check, serving state, dialog binding, metrics), the ARI
// call with RequestTimeout and the reply built by wire.BuildResponse.
//
// A create without an id (channels originated, created, snooped or for
// external media; bridges; playbacks; recordings without a name, "" being
// no name) gets one from the server before the ARI call: a ULID
// (wire.NewID), unique across the servers of a cluster, where Asterisk's
// own ids are unique on one Asterisk only. The reply's key carries it. Every error reply carries error_code (and ari_status
// when Asterisk answered): timeout for a call that timed out, unavailable
// for a transport failure or while the WebSocket is down. A request for an
// entity this Asterisk does not have gets Asterisk's 404 as not_found.
// Bad input never stops the server: every case gets an error reply, or,
// without a reply subject, is dropped with a debug log line; all are
// counted by reason, and a panic is recovered, logged and counted.
//
// # Availability and discovery
//
// While the WebSocket is down the server takes no new calls and answers
// no request every server receives: it leaves every generic level (all
// nodes, and per application) of every class, so that the live servers
// answer them (a v5 requester takes the first answer), and answers the
// requests addressed to its node unavailable; once the WebSocket is back
// (and the node re-read) it re-subscribes and announces.
//
// # Bus outages and stopping
//
// The server works on while the bus is away: the connection comes back by
// itself (capped exponential backoff, one log line per change) with every
// subscription, and the server announces again. Each event carries a
// per-subject sequence number and the server's epoch in headers
// (bus.HeaderSeq, bus.HeaderEpoch), so subscribers see what they lost.
//
// When Run's context ends the server stops gracefully: it stops announcing,
// drains the request subscriptions, answers every request still waiting
// for a slot unavailable ("shutting down"), lets the ARI calls in flight
// finish within ShutdownTimeout (then cancels them, each still answered),
// flushes the bus and closes the WebSocket.
// It announces (wire.Announcement per application) when it becomes ready,
// every AnnounceInterval and on every ping, but only while it can serve.
package proxy
