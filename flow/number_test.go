package flow

import (
	"strings"
	"testing"
)

// TestNumberRange: numbers a double holds pass, the rest is a problem at the number's place.
func TestNumberRange(t *testing.T) {
	for _, ok := range []string{"0", "-0", "0.0", "0e-999999", "1e308", "-1.7976931348623157e308", "5e-324", "1.5", "-12",
		"0." + strings.Repeat("0", 90) + "1"} {
		if msg := numberProblem(ok); msg != "" {
			t.Errorf("%s: %s", ok, msg)
		}
	}
	for _, bad := range []string{"1e309", "-1e999999", "1e-999999", "2e-324", strings.Repeat("1", MaxNumberLength+1)} {
		if numberProblem(bad) == "" {
			t.Errorf("%.20s passed", bad)
		}
	}
	_, rep := Parse([]byte(`{"name":"x","actions":[{"type":"talk","option":{"text":"hi","n":[1,1e999]}}]}`), Limits{})
	if len(rep.Errors) != 1 || rep.Errors[0].Pointer != "/actions/0/option/n/1" || rep.Errors[0].Reason != ReasonInvalidNumber {
		t.Errorf("got %+v", rep.Errors)
	}
}
