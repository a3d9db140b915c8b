package playground

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/mailhop/mailhop/sim/lesson"
	"github.com/mailhop/mailhop/sim/trace"
)

// The states of a lesson, as the Start-here panel shows them.
const (
	LessonNotStarted = "not-started"
	LessonInProgress = "in-progress"
	LessonDone       = "done"
)

// LessonInfo is a lesson in the list.
type LessonInfo struct {
	ID    string `json:"id"`
	Title string `json:"title"`
	State string `json:"state"`
}

// LessonStatus is the running lesson: its text, its steps and what its
// checks say now.
type LessonStatus struct {
	World    int             `json:"world"` // the world it runs in (Info.World)
	ID       string          `json:"id"`
	Title    string          `json:"title"`
	Goal     string          `json:"goal"`
	Steps    []lesson.Step   `json:"steps"`
	Checks   []lesson.Result `json:"checks"`
	Done     bool            `json:"done"`
	State    string          `json:"state"`
	Solution []lesson.Action `json:"solution,omitempty"`
	// Builtin: the lesson comes with mailhop (else from a file).
	Builtin bool `json:"builtin"`
}

// Lessons lists the built-in lessons with their state in this
// playground.
func (p *Playground) Lessons() []LessonInfo {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []LessonInfo
	for _, l := range lesson.Index() {
		st := p.lessonStates[l.ID]
		if st == "" {
			st = LessonNotStarted
		}
		out = append(out, LessonInfo{ID: l.ID, Title: l.Title, State: st})
	}
	return out
}

// StartLesson loads a lesson's world afresh, performs its setup and
// starts checking the student's work: each change of what the checks
// say is a trace event of kind "lesson". idOrText is a built-in lesson's
// id or a lesson file's text (YAML or JSON).
func (p *Playground) StartLesson(ctx context.Context, idOrText string) (LessonStatus, error) {
	src := strings.TrimSpace(idOrText)
	if src == "" {
		return LessonStatus{}, errors.New("lesson: give the id of a built-in lesson or a lesson file's text")
	}
	l, err := lesson.Load(src)
	if err != nil {
		return LessonStatus{}, err
	}
	info, err := p.Load(l.World)
	if err != nil {
		return LessonStatus{}, fmt.Errorf("lesson %q: %w", l.ID, err)
	}
	r, err := p.current()
	if err != nil {
		return LessonStatus{}, err
	}
	st := &lessonRun{l: l, epoch: info.World, start: r.w.Trace.Last()}
	p.mu.Lock()
	if p.cur != r {
		p.mu.Unlock()
		return LessonStatus{}, errors.New("lesson: the world was reset meanwhile")
	}
	r.lesson = st
	if p.lessonStates[l.ID] != LessonDone {
		p.lessonStates[l.ID] = LessonInProgress
	}
	p.mu.Unlock()
	r.w.Trace.Emit(trace.Event{Kind: trace.KindLesson, Action: "started", Text: fmt.Sprintf("lesson %q started: %s", l.ID, l.Title)})
	if len(l.Setup) > 0 {
		run := &lesson.Runner{World: r.w, Driver: r.drv}
		err := run.Run(ctx, "setup", l.Setup)
		run.Close()
		if err != nil {
			return LessonStatus{}, fmt.Errorf("lesson %q: %w", l.ID, err)
		}
	}
	go p.watchLesson(r, st)
	return p.LessonStatus(0)
}

// lessonRun is the lesson running in a world.
type lessonRun struct {
	l     *lesson.Lesson
	epoch int
	start int64 // the last event before the lesson began

	// evals are the evaluations reported, each with the seq of its lesson
	// event (Playground.mu), by watchLesson: the page asks for the one it
	// has revealed.
	evals []lessonEval
}

type lessonEval struct {
	seq     int64
	results []lesson.Result
}

// LessonStatus returns the running lesson and what its checks say: as of
// the lesson event seq (the last one at or before it), or now when seq
// is 0.
func (p *Playground) LessonStatus(seq int64) (LessonStatus, error) {
	r, err := p.current()
	if err != nil {
		return LessonStatus{}, err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	st := r.lesson
	if st == nil {
		return LessonStatus{}, errors.New("no lesson is running: start one with lesson(id)")
	}
	var results []lesson.Result
	for _, e := range st.evals {
		if seq > 0 && e.seq > seq {
			break
		}
		results = e.results
	}
	l := st.l
	out := LessonStatus{World: st.epoch, ID: l.ID, Title: l.Title, Goal: strings.TrimSpace(l.Goal), Steps: l.Steps,
		Checks: slices.Clone(results), Done: lesson.Done(results), State: p.lessonStates[l.ID], Solution: l.Solution, Builtin: l.IsBuiltin()}
	if out.Checks == nil {
		// Not evaluated yet: every check is still to do.
		for _, c := range l.Checks {
			out.Checks = append(out.Checks, lesson.Result{Name: c.Name, Missing: c.Missing})
		}
	}
	return out, nil
}

// watchLesson evaluates the lesson's checks after each batch of events
// until the world goes, and reports each change as a lesson event.
func (p *Playground) watchLesson(r *run, st *lessonRun) {
	ctx := r.ctx
	seq := st.start
	var events []trace.Event
	var last []lesson.Result
	for {
		if _, err := r.w.Trace.Follow(seq).Next(ctx); err != nil {
			return
		}
		// Let a burst gather: the checks read the world's state.
		t := time.NewTimer(50 * time.Millisecond)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return
		}
		batch := r.w.Trace.Since(seq)
		seq = batch[len(batch)-1].Seq
		for _, ev := range batch {
			if ev.Kind != trace.KindLesson {
				events = append(events, ev)
			}
		}
		results := st.l.Evaluate(events, r.w)
		if slices.Equal(results, last) {
			continue
		}
		if ctx.Err() != nil {
			return // another world
		}
		done := lesson.Done(results)
		ev := trace.Event{Kind: trace.KindLesson, Action: "progress", Text: progress(st.l, results)}
		if done {
			ev.Action = "done"
		}
		for i, res := range results {
			if !res.OK {
				ev.Note = "still missing: " + res.Missing
				break
			}
			if i < len(last) && !last[i].OK {
				ev.Note = "✓ " + res.Name
			}
		}
		ev = r.w.Trace.Emit(ev)
		p.mu.Lock()
		st.evals = append(st.evals, lessonEval{ev.Seq, results})
		if done {
			p.lessonStates[st.l.ID] = LessonDone
		}
		p.mu.Unlock()
		last = results
	}
}

func progress(l *lesson.Lesson, rs []lesson.Result) string {
	n := 0
	for _, r := range rs {
		if r.OK {
			n++
		}
	}
	if lesson.Done(rs) {
		return fmt.Sprintf("lesson %q done: all %d checks hold", l.ID, len(rs))
	}
	return fmt.Sprintf("lesson %q: %d of %d checks hold", l.ID, n, len(rs))
}
