package state

import (
	"errors"
	"fmt"
	"io"
	"os"
	"syscall"
)

// MaxFileSize bounds a state file read back. The largest the daemon writes
// (the prediction history at its largest setting) is a few MiB; anything
// bigger was not written by it, and reading it whole could exhaust memory.
const MaxFileSize = 32 << 20

// ErrNotRegular is wrapped when a state file is not a regular file: a
// FIFO would block the daemon's start (and its stop) forever, a device or
// a symbolic link (into /etc, say) is not the daemon's to read.
var ErrNotRegular = errors.New("not a regular file")

// errTooLarge is wrapped when a state file exceeds MaxFileSize.
var errTooLarge = errors.New("larger than a state file can be")

// readRegular reads path if it is a regular file of at most MaxFileSize
// bytes. It opens without following a symbolic link and without blocking
// on a FIFO, and checks the type on the open file, so a file swapped in
// between a check and the read is never read.
func readRegular(path string) ([]byte, error) {
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NOFOLLOW|syscall.O_NONBLOCK|syscall.O_CLOEXEC, 0)
	if err != nil {
		if errors.Is(err, syscall.ELOOP) {
			return nil, fmt.Errorf("%w: %s is a symbolic link", ErrNotRegular, path)
		}
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("%w: %s is a %s", ErrNotRegular, path, kind(fi.Mode()))
	}
	if fi.Size() > MaxFileSize {
		return nil, fmt.Errorf("%w: %s is %d bytes (at most %d)", errTooLarge, path, fi.Size(), MaxFileSize)
	}
	data, err := io.ReadAll(io.LimitReader(f, MaxFileSize+1))
	if err != nil {
		return nil, err
	}
	if len(data) > MaxFileSize {
		return nil, fmt.Errorf("%w: %s grew past %d bytes while read", errTooLarge, path, MaxFileSize)
	}
	return data, nil
}

func kind(m os.FileMode) string {
	switch {
	case m&os.ModeNamedPipe != 0:
		return "FIFO"
	case m&os.ModeSocket != 0:
		return "socket"
	case m&os.ModeDevice != 0:
		return "device"
	case m.IsDir():
		return "directory"
	}
	return "special file"
}
