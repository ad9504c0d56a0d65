package capture

import (
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/tandem-sync/tandem/internal/config"
)

// Snapshot modes.
const (
	SnapshotInitial    = "initial"     // snapshot the tables once, before streaming
	SnapshotNever      = "never"       // stream only
	SnapshotWhenNeeded = "when_needed" // snapshot again if the log position is lost
)

// Config is the capture section of a system in the config file. Fields that
// apply to one kind of database say so.
type Config struct {
	Tables      []string      `yaml:"tables" doc:"Tables to capture, as schema.table (PostgreSQL) or database.table (MySQL/MariaDB)."`
	Snapshot    string        `yaml:"snapshot" doc:"initial, never or when_needed (snapshot again when the stored log position is gone)."`
	Heartbeat   time.Duration `yaml:"heartbeat" doc:"How often an idle source still moves its position, so the log does not pile up."`
	ChunkRows   int           `yaml:"chunk_rows" doc:"Rows per snapshot chunk; a chunk is read, published and acknowledged as one unit, and an interrupted snapshot resumes after the last acknowledged chunk."`
	Slot        string        `yaml:"slot" doc:"PostgreSQL: logical replication slot name. Default tandem_<system>."`
	Publication string        `yaml:"publication" doc:"PostgreSQL: publication name. Default tandem_<system>."`
	ServerID    uint32        `yaml:"server_id" doc:"MySQL/MariaDB: the replica server_id tandem uses; must differ from every server and replica in the topology."`
	Flavor      string        `yaml:"flavor" doc:"MySQL/MariaDB: auto, mariadb or mysql (GTID format). auto asks the server."`
	RawTopics   string        `yaml:"raw_topics" doc:"Which tables also get a raw row topic (<prefix>.<system>.<schema>.<table>): unmapped (tables no entity mapping reads; mapped tables publish entity events), all, or none."`
	KeyCache    int           `yaml:"key_cache" doc:"How many entity identities (natural key, parent) to remember, so that a change to one EAV or joined row is keyed without a lookup on the source; about 300 bytes each."`
}

// Raw topic modes.
const (
	RawUnmapped = "unmapped"
	RawAll      = "all"
	RawNone     = "none"
)

// Default returns the capture settings used for keys the file leaves out;
// system-specific defaults (slot and publication names) are filled by
// SetDefaults.
func Default() Config {
	return Config{
		Snapshot:  SnapshotInitial,
		Heartbeat: 10 * time.Second,
		ChunkRows: 10000,
		Flavor:    "auto",
		RawTopics: RawUnmapped,
		KeyCache:  100_000,
	}
}

// SetDefaults fills the settings whose defaults depend on the system name.
func (c *Config) SetDefaults(system string) {
	if c.Slot == "" {
		c.Slot = "tandem_" + system
	}
	if c.Publication == "" {
		c.Publication = "tandem_" + system
	}
}

var (
	pgIdentRE = regexp.MustCompile(`^[a-z_][a-z0-9_$]{0,62}$`)
	tableRE   = regexp.MustCompile(`^[^.\s]+\.[^.\s]+$`)
)

// Validate reports every problem in c at once. kind is the system's kind,
// postgres or mysql.
func (c Config) Validate(kind string) error {
	var ps config.Problems
	seen := map[string]int{}
	for i, t := range c.Tables {
		p := fmt.Sprintf("tables[%d]", i)
		if !tableRE.MatchString(t) {
			ps.Add(p, fmt.Sprintf("%q must be qualified, as %s", t, qualifiedHint(kind)))
		}
		if j, dup := seen[strings.ToLower(t)]; dup {
			ps.Add(p, fmt.Sprintf("%q is listed twice (also tables[%d])", t, j))
		}
		seen[strings.ToLower(t)] = i
	}
	if msg, ok := config.OneOf(c.Snapshot, SnapshotInitial, SnapshotNever, SnapshotWhenNeeded); !ok {
		ps.Add("snapshot", msg)
	}
	if msg, ok := config.OneOf(c.RawTopics, RawUnmapped, RawAll, RawNone); !ok {
		ps.Add("raw_topics", msg)
	}
	if c.KeyCache < 1 {
		ps.Add("key_cache", fmt.Sprintf("%d must be 1 or more", c.KeyCache))
	}
	if c.ChunkRows < 1 {
		ps.Add("chunk_rows", fmt.Sprintf("%d must be 1 or more", c.ChunkRows))
	}
	if c.Heartbeat < time.Second {
		ps.Add("heartbeat", fmt.Sprintf("%s is too short; use 1s or more", c.Heartbeat))
	}
	switch kind {
	case "postgres":
		if !pgIdentRE.MatchString(c.Slot) {
			ps.Add("slot", fmt.Sprintf("%q is not a valid slot name: lower-case letters, digits and _, at most 63", c.Slot))
		}
		if !pgIdentRE.MatchString(c.Publication) {
			ps.Add("publication", fmt.Sprintf("%q is not a valid publication name: lower-case letters, digits and _", c.Publication))
		}
		if c.ServerID != 0 {
			ps.Add("server_id", "applies to mysql systems only")
		}
	case "mysql":
		if c.ServerID == 0 {
			ps.Add("server_id", "required for mysql systems: a number unique among the servers and replicas, e.g. 5401")
		}
		if msg, ok := config.OneOf(c.Flavor, "auto", "mariadb", "mysql"); !ok {
			ps.Add("flavor", msg)
		}
	}
	return ps.Err()
}

func qualifiedHint(kind string) string {
	if kind == "postgres" {
		return "schema.table, e.g. public.orders"
	}
	return "database.table, e.g. shop.wp_posts"
}

// SplitTable splits a qualified table name into its schema (or database) and
// table parts.
func SplitTable(qualified string) (string, string) {
	s, t, _ := strings.Cut(qualified, ".")
	return s, t
}
