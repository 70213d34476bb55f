package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"runtime/trace"
)

// benchProfiles records profiles of the bench process: a CPU profile into
// dir/cpu.pprof and, at the end, allocations, blocking and mutex
// contention (dir/allocs.pprof, block.pprof, mutex.pprof); with
// tracePath an execution trace as well. With --in-process the proxy
// server's goroutines are in them.
type benchProfiles struct {
	dir, tracePath string
	cpu, tr        *os.File
}

func startProfiles(dir, tracePath string) (*benchProfiles, error) {
	p := &benchProfiles{dir: dir, tracePath: tracePath}
	if dir != "" {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return nil, err
		}
		f, err := os.Create(filepath.Join(dir, "cpu.pprof"))
		if err != nil {
			return nil, err
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			f.Close()
			return nil, err
		}
		p.cpu = f
		runtime.SetBlockProfileRate(10_000) // one blocking event per 10 µs blocked
		runtime.SetMutexProfileFraction(10)
	}
	if tracePath != "" {
		f, err := os.Create(tracePath)
		if err != nil {
			p.stop()
			return nil, err
		}
		if err := trace.Start(f); err != nil {
			f.Close()
			p.stop()
			return nil, err
		}
		p.tr = f
	}
	return p, nil
}

// stop ends the profiles and writes the ones taken at the end.
func (p *benchProfiles) stop() error {
	var errs []error
	if p.tr != nil {
		trace.Stop()
		errs = append(errs, p.tr.Close())
	}
	if p.cpu == nil {
		return errors.Join(errs...)
	}
	pprof.StopCPUProfile()
	errs = append(errs, p.cpu.Close())
	for _, name := range []string{"allocs", "block", "mutex"} {
		f, err := os.Create(filepath.Join(p.dir, name+".pprof"))
		if err != nil {
			errs = append(errs, err)
			continue
		}
		errs = append(errs, pprof.Lookup(name).WriteTo(f, 0), f.Close())
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("writing profiles: %w", err)
	}
	return nil
}
