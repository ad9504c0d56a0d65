package main

import (
	"fmt"
	"io"
	"os"
	"runtime/debug"

	"github.com/spf13/cobra"

	"github.com/tandem-sync/tandem/internal/config"
	"github.com/tandem-sync/tandem/mapping"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = ""

type globals struct {
	configPath string
	logLevel   string
	logFormat  string
	stdout     io.Writer
	stderr     io.Writer
	// tty is the terminal for progress bars, when stderr is one.
	tty *os.File
}

func newRootCmd(stdout, stderr io.Writer) *cobra.Command {
	g := &globals{stdout: stdout, stderr: stderr}
	if f, ok := stderr.(*os.File); ok {
		g.tty = f
	}
	root := &cobra.Command{
		Use:   "tandem",
		Short: "Keep a storefront database and an ERP database in step, both ways, through Kafka",
		Long: `tandem keeps an e-commerce storefront database and an ERP database in step,
in both directions, in near real time. It tails each database's log (the
PostgreSQL WAL, the MySQL/MariaDB binlog), publishes the changes as Avro
events on Kafka, and applies them to the other side without loops.

Start with 'tandem check --config tandem.yaml': it verifies every
prerequisite (database settings, privileges, Kafka, the schema registry)
and prints the exact fix for each failure.`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetOut(stdout)
	root.SetErr(stderr)
	defaultConfig := os.Getenv("TANDEM_CONFIG")
	if defaultConfig == "" {
		defaultConfig = "tandem.yaml"
	}
	pf := root.PersistentFlags()
	pf.StringVarP(&g.configPath, "config", "c", defaultConfig, "config file (env TANDEM_CONFIG)")
	pf.StringVar(&g.logLevel, "log-level", "", "override log.level: debug, info, warn or error")
	pf.StringVar(&g.logFormat, "log-format", "", "override log.format: json or text")
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		return &exitError{code: exitBadUsage, err: fmt.Errorf("%w\nrun '%s --help' for usage", err, c.CommandPath())}
	})
	root.AddCommand(newRunCmd(g), newSnapshotCmd(g), newCheckCmd(g), newConfigCmd(g), newVersionCmd(g))
	root.AddCommand(newDiagramCmd(g))
	root.AddCommand(newReplayCmd(g))
	root.AddCommand(newVerifyCmd(g))
	root.AddCommand(newDemoCmd(g))
	return root
}

// loadConfig reads and validates the config file. Its error lists every
// problem as file:line: key: message.
func (g *globals) loadConfig() (*mapping.Config, error) {
	src, err := os.ReadFile(g.configPath)
	if err != nil {
		return nil, &exitError{code: exitBadUsage, err: fmt.Errorf("read config: %w (pass --config or set TANDEM_CONFIG)", err)}
	}
	env := config.Env{Lookup: os.LookupEnv, ReadFile: os.ReadFile}
	cfg, err := mapping.Load(g.configPath, src, env)
	if err != nil {
		return nil, &exitError{code: exitBadUsage, err: fmt.Errorf("invalid config:\n%w", err)}
	}
	if g.logLevel != "" {
		cfg.Log.Level = g.logLevel
	}
	if g.logFormat != "" {
		cfg.Log.Format = g.logFormat
	}
	return cfg, nil
}

func newVersionCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print tandem's version",
		Args:  cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			fmt.Fprintln(g.stdout, "tandem", buildVersion())
			return nil
		},
	}
}

func buildVersion() string {
	if version != "" {
		return version
	}
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, s := range bi.Settings {
			if s.Key == "vcs.revision" && len(s.Value) >= 12 {
				return "dev-" + s.Value[:12]
			}
		}
		if bi.Main.Version != "" {
			return bi.Main.Version
		}
	}
	return "dev"
}
