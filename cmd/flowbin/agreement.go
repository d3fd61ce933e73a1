package main

import (
	"context"
	"encoding/hex"
	"log/slog"
	"slices"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/crypto/argon2"

	"github.com/flowbin/flowbin/internal/metrics"
	"github.com/flowbin/flowbin/outbound"
	"github.com/flowbin/flowbin/store"
)

// Settings that every instance on one database must share, by the name their fingerprints are recorded under: an
// instance with a stricter outbound allow list claims messages and records refused attempts that the others would
// have delivered; one with another server secret cannot verify the others' tokens nor open the webhook secrets
// they sealed, so its deliveries fail to sign.
const (
	settingOutboundAllow = "outbound_allow" // FLOWBIN_OUTBOUND_ALLOW, as parsed and sorted
	settingServerSecret  = "server_secret"  // FLOWBIN_JWT_SECRET, or the one kept in the database
)

// agreementEvery is how often a running instance compares its settings with the last one recorded.
const agreementEvery = time.Minute

// fingerprint is what the database keeps of a setting: a memory-hard hash (Argon2id) of its name and value, so
// that a backup cannot be used to guess a weak secret quickly, and equal values give equal fingerprints.
func fingerprint(name, value string) string {
	return "argon2id:" + hex.EncodeToString(argon2.IDKey([]byte(value), []byte("flowbin setting fingerprint/"+name), 2, 16<<10, 1, 16))
}

// sharedSettings are the fingerprints of this instance's shared settings.
func sharedSettings(allow outbound.Allow, serverSecret string) map[string]string {
	var items []string
	for _, p := range allow.Prefixes {
		items = append(items, p.String())
	}
	items = append(items, allow.HostPorts...)
	slices.Sort(items)
	items = slices.Compact(items)
	canonical := ""
	for _, it := range items {
		canonical += it + ","
	}
	return map[string]string{
		settingOutboundAllow: fingerprint(settingOutboundAllow, canonical),
		settingServerSecret:  fingerprint(settingServerSecret, serverSecret),
	}
}

// agreement checks this instance's shared settings against the database: at start (recording its own), then every
// agreementEvery while ctx lasts. A difference is logged at ERROR, naming the setting (never its value), and
// flowbin_settings_disagree{setting} is 1 while it lasts. It does not refuse to start: a rolling change of a
// setting must be able to start its first instance.
type agreement struct {
	st    *store.Store
	log   *slog.Logger
	mine  map[string]string
	gauge *prometheus.GaugeVec
}

func newAgreement(st *store.Store, log *slog.Logger, m *metrics.Metrics, mine map[string]string) (*agreement, error) {
	a := &agreement{st: st, log: log, mine: mine, gauge: prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "flowbin_settings_disagree",
		Help: "1 while a setting that every instance on the database must share differs from the one the last instance to start recorded.",
	}, []string{"setting"})}
	for name := range mine {
		a.gauge.WithLabelValues(name).Set(0)
	}
	if m != nil {
		if err := m.Register(a.gauge); err != nil {
			return nil, err
		}
	}
	return a, nil
}

// atStart records this instance's fingerprints and reports what differed from the ones recorded before.
func (a *agreement) atStart(ctx context.Context) error {
	for _, name := range []string{settingOutboundAllow, settingServerSecret} {
		prev, err := a.st.RecordFingerprint(ctx, name, a.mine[name])
		if err != nil {
			return err
		}
		if prev != "" && prev != a.mine[name] {
			a.gauge.WithLabelValues(name).Set(1)
			a.log.Error("SETTING DIFFERS FROM THE OTHER INSTANCES ON THIS DATABASE: every instance must use the same one; "+
				"until they do, deliveries and logins may fail on some instances (docs/operations.md, Several instances)",
				"setting", envName(name), "at", "start")
		}
	}
	return nil
}

// watch compares, every agreementEvery, this instance's fingerprints with the last recorded, until ctx ends.
func (a *agreement) watch(ctx context.Context, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		for name, mine := range a.mine {
			got, err := a.st.Fingerprint(ctx, name)
			if err != nil {
				continue // the database is away: /readyz says so
			}
			if got != "" && got != mine {
				a.gauge.WithLabelValues(name).Set(1)
				a.log.Error("SETTING DIFFERS FROM THE OTHER INSTANCES ON THIS DATABASE: an instance started since with another one; "+
					"every instance must use the same one (docs/operations.md, Several instances)", "setting", envName(name))
			} else {
				a.gauge.WithLabelValues(name).Set(0)
			}
		}
	}
}

func envName(setting string) string {
	if setting == settingOutboundAllow {
		return "FLOWBIN_OUTBOUND_ALLOW"
	}
	return "FLOWBIN_JWT_SECRET"
}
