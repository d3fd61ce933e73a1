package server

import (
	"net/http"
	"strconv"
	"strings"

	"github.com/flowbin/flowbin/auth"
	"github.com/flowbin/flowbin/gen"
	"github.com/flowbin/flowbin/store"
)

// etag is the strong entity tag of a flow at a revision. The revision alone identifies the representation:
// every change of the flow is a new revision.
func etag(revision int) string { return `"r` + strconv.Itoa(revision) + `"` }

// entityTags splits an If-Match or If-None-Match value into its tags, and reports "*". Weak tags (W/"…") are
// returned with weak set.
func entityTags(header string) (tags []string, weak []bool, any bool) {
	for _, part := range strings.Split(header, ",") {
		part = strings.TrimSpace(part)
		switch {
		case part == "*":
			any = true
		case strings.HasPrefix(part, `W/"`):
			tags, weak = append(tags, part[2:]), append(weak, true)
		case strings.HasPrefix(part, `"`):
			tags, weak = append(tags, part), append(weak, false)
		}
	}
	return tags, weak, any
}

// revisionOf reads the revision of one of our tags, or -1.
func revisionOf(tag string) int {
	if !strings.HasPrefix(tag, `"r`) || !strings.HasSuffix(tag, `"`) {
		return -1
	}
	n, err := strconv.Atoi(tag[2 : len(tag)-1])
	if err != nil || n < 1 {
		return -1
	}
	return n
}

// ifMatch turns If-Match into the store's condition. If-Match compares strongly: weak tags never match. When the
// operator requires If-Match, its absence is 428.
func (s *Server) ifMatch(header *gen.IfMatch) (*store.Match, error) {
	if header == nil {
		if s.cfg.RequireIfMatch {
			return nil, newError(http.StatusPreconditionRequired, statusFailedPrecondition, reasonIfMatchRequired,
				"send the ETag you read as If-Match: this server refuses unconditional changes")
		}
		return nil, nil
	}
	tags, weak, any := entityTags(*header)
	m := &store.Match{Any: any, Revisions: []int{}}
	for i, t := range tags {
		if n := revisionOf(t); n > 0 && !weak[i] {
			m.Revisions = append(m.Revisions, n)
		}
	}
	return m, nil
}

// noneMatch reports whether If-None-Match holds the current revision (weak comparison), or "*".
func noneMatch(header string, revision int) bool {
	tags, _, any := entityTags(header)
	if any {
		return true
	}
	for _, t := range tags {
		if revisionOf(t) == revision {
			return true
		}
	}
	return false
}

// author is who a revision is written by: the user of a login token, or the access key.
func author(p auth.Principal) store.Author {
	if p.AccessKeyID != [16]byte{} {
		return store.Author{Type: "accesskey", ID: p.AccessKeyID, Name: p.AccessKeyName}
	}
	return store.Author{Type: "user", ID: p.UserID, Name: p.Username}
}
