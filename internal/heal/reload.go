package heal

import (
	"context"
	"fmt"

	"github.com/luminous-healing/luminous-healing/internal/issue"
)

func init() { register(issue.Reload, reload{}) }

// reload asks a unit that supports it (CanReload: an ExecReload=) to
// reload, ReloadUnit("fail"), waits for the job and verifies the unit is
// active: a health probe's gentler action (docs/probes.md). A unit that
// cannot reload is refused, not restarted instead: the configuration
// asked for a reload.
type reload struct{}

func (reload) plan(ctx context.Context, e *env, req Request) (step, error) {
	name := req.Target
	st, u, err := e.unitStep(ctx, "reload", name, nil)
	if err != nil || u == nil {
		return st, err
	}
	if !u.CanReload {
		return step{}, fmt.Errorf("%w: %s cannot reload (it has no ExecReload=); its probe's action = \"restart\" would restart it", ErrNoAction, name)
	}
	if u.ActiveState != "active" {
		return step{}, fmt.Errorf("%w: %s is %s; only an active unit reloads", ErrNoAction, name, u.ActiveState)
	}
	st.run = func(ctx context.Context, res *Result) {
		sd := e.sd()
		u, ok := jobThenActive(ctx, sd, res, name, "reload", "reloaded", sd.Reload)
		if !ok {
			return
		}
		res.succeed("%s reloaded and active (%s)", name, u.SubState)
	}
	return st, nil
}
