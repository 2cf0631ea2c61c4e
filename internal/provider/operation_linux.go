package provider

import (
	"fmt"
	"os"
	"strings"
)

// parentCommandLine returns the arguments of the process that started this one, or nil.
func parentCommandLine() []string {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", os.Getppid()))
	if err != nil || len(raw) == 0 {
		return nil
	}
	return strings.Split(strings.TrimSuffix(string(raw), "\x00"), "\x00")
}
