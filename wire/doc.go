// Package wire is the ari-proxy bus protocol: the v5 envelopes (requests,
// responses, announcements, keys), the subjects they travel on, the table
// of v5 request kinds mapped onto ARI operations, and our additive
// extensions (machine-readable error codes, generic operation requests).
//
// The server and the client both encode and decode through this package, so
// the mapping between a v5 kind and an ARI call is written once, as data:
// the table in kindtable.go (v5 kinds) and genericKind in registry.go (one
// generic kind per ARI operation, named after its ID).
//
// A server handles a request as:
//
//	req, err := wire.DecodeRequest(msg)         // bad input: ErrBadRequest
//	k, ok := wire.LookupKind(req.Kind)          // !ok: wire.NewNotImplementedResponse()
//	params, err := k.DecodeParams(req)          // err: wire.ErrorResponseFor(err)
//	k.DefaultApp(params, app)
//	id := k.EnsureResultID(params, newID)       // bind req.Key.Dialog to id first
//	status, body := 0, nil                      // Stage and Op=="" kinds call nothing
//	if !k.Stage && k.Op != "" { status, body = call(k.Operation(), params) }
//	resp := wire.BuildResponse(k, base, params, status, body) // base: req.Key with node/app set
//
// and a client as:
//
//	k := wire.KindForOp("channels.originate")   // or wire.LookupKind("ChannelOriginate")
//	req, err := wire.NewRequest(k, key, params)
//	subject := subjects.RequestFor(k.Class, req.Key)
//	... resp.Err(), resp.Key, resp.Keys, resp.Entity(k.Result.DataField)
//
// Our additions, all ignored by v5 peers: the request's "params" (ARI
// parameters by spec name, for what v5 payloads cannot say); the
// response's "error_code" (ErrorCode), "ari_status" and "error_detail"
// (Asterisk's message); the generic kinds (a v5 server answers them
// NotImplemented, which Err maps to ErrNotImplemented).
package wire
