package server

import (
	"bytes"
	"context"
	"time"

	flowbin "github.com/flowbin/flowbin"
	"github.com/flowbin/flowbin/gen"
)

// GetHealth answers while the process serves HTTP.
func (s *Server) GetHealth(context.Context, gen.GetHealthRequestObject) (gen.GetHealthResponseObject, error) {
	return gen.GetHealth200JSONResponse{Status: gen.Ok}, nil
}

// Ping answers as VoIPbin's GET /ping does, for VoIPbin's tools and monitors.
func (s *Server) Ping(context.Context, gen.PingRequestObject) (gen.PingResponseObject, error) {
	return gen.Ping200JSONResponse{Message: gen.PongMessagePong}, nil
}

// readinessTimeout bounds the database ping of a readiness probe.
const readinessTimeout = 2 * time.Second

// GetReadiness answers 200 when the database answers, 503 otherwise.
func (s *Server) GetReadiness(ctx context.Context, _ gen.GetReadinessRequestObject) (gen.GetReadinessResponseObject, error) {
	ctx, cancel := context.WithTimeout(ctx, readinessTimeout)
	defer cancel()
	if err := s.store.Ping(ctx); err != nil {
		return nil, err
	}
	return gen.GetReadiness200JSONResponse{Status: gen.Ok}, nil
}

// GetOpenAPIYAML answers the spec exactly as it is kept in the repository.
func (s *Server) GetOpenAPIYAML(context.Context, gen.GetOpenAPIYAMLRequestObject) (gen.GetOpenAPIYAMLResponseObject, error) {
	spec := flowbin.OpenAPIYAML()
	return gen.GetOpenAPIYAML200ApplicationyamlResponse{Body: bytes.NewReader(spec), ContentLength: int64(len(spec))}, nil
}

// GetOpenAPIJSON answers the spec as JSON.
func (s *Server) GetOpenAPIJSON(context.Context, gen.GetOpenAPIJSONRequestObject) (gen.GetOpenAPIJSONResponseObject, error) {
	return gen.GetOpenAPIJSON200JSONResponse(s.specJSON), nil
}
