package sip

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path"
	"strings"
	"time"

	"github.com/flowbin/flowbin/flow"
	"github.com/flowbin/flowbin/outbound"
)

// Outcomes of an action, in the flowbin.call.result variable and the actions metric.
const (
	outcomeDone    = "done"
	outcomeSkipped = "skipped"
	outcomeFailed  = "failed"
)

// ResultVariable is the variable in which the runner reports what became of an action it did not simply
// perform: "skipped: <why>" for an action a SIP call cannot run, "failed: <why>" for one that failed (a file
// that could not be fetched, a text that could not be spoken). It is "" after an action that was performed.
const ResultVariable = "flowbin.call.result"

// performers are the actions the runner performs on a call.
var performers = map[flow.Type]func(c *call, opt json.RawMessage) (string, string){
	flow.TypeAnswer:         (*call).doAnswer,
	flow.TypeTalk:           (*call).doTalk,
	flow.TypePlay:           (*call).doPlay,
	flow.TypeBeep:           (*call).doBeep,
	flow.TypeSleep:          (*call).doSleep,
	flow.TypeEcho:           (*call).doEcho,
	flow.TypeStreamEcho:     (*call).doEcho,
	flow.TypeDigitsReceive:  (*call).doDigitsReceive,
	flow.TypeDigitsSend:     (*call).doDigitsSend,
	flow.TypeHangup:         (*call).doHangup,
	flow.TypeRecordingStart: (*call).doRecordingStart,
	flow.TypeRecordingStop:  (*call).doRecordingStop,
	flow.TypeConnect:        (*call).doConnect,
}

// needsMedia are the actions that answer a call that is still ringing, as VoIPbin does.
var needsMedia = map[flow.Type]bool{
	flow.TypeTalk: true, flow.TypePlay: true, flow.TypeBeep: true, flow.TypeEcho: true, flow.TypeStreamEcho: true,
	flow.TypeDigitsReceive: true, flow.TypeDigitsSend: true, flow.TypeRecordingStart: true, flow.TypeConnect: true,
}

// perform runs one action on the call and answers the report.
func (c *call) perform(a *flow.Action) Report {
	rep := Report{Variables: map[string]string{}}
	outcome, why := outcomeDone, ""
	if do, ok := performers[a.Type]; ok {
		if needsMedia[a.Type] && !c.answered.Load() {
			if err := c.answer(); err != nil {
				outcome, why = outcomeFailed, "answer: "+err.Error()
			}
		}
		if outcome == outcomeDone {
			var vars string
			inProgress := c.r.cfg.Metrics.InProgress.WithLabelValues(string(a.Type))
			inProgress.Inc()
			outcome, why, vars = c.callPerformer(do, a)
			inProgress.Dec()
			if vars != "" {
				rep.Variables["voipbin.call.digits"] = vars
			}
		}
	} else {
		outcome, why = outcomeSkipped, skipReason(a.Type)
	}
	label := string(a.Type)
	if _, ok := performers[a.Type]; !ok {
		label = "other"
	}
	c.r.cfg.Metrics.Actions.WithLabelValues(label, outcome).Inc()
	switch outcome {
	case outcomeDone:
		rep.Result = ""
	default:
		rep.Result = outcome + ": " + why
		c.log.Info("action not performed", "type", a.Type, "outcome", outcome, "why", why)
	}
	rep.Variables[ResultVariable] = rep.Result
	c.identity(rep.Variables)
	return rep
}

// callPerformer runs a performer; digits_receive answers its digits in the third value.
func (c *call) callPerformer(do func(*call, json.RawMessage) (string, string), a *flow.Action) (string, string, string) {
	if a.Type == flow.TypeDigitsReceive {
		var o struct {
			Duration int    `json:"duration"`
			Length   int    `json:"length"`
			Key      string `json:"key"`
		}
		_ = json.Unmarshal(a.Option, &o)
		dur := time.Duration(o.Duration) * time.Millisecond
		if dur == 0 && o.Length == 0 && o.Key == "" {
			dur = 5 * time.Second // VoIPbin's digits_receive with nothing set waits a while, not for ever
		}
		return outcomeDone, "", c.waitDigits(dur, o.Length, o.Key)
	}
	o, w := do(c, a.Option)
	return o, w, ""
}

