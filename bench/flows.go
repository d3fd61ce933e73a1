package main

import (
	"crypto/md5"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"strconv"
	"time"

	"github.com/google/uuid"

	"github.com/flowbin/flowbin/flow"
)

// The seeded data set. Flow n (1…totalFlows) belongs to customer (n-1)%customers, so that every customer's flows
// are spread over the whole table and its indexes, as they are when customers create flows over time. Customer 1
// (index 0) owns n = 1, 5, 9, …: flow k (1…perCustomer) of customer 1 is n = 4k-3, which pgbench computes too.
const (
	totalFlows  = 100_000
	customers   = 4
	perCustomer = totalFlows / customers // 25,000
)

// customerNames are the seeded customers; the first is customer 1, the one every scenario runs as.
var customerNames = [customers]string{"acme", "globex", "initech", "umbrella"}

// seedBase is the tm_create of flow 0: flow n is created n seconds later, so that every flow has its own
// tm_create and lists are well defined (newest = highest n).
var seedBase = time.Date(2025, 1, 6, 9, 0, 0, 0, time.UTC)

func flowTime(n int) time.Time { return seedBase.Add(time.Duration(n) * time.Second) }

// flowID is the id of seeded flow n: md5 of its decimal string, read as a UUID. PostgreSQL computes the same
// value as md5(n::text)::uuid, which is how pgbench addresses the flows.
func flowID(n int) uuid.UUID {
	var id uuid.UUID
	sum := md5.Sum([]byte(strconv.Itoa(n)))
	copy(id[:], sum[:])
	return id
}

// customerFlow is the n of flow k (1…perCustomer) of customer 1.
func customerFlow(k int) int { return customers*k - (customers - 1) }

// customerID is the id of customer c (0-based), derived like flow ids so that reruns are reproducible.
func customerID(c int) uuid.UUID {
	sum := md5.Sum([]byte("bench-customer-" + strconv.Itoa(c)))
	var id uuid.UUID
	copy(id[:], sum[:])
	return id
}

// seedAuthor is the author of the seeded revisions: a user that never logs in.
var seedAuthor = uuid.MustParse("00000000-0000-4000-8000-00000000a000")

// definition is a flow definition as a client writes it (and as the body of POST and PUT).
type definition struct {
	Name    string        `json:"name"`
	Detail  string        `json:"detail"`
	Actions []flow.Action `json:"actions"`
}

// actionsJSON is the actions exactly as flowbin stores them: flow.Action marshalled by encoding/json.
func (d *definition) actionsJSON() []byte {
	b, err := json.Marshal(d.Actions)
	if err != nil {
		panic(err) // options are built from marshalled values: cannot fail
	}
	return b
}

func (d *definition) body() []byte {
	b, err := json.Marshal(d)
	if err != nil {
		panic(err)
	}
	return b
}

var (
	departments = []string{"Sales", "Support", "Billing", "Reception", "After hours", "Returns", "Onboarding"}
	languages   = []string{"en-US", "en-GB", "de-DE", "ko-KR", "ja-JP"}
	talkTexts   = []string{
		"Hello, and thank you for calling. This call may be recorded for quality and training purposes.",
		"For sales, press 1. For support, press 2. For billing, press 3. To hear these options again, press 9.",
		"All of our agents are busy at the moment. Please stay on the line and we will be with you shortly.",
		"Our office is open Monday to Friday from nine in the morning until six in the evening.",
		"Please enter your customer number, followed by the hash key.",
		"We could not recognise your choice. Let us try that again.",
		"Thank you for calling. Goodbye.",
	}
	prompts = []string{"welcome", "menu", "hold-music", "closed", "queue-position", "goodbye", "survey"}
)

