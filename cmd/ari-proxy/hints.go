package main

import (
	"fmt"
	"net"
	"strings"
)

// embeddedError explains a failure to start the embedded NATS server. The
// common one, its port taken (by another ari-proxy or a nats-server),
// says which setting moves it.
func embeddedError(addr string, err error) error {
	if strings.Contains(err.Error(), "address already in use") {
		host, port, _ := net.SplitHostPort(addr)
		return fmt.Errorf("starting the embedded NATS server: %s is already in use (another ari-proxy or nats-server?): "+
			"set MESSAGEBUS_URL (or --bus-url) to embedded://%s:PORT for another port, "+
			"or to nats://%s:%s to use the NATS server already listening there: %w", addr, host, host, port, err)
	}
	return fmt.Errorf("starting the embedded NATS server on %s: %w", addr, err)
}
