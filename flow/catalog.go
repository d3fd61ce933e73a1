package flow

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
)

// The catalog: every action type, with its options (Spec), its rule (control.go) and its label in a graph. A
// control type is declared in a file of its own (goto.go, branch.go, …) that registers it; the runner types, whose
// options the runner reads and whose rule is to move on when the runner reports, are the rows of runnerTypes
// below. Adding a type means adding its file, or its row.

// The runner types: the actions that the engine hands to the runner. The control types are declared in their
// own files.
const (
	TypeAISummary           Type = "ai_summary"
	TypeAITalk              Type = "ai_talk"
	TypeAITask              Type = "ai_task"
	TypeAMD                 Type = "amd"
	TypeAnswer              Type = "answer"
	TypeBeep                Type = "beep"
	TypeBlock               Type = "block"
	TypeCall                Type = "call"
	TypeCaseCreate          Type = "case_create"
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
	TypeHangup              Type = "hangup"
	TypeMessageSend         Type = "message_send"
	TypeMute                Type = "mute"
	TypePlay                Type = "play"
	TypeQueueJoin           Type = "queue_join"
	TypeRecordingStart      Type = "recording_start"
	TypeRecordingStop       Type = "recording_stop"
	TypeSleep               Type = "sleep"
	TypeStreamEcho          Type = "stream_echo"
	TypeTalk                Type = "talk"
	TypeTranscribeRecording Type = "transcribe_recording"
	TypeTranscribeStart     Type = "transcribe_start"
	TypeTranscribeStop      Type = "transcribe_stop"
)

// actionType is everything flowbin knows of one action type.
type actionType struct {
	Spec
	rule rule
	// label is the detail of the action's label in a graph (render.go), from its options; nil: the type alone.
	label func(o labelOptions) string
}

// labelOptions are an action's options as a label reads them.
type labelOptions map[string]any

// str is an option as text; "" when it is absent or null.
func (o labelOptions) str(key string) string {
	if v, ok := o[key]; ok && v != nil {
		return fmt.Sprint(v)
	}
	return ""
}

// catalog holds the registered types, by type and (for suggest) by name, sorted.
var catalog = struct {
	byType map[Type]*actionType
	names  []string
}{byType: map[Type]*actionType{}}

// register adds action types to the catalog. Each type's file calls it in a package-level declaration
// (var _ = register(…)), so the catalog is complete before any function of the package runs.
func register(types ...actionType) struct{} {
	for i := range types {
		t := &types[i]
		if _, dup := catalog.byType[t.Type]; dup {
			panic(fmt.Sprintf("flow: action type %q registered twice", t.Type))
		}
		catalog.byType[t.Type] = t
		n, _ := slices.BinarySearch(catalog.names, string(t.Type))
		catalog.names = slices.Insert(catalog.names, n, string(t.Type))
	}
	return struct{}{}
}

// Lookup returns the spec of an action type, or false when the type is unknown.
func Lookup(t Type) (*Spec, bool) {
	if a, ok := catalog.byType[t]; ok {
		return &a.Spec, true
	}
	return nil, false
}

// Types lists every action type, sorted.
func Types() []Type {
	ts := make([]Type, len(catalog.names))
	for i, n := range catalog.names {
		ts[i] = Type(n)
	}
	return ts
}

// IsControl reports whether the engine runs actions of type t itself (the others go to the runner).
func IsControl(t Type) bool { return ruleOf(t).control }

// ruleOf answers the rule of an action type: a runner action that moves on to its continuation, unless its type
// says otherwise.
func ruleOf(t Type) rule {
	if a, ok := catalog.byType[t]; ok {
		return a.rule
	}
	return rule{}
}

var (
	dtmfKey    = regexp.MustCompile(`^[0-9A-D#*]?$`)
	dtmfDigits = regexp.MustCompile(`^[0-9A-D#*]{1,100}$`)
)

func onEndFlow() Field { return Field{Name: "on_end_flow_id", Kind: KindID, Ref: RefFlow} }

