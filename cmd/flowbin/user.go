package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"text/tabwriter"

	"github.com/flowbin/flowbin/auth"
	"github.com/flowbin/flowbin/store"
)

// userSubcommands are what "flowbin user" does.
const userSubcommands = "add, list, passwd, logout, disable, enable or remove"

// userCommand runs "flowbin user add|list|passwd|logout|disable|enable|remove". Every change but add revokes the
// user's login tokens at once, on every instance (see docs/security.md).
func userCommand(ctx context.Context, cfg config, log *slog.Logger, args []string, stdin io.Reader, stdout io.Writer) error {
	if len(args) == 0 {
		return usageError{errors.New("user: want " + userSubcommands)}
	}
	sub, args := args[0], args[1:]
	var customer, username string
	var fromStdin bool
	var parse func() error
	switch sub {
	case "add":
		parse = func() error {
			return flags("user add", args, func(fs *flag.FlagSet) {
				fs.StringVar(&customer, "customer", "", "customer name (created when new)")
				fs.StringVar(&username, "username", "", "user name")
				fs.BoolVar(&fromStdin, "password-stdin", false, "read the password from standard input")
			})
		}
	case "passwd":
		parse = func() error {
			return flags("user passwd", args, func(fs *flag.FlagSet) {
				fs.StringVar(&username, "username", "", "user name")
				fs.BoolVar(&fromStdin, "password-stdin", false, "read the password from standard input")
			})
		}
	case "list":
		parse = func() error { return flags("user list", args, func(*flag.FlagSet) {}) }
	case "logout", "disable", "enable", "remove":
		parse = func() error {
			return flags("user "+sub, args, func(fs *flag.FlagSet) {
				fs.StringVar(&username, "username", "", "user name")
			})
		}
	default:
		return usageError{fmt.Errorf("user: unknown subcommand %q; want %s", sub, userSubcommands)}
	}
	if err := parse(); err != nil {
		return err
	}
	if sub != "list" {
		if username == "" || (sub == "add" && customer == "") {
			return usageError{fmt.Errorf("user %s: --username%s are required", sub, map[bool]string{true: " and --customer"}[sub == "add"])}
		}
		if !fromStdin && (sub == "add" || sub == "passwd") {
			return usageError{fmt.Errorf("user %s: pass --password-stdin and write the password to standard input", sub)}
		}
	}

	st, err := openStore(ctx, cfg, log, cfg.Migrate)
	if err != nil {
		return err
	}
	defer st.Close()

	if sub == "list" {
		users, err := st.ListUsers(ctx)
		if err != nil {
			return err
		}
		tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
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
	if change, ok := userChanges[sub]; ok {
		if err := change.do(st, ctx, username); err != nil {
			if errors.Is(err, store.ErrNotFound) {
				return fmt.Errorf("user %s: no user %q", sub, username)
			}
			return err
		}
		fmt.Fprintf(stdout, change.done+"\n", username)
		return nil
	}

	password, err := readPassword(stdin)
	if err != nil {
		return err
	}
	passwords, err := auth.NewPasswords(cfg.BcryptCost)
	if err != nil {
		return err
	}
	hash, err := passwords.Hash(password)
	if err != nil {
		return err
	}
	switch sub {
	case "add":
		if _, err := st.CreateUser(ctx, customer, username, hash); err != nil {
			if errors.Is(err, store.ErrConflict) {
				return fmt.Errorf("user add: the username %q is taken", username)
			}
			return err
		}
		fmt.Fprintf(stdout, "created user %s of customer %s\n", username, customer)
	case "passwd":
		if err := st.SetPassword(ctx, username, hash); err != nil {
			if errors.Is(err, store.ErrNotFound) {
				return fmt.Errorf("user passwd: no user %q", username)
			}
			return err
		}
		fmt.Fprintf(stdout, "changed the password of %s\n", username)
	}
	return nil
}

// userChanges are the subcommands that change a user without a password.
var userChanges = map[string]struct {
	do   func(*store.Store, context.Context, string) error
	done string
}{
	"logout":  {(*store.Store).LogoutUser, "logged %s out: their login tokens are revoked; their access keys still work"},
	"disable": {(*store.Store).DisableUser, "disabled %s: their login tokens are revoked, they cannot log in, their access keys are refused"},
	"enable":  {(*store.Store).EnableUser, "enabled %s: they may log in again, and their access keys work again"},
	"remove":  {(*store.Store).DeleteUser, "removed %s: their login tokens and the access keys they created are refused"},
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
