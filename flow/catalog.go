package flow

import (
	"regexp"
	"slices"
	"sort"
	"strings"
)

// Type is an action type, such as "talk" or "goto".
type Type string

// The action types. Their options are described by Catalog.
const (
	TypeAISummary           Type = "ai_summary"
	TypeAITalk              Type = "ai_talk"
	TypeAITask              Type = "ai_task"
	TypeAMD                 Type = "amd"
	TypeAnswer              Type = "answer"
	TypeBeep                Type = "beep"
	TypeBlock               Type = "block"
	TypeBranch              Type = "branch"
	TypeCall                Type = "call"
	TypeCaseCreate          Type = "case_create"
	TypeConditionCallDigits Type = "condition_call_digits"
	TypeConditionCallStatus Type = "condition_call_status"
	TypeConditionDatetime   Type = "condition_datetime"
	TypeConditionVariable   Type = "condition_variable"
	TypeConfbridgeJoin      Type = "confbridge_join"
	TypeConferenceJoin      Type = "conference_join"
	TypeConnect             Type = "connect"
	TypeConversationSend    Type = "conversation_send"
	TypeDigitsReceive       Type = "digits_receive"
	TypeDigitsSend          Type = "digits_send"
	TypeEcho                Type = "echo"
	TypeEmailSend           Type = "email_send"
	TypeExternalMediaStart  Type = "external_media_start"
	TypeExternalMediaStop   Type = "external_media_stop"
	TypeFetch               Type = "fetch"
	TypeFetchFlow           Type = "fetch_flow"
	TypeGoto                Type = "goto"
	TypeHangup              Type = "hangup"
	TypeMessageSend         Type = "message_send"
	TypeMute                Type = "mute"
	TypePlay                Type = "play"
	TypeQueueJoin           Type = "queue_join"
	TypeRecordingStart      Type = "recording_start"
	TypeRecordingStop       Type = "recording_stop"
	TypeSleep               Type = "sleep"
	TypeStop                Type = "stop"
	TypeStreamEcho          Type = "stream_echo"
	TypeTalk                Type = "talk"
	TypeTranscribeRecording Type = "transcribe_recording"
	TypeTranscribeStart     Type = "transcribe_start"
	TypeTranscribeStop      Type = "transcribe_stop"
	TypeVariableSet         Type = "variable_set"
	TypeWebhookSend         Type = "webhook_send"
)

// Kind is the JSON shape of an option field.
type Kind int

// The option field kinds.
const (
	KindString      Kind = iota // a string
	KindID                      // a UUID of something outside the flow, "" for none, or a ${variable}
	KindURL                     // an absolute http(s) URL, or a ${variable}
	KindInt                     // an integer
	KindNumber                  // any number
	KindBool                    // true or false
	KindStringList              // an array of strings
	KindURLList                 // an array of URLs
	KindIntList                 // an array of integers
	KindAddress                 // an Address object
	KindAddressList             // an array of Address objects
	KindObjectList              // an array of objects
	KindTargetMap               // an object mapping values to action references
	KindActions                 // a nested list of actions, validated like a flow's
)

// Ref says what a field refers to, so that it can be checked and rewritten.
type Ref int

// The reference kinds.
const (
	RefNone   Ref = iota
	RefAction     // an action of the same list: its UUID or its label
	RefFlow       // a live flow of the same customer
)

// Field describes one option field of an action type.
type Field struct {
	Name     string
	Kind     Kind
	Required bool
	Ref      Ref
	Enum     []string       // allowed values of a string field
	Pattern  *regexp.Regexp // a string field (or string list items) must match
	MinLen   int            // shortest string
	Min, Max *int64         // range of an integer field (or integer list items)
	MinItems int            // fewest items of a list
	// Deprecated marks a legacy name, accepted and returned verbatim.
	Deprecated bool
	// OneOf names alternatives of a required field: the requirement is met when any of them is set, such as
	// play's legacy stream_url for stream_urls.
	OneOf []string
}

// Spec describes an action type and its options. How it moves an execution on is its rule (control.go).
type Spec struct {
	Type   Type
	Fields []Field
}

// Field returns the named field of the type, or false.
func (s *Spec) Field(name string) (Field, bool) {
	for _, f := range s.Fields {
		if f.Name == name {
			return f, true
		}
	}
	return Field{}, false
}

