package server

import (
	"container/list"
	"context"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"

	"github.com/flowbin/flowbin/store"
)

// flowCache keeps the answers of GET /v1.0/flows/{id}, encoded, so that the hot path of a voice platform (a flow
// read on every call) costs no database round trip and no JSON encoding. It is correct with any number of
// instances on one database because it is only used while it hears of every change (store.WatchFlowChanges):
//
//   - an entry is dropped when its flow changes, by this process (as the change commits) or by anyone else (when
//     PostgreSQL announces the commit, a few milliseconds later);
//   - while the change listener is down, the cache is empty and bypassed, and it starts empty again when the
//     listener is back, since changes may have been missed meanwhile;
//   - a read that raced with a change is never stored: every shard counts its invalidations, and an answer read
//     from the database is kept only if no invalidation of its shard (and no reset) happened since the read began;
//   - an answer is used for at most flowCacheMaxAge, which bounds what a missed announcement could cost (an
//     instance that dies between committing a change and announcing it, milliseconds later).
//
// It is bounded in bytes, and evicts the least recently used answers first.
type flowCache struct {
	live   atomic.Bool   // changes are being delivered: entries may be used and stored
	epoch  atomic.Uint64 // counts resets
	now    func() time.Time
	shards [cacheShards]cacheShard
	// evicted counts an answer dropped for room or age.
	evicted func()
}

// flowCacheMaxAge is how long a cached answer may be used.
const flowCacheMaxAge = 5 * time.Minute

const cacheShards = 32

// entryOverhead approximates the memory of an entry beyond its body: the element, the map slot, the strings.
const entryOverhead = 160

type cacheShard struct {
	mu       sync.Mutex
	gen      uint64 // counts invalidations (and resets) of this shard
	entries  map[uuid.UUID]*list.Element
	lru      list.List // of *cachedFlow, most recently used first
	bytes    int64
	maxBytes int64
}

// cachedFlow is a flow's answer: its owner, its revision (for If-None-Match) and the encoded body and ETag that
// GET answers with.
type cachedFlow struct {
	stored   time.Time
	id       uuid.UUID
	customer uuid.UUID
	revision int
	etag     string
	body     []byte
}

func (f *cachedFlow) size() int64 { return int64(cap(f.body)) + entryOverhead }

// newFlowCache returns a cache of at most maxBytes, or nil (no cache) when maxBytes is not positive.
func newFlowCache(maxBytes int64) *flowCache {
	if maxBytes <= 0 {
		return nil
	}
	c := &flowCache{now: time.Now, evicted: func() {}}
	for i := range c.shards {
		c.shards[i].entries = make(map[uuid.UUID]*list.Element)
		c.shards[i].maxBytes = maxBytes / cacheShards
	}
	return c
}

func (c *flowCache) shard(id uuid.UUID) *cacheShard { return &c.shards[shardIndex(id)] }

// shardIndex spreads ids over the shards by bytes that are random in UUIDv4 and v7.
func shardIndex(id uuid.UUID) int { return int((uint(id[15]) ^ uint(id[7])) % cacheShards) }

// cacheTicket is taken before a flow is read from the database: put refuses the answer if it may be stale.
type cacheTicket struct {
	epoch, gen uint64
}

// get returns the cached answer for id, if the cache is live and holds one.
func (c *flowCache) get(id uuid.UUID) (*cachedFlow, cacheTicket, bool) {
	if c == nil || !c.live.Load() {
		return nil, cacheTicket{}, false
	}
	epoch := c.epoch.Load()
	sh := c.shard(id)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if el, ok := sh.entries[id]; ok {
		f := el.Value.(*cachedFlow)
		if c.now().Sub(f.stored) < flowCacheMaxAge {
			sh.lru.MoveToFront(el)
			return f, cacheTicket{}, true
		}
		c.evict(sh, el)
	}
	return nil, cacheTicket{epoch: epoch, gen: sh.gen}, false
}

// put stores an answer read from the database after get's ticket was taken, unless the flow (or anything) may have
// changed since.
func (c *flowCache) put(f *cachedFlow, t cacheTicket) {
	if c == nil || !c.live.Load() || c.epoch.Load() != t.epoch {
		return
	}
	f.stored = c.now()
	sh := c.shard(f.id)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if sh.gen != t.gen || f.size() > sh.maxBytes {
		return
	}
	if el, ok := sh.entries[f.id]; ok {
		sh.bytes -= el.Value.(*cachedFlow).size()
		sh.lru.Remove(el)
	}
	sh.entries[f.id] = sh.lru.PushFront(f)
	sh.bytes += f.size()
	for sh.bytes > sh.maxBytes {
		c.evict(sh, sh.lru.Back())
	}
}

// evict drops an answer for room or age.
func (c *flowCache) evict(sh *cacheShard, el *list.Element) {
	sh.remove(el)
	c.evicted()
}

func (sh *cacheShard) remove(el *list.Element) {
	f := sh.lru.Remove(el).(*cachedFlow)
	delete(sh.entries, f.id)
	sh.bytes -= f.size()
}

// FlowChanged drops the flow's answer (store.ChangeListener).
func (c *flowCache) FlowChanged(id uuid.UUID) {
	sh := c.shard(id)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	sh.gen++
	if el, ok := sh.entries[id]; ok {
		sh.remove(el)
	}
}

// ChangesReset empties the cache, and uses it from now on only if live (store.ChangeListener).
func (c *flowCache) ChangesReset(live bool) {
	c.live.Store(false)
	c.epoch.Add(1)
	for i := range c.shards {
		sh := &c.shards[i]
		sh.mu.Lock()
		sh.gen++
		clear(sh.entries)
		sh.lru.Init()
		sh.bytes = 0
		sh.mu.Unlock()
	}
	c.live.Store(live)
}

// stats reports the cache's size (for tests).
func (c *flowCache) stats() (entries int, bytes int64) {
	for i := range c.shards {
		sh := &c.shards[i]
		sh.mu.Lock()
		entries += len(sh.entries)
		bytes += sh.bytes
		sh.mu.Unlock()
	}
	return entries, bytes
}

// WatchChanges keeps the flow cache and what the server remembers of users (revocation.go) in step with the
// database, and hands hangups requested on other instances to the SIP runner (telephony.go), until ctx ends: call it once per server, in its own goroutine. Without it neither is used: flows and
// users are read from the database on every request.
func (s *Server) WatchChanges(ctx context.Context) {
	s.store.WatchFlowChanges(ctx, listeners{flows: s.cache, users: s.users, calls: s.Telephony()})
}

var _ store.ChangeListener = (*flowCache)(nil)

// flowAnswer is a GET answer from the cache (or stored in it): the bytes the generated response would write.
type flowAnswer struct{ f *cachedFlow }

func (a flowAnswer) VisitGetFlowResponse(w http.ResponseWriter) error {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("ETag", a.f.etag)
	w.WriteHeader(http.StatusOK)
	_, err := w.Write(a.f.body)
	return err
}

// FlowCacheLive reports whether GET of a flow is answered from the cache: it is while WatchChanges hears every
// change.
func (s *Server) FlowCacheLive() bool { return s.cache != nil && s.cache.live.Load() }
