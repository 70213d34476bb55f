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
	"os"
	"strings"
	"time"

	"github.com/ariproxy/ari-proxy/client"
	"github.com/ariproxy/ari-proxy/examples/internal/appmain"
)

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

func main() {
	url, _ := appmain.Flags()
	ttl := flag.Duration("ttl", client.DefaultServerTTL, "how long a silent server is remembered")
	appmain.Run(func(ctx context.Context) error { return run(ctx, *url, *ttl, os.Stdout) })
}
