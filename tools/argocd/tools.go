//go:build tools

// Package tools pins the commands scripts/argocd-assets builds, so `go mod
// tidy` keeps their dependencies in go.sum.
package tools

import (
	_ "github.com/argoproj/argo-cd/v2/cmd"
	_ "sigs.k8s.io/kustomize/kustomize/v5"
)
