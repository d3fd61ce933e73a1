package flow

// truncate shortens s to at most n bytes for a reason or a message.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
