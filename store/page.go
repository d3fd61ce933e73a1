package store

import (
	"fmt"
	"time"

	"gorm.io/gorm"
)

// MaxPageSize bounds every list page.
const MaxPageSize = 100

// Page selects one page of a list: at most Size items created strictly before Before (all items when Before is
// zero), newest first.
type Page struct {
	Size   int
	Before time.Time
}

func (p Page) size() int {
	if p.Size <= 0 || p.Size > MaxPageSize {
		return MaxPageSize
	}
	return p.Size
}

// listPage reads one keyset page. scope selects the rows of the list (customer, not deleted); created reads an
// item's tm_create.
//
// A page never ends inside a group of items that share one tm_create: the next page starts strictly before the
// last item's tm_create, so such a split would skip the rest of the group. The page stops before the group
// instead, or, when the group alone is larger than the page, holds the whole group.
//
// conn must be a new session (such as Store.conn returns): both queries start from it.
func listPage[T any](conn *gorm.DB, scope func(*gorm.DB) *gorm.DB, p Page, created func(*T) time.Time) ([]T, error) {
	size := p.size()
	q := scope(conn)
	if !p.Before.IsZero() {
		q = q.Where("tm_create < ?", p.Before.UTC())
	}
	var rows []T
	if err := q.Order("tm_create DESC, id DESC").Limit(size + 1).Find(&rows).Error; err != nil {
		return nil, fmt.Errorf("list page: %w", classify(err))
	}
	if len(rows) <= size {
		return rows, nil
	}
	boundary := created(&rows[size])
	if !created(&rows[size-1]).Equal(boundary) {
		return rows[:size], nil
	}
	cut := size - 1
	for cut > 0 && created(&rows[cut-1]).Equal(boundary) {
		cut--
	}
	if cut > 0 {
		return rows[:cut], nil
	}
	var group []T
	err := scope(conn).Where("tm_create = ?", boundary).Order("id DESC").Find(&group).Error
	if err != nil {
		return nil, fmt.Errorf("list page group: %w", classify(err))
	}
	return group, nil
}
