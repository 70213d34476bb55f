// Package ari is the Asterisk REST Interface (ARI) model: the resources,
// the events and the table of operations, generated from the Asterisk 22
// api-docs by internal/arigen (go generate). Hand-written files hold only
// the types the generated code fills in and the helpers that read them.
//
// The operation table (Operations) lists every ARI operation; Lookup finds
// one by ID, Route finds the one serving an HTTP request as Asterisk's
// router does, and Operation.Encode builds an HTTP request from Params.
// DecodeEvent decodes an event from the events WebSocket into its typed
// struct (*StasisStart, ...).
//
// Decoding is lossless: every decoded model and event keeps the exact
// bytes it was decoded from (Raw), and marshalling writes back the fields
// this package does not model, so nothing Asterisk sends is dropped.
package ari
