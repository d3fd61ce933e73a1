package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"

	"github.com/flowbin/flowbin/auth"
	"github.com/flowbin/flowbin/store"
)

// userEnv is what a user command works with: the configured store and the standard streams.
type userEnv struct {
	cfg    config
	log    *slog.Logger
	st     *store.Store
	stdin  io.Reader
	stdout io.Writer
}

// withStore reads the configuration, opens the store (migrating it as FLOWBIN_MIGRATE says) and runs fn with it.
// It says on standard error which database it opened, and never creates one: a user command run from the wrong
// folder would otherwise work on a new, empty SQLite file there.
func (p *program) withStore(ctx context.Context, fn func(userEnv) error) error {
	cfg, log, err := p.setup()
	if err != nil {
		return err
	}
	where := "PostgreSQL " + store.RedactURL(cfg.DatabaseURL)
	if cfg.DatabaseURL == "" {
		path, err := filepath.Abs(cfg.sqlitePath())
		if err != nil {
			return err
		}
		if _, err := os.Stat(path); err != nil {
			return fmt.Errorf("no database at %s (%w): set FLOWBIN_DATA_DIR to the folder of the server's flowbin.db, "+
				"or FLOWBIN_DATABASE_URL to its PostgreSQL database; or run `flowbin migrate` to create a new one", path, errors.Unwrap(err))
		}
		where = "SQLite " + path
	}
	st, err := openStore(ctx, cfg, log, cfg.Migrate, nil)
	if err != nil {
		return err
	}
	defer st.Close()
	fmt.Fprintf(p.stderr, "database: %s\n", where)
	return fn(userEnv{cfg: cfg, log: log, st: st, stdin: p.stdin, stdout: p.stdout})
}

// userAdd runs "flowbin user add": a user of the customer (created when new), with the password of standard input.
func userAdd(ctx context.Context, e userEnv, customer, username string) error {
	hash, err := passwordHash(e)
	if err != nil {
		return err
	}
	if _, err := e.st.CreateUser(ctx, customer, username, hash); err != nil {
		if errors.Is(err, store.ErrConflict) {
			return fmt.Errorf("user add: the username %q is taken", username)
		}
		return err
	}
	_, err = fmt.Fprintf(e.stdout, "created user %s of customer %s\n", username, customer)
	return err
}

// userPasswd runs "flowbin user passwd": the user's new password is the first line of standard input.
func userPasswd(ctx context.Context, e userEnv, username string) error {
	hash, err := passwordHash(e)
	if err != nil {
		return err
	}
	if err := e.st.SetPassword(ctx, username, hash); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return fmt.Errorf("user passwd: no user %q", username)
		}
		return err
	}
	_, err = fmt.Fprintf(e.stdout, "changed the password of %s\n", username)
	return err
}

// userList runs "flowbin user list": a table of every user.
func userList(ctx context.Context, e userEnv) error {
	users, err := e.st.ListUsers(ctx)
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "USERNAME\tCUSTOMER\tCUSTOMER ID\tCREATED\tSTATUS")
	for _, u := range users {
		status := "active"
		if u.TMDisable != nil {
			status = "disabled"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", u.Username, u.CustomerName, u.CustomerID,
			u.TMCreate.UTC().Format("2006-01-02 15:04:05"), status)
	}
	return tw.Flush()
}

// userChanges are the user subcommands that change a user without a password. Each revokes the user's login
// tokens at once, on every instance (see docs/security.md).
var userChanges = []struct {
	name, short string
	do          func(*store.Store, context.Context, string) error
	done        string
}{
	{"logout", "Revoke a user's login tokens (access keys still work)", (*store.Store).LogoutUser,
		"logged %s out: their login tokens are revoked; their access keys still work"},
	{"disable", "Revoke a user's login tokens, refuse their logins and the access keys they created", (*store.Store).DisableUser,
		"disabled %s: their login tokens are revoked, they cannot log in, their access keys are refused"},
	{"enable", "Undo disable", (*store.Store).EnableUser,
		"enabled %s: they may log in again, and their access keys work again"},
	{"remove", "Remove a user (its customer and flows stay); its tokens and access keys are refused", (*store.Store).DeleteUser,
		"removed %s: their login tokens and the access keys they created are refused"},
}

// userChange runs one of userChanges on the named user.
func userChange(ctx context.Context, e userEnv, name, username string) error {
	for _, c := range userChanges {
		if c.name != name {
			continue
		}
		if err := c.do(e.st, ctx, username); err != nil {
			if errors.Is(err, store.ErrNotFound) {
				return fmt.Errorf("user %s: no user %q", name, username)
			}
			return err
		}
		_, err := fmt.Fprintf(e.stdout, c.done+"\n", username)
		return err
	}
	return fmt.Errorf("user: no subcommand %q", name)
}

// passwordHash reads the password from standard input and hashes it at the configured cost.
func passwordHash(e userEnv) (string, error) {
	password, err := readPassword(e.stdin)
	if err != nil {
		return "", err
	}
	if err := auth.CheckNewPassword(password); err != nil {
		return "", err
	}
	passwords, err := auth.NewPasswords(e.cfg.BcryptCost)
	if err != nil {
		return "", err
	}
	return passwords.Hash(password)
}

// readPassword reads the first line of r.
func readPassword(r io.Reader) (string, error) {
	line, err := bufio.NewReader(r).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return "", fmt.Errorf("read password: %w", err)
	}
	password := strings.TrimRight(line, "\r\n")
	if password == "" {
		return "", errors.New("read password: standard input is empty")
	}
	return password, nil
}
