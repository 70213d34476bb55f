package proxy_test

import (
	"testing"

	"github.com/ariproxy/ari-proxy/internal/bustest"
)

// TestMain stops the RabbitMQ broker the transport suites started.
func TestMain(m *testing.M) { bustest.Main(m) }