// identity adds the call's voipbin.call.* variables: the addresses and direction once, the status every time.
func (c *call) identity(v map[string]string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	v["voipbin.call.status"] = c.rec.Status
	if c.sentIdentity {
		return
	}
	c.sentIdentity = true
	v["voipbin.call.id"] = c.rec.ID.String()
	v["voipbin.call.direction"] = c.rec.Direction
	for prefix, a := range map[string]Address{"voipbin.call.source.": c.rec.Source, "voipbin.call.destination.": c.rec.Destination} {
		v[prefix+"type"] = a.Type
		v[prefix+"target"] = a.Target
		v[prefix+"target_name"] = a.TargetName
		v[prefix+"name"] = a.Name
	}
}

// skipReason says why an action is not performed on a call.
func skipReason(t flow.Type) string {
	switch t {
	case flow.TypeQueueJoin, flow.TypeConferenceJoin, flow.TypeConfbridgeJoin:
		return string(t) + " needs queues and conferences, which flowbin does not host"
	case flow.TypeAITalk, flow.TypeAITask, flow.TypeAISummary, flow.TypeTranscribeStart, flow.TypeTranscribeStop,
		flow.TypeTranscribeRecording, flow.TypeAMD:
		return string(t) + " needs a speech or AI service, which flowbin does not run"
	case flow.TypeExternalMediaStart, flow.TypeExternalMediaStop:
		return string(t) + " needs a media server, which flowbin does not run"
	default:
		return string(t) + " is not performed on a call by flowbin's SIP runner"
	}
}

func (c *call) doAnswer(json.RawMessage) (string, string) {
	if err := c.answer(); err != nil {
		return outcomeFailed, "answer: " + err.Error()
	}
	return outcomeDone, ""
}

func (c *call) doTalk(opt json.RawMessage) (string, string) {
	var o struct {
		Text         string `json:"text"`
		Language     string `json:"language"`
		VoiceID      string `json:"voice_id"`
		DigitsHandle string `json:"digits_handle"`
	}
	if err := json.Unmarshal(opt, &o); err != nil || strings.TrimSpace(o.Text) == "" {
		return outcomeFailed, "talk has no text"
	}
	sp := c.r.cfg.Speaker
	pcm, err := c.r.audio.get(c.ctx, cacheKey("talk", o.Text, o.Language, o.VoiceID), func(ctx context.Context) ([]int16, error) {
		return sp.Speak(ctx, o.Text, o.Language, o.VoiceID)
	})
	if err != nil {
		if c.gone() {
			return outcomeDone, ""
		}
		return outcomeFailed, err.Error()
	}
	c.playPCM(pcm, o.DigitsHandle == "next")
	return outcomeDone, ""
}

func (c *call) doBeep(json.RawMessage) (string, string) {
	c.playPCM(beepPCM(), false)
	return outcomeDone, ""
}

func (c *call) doSleep(opt json.RawMessage) (string, string) {
	var o struct {
		Duration int `json:"duration"`
	}
	_ = json.Unmarshal(opt, &o)
	c.sleep(time.Duration(o.Duration) * time.Millisecond)
	return outcomeDone, ""
}

// maxEcho bounds an echo without a duration.
const maxEcho = time.Hour

func (c *call) doEcho(opt json.RawMessage) (string, string) {
	var o struct {
		Duration int `json:"duration"`
	}
	_ = json.Unmarshal(opt, &o)
	d := time.Duration(o.Duration) * time.Millisecond
	if d <= 0 {
		d = maxEcho
	}
	c.echo.Store(true)
	defer c.echo.Store(false)
	c.sleep(d)
	return outcomeDone, ""
}

func (c *call) doDigitsReceive(json.RawMessage) (string, string) { return outcomeDone, "" }

func (c *call) doDigitsSend(opt json.RawMessage) (string, string) {
	var o struct {
		Digits   string `json:"digits"`
		Duration int    `json:"duration"`
		Interval int    `json:"interval"`
	}
	_ = json.Unmarshal(opt, &o)
	for _, d := range o.Digits {
		if !strings.ContainsRune(dtmfEvents, d) {
			return outcomeFailed, fmt.Sprintf("%q is not a key", d)
		}
	}
	if o.Duration <= 0 {
		o.Duration = 250
	}
	if o.Interval <= 0 {
		o.Interval = 100
	}
	c.sendDigits(o.Digits, time.Duration(o.Duration)*time.Millisecond, time.Duration(o.Interval)*time.Millisecond)
	return outcomeDone, ""
}

func (c *call) doHangup(json.RawMessage) (string, string) {
	c.terminate(HangupReasonNormal)
	return outcomeDone, ""
}

