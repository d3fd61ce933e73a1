package sip

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/emiago/diago"
	"github.com/emiago/diago/media"
	"github.com/emiago/diago/media/sdp"
	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"
	"github.com/google/uuid"

	"github.com/flowbin/flowbin/outbound"
)

// Config configures a Runner.
type Config struct {
	// ListenAddr is where SIP is heard, over UDP and TCP, such as "127.0.0.1:5060" (port 0: a free port).
	ListenAddr string
	// PublicAddr is the address written in Contact and SDP (host or host:port); ListenAddr's when empty.
	PublicAddr string
	// RTPPortMin and RTPPortMax bound the ports of the calls' media (both 0: any port). diago keeps the range
	// process-wide, so every Runner of a process shares the last one set.
	RTPPortMin, RTPPortMax int
	// Trunk is the host[:port] that tel destinations are dialled through ("" refuses them).
	Trunk string

	Directory Directory
	Ledger    Ledger
	Flows     Flows
	// Speaker synthesises talk; espeak-ng on PATH when nil.
	Speaker Speaker
	// Fetch is the guarded outbound client that play fetches its files with; play fails without one.
	Fetch *outbound.Client
	// RecordingDir is where recording_start writes its WAV files; recordings are refused when empty.
	RecordingDir string

	// MaxCalls caps the calls in progress on this instance (503 beyond); MaxCallsPerCustomer caps each customer's
	// (486 beyond). 0 means the defaults, 1000 and 200.
	MaxCalls, MaxCallsPerCustomer int
	// MaxPlayBytes bounds a file that play fetches (default 8 MiB); AudioCacheBytes the cache of synthesised and
	// fetched audio (default 64 MiB).
	MaxPlayBytes, AudioCacheBytes int
	// RingTimeout bounds how long an outbound call rings before it counts as noanswer (default 30 s).
	RingTimeout time.Duration
	// LeaseTTL is how long the lease of this runner's calls holds without renewal when the Ledger offers Leases
	// (default 30 s): the runner renews it every third of it, and a call of a runner lost for longer is ended by
	// any other. It must exceed the clock skew between instances by a wide margin.
	LeaseTTL time.Duration

	Metrics *Metrics
	Log     *slog.Logger
}

func (c Config) withDefaults() Config {
	if c.MaxCalls <= 0 {
		c.MaxCalls = 1000
	}
	if c.MaxCallsPerCustomer <= 0 {
		c.MaxCallsPerCustomer = 200
	}
	if c.MaxPlayBytes <= 0 {
		c.MaxPlayBytes = 8 << 20
	}
	if c.AudioCacheBytes <= 0 {
		c.AudioCacheBytes = 64 << 20
	}
	if c.RingTimeout <= 0 {
		c.RingTimeout = 30 * time.Second
	}
	if c.LeaseTTL <= 0 {
		c.LeaseTTL = 30 * time.Second
	}
	if c.Speaker == nil {
		c.Speaker = Espeak{}
	}
	if c.Log == nil {
		c.Log = slog.Default()
	}
	if c.Metrics == nil {
		c.Metrics = NewMetrics(nil)
	}
	return c
}

var stackLoggers sync.Once

// Runner answers and places calls and runs their flows.
type Runner struct {
	id    uuid.UUID // this runner, in its calls' leases
	cfg   Config
	log   *slog.Logger
	ua    *sipgo.UserAgent
	dg    *diago.Diago
	addr  netip.AddrPort
	audio *audioCache

	mu         sync.Mutex
	calls      map[uuid.UUID]*call // by call id
	bySIPID    map[string]*call    // by SIP Call-ID
	byCustomer map[uuid.UUID]int
	inbound    atomic.Int64 // calls counted against MaxCalls
	draining   atomic.Bool
	wg         sync.WaitGroup

	base   context.Context // the runner's life; cancelled by Shutdown
	cancel context.CancelFunc

	leases      Leases             // nil when the Ledger offers none
	leaseCancel context.CancelFunc // stops the lease loop
	leaseDone   chan struct{}      // closed when the lease loop has returned
}

