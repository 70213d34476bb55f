package docs

import (
	"os"
	"strings"
	"testing"

	"github.com/ariproxy/ari-proxy/bus/amqpbus"
)

// TestRabbitMQSection: the RabbitMQ section of protocol.md shows the
// permissions and names the code uses (escaped for the table).
func TestRabbitMQSection(t *testing.T) {
	b, err := os.ReadFile("protocol.md")
	if err != nil {
		t.Fatal(err)
	}
	doc := string(b)
	i := strings.Index(doc, "\n## RabbitMQ\n")
	if i < 0 {
		t.Fatal("protocol.md has no RabbitMQ section")
	}
	section := doc[i:]
	cell := func(s string) string { return "`" + strings.ReplaceAll(s, "|", `\|`) + "`" }
	for _, p := range []amqpbus.Permissions{amqpbus.ProxyPermissions, amqpbus.AppPermissions} {
		for _, re := range []string{p.Configure, p.Write, p.Read} {
			if !strings.Contains(section, cell(re)) {
				t.Errorf("the RabbitMQ section lacks the permission %s", cell(re))
			}
		}
	}
	for _, name := range []string{amqpbus.ExchangeEvent, amqpbus.ExchangeRequest, amqpbus.ExchangePing, amqpbus.ExchangeAnnounce, amqpbus.SubscriptionQueuePrefix} {
		if !strings.Contains(section, "`"+name) {
			t.Errorf("the RabbitMQ section does not name %s", name)
		}
	}
}
