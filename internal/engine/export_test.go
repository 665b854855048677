package engine

import (
	"context"

	"github.com/luminous-healing/luminous-healing/internal/issue"
)

// ValidateInjection lets the external tests see the record an injection
// would open.
func (e *Engine) ValidateInjection(in Injection) (issue.Record, error) {
	var known string
	return e.validateInjection(context.Background(), in, &known)
}

// GoHelper lets the external tests start a helper read as an operator
// call's poll would, from a goroutine other than Run's.
func (e *Engine) GoHelper(f func()) { e.goHelper(f) }