func rng(lo, hi int64) (*int64, *int64) { return &lo, &hi }

func intField(name string, lo, hi int64) Field {
	mn, mx := rng(lo, hi)
	return Field{Name: name, Kind: KindInt, Min: mn, Max: mx}
}

var (
	dtmfKey    = regexp.MustCompile(`^[0-9A-D#*]?$`)
	dtmfDigits = regexp.MustCompile(`^[0-9A-D#*]{1,100}$`)
	conditions = []string{"==", "!=", ">", ">=", "<", "<="}
)

func falseTarget() Field { return Field{Name: "false_target_id", Kind: KindString, Ref: RefAction} }

func onEndFlow() Field { return Field{Name: "on_end_flow_id", Kind: KindID, Ref: RefFlow} }

var catalog = []Spec{
	{Type: TypeAISummary, Fields: []Field{
		onEndFlow(),
		{Name: "reference_type", Kind: KindString},
		{Name: "reference_id", Kind: KindID},
		{Name: "language", Kind: KindString},
	}},
	{Type: TypeAITalk, Fields: []Field{
		{Name: "ai_id", Kind: KindID},
		{Name: "resume", Kind: KindBool},
		{Name: "gender", Kind: KindString, Enum: []string{"male", "female", "neutral"}},
		{Name: "language", Kind: KindString},
		intField("duration", 0, 86400),
	}},
	{Type: TypeAITask, Fields: []Field{{Name: "ai_id", Kind: KindID}}},
	{Type: TypeAMD, Fields: []Field{
		{Name: "machine_handle", Kind: KindString, Enum: []string{"hangup", "continue"}},
		{Name: "async", Kind: KindBool},
	}},
	{Type: TypeAnswer},
	{Type: TypeBeep},
	{Type: TypeBlock},
	{Type: TypeBranch, Fields: []Field{
		{Name: "variable", Kind: KindString},
		{Name: "default_target_id", Kind: KindString, Ref: RefAction},
		{Name: "target_ids", Kind: KindTargetMap, Ref: RefAction},
	}},
	{Type: TypeCall, Fields: []Field{
		{Name: "source", Kind: KindAddress},
		{Name: "destinations", Kind: KindAddressList, Required: true, MinItems: 1},
		{Name: "flow_id", Kind: KindID, Ref: RefFlow},
		{Name: "actions", Kind: KindActions},
		{Name: "chained", Kind: KindBool},
		{Name: "early_execution", Kind: KindBool},
	}},
	{Type: TypeCaseCreate, Fields: []Field{
		{Name: "name", Kind: KindString},
		{Name: "detail", Kind: KindString},
		{Name: "note", Kind: KindString},
		{Name: "sync", Kind: KindBool},
	}},
	{Type: TypeConditionCallDigits, Fields: []Field{
		intField("length", 0, 100),
		{Name: "key", Kind: KindString, Pattern: dtmfKey},
		falseTarget(),
	}},
	{Type: TypeConditionCallStatus, Fields: []Field{
		{Name: "status", Kind: KindString, Required: true,
			Enum: []string{"dialing", "ringing", "progressing", "terminating", "canceling", "hangup"}},
		falseTarget(),
	}},
	{Type: TypeConditionDatetime, Fields: []Field{
		{Name: "condition", Kind: KindString, Required: true, Enum: conditions},
		intField("minute", -1, 59),
		intField("hour", -1, 23),
		intField("day", -1, 31),
		intField("month", 0, 12),
		func() Field { f := intField("weekdays", 0, 6); f.Kind = KindIntList; return f }(),
		falseTarget(),
	}},
	{Type: TypeConditionVariable, Fields: []Field{
		{Name: "condition", Kind: KindString, Required: true, Enum: conditions},
		{Name: "variable", Kind: KindString, Required: true, MinLen: 1},
		{Name: "value_type", Kind: KindString, Enum: []string{"string", "number", "length"}},
		{Name: "value_string", Kind: KindString},
		{Name: "value_number", Kind: KindNumber},
		func() Field { f := intField("value_length", 0, 0); f.Max = nil; return f }(),
		falseTarget(),
	}},
	{Type: TypeConfbridgeJoin, Fields: []Field{{Name: "confbridge_id", Kind: KindID}}},
	{Type: TypeConferenceJoin, Fields: []Field{{Name: "conference_id", Kind: KindID, Required: true}}},
	{Type: TypeConnect, Fields: []Field{
		{Name: "source", Kind: KindAddress},
		{Name: "destinations", Kind: KindAddressList, Required: true, MinItems: 1},
		{Name: "early_media", Kind: KindBool},
		{Name: "relay_reason", Kind: KindBool},
	}},
	{Type: TypeConversationSend, Fields: []Field{
		{Name: "conversation_id", Kind: KindID},
		{Name: "text", Kind: KindString},
		{Name: "sync", Kind: KindBool},
	}},
	{Type: TypeDigitsReceive, Fields: []Field{
		intField("duration", 0, 3600000),
		{Name: "key", Kind: KindString, Pattern: dtmfKey},
		intField("length", 0, 100),
	}},
	{Type: TypeDigitsSend, Fields: []Field{
		{Name: "digits", Kind: KindString, Required: true, Pattern: dtmfDigits},
		intField("duration", 100, 1000),
		intField("interval", 0, 5000),
	}},
	{Type: TypeEcho, Fields: []Field{intField("duration", 0, 86400000)}},
	{Type: TypeEmailSend, Fields: []Field{
		{Name: "destinations", Kind: KindAddressList, Required: true, MinItems: 1},
		{Name: "subject", Kind: KindString},
		{Name: "content", Kind: KindString},
		{Name: "attachments", Kind: KindObjectList},
	}},
	{Type: TypeExternalMediaStart, Fields: []Field{
		{Name: "external_host", Kind: KindString},
		{Name: "type", Kind: KindString},
		{Name: "encapsulation", Kind: KindString},
		{Name: "transport", Kind: KindString},
		{Name: "connection_type", Kind: KindString},
		{Name: "format", Kind: KindString},
		{Name: "direction_listen", Kind: KindString},
		{Name: "direction_speak", Kind: KindString},
		{Name: "data", Kind: KindString},
	}},
	{Type: TypeExternalMediaStop},
	{Type: TypeFetch, Fields: []Field{
		{Name: "event_url", Kind: KindURL, Required: true},
		{Name: "event_method", Kind: KindString, Enum: []string{"GET", "POST", "PUT", "DELETE"}},
	}},
	{Type: TypeFetchFlow, Fields: []Field{{Name: "flow_id", Kind: KindID, Required: true, Ref: RefFlow}}},
	{Type: TypeGoto, Fields: []Field{
		{Name: "target_id", Kind: KindString, Required: true, Ref: RefAction},
		intField("loop_count", 0, 1000),
	}},
	{Type: TypeHangup, Fields: []Field{
		{Name: "reason", Kind: KindString},
		{Name: "reference_id", Kind: KindID},
	}},
	{Type: TypeMessageSend, Fields: []Field{
		{Name: "source", Kind: KindAddress},
		{Name: "destinations", Kind: KindAddressList, Required: true, MinItems: 1},
		{Name: "text", Kind: KindString},
	}},
	{Type: TypeMute},
	{Type: TypePlay, Fields: []Field{
		{Name: "stream_urls", Kind: KindURLList, Required: true, MinItems: 1, OneOf: []string{"stream_url"}},
		{Name: "stream_url", Kind: KindURLList, MinItems: 1, Deprecated: true},
	}},
	{Type: TypeQueueJoin, Fields: []Field{{Name: "queue_id", Kind: KindID, Required: true}}},
	{Type: TypeRecordingStart, Fields: []Field{
		{Name: "format", Kind: KindString, Enum: []string{"wav", "mp3", "ogg"}},
		intField("end_of_silence", 0, 86400),
		{Name: "end_of_key", Kind: KindString},
		intField("duration", 0, 86400),
		{Name: "beep_start", Kind: KindBool},
		onEndFlow(),
	}},
	{Type: TypeRecordingStop},
	{Type: TypeSleep, Fields: []Field{intField("duration", 0, 86400000)}},
	{Type: TypeStop},
	{Type: TypeStreamEcho, Fields: []Field{intField("duration", 0, 86400000)}},
	{Type: TypeTalk, Fields: []Field{
		{Name: "text", Kind: KindString, Required: true, MinLen: 1},
		{Name: "language", Kind: KindString},
		{Name: "provider", Kind: KindString},
		{Name: "voice_id", Kind: KindString},
		{Name: "digits_handle", Kind: KindString, Enum: []string{"", "next"}},
		{Name: "async", Kind: KindBool},
	}},
	{Type: TypeTranscribeRecording, Fields: []Field{{Name: "language", Kind: KindString}, onEndFlow()}},
	{Type: TypeTranscribeStart, Fields: []Field{{Name: "language", Kind: KindString}, onEndFlow()}},
	{Type: TypeTranscribeStop},
	{Type: TypeVariableSet, Fields: []Field{
		{Name: "key", Kind: KindString, Required: true, MinLen: 1},
		{Name: "value", Kind: KindString},
	}},
	{Type: TypeWebhookSend, Fields: []Field{
		{Name: "sync", Kind: KindBool},
		{Name: "uri", Kind: KindURL, Required: true},
		{Name: "method", Kind: KindString, Enum: []string{"POST", "GET", "PUT", "DELETE"}},
		{Name: "data_type", Kind: KindString},
		{Name: "data", Kind: KindString},
		{Name: "response_variable_prefix", Kind: KindString},
	}},
}

