// Package mapping holds tandem's configuration model and, as the project
// grows, the declarative rules that turn table rows into commerce entities
// and back, and the data-flow diagram.
//
// Data flow: cmd/ reads the config file and the environment and hands the
// bytes to Load. Load decodes them strictly (internal/config), applies
// defaults, validates every component and returns a Config, or every problem
// found, each naming the file, line and key. Components receive their own
// section (capture.Config, bus.Config, schema.RegistryConfig) and never see
// the file.
package mapping
