package mapping

import (
	"errors"
	"fmt"
	"net"
	"reflect"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/go-sql-driver/mysql"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/tandem-sync/tandem/bus"
	"github.com/tandem-sync/tandem/capture"
	"github.com/tandem-sync/tandem/internal/config"
	"github.com/tandem-sync/tandem/schema"
)

// System kinds.
const (
	KindPostgres = "postgres"
	KindMySQL    = "mysql" // MySQL and MariaDB
)

// Config is the whole config file.
type Config struct {
	Systems  map[string]*System    `yaml:"systems" doc:"The databases tandem keeps in step, by name. The name appears in topic names."`
	Kafka    bus.Config            `yaml:"kafka"`
	Registry schema.RegistryConfig `yaml:"schema_registry"`
	HTTP     HTTPConfig            `yaml:"http"`
	Log      LogConfig             `yaml:"log"`

	// The mapping language (model.go).
	Include   []string              `yaml:"include" doc:"More files of mapping (entities, systems.<name>.entities, flows, ownership), relative to this file; their problems are reported at their own file and line."`
	Entities  map[string]*EntityDef `yaml:"entities" doc:"Entities of your own, beside the built-in commerce entities."`
	Flows     []Flow                `yaml:"flows" doc:"Which entity's changes go from which system to which."`
	Ownership map[string]*Ownership `yaml:"ownership" doc:"Per entity, which system owns (is the source of truth for) which field."`

	// Index locates keys of the file this config came from; nil for a
	// config built in code.
	Index *config.Index `yaml:"-"`
}

// System is one database tandem captures from and applies to.
type System struct {
	Name            string         `yaml:"-"`
	Kind            string         `yaml:"kind" doc:"postgres, or mysql (MySQL and MariaDB)."`
	DSN             config.Secret  `yaml:"dsn" doc:"Connection string (secret): postgres://user:pass@host:port/db, or user:pass@tcp(host:port)/db for mysql."`
	CheckpointTable string         `yaml:"checkpoint_table" doc:"tandem's own table in this database: sink checkpoints, and the marker that keeps sync from looping."`
	Capture         capture.Config `yaml:"capture"`
	Sink            SinkConfig     `yaml:"sink"`
	// Entities maps entity names to how this system stores them.
	Entities map[string]*EntityMapping `yaml:"entities" doc:"How this system stores each entity it exchanges: tables, columns, casts, value maps, EAV."`
}

// SinkConfig is how a system takes the changes that flow into it.
type SinkConfig struct {
	Group            string        `yaml:"group" doc:"The Kafka consumer group and the checkpoint rows' consumer name. Default tandem-sink-<system>."`
	BatchEvents      int           `yaml:"batch_events" doc:"Most events applied in one target transaction (whole source transactions are not split when they fit)."`
	MaxInFlightBytes int           `yaml:"max_in_flight_bytes" doc:"Fetched and not yet applied bytes, across partitions; fetching pauses at the cap."`
	Connections      int           `yaml:"connections" doc:"Most target connections applying at once (one partition each)."`
	ReferenceWait    time.Duration `yaml:"reference_wait" doc:"How long an event whose reference is missing (an order before its customer) waits, retried as other events are applied, before it goes to the dead-letter topic."`
	RetryMax         time.Duration `yaml:"retry_max" doc:"The longest pause between retries of a transient error (lost connection, deadlock); retries never stop."`
}

// DefaultSink returns the sink settings for keys the file leaves out.
func DefaultSink() SinkConfig {
	return SinkConfig{BatchEvents: 500, MaxInFlightBytes: 64 << 20, Connections: 4, ReferenceWait: 2 * time.Minute, RetryMax: 30 * time.Second}
}

// Validate reports every problem in s at once.
func (s SinkConfig) Validate() error {
	var ps config.Problems
	if s.BatchEvents < 1 {
		ps.Add("batch_events", fmt.Sprintf("%d must be 1 or more", s.BatchEvents))
	}
	if s.MaxInFlightBytes < 1<<20 {
		ps.Add("max_in_flight_bytes", fmt.Sprintf("%d is too small; use 1048576 (1 MiB) or more", s.MaxInFlightBytes))
	}
	if s.Connections < 1 {
		ps.Add("connections", fmt.Sprintf("%d must be 1 or more", s.Connections))
	}
	if s.ReferenceWait < time.Second {
		ps.Add("reference_wait", fmt.Sprintf("%s is too short; use 1s or more", s.ReferenceWait))
	}
	if s.RetryMax < 100*time.Millisecond {
		ps.Add("retry_max", fmt.Sprintf("%s is too short; use 100ms or more", s.RetryMax))
	}
	return ps.Err()
}