var specByType = func() map[Type]*Spec {
	m := make(map[Type]*Spec, len(catalog))
	for i := range catalog {
		m[catalog[i].Type] = &catalog[i]
	}
	return m
}()

// OptionSchema is the name of the OpenAPI schema that documents the type's options, such as ActionOptionTalk.
func (t Type) OptionSchema() string {
	var b strings.Builder
	b.WriteString("ActionOption")
	for _, part := range strings.Split(string(t), "_") {
		switch part {
		case "ai", "amd":
			b.WriteString(strings.ToUpper(part))
		default:
			b.WriteString(strings.ToUpper(part[:1]) + part[1:])
		}
	}
	return b.String()
}

// Lookup returns the spec of an action type, or false when the type is unknown.
func Lookup(t Type) (*Spec, bool) {
	s, ok := specByType[t]
	return s, ok
}

// Types lists every action type, sorted.
func Types() []Type {
	ts := make([]Type, 0, len(catalog))
	for _, s := range catalog {
		ts = append(ts, s.Type)
	}
	slices.Sort(ts)
	return ts
}

// typeNames are the known types, sorted: the candidates of suggest.
var typeNames = func() []string {
	names := make([]string, 0, len(catalog))
	for _, s := range catalog {
		names = append(names, string(s.Type))
	}
	sort.Strings(names)
	return names
}()

