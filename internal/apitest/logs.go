package apitest

import (
	"regexp"
	"strings"
	"sync"
)

// LogBuffer collects a log that many goroutines (a server's handlers, a process's output pipe) write at once.
// The zero value is ready to use.
type LogBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *LogBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

// String is everything written so far.
func (l *LogBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// Listening matches the line with which `flowbin serve` says where it listens; its first group is the base URL
// (it listens on port 0 in tests, so the line is the only way to learn the port).
var Listening = regexp.MustCompile(`flowbin listening on (http://\S+)`)
