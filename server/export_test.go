package server

// RememberedUsers is how many users' token states the server remembers (for tests of revocation).
func (s *Server) RememberedUsers() int {
	s.users.mu.Lock()
	defer s.users.mu.Unlock()
	return len(s.users.states)
}
