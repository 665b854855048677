package heal

import (
	"context"
	"fmt"

	"github.com/luminous-healing/luminous-healing/internal/issue"
)

func init() { register(issue.Reload, reload{}) }

// reload asks a unit that supports it (CanReload: an ExecReload=) to
// reload, ReloadUnit("replace"), waits for the job and verifies the unit is
// active: a health probe's gentler action (docs/probes.md). A unit that
// cannot reload is refused, not restarted instead: the configuration
// asked for a reload.
type reload struct{}

func (reload) plan(ctx context.Context, e *env, req Request) (step, error) {
	name := req.Target
	if name == "" {
		return step{}, fmt.Errorf("%w: reload needs a unit", ErrNotFound)
	}
	st := step{target: name, describe: "reload " + name}
	if e.sd() == nil {
		return st, nil // dry-run without systemd: plan blind
	}
	u, err := e.sd().Unit(ctx, name)
	if err != nil {
		return step{}, fmt.Errorf("%w: reading %s: %v", ErrUnavailable, name, err)
	}
	if u.LoadState != "loaded" {
		return step{}, fmt.Errorf("%w: unit %s is %s", ErrNotFound, name, u.LoadState)
	}
	if !u.CanReload {
		return step{}, fmt.Errorf("%w: %s cannot reload (it has no ExecReload=); its probe's action = \"restart\" would restart it", ErrNoAction, name)
	}
	if u.ActiveState != "active" {
		return step{}, fmt.Errorf("%w: %s is %s; only an active unit reloads", ErrNoAction, name, u.ActiveState)
	}
	st.run = func(ctx context.Context, res *Result) {
		sd := e.sd()
		ch := make(chan string, 1)
		if err := sd.Reload(ctx, name, ch); err != nil {
			res.fail("systemd refused to reload %s: %v", name, err)
			return
		}
		result, err := waitJob(ctx, ch)
		if err != nil {
			res.fail("reload of %s did not finish: %v", name, err)
			return
		}
		if result != "done" {
			res.fail("systemd's reload job for %s ended %q", name, result)
			return
		}
		u, err := waitActive(ctx, sd, name)
		if err != nil {
			res.fail("reloaded %s but could not verify it: %v", name, err)
			return
		}
		if u.ActiveState != "active" {
			res.fail("reloaded %s but it is %s (%s, result %s)", name, u.ActiveState, u.SubState, u.Result)
			return
		}
		res.succeed("%s reloaded and active (%s)", name, u.SubState)
	}
	return st, nil
}
