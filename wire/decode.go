package wire

import (
	"crypto/rand"
	"fmt"

	"github.com/oklog/ulid/v2"

	"github.com/ariproxy/ari-proxy/ari"
)

// Ref names a resource the way keys do: key kind and id.
type Ref struct {
	Kind string
	ID   string
}

// Call is a request decoded for a server: everything the kind table says
// about it, so that the server only adds policy (serving state, bindings,
// metrics, replies).
type Call struct {
	Kind *Kind
	// Op is the ARI operation to call; nil when the kind makes none
	// (Stage kinds answer the key of what they will create, Subscribe
	// and Unbind kinds only bind or unbind).
	Op *ari.Operation
	// Params are the ARI parameters, the server-assigned id included.
	Params ari.Params
	// Key is the request key (zero when the request had none), its App
	// defaulted for the kinds that need one (AppParam).
	Key Key
	// ResultID is the id of the entity the call creates or names, known
	// before the call ("" when only the answer tells).
	ResultID string
	// Created is the entity the call creates when events will refer to
	// it (a dialog target); zero otherwise.
	Created Ref
	// Touched is the entity the key names when events refer to it and
	// the call uses it (a dialog target); zero otherwise.
	Touched Ref
}

// Decode (server side) is the one decode step of a request: it finds the
// kind, checks the key, builds the ARI parameters (DecodeParams), gives
// AppParam the server's application app when the request names none
// (DefaultApp), assigns the id of what a create creates when the request
// carries none (EnsureResultID with NewID) and names the dialog targets.
//
// Errors: an unknown kind wraps ErrNotImplemented; anything else wraps
// ErrBadRequest. Once the kind is known the returned Call is not nil, even
// with an error, so the caller can name the kind (metrics).
func Decode(req *Request, app string) (*Call, error) {
	c := &Call{}
	if req.Key != nil {
		c.Key = *req.Key
	}
	k, ok := LookupKind(req.Kind)
	if !ok {
		return nil, fmt.Errorf("%w: kind %q", ErrNotImplemented, req.Kind)
	}
	c.Kind = k
	if c.Key.Dialog != "" && !ValidToken(c.Key.Dialog) {
		return c, fmt.Errorf("%w: dialog %q cannot be a subject token", ErrBadRequest, c.Key.Dialog)
	}
	if k.Unbind {
		return c, k.checkUnbind(c.Key)
	}
	if k.AppParam != "" && c.Key.App == "" {
		c.Key.App = app
	}
	r := *req
	r.Key = &c.Key
	params, err := k.DecodeParams(&r)
	if err != nil {
		return c, err
	}
	k.DefaultApp(params, app)
	c.Params = params
	if k.assignsID() {
		c.ResultID = k.EnsureResultID(params, NewID)
	} else {
		c.ResultID = k.ResultID(params)
	}
	if !k.Stage {
		c.Op = k.Operation()
	}
	if k.createsEventful() && c.ResultID != "" {
		c.Created = Ref{k.Result.Kind, c.ResultID}
	}
	if t, ok := k.touched(c.Key); ok && t != c.Created {
		c.Touched = t
	}
	return c, nil
}

// Unbound is the resource an Unbind kind releases: the key's kind and id;
// zero (every binding of the dialog) for a DialogUnbind without id.
func (c *Call) Unbound() Ref {
	kind := c.Kind.KeyKind
	if kind == "" {
		kind = c.Key.Kind
	}
	return Ref{kind, c.Key.ID}
}

// Probed is the entity a probe (Request.Probe) of kind k with key asks
// about: the key's entity, when a request of k passes to Asterisk an
// operation on it (no create, stage or unbind) and it is one Asterisk
// makes per box (a Created entity: channel, bridge, playback, live
// recording). It is the zero Ref otherwise; the probe mark then means
// nothing. Clients decide with it what to probe, servers what to claim.
func (k *Kind) Probed(key Key) Ref {
	if key.ID == "" || key.Kind != k.KeyKind || k.KeyRef || k.Op == nil || k.Stage || k.Unbind || k.Class == ClassCreate {
		return Ref{}
	}
	if e := EntityOf(key.Kind); e == nil || !e.Created {
		return Ref{}
	}
	return Ref{key.Kind, key.ID}
}

func (k *Kind) checkUnbind(key Key) error {
	if k.KeyKind != "" {
		return nil // BridgeUnsubscribe: without dialog or id there is nothing to do
	}
	if key.Dialog == "" {
		return fmt.Errorf("%w: %s: key.dialog is required", ErrBadRequest, k.Name)
	}
	if key.ID != "" && key.Kind == "" {
		return fmt.Errorf("%w: %s: key.kind is required with key.id", ErrBadRequest, k.Name)
	}
	return nil
}

// assignsID reports whether the server assigns the id of what k creates
// when the request carries none: the creates of the entities the table
// marks Created (channels, bridges, playbacks, live recordings), Stage
// kinds included, whose id travels in a parameter the client may leave
// out.
func (k *Kind) assignsID() bool {
	if k.Class != ClassCreate && !k.Stage {
		return false
	}
	e := EntityOf(k.Result.Kind)
	return e != nil && e.Created && k.CreatedIDParam() != ""
}

// CreatedIDParam is the ARI parameter naming the entity k creates: the
// table's Result.IDParam when the operation has it, else the first of the
// entity's IDParams the operation has besides KeyParam; "" when none.
func (k *Kind) CreatedIDParam() string {
	op := k.Operation()
	if op == nil {
		return ""
	}
	if p := k.Result.IDParam; p != "" && op.Param(p) != nil {
		return p
	}
	if e := EntityOf(k.Result.Kind); e != nil {
		for _, p := range e.IDParams {
			if p != k.KeyParam && op.Param(p) != nil {
				return p
			}
		}
	}
	return ""
}

// createsEventful reports whether k creates a resource whose events a
// dialog wants.
func (k *Kind) createsEventful() bool {
	return (k.Class == ClassCreate || k.Stage) && eventful(k.Result.Kind) &&
		(k.Result.Shape == ShapeKey || k.Result.Shape == ShapeData)
}

// touched is the resource the request key names, when binding it makes
// sense: an eventful kind whose key id the request really uses (a KeyRef
// key of another kind is only a reference), or the key of a Subscribe
// kind, which exists to bind it.
func (k *Kind) touched(key Key) (Ref, bool) {
	if key.ID == "" || !eventful(k.KeyKind) {
		return Ref{}, false
	}
	if k.KeyParam == "" && k.Op != nil {
		return Ref{}, false // a list: the key kind names what is listed
	}
	if k.KeyRef && key.Kind != k.KeyKind {
		return Ref{}, false
	}
	return Ref{k.KeyKind, key.ID}, true
}

// idEntropy makes ids monotonic within a millisecond in one process and
// random (crypto/rand) across processes, so that servers of one cluster
// never hand out the same id.
var idEntropy = &ulid.LockedMonotonicReader{MonotonicReader: ulid.Monotonic(rand.Reader, 0)}

// NewID is a fresh id for a resource a server creates: a ULID (26
// characters, time-ordered, unique across servers), as the ids v5 servers
// make up.
func NewID() string {
	return ulid.MustNew(ulid.Now(), idEntropy).String()
}