// HTTPConfig is the listener for metrics and health.
type HTTPConfig struct {
	Listen string `yaml:"listen" doc:"Address of the HTTP listener for metrics and health of tandem run; empty turns it off."`
}

// LogConfig sets up the structured log.
type LogConfig struct {
	Level  string `yaml:"level" doc:"debug, info, warn or error."`
	Format string `yaml:"format" doc:"json or text."`
}

// Default returns a config with every default set and no systems.
func Default() *Config {
	return &Config{
		Kafka:    bus.Default(),
		Registry: schema.DefaultRegistry(),
		HTTP:     HTTPConfig{Listen: "127.0.0.1:9464"},
		Log:      LogConfig{Level: "info", Format: "json"},
	}
}

// DefaultSystem returns a system with every default set.
func DefaultSystem() System {
	return System{CheckpointTable: "tandem_checkpoint", Capture: capture.Default(), Sink: DefaultSink()}
}

// Load decodes and validates a config file. file names it in errors; src is
// its contents; env supplies ${NAME} variables and secret files. The error,
// if any, is a config.Problems listing every problem with file, line and key.
func Load(file string, src []byte, env config.Env) (*Config, error) {
	cfg := Default()
	idx, decodeErr := config.Decode(file, src, env, cfg)
	cfg.Index = idx
	var ps config.Problems
	if decodeErr != nil && !errors.As(decodeErr, &ps) {
		return nil, decodeErr
	}
	if len(ps) == 1 && ps[0].Path == "" {
		return nil, ps // the YAML does not parse: nothing more to say
	}
	ps = append(ps, cfg.include(file, env)...)
	cfg.setDefaults()
	var vs config.Problems
	if err := cfg.Validate(); err != nil && errors.As(err, &vs) {
		for _, p := range vs {
			if !idx.Reported(p.Path) {
				ps = append(ps, p)
			}
		}
	}
	if len(ps) > 0 {
		return nil, idx.Locate(ps)
	}
	for _, s := range cfg.Systems {
		s.Capture.Tables = addMissing(s.Capture.Tables, cfg.MappedTables(s.Name))
	}
	return cfg, nil
}

// MappedTables returns every table the entity mappings of system sys read:
// root, meta and joined tables, sorted. Load adds them to the system's
// capture.tables, so that listing them there is optional.
func (c *Config) MappedTables(sys string) []string {
	s := c.Systems[sys]
	if s == nil {
		return nil
	}
	set := map[string]bool{}
	for _, m := range s.Entities {
		if m == nil {
			continue
		}
		set[m.Table] = true
		for _, mt := range m.Meta {
			set[mt.Table] = true
		}
		for _, jt := range m.Joins {
			set[jt.Table] = true
		}
	}
	delete(set, "")
	return sortedKeys(set)
}

// addMissing appends the tables of more that list lacks (case-blind).
func addMissing(list, more []string) []string {
	have := map[string]bool{}
	for _, t := range list {
		have[strings.ToLower(t)] = true
	}
	for _, t := range more {
		if !have[strings.ToLower(t)] {
			list = append(list, t)
			have[strings.ToLower(t)] = true
		}
	}
	return list
}

// setDefaults fills each system's defaults, since map entries cannot be
// pre-filled before decoding.
func (c *Config) setDefaults() {
	for name, s := range c.Systems {
		if s == nil {
			s = &System{}
			c.Systems[name] = s
		}
		d := DefaultSystem()
		s.Name = name
		if s.CheckpointTable == "" {
			s.CheckpointTable = d.CheckpointTable
		}
		if s.Capture.Snapshot == "" {
			s.Capture.Snapshot = d.Capture.Snapshot
		}
		if s.Capture.Heartbeat == 0 {
			s.Capture.Heartbeat = d.Capture.Heartbeat
		}
		if s.Capture.ChunkRows == 0 {
			s.Capture.ChunkRows = d.Capture.ChunkRows
		}
		if s.Capture.Flavor == "" {
			s.Capture.Flavor = d.Capture.Flavor
		}
		if s.Capture.RawTopics == "" {
			s.Capture.RawTopics = d.Capture.RawTopics
		}
		if s.Capture.KeyCache == 0 {
			s.Capture.KeyCache = d.Capture.KeyCache
		}
		s.Capture.SetDefaults(name)
		ds := d.Sink
		if s.Sink.Group == "" {
			s.Sink.Group = "tandem-sink-" + name
		}
		if s.Sink.BatchEvents == 0 {
			s.Sink.BatchEvents = ds.BatchEvents
		}
		if s.Sink.MaxInFlightBytes == 0 {
			s.Sink.MaxInFlightBytes = ds.MaxInFlightBytes
		}
		if s.Sink.Connections == 0 {
			s.Sink.Connections = ds.Connections
		}
		if s.Sink.ReferenceWait == 0 {
			s.Sink.ReferenceWait = ds.ReferenceWait
		}
		if s.Sink.RetryMax == 0 {
			s.Sink.RetryMax = ds.RetryMax
		}
	}
}

