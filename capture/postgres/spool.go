package postgres

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
)

// spool keeps the messages of large in-progress transactions that
// PostgreSQL streams before they commit (pgoutput streaming). They are
// written to one file per top-level transaction and replayed on Stream
// Commit, or deleted on Stream Abort, so memory does not grow with a
// transaction's size and nothing of an aborted transaction is published.
type spool struct {
	dir   string
	files map[uint32]*spoolFile
}

type spoolFile struct {
	path    string
	f       *os.File
	w       *bufio.Writer
	aborted map[uint32]bool // aborted subtransactions
}

func newSpool(dir string) (*spool, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("spool folder: %w", err)
	}
	// Files left by a previous run belong to transactions that PostgreSQL
	// will stream again from the slot's position.
	old, _ := filepath.Glob(filepath.Join(dir, "xid-*.spool"))
	for _, p := range old {
		_ = os.Remove(p)
	}
	return &spool{dir: dir, files: map[uint32]*spoolFile{}}, nil
}

// add appends one raw pgoutput message of transaction xid.
func (s *spool) add(xid uint32, data []byte) error {
	sf := s.files[xid]
	if sf == nil {
		p := filepath.Join(s.dir, "xid-"+strconv.FormatUint(uint64(xid), 10)+".spool")
		f, err := os.Create(p)
		if err != nil {
			return fmt.Errorf("spool transaction %d: %w", xid, err)
		}
		sf = &spoolFile{path: p, f: f, w: bufio.NewWriterSize(f, 256<<10), aborted: map[uint32]bool{}}
		s.files[xid] = sf
	}
	var hdr [4]byte
	binary.BigEndian.PutUint32(hdr[:], uint32(len(data)))
	if _, err := sf.w.Write(hdr[:]); err != nil {
		return fmt.Errorf("spool transaction %d: %w", xid, err)
	}
	if _, err := sf.w.Write(data); err != nil {
		return fmt.Errorf("spool transaction %d: %w", xid, err)
	}
	return nil
}

// abort forgets subtransaction subxid of xid, or all of xid.
func (s *spool) abort(xid, subxid uint32) {
	sf := s.files[xid]
	if sf == nil {
		return
	}
	if subxid != xid && subxid != 0 {
		sf.aborted[subxid] = true
		return
	}
	s.drop(xid)
}

func (s *spool) drop(xid uint32) {
	if sf := s.files[xid]; sf != nil {
		sf.f.Close()
		os.Remove(sf.path)
		delete(s.files, xid)
	}
}

// replay calls fn with each spooled message of xid in order, skipping
// messages of aborted subtransactions (skip decides from the message), then
// deletes the file. A transaction with nothing spooled replays nothing.
func (s *spool) replay(xid uint32, fn func(data []byte, aborted map[uint32]bool) error) error {
	sf := s.files[xid]
	if sf == nil {
		return nil
	}
	defer s.drop(xid)
	if err := sf.w.Flush(); err != nil {
		return fmt.Errorf("spool transaction %d: %w", xid, err)
	}
	if _, err := sf.f.Seek(0, io.SeekStart); err != nil {
		return err
	}
	r := bufio.NewReaderSize(sf.f, 256<<10)
	var hdr [4]byte
	var buf []byte
	for {
		if _, err := io.ReadFull(r, hdr[:]); err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return fmt.Errorf("read spooled transaction %d: %w", xid, err)
		}
		n := int(binary.BigEndian.Uint32(hdr[:]))
		if cap(buf) < n {
			buf = make([]byte, n)
		}
		buf = buf[:n]
		if _, err := io.ReadFull(r, buf); err != nil {
			return fmt.Errorf("read spooled transaction %d: %w", xid, err)
		}
		if err := fn(buf, sf.aborted); err != nil {
			return err
		}
	}
}

func (s *spool) close() {
	for xid := range s.files {
		s.drop(xid)
	}
}
