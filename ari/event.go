package ari

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"unicode/utf8"
	"unsafe"

	"github.com/tidwall/gjson"
)

// Event is an ARI event as the events WebSocket delivers it. The concrete
// types are the pointers to the generated event structs (*StasisStart,
// *ChannelDestroyed...) and *UnknownEvent for types this package does not
// know.
type Event interface {
	// EventType is the event's type name, e.g. "StasisStart".
	EventType() string
	// Base returns the members every event has.
	Base() *EventBase
	// RawJSON returns the exact JSON the event was decoded from.
	RawJSON() json.RawMessage
}

// ErrInvalidEvent is wrapped by the errors of DecodeEvent.
var ErrInvalidEvent = errors.New("ari: invalid event")

// DecodeEvent decodes one event message by its "type" member into the
// matching event struct. A well-formed event of a type the spec does not
// define gives an *UnknownEvent and no error, so that newer Asterisk events
// still pass through. Input that is not a JSON object, lacks a string
// "type", or does not fit the struct of its type gives an error wrapping
// ErrInvalidEvent.
func DecodeEvent(raw []byte) (Event, error) {
	ev, _, err := DecodeEventIf(raw, nil)
	return ev, err
}

// DecodeEventIf is DecodeEvent for a receiver that drops some events by
// their type or bytes: it reads the type once, asks want (nil: every
// event is wanted) and decodes only a wanted event. It returns a nil
// Event and wanted false for an event want refused; an event whose type
// cannot be read is an error, whatever want says.
func DecodeEventIf(raw []byte, want func(typ string, raw []byte) bool) (ev Event, wanted bool, err error) {
	raw = bytes.TrimSpace(raw) // as json.Unmarshal hands it to UnmarshalJSON
	typ, err := eventType(raw)
	if err != nil {
		return nil, false, fmt.Errorf("%w: %w", ErrInvalidEvent, err)
	}
	if want != nil && !want(typ, raw) {
		return nil, false, nil
	}
	ev = new(UnknownEvent)
	if mk, ok := eventTypes[typ]; ok {
		ev = mk()
	}
	// Straight to UnmarshalJSON: json.Unmarshal would first validate and
	// scan raw once more only to hand it over whole. unmarshalKeep's own
	// json.Unmarshal still validates everything.
	if err := ev.(json.Unmarshaler).UnmarshalJSON(raw); err != nil {
		return nil, true, fmt.Errorf("%w: %s: %w", ErrInvalidEvent, typ, err)
	}
	return ev, true, nil
}

var (
	errNoType      = errors.New("no type")
	errTypeNotText = errors.New("type is not a string")
)

// EventType reads the "type" member of the event raw, as DecodeEvent
// would, without decoding or validating the rest: a cheap test before
// decoding events that may be dropped by type.
func EventType(raw []byte) (string, error) {
	return eventType(bytes.TrimSpace(raw))
}

// typeNames maps each event type of the spec to itself: eventType returns
// these constants rather than copies.
var typeNames = func() map[string]string {
	m := make(map[string]string, len(eventTypes))
	for t := range eventTypes {
		m[t] = t
	}
	return m
}()

// KnownEventType returns s as the constant of its event type when s is
// an event type of the spec. A decoder reading "type" in place (from
// bytes it must not keep) gets a string that does not point into them,
// without a copy for the common case.
func KnownEventType(s string) (string, bool) {
	c, ok := typeNames[s]
	return c, ok
}

// eventType reads the "type" member of the event object raw without
// decoding anything else; raw is validated later, by the decode into the
// event's struct. The result never points into raw.
func eventType(raw []byte) (string, error) {
	// Read in place: only the type is kept, as a constant or a copy.
	obj := gjson.Parse(unsafe.String(unsafe.SliceData(raw), len(raw)))
	if !obj.IsObject() {
		return "", errNotObject
	}
	var t gjson.Result
	obj.ForEach(func(k, v gjson.Result) bool {
		if k.Str == "type" {
			t = v // the last one wins, as in the struct decode
		}
		return true
	})
	switch {
	case t.Type == gjson.Null:
		return "", errNoType
	case t.Type != gjson.String:
		return "", errTypeNotText
	}
	if c, ok := KnownEventType(t.Str); ok {
		return c, nil
	}
	typ := strings.Clone(t.Str)
	if !utf8.ValidString(typ) {
		json.Unmarshal([]byte(t.Raw), &typ) // invalid bytes become U+FFFD, as in the struct decode
	}
	if typ == "" {
		return "", errNoType
	}
	return typ, nil
}

// EventTypes returns the event type names the spec defines, sorted.
func EventTypes() []string {
	types := make([]string, 0, len(eventTypes))
	for t := range eventTypes {
		types = append(types, t)
	}
	slices.Sort(types)
	return types
}

// UnknownEvent is an event of a type this package does not model. Its
// members other than those of EventBase are only in Raw, and marshalling
// writes them back.
type UnknownEvent struct {
	EventBase

	// Raw is the exact JSON this event was decoded from.
	Raw json.RawMessage `json:"-"`
}

// EventType returns the event's "type" member.
func (e *UnknownEvent) EventType() string { return e.Type }

// Base returns the members every event has.
func (e *UnknownEvent) Base() *EventBase { return &e.EventBase }

// RawJSON returns the exact JSON the event was decoded from.
func (e *UnknownEvent) RawJSON() json.RawMessage { return e.Raw }

// UnmarshalJSON decodes data into e and keeps a copy of data in e.Raw.
func (e *UnknownEvent) UnmarshalJSON(data []byte) error {
	type plain UnknownEvent
	return unmarshalKeep(data, (*plain)(e), &e.Raw)
}

// MarshalJSON encodes e with every member of e.Raw.
func (e UnknownEvent) MarshalJSON() ([]byte, error) {
	type plain UnknownEvent
	return marshalWithExtra(e.Raw, plain(e))
}

// EventRef is a member of an event that holds an ARI model: its JSON name
// and the model's class ("channel", "Channel"; "replace_channel",
// "Channel"; "recording", "LiveRecording").
type EventRef struct {
	Member string
	Model  string
}

// EventRefs lists the members of events of type typ that hold a model, in
// the spec's order; nil for a type the spec does not define. Generated
// from events.json, so routing by the resources an event names needs no
// hand-kept list of member names. The slice is shared: do not modify it.
func EventRefs(typ string) []EventRef { return eventRefs[typ] }
