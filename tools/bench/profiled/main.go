// Command profiled serves the Divio provider as main.go does with -debug, and writes CPU and heap
// profiles of its whole life when it is interrupted: `go run ./tools/bench -profile DIR` has
// Terraform plan through it. It is never shipped.
package main

import (
	"flag"
	"log"
	"os"
	"runtime/pprof"

	"github.com/divio/terraform-provider-divio/internal/pluginserver"
	"github.com/divio/terraform-provider-divio/internal/provider"
	"github.com/divio/terraform-provider-divio/tools/devenv"
)

func main() {
	cpuProfile := flag.String("cpuprofile", "cpu.pprof", "file for the CPU profile")
	heapProfile := flag.String("heapprofile", "heap.pprof", "file for the heap profile (allocations included)")
	debug := flag.Bool("debug", false, "serve for reattaching (TF_REATTACH_PROVIDERS)")
	flag.Parse()

	cpu, err := os.Create(*cpuProfile)
	if err != nil {
		log.Fatal(err)
	}
	if err := pprof.StartCPUProfile(cpu); err != nil {
		log.Fatal(err)
	}
	err = pluginserver.Serve(devenv.ProviderAddress, provider.New("bench"), *debug)
	pprof.StopCPUProfile()
	if closeErr := cpu.Close(); err == nil {
		err = closeErr
	}
	if err == nil {
		err = writeHeapProfile(*heapProfile)
	}
	if err != nil {
		log.Fatal(err)
	}
}

func writeHeapProfile(path string) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := pprof.Lookup("allocs").WriteTo(f, 0); err != nil {
		_ = f.Close()
		return err
	}
	return f.Close()
}
