// Package spool is the binary form of the records a run writes as it goes
// and its report reads back once: varints and length-prefixed strings, a
// few dozen bytes a record, read in one pass with one buffer.
package spool

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// AppendString appends s, prefixed with its length, to b.
func AppendString(b []byte, s string) []byte {
	return append(binary.AppendUvarint(b, uint64(len(s))), s...)
}

// maxString bounds a string, so that a corrupt length fails instead of
// allocating.
const maxString = 1 << 20

// Reader reads records field by field: varints as encoding/binary appends
// them, bytes, and strings AppendString wrote. The first error sticks:
// every later read returns a zero value, and Err says what went wrong, so
// that a record is read field after field and checked once.
type Reader struct {
	br     *bufio.Reader
	buf    []byte
	intern map[string]string
	err    error
}

// NewReader reads from r, buffered.
func NewReader(r io.Reader) *Reader {
	return &Reader{br: bufio.NewReaderSize(r, 64<<10), intern: map[string]string{}}
}

// More reports whether another record follows: false at the end of the
// input, or after an error (Err).
func (r *Reader) More() bool {
	if r.err != nil {
		return false
	}
	if _, err := r.br.Peek(1); err != nil {
		if !errors.Is(err, io.EOF) {
			r.err = err
		}
		return false
	}
	return true
}

// Err is the first error met; the end of the input is none, but the end
// within a record is io.ErrUnexpectedEOF.
func (r *Reader) Err() error { return r.err }

func (r *Reader) fail(err error) {
	if errors.Is(err, io.EOF) {
		err = io.ErrUnexpectedEOF
	}
	r.err = err
}

// Uvarint reads an unsigned varint.
func (r *Reader) Uvarint() uint64 {
	if r.err != nil {
		return 0
	}
	v, err := binary.ReadUvarint(r.br)
	if err != nil {
		r.fail(err)
	}
	return v
}

// Varint reads a signed varint.
func (r *Reader) Varint() int64 {
	if r.err != nil {
		return 0
	}
	v, err := binary.ReadVarint(r.br)
	if err != nil {
		r.fail(err)
	}
	return v
}

// Byte reads one byte.
func (r *Reader) Byte() byte {
	if r.err != nil {
		return 0
	}
	b, err := r.br.ReadByte()
	if err != nil {
		r.fail(err)
	}
	return b
}

// Bytes reads a string AppendString wrote into the Reader's buffer: valid
// until the next read.
func (r *Reader) Bytes() []byte {
	n := r.Uvarint()
	if r.err != nil {
		return nil
	}
	if n > maxString {
		r.err = fmt.Errorf("string of %d bytes", n)
		return nil
	}
	if uint64(cap(r.buf)) < n {
		r.buf = make([]byte, n)
	}
	r.buf = r.buf[:n]
	if _, err := io.ReadFull(r.br, r.buf); err != nil {
		r.fail(err)
		return nil
	}
	return r.buf
}

// String reads a string AppendString wrote.
func (r *Reader) String() string { return string(r.Bytes()) }

// Interned reads a string AppendString wrote, allocated once per distinct
// value: for fields that repeat (states, reasons), not for ids.
func (r *Reader) Interned() string {
	b := r.Bytes()
	s, ok := r.intern[string(b)]
	if !ok {
		s = string(b)
		r.intern[s] = s
	}
	return s
}