// New builds a Runner; Start listens.
func New(cfg Config) (*Runner, error) {
	cfg = cfg.withDefaults()
	if cfg.Directory == nil || cfg.Ledger == nil || cfg.Flows == nil {
		return nil, errors.New("sip: Directory, Ledger and Flows are required")
	}
	host, port, err := splitHostPort(cfg.ListenAddr)
	if err != nil {
		return nil, fmt.Errorf("sip: listen address %q: %w", cfg.ListenAddr, err)
	}
	if port == 0 {
		if port, err = freePort(host); err != nil {
			return nil, err
		}
	}
	addr, err := netip.ParseAddrPort(net.JoinHostPort(host, strconv.Itoa(port)))
	if err != nil {
		return nil, fmt.Errorf("sip: listen address must be an IP address and port: %w", err)
	}
	pubHost, pubPort := host, port
	if cfg.PublicAddr != "" {
		h, p, err := splitHostPort(cfg.PublicAddr)
		if err != nil {
			h, p = cfg.PublicAddr, port
		}
		if p == 0 {
			p = port
		}
		pubHost, pubPort = h, p
	}
	if cfg.RTPPortMin > 0 && cfg.RTPPortMax > cfg.RTPPortMin {
		media.RTPPortStart, media.RTPPortEnd = cfg.RTPPortMin, cfg.RTPPortMax
	}

	ua, err := sipgo.NewUA(sipgo.WithUserAgent("flowbin"))
	if err != nil {
		return nil, fmt.Errorf("sip: user agent: %w", err)
	}
	r := &Runner{
		id:  uuid.New(),
		cfg: cfg, log: cfg.Log.With("component", "sip"), ua: ua, addr: addr,
		audio: newAudioCache(cfg.AudioCacheBytes),
		calls: map[uuid.UUID]*call{}, bySIPID: map[string]*call{}, byCustomer: map[uuid.UUID]int{},
	}
	r.base, r.cancel = context.WithCancel(context.Background())
	r.leases, _ = cfg.Ledger.(Leases)
	// diago logs every call's life at Info; the runner logs what matters itself.
	dlog := slog.New(levelHandler{min: slog.LevelWarn, h: cfg.Log.Handler()})
	// The stack's packages log through process-wide loggers too (RTCP reports, unparsable datagrams): the first
	// runner of the process sets them.
	stackLoggers.Do(func() {
		media.SetDefaultLogger(dlog)
		sip.SetDefaultLogger(dlog)
	})
	srv, err := sipgo.NewServer(ua, sipgo.WithServerLogger(dlog))
	if err != nil {
		return nil, fmt.Errorf("sip: server: %w", err)
	}
	opts := []diago.DiagoOption{
		diago.WithLogger(dlog),
		diago.WithServer(srv),
		diago.WithServerRequestMiddleware(r.middleware),
		diago.WithMediaConfig(diago.MediaConfig{
			Codecs: []media.Codec{media.CodecAudioUlaw, media.CodecAudioAlaw, media.CodecTelephoneEvent8000},
		}),
	}
	for _, network := range []string{"udp", "tcp"} {
		opts = append(opts, diago.WithTransport(diago.Transport{
			Transport: network, BindHost: host, BindPort: port,
			ExternalHost: pubHost, ExternalPort: pubPort,
		}))
	}
	r.dg = diago.NewDiago(ua, opts...)
	return r, nil
}

// Addr is the address SIP is heard on.
func (r *Runner) Addr() netip.AddrPort { return r.addr }

// Start listens on UDP and TCP and serves calls until Shutdown.
func (r *Runner) Start(ctx context.Context) error {
	if err := r.dg.ServeBackground(r.base, r.serve); err != nil {
		return fmt.Errorf("sip: listen on %s: %w", r.addr, err)
	}
	r.log.Info("sip listening", "addr", r.addr.String())
	if r.leases != nil {
		var lctx context.Context
		lctx, r.leaseCancel = context.WithCancel(r.base)
		r.leaseDone = make(chan struct{})
		go r.leaseLoop(lctx)
	}
	return nil
}

