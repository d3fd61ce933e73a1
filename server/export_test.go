package server

// RememberedUsers is how many users' token states the server remembers (for tests of revocation).
func (s *Server) RememberedUsers() int {
	s.users.mu.Lock()
	defer s.users.mu.Unlock()
	return len(s.users.states)
}

// CacheShard is the flow cache shard of a flow id, for tests that count evictions.
var CacheShard = shardIndex

// EntryOverhead is what the flow cache counts for an entry beyond its body.
const EntryOverhead = entryOverhead
