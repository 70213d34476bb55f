// Command clusterwatch prints the changes of the cluster's membership:
// proxy servers (one per Asterisk) joining, becoming unavailable (their
// Asterisk is unreachable or they stopped announcing) and leaving. An
// application uses the same stream to clean up the calls of a node that
// is gone.
//
//	go run ./examples/clusterwatch -url nats://127.0.0.1:4222
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log"
	"os"
	"os/signal"
	"strings"
	"time"

	"github.com/ariproxy/ari-proxy/client"
)

func main() {
	url := flag.String("url", os.Getenv(client.EnvBusURL), "bus URL (default $MESSAGEBUS_URL, then nats://127.0.0.1:4222)")
	ttl := flag.Duration("ttl", client.DefaultServerTTL, "how long a silent server is remembered")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, *url, *ttl, os.Stdout); err != nil {
		log.Fatal(err)
	}
}

func run(ctx context.Context, url string, ttl time.Duration, out io.Writer) error {
	c, err := client.New(ctx, client.WithURL(url), client.WithServerTTL(ttl))
	if err != nil {
		return err
	}
	defer c.Close()
	for ev := range c.WatchMembers(ctx) {
		m := ev.Member
		fmt.Fprintf(out, "%s %s: %-11s applications %s, last seen %s\n", time.Now().Format(time.TimeOnly),
			m.Node, ev.Type, strings.Join(m.Applications, ","), m.LastSeen.Format(time.TimeOnly))
	}
	return nil
}
