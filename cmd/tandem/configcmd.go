package main

import (
	"fmt"

	"github.com/spf13/cobra"
	"go.yaml.in/yaml/v3"

	"github.com/tandem-sync/tandem/mapping"
)

func newConfigCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "config",
		Short: "Validate, show or document the config file",
		Long: `Work with the config file without connecting to anything.

  tandem config validate    report every problem in the file, as file:line: key: message
  tandem config show        print the effective config, defaults filled in, secrets redacted
  tandem config reference   print the reference of every key (Markdown)`,
	}
	cmd.AddCommand(&cobra.Command{
		Use:   "validate",
		Short: "Report every problem in the config file, with its line and key",
		Args:  cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			cfg, err := g.loadConfig()
			if err != nil {
				return err
			}
			fmt.Fprintf(g.stdout, "%s: valid (%d systems: %v)\n", g.configPath, len(cfg.Systems), cfg.SystemNames())
			return nil
		},
	}, &cobra.Command{
		Use:   "show",
		Short: "Print the effective config with defaults filled in and secrets redacted",
		Args:  cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			cfg, err := g.loadConfig()
			if err != nil {
				return err
			}
			out, err := yaml.Marshal(cfg)
			if err != nil {
				return err
			}
			_, err = g.stdout.Write(out)
			return err
		},
	}, &cobra.Command{
		Use:   "reference",
		Short: "Print the reference of every config key, type, default and meaning (Markdown)",
		Args:  cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			_, err := fmt.Fprint(g.stdout, mapping.Reference())
			return err
		},
	})
	return cmd
}
