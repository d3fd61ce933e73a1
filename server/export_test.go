package server

// CacheShard is the flow cache shard of a flow id, for tests that count evictions.
var CacheShard = shardIndex

// EntryOverhead is what the flow cache counts for an entry beyond its body.
const EntryOverhead = entryOverhead
