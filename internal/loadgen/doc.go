// Package loadgen drives an open-model HTTP load against one endpoint and
// records every scheduled request.
//
// The model is open: request seq is due at start + seq/rate whatever the
// system under test is doing, the way real customers keep arriving while a
// service is down. A spike multiplies the rate for a window; request seq is
// then due when the integral of the rate since the start reaches seq, so the
// schedule stays absolute through the change of rate. A closed loop (send, wait, send) would slow down with the
// system and hide exactly the outage the testbed exists to measure. Latency is
// taken from the intended send time, not from the moment the request left, so
// a request the pacer sent late (GC pause, slow machine) or that waited for a
// connection carries that delay in its latency; this is the correction for
// coordinated omission that HdrHistogram's author describes. The number of
// concurrent requests is capped by MaxInFlight, and a request that falls due
// while the cap is reached is not sent but recorded as Dropped and counted as
// failed: queueing it would silently turn the open model back into a closed
// one, and skipping it without a record would make an overloaded system look
// healthier than one that answers errors.
//
// Every scheduled request ends as a Record. A short attack keeps them in its
// Result; a long one hands them to a RecordWriter (Config.Records) in Seq
// order as they become final, holding only those in flight and those that
// wait for an earlier answer, and a Tally gathers the statistics from the
// records read back.
package loadgen
