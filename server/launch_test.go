//go:build linux || darwin

package server

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestLaunchRefusesAServerThatIgnoresItsSettings: a server that reports
// its URL without echoing the extra settings of its spec (a build too old
// to read them, which would serve with its defaults) is refused and
// stopped, not measured as what it is not. The same server launched
// without extra settings is taken.
func TestLaunchRefusesAServerThatIgnoresItsSettings(t *testing.T) {
	t.Parallel()
	// An old build, as far as the protocol goes: it reports its URL (fd 4)
	// and one worker ready, and knows nothing of extra settings.
	exe := filepath.Join(t.TempDir(), "old-flipbench")
	script := `#!/bin/sh
echo '{"event":"listening","url":"http://127.0.0.1:9"}' >&4
echo '{"event":"worker_ready","worker":0,"pid":1}' >&4
exec sleep 60
`
	if err := os.WriteFile(exe, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	lc := LaunchConfig{Exe: exe, Name: "queue", Workers: 1, Entry: EntrySuperviseQueue, Extra: map[string]string{"reply": "async"}}
	if _, err := Launch(ctx, lc); err == nil || !strings.Contains(err.Error(), `did not confirm the settings {"reply":"async"}`) {
		t.Fatalf("launch with settings: got %v, want a refusal naming them", err)
	}
	lc.Extra = nil
	inst, err := Launch(ctx, lc)
	if err != nil {
		t.Fatalf("launch without settings: %v", err)
	}
	if inst.URL != "http://127.0.0.1:9" {
		t.Errorf("URL %q", inst.URL)
	}
	inst.Stop(ctx)
}
