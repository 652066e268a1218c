package session

// PendingLogouts counts the logouts waiting for the next batch.
func PendingLogouts(s *Service) int {
	s.logouts.mu.Lock()
	defer s.logouts.mu.Unlock()
	return len(s.logouts.pending)
}
