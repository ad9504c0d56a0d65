package mapping

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/tandem-sync/tandem/internal/config"
)

const goodConfig = `systems:
  shop:
    kind: mysql
    dsn: ${SHOP_DSN}
    capture:
      server_id: 5401
      tables: [shop.wp_posts, shop.wp_postmeta]
  erp:
    kind: postgres
    dsn_file: /run/secrets/erp_dsn
    capture:
      tables: [public.sale_order]
      heartbeat: 30s
kafka:
  brokers: ["127.0.0.1:59092"]
  sasl:
    mechanism: scram-sha-256
    username: tandem
    password: ${KAFKA_PASSWORD:-fallback-pw}
schema_registry:
  url: http://127.0.0.1:58081/apis/ccompat/v7
`

func testEnv(vars map[string]string, files map[string]string) config.Env {
	return config.Env{
		Lookup: func(k string) (string, bool) { v, ok := vars[k]; return v, ok },
		ReadFile: func(p string) ([]byte, error) {
			if v, ok := files[p]; ok {
				return []byte(v), nil
			}
			return nil, fmt.Errorf("open %s: %w", p, os.ErrNotExist)
		},
	}
}

var defaultEnv = testEnv(
	map[string]string{"SHOP_DSN": "u:shop-secret@tcp(127.0.0.1:3306)/shop"},
	map[string]string{"/run/secrets/erp_dsn": "postgres://u:erp-secret@127.0.0.1:5432/erp\n"},
)

func TestLoadGood(t *testing.T) {
	cfg, err := Load("tandem.yaml", []byte(goodConfig), defaultEnv)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	shop, erp := cfg.Systems["shop"], cfg.Systems["erp"]
	if shop.DSN.Reveal() != "u:shop-secret@tcp(127.0.0.1:3306)/shop" {
		t.Errorf("shop dsn from env = %q", shop.DSN.Reveal())
	}
	if erp.DSN.Reveal() != "postgres://u:erp-secret@127.0.0.1:5432/erp" {
		t.Errorf("erp dsn from file (newline trimmed) = %q", erp.DSN.Reveal())
	}
	if cfg.Kafka.SASL.Password.Reveal() != "fallback-pw" {
		t.Errorf("default from ${KAFKA_PASSWORD:-...} = %q", cfg.Kafka.SASL.Password.Reveal())
	}
	if erp.Capture.Heartbeat != 30*time.Second || shop.Capture.Heartbeat != 10*time.Second {
		t.Errorf("heartbeats = %v, %v; want 30s and the 10s default", erp.Capture.Heartbeat, shop.Capture.Heartbeat)
	}
	if erp.Capture.Slot != "tandem_erp" || erp.Capture.Publication != "tandem_erp" {
		t.Errorf("slot/publication defaults = %q/%q", erp.Capture.Slot, erp.Capture.Publication)
	}
	if shop.CheckpointTable != "tandem_checkpoint" || cfg.Kafka.Partitions != 6 || cfg.Kafka.TopicPrefix != "tandem" {
		t.Errorf("defaults not applied: %+v %+v", shop.CheckpointTable, cfg.Kafka)
	}
	if got := cfg.Index.Line("systems.erp.capture.heartbeat"); got != 13 {
		t.Errorf("line of systems.erp.capture.heartbeat = %d, want 13", got)
	}
}