func (c *call) doRecordingStart(opt json.RawMessage) (string, string) {
	var o struct {
		Duration  int  `json:"duration"`
		BeepStart bool `json:"beep_start"`
	}
	_ = json.Unmarshal(opt, &o)
	if c.r.cfg.RecordingDir == "" {
		return outcomeFailed, "no recording directory is configured"
	}
	if o.BeepStart {
		c.playPCM(beepPCM(), false)
	}
	rec := &Recording{
		ID: newCallID(), CustomerID: c.rec.CustomerID, CallID: c.rec.ID, ActiveflowID: c.rec.ActiveflowID,
		Status: "recording", Format: "wav", TmStart: time.Now().UTC(),
	}
	if err := c.record.start(c.r.cfg.RecordingDir, rec, time.Duration(o.Duration)*time.Second); err != nil {
		return outcomeFailed, "recording: " + err.Error()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	err := c.r.cfg.Ledger.CreateRecording(ctx, rec)
	cancel()
	if err != nil {
		_, _ = c.record.finish()
		_ = os.Remove(rec.Path)
		return outcomeFailed, "recording record: " + err.Error()
	}
	c.update(func(rc *Call) { rc.RecordingIDs = append(rc.RecordingIDs, rec.ID) })
	if o.Duration > 0 {
		c.record.mu.Lock()
		c.record.timer = time.AfterFunc(time.Duration(o.Duration)*time.Second, c.stopRecording)
		c.record.mu.Unlock()
	}
	return outcomeDone, ""
}

func (c *call) doRecordingStop(json.RawMessage) (string, string) {
	c.stopRecording()
	return outcomeDone, ""
}

func (c *call) doPlay(opt json.RawMessage) (string, string) {
	var o struct {
		StreamURLs []string `json:"stream_urls"`
		StreamURL  []string `json:"stream_url"`
	}
	_ = json.Unmarshal(opt, &o)
	urls := append(o.StreamURLs, o.StreamURL...)
	for _, u := range urls {
		if c.gone() {
			break
		}
		pcm, err := c.r.audio.get(c.ctx, cacheKey("play", u), func(ctx context.Context) ([]int16, error) {
			return c.r.fetchAudio(ctx, u)
		})
		if err != nil {
			if c.gone() {
				break
			}
			return outcomeFailed, "play " + u + ": " + err.Error()
		}
		c.playPCM(pcm, false)
	}
	return outcomeDone, ""
}

// fetchAudio fetches a file to play through the guarded outbound client: a WAV file, or raw G.711 (by its
// Content-Type audio/basic, audio/PCMU, audio/PCMA, or its name's extension .ulaw, .pcmu, .alaw, .pcma).
func (r *Runner) fetchAudio(ctx context.Context, u string) ([]int16, error) {
	client := r.cfg.Fetch
	if client == nil {
		client = outbound.New(outbound.Config{Timeout: 10 * time.Second, MaxBodyBytes: int64(r.cfg.MaxPlayBytes)})
		r.cfg.Fetch = client
	}
	res, err := client.Do(ctx, outbound.Request{Method: http.MethodGet, URL: u})
	if err != nil {
		return nil, err
	}
	if res.Status/100 != 2 {
		return nil, fmt.Errorf("answered %d", res.Status)
	}
	if len(res.Body) == 0 {
		return nil, errEmptyAudio
	}
	ct := strings.ToLower(res.Header.Get("Content-Type"))
	ext := strings.ToLower(path.Ext(strings.SplitN(u, "?", 2)[0]))
	switch {
	case strings.HasPrefix(ct, "audio/basic") || strings.HasPrefix(ct, "audio/pcmu") || ext == ".ulaw" || ext == ".pcmu" || ext == ".mulaw":
		pcm := make([]int16, len(res.Body))
		g711Codec{}.decode(pcm, res.Body)
		return pcm, nil
	case strings.HasPrefix(ct, "audio/pcma") || ext == ".alaw" || ext == ".pcma":
		pcm := make([]int16, len(res.Body))
		g711Codec{alaw: true}.decode(pcm, res.Body)
		return pcm, nil
	}
	pcm, err := decodeWAV(res.Body)
	if err != nil {
		return nil, fmt.Errorf("%w (WAV or raw G.711 are played)", err)
	}
	return pcm, nil
}

func jsonUnmarshal(b []byte, v any) error {
	if len(b) == 0 {
		return nil
	}
	return json.Unmarshal(b, v)
}
