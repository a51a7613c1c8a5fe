package ipc

import (
	"fmt"

	"golang.org/x/sys/unix"
)

// memfdSeals are the seals a payload memfd must carry: nothing can change
// its size or content, and no further seal can be added or removed.
const memfdSeals = unix.F_SEAL_SHRINK | unix.F_SEAL_GROW | unix.F_SEAL_WRITE | unix.F_SEAL_SEAL

// sealedMemfd returns a CLOEXEC memfd holding b, sealed with memfdSeals.
// The caller closes it.
func sealedMemfd(b []byte) (int, error) {
	fd, err := unix.MemfdCreate("fluxheim-ipc", unix.MFD_ALLOW_SEALING|unix.MFD_CLOEXEC)
	if err != nil {
		return -1, fmt.Errorf("ipc: memfd_create: %w", err)
	}
	if err := writeAll(fd, b); err != nil {
		unix.Close(fd)
		return -1, fmt.Errorf("ipc: writing memfd: %w", err)
	}
	if _, err := unix.FcntlInt(uintptr(fd), unix.F_ADD_SEALS, memfdSeals); err != nil {
		unix.Close(fd)
		return -1, fmt.Errorf("ipc: sealing memfd: %w", err)
	}
	return fd, nil
}

func writeAll(fd int, b []byte) error {
	for len(b) > 0 {
		n, err := unix.Write(fd, b)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return err
		}
		b = b[n:]
	}
	return nil
}

// readSealedMemfd reads the payload of a received memfd after checking
// that it is sealed (so the sender cannot change it under us) and that
// its size is exactly length. It does not close fd.
func readSealedMemfd(fd int, length uint32) ([]byte, error) {
	seals, err := unix.FcntlInt(uintptr(fd), unix.F_GET_SEALS, 0)
	if err != nil {
		return nil, protoErr("payload fd is not a memfd: %v", err)
	}
	if seals&memfdSeals != memfdSeals {
		return nil, protoErr("payload memfd seals %#x, want %#x", seals, memfdSeals)
	}
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return nil, fmt.Errorf("ipc: fstat payload memfd: %w", err)
	}
	if st.Size != int64(length) {
		return nil, protoErr("payload memfd holds %d bytes, header says %d", st.Size, length)
	}
	b := make([]byte, length)
	for off := 0; off < len(b); {
		n, err := unix.Pread(fd, b[off:], int64(off))
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("ipc: reading payload memfd: %w", err)
		}
		if n == 0 {
			return nil, protoErr("payload memfd ended at %d of %d bytes", off, len(b))
		}
		off += n
	}
	return b, nil
}
