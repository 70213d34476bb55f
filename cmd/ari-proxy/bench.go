package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

	"github.com/ariproxy/ari-proxy/internal/bench"
)

// runBench runs the benchmark: a bus, the simulator (or the Asterisk of
// --ari-url) and the proxy server, by default as a child process of this
// executable, then the scenarios of internal/bench. The report goes to
// stdout, progress and logs to stderr.
func runBench(ctx context.Context, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("ari-proxy bench", flag.ContinueOnError)
	fs.SetOutput(stdout)
	duration := fs.Duration("duration", bench.DefaultDuration, "length of each request-rate measurement")
	concurrency := fs.Int("concurrency", bench.DefaultConcurrency, "requests in flight at once for the latency figures")
	high := fs.Int("concurrency-high", bench.DefaultHighConcurrency, "requests in flight at once for the throughput figures")
	events := fs.Int("events", bench.DefaultEvents, "events per flood")
	calls := fs.Int("calls", bench.DefaultCalls, "inbound calls per calls measurement")
	scaleCalls := fs.Int("scale-calls", bench.DefaultScaleCalls, "calls up at once in the call scale measurement")
	scatter := fs.String("scatter", joinInts(bench.DefaultScatterServers), "server counts of the scatter-gather measurement, comma-separated")
	ariURL := fs.String("ari-url", "", "REST base URL of a real Asterisk (http://HOST:8088/ari) to measure instead of the simulator")
	ariUser := fs.String("ari-user", "", "ARI user name of --ari-url")
	ariPassword := fs.String("ari-password", "", "ARI password of --ari-url (default $ARI_PASSWORD)")
	app := fs.String("app", bench.AppProxied, "Stasis application of the proxied side")
	inProcess := fs.Bool("in-process", false, "run the proxy server in this process instead of a child process (its CPU and memory figures are then the whole benchmark's)")
	smoke := fs.Bool("smoke", false, "a run of seconds with tiny sizes, to check that every scenario works (figures meaningless)")
	asJSON := fs.Bool("json", false, "write the report as JSON")
	svg := fs.String("svg", "", "also write a chart of the figures to this SVG file")
	profDir := fs.String("profile", "", "write CPU, allocation, blocking and mutex profiles of the bench process into this directory (with --in-process they include the proxy server)")
	tracePath := fs.String("trace", "", "write an execution trace of the bench process to this file (large: use with short runs)")
	quiet := fs.Bool("q", false, "no progress lines on stderr")
	busf := addBusFlags(fs)
	gatewayOnly := fs.Bool("gateway", false, "run the gateway section only: requests and events through ari-proxy gateway vs direct ARI")
	logLevel := fs.String("log-level", "error", "level of the components' logs on stderr: debug, info, warn or error")
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), `Usage: ari-proxy bench [flags]

Measures ari-proxy against plain ARI: a bus (embedded NATS, --bus, or a
private RabbitMQ with --rabbitmq), the
ARI simulator (or a real Asterisk, --ari-url) and the proxy server, run as
a child process so that its CPU and memory are its own. It reports the bus
round trip, the simulator's own capacity, direct vs proxied requests at
two concurrencies (with the server's CPU per request), events (with CPU
per event), inbound calls, the server's footprint with thousands of calls
up, and scatter-gather over many servers; then the targets, and last the
line "bench: latency-ratio=... calls-ratio=...". Against a real Asterisk
only the bus and request measurements run.

Flags:
`)
		fs.PrintDefaults()
	}
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	servers, err := parseInts(*scatter)
	switch {
	case err != nil:
		return usageError{fmt.Errorf("--scatter: %w", err)}
	case *duration <= 0:
		return usageError{fmt.Errorf("--duration must be more than zero, not %s", *duration)}
	case *concurrency < 1 || *high < 1:
		return usageError{fmt.Errorf("--concurrency and --concurrency-high must be at least 1, not %d and %d", *concurrency, *high)}
	case *events < 1:
		return usageError{fmt.Errorf("--events must be at least 1, not %d", *events)}
	case *calls < 1 || *scaleCalls < 1:
		return usageError{fmt.Errorf("--calls and --scale-calls must be at least 1, not %d and %d", *calls, *scaleCalls)}
	case *ariURL != "" && *ariUser == "":
		return usageError{fmt.Errorf("--ari-url needs --ari-user")}
	}
	log, err := newLogger(os.Stderr, *logLevel, "text")
	if err != nil {
		return usageError{err}
	}
	opts := bench.Options{Duration: *duration, Concurrency: *concurrency, HighConcurrency: *high, Events: *events,
		Calls: *calls, ScaleCalls: *scaleCalls, ScatterServers: servers}
	if *smoke {
		opts = bench.Smoke()
	}
	busURL, stopBus, err := busf.open(ctx)
	if err != nil {
		return err
	}
	defer stopBus()
	opts.BusURL, opts.ARIURL, opts.ARIUser, opts.ARIPassword, opts.App = busURL, *ariURL, *ariUser, *ariPassword, *app
	opts.BusNote = busf.note(ctx)
	if opts.ARIURL != "" && opts.ARIPassword == "" {
		opts.ARIPassword = os.Getenv("ARI_PASSWORD")
	}
	opts.Logger = log
	if !*inProcess {
		exe, err := os.Executable()
		if err != nil {
			return fmt.Errorf("finding this executable to run the proxy server: %w (try --in-process)", err)
		}
		opts.ServerCommand = []string{exe, "serve"}
	}
	if !*quiet {
		opts.Progress = func(step string) { fmt.Fprintf(os.Stderr, "bench: %s\n", step) }
	}
	prof, err := startProfiles(*profDir, *tracePath)
	if err != nil {
		return fmt.Errorf("profiles: %w", err)
	}
	var rep interface {
		WriteJSON(io.Writer) error
		WriteText(io.Writer) error
	}
	if *gatewayOnly {
		rep, err = bench.RunGateway(ctx, opts)
	} else {
		var r *bench.Report
		if r, err = bench.Run(ctx, opts); err == nil && *svg != "" {
			err = r.WriteSVGFile(*svg)
		}
		rep = r
	}
	if perr := prof.stop(); perr != nil && err == nil {
		err = perr
	}
	if err != nil {
		return err
	}
	if *asJSON {
		return rep.WriteJSON(stdout)
	}
	return rep.WriteText(stdout)
}

func joinInts(v []int) string {
	s := make([]string, len(v))
	for i, n := range v {
		s[i] = strconv.Itoa(n)
	}
	return strings.Join(s, ",")
}

// parseInts parses increasing positive counts separated by commas.
func parseInts(s string) ([]int, error) {
	var out []int
	for _, f := range strings.Split(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 {
			return nil, fmt.Errorf("%q is not a positive whole number", f)
		}
		if len(out) > 0 && n <= out[len(out)-1] {
			return nil, fmt.Errorf("counts must increase: %s", s)
		}
		out = append(out, n)
	}
	return out, nil
}
