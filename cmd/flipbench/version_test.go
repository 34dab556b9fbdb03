package main

import (
	"runtime/debug"
	"testing"
)

func TestWithV(t *testing.T) {
	t.Parallel()
	tests := []struct{ in, want string }{
		{"1.2.3", "v1.2.3"},
		{"v1.2.3", "v1.2.3"},
		{"0.1.0", "v0.1.0"},
		{"1.2.3-rc.1", "v1.2.3-rc.1"},
		{"1.2.3+build.5", "v1.2.3+build.5"},
		{"0.0.0-SNAPSHOT-752b827", "v0.0.0-SNAPSHOT-752b827"},
		{"v0.0.0-20260101000000-752b8270a1b2+dirty", "v0.0.0-20260101000000-752b8270a1b2+dirty"},
		// Not semver: left alone rather than guessed at.
		{"(devel)", "(devel)"},
		{"", ""},
		{"1.2", "1.2"},
		{"01.2.3", "01.2.3"},
		{"1.2.3-1~deb12", "1.2.3-1~deb12"},
		{"nightly", "nightly"},
	}
	for _, tt := range tests {
		if got := withV(tt.in); got != tt.want {
			t.Errorf("withV(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

// TestResolveVersion checks that one release reports one version however it
// was installed: stamped by goreleaser's ldflags (without the v) or read from
// the build info of `go install ...@v1.2.3` (with it).
func TestResolveVersion(t *testing.T) {
	t.Parallel()
	installed := &debug.BuildInfo{
		Main:     debug.Module{Path: "github.com/flipbench/flipbench", Version: "v1.2.3"},
		Settings: []debug.BuildSetting{{Key: "vcs.revision", Value: "752b8270a1b2c3d4e5f6"}},
	}
	checkout := &debug.BuildInfo{Main: debug.Module{Path: "github.com/flipbench/flipbench", Version: "(devel)"}}
	tests := []struct {
		name                 string
		ldVersion, ldCommit  string
		bi                   *debug.BuildInfo
		wantVersion, wantCmt string
	}{
		{"goreleaser ldflags", "1.2.3", "752b827", nil, "v1.2.3", "752b827"},
		{"ldflags with the v", "v1.2.3", "752b827", nil, "v1.2.3", "752b827"},
		{"go install", "", "", installed, "v1.2.3", "752b8270a1b2"},
		{"ldflags win over build info", "1.2.4", "", installed, "v1.2.4", "752b8270a1b2"},
		{"checkout", "", "", checkout, "(devel)", "unknown"},
		{"no build info", "", "", nil, "(devel)", "unknown"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			v := resolveVersion(tt.ldVersion, tt.ldCommit, tt.bi)
			if v.Version != tt.wantVersion || v.Commit != tt.wantCmt {
				t.Errorf("got version %q commit %q, want %q %q", v.Version, v.Commit, tt.wantVersion, tt.wantCmt)
			}
		})
	}
}
