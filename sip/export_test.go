package sip

// NewRFC4733ParserForTest answers the runner's RFC 4733 parser, for the diago canary (diago_test.go).
func NewRFC4733ParserForTest() func(payload []byte, ts uint32) (rune, bool) {
	var p rfc4733
	return p.packet
}
