package main

import (
	"fmt"
	"regexp"
	"runtime"
	"runtime/debug"

	"github.com/spf13/cobra"
)

// Set by -ldflags "-X main.version=... -X main.commit=..." in releases.
// version may be given with or without its leading v (v1.2.3 or 1.2.3):
// it is reported with one either way.
var (
	version = ""
	commit  = ""
)

// versionInfo is what `flipbench version` reports.
type versionInfo struct {
	Version string `json:"version"`
	Commit  string `json:"commit"`
	Go      string `json:"go"`
	OS      string `json:"os"`
	Arch    string `json:"arch"`
}

func (v versionInfo) String() string {
	return fmt.Sprintf("flipbench %s (commit %s, %s, %s/%s)", v.Version, v.Commit, v.Go, v.OS, v.Arch)
}

// currentVersion uses the ldflags values when a release set them, and
// otherwise the module's build info, which `go install ...@v1.2.3` and a
// build in a git checkout fill in.
func currentVersion() versionInfo {
	bi, _ := debug.ReadBuildInfo()
	return resolveVersion(version, commit, bi)
}

// resolveVersion is currentVersion with its inputs passed in, so that tests
// can feed it what a release build or a go install build would see. bi may
// be nil (a binary built without module support).
func resolveVersion(ldVersion, ldCommit string, bi *debug.BuildInfo) versionInfo {
	v := versionInfo{Version: ldVersion, Commit: ldCommit, Go: runtime.Version(), OS: runtime.GOOS, Arch: runtime.GOARCH}
	if bi != nil {
		if v.Version == "" && bi.Main.Version != "" {
			v.Version = bi.Main.Version
		}
		if v.Commit == "" {
			for _, s := range bi.Settings {
				if s.Key == "vcs.revision" {
					v.Commit = s.Value
					if len(v.Commit) > 12 {
						v.Commit = v.Commit[:12]
					}
				}
			}
		}
	}
	v.Version = withV(v.Version)
	if v.Version == "" {
		v.Version = "(devel)"
	}
	if v.Commit == "" {
		v.Commit = "unknown"
	}
	return v
}

// semverNoV matches a semantic version written without its leading v, as
// goreleaser's {{.Version}} or a packager's -X main.version=1.2.3 give it.
var semverNoV = regexp.MustCompile(`^(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)(-[0-9A-Za-z.-]+)?(\+[0-9A-Za-z.-]+)?$`)

// withV gives a semantic version its leading v, so that one release reports
// the same version (v1.2.3, the tag and the module version) whether it was
// installed from an archive, a package or `go install ...@v1.2.3`. Anything
// else, like "(devel)" or a distribution's own "1.2.3-1~deb12" (not semver),
// is left as it is.
func withV(s string) string {
	if semverNoV.MatchString(s) {
		return "v" + s
	}
	return s
}

func newVersionCmd() *cobra.Command {
	return &cobra.Command{
		Use:     "version",
		Short:   "Print the version, commit and Go version",
		Args:    rangeArgs(0, 0),
		Example: "  $ flipbench version",
		RunE: func(cmd *cobra.Command, args []string) error {
			_, err := fmt.Fprintln(cmd.OutOrStdout(), currentVersion())
			return err
		},
	}
}
