package sip

import (
	"bufio"
	"context"
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"
)

// recorder writes the caller's audio, as heard by the runner, into a WAV file (8 kHz, 16-bit, mono). diago's
// recording API is experimental (v0.42.1), so the runner writes the samples its own reader already decodes.
type recorder struct {
	on    atomic.Bool // a file is open: read on every packet without the lock
	mu    sync.Mutex
	f     *os.File
	w     *bufio.Writer // batches the samples into the file: one write every 16 KiB, not one a packet
	buf   []byte        // the samples of a packet, encoded; reused
	bytes int
	max   int // bytes of samples at most (the duration option); 0 is no bound
	rec   *Recording
	timer *time.Timer
}

func (r *recorder) active() bool { return r.on.Load() }

// start opens the file and writes a header that finish completes.
func (r *recorder) start(dir string, rec *Recording, maxDur time.Duration) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.f != nil {
		return fmt.Errorf("a recording is already in progress")
	}
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return err
	}
	path := filepath.Join(dir, rec.ID.String()+".wav")
	f, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o640)
	if err != nil {
		return err
	}
	var h [44]byte
	wavHeader(h[:], 0)
	if _, err := f.Write(h[:]); err != nil {
		f.Close()
		os.Remove(path)
		return err
	}
	rec.Path = path
	r.f, r.bytes, r.rec = f, 0, rec
	r.w = bufio.NewWriterSize(f, 16<<10)
	r.on.Store(true)
	r.max = int(maxDur/time.Millisecond) * sampleRate / 1000 * 2
	return nil
}

func (r *recorder) write(pcm []int16) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.f == nil {
		return
	}
	if r.max > 0 && r.bytes+2*len(pcm) > r.max {
		pcm = pcm[:max(0, (r.max-r.bytes)/2)]
	}
	if cap(r.buf) < 2*len(pcm) {
		r.buf = make([]byte, 2*len(pcm))
	}
	b := r.buf[:2*len(pcm)]
	for i, s := range pcm {
		binary.LittleEndian.PutUint16(b[2*i:], uint16(s))
	}
	if n, err := r.w.Write(b); err == nil {
		r.bytes += n
	}
}

// finish completes the header, closes the file and answers the recording (nil when none was in progress).
func (r *recorder) finish() (*Recording, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.f == nil {
		return nil, nil
	}
	r.on.Store(false)
	err := r.w.Flush()
	var h [44]byte
	wavHeader(h[:], r.bytes)
	if _, werr := r.f.WriteAt(h[:], 0); err == nil {
		err = werr
	}
	if cerr := r.f.Close(); err == nil {
		err = cerr
	}
	rec := r.rec
	r.f, r.w, r.rec = nil, nil, nil
	if r.timer != nil {
		r.timer.Stop()
		r.timer = nil
	}
	return rec, err
}

// stopRecording finishes the call's recording, if any, and records its end.
func (c *call) stopRecording() {
	rec, err := c.record.finish()
	if rec == nil {
		return
	}
	if err != nil {
		c.log.Error("finish recording file", "recording_id", rec.ID, "err", err)
	}
	rec.Status = "ended"
	rec.TmEnd = time.Now().UTC()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := c.r.cfg.Ledger.FinishRecording(ctx, rec); err != nil {
		c.log.Error("finish recording record", "recording_id", rec.ID, "err", err)
	}
}
