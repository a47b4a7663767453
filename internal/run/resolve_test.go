package run

import "testing"

func TestPeerFilter(t *testing.T) {
	tests := []struct {
		peers []string
		end   string
		want  bool
	}{
		{[]string{"broker"}, "broker-2", true},
		{[]string{"broker"}, "psp", false},
		{[]string{"psp"}, "psp", true},
		{[]string{"broker-2"}, "broker-2", true},
		{[]string{"broker-2"}, "broker-1", false},
		{[]string{"broker-1", "psp"}, "psp", true},
		{nil, "broker-1", false},
	}
	for _, tt := range tests {
		if got := peerFilter(tt.peers, nil)(tt.end); got != tt.want {
			t.Errorf("peers %v, end %s: %v, want %v", tt.peers, tt.end, got, tt.want)
		}
	}
	// monolith-ha's database counts as a broker-like peer.
	if !peerFilter([]string{"broker"}, []string{"postgres"})("postgres") {
		t.Error("a broker-like end is not matched by peer broker")
	}
}