// leaseLoop renews the lease of this runner's calls every third of LeaseTTL, and then ends the calls of
// runners that were lost (their leases expired), until ctx ends. Renewal comes first, so that a runner never
// finds its own calls expired.
func (r *Runner) leaseLoop(ctx context.Context) {
	defer close(r.leaseDone)
	tick := time.NewTicker(r.cfg.LeaseTTL / 3)
	defer tick.Stop()
	for {
		wctx, cancel := context.WithTimeout(ctx, r.cfg.LeaseTTL/3)
		if err := r.leases.RenewLeases(wctx, r.id, time.Now().Add(r.cfg.LeaseTTL)); err != nil && ctx.Err() == nil {
			r.log.Warn("renew the leases of calls", "err", err)
		}
		n, err := r.leases.ReapCalls(wctx)
		cancel()
		if err != nil && ctx.Err() == nil {
			r.log.Warn("end the calls of lost runners", "err", err)
		}
		if n > 0 {
			r.log.Warn("ended the calls of a lost runner", "calls", n)
			r.cfg.Metrics.Reaped.Add(float64(n))
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// stopLeases stops the lease loop and waits for it.
func (r *Runner) stopLeases() {
	if r.leaseCancel != nil {
		r.leaseCancel()
		<-r.leaseDone
	}
}

// ID is this runner's id, written in the leases of its calls.
func (r *Runner) ID() uuid.UUID { return r.id }

// Shutdown refuses new calls (503), lets the calls in progress end until ctx is done, then hangs up those left
// and waits for their records and activeflows to be closed.
func (r *Runner) Shutdown(ctx context.Context) error {
	r.draining.Store(true)
	done := make(chan struct{})
	go func() { r.wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
		r.mu.Lock()
		for _, c := range r.calls {
			c.terminate(HangupReasonNormal)
		}
		r.mu.Unlock()
		<-done
	}
	// The calls have ended and written so: their leases matter no more.
	r.stopLeases()
	r.cancel()
	r.ua.Close()
	return nil
}

// Active answers the number of calls in progress.
func (r *Runner) Active() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.calls)
}

// Hangup hangs up a call held by this instance (ErrCallNotHere otherwise).
func (r *Runner) Hangup(ctx context.Context, customerID, callID uuid.UUID) error {
	r.mu.Lock()
	c, ok := r.calls[callID]
	r.mu.Unlock()
	if !ok || c.rec.CustomerID != customerID {
		return ErrCallNotHere
	}
	c.terminate(HangupReasonNormal)
	return nil
}

// middleware sees every request before diago: it answers what diago would get wrong (INFO digits, INVITEs that
// cannot be served) so that diago only ever answers calls the runner can run.
func (r *Runner) middleware(next sipgo.RequestHandler) sipgo.RequestHandler {
	return func(req *sip.Request, tx sip.ServerTransaction) {
		// A request that trips a bug in the stack (or ours) is answered 500 and the process goes on.
		defer func() {
			if v := recover(); v != nil {
				r.log.Error("sip request handler panicked", "method", req.Method.String(), "panic", v)
				r.cfg.Metrics.rejected(sip.StatusInternalServerError, reasonServerError)
				_ = tx.Respond(sip.NewResponseFromRequest(req, sip.StatusInternalServerError, "Server Error", nil))
			}
		}()
		switch req.Method {
		case sip.INFO:
			r.handleInfo(req, tx)
			return
		case sip.INVITE:
			if to := req.To(); to != nil {
				if _, ok := to.Params.Get("tag"); ok {
					break // a re-INVITE of a call in progress: diago's
				}
			}
			if f := r.admit(req); f.code != 0 {
				r.cfg.Metrics.rejected(f.code, f.reason)
				res := sip.NewResponseFromRequest(req, f.code, f.phrase, nil)
				for _, h := range f.headers() {
					res.AppendHeader(h)
				}
				_ = tx.Respond(res)
				return
			}
		}
		next(req, tx)
	}
}

// refusal is the answer to an INVITE the runner will not serve: its SIP status and reason phrase, the metrics'
// reason, and the Retry-After of a 503.
type refusal struct {
	code       int
	phrase     string
	reason     string
	retryAfter time.Duration
}

func (f refusal) headers() []sip.Header {
	if f.retryAfter <= 0 {
		return nil
	}
	return []sip.Header{sip.NewHeader("Retry-After", strconv.Itoa(int(f.retryAfter/time.Second)))}
}

// refusalOf is the SIP answer to each of the runner's refusals (ErrInstanceFull, ErrCustomerFull,
// ErrShuttingDown).
func refusalOf(err error) refusal {
	switch {
	case errors.Is(err, ErrShuttingDown):
		return refusal{sip.StatusServiceUnavailable, "Shutting Down", reasonShuttingDown, RetryAfterShutdown}
	case errors.Is(err, ErrCustomerFull):
		return refusal{sip.StatusBusyHere, "Busy Here", reasonCustomerFull, 0}
	case errors.Is(err, ErrInstanceFull):
		return refusal{sip.StatusServiceUnavailable, "Too Many Calls", reasonInstanceFull, RetryAfterFull}
	}
	return refusal{sip.StatusInternalServerError, "Server Error", reasonServerError, 0}
}

// admission answers why the runner would not carry calls calls at once (ErrShuttingDown, ErrInstanceFull), or
// nil.
func (r *Runner) admission(calls int) error {
	if r.draining.Load() {
		return ErrShuttingDown
	}
	if calls > r.cfg.MaxCalls {
		return ErrInstanceFull
	}
	return nil
}

// admit answers the refusal of a new INVITE, or one with code 0 to let it through.
func (r *Runner) admit(req *sip.Request) refusal {
	if req.From() == nil || req.To() == nil || req.CallID() == nil || req.CSeq() == nil || req.Contact() == nil {
		return refusal{sip.StatusBadRequest, "Missing Mandatory Header", reasonBadRequest, 0}
	}
	if err := r.admission(int(r.inbound.Load()) + 1); err != nil {
		return refusalOf(err)
	}
	if code, phrase := checkOffer(req.Body()); code != 0 {
		reason := reasonNoCodec
		if code == sip.StatusBadRequest {
			reason = reasonBadRequest
		}
		return refusal{code, phrase, reason, 0}
	}
	return refusal{}
}

// checkOffer reads an INVITE's SDP offer: 400 when it cannot be read, 488 when it shares no codec with the
// runner (PCMU or PCMA over plain RTP), 0 when the call can be answered.
func checkOffer(body []byte) (int, string) {
	if len(body) == 0 {
		return sip.StatusNotAcceptableHere, "SDP Offer Required"
	}
	sd := sdp.SessionDescription{}
	if err := sdp.Unmarshal(body, &sd); err != nil {
		return sip.StatusBadRequest, "Malformed SDP"
	}
	if _, err := sd.SessionInformation(); err != nil {
		return sip.StatusBadRequest, "Malformed SDP"
	}
	md, err := sd.MediaDescription("audio")
	if err != nil {
		return sip.StatusNotAcceptableHere, "No Audio Offered"
	}
	if _, err := sd.ConnectionInformation(); err != nil {
		return sip.StatusBadRequest, "Malformed SDP"
	}
	if md.Proto != "RTP/AVP" {
		return sip.StatusNotAcceptableHere, "Only RTP/AVP"
	}
	for _, f := range md.Formats {
		if f == "0" || f == "8" {
			return 0, ""
		}
	}
	for _, v := range sd.Values("a") {
		low := strings.ToLower(v)
		if strings.HasPrefix(low, "rtpmap:") && (strings.Contains(low, " pcmu/8000") || strings.Contains(low, " pcma/8000")) {
			return 0, ""
		}
	}
	return sip.StatusNotAcceptableHere, "No Common Codec"
}

// handleInfo takes the digits of SIP INFO (application/dtmf-relay, application/dtmf) for the call they belong to.
func (r *Runner) handleInfo(req *sip.Request, tx sip.ServerTransaction) {
	var id string
	if h := req.CallID(); h != nil {
		id = h.Value()
	}
	r.mu.Lock()
	c := r.bySIPID[id]
	r.mu.Unlock()
	if c == nil {
		_ = tx.Respond(sip.NewResponseFromRequest(req, sip.StatusCallTransactionDoesNotExists, "Call/Transaction Does Not Exist", nil))
		return
	}
	ct := ""
	if h := req.ContentType(); h != nil {
		ct = h.Value()
	}
	d, ok := infoDigit(ct, req.Body())
	if !ok {
		_ = tx.Respond(sip.NewResponseFromRequest(req, sip.StatusUnsupportedMediaType, "Unsupported Media Type", nil))
		return
	}
	_ = tx.Respond(sip.NewResponseFromRequest(req, sip.StatusOK, "OK", nil))
	c.digit(d, "info")
}

// track adds a call to the runner's books (ErrCustomerFull when its customer has as many as it may); release
// removes it.
func (r *Runner) track(c *call, sipID string, inbound bool) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.byCustomer[c.rec.CustomerID] >= r.cfg.MaxCallsPerCustomer {
		return fmt.Errorf("%w (%d)", ErrCustomerFull, r.cfg.MaxCallsPerCustomer)
	}
	r.byCustomer[c.rec.CustomerID]++
	c.rec.RunnerID, c.rec.LeaseUntil = r.id, time.Now().Add(r.cfg.LeaseTTL).UTC()
	r.calls[c.rec.ID] = c
	if sipID != "" {
		r.bySIPID[sipID] = c
	}
	c.sipID = sipID
	c.inbound = inbound
	r.cfg.Metrics.Active.Inc()
	return nil
}

