package main

import (
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"runtime/pprof"
	"strings"
)

// startProfile starts a CPU profile, written as name.cpu.pprof, of this
// process (the gateway under test
// runs in it; wrk does not) for the named measurement, when -profile is
// set. The returned stop writes the CPU profile and the allocation profile
// (cumulative since the process started: read it with -diff_base against
// the previous one, or mind the seeding).
func (b *bench) startProfile(name string) (stop func() error, err error) {
	if b.o.profileDir == "" {
		return func() error { return nil }, nil
	}
	if err := os.MkdirAll(b.o.profileDir, 0o755); err != nil {
		return nil, err
	}
	base := filepath.Join(b.o.profileDir, name)
	f, err := os.Create(base + ".cpu.pprof")
	if err != nil {
		return nil, err
	}
	runtime.GC()
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, err
	}
	return func() error {
		pprof.StopCPUProfile()
		if err := f.Close(); err != nil {
			return err
		}
		a, err := os.Create(base + ".allocs.pprof")
		if err != nil {
			return err
		}
		defer a.Close()
		return pprof.Lookup("allocs").WriteTo(a, 0)
	}, nil
}

var nonWord = regexp.MustCompile(`[^a-z0-9]+`)

// profileSlug turns "/v1/auth, warm in-process cache (100k sessions cached)"
// into "v1-auth-warm-in-process-cache".
func profileSlug(name string) string {
	if i := strings.IndexByte(name, '('); i > 0 {
		name = name[:i]
	}
	return strings.Trim(nonWord.ReplaceAllString(strings.ToLower(name), "-"), "-")
}
