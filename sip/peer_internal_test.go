package sip

import (
	"net"
	"testing"
)

// TestPeerAddrMatches: the source check of every RTP packet, in each form an address takes.
func TestPeerAddrMatches(t *testing.T) {
	v4 := newPeerAddr(net.UDPAddr{IP: net.ParseIP("192.0.2.10"), Port: 4000}) // 16-byte form, as parsed
	anyPeer := newPeerAddr(net.UDPAddr{IP: net.IPv4zero, Port: 4000})
	v6 := newPeerAddr(net.UDPAddr{IP: net.ParseIP("2001:db8::1"), Port: 4000})
	cases := []struct {
		name string
		peer peerAddr
		from net.UDPAddr
		want bool
	}{
		{"v4, 4-byte source", v4, net.UDPAddr{IP: net.IPv4(192, 0, 2, 10).To4(), Port: 4000}, true},
		{"v4, 16-byte source", v4, net.UDPAddr{IP: net.IPv4(192, 0, 2, 10), Port: 4000}, true},
		{"v4, another address", v4, net.UDPAddr{IP: net.IPv4(192, 0, 2, 11), Port: 4000}, false},
		{"v4, another port", v4, net.UDPAddr{IP: net.IPv4(192, 0, 2, 10), Port: 4001}, false},
		{"v4, a v6 source", v4, net.UDPAddr{IP: net.ParseIP("2001:db8::1"), Port: 4000}, false},
		{"0.0.0.0, any address on the port", anyPeer, net.UDPAddr{IP: net.IPv4(198, 51, 100, 7), Port: 4000}, true},
		{"0.0.0.0, another port", anyPeer, net.UDPAddr{IP: net.IPv4(198, 51, 100, 7), Port: 4002}, false},
		{"v6", v6, net.UDPAddr{IP: net.ParseIP("2001:db8::1"), Port: 4000}, true},
		{"v6, another address", v6, net.UDPAddr{IP: net.ParseIP("2001:db8::2"), Port: 4000}, false},
	}
	for _, tc := range cases {
		if got := tc.peer.matches(&tc.from); got != tc.want {
			t.Errorf("%s: got %v, want %v", tc.name, got, tc.want)
		}
	}
}

// BenchmarkReadPathChecks: what the runner adds to each inbound packet before it is echoed, bridged or recorded:
// the source check and the recording's state. It allocates nothing.
func BenchmarkReadPathChecks(b *testing.B) {
	peer := newPeerAddr(net.UDPAddr{IP: net.ParseIP("192.0.2.10"), Port: 4000})
	from := &net.UDPAddr{IP: net.IPv4(192, 0, 2, 10), Port: 4000}
	var rec recorder
	b.ReportAllocs()
	for b.Loop() {
		if !peer.matches(from) || rec.active() {
			b.Fatal("wrong")
		}
	}
}
