package sip

import (
	"bytes"
	"container/list"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"os/exec"
	"strings"
	"sync"
)

// Speaker turns text into speech: 8 kHz mono PCM. It is the pluggable text-to-speech provider of talk.
type Speaker interface {
	Speak(ctx context.Context, text, language, voice string) ([]int16, error)
}

// Espeak speaks with the espeak-ng program (found on PATH unless Path is set).
type Espeak struct {
	Path string
}

// espeakMaxText bounds what one talk may say (VoIPbin bounds talk text too): longer text is refused, not cut.
const espeakMaxText = 8 << 10

// Speak runs espeak-ng and resamples its WAV to 8 kHz.
func (e Espeak) Speak(ctx context.Context, text, language, voice string) ([]int16, error) {
	if len(text) > espeakMaxText {
		return nil, fmt.Errorf("tts: text of %d bytes is over %d", len(text), espeakMaxText)
	}
	path := e.Path
	if path == "" {
		p, err := exec.LookPath("espeak-ng")
		if err != nil {
			return nil, fmt.Errorf("tts: espeak-ng not found on PATH: %w", err)
		}
		path = p
	}
	v := espeakVoice(language, voice)
	// The text goes on standard input, never on the command line: it cannot be read as an option.
	cmd := exec.CommandContext(ctx, path, "-v", v, "--stdout", "--stdin")
	cmd.Stdin = strings.NewReader(text)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("tts: espeak-ng -v %s: %w: %s", v, err, strings.TrimSpace(errb.String()))
	}
	pcm, err := decodeWAV(out.Bytes())
	if err != nil {
		return nil, fmt.Errorf("tts: espeak-ng output: %w", err)
	}
	return pcm, nil
}

// espeakVoice picks espeak-ng's voice: voice_id when given, else the language ("en-US" is "en-us"), else English.
func espeakVoice(language, voice string) string {
	clean := func(s string) string {
		var b strings.Builder
		for _, r := range strings.ToLower(s) {
			if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-' || r == '+' || r == '_' {
				b.WriteRune(r)
			}
		}
		return b.String()
	}
	if v := clean(voice); v != "" {
		return v
	}
	if l := clean(language); l != "" {
		return l
	}
	return "en-us"
}

// audioCache keeps synthesised and fetched audio by key, least recently used first out, bounded in bytes.
type audioCache struct {
	mu    sync.Mutex
	max   int
	size  int
	ll    *list.List
	items map[string]*list.Element
	// in-flight loads, so that a prompt many calls ask for at once is made once
	loads map[string]*load
}

type cacheEntry struct {
	key string
	pcm []int16
}

type load struct {
	done chan struct{}
	pcm  []int16
	err  error
}

func newAudioCache(maxBytes int) *audioCache {
	return &audioCache{max: maxBytes, ll: list.New(), items: map[string]*list.Element{}, loads: map[string]*load{}}
}

func cacheKey(parts ...string) string {
	h := sha256.New()
	for _, p := range parts {
		fmt.Fprintf(h, "%d:%s;", len(p), p)
	}
	return string(h.Sum(nil))
}

// get answers the cached audio of key, or makes it with f once however many calls ask at once.
func (c *audioCache) get(ctx context.Context, key string, f func(context.Context) ([]int16, error)) ([]int16, error) {
	c.mu.Lock()
	if el, ok := c.items[key]; ok {
		c.ll.MoveToFront(el)
		pcm := el.Value.(*cacheEntry).pcm
		c.mu.Unlock()
		return pcm, nil
	}
	if l, ok := c.loads[key]; ok {
		c.mu.Unlock()
		select {
		case <-l.done:
			return l.pcm, l.err
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	l := &load{done: make(chan struct{})}
	c.loads[key] = l
	c.mu.Unlock()

	// The load is not bound to the asking call: a caller hanging up must not fail the others waiting on it.
	l.pcm, l.err = f(context.WithoutCancel(ctx))
	close(l.done)

	c.mu.Lock()
	delete(c.loads, key)
	if l.err == nil {
		c.put(key, l.pcm)
	}
	c.mu.Unlock()
	if ctx.Err() != nil {
		return nil, ctx.Err()
	}
	return l.pcm, l.err
}

func (c *audioCache) put(key string, pcm []int16) {
	sz := 2 * len(pcm)
	if sz > c.max {
		return
	}
	c.items[key] = c.ll.PushFront(&cacheEntry{key: key, pcm: pcm})
	c.size += sz
	for c.size > c.max {
		el := c.ll.Back()
		e := el.Value.(*cacheEntry)
		c.ll.Remove(el)
		delete(c.items, e.key)
		c.size -= 2 * len(e.pcm)
	}
}

var errEmptyAudio = errors.New("no audio")
