package sip

// NewRFC4733ParserForTest answers the runner's RFC 4733 parser, for the diago canary (diago_test.go).
func NewRFC4733ParserForTest() func(payload []byte, ts uint32) (rune, bool) {
	var p rfc4733
	return p.packet
}

// LoseForTest makes the runner lost as a crashed instance is to the others: it stops renewing the leases of its
// calls and ends nothing (no drain, no hangup, no record written).
func LoseForTest(r *Runner) { r.stopLeases() }
