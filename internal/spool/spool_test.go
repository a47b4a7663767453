package spool

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"strings"
	"testing"
)

// Records of every field kind read back as written, and the input's end
// between records is a clean end.
func TestRoundTrip(t *testing.T) {
	type rec struct {
		n     uint64
		id    string
		state string
		d     int64
		b     byte
	}
	in := []rec{{0, "o-1", "shipped", -5, 1}, {1 << 40, "", "cancelled", 1 << 50, 0}, {7, strings.Repeat("x", 300), "shipped", 0, 255}}
	var b []byte
	for _, r := range in {
		b = binary.AppendUvarint(b, r.n)
		b = AppendString(b, r.id)
		b = AppendString(b, r.state)
		b = binary.AppendVarint(b, r.d)
		b = append(b, r.b)
	}
	sr := NewReader(bytes.NewReader(b))
	var out []rec
	for sr.More() {
		out = append(out, rec{sr.Uvarint(), sr.String(), sr.Interned(), sr.Varint(), sr.Byte()})
	}
	if err := sr.Err(); err != nil {
		t.Fatal(err)
	}
	if len(out) != len(in) {
		t.Fatalf("read %d records, want %d", len(out), len(in))
	}
	for i := range in {
		if out[i] != in[i] {
			t.Errorf("record %d = %+v, want %+v", i, out[i], in[i])
		}
	}
}

// A record cut short anywhere is io.ErrUnexpectedEOF, a corrupt length an
// error, never a silent end.
func TestCutShort(t *testing.T) {
	whole := AppendString(binary.AppendUvarint(nil, 300), "order")
	for cut := 1; cut < len(whole); cut++ {
		sr := NewReader(bytes.NewReader(whole[:cut]))
		if !sr.More() {
			t.Fatalf("cut at %d: no record", cut)
		}
		sr.Uvarint()
		_ = sr.String()
		if err := sr.Err(); !errors.Is(err, io.ErrUnexpectedEOF) {
			t.Errorf("cut at %d: err = %v, want unexpected EOF", cut, err)
		}
	}
	sr := NewReader(bytes.NewReader(binary.AppendUvarint(nil, maxString+1)))
	if _ = sr.String(); sr.Err() == nil {
		t.Error("a string longer than the bound was read")
	}
}
