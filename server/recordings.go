package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/flowbin/flowbin/gen"
	"github.com/flowbin/flowbin/store"
)

const (
	reasonRecordingInProgress   = "RECORDING_IN_PROGRESS"
	reasonRecordingFileNotFound = "RECORDING_FILE_NOT_FOUND"
	reasonRangeNotSatisfiable   = "RANGE_NOT_SATISFIABLE"
)

// ListRecordings answers one page of the caller's recordings.
func (s *Server) ListRecordings(ctx context.Context, req gen.ListRecordingsRequestObject) (gen.ListRecordingsResponseObject, error) {
	page, err := toPage(req.Params.PageSize, req.Params.PageToken)
	if err != nil {
		return nil, err
	}
	list, err := s.store.ListRecordings(ctx, principalFrom(ctx).CustomerID, page)
	if err != nil {
		return nil, err
	}
	out := make([]gen.Recording, len(list))
	for i := range list {
		out[i] = toAPIRecording(&list[i])
	}
	return gen.ListRecordings200JSONResponse{
		Result:        out,
		NextPageToken: nextPageToken(list, func(r *store.Recording) time.Time { return r.TMCreate }),
	}, nil
}

// GetRecording answers one of the caller's recordings.
func (s *Server) GetRecording(ctx context.Context, req gen.GetRecordingRequestObject) (gen.GetRecordingResponseObject, error) {
	r, err := s.store.GetRecording(ctx, principalFrom(ctx).CustomerID, req.Id)
	if err != nil {
		return nil, err
	}
	return gen.GetRecording200JSONResponse{RecordingJSONResponse: gen.RecordingJSONResponse(toAPIRecording(r))}, nil
}

// DeleteRecording deletes an ended recording and its file.
func (s *Server) DeleteRecording(ctx context.Context, req gen.DeleteRecordingRequestObject) (gen.DeleteRecordingResponseObject, error) {
	customerID := principalFrom(ctx).CustomerID
	var out *store.Recording
	err := s.store.InTx(ctx, func(ctx context.Context) error {
		r, err := s.store.GetRecording(ctx, customerID, req.Id)
		if err != nil {
			return err
		}
		if r.Status != store.RecordingEnded {
			return recordingInProgress(r)
		}
		now := s.store.Now()
		r.TMDelete = &now
		if err := s.store.SaveRecording(ctx, r); err != nil {
			return err
		}
		out = r
		return nil
	})
	if err != nil {
		return nil, err
	}
	// The record is deleted first: a file left behind by a failed removal is an orphan on disk, never a record
	// whose file is missing.
	if path, ok := s.recordingPath(out); ok {
		if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
			s.log.Warn("delete recording file", "recording_id", out.ID, "err", err)
		}
	}
	return gen.DeleteRecording200JSONResponse{RecordingJSONResponse: gen.RecordingJSONResponse(toAPIRecording(out))}, nil
}

// GetRecordingFile answers a recording's WAV file, with byte ranges.
func (s *Server) GetRecordingFile(ctx context.Context, req gen.GetRecordingFileRequestObject) (gen.GetRecordingFileResponseObject, error) {
	r, err := s.store.GetRecording(ctx, principalFrom(ctx).CustomerID, req.Id)
	if err != nil {
		return nil, err
	}
	if r.Status != store.RecordingEnded {
		return nil, recordingInProgress(r)
	}
	path, ok := s.recordingPath(r)
	if !ok {
		return nil, recordingFileNotFound(r)
	}
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, recordingFileNotFound(r)
	}
	if err != nil {
		return nil, err
	}
	info, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, err
	}
	return recordingFile{f: f, info: info, name: r.ID.String() + ".wav", rangeHeader: deref(req.Params.Range),
		etag: `"` + r.ID.String() + `-` + r.TMEnd.UTC().Format("20060102150405.000000") + `"`}, nil
}

