package loadgen

import (
	"bytes"
	"errors"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"reflect"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
)

// bufWriter is a RecordWriter that encodes records into a buffer, as the
// testbed's run writes them to a file.
type bufWriter struct {
	mu   sync.Mutex // only for the test's reads; Run calls one at a time
	buf  bytes.Buffer
	enc  []byte
	n    int
	fail int // the record whose write fails, counting from 1; 0 for none
}

func (s *bufWriter) WriteRecord(rec *Record) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.n++
	if s.n == s.fail {
		return errors.New("disk full")
	}
	s.enc = AppendRecord(s.enc[:0], rec)
	s.buf.Write(s.enc)
	return nil
}

func readAll(t *testing.T, r io.Reader) []Record {
	t.Helper()
	var out []Record
	if err := ReadRecords(r, func(rec *Record) error {
		out = append(out, *rec)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return out
}

// An attack with Config.Records hands every record over, once and in Seq
// order, although answers come back out of order, and keeps none: the
// Result holds no records, and what waits for an earlier answer is the
// spread of answer times, not the attack.
func TestRunStreamsRecords(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// Answers overtake each other by up to 5 ms.
		time.Sleep(time.Duration(rand.IntN(5000)) * time.Microsecond)
		w.WriteHeader(http.StatusAccepted)
	}))
	defer srv.Close()
	sp := &bufWriter{}
	// MaxInFlight covers every request, so that a stall of this machine
	// cannot turn a request into a drop, nor a timeout into a failure.
	// 1000/s for 1.1 s, three times that for 0.1 s: 1300 requests.
	a, err := New(Config{URL: srv.URL, Rate: 1000, Warmup: 100 * time.Millisecond, Duration: time.Second, Timeout: time.Minute,
		MaxInFlight: 1300, Next: orderRequest, Records: sp, Spikes: []Spike{{From: 200 * time.Millisecond, To: 300 * time.Millisecond, Factor: 3}}})
	if err != nil {
		t.Fatal(err)
	}
	res, err := a.Run(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if res.Records != nil {
		t.Fatalf("Result holds %d records, want none: they went to Config.Records", len(res.Records))
	}
	recs := readAll(t, &sp.buf)
	if len(recs) != 1300 {
		t.Fatalf("wrote %d records, want 1300", len(recs))
	}
	for i, rec := range recs {
		if rec.Seq != uint64(i) || rec.ID != orderRequest(rec.Seq).ID || rec.Kind != Accepted || rec.Warmup != (i < 100) || rec.Intended != a.Intended(rec.Seq) {
			t.Fatalf("record %d = %+v, want request %d accepted at %v, in order", i, rec, i, a.Intended(uint64(i)))
		}
	}
	// The statistics of the records read back are those of the same
	// records kept in memory.
	kept := *res
	kept.Records = recs
	tally := res.Tally(nil, 0)
	for i := range recs {
		tally.Add(&recs[i])
	}
	if !reflect.DeepEqual(tally.Seconds(), kept.Seconds()) || tally.AcceptLatency().TotalCount() != 1200 {
		t.Errorf("tally of the spool: %v and %d latencies; want %v and 1200", tally.Seconds(), tally.AcceptLatency().TotalCount(), kept.Seconds())
	}
}

// A failing RecordWriter is not called again, the attack goes on, and Run
// returns the error.
func TestRunRecordsError(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	defer srv.Close()
	sp := &bufWriter{fail: 3}
	a, err := New(Config{URL: srv.URL, Rate: 100, Duration: 100 * time.Millisecond, Timeout: 10 * time.Second, MaxInFlight: 10, Next: orderRequest, Records: sp})
	if err != nil {
		t.Fatal(err)
	}
	res, err := a.Run(t.Context())
	if err == nil || !strings.Contains(err.Error(), "write records: disk full") {
		t.Fatalf("Run = %v, want the write error", err)
	}
	if res == nil || res.Duration != 100*time.Millisecond || sp.n != 3 {
		t.Fatalf("result %+v after %d writes; want the whole attack measured and no write after the failed third", res, sp.n)
	}
	if s := a.Snapshot(); s.Accepted != 10 {
		t.Errorf("accepted %d, want all 10 sent", s.Accepted)
	}
}

