package mapping

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tandem-sync/tandem/internal/config"
)

const includeMain = `systems:
  shop:
    kind: mysql
    dsn: u:p@tcp(127.0.0.1:3306)/shop
    capture: {server_id: 5401}
  erp:
    kind: postgres
    dsn: postgres://u:p@127.0.0.1:5432/erp
include: [mapping/customer.yaml]
flows:
  - {entity: customer, from: shop, to: erp}
kafka:
  brokers: ["127.0.0.1:9092"]
schema_registry:
  url: http://127.0.0.1:8081
`

const includeCustomer = `systems:
  shop:
    entities:
      customer:
        table: shop.wp_wc_customer_lookup
        id: customer_id
        fields:
          email: email
          first_name: first_name
  erp:
    entities:
      customer:
        table: public.res_partner
        id: id
        fields:
          email: email
          last_name: name
ownership:
  customer: {owner: shop, fields: {last_name: erp}}
flows:
  - {entity: customer, from: erp, to: shop, fields: [last_name]}
`

// loadWithIncludes writes the main file and its includes in a temporary
// folder and loads the main file.
func loadWithIncludes(t *testing.T, main string, files map[string]string) (*Config, error) {
	t.Helper()
	dir := t.TempDir()
	for name, body := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	mainPath := filepath.Join(dir, "tandem.yaml")
	return Load(mainPath, []byte(main), config.Env{Lookup: func(string) (string, bool) { return "", false }, ReadFile: os.ReadFile})
}

func TestIncludeMergesMapping(t *testing.T) {
	cfg, err := loadWithIncludes(t, includeMain, map[string]string{"mapping/customer.yaml": includeCustomer})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Systems["shop"].Entities["customer"].Table != "shop.wp_wc_customer_lookup" || cfg.Systems["erp"].Entities["customer"] == nil {
		t.Errorf("entities not merged: %+v", cfg.Systems["shop"].Entities)
	}
	if len(cfg.Flows) != 2 || cfg.Flows[1].From != "erp" || cfg.Ownership["customer"].Owner != "shop" {
		t.Errorf("flows %+v ownership %+v", cfg.Flows, cfg.Ownership)
	}
	if got := cfg.Systems["shop"].Capture.Tables; len(got) != 1 || got[0] != "shop.wp_wc_customer_lookup" {
		t.Errorf("mapped tables not captured: %v", got)
	}
}

func TestIncludeProblemsNameTheirFile(t *testing.T) {
	tests := []struct {
		name, main, inc, want string
	}{
		{"unknown field in the included file", includeMain, strings.Replace(includeCustomer, "first_name: first_name", "frist_name: first_name", 1),
			`mapping/customer.yaml:9: systems.shop.entities.customer.fields.frist_name: unknown field of customer "frist_name" (did you mean "first_name"?)`},
		{"unknown key in the included file", includeMain, includeCustomer + "kafka: {}\n",
			`mapping/customer.yaml:22: kafka: unknown key "kafka"`},
		{"flow in the included file, shifted after the main file's", includeMain, strings.Replace(includeCustomer, "fields: [last_name]", "fields: [first_name]", 1),
			`mapping/customer.yaml:21: flows[1].fields[0]: field first_name of customer is owned by shop, so it cannot flow from erp`},
		{"defined twice", strings.Replace(includeMain, "include:", "ownership:\n  customer: {owner: shop}\ninclude:", 1), includeCustomer,
			`mapping/customer.yaml:19: ownership.customer: defined twice: also at `},
		{"system not in the main file", includeMain, strings.Replace(includeCustomer, "  erp:\n", "  erpp:\n", 1),
			`mapping/customer.yaml:10: systems.erpp: unknown system "erpp": define it (kind, dsn) in the main file`},
		{"missing file", strings.Replace(includeMain, "mapping/customer.yaml", "mapping/nope.yaml", 1), includeCustomer,
			`tandem.yaml:9: include[0]: cannot read mapping/nope.yaml: no such file or directory`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := loadWithIncludes(t, tt.main, map[string]string{"mapping/customer.yaml": tt.inc})
			var ps config.Problems
			if !errors.As(err, &ps) {
				t.Fatalf("accepted (err %v)", err)
			}
			for _, p := range ps {
				s := p.String()
				if i := strings.Index(s, "tandem.yaml:"); i >= 0 && strings.HasPrefix(tt.want, "tandem.yaml:") {
					s = s[i:]
				}
				if i := strings.Index(s, "mapping/"); i >= 0 && strings.HasPrefix(tt.want, "mapping/") {
					s = s[i:]
				}
				if strings.HasPrefix(s, tt.want) {
					return
				}
			}
			t.Errorf("no problem starts with\n  %s\ngot:\n%v", tt.want, err)
		})
	}
}
