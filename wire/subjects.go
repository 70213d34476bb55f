package wire

import "strings"

// DefaultPrefix is the subject prefix when none is configured.
const DefaultPrefix = "ari."

// CreateQueue is the queue group v5 servers use for create requests, at all
// three subject levels, so that exactly one server answers a create sent to
// a generic subject.
const CreateQueue = "ariproxy"

// ListenQueue is the queue group v5 clients use on AllEvents to share
// StasisStart events: each new call reaches one instance of the application.
const ListenQueue = "ARIProxyStasisStartDistributorQueue"

// Subjects builds subjects under one prefix. The zero value uses
// DefaultPrefix.
type Subjects struct{ Prefix string }

// NewSubjects normalizes prefix ("" -> "ari.", "x" -> "x.").
func NewSubjects(prefix string) Subjects {
	return Subjects{Prefix: normPrefix(prefix)}
}

func normPrefix(p string) string {
	if p == "" {
		return DefaultPrefix
	}
	if !strings.HasSuffix(p, ".") {
		return p + "."
	}
	return p
}

func (s Subjects) p() string { return normPrefix(s.Prefix) }

// Ping is where clients ask servers to announce themselves
// (payload {"kind":"","key":null}).
func (s Subjects) Ping() string { return s.p() + "ping" }

// Announce is where servers announce themselves (an Announcement).
func (s Subjects) Announce() string { return s.p() + "announce" }

// Event is where events of app on node are published: "<prefix>event.<app>.<node>".
func (s Subjects) Event(app, node string) string {
	return s.p() + "event." + app + "." + node
}

// AllEvents is the wildcard subject of every event of app on any node:
// "<prefix>event.<app>.>".
func (s Subjects) AllEvents(app string) string { return s.p() + "event." + app + ".>" }

// DialogEvent is where events of resources bound to dialog are published.
func (s Subjects) DialogEvent(dialog string) string { return s.p() + "dialogevent." + dialog }

// Request is the request subject for class at one of three levels: app and
// node both empty (every server), node empty (every server of app), or both
// (the one server of app on node). As in v5, node is ignored without app.
func (s Subjects) Request(class Class, app, node string) string {
	sub := s.p() + string(class)
	if app == "" {
		return sub
	}
	sub += "." + app
	if node != "" {
		sub += "." + node
	}
	return sub
}

// ValidToken reports whether s can be one token of a subject (an app name,
// a dialog id): non-empty, without '.', wildcards or white space. Node ids
// (Asterisk entity ids such as "02:fc:00:00:00:01") are valid tokens.
func ValidToken(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		switch r {
		case '.', '*', '>', ' ', '\t', '\r', '\n':
			return false
		}
	}
	return true
}
