package loadgen

import (
	"encoding/binary"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/edatestbed/testbed/internal/spool"
)

// RecordWriter takes the records of an attack as they become final, for an
// attack too long to keep them all in memory (Config.Records).
type RecordWriter interface {
	// WriteRecord gets each record once, in Seq order; rec is only valid
	// during the call.
	WriteRecord(rec *Record) error
}

// sequencer hands final records on in Seq order. Records become final out
// of order (a slow answer holds back the quick ones scheduled after it), so
// one that is final early waits in a ring, indexed by Seq, until every
// earlier one is final too. The ring holds only the records between the
// oldest unanswered request and the newest final one, so its size follows
// how far answers spread in time, at most about rate × timeout, not how
// long the attack runs.
type sequencer struct {
	mu   sync.Mutex
	next uint64   // Seq of the first record not handed on yet
	ring []Record // length a power of two; Seq s sits at s&(len-1), Kind 0 marks a free slot
	cur  Record   // the record being handed on when it did not wait in ring
	emit func(*Record) error
	err  error // the first error of emit, after which it is not called again
}

func newSequencer(emit func(*Record) error) *sequencer {
	return &sequencer{ring: make([]Record, 64), emit: emit}
}

// done takes a final record. Each Seq must come exactly once. The record
// comes by value, and emit gets a field of the sequencer, so that no
// request's record escapes to the heap on its way.
func (s *sequencer) done(rec Record) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if rec.Seq != s.next {
		s.hold(rec)
		return
	}
	s.cur = rec
	s.pass(&s.cur)
	mask := uint64(len(s.ring) - 1)
	for {
		slot := &s.ring[s.next&mask]
		if slot.Kind == 0 {
			return
		}
		s.pass(slot)
		*slot = Record{}
	}
}

// pass hands rec on. Called with mu held.
func (s *sequencer) pass(rec *Record) {
	s.next++
	if s.err == nil {
		s.err = s.emit(rec)
	}
}

// hold keeps rec until the records before it are final, growing the ring
// when rec lies beyond it. Called with mu held.
func (s *sequencer) hold(rec Record) {
	if d := rec.Seq - s.next; d >= uint64(len(s.ring)) {
		n := 2 * len(s.ring)
		for uint64(n) <= d {
			n *= 2
		}
		ring := make([]Record, n)
		for i := range s.ring {
			if r := &s.ring[i]; r.Kind != 0 {
				ring[r.Seq&uint64(n-1)] = *r
			}
		}
		s.ring = ring
	}
	s.ring[rec.Seq&uint64(len(s.ring)-1)] = rec
}

// AppendRecord appends the compact binary form of rec to b (the spool
// format: varints and length-prefixed strings), some 30 bytes for an
// order. ReadRecords reads it back.
func AppendRecord(b []byte, rec *Record) []byte {
	b = binary.AppendUvarint(b, rec.Seq)
	b = spool.AppendString(b, rec.ID)
	b = spool.AppendString(b, rec.Terminal)
	b = binary.AppendVarint(b, int64(rec.Intended))
	b = binary.AppendVarint(b, int64(rec.Latency))
	b = binary.AppendVarint(b, int64(rec.Status))
	var warmup byte
	if rec.Warmup {
		warmup = 1
	}
	return append(b, byte(rec.Kind), warmup)
}

// ReadRecords reads the records that AppendRecord wrote to r, in order, and
// calls fn for each; rec is only valid during the call. It stops at the
// first error of fn and returns it; a record cut short is an error.
func ReadRecords(r io.Reader, fn func(rec *Record) error) error {
	sr := spool.NewReader(r)
	var rec Record
	for n := 0; sr.More(); n++ {
		// Fields are read left to right, as AppendRecord wrote them.
		rec = Record{
			Seq: sr.Uvarint(), ID: sr.String(), Terminal: sr.Interned(),
			Intended: time.Duration(sr.Varint()), Latency: time.Duration(sr.Varint()), Status: int(sr.Varint()),
			Kind: Kind(sr.Byte()), Warmup: sr.Byte() == 1,
		}
		if err := sr.Err(); err != nil {
			return fmt.Errorf("read record %d: %w", n, err)
		}
		if err := fn(&rec); err != nil {
			return err
		}
	}
	if err := sr.Err(); err != nil {
		return fmt.Errorf("read records: %w", err)
	}
	return nil
}