func (r *Runner) release(c *call) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, ok := r.calls[c.rec.ID]; !ok {
		return
	}
	delete(r.calls, c.rec.ID)
	delete(r.bySIPID, c.sipID)
	if r.byCustomer[c.rec.CustomerID]--; r.byCustomer[c.rec.CustomerID] <= 0 {
		delete(r.byCustomer, c.rec.CustomerID)
	}
	r.cfg.Metrics.Active.Dec()
}

func splitHostPort(s string) (string, int, error) {
	h, p, err := net.SplitHostPort(s)
	if err != nil {
		return "", 0, err
	}
	n, err := strconv.Atoi(p)
	if err != nil || n < 0 || n > 65535 {
		return "", 0, fmt.Errorf("bad port %q", p)
	}
	return h, n, nil
}

// freePort finds a port free for both UDP and TCP on host.
func freePort(host string) (int, error) {
	for range 20 {
		pc, err := net.ListenPacket("udp", net.JoinHostPort(host, "0"))
		if err != nil {
			return 0, fmt.Errorf("sip: find a free port: %w", err)
		}
		port := pc.LocalAddr().(*net.UDPAddr).Port
		l, err := net.Listen("tcp", net.JoinHostPort(host, strconv.Itoa(port)))
		pc.Close()
		if err == nil {
			l.Close()
			return port, nil
		}
	}
	return 0, errors.New("sip: no port free for both UDP and TCP")
}

// levelHandler drops records below min: diago and sipgo are chatty.
type levelHandler struct {
	min slog.Level
	h   slog.Handler
}

func (l levelHandler) Enabled(ctx context.Context, lv slog.Level) bool {
	return lv >= l.min && l.h.Enabled(ctx, lv)
}
func (l levelHandler) Handle(ctx context.Context, r slog.Record) error { return l.h.Handle(ctx, r) }
func (l levelHandler) WithAttrs(a []slog.Attr) slog.Handler {
	return levelHandler{min: l.min, h: l.h.WithAttrs(a)}
}
func (l levelHandler) WithGroup(n string) slog.Handler {
	return levelHandler{min: l.min, h: l.h.WithGroup(n)}
}
