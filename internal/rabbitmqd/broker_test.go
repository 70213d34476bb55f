package rabbitmqd_test

import (
	"strings"
	"testing"
	"time"

	"github.com/ariproxy/ari-proxy/internal/rabbitmqd"
	"github.com/ariproxy/ari-proxy/internal/sharedtest"
)

// TestSettingsAndCPU: a broker Start started, without options, says it
// runs with the package's defaults (or what the environment changes),
// names its version, and its CPU time is counted.
func TestSettingsAndCPU(t *testing.T) {
	ctx := t.Context() // Start bounds its wait by StartTimeout
	b, err := rabbitmqd.Start(ctx)
	if err != nil {
		sharedtest.SkipOrFail(t, "RabbitMQ cannot start here: %v", err)
	}
	defer b.Stop()
	s := b.Settings(ctx)
	if !strings.HasPrefix(s, "rabbitmq-server ") || strings.Contains(s, "unknown version") {
		t.Errorf("Settings() = %q, want the version", s)
	}
	if !strings.Contains(s, "default settings") && !strings.Contains(s, "RABBITMQ_") && !strings.Contains(s, "/etc/rabbitmq") {
		t.Errorf("Settings() = %q: neither the defaults nor what changes them", s)
	}
	cpu, err := b.CPUTime()
	if err != nil {
		t.Fatal(err)
	}
	// Starting a broker takes seconds of CPU: none counted means its
	// processes were missed.
	if cpu < 100*time.Millisecond {
		t.Errorf("CPUTime() = %v after starting, want the VM's start counted", cpu)
	}
}