// maxSuggestDistance: a known type at most this many edits away is suggested.
const maxSuggestDistance = 2

// suggest returns the known type closest to an unknown one, or "" when none is close. Types whose lengths differ
// by more than maxSuggestDistance cannot be close and cost nothing, so a suggestion costs at most the number of
// known types times a few hundred steps whatever t is.
func suggest(t string) Type {
	best, bestDist := Type(""), maxSuggestDistance+1
	for _, n := range typeNames {
		if d := len(t) - len(n); d >= bestDist || -d >= bestDist {
			continue
		}
		if d := editDistance(t, n); d < bestDist {
			best, bestDist = Type(n), d
		}
	}
	return best
}

// editDistance is the optimal-string-alignment distance between two short strings: the Levenshtein distance
// where swapping two neighbouring letters ("tlak" for "talk") also counts as one edit.
func editDistance(a, b string) int {
	d := make([][]int, len(a)+1)
	for i := range d {
		d[i] = make([]int, len(b)+1)
		d[i][0] = i
	}
	for j := range d[0] {
		d[0][j] = j
	}
	for i := 1; i <= len(a); i++ {
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			d[i][j] = min(d[i-1][j]+1, d[i][j-1]+1, d[i-1][j-1]+cost)
			if i > 1 && j > 1 && a[i-1] == b[j-2] && a[i-2] == b[j-1] {
				d[i][j] = min(d[i][j], d[i-2][j-2]+1)
			}
		}
	}
	return d[len(a)][len(b)]
}