// genDefinition builds a realistic IVR of 5 to 20 actions from a seed: answer first, hangup last, and between them
// a mix of talk, play, digits_receive + branch menus, condition_variable, goto loops and webhook_send, with every
// reference pointing at an action of the same flow. The same seed always gives the same definition.
func genDefinition(seed uint64, name string) *definition {
	rng := rand.New(rand.NewPCG(seed, 0x5eed))
	k := 5 + rng.IntN(16)
	ids := make([]uuid.UUID, k)
	for i := range ids {
		ids[i] = randomUUID(rng)
	}
	// forward picks a later action (there is always one: the final hangup), so branches never loop by accident.
	forward := func(i int) string { return ids[i+1+rng.IntN(k-1-i)].String() }
	option := func(v any) json.RawMessage {
		b, err := json.Marshal(v)
		if err != nil {
			panic(err)
		}
		return b
	}

	acts := make([]flow.Action, k)
	acts[0] = flow.Action{ID: ids[0], Type: flow.TypeAnswer}
	acts[k-1] = flow.Action{ID: ids[k-1], Type: flow.TypeHangup}
	for i := 1; i < k-1; i++ {
		a := flow.Action{ID: ids[i]}
		switch r := rng.IntN(100); {
		case r < 30:
			a.Type = flow.TypeTalk
			a.Option = option(map[string]any{"text": talkTexts[rng.IntN(len(talkTexts))],
				"language": languages[rng.IntN(len(languages))]})
			if i+2 < k && rng.IntN(10) == 0 {
				a.NextID = ids[i+2+rng.IntN(k-2-i)] // skip ahead, as flows do after a one-off message
			}
		case r < 45:
			a.Type = flow.TypePlay
			urls := []string{"https://media.example.com/prompts/" + prompts[rng.IntN(len(prompts))] + ".wav"}
			if rng.IntN(3) == 0 {
				urls = append(urls, "https://media.example.com/prompts/"+prompts[rng.IntN(len(prompts))]+".wav")
			}
			a.Option = option(map[string]any{"stream_urls": urls})
		case r < 65 && i+2 < k:
			// A menu: collect a digit, then branch on it (two actions).
			a.Type = flow.TypeDigitsReceive
			a.Option = option(map[string]any{"duration": 5000, "key": "#", "length": 1})
			acts[i] = a
			i++
			a = flow.Action{ID: ids[i], Type: flow.TypeBranch}
			a.Option = option(map[string]any{
				"variable":          "voipbin.call.digits",
				"default_target_id": forward(i),
				// Option 1 continues with the next action; the others jump ahead.
				"target_ids": map[string]string{"1": ids[i+1].String(), "2": forward(i), "3": forward(i)},
			})
		case r < 75:
			a.Type = flow.TypeConditionVariable
			a.Option = option(map[string]any{"condition": "==", "variable": "customer.tier",
				"value_type": "string", "value_string": "gold", "false_target_id": forward(i)})
		case r < 85 && i >= 2:
			a.Type = flow.TypeGoto // a retry loop back to an earlier action
			a.Option = option(map[string]any{"target_id": ids[1+rng.IntN(i-1)].String(), "loop_count": 1 + rng.IntN(3)})
		default:
			a.Type = flow.TypeWebhookSend
			a.Option = option(map[string]any{"sync": false, "uri": "https://hooks.example.com/flowbin/events",
				"method": "POST", "data_type": "application/json",
				"data": `{"event":"ivr.step","step":` + strconv.Itoa(i) + `}`})
		}
		acts[i] = a
	}
	return &definition{
		Name:    name,
		Detail:  "IVR for " + departments[rng.IntN(len(departments))] + ", generated by bench",
		Actions: acts,
	}
}

// seededDefinition is seeded flow n.
func seededDefinition(n int) *definition {
	return genDefinition(uint64(n), fmt.Sprintf("%s line %d", departments[n%len(departments)], n))
}

func randomUUID(rng *rand.Rand) uuid.UUID {
	var id uuid.UUID
	hi, lo := rng.Uint64(), rng.Uint64()
	for i := range 8 {
		id[i], id[8+i] = byte(hi>>(8*i)), byte(lo>>(8*i))
	}
	id[6] = id[6]&0x0f | 0x40 // version 4
	id[8] = id[8]&0x3f | 0x80 // RFC 4122 variant
	return id
}

// randomHex is a short random name for the benchmark's database and temporary files.
func randomHex() string {
	var b [4]byte
	for i := range b {
		b[i] = byte(rand.IntN(256))
	}
	return hex.EncodeToString(b[:])
}
