package server

import (
	"bytes"
	"testing"
	"time"

	"github.com/google/uuid"
)

func cached(id uuid.UUID, size int) *cachedFlow {
	return &cachedFlow{id: id, customer: uuid.Nil, revision: 1, etag: `"1"`, body: bytes.Repeat([]byte("x"), size)}
}

// fill puts an answer for id as a reader would: a miss first, then the answer read.
func fill(t *testing.T, c *flowCache, f *cachedFlow) {
	t.Helper()
	if _, ticket, ok := c.get(f.id); !ok {
		c.put(f, ticket)
	}
}

func has(c *flowCache, id uuid.UUID) bool {
	_, _, ok := c.get(id)
	return ok
}

func TestFlowCacheOnlyWhileLive(t *testing.T) {
	c := newFlowCache(1 << 20)
	id := uuid.New()
	fill(t, c, cached(id, 100))
	if has(c, id) {
		t.Fatal("a cache that hears of no changes must not be used")
	}
	c.ChangesReset(true)
	fill(t, c, cached(id, 100))
	if !has(c, id) {
		t.Fatal("a live cache keeps answers")
	}
	c.ChangesReset(false)
	c.ChangesReset(true)
	if has(c, id) {
		t.Fatal("a reset forgets everything")
	}
	if newFlowCache(0) != nil || newFlowCache(-1) != nil {
		t.Fatal("no bytes, no cache")
	}
	var none *flowCache
	none.put(cached(id, 1), cacheTicket{}) // a nil cache is a valid, empty one
	if has(none, id) {
		t.Fatal("nil cache")
	}
}

// TestFlowCacheRefusesRacedReads: an answer read while its flow changed, or while the cache was reset, is not kept.
func TestFlowCacheRefusesRacedReads(t *testing.T) {
	c := newFlowCache(1 << 20)
	c.ChangesReset(true)
	id := uuid.New()

	_, ticket, _ := c.get(id) // a reader misses, and reads the database…
	c.FlowChanged(id)         // …while the flow changes
	c.put(cached(id, 10), ticket)
	if has(c, id) {
		t.Fatal("an answer read before a change of its flow was kept")
	}

	_, ticket, _ = c.get(id)
	c.ChangesReset(false) // the listener drops…
	c.ChangesReset(true)  // …and comes back
	c.put(cached(id, 10), ticket)
	if has(c, id) {
		t.Fatal("an answer read before a reset was kept")
	}

	_, ticket, _ = c.get(id)
	c.put(cached(id, 10), ticket)
	if !has(c, id) {
		t.Fatal("an answer read in peace must be kept")
	}
	c.FlowChanged(id)
	if has(c, id) {
		t.Fatal("a changed flow's answer must go")
	}
}

// TestFlowCacheBounded: the cache holds at most its bytes, dropping the least recently used answers.
func TestFlowCacheBounded(t *testing.T) {
	const limit = 256 << 10 // 8 KiB a shard: 7 answers of 1000 bytes
	c := newFlowCache(limit)
	c.ChangesReset(true)
	var ids []uuid.UUID
	for range 1000 {
		id := uuid.New()
		ids = append(ids, id)
		fill(t, c, cached(id, 1000))
		if _, b := c.stats(); b > limit {
			t.Fatalf("%d bytes cached, limit %d", b, limit)
		}
	}
	n, b := c.stats()
	if n == 0 || b < limit/2 {
		t.Fatalf("%d entries, %d bytes: the cache should be near its limit", n, b)
	}
	if has(c, ids[0]) {
		t.Fatal("the oldest answer should have been evicted")
	}
	// Recently used answers survive.
	last := ids[len(ids)-1]
	sh := c.shard(last)
	for range 200 {
		has(c, last)
		id := uuid.New()
		for c.shard(id) != sh {
			id = uuid.New()
		}
		fill(t, c, cached(id, 1000))
	}
	if !has(c, last) {
		t.Fatal("the most recently used answer was evicted")
	}
	// An answer larger than a shard is not kept.
	big := uuid.New()
	fill(t, c, cached(big, limit))
	if has(c, big) {
		t.Fatal("an answer larger than the cache was kept")
	}
}

// TestFlowCacheMaxAge: an answer is used for flowCacheMaxAge at most, then read again.
func TestFlowCacheMaxAge(t *testing.T) {
	c := newFlowCache(1 << 20)
	now := time.Now()
	c.now = func() time.Time { return now }
	c.ChangesReset(true)
	id := uuid.New()
	fill(t, c, cached(id, 10))
	now = now.Add(flowCacheMaxAge - time.Second)
	if !has(c, id) {
		t.Fatal("an answer younger than the maximum age must be used")
	}
	now = now.Add(time.Second)
	if has(c, id) {
		t.Fatal("an answer as old as the maximum age must not be used")
	}
	if n, _ := c.stats(); n != 0 {
		t.Fatalf("an expired answer is dropped: %d left", n)
	}
}
