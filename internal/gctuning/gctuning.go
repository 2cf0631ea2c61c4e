// Package gctuning sets the garbage collector for a provider process, which lives for one
// Terraform command.
package gctuning

import (
	"os"
	"runtime/debug"
)

// ForShortLivedProcess trades memory for CPU: the framework allocates heavily on every call
// (schema walks, value conversions), and at the default GOGC of 100 about a quarter of a large
// plan's provider CPU went to garbage collection. A GOGC of 800, held to a soft limit of 128 MiB so
// that a large plan's heap does not grow without bound, took the provider CPU of a plan of 1000
// services from 2.85 s to 2.41 s, and its peak RSS from 158 MiB to 140 MiB (`make bench` measures it
// as the GC lever: bench/results, README "Benchmarks"). GOGC or GOMEMLIMIT set in the environment
// win.
func ForShortLivedProcess() {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(800)
	}
	if os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(128 << 20)
	}
}
