package sip

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/zaf/g711"
)

// Audio inside the runner is 8 kHz signed 16-bit mono PCM ([]int16), the rate of G.711; it is encoded to the
// call's codec (PCMU or PCMA) 20 ms (160 samples) at a time.
const (
	sampleRate   = 8000
	frameSamples = 160
)

var errNotWAV = errors.New("not a WAV file")

// decodeWAV reads a RIFF/WAVE file of PCM (8 or 16 bits), μ-law or A-law, any rate and channel count, into 8 kHz
// mono PCM.
func decodeWAV(b []byte) ([]int16, error) {
	if len(b) < 12 || string(b[0:4]) != "RIFF" || string(b[8:12]) != "WAVE" {
		return nil, errNotWAV
	}
	var (
		format, channels, bits uint16
		rate                   uint32
		haveFmt                bool
	)
	for p := 12; p+8 <= len(b); {
		id, size := string(b[p:p+4]), int(binary.LittleEndian.Uint32(b[p+4:p+8]))
		body := b[p+8:]
		if size < 0 || size > len(body) {
			size = len(body) // a streamed file declares 0 or 0xffffffff: the rest is the chunk
		}
		body = body[:size]
		switch id {
		case "fmt ":
			if size < 16 {
				return nil, fmt.Errorf("wav: short fmt chunk")
			}
			format = binary.LittleEndian.Uint16(body[0:])
			channels = binary.LittleEndian.Uint16(body[2:])
			rate = binary.LittleEndian.Uint32(body[4:])
			bits = binary.LittleEndian.Uint16(body[14:])
			if format == 0xFFFE && size >= 26 { // WAVE_FORMAT_EXTENSIBLE: the sub-format's first two bytes
				format = binary.LittleEndian.Uint16(body[24:])
			}
			haveFmt = true
		case "data":
			if !haveFmt {
				return nil, fmt.Errorf("wav: data before fmt")
			}
			if channels == 0 || rate == 0 {
				return nil, fmt.Errorf("wav: no channels or rate")
			}
			pcm, err := wavSamples(body, format, bits, int(channels))
			if err != nil {
				return nil, err
			}
			return resample(pcm, int(rate)), nil
		}
		p += 8 + size + size%2
	}
	return nil, fmt.Errorf("wav: no data chunk")
}

// wavSamples decodes a data chunk to mono 16-bit samples (channels are averaged).
func wavSamples(b []byte, format, bits uint16, channels int) ([]int16, error) {
	var mono []int16
	switch {
	case format == 1 && bits == 16:
		n := len(b) / 2 / channels
		mono = make([]int16, n)
		for i := range n {
			sum := 0
			for c := range channels {
				sum += int(int16(binary.LittleEndian.Uint16(b[(i*channels+c)*2:])))
			}
			mono[i] = int16(sum / channels)
		}
	case format == 1 && bits == 8:
		n := len(b) / channels
		mono = make([]int16, n)
		for i := range n {
			sum := 0
			for c := range channels {
				sum += (int(b[i*channels+c]) - 128) << 8
			}
			mono[i] = int16(sum / channels)
		}
	case format == 7 || format == 6: // μ-law, A-law
		n := len(b) / channels
		mono = make([]int16, n)
		for i := range n {
			sum := 0
			for c := range channels {
				if format == 7 {
					sum += int(g711.DecodeUlawFrame(b[i*channels+c]))
				} else {
					sum += int(g711.DecodeAlawFrame(b[i*channels+c]))
				}
			}
			mono[i] = int16(sum / channels)
		}
	default:
		return nil, fmt.Errorf("wav: format %d with %d bits is not supported (PCM 8/16 bits, μ-law, A-law are)", format, bits)
	}
	return mono, nil
}

// resample converts mono PCM at rate to 8 kHz: each output sample averages the input samples of its period (a box
// low-pass, enough for speech at telephone bandwidth) or, going up, interpolates linearly.
func resample(in []int16, rate int) []int16 {
	if rate == sampleRate || len(in) == 0 {
		return in
	}
	n := int(int64(len(in)) * sampleRate / int64(rate))
	out := make([]int16, n)
	if rate > sampleRate {
		for i := range n {
			lo := int(int64(i) * int64(rate) / sampleRate)
			hi := int(int64(i+1) * int64(rate) / sampleRate)
			if hi > len(in) {
				hi = len(in)
			}
			if hi <= lo {
				hi = lo + 1
			}
			sum := 0
			for _, s := range in[lo:hi] {
				sum += int(s)
			}
			out[i] = int16(sum / (hi - lo))
		}
		return out
	}
	for i := range n {
		pos := float64(i) * float64(rate) / sampleRate
		j := int(pos)
		f := pos - float64(j)
		a := float64(in[j])
		b := a
		if j+1 < len(in) {
			b = float64(in[j+1])
		}
		out[i] = int16(a + (b-a)*f)
	}
	return out
}

// encodeWAV writes 8 kHz mono 16-bit PCM as a WAV file.
func encodeWAV(pcm []int16) []byte {
	b := make([]byte, 44+2*len(pcm))
	wavHeader(b[:44], 2*len(pcm))
	for i, s := range pcm {
		binary.LittleEndian.PutUint16(b[44+2*i:], uint16(s))
	}
	return b
}

// wavHeader fills the 44-byte header of an 8 kHz mono 16-bit PCM file whose data holds dataBytes.
func wavHeader(h []byte, dataBytes int) {
	copy(h[0:], "RIFF")
	binary.LittleEndian.PutUint32(h[4:], uint32(36+dataBytes))
	copy(h[8:], "WAVEfmt ")
	binary.LittleEndian.PutUint32(h[16:], 16)
	binary.LittleEndian.PutUint16(h[20:], 1)
	binary.LittleEndian.PutUint16(h[22:], 1)
	binary.LittleEndian.PutUint32(h[24:], sampleRate)
	binary.LittleEndian.PutUint32(h[28:], sampleRate*2)
	binary.LittleEndian.PutUint16(h[32:], 2)
	binary.LittleEndian.PutUint16(h[34:], 16)
	copy(h[36:], "data")
	binary.LittleEndian.PutUint32(h[40:], uint32(dataBytes))
}

// g711Codec is a call's audio codec.
type g711Codec struct {
	alaw bool
}

// encode turns PCM into the codec's bytes (one byte a sample).
func (c g711Codec) encode(dst []byte, pcm []int16) {
	for i, s := range pcm {
		if c.alaw {
			dst[i] = g711.EncodeAlawFrame(s)
		} else {
			dst[i] = g711.EncodeUlawFrame(s)
		}
	}
}

// decode turns the codec's bytes into PCM.
func (c g711Codec) decode(dst []int16, b []byte) {
	for i, x := range b {
		if c.alaw {
			dst[i] = g711.DecodeAlawFrame(x)
		} else {
			dst[i] = g711.DecodeUlawFrame(x)
		}
	}
}

// beepPCM is VoIPbin's beep: a 1 kHz tone of 250 ms, at a comfortable level.
func beepPCM() []int16 {
	const n = sampleRate / 4
	out := make([]int16, n)
	// A 1 kHz tone at 8 kHz repeats every 8 samples: sin(2πk/8) * 8000.
	cycle := [8]int16{0, 5657, 8000, 5657, 0, -5657, -8000, -5657}
	for i := range out {
		out[i] = cycle[i%8]
	}
	return out
}