// The sequencer passes records on in Seq order whatever order they become
// final in, and its ring grows with how late a record is, not with how
// many there are.
func TestSequencer(t *testing.T) {
	const n = 100_000
	tests := []struct {
		name string
		late int // a record becomes final at most this many places late
		ring int // the most slots the ring may have
	}{
		{"in order", 0, 64},
		{"within the first ring", 50, 64},
		{"late by 1000", 1000, 2048},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []uint64
			s := newSequencer(func(rec *Record) error {
				got = append(got, rec.Seq)
				return nil
			})
			// Blocks of late+1 records, each block backwards: the first
			// record of a block becomes final last.
			for from := 0; from < n; from += tt.late + 1 {
				for i := min(from+tt.late, n-1); i >= from; i-- {
					s.done(Record{Seq: uint64(i), ID: "o", Kind: Accepted})
				}
			}
			if len(got) != n {
				t.Fatalf("passed %d records on, want %d", len(got), n)
			}
			for i, seq := range got {
				if seq != uint64(i) {
					t.Fatalf("record %d passed on as %dth, want in Seq order", seq, i)
				}
			}
			if len(s.ring) > tt.ring {
				t.Errorf("ring of %d slots for records at most %d late, want at most %d", len(s.ring), tt.late, tt.ring)
			}
			for i := range s.ring {
				if s.ring[i] != (Record{}) {
					t.Fatalf("slot %d still holds %+v after every record passed", i, s.ring[i])
				}
			}
		})
	}
}

func TestRecordEncoding(t *testing.T) {
	recs := []Record{
		{},
		{Seq: 1, ID: "o-00000001", Intended: -time.Second, Latency: 1234567 * time.Nanosecond, Status: 202, Kind: Accepted, Warmup: true},
		{Seq: 1 << 40, ID: "ü,\"x\"\n", Terminal: "shipped", Intended: 90 * time.Minute, Latency: time.Nanosecond, Status: 200, Kind: Accepted},
		{Seq: 3, ID: "o-3", Terminal: "shipped", Kind: Timeout},
		{Seq: 4, Kind: Dropped, Latency: -time.Millisecond},
	}
	var b []byte
	for i := range recs {
		b = AppendRecord(b, &recs[i])
	}
	if got := readAll(t, bytes.NewReader(b)); !reflect.DeepEqual(got, recs) {
		t.Fatalf("read back %+v, want %+v", got, recs)
	}
	if got := readAll(t, bytes.NewReader(nil)); len(got) != 0 {
		t.Fatalf("read %d records from nothing", len(got))
	}
	for cut := 1; cut < len(b); cut += 7 {
		err := ReadRecords(bytes.NewReader(b[:len(b)-cut]), func(*Record) error { return nil })
		if !errors.Is(err, io.ErrUnexpectedEOF) {
			t.Fatalf("records cut %d bytes short: %v, want unexpected EOF", cut, err)
		}
	}
	stop := errors.New("stop")
	if err := ReadRecords(bytes.NewReader(b), func(*Record) error { return stop }); err != stop {
		t.Fatalf("ReadRecords = %v, want fn's error", err)
	}
}

// BenchmarkRunRecords runs an attack of b.N requests whose records go to
// Config.Records and reports the heap still live at its end per request:
// near zero however large b.N, where keeping Result.Records costs some
// 90 bytes a request.
func BenchmarkRunRecords(b *testing.B) {
	srv := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	defer srv.Close()
	for _, stream := range []bool{false, true} {
		name := "records=memory"
		if stream {
			name = "records=stream"
		}
		b.Run(name, func(b *testing.B) {
			const rate = 5000
			cfg := Config{URL: srv.URL, Rate: rate, Duration: time.Duration(float64(b.N) / rate * 1e9), Timeout: 10 * time.Second, MaxInFlight: 100, Next: orderRequest}
			var n int
			if stream {
				cfg.Records = writerFunc(func(*Record) error { n++; return nil })
			}
			a, err := New(cfg)
			if err != nil {
				b.Fatal(err)
			}
			before := heapInUse()
			b.ResetTimer()
			res, err := a.Run(b.Context())
			b.StopTimer()
			if err != nil {
				b.Fatal(err)
			}
			n += len(res.Records)
			// The server's side of the connections is not the attack's.
			srv.CloseClientConnections()
			b.ReportMetric(float64(heapInUse()-before)/float64(n), "heap-B/req")
			runtime.KeepAlive(res)
		})
	}
}

type writerFunc func(*Record) error

func (f writerFunc) WriteRecord(rec *Record) error { return f(rec) }

func heapInUse() int64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return int64(m.HeapAlloc)
}
