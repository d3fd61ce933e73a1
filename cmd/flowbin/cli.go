package main

import (
	"context"
	"fmt"
	"runtime/debug"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"
)

// versionString is set at build time (-ldflags "-X main.versionString=v1.2.3"); otherwise the module's version
// and VCS revision from the build information are used.
var versionString = ""

func version() string {
	if versionString != "" {
		return versionString
	}
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return "(unknown)"
	}
	v := info.Main.Version
	var rev, modified string
	for _, s := range info.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			if s.Value == "true" {
				modified = "+dirty"
			}
		}
	}
	if (v == "" || v == "(devel)") && rev != "" {
		return "devel-" + rev[:min(12, len(rev))] + modified
	}
	if v == "" {
		return "(devel)"
	}
	return v
}

// run parses the command line and runs the command. Errors before a command runs (unknown command or flag, missing
// argument) are usage errors.
func (p *program) run(ctx context.Context, args []string) error {
	if args == nil {
		args = []string{} // cobra reads os.Args when given nil
	}
	root := p.commands(ctx)
	root.SetArgs(args)
	root.SetIn(p.stdin)
	root.SetOut(p.stdout)
	root.SetErr(p.stderr)
	ran := false
	for _, c := range allCommands(root) {
		if c.RunE == nil {
			continue
		}
		runE := c.RunE
		c.RunE = func(cmd *cobra.Command, args []string) error {
			ran = true
			return runE(cmd, args)
		}
	}
	err := root.ExecuteContext(ctx)
	if err != nil && !ran {
		return usageError{err}
	}
	return err
}

func allCommands(c *cobra.Command) []*cobra.Command {
	out := []*cobra.Command{c}
	for _, sub := range c.Commands() {
		out = append(out, allCommands(sub)...)
	}
	return out
}

// commands is flowbin's command tree. Each command's work is a function of its own (serve, migrate, userAdd, …):
// the commands only parse flags and call it.
func (p *program) commands(ctx context.Context) *cobra.Command {
	serve := func(cmd *cobra.Command, _ []string) error {
		cfg, log, err := p.setup()
		if err != nil {
			return err
		}
		return p.serve(cmd.Context(), cfg, log)
	}
	root := &cobra.Command{
		Use:   "flowbin",
		Short: "flowbin serves programmable call flows over a VoIPbin-compatible REST API",
		Long: "flowbin serves programmable call flows over a REST API compatible with VoIPbin's /v1.0 flows API.\n" +
			"Without a command it serves (flowbin serve).\n\n" + environmentHelp(),
		Args:          cobra.NoArgs,
		RunE:          serve,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.CompletionOptions.DisableDefaultCmd = true
	root.SetContext(ctx)

	root.AddCommand(&cobra.Command{
		Use:   "serve",
		Short: "Serve the API (the default command)",
		Long: "Serve the API on FLOWBIN_ADDR, with the database of FLOWBIN_DATABASE_URL (or the SQLite file in\n" +
			"FLOWBIN_DATA_DIR), migrated at start unless FLOWBIN_MIGRATE=false. On a database without users, the\n" +
			"first user is created (FLOWBIN_ADMIN_*).\n\n" + environmentHelp(),
		Args: cobra.NoArgs,
		RunE: serve,
	})
	root.AddCommand(&cobra.Command{
		Use:   "migrate",
		Short: "Apply the database migrations, then exit",
		Long: "Apply the pending migrations of the configured database (FLOWBIN_DATABASE_URL, or the SQLite file in\n" +
			"FLOWBIN_DATA_DIR), then exit. Instances that start together on PostgreSQL take turns.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, log, err := p.setup()
			if err != nil {
				return err
			}
			return migrate(cmd.Context(), cfg, log)
		},
	})
	root.AddCommand(p.userCommands())
	var callOpts callOptions
	call := &cobra.Command{
		Use:   "call FLOW_ID|FLOW_FILE [--server URL] [--token TOKEN] [--var NAME=VALUE]...",
		Short: "Call a flow on a server, as the phone: print each action, read digits from the keyboard",
		Long:  callLong,
		Example: "  FLOWBIN_TOKEN=$KEY flowbin call 0f9c1e2a-3b4c-4d5e-8f90-a1b2c3d4e5f6\n" +
			"  flowbin call --server https://flowbin.example --var customer.tier=gold ivr.json",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runCall(cmd.Context(), callOpts, args[0], p.getenv, p.stdin, p.stdout)
		},
	}
	call.Flags().StringVar(&callOpts.server, "server", "", "the server (FLOWBIN_SERVER; default http://127.0.0.1:8080)")
	call.Flags().StringVar(&callOpts.token, "token", "", "a login token or an access key (FLOWBIN_TOKEN)")
	call.Flags().StringArrayVar(&callOpts.vars, "var", nil, "a variable the call starts with, NAME=VALUE (repeatable)")
	root.AddCommand(call)
	for _, kind := range []struct{ use, short string }{
		{"calls [hangup CALL_ID]", "List a server's newest calls, or hang one up"},
		{"recordings [download RECORDING_ID [FILE]]", "List a server's newest recordings, or download one's WAV file"},
	} {
		root.AddCommand(&cobra.Command{
			Use:   kind.use,
			Short: kind.short,
			// calls.go reads its own flags (--server, --token, -n) and prints its own usage.
			DisableFlagParsing: true,
			RunE: func(cmd *cobra.Command, args []string) error {
				return runCalls(cmd.Context(), cmd.Name(), args, p.getenv, p.stdout)
			},
		})
	}
	var mcpOpts mcpOptions
	mcpCmd := &cobra.Command{
		Use:     "mcp [--server URL] [--token TOKEN]",
		Short:   "Serve flowbin's MCP tools over stdio, for AI clients, against a server",
		Long:    mcpLong,
		Example: "  FLOWBIN_SERVER=https://flowbin.example FLOWBIN_TOKEN=$KEY flowbin mcp",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runMCP(cmd.Context(), mcpOpts, p.getenv, p.stdin, p.stdout)
		},
	}
	mcpCmd.Flags().StringVar(&mcpOpts.server, "server", "", "the server (FLOWBIN_SERVER; default http://127.0.0.1:8080)")
	mcpCmd.Flags().StringVar(&mcpOpts.token, "token", "", "a login token or an access key (FLOWBIN_TOKEN)")
	root.AddCommand(mcpCmd)
	root.AddCommand(&cobra.Command{
		Use:   "version",
		Short: "Print flowbin's version",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			_, err := fmt.Fprintln(p.stdout, "flowbin", version())
			return err
		},
	})
	root.AddCommand(&cobra.Command{
		Use:   "healthcheck",
		Short: "Exit 0 when the server on FLOWBIN_ADDR answers /healthz (for container health checks)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, _, err := p.setup()
			if err != nil {
				return err
			}
			return healthcheck(cmd.Context(), cfg)
		},
	})
	return root
}

