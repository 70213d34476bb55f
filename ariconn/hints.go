package ariconn

import (
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"
)

// Hints of the mistakes whose fix is obvious, so that the log says it
// instead of a bare status code.
const (
	hintCredentials = "check ARI_USERNAME/ARI_PASSWORD against the user in Asterisk's ari.conf"
	hintBaseURL     = "the ARI base URL (ARI_HTTP_URL) must end in /ari, e.g. http://127.0.0.1:8088/ari"
	hintWebSocket   = "the ARI events WebSocket URL (ARI_WEBSOCKET_URL) must end in /ari/events, e.g. ws://127.0.0.1:8088/ari/events"
	hintARIEnabled  = "is ARI enabled (ari.conf: [general] enabled = yes) and res_ari loaded?"
)

// StatusError explains an answer of Asterisk that is not 2xx to the call
// what (e.g. "GET /asterisk/info"): the status, one line of the body
// (Asterisk's HTML error pages reduced to their title) and, when the fix
// is obvious, what to check. It wraps ErrUnauthorized for 401 and
// ErrStatus otherwise.
func (c *Conn) StatusError(what string, resp *Response) error {
	return c.statusError(what, resp.Status, resp.Body, c.base, hintBaseURL)
}

func (c *Conn) statusError(what string, status int, body []byte, target, urlHint string) error {
	if status == http.StatusUnauthorized {
		return fmt.Errorf("%s: %w for user %q: %s", what, ErrUnauthorized, c.cfg.Username, hintCredentials)
	}
	msg := fmt.Sprintf("%s: %v %d", what, ErrStatus, status)
	if line := oneLine(body); line != "" {
		msg += " (" + line + ")"
	}
	if status == http.StatusNotFound {
		u, err := url.Parse(target)
		switch {
		case err == nil && !strings.HasSuffix(strings.TrimSuffix(u.Path, "/"), wantSuffix(urlHint)):
			msg += ": " + urlHint
		default:
			msg += ": " + hintARIEnabled
		}
	}
	return wrapped{msg, ErrStatus}
}

// wantSuffix is the path a URL hint asks for.
func wantSuffix(hint string) string {
	if hint == hintWebSocket {
		return "/ari/events"
	}
	return "/ari"
}

var (
	htmlTitle = regexp.MustCompile(`(?is)<title>(.*?)</title>`)
	htmlTag   = regexp.MustCompile(`(?s)<[^>]*>`)
	spaces    = regexp.MustCompile(`\s+`)
)

// oneLine reduces an answer body to one short line: a JSON body as it is,
// an HTML page to its title (or its text without tags).
func oneLine(body []byte) string {
	s := strings.TrimSpace(string(body))
	if strings.HasPrefix(s, "<") {
		if m := htmlTitle.FindStringSubmatch(s); m != nil {
			s = m[1]
		} else {
			s = htmlTag.ReplaceAllString(s, " ")
		}
	}
	s = strings.TrimSpace(spaces.ReplaceAllString(s, " "))
	if len(s) > 160 {
		s = s[:160] + "..."
	}
	return s
}

// wrapped is an error with its own text that still unwraps to err.
type wrapped struct {
	msg string
	err error
}

func (w wrapped) Error() string { return w.msg }
func (w wrapped) Unwrap() error { return w.err }
