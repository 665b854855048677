package engine

import "github.com/luminous-healing/luminous-healing/internal/issue"

// Clients learn an issue's state from its signals only: IssueDetected
// carries the state it opened in, and the engine moves it on (open to
// healing, watching, silenced, waiting, healed, failed, …) in many places.
// said is what each open issue's last IssueDetected or IssueChanged told;
// every rebuild of the status announces, as IssueChanged, each issue whose
// state moved on since (unsaidLocked), so that no client is left with a
// state the daemon has left. e.mu guards it.

// changedLocked is the IssueChanged event of rec as it is now.
func (e *Engine) changedLocked(rec *issue.Record) Event {
	e.said[rec.ID] = rec.State
	return Event{Type: IssueChanged, Issue: *rec}
}

// unsaidLocked returns an IssueChanged for each open issue whose state is
// not the one last announced, worst first.
func (e *Engine) unsaidLocked() []Event {
	var recs []issue.Record
	for id, rec := range e.issues {
		if s, ok := e.said[id]; ok && s != rec.State {
			e.said[id] = rec.State
			recs = append(recs, *rec)
		}
	}
	sortIssues(recs)
	evs := make([]Event, len(recs))
	for i, rec := range recs {
		evs[i] = Event{Type: IssueChanged, Issue: rec}
	}
	return evs
}
