module palisade.dev

go 1.26.0

require (
	github.com/google/subcommands v1.2.0
	github.com/opencontainers/runtime-spec v1.3.0
	golang.org/x/sys v0.49.0
)
