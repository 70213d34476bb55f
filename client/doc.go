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
// $ARI_APPLICATION); (*Client).WithApplication derives clients for other
// applications that share the connection.
//
// # Handles
//
// Every ARI entity is a handle bound to a key (kind, id, application,
// node, dialog): ChannelHandle, BridgeHandle, PlaybackHandle,
// LiveRecordingHandle, StoredRecordingHandle, DeviceStateHandle,
// MailboxHandle, EndpointHandle, SoundHandle, ApplicationHandle,
// ModuleHandle, LogChannelHandle, VariableHandle and ConfigHandle. Get one
// from the client (c.Channel(id)), from a key (c.ChannelFromKey(k)), from
// an event (Listen) or from an operation that creates or lists entities
// (c.Channels().Originate, ch.Play, c.Bridges().List...). Operations that
// address no entity are methods of collections: c.Channels(),
// c.Bridges(), c.Asterisk(), c.Endpoints(), c.Recordings(), c.Sounds(),
// c.DeviceStates(), c.Mailboxes(), c.Applications(), c.Events().
//
// The typed methods are generated (ops_gen.go, by internal/clientgen) from
// the ARI operation table (ari.Operations) and the bus kind table
// (wire.KindForOp): one method per ARI operation, one parameter struct per
// operation with parameters, and a result typed after the bus reply: a
// handle for created entities, a slice of handles for lists, an ari model
// for data, a string for variables. (*Client).Do reaches any operation by
// its ID with raw parameters.
//
// # Routing
//
// A handle whose key has a node sends its requests to that node's server
// only. A partial key (no node, e.g. c.Channel(id) without WithNode) goes
// to every server of the application; the first success wins, "not found"
// answers are ignored unless every known server gives one, in which case
// the error matches ErrNotFound. Lists (ShapeKeys replies) merge the keys
// of every server's answer, so c.Channels().List lists the channels of the
// whole cluster. Creates go to one server of the
// application (the servers share them in a queue group), or to the node of
// WithNode. Errors match the Err* sentinels with errors.Is.
//
// # Events
//
// (*Client).Subscribe delivers every event of the application;
// handle.Subscribe (channels, bridges, playbacks, live recordings) only
// the events of one resource, through a dialog bound on the servers.
// Requests sent by a client derived with WithDialog bind what they touch or
// create to that dialog, whose events DialogEvents delivers. Listen hands
// each new call (StasisStart) to exactly one instance of the application.
//
// Closing a client, or ending the context given to New, Subscribe or
// Listen, releases every subscription it made on the bus.
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
