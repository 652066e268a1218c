package postgres

// ParseNotify is parseNotify, for the external tests.
var ParseNotify = parseNotify
