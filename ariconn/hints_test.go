package ariconn

import (
	"errors"
	"strings"
	"testing"
)

func TestStatusError(t *testing.T) {
	html := "<!DOCTYPE HTML PUBLIC \"-//IETF//DTD HTML 2.0//EN\">\r\n<html><head>\r\n<title>404 Not Found</title>\r\n</head><body>\r\n<h1>Not Found</h1>\r\n<p>The requested URL was not found on this server.</p>\r\n<hr />\r\n<address>Asterisk Server</address>\r\n</body></html>\r\n"
	tests := []struct {
		name    string
		httpURL string
		status  int
		body    string
		want    []string
		not     []string
		wantErr error
	}{
		{"401", "http://h:8088/ari", 401, `{"message":"Authentication required"}`, []string{"HTTP 401", `user "u"`, "check ARI_USERNAME/ARI_PASSWORD"}, []string{"pw"}, ErrUnauthorized},
		{"404 without /ari", "http://h:8088", 404, html, []string{"404 (404 Not Found)", "must end in /ari"}, []string{"<", "\r", "\n"}, ErrStatus},
		{"404 with /ari", "http://h:8088/ari", 404, `{"message":"Resource not found"}`, []string{`404 ({"message":"Resource not found"})`, "is ARI enabled"}, nil, ErrStatus},
		{"500", "http://h:8088/ari", 500, strings.Repeat("x", 500), []string{"500 (xxx", "..."}, []string{"must end", strings.Repeat("x", 200)}, ErrStatus},
		{"HTML without title", "http://h:8088/ari", 503, "<html><body><p>busy\n now</p></body></html>", []string{"503 (busy now)"}, nil, ErrStatus},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := New(Config{HTTPURL: tt.httpURL, Username: "u", Password: "pw", Applications: []string{"a"}})
			if err != nil {
				t.Fatal(err)
			}
			err = c.StatusError("GET /asterisk/info", &Response{Status: tt.status, Body: []byte(tt.body)})
			if !errors.Is(err, tt.wantErr) {
				t.Errorf("%v does not match %v", err, tt.wantErr)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("%q lacks %q", err, w)
				}
			}
			for _, n := range tt.not {
				if strings.Contains(err.Error(), n) {
					t.Errorf("%q contains %q", err, n)
				}
			}
		})
	}
}
