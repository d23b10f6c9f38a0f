// Package seaweedfs only exists so this module can require SeaweedFS and build
// its `weed` command: it cannot be `go install`ed because SeaweedFS's go.mod has
// a replace directive, which this go.mod repeats so the build matches upstream's.
package seaweedfs
