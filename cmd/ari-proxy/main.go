// Command ari-proxy runs the ari-proxy server beside an Asterisk, the ARI
// simulator, or a self-contained demo.
//
//	ari-proxy [serve] [flags]   the proxy server (the default command)
//	ari-proxy sim [flags]       the ARI simulator, an Asterisk stand-in
//	ari-proxy gateway [flags]   plain ARI (REST, events, api-docs) for the whole cluster
//	ari-proxy demo [flags]      server, simulator, bus and an example app in one process
//	ari-proxy dev [flags]       server, simulator and bus to develop an app against
//	ari-proxy version
//	ari-proxy help
//
// Run "ari-proxy serve -h" for the server's settings, which are also read
// from the environment and from a JSON file.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime"
	"runtime/debug"
	"strings"
	"syscall"
)

// version is set at link time (-ldflags "-X main.version=v1.2.3"); without
// it the module version from the build info is shown.
var version = ""

// Exit codes.
const (
	exitOK    = 0
	exitError = 1 // the command failed while running
	exitUsage = 2 // bad command line or configuration
)

func main() {
	os.Exit(run(context.Background(), os.Args[1:], os.Stdout, os.Stderr))
}

// run executes the command line args and returns the exit code. The
// long-running commands stop at SIGINT or SIGTERM, or when ctx ends.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	cmd, rest := "serve", args
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		cmd, rest = args[0], args[1:]
	}
	if len(args) > 0 && (args[0] == "-h" || args[0] == "-help" || args[0] == "--help") {
		cmd = "help"
	}

	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()

	var err error
	switch cmd {
	case "serve":
		err = serve(ctx, rest, stderr)
	case "sim":
		err = sim(ctx, rest, stderr)
	case "gateway":
		err = gatewayCmd(ctx, rest, stderr)
	case "demo":
		err = demoCmd(ctx, rest, stdout, stderr)
	case "dev":
		err = devCmd(ctx, rest, stdout, stderr)
	case "bench":
		err = runBench(ctx, rest, stdout)
	case "version":
		fmt.Fprintln(stdout, versionString())
		return exitOK
	case "help":
		usage(stdout)
		return exitOK
	default:
		fmt.Fprintf(stderr, "ari-proxy: unknown command %q\n\n", cmd)
		usage(stderr)
		return exitUsage
	}
	switch {
	case err == nil:
		return exitOK
	case errors.Is(err, flag.ErrHelp):
		return exitOK
	case errors.As(err, new(usageError)):
		fmt.Fprintf(stderr, "ari-proxy %s: %v\n", cmd, err)
		return exitUsage
	default:
		fmt.Fprintf(stderr, "ari-proxy %s: %v\n", cmd, err)
		return exitError
	}
}

// usageError is a mistake on the command line or in the configuration,
// reported with exitUsage.
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

// parseFlags parses a subcommand's flags, which take no positional
// argument: flag.ErrHelp is returned as is (-h asked for the usage), any
// other mistake as a usageError.
func parseFlags(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if err == flag.ErrHelp {
			return err
		}
		return usageError{err}
	}
	if fs.NArg() > 0 {
		return usageError{fmt.Errorf("unexpected argument %q", fs.Arg(0))}
	}
	return nil
}

func usage(w io.Writer) {
	fmt.Fprint(w, `ari-proxy: the Asterisk REST Interface over a message bus.

Usage:
  ari-proxy [serve] [flags]   run the proxy server beside an Asterisk (the default)
  ari-proxy sim [flags]       run the ARI simulator, a stand-in for Asterisk
  ari-proxy gateway [flags]   serve plain ARI for the whole cluster (docs/gateway.md)
  ari-proxy demo [flags]      run bus, simulator, server and an example app in one process
  ari-proxy dev [flags]       run bus, simulator and server for developing an app (no app)
  ari-proxy bench [flags]     measure the proxy against direct ARI (bus, simulator, proxy in one process)
  ari-proxy version           print the version
  ari-proxy help              print this help

Run "ari-proxy <command> -h" for a command's flags. The server's settings
are also read from the environment (ARI_APPLICATION, ARI_PASSWORD,
MESSAGEBUS_URL, ...) and from a JSON file (--config, ARI_PROXY_CONFIG).
`)
}

func versionString() string {
	v := version
	if v == "" {
		v = "(devel)"
		if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" {
			v = bi.Main.Version
		}
	}
	return fmt.Sprintf("ari-proxy %s %s %s/%s", v, runtime.Version(), runtime.GOOS, runtime.GOARCH)
}
