// Package appmain is what the examples' main functions share: the bus URL
// flag and running until Ctrl-C.
package appmain

import (
	"context"
	"flag"
	"log"
	"os"
	"os/signal"

	"github.com/ariproxy/ari-proxy/client"
)

// Flags defines the -url flag, the bus URL ("": $MESSAGEBUS_URL, then the
// client's default), and the -app flag, the Stasis application.
func Flags() (url, app *string) {
	url = flag.String("url", os.Getenv(client.EnvBusURL), "bus URL (default $MESSAGEBUS_URL, then nats://127.0.0.1:4222)")
	app = flag.String("app", "demo", "Stasis application")
	return url, app
}

// Run parses the flags and runs run until it returns or Ctrl-C ends its
// context, exiting non-zero on error.
func Run(run func(ctx context.Context) error) {
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx); err != nil {
		log.Fatal(err)
	}
}
