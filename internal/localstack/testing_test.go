package localstack_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/ariproxy/ari-proxy/internal/localstack"
	"github.com/ariproxy/ari-proxy/wire"
)

// TestStartServer: the three helpers give a server that answers on the bus.
func TestStartServer(t *testing.T) {
	_, url := localstack.StartNATS(t)
	sim := localstack.StartSim(t, "02:fc:00:00:00:07")
	prefix := localstack.Prefix()
	srv := localstack.StartServer(t, sim, url, "demo", prefix)
	if srv.Node() != "02:fc:00:00:00:07" {
		t.Fatalf("Node() = %q", srv.Node())
	}
	cli := localstack.Connect(t, url)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	subject := wire.NewSubjects(prefix).Request(wire.ClassData, "demo", srv.Node())
	var resp wire.Response
	err := cli.RequestMany(ctx, subject, []byte(`{"kind":"AsteriskInfo","key":{}}`), func(b []byte) bool {
		if err := json.Unmarshal(b, &resp); err != nil {
			t.Errorf("reply %s: %v", b, err)
		}
		return false
	})
	if err != nil || resp.Error != "" {
		t.Fatalf("AsteriskInfo: %+v (%v)", resp, err)
	}
	if localstack.Prefix() == prefix {
		t.Fatal("Prefix() repeats")
	}
}
