package session

// PendingLogouts counts the logouts waiting for the next batch.
func PendingLogouts(s *Service) int {
	return s.logouts.Pending()
}
