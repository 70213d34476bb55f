// Package docs holds the protocol documentation (protocol.md) and the JSON
// Schemas of the bus envelopes (schema/). It has no code: its tests check
// the schemas against real v5 messages and our own encodings, and keep the
// generated kind list in protocol.md in step with the wire package
// (go test ./docs -run TestProtocolDoc -update rewrites it).
package docs

//go:generate go test -run TestProtocolDocKinds -update .
