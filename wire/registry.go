package wire

import (
	"strings"
	"sync"

	"github.com/ariproxy/ari-proxy/ari"
)

// registry indexes the v5 kinds and the generic kinds derived from the ARI
// operation table, built on first use.
type registry struct {
	all    []*Kind
	byName map[string]*Kind
	byOp   [ari.OpCount]*Kind // KindOf
}

var reg = sync.OnceValue(buildRegistry)

func buildRegistry() *registry {
	r := &registry{byName: map[string]*Kind{}}
	for i := range v5Kinds {
		k := &v5Kinds[i]
		r.all = append(r.all, k)
		r.byName[k.Name] = k
	}
	for i := range ourKinds {
		k := &ourKinds[i]
		r.all = append(r.all, k)
		r.byName[k.Name] = k
	}
	for i := range ari.Operations {
		op := &ari.Operations[i]
		if op.WebSocket {
			continue
		}
		k := genericKind(op)
		if _, dup := r.byName[k.Name]; dup {
			continue
		}
		r.all = append(r.all, k)
		r.byName[k.Name] = k
	}
	for _, k := range r.all {
		if k.Op == nil {
			continue
		}
		if cur := r.byOp[k.Op.Ident]; cur == nil || preferForOp(k, cur) {
			r.byOp[k.Op.Ident] = k
		}
	}
	return r
}

// preferForOp says whether a is a better answer than b to KindForOp: a v5
// kind over a generic one; among v5 kinds, one that makes the plain call
// (not Stage, no Fixed parameters, no Select) and, for the same operation,
// the one answering the most (data over key over keys).
func preferForOp(a, b *Kind) bool {
	rank := func(k *Kind) int {
		r := 0
		if !k.Generic {
			r += 1000
		}
		if !k.Stage && k.Fixed == nil && !k.Result.Select {
			r += 100
		}
		switch k.Result.Shape {
		case ShapeData, ShapeVariable:
			r += 3
		case ShapeKeys:
			r += 2
		case ShapeKey:
			r += 1
		}
		return r
	}
	return rank(a) > rank(b)
}

// LookupKind finds a kind by name (v5 names and our generic names, which
// are ARI operation IDs such as "channels.rtpstatistics").
func LookupKind(name string) (*Kind, bool) {
	k, ok := reg().byName[name]
	return k, ok
}

// KindOf is the kind a client sends for the ARI operation id: the v5 kind
// when v5 has one, else the generic kind named after the operation; nil
// for the events WebSocket or an id outside the table. When several v5
// kinds call the operation, the plain one answering the most wins
// (channels.get -> ChannelData, channels.hangup -> ChannelHangup,
// asterisk.listLogChannels -> AsteriskLoggingList).
func KindOf(id ari.OpID) *Kind {
	if id < 0 || id >= ari.OpCount {
		return nil
	}
	return reg().byOp[id]
}

// KindForOp is KindOf for an operation ID ("channels.originate"); nil for
// an unknown one.
func KindForOp(opID string) *Kind {
	op := ari.Lookup(opID)
	if op == nil {
		return nil
	}
	return KindOf(op.Ident)
}

// Kinds lists every kind, v5 (in table order) then generic (in operation
// table order). The slice is a copy; the kinds are shared and must not be
// modified.
func Kinds() []*Kind {
	return append([]*Kind(nil), reg().all...)
}

// Operation is the ARI operation of k, nil when k makes no ARI call.
func (k *Kind) Operation() *ari.Operation {
	if k == nil {
		return nil
	}
	return k.Op
}

// createsModel reports whether a POST answering ARI model class rc creates
// an entity (the entity table's Created). Not StoredRecording: copyStored
// works on a recording one Asterisk has, so it must reach every server (as
// v5's RecordingStoredCopy, a command).
func createsModel(rc string) bool {
	e := EntityOfModel(rc)
	return e != nil && e.Created
}

// Generic kinds: one per ARI operation (except the events WebSocket),
// named after the operation ID. Their payload is Request.Params only; the
// key names the entity of the first path parameter (channelId -> a channel
// key, "tech/resource" -> an endpoint key...). Their answer:
//
//   - void: ShapeNone;
//   - Variable: ShapeVariable, as v5's variable kinds;
//   - anything else: ShapeData with the exact ARI body under
//     data.<entity>, entity named after the response class in snake case
//     ("Channel" -> "channel", "LiveRecording" -> "live_recording",
//     "RTPstat" -> "rtpstat", "AsteriskInfo" -> "asterisk" and "LogChannel"
//     -> "log" as in v5), "list" for every List[...] and "binary" (a base64
//     string) for raw files; for entities that have keys (channels,
//     bridges, playbacks, recordings...) the response's "key" names the
//     entity too.
//
// Class: data for GET, create for POST operations answering a channel,
// bridge, playback or live recording (they create one: originateWithId,
// createWithId, playWithId, snoopChannelWithId), command otherwise.
func genericKind(op *ari.Operation) *Kind {
	k := &Kind{Name: op.ID, Op: op, Generic: true}
	switch {
	case op.Method == "GET":
		k.Class = ClassData
	case op.Method == "POST" && createsModel(op.ResponseClass):
		k.Class = ClassCreate
	default:
		k.Class = ClassCommand
	}
	k.KeyKind, k.KeyParam = genericKey(op)

	rc := op.ResponseClass
	switch {
	case rc == "" || rc == "void":
		k.Result = none
	case rc == "Variable":
		k.Result = variable
	case rc == "binary":
		k.Result = Result{Shape: ShapeData, DataField: "binary", Binary: true}
	case strings.HasPrefix(rc, "List["):
		k.Result = Result{Shape: ShapeData, DataField: "list", Exact: true}
	default:
		k.Result = Result{Shape: ShapeData, DataField: entityName(rc), Exact: true}
		if e := EntityOfModel(rc); e != nil {
			k.Result.Kind = e.Kind
			k.Result.IDField = e.IDField
			for _, p := range e.IDParams {
				if op.Param(p) != nil {
					k.Result.IDParam = p
					break
				}
			}
		}
	}
	return k
}

// genericKey derives the key kind and KeyParam of a generic kind from the
// operation's path parameters: the entity whose KeyParam they start with
// (three, two or one of them joined with "/").
func genericKey(op *ari.Operation) (kind, param string) {
	var path []string
	for _, p := range op.Params {
		if p.In == ari.InPath {
			path = append(path, p.Name)
		}
	}
	for n := min(len(path), 3); n > 0; n-- {
		joined := strings.Join(path[:n], "/")
		if e := entityOfKeyParam(joined, op.Path); e != nil {
			return e.Kind, joined
		}
	}
	return "", ""
}

// entityNames are the data fields v5 names differently from the model.
var entityNames = map[string]string{
	"AsteriskInfo": "asterisk",
	"LogChannel":   "log",
}

// entityName is the data field of a model: snake case, with "_" only where
// a lower-case letter or digit is followed by an upper-case one.
func entityName(class string) string {
	if n, ok := entityNames[class]; ok {
		return n
	}
	var b strings.Builder
	for i, r := range class {
		if r >= 'A' && r <= 'Z' {
			if i > 0 {
				prev := class[i-1]
				if prev >= 'a' && prev <= 'z' || prev >= '0' && prev <= '9' {
					b.WriteByte('_')
				}
			}
			b.WriteRune(r + ('a' - 'A'))
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}