// userCommands is "flowbin user …". A new subcommand is a cobra.Command added here whose RunE calls p.withStore
// and a function of user.go.
func (p *program) userCommands() *cobra.Command {
	user := &cobra.Command{
		Use:   "user",
		Short: "Manage the users who log in (on the configured database)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return usageError{fmt.Errorf("user: want a subcommand: %s", subcommandNames(cmd))}
		},
	}
	var customer, username string
	var fromStdin bool
	add := &cobra.Command{
		Use:     "add --customer NAME --username NAME --password-stdin",
		Short:   "Add a user to a customer (created when new); the password (12 characters or more) is read from standard input",
		Example: "  echo 'a long password' | flowbin user add --customer acme --username alice --password-stdin",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := needPasswordStdin(fromStdin); err != nil {
				return err
			}
			return p.withStore(cmd.Context(), func(e userEnv) error { return userAdd(cmd.Context(), e, customer, username) })
		},
	}
	add.Flags().StringVar(&customer, "customer", "", "customer name (created when new)")
	add.Flags().StringVar(&username, "username", "", "user name")
	add.Flags().BoolVar(&fromStdin, "password-stdin", false, "read the password from standard input (required)")
	_ = add.MarkFlagRequired("customer")
	_ = add.MarkFlagRequired("username")

	passwd := &cobra.Command{
		Use:     "passwd --username NAME --password-stdin",
		Short:   "Change a user's password (12 characters or more), read from standard input",
		Example: "  echo 'another password' | flowbin user passwd --username alice --password-stdin",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := needPasswordStdin(fromStdin); err != nil {
				return err
			}
			return p.withStore(cmd.Context(), func(e userEnv) error { return userPasswd(cmd.Context(), e, username) })
		},
	}
	passwd.Flags().StringVar(&username, "username", "", "user name")
	passwd.Flags().BoolVar(&fromStdin, "password-stdin", false, "read the password from standard input (required)")
	_ = passwd.MarkFlagRequired("username")

	list := &cobra.Command{
		Use:   "list",
		Short: "List the users and their customers",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return p.withStore(cmd.Context(), func(e userEnv) error { return userList(cmd.Context(), e) })
		},
	}
	user.AddCommand(add, list, passwd)
	for _, c := range userChanges {
		var username string
		change := &cobra.Command{
			Use:   c.name + " --username NAME",
			Short: c.short,
			Args:  cobra.NoArgs,
			RunE: func(cmd *cobra.Command, _ []string) error {
				return p.withStore(cmd.Context(), func(e userEnv) error { return userChange(cmd.Context(), e, c.name, username) })
			},
		}
		change.Flags().StringVar(&username, "username", "", "user name")
		_ = change.MarkFlagRequired("username")
		user.AddCommand(change)
	}
	return user
}

func needPasswordStdin(set bool) error {
	if !set {
		return usageError{fmt.Errorf("pass --password-stdin and write the password to standard input")}
	}
	return nil
}

func subcommandNames(cmd *cobra.Command) string {
	var names []string
	for _, c := range cmd.Commands() {
		names = append(names, c.Name())
	}
	return strings.Join(names, ", ")
}

// environmentHelp is the settings table for --help.
func environmentHelp() string {
	var b strings.Builder
	b.WriteString("Configuration: environment variables (secrets may name a file instead, as NAME_FILE):\n")
	tw := tabwriter.NewWriter(&b, 0, 4, 2, ' ', 0)
	for _, s := range settings {
		def := s.def
		if def == "" {
			def = "(empty)"
		}
		name := s.name
		if s.secret {
			name += " (secret)"
		}
		fmt.Fprintf(tw, "  %s\t%s\t%s\n", name, def, strings.ReplaceAll(s.help, "`", ""))
	}
	tw.Flush()
	b.WriteString("\nTraces: OpenTelemetry over OTLP/HTTP, off unless OTEL_EXPORTER_OTLP_ENDPOINT (or\n" +
		"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT) is set or OTEL_TRACES_EXPORTER=otlp; OTEL_SERVICE_NAME names the service.")
	return b.String()
}
