package engine

import "github.com/luminous-healing/luminous-healing/internal/issue"

// ValidateInjection lets the external tests see the record an injection
// would open.
func (e *Engine) ValidateInjection(in Injection) (issue.Record, error) {
	return e.validateInjection(in)
}
