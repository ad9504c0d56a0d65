// Package mapping holds tandem's configuration model and the declarative
// rules that turn table rows into commerce entities and back: the mapping
// language (model.go), its validation, the value conversions, the
// assembler, the schema check and the data-flow diagram.
//
// Data flow:
//   - cmd/ reads the config file and the environment and hands the bytes to
//     Load. Load decodes them strictly (internal/config), applies defaults,
//     validates every component and the mapping (validate.go: entities,
//     per-system entity mappings, ownership and flows, against the built-in
//     entities of schema/entities and the config's own), and returns a
//     Config or every problem found, each naming the file, line and key.
//   - Components receive their own section (capture.Config, bus.Config,
//     schema.RegistryConfig) and never see the file.
//   - Capture side: an Assembler folds one source transaction's row changes
//     (root rows, EAV meta rows, joined rows) into one Delta per entity
//     instance, converting stored values to canonical ones with Read
//     (cast, value map, JSON path, time zone, const, default).
//   - Apply side: Write converts canonical values back to what a column
//     or meta row stores.
//   - CheckSchema checks the mapping against a live schema (tandem check);
//     Diagram draws systems, tables, entities, topics and ownership.
package mapping