var _ = register(runnerTypes...)

var runnerTypes = []actionType{
	{Spec: Spec{Type: TypeAISummary, Fields: []Field{
		onEndFlow(),
		{Name: "reference_type", Kind: KindString},
		{Name: "reference_id", Kind: KindID},
		{Name: "language", Kind: KindString},
	}}},
	{Spec: Spec{Type: TypeAITalk, Fields: []Field{
		{Name: "ai_id", Kind: KindID},
		{Name: "resume", Kind: KindBool},
		{Name: "gender", Kind: KindString, Enum: []string{"male", "female", "neutral"}},
		{Name: "language", Kind: KindString},
		intField("duration", 0, 86400),
	}}},
	{Spec: Spec{Type: TypeAITask, Fields: []Field{{Name: "ai_id", Kind: KindID}}}},
	{Spec: Spec{Type: TypeAMD, Fields: []Field{
		{Name: "machine_handle", Kind: KindString, Enum: []string{"hangup", "continue"}},
		{Name: "async", Kind: KindBool},
	}}},
	{Spec: Spec{Type: TypeAnswer}},
	{Spec: Spec{Type: TypeBeep}},
	{Spec: Spec{Type: TypeBlock}},
	{Spec: Spec{Type: TypeCall, Fields: []Field{
		{Name: "source", Kind: KindAddress},
		{Name: "destinations", Kind: KindAddressList, Required: true, MinItems: 1},
		{Name: "flow_id", Kind: KindID, Ref: RefFlow},
		{Name: "actions", Kind: KindActions},
		{Name: "chained", Kind: KindBool},
		{Name: "early_execution", Kind: KindBool},
	}}},
	{Spec: Spec{Type: TypeCaseCreate, Fields: []Field{
		{Name: "name", Kind: KindString},
		{Name: "detail", Kind: KindString},
		{Name: "note", Kind: KindString},
		{Name: "sync", Kind: KindBool},
	}}},
	{Spec: Spec{Type: TypeConfbridgeJoin, Fields: []Field{{Name: "confbridge_id", Kind: KindID}}}},
	{Spec: Spec{Type: TypeConferenceJoin, Fields: []Field{{Name: "conference_id", Kind: KindID, Required: true}}}},
	{Spec: Spec{Type: TypeConnect, Fields: []Field{
		{Name: "source", Kind: KindAddress},
		{Name: "destinations", Kind: KindAddressList, Required: true, MinItems: 1},
		{Name: "early_media", Kind: KindBool},
		{Name: "relay_reason", Kind: KindBool},
	}}},
	{Spec: Spec{Type: TypeConversationSend, Fields: []Field{
		{Name: "conversation_id", Kind: KindID},
		{Name: "text", Kind: KindString},
		{Name: "sync", Kind: KindBool},
	}}},
	{Spec: Spec{Type: TypeDigitsReceive, Fields: []Field{
		intField("duration", 0, 3600000),
		{Name: "key", Kind: KindString, Pattern: dtmfKey},
		intField("length", 0, 100),
	}}, label: func(o labelOptions) string {
		if l := o.str("length"); l != "" {
			return "length " + l
		}
		return ""
	}},
	{Spec: Spec{Type: TypeDigitsSend, Fields: []Field{
		{Name: "digits", Kind: KindString, Required: true, Pattern: dtmfDigits},
		intField("duration", 100, 1000),
		intField("interval", 0, 5000),
	}}},
	{Spec: Spec{Type: TypeEcho, Fields: []Field{intField("duration", 0, 86400000)}}},
	{Spec: Spec{Type: TypeEmailSend, Fields: []Field{
		{Name: "destinations", Kind: KindAddressList, Required: true, MinItems: 1},
		{Name: "subject", Kind: KindString},
		{Name: "content", Kind: KindString},
		{Name: "attachments", Kind: KindObjectList},
	}}},
	{Spec: Spec{Type: TypeExternalMediaStart, Fields: []Field{
		{Name: "external_host", Kind: KindString},
		{Name: "type", Kind: KindString},
		{Name: "encapsulation", Kind: KindString},
		{Name: "transport", Kind: KindString},
		{Name: "connection_type", Kind: KindString},
		{Name: "format", Kind: KindString},
		{Name: "direction_listen", Kind: KindString},
		{Name: "direction_speak", Kind: KindString},
		{Name: "data", Kind: KindString},
	}}},
	{Spec: Spec{Type: TypeExternalMediaStop}},
	{Spec: Spec{Type: TypeHangup, Fields: []Field{
		{Name: "reason", Kind: KindString},
		{Name: "reference_id", Kind: KindID},
	}},
		// The execution ends when the runner reports a hangup done.
		rule:  rule{terminal: true, endReason: EndHangup},
		label: func(o labelOptions) string { return o.str("reason") },
	},
	{Spec: Spec{Type: TypeMessageSend, Fields: []Field{
		{Name: "source", Kind: KindAddress},
		{Name: "destinations", Kind: KindAddressList, Required: true, MinItems: 1},
		{Name: "text", Kind: KindString},
	}}},
	{Spec: Spec{Type: TypeMute}},
	{Spec: Spec{Type: TypePlay, Fields: []Field{
		{Name: "stream_urls", Kind: KindURLList, Required: true, MinItems: 1, OneOf: []string{"stream_url"}},
		{Name: "stream_url", Kind: KindURLList, MinItems: 1, Deprecated: true},
	}}, label: func(o labelOptions) string {
		// The name of the first file.
		urls, _ := o["stream_urls"].([]any)
		if urls == nil {
			urls, _ = o["stream_url"].([]any)
		}
		if len(urls) == 0 {
			return ""
		}
		u := fmt.Sprint(urls[0])
		return u[strings.LastIndex(u, "/")+1:]
	}},
	{Spec: Spec{Type: TypeQueueJoin, Fields: []Field{{Name: "queue_id", Kind: KindID, Required: true}}}},
	{Spec: Spec{Type: TypeRecordingStart, Fields: []Field{
		{Name: "format", Kind: KindString, Enum: []string{"wav", "mp3", "ogg"}},
		intField("end_of_silence", 0, 86400),
		{Name: "end_of_key", Kind: KindString},
		intField("duration", 0, 86400),
		{Name: "beep_start", Kind: KindBool},
		onEndFlow(),
	}}},
	{Spec: Spec{Type: TypeRecordingStop}},
	{Spec: Spec{Type: TypeSleep, Fields: []Field{intField("duration", 0, 86400000)}}},
	{Spec: Spec{Type: TypeStreamEcho, Fields: []Field{intField("duration", 0, 86400000)}}},
	{Spec: Spec{Type: TypeTalk, Fields: []Field{
		{Name: "text", Kind: KindString, Required: true, MinLen: 1},
		{Name: "language", Kind: KindString},
		{Name: "provider", Kind: KindString},
		{Name: "voice_id", Kind: KindString},
		{Name: "digits_handle", Kind: KindString, Enum: []string{"", "next"}},
		{Name: "async", Kind: KindBool},
	}}, label: func(o labelOptions) string { return o.str("text") }},
	{Spec: Spec{Type: TypeTranscribeRecording, Fields: []Field{{Name: "language", Kind: KindString}, onEndFlow()}}},
	{Spec: Spec{Type: TypeTranscribeStart, Fields: []Field{{Name: "language", Kind: KindString}, onEndFlow()}}},
	{Spec: Spec{Type: TypeTranscribeStop}},
}

// maxSuggestDistance: a known type at most this many edits away is suggested.
const maxSuggestDistance = 2

// suggest returns the known type closest to an unknown one, or "" when none is close. Types whose lengths differ
// by more than maxSuggestDistance cannot be close and cost nothing, so a suggestion costs at most the number of
// known types times a few hundred steps whatever t is.
func suggest(t string) Type {
	best, bestDist := Type(""), maxSuggestDistance+1
	for _, n := range catalog.names {
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
