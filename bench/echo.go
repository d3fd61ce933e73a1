package main

import (
	"context"
	"errors"
	"net"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"
)

// bareEcho is the floor of an HTTP answer in flowbin's stack: an Echo v4 server on loopback, in this process,
// whose one route answers GET /v1.0/flows/:id with a fixed JSON body (no authentication, no store, no cache
// lookup). flowbin's cached GET is compared with it.
type bareEcho struct {
	base string
	srv  *http.Server
	done chan struct{}
}

func startBareEcho(body []byte) (*bareEcho, error) {
	e := echo.New()
	e.HideBanner, e.HidePort = true, true
	e.GET("/v1.0/flows/:id", func(c echo.Context) error {
		return c.Blob(http.StatusOK, echo.MIMEApplicationJSON, body)
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	b := &bareEcho{base: "http://" + ln.Addr().String(), srv: &http.Server{Handler: e, ReadHeaderTimeout: 5 * time.Second},
		done: make(chan struct{})}
	go func() {
		defer close(b.done)
		if err := b.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			logf("bare Echo server: %v", err)
		}
	}()
	return b, nil
}

func (b *bareEcho) stop() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = b.srv.Shutdown(ctx)
	<-b.done
}
