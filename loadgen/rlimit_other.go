//go:build !unix

package loadgen

func ensureOpenFiles(int) error { return nil }
