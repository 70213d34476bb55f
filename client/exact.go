package client

import (
	"context"
	"fmt"

	"github.com/ariproxy/ari-proxy/ari"
	"github.com/ariproxy/ari-proxy/wire"
)

// DoExact is Do with the generic kind of op (named after the operation),
// whose reply carries Asterisk's body unchanged under data.<entity> (see
// wire's generic kinds), where Do sends the v5 kind when v5 has one, which
// may answer keys only. A caller relaying ARI as it is (the gateway) uses
// it; the servers must be ours (v5 servers answer ErrNotImplemented).
func (c *Client) DoExact(ctx context.Context, op ari.OpID, key Key, params ari.Params) (*Reply, error) {
	if op < 0 || op >= ari.OpCount {
		return nil, fmt.Errorf("client: unknown operation %v: %w", op, ErrBadRequest)
	}
	k, ok := wire.LookupKind(op.Op().ID)
	if !ok {
		return nil, fmt.Errorf("client: no generic kind for %v: %w", op, ErrBadRequest)
	}
	resp, err := c.callKind(ctx, k, key, params)
	if err != nil {
		return nil, err
	}
	return newReply(resp, c.fillKey(key)), nil
}

// ExactResult is the data field under which DoExact's reply carries the
// body of op ("channel", "list", "variable", "binary"...), "" for
// operations answering nothing.
func ExactResult(op ari.OpID) string {
	if k, ok := wire.LookupKind(op.Op().ID); ok {
		return k.Result.DataField
	}
	return ""
}

// ExactKey is the key DoExact expects for op: the kind of the entity its
// first path parameters name ("channel", "endpoint"...) and those
// parameters ("channelId", "tech/resource": the key's id joins their
// values with "/"); "" for operations on no entity.
func ExactKey(op ari.OpID) (kind, param string) {
	if k, ok := wire.LookupKind(op.Op().ID); ok {
		return k.KeyKind, k.KeyParam
	}
	return "", ""
}

// EventsSubject is the bus subject of every event of the client's
// application, from every server: for a relay that forwards the events'
// bytes without decoding them (the gateway), with Bus().Subscribe.
func (c *Client) EventsSubject() string { return c.core.subjects.AllEvents(c.app) }