// TestBadConfigs asserts the exact message for each kind of mistake.
func TestBadConfigs(t *testing.T) {
	tests := []struct {
		name string
		edit func(string) string
		env  config.Env
		want []string
	}{
		{
			name: "unknown key",
			edit: func(s string) string {
				return strings.Replace(s, "      server_id: 5401", "      server_id: 5401\n      severid: 3", 1)
			},
			want: []string{`tandem.yaml:7: systems.shop.capture.severid: unknown key "severid" (did you mean "server_id"?)`},
		},
		{
			name: "unknown key far from any",
			edit: func(s string) string { return s + "metrics_port: 9\n" },
			want: []string{`tandem.yaml:22: metrics_port: unknown key "metrics_port"; known keys here: entities, flows, http, include, kafka, log, ownership, schema_registry, systems`},
		},
		{
			name: "wrong enum",
			edit: func(s string) string { return strings.Replace(s, "kind: mysql", "kind: mysq", 1) },
			want: []string{`tandem.yaml:3: systems.shop.kind: "mysq" is not one of postgres, mysql`},
		},
		{
			name: "missing dsn",
			edit: func(s string) string { return strings.Replace(s, "    dsn: ${SHOP_DSN}\n", "", 1) },
			want: []string{`tandem.yaml:2: systems.shop.dsn: required: the connection string, e.g. dsn: ${SHOP_DSN}, or dsn_file: /path/to/secret`},
		},
		{
			name: "unset env var",
			env:  testEnv(nil, map[string]string{"/run/secrets/erp_dsn": "postgres://u:p@h:5432/erp"}),
			want: []string{`tandem.yaml:4: systems.shop.dsn: environment variable SHOP_DSN is not set`},
		},
		{
			name: "bad yaml",
			edit: func(s string) string { return strings.Replace(s, "    kind: postgres", "   kind: postgres", 1) },
			want: []string{`tandem.yaml:10: invalid YAML: mapping values are not allowed in this context`},
		},
		{
			name: "tab indentation",
			edit: func(s string) string { return strings.Replace(s, "  shop:", "\tshop:", 1) },
			want: []string{`tandem.yaml:2: invalid YAML: found character that cannot start any token`},
		},
		{
			name: "missing secret file",
			env:  testEnv(map[string]string{"SHOP_DSN": "u:p@tcp(h:1)/d"}, nil),
			want: []string{`tandem.yaml:10: systems.erp.dsn_file: cannot read secret file: open /run/secrets/erp_dsn: file does not exist`},
		},
		{
			name: "dsn and dsn_file",
			edit: func(s string) string {
				return strings.Replace(s, "    dsn_file:", "    dsn: postgres://x@h/d\n    dsn_file:", 1)
			},
			want: []string{`tandem.yaml:11: systems.erp.dsn_file: give either dsn or dsn_file, not both (dsn is on line 10)`},
		},
		{
			name: "wrong type",
			edit: func(s string) string { return strings.Replace(s, "server_id: 5401", "server_id: lots", 1) },
			want: []string{`tandem.yaml:6: systems.shop.capture.server_id: "lots" is not a whole number`},
		},
		{
			name: "bad duration",
			edit: func(s string) string { return strings.Replace(s, "heartbeat: 30s", "heartbeat: often", 1) },
			want: []string{`tandem.yaml:13: systems.erp.capture.heartbeat: "often" is not a duration such as 10s or 5m`},
		},
		{
			name: "several problems at once, in file order",
			edit: func(s string) string {
				s = strings.Replace(s, "kind: mysql", "kind: oracle", 1)
				s = strings.Replace(s, "tables: [public.sale_order]", "tables: [sale_order]", 1)
				s = strings.Replace(s, `brokers: ["127.0.0.1:59092"]`, `brokers: ["localhost"]`, 1)
				return strings.Replace(s, "mechanism: scram-sha-256", "mechanism: kerberos", 1)
			},
			want: []string{
				`tandem.yaml:3: systems.shop.kind: "oracle" is not one of postgres, mysql`,
				`tandem.yaml:12: systems.erp.capture.tables[0]: "sale_order" must be qualified, as schema.table, e.g. public.orders`,
				`tandem.yaml:15: kafka.brokers[0]: "localhost" is not host:port`,
				`tandem.yaml:17: kafka.sasl.mechanism: "kerberos" is not one of plain, scram-sha-256, scram-sha-512`,
			},
		},
		{
			name: "unknown keys, bad values and unset variables together, once each",
			env:  testEnv(nil, map[string]string{"/run/secrets/erp_dsn": "postgres://u:p@h:5432/erp"}),
			edit: func(s string) string {
				s = strings.Replace(s, "kind: mysql", "kind: mysq", 1)
				s = strings.Replace(s, "heartbeat: 30s", "heartbeat: 30s\n      slots: 2", 1)
				return strings.Replace(s, "  partitions_x: 0\n", "", 1) + "kafka_extra: true\n"
			},
			want: []string{
				`tandem.yaml:3: systems.shop.kind: "mysq" is not one of postgres, mysql`,
				`tandem.yaml:4: systems.shop.dsn: environment variable SHOP_DSN is not set`,
				`tandem.yaml:14: systems.erp.capture.slots: unknown key "slots" (did you mean "slot"?)`,
				`tandem.yaml:23: kafka_extra: unknown key "kafka_extra"`,
			},
		},
		{
			name: "mysql needs server_id",
			edit: func(s string) string { return strings.Replace(s, "      server_id: 5401\n", "", 1) },
			want: []string{`tandem.yaml:5: systems.shop.capture.server_id: required for mysql systems: a number unique among the servers and replicas, e.g. 5401`},
		},
		{
			name: "bad postgres dsn",
			env: testEnv(map[string]string{"SHOP_DSN": "u:p@tcp(h:1)/d"},
				map[string]string{"/run/secrets/erp_dsn": "postgres://u:topsecret@h:notaport/erp"}),
			want: []string{`tandem.yaml:10: systems.erp.dsn: not a valid PostgreSQL connection string`},
		},
		{
			name: "empty file",
			edit: func(string) string { return "# nothing\n" },
			want: []string{`tandem.yaml:1: the file is empty`},
		},
		{
			name: "list where a mapping belongs",
			edit: func(s string) string {
				return strings.Replace(s, "schema_registry:\n  url: http://127.0.0.1:58081/apis/ccompat/v7", "schema_registry: [a]", 1)
			},
			want: []string{`tandem.yaml:20: schema_registry: expected a mapping of keys`},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := goodConfig
			if tt.edit != nil {
				src = tt.edit(src)
			}
			env := tt.env
			if env.Lookup == nil {
				env = defaultEnv
			}
			_, err := Load("tandem.yaml", []byte(src), env)
			if err == nil {
				t.Fatalf("Load accepted a bad config:\n%s", src)
			}
			var ps config.Problems
			if !errors.As(err, &ps) {
				t.Fatalf("error is %T, want config.Problems: %v", err, err)
			}
			if len(ps) != len(tt.want) {
				t.Fatalf("got %d problems, want %d:\n%v", len(ps), len(tt.want), err)
			}
			for i, w := range tt.want {
				if got := ps[i].String(); !strings.HasPrefix(got, w) {
					t.Errorf("problem %d:\n got %s\nwant %s", i, got, w)
				}
			}
			for _, secret := range []string{"shop-secret", "erp-secret", "topsecret"} {
				if strings.Contains(err.Error(), secret) {
					t.Errorf("error leaks a secret: %v", err)
				}
			}
		})
	}
}

func TestSecretsNeverPrinted(t *testing.T) {
	cfg, err := Load("tandem.yaml", []byte(goodConfig), defaultEnv)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{
		fmt.Sprintf("%v", cfg.Systems["shop"]),
		fmt.Sprintf("%+v", *cfg.Systems["erp"]),
		fmt.Sprintf("%#v", cfg.Kafka.SASL),
	} {
		for _, secret := range []string{"shop-secret", "erp-secret", "fallback-pw"} {
			if strings.Contains(s, secret) {
				t.Errorf("%q leaks %q", s, secret)
			}
		}
	}
}

func TestReadmeReferenceUpToDate(t *testing.T) {
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatalf("read README: %v", err)
	}
	const start, end = "<!-- config-reference:start -->\n", "<!-- config-reference:end -->"
	s := string(readme)
	i, j := strings.Index(s, start), strings.Index(s, end)
	if i < 0 || j < i {
		t.Fatalf("README.md lacks the %q ... %q markers", start, end)
	}
	if got, want := s[i+len(start):j], Reference(); got != want {
		t.Errorf("README.md's configuration reference is stale; regenerate it with `tandem config reference` (make docs).\nwant:\n%s", want)
	}
}
