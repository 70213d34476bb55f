// Package wire is the ari-proxy bus protocol: the v5 envelopes (requests,
// responses, announcements, keys), the subjects they travel on, the table
// of v5 request kinds mapped onto ARI operations, and our additive
// extensions (machine-readable error codes, generic operation requests).
//
// The server and the client both encode and decode through this package,
// so every concept is written once, as data: the entity table
// (entities.go: key kinds, the ARI model, id member and parameters, whether
// a POST creates one, whether events name it), the kind table
// (kindtable.go: v5 kinds, each naming its ari.OpX operation) and the
// generic kinds derived from the ARI operation table (registry.go: one per
// operation, named after its ID). docs/protocol.md's key and kind tables
// are generated from them.
//
// A server handles a request as (package proxy does exactly this, adding
// its policy: serving state, dialog bindings, metrics):
//
//	req, err := wire.DecodeRequest(msg)      // bad input: ErrBadRequest
//	c, err := wire.Decode(req, app)          // unknown kind: ErrNotImplemented; else ErrBadRequest
//	// c.Kind, c.Op (nil: no ARI call), c.Params (a create's id assigned),
//	// c.Key (app defaulted), c.ResultID, c.Created and c.Touched (dialog targets)
//	status, body := 0, []byte(nil)
//	if c.Op != nil { status, body = call(c.Op, c.Params) }
//	resp := wire.BuildResponse(c.Kind, base, c.Params, status, body) // base: c.Key with node/app set
//
// and events as:
//
//	refs, ended := wire.EventResources(nil, typ, raw) // what the event names, what it ends
//
// and a client as:
//
//	k := wire.KindOf(ari.OpChannelsOriginate)        // or wire.LookupKind("ChannelOriginate")
//	req, err := wire.NewRequest(k, key, params)
//	subject := subjects.Request(k.Class, key.App, key.Node)
//	resp, err := wire.DecodeResponse(reply)           // then resp.Err(), resp.Key, resp.Keys, resp.Entity(k.Result.DataField)
//
// Our additions, all ignored by v5 peers: the request's "params" (ARI
// parameters by spec name, for what v5 payloads cannot say); the
// response's "error_code" (ErrorCode), "ari_status" and "error_detail"
// (Asterisk's message); the generic kinds (a v5 server answers them
// NotImplemented, which Err maps to ErrNotImplemented).
package wire
