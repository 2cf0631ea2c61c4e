package provider

import (
	"bytes"
	"encoding/binary"
	"os"
	"strings"

	"golang.org/x/sys/unix"
)

// parentCommandLine returns the arguments of the process that started this one, or nil. The
// kern.procargs2 sysctl holds argc (32 bits), the executable's path, NUL padding, then the
// arguments and the environment, each ending in a NUL.
func parentCommandLine() []string {
	raw, err := unix.SysctlRaw("kern.procargs2", os.Getppid())
	if err != nil || len(raw) < 4 {
		return nil
	}
	argc := int(binary.LittleEndian.Uint32(raw[:4]))
	rest := raw[4:]
	end := bytes.IndexByte(rest, 0)
	if end < 0 {
		return nil
	}
	rest = bytes.TrimLeft(rest[end:], "\x00")
	args := strings.SplitN(string(rest), "\x00", argc+1)
	if len(args) < argc {
		return nil
	}
	return args[:argc]
}