var systemNameRE = regexp.MustCompile(`^[a-z][a-z0-9_]{0,30}$`)

// Validate reports every problem in the config at once, by key path.
func (c *Config) Validate() error {
	var ps config.Problems
	if len(c.Systems) == 0 {
		ps.Add("systems", "at least one system is required")
	}
	for _, name := range c.SystemNames() {
		ps.Merge("systems."+name, c.Systems[name].Validate())
	}
	ps.Merge("kafka", c.Kafka.Validate())
	ps.Merge("schema_registry", c.Registry.Validate())
	if c.HTTP.Listen != "" {
		if _, _, err := net.SplitHostPort(c.HTTP.Listen); err != nil {
			ps.Add("http.listen", fmt.Sprintf("%q is not host:port", c.HTTP.Listen))
		}
	}
	if msg, ok := config.OneOf(c.Log.Level, "debug", "info", "warn", "error"); !ok {
		ps.Add("log.level", msg)
	}
	if msg, ok := config.OneOf(c.Log.Format, "json", "text"); !ok {
		ps.Add("log.format", msg)
	}
	ps = append(ps, c.validateMappings()...)
	return ps.Err()
}

// Validate reports every problem in the system at once, by key path
// relative to the system.
func (s *System) Validate() error {
	var ps config.Problems
	if !systemNameRE.MatchString(s.Name) {
		ps.Add("", fmt.Sprintf("system name %q must be lower-case letters, digits and _, starting with a letter", s.Name))
	}
	kindOK := true
	if msg, ok := config.OneOf(s.Kind, KindPostgres, KindMySQL); !ok {
		if s.Kind == "" {
			msg = "required: postgres or mysql"
		}
		ps.Add("kind", msg)
		kindOK = false
	}
	if s.DSN.IsZero() {
		ps.Add("dsn", "required: the connection string, e.g. dsn: ${"+strings.ToUpper(s.Name)+"_DSN}, or dsn_file: /path/to/secret")
	} else if kindOK {
		if err := CheckDSN(s.Kind, s.DSN); err != nil {
			ps.Add("dsn", err.Error())
		}
	}
	if !systemNameRE.MatchString(s.CheckpointTable) {
		ps.Add("checkpoint_table", fmt.Sprintf("%q must be a plain lower-case table name", s.CheckpointTable))
	}
	if kindOK {
		ps.Merge("capture", s.Capture.Validate(s.Kind))
	}
	ps.Merge("sink", s.Sink.Validate())
	return ps.Err()
}

// CheckDSN reports whether dsn is well-formed for kind, without connecting.
// The message never contains the DSN itself, which may hold a password.
func CheckDSN(kind string, dsn config.Secret) error {
	switch kind {
	case KindPostgres:
		if _, err := pgconn.ParseConfig(dsn.Reveal()); err != nil {
			return fmt.Errorf("not a valid PostgreSQL connection string (%s); expected postgres://user:password@host:port/database", scrub(err.Error(), dsn))
		}
	case KindMySQL:
		cfg, err := mysql.ParseDSN(dsn.Reveal())
		if err != nil {
			return fmt.Errorf("not a valid MySQL DSN (%s); expected user:password@tcp(host:port)/database", scrub(err.Error(), dsn))
		}
		if cfg.DBName == "" {
			return fmt.Errorf("names no database; expected user:password@tcp(host:port)/database")
		}
	}
	return nil
}

// scrub removes the DSN from a driver's message, so a password cannot leak.
func scrub(msg string, dsn config.Secret) string {
	if dsn.IsZero() {
		return msg
	}
	return strings.ReplaceAll(msg, dsn.Reveal(), "<dsn>")
}

// SystemNames returns the system names in sorted order.
func (c *Config) SystemNames() []string {
	names := make([]string, 0, len(c.Systems))
	for n := range c.Systems {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Reference returns the Markdown reference of every config key, generated
// from the config structs, their doc tags and defaults.
func Reference() string {
	elem := func(t reflect.Type) (reflect.Value, bool) {
		if t == reflect.TypeOf(&System{}) {
			s := DefaultSystem()
			return reflect.ValueOf(&s), true
		}
		return reflect.Value{}, false
	}
	return config.ReferenceMarkdown(config.Reference(Default(), elem))
}
