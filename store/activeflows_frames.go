package store

import (
	"container/list"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sync"

	"github.com/google/uuid"

	"github.com/flowbin/flowbin/flow"
)

// ActiveflowFrame is an action list an activeflow runs that no flow revision holds (inline actions, those a
// fetch returned, those a version 1 state had copied), stored once when its frame is created; the state names it
// by Key (the stored format version 2, docs/execution.md).
type ActiveflowFrame struct {
	ActiveflowID uuid.UUID `gorm:"column:activeflow_id;primaryKey"`
	Key          int       `gorm:"column:frame_key;primaryKey"`
	Source       string    `gorm:"column:source"`
	Actions      Actions   `gorm:"column:actions"`
}

// TableName tells GORM the table.
func (ActiveflowFrame) TableName() string { return "activeflow_frames" }

// frameCacheBytes bounds the action lists a store remembers. They never change (a flow's revision, a list stored
// with an activeflow), so a list read once serves every later step of every call that runs it, on any instance,
// without invalidation: a step reads its hot state and nothing else.
const frameCacheBytes = 16 << 20

// frameCache is a byte-bounded LRU of immutable action lists, by what names them.
type frameCache struct {
	mu      sync.Mutex
	bytes   int
	order   *list.List // of *frameEntry, most recent first
	entries map[frameID]*list.Element
}

// frameID names an action list: a flow's revision (activeflow uuid.Nil), or an activeflow's stored list.
type frameID struct {
	flowID       uuid.UUID
	revision     int
	activeflowID uuid.UUID
	key          int
}

type frameEntry struct {
	id      frameID
	actions []flow.Action
	size    int
}

func (c *frameCache) get(id frameID) ([]flow.Action, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.entries[id]
	if !ok {
		return nil, false
	}
	c.order.MoveToFront(e)
	return e.Value.(*frameEntry).actions, true
}

func (c *frameCache) put(id frameID, actions []flow.Action) {
	size := 64
	for i := range actions {
		size += 96 + len(actions[i].Type) + len(actions[i].Option)
	}
	if size > frameCacheBytes/16 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.entries == nil {
		c.entries, c.order = map[frameID]*list.Element{}, list.New()
	}
	if _, ok := c.entries[id]; ok {
		return
	}
	c.entries[id] = c.order.PushFront(&frameEntry{id: id, actions: actions, size: size})
	c.bytes += size
	for c.bytes > frameCacheBytes {
		last := c.order.Back()
		e := last.Value.(*frameEntry)
		c.order.Remove(last)
		delete(c.entries, e.id)
		c.bytes -= e.size
	}
}

// resolveFrames fills the actions of the frames a.State names (a version 2 state), from the cache or the
// database: a flow's revision from flow_revisions (kept when the flow is deleted: a call in progress runs on), a
// stored list from activeflow_frames. The actions are shared with the cache and never changed by the engine.
func (s *Store) resolveFrames(ctx context.Context, a *Activeflow) error {
	return a.State.Resolve(func(f *flow.Frame) ([]flow.Action, error) {
		id := frameID{activeflowID: a.ID, key: f.Key}
		if f.OfFlow() {
			id = frameID{flowID: f.FlowID, revision: f.Revision}
		}
		if actions, ok := s.frames.get(id); ok {
			return actions, nil
		}
		var actions Actions
		q := s.conn(ctx).Model(&ActiveflowFrame{}).Select("actions").Where("activeflow_id = ? AND frame_key = ?", a.ID, f.Key)
		if f.OfFlow() {
			q = s.conn(ctx).Model(&FlowRevision{}).Select("actions").
				Where("flow_id = ? AND revision = ? AND customer_id = ?", f.FlowID, f.Revision, a.CustomerID)
		}
		err := q.Limit(1).Row().Scan(&actions)
		if errors.Is(err, sql.ErrNoRows) {
			return nil, fmt.Errorf("the actions of frame %+v are not stored", id)
		}
		if err != nil {
			return nil, classify(err)
		}
		s.frames.put(id, actions)
		return actions, nil
	})
}

// frameRows are the rows of the action lists a write stores with its state.
func frameRows(a *Activeflow) []ActiveflowFrame {
	frames := a.State.NewFrames()
	out := make([]ActiveflowFrame, len(frames))
	for i, f := range frames {
		out[i] = ActiveflowFrame{ActiveflowID: a.ID, Key: f.Key, Source: f.Source, Actions: f.Actions}
	}
	return out
}

// actionRows are the rows of the actions executed that a write appends.
func actionRows(a *Activeflow) ([]ActiveflowAction, error) {
	unsaved := a.State.Unsaved()
	out := make([]ActiveflowAction, len(unsaved))
	for i := range unsaved {
		row, err := NewActiveflowAction(a.ID, a.CustomerID, &unsaved[i])
		if err != nil {
			return nil, err
		}
		out[i] = row
	}
	return out, nil
}

// LoadActiveflowHistory puts the actions a.State ran before it was read (rows of activeflow_actions) ahead of
// those it ran since, so that its Executed is the whole history, as GET answers it.
func (s *Store) LoadActiveflowHistory(ctx context.Context, a *Activeflow) error {
	rows, err := s.ActiveflowActions(ctx, a.ID)
	if err != nil {
		return err
	}
	a.State.WithHistory(rows)
	return nil
}

// loadHistories is LoadActiveflowHistory for a page of activeflows, in one query.
func (s *Store) loadHistories(ctx context.Context, list []Activeflow) error {
	ids := make([]uuid.UUID, len(list))
	for i := range list {
		ids[i] = list[i].ID
	}
	rows, err := s.activeflowActionsOf(ctx, ids)
	if err != nil {
		return err
	}
	for i := range list {
		list[i].State.WithHistory(rows[list[i].ID])
	}
	return nil
}
