package engine

import (
	"context"
	"fmt"
	"math"
	"path/filepath"
	"time"

	"github.com/luminous-healing/luminous-healing/internal/audit"
	"github.com/luminous-healing/luminous-healing/internal/issue"
	"github.com/luminous-healing/luminous-healing/internal/unit"
)

// Injection is a synthetic issue for InjectIssue.
type Injection struct {
	Kind      issue.Kind
	Subject   string
	Severity  issue.Severity // OK means warning
	Value     float64
	Threshold float64
	Message   string
}

// InjectIssueOp checks a call to open a synthetic issue, in development
// mode. The issue runs the whole pipeline — signals, audit, the action (or
// its plan in dry-run) — for testing configurations and integrations, and
// ends once its action has run. Run returns the issue as opened.
func (e *Engine) InjectIssueOp(in Injection) (*Op[issue.Record], error) {
	var known string
	return checked(context.Background(), e, func(ctx context.Context) (*Op[issue.Record], error) {
		rec, err := e.validateInjection(ctx, in, &known)
		if err != nil {
			return nil, err
		}
		e.mu.Lock()
		_, open := e.issues[rec.ID]
		e.mu.Unlock()
		if open {
			return nil, errorf(InvalidArgument, "issue %s is already open", rec.ID)
		}
		op := &Op[issue.Record]{Tier: TierDevelop, Action: "inject", Issue: rec.ID,
			act: func(_ context.Context, c Caller) (issue.Record, error) { return e.inject(c, rec) }}
		if rec.Kind == issue.Unit || rec.Kind == issue.Probe {
			op.Unit = rec.Subject
		}
		return op, nil
	})
}

// InjectIssue checks and runs InjectIssueOp at once.
func (e *Engine) InjectIssue(ctx context.Context, c Caller, in Injection) (issue.Record, error) {
	op, err := e.InjectIssueOp(in)
	return runNow(ctx, c, op, err)
}

func (e *Engine) inject(c Caller, rec issue.Record) (issue.Record, error) {
	e.mu.Lock()
	if _, ok := e.issues[rec.ID]; ok {
		e.mu.Unlock()
		return issue.Record{}, errorf(InvalidArgument, "issue %s is already open", rec.ID)
	}
	p := &rec
	evs := e.openLocked(p)
	e.maybeHealLocked(p)
	out := *p
	e.publish(evs...) // under e.mu, in the order decided (publishStatus)
	e.mu.Unlock()
	e.o.Audit.Record(audit.Entry{Event: audit.SettingChanged, Action: "inject", Issue: rec.ID, Outcome: "injected",
		CallerUID: c.UID, Caller: c.Name, Message: fmt.Sprintf("synthetic issue %s injected by uid %d", rec.ID, c.UID)})
	e.publishStatus()
	return out, nil
}

// validateInjection checks an injection's values and builds its record. A
// unit or probe subject is resolved as the other ops' units are (unitArg,
// with known): an alias names its unit, for polkit and for monitoring.
func (e *Engine) validateInjection(ctx context.Context, in Injection, known *string) (issue.Record, error) {
	bad := func(format string, args ...any) (issue.Record, error) {
		return issue.Record{}, errorf(InvalidArgument, format, args...)
	}
	if _, err := issue.ParseKind(string(in.Kind)); err != nil {
		return bad("%v", err)
	}
	// Caller text is data: it reaches polkit's prompt, the history, the
	// journal and terminals, so no control characters.
	for name, s := range map[string]string{"subject": in.Subject, "message": in.Message} {
		if unit.HasControl(s) {
			return bad("%s contains control characters", name)
		}
	}
	subject := string(in.Kind)
	switch in.Kind {
	case issue.Unit, issue.Probe:
		if _, err := unit.Normalize(in.Subject); err != nil {
			return bad("subject: %v", err)
		}
		u, err := e.unitArg(ctx, in.Subject, known)
		if err != nil {
			return issue.Record{}, err
		}
		subject = u
	case issue.Disk:
		if !filepath.IsAbs(in.Subject) || filepath.Clean(in.Subject) != in.Subject || len(in.Subject) > 4096 {
			return bad("subject: a disk issue needs a clean absolute mount path, got %s", unit.Quote(in.Subject))
		}
		subject = in.Subject
	case issue.Pressure:
		if in.Subject != "cpu" && in.Subject != "memory" && in.Subject != "io" {
			return bad("subject: pressure is cpu, memory or io, got %s", unit.Quote(in.Subject))
		}
		subject = in.Subject
	default:
		if in.Subject != "" && in.Subject != string(in.Kind) {
			return bad("subject: a %s issue has no subject", in.Kind)
		}
	}
	for name, v := range map[string]float64{"value": in.Value, "threshold": in.Threshold} {
		if math.IsNaN(v) || math.IsInf(v, 0) || v < 0 || v > 1e6 {
			return bad("%s must be a finite number between 0 and 1000000, got %v", name, v)
		}
	}
	if len(in.Message) > 500 {
		return bad("message must be one line of at most 500 characters")
	}
	sev := in.Severity
	if sev == issue.OK {
		sev = issue.Warning
	}
	threshold := in.Threshold
	if threshold == 0 && in.Kind != issue.Unit && in.Kind != issue.Probe {
		// Left out (0 is no threshold): report the one in force.
		e.mu.Lock()
		threshold = e.thresholdsLocked()[in.Kind]
		e.mu.Unlock()
	}
	rec := issue.Record{ID: issue.ID(in.Kind, subject), Kind: in.Kind, Subject: subject, Severity: sev,
		Value: in.Value, Threshold: threshold, Since: time.Now(), State: issue.Open, Synthetic: true, Message: in.Message}
	if rec.Message == "" {
		rec.Message = "synthetic: " + describe(&rec)
	}
	return rec, nil
}
