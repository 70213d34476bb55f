package gateway_test

import (
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/ariproxy/ari-proxy/ari"
	"github.com/ariproxy/ari-proxy/arisim"
	"github.com/ariproxy/ari-proxy/internal/localstack"
)

// TestEveryOperation sends every operation of the table, its path
// parameters naming nothing that exists and no other parameter, through
// the gateway (two nodes) and directly to a fresh simulator: the status
// and body must be Asterisk's, the same both ways.
func TestEveryOperation(t *testing.T) {
	cl := newCluster(t)
	srv := cl.gateway(t)
	direct := localstack.StartSimConfig(t, arisim.Config{TimeScale: 0.01})
	for i := range ari.Operations {
		op := &ari.Operations[i]
		if op.WebSocket {
			continue
		}
		path := op.Path
		for _, p := range op.Params {
			if p.In == ari.InPath {
				path = strings.ReplaceAll(path, "{"+p.Name+"}", "nothing")
			}
		}
		g := do(t, srv, op.Method, "/ari"+path)
		req, _ := http.NewRequest(op.Method, direct.URL()+path, nil)
		req.SetBasicAuth(localstack.SimUser, localstack.SimPassword)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var b strings.Builder
		_, _ = io.Copy(&b, resp.Body)
		resp.Body.Close()
		if g.status != resp.StatusCode || (resp.StatusCode >= 400 && g.body != b.String()) {
			t.Errorf("%s %s: gateway %d %.120s, direct %d %.120s", op.Method, path, g.status, g.body, resp.StatusCode, b.String())
		}
	}
}
