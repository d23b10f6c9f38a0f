// Package kube only exists so this module can require k8s.io/kubernetes and
// build its commands (kube-apiserver, kube-controller-manager,
// kube-scheduler): they cannot be `go install`ed because the kubernetes module
// replaces its staging modules with local paths, which go.mod here replaces
// with their published v0.Y.Z versions instead.
package kube
