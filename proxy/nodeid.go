package proxy

import (
	"github.com/tidwall/gjson"
)

// A node id set in Config.Node replaces Asterisk's entity id everywhere on
// the bus: the request subjects, announcements, replies, the event
// subjects and the asterisk_id of every event, which clients read to
// route their next requests. Asterisk instances on one host share the
// host's MAC and so, unless asterisk.conf sets entityid, the entity id:
// without their own node ids their servers would answer each other's
// requests and publish onto each other's subjects.

// chooseNode is the node id to serve once Asterisk answered with its
// entity id: Config.Node when set (logged the first time, so that the
// operator sees both), else the entity id.
func (s *Server) chooseNode(entityID string) string {
	if s.fixedNode == "" {
		return entityID
	}
	if s.Node() == "" {
		s.log.Info("node id set by configuration, not Asterisk's entity id", "node", s.fixedNode, "entity_id", entityID)
	}
	return s.fixedNode
}

// overrideNode returns the node an event goes out under and the event's
// bytes: unchanged without Config.Node; with it, the event's asterisk_id
// says Config.Node.
func (s *Server) overrideNode(node string, raw []byte) (string, []byte) {
	if s.fixedNode == "" || node == s.fixedNode {
		return node, raw
	}
	return s.fixedNode, setTopString(raw, "asterisk_id", s.fixedNode)
}

// setTopString replaces the value of the top-level member key of the JSON
// object obj with the string v, keeping every other byte; obj is returned
// as is when it has no such member (the caller adds it).
func setTopString(obj []byte, key, v string) []byte {
	r := gjson.GetBytes(obj, gjson.Escape(key))
	if !r.Exists() || r.Index <= 0 || r.Index+len(r.Raw) > len(obj) || string(obj[r.Index:r.Index+len(r.Raw)]) != r.Raw {
		return obj
	}
	out := make([]byte, 0, len(obj)+len(v))
	out = append(out, obj[:r.Index]...)
	out = appendJSONString(out, v)
	return append(out, obj[r.Index+len(r.Raw):]...)
}
