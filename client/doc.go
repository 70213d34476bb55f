// Package client is the Go client of ari-proxy: the whole Asterisk REST
// Interface (ARI) over the message bus, spoken to the proxy servers that sit
// beside each Asterisk. It speaks the ari-proxy v5 wire protocol, so it also
// works with v5 servers and shares new calls with v5 clients.
//
// # Connecting
//
// New connects to the bus (WithURL, $MESSAGEBUS_URL, or an existing
// connection with WithBus), pings the servers and learns from their
// announcements which nodes (Asterisk entity ids) serve which application.
// The client works for one Stasis application (WithApplication,
// $ARI_APPLICATION). It logs nothing unless given WithLogger.
//
// # Handles and names
//
// Every ARI entity is a handle bound to a key (kind, id, application,
// node, dialog): ChannelHandle, BridgeHandle, PlaybackHandle,
// LiveRecordingHandle, StoredRecordingHandle, DeviceStateHandle,
// MailboxHandle, EndpointHandle, SoundHandle, ApplicationHandle,
// ModuleHandle, LogChannelHandle, VariableHandle and ConfigHandle. Get one
// from the client (c.Channel(id)), from a key (c.ChannelFromKey(k)), from
// Listen, or from an operation that creates or lists entities
// (c.Channels().Originate, ch.Play, c.Bridges().List...): every create
// returns a handle, and every handle a reply makes carries the node that
// answered, so its requests go straight to that node. Operations that
// address no entity are methods of collections: c.Channels(),
// c.Bridges(), c.Asterisk(), c.Endpoints(), c.Recordings(), c.Sounds(),
// c.DeviceStates(), c.Mailboxes(), c.Applications(), c.Events().
//
// The typed methods are generated (ops_gen.go, by internal/clientgen) from
// the ARI operation table (ari.Operations) and the bus kind table: one
// method per ARI operation, named after the operation (its nickname,
// Go-cased: channels.startMoh is ChannelHandle.StartMOH, bridges.get is
// BridgeHandle.Get), one parameter struct per operation with parameters.
// The only renamed ones are applications.subscribe and unsubscribe
// (SubscribeEventSource, UnsubscribeEventSource), so that Subscribe always
// means events. (*Client).Do reaches any operation by its ari.OpID with
// raw parameters.
//
// # Routing
//
// A handle whose key has a node sends its requests to that node's server
// only. A partial key (no node) goes to every server of the application;
// the first success wins, "not found" answers are ignored unless every
// known server gives one. Lists merge the answers of every server. Creates
// go to one server of the application (the servers share them in a queue
// group), or to the node of WithNode.
//
// The client remembers the node of the channels, bridges, playbacks and
// live recordings it has seen (in a reply, a list, a create's answer, a
// StasisStart), so a partial key for one of them goes to that node only,
// as a full key does; when that node answers not found (the resource has
// gone, or its id now names one elsewhere) or nobody answers there any
// more (its server has gone), the request goes to every server as for an
// id never seen. A timeout is not retried elsewhere: the node may have
// acted. What is remembered is dropped on the resource's end event, a
// hangup, the node leaving, and the oldest first beyond WithLocationCache.
//
// # Errors
//
// An error reply is a *Error (code, ARI status, Asterisk's detail, node)
// matching the Err* sentinels with errors.Is: ErrNotFound, ErrConflict,
// ErrBadRequest, ErrUnprocessable, ErrUnavailable, ErrTimeout, ErrInternal,
// ErrNotImplemented.
//
// # Events
//
// (*Client).Subscribe delivers every event of the application;
// handle.Subscribe (channels, bridges, playbacks, live recordings) only
// the events of one resource, through a dialog bound on the servers, so the
// broker sends it nothing else. Event types are the ari.Type* constants.
// PlaybackHandle.Wait, LiveRecordingHandle.Wait and PlayAndWait wait for
// media. Requests sent by a client derived with WithDialog bind what they
// touch or create to that dialog, whose events DialogEvents delivers.
//
// # New calls and the return path
//
// Listen hands each new call (StasisStart) to exactly one instance of the
// application, and returns once it is subscribed, so no call placed after
// it returns is missed. While a Listener runs, the channels its client
// creates come back to it and to no other instance (the return path);
// ListenReturned takes those only.
//
// # Views and membership
//
// WithNode, WithDialog and WithApplication return clients that share the
// connection; closing one releases only its own subscriptions, closing the
// client New returned releases everything. Members and WatchMembers show
// the servers of the cluster joining, becoming unavailable and leaving.
//
// Ending the context given to New, Subscribe or Listen releases what it
// made on the bus, as Close does.
//
// # Faults
//
// The bus connection is re-established by itself after a loss (capped
// exponential backoff), with every subscription. While it is away a
// request fails at once with an error matching ErrUnavailable (it could
// only be answered once the bus is back); a request already sent gets its
// reply if one arrives in time, else ErrTimeout. Once back, the client
// pings the servers so that it knows them again.
//
// Core NATS delivers each event at most once: events published while a
// subscriber is away are lost. The servers number the events of each
// subject in a message header (bus.HeaderSeq, not in the event, which
// stays the bytes Asterisk sent), so a subscription sees every loss:
// Subscription.Missed counts the events skipped, and WithGapHandler is
// called with each Gap. Events from v5 servers carry no numbers and are not
// checked. Durable mode keeps the events instead (see WithDurable).
package client
