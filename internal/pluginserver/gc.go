package pluginserver

import (
	"os"
	"runtime/debug"
)

// tuneGCForShortLivedProcess sets the garbage collector for a provider process, which lives for
// one Terraform command. It trades memory for CPU: the framework allocates heavily on every call
// (schema walks, value conversions), and at the default GOGC of 100 a large plan's provider spent
// a good part of its CPU in garbage collection. A GOGC of 800, held to a soft limit of 128 MiB so
// that a large plan's heap cannot grow without bound, took the provider CPU of a plan of 1000
// services from 2.38 s to 1.43 s, for a peak RSS of 75 MiB instead of 32 MiB (`make bench`
// measures it as the GC lever: tools/bench/results, README "Benchmarks"). GOGC or GOMEMLIMIT set
// in the environment win.
func tuneGCForShortLivedProcess() {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(800)
	}
	if os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(128 << 20)
	}
}