// recordingFile is a recording's file as the answer: http.ServeContent writes it, with its ranges (206, 416)
// and validators, so that a browser's audio element can seek.
type recordingFile struct {
	f           *os.File
	info        fs.FileInfo
	name        string
	rangeHeader string
	etag        string
}

func (a recordingFile) VisitGetRecordingFileResponse(w http.ResponseWriter) error {
	defer a.f.Close()
	w.Header().Set("Content-Type", "audio/wav")
	w.Header().Set("Content-Disposition", `attachment; filename="`+a.name+`"`)
	w.Header().Set("Etag", a.etag)
	req := &http.Request{Method: http.MethodGet, Header: http.Header{}}
	if a.rangeHeader != "" {
		req.Header.Set("Range", a.rangeHeader)
	}
	rw := &rangeErrorWriter{ResponseWriter: w, size: a.info.Size()}
	http.ServeContent(rw, req, a.name, a.info.ModTime(), a.f)
	return nil
}

// rangeErrorWriter answers ServeContent's 416 in the error envelope instead of its plain text.
type rangeErrorWriter struct {
	http.ResponseWriter
	size    int64
	refused bool
}

func (w *rangeErrorWriter) WriteHeader(code int) {
	if code == http.StatusRequestedRangeNotSatisfiable {
		w.refused = true
		h := w.ResponseWriter.Header()
		h.Set("Content-Type", "application/json")
		h.Del("Content-Length")
		h.Del("Content-Disposition")
		w.ResponseWriter.WriteHeader(code)
		body, _ := json.Marshal(gen.Error{Error: gen.ErrorBody{Status: statusInvalidArgument, Reason: reasonRangeNotSatisfiable,
			Message: fmt.Sprintf("the range is outside the file's %d bytes", w.size), RequestId: h.Get("X-Request-Id")}})
		_, _ = w.ResponseWriter.Write(body)
		return
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *rangeErrorWriter) Write(b []byte) (int, error) {
	if w.refused {
		return len(b), nil
	}
	return w.ResponseWriter.Write(b)
}

// RecordingsDir is where the SIP runner writes recordings, under the data directory.
const RecordingsDir = "recordings"

// recordingPath is where a recording's file is: under the data directory, never outside it.
func (s *Server) recordingPath(r *store.Recording) (string, bool) {
	if r.Path == "" || !filepath.IsLocal(r.Path) {
		return "", false
	}
	return filepath.Join(s.cfg.DataDir, r.Path), true
}

// dataPath is a file's path relative to the data directory, as recordings keep it (so that the directory can
// move); a path outside the directory stays as it is, and is never served.
func (s *Server) dataPath(path string) string {
	if !filepath.IsAbs(path) {
		return path
	}
	dir, err := filepath.Abs(s.cfg.DataDir)
	if err != nil {
		return path
	}
	rel, err := filepath.Rel(dir, path)
	if err != nil || !filepath.IsLocal(rel) {
		return path
	}
	return rel
}

func recordingInProgress(r *store.Recording) *apiError {
	return newError(http.StatusConflict, statusFailedPrecondition, reasonRecordingInProgress, "recording %s has not ended", r.ID)
}

func recordingFileNotFound(r *store.Recording) *apiError {
	return newError(http.StatusNotFound, statusNotFound, reasonRecordingFileNotFound, "the file of recording %s is gone", r.ID)
}

func toAPIRecording(r *store.Recording) gen.Recording {
	status := gen.RecordingStatus(r.Status)
	return gen.Recording{
		Id: r.ID, CustomerId: r.CustomerID, OwnerType: "", ReferenceType: gen.RecordingReferenceTypeCall,
		ReferenceId: r.CallID, Status: status, Format: gen.RecordingFormat(r.Format), ActiveflowId: orZero(r.ActiveflowID),
		TmStart: formatTime(r.TMStart), TmEnd: formatTimePtr(r.TMEnd), TmCreate: formatTime(r.TMCreate),
		TmUpdate: formatTimePtr(r.TMUpdate), TmDelete: formatTimePtr(r.TMDelete),
	}
}
